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

"""The focal-plane mosaic of a combined calibration, optionally with its defects drawn over it.

Binned detectors at their raft positions (`FocalPlane`), grey scale with a
robust stretch (median ± ``STRETCH`` σ, σ from the interquartile range, so
hot pixels and defects do not wash out the picture), amplifier boundaries
as thin lines, the detector names, and detectors without an image marked
"no data".
"""

__all__ = ["mosaic_figure"]

from collections.abc import Mapping

import numpy as np
from matplotlib.collections import PatchCollection
from matplotlib.patches import Rectangle

from ..repo.camera import Camera
from ..repo.defects import Defects
from .figure_png import figure_to_png, new_figure
from .focal_plane import FocalPlane

MOSAIC_SIZE = (1000, 700)
"""Size (width, height) of a mosaic PNG, pixels."""

STRETCH = 4.0
"""Half-width of the grey scale, in robust σ."""


def _robust_limits(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    q25, q50, q75 = np.percentile(finite, [25, 50, 75])
    sigma = 0.7413 * (q75 - q25)
    if not sigma > 0:
        low, high = float(finite.min()), float(finite.max())
        return (low, high) if high > low else (low - 0.5, low + 0.5)
    return float(q50 - STRETCH * sigma), float(q50 + STRETCH * sigma)


def mosaic_figure(
    plane: FocalPlane,
    images: Mapping[int, np.ndarray],
    *,
    title: str,
    unit: str,
    defects: Mapping[int, Defects] | None = None,
) -> bytes:
    """Draw a focal-plane mosaic and return it as PNG (``MOSAIC_SIZE`` pixels).

    Parameters
    ----------
    plane : `FocalPlane`
        The layout (image size and binning).
    images : `~collections.abc.Mapping` [`int`, `numpy.ndarray`]
        Assembled detector images by detector id.
    title : `str`
        Title of the picture.
    unit : `str`
        Unit of the pixel values, for the colour bar.
    defects : `~collections.abc.Mapping` [`int`, `Defects`], optional
        Defects by detector id, drawn as red boxes (at least one binned
        pixel in size, so single bad pixels stay visible).

    Returns
    -------
    png : `bytes`
        The PNG.
    """
    mosaic = plane.mosaic(images)
    low, high = _robust_limits(mosaic)
    figure = new_figure(*MOSAIC_SIZE)
    axes = figure.add_axes((0.03, 0.04, 0.83, 0.86))
    shown = axes.imshow(
        mosaic, origin="lower", cmap="gray", vmin=low, vmax=high, interpolation="nearest", aspect="equal"
    )
    colorbar = figure.colorbar(shown, cax=figure.add_axes((0.9, 0.1, 0.02, 0.74)))
    colorbar.set_label(unit)
    camera = Camera.instance(plane.instrument)
    rows, columns = plane.binned_shape
    n_defects = 0
    for detector in camera.detector_ids:
        r0, c0 = plane.detector_origin(detector)
        name = camera[detector].name
        if detector not in images:
            axes.text(
                c0 + columns / 2, r0 + rows / 2, f"{name}\nno data", ha="center", va="center", color="0.4"
            )
            axes.add_patch(
                Rectangle((c0 - 0.5, r0 - 0.5), columns, rows, fill=False, edgecolor="0.7", ls=":")
            )
            continue
        column_lines, row_lines = plane.amp_boundaries(detector)
        for x in column_lines:
            axes.plot([x, x], [r0 - 0.5, r0 + rows - 0.5], color="tab:cyan", lw=0.4, alpha=0.7)
        for y in row_lines:
            axes.plot([c0 - 0.5, c0 + columns - 0.5], [y, y], color="tab:cyan", lw=0.4, alpha=0.7)
        axes.text(c0 + 2, r0 + rows - 3, name, ha="left", va="top", color="yellow", fontsize=8)
    if defects:
        patches = []
        for detector, detector_defects in defects.items():
            for x0, y0, width, height in detector_defects.boxes:
                x, y = plane.to_mosaic(detector, x0, y0)
                patches.append(
                    Rectangle((x, y), max(width / plane.bin_factor, 1.0), max(height / plane.bin_factor, 1.0))
                )
        n_defects = len(patches)
        axes.add_collection(PatchCollection(patches, facecolor="none", edgecolor="red", linewidth=0.6))
    axes.set_xlim(-0.5, plane.mosaic_shape[1] - 0.5)
    axes.set_ylim(-0.5, plane.mosaic_shape[0] - 0.5)
    axes.set_xticks([])
    axes.set_yticks([])
    suffix = f"; {n_defects} defects (red)" if defects is not None else ""
    axes.set_title(
        f"{title}\nbinned {plane.bin_factor}×{plane.bin_factor}, scale median ± {STRETCH:g}σ "
        f"[{low:.4g}, {high:.4g}] {unit}{suffix}",
        fontsize=10,
    )
    return figure_to_png(figure)
