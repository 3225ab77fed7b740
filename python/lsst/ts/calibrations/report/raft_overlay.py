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

"""Rafts, vendors and the detectors outside the run, drawn over a many-raft focal-plane picture.

`draw_raft_overlay` outlines each science raft in its vendor's colour
(``VENDOR_COLOURS``) with its name and vendor above it, writes each
detector's name in its raft (``S00`` ...), greys the detectors that were not
in the run (and marks those in the run without a value), and draws the
corner rafts (guider and wavefront sensors, not science detectors) as
dashed outlines. It works on any picture laid out by a `FocalPlane` (a
mosaic of images or an amplifier grid) shown with ``origin="lower"``.
"""

__all__ = ["FOCAL_PLANE_SIZE", "VENDOR_COLOURS", "draw_raft_overlay"]

from collections.abc import Collection

from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.collections import PatchCollection
from matplotlib.patches import Rectangle

from ..repo.camera import Camera
from .focal_plane import FocalPlane

FOCAL_PLANE_SIZE = (1100, 1000)
"""Size (width, height) of a many-raft focal-plane PNG (mosaic or heat map), pixels."""

VENDOR_COLOURS = {"ITL": "#e6550d", "E2V": "#3182bd"}
"""Outline colour of a raft by its sensors' vendor."""

NOT_IN_RUN = "0.78"
"""Fill of a detector that was not in the run."""

_OUTLINED = [patheffects.withStroke(linewidth=1.2, foreground="black")]


def draw_raft_overlay(
    axes: Axes,
    plane: FocalPlane,
    *,
    in_run: Collection[int],
    with_data: Collection[int],
) -> None:
    """Draw the rafts, their vendors and the detectors' names and state over a focal plane.

    Parameters
    ----------
    axes : `matplotlib.axes.Axes`
        Axes showing the plane's mosaic (``origin="lower"``, pixel
        coordinates).
    plane : `FocalPlane`
        The layout.
    in_run : `~collections.abc.Collection` [`int`]
        Detectors of the run; the others are greyed.
    with_data : `~collections.abc.Collection` [`int`]
        Detectors with a value; those of the run without one are marked.
    """
    camera = Camera.instance(plane.instrument)
    rows, columns = plane.binned_shape
    raft_rows, raft_columns = plane.raft_shape
    vendors = {d.raft: d.vendor for d in camera.science_detectors}
    corner_sensors: dict[str, list[str]] = {}
    corner_in_run: dict[str, int] = {}
    for info in camera.detectors:
        if not info.is_science:
            corner_sensors.setdefault(info.raft, []).append(info.name_in_raft)
            corner_in_run[info.raft] = corner_in_run.get(info.raft, 0) + (info.id in in_run)
    grey: list[Rectangle] = []
    empty: list[Rectangle] = []
    font = max(4.0, min(8.0, columns / 9))
    for detector in plane.detector_ids:
        r0, c0 = plane.detector_origin(detector)
        box = Rectangle((c0 - 0.5, r0 - 0.5), columns, rows)
        if detector not in in_run:
            grey.append(box)
        elif detector not in with_data:
            empty.append(box)
        axes.text(
            c0 + columns / 2 - 0.5,
            r0 + rows - 1.5,
            camera[detector].name_in_raft,
            ha="center",
            va="top",
            fontsize=font,
            color="0.35" if detector not in in_run else "white",
            path_effects=[] if detector not in in_run else _OUTLINED,
        )
    axes.add_collection(PatchCollection(grey, facecolor=NOT_IN_RUN, edgecolor="0.6", linewidth=0.3))
    axes.add_collection(
        PatchCollection(empty, facecolor="white", edgecolor="0.4", linewidth=0.4, hatch="////")
    )
    pad = plane.raft_gap / 6
    for raft, vendor in vendors.items():
        r0, c0 = plane.raft_origin(raft)
        axes.add_patch(
            Rectangle(
                (c0 - 0.5 - pad, r0 - 0.5 - pad),
                raft_columns + 2 * pad,
                raft_rows + 2 * pad,
                fill=False,
                edgecolor=VENDOR_COLOURS.get(vendor, "black"),
                linewidth=1.6,
            )
        )
        axes.text(
            c0 - 0.5,
            r0 + raft_rows + 1.5 * pad,
            f"{raft} {'e2v' if vendor == 'E2V' else vendor}",
            ha="left",
            va="bottom",
            fontsize=7,
            color=VENDOR_COLOURS.get(vendor, "black"),
            fontweight="bold",
        )
    for raft, sensors in corner_sensors.items():
        r0, c0 = plane.raft_origin(raft)
        axes.add_patch(
            Rectangle(
                (c0 - 0.5, r0 - 0.5), raft_columns, raft_rows, fill=False, edgecolor="0.6", ls="--", lw=0.8
            )
        )
        axes.text(
            c0 + raft_columns / 2,
            r0 + raft_rows / 2,
            f"{raft}\n{' '.join(sorted(sensors))}\nguider and wavefront sensors\n"
            + (f"{corner_in_run[raft]} in the run (not drawn)" if corner_in_run[raft] else "not in the run"),
            ha="center",
            va="center",
            fontsize=6.5,
            color="0.45",
        )
