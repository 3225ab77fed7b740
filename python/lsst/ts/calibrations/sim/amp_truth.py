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

"""The true properties of one simulated amplifier."""

__all__ = ["AmpTruth"]

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class AmpTruth:
    """True properties of one amplifier, as the simulator uses them.

    Parameters
    ----------
    name : `str`
        Amplifier name (C10 ... C00).
    gain : `float`
        Gain, e⁻/ADU.
    read_noise : `float`
        Read noise, e⁻ (the Gaussian sigma added to every pixel, data and
        overscan, before digitization).
    bias_level : `float`
        Bias level, ADU, away from the start-of-readout excess and without
        the exposure's jitter.
    dark_current : `float`
        Dark current of ordinary pixels, e⁻/s (hot pixels excluded).
    full_well : `float`
        Full well, e⁻: charge above it is lost.
    saturation : `float`
        Raw value of a pixel at full well, ADU (bias level + full well / gain,
        capped at the converter's maximum).
    a00 : `float`
        Brighter-fatter variance coefficient, 1/e⁻ (0 when the sag is off).
    flat_response_mean : `float`
        Mean flat response over the amplifier's data area, defective pixels
        excluded (vignetting × detector QE × pixel response).
    flat_response_min : `float`
        Smallest response of a non-defective pixel.
    flat_response_max : `float`
        Largest response of a non-defective pixel.
    nominal_gain : `float`
        The camera description's gain, e⁻/ADU (for comparison).
    nominal_read_noise : `float`
        The camera description's read noise, e⁻ (for comparison).
    """

    name: str
    gain: float
    read_noise: float
    bias_level: float
    dark_current: float
    full_well: float
    saturation: float
    a00: float
    flat_response_mean: float
    flat_response_min: float
    flat_response_max: float
    nominal_gain: float
    nominal_read_noise: float

    def to_dict(self) -> dict[str, Any]:
        """Plain values for a truth file (the name is the key, not a value)."""
        values = dataclasses.asdict(self)
        del values["name"]
        return values

    @classmethod
    def from_dict(cls, name: str, values: dict[str, Any]) -> "AmpTruth":
        """Rebuild from `to_dict` output.

        Parameters
        ----------
        name : `str`
            Amplifier name.
        values : `dict` [`str`, `typing.Any`]
            Values as written by `to_dict`.

        Returns
        -------
        truth : `AmpTruth`
            The amplifier's truth.
        """
        return cls(name=name, **{field.name: float(values[field.name]) for field in _VALUE_FIELDS})


_VALUE_FIELDS = tuple(f for f in dataclasses.fields(AmpTruth) if f.name != "name")
