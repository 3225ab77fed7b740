"""IsrTask and its array algorithms against analytic cases."""

import numpy as np
import pytest
from isr_data import make_raw

from lsst.ts.calibrations.cp.isr import IsrTask, IsrTaskConfig
from lsst.ts.calibrations.cp.isr_algorithms import (
    amp_value_image,
    median_variance,
    overscan_levels,
    variance_plane,
)
from lsst.ts.calibrations.repo.camera import REDUCED_GEOMETRY, Camera
from lsst.ts.calibrations.repo.images import MASK_PLANES, Exposure

GEOMETRY = REDUCED_GEOMETRY
SHAPE = GEOMETRY.detector_shape


def make_task(**overrides: object) -> IsrTask:
    config = IsrTaskConfig()
    config.doBias = config.doDark = config.doFlat = config.doDefect = False
    for key, value in overrides.items():
        setattr(config, key, value)
    config.validate()
    return IsrTask(config=config)


def test_overscan_levels_follow_rows_and_reject_outliers() -> None:
    rng = np.random.default_rng(3)
    rows = 40.0 * np.sin(np.arange(500) / 9.0)
    overscan = 1000.0 + rows[:, np.newaxis] + rng.normal(0.0, 5.0, (500, 64))
    # The first three columns carry a charge-transfer trail; a hot pixel lies in row 10.
    overscan[:, :3] += 500.0
    overscan[10, 30] += 10_000.0
    result = overscan_levels(overscan)
    assert result.n_rejected >= 1
    # Per-row median of 58 values: σ·√(π/2/58) ≈ 0.82 ADU.
    assert np.std(result.levels - 1000.0 - rows) < 1.0
    assert abs(result.median - np.median(1000.0 + rows)) < 1.0
    assert result.residual_stdev == pytest.approx(5.0, rel=0.02)
    # Per column along axis 0.
    columns = overscan_levels(overscan.T, axis=0)
    np.testing.assert_allclose(columns.levels, result.levels)
    with pytest.raises(ValueError, match="at least 2 are needed"):
        overscan_levels(overscan[:, :7])


def test_median_residual_factor_matches_simulation() -> None:
    rng = np.random.default_rng(4)
    for n in (10, 58):
        x = rng.standard_normal((50_000, n))
        measured = (x - np.median(x, axis=1)[:, np.newaxis]).var()
        assert 1 - 2 / n + median_variance(n) == pytest.approx(measured, rel=0.01)


def test_variance_formula() -> None:
    image = np.array([[100.0, -5.0], [0.0, 2500.0]])
    # Electrons: gain 1, read noise 6 e-.
    np.testing.assert_allclose(variance_plane(image, 1.0, 6.0), [[136.0, 36.0], [36.0, 2536.0]])
    # ADU with gain 1.25 e-/ADU: image/g + (rn/g)^2.
    np.testing.assert_allclose(variance_plane(image, 1.25, 5.0), image.clip(0) / 1.25 + 16.0)


def test_isr_removes_row_structure_and_assembles() -> None:
    rng = np.random.default_rng(5)
    signal = rng.uniform(1000.0, 2000.0, SHAPE)
    raw, _ = make_raw(signal, row_amplitude=30.0, read_noise_adu=0.0)
    before = {name: data.copy() for name, data in raw.amp_data.items()}
    result = make_task().run(ccdExposure=raw).outputExposure
    for name, data in raw.amp_data.items():
        np.testing.assert_array_equal(data, before[name])  # input untouched
    assert result.shape == SHAPE
    # Without read noise, only the rounding to integer ADU of pixels and overscan
    # (±0.5 ADU each) remains of the 30 ADU row structure.
    residual = result.image.array - signal
    assert np.abs(residual).max() < 1.0 * 1.45
    assert abs(residual.mean()) < 0.05 and residual.std() < 0.6  # sqrt(2/12) ADU × gain
    metadata = result.metadata
    detector = Camera.instance()[0]
    for i, amp in enumerate(detector.amps):
        assert metadata[f"LSST ISR GAIN {amp.name}"] == amp.nominal_gain
        assert metadata[f"LSST ISR READNOISE {amp.name}"] == amp.nominal_read_noise
        assert abs(metadata[f"LSST ISR OVERSCAN SERIAL MEDIAN {amp.name}"] - 20_000 - 10 * i) < 40
        assert f"LSST ISR OVERSCAN RESIDUAL SERIAL STDEV {amp.name}" in metadata
    assert metadata["EXPOSURE"] == 2024102400001
    assert metadata["DETECTOR"] == 0 and metadata["IMGTYPE"] == "FLAT" and metadata["FILTER"] == "r_03"
    assert metadata["LSST ISR UNITS"] == "electron"


def test_isr_read_noise_and_variance_in_both_units() -> None:
    signal = np.full(SHAPE, 5000.0)
    raw, _ = make_raw(signal, row_amplitude=20.0, read_noise_adu=4.0, seed=6)
    electrons = make_task().run(ccdExposure=raw).outputExposure
    detector = Camera.instance()[0]
    for amp in detector.amps:
        assert electrons.metadata[f"LSST ISR OVERSCAN RESIDUAL SERIAL STDEV {amp.name}"] == pytest.approx(
            4.0, rel=0.05
        )
    gain = amp_value_image(detector, GEOMETRY, {a.name: a.nominal_gain for a in detector.amps})
    noise = amp_value_image(detector, GEOMETRY, {a.name: a.nominal_read_noise for a in detector.amps})
    np.testing.assert_allclose(
        electrons.variance.array, np.maximum(electrons.image.array, 0) + noise**2, rtol=1e-5
    )
    adu = make_task(doApplyGains=False).run(ccdExposure=raw).outputExposure
    assert adu.metadata["LSST ISR UNITS"] == "adu"
    np.testing.assert_allclose(adu.image.array * gain, electrons.image.array, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(
        adu.variance.array, np.maximum(adu.image.array, 0) / gain + (noise / gain) ** 2, rtol=1e-5
    )


def test_isr_applies_bias_dark_flat_defects_and_saturation() -> None:
    rng = np.random.default_rng(7)
    bias_e = rng.normal(0.0, 3.0, SHAPE)
    dark_rate = np.full(SHAPE, 0.5)
    flat = rng.uniform(0.8, 1.2, SHAPE)
    sky = 3000.0
    dark_time = 40.0
    signal = bias_e + dark_rate * dark_time + sky * flat
    signal[5, 5] = 200_000.0  # saturates
    raw, _ = make_raw(signal, exptime=30.0, darktime=dark_time, seed=8)

    class Boxes:
        def to_mask(self, shape: tuple[int, int]) -> np.ndarray:
            mask = np.zeros(shape, dtype=bool)
            mask[:, 17] = True
            return mask

    task = make_task(doBias=True, doDark=True, doFlat=True, doDefect=True, saturation=100_000.0)
    result = task.run(
        ccdExposure=raw,
        bias=Exposure(bias_e),
        dark=Exposure(dark_rate),
        flat=Exposure(flat),
        defects=Boxes(),
    ).outputExposure
    good = np.ones(SHAPE, dtype=bool)
    good[5, 5] = False
    # Rounding to integer ADU, divided by the flat: < 1.2 e- per pixel.
    assert np.abs(result.image.array[good] - sky).max() < 1.2
    assert result.mask.array[5, 5] & MASK_PLANES["SAT"]
    assert np.all(result.mask.array[:, 17] & MASK_PLANES["BAD"])
    assert not np.any(result.mask.array[:, 18] & MASK_PLANES["BAD"])
    with pytest.raises(ValueError, match="no 'dark' was given"):
        task.run(ccdExposure=raw, bias=Exposure(bias_e), flat=Exposure(flat), defects=Boxes())
    with pytest.raises(ValueError, match="the bias has shape"):
        task.run(
            ccdExposure=raw,
            bias=Exposure(bias_e[:10]),
            dark=Exposure(dark_rate),
            flat=Exposure(flat),
            defects=Boxes(),
        )


def test_isr_connections_follow_switches() -> None:
    config = IsrTaskConfig()
    config.doDefect = False
    config.doFlat = False
    connections = config.connections.ConnectionsClass(config=config)
    assert set(connections.prerequisiteInputs) == {"bias", "dark"}
    config.doBias = False
    with pytest.raises(ValueError, match="doDark and doFlat need doBias"):
        config.validate()


def test_overscan_residual_stdev_is_unbiased() -> None:
    """Many rows of Gaussian noise: the residual stdev recovers σ to well within its 0.05 % error."""
    rng = np.random.default_rng(31)
    overscan = 1000.0 + 5.0 * rng.standard_normal((20_000, 64))
    result = overscan_levels(overscan)
    # 20 000 × 57 degrees of freedom: relative error 1/sqrt(2 × 1.14e6) = 0.066 %
    assert result.residual_stdev == pytest.approx(5.0, rel=0.002)
    assert result.n_rejected > 0


def test_overscan_residual_stdev_of_integer_pixels() -> None:
    """Raw ADU are integers: the estimate is the noise the integers hold, sqrt(σ² + 1/12)."""
    rng = np.random.default_rng(32)
    sigma = 3.8
    overscan = np.rint(1000.3 + sigma * rng.standard_normal((20_000, 64)))
    result = overscan_levels(overscan)
    assert result.residual_stdev == pytest.approx(np.sqrt(sigma**2 + 1 / 12), rel=0.002)
