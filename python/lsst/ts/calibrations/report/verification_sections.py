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

"""The verification on the report page: failures named at the top, the verdicts and matrices.

`failures_block` lists every failed verification test by name (image type,
detector, amplifier, test, in how many exposures) for the top of the page;
`add_verification_section` adds the ``verification`` section: per image
type the verdict by the script's rule with its arithmetic, the per-test
thresholds, and the matrix of exposures × detectors (one raft) or exposures
× rafts with each raft's detectors on demand (several rafts).
"""

__all__ = [
    "DEFAULT_THRESHOLD",
    "MAX_FAILURES_SHOWN",
    "TEST_THRESHOLDS",
    "add_verification_section",
    "failing_amps",
    "failures_block",
]

from collections.abc import Mapping, Sequence
from typing import Any

from ..repo.camera import Camera
from ..repo.verification_verdict import judge_verification
from .raft_summary import RaftSummary
from .report_data import IMAGE_TYPES, ReportData
from .report_page import ReportPage

E = ReportPage.escape
_table = ReportPage.table
_no_data = ReportPage.no_data

DEFAULT_THRESHOLD = 8
"""``number_verification_tests_threshold_<x>`` when the run record does not give it (the schema default)."""

TEST_THRESHOLDS = {
    "bias": "MEAN: |mean| < noise; NOISE: noise ≤ 1.05 × the camera's read noise; "
    "CR_NOISE: |noise − CR noise| ≤ 0.05 × CR noise (per amplifier, e⁻).",
    "dark": "MEAN: |mean| < noise; NOISE: noise ≤ 1.05 × the camera's read noise; "
    "CR_NOISE: |noise − CR noise| ≤ 0.05 × CR noise (per amplifier, e⁻).",
    "flat": "NOISE: within 5 % of the predicted noise (photon, read and flat noise); "
    "SCATTER: std/mean of the amplifier means ≤ 0.05 per detector; EXP SCATTER ≤ 0.05 over detectors.",
}
"""The per-test thresholds of the verification tasks (doc/cp/ptc_verify.rst)."""

MAX_FAILURES_SHOWN = 40
"""Verification failures listed at the top before the rest go into a ``<details>``."""


def failing_amps(data: ReportData) -> dict[str, dict[str, dict[str, set[int]]]]:
    """Failed verification tests: detector name → amplifier (or DET) → "<type> <test>" → exposures.

    Parameters
    ----------
    data : `ReportData`
        The run's products (``verify<X>ExpStats``).

    Returns
    -------
    failing : `dict` [`str`, `dict` [`str`, `dict` [`str`, `set` [`int`]]]]
        The failed tests and the exposures they failed in.
    """
    failing: dict[str, dict[str, dict[str, set[int]]]] = {}
    for kind, stats in data.verification.items():
        for exposure, summary in stats.items():
            for name, entry in summary.items():
                if not (isinstance(entry, Mapping) and name.startswith("R")):
                    continue
                for failure in entry.get("FAILURES", []):
                    amp, _, test = str(failure).partition(" ")
                    tests = failing.setdefault(name, {}).setdefault(amp, {})
                    tests.setdefault(f"{kind} {test}", set()).add(int(exposure))
    return failing


def failures_block(data: ReportData) -> str:
    """Every verification failure by name, for the top of the page.

    Parameters
    ----------
    data : `ReportData`
        The run's products.

    Returns
    -------
    html : `str`
        A block (id ``failures``) listing the failures, the first
        ``MAX_FAILURES_SHOWN`` in view and the rest in a ``<details>``; a
        line saying none failed; or "" without verification statistics.
    """
    if not data.verification:
        return ""
    lines = []
    n_exposures = {kind: len(stats) for kind, stats in data.verification.items()}
    for detector, amps in sorted(failing_amps(data).items()):
        for amp, tests in sorted(amps.items()):
            for test, exposures in sorted(tests.items()):
                kind = test.split(" ")[0]
                lines.append(
                    f"{kind}: {detector} {'' if amp == 'DET' else amp + ' '}{test.split(' ', 1)[1]}"
                    f"{' (detector test)' if amp == 'DET' else ''} in {len(exposures)} of "
                    f"{n_exposures[kind]} exposures"
                )
    for kind, stats in data.verification.items():
        for exposure, summary in stats.items():
            for failure in summary.get("FAILURES", []):
                if str(failure).startswith("EXP"):
                    lines.append(f"{kind}: exposure {exposure} {failure}")
    if not lines:
        return '<p id="failures" class="pass">Verification: no test failed.</p>'
    items = "".join(f"<li>{E(line)}</li>" for line in lines[:MAX_FAILURES_SHOWN])
    more = lines[MAX_FAILURES_SHOWN:]
    body = (
        f'<div id="failures" class="failures"><h3>Verification failures ({len(lines)})</h3><ul>{items}</ul>'
    )
    if more:
        body += (
            f"<details><summary>{len(more)} more</summary><ul>"
            + "".join(f"<li>{E(line)}</li>" for line in more)
            + "</ul></details>"
        )
    return body + "</div>"


def _threshold(data: ReportData, kind: str) -> int:
    config = data.run_record.config if data.run_record is not None else {}
    return int(config.get(f"number_verification_tests_threshold_{kind}", DEFAULT_THRESHOLD))


def add_verification_section(page: ReportPage, data: ReportData) -> None:
    """Add the ``verification`` section (see the module documentation).

    Parameters
    ----------
    page : `ReportPage`
        The page.
    data : `ReportData`
        The run's products.
    """
    if not data.verification:
        page.add_section(
            "verification", "Verification", _no_data("No verification statistics in the run's collections.")
        )
        return
    camera = Camera.instance(data.instrument)
    body = ""
    for kind in IMAGE_TYPES:
        stats = data.verification.get(kind)
        if not stats:
            body += f"<h3>{kind}</h3>" + _no_data(f"No {kind} verification.")
            continue
        detectors = sorted({k for s in stats.values() for k in s if k.startswith("R")})
        run_stats: dict[Any, Any] = {
            e: {"SUCCESS": bool(s.get("SUCCESS")), "FAILURES": list(s.get("FAILURES", []))}
            for e, s in stats.items()
        }
        run_stats["SUCCESS"] = all(v["SUCCESS"] for v in run_stats.values())
        verdict = judge_verification(run_stats, _threshold(data, kind), len(detectors), kind.upper())
        word = "PASSED" if verdict.passed else "FAILED"
        body += f"<h3>{kind}: {word}</h3><pre>{E(verdict.summary())}</pre>"
        body += f"<p>Per-test thresholds: {E(TEST_THRESHOLDS[kind])}</p>"
        if data.multi_raft:
            body += _verification_by_raft(data, stats, detectors)
        else:
            body += _table(["exposure", *detectors, "exposure verdict"], _verification_rows(stats, detectors))
    del camera
    page.add_section("verification", "Verification", body)


def _verification_cell(entry: Mapping[str, Any] | None) -> str:
    if entry is None:
        return '<td class="none">–</td>'
    if entry.get("SUCCESS"):
        return '<td class="pass">pass</td>'
    return f'<td class="fail">{E(", ".join(entry.get("FAILURES", [])) or "fail")}</td>'


def _exposure_verdict_cell(summary: Mapping[str, Any]) -> str:
    if summary.get("SUCCESS"):
        return '<td class="pass">pass</td>'
    exp_failures = [f for f in summary.get("FAILURES", []) if str(f).startswith("EXP")]
    return f'<td class="fail">{E(", ".join(exp_failures) or "fail")}</td>'


def _verification_rows(stats: Mapping[int, Mapping[str, Any]], detectors: Sequence[str]) -> list[list[str]]:
    """Exposure × detector cells: pass, or the failed tests."""
    return [
        [str(exposure)]
        + [_verification_cell(summary.get(name)) for name in detectors]
        + [_exposure_verdict_cell(summary)]
        for exposure, summary in stats.items()
    ]


def _verification_by_raft(
    data: ReportData, stats: Mapping[int, Mapping[str, Any]], detectors: Sequence[str]
) -> str:
    """Exposures × rafts (pass, or the failing detectors); each raft's detectors on demand."""
    camera = Camera.instance(data.instrument)
    summary = RaftSummary(data.instrument, data.run_detectors)
    known = {d.name for d in camera.detectors}
    by_raft = summary.raft_detectors({camera[name].id for name in detectors if name in known})
    rows = []
    for exposure, exposure_stats in stats.items():
        cells = [str(exposure)]
        for ids in by_raft.values():
            failed = [
                camera[d].name_in_raft
                for d in ids
                if camera[d].name in exposure_stats and not exposure_stats[camera[d].name].get("SUCCESS")
            ]
            present = sum(1 for d in ids if camera[d].name in exposure_stats)
            if not present:
                cells.append('<td class="none">–</td>')
            elif failed:
                cells.append(f'<td class="fail">{len(failed)} failed: {E(" ".join(failed))}</td>')
            else:
                cells.append(f'<td class="pass">{present} pass</td>')
        cells.append(_exposure_verdict_cell(exposure_stats))
        rows.append(cells)
    body = _table(["exposure", *by_raft, "exposure verdict"], rows)
    for raft, ids in by_raft.items():
        names = [camera[d].name for d in ids]
        body += (
            f'<details class="raft" data-raft="{E(raft)}"><summary>{E(raft)}: exposures × '
            f"{len(names)} detectors</summary>"
            + _table(["exposure", *names, "exposure verdict"], _verification_rows(stats, names))
            + "</details>"
        )
    return body
