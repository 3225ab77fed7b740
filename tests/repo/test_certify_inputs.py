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

"""Certification's inputs: dates of every kind converted to TAI (and what
is not a date refused by name), an empty or missing input collection
refused before anything is written, and no overlap for a dataset type the
repository does not know."""

import datetime
from collections.abc import Iterator
from pathlib import Path

import astropy.time
import pytest
from lsst.daf.butler import Butler, Timespan

from fixtures.repositories import new_repository
from lsst.ts.calibrations.repo.certify import certify_calibrations, overlapping_certifications, to_tai


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, empty_repository: Path) -> Iterator[Butler]:
    """An empty repository (nothing here writes to it)."""
    butler = new_repository(empty_repository, tmp_path_factory.mktemp("certify") / "repo")
    yield butler
    butler.close()


def test_dates_of_every_kind_are_tai() -> None:
    chile = datetime.timezone(datetime.timedelta(hours=-3))
    aware = to_tai(datetime.datetime(2024, 10, 24, 9, 0, 0, tzinfo=chile))
    # 12:00 UTC is 12:00:37 TAI (37 leap seconds in 2024).
    assert aware.scale == "tai" and aware.isot == "2024-10-24T12:00:37.000"
    naive = to_tai(datetime.datetime(2024, 10, 24, 12, 0, 0))
    assert naive.scale == "tai" and naive.isot == "2024-10-24T12:00:00.000"
    assert to_tai(datetime.date(2024, 10, 24)).isot == "2024-10-24T00:00:00.000"
    assert to_tai(" 2024-10-24T01:02:03 ").isot == "2024-10-24T01:02:03.000"
    utc = astropy.time.Time("2024-10-24T00:00:00", scale="utc")
    assert to_tai(utc).isot == "2024-10-24T00:00:37.000"


@pytest.mark.parametrize("value", [20241024, 2024.8, None, ["2024-10-24"]])
def test_what_is_not_a_date_is_named(value: object) -> None:
    with pytest.raises(ValueError) as info:
        to_tai(value, "end")  # type: ignore[arg-type]
    assert str(info.value) == (
        f"end={value!r} has type {type(value).__name__}: use datetime.date, an ISO string or astropy Time."
    )


def test_inputs_refused_before_writing(repo: Butler) -> None:
    with pytest.raises(ValueError, match="^input_collections is empty: give at least one collection"):
        certify_calibrations(repo, [], "u/me/calib", "bias", "2024-10-24", "2024-10-25")
    with pytest.raises(LookupError, match="^Cannot certify raw: .*u/ocps/nosuch"):
        certify_calibrations(repo, ["u/ocps/nosuch"], "u/me/calib", "raw", "2024-10-24", "2024-10-25")
    assert "u/me/calib" not in repo.collections.query("*")


def test_no_overlap_for_an_unknown_dataset_type(repo: Butler) -> None:
    timespan = Timespan(to_tai("2024-10-24"), to_tai("2024-10-25"))
    assert overlapping_certifications(repo, "LSSTComCam/calib", "noSuchDatasetType", timespan) == []
