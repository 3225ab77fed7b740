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

"""Per-component bookkeeping shared by the topics of one Remote or Controller."""

__all__ = ["SalInfo"]

import asyncio
import itertools
import logging
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .base import MAX_SAL_INDEX, MAX_SEQ_NUM
from .component_info import ComponentInfo
from .domain import Domain
from .topic_info import TopicInfo

if TYPE_CHECKING:
    from .topics.ack_cmd_reader import AckCmdReader
    from .topics.ack_cmd_writer import AckCmdWriter
    from .topics.read_topic import ReadTopic
    from .topics.remote_command import CommandInfo

# Sequence numbers of commands, unique within the process: with the
# process ID (private_origin) and identity they tell apart the commands of
# every Remote, so each RemoteCommand sees only its own acknowledgements.
_command_seq_nums = itertools.count(1)


class SalInfo:
    """The component, index, identity and topics of one Remote or Controller.

    Parameters
    ----------
    domain : `Domain`
        The Domain (transport and process identity).
    name : `str`
        SAL component name, e.g. "Test".
    index : `int` or `None`, optional
        SAL index; None or 0 for a component that is not indexed. For an
        indexed component, 0 (or None) on a Remote means all indices.
    write_only : `bool`, optional
        If True, this SalInfo only writes: adding a read topic raises
        `RuntimeError`.
    identity : `str`, optional
        ``private_identity`` of the messages written; the Domain's
        ``user@host`` if None.

    Attributes
    ----------
    start_called : `bool`
        Has `start` been called?
    start_task : `asyncio.Future`
        Done when `start` has finished.
    started : `bool`
        Has `start` begun (read topics are reading)?

    Raises
    ------
    ValueError
        If the component is unknown, or the index is out of range, or
        nonzero for a component that is not indexed.

    Notes
    -----
    Use as ``async with SalInfo(domain, name, index) as salinfo:``; the
    SalInfo is closed on exit (its Domain is not).
    """

    def __init__(
        self,
        domain: Domain,
        name: str,
        index: int | None = None,
        write_only: bool = False,
        *,
        identity: str | None = None,
    ) -> None:
        self.domain = domain
        self.write_only = bool(write_only)
        self.num_messages = 1
        self.consume_messages_timeout = 0.1
        self.component_info = ComponentInfo.from_name(name)
        self.name = name
        index = 0 if index is None else int(index)
        if self.component_info.indexed:
            if not 0 <= index <= MAX_SAL_INDEX:
                raise ValueError(f"{name}: index={index} must be in the range [0, {MAX_SAL_INDEX}]")
        elif index != 0:
            raise ValueError(f"{name} is not indexed: index={index} must be None or 0")
        self.index = index
        self.identity = domain.default_identity if identity is None else identity
        self.log = logging.getLogger(f"lsst.ts.calibrations.sal.{self.name_index}")
        self._readers: dict[str, ReadTopic] = {}
        self._writer_handles: list[int] = []
        self._ackcmd_reader: AckCmdReader | None = None
        self._ackcmd_writer: AckCmdWriter | None = None
        self.running_cmds: dict[tuple[int, str, int], CommandInfo] = {}
        self.started = False
        self.start_called = False
        self.start_task: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed = False
        self.close_callbacks: list[Callable[[], None]] = []
        """Functions called (without arguments) when this SalInfo closes."""
        domain.add_salinfo(self)

    @property
    def indexed(self) -> bool:
        """Is the component indexed?"""
        return self.component_info.indexed

    @property
    def name_index(self) -> str:
        """Name and index: "Name:index", or "Name" if not indexed (as salobj writes it)."""
        return f"{self.name}:{self.index}" if self.indexed else self.name

    @property
    def command_names(self) -> list[str]:
        """Bare command names, sorted."""
        return self.component_info.command_names

    @property
    def event_names(self) -> list[str]:
        """Bare event names, sorted."""
        return self.component_info.event_names

    @property
    def telemetry_names(self) -> list[str]:
        """Bare telemetry topic names, sorted."""
        return self.component_info.telemetry_names

    def topic_info(self, attr_name: str) -> TopicInfo:
        """Return the `TopicInfo` of a topic by attribute name (e.g. "evt_summaryState")."""
        return self.component_info[attr_name]

    @property
    def ackcmd_reader(self) -> "AckCmdReader":
        """The ``ackcmd`` reader that routes acks to running commands (made on first use)."""
        if self._ackcmd_reader is None:
            from .topics.ack_cmd_reader import AckCmdReader

            self._ackcmd_reader = AckCmdReader(self)
        return self._ackcmd_reader

    @property
    def ackcmd_writer(self) -> "AckCmdWriter":
        """The ``ackcmd`` writer of a Controller (made on first use)."""
        if self._ackcmd_writer is None:
            from .topics.ack_cmd_writer import AckCmdWriter

            self._ackcmd_writer = AckCmdWriter(self)
        return self._ackcmd_writer

    def get_broker_client_configuration(self) -> dict[str, Any]:
        """Refuse: there is no Kafka broker.

        Raises
        ------
        NotImplementedError
            Always: salobj returns its Kafka client settings here; this
            runtime's transports have none.
        """
        raise NotImplementedError(
            "get_broker_client_configuration: this SAL runtime has no Kafka broker (see LSST_SAL_TRANSPORT)"
        )

    def next_command_seq_num(self) -> int:
        """Return a ``private_seqNum`` for a command, unique in this process."""
        return (next(_command_seq_nums) - 1) % MAX_SEQ_NUM + 1

    def make_ackcmd(
        self,
        private_seqNum: int,  # noqa: N803
        ack: int,
        error: int = 0,
        result: str = "",
        timeout: float = 0.0,  # noqa: N803
    ) -> Any:
        """Make an ``ackcmd`` message.

        Parameters
        ----------
        private_seqNum : `int`
            Sequence number of the command acknowledged.
        ack : `int`
            Acknowledgement code (a `SalRetCode`).
        error : `int`, optional
            Error code.
        result : `str`, optional
            Explanation.
        timeout : `float`, optional
            Time (seconds) the command may still take (CMD_INPROGRESS).

        Returns
        -------
        ackcmd : ``ackcmd`` ``DataType``
            The message.
        """
        return self.component_info.ackcmd.make_data(
            private_seqNum=private_seqNum, ack=int(ack), error=error, result=result, timeout=float(timeout)
        )

    def add_reader(self, topic: "ReadTopic") -> None:
        """Register a read topic; it starts reading when this SalInfo starts."""
        if self.closed:
            raise RuntimeError(f"{self.name_index} is closed")
        if self.write_only:
            raise RuntimeError(
                f"{self.name_index}: cannot add read topic {topic.attr_name} to a write-only SalInfo"
            )
        self._readers[topic.attr_name] = topic
        if self.started:
            topic.start()

    def add_writer(self, sal_name: str, keep_history: bool) -> int:
        """Register a writer with the transport and return its handle."""
        if self.closed:
            raise RuntimeError(f"{self.name_index} is closed")
        handle = self.domain.transport.add_writer(self.name, sal_name, keep_history=keep_history)
        self._writer_handles.append(handle)
        return handle

    async def start(self) -> None:
        """Start every read topic and wait for the history of events. Idempotent."""
        if self.closed:
            raise RuntimeError(f"{self.name_index} is closed")
        self.start_called = True
        if not self.started:
            self.started = True
            for reader in list(self._readers.values()):
                reader.start()
        try:
            await self.domain.transport.wait_for_history()
        except BaseException as e:
            if not self.start_task.done():
                if isinstance(e, Exception):
                    self.start_task.set_exception(e)
                else:
                    self.start_task.cancel()
            raise
        if not self.start_task.done():
            self.start_task.set_result(None)

    async def close(self) -> None:
        """Stop reading and writing, and abort running commands. Idempotent."""
        if self.closed:
            return
        self.closed = True
        for reader in self._readers.values():
            reader.close()
        transport = self.domain.transport
        for handle in self._writer_handles:
            transport.remove_writer(handle)
        self._writer_handles.clear()
        for cmd_info in list(self.running_cmds.values()):
            cmd_info.abort()
        self.running_cmds.clear()
        self.domain.remove_salinfo(self)
        if not self.start_task.done():
            self.start_task.cancel()
        for callback in self.close_callbacks:
            callback()

    async def __aenter__(self) -> "SalInfo":
        if self.start_called:
            await self.start_task
        return self

    async def __aexit__(
        self,
        type: type[BaseException] | None,
        value: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"SalInfo({self.name_index}, identity={self.identity!r})"
