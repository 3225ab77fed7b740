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

"""The transport interface: how SAL messages move between components.

A transport carries messages of a topic, identified by the component name
and the topic's SAL name (``command_takeImages``, ``logevent_summaryState``,
``ackcmd``, ``scalars``), from writers to readers. Implementations:

* `LocalTransport`: an in-process bus shared by every `Domain` on one event
  loop (messages copied, ordered, delivered with ``loop.call_soon``).
* `DdsTransport`: Cyclone DDS between processes (one DDS topic per
  (component, SAL name), ``salIndex`` as key, reliable, TRANSIENT_LOCAL
  KeepLast(1) for writers that keep history); its reader thread hands each
  sample to the reader callback on the event loop with
  ``loop.call_soon_threadsafe``.

Each implementation is shared by the Domains of one event loop:
`Transport.for_loop` returns the loop's instance, made on first use.

The topic classes use only this interface.
"""

__all__ = ["Transport"]

import abc
import asyncio
import typing
import weakref
from collections.abc import Callable
from typing import Any

ReaderCallback = Callable[[Any], None]


class Transport(abc.ABC):
    """Abstract transport: writers publish messages, readers receive copies.

    Contract for implementations:

    * A reader receives its own copy of each message (nothing mutable is
      shared with the writer or with other readers).
    * Messages of one topic written by one writer reach each reader in the
      order written.
    * A reader callback is called on the event loop, never from inside
      `publish` (so a callback may itself publish), and never after the
      reader has been removed.
    * A writer made with ``keep_history=True`` leaves its last message per
      ``salIndex`` available; a reader made with ``history=True`` first
      receives those last messages (one per matching index) and then the new
      ones. The history of a writer goes away when the writer is removed.
    * Index filtering: a reader made with ``index`` 0 or None receives
      messages of every ``salIndex``; otherwise only those with that
      ``salIndex``.

    An implementation is constructed with its event loop (``cls(loop)``),
    sets `loop` and `closed`, and names itself in `name`.
    """

    name: typing.ClassVar[str] = "unnamed"
    """Name of the transport, as ``LSST_SAL_TRANSPORT`` spells it ("local", "dds")."""

    loop: asyncio.AbstractEventLoop
    """The event loop on which reader callbacks run."""

    closed: bool = False
    """True once `close` has been called (or the transport closed itself)."""

    _instances: typing.ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, "Transport"]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # One registry per implementation: a loop may have a LocalTransport and a DdsTransport.
        cls._instances = weakref.WeakKeyDictionary()

    @classmethod
    def for_loop(cls, loop: asyncio.AbstractEventLoop | None = None) -> typing.Self:
        """Return the transport of this kind shared by everything on an event loop.

        Parameters
        ----------
        loop : `asyncio.AbstractEventLoop`, optional
            The event loop; the running loop if None.

        Returns
        -------
        transport : `Transport`
            The shared instance, made on first use, and made again after it
            closed or stopped being current (`is_current`).

        Raises
        ------
        RuntimeError
            If ``loop`` is None and no event loop is running.
        """
        if loop is None:
            loop = asyncio.get_running_loop()
        transport = cls._instances.get(loop)
        if transport is None or transport.closed or not transport.is_current():
            if transport is not None and not transport.closed:
                transport.retire()
            transport = cls(loop)  # type: ignore[call-arg]
            cls._instances[loop] = transport
        return typing.cast(typing.Self, transport)

    def is_current(self) -> bool:
        """Does this transport still match the process's settings? (`for_loop`)

        Returns
        -------
        current : `bool`
            True unless an implementation's setting changed (e.g. the
            isolation name of `DdsTransport`).
        """
        return True

    def retire(self) -> None:
        """Stop using a transport that is no longer current, without
        awaiting (`for_loop` replaces it). Implementations release their
        resources in the background; the default does nothing.
        """

    @abc.abstractmethod
    def add_writer(self, component: str, sal_name: str, *, keep_history: bool) -> int:
        """Register a writer of a topic.

        Parameters
        ----------
        component : `str`
            SAL component name, e.g. "Test".
        sal_name : `str`
            SAL topic name, e.g. "logevent_summaryState".
        keep_history : `bool`
            Keep the last message per ``salIndex`` for late-joining readers?

        Returns
        -------
        handle : `int`
            Writer handle for `publish` and `remove_writer`.
        """

    @abc.abstractmethod
    def remove_writer(self, handle: int) -> None:
        """Unregister a writer and drop its history. Ignored if unknown.

        Parameters
        ----------
        handle : `int`
            Handle returned by `add_writer`.
        """

    @abc.abstractmethod
    def publish(self, handle: int, data: Any) -> None:
        """Publish a message; readers get copies, so ``data`` may be reused.

        Parameters
        ----------
        handle : `int`
            Handle returned by `add_writer`.
        data : ``DataType``
            The message, with every private field already filled.

        Raises
        ------
        RuntimeError
            If the writer has been removed or the transport is closed.
        """

    @abc.abstractmethod
    def add_reader(
        self,
        component: str,
        sal_name: str,
        *,
        index: int | None,
        callback: ReaderCallback,
        history: bool,
    ) -> int:
        """Register a reader of a topic.

        Parameters
        ----------
        component : `str`
            SAL component name.
        sal_name : `str`
            SAL topic name.
        index : `int` or `None`
            SAL index to receive; 0 or None for all indices.
        callback : callable
            Function called on the event loop with each message (a copy).
        history : `bool`
            Deliver the last message per matching index first?

        Returns
        -------
        handle : `int`
            Reader handle for `remove_reader`.
        """

    @abc.abstractmethod
    def remove_reader(self, handle: int) -> None:
        """Unregister a reader; pending messages are not delivered. Ignored if unknown.

        Parameters
        ----------
        handle : `int`
            Handle returned by `add_reader`.
        """

    @abc.abstractmethod
    async def wait_for_history(self) -> None:
        """Wait until every reader added so far has received its history."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the transport's resources."""
