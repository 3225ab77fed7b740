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

"""Statistics of one amplifier in one pair of flats (cp_pipe's PTC extraction).

All quantities are in ADU (images processed by ISR with gains not applied):

- μ = (μ₁ + μ₂)/2, the mean of the two clipped means;
- C = ⟨(I₁ − I₂)² / (I₁ + I₂)⟩ over the good pixels;
- σ_r = mean of the two overscan residual standard deviations (read noise);
- gain (cp_pipe's FULL correction)
  g = [μ + √(μ² − 2μC + 2σ_r²)] / (2Cμ − 2σ_r²)  (e⁻/ADU);
- pair variance: D = (μ₂I₁ − μ₁I₂)/μ, var = ½ × clipped variance of D
  (5.5σ), and the covariances of D/√2 by FFT up to a maximum lag.
"""

__all__ = ["PairStatistics", "gain_from_flat_pair", "measure_pair", "pair_covariances"]

import dataclasses
import math

import numpy as np
import scipy.fft

from .clipped_statistics import clipped_statistics


@dataclasses.dataclass(frozen=True)
class PairStatistics:
    """Per-amplifier statistics of a flat pair.

    Parameters
    ----------
    mean1, mean2 : `float`
        Clipped means of the two flats (ADU).
    mean : `float`
        μ = (mean1 + mean2)/2 (ADU).
    ratio_mean : `float`
        C = ⟨(I₁ − I₂)²/(I₁ + I₂)⟩ (ADU).
    read_noise_adu : `float`
        σ_r, mean of the two overscan residual stdevs (ADU).
    gain : `float`
        Gain from the pair (e⁻/ADU); NaN if undefined.
    gain_err : `float`
        Statistical error of ``gain`` from the scatter of the per-pixel
        ratios (e⁻/ADU).
    variance : `float`
        Pair variance (ADU²).
    covariances : `numpy.ndarray`
        Covariances (ADU²), shape (max_lag + 1, max_lag + 1) indexed
        [dy, dx]; [0, 0] is the variance from the FFT.
    n_pixels : `int`
        Good pixels used.
    """

    mean1: float
    mean2: float
    mean: float
    ratio_mean: float
    read_noise_adu: float
    gain: float
    gain_err: float
    variance: float
    covariances: np.ndarray
    n_pixels: int

    @property
    def noise(self) -> float:
        """Read noise in electrons (σ_r × gain); NaN if the gain is undefined."""
        return self.read_noise_adu * self.gain


def gain_from_flat_pair(mean: float, ratio_mean: float, read_noise_adu: float) -> float:
    """Return the gain of a flat pair with cp_pipe's FULL correction.

    Parameters
    ----------
    mean : `float`
        μ, mean signal of the pair (ADU).
    ratio_mean : `float`
        C = ⟨(I₁ − I₂)²/(I₁ + I₂)⟩ (ADU).
    read_noise_adu : `float`
        σ_r, read noise (ADU).

    Returns
    -------
    gain : `float`
        g = [μ + √(μ² − 2μC + 2σ_r²)] / (2Cμ − 2σ_r²) in e⁻/ADU, or NaN when
        the root is imaginary or the denominator not positive (signal too
        low for the read noise).
    """
    root_arg = mean * mean - 2.0 * mean * ratio_mean + 2.0 * read_noise_adu**2
    denominator = 2.0 * ratio_mean * mean - 2.0 * read_noise_adu**2
    if root_arg < 0 or denominator <= 0 or not math.isfinite(root_arg):
        return math.nan
    return (mean + math.sqrt(root_arg)) / denominator


def pair_covariances(diff: np.ndarray, good: np.ndarray, max_lag: int) -> np.ndarray:
    """Covariances of an image at lags 0 ... ``max_lag`` by FFT.

    Pixels outside ``good`` are excluded (weight 0). For lags with both
    dx and dy non-zero the two orientations (dx, dy) and (dx, −dy) are
    averaged, as cp_pipe does.

    Parameters
    ----------
    diff : `numpy.ndarray`
        2-D image (for a pair, D = (μ₂I₁ − μ₁I₂)/μ).
    good : `numpy.ndarray`
        Boolean array, same shape: pixels to use.
    max_lag : `int`
        Largest lag in each direction; must be smaller than the image.

    Returns
    -------
    covariances : `numpy.ndarray`
        Shape (max_lag + 1, max_lag + 1), indexed [dy, dx], in the image's
        units squared. Not halved: for a pair difference the caller halves.

    Raises
    ------
    ValueError
        Raised if the shapes differ or ``max_lag`` does not fit the image.
    """
    if diff.shape != good.shape or diff.ndim != 2:
        raise ValueError(f"diff {diff.shape} and good {good.shape} must be 2-D arrays of the same shape.")
    ny, nx = diff.shape
    if max_lag < 0 or max_lag >= min(nx, ny):
        raise ValueError(
            f"max_lag={max_lag} must be in [0, {min(nx, ny) - 1}] for an image of shape {diff.shape}."
        )
    w = good.astype(np.float64)
    x = np.where(good, diff, 0.0).astype(np.float64)
    shape = (scipy.fft.next_fast_len(ny + max_lag), scipy.fft.next_fast_len(nx + max_lag))
    fx = scipy.fft.rfft2(x, shape)
    fw = scipy.fft.rfft2(w, shape)

    def correlate(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        # sum_r a(r) b(r + lag), for all lags (circular, zero padded).
        return scipy.fft.irfft2(np.conj(a) * b, shape)

    sum_xx = correlate(fx, fx)
    sum_x1 = correlate(fx, fw)  # sum of x(r) over pairs
    sum_x2 = correlate(fw, fx)  # sum of x(r + lag) over pairs
    count = np.rint(correlate(fw, fw))

    def cov(dy: int, dx: int) -> float:
        n = count[dy, dx]
        if n < 2:
            return math.nan
        return float((sum_xx[dy, dx] - sum_x1[dy, dx] * sum_x2[dy, dx] / n) / n)

    result = np.empty((max_lag + 1, max_lag + 1))
    for dy in range(max_lag + 1):
        for dx in range(max_lag + 1):
            value = cov(dy, dx)
            if dx != 0 and dy != 0:
                value = 0.5 * (value + cov(-dy, dx))
            result[dy, dx] = value
    return result


def measure_pair(
    image1: np.ndarray,
    image2: np.ndarray,
    good: np.ndarray,
    read_noise1: float,
    read_noise2: float,
    *,
    max_lag: int = 10,
    nsigma_variance: float = 5.5,
    min_pixels: int = 100,
) -> PairStatistics:
    """Measure one amplifier of a pair of flats.

    Parameters
    ----------
    image1, image2 : `numpy.ndarray`
        The amplifier's data area in the two flats (ADU, overscan
        subtracted), same shape.
    good : `numpy.ndarray`
        Boolean array: pixels usable in both flats.
    read_noise1, read_noise2 : `float`
        Overscan residual standard deviations of the two flats (ADU).
    max_lag : `int`
        Largest covariance lag.
    nsigma_variance : `float`
        Clipping width of the pair variance.
    min_pixels : `int`
        Fewest good pixels accepted.

    Returns
    -------
    statistics : `PairStatistics`
        The measurements.

    Raises
    ------
    ValueError
        Raised if the shapes differ or there are too few good pixels.
    """
    if image1.shape != image2.shape or good.shape != image1.shape:
        raise ValueError(
            f"image1 {image1.shape}, image2 {image2.shape} and good {good.shape} must have the same shape."
        )
    i1 = image1.astype(np.float64)
    i2 = image2.astype(np.float64)
    s1 = clipped_statistics(i1, good)
    s2 = clipped_statistics(i2, good)
    # C uses every good pixel: clipping the flats would cut the tails of
    # (I₁ − I₂)² and bias the gain high.
    total = i1 + i2
    usable = good & (total > 0) & np.isfinite(total)
    n_pixels = int(usable.sum())
    if n_pixels < min_pixels:
        raise ValueError(f"Only {n_pixels} good pixels in the pair; at least {min_pixels} are needed.")
    mean = 0.5 * (s1.mean + s2.mean)
    ratios = ((i1 - i2) ** 2 / np.where(usable, total, 1.0))[usable]
    ratio_mean = float(ratios.mean())
    read_noise = 0.5 * (read_noise1 + read_noise2)
    gain = gain_from_flat_pair(mean, ratio_mean, read_noise)
    # g ≈ μ / (Cμ − σ_r²): relative error of g ≈ that of C, scaled.
    ratio_sem = float(ratios.std(ddof=1)) / math.sqrt(n_pixels)
    denominator = ratio_mean * mean - read_noise**2
    gain_err = gain * ratio_sem * mean / denominator if denominator > 0 else math.nan
    diff = (s2.mean * i1 - s1.mean * i2) / mean
    diff_stats = clipped_statistics(diff, usable, nsigma=nsigma_variance)
    variance = 0.5 * diff_stats.stdev**2
    covariances = 0.5 * pair_covariances(diff, diff_stats.keep, max_lag)
    return PairStatistics(
        mean1=s1.mean,
        mean2=s2.mean,
        mean=mean,
        ratio_mean=ratio_mean,
        read_noise_adu=read_noise,
        gain=gain,
        gain_err=gain_err,
        variance=variance,
        covariances=covariances,
        n_pixels=n_pixels,
    )
