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

"""MakeComCamCalibrations: the ComCam script ``maintel/make_comcam_calibrations.py``."""

from __future__ import annotations

__all__ = ["MakeComCamCalibrations"]

import typing

from ..observatory.base_camera import BaseCamera
from ..observatory.comcam import ComCam
from .base_make_calibrations import BaseMakeCalibrations
from .calibration_schema import DETECTOR_IDS, make_schema


class MakeComCamCalibrations(BaseMakeCalibrations):
    """Take ComCam biases, darks and flats and make combined calibrations with the OCPS (index 2).

    Parameters
    ----------
    index : `int`
        SAL index of the script.

    Notes
    -----
    ``filter``: a filter name among the camera's ``availableFilters`` (e.g.
    "r_03"), or an integer: the position (0-based) of the filter in
    ``availableFilters.filterNames``; null (default) keeps the filter in
    place (`BaseMakeCalibrations.resolve_filter`).
    """

    instrument_name: typing.ClassVar[str] = "LSSTComCam"
    ocps_index: typing.ClassVar[int] = 2
    detector_ids: typing.ClassVar[tuple[int, ...]] = DETECTOR_IDS
    camera_class: typing.ClassVar[typing.Callable[..., BaseCamera]] = ComCam

    def __init__(self, index: int) -> None:
        super().__init__(
            index=index,
            descr="Take biases, darks and flats with ComCam and make combined calibrations with the OCPS.",
        )

    @classmethod
    def get_schema(cls) -> dict[str, typing.Any]:
        """The configuration schema (`calibration_schema.make_schema`) with the reprocessing options."""
        return cls.add_reprocessing_options(make_schema())

    @property
    def comcam(self) -> ComCam:
        """The ComCam group."""
        assert isinstance(self.camera, ComCam)
        return self.camera

    async def current_filter(self) -> str | None:
        """The filter in place (the last ``endSetFilter.filterName``), or None if the camera did not say.

        Read from what the camera has written, without waiting: a camera
        that is not running leaves it unknown.
        """
        data = self.comcam.camera.evt_endSetFilter.get()
        if data is None or not data.filterName:
            return None
        return str(data.filterName)
