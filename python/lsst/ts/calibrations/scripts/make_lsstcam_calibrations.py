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

"""MakeLSSTCamCalibrations: the LSSTCam script ``maintel/make_lsstcam_calibrations.py``."""

from __future__ import annotations

__all__ = ["MakeLSSTCamCalibrations"]

import typing

from ..observatory.base_camera import BaseCamera
from ..observatory.lsstcam import LSSTCam
from .base_make_calibrations import BaseMakeCalibrations
from .calibration_schema import make_schema


class MakeLSSTCamCalibrations(BaseMakeCalibrations):
    """Take LSSTCam biases, darks and flats and make combined calibrations with the OCPS (index 3).

    Parameters
    ----------
    index : `int`
        SAL index of the script.

    Notes
    -----
    What differs from ComCam: the camera group (`LSSTCam`: MTCamera,
    MTHeaderService, MTOODS), OCPS:3, the detectors (the 189 science
    sensors, ids 0-188, by default; the guider and wavefront sensors,
    189-204, only when named), collections ``LSSTCam/calib`` and
    ``LSSTCam/calib/daily``, the repository ``/repo/LSSTCam`` and filter
    names (``r_57``).
    """

    instrument_name: typing.ClassVar[str] = "LSSTCam"
    ocps_index: typing.ClassVar[int] = 3
    detector_ids: typing.ClassVar[tuple[int, ...]] = LSSTCam.science_detector_ids()
    camera_class: typing.ClassVar[typing.Callable[..., BaseCamera]] = LSSTCam

    def __init__(self, index: int) -> None:
        super().__init__(
            index=index,
            descr="Take biases, darks and flats with LSSTCam and make combined calibrations with the OCPS.",
        )

    @classmethod
    def get_schema(cls) -> dict[str, typing.Any]:
        """The shared schema for LSSTCam (its detectors and collections)."""
        schema = make_schema(
            "LSSTCam",
            detector_ids=range(len(LSSTCam.detector_names())),
            detectors_description=(
                "Detector ids passed to the pipelines, each at most once: the 189 science sensors are "
                "0..188 (R01_S00=0 ... R22_S11=94 ... R43_S22=188), the corner rafts' guider and "
                "wavefront sensors 189..204 (R00_SG0=189 ... R44_SW1=204). Empty: the 189 science "
                "sensors."
            ),
            title="MakeLSSTCamCalibrations v1",
            description=(
                "Configuration of make_lsstcam_calibrations: take biases, darks and flats with LSSTCam, "
                "generate and verify combined calibrations through the OCPS, certify the accepted ones "
                "and report gains from flat pairs."
            ),
            filter_example="r_57",
        )
        return cls.add_reprocessing_options(schema)

    @property
    def lsstcam(self) -> LSSTCam:
        """The LSSTCam group."""
        assert isinstance(self.camera, LSSTCam)
        return self.camera

    async def current_filter(self) -> str | None:
        """The filter in place (MTCamera's last ``endSetFilter.filterName``), or None if it did not say.

        Read from what the camera has written, without waiting: a camera
        that is not running leaves it unknown.
        """
        return self.lsstcam.filter_in_place()
