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

"""The LSSTCam instrument for the butler.

205 detectors: 189 science sensors (21 rafts, ITL and e2v) and the corner
rafts' guider and wavefront sensors, registered with their purpose
(``SCIENCE``, ``GUIDER``, ``WAVEFRONT``). Physical filters are LSSTCam's
(obs_lsst's baseline set): ``u_24`` (u), ``g_6`` (g), ``r_57`` (r),
``i_39`` (i), ``z_20`` (z), ``y_10`` (y), ``ef_43`` (the empty filter
holder, white), ``ph_5`` (pinhole, white), and ``empty`` (white) for
exposures without a filter.
"""

__all__ = ["LSSTCam"]

import typing
from collections.abc import Mapping

from .base_instrument import BaseInstrument


class LSSTCam(BaseInstrument):
    """The LSSTCam instrument.

    Parameters
    ----------
    collection_prefix : `str`, optional
        Prefix of the instrument's collection names; "LSSTCam" by default.
    """

    filter_bands: typing.ClassVar[Mapping[str, str]] = {
        "u_24": "u",
        "g_6": "g",
        "r_57": "r",
        "i_39": "i",
        "z_20": "z",
        "y_10": "y",
        "ef_43": "white",
        "ph_5": "white",
        "empty": "white",
    }
    empty_filter: typing.ClassVar[str] = "empty"

    @classmethod
    def getName(cls) -> str:
        """Return the instrument name, "LSSTCam"."""
        return "LSSTCam"
