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

"""ComCam: the LSSTComCam camera group (CCCamera, CCHeaderService, CCOODS).

The ts_observatory_control API (`BaseCamera`) plus the filter
(`CameraFilterMixin`: `setup_instrument` with ``filter=``, `setup_filter`,
`get_current_filter`, `get_available_filters`) and, beyond it,
`BaseCamera.wait_for_oods`.
"""

__all__ = ["ComCam"]

import logging
from typing import ClassVar

from ..sal.domain import Domain
from .base_camera import BaseCamera
from .camera_filter_mixin import CameraFilterMixin


class ComCam(CameraFilterMixin, BaseCamera):
    """The LSSTComCam camera, header service and OODS.

    Parameters
    ----------
    domain : `Domain`, optional
        Domain; a new one if None.
    log : `logging.Logger`, optional
        Logger.
    intended_usage : `int`, optional
        Accepted for compatibility; unused.

    Attributes
    ----------
    filter_change_timeout : `float`
        Time limit (s) of a filter change (60 s).
    oods_status : `dict` [`str`, `dict` [`str`, `tuple` [`int`, `str`]]]
        ``imageInOODS`` seen since start: image name → detector name
        ("R22_S11") → (statusCode, description).
    """

    image_name_prefix: ClassVar[str] = "CC_O"
    camera_component: ClassVar[str] = "CCCamera"
    header_service_component: ClassVar[str] = "CCHeaderService"
    oods_component: ClassVar[str] = "CCOODS"
    # Detector names by id (ids 0-8: R22_S00, R22_S01, R22_S02, R22_S10, ...).
    _detector_names: ClassVar[tuple[str, ...]] = tuple(
        f"R22_S{row}{col}" for row in range(3) for col in range(3)
    )

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
