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

"""Defects of one detector: rectangles of bad pixels in assembled-detector coordinates.

A `Defects` holds boxes ``(x0, y0, width, height)``: ``x0`` is the first
column, ``y0`` the first row, in the assembled detector's orientation (the
orientation of `Exposure` arrays, shape ``(rows, columns)``). A single bad
pixel is a 1 × 1 box, a bad column a 1 × ``rows`` box.
"""

__all__ = ["Defects"]

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

Box = tuple[int, int, int, int]


class Defects:
    """The defects of one detector.

    Parameters
    ----------
    boxes : `~collections.abc.Iterable` [`tuple` [`int`, `int`, `int`, `int`]]
        Defect boxes ``(x0, y0, width, height)`` in assembled-detector pixels;
        each must lie inside ``detector_shape`` and have positive size.
    detector_shape : `tuple` [`int`, `int`]
        Shape (rows, columns) of the assembled detector.
    metadata : `~collections.abc.Mapping` [`str`, `typing.Any`], optional
        Header-like metadata (scalars). Copied.

    Raises
    ------
    ValueError
        Raised if a box is malformed, empty or outside the detector.
    """

    def __init__(
        self,
        boxes: Iterable[Iterable[int]],
        detector_shape: tuple[int, int],
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        if len(detector_shape) != 2 or min(int(n) for n in detector_shape) <= 0:
            raise ValueError(f"detector_shape={detector_shape!r} must be (rows, columns), both positive.")
        self.detector_shape: tuple[int, int] = (int(detector_shape[0]), int(detector_shape[1]))
        rows, columns = self.detector_shape
        checked: list[Box] = []
        for box in boxes:
            values = tuple(int(v) for v in box)
            if len(values) != 4:
                raise ValueError(f"Defect box {box!r} must be (x0, y0, width, height).")
            x0, y0, width, height = values
            if width <= 0 or height <= 0:
                raise ValueError(f"Defect box {values} must have positive width and height.")
            if x0 < 0 or y0 < 0 or x0 + width > columns or y0 + height > rows:
                raise ValueError(
                    f"Defect box {values} (x0, y0, width, height) lies outside the detector "
                    f"of {rows} rows × {columns} columns."
                )
            checked.append((x0, y0, width, height))
        self.boxes: list[Box] = checked
        self.metadata: dict[str, Any] = dict(metadata or {})

    @classmethod
    def from_mask(cls, mask: np.ndarray, metadata: Mapping[str, Any] | None = None) -> "Defects":
        """Return the defects marked in a boolean mask.

        Vertical runs of bad pixels in one column become one box, and
        side-by-side runs of equal extent merge, so a bad column is one box.

        Parameters
        ----------
        mask : `numpy.ndarray`
            Boolean array (rows, columns), true where a pixel is bad.
        metadata : `~collections.abc.Mapping` [`str`, `typing.Any`], optional
            Metadata of the result.

        Returns
        -------
        defects : `Defects`
            Defects covering exactly the true pixels.

        Raises
        ------
        ValueError
            Raised if ``mask`` is not 2-dimensional.
        """
        mask = np.asarray(mask, dtype=bool)
        if mask.ndim != 2:
            raise ValueError(f"A defect mask must be 2-dimensional; got shape {mask.shape}.")
        boxes: list[Box] = []
        # Open boxes from the previous column, keyed by (y0, height).
        previous: dict[tuple[int, int], list[int]] = {}
        bad_columns = set(np.flatnonzero(mask.any(axis=0)).tolist())
        for x in range(mask.shape[1] + 1):
            current: dict[tuple[int, int], list[int]] = {}
            if x in bad_columns:
                column = np.concatenate(([False], mask[:, x], [False]))
                edges = np.flatnonzero(np.diff(column.astype(np.int8)))
                for start, stop in zip(edges[::2].tolist(), edges[1::2].tolist()):
                    key = (start, stop - start)
                    if key in previous:
                        box = previous.pop(key)
                        box[2] += 1
                    else:
                        box = [x, start, 1, stop - start]
                    current[key] = box
            boxes.extend((b[0], b[1], b[2], b[3]) for b in previous.values())
            previous = current
        boxes.sort(key=lambda b: (b[1], b[0]))
        return cls(boxes, (mask.shape[0], mask.shape[1]), metadata)

    def to_mask(self, shape: tuple[int, int] | None = None) -> np.ndarray:
        """Return a boolean mask, true on defects.

        Parameters
        ----------
        shape : `tuple` [`int`, `int`], optional
            Shape of the mask; ``detector_shape`` by default. Boxes are
            clipped to it.

        Returns
        -------
        mask : `numpy.ndarray`
            Boolean array of ``shape``.
        """
        shape = self.detector_shape if shape is None else (int(shape[0]), int(shape[1]))
        mask = np.zeros(shape, dtype=bool)
        for x0, y0, width, height in self.boxes:
            mask[y0 : y0 + height, x0 : x0 + width] = True
        return mask

    @property
    def n_pixels(self) -> int:
        """Number of distinct defect pixels."""
        return int(self.to_mask().sum())

    def __len__(self) -> int:
        return len(self.boxes)

    def __iter__(self) -> Iterator[Box]:
        return iter(self.boxes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Defects):
            return NotImplemented
        return (
            self.detector_shape == other.detector_shape
            and sorted(self.boxes) == sorted(other.boxes)
            and self.metadata == other.metadata
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Defects({len(self.boxes)} boxes, {self.n_pixels} pixels, detector_shape={self.detector_shape})"
        )
