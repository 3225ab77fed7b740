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

"""Concurrent jobs on the OCPS's workers: one pool bounded by ``max_processes``, or workers per job.

Run as ``python benchmarks/ocps_concurrency.py [--workdir DIR] [--exposures 2]
[--detectors 2] [--jobs 4] [--processes 2] [--repeats 3] [--scenario burst]
[--json FILE]``.

With incremental processing several jobs run at once. An OCPS of
``max_processes=--processes`` with a warm pool (its ``--processes`` idle
workers) receives ``--jobs`` ``verifyBias`` jobs at once, each asking
``-j --processes``. ``bounded``: the pool lets at most ``max_processes``
workers live over all jobs (a job runs on the free workers, waiting while
none is); ``per-job``: each job starts the workers it lacks (the pool
without its bound, as before). The ways take turns, each on a new OCPS.
Per burst: wall time from the first ``execute`` to the last ``job_result``,
the most workers alive at once, the peak of their summed resident memory
(sampled every 0.2 s), and the CPU time of the OCPS's child processes from
before the burst to the OCPS's close (worker imports included). Medians, the
ratio of the ways and the load average (1 min).

``--scenario small-job``: a small job arriving while a long one holds
every worker. An OCPS of ``max_processes=--processes`` with a warm pool
runs a ``verifyBias`` job over every exposure and detector (``-j
--processes``); once its first quantum has started, a job of one exposure
and one detector arrives. ``fair-share``: the long job hands a worker back
at its next quantum boundary (`QuantumWorkerPool.share_fairly`);
``keep``: it keeps its workers to its end (the way before). The ways take
turns, each on a new OCPS. Per pair of jobs: the small job's wait from
``execute`` to its first quantum's start, its ``execute`` to
``job_result``, and the long job's wall time. Medians, their ratio, the
load average (1 min).
"""

import argparse
import asyncio
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from lsst.ts.calibrations.sal import Domain, SalRetCode

sys.path.insert(0, str(Path(__file__).parent))
from _ocps_bench import (  # noqa: E402
    OPTIONS,
    Inputs,
    add_arguments,
    bias_query,
    load_range,
    medians_by_way,
    prepare_inputs,
    quantum_times,
    run,
    start_ocps,
    submit_job,
)

WAYS = ("bounded", "per-job")
SMALL_JOB_WAYS = ("fair-share", "keep")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def burst(
    domain: Domain, inputs: Inputs, args: argparse.Namespace, way: str, index: int
) -> dict[str, Any]:
    """Run ``--jobs`` jobs at once on a new OCPS; return the burst's figures."""
    jobs_root = inputs.workdir / f"jobs-concurrency-{index}"
    csc, remote = await start_ocps(domain, inputs.repo, jobs_root, index, max_processes=args.processes)
    peak_rss = 0
    try:
        pool = csc.worker_pool
        assert pool is not None
        if way == "per-job":
            pool.max_workers = None
        for worker in await pool.acquire(args.processes):  # a warm pool, as between a run's jobs
            pool.release_one(worker)
        cpu_before, load_before, sent = _children_cpu(), os.getloadavg()[0], time.time()
        acks = [
            await submit_job(remote, f"-j {args.processes} {OPTIONS}", inputs.query) for _ in range(args.jobs)
        ]
        waits = asyncio.gather(*(remote.cmd_execute.next_ackcmd(ack, timeout=3600) for ack, _ in acks))
        while not waits.done():
            rss = 0
            for worker in [*pool.idle, *pool.busy]:
                if worker.pid is not None:
                    try:
                        rss += psutil.Process(worker.pid).memory_info().rss
                    except psutil.Error:
                        pass
            peak_rss = max(peak_rss, rss)
            await asyncio.wait([waits], timeout=0.2)
        finals = await waits
        wall = time.time() - sent
        assert all(final.ack == SalRetCode.CMD_COMPLETE for final in finals)
        phases = [csc.jobs[job_id].phase for _, job_id in acks]
        assert all(phase == "COMPLETED" for phase in phases), phases
        workers_per_job = [len(csc.jobs[job_id].workers) for _, job_id in acks]
        most_alive = pool.most_alive
    finally:
        await csc.close()
    return {
        "wall": wall,
        "cpu": _children_cpu() - cpu_before,
        "most_alive": most_alive,
        "peak_rss_mb": peak_rss / 2**20,
        "workers_per_job": workers_per_job,
        "load": [load_before, os.getloadavg()[0]],
    }


async def small_job(
    domain: Domain, inputs: Inputs, args: argparse.Namespace, way: str, index: int
) -> dict[str, Any]:
    """A small job arriving while a long one holds every worker, on a new OCPS; return the times."""
    jobs_root = inputs.workdir / f"jobs-small-{index}"
    csc, remote = await start_ocps(domain, inputs.repo, jobs_root, index, max_processes=args.processes)
    try:
        pool = csc.worker_pool
        assert pool is not None
        pool.share_fairly = way == "fair-share"
        for worker in await pool.acquire(args.processes):  # a warm pool, as between a run's jobs
            pool.release_one(worker)
        load_before = os.getloadavg()[0]
        long_sent = time.time()
        long_ack, long_id = await submit_job(remote, f"-j {args.processes} {OPTIONS}", inputs.query)
        long_log = csc.jobs[long_id].log_file
        while not await asyncio.to_thread(_quantum_started, long_log):
            await asyncio.sleep(0.05)
        one = bias_query(inputs.detectors[:1], inputs.exposures[:1])
        small_sent = time.time()
        small_ack, small_id = await submit_job(remote, f"-j {args.processes} {OPTIONS}", one)
        small_final = await remote.cmd_execute.next_ackcmd(small_ack, timeout=3600)
        small_done = time.time()
        long_final = await remote.cmd_execute.next_ackcmd(long_ack, timeout=3600)
        long_done = time.time()
        assert small_final.ack == long_final.ack == SalRetCode.CMD_COMPLETE
        small_record, long_record = csc.jobs[small_id].record(), csc.jobs[long_id].record()
        assert small_record["phase"] == long_record["phase"] == "COMPLETED"
        small_first, _, _, _ = await asyncio.to_thread(quantum_times, Path(small_record["logFile"]))
        long_quanta = len(long_record["quanta"])
        later = sum(q["start"] > small_first for q in long_record["quanta"])
    finally:
        await csc.close()
    return {
        "wait": small_first - small_sent,
        "small_wall": small_done - small_sent,
        "long_wall": long_done - long_sent,
        "long_quanta": long_quanta,
        "long_quanta_after": later,
        "load": [load_before, os.getloadavg()[0]],
    }


def _quantum_started(log_file: Path) -> bool:
    """Has a quantum of the job started (its log says so)?"""
    try:
        quantum_times(log_file)
    except (RuntimeError, OSError):
        return False
    return True


async def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    if args.scenario == "small-job":
        return await benchmark_small_job(args)
    inputs = await prepare_inputs(args, "ocps-concurrency-")
    bursts: dict[str, list[dict[str, Any]]] = {way: [] for way in WAYS}
    async with Domain() as domain:
        for repeat in range(args.repeats):
            for way in WAYS if repeat % 2 == 0 else reversed(WAYS):
                item = await burst(
                    domain, inputs, args, way, 70 + len(bursts["bounded"]) + len(bursts["per-job"])
                )
                bursts[way].append(item)
                print(
                    f"{way:<8} wall {item['wall']:6.1f} s  CPU {item['cpu']:6.1f} s  "
                    f"workers {item['most_alive']} "
                    f"(per job {item['workers_per_job']})  peak RSS {item['peak_rss_mb']:.0f} MB  "
                    f"load {item['load'][0]:.1f} -> {item['load'][1]:.1f}",
                    flush=True,
                )
    return {"bursts": bursts, "jobs": args.jobs, "processes": args.processes, "exposures": inputs.exposures}


async def benchmark_small_job(args: argparse.Namespace) -> dict[str, Any]:
    inputs = await prepare_inputs(args, "ocps-concurrency-")
    pairs: dict[str, list[dict[str, Any]]] = {way: [] for way in SMALL_JOB_WAYS}
    async with Domain() as domain:
        for repeat in range(args.repeats):
            for way in SMALL_JOB_WAYS if repeat % 2 == 0 else reversed(SMALL_JOB_WAYS):
                index = 90 + sum(len(items) for items in pairs.values())
                item = await small_job(domain, inputs, args, way, index)
                pairs[way].append(item)
                print(
                    f"{way:<10} small job: first quantum {item['wait']:5.1f} s after execute, "
                    f"result {item['small_wall']:5.1f} s; long job {item['long_wall']:5.1f} s "
                    f"({item['long_quanta_after']} of {item['long_quanta']} quanta started after the "
                    f"small job's first)  load {item['load'][0]:.1f} -> {item['load'][1]:.1f}",
                    flush=True,
                )
    return {
        "small_job": pairs,
        "processes": args.processes,
        "exposures": inputs.exposures,
        "detectors": inputs.detectors,
    }


def report_small_job(results: dict[str, Any]) -> None:
    pairs = results["small_job"]
    print()
    print(
        f"A 1-exposure, 1-detector verifyBias job arriving while a verifyBias job of "
        f"{len(results['exposures'])} exposures x {len(results['detectors'])} detectors holds every worker "
        f"(max_processes {results['processes']}; medians of {min(len(v) for v in pairs.values())} pairs)"
    )
    medians = medians_by_way(pairs, ("wait", "small_wall", "long_wall", "long_quanta_after"))
    for way, m in medians.items():
        print(
            f"{way:<10} execute -> first quantum {m['wait']:5.1f} s  execute -> job_result "
            f"{m['small_wall']:5.1f} s  long job {m['long_wall']:5.1f} s  "
            f"(long job's quanta started after it: {m['long_quanta_after']:.0f})"
        )
    new, old = medians["fair-share"], medians["keep"]
    print(
        f"fair-share / keep: small job's wait {new['wait'] / old['wait']:.2f}x, "
        f"long job's wall {new['long_wall'] / old['long_wall']:.2f}x "
        f"(load average 1 min {load_range(pairs)})"
    )


def report(results: dict[str, Any]) -> None:
    if "small_job" in results:
        report_small_job(results)
        return
    bursts = results["bursts"]
    print()
    print(
        f"{results['jobs']} verifyBias jobs at once, -j {results['processes']} each, "
        f"max_processes {results['processes']} (medians of {min(len(v) for v in bursts.values())} bursts)"
    )
    medians = medians_by_way(bursts, ("wall", "cpu", "most_alive", "peak_rss_mb"))
    for way, m in medians.items():
        print(
            f"{way:<8} wall {m['wall']:6.1f} s  CPU {m['cpu']:6.1f} s  workers {m['most_alive']:.0f}  "
            f"peak RSS {m['peak_rss_mb']:.0f} MB"
        )
    bounded, per_job = medians["bounded"], medians["per-job"]
    print(
        f"bounded / per-job: wall {bounded['wall'] / per_job['wall']:.2f}x, "
        f"CPU {bounded['cpu'] / per_job['cpu']:.2f}x, "
        f"peak RSS {bounded['peak_rss_mb'] / per_job['peak_rss_mb']:.2f}x "
        f"(load average 1 min {load_range(bursts)})"
    )


def arguments(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser, exposures=2, detectors=2, per_job=" per job")
    parser.add_argument("--jobs", type=int, default=4, help="jobs sent at once")
    parser.add_argument(
        "--processes", type=int, default=2, help="-j of each job and the OCPS's max_processes"
    )
    parser.add_argument("--repeats", type=int, default=3, help="bursts (or pairs of jobs) per way (medians)")
    parser.add_argument(
        "--scenario",
        choices=("burst", "small-job"),
        default="burst",
        help="burst: --jobs jobs at once; small-job: a small job arriving while a long one runs",
    )


def main() -> None:
    run(__doc__.split("\n\n")[0], arguments, benchmark, report)


if __name__ == "__main__":
    main()
