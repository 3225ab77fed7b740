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

"""Remote: the commands, events and telemetry of a SAL component, seen from outside."""

__all__ = ["Remote"]

import asyncio
from collections.abc import Iterable
from typing import Any, ClassVar

from .domain import Domain
from .lifecycle_mixin import LifecycleMixin
from .sal_info import SalInfo
from .topics.remote_command import RemoteCommand
from .topics.remote_event import RemoteEvent
from .topics.remote_telemetry import RemoteTelemetry


class Remote(LifecycleMixin):
    """Command a SAL component and read its events and telemetry.

    Parameters
    ----------
    domain : `Domain`
        The Domain (transport and identity).
    name : `str`
        SAL component name, e.g. "Test".
    index : `int` or `None`, optional
        SAL index; None or 0 on an indexed component reads every index.
    readonly : `bool`, optional
        If True, make no ``cmd_`` attributes.
    include : iterable of `str`, optional
        Names of the events and telemetry topics to read (bare names,
        e.g. "summaryState"); None for all.
    exclude : iterable of `str`, optional
        Names of the events and telemetry topics not to read; only if
        ``include`` is None.
    evt_max_history : `int`, optional
        1: each event reader starts with the last event written per SAL
        index (a late joiner sees the current summaryState); 0: none.
    start : `bool`, optional
        Start reading now? If True, `start_task` runs `start`; if False,
        the Remote has no `start_task` until you call `start` (as salobj,
        whose Remote then has none at all), and ``async with`` does not
        start it.
    num_messages, consume_messages_timeout : optional
        salobj's Kafka consumer tuning; accepted and ignored.
    discard_out_of_order_telemetry, discard_out_of_order_events : `bool`, optional
        salobj's Kafka reordering guards; accepted and ignored (the
        transports here deliver each writer's messages in order).

    Attributes
    ----------
    salinfo : `SalInfo`
        Component bookkeeping.
    start_called : `bool`
        Has `start` been called (or ``start=True`` given)?
    start_task : `asyncio.Future`
        Done when the Remote has started (event history received). Only
        present once started (always, with ``start=True``).
    done_task : `asyncio.Future`
        Done when the Remote has closed.
    cmd_<name> : `RemoteCommand`
        One per command (unless ``readonly``).
    evt_<name> : `RemoteEvent`
        One per event read.
    tel_<name> : `RemoteTelemetry`
        One per telemetry topic read.

    Raises
    ------
    ValueError
        If the component is unknown, the index is bad, both ``include`` and
        ``exclude`` are given, or they name topics that do not exist.
    """

    start_on_enter: ClassVar[bool] = False
    """``async with`` does not start a Remote made with ``start=False`` (as salobj)."""

    def __init__(
        self,
        domain: Domain,
        name: str,
        index: int | None = None,
        *,
        readonly: bool = False,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        evt_max_history: int = 1,
        start: bool = True,
        num_messages: int = 1,
        consume_messages_timeout: float = 0.1,
        discard_out_of_order_telemetry: bool = True,
        discard_out_of_order_events: bool = True,
    ) -> None:
        if include is not None and exclude is not None:
            raise ValueError("Specify at most one of include and exclude")
        self.salinfo = SalInfo(domain=domain, name=name, index=index)
        # salobj's Kafka consumer settings: kept for code that reads them, unused.
        self.salinfo.num_messages = num_messages
        self.salinfo.consume_messages_timeout = consume_messages_timeout
        try:
            read_names = self._select_topics(include=include, exclude=exclude)
            self._closing = False
            loop = asyncio.get_running_loop()
            self.start_called = False
            self.done_task: asyncio.Future[None] = loop.create_future()
            self._start_runner: asyncio.Task[None] | None = None
            if not readonly:
                for cmd_name in self.salinfo.command_names:
                    setattr(self, "cmd_" + cmd_name, RemoteCommand(self.salinfo, cmd_name))
            for evt_name in self.salinfo.event_names:
                if evt_name in read_names:
                    setattr(
                        self,
                        "evt_" + evt_name,
                        RemoteEvent(self.salinfo, evt_name, max_history=evt_max_history),
                    )
            for tel_name in self.salinfo.telemetry_names:
                if tel_name in read_names:
                    setattr(self, "tel_" + tel_name, RemoteTelemetry(self.salinfo, tel_name))
        except BaseException:
            domain.remove_salinfo(self.salinfo)
            raise
        self.salinfo.close_callbacks.append(self._salinfo_closed)
        if start:
            self.start_called = True
            self.start_task: asyncio.Future[None] = loop.create_future()
            self._start_runner = asyncio.create_task(self._auto_start())

    def _select_topics(self, include: Iterable[str] | None, exclude: Iterable[str] | None) -> set[str]:
        all_names = set(self.salinfo.event_names) | set(self.salinfo.telemetry_names)
        chosen = include if include is not None else exclude
        if chosen is None:
            return all_names
        if isinstance(chosen, str):
            raise ValueError(f"include/exclude must be a list of topic names, not the string {chosen!r}")
        chosen_set = set(chosen)
        unknown = sorted(chosen_set - all_names)
        if unknown:
            raise ValueError(
                f"{self.salinfo.name} has no event or telemetry topics {unknown}; "
                f"known: {', '.join(sorted(all_names))}"
            )
        return chosen_set if include is not None else all_names - chosen_set

    @property
    def domain(self) -> Domain:
        """The Domain."""
        return self.salinfo.domain

    async def start(self) -> None:
        """Start reading and wait for the event history. Idempotent.

        Raises
        ------
        RuntimeError
            If the Remote (or its Domain) is closed.
        """
        if not self.start_called:
            self.start_called = True
            self.start_task = asyncio.get_running_loop().create_future()
        try:
            await self.salinfo.start()
        except Exception as e:
            if not self.start_task.done():
                self.start_task.set_exception(e)
            raise
        if not self.start_task.done():
            self.start_task.set_result(None)

    async def _auto_start(self) -> None:
        if self.salinfo.closed:
            # Closed (e.g. with its Domain) before it could start.
            self.start_task.cancel()
            return
        try:
            await self.start()
        except Exception:
            # Reported through start_task, which the user awaits.
            pass

    def _salinfo_closed(self) -> None:
        self._closing = True
        if self._start_runner is not None and not self._start_runner.done():
            self._start_runner.cancel()
        if self.start_called and not self.start_task.done():
            self.start_task.cancel()
        if not self.done_task.done():
            self.done_task.set_result(None)

    async def close(self) -> None:
        """Stop reading and abandon running commands. Idempotent."""
        if self._closing:
            return
        await self.salinfo.close()  # calls _salinfo_closed

    def __getattr__(self, name: str) -> Any:
        # Only called for missing attributes: say which topics exist.
        if name.startswith(("cmd_", "evt_", "tel_")):
            raise AttributeError(
                f"Remote({self.salinfo.name_index}) has no topic {name!r} "
                "(not in the interface, excluded, or readonly)"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"Remote({self.salinfo.name_index})"
