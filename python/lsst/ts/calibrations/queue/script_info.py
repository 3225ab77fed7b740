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

"""One script of the queue: its process, its commands and what is known of its state."""

__all__ = ["ScriptInfo"]

import asyncio
import logging
import pathlib
import signal
import sys
import typing
from collections.abc import Awaitable, Callable

from ..sal import Domain, Remote, ScriptState, current_tai
from .base import ScriptProcessState

CONFIGURE_TIMEOUT = 600.0
"""Time limit (seconds) for the ``configure`` command (a script may check a repository)."""

READERS_TIMEOUT = 60.0
"""Time limit (seconds) for a new script's command readers to be reached."""

SET_GROUP_ID_TIMEOUT = 10.0
"""Time limit (seconds) for the ``setGroupId`` command."""

TERMINATE_TIMEOUT = 5.0
"""Time (seconds) a script has to exit after SIGTERM before it is killed."""

COMMANDS_SENT = ("configure", "setGroupId", "run", "stop")
"""The Script commands a queue sends."""

ScriptCallback = Callable[["ScriptInfo"], Awaitable[None]]


class ScriptInfo:
    """A script on the queue: its process and its state.

    Parameters
    ----------
    log : `logging.Logger`
        Parent logger.
    domain : `Domain`
        The queue's Domain (DDS); a `Remote` on it sends this script's
        commands.
    index : `int`
        SAL index of the script.
    seq_num : `int`
        Sequence number of the command that queued the script.
    is_standard : `bool`
        Standard (True) or external (False) script?
    path : `str`
        Path relative to its root.
    config : `str`
        Configuration (YAML text), sent as given.
    descr : `str`
        Why the script is run.
    log_level : `int`, optional
        Log level for the script; 0 to leave it.
    pause_checkpoint : `str`, optional
        Checkpoints (regular expression) at which to pause.
    stop_checkpoint : `str`, optional
        Checkpoints (regular expression) at which to stop.

    Attributes
    ----------
    script_state : `int`
        The last `ScriptState` the script reported; 0 before it loads.
    reason : `str`
        The reason given with that state.
    group_id : `str`
        The group ID the script has been given; "" if none.
    metadata : ``Script`` ``metadata`` data or `None`
        The script's last metadata event.
    process : `asyncio.subprocess.Process` or `None`
        The script's process, once started.
    timestamp_process_start, timestamp_configure_start,
    timestamp_configure_end, timestamp_run_start,
    timestamp_process_end : `float`
        TAI times (unix seconds) of those moments; 0 before.
    callback : async callable or `None`
        Called with this ScriptInfo whenever something of it changes.
    """

    def __init__(
        self,
        *,
        log: logging.Logger,
        domain: Domain,
        index: int,
        seq_num: int,
        is_standard: bool,
        path: str,
        config: str,
        descr: str,
        log_level: int = 0,
        pause_checkpoint: str = "",
        stop_checkpoint: str = "",
    ) -> None:
        self.log = log.getChild(f"Script({index})")
        self.domain = domain
        self.index = int(index)
        self.seq_num = int(seq_num)
        self.is_standard = bool(is_standard)
        self.path = str(path)
        self.config = config
        self.descr = descr
        self.log_level = int(log_level)
        self.pause_checkpoint = pause_checkpoint
        self.stop_checkpoint = stop_checkpoint
        self.script_state = 0
        self.reason = ""
        self.group_id = ""
        self.metadata: typing.Any = None
        self.process: asyncio.subprocess.Process | None = None
        self.timestamp_process_start = 0.0
        self.timestamp_configure_start = 0.0
        self.timestamp_configure_end = 0.0
        self.timestamp_run_start = 0.0
        self.timestamp_process_end = 0.0
        self.callback: ScriptCallback | None = None
        self.remote: Remote | None = None
        self.process_task: asyncio.Task[int] | None = None
        self.config_task: asyncio.Task[None] | None = None
        self.set_group_id_task: asyncio.Task[typing.Any] | None = None
        self.clear_group_id_task: asyncio.Task[typing.Any] | None = None
        self.run_task: asyncio.Task[typing.Any] | None = None
        self._tasks: set[asyncio.Task[typing.Any]] = set()
        self._terminated = False
        self._start_process_task: asyncio.Task[asyncio.subprocess.Process] | None = None

    # ------------------------------------------------------------------
    # What is known

    @property
    def pid(self) -> int | None:
        """Process ID of the script, or None before it starts."""
        return None if self.process is None else self.process.pid

    @property
    def process_done(self) -> bool:
        """Has the script's process started and exited?"""
        return self.process_task is not None and self.process_task.done()

    @property
    def configured(self) -> bool:
        """Did the ``configure`` command succeed?"""
        task = self.config_task
        return task is not None and task.done() and not task.cancelled() and task.exception() is None

    @property
    def configure_failed(self) -> bool:
        """Did configuration fail?"""
        if self.script_state == ScriptState.CONFIGURE_FAILED:
            return True
        task = self.config_task
        return task is not None and task.done() and (task.cancelled() or task.exception() is not None)

    @property
    def load_failed(self) -> bool:
        """Did the process end before configuration began?"""
        return self.process_done and self.timestamp_configure_start == 0

    @property
    def started(self) -> bool:
        """Was the script told to run, or terminated, or has its process ended?"""
        return self.timestamp_run_start > 0 or self._terminated or self.process_done

    @property
    def running(self) -> bool:
        """Was the script told to run, and does its process still run?"""
        return self.timestamp_run_start > 0 and not self.process_done

    @property
    def terminated(self) -> bool:
        """Was the script terminated (by the queue, or by a signal)?"""
        if self._terminated:
            return True
        return self.process_done and self._returncode < 0

    @property
    def failed(self) -> bool:
        """Did the process end with a failure exit code (not by termination)?"""
        return self.process_done and not self._terminated and self._returncode > 0

    @property
    def _returncode(self) -> int:
        code = None if self.process is None else self.process.returncode
        return 0 if code is None else code

    @property
    def setting_group_id(self) -> bool:
        """Is a ``setGroupId`` command under way?"""
        return self.set_group_id_task is not None and not self.set_group_id_task.done()

    @property
    def needs_group_id(self) -> bool:
        """Configured, not started, and without a group ID (or one coming)?"""
        return self.configured and not self.started and not self.group_id and not self.setting_group_id

    @property
    def runnable(self) -> bool:
        """Configured, not started, and with a group ID?"""
        return self.configured and not self.started and bool(self.group_id)

    @property
    def process_state(self) -> ScriptProcessState:
        """The state of the script's process."""
        if self.load_failed:
            return ScriptProcessState.LOADFAILED
        if self.configure_failed:
            return ScriptProcessState.CONFIGURE_FAILED
        if self.terminated:
            return ScriptProcessState.TERMINATED
        if self.process_done:
            return ScriptProcessState.DONE
        if self.running:
            return ScriptProcessState.RUNNING
        if self.configured:
            return ScriptProcessState.CONFIGURED
        return ScriptProcessState.LOADING

    # ------------------------------------------------------------------
    # Actions

    async def start_loading(self, full_path: pathlib.Path, env: dict[str, str]) -> None:
        """Start the script's process: ``python full_path index``.

        Configuration starts when the script reports UNCONFIGURED
        (`handle_state`).

        Parameters
        ----------
        full_path : `pathlib.Path`
            Absolute path of the script.
        env : `dict` [`str`, `str`]
            Environment of the process (transport and isolation name).

        Raises
        ------
        RuntimeError
            If loading was already started.
        OSError
            If the process cannot be started (then the script counts as
            terminated).
        """
        if self._start_process_task is not None:
            raise RuntimeError(f"script {self.index} is already loading")
        if self._terminated:
            return  # stopped while it was being added
        self.remote = Remote(self.domain, "Script", self.index, include=[])
        # The acknowledgement reader exists before the script does, so the script
        # meets it with everything else when it starts.
        await asyncio.wait_for(self.remote.start_task, READERS_TIMEOUT)
        if self._terminated:
            await self._close_remote()
            return
        self._start_process_task = asyncio.create_task(
            asyncio.create_subprocess_exec(sys.executable, str(full_path), str(self.index), env=env)
        )
        try:
            self.process = await self._start_process_task
        except BaseException:
            self._terminated = True
            await self._close_remote()
            raise
        self.timestamp_process_start = current_tai()
        self.log.info("script %s: process %s started: %s", self.index, self.process.pid, full_path)
        self.process_task = asyncio.create_task(self.process.wait())
        self.process_task.add_done_callback(self._process_ended)
        if self._terminated:
            await self._terminate_process()
        await self._run_callback()

    async def handle_state(self, data: typing.Any) -> None:
        """Record a ``state`` event of this script; configure it when UNCONFIGURED.

        Parameters
        ----------
        data : ``Script`` ``state`` data
            The event.
        """
        self.script_state = int(data.state)
        self.reason = data.reason
        if self.script_state == ScriptState.UNCONFIGURED and self.config_task is None and not self.started:
            self.timestamp_configure_start = current_tai()
            self.config_task = asyncio.create_task(self._configure())
            self.config_task.add_done_callback(self._configure_ended)
        await self._run_callback()

    async def _configure(self) -> None:
        """Send ``configure`` once the script's command readers are reached."""
        try:
            await self._wait_for_readers()
            assert self.remote is not None
            await self.remote.cmd_configure.set_start(
                config=self.config,
                logLevel=self.log_level,
                pauseCheckpoint=self.pause_checkpoint,
                stopCheckpoint=self.stop_checkpoint,
                timeout=CONFIGURE_TIMEOUT,
            )
        finally:
            self.timestamp_configure_end = current_tai()

    async def _wait_for_readers(self) -> None:
        """Wait until the commands this queue sends reach the script's process."""
        wait = getattr(self.domain.transport, "wait_for_process_readers", None)
        if wait is None or self.process is None:
            return
        for name in COMMANDS_SENT:
            if not await wait("Script", f"command_{name}", self.process.pid, READERS_TIMEOUT):
                raise TimeoutError(
                    f"script {self.index}: its command_{name} reader was not reached in {READERS_TIMEOUT} s"
                )

    def _configure_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.warning("script %s: configure failed: %s", self.index, task.exception())
            if not self.process_done and self.script_state != ScriptState.CONFIGURE_FAILED:
                # No answer (a lost script): do not leave it behind.
                self._spawn(self.terminate())
        self._spawn(self._run_callback())

    async def set_group_id(self, group_id: str) -> None:
        """Give the script its group ID.

        Parameters
        ----------
        group_id : `str`
            The group ID (not blank).

        Raises
        ------
        ValueError
            If ``group_id`` is blank.
        RuntimeError
            If the script does not need a group ID.
        lsst.ts.calibrations.sal.AckError
            If the command fails or times out.
        """
        if not group_id:
            raise ValueError("group_id must not be blank")
        if not self.needs_group_id or self.remote is None:
            raise RuntimeError(f"script {self.index} cannot be given a group ID now")
        self._cancel_group_id_tasks()
        self.set_group_id_task = asyncio.create_task(
            self.remote.cmd_setGroupId.set_start(groupId=group_id, timeout=SET_GROUP_ID_TIMEOUT)
        )
        await self.set_group_id_task
        self.group_id = group_id
        await self._run_callback()

    def clear_group_id(self, command_script: bool) -> None:
        """Forget the group ID; tell the script if it is waiting to run.

        Parameters
        ----------
        command_script : `bool`
            Send ``setGroupId("")`` to a configured script that has not started?
        """
        self.group_id = ""
        self._cancel_group_id_tasks()
        if command_script and self.configured and not self.started and self.remote is not None:
            self.clear_group_id_task = self._spawn(
                self.remote.cmd_setGroupId.set_start(groupId="", timeout=SET_GROUP_ID_TIMEOUT)
            )

    def run(self) -> None:
        """Tell the script to run.

        Raises
        ------
        RuntimeError
            If the script is not runnable.
        """
        if not self.runnable or self.remote is None:
            raise RuntimeError(f"script {self.index} is not runnable")
        self.timestamp_run_start = current_tai()
        # The acknowledgement comes when the run ends; the process's end is what counts.
        self.run_task = self._spawn(self.remote.cmd_run.start(timeout=None))

    async def stop(self, timeout: float) -> bool:
        """Ask a running script to stop; wait for its process to end.

        Parameters
        ----------
        timeout : `float`
            Time limit (seconds) for the command and for the process to end.

        Returns
        -------
        stopped : `bool`
            True if the process ended in time, False otherwise (the caller
            terminates it).
        """
        if self.process_done:
            return True
        if self.remote is None or self.process_task is None:
            return False
        try:
            async with asyncio.timeout(timeout):
                await self.remote.cmd_stop.start(timeout=timeout)
                await asyncio.shield(self.process_task)
        except Exception as e:
            self.log.warning("script %s: stop did not end it (%s); terminating it", self.index, e)
            return False
        return True

    async def terminate(self) -> bool:
        """Terminate the script's process: SIGTERM, then SIGKILL after
        `TERMINATE_TIMEOUT`; wait until it has ended.

        Returns
        -------
        did_terminate : `bool`
            True if the script was terminated (now or before), False if its
            process had already ended on its own.
        """
        if self.process_done:
            return self._terminated
        self._terminated = True
        if self._start_process_task is not None and not self._start_process_task.done():
            try:
                await self._start_process_task
            except Exception:
                pass
        await self._terminate_process()
        await self._run_callback()
        return True

    async def _terminate_process(self) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        try:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(self._wait_process()), TERMINATE_TIMEOUT)
                return
            except TimeoutError:
                self.log.warning("script %s: process %s ignored SIGTERM; killing it", self.index, process.pid)
            process.kill()
        except ProcessLookupError:
            pass
        await self._wait_process()

    async def _wait_process(self) -> None:
        if self.process_task is not None:
            await asyncio.shield(self.process_task)
        elif self.process is not None:
            await self.process.wait()

    async def close(self) -> None:
        """Terminate the process if it runs; cancel the tasks; close the Remote."""
        await self.terminate()
        self._cancel_group_id_tasks()
        for task in list(self._tasks):
            task.cancel()
        if self.config_task is not None:
            self.config_task.cancel()
        await self._close_remote()

    # ------------------------------------------------------------------
    # Internals

    def _process_ended(self, task: asyncio.Task[int]) -> None:
        self.timestamp_process_end = current_tai()
        code = None if task.cancelled() else task.result()
        self.log.info("script %s: process ended with code %s", self.index, code)
        if self.config_task is not None and not self.config_task.done():
            self.config_task.cancel()
        self._cancel_group_id_tasks()
        self._spawn(self._finish())

    async def _finish(self) -> None:
        if self.run_task is not None and not self.run_task.done():
            self.run_task.cancel()
        await self._run_callback()
        self.callback = None
        await self._close_remote()

    async def _close_remote(self) -> None:
        remote, self.remote = self.remote, None
        if remote is not None:
            await remote.close()

    def _cancel_group_id_tasks(self) -> None:
        for task in (self.set_group_id_task, self.clear_group_id_task):
            if task is not None and not task.done():
                task.cancel()
        self.set_group_id_task = None
        self.clear_group_id_task = None

    def _spawn(self, coro: typing.Coroutine[typing.Any, typing.Any, typing.Any]) -> asyncio.Task[typing.Any]:
        """Run a coroutine in a task that is kept, and whose failure is logged."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[typing.Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.warning("script %s: %s", self.index, task.exception())

    async def _run_callback(self) -> None:
        if self.callback is not None:
            await self.callback(self)

    def __repr__(self) -> str:
        return (
            f"ScriptInfo(index={self.index}, is_standard={self.is_standard}, path={self.path!r}, "
            f"process_state={self.process_state.name}, script_state={self.script_state})"
        )
