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

"""OcpsClient: run pipelines as OCPS jobs, each result routed to its own job.

Submitting a job (the client pattern of the OCPS)::

    ack = await ocps.cmd_execute.set_start(wait_done=False, pipeline=..., config=..., data_query=...)
    job_id = json.loads(ack.result)["job_id"]

then the rest of the command (`next_ackcmd`) is awaited in a task of its
own, and the job's ``job_result`` is read from a future made for that job
id. One ``evt_job_result`` callback fills the future of the job the event
names, whether the waiter exists yet or not, so no result is ever read by
the wrong waiter or lost (no shared queue, no flush). The job succeeded
only if ``exit_code`` is 0 *and* the record's phase is COMPLETED; anything
else raises `OcpsJobError` naming the job, its phase and its log
(``<jobs root>/<job_id>/outs/ocps.log``).

Request strings, as the OCPS expects them (see `make_config`,
`make_data_query`)::

    pipeline   ${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml
    config     -j 8 -i LSSTComCam/calib --register-dataset-types -c isr:doDefect=False
    data_query instrument='LSSTComCam' AND detector IN (0, 1) AND exposure IN (2024102400002, 2024102400003)
"""

from __future__ import annotations

__all__ = ["OcpsClient"]

import asyncio
import json
import logging
import shlex
from collections.abc import Iterable, Sequence
from typing import Any

from ..sal.base import AckError
from ..sal.remote import Remote
from .ocps_job_result import OcpsJobError, OcpsJobResult

DEFAULT_JOBS_ROOT = "/scratch/uws"
"""Root of the OCPS job folders at the observatory."""


class OcpsClient:
    """Submit OCPS jobs, wait for their own results, abort them.

    Parameters
    ----------
    remote : `Remote`
        Remote of the OCPS (e.g. ``OCPS:2`` for LSSTComCam). The client sets
        its ``evt_job_result`` callback.
    log : `logging.Logger`
        Logger for submissions and outcomes.
    jobs_root : `str`, optional
        Root of the OCPS job folders, for the log path of a job whose record
        does not give it.
    instrument : `str`, optional
        Instrument name used in data queries.

    Attributes
    ----------
    results : `dict` [`str`, `OcpsJobResult`]
        Results of the jobs of this client that have ended, by job id.
    labels : `dict` [`str`, `str`]
        What each submitted job does, by job id.
    """

    def __init__(
        self,
        remote: Remote,
        log: logging.Logger,
        jobs_root: str = DEFAULT_JOBS_ROOT,
        instrument: str = "LSSTComCam",
    ) -> None:
        self.remote = remote
        self.log = log
        self.jobs_root = jobs_root
        self._log_files: dict[str, str] = {}
        self.instrument = instrument
        self.results: dict[str, OcpsJobResult] = {}
        self.labels: dict[str, str] = {}
        self._futures: dict[str, asyncio.Future[Any]] = {}
        self._command_tasks: dict[str, asyncio.Task[None]] = {}
        remote.evt_job_result.callback = self._job_result_callback

    # Request strings.

    @staticmethod
    def make_config(n_processes: int, input_collections: Sequence[str], options: Sequence[str]) -> str:
        """The ``config`` of an ``execute`` request.

        Parameters
        ----------
        n_processes : `int`
            Processes for ``pipetask`` (``-j``).
        input_collections : `list` [`str`]
            Input collections, in search order (``LSSTComCam/raw/all`` is
            added by the OCPS).
        options : `list` [`str`]
            Pipetask configuration options, already split into arguments
            (e.g. ``["-c", "isr:doDefect=False"]``).

        Returns
        -------
        config : `str`
            ``-j N -i A,B --register-dataset-types <options>``, each argument
            quoted so that the OCPS's shell-like split gives them back.
        """
        args = ["-j", str(int(n_processes))]
        inputs = [name for name in input_collections if name]
        if inputs:
            args += ["-i", ",".join(inputs)]
        args.append("--register-dataset-types")
        args += list(options)
        return shlex.join(args)

    def make_data_query(self, detectors: Iterable[int], exposures: Iterable[int] | None = None) -> str:
        """The ``data_query`` of an ``execute`` request.

        Parameters
        ----------
        detectors : iterable of `int`
            Detector ids.
        exposures : iterable of `int`, optional
            Exposure ids; none for a query on detectors only.

        Returns
        -------
        query : `str`
            E.g. ``instrument='LSSTComCam' AND detector IN (0, 1) AND
            exposure IN (2024102400002)``.
        """
        detector_list = ", ".join(str(int(d)) for d in detectors)
        query = f"instrument='{self.instrument}' AND detector IN ({detector_list})"
        if exposures is not None:
            query += f" AND exposure IN ({', '.join(str(int(e)) for e in exposures)})"
        return query

    # Jobs.

    @property
    def running_jobs(self) -> list[str]:
        """Ids of the jobs submitted by this client that have not ended."""
        return [job_id for job_id in self.labels if job_id not in self.results]

    def log_path(self, job_id: str) -> str:
        """The log of a job: ``<jobs root>/<job_id>/outs/ocps.log`` (or the record's ``logFile``)."""
        result = self.results.get(job_id)
        if result is not None:
            return result.log_path
        if job_id in self._log_files:
            return self._log_files[job_id]
        return f"{self.jobs_root.rstrip('/')}/{job_id}/outs/ocps.log"

    async def submit(
        self,
        label: str,
        pipeline: str,
        config: str,
        data_query: str,
        timeout: float = 60.0,
    ) -> str:
        """Submit a job; return its id as soon as the OCPS has accepted it.

        Parameters
        ----------
        label : `str`
            What the job does, for the log and errors ("generate BIAS").
        pipeline : `str`
            Pipeline file, e.g. ``${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml``.
        config : `str`
            Pipetask options (see `make_config`).
        data_query : `str`
            Data query (see `make_data_query`).
        timeout : `float`, optional
            Time limit (s) for the OCPS to accept the job.

        Returns
        -------
        job_id : `str`
            The job id.

        Raises
        ------
        OcpsJobError
            If the OCPS refuses the request or its acknowledgement carries
            no job id.
        """
        self.log.info(
            "Submitting %s to OCPS: pipeline=%s config=%r data_query=%r",
            label,
            pipeline,
            config,
            data_query,
        )
        try:
            ack = await self.remote.cmd_execute.set_start(
                wait_done=False,
                timeout=timeout,
                pipeline=pipeline,
                version="",
                config=config,
                data_query=data_query,
                # The run orders its jobs itself (a step waits for the steps it comes after).
                prereq_jobs="",
                output_dataset_types="",
            )
        except AckError as e:
            result = e.ackcmd.result if e.ackcmd is not None else str(e)
            raise OcpsJobError(f"{label}: the OCPS refused the job: {result}", "", label) from e
        try:
            ack_data = json.loads(ack.result)
            job_id = str(ack_data["job_id"])
        except (ValueError, KeyError, TypeError) as e:
            raise OcpsJobError(
                f"{label}: the OCPS acknowledgement {ack.result!r} holds no job_id", "", label
            ) from e
        self.labels[job_id] = label
        if ack_data.get("logFile"):
            # An OCPS that names the log in its acknowledgement knows better than our guess.
            self._log_files[job_id] = str(ack_data["logFile"])
        self._future(job_id)
        self._command_tasks[job_id] = asyncio.create_task(self._follow_command(job_id, ack))
        self.log.info("%s: OCPS job %s submitted; its log: %s", label, job_id, self.log_path(job_id))
        return job_id

    async def wait(self, job_id: str, timeout: float | None = None) -> OcpsJobResult:
        """Wait for the result of a job submitted by this client.

        Parameters
        ----------
        job_id : `str`
            The job id (from `submit`).
        timeout : `float` or `None`, optional
            Time limit (s); None for none.

        Returns
        -------
        result : `OcpsJobResult`
            The result of a job that completed.

        Raises
        ------
        OcpsJobError
            If the job failed (exit code not 0 or phase not COMPLETED), was
            aborted, its command failed, or no result came in time; the
            message names the job and its log.
        """
        label = self.labels.get(job_id, "job")
        try:
            result = await asyncio.wait_for(asyncio.shield(self._future(job_id)), timeout)
        except TimeoutError:
            raise OcpsJobError(
                f"{label}: no job_result for OCPS job {job_id} within {timeout} s; "
                f"log {self.log_path(job_id)}",
                job_id,
                label,
            ) from None
        if not isinstance(result, OcpsJobResult):  # the command failed before any job_result
            raise OcpsJobError(f"{label}: OCPS job {job_id} {result}", job_id, label)
        if not result.succeeded:
            raise OcpsJobError(
                f"{label}: OCPS job {job_id} failed: exit_code={result.exit_code}, "
                f"phase={result.phase or '?'}"
                + (f" ({result.message})" if result.message else "")
                + f"; see its log {result.log_path}",
                job_id,
                label,
                result,
            )
        return result

    async def abort(self, job_id: str, timeout: float = 30.0) -> None:
        """Abort a job of this client if it is still running.

        Parameters
        ----------
        job_id : `str`
            The job id.
        timeout : `float`, optional
            Time limit (s) of the ``abort_job`` command.
        """
        if job_id in self.results:
            return
        label = self.labels.get(job_id, "job")
        self.log.warning("Aborting OCPS job %s (%s)", job_id, label)
        try:
            await self.remote.cmd_abort_job.set_start(job_id=job_id, timeout=timeout)
        except AckError as e:
            # A job that ended meanwhile cannot be aborted: not an error.
            if job_id not in self.results:
                self.log.warning("abort_job(%s) failed: %s", job_id, e)

    async def abort_running(self, timeout: float = 30.0) -> list[str]:
        """Abort every job of this client still running; return their ids.

        Waits (up to ``timeout``) for the ``job_result`` of each aborted job,
        so their records say how they ended.
        """
        running = self.running_jobs
        if running:
            await asyncio.gather(*(self.abort(job_id, timeout=timeout) for job_id in running))
            await asyncio.wait([self._future(job_id) for job_id in running], timeout=timeout)
        return running

    async def close(self) -> None:
        """Stop following commands (does not abort jobs; see `abort_running`)."""
        tasks = list(self._command_tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.remote.evt_job_result.callback == self._job_result_callback:
            self.remote.evt_job_result.callback = None

    # Internals.

    def _future(self, job_id: str) -> asyncio.Future[Any]:
        future = self._futures.get(job_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._futures[job_id] = future
        return future

    def _job_result_callback(self, data: Any) -> None:
        job_id = str(data.job_id)
        if job_id not in self.labels and job_id not in self._futures:
            return  # another client's job
        result = OcpsJobResult.from_event(data, self.labels.get(job_id, "job"), self.jobs_root)
        self.results[job_id] = result
        future = self._future(job_id)
        if not future.done():
            future.set_result(result)
        log = self.log.info if result.succeeded else self.log.error
        log("%s", result.describe())

    async def _follow_command(self, job_id: str, ack: Any) -> None:
        """Await the rest of ``execute``; a command failure without a result fails the job."""
        try:
            await self.remote.cmd_execute.next_ackcmd(ack, timeout=None, wait_done=True)
        except AckError as e:
            future = self._future(job_id)
            if not future.done():
                result = e.ackcmd.result if e.ackcmd is not None else str(e)
                future.set_result(f"command execute failed without a job_result: {result}")
        except RuntimeError:
            pass  # the command ended before we followed it
        except asyncio.CancelledError:
            raise
