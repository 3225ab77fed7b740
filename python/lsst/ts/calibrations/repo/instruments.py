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

"""The instruments of this package by name.

``get_instrument(name) -> BaseInstrument``
    A new instrument object for "LSSTComCam", "LSSTCam" or "LATISS".
``INSTRUMENT_CLASSES``
    Instrument class by name.
"""

__all__ = ["INSTRUMENT_CLASSES", "get_instrument"]

from .base_instrument import BaseInstrument
from .instrument import LSSTComCam
from .latiss_instrument import LATISS
from .lsstcam_instrument import LSSTCam

INSTRUMENT_CLASSES: dict[str, type[BaseInstrument]] = {
    cls.getName(): cls for cls in (LSSTComCam, LSSTCam, LATISS)
}


def get_instrument(name: str) -> BaseInstrument:
    """Return the instrument of a name.

    Parameters
    ----------
    name : `str`
        "LSSTComCam", "LSSTCam" or "LATISS".

    Returns
    -------
    instrument : `BaseInstrument`
        A new instrument object.

    Raises
    ------
    ValueError
        Raised if the name is not one of `INSTRUMENT_CLASSES`.
    """
    try:
        cls = INSTRUMENT_CLASSES[str(name)]
    except KeyError:
        raise ValueError(
            f"Unknown instrument {name!r}: use one of {', '.join(INSTRUMENT_CLASSES)}."
        ) from None
    return cls()
