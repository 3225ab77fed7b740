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

"""The drift rule and the script's drift check, on hand-made nights."""

import json
import logging
import math
from pathlib import Path

import pytest

from lsst.ts.calibrations.scripts.drift_check import (
    MIN_HISTORY_NIGHTS,
    DriftCheck,
    gain_measurements,
    load_history,
    night_of_exposures,
    run_drift_check,
    summary_statistic,
)

NIGHTS = [20241001 + i for i in range(7)]
ERROR = 0.003


def night_gains(index: int, drift: float = 0.005) -> dict:
    """Gains of two amplifiers on night ``index``: C10 rising ``drift`` a day, C11 steady."""
    return {"gain": {"0": {"C10": [1.0 + drift * index, ERROR, 10.0], "C11": [1.2, ERROR, 10.0]}}}


def test_band_ignores_a_steady_drift_and_keeps_the_statistical_floor() -> None:
    # Straight line: the night-to-night steps are all equal, so the scatter is zero and σ is the
    # statistical floor widened for the median of k nights.
    reference, sigma = DriftCheck.band([1.0, 1.005, 1.01, 1.015], [ERROR] * 4)
    assert reference == pytest.approx(1.0075)
    assert sigma == pytest.approx(ERROR * math.sqrt(1 + math.pi / 8))
    # Scatter above the floor sets σ.
    _, noisy = DriftCheck.band([1.0, 1.02, 0.98, 1.02, 0.98], [ERROR] * 5)
    assert noisy > 0.02
    assert DriftCheck.band([], []) == (pytest.approx(math.nan, nan_ok=True),) * 2


def test_flagged_first_on_the_night_the_change_passes_the_threshold() -> None:
    history: dict[int, dict] = {}
    first = None
    for index, night in enumerate(NIGHTS):
        check = DriftCheck.compare(night, night_gains(index), history, n_nights=7, threshold=3.0)
        flagged = [(c.detector, c.amp) for c in check.flagged]
        if index < MIN_HISTORY_NIGHTS:
            assert not check.changes and check.notes
        if flagged and first is None:
            first = index
        assert ("0", "C11") not in flagged and (0, "C11") not in flagged
        history[night] = check.measurements
    # Night 3: median of 1, 1.005, 1.01 is 1.005; 1.015 is 2.7 σ away. Night 4: 3.5 σ.
    assert first == 4
    history = {n: night_gains(i) for i, n in enumerate(NIGHTS[:4])}
    check = DriftCheck.compare(NIGHTS[4], night_gains(4), history, threshold=3.0)
    assert not DriftCheck.compare(NIGHTS[4], night_gains(4), history).flagged  # 3.5 σ: not beyond 4 σ
    (change,) = check.flagged
    assert (change.detector, change.amp, change.quantity) == (0, "C10", "gain")
    assert change.change_sigma == pytest.approx(0.0125 / (ERROR * math.sqrt(1 + math.pi / 8)))
    assert change.change_percent == pytest.approx(100 * 0.0125 / 1.0075)
    assert "amplifier C10 gain" in change.describe()


def test_no_history_says_so() -> None:
    check = DriftCheck.compare(NIGHTS[0], night_gains(0), {})
    assert not check.changes and not check.flagged
    assert check.notes[0].startswith("No history")
    assert "No history" in "\n".join(check.summary_lines())
    # Later nights are not history.
    assert DriftCheck.compare(NIGHTS[0], night_gains(0), {NIGHTS[1]: night_gains(1)}).history_nights == []
    nothing = DriftCheck.compare(NIGHTS[0], {}, {NIGHTS[1]: night_gains(1)})
    assert "measured no gain" in nothing.notes[0]


def test_round_trip_and_summary() -> None:
    history = {n: night_gains(i) for i, n in enumerate(NIGHTS[:5])}
    check = DriftCheck.compare(NIGHTS[5], night_gains(5), history, n_nights=4, threshold=3.0)
    assert check.history_nights == NIGHTS[1:5]
    again = DriftCheck.from_dict(json.loads(json.dumps(check.to_dict())))
    assert again.to_dict() == check.to_dict()
    assert [c.amp for c in again.flagged] == ["C10"]
    assert any(line.startswith("  DRIFT detector 0 amplifier C10") for line in check.summary_lines())
    with pytest.raises(ValueError, match="Not a drift check"):
        DriftCheck.from_dict({"changes": [{"quantity": "gain"}], "day_obs": 1})


def test_measurements_from_gain_rows_and_exposures() -> None:
    rows = [{"detector": 0, "amplifier": "C10", "gain": g} for g in (1.0, 1.02, 0.98, 1.01)] + [
        {"detector": 0, "amplifier": "C11", "gain": 1.3}
    ]
    measured = gain_measurements({"rows": rows})
    value, error, n = measured["0"]["C10"]
    assert (value, n) == (pytest.approx(1.005), 4)
    assert error == pytest.approx(summary_statistic([1.0, 1.02, 0.98, 1.01])[1])
    assert math.isnan(measured["0"]["C11"][1])
    assert night_of_exposures([2024100100003, 2024100200001]) == 20241002
    assert night_of_exposures([]) is None


def write_record(
    folder: Path, name: str, night: int, ended: str, measurements: dict, script: str = "S"
) -> Path:
    path = folder / f"{name}.json"
    path.write_text(
        json.dumps(
            {"script": script, "ended": ended, "drift": {"day_obs": night, "measurements": measurements}}
        )
    )
    return path


def test_load_history_latest_run_of_each_night(tmp_path: Path) -> None:
    write_record(tmp_path, "a", NIGHTS[0], "2024-10-01T20:00:00", night_gains(0, drift=0.1))
    write_record(tmp_path, "b", NIGHTS[0], "2024-10-01T23:00:00", night_gains(0))
    write_record(tmp_path, "c", NIGHTS[1], "2024-10-02T23:00:00", night_gains(1), script="Other")
    tonight = write_record(tmp_path, "d", NIGHTS[2], "2024-10-03T23:00:00", night_gains(2))
    (tmp_path / "broken.json").write_text("{")
    # Gains of an older record without a drift section.
    (tmp_path / "e.json").write_text(
        json.dumps(
            {
                "script": "S",
                "ended": "x",
                "exposures_processed": {"FLAT": [2024093000002]},
                "gains": {"rows": [{"detector": 0, "amplifier": "C10", "gain": 0.99}]},
            }
        )
    )
    history = load_history(tmp_path, before=NIGHTS[3], script="S", exclude=[tonight])
    assert sorted(history) == [20240930, NIGHTS[0]]
    assert history[NIGHTS[0]]["gain"]["0"]["C10"][0] == 1.0
    assert history[20240930]["gain"]["0"]["C10"][0] == 0.99
    assert load_history(tmp_path / "missing", before=None) == {}


async def test_run_drift_check_warns_per_amplifier(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("drift-test")
    caplog.set_level(logging.INFO, logger="drift-test")
    rows = [
        {"detector": 0, "amplifier": "C10", "gain": 1.03},
        {"detector": 0, "amplifier": "C11", "gain": 1.2},
    ]
    arguments = dict(
        butler=None,
        day_obs=NIGHTS[4],
        gains={"rows": rows},
        verify_collections={},
        detectors=[0],
        records_dir=tmp_path,
        script="S",
        n_nights=7,
        threshold=3.0,
        log=log,
    )
    check = await run_drift_check(**arguments)
    assert "No history" in caplog.text and not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not check.flagged
    for index, night in enumerate(NIGHTS[:4]):
        write_record(tmp_path, f"n{index}", night, f"{night}", night_gains(index))
    caplog.clear()
    check = await run_drift_check(**arguments)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "amplifier C10 gain" in warnings[0]
    assert check.history_nights == NIGHTS[:4]
    assert [c.amp for c in check.flagged] == ["C10"]
