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

"""In-process transport: one bus per event loop, shared by every Domain on it."""

__all__ = ["LocalTransport"]

import asyncio
import copy
import dataclasses
import functools
import itertools
from typing import Any

from .transport import ReaderCallback, Transport


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    """Return the field names of a dataclass type."""
    return tuple(field.name for field in dataclasses.fields(cls))


def _copy_data(data: Any) -> Any:
    """Return a copy of a message that shares no mutable state with it.

    Message fields are scalars, strings or lists of scalars, so a shallow
    copy with fresh lists is a deep copy, at a fraction of the cost of
    `copy.deepcopy`. Other types fall back to `copy.deepcopy`.
    """
    if not dataclasses.is_dataclass(data) or isinstance(data, type):
        return copy.deepcopy(data)
    new = copy.copy(data)
    for name in _field_names(type(data)):
        value = getattr(data, name)
        if isinstance(value, list):
            setattr(new, name, list(value))
        elif isinstance(value, dict | set):
            setattr(new, name, copy.deepcopy(value))
    return new


@dataclasses.dataclass(slots=True)
class _Reader:
    key: tuple[str, str]
    index: int
    callback: ReaderCallback
    active: bool = True


@dataclasses.dataclass(slots=True)
class _Writer:
    key: tuple[str, str]
    keep_history: bool


class LocalTransport(Transport):
    """In-process message bus on one asyncio event loop.

    Parameters
    ----------
    loop : `asyncio.AbstractEventLoop`
        The event loop on which reader callbacks run.

    Notes
    -----
    Use `Transport.for_loop` to get the bus shared by every `Domain` of an event loop
    (so a `Remote` in one domain hears a `Controller` in another, as
    separate processes do over a network). Each reader receives its own
    copy of each message, delivered with ``loop.call_soon``: in write order,
    never from inside `publish`, without polling.
    """

    name = "local"

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._handles = itertools.count(1)
        self._readers: dict[int, _Reader] = {}
        self._readers_by_key: dict[tuple[str, str], dict[int, _Reader]] = {}
        self._writers: dict[int, _Writer] = {}
        # key: {salIndex: (writer handle, data)}
        self._history: dict[tuple[str, str], dict[int, tuple[int, Any]]] = {}
        self.closed = False

    def add_writer(self, component: str, sal_name: str, *, keep_history: bool) -> int:
        """See `Transport.add_writer`."""
        self._assert_open()
        handle = next(self._handles)
        self._writers[handle] = _Writer(key=(component, sal_name), keep_history=keep_history)
        return handle

    def remove_writer(self, handle: int) -> None:
        """See `Transport.remove_writer`."""
        writer = self._writers.pop(handle, None)
        if writer is None or not writer.keep_history:
            return
        history = self._history.get(writer.key, {})
        for sal_index in [i for i, (h, _) in history.items() if h == handle]:
            del history[sal_index]

    def publish(self, handle: int, data: Any) -> None:
        """See `Transport.publish`."""
        self._assert_open()
        writer = self._writers.get(handle)
        if writer is None:
            raise RuntimeError(f"Writer {handle} is not registered (removed or never added)")
        sal_index = data.salIndex
        if writer.keep_history:
            self._history.setdefault(writer.key, {})[sal_index] = (handle, _copy_data(data))
        for reader in self._readers_by_key.get(writer.key, {}).values():
            if reader.index == 0 or reader.index == sal_index:
                self.loop.call_soon(self._deliver, reader, _copy_data(data))

    def add_reader(
        self,
        component: str,
        sal_name: str,
        *,
        index: int | None,
        callback: ReaderCallback,
        history: bool,
    ) -> int:
        """See `Transport.add_reader`."""
        self._assert_open()
        handle = next(self._handles)
        key = (component, sal_name)
        reader = _Reader(key=key, index=index or 0, callback=callback)
        self._readers[handle] = reader
        self._readers_by_key.setdefault(key, {})[handle] = reader
        if history:
            # Oldest first, so a reader of all indices sees the most recent last.
            saved = sorted(self._history.get(key, {}).values(), key=lambda item: item[1].private_sndStamp)
            for _, data in saved:
                if reader.index == 0 or reader.index == data.salIndex:
                    self.loop.call_soon(self._deliver, reader, _copy_data(data))
        return handle

    def remove_reader(self, handle: int) -> None:
        """See `Transport.remove_reader`."""
        reader = self._readers.pop(handle, None)
        if reader is None:
            return
        reader.active = False
        self._readers_by_key[reader.key].pop(handle, None)

    async def wait_for_history(self) -> None:
        """See `Transport.wait_for_history`."""
        # History messages are scheduled with call_soon when a reader is
        # added; a callback scheduled now runs after all of them.
        done = self.loop.create_future()
        self.loop.call_soon(done.set_result, None)
        await done

    async def close(self) -> None:
        """Close the bus: drop every reader, writer and saved message."""
        self.closed = True
        for reader in self._readers.values():
            reader.active = False
        self._readers.clear()
        self._readers_by_key.clear()
        self._writers.clear()
        self._history.clear()

    def _assert_open(self) -> None:
        if self.closed:
            raise RuntimeError("The transport is closed")

    @staticmethod
    def _deliver(reader: _Reader, data: Any) -> None:
        if reader.active:
            reader.callback(data)
