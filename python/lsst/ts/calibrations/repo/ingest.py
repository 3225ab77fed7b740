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

"""Ingest raw files into ``<instrument>/raw/all`` with their dimension records.

`ingest_raws` reads only the primary header of each raw (and checks that
the file is a complete raw of the repository's instrument, LSSTComCam by
default, LSSTCam or LATISS: 16 amplifier segments, not
truncated), builds the ``day_obs``, ``group`` and ``exposure`` records, and
ingests the file as dataset type ``raw`` (instrument, exposure, detector).

Header keys read (written by the camera through `repo.raw.make_header`):

=============  ========  =====================================================
key            required  becomes
=============  ========  =====================================================
``INSTRUME``   yes       must be the instrument ingested for
``DETECTOR``   yes       ``detector`` (a detector id of the instrument)
``IMGTYPE``    yes       ``exposure.observation_type`` (lower case)
``EXPTIME``    yes       ``exposure.exposure_time`` (s)
``DATE-OBS``   yes       start of ``exposure.timespan`` (ISOT, scale ``TIMESYS``)
``OBSID``      yes       ``exposure.obs_id`` (``CC_O_YYYYMMDD_NNNNNN``)
``DAYOBS``     yes       ``day_obs`` (``YYYYMMDD``) and the exposure id
``SEQNUM``     yes       ``exposure.seq_num``; exposure id =
                         ``DAYOBS * 100000 + SEQNUM``
``DATE-END``   no        end of ``exposure.timespan``; default
                         DATE-OBS + max(EXPTIME, DARKTIME)
``TIMESYS``    no        time scale of DATE-OBS/DATE-END; default ``TAI``
``DARKTIME``   no        ``exposure.dark_time`` (s); default EXPTIME
``FILTER``     no        ``physical_filter``; empty, ``NONE`` or missing →
                         the instrument's empty filter (bias, dark)
``GRATING``    no        LATISS: ``physical_filter`` is ``FILTER~GRATING``
``GROUPID``    no        ``group``; default OBSID
``PROGRAM``    no        ``exposure.science_program``; default ""
``REASON``     no        ``exposure.observation_reason``; default the
                         observation type
``OBJECT``     no        ``exposure.target_name``; default ""
``RA``         no        ``exposure.tracking_ra`` (deg)
``DEC``        no        ``exposure.tracking_dec`` (deg)
``ROTPA``      no        ``exposure.sky_angle`` (deg)
``AZSTART``    no        ``exposure.azimuth`` (deg)
``ELSTART``    no        ``exposure.zenith_angle`` = 90 − ELSTART (deg)
``SIMULATE``   no        ``exposure.has_simulated``; default false
=============  ========  =====================================================

A timespan is never empty: when DATE-END is not after DATE-OBS (a 0 s bias
written with DATE-END = DATE-OBS) the end is DATE-OBS + max(DARKTIME, 1 ms).
``exposure.can_see_sky`` is false for bias, dark and flat (dome closed) and
unknown otherwise. The ``day_obs`` record spans 12:00 TAI of DAYOBS to
12:00 TAI the next day, as Rubin's observing day.

Transfers (``transfer=``): ``"direct"`` (default: the datastore records the
file where it is, as the OODS does at the observatory), ``"copy"``,
``"move"``, ``"symlink"``, ``"relsymlink"``, ``"hardlink"``, ``"link"``
(hard link, else symlink) and ``"auto"`` (daf_butler's choice).
"""

__all__ = ["TRANSFERS", "ingest_raws", "read_exposure_records"]

import dataclasses
import os
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import astropy.time
import astropy.units as u
from astropy.io import fits
from lsst.daf.butler import (
    Butler,
    DataCoordinate,
    DatasetIdGenEnum,
    DatasetRef,
    FileDataset,
    Timespan,
)
from lsst.daf.butler.registry import ConflictingDefinitionError

from .base_instrument import BaseInstrument
from .camera import AMP_NAMES, Camera
from .errors import IngestError
from .exposure_id import MAX_SEQ_NUM, make_exposure_id
from .formatters import RawImageFormatter
from .instruments import get_instrument
from .raw import RAW_REQUIRED_KEYS
from .repository import INSTRUMENT_NAME, raw_run

TRANSFERS = ("direct", "copy", "move", "symlink", "relsymlink", "hardlink", "link", "auto")

_DOME_TYPES = {"bias", "dark", "flat"}
_MIN_SPAN_S = 0.001


@dataclasses.dataclass(frozen=True)
class _RawInfo:
    """What ingest needs from one raw file."""

    path: str
    detector: int
    day_obs: dict[str, Any]
    group: dict[str, Any]
    exposure: dict[str, Any]


def _optional_float(header: Mapping[str, Any], key: str) -> float | None:
    value = header.get(key)
    if value is None or value == "":
        return None
    return float(value)


def read_exposure_records(
    path: str | os.PathLike[str], instrument: str = INSTRUMENT_NAME
) -> tuple[int, dict[str, dict[str, Any]]]:
    """Read a raw's header and return its detector and dimension records.

    Parameters
    ----------
    path : `str` or `os.PathLike`
        The raw file.
    instrument : `str`, optional
        Instrument the raw must belong to; "LSSTComCam" by default.

    Returns
    -------
    detector : `int`
        Detector id.
    records : `dict` [`str`, `dict`]
        ``day_obs``, ``group`` and ``exposure`` record values.

    Raises
    ------
    IngestError
        Raised if the file is not a complete, readable LSSTComCam raw or a
        header value is missing or malformed; the message names the file
        and the key.
    """
    info = _read_raw_info(os.fspath(path), get_instrument(instrument))
    return info.detector, {"day_obs": info.day_obs, "group": info.group, "exposure": info.exposure}


def _read_raw_info(path: str, instrument: BaseInstrument) -> _RawInfo:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with fits.open(path, memmap=False, lazy_load_hdus=False) as hdul:
                header = dict(hdul[0].header)
                segments = [str(hdu.header.get("AMPNAME", "")) for hdu in hdul[1:]]
                shapes = {(hdu.header.get("NAXIS2"), hdu.header.get("NAXIS1")) for hdu in hdul[1:]}
        problems = [str(w.message) for w in caught if "truncat" in str(w.message).lower()]
        if problems:
            raise IngestError(f"Raw file {path} is corrupt: {problems[0]}")
    except IngestError:
        raise
    except Exception as e:  # astropy raises OSError, ValueError, TypeError, ... for non-FITS input
        raise IngestError(f"Raw file {path} is not a readable FITS file: {e}") from e
    missing_keys = [key for key in RAW_REQUIRED_KEYS if key not in header]
    if missing_keys:
        raise IngestError(
            f"Raw file {path} is not an {instrument.getName()} raw: its header lacks {missing_keys}."
        )
    if header["INSTRUME"] != instrument.getName():
        raise IngestError(
            f"Raw file {path} is from instrument INSTRUME={header['INSTRUME']!r}, "
            f"not {instrument.getName()!r}."
        )
    if sorted(segments) != sorted(AMP_NAMES) or len(shapes) != 1:
        raise IngestError(
            f"Raw file {path} does not hold the 16 amplifier segments of one geometry "
            f"(found AMPNAME {segments}, shapes {sorted(shapes, key=str)})."
        )
    try:
        return _records_from_header(path, header, instrument)
    except (KeyError, ValueError, TypeError) as e:
        raise IngestError(f"Raw file {path} has a malformed header: {e}") from e


def _records_from_header(path: str, header: Mapping[str, Any], instrument: BaseInstrument) -> _RawInfo:
    instrument_name = instrument.getName()
    detector = int(header["DETECTOR"])
    ids = Camera.instance(instrument_name).detector_ids
    if detector not in ids:
        raise ValueError(f"DETECTOR={detector} is not an {instrument_name} detector id ({ids[0]}-{ids[-1]})")
    day_obs = int(str(header["DAYOBS"]).replace("-", ""))
    if not 19_000_101 <= day_obs <= 99_991_231:
        raise ValueError(f"DAYOBS={header['DAYOBS']!r} is not a date YYYYMMDD")
    seq_num = int(header["SEQNUM"])
    if not 0 <= seq_num <= MAX_SEQ_NUM:
        raise ValueError(f"SEQNUM={seq_num} must be in 0-{MAX_SEQ_NUM}")
    exposure_id = make_exposure_id(day_obs, seq_num)
    scale = str(header.get("TIMESYS", "TAI")).lower()
    begin = astropy.time.Time(str(header["DATE-OBS"]), format="isot", scale=scale).tai
    exposure_time = float(header["EXPTIME"])
    dark_time = float(header.get("DARKTIME", exposure_time))
    if "DATE-END" in header and header["DATE-END"]:
        end = astropy.time.Time(str(header["DATE-END"]), format="isot", scale=scale).tai
    else:
        end = begin + max(exposure_time, dark_time) * u.s
    if end <= begin:
        end = begin + max(dark_time, _MIN_SPAN_S) * u.s
    physical_filter = instrument.physical_filter_from_header(header)
    observation_type = str(header["IMGTYPE"]).strip().lower()
    if not observation_type:
        raise ValueError("IMGTYPE is empty")
    day_start = astropy.time.Time(
        f"{day_obs // 10000:04d}-{day_obs // 100 % 100:02d}-{day_obs % 100:02d}T12:00:00", scale="tai"
    )
    elevation = _optional_float(header, "ELSTART")
    group = str(header.get("GROUPID") or header["OBSID"])
    exposure = {
        "instrument": instrument_name,
        "id": exposure_id,
        "day_obs": day_obs,
        "group": group,
        "physical_filter": physical_filter,
        "obs_id": str(header["OBSID"]),
        "exposure_time": exposure_time,
        "dark_time": dark_time,
        "observation_type": observation_type,
        "observation_reason": str(header.get("REASON") or observation_type),
        "seq_num": seq_num,
        "seq_start": seq_num,
        "seq_end": seq_num,
        "target_name": str(header.get("OBJECT") or ""),
        "science_program": str(header.get("PROGRAM") or ""),
        "tracking_ra": _optional_float(header, "RA"),
        "tracking_dec": _optional_float(header, "DEC"),
        "sky_angle": _optional_float(header, "ROTPA"),
        "azimuth": _optional_float(header, "AZSTART"),
        "zenith_angle": None if elevation is None else 90.0 - elevation,
        "has_simulated": bool(header.get("SIMULATE", False)),
        "can_see_sky": False if observation_type in _DOME_TYPES else None,
        "timespan": Timespan(begin, end),
    }
    return _RawInfo(
        path=path,
        detector=detector,
        day_obs={
            "instrument": instrument_name,
            "id": day_obs,
            "timespan": Timespan(day_start, day_start + 1 * u.day),
        },
        group={"instrument": instrument_name, "name": group},
        exposure=exposure,
    )


def ingest_raws(
    butler: Butler,
    paths: Iterable[str | os.PathLike[str]],
    *,
    transfer: str = "direct",
    instrument: str = INSTRUMENT_NAME,
) -> list[DatasetRef]:
    """Ingest raw files into ``<instrument>/raw/all`` with their dimension records.

    Every file is checked before anything is written; the records and
    datasets of all files are then written in one transaction. Ingesting a
    file again (same exposure and detector) is not an error: its existing
    reference is returned. Dataset ids are reproducible from the data ID
    and run.

    Parameters
    ----------
    butler : `lsst.daf.butler.Butler`
        A writeable butler on a bootstrapped repository.
    paths : `~collections.abc.Iterable` [`str` or `os.PathLike`]
        Raw files.
    transfer : `str`, optional
        One of `TRANSFERS` (see the module documentation); ``"direct"``
        by default.
    instrument : `str`, optional
        Instrument of the raws and the repository; "LSSTComCam" by default.

    Returns
    -------
    refs : `list` [`lsst.daf.butler.DatasetRef`]
        One ``raw`` reference per file, in the order given.

    Raises
    ------
    ValueError
        Raised if ``transfer`` is not one of `TRANSFERS`.
    IngestError
        Raised, with nothing written, if a file is not a complete
        raw of ``instrument``, if two files claim the same exposure and detector, or if a
        header disagrees with records already in the registry for its
        exposure; the message names the file.
    """
    if transfer not in TRANSFERS:
        raise ValueError(f"transfer={transfer!r} is not supported: use one of {', '.join(TRANSFERS)}.")
    instrument_object = get_instrument(instrument)
    infos = [_read_raw_info(os.path.abspath(os.fspath(path)), instrument_object) for path in paths]
    seen: dict[tuple[int, int], str] = {}
    for info in infos:
        key = (info.exposure["id"], info.detector)
        if key in seen and seen[key] != info.path:
            raise IngestError(
                f"Raw files {seen[key]} and {info.path} are both exposure {key[0]}, detector {key[1]}."
            )
        seen[key] = info.path
    if not infos:
        return []
    dataset_type = butler.get_dataset_type("raw")
    datasets: list[FileDataset] = []
    refs: list[DatasetRef] = []
    for info in infos:
        data_id = DataCoordinate.standardize(
            instrument=instrument,
            exposure=info.exposure["id"],
            detector=info.detector,
            universe=butler.dimensions,
        )
        ref = DatasetRef(
            dataset_type,
            data_id,
            run=raw_run(instrument),
            id_generation_mode=DatasetIdGenEnum.DATAID_TYPE_RUN,
        )
        refs.append(ref)
        datasets.append(FileDataset(path=info.path, refs=[ref], formatter=RawImageFormatter))
    registry = butler.registry
    with butler.transaction():
        for info in infos:
            for element, record in (
                ("day_obs", info.day_obs),
                ("group", info.group),
                ("exposure", info.exposure),
            ):
                try:
                    registry.syncDimensionData(element, record)
                except ConflictingDefinitionError as e:
                    raise IngestError(
                        f"Raw file {info.path}: its {element} record differs from the one in the registry "
                        f"for {element} {record.get('id', record.get('name'))}: {e}"
                    ) from e
        butler.ingest(*datasets, transfer=transfer, skip_existing=True)
    return refs
