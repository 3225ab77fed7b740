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

"""The EXPAPPROXIMATION fit of a photon transfer curve (Astier et al. 2019, eq. 16).

C₀₀(μ) = [exp(2 a₀₀ μ g) − 1] / (2 a₀₀ g²) + n₀₀ / g²

with μ the mean signal (ADU), C₀₀ the pair variance (ADU²), g the gain
(e⁻/ADU), a₀₀ the brighter-fatter coefficient (1/e⁻) and n₀₀ the read noise
variance (e⁻²). As in cp_pipe: start values [a₀₀, g, n₀₀] = [−2e-6, 1.5, 25],
bounds a₀₀ ∈ [−1e-4, 0], g ∈ [0.1, 10], n₀₀ ∈ [0, 2000]; points beyond the
variance maximum are excluded first (the turnoff), then points more than 5σ
from the fit are rejected (2 iterations), σ being the robust scatter
(1.4826 × median absolute deviation) of the relative residuals. Residuals are relative
((C − model)/model): the error of a variance estimate is proportional to
the variance itself.
"""

__all__ = ["PtcFit", "exp_approximation", "fit_exp_approximation"]

import dataclasses
import math

import numpy as np
import scipy.optimize

START = (-2.0e-6, 1.5, 25.0)
LOWER = (-1.0e-4, 0.1, 0.0)
UPPER = (0.0, 10.0, 2000.0)


@dataclasses.dataclass(frozen=True)
class PtcFit:
    """Result of an EXPAPPROXIMATION fit for one amplifier.

    Parameters
    ----------
    a00 : `float`
        Brighter-fatter coefficient (1/e⁻).
    gain : `float`
        Gain (e⁻/ADU).
    n00 : `float`
        Noise term (e⁻²).
    errors : `tuple` [`float`, `float`, `float`]
        1σ errors of (a00, gain, n00).
    chi2_dof : `float`
        Sum of squared relative residuals per degree of freedom (the
        variance of the relative residuals of the points kept).
    mask : `numpy.ndarray`
        Boolean per input point: used in the final fit.
    turnoff : `float`
        Highest mean kept (ADU).
    """

    a00: float
    gain: float
    n00: float
    errors: tuple[float, float, float]
    chi2_dof: float
    mask: np.ndarray
    turnoff: float

    @property
    def noise(self) -> float:
        """Read noise √n₀₀ (e⁻)."""
        return math.sqrt(self.n00)

    @property
    def noise_err(self) -> float:
        """Error of the read noise (e⁻)."""
        return 0.5 * self.errors[2] / self.noise if self.noise > 0 else math.nan


def exp_approximation(mean: np.ndarray, a00: float, gain: float, n00: float) -> np.ndarray:
    """Evaluate Astier+19 eq. 16.

    Parameters
    ----------
    mean : `numpy.ndarray`
        Mean signal (ADU).
    a00, gain, n00 : `float`
        Parameters (1/e⁻, e⁻/ADU, e⁻²).

    Returns
    -------
    variance : `numpy.ndarray`
        Model variance C₀₀ (ADU²). For a00 → 0 the limit μ/g + n₀₀/g².
    """
    mean = np.asarray(mean, dtype=np.float64)
    x = 2.0 * a00 * mean * gain
    # expm1(x)/x → 1 for x → 0.
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(np.abs(x) > 1e-12, np.expm1(x) / np.where(x == 0, 1.0, x), 1.0)
    return mean * factor / gain + n00 / gain**2


def fit_exp_approximation(
    means: np.ndarray,
    variances: np.ndarray,
    *,
    sigma_cut: float = 5.0,
    max_iterations: int = 2,
    min_points: int = 4,
    turnoff_tolerance: float = 0.01,
) -> PtcFit:
    """Fit the EXPAPPROXIMATION model to a photon transfer curve.

    Parameters
    ----------
    means : `numpy.ndarray`
        Mean signal of each pair (ADU).
    variances : `numpy.ndarray`
        Pair variance of each pair (ADU²).
    sigma_cut : `float`
        Outlier rejection threshold in units of the residuals' scatter.
    max_iterations : `int`
        Rejection iterations.
    min_points : `int`
        Fewest points the fit accepts.
    turnoff_tolerance : `float`
        Relative margin above the mean of the largest variance within
        which a point is still below the turnoff: pairs taken at the same
        exposure time as that point differ from it by noise, not by
        saturation.

    Returns
    -------
    fit : `PtcFit`
        The fitted parameters, errors and mask.

    Raises
    ------
    ValueError
        Raised if the arrays differ in length or fewer than ``min_points``
        usable points remain.
    """
    means = np.asarray(means, dtype=np.float64)
    variances = np.asarray(variances, dtype=np.float64)
    if means.shape != variances.shape or means.ndim != 1:
        raise ValueError(
            f"means {means.shape} and variances {variances.shape} must be 1-D arrays of equal length."
        )
    mask = np.isfinite(means) & np.isfinite(variances) & (means > 0) & (variances > 0)
    if mask.sum() >= 1:
        # Turnoff: beyond the largest variance the curve rolls over (saturation). Pairs at the
        # peak's flux level (the same exposure time) stay, whichever of them has the larger variance.
        peak_mean = means[mask][np.argmax(variances[mask])]
        mask &= means <= peak_mean * (1.0 + turnoff_tolerance)
    if mask.sum() < min_points:
        raise ValueError(
            f"Only {int(mask.sum())} usable points for the PTC fit; at least {min_points} are needed "
            "(pairs with positive mean and variance below the turnoff)."
        )
    params = np.array(START)

    def residuals(p: np.ndarray, mu: np.ndarray, var: np.ndarray) -> np.ndarray:
        model = exp_approximation(mu, *p)
        return (var - model) / model

    result = None
    for iteration in range(max_iterations + 1):
        result = scipy.optimize.least_squares(
            residuals,
            params,
            bounds=(LOWER, UPPER),
            x_scale=np.array([1e-6, 1.0, 10.0]),
            args=(means[mask], variances[mask]),
            method="trf",
        )
        params = result.x
        if iteration == max_iterations:
            break
        all_residuals = np.full(means.shape, np.inf)
        valid = np.isfinite(means) & np.isfinite(variances) & (means > 0) & (variances > 0)
        all_residuals[valid] = residuals(params, means[valid], variances[valid])
        # Robust scatter (1.4826 × MAD), so the outliers do not widen the cut.
        kept = all_residuals[mask]
        scatter = 1.4826 * float(np.median(np.abs(kept - np.median(kept))))
        if scatter <= 0:
            break
        new_mask = mask & (np.abs(all_residuals) <= sigma_cut * scatter)
        if new_mask.sum() < min_points or np.array_equal(new_mask, mask):
            break
        mask = new_mask
    assert result is not None
    dof = max(int(mask.sum()) - len(params), 1)
    rss = float(np.sum(result.fun**2))
    s2 = rss / dof
    try:
        covariance = np.linalg.inv(result.jac.T @ result.jac) * s2
        errors = tuple(float(math.sqrt(max(v, 0.0))) for v in np.diag(covariance))
    except np.linalg.LinAlgError:
        errors = (math.nan, math.nan, math.nan)
    a00, gain, n00 = (float(v) for v in params)
    return PtcFit(
        a00=a00,
        gain=gain,
        n00=n00,
        errors=(errors[0], errors[1], errors[2]),
        chi2_dof=s2,
        mask=mask,
        turnoff=float(means[mask].max()),
    )
