"""MakeLSSTCamCalibrations end to end against the simulated LSSTCam observatory.

The run reports are requested, not built (``run_reports``): the report's
own tests build LSSTCam's (``tests/report/test_report_focal_planes.py``).
The runs on one OCPS process (``n_processes=1``) get an OCPS of one
quantum worker (``ocps_max_processes=1``): a second would only pay its
imports. The daily default's reference calibrations are built once
(`script_runs.reference_template`, kept in pytest's cache).

Each run's observatory is one the test needs for what it asserts: the
189 detectors' run also checks both vendors' bias shapes, and the PTC and
defects run (verification on, one ITL and one e2v sensor) that every
product is certified for the configured detectors and no others; the
camera taking a whole raft is tested in
``tests/observatory/test_instrument_observatories.py``.
"""

from pathlib import Path
from typing import Any

import pytest
from lsst.daf.butler import Butler

from fixtures import script_runs
from fixtures.timeouts import RUN_TIMEOUT
from lsst.ts.calibrations.repo.camera import Camera
from lsst.ts.calibrations.sal import ScriptState
from lsst.ts.calibrations.scripts import MakeLSSTCamCalibrations

DATE = "2022-11-04"
EXECUTABLE = (
    Path(__file__).parents[2]
    / "python/lsst/ts/calibrations/data/scripts/maintel/make_lsstcam_calibrations.py"
)
# One ITL sensor (R01_S00) and one e2v sensor (R22_S11): both vendors' amplifiers in one run.
ITL_AND_E2V = [Camera.instance("LSSTCam")["R01_S00"].id, Camera.instance("LSSTCam")["R22_S11"].id]
REFERENCES: dict[str, Any] = dict(detectors=ITL_AND_E2V, seed=7, day_obs=20221102, instrument="LSSTCam")
"""The daily default's references (`ReferenceCalibrations`' counts: 20 biases, 20 darks, 4 flats)."""

pytestmark = pytest.mark.usefixtures("run_reports")


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


@pytest.mark.slow
async def test_all_189_science_detectors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with script_runs.simulated_observatory(
        tmp_path, monkeypatch, date=DATE, seed=7, instrument="LSSTCam"
    ) as observatory:
        # One bias: every detector still goes through isr, cpBiasCombine and certification.
        config = bias_config(observatory.repo, n_bias=1, n_processes=2, do_verify=False, oods_timeout=600)
        script = await script_runs.run_script(MakeLSSTCamCalibrations, config, run_timeout=6 * RUN_TIMEOUT)
        assert script.state.state == ScriptState.DONE, script.state.reason
        assert script.plan is not None and script.plan.detectors == tuple(range(189))
        assert script.processor is not None
        assert script.processor.outcomes["BIAS"].status.value == "certified"
        with Butler(str(observatory.repo), collections=[config["calib_collection"]]) as butler:  # type: ignore[abstract]
            refs = butler.query_datasets("bias", instrument="LSSTCam", find_first=False)
            assert sorted(ref.dataId["detector"] for ref in refs) == list(range(189))
            # Both vendors' reduced segments: ITL's 256 x 128 and e2v's 258 x 128 data pixels,
            # 2 x 8 amplifiers (R01_S00 and R22_S11).
            exposure = script.kept["BIAS"][0]
            for detector, rows in ((ITL_AND_E2V[0], 256), (ITL_AND_E2V[1], 258)):
                bias = butler.get("bias", detector=detector, exposure=exposure, instrument="LSSTCam")
                assert bias.getImage().getArray().shape == (2 * rows, 8 * 128), detector


def test_schema_of_the_executable() -> None:
    schema = script_runs.executable_schema(EXECUTABLE)
    assert schema["title"] == "MakeLSSTCamCalibrations v1"
    properties = schema["properties"]
    assert properties["calib_collection"]["default"] == "LSSTCam/calib/daily"
    assert properties["input_collections_verify_flat"]["default"] == "LSSTCam/calib"
    assert properties["repo"]["default"] == "/repo/LSSTCam"
    assert properties["detectors"]["items"] == {"type": "integer", "minimum": 0, "maximum": 204}


@pytest.mark.slow
async def test_generation_with_ptc_and_defects_itl_and_e2v(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The procedure document's PTC-and-defects example for LSSTCam on one ITL and one e2v sensor:
    # everything generated and certified, 4 flat pairs at 4 exposure times, the flats in r_57.
    async with script_runs.simulated_observatory(
        tmp_path,
        monkeypatch,
        date=DATE,
        seed=7,
        detectors=ITL_AND_E2V,
        instrument="LSSTCam",
        ocps_max_processes=1,
    ) as observatory:
        config = bias_config(
            observatory.repo,
            script_mode="BIAS_DARK_FLAT",
            detectors=ITL_AND_E2V,
            n_bias=3,
            n_dark=3,
            n_discard_dark=0,
            exp_times_dark=5.0,
            n_flat=8,
            n_discard_flat=0,
            exp_times_flat=[1, 1, 2, 2, 3, 3, 4, 4],
            filter="r_57",
            do_defects=True,
            do_ptc=True,
        )
        script = await script_runs.run_script(MakeLSSTCamCalibrations, config)
    assert script.state.state == ScriptState.DONE, script.state.reason
    assert script_runs.statuses(script) == dict.fromkeys(
        ("BIAS", "DARK", "FLAT", "DEFECTS", "PTC"), "certified"
    )
    # The gains of the 4 pairs, from the PTC job's extracts, for both sensors.
    assert script.processor is not None
    assert "R01_S00" in script.processor.gain_table and "R22_S11" in script.processor.gain_table
    with Butler(str(observatory.repo), collections=[config["calib_collection"]]) as butler:  # type: ignore[abstract]
        # Each product certified for the configured detectors, verified first (do_verify): no more.
        for product in ("bias", "dark", "flat", "defects", "ptc"):
            refs = butler.query_datasets(product, instrument="LSSTCam", find_first=False)
            assert sorted(ref.dataId["detector"] for ref in refs) == ITL_AND_E2V, product
        exposure = script.kept["FLAT"][0]
        for detector in ITL_AND_E2V:
            ptc = butler.get("ptc", detector=detector, exposure=exposure, instrument="LSSTCam")
            assert len(ptc.gain) == 16
            assert all(0.5 < gain < 3.0 for gain in ptc.gain.values()), (detector, ptc.gain)
            # Hot and cold pixels, not noise (5 s darks, the document's default): under 1 %.
            defects = butler.get("defects", detector=detector, exposure=exposure, instrument="LSSTCam")
            flat = butler.get("flat", detector=detector, exposure=exposure, instrument="LSSTCam")
            assert 0 < defects.n_pixels < 0.01 * flat.getImage().getArray().size, (detector, defects)


@pytest.fixture(scope="module")
def reference_repo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with `REFERENCES` certified in LSSTCam/calib, built once (copy it)."""
    return script_runs.reference_template(request.config, tmp_path_factory.mktemp("references"), REFERENCES)


@pytest.mark.slow
async def test_daily_default_itl_and_e2v(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference_repo: Path
) -> None:
    # The procedure document's daily default on an ITL and an e2v sensor with small counts,
    # verified against LSSTCam/calib. References of 20 frames (the default): verification's NOISE
    # test allows 1.05 x the read noise, and a bias of N frames adds sqrt(1 + 1/N) (fewer than 11
    # frames fail it).
    script = await script_runs.run_daily_default(
        MakeLSSTCamCalibrations,
        tmp_path,
        monkeypatch,
        config=dict(detectors=ITL_AND_E2V, n_bias=3, n_dark=2, n_flat=4, n_processes=1),
        references=REFERENCES,
        observatory=dict(
            date=DATE, seed=7, detectors=ITL_AND_E2V, instrument="LSSTCam", ocps_max_processes=1
        ),
        template=reference_repo,
    )
    assert script.processor is not None
    assert "R01_S00" in script.processor.gain_table and "R22_S11" in script.processor.gain_table
