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
import asyncio
import datetime
import itertools
import json
import os
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from lsst.ts.calibrations.repo.ingest import ingest_raws
from lsst.ts.calibrations.repo.repository import bootstrap_repository
from lsst.ts.calibrations.sal import Domain, Remote, SalRetCode, State
from lsst.ts.calibrations.sim.make_calibration_set import make_calibration_set
from lsst.ts.calibrations.sim.ocps_csc import OcpsCsc
from lsst.ts.calibrations.sim.reference_calibrations import ReferenceCalibrations
from lsst.ts.calibrations.sim.sensor_model import SensorModel

REFERENCE_DAY_OBS = 20241103
DAY_OBS = 20241104
PIPELINE = "${CP_VERIFY_DIR}/pipelines/LSSTComCam/verifyBias.yaml"
OPTIONS = "-i LSSTComCam/calib --register-dataset-types -c isr:doDefect=False"
JOB_TIMEOUT = 3600.0
_STAMP = re.compile(
    r"^\w+ (\S+) lsst\.pipe\.base\.single_quantum_executor .*- "
    r"(Preparing execution|Execution of task .* took ([0-9.]+) seconds)"
)


def prepare(repo: Path, detectors: list[int], n_exposures: int) -> list[int]:
    """Certify reference calibrations and ingest the biases to verify; return their exposure ids.

    A work folder prepared by an earlier run with the same numbers is reused.
    """
    ReferenceCalibrations(
        repo, detectors=detectors, day_obs=REFERENCE_DAY_OBS, n_bias=3, n_dark=2, n_flat=2
    ).make()
    with bootstrap_repository(repo) as butler:
        refs = butler.query_datasets(
            "raw",
            collections="LSSTComCam/raw/all",
            where=f"exposure.day_obs = {DAY_OBS}",
            instrument="LSSTComCam",
            explain=False,
        )
    if len(refs) == n_exposures * len(detectors):
        return sorted({int(ref.dataId["exposure"]) for ref in refs})
    raws = repo.parent / "verify_raws"
    make_calibration_set(
        raws,
        model=SensorModel.from_yaml(None, seed=0),
        geometry_name="reduced",
        detectors=detectors,
        n_bias=n_exposures,
        n_dark=0,
        flat_times=(),
        day_obs=DAY_OBS,
        overwrite=True,
    )
    with bootstrap_repository(repo) as butler:
        refs = ingest_raws(butler, sorted(raws.glob("*.fits")))
    return sorted({int(ref.dataId["exposure"]) for ref in refs})


def quantum_times(log_file: Path) -> tuple[float, float, int, float]:
    """First quantum start, last quantum end (POSIX seconds), quanta run and their summed run times."""
    starts: list[float] = []
    ends: list[float] = []
    busy = 0.0
    for line in log_file.read_text(errors="replace").splitlines():
        match = _STAMP.match(line)
        if match:
            when = datetime.datetime.fromisoformat(match.group(1)).timestamp()
            if match.group(3) is None:
                starts.append(when)
            else:
                ends.append(when)
                busy += float(match.group(3))
    if not starts or not ends:
        raise RuntimeError(f"{log_file}: no quantum ran")
    return min(starts), max(ends), len(ends), busy


def worker_concurrency(quanta: list[dict[str, Any]]) -> dict[str, float]:
    """From the workers' own times per quantum: CPU time per quantum and the share of time all were busy.

    Returns an empty dict for a backend that does not report them (``pipetask``).
    """
    timed = [q for q in quanta if "start" in q and "end" in q and "cpu" in q]
    if not timed:
        return {}
    events = sorted([(q["start"], 1) for q in timed] + [(q["end"], -1) for q in timed])
    workers = len({q["worker"] for q in timed})
    span = events[-1][0] - events[0][0]
    running, all_busy, previous = 0, 0.0, events[0][0]
    for when, step in events:
        if running >= workers:
            all_busy += when - previous
        running, previous = running + step, when
    cpu = [q["cpu"] for q in timed]
    wall = [q["end"] - q["start"] for q in timed]
    return {
        "cpu_per_quantum": statistics.median(cpu),
        "cpu_total": sum(cpu),
        "wall_per_quantum": statistics.median(wall),
        "all_busy": all_busy / span if span > 0 else 0.0,
        "workers_used": workers,
    }


async def run_job(remote: Remote, csc: OcpsCsc, processes: int, query: str) -> dict[str, Any]:
    """Submit one job and time it; raise if it does not complete."""
    results: asyncio.Queue[Any] = asyncio.Queue()
    remote.evt_job_result.callback = results.put_nowait
    load_before = os.getloadavg()[0]
    sent = time.time()
    ack = await remote.cmd_execute.set_start(
        wait_done=False,
        timeout=60,
        pipeline=PIPELINE,
        version="",
        config=f"-j {processes} {OPTIONS}",
        data_query=query,
        prereq_jobs="",
        output_dataset_types="",
    )
    job_id = json.loads(ack.result)["job_id"]
    while True:
        data = await asyncio.wait_for(results.get(), JOB_TIMEOUT)
        if data.job_id == job_id:
            break
    received = time.time()
    final = await remote.cmd_execute.next_ackcmd(ack, timeout=60)
    assert final.ack == SalRetCode.CMD_COMPLETE
    record = json.loads(data.result)
    if data.exit_code != 0:
        raise RuntimeError(f"job {job_id} failed: {record['message']}")
    first, last, quanta, busy = await asyncio.to_thread(quantum_times, Path(record["logFile"]))
    concurrency = worker_concurrency(csc.jobs[job_id].record().get("quanta") or [])
    return concurrency | {
        "job": job_id,
        "quanta": quanta,
        "wall": received - sent,
        "processing": last - first,
        "busy": busy,
        "before": first - sent,
        "after": received - last,
        "load": [load_before, os.getloadavg()[0]],
    }


async def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="throughput-"))
    repo = workdir / "repo"
    detectors = list(range(args.detectors))
    began = time.monotonic()
    exposures = await asyncio.to_thread(prepare, repo, detectors, args.exposures)
    print(f"inputs: {len(exposures)} biases x {len(detectors)} detectors in {time.monotonic() - began:.0f} s")
    query = (
        f"instrument='LSSTComCam' AND detector IN ({', '.join(map(str, detectors))}) "
        f"AND exposure IN ({', '.join(map(str, exposures))})"
    )
    runs = [(name, int(n)) for name, n in (item.split(":") for item in args.runs.split(","))]
    indices = itertools.count(90)
    cscs: dict[str, OcpsCsc] = {}
    times: dict[str, list[dict[str, Any]]] = {f"{b}:{n}": [] for b, n in runs}
    async with Domain() as domain:
        remotes: dict[str, Remote] = {}
        try:
            for backend in sorted({b for b, _ in runs}):
                index = next(indices)
                cscs[backend] = OcpsCsc(
                    repo,
                    jobs_root=workdir / f"jobs-{backend}",
                    index=index,
                    initial_state=State.ENABLED,
                    execution_backend=backend,
                )
                await cscs[backend].start_task
                remotes[backend] = Remote(domain, "OCPS", index)
                await remotes[backend].start_task
            if "workers" in cscs and cscs["workers"].worker_pool is not None:
                # Warm workers are the point of the backend: wait for them before timing.
                pool = cscs["workers"].worker_pool
                for worker in await pool.acquire(cscs["workers"].max_processes):
                    pool.release_one(worker)
            for repeat in range(args.repeats):
                for backend, processes in runs:
                    result = await run_job(remotes[backend], cscs[backend], processes, query)
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
    return {"workdir": str(workdir), "exposures": exposures, "detectors": detectors, "jobs": times}


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


def main() -> None:
    # SAL in this process only: no other process on the machine can send this OCPS a job.
    os.environ["LSST_SAL_TRANSPORT"] = "local"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workdir", default=None, help="folder for the repository (a new temporary one if not given)"
    )
    parser.add_argument("--exposures", type=int, default=10, help="biases to verify")
    parser.add_argument("--detectors", type=int, default=9, help="detectors 0..N-1")
    parser.add_argument("--repeats", type=int, default=3, help="jobs per run (medians)")
    parser.add_argument("--runs", default="pipetask:1,workers:1,workers:2", help="BACKEND:PROCESSES,...")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument(
        "--report", default=None, help="only print the figures of an earlier run's --json file"
    )
    args = parser.parse_args()
    if args.report:
        report(json.loads(Path(args.report).read_text()))
        return
    results = asyncio.run(benchmark(args))
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
