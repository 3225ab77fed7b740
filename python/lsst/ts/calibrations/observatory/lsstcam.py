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

"""LSSTCam: the LSSTCam camera group (MTCamera, MTHeaderService, MTOODS).

The same API as `ComCam` (ts_observatory_control's ``LSSTCam``): `BaseCamera`
plus the filter through ``MTCamera.setFilter`` (`CameraFilterMixin`).
Detector names by id are the camera description's: the 189 science sensors
R01_S00 (0) ... R43_S22 (188), raft by raft in the order R01, R02, R03, R10,
..., R43, then the corner rafts' guider and wavefront sensors R00_SG0 (189),
R00_SG1, R00_SW0, R00_SW1, R04_SG0, ... R44_SW1 (204).
"""

__all__ = ["LSSTCam"]

import logging
from typing import ClassVar

from ..sal.domain import Domain
from .base_camera import BaseCamera
from .camera_filter_mixin import CameraFilterMixin

_CORNERS = ("R00", "R04", "R40", "R44")
_SCIENCE_RAFTS = tuple(
    f"R{row}{col}" for row in range(5) for col in range(5) if f"R{row}{col}" not in _CORNERS
)
_SENSORS = tuple(f"S{row}{col}" for row in range(3) for col in range(3))


class LSSTCam(CameraFilterMixin, BaseCamera):
    """The LSSTCam camera, header service and OODS.

    Parameters
    ----------
    domain : `Domain`, optional
        Domain; a new one if None.
    log : `logging.Logger`, optional
        Logger.
    intended_usage : `int`, optional
        Accepted for compatibility; unused.
    """

    image_name_prefix: ClassVar[str] = "MT_O"
    _detector_names: ClassVar[tuple[str, ...]] = (
        *(f"{raft}_{sensor}" for raft in _SCIENCE_RAFTS for sensor in _SENSORS),
        *(f"{raft}_{sensor}" for raft in _CORNERS for sensor in ("SG0", "SG1", "SW0", "SW1")),
    )

    camera_component: ClassVar[str] = "MTCamera"
    header_service_component: ClassVar[str] = "MTHeaderService"
    oods_component: ClassVar[str] = "MTOODS"

    def __init__(
        self,
        domain: Domain | None = None,
        log: logging.Logger | None = None,
        intended_usage: int | None = None,
    ) -> None:
        super().__init__(domain=domain, log=log, intended_usage=intended_usage)

    @classmethod
    def get_image_types(cls) -> list[str]:
        """Image types `take_imgtype` accepts (those of `BaseCamera` and SPOT)."""
        return [*super().get_image_types(), "SPOT"]

    @classmethod
    def science_detector_ids(cls) -> tuple[int, ...]:
        """Ids of the 189 science sensors (0-188)."""
        return tuple(range(len(_SCIENCE_RAFTS) * len(_SENSORS)))
