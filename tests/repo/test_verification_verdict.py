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

"""The verification verdict: the documented formula, its worked example and edge cases."""

import json

import pytest

from lsst.ts.calibrations.repo.verification_verdict import judge_verification

AMPS = [f"C1{i}" for i in range(8)] + [f"C0{i}" for i in range(8)]
DETECTORS = [f"R22_S{r}{c}" for r in range(3) for c in range(3)]


def noise_failures(n: int) -> list[str]:
    """``n`` NOISE failures spread over detectors and amplifiers."""
    entries = [f"{det} {amp} NOISE" for det in DETECTORS for amp in AMPS]
    return entries[:n]


def stats_with(counts: list[int], extra: list[str] | None = None) -> dict:
    stats: dict = {}
    for i, count in enumerate(counts):
        failures = noise_failures(count) + (extra or [])
        stats[2024102400010 + i] = {"SUCCESS": not failures, "FAILURES": failures}
    stats["SUCCESS"] = all(entry["SUCCESS"] for entry in stats.values())
    return stats


def test_worked_example() -> None:
    # 9 detectors, T = 8, 5 exposures: 40 failures fail an exposure, 3 exposures fail the run.
    verdict = judge_verification(stats_with([40, 41, 45, 39, 0]), 8, 9, "BIAS")
    assert (verdict.failures_to_fail_exposure, verdict.exposures_to_fail_run) == (40, 3)
    assert not verdict.passed and verdict.failed_tests == ("NOISE",)
    assert verdict.failed_exposures["NOISE"] == ("2024102400010", "2024102400011", "2024102400012")
    verdict = judge_verification(stats_with([40, 41, 39, 39, 0]), 8, 9, "BIAS")
    assert verdict.passed and verdict.failed_tests == ()
    assert verdict.cp_verify_success is False
    summary = verdict.summary()
    assert summary.splitlines()[0] == "BIAS verification: PASSED (5 exposures, 9 detectors, threshold 8)."
    assert ">= 8 x (9 // 2 + 1) = 40 failures" in summary and ">= 5 // 2 + 1 = 3 exposures" in summary
    assert "NOISE: failures in 4 exposure(s) (max 41); 2 exposure(s) reach 40" in summary


def test_success_key_is_not_an_exposure() -> None:
    # 5 exposures plus the run-level SUCCESS key: the anchor counted 6 and needed 4 exposures.
    stats = stats_with([40, 40, 40, 0, 0])
    assert len(stats) == 6
    verdict = judge_verification(stats, 8, 9)
    assert verdict.n_exposures == 5 and not verdict.passed
    # String keys (the dataset read back from JSON) are the same exposures.
    assert judge_verification(json.loads(json.dumps(stats)), 8, 9) == verdict


def test_boundaries_per_test() -> None:
    # Failures of different tests do not add up.
    stats = {
        1: {"SUCCESS": False, "FAILURES": noise_failures(20) + [f"R22_S00 {a} MEAN" for a in AMPS] * 2},
        2: {"SUCCESS": False, "FAILURES": noise_failures(20) + [f"R22_S00 {a} MEAN" for a in AMPS] * 2},
    }
    verdict = judge_verification(stats, 8, 9)
    assert verdict.passed and verdict.failure_counts["1"] == {"MEAN": 32, "NOISE": 20}
    # One detector processed: threshold x 1; two exposures: both must fail.
    stats = {1: {"SUCCESS": False, "FAILURES": noise_failures(3)}, 2: {"SUCCESS": True, "FAILURES": []}}
    assert judge_verification(stats, 3, 1).passed
    stats[2] = {"SUCCESS": False, "FAILURES": noise_failures(3)}
    assert not judge_verification(stats, 3, 1).passed
    assert judge_verification(stats, 4, 1).passed


def test_exposure_and_detector_level_failures() -> None:
    stats = {e: {"SUCCESS": False, "FAILURES": ["EXP SCATTER", "R22_S11 DET SCATTER"]} for e in (1, 2, 3)}
    verdict = judge_verification(stats, 1, 1)
    assert verdict.failure_counts["1"] == {"SCATTER": 2}
    assert not verdict.passed and verdict.failed_tests == ("SCATTER",)
    assert judge_verification(stats, 2, 3).passed


def test_no_exposure_fails_and_clean_run_passes() -> None:
    verdict = judge_verification({"SUCCESS": True}, 8, 9, "DARK")
    assert not verdict.passed and "nothing was verified" in verdict.summary()
    verdict = judge_verification(stats_with([0, 0, 0]), 8, 9, "DARK")
    assert verdict.passed and verdict.cp_verify_success is True
    assert "No test failed on any exposure." in verdict.summary()
    assert verdict.to_dict()["failed_tests"] == []


@pytest.mark.parametrize(
    "stats, threshold, n_detectors, message",
    [
        ({}, 0, 9, "threshold=0 must be an integer >= 1"),
        ({}, 8, 0, "n_detectors=0 must be an integer >= 1"),
        ({1: ["x"]}, 8, 9, r"stats\['1'\] must be a mapping"),
        ({1: {"FAILURES": "R22_S00 C10 NOISE"}}, 8, 9, "must be a list of strings"),
    ],
)
def test_bad_arguments(stats: dict, threshold: int, n_detectors: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        judge_verification(stats, threshold, n_detectors)
