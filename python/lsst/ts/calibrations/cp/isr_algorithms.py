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

"""Array-level algorithms of instrument signature removal (ISR).

Pure functions on numpy arrays: overscan levels and their residual noise,
per-amplifier value images, saturation and the variance model. `IsrTask`
(`lsst.ts.calibrations.cp.isr`) applies them to a raw image; tests check
them against analytic cases.
"""

__all__ = [
    "IQR_TO_SIGMA",
    "OverscanResult",
    "amp_value_image",
    "median_variance",
    "overscan_levels",
    "residual_stdev_factor",
    "robust_sigma",
    "variance_plane",
]

import dataclasses
import functools
from collections.abc import Mapping

import numpy as np

from ..repo.camera import AmpGeometry, DetectorInfo

# Standard deviation of a Gaussian per unit interquartile range.
IQR_TO_SIGMA = 0.7413


def robust_sigma(values: np.ndarray) -> float:
    """Return 0.7413 × the interquartile range of the finite values.

    Parameters
    ----------
    values : `numpy.ndarray`
        Values (any shape); non-finite values are ignored.

    Returns
    -------
    sigma : `float`
        The robust standard deviation; NaN if fewer than 2 finite values.
    """
    data = np.asarray(values, dtype=np.float64)
    data = data[np.isfinite(data)]
    if data.size < 2:
        return float("nan")
    q25, q75 = np.percentile(data, [25.0, 75.0])
    return float(IQR_TO_SIGMA * (q75 - q25))


@functools.cache
def median_variance(n: int) -> float:
    """Var(median) of ``n`` standard normal values.

    Exact for 1 and 2 values (a value, or their mean). Otherwise a
    fixed-seed Monte Carlo of 50 000 rows (fewer for long rows) with the row
    mean as control variate: the mean is efficient, so Cov(median, mean) =
    Var(mean) = 1/n and Var(median) = E[(median − mean)²] + 1/n, whose first
    term is small. The error is then within 0.2 % for 3 to 58 values
    (against numerical integration over the order statistics).

    It is the variance a row's overscan median adds to every pixel of the
    row when the ISR subtracts it (times the noise variance).

    Parameters
    ----------
    n : `int`
        Number of values (≥ 1).

    Returns
    -------
    variance : `float`
        Var(median) for unit variance; about π/(2n) for large n.

    Raises
    ------
    ValueError
        Raised if ``n`` < 1.
    """
    if n < 1:
        raise ValueError(f"n={n} must be at least 1.")
    if n <= 2:
        return 1.0 / n
    rng = np.random.default_rng(12345)
    rows = 50_000 if n <= 64 else max(2000, 3_200_000 // n)
    values = rng.standard_normal((rows, n))
    deviation = np.median(values, axis=1) - values.mean(axis=1)
    return float(np.mean(deviation * deviation)) + 1.0 / n


@dataclasses.dataclass(frozen=True)
class OverscanResult:
    """Levels fitted to an overscan region.

    Parameters
    ----------
    levels : `numpy.ndarray`
        One level per row (serial overscan) or per column (parallel
        overscan), ADU.
    median : `float`
        Median of the levels (ADU).
    residual_stdev : `float`
        Standard deviation of the overscan pixels about their levels, after
        outlier rejection, corrected for the correlation of a pixel with
        its own row's median (ADU): the empirical read noise.
    n_rejected : `int`
        Pixels rejected as outliers.
    """

    levels: np.ndarray
    median: float
    residual_stdev: float
    n_rejected: int


def overscan_levels(
    overscan: np.ndarray,
    *,
    axis: int = 1,
    skip_leading: int = 3,
    skip_trailing: int = 3,
    nsigma: float = 4.0,
) -> OverscanResult:
    """Fit one level per row (or column) of an overscan region.

    The first ``skip_leading`` and last ``skip_trailing`` pixels along
    ``axis`` are skipped (charge transfer trails and edge effects). Each
    line's level is the median of its pixels; pixels further than
    ``nsigma`` standard deviations from their line's median are rejected
    and the medians recomputed (the standard deviation of the residuals
    within 10 robust, IQR-based, standard deviations). The residual standard deviation is
    the kept values' pooled standard deviation about their own line's mean,
    divided by `residual_stdev_factor` (the cut's truncation), so that it
    estimates the noise without bias: σ for Gaussian noise, and for integer
    pixels the noise the integers hold, sqrt(σ² + 1/12). (Residuals about
    the median of integers do not: their spread moves by ±0.3 % with σ.)

    Parameters
    ----------
    overscan : `numpy.ndarray`
        Overscan pixels (rows, columns), ADU.
    axis : `int`
        Axis along which a line's pixels lie: 1 gives one level per row
        (serial overscan), 0 one level per column (parallel overscan).
    skip_leading, skip_trailing : `int`
        Pixels skipped at the start and end of each line, in readout order.
    nsigma : `float`
        Outlier rejection threshold in robust standard deviations.

    Returns
    -------
    result : `OverscanResult`
        Levels, their median and the residual standard deviation.

    Raises
    ------
    ValueError
        Raised if fewer than 2 pixels per line remain after skipping, or
        ``axis`` is not 0 or 1.
    """
    if axis not in (0, 1):
        raise ValueError(f"axis={axis} must be 0 (per column) or 1 (per row).")
    data = np.asarray(overscan, dtype=np.float64)
    if axis == 0:
        data = data.T
    n_line = data.shape[1]
    n_used = n_line - skip_leading - skip_trailing
    if n_used < 2:
        raise ValueError(
            f"The overscan has {n_line} pixels per line; skipping {skip_leading} leading and "
            f"{skip_trailing} trailing leaves {n_used}: at least 2 are needed."
        )
    data = data[:, skip_leading : n_line - skip_trailing]
    levels, raw_stdev, n_rejected = _line_levels(data, nsigma)
    stdev = raw_stdev / residual_stdev_factor(n_used, nsigma)
    return OverscanResult(
        levels=levels, median=float(np.median(levels)), residual_stdev=stdev, n_rejected=n_rejected
    )


_WIDE_CUT = 10.0
"""First cut (robust σ from the IQR) before the σ that places the outlier cut is measured."""


def _line_levels(data: np.ndarray, nsigma: float) -> tuple[np.ndarray, float, int]:
    """Median per line, outliers rejected; return the levels, the noise estimate, rejections.

    The noise estimate is the pooled standard deviation of the kept values
    about their own line's mean (one degree of freedom per line): unlike
    residuals about the median, it is unbiased whatever the distribution,
    integer pixels included, for which it estimates the noise the integers
    hold, sqrt(σ² + 1/12).
    """
    levels = np.median(data, axis=1)
    residual = data - levels[:, np.newaxis]
    sigma = robust_sigma(residual)
    if np.isfinite(sigma) and sigma > 0:
        # The IQR of integer pixels' residuals moves in steps (a cut anywhere from 3.4σ to 4.3σ);
        # the standard deviation within a wide first cut does not.
        sigma = float(np.std(residual[np.abs(residual) <= _WIDE_CUT * sigma]))
    n_rejected = 0
    clean = data
    if np.isfinite(sigma) and sigma > 0:
        outliers = np.abs(residual) > nsigma * sigma
        n_rejected = int(outliers.sum())
        if n_rejected:
            clean = np.where(outliers, np.nan, data)
            line_ok = np.isfinite(clean).any(axis=1)
            levels = levels.copy()
            levels[line_ok] = np.nanmedian(clean[line_ok], axis=1)
    kept = np.isfinite(clean)
    counts = kept.sum(axis=1)
    sums = np.where(kept, clean, 0.0).sum(axis=1)
    means = sums / np.maximum(counts, 1)
    deviations = np.where(kept, clean - means[:, np.newaxis], 0.0)
    dof = int(np.maximum(counts - 1, 0).sum())
    stdev = float(np.sqrt((deviations * deviations).sum() / dof)) if dof > 0 else float("nan")
    return levels, stdev, n_rejected


@functools.cache
def residual_stdev_factor(n: int, nsigma: float) -> float:
    """Expected noise estimate of `overscan_levels` over σ, for Gaussian noise.

    The estimate (the kept values' pooled standard deviation about their
    line means) is unbiased but for the outlier cut, which leaves out the
    tails: about 0.9995 for a 4σ cut. Computed once per ``(n, nsigma)`` by
    running the same procedure on 50 000 fixed-seed lines of standard
    normal values and dividing by the values' own root mean square, which
    shares their fluctuations: the factor's error is about 0.01 %.

    Parameters
    ----------
    n : `int`
        Values per line (≥ 2).
    nsigma : `float`
        The outlier cut, in robust standard deviations.

    Returns
    -------
    factor : `float`
        Divide the estimate by this to estimate σ.
    """
    rng = np.random.default_rng(12345)
    lines = 50_000 if n <= 64 else max(2000, 3_200_000 // n)
    values = rng.standard_normal((lines, n))
    _, stdev, _ = _line_levels(values, nsigma)
    return stdev / float(np.sqrt(np.mean(values * values)))


def amp_value_image(
    detector: DetectorInfo, geometry: AmpGeometry, values: Mapping[str, float], dtype: type = np.float64
) -> np.ndarray:
    """Return an assembled-detector image holding one value per amplifier.

    Parameters
    ----------
    detector : `DetectorInfo`
        The detector.
    geometry : `AmpGeometry`
        Geometry of its segments.
    values : `~collections.abc.Mapping` [`str`, `float`]
        Value of each amplifier, keyed by amplifier name.
    dtype : `type`
        Data type of the result.

    Returns
    -------
    image : `numpy.ndarray`
        ``geometry.detector_shape`` array.

    Raises
    ------
    KeyError
        Raised if an amplifier of the detector has no value.
    """
    image: np.ndarray = np.empty(geometry.detector_shape, dtype=dtype)
    for amp in detector.amps:
        if amp.name not in values:
            raise KeyError(f"No value for amplifier {amp.name} of {detector.name}.")
        image[amp.detector_slice(geometry)] = values[amp.name]
    return image


def variance_plane(image: np.ndarray, gain: np.ndarray | float, read_noise: np.ndarray | float) -> np.ndarray:
    """Return the variance of an image from Poisson statistics and read noise.

    Variance = max(image, 0) / gain + (read_noise / gain)², with the image
    in the output units and ``gain`` in e⁻ per output unit (1 for images in
    electrons; the amplifier gain for images in ADU) and ``read_noise`` in
    e⁻.

    Parameters
    ----------
    image : `numpy.ndarray`
        Bias-subtracted image, output units.
    gain : `numpy.ndarray` or `float`
        Electrons per output unit, per pixel or scalar.
    read_noise : `numpy.ndarray` or `float`
        Read noise (e⁻), per pixel or scalar.

    Returns
    -------
    variance : `numpy.ndarray`
        Variance in output units squared, of the image's floating-point
        type (float64 for integer images).
    """
    data = np.asarray(image)
    dtype = data.dtype if data.dtype.kind == "f" else np.dtype(np.float64)
    gain_arr = np.asarray(gain, dtype=dtype)
    noise = np.asarray(read_noise, dtype=dtype)
    return np.maximum(data.astype(dtype, copy=False), dtype.type(0)) / gain_arr + (noise / gain_arr) ** 2
