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

"""Concurrent writers on one SQLite registry: ingest, pipetask jobs and certification at once.

Run as ``python benchmarks/registry_concurrency.py [--jobs N] [--ingest-exposures N]
[--certify-rounds N] [--workdir DIR]``.

Builds a reduced-geometry repository (`bootstrap_repository`: SQLite in WAL
mode), runs one cpBias job to have biases to certify, then starts at the
same moment, each as its own process:

- an ingest process that ingests new raws one file per transaction (as the
  OODS does, one ``imageInOODS`` per file), timing each call;
- ``--jobs`` ``pipetask run`` processes (cpBias on one detector each, as
  OCPS jobs);
- a certification process that certifies the biases into a new
  CALIBRATION collection per round, timing each round.

It prints the busy timeout daf_butler sets on its SQLite connections, each
operation's latency (median and maximum) alone and under load, every
process's return code, and how many errors mention a locked database.
"""

__all__ = ["main"]

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

DAY_OBS = 20241024
INSTRUMENT = "LSSTComCam"


def _exposures(first_seq: int, n: int) -> list[int]:
    return [DAY_OBS * 100_000 + seq for seq in range(first_seq, first_seq + n)]


def _worker_ingest(repo: str, files: Sequence[str]) -> None:
    from lsst.ts.calibrations.repo.ingest import ingest_raws
    from lsst.ts.calibrations.repo.repository import open_repository

    times: list[float] = []
    errors: list[str] = []
    with open_repository(repo, writeable=True) as butler:
        for path in files:
            t0 = time.perf_counter()
            try:
                ingest_raws(butler, [path])
            except Exception as e:
                errors.append(repr(e))
            times.append(time.perf_counter() - t0)
    print(json.dumps({"times": times, "errors": errors}))


def _worker_certify(repo: str, run: str, rounds: int, tag: str) -> None:
    from lsst.ts.calibrations.repo.certify import certify_calibrations
    from lsst.ts.calibrations.repo.repository import open_repository

    times: list[float] = []
    errors: list[str] = []
    with open_repository(repo, writeable=True) as butler:
        for i in range(rounds):
            t0 = time.perf_counter()
            try:
                certify_calibrations(butler, run, f"bench/{tag}/calib{i}", "bias", "2024-01-01", "2025-01-01")
            except Exception as e:
                errors.append(repr(e))
            times.append(time.perf_counter() - t0)
    print(json.dumps({"times": times, "errors": errors}))


def _pipetask(repo: str, output: str, detector: int, exposures: Sequence[int]) -> list[str]:
    from lsst.ts.calibrations.cp.pipeline_paths import PipelinePaths, pipetask_executable

    query = (
        f"instrument='{INSTRUMENT}' AND detector IN ({detector}) "
        f"AND exposure IN ({', '.join(map(str, exposures))})"
    )
    return [
        pipetask_executable(),
        "--long-log",
        "run",
        "-p",
        PipelinePaths().pipeline("cpBias"),
        "-b",
        repo,
        "-o",
        output,
        "-i",
        f"{INSTRUMENT}/raw/all",
        "-i",
        f"{INSTRUMENT}/calib",
        "--register-dataset-types",
        "-c",
        "isr:doDefect=False",
        "--output-run",
        f"{output}/run",
        "-d",
        query,
    ]


def _summary(times: Sequence[float]) -> str:
    if not times:
        return "no calls"
    return (
        f"{len(times)} calls, median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"
    )


def _run_worker(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--worker", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _locked(text: str) -> int:
    return text.lower().count("database is locked")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or one worker) and print the figures.

    Parameters
    ----------
    argv : `~collections.abc.Sequence` [`str`], optional
        Command-line arguments; ``sys.argv[1:]`` by default.

    Returns
    -------
    status : `int`
        0 if no operation failed, else 1.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=3, help="Concurrent pipetask jobs (default 3).")
    parser.add_argument("--ingest-exposures", type=int, default=10, help="Exposures ingested (x3 detectors).")
    parser.add_argument("--certify-rounds", type=int, default=10, help="Certification rounds.")
    parser.add_argument("--workdir", default=None, help="Folder for the repository (default: a temp dir).")
    parser.add_argument("--worker", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, repo, *rest = args.worker
        if kind == "ingest":
            _worker_ingest(repo, rest)
        else:
            _worker_certify(repo, rest[0], int(rest[1]), rest[2])
        return 0

    from lsst.ts.calibrations.repo.ingest import ingest_raws
    from lsst.ts.calibrations.repo.repository import bootstrap_repository
    from lsst.ts.calibrations.sim.make_calibration_set import make_calibration_set
    from lsst.ts.calibrations.sim.sensor_model import SensorModel

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="registry_concurrency_"))
    repo = str(workdir / "repo")
    detectors = list(range(max(3, args.jobs)))
    n_bias = 3
    model = SensorModel.from_yaml(None, seed=5)
    make_calibration_set(
        workdir / "raws", model=model, geometry_name="reduced", detectors=detectors, n_bias=n_bias, n_dark=0,
        flat_times=(), day_obs=DAY_OBS, overwrite=True,
    )  # fmt: skip
    make_calibration_set(
        workdir / "new_raws", model=model, geometry_name="reduced", detectors=detectors[:3],
        n_bias=args.ingest_exposures, n_dark=0, flat_times=(), day_obs=DAY_OBS, start_seq=100, overwrite=True,
    )  # fmt: skip
    with bootstrap_repository(repo) as butler:
        ingest_raws(butler, sorted(glob.glob(str(workdir / "raws" / "*.fits"))))
        conn = butler._registry._db._engine.raw_connection()  # type: ignore[attr-defined]
        try:
            busy_ms = conn.execute("PRAGMA busy_timeout").fetchone()[0]
            journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
        finally:
            conn.close()
    print(f"repository {repo}: SQLite journal_mode={journal}, busy_timeout={busy_ms} ms (daf_butler)")
    env = dict(os.environ)
    from lsst.ts.calibrations.cp.pipeline_paths import PipelinePaths

    env.update(PipelinePaths().environment())
    exposures = _exposures(1, n_bias)
    t0 = time.perf_counter()
    subprocess.run(_pipetask(repo, "bench/bias", 0, exposures), env=env, check=True, capture_output=True)
    print(f"one cpBias job alone (1 detector, {n_bias} biases): {time.perf_counter() - t0:.1f} s")
    new_files = sorted(glob.glob(str(workdir / "new_raws" / "*.fits")))
    n_alone = min(3, len(new_files))

    alone_ingest = _run_worker(["ingest", repo, *new_files[:n_alone]])
    alone_certify = _run_worker(["certify", repo, "bench/bias", "3", "alone"])
    ingest_alone = json.loads(alone_ingest.communicate()[0])
    certify_alone = json.loads(alone_certify.communicate()[0])

    start = time.perf_counter()
    ingest = _run_worker(["ingest", repo, *new_files[n_alone:]])
    certify = _run_worker(["certify", repo, "bench/bias", str(args.certify_rounds), "load"])
    jobs = []
    for i in range(args.jobs):
        command = _pipetask(repo, f"bench/job{i}", detectors[i], exposures)
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        jobs.append((time.perf_counter(), process))
    job_results = []
    for started, process in jobs:
        output = process.communicate()[0]
        job_results.append((process.returncode, time.perf_counter() - started, _locked(output)))
    ingest_out, ingest_err = ingest.communicate()
    certify_out, certify_err = certify.communicate()
    wall = time.perf_counter() - start
    ingest_load = json.loads(ingest_out)
    certify_load = json.loads(certify_out)

    print(f"ingest, 1 file per call, alone:       {_summary(ingest_alone['times'])}")
    print(f"ingest, 1 file per call, under load:  {_summary(ingest_load['times'])}")
    print(f"certify bias (3 detectors), alone:    {_summary(certify_alone['times'])}")
    print(f"certify bias, under load:             {_summary(certify_load['times'])}")
    for i, (code, seconds, locked) in enumerate(job_results):
        print(f"pipetask job {i}: return code {code}, {seconds:.1f} s, 'database is locked' lines: {locked}")
    errors = ingest_load["errors"] + certify_load["errors"] + ingest_alone["errors"] + certify_alone["errors"]
    locked = sum(_locked(e) for e in errors) + _locked(ingest_err) + _locked(certify_err)
    locked += sum(r[2] for r in job_results)
    failed_jobs = sum(1 for r in job_results if r[0] != 0)
    print(
        f"concurrent phase: {wall:.1f} s wall; {len(errors)} failed ingest/certify calls, "
        f"{failed_jobs} failed jobs, {locked} 'database is locked' errors"
    )
    for error in errors:
        print(f"  error: {error}")
    return 0 if not errors and not failed_jobs and ingest.returncode == 0 and certify.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
