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

"""RunTimeline: what happened during a run, on one time axis.

Lanes, top to bottom: exposures (each from its start to its end, coloured by
image type), ingestion (each raw's ingest time into the repository), OCPS
jobs (queued from creation to start, running from start to end, coloured by
the final phase) and certifications. Times are UTC.

Sources, each used when present:

* the butler: exposure records (``timespan``, ``observation_type``) and the
  raw datasets' ``ingest_date``;
* the script's run record (`RunRecord`): ``jobs`` (UWS records with
  ``creationTime``, ``startTime``, ``endTime``, ``phase``; labels from
  each product's ``jobs``), and its certifications with a time
  (``certifications[*].time``, or a product's ``certified_at``);
  certifications without a time are listed in the report's certification
  section, not on the axis.
"""

__all__ = ["RunTimeline"]

import dataclasses
import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from ..scripts.run_record import RunRecord
from .timeline_event import TimelineEvent

LANES = ("exposures", "ingestion", "OCPS jobs", "certification")
"""Lanes of the timeline, top to bottom."""


def _parse_time(value: Any) -> datetime.datetime | None:
    """Parse an ISO 8601 time or a UNIX time into an aware UTC datetime (`None` if absent or bad)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
    if isinstance(value, int | float):
        return datetime.datetime.fromtimestamp(float(value), tz=datetime.UTC)
    try:
        parsed = datetime.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


@dataclasses.dataclass
class RunTimeline:
    """The events of a run.

    Parameters
    ----------
    events : `list` [`TimelineEvent`]
        The events, any order.
    """

    events: list[TimelineEvent] = dataclasses.field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Is there nothing to show?"""
        return not self.events

    def lane(self, name: str) -> list[TimelineEvent]:
        """Events of one lane, by start time."""
        return sorted((e for e in self.events if e.lane == name), key=lambda e: e.start)

    @property
    def span(self) -> tuple[datetime.datetime, datetime.datetime] | None:
        """First and last time on the timeline (`None` if empty)."""
        times = [e.start for e in self.events] + [e.end for e in self.events if e.end is not None]
        return (min(times), max(times)) if times else None

    def add_exposures(self, records: Iterable[Any], ingest_dates: Mapping[int, datetime.datetime]) -> None:
        """Add exposures (butler exposure records) and their raws' ingestion.

        Parameters
        ----------
        records : `~collections.abc.Iterable`
            Exposure dimension records (``id``, ``observation_type``,
            ``timespan``).
        ingest_dates : `~collections.abc.Mapping` [`int`, `datetime.datetime`]
            Latest raw ingest time per exposure id.
        """
        for record in records:
            timespan = record.timespan
            if timespan is None or timespan.begin is None:
                continue
            start = timespan.begin.utc.to_datetime(timezone=datetime.UTC)
            end = timespan.end.utc.to_datetime(timezone=datetime.UTC) if timespan.end is not None else None
            kind = str(record.observation_type)
            self.events.append(TimelineEvent("exposures", f"{kind} {record.id}", start, end, kind))
            ingested = ingest_dates.get(int(record.id))
            if ingested is not None:
                self.events.append(TimelineEvent("ingestion", f"raw {record.id}", ingested, None, kind))

    def add_run_record(self, record: RunRecord) -> None:
        """Add the OCPS jobs and certifications of a run record.

        Parameters
        ----------
        record : `~lsst.ts.calibrations.scripts.run_record.RunRecord`
            The run record (see the module documentation for what is read).
        """
        labels: dict[str, str] = {}
        for product, outcome in record.products.items():
            for step, job_id in outcome.jobs.items():
                labels[str(job_id)] = f"{step} {product}"
        for job_id, job in record.jobs.items():
            job = job or {}
            created = _parse_time(job.get("creationTime"))
            started = _parse_time(job.get("startTime"))
            ended = _parse_time(job.get("endTime"))
            first = created or started
            if first is None:
                continue
            label = str(job.get("label") or labels.get(str(job_id), "job"))
            phase = str(job.get("phase") or "not finished").upper()
            self.events.append(
                TimelineEvent(
                    "OCPS jobs",
                    f"{label} ({job_id})",
                    first,
                    ended,
                    phase,
                    queued_until=started if created is not None else None,
                )
            )
        certifications = [(c.dataset_type, c.collection, c.time) for c in record.certifications if c.time]
        if not certifications:
            certifications = [
                (product, outcome.certified_into, outcome.certified_at)
                for product, outcome in record.products.items()
                if outcome.certified_at
            ]
        for product, collection, time in certifications:
            when = _parse_time(time)
            if when is not None:
                label = f"{product} → {collection}"
                self.events.append(TimelineEvent("certification", label, when, None, "certified"))
