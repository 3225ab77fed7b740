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

"""CalibrationImage: what the report keeps of a combined bias, dark or flat.

A report of LSSTCam's 189 detectors cannot hold 567 combined images (at
full size 200 MB each with mask and variance): each is reduced as it is
read, to the binned image its mosaic shows and the median of each
amplifier (the dark current table), and the image itself is let go.
"""

__all__ = ["CalibrationImage"]

import dataclasses
from typing import Any

import numpy as np

from ..repo.camera import DetectorInfo
from ..repo.images import Exposure
from .focal_plane import FocalPlane


@dataclasses.dataclass(frozen=True)
class CalibrationImage:
    """A combined calibration reduced for the report.

    Parameters
    ----------
    binned : `numpy.ndarray`
        The image binned for the mosaic (`FocalPlane.binned_shape`).
    amp_medians : `dict` [`str`, `float`]
        Median of each amplifier's pixels (NaN ignored), by amplifier name
        (empty unless asked for: the dark current table needs them).
    shape : `tuple` [`int`, `int`]
        Shape of the assembled image.
    metadata : `dict` [`str`, `typing.Any`]
        The image's metadata (``BUNIT``, ``CPP_INPUT_*`` ...).
    """

    binned: np.ndarray
    amp_medians: dict[str, float]
    shape: tuple[int, int]
    metadata: dict[str, Any]

    @classmethod
    def from_exposure(
        cls, exposure: Exposure, plane: FocalPlane, detector: DetectorInfo, *, amp_medians: bool = False
    ) -> "CalibrationImage":
        """Reduce a combined calibration.

        Parameters
        ----------
        exposure : `~lsst.ts.calibrations.repo.images.Exposure`
            The combined image (assembled detector, 2 × 8 amplifiers).
        plane : `FocalPlane`
            The layout whose binning the mosaic uses.
        detector : `~lsst.ts.calibrations.repo.camera.DetectorInfo`
            The detector (its amplifiers' places).
        amp_medians : `bool`, optional
            Measure each amplifier's median.

        Returns
        -------
        image : `CalibrationImage`
            The reduced image.

        Raises
        ------
        ValueError
            Raised if the image is not 2 × 8 amplifiers.
        """
        image = exposure.image.array
        rows, columns = image.shape
        if rows % 2 or columns % 8:
            raise ValueError(
                f"{detector.name}: image shape {image.shape} is not 2 × 8 amplifiers (2 ny, 8 nx)."
            )
        ny, nx = rows // 2, columns // 8
        medians = {}
        for amp in detector.amps if amp_medians else ():
            block = image[amp.iy * ny : (amp.iy + 1) * ny, amp.ix * nx : (amp.ix + 1) * nx]
            finite = block[np.isfinite(block)]
            medians[amp.name] = float(np.median(finite)) if finite.size else float("nan")
        return cls(
            binned=plane.bin_image(image),
            amp_medians=medians,
            shape=(int(rows), int(columns)),
            metadata=dict(exposure.metadata),
        )
