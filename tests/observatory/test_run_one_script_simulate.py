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

"""Tests of the run_one_script options that start the simulated observatory (--simulate ...)."""

import asyncio
import io
import os
import pathlib
import re
import subprocess
import sys
import typing

import pytest
from lsst.daf.butler import Butler

from fixtures.timeouts import PROCESS_TIMEOUT
from lsst.ts.calibrations.sal.observatory_provider import find_observatory_providers
from lsst.ts.calibrations.sal.run_one_script import make_observatory, parse_args, run_one_script
from lsst.ts.calibrations.sim.observatory import SimulatedObservatory
from lsst.ts.calibrations.sim.observatory_process import ObservatoryProcess
from lsst.ts.calibrations.sim.run_comcam_sim import make_parser as make_sim_parser
from lsst.ts.calibrations.sim.simulated_observatory_provider import (
    SimulatedObservatoryProvider,
    check_simulator_arguments,
    make_simulated_observatory,
    simulator_argv,
)

SCRIPT = pathlib.Path(__file__).parent / "data" / "take_bias_script.py"


def test_the_simulator_is_found_by_entry_point() -> None:
    providers = find_observatory_providers()
    assert [type(provider) for provider in providers] == [SimulatedObservatoryProvider]


def test_sal_does_not_import_the_simulator() -> None:
    code = (
        "import sys; import lsst.ts.calibrations.sal.run_one_script; "
        "assert not [m for m in sys.modules if m.startswith('lsst.ts.calibrations.sim')], 'sim imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=PROCESS_TIMEOUT)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--repo", "r"], "--repo need --simulate"),
        (["--simulate"], "--simulate needs --repo PATH"),
        (["--simulate", "--repo", "r", "--time-scale", "0"], "--time-scale 0.0 must be > 0"),
        (["--simulate", "--repo", "r", "--date", "24-10-2024"], "must be YYYY-MM-DD"),
        (["--simulate", "--repo", "r", "--geometry", "tiny"], "invalid choice: 'tiny'"),
        (["--simulate", "--repo", "r", "--seed", "-1"], "--seed -1 must be >= 0"),
        (["--simulate", "--repo", "r", "--ocps-max-processes", "0"], "--ocps-max-processes 0 must be >= 1"),
        (["--ocps-max-processes", "1"], "--ocps-max-processes need --simulate"),
    ],
)
def test_bad_options(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args([str(SCRIPT), *args])
    assert message in capsys.readouterr().err


def test_options_make_the_observatory(tmp_path: pathlib.Path) -> None:
    namespace = parse_args(
        [
            str(SCRIPT),
            "--simulate",
            "--repo",
            str(tmp_path / "repo"),
            "--time-scale",
            "0.02",
            "--seed",
            "4",
            "--date",
            "2021-09-01",
            "--geometry",
            "reduced",
            "--sim-fault",
            "oods-lose:2",
            "--sim-fault",
            "process-fail:3:4",
            "--ocps-max-processes",
            "1",
            "--ocps-execution-backend",
            "pipetask",
        ]
    )
    observatory = make_simulated_observatory(namespace)
    assert observatory.ocps_max_processes == 1
    assert observatory.ocps_execution_backend == "pipetask"
    assert observatory.clock.day_obs() == 20210901
    assert observatory.seed == 4
    assert observatory.faults.lost_images == {2}
    assert observatory.faults.failed_processing == {3: 4}
    # The local transport runs it in this process; DDS as run_comcam_sim, given the same options.
    assert isinstance(make_observatory(namespace, "local"), SimulatedObservatory)
    process = make_observatory(namespace, "dds")
    assert isinstance(process, ObservatoryProcess)
    assert process.args == simulator_argv(namespace)
    sim_parser = make_sim_parser()
    sim_namespace = sim_parser.parse_args(process.args)
    check_simulator_arguments(sim_parser, sim_namespace)
    for name in (
        "repo",
        "time_scale",
        "seed",
        "date",
        "geometry",
        "sim_fault",
        "ocps_max_processes",
        "ocps_execution_backend",
    ):
        assert getattr(sim_namespace, name) == getattr(namespace, name), name
    assert make_observatory(parse_args([str(SCRIPT)]), "local") is None
    with pytest.raises(ValueError, match="process-fail:N"):
        make_simulated_observatory(
            parse_args([str(SCRIPT), "--simulate", "--repo", "r", "--sim-fault", "process-fail:1:9"])
        )
    with pytest.raises(ValueError, match="fault spec 'disk:1'"):
        make_simulated_observatory(
            parse_args([str(SCRIPT), "--simulate", "--repo", "r", "--sim-fault", "disk:1"])
        )


@pytest.mark.slow
async def test_run_with_simulated_observatory(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The observatory installs the repository alias in this process; restore the environment afterwards.
    monkeypatch.setenv("DAF_BUTLER_REPOSITORY_INDEX", "")
    monkeypatch.delenv("DAF_BUTLER_REPOSITORY_INDEX")
    namespace = parse_args(
        [
            str(SCRIPT),
            "--simulate",
            "--repo",
            str(tmp_path / "repo"),
            "--time-scale",
            "0.02",
            "--date",
            "2021-09-01",
            "-p",
            "nbias=2",
            "--index",
            "31",
        ]
    )
    stream = io.StringIO()
    code = await run_one_script(
        namespace.script,
        index=namespace.index,
        config=namespace.config,
        stream=stream,
        observatory=make_simulated_observatory(namespace),
    )
    output = stream.getvalue()
    assert code == 0, output
    assert "simulated observatory: CCCamera, CCHeaderService, CCOODS, OCPS:2 ENABLED" in output
    assert "export DAF_BUTLER_REPOSITORY_INDEX=" in output
    assert "exposure ids [2021090100001, 2021090100002]" in output


@pytest.mark.slow
async def test_run_without_observatory() -> None:
    stream = io.StringIO()
    code = await run_one_script(SCRIPT, index=32, config="", stream=stream)
    output = stream.getvalue()
    assert code == 1
    assert "no simulated observatory (--simulate not given)" in output
    assert "CCCamera published no summaryState within 1.0 s: it is not running" in output


@pytest.mark.slow
async def test_two_simulated_runs_at_once_do_not_mix(tmp_path: pathlib.Path) -> None:
    """Two ``run_one_script --simulate`` on one machine, over the multi-process
    transport and with no isolation name set, each take exactly their own images.

    Each is also the test of ``run_one_script --simulate`` over DDS: the
    observatory in a process of its own (its ready line read by the command,
    not printed), the script in another, run to DONE.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("LSST_TOPIC_SUBNAME", "LSST_SAL_TRANSPORT", "DAF_BUTLER_REPOSITORY_INDEX")
    }

    async def run(name: str, index: int) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "lsst.ts.calibrations.sal.run_one_script",
            str(SCRIPT),
            "--simulate",
            "--repo",
            str(tmp_path / name),
            "--time-scale",
            "0.05",
            "--date",
            "2021-09-01",
            "--index",
            str(index),
            "-p",
            "nbias=3",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        stdout, _ = await process.communicate()
        return typing.cast(int, process.returncode), stdout.decode()

    results = await asyncio.gather(run("repo_a", 41), run("repo_b", 42))
    names = set()
    for code, output in results:
        assert code == 0, output
        # Each camera numbered only its own three images (mixed, one would see six).
        assert "exposure ids [2021090100001, 2021090100002, 2021090100003]" in output, output
        assert "Skipping" not in output, output
        assert "script process" in output and "final state DONE" in output, output
        assert "simulated observatory" in output and "run_comcam_sim: ready" not in output, output
        match = re.search(r"isolation name LSST_TOPIC_SUBNAME=(\S+) \(private to this run\)", output)
        assert match is not None, output
        names.add(match.group(1))
    assert len(names) == 2
    for name in ("repo_a", "repo_b"):
        butler = Butler.from_config(str(tmp_path / name))
        try:
            exposures = butler.query_dimension_records("exposure", instrument="LSSTComCam")
        finally:
            butler.close()
        assert sorted(record.id for record in exposures) == [2021090100001, 2021090100002, 2021090100003]
