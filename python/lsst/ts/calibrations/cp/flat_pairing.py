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

"""Pairing of flats for the photon transfer curve.

Flats are paired as cp_pipe pairs them: in exposure order, two consecutive
flats form a pair when their exposure times agree within a tolerance
(5 ms by default). A flat that cannot be paired with its successor is
reported as unpaired and the search continues with that successor.
"""

__all__ = ["FlatPairing", "pair_flats"]

import dataclasses
from collections.abc import Iterable


@dataclasses.dataclass(frozen=True)
class FlatPairing:
    """Result of pairing flats.

    Parameters
    ----------
    pairs : `tuple` [`tuple` [`int`, `int`], ...]
        Exposure id pairs (first, second), in exposure order.
    unpaired : `tuple` [`int`, ...]
        Exposure ids that have no partner.
    exposure_times : `dict` [`int`, `float`]
        Exposure time (s) of every exposure considered.
    """

    pairs: tuple[tuple[int, int], ...]
    unpaired: tuple[int, ...]
    exposure_times: dict[int, float]

    def pair_of(self, exposure: int) -> tuple[int, int] | None:
        """Return the pair that contains ``exposure``, or None if unpaired."""
        for pair in self.pairs:
            if exposure in pair:
                return pair
        return None


def pair_flats(exposures: Iterable[tuple[int, float]], tolerance: float = 0.005) -> FlatPairing:
    """Pair consecutive flats of equal exposure time.

    Parameters
    ----------
    exposures : iterable of (`int`, `float`)
        Exposure id and exposure time (s) of each flat, any order.
    tolerance : `float`
        Largest exposure-time difference (s) within a pair.

    Returns
    -------
    pairing : `FlatPairing`
        Pairs and unpaired exposures.

    Raises
    ------
    ValueError
        Raised if an exposure id appears twice, an exposure time is negative
        or not finite, or ``tolerance`` is negative.
    """
    if not tolerance >= 0:
        raise ValueError(f"tolerance={tolerance} must be >= 0 s.")
    times: dict[int, float] = {}
    for exposure, exposure_time in exposures:
        exposure = int(exposure)
        exposure_time = float(exposure_time)
        if exposure in times:
            raise ValueError(f"Exposure {exposure} is listed twice; each flat must appear once.")
        if not (exposure_time >= 0 and exposure_time < float("inf")):
            raise ValueError(f"Exposure {exposure} has exposure time {exposure_time}; it must be >= 0 s.")
        times[exposure] = exposure_time
    ordered = sorted(times)
    pairs: list[tuple[int, int]] = []
    unpaired: list[int] = []
    i = 0
    while i < len(ordered):
        first = ordered[i]
        if i + 1 < len(ordered) and abs(times[ordered[i + 1]] - times[first]) <= tolerance + 1e-12:
            pairs.append((first, ordered[i + 1]))
            i += 2
        else:
            unpaired.append(first)
            i += 1
    return FlatPairing(pairs=tuple(pairs), unpaired=tuple(unpaired), exposure_times=times)
