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

"""The tail of a run: the OCPS jobs that ended after the last readout, from its run record.

Run as ``python benchmarks/tail_timeline.py RECORD.json [...]`` (a run
record of make_comcam_calibrations, ``$TS_CALIBRATIONS_RUN_RECORDS``).
For every job that ended after the last readout, in seconds after it:
when the script submitted it, when the OCPS started it (EXECUTING), its
first and last quantum, its end, when the script had its result; its
quanta; and what the gaps were: ``wait`` (submitted to started: the
OCPS's queue or prerequisites), ``plan`` (started to first quantum:
planning, initialisation, workers), ``run`` (first to last quantum),
``after`` (last quantum to end), ``result`` (end to the script having the
``job_result``: the event; the removal of intermediates follows it).
"""

import argparse
import datetime
import json
import sys
from collections.abc import Mapping
from typing import Any

TAI_MINUS_UTC = 37.0
"""The run record's ``started`` is TAI; the job records are UTC."""

MOMENTS = (
    ("submitted", "submitted"),
    ("start", "startTime"),
    ("first_quantum", "firstQuantumStart"),
    ("last_quantum", "lastQuantumEnd"),
    ("end", "endTime"),
    ("received", "received"),
)


def iso(text: str) -> float:
    """POSIX seconds of an ISO 8601 time (UTC when no zone is given)."""
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def timeline(jobs: Mapping[str, Mapping[str, Any]], last_readout: float) -> list[dict[str, Any]]:
    """The jobs that ended after ``last_readout`` (POSIX seconds), their moments relative to it.

    Parameters
    ----------
    jobs : `dict` [`str`, `dict`]
        By job id: the run record's job entry (the OCPS's record with the
        run's ``label``, ``part`` and ``submitted``).
    last_readout : `float`
        When the last image was read out.

    Returns
    -------
    rows : `list` [`dict`]
        ``job``, ``label``, ``part``, ``quanta`` and the moments of `MOMENTS`
        present, in seconds after the last readout, in order of submission.
    """
    rows = []
    for job_id, entry in jobs.items():
        times = {name: iso(entry[field]) for name, field in MOMENTS if entry.get(field)}
        if times.get("end", float("inf")) < last_readout:
            continue
        row: dict[str, Any] = {"job": job_id, "label": entry.get("label", ""), "part": entry.get("part", "")}
        row.update({name: round(value - last_readout, 1) for name, value in times.items()})
        row["quanta"] = len(entry.get("quanta") or [])
        rows.append(row)
    return sorted(rows, key=lambda row: row.get("submitted", 0.0))


def format_timeline(rows: list[dict[str, Any]]) -> str:
    """The rows as a table, one job a line (seconds after the last readout)."""
    names = ("submitted", "start", "first_quantum", "last_quantum", "end", "received")
    lines = [
        f"  {'job':>10} {'label':<36} {'submit':>7} {'start':>7} {'first q':>7} {'last q':>7} {'end':>7} "
        f"{'result':>7} {'quanta':>6} {'wait':>6} {'plan':>6} {'run':>6} {'after':>6} {'result':>6}"
    ]
    for row in rows:
        cells = " ".join(f"{row.get(k, float('nan')):7.1f}" for k in names)
        gaps = " ".join(
            f"{row.get(b, float('nan')) - row.get(a, float('nan')):6.1f}"
            for a, b in zip(names[:-1], names[1:], strict=True)
        )
        lines.append(f"  {row['job'][-10:]:>10} {row['label'][:36]:<36} {cells} {row['quanta']:6d} {gaps}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="+", help="Run record files (JSON).")
    args = parser.parse_args()
    for path in args.records:
        with open(path) as f:
            record = json.load(f)
        timings = record.get("timings", {})
        last_readout = iso(record["started"]) - TAI_MINUS_UTC + timings.get("last_readout", 0.0)
        tail = timings.get("elapsed", 0.0) - timings.get("last_readout", 0.0)
        print(f"{path}: {record.get('state', '')}, tail {tail:.1f} s (to the end of the record)")
        print(format_timeline(timeline(record.get("jobs", {}), last_readout)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
