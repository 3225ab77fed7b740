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

"""The trends page as a command: ``calibration_trends`` (``python -m lsst.ts.calibrations.trends``).

Usage::

    calibration_trends --repo PATH [--since DATE] [--until DATE] [--instrument NAME] --out DIR
        [--run-records DIR_OR_FILE ...] [--nights N] [--threshold SIGMA]

Dates are ``YYYY-MM-DD`` or ``YYYYMMDD`` (nights, day_obs). Prints the path
of the page and how long reading and building took; exit code 2 for bad
arguments (with the reason), 1 if the page could not be built.
"""

__all__ = ["main"]

import argparse
import sys
import time
from collections.abc import Sequence

from ..scripts.drift_check import DEFAULT_DRIFT_NIGHTS
from .build_trends import BAND_SIGMA, build_trends
from .trend_data import parse_day_obs


def main(argv: Sequence[str] | None = None) -> int:
    """Build the trends page from command-line arguments.

    Parameters
    ----------
    argv : `~collections.abc.Sequence` [`str`], optional
        Arguments (``sys.argv[1:]`` if `None`).

    Returns
    -------
    code : `int`
        0 on success, 1 if building failed (2 for bad arguments, by argparse).
    """
    parser = argparse.ArgumentParser(
        prog="calibration_trends",
        description="Build the HTML page of calibration trends across nights: per amplifier, gains, read "
        "noise, dark current, bias level and verification, with the band of recent nights.",
    )
    parser.add_argument("--repo", required=True, help="butler repository (path or alias)")
    parser.add_argument(
        "--since", default=None, help="first night, YYYY-MM-DD or YYYYMMDD (default: the first)"
    )
    parser.add_argument(
        "--until", default=None, help="last night, YYYY-MM-DD or YYYYMMDD (default: the last)"
    )
    parser.add_argument("--instrument", default="LSSTComCam", help="instrument name (default LSSTComCam)")
    parser.add_argument("--out", required=True, help="folder for trends.html and its PNGs")
    parser.add_argument(
        "--run-records",
        nargs="*",
        default=[],
        metavar="PATH",
        help="run record files or folders of them: the script's verdicts and drift checks on the page "
        "(default: REPO/run_records if it exists)",
    )
    parser.add_argument(
        "--nights",
        type=int,
        default=DEFAULT_DRIFT_NIGHTS,
        help=f"nights of history of a band (default {DEFAULT_DRIFT_NIGHTS})",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=BAND_SIGMA,
        help=f"half-width of a band in σ (default {BAND_SIGMA:g})",
    )
    args = parser.parse_args(argv)
    try:
        since, until = parse_day_obs(args.since), parse_day_obs(args.until)
    except ValueError as e:
        parser.error(f"--since/--until: {e}")
    if since is not None and until is not None and since > until:
        parser.error(f"--since {args.since} is after --until {args.until}")
    if args.nights < 1:
        parser.error(f"--nights {args.nights}: give at least 1")
    if not args.threshold > 0:
        parser.error(f"--threshold {args.threshold}: give a number of σ > 0")
    start = time.monotonic()
    try:
        path = build_trends(
            args.repo,
            args.out,
            since=since,
            until=until,
            instrument=args.instrument,
            run_records=args.run_records,
            n_nights=args.nights,
            threshold=args.threshold,
        )
    except Exception as e:
        print(f"Cannot build the trends page: {e}", file=sys.stderr)
        return 1
    print(f"Trends page written in {time.monotonic() - start:.1f} s: {path}")
    return 0
