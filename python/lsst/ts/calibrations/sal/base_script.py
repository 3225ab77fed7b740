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

"""BaseScript: the base class of SAL scripts (salobj 8 semantics)."""

from __future__ import annotations

__all__ = ["BaseScript"]

import abc
import argparse
import asyncio
import enum
import re
import signal
import sys
import types
import typing
from collections.abc import Sequence

import jsonschema
import yaml

from .base import ExpectedError, ScriptState, current_tai
from .config_problem import ConfigProblem
from .config_yaml import read_and_validate_config
from .controller import Controller
from .defaulting_validator import DefaultingValidator
from .transport_choice import standalone_transport

FINAL_STATES = frozenset(
    {ScriptState.DONE, ScriptState.STOPPED, ScriptState.FAILED, ScriptState.CONFIGURE_FAILED}
)
"""Script states from which a script never leaves."""

SUCCESS_STATES = frozenset({ScriptState.DONE, ScriptState.STOPPED})
"""Final states for which the process exit code is 0."""


class _MetadataCoordSys(enum.IntEnum):
    """Values of the ``metadata.coordinateSystem`` field (ts_xml Script enums)."""

    NONE = 1
    ICRS = 2
    OBSERVED = 3
    MOUNT = 4


class _MetadataRotSys(enum.IntEnum):
    """Values of the ``metadata.rotationSystem`` field (ts_xml Script enums)."""

    NONE = 1
    SKY = 2
    HORIZON = 3
    MOUNT = 4


class _MetadataDome(enum.IntEnum):
    """Values of the ``metadata.dome`` field (ts_xml Script enums)."""

    CLOSED = 1
    OPEN = 2
    EITHER = 3


class BaseScript(Controller, abc.ABC):
    """Base class of SAL scripts: a ``Script`` controller that is configured,
    run once, and exits.

    Parameters
    ----------
    index : `int`
        SAL index of the ``Script`` component; non-zero and unique among
        the scripts running (index 0 would address every script).
    descr : `str`
        Short description of what the script does, for operator display.
    help : `str`, optional
        Detailed help (Markdown); need not repeat the schema's descriptions.

    Raises
    ------
    ValueError
        If ``index`` is 0.
    jsonschema.exceptions.SchemaError
        If `get_schema` returns an invalid schema.

    Attributes
    ----------
    config_validator : `DefaultingValidator` or `None`
        Validator of the configuration; `None` if the script has no
        configuration (`get_schema` returns `None`).
    timestamps : `dict` [`ScriptState`, `float`]
        TAI unix time at which each state was entered.
    final_state_delay : `float`
        Time (seconds) between writing the final state and closing, so
        the last acknowledgement and events reach their readers.

    Notes
    -----
    States and transitions:

    * start → UNCONFIGURED;
    * ``configure`` → CONFIGURED, or CONFIGURE_FAILED and exit (code 1);
    * ``run`` → RUNNING, then: `run` returns → ENDING → DONE;
      cancelled (``stop``, a stop checkpoint, SIGTERM/SIGINT) → STOPPING
      → STOPPED; raises → FAILING → FAILED;
    * a pause checkpoint → PAUSED → ``resume`` → RUNNING;
    * ``stop`` (or a signal) before ``run`` → STOPPING → STOPPED; one
      that arrives while the script is still starting takes effect once
      it has started (UNCONFIGURED → STOPPING → STOPPED);
    * `cleanup` runs at the end of every run (DONE, STOPPED, FAILED); if
      it raises the final state is FAILED ("failed in _exit: ...").

    The process exit code (`exit_code`) is 0 for DONE or STOPPED, else 1.
    """

    heartbeat_interval: float | None = 5.0
    """Interval (seconds) between ``heartbeat`` events, as in salobj."""

    def __init__(self, index: int, descr: str, help: str = "") -> None:
        if index == 0:
            raise ValueError("index must be nonzero: index 0 would address every script")
        schema = self.get_schema()
        self.config_validator: DefaultingValidator | None = (
            None if schema is None else DefaultingValidator(schema)
        )
        self.explicit_config_keys: frozenset[str] = frozenset()
        """Top-level options the operator set in the configuration, before
        defaults were filled (empty until ``configure``)."""
        self._run_task: asyncio.Task[None] | None = None
        self._pause_future: asyncio.Future[None] | None = None
        self._final_close_task: asyncio.Task[None] | None = None
        self._signal_stop_task: asyncio.Task[None] | None = None
        self._stop_reason = ""
        self._sub_group_id = 0
        self._is_exiting = False
        self._run_started = False
        self.final_state_delay = 0.05
        self.num_checkpoints = 0
        self.last_checkpoint = ""
        self.timestamps: dict[ScriptState, float] = {}

        super().__init__("Script", index, do_callbacks=True)

        self.evt_description.set(classname=type(self).__name__, description=str(descr), help=str(help))

    # ------------------------------------------------------------------
    # Abstract API for subclasses

    @classmethod
    @abc.abstractmethod
    def get_schema(cls) -> dict[str, typing.Any] | None:
        """Return the JSON schema (draft 7) of the configuration, as a dict.

        Give a default to every property for which one makes sense.
        Return `None` if the script has no configuration; then the
        ``config`` field of the ``configure`` command must be empty.
        """
        raise NotImplementedError()

    @abc.abstractmethod
    async def configure(self, config: types.SimpleNamespace) -> None:
        """Configure the script.

        Parameters
        ----------
        config : `types.SimpleNamespace`
            The validated configuration with defaults filled in (top-level
            items as attributes, nested objects as dicts).

        Notes
        -----
        Called by `do_configure` in state UNCONFIGURED. Raise to reject the
        configuration (`ExpectedError` for an operator's mistake).
        """
        raise NotImplementedError()

    async def check_and_configure(
        self, config: types.SimpleNamespace, problems: Sequence[ConfigProblem]
    ) -> None:
        """Configure the script, or refuse the configuration with all its problems at once.

        Called by `do_configure` with the configuration as far as it could
        be read and validated, and the problems found in its text and by
        the schema. This implementation refuses if there is any problem and
        otherwise calls `configure`. A script that checks more (rules
        between options, resources outside the script) overrides it to add
        its own problems to ``problems``, skipping the options they already
        name, so that the operator gets every problem in one answer.

        Parameters
        ----------
        config : `types.SimpleNamespace`
            The configuration with defaults filled in; an option named by a
            problem is at its default (an unknown one is left out).
        problems : `~collections.abc.Sequence` [`ConfigProblem`]
            Problems found so far.

        Raises
        ------
        ExpectedError
            If there is any problem (`ConfigProblem.describe_all`).
        """
        if problems:
            raise ExpectedError(ConfigProblem.describe_all(problems))
        await self.configure(config)

    def read_configuration(
        self, config_yaml: str
    ) -> tuple[dict[str, typing.Any] | None, list[ConfigProblem]]:
        """Read and validate the configuration text, finding every problem of the text and the schema.

        Sets `explicit_config_keys` to the options written.

        Parameters
        ----------
        config_yaml : `str`
            The ``config`` field of the ``configure`` command.

        Returns
        -------
        config : `dict` or `None`
            The configuration with defaults filled in, options with a problem
            at their default; `None` if the text cannot be read as options.
        problems : `list` [`ConfigProblem`]
            Problems of the text then of the schema, an unknown option with
            its line (`read_and_validate_config`).
        """
        config, self.explicit_config_keys, problems = read_and_validate_config(
            config_yaml, self.config_validator
        )
        return config, problems

    @abc.abstractmethod
    def set_metadata(self, metadata: typing.Any) -> None:
        """Set the fields of the ``metadata`` event for this configuration.

        Parameters
        ----------
        metadata : ``evt_metadata.DataType``
            Metadata prefilled with neutral values (coordinateSystem NONE,
            rotationSystem NONE, filters "", dome EITHER, duration 0); set
            those fields you know, e.g. ``duration`` (seconds).
        """
        raise NotImplementedError()

    @abc.abstractmethod
    async def run(self) -> None:
        """Run the script.

        Await `checkpoint` at each point where the script may pause or
        stop. Raise on error (`ExpectedError` to log no traceback).
        """
        raise NotImplementedError()

    async def cleanup(self) -> None:
        """Clean up after a run, whatever its outcome.

        Called at the end of every run: after `run` returns (ENDING), is
        stopped (STOPPING, including by SIGTERM or SIGINT) or raises
        (FAILING). Not called if the script never ran. If it raises the
        final state is FAILED.
        """
        pass

    # ------------------------------------------------------------------
    # Properties

    @property
    def checkpoints(self) -> typing.Any:
        """The ``checkpoints`` event data: ``pause`` and ``stop`` regular
        expressions.
        """
        return self.evt_checkpoints.data

    @property
    def state(self) -> typing.Any:
        """The ``state`` event data (``state``, ``reason``, ``groupId``,
        ``lastCheckpoint``, ``numCheckpoints``, ``blockId``, ...).
        """
        return self.evt_state.data

    @property
    def state_name(self) -> str:
        """Name of the current state."""
        try:
            return ScriptState(self.state.state).name
        except ValueError:
            return f"UNKNOWN({self.state.state})"

    @property
    def group_id(self) -> str:
        """The group ID, or "" if not set."""
        return str(self.evt_state.data.groupId)

    @property
    def obs_id(self) -> str:
        """The block ID given to ``configure``, or "" if none."""
        return str(self.evt_state.data.blockId)

    @property
    def exit_code(self) -> int | None:
        """Process exit code: `None` until a final state is reached, then
        0 for DONE or STOPPED and 1 otherwise.
        """
        state = self.state.state
        if state not in FINAL_STATES:
            return None
        return 0 if state in SUCCESS_STATES else 1

    # ------------------------------------------------------------------
    # Command line

    @classmethod
    def make_parser(cls) -> argparse.ArgumentParser:
        """Make the command-line parser of the script executable.

        Returns
        -------
        parser : `argparse.ArgumentParser`
            Parser with a positional ``index`` and ``--schema``.
        """
        parser = argparse.ArgumentParser(description=f"Run {cls.__name__} as a SAL script.")
        parser.add_argument(
            "index", type=int, help="Script SAL index; non-zero and unique among running scripts."
        )
        parser.add_argument(
            "--schema",
            action="store_true",
            help="Print the configuration schema as YAML and quit without running the script "
            "(the index is required but ignored).",
        )
        return parser

    @classmethod
    def make_from_cmd_line(cls, args: Sequence[str] | None = None, **kwargs: typing.Any) -> BaseScript | None:
        """Make a script from command-line arguments.

        Parameters
        ----------
        args : `list` [`str`], optional
            Command-line arguments; `None` for ``sys.argv[1:]``.
        **kwargs : `typing.Any`
            Keyword arguments for the constructor (not ``index``).

        Returns
        -------
        script : `BaseScript` or `None`
            The script, or `None` if ``--schema`` was given: then the schema
            has been printed as YAML and nothing was built.

        Raises
        ------
        RuntimeError
            If ``kwargs`` contains ``index``.
        """
        if "index" in kwargs:
            raise RuntimeError(f"index must not appear in kwargs={kwargs}; it comes from the command line")
        parsed = cls.make_parser().parse_args(args)
        if parsed.schema:
            schema = cls.get_schema()
            if schema is not None:
                print(yaml.safe_dump(schema, sort_keys=False), end="", flush=True)
            return None
        return cls(index=parsed.index, **kwargs)

    @classmethod
    async def amain(cls, **kwargs: typing.Any) -> None:
        """Run the script from the command line until it exits.

        SIGTERM and SIGINT stop the script (with `cleanup` if it is
        running), also while it is still starting.

        The transport is DDS unless ``LSST_SAL_TRANSPORT`` names another
        (`standalone_transport`): a script executable is its own process,
        driven by a script queue (or ``run_one_script``) in another. A
        transport that cannot reach the process that started this one is
        named (`check_parent_transport`): on ``local`` the process exits.

        Parameters
        ----------
        **kwargs : `typing.Any`
            Keyword arguments for the constructor (not ``index``); ignored
            with ``--schema``.

        Raises
        ------
        SystemExit
            With code 1 if the final state is not DONE or STOPPED (or the
            script failed while closing), or if its transport cannot reach
            the process that started it.
        """
        with standalone_transport("dds"):
            script = cls.make_from_cmd_line(**kwargs)
            if script is None:
                return
            code = await script._run_until_done(handle_signals=True)
        if code != 0:
            sys.exit(code)

    async def _run_until_done(self, handle_signals: bool) -> int:
        """Wait until the script is done and closed; return its exit code.

        Parameters
        ----------
        handle_signals : `bool`
            Stop the script on SIGTERM and SIGINT while waiting.
        """
        loop = asyncio.get_running_loop()
        # SIGTERM last: once its handler is in place (what a supervisor can see in
        # /proc/<pid>/status), the SIGINT handler is too.
        signals = (signal.SIGINT, signal.SIGTERM) if handle_signals else ()
        for signum in signals:
            loop.add_signal_handler(signum, self.stop_by_signal, signum)
        failed_in_close = False
        try:
            await self.done_task
        except Exception:
            failed_in_close = True
        finally:
            for signum in signals:
                loop.remove_signal_handler(signum)
            await self.close()
        code = self.exit_code
        return 1 if code is None or failed_in_close else code

    def stop_by_signal(self, signum: int) -> None:
        """Stop the script because the process received a signal.

        Parameters
        ----------
        signum : `int`
            The signal number (e.g. `signal.SIGTERM`).
        """
        name = signal.Signals(signum).name
        if self._is_exiting:
            self.log.warning(f"Received {name} while exiting; ignored")
            return
        if self._signal_stop_task is not None and not self._signal_stop_task.done():
            self.log.warning(f"Received {name} while already stopping; ignored")
            return
        self.log.warning(f"Received {name}; stopping the script")
        self._stop_reason = f"Stopped by {name}"
        if self._run_task is not None and not self._run_task.done():
            self._run_task.cancel()
        else:
            self._signal_stop_task = asyncio.create_task(self._stop_without_run())

    # ------------------------------------------------------------------
    # Lifecycle

    async def start(self) -> None:
        """Start the controller, wait for the remotes on its Domain, and
        write the initial state (UNCONFIGURED) and the ``description`` event.

        Every Remote built on ``self.domain`` is waited for, as in salobj;
        one built with ``start=False`` is started here (salobj would wait
        for it forever). ``description.remotes`` lists them as
        "Name:index", sorted.
        """
        await super().start()
        others = [salinfo for salinfo in self.domain.salinfos if salinfo is not self.salinfo]
        await asyncio.gather(*(salinfo.start() for salinfo in others))
        remote_names = sorted({f"{salinfo.name}:{salinfo.index}" for salinfo in others})
        await self.set_state(ScriptState.UNCONFIGURED)
        await self.evt_description.set_write(remotes=",".join(remote_names), force_output=True)

    async def close_tasks(self) -> None:
        """Cancel the run and pause tasks."""
        self._is_exiting = True
        await super().close_tasks()
        for task in (self._run_task, self._pause_future):
            if task is not None and not task.done():
                task.cancel()

    # ------------------------------------------------------------------
    # State

    async def set_state(
        self,
        state: ScriptState | int | None = None,
        reason: str | None = None,
        keep_old_reason: bool = False,
        force_output: bool = False,
    ) -> None:
        """Set and write the ``state`` event.

        Parameters
        ----------
        state : `ScriptState` or `int`, optional
            New state; `None` to keep the current one.
        reason : `str`, optional
            Reason for the state; `None` for "" (or, with
            ``keep_old_reason``, to keep the current reason).
        keep_old_reason : `bool`, optional
            Keep the current reason, appending ``reason`` after "; ".
        force_output : `bool`, optional
            Write the event even if nothing changed.

        Notes
        -----
        ``lastCheckpoint`` and ``numCheckpoints`` are always updated from
        `last_checkpoint` and `num_checkpoints`.
        """
        kwargs: dict[str, typing.Any] = dict(
            lastCheckpoint=self.last_checkpoint, numCheckpoints=self.num_checkpoints
        )
        if state is not None:
            state = ScriptState(state)
            self.timestamps[state] = current_tai()
            kwargs["state"] = state
        old_reason = str(self.evt_state.data.reason)
        if keep_old_reason:
            if reason:
                kwargs["reason"] = f"{old_reason}; {reason}" if old_reason else reason
        else:
            kwargs["reason"] = reason or ""
        await self.evt_state.set_write(force_output=force_output, **kwargs)

    def assert_state(self, action: str, states: Sequence[ScriptState]) -> None:
        """Raise `ExpectedError` unless the state is one of ``states`` and
        the script is not exiting.

        Parameters
        ----------
        action : `str`
            What is being attempted, for the error message.
        states : `list` [`ScriptState`]
            Allowed states.
        """
        if self._is_exiting:
            raise ExpectedError(f"Cannot {action}: the script is exiting")
        if self.state.state not in states:
            allowed = ", ".join(state.name for state in states)
            raise ExpectedError(f"Cannot {action}: state is {self.state_name}, not {allowed}")

    async def checkpoint(self, name: str = "") -> None:
        """Await this in `run` wherever the script may pause or stop.

        Parameters
        ----------
        name : `str`, optional
            Name of the checkpoint. An unnamed checkpoint ("") is counted
            but never pauses or stops the script.

        Raises
        ------
        RuntimeError
            If the state is not RUNNING (called from outside `run`).
        asyncio.CancelledError
            If ``name`` matches the stop pattern (the script stops).
        """
        if self.state.state != ScriptState.RUNNING:
            raise RuntimeError(
                f"checkpoint({name!r}) called in state {self.state_name}; "
                "checkpoints may only be awaited in `run` (state RUNNING)"
            )
        if self._run_task is None or self._run_task.done():
            raise RuntimeError("checkpoint called while RUNNING but with no run task")
        self.num_checkpoints += 1
        self.last_checkpoint = name
        stop_pattern = self.checkpoints.stop
        pause_pattern = self.checkpoints.pause
        if name and stop_pattern and re.fullmatch(stop_pattern, name):
            self._stop_reason = f"Stopped at checkpoint {name!r}, which matches stop pattern {stop_pattern!r}"
            await self.set_state(ScriptState.STOPPING, reason=self._stop_reason)
            raise asyncio.CancelledError(self._stop_reason)
        if name and pause_pattern and re.fullmatch(pause_pattern, name):
            self._pause_future = asyncio.get_running_loop().create_future()
            await self.set_state(
                ScriptState.PAUSED,
                reason=f"Paused at checkpoint {name!r}, which matches pause pattern {pause_pattern!r}",
            )
            await self._pause_future
            await self.set_state(ScriptState.RUNNING)
        else:
            await self.set_state(force_output=True)
            await asyncio.sleep(0)

    def next_supplemented_group_id(self) -> str:
        """Return the group ID supplemented with a new subgroup number:
        ``f"{group_id}#{n}"``, n = 1, 2, ... (reset by ``setGroupId``).

        Raises
        ------
        RuntimeError
            If no group ID is set.
        """
        if not self.group_id:
            raise RuntimeError("No group ID: the setGroupId command has not been received")
        self._sub_group_id += 1
        return f"{self.group_id}#{self._sub_group_id}"

    # ------------------------------------------------------------------
    # Command handlers

    async def do_configure(self, data: typing.Any) -> None:
        """Configure the script (state UNCONFIGURED → CONFIGURED).

        Parameters
        ----------
        data : ``cmd_configure.DataType``
            ``config`` (YAML), ``logLevel`` (0 = unchanged),
            ``pauseCheckpoint``, ``stopCheckpoint``, ``blockId``,
            ``executionId``.

        Raises
        ------
        ExpectedError
            If the state is not UNCONFIGURED, or the configuration is
            rejected: then the state is CONFIGURE_FAILED with reason
            ``config(<yaml>) failed: <error>`` and the script exits.
        """
        self.assert_state("configure", [ScriptState.UNCONFIGURED])
        config_yaml = str(data.config)
        try:
            self._check_regex("pauseCheckpoint", data.pauseCheckpoint)
            self._check_regex("stopCheckpoint", data.stopCheckpoint)
            config_dict, problems = self.read_configuration(config_yaml)
            if config_dict is None:
                raise ExpectedError(ConfigProblem.describe_all(problems))
            await self.check_and_configure(types.SimpleNamespace(**config_dict), problems)
        except Exception as e:
            message = f"config({config_yaml}) failed: {e}"
            if isinstance(e, ExpectedError | ValueError | jsonschema.ValidationError):
                self.log.error(message)
            else:
                self.log.exception(message)
            await self.set_state(ScriptState.CONFIGURE_FAILED, reason=message)
            await self._exit()
            raise ExpectedError(message) from e

        await self.evt_checkpoints.set_write(
            pause=data.pauseCheckpoint, stop=data.stopCheckpoint, force_output=True
        )
        if data.logLevel != 0:
            self.log.setLevel(data.logLevel)
            await self.evt_logLevel.set_write(level=self.log.getEffectiveLevel(), subsystem="")
        self.evt_metadata.set(
            coordinateSystem=_MetadataCoordSys.NONE,
            rotationSystem=_MetadataRotSys.NONE,
            filters="",
            dome=_MetadataDome.EITHER,
            duration=0.0,
        )
        self.set_metadata(self.evt_metadata.data)
        await self.evt_metadata.write()
        self.evt_state.set(blockId=data.blockId, executionId=data.executionId)
        await self.set_state(ScriptState.CONFIGURED)

    async def do_run(self, data: typing.Any) -> None:
        """Run the script, then exit; the acknowledgement completes when
        the run has ended.

        Parameters
        ----------
        data : ``cmd_run.DataType``
            Unused.

        Raises
        ------
        ExpectedError
            If the state is not CONFIGURED or no group ID is set.
        """
        self.assert_state("run", [ScriptState.CONFIGURED])
        if not self.group_id:
            raise ExpectedError("Group ID not set")
        self._run_started = True
        await self.set_state(ScriptState.RUNNING)
        self._run_task = asyncio.create_task(self.run())
        try:
            await self._run_task
            await self.set_state(ScriptState.ENDING)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                # This command itself was cancelled (the controller is closing).
                raise
            if self.state.state != ScriptState.STOPPING:
                await self.set_state(ScriptState.STOPPING, reason=self._stop_reason or "Stopped by request")
        except Exception as e:
            if not isinstance(e, ExpectedError):
                self.log.exception("Error in run")
            else:
                self.log.error(f"Error in run: {e}")
            await self.set_state(ScriptState.FAILING, reason=f"Error in run: {e}")
        await self._exit()

    async def do_resume(self, data: typing.Any) -> None:
        """Resume a paused script.

        Parameters
        ----------
        data : ``cmd_resume.DataType``
            Unused.

        Raises
        ------
        ExpectedError
            If the state is not PAUSED.
        """
        self.assert_state("resume", [ScriptState.PAUSED])
        if self._pause_future is not None and not self._pause_future.done():
            self._pause_future.set_result(None)

    async def do_setCheckpoints(self, data: typing.Any) -> None:
        """Set the checkpoints at which to pause and stop.

        Parameters
        ----------
        data : ``cmd_setCheckpoints.DataType``
            ``pause`` and ``stop``: regular expressions matched (with
            `re.fullmatch`) against checkpoint names; "" for none.

        Raises
        ------
        ExpectedError
            If a pattern is not a valid regular expression, or the state
            is not UNCONFIGURED, CONFIGURED, RUNNING or PAUSED.
        """
        self.assert_state(
            "setCheckpoints",
            [ScriptState.UNCONFIGURED, ScriptState.CONFIGURED, ScriptState.RUNNING, ScriptState.PAUSED],
        )
        try:
            self._check_regex("pause", data.pause)
            self._check_regex("stop", data.stop)
        except ValueError as e:
            raise ExpectedError(str(e)) from e
        await self.evt_checkpoints.set_write(pause=data.pause, stop=data.stop, force_output=True)

    async def do_setGroupId(self, data: typing.Any) -> None:
        """Set (or clear, with "") the group ID; resets the subgroup count.

        Parameters
        ----------
        data : ``cmd_setGroupId.DataType``
            ``groupId``.

        Raises
        ------
        ExpectedError
            If the state is not CONFIGURED.
        """
        self.assert_state("setGroupId", [ScriptState.CONFIGURED])
        await self.evt_state.set_write(groupId=data.groupId, force_output=True)
        self._sub_group_id = 0

    async def do_stop(self, data: typing.Any) -> None:
        """Stop the script: cancel the run if running (then clean up),
        else go to STOPPED directly. A no-op if the script is exiting.

        Parameters
        ----------
        data : ``cmd_stop.DataType``
            Unused.
        """
        if self._is_exiting:
            return
        self._stop_reason = "Stopped by the stop command"
        if self._run_task is not None and not self._run_task.done():
            self._run_task.cancel()
        else:
            await self._stop_without_run()

    # ------------------------------------------------------------------
    # Internals

    @staticmethod
    def _check_regex(name: str, pattern: str) -> None:
        """Raise `ValueError` if ``pattern`` is not a valid regex."""
        try:
            re.compile(pattern)
        except re.error as e:
            raise ValueError(f"{name}={pattern!r} is not a valid regular expression: {e}") from e

    async def _stop_without_run(self) -> None:
        """Go to STOPPING and exit, for a script that is not running.

        A stop that arrives while the script is still starting (over DDS
        start takes a second or more) waits until the start has finished,
        so the states are UNCONFIGURED, STOPPING, STOPPED, as for a stop
        before ``run``. If the start fails or is cancelled nothing is
        written: the controller is closing already.
        """
        if self._is_exiting:
            return
        if not self.start_task.done():
            self.log.info("Stop requested while starting; stopping once started")
            # asyncio.wait, not await: cancelling this task must not cancel the start.
            await asyncio.wait([self.start_task])
            if self.start_task.cancelled() or self.start_task.exception() is not None:
                return
            if self._is_exiting:
                return
        await self.set_state(ScriptState.STOPPING, reason=self._stop_reason)
        await self._exit()

    async def _exit(self) -> None:
        """Run `cleanup` (if the script ran), write the final state, then
        close the controller after `final_state_delay`.
        """
        if self._is_exiting:
            return
        self._is_exiting = True
        exception: Exception | None = None
        try:
            if self._run_started:
                await self.cleanup()
            final_state = {
                ScriptState.ENDING: ScriptState.DONE,
                ScriptState.STOPPING: ScriptState.STOPPED,
                ScriptState.FAILING: ScriptState.FAILED,
                ScriptState.CONFIGURE_FAILED: ScriptState.CONFIGURE_FAILED,
            }.get(ScriptState(self.state.state))
            reason = None
            if final_state is None:
                reason = f"unexpected state for _exit {self.state_name}"
                final_state = ScriptState.FAILED
            self.log.info(f"Setting final state to {final_state.name}")
            await self.set_state(final_state, reason=reason, keep_old_reason=True)
        except Exception as e:
            exception = e
            if isinstance(e, ExpectedError):
                self.log.error(f"failed in _exit: {e}")
            else:
                self.log.exception("failed in _exit")
            await self.set_state(ScriptState.FAILED, reason=f"failed in _exit: {e}", keep_old_reason=True)
        self._final_close_task = asyncio.create_task(self._close_after_delay(exception))

    async def _close_after_delay(self, exception: Exception | None) -> None:
        """Close after `final_state_delay`, so the last acknowledgement
        and events are delivered first.
        """
        await asyncio.sleep(self.final_state_delay)
        await self.close(exception=exception)
