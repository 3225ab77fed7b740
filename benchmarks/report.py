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

"""Benchmark the run report on a daily-default-sized run at reduced geometry.

The daily default of the procedure document: 20 biases, 20 darks of 5 s and
20 flats of 5 s (10 pairs) kept, all nine detectors. The run is simulated,
ingested and processed with the real pipelines once (cpBias, cpDark, cpFlat
certified; gains from the 10 flat pairs; verifyBias/Dark/Flat), into
``--work`` (kept and reused when it already holds the repository); then the
report is built ``--repeats`` times and the time of each build printed with
the number of figures and the page size. Target: under 20 s.

With ``--focal-planes``, the report's cost by the size of the run instead:
LSSTCam runs of 1 detector (R22_S11), 9 (the raft R22) and 189 (every
science detector) at the reduced geometry, their products written into a
repository as the pipelines would (``tests/report/synthetic_run.py``:
combined bias, dark and flat, a PTC per detector, three bias verification
exposures, defects), each report built ``--repeats`` times in a row; printed
per size: wall and CPU time of each build (median), the page's size, the
PNGs' total size, and the load average.

Usage::

    python benchmarks/report.py [--work DIR] [--repeats 3] [--json OUT]
    python benchmarks/report.py --focal-planes [--sizes 1,9,189] [--work DIR] [--repeats 3] [--json OUT]
"""

__all__ = ["main"]

import argparse
import json
import os
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "report"))

from synthetic_run import make_synthetic_run  # noqa: E402

from fixtures.repositories import CalibrationRun, make_calibration_run  # noqa: E402
from lsst.ts.calibrations.repo.camera import Camera  # noqa: E402
from lsst.ts.calibrations.report import build_report  # noqa: E402

N_KEPT = 20
"""Images of each type kept by the daily default (21 taken, the first discarded)."""

FLAT_TIME = 5.0
"""Exposure time of the daily default's darks and flats (s)."""


def _detectors(size: int) -> list[int]:
    """LSSTCam detectors of a run of ``size``: R22_S11, the raft R22, or the first ``size`` science ones."""
    camera = Camera.instance("LSSTCam")
    if size == 1:
        return [camera["R22_S11"].id]
    if size == 9:
        return [d.id for d in camera.science_detectors if d.raft == "R22"]
    return list(camera.science_detector_ids[:size])


def focal_planes(work: Path, sizes: list[int], repeats: int) -> dict[str, dict[str, object]]:
    """Build reports of LSSTCam runs of several sizes; return the figures by size."""
    results: dict[str, dict[str, object]] = {}
    for size in sizes:
        root = work / f"lsstcam_{size}"
        if not (root / "repo" / "butler.yaml").is_file():
            root.mkdir(parents=True, exist_ok=True)
            start = time.monotonic()
            run = make_synthetic_run(
                root,
                instrument="LSSTCam",
                detectors=_detectors(size),
                failing=[("R22_S11", "C05")],
                products=("bias", "dark", "flat"),
                n_exposures=3,
            )
            run.record.write(root / "record.json")
            print(f"{size} detectors: products written in {time.monotonic() - start:.1f} s")
        walls, cpus = [], []
        for repeat in range(repeats):
            out = root / f"report_{repeat}"
            load = os.getloadavg()[0]
            wall0, cpu0 = time.monotonic(), time.process_time()
            path = build_report(root / "repo", run_record=root / "record.json", out_dir=out)
            walls.append(time.monotonic() - wall0)
            cpus.append(time.process_time() - cpu0)
            print(f"  report {repeat + 1}: {walls[-1]:.2f} s wall, {cpus[-1]:.2f} s CPU (load {load:.1f})")
        pngs = list(path.parent.glob("*.png"))
        figures = {
            "detectors": size,
            "wall_s": walls,
            "cpu_s": cpus,
            "median_wall_s": statistics.median(walls),
            "median_cpu_s": statistics.median(cpus),
            "page_mb": path.stat().st_size / 1e6,
            "png_mb": sum(p.stat().st_size for p in pngs) / 1e6,
            "figures": len(pngs),
            "load_average": os.getloadavg()[0],
        }
        print(
            f"{size} detectors: median {figures['median_wall_s']:.2f} s wall, "
            f"{figures['median_cpu_s']:.2f} s CPU; page {figures['page_mb']:.2f} MB, "
            f"{len(pngs)} PNGs {figures['png_mb']:.2f} MB; load {figures['load_average']:.1f}"
        )
        results[str(size)] = figures
    return results


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, default=None, help="folder for the repository (kept, reused)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="write the figures as JSON here")
    parser.add_argument(
        "--focal-planes", action="store_true", help="LSSTCam runs of --sizes detectors (synthetic products)"
    )
    parser.add_argument("--sizes", default="1,9,189", help="detectors per run, with --focal-planes")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="report_benchmark_"))
    work.mkdir(parents=True, exist_ok=True)
    if args.focal_planes:
        sizes = [int(n) for n in args.sizes.split(",")]
        results = focal_planes(work, sizes, args.repeats)
        if args.json is not None:
            args.json.write_text(json.dumps(results, indent=2))
        return
    state = work / "repository.pickle"
    if state.is_file():
        repository: CalibrationRun = pickle.loads(state.read_bytes())
        print(f"Reusing the processed run in {repository.repo}")
    else:
        repository = make_calibration_run(
            work,
            detectors=list(range(9)),
            n_bias=N_KEPT,
            n_dark=N_KEPT,
            dark_time=FLAT_TIME,
            flat_times=[FLAT_TIME] * (N_KEPT // 2),
            ptc=False,
            defects=False,
        )
        state.write_bytes(pickle.dumps(repository))
        steps = ", ".join(f"{k} {v:.0f} s" for k, v in repository.seconds.items())
        print(f"Simulated, ingested and processed the run: {steps}")
    collections = [*repository.collections.values(), repository.calib_collection]
    times = []
    for repeat in range(args.repeats):
        start = time.monotonic()
        path = build_report(repository.repo, collections=collections, out_dir=work / f"report_{repeat}")
        times.append(time.monotonic() - start)
        print(f"report {repeat + 1}: {times[-1]:.2f} s")
    n_figures = len(list(path.parent.glob("*.png")))
    size = path.stat().st_size / 1e6
    print(
        f"Report of 9 detectors, {3 * N_KEPT} exposures: best {min(times):.2f} s, worst {max(times):.2f} s "
        f"(target < 20 s); {n_figures} figures; page {size:.1f} MB: {path}"
    )
    if args.json is not None:
        args.json.write_text(json.dumps({"seconds": times, "figures": n_figures, "page_mb": size}, indent=2))


if __name__ == "__main__":
    main()
