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

"""Throughput of the OCPS's BPS backend: one verification job at 1 and 2 Parsl workers.

Run as ``python benchmarks/bps_throughput.py [--detectors N] [--exposures N]
[--workers 1 2] [--baseline] [--workdir DIR] [--keep]``.

Builds a reduced-geometry repository with ``--detectors`` detectors and
3 + ``--exposures`` biases each, makes a bias from the first 3 (``pipetask``)
and certifies it into ``LSSTComCam/calib``, then runs one ``verifyBias`` job
over the other ``--exposures`` through the simulated OCPS with
``execution_backend="bps"`` (ctrl_bps + Parsl, quanta clustered per
detector), once per ``--workers`` value (the job's ``-j``). 9 detectors and
10 exposures make 90 + 90 + 10 + 1 = 191 quanta. With ``--baseline`` the
same job also runs with the ``pipetask`` backend at ``-j 1``.

For each run it prints the wall time (job start to end), the span during
which cluster jobs ran quanta (first to last log line of the cluster
jobs), and the submission's fixed overhead = wall - span: quantum-graph
build, ``pipetaskInit``, Parsl start-up, the final ``butler
aggregate-graph`` job and shut-down, each its own interpreter. It also
prints the stages bps times itself (quantum graph, final job) and the
speed-up from the first to the last ``--workers`` value.
"""

__all__ = ["main"]

import argparse
import asyncio
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _ocps_bench import OPTIONS, add_arguments, bias_query, start_ocps, submit_job  # noqa: E402

DAY_OBS = 20241024
N_REFERENCE = 3
_STAMP = re.compile(r"^[A-Z]+ (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)[+-]\d\d:\d\d ")


def _exposures(first_seq: int, n: int) -> list[int]:
    return [DAY_OBS * 100_000 + seq for seq in range(first_seq, first_seq + n)]


def build_repo(root: Path, detectors: list[int], n_exposures: int) -> Path:
    """Raws, ingest, a reference bias made and certified; return the repository."""
    from lsst.ts.calibrations.cp.pipeline_paths import PipelinePaths
    from lsst.ts.calibrations.repo.certify import certify_calibrations
    from lsst.ts.calibrations.repo.ingest import ingest_raws
    from lsst.ts.calibrations.repo.repository import (
        CALIB_CHAIN,
        CERTIFIED_COLLECTION,
        RAW_RUN,
        bootstrap_repository,
    )
    from lsst.ts.calibrations.sim.make_calibration_set import make_calibration_set
    from lsst.ts.calibrations.sim.sensor_model import SensorModel

    raws = root / "raws"
    make_calibration_set(
        raws,
        model=SensorModel.from_yaml(None, seed=3),
        geometry_name="reduced",
        detectors=detectors,
        n_bias=N_REFERENCE + n_exposures,
        n_dark=0,
        flat_times=(),
        day_obs=DAY_OBS,
    )
    repo = root / "repo"
    with bootstrap_repository(repo) as butler:
        ingest_raws(butler, sorted(raws.glob("*.fits")))
    paths = PipelinePaths()
    command = paths.pipetask_run_args(
        repo,
        paths.pipeline("cpBias"),
        "u/bench/bias",
        [RAW_RUN, CALIB_CHAIN],
        bias_query(detectors, _exposures(1, N_REFERENCE)),
        processes=1,
    )
    subprocess.run(command, check=True, capture_output=True, env=paths.pipeline_environment())
    with bootstrap_repository(repo) as butler:
        certify_calibrations(
            butler, ["u/bench/bias"], CERTIFIED_COLLECTION, "bias", "1950-01-01", "2050-01-01"
        )
    return repo


def _seconds(stamp: str) -> float:
    return datetime.datetime.fromisoformat(stamp).timestamp()


def cluster_span(submit: Path) -> tuple[float, float, int]:
    """First and last log time of the cluster jobs, and how many there were."""
    first: list[float] = []
    last: list[float] = []
    files = [
        p for p in (submit / "logs").rglob("*.stderr") if p.parent.name not in ("pipetaskInit", "finalJob")
    ]
    for path in files:
        stamps = [m.group(1) for line in path.read_text().splitlines() if (m := _STAMP.match(line))]
        if stamps:
            first.append(_seconds(stamps[0]))
            last.append(_seconds(stamps[-1]))
    return min(first), max(last), len(files)


def bps_stage(log_text: str, words: str) -> float | None:
    match = re.search(rf"{re.escape(words)}: Took ([0-9.]+) seconds", log_text)
    return float(match.group(1)) if match else None


async def run_job(repo: Path, jobs_root: Path, backend: str, workers: int, query: str) -> dict[str, Any]:
    """Run the verifyBias job through an OCPS with the given backend; return its record."""
    from lsst.ts.calibrations.sal import Domain, SalRetCode

    kwargs: dict[str, Any] = {"bps_keep_submit": "always"} if backend == "bps" else {}
    kwargs.update(execution_backend=backend, max_processes=max(workers, 1))
    async with Domain() as domain:
        csc, remote = await start_ocps(domain, repo, jobs_root, 90, **kwargs)
        try:
            ack, job_id = await submit_job(remote, f"-j {workers} {OPTIONS}", query)
            final = await remote.cmd_execute.next_ackcmd(ack, timeout=7200)
            assert final.ack == SalRetCode.CMD_COMPLETE, final.result
            return csc.jobs[job_id].record()
        finally:
            await csc.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser, exposures=10, detectors=9, results=False)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Parsl workers (-j); 1 2")
    parser.add_argument("--baseline", action="store_true", help="also the pipetask backend at -j 1")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    # The OCPS and its remote in this process, on the in-process bus: no other process can reach them.
    os.environ["LSST_SAL_TRANSPORT"] = "local"

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bps-throughput-"))
    workdir.mkdir(parents=True, exist_ok=True)
    detectors = list(range(args.detectors))
    try:
        t0 = time.monotonic()
        repo = build_repo(workdir, detectors, args.exposures)
        print(f"repository with reference bias built in {time.monotonic() - t0:.1f} s: {repo}")
        query = bias_query(detectors, _exposures(N_REFERENCE + 1, args.exposures))
        n_quanta = 2 * len(detectors) * args.exposures + args.exposures + 1
        print(f"verifyBias: {len(detectors)} detectors x {args.exposures} exposures = {n_quanta} quanta")
        runs: list[tuple[str, int]] = [("bps", w) for w in args.workers]
        if args.baseline:
            runs.insert(0, ("pipetask", 1))
        walls: dict[tuple[str, int], float] = {}
        for backend, workers in runs:
            jobs_root = workdir / f"jobs-{backend}-{workers}"
            record = asyncio.run(run_job(repo, jobs_root, backend, workers, query))
            wall = _seconds(record["endTime"].replace("Z", "+00:00")) - _seconds(
                record["startTime"].replace("Z", "+00:00")
            )
            walls[(backend, workers)] = wall
            line = f"{backend:8s} -j {workers}: {record['phase']:9s} wall {wall:7.1f} s"
            if backend == "bps":
                submit = jobs_root / record["jobId"] / "bps" / "submit"
                first, last, n_clusters = cluster_span(submit)
                log_text = Path(record["logFile"]).read_text()
                qgraph = bps_stage(log_text, "Completed creating quantum graph")
                final_log = (submit / "logs" / "finalJob" / "finalJob.stderr").read_text().splitlines()
                final_stamps = [m.group(1) for ln in final_log if (m := _STAMP.match(ln))]
                final_job = _seconds(final_stamps[-1]) - _seconds(final_stamps[0]) if final_stamps else 0.0
                span = last - first
                line += (
                    f", {n_clusters} cluster jobs ran quanta for {span:6.1f} s, "
                    f"fixed overhead {wall - span:6.1f} s (quantum graph {qgraph or 0:.1f} s, "
                    f"final aggregation {final_job:.1f} s)"
                )
            line += f", {n_quanta / wall:.2f} quanta/s"
            print(line, flush=True)
        bps_runs = [walls[("bps", w)] for w in args.workers]
        if len(bps_runs) > 1:
            speed_up = bps_runs[0] / bps_runs[-1]
            print(f"bps speed-up -j {args.workers[0]} -> -j {args.workers[-1]}: {speed_up:.2f}x")
        if args.baseline:
            print(f"pipetask -j 1 / bps -j {args.workers[-1]}: {walls[('pipetask', 1)] / bps_runs[-1]:.2f}x")
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
