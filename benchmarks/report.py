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

Usage::

    python benchmarks/report.py [--work DIR] [--repeats 3] [--json OUT]
"""

__all__ = ["main"]

import argparse
import json
import pickle
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from fixtures.repositories import CalibrationRun, make_calibration_run  # noqa: E402
from lsst.ts.calibrations.report import build_report  # noqa: E402

N_KEPT = 20
"""Images of each type kept by the daily default (21 taken, the first discarded)."""

FLAT_TIME = 5.0
"""Exposure time of the daily default's darks and flats (s)."""


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, default=None, help="folder for the repository (kept, reused)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="report_benchmark_"))
    work.mkdir(parents=True, exist_ok=True)
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
