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

"""Remote and RemoteCommand: acknowledgements, timeouts, routing, index filtering, late joiners."""

import asyncio
import logging
import time
from typing import Any

import pytest

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations.sal import (
    AckError,
    AckTimeoutError,
    Controller,
    Domain,
    ExpectedError,
    Remote,
    SalRetCode,
)


class FastController(Controller):
    heartbeat_interval = None


async def make_controller(index: int) -> Controller:
    controller = FastController("Test", index)
    await asyncio.wait_for(controller.start_task, STD_TIMEOUT)
    return controller


async def test_ack_paths(index: int, caplog: pytest.LogCaptureFixture) -> None:
    """Each callback outcome is acknowledged with its code."""
    outcome: dict[str, Any] = {}

    async def callback(data: Any) -> Any:
        action = outcome["action"]
        if isinstance(action, BaseException) or (
            isinstance(action, type) and issubclass(action, BaseException)
        ):
            raise action
        return action

    async with await make_controller(index) as controller, Domain() as domain:
        controller.cmd_setScalars.callback = callback
        remote = Remote(domain, "Test", index)
        cases = [
            (None, SalRetCode.CMD_COMPLETE, "Done"),
            (asyncio.CancelledError(), SalRetCode.CMD_ABORTED, "Aborted"),
            (TimeoutError("slow"), SalRetCode.CMD_TIMEOUT, "Timeout"),
            (ExpectedError("bad input"), SalRetCode.CMD_FAILED, "Failed: bad input"),
            (RuntimeError("surprise"), SalRetCode.CMD_FAILED, "Failed: surprise"),
        ]
        for action, ack, result in cases:
            outcome["action"] = action
            caplog.clear()
            with caplog.at_level(logging.WARNING):
                if ack == SalRetCode.CMD_COMPLETE:
                    ackcmd = await remote.cmd_setScalars.start(timeout=STD_TIMEOUT)
                else:
                    with pytest.raises(AckError) as exc_info:
                        await remote.cmd_setScalars.start(timeout=STD_TIMEOUT)
                    assert not isinstance(exc_info.value, AckTimeoutError)
                    ackcmd = exc_info.value.ackcmd
                    assert result in str(exc_info.value)
            assert (ackcmd.ack, ackcmd.result) == (ack, result)
            assert ackcmd.error == (0 if ack == SalRetCode.CMD_COMPLETE else 1)
            tracebacks = [record for record in caplog.records if record.exc_info]
            # A traceback is logged only for an unexpected exception.
            assert bool(tracebacks) == isinstance(action, RuntimeError), action
            if isinstance(action, ExpectedError):
                assert any("bad input" in record.getMessage() for record in caplog.records)

        # A callback may return its own final acknowledgement.
        outcome["action"] = controller.salinfo.make_ackcmd(
            private_seqNum=0, ack=SalRetCode.CMD_COMPLETE, result="custom"
        )
        ackcmd = await remote.cmd_setScalars.start(timeout=STD_TIMEOUT)
        assert ackcmd.result == "custom"
        assert ackcmd.cmdtype == controller.salinfo.command_names.index("setScalars")


async def test_no_controller_times_out(index: int) -> None:
    async with Domain() as domain:
        remote = Remote(domain, "Test", index)
        t0 = time.monotonic()
        with pytest.raises(AckTimeoutError) as exc_info:
            await remote.cmd_setScalars.set_start(int0=1, timeout=0.1)
        assert 0.1 <= time.monotonic() - t0 < 1
        assert isinstance(exc_info.value, TimeoutError)
        assert exc_info.value.ackcmd.ack == SalRetCode.CMD_NOACK
        assert exc_info.value.ackcmd.result == "No command acknowledgement seen"
        assert remote.salinfo.running_cmds == {}


async def test_in_progress_extends_timeout(index: int) -> None:
    async def slow(data: Any) -> None:
        await controller.cmd_wait.ack_in_progress(data, timeout=data.duration, result="working")
        await asyncio.sleep(data.duration)

    async with await make_controller(index) as controller, Domain() as domain:
        controller.cmd_wait.callback = slow
        remote = Remote(domain, "Test", index)
        # 0.3 s of work with a 0.1 s limit succeeds: the in-progress ack adds 0.3 s.
        ackcmd = await remote.cmd_wait.set_start(duration=0.3, timeout=0.1)
        assert ackcmd.ack == SalRetCode.CMD_COMPLETE

        # An in-progress ack that promises too little: timeout, reporting the last ack.
        async def underestimated(data: Any) -> None:
            await controller.cmd_wait.ack_in_progress(data, timeout=0.05, result="almost")
            await asyncio.sleep(1.0)

        controller.cmd_wait.callback = underestimated
        t0 = time.monotonic()
        with pytest.raises(AckTimeoutError) as exc_info:
            await remote.cmd_wait.set_start(duration=1, timeout=0.1)
        assert 0.15 <= time.monotonic() - t0 < 0.9
        assert exc_info.value.ackcmd.ack == SalRetCode.CMD_INPROGRESS
        assert exc_info.value.ackcmd.result == "almost"

        # Without an in-progress ack the limit holds.
        async def silent(data: Any) -> None:
            await asyncio.sleep(0.3)

        controller.cmd_wait.callback = silent
        with pytest.raises(AckTimeoutError):
            await remote.cmd_wait.set_start(duration=0.3, timeout=0.1)


async def test_wait_done_false_and_next_ackcmd(index: int) -> None:
    async def slow(data: Any) -> None:
        await controller.cmd_wait.ack_in_progress(data, timeout=STD_TIMEOUT)
        await asyncio.sleep(0.05)

    async with await make_controller(index) as controller, Domain() as domain:
        controller.cmd_wait.callback = slow
        remote = Remote(domain, "Test", index)
        ackcmd = await remote.cmd_wait.set_start(duration=0.05, wait_done=False, timeout=STD_TIMEOUT)
        assert ackcmd.ack == SalRetCode.CMD_INPROGRESS
        final = await remote.cmd_wait.next_ackcmd(ackcmd, timeout=STD_TIMEOUT)
        assert final.ack == SalRetCode.CMD_COMPLETE
        assert final.private_seqNum == ackcmd.private_seqNum
        with pytest.raises(RuntimeError, match="unknown or finished"):
            await remote.cmd_wait.next_ackcmd(final, timeout=STD_TIMEOUT)


async def test_ackcmd_ignored_when_not_final_with_wait_done_false(index: int) -> None:
    """CMD_ACK is never returned by start; the next acknowledgement is."""

    async def acked(data: Any) -> Any:
        await controller.cmd_setScalars.ack(
            data, controller.salinfo.make_ackcmd(private_seqNum=data.private_seqNum, ack=SalRetCode.CMD_ACK)
        )
        return None

    async with await make_controller(index) as controller, Domain() as domain:
        controller.cmd_setScalars.callback = acked
        remote = Remote(domain, "Test", index)
        ackcmd = await remote.cmd_setScalars.start(wait_done=False, timeout=STD_TIMEOUT)
        assert ackcmd.ack == SalRetCode.CMD_COMPLETE


@pytest.mark.parametrize("allow_multiple", [False, True])
async def test_allow_multiple_callbacks(index: int, allow_multiple: bool) -> None:
    running = 0
    max_running = 0

    async def job(data: Any) -> None:
        nonlocal running, max_running
        running += 1
        max_running = max(max_running, running)
        await asyncio.sleep(0.1)
        running -= 1

    async with await make_controller(index) as controller, Domain() as domain:
        controller.cmd_wait.callback = job
        controller.cmd_wait.allow_multiple_callbacks = allow_multiple
        remote = Remote(domain, "Test", index)
        t0 = time.monotonic()
        acks = await asyncio.gather(*(remote.cmd_wait.set_start(timeout=STD_TIMEOUT) for _ in range(3)))
        elapsed = time.monotonic() - t0
        assert [ack.ack for ack in acks] == [SalRetCode.CMD_COMPLETE] * 3
        if allow_multiple:
            assert max_running == 3
        else:
            assert max_running == 1
            assert elapsed >= 0.3


async def test_acks_routed_to_their_remote(index: int) -> None:
    """Concurrent commands from several remotes each get their own acknowledgements."""

    async def echo(data: Any) -> Any:
        await asyncio.sleep(0.01 * (5 - data.int0))
        return controller.salinfo.make_ackcmd(
            private_seqNum=data.private_seqNum, ack=SalRetCode.CMD_COMPLETE, result=f"int0={data.int0}"
        )

    async with await make_controller(index) as controller, Domain() as domain1, Domain() as domain2:
        controller.cmd_setScalars.callback = echo
        controller.cmd_setScalars.allow_multiple_callbacks = True
        remotes = [
            Remote(domain1, "Test", index),
            Remote(domain1, "Test", index),
            Remote(domain2, "Test", index),
        ]
        acks = await asyncio.gather(
            *(
                remote.cmd_setScalars.set_start(int0=i, timeout=STD_TIMEOUT)
                for i, remote in enumerate(remotes)
            )
        )
        assert [ack.result for ack in acks] == ["int0=0", "int0=1", "int0=2"]
        assert all(remote.salinfo.running_cmds == {} for remote in remotes)
        assert acks[0].identity == domain1.default_identity
        assert acks[0].origin == domain1.origin


async def test_index_filtering(next_index: Any) -> None:
    index1, index2 = next_index(), next_index()
    async with await make_controller(index1) as c1, await make_controller(index2) as c2, Domain() as domain:
        received: list[int] = []
        c1.cmd_setScalars.callback = lambda data: received.append(1)
        c2.cmd_setScalars.callback = lambda data: received.append(2)
        remote_all = Remote(domain, "Test", 0)
        remote1 = Remote(domain, "Test", index1)
        await asyncio.gather(remote_all.start_task, remote1.start_task)
        await c1.evt_scalars.set_write(int0=1)
        await c2.evt_scalars.set_write(int0=2)
        all_data = [await remote_all.evt_scalars.next(flush=False, timeout=STD_TIMEOUT) for _ in range(2)]
        assert [(d.salIndex, d.int0) for d in all_data] == [(index1, 1), (index2, 2)]
        data1 = await remote1.evt_scalars.next(flush=False, timeout=STD_TIMEOUT)
        assert (data1.salIndex, data1.int0) == (index1, 1)
        assert remote1.evt_scalars.nqueued == 0
        await remote1.cmd_setScalars.start(timeout=STD_TIMEOUT)
        assert received == [1]


async def test_late_joiners(next_index: Any) -> None:
    index1, index2 = next_index(), next_index()
    async with await make_controller(index1) as c1, await make_controller(index2) as c2, Domain() as domain:
        await c1.evt_scalars.set_write(int0=10)
        await c1.evt_scalars.set_write(int0=11)
        await c2.evt_scalars.set_write(int0=20)
        await c1.tel_scalars.set_write(int0=12)
        late1 = Remote(domain, "Test", index1)
        late_all = Remote(domain, "Test")
        no_history = Remote(domain, "Test", index1, evt_max_history=0)
        await asyncio.gather(late1.start_task, late_all.start_task, no_history.start_task)
        # The last event only, per index; no telemetry history.
        assert late1.evt_scalars.nqueued == 1
        assert late1.evt_scalars.get().int0 == 11
        assert (await late1.evt_scalars.aget(timeout=STD_TIMEOUT)).int0 == 11
        assert not late1.tel_scalars.has_data
        assert sorted(late_all.evt_scalars.get_oldest().int0 for _ in range(2)) == [11, 20]
        assert not no_history.evt_scalars.has_data
        # History goes away with its writer.
        await c2.close()
        late2 = Remote(domain, "Test", index2)
        await late2.start_task
        assert not late2.evt_scalars.has_data


async def test_remote_topic_selection(index: int) -> None:
    async with Domain() as domain:
        readonly = Remote(domain, "Test", index, readonly=True, include=["scalars"])
        assert not hasattr(readonly, "cmd_setScalars")
        assert hasattr(readonly, "evt_scalars") and hasattr(readonly, "tel_scalars")
        assert not hasattr(readonly, "evt_arrays")
        with pytest.raises(AttributeError, match="evt_arrays"):
            readonly.evt_arrays
        excluding = Remote(domain, "Test", index, exclude=["heartbeat", "arrays"])
        assert hasattr(excluding, "cmd_setArrays") and hasattr(excluding, "evt_scalars")
        assert not hasattr(excluding, "evt_heartbeat") and not hasattr(excluding, "tel_arrays")
        with pytest.raises(AttributeError, match="no attribute"):
            excluding.something_else
        with pytest.raises(ValueError, match="at most one"):
            Remote(domain, "Test", index, include=["scalars"], exclude=["arrays"])
        with pytest.raises(ValueError, match="noSuchTopic"):
            Remote(domain, "Test", index, include=["noSuchTopic"])
        with pytest.raises(ValueError, match="list of topic names"):
            Remote(domain, "Test", index, include="scalars")
        with pytest.raises(ValueError, match="Unknown SAL component"):
            Remote(domain, "NoSuchComponent")
        with pytest.raises(ValueError, match="not indexed"):
            Remote(domain, "CCCamera", 3)
        with pytest.raises(ValueError, match="range"):
            Remote(domain, "Test", -1)
        assert repr(readonly) == f"Remote(Test:{index})"


async def test_command_set_resets_and_validates(index: int) -> None:
    async with Domain() as domain:
        remote = Remote(domain, "Test", index, start=False)
        assert remote.cmd_setScalars.set(int0=3, string0="a")
        assert remote.cmd_setScalars.data.int0 == 3
        assert remote.cmd_setScalars.set(string0="b")
        assert remote.cmd_setScalars.data.int0 == 0  # fresh data each call
        assert not remote.cmd_setScalars.set()
        with pytest.raises(TypeError, match="noSuchField"):
            remote.cmd_setScalars.set(noSuchField=1)
        with pytest.raises(TypeError, match="int0"):
            remote.cmd_setScalars.set(int0="three")
        with pytest.raises(TypeError):
            await remote.cmd_setScalars.start(data=remote.cmd_setArrays.DataType())
        with pytest.raises(AttributeError):
            remote.cmd_setScalars.data.noSuchField = 1
        await remote.start()
        await remote.start_task


async def test_close_aborts_commands_and_is_idempotent(index: int) -> None:
    async with await make_controller(index) as controller:
        controller.cmd_wait.callback = lambda data: asyncio.sleep(STD_TIMEOUT)
        domain = Domain()
        remote = Remote(domain, "Test", index)
        task = asyncio.create_task(remote.cmd_wait.start(timeout=STD_TIMEOUT))
        await asyncio.sleep(0.05)
        await remote.close()
        with pytest.raises(AckError, match="Remote was closed"):
            await asyncio.wait_for(task, STD_TIMEOUT)
        assert remote.done_task.done()
        await remote.close()
        await domain.close()
        await domain.close()
        with pytest.raises(RuntimeError, match="closed"):
            await remote.cmd_wait.start(timeout=STD_TIMEOUT)
        with pytest.raises(RuntimeError, match="Domain is closed"):
            Remote(domain, "Test", index)


async def test_remote_async_with(index: int) -> None:
    async with await make_controller(index) as controller:
        await controller.evt_scalars.set_write(int0=4)
        async with Domain() as domain, Remote(domain, "Test", index) as remote:
            assert remote.evt_scalars.get().int0 == 4
            assert remote.domain is domain
            assert remote.salinfo in domain.salinfos
        assert remote.done_task.done()
        assert remote.salinfo not in domain.salinfos
