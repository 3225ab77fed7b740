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

"""BaseCsc: a Commandable SAL Component with summary states."""

__all__ = ["BaseCsc"]

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar

from .base import ExpectedError, State
from .controller import Controller


class BaseCsc(Controller):
    """A Commandable SAL Component: summary-state commands, simulation
    mode, heartbeat and fault reporting.

    Parameters
    ----------
    name : `str`
        SAL component name.
    index : `int` or `None`, optional
        SAL index; nonzero for an indexed component.
    initial_state : `State`, optional
        Summary state after starting.
    override : `str`, optional
        Configuration override; kept as ``self.override`` (this CSC is not
        configurable).
    simulation_mode : `int`, optional
        Simulation mode; must be in ``valid_simulation_modes``.
    allow_missing_callbacks : `bool`, optional
        Allow commands without a ``do_<name>`` method.
    heartbeat_interval : `float`, optional
        Interval (seconds) between heartbeats; the class default (1 s) if None.

    Attributes
    ----------
    valid_simulation_modes : `Sequence` [`int`]
        Class variable: the simulation modes this CSC supports.
    version : `str`
        Class variable: the CSC's version, written as
        ``evt_softwareVersions.cscVersion``.
    shutdown_delay : `float`
        Time (seconds) between going OFFLINE (``exitControl``) and closing,
        so the command is acknowledged first.

    Raises
    ------
    ValueError
        If ``initial_state`` is not a `State`, or ``simulation_mode`` is
        not in ``valid_simulation_modes``.

    Notes
    -----
    Summary-state transitions (as salobj): ``start`` STANDBY → DISABLED,
    ``enable`` DISABLED → ENABLED, ``disable`` ENABLED → DISABLED,
    ``standby`` DISABLED or FAULT → STANDBY, ``exitControl`` STANDBY →
    OFFLINE (and then the CSC closes), ``enterControl`` (if the component
    has it) OFFLINE → STANDBY. A command in any other state fails with
    `ExpectedError`. Each transition calls ``begin_<command>(data)``,
    changes the state, calls `handle_summary_state` (on error the state is
    restored and the command fails), writes ``evt_summaryState``, then calls
    ``end_<command>(data)``.
    """

    valid_simulation_modes: ClassVar[Sequence[int]] = (0,)
    version: ClassVar[str] = "?"

    def __init__(
        self,
        name: str,
        index: int | None = None,
        initial_state: State | int = State.STANDBY,
        override: str = "",
        simulation_mode: int = 0,
        allow_missing_callbacks: bool = False,
        *,
        heartbeat_interval: float | None = None,
    ) -> None:
        try:
            self._summary_state = State(initial_state)
        except ValueError:
            raise ValueError(
                f"initial_state={initial_state!r} is not a summary state; must be one of "
                f"{', '.join(f'{s.name} ({s.value})' for s in State)}"
            ) from None
        if simulation_mode not in self.valid_simulation_modes:
            raise ValueError(
                f"simulation_mode={simulation_mode} is not supported by {type(self).__name__}; "
                f"valid_simulation_modes={list(self.valid_simulation_modes)}"
            )
        self._simulation_mode = int(simulation_mode)
        self.override = override
        if heartbeat_interval is not None:
            self.heartbeat_interval = heartbeat_interval
        self.shutdown_delay = 0.1
        self._shutdown_task: asyncio.Task[None] | None = None
        super().__init__(name, index, do_callbacks=True, allow_missing_callbacks=allow_missing_callbacks)

    def _optional_do_names(self) -> set[str]:
        # Not every CSC's interface has enterControl (ts_xml's csc generics do not).
        return {"enterControl"}

    @property
    def summary_state(self) -> State:
        """The current summary state."""
        return self._summary_state

    @property
    def simulation_mode(self) -> int:
        """The simulation mode (0 = not simulating)."""
        return self._simulation_mode

    @property
    def disabled_or_enabled(self) -> bool:
        """Is the summary state DISABLED or ENABLED?"""
        return self._summary_state in (State.DISABLED, State.ENABLED)

    async def start(self) -> None:
        """Start the CSC: write softwareVersions, simulationMode and summaryState."""
        await super().start()
        if hasattr(self, "evt_softwareVersions"):
            values = dict(
                cscVersion=self.version,
                xmlVersion=self.salinfo.component_info.ts_xml_version,
                salVersion="lsst.ts.calibrations.sal",
                subsystemVersions="",
            )
            fields = self.evt_softwareVersions.topic_info.fields
            await self.evt_softwareVersions.set_write(**{k: v for k, v in values.items() if k in fields})
        await self.evt_simulationMode.set_write(mode=self._simulation_mode)
        await self.handle_summary_state()
        await self._report_summary_state()

    async def handle_summary_state(self) -> None:
        """Called after each summary-state change (and at start). Override to
        start or stop work; raising makes a transition command fail and
        restores the previous state.
        """

    def assert_enabled(self, action: str = "") -> None:
        """Raise `ExpectedError` unless the summary state is ENABLED.

        Parameters
        ----------
        action : `str`, optional
            What was refused (e.g. the command name), for the message.

        Raises
        ------
        ExpectedError
            If the summary state is not ENABLED.
        """
        if self._summary_state != State.ENABLED:
            what = action or "This action"
            raise ExpectedError(f"{what} not allowed in state {self._summary_state!r}: must be ENABLED")

    async def fault(self, code: int | None = None, report: str = "", traceback: str = "") -> None:
        """Go to FAULT state and report why in ``evt_errorCode``.

        Parameters
        ----------
        code : `int`, optional
            Error code; if None, ``evt_errorCode`` is not written.
        report : `str`, optional
            Description of the problem.
        traceback : `str`, optional
            Traceback, if any.

        Notes
        -----
        Ignored (with a warning) if already in FAULT state. An error in
        `handle_summary_state` is logged, not raised: the CSC stays in FAULT.
        """
        if self._summary_state == State.FAULT:
            self.log.warning("fault(code=%s, report=%r) ignored: already in FAULT state", code, report)
            return
        self._summary_state = State.FAULT
        if code is not None:
            await self.evt_errorCode.set_write(
                errorCode=code, errorReport=report, traceback=traceback, force_output=True
            )
        self.log.error("Fault: code=%s, report=%s", code, report)
        try:
            await self.handle_summary_state()
        except Exception:
            self.log.exception("handle_summary_state failed while going to FAULT")
        await self._report_summary_state()

    async def _report_summary_state(self) -> None:
        await self.evt_summaryState.set_write(summaryState=self._summary_state, force_output=True)

    async def _do_change_state(
        self, data: Any, cmd_name: str, allowed_curr_states: Sequence[State], new_state: State
    ) -> None:
        curr_state = self._summary_state
        if curr_state not in allowed_curr_states:
            allowed = " or ".join(state.name for state in allowed_curr_states)
            raise ExpectedError(f"{cmd_name} not allowed in state {curr_state!r}: must be {allowed}")
        begin = getattr(self, f"begin_{cmd_name}", None)
        if begin is not None:
            await begin(data)
        self._summary_state = new_state
        try:
            await self.handle_summary_state()
        except Exception:
            self._summary_state = curr_state
            raise
        await self._report_summary_state()
        end = getattr(self, f"end_{cmd_name}", None)
        if end is not None:
            await end(data)

    async def do_start(self, data: Any) -> None:
        """STANDBY → DISABLED."""
        await self._do_change_state(data, "start", [State.STANDBY], State.DISABLED)

    async def do_enable(self, data: Any) -> None:
        """DISABLED → ENABLED."""
        await self._do_change_state(data, "enable", [State.DISABLED], State.ENABLED)

    async def do_disable(self, data: Any) -> None:
        """ENABLED → DISABLED."""
        await self._do_change_state(data, "disable", [State.ENABLED], State.DISABLED)

    async def do_standby(self, data: Any) -> None:
        """DISABLED or FAULT → STANDBY."""
        await self._do_change_state(data, "standby", [State.DISABLED, State.FAULT], State.STANDBY)

    async def do_exitControl(self, data: Any) -> None:
        """STANDBY → OFFLINE; then the CSC closes after `shutdown_delay`."""
        await self._do_change_state(data, "exitControl", [State.STANDBY], State.OFFLINE)
        self._shutdown_task = asyncio.create_task(self._close_after_delay())

    async def do_enterControl(self, data: Any) -> None:
        """OFFLINE → STANDBY (for components whose interface has enterControl)."""
        await self._do_change_state(data, "enterControl", [State.OFFLINE], State.STANDBY)

    async def _close_after_delay(self) -> None:
        await asyncio.sleep(self.shutdown_delay)
        await self.close()

    async def close_tasks(self) -> None:
        """Cancel the shutdown task (unless it is what is closing the CSC)."""
        await super().close_tasks()
        task = self._shutdown_task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
