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

"""The simulated observatory's clock: simulated TAI, ``day_obs`` and sleeps in simulated seconds.

One `SimClock` drives every simulated component, so their timestamps agree.
Simulated time runs ``1 / time_scale`` times as fast as real time: with
``time_scale=1`` a 2 s readout takes 2 s; with ``time_scale=0.01`` it takes
20 ms and the timestamps still advance by 2 s. The clock starts at a given
date and time (or now) and never goes back; `SimClock.advance_to` moves it
forward to a later time (the observatory idle until then, e.g. from one
day's afternoon calibrations to the next day's).

``day_obs`` is Rubin's observing day: the UTC date 12 hours earlier, so it
rolls over at 12:00 UTC (a whole night belongs to the day it started on).
"""

__all__ = ["SimClock"]

import asyncio
import datetime
import re
import time

from ..sal.base import TAI_MINUS_UTC

# Start time of day (UTC) used when only a date is given: afternoon
# calibrations, in the same day_obs.
_DEFAULT_TIME_OF_DAY = datetime.time(18, 0, 0)

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class SimClock:
    """Simulated TAI time, ``day_obs`` and sleeps scaled by ``time_scale``.

    Parameters
    ----------
    time_scale : `float`, optional
        Real seconds per simulated second (> 0): 1.0 for real timings,
        small values (0.01-0.05) for tests.
    start : `str`, `datetime.datetime` or `None`, optional
        Simulated UTC time at which the clock starts: ``"YYYY-MM-DD"``
        (that day at 18:00 UTC), an ISO date and time
        ``"YYYY-MM-DDTHH:MM:SS[.fff]"`` (UTC), a `datetime.datetime`
        (naive = UTC), or `None` for the current time.

    Raises
    ------
    ValueError
        If ``time_scale`` is not > 0 or ``start`` is not a valid date.
    """

    def __init__(self, time_scale: float = 1.0, start: str | datetime.datetime | None = None) -> None:
        if not time_scale > 0:
            raise ValueError(f"time_scale={time_scale!r} must be > 0 (1.0 = real timings).")
        self.time_scale = float(time_scale)
        self.start_utc = self.parse_start(start)
        self._start_monotonic = time.monotonic()

    @staticmethod
    def parse_start(start: str | datetime.datetime | None) -> datetime.datetime:
        """Parse a start time as accepted by the constructor.

        Parameters
        ----------
        start : `str`, `datetime.datetime` or `None`
            See the class parameters.

        Returns
        -------
        start_utc : `datetime.datetime`
            Timezone-aware UTC start.

        Raises
        ------
        ValueError
            If ``start`` is not a date ``YYYY-MM-DD`` or an ISO date and time.
        """
        if start is None:
            return datetime.datetime.now(datetime.UTC)
        if isinstance(start, datetime.datetime):
            value = start
        else:
            text = str(start).strip()
            try:
                if _DATE_RE.match(text):
                    value = datetime.datetime.combine(datetime.date.fromisoformat(text), _DEFAULT_TIME_OF_DAY)
                else:
                    value = datetime.datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(
                    f"start={start!r} is not a date: use YYYY-MM-DD (18:00 UTC that day) "
                    "or YYYY-MM-DDTHH:MM:SS (UTC)."
                ) from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return value.astimezone(datetime.UTC)

    def advance_to(self, start: str | datetime.datetime) -> None:
        """Move the clock forward to a later simulated time, from which it runs on.

        Every component sharing the clock sees the new time at once, as if
        the observatory had stood idle until then.

        Parameters
        ----------
        start : `str` or `datetime.datetime`
            The new simulated UTC time, as the constructor's ``start``
            (``"YYYY-MM-DD"`` is 18:00 UTC that day); not before the
            current simulated time.

        Raises
        ------
        ValueError
            If ``start`` is not a valid date or is before the current
            simulated time (the clock never goes back).
        """
        if start is None:
            raise ValueError("start=None: give the date or time to move the clock to.")
        value = self.parse_start(start)
        now = self.utc()
        if value < now:
            raise ValueError(
                f"start={start!r} is before the clock's current time {now.isoformat(timespec='seconds')}: "
                "the clock only moves forward."
            )
        self.start_utc = value
        self._start_monotonic = time.monotonic()

    def elapsed(self) -> float:
        """Simulated seconds since the clock started."""
        return (time.monotonic() - self._start_monotonic) / self.time_scale

    def utc(self) -> datetime.datetime:
        """The current simulated UTC time (timezone-aware)."""
        return self.start_utc + datetime.timedelta(seconds=self.elapsed())

    def tai(self) -> float:
        """The current simulated time as TAI unix seconds (as ``private_sndStamp``)."""
        return self.utc().timestamp() + TAI_MINUS_UTC

    def day_obs(self, utc: datetime.datetime | None = None) -> int:
        """The observing day YYYYMMDD: the UTC date 12 hours earlier.

        Parameters
        ----------
        utc : `datetime.datetime`, optional
            A simulated UTC time; the current one if None.

        Returns
        -------
        day_obs : `int`
            The observing day, e.g. 20241024.
        """
        if utc is None:
            utc = self.utc()
        day = (utc - datetime.timedelta(hours=12)).date()
        return day.year * 10000 + day.month * 100 + day.day

    def real_seconds(self, sim_seconds: float) -> float:
        """Real seconds that ``sim_seconds`` simulated seconds take."""
        return max(sim_seconds, 0.0) * self.time_scale

    async def sleep(self, sim_seconds: float) -> None:
        """Sleep for a duration in simulated seconds.

        Parameters
        ----------
        sim_seconds : `float`
            Simulated seconds (negative values sleep 0 s).
        """
        await asyncio.sleep(self.real_seconds(sim_seconds))

    def __repr__(self) -> str:
        return f"SimClock(time_scale={self.time_scale}, utc={self.utc().isoformat(timespec='milliseconds')})"
