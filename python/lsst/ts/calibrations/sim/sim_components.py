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

"""SimComponents: the SAL components and names of one instrument's simulated observatory.

=============  ===========  ===============  ========  ======  ==========  ================
instrument     camera       header service   OODS      OCPS    image name  filter/grating
=============  ===========  ===============  ========  ======  ==========  ================
LSSTComCam     CCCamera     CCHeaderService  CCOODS    OCPS:2  CC_O_...    CCCamera.setFilter
LSSTCam        MTCamera     MTHeaderService  MTOODS    OCPS:3  MT_O_...    MTCamera.setFilter
LATISS         ATCamera     ATHeaderService  ATOODS    OCPS:1  AT_O_...    ATSpectrograph
=============  ===========  ===============  ========  ======  ==========  ================
"""

__all__ = ["SimComponents"]

import dataclasses

_PREFIXES = {"LSSTComCam": "CC", "LSSTCam": "MT", "LATISS": "AT"}
_OCPS_INDICES = {"LSSTComCam": 2, "LSSTCam": 3, "LATISS": 1}


@dataclasses.dataclass(frozen=True)
class SimComponents:
    """The SAL components of one instrument's simulated observatory.

    Parameters
    ----------
    instrument : `str`
        "LSSTComCam", "LSSTCam" or "LATISS".

    Raises
    ------
    ValueError
        Raised if the instrument is unknown.
    """

    instrument: str

    def __post_init__(self) -> None:
        if self.instrument not in _PREFIXES:
            raise ValueError(
                f"instrument={self.instrument!r} is not simulated; use one of {', '.join(_PREFIXES)}."
            )

    @property
    def code(self) -> str:
        """Two-letter camera code: "CC", "MT" or "AT"."""
        return _PREFIXES[self.instrument]

    @property
    def camera(self) -> str:
        """The camera CSC, e.g. "CCCamera"."""
        return f"{self.code}Camera"

    @property
    def header_service(self) -> str:
        """The header service CSC, e.g. "CCHeaderService"."""
        return f"{self.code}HeaderService"

    @property
    def oods(self) -> str:
        """The OODS CSC, e.g. "CCOODS"."""
        return f"{self.code}OODS"

    @property
    def ocps_index(self) -> int:
        """SAL index of the instrument's OCPS: 2, 3 or 1."""
        return _OCPS_INDICES[self.instrument]

    @property
    def image_name_prefix(self) -> str:
        """Prefix of image names, e.g. "CC_O" (``CC_O_20241024_000123``)."""
        return f"{self.code}_O"

    @property
    def spectrograph(self) -> str | None:
        """The CSC that holds the filter and grating (LATISS's ATSpectrograph); None if the camera does."""
        return "ATSpectrograph" if self.instrument == "LATISS" else None

    @property
    def names(self) -> list[str]:
        """Every CSC, as ``name`` or ``name:index``: camera, header service, OODS, spectrograph, OCPS."""
        names = [self.camera, self.header_service, self.oods]
        if self.spectrograph:
            names.append(self.spectrograph)
        return [*names, f"OCPS:{self.ocps_index}"]
