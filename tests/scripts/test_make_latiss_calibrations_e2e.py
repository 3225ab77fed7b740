"""MakeLatissCalibrations end to end against the simulated LATISS observatory.

The two generations share the module's observatory (one OCPS quantum
worker: the runs use one process), each certifying into a calibration
collection of its own; the daily default starts its own on a copy of
reference calibrations built once (`script_runs.reference_template`, kept
in pytest's cache). The flat generation's run builds its report (the test
reads it); the other runs' reports are requested, not built
(``run_reports``).
"""

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsst.daf.butler import Butler

from fixtures import script_runs
from lsst.ts.calibrations.sal import ScriptState
from lsst.ts.calibrations.scripts import MakeLatissCalibrations
from lsst.ts.calibrations.sim.observatory import SimulatedObservatory

DATE = "2022-11-04"
EXECUTABLE = (
    Path(__file__).parents[2] / "python/lsst/ts/calibrations/data/scripts/auxtel/make_latiss_calibrations.py"
)
MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")
"""The event loop of the module's observatory (and of its in-process bus)."""
REFERENCES: dict[str, Any] = dict(
    seed=5, day_obs=20221102, physical_filter="SDSSr_65mm~empty", instrument="LATISS"
)
"""The daily default's references (`ReferenceCalibrations`' counts: 20 biases, 20 darks, 4 flats)."""
_collections = itertools.count(1)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def observatory(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SimulatedObservatory]:
    """The generations' observatory; its clock starts at 18:00 UTC on DATE."""
    repo = tmp_path_factory.mktemp("latiss_e2e") / "repo"
    async with SimulatedObservatory(
        repo,
        time_scale=0.01,
        heartbeat_interval=1.0,
        date=DATE,
        seed=5,
        instrument="LATISS",
        ocps_max_processes=1,
    ) as obs:
        yield obs


@pytest.fixture
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
        n_processes=1,
        oods_timeout=30,
        calib_collection=f"LATISS/calib/daily/calib.2022NOV04.{next(_collections)}",
        certify_calib_begin_date="2022-11-04",
        certify_calib_end_date="2022-11-11",
    )
    config.update(overrides)
    return config


@pytest.mark.slow
@MODULE_LOOP
@pytest.mark.usefixtures("records")
async def test_flat_generation_with_filter_and_grating(observatory: SimulatedObservatory) -> None:
    config = base_config(
        observatory.repo,
        script_mode="BIAS_DARK_FLAT",
        n_bias=2,
        n_discard_bias=0,
        n_dark=2,
        n_discard_dark=0,
        exp_times_dark=1.0,
        n_flat=2,
        n_discard_flat=0,
        exp_times_flat=1.0,
        filter="SDSSr_65mm",
        grating=1,
        generate_calibrations=True,
        do_verify=False,
        do_gain_from_flat_pairs=False,
    )
    script = await script_runs.run_script(MakeLatissCalibrations, config)
    assert script.state.state == ScriptState.DONE, script.state.reason
    assert script.plan is not None and script.plan.detectors == (0,)
    assert observatory.spectrograph is not None
    assert observatory.spectrograph.physical_filter == "SDSSr_65mm~holo4_003"
    assert script.processor is not None
    for image_type in ("BIAS", "DARK", "FLAT"):
        assert script.processor.outcomes[image_type].status.value == "certified", image_type
    # The run's report is LATISS's, with its one detector.
    assert script.run_record_path is not None
    report = Path(script.run_record_path).with_suffix("") / "report.html"
    text = report.read_text()
    assert "LATISS calibration run report" in text and "RXX_S00" in text
    butler = Butler(str(observatory.repo), collections=[config["calib_collection"]])  # type: ignore[abstract]
    try:
        flat = butler.get("flat", detector=0, exposure=script.kept["FLAT"][0], instrument="LATISS")
        assert flat.getImage().getArray().shape == (512, 1024)
        (record,) = butler.query_dimension_records(
            "exposure", instrument="LATISS", where=f"exposure = {script.kept['FLAT'][0]}"
        )
        assert record.physical_filter == "SDSSr_65mm~holo4_003"
    finally:
        butler.close()


def test_schema_of_the_executable() -> None:
    schema = script_runs.executable_schema(EXECUTABLE)
    assert schema["title"] == "MakeLatissCalibrations v1"
    properties = schema["properties"]
    assert properties["calib_collection"]["default"] == "LATISS/calib/daily"
    assert properties["input_collections_bias"]["default"] == "LATISS/calib"
    assert properties["repo"]["default"] == "/repo/LATISS"
    assert properties["detectors"]["items"] == {"type": "integer", "minimum": 0, "maximum": 0}
    assert "grating" in properties


@pytest.fixture(scope="module")
def reference_repo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with `REFERENCES` certified in LATISS/calib, built once (copy it)."""
    return script_runs.reference_template(request.config, tmp_path_factory.mktemp("references"), REFERENCES)


@pytest.mark.slow
@pytest.mark.usefixtures("run_reports")
async def test_daily_default_against_reference_calibrations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference_repo: Path
) -> None:
    # The procedure document's daily default with small counts, verified against LATISS/calib.
    script = await script_runs.run_daily_default(
        MakeLatissCalibrations,
        tmp_path,
        monkeypatch,
        config=dict(n_bias=3, n_dark=2, n_flat=4, n_processes=1),
        references=REFERENCES,
        observatory=dict(
            date=DATE, seed=5, instrument="LATISS", initial_filter="SDSSr_65mm", ocps_max_processes=1
        ),
        template=reference_repo,
    )
    assert script.processor is not None
    assert "RXX_S00" in script.processor.gain_table


@pytest.mark.slow
@MODULE_LOOP
@pytest.mark.usefixtures("run_reports", "records")
async def test_generation_with_ptc_and_defects(observatory: SimulatedObservatory) -> None:
    # The procedure document's PTC-and-defects example for LATISS (detector 0): everything generated
    # and certified, 4 flat pairs at 3 exposure times for the PTC, defects from the darks and flats.
    # The grating is named: the module's observatory may hold the one another test put in.
    config = base_config(
        observatory.repo,
        script_mode="BIAS_DARK_FLAT",
        n_bias=3,
        n_discard_bias=0,
        n_dark=3,
        n_discard_dark=0,
        exp_times_dark=5.0,
        n_flat=8,
        n_discard_flat=0,
        exp_times_flat=[1, 1, 2, 2, 4, 4, 4, 4],
        filter="SDSSr_65mm",
        grating="empty",
        generate_calibrations=True,
        do_defects=True,
        do_ptc=True,
    )
    script = await script_runs.run_script(MakeLatissCalibrations, config)
    assert script.state.state == ScriptState.DONE, script.state.reason
    assert script_runs.statuses(script) == dict.fromkeys(
        ("BIAS", "DARK", "FLAT", "DEFECTS", "PTC"), "certified"
    )
    # The gains of the 4 pairs, read from the PTC job's extracts.
    assert script.processor is not None and "RXX_S00" in script.processor.gain_table
    with Butler(str(observatory.repo), collections=[config["calib_collection"]]) as butler:  # type: ignore[abstract]
        exposure = script.kept["BIAS"][0]
        ptc = butler.get("ptc", detector=0, exposure=exposure, instrument="LATISS")
        defects = butler.get("defects", detector=0, exposure=exposure, instrument="LATISS")
    # LATISS's ITL sensor: 16 amplifiers, gains near the simulator's nominal ones.
    assert len(ptc.gain) == 16 and all(0.5 < g < 3.0 for g in ptc.gain.values())
    # Hot and cold pixels, not noise: 5 s darks (the document's default) keep the 3 e-/s hot-pixel
    # threshold well above a combined dark's read noise (with 2 s darks, 16 % of the pixels pass it).
    assert 0 < defects.n_pixels < 0.01 * 512 * 1024
