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

"""The accuracy benchmark end to end: reduced geometry, one detector, every pipeline through pipetask.

Takes about two minutes on two cores (five ``pipetask run`` processes), hence ``slow``.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.timeouts import BUILD_TIMEOUT

# The benchmark simulates, ingests and runs five pipelines: a shared build's time.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(BUILD_TIMEOUT)]

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "accuracy.py"


def test_reduced_geometry_one_detector(tmp_path: Path) -> None:
    out = tmp_path / "accuracy.json"
    process = subprocess.run(
        [
            sys.executable,
            str(BENCHMARK),
            "--sensor-model",
            "comcam_default",
            "--geometry",
            "reduced",
            "--detectors",
            "4",
            "--seed",
            "7",
            "--n-bias",
            "5",
            "--n-dark",
            "3",
            "--workdir",
            str(tmp_path / "work"),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    for heading in (
        "== Plan",
        "== ptc_gain",
        "== pair_gain",
        "== read_noise",
        "== dark_current",
        "== Targets",
    ):
        assert heading in process.stdout
    result = json.loads(out.read_text())
    assert [s["status"] for s in result["pipelines"]] == ["ok"] * 5
    assert all(s["quanta"] for s in result["pipelines"])
    assert result["plan"]["n_bias"] == 5 and result["plan"]["detectors"] == [4]
    comparisons = result["comparisons"]
    for quantity, limit in (("ptc_gain", 0.03), ("pair_gain", 0.04), ("read_noise", 0.05)):
        rows = comparisons[quantity]
        assert len(rows) == 16
        assert all(abs(row["relative_error"]) < limit for row in rows), quantity
    assert all(row["measured"] is not None for row in comparisons["dark_current"])
    assert result["defects"][0]["recall"] == 1.0
    names = {t["name"] for t in result["targets"]}
    assert "PTC gain within 0.5%" in names and "defect precision >= 99%" in names


def test_lsstcam_vendors_reported_separately(tmp_path: Path) -> None:
    """LSSTCam's default detectors, one ITL and one e2v: each vendor's amplifiers have their own targets."""
    out = tmp_path / "accuracy.json"
    process = subprocess.run(
        [
            sys.executable,
            str(BENCHMARK),
            "--instrument",
            "LSSTCam",
            "--geometry",
            "reduced",
            "--seed",
            "3",
            "--n-bias",
            "5",
            "--n-dark",
            "3",
            "--workdir",
            str(tmp_path / "work"),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    assert "== Targets, ITL amplifiers only (16 amplifiers" in process.stdout
    assert "== Targets, E2V amplifiers only (16 amplifiers" in process.stdout
    result = json.loads(out.read_text())
    assert result["plan"]["detectors"] == [16, 94]
    assert result["vendors"] == {"16": "ITL", "94": "E2V"}
    assert [s["status"] for s in result["pipelines"]] == ["ok"] * 5
    for vendor, detector in (("ITL", 16), ("E2V", 94)):
        summaries = result["summaries_by_vendor"][vendor]
        for quantity in ("ptc_gain", "pair_gain", "read_noise", "ptc_noise", "dark_current"):
            assert summaries[quantity]["n"] == 16, (vendor, quantity)
        targets = {t["name"]: t for t in result["targets_by_vendor"][vendor]}
        assert "PTC gain within 0.5%" in targets and "dark_current within 3x expected error" in targets
        assert all(f"detector {detector} " in targets[name]["detail"] for name in ("PTC gain within 0.5%",))
        # Each vendor's figures are right to a few percent (reduced geometry, few biases and darks).
        for quantity, limit in (("ptc_gain", 0.03), ("pair_gain", 0.04), ("read_noise", 0.05)):
            assert summaries[quantity]["max_abs_relative_error"] < limit, (vendor, quantity)
        assert targets["defect recall 100%"]["verdict"] == "PASS", vendor
