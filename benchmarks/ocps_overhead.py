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

"""The simulated OCPS's overhead per job on the workers backend: planning, and the removal of intermediates.

Run as ``python benchmarks/ocps_overhead.py [--workdir DIR] [--exposures 2]
[--detectors 2] [--processes 2] [--repeats 5] [--parts planning,removal]
[--json FILE]``.

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

Removal (``--parts removal``): the incremental way of a ``cpBias``: one
per-exposure job (``cpBias.yaml#isr``) per exposure, then the run-level
job (``#cpBiasCombine``) over their runs chained as inputs, which removes
their ISR images (``cpBiasIsrExp``). Two OCPSs take turns:
``result-first`` writes ``job_result`` and then removes (in a task of its
own), ``remove-first`` removes and then writes ``job_result`` (the order
before, ``OcpsCsc.remove_before_result``). Per run-level job: last
quantum's end to ``job_result`` received, and how long the removal took
(the OCPS's own clock). Medians and their ratio.
"""

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from lsst.ts.calibrations.sal import Domain, Remote, SalRetCode
from lsst.ts.calibrations.sim.ocps_csc import OcpsCsc

sys.path.insert(0, str(Path(__file__).parent))
from _ocps_bench import (  # noqa: E402
    JOB_TIMEOUT,
    OPTIONS,
    Inputs,
    add_arguments,
    bias_query,
    load_range,
    medians_by_way,
    prepare_inputs,
    quantum_times,
    run,
    run_job,
    start_ocps,
    submit_job,
)

_STEP = re.compile(
    r"^\w+ \S+ lsst\.ts\.calibrations\.sim\.quantum_worker .*- "
    r"(Planned|Initialised the run).* in ([0-9.]+) s \(([0-9.]+) s of CPU time\)"
)
WAYS = ("in-process", "pipetask")
REMOVAL_WAYS = ("result-first", "remove-first")
BIAS_PIPELINE = "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml"


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


async def bias_job(remote: Remote, csc: OcpsCsc, pipeline: str, config: str, query: str) -> dict[str, Any]:
    """Run one cpBias job (a label subset); return its id, record, and job_result's arrival."""
    results: asyncio.Queue[Any] = asyncio.Queue()
    remote.evt_job_result.callback = results.put_nowait
    ack, job_id = await submit_job(remote, config, query, pipeline)
    while True:
        data = await asyncio.wait_for(results.get(), JOB_TIMEOUT)
        if data.job_id == job_id:
            break
    received = time.time()
    final = await remote.cmd_execute.next_ackcmd(ack, timeout=JOB_TIMEOUT)
    assert final.ack == SalRetCode.CMD_COMPLETE
    record = json.loads(data.result)
    if data.exit_code != 0:
        raise RuntimeError(f"job {job_id} failed: {record['message']}")
    return {"job": job_id, "record": record, "received": received}


async def run_level_after_removal(
    remote: Remote, csc: OcpsCsc, inputs: Inputs, processes: int
) -> dict[str, Any]:
    """Per-exposure cpBias jobs, then the run-level job over their runs; its time after the last quantum."""
    load_before = os.getloadavg()[0]
    runs = []
    for exposure in inputs.exposures:
        query = bias_query(inputs.detectors, [exposure])
        early = await bias_job(remote, csc, f"{BIAS_PIPELINE}#isr", f"-j {processes} {OPTIONS}", query)
        runs.append(early["record"]["outputRun"])
    config = f"-j {processes} -i {','.join(runs)},LSSTComCam/calib --register-dataset-types"
    final = await bias_job(remote, csc, f"{BIAS_PIPELINE}#cpBiasCombine", config, inputs.query)
    job = csc.jobs[final["job"]]
    removal_began = time.time()
    await csc.wait_for_removals()
    removal_wait = time.time() - removal_began
    _, last, quanta, _ = await asyncio.to_thread(quantum_times, job.log_file)
    detail = job.intermediates_detail
    removed = sum(int(count) for count in re.findall(r"cpBiasIsrExp x(\d+)", detail))
    return {
        "job": final["job"],
        "quanta": quanta,
        "after": final["received"] - last,
        "removal_after_result": removal_wait,
        "removed": removed,
        "intermediates": job.intermediates,
        "load": [load_before, os.getloadavg()[0]],
    }


async def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    inputs = await prepare_inputs(args, "ocps-overhead-")
    parts = set(args.parts.split(","))
    results: dict[str, Any] = {}
    if "planning" in parts:
        results.update(await planning(args, inputs))
    if "removal" in parts:
        results["removal"] = await removal(args, inputs)
    results.update(
        workdir=str(inputs.workdir),
        exposures=inputs.exposures,
        detectors=inputs.detectors,
        processes=args.processes,
    )
    return results


async def removal(args: argparse.Namespace, inputs: Inputs) -> dict[str, list[dict[str, Any]]]:
    """The run-level jobs of both removal ways, taking turns (see the module documentation)."""
    jobs: dict[str, list[dict[str, Any]]] = {way: [] for way in REMOVAL_WAYS}
    cscs: dict[str, OcpsCsc] = {}
    async with Domain() as domain:
        remotes: dict[str, Remote] = {}
        try:
            for index, way in enumerate(REMOVAL_WAYS, start=84):
                cscs[way], remotes[way] = await start_ocps(
                    domain,
                    inputs.repo,
                    inputs.workdir / f"jobs-removal-{way}",
                    index,
                    execution_backend="workers",
                    max_processes=args.processes,
                )
                cscs[way].remove_before_result = way == "remove-first"
                pool = cscs[way].worker_pool
                assert pool is not None
                for worker in await pool.acquire(args.processes):  # warm pools for both
                    pool.release_one(worker)
            for repeat in range(args.repeats):
                for way in REMOVAL_WAYS if repeat % 2 == 0 else reversed(REMOVAL_WAYS):
                    item = await run_level_after_removal(remotes[way], cscs[way], inputs, args.processes)
                    jobs[way].append(item)
                    print(
                        f"{way:<12} last quantum -> job_result {item['after']:5.2f} s  "
                        f"(removal still running after it {item['removal_after_result']:5.2f} s; "
                        f"{item['removed']} cpBiasIsrExp removed, {item['intermediates']})  "
                        f"load {item['load'][0]:.1f} -> {item['load'][1]:.1f}",
                        flush=True,
                    )
        finally:
            for csc in cscs.values():
                await csc.close()
    return jobs


async def planning(args: argparse.Namespace, inputs: Inputs) -> dict[str, Any]:
    """The verifyBias jobs of both planning ways, taking turns (see the module documentation)."""
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
    return results


def report(results: dict[str, Any]) -> None:
    if "jobs" in results:
        report_planning(results)
    if "removal" in results:
        report_removal(results)


def report_removal(results: dict[str, Any]) -> None:
    jobs = results["removal"]
    print()
    print(
        f"Run-level cpBias job after {len(results['exposures'])} per-exposure jobs "
        f"({len(results['detectors'])} detectors, -j {results['processes']}), workers backend: "
        "last quantum's end to job_result"
    )
    medians = medians_by_way(jobs, ("after", "removal_after_result", "removed"))
    for way, m in medians.items():
        print(
            f"{way:<13} {m['after']:6.2f} s  (removal running after job_result: "
            f"{m['removal_after_result']:.2f} s; {m['removed']:.0f} datasets removed)"
        )
    new, old = medians["result-first"], medians["remove-first"]
    print(
        f"(medians of {min(len(v) for v in jobs.values())} jobs each; load average 1 min {load_range(jobs)})"
    )
    print(
        f"last quantum to job_result: {old['after']:.2f} s -> {new['after']:.2f} s "
        f"({old['after'] / new['after']:.1f}x shorter with the removal after job_result; target <= 3 s)"
    )


def report_planning(results: dict[str, Any]) -> None:
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
    parser.add_argument(
        "--parts",
        default="planning,removal",
        help="comma-separated: planning (in process against pipetask), removal (before or after job_result)",
    )


def main() -> None:
    run(__doc__.split("\n\n")[0], arguments, benchmark, report)


if __name__ == "__main__":
    main()
