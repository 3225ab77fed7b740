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

"""OcpsJob: one OCPS job and its record with the UWS field names.

The record (`OcpsJob.record`) is what the OCPS writes as
``job_result.result`` (JSON) and keeps as ``<jobs_root>/<jobId>/job.json``:

=====================  ====================================================
key                    value
=====================  ====================================================
``jobId``              the job id (also in ``u/ocps/<jobId>``)
``runId``              the pipeline (as requested)
``phase``              UWS phase: ``PENDING`` (waiting for prerequisite
                       jobs), ``QUEUED``, ``EXECUTING``, then ``COMPLETED``,
                       ``ERROR`` or ``ABORTED``
``creationTime``       when ``execute`` was received (ISO 8601 UTC)
``startTime``          when the process started, or null
``endTime``            when the job ended, or null
``exitCode``           the ``job_result.exit_code``: 0 completed, 1 error,
                       255 aborted; null while running
``returnCode``         the process's return code (negative: killed by that
                       signal), or null if no process ran
``message``            why the job ended as it did ("" when completed)
``parameters``         the request: ``pipeline``, ``version``, ``config``,
                       ``data_query``, ``prereq_jobs``,
                       ``output_dataset_types``
``pipeline``           the resolved pipeline path
``prereqJobs``         the prerequisite job ids (list)
``outputCollection``   ``u/ocps/<jobId>`` (CHAINED)
``outputRun``          ``u/ocps/<jobId>/run`` (RUN)
``logFile``            ``<jobs_root>/<jobId>/outs/ocps.log``
``commandLine``        the process's argument list
``processes``          the ``-j`` the job ran with (after the cap)
``requestedProcesses`` the ``-j`` requested, or null
``executionBackend``   ``pipetask`` (one process runs the job) or
                       ``workers`` (long-lived quantum workers)
``workers``            workers backend: per worker its ``pid``, the
                       ``quanta`` it finished and its ``returnCode`` if it
                       ended (null while alive); else null
``quanta``             workers backend: every quantum's ``id``, ``label``,
                       ``dataId``, ``status`` (``succeeded``, ``failed``,
                       ``lost`` with its worker, ``blocked`` by an input
                       that was not made), ``error`` and ``worker``; else
                       null
``firstQuantumStart``  workers backend: when the first quantum started
``lastQuantumEnd``     workers backend: when the last quantum ended
``intermediates``      removal of a completed job's intermediate datasets
                       (`~lsst.ts.calibrations.sim.ocps_output_policy.OcpsOutputPolicy`):
                       ``removing`` (under way: what ``job_result``
                       carries, the removal runs after it), then
                       ``removed`` or ``failed`` in ``job.json``; null if
                       nothing is removed (the job did not complete, or
                       the OCPS keeps intermediates)
``intermediatesDetail`` what was removed, or why nothing could be (the
                       line also appended to the job's log); "" before
=====================  ====================================================

Running: `OcpsJob.run` takes a job from QUEUED (or PENDING) to its end:
it waits for its prerequisites, writes its log header, then hands the job
to its backend: `OcpsJob.run_pipetask` starts one process (an argument
list, in a session of its own, stdout and stderr into the log) and waits
for it; the workers backend
(`~lsst.ts.calibrations.sim.worker_job_runner.WorkerJobRunner`) runs the
quanta on long-lived workers. ``job.json`` is rewritten at each phase
change. `OcpsJob.abort` ends a job (cancelling a job that runs nothing
yet, else SIGTERM to what runs it — its process group, or its workers —
then SIGKILL after a grace period).
"""

__all__ = ["ExecuteJob", "OcpsJob"]

import asyncio
import contextlib
import dataclasses
import datetime
import json
import logging
import os
import shlex
import signal
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar

from .ocps_job_phase import FINAL_PHASES as _FINAL_PHASES
from .ocps_job_phase import OcpsJobPhase as Phase

if TYPE_CHECKING:
    from .ocps_bps_backend import OcpsBpsBackend

ExecuteJob = Callable[["OcpsJob", IO[bytes], Mapping[str, str], logging.Logger], Awaitable[None]]
"""A backend's way to run a job: ``await execute(job, log_file, env, log)`` must finish it."""

_EXIT_CODES = {Phase.COMPLETED: 0, Phase.ERROR: 1, Phase.ABORTED: 255}


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclasses.dataclass
class OcpsJob:
    """One OCPS job: its request, its process and its record.

    Parameters
    ----------
    job_id : `str`
        Job id.
    parameters : `dict` [`str`, `str`]
        The ``execute`` request's fields.
    pipeline : `str`
        The resolved pipeline path.
    prereq_jobs : `list` [`str`]
        Ids of the jobs this one waits for.
    job_dir : `pathlib.Path`
        The job's folder (``<jobs_root>/<job_id>``).
    output_collection : `str`
        CHAINED output collection, ``u/ocps/<job_id>``.
    output_run : `str`
        RUN collection, ``u/ocps/<job_id>/run``.
    command : `list` [`str`]
        The process's argument list.
    processes : `int`
        Number of processes (``-j``) the job runs with.
    requested_processes : `int` or `None`
        The ``-j`` requested, if any.
    """

    job_id: str
    parameters: dict[str, str]
    pipeline: str
    prereq_jobs: list[str]
    job_dir: Path
    output_collection: str
    output_run: str
    command: list[str]
    processes: int
    requested_processes: int | None
    phase: Phase = Phase.QUEUED
    creation_time: str = dataclasses.field(default_factory=_now)
    start_time: str | None = None
    end_time: str | None = None
    return_code: int | None = None
    message: str = ""
    pid: int | None = None
    done: asyncio.Future[None] = dataclasses.field(
        default_factory=lambda: asyncio.get_running_loop().create_future(), repr=False
    )
    abort_requested: bool = False
    task: asyncio.Task[None] | None = dataclasses.field(default=None, repr=False)
    """The task running `run` (set by whoever starts it)."""
    process: asyncio.subprocess.Process | None = dataclasses.field(default=None, repr=False)
    """The job's process while it runs."""
    spawning: bool = dataclasses.field(default=False, repr=False)
    """True while the process is being created (`abort` then lets `run` signal it)."""
    backend: "OcpsBpsBackend | None" = dataclasses.field(default=None, repr=False)
    """The BPS backend when the job runs as a BPS workflow (its process is ``bps submit``)."""
    execution_backend: str = "pipetask"
    """The backend that runs the job (``pipetask`` or ``workers``)."""
    stop: Callable[[signal.Signals], None] | None = dataclasses.field(default=None, repr=False)
    """Signals what runs the job (set by a backend while it has processes)."""
    workers: list[dict[str, Any]] | None = None
    """Workers backend: per worker its pid, quanta finished and return code."""
    quanta: list[dict[str, Any]] | None = None
    """Workers backend: every quantum and how it ended."""
    first_quantum_start: str | None = None
    last_quantum_end: str | None = None
    intermediates: str | None = None
    """Removal of the intermediates: None, `INTERMEDIATES_REMOVING`, `INTERMEDIATES_REMOVED`
    or `INTERMEDIATES_FAILED`."""
    intermediates_detail: str = ""
    """What was removed, or why nothing could be."""

    INTERMEDIATES_REMOVING: ClassVar[str] = "removing"
    INTERMEDIATES_REMOVED: ClassVar[str] = "removed"
    INTERMEDIATES_FAILED: ClassVar[str] = "failed"

    @property
    def log_file(self) -> Path:
        """The job's log: stdout and stderr of its process."""
        return self.job_dir / "outs" / "ocps.log"

    @property
    def record_file(self) -> Path:
        """The job's record, rewritten at each phase change."""
        return self.job_dir / "job.json"

    @property
    def is_final(self) -> bool:
        """Has the job ended (COMPLETED, ERROR or ABORTED)?"""
        return self.phase in _FINAL_PHASES

    @property
    def exit_code(self) -> int | None:
        """``job_result.exit_code``: 0 completed, 1 error, 255 aborted; None while running."""
        return _EXIT_CODES.get(self.phase)

    def start(self, pid: int | None) -> None:
        """Mark the job EXECUTING.

        Parameters
        ----------
        pid : `int` or `None`
            Id of the job's process, or None before it has one.
        """
        self.phase = Phase.EXECUTING
        if self.start_time is None:
            self.start_time = _now()
        self.pid = pid

    def finish(self, phase: Phase, message: str = "", return_code: int | None = None) -> None:
        """End the job (once; later calls are ignored).

        Parameters
        ----------
        phase : `OcpsJobPhase`
            COMPLETED, ERROR or ABORTED.
        message : `str`, optional
            Why it ended so.
        return_code : `int` or `None`, optional
            The process's return code, if a process ran.

        Raises
        ------
        ValueError
            Raised if ``phase`` is not a final phase.
        """
        if phase not in _FINAL_PHASES:
            raise ValueError(f"phase={phase!r} is not a final phase: use one of {sorted(_FINAL_PHASES)}")
        if self.is_final:
            return
        self.phase = phase
        self.message = message
        self.return_code = return_code
        self.end_time = _now()
        self.pid = None
        if not self.done.done():
            self.done.set_result(None)

    def record(self) -> dict[str, Any]:
        """Return the job record (UWS field names; see the module documentation)."""
        return {
            "jobId": self.job_id,
            "runId": self.parameters.get("pipeline", ""),
            "phase": str(self.phase),
            "creationTime": self.creation_time,
            "startTime": self.start_time,
            "endTime": self.end_time,
            "exitCode": self.exit_code,
            "returnCode": self.return_code,
            "message": self.message,
            "parameters": dict(self.parameters),
            "pipeline": self.pipeline,
            "prereqJobs": list(self.prereq_jobs),
            "outputCollection": self.output_collection,
            "outputRun": self.output_run,
            "logFile": str(self.log_file),
            "commandLine": list(self.command),
            "processes": self.processes,
            "requestedProcesses": self.requested_processes,
            "executionBackend": self.execution_backend,
            "workers": self.workers,
            "quanta": self.quanta,
            "firstQuantumStart": self.first_quantum_start,
            "lastQuantumEnd": self.last_quantum_end,
            "intermediates": self.intermediates,
            "intermediatesDetail": self.intermediates_detail,
        }

    async def write_record(self) -> None:
        """Write the record to `record_file` (atomically, in a thread)."""
        text = json.dumps(self.record(), indent=2)
        tmp = self.record_file.with_suffix(".json.tmp")

        def write() -> None:
            self.job_dir.mkdir(parents=True, exist_ok=True)
            tmp.write_text(text)
            os.replace(tmp, self.record_file)

        await asyncio.to_thread(write)

    async def run(
        self,
        *,
        env: Mapping[str, str],
        log: logging.Logger,
        prerequisites: Callable[["OcpsJob"], Awaitable[str]],
        delay: Callable[[], float | None] = lambda: None,
        execute: ExecuteJob | None = None,
    ) -> None:
        """Run the job to its end; never raises (except when cancelled).

        Parameters
        ----------
        env : `dict` [`str`, `str`]
            Environment of the process.
        log : `logging.Logger`
            Where to say what happens (the OCPS's log).
        prerequisites : callable
            ``await prerequisites(job)`` waits for the prerequisite jobs
            and returns why this job cannot run, or "".
        delay : callable, optional
            Called once the prerequisites are met: seconds to wait in phase
            EXECUTING before the process starts (a busy compute node), or
            None for no delay.
        execute : callable, optional
            The backend: ``await execute(job, log_file, env, log)`` runs the
            job once its log header is written and finishes it;
            `run_pipetask` by default.
        """
        log_file: IO[bytes] | None = None
        try:
            await asyncio.to_thread(self.log_file.parent.mkdir, parents=True, exist_ok=True)
            await self.write_record()
            if self.prereq_jobs:
                reason = await prerequisites(self)
                if reason:
                    self.finish(Phase.ERROR, reason)
                    log.warning("Job %s not run: %s", self.job_id, reason)
                    return
                self.phase = Phase.QUEUED
            seconds = delay()
            if seconds is not None:
                self.start(None)
                await self.write_record()
                log.info("Job %s delayed %.3g s (inject_slow_jobs)", self.job_id, seconds)
                await asyncio.sleep(seconds)
            header = [f"# OCPS job {self.job_id}", f"# command: {shlex.join(self.command)}"]
            header.append(f"# execution backend: {self.execution_backend}")
            if self.requested_processes is not None and self.requested_processes > self.processes:
                cap = (
                    f"-j {self.requested_processes} requested, capped at {self.processes} "
                    f"(max_processes: the cores of this machine)"
                )
                header.append(f"# {cap}")
                log.info("Job %s: %s", self.job_id, cap)
            if self.backend is not None:
                header += await self.backend.prepare(self)
                env = self.backend.environment(env)
            # Opened in a thread that a cancellation cannot orphan: if this task is
            # cancelled meanwhile, the file is closed as soon as the open completes.
            # Appending: workers write to the same file through their own descriptors.
            open_task = asyncio.ensure_future(asyncio.to_thread(self.log_file.open, "ab"))
            try:
                log_file = await asyncio.shield(open_task)
            except asyncio.CancelledError:
                open_task.add_done_callback(_close_opened_file)
                raise
            await asyncio.to_thread(log_file.write, ("\n".join(header) + "\n").encode())
            await asyncio.to_thread(log_file.flush)
            await (execute or OcpsJob.run_pipetask)(self, log_file, env, log)
            if not self.is_final:
                raise RuntimeError(f"the {self.execution_backend} backend returned without ending the job")
            log.info("Job %s ended: %s %s", self.job_id, self.phase, self.message)
        except asyncio.CancelledError:
            self.finish(Phase.ABORTED, "aborted by abort_job" if self.abort_requested else "OCPS closed")
            raise
        except Exception as e:
            log.exception("Job %s failed to run", self.job_id)
            self.finish(Phase.ERROR, f"the OCPS could not run the job: {e!r}")
        finally:
            self.process = None
            if self.backend is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self.backend.finish(self, self.phase == Phase.COMPLETED))
            if log_file is not None:
                await asyncio.shield(asyncio.to_thread(log_file.close))
            with contextlib.suppress(Exception):
                await asyncio.shield(self.write_record())

    async def run_pipetask(self, log_file: IO[bytes], env: Mapping[str, str], log: logging.Logger) -> None:
        """The ``pipetask`` backend: run `command` as one process and finish the job by its return code.

        Parameters
        ----------
        log_file : `typing.IO` [`bytes`]
            The job's log, open: the process's stdout and stderr.
        env : `dict` [`str`, `str`]
            Environment of the process.
        log : `logging.Logger`
            Where to say what happens (the OCPS's log).
        """
        # Not cancelled while the process is being created (see abort), so no process is lost.
        self.spawning = True
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
                env=dict(env),
                cwd=self.job_dir,
                start_new_session=True,
            )
        finally:
            self.spawning = False
        process = self.process
        self.stop = lambda sig: _signal(process, sig)
        try:
            self.start(process.pid)
            log.info("Job %s started: pid %s, %s", self.job_id, process.pid, shlex.join(self.command))
            await self.write_record()
            if self.abort_requested:
                _signal(process, signal.SIGTERM)
            return_code = await process.wait()
        finally:
            self.stop = None
        if self.abort_requested:
            self.finish(Phase.ABORTED, "aborted by abort_job", return_code)
        elif return_code == 0 and self.backend is not None:
            await self._finish_workflow(log)
        elif return_code == 0:
            self.finish(Phase.COMPLETED, "", return_code)
        elif self.backend is not None:
            self.finish(
                Phase.ERROR,
                f"{self.backend.name} ended with return code {return_code}; see {self.log_file}",
                return_code,
            )
        else:
            self.finish(
                Phase.ERROR,
                f"pipetask ended with return code {return_code}; see {self.log_file}",
                return_code,
            )

    async def _finish_workflow(self, log: logging.Logger) -> None:
        """End a BPS job whose ``bps submit`` ended with 0: COMPLETED only if every quantum wrote
        its outputs.
        """
        assert self.backend is not None
        try:
            failed = await self.backend.find_failed_quanta(self)
        except Exception as e:
            log.exception("Job %s: cannot read the outcome of its quanta", self.job_id)
            self.finish(Phase.ERROR, f"the outcome of the job's quanta cannot be read: {e!r}", 0)
            return
        if not failed:
            self.finish(Phase.COMPLETED, "", 0)
            return
        shown = ", ".join(failed[:20]) + (f" and {len(failed) - 20} more" if len(failed) > 20 else "")
        self.finish(
            Phase.ERROR,
            f"{self.backend.name} ended with 0 but {len(failed)} quanta wrote no outputs: {shown}; "
            f"cluster logs in {self.backend.submit_path(self) / 'logs'}",
            0,
        )

    async def abort(self, grace_period: float, log: logging.Logger) -> None:
        """End the job: cancel it if it has no process, else SIGTERM then SIGKILL.

        Parameters
        ----------
        grace_period : `float`
            Time (seconds) between SIGTERM and SIGKILL.
        log : `logging.Logger`
            Where to say what happens.
        """
        if self.is_final:
            return
        self.abort_requested = True
        stop = self.stop
        if stop is None:
            if not self.spawning and self.task is not None:
                # Waiting for prerequisites, delayed or preparing: nothing runs it yet.
                self.task.cancel()
            # Else the process is being created: run signals it as soon as it exists.
        else:
            log.info("Aborting job %s: SIGTERM to what runs it (%s)", self.job_id, self.execution_backend)
            stop(signal.SIGTERM)
            if self.backend is not None:
                await self.backend.terminate(self, signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(self.done), grace_period)
            except TimeoutError:
                log.warning("Job %s still running %.3g s after SIGTERM: SIGKILL", self.job_id, grace_period)
                stop(signal.SIGKILL)
                if self.backend is not None:
                    await self.backend.terminate(self, signal.SIGKILL)
        await asyncio.shield(self.done)


def _signal(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    """Send a signal to a job's process group (the process leads its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _close_opened_file(task: "asyncio.Future[Any]") -> None:
    """Close the file a cancelled open completed with (a done callback)."""
    if not task.cancelled() and task.exception() is None:
        task.result().close()
