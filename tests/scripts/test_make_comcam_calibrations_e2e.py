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

from lsst.ts.calibrations.sal import Domain, Remote, ScriptState
from lsst.ts.calibrations.scripts import MakeComCamCalibrations
from lsst.ts.calibrations.sim.observatory import SimulatedObservatory

STD_TIMEOUT = 10.0
RUN_TIMEOUT = 240.0
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


async def run_script(config: dict[str, Any], stop_at: str = "", pause_at: str = "") -> MakeComCamCalibrations:
    """Configure and run the script; return it once it has ended."""
    index = next(_indices)
    script = MakeComCamCalibrations(index=index)
    await asyncio.wait_for(script.start_task, STD_TIMEOUT)
    data = script.cmd_configure.DataType()
    data.config = yaml.safe_dump(config)
    data.pauseCheckpoint = pause_at
    data.stopCheckpoint = stop_at
    await asyncio.wait_for(script.do_configure(data), STD_TIMEOUT)
    await script.do_setGroupId(type("G", (), {"groupId": "test-group"})())
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
    # The procedure document's retrieval code.
    from lsst.daf.butler import Butler

    butler = Butler(str(observatory.repo), collections=[config["calib_collection"]])
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
