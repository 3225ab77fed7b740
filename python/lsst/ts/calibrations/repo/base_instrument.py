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

"""BaseInstrument: an instrument for the butler, from its camera description and filters.

A subclass declares what differs: its name (`BaseInstrument.getName`), its
physical filters and their bands (``filter_bands``), the physical filter of
an exposure without a filter (``empty_filter``), and, when its filter names
combine a filter and a grating (LATISS), ``has_grating``. The rest is
shared: the camera (`~lsst.ts.calibrations.repo.camera.Camera.instance` of
the name), the dimension records written by `register` (instrument,
detector with its purpose, physical_filter), the raw formatter, and the
physical filter of a raw's header (`physical_filter_from_header`).
"""

__all__ = ["BaseInstrument"]

import typing
from collections.abc import Mapping
from typing import Any

from lsst.daf.butler import DataId, FormatterV2, Registry
from lsst.pipe.base import Instrument

from .camera import Camera

# FILTER (or GRATING) header values that mean "nothing in the beam".
_NO_FILTER = frozenset({"", "NONE", "EMPTY", "UNKNOWN"})


class BaseInstrument(Instrument):
    """An instrument of this package (LSSTComCam, LSSTCam, LATISS).

    Parameters
    ----------
    collection_prefix : `str`, optional
        Prefix of the instrument's collection names; the instrument name
        by default.
    """

    filter_bands: typing.ClassVar[Mapping[str, str]] = {}
    """Physical filter name → band."""

    empty_filter: typing.ClassVar[str] = "empty"
    """Physical filter of exposures without a filter (bias, dark)."""

    has_grating: typing.ClassVar[bool] = False
    """True if physical filters are ``filter~grating`` (``FILTER`` and ``GRATING`` headers)."""

    # Largest exposure id: YYYYMMDD * 100000 + sequence number.
    exposure_max = 99_991_231_99_999
    visit_max = 99_991_231_99_999

    def __init__(self, collection_prefix: str | None = None) -> None:
        super().__init__(collection_prefix=collection_prefix)
        self.camera = Camera.instance(self.getName())

    def getCamera(self) -> Camera:
        """Return the camera description."""
        return self.camera

    def physical_filter_from_header(self, header: Mapping[str, Any]) -> str:
        """Return the physical filter of a raw from its ``FILTER`` (and ``GRATING``) header.

        Parameters
        ----------
        header : `~collections.abc.Mapping`
            Primary header of a raw.

        Returns
        -------
        physical_filter : `str`
            One of ``filter_bands``.

        Raises
        ------
        ValueError
            Raised if the filter is not one of the instrument's, naming them.
        """
        filter_name = str(header.get("FILTER", "") or "").strip()
        if self.has_grating:
            grating = str(header.get("GRATING", "") or "").strip()
            if "~" in filter_name:
                physical_filter = filter_name
            else:
                physical_filter = (
                    f"{'empty' if filter_name.upper() in _NO_FILTER else filter_name}~"
                    f"{'empty' if grating.upper() in _NO_FILTER else grating}"
                )
        else:
            physical_filter = self.empty_filter if filter_name.upper() in _NO_FILTER else filter_name
        if physical_filter not in self.filter_bands:
            raise ValueError(
                f"FILTER={filter_name!r} is not an {self.getName()} filter; filters are "
                f"{sorted(self.filter_bands)}"
            )
        return physical_filter

    def dimension_records(self) -> dict[str, list[dict[str, Any]]]:
        """Return the records `register` writes, by dimension element.

        Returns
        -------
        records : `dict` [`str`, `list` [`dict`]]
            Records of ``instrument``, ``detector`` and ``physical_filter``.
        """
        name = self.getName()
        return {
            "instrument": [
                {
                    "name": name,
                    "visit_max": self.visit_max,
                    "visit_system": 0,
                    "exposure_max": self.exposure_max,
                    "detector_max": max(self.camera.detector_ids) + 1,
                    "class_name": f"{type(self).__module__}.{type(self).__qualname__}",
                }
            ],
            "detector": [
                {
                    "instrument": name,
                    "id": detector.id,
                    "full_name": detector.name,
                    "name_in_raft": detector.name_in_raft,
                    "raft": detector.raft,
                    "purpose": detector.purpose,
                }
                for detector in self.camera.detectors
            ],
            "physical_filter": [
                {"instrument": name, "name": physical_filter, "band": band}
                for physical_filter, band in self.filter_bands.items()
            ],
        }

    def register(self, registry: Registry, *, update: bool = False) -> None:
        """Insert the instrument, detector and physical filter records.

        Idempotent; atomic (one transaction).

        Parameters
        ----------
        registry : `lsst.daf.butler.Registry`
            Registry of the repository to modify.
        update : `bool`, optional
            Update existing records that differ.

        Raises
        ------
        lsst.daf.butler.registry.ConflictingDefinitionError
            Raised if a record exists with different values and ``update``
            is false.
        """
        records = self.dimension_records()
        with registry.transaction():
            for element in ("instrument", "detector", "physical_filter"):
                for record in records[element]:
                    registry.syncDimensionData(element, record, update=update)

    def getRawFormatter(self, dataId: DataId) -> type[FormatterV2]:  # noqa: N803 (pipe_base API)
        """Return the formatter of raw files.

        Parameters
        ----------
        dataId : `lsst.daf.butler.DataId`
            Data ID of the raw (unused: all raws share one format).

        Returns
        -------
        formatter : `type` [`lsst.daf.butler.FormatterV2`]
            `~lsst.ts.calibrations.repo.formatters.RawImageFormatter`.
        """
        from .formatters import RawImageFormatter

        return RawImageFormatter
