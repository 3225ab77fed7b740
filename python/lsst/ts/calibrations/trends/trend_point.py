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

"""TrendPoint: one amplifier's value of one quantity on one night, and the quantities a trend shows."""

__all__ = ["QUANTITIES", "TrendPoint"]

import dataclasses
import math

QUANTITIES: dict[str, tuple[str, str]] = {
    "gain": ("Gain from flat pairs", "e⁻/ADU"),
    "ptc_gain": ("PTC gain", "e⁻/ADU"),
    "read_noise": ("Read noise (overscan)", "e⁻"),
    "ptc_read_noise": ("Read noise (PTC)", "e⁻"),
    "dark_current": ("Dark current over the reference dark", "e⁻/s"),
    "bias_level": ("Bias level (overscan)", "ADU"),
}
"""Quantities by key: title and unit. ``gain``, ``read_noise`` and ``dark_current`` are
measured as the script's drift check measures them (`lsst.ts.calibrations.scripts.drift_check`)."""


@dataclasses.dataclass(frozen=True)
class TrendPoint:
    """One amplifier's value of one quantity on one night.

    Parameters
    ----------
    quantity : `str`
        A key of `QUANTITIES`.
    night : `int`
        day_obs (YYYYMMDD) of the exposures measured.
    detector : `int`
        Detector id.
    amp : `str`
        Amplifier name.
    value : `float`
        The night's value (a median over its measurements).
    error : `float`
        Its statistical error (NaN if unknown).
    n : `int`
        Number of measurements (flat pairs, exposures; 1 for a fit).
    samples : `tuple` [`float`, ...]
        The individual measurements (each flat pair's gain, ...).
    runs : `tuple` [`str`, ...]
        Run collections the measurements came from.
    """

    quantity: str
    night: int
    detector: int
    amp: str
    value: float
    error: float = math.nan
    n: int = 1
    samples: tuple[float, ...] = ()
    runs: tuple[str, ...] = ()
