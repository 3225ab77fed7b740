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

"""Tests of BaseScript: states, commands, events, checkpoints, cleanup and
the command line, driven through a Remote as a script queue drives them.
"""

import asyncio
import itertools
import logging
import os
import pathlib
import signal
import subprocess
import sys
import time
import types
import typing

import jsonschema
import pytest
import yaml

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations.sal.base import AckError, ExpectedError, SalRetCode, ScriptState
from lsst.ts.calibrations.sal.base_script import BaseScript
from lsst.ts.calibrations.sal.domain import Domain
from lsst.ts.calibrations.sal.remote import Remote
from lsst.ts.calibrations.sal.testscript import TestScript

SCRIPTS_DIR = pathlib.Path(__file__).parent.parent / "data" / "scripts"
_index_generator = itertools.count(1000)

S = ScriptState


def next_index() -> int:
    return next(_index_generator)


class ConfigScript(BaseScript):
    """A script that keeps its configuration and checkpoints as told."""

    def __init__(self, index: int) -> None:
        super().__init__(index=index, descr="Config script")
        self.config: types.SimpleNamespace | None = None
        self.cleanup_called = False

    @classmethod
    def get_schema(cls) -> dict[str, typing.Any]:
        return {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "$id": "https://example.org/ConfigScript.yaml",
            "title": "ConfigScript v1",
            "type": "object",
            "properties": {
                "day_obs": {"type": "string", "format": "date", "default": "2000-01-01"},
                "checkpoints": {"type": "array", "items": {"type": "string"}, "default": []},
                "nested": {
                    "type": "object",
                    "properties": {"value": {"type": "number", "default": 1.5}},
                    "default": {},
                },
            },
            "additionalProperties": False,
        }

    async def configure(self, config: types.SimpleNamespace) -> None:
        self.config = config

    def set_metadata(self, metadata: typing.Any) -> None:
        metadata.nimages = 3
        metadata.instrument = "LSSTComCam"

    async def run(self) -> None:
        assert self.config is not None
        for name in self.config.checkpoints:
            await self.checkpoint(name)

    async def cleanup(self) -> None:
        self.cleanup_called = True


class NoConfigScript(BaseScript):
    """A script without configuration."""

    def __init__(self, index: int) -> None:
        super().__init__(index=index, descr="No config")

    @classmethod
    def get_schema(cls) -> None:
        return None

    async def configure(self, config: types.SimpleNamespace) -> None:
        pass

    def set_metadata(self, metadata: typing.Any) -> None:
        pass

    async def run(self) -> None:
        pass


class RemoteUsingScript(NoConfigScript):
    """A script that uses remotes, listed in the description event."""

    def __init__(self, index: int) -> None:
        super().__init__(index=index)
        self.test_remote = Remote(self.domain, "Test", 5)
        self.queue_remote = Remote(self.domain, "ScriptQueue", 1)


class Harness:
    """A script and a Remote in another Domain, recording states."""

    def __init__(self, script_class: type[BaseScript] = TestScript) -> None:
        self.index = next_index()
        self.script_class = script_class
        self.states: list[ScriptState] = []
        self.state_data: list[typing.Any] = []
        self._waiters: list[tuple[ScriptState, asyncio.Future[typing.Any]]] = []

    async def __aenter__(self) -> "Harness":
        self.domain = Domain()
        self.remote = Remote(self.domain, "Script", self.index)
        self.remote.evt_state.callback = self._state_callback
        await self.remote.start_task
        self.script = self.script_class(index=self.index)  # type: ignore[call-arg]
        await asyncio.wait_for(self.script.start_task, timeout=STD_TIMEOUT)
        await self.wait_state(S.UNCONFIGURED)
        return self

    async def __aexit__(self, *args: typing.Any) -> None:
        await self.script.close()
        await self.remote.close()
        await self.domain.close()

    def _state_callback(self, data: typing.Any) -> None:
        self.state_data.append(data)
        if not self.states or self.states[-1] != data.state:
            self.states.append(ScriptState(data.state))
        for state, future in self._waiters:
            if data.state == state and not future.done():
                future.set_result(data)

    async def wait_state(self, state: ScriptState) -> typing.Any:
        for data in self.state_data:
            if data.state == state:
                return data
        future: asyncio.Future[typing.Any] = asyncio.get_running_loop().create_future()
        self._waiters.append((state, future))
        return await asyncio.wait_for(future, timeout=STD_TIMEOUT)

    async def configure(self, config: str = "", **kwargs: typing.Any) -> None:
        await self.remote.cmd_configure.set_start(config=config, timeout=STD_TIMEOUT, **kwargs)

    async def configure_and_set_group(self, config: str = "", **kwargs: typing.Any) -> None:
        await self.configure(config, **kwargs)
        await self.remote.cmd_setGroupId.set_start(groupId="2024-06-01T12:00:00.000", timeout=STD_TIMEOUT)

    async def run(self) -> None:
        await self.remote.cmd_run.start(timeout=STD_TIMEOUT)

    async def wait_done(self) -> None:
        await asyncio.wait_for(self.script.done_task, timeout=STD_TIMEOUT)


# --- construction and start ------------------------------------------------


async def test_index_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="nonzero"):
        TestScript(index=0)


async def test_bad_schema_fails_at_construction() -> None:
    class BadSchemaScript(ConfigScript):
        @classmethod
        def get_schema(cls) -> dict[str, typing.Any]:
            return {"$schema": "http://json-schema.org/draft-07/schema#", "type": 5}

    with pytest.raises(jsonschema.exceptions.SchemaError):
        BadSchemaScript(index=next_index())


async def test_start_writes_unconfigured_and_description() -> None:
    async with Harness() as h:
        assert h.states == [S.UNCONFIGURED]
        description = await h.remote.evt_description.aget(timeout=STD_TIMEOUT)
        assert description.classname == "TestScript"
        assert description.description == "Test script"
        assert "wait_time" in description.help
        assert description.remotes == ""
        assert h.script.exit_code is None


async def test_description_lists_remotes() -> None:
    async with Harness(RemoteUsingScript) as h:
        description = await h.remote.evt_description.aget(timeout=STD_TIMEOUT)
        assert description.remotes == "ScriptQueue:1,Test:5"


async def test_heartbeat() -> None:
    async with Harness() as h:
        await h.remote.evt_heartbeat.next(flush=False, timeout=STD_TIMEOUT)


# --- configure ---------------------------------------------------------------


async def test_configure_fills_defaults_and_writes_events() -> None:
    async with Harness(ConfigScript) as h:
        await h.configure(
            "checkpoints: [a]\nmetadata: {anything: 1}\n",
            pauseCheckpoint="p.*",
            stopCheckpoint="s.*",
            blockId="BL1_O_20240601_000001",
            executionId="ex1",
        )
        data = await h.wait_state(S.CONFIGURED)
        config = h.script.config
        # The metadata key is dropped; defaults are filled at every depth.
        assert vars(config) == {"day_obs": "2000-01-01", "checkpoints": ["a"], "nested": {"value": 1.5}}
        # Only what the operator wrote counts as set explicitly.
        assert h.script.explicit_config_keys == {"checkpoints"}
        assert data.blockId == "BL1_O_20240601_000001"
        assert data.executionId == "ex1"
        assert h.script.obs_id == "BL1_O_20240601_000001"
        checkpoints = await h.remote.evt_checkpoints.aget(timeout=STD_TIMEOUT)
        assert (checkpoints.pause, checkpoints.stop) == ("p.*", "s.*")
        metadata = await h.remote.evt_metadata.aget(timeout=STD_TIMEOUT)
        assert metadata.nimages == 3
        assert metadata.instrument == "LSSTComCam"
        assert metadata.coordinateSystem == 1  # NONE
        assert metadata.rotationSystem == 1  # NONE
        assert metadata.dome == 3  # EITHER
        assert metadata.filters == ""
        assert metadata.duration == 0
        # configure is allowed only once
        with pytest.raises(AckError, match="state is CONFIGURED"):
            await h.configure("")


async def test_metadata_duration() -> None:
    async with Harness() as h:
        await h.configure("wait_time: 2.5")
        metadata = await h.remote.evt_metadata.aget(timeout=STD_TIMEOUT)
        assert metadata.duration == 2.5


async def test_yaml_dates_stay_text() -> None:
    async with Harness(ConfigScript) as h:
        await h.configure("day_obs: 2024-06-01")
        assert h.script.config.day_obs == "2024-06-01"


async def test_configure_log_level() -> None:
    async with Harness() as h:
        await h.configure("", logLevel=logging.DEBUG)
        assert h.script.log.getEffectiveLevel() == logging.DEBUG
        level = await h.remote.evt_logLevel.aget(timeout=STD_TIMEOUT)
        assert level.level == logging.DEBUG


@pytest.mark.parametrize(
    "config, expected",
    [
        ("wait_time: -1", "-1"),
        ("wait_time: 1\nwait_time: 2\n", "duplicate key 'wait_time' (first on line 1, again on line 2)"),
        ("fail_run: true\nnested:\n  a: 1\n  a: 2\n", "duplicate key 'a' (first on line 3, again on line 4)"),
        ("wait_time: [1, 2\n", "line 2"),
        ("- 1\n- 2\n", "mapping"),
        ("no_such_key: 1", "no_such_key"),
        ("wait_time: 1\nfail_run=true\n", "then the value; write `fail_run: true`"),
    ],
)
async def test_configure_failure(config: str, expected: str) -> None:
    async with Harness() as h:
        with pytest.raises(AckError) as excinfo:
            await h.configure(config)
        assert excinfo.value.ackcmd.ack == SalRetCode.CMD_FAILED
        data = await h.wait_state(S.CONFIGURE_FAILED)
        assert data.reason.startswith(f"config({config}) failed: ")
        assert expected in data.reason
        await h.wait_done()
        assert h.script.exit_code == 1
        assert h.states == [S.UNCONFIGURED, S.CONFIGURE_FAILED]
        assert not h.script.cleanup_called


async def test_configure_bad_checkpoint_regex() -> None:
    async with Harness() as h:
        with pytest.raises(AckError):
            await h.configure("", pauseCheckpoint="(")
        data = await h.wait_state(S.CONFIGURE_FAILED)
        assert "pauseCheckpoint='('" in data.reason


async def test_no_schema_requires_empty_config() -> None:
    async with Harness(NoConfigScript) as h:
        await h.configure("")
        await h.wait_state(S.CONFIGURED)
    async with Harness(NoConfigScript) as h:
        with pytest.raises(AckError):
            await h.configure("a: 1")
        data = await h.wait_state(S.CONFIGURE_FAILED)
        assert "must be empty" in data.reason


# --- run -----------------------------------------------------------------------


async def test_run_requires_configured_and_group_id() -> None:
    async with Harness() as h:
        with pytest.raises(AckError, match="state is UNCONFIGURED"):
            await h.run()
        with pytest.raises(AckError, match="state is UNCONFIGURED"):
            await h.remote.cmd_setGroupId.set_start(groupId="g", timeout=STD_TIMEOUT)
        await h.configure("")
        with pytest.raises(AckError, match="Group ID not set"):
            await h.run()
        assert h.script.state.state == S.CONFIGURED


async def test_run_to_done() -> None:
    async with Harness() as h:
        await h.configure_and_set_group("wait_time: 0.05")
        await h.run()
        # The run acknowledgement completes only after the run has ended.
        assert h.script.state.state == S.DONE
        await h.wait_done()
        assert h.states == [S.UNCONFIGURED, S.CONFIGURED, S.RUNNING, S.ENDING, S.DONE]
        final = await h.wait_state(S.DONE)
        assert final.numCheckpoints == 2
        assert final.lastCheckpoint == "end"
        assert final.groupId == "2024-06-01T12:00:00.000"
        assert h.script.cleanup_called
        assert h.script.exit_code == 0
        assert set(h.script.timestamps) >= {S.RUNNING, S.ENDING, S.DONE}


async def test_fail_in_run() -> None:
    async with Harness() as h:
        await h.configure_and_set_group("fail_run: true")
        await h.run()
        await h.wait_done()
        assert h.states == [S.UNCONFIGURED, S.CONFIGURED, S.RUNNING, S.FAILING, S.FAILED]
        final = await h.wait_state(S.FAILED)
        assert final.reason == "Error in run: Failed in run: fail_run is true"
        assert h.script.cleanup_called
        assert h.script.exit_code == 1


async def test_fail_in_cleanup() -> None:
    async with Harness() as h:
        await h.configure_and_set_group("fail_cleanup: true")
        await h.run()
        with pytest.raises(ExpectedError):
            await h.wait_done()
        assert h.states == [S.UNCONFIGURED, S.CONFIGURED, S.RUNNING, S.ENDING, S.FAILED]
        final = await h.wait_state(S.FAILED)
        assert final.reason == "failed in _exit: Failed in cleanup: fail_cleanup is true"
        assert h.script.exit_code == 1


async def test_log_messages_are_events() -> None:
    async with Harness() as h:
        messages: list[typing.Any] = []
        h.remote.evt_logMessage.callback = messages.append
        await h.configure_and_set_group("")
        await h.run()
        texts = [data.message for data in messages]
        assert "Run started" in texts
        assert "Cleanup succeeded" in texts
        record = next(data for data in messages if data.message == "Run started")
        assert record.level == logging.INFO
        assert record.functionName == "run"


# --- stop, pause, resume, checkpoints -------------------------------------------


async def test_stop_while_running() -> None:
    async with Harness() as h:
        await h.configure_and_set_group("wait_time: 60")
        run_task = asyncio.create_task(h.run())
        await h.wait_state(S.RUNNING)
        t0 = time.monotonic()
        await h.remote.cmd_stop.start(timeout=STD_TIMEOUT)
        await run_task
        await h.wait_done()
        assert time.monotonic() - t0 < 5
        assert h.states == [S.UNCONFIGURED, S.CONFIGURED, S.RUNNING, S.STOPPING, S.STOPPED]
        assert (await h.wait_state(S.STOPPED)).reason == "Stopped by the stop command"
        assert h.script.cleanup_called
        assert h.script.exit_code == 0


async def test_stop_while_paused() -> None:
    async with Harness() as h:
        await h.configure_and_set_group("", pauseCheckpoint="start")
        run_task = asyncio.create_task(h.run())
        paused = await h.wait_state(S.PAUSED)
        assert paused.lastCheckpoint == "start"
        await h.remote.cmd_stop.start(timeout=STD_TIMEOUT)
        await run_task
        await h.wait_done()
        assert h.states == [S.UNCONFIGURED, S.CONFIGURED, S.RUNNING, S.PAUSED, S.STOPPING, S.STOPPED]
        assert h.script.cleanup_called
        assert h.script.exit_code == 0


async def test_stop_before_run() -> None:
    async with Harness() as h:
        await h.configure("")
        await h.remote.cmd_stop.start(timeout=STD_TIMEOUT)
        await h.wait_done()
        assert h.states == [S.UNCONFIGURED, S.CONFIGURED, S.STOPPING, S.STOPPED]
        # Nothing ran, so there is nothing to clean up.
        assert not h.script.cleanup_called
        assert h.script.exit_code == 0


async def test_pause_and_resume() -> None:
    async with Harness() as h:
        await h.configure_and_set_group("", pauseCheckpoint="end")
        run_task = asyncio.create_task(h.run())
        paused = await h.wait_state(S.PAUSED)
        assert paused.lastCheckpoint == "end"
        assert paused.numCheckpoints == 2
        with pytest.raises(AckError, match="state is PAUSED"):
            await h.remote.cmd_setGroupId.set_start(groupId="x", timeout=STD_TIMEOUT)
        await h.remote.cmd_resume.start(timeout=STD_TIMEOUT)
        await run_task
        await h.wait_done()
        assert h.states == [S.UNCONFIGURED, S.CONFIGURED, S.RUNNING, S.PAUSED, S.RUNNING, S.ENDING, S.DONE]


async def test_resume_requires_paused() -> None:
    async with Harness() as h:
        with pytest.raises(AckError, match="state is UNCONFIGURED, not PAUSED"):
            await h.remote.cmd_resume.start(timeout=STD_TIMEOUT)


async def test_stop_at_checkpoint() -> None:
    async with Harness() as h:
        await h.configure_and_set_group("wait_time: 60", stopCheckpoint="start")
        await h.run()
        await h.wait_done()
        assert h.states == [S.UNCONFIGURED, S.CONFIGURED, S.RUNNING, S.STOPPING, S.STOPPED]
        final = await h.wait_state(S.STOPPED)
        assert final.lastCheckpoint == "start"
        assert "matches stop pattern 'start'" in final.reason
        assert h.script.cleanup_called
        assert h.script.exit_code == 0


@pytest.mark.parametrize(
    "pause, stop, expected",
    [
        # re.fullmatch: a prefix is not a match
        ("sta", "en", S.DONE),
        (".*", "", S.PAUSED),
        ("", ".*", S.STOPPED),
        ("x|b", "", S.PAUSED),
    ],
)
async def test_checkpoint_patterns_fullmatch(pause: str, stop: str, expected: ScriptState) -> None:
    async with Harness(ConfigScript) as h:
        await h.configure_and_set_group(
            "checkpoints: [start, b, end]", pauseCheckpoint=pause, stopCheckpoint=stop
        )
        run_task = asyncio.create_task(h.run())
        await h.wait_state(expected)
        if expected == S.PAUSED:
            await h.remote.cmd_stop.start(timeout=STD_TIMEOUT)
        await run_task
        await h.wait_done()


async def test_unnamed_checkpoint_never_stops_or_pauses() -> None:
    async with Harness(ConfigScript) as h:
        await h.configure_and_set_group(
            "checkpoints: ['', '', named]", pauseCheckpoint="", stopCheckpoint=".*"
        )
        await h.run()
        await h.wait_done()
        final = await h.wait_state(S.STOPPED)
        # Both unnamed checkpoints passed; the named one stopped the script.
        assert final.numCheckpoints == 3
        assert final.lastCheckpoint == "named"
    async with Harness(ConfigScript) as h:
        await h.configure_and_set_group("checkpoints: ['']", pauseCheckpoint=".*", stopCheckpoint="")
        await h.run()
        await h.wait_done()
        assert h.states[-1] == S.DONE
        assert S.PAUSED not in h.states


async def test_set_checkpoints() -> None:
    async with Harness() as h:
        await h.remote.cmd_setCheckpoints.set_start(pause="start", stop="", timeout=STD_TIMEOUT)
        checkpoints = await h.remote.evt_checkpoints.aget(timeout=STD_TIMEOUT)
        assert checkpoints.pause == "start"
        with pytest.raises(AckError, match="not a valid regular expression"):
            await h.remote.cmd_setCheckpoints.set_start(pause="[", stop="", timeout=STD_TIMEOUT)
        # configure's checkpoints replace them
        await h.configure_and_set_group("", pauseCheckpoint="end")
        run_task = asyncio.create_task(h.run())
        paused = await h.wait_state(S.PAUSED)
        assert paused.lastCheckpoint == "end"
        await h.remote.cmd_setCheckpoints.set_start(pause="", stop="", timeout=STD_TIMEOUT)
        await h.remote.cmd_resume.start(timeout=STD_TIMEOUT)
        await run_task
        await h.wait_done()
        assert h.states[-1] == S.DONE


async def test_checkpoint_outside_run() -> None:
    async with Harness() as h:
        with pytest.raises(RuntimeError, match="only be awaited in `run`"):
            await h.script.checkpoint("start")


# --- group ID ------------------------------------------------------------------


async def test_group_id_and_supplemented_group_id() -> None:
    async with Harness() as h:
        with pytest.raises(RuntimeError, match="No group ID"):
            h.script.next_supplemented_group_id()
        await h.configure("")
        assert h.script.group_id == ""
        await h.remote.cmd_setGroupId.set_start(groupId="grp", timeout=STD_TIMEOUT)
        assert h.script.group_id == "grp"
        assert h.script.next_supplemented_group_id() == "grp#1"
        assert h.script.next_supplemented_group_id() == "grp#2"
        await h.remote.cmd_setGroupId.set_start(groupId="other", timeout=STD_TIMEOUT)
        assert h.script.next_supplemented_group_id() == "other#1"
        assert h.state_data[-1].groupId == "other"
        await h.remote.cmd_setGroupId.set_start(groupId="", timeout=STD_TIMEOUT)
        with pytest.raises(AckError, match="Group ID not set"):
            await h.run()


# --- signals and the command line --------------------------------------------------


async def test_signal_stops_running_script_with_cleanup() -> None:
    async with Harness() as h:
        await h.configure_and_set_group("wait_time: 60")
        run_task = asyncio.create_task(h.run())
        await h.wait_state(S.RUNNING)
        h.script.stop_by_signal(signal.SIGTERM)
        await run_task
        await h.wait_done()
        final = await h.wait_state(S.STOPPED)
        assert final.reason == "Stopped by SIGTERM"
        assert h.script.cleanup_called
        assert h.script.exit_code == 0


async def test_signal_before_run_stops_without_cleanup() -> None:
    async with Harness() as h:
        h.script.stop_by_signal(signal.SIGINT)
        h.script.stop_by_signal(signal.SIGINT)  # a second signal is ignored
        await h.wait_done()
        assert h.states == [S.UNCONFIGURED, S.STOPPING, S.STOPPED]
        assert (await h.wait_state(S.STOPPED)).reason == "Stopped by SIGINT"
        assert not h.script.cleanup_called
        assert h.script.exit_code == 0


async def test_configure_raising_unexpected_error_logs_traceback() -> None:
    class BrokenConfigureScript(NoConfigScript):
        async def configure(self, config: types.SimpleNamespace) -> None:
            raise RuntimeError("broken")

    async with Harness(BrokenConfigureScript) as h:
        messages: list[typing.Any] = []
        h.remote.evt_logMessage.callback = messages.append
        with pytest.raises(AckError, match="config\\(\\) failed: broken"):
            await h.configure("")
        await h.wait_done()
        assert h.script.exit_code == 1
        assert any("RuntimeError: broken" in data.traceback for data in messages)


async def test_make_from_cmd_line_schema_builds_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: typing.Any, **kwargs: typing.Any) -> None:
        raise AssertionError("--schema must not build a Domain")

    monkeypatch.setattr(Domain, "__init__", refuse)
    assert TestScript.make_from_cmd_line(["0", "--schema"]) is None
    assert yaml.safe_load(capsys.readouterr().out) == TestScript.get_schema()
    with pytest.raises(RuntimeError, match="index must not appear"):
        TestScript.make_from_cmd_line(["1"], index=2)


async def test_amain_exit_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    # amain defaults to DDS; here the script and its driver share this process.
    monkeypatch.setenv("LSST_SAL_TRANSPORT", "local")

    async def drive(index: int, config: str) -> None:
        async with Domain() as domain, Remote(domain, "Script", index) as remote:
            await remote.evt_state.next(flush=False, timeout=STD_TIMEOUT)
            try:
                await remote.cmd_configure.set_start(config=config, timeout=STD_TIMEOUT)
                await remote.cmd_setGroupId.set_start(groupId="g", timeout=STD_TIMEOUT)
                await remote.cmd_run.start(timeout=STD_TIMEOUT)
            except AckError:
                pass

    for config, expected_code in [("wait_time: 0", None), ("wait_time: -1", 1), ("fail_run: true", 1)]:
        index = next_index()
        monkeypatch.setattr(sys, "argv", ["testscript.py", str(index)])
        driver = asyncio.create_task(drive(index, config))
        if expected_code is None:
            await asyncio.wait_for(TestScript.amain(), timeout=STD_TIMEOUT)  # no SystemExit: code 0
        else:
            # SystemExit escapes a task, so amain is awaited here, not in a task.
            with pytest.raises(SystemExit) as excinfo:
                await TestScript.amain()
            assert excinfo.value.code == expected_code
        await asyncio.wait_for(driver, timeout=STD_TIMEOUT)


def test_schema_subprocess_is_fast() -> None:
    t0 = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(SCRIPTS_DIR / "testscript.py"), "0", "--schema"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    duration = time.monotonic() - t0
    assert yaml.safe_load(result.stdout) == TestScript.get_schema()
    assert duration < 10, f"--schema took {duration:.1f} s"


def wait_for_signal_handler(pid: int, signum: int) -> None:
    """Wait until process ``pid`` catches signal ``signum`` (Linux /proc)."""
    deadline = time.monotonic() + STD_TIMEOUT
    while time.monotonic() < deadline:
        status = pathlib.Path(f"/proc/{pid}/status").read_text()
        caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16)
        if caught & (1 << (signum - 1)):
            return
        time.sleep(0.05)
    raise TimeoutError(f"process {pid} did not install a handler for signal {signum}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_script_process(signum: int) -> None:
    # The executable's default transport, DDS, in a DDS domain of this test alone.
    env = {name: value for name, value in os.environ.items() if name != "LSST_SAL_TRANSPORT"}
    env["LSST_TOPIC_SUBNAME"] = f"test_signal_{os.getpid()}_{signum}"
    process = subprocess.Popen(
        [sys.executable, str(SCRIPTS_DIR / "testscript.py"), str(next_index())],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        # SIGTERM and SIGINT handlers are installed together; Python always catches SIGINT.
        # They are installed before the script has started: the signal arrives while it starts.
        wait_for_signal_handler(process.pid, signal.SIGTERM)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
