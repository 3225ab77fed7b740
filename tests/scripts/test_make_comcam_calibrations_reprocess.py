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

"""Reprocessing options refused at configure, and the fetch lines of a run record (no observatory)."""

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations.sal import ScriptState
from lsst.ts.calibrations.scripts import MakeComCamCalibrations
from lsst.ts.calibrations.scripts.run_record import RunRecord

_indices = itertools.count(700)


async def configure(config: dict[str, Any]) -> MakeComCamCalibrations:
    script = MakeComCamCalibrations(index=next(_indices))
    await asyncio.wait_for(script.start_task, STD_TIMEOUT)
    data = script.cmd_configure.DataType()
    data.config = yaml.safe_dump(config)
    with pytest.raises(Exception):
        await asyncio.wait_for(script.do_configure(data), STD_TIMEOUT)
    assert script.state.state == ScriptState.CONFIGURE_FAILED
    await script.close()
    return script


async def test_both_reprocessing_options_refused(tmp_path: Path) -> None:
    script = await configure(
        dict(
            script_mode="BIAS",
            reprocess_exposures={"bias": [1, 2]},
            reprocess_run_record=str(tmp_path / "run.json"),
        )
    )
    assert "give one of them" in script.state.reason


async def test_unreadable_run_record_refused(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text("{not json")
    script = await configure(dict(script_mode="BIAS", reprocess_run_record=str(path)))
    assert (
        "reprocess_run_record" in script.state.reason and "not a readable run record" in script.state.reason
    )


async def test_missing_image_type_refused() -> None:
    script = await configure(dict(script_mode="BIAS_DARK", reprocess_exposures={"bias": [2022110400002]}))
    assert "reprocess_exposures has no dark exposures" in script.state.reason


async def test_unknown_key_of_reprocess_exposures_refused() -> None:
    script = await configure(dict(script_mode="BIAS", reprocess_exposures={"biases": [2022110400002]}))
    assert "biases" in script.state.reason


def test_retrieval_lines_use_the_run_collections() -> None:
    record = {
        "plan": {"detectors": [4]},
        "exposures_processed": {"BIAS": [11, 12], "FLAT": [21, 22]},
        "products": {
            "BIAS": {
                "status": "certified",
                "certified_into": "LSSTComCam/calib/daily/x",
                "collections": {"generate": "u/ocps/a", "verify": "u/ocps/b"},
            },
            "FLAT": {"status": "failed", "certified_into": "", "collections": {"generate": "u/ocps/c"}},
            "GAIN": {"status": "measured", "certified_into": "", "collections": {"generate": "u/ocps/d"}},
        },
    }
    lines = RunRecord.from_dict({"script": "x", "index": 1, **record}).retrieval_lines("/repo/LSSTComCam")
    text = "\n".join(lines)
    assert "collections=['LSSTComCam/calib/daily/x', 'LSSTComCam/calib']" in lines[1]
    assert "bias = butler.get('bias', detector=4, exposure=11, instrument='LSSTComCam')" in text
    assert "verifyBiasStats" in text and "u/ocps/b" in text
    # A failed product has nothing to fetch; gains come from the gain job of a flat.
    assert "u/ocps/c" not in text and "flat = " not in text
    assert "cpCov = butler.get('cpPtcExtract', detector=4, exposure=21" in text and "u/ocps/d" in text
    # Every line is Python.
    compile(text, "<retrieval>", "exec")
