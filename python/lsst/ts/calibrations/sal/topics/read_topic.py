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

"""Base class of the topics a component reads: events, telemetry, commands, acks."""

__all__ = ["ReadTopic"]

import asyncio
import collections
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..base import DEFAULT_QUEUE_LEN, MIN_QUEUE_LEN, current_tai
from .base_topic import BaseTopic

if TYPE_CHECKING:
    from ..sal_info import SalInfo

CallbackType = Callable[[Any], Any]


class ReadTopic(BaseTopic):
    """Read messages of a topic: by polling (`get`), waiting (`next`,
    `aget`), or with a `callback`.

    Parameters
    ----------
    salinfo : `SalInfo`
        The component's bookkeeping.
    attr_name : `str`
        Attribute name, e.g. "evt_summaryState".
    max_history : `int`
        0 to read only new messages; > 0 to also get the last message per
        SAL index written before this reader started (events).
    queue_len : `int`, optional
        Number of messages (at least `MIN_QUEUE_LEN`) queued for `next` and `get_oldest`; when the
        queue is full the oldest message is dropped, with a warning if the
        queue is being read (a topic read only with `get` or `aget`, such as
        a CSC's heartbeat on a script's Remote, drops old messages silently).
        A callback gets every message: a longer backlog is worked through,
        in order, and said once at INFO level.

    Attributes
    ----------
    allow_multiple_callbacks : `bool`
        If False (default) the callback handles one message at a time, in
        order; if True each message gets its own task, so several run at
        once (only meaningful for an async callback).

    Notes
    -----
    Messages are the reader's own copies: changing one changes nothing
    elsewhere.
    """

    def __init__(
        self,
        *,
        salinfo: "SalInfo",
        attr_name: str,
        max_history: int,
        queue_len: int = DEFAULT_QUEUE_LEN,
    ) -> None:
        super().__init__(salinfo=salinfo, attr_name=attr_name)
        if max_history < 0:
            raise ValueError(f"{attr_name}: max_history={max_history} must be >= 0")
        if queue_len < MIN_QUEUE_LEN:
            raise ValueError(f"{attr_name}: queue_len={queue_len} must be >= MIN_QUEUE_LEN={MIN_QUEUE_LEN}")
        if max_history > queue_len:
            raise ValueError(f"{attr_name}: max_history={max_history} must be <= queue_len={queue_len}")
        self.max_history = max_history
        self.queue_len = queue_len
        self.allow_multiple_callbacks = False
        # Bounded by queue_len for next/get_oldest; a callback's backlog is never dropped.
        self._data_queue: collections.deque[Any] = collections.deque()
        self._callback_backlog_warned = False
        self._current_data: Any = None
        self._callback: CallbackType | None = None
        self._data_event = asyncio.Event()
        self._callback_runner: asyncio.Task[None] | None = None
        self._callback_tasks: set[asyncio.Task[None]] = set()
        self._reader_handle: int | None = None
        self._num_dropped = 0
        # Whether anyone reads the queue (next, get_oldest): only then does
        # dropping old messages lose something, and deserve a warning.
        self._queue_in_use = False
        self.closed = False
        salinfo.add_reader(self)

    @property
    def callback(self) -> CallbackType | None:
        """Function called with each message (sync or async), or None.

        Setting it (to anything, None included) flushes the queue; while a
        callback is set, `next`, `aget` and `get_oldest` raise
        `RuntimeError`.
        """
        return self._callback

    @callback.setter
    def callback(self, func: CallbackType | None) -> None:
        if func is not None and not callable(func):
            raise TypeError(f"{self.attr_name}: callback={func!r} is not callable")
        self.flush()
        self._callback = func

    @property
    def has_callback(self) -> bool:
        """Is a callback set?"""
        return self._callback is not None

    @property
    def has_data(self) -> bool:
        """Has any message been read?"""
        return self._current_data is not None

    @property
    def nqueued(self) -> int:
        """Number of messages in the queue."""
        return len(self._data_queue)

    def get(self) -> Any:
        """Return the most recent message, or None if none read yet.

        The queue is not changed.
        """
        return self._current_data

    async def aget(self, timeout: float | None = None) -> Any:
        """Return the most recent message; if none yet, wait for the next one.

        Parameters
        ----------
        timeout : `float`, optional
            Time limit (seconds); None for no limit.

        Returns
        -------
        data : ``DataType``
            The message.

        Raises
        ------
        TimeoutError
            If no message arrives in time.
        RuntimeError
            If a callback is set or the topic is closed.
        """
        self._assert_no_callback("aget")
        if self._current_data is not None:
            return self._current_data
        return await self._next(timeout=timeout)

    async def next(self, *, flush: bool, timeout: float | None = None) -> Any:
        """Return the oldest queued message, waiting for one if needed.

        Parameters
        ----------
        flush : `bool`
            Flush the queue first, so only a message read after this call is
            returned?
        timeout : `float`, optional
            Time limit (seconds); None for no limit.

        Returns
        -------
        data : ``DataType``
            The message.

        Raises
        ------
        TimeoutError
            If no message arrives in time.
        RuntimeError
            If a callback is set or the topic is closed.
        """
        self._assert_no_callback("next")
        if flush:
            self.flush()
        return await self._next(timeout=timeout)

    def get_oldest(self) -> Any:
        """Pop and return the oldest queued message, or None if the queue is empty.

        Raises
        ------
        RuntimeError
            If a callback is set.
        """
        self._assert_no_callback("get_oldest")
        self._queue_in_use = True
        if self._data_queue:
            return self._data_queue.popleft()
        return None

    def flush(self) -> None:
        """Empty the queue (the most recent message stays available to `get`)."""
        self._data_queue.clear()

    def start(self) -> None:
        """Start reading; called by `SalInfo.start`. Idempotent."""
        if self._reader_handle is not None or self.closed:
            return
        self._reader_handle = self.salinfo.domain.transport.add_reader(
            self.salinfo.name,
            self.sal_name,
            index=self.salinfo.index,
            callback=self._on_data,
            history=self.max_history > 0,
        )

    def close(self) -> None:
        """Stop reading, cancel running callbacks and wake waiters. Idempotent."""
        if self.closed:
            return
        self.closed = True
        if self._reader_handle is not None:
            self.salinfo.domain.transport.remove_reader(self._reader_handle)
            self._reader_handle = None
        if self._callback_runner is not None:
            self._callback_runner.cancel()
        for task in list(self._callback_tasks):
            task.cancel()
        self._data_queue.clear()
        self._data_event.set()

    def _assert_no_callback(self, method: str) -> None:
        if self._callback is not None:
            raise RuntimeError(f"{self.attr_name}.{method} not allowed while there is a callback")

    async def _next(self, timeout: float | None) -> Any:
        self._queue_in_use = True
        async with asyncio.timeout(timeout):
            while not self._data_queue:
                if self.closed:
                    raise RuntimeError(f"{self.salinfo.name_index} {self.attr_name} is closed")
                self._data_event.clear()
                await self._data_event.wait()
        return self._data_queue.popleft()

    def _on_data(self, data: Any) -> None:
        """Receive one message from the transport (on the event loop)."""
        data.private_rcvStamp = current_tai()
        self._current_data = data
        self._queue_one_item(data)

    def _queue_one_item(self, data: Any) -> None:
        if self._callback is not None:
            # Every message reaches the callback, in order: a burst larger than the queue
            # (e.g. one imageInOODS per detector of a 189-detector camera) is a backlog, not a loss.
            if len(self._data_queue) >= self.queue_len and not self._callback_backlog_warned:
                self._callback_backlog_warned = True
                self.log.info(
                    "%s %s: the callback is %d messages behind (queue_len %d); none is dropped",
                    self.salinfo.name_index,
                    self.attr_name,
                    len(self._data_queue),
                    self.queue_len,
                )
            elif len(self._data_queue) < self.queue_len // 2:
                self._callback_backlog_warned = False
        elif len(self._data_queue) >= self.queue_len:
            self._data_queue.popleft()
            self._num_dropped += 1
            if self._num_dropped == 1 and self._queue_in_use:
                self.log.warning(
                    "%s %s: the queue of %d messages is full; dropping the oldest messages "
                    "(read faster, or use a callback)",
                    self.salinfo.name_index,
                    self.attr_name,
                    self.queue_len,
                )
        elif self._num_dropped and len(self._data_queue) <= self.queue_len // 2:
            if self._queue_in_use:
                self.log.warning(
                    "%s %s: %d messages were dropped",
                    self.salinfo.name_index,
                    self.attr_name,
                    self._num_dropped,
                )
            self._num_dropped = 0
        self._data_queue.append(data)
        if self._callback is None:
            self._data_event.set()
        elif self.allow_multiple_callbacks:
            self._start_callback_task(self._data_queue.popleft())
        elif self._callback_runner is None or self._callback_runner.done():
            self._callback_runner = asyncio.create_task(self._run_callbacks())

    def _start_callback_task(self, data: Any) -> None:
        task = asyncio.create_task(self._run_callback(data))
        self._callback_tasks.add(task)
        task.add_done_callback(self._callback_tasks.discard)

    async def _run_callbacks(self) -> None:
        """Run the callback on queued messages, one at a time, in order."""
        while self._data_queue and self._callback is not None:
            await self._run_callback(self._data_queue.popleft())

    async def _run_callback(self, data: Any) -> None:
        """Run the callback on one message; log (and swallow) its exceptions."""
        callback = self._callback
        if callback is None:
            return
        try:
            result = callback(data)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception:
            self.log.exception("%s %s callback %s failed", self.salinfo.name_index, self.attr_name, callback)
