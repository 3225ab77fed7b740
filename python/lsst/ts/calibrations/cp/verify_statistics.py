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

"""Verification statistics and tests of combined calibrations (cp_verify's science).

Per amplifier of an ISR-processed exposure (e⁻, the ISR's gains applied):

- ``MEAN``: clipped mean; ``NOISE``: clipped standard deviation (3σ);
- ``CR_NOISE``: standard deviation after masking cosmic rays (pixels more
  than 5σ above the clipped mean, grown by one pixel);
- ``READ_NOISE``: overscan residual stdev (ADU) × the ISR gain (e⁻).

Tests (`bias_dark_tests`, `flat_tests`): bias and dark ``MEAN`` |mean| <
NOISE, ``NOISE`` ≤ 1.05 × nominal read noise, ``CR_NOISE`` |NOISE − CR_NOISE|
≤ 5 % of CR_NOISE; ``READ_NOISE_CONSISTENT`` (NOISE within 5 % of READ_NOISE)
is reported, not judged. Flats: ``NOISE`` within 5 % of the noise predicted
from the photon noise at the amplifier's mean (gain applied by ISR), the
read noise and the flat's own noise (`predicted_flat_noise`); the detector
``SCATTER`` of amplifier means / their mean ≤ 0.05.

Roll-ups: `detector_summary` (``verify<X>DetStats``), `exposure_summary`
(``verify<X>ExpStats``) and `run_summary` (``verify<X>Stats``).
"""

__all__ = [
    "VerifyThresholds",
    "amp_statistics",
    "bias_dark_tests",
    "clipped_combination_factor",
    "detector_summary",
    "exposure_summary",
    "flat_tests",
    "predicted_flat_noise",
    "run_summary",
]

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.ndimage

from .clipped_mean import clipped_mean
from .clipped_statistics import clipped_statistics, clipped_stdev_bias


@dataclasses.dataclass(frozen=True)
class VerifyThresholds:
    """Thresholds of the verification tests.

    Parameters
    ----------
    read_noise_factor : `float`
        NOISE ≤ factor × nominal read noise (bias, dark).
    cr_noise_tolerance : `float`
        Largest relative difference of NOISE and CR_NOISE.
    read_noise_tolerance : `float`
        READ_NOISE_CONSISTENT tolerance (reported only).
    flat_noise_tolerance : `float`
        Largest relative difference of a flat's NOISE and its prediction.
    detector_scatter : `float`
        Largest detector SCATTER (std / mean of amplifier means).
    exposure_scatter : `float`
        Largest exposure SCATTER (std / mean of detector means).
    """

    read_noise_factor: float = 1.05
    cr_noise_tolerance: float = 0.05
    read_noise_tolerance: float = 0.05
    flat_noise_tolerance: float = 0.05
    detector_scatter: float = 0.05
    exposure_scatter: float = 0.05


def _cosmic_ray_mask(image: np.ndarray, good: np.ndarray, nsigma: float) -> np.ndarray:
    """Pixels hit by cosmic rays: > nsigma above the clipped mean, grown by one pixel."""
    stats = clipped_statistics(image, good)
    if not math.isfinite(stats.stdev) or stats.stdev <= 0:
        return np.zeros(image.shape, dtype=bool)
    hits = good & (image - stats.mean > nsigma * stats.stdev)
    return scipy.ndimage.binary_dilation(hits, structure=np.ones((3, 3), dtype=bool))


def amp_statistics(
    image: np.ndarray,
    good: np.ndarray,
    *,
    read_noise_adu: float,
    gain: float,
    cr_nsigma: float = 5.0,
) -> dict[str, float]:
    """Statistics of one amplifier of a verification image.

    Parameters
    ----------
    image : `numpy.ndarray`
        Amplifier area (e⁻).
    good : `numpy.ndarray`
        Boolean array: usable pixels.
    read_noise_adu : `float`
        Overscan residual stdev (ADU), from the ISR metadata.
    gain : `float`
        Gain the ISR applied (e⁻/ADU).
    cr_nsigma : `float`
        Cosmic-ray detection threshold (σ).

    Returns
    -------
    stats : `dict` [`str`, `float`]
        ``MEAN``, ``NOISE``, ``CR_NOISE``, ``READ_NOISE`` (e⁻) and
        ``N_PIXELS``.
    """
    clipped = clipped_statistics(image, good)
    cosmic_rays = _cosmic_ray_mask(image, good, cr_nsigma)
    kept = image[good & ~cosmic_rays].astype(np.float64)
    cr_noise = float(kept.std(ddof=1)) if kept.size > 1 else math.nan
    return {
        "MEAN": clipped.mean,
        "NOISE": clipped.stdev,
        "CR_NOISE": cr_noise,
        "READ_NOISE": float(read_noise_adu * gain),
        "N_PIXELS": float(clipped.n_used),
        "N_CR_PIXELS": float(cosmic_rays.sum()),
    }


def bias_dark_tests(
    stats: Mapping[str, float], nominal_read_noise: float, thresholds: VerifyThresholds = VerifyThresholds()
) -> tuple[dict[str, bool], dict[str, bool]]:
    """Judge one amplifier of a bias or dark verification.

    Parameters
    ----------
    stats : `~collections.abc.Mapping` [`str`, `float`]
        Output of `amp_statistics`.
    nominal_read_noise : `float`
        The camera description's read noise (e⁻).
    thresholds : `VerifyThresholds`
        Test thresholds.

    Returns
    -------
    judged : `dict` [`str`, `bool`]
        ``MEAN``, ``NOISE``, ``CR_NOISE``: part of SUCCESS.
    reported : `dict` [`str`, `bool`]
        ``READ_NOISE_CONSISTENT``: reported only.
    """
    noise, cr_noise, read_noise = stats["NOISE"], stats["CR_NOISE"], stats["READ_NOISE"]
    judged = {
        "MEAN": bool(abs(stats["MEAN"]) < noise),
        "NOISE": bool(noise <= thresholds.read_noise_factor * nominal_read_noise),
        "CR_NOISE": bool(abs(noise - cr_noise) <= thresholds.cr_noise_tolerance * cr_noise),
    }
    reported = {
        "READ_NOISE_CONSISTENT": bool(abs(noise - read_noise) <= thresholds.read_noise_tolerance * read_noise)
    }
    return judged, reported


def clipped_combination_factor(
    input_levels: Sequence[float],
    read_noise: float,
    level: float,
    self_index: int | None = None,
    *,
    nsigma: float = 3.0,
    n_iter: int = 3,
    n_samples: int = 100_000,
    seed: int = 1,
) -> float:
    """Variance of a flat-fielded pixel over the plain-mean prediction, for a clipped flat.

    `predicted_flat_noise` treats the flat as the plain mean of its N
    inputs, with variance (1/N²) Σ σᵢ² and weight 1/N for each input. The
    flat is a clipped mean, which is less efficient than the mean for
    Gaussian values of one level (the clipping is data-dependent) and,
    for inputs of different levels, weights the noisy low-level ones less
    and the others more. This returns var(y / f) for f the clipped mean of
    simulated Gaussian inputs of the given levels, over the plain-mean
    formula for the same inputs: the factor that corrects the prediction.

    Parameters
    ----------
    input_levels : `~collections.abc.Sequence` [`float`]
        Levels of the flat's inputs (e⁻), e.g. its ``CPP_INPUT_SCALE_i``.
    read_noise : `float`
        Read noise (e⁻).
    level : `float`
        Level of the verified exposure (e⁻); used when it is not an input.
    self_index : `int`, optional
        Index of the verified exposure among the inputs, if it is one.
    nsigma, n_iter : `float`, `int`
        The combination's clipping.
    n_samples : `int`
        Simulated pixels: the factor's relative error is about
        ``sqrt(2 / n_samples)`` (0.45 % for 100 000).
    seed : `int`
        Random seed: the factor is deterministic.

    Returns
    -------
    factor : `float`
        Simulated variance over the plain-mean formula's (1 for a single
        input or without usable levels).
    """
    levels = np.asarray([value for value in input_levels if value > 0 and math.isfinite(value)], dtype=float)
    if levels.size < 2 or levels.size != len(input_levels) or not level > 0:
        return 1.0
    variances = 1.0 / levels + read_noise**2 / levels**2
    rng = np.random.default_rng(seed)
    inputs = 1.0 + np.sqrt(variances)[:, np.newaxis] * rng.standard_normal((levels.size, n_samples))
    combined = clipped_mean(inputs.astype(np.float32)[:, np.newaxis, :], nsigma=nsigma, n_iter=n_iter)
    flat = combined.mean[0].astype(np.float64)
    plain_flat_variance = float(variances.mean()) / levels.size
    if self_index is None:
        own = 1.0 / level + read_noise**2 / level**2
        exposure = 1.0 + math.sqrt(own) * rng.standard_normal(n_samples)
        formula = own + plain_flat_variance
    else:
        exposure = inputs[self_index]
        formula = variances[self_index] * (1.0 - 2.0 / levels.size) + plain_flat_variance
    return float(np.var(exposure / flat) / formula)


def predicted_flat_noise(
    mean: float,
    flat: np.ndarray,
    flat_variance: np.ndarray,
    good: np.ndarray,
    read_noise: float,
    *,
    self_weight: float = 0.0,
    combination_factor: float = 1.0,
    nsigma: float = 3.0,
    n_iter: int = 3,
) -> float:
    """Expected clipped noise of one amplifier of a flat-fielded flat (e⁻).

    A pixel of the processed image is y/f with y the ISR output (e⁻, mean
    ``mean`` × f) and f the combined flat. With the ISR's gain right,
    var(y/f) = mean/f + read_noise²/f² + mean² × var(f)/f²: photon noise,
    read noise and the flat's own noise. When the exposure is itself one of
    the flat's N inputs (weight w = 1/N, as when a flat is verified on the
    flats it was made from) its noise is partly divided out: the first two
    terms are multiplied by 1 − 2w. The prediction is the square root of
    the average over the good pixels, times the bias of the clipped stdev for
    Gaussian data (`clipped_stdev_bias`), so it compares with ``NOISE``.

    Parameters
    ----------
    mean : `float`
        Clipped mean of the processed amplifier (e⁻).
    flat : `numpy.ndarray`
        The flat's pixels over the amplifier (normalized).
    flat_variance : `numpy.ndarray`
        The flat's variance plane over the amplifier.
    good : `numpy.ndarray`
        Boolean array: usable pixels.
    read_noise : `float`
        Read noise (e⁻).
    self_weight : `float`
        Weight of the exposure in the flat (1/N if among its N inputs, else 0).
    combination_factor : `float`
        Correction of the variance for the flat's clipped combination.
    nsigma, n_iter : `float`, `int`
        The clipping of ``NOISE``.

    Returns
    -------
    noise : `float`
        Predicted NOISE (e⁻); NaN without usable pixels.
    """
    usable = good & np.isfinite(flat) & (flat > 0) & np.isfinite(flat_variance)
    if not usable.any():
        return math.nan
    f = flat[usable].astype(np.float64)
    v = np.clip(flat_variance[usable].astype(np.float64), 0.0, None)
    variance = (1.0 - 2.0 * self_weight) * (mean / f + read_noise**2 / f**2) + mean**2 * v / f**2
    predicted = max(float(variance.mean()), 0.0) * combination_factor
    return float(math.sqrt(predicted) * clipped_stdev_bias(nsigma, n_iter))


def flat_tests(
    stats: Mapping[str, float], thresholds: VerifyThresholds = VerifyThresholds()
) -> tuple[dict[str, bool], dict[str, bool]]:
    """Judge one amplifier of a flat verification.

    Parameters
    ----------
    stats : `~collections.abc.Mapping` [`str`, `float`]
        `amp_statistics` output with ``PREDICTED_NOISE`` added.
    thresholds : `VerifyThresholds`
        Test thresholds.

    Returns
    -------
    judged : `dict` [`str`, `bool`]
        ``NOISE``: within ``flat_noise_tolerance`` of ``PREDICTED_NOISE``.
    reported : `dict` [`str`, `bool`]
        ``NOISE_LE_SQRT_MEAN``: cp_verify's test (NOISE ≤ √MEAN), reported
        only: pure photon noise plus read noise always exceeds √MEAN.
    """
    noise, predicted, mean = stats["NOISE"], stats["PREDICTED_NOISE"], stats["MEAN"]
    judged = {"NOISE": bool(abs(noise - predicted) <= thresholds.flat_noise_tolerance * predicted)}
    reported = {"NOISE_LE_SQRT_MEAN": bool(mean > 0 and noise <= math.sqrt(mean))}
    return judged, reported


def _plain(value: Any) -> Any:
    """Convert numpy scalars to Python ones so the dict serializes anywhere."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def detector_summary(
    amp_stats: Mapping[str, Mapping[str, float]],
    amp_tests: Mapping[str, Mapping[str, bool]],
    amp_reported: Mapping[str, Mapping[str, bool]],
    *,
    metadata: Mapping[str, Any],
    det_stats: Mapping[str, float] | None = None,
    det_tests: Mapping[str, bool] | None = None,
) -> dict[str, Any]:
    """Roll up one detector (``verify<X>DetStats``).

    Parameters
    ----------
    amp_stats : `~collections.abc.Mapping`
        Per amplifier statistics.
    amp_tests : `~collections.abc.Mapping`
        Per amplifier judged tests.
    amp_reported : `~collections.abc.Mapping`
        Per amplifier reported-only tests.
    metadata : `~collections.abc.Mapping`
        ``DETECTOR``, ``DETECTOR_NAME``, ``EXPOSURE`` and units.
    det_stats, det_tests : `~collections.abc.Mapping`, optional
        Detector-level statistics (e.g. ``SCATTER``) and tests.

    Returns
    -------
    summary : `dict`
        ``AMP``, ``DET``, ``VERIFY`` {``AMP``, ``DET``}, ``REPORTED``
        {``AMP``}, ``METADATA``, ``SUCCESS`` (AND of the judged tests) and
        ``FAILURES`` (["C10 NOISE", "DET SCATTER", ...]).
    """
    failures = [f"{amp} {test}" for amp, tests in amp_tests.items() for test, ok in tests.items() if not ok]
    failures += [f"DET {test}" for test, ok in (det_tests or {}).items() if not ok]
    return _plain(
        {
            "AMP": {amp: dict(stats) for amp, stats in amp_stats.items()},
            "DET": dict(det_stats or {}),
            "VERIFY": {
                "AMP": {amp: dict(tests) for amp, tests in amp_tests.items()},
                "DET": dict(det_tests or {}),
            },
            "REPORTED": {"AMP": {amp: dict(tests) for amp, tests in amp_reported.items()}},
            "METADATA": dict(metadata),
            "SUCCESS": not failures,
            "FAILURES": failures,
        }
    )


def exposure_summary(
    det_summaries: Sequence[Mapping[str, Any]],
    exposure: int,
    *,
    test_scatter: bool = False,
    thresholds: VerifyThresholds = VerifyThresholds(),
) -> dict[str, Any]:
    """Roll up the detectors of one exposure (``verify<X>ExpStats``).

    Parameters
    ----------
    det_summaries : `~collections.abc.Sequence`
        `detector_summary` outputs of the exposure.
    exposure : `int`
        Exposure id.
    test_scatter : `bool`
        For flats: measure ``SCATTER``, the std / mean of the detectors'
        means (each the mean of its amplifiers' MEAN), and test it against
        ``thresholds.exposure_scatter``.
    thresholds : `VerifyThresholds`
        Test thresholds.

    Returns
    -------
    summary : `dict`
        ``{det_name: {"SUCCESS": bool, "FAILURES": ["C10 NOISE", ...]}}``
        plus ``EXPOSURE``, ``EXP`` (exposure statistics), ``VERIFY``
        (exposure tests), ``SUCCESS`` and ``FAILURES``
        (["R22_S11 C10 NOISE", "EXP SCATTER", ...]).
    """
    summary: dict[str, Any] = {}
    failures: list[str] = []
    det_means = []
    for det in det_summaries:
        name = str(det["METADATA"]["DETECTOR_NAME"])
        summary[name] = {"SUCCESS": bool(det["SUCCESS"]), "FAILURES": list(det["FAILURES"])}
        failures += [f"{name} {failure}" for failure in det["FAILURES"]]
        means = [stats["MEAN"] for stats in det["AMP"].values() if math.isfinite(stats["MEAN"])]
        if means:
            det_means.append(float(np.mean(means)))
    exp_stats: dict[str, float] = {}
    exp_tests: dict[str, bool] = {}
    if test_scatter and det_means:
        level = float(np.mean(det_means))
        scatter = float(np.std(det_means)) / level if level != 0 else math.inf
        exp_stats["SCATTER"] = scatter
        exp_tests["SCATTER"] = bool(scatter <= thresholds.exposure_scatter)
        if not exp_tests["SCATTER"]:
            failures.append("EXP SCATTER")
    summary["EXPOSURE"] = int(exposure)
    summary["EXP"] = exp_stats
    summary["VERIFY"] = exp_tests
    summary["SUCCESS"] = not failures
    summary["FAILURES"] = failures
    return _plain(summary)


def run_summary(exp_summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Roll up a run (``verify<X>Stats``).

    Parameters
    ----------
    exp_summaries : `~collections.abc.Sequence`
        `exposure_summary` outputs.

    Returns
    -------
    summary : `dict`
        ``{exposure_id: {"SUCCESS": bool, "FAILURES": ["R22_S11 C10 NOISE",
        ...]}, "SUCCESS": bool}``.
    """
    summary: dict[Any, Any] = {}
    for exp in sorted(exp_summaries, key=lambda e: int(e["EXPOSURE"])):
        summary[int(exp["EXPOSURE"])] = {"SUCCESS": bool(exp["SUCCESS"]), "FAILURES": list(exp["FAILURES"])}
    summary["SUCCESS"] = all(value["SUCCESS"] for value in summary.values())
    return _plain(summary)
