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

"""A week of simulated nights with one drifting amplifier: the script's warning and the trends page.

The session's `week` fixture runs the daily default (small counts, one
detector, reduced geometry) on five nights with R22_S00 C10's gain rising
1.5 % a day, against one simulated observatory and the session's shared
reference calibrations (minutes: simulation, ingest and four pipelines a
night). The page is built once (`page`, with texts that must be escaped)
and read by every page test; the command's process and its refusals are
tested in ``test_trends_command.py`` without the week.
"""

import contextlib
import io
import json
import logging
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from simulated_week import CONFIG, DETECTORS, DRIFTING, GAIN_DRIFT_PER_DAY, SimulatedWeek

from fixtures.headless_chromium import render_page
from fixtures.timeouts import BUILD_TIMEOUT
from lsst.ts.calibrations.repo.repository import open_repository
from lsst.ts.calibrations.report.report_page import TITLE_BAND_COLOUR
from lsst.ts.calibrations.scripts.drift_check import MIN_HISTORY_NIGHTS, DriftCheck
from lsst.ts.calibrations.scripts.run_record import RunRecord
from lsst.ts.calibrations.trends import TrendData
from lsst.ts.calibrations.trends.trends_command import main as trends_main

pytestmark = [pytest.mark.slow, pytest.mark.timeout(BUILD_TIMEOUT)]  # the week is built by the first test

DETECTOR_ID = 0


def records_by_night(week: SimulatedWeek) -> dict[int, RunRecord]:
    records = [RunRecord.read(p) for p in sorted(week.records.glob("*.json"))]
    return {DriftCheck.from_dict(r.drift).day_obs: r for r in records if r.drift}


def drift_warnings(week: SimulatedWeek, night: int) -> list[str]:
    return [
        text
        for level, text in week.logs[night]
        if level == logging.WARNING and text.startswith("Drift beyond")
    ]


HOSTILE_NOTE = "<script>alert('x')</script>"
HOSTILE_IMAGE_TYPE = "<b>BIAS</b> & more"


@pytest.fixture(scope="module")
def page(week: SimulatedWeek, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trends page of the week, built by the command's function.

    The run records are a copy of the week's in which the latest run's drift notes and bias
    verdict hold markup (`HOSTILE_NOTE`, `HOSTILE_IMAGE_TYPE`): texts the page shows and must
    escape. Its drift changes, which the page's warnings come from, are kept as they were.
    """
    out = tmp_path_factory.mktemp("trends")
    records = tmp_path_factory.mktemp("trends_records") / "run_records"
    shutil.copytree(week.records, records)
    last = max(records.glob("*.json"), key=lambda p: RunRecord.read(p).ended)
    data = json.loads(last.read_text())
    data["drift"]["notes"] = [HOSTILE_NOTE]
    data["products"]["BIAS"]["verdict"]["image_type"] = HOSTILE_IMAGE_TYPE
    last.write_text(json.dumps(data))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = trends_main(["--repo", str(week.repo), "--out", str(out), "--run-records", str(records)])
    assert code == 0
    assert printed.getvalue().strip().endswith(str(out / "trends.html"))
    return out / "trends.html"


def test_every_night_ran(week: SimulatedWeek) -> None:
    assert set(week.states.values()) == {"DONE"}, week.states
    assert sorted(records_by_night(week)) == week.nights


def test_script_warns_on_the_night_the_change_passes_the_threshold(week: SimulatedWeek) -> None:
    records = records_by_night(week)
    detector, amp = DRIFTING
    first = None
    for index, night in enumerate(week.nights):
        check = DriftCheck.from_dict(records[night].drift)
        warnings = drift_warnings(week, night)
        # The warnings, the record and the rule agree, and no other amplifier is ever named.
        assert len(warnings) == len(check.flagged)
        assert all(f"detector {DETECTOR_ID} amplifier {amp} gain" in w for w in warnings), warnings
        assert [(c.detector, c.amp, c.quantity) for c in check.flagged] in ([], [(DETECTOR_ID, amp, "gain")])
        if index == 0:
            assert check.notes[0].startswith("No history") and not check.changes
        if index < MIN_HISTORY_NIGHTS:
            assert not check.changes
        else:
            # Every amplifier judged for gain, read noise and dark current.
            assert {c.quantity for c in check.changes} == {"gain", "read_noise", "dark_current"}
            assert len(check.changes) == 3 * 16 * len(DETECTORS)
        gain = {c.amp: c for c in check.changes if c.quantity == "gain"}
        if amp in gain and gain[amp].change_sigma > check.threshold:
            first = index if first is None else first
            assert warnings, f"night {night}: C10 {gain[amp].change_sigma:.1f} σ without a warning"
        elif first is None:
            assert not warnings, f"night {night}: warned before the change passed the threshold"
    # The drift is caught within the week, once three nights of history exist.
    assert first is not None and MIN_HISTORY_NIGHTS <= first < len(week.nights)
    # The end-of-run summary names it too.
    summary = [text for level, text in week.logs[week.nights[first]] if level == logging.INFO]
    assert any("DRIFT detector 0 amplifier C10 gain" in line for line in summary)


def test_trend_data_measures_the_true_drift(week: SimulatedWeek) -> None:
    butler = open_repository(str(week.repo))
    try:
        data = TrendData.load(butler, instrument="LSSTComCam")
    finally:
        butler.close()
    assert data.nights == week.nights and not data.notes
    series = data.series("gain")
    assert len(series) == 16 * len(DETECTORS)
    for (detector, amp), points in series.items():
        assert [p.night for p in points] == week.nights
        assert all(p.n == CONFIG["n_flat"] // 2 and math.isfinite(p.error) and p.error > 0 for p in points)
        days = np.arange(len(points))
        values = np.array([p.value for p in points])
        slope = np.polyfit(days, values / values.mean(), 1)[0]
        expected = GAIN_DRIFT_PER_DAY if amp == DRIFTING[1] else 0.0
        # Each night's median gain is good to ~0.4 % (6 pairs): the slope over 5 nights to
        # ~0.13 %/day, so C10's 1.5 %/day and the others' 0 are told apart by more than ten times
        # that (in this week the others' slopes are at most 0.16 %/day, C10's 1.62 %/day).
        assert slope == pytest.approx(expected, abs=0.004), (amp, slope)
    for quantity in ("read_noise", "dark_current", "bias_level"):
        assert len(data.series(quantity)) == 16 * len(DETECTORS), quantity
    for night in week.nights:
        assert set(data.verification[night]) == {"bias", "dark", "flat"}


def test_page_shows_the_drifting_amplifier(page: Path, week: SimulatedWeek) -> None:
    text = page.read_text()
    start, end = text.index('<section id="out-of-band">'), text.index('<section id="latest-change">')
    table = text[start:end]
    # C10 has left its band (median ± 3 σ), further than any other amplifier's gain.
    gain_rows = [row for row in table.split("<tr>") if "Gain from flat pairs" in row]
    assert gain_rows and "<td>C10</td>" in gain_rows[0] and "R22_S00" in gain_rows[0], gain_rows
    for section in ("nights", "gain", "read_noise", "dark_current", "bias_level", "verification"):
        assert f'<section id="{section}">' in text
    assert 'id="fig-gain_R22_S00"' in text and 'id="fig-latest_change_gain"' in text
    assert (page.parent / "gain_R22_S00.png").is_file()
    # The script's warnings are on the page, night by night.
    assert "0/C10 gain" in text
    # The figures are what the page embeds.
    with Image.open(page.parent / "gain_R22_S00.png") as image:
        assert image.size == (1100, 860)


def test_values_are_escaped(page: Path) -> None:
    text = page.read_text()
    assert "<script>" not in text and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert "&lt;b&gt;BIAS&lt;/b&gt; &amp; more verification: PASSED" in text


def test_since_and_until_choose_the_nights(week: SimulatedWeek) -> None:
    butler = open_repository(str(week.repo))
    try:
        data = TrendData.load(butler, instrument="LSSTComCam", since=week.nights[1], until=week.nights[2])
    finally:
        butler.close()
    # Nights on both sides are left out.
    assert data.nights == week.nights[1:3]
    assert {p.night for p in data.points["gain"]} == set(week.nights[1:3])


def test_page_renders_in_headless_chromium(page: Path) -> None:
    screenshot = page.parent / "screenshot.png"
    dom = render_page(page, screenshot, (1280, 2400))
    assert '<h1 id="report-title">LSSTComCam calibration trends</h1>' in dom
    assert 'id="fig-gain_R22_S00"' in dom
    # The hostile note is text in the browser too, not an element.
    assert "<script>alert" not in dom and "&lt;script&gt;alert" in dom
    with Image.open(screenshot) as image:
        assert image.size == (1280, 2400)
        pixels = np.asarray(image.convert("RGB")).astype(int)
    band = np.array([int(TITLE_BAND_COLOUR[i : i + 2], 16) for i in (1, 3, 5)])
    assert (np.abs(pixels[:60] - band).sum(axis=2) <= 6).mean() > 0.5, "no title band at the top"
    # Tables and figures below the band: many colours, including the table's pass/fail cells.
    assert len(np.unique(pixels[200:].reshape(-1, 3), axis=0)) > 50
