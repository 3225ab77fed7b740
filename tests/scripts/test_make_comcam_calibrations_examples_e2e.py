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

"""The procedure document's configuration examples end to end, on one simulated observatory.

The observatory (detector 0, reduced geometry, time scale 0.01) is shared
by the module; its repository is a copy of the session's
``reference_repository`` (reference calibrations in ``LSSTComCam/calib``);
each example certifies into its own ``calib_collection``. Each example
keeps its options and exposure times (typos corrected) and sets
``detectors: [0]`` and ``repo``; where an example leaves the numbers of
images at their defaults (20 of each) or asks for many, the run takes the
fewest that keep what is asserted: ``test_calibration_plan.py`` pins the
plan each example makes as written (numbers, times, steps, notes). The
run reports are requested, not built (``run_reports``).
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio
import yaml

from fixtures.repositories import copy_repository
from fixtures.script_runs import run_script as run_configured
from fixtures.script_runs import statuses
from lsst.ts.calibrations.sal import ScriptState
from lsst.ts.calibrations.scripts import MakeComCamCalibrations
from lsst.ts.calibrations.sim.observatory import SimulatedObservatory

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.slow,
    pytest.mark.usefixtures("run_reports"),
]

# The clock runs 100 times faster than real time: starting at 06:00 UTC, the exposures of the
# tests that fetch certified calibrations by exposure fall in the examples' validity
# [2022-11-04, 2022-11-05) (those tests come first).
DATE = "2022-11-04T06:00:00"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def observatory(
    tmp_path_factory: pytest.TempPathFactory, reference_repository: Path
) -> AsyncIterator[SimulatedObservatory]:
    # A copy of the session's references: r_03 (the camera's filter) and y_04 (the PTC example's).
    root = tmp_path_factory.mktemp("examples")
    repo = await asyncio.to_thread(copy_repository, reference_repository, root / "repo")
    async with SimulatedObservatory(
        repo, time_scale=0.01, date=DATE, seed=3, detectors=[0], heartbeat_interval=1.0
    ) as obs:
        yield obs


@pytest.fixture(autouse=True)
def records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TS_CALIBRATIONS_RUN_RECORDS", str(tmp_path / "records"))
    return tmp_path / "records"


async def run_script(text: str, repo: Path) -> MakeComCamCalibrations:
    """Configure with the example's YAML (plus detectors and repo) and run; return the ended script."""
    config = yaml.safe_load(text) or {}
    config.update(detectors=[0], repo=str(repo), n_processes=1)
    return await run_configured(MakeComCamCalibrations, config, group_id="example")


async def test_daily_default_external_verification(
    observatory: SimulatedObservatory, caplog: pytest.LogCaptureFixture
) -> None:
    # The daily default's shape (no generation, external verification, gains from pairs) with
    # small counts: verified against the module's reference calibrations.
    caplog.set_level(logging.INFO)
    script = await run_script("n_bias: 3\nn_dark: 2\nn_flat: 4\n", observatory.repo)
    assert script.state.state == ScriptState.DONE, script.state.reason
    assert statuses(script) == {
        "BIAS": "verified",
        "DARK": "verified",
        "FLAT": "verified",
        "GAIN": "measured",
    }
    assert [len(script.taken[t]) for t in ("BIAS", "DARK", "FLAT")] == [4, 3, 5]
    assert script.processor is not None
    assert all(not o.certified_into for o in script.processor.outcomes.values())
    # Gains per exposure pair, detector and amplifier in the log.
    table = script.processor.gain_table
    assert "Gains from flat pairs" in caplog.text and table in caplog.text
    flats = script.kept["FLAT"]
    assert str(flats[0]) in table and str(flats[2]) in table
    # The run record names the verification collections; fetch the document's datasets from them.
    record = json.loads(Path(script.run_record_path).read_text())  # type: ignore[arg-type]
    verify = record["products"]["FLAT"]["collections"]["verify"]
    gain = record["products"]["GAIN"]["collections"]["generate"]
    from lsst.daf.butler import Butler

    butler = Butler(str(observatory.repo), collections=[verify, gain])  # type: ignore[abstract]  # the document's form
    try:
        run_stats = butler.get("verifyFlatStats", instrument="LSSTComCam")
        assert run_stats
        det_stats = butler.get("verifyFlatDetStats", instrument="LSSTComCam", detector=0, exposure=flats[0])
        assert det_stats
        im_proc = butler.get("verifyFlatProc", detector=0, exposure=flats[0], instrument="LSSTComCam")
        calib_array = im_proc.getImage().getArray()
        q25, q50, q75 = np.percentile(calib_array.flatten(), [25, 50, 75])
        assert q25 <= q50 <= q75
        cp_cov = butler.get("cpPtcExtract", detector=0, exposure=flats[0], instrument="LSSTComCam")
        gains = np.array(list(cp_cov.gain.values()), dtype=float)
        noise = np.array(list(cp_cov.noise.values()), dtype=float)
        assert np.all(np.isfinite(gains)) and 0.5 < float(np.median(gains)) < 3.0
        assert np.all(noise > 0)
    finally:
        butler.close()


async def test_example_ptc_and_defects_with_filter(observatory: SimulatedObservatory) -> None:
    # "generate_calibrations=True" corrected to a YAML mapping; ${FILTER_NAME_OR_ID} set to y_04
    # (2000 e-/s in the simulator: the 35 s flats stay below full well, as the example intends).
    # Its biases and darks (20 by default) cut to 2, the fewest that combine: the flats' pairs
    # make the PTC.
    text = """
n_bias: 2
n_dark: 2
script_mode: BIAS_DARK_FLAT
n_flat: 14
exp_times_flat: [5, 5, 10, 10, 15, 15, 20, 20, 25, 25, 30, 30, 35, 35]
filter: y_04
generate_calibrations: True
calib_collection: "LSSTComCam/calib/daily/calibs.2022NOV04.1"
certify_calib_begin_date: "2022-11-04"
certify_calib_end_date: "2022-11-05"
do_defects: True
do_ptc: True
"""
    script = await run_script(text, observatory.repo)
    assert script.state.state == ScriptState.DONE, script.state.reason
    assert statuses(script) == {
        "BIAS": "certified",
        "DARK": "certified",
        "FLAT": "certified",
        "DEFECTS": "certified",
        "PTC": "certified",
    }
    # The procedure document's retrieval code.
    import lsst.daf.butler as dB  # noqa: N812 (the procedure document's code)

    butler = dB.Butler(str(observatory.repo), collections=["LSSTComCam/calib/daily/calibs.2022NOV04.1"])  # type: ignore[abstract]  # the document's form
    try:
        detectors = (0,)
        exposure = script.kept["BIAS"][:2]
        bias = butler.get("bias", detector=detectors[0], exposure=exposure[0], instrument="LSSTComCam")
        dark = butler.get("dark", detector=detectors[0], exposure=exposure[0], instrument="LSSTComCam")
        # A flat is per filter: it is found from a flat's exposure (a bias has no filter).
        flat_exposure = script.kept["FLAT"][0]
        flat = butler.get("flat", detector=detectors[0], exposure=flat_exposure, instrument="LSSTComCam")
        defects = butler.get("defects", detector=detectors[0], exposure=exposure[0], instrument="LSSTComCam")
        ptc = butler.get("ptc", detector=detectors[0], exposure=exposure[0], instrument="LSSTComCam")
        assert bias.getImage().getArray().shape == flat.getImage().getArray().shape
        assert np.isfinite(dark.getImage().getArray()).all()
        assert defects is not None
        assert ptc.gain and all(0.5 < g < 3.0 for g in ptc.gain.values())
    finally:
        butler.close()


async def test_example_changing_exposure_times(observatory: SimulatedObservatory) -> None:
    # "exp_times_flats" corrected to exp_times_flat; the daily default otherwise, 2 images of each.
    text = "exp_times_dark: 20\nexp_times_flat: 30\nn_bias: 2\nn_dark: 2\nn_flat: 2\n"
    script = await run_script(text, observatory.repo)
    assert script.state.state == ScriptState.DONE, script.state.reason
    assert [len(script.taken[t]) for t in ("BIAS", "DARK", "FLAT")] == [3, 3, 3]
    assert set(statuses(script)) == {"BIAS", "DARK", "FLAT", "GAIN"}
    assert statuses(script)["GAIN"] == "measured"
    # The camera took them at the example's times.
    times = await asyncio.to_thread(_exposure_times, observatory.repo)
    assert {times[e] for e in script.taken["DARK"]} == {20.0}
    assert {times[e] for e in script.taken["FLAT"]} == {30.0}


async def test_example_changing_times_and_numbers(
    observatory: SimulatedObservatory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # 30 biases cut to 2; darks and flats each at distinct times, from the shortest to the longest.
    text = """
n_bias: 2
n_dark: 3
exp_times_dark: [5, 15, 25]
n_flat: 3
exp_times_flat: [5, 25, 50]
"""
    script = await run_script(text, observatory.repo)
    assert script.state.state == ScriptState.DONE, script.state.reason
    assert [len(script.taken[t]) for t in ("BIAS", "DARK", "FLAT")] == [3, 4, 4]
    times = await asyncio.to_thread(_exposure_times, observatory.repo)
    # The discarded image first, at the first time.
    assert [times[e] for e in script.taken["DARK"]] == [5.0, 5.0, 15.0, 25.0]
    assert [times[e] for e in script.taken["FLAT"]] == [5.0, 5.0, 25.0, 50.0]
    # No two flats share a time: gains from flat pairs (on by default) dropped with an INFO line.
    assert "GAIN" not in statuses(script)
    assert "do_gain_from_flat_pairs" in caplog.text


async def test_example_internal_verification(observatory: SimulatedObservatory) -> None:
    # "calibration_collection" corrected to calib_collection, the repeated begin date to the end date;
    # 2 biases and darks (the fewest that combine) and 2 flat pairs instead of 20 of each.
    text = """
n_bias: 2
n_dark: 2
n_flat: 4
generate_calibrations: True
calib_collection: LSSTComCam/calib/daily/calib.2022NOV04.1
certify_calib_begin_date: "2022-11-04"
certify_calib_end_date: "2022-11-05"
"""
    script = await run_script(text, observatory.repo)
    assert script.state.state == ScriptState.DONE, script.state.reason
    assert statuses(script) == {
        "BIAS": "certified",
        "DARK": "certified",
        "FLAT": "certified",
        "GAIN": "measured",
    }
    assert script.processor is not None
    for name in ("BIAS", "DARK", "FLAT"):
        outcome = script.processor.outcomes[name]
        assert set(outcome.jobs) == {"generate", "verify"} and outcome.verdict
        assert outcome.validity is not None and outcome.validity[0].startswith("2022-11-04")


async def test_example_ptc_and_defects_external_verification(observatory: SimulatedObservatory) -> None:
    # The verification inputs name a user collection searched before LSSTComCam/calib.
    from lsst.daf.butler import Butler, CollectionType

    butler = Butler(str(observatory.repo), writeable=True)  # type: ignore[abstract]
    try:
        butler.registry.registerCollection(
            "LSSTComCam/calib/u/plazas/2021SEP16.1", CollectionType.CALIBRATION
        )
    finally:
        butler.close()
    text = """
n_bias: 6
n_dark: 6
exp_times_dark: [5, 5, 5, 10, 15, 20]
n_flat: 14
exp_times_flat: [0.1, 0.1, 0.35, 0.35, 0.6, 0.6, 0.8, 0.8, 1.0, 1.0, 1.35, 1.35, 1.6, 1.6]
calib_collection: "LSSTComCam/calib/u/plazas/daily.2021SEP13.test1"
do_verify: True
input_collections_verify_bias: "LSSTComCam/calib/u/plazas/2021SEP16.1,LSSTComCam/calib"
input_collections_verify_dark: "LSSTComCam/calib/u/plazas/2021SEP16.1,LSSTComCam/calib"
input_collections_verify_flat: "LSSTComCam/calib/u/plazas/2021SEP16.1,LSSTComCam/calib"
certify_calib_begin_date: "2021-07-15"
certify_calib_end_date: "2021-07-17"
script_mode: BIAS_DARK_FLAT
do_defects: True
do_ptc: True
"""
    script = await run_script(text, observatory.repo)
    assert script.state.state == ScriptState.DONE, script.state.reason
    result = statuses(script)
    assert result["DEFECTS"] == "certified" and result["PTC"] == "certified"
    assert {result[t] for t in ("BIAS", "DARK", "FLAT")} <= {"verified", "verification failed"}
    assert script.processor is not None
    verify_inputs = script.ocps.results[script.processor.outcomes["BIAS"].jobs["verify"]].record  # type: ignore[union-attr]
    assert "LSSTComCam/calib/u/plazas/2021SEP16.1,LSSTComCam/calib" in verify_inputs["parameters"]["config"]


async def test_notes_gain_from_flat_pairs(
    observatory: SimulatedObservatory, caplog: pytest.LogCaptureFixture
) -> None:
    # The Notes' snippet as written (n_flat follows the list): gains from the first three pairs.
    caplog.set_level(logging.INFO)
    text = """
script_mode: BIAS_DARK_FLAT
n_bias: 2
n_dark: 2
exp_times_flat: [0.1, 0.1, 0.35, 0.35, 0.6, 0.6, 1, 1.5, 1.7, 2.1, 2.3]
do_verify: False
"""
    script = await run_script(text, observatory.repo)
    assert script.state.state == ScriptState.DONE, script.state.reason
    assert statuses(script)["GAIN"] == "measured"
    assert script.processor is not None
    table = script.processor.gain_table
    flats = script.kept["FLAT"]
    for first, second in ((flats[0], flats[1]), (flats[2], flats[3]), (flats[4], flats[5])):
        assert f"{first}/{second}" in table
    # The last five flats have no partner: listed without a gain, and announced at configure.
    assert f"no gain): {flats[6]} (detector 0)" in table
    record = json.loads(Path(script.run_record_path).read_text())  # type: ignore[arg-type]
    rows = record["gains"]["rows"]
    assert {(row["exposure_1"], row["exposure_2"]) for row in rows} == {
        (flats[0], flats[1]),
        (flats[2], flats[3]),
        (flats[4], flats[5]),
    }
    amplifiers = {row["amplifier"] for row in rows}
    assert len(amplifiers) == 16 and len(rows) == 3 * len(amplifiers)
    assert "unused for the gain" in caplog.text
    assert "n_flat is 11, the number of entries of exp_times_flat" in caplog.text


async def test_dark_mode_generates_from_reference_bias(observatory: SimulatedObservatory) -> None:
    text = """
script_mode: DARK
n_dark: 2
exp_times_dark: 5
generate_calibrations: True
do_verify: False
calib_collection: LSSTComCam/calib/daily/dark.2022NOV04.1
certify_calib_begin_date: "2022-11-04"
certify_calib_end_date: "2022-11-05"
"""
    script = await run_script(text, observatory.repo)
    assert script.state.state == ScriptState.DONE, script.state.reason
    assert statuses(script) == {"DARK": "certified"}
    assert list(script.taken) == ["DARK"]


async def test_reprocess_exposures_without_retaking(observatory: SimulatedObservatory) -> None:
    first = await run_script("script_mode: BIAS\nn_bias: 2\ndo_verify: True\n", observatory.repo)
    assert first.state.state == ScriptState.DONE, first.state.reason
    biases = first.kept["BIAS"]
    text = f"""
script_mode: BIAS
reprocess_exposures: {{bias: {biases}}}
generate_calibrations: True
calib_collection: LSSTComCam/calib/daily/reprocessed.1
certify_calib_begin_date: "2022-11-04"
certify_calib_end_date: "2022-11-05"
"""
    taken_before = await asyncio.to_thread(_raw_count, observatory.repo)
    again = await run_script(text, observatory.repo)
    assert again.state.state == ScriptState.DONE, again.state.reason
    assert again.taken == {} and again.kept["BIAS"] == biases
    assert statuses(again) == {"BIAS": "certified"}
    assert await asyncio.to_thread(_raw_count, observatory.repo) == taken_before
    # The same from the first run's record (its processed exposures).
    text = f"""
script_mode: BIAS
reprocess_run_record: {first.run_record_path}
do_verify: True
"""
    from_record = await run_script(text, observatory.repo)
    assert from_record.state.state == ScriptState.DONE, from_record.state.reason
    assert from_record.kept["BIAS"] == biases and from_record.taken == {}


def _raw_count(repo: Path) -> int:
    from lsst.daf.butler import Butler

    butler = Butler(str(repo))  # type: ignore[abstract]
    try:
        return len(butler.query_datasets("raw", collections="LSSTComCam/raw/all", limit=None))
    finally:
        butler.close()


def _exposure_times(repo: Path) -> dict[int, float]:
    """Exposure time (s) of every exposure in the repository, by id."""
    from lsst.daf.butler import Butler

    with Butler.from_config(str(repo)) as butler:
        records = butler.query_dimension_records("exposure", instrument="LSSTComCam", explain=False)
    return {int(record.id): float(record.exposure_time) for record in records}
