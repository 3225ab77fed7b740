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

"""CPU time a quantum worker spends per quantum, for one or more source trees side by side.

Run as ``python benchmarks/quantum_cpu.py [--workdir DIR] [--exposures 4]
[--detectors 3] [--repeats 3] [--trees NAME=PYTHONPATH,...] [--json FILE]``.

One ``verifyBias`` job (ISR, per-detector statistics, per-exposure and
per-run merges; with 4 and 3: 23 quanta) over the biases of
``processing_throughput.py`` (the helpers of ``_ocps_bench.py``, the same
work folder layout), executed by a
`~lsst.ts.calibrations.sim.quantum_worker.QuantumWorker` driven through its
protocol handlers (``plan``, ``init``, then ``run`` per quantum in the
order the OCPS gets) in a process of its own: no SAL, no scheduling, only
what a worker does per quantum. Each tree of ``--trees`` (a name and the
``PYTHONPATH`` its package is imported from; by default this checkout's
``python`` folder only) runs ``--repeats`` such processes, the trees taking
turns (A B A B ...) so that a change of machine load falls on all of them.

Per run: the quanta's CPU time (the worker's own ``cpu`` reply per quantum)
summed and its median per quantum, by task label, and the whole process's
CPU time (user + system, with its imports and planning). It prints the
medians per tree side by side and their ratios to the first tree, and the
load average (1 min) around each run: the machine may be shared.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _ocps_bench import OPTIONS, PIPELINE, add_arguments, bias_query, prepare  # noqa: E402


def run_one_job(repo: Path, query: str, workdir: Path) -> dict[str, Any]:
    """Plan, initialise and run one job in a `QuantumWorker` of this process; return its figures.

    Parameters
    ----------
    repo : `pathlib.Path`
        The prepared repository.
    query : `str`
        The job's data query.
    workdir : `pathlib.Path`
        Where the job's graph is saved.

    Returns
    -------
    figures : `dict` [`str`, `typing.Any`]
        ``quanta`` (label and CPU seconds of each, in execution order) and
        ``plan_cpu`` (planning and initialisation, CPU seconds).
    """
    from lsst.ts.calibrations.cp.pipeline_paths import PipelinePaths
    from lsst.ts.calibrations.sim.quantum_worker import (
        QuantumWorker,
        import_pipeline_tasks,
        scan_distributions_once,
    )

    paths = PipelinePaths()
    os.environ.update(paths.environment())
    import_pipeline_tasks()
    scan_distributions_once()
    output = f"u/bench/{uuid.uuid4().hex}"
    graph = str(workdir / f"{uuid.uuid4().hex}.qg")
    args = ["--long-log", "run", "-p", paths.resolve(PIPELINE), "-b", str(repo), "-o", output]
    args += ["-i", "LSSTComCam/raw/all", *OPTIONS.split(), "--output-run", f"{output}/run", "-d", query]
    worker = QuantumWorker(io.StringIO(), io.StringIO())
    cpu = time.process_time()
    plan = worker._do_plan({"args": [*args, "--init-only", "--save-qgraph", graph], "graph": graph})
    if not plan["ok"]:
        raise RuntimeError(f"planning failed: {plan['error']}")
    where = {"repo": str(repo), "graph": graph, "output": output, "outputRun": f"{output}/run"}
    reply = worker._do_init(where)
    if not reply["ok"]:
        raise RuntimeError(f"initialisation failed: {reply['error']}")
    plan_cpu = time.process_time() - cpu
    quanta = []
    for quantum in plan["quanta"]:
        reply = worker._do_run({"id": quantum["id"]})
        if not reply["ok"]:
            raise RuntimeError(f"quantum {quantum['label']} failed: {reply['error']}")
        quanta.append({"label": quantum["label"], "cpu": reply["cpu"]})
    worker._close_job()
    return {"quanta": quanta, "plan_cpu": plan_cpu}


def child(args: argparse.Namespace) -> None:
    """Run one job (``--child``) and print its figures as JSON on the last line."""
    from lsst.daf.butler.cli.cliLog import CliLog
    from lsst.utils.threads import disable_implicit_threading

    CliLog.initLog(longlog=True)
    disable_implicit_threading()
    detectors = list(range(args.detectors))
    exposures = json.loads(args.child)
    figures = run_one_job(Path(args.workdir) / "repo", bias_query(detectors, exposures), Path(args.workdir))
    print(json.dumps(figures), flush=True)


def summarise(figures: dict[str, Any], cpu: float, load: list[float]) -> dict[str, Any]:
    """One run's figures: quanta CPU summed and median, by label, and the process's CPU."""
    labels: dict[str, list[float]] = {}
    for quantum in figures["quanta"]:
        labels.setdefault(quantum["label"], []).append(quantum["cpu"])
    return {
        "quanta": len(figures["quanta"]),
        "quanta_cpu": sum(q["cpu"] for q in figures["quanta"]),
        "per_quantum": statistics.median(q["cpu"] for q in figures["quanta"]),
        "by_label": {label: statistics.median(values) for label, values in labels.items()},
        "plan_cpu": figures["plan_cpu"],
        "process_cpu": cpu,
        "load": load,
    }


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Prepare the inputs, then run the trees' jobs in turn; return every run's figures."""
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="quantum-cpu-"))
    detectors = list(range(args.detectors))
    began = time.monotonic()
    exposures = prepare(workdir / "repo", detectors, args.exposures)
    print(f"inputs: {len(exposures)} biases x {len(detectors)} detectors in {time.monotonic() - began:.0f} s")
    default = str(Path(__file__).resolve().parent.parent / "python")
    trees = dict(item.split("=", 1) for item in args.trees.split(",")) if args.trees else {"this": default}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for repeat in range(args.repeats):
        for name, path in trees.items():
            env = dict(os.environ, PYTHONPATH=path)
            command = [sys.executable, __file__, "--child", json.dumps(exposures), "--workdir", str(workdir)]
            command += ["--detectors", str(args.detectors)]
            load = os.getloadavg()[0]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            done = subprocess.run(command, env=env, capture_output=True, text=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode != 0:
                raise RuntimeError(f"{name}: the job's process ended with {done.returncode}:\n{done.stderr}")
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            result = summarise(figures, cpu, [load, os.getloadavg()[0]])
            runs[name].append(result)
            print(
                f"  {name} #{repeat + 1}: {result['quanta']} quanta, {result['quanta_cpu']:.2f} s of CPU "
                f"(median {result['per_quantum'] * 1000:.0f} ms per quantum), process {cpu:.1f} s, "
                f"load {result['load'][0]:.1f} -> {result['load'][1]:.1f}",
                flush=True,
            )
    return {"workdir": str(workdir), "trees": trees, "runs": runs}


def report(results: dict[str, Any]) -> None:
    """Print the medians per tree side by side, with their ratios to the first tree."""
    runs = results["runs"]
    names = list(runs)
    labels = sorted({label for items in runs.values() for item in items for label in item["by_label"]})
    rows: list[tuple[str, list[float]]] = []
    for key, title in (("quanta_cpu", "quanta CPU, s"), ("per_quantum", "per quantum, s")):
        rows.append((title, [statistics.median(item[key] for item in runs[n]) for n in names]))
    for label in labels:
        values = [statistics.median(item["by_label"][label] for item in runs[n]) for n in names]
        rows.append((f"  {label}, s", values))
    for key, title in (("plan_cpu", "plan + init CPU, s"), ("process_cpu", "process CPU, s")):
        rows.append((title, [statistics.median(item[key] for item in runs[n]) for n in names]))
    print(f"\nmedians over {len(runs[names[0]])} runs per tree")
    print(
        f"{'':28}"
        + "".join(f"{name:>12}" for name in names)
        + "".join(f"{'/' + names[0]:>12}" for _ in names[1:])
    )
    for title, values in rows:
        ratios = "".join(f"{v / values[0]:>12.2f}" if values[0] else f"{'-':>12}" for v in values[1:])
        print(f"{title:28}" + "".join(f"{v:>12.3f}" for v in values) + ratios)
    loads = [load for items in runs.values() for item in items for load in item["load"]]
    print(f"load average (1 min): {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores")


def main() -> None:
    """Parse the options; run the benchmark, one child job, or reprint an earlier ``--json``."""
    parser = argparse.ArgumentParser(description="CPU time a quantum worker spends per quantum.")
    add_arguments(parser, exposures=4, detectors=3)
    parser.add_argument("--repeats", type=int, default=3, help="jobs per tree; default 3")
    parser.add_argument(
        "--trees",
        default=None,
        help="NAME=PYTHONPATH,... package trees to compare (default: this checkout's python folder)",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args)
        return
    if args.report:
        report(json.loads(Path(args.report).read_text()))
        return
    results = benchmark(args)
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
