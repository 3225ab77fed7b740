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

"""``run_script_queue``: its options, and the command as a process: a
private isolation name, the queue ENABLED, a script run, and every process
ended on Ctrl-C.
"""

import asyncio
import os
import pathlib
import signal
import sys

import pytest
import yaml
from queue_harness import EXTERNAL_ROOT, STANDARD_ROOT

from fixtures.timeouts import PIPETASK_TIMEOUT, RUN_TIMEOUT, STD_TIMEOUT
from lsst.ts.calibrations.queue import Location, ScriptProcessState
from lsst.ts.calibrations.queue.run_script_queue import READY_PREFIX, parse_args, start_simulated_observatory
from lsst.ts.calibrations.sal import Domain, Remote, ScriptState, State
from lsst.ts.calibrations.sal.isolation import SUBNAME_ENV
from lsst.ts.calibrations.sal.transport_choice import TRANSPORT_ENV

# The simulated observatory makes its reference calibrations (pipelines) before it is ready.
SIM_READY_TIMEOUT = PIPETASK_TIMEOUT


QUANTUM_WORKER = b"lsst.ts.calibrations.sim.quantum_worker"
"""In the command line of the simulated OCPS's quantum workers (processes of the observatory's)."""


def pids_in_subname(subname: str, *, workers: bool = True) -> list[int]:
    """Live processes (not zombies) whose environment has ``LSST_TOPIC_SUBNAME=subname``.

    With ``workers=False``, leave out the OCPS's quantum workers.
    """
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
        zombie = any(line.startswith("State:") and "Z" in line.split()[1] for line in status.splitlines())
        if f"{SUBNAME_ENV}={subname}".encode() in environ and not zombie:
            if workers or QUANTUM_WORKER not in cmdline:
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize(
    "args, message",
    [
        (["--repo", "x"], "--repo need --simulate"),
        (["--time-scale", "0.1"], "--time-scale need --simulate"),
        (["--simulate", "--time-scale", "0"], "--time-scale 0.0 must be > 0"),
        (["--index", "3"], "invalid choice: 3"),
        (["--port", "70000"], "--port 70000 must be in"),
        (["--ocps-max-processes", "1"], "--ocps-max-processes need --simulate"),
        (["--simulate", "--ocps-max-processes", "0"], "--ocps-max-processes 0 must be >= 1"),
    ],
)
def test_bad_options(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(args)
    assert message in capsys.readouterr().err


def test_defaults() -> None:
    namespace = parse_args([])
    assert (namespace.index, namespace.host, namespace.simulate) == (1, "127.0.0.1", False)
    assert parse_args(["--simulate"]).repo == str(pathlib.Path("_work") / "queue" / "repo")


def test_simulated_observatory_gets_the_ocps_cap() -> None:
    # The daily default asks pipetask for 8 processes; on a small machine the panel's
    # operator caps the simulated OCPS (as bin/run-daily-default does) or waits an hour.
    namespace = parse_args(["--simulate", "--repo", "r", "--time-scale", "0.1", "--ocps-max-processes", "1"])
    observatory = start_simulated_observatory(namespace)
    args = list(observatory.args)
    assert args[args.index("--ocps-max-processes") + 1] == "1"
    assert args[args.index("--time-scale") + 1] == "0.1"
    assert "--ocps-max-processes" not in start_simulated_observatory(parse_args(["--simulate"])).args


async def start_command(
    args: list[str], tmp_path: pathlib.Path
) -> tuple[asyncio.subprocess.Process, list[str]]:
    """Start ``run_script_queue`` without an isolation name; return it and
    its output up to the ready line.
    """
    env = {name: value for name, value in os.environ.items() if name not in (SUBNAME_ENV, TRANSPORT_ENV)}
    env["HOME"] = str(tmp_path)  # whatever the panel stores goes there
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lsst.ts.calibrations.queue.run_script_queue",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
        cwd=tmp_path,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(SIM_READY_TIMEOUT if "--simulate" in args else STD_TIMEOUT):
            while not (lines and lines[-1].startswith(READY_PREFIX)):
                raw = await process.stdout.readline()
                assert raw, "run_script_queue exited before it was ready:\n" + "".join(lines)
                lines.append(raw.decode())
    except BaseException:
        process.kill()
        await process.wait()
        raise
    return process, lines


async def stop_command(process: asyncio.subprocess.Process) -> str:
    """Interrupt the command; return the rest of its output."""
    assert process.stdout is not None
    process.send_signal(signal.SIGINT)
    rest, _ = await asyncio.wait_for(process.communicate(), STD_TIMEOUT * 2)
    return rest.decode()


async def test_command_runs_a_script_and_ends_everything(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["--index", "2", "--port", "0", "--standard", str(STANDARD_ROOT), "--external", str(EXTERNAL_ROOT)]
    process, lines = await start_command(args, tmp_path)
    try:
        subname = lines[0].strip().rpartition("=")[2]
        assert "(private, made for this session)" in lines[0] and subname.startswith("queue_"), lines[0]
        assert "ScriptQueue:2 ENABLED" in "".join(lines)
        monkeypatch.setenv(TRANSPORT_ENV, "dds")
        monkeypatch.setenv(SUBNAME_ENV, subname)
        async with Domain() as domain, Remote(domain, "ScriptQueue", 2) as remote:
            state = await remote.evt_summaryState.aget(timeout=STD_TIMEOUT)
            assert state.summaryState == State.ENABLED
            ackcmd = await remote.cmd_add.set_start(
                isStandard=True,
                path="script1.py",
                config="wait_time: 600",
                location=Location.LAST,
                timeout=STD_TIMEOUT,
            )
            assert int(ackcmd.result) == 200000
            async with asyncio.timeout(STD_TIMEOUT):
                while True:
                    data = await remote.evt_script.next(flush=False)
                    if data.processState == ScriptProcessState.RUNNING:
                        break
        # The command itself was started without the name; what it starts inherits it.
        assert len(pids_in_subname(subname)) == 1, "the running script"
    finally:
        rest = await stop_command(process)
    assert process.returncode == 0, rest
    assert "run_script_queue: stopped" in rest
    assert pids_in_subname(subname) == [], "no process of the session survives"


@pytest.mark.slow
async def test_command_runs_the_calibration_script_against_the_simulated_observatory(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The operator's way: the queue loads maintel/make_comcam_calibrations.py from the
    # default external root and runs it to DONE against the simulated observatory.
    args = ["--simulate", "--repo", str(tmp_path / "repo"), "--time-scale", "0.1", "--port", "0"]
    args += ["--standard", str(STANDARD_ROOT)]
    process, lines = await start_command(args, tmp_path)
    subname = lines[0].strip().rpartition("=")[2]
    config = dict(
        detectors=[0],
        n_processes=1,
        script_mode="BIAS",
        n_bias=2,
        generate_calibrations=True,
        do_verify=False,
        calib_collection="LSSTComCam/calib/daily/calib.queue.1",
        certify_calib_begin_date="2022-11-04",
        certify_calib_end_date="2022-11-05",
    )
    try:
        assert "observatory process" in "".join(lines)
        assert len(pids_in_subname(subname, workers=False)) == 1, "the observatory"
        monkeypatch.setenv(TRANSPORT_ENV, "dds")
        monkeypatch.setenv(SUBNAME_ENV, subname)
        async with Domain() as domain, Remote(domain, "ScriptQueue", 1) as remote:
            ackcmd = await remote.cmd_add.set_start(
                isStandard=False,
                path="maintel/make_comcam_calibrations.py",
                config=yaml.safe_dump(config),
                location=Location.LAST,
                timeout=STD_TIMEOUT,
            )
            index = int(ackcmd.result)
            async with asyncio.timeout(RUN_TIMEOUT):
                while True:
                    data = await remote.evt_script.next(flush=False)
                    if data.scriptSalIndex == index and data.processState >= ScriptProcessState.DONE:
                        break
            assert (data.processState, data.scriptState) == (ScriptProcessState.DONE, ScriptState.DONE)
    finally:
        rest = await stop_command(process)
    assert process.returncode == 0, rest
    assert pids_in_subname(subname) == []
