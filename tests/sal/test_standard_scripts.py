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

"""The standard scripts (Sleep, SetSummaryState, RunCommand), written as a
salobj author writes them, run through run_one_script: in process, and one
each as a separate process over DDS; and the salobj process tests: a script
executable driven by a Remote, a CSC executable checked by check_bin_script."""

import asyncio
import io
import os
import pathlib
import sys
import tempfile
import time
import types
import unittest
import uuid
from collections.abc import Iterator

import pytest
import yaml

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations import sal as salobj
from lsst.ts.calibrations.sal import State
from lsst.ts.calibrations.sal.run_one_script import load_script_class, run_one_script
from lsst.ts.calibrations.sal.transport_choice import TRANSPORT_ENV
from lsst.ts.calibrations.standardscripts import RunCommand, SetSummaryState, Sleep

STANDARD_ROOT = (
    pathlib.Path(__file__).parents[2]
    / "python"
    / "lsst"
    / "ts"
    / "calibrations"
    / "data"
    / "standard_scripts"
)
SLEEP = STANDARD_ROOT / "sleep.py"
SET_SUMMARY_STATE = STANDARD_ROOT / "set_summary_state.py"
RUN_COMMAND = STANDARD_ROOT / "run_command.py"


@pytest.fixture
def dds_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Use DDS in this process, with a topic subname of this test alone."""
    subname = "test_" + uuid.uuid4().hex[:12]
    monkeypatch.setenv(TRANSPORT_ENV, "dds")
    monkeypatch.setenv("LSST_TOPIC_SUBNAME", subname)
    yield subname


async def run(script: pathlib.Path, index: int, config: object, transport: str = "local") -> tuple[int, str]:
    stream = io.StringIO()
    config_text = config if isinstance(config, str) else yaml.safe_dump(config)
    code = await run_one_script(script, index=index, config=config_text, stream=stream, transport=transport)
    return code, stream.getvalue()


def test_executables() -> None:
    for path, script_class in (
        (SLEEP, Sleep),
        (SET_SUMMARY_STATE, SetSummaryState),
        (RUN_COMMAND, RunCommand),
    ):
        assert path.stat().st_mode & 0o111, f"{path} is not executable"
        assert load_script_class(path) is script_class


async def test_sleep(index: int) -> None:
    start = time.monotonic()
    code, output = await run(SLEEP, index, {"sleep_for": 0.3})
    assert code == 0, output
    assert time.monotonic() - start >= 0.3
    assert "Sleep for 0.3 seconds..." in output
    assert "final state DONE" in output

    code, output = await run(SLEEP, index + 1, "sleep_for: -1")
    assert code == 1
    assert "final state CONFIGURE_FAILED" in output
    assert "sleep_for" in output


async def test_set_summary_state(index: int) -> None:
    async with salobj.TestCsc(index, heartbeat_interval=0.1) as csc:
        code, output = await run(SET_SUMMARY_STATE, index, {"data": [[f"Test:{index}", "enabled"]]})
        assert code == 0, output
        assert csc.summary_state == State.ENABLED
        assert f"set Test:{index}" in output or "final state DONE" in output

        # Reconfigure: to STANDBY, then DISABLED with an override.
        config = {"data": [[f"Test:{index}", "standby"], [f"Test:{index}", "DISABLED", "all_fields.yaml"]]}
        code, output = await run(SET_SUMMARY_STATE, index + 1, config)
        assert code == 0, output
        assert csc.summary_state == State.DISABLED
        assert csc.config.int0 == -47

        code, output = await run(SET_SUMMARY_STATE, index + 2, {"data": [[f"Test:{index}", "fault"]]})
        assert code == 1 and "state cannot be FAULT" in output
        code, output = await run(SET_SUMMARY_STATE, index + 3, {"data": [[f"Test:{index}", "asleep"]]})
        assert code == 1 and "unknown summary state 'asleep'" in output
        # A bad override fails the run, naming the file.
        code, output = await run(
            SET_SUMMARY_STATE,
            index + 4,
            {"data": [[f"Test:{index}", "standby"], [f"Test:{index}", "enabled", "nope.yaml"]]},
        )
        assert code == 1 and "nope.yaml" in output
        assert csc.summary_state == State.STANDBY


async def test_set_summary_state_wildcard(index: int) -> None:
    # "Test:*" means every running instance, found by its heartbeats.
    async with (
        salobj.TestCsc(index, heartbeat_interval=0.05),
        salobj.TestCsc(index + 1, heartbeat_interval=0.05),
        SetSummaryState(index) as script,
    ):
        script.discovery_time = 0.5
        config = types.SimpleNamespace(
            data=[["Test:*", "disabled", "some_fields.yaml"]], mute_alarms=False, mute_duration=30
        )
        await script.configure(config)
        found = {
            name_index: (state, override) for name_index, state, override in script.nameind_state_override
        }
        assert found[("Test", index)] == found[("Test", index + 1)] == (State.DISABLED, "some_fields.yaml")
        assert set(script.remotes) == set(found)


async def test_set_summary_state_mutes_watcher_alarms(index: int) -> None:
    muted: list[tuple[str, float, int, str]] = []

    class Watcher(salobj.Controller):
        def __init__(self) -> None:
            super().__init__("Watcher")
            self.cmd_mute.callback = self.mute

        async def mute(self, data: object) -> None:
            muted.append((data.name, data.duration, data.severity, data.mutedBy))  # type: ignore[attr-defined]

    async with Watcher(), salobj.TestCsc(index, heartbeat_interval=0.1) as csc:
        config = {"data": [[f"Test:{index}", "offline"]], "mute_alarms": True, "mute_duration": 2}
        code, output = await run(SET_SUMMARY_STATE, index, config)
        assert code == 0, output
        assert csc.summary_state == State.OFFLINE
    assert muted == [(rf"^(Enabled|Heartbeat)\.Test:{index}", 120.0, 4, "set_summary_state script")]


async def test_run_command(index: int) -> None:
    async with salobj.TestCsc(index, initial_state=State.ENABLED, heartbeat_interval=0.1) as csc:
        config = {
            "component": f"Test:{index}",
            "cmd": "setScalars",
            "parameters": {"int0": 5, "string0": "from RunCommand", "timeout": 10},
            "event": "scalars",
        }
        code, output = await run(RUN_COMMAND, index, config)
        assert code == 0, output
        assert (csc.evt_scalars.data.int0, csc.evt_scalars.data.string0) == (5, "from RunCommand")
        assert "scalars: " in output  # the event, logged by the script

        # No event: the command alone; a failing command fails the script.
        code, output = await run(RUN_COMMAND, index + 1, {"component": f"Test:{index}", "cmd": "disable"})
        assert code == 0, output
        assert csc.summary_state == State.DISABLED
        code, output = await run(RUN_COMMAND, index + 2, {"component": f"Test:{index}", "cmd": "setScalars"})
        assert code == 1 and "setScalars not allowed" in output

        for bad, message in (
            ({"component": f"Test:{index}", "cmd": "jump"}, "Command jump is not a command of Test"),
            (
                {"component": f"Test:{index}", "cmd": "setScalars", "event": "nope"},
                "Test has no event or telemetry topics ['nope']",
            ),
            ({"component": f"Test:{index}", "cmd": "setScalars", "parameters": {"int1": 2}}, "int1"),
            ({"component": "Test:x", "cmd": "start"}, "not of the form"),
        ):
            code, output = await run(RUN_COMMAND, index + 3, bad)
            assert code == 1 and "CONFIGURE_FAILED" in output and message in output, output


@pytest.mark.slow
async def test_sleep_over_dds(dds_env: str, index: int) -> None:
    code, output = await run(SLEEP, index, {"sleep_for": 0.1}, transport="dds")
    assert code == 0, output
    assert "Sleep for 0.1 seconds..." in output


@pytest.mark.slow
async def test_set_summary_state_over_dds(dds_env: str, index: int) -> None:
    async with salobj.TestCsc(index, heartbeat_interval=0.2) as csc:
        code, output = await run(
            SET_SUMMARY_STATE, index, {"data": [[f"Test:{index}", "enabled"]]}, transport="dds"
        )
        assert code == 0, output
        assert csc.summary_state == State.ENABLED


@pytest.mark.slow
async def test_standard_script_process(dds_env: str, index: int) -> None:
    # The salobj way: start the executable, then drive it with a Remote.
    env = {name: value for name, value in os.environ.items() if name != TRANSPORT_ENV}
    async with salobj.Domain() as domain, salobj.Remote(domain, "Script", index) as remote:
        process = await asyncio.create_subprocess_exec(sys.executable, str(SLEEP), str(index), env=env)
        try:
            state = await remote.evt_state.next(flush=False, timeout=STD_TIMEOUT)
            assert state.state == salobj.ScriptState.UNCONFIGURED
            description = await remote.evt_description.aget(timeout=STD_TIMEOUT)
            assert description.classname == "Sleep"
            await domain.transport.wait_for_readers("Script", "command_configure", STD_TIMEOUT)  # type: ignore[attr-defined]
            await remote.cmd_configure.set_start(config="sleep_for: 0.1", timeout=STD_TIMEOUT)
            await remote.cmd_setGroupId.set_start(groupId="group", timeout=STD_TIMEOUT)
            await remote.cmd_run.start(timeout=STD_TIMEOUT)
            assert remote.evt_state.get().state == salobj.ScriptState.DONE
            assert remote.evt_state.get().lastCheckpoint == "Sleep for 0.1 seconds..."
            assert await asyncio.wait_for(process.wait(), STD_TIMEOUT) == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


class BinScriptTestCase(salobj.BaseCscTestCase, unittest.IsolatedAsyncioTestCase):
    """check_bin_script on a Test CSC executable (amain) over DDS."""

    def basic_make_csc(
        self, initial_state: object, config_dir: object, simulation_mode: int, **kwargs: object
    ) -> salobj.BaseCsc:
        raise NotImplementedError("not used: the CSC runs as a process")

    def setUp(self) -> None:  # noqa: N802
        self.tmp_dir = tempfile.TemporaryDirectory()
        exe = pathlib.Path(self.tmp_dir.name) / "run_test_csc_for_tests"
        # A heartbeat every 0.2 s: the CSC's check for a duplicate at start listens for three
        # intervals (0.6 s instead of 3 s), as amain passes the keyword to the CSC.
        exe.write_text(
            f"#!{sys.executable}\n"
            "import asyncio\n"
            "from lsst.ts.calibrations.sal import TestCsc\n"
            "asyncio.run(TestCsc.amain(index=True, heartbeat_interval=0.2))\n"
        )
        exe.chmod(0o755)
        self.saved_env = dict(os.environ)
        os.environ["PATH"] = f"{self.tmp_dir.name}{os.pathsep}{os.environ['PATH']}"
        os.environ[TRANSPORT_ENV] = "dds"
        os.environ["LSST_TOPIC_SUBNAME"] = "test_" + uuid.uuid4().hex[:12]

    def tearDown(self) -> None:  # noqa: N802
        os.environ.clear()
        os.environ.update(self.saved_env)
        self.tmp_dir.cleanup()

    @pytest.mark.slow
    async def test_bin_script(self) -> None:
        await self.check_bin_script(
            name="Test",
            index=self.next_index() + 30000,
            exe_name="run_test_csc_for_tests",
            initial_state=State.ENABLED,
            override="all_fields.yaml",
        )
