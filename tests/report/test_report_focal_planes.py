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

"""The report of LSSTCam's 189 detectors and of LATISS's one, from a run record and a repository.

The products are written into a repository by `synthetic_run` (under the
pipelines' dataset types, read back by the report as after a real run) at
the reduced geometry: every combined bias, a PTC per detector, one bias
verification exposure with a failed amplifier, defects of three detectors.
The LSSTCam repository and its report are built once for the module
(about 23 s of CPU: writing 189 detectors' products and reading them back),
so the tests reading that report are marked slow; the layout and LATISS
tests are quick.
"""

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from synthetic_run import SyntheticRun, make_synthetic_run

from fixtures.headless_chromium import render_page
from lsst.ts.calibrations.repo.camera import Camera
from lsst.ts.calibrations.report import build_report
from lsst.ts.calibrations.report.amp_heat_map import HEAT_MAP_SIZE
from lsst.ts.calibrations.report.build_report import MAX_PTC_FIGURES
from lsst.ts.calibrations.report.focal_plane import FocalPlane
from lsst.ts.calibrations.report.mosaic_figure import MOSAIC_SIZE
from lsst.ts.calibrations.report.raft_overlay import FOCAL_PLANE_SIZE

LSSTCAM = Camera.instance("LSSTCam")
FAILING = ("R22_S11", "C05")
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
MAX_PAGE_MB = 8.0
"""Page size a 189-detector report must stay under."""


def sections(html: str) -> dict[str, str]:
    """Section id → HTML of the section."""
    return dict(re.findall(r'<section id="([^"]+)">(.*?)</section>', html, flags=re.S))


@pytest.fixture(scope="module")
def lsstcam_run(tmp_path_factory: pytest.TempPathFactory) -> SyntheticRun:
    return make_synthetic_run(
        tmp_path_factory.mktemp("lsstcam_run"),
        instrument="LSSTCam",
        detectors=LSSTCAM.science_detector_ids,
        failing=[FAILING],
        products=("bias",),
        n_exposures=1,
    )


@pytest.fixture(scope="module")
def lsstcam_report(lsstcam_run: SyntheticRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_report(
        lsstcam_run.repo, run_record=lsstcam_run.record, out_dir=tmp_path_factory.mktemp("lsstcam_report")
    )


def _occupancy(plane: FocalPlane) -> np.ndarray:
    """How many detectors cover each mosaic pixel."""
    count = np.zeros(plane.mosaic_shape, dtype=int)
    rows, columns = plane.binned_shape
    for detector in plane.detector_ids:
        r0, c0 = plane.detector_origin(detector)
        assert r0 >= 0 and c0 >= 0 and r0 + rows <= count.shape[0] and c0 + columns <= count.shape[1]
        count[r0 : r0 + rows, c0 : c0 + columns] += 1
    return count


@pytest.mark.parametrize(
    "plane",
    [
        FocalPlane(Camera.instance("LSSTCam")[0].geometry("reduced").detector_shape, instrument="LSSTCam"),
        FocalPlane(Camera.instance("LSSTCam")[94].geometry("full").detector_shape, instrument="LSSTCam"),
        FocalPlane.for_amplifiers("LSSTCam", amp_height=4),
    ],
    ids=["reduced", "full e2v", "amplifier grid"],
)
def test_every_lsstcam_detector_placed_once_rafts_as_the_camera_names_them(plane: FocalPlane) -> None:
    assert sorted(plane.detector_ids) == list(range(189))
    count = _occupancy(plane)
    assert count.max() == 1, "detectors overlap"
    assert count.sum() == 189 * plane.binned_shape[0] * plane.binned_shape[1]
    # Rafts: 5 × 5 with R<row><column> (row 0 at the bottom); the corners hold no science detector.
    assert plane.n_rafts == (5, 5) and plane.multi_raft
    raft_rows, raft_columns = plane.raft_shape
    for raft, (row, column) in plane.rafts.items():
        assert (row, column) == (int(raft[1]), int(raft[2]))
        r0, c0 = plane.raft_origin(raft)
        inside = count[r0 : r0 + raft_rows, c0 : c0 + raft_columns].sum()
        corner = raft in ("R00", "R04", "R40", "R44")
        assert (inside == 0) if corner else (inside == 9 * plane.binned_shape[0] * plane.binned_shape[1]), (
            raft
        )
    # Each detector in its raft at S<row><column>; rafts in the camera's order go up the focal plane.
    for detector in LSSTCAM.science_detectors:
        r0, c0 = plane.detector_origin(detector.id)
        raft_r0, raft_c0 = plane.raft_origin(detector.raft)
        row, column = int(detector.name_in_raft[1]), int(detector.name_in_raft[2])
        assert (r0 - raft_r0, c0 - raft_c0) == (
            row * (plane.binned_shape[0] + plane.gap),
            column * (plane.binned_shape[1] + plane.gap),
        ), detector.name
    origins = [plane.raft_origin(raft) for raft in LSSTCAM.rafts]
    assert origins == sorted(origins)
    assert plane.mosaic_shape[0] <= 1700 and plane.mosaic_shape[1] <= 1700


def test_itl_and_e2v_images_fit_one_layout() -> None:
    itl, e2v = LSSTCAM[0].geometry("reduced"), LSSTCAM[94].geometry("reduced")
    assert itl.detector_shape != e2v.detector_shape
    plane = FocalPlane(itl.detector_shape, instrument="LSSTCam")
    for shape in (itl.detector_shape, e2v.detector_shape):
        binned = plane.bin_image(np.full(shape, 3.0, dtype=np.float32))
        assert binned.shape == plane.binned_shape and np.all(binned == 3.0)
    mosaic = plane.mosaic({0: np.ones(itl.detector_shape), 94: np.ones(e2v.detector_shape)})
    assert np.isfinite(mosaic).sum() == 2 * plane.binned_shape[0] * plane.binned_shape[1]


def test_single_raft_layouts_are_unchanged() -> None:
    assert FocalPlane.amp_grid({}).shape == (8, 26)
    assert FocalPlane.amp_cell(4, "C10") == (4, 9) and FocalPlane.amp_cell(8, "C00") == (6, 25)
    plane = FocalPlane((512, 1024))
    assert plane.bin_factor == 4 and plane.mosaic_shape == (392, 776) and not plane.multi_raft
    latiss = FocalPlane((512, 1024), instrument="LATISS")
    assert latiss.mosaic_shape == latiss.binned_shape and latiss.detector_ids == (0,)


@pytest.mark.slow
def test_lsstcam_report_summarises_rafts_in_camera_order(lsstcam_report: Path) -> None:
    html = lsstcam_report.read_text()
    found = sections(html)
    assert tuple(found) == ("run", "rafts", *SECTIONS[1:])
    summary = re.search(r'<table id="raft-summary">(.*?)</table>', found["rafts"], flags=re.S)
    assert summary is not None
    rows = re.findall(
        r"<tr><td>(R\d\d)</td><td>(ITL|e2v)</td><td>(\d+)</td><td>(\d+)</td><td[^>]*>(\d+)</td>", summary[1]
    )
    assert [r[0] for r in rows] == list(LSSTCAM.rafts)
    for raft, vendor, in_run, with_products, failing in rows:
        expected_vendor = next(d.vendor for d in LSSTCAM.science_detectors if d.raft == raft)
        assert vendor == ("e2v" if expected_vendor == "E2V" else "ITL"), raft
        assert (in_run, with_products) == ("9", "9"), raft
        assert failing == ("1" if raft == "R22" else "0"), raft
    # Each raft's detectors on demand, in order, with every detector named.
    details = re.findall(r'<details class="raft" data-raft="(R\d\d)">(.*?)</details>', found["rafts"], re.S)
    assert [raft for raft, _ in details] == list(LSSTCAM.rafts)
    for raft, body in details:
        assert sorted(re.findall(rf"<td>({raft}_S\d\d)</td>", body)) == sorted(
            d.name for d in LSSTCAM.science_detectors if d.raft == raft
        )
    # The per-amplifier tables are raft summaries too, the amplifier rows inside <details>.
    gain = found["gain"]
    assert gain.count('<details class="raft"') == 21
    assert len(re.findall(r"<tr><td>R\d\d_S\d\d</td><td>C\d\d</td>", gain)) == 189 * 16
    top = gain.split("<details")[0]
    assert "<td>C10</td>" not in top, "amplifier rows outside <details>"


@pytest.mark.slow
def test_failed_amplifier_named_at_the_top(lsstcam_report: Path) -> None:
    html = lsstcam_report.read_text()
    run = sections(html)["run"]
    first = run.split("</h2>", 1)[1].lstrip()
    assert first.startswith('<div id="failures"')
    assert f"bias: {FAILING[0]} {FAILING[1]} NOISE in 1 of 1 exposures" in first.split("</div>")[0]
    # The verification matrix is exposures × rafts, R22 failing with its detector named.
    verification = sections(html)["verification"]
    assert '<td class="fail">1 failed: S11</td>' in verification
    assert verification.count('<td class="pass">9 pass</td>') == 20


@pytest.mark.slow
def test_lsstcam_figures_and_page_size(lsstcam_report: Path) -> None:
    out = lsstcam_report.parent
    names = {p.stem for p in out.glob("*.png")}
    assert {"mosaic_bias", "defects", "gain_ptc", "read_noise", "timeline"} <= names
    assert len([n for n in names if n.startswith("ptc_")]) == MAX_PTC_FIGURES
    for name in ("mosaic_bias", "defects", "gain_ptc", "read_noise"):
        with Image.open(out / f"{name}.png") as image:
            assert image.size == FOCAL_PLANE_SIZE, name
            pixels = np.asarray(image.convert("RGB")).astype(int)
        assert pixels.std() > 5, f"{name} is blank"
        # Both vendors' raft outlines are drawn.
        for colour in ((0xE6, 0x55, 0x0D), (0x31, 0x82, 0xBD)):
            assert (np.abs(pixels - colour).sum(axis=2) < 30).sum() > 500, (name, colour)
    assert lsstcam_report.stat().st_size / 1e6 < MAX_PAGE_MB


@pytest.mark.slow
def test_latiss_report_is_one_detector(tmp_path: Path) -> None:
    run = make_synthetic_run(
        tmp_path / "latiss", instrument="LATISS", detectors=[0], failing=[("RXX_S00", "C10")], n_exposures=2
    )
    path = build_report(run.repo, run_record=run.record, out_dir=tmp_path / "out")
    html = path.read_text()
    found = sections(html)
    assert tuple(found) == SECTIONS
    assert '<h1 id="report-title">LATISS calibration run report</h1>' in html
    assert "bias: RXX_S00 C10 NOISE in 1 of 2 exposures" in found["run"]
    assert "<th>RXX_S00</th>" in found["verification"]
    assert len(re.findall(r"<tr><td>RXX_S00</td><td>C\d\d</td>", found["gain"])) == 16
    assert "<details" not in html
    for name, size in (
        ("mosaic_bias", MOSAIC_SIZE),
        ("dark_current", HEAT_MAP_SIZE),
        ("gain_ptc", HEAT_MAP_SIZE),
    ):
        with Image.open(tmp_path / "out" / f"{name}.png") as image:
            assert image.size == size, name
            assert np.asarray(image.convert("L")).std() > 5, name
    for section in ("mosaics", "dark-current", "ptc"):
        assert 'class="nodata"' not in found[section], section


@pytest.mark.slow
def test_lsstcam_page_renders_in_headless_chromium(lsstcam_report: Path) -> None:
    screenshot = lsstcam_report.parent / "screenshot.png"
    dom = render_page(lsstcam_report, screenshot, (1280, 2400))
    assert '<h1 id="report-title">LSSTCam calibration run report</h1>' in dom
    assert 'id="raft-summary"' in dom and dom.count('<details class="raft"') >= 21 * 3
    with Image.open(screenshot) as image:
        pixels = np.asarray(image.convert("RGB")).astype(int)
    assert pixels.std() > 10, "the screenshot is blank"
    # The failures block and the raft table are drawn, not hidden: no page is one colour below the band.
    assert len(np.unique(pixels[200:].reshape(-1, 3), axis=0)) > 50
