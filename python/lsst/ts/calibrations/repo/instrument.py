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

"""The LSSTComCam instrument for the butler: dimension records and the raw formatter.

`LSSTComCam` registers the instrument, its nine detectors (from
`~lsst.ts.calibrations.repo.camera.Camera`) and its physical filters in a
butler registry, as obs_lsst's instrument class does, so that
``butler register-instrument REPO lsst.ts.calibrations.repo.instrument.LSSTComCam``
and ``pipetask`` work without obs_lsst.

Physical filters and bands are ComCam's: ``u_02`` (u), ``g_01`` (g),
``r_03`` (r), ``i_06`` (i), ``z_03`` (z), ``y_04`` (y), and `EMPTY_FILTER`
(``empty``, band ``white``) for exposures without a filter (biases, darks).
"""

__all__ = ["EMPTY_FILTER", "FILTER_BANDS", "LSSTComCam"]

from typing import Any

from lsst.daf.butler import DataId, FormatterV2, Registry
from lsst.pipe.base import Instrument

from .camera import Camera

# Physical filter used when an exposure has no filter (bias, dark).
EMPTY_FILTER = "empty"

# Physical filter name -> band.
FILTER_BANDS: dict[str, str] = {
    "u_02": "u",
    "g_01": "g",
    "r_03": "r",
    "i_06": "i",
    "z_03": "z",
    "y_04": "y",
    EMPTY_FILTER: "white",
}


class LSSTComCam(Instrument):
    """The LSSTComCam instrument (one raft, R22, of nine ITL sensors).

    Parameters
    ----------
    collection_prefix : `str`, optional
        Prefix of the instrument's collection names; the instrument name
        ("LSSTComCam") by default.
    """

    # Largest exposure id: YYYYMMDD * 100000 + sequence number.
    exposure_max = 99_991_231_99_999
    visit_max = 99_991_231_99_999

    def __init__(self, collection_prefix: str | None = None) -> None:
        super().__init__(collection_prefix=collection_prefix)
        self.camera = Camera.instance()

    @classmethod
    def getName(cls) -> str:
        """Return the instrument name, "LSSTComCam"."""
        return "LSSTComCam"

    def getCamera(self) -> Camera:
        """Return the camera description."""
        return self.camera

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
                    "detector_max": len(self.camera),
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
                    "purpose": "SCIENCE",
                }
                for detector in self.camera.detectors
            ],
            "physical_filter": [
                {"instrument": name, "name": physical_filter, "band": band}
                for physical_filter, band in FILTER_BANDS.items()
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
