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
names one algorithm per plane, the tile height and the GZIP level::

    lossless:
      image: GZIP_1
      mask: RICE_1
      variance: GZIP_1
      tile_rows: 64
      gzip_level: 1

Only lossless settings exist: integer planes (the mask) take ``RICE_1``,
``GZIP_1``, ``GZIP_2`` or ``NONE``; float planes (image, variance) take
``GZIP_1``, ``GZIP_2`` or ``NONE`` and are never quantized (no ``ZQUANTIZ``,
``ZSCALE`` or ``ZZERO``: CFITSIO's lossless float compression), so every
pixel, NaN and signed zero reads back bit for bit. A compressed plane is a
tile-compressed image extension (the FITS tiled image convention: a binary
table with ``ZIMAGE = T``), with the plane's name as EXTNAME; astropy and
CFITSIO present it as the image.

``GZIP_1`` tiles are written here, with ``gzip_level`` (astropy always
compresses at level 9, which costs about four times the CPU of level 1 for
a few per cent of size on noisy float pixels); ``RICE_1`` and ``GZIP_2`` are
written by astropy. Level 1, the fastest, deflates with ISA-L's level 1
(python-isal): the same gzip streams any reader inflates, about the size
zlib's level 1 gives, at a seventh of its CPU time; levels 2-9 are zlib's.

`read_plane` reads a plane back: ``GZIP_1`` tiles of whole rows, not
quantized (what `FitsCompression` writes), are inflated here with ISA-L,
about twice as fast as the zlib inflation astropy uses; any other
extension is read by astropy.
"""

__all__ = ["FitsCompression", "read_plane"]

import dataclasses
import gzip
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from astropy.io import fits
from isal import igzip, isal_zlib

_FAST_GZIP_LEVEL = 1
"""The ``gzip_level`` deflated with ISA-L (its level 1) rather than zlib."""

_GZIP_WBITS = 31
"""zlib's ``wbits`` of one gzip stream (a GZIP_1 tile)."""

_GZIP1_BITPIX = {8: "u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}
"""Pixel type of each ``ZBITPIX`` that `read_plane` inflates itself."""

_QUANTIZATION_CARDS = ("ZQUANTIZ", "ZSCALE", "ZZERO", "ZBLANK", "ZDITHER0", "ZNAXIS3")
"""Cards of a tiled image that `read_plane` leaves to astropy (quantized or not 2-d)."""

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
    gzip_level : `int`
        zlib compression level of ``GZIP_1`` tiles, 1 (fastest) to 9.

    Raises
    ------
    ValueError
        Raised if an algorithm is not lossless for its plane's type,
        ``tile_rows`` is not a positive integer, or ``gzip_level`` is not
        an integer from 1 to 9.
    """

    image: str = "GZIP_1"
    mask: str = "RICE_1"
    variance: str = "GZIP_1"
    tile_rows: int = 64
    gzip_level: int = 1

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
        level = self.gzip_level
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 9:
            raise ValueError(f"gzip_level={level!r} must be an integer from 1 (fastest) to 9 (smallest).")

    @classmethod
    def from_recipe(cls, name: str, recipe: Mapping[str, Any]) -> "FitsCompression":
        """Return the compression a write recipe describes.

        Parameters
        ----------
        name : `str`
            The recipe's name (for error messages).
        recipe : `dict` [`str`, `typing.Any`]
            The recipe: ``image``, ``mask``, ``variance`` (algorithm
            names), ``tile_rows`` and ``gzip_level``; missing keys take the
            defaults.

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
        values = {
            key: (str(value).upper() if key in cls.PLANE_TYPES else value) for key, value in recipe.items()
        }
        try:
            return cls(**values)
        except ValueError as e:
            raise ValueError(f"Write recipe {name!r}: {e}") from None

    def hdu(
        self, plane: str, array: np.ndarray, header: fits.Header | None = None
    ) -> fits.ImageHDU | fits.CompImageHDU | fits.BinTableHDU:
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
        hdu : `astropy.io.fits.ImageHDU`, `astropy.io.fits.CompImageHDU` or `astropy.io.fits.BinTableHDU`
            The extension: tile-compressed unless the plane's algorithm is
            ``NONE`` (or the array is not a non-empty 2-d image); ``GZIP_1``
            planes are the binary table of the tiled image convention,
            which FITS readers open as the compressed image.
        """
        algorithm = getattr(self, plane)
        name = plane.upper()
        if algorithm == "NONE" or array.ndim != 2 or array.size == 0:
            return fits.ImageHDU(array, header=header, name=name)
        if algorithm == "GZIP_1":
            return self._gzip1_hdu(name, array, header)
        return fits.CompImageHDU(
            array,
            header=header,
            name=name,
            compression_type=algorithm,
            tile_shape=(min(self.tile_rows, array.shape[0]), array.shape[1]),
            quantize_level=0.0,
        )

    def _deflate(self, data: bytes) -> bytes:
        """Return ``data`` as one gzip stream at ``gzip_level`` (no time stamp: the same bytes each time)."""
        if self.gzip_level == _FAST_GZIP_LEVEL:
            return igzip.compress(data, compresslevel=1, mtime=0)
        return gzip.compress(data, compresslevel=self.gzip_level, mtime=0)

    def _gzip1_hdu(self, name: str, array: np.ndarray, header: fits.Header | None) -> fits.BinTableHDU:
        """Return a GZIP_1 tile-compressed image extension (FITS tiled image convention)."""
        if array.dtype.kind not in "iuf" or array.dtype.itemsize not in (1, 2, 4, 8):
            raise ValueError(f"Cannot compress {name} pixels of type {array.dtype}: use int or float.")
        if array.dtype.kind == "u" and array.dtype.itemsize > 1:
            raise ValueError(
                f"Cannot compress {name} pixels of type {array.dtype} with GZIP_1 here: use RICE_1."
            )
        big_endian = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder(">"))
        rows = min(self.tile_rows, big_endian.shape[0])
        tiles = np.empty((big_endian.shape[0] + rows - 1) // rows, dtype=object)
        for i, start in enumerate(range(0, big_endian.shape[0], rows)):
            tiles[i] = np.frombuffer(
                self._deflate(big_endian[start : start + rows].tobytes()), dtype=np.uint8
            )
        table = fits.BinTableHDU.from_columns(
            [fits.Column(name="COMPRESSED_DATA", format="1PB()", array=tiles)], name=name
        )
        bitpix = 8 * array.dtype.itemsize * (-1 if array.dtype.kind == "f" else 1)
        cards = table.header
        cards["ZIMAGE"] = (True, "extension contains a compressed image")
        cards["ZBITPIX"] = (bitpix, "data type of the image")
        cards["ZNAXIS"] = (2, "dimension of the image")
        cards["ZNAXIS1"] = (int(array.shape[1]), "columns")
        cards["ZNAXIS2"] = (int(array.shape[0]), "rows")
        cards["ZTILE1"] = (int(array.shape[1]), "tile columns")
        cards["ZTILE2"] = (rows, "tile rows")
        cards["ZCMPTYPE"] = ("GZIP_1", "compression algorithm (lossless, not quantized)")
        for card in (header or fits.Header()).cards:
            if card.keyword not in cards:
                cards.append(card)
        return table


def read_plane(hdul: fits.HDUList, name: str) -> np.ndarray:
    """Return the pixels of one extension of a file opened with ``disable_image_compression=True``.

    Parameters
    ----------
    hdul : `astropy.io.fits.HDUList`
        The file, its tiled images left as binary tables
        (``fits.open(path, disable_image_compression=True)``).
    name : `str`
        EXTNAME of the extension (``IMAGE``, ``MASK``, ``VARIANCE``).

    Returns
    -------
    pixels : `numpy.ndarray`
        The image: native-endian for a tiled image inflated here (its
        buffer swapped in place), as astropy gives it otherwise.

    Raises
    ------
    KeyError
        Raised if the file has no extension ``name``.
    ValueError
        Raised if a ``GZIP_1`` tile does not inflate, or the tiles do not
        hold the image's ``ZNAXIS1`` × ``ZNAXIS2`` pixels.
    """
    hdu = hdul[name]
    header = hdu.header
    if not (isinstance(hdu, fits.BinTableHDU) and header.get("ZIMAGE", False)):
        return hdu.data
    dtype = _GZIP1_BITPIX.get(header.get("ZBITPIX", 0))
    simple = (
        header.get("ZCMPTYPE") == "GZIP_1"
        and dtype is not None
        and header.get("ZNAXIS") == 2
        and header.get("ZTILE1") == header.get("ZNAXIS1")
        and hdu.columns.names == ["COMPRESSED_DATA"]
        and not any(card in header for card in _QUANTIZATION_CARDS)
    )
    if not simple:
        return fits.CompImageHDU(bintable=hdu).data
    columns, rows = int(header["ZNAXIS1"]), int(header["ZNAXIS2"])
    expected = columns * rows * np.dtype(dtype).itemsize
    pixels = bytearray(expected)  # writable, so the image is too
    filled = 0
    try:
        for tile in hdu.data["COMPRESSED_DATA"]:
            part = isal_zlib.decompress(bytes(tile), wbits=_GZIP_WBITS)
            if filled + len(part) > expected:
                break
            pixels[filled : filled + len(part)] = part
            filled += len(part)
        else:
            if filled == expected:
                stored = np.frombuffer(pixels, dtype=dtype).reshape(rows, columns)
                if stored.dtype.isnative:
                    return stored
                # Swapped in place to this machine's byte order: no second copy of the image.
                return stored.byteswap(inplace=True).view(stored.dtype.newbyteorder())
    except isal_zlib.error as e:
        raise ValueError(f"Extension {name}: a GZIP_1 tile does not inflate ({e}).") from None
    raise ValueError(
        f"Extension {name}: the GZIP_1 tiles do not hold the {expected} bytes of a {columns} × {rows} "
        f"image of ZBITPIX={header['ZBITPIX']}."
    )
