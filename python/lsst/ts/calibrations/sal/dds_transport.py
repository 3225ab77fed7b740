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

"""Multi-process transport over Cyclone DDS.

Each (component, SAL topic) is one DDS topic whose type is made at run time
from the interface definition (`TopicInfo`), with ``salIndex`` as the key
(the type mapping is `lsst.ts.calibrations.sal.dds_types`).
Quality of service, by SAL topic kind:

* commands and ``ackcmd``: reliable, volatile (a late joiner never receives
  an old command or acknowledgement);
* events: reliable, TRANSIENT_LOCAL with a durability-service history of
  one sample per ``salIndex``: a reader made with ``history=True`` first
  receives the last event of each index while the writer lives;
* telemetry: reliable, keep-last (a slow reader loses old samples and never
  slows the writer).

Isolation: the subname (``LSST_TOPIC_SUBNAME``) selects both the DDS domain
ID and the partition, so sets of processes with different subnames do not
exchange discovery traffic (unless two subnames share a domain ID) and never
exchange data. The package writes its own Cyclone configuration: loopback
only, multicast off, peers on localhost and a participant-index limit
(Cyclone's default of 9 stops the tenth process); ``LSST_DDS_INTERFACE``
names another network interface (then multicast discovery is allowed) and
``LSST_DDS_PEERS`` lists unicast peers (`lsst.ts.calibrations.sal.dds_domain`).

One reader thread per transport (one DDS participant) waits on a WaitSet
holding every reader's ReadCondition, takes the samples of the readers that
triggered, converts them to the topic's ``DataType`` and hands them to the
event loop with ``loop.call_soon_threadsafe``.
"""

__all__ = ["DdsTransport"]

import asyncio
import ctypes
import dataclasses
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from cyclonedds.builtin import BuiltinDataReader, BuiltinTopicDcpsParticipant
from cyclonedds.core import (
    DDSException,
    GuardCondition,
    InstanceState,
    Policy,
    Qos,
    ReadCondition,
    SampleState,
    ViewState,
    WaitSet,
)
from cyclonedds.domain import DomainParticipant
from cyclonedds.pub import DataWriter, Publisher
from cyclonedds.sub import DataReader, Subscriber
from cyclonedds.topic import Topic
from cyclonedds.util import duration

from .dds_domain import (
    INTERFACE_ENV,
    PEERS_ENV,
    DdsDomain,
    domain_id_for_subname,
    make_cyclone_config,
    subname_from_env,
)
from .dds_domain import delete_entity as _delete
from .dds_matching import matched_subscriptions
from .dds_types import idl_type_of, make_converter, sample_field_names, topic_kind
from .transport import ReaderCallback, Transport

WRITER_DEPTH = 1000
"""Samples per ``salIndex`` a command or event writer keeps for retransmission."""

TELEMETRY_DEPTH = 100
"""Samples per ``salIndex`` kept for telemetry (keep-last)."""

DISCOVERY_TIME = 0.1
"""Time (seconds) after the participant starts for discovery of the others."""

SETTLE_TIME = 0.02
"""Time (seconds) without a new match or sample after which history is complete."""

HISTORY_TIMEOUT = 2.0
"""Maximum time (seconds) `DdsTransport.wait_for_history` waits."""

_WAIT_NS = duration(milliseconds=200)
_MAX_TRIGGERED = 256
_TAKE_N = 256

_log = logging.getLogger(__name__)


@dataclasses.dataclass(eq=False)
class _Reader:
    handle: int
    key: tuple[str, str]
    index: int
    callback: ReaderCallback
    history: bool
    dds_reader: Any
    condition: Any
    convert: Callable[[Any], Any]
    created: float
    last_sample: float = 0.0
    active: bool = True


@dataclasses.dataclass(eq=False)
class _Writer:
    key: tuple[str, str]
    dds_writer: Any
    idl_type: type
    names: tuple[str, ...]
    created: float


class DdsTransport(Transport):
    """Transport between processes over Cyclone DDS.

    Parameters
    ----------
    loop : `asyncio.AbstractEventLoop`
        The event loop on which reader callbacks run.
    subname : `str`, optional
        Isolation name; ``LSST_TOPIC_SUBNAME`` (or "") if None.
    interface : `str`, optional
        Network interface name or address; ``LSST_DDS_INTERFACE`` if None,
        loopback only if that is unset too.

    Attributes
    ----------
    domain_id : `int`
        DDS domain ID (from the subname).
    partition : `str`
        DDS partition of every reader and writer (from the subname).

    Notes
    -----
    Use `Transport.for_loop` to share one transport (one DDS participant,
    one reader thread) among every `Domain` of an event loop; a change of
    ``LSST_TOPIC_SUBNAME`` gives a new one. The transport closes itself if
    its event loop closes first.
    """

    name = "dds"

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        subname: str | None = None,
        interface: str | None = None,
    ) -> None:
        self.loop = loop
        self.subname = subname_from_env() if subname is None else subname
        if interface is None:
            interface = os.environ.get(INTERFACE_ENV) or None
        peers = [p.strip() for p in os.environ.get(PEERS_ENV, "").split(",") if p.strip()] or None
        self.domain_id = domain_id_for_subname(self.subname)
        self.partition = f"lsst_sal_{self.subname}" if self.subname else "lsst_sal"
        self.closed = False
        self._handles = itertools.count(1)
        self._lock = threading.Lock()
        self._readers: dict[int, _Reader] = {}
        self._readers_by_address: dict[int, _Reader] = {}
        self._writers: dict[int, _Writer] = {}
        self._topics: dict[tuple[str, str], Topic] = {}
        self._pending: list[_Reader | _Writer] = []
        self._participant_reader: BuiltinDataReader | None = None
        DdsDomain.acquire(self.domain_id, make_cyclone_config(interface, peers))
        try:
            self._participant: DomainParticipant | None = DomainParticipant(self.domain_id)
            partition_qos = Qos(Policy.Partition([self.partition]))
            self._publisher = Publisher(self._participant, qos=partition_qos)
            self._subscriber = Subscriber(self._participant, qos=partition_qos)
            self._waitset = WaitSet(self._participant)
            self._guard = GuardCondition(self._participant)
            self._waitset.attach(self._guard)
        except Exception:
            DdsDomain.release(self.domain_id)
            raise
        self._start_time = time.monotonic()
        self._thread = threading.Thread(
            target=self._read_loop, name=f"DdsTransport-{self.domain_id}-reader", daemon=True
        )
        self._thread.start()

    def is_current(self) -> bool:
        """Is ``LSST_TOPIC_SUBNAME`` still this transport's subname? (`Transport.for_loop`)"""
        return self.subname == subname_from_env()

    def retire(self) -> None:
        """Stop this transport without awaiting: the reader thread deletes the participant."""
        self.closed = True
        self._wake_reader()

    # ------------------------------------------------------------------
    # Transport interface

    def add_writer(self, component: str, sal_name: str, *, keep_history: bool) -> int:
        """See `Transport.add_writer`."""
        self._assert_open()
        idl_type, topic_info = idl_type_of(component, sal_name)
        kind = topic_kind(sal_name)
        policies: list[Any] = [Policy.Reliability.Reliable(duration(milliseconds=100))]
        if kind == "telemetry":
            policies.append(Policy.History.KeepLast(TELEMETRY_DEPTH))
        else:
            policies.append(Policy.History.KeepLast(WRITER_DEPTH))
        if keep_history:
            policies += [
                Policy.Durability.TransientLocal,
                Policy.DurabilityService(0, Policy.History.KeepLast(1), -1, -1, -1),
            ]
        else:
            policies.append(Policy.Durability.Volatile)
        names = sample_field_names(topic_info)
        with self._lock:
            topic = self._topic(component, sal_name, idl_type)
            dds_writer = DataWriter(self._publisher, topic, qos=Qos(*policies))
            handle = next(self._handles)
            writer = _Writer(
                key=(component, sal_name),
                dds_writer=dds_writer,
                idl_type=idl_type,
                names=names,
                created=time.monotonic(),
            )
            self._writers[handle] = writer
            self._pending.append(writer)
        return handle

    def remove_writer(self, handle: int) -> None:
        """See `Transport.remove_writer`."""
        with self._lock:
            writer = self._writers.pop(handle, None)
            if writer is not None:
                _delete(writer.dds_writer)

    def publish(self, handle: int, data: Any) -> None:
        """See `Transport.publish`."""
        self._assert_open()
        writer = self._writers.get(handle)
        if writer is None:
            raise RuntimeError(f"Writer {handle} is not registered (removed or never added)")
        sample = writer.idl_type(**{name: getattr(data, name) for name in writer.names})
        writer.dds_writer.write(sample)

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
        idl_type, topic_info = idl_type_of(component, sal_name)
        kind = topic_kind(sal_name)
        depth = TELEMETRY_DEPTH if kind == "telemetry" else WRITER_DEPTH
        policies = [
            Policy.Reliability.Reliable(duration(milliseconds=100)),
            Policy.History.KeepLast(depth),
            Policy.Durability.TransientLocal if history else Policy.Durability.Volatile,
        ]
        convert = make_converter(topic_info)
        with self._lock:
            topic = self._topic(component, sal_name, idl_type)
            dds_reader = DataReader(self._subscriber, topic, qos=Qos(*policies))
            condition = ReadCondition(dds_reader, SampleState.Any | ViewState.Any | InstanceState.Any)
            handle = next(self._handles)
            reader = _Reader(
                handle=handle,
                key=(component, sal_name),
                index=index or 0,
                callback=callback,
                history=history,
                dds_reader=dds_reader,
                condition=condition,
                convert=convert,
                created=time.monotonic(),
            )
            self._waitset.attach(condition)
            value_pt = next(v for e, v in self._waitset.attached if e is condition)
            self._readers[handle] = reader
            self._readers_by_address[ctypes.addressof(value_pt)] = reader
            self._pending.append(reader)
        self._wake_reader()
        return handle

    def remove_reader(self, handle: int) -> None:
        """See `Transport.remove_reader`."""
        with self._lock:
            reader = self._readers.pop(handle, None)
            if reader is None:
                return
            reader.active = False
            for address, item in list(self._readers_by_address.items()):
                if item is reader:
                    del self._readers_by_address[address]
            self._waitset.detach(reader.condition)
            _delete(reader.condition)
            _delete(reader.dds_reader)

    async def wait_for_history(self) -> None:
        """Wait until the readers and writers added so far have matched
        their peers and history readers have received their history.

        DDS does not say when the history of a TRANSIENT_LOCAL writer has
        arrived, so this waits until discovery has had `DISCOVERY_TIME`
        since the participant started, then until no new match and no new
        sample has been seen for `SETTLE_TIME`, at most `HISTORY_TIMEOUT`.
        """
        with self._lock:
            pending = self._pending
            self._pending = []
        if not pending or self.closed:
            return
        deadline = time.monotonic() + HISTORY_TIMEOUT
        discovered = self._start_time + DISCOVERY_TIME
        counts: dict[int, int] = {}
        last_change = time.monotonic()
        while True:
            now = time.monotonic()
            for item in pending:
                count = self._match_count(item)
                if counts.get(id(item)) != count:
                    counts[id(item)] = count
                    last_change = now
                if isinstance(item, _Reader) and item.last_sample > last_change:
                    last_change = item.last_sample
            if now >= deadline or self.closed:
                break
            if now >= discovered and now - last_change >= SETTLE_TIME:
                break
            await asyncio.sleep(0.002)

    async def wait_for_readers(self, component: str, sal_name: str, timeout: float) -> bool:
        """Wait until every writer of a topic has at least one matched reader.

        A command written before the controller's reader has matched the
        writer is lost (commands are volatile); a process that starts a
        controller and then commands it waits with this first.

        Parameters
        ----------
        component : `str`
            SAL component name.
        sal_name : `str`
            SAL topic name, e.g. "command_configure".
        timeout : `float`
            Time limit (seconds).

        Returns
        -------
        matched : `bool`
            True if matched, False on timeout (or if there is no writer).
        """
        deadline = time.monotonic() + timeout
        while True:
            writers = [w for w in list(self._writers.values()) if w.key == (component, sal_name)]
            if writers and all(self._match_count(w) > 0 for w in writers):
                return True
            if time.monotonic() >= deadline or self.closed:
                return False
            await asyncio.sleep(0.002)

    async def wait_for_process_readers(self, component: str, sal_name: str, pid: int, timeout: float) -> bool:
        """Wait until every writer of a topic has matched a reader of one process.

        `wait_for_readers` is enough for a single peer; a process that
        commands several peers of one component (a script queue and its
        script processes) must know that the reader of the one it is about
        to command has matched, or the command may be lost.

        Parameters
        ----------
        component : `str`
            SAL component name.
        sal_name : `str`
            SAL topic name, e.g. "command_configure".
        pid : `int`
            Process ID of the reader's process, on this host (the ``__Pid``
            property each Cyclone participant announces).
        timeout : `float`
            Time limit (seconds).

        Returns
        -------
        matched : `bool`
            True if matched, False on timeout (or if there is no writer).
        """
        deadline = time.monotonic() + timeout
        wanted = str(pid)
        while True:
            writers = [w for w in list(self._writers.values()) if w.key == (component, sal_name)]
            if writers and not self.closed:
                pids = self._participant_pids()
                if all(wanted in self._matched_reader_pids(w, pids) for w in writers):
                    return True
            if time.monotonic() >= deadline or self.closed:
                return False
            await asyncio.sleep(0.005)

    def _participant_pids(self) -> dict[str, str]:
        """Return the process ID of each known participant, by participant key."""
        with self._lock:
            if self._participant is None:
                return {}
            if self._participant_reader is None:
                self._participant_reader = BuiltinDataReader(self._participant, BuiltinTopicDcpsParticipant)
            samples = self._participant_reader.read(N=_TAKE_N)
        pids: dict[str, str] = {}
        for sample in samples:
            for policy in sample.qos or ():
                if getattr(policy, "key", None) == "__Pid":
                    pids[str(sample.key)] = policy.value
        return pids

    def _matched_reader_pids(self, writer: _Writer, pids: dict[str, str]) -> set[str]:
        """Return the process IDs of the readers a writer has matched."""
        found: set[str] = set()
        try:
            for handle in matched_subscriptions(writer.dds_writer):
                endpoint = writer.dds_writer.get_matched_subscription_data(handle)
                if endpoint is not None and str(endpoint.participant_key) in pids:
                    found.add(pids[str(endpoint.participant_key)])
        except DDSException:
            pass
        return found

    async def close(self) -> None:
        """Stop the reader thread and delete the DDS participant. Idempotent."""
        if self.closed:
            return
        self.closed = True
        self._wake_reader()
        await asyncio.to_thread(self._thread.join, 5.0)
        self._shutdown()

    def _wake_reader(self) -> None:
        """Wake the reader thread, unless it has already deleted the participant.

        Once `closed` is set the reader thread may stop and delete the
        participant (and the guard condition) at any moment; the lock keeps
        that from happening while the guard is set.
        """
        with self._lock:
            if self._participant is not None:
                self._guard.set(True)

    # ------------------------------------------------------------------
    # Internals

    def _assert_open(self) -> None:
        if self.closed:
            raise RuntimeError("The transport is closed")

    def _topic(self, component: str, sal_name: str, idl_type: type) -> Topic:
        """Return the DDS topic of a SAL topic (caller holds the lock)."""
        key = (component, sal_name)
        topic = self._topics.get(key)
        if topic is None:
            assert self._participant is not None, "the transport is closed"
            topic = Topic(self._participant, f"{component}_{sal_name}", idl_type)
            self._topics[key] = topic
        return topic

    def _match_count(self, item: _Reader | _Writer) -> int:
        try:
            if isinstance(item, _Reader):
                if not item.active:
                    return 0
                return item.dds_reader.get_subscription_matched_status().current_count
            return item.dds_writer.get_publication_matched_status().current_count
        except DDSException:
            return 0

    def _shutdown(self) -> None:
        """Delete every DDS entity and release the domain (thread stopped)."""
        with self._lock:
            if getattr(self, "_participant", None) is None:
                return
            for reader in self._readers.values():
                reader.active = False
            self._readers.clear()
            self._readers_by_address.clear()
            self._writers.clear()
            self._topics.clear()
            self._pending.clear()
            self._participant_reader = None
            self._waitset.attached.clear()
            _delete(self._participant)
            self._participant = None
        DdsDomain.release(self.domain_id)

    def _read_loop(self) -> None:
        """Reader thread: wait on the WaitSet; hand samples to the event loop."""
        triggered = (ctypes.c_void_p * _MAX_TRIGGERED)()
        waitset = self._waitset
        try:
            while not self.closed:
                num = waitset._waitset_wait(waitset._ref, triggered, _MAX_TRIGGERED, _WAIT_NS)
                if self.closed:
                    break
                if self.loop.is_closed():
                    self.closed = True
                    break
                if num < 0:
                    raise DDSException(num, "waiting on the WaitSet")
                self._guard.set(False)
                batches: list[tuple[_Reader, list[Any]]] = []
                with self._lock:
                    for address in triggered[: min(num, _MAX_TRIGGERED)]:
                        reader = self._readers_by_address.get(address) if address else None
                        if reader is None or not reader.active:
                            continue
                        samples = reader.dds_reader.take(N=_TAKE_N)
                        data = [
                            reader.convert(s)
                            for s in samples
                            if s.sample_info.valid_data and (reader.index == 0 or s.salIndex == reader.index)
                        ]
                        if samples:
                            reader.last_sample = time.monotonic()
                        if data:
                            batches.append((reader, data))
                for reader, data in batches:
                    self.loop.call_soon_threadsafe(self._deliver, reader, data)
        except RuntimeError:
            # The event loop closed while samples were being handed over.
            self.closed = True
        except Exception:
            _log.exception("DDS reader thread failed")
            self.closed = True
        self._shutdown()

    @staticmethod
    def _deliver(reader: _Reader, data: list[Any]) -> None:
        for item in data:
            if not reader.active:
                return
            reader.callback(item)
