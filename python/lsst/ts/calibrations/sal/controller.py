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

"""Controller: the SAL side of a component (a CSC or a script)."""

__all__ = ["Controller"]

import asyncio
import logging
from typing import Any

from .base import HEARTBEAT_INTERVAL, ExpectedError
from .domain import Domain
from .lifecycle_mixin import LifecycleMixin
from .sal_info import SalInfo
from .sal_log_handler import SalLogHandler
from .topics.controller_command import ControllerCommand
from .topics.controller_event import ControllerEvent
from .topics.controller_telemetry import ControllerTelemetry

# Commands the Controller itself handles.
_BUILTIN_COMMANDS = ("setAuthList", "setLogLevel")


class Controller(LifecycleMixin):
    """The SAL side of a component: read its commands, write its events and telemetry.

    Parameters
    ----------
    name : `str`
        SAL component name, e.g. "Test".
    index : `int` or `None`, optional
        SAL index; nonzero for an indexed component.
    do_callbacks : `bool`, optional
        Set each command's callback to the method ``do_<name>``; each
        command must have one (the Controller itself handles
        ``setLogLevel`` and ``setAuthList``). Callbacks are assigned when
        the Controller starts.
    write_only : `bool`, optional
        Make no command topics and read nothing (write events and
        telemetry only). Cannot be combined with ``do_callbacks``.
    allow_missing_callbacks : `bool`, optional
        With ``do_callbacks``, allow commands without a ``do_<name>``
        method: they are refused with `ExpectedError` ("not supported").
    extra_commands : `set` [`str`], optional
        Names of ``do_<name>`` methods allowed although the interface has
        no such command (code that supports two interface versions).
    discard_out_of_order_telemetry, discard_out_of_order_events : `bool`, optional
        salobj's Kafka reordering guards; accepted and ignored.

    Attributes
    ----------
    domain : `Domain`
        The Domain, owned (and closed) by this Controller.
    salinfo : `SalInfo`
        Component bookkeeping; ``private_identity`` is "Name[:index]".
    log : `logging.Logger`
        Logger; each record is also written as ``evt_logMessage``.
    heartbeat_interval : `float` or `None`
        Interval (seconds) between ``evt_heartbeat`` messages; None or 0
        for none. Set it before the Controller starts.
    start_task : `asyncio.Task`
        Done when `start` (and `start_phase2`) have finished.
    start_called : `bool`
        Has `start` been called?
    isopen : `bool`
        True until `close` is called.
    delay_start_event : `asyncio.Event`
        `start` waits for it (it is set); a test may clear it right after
        construction to hold the start back, then set it.
    done_task : `asyncio.Future`
        Done when the Controller has closed.
    cmd_<name> : `ControllerCommand`
        One per command (unless ``write_only``).
    evt_<name> : `ControllerEvent`
        One per event.
    tel_<name> : `ControllerTelemetry`
        One per telemetry topic.

    Raises
    ------
    TypeError
        If ``do_callbacks`` and a command has no ``do_<name>`` method (and
        ``allow_missing_callbacks`` is False), or a ``do_<name>`` method has
        no command.
    ValueError
        If the component is unknown or the index is bad, if both
        ``do_callbacks`` and ``write_only`` are true, or if
        ``allow_missing_callbacks`` is true without ``do_callbacks``.

    Notes
    -----
    Subclasses extend `start` (call ``await super().start()``),
    `start_phase2` and `close_tasks`. `start` first waits for every
    started `Remote` built on this Controller's `domain`, so a component
    that commands others has their event history before it acts. Use as
    ``async with Controller(...) as controller:``.
    """

    heartbeat_interval: float | None = HEARTBEAT_INTERVAL

    def __init__(
        self,
        name: str,
        index: int | None = None,
        *,
        do_callbacks: bool = False,
        write_only: bool = False,
        allow_missing_callbacks: bool = False,
        extra_commands: set[str] | frozenset[str] = frozenset(),
        discard_out_of_order_telemetry: bool = True,
        discard_out_of_order_events: bool = True,
    ) -> None:
        if do_callbacks and write_only:
            raise ValueError("do_callbacks and write_only cannot both be true")
        if allow_missing_callbacks and not do_callbacks:
            raise ValueError("allow_missing_callbacks=True requires do_callbacks=True")
        self.isopen = False
        self.start_called = False
        self._do_callbacks = do_callbacks
        self._allow_missing_callbacks = allow_missing_callbacks
        self._extra_commands = frozenset(extra_commands)
        self.delay_start_event = asyncio.Event()
        self.delay_start_event.set()
        self.domain = Domain()
        self.salinfo = SalInfo(domain=self.domain, name=name, index=index, write_only=write_only)
        self.salinfo.identity = self.salinfo.name_index
        self._closing = False
        self._controller_heartbeat_task: asyncio.Task[None] | None = None
        loop = asyncio.get_running_loop()
        self.done_task: asyncio.Future[None] = loop.create_future()
        self.log = logging.getLogger(
            f"lsst.ts.calibrations.sal.{type(self).__name__}.{self.salinfo.name_index}"
        )
        if self.log.level == logging.NOTSET:
            self.log.setLevel(logging.INFO)
        self._log_handler = SalLogHandler(self)
        try:
            command_names = [] if write_only else self.salinfo.command_names
            if do_callbacks:
                self._check_do_methods(command_names, allow_missing_callbacks)
            for cmd_name in command_names:
                setattr(self, "cmd_" + cmd_name, ControllerCommand(self.salinfo, cmd_name))
            for evt_name in self.salinfo.event_names:
                setattr(self, "evt_" + evt_name, ControllerEvent(self.salinfo, evt_name))
            for tel_name in self.salinfo.telemetry_names:
                setattr(self, "tel_" + tel_name, ControllerTelemetry(self.salinfo, tel_name))
        except BaseException:
            self.salinfo.domain.remove_salinfo(self.salinfo)
            raise
        self.log.addHandler(self._log_handler)
        self.isopen = True
        self.start_task: asyncio.Task[None] = asyncio.create_task(self._run_start())

    def _assign_cmd_callbacks(self) -> None:
        """Set ``cmd_<name>.callback`` to ``do_<name>``.

        A missing method allowed by ``allow_missing_callbacks`` gets a refusal.
        """
        for cmd_name in self.salinfo.command_names:
            topic = getattr(self, "cmd_" + cmd_name, None)
            if topic is None:
                continue
            if cmd_name in _BUILTIN_COMMANDS and not self._do_callbacks and topic.callback is not None:
                continue  # the subclass handles it itself
            if cmd_name in _BUILTIN_COMMANDS or self._do_callbacks:
                func = getattr(self, "do_" + cmd_name, None)
                if func is None and self._do_callbacks:
                    if topic.callback is not None:
                        continue  # set by the subclass itself
                    func = self._make_unsupported_callback(cmd_name)
                if func is not None:
                    topic.callback = func

    def _make_unsupported_callback(self, cmd_name: str) -> Any:
        async def refuse(data: Any) -> None:
            raise ExpectedError(f"{self.salinfo.name_index}: command {cmd_name} is not supported")

        return refuse

    def _check_do_methods(self, command_names: list[str], allow_missing_callbacks: bool) -> None:
        do_names = {
            name[3:] for name in dir(self) if name.startswith("do_") and callable(getattr(self, name))
        }
        builtin_do_names = {name[3:] for name in dir(Controller) if name.startswith("do_")}
        missing = sorted(set(command_names) - do_names)
        if missing and not allow_missing_callbacks:
            raise TypeError(f"{self.salinfo.name}: no do_ methods for commands {missing}")
        allowed = set(command_names) | builtin_do_names | self._optional_do_names() | self._extra_commands
        extra = sorted(do_names - allowed)
        if extra:
            raise TypeError(f"{self.salinfo.name}: do_ methods {extra} match no command")

    def _optional_do_names(self) -> set[str]:
        """Names of ``do_`` methods allowed without a command (subclasses extend)."""
        return set()

    async def _run_start(self) -> None:
        self.start_called = True
        try:
            await self.start()
            await self.start_phase2()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.log.exception("%s failed to start: %s", self.salinfo.name_index, e)
            await self.close(exception=e, cancel_start=False)
            raise

    async def start(self) -> None:
        """Start reading commands, write ``logLevel`` and start the heartbeat.

        Subclasses that extend it must call ``await super().start()`` first.
        It waits for `delay_start_event`, then for every started Remote of
        this Controller's Domain, then starts reading commands and assigns
        the command callbacks.
        """
        await asyncio.sleep(0)  # let Remotes built just before begin starting
        await self.delay_start_event.wait()
        remote_starts = [
            salinfo.start_task
            for salinfo in self.domain.salinfos
            if salinfo is not self.salinfo and salinfo.start_called and not salinfo.closed
        ]
        if remote_starts:
            await asyncio.gather(*remote_starts)
        await self.salinfo.start()
        self._assign_cmd_callbacks()
        if hasattr(self, "evt_logLevel"):
            await self.evt_logLevel.set_write(level=self.log.getEffectiveLevel(), subsystem="")
        if self.heartbeat_interval and hasattr(self, "evt_heartbeat"):
            self._controller_heartbeat_task = asyncio.create_task(self._write_heartbeats())

    async def start_phase2(self) -> None:
        """Finish starting, after `start` and before `start_task` is done.

        `BaseCsc` uses it to reach its initial state. Does nothing here.
        """

    async def put_log_level(self) -> None:
        """Write ``evt_logLevel`` with the current level of `log`."""
        await self.evt_logLevel.set_write(level=self.log.getEffectiveLevel(), subsystem="")

    async def _write_heartbeats(self) -> None:
        assert self.heartbeat_interval
        while not self.salinfo.closed:
            await self.evt_heartbeat.write()
            await asyncio.sleep(self.heartbeat_interval)

    async def do_setLogLevel(self, data: Any) -> None:
        """Set the log level of `log` and write ``evt_logLevel``.

        Parameters
        ----------
        data : ``cmd_setLogLevel.DataType``
            Command data: ``level`` (a Python logging level) and
            ``subsystem`` (ignored).
        """
        self.log.setLevel(data.level)
        await self.evt_logLevel.set_write(level=self.log.getEffectiveLevel(), subsystem="")

    async def do_setAuthList(self, data: Any) -> None:
        """Refuse: command authorization is not supported.

        Raises
        ------
        ExpectedError
            Always.
        """
        raise ExpectedError(f"{self.salinfo.name_index} does not support authorization lists")

    async def close_tasks(self) -> None:
        """Cancel this component's own tasks; called by `close`. Subclasses extend it."""
        if self._controller_heartbeat_task is not None:
            self._controller_heartbeat_task.cancel()

    async def close(self, exception: Exception | None = None, cancel_start: bool = True) -> None:
        """Close the Controller: tasks, topics and Domain. Idempotent.

        Parameters
        ----------
        exception : `Exception`, optional
            If given, `done_task` ends with this exception.
        cancel_start : `bool`, optional
            Cancel `start_task` if it is still running?
        """
        if self._closing:
            return
        self._closing = True
        self.isopen = False
        try:
            if cancel_start and not self.start_task.done():
                self.start_task.cancel()
                if self.start_task is not asyncio.current_task():
                    await asyncio.wait([self.start_task])
            try:
                await self.close_tasks()
            except Exception:
                self.log.exception("close_tasks failed")
            self.log.removeHandler(self._log_handler)
            await self.domain.close()
        finally:
            if not self.done_task.done():
                if exception is None:
                    self.done_task.set_result(None)
                else:
                    self.done_task.set_exception(exception)

    def __getattr__(self, name: str) -> Any:
        # Only called for missing attributes: say which topics exist.
        if name.startswith(("cmd_", "evt_", "tel_")):
            raise AttributeError(
                f"{type(self).__name__}({self.__dict__.get('salinfo')}) has no topic {name!r}"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.salinfo.name_index})"
