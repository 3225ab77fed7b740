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

"""The panel's view of one ScriptQueue, kept from its SAL events, and the
messages LOVE's producer makes of it.
"""

__all__ = ["QueueState"]

import asyncio
import collections
import dataclasses
import enum
import logging
import math
import typing
from collections.abc import Callable

from ...sal.base import AckError, ScriptState, State, current_tai
from ...sal.domain import Domain
from ...sal.remote import Remote

SCRIPT_HEARTBEAT_INTERVAL = 5.0
"""Interval (s) between a script's heartbeats, as in salobj."""


def heartbeat_interval_seconds(name: str, value: float) -> float:
    """Return ``value`` as seconds between script heartbeats, or raise naming ``name``.

    Parameters
    ----------
    name : `str`
        The option's name, for the error message.
    value : `float`
        The interval (s).

    Returns
    -------
    seconds : `float`
        The interval.

    Raises
    ------
    ValueError
        If ``value`` is not a finite number > 0.
    """
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}={value!r} must be a number of seconds > 0")
    return float(value)


MAX_LOG_MESSAGES = 200
"""Log messages kept per script (the page's log tail)."""

MAX_FINISHED = 100
"""Finished scripts sent to the page (the queue keeps up to 400)."""

SHOW_TIMEOUT = 30.0
"""Time limit (s) of the ``showScript``/``showQueue``/``showAvailableScripts`` commands sent on start."""

SCRIPT_EVENTS = (
    "checkpoints",
    "description",
    "heartbeat",
    "largeFileObjectAvailable",
    "logLevel",
    "logMessage",
    "metadata",
    "state",
)
"""Script events the panel reads (for every script of its queue)."""


class ScriptProcessState(enum.IntEnum):
    """ScriptQueue ``ScriptProcessState`` (ts_xml)."""

    UNKNOWN = 0
    LOADING = 1
    CONFIGURED = 2
    RUNNING = 3
    DONE = 4
    LOADFAILED = 5
    CONFIGUREFAILED = 6
    TERMINATED = 7


def _enum_name(enum_type: type[enum.IntEnum], value: int) -> str:
    try:
        return enum_type(value).name
    except ValueError:
        return "UNKNOWN"


@dataclasses.dataclass
class _Script:
    """What the panel knows of one script (LOVE producer's fields, and more)."""

    index: int
    path: str = "UNKNOWN"
    type: str = "UNKNOWN"
    process_state: str = "UNKNOWN"
    script_state: str = "UNKNOWN"
    timestampConfigureEnd: float = 0.0  # noqa: N815 (LOVE's field names)
    timestampConfigureStart: float = 0.0  # noqa: N815
    timestampProcessEnd: float = 0.0  # noqa: N815
    timestampProcessStart: float = 0.0  # noqa: N815
    timestampRunStart: float = 0.0  # noqa: N815
    expected_duration: float = 0.0
    last_checkpoint: str = ""
    reason: str = ""
    description: str = ""
    classname: str = ""
    remotes: str = ""
    last_heartbeat_timestamp: float = 0.0
    lost_heartbeats: int = 0
    pause_checkpoints: str = ""
    stop_checkpoints: str = ""
    log_level: int = logging.INFO
    config: str | None = None
    descr: str = ""
    report: dict[str, typing.Any] | None = None

    def to_dict(self) -> dict[str, typing.Any]:
        return dataclasses.asdict(self)


class QueueState:
    """Follow one ScriptQueue and its scripts over SAL, as LOVE's producer
    does, and make LOVE's messages of what it sees.

    Parameters
    ----------
    domain : `~lsst.ts.calibrations.sal.Domain`
        The Domain of the panel.
    index : `int`
        SAL index of the ScriptQueue (1 MTQueue, 2 ATQueue).
    publish : callable
        Called with ``(group, message)`` for every new message: ``group``
        is LOVE's group name ``category-csc-salindex-stream`` and
        ``message`` the message (a dict in LOVE's envelope).
    log : `logging.Logger`, optional
        Logger.
    heartbeat_interval : `float`, optional
        Interval (s) between the heartbeats of the queue's scripts, and so
        between two counts of the beats each has missed; salobj's 5 s by
        default. Scripts that beat faster (a test's) let a shorter interval
        count a missed beat sooner.

    Raises
    ------
    ValueError
        If ``heartbeat_interval`` is not a finite number > 0.

    Attributes
    ----------
    remote : `~lsst.ts.calibrations.sal.Remote`
        The ScriptQueue.
    script_remote : `~lsst.ts.calibrations.sal.Remote`
        Every Script (index 0), read only.
    start_task : `asyncio.Task`
        Done when both Remotes have started.
    """

    def __init__(
        self,
        domain: Domain,
        index: int,
        publish: Callable[[str, dict[str, typing.Any]], None],
        log: logging.Logger | None = None,
        heartbeat_interval: float = SCRIPT_HEARTBEAT_INTERVAL,
    ) -> None:
        self.heartbeat_interval = heartbeat_interval_seconds("heartbeat_interval", heartbeat_interval)
        self.index = index
        self.publish = publish
        self.log = log or logging.getLogger(__name__)
        self.summary_state = 0
        self.enabled = False
        self.running = False
        self.current: list[int] = []
        self.waiting: list[int] = []
        self.finished: list[int] = []
        self.scripts: dict[int, _Script] = {}
        self.available: dict[str, dict[str, str]] = {"standard": {}, "external": {}}
        self.roots: dict[str, str] = {"standard": "", "external": ""}
        self.logs: dict[int, collections.deque[dict[str, typing.Any]]] = {}
        self.last: dict[str, dict[str, typing.Any]] = {}
        """The last message of each group (sent to a new subscriber)."""
        self.pending_info: dict[int, dict[str, typing.Any]] = {}
        """What the panel sent with ``add`` (config, descr, log level), by script index."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._shown: set[int] = set()
        self._state_seen: set[int] = set()
        self.summary_value: dict[str, typing.Any] = {}
        # Callbacks are set before the Remotes start, so the event history
        # (the queue's state before the panel started) reaches them.
        self.remote = Remote(domain, "ScriptQueue", index, start=False)
        self.script_remote = Remote(domain, "Script", 0, readonly=True, include=SCRIPT_EVENTS, start=False)
        for name, callback in (
            ("summaryState", self._on_summary_state),
            ("queue", self._on_queue),
            ("script", self._on_script),
            ("availableScripts", self._on_available_scripts),
            ("configSchema", self._on_config_schema),
            ("rootDirectories", self._on_root_directories),
        ):
            getattr(self.remote, f"evt_{name}").callback = callback
        for name in SCRIPT_EVENTS:
            getattr(self.script_remote, f"evt_{name}").callback = getattr(self, f"_on_script_{name}")
        self.start_task = asyncio.ensure_future(self._start())

    # Lifecycle.

    async def _start(self) -> None:
        await asyncio.gather(self.remote.start(), self.script_remote.start())
        self._spawn(self._beat_heartbeats())
        self._publish_state()
        self._publish_scripts()
        self._publish_available()

    def _spawn(self, coro: typing.Coroutine[typing.Any, typing.Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("Panel background task failed: %r", task.exception(), exc_info=task.exception())

    async def close(self) -> None:
        """Stop following the queue. Idempotent."""
        self.start_task.cancel()
        for task in list(self._tasks):
            task.cancel()
        await self.script_remote.close()
        await self.remote.close()

    # Queries.

    def script_root(self, is_standard: bool) -> str:
        """The root directory of standard or external scripts ("" if unknown)."""
        return self.roots["standard" if is_standard else "external"]

    def is_available(self, is_standard: bool, path: str) -> bool:
        """Is the path one of the scripts the queue's discovery reported?"""
        return path in self.available["standard" if is_standard else "external"]

    def schema_of(self, is_standard: bool, path: str) -> str | None:
        """The schema (YAML text) of a script from its ``configSchema`` event;
        None if not seen yet.
        """
        schema = self.available["standard" if is_standard else "external"].get(path)
        return schema if schema else None

    def script_known(self, index: int) -> bool:
        """Is the script one of this queue's (current, waiting or finished)?"""
        return index in self.scripts

    # LOVE messages.

    def _send(self, csc: str, salindex: int, stream: str, data: typing.Any) -> None:
        group = f"event-{csc}-{salindex}-{stream}"
        message = {"category": "event", "data": [{"csc": csc, "salindex": salindex, "data": {stream: data}}]}
        self.last[group] = message
        self.publish(group, message)

    def _publish_state(self) -> None:
        self._send(
            "ScriptQueueState",
            self.index,
            "stateStream",
            {
                "enabled": self.enabled,
                "running": self.running,
                "summaryState": self.summary_state,
                "summaryStateName": _enum_name(State, self.summary_state),
            },
        )

    def _publish_scripts(self) -> None:
        def dicts(indices: list[int]) -> list[dict[str, typing.Any]]:
            return [self.scripts[i].to_dict() for i in indices if i in self.scripts]

        self._send(
            "ScriptQueueState",
            self.index,
            "scriptsStream",
            {
                "current_scripts": dicts(self.current),
                "waiting_scripts": dicts(self.waiting),
                "finished_scripts": dicts(self.finished[:MAX_FINISHED]),
            },
        )

    def _publish_available(self) -> None:
        scripts = [
            {"type": kind, "path": path, "configSchema": schema}
            for kind in ("standard", "external")
            for path, schema in sorted(self.available[kind].items())
        ]
        self._send(
            "ScriptQueueState",
            self.index,
            "availableScriptsStream",
            {"available_scripts": scripts, "root_directories": dict(self.roots)},
        )

    def _publish_heartbeat(self, script: _Script) -> None:
        self._send(
            "ScriptHeartbeats",
            self.index,
            "stream",
            {
                "script_heartbeat": {
                    "salindex": script.index,
                    "lost": script.lost_heartbeats,
                    "last_heartbeat_timestamp": script.last_heartbeat_timestamp,
                }
            },
        )

    # ScriptQueue events.

    def _on_summary_state(self, data: typing.Any) -> None:
        self.summary_state = int(data.summaryState)
        self.summary_value = {"summaryState": {"value": self.summary_state, "dataType": "Int"}}
        self._send("ScriptQueue", self.index, "summaryState", [self.summary_value])
        self._publish_state()
        if self.summary_state == State.ENABLED:
            self._spawn(self._show_all())

    async def _show_all(self) -> None:
        """Ask the queue for what a panel started late has missed."""
        for command in ("showAvailableScripts", "showQueue"):
            try:
                await getattr(self.remote, f"cmd_{command}").start(timeout=SHOW_TIMEOUT)
            except AckError as e:
                self.log.warning("%s failed: %s", command, e)

    def _on_queue(self, data: typing.Any) -> None:
        self.enabled = bool(data.enabled)
        self.running = bool(data.running)
        self.current = [data.currentSalIndex] if data.currentSalIndex > 0 else []
        self.waiting = list(data.salIndices[: data.length])
        self.finished = list(data.pastSalIndices[: data.pastLength])
        wanted = set(self.current) | set(self.waiting) | set(self.finished)
        for index in set(self.scripts) - wanted:
            del self.scripts[index]
            self.logs.pop(index, None)
            self._state_seen.discard(index)
        for index in wanted - set(self.scripts):
            self.scripts[index] = _Script(index=index)
            info = self.pending_info.pop(index, None)
            if info:
                self.scripts[index].config = info.get("config")
                self.scripts[index].descr = info.get("descr", "")
            if index not in self._shown:
                self._shown.add(index)
                self._spawn(self._show_script(index))
        self._publish_state()
        self._publish_scripts()

    async def _show_script(self, index: int) -> None:
        try:
            await self.remote.cmd_showScript.set_start(scriptSalIndex=index, timeout=SHOW_TIMEOUT)
        except AckError as e:
            self.log.debug("showScript %s failed: %s", index, e)

    def remember(self, index: int, **info: typing.Any) -> None:
        """Keep what the panel knows of a script it added (``config``,
        ``descr``), shown with the script.
        """
        script = self.scripts.get(index)
        if script is None:
            self.pending_info[index] = info
            return
        script.config = info.get("config", script.config)
        script.descr = info.get("descr", script.descr)
        self._publish_scripts()

    def _on_script(self, data: typing.Any) -> None:
        script = self.scripts.get(data.scriptSalIndex)
        if script is None:
            return
        script.type = "standard" if data.isStandard else "external"
        script.path = data.path
        script.process_state = _enum_name(ScriptProcessState, data.processState)
        # The script's own state event is newer than the queue's copy of it.
        if data.scriptState and script.index not in self._state_seen:
            script.script_state = _enum_name(ScriptState, data.scriptState)
        for name in (
            "timestampConfigureEnd",
            "timestampConfigureStart",
            "timestampProcessEnd",
            "timestampProcessStart",
            "timestampRunStart",
        ):
            setattr(script, name, float(getattr(data, name)))
        self._publish_scripts()

    def _on_available_scripts(self, data: typing.Any) -> None:
        for kind in ("standard", "external"):
            paths = [path for path in getattr(data, kind).split(":") if path]
            old = self.available[kind]
            self.available[kind] = {path: old.get(path, "") for path in paths}
        self._publish_available()

    def _on_config_schema(self, data: typing.Any) -> None:
        kind = "standard" if data.isStandard else "external"
        self.available[kind][data.path] = data.configSchema or "# empty schema"
        self._publish_available()

    def _on_root_directories(self, data: typing.Any) -> None:
        self.roots = {"standard": data.standard, "external": data.external}
        self._publish_available()

    # Script events.

    def _script_of(self, data: typing.Any) -> _Script | None:
        return self.scripts.get(data.salIndex)

    def _on_script_state(self, data: typing.Any) -> None:
        script = self._script_of(data)
        if script is None:
            return
        self._state_seen.add(script.index)
        script.script_state = _enum_name(ScriptState, data.state)
        script.last_checkpoint = data.lastCheckpoint
        if data.reason:
            script.reason = data.reason
        self._publish_scripts()

    def _on_script_metadata(self, data: typing.Any) -> None:
        script = self._script_of(data)
        if script is not None:
            script.expected_duration = float(data.duration)
            self._publish_scripts()

    def _on_script_description(self, data: typing.Any) -> None:
        script = self._script_of(data)
        if script is not None:
            script.description = data.description
            script.classname = data.classname
            script.remotes = data.remotes
            self._publish_scripts()

    def _on_script_checkpoints(self, data: typing.Any) -> None:
        script = self._script_of(data)
        if script is not None:
            script.pause_checkpoints = data.pause
            script.stop_checkpoints = data.stop
            self._publish_scripts()

    def _on_script_logLevel(self, data: typing.Any) -> None:  # noqa: N802 (SAL topic name)
        script = self._script_of(data)
        if script is not None:
            script.log_level = int(data.level)
            self._publish_scripts()

    def _on_script_largeFileObjectAvailable(self, data: typing.Any) -> None:  # noqa: N802
        script = self._script_of(data)
        if script is not None:
            script.report = {
                "url": data.url,
                "mimeType": data.mimeType,
                "id": data.id,
                "generator": data.generator,
                "byteSize": int(data.byteSize),
                "href": f"/reports/{script.index}/",
            }
            self._publish_scripts()

    def _on_script_heartbeat(self, data: typing.Any) -> None:
        script = self._script_of(data)
        if script is not None:
            script.last_heartbeat_timestamp = float(data.private_sndStamp)

    def _on_script_logMessage(self, data: typing.Any) -> None:  # noqa: N802
        if data.salIndex not in self.scripts:
            return
        fields = {
            name: {"value": getattr(data, name), "dataType": type(getattr(data, name)).__name__}
            for name in ("name", "level", "message", "traceback", "functionName", "lineNumber", "timestamp")
        }
        fields["private_sndStamp"] = {"value": data.private_sndStamp, "dataType": "float"}
        log = self.logs.setdefault(data.salIndex, collections.deque(maxlen=MAX_LOG_MESSAGES))
        log.append(fields)
        group = f"event-Script-{data.salIndex}-logMessage"
        message = {
            "category": "event",
            "data": [{"csc": "Script", "salindex": data.salIndex, "data": {"logMessage": [fields]}}],
        }
        self.publish(group, message)

    def log_history(self, index: int) -> list[dict[str, typing.Any]]:
        """The kept log messages of a script, oldest first, in one LOVE message each."""
        return [
            {"category": "event", "data": [{"csc": "Script", "salindex": index, "data": {"logMessage": [f]}}]}
            for f in self.logs.get(index, ())
        ]

    async def _beat_heartbeats(self) -> None:
        """Every script heartbeat interval: count the heartbeats each live
        script has missed and send them, as LOVE's producer does.
        """
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            now = current_tai()
            for index in self.current + self.waiting:
                script = self.scripts.get(index)
                if script is None:
                    continue
                if script.last_heartbeat_timestamp > 0:
                    age = now - script.last_heartbeat_timestamp
                    script.lost_heartbeats = max(0, math.floor(age / self.heartbeat_interval) - 1)
                self._publish_heartbeat(script)
