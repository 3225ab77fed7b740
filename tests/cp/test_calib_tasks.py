"""Calibration combination, cosmic-ray masking and flat normalization against analytic cases."""

from typing import Any

import numpy as np
import pytest
from lsst.pipe.base import InMemoryDatasetHandle

from lsst.ts.calibrations.cp.calib_algorithms import (
    cosmic_ray_mask,
    solve_flat_normalization,
)
from lsst.ts.calibrations.cp.clipped_mean import clipped_mean
from lsst.ts.calibrations.cp.cp_combine import CalibCombineConfig, CalibCombineTask
from lsst.ts.calibrations.cp.cp_combine_by_filter import CalibCombineByFilterTask
from lsst.ts.calibrations.cp.cp_dark import CpDarkTask
from lsst.ts.calibrations.cp.cp_flat_measure import CpFlatMeasureTask
from lsst.ts.calibrations.cp.cp_flat_normalize import CpFlatNormalizeTask
from lsst.ts.calibrations.repo.images import MASK_PLANES, Exposure

SHAPE = (64, 96)


def exposure(image: np.ndarray, exposure_id: int, detector: int = 0, **metadata: Any) -> Exposure:
    md = {"DETECTOR": detector, "EXPOSURE": exposure_id, "EXPTIME": 1.0, "LSST ISR UNITS": "electron"}
    md.update(metadata)
    return Exposure(image, metadata=md)


def handles(exposures: list[Exposure]) -> list[InMemoryDatasetHandle]:
    return [InMemoryDatasetHandle(e, storageClass="ComCamExposure", copy=False) for e in exposures]


def test_dark_combination_scales_by_dark_time_and_rejects_cosmic_rays() -> None:
    rng = np.random.default_rng(11)
    rate = rng.uniform(0.002, 0.01, SHAPE)
    rate[10, 10] = 5.0  # a hot pixel
    dark_times = [30.0, 60.0, 90.0, 30.0, 60.0, 90.0, 30.0]
    read_noise = 2.0
    inputs = []
    for i, t in enumerate(dark_times):
        image = rng.poisson(rate * t).astype(np.float64) + rng.normal(0.0, read_noise, SHAPE)
        image[20 + i, 30 : 33 + i] += 2000.0  # a cosmic-ray track
        processed = CpDarkTask().run(inputExp=exposure(image, 100 + i, DARKTIME=t)).outputExp
        assert processed.mask.array[20 + i, 31] & MASK_PLANES["CR"]
        inputs.append(processed)
    config = CalibCombineConfig()
    config.calibrationType = "dark"
    config.exposureScaling = "DarkTime"
    dark = CalibCombineTask(config=config).run(inputExpHandles=handles(inputs)).outputData
    # Per pixel, the error of the combined rate is about sqrt(mean(var_i / t_i^2) / n).
    expected_error = np.sqrt(np.mean([(rate * t + read_noise**2) / t**2 for t in dark_times], axis=0) / 7)
    pull = (dark.image.array - rate) / expected_error
    assert abs(np.delete(pull.ravel(), 10 * SHAPE[1] + 10).mean()) < 0.05
    assert 0.85 < pull.std() < 1.1
    # The hot pixel is flagged as a cosmic ray in every dark yet keeps its rate.
    assert dark.image.array[10, 10] == pytest.approx(5.0, rel=0.05)
    assert dark.mask.array[10, 10] & MASK_PLANES["SUSPECT"]
    assert dark.metadata["BUNIT"] == "electron/s"
    assert dark.metadata["OBSTYPE"] == "dark"
    assert [dark.metadata[f"CPP_INPUT_{i}"] for i in range(7)] == list(range(100, 107))
    assert dark.metadata["CPP_INPUT_SCALE_2"] == 90.0
    assert dark.metadata["DET_NAME"] == "R22_S00" and "CALIB_CREATION_DATE" in dark.metadata
    # Inputs are not modified.
    assert inputs[0].metadata["EXPOSURE"] == 100 and inputs[0].image.array[20, 31] > 1000


def test_bias_combination_and_bad_inputs() -> None:
    rng = np.random.default_rng(12)
    structure = rng.normal(0.0, 5.0, SHAPE)
    inputs = [exposure(structure + rng.normal(0.0, 8.0, SHAPE), i) for i in range(10)]
    bias = CalibCombineTask().run(inputExpHandles=handles(inputs)).outputData
    residual = bias.image.array - structure
    assert abs(residual.mean()) < 0.1
    # Clipped mean of 10: noise a little above 8/sqrt(10).
    assert residual.std() == pytest.approx(8.0 / np.sqrt(10), rel=0.1)
    np.testing.assert_allclose(np.sqrt(bias.variance.array.mean()), 8.0 / np.sqrt(10), rtol=0.1)
    with pytest.raises(ValueError, match="no input exposures"):
        CalibCombineTask().run(inputExpHandles=[])
    adu = exposure(structure, 99)
    adu.metadata["LSST ISR UNITS"] = "adu"
    mixed = inputs[:2] + [adu]
    with pytest.raises(ValueError, match="mix units"):
        CalibCombineTask().run(inputExpHandles=handles(mixed))
    with pytest.raises(ValueError, match="unknown planes"):
        config = CalibCombineConfig()
        config.mask = ["GLITTER"]
        config.validate()


def test_cosmic_ray_mask_on_flat_noise() -> None:
    rng = np.random.default_rng(13)
    image = rng.normal(0.0, 8.0, (400, 400))
    assert cosmic_ray_mask(image, nsigma=6.0).sum() == 0
    image[100, 100] = 500.0
    mask = cosmic_ray_mask(image, nsigma=6.0, grow=1)
    assert mask.sum() == 9 and mask[99:102, 99:102].all()


def test_flat_normalization_recovers_detector_gains_and_exposure_levels() -> None:
    rng = np.random.default_rng(14)
    g = rng.uniform(0.8, 1.2, 9)
    g /= g.mean()
    e = np.array([10_000.0, 20_000.0, 15_000.0, 30_000.0])
    b = g[:, np.newaxis] * e[np.newaxis, :]
    solution = solve_flat_normalization(b)
    np.testing.assert_allclose(solution.detector_scales, g, rtol=1e-9)
    np.testing.assert_allclose(solution.exposure_scales, e, rtol=1e-9)
    assert solution.residual_rms < 1e-9
    # A detector missing from one exposure, and 0.1% noise on the levels.
    noisy = b * (1 + rng.normal(0.0, 1e-3, b.shape))
    noisy[3, 1] = np.nan
    solution = solve_flat_normalization(noisy)
    np.testing.assert_allclose(solution.detector_scales, g, rtol=3e-3)
    np.testing.assert_allclose(solution.exposure_scales, e, rtol=3e-3)
    with pytest.raises(ValueError, match="must be positive"):
        solve_flat_normalization(-b)
    with pytest.raises(ValueError, match="at least one measured"):
        solve_flat_normalization(np.full((2, 2), np.nan))


def test_flat_tasks_keep_relative_detector_levels() -> None:
    rng = np.random.default_rng(15)
    g = {0: 0.9, 4: 1.1}
    response = {d: rng.uniform(0.95, 1.05, SHAPE) for d in g}
    e = {1000 + i: level for i, level in enumerate([12_000.0, 18_000.0, 25_000.0])}
    flats = {
        (d, x): exposure(g[d] * response[d] * level, x, detector=d, FILTER="r_03")
        for d in g
        for x, level in e.items()
    }
    stats = [CpFlatMeasureTask().run(inputExp=f).outputStats for f in flats.values()]
    assert stats[0]["MEAN"] == pytest.approx(0.9 * 12_000.0, rel=0.01)
    assert set(stats[0]["AMP"]) == {f"C{y}{x}" for y in (0, 1) for x in range(8)}
    scales = CpFlatNormalizeTask().run(inputStats=stats).outputScales
    assert set(scales["expScale"]) == {str(x) for x in e}
    combined = {
        d: CalibCombineByFilterTask()
        .run(inputExpHandles=handles([flats[d, x] for x in e]), inputScales=scales)
        .outputData
        for d in g
    }
    means = {d: combined[d].image.array.mean() for d in g}
    assert (means[0] + means[4]) / 2 == pytest.approx(1.0, rel=0.005)
    assert means[4] / means[0] == pytest.approx(1.1 / 0.9, rel=0.005)
    np.testing.assert_allclose(
        combined[4].image.array / means[4], response[4] / response[4].mean(), rtol=1e-4
    )
    assert combined[0].metadata["OBSTYPE"] == "flat" and combined[0].metadata["FILTER"] == "r_03"
    with pytest.raises(ValueError, match="no entry for exposure"):
        CalibCombineByFilterTask().run(
            inputExpHandles=handles([exposure(response[0], 5)]), inputScales=scales
        )


def test_combined_variance_propagated_from_the_inputs() -> None:
    """With few inputs the scatter underestimates the variance; the inputs' variance planes do not."""
    rng = np.random.default_rng(15)
    sigma = 8.0
    inputs = []
    for i in range(5):
        image = rng.normal(100.0, sigma, SHAPE)
        variance = np.full(SHAPE, sigma**2, dtype=np.float32)
        if i == 2:
            image[5, 5] += 5000.0  # a cosmic ray: its own variance is large too
            variance[5, 5] += 5000.0
        inputs.append(Exposure(image, variance=variance, metadata=exposure(image, i).metadata))
    propagated = CalibCombineTask().run(inputExpHandles=handles(inputs)).outputData
    # variance sigma^2 / the number of values kept, the ray's input left out
    n_used = clipped_mean(np.stack([e.image.array for e in inputs])).n_used
    np.testing.assert_allclose(propagated.variance.array, sigma**2 / n_used, rtol=1e-5)
    assert propagated.variance.array[5, 5] == pytest.approx(sigma**2 / 4, rel=1e-5)
    config = CalibCombineConfig()
    config.calcErrorFromInputVariance = False
    scatter = CalibCombineTask(config=config).run(inputExpHandles=handles(inputs)).outputData
    np.testing.assert_array_equal(scatter.image.array, propagated.image.array)
    # the clipped scatter of 5 values: low on average, and noisy pixel to pixel
    assert scatter.variance.array.mean() < 0.9 * sigma**2 / 5
    assert scatter.variance.array.std() > 0.3 * sigma**2 / 5
