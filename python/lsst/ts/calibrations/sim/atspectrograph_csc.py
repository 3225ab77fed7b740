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

"""A simulated LATISS spectrograph (ATSpectrograph): filter wheel, grating wheel and linear stage.

The filter and grating wheels have four slots each (0-3). ``changeFilter``
takes a slot (``filter``) or a name (``name``), not both, as the real CSC:
``fwState`` Moving, ``filter_change_time`` simulated seconds, Stationary,
then ``filterInPosition`` and ``reportedFilterPosition`` (slot, name, band).
``changeDisperser`` does the same for the grating (``gwState``,
``disperserInPosition``, ``reportedDisperserPosition``); ``moveLinearStage``
moves the stage (``lsState``, ``linearStageInPosition``,
``reportedLinearStagePosition``) within its limits. At start the CSC writes
``settingsAppliedValues`` (the slot names and stage limits) and the
positions. The two wheels and the stage move independently; a second move
of an axis already moving is refused. The simulated ATCamera reads ``reportedFilterPosition`` and
``reportedDisperserPosition`` to write ``FILTER`` and ``GRATING`` into each
raw, as the header service does at the observatory.
"""

__all__ = ["ATSpectrographCsc"]

import enum
from collections.abc import Sequence
from typing import Any, ClassVar

from ..repo.latiss_instrument import FILTERS, GRATINGS
from ..sal.base import ExpectedError, State
from ..sal.base_csc import BaseCsc
from ..version import __version__
from .sim_clock import SimClock

DEFAULT_FILTERS: tuple[str, ...] = ("empty", "SDSSg_65mm", "SDSSr_65mm", "SDSSi_65mm")
"""Filter wheel slots 0-3 unless told otherwise."""

DEFAULT_GRATINGS: tuple[str, ...] = ("empty", "holo4_003", "blue300lpmm_qn1", "ronchi170lpmm")
"""Grating wheel slots 0-3 unless told otherwise."""


class _Status(enum.IntEnum):
    """``fwState``/``gwState``/``lsState.state`` (ts_xml's ATSpectrograph Status)."""

    HOMING = 1
    MOVING = 2
    STATIONARY = 3
    NOTINPOSITION = 4


class ATSpectrographCsc(BaseCsc):
    """The simulated ATSpectrograph.

    Parameters
    ----------
    clock : `SimClock`
        The observatory's clock (times of the moves).
    filters, gratings : `~collections.abc.Sequence` [`str`], optional
        The four slots of each wheel (LATISS filter and grating names).
    initial_filter, initial_grating : `str`, optional
        In the beam at start. By default the wheel's r filter (as the
        simulated cameras of the other instruments start with theirs, and
        as the reference flats are made; slot 0 if it has none) and slot 0
        of the grating wheel.
    initial_state : `State`, optional
        Summary state after starting.
    simulation_mode : `int`, optional
        Must be 1 (simulating).
    heartbeat_interval : `float`, optional
        Interval (real seconds) between heartbeats.

    Attributes
    ----------
    filter_change_time, grating_change_time : `float`
        Simulated seconds of a wheel move (5 s).
    linear_stage_limits : `tuple` [`float`, `float`]
        Range of the linear stage, mm (0-75).

    Raises
    ------
    ValueError
        Raised if a wheel does not have four known names, or an initial
        name is not on its wheel.
    """

    valid_simulation_modes: ClassVar[tuple[int, ...]] = (1,)
    version: ClassVar[str] = __version__

    def __init__(
        self,
        *,
        clock: SimClock,
        filters: Sequence[str] = DEFAULT_FILTERS,
        gratings: Sequence[str] = DEFAULT_GRATINGS,
        initial_filter: str | None = None,
        initial_grating: str | None = None,
        initial_state: State = State.ENABLED,
        simulation_mode: int = 1,
        heartbeat_interval: float | None = None,
    ) -> None:
        self.clock = clock
        self.filters = _check_wheel("filters", filters, FILTERS)
        self.gratings = _check_wheel("gratings", gratings, GRATINGS)
        if initial_filter is None:
            initial_filter = next((name for name in self.filters if FILTERS[name] == "r"), None)
        self.current_filter = _check_initial("initial_filter", initial_filter, self.filters)
        self.current_grating = _check_initial("initial_grating", initial_grating, self.gratings)
        self.linear_stage_limits = (0.0, 75.0)
        self.linear_stage_position = 0.0
        self.filter_change_time = 5.0
        self.grating_change_time = 5.0
        self._busy: dict[str, str] = {}
        super().__init__(
            "ATSpectrograph",
            initial_state=initial_state,
            simulation_mode=simulation_mode,
            heartbeat_interval=heartbeat_interval,
        )

    async def start(self) -> None:
        """Start the CSC and write the settings and positions."""
        await super().start()
        await self.evt_settingsAppliedValues.set_write(
            filterNames=",".join(self.filters),
            gratingNames=",".join(self.gratings),
            linearStageMinPos=self.linear_stage_limits[0],
            linearStageMaxPos=self.linear_stage_limits[1],
        )
        for event in (self.evt_fwState, self.evt_gwState, self.evt_lsState):
            await event.set_write(state=_Status.STATIONARY)
        await self._report_filter()
        await self._report_grating()
        await self.evt_reportedLinearStagePosition.set_write(position=self.linear_stage_position)

    @property
    def physical_filter(self) -> str:
        """LATISS's physical filter in the beam: ``filter~grating``."""
        return f"{self.current_filter}~{self.current_grating}"

    async def do_changeFilter(self, data: Any) -> None:
        """Move the filter wheel to a slot or a named filter."""
        self.assert_enabled("changeFilter")
        name = _select("changeFilter", "filter", data.filter, data.name, self.filters)
        await self._move("changeFilter", self.filter_change_time, self.evt_fwState)
        self.current_filter = name
        await self.evt_filterInPosition.set_write(inPosition=True, force_output=True)
        await self._report_filter()

    async def do_changeDisperser(self, data: Any) -> None:
        """Move the grating wheel to a slot or a named grating."""
        self.assert_enabled("changeDisperser")
        name = _select("changeDisperser", "disperser", data.disperser, data.name, self.gratings)
        await self._move("changeDisperser", self.grating_change_time, self.evt_gwState)
        self.current_grating = name
        await self.evt_disperserInPosition.set_write(inPosition=True, force_output=True)
        await self._report_grating()

    async def do_moveLinearStage(self, data: Any) -> None:
        """Move the linear stage to ``distanceFromHome`` mm."""
        self.assert_enabled("moveLinearStage")
        low, high = self.linear_stage_limits
        position = float(data.distanceFromHome)
        if not low <= position <= high:
            raise ExpectedError(f"moveLinearStage distanceFromHome={position} must be in [{low}, {high}] mm")
        duration = abs(position - self.linear_stage_position) / 10.0
        await self._move("moveLinearStage", duration, self.evt_lsState)
        self.linear_stage_position = position
        await self.evt_linearStageInPosition.set_write(inPosition=True, force_output=True)
        await self.evt_reportedLinearStagePosition.set_write(position=position, force_output=True)

    async def do_homeLinearStage(self, data: Any) -> None:
        """Home the linear stage (position 0)."""
        self.assert_enabled("homeLinearStage")
        await self._move("homeLinearStage", self.linear_stage_position / 10.0, self.evt_lsState)
        self.linear_stage_position = 0.0
        await self.evt_reportedLinearStagePosition.set_write(position=0.0, force_output=True)

    async def do_stopAllAxes(self, data: Any) -> None:
        """Refused: moves are short and not interruptible in the simulator."""
        raise ExpectedError("ATSpectrograph simulator does not support stopAllAxes")

    async def _move(self, command: str, duration: float, state_event: Any) -> None:
        """Move one axis (the wheels and the stage move independently); refused while it moves."""
        axis = state_event.name
        if axis in self._busy:
            raise ExpectedError(f"{command} refused: {self._busy[axis]} is under way")
        self._busy[axis] = command
        try:
            await state_event.set_write(state=_Status.MOVING, force_output=True)
            await self.clock.sleep(duration)
            await state_event.set_write(state=_Status.STATIONARY, force_output=True)
        finally:
            del self._busy[axis]

    async def _report_filter(self) -> None:
        await self.evt_reportedFilterPosition.set_write(
            slot=self.filters.index(self.current_filter),
            name=self.current_filter,
            band=FILTERS[self.current_filter],
            force_output=True,
        )

    async def _report_grating(self) -> None:
        await self.evt_reportedDisperserPosition.set_write(
            slot=self.gratings.index(self.current_grating),
            name=self.current_grating,
            band="",
            force_output=True,
        )


def _check_wheel(field: str, names: Sequence[str], known: Sequence[str]) -> tuple[str, ...]:
    names = tuple(str(n) for n in names)
    unknown = [n for n in names if n not in known]
    if len(names) != 4 or unknown:
        raise ValueError(f"{field}={list(names)} must be four names of {sorted(known)}.")
    return names


def _check_initial(field: str, name: str | None, wheel: tuple[str, ...]) -> str:
    if name is None:
        return wheel[0]
    if name not in wheel:
        raise ValueError(f"{field}={name!r} is not on the wheel; use one of {list(wheel)}.")
    return name


def _select(command: str, slot_field: str, slot: int, name: str, wheel: tuple[str, ...]) -> str:
    """The name a change command selects (a slot 0-3 or a name, not both)."""
    if name and slot:
        raise ExpectedError(f"{command}: give {slot_field} (slot) or name, not both")
    if name:
        if name not in wheel:
            raise ExpectedError(f"{command} name={name!r} is not on the wheel; use one of {', '.join(wheel)}")
        return name
    if not 0 <= slot < len(wheel):
        raise ExpectedError(f"{command} {slot_field}={slot} must be a slot 0-{len(wheel) - 1}")
    return wheel[slot]
