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

"""End-to-end timing of make_comcam_calibrations against the simulated observatory.

Run as ``python benchmarks/end_to_end.py [--time-scale 1.0] [--geometry reduced]
[--detectors 0,...,8] [--runs daily,generation] [--small] [--ocps-processes N] [--workdir DIR]
[--json FILE]``.

Two runs, each on the same repository (reference calibrations certified
into ``LSSTComCam/calib`` first, `ReferenceCalibrations`):

- ``daily``: the procedure document's daily default (no configuration);
- ``generation``: BIAS_DARK_FLAT with ``generate_calibrations``, internal
  verification, PTC (14 flats in 7 pairs) and defects, certified into a
  new ``calib_collection``.

For each it prints, in seconds:

- camera-busy: from the first image requested to the last image read out
  and ingested by the OODS (the script's ``timings``);
- total: from the start of ``run`` to its end;
- tail: from the last readout to the end;
- last-type processing: the OCPS jobs that process the last image type
  (FLAT), from the first one's start to the last one's end (job records);
- the target: total <= camera-busy + last-type processing + 10 %.

``--small`` uses 3 biases, 2 darks, 4 flats (daily) and 6/4/14 (generation)
for a quick check; the figures then mean less.
"""

import argparse
import asyncio
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from lsst.ts.calibrations.sal import ScriptState
from lsst.ts.calibrations.scripts import MakeComCamCalibrations
from lsst.ts.calibrations.sim.observatory import SimulatedObservatory
from lsst.ts.calibrations.sim.reference_calibrations import ReferenceCalibrations

DATE = "2024-11-04"

GENERATION = {
    "script_mode": "BIAS_DARK_FLAT",
    "n_flat": 14,
    "exp_times_flat": [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7],
    "generate_calibrations": True,
    "calib_collection": "LSSTComCam/calib/benchmark/generation",
    "certify_calib_begin_date": "2024-11-04",
    "certify_calib_end_date": "2024-11-05",
    "do_defects": True,
    "do_ptc": True,
}


def _iso(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def last_type_processing(script: MakeComCamCalibrations) -> float:
    """Seconds from the start of the first FLAT-processing job to the end of the last."""
    assert script.plan is not None and script.processor is not None and script.ocps is not None
    last = script.plan.image_types[-1]
    starts, ends = [], []
    for step in script.plan.steps:
        if last not in step.images:
            continue
        for job_id in script.processor.outcomes[step.name].jobs.values():
            result = script.ocps.results.get(job_id)
            if result is None:
                continue
            record = result.record
            if record.get("startTime") and record.get("endTime"):
                starts.append(_iso(record["startTime"]))
                ends.append(_iso(record["endTime"]))
    return max(ends) - min(starts) if starts else 0.0


async def run_one(name: str, config: dict[str, Any], index: int) -> dict[str, Any]:
    script = MakeComCamCalibrations(index=index)
    await script.start_task
    data = script.cmd_configure.DataType()
    data.config = yaml.safe_dump(config)
    await script.do_configure(data)
    group = script.cmd_setGroupId.DataType()
    group.groupId = f"benchmark-{name}"
    await script.do_setGroupId(group)
    began = time.monotonic()
    await script.do_run(None)
    wall = time.monotonic() - began
    timings = script.timings
    camera = timings.get("last_readout", 0.0) - timings.get("first_image", 0.0)
    total = timings.get("end", wall)
    tail = total - timings.get("last_readout", 0.0)
    processing = last_type_processing(script)
    target = (camera + processing) * 1.1
    return {
        "run": name,
        "state": ScriptState(script.state.state).name,
        "reason": script.state.reason,
        "images": sum(len(ids) for ids in script.taken.values()),
        "detectors": len(script.plan.detectors) if script.plan is not None else 0,
        "camera_busy_s": round(camera, 1),
        "total_s": round(total, 1),
        "tail_s": round(tail, 1),
        "last_type_processing_s": round(processing, 1),
        "target_s": round(target, 1),
        "meets_target": total <= target,
        "ok": script.state.state == ScriptState.DONE,
    }


async def amain(args: argparse.Namespace) -> list[dict[str, Any]]:
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="e2e_bench_"))
    repo = workdir / f"repo-{args.geometry}"
    os.environ.setdefault("TS_CALIBRATIONS_RUN_RECORDS", str(workdir / "run_records"))
    detectors = [int(d) for d in args.detectors.split(",")] if args.detectors else list(range(9))
    references = ReferenceCalibrations(repo, detectors=detectors, geometry=args.geometry)
    began = time.monotonic()
    await asyncio.to_thread(references.make)
    print(f"reference calibrations ready in {time.monotonic() - began:.1f} s ({repo})", flush=True)
    # The script's default repo, /repo/LSSTComCam, reaches the repository through the alias.
    base: dict[str, Any] = {"detectors": detectors} if args.detectors else {}
    # A new calib_collection each time: certifying the same range twice is refused at configure.
    calib_collection = f"{GENERATION['calib_collection']}.{time.strftime('%Y%m%dT%H%M%S')}"
    configs = {
        "daily": dict(base),
        "generation": {**base, **GENERATION, "calib_collection": calib_collection},
    }
    if args.small:
        configs["daily"].update(n_bias=3, n_dark=2, n_flat=4)
        configs["generation"].update(n_bias=6, n_dark=4)
    results = []
    async with SimulatedObservatory(
        repo,
        time_scale=args.time_scale,
        date=DATE,
        geometry=args.geometry,
        detectors=detectors,
        repo_alias="/repo/LSSTComCam",
    ) as observatory:
        if args.ocps_processes and observatory.ocps is not None:
            observatory.ocps.max_processes = args.ocps_processes
        for i, name in enumerate(args.runs.split(",")):
            result = await run_one(name, configs[name], 500 + i)
            results.append(result)
            print(
                f"{name}: {result['state']} {result['images']} images x {result['detectors']} detectors; "
                f"camera-busy {result['camera_busy_s']} s, total {result['total_s']} s, "
                f"tail {result['tail_s']} s, last-type processing {result['last_type_processing_s']} s; "
                f"target {result['target_s']} s: {'met' if result['meets_target'] else 'NOT met'}",
                flush=True,
            )
            if not result["ok"]:
                print(f"  reason: {result['reason']}", flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--geometry", choices=("reduced", "full"), default="reduced")
    parser.add_argument("--detectors", default="", help="Comma-separated detector ids (default: all nine).")
    parser.add_argument("--runs", default="daily,generation")
    parser.add_argument("--small", action="store_true", help="Small counts, for a quick check.")
    parser.add_argument("--workdir", default="")
    parser.add_argument(
        "--ocps-processes",
        type=int,
        default=0,
        help="Cap of the simulated OCPS on pipetask -j (default: the cores); 1 runs each job in one "
        "process (pipetask starts a new interpreter per quantum when -j > 1).",
    )
    parser.add_argument("--json", default="", help="Write the figures to this file.")
    args = parser.parse_args()
    unknown = set(args.runs.split(",")) - {"daily", "generation"}
    if unknown:
        parser.error(f"--runs: {sorted(unknown)} unknown; use daily and/or generation")
    print(
        f"end_to_end: time scale {args.time_scale}, {args.geometry} geometry, {os.cpu_count()} cores",
        flush=True,
    )
    results = asyncio.run(amain(args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
