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


"""Drive one SAL script through a `Remote`, as a script queue does.

`run_loaded_script` runs a script class in this process; `run_script_process`
starts a script file as its own process (``python SCRIPT INDEX``) over DDS
and reports a process that exits, or stops beating, without a final state.
Both send ``setLogLevel``, ``configure``, ``setGroupId`` and ``run``, stop
the script on SIGINT or SIGTERM, and return its exit code; `ScriptMonitor`
prints its log messages and state changes as they arrive. ``run_one_script``
(`lsst.ts.calibrations.sal.run_one_script`) is the command built on them.
"""

__all__ = [
    "CLOSE_TIMEOUT",
    "CONFIGURE_TIMEOUT",
    "SCRIPT_HEARTBEAT_INTERVAL",
    "SCRIPT_MAX_MISSED_HEARTBEATS",
    "START_TIMEOUT",
    "STD_TIMEOUT",
    "ScriptMonitor",
    "run_loaded_script",
    "run_script_process",
]

import asyncio
import datetime
import logging
import os
import pathlib
import signal
import sys
import typing

from .base import AckError, ScriptState, current_tai
from .base_script import FINAL_STATES, SUCCESS_STATES, BaseScript
from .domain import Domain
from .heartbeat_monitor import HeartbeatMonitor
from .remote import Remote
from .transport_choice import TRANSPORT_ENV

STD_TIMEOUT = 10.0
"""Time limit (seconds) for quick commands (setLogLevel, setGroupId, stop)."""

CONFIGURE_TIMEOUT = 600.0
"""Time limit (seconds) for the configure command."""

START_TIMEOUT = 60.0
"""Time limit (seconds) for the script to start."""

CLOSE_TIMEOUT = 30.0
"""Time limit (seconds) for the script to close after its final state."""


def _tai_iso() -> str:
    """Return the current TAI time as ISO-8601 text (the group ID)."""
    tai = datetime.datetime.fromtimestamp(current_tai(), datetime.UTC).replace(tzinfo=None)
    return tai.isoformat(timespec="milliseconds")


class ScriptMonitor:
    """Print a script's log messages and state changes; track its state.

    Parameters
    ----------
    stream : `typing.TextIO`
        Where to print.
    show_tracebacks : `bool`
        Print tracebacks as they arrive; otherwise keep them and print
        them only if the script fails.

    Attributes
    ----------
    state : `ScriptState`
        The last state received.
    reason : `str`
        The reason of the last state.
    final_state : `asyncio.Future`
        Done with the first final state received.
    tracebacks : `list` [`str`]
        Tracebacks kept to print if the script fails.
    """

    def __init__(self, stream: typing.TextIO, show_tracebacks: bool) -> None:
        self.stream = stream
        self.show_tracebacks = show_tracebacks
        self.tracebacks: list[str] = []
        self.state = ScriptState.UNKNOWN
        self.reason = ""
        self.final_state: asyncio.Future[ScriptState] = asyncio.get_running_loop().create_future()

    def print(self, text: str) -> None:
        """Print a line and flush it."""
        print(text, file=self.stream, flush=True)

    def log_callback(self, data: typing.Any) -> None:
        """Print one ``logMessage`` event."""
        now = datetime.datetime.now().time().isoformat(timespec="milliseconds")
        self.print(f"{now} {logging.getLevelName(data.level)} {data.name}: {data.message}")
        if data.traceback:
            if self.show_tracebacks:
                self.print(data.traceback.rstrip())
            else:
                self.tracebacks.append(data.traceback.rstrip())

    def state_callback(self, data: typing.Any) -> None:
        """Record and print a ``state`` event."""
        state = ScriptState(data.state)
        if state != self.state:
            self.print(f"script state {state.name}" + (f": {data.reason}" if data.reason else ""))
        self.state = state
        self.reason = data.reason
        if state in FINAL_STATES and not self.final_state.done():
            self.final_state.set_result(state)


async def run_loaded_script(
    script_class: type[BaseScript],
    index: int,
    config: str,
    loglevel: int | None,
    monitor: "ScriptMonitor",
    handle_signals: bool,
) -> int:
    """Run a loaded script class in this process, through a Remote; return its exit code.

    Parameters
    ----------
    script_class : `type` [`BaseScript`]
        The script class, constructed here with ``index``.
    index : `int`
        SAL index of the script.
    config : `str`
        Configuration as YAML text, sent as typed ("" for none).
    loglevel : `int` or `None`
        Log level to set first; None to leave it.
    monitor : `ScriptMonitor`
        Prints what the script says and tracks its state.
    handle_signals : `bool`
        Send ``stop`` on SIGINT or SIGTERM.

    Returns
    -------
    exit_code : `int`
        0 if the final state is DONE or STOPPED, else 1.
    """
    async with Domain() as domain, Remote(domain, "Script", index) as remote:
        remote.evt_logMessage.callback = monitor.log_callback
        remote.evt_state.callback = monitor.state_callback
        with _StopOnSignal(remote, monitor, handle_signals) as stop:
            # Script classes are constructed from the index alone, as by `BaseScript.amain`.
            script_instance = typing.cast(typing.Callable[..., BaseScript], script_class)(index=index)
            try:
                await asyncio.wait_for(script_instance.start_task, timeout=START_TIMEOUT)
                await _drive(remote, monitor, config=config, loglevel=loglevel, stopping=stop.requested)
                await monitor.final_state
                try:
                    await asyncio.wait_for(asyncio.shield(script_instance.done_task), timeout=CLOSE_TIMEOUT)
                except Exception:
                    # The script failed while exiting; its final state says so.
                    pass
            finally:
                await script_instance.close()
    return _report_final_state(monitor)


class _StopOnSignal:
    """While active, SIGINT and SIGTERM send the script a stop command (once).

    Parameters
    ----------
    remote : `Remote`
        The script's Remote.
    monitor : `ScriptMonitor`
        Where to say what happens.
    enabled : `bool`
        Install the handlers (False: a context that does nothing).
    """

    def __init__(self, remote: Remote, monitor: "ScriptMonitor", enabled: bool) -> None:
        self.remote = remote
        self.monitor = monitor
        self.signals = (signal.SIGINT, signal.SIGTERM) if enabled else ()
        self.stop_requested = False
        self.background: set[asyncio.Task[None]] = set()
        self.loop = asyncio.get_running_loop()

    def requested(self) -> bool:
        """Return True once a signal asked the script to stop."""
        return self.stop_requested

    async def _send_stop(self) -> None:
        try:
            await self.remote.cmd_stop.start(timeout=STD_TIMEOUT)
        except AckError as e:
            self.monitor.print(f"stop command failed: {e}")

    def _on_signal(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self.stop_requested:
            self.monitor.print(f"received {name} again; still waiting for the script to stop")
            return
        self.stop_requested = True
        self.monitor.print(f"received {name}; stopping the script")
        task = asyncio.create_task(self._send_stop())
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    def __enter__(self) -> "_StopOnSignal":
        for signum in self.signals:
            self.loop.add_signal_handler(signum, self._on_signal, signum)
        return self

    def __exit__(self, *args: typing.Any) -> None:
        for signum in self.signals:
            self.loop.remove_signal_handler(signum)
        for task in self.background:
            task.cancel()


def _report_final_state(monitor: "ScriptMonitor") -> int:
    """Print the script's final state (and its tracebacks if it failed); return the exit code."""
    final = monitor.final_state.result()
    if final not in SUCCESS_STATES and monitor.tracebacks:
        monitor.print("\n".join(monitor.tracebacks))
    monitor.print(f"final state {final.name}" + (f"; reason: {monitor.reason}" if monitor.reason else ""))
    return 0 if final in SUCCESS_STATES else 1


SCRIPT_HEARTBEAT_INTERVAL = 5.0
"""Heartbeat interval (seconds) of a script (`BaseScript.heartbeat_interval`)."""

SCRIPT_MAX_MISSED_HEARTBEATS = 3
"""A script process that misses this many heartbeats is reported as stopped."""


async def run_script_process(
    path: pathlib.Path,
    index: int,
    config: str,
    loglevel: int | None,
    monitor: "ScriptMonitor",
    handle_signals: bool,
) -> int:
    """Run a script file as its own process over DDS; return its exit code.

    The process is started as a script queue starts it (``SCRIPT INDEX``,
    here with this Python), then driven through a `Remote`. A process that
    exits, or stops beating, without a final state is reported: exit code 1.

    Parameters
    ----------
    path : `pathlib.Path`
        The script file.
    index : `int`
        SAL index of the script.
    config : `str`
        Configuration as YAML text, sent as typed ("" for none).
    loglevel : `int` or `None`
        Log level to set first; None to leave it.
    monitor : `ScriptMonitor`
        Prints what the script says and tracks its state.
    handle_signals : `bool`
        Send ``stop`` on SIGINT or SIGTERM.

    Returns
    -------
    exit_code : `int`
        0 if the final state is DONE or STOPPED, else 1.
    """
    loop = asyncio.get_running_loop()
    from .dds_transport import DdsTransport

    async with (
        Domain(transport=DdsTransport(loop)) as domain,
        Remote(domain, "Script", index) as remote,
        HeartbeatMonitor(
            domain,
            "Script",
            index,
            interval=SCRIPT_HEARTBEAT_INTERVAL,
            max_missed=SCRIPT_MAX_MISSED_HEARTBEATS,
        ) as heartbeat,
    ):
        remote.evt_logMessage.callback = monitor.log_callback
        remote.evt_state.callback = monitor.state_callback
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(path), str(index), env=dict(os.environ, **{TRANSPORT_ENV: "dds"})
        )
        monitor.print(f"script process {process.pid} started")
        exited = asyncio.create_task(process.wait())
        stopped_beating = asyncio.create_task(heartbeat.wait_stopped())

        drive_task: asyncio.Task[None] | None = None
        try:
            with _StopOnSignal(remote, monitor, handle_signals) as stop:
                async with asyncio.timeout(START_TIMEOUT):
                    while monitor.state == ScriptState.UNKNOWN and not exited.done():
                        await asyncio.wait({exited}, timeout=0.05)
                transport = domain.transport
                wait_for_readers = getattr(transport, "wait_for_readers", None)
                if wait_for_readers is not None and not exited.done():
                    await wait_for_readers("Script", "command_configure", START_TIMEOUT)
                if not exited.done():
                    drive_task = asyncio.create_task(
                        _drive(remote, monitor, config=config, loglevel=loglevel, stopping=stop.requested)
                    )
                    waits: set[asyncio.Future[typing.Any]] = {monitor.final_state, exited, stopped_beating}
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                if monitor.final_state.done():
                    try:
                        await asyncio.wait_for(asyncio.shield(exited), CLOSE_TIMEOUT)
                    except TimeoutError:
                        monitor.print(
                            f"script process {process.pid} did not exit after its final state; killing it"
                        )
                elif exited.done():
                    # A final state may still be in flight: give it a moment.
                    try:
                        await asyncio.wait_for(asyncio.shield(monitor.final_state), 1.0)
                    except TimeoutError:
                        pass
        finally:
            for task in (drive_task, stopped_beating):
                if task is not None:
                    task.cancel()
            if process.returncode is None:
                process.kill()
                await process.wait()
    if not monitor.final_state.done():
        code = process.returncode
        how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
        if stopped_beating.done() and not stopped_beating.cancelled() and not exited.done():
            how = f"stopped beating (no heartbeat for {heartbeat.timeout:.0f} s) and was killed"
        monitor.print(
            f"script process {process.pid} {how} without a final state (last state {monitor.state.name})"
        )
        return 1
    return _report_final_state(monitor)


async def _drive(
    remote: Remote,
    monitor: ScriptMonitor,
    *,
    config: str,
    loglevel: int | None,
    stopping: typing.Callable[[], bool],
) -> None:
    """Send setLogLevel, configure, setGroupId and run, as a script queue
    does; stop sending once the script ends or a stop was requested.
    """

    def done() -> bool:
        return stopping() or monitor.final_state.done()

    try:
        if loglevel is not None and not done():
            await remote.cmd_setLogLevel.set_start(level=loglevel, timeout=STD_TIMEOUT)
        if not done():
            await remote.cmd_configure.set_start(config=config, timeout=CONFIGURE_TIMEOUT)
        if not done():
            group_id = _tai_iso()
            monitor.print(f"group ID {group_id}")
            await remote.cmd_setGroupId.set_start(groupId=group_id, timeout=STD_TIMEOUT)
        if not done():
            # The run acknowledgement arrives when the run has ended;
            # the final state event is what ends the wait.
            run_task = asyncio.create_task(remote.cmd_run.start(timeout=None))
            await asyncio.wait({run_task, monitor.final_state}, return_when=asyncio.FIRST_COMPLETED)
            if run_task.done():
                run_task.result()
            else:
                run_task.cancel()
    except AckError as e:
        if not done():
            monitor.print(f"command failed: {e}; stopping the script")
            await remote.cmd_stop.start(timeout=STD_TIMEOUT)
