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

"""What the OCPS benchmarks share: their options, inputs, OCPSs and timed jobs.

`add_arguments` gives a benchmark the options every OCPS benchmark has
(``--workdir``, ``--exposures``, ``--detectors``, and ``--json`` /
``--report`` for those that keep their figures); `run` parses them and
runs the benchmark or reprints an earlier ``--json`` file. `prepare_inputs`
makes (or reuses) the work folder's repository: reference calibrations
certified into ``LSSTComCam/calib`` and the biases to verify. `start_ocps`
starts an ENABLED `OcpsCsc` and its `Remote`; `submit_job` sends one
``verifyBias`` job, `run_job` times one to its end, from the client's clock
and the job's log (`quantum_times`) and, on the workers backend, the
workers' own times (`worker_concurrency`).
"""

from __future__ import annotations

__all__ = [
    "DAY_OBS",
    "JOB_TIMEOUT",
    "OPTIONS",
    "PIPELINE",
    "REFERENCE_DAY_OBS",
    "Inputs",
    "add_arguments",
    "bias_query",
    "load_range",
    "medians_by_way",
    "prepare",
    "prepare_inputs",
    "quantum_times",
    "run",
    "run_job",
    "start_ocps",
    "submit_job",
    "worker_concurrency",
]

import argparse
import asyncio
import dataclasses
import datetime
import json
import os
import re
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lsst.ts.calibrations.sal import Domain, Remote
    from lsst.ts.calibrations.sim.ocps_csc import OcpsCsc

REFERENCE_DAY_OBS = 20241103
DAY_OBS = 20241104
PIPELINE = "${CP_VERIFY_DIR}/pipelines/LSSTComCam/verifyBias.yaml"
OPTIONS = "-i LSSTComCam/calib --register-dataset-types -c isr:doDefect=False"
JOB_TIMEOUT = 3600.0
_STAMP = re.compile(
    r"^\w+ (\S+) lsst\.pipe\.base\.single_quantum_executor .*- "
    r"(Preparing execution|Execution of task .* took ([0-9.]+) seconds)"
)


def add_arguments(
    parser: argparse.ArgumentParser,
    *,
    exposures: int,
    detectors: int,
    per_job: str = "",
    results: bool = True,
) -> None:
    """Add the options every OCPS benchmark has.

    Parameters
    ----------
    parser : `argparse.ArgumentParser`
        The benchmark's parser.
    exposures, detectors : `int`
        Defaults of ``--exposures`` and ``--detectors``.
    per_job : `str`, optional
        Words after "biases to verify" in the help of ``--exposures``.
    results : `bool`, optional
        Also ``--json`` and ``--report`` (figures kept in a file).
    """
    parser.add_argument(
        "--workdir", default=None, help="folder for the repository (a new temporary one if not given)"
    )
    parser.add_argument(
        "--exposures", type=int, default=exposures, help=f"biases to verify{per_job}; default {exposures}"
    )
    parser.add_argument(
        "--detectors", type=int, default=detectors, help=f"detectors 0..N-1; default {detectors}"
    )
    if results:
        parser.add_argument("--json", default=None, help="also write the figures to this file")
        parser.add_argument(
            "--report", default=None, help="only print the figures of an earlier run's --json file"
        )


def run(
    description: str,
    more_arguments: Callable[[argparse.ArgumentParser], None],
    benchmark: Callable[[argparse.Namespace], Awaitable[dict[str, Any]]],
    report: Callable[[dict[str, Any]], None],
) -> None:
    """Parse the options, run the benchmark and print its figures (or an earlier ``--json``'s).

    The OCPSs and their remotes run in this process on the in-process bus:
    no other process on the machine can send them a job.

    Parameters
    ----------
    description : `str`
        The benchmark's one-line description.
    more_arguments : callable
        Adds the benchmark's own options (after `add_arguments`).
    benchmark : callable
        ``await benchmark(args)`` measures and returns the figures.
    report : callable
        Prints the figures.
    """
    os.environ["LSST_SAL_TRANSPORT"] = "local"
    parser = argparse.ArgumentParser(description=description)
    more_arguments(parser)
    args = parser.parse_args()
    if args.report:
        report(json.loads(Path(args.report).read_text()))
        return
    results = asyncio.run(benchmark(args))
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def bias_query(detectors: Sequence[int], exposures: Sequence[int]) -> str:
    """The data query of a job over these detectors and exposures."""
    return (
        f"instrument='LSSTComCam' AND detector IN ({', '.join(map(str, detectors))}) "
        f"AND exposure IN ({', '.join(map(str, exposures))})"
    )


def prepare(repo: Path, detectors: list[int], n_exposures: int) -> list[int]:
    """Certify reference calibrations and ingest the biases to verify; return their exposure ids.

    A work folder prepared by an earlier run with the same numbers is reused.
    """
    from lsst.ts.calibrations.repo.ingest import ingest_raws
    from lsst.ts.calibrations.repo.repository import bootstrap_repository
    from lsst.ts.calibrations.sim.make_calibration_set import make_calibration_set
    from lsst.ts.calibrations.sim.reference_calibrations import ReferenceCalibrations
    from lsst.ts.calibrations.sim.sensor_model import SensorModel

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


@dataclasses.dataclass(frozen=True)
class Inputs:
    """A benchmark's work folder and the biases its jobs verify."""

    workdir: Path
    repo: Path
    detectors: list[int]
    exposures: list[int]
    query: str


async def prepare_inputs(args: argparse.Namespace, prefix: str) -> Inputs:
    """Make (or reuse) ``--workdir`` (a new temporary ``<prefix>...`` if unset); print the inputs."""
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix=prefix))
    repo = workdir / "repo"
    detectors = list(range(args.detectors))
    began = time.monotonic()
    exposures = await asyncio.to_thread(prepare, repo, detectors, args.exposures)
    print(f"inputs: {len(exposures)} biases x {len(detectors)} detectors in {time.monotonic() - began:.0f} s")
    return Inputs(workdir, repo, detectors, exposures, bias_query(detectors, exposures))


async def start_ocps(
    domain: Domain, repo: Path, jobs_root: Path, index: int, **kwargs: Any
) -> tuple[OcpsCsc, Remote]:
    """Start an ENABLED OCPS on ``repo`` (``kwargs`` to `OcpsCsc`) and a remote of it."""
    from lsst.ts.calibrations.sal import Remote, State
    from lsst.ts.calibrations.sim.ocps_csc import OcpsCsc

    csc = OcpsCsc(repo, jobs_root=jobs_root, index=index, initial_state=State.ENABLED, **kwargs)
    try:
        await asyncio.wait_for(csc.start_task, JOB_TIMEOUT)
        remote = Remote(domain, "OCPS", index)
        await asyncio.wait_for(remote.start_task, 60)
    except BaseException:
        await csc.close()
        raise
    return csc, remote


async def submit_job(remote: Remote, config: str, query: str, pipeline: str = PIPELINE) -> tuple[Any, str]:
    """Send one job (``verifyBias`` by default) with ``config``; return the in-progress ack and the job id."""
    ack = await remote.cmd_execute.set_start(
        wait_done=False,
        timeout=60,
        pipeline=pipeline,
        version="",
        config=config,
        data_query=query,
        prereq_jobs="",
        output_dataset_types="",
    )
    return ack, json.loads(ack.result)["job_id"]


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
    from lsst.ts.calibrations.sal import SalRetCode

    results: asyncio.Queue[Any] = asyncio.Queue()
    remote.evt_job_result.callback = results.put_nowait
    load_before = os.getloadavg()[0]
    sent = time.time()
    ack, job_id = await submit_job(remote, f"-j {processes} {OPTIONS}", query)
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


def medians_by_way(
    groups: dict[str, list[dict[str, Any]]], keys: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Median of each key over each way's measurements.

    Parameters
    ----------
    groups : `dict` [`str`, `list` [`dict`]]
        Measurements (dicts holding ``keys``) by way.
    keys : `~collections.abc.Sequence` [`str`]
        The figures to take the median of.

    Returns
    -------
    medians : `dict` [`str`, `dict` [`str`, `float`]]
        way -> key -> median.
    """
    return {
        way: {key: statistics.median(item[key] for item in items) for key in keys}
        for way, items in groups.items()
    }


def load_range(groups: dict[str, list[dict[str, Any]]]) -> str:
    """The 1-minute load averages seen by the measurements, as ``"MIN-MAX on N cores"``.

    Parameters
    ----------
    groups : `dict` [`str`, `list` [`dict`]]
        Measurements by way, each with a ``"load"`` list.

    Returns
    -------
    text : `str`
        For a report line.
    """
    loads = [load for items in groups.values() for item in items for load in item["load"]]
    return f"{min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores"
