"""cpBias, cpDark and cpFlat run by ``pipetask`` on a simulated reduced-geometry data set.

The raws come from the sensor simulator, the repository from the package's
bootstrap and ingest; results are checked against the simulator's truth.
"""

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lsst.daf.butler import Butler

from fixtures.repositories import certify, pipetask, simulate_and_ingest
from fixtures.timeouts import BUILD_TIMEOUT
from lsst.ts.calibrations.cp.isr_algorithms import amp_value_image, median_variance
from lsst.ts.calibrations.repo.camera import REDUCED_GEOMETRY, Camera
from lsst.ts.calibrations.repo.ingest import ingest_raws
from lsst.ts.calibrations.repo.repository import RAW_RUN
from lsst.ts.calibrations.sim.make_calibration_set import make_calibration_set
from lsst.ts.calibrations.sim.sensor_model import SensorModel

# The module's repository is built by its first test (simulation, ingest, pipetask runs).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(BUILD_TIMEOUT)]

GEOMETRY = REDUCED_GEOMETRY
DETECTORS = (0, 4)
SEED = 5
N_BIAS = 5
N_DARK = 3
DARK_TIME = 300.0
FLAT_TIMES = (2.0, 4.0)
FILTER = "r_03"
CALIB = "u/test/calib"
VALIDITY = ("2024-10-01", "2024-11-01")


@dataclass
class Setup:
    repo: str
    raw_dir: Path
    model: SensorModel
    timings: dict[str, float] = field(default_factory=dict)


def run_ok(setup: Setup, name: str, output: str, inputs: list[str], where: str) -> None:
    start = time.perf_counter()
    result = pipetask(setup.repo, name, output, inputs, where)
    setup.timings[name] = time.perf_counter() - start
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("cp_run")
    repo, model = simulate_and_ingest(
        root,
        detectors=DETECTORS,
        seed=SEED,
        n_bias=N_BIAS,
        n_dark=N_DARK,
        dark_time=DARK_TIME,
        flat_times=FLAT_TIMES,
        physical_filter=FILTER,
    )
    setup = Setup(repo=str(repo), raw_dir=root / "raws", model=model)
    run_ok(setup, "cpBias", "u/test/bias", [RAW_RUN], "exposure.observation_type='bias'")
    certify(repo, "u/test/bias", CALIB, "bias", *VALIDITY)
    run_ok(setup, "cpDark", "u/test/dark", [RAW_RUN, CALIB], "exposure.observation_type='dark'")
    certify(repo, "u/test/dark", CALIB, "dark", *VALIDITY)
    run_ok(setup, "cpFlat", "u/test/flat", [RAW_RUN, CALIB], "exposure.observation_type='flat'")
    print("pipetask wall times (s):", {k: round(v, 1) for k, v in setup.timings.items()})
    yield setup


def get(setup: Setup, dataset_type: str, detector: int, **data_id: str) -> Any:
    butler = Butler.from_config(setup.repo, collections=["u/test/flat", "u/test/dark", "u/test/bias"])
    try:
        return butler.get(dataset_type, {"instrument": "LSSTComCam", "detector": detector, **data_id})
    finally:
        butler.close()


def gain_ratio(setup: Setup, detector: int) -> np.ndarray:
    """Nominal / true gain per pixel: what ISR's electrons are worth in true electrons."""
    info = Camera.instance()[detector]
    truth = setup.model.detector_truth(detector, GEOMETRY)
    return amp_value_image(
        info, GEOMETRY, {a.name: a.nominal_gain / truth.amps[a.name].gain for a in info.amps}
    )


@pytest.mark.parametrize("detector", DETECTORS)
def test_bias_removes_level_and_keeps_column_structure(setup: Setup, detector: int) -> None:
    info = Camera.instance()[detector]
    bias = get(setup, "bias", detector)
    truth = setup.model.detector_truth(detector, GEOMETRY)
    _, columns = setup.model.bias_structure(detector, GEOMETRY)
    nominal = amp_value_image(info, GEOMETRY, {a.name: a.nominal_gain for a in info.amps})
    expected = info.assemble(
        {a.name: np.tile(columns[i], (GEOMETRY.ny, 1)) for i, a in enumerate(info.amps)}, GEOMETRY
    )
    residual = bias.image.array - expected * nominal
    assert bias.metadata["BUNIT"] == "electron" and bias.metadata["OBSTYPE"] == "bias"
    assert [bias.metadata[f"CPP_INPUT_{i}"] for i in range(N_BIAS)] == [
        20241024_00000 + i for i in range(1, N_BIAS + 1)
    ]
    n_cols = GEOMETRY.serial_overscan - 6
    var_median = median_variance(n_cols)
    for amp in info.amps:
        noise = truth.amps[amp.name].read_noise
        area = residual[amp.detector_slice(GEOMETRY)]
        # The bias level (20 000 ADU) is gone: what is left is the noise of the combination of
        # N_BIAS frames, each with its data's and its per-row overscan median's noise.
        pixel_sigma = noise / np.sqrt(N_BIAS) * np.sqrt(1 + var_median)
        assert abs(area.mean()) < 5 * pixel_sigma / np.sqrt(GEOMETRY.ny)
        # The clipped mean of 5 values is a little noisier than their mean.
        assert pixel_sigma * 0.95 < area.std() < pixel_sigma * 1.25
        # No structure left: column means scatter as white noise would.
        assert area.mean(axis=0).std() < 1.3 * area.std() / np.sqrt(GEOMETRY.ny)


def test_isr_overscan_read_noise_matches_truth(setup: Setup) -> None:
    butler = Butler.from_config(setup.repo, collections="u/test/bias")
    try:
        ratios = []
        for ref in butler.query_datasets("cpBiasIsrExp"):
            exposure = butler.get(ref)
            detector = int(ref.dataId["detector"])
            truth = setup.model.detector_truth(detector, GEOMETRY)
            assert exposure.metadata["LSST ISR UNITS"] == "electron"
            assert exposure.metadata["EXPOSURE"] == ref.dataId["exposure"]
            for amp in Camera.instance()[detector].amps:
                measured = exposure.metadata[f"LSST ISR OVERSCAN RESIDUAL SERIAL STDEV {amp.name}"]
                ratios.append(measured / (truth.amps[amp.name].read_noise / truth.amps[amp.name].gain))
    finally:
        butler.close()
    ratios_array = np.array(ratios)
    assert len(ratios_array) == N_BIAS * len(DETECTORS) * 16
    # Each amplifier's overscan gives ~2560 pixels: a 1.4% statistical error on the stdev.
    n_pixels = GEOMETRY.ny * (GEOMETRY.serial_overscan - 6)
    sigma = 1 / np.sqrt(2 * n_pixels)
    assert np.abs(ratios_array - 1).max() < 5 * sigma
    assert abs(ratios_array.mean() - 1) < 4 * sigma / np.sqrt(len(ratios_array)) + 0.002


def test_dark_current_within_statistical_error(setup: Setup) -> None:
    pulls = []
    for detector in DETECTORS:
        info = Camera.instance()[detector]
        dark = get(setup, "dark", detector)
        assert dark.metadata["BUNIT"] == "electron/s"
        truth_model = setup.model.detector_truth(detector, GEOMETRY)
        truth = setup.model.dark_current(detector, GEOMETRY) * gain_ratio(setup, detector)
        hot = setup.model.dark_current(detector, GEOMETRY) > 1.0
        # Hot pixels keep their current.
        assert np.median(dark.image.array[hot] / truth[hot]) == pytest.approx(1.0, rel=0.02)
        for amp in info.amps:
            area = amp.detector_slice(GEOMETRY)
            good = ~hot[area]
            measured = dark.image.array[area][good].mean()
            expected = truth[area][good].mean()
            noise = truth_model.amps[amp.name].read_noise
            # Error of an amplifier's mean dark (e-/s): pixel noise plus the per-row overscan
            # median's noise (shared by a row), for the darks and for the bias subtracted from them.
            n_cols = GEOMETRY.serial_overscan - 6
            row_sigma = noise * np.sqrt(median_variance(n_cols) + 1 / n_cols)
            per_frame = np.sqrt(noise**2 / good.sum() + row_sigma**2 / GEOMETRY.ny)
            sigma = per_frame * np.sqrt(1 / N_DARK + 1 / N_BIAS) / DARK_TIME
            pulls.append((measured - expected) / sigma)
    pulls_array = np.array(pulls)
    assert np.abs(pulls_array).max() < 4.0
    assert abs(pulls_array.mean()) < 4.0 / np.sqrt(len(pulls))
    assert 0.5 < pulls_array.std() < 1.6


def test_flat_keeps_relative_detector_levels(setup: Setup) -> None:
    ratios = {}
    means = []
    for detector in DETECTORS:
        info = Camera.instance()[detector]
        flat = get(setup, "flat", detector, physical_filter=FILTER)
        assert flat.metadata["OBSTYPE"] == "flat" and flat.metadata["FILTER"] == FILTER
        expected = setup.model.flat_response(detector, GEOMETRY) * gain_ratio(setup, detector)
        quotient = flat.image.array / expected
        for amp in info.amps:
            ratios[detector, amp.name] = np.median(quotient[amp.detector_slice(GEOMETRY)])
        means.append(flat.image.array.mean())
    values = np.array(list(ratios.values()))
    # One common factor for every amplifier of every detector: relative levels kept.
    assert values.std() / values.mean() < 1e-3
    assert np.mean(means) == pytest.approx(1.0, abs=0.01)
    scales = get(setup, "cpFlatNormalizeScales", DETECTORS[0], physical_filter=FILTER)
    assert set(scales["detScale"]) == {str(d) for d in DETECTORS}
    assert len(scales["expScale"]) == 2 * len(FLAT_TIMES)


def test_missing_prerequisite_calibration(setup: Setup) -> None:
    result = pipetask(setup.repo, "cpFlat", "u/test/nodark", [RAW_RUN], "exposure.observation_type='flat'")
    assert result.returncode != 0
    assert "isr.bias (bias)" in result.stderr or "isr.dark (dark)" in result.stderr
    butler = Butler.from_config(setup.repo)
    try:
        assert not list(butler.registry.queryCollections("u/test/nodark*"))
    finally:
        butler.close()


def test_empty_query(setup: Setup) -> None:
    result = pipetask(setup.repo, "cpBias", "u/test/empty", [RAW_RUN], "exposure.observation_type='science'")
    assert result.returncode != 0
    assert "QuantumGraph was empty" in result.stderr
    butler = Butler.from_config(setup.repo)
    try:
        assert not list(butler.registry.queryCollections("u/test/empty*"))
    finally:
        butler.close()


def test_corrupt_raw(setup: Setup, tmp_path: Path) -> None:
    # Two more biases of one detector, one of them corrupted after ingest.
    model = SensorModel.from_yaml(None, seed=SEED + 1)
    make_calibration_set(
        tmp_path,
        model=model,
        geometry_name=GEOMETRY.name,
        detectors=[0],
        n_bias=2,
        n_dark=0,
        flat_times=(),
        start_seq=900,
    )
    files = sorted(tmp_path.glob("*.fits"))
    butler = Butler.from_config(setup.repo, writeable=True, run=RAW_RUN)
    try:
        ingest_raws(butler, files)
    finally:
        butler.close()
    with open(files[1], "r+b") as stream:
        stream.truncate(20_000)
    result = pipetask(
        setup.repo, "cpBias", "u/test/corrupt", [RAW_RUN], "exposure IN (2024102400900, 2024102400901)"
    )
    assert result.returncode != 0
    assert files[1].name in result.stderr
    butler = Butler.from_config(setup.repo, collections="u/test/corrupt")
    try:
        # The good exposure was processed; no bias was combined from a partial set.
        assert len(list(butler.registry.queryDatasets("cpBiasIsrExp", collections="u/test/corrupt"))) == 1
        assert not list(butler.registry.queryDatasets("bias", collections="u/test/corrupt"))
    finally:
        butler.close()
    shutil.rmtree(tmp_path, ignore_errors=True)
