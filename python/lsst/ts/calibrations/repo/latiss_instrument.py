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

"""The LATISS instrument for the butler.

One ITL sensor, RXX_S00 (detector 0). A LATISS physical filter names the
filter and the grating in the beam, ``filter~grating`` (obs_lsst's
convention): ``empty~empty`` for biases and darks, ``SDSSr_65mm~empty``
for an r-band flat without a disperser, ``empty~holo4_003`` ... The band
is the filter's (``white`` for ``empty``). Raws carry ``FILTER`` and
``GRATING`` separately; `~BaseInstrument.physical_filter_from_header`
joins them.
"""

__all__ = ["FILTERS", "GRATINGS", "LATISS"]

import typing
from collections.abc import Mapping

from .base_instrument import BaseInstrument

FILTERS: dict[str, str] = {
    "empty": "white",
    "SDSSg_65mm": "g",
    "SDSSr_65mm": "r",
    "SDSSi_65mm": "i",
    "SDSSz_65mm": "z",
    "SDSSy_65mm": "y",
    "BG40_65mm_1": "g",
    "OG550_65mm_1": "g",
}
"""Filters of the filter wheel → band."""

GRATINGS: tuple[str, ...] = ("empty", "holo4_003", "blue300lpmm_qn1", "ronchi170lpmm")
"""Gratings of the grating wheel."""


class LATISS(BaseInstrument):
    """The LATISS instrument (one ITL sensor on the auxiliary telescope).

    Parameters
    ----------
    collection_prefix : `str`, optional
        Prefix of the instrument's collection names; "LATISS" by default.
    """

    filter_bands: typing.ClassVar[Mapping[str, str]] = {
        f"{name}~{grating}": band for name, band in FILTERS.items() for grating in GRATINGS
    }
    empty_filter: typing.ClassVar[str] = "empty~empty"
    has_grating: typing.ClassVar[bool] = True

    @classmethod
    def getName(cls) -> str:
        """Return the instrument name, "LATISS"."""
        return "LATISS"
