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

"""FocalPlane: where each LSSTComCam detector and amplifier lies in the report's pictures.

The nine detectors R22_S00 ... R22_S22 sit in a 3 × 3 raft: sensor ``S<r><c>``
is in row ``r`` (0 at the bottom) and column ``c`` (0 at the left), as in
the focal-plane views of the LSST Science Pipelines. Images are assembled
detectors, shape (rows, columns) = (2 ny, 8 nx), amplifier ``(ix, iy)`` at
columns ``ix nx ...`` and rows ``iy ny ...`` (`~lsst.ts.calibrations.repo.camera`).

A mosaic is a single array of the binned detectors at their raft positions
with NaN in the gaps and where a detector has no image; an amplifier grid is
the same with one cell per amplifier (6 × 24 cells for the raft), for heat
maps of per-amplifier values.
"""

__all__ = ["FocalPlane"]

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from ..repo.camera import Camera

MAX_BINNED = 256
"""Largest binned detector side (pixels) a mosaic uses."""

GAP = 4
"""Gap between detectors in a mosaic (binned pixels); one cell in an amplifier grid."""


@dataclasses.dataclass(frozen=True)
class FocalPlane:
    """The raft layout for detectors of one image size.

    Parameters
    ----------
    detector_shape : `tuple` [`int`, `int`]
        Shape (rows, columns) of an assembled detector image.
    bin_factor : `int`, optional
        Binning of the mosaic; by default the smallest that keeps a binned
        detector within ``MAX_BINNED`` pixels on a side.
    instrument : `str`, optional
        Whose detectors (LSSTComCam by default; LATISS's one sensor sits in
        the S00 place).
    """

    detector_shape: tuple[int, int]
    bin_factor: int = 0
    instrument: str = "LSSTComCam"

    def __post_init__(self) -> None:
        rows, columns = self.detector_shape
        if rows % 2 or columns % 8 or rows <= 0 or columns <= 0:
            raise ValueError(
                f"detector_shape={self.detector_shape} is not 2 × 8 amplifiers: "
                "give the shape of an assembled detector image (2 ny, 8 nx)."
            )
        if self.bin_factor < 0:
            raise ValueError(f"bin_factor={self.bin_factor} must be positive (or 0 for automatic).")
        if self.bin_factor == 0:
            object.__setattr__(self, "bin_factor", max(1, math.ceil(max(rows, columns) / MAX_BINNED)))

    @property
    def amp_shape(self) -> tuple[int, int]:
        """Shape (ny, nx) of one amplifier's data."""
        return (self.detector_shape[0] // 2, self.detector_shape[1] // 8)

    @property
    def binned_shape(self) -> tuple[int, int]:
        """Shape of one binned detector."""
        return (self.detector_shape[0] // self.bin_factor, self.detector_shape[1] // self.bin_factor)

    @staticmethod
    def raft_position(detector: int, instrument: str = "LSSTComCam") -> tuple[int, int]:
        """Row (0 at the bottom) and column (0 at the left) of a detector in the raft.

        Parameters
        ----------
        detector : `int`
            Detector id, 0 ... 8.
        instrument : `str`, optional
            The instrument (LSSTComCam by default).

        Returns
        -------
        row, column : `tuple` [`int`, `int`]
            The position.
        """
        name = Camera.instance(instrument)[detector].name_in_raft
        return int(name[1]), int(name[2])

    def bin_image(self, image: np.ndarray) -> np.ndarray:
        """Bin an assembled detector image by block means (NaN pixels ignored).

        Parameters
        ----------
        image : `numpy.ndarray`
            The image, ``detector_shape``.

        Returns
        -------
        binned : `numpy.ndarray`
            ``binned_shape``, float32.

        Raises
        ------
        ValueError
            Raised if the image has another shape.
        """
        if tuple(image.shape) != tuple(self.detector_shape):
            raise ValueError(
                f"Image shape {image.shape} differs from the focal plane's {self.detector_shape}."
            )
        b = self.bin_factor
        rows, columns = self.binned_shape
        blocks = np.asarray(image[: rows * b, : columns * b], dtype=np.float32).reshape(rows, b, columns, b)
        finite = np.isfinite(blocks)
        sums = np.where(finite, blocks, 0.0).sum(axis=(1, 3), dtype=np.float64)
        counts = finite.sum(axis=(1, 3))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan).astype(np.float32)

    def detector_origin(self, detector: int) -> tuple[int, int]:
        """First row and column of a detector in the mosaic array."""
        row, column = self.raft_position(detector, self.instrument)
        rows, columns = self.binned_shape
        return row * (rows + GAP), column * (columns + GAP)

    @property
    def mosaic_shape(self) -> tuple[int, int]:
        """Shape of the mosaic array (3 × 3 binned detectors and gaps)."""
        rows, columns = self.binned_shape
        return 3 * rows + 2 * GAP, 3 * columns + 2 * GAP

    def mosaic(self, images: Mapping[int, np.ndarray]) -> np.ndarray:
        """Place binned detector images at their raft positions.

        Parameters
        ----------
        images : `~collections.abc.Mapping` [`int`, `numpy.ndarray`]
            Assembled images by detector id.

        Returns
        -------
        mosaic : `numpy.ndarray`
            ``mosaic_shape``, float32, NaN in gaps and missing detectors;
            row 0 is the bottom of the raft (show with ``origin="lower"``).
        """
        mosaic = np.full(self.mosaic_shape, np.nan, dtype=np.float32)
        rows, columns = self.binned_shape
        for detector, image in images.items():
            r0, c0 = self.detector_origin(detector)
            mosaic[r0 : r0 + rows, c0 : c0 + columns] = self.bin_image(image)
        return mosaic

    def amp_boundaries(self, detector: int) -> tuple[list[float], list[float]]:
        """Amplifier boundaries of a detector in mosaic coordinates.

        Returns
        -------
        columns, rows : `tuple` [`list` [`float`], `list` [`float`]]
            The 7 column boundaries and 1 row boundary inside the detector
            (pixel edges, for ``axvline``-like drawing).
        """
        r0, c0 = self.detector_origin(detector)
        ny, nx = self.amp_shape
        b = self.bin_factor
        return [c0 + i * nx / b - 0.5 for i in range(1, 8)], [r0 + ny / b - 0.5]

    def to_mosaic(self, detector: int, x: float, y: float) -> tuple[float, float]:
        """Detector pixel coordinates (column, row) in mosaic coordinates."""
        r0, c0 = self.detector_origin(detector)
        return c0 + x / self.bin_factor - 0.5, r0 + y / self.bin_factor - 0.5

    @staticmethod
    def amp_grid(values: Mapping[int, Mapping[str, float]], instrument: str = "LSSTComCam") -> np.ndarray:
        """Per-amplifier values in a grid of cells at raft positions.

        Parameters
        ----------
        values : `~collections.abc.Mapping` [`int`, `~collections.abc.Mapping` [`str`, `float`]]
            Values by detector id and amplifier name.

        Returns
        -------
        grid : `numpy.ndarray`
            (8, 26) cells: each detector 2 × 8 cells, one empty cell
            between detectors; NaN where there is no value. Row 0 is the
            bottom.
        """
        grid = np.full((3 * 2 + 2, 3 * 8 + 2), np.nan)
        camera = Camera.instance(instrument)
        for detector, amps in values.items():
            row, column = FocalPlane.raft_position(detector, instrument)
            info = camera[detector]
            for name, value in amps.items():
                amp = info.amp(name)
                grid[row * 3 + amp.iy, column * 9 + amp.ix] = float(value)
        return grid

    @staticmethod
    def amp_cell(detector: int, amp_name: str, instrument: str = "LSSTComCam") -> tuple[int, int]:
        """Row and column of an amplifier's cell in `amp_grid`."""
        row, column = FocalPlane.raft_position(detector, instrument)
        amp = Camera.instance(instrument)[detector].amp(amp_name)
        return row * 3 + amp.iy, column * 9 + amp.ix
