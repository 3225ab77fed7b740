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

"""The accuracy benchmark's plan: the calibration set it simulates and the errors it allows.

`AccuracyPlan` describes the calibration set the benchmark simulates and
derives, for each measured quantity, the statistical error the plan allows
(one sigma, before any systematic error of the pipelines):

Gain from one flat pair (cp_pipe's FULL correction)
    The pair gives ``var = μ/g + σ_r²`` (ADU) from the ``N`` pixels of an
    amplifier; a variance measured from ``N`` independent Gaussian values has
    relative error ``sqrt(2/N)``, and ``g = μ / (var − σ_r²)``, so
    ``σ_g/g = sqrt(2/N) · var / (var − σ_r²) = sqrt(2/N) · (1 + σ_r,e²/μ_e)``
    with the read noise ``σ_r,e`` and the level ``μ_e`` in electrons.
PTC gain (EXPAPPROXIMATION fit)
    Each pair's variance ``C(μ)`` has the relative error above; the fit of
    ``C(μ) = (exp(2 a00 g μ) − 1)/(2 a00 g²) + n00/g²`` with parameters
    (a00, g, n00) has covariance ``(Jᵀ W J)⁻¹`` (Fisher matrix with the
    Jacobian ``J`` at the true parameters and weights ``W = 1/σ_C²``).
Read noise (serial overscan residuals)
    Each bias gives the standard deviation of ``M = ny × (overscan − skipped)``
    overscan pixels about their row medians (``ny`` degrees of freedom lost
    to the medians); a standard deviation from ``M`` Gaussian values has
    relative error ``1/sqrt(2 M)``, averaged over the biases. Converting to
    electrons with a measured gain adds that gain's relative error in
    quadrature.
Dark current (combined dark, per amplifier mean)
    Per dark and pixel the noise is Poisson ``D t`` plus read noise
    ``σ_r²``; each frame's overscan subtraction adds the noise of a row median
    (``Var(median of n)`` per row, common to the row), and the combined bias
    subtracted from every dark adds its own noise, common to all darks:
    ``σ_D² t² = [(D t + σ_r²)/N_pix + σ_r² v_n/ny] / N_dark
    + [σ_r²/N_pix + σ_r² v_n/ny] / N_bias``, with ``v_n`` the variance of the
    median of ``n`` unit Gaussians; the pixels are integers, so with the
    amplifier's gain ``v_n`` is that of the median of ``n`` digitized values
    (`digitized_median_variance`: +0.05 ADU², 14% more for e2v at full
    geometry, 9% for ITL).
"""

__all__ = [
    "MIN_FLAT_PAIRS",
    "PAIR_GAIN_LEVEL",
    "AccuracyPlan",
    "exp_approximation_model",
    "digitized_median_variance",
    "make_plan",
    "median_variance",
    "ptc_levels",
]

import dataclasses
import functools
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from lsst.ts.calibrations.cp.isr_algorithms import median_variance
from lsst.ts.calibrations.repo.camera import AmpGeometry, Camera


@functools.lru_cache(maxsize=512)
def _digitized_median_excess(n: int, sigma_centi_adu: int) -> float:
    """Var(median) added by rounding to integers, ADU² (see `digitized_median_variance`)."""
    sigma = sigma_centi_adu / 100.0
    rng = np.random.default_rng(2024)
    rows = 40_000 if n <= 64 else max(2000, 2_560_000 // n)
    # The level's fraction of an ADU is uniform over rows (the bias and its
    # row noise move it), so the rounding is averaged over it.
    level = rng.random((rows, 1))
    values = rng.standard_normal((rows, n)) * sigma + level
    continuous = np.median(values, axis=1) - level[:, 0]
    digitized = np.median(np.rint(values), axis=1) - level[:, 0]
    # Paired: the same values with and without rounding, so the difference of
    # the squared errors has little noise.
    return float(np.mean(digitized**2 - continuous**2))


def digitized_median_variance(n: int, sigma_adu: float) -> float:
    """Var(median) of ``n`` Gaussian values read as integers, in units of their variance.

    A row's overscan median is taken over integer pixels: it is the mean of
    the two middle values when ``n`` is even, and those are close together
    (about σ √(2π) / n apart), so their rounding errors nearly coincide and
    do not average out. For 48 to 58 values this adds about 0.05 ADU²
    (0.04 ADU² for 10) to ``σ² Var(median of n)``, which is 14% of the
    median's variance for e2v at full geometry (σ 3.4 ADU, 48 columns) and
    9% for ITL (σ 4.8 ADU, 58 columns).

    Parameters
    ----------
    n : `int`
        Number of values (≥ 1).
    sigma_adu : `float`
        Their standard deviation before rounding, ADU (> 0).

    Returns
    -------
    variance : `float`
        ``median_variance(n) + excess / σ²``; the excess is a fixed-seed
        paired Monte Carlo (rounded and unrounded values of the same draw)
        with σ rounded to 0.01 ADU.

    Raises
    ------
    ValueError
        Raised if ``n`` < 1 or ``sigma_adu`` <= 0.
    """
    if not sigma_adu > 0:
        raise ValueError(f"sigma_adu={sigma_adu} must be > 0 ADU.")
    continuous = median_variance(n)
    excess = _digitized_median_excess(n, max(1, round(sigma_adu * 100)))
    return continuous + excess / sigma_adu**2


# Signal (e⁻) of the flat pair whose gain is checked on its own (DMTN-101).
PAIR_GAIN_LEVEL = 20_000.0

# Signal levels (e⁻ at unit response) of the PTC's flat pairs: from the read
# noise regime to ~60% of full well, where the curve is still linear.
_PTC_LEVELS = (300.0, 600.0, 1200.0, 2500.0, 5000.0, 8000.0, 12_000.0, 16_000.0, 20_000.0, 26_000.0,
               33_000.0, 41_000.0, 50_000.0, 60_000.0)  # fmt: skip

# Fewest flat pairs a plan may have: the PTC fit has three parameters and cpPtc's solve wants
# four pairs per amplifier (minNumberPairs); one more leaves room for an outlier it rejects.
MIN_FLAT_PAIRS = 5


def ptc_levels(n_pairs: int = len(_PTC_LEVELS)) -> tuple[float, ...]:
    """Signal levels of a plan's flat pairs, e⁻ at unit response.

    Parameters
    ----------
    n_pairs : `int`
        Number of pairs, `MIN_FLAT_PAIRS` to 14 (the default: every level,
        300 e⁻ to 60 ke⁻).

    Returns
    -------
    levels : `tuple` [`float`, ...]
        Increasing levels: the lowest, the highest and the one nearest
        `PAIR_GAIN_LEVEL`, then each time the level farthest from those
        chosen in shot noise (the square root of the level), so that the
        curve is sampled across its range (7 pairs: 0.3, 5, 12, 20, 41,
        50 and 60 ke⁻).

    Raises
    ------
    ValueError
        Raised if ``n_pairs`` is outside that range.
    """
    if not MIN_FLAT_PAIRS <= n_pairs <= len(_PTC_LEVELS):
        raise ValueError(
            f"n_flat_pairs={n_pairs} must be {MIN_FLAT_PAIRS} to {len(_PTC_LEVELS)}: the PTC fit needs "
            f"at least {MIN_FLAT_PAIRS - 1} pairs per amplifier, and the plan has {len(_PTC_LEVELS)} levels."
        )
    pair = min(_PTC_LEVELS, key=lambda level: abs(level - PAIR_GAIN_LEVEL))
    chosen = {_PTC_LEVELS[0], _PTC_LEVELS[-1], pair}
    while len(chosen) < n_pairs:
        chosen.add(
            max(
                (level for level in _PTC_LEVELS if level not in chosen),
                key=lambda level: min(abs(math.sqrt(level) - math.sqrt(other)) for other in chosen),
            )
        )
    return tuple(sorted(chosen))


# Dark exposure times the planner chooses from, s.
_DARK_TIMES = (60.0, 120.0, 180.0, 300.0, 450.0, 600.0, 900.0, 1200.0, 1800.0, 2400.0, 3600.0)


def exp_approximation_model(mean: np.ndarray, a00: float, gain: float, n00: float) -> np.ndarray:
    """Pair variance (ADU²) of the EXPAPPROXIMATION model at means ``mean`` (ADU).

    ``C = (exp(2 a00 g μ) − 1)/(2 a00 g²) + n00/g²``, written with
    ``expm1(x)/x`` so that a00 = 0 gives the linear curve ``μ/g + n00/g²``.

    Parameters
    ----------
    mean : `numpy.ndarray`
        Means, ADU.
    a00 : `float`
        Brighter-fatter coefficient, 1/e⁻.
    gain : `float`
        Gain, e⁻/ADU.
    n00 : `float`
        Read noise squared, e⁻².

    Returns
    -------
    variance : `numpy.ndarray`
        Model variances, ADU².
    """
    mu = np.asarray(mean, dtype=np.float64)
    x = 2.0 * a00 * gain * mu
    safe = np.where(x == 0.0, 1.0, x)
    phi = np.where(x == 0.0, 1.0, np.expm1(safe) / safe)
    return mu / gain * phi + n00 / gain**2


@dataclasses.dataclass(frozen=True)
class AccuracyPlan:
    """The calibration set simulated for the accuracy benchmark and its expected errors.

    Parameters
    ----------
    geometry : `AmpGeometry`
        Amplifier geometry of the raws.
    detectors : `tuple` [`int`, ...]
        Detector ids simulated.
    n_bias : `int`
        Number of biases.
    n_dark : `int`
        Number of darks.
    dark_time : `float`
        Exposure (and dark) time of each dark, s.
    flat_filter : `str`
        Physical filter of the flats.
    flat_flux : `float`
        Flat illumination at unit response in that filter, e⁻/s.
    flat_exposure_times : `tuple` [`float`, ...]
        Exposure time of each flat pair (two flats each), s.
    planning_read_noise : `float`
        Read noise the plan is made for (the camera description's largest
        nominal read noise of the detectors), e⁻.
    dark_reference : `float`
        Smallest dark current the plan must measure, e⁻/s.
    dark_sigma_goal : `float`
        Largest expected error of a per-amplifier dark current, e⁻/s.
    overscan_skip : `int`
        Serial overscan columns skipped by the ISR (leading + trailing).
    instrument : `str`
        Instrument of the detectors.
    other_geometries : `tuple` [`AmpGeometry`, ...]
        Layouts of the other vendors' detectors in the set (an LSSTCam run
        mixing ITL and e2v); `geometry` is the first vendor's. The dark time
        meets the goal in every layout; `for_geometry` gives the errors of
        one.
    """

    geometry: AmpGeometry
    detectors: tuple[int, ...]
    n_bias: int
    n_dark: int
    dark_time: float
    flat_filter: str
    flat_flux: float
    flat_exposure_times: tuple[float, ...]
    planning_read_noise: float
    dark_reference: float
    dark_sigma_goal: float
    overscan_skip: int = 6
    instrument: str = "LSSTComCam"
    other_geometries: tuple[AmpGeometry, ...] = ()

    @property
    def geometries(self) -> tuple[AmpGeometry, ...]:
        """Every segment layout of the set, `geometry` first."""
        return (self.geometry, *self.other_geometries)

    def for_geometry(self, geometry: AmpGeometry) -> "AccuracyPlan":
        """The same plan with the expected errors of one layout (a vendor's detectors).

        Parameters
        ----------
        geometry : `AmpGeometry`
            Segment layout of the detectors measured.

        Returns
        -------
        plan : `AccuracyPlan`
            The plan with ``geometry`` in place of `geometry`.
        """
        return dataclasses.replace(self, geometry=geometry, other_geometries=())

    @property
    def n_pixels(self) -> int:
        """Data pixels of one amplifier."""
        return self.geometry.nx * self.geometry.ny

    @property
    def n_overscan_used(self) -> int:
        """Serial overscan columns used per row by the ISR."""
        return self.geometry.serial_overscan - self.overscan_skip

    @property
    def flat_levels(self) -> tuple[float, ...]:
        """Signal of each flat pair at unit response, e⁻."""
        return tuple(self.flat_flux * t for t in self.flat_exposure_times)

    @property
    def gain_pair_index(self) -> int:
        """Index of the pair closest to `PAIR_GAIN_LEVEL`."""
        levels = np.array(self.flat_levels)
        return int(np.argmin(np.abs(levels - PAIR_GAIN_LEVEL)))

    @property
    def n_exposures(self) -> int:
        """Exposures in the set (per detector)."""
        return self.n_bias + self.n_dark + 2 * len(self.flat_exposure_times)

    def pair_gain_relative_sigma(self, level_e: float, read_noise_e: float) -> float:
        """Expected relative error of the gain from one flat pair.

        Parameters
        ----------
        level_e : `float`
            Mean signal of the pair, e⁻.
        read_noise_e : `float`
            Read noise, e⁻.

        Returns
        -------
        sigma : `float`
            ``sqrt(2/N) (1 + σ_r²/μ)``.
        """
        return math.sqrt(2.0 / self.n_pixels) * (1.0 + read_noise_e**2 / level_e)

    def ptc_sigmas(
        self, levels_e: Sequence[float], gain: float, read_noise_e: float, a00: float = 0.0
    ) -> tuple[float, float]:
        """Expected errors of the PTC fit's gain and read noise.

        Parameters
        ----------
        levels_e : `~collections.abc.Sequence` [`float`]
            Mean signal of each pair used in the fit, e⁻.
        gain : `float`
            Gain, e⁻/ADU.
        read_noise_e : `float`
            Read noise, e⁻.
        a00 : `float`
            Brighter-fatter coefficient, 1/e⁻.

        Returns
        -------
        gain_sigma, noise_sigma : `float`
            One-sigma errors of the gain (e⁻/ADU) and of the read noise
            ``sqrt(n00)`` (e⁻), from the Fisher matrix of the fit.

        Raises
        ------
        ValueError
            Raised if fewer than 3 levels are given (3 parameters).
        """
        if len(levels_e) < 3:
            raise ValueError(f"The PTC fit needs at least 3 pairs; the plan gives {len(levels_e)}.")
        mu = np.asarray(levels_e, dtype=np.float64) / gain
        n00 = read_noise_e**2
        params = np.array([a00, gain, n00])
        sigma_c = exp_approximation_model(mu, a00, gain, n00) * math.sqrt(2.0 / self.n_pixels)
        steps = np.array([1e-8, gain * 1e-6, max(n00, 1.0) * 1e-6])
        jacobian = np.empty((mu.size, 3))
        for k in range(3):
            up = params.copy()
            down = params.copy()
            up[k] += steps[k]
            down[k] -= steps[k]
            jacobian[:, k] = (exp_approximation_model(mu, *up) - exp_approximation_model(mu, *down)) / (
                2.0 * steps[k]
            )
        weighted = jacobian / sigma_c[:, np.newaxis]
        covariance = np.linalg.inv(weighted.T @ weighted)
        gain_sigma = math.sqrt(covariance[1, 1])
        noise_sigma = math.sqrt(covariance[2, 2]) / (2.0 * max(read_noise_e, 1e-12))
        return gain_sigma, noise_sigma

    def read_noise_relative_sigma(self, gain_relative_sigma: float = 0.0) -> float:
        """Expected relative error of the read noise from the biases' overscan residuals.

        Parameters
        ----------
        gain_relative_sigma : `float`
            Relative error of the gain used to convert ADU to e⁻.

        Returns
        -------
        sigma : `float`
            ``sqrt(1/(2 M N_bias) + (σ_g/g)²)`` with
            ``M = ny (n_overscan − 1)``.
        """
        m = self.geometry.ny * (self.n_overscan_used - 1)
        return math.sqrt(1.0 / (2.0 * m * self.n_bias) + gain_relative_sigma**2)

    def ptc_noise_relative_offset(
        self, read_noise_e: float | None = None, gain: float | None = None
    ) -> float:
        """Relative excess of the PTC read noise over the true read noise.

        The PTC works on overscan-subtracted flats: each row's overscan
        level (a median of ``n`` pixels) carries noise ``σ_r² Var(median)``
        common to the row, which the pair difference keeps. The intercept
        ``n00`` is then ``σ_r² (1 + Var(median of n))``.

        Parameters
        ----------
        read_noise_e, gain : `float` or `None`
            Read noise (e⁻) and gain (e⁻/ADU) of the amplifier: with both,
            the median is of integer pixels (`row_median_variance`).

        Returns
        -------
        offset : `float`
            ``sqrt(1 + Var(median of n)) − 1``.
        """
        return math.sqrt(1.0 + self.row_median_variance(read_noise_e, gain)) - 1.0

    def row_median_variance(self, read_noise_e: float | None = None, gain: float | None = None) -> float:
        """Var(median) of a row's overscan pixels used, in units of the read noise's variance.

        Parameters
        ----------
        read_noise_e, gain : `float` or `None`
            Read noise (e⁻) and gain (e⁻/ADU): with both, of integer pixels
            (`digitized_median_variance` at σ = read noise / gain ADU);
            otherwise of continuous values (`median_variance`).

        Returns
        -------
        variance : `float`
            Variance of the median over σ².
        """
        n = self.n_overscan_used
        if read_noise_e is None or gain is None or read_noise_e <= 0:
            return median_variance(n)
        return digitized_median_variance(n, read_noise_e / gain)

    @staticmethod
    def digitized_noise(read_noise: float, gain: float) -> float:
        """Noise of integer pixels in e⁻: the read noise and the ADC's quantization.

        Parameters
        ----------
        read_noise : `float`
            Read noise before digitization (e⁻).
        gain : `float`
            Gain (e⁻/ADU): one ADU step adds ``gain² / 12`` e⁻² of variance.

        Returns
        -------
        noise : `float`
            ``sqrt(read_noise² + gain² / 12)``.
        """
        return math.sqrt(read_noise**2 + gain**2 / 12.0)

    def _row_noise_variance(self, read_noise_e: float, gain: float | None) -> float:
        """Variance a row's overscan median adds to an amplifier's mean, e⁻²."""
        return read_noise_e**2 * self.row_median_variance(read_noise_e, gain) / self.geometry.ny

    def dark_sigma(self, dark_current: float, read_noise_e: float, gain: float | None = None) -> float:
        """Expected error of an amplifier's mean dark current in the combined dark.

        Parameters
        ----------
        dark_current : `float`
            Dark current, e⁻/s.
        read_noise_e : `float`
            Read noise, e⁻.
        gain : `float` or `None`
            Gain, e⁻/ADU: with it the overscan medians are of integer pixels
            (`row_median_variance`).

        Returns
        -------
        sigma : `float`
            One-sigma error, e⁻/s (see the module documentation).
        """
        v_row = self._row_noise_variance(read_noise_e, gain)
        per_dark = self.dark_frame_sigma(dark_current, read_noise_e, gain) ** 2
        bias = (read_noise_e**2 / self.n_pixels + v_row) / self.n_bias
        return math.sqrt(per_dark / self.n_dark + bias) / self.dark_time

    def dark_frame_sigma(self, dark_current: float, read_noise_e: float, gain: float | None = None) -> float:
        """Expected error of an amplifier's mean charge in one overscan-corrected dark.

        The pixels' dark shot noise and read noise over the amplifier's
        pixels, and the noise the per-row overscan median adds (common to a
        row); no bias frame is subtracted.

        Parameters
        ----------
        dark_current : `float`
            Dark current, e⁻/s.
        read_noise_e : `float`
            Read noise, e⁻.
        gain : `float` or `None`
            Gain, e⁻/ADU: with it the overscan medians are of integer pixels.

        Returns
        -------
        sigma : `float`
            One-sigma error of the mean, e⁻ (over `dark_time`).
        """
        v_row = self._row_noise_variance(read_noise_e, gain)
        return math.sqrt((dark_current * self.dark_time + read_noise_e**2) / self.n_pixels + v_row)

    def describe(self) -> list[str]:
        """Lines stating the plan and why it is enough.

        Returns
        -------
        lines : `list` [`str`]
            Human-readable description.
        """
        levels = ", ".join(f"{level / 1000:g}" for level in self.flat_levels)
        i = self.gain_pair_index
        sigma_pair = max(
            self.for_geometry(g).pair_gain_relative_sigma(self.flat_levels[i], self.planning_read_noise)
            for g in self.geometries
        )
        sigma_dark = max(
            self.for_geometry(g).dark_sigma(self.dark_reference, self.planning_read_noise)
            for g in self.geometries
        )
        lines = [
            f"{self.instrument} detectors {', '.join(str(d) for d in self.detectors)}; geometry "
            f"{self.geometry.name}."
        ]
        for g in self.geometries:
            one = self.for_geometry(g)
            lines.append(
                f"{g.vendor} amplifiers: data {g.nx} x {g.ny} (N = {one.n_pixels} pixels), "
                f"prescan {g.prescan}, serial overscan {g.serial_overscan} ({one.n_overscan_used} used)."
            )
        return lines + [
            f"Biases: {self.n_bias} (combined-bias noise {100 / math.sqrt(self.n_bias):.1f}% of one "
            "frame's; read noise from their overscans).",
            f"Darks: {self.n_dark} x {self.dark_time:g} s, chosen so that a dark current of "
            f"{self.dark_reference:g} e-/s is measured per amplifier with an expected error of "
            f"{sigma_dark:.2g} e-/s (goal <= {self.dark_sigma_goal:.2g}) at read noise "
            f"{self.planning_read_noise:.1f} e-.",
            f"Flats: {len(self.flat_exposure_times)} pairs in {self.flat_filter} "
            f"({self.flat_flux:g} e-/s at unit response), levels {levels} ke- at unit response; "
            f"the pair at {self.flat_levels[i] / 1000:g} ke- gives the single-pair gain "
            f"(expected error {100 * sigma_pair:.2f}%).",
            f"Exposures per detector: {self.n_exposures}.",
        ]

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON output."""
        values = dataclasses.asdict(self)
        values["geometry"] = dataclasses.asdict(self.geometry)
        values["other_geometries"] = [dataclasses.asdict(g) for g in self.other_geometries]
        values["flat_levels"] = list(self.flat_levels)
        values["gain_pair_index"] = self.gain_pair_index
        values["n_pixels"] = self.n_pixels
        return values


def make_plan(
    geometry: AmpGeometry,
    detectors: Iterable[int],
    *,
    flat_filter: str,
    flat_flux: float,
    planning_read_noise: float,
    n_bias: int = 20,
    n_dark: int = 5,
    n_flat_pairs: int = len(_PTC_LEVELS),
    dark_reference: float = 1e-3,
    dark_sigma_goal: float = 2e-4,
    overscan_skip: int = 6,
    instrument: str = "LSSTComCam",
    other_geometries: Sequence[AmpGeometry] = (),
) -> AccuracyPlan:
    """Plan a calibration set for the accuracy benchmark.

    The dark time is the shortest of a list of standard times whose
    expected error of a per-amplifier dark current of ``dark_reference``
    is at most ``dark_sigma_goal`` in every layout (the longest if none is).

    Parameters
    ----------
    geometry : `AmpGeometry`
        Amplifier geometry (of the first vendor's detectors).
    detectors : `~collections.abc.Iterable` [`int`]
        Detector ids: science detectors of ``instrument``.
    flat_filter : `str`
        Physical filter of the flats.
    flat_flux : `float`
        Flat illumination at unit response, e⁻/s (> 0).
    planning_read_noise : `float`
        Read noise to plan for, e⁻ (> 0).
    n_bias, n_dark : `int`
        Numbers of biases (≥ 3) and darks (≥ 3).
    n_flat_pairs : `int`
        Number of flat pairs (`ptc_levels`: 5 to 14, default 14).
    dark_reference : `float`
        Smallest dark current to measure, e⁻/s (> 0).
    dark_sigma_goal : `float`
        Largest acceptable expected error of it, e⁻/s (> 0).
    overscan_skip : `int`
        Serial overscan columns the ISR skips.
    instrument : `str`
        "LSSTComCam" (default), "LSSTCam" or "LATISS".
    other_geometries : `~collections.abc.Sequence` [`AmpGeometry`]
        Layouts of the other vendors' detectors in the set.

    Returns
    -------
    plan : `AccuracyPlan`
        The plan.

    Raises
    ------
    ValueError
        Raised for a bad argument, naming it.
    """
    camera = Camera.instance(instrument)
    science = camera.science_detector_ids
    detector_ids = tuple(int(d) for d in detectors)
    if not detector_ids:
        raise ValueError(f"detectors is empty: give at least one detector id ({science[0]}-{science[-1]}).")
    bad = [d for d in detector_ids if d not in science]
    if bad:
        raise ValueError(
            f"detectors {bad} are not {instrument} science detector ids: use {science[0]}-{science[-1]}."
        )
    for name, value in (
        ("flat_flux", flat_flux),
        ("planning_read_noise", planning_read_noise),
        ("dark_reference", dark_reference),
        ("dark_sigma_goal", dark_sigma_goal),
    ):
        if not value > 0:
            raise ValueError(f"{name}={value!r} must be > 0.")
    for name, count in (("n_bias", n_bias), ("n_dark", n_dark)):
        if count < 3:
            raise ValueError(f"{name}={count} must be at least 3 for a clipped-mean combine.")
    exposure_times = tuple(round(level / flat_flux, 4) for level in ptc_levels(n_flat_pairs))
    plan = AccuracyPlan(
        geometry=geometry,
        detectors=detector_ids,
        n_bias=n_bias,
        n_dark=n_dark,
        dark_time=_DARK_TIMES[-1],
        flat_filter=flat_filter,
        flat_flux=flat_flux,
        flat_exposure_times=exposure_times,
        planning_read_noise=planning_read_noise,
        dark_reference=dark_reference,
        dark_sigma_goal=dark_sigma_goal,
        overscan_skip=overscan_skip,
        instrument=instrument,
        other_geometries=tuple(g for g in other_geometries if g != geometry),
    )
    for dark_time in _DARK_TIMES:
        candidate = dataclasses.replace(plan, dark_time=dark_time)
        if all(
            candidate.for_geometry(g).dark_sigma(dark_reference, planning_read_noise) <= dark_sigma_goal
            for g in candidate.geometries
        ):
            return candidate
    return plan
