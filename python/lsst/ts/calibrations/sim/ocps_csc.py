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

"""OcpsCsc: the simulated OCPS (OCS-controlled pipeline system), running ``pipetask`` jobs.

``execute(pipeline, version, config, data_query, prereq_jobs,
output_dataset_types)``:

1. checks the request (a bad field fails the command at once, naming the
   field, and starts no job);
2. acknowledges ``CMD_INPROGRESS`` with ``result = {"job_id": ...}`` and
   ``timeout = in_progress_timeout`` (600 s by default, as dm_OCPS), then
   acknowledges in progress again every ``in_progress_timeout / 2`` while the
   job runs, so a client's time limit keeps moving for jobs of any length
   (each in-progress ack extends the limit by its timeout);
3. writes ``job_id(event_name="cmd_execute", seq_num, job_id)``;
4. runs the job: waits for the ``prereq_jobs`` (a prerequisite that did not
   complete fails the job, naming it), then runs, as its own process (an
   argument list, never a shell)::

       pipetask --long-log run -p PIPELINE -b REPO -o u/ocps/<job_id>
           -i LSSTComCam/raw/all <config, split with shlex>
           --output-run u/ocps/<job_id>/run -d DATA_QUERY

   ``${CP_PIPE_DIR}`` / ``${CP_VERIFY_DIR}`` in the pipeline resolve to this
   package's pipelines (`~lsst.ts.calibrations.cp.pipeline_paths.PipelinePaths`)
   and are also set in the process's environment. ``REPO`` is the ``repo``
   the CSC was given, as given (e.g. the alias ``/repo/LSSTComCam``); the
   process inherits ``DAF_BUTLER_REPOSITORY_INDEX``
   (`~lsst.ts.calibrations.repo.repo_alias`). A requested ``-j N`` (or
   ``--processes N``) above ``max_processes`` (the cores of this machine by
   default) is lowered to it, and the cap is logged (CSC log and job log);
5. writes ``job_result(job_id, exit_code, result)``: ``exit_code`` 0 if the
   job COMPLETED (process return code 0), 1 for ERROR, 255 if ABORTED;
   ``result`` is the JSON of the final job record
   (`~lsst.ts.calibrations.sim.ocps_job.OcpsJob`, UWS names ``jobId``,
   ``phase``, ``creationTime``, ``startTime``, ``endTime``, ...);
6. completes the command (``CMD_COMPLETE``) whatever the job's outcome, as
   dm_OCPS does: the command's result text is ``"Job <id> <PHASE>: ..."``
   and the job's success is ``job_result.exit_code``, written before the
   final acknowledgement;
7. if the job COMPLETED, removes its intermediate datasets and keeps what
   is fetched or read (`~lsst.ts.calibrations.sim.ocps_output_policy.OcpsOutputPolicy`),
   in a task of its own started after ``job_result``: the client reads the
   job's results while the removal runs, which never removes a dataset
   type that a task still to run consumes, nor any type kept for readers.
   The record in ``job_result`` says ``"intermediates": "removing"``; when
   the removal ends, what was removed (or why nothing could be, also
   logged at ERROR level, so seen as ``logMessage``) is appended to the
   job's log and ``job.json`` is rewritten with ``removed`` or ``failed``.
   Closing the CSC waits for the removals still running (`removals`).

Execution backend (``execution_backend``): ``"workers"`` (the default)
runs the same arguments (plus ``--init-only --save-qgraph``) in a warm
quantum worker to plan the job, then executes the quanta on ``-j``
long-lived workers, and the job completes only if every quantum succeeded
(`~lsst.ts.calibrations.sim.worker_job_runner.WorkerJobRunner`); the
workers of all jobs together never exceed ``max_processes`` (a job runs on
the free ones, fewer than its ``-j`` if others hold the rest, and waits only
while none is free);
``"pipetask"`` runs the command above as one process; ``"bps"`` runs the
job as a ctrl_bps workflow with the Parsl plugin, quanta clustered per
detector, on ``-j`` local workers: its process is
``bps submit <jobs_root>/<job_id>/bps/submit.yaml``, and the job completes
only if every quantum wrote its outputs
(`~lsst.ts.calibrations.sim.ocps_bps_backend.OcpsBpsBackend`).

Several jobs run at once (``cmd_execute.allow_multiple_callbacks``). Job
processes never block the event loop (asyncio subprocesses; file writes in
threads).

Jobs root: each job has a folder ``<jobs_root>/<job_id>/`` holding
``job.json`` (the record, rewritten at each phase change) and
``outs/ocps.log`` (a few header lines — command line, the ``-j`` cap — then
the process's stdout and stderr), as at the observatory
(``/scratch/uws/<jobId>/outs/ocps.log``). ``jobs_root`` is a constructor
argument; by default ``<repository root>/ocps/jobs``. A prerequisite job id
not known to this CSC instance is looked up in ``<jobs_root>/<id>/job.json``,
so jobs of an earlier run of the CSC can be prerequisites.

``abort_job(job_id)``: a job waiting for prerequisites (or delayed) ends at
once; a running process group gets SIGTERM, then SIGKILL after
``abort_grace_period`` seconds. The job ends ABORTED with ``exit_code`` 255;
the command completes when the job has ended. Closing the CSC aborts every
job still running.

Fault injection (tests and demos):

- `inject_failure` (``count`` jobs): the next jobs run ``pipetask`` with an
  extra ``-c ocpsInjectedFailure:reason=...`` override naming a task label
  that no pipeline has, so ``pipetask`` itself fails (return code 1, the
  error in the log) and the job ends ERROR with ``exit_code`` 1.
- `inject_worker_death` (``count`` jobs, workers backend): a worker of each
  job is killed mid-quantum; the job ends ERROR naming the quanta that did
  not run.
- `inject_slow_jobs` (``count`` jobs, ``delay`` seconds): the next jobs
  wait ``delay`` seconds in phase EXECUTING before their process starts (a
  busy compute node); they can be aborted while waiting.
"""

__all__ = ["OcpsCsc"]

import asyncio
import json
import os
import shlex
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from ..cp.pipeline_paths import PipelinePaths, pipetask_executable
from ..repo.repo_alias import resolve_repository
from ..repo.repository import raw_run
from ..sal import BaseCsc, ExpectedError, SalRetCode, State
from ..version import __version__
from .butler_cache import butler_cache_environment
from .ocps_bps_backend import OcpsBpsBackend
from .ocps_execution_backend import OcpsExecutionBackend
from .ocps_execution_backends import DEFAULT_EXECUTION_BACKEND
from .ocps_job import ExecuteJob, OcpsJob
from .ocps_job_phase import FINAL_PHASES, OcpsJobPhase
from .ocps_output_policy import OcpsOutputPolicy
from .quantum_worker_pool import QuantumWorkerPool
from .worker_job_runner import WorkerJobRunner

# Options the OCPS sets itself; a request's config may not set them.
_RESERVED_OPTIONS = {
    "-b": "the repository",
    "--butler-config": "the repository",
    "-o": "the output collection",
    "--output": "the output collection",
    "--output-run": "the output run",
    "-p": "the pipeline",
    "--pipeline": "the pipeline",
    "-d": "the data query",
    "--data-query": "the data query",
}
_PROCESS_OPTIONS = ("-j", "--processes")
# Task label used by inject_failure: no pipeline has it, so pipetask fails.
INJECTED_FAILURE_LABEL = "ocpsInjectedFailure"

OCPS_INSTRUMENTS: dict[int, str] = {1: "LATISS", 2: "LSSTComCam", 3: "LSSTCam"}
"""Instrument of each OCPS index (as at the observatory)."""


def _without_processes(options: list[str]) -> list[str]:
    """Return the options without the ``-j N`` that `OcpsCsc._cap_processes` put in."""
    result: list[str] = []
    i = 0
    while i < len(options):
        if options[i] == "-j":
            i += 2
        else:
            result.append(options[i])
            i += 1
    return result


def _machine_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


class OcpsCsc(BaseCsc):
    """The simulated OCPS: runs pipelines on a butler repository as ``pipetask`` jobs.

    Parameters
    ----------
    repo : `str` or `os.PathLike`
        The repository: a path or a label of the butler repository index
        (e.g. ``/repo/LSSTComCam``), passed to ``pipetask -b`` as given.
        Resolved (`~lsst.ts.calibrations.repo.repo_alias.resolve_repository`)
        when the CSC starts; a name that reaches no repository makes the
        start fail.
    jobs_root : `str` or `os.PathLike`, optional
        Folder of the job folders; ``<repository root>/ocps/jobs`` by
        default.
    index : `int`, optional
        SAL index: 2 (LSSTComCam) by default; 1 is LATISS's, 3 LSSTCam's.
        The index chooses the instrument whose pipelines and raws
        (``<instrument>/raw/all``) the jobs use, as at the observatory.
    initial_state : `State`, optional
        Summary state after starting.
    override : `str`, optional
        Configuration override (unused).
    simulation_mode : `int`, optional
        0 or 1; the jobs are real either way.
    max_processes : `int`, optional
        Largest ``-j`` a job may use; the cores of this machine by default.
    in_progress_timeout : `float`, optional
        Timeout (s) of each in-progress acknowledgement of ``execute``; the
        acknowledgement is repeated every half of it while the job runs.
    abort_grace_period : `float`, optional
        Time (s) between SIGTERM and SIGKILL when a job is aborted.
    pipetask : `~collections.abc.Sequence` [`str`], optional
        The ``pipetask`` command (argument list); the ``pipetask`` beside
        this Python by default.
    heartbeat_interval : `float`, optional
        Interval (s) between heartbeats; 1 s if None.
    execution_backend : `OcpsExecutionBackend` or `str`, optional
        How jobs run: ``"workers"`` (the default: long-lived quantum
        workers, up to the job's ``-j``, kept warm between jobs),
        ``"pipetask"`` (one ``pipetask run`` process) or ``"bps"`` (a
        ctrl_bps workflow on local Parsl workers,
        `~lsst.ts.calibrations.sim.ocps_bps_backend.OcpsBpsBackend`).
    bps_keep_submit : `str`, optional
        With the ``"bps"`` backend, when a job's BPS submit folder
        (``<jobs_root>/<job_id>/bps``) is kept: ``"failed"`` (the default),
        ``"always"`` or ``"never"``.
    keep_intermediates : `bool`, optional
        Keep every dataset a job writes (False, the default: a completed
        job's intermediates are removed,
        `~lsst.ts.calibrations.sim.ocps_output_policy.OcpsOutputPolicy`),
        e.g. to compare or debug a pipeline's steps.

    Raises
    ------
    ValueError
        Raised if ``max_processes``, ``in_progress_timeout`` or
        ``abort_grace_period`` is not positive, ``execution_backend`` or
        ``bps_keep_submit`` is not one of its values, or another argument
        is invalid (see `BaseCsc`).

    Attributes
    ----------
    jobs : `dict` [`str`, `OcpsJob`]
        The jobs of this CSC instance, by id.
    repo_root : `str` or `None`
        The repository root ``repo`` reaches, once started.
    removals : `dict` [`str`, `asyncio.Task`]
        Removals of completed jobs' intermediates still running, by job id.
    """

    valid_simulation_modes: ClassVar[Sequence[int]] = (0, 1)
    version: ClassVar[str] = __version__

    def __init__(
        self,
        repo: str | os.PathLike[str],
        jobs_root: str | os.PathLike[str] | None = None,
        *,
        index: int = 2,
        initial_state: State | int = State.STANDBY,
        override: str = "",
        simulation_mode: int = 0,
        max_processes: int | None = None,
        in_progress_timeout: float = 600.0,
        abort_grace_period: float = 10.0,
        pipetask: Sequence[str] | None = None,
        heartbeat_interval: float | None = None,
        execution_backend: OcpsExecutionBackend | str = DEFAULT_EXECUTION_BACKEND,
        bps_keep_submit: str = "failed",
        keep_intermediates: bool = False,
    ) -> None:
        try:
            self.execution_backend = OcpsExecutionBackend(execution_backend)
        except ValueError:
            choices = ", ".join(repr(str(b)) for b in OcpsExecutionBackend)
            raise ValueError(f"execution_backend={execution_backend!r} must be one of {choices}") from None
        if bps_keep_submit not in OcpsBpsBackend.KEEP_SUBMIT:
            choices = ", ".join(map(repr, OcpsBpsBackend.KEEP_SUBMIT))
            raise ValueError(f"bps_keep_submit={bps_keep_submit!r} must be one of {choices}")
        self.bps_keep_submit = bps_keep_submit
        self.output_policy = OcpsOutputPolicy(keep_intermediates=keep_intermediates)
        self.bps_backend: OcpsBpsBackend | None = None
        self.worker_pool: QuantumWorkerPool | None = None
        self.worker_runner: WorkerJobRunner | None = None
        for name, value in (
            ("max_processes", max_processes),
            ("in_progress_timeout", in_progress_timeout),
            ("abort_grace_period", abort_grace_period),
        ):
            if value is not None and value <= 0:
                raise ValueError(f"{name}={value} must be positive")
        self.repo = os.fspath(repo)
        self._jobs_root_arg = Path(jobs_root).expanduser().absolute() if jobs_root is not None else None
        self.jobs_root: Path | None = self._jobs_root_arg
        self.repo_root: str | None = None
        self.max_processes = max_processes if max_processes is not None else _machine_cores()
        self.in_progress_timeout = float(in_progress_timeout)
        self.abort_grace_period = float(abort_grace_period)
        self.pipetask = list(pipetask) if pipetask is not None else [pipetask_executable()]
        self.instrument = OCPS_INSTRUMENTS.get(index, "LSSTComCam")
        self.pipeline_paths = PipelinePaths(instrument=self.instrument)
        self.jobs: dict[str, OcpsJob] = {}
        self.removals: dict[str, asyncio.Task[None]] = {}
        self.remove_before_result = False
        """Remove a job's intermediates before writing its ``job_result`` (the
        order before the removal ran after it; for comparisons)."""
        self._fail_count = 0
        self._fail_reason = ""
        self._slow_count = 0
        self._slow_delay = 0.0
        super().__init__(
            "OCPS",
            index=index,
            initial_state=initial_state,
            override=override,
            simulation_mode=simulation_mode,
            heartbeat_interval=heartbeat_interval,
        )
        self.cmd_execute.allow_multiple_callbacks = True
        self.cmd_abort_job.allow_multiple_callbacks = True

    async def start(self) -> None:
        """Resolve the repository, make the jobs root, then start the CSC."""
        self.repo_root = await asyncio.to_thread(resolve_repository, self.repo)
        if self._jobs_root_arg is None:
            self.jobs_root = Path(self.repo_root) / "ocps" / "jobs"
        assert self.jobs_root is not None
        await asyncio.to_thread(self.jobs_root.mkdir, parents=True, exist_ok=True)
        if self.execution_backend == OcpsExecutionBackend.BPS:
            self.bps_backend = OcpsBpsBackend(
                self.repo_root, raw_run(self.instrument), keep_submit=self.bps_keep_submit
            )
        if self.execution_backend == OcpsExecutionBackend.WORKERS:
            self.worker_pool = QuantumWorkerPool(
                self.jobs_root.parent / "workers",
                self.job_environment(),
                max_idle=self.max_processes,
                log=self.log,
                max_workers=self.max_processes,
            )
            self.worker_runner = WorkerJobRunner(self.worker_pool, self.repo, self.log)
        await super().start()

    def job_environment(self) -> dict[str, str]:
        """Return the environment of the job processes and quantum workers.

        This process's environment with the pipeline variables set, and the
        butlers' datastore cache in ``<jobs root>/../butler-cache``
        (`~lsst.ts.calibrations.sim.butler_cache`), so that a killed job or
        worker leaves no ``butler-cache-dir-*`` folder in ``$TMPDIR``.
        """
        assert self.jobs_root is not None, "the CSC has not started"
        return butler_cache_environment(self.jobs_root.parent, self.pipeline_paths.pipeline_environment())

    def _backend(self, job: OcpsJob) -> ExecuteJob:
        """The execution backend's way to run ``job`` (the configuration's ``execution_backend``)."""
        match job.execution_backend:
            case OcpsExecutionBackend.PIPETASK | OcpsExecutionBackend.BPS:
                return OcpsJob.run_pipetask  # bps: the process is ``bps submit``
            case OcpsExecutionBackend.WORKERS:
                assert self.worker_runner is not None
                runner = self.worker_runner
                return lambda job, log_file, env, log: runner.run(job, job.command[len(self.pipetask) :])
        raise AssertionError(f"unknown execution_backend {job.execution_backend!r}")

    # Fault injection.

    def inject_failure(self, count: int = 1, reason: str = "injected failure") -> None:
        """Make the next ``count`` jobs fail in ``pipetask`` (exit_code 1, phase ERROR).

        Parameters
        ----------
        count : `int`, optional
            Number of jobs.
        reason : `str`, optional
            Text put in the failing override, seen in the job log.
        """
        self._fail_count = int(count)
        self._fail_reason = reason

    def inject_slow_jobs(self, count: int = 1, delay: float = 10.0) -> None:
        """Make the next ``count`` jobs wait ``delay`` seconds (EXECUTING) before their process starts.

        Parameters
        ----------
        count : `int`, optional
            Number of jobs.
        delay : `float`, optional
            Delay (s).
        """
        self._slow_count = int(count)
        self._slow_delay = float(delay)

    def inject_worker_death(self, count: int = 1, after_quanta: int = 1) -> None:
        """Kill (SIGKILL) a quantum worker of each of the next ``count`` jobs mid-quantum.

        Workers backend only: the worker dies as it runs the quantum that
        follows the first ``after_quanta`` finished quanta of its job.

        Parameters
        ----------
        count : `int`, optional
            Number of jobs.
        after_quanta : `int`, optional
            Quanta finished before the kill.

        Raises
        ------
        RuntimeError
            Raised if the backend is not ``workers`` or the CSC has not
            started.
        """
        if self.worker_runner is None:
            raise RuntimeError(
                f"inject_worker_death needs execution_backend='workers' and a started CSC "
                f"(execution_backend={str(self.execution_backend)!r})"
            )
        self.worker_runner.inject_worker_death(count, after_quanta)

    def _next_delay(self) -> float | None:
        """Return the delay of the next job to start (`inject_slow_jobs`), or None."""
        if self._slow_count <= 0:
            return None
        self._slow_count -= 1
        return self._slow_delay

    # Commands.

    async def do_execute(self, data: Any) -> Any:
        """Run a pipeline as a job; see the module documentation.

        Raises
        ------
        ExpectedError
            If not ENABLED, or a field of the request is invalid (the
            message names it).
        """
        self.assert_enabled("execute")
        job = await self._make_job(data)
        self.jobs[job.job_id] = job
        # "logFile" goes beyond the real OCPS's {"job_id": ...}: clients that know
        # it can tell the operator where the job's log is while it runs.
        ack_result = json.dumps({"job_id": job.job_id, "logFile": str(job.log_file)})
        await self.cmd_execute.ack_in_progress(data, timeout=self.in_progress_timeout, result=ack_result)
        await self.evt_job_id.set_write(
            event_name="cmd_execute", seq_num=data.private_seqNum, job_id=job.job_id
        )
        task = asyncio.create_task(
            job.run(
                env=self.job_environment(),
                log=self.log,
                prerequisites=self._wait_for_prereqs,
                delay=self._next_delay,
                execute=self._backend(job),
            )
        )
        job.task = task
        try:
            while True:
                done, _ = await asyncio.wait([task], timeout=self.in_progress_timeout / 2)
                if done:
                    break
                await self.cmd_execute.ack_in_progress(
                    data, timeout=self.in_progress_timeout, result=ack_result
                )
        except asyncio.CancelledError:
            await job.abort(min(self.abort_grace_period, 1.0), self.log)
            raise
        if not job.is_final:  # run failed unexpectedly; it logged why.
            job.finish(OcpsJobPhase.ERROR, "the OCPS failed to run the job; see the OCPS log")
        removes = self.output_policy.removes_from(job)
        if removes and self.remove_before_result:
            await self.output_policy.apply(job, self.repo, self.log)
            removes = False
        elif removes:
            job.intermediates = OcpsJob.INTERMEDIATES_REMOVING
        record = job.record()
        await self.evt_job_result.set_write(
            job_id=job.job_id, exit_code=job.exit_code, result=json.dumps(record), force_output=True
        )
        if removes:
            # After job_result: the client reads the job's kept outputs meanwhile (the
            # removal never touches them; see OcpsOutputPolicy).
            self._start_removal(job)
        summary = f"Job {job.job_id} {job.phase}"
        if job.message:
            summary += f": {job.message}"
        return self.salinfo.make_ackcmd(
            private_seqNum=data.private_seqNum, ack=SalRetCode.CMD_COMPLETE, result=summary
        )

    def _start_removal(self, job: OcpsJob) -> None:
        """Remove a completed job's intermediates in a task the CSC keeps until it ends.

        The outcome goes to the job's log and record (``job.json``
        rewritten); `close_tasks` waits for the removals still running.
        """

        async def remove() -> None:
            try:
                await self.output_policy.apply(job, self.repo, self.log)
            except Exception as e:  # apply reports its own failures; this would be a defect of it
                self.log.exception("Job %s: the removal of its intermediates failed", job.job_id)
                job.intermediates_detail = f"the removal failed: {e!r}"
            finally:
                if job.intermediates == OcpsJob.INTERMEDIATES_REMOVING:  # it did not end normally
                    job.intermediates = OcpsJob.INTERMEDIATES_FAILED
                    job.intermediates_detail = job.intermediates_detail or "the removal was interrupted"
                try:
                    await job.write_record()
                except Exception:
                    self.log.exception("Job %s: cannot rewrite %s", job.job_id, job.record_file)

        task = asyncio.create_task(remove(), name=f"remove intermediates of job {job.job_id}")
        self.removals[job.job_id] = task
        task.add_done_callback(self._removal_done)

    def _removal_done(self, task: "asyncio.Task[None]") -> None:
        """Forget a finished removal; log how it failed if it raised (`OcpsOutputPolicy.apply` should not)."""
        for job_id, item in list(self.removals.items()):
            if item is task:
                del self.removals[job_id]
        if not task.cancelled() and task.exception() is not None:
            self.log.error("%s failed: %r", task.get_name(), task.exception(), exc_info=task.exception())

    async def wait_for_removals(self) -> None:
        """Wait until the intermediates of every completed job have been removed (or failed to be)."""
        while pending := [task for task in self.removals.values() if not task.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    async def do_abort_job(self, data: Any) -> None:
        """Abort a job: it ends ABORTED and its ``job_result`` has ``exit_code`` 255.

        Raises
        ------
        ExpectedError
            If not ENABLED, the job is unknown, or it has already ended.
        """
        self.assert_enabled("abort_job")
        job = self.jobs.get(data.job_id)
        if job is None:
            known = ", ".join(sorted(self.jobs)) or "none"
            raise ExpectedError(
                f"abort_job: job_id={data.job_id!r} is not a job of this OCPS (jobs: {known})."
            )
        if job.is_final:
            raise ExpectedError(f"abort_job: job {job.job_id} has already ended with phase {job.phase}.")
        await self.cmd_abort_job.ack_in_progress(data, timeout=self.abort_grace_period + 10.0)
        await job.abort(self.abort_grace_period, self.log)

    # Jobs.

    async def _make_job(self, data: Any) -> OcpsJob:
        """Check a request and make its job (QUEUED; nothing started)."""
        assert self.jobs_root is not None
        parameters = {
            name: str(getattr(data, name))
            for name in ("pipeline", "version", "config", "data_query", "prereq_jobs", "output_dataset_types")
        }
        pipeline_url = parameters["pipeline"].strip()
        if not pipeline_url:
            raise ExpectedError(
                "execute: pipeline is empty: give a pipeline YAML, e.g. "
                f"${{CP_PIPE_DIR}}/pipelines/{self.instrument}/cpBias.yaml"
            )
        pipeline = self.pipeline_paths.resolve(pipeline_url)
        pipeline_file = Path(pipeline.split("#", 1)[0])
        if not await asyncio.to_thread(pipeline_file.is_file):
            available = sorted(p.name for p in self.pipeline_paths.pipelines_dir.glob("*.yaml"))
            raise ExpectedError(
                f"execute: pipeline={pipeline_url!r} resolves to {str(pipeline_file)!r}, not a file; "
                f"{self.instrument} pipelines: ${{CP_PIPE_DIR}}/pipelines/{self.instrument}/ "
                f"{', '.join(available)}"
            )
        try:
            options = shlex.split(parameters["config"])
        except ValueError as e:
            raise ExpectedError(f"execute: config={parameters['config']!r} cannot be split ({e}).") from None
        options, requested, processes = self._cap_processes(options, parameters["config"])
        for option in options:
            name = option.split("=", 1)[0]
            if name in _RESERVED_OPTIONS:
                raise ExpectedError(
                    f"execute: config must not set {name}: the OCPS sets {_RESERVED_OPTIONS[name]} itself "
                    "(use the pipeline and data_query fields)."
                )
        prereq_jobs = [item.strip() for item in parameters["prereq_jobs"].split(",") if item.strip()]
        for prereq in prereq_jobs:
            if prereq not in self.jobs and not await asyncio.to_thread(
                (self.jobs_root / prereq / "job.json").is_file
            ):
                raise ExpectedError(
                    f"execute: prereq_jobs names {prereq!r}, which is not a job of this OCPS "
                    f"(nor in {self.jobs_root}): give comma-separated job ids from earlier executes."
                )
        job_id = uuid.uuid4().hex
        output = f"u/ocps/{job_id}"
        if self._fail_count > 0:
            self._fail_count -= 1
            options += ["-c", f"{INJECTED_FAILURE_LABEL}:reason={self._fail_reason}"]
        command = [*self.pipetask, "--long-log", "run", "-p", pipeline, "-b", self.repo]
        command += ["-o", output, "-i", raw_run(self.instrument), *options, "--output-run", f"{output}/run"]
        if parameters["data_query"].strip():
            command += ["-d", parameters["data_query"]]
        if self.bps_backend is not None:
            bps_options = _without_processes(options)
            try:
                self.bps_backend.check_options(bps_options)
            except ValueError as e:
                raise ExpectedError(f"execute: {e}") from None
            command = self.bps_backend.command(self.jobs_root / job_id)
        job = OcpsJob(
            job_id=job_id,
            parameters=parameters,
            pipeline=pipeline,
            prereq_jobs=prereq_jobs,
            job_dir=self.jobs_root / job_id,
            output_collection=output,
            output_run=f"{output}/run",
            command=command,
            processes=processes,
            requested_processes=requested,
            phase=OcpsJobPhase.PENDING if prereq_jobs else OcpsJobPhase.QUEUED,
            backend=self.bps_backend,
            execution_backend=str(self.execution_backend),
        )
        if self.bps_backend is not None:
            self.bps_backend.register(job, bps_options)
        return job

    def _cap_processes(self, options: list[str], config: str) -> tuple[list[str], int | None, int]:
        """Lower a requested ``-j N`` / ``--processes N`` to ``max_processes``.

        Returns the options, the requested number (None if not given) and
        the number the job runs with.
        """
        result: list[str] = []
        requested: int | None = None
        i = 0
        while i < len(options):
            option = options[i]
            text: str | None = None
            if option in _PROCESS_OPTIONS:
                if i + 1 >= len(options):
                    raise ExpectedError(f"execute: config={config!r}: {option} needs a number of processes.")
                text = options[i + 1]
                i += 2
            elif option.startswith("--processes="):
                text = option.split("=", 1)[1]
                i += 1
            elif option.startswith("-j") and not option.startswith("--"):
                text = option[2:].lstrip("=")
                i += 1
            else:
                result.append(option)
                i += 1
                continue
            try:
                requested = int(text)
                if requested < 1:
                    raise ValueError
            except ValueError:
                raise ExpectedError(
                    f"execute: config={config!r}: the number of processes {text!r} must be a positive int."
                ) from None
        processes = min(requested, self.max_processes) if requested is not None else 1
        if requested is not None:
            result += ["-j", str(processes)]
        return result, requested, processes

    async def _wait_for_prereqs(self, job: OcpsJob) -> str:
        """Wait for the prerequisite jobs; return why the job cannot run, or ""."""
        assert self.jobs_root is not None
        for prereq_id in job.prereq_jobs:
            prereq = self.jobs.get(prereq_id)
            if prereq is not None:
                await asyncio.shield(prereq.done)
                phase, message = prereq.phase, prereq.message
            else:
                path = self.jobs_root / prereq_id / "job.json"
                record = json.loads(await asyncio.to_thread(path.read_text))
                phase, message = record.get("phase", "?"), record.get("message", "")
                if phase not in FINAL_PHASES:
                    message = f"it was {phase} when the OCPS that ran it stopped"
                    phase = OcpsJobPhase.ERROR
            if phase != OcpsJobPhase.COMPLETED:
                because = f" ({message})" if message else ""
                return f"prerequisite job {prereq_id} ended with phase {phase}{because}"
        return ""

    async def close_tasks(self) -> None:
        """Abort the jobs still running (SIGTERM, SIGKILL after 1 s), then close."""
        running = [job for job in self.jobs.values() if not job.is_final]
        if running:
            await asyncio.gather(
                *(job.abort(min(self.abort_grace_period, 1.0), self.log) for job in running),
                return_exceptions=True,
            )
        for job in self.jobs.values():
            if job.task is not None:
                job.task.cancel()
        # A removal is let finish (butler calls in a thread cannot be cut off cleanly):
        # stopping mid-prune would leave registry entries without files, or the reverse.
        if self.removals:
            self.log.info("Waiting for the removal of the intermediates of %d job(s)", len(self.removals))
        await self.wait_for_removals()
        if self.worker_pool is not None:
            await self.worker_pool.close()
        await super().close_tasks()
