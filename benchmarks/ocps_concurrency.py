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
[--detectors 2] [--jobs 4] [--processes 2] [--repeats 3] [--json FILE]``.

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
"""

import argparse
import asyncio
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from lsst.ts.calibrations.sal import Domain, SalRetCode

sys.path.insert(0, str(Path(__file__).parent))
from _ocps_bench import OPTIONS, Inputs, add_arguments, prepare_inputs, run, start_ocps, submit_job  # noqa: E402

WAYS = ("bounded", "per-job")


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


async def benchmark(args: argparse.Namespace) -> dict[str, Any]:
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


def report(results: dict[str, Any]) -> None:
    bursts = results["bursts"]
    print()
    print(
        f"{results['jobs']} verifyBias jobs at once, -j {results['processes']} each, "
        f"max_processes {results['processes']} (medians of {min(len(v) for v in bursts.values())} bursts)"
    )
    medians = {
        way: {
            key: statistics.median(item[key] for item in items)
            for key in ("wall", "cpu", "most_alive", "peak_rss_mb")
        }
        for way, items in bursts.items()
    }
    for way, m in medians.items():
        print(
            f"{way:<8} wall {m['wall']:6.1f} s  CPU {m['cpu']:6.1f} s  workers {m['most_alive']:.0f}  "
            f"peak RSS {m['peak_rss_mb']:.0f} MB"
        )
    loads = [load for items in bursts.values() for item in items for load in item["load"]]
    bounded, per_job = medians["bounded"], medians["per-job"]
    print(
        f"bounded / per-job: wall {bounded['wall'] / per_job['wall']:.2f}x, "
        f"CPU {bounded['cpu'] / per_job['cpu']:.2f}x, "
        f"peak RSS {bounded['peak_rss_mb'] / per_job['peak_rss_mb']:.2f}x "
        f"(load average 1 min {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores)"
    )


def arguments(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser, exposures=2, detectors=2, per_job=" per job")
    parser.add_argument("--jobs", type=int, default=4, help="jobs sent at once")
    parser.add_argument(
        "--processes", type=int, default=2, help="-j of each job and the OCPS's max_processes"
    )
    parser.add_argument("--repeats", type=int, default=3, help="bursts per way (medians)")


def main() -> None:
    run(__doc__.split("\n\n")[0], arguments, benchmark, report)


if __name__ == "__main__":
    main()
