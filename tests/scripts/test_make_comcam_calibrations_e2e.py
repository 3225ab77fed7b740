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

"""MakeComCamCalibrations end to end against the simulated observatory (camera, OODS, OCPS)."""

import asyncio
import itertools
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures.timeouts import RUN_TIMEOUT, STD_TIMEOUT
from lsst.ts.calibrations.sal import ScriptState
from lsst.ts.calibrations.scripts import MakeComCamCalibrations
from lsst.ts.calibrations.sim.observatory import SimulatedObservatory

DATE = "2022-11-04"
EXECUTABLE = (
    Path(__file__).parents[2] / "python/lsst/ts/calibrations/data/scripts/maintel/make_comcam_calibrations.py"
)
_indices = itertools.count(100)


@pytest.fixture
async def observatory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SimulatedObservatory]:
    monkeypatch.setenv("TS_CALIBRATIONS_RUN_RECORDS", str(tmp_path / "records"))
    async with SimulatedObservatory(
        tmp_path / "repo", time_scale=0.01, date=DATE, seed=3, detectors=[0], heartbeat_interval=1.0
    ) as obs:
        yield obs


async def configure_script(
    config: dict[str, Any], stop_at: str = "", pause_at: str = ""
) -> MakeComCamCalibrations:
    """Start and configure the script; return it CONFIGURED."""
    index = next(_indices)
    script = MakeComCamCalibrations(index=index)
    await asyncio.wait_for(script.start_task, STD_TIMEOUT)
    data = script.cmd_configure.DataType()
    data.config = yaml.safe_dump(config)
    data.pauseCheckpoint = pause_at
    data.stopCheckpoint = stop_at
    await asyncio.wait_for(script.do_configure(data), STD_TIMEOUT)
    await script.do_setGroupId(type("G", (), {"groupId": "test-group"})())
    return script


async def run_script(config: dict[str, Any], stop_at: str = "", pause_at: str = "") -> MakeComCamCalibrations:
    """Configure and run the script; return it once it has ended."""
    script = await configure_script(config, stop_at=stop_at, pause_at=pause_at)
    await asyncio.wait_for(script.do_run(None), RUN_TIMEOUT)
    return script


def base_config(repo: Path, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = dict(
        repo=str(repo),
        detectors=[0],
        n_processes=1,
        oods_timeout=30,
        calib_collection="LSSTComCam/calib/daily/calib.2022NOV04.1",
        certify_calib_begin_date="2022-11-04",
        certify_calib_end_date="2022-11-05",
    )
    config.update(overrides)
    return config


@pytest.mark.slow
async def test_bias_generation_certifies(observatory: SimulatedObservatory) -> None:
    config = base_config(
        observatory.repo,
        script_mode="BIAS",
        n_bias=2,
        generate_calibrations=True,
        do_verify=False,
    )
    script = await run_script(config)
    assert script.state.state == ScriptState.DONE, script.state.reason
    assert len(script.taken["BIAS"]) == 3
    assert script.kept["BIAS"] == script.taken["BIAS"][1:]
    assert script.processor is not None
    outcome = script.processor.outcomes["BIAS"]
    assert outcome.status.value == "certified"
    assert outcome.certified_into == config["calib_collection"]
    record = json.loads(Path(script.run_record_path).read_text())  # type: ignore[arg-type]
    assert record["products"]["BIAS"]["status"] == "certified"
    # The run's report is built beside its record and announced.
    report = Path(script.run_record_path).with_suffix("") / "report.html"  # type: ignore[arg-type]
    assert report.is_file() and "Combined bias" in report.read_text()
    announced = script.evt_largeFileObjectAvailable.data
    assert announced.url == report.as_uri() and announced.mimeType == "text/html"
    # The procedure document's retrieval code.
    from lsst.daf.butler import Butler

    butler = Butler(str(observatory.repo), collections=[config["calib_collection"]])  # type: ignore[abstract]  # the document's form
    try:
        bias = butler.get("bias", detector=0, exposure=script.kept["BIAS"][0], instrument="LSSTComCam")
        assert bias.getImage().getArray().size > 0
    finally:
        butler.close()


def test_schema_fast_without_butler() -> None:
    assert os.access(EXECUTABLE, os.X_OK)
    process = subprocess.run(
        [sys.executable, "-X", "importtime", str(EXECUTABLE), "0", "--schema"],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    schema = yaml.safe_load(process.stdout)
    assert schema["title"].endswith("v1")
    assert "lsst.daf.butler" not in process.stderr


@pytest.mark.slow
async def test_bias_dark_generation_in_dependency_order(observatory: SimulatedObservatory) -> None:
    config = base_config(
        observatory.repo,
        script_mode="BIAS_DARK",
        n_bias=2,
        n_dark=2,
        exp_times_dark=1.0,
        generate_calibrations=True,
        do_verify=False,
    )
    script = await run_script(config)
    assert script.state.state == ScriptState.DONE, script.state.reason
    assert script.processor is not None and script.ocps is not None
    bias, dark = script.processor.outcomes["BIAS"], script.processor.outcomes["DARK"]
    assert bias.status.value == "certified" and dark.status.value == "certified"
    # The dark was generated after the bias was certified, from the calibration collection.
    bias_end = script.ocps.results[bias.jobs["generate"]].record["endTime"]
    dark_record = script.ocps.results[dark.jobs["generate"]].record
    assert dark_record["startTime"] >= bias_end
    assert config["calib_collection"] in dark_record["parameters"]["config"]


@pytest.mark.slow
async def test_failed_job_fails_the_run(observatory: SimulatedObservatory) -> None:
    assert observatory.ocps is not None
    observatory.ocps.inject_failure(1)
    config = base_config(
        observatory.repo, script_mode="BIAS", n_bias=2, generate_calibrations=True, do_verify=False
    )
    script = await run_script(config)
    assert script.state.state == ScriptState.FAILED
    assert script.processor is not None
    job_id = script.processor.outcomes["BIAS"].jobs["generate"]
    assert "generate BIAS" in script.state.reason and job_id in script.state.reason
    assert "ocps.log" in script.state.reason
    assert len(script.taken["BIAS"]) == 3


@pytest.mark.slow
async def test_certification_conflict(observatory: SimulatedObservatory) -> None:
    config = base_config(
        observatory.repo, script_mode="BIAS", n_bias=2, generate_calibrations=True, do_verify=False
    )
    # Two runs configured for the same collection and validity range: the second to
    # finish finds the first's certification and fails naming the step.
    first = await configure_script(config)
    second = await configure_script(config)
    await asyncio.wait_for(first.do_run(None), RUN_TIMEOUT)
    assert first.state.state == ScriptState.DONE, first.state.reason
    await asyncio.wait_for(second.do_run(None), RUN_TIMEOUT)
    assert second.state.state == ScriptState.FAILED
    assert "certify bias" in second.state.reason
    assert config["calib_collection"] in second.state.reason
    assert len(second.taken["BIAS"]) == 3
    # Configured after the first certification, the same config is refused before any image.
    with pytest.raises(Exception, match="already has bias certified"):
        await configure_script(config)


@pytest.mark.parametrize(
    "checkpoint", ["Setup instrument.", "Taking 2 darks.", "Data-taking part completed."]
)
@pytest.mark.slow
async def test_stop_at_checkpoint(observatory: SimulatedObservatory, checkpoint: str) -> None:
    config = base_config(
        observatory.repo,
        script_mode="BIAS_DARK",
        n_bias=1,
        n_dark=1,
        exp_times_dark=1.0,
        generate_calibrations=True,
        do_verify=False,
    )
    script = await run_script(config, stop_at=checkpoint.replace(".", r"\."))
    assert script.state.state == ScriptState.STOPPED
    assert script.ocps is not None
    assert script.ocps.running_jobs == []
    assert all(result.exit_code in (0, 255) for result in script.ocps.results.values())
    if checkpoint == "Setup instrument.":
        assert script.taken == {}
    else:
        assert len(script.taken["BIAS"]) == 2
    assert script.run_record_path is not None and script.run_record_path.exists()


@pytest.mark.slow
async def test_pause_and_resume(observatory: SimulatedObservatory) -> None:
    config = dict(repo=str(observatory.repo), detectors=[0], script_mode="BIAS", n_bias=1, do_verify=False)
    index = next(_indices)
    script = MakeComCamCalibrations(index=index)
    await asyncio.wait_for(script.start_task, STD_TIMEOUT)
    data = script.cmd_configure.DataType()
    data.config = yaml.safe_dump(config)
    data.pauseCheckpoint = r"Taking 2 biases\."
    await script.do_configure(data)
    await script.do_setGroupId(type("G", (), {"groupId": "test-group"})())
    run_task = asyncio.create_task(script.do_run(None))
    async with asyncio.timeout(STD_TIMEOUT):
        while script.state.state != ScriptState.PAUSED:
            await asyncio.sleep(0.05)
    assert script.taken == {}
    await script.do_resume(None)
    await asyncio.wait_for(run_task, RUN_TIMEOUT)
    assert script.state.state == ScriptState.DONE, script.state.reason
    assert len(script.taken["BIAS"]) == 2


@pytest.mark.slow
async def test_internal_verification_passes_and_certifies(observatory: SimulatedObservatory) -> None:
    config = base_config(observatory.repo, script_mode="BIAS", n_bias=3, generate_calibrations=True)
    script = await run_script(config)
    assert script.state.state == ScriptState.DONE, script.state.reason
    assert script.processor is not None
    outcome = script.processor.outcomes["BIAS"]
    assert set(outcome.jobs) == {"generate", "verify"}
    assert outcome.status.value == "certified"
    assert outcome.verdict


@pytest.mark.slow
async def test_verification_failure_blocks_certification(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TS_CALIBRATIONS_RUN_RECORDS", str(tmp_path / "records"))
    async with SimulatedObservatory(
        tmp_path / "repo",
        time_scale=0.01,
        date=DATE,
        seed=3,
        detectors=[0],
        sensor_model="comcam_high_noise",
        heartbeat_interval=1.0,
    ) as obs:
        config = base_config(
            obs.repo,
            script_mode="BIAS_DARK",
            n_bias=3,
            n_dark=1,
            exp_times_dark=1.0,
            generate_calibrations=True,
            number_verification_tests_threshold_bias=1,
        )
        script = await run_script(config)
    assert script.state.state == ScriptState.FAILED
    assert script.processor is not None
    bias, dark = script.processor.outcomes["BIAS"], script.processor.outcomes["DARK"]
    assert bias.status.value == "verification failed", bias.describe()
    assert not bias.certified_into
    assert dark.status.value == "not generated"
    assert "BIAS" in dark.reason
    assert "not certified" in script.state.reason
