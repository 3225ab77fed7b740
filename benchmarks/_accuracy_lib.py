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

"""The accuracy benchmark's measurement: pipeline results against the simulator's truth.

`compare` sets each measured quantity of each amplifier against its truth
and the statistical error the plan allows (`_accuracy_plan.AccuracyPlan`),
`summarize` condenses the comparisons, `score_defects` scores found defects
against the injected ones, `quantum_times` reads a task's timing from its
metadata, and `check_targets` judges the figures against the targets;
`split_by_vendor` and `check_targets_by_vendor` do the same for each sensor
vendor's amplifiers (ITL, e2v) on their own.
"""

__all__ = [
    "Comparison",
    "DefectScore",
    "TargetResult",
    "check_targets",
    "check_targets_by_vendor",
    "clipped_mean",
    "compare",
    "quantum_times",
    "score_defects",
    "split_by_vendor",
    "summarize",
]

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One measured quantity of one amplifier against its truth.

    Parameters
    ----------
    quantity : `str`
        Name, e.g. "ptc_gain".
    detector : `int`
        Detector id.
    amp : `str`
        Amplifier name.
    measured : `float`
        Measured value.
    truth : `float`
        True value.
    expected_sigma : `float`
        Expected statistical error (one sigma), same unit.
    unit : `str`
        Unit of the values.
    expected : `float`, optional
        The value the measurement should give on these data, when a known
        effect of the data moves it off the truth (the ADC's quantization
        of integer pixels, the noise of a row's overscan median); the
        truth by default (NaN stands for "the truth"). The pull and the 3σ
        test are taken against it; the relative error stays against the
        truth.
    """

    quantity: str
    detector: int
    amp: str
    measured: float
    truth: float
    expected_sigma: float
    unit: str
    expected: float = math.nan

    @property
    def expectation(self) -> float:
        """The value the 3σ test is taken against: ``expected``, or the truth."""
        return self.expected if math.isfinite(self.expected) else self.truth

    @property
    def error(self) -> float:
        """measured − truth."""
        return self.measured - self.truth

    @property
    def relative_error(self) -> float:
        """(measured − truth) / truth (NaN if the truth is 0)."""
        return self.error / self.truth if self.truth != 0 else math.nan

    @property
    def pull(self) -> float:
        """(measured − expectation) / expected sigma."""
        deviation = self.measured - self.expectation
        return deviation / self.expected_sigma if self.expected_sigma > 0 else math.nan

    @property
    def within_3_sigma(self) -> bool:
        """|measured − expectation| ≤ 3 × expected sigma (False if not measured)."""
        deviation = self.measured - self.expectation
        return bool(math.isfinite(self.measured) and abs(deviation) <= 3.0 * self.expected_sigma)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON output."""
        values = dataclasses.asdict(self)
        values.update(
            error=_json_float(self.error),
            relative_error=_json_float(self.relative_error),
            pull=_json_float(self.pull),
            within_3_sigma=self.within_3_sigma,
        )
        return {k: _json_float(v) if isinstance(v, float) else v for k, v in values.items()}


def clipped_mean(values: np.ndarray, nsigma: float = 5.0, n_iter: int = 3) -> float:
    """Mean of the finite values after iterative clipping about the median.

    Each pass keeps the values within ``nsigma`` robust standard deviations
    (0.7413 × IQR) of the median of those kept so far; it stops early once a
    pass keeps everything.

    Parameters
    ----------
    values : `numpy.ndarray`
        Values (any shape); NaNs are left out.
    nsigma : `float`
        Half-width of the kept range, in robust standard deviations.
    n_iter : `int`
        Most passes.

    Returns
    -------
    mean : `float`
        Mean of the kept values; NaN if none is finite.
    """
    data = values[np.isfinite(values)].astype(np.float64)
    for _ in range(n_iter):
        if data.size < 3:
            break
        centre = float(np.median(data))
        sigma = 0.7413 * float(np.subtract(*np.percentile(data, [75, 25])))
        keep = np.abs(data - centre) <= nsigma * max(sigma, 1e-30)
        if keep.all():
            break
        data = data[keep]
    return float(data.mean()) if data.size else math.nan


def _json_float(value: float) -> float | None:
    return None if not math.isfinite(value) else float(value)


def compare(
    quantity: str,
    detector: int,
    measured: Mapping[str, float],
    truth: Mapping[str, float],
    expected_sigma: Mapping[str, float],
    unit: str,
    expected: Mapping[str, float] | None = None,
) -> list[Comparison]:
    """Compare per-amplifier measurements with the truth.

    Parameters
    ----------
    quantity : `str`
        Name of the quantity.
    detector : `int`
        Detector id.
    measured, truth, expected_sigma : `~collections.abc.Mapping` [`str`, `float`]
        Values by amplifier name; an amplifier missing from ``measured``
        is compared as NaN (not measured), which never passes.
    unit : `str`
        Unit.
    expected : `~collections.abc.Mapping` [`str`, `float`], optional
        The values the measurement should give on these data when a known
        effect moves them off the truth (see `Comparison`).

    Returns
    -------
    comparisons : `list` [`Comparison`]
        One per amplifier of ``truth``, in its order.
    """
    return [
        Comparison(
            quantity=quantity,
            detector=detector,
            amp=amp,
            measured=float(measured.get(amp, math.nan)),
            truth=float(truth[amp]),
            expected_sigma=float(expected_sigma[amp]),
            unit=unit,
            expected=math.nan if expected is None else float(expected[amp]),
        )
        for amp in truth
    ]


def summarize(comparisons: Sequence[Comparison]) -> dict[str, float]:
    """Summary of comparisons of one quantity.

    Parameters
    ----------
    comparisons : `~collections.abc.Sequence` [`Comparison`]
        Comparisons (any detectors and amplifiers).

    Returns
    -------
    summary : `dict` [`str`, `float`]
        ``n``, ``n_measured``, ``n_within_3_sigma``, ``max_abs_relative_error``,
        ``rms_relative_error``, ``mean_relative_error``, ``max_abs_pull``,
        ``median_expected_relative_sigma``.
    """
    rel = np.array([c.relative_error for c in comparisons], dtype=np.float64)
    pulls = np.array([c.pull for c in comparisons], dtype=np.float64)
    sig = np.array(
        [c.expected_sigma / abs(c.truth) if c.truth else math.nan for c in comparisons], dtype=np.float64
    )
    ok = np.isfinite(rel)
    return {
        "n": float(len(comparisons)),
        "n_measured": float(ok.sum()),
        "n_within_3_sigma": float(sum(c.within_3_sigma for c in comparisons)),
        "max_abs_relative_error": float(np.max(np.abs(rel[ok]))) if ok.any() else math.nan,
        "rms_relative_error": float(np.sqrt(np.mean(rel[ok] ** 2))) if ok.any() else math.nan,
        "mean_relative_error": float(np.mean(rel[ok])) if ok.any() else math.nan,
        "max_abs_pull": float(np.nanmax(np.abs(pulls))) if np.isfinite(pulls).any() else math.nan,
        "median_expected_relative_sigma": float(np.nanmedian(sig)) if np.isfinite(sig).any() else math.nan,
    }


@dataclasses.dataclass(frozen=True)
class DefectScore:
    """Recall and precision of measured defects against the injected ones.

    Parameters
    ----------
    detector : `int`
        Detector id.
    n_true : `int`
        Injected defective pixels.
    n_found : `int`
        Pixels the pipeline marked.
    n_true_found : `int`
        Injected pixels the pipeline marked.
    category_recall : `dict` [`str`, `float`]
        Recall per injected category ("hot_pixels", "cold_pixels",
        "bad_columns"): the fraction of its pixels marked.
    category_count : `dict` [`str`, `int`]
        Injected pixels per category.
    """

    detector: int
    n_true: int
    n_found: int
    n_true_found: int
    category_recall: dict[str, float]
    category_count: dict[str, int]

    @property
    def recall(self) -> float:
        """Fraction of injected pixels marked (1 if none were injected)."""
        return self.n_true_found / self.n_true if self.n_true else 1.0

    @property
    def precision(self) -> float:
        """Fraction of marked pixels that were injected (1 if none marked)."""
        return self.n_true_found / self.n_found if self.n_found else 1.0

    @property
    def false_positives(self) -> int:
        """Marked pixels that were not injected."""
        return self.n_found - self.n_true_found

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON output."""
        values = dataclasses.asdict(self)
        values.update(recall=self.recall, precision=self.precision, false_positives=self.false_positives)
        return values


def score_defects(detector: int, truth_masks: Mapping[str, np.ndarray], found: np.ndarray) -> DefectScore:
    """Score a measured defect mask against injected defects.

    Parameters
    ----------
    detector : `int`
        Detector id.
    truth_masks : `~collections.abc.Mapping` [`str`, `numpy.ndarray`]
        Boolean mask of each injected category, detector shape.
    found : `numpy.ndarray`
        Boolean mask of the measured defects, detector shape.

    Returns
    -------
    score : `DefectScore`
        The score.

    Raises
    ------
    ValueError
        Raised if a mask's shape differs from ``found``'s.
    """
    found = np.asarray(found, dtype=bool)
    union = np.zeros(found.shape, dtype=bool)
    recall: dict[str, float] = {}
    count: dict[str, int] = {}
    for name, mask in truth_masks.items():
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != found.shape:
            raise ValueError(f"Truth mask {name!r} has shape {mask.shape}; the defects have {found.shape}.")
        union |= mask
        count[name] = int(mask.sum())
        recall[name] = float((mask & found).sum() / count[name]) if count[name] else 1.0
    return DefectScore(
        detector=detector,
        n_true=int(union.sum()),
        n_found=int(found.sum()),
        n_true_found=int((union & found).sum()),
        category_recall=recall,
        category_count=count,
    )


def quantum_times(metadata: Mapping[str, Any]) -> tuple[float, float]:
    """Wall-clock and CPU time of one quantum from its task metadata.

    Parameters
    ----------
    metadata : `~collections.abc.Mapping` [`str`, `typing.Any`]
        The ``quantum`` section of a ``<label>_metadata`` dataset (keys
        ``startUtc``, ``endUtc``, ``startCpuTime``, ``endCpuTime`` as
        ``lsst.utils.timer.logInfo`` writes them, each a value or a list
        whose last value counts), or the whole metadata holding such a
        section.

    Returns
    -------
    wall, cpu : `float`
        Seconds; NaN when the keys are missing.
    """
    section: Any = metadata
    if "quantum" in metadata:
        section = metadata["quantum"]

    def last(key: str) -> Any:
        # TaskMetadata.add appends: a key may hold a list of values.
        value = section[key]
        return value[-1] if isinstance(value, list | tuple) else value

    wall = math.nan
    cpu = math.nan
    try:
        start = np.datetime64(str(last("startUtc")).replace("+00:00", ""))
        end = np.datetime64(str(last("endUtc")).replace("+00:00", ""))
        wall = float((end - start) / np.timedelta64(1, "us")) * 1e-6
    except (KeyError, ValueError, TypeError, IndexError):
        pass
    try:
        cpu = float(last("endCpuTime")) - float(last("startCpuTime"))
    except (KeyError, ValueError, TypeError, IndexError):
        pass
    return wall, cpu


@dataclasses.dataclass(frozen=True)
class TargetResult:
    """One target of the issue checked.

    Parameters
    ----------
    name : `str`
        The target, e.g. "PTC gain within 0.5%".
    passed : `bool`
        Whether every amplifier meets it.
    worst : `float`
        The worst value over the amplifiers (same unit as ``limit``).
    limit : `float`
        The limit.
    applies : `bool`
        Whether the target applies to this run (the issue's targets are
        for full geometry).
    detail : `str`
        Which amplifier is worst, or why the target was not evaluated.
    """

    name: str
    passed: bool
    worst: float
    limit: float
    applies: bool
    detail: str

    @property
    def verdict(self) -> str:
        """PASS, FAIL or "n/a" (nothing measured)."""
        if math.isnan(self.worst):
            return "n/a"
        return "PASS" if self.passed else "FAIL"


def _worst_relative(comparisons: Sequence[Comparison]) -> tuple[float, str]:
    worst = -math.inf
    where = ""
    for c in comparisons:
        rel = abs(c.relative_error) if math.isfinite(c.measured) else math.inf
        if rel > worst:
            worst = rel
            where = f"detector {c.detector} {c.amp}: measured {c.measured:.6g}, truth {c.truth:.6g}"
    return worst, where


def check_targets(
    comparisons: Mapping[str, Sequence[Comparison]],
    defect_scores: Sequence[DefectScore],
    *,
    full_geometry: bool,
) -> list[TargetResult]:
    """Check the issue's accuracy targets.

    Targets: PTC gain within 0.5%; the gain of the pair at ~20 ke⁻ within
    1%; read noise within 2%; defect recall 100% and precision ≥ 99%;
    every quantity within 3 × its expected error.

    Parameters
    ----------
    comparisons : `~collections.abc.Mapping` [`str`, `~collections.abc.Sequence` [`Comparison`]]
        Comparisons by quantity ("ptc_gain", "pair_gain", "read_noise", ...).
    defect_scores : `~collections.abc.Sequence` [`DefectScore`]
        Defect scores per detector.
    full_geometry : `bool`
        Whether the run used the full geometry (the targets' condition).

    Returns
    -------
    results : `list` [`TargetResult`]
        One per target; a quantity not measured gives a NaN worst value.
    """
    results: list[TargetResult] = []
    for quantity, label, limit in (
        ("ptc_gain", "PTC gain within 0.5%", 0.005),
        ("pair_gain", "gain of the ~20 ke- pair within 1%", 0.01),
        ("read_noise", "read noise within 2%", 0.02),
    ):
        rows = comparisons.get(quantity, ())
        if not rows:
            results.append(TargetResult(label, False, math.nan, limit, full_geometry, "not measured"))
            continue
        worst, where = _worst_relative(rows)
        results.append(TargetResult(label, worst <= limit, worst, limit, full_geometry, where))
    if defect_scores:
        recall = min(s.recall for s in defect_scores)
        precision = min(s.precision for s in defect_scores)
        fp = sum(s.false_positives for s in defect_scores)
        missed = sum(s.n_true - s.n_true_found for s in defect_scores)
        results.append(
            TargetResult("defect recall 100%", recall >= 1.0, recall, 1.0, True, f"{missed} pixels missed")
        )
        results.append(
            TargetResult(
                "defect precision >= 99%", precision >= 0.99, precision, 0.99, True, f"{fp} false positives"
            )
        )
    else:
        for label, limit in (("defect recall 100%", 1.0), ("defect precision >= 99%", 0.99)):
            results.append(TargetResult(label, False, math.nan, limit, True, "not measured"))
    for quantity, rows in comparisons.items():
        if not rows:
            continue
        n_out = sum(not c.within_3_sigma for c in rows)
        worst_pull = max((abs(c.pull) if math.isfinite(c.pull) else math.inf) for c in rows)
        results.append(
            TargetResult(
                f"{quantity} within 3x expected error",
                n_out == 0,
                worst_pull,
                3.0,
                True,
                f"{n_out} of {len(rows)} amplifiers outside",
            )
        )
    return results


def split_by_vendor(
    comparisons: Mapping[str, Sequence[Comparison]],
    defect_scores: Sequence[DefectScore],
    vendor_of: Mapping[int, str],
) -> dict[str, tuple[dict[str, list[Comparison]], list[DefectScore]]]:
    """The comparisons and defect scores of each sensor vendor's detectors.

    Parameters
    ----------
    comparisons : `~collections.abc.Mapping` [`str`, `~collections.abc.Sequence` [`Comparison`]]
        Comparisons by quantity.
    defect_scores : `~collections.abc.Sequence` [`DefectScore`]
        Defect scores per detector.
    vendor_of : `~collections.abc.Mapping` [`int`, `str`]
        Vendor ("ITL", "E2V") of each detector id.

    Returns
    -------
    by_vendor : `dict` [`str`, `tuple`]
        For each vendor present, in the order of ``vendor_of``'s values:
        its comparisons by quantity (every quantity, possibly empty) and
        its defect scores.

    Raises
    ------
    KeyError
        Raised if a comparison or score is of a detector ``vendor_of``
        does not name.
    """
    vendors = list(dict.fromkeys(vendor_of.values()))
    out: dict[str, tuple[dict[str, list[Comparison]], list[DefectScore]]] = {
        v: ({q: [] for q in comparisons}, []) for v in vendors
    }
    for quantity, rows in comparisons.items():
        for c in rows:
            out[vendor_of[c.detector]][0][quantity].append(c)
    for score in defect_scores:
        out[vendor_of[score.detector]][1].append(score)
    return {v: values for v, values in out.items() if any(values[0].values()) or values[1]}


def check_targets_by_vendor(
    comparisons: Mapping[str, Sequence[Comparison]],
    defect_scores: Sequence[DefectScore],
    vendor_of: Mapping[int, str],
    *,
    full_geometry: bool,
) -> dict[str, list[TargetResult]]:
    """Check every target on each sensor vendor's amplifiers separately.

    Parameters
    ----------
    comparisons : `~collections.abc.Mapping` [`str`, `~collections.abc.Sequence` [`Comparison`]]
        Comparisons by quantity, of every detector.
    defect_scores : `~collections.abc.Sequence` [`DefectScore`]
        Defect scores per detector.
    vendor_of : `~collections.abc.Mapping` [`int`, `str`]
        Vendor of each detector id.
    full_geometry : `bool`
        Whether the run used the full geometry.

    Returns
    -------
    results : `dict` [`str`, `list` [`TargetResult`]]
        The targets of `check_targets` for each vendor present, in the
        order of ``vendor_of``'s values.
    """
    return {
        vendor: check_targets(rows, scores, full_geometry=full_geometry)
        for vendor, (rows, scores) in split_by_vendor(comparisons, defect_scores, vendor_of).items()
    }
