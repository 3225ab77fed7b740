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

"""TimelineEvent: one bar or mark on the run's timeline (`RunTimeline`)."""

__all__ = ["TimelineEvent"]

import dataclasses
import datetime


@dataclasses.dataclass(frozen=True)
class TimelineEvent:
    """One bar or mark on the timeline.

    Parameters
    ----------
    lane : `str`
        A lane of the timeline: "exposures", "ingestion", "OCPS jobs" or "certification".
    label : `str`
        What it is ("bias 2024102400001", "generate BIAS job 12", ...).
    start : `datetime.datetime`
        When it began (UTC).
    end : `datetime.datetime` or `None`
        When it ended; `None` for an instant or an unfinished job.
    status : `str`
        Kind or outcome ("bias", "COMPLETED", "ERROR", "queued", ...).
    queued_until : `datetime.datetime` or `None`
        For a job, when it started running (it was queued before).
    """

    lane: str
    label: str
    start: datetime.datetime
    end: datetime.datetime | None = None
    status: str = ""
    queued_until: datetime.datetime | None = None
