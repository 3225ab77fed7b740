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

"""LATISS: the auxiliary telescope's camera group (ATCamera, ATSpectrograph, ATHeaderService, ATOODS).

ts_observatory_control's ``LATISS`` API on `BaseCamera`: the instrument
setup is the spectrograph's filter, grating and linear stage
(`setup_instrument` with ``filter=``, ``grating=``, ``linear_stage=``;
`setup_atspec`), each a name or a slot (0-3) for the wheels and a position
in mm for the stage; `get_available_instrument_setup` returns the filters,
the gratings and the stage's range; `get_setup` what is in place. One
detector, RXX_S00 (0); images ``AT_O_YYYYMMDD_NNNNNN``.
"""

__all__ = ["LATISS"]

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from ..sal.base import AckError
from ..sal.domain import Domain
from ..sal.remote import Remote
from .base_camera import BaseCamera


class LATISS(BaseCamera):
    """The LATISS camera, spectrograph, header service and OODS.

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
    move_timeout : `float`
        Time limit (s) of one spectrograph move (120 s).
    """

    image_name_prefix: ClassVar[str] = "AT_O"
    _detector_names: ClassVar[tuple[str, ...]] = ("RXX_S00",)

    camera_component: ClassVar[str] = "ATCamera"
    header_service_component: ClassVar[str] = "ATHeaderService"
    oods_component: ClassVar[str] = "ATOODS"
    setup_components: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "ATSpectrograph": (
            "settingsAppliedValues",
            "reportedFilterPosition",
            "reportedDisperserPosition",
            "reportedLinearStagePosition",
        ),
    }
    setup_attributes: ClassVar[tuple[str, ...]] = ("filter", "grating", "linear_stage")

    def __init__(
        self,
        domain: Domain | None = None,
        log: logging.Logger | None = None,
        intended_usage: int | None = None,
    ) -> None:
        super().__init__(domain=domain, log=log, intended_usage=intended_usage)
        self.move_timeout = 120.0

    @property
    def atspectrograph(self) -> Remote:
        """The ATSpectrograph remote."""
        return self.rem.atspectrograph

    async def setup_instrument(self, **kwargs: Any) -> None:
        """Set up the spectrograph: ``filter=``, ``grating=``, ``linear_stage=`` (`setup_atspec`).

        Raises
        ------
        RuntimeError
            If a keyword is not one of those, or a move fails.
        """
        self.check_kwargs(**kwargs)
        await self.setup_atspec(**kwargs)

    async def setup_atspec(
        self,
        grating: str | int | None = None,
        filter: str | int | None = None,
        linear_stage: float | None = None,
    ) -> None:
        """Move the filter, grating and linear stage (those given), one after the other.

        Parameters
        ----------
        grating : `str` or `int`, optional
            Grating name or slot (0-3); unchanged if None.
        filter : `str` or `int`, optional
            Filter name or slot (0-3); unchanged if None.
        linear_stage : `float`, optional
            Linear stage position, mm from home; unchanged if None.

        Raises
        ------
        RuntimeError
            If a move is refused, fails or times out (the command and
            its answer named).
        """
        if filter is not None:
            await self._move_wheel("changeFilter", "filter", filter, "reportedFilterPosition")
        if grating is not None:
            await self._move_wheel("changeDisperser", "disperser", grating, "reportedDisperserPosition")
        if linear_stage is not None:
            await self._command("moveLinearStage", distanceFromHome=float(linear_stage))

    async def _move_wheel(self, command: str, slot_field: str, value: str | int, event: str) -> None:
        """Move a wheel to a name or slot, unless it is already there."""
        current = getattr(self.atspectrograph, f"evt_{event}").get()
        if current is not None and (
            current.name == value or (isinstance(value, int) and current.slot == value)
        ):
            self.log.info("%s already in place (%s)", value, event)
            return
        if isinstance(value, int) and not isinstance(value, bool):
            await self._command(command, **{slot_field: value})
        else:
            await self._command(command, name=str(value))

    async def _command(self, command: str, **fields: Any) -> None:
        try:
            await getattr(self.atspectrograph, f"cmd_{command}").set_start(
                **fields, timeout=self.move_timeout
            )
        except AckError as e:
            result = e.ackcmd.result if e.ackcmd is not None else str(e)
            raise RuntimeError(f"ATSpectrograph.{command}({fields}) failed: {result}") from e

    async def get_available_instrument_setup(self) -> tuple[list[str], list[str], list[float]]:
        """The filters, the gratings (by slot) and the linear stage's [min, max] (mm).

        Raises
        ------
        RuntimeError
            If the spectrograph wrote no ``settingsAppliedValues`` within `fast_timeout`.
        """
        try:
            data = await self.atspectrograph.evt_settingsAppliedValues.aget(timeout=self.fast_timeout)
        except TimeoutError:
            raise RuntimeError(
                f"ATSpectrograph wrote no settingsAppliedValues within {self.fast_timeout} s"
            ) from None
        filters = [name for name in str(data.filterNames).split(",") if name]
        gratings = [name for name in str(data.gratingNames).split(",") if name]
        return filters, gratings, [float(data.linearStageMinPos), float(data.linearStageMaxPos)]

    def filter_in_place(self) -> str | None:
        """The physical filter in place, ``filter~grating``, as last reported, without waiting.

        Returns
        -------
        name : `str` or `None`
            The spectrograph's filter and grating (``reportedFilterPosition``,
            ``reportedDisperserPosition``) joined by ``~`` (e.g.
            "SDSSr_65mm~empty", LATISS's physical filter names); None if it
            has not reported both (a spectrograph that is not running leaves
            it unknown).
        """
        filter_data = self.atspectrograph.evt_reportedFilterPosition.get()
        grating = self.atspectrograph.evt_reportedDisperserPosition.get()
        if filter_data is None or grating is None or not filter_data.name or not grating.name:
            return None
        return f"{filter_data.name}~{grating.name}"

    async def get_setup(self) -> tuple[str, str, float]:
        """The filter, grating and linear stage position in place.

        Raises
        ------
        RuntimeError
            If the spectrograph has not reported one of them within `fast_timeout`.
        """
        try:
            filter_data = await self.atspectrograph.evt_reportedFilterPosition.aget(timeout=self.fast_timeout)
            grating = await self.atspectrograph.evt_reportedDisperserPosition.aget(timeout=self.fast_timeout)
            stage = await self.atspectrograph.evt_reportedLinearStagePosition.aget(timeout=self.fast_timeout)
        except TimeoutError:
            raise RuntimeError(
                f"ATSpectrograph has not reported its filter, grating and stage within {self.fast_timeout} s"
            ) from None
        return str(filter_data.name), str(grating.name), float(stage.position)
