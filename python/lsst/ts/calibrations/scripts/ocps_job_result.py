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

"""OcpsJobResult: the outcome of one OCPS job, and OcpsJobError when it failed."""

from __future__ import annotations

__all__ = ["OcpsJobError", "OcpsJobResult"]

import dataclasses
import json
from typing import Any

COMPLETED_PHASE = "COMPLETED"
"""UWS phase of a job that ran to the end successfully."""


@dataclasses.dataclass(frozen=True)
class OcpsJobResult:
    """What the OCPS reported about one job (its ``job_result`` event).

    Parameters
    ----------
    job_id : `str`
        The job id (``job_result.job_id``).
    label : `str`
        What the job did, e.g. "generate BIAS" (set by the client).
    exit_code : `int`
        ``job_result.exit_code``: 0 completed, 1 error, 255 aborted.
    record : `dict` [`str`, `typing.Any`]
        The final job record (``job_result.result`` decoded from JSON; UWS
        names ``jobId``, ``phase``, ``startTime``, ``endTime``, ...).
    log_path : `str`
        The job's log, ``<jobs root>/<job_id>/outs/ocps.log``.
    """

    job_id: str
    label: str
    exit_code: int
    record: dict[str, Any]
    log_path: str

    @classmethod
    def from_event(cls, data: Any, label: str, jobs_root: str) -> OcpsJobResult:
        """Make a result from a ``job_result`` event.

        Parameters
        ----------
        data : ``evt_job_result.DataType``
            The event (``job_id``, ``exit_code``, ``result``).
        label : `str`
            What the job did.
        jobs_root : `str`
            Root of the job folders, for the log path when the record has
            no ``logFile``.

        Returns
        -------
        result : `OcpsJobResult`
            The result; a ``result`` that is not a JSON object gives a
            record ``{"message": <the text>}``.
        """
        try:
            record = json.loads(str(data.result)) if str(data.result).strip() else {}
        except json.JSONDecodeError:
            record = {"message": str(data.result)}
        if not isinstance(record, dict):
            record = {"message": str(data.result)}
        job_id = str(data.job_id) or str(record.get("jobId", ""))
        log_path = str(record.get("logFile") or f"{jobs_root.rstrip('/')}/{job_id}/outs/ocps.log")
        exit_code = int(data.exit_code)
        return cls(job_id=job_id, label=label, exit_code=exit_code, record=record, log_path=log_path)

    @property
    def phase(self) -> str:
        """The job's final UWS phase ("" if the record has none)."""
        return str(self.record.get("phase", "")).upper()

    @property
    def succeeded(self) -> bool:
        """Did the job complete: exit code 0 and phase COMPLETED?"""
        return self.exit_code == 0 and self.phase == COMPLETED_PHASE

    @property
    def output_collection(self) -> str:
        """The job's output collection (``u/ocps/<job_id>``)."""
        return str(self.record.get("outputCollection") or f"u/ocps/{self.job_id}")

    @property
    def message(self) -> str:
        """Why the job ended as it did ("" if it completed)."""
        return str(self.record.get("message", ""))

    def describe(self) -> str:
        """One line: label, job id, outcome and log."""
        outcome = "completed"
        if not self.succeeded:
            outcome = f"failed (exit_code={self.exit_code}, phase={self.phase})"
        text = f"{self.label}: job {self.job_id} {outcome}; output {self.output_collection}"
        text += f"; log {self.log_path}"
        if self.message and not self.succeeded:
            text += f"; {self.message}"
        return text


class OcpsJobError(RuntimeError):
    """An OCPS job failed, was aborted, or its result never came.

    Parameters
    ----------
    message : `str`
        What failed, naming the job.
    job_id : `str`
        The job id ("" if the job was never started).
    label : `str`
        What the job did.
    result : `OcpsJobResult` or `None`, optional
        The job's result, if one arrived.
    """

    def __init__(self, message: str, job_id: str, label: str, result: OcpsJobResult | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.label = label
        self.result = result
