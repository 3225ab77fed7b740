# This file is part of ts_calibrations.
#
# Developed for the Vera C. Rubin Observatory Telescope and Site Systems.
# This product includes software developed by the LSST Project
# (https://www.lsst.org).
# See the COPYRIGHT file at the top-level directory of this distribution
# for details of code ownership.
#
# This program is free software: you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation, either version 3 of the License, or
# (at your option) any later version.
#
# This program is distributed in the hope that it will be useful,
# but WITHOUT ANY WARRANTY; without even the implied warranty of
# MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
# GNU General Public License for more details.
#
# You should have received a copy of the GNU General Public License
# along with this program.  If not, see <https://www.gnu.org/licenses/>.

"""Tests of SimClock: time scale, start dates and day_obs rollover at 12:00 UTC."""

import asyncio
import datetime
import time

import pytest

from lsst.ts.calibrations.sal.base import TAI_MINUS_UTC
from lsst.ts.calibrations.sim.sim_clock import SimClock


def test_start_date_only_is_18_utc() -> None:
    clock = SimClock(time_scale=0.01, start="2021-09-01")
    assert clock.start_utc == datetime.datetime(2021, 9, 1, 18, tzinfo=datetime.UTC)
    assert clock.day_obs() == 20210901


def test_start_date_and_time() -> None:
    clock = SimClock(start="2022-03-04T05:06:07.5")
    assert clock.start_utc == datetime.datetime(2022, 3, 4, 5, 6, 7, 500000, tzinfo=datetime.UTC)
    # Before 12:00 UTC the observing day is the day before.
    assert clock.day_obs() == 20220303
    assert abs(clock.tai() - (clock.utc().timestamp() + TAI_MINUS_UTC)) < 0.01


@pytest.mark.parametrize(
    ("utc", "day_obs"),
    [
        ("2022-01-02T11:59:59.999", 20220101),
        ("2022-01-02T12:00:00", 20220102),
        ("2022-01-03T00:30:00", 20220102),
        ("2022-01-01T00:00:00", 20211231),
    ],
)
def test_day_obs_rolls_over_at_noon_utc(utc: str, day_obs: int) -> None:
    clock = SimClock()
    assert clock.day_obs(datetime.datetime.fromisoformat(utc).replace(tzinfo=datetime.UTC)) == day_obs


async def test_sleep_is_scaled() -> None:
    clock = SimClock(time_scale=0.01, start="2022-01-02T11:59:59")
    t0 = time.monotonic()
    await clock.sleep(10.0)
    real = time.monotonic() - t0
    assert 0.09 <= real < 1.0
    # Simulated time advanced by ~10 s and crossed noon.
    assert 10.0 <= clock.elapsed() < 100.0
    assert clock.day_obs() == 20220102
    assert clock.real_seconds(2.0) == pytest.approx(0.02)
    await asyncio.sleep(0)


@pytest.mark.parametrize("bad", ["2022-13-01", "yesterday", "2022/01/02"])
def test_bad_start(bad: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        SimClock(start=bad)


@pytest.mark.parametrize("scale", [0.0, -1.0])
def test_bad_time_scale(scale: float) -> None:
    with pytest.raises(ValueError, match="time_scale"):
        SimClock(time_scale=scale)


def test_advance_to_moves_forward_only() -> None:
    clock = SimClock(time_scale=0.01, start="2024-10-01")
    clock.advance_to("2024-10-02")
    assert clock.day_obs() == 20241002
    assert datetime.timedelta(0) <= clock.utc() - datetime.datetime(2024, 10, 2, 18, tzinfo=datetime.UTC)
    assert clock.utc() - datetime.datetime(2024, 10, 2, 18, tzinfo=datetime.UTC) < datetime.timedelta(hours=1)
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance_to("2024-10-01T23:00:00")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        clock.advance_to("2024-10-32")
    assert clock.day_obs() == 20241002
