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
[--detectors 0,...,8] [--runs daily,generation] [--ways one-job,incremental] [--small]
[--ocps-processes N] [--workdir DIR] [--json FILE]``.

Each run is made both ways, side by side on the same simulated
observatory (same plan, alternating which way goes first from one run to
the next): ``one-job`` (each pipeline one OCPS job once every exposure of
its type is in) and ``incremental`` (the per-exposure part of each
pipeline in jobs as exposures land, the run-level part in a final job:
the script's default); ``incremental-after-certification`` is the
incremental way with a generation's per-exposure jobs started only once the
products they need are certified, not once they are made. Two runs, each on the same repository (reference
calibrations certified into ``LSSTComCam/calib`` first,
`ReferenceCalibrations`):

- ``daily``: the procedure document's daily default (no configuration);
- ``generation``: BIAS_DARK_FLAT with ``generate_calibrations``, internal
  verification, PTC (14 flats in 7 pairs) and defects, certified into a
  new ``calib_collection``.

For each it prints, in seconds:

- camera-busy: from the first image requested to the last image read out
  and ingested by the OODS (the script's ``timings``);
- total: from the start of ``run`` to its end;
- tail: from the last readout to the end;
- cleanup: from the end to DONE (the run record, the report), not in the tail;
- last-type processing: the OCPS jobs that process the last image type
  (FLAT), from the first one's start to the last one's end (job records);
- the target: total <= camera-busy + last-type processing + 10 %;
- CPU: seconds of CPU used by this process and its processes (OCPS
  workers, pipetask) during the run, and the load average at its end;

and the jobs of the tail (``tail_timeline.py``: when each was submitted,
started, ran its first and last quantum, ended, and when the script had
its result, in seconds after the last readout); then, per run, the ratio
incremental / one-job of tail and total (and incremental /
incremental-after-certification when both ran).

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

import psutil
import yaml

from lsst.ts.calibrations.sal import ScriptState
from lsst.ts.calibrations.sal.isolation import ensure_isolation_name
from lsst.ts.calibrations.scripts import MakeComCamCalibrations
from lsst.ts.calibrations.sim.observatory import SimulatedObservatory
from lsst.ts.calibrations.sim.reference_calibrations import ReferenceCalibrations
from tail_timeline import format_timeline, timeline

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


WAYS = {"one-job": False, "incremental": True, "incremental-after-certification": True}
"""The ways of processing: the script's ``incremental_processing``; ``incremental-after-certification``
is incremental with a generation's per-exposure jobs started only once the products they need are
certified (``CalibrationProcessor.start_before_certified`` False), as before they started once made."""


def cpu_seconds() -> float:
    """CPU seconds (user + system) of this process, its reaped children and its live descendants."""
    me = psutil.Process()
    times = me.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in me.children(recursive=True):
        try:
            child_times = child.cpu_times()
        except psutil.Error:
            continue
        total += child_times.user + child_times.system
    return total


def last_type_processing(script: MakeComCamCalibrations) -> float:
    """Seconds from the start of the first FLAT-processing job to the end of the last."""
    assert script.plan is not None and script.processor is not None and script.ocps is not None
    last = script.plan.image_types[-1]
    steps = {step.name for step in script.plan.steps if last in step.images}
    starts, ends = [], []
    for job_id, job in script.processor.jobs.items():
        if job.step in steps:
            result = script.ocps.results.get(job_id)
            if result is None:
                continue
            record = result.record
            if record.get("startTime") and record.get("endTime"):
                starts.append(_iso(record["startTime"]))
                ends.append(_iso(record["endTime"]))
    return max(ends) - min(starts) if starts else 0.0


async def run_one(name: str, way: str, config: dict[str, Any], index: int) -> dict[str, Any]:
    script = MakeComCamCalibrations(index=index)
    script.incremental_processing = WAYS[way]
    if way == "incremental-after-certification":
        make_processor = script.make_processor

        def make_processor_after_certification(plan: Any) -> Any:
            processor = make_processor(plan)
            processor.start_before_certified = False
            return processor

        script.make_processor = make_processor_after_certification  # type: ignore[method-assign]
    cpu_began = cpu_seconds()
    await script.start_task
    data = script.cmd_configure.DataType()
    data.config = yaml.safe_dump(config)
    await script.do_configure(data)
    group = script.cmd_setGroupId.DataType()
    group.groupId = f"benchmark-{name}"
    await script.do_setGroupId(group)
    began = time.monotonic()
    began_clock = time.time()
    await script.do_run(None)
    wall = time.monotonic() - began
    timings = script.timings
    camera = timings.get("last_readout", 0.0) - timings.get("first_image", 0.0)
    total = timings.get("end", wall)
    tail = total - timings.get("last_readout", 0.0)
    processing = last_type_processing(script)
    target = (camera + processing) * 1.1
    parts: dict[str, int] = {}
    if script.processor is not None:
        for job in script.processor.jobs.values():
            parts[str(job.part)] = parts.get(str(job.part), 0) + 1
    return {
        "run": name,
        "way": way,
        "jobs": parts,
        "cpu_s": round(cpu_seconds() - cpu_began, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "state": ScriptState(script.state.state).name,
        "reason": script.state.reason,
        "images": sum(len(ids) for ids in script.taken.values()),
        "detectors": len(script.plan.detectors) if script.plan is not None else 0,
        "camera_busy_s": round(camera, 1),
        "total_s": round(total, 1),
        "tail_s": round(tail, 1),
        "cleanup_s": round(wall - total, 1),
        "last_type_processing_s": round(processing, 1),
        "target_s": round(target, 1),
        "meets_target": total <= target,
        "ok": script.state.state == ScriptState.DONE,
        "tail_jobs": timeline(script.processor.job_records(), began_clock + timings.get("last_readout", 0.0))
        if script.processor is not None
        else [],
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
    ways = args.ways.split(",")
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
        index = 500
        for i, name in enumerate(args.runs.split(",")):
            # Alternate which way goes first, so that neither always meets the other's leftovers.
            order = ways if i % 2 == 0 else ways[::-1]
            pair = {}
            for way in order:
                config = dict(configs[name])
                if "calib_collection" in config:
                    # Each way certifies into its own collection (a range is certified once).
                    config["calib_collection"] = f"{config['calib_collection']}.{way.replace('-', '_')}"
                index += 1
                result = await run_one(name, way, config, index)
                results.append(result)
                pair[way] = result
                print(
                    f"{name} {way}: {result['state']} {result['images']} images x {result['detectors']} "
                    f"detectors, jobs {result['jobs']}; camera-busy {result['camera_busy_s']} s, "
                    f"total {result['total_s']} s, tail {result['tail_s']} s (then "
                    f"{result['cleanup_s']} s to DONE: record, report), last-type processing "
                    f"{result['last_type_processing_s']} s; target {result['target_s']} s: "
                    f"{'met' if result['meets_target'] else 'NOT met'}; CPU {result['cpu_s']} s; "
                    f"load average {result['load_average']}",
                    flush=True,
                )
                if not result["ok"]:
                    print(f"  reason: {result['reason']}", flush=True)
                print(format_timeline(result["tail_jobs"]), flush=True)
            if "one-job" in pair and "incremental" in pair:
                one, inc = pair["one-job"], pair["incremental"]
                print(
                    f"{name}: incremental / one-job: tail {_ratio(inc['tail_s'], one['tail_s'])}, "
                    f"total {_ratio(inc['total_s'], one['total_s'])}, "
                    f"CPU {_ratio(inc['cpu_s'], one['cpu_s'])}",
                    flush=True,
                )
            if "incremental-after-certification" in pair and "incremental" in pair:
                old, new = pair["incremental-after-certification"], pair["incremental"]
                print(
                    f"{name}: incremental / incremental-after-certification: tail "
                    f"{_ratio(new['tail_s'], old['tail_s'])}, "
                    f"total {_ratio(new['total_s'], old['total_s'])}, "
                    f"CPU {_ratio(new['cpu_s'], old['cpu_s'])}",
                    flush=True,
                )
    return results


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--geometry", choices=("reduced", "full"), default="reduced")
    parser.add_argument("--detectors", default="", help="Comma-separated detector ids (default: all nine).")
    parser.add_argument("--runs", default="daily,generation")
    parser.add_argument(
        "--ways",
        default="one-job,incremental",
        help="Ways of processing to compare, side by side: one-job and/or incremental.",
    )
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
    unknown = set(args.ways.split(",")) - set(WAYS)
    if unknown:
        parser.error(f"--ways: {sorted(unknown)} unknown; use {', '.join(WAYS)}")
    # A private SAL isolation name: without one, every process on this machine on the default DDS
    # domain (another benchmark, a test) commands this run's camera and OCPS, and this run theirs.
    subname, _ = ensure_isolation_name("e2e")
    print(
        f"end_to_end: time scale {args.time_scale}, {args.geometry} geometry, {os.cpu_count()} cores, "
        f"isolation name {subname}",
        flush=True,
    )
    results = asyncio.run(amain(args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
