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

"""FocalPlane: where each detector and amplifier of a camera lies in the report's pictures.

Positions come from the camera description
(`~lsst.ts.calibrations.repo.camera.Camera`), by the names it gives: raft
``R<r><c>`` is in raft row ``r`` (0 at the bottom) and raft column ``c``
(0 at the left) of the focal plane, sensor ``S<r><c>`` in row ``r`` and
column ``c`` of its raft, as in the focal-plane views of the LSST Science
Pipelines. So LSSTCam's 21 science rafts fill a 5 × 5 grid of rafts whose
corners R00, R04, R40 and R44 hold the guider and wavefront sensors (not
science detectors: drawn as outlines), LSSTComCam is its one raft R22 of
3 × 3 sensors, and LATISS (raft ``RXX``, one sensor) is one detector.

Images are assembled detectors, shape (rows, columns) = (2 ny, 8 nx),
amplifier ``(ix, iy)`` at columns ``ix nx ...`` and rows ``iy ny ...``.

A mosaic is a single array of the binned detectors at their places, with a
gap between detectors and a wider one between rafts, NaN in the gaps and
where a detector has no image. The binning keeps a detector within
``MAX_BINNED`` pixels and the whole focal plane within ``MAX_MOSAIC``. An
amplifier grid is the same with one cell per amplifier
(`FocalPlane.for_amplifiers`): 2 × 8 cells per detector (cells
``amp_height`` rows tall, so that LSSTCam's detectors come out square).
"""

__all__ = ["FocalPlane"]

import dataclasses
import functools
import math
from collections.abc import Mapping

import numpy as np

from ..repo.camera import Camera

MAX_BINNED = 256
"""Largest binned detector side (pixels) a mosaic uses."""

MAX_MOSAIC = 900
"""Largest side of a whole mosaic (pixels, gaps aside): sets the binning of a many-raft focal plane.

About the size it is drawn at (``FOCAL_PLANE_SIZE``): more pixels would only
be resampled away.
"""

GAP = 4
"""Gap between detectors in a mosaic (binned pixels)."""

RAFT_GAP = 24
"""Gap between rafts in a mosaic (binned pixels)."""


def _digits(name: str) -> tuple[int, int] | None:
    """Row and column of a raft or sensor name ``X<r><c>`` (`None` if not digits)."""
    if len(name) == 3 and name[1:].isdigit():
        return int(name[1]), int(name[2])
    return None


@dataclasses.dataclass(frozen=True)
class _Layout:
    """The places of an instrument's detectors: raft and sensor rows and columns."""

    places: dict[int, tuple[int, int, int, int]]
    rafts: dict[str, tuple[int, int]]
    raft_grid: tuple[int, int]
    sensor_grid: tuple[int, int]


@functools.cache
def _layout(instrument: str) -> _Layout:
    camera = Camera.instance(instrument)
    raft_places = {d.raft: _digits(d.raft) or (0, 0) for d in camera.detectors}
    row0 = min(r for r, _ in raft_places.values())
    column0 = min(c for _, c in raft_places.values())
    rafts = {name: (r - row0, c - column0) for name, (r, c) in raft_places.items()}
    places: dict[int, tuple[int, int, int, int]] = {}
    for detector in camera.science_detectors:
        sensor = _digits(detector.name_in_raft) or (0, 0)
        places[detector.id] = (*rafts[detector.raft], *sensor)
    raft_grid = (max(r for r, _ in rafts.values()) + 1, max(c for _, c in rafts.values()) + 1)
    sensor_grid = (max(p[2] for p in places.values()) + 1, max(p[3] for p in places.values()) + 1)
    return _Layout(places=places, rafts=rafts, raft_grid=raft_grid, sensor_grid=sensor_grid)


@dataclasses.dataclass(frozen=True)
class FocalPlane:
    """The focal-plane layout of one instrument, for detectors of one image size.

    Parameters
    ----------
    detector_shape : `tuple` [`int`, `int`]
        Shape (rows, columns) of an assembled detector image.
    bin_factor : `int`, optional
        Binning of the mosaic; by default the smallest that keeps a binned
        detector within ``MAX_BINNED`` pixels on a side and the mosaic
        within ``MAX_MOSAIC``.
    instrument : `str`, optional
        Whose detectors (LSSTComCam by default).
    gap : `int`, optional
        Gap between detectors (mosaic pixels).
    raft_gap : `int`, optional
        Gap between rafts (mosaic pixels).
    """

    detector_shape: tuple[int, int]
    bin_factor: int = 0
    instrument: str = "LSSTComCam"
    gap: int = GAP
    raft_gap: int = RAFT_GAP

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
            slots = max(self.n_rafts[i] * _layout(self.instrument).sensor_grid[i] for i in (0, 1))
            largest = min(MAX_BINNED, MAX_MOSAIC // slots)
            object.__setattr__(self, "bin_factor", max(1, math.ceil(max(rows, columns) / largest)))

    @classmethod
    def for_amplifiers(cls, instrument: str = "LSSTComCam", amp_height: int = 1) -> "FocalPlane":
        """The layout of an amplifier grid: one cell per amplifier, one empty cell between detectors.

        Parameters
        ----------
        instrument : `str`, optional
            Whose detectors.
        amp_height : `int`, optional
            Rows of one amplifier's cell (1: a detector is 2 × 8 cells; 4:
            8 × 8, square).

        Returns
        -------
        plane : `FocalPlane`
            Detector "images" of (2 ``amp_height``, 8) cells, not binned;
            rafts three cells apart.
        """
        return cls((2 * amp_height, 8), bin_factor=1, instrument=instrument, gap=1, raft_gap=3)

    @property
    def n_rafts(self) -> tuple[int, int]:
        """Rows and columns of rafts (corner rafts included)."""
        return _layout(self.instrument).raft_grid

    @property
    def multi_raft(self) -> bool:
        """True if the focal plane has more than one raft (LSSTCam)."""
        return self.n_rafts != (1, 1)

    @property
    def rafts(self) -> dict[str, tuple[int, int]]:
        """Every raft of the camera (science and corner) by name: its row and column in the raft grid."""
        return dict(_layout(self.instrument).rafts)

    @property
    def detector_ids(self) -> tuple[int, ...]:
        """The detectors placed: the camera's science detectors."""
        return tuple(_layout(self.instrument).places)

    @property
    def amp_shape(self) -> tuple[int, int]:
        """Shape (ny, nx) of one amplifier's data."""
        return (self.detector_shape[0] // 2, self.detector_shape[1] // 8)

    @property
    def binned_shape(self) -> tuple[int, int]:
        """Shape of one binned detector."""
        return (self.detector_shape[0] // self.bin_factor, self.detector_shape[1] // self.bin_factor)

    @property
    def raft_shape(self) -> tuple[int, int]:
        """Shape of one raft's place in the mosaic (its sensors and the gaps between them)."""
        rows, columns = self.binned_shape
        sensor_rows, sensor_columns = _layout(self.instrument).sensor_grid
        return (
            sensor_rows * rows + (sensor_rows - 1) * self.gap,
            sensor_columns * columns + (sensor_columns - 1) * self.gap,
        )

    @staticmethod
    def raft_position(detector: int, instrument: str = "LSSTComCam") -> tuple[int, int]:
        """Row (0 at the bottom) and column (0 at the left) of a science detector in its raft.

        Parameters
        ----------
        detector : `int`
            Detector id.
        instrument : `str`, optional
            The instrument (LSSTComCam by default).

        Returns
        -------
        row, column : `tuple` [`int`, `int`]
            The position.

        Raises
        ------
        KeyError
            Raised if the detector is not a science detector of the instrument.
        """
        place = _layout(instrument).places.get(detector)
        if place is None:
            raise KeyError(f"{instrument} has no science detector {detector!r} to place.")
        return place[2], place[3]

    def raft_origin(self, raft: str) -> tuple[int, int]:
        """First row and column of a raft in the mosaic array."""
        raft_row, raft_column = _layout(self.instrument).rafts[raft]
        rows, columns = self.raft_shape
        return raft_row * (rows + self.raft_gap), raft_column * (columns + self.raft_gap)

    def detector_origin(self, detector: int) -> tuple[int, int]:
        """First row and column of a detector in the mosaic array.

        Raises
        ------
        KeyError
            Raised if the detector is not a science detector of the instrument.
        """
        place = _layout(self.instrument).places.get(detector)
        if place is None:
            raise KeyError(f"{self.instrument} has no science detector {detector!r} to place.")
        raft_row, raft_column, row, column = place
        raft_rows, raft_columns = self.raft_shape
        rows, columns = self.binned_shape
        return (
            raft_row * (raft_rows + self.raft_gap) + row * (rows + self.gap),
            raft_column * (raft_columns + self.raft_gap) + column * (columns + self.gap),
        )

    @property
    def mosaic_shape(self) -> tuple[int, int]:
        """Shape of the mosaic array (every raft and the gaps)."""
        raft_rows, raft_columns = self.raft_shape
        n_rows, n_columns = self.n_rafts
        return (
            n_rows * raft_rows + (n_rows - 1) * self.raft_gap,
            n_columns * raft_columns + (n_columns - 1) * self.raft_gap,
        )

    def bin_image(self, image: np.ndarray) -> np.ndarray:
        """Bin an assembled detector image by block means (NaN pixels ignored).

        An image of another size than ``detector_shape`` (an e2v sensor
        beside ITL ones: a few rows and columns more) is binned by the same
        factor and cut (or padded with NaN) to ``binned_shape``.

        Parameters
        ----------
        image : `numpy.ndarray`
            The image.

        Returns
        -------
        binned : `numpy.ndarray`
            ``binned_shape``, float32.

        Raises
        ------
        ValueError
            Raised if the image is not 2-dimensional or is smaller than one bin.
        """
        b = self.bin_factor
        if image.ndim != 2 or min(image.shape) < b:
            raise ValueError(
                f"Image shape {image.shape} cannot be binned {b} × {b} into the focal plane's "
                f"{self.binned_shape} detectors."
            )
        rows, columns = image.shape[0] // b, image.shape[1] // b
        blocks = np.asarray(image[: rows * b, : columns * b], dtype=np.float32).reshape(rows, b, columns, b)
        finite = np.isfinite(blocks)
        sums = np.where(finite, blocks, 0.0).sum(axis=(1, 3), dtype=np.float64)
        counts = finite.sum(axis=(1, 3))
        with np.errstate(invalid="ignore", divide="ignore"):
            binned = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan).astype(np.float32)
        if binned.shape == self.binned_shape:
            return binned
        fitted = np.full(self.binned_shape, np.nan, dtype=np.float32)
        keep_rows, keep_columns = min(rows, fitted.shape[0]), min(columns, fitted.shape[1])
        fitted[:keep_rows, :keep_columns] = binned[:keep_rows, :keep_columns]
        return fitted

    def binned(self, image: np.ndarray) -> np.ndarray:
        """An image binned for the mosaic: as is if it already has ``binned_shape``, else `bin_image`."""
        if image.shape == self.binned_shape:
            return np.asarray(image, dtype=np.float32)
        return self.bin_image(image)

    def mosaic(self, images: Mapping[int, np.ndarray]) -> np.ndarray:
        """Place detector images (assembled, or already binned) at their places.

        Parameters
        ----------
        images : `~collections.abc.Mapping` [`int`, `numpy.ndarray`]
            Images by detector id (science detectors; others are left out).

        Returns
        -------
        mosaic : `numpy.ndarray`
            ``mosaic_shape``, float32, NaN in gaps and missing detectors;
            row 0 is the bottom of the focal plane (show with
            ``origin="lower"``).
        """
        mosaic = np.full(self.mosaic_shape, np.nan, dtype=np.float32)
        rows, columns = self.binned_shape
        places = _layout(self.instrument).places
        for detector, image in images.items():
            if detector not in places:
                continue
            r0, c0 = self.detector_origin(detector)
            mosaic[r0 : r0 + rows, c0 : c0 + columns] = self.binned(image)
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

    def amp_values(self, values: Mapping[int, Mapping[str, float]]) -> np.ndarray:
        """Per-amplifier values in this amplifier grid (a plane made by `for_amplifiers`).

        Parameters
        ----------
        values : `~collections.abc.Mapping` [`int`, `~collections.abc.Mapping` [`str`, `float`]]
            Values by detector id and amplifier name.

        Returns
        -------
        grid : `numpy.ndarray`
            ``mosaic_shape`` cells, NaN where there is no value; row 0 is
            the bottom.
        """
        height = self.detector_shape[0] // 2
        camera = Camera.instance(self.instrument)
        cells: dict[int, np.ndarray] = {}
        for detector, amps in values.items():
            block = np.full(self.detector_shape, np.nan)
            info = camera[detector]
            for name, value in amps.items():
                amp = info.amp(name)
                block[amp.iy * height : (amp.iy + 1) * height, amp.ix] = float(value)
            cells[detector] = block
        return self.mosaic(cells)

    @staticmethod
    def amp_grid(values: Mapping[int, Mapping[str, float]], instrument: str = "LSSTComCam") -> np.ndarray:
        """Per-amplifier values in a grid of one cell per amplifier at the detectors' places.

        Parameters
        ----------
        values : `~collections.abc.Mapping` [`int`, `~collections.abc.Mapping` [`str`, `float`]]
            Values by detector id and amplifier name.
        instrument : `str`, optional
            Whose detectors.

        Returns
        -------
        grid : `numpy.ndarray`
            Each detector 2 × 8 cells, one empty cell between detectors and
            three between rafts ((8, 26) for LSSTComCam's raft); NaN where
            there is no value. Row 0 is the bottom.
        """
        return FocalPlane.for_amplifiers(instrument).amp_values(values)

    @staticmethod
    def amp_cell(detector: int, amp_name: str, instrument: str = "LSSTComCam") -> tuple[int, int]:
        """Row and column of an amplifier's cell in `amp_grid`."""
        r0, c0 = FocalPlane.for_amplifiers(instrument).detector_origin(detector)
        amp = Camera.instance(instrument)[detector].amp(amp_name)
        return r0 + amp.iy, c0 + amp.ix
