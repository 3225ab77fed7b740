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

"""Processed images: an image with its mask, variance and metadata.

`Exposure` is the Python type of every processed image this package puts in
the butler (``cpBiasIsrExp``, ``bias``, ``dark``, ``flat``,
``verifyFlatProc``, ...). It offers the accessors the LSST Science Pipelines
use in notebooks (``exp.getImage().getArray()``) and plain Python ones
(``exp.image.array``). Pixel arrays are in the assembled detector's
orientation, shape (rows, columns).
"""

__all__ = ["MASK_PLANES", "Exposure", "ImagePlane"]

from collections.abc import Mapping
from typing import Any

import numpy as np

# Mask plane name -> bit value.
MASK_PLANES: dict[str, int] = {
    "BAD": 1 << 0,
    "SAT": 1 << 1,
    "INTRP": 1 << 2,
    "CR": 1 << 3,
    "EDGE": 1 << 4,
    "SUSPECT": 1 << 5,
    "NO_DATA": 1 << 8,
}


class ImagePlane:
    """One pixel plane of an `Exposure` (image, mask or variance).

    Parameters
    ----------
    array : `numpy.ndarray`
        The pixels, (rows, columns). Held, not copied.
    """

    def __init__(self, array: np.ndarray) -> None:
        if array.ndim != 2:
            raise ValueError(f"An image plane must be 2-dimensional; got shape {array.shape}.")
        self.array = array

    def getArray(self) -> np.ndarray:
        """Return the pixel array (the array itself, not a copy)."""
        return self.array

    @property
    def shape(self) -> tuple[int, int]:
        """Shape (rows, columns)."""
        return (int(self.array.shape[0]), int(self.array.shape[1]))

    def getWidth(self) -> int:
        """Number of columns."""
        return self.shape[1]

    def getHeight(self) -> int:
        """Number of rows."""
        return self.shape[0]

    def __repr__(self) -> str:
        return f"ImagePlane(shape={self.shape}, dtype={self.array.dtype})"


class Exposure:
    """An image with mask, variance and metadata.

    Parameters
    ----------
    image : `numpy.ndarray`
        Pixel values, (rows, columns); stored as float32.
    mask : `numpy.ndarray`, optional
        Mask bits (`MASK_PLANES`), int32; zeros if not given.
    variance : `numpy.ndarray`, optional
        Variance per pixel, float32; zeros if not given.
    metadata : `~collections.abc.Mapping` [`str`, `typing.Any`], optional
        Header-like metadata: keys are strings, values scalars (bool, int,
        float, str). Copied.
    """

    def __init__(
        self,
        image: np.ndarray,
        mask: np.ndarray | None = None,
        variance: np.ndarray | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        image = np.asarray(image, dtype=np.float32)
        if mask is None:
            mask = np.zeros(image.shape, dtype=np.int32)
        if variance is None:
            variance = np.zeros(image.shape, dtype=np.float32)
        mask = np.asarray(mask, dtype=np.int32)
        variance = np.asarray(variance, dtype=np.float32)
        for name, plane in (("mask", mask), ("variance", variance)):
            if plane.shape != image.shape:
                raise ValueError(
                    f"Exposure {name} shape {plane.shape} differs from image shape {image.shape}."
                )
        self.image = ImagePlane(image)
        self.mask = ImagePlane(mask)
        self.variance = ImagePlane(variance)
        self.metadata: dict[str, Any] = dict(metadata or {})

    def getImage(self) -> ImagePlane:
        """Return the image plane."""
        return self.image

    def getMask(self) -> ImagePlane:
        """Return the mask plane."""
        return self.mask

    def getVariance(self) -> ImagePlane:
        """Return the variance plane."""
        return self.variance

    def getMetadata(self) -> dict[str, Any]:
        """Return the metadata (the dict itself, not a copy)."""
        return self.metadata

    def getDimensions(self) -> tuple[int, int]:
        """Return (width, height), as the Science Pipelines order them."""
        return (self.image.getWidth(), self.image.getHeight())

    @property
    def shape(self) -> tuple[int, int]:
        """Shape (rows, columns) of the pixel planes."""
        return self.image.shape

    @property
    def detector(self) -> int | None:
        """Detector id from the metadata (``DETECTOR``), if known."""
        value = self.metadata.get("DETECTOR")
        return None if value is None else int(value)

    def mask_bits(self, *names: str) -> int:
        """Return the OR of the named mask planes' bits.

        Raises
        ------
        KeyError
            Raised for a plane name not in `MASK_PLANES`.
        """
        bits = 0
        for name in names:
            try:
                bits |= MASK_PLANES[name]
            except KeyError:
                raise KeyError(f"Unknown mask plane {name!r}; planes are {sorted(MASK_PLANES)}.") from None
        return bits

    def clone(self) -> "Exposure":
        """Return a deep copy."""
        return Exposure(
            self.image.array.copy(),
            self.mask.array.copy(),
            self.variance.array.copy(),
            self.metadata,
        )

    def __repr__(self) -> str:
        return f"Exposure(shape={self.shape}, detector={self.detector})"
