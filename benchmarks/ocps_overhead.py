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

"""The simulated OCPS's overhead per job on the workers backend: planning in process against pipetask.

Run as ``python benchmarks/ocps_overhead.py [--workdir DIR] [--exposures 2]
[--detectors 2] [--processes 2] [--repeats 5] [--json FILE]``.

Small ``verifyBias`` jobs (with 2 and 2: 11 quanta) on two OCPSs of the
workers backend, taking turns: ``in-process`` plans each job in a warm
worker on a butler it keeps open
(`~lsst.ts.calibrations.sim.quantum_worker_planner.QuantumWorkerPlanner`),
``pipetask`` runs ``pipetask ... --init-only --save-qgraph`` in the worker
as before (``WorkerJobRunner.plan_with_pipetask``). The inputs are those of
``processing_throughput.py`` (the helpers of ``_ocps_bench.py``, the same
work folder layout).

Per job: overhead before (``execute`` sent to the first quantum's start),
after (last quantum's end to ``job_result`` received), and the planning
worker's own figures from the job's log: wall and CPU time of planning and
of the run's initialisation. The first job of the ``in-process`` OCPS runs
on a cold pool (its workers start with it) and is reported apart. Medians,
the ratio of the two ways, and the load average (1 min) before and after
each job: the machine may be shared.
"""

import argparse
import asyncio
import os
import re
import statistics
import sys
from pathlib import Path
from typing import Any

from lsst.ts.calibrations.sal import Domain, Remote
from lsst.ts.calibrations.sim.ocps_csc import OcpsCsc

sys.path.insert(0, str(Path(__file__).parent))
from _ocps_bench import add_arguments, prepare_inputs, run, run_job, start_ocps  # noqa: E402

_STEP = re.compile(
    r"^\w+ \S+ lsst\.ts\.calibrations\.sim\.quantum_worker .*- "
    r"(Planned|Initialised the run).* in ([0-9.]+) s \(([0-9.]+) s of CPU time\)"
)
WAYS = ("in-process", "pipetask")


def worker_steps(log_file: Path) -> dict[str, float]:
    """The planning worker's wall and CPU times of planning and initialisation, from a job's log."""
    steps: dict[str, float] = {}
    for line in log_file.read_text(errors="replace").splitlines():
        match = _STEP.match(line)
        if match:
            key = "plan" if match.group(1) == "Planned" else "init"
            steps[f"{key}_wall"] = float(match.group(2))
            steps[f"{key}_cpu"] = float(match.group(3))
    return steps


async def timed_job(remote: Remote, csc: OcpsCsc, processes: int, query: str) -> dict[str, Any]:
    """Run one job; its overheads and its planning worker's figures."""
    result = await run_job(remote, csc, processes, query)
    record = csc.jobs[result["job"]].record()
    result.update(await asyncio.to_thread(worker_steps, Path(record["logFile"])))
    return result


def line(name: str, item: dict[str, Any]) -> str:
    text = f"{name:<11} before {item['before']:6.2f} s  after {item['after']:5.2f} s"
    if "plan_wall" in item:
        text += f"  plan {item['plan_wall']:5.2f} s ({item['plan_cpu']:.2f} CPU)"
    if "init_wall" in item:
        text += f"  init {item['init_wall']:5.2f} s ({item['init_cpu']:.2f} CPU)"
    return text + f"  load {item['load'][0]:.1f} -> {item['load'][1]:.1f}"


async def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    inputs = await prepare_inputs(args, "ocps-overhead-")
    processes, query = args.processes, inputs.query
    results: dict[str, Any] = {"cold": None, "jobs": {way: [] for way in WAYS}}
    cscs: dict[str, OcpsCsc] = {}
    async with Domain() as domain:
        remotes: dict[str, Remote] = {}
        try:
            for index, way in enumerate(WAYS, start=80):
                jobs_root = inputs.workdir / f"jobs-overhead-{way}"
                cscs[way], remotes[way] = await start_ocps(
                    domain,
                    inputs.repo,
                    jobs_root,
                    index,
                    execution_backend="workers",
                    max_processes=processes,
                )
                assert cscs[way].worker_runner is not None
                cscs[way].worker_runner.plan_with_pipetask = way == "pipetask"
            # The first job of an OCPS starts its workers: the cold case, reported apart.
            cold = await timed_job(remotes["in-process"], cscs["in-process"], processes, query)
            results["cold"] = cold
            print(line("cold pool", cold), flush=True)
            pool = cscs["pipetask"].worker_pool
            assert pool is not None
            for worker in await pool.acquire(processes):
                pool.release_one(worker)
            for repeat in range(args.repeats):
                for way in WAYS if repeat % 2 == 0 else reversed(WAYS):
                    item = await timed_job(remotes[way], cscs[way], processes, query)
                    results["jobs"][way].append(item)
                    print(line(way, item), flush=True)
        finally:
            for csc in cscs.values():
                await csc.close()
    results.update(
        workdir=str(inputs.workdir),
        exposures=inputs.exposures,
        detectors=inputs.detectors,
        processes=processes,
    )
    return results


def report(results: dict[str, Any]) -> None:
    jobs = results["jobs"]
    quanta = results["cold"]["quanta"]
    print()
    print(
        f"OCPS overhead per job, workers backend, -j {results['processes']}: verifyBias, "
        f"{len(results['exposures'])} exposures x {len(results['detectors'])} detectors ({quanta} quanta)"
    )
    keys = ("before", "after", "plan_wall", "plan_cpu", "init_wall", "init_cpu")
    print(f"{'planning':<12}" + "".join(f"{key:>11}" for key in keys))
    medians: dict[str, dict[str, float]] = {}
    for way, items in jobs.items():
        medians[way] = {key: statistics.median(item.get(key, 0.0) for item in items) for key in keys}
        print(f"{way:<12}" + "".join(f"{medians[way][key]:>11.2f}" for key in keys))
    loads = [load for items in jobs.values() for item in items for load in item["load"]]
    print(
        f"(medians of {min(len(v) for v in jobs.values())} jobs each, seconds; load average 1 min "
        f"{min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores; pipetask's initialisation is "
        "inside its planning)"
    )
    new, old = medians["in-process"], medians["pipetask"]
    print(
        f"before the first quantum: {old['before'] / new['before']:.2f}x shorter in process; "
        f"planning and initialisation CPU {old['plan_cpu'] + old['init_cpu']:.2f} s -> "
        f"{new['plan_cpu'] + new['init_cpu']:.2f} s"
    )
    cold = results["cold"]
    print(f"first job on a cold pool (workers starting): {cold['before']:.2f} s before, ", end="")
    print(f"{cold['after']:.2f} s after")
    print(
        f"OCPS overhead per job (in-process planning): {new['before']:.2f} s before the first quantum, "
        f"{new['after']:.2f} s after the last (target <= 3 s)"
    )


def arguments(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser, exposures=2, detectors=2, per_job=" per job")
    parser.add_argument("--processes", type=int, default=2, help="workers per job (-j)")
    parser.add_argument("--repeats", type=int, default=5, help="jobs per way (medians)")


def main() -> None:
    run(__doc__.split("\n\n")[0], arguments, benchmark, report)


if __name__ == "__main__":
    main()
