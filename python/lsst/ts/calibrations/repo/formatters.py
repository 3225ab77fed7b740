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

"""Butler formatters for this package's storage classes.

- ``ComCamRawImage`` → `~lsst.ts.calibrations.repo.raw.RawImage`:
  `RawImageFormatter` (.fits, reading only; raws are ingested).
- ``ComCamExposure`` → `~lsst.ts.calibrations.repo.images.Exposure`:
  `ExposureFormatter` (.fits).
- ``ComCamDefects`` → `~lsst.ts.calibrations.repo.defects.Defects`:
  `DefectsFormatter` (.fits binary table; reads .ecsv too).
- ``ComCamPtcDataset`` →
  `~lsst.ts.calibrations.repo.ptc_dataset.PhotonTransferCurveDataset`:
  `PtcDatasetFormatter` (.json).

Processed images are written as FITS: the PRIMARY header carries the
metadata (FITS cards, HIERARCH for long keys), then ``IMAGE`` (float32),
``MASK`` (int32, with ``MP_<plane>`` bit cards) and ``VARIANCE`` (float32),
and a ``METADATA`` extension holding the metadata as UTF-8 JSON, so keys keep
their case and values their types on reading. The three planes are written
with lossless FITS tile compression chosen by a write recipe
(`~lsst.ts.calibrations.repo.fits_compression.FitsCompression`; the
``recipe`` write parameter names one of the formatter's ``write_recipes``
in the datastore configuration, default ``lossless``: Rice for the mask,
GZIP without quantization for the float planes, so pixels read back bit
for bit). Uncompressed files written before are read as well. Arrays read
back are native-endian. This module imports only numpy, astropy and
daf_butler, so every process (pipetask workers included) can load it.
"""

__all__ = ["DefectsFormatter", "ExposureFormatter", "PtcDatasetFormatter", "RawImageFormatter"]

import json
import math
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from astropy.io import fits
from astropy.io.fits.verify import VerifyError, VerifyWarning
from astropy.table import Table
from lsst.daf.butler import FormatterV2
from lsst.resources import ResourcePath

from .defects import Defects
from .fits_compression import FitsCompression, read_plane
from .images import MASK_PLANES, Exposure
from .ptc_dataset import PhotonTransferCurveDataset
from .raw import read_raw

_METADATA_EXTNAME = "METADATA"
# Cards astropy manages itself; never copied from or to metadata.
_STRUCTURAL = frozenset(
    ("SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND", "PCOUNT", "GCOUNT", "XTENSION", "EXTNAME")
)


def _header_with(metadata: Mapping[str, Any]) -> fits.Header:
    """Return a FITS header holding what of ``metadata`` FITS can carry."""
    header = fits.Header()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)
        for key, value in metadata.items():
            if not isinstance(value, (bool, int, float, str, np.integer, np.floating, np.bool_)):
                continue
            if isinstance(value, (float, np.floating)) and not math.isfinite(float(value)):
                continue
            if isinstance(value, str) and not value.isascii():
                continue
            name = str(key).upper()
            if name in _STRUCTURAL:
                continue
            if len(name) > 8 or not all(c.isalnum() or c in "-_" for c in name):
                name = f"HIERARCH {name}"
            plain = value.item() if isinstance(value, np.generic) else value
            try:
                # A card astropy accepts may still fail verification when the file is
                # written (e.g. a key too long for a HIERARCH card): check it first.
                fits.Card(name, plain).verify("exception")
                header[name] = plain
            except (ValueError, VerifyError):
                # Too long for a card: the JSON copy keeps it.
                continue
    return header


def _metadata_hdu(metadata: Mapping[str, Any]) -> fits.ImageHDU:
    """Return an extension holding ``metadata`` as UTF-8 JSON bytes."""
    text = json.dumps(dict(metadata), default=_json_default)
    return fits.ImageHDU(np.frombuffer(text.encode(), dtype=np.uint8), name=_METADATA_EXTNAME)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Metadata value {value!r} of type {type(value).__name__} is not JSON-serializable.")


def _read_metadata(hdul: fits.HDUList) -> dict[str, Any]:
    """Return the metadata of a file: the JSON copy if present, else the primary header."""
    if _METADATA_EXTNAME in hdul:
        data = hdul[_METADATA_EXTNAME].data
        if data is not None:
            return dict(json.loads(np.asarray(data, dtype=np.uint8).tobytes().decode()))
    return {card.keyword: card.value for card in hdul[0].header.cards if card.keyword not in _STRUCTURAL}


def _native(array: np.ndarray, dtype: type[np.generic]) -> np.ndarray:
    """Return ``array`` as a native-endian array of ``dtype``."""
    return np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("="))


class RawImageFormatter(FormatterV2):
    """Read raw multi-extension FITS files (`RawImage`); raws are ingested, never written."""

    default_extension = ".fits"
    supported_extensions = frozenset({".fits", ".fits.gz", ".fits.fz"})
    can_read_from_local_file = True

    def read_from_local_file(self, path: str, component: str | None = None, expected_size: int = -1) -> Any:
        """Read a raw file.

        Parameters
        ----------
        path : `str`
            Local file.
        component : `str`, optional
            Not supported (must be `None`).
        expected_size : `int`, optional
            Unused.

        Returns
        -------
        raw : `RawImage`
            The raw image.

        Raises
        ------
        ValueError
            Raised if the file is not a readable raw.
        """
        return read_raw(path)

    def write_local_file(self, in_memory_dataset: Any, uri: ResourcePath) -> None:
        """Refuse: raws are written by the camera and ingested.

        Raises
        ------
        NotImplementedError
            Always.
        """
        raise NotImplementedError(
            "ComCamRawImage datasets are read only: write the file with repo.raw.write_raw and ingest it."
        )


class ExposureFormatter(FormatterV2):
    """Read and write `Exposure` as FITS (PRIMARY metadata, IMAGE, MASK, VARIANCE, METADATA).

    Write parameter ``recipe`` names the write recipe (default
    ``lossless``); recipes come from the datastore configuration's
    ``write_recipes`` for this class, and ``lossless`` (Rice mask, GZIP_1
    float planes, 64-row tiles) and ``noCompression`` always exist.
    """

    default_extension = ".fits"
    supported_extensions = frozenset({".fits"})
    can_read_from_local_file = True
    supported_write_parameters = frozenset({"recipe"})

    DEFAULT_RECIPE: ClassVar[str] = "lossless"
    """The recipe used when the configuration names none."""

    BUILTIN_RECIPES: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "lossless": {
            "image": "GZIP_1",
            "mask": "RICE_1",
            "variance": "GZIP_1",
            "tile_rows": 64,
            "gzip_level": 1,
        },
        "noCompression": {"image": "NONE", "mask": "NONE", "variance": "NONE"},
    }
    """Recipes every repository has (the configuration may redefine them)."""

    @classmethod
    def validate_write_recipes(cls, recipes: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        """Check the configured write recipes and add the built-in ones.

        Parameters
        ----------
        recipes : `dict` [`str`, `dict`] or `None`
            Recipes by name, each a `FitsCompression` setting mapping.

        Returns
        -------
        validated : `dict` [`str`, `FitsCompression`]
            Every recipe (built-in ones included) as a `FitsCompression`.

        Raises
        ------
        ValueError
            Raised if a recipe has an unknown key or a lossy setting.
        """
        merged: dict[str, Any] = dict(cls.BUILTIN_RECIPES)
        merged.update(dict(recipes or {}))
        return {
            name: value if isinstance(value, FitsCompression) else FitsCompression.from_recipe(name, value)
            for name, value in merged.items()
        }

    def compression(self) -> FitsCompression:
        """Return the compression of the recipe this formatter writes with.

        Returns
        -------
        compression : `FitsCompression`
            The recipe's settings.

        Raises
        ------
        ValueError
            Raised if the ``recipe`` write parameter names no known recipe.
        """
        name = str(self.write_parameters.get("recipe", self.DEFAULT_RECIPE))
        recipes = self.write_recipes or self.validate_write_recipes(None) or {}
        if name not in recipes:
            raise ValueError(
                f"Write parameter recipe={name!r} of {type(self).__name__} is unknown: "
                f"use one of {sorted(recipes)} or add it to the write_recipes configuration."
            )
        return recipes[name]

    def read_from_local_file(self, path: str, component: str | None = None, expected_size: int = -1) -> Any:
        """Read an exposure.

        Parameters
        ----------
        path : `str`
            Local FITS file.
        component : `str`, optional
            Not supported (must be `None`).
        expected_size : `int`, optional
            Unused.

        Returns
        -------
        exposure : `Exposure`
            The exposure with native-endian arrays.

        Raises
        ------
        ValueError
            Raised if the file lacks the IMAGE extension.
        """
        # Tiled images stay binary tables here: read_plane inflates GZIP_1 tiles itself.
        with fits.open(path, memmap=False, disable_image_compression=True) as hdul:
            if "IMAGE" not in hdul:
                raise ValueError(f"Exposure file {path} has no IMAGE extension.")
            image = _native(read_plane(hdul, "IMAGE"), np.float32)
            mask = _native(read_plane(hdul, "MASK"), np.int32) if "MASK" in hdul else None
            variance = _native(read_plane(hdul, "VARIANCE"), np.float32) if "VARIANCE" in hdul else None
            metadata = _read_metadata(hdul)
        return Exposure(image, mask, variance, metadata)

    def write_local_file(self, in_memory_dataset: Any, uri: ResourcePath) -> None:
        """Write an exposure.

        Parameters
        ----------
        in_memory_dataset : `Exposure`
            The exposure.
        uri : `lsst.resources.ResourcePath`
            Local file to write.

        Raises
        ------
        ValueError
            Raised if the ``recipe`` write parameter names no known recipe.
        """
        self.write_exposure(in_memory_dataset, uri.ospath, self.compression())

    @classmethod
    def write_exposure(
        cls, exposure: Exposure, path: str, compression: FitsCompression | None = None
    ) -> None:
        """Write an exposure to a FITS file as the butler would.

        Parameters
        ----------
        exposure : `Exposure`
            The exposure.
        path : `str`
            File to write (overwritten).
        compression : `FitsCompression`, optional
            The planes' compression; the default recipe's when not given
            (what a repository without ``write_recipes`` writes).
        """
        if compression is None:
            compression = FitsCompression.from_recipe(
                cls.DEFAULT_RECIPE, cls.BUILTIN_RECIPES[cls.DEFAULT_RECIPE]
            )
        primary = fits.PrimaryHDU(header=_header_with(exposure.metadata))
        mask_cards = fits.Header()
        for plane, bit in MASK_PLANES.items():
            mask_cards[f"MP_{plane}"[:8]] = int(bit).bit_length() - 1
        hdus = [
            primary,
            compression.hdu("image", np.asarray(exposure.image.array, dtype=np.float32)),
            compression.hdu("mask", np.asarray(exposure.mask.array, dtype=np.int32), mask_cards),
            compression.hdu("variance", np.asarray(exposure.variance.array, dtype=np.float32)),
            _metadata_hdu(exposure.metadata),
        ]
        fits.HDUList(hdus).writeto(path, overwrite=True)


class DefectsFormatter(FormatterV2):
    """Read and write `Defects` as a FITS binary table (reads ECSV tables too).

    The table has integer columns ``X0``, ``Y0``, ``WIDTH``, ``HEIGHT``;
    its header carries ``NROWS`` and ``NCOLS`` (the detector shape). An
    ECSV table has the same columns and ``NROWS``/``NCOLS`` in its meta.
    """

    default_extension = ".fits"
    supported_extensions = frozenset({".fits", ".ecsv"})
    can_read_from_local_file = True

    def read_from_local_file(self, path: str, component: str | None = None, expected_size: int = -1) -> Any:
        """Read defects.

        Parameters
        ----------
        path : `str`
            Local FITS or ECSV file.
        component : `str`, optional
            Not supported (must be `None`).
        expected_size : `int`, optional
            Unused.

        Returns
        -------
        defects : `Defects`
            The defects.

        Raises
        ------
        ValueError
            Raised if the table lacks a column or the detector shape.
        """
        if path.endswith(".ecsv"):
            table = Table.read(path, format="ascii.ecsv")
            metadata = {k: v for k, v in table.meta.items() if k not in ("NROWS", "NCOLS")}
            shape_source: Mapping[str, Any] = table.meta
            columns = {name.upper(): np.asarray(table[name]) for name in table.colnames}
        else:
            with fits.open(path, memmap=False) as hdul:
                if len(hdul) < 2 or not isinstance(hdul[1], fits.BinTableHDU):
                    raise ValueError(f"Defects file {path} has no binary table extension.")
                table_hdu = hdul[1]
                shape_source = dict(table_hdu.header)
                columns = {name.upper(): np.asarray(table_hdu.data[name]) for name in table_hdu.columns.names}
                metadata = _read_metadata(hdul)
        for key in ("NROWS", "NCOLS"):
            if key not in shape_source:
                raise ValueError(f"Defects file {path} lacks {key} (the detector shape).")
        missing = [name for name in ("X0", "Y0", "WIDTH", "HEIGHT") if name not in columns]
        if missing:
            raise ValueError(f"Defects file {path} lacks columns {missing}.")
        boxes = zip(
            columns["X0"].tolist(),
            columns["Y0"].tolist(),
            columns["WIDTH"].tolist(),
            columns["HEIGHT"].tolist(),
        )
        return Defects(boxes, (int(shape_source["NROWS"]), int(shape_source["NCOLS"])), metadata)

    def write_local_file(self, in_memory_dataset: Any, uri: ResourcePath) -> None:
        """Write defects as a FITS binary table.

        Parameters
        ----------
        in_memory_dataset : `Defects`
            The defects.
        uri : `lsst.resources.ResourcePath`
            Local file to write.
        """
        defects: Defects = in_memory_dataset
        boxes = np.array(defects.boxes, dtype=np.int32).reshape(-1, 4)
        columns = [
            fits.Column(name=name, format="J", array=boxes[:, i])
            for i, name in enumerate(("X0", "Y0", "WIDTH", "HEIGHT"))
        ]
        table = fits.BinTableHDU.from_columns(columns, name="DEFECTS")
        table.header["NROWS"] = (defects.detector_shape[0], "detector rows")
        table.header["NCOLS"] = (defects.detector_shape[1], "detector columns")
        primary = fits.PrimaryHDU(header=_header_with(defects.metadata))
        fits.HDUList([primary, table, _metadata_hdu(defects.metadata)]).writeto(uri.ospath, overwrite=True)


class PtcDatasetFormatter(FormatterV2):
    """Read and write `PhotonTransferCurveDataset` as JSON."""

    default_extension = ".json"
    supported_extensions = frozenset({".json"})
    can_read_from_uri = True

    def read_from_uri(self, uri: ResourcePath, component: str | None = None, expected_size: int = -1) -> Any:
        """Read a PTC dataset.

        Parameters
        ----------
        uri : `lsst.resources.ResourcePath`
            The JSON file.
        component : `str`, optional
            Not supported (must be `None`).
        expected_size : `int`, optional
            Unused.

        Returns
        -------
        ptc : `PhotonTransferCurveDataset`
            The dataset.
        """
        return PhotonTransferCurveDataset.from_json(uri.read())

    def to_bytes(self, in_memory_dataset: Any) -> bytes:
        """Serialize a PTC dataset to JSON bytes.

        Parameters
        ----------
        in_memory_dataset : `PhotonTransferCurveDataset`
            The dataset.

        Returns
        -------
        data : `bytes`
            UTF-8 JSON.
        """
        ptc: PhotonTransferCurveDataset = in_memory_dataset
        return ptc.to_json().encode()
