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

"""The queue model: scripts waiting, the current script, the history, and
the rules that move scripts between them (ts_scriptqueue's semantics).
"""

__all__ = ["QueueModel"]

import asyncio
import collections
import datetime
import logging
import os
import typing
from collections.abc import Awaitable, Callable, Iterable

from ..sal import Domain, Remote, ScriptState, current_tai
from .base import MAX_HISTORY, Location
from .script_info import ScriptInfo
from .script_roots import ScriptRoots

LOAD_TIMEOUT = 60.0
"""Time limit (seconds) for starting a script's process."""

STOP_TIMEOUT = 10.0
"""Time (seconds) a running script has to stop before it is terminated."""

QueueCallback = Callable[[], Awaitable[None]]
ScriptCallback = Callable[[ScriptInfo], Awaitable[None]]


def next_group_id() -> str:
    """Return a new group ID: the current TAI time in ISO format, e.g. "2026-12-06T08:59:05.721"."""
    tai = datetime.datetime.fromtimestamp(current_tai(), datetime.UTC).replace(tzinfo=None)
    return tai.isoformat(timespec="milliseconds")


class QueueModel:
    """Scripts waiting, the current script and the history; the rules of
    the queue.

    Parameters
    ----------
    domain : `Domain`
        The queue's Domain (DDS).
    log : `logging.Logger`
        Parent logger.
    roots : `ScriptRoots`
        Where scripts are found.
    min_sal_index, max_sal_index : `int`
        Range of the SAL indices given to scripts.
    queue_callback : async callable, optional
        Called (no arguments) when the queue changes.
    script_callback : async callable, optional
        Called with a `ScriptInfo` when something of it changes.
    next_visit_callback : async callable, optional
        Called with a `ScriptInfo` that was given a group ID.
    next_visit_canceled_callback : async callable, optional
        Called with a `ScriptInfo` whose group ID is withdrawn (before it
        is cleared).

    Attributes
    ----------
    queue : `collections.deque` [`ScriptInfo`]
        Scripts waiting; item 0 runs next.
    history : `collections.deque` [`ScriptInfo`]
        Finished scripts, most recent first, at most `MAX_HISTORY`.
    current_script : `ScriptInfo` or `None`
        The script running, or the failed script the queue paused on.
    start_task : `asyncio.Future`
        Done when the model reads the scripts' events.

    Notes
    -----
    The rules: a script is started as a process when added; it is
    configured when it reports UNCONFIGURED; only the script at the top of
    the queue has a group ID; when it is configured and has one, and the
    queue is enabled and running and has no current script, it becomes the
    current script and runs. A current script that fails pauses the queue
    and stays current until the queue is resumed; a waiting script that
    fails (to load or to configure) goes to the history.
    """

    def __init__(
        self,
        *,
        domain: Domain,
        log: logging.Logger,
        roots: ScriptRoots,
        min_sal_index: int,
        max_sal_index: int,
        queue_callback: QueueCallback | None = None,
        script_callback: ScriptCallback | None = None,
        next_visit_callback: ScriptCallback | None = None,
        next_visit_canceled_callback: ScriptCallback | None = None,
    ) -> None:
        if not 0 < min_sal_index <= max_sal_index:
            raise ValueError(f"need 0 < min_sal_index={min_sal_index} <= max_sal_index={max_sal_index}")
        self.domain = domain
        self.log = log.getChild("QueueModel")
        self.roots = roots
        self.min_sal_index = min_sal_index
        self.max_sal_index = max_sal_index
        self.queue_callback = queue_callback
        self.script_callback = script_callback
        self.next_visit_callback = next_visit_callback
        self.next_visit_canceled_callback = next_visit_canceled_callback
        self.queue: collections.deque[ScriptInfo] = collections.deque()
        self.history: collections.deque[ScriptInfo] = collections.deque(maxlen=MAX_HISTORY)
        self.current_script: ScriptInfo | None = None
        self._enabled = False
        self._running = True
        self._next_index = min_sal_index
        self._scripts_being_stopped: set[int] = set()
        self._started: dict[int, ScriptInfo] = {}
        self._tasks: set[asyncio.Task[typing.Any]] = set()
        self._closed = False
        # Index 0: events of every script; history, so a state written before
        # this reader met the script's writer is not lost.
        self.remote = Remote(domain, "Script", 0, readonly=True, include=["state", "metadata"])
        self.remote.evt_state.callback = self._state_callback
        self.remote.evt_metadata.callback = self._metadata_callback
        self.start_task = self.remote.start_task

    # ------------------------------------------------------------------
    # State

    @property
    def enabled(self) -> bool:
        """Is the CSC enabled?"""
        return self._enabled

    @property
    def running(self) -> bool:
        """Is the queue running (True) or paused (False)?"""
        return self._running

    @property
    def current_index(self) -> int:
        """SAL index of the current script; 0 if none."""
        return 0 if self.current_script is None else self.current_script.index

    @property
    def queue_indices(self) -> list[int]:
        """SAL indices of the waiting scripts, next first."""
        return [info.index for info in self.queue]

    @property
    def history_indices(self) -> list[int]:
        """SAL indices of the finished scripts, most recent first."""
        return [info.index for info in self.history]

    def next_sal_index(self) -> int:
        """Return the next SAL index for a script (wrapping around its range)."""
        index = self._next_index
        self._next_index = self.min_sal_index if index >= self.max_sal_index else index + 1
        return index

    def get_script_info(self, sal_index: int, search_history: bool) -> ScriptInfo:
        """Return the script with a SAL index: current, waiting, or (if
        ``search_history``) finished.

        Raises
        ------
        ValueError
            If there is no such script.
        """
        if self.current_script is not None and self.current_script.index == sal_index:
            return self.current_script
        places: list[Iterable[ScriptInfo]] = [self.queue]
        if search_history:
            places.append(self.history)
        for place in places:
            for info in place:
                if info.index == sal_index:
                    return info
        where = "current, queued or in the history" if search_history else "current or queued"
        raise ValueError(f"no script with index {sal_index} is {where}")

    def _queue_position(self, sal_index: int) -> int:
        for position, info in enumerate(self.queue):
            if info.index == sal_index:
                return position
        raise ValueError(f"script {sal_index} is not in the queue (waiting scripts: {self.queue_indices})")

    # ------------------------------------------------------------------
    # Commands

    async def set_enable(self, enabled: bool) -> None:
        """Record whether the CSC is enabled (scripts only run when it is)."""
        was = self._enabled
        self._enabled = bool(enabled)
        if self._enabled != was:
            await self._update_queue()

    async def set_running(self, running: bool) -> None:
        """Pause (False) or resume (True) the queue.

        Resuming a queue paused on a failed script moves that script to
        the history.
        """
        was = self._running
        self._running = bool(running)
        if self._running != was:
            await self._update_queue(pause_on_failure=False)

    async def add(self, script_info: ScriptInfo, location: int, location_sal_index: int) -> None:
        """Put a script in the queue and start its process.

        Parameters
        ----------
        script_info : `ScriptInfo`
            The script.
        location : `int`
            A `Location`.
        location_sal_index : `int`
            The waiting script ``location`` refers to (BEFORE, AFTER).

        Raises
        ------
        ValueError
            If the script may not run (see `ScriptRoots.full_path`), or
            the location is not valid.
        OSError
            If the process cannot be started.
        """
        full_path = await asyncio.to_thread(self.roots.full_path, script_info.is_standard, script_info.path)
        await self._insert(script_info, location, location_sal_index)
        self._forget_dropped_scripts()
        self._started[script_info.index] = script_info
        self.log.info(
            "script %s: %s script %s",
            script_info.index,
            "standard" if script_info.is_standard else "external",
            full_path,
        )
        env = dict(
            os.environ,
            LSST_SAL_TRANSPORT="dds",
            LSST_TOPIC_SUBNAME=getattr(self.domain.transport, "subname", ""),
        )
        try:
            await asyncio.wait_for(script_info.start_loading(full_path, env), LOAD_TIMEOUT)
        except BaseException:
            # Never started (or not in time): it leaves the queue for the history.
            await script_info.terminate()
            if script_info in self.queue:
                self.queue.remove(script_info)
                self.history.appendleft(script_info)
                await self._update_queue()
            raise

    async def move(self, sal_index: int, location: int, location_sal_index: int) -> None:
        """Move a waiting script.

        Raises
        ------
        ValueError
            If the script is not waiting, or the location is not valid.
        """
        if location in (Location.BEFORE, Location.AFTER) and location_sal_index == sal_index:
            self._queue_position(sal_index)  # it must be waiting; otherwise nothing moves
            await self._update_queue()
            return
        position = self._queue_position(sal_index)
        where = self._check_location(location, location_sal_index)
        script_info = self.queue[position]
        del self.queue[position]
        await self._insert(script_info, where, location_sal_index)

    async def requeue(
        self, sal_index: int, seq_num: int, location: int, location_sal_index: int
    ) -> ScriptInfo:
        """Add a copy of a script (path, configuration, description).

        Parameters
        ----------
        sal_index : `int`
            The script to copy: current, waiting or finished.
        seq_num : `int`
            Sequence number of the requeue command.
        location, location_sal_index : `int`
            Where to put the copy (see `add`).

        Returns
        -------
        script_info : `ScriptInfo`
            The new script.

        Raises
        ------
        ValueError
            If there is no such script, or the location is not valid.
        """
        old = self.get_script_info(sal_index, search_history=True)
        script_info = self.make_script_info(
            seq_num=seq_num,
            is_standard=old.is_standard,
            path=old.path,
            config=old.config,
            descr=old.descr,
        )
        await self.add(script_info, location, location_sal_index)
        return script_info

    def make_script_info(self, **kwargs: typing.Any) -> ScriptInfo:
        """Return a new `ScriptInfo` with the next SAL index.

        Parameters
        ----------
        **kwargs : `typing.Any`
            `ScriptInfo` arguments other than ``log``, ``domain`` and ``index``.
        """
        return ScriptInfo(log=self.log, domain=self.domain, index=self.next_sal_index(), **kwargs)

    async def stop_scripts(self, sal_indices: Iterable[int], terminate: bool) -> None:
        """Stop scripts: a running one is asked to stop (unless
        ``terminate``) and terminated if it does not; the others are
        terminated. Unknown or finished scripts are ignored.

        Parameters
        ----------
        sal_indices : iterable of `int`
            The scripts.
        terminate : `bool`
            Terminate running scripts at once?
        """
        infos: list[ScriptInfo] = []
        for sal_index in sal_indices:
            try:
                info = self.get_script_info(sal_index, search_history=False)
            except ValueError:
                continue
            if not info.process_done:
                infos.append(info)
        self._scripts_being_stopped = {info.index for info in infos}
        try:
            for info in infos:
                if info.running and not terminate:
                    if await info.stop(STOP_TIMEOUT):
                        continue
                await self._terminate_one(info)
        finally:
            self._scripts_being_stopped = set()
            await self._update_queue()

    async def _terminate_one(self, info: ScriptInfo) -> None:
        if info.process_done:
            return
        if (self.queue and self.queue[0] is info and info.group_id) or info.setting_group_id:
            await self._clear_group_id(info, command_script=False)
        await info.terminate()

    async def close(self) -> None:
        """Terminate every script process this queue started; stop reading. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*(info.close() for info in list(self._started.values())))
        await self.remote.close()

    @property
    def live_pids(self) -> list[int]:
        """Process IDs of the script processes that have not ended."""
        return [info.pid for info in self._started.values() if info.pid is not None and not info.process_done]

    # ------------------------------------------------------------------
    # Internals

    def _check_location(self, location: int, location_sal_index: int) -> Location:
        """Return ``location`` as a `Location`, checking the script it refers to.

        Raises
        ------
        ValueError
            If ``location`` is not a `Location`, or is BEFORE or AFTER a
            script that is not waiting.
        """
        try:
            where = Location(location)
        except ValueError:
            raise ValueError(
                f"location={location} is not valid: use "
                + ", ".join(f"{loc.name} ({loc.value})" for loc in Location)
            ) from None
        if where in (Location.BEFORE, Location.AFTER):
            self._queue_position(location_sal_index)
        return where

    def _forget_dropped_scripts(self) -> None:
        """Forget ended scripts that have left the history (it keeps `MAX_HISTORY`)."""
        kept = {id(info) for info in self.history} | {id(info) for info in self.queue}
        kept.add(id(self.current_script))
        for sal_index, info in list(self._started.items()):
            if info.process_done and id(info) not in kept:
                del self._started[sal_index]

    async def _insert(self, script_info: ScriptInfo, location: int, location_sal_index: int) -> None:
        where = self._check_location(location, location_sal_index)
        if where == Location.FIRST:
            self.queue.appendleft(script_info)
        elif where == Location.LAST:
            self.queue.append(script_info)
        else:
            position = self._queue_position(location_sal_index)
            if where == Location.AFTER:
                position += 1
            self.queue.insert(position, script_info)
        script_info.callback = self._script_info_changed
        await self._update_queue()

    async def _state_callback(self, data: typing.Any) -> None:
        info = self._info_from_event(data, "state")
        if info is not None:
            await info.handle_state(data)

    async def _metadata_callback(self, data: typing.Any) -> None:
        info = self._info_from_event(data, "metadata")
        if info is not None:
            info.metadata = data

    def _info_from_event(self, data: typing.Any, name: str) -> ScriptInfo | None:
        sal_index = data.salIndex
        if not self.min_sal_index <= sal_index <= self.max_sal_index:
            return None  # another queue's script
        info = self._started.get(sal_index)
        if info is None or info.process_done:
            if info is None:
                self.log.debug("%s event of script %s, which this queue did not start", name, sal_index)
            return None
        return info

    async def _script_info_changed(self, info: ScriptInfo) -> None:
        if self.script_callback is not None:
            try:
                await self.script_callback(info)
            except Exception:
                self.log.exception("script_callback failed; continuing")
        if info.script_state == ScriptState.DONE or info.process_done or info.terminated:
            self._spawn(self._remove_script(info))
            return
        if self.queue and self.queue[0] is info and info.configured:
            await self._update_queue(force_callback=False)

    async def _remove_script(self, info: ScriptInfo) -> None:
        if info is self.current_script:
            if info.index not in self._scripts_being_stopped:
                await self._update_queue()
        elif info in self.queue:
            self.queue.remove(info)
            self.history.appendleft(info)
            if info.index not in self._scripts_being_stopped:
                await self._update_queue()

    async def _clear_group_id(self, info: ScriptInfo, command_script: bool) -> None:
        if self.next_visit_canceled_callback is not None and info.group_id:
            try:
                await self.next_visit_canceled_callback(info)
            except Exception:
                self.log.exception("next_visit_canceled_callback failed; continuing")
        info.clear_group_id(command_script=command_script)

    async def _set_group_id(self, info: ScriptInfo) -> None:
        await info.set_group_id(next_group_id())
        if self.next_visit_callback is not None:
            try:
                await self.next_visit_callback(info)
            except Exception:
                self.log.exception("next_visit_callback failed; continuing")

    async def _update_queue(self, force_callback: bool = True, pause_on_failure: bool = True) -> None:
        """Apply the rules after any change; report the queue if it changed
        (always if ``force_callback``).

        Parameters
        ----------
        force_callback : `bool`, optional
            Call ``queue_callback`` even if nothing changed?
        pause_on_failure : `bool`, optional
            If the current script failed: keep it and pause (True), or, if
            the queue runs, move it to the history (False: a resume).
        """
        before = (self.current_index, self.queue_indices, self.history_indices)
        current = self.current_script
        if current is not None and (current.script_state == ScriptState.DONE or current.process_done):
            if current.failed and (pause_on_failure or not self._running):
                self._running = False
            else:
                self.history.appendleft(current)
                self.current_script = None

        if self._enabled and self._running:
            while self.queue:
                top = self.queue[0]
                if top.process_done or top.terminated:
                    self.history.appendleft(self.queue.popleft())
                    continue
                if (
                    self.current_script is None
                    and top.runnable
                    and top.index not in self._scripts_being_stopped
                ):
                    self.current_script = self.queue.popleft()
                    top.run()
                break
            for position, info in enumerate(list(self.queue)):
                if position == 0:
                    if info.needs_group_id:
                        self._spawn(self._set_group_id(info))
                elif info.group_id or info.setting_group_id:
                    await self._clear_group_id(info, command_script=True)

        after = (self.current_index, self.queue_indices, self.history_indices)
        if self.queue_callback is not None and (force_callback or after != before):
            try:
                await self.queue_callback()
            except Exception:
                self.log.exception("queue_callback failed; continuing")

    def _spawn(self, coro: typing.Coroutine[typing.Any, typing.Any, typing.Any]) -> None:
        """Run a coroutine in a kept task whose failure is logged."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[typing.Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("queue task failed: %s", task.exception(), exc_info=task.exception())
