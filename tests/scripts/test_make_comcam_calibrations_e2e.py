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

"""MakeComCamCalibrations end to end against the simulated observatory (camera, OODS, OCPS).

One observatory (detector 0, reduced geometry, time scale 0.01) serves the
module; each test certifies into a calibration collection of its own, and
a test that arms an OCPS fault disarms it at its end. A test that needs
another sensor model starts its own observatory. The run report is built
(and checked) by `test_bias_generation_certifies` only; the other runs
request it (``run_reports``).
"""

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
import pytest_asyncio
import yaml

from fixtures.script_runs import ReportRequest, configure_script, run_script
from fixtures.timeouts import RUN_TIMEOUT, STD_TIMEOUT
from lsst.ts.calibrations.sal import ScriptState
from lsst.ts.calibrations.scripts import MakeComCamCalibrations
from lsst.ts.calibrations.sim.observatory import SimulatedObservatory

MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")
"""The event loop of the module's observatory (and of its in-process bus)."""

DATE = "2022-11-04"
EXECUTABLE = (
    Path(__file__).parents[2] / "python/lsst/ts/calibrations/data/scripts/maintel/make_comcam_calibrations.py"
)
_collections = itertools.count(1)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def observatory(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SimulatedObservatory]:
    """The module's observatory; its clock starts at 18:00 UTC on DATE.

    Its OCPS keeps one quantum worker (the runs' jobs are of one process, mostly one after the
    other): a second would cost its imports for little.
    """
    repo = tmp_path_factory.mktemp("comcam_e2e") / "repo"
    async with SimulatedObservatory(
        repo, time_scale=0.01, date=DATE, seed=3, detectors=[0], heartbeat_interval=1.0, ocps_max_processes=1
    ) as obs:
        yield obs


@pytest.fixture(autouse=True)
def records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's own run-record folder."""
    monkeypatch.setenv("TS_CALIBRATIONS_RUN_RECORDS", str(tmp_path / "records"))
    return tmp_path / "records"


def base_config(repo: Path, **overrides: Any) -> dict[str, Any]:
    """A config certifying into a collection of this test's own.

    The validity runs for a week from DATE: the module's clock runs 100
    times faster than real time, so the images of a later test are taken
    hours (of simulated time) after 18:00.
    """
    config: dict[str, Any] = dict(
        repo=str(repo),
        detectors=[0],
        n_processes=1,
        oods_timeout=30,
        calib_collection=f"LSSTComCam/calib/daily/calib.2022NOV04.{next(_collections)}",
        certify_calib_begin_date="2022-11-04",
        certify_calib_end_date="2022-11-11",
    )
    config.update(overrides)
    return config


@pytest.mark.slow
@MODULE_LOOP
async def test_bias_generation_verified_and_certified(observatory: SimulatedObservatory) -> None:
    config = base_config(
        observatory.repo,
        script_mode="BIAS",
        n_bias=2,
        generate_calibrations=True,
        do_verify=True,
    )
    script = await run_script(MakeComCamCalibrations, config)
    assert script.state.state == ScriptState.DONE, script.state.reason
    assert len(script.taken["BIAS"]) == 3
    assert script.kept["BIAS"] == script.taken["BIAS"][1:]
    assert script.processor is not None
    outcome = script.processor.outcomes["BIAS"]
    # Generated, verified internally (the verdict passed), then certified.
    assert set(outcome.jobs) == {"generate", "verify"}
    assert outcome.verdict
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
@pytest.mark.usefixtures("run_reports")
@MODULE_LOOP
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
    script = await run_script(MakeComCamCalibrations, config)
    assert script.state.state == ScriptState.DONE, script.state.reason
    assert script.processor is not None and script.ocps is not None
    bias, dark = script.processor.outcomes["BIAS"], script.processor.outcomes["DARK"]
    assert bias.status.value == "certified" and dark.status.value == "certified"
    # The dark was generated after the bias was made, reading it from the run that made it
    # or, once certified, from the calibration collection.
    bias_record = script.ocps.results[bias.jobs["generate"]].record
    dark_record = script.ocps.results[dark.jobs["generate"]].record
    assert dark_record["startTime"] >= bias_record["endTime"]
    dark_config = dark_record["parameters"]["config"]
    assert bias_record["outputRun"] in dark_config or config["calib_collection"] in dark_config


@pytest.mark.slow
@pytest.mark.usefixtures("run_reports")
@MODULE_LOOP
async def test_failed_job_fails_the_run(observatory: SimulatedObservatory) -> None:
    assert observatory.ocps is not None
    config = base_config(
        observatory.repo, script_mode="BIAS", n_bias=2, generate_calibrations=True, do_verify=False
    )
    observatory.ocps.inject_failure(1)
    try:
        script = await run_script(MakeComCamCalibrations, config)
    finally:
        observatory.ocps.inject_failure(0)  # the module's next test gets a sound OCPS
    assert script.state.state == ScriptState.FAILED
    assert script.processor is not None
    job_id = script.processor.outcomes["BIAS"].jobs["generate"]
    assert "generate BIAS" in script.state.reason and job_id in script.state.reason
    assert "ocps.log" in script.state.reason
    assert len(script.taken["BIAS"]) == 3


@pytest.mark.slow
@pytest.mark.usefixtures("run_reports")
@MODULE_LOOP
async def test_certification_conflict(observatory: SimulatedObservatory) -> None:
    config = base_config(
        observatory.repo, script_mode="BIAS", n_bias=2, generate_calibrations=True, do_verify=False
    )
    # Two runs configured for the same collection and validity range: the second to
    # finish finds the first's certification and fails naming the step.
    first = await configure_script(MakeComCamCalibrations, config)
    second = await configure_script(MakeComCamCalibrations, config)
    await asyncio.wait_for(first.do_run(None), RUN_TIMEOUT)
    assert first.state.state == ScriptState.DONE, first.state.reason
    await asyncio.wait_for(second.do_run(None), RUN_TIMEOUT)
    assert second.state.state == ScriptState.FAILED
    assert "certify bias" in second.state.reason
    assert config["calib_collection"] in second.state.reason
    assert len(second.taken["BIAS"]) == 3
    # Configured after the first certification, the same config is refused before any image.
    with pytest.raises(Exception, match="already has bias certified"):
        await configure_script(MakeComCamCalibrations, config)


@pytest.mark.parametrize(
    "checkpoint", ["Setup instrument.", "Taking 2 darks.", "Data-taking part completed."]
)
@pytest.mark.slow
@MODULE_LOOP
async def test_stop_at_checkpoint(
    observatory: SimulatedObservatory, checkpoint: str, run_reports: list[ReportRequest]
) -> None:
    config = base_config(
        observatory.repo,
        script_mode="BIAS_DARK",
        n_bias=1,
        n_dark=1,
        exp_times_dark=1.0,
        generate_calibrations=True,
        do_verify=False,
    )
    script = await run_script(MakeComCamCalibrations, config, stop_at=checkpoint.replace(".", r"\."))
    assert script.state.state == ScriptState.STOPPED
    assert script.ocps is not None
    assert script.ocps.running_jobs == []
    assert all(result.exit_code in (0, 255) for result in script.ocps.results.values())
    assert script.run_record_path is not None and script.run_record_path.exists()
    if checkpoint == "Setup instrument.":
        assert script.taken == {}
        assert run_reports == []  # nothing produced, no report
    else:
        assert len(script.taken["BIAS"]) == 2
        # A stopped run that took images gets its report too.
        assert [request.run_record for request in run_reports] == [script.run_record_path]


@pytest.mark.slow
@pytest.mark.usefixtures("run_reports")
@MODULE_LOOP
async def test_pause_and_resume(observatory: SimulatedObservatory) -> None:
    config = dict(repo=str(observatory.repo), detectors=[0], script_mode="BIAS", n_bias=1, do_verify=False)
    script = await configure_script(MakeComCamCalibrations, config, pause_at=r"Taking 2 biases\.")
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
@pytest.mark.usefixtures("run_reports")
@pytest.mark.asyncio(loop_scope="function")
async def test_verification_failure_blocks_certification(tmp_path: Path) -> None:
    # A noisy sensor: an observatory of its own, on an event loop (and so an in-process bus) of its own.
    async with SimulatedObservatory(
        tmp_path / "repo",
        time_scale=0.01,
        date=DATE,
        seed=3,
        detectors=[0],
        sensor_model="comcam_high_noise",
        heartbeat_interval=1.0,
        ocps_max_processes=1,
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
        script = await run_script(MakeComCamCalibrations, config)
    assert script.state.state == ScriptState.FAILED
    assert script.processor is not None
    bias, dark = script.processor.outcomes["BIAS"], script.processor.outcomes["DARK"]
    assert bias.status.value == "verification failed", bias.describe()
    assert not bias.certified_into
    assert dark.status.value == "not generated"
    assert "BIAS" in dark.reason
    assert "not certified" in script.state.reason
