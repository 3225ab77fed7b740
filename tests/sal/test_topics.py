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

"""Read and write topics and the in-process transport: history, queues, callbacks, copies."""

import asyncio
import logging
from typing import Any

import pytest

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations.sal import ComponentInfo, Controller, Domain, LocalTransport, Remote, current_tai


class FastController(Controller):
    heartbeat_interval = None


async def make_pair(index: int, domain: Domain) -> tuple[Controller, Remote]:
    controller = FastController("Test", index)
    remote = Remote(domain, "Test", index)
    await asyncio.wait_for(asyncio.gather(controller.start_task, remote.start_task), STD_TIMEOUT)
    return controller, remote


async def test_events_written_only_on_change(index: int) -> None:
    async with Domain() as domain:
        controller, remote = await make_pair(index, domain)
        async with controller:
            evt = controller.evt_scalars
            assert not evt.has_data
            result = await evt.set_write(int0=1)
            assert result.did_write and result.did_change and result.data.int0 == 1
            result = await evt.set_write(int0=1)
            assert not result.did_write and not result.did_change
            result = await evt.set_write(int0=1, force_output=True)
            assert result.did_write and not result.did_change
            # As in salobj, force_output=False still writes a change...
            result = await evt.set_write(int0=2, force_output=False)
            assert result.did_write and result.did_change
            # ...and only a change.
            result = await evt.set_write(int0=2, force_output=False)
            assert not result.did_write and not result.did_change
            await evt.write()
            assert evt.set(int0=2) is False
            received = [await remote.evt_scalars.next(flush=False, timeout=STD_TIMEOUT) for _ in range(4)]
            assert [data.int0 for data in received] == [1, 1, 2, 2]
            assert [data.private_seqNum for data in received] == [1, 2, 3, 4]
            assert remote.evt_scalars.nqueued == 0


async def test_telemetry_always_written(index: int) -> None:
    async with Domain() as domain:
        controller, remote = await make_pair(index, domain)
        async with controller:
            for _ in range(2):
                result = await controller.tel_scalars.set_write(int0=7)
                assert result.did_write
            # force_output=False: written only if a field changed.
            assert not (await controller.tel_scalars.set_write(int0=7, force_output=False)).did_write
            assert (await controller.tel_scalars.set_write(int0=8, force_output=False)).did_write
            assert remote.tel_scalars.nqueued == 0  # delivered on the next loop iteration
            await asyncio.sleep(0)
            assert remote.tel_scalars.nqueued == 3


async def test_private_fields(index: int) -> None:
    async with Domain() as domain:
        controller, remote = await make_pair(index, domain)
        async with controller:
            t0 = current_tai()
            await controller.evt_scalars.set_write(int0=3)
            data = await remote.evt_scalars.next(flush=False, timeout=STD_TIMEOUT)
            assert data.salIndex == index
            assert t0 <= data.private_sndStamp <= data.private_rcvStamp <= current_tai()
            assert data.private_identity == f"Test:{index}"
            assert data.private_origin == domain.origin
            assert data.private_seqNum == 1


async def test_copies_are_not_shared(index: int) -> None:
    async with Domain() as domain:
        controller, remote1 = await make_pair(index, domain)
        remote2 = Remote(domain, "Test", index)
        await remote2.start_task
        async with controller:
            await controller.evt_arrays.set_write(int0=[1, 2, 3, 4, 5])
            data1 = await remote1.evt_arrays.next(flush=False, timeout=STD_TIMEOUT)
            data2 = await remote2.evt_arrays.next(flush=False, timeout=STD_TIMEOUT)
            data1.int0[0] = 99
            controller.evt_arrays.data.int0[1] = 98
            assert data2.int0 == [1, 2, 3, 4, 5]
            assert data1.int0 == [99, 2, 3, 4, 5]
            # A late joiner's history copy is unaffected too.
            late = Remote(domain, "Test", index)
            await late.start_task
            assert late.evt_arrays.get().int0 == [1, 2, 3, 4, 5]


async def test_read_methods(index: int) -> None:
    async with Domain() as domain:
        controller, remote = await make_pair(index, domain)
        async with controller:
            topic = remote.evt_scalars
            assert topic.get() is None and not topic.has_data and topic.get_oldest() is None
            with pytest.raises(TimeoutError):
                await topic.next(flush=False, timeout=0.01)
            with pytest.raises(TimeoutError):
                await topic.aget(timeout=0.01)
            aget_task = asyncio.create_task(topic.aget(timeout=STD_TIMEOUT))
            next_task = asyncio.create_task(topic.next(flush=True, timeout=STD_TIMEOUT))
            await asyncio.sleep(0)
            for i in range(1, 4):
                await controller.evt_scalars.set_write(int0=i)
            assert {(await aget_task).int0, (await next_task).int0} == {1, 2}
            assert topic.nqueued == 1
            assert topic.get().int0 == 3
            assert (await topic.aget(timeout=STD_TIMEOUT)).int0 == 3  # most recent, no wait
            assert topic.nqueued == 1  # aget did not pop
            assert topic.get_oldest().int0 == 3
            await controller.evt_scalars.set_write(int0=4)
            await controller.evt_scalars.set_write(int0=5)
            await asyncio.sleep(0)
            assert topic.nqueued == 2
            next_task = asyncio.create_task(topic.next(flush=True, timeout=STD_TIMEOUT))
            await asyncio.sleep(0)
            await controller.evt_scalars.set_write(int0=6)
            assert (await next_task).int0 == 6
            topic.flush()
            assert topic.nqueued == 0 and topic.get().int0 == 6


async def test_per_topic_order(index: int) -> None:
    async with Domain() as domain:
        controller, remote = await make_pair(index, domain)
        async with controller:
            for i in range(50):
                await controller.tel_scalars.set_write(int0=i)
            values = [
                (await remote.tel_scalars.next(flush=False, timeout=STD_TIMEOUT)).int0 for _ in range(50)
            ]
            assert values == list(range(50))


async def test_callback(index: int, caplog: pytest.LogCaptureFixture) -> None:
    async with Domain() as domain:
        controller, remote = await make_pair(index, domain)
        async with controller:
            topic = remote.tel_scalars
            await controller.tel_scalars.set_write(int0=1)
            await asyncio.sleep(0)
            assert topic.nqueued == 1
            received: list[int] = []
            topic.callback = lambda data: received.append(data.int0)
            assert topic.nqueued == 0  # setting a callback flushes
            assert topic.has_callback
            for method in (topic.next(flush=False), topic.aget()):
                with pytest.raises(RuntimeError, match="callback"):
                    await method
            with pytest.raises(RuntimeError, match="callback"):
                topic.get_oldest()

            async def async_callback(data: Any) -> None:
                await asyncio.sleep(0.001)
                received.append(-data.int0)

            for i in range(2, 5):
                await controller.tel_scalars.set_write(int0=i)
            await asyncio.sleep(0.01)
            topic.callback = async_callback
            for i in range(5, 8):
                await controller.tel_scalars.set_write(int0=i)
            for _ in range(100):
                if len(received) == 6:
                    break
                await asyncio.sleep(0.01)
            assert received == [2, 3, 4, -5, -6, -7]
            assert topic.get().int0 == 7

            def failing(data: Any) -> None:
                raise RuntimeError("callback trouble")

            topic.callback = failing
            with caplog.at_level(logging.ERROR):
                await controller.tel_scalars.set_write(int0=8)
                await asyncio.sleep(0.01)
            assert any("callback trouble" in str(r.exc_info) for r in caplog.records if r.exc_info)
            with pytest.raises(TypeError, match="not callable"):
                topic.callback = 5
            topic.callback = None
            await controller.tel_scalars.set_write(int0=9)
            assert (await topic.next(flush=False, timeout=STD_TIMEOUT)).int0 == 9


async def test_queue_overflow(index: int, caplog: pytest.LogCaptureFixture) -> None:
    async with Domain() as domain:
        controller, remote = await make_pair(index, domain)
        async with controller:
            topic = remote.tel_scalars
            assert topic.queue_len == 100
            assert topic.get_oldest() is None  # the queue is in use from now on
            with caplog.at_level(logging.WARNING):
                for i in range(110):
                    await controller.tel_scalars.set_write(int0=i)
                await asyncio.sleep(0)
            assert topic.nqueued == 100
            assert topic.get_oldest().int0 == 10
            assert sum("queue of 100 messages is full" in r.getMessage() for r in caplog.records) == 1
            for _ in range(60):
                topic.get_oldest()
            caplog.clear()
            with caplog.at_level(logging.WARNING):
                await controller.tel_scalars.set_write(int0=0)
                await asyncio.sleep(0)
            assert any("10 messages were dropped" in r.getMessage() for r in caplog.records)


async def test_callback_gets_every_message_of_a_burst(index: int, caplog: pytest.LogCaptureFixture) -> None:
    # A burst larger than queue_len (a 189-detector camera's imageInOODS per image) while the
    # callback is busy is a backlog the callback works through, in order: nothing is dropped.
    async with Domain() as domain:
        controller, remote = await make_pair(index, domain)
        async with controller:
            gate = asyncio.Event()
            received: list[int] = []

            async def callback(data: Any) -> None:
                await gate.wait()
                received.append(data.int0)

            remote.tel_scalars.callback = callback
            with caplog.at_level(logging.INFO):
                for i in range(250):
                    await controller.tel_scalars.set_write(int0=i)
                await asyncio.sleep(0.1)
                gate.set()
                async with asyncio.timeout(STD_TIMEOUT):
                    while len(received) < 250:
                        await asyncio.sleep(0.01)
            assert received == list(range(250))
            assert sum("none is dropped" in r.getMessage() for r in caplog.records) == 1


async def test_queue_overflow_silent_when_queue_unread(index: int, caplog: pytest.LogCaptureFixture) -> None:
    # A topic read only with get/aget (e.g. heartbeats nobody waits for) keeps
    # its latest message; dropping old queued ones is not worth a warning.
    async with Domain() as domain:
        controller, remote = await make_pair(index, domain)
        async with controller:
            with caplog.at_level(logging.WARNING):
                for i in range(110):
                    await controller.tel_scalars.set_write(int0=i)
                await asyncio.sleep(0)
            assert remote.tel_scalars.get().int0 == 109
            assert remote.tel_scalars.nqueued == 100
            assert not [r for r in caplog.records if "messages" in r.getMessage()]


async def test_write_topic_data(index: int) -> None:
    async with FastController("Test", index) as controller:
        topic = controller.evt_scalars
        with pytest.raises(TypeError, match="must be a"):
            topic.data = controller.evt_arrays.DataType()
        topic.data = topic.DataType(int0=5)
        assert topic.has_data
        topic.data.int0 = "not an int"
        with pytest.raises(TypeError, match="int0"):
            await topic.write()
        with pytest.raises(TypeError, match="noSuchField"):
            topic.set(noSuchField=3)
        with pytest.raises(ValueError):
            controller.evt_arrays.set(int0=[1, 2])
        assert topic.metadata is topic.topic_info
        assert repr(topic) == f"ControllerEvent(Test:{index}, evt_scalars)"


async def test_local_transport() -> None:
    loop = asyncio.get_running_loop()
    transport = LocalTransport.for_loop()
    assert LocalTransport.for_loop(loop) is transport
    info = ComponentInfo.from_name("Test").topics["tel_scalars"]
    received: list[Any] = []
    writer = transport.add_writer("Test", "scalars", keep_history=True)
    transport.publish(writer, info.make_data(salIndex=5, int0=1))
    reader = transport.add_reader("Test", "scalars", index=5, callback=received.append, history=True)
    other = transport.add_reader("Test", "scalars", index=6, callback=received.append, history=True)
    await transport.wait_for_history()
    assert [d.int0 for d in received] == [1]
    transport.publish(writer, info.make_data(salIndex=5, int0=2))
    transport.remove_reader(reader)  # a pending message is not delivered
    transport.remove_reader(reader)
    await asyncio.sleep(0)
    assert [d.int0 for d in received] == [1]
    transport.remove_writer(writer)
    transport.remove_writer(writer)
    with pytest.raises(RuntimeError, match="not registered"):
        transport.publish(writer, info.make_data(salIndex=5))
    late: list[Any] = []
    transport.add_reader("Test", "scalars", index=0, callback=late.append, history=True)
    await transport.wait_for_history()
    assert late == []  # history left with its writer
    transport.remove_reader(other)

    private = LocalTransport(loop)
    await private.close()
    with pytest.raises(RuntimeError, match="closed"):
        private.add_writer("Test", "scalars", keep_history=False)


async def test_domain_with_own_transport(index: int) -> None:
    transport = LocalTransport(asyncio.get_running_loop())
    async with Domain(transport=transport) as domain:
        remote = Remote(domain, "Test", index)
        await remote.start_task
        assert domain.transport is transport
        assert "Domain(origin=" in repr(domain)
    assert transport.closed
