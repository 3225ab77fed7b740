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

"""Disk used by a run's job outputs, against its raws.

Run as ``python benchmarks/disk_usage.py [--geometry reduced|full]
[--detectors 0,...,8] [--time-scale 0.02] [--small] [--workdir DIR] [--keep]
[--json FILE]``, or ``python benchmarks/disk_usage.py --measure REPO --day-obs
YYYYMMDD`` to measure a repository made earlier (every ``u/ocps/*/run``).

A run is the procedure document's daily default (no configuration; 21
biases, 21 darks, 21 flats, each with one discarded) against reference
calibrations certified in ``LSSTComCam/calib`` first, on a new repository.
It prints:

- raws: the bytes of the raw files of the run's exposures (those of its
  ``day_obs``, discarded ones included);
- new outputs: the bytes of every dataset in the runs of the run's OCPS
  jobs, by dataset type (largest first), and of the jobs' folders (logs
  and records);
- the ratio of new outputs to raws (target: at most 2).

The work folder is deleted at the end unless ``--keep`` (a daily default at
full geometry fills several GB).
"""

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from lsst.daf.butler import Butler

from lsst.ts.calibrations.sal import ScriptState
from lsst.ts.calibrations.sal.isolation import ensure_isolation_name
from lsst.ts.calibrations.scripts import MakeComCamCalibrations
from lsst.ts.calibrations.sim.observatory import SimulatedObservatory
from lsst.ts.calibrations.sim.reference_calibrations import ReferenceCalibrations

DATE = "2024-11-04"
TARGET_RATIO = 2.0


def _file_size(butler: Butler, ref: Any) -> int:
    uri = butler.getURI(ref)
    try:
        return Path(uri.ospath).stat().st_size
    except OSError:
        return 0


def measure(repo: Path, day_obs: int, jobs_root: Path | None = None) -> dict[str, Any]:
    """Return the bytes of the raws of ``day_obs`` and of every OCPS job run's datasets.

    Parameters
    ----------
    repo : `pathlib.Path`
        The repository.
    day_obs : `int`
        The run's observing day (YYYYMMDD): whose raws count.
    jobs_root : `pathlib.Path`, optional
        The OCPS jobs' folders (logs, records); ``REPO/ocps/jobs`` if None.

    Returns
    -------
    figures : `dict` [`str`, `typing.Any`]
        ``raw_bytes``, ``raw_files``, ``output_bytes``, ``output_datasets``,
        ``by_type`` (bytes per dataset type), ``job_folder_bytes``,
        ``ratio``.
    """
    with Butler.from_config(str(repo)) as butler:
        raws = butler.query_datasets(
            "raw",
            collections="LSSTComCam/raw/all",
            where=f"instrument = 'LSSTComCam' AND exposure.day_obs = {day_obs}",
            explain=False,
            limit=None,
        )
        raw_bytes = sum(_file_size(butler, ref) for ref in raws)
        runs = [name for name in butler.collections.query("u/ocps/*/run")]
        by_type: Counter[str] = Counter()
        counts: Counter[str] = Counter()
        if runs:
            for dataset_type in butler.registry.queryDatasetTypes(...):
                refs = butler.query_datasets(
                    dataset_type, collections=runs, find_first=False, explain=False, limit=None
                )
                for ref in refs:
                    by_type[dataset_type.name] += _file_size(butler, ref)
                    counts[dataset_type.name] += 1
    jobs_root = jobs_root if jobs_root is not None else repo / "ocps" / "jobs"
    job_bytes = (
        sum(p.stat().st_size for p in jobs_root.rglob("*") if p.is_file()) if jobs_root.is_dir() else 0
    )
    output_bytes = sum(by_type.values())
    return {
        "raw_files": len(raws),
        "raw_bytes": raw_bytes,
        "jobs": len(runs),
        "output_datasets": sum(counts.values()),
        "output_bytes": output_bytes,
        "by_type": {name: {"bytes": size, "datasets": counts[name]} for name, size in by_type.most_common()},
        "job_folder_bytes": job_bytes,
        "ratio": output_bytes / raw_bytes if raw_bytes else float("nan"),
    }


def report(figures: dict[str, Any]) -> None:
    """Print the figures."""
    mb = 1e6
    print(f"raws: {figures['raw_files']} files, {figures['raw_bytes'] / mb:.1f} MB")
    print(
        f"new outputs: {figures['output_datasets']} datasets in {figures['jobs']} job runs, "
        f"{figures['output_bytes'] / mb:.1f} MB; job folders (logs, records) "
        f"{figures['job_folder_bytes'] / mb:.1f} MB"
    )
    for name, entry in figures["by_type"].items():
        if entry["bytes"] >= 0.001 * figures["output_bytes"]:
            print(f"  {name:28s} {entry['datasets']:5d} datasets {entry['bytes'] / mb:9.1f} MB")
    verdict = "met" if figures["ratio"] <= TARGET_RATIO else "NOT met"
    print(
        f"ratio new outputs / raws: {figures['ratio']:.2f} (target <= {TARGET_RATIO}: {verdict})", flush=True
    )


async def run_daily(args: argparse.Namespace, workdir: Path) -> tuple[Path, int, dict[str, Any]]:
    """Run the daily default on a new repository; return the repository, its day_obs and timings."""
    repo = workdir / f"repo-{args.geometry}"
    os.environ["TS_CALIBRATIONS_RUN_RECORDS"] = str(workdir / "run_records")
    detectors = [int(d) for d in args.detectors.split(",")] if args.detectors else list(range(9))
    # --small: fewer reference exposures too (they are not measured, only needed).
    counts = {"n_bias": 5, "n_dark": 5, "n_flat": 2} if args.small else {}
    references = ReferenceCalibrations(repo, detectors=detectors, geometry=args.geometry, **counts)
    began = time.monotonic()
    await asyncio.to_thread(references.make)
    print(f"reference calibrations ready in {time.monotonic() - began:.1f} s", flush=True)
    config: dict[str, Any] = {"detectors": detectors} if args.detectors else {}
    if args.small:
        config.update(n_bias=3, n_dark=2, n_flat=4)
    async with SimulatedObservatory(
        repo,
        time_scale=args.time_scale,
        date=DATE,
        geometry=args.geometry,
        detectors=detectors,
        repo_alias="/repo/LSSTComCam",
    ) as observatory:
        script = MakeComCamCalibrations(index=600)
        await script.start_task
        data = script.cmd_configure.DataType()
        data.config = yaml.safe_dump(config)
        await script.do_configure(data)
        group = script.cmd_setGroupId.DataType()
        group.groupId = "benchmark-disk"
        await script.do_setGroupId(group)
        began = time.monotonic()
        await script.do_run(None)
        wall = time.monotonic() - began
        state = ScriptState(script.state.state)
        print(f"daily default: {state.name} in {wall:.1f} s", flush=True)
        if state != ScriptState.DONE:
            print(f"  reason: {script.state.reason}", flush=True)
        taken = [e for ids in script.taken.values() for e in ids]
        jobs_root = observatory.ocps.jobs_root if observatory.ocps is not None else None
    day_obs = taken[0] // 100_000 if taken else 0
    return repo, day_obs, {"state": state.name, "run_s": round(wall, 1), "jobs_root": jobs_root}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--geometry", choices=("reduced", "full"), default="reduced")
    parser.add_argument("--detectors", default="", help="Comma-separated detector ids (default: all nine).")
    parser.add_argument("--time-scale", type=float, default=0.02)
    parser.add_argument(
        "--small", action="store_true", help="3 biases, 2 darks, 4 flats, small references: a quick check."
    )
    parser.add_argument("--workdir", default="")
    parser.add_argument("--keep", action="store_true", help="Keep the work folder.")
    parser.add_argument("--measure", default="", help="Measure this existing repository instead of running.")
    parser.add_argument("--day-obs", type=int, default=0, help="With --measure: the run's day_obs.")
    parser.add_argument("--json", default="", help="Write the figures to this file.")
    args = parser.parse_args()
    if args.measure:
        if not args.day_obs:
            parser.error("--measure needs --day-obs (YYYYMMDD of the run's raws)")
        figures = measure(Path(args.measure), args.day_obs)
        report(figures)
    else:
        print(
            f"disk_usage: daily default, {args.geometry} geometry, detectors "
            f"{args.detectors or 'all'}, time scale {args.time_scale}",
            flush=True,
        )
        # A private SAL isolation name: another observatory on this machine never sees this run.
        ensure_isolation_name("disk")
        workdir = Path(args.workdir or tempfile.mkdtemp(prefix="disk_bench_"))
        try:
            repo, day_obs, run = asyncio.run(run_daily(args, workdir))
            figures = measure(repo, day_obs, run.pop("jobs_root"))
            figures.update(run)
            report(figures)
        finally:
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0 if figures["ratio"] <= TARGET_RATIO and figures.get("state", "DONE") == "DONE" else 1


if __name__ == "__main__":
    sys.exit(main())
