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
=====================  ====================================================
"""

__all__ = ["OcpsJob"]

import asyncio
import dataclasses
import datetime
from pathlib import Path
from typing import Any

from .ocps_job_phase import FINAL_PHASES as _FINAL_PHASES
from .ocps_job_phase import OcpsJobPhase as Phase

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
        }
