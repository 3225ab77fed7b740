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

"""The run's timeline as a picture: exposures, ingestion, each OCPS job and certifications.

One row for the exposures (bars coloured by image type), one for ingestion
(a tick per raw), one per OCPS job (queued part pale, running part coloured
by its final phase, a job without an end drawn to the end of the run with an
arrow) and one for the certifications (diamonds); time in UTC.
"""

__all__ = ["timeline_figure"]

import datetime

from matplotlib import dates as mdates

from .figure_png import figure_to_png, new_figure
from .run_timeline import RunTimeline

TIMELINE_SIZE = (1100, 520)
"""Size (width, height) of the timeline PNG, pixels."""

KIND_COLOURS = {"bias": "tab:gray", "dark": "tab:purple", "flat": "tab:orange"}
PHASE_COLOURS = {"COMPLETED": "tab:green", "ERROR": "tab:red", "ABORTED": "tab:orange"}


def _num(time: datetime.datetime) -> float:
    return float(mdates.date2num(time))


def timeline_figure(timeline: RunTimeline) -> bytes:
    """Draw the timeline; return the PNG (``TIMELINE_SIZE`` pixels).

    Parameters
    ----------
    timeline : `RunTimeline`
        The events; an empty timeline gives a picture that says so.

    Returns
    -------
    png : `bytes`
        The PNG.
    """
    figure = new_figure(*TIMELINE_SIZE)
    axes = figure.add_axes((0.25, 0.12, 0.72, 0.8))
    span = timeline.span
    if span is None:
        axes.text(0.5, 0.5, "no timed events", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return figure_to_png(figure)
    run_end = _num(span[1])
    rows: list[str] = []
    row = 0

    exposures = timeline.lane("exposures")
    if exposures:
        for event in exposures:
            end = _num(event.end) if event.end else _num(event.start) + 1 / 86400
            axes.broken_barh(
                [(_num(event.start), end - _num(event.start))],
                (row - 0.35, 0.7),
                color=KIND_COLOURS.get(event.status, "tab:blue"),
            )
        kinds = sorted({e.status for e in exposures})
        rows.append(f"exposures ({len(exposures)}: {', '.join(kinds)})")
        row += 1
    ingested = timeline.lane("ingestion")
    if ingested:
        axes.plot(
            [_num(e.start) for e in ingested],
            [row] * len(ingested),
            "|",
            ms=12,
            color="tab:blue",
        )
        rows.append(f"ingestion ({len(ingested)} raws)")
        row += 1
    for event in timeline.lane("OCPS jobs"):
        start = _num(event.start)
        running_from = _num(event.queued_until) if event.queued_until else start
        end = _num(event.end) if event.end else run_end
        colour = PHASE_COLOURS.get(event.status, "tab:gray")
        if running_from > start:
            axes.broken_barh([(start, running_from - start)], (row - 0.3, 0.6), color=colour, alpha=0.25)
        axes.broken_barh([(running_from, max(end - running_from, 1 / 86400))], (row - 0.3, 0.6), color=colour)
        if event.end is None:
            axes.annotate(
                "", (end, row), (end - (end - start) * 0.05 - 1e-6, row), arrowprops={"arrowstyle": "->"}
            )
        rows.append(f"{event.label[:38]} {event.status}")
        row += 1
    certified = timeline.lane("certification")
    if certified:
        axes.plot([_num(e.start) for e in certified], [row] * len(certified), "D", ms=7, color="tab:green")
        for event in certified:
            axes.annotate(
                event.label, (_num(event.start), row), (3, 6), textcoords="offset points", fontsize=7
            )
        rows.append(f"certification ({len(certified)})")
        row += 1
    axes.set_yticks(range(len(rows)), rows, fontsize=8)
    axes.set_ylim(len(rows) - 0.5, -0.5)
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
    axes.set_xlabel(f"UTC, {span[0]:%Y-%m-%d}")
    axes.grid(True, axis="x", alpha=0.3)
    duration = (span[1] - span[0]).total_seconds()
    axes.set_title(
        f"Run timeline: {span[0]:%H:%M:%S} to {span[1]:%H:%M:%S} ({duration:.0f} s); "
        "jobs: pale queued, green completed, red error, orange aborted, grey unfinished",
        fontsize=9,
    )
    return figure_to_png(figure)
