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

"""ScriptInfo on its own: what it refuses (a blank group ID, a run before
it is runnable, loading twice), a process that cannot start or that ends
before configuring, and termination before and after the process starts."""

import asyncio
import itertools
import logging
import os
import pathlib

import pytest

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations.queue.base import ScriptProcessState
from lsst.ts.calibrations.queue.script_info import ScriptInfo
from lsst.ts.calibrations.sal import Domain

LOG = logging.getLogger("test_script_info_refusals")

_indices = itertools.count(970_001)


@pytest.fixture
def index() -> int:
    """A Script SAL index not used before in this session."""
    return next(_indices)


def make_info(domain: Domain, index: int) -> ScriptInfo:
    return ScriptInfo(
        log=LOG,
        domain=domain,
        index=index,
        seq_num=1,
        is_standard=True,
        path="subdir/script.py",
        config="",
        descr="a test",
    )


def write_script(tmp_path: pathlib.Path, body: str) -> pathlib.Path:
    path = tmp_path / "script.py"
    path.write_text(body)
    return path


async def test_refusals_before_loading(index: int) -> None:
    async with Domain() as domain:
        info = make_info(domain, index)
        assert info.pid is None and info.process_state == ScriptProcessState.LOADING
        with pytest.raises(ValueError, match="group_id must not be blank"):
            await info.set_group_id("")
        with pytest.raises(RuntimeError, match=f"script {index} cannot be given a group ID now"):
            await info.set_group_id("2026-05-01T00:00:00.000")
        with pytest.raises(RuntimeError, match=f"script {index} is not runnable"):
            info.run()
        # Nothing to stop yet: the caller is told to terminate.
        assert await info.stop(timeout=STD_TIMEOUT) is False
        assert repr(info) == (
            f"ScriptInfo(index={index}, is_standard=True, path='subdir/script.py', "
            "process_state=LOADING, script_state=0)"
        )


async def test_terminated_before_loading_starts_nothing(index: int, tmp_path: pathlib.Path) -> None:
    states: list[ScriptProcessState] = []

    async def callback(info: ScriptInfo) -> None:
        states.append(info.process_state)

    async with Domain() as domain:
        info = make_info(domain, index)
        info.callback = callback
        assert await info.terminate() is True
        await info.start_loading(write_script(tmp_path, "raise SystemExit(0)\n"), dict(os.environ))
        assert info.process is None and info.remote is None
        assert info.terminated and info.started
        assert info.process_state == ScriptProcessState.TERMINATED
        assert states == [ScriptProcessState.TERMINATED]


async def test_process_that_cannot_start(index: int, tmp_path: pathlib.Path) -> None:
    async with Domain() as domain:
        info = make_info(domain, index)
        env = dict(os.environ, BROKEN="a\0b")  # no process can be given this environment
        with pytest.raises(ValueError, match="embedded null byte"):
            await info.start_loading(write_script(tmp_path, "raise SystemExit(0)\n"), env)
        assert info.terminated and info.remote is None and info.process is None
        assert info.process_state == ScriptProcessState.TERMINATED
        with pytest.raises(RuntimeError, match=f"script {index} is already loading"):
            await info.start_loading(tmp_path / "script.py", dict(os.environ))


async def test_process_that_ends_before_configuring(index: int, tmp_path: pathlib.Path) -> None:
    ended = asyncio.Event()

    async def callback(info: ScriptInfo) -> None:
        if info.process_done:
            ended.set()

    async with Domain() as domain:
        info = make_info(domain, index)
        info.callback = callback
        await info.start_loading(write_script(tmp_path, "raise SystemExit(3)\n"), dict(os.environ))
        assert info.pid is not None and info.timestamp_process_start > 0
        await asyncio.wait_for(ended.wait(), STD_TIMEOUT)
        assert info.load_failed and info.failed and not info.terminated
        assert info.process_state == ScriptProcessState.LOADFAILED
        # A process that ended on its own was not terminated; stopping it is done.
        assert await info.terminate() is False
        assert await info.stop(timeout=STD_TIMEOUT) is True
        await info.close()


async def test_terminate_a_running_process(index: int, tmp_path: pathlib.Path) -> None:
    async with Domain() as domain:
        info = make_info(domain, index)
        script = write_script(tmp_path, "import time\ntime.sleep(600)\n")
        await info.start_loading(script, dict(os.environ))
        assert not info.process_done and info.process_state == ScriptProcessState.LOADING
        assert await asyncio.wait_for(info.terminate(), STD_TIMEOUT) is True
        assert info.process is not None and info.process.returncode == -15
        assert info.terminated and not info.failed
        await info.close()
        assert info.remote is None
