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

Binned detectors at their places on the focal plane (`FocalPlane`), grey
scale with a robust stretch (median ± ``STRETCH`` σ, σ from the
interquartile range, so hot pixels and defects do not wash out the
picture). One raft (LSSTComCam, LATISS): ``MOSAIC_SIZE``, amplifier
boundaries as thin lines, the detector names, and detectors without an
image marked "no data". Many rafts (LSSTCam): ``FOCAL_PLANE_SIZE``, the
rafts outlined in their vendor's colour with their names, each detector's
name in its raft, detectors not in the run greyed and the corner rafts
outlined (`draw_raft_overlay`).
"""

__all__ = ["mosaic_figure"]

from collections.abc import Collection, Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.patches import Rectangle

from ..repo.camera import Camera
from ..repo.defects import Defects
from .figure_png import figure_to_png, new_figure
from .focal_plane import FocalPlane
from .raft_overlay import FOCAL_PLANE_SIZE, draw_raft_overlay

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
    in_run: Collection[int] | None = None,
) -> bytes:
    """Draw a focal-plane mosaic and return it as PNG.

    ``MOSAIC_SIZE`` for one raft, ``FOCAL_PLANE_SIZE`` for many.

    Parameters
    ----------
    plane : `FocalPlane`
        The layout (image size and binning).
    images : `~collections.abc.Mapping` [`int`, `numpy.ndarray`]
        Detector images by detector id, assembled or already binned
        (`FocalPlane.binned`).
    title : `str`
        Title of the picture.
    unit : `str`
        Unit of the pixel values, for the colour bar.
    defects : `~collections.abc.Mapping` [`int`, `Defects`], optional
        Defects by detector id, drawn as red boxes (at least one binned
        pixel in size, so single bad pixels stay visible).
    in_run : `~collections.abc.Collection` [`int`], optional
        Detectors of the run (many rafts: the others are greyed); by
        default those with an image.

    Returns
    -------
    png : `bytes`
        The PNG.
    """
    mosaic = plane.mosaic(images)
    low, high = _robust_limits(mosaic)
    figure = new_figure(*(FOCAL_PLANE_SIZE if plane.multi_raft else MOSAIC_SIZE))
    axes = figure.add_axes((0.03, 0.04, 0.83, 0.86) if not plane.multi_raft else (0.02, 0.02, 0.86, 0.9))
    shown = axes.imshow(
        mosaic, origin="lower", cmap="gray", vmin=low, vmax=high, interpolation="nearest", aspect="equal"
    )
    colorbar = figure.colorbar(shown, cax=figure.add_axes((0.9, 0.1, 0.02, 0.74)))
    colorbar.set_label(unit)
    if plane.multi_raft:
        draw_raft_overlay(axes, plane, in_run=set(images) if in_run is None else in_run, with_data=images)
    else:
        _draw_detectors(axes, plane, images)
    n_defects = 0
    if defects:
        patches = []
        for detector, detector_defects in defects.items():
            if detector not in plane.detector_ids:
                continue
            for x0, y0, width, height in detector_defects.boxes:
                x, y = plane.to_mosaic(detector, x0, y0)
                patches.append(
                    Rectangle((x, y), max(width / plane.bin_factor, 1.0), max(height / plane.bin_factor, 1.0))
                )
        n_defects = len(patches)
        axes.add_collection(PatchCollection(patches, facecolor="none", edgecolor="red", linewidth=0.6))
    margin = plane.raft_gap / 2 if plane.multi_raft else 0
    axes.set_xlim(-0.5 - margin, plane.mosaic_shape[1] - 0.5 + margin)
    top = plane.mosaic_shape[0] - 0.5 + (2 * plane.raft_gap if plane.multi_raft else 0)
    axes.set_ylim(-0.5 - margin, top)
    axes.set_xticks([])
    axes.set_yticks([])
    suffix = f"; {n_defects} defects (red)" if defects is not None else ""
    axes.set_title(
        f"{title}\nbinned {plane.bin_factor}×{plane.bin_factor}, scale median ± {STRETCH:g}σ "
        f"[{low:.4g}, {high:.4g}] {unit}{suffix}",
        fontsize=10,
    )
    return figure_to_png(figure)


def _draw_detectors(axes: Axes, plane: FocalPlane, images: Mapping[int, np.ndarray]) -> None:
    """Names, amplifier boundaries and "no data" of one raft's detectors."""
    camera = Camera.instance(plane.instrument)
    rows, columns = plane.binned_shape
    lines = []
    for detector in plane.detector_ids:
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
        lines += [[(x, r0 - 0.5), (x, r0 + rows - 0.5)] for x in column_lines]
        lines += [[(c0 - 0.5, y), (c0 + columns - 0.5, y)] for y in row_lines]
        axes.text(c0 + 2, r0 + rows - 3, name, ha="left", va="top", color="yellow", fontsize=8)
    axes.add_collection(LineCollection(lines, colors="tab:cyan", linewidths=0.4, alpha=0.7))
