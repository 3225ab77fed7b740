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

"""Clipped statistics of a set of pixel values.

The clipping follows the combine kernel of this package (and afw's
``MEANCLIP`` / ``STDEVCLIP`` in spirit): first centre = median, first
half-width = ``nsigma`` × 0.7413 × IQR, then ``n_iter`` passes of mean ±
``nsigma`` × stdev of the values kept.
"""

__all__ = ["ClippedStatistics", "clipped_statistics", "clipped_stdev_bias"]

import dataclasses
import functools
import math

import numpy as np

IQR_TO_SIGMA = 0.7413


@dataclasses.dataclass(frozen=True)
class ClippedStatistics:
    """Clipped mean and standard deviation of a set of values.

    Parameters
    ----------
    mean : `float`
        Clipped mean.
    stdev : `float`
        Clipped standard deviation (ddof=1) of the values kept.
    n_used : `int`
        Number of values kept.
    keep : `numpy.ndarray`
        Boolean array, same shape as the input: values kept.
    """

    mean: float
    stdev: float
    n_used: int
    keep: np.ndarray


def clipped_statistics(
    values: np.ndarray, good: np.ndarray | None = None, *, nsigma: float = 3.0, n_iter: int = 3
) -> ClippedStatistics:
    """Return the clipped mean and standard deviation of ``values``.

    Parameters
    ----------
    values : `numpy.ndarray`
        Values (any shape).
    good : `numpy.ndarray`, optional
        Boolean array, same shape: values that may be used. All if None.
    nsigma : `float`
        Clipping half-width in standard deviations.
    n_iter : `int`
        Number of clipping passes after the median/IQR start.

    Returns
    -------
    statistics : `ClippedStatistics`
        The statistics; NaN mean and stdev if fewer than 2 values are usable.

    Raises
    ------
    ValueError
        Raised if ``good`` has a different shape from ``values`` or
        ``nsigma`` is not positive.
    """
    values = np.asarray(values)
    if nsigma <= 0:
        raise ValueError(f"nsigma={nsigma} must be positive.")
    usable = np.isfinite(values)
    if good is not None:
        good = np.asarray(good, dtype=bool)
        if good.shape != values.shape:
            raise ValueError(f"good has shape {good.shape}; it must match values' shape {values.shape}.")
        usable &= good
    data = values[usable].astype(np.float64)
    if data.size < 2:
        return ClippedStatistics(math.nan, math.nan, int(data.size), usable)
    q25, centre, q75 = np.percentile(data, [25.0, 50.0, 75.0])
    half_width = nsigma * IQR_TO_SIGMA * (q75 - q25)
    kept = data
    for _ in range(n_iter + 1):
        if half_width > 0:
            selected = np.abs(data - centre) <= half_width
            if selected.sum() >= 2:
                kept = data[selected]
        centre = float(kept.mean())
        half_width = nsigma * float(kept.std(ddof=1))
    keep = usable.copy()
    lower, upper = centre - half_width, centre + half_width
    keep[usable] = (data >= lower) & (data <= upper) if half_width > 0 else True
    kept = values[keep].astype(np.float64)
    return ClippedStatistics(float(kept.mean()), float(kept.std(ddof=1)), int(kept.size), keep)


@functools.cache
def clipped_stdev_bias(nsigma: float = 3.0, n_iter: int = 3) -> float:
    """Ratio of the clipped to the true standard deviation for Gaussian data.

    Clipping at ± ``nsigma`` × the current clipped stdev removes the
    Gaussian's tails, so the clipped stdev underestimates σ (0.986 for a
    single 3σ cut). This follows `clipped_statistics`' iteration on the
    truncated normal distribution.

    Parameters
    ----------
    nsigma : `float`
        Clipping half-width.
    n_iter : `int`
        Clipping passes after the IQR start.

    Returns
    -------
    ratio : `float`
        Expected clipped stdev / σ.
    """
    s = 1.0  # the IQR start is unbiased for a Gaussian
    for _ in range(n_iter + 1):
        c = nsigma * s
        phi = math.exp(-0.5 * c * c) / math.sqrt(2.0 * math.pi)
        mass = math.erf(c / math.sqrt(2.0))
        s = math.sqrt(1.0 - 2.0 * c * phi / mass)
    return s
