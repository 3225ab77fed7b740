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

"""Pure PTC functions: flat pairing, gain from a flat pair, covariances, EXPAPPROXIMATION fit."""

import math

import numpy as np
import pytest

from lsst.ts.calibrations.cp.clipped_statistics import clipped_statistics, clipped_stdev_bias
from lsst.ts.calibrations.cp.flat_pairing import pair_flats
from lsst.ts.calibrations.cp.pair_statistics import gain_from_flat_pair, measure_pair, pair_covariances
from lsst.ts.calibrations.cp.ptc_fit import exp_approximation, fit_exp_approximation


def make_pair(
    rng: np.random.Generator, signal_e: float, gain: float, read_noise_adu: float, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Two flats in ADU: Poisson electrons / gain + Gaussian read noise."""
    images = []
    for _ in range(2):
        electrons = rng.poisson(signal_e, size=shape).astype(np.float64)
        images.append(electrons / gain + rng.normal(0.0, read_noise_adu, size=shape))
    return images[0], images[1]


def test_pairing_consecutive_equal_times() -> None:
    flats = [(105, 2.0), (101, 1.0), (102, 1.004), (103, 2.0), (104, 2.0), (106, 3.0), (107, 3.1)]
    pairing = pair_flats(flats)
    assert pairing.pairs == ((101, 102), (103, 104))
    assert pairing.unpaired == (105, 106, 107)
    assert pairing.pair_of(104) == (103, 104)
    assert pairing.pair_of(105) is None


def test_pairing_tolerance_is_5_ms() -> None:
    assert pair_flats([(1, 1.0), (2, 1.005)]).pairs == ((1, 2),)
    assert pair_flats([(1, 1.0), (2, 1.0051)]).pairs == ()
    assert pair_flats([(1, 1.0), (2, 1.0051)]).unpaired == (1, 2)


def test_pairing_bad_input() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        pair_flats([(1, 1.0), (1, 1.0)])
    with pytest.raises(ValueError, match="exposure time"):
        pair_flats([(1, -1.0)])


def test_clipped_statistics_rejects_outliers() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(100.0, 5.0, 100_000)
    values[:100] = 1e6
    stats = clipped_statistics(values)
    assert stats.mean == pytest.approx(100.0, abs=0.05)
    assert stats.stdev / 5.0 == pytest.approx(clipped_stdev_bias(), abs=0.01)
    assert not stats.keep[:100].any()


@pytest.mark.parametrize("gain, signal_e, read_noise_e", [(1.3, 20_000.0, 8.0), (1.7, 5_000.0, 6.0)])
def test_gain_from_poisson_pair(gain: float, signal_e: float, read_noise_e: float) -> None:
    rng = np.random.default_rng(42)
    read_noise_adu = read_noise_e / gain
    i1, i2 = make_pair(rng, signal_e, gain, read_noise_adu, (256, 512))
    stats = measure_pair(i1, i2, np.ones(i1.shape, bool), read_noise_adu, read_noise_adu, max_lag=4)
    assert stats.mean == pytest.approx(signal_e / gain, rel=1e-3)
    assert abs(stats.gain - gain) < 3 * stats.gain_err
    # Expected statistical error ≈ g √(2/N).
    assert stats.gain_err == pytest.approx(gain * math.sqrt(2 / i1.size), rel=0.2)
    # Noise (e⁻) = σ_r (ADU) × the pair's gain.
    assert stats.noise == pytest.approx(read_noise_adu * stats.gain, rel=1e-12)
    # Variance of one flat: μ/g + σ_r² (ADU²).
    expected_var = signal_e / gain**2 + read_noise_adu**2
    assert stats.variance == pytest.approx(expected_var, rel=0.02)
    assert stats.covariances[0, 0] == pytest.approx(expected_var, rel=0.02)
    # Uncorrelated pixels: covariances at non-zero lags are ~0.
    off = stats.covariances.copy()
    off[0, 0] = 0.0
    assert np.abs(off).max() < 0.03 * expected_var


def test_gain_formula_limits() -> None:
    # Without read noise, and C = 1/g exactly, the FULL formula gives ≈ g.
    mu, g = 15_000.0, 1.4
    assert gain_from_flat_pair(mu, 1.0 / g, 0.0) == pytest.approx(g, rel=1e-4)
    assert math.isnan(gain_from_flat_pair(10.0, 0.01, 100.0))


def test_covariances_find_correlation() -> None:
    rng = np.random.default_rng(3)
    white = rng.normal(0.0, 1.0, (200, 300))
    # x-correlated field: f = w + 0.5 w(x-1) → cov(dx=1) = 0.5, var = 1.25.
    field = white.copy()
    field[:, 1:] += 0.5 * white[:, :-1]
    good = np.ones(field.shape, bool)
    good[50:60, 100:120] = False
    cov = pair_covariances(field, good, 3)
    assert cov[0, 0] == pytest.approx(1.25, rel=0.02)
    assert cov[0, 1] == pytest.approx(0.5, abs=0.02)
    assert abs(cov[1, 0]) < 0.02 and abs(cov[1, 1]) < 0.02
    with pytest.raises(ValueError, match="max_lag"):
        pair_covariances(field, good, 500)


def test_exp_approximation_linear_limit() -> None:
    mu = np.array([0.0, 100.0, 1e4])
    np.testing.assert_allclose(exp_approximation(mu, 0.0, 1.5, 25.0), mu / 1.5 + 25.0 / 1.5**2)


def test_ptc_fit_recovers_parameters() -> None:
    rng = np.random.default_rng(7)
    gain, a00, n00 = 1.35, -2.5e-6, 64.0
    means = np.geomspace(200.0, 70_000.0, 40)
    model = exp_approximation(means, a00, gain, n00)
    variances = model * (1 + rng.normal(0.0, 0.003, means.size))
    # Two outliers and a saturated rollover beyond the turnoff.
    variances[10] *= 1.3
    variances[20] *= 0.8
    means = np.append(means, [75_000.0, 80_000.0])
    variances = np.append(variances, [model[-1] * 0.5, model[-1] * 0.1])
    fit = fit_exp_approximation(means, variances)
    assert fit.gain == pytest.approx(gain, rel=0.003)
    assert abs(fit.gain - gain) < 4 * fit.errors[1]
    assert fit.a00 == pytest.approx(a00, rel=0.1)
    assert fit.noise == pytest.approx(8.0, rel=0.1)
    assert not fit.mask[10] and not fit.mask[20]
    assert not fit.mask[-1] and not fit.mask[-2]
    assert fit.turnoff == pytest.approx(70_000.0)


def test_ptc_fit_keeps_repeated_pairs_at_the_top_level() -> None:
    # Two pairs at the longest exposure time: the one with the larger mean but, by noise, the
    # smaller variance is at the same flux level, not beyond the turnoff.
    gain, a00, n00 = 1.1, -2.5e-6, 64.0
    means = np.array([4129.0, 8259.0, 16518.0, 16517.0])
    variances = exp_approximation(means, a00, gain, n00) * np.array([1.0, 1.0, 0.996, 1.004])
    fit = fit_exp_approximation(means, variances)
    assert fit.mask.all()
    assert fit.gain == pytest.approx(gain, rel=0.02)


def test_ptc_fit_too_few_points() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        fit_exp_approximation(np.array([100.0, 200.0]), np.array([70.0, 140.0]))
