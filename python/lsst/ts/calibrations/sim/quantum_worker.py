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

"""QuantumWorker: a long-lived process that plans OCPS jobs and executes their quanta.

Run as ``python -m lsst.ts.calibrations.sim.quantum_worker --parent PID``
(the worker dies with that process, so an OCPS that is killed leaves no
worker behind); the OCPS
(`~lsst.ts.calibrations.sim.quantum_worker_process.QuantumWorkerProcess`)
drives it with one JSON object per line on stdin and reads one JSON reply per
line. The middleware (daf_butler, pipe_base, ctrl_mpexec) and the
calibration tasks are imported once, when the process starts; a worker then
serves job after job.

Requests (``op``) and replies:

``plan`` (``args``, ``graph``, optional ``pipetask``)
    Plan a job from its ``pipetask`` arguments (``--long-log run ...
    --init-only --save-qgraph GRAPH``): build the quantum graph in this
    process on the repository's butler kept open between jobs, save it to
    GRAPH and keep it for execution
    (`~lsst.ts.calibrations.sim.quantum_worker_planner.QuantumWorkerPlanner`;
    options it does not reproduce, or ``pipetask: true``, make it run
    ``pipetask`` itself in process, which also initialises the run). Reply ``{"ok": true,
    "quanta": [...]}`` with, in a topological order, each quantum's
    ``id``, ``label``, ``dataId`` and ``upstream`` ids, or ``{"ok": false,
    "error": "..."}``.
``init`` (``repo``, ``graph``, ``output``, ``outputRun``)
    After ``plan``, in the same worker: make the output collections,
    register dataset types, write init outputs, configs and package
    versions, exactly as ``pipetask run`` does before its first quantum,
    and get ready to run quanta of the planned graph.
``open`` (``repo``, ``graph``, ``output``, ``outputRun``)
    Read the saved graph (the other workers, while the planning one runs
    ``init``); the butler on the output run is made at the first ``run``,
    when the run exists.
``run`` (``id``)
    Execute one quantum with pipe_base's ``SingleQuantumExecutor`` (as
    ``pipetask run`` does, one at a time), its outputs written through
    `~lsst.ts.calibrations.sim.quantum_worker_butler.QuantumWorkerButler`
    (files written holding no registry lock, so workers write at once; what
    the quantum put, its log included when it fails, registered with its
    datastore records in one transaction at its end, or none of it if that
    fails). Reply ``{"ok": true}`` or
    ``{"ok": false, "error": "..."}`` (the traceback goes to the job's log),
    with the quantum's ``start`` and ``end`` (POSIX seconds) and ``cpu``
    (seconds of this process's CPU time).
``close``
    Forget the job (graph and butler); the process waits for the next.
``log`` (``path``)
    Send this process's stdout and stderr (so every log line, traceback or
    C-level message) to ``path``, appending: the job's ``ocps.log`` while a
    job runs, the worker's own log between jobs.
``exit``
    End the process.

The replies go to a private copy of the original stdout: anything a task
prints lands in the log, never in the protocol.
"""

from __future__ import annotations

__all__ = ["QuantumWorker", "main"]

import ctypes
import importlib
import importlib.metadata
import json
import logging
import os
import re
import signal
import sys
import time
import traceback
import uuid
from typing import IO, Any

import lsst.utils.packages
import networkx
from lsst.ctrl.mpexec.cli.pipetask import cli as pipetask_cli
from lsst.daf.butler import Butler
from lsst.daf.butler.cli.cliLog import CliLog
from lsst.pipe.base import TaskFactory
from lsst.pipe.base.quantum_graph import PredictedQuantumGraph
from lsst.pipe.base.single_quantum_executor import SingleQuantumExecutor
from lsst.utils.threads import disable_implicit_threading

from ..cp.pipeline_paths import PipelinePaths
from .quantum_worker_butler import QuantumWorkerButler
from .quantum_worker_planner import PlannedJob, QuantumWorkerPlanner

_log = logging.getLogger("lsst.ts.calibrations.sim.quantum_worker")


class QuantumWorker:
    """The worker side of the protocol (see the module documentation).

    Parameters
    ----------
    requests : `typing.IO` [`str`]
        Where requests come from (one JSON object per line).
    replies : `typing.IO` [`str`]
        Where replies go.
    """

    def __init__(self, requests: IO[str], replies: IO[str]) -> None:
        self.requests = requests
        self.replies = replies
        self.planner = QuantumWorkerPlanner()
        self.planned: PlannedJob | None = None
        self.graph: PredictedQuantumGraph | None = None
        self.job: dict[str, str] = {}
        self.butler: Butler | None = None
        self.executor: SingleQuantumExecutor | None = None
        self.writer: QuantumWorkerButler | None = None

    def serve(self) -> None:
        """Answer requests until ``exit`` or the end of the input."""
        self._reply({"ok": True, "op": "ready", "pid": os.getpid()})
        for line in self.requests:
            if not line.strip():
                continue
            request = json.loads(line)
            op = request.get("op")
            if op == "exit":
                self._close_job()
                self._reply({"ok": True})
                return
            handler = getattr(self, f"_do_{op}", None)
            if handler is None:
                self._reply({"ok": False, "error": f"unknown op {op!r}"})
                continue
            try:
                reply = handler(request)
            except BaseException as e:  # noqa: BLE001 - SystemExit from click included.
                traceback.print_exc()
                reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
            sys.stdout.flush()
            sys.stderr.flush()
            self._reply(reply)

    def _reply(self, reply: dict[str, Any]) -> None:
        self.replies.write(json.dumps(reply) + "\n")
        self.replies.flush()

    def _do_log(self, request: dict[str, Any]) -> dict[str, Any]:
        sys.stdout.flush()
        sys.stderr.flush()
        fd = os.open(request["path"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.dup2(fd, 1)
            os.dup2(fd, 2)
        finally:
            os.close(fd)
        return {"ok": True}

    def _do_plan(self, request: dict[str, Any]) -> dict[str, Any]:
        self._close_job()
        args = list(request["args"])
        start, cpu = time.monotonic(), time.process_time()
        self.planned = None if request.get("pipetask") else self.planner.plan(args)
        if self.planned is not None:
            graph = self.planned.graph
            how = "in process"
        else:
            how = "by pipetask in process (with the run's initialisation)"
            # Standalone, as the executable runs: click turns a refusal or a
            # failure into its message and SystemExit with pipetask's code
            # (not standalone, a failure can come back as a return value).
            code: object = 0
            try:
                pipetask_cli.main(args, prog_name="pipetask")
            except SystemExit as e:
                code = e.code
            if code not in (0, None):
                return {"ok": False, "error": f"pipetask ended with exit code {code}"}
            graph = PredictedQuantumGraph.read_execution_quanta(request["graph"])
        self.graph = graph
        elapsed, cpu = time.monotonic() - start, time.process_time() - cpu
        _log.info("Planned %s in %.2f s (%.2f s of CPU time)", how, elapsed, cpu)
        xgraph = graph.quantum_only_xgraph
        quanta = []
        for quantum_id in networkx.lexicographical_topological_sort(xgraph, key=str):
            node = xgraph.nodes[quantum_id]
            data_id = node["data_id"]
            quanta.append(
                {
                    "id": str(quantum_id),
                    "label": node["task_label"],
                    "dataId": {str(k): _plain(v) for k, v in data_id.required.items()},
                    "upstream": [str(u) for u in xgraph.predecessors(quantum_id)],
                }
            )
        return {"ok": True, "quanta": quanta}

    def _do_init(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.graph is None:
            return {"ok": False, "error": "init before plan: no job"}
        self.job = {key: request[key] for key in ("repo", "output", "outputRun")}
        if self.planned is not None:
            start, cpu = time.monotonic(), time.process_time()
            planned, self.planned = self.planned, None
            self.butler = self.planner.initialize(planned)
            self._make_executor(self.butler)
            _log.info(
                "Initialised the run in %.2f s (%.2f s of CPU time)",
                time.monotonic() - start,
                time.process_time() - cpu,
            )
        return {"ok": True}

    def _do_open(self, request: dict[str, Any]) -> dict[str, Any]:
        self._close_job()
        self.graph = PredictedQuantumGraph.read_execution_quanta(request["graph"])
        self.job = {key: request[key] for key in ("repo", "output", "outputRun")}
        return {"ok": True}

    def _executor(self) -> tuple[SingleQuantumExecutor, QuantumWorkerButler]:
        """The job's executor and the butler it writes with (made at the first quantum: the run exists)."""
        if self.executor is None or self.writer is None:
            # One connection per repository for the worker's life; each job gets a clone of it
            # with its own collections and run (the registry refreshed: the run is new).
            base = self.planner.butler(self.job["repo"])
            self.butler = base.clone(collections=[self.job["output"]], run=self.job["outputRun"])
            base.close()
            self._make_executor(self.butler)
        assert self.executor is not None and self.writer is not None
        return self.executor, self.writer

    def _make_executor(self, butler: Butler) -> None:
        """Make pipe_base's executor, writing outputs through `QuantumWorkerButler` (one registration
        transaction per quantum, no lock held on files).
        """
        self.writer = QuantumWorkerButler(butler)
        self.executor = SingleQuantumExecutor(butler=self.writer, task_factory=TaskFactory())

    def _do_run(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.graph is None or not self.job:
            return {"ok": False, "error": "run before open: no job"}
        quantum_id = uuid.UUID(request["id"])
        start, cpu = time.time(), time.process_time()
        node = self.graph.quantum_only_xgraph.nodes[quantum_id]
        what = f"Quantum {quantum_id} ({node['task_label']}@{node['data_id']})"
        error = None
        writer = None
        try:
            quantum = self.graph.build_execution_quanta([quantum_id])[quantum_id]
            task_node = self.graph.pipeline_graph.tasks[node["task_label"]]
            executor, writer = self._executor()
            executor.execute(task_node, quantum, quantum_id=quantum_id)
        except Exception as e:
            _log.exception("%s failed", what)
            error = f"{type(e).__name__}: {e}"
        except BaseException:
            if writer is not None:
                writer.discard()
            raise
        if writer is not None:
            # What the quantum put, failed or not (a failed quantum's log, as pipetask keeps it),
            # registered in one transaction; if that fails, none of it stays.
            try:
                writer.commit()
            except Exception as e:
                _log.exception("%s could not store its outputs; none is kept", what)
                error = error or f"{type(e).__name__}: {e}"
        reply = {"ok": error is None, "start": start, "end": time.time(), "cpu": self._cpu(cpu)}
        return reply if error is None else reply | {"error": error}

    @staticmethod
    def _cpu(since: float) -> float:
        return round(time.process_time() - since, 4)

    def _do_close(self, request: dict[str, Any]) -> dict[str, Any]:
        self._close_job()
        return {"ok": True}

    def _close_job(self) -> None:
        if self.writer is not None:
            self.writer.discard()
        if self.planned is not None:
            self.planned.butler.close()
        if self.butler is not None:
            self.butler.close()
        self.planned = self.graph = self.butler = self.executor = self.writer = None
        self.job = {}


def _plain(value: Any) -> Any:
    """A data ID value as JSON can carry it."""
    return value if isinstance(value, int | float | str) else str(value)


def import_pipeline_tasks() -> list[str]:
    """Import the module of every task class this package's pipelines name.

    Returns
    -------
    modules : `list` [`str`]
        The modules imported.
    """
    pattern = re.compile(r"^\s*class:\s*([\w.]+)\.\w+\s*$", re.MULTILINE)
    modules: set[str] = set()
    for path in PipelinePaths().pipelines_dir.rglob("*.yaml"):
        modules.update(pattern.findall(path.read_text()))
    for module in sorted(modules):
        importlib.import_module(module)
    return sorted(modules)


def scan_distributions_once() -> None:
    """Make ``pipetask``'s package-version record scan the installed distributions once per worker.

    Writing a job's package versions maps every imported module to its
    distribution with `importlib.metadata.packages_distributions`, a walk
    over every installed file: most of a job's planning time on a loaded
    machine. A worker lives for one environment, so it keeps the first
    walk's result, as ``lsst.utils.packages`` already does for the list of
    distributions; the versions recorded are the same.
    """
    mapping = importlib.metadata.packages_distributions()

    def packages_distributions() -> dict[str, list[str]]:
        return {name: list(dists) for name, dists in mapping.items()}

    lsst.utils.packages.packages_distributions = packages_distributions


def die_with_parent(parent: int) -> None:
    """Have the kernel end this worker (SIGKILL) as soon as the process that started it ends (Linux).

    Parameters
    ----------
    parent : `int`
        The pid of the process that started this one; if it has already
        ended, this process exits at once.
    """
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL))
    if os.getppid() != parent:
        os._exit(1)


def main() -> None:
    """Serve the protocol on stdin and a private copy of stdout.

    ``--parent PID`` (given by the OCPS): end with that process.
    """
    if len(sys.argv) == 3 and sys.argv[1] == "--parent":
        die_with_parent(int(sys.argv[2]))
    # Log as ``pipetask --long-log`` does (the OCPS's jobs all pass it), from the start: a
    # worker that never plans a job still writes its quanta's lines to the job's log.
    CliLog.initLog(longlog=True)
    # Workers are the parallelism: no implicit threads in numpy's libraries (as ``pipetask -j N``
    # does), so two workers on two cores do not fight over them.
    disable_implicit_threading()
    import_pipeline_tasks()
    scan_distributions_once()
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # What tasks print goes to the log, not into the protocol.
    QuantumWorker(sys.stdin, replies).serve()


if __name__ == "__main__":
    main()
