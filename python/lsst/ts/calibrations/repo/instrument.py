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
and ``pipetask`` work without obs_lsst. What every instrument shares is in
`~lsst.ts.calibrations.repo.base_instrument.BaseInstrument`.

Physical filters and bands are ComCam's: ``u_02`` (u), ``g_01`` (g),
``r_03`` (r), ``i_06`` (i), ``z_03`` (z), ``y_04`` (y), and `EMPTY_FILTER`
(``empty``, band ``white``) for exposures without a filter (biases, darks).
"""

__all__ = ["EMPTY_FILTER", "FILTER_BANDS", "LSSTComCam"]

import typing
from collections.abc import Mapping

from .base_instrument import BaseInstrument

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


class LSSTComCam(BaseInstrument):
    """The LSSTComCam instrument (one raft, R22, of nine ITL sensors).

    Parameters
    ----------
    collection_prefix : `str`, optional
        Prefix of the instrument's collection names; the instrument name
        ("LSSTComCam") by default.
    """

    filter_bands: typing.ClassVar[Mapping[str, str]] = FILTER_BANDS
    empty_filter: typing.ClassVar[str] = EMPTY_FILTER

    @classmethod
    def getName(cls) -> str:
        """Return the instrument name, "LSSTComCam"."""
        return "LSSTComCam"
