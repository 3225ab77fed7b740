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

"""The report as a command: ``python -m lsst.ts.calibrations.report``.

Usage::

    python -m lsst.ts.calibrations.report --repo REPO (--collections C1,C2 | --run-record FILE) --out DIR

Prints the path of the HTML page; exit code 2 for bad arguments (with the
reason), 1 if the report could not be built.
"""

__all__ = ["main"]

import argparse
import sys
import time
from collections.abc import Sequence

from .build_report import build_report


def main(argv: Sequence[str] | None = None) -> int:
    """Build a report from command-line arguments.

    Parameters
    ----------
    argv : `~collections.abc.Sequence` [`str`], optional
        Arguments (``sys.argv[1:]`` if `None`).

    Returns
    -------
    code : `int`
        0 on success, 1 if building failed.
    """
    parser = argparse.ArgumentParser(
        prog="python -m lsst.ts.calibrations.report",
        description="Build the HTML report of a combined-calibrations run.",
    )
    parser.add_argument("--repo", required=True, help="butler repository (path or alias)")
    parser.add_argument(
        "--collections",
        default="",
        help="comma-separated collections of the run, searched in order",
    )
    parser.add_argument("--run-record", default=None, help="the script's run record (JSON)")
    parser.add_argument("--out", required=True, help="folder for report.html and its PNGs")
    args = parser.parse_args(argv)
    collections = [c.strip() for c in args.collections.split(",") if c.strip()]
    if not collections and args.run_record is None:
        parser.error("give --collections or --run-record: the report needs to know which run to show")
    start = time.monotonic()
    try:
        path = build_report(args.repo, collections=collections, run_record=args.run_record, out_dir=args.out)
    except Exception as e:
        print(f"Cannot build the report: {e}", file=sys.stderr)
        return 1
    print(f"Report written in {time.monotonic() - start:.1f} s: {path}")
    return 0
