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

"""Scripts as standalone processes: the executable's DDS default, a stop
that arrives while a script starts, and the calibration script in its own
process against ``run_comcam_sim`` in another.
"""

import asyncio
import os
import pathlib
import signal
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from fixtures.timeouts import PROCESS_TIMEOUT, RUN_TIMEOUT, STD_TIMEOUT
from lsst.ts.calibrations.sal import Domain, Remote, ScriptState
from lsst.ts.calibrations.sal.testscript import TestScript
from lsst.ts.calibrations.sal.transport_choice import TRANSPORT_ENV, get_transport_name, standalone_transport

TOP = pathlib.Path(__file__).parents[2]
TEST_SCRIPT = TOP / "tests" / "data" / "scripts" / "testscript.py"
CALIBRATION_SCRIPT = TOP / "python/lsst/ts/calibrations/data/scripts/maintel/make_comcam_calibrations.py"

S = ScriptState


@pytest.fixture
def dds_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Use DDS in this process with a subname of this test alone."""
    subname = "test_" + uuid.uuid4().hex[:12]
    monkeypatch.setenv(TRANSPORT_ENV, "dds")
    monkeypatch.setenv("LSST_TOPIC_SUBNAME", subname)
    yield subname


def standalone_env() -> dict[str, str]:
    """The environment of a standalone process: ``LSST_SAL_TRANSPORT`` unset."""
    return {name: value for name, value in os.environ.items() if name != TRANSPORT_ENV}


class SlowStartScript(TestScript):
    """A TestScript whose remote ("Test", 5) starts only when `gate` is set,
    as a DDS script's remotes take a second or more to start.
    """

    def __init__(self, index: int) -> None:
        super().__init__(index=index)
        self.gate = asyncio.Event()
        self.test_remote = Remote(self.domain, "Test", 5)
        start_remote = self.test_remote.salinfo.start

        async def gated_start() -> None:
            await self.gate.wait()
            await start_remote()

        self.test_remote.salinfo.start = gated_start  # type: ignore[method-assign]


async def record_states(remote: Remote) -> list[ScriptState]:
    """Return the states ``remote`` receives until a final state."""
    states: list[ScriptState] = []
    while not states or states[-1] not in (S.DONE, S.STOPPED, S.FAILED, S.CONFIGURE_FAILED):
        data = await remote.evt_state.next(flush=False, timeout=STD_TIMEOUT)
        state = S(data.state)
        if not states or states[-1] != state:
            states.append(state)
    return states


# ----------------------------------------------------------------------
# A stop while starting, in one process


@pytest.mark.parametrize("how", ["signal", "command"])
async def test_stop_while_starting(how: str, index: int) -> None:
    async with Domain() as domain, Remote(domain, "Script", index) as remote:
        script = SlowStartScript(index=index)
        states_task = asyncio.create_task(record_states(remote))
        if how == "signal":
            script.stop_by_signal(signal.SIGTERM)
            script.stop_by_signal(signal.SIGTERM)  # a second signal is ignored
            expected_reason = "Stopped by SIGTERM"
        else:
            # The script reads commands before its remotes have started.
            async with asyncio.timeout(STD_TIMEOUT):
                while not script.salinfo.started:
                    await asyncio.sleep(0.01)
            stop_task = asyncio.create_task(remote.cmd_stop.start(timeout=STD_TIMEOUT))
            await asyncio.sleep(0.1)
            assert not stop_task.done(), "stop must wait until the script has started"
            expected_reason = "Stopped by the stop command"
        await asyncio.sleep(0.1)
        assert not script.start_task.done()
        assert script.state.state == 0  # nothing written yet
        script.gate.set()
        if how == "command":
            await stop_task
        await asyncio.wait_for(script.done_task, STD_TIMEOUT)
        assert await asyncio.wait_for(states_task, STD_TIMEOUT) == [S.UNCONFIGURED, S.STOPPING, S.STOPPED]
        assert remote.evt_state.get().reason == expected_reason
        assert not script.cleanup_called
        assert script.exit_code == 0


async def test_stop_while_starting_that_fails(index: int) -> None:
    script = SlowStartScript(index=index)

    async def failing_start() -> None:
        await script.gate.wait()
        raise RuntimeError("cannot start")

    script.test_remote.salinfo.start = failing_start  # type: ignore[method-assign]
    script.stop_by_signal(signal.SIGTERM)
    script.gate.set()
    with pytest.raises(RuntimeError, match="cannot start"):
        await asyncio.wait_for(script.done_task, STD_TIMEOUT)
    # The failed start decides: no STOPPED is written, the exit code says failure.
    assert script.exit_code is None


# ----------------------------------------------------------------------
# The transport of a standalone script process


def test_standalone_transport_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRANSPORT_ENV, raising=False)
    with standalone_transport() as name:
        assert name == get_transport_name() == "dds"
    assert TRANSPORT_ENV not in os.environ
    assert get_transport_name() == "dds"  # one default everywhere
    monkeypatch.setenv(TRANSPORT_ENV, "local")
    with standalone_transport() as name:
        assert name == "local"
    assert os.environ[TRANSPORT_ENV] == "local"
    monkeypatch.setenv(TRANSPORT_ENV, "udp")
    with pytest.raises(
        ValueError, match="LSST_SAL_TRANSPORT='udp' is not a transport; use one of local, dds"
    ):
        with standalone_transport():
            pass


@pytest.mark.slow
async def test_script_executable_defaults_to_dds(dds_env: str, index: int) -> None:
    async with Domain() as domain, Remote(domain, "Script", index) as remote:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(TEST_SCRIPT), str(index), env=standalone_env()
        )
        try:
            state = await remote.evt_state.next(flush=False, timeout=STD_TIMEOUT)
            assert state.state == S.UNCONFIGURED
            await domain.transport.wait_for_readers(  # type: ignore[attr-defined]
                "Script", "command_configure", STD_TIMEOUT
            )
            await remote.cmd_configure.set_start(config="wait_time: 0", timeout=STD_TIMEOUT)
            await remote.cmd_setGroupId.set_start(groupId="group1", timeout=STD_TIMEOUT)
            await remote.cmd_run.start(timeout=STD_TIMEOUT)
            assert remote.evt_state.get().state == S.DONE
            assert await asyncio.wait_for(process.wait(), STD_TIMEOUT) == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


def wait_for_signal_handler(pid: int, signum: int) -> None:
    """Wait until process ``pid`` catches signal ``signum`` (Linux /proc)."""
    deadline = time.monotonic() + STD_TIMEOUT
    while time.monotonic() < deadline:
        status = pathlib.Path(f"/proc/{pid}/status").read_text()
        caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16)
        if caught & (1 << (signum - 1)):
            return
        time.sleep(0.01)
    raise TimeoutError(f"process {pid} did not install a handler for signal {signum}")


async def test_sigterm_while_script_process_starts(dds_env: str, index: int) -> None:
    async with Domain() as domain, Remote(domain, "Script", index) as remote:
        states_task = asyncio.create_task(record_states(remote))
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(TEST_SCRIPT),
            str(index),
            env=standalone_env(),
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await asyncio.to_thread(wait_for_signal_handler, process.pid, signal.SIGTERM)
            # The handler is installed before the DDS start (about a second) has finished.
            assert remote.evt_state.get() is None
            t0 = time.monotonic()
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), STD_TIMEOUT)
            duration = time.monotonic() - t0
            assert process.returncode == 0, stderr.decode()
            assert await asyncio.wait_for(states_task, STD_TIMEOUT) == [S.UNCONFIGURED, S.STOPPING, S.STOPPED]
            assert remote.evt_state.get().reason == "Stopped by SIGTERM"
            assert duration < 10, f"the script took {duration:.1f} s to stop"
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


# ----------------------------------------------------------------------
# The calibration script in its own process, the observatory in another


async def read_until(stream: asyncio.StreamReader, text: str, lines: list[str]) -> None:
    """Read lines into ``lines`` until one equals ``text``."""
    while True:
        raw = await stream.readline()
        if not raw:
            raise RuntimeError(f"output ended before {text!r}:\n" + "".join(lines))
        line = raw.decode(errors="replace")
        lines.append(line)
        if line.rstrip("\n") == text:
            return


@pytest.mark.slow
async def test_calibration_script_against_run_comcam_sim(tmp_path: pathlib.Path) -> None:
    """Two terminals: ``run_comcam_sim`` and ``run_one_script`` of the
    calibration script; a bias run goes camera → OODS → OCPS generation →
    OCPS verification → certification to DONE.
    """
    env = standalone_env()
    env["LSST_TOPIC_SUBNAME"] = "test_" + uuid.uuid4().hex[:12]
    env["TS_CALIBRATIONS_RUN_RECORDS"] = str(tmp_path / "records")
    repo = tmp_path / "repo"
    t0 = time.monotonic()
    sim = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lsst.ts.calibrations.sim.run_comcam_sim",
        "--repo",
        str(repo),
        "--time-scale",
        "0.01",
        "--date",
        "2022-11-04",
        # The script's jobs run one after the other on one process each: one OCPS worker.
        "--ocps-max-processes",
        "1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    sim_lines: list[str] = []
    try:
        assert sim.stdout is not None
        await asyncio.wait_for(read_until(sim.stdout, "run_comcam_sim: ready", sim_lines), PROCESS_TIMEOUT)
        alias = [
            line for line in sim_lines if line.startswith("run_comcam_sim: env DAF_BUTLER_REPOSITORY_INDEX=")
        ]
        assert alias, "".join(sim_lines)
        env["DAF_BUTLER_REPOSITORY_INDEX"] = alias[0].rstrip("\n").partition("=")[2]
        config = tmp_path / "bias.yaml"
        config.write_text(
            "script_mode: BIAS\n"
            "n_bias: 2\n"
            "detectors: [0]\n"
            "generate_calibrations: true\n"
            "do_verify: true\n"
            "n_processes: 1\n"
            "calib_collection: LSSTComCam/calib/daily/test.1\n"
        )
        # The script's default repo, /repo/LSSTComCam, reaches the repository through the alias.
        script = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "lsst.ts.calibrations.sal.run_one_script",
            str(CALIBRATION_SCRIPT),
            "-c",
            str(config),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        try:
            out, _ = await asyncio.wait_for(script.communicate(), RUN_TIMEOUT)
        finally:
            if script.returncode is None:
                script.kill()
                await script.wait()
        duration = time.monotonic() - t0
        output = out.decode(errors="replace")
        assert script.returncode == 0, output
        assert "script process" in output
        assert "BIAS 3 of 3 taken" in output
        assert "BIAS: 3 image(s) in the OODS, 0 kept left out; processing starts with" in output
        assert "verify BIAS: job" in output and "Verification: PASSED" in output
        assert "Certified 1 bias dataset(s) into LSSTComCam/calib/daily/test.1" in output
        assert output.rstrip().endswith("final state DONE"), output
        print(f"observatory and calibration script processes: {duration:.1f} s")
        sim.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(sim.communicate(), STD_TIMEOUT)
        assert sim.returncode == 0, "".join(sim_lines) + rest.decode(errors="replace")
        assert rest.decode().rstrip().endswith("run_comcam_sim: stopped")
    finally:
        if sim.returncode is None:
            sim.kill()
            await sim.wait()
