"""The LSSTCam and LATISS scripts' schemas and configure rules (as configure reads and plans them)."""

import asyncio
import itertools
from pathlib import Path

import pytest
import yaml

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations.sal import DefaultingValidator, ScriptState
from lsst.ts.calibrations.sal.base import ExpectedError
from lsst.ts.calibrations.sal.config_problem import ConfigProblem
from lsst.ts.calibrations.sal.config_yaml import read_and_validate_config
from lsst.ts.calibrations.scripts import (
    MakeComCamCalibrations,
    MakeLatissCalibrations,
    MakeLSSTCamCalibrations,
)
from lsst.ts.calibrations.scripts.calibration_plan import CalibrationPlan
from lsst.ts.calibrations.sim.observatory import SimulatedObservatory

SCRIPTS = (MakeComCamCalibrations, MakeLSSTCamCalibrations, MakeLatissCalibrations)
_indices = itertools.count(600)


def review(script: type, text: str) -> tuple[CalibrationPlan | None, list[ConfigProblem]]:
    """Read, validate and plan the YAML as the script's configure does; every problem found."""
    config, explicit, problems = read_and_validate_config(text, DefaultingValidator(script.get_schema()))
    assert config is not None, problems
    plan, more = CalibrationPlan.build(
        config,
        explicit_keys=explicit,
        instrument=script.instrument_name,
        detector_ids=script.detector_ids,
        skip=ConfigProblem.options(problems),
    )
    return plan, problems + more


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.instrument_name)
def test_every_script_shares_the_options_and_declares_its_instrument(script: type) -> None:
    properties = script.get_schema()["properties"]
    comcam = MakeComCamCalibrations.get_schema()["properties"]
    # Only what differs: LATISS adds the grating; no option is lost.
    assert set(properties) - set(comcam) == ({"grating"} if script is MakeLatissCalibrations else set())
    assert set(comcam) <= set(properties)
    name = script.instrument_name
    assert properties["calib_collection"]["default"] == f"{name}/calib/daily"
    assert properties["repo"]["default"] == f"/repo/{name}"
    assert all(
        properties[key]["default"] == f"{name}/calib"
        for key in properties
        if key.startswith("input_collections")
    )
    assert {MakeComCamCalibrations: 2, MakeLSSTCamCalibrations: 3, MakeLatissCalibrations: 1}[script] == (
        script.ocps_index
    )


def test_lsstcam_daily_default_plans_the_189_science_detectors() -> None:
    plan, problems = review(MakeLSSTCamCalibrations, "")
    assert not problems and plan is not None
    assert plan.detectors == tuple(range(189))
    assert plan.calib_collection == "LSSTCam/calib/daily"
    # A raft, the wavefront sensors on request; nothing past 204.
    plan, problems = review(MakeLSSTCamCalibrations, "detectors: [90, 91, 92, 191, 192]")
    assert not problems and plan is not None and plan.detectors == (90, 91, 92, 191, 192)
    _, problems = review(MakeLSSTCamCalibrations, "detectors: [188, 205]")
    assert ConfigProblem.options(problems) == {"detectors"}
    assert "205" in ConfigProblem.describe_all(problems)


def test_latiss_has_one_detector_and_a_grating() -> None:
    plan, problems = review(MakeLatissCalibrations, "filter: SDSSr_65mm\ngrating: holo4_003")
    assert not problems and plan is not None
    assert plan.detectors == (0,) and plan.filter == "SDSSr_65mm"
    _, problems = review(MakeLatissCalibrations, "detectors: [1]")
    assert ConfigProblem.options(problems) == {"detectors"}
    _, problems = review(MakeLatissCalibrations, "grating: -1")
    assert ConfigProblem.options(problems) == {"grating"}
    # LATISS's collections: certifying into its raw or calib chain is refused.
    _, problems = review(
        MakeLatissCalibrations, "generate_calibrations: true\ncalib_collection: LATISS/calib"
    )
    assert "calib_collection" in ConfigProblem.options(problems)
    # ComCam's schema has no grating.
    _, problems = review(MakeComCamCalibrations, "grating: holo4_003")
    assert "grating" in ConfigProblem.options(problems)


@pytest.mark.parametrize(
    ("script_class", "in_place"),
    [(MakeLSSTCamCalibrations, "r_57"), (MakeLatissCalibrations, "SDSSr_65mm~empty")],
    ids=["LSSTCam", "LATISS"],
)
async def test_flats_checked_for_the_filter_in_place(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    script_class: type[MakeLSSTCamCalibrations | MakeLatissCalibrations],
    in_place: str,
) -> None:
    # filter: null keeps the filter in place; external verification then needs reference flats
    # of that filter (LATISS's is filter~grating), and configure says which are missing.
    monkeypatch.setenv("TS_CALIBRATIONS_RUN_RECORDS", str(tmp_path / "records"))
    instrument = script_class.instrument_name
    async with SimulatedObservatory(
        tmp_path / "repo",
        time_scale=0.01,
        date="2022-11-04",
        instrument=instrument,
        detectors=[0],
        ocps=False,
        heartbeat_interval=1.0,
    ) as observatory:
        script = script_class(index=next(_indices))
        await asyncio.wait_for(script.start_task, STD_TIMEOUT)
        await asyncio.wait_for(script.camera.start_task, STD_TIMEOUT)
        assert await script.current_filter() == in_place
        data = script.cmd_configure.DataType()
        data.config = yaml.safe_dump(dict(repo=str(observatory.repo), detectors=[0]))
        with pytest.raises(ExpectedError, match=f"flat.*for filter {in_place}"):
            await asyncio.wait_for(script.do_configure(data), STD_TIMEOUT)
        assert script.state.state == ScriptState.CONFIGURE_FAILED
        await script.close()
