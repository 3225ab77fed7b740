"""MakeLSSTCamCalibrations end to end against the simulated LSSTCam observatory."""

import asyncio
import itertools
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from lsst.daf.butler import Butler

from lsst.ts.calibrations.repo.camera import Camera
from lsst.ts.calibrations.sal import ScriptState
from lsst.ts.calibrations.scripts import MakeLSSTCamCalibrations
from lsst.ts.calibrations.sim.observatory import SimulatedObservatory

STD_TIMEOUT = 10.0
DATE = "2022-11-04"
EXECUTABLE = (
    Path(__file__).parents[2]
    / "python/lsst/ts/calibrations/data/scripts/maintel/make_lsstcam_calibrations.py"
)
RAFT_R22 = [Camera.instance("LSSTCam")[f"R22_S{row}{col}"].id for row in range(3) for col in range(3)]
_indices = itertools.count(400)


async def run_script(config: dict[str, Any], run_timeout: float) -> MakeLSSTCamCalibrations:
    """Configure and run the script; return it once it has ended."""
    script = MakeLSSTCamCalibrations(index=next(_indices))
    await asyncio.wait_for(script.start_task, STD_TIMEOUT)
    data = script.cmd_configure.DataType()
    data.config = yaml.safe_dump(config)
    await asyncio.wait_for(script.do_configure(data), STD_TIMEOUT)
    await script.do_setGroupId(type("G", (), {"groupId": "test-group"})())
    await asyncio.wait_for(script.do_run(None), run_timeout)
    return script


def bias_config(repo: Path, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = dict(
        repo=str(repo),
        script_mode="BIAS",
        n_bias=2,
        n_discard_bias=0,
        generate_calibrations=True,
        do_verify=True,
        n_processes=1,
        oods_timeout=60,
        calib_collection="LSSTCam/calib/daily/calib.2022NOV04.1",
        certify_calib_begin_date="2022-11-04",
        certify_calib_end_date="2022-11-05",
    )
    config.update(overrides)
    return config


@pytest.fixture
async def raft_observatory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[SimulatedObservatory]:
    monkeypatch.setenv("TS_CALIBRATIONS_RUN_RECORDS", str(tmp_path / "records"))
    async with SimulatedObservatory(
        tmp_path / "repo",
        time_scale=0.01,
        date=DATE,
        seed=7,
        heartbeat_interval=1.0,
        detectors=RAFT_R22,
        instrument="LSSTCam",
    ) as obs:
        yield obs


async def test_one_e2v_raft_bias_generated_verified_certified(raft_observatory: SimulatedObservatory) -> None:
    config = bias_config(raft_observatory.repo, detectors=RAFT_R22)
    script = await run_script(config, run_timeout=300.0)
    assert script.state.state == ScriptState.DONE, script.state.reason
    assert script.processor is not None
    assert script.processor.outcomes["BIAS"].status.value == "certified"
    butler = Butler(str(raft_observatory.repo), collections=[config["calib_collection"]])  # type: ignore[abstract]
    try:
        refs = butler.query_datasets("bias", instrument="LSSTCam", find_first=False)
        assert sorted(ref.dataId["detector"] for ref in refs) == RAFT_R22
        bias = butler.get("bias", detector=94, exposure=script.kept["BIAS"][0], instrument="LSSTCam")
        # e2v's reduced segment: 258 x 128 data pixels, 2 x 8 amplifiers.
        assert bias.getImage().getArray().shape == (2 * 258, 8 * 128)
    finally:
        butler.close()


@pytest.mark.slow
async def test_all_189_science_detectors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TS_CALIBRATIONS_RUN_RECORDS", str(tmp_path / "records"))
    async with SimulatedObservatory(
        tmp_path / "repo", time_scale=0.01, date=DATE, seed=7, heartbeat_interval=1.0, instrument="LSSTCam"
    ) as observatory:
        config = bias_config(observatory.repo, n_processes=2, do_verify=False, oods_timeout=600)
        script = await run_script(config, run_timeout=3600.0)
        assert script.state.state == ScriptState.DONE, script.state.reason
        assert script.plan is not None and script.plan.detectors == tuple(range(189))
        assert script.processor is not None
        assert script.processor.outcomes["BIAS"].status.value == "certified"
        with Butler(str(observatory.repo), collections=[config["calib_collection"]]) as butler:  # type: ignore[abstract]
            refs = butler.query_datasets("bias", instrument="LSSTCam", find_first=False)
            assert sorted(ref.dataId["detector"] for ref in refs) == list(range(189))


def test_schema_of_the_executable() -> None:
    assert os.access(EXECUTABLE, os.X_OK)
    process = subprocess.run(
        [sys.executable, str(EXECUTABLE), "0", "--schema"],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    schema = yaml.safe_load(process.stdout)
    assert schema["title"] == "MakeLSSTCamCalibrations v1"
    properties = schema["properties"]
    assert properties["calib_collection"]["default"] == "LSSTCam/calib/daily"
    assert properties["input_collections_verify_flat"]["default"] == "LSSTCam/calib"
    assert properties["repo"]["default"] == "/repo/LSSTCam"
    assert properties["detectors"]["items"] == {"type": "integer", "minimum": 0, "maximum": 204}
