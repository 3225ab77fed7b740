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

"""The accuracy benchmark end to end: reduced geometry, every pipeline through ``pipetask run``.

Each test runs the benchmark's ``main`` in the test process with the
command-line arguments a user would give; its five ``pipetask run``
command lines run in the session's warm ``pipetask`` processes
(`fixtures.repositories.run_pipetask_command`), so a run pays the
middleware's imports once. One test runs a pipeline as the command line
does, in a ``pipetask`` process of its own, and one runs the executable.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.repositories import run_pipetask_command
from fixtures.timeouts import BUILD_TIMEOUT, PIPETASK_TIMEOUT, PROCESS_TIMEOUT

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import accuracy  # noqa: E402

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "accuracy.py"

# The fewest images the plan allows: 3 biases, 3 darks and 5 flat pairs (0.3, 5, 20, 41 and
# 60 ke-): the PTC still spans the range and the ~20 ke- pair gives the pair gain. The expected
# errors (PTC gain 0.75%, pair gain 0.8%, read noise 1.2% per amplifier) leave the limits below
# at 4 sigma or more.
FEW_IMAGES = ["--geometry", "reduced", "--n-bias", "3", "--n-dark", "3", "--flat-pairs", "5"]


def _run_benchmark(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[str, dict]:
    """Run the benchmark in this process, pipelines in warm pipetask processes; its output and JSON."""
    status = accuracy.main(args, run_pipetask=run_pipetask_command)
    out = capsys.readouterr().out
    assert status == 0, out[-3000:]
    json_path = Path(args[args.index("--json") + 1])
    assert f"Figures written to {json_path}." in out
    return out, json.loads(json_path.read_text())


@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT)
def test_reduced_geometry_one_detector(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_json = tmp_path / "accuracy.json"
    work = tmp_path / "work"
    stdout, result = _run_benchmark(
        capsys,
        [
            "--sensor-model",
            "comcam_default",
            *FEW_IMAGES,
            "--detectors",
            "4",
            "--seed",
            "7",
            "--workdir",
            str(work),
            "--json",
            str(out_json),
        ],
    )
    for heading in (
        "== Plan",
        "== ptc_gain",
        "== pair_gain",
        "== read_noise",
        "== dark_current",
        "== Targets",
    ):
        assert heading in stdout
    assert [s["status"] for s in result["pipelines"]] == ["ok"] * 5
    assert all(s["quanta"] for s in result["pipelines"])
    # Each pipeline's log holds what its pipetask run wrote.
    for step in result["pipelines"]:
        log = work / "logs" / f"{step['pipeline']}.log"
        assert f"log {log}" == step["detail"]
        assert "quanta successfully" in log.read_text()
    assert result["plan"]["n_bias"] == 3 and result["plan"]["detectors"] == [4]
    assert len(result["plan"]["flat_exposure_times"]) == 5
    comparisons = result["comparisons"]
    for quantity, limit in (("ptc_gain", 0.03), ("pair_gain", 0.04), ("read_noise", 0.05)):
        rows = comparisons[quantity]
        assert len(rows) == 16
        assert all(abs(row["relative_error"]) < limit for row in rows), quantity
    assert all(row["measured"] is not None for row in comparisons["dark_current"])
    assert result["defects"][0]["recall"] == 1.0
    names = {t["name"] for t in result["targets"]}
    assert "PTC gain within 0.5%" in names and "defect precision >= 99%" in names


@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT)
def test_lsstcam_vendors_reported_separately(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """LSSTCam's default detectors, one ITL and one e2v: each vendor's amplifiers have their own targets."""
    out_json = tmp_path / "accuracy.json"
    stdout, result = _run_benchmark(
        capsys,
        [
            "--instrument",
            "LSSTCam",
            *FEW_IMAGES,
            "--seed",
            "3",
            "--workdir",
            str(tmp_path / "work"),
            "--json",
            str(out_json),
        ],
    )
    assert "== Targets, ITL amplifiers only (16 amplifiers" in stdout
    assert "== Targets, E2V amplifiers only (16 amplifiers" in stdout
    assert result["plan"]["detectors"] == [16, 94]
    assert result["vendors"] == {"16": "ITL", "94": "E2V"}
    assert [s["status"] for s in result["pipelines"]] == ["ok"] * 5
    for vendor, detector in (("ITL", 16), ("E2V", 94)):
        summaries = result["summaries_by_vendor"][vendor]
        for quantity in ("ptc_gain", "pair_gain", "read_noise", "ptc_noise", "dark_current"):
            assert summaries[quantity]["n"] == 16, (vendor, quantity)
        targets = {t["name"]: t for t in result["targets_by_vendor"][vendor]}
        assert "PTC gain within 0.5%" in targets and "dark_current within 3x expected error" in targets
        assert all(f"detector {detector} " in targets[name]["detail"] for name in ("PTC gain within 0.5%",))
        # Each vendor's figures are right to a few percent (reduced geometry, few biases and darks).
        for quantity, limit in (("ptc_gain", 0.03), ("pair_gain", 0.04), ("read_noise", 0.05)):
            assert summaries[quantity]["max_abs_relative_error"] < limit, (vendor, quantity)
        assert targets["defect recall 100%"]["verdict"] == "PASS", vendor


@pytest.mark.slow
@pytest.mark.timeout(PIPETASK_TIMEOUT)
def test_pipeline_in_a_process_of_its_own(tmp_path: Path) -> None:
    # Without a hook, as on the command line, each pipeline is a new pipetask process whose
    # output goes to the step's log; a failure reports its exit code and the log's last lines.
    step = accuracy.run_pipeline(
        tmp_path / "no_repository",
        "cpBias",
        "u/accuracy/cpBias",
        "instrument='LSSTComCam' AND detector IN (0)",
        tmp_path,
        ["LSSTComCam/raw/all", "LSSTComCam/calib"],
    )
    log = tmp_path / "cpBias.log"
    assert step.status == "failed"
    assert step.detail.startswith(f"exit code 1; log {log}: ")
    assert "no_repository" in log.read_text()
    assert step.wall > 0
    missing = accuracy.run_pipeline(tmp_path, "cpNothing", "u/accuracy/cpNothing", "", tmp_path, [])
    assert missing.status == "missing" and "cpNothing" in missing.detail


def test_executable_help() -> None:
    process = subprocess.run(
        [sys.executable, str(BENCHMARK), "--help"],
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    for option in ("--instrument", "--geometry", "--detectors", "--flat-pairs", "--measure-only", "--json"):
        assert option in process.stdout


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--flat-pairs", "4"], "--flat-pairs=4 must be 5 to 14"),
        (["--flat-pairs", "15"], "--flat-pairs=15 must be 5 to 14"),
        (["--instrument", "LSSTCam", "--detectors", "16,999"], "must name LSSTCam science detector ids"),
        (["--measure-only"], "--measure-only needs the --workdir"),
    ],
)
def test_bad_arguments_are_named(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        accuracy.parse_args(argv)
    assert raised.value.code == 2
    assert message in capsys.readouterr().err
