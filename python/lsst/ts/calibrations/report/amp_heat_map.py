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
their raft positions (`FocalPlane.amp_grid`); each cell shows its value.
Cells without a value are blank; detectors without any are marked.
"""

__all__ = ["amp_heat_map"]

from collections.abc import Mapping

import numpy as np

from ..repo.camera import Camera
from .figure_png import figure_to_png, new_figure
from .focal_plane import FocalPlane

HEAT_MAP_SIZE = (1100, 460)
"""Size (width, height) of a heat map PNG, pixels."""


def amp_heat_map(
    values: Mapping[int, Mapping[str, float]],
    *,
    title: str,
    unit: str,
    fmt: str = ".3g",
    instrument: str = "LSSTComCam",
) -> bytes:
    """Draw per-amplifier values over the focal plane; return the PNG (``HEAT_MAP_SIZE``).

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

    Returns
    -------
    png : `bytes`
        The PNG.
    """
    grid = FocalPlane.amp_grid(values, instrument)
    finite = grid[np.isfinite(grid)]
    figure = new_figure(*HEAT_MAP_SIZE)
    axes = figure.add_axes((0.02, 0.04, 0.86, 0.82))
    if finite.size:
        low, high = np.percentile(finite, [1, 99])
        if not high > low:
            low, high = low - abs(low) * 0.01 - 1e-9, high + abs(high) * 0.01 + 1e-9
    else:
        low, high = 0.0, 1.0
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
    for detector in camera.science_detector_ids:
        raft_row, raft_column = FocalPlane.raft_position(detector, instrument)
        x, y = raft_column * 9 + 3.5, raft_row * 3 + 0.5
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
