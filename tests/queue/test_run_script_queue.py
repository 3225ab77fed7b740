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

The command with ``--simulate``, the calibration script run from the
default external root to DONE against the observatory it started, and
every process ended on Ctrl-C, is the panel's end-to-end test
(``web/test_panel_comcam_e2e.py``), which drives that command's panel.
"""

import asyncio
import pathlib

import pytest
from command_process import pids_in_subname, start_command, stop_command, subname_of
from queue_harness import EXTERNAL_ROOT, STANDARD_ROOT

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations.queue import Location, ScriptProcessState
from lsst.ts.calibrations.queue.run_script_queue import parse_args, start_simulated_observatory
from lsst.ts.calibrations.sal import Domain, Remote, State
from lsst.ts.calibrations.sal.isolation import SUBNAME_ENV
from lsst.ts.calibrations.sal.transport_choice import TRANSPORT_ENV


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


@pytest.mark.slow
async def test_command_runs_a_script_and_ends_everything(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["--index", "2", "--port", "0", "--standard", str(STANDARD_ROOT), "--external", str(EXTERNAL_ROOT)]
    process, lines = await start_command(args, tmp_path)
    try:
        subname = subname_of(lines)
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
