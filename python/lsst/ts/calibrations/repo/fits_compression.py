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

"""FitsCompression: lossless FITS tile compression of an exposure's planes.

A write recipe of `~lsst.ts.calibrations.repo.formatters.ExposureFormatter`
(the ``write_recipes`` section of the datastore's formatters configuration)
names one algorithm per plane and the tile height::

    lossless:
      image: GZIP_1
      mask: RICE_1
      variance: GZIP_1
      tile_rows: 64

Only lossless settings exist: integer planes (the mask) take ``RICE_1``,
``GZIP_1``, ``GZIP_2`` or ``NONE``; float planes (image, variance) take
``GZIP_1``, ``GZIP_2`` or ``NONE`` and are never quantized (FITS
``quantize_level`` 0, as CFITSIO defines lossless float compression), so
every pixel, NaN and signed zero reads back bit for bit. A compressed plane
is a tile-compressed image extension (a binary table to FITS readers that
do not decompress), with the plane's name as EXTNAME; astropy and CFITSIO
present it as the image.
"""

__all__ = ["FitsCompression"]

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from astropy.io import fits

_FLOAT_ALGORITHMS = frozenset({"NONE", "GZIP_1", "GZIP_2"})
_INTEGER_ALGORITHMS = frozenset({"NONE", "RICE_1", "GZIP_1", "GZIP_2"})


@dataclasses.dataclass(frozen=True)
class FitsCompression:
    """Lossless tile compression of an exposure's image, mask and variance.

    Parameters
    ----------
    image : `str`
        Algorithm of the image plane (float): ``GZIP_1``, ``GZIP_2`` or
        ``NONE``.
    mask : `str`
        Algorithm of the mask plane (integer): ``RICE_1``, ``GZIP_1``,
        ``GZIP_2`` or ``NONE``.
    variance : `str`
        Algorithm of the variance plane (float), as ``image``.
    tile_rows : `int`
        Rows per tile (tiles span the full width); at least 1.

    Raises
    ------
    ValueError
        Raised if an algorithm is not lossless for its plane's type, or
        ``tile_rows`` is not a positive integer.
    """

    image: str = "GZIP_1"
    mask: str = "RICE_1"
    variance: str = "GZIP_1"
    tile_rows: int = 64

    PLANE_TYPES: ClassVar[Mapping[str, str]] = {"image": "float", "mask": "integer", "variance": "float"}
    """The kind of pixels of each plane (float or integer)."""

    def __post_init__(self) -> None:
        for plane, kind in self.PLANE_TYPES.items():
            allowed = _FLOAT_ALGORITHMS if kind == "float" else _INTEGER_ALGORITHMS
            value = getattr(self, plane)
            if value not in allowed:
                raise ValueError(
                    f"{plane}={value!r} is not a lossless compression of {kind} pixels: "
                    f"use one of {sorted(allowed)}."
                )
        if isinstance(self.tile_rows, bool) or not isinstance(self.tile_rows, int) or self.tile_rows < 1:
            raise ValueError(f"tile_rows={self.tile_rows!r} must be a positive integer (rows per tile).")

    @classmethod
    def from_recipe(cls, name: str, recipe: Mapping[str, Any]) -> "FitsCompression":
        """Return the compression a write recipe describes.

        Parameters
        ----------
        name : `str`
            The recipe's name (for error messages).
        recipe : `dict` [`str`, `typing.Any`]
            The recipe: ``image``, ``mask``, ``variance`` (algorithm
            names) and ``tile_rows``; missing keys take the defaults.

        Returns
        -------
        compression : `FitsCompression`
            The compression.

        Raises
        ------
        ValueError
            Raised if the recipe has an unknown key or a setting that is
            not lossless.
        """
        if not isinstance(recipe, Mapping):
            raise ValueError(f"Write recipe {name!r} must be a mapping of settings, not {recipe!r}.")
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(recipe) - known)
        if unknown:
            raise ValueError(f"Write recipe {name!r} has unknown key(s) {unknown}: use {sorted(known)}.")
        values = {key: (str(value).upper() if key != "tile_rows" else value) for key, value in recipe.items()}
        try:
            return cls(**values)
        except ValueError as e:
            raise ValueError(f"Write recipe {name!r}: {e}") from None

    def hdu(self, plane: str, array: np.ndarray, header: fits.Header | None = None) -> fits.ImageHDU:
        """Return the extension that holds one plane, named after it in upper case.

        Parameters
        ----------
        plane : `str`
            ``image``, ``mask`` or ``variance``.
        array : `numpy.ndarray`
            The pixels (float32 for image and variance, int32 for the mask).
        header : `astropy.io.fits.Header`, optional
            Extra cards for the extension.

        Returns
        -------
        hdu : `astropy.io.fits.ImageHDU` or `astropy.io.fits.CompImageHDU`
            The extension: tile-compressed unless the plane's algorithm is
            ``NONE`` (or the array is not a non-empty 2-d image).
        """
        algorithm = getattr(self, plane)
        name = plane.upper()
        if algorithm == "NONE" or array.ndim != 2 or array.size == 0:
            return fits.ImageHDU(array, header=header, name=name)
        return fits.CompImageHDU(
            array,
            header=header,
            name=name,
            compression_type=algorithm,
            tile_shape=(min(self.tile_rows, array.shape[0]), array.shape[1]),
            quantize_level=0.0,
        )
