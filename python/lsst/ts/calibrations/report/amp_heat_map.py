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

"""A focal-plane heat map of one value per amplifier (gain, read noise, dark current, ...).

Each detector is 2 × 8 cells in its amplifiers' positions, detectors at
their places on the focal plane (`FocalPlane.for_amplifiers`). One raft
(LSSTComCam, LATISS): ``HEAT_MAP_SIZE``, each cell shows its value, cells
without a value are blank and detectors without any are marked. Many rafts
(LSSTCam, 189 detectors × 16 amplifiers): ``FOCAL_PLANE_SIZE``, the value
as colour only, each detector square (amplifier cells four times as tall as
wide), the rafts outlined in their vendor's colour with their names,
detector names in their rafts, and detectors not in the run greyed
(`draw_raft_overlay`).
"""

__all__ = ["amp_heat_map"]

from collections.abc import Collection, Mapping

import matplotlib
import numpy as np

from ..repo.camera import Camera
from .figure_png import figure_to_png, new_figure
from .focal_plane import FocalPlane
from .raft_overlay import FOCAL_PLANE_SIZE, draw_raft_overlay

HEAT_MAP_SIZE = (1100, 460)
"""Size (width, height) of a heat map PNG, pixels."""


def amp_heat_map(
    values: Mapping[int, Mapping[str, float]],
    *,
    title: str,
    unit: str,
    fmt: str = ".3g",
    instrument: str = "LSSTComCam",
    in_run: Collection[int] | None = None,
) -> bytes:
    """Draw per-amplifier values over the focal plane; return the PNG.

    ``HEAT_MAP_SIZE`` for one raft, ``FOCAL_PLANE_SIZE`` for many.

    Parameters
    ----------
    values : `~collections.abc.Mapping` [`int`, `~collections.abc.Mapping` [`str`, `float`]]
        Values by detector id and amplifier name (NaN for none).
    title : `str`
        Title of the picture.
    unit : `str`
        Unit of the values.
    fmt : `str`, optional
        Format of the value printed in each cell.
    instrument : `str`, optional
        Whose detectors (LSSTComCam by default).
    in_run : `~collections.abc.Collection` [`int`], optional
        Detectors of the run (many rafts: the others are greyed); by
        default those with a value.

    Returns
    -------
    png : `bytes`
        The PNG.
    """
    if FocalPlane.for_amplifiers(instrument).multi_raft:
        return _focal_plane_heat_map(
            values, title=title, unit=unit, fmt=fmt, instrument=instrument, in_run=in_run
        )
    grid = FocalPlane.amp_grid(values, instrument)
    finite = grid[np.isfinite(grid)]
    figure = new_figure(*HEAT_MAP_SIZE)
    axes = figure.add_axes((0.02, 0.04, 0.86, 0.82))
    low, high = _limits(finite)
    shown = axes.imshow(
        np.ma.masked_invalid(grid), origin="lower", cmap="viridis", vmin=low, vmax=high, aspect="auto"
    )
    colorbar = figure.colorbar(shown, cax=figure.add_axes((0.9, 0.08, 0.02, 0.74)))
    colorbar.set_label(unit)
    midpoint = (low + high) / 2
    for (row, column), value in np.ndenumerate(grid):
        if np.isfinite(value):
            axes.text(
                column,
                row,
                format(value, fmt),
                ha="center",
                va="center",
                fontsize=6.5,
                color="black" if value > midpoint else "white",
            )
    camera = Camera.instance(instrument)
    cells = FocalPlane.for_amplifiers(instrument)
    for detector in cells.detector_ids:
        row, column = cells.detector_origin(detector)
        x, y = column + 3.5, row + 0.5
        if detector in values and any(np.isfinite(v) for v in values[detector].values()):
            axes.text(x, y + 1.05, camera[detector].name, ha="center", va="center", fontsize=7, color="0.3")
        else:
            axes.text(
                x, y, f"{camera[detector].name}: no data", ha="center", va="center", fontsize=8, color="0.5"
            )
    axes.set_xlim(-0.5, grid.shape[1] - 0.5)
    axes.set_ylim(-0.5, grid.shape[0] - 0.5)
    axes.set_xticks([])
    axes.set_yticks([])
    summary = (
        f"median {np.median(finite):{fmt}}, range [{finite.min():{fmt}}, {finite.max():{fmt}}] {unit}"
        if finite.size
        else "no values"
    )
    axes.set_title(f"{title}\n{summary}", fontsize=10)
    return figure_to_png(figure)


def _limits(finite: np.ndarray) -> tuple[float, float]:
    """Colour scale: the 1st to 99th percentile of the values."""
    if not finite.size:
        return 0.0, 1.0
    low, high = (float(v) for v in np.percentile(finite, [1, 99]))
    if not high > low:
        low, high = low - abs(low) * 0.01 - 1e-9, high + abs(high) * 0.01 + 1e-9
    return low, high


def _focal_plane_heat_map(
    values: Mapping[int, Mapping[str, float]],
    *,
    title: str,
    unit: str,
    fmt: str,
    instrument: str,
    in_run: Collection[int] | None,
) -> bytes:
    """The many-raft heat map: colour only, square detectors, rafts outlined by vendor."""
    plane = FocalPlane.for_amplifiers(instrument, amp_height=4)
    grid = plane.amp_values(values)
    finite = grid[np.isfinite(grid)]
    low, high = _limits(finite)
    figure = new_figure(*FOCAL_PLANE_SIZE)
    axes = figure.add_axes((0.02, 0.02, 0.86, 0.9))
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="white")
    shown = axes.imshow(
        np.ma.masked_invalid(grid),
        origin="lower",
        cmap=cmap,
        vmin=low,
        vmax=high,
        interpolation="nearest",
        aspect="equal",
    )
    colorbar = figure.colorbar(shown, cax=figure.add_axes((0.9, 0.1, 0.02, 0.74)))
    colorbar.set_label(unit)
    with_data = {d for d, amps in values.items() if any(np.isfinite(v) for v in amps.values())}
    draw_raft_overlay(axes, plane, in_run=with_data if in_run is None else in_run, with_data=with_data)
    margin = plane.raft_gap / 2
    axes.set_xlim(-0.5 - margin, plane.mosaic_shape[1] - 0.5 + margin)
    axes.set_ylim(-0.5 - margin, plane.mosaic_shape[0] - 0.5 + 2 * plane.raft_gap)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.axis("off")
    summary = (
        f"median {np.median(finite):{fmt}}, range [{finite.min():{fmt}}, {finite.max():{fmt}}] {unit}; "
        f"{len(with_data)} detectors with values, grey: not in the run, hatched: no value"
        if finite.size
        else "no values"
    )
    axes.set_title(f"{title}\n{summary}", fontsize=10)
    return figure_to_png(figure)
