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

"""Per-amplifier views of an assembled detector exposure."""

__all__ = ["STATISTICS_MASK_PLANES", "AmpArea", "amp_areas"]

import dataclasses

import numpy as np

from ..repo.camera import AmpGeometry, Camera
from ..repo.images import Exposure

# Mask planes whose pixels are left out of every statistic.
STATISTICS_MASK_PLANES = ("BAD", "SAT", "NO_DATA", "SUSPECT", "EDGE")


@dataclasses.dataclass(frozen=True)
class AmpArea:
    """One amplifier's area of an assembled exposure.

    Parameters
    ----------
    name : `str`
        Amplifier name.
    image : `numpy.ndarray`
        Image pixels (a view).
    variance : `numpy.ndarray`
        Variance pixels (a view).
    good : `numpy.ndarray`
        Boolean array: pixels without any of the ``STATISTICS_MASK_PLANES``.
    """

    name: str
    image: np.ndarray
    variance: np.ndarray
    good: np.ndarray


def amp_areas(exposure: Exposure, detector: int | None = None) -> dict[str, AmpArea]:
    """Split an assembled exposure into its amplifiers' areas.

    Parameters
    ----------
    exposure : `~lsst.ts.calibrations.repo.images.Exposure`
        Assembled detector image (rows = 2 × ny, columns = 8 × nx).
    detector : `int`, optional
        Detector id; taken from the metadata (``DETECTOR``) if None.

    Returns
    -------
    areas : `dict` [`str`, `AmpArea`]
        Areas keyed by amplifier name, in segment order.

    Raises
    ------
    ValueError
        Raised if the detector is unknown or the shape is not 2 × 8 amplifiers.
    """
    if detector is None:
        detector = exposure.detector
        if detector is None:
            raise ValueError("The exposure has no DETECTOR in its metadata; pass detector=.")
    rows, cols = exposure.shape
    if rows % 2 or cols % 8:
        raise ValueError(f"Exposure shape {exposure.shape} is not 2 × 8 amplifiers of equal size.")
    geometry = AmpGeometry(nx=cols // 8, ny=rows // 2, name="custom")
    info = Camera.of_metadata(exposure.metadata)[int(detector)]
    bad_bits = exposure.mask_bits(*STATISTICS_MASK_PLANES)
    good = (exposure.mask.array & bad_bits) == 0
    areas = {}
    for amp in info.amps:
        region = amp.detector_slice(geometry)
        areas[amp.name] = AmpArea(
            name=amp.name,
            image=exposure.image.array[region],
            variance=exposure.variance.array[region],
            good=good[region],
        )
    return areas
