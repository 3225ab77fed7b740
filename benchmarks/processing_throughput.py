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

"""Processing throughput of the simulated OCPS's execution backends, and its overhead per job.

Run as ``python benchmarks/processing_throughput.py [--workdir DIR] [--exposures 10]
[--detectors 9] [--repeats 3] [--runs pipetask:1,workers:1,workers:2] [--json FILE]``
(``--report FILE`` prints the figures of an earlier ``--json`` file).

One verification job (``verifyBias``: ISR, per-detector statistics,
per-exposure and per-run merges) over ``--exposures`` new biases of
``--detectors`` reduced-geometry detectors: with 10 and 9, 191 quanta. The
inputs are made with the simulator's helpers: reference calibrations
certified into ``LSSTComCam/calib`` (`ReferenceCalibrations`), then the
biases (`make_calibration_set`), ingested.

Each run (``BACKEND:PROCESSES``) submits the job ``--repeats`` times to an
`OcpsCsc` through SAL (``execute``, then ``job_result``), the runs taking
turns so that a change of machine load falls on all of them. Per job, from
the client's clock and the job's log (``--long-log`` timestamps of
pipe_base's "Preparing execution" and "Execution of task ... took" lines,
the same for both backends):

- wall: from sending ``execute`` to receiving ``job_result``;
- processing: from the first quantum's start to the last quantum's end;
- overhead before: from sending ``execute`` to the first quantum's start;
- overhead after: from the last quantum's end to receiving ``job_result``;
- at once: the quanta's summed run times (pipe_base's "took") over the
  processing time, the number of quanta running at once on average.

For the workers backend, from the workers' own times per quantum (the job
record's ``quanta``): the CPU time per quantum, the quanta's summed CPU
time, and the share of the processing time during which every worker was
running a quantum (the concurrency a quiet machine would turn into
speed-up).

It prints the medians side by side, the speed-up of the processing from 1
to 2 workers, and the load average (1 min) before and after each job: the
machine is shared.
"""

import argparse
import itertools
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from lsst.ts.calibrations.sal import Domain, Remote
from lsst.ts.calibrations.sim.ocps_csc import OcpsCsc

sys.path.insert(0, str(Path(__file__).parent))
from _ocps_bench import add_arguments, prepare_inputs, quantum_times, run, run_job, start_ocps  # noqa: E402


async def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    inputs = await prepare_inputs(args, "throughput-")
    runs = [(name, int(n)) for name, n in (item.split(":") for item in args.runs.split(","))]
    indices = itertools.count(90)
    cscs: dict[str, OcpsCsc] = {}
    times: dict[str, list[dict[str, Any]]] = {f"{b}:{n}": [] for b, n in runs}
    async with Domain() as domain:
        remotes: dict[str, Remote] = {}
        try:
            for backend in sorted({b for b, _ in runs}):
                jobs_root = inputs.workdir / f"jobs-{backend}"
                cscs[backend], remotes[backend] = await start_ocps(
                    domain, inputs.repo, jobs_root, next(indices), execution_backend=backend
                )
            if "workers" in cscs and cscs["workers"].worker_pool is not None:
                # Warm workers are the point of the backend: wait for them before timing.
                pool = cscs["workers"].worker_pool
                for worker in await pool.acquire(cscs["workers"].max_processes):
                    pool.release_one(worker)
            for repeat in range(args.repeats):
                for backend, processes in runs:
                    result = await run_job(remotes[backend], cscs[backend], processes, inputs.query)
                    times[f"{backend}:{processes}"].append(result)
                    print(
                        f"  {backend}:{processes} #{repeat + 1}: {result['quanta']} quanta, "
                        f"wall {result['wall']:.1f} s, processing {result['processing']:.1f} s, "
                        f"overhead {result['before']:.2f} + {result['after']:.2f} s, "
                        f"load {result['load'][0]:.1f} -> {result['load'][1]:.1f}",
                        flush=True,
                    )
        finally:
            for csc in cscs.values():
                await csc.close()
    return {
        "workdir": str(inputs.workdir),
        "exposures": inputs.exposures,
        "detectors": inputs.detectors,
        "jobs": times,
    }


def report(results: dict[str, Any]) -> None:
    jobs = results["jobs"]
    for name, items in jobs.items():
        for item in items:
            if "busy" not in item:  # saved before the figure existed: read it from the job's log
                job_dir = Path(results["workdir"]) / f"jobs-{name.split(':')[0]}" / item["job"]
                item["busy"] = quantum_times(job_dir / "outs" / "ocps.log")[3]
    print()
    print(
        f"verifyBias, {len(results['exposures'])} exposures x {len(results['detectors'])} detectors, reduced"
    )
    print(
        f"{'run':<12}{'quanta':>7}{'wall s':>9}{'proc. s':>9}{'quanta/s':>10}{'before s':>10}{'after s':>9}"
        f"{'at once':>9}"
    )
    medians: dict[str, dict[str, float]] = {}
    for name, items in jobs.items():
        if not items:
            continue
        m = {
            key: statistics.median(item[key] for item in items)
            for key in ("wall", "processing", "before", "after")
        }
        # Quanta running at once, on average: summed quantum run times over the processing span.
        m["parallel"] = statistics.median(item["busy"] / item["processing"] for item in items)
        medians[name] = m
        quanta = items[0]["quanta"]
        print(
            f"{name:<12}{quanta:>7}{m['wall']:>9.1f}{m['processing']:>9.1f}{quanta / m['processing']:>10.2f}"
            f"{m['before']:>10.2f}{m['after']:>9.2f}{m['parallel']:>9.2f}"
        )
    loads = [load for items in jobs.values() for item in items for load in item["load"]]
    print(
        f"(medians of {max(len(v) for v in jobs.values())} jobs each; load average 1 min during the runs: "
        f"{min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores)"
    )
    for name, items in jobs.items():
        if items and "cpu_per_quantum" in items[0]:
            cpu = statistics.median(item["cpu_per_quantum"] for item in items)
            wall = statistics.median(item["wall_per_quantum"] for item in items)
            total = statistics.median(item["cpu_total"] for item in items)
            both = statistics.median(item["all_busy"] for item in items)
            print(
                f"{name}: per quantum {cpu:.3f} s CPU in {wall:.3f} s wall (median); quanta's CPU "
                f"{total:.1f} s per job; all workers busy {100 * both:.0f}% of the processing time"
            )
    if "workers:1" in medians and "workers:2" in medians:
        # Each round's own ratio too: the load of a shared machine drifts between rounds.
        rounds = [
            a["processing"] / b["processing"]
            for a, b in zip(jobs["workers:1"], jobs["workers:2"], strict=False)
        ]
        print(f"speed-up 1 -> 2 workers per round (processing): {', '.join(f'{r:.2f}x' for r in rounds)}")
        one, two = medians["workers:1"], medians["workers:2"]
        print(
            f"speed-up 1 -> 2 workers: processing {one['processing'] / two['processing']:.2f}x, "
            f"wall {one['wall'] / two['wall']:.2f}x (target >= 1.7x)"
        )
    if "pipetask:1" in medians and "workers:1" in medians:
        ratio = medians["pipetask:1"]["wall"] / medians["workers:1"]["wall"]
        print(f"workers:1 vs pipetask -j 1: wall {ratio:.2f}x")
    for name, m in medians.items():
        if name.startswith("workers"):
            print(
                f"OCPS overhead per job ({name}): {m['before']:.2f} s before the first quantum, "
                f"{m['after']:.2f} s after the last (target <= 3 s)"
            )


def arguments(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser, exposures=10, detectors=9)
    parser.add_argument("--repeats", type=int, default=3, help="jobs per run (medians)")
    parser.add_argument("--runs", default="pipetask:1,workers:1,workers:2", help="BACKEND:PROCESSES,...")


def main() -> None:
    run(__doc__.split("\n\n")[0], arguments, benchmark, report)


if __name__ == "__main__":
    main()
