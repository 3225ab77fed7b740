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

"""Controller: lifecycle, logMessage, logLevel, heartbeat, command reading."""

import asyncio
import logging
from typing import Any

import pytest

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations.sal import AckError, Controller, Domain, Remote, SalRetCode


class FastController(Controller):
    heartbeat_interval = None


async def test_log_messages(index: int) -> None:
    async with FastController("Test", index) as controller, Domain() as domain:
        remote = Remote(domain, "Test", index)
        await remote.start_task
        controller.log.info("hello %s", "world")
        message = await remote.evt_logMessage.next(flush=False, timeout=STD_TIMEOUT)
        assert message.message == "hello world"
        assert message.level == logging.INFO
        assert message.name == controller.log.name
        assert message.functionName == "test_log_messages"
        assert message.filePath.endswith("test_controller.py")
        assert message.traceback == ""
        try:
            raise ValueError("oops")
        except ValueError:
            controller.log.exception("it failed")
        message = await remote.evt_logMessage.next(flush=False, timeout=STD_TIMEOUT)
        assert message.message == "it failed"
        assert "ValueError: oops" in message.traceback
        # Below the level: nothing written.
        controller.log.debug("quiet")
        # From a thread: written on the event loop.
        await asyncio.to_thread(controller.log.warning, "from a thread")
        message = await remote.evt_logMessage.next(flush=False, timeout=STD_TIMEOUT)
        assert (message.message, message.level) == ("from a thread", logging.WARNING)
        # Child loggers propagate to the handler.
        controller.log.getChild("part").error("child")
        message = await remote.evt_logMessage.next(flush=False, timeout=STD_TIMEOUT)
        assert message.message == "child"
    controller.log.info("after close")  # no handler any more, no error
    assert remote.evt_logMessage.nqueued == 0


async def test_set_log_level(index: int) -> None:
    async with FastController("Test", index) as controller, Domain() as domain:
        remote = Remote(domain, "Test", index)
        level = await remote.evt_logLevel.next(flush=False, timeout=STD_TIMEOUT)
        assert level.level == logging.INFO
        await remote.cmd_setLogLevel.set_start(level=logging.DEBUG, timeout=STD_TIMEOUT)
        assert controller.log.getEffectiveLevel() == logging.DEBUG
        level = await remote.evt_logLevel.next(flush=False, timeout=STD_TIMEOUT)
        assert level.level == logging.DEBUG
        controller.log.debug("now visible")
        message = await remote.evt_logMessage.next(flush=True, timeout=STD_TIMEOUT)
        assert message.message == "now visible"
        # ts_xml's generics no longer have setAuthList.
        assert "setAuthList" not in remote.salinfo.command_names
        controller.log.setLevel(logging.INFO)


async def test_heartbeat(index: int) -> None:
    class BeatingController(Controller):
        heartbeat_interval = 0.02

    async with BeatingController("Test", index), Domain() as domain:
        remote = Remote(domain, "Test", index)
        for _ in range(3):
            await remote.evt_heartbeat.next(flush=False, timeout=STD_TIMEOUT)
    async with FastController("Test", index), Domain() as domain:
        remote = Remote(domain, "Test", index)
        await remote.start_task
        await asyncio.sleep(0.05)
        assert not remote.evt_heartbeat.has_data


async def test_lifecycle(index: int) -> None:
    calls: list[str] = []

    class Tracked(FastController):
        async def close_tasks(self) -> None:
            calls.append("close_tasks")
            await super().close_tasks()

    controller = Tracked("Test", index)
    assert not controller.start_task.done()
    await asyncio.wait_for(controller.start_task, STD_TIMEOUT)
    assert controller.salinfo.identity == f"Test:{index}"
    assert repr(controller) == f"Tracked(Test:{index})"
    await controller.close()
    await controller.close()
    assert calls == ["close_tasks"]
    assert controller.done_task.done() and controller.done_task.result() is None
    assert controller.domain.closed
    with pytest.raises(RuntimeError, match="closed"):
        await controller.evt_scalars.write()

    # Closing before start has finished cancels the start.
    controller = Tracked("Test", index)
    await controller.close(exception=RuntimeError("stop"))
    assert controller.start_task.cancelled()
    with pytest.raises(RuntimeError, match="stop"):
        await controller.done_task


async def test_start_failure(index: int, caplog: pytest.LogCaptureFixture) -> None:
    class Broken(FastController):
        async def start(self) -> None:
            await super().start()
            raise RuntimeError("cannot start")

    with caplog.at_level(logging.ERROR):
        controller = Broken("Test", index)
        with pytest.raises(RuntimeError, match="cannot start"):
            await controller.start_task
        with pytest.raises(RuntimeError, match="cannot start"):
            await controller.done_task
    assert any("failed to start" in r.getMessage() for r in caplog.records)


async def test_write_only_and_attributes(index: int) -> None:
    async with FastController("Test", index, write_only=True) as controller:
        assert not hasattr(controller, "cmd_setScalars")
        assert hasattr(controller, "evt_scalars") and hasattr(controller, "tel_arrays")
        with pytest.raises(AttributeError, match="no topic 'cmd_setScalars'"):
            controller.cmd_setScalars
        with pytest.raises(AttributeError, match="no attribute"):
            controller.whatever
    with pytest.raises(ValueError, match="not indexed"):
        FastController("CCCamera", 2)


async def test_read_commands_without_callback(index: int) -> None:
    async with FastController("Test", index) as controller, Domain() as domain:
        remote = Remote(domain, "Test", index)
        task = asyncio.create_task(remote.cmd_setScalars.set_start(int0=8, timeout=STD_TIMEOUT))
        data = await controller.cmd_setScalars.next(timeout=STD_TIMEOUT)
        assert data.int0 == 8
        await controller.cmd_setScalars.ack_in_progress(data, timeout=1.0, result="on it")
        await controller.cmd_setScalars.ack(
            data,
            controller.salinfo.make_ackcmd(private_seqNum=data.private_seqNum, ack=SalRetCode.CMD_COMPLETE),
        )
        ackcmd = await asyncio.wait_for(task, STD_TIMEOUT)
        assert ackcmd.ack == SalRetCode.CMD_COMPLETE


async def test_do_callbacks(index: int) -> None:
    seen: list[Any] = []

    class Commanded(FastController):
        def __init__(self, index: int) -> None:
            super().__init__("Test", index, do_callbacks=True, allow_missing_callbacks=True)

        def do_setScalars(self, data: Any) -> None:  # a plain function works too
            seen.append(data.int0)

    async with Commanded(index), Domain() as domain:
        remote = Remote(domain, "Test", index)
        await remote.cmd_setScalars.set_start(int0=6, timeout=STD_TIMEOUT)
        assert seen == [6]
        # A command without do_ method is refused at once (as salobj).
        with pytest.raises(AckError, match="wait is not supported") as exc_info:
            await remote.cmd_wait.set_start(duration=0, timeout=STD_TIMEOUT)
        assert exc_info.value.ackcmd.ack == SalRetCode.CMD_FAILED
