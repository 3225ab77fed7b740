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

"""The true properties of one simulated detector: its amplifiers and defects."""

__all__ = ["DetectorTruth"]

import dataclasses
from typing import Any

import numpy as np

from .amp_truth import AmpTruth


@dataclasses.dataclass(frozen=True)
class DetectorTruth:
    """True properties of one detector.

    Pixel positions are in assembled-detector coordinates: ``x`` the column
    (0 ... 8 × nx − 1), ``y`` the row (0 ... 2 × ny − 1), as in the arrays
    of an assembled image (``image[y, x]``).

    Parameters
    ----------
    id : `int`
        Detector id (0 ... 8 in LSSTComCam, 0 ... 188 in LSSTCam).
    name : `str`
        Detector name, e.g. "R22_S11".
    detector_shape : `tuple` [`int`, `int`]
        Shape (rows, columns) of the assembled detector.
    amps : `dict` [`str`, `AmpTruth`]
        Truth per amplifier, in segment order.
    qe : `float`
        Relative quantum efficiency of the detector (1 on average).
    center_mm : `tuple` [`float`, `float`]
        Position of the detector centre in the focal plane (x, y), mm.
    hot_pixels : `numpy.ndarray`
        Hot pixels, int array (n, 2) of (x, y).
    hot_pixel_current : `numpy.ndarray`
        Dark current of each hot pixel, e⁻/s.
    cold_pixels : `numpy.ndarray`
        Cold pixels, int array (n, 2) of (x, y).
    cold_pixel_response : `numpy.ndarray`
        Response of each cold pixel relative to its neighbours.
    bad_columns : `numpy.ndarray`
        Bad columns, int array (n, 3) of (x, y0, y1): column ``x`` from row
        ``y0`` to row ``y1`` inclusive.
    bad_column_response : `numpy.ndarray`
        Response of each bad column relative to its neighbours.
    vendor : `str`, optional
        Sensor vendor, "ITL" (default) or "E2V": whose segment layout the
        detector shape and pixel positions are in.
    """

    id: int
    name: str
    detector_shape: tuple[int, int]
    amps: dict[str, AmpTruth]
    qe: float
    center_mm: tuple[float, float]
    hot_pixels: np.ndarray
    hot_pixel_current: np.ndarray
    cold_pixels: np.ndarray
    cold_pixel_response: np.ndarray
    bad_columns: np.ndarray
    bad_column_response: np.ndarray
    vendor: str = "ITL"

    def defect_mask(self) -> np.ndarray:
        """Boolean mask of every defective pixel (hot, cold, bad columns).

        Returns
        -------
        mask : `numpy.ndarray`
            Bool array of the assembled-detector shape, true on defects.
        """
        mask = np.zeros(self.detector_shape, dtype=bool)
        mask[self.hot_pixels[:, 1], self.hot_pixels[:, 0]] = True
        mask[self.cold_pixels[:, 1], self.cold_pixels[:, 0]] = True
        for x, y0, y1 in self.bad_columns:
            mask[y0 : y1 + 1, x] = True
        return mask

    def defect_boxes(self) -> list[tuple[int, int, int, int]]:
        """Defects as boxes (x0, y0, width, height), as `Defects` holds them."""
        boxes = [(int(x), int(y), 1, 1) for x, y in self.hot_pixels]
        boxes += [(int(x), int(y), 1, 1) for x, y in self.cold_pixels]
        boxes += [(int(x), int(y0), 1, int(y1 - y0 + 1)) for x, y0, y1 in self.bad_columns]
        return boxes

    def to_dict(self) -> dict[str, Any]:
        """Plain values for a truth file."""
        return {
            "id": self.id,
            "vendor": self.vendor,
            "detector_shape": list(self.detector_shape),
            "qe": self.qe,
            "center_mm": list(self.center_mm),
            "amps": {name: amp.to_dict() for name, amp in self.amps.items()},
            "defects": {
                "hot_pixels": [
                    [int(x), int(y), round(float(c), 4)]
                    for (x, y), c in zip(self.hot_pixels, self.hot_pixel_current)
                ],
                "cold_pixels": [
                    [int(x), int(y), round(float(r), 4)]
                    for (x, y), r in zip(self.cold_pixels, self.cold_pixel_response)
                ],
                "bad_columns": [
                    [int(x), int(y0), int(y1), round(float(r), 4)]
                    for (x, y0, y1), r in zip(self.bad_columns, self.bad_column_response)
                ],
            },
        }

    @classmethod
    def from_dict(cls, name: str, values: dict[str, Any]) -> "DetectorTruth":
        """Rebuild from `to_dict` output.

        Parameters
        ----------
        name : `str`
            Detector name.
        values : `dict` [`str`, `typing.Any`]
            Values as written by `to_dict`.

        Returns
        -------
        truth : `DetectorTruth`
            The detector's truth.
        """
        defects = values["defects"]
        hot = np.array(defects["hot_pixels"], dtype=float).reshape(-1, 3)
        cold = np.array(defects["cold_pixels"], dtype=float).reshape(-1, 3)
        columns = np.array(defects["bad_columns"], dtype=float).reshape(-1, 4)
        shape = values["detector_shape"]
        return cls(
            id=int(values["id"]),
            name=name,
            detector_shape=(int(shape[0]), int(shape[1])),
            amps={amp: AmpTruth.from_dict(amp, v) for amp, v in values["amps"].items()},
            qe=float(values["qe"]),
            center_mm=(float(values["center_mm"][0]), float(values["center_mm"][1])),
            hot_pixels=hot[:, :2].astype(int),
            hot_pixel_current=hot[:, 2],
            cold_pixels=cold[:, :2].astype(int),
            cold_pixel_response=cold[:, 2],
            bad_columns=columns[:, :3].astype(int),
            bad_column_response=columns[:, 3],
            vendor=str(values.get("vendor", "ITL")),
        )
