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

"""The calibration run report built from a repository processed by the real pipelines.

The session's `calibration_run` (two reduced-geometry detectors, R22_S00 and
R22_S11: 3 biases, 2 darks and 5 flat pairs simulated, ingested and processed
by ``pipetask``: cpBias, cpDark, cpFlat certified; cpPtc; findDefects;
verifyBias/Dark/Flat) is shared with the pipeline tests; the report is built
from its collections and from a run record, and its page is rendered in
headless Chromium.
"""

import base64
import datetime
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from fixtures.headless_chromium import render_page
from fixtures.repositories import CalibrationRun
from fixtures.timeouts import PROCESS_TIMEOUT
from lsst.ts.calibrations.report import build_report
from lsst.ts.calibrations.report.amp_heat_map import HEAT_MAP_SIZE
from lsst.ts.calibrations.report.mosaic_figure import MOSAIC_SIZE
from lsst.ts.calibrations.report.ptc_figure import PTC_SIZE
from lsst.ts.calibrations.report.report_page import TITLE_BAND_COLOUR
from lsst.ts.calibrations.report.timeline_figure import TIMELINE_SIZE
from lsst.ts.calibrations.scripts.certification_record import CertificationRecord
from lsst.ts.calibrations.scripts.product_outcome import ProductOutcome, ProductStatus
from lsst.ts.calibrations.scripts.run_record import RunRecord

DETECTORS = [0, 4]
SECTIONS = (
    "run",
    "mosaics",
    "defects",
    "gain",
    "noise",
    "dark-current",
    "ptc",
    "verification",
    "drift",
    "timeline",
    "certification",
)
EXPECTED_SIZES = {
    "mosaic_": MOSAIC_SIZE,
    "defects": MOSAIC_SIZE,
    "gain_": HEAT_MAP_SIZE,
    "read_noise": HEAT_MAP_SIZE,
    "dark_current": HEAT_MAP_SIZE,
    "ptc_": PTC_SIZE,
    "timeline": TIMELINE_SIZE,
}


@pytest.fixture
def repository(calibration_run: CalibrationRun) -> CalibrationRun:
    """The shared calibration run (read only)."""
    assert calibration_run.detectors == DETECTORS
    return calibration_run


def run_record(repository: CalibrationRun, state: str = "DONE") -> RunRecord:
    """The script's run record for the repository's run (jobs and certification times made up)."""
    c = repository.collections
    start = datetime.datetime(2024, 10, 24, 18, 0, tzinfo=datetime.UTC)

    def job(minutes: float, phase: str, output: str, ended: bool = True) -> dict:
        begin = start + datetime.timedelta(minutes=minutes)
        return {
            "phase": phase,
            "creationTime": begin.isoformat(),
            "startTime": (begin + datetime.timedelta(seconds=20)).isoformat(),
            "endTime": (begin + datetime.timedelta(minutes=2)).isoformat() if ended else None,
            "outputCollection": output,
        }

    validity = ("2024-10-01", "2024-11-30")
    certified_at = (start + datetime.timedelta(minutes=3, seconds=30)).isoformat()
    return RunRecord(
        script="MakeComCamCalibrations",
        index=1,
        state=state,
        reason="" if state == "DONE" else "stopped by the operator",
        config={"number_verification_tests_threshold_bias": 8},
        products={
            "BIAS": ProductOutcome(
                "BIAS",
                ProductStatus.CERTIFIED,
                jobs={"generate": "1", "verify": "2"},
                collections={"generate": c["cpBias"], "verify": c["verifyBias"]},
                certified_into=repository.calib_collection,
                validity=validity,
            ),
            "DARK": ProductOutcome(
                "DARK",
                ProductStatus.CERTIFIED,
                jobs={"generate": "3"},
                collections={"generate": c["cpDark"], "verify": c["verifyDark"]},
                certified_into=repository.calib_collection,
                validity=validity,
            ),
            "FLAT": ProductOutcome(
                "FLAT",
                ProductStatus.FAILED,
                reason="job 5 failed: pipetask exit 1",
                jobs={"generate": "5"},
                collections={"generate": c["cpFlat"], "verify": c["verifyFlat"]},
            ),
            "PTC": ProductOutcome(
                "PTC",
                ProductStatus.PENDING,
                reason="the run was stopped before",
                jobs={"generate": "6"},
                collections={"generate": c["cpPtc"]},
            ),
        },
        jobs={
            "1": job(1, "COMPLETED", c["cpBias"]),
            "2": job(3, "COMPLETED", c["verifyBias"]),
            "3": job(4, "COMPLETED", c["cpDark"]),
            "5": job(6, "ERROR", c["cpFlat"]),
            "6": job(7, "EXECUTING", c["cpPtc"], ended=False),
        },
        certifications=[
            CertificationRecord(
                dataset_type="bias",
                collection=repository.calib_collection,
                begin=validity[0],
                end=validity[1],
                input_collection=c["cpBias"],
                detectors=tuple(DETECTORS),
                time=certified_at,
            )
        ],
        timings={"elapsed": 600.0},
        exposures_left_out={"BIAS": {2024102400003: "not ingested: OODS could not ingest <b>it</b>"}},
        images_not_taken={"DARK": "no product can use them any more"},
    )


@pytest.fixture(scope="module")
def report(calibration_run: CalibrationRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    collections = [*calibration_run.collections.values(), calibration_run.calib_collection]
    return build_report(calibration_run.repo, collections=collections, out_dir=out)


def sections(html: str) -> dict[str, str]:
    """Section id → HTML of the section."""
    return dict(re.findall(r'<section id="([^"]+)">(.*?)</section>', html, flags=re.S))


def test_every_section_has_its_data(report: Path) -> None:
    html = report.read_text()
    found = sections(html)
    assert tuple(found) == SECTIONS
    # Everything was made, so no section says it has no data.
    for name in SECTIONS:
        if name not in ("timeline", "certification", "drift"):
            assert 'class="nodata"' not in found[name], name
    assert "Combined bias from u/report/cpBias/" in found["mosaics"]
    assert html.count('class="pass"') + html.count('class="fail"') >= 2 * (3 + 2 + 6)
    assert "R22_S00" in found["verification"] and "R22_S11" in found["verification"]
    # The certified bias, dark and flat with their validity range, for both detectors.
    for product in ("bias", "dark", "flat"):
        assert re.search(
            rf"<td>{product}</td><td class=\"text\">LSSTComCam/calib/report</td>"
            r"<td>2024-10-01T00:00:00</td><td>2024-11-30T00:00:00</td><td>R22_S00, R22_S11</td>",
            found["certification"],
        ), product
    # Defects and the PTC were made and not certified: said so.
    assert "Made but not certified: defects, ptc" in found["certification"]
    assert plt.get_fignums() == []


def test_images_are_pngs_of_their_size_and_embedded(report: Path) -> None:
    html = report.read_text()
    pngs = sorted(report.parent.glob("*.png"))
    names = {p.stem for p in pngs}
    assert {
        "mosaic_bias",
        "mosaic_dark",
        "mosaic_flat",
        "defects",
        "gain_ptc",
        "gain_pairs",
        "gain_pairs_spread",
        "read_noise",
        "dark_current",
        "ptc_R22_S00",
        "ptc_R22_S11",
        "timeline",
    } <= names
    embedded = {
        name: base64.b64decode(data)
        for name, data in re.findall(
            r'<img id="fig-([^"]+)" alt="[^"]*" src="data:image/png;base64,([^"]+)"', html
        )
    }
    assert set(embedded) == names
    for path in pngs:
        data = path.read_bytes()
        assert data == embedded[path.stem], path.name
        with Image.open(path) as image:
            size = next(s for prefix, s in EXPECTED_SIZES.items() if path.stem.startswith(prefix))
            assert image.format == "PNG" and image.size == size, path.name
            pixels = np.asarray(image.convert("L"))
        assert pixels.std() > 5, f"{path.name} is blank"


def test_run_record_shows_jobs_and_what_was_not_certified(repository: CalibrationRun, tmp_path: Path) -> None:
    record_path = tmp_path / "record.json"
    run_record(repository, state="STOPPED").write(record_path)
    path = build_report(repository.repo, run_record=record_path, out_dir=tmp_path / "out")
    found = sections(path.read_text())
    assert "STOPPED" in found["run"] and "stopped by the operator" in found["run"]
    # Job rows in the timeline: phases and the unfinished job.
    assert "generate FLAT (5)" in found["timeline"] and "ERROR" in found["timeline"]
    assert "generate PTC (6)" in found["timeline"] and "EXECUTING" in found["timeline"]
    assert "job 5 failed: pipetask exit 1" in found["certification"]
    assert "the run was stopped before" in found["certification"]
    assert "600.0 s" in found["run"]
    # What was left out of processing, and what was not taken, with why (escaped).
    assert "BIAS 2024102400003 left out of processing" in found["run"]
    assert "not ingested: OODS could not ingest &lt;b&gt;it&lt;/b&gt;" in found["run"]
    assert "DARK not taken" in found["run"] and "no product can use them any more" in found["run"]
    assert (tmp_path / "out" / "timeline.png").stat().st_size > 1000
    assert plt.get_fignums() == []


def test_failed_run_with_only_a_bias_says_what_is_missing(repository: CalibrationRun, tmp_path: Path) -> None:
    path = build_report(
        repository.repo, collections=[repository.collections["cpBias"], "u/no/such"], out_dir=tmp_path
    )
    found = sections(path.read_text())
    assert tuple(found) == SECTIONS
    assert "Collection u/no/such does not exist" in found["run"]
    assert 'class="nodata"' not in found["mosaics"].split("Combined bias")[1].split("<img")[0]
    assert "No combined dark" in found["mosaics"] and "No combined flat" in found["mosaics"]
    for name in ("defects", "gain", "ptc", "verification", "dark-current"):
        assert 'class="nodata"' in found[name], name
    assert {p.name for p in tmp_path.glob("*.png")} == {"mosaic_bias.png", "timeline.png"}


def test_neither_collections_nor_record_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="collections or run_record"):
        build_report(tmp_path, out_dir=tmp_path / "out", butler=_NoButler())  # type: ignore[arg-type]


class _NoButler:
    """Stands for a butler the call never reaches."""

    def close(self) -> None:
        pass


def test_command_line(repository: CalibrationRun, tmp_path: Path) -> None:
    collections = ",".join([repository.collections["cpBias"], repository.collections["verifyBias"]])
    args = [
        sys.executable,
        "-m",
        "lsst.ts.calibrations.report",
        "--repo",
        str(repository.repo),
        "--collections",
        collections,
        "--out",
        str(tmp_path),
    ]
    process = subprocess.run(args, capture_output=True, text=True, timeout=PROCESS_TIMEOUT)
    assert process.returncode == 0, process.stderr
    assert process.stdout.strip().endswith(str(tmp_path / "report.html"))
    bad = subprocess.run(
        args[:5] + ["--out", str(tmp_path)], capture_output=True, text=True, timeout=PROCESS_TIMEOUT
    )
    assert bad.returncode == 2 and "--collections or --run-record" in bad.stderr


def test_page_renders_in_headless_chromium(report: Path) -> None:
    screenshot = report.parent / "screenshot.png"
    dom = render_page(report, screenshot, (1280, 2000))
    assert '<h1 id="report-title">LSSTComCam calibration run report</h1>' in dom
    with Image.open(screenshot) as image:
        assert image.size == (1280, 2000)
        pixels = np.asarray(image.convert("RGB")).astype(int)
    assert pixels.std() > 10, "the screenshot is blank"
    band = np.array([int(TITLE_BAND_COLOUR[i : i + 2], 16) for i in (1, 3, 5)])
    top = np.abs(pixels[:60] - band).sum(axis=2) <= 6
    assert top.mean() > 0.5, "the title band is not at the top of the page"
    # The title's white text is drawn on the band.
    assert (pixels[:60].min(axis=2) > 230).sum() > 200
    # Images were decoded and drawn below the band: many grey levels.
    assert len(np.unique(pixels[200:].reshape(-1, 3), axis=0)) > 50


async def test_publish_report_announces_the_page(repository: CalibrationRun, tmp_path: Path) -> None:
    import asyncio
    import hashlib

    from lsst.ts.calibrations.sal import Domain, Remote
    from lsst.ts.calibrations.sal.testscript import TestScript
    from lsst.ts.calibrations.scripts.publish_report import publish_report

    index = 4242
    domain = Domain()
    remote = Remote(domain, "Script", index)
    script = TestScript(index=index)
    try:
        await asyncio.wait_for(remote.start_task, PROCESS_TIMEOUT)
        await asyncio.wait_for(script.start_task, PROCESS_TIMEOUT)
        record = run_record(repository).write(tmp_path / "record.json")
        path = await asyncio.wait_for(
            publish_report(script, repo=repository.repo, run_record=record, out_dir=tmp_path / "report"),
            PROCESS_TIMEOUT,
        )
        assert path == tmp_path / "report" / "report.html"
        event = await remote.evt_largeFileObjectAvailable.next(flush=False, timeout=PROCESS_TIMEOUT)
        data = path.read_bytes()
        assert event.url == path.as_uri() and event.mimeType == "text/html"
        assert event.byteSize == len(data) and event.checkSum == hashlib.md5(data).hexdigest()
        # A report that cannot be built is logged, not raised.
        assert (
            await publish_report(script, repo=tmp_path / "none", run_record=record, out_dir=tmp_path / "x")
            is None
        )
    finally:
        await script.close()
        await remote.close()
        await domain.close()
