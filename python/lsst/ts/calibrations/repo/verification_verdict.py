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

"""VerificationVerdict: the verdict on a verification run, by a written-down rule.

Public API
----------
``judge_verification(stats, threshold, n_detectors, image_type="") -> VerificationVerdict``
    ``stats`` is the run-level ``verify<X>Stats`` dataset (``{exposure:
    {"SUCCESS": bool, "FAILURES": ["R22_S11 C10 NOISE", ...]}, "SUCCESS":
    bool}``); ``threshold`` is ``number_verification_tests_threshold_<x>``;
    ``n_detectors`` the number of detectors processed. The result has
    ``passed`` and ``summary()`` (multi-line text for the log).

The rule (cp_verify's acceptance, as the anchor script applies it, without
counting the run-level ``SUCCESS`` key as an exposure):

* ``N_exp`` = number of exposures in ``stats`` (keys other than
  ``SUCCESS``); ``N_det`` = ``n_detectors``; ``T`` = ``threshold``;
* a test's name is the last word of a failure entry ("NOISE" in
  "R22_S11 C10 NOISE", "SCATTER" in "EXP SCATTER");
* ``f(e, t)`` = number of failure entries of test ``t`` in exposure ``e``;
* exposure ``e`` fails test ``t`` when ``f(e, t) >= T * (N_det // 2 + 1)``;
* the verification fails when, for some test ``t``, the number of exposures
  failing ``t`` is ``>= N_exp // 2 + 1`` (a majority of the exposures).
  A run with no exposures fails (nothing was verified).

Worked example: 9 detectors, T = 8, 5 exposures. An exposure fails a test
with at least 8 * (9 // 2 + 1) = 40 failures of it; the run fails when 5 // 2
+ 1 = 3 exposures fail the same test. NOISE failing 40, 41 and 45 times in
three exposures fails the run; in two exposures it passes. (The anchor
counted 6 "exposures", so it needed 4.)
"""

from __future__ import annotations

__all__ = ["VerificationVerdict", "judge_verification"]

import dataclasses
from collections import Counter
from collections.abc import Mapping
from typing import Any


@dataclasses.dataclass(frozen=True)
class VerificationVerdict:
    """The verdict on a verification run.

    Parameters
    ----------
    image_type : `str`
        "BIAS", "DARK" or "FLAT" ("" if not given).
    passed : `bool`
        True if the calibration is accepted.
    threshold : `int`
        ``T``, failures per detector per test.
    n_detectors : `int`
        ``N_det``.
    n_exposures : `int`
        ``N_exp``.
    failures_to_fail_exposure : `int`
        ``T * (N_det // 2 + 1)``: failures of one test that make an
        exposure fail it.
    exposures_to_fail_run : `int`
        ``N_exp // 2 + 1``: exposures failing one test that fail the run.
    failure_counts : `dict` [`str`, `dict` [`str`, `int`]]
        Per exposure (as text), the number of failures of each test.
    failed_exposures : `dict` [`str`, `tuple` [`str`, ...]]
        Per test, the exposures that fail it (reach
        ``failures_to_fail_exposure``).
    failed_tests : `tuple` [`str`, ...]
        Tests that fail the run.
    cp_verify_success : `bool` or `None`
        The run-level ``SUCCESS`` of cp_verify (every test of every
        exposure passed), `None` if absent.
    """

    image_type: str
    passed: bool
    threshold: int
    n_detectors: int
    n_exposures: int
    failures_to_fail_exposure: int
    exposures_to_fail_run: int
    failure_counts: dict[str, dict[str, int]]
    failed_exposures: dict[str, tuple[str, ...]]
    failed_tests: tuple[str, ...]
    cp_verify_success: bool | None

    def summary(self) -> str:
        """Return a readable multi-line summary for the log."""
        name = f"{self.image_type} verification" if self.image_type else "Verification"
        lines = [
            f"{name}: {'PASSED' if self.passed else 'FAILED'} ({self.n_exposures} exposures, "
            f"{self.n_detectors} detectors, threshold {self.threshold}).",
            f"  Rule: an exposure fails a test with >= {self.threshold} x ({self.n_detectors} // 2 + 1) = "
            f"{self.failures_to_fail_exposure} failures of it; the run fails when >= {self.n_exposures} // 2 "
            f"+ 1 = {self.exposures_to_fail_run} exposures fail the same test.",
        ]
        if self.n_exposures == 0:
            lines.append("  No exposure in the statistics: nothing was verified.")
        tests = sorted({test for counts in self.failure_counts.values() for test in counts})
        if not tests:
            lines.append("  No test failed on any exposure.")
        for test in tests:
            per_exposure = {
                exposure: counts[test] for exposure, counts in self.failure_counts.items() if test in counts
            }
            failing = self.failed_exposures.get(test, ())
            lines.append(
                f"  {test}: failures in {len(per_exposure)} exposure(s) (max {max(per_exposure.values())}); "
                f"{len(failing)} exposure(s) reach {self.failures_to_fail_exposure}"
                + (f" ({', '.join(failing)})" if failing else "")
                + (" -> fails the run" if test in self.failed_tests else "")
            )
        if self.cp_verify_success is not None:
            lines.append(f"  cp_verify run SUCCESS flag: {self.cp_verify_success}.")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-compatible dict of the fields."""
        result = dataclasses.asdict(self)
        result["failed_exposures"] = {test: list(exps) for test, exps in self.failed_exposures.items()}
        result["failed_tests"] = list(self.failed_tests)
        return result


def judge_verification(
    stats: Mapping[Any, Any], threshold: int, n_detectors: int, image_type: str = ""
) -> VerificationVerdict:
    """Judge a verification run by the documented rule (module docstring).

    Parameters
    ----------
    stats : `~collections.abc.Mapping`
        The ``verify<X>Stats`` dataset: per exposure (int or str key)
        ``{"SUCCESS": bool, "FAILURES": [str, ...]}``, plus a run-level
        ``"SUCCESS"``.
    threshold : `int`
        ``T``, ``number_verification_tests_threshold_<x>`` (>= 1).
    n_detectors : `int`
        Number of detectors processed (>= 1).
    image_type : `str`, optional
        "BIAS", "DARK" or "FLAT", for the summary.

    Returns
    -------
    verdict : `VerificationVerdict`
        The verdict.

    Raises
    ------
    ValueError
        If ``threshold`` or ``n_detectors`` is < 1, or an exposure entry
        is not a mapping with a list of ``FAILURES`` strings.
    """
    if isinstance(threshold, bool) or int(threshold) != threshold or threshold < 1:
        raise ValueError(f"threshold={threshold!r} must be an integer >= 1.")
    if isinstance(n_detectors, bool) or int(n_detectors) != n_detectors or n_detectors < 1:
        raise ValueError(f"n_detectors={n_detectors!r} must be an integer >= 1.")
    threshold = int(threshold)
    n_detectors = int(n_detectors)
    per_exposure = {str(key): value for key, value in stats.items() if str(key) != "SUCCESS"}
    run_success = stats.get("SUCCESS")
    failures_to_fail_exposure = threshold * (n_detectors // 2 + 1)
    exposures_to_fail_run = len(per_exposure) // 2 + 1
    failure_counts: dict[str, dict[str, int]] = {}
    failed_exposures: dict[str, list[str]] = {}
    for exposure, entry in per_exposure.items():
        if not isinstance(entry, Mapping):
            raise ValueError(
                f"stats[{exposure!r}] must be a mapping with SUCCESS and FAILURES, not {entry!r}."
            )
        failures = entry.get("FAILURES", [])
        if isinstance(failures, str) or not all(isinstance(item, str) for item in failures):
            raise ValueError(f"stats[{exposure!r}]['FAILURES'] must be a list of strings, not {failures!r}.")
        counts = Counter(item.split()[-1] for item in failures if item.split())
        if counts:
            failure_counts[exposure] = dict(sorted(counts.items()))
        for test, count in counts.items():
            if count >= failures_to_fail_exposure:
                failed_exposures.setdefault(test, []).append(exposure)
    failed_tests = tuple(
        sorted(
            test for test, exposures in failed_exposures.items() if len(exposures) >= exposures_to_fail_run
        )
    )
    return VerificationVerdict(
        image_type=image_type,
        passed=bool(per_exposure) and not failed_tests,
        threshold=threshold,
        n_detectors=n_detectors,
        n_exposures=len(per_exposure),
        failures_to_fail_exposure=failures_to_fail_exposure,
        exposures_to_fail_run=exposures_to_fail_run,
        failure_counts=failure_counts,
        failed_exposures={test: tuple(exps) for test, exps in sorted(failed_exposures.items())},
        failed_tests=failed_tests,
        cp_verify_success=None if run_success is None else bool(run_success),
    )
