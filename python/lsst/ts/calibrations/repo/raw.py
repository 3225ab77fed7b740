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

"""Raw images as the camera writes them: one multi-extension FITS file per detector.

A raw file has an empty primary HDU whose header describes the exposure
(``INSTRUME``, ``DATE-OBS``, ``EXPTIME``, ``DARKTIME``, ``IMGTYPE``, ``OBSID``,
``DAYOBS``, ``SEQNUM``, ``FILTER``, ``DETECTOR``, ...) and 16 image extensions
``Segment10`` ... ``Segment17``, ``Segment07`` ... ``Segment00`` of 32-bit
integers, one per amplifier, in readout order, with ``DATASEC``, ``BIASSEC``
and ``PARALSEC`` giving the data, serial and parallel overscan areas.
"""

__all__ = ["RAW_REQUIRED_KEYS", "RawImage", "make_header", "read_raw", "write_raw"]

import dataclasses
import os
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
from astropy.io import fits

from .camera import AMP_NAMES, AmpGeometry, Camera, DetectorInfo

# Header keys every raw carries.
RAW_REQUIRED_KEYS = ("INSTRUME", "DETECTOR", "IMGTYPE", "EXPTIME", "DATE-OBS", "OBSID", "DAYOBS", "SEQNUM")

_SECTION_RE = re.compile(r"^\[(\d+):(\d+),(\d+):(\d+)\]$")


def _parse_section(text: str) -> tuple[int, int, int, int]:
    """Parse a FITS section "[x0:x1,y0:y1]" (1-based, inclusive)."""
    match = _SECTION_RE.match(text.strip())
    if match is None:
        raise ValueError(f"Malformed FITS section {text!r}; expected '[x0:x1,y0:y1]'.")
    x0, x1, y0, y1 = (int(v) for v in match.groups())
    return x0, x1, y0, y1


@dataclasses.dataclass
class RawImage:
    """The raw data of one detector in one exposure.

    Parameters
    ----------
    header : `dict` [`str`, `typing.Any`]
        Exposure-level header (the primary HDU's cards).
    amp_data : `dict` [`str`, `numpy.ndarray`]
        Raw segment of each amplifier, in readout order, int32.
    geometry : `AmpGeometry`
        Layout of the segments.
    """

    header: dict[str, Any]
    amp_data: dict[str, np.ndarray]
    geometry: AmpGeometry

    def __post_init__(self) -> None:
        missing = [name for name in AMP_NAMES if name not in self.amp_data]
        if missing:
            raise ValueError(f"Raw image lacks amplifiers {missing}.")
        for name, data in self.amp_data.items():
            if data.shape != self.geometry.raw_shape:
                raise ValueError(
                    f"Raw segment {name} has shape {data.shape}; "
                    f"the geometry needs {self.geometry.raw_shape}."
                )

    @property
    def detector(self) -> DetectorInfo:
        """The detector this raw belongs to (from ``DETECTOR``)."""
        return Camera.instance(str(self.header.get("INSTRUME", "LSSTComCam")))[int(self.header["DETECTOR"])]

    @property
    def exposure_time(self) -> float:
        """Requested exposure time (s)."""
        return float(self.header["EXPTIME"])

    @property
    def dark_time(self) -> float:
        """Dark time (s): from the start of integration to the end of readout."""
        return float(self.header.get("DARKTIME", self.header["EXPTIME"]))

    @property
    def observation_type(self) -> str:
        """Image type, lower case ("bias", "dark", "flat", ...)."""
        return str(self.header["IMGTYPE"]).lower()

    @property
    def physical_filter(self) -> str:
        """Physical filter name ("" when none)."""
        return str(self.header.get("FILTER", "") or "")

    def data(self, amp_name: str) -> np.ndarray:
        """The data area of one amplifier (a view, readout order)."""
        return self.amp_data[amp_name][self.geometry.data_slice]

    def serial_overscan(self, amp_name: str) -> np.ndarray:
        """The serial overscan of one amplifier (a view, data rows)."""
        return self.amp_data[amp_name][self.geometry.serial_overscan_slice]

    def parallel_overscan(self, amp_name: str) -> np.ndarray:
        """The parallel overscan of one amplifier (a view, data columns)."""
        return self.amp_data[amp_name][self.geometry.parallel_overscan_slice]


def write_raw(path: str | os.PathLike[str], raw: RawImage, *, overwrite: bool = False) -> None:
    """Write a raw image as a multi-extension FITS file.

    Parameters
    ----------
    path : `str` or `os.PathLike`
        Output file; written to a temporary name and renamed, so a reader
        never sees a partial file.
    raw : `RawImage`
        The raw image.
    overwrite : `bool`
        Replace an existing file.

    Raises
    ------
    FileExistsError
        Raised if the file exists and ``overwrite`` is false.
    """
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"Raw file {path} already exists.")
    primary = fits.PrimaryHDU()
    for key, value in raw.header.items():
        primary.header[key] = value
    primary.header["PRESCAN"] = (raw.geometry.prescan, "serial prescan columns per segment")
    hdus: list[fits.PrimaryHDU | fits.ImageHDU] = [primary]
    sections = raw.geometry.fits_sections()
    detector = raw.detector
    for amp in detector.amps:
        hdu = fits.ImageHDU(np.asarray(raw.amp_data[amp.name], dtype=np.int32), name=f"Segment{amp.name[1:]}")
        hdu.header["AMPNAME"] = amp.name
        for key, value in sections.items():
            hdu.header[key] = value
        hdus.append(hdu)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        fits.HDUList(hdus).writeto(tmp, overwrite=True)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_raw(path: str | os.PathLike[str]) -> RawImage:
    """Read a raw FITS file written by `write_raw` (or the camera).

    Parameters
    ----------
    path : `str` or `os.PathLike`
        The file.

    Returns
    -------
    raw : `RawImage`
        Its content; pixel arrays are native-endian int32.

    Raises
    ------
    ValueError
        Raised if the file is not a readable raw, with the reason.
    """
    path = os.fspath(path)
    try:
        with fits.open(path, memmap=False) as hdul:
            header = {card.keyword: card.value for card in hdul[0].header.cards if card.keyword}
            for structural in ("SIMPLE", "BITPIX", "NAXIS", "EXTEND", "PRESCAN"):
                header.pop(structural, None)
            prescan = int(hdul[0].header.get("PRESCAN", 3))
            amp_data: dict[str, np.ndarray] = {}
            geometry: AmpGeometry | None = None
            for hdu in hdul[1:]:
                name = str(hdu.header.get("AMPNAME", "C" + str(hdu.name).removeprefix("SEGMENT")))
                data = np.asarray(hdu.data, dtype=np.int32)
                if geometry is None:
                    x0, x1, y0, y1 = _parse_section(str(hdu.header["DATASEC"]))
                    geometry = AmpGeometry.from_raw_shape(
                        data.shape, prescan=prescan, nx=x1 - x0 + 1, ny=y1 - y0 + 1
                    )
                amp_data[name] = data
    except (OSError, KeyError, TypeError, IndexError) as e:
        raise ValueError(f"Cannot read raw file {path}: {e}") from e
    if geometry is None:
        raise ValueError(f"Raw file {path} has no amplifier segments.")
    if "DETECTOR" not in header:
        raise ValueError(f"Raw file {path} has no DETECTOR keyword.")
    return RawImage(header=header, amp_data=amp_data, geometry=geometry)


def make_header(values: Mapping[str, Any]) -> dict[str, Any]:
    """Return a header dict with the keys a raw must carry checked.

    Parameters
    ----------
    values : `~collections.abc.Mapping`
        Header values.

    Returns
    -------
    header : `dict`
        A copy of ``values``.

    Raises
    ------
    ValueError
        Raised if a required key is missing.
    """
    missing = [key for key in RAW_REQUIRED_KEYS if key not in values]
    if missing:
        raise ValueError(f"Raw header lacks {missing}.")
    return dict(values)
