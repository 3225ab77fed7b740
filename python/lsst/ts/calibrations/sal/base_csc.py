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

import argparse
import asyncio
import enum
import signal
from collections.abc import Sequence
from typing import Any, ClassVar

from .base import ExpectedError, State
from .controller import Controller
from .domain import Domain
from .remote import Remote
from .set_summary_state import make_state_transition_dict

DUPLICATE_HEARTBEAT_FACTOR = 3
"""`BaseCsc.check_for_duplicate_heartbeat` waits this many heartbeat intervals."""


class BaseCsc(Controller):
    """A Commandable SAL Component: summary-state commands, simulation
    mode, heartbeat and fault reporting (as salobj's ``BaseCsc``).

    Parameters
    ----------
    name : `str`
        SAL component name.
    index : `int` or `None`, optional
        SAL index; nonzero for an indexed component.
    check_if_duplicate : `bool`, optional
        At start, listen for heartbeats of another instance with the same
        name and index, and quit (`ExpectedError`) if one is seen.
        `amain` sets it; the default is False, for fast tests.
    initial_state : `State`, `int` or `None`, optional
        State to reach after starting; None for `default_initial_state`.
        The CSC starts in `default_initial_state` and steps to this state
        with the transition commands, writing ``summaryState`` at each
        step. Must not be FAULT.
    override : `str`, optional
        Configuration override for the ``start`` transition made on the
        way to DISABLED or ENABLED (used by `ConfigurableCsc`).
    simulation_mode : `int`, optional
        Simulation mode; must be in `valid_simulation_modes`.
    allow_missing_callbacks : `bool`, optional
        Allow commands without a ``do_<name>`` method; they are refused
        with `ExpectedError`.
    extra_commands : `set` [`str`], optional
        ``do_<name>`` methods allowed without a command in the interface.
    discard_out_of_order_telemetry, discard_out_of_order_events : `bool`, optional
        salobj's Kafka reordering guards; accepted and ignored.
    heartbeat_interval : `float`, optional
        Interval (seconds) between heartbeats; 1 s if None (not a salobj
        argument: there one sets the attribute).

    Attributes
    ----------
    default_initial_state : `State`
        Class variable: the state the CSC starts in (STANDBY; OFFLINE for
        an externally commandable CSC).
    enable_cmdline_state : `bool`
        Class variable: give `make_from_cmd_line` a ``--state`` argument
        (and ``--override`` for a configurable CSC).
    valid_simulation_modes : `Sequence` [`int`]
        Class variable: the simulation modes this CSC supports.
    simulation_help : `str` or `None`
        Class variable: help text of ``--simulate``.
    version : `str`
        Class variable, required: the CSC's version, written as
        ``evt_softwareVersions.cscVersion``.
    check_if_duplicate : `bool`
        See the parameter.
    shutdown_delay : `float`
        Time (seconds) between going OFFLINE (``exitControl``) and closing,
        so the command is acknowledged first.

    Raises
    ------
    ValueError
        If ``initial_state`` is not a `State` or is FAULT, or
        ``simulation_mode`` is not in ``valid_simulation_modes``.
    RuntimeError
        If class variable ``version`` is not set, or
        ``valid_simulation_modes`` is None.
    TypeError
        If ``do_<name>`` methods and commands do not match (see
        `Controller`).

    Notes
    -----
    Start-up (as salobj): `start` checks for a duplicate (if asked), starts
    the heartbeat and writes ``simulationMode`` and ``softwareVersions``;
    then `start_phase2` calls `handle_summary_state`, writes
    ``summaryState`` (the default initial state) and ``errorCode`` (0),
    and runs the transition commands to ``initial_state`` (``start``
    carrying ``override``), each writing its ``summaryState``. A failing
    step is logged and the CSC stays where it got to.

    Summary-state transitions: ``start`` STANDBY → DISABLED, ``enable``
    DISABLED → ENABLED, ``disable`` ENABLED → DISABLED, ``standby``
    DISABLED or FAULT → STANDBY, ``exitControl`` STANDBY → OFFLINE (then
    the CSC closes), ``enterControl`` (if the interface has it) OFFLINE →
    STANDBY. A command in any other state fails with `ExpectedError`.
    Each transition calls ``begin_<command>(data)`` (an error leaves the
    state unchanged), changes the state, calls ``end_<command>(data)`` (an
    error restores the previous state), then calls `handle_summary_state`
    and writes ``summaryState`` (and ``errorCode`` 0 when leaving FAULT).
    If `handle_summary_state` raises, the previous state is restored,
    nothing is written and the command fails (salobj keeps the new state
    without reporting it).
    """

    default_initial_state: ClassVar[State] = State.STANDBY
    enable_cmdline_state: ClassVar[bool] = False
    valid_simulation_modes: ClassVar[Sequence[int]] = (0,)
    simulation_help: ClassVar[str | None] = None
    version: ClassVar[str]

    def __init__(
        self,
        name: str,
        index: int | None = None,
        check_if_duplicate: bool = False,
        initial_state: State | int | None = None,
        override: str = "",
        simulation_mode: int = 0,
        allow_missing_callbacks: bool = False,
        extra_commands: set[str] | frozenset[str] = frozenset(),
        discard_out_of_order_telemetry: bool = True,
        discard_out_of_order_events: bool = True,
        *,
        heartbeat_interval: float | None = None,
    ) -> None:
        if not hasattr(self, "version"):
            raise RuntimeError(f"{type(self).__name__} must set class variable `version` (e.g. __version__)")
        if self.valid_simulation_modes is None:
            raise RuntimeError(f"{type(self).__name__}.valid_simulation_modes must not be None")
        if initial_state is None:
            initial_state = self.default_initial_state
        try:
            initial_state = State(initial_state)
        except ValueError:
            raise ValueError(
                f"initial_state={initial_state!r} is not a summary state; must be one of "
                f"{', '.join(f'{s.name} ({s.value})' for s in State if s != State.FAULT)}"
            ) from None
        if initial_state == State.FAULT:
            raise ValueError("initial_state cannot be FAULT")
        if simulation_mode not in self.valid_simulation_modes:
            raise ValueError(
                f"simulation_mode={simulation_mode} is not supported by {type(self).__name__}; "
                f"valid_simulation_modes={list(self.valid_simulation_modes)}"
            )
        self.check_if_duplicate = check_if_duplicate
        self._summary_state = State(self.default_initial_state)
        self._initial_state = initial_state
        self._simulation_mode = int(simulation_mode)
        self._override = override
        self._faulting = False
        if heartbeat_interval is not None:
            self.heartbeat_interval = heartbeat_interval
        self.shutdown_delay = 0.1
        self._shutdown_task: asyncio.Task[None] | None = None
        super().__init__(
            name,
            index,
            do_callbacks=True,
            allow_missing_callbacks=allow_missing_callbacks,
            extra_commands=extra_commands,
        )

    def _optional_do_names(self) -> set[str]:
        # Not every CSC's interface has enterControl (ts_xml's csc generics do not).
        return {"enterControl"}

    @property
    def override(self) -> str:
        """The configuration override given to the constructor."""
        return self._override

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

    async def check_for_duplicate_heartbeat(self, num_intervals: float = DUPLICATE_HEARTBEAT_FACTOR) -> int:
        """Listen for a heartbeat of another CSC with this name and index.

        Parameters
        ----------
        num_intervals : `float`, optional
            How long to listen, in heartbeat intervals.

        Returns
        -------
        origin : `int`
            ``private_origin`` (process ID) of the heartbeat seen, or 0 if
            none was seen.

        Raises
        ------
        ValueError
            If ``num_intervals`` is not positive.
        """
        if num_intervals <= 0:
            raise ValueError(f"num_intervals={num_intervals} must be positive")
        interval = self.heartbeat_interval or 1.0
        async with Domain() as domain:
            remote = Remote(
                domain, self.salinfo.name, self.salinfo.index, readonly=True, include=["heartbeat"]
            )
            await remote.start_task
            try:
                data = await remote.evt_heartbeat.next(flush=True, timeout=interval * num_intervals)
            except TimeoutError:
                return 0
            return int(data.private_origin)

    async def start(self) -> None:
        """Check for a duplicate, start the controller (heartbeat), and write
        ``simulationMode`` and ``softwareVersions``.

        Raises
        ------
        ExpectedError
            If ``check_if_duplicate`` and another instance is running.
        """
        if self.check_if_duplicate:
            descr = f"{self.salinfo.name_index} with origin={self.domain.origin}"
            self.log.info(f"{descr} is checking for an already-running instance")
            duplicate_origin = await self.check_for_duplicate_heartbeat()
            if duplicate_origin:
                raise ExpectedError(
                    f"{descr} quitting: found another instance with origin={duplicate_origin}"
                )
        await super().start()
        await self.set_simulation_mode(self._simulation_mode)
        if hasattr(self, "evt_softwareVersions"):
            values = dict(
                cscVersion=self.version,
                xmlVersion=self.salinfo.component_info.ts_xml_version,
                salVersion="lsst.ts.calibrations.sal",
                subsystemVersions="",
            )
            fields = self.evt_softwareVersions.topic_info.fields
            await self.evt_softwareVersions.set_write(**{k: v for k, v in values.items() if k in fields})

    async def start_phase2(self) -> None:
        """Report the default initial state, then step to ``initial_state``."""
        await super().start_phase2()
        await self.handle_summary_state()
        await self._report_summary_state()
        if self._initial_state == self._summary_state:
            return
        command = ""
        try:
            steps = make_state_transition_dict()[(self._summary_state, self._initial_state)]
            for command, _ in steps:
                cmd_topic = getattr(self, f"cmd_{command}", None)
                data = cmd_topic.DataType() if cmd_topic is not None else None
                if command == "start" and data is not None and hasattr(data, "configurationOverride"):
                    data.configurationOverride = self._override
                self.log.info(f"Executing {command} command during startup")
                await getattr(self, f"do_{command}")(data)
                # Make each summaryState's time stamp distinct.
                await asyncio.sleep(0.001)
        except Exception:
            self.log.exception(f"Failed in start on state transition command {command}; continuing")

    async def set_simulation_mode(self, simulation_mode: int) -> None:
        """Implement and report the simulation mode.

        Parameters
        ----------
        simulation_mode : `int`
            Simulation mode; 0 for normal operation.
        """
        await self.implement_simulation_mode(simulation_mode)
        self._simulation_mode = int(simulation_mode)
        await self.evt_simulationMode.set_write(mode=self._simulation_mode, force_output=True)

    async def implement_simulation_mode(self, simulation_mode: int) -> None:
        """Enter or leave simulation (salobj's deprecated hook; does nothing).

        Parameters
        ----------
        simulation_mode : `int`
            Requested simulation mode.
        """

    async def handle_summary_state(self) -> None:
        """Called after each summary-state change (and at start). Override to
        start or stop work; you need not call the base version.
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
            If the summary state is not ENABLED; in FAULT the message gives
            the error code and report.
        """
        if self._summary_state == State.ENABLED:
            return
        what = f"{action or 'This action'} not allowed"
        if self._summary_state == State.FAULT and self.evt_errorCode.has_data:
            data = self.evt_errorCode.data
            why = f"in Fault state: errorCode={data.errorCode}, errorReport={data.errorReport!r}"
        else:
            why = f"in state {self._summary_state!r}: must be ENABLED"
        raise ExpectedError(f"{what} {why}")

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
        Ignored while already going to FAULT. Writes ``errorCode`` (if a
        code is given) then ``summaryState``, then calls
        `handle_summary_state`. Errors in these steps are logged, not
        raised: the CSC is in FAULT and says so.
        """
        if self._faulting:
            return
        self._faulting = True
        try:
            self._summary_state = State.FAULT
            if code is not None:
                try:
                    await self.evt_errorCode.set_write(
                        errorCode=code, errorReport=report, traceback=traceback, force_output=True
                    )
                except Exception:
                    self.log.exception(f"Failed to write errorCode: code={code!r}; report={report!r}")
                self.log.critical(f"Fault! errorCode={code}, errorReport={report!r}")
            try:
                await self._report_summary_state()
            except Exception:
                # A subclass's report failed: still tell the world about the FAULT.
                self.log.exception("_report_summary_state failed while going to FAULT")
                await self.evt_summaryState.set_write(summaryState=self._summary_state)
            try:
                await self.handle_summary_state()
            except Exception:
                self.log.exception("handle_summary_state failed while going to FAULT")
        finally:
            self._faulting = False

    async def _report_summary_state(self) -> None:
        """Write ``summaryState`` (if changed) and, outside FAULT,
        ``errorCode`` 0: at start, and whenever the CSC leaves FAULT (even
        if the fault wrote no error code), so readers see the fault cleared.
        """
        previous = self.evt_summaryState.data.summaryState if self.evt_summaryState.has_data else None
        await self.evt_summaryState.set_write(summaryState=self._summary_state)
        if self._summary_state != State.FAULT:
            await self.evt_errorCode.set_write(
                errorCode=0, errorReport="", traceback="", force_output=previous == State.FAULT
            )

    async def _do_change_state(
        self, data: Any, cmd_name: str, allowed_curr_states: Sequence[State], new_state: State
    ) -> None:
        curr_state = self._summary_state
        if curr_state not in allowed_curr_states:
            allowed = " or ".join(state.name for state in allowed_curr_states)
            raise ExpectedError(f"{cmd_name} not allowed in state {curr_state!r}: must be {allowed}")
        try:
            await getattr(self, f"begin_{cmd_name}")(data)
        except ExpectedError as e:
            self.log.error(f"begin_{cmd_name} failed; remaining in state {curr_state!r}: {e}")
            raise
        except Exception:
            self.log.exception(f"begin_{cmd_name} failed; remaining in state {curr_state!r}")
            raise
        self._summary_state = new_state
        try:
            await getattr(self, f"end_{cmd_name}")(data)
        except Exception as e:
            self._summary_state = curr_state
            if isinstance(e, ExpectedError):
                self.log.error(f"end_{cmd_name} failed; reverting to state {curr_state!r}: {e}")
            else:
                self.log.exception(f"end_{cmd_name} failed; reverting to state {curr_state!r}")
            raise
        try:
            await self.handle_summary_state()
        except Exception:
            self._summary_state = curr_state
            raise
        await self._report_summary_state()

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

    # Hooks around each transition; override as needed (the defaults do nothing).

    async def begin_start(self, data: Any) -> None:
        """Called by ``start`` before the state changes; raise to refuse."""

    async def begin_enable(self, data: Any) -> None:
        """Called by ``enable`` before the state changes; raise to refuse."""

    async def begin_disable(self, data: Any) -> None:
        """Called by ``disable`` before the state changes; raise to refuse."""

    async def begin_standby(self, data: Any) -> None:
        """Called by ``standby`` before the state changes; raise to refuse."""

    async def begin_exitControl(self, data: Any) -> None:  # noqa: N802
        """Called by ``exitControl`` before the state changes; raise to refuse."""

    async def begin_enterControl(self, data: Any) -> None:  # noqa: N802
        """Called by ``enterControl`` before the state changes; raise to refuse."""

    async def end_start(self, data: Any) -> None:
        """Called by ``start`` after the state changes; raise to revert."""

    async def end_enable(self, data: Any) -> None:
        """Called by ``enable`` after the state changes; raise to revert."""

    async def end_disable(self, data: Any) -> None:
        """Called by ``disable`` after the state changes; raise to revert."""

    async def end_standby(self, data: Any) -> None:
        """Called by ``standby`` after the state changes; raise to revert."""

    async def end_exitControl(self, data: Any) -> None:  # noqa: N802
        """Called by ``exitControl`` after the state changes; raise to revert."""

    async def end_enterControl(self, data: Any) -> None:  # noqa: N802
        """Called by ``enterControl`` after the state changes; raise to revert."""

    async def _close_after_delay(self) -> None:
        await asyncio.sleep(self.shutdown_delay)
        await self.close()

    async def close_tasks(self) -> None:
        """Cancel the shutdown task (unless it is what is closing the CSC)."""
        await super().close_tasks()
        task = self._shutdown_task
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    # Command line

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add arguments to the parser of `make_from_cmd_line` (none here).

        Parameters
        ----------
        parser : `argparse.ArgumentParser`
            The parser.
        """

    @classmethod
    def add_kwargs_from_args(cls, args: argparse.Namespace, kwargs: dict[str, Any]) -> None:
        """Add constructor arguments from the parsed command line (none here).

        Parameters
        ----------
        args : `argparse.Namespace`
            Parsed arguments.
        kwargs : `dict` [`str`, `typing.Any`]
            Constructor keyword arguments, to update.
        """

    @classmethod
    def make_from_cmd_line(
        cls,
        index: int | type[enum.IntEnum] | bool | None,
        check_if_duplicate: bool = False,
        args: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> "BaseCsc":
        """Build the CSC from command-line arguments.

        Parameters
        ----------
        index : `int`, `enum.IntEnum` class, `True` or `None`
            `True`: a required positional ``index`` argument (any nonzero
            index); an `enum.IntEnum` class: a required ``index`` among its
            values; a nonzero int: that index; None or 0: not indexed.
        check_if_duplicate : `bool`, optional
            Set the CSC's ``check_if_duplicate``.
        args : sequence of `str`, optional
            Arguments to parse; ``sys.argv[1:]`` if None (not a salobj
            argument; for tests).
        **kwargs : `typing.Any`
            More constructor arguments.

        Returns
        -------
        csc : `BaseCsc`
            The CSC (starting).

        Notes
        -----
        Arguments: ``index`` (see above), ``--loglevel``, ``--state``
        (if `enable_cmdline_state`), ``--simulate`` (if more than one
        simulation mode), ``--version``, and those of `add_arguments`.
        """
        parser = argparse.ArgumentParser(f"Run {cls.__name__}")
        if index is True:
            parser.add_argument("index", type=int, help="SAL index.")
        elif isinstance(index, type) and issubclass(index, enum.IntEnum):
            choices = [int(item.value) for item in index]
            names = ", ".join(f"{item.value}: {item.name.lower()}" for item in index)
            parser.add_argument("index", type=int, choices=choices, help=f"SAL index, one of: {names}")
        parser.add_argument("--loglevel", type=int, help="log level: error=40, warning=30, info=20, debug=10")
        if cls.enable_cmdline_state:
            parser.add_argument(
                "--state",
                choices=["offline", "standby", "disabled", "enabled"],
                dest="initial_state",
                help="initial state",
            )
        modes = list(cls.valid_simulation_modes)
        add_simulate = len(modes) > 1
        if add_simulate:
            default_mode = 0 if 0 in modes else modes[0]
            if default_mode == 0 and len(modes) == 2:
                other = next(mode for mode in modes if mode != 0)
                parser.add_argument(
                    "--simulate",
                    action="store_const",
                    const=other,
                    default=0,
                    help=cls.simulation_help or "Run in simulation mode?",
                )
            else:
                parser.add_argument(
                    "--simulate",
                    type=int,
                    choices=modes,
                    default=default_mode,
                    help=cls.simulation_help or "Simulation mode",
                )
        parser.add_argument("--version", action="version", version=cls.version)
        cls.add_arguments(parser)
        parsed = parser.parse_args(args)
        if hasattr(parsed, "index"):
            kwargs["index"] = parsed.index
        elif index and index is not True:
            kwargs["index"] = int(index)  # type: ignore[arg-type]
        if add_simulate:
            kwargs["simulation_mode"] = parsed.simulate
        state_name = getattr(parsed, "initial_state", None)
        if state_name is not None:
            kwargs["initial_state"] = State[state_name.upper()]
        cls.add_kwargs_from_args(args=parsed, kwargs=kwargs)
        csc = cls(**kwargs)
        csc.check_if_duplicate = check_if_duplicate
        if parsed.loglevel is not None:
            csc.log.setLevel(parsed.loglevel)
        return csc

    @classmethod
    async def amain(cls, index: int | type[enum.IntEnum] | bool | None, **kwargs: Any) -> None:
        """Build the CSC from the command line and run it until it closes.

        Parameters
        ----------
        index : `int`, `enum.IntEnum` class, `True` or `None`
            See `make_from_cmd_line`.
        **kwargs : `typing.Any`
            More constructor arguments.

        Notes
        -----
        Checks for a duplicate instance. SIGINT and SIGTERM close the CSC
        (salobj installs these handlers in every CSC's constructor; here
        only the process entry point does, so tests keep their own).
        """
        csc = cls.make_from_cmd_line(index=index, check_if_duplicate=True, **kwargs)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, csc.signal_handler)
        try:
            await csc.done_task
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await csc.close()

    def signal_handler(self) -> None:
        """Handle SIGINT or SIGTERM: close the CSC."""
        self.log.info("Received a termination signal; closing")
        if self._shutdown_task is None or self._shutdown_task.done():
            self._shutdown_task = asyncio.create_task(self.close())
