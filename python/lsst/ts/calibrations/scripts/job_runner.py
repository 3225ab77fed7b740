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

"""JobRunner: the OCPS jobs of one run, submitted, waited for and recorded.

Every job a run's processing submits goes through `run_job`, which
records it in `jobs` (`ProcessingJob`: part, pipeline, exposures, inputs,
when submitted) and names it in the step's `ProductOutcome`;
`job_records` gives the run record every job with the OCPS's record.

A job that fails because the ISR of some exposures failed for a detector
(no ``isr_metadata`` for it in the job's output, while other exposures
have theirs: `failed_isr`) leaves those exposures out (`leave_out_failed`;
the `LeftOutExposures` of the run, with why) and, in `run_job_leaving_out`, is
submitted again with the rest, while those left can still make the
product (`check_enough`, else `NotEnoughExposuresError`).
"""

from __future__ import annotations

__all__ = ["JobRunner"]

import asyncio
import datetime
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .left_out_exposures import LeftOutExposures
from .not_enough_exposures_error import NotEnoughExposuresError
from .ocps_client import OcpsClient
from .ocps_job_result import OcpsJobError, OcpsJobResult
from .processing_job import JobPart, ProcessingJob
from .processing_step import ProcessingStep
from .product_outcome import ProductOutcome

if TYPE_CHECKING:
    from ..repo.calibration_repository import CalibrationRepository
    from .calibration_plan import CalibrationPlan


class JobRunner:
    """Submit, wait for and record the OCPS jobs of one run (see the module documentation).

    Parameters
    ----------
    plan : `CalibrationPlan`
        The run's plan (detectors, ``n_processes``, ``processing_timeout``).
    ocps : `OcpsClient`
        Client of the instrument's OCPS.
    log : `logging.Logger`
        Logger.
    repository : `~lsst.ts.calibrations.repo.calibration_repository.CalibrationRepository`
        The run's repository (read in threads).
    left_out : `LeftOutExposures`
        The run's kept exposures and those left out.

    Attributes
    ----------
    exposures : `dict` [`str`, `list` [`int`]]
        The kept exposures of each image type whose steps started.
    jobs : `dict` [`str`, `ProcessingJob`]
        Every job submitted, by job id.
    received : `dict` [`str`, `str`]
        When the script had each job's result (ISO, UTC), by job id.
    """

    def __init__(
        self,
        plan: CalibrationPlan,
        ocps: OcpsClient,
        log: logging.Logger,
        repository: CalibrationRepository,
        left_out: LeftOutExposures,
    ) -> None:
        self.plan = plan
        self.ocps = ocps
        self.log = log
        self.repository = repository
        self.left_out = left_out
        self.exposures: dict[str, list[int]] = {}
        self.jobs: dict[str, ProcessingJob] = {}
        self.received: dict[str, str] = {}

    def exposures_of(self, step: ProcessingStep) -> list[int]:
        """The kept exposures a step's jobs process (those left out excluded)."""
        return [
            e
            for image_type in step.images
            for e in self.left_out.remaining(image_type, self.exposures.get(image_type, []))
        ]

    def leave_out(self, image_type: str, exposure: int, reason: str) -> None:
        """Leave a kept exposure out of processing, with why (logged as a warning once)."""
        if self.left_out.leave_out(image_type, exposure, reason):
            self.log.warning("Leaving out %s exposure %s: %s", image_type, exposure, reason)

    def check_enough(self, step: ProcessingStep) -> None:
        """Raise `NotEnoughExposuresError` if the exposures left cannot make the step's product."""
        short = self.left_out.shortfall(step)
        if short:
            raise NotEnoughExposuresError(f"{step.name} not made: {short}")

    async def run_job_leaving_out(
        self,
        outcome: ProductOutcome,
        kind: str,
        pipeline: str,
        options: Sequence[str],
        inputs: Sequence[str],
        step: ProcessingStep,
    ) -> OcpsJobResult:
        """Run a job; if it failed for some exposures only, leave them out and run it again.

        Raises
        ------
        OcpsJobError
            If the job failed otherwise (the message names the job).
        NotEnoughExposuresError
            If the exposures left can no longer make the product.
        """
        while True:
            try:
                return await self.run_job(outcome, kind, pipeline, options, inputs, step)
            except OcpsJobError as e:
                if e.result is None or not await self.leave_out_failed(step, kind, e.result):
                    raise
            self.check_enough(step)
            self.log.warning(
                "%s %s: submitting the job again without the exposures left out (%d left)",
                kind,
                step.name,
                len(self.exposures_of(step)),
            )

    async def leave_out_failed(self, step: ProcessingStep, kind: str, result: OcpsJobResult) -> bool:
        """Leave out the exposures whose ISR failed in a failed job of the step; return whether any were.

        Only when the ISR ran for some of the job's exposures: a job whose
        ISR ran for none failed for another reason, which no exposure is
        blamed for.
        """
        found = await self.failed_isr(result, self.exposures_of(step))
        if found is None:
            return False
        failed, ran = found
        if not failed or not ran:
            return False
        self.leave_out_isr_failures(step, kind, result, failed)
        return True

    async def failed_isr(
        self, result: OcpsJobResult, exposures: Sequence[int]
    ) -> tuple[dict[int, list[int]], bool] | None:
        """What the ISR of a failed job did not make: the detectors it failed for, per exposure.

        Parameters
        ----------
        result : `OcpsJobResult`
            The failed job's result.
        exposures : sequence of `int`
            The job's exposures.

        Returns
        -------
        found : `tuple` [`dict` [`int`, `list` [`int`]], `bool`] or `None`
            The exposures with detectors whose ISR made nothing, with those
            detectors, and whether the ISR made something for any exposure;
            `None` if the job's output could not be read (logged).
        """
        detectors = list(self.plan.detectors)
        try:
            processed = await asyncio.to_thread(
                self.repository.processed_detectors, result.output_collection, list(exposures)
            )
        except Exception as e:
            self.log.warning("Could not read what job %s processed: %s", result.job_id, e)
            return None
        failed = {
            int(exposure): [d for d in detectors if d not in processed.get(exposure, [])]
            for exposure in exposures
        }
        return {exposure: missing for exposure, missing in failed.items() if missing}, any(processed.values())

    async def crashed_isr(self, result: OcpsJobResult, exposures: Sequence[int]) -> dict[int, list[int]]:
        """The ISR quanta of a failed job that ran and failed: their detectors, per exposure.

        A quantum that never ran (the job failed before it) is not among
        them. Empty if the job's output could not be read (logged).
        """
        try:
            crashed = await asyncio.to_thread(
                self.repository.failed_detectors, result.output_collection, list(exposures)
            )
        except Exception as e:
            self.log.warning("Could not read which quanta of job %s failed: %s", result.job_id, e)
            return {}
        return {exposure: detectors for exposure, detectors in crashed.items() if detectors}

    def leave_out_isr_failures(
        self, step: ProcessingStep, kind: str, result: OcpsJobResult, failed: dict[int, list[int]]
    ) -> None:
        """Leave out each exposure of ``failed`` (`failed_isr`), naming its detectors and the job."""
        for exposure, missing in failed.items():
            image_type = next(
                (t for t in step.images if exposure in self.exposures.get(t, [])), step.images[0]
            )
            self.leave_out(
                image_type,
                exposure,
                f"processing failed for detector(s) {', '.join(str(d) for d in missing)} in job "
                f"{result.job_id} ({kind} {step.name}; log {result.log_path})",
            )

    async def run_job(
        self,
        outcome: ProductOutcome,
        kind: str,
        pipeline: str,
        options: Sequence[str],
        inputs: Sequence[str],
        step: ProcessingStep,
        *,
        part: JobPart = JobPart.WHOLE,
        exposures: Sequence[int] | None = None,
        label: str = "",
    ) -> OcpsJobResult:
        """Submit one job and wait for its result (recorded in `jobs`).

        Parameters
        ----------
        outcome : `ProductOutcome`
            The step's outcome: its ``kind`` job is the latest submitted,
            its ``kind`` collection that of a whole or run-level job.
        kind : `str`
            "generate" or "verify".
        pipeline : `str`
            Pipeline URL (with its label subset for a part).
        options : sequence of `str`
            Pipetask options.
        inputs : sequence of `str`
            Input collections.
        step : `ProcessingStep`
            The step.
        part : `JobPart`, optional
            Which part of the pipeline the job runs.
        exposures : sequence of `int`, optional
            Exposures of the data query (default: the step's, left-out ones excluded).
        label : `str`, optional
            What the job does (default ``"<kind> <step>"``).

        Raises
        ------
        OcpsJobError
            If the job failed (the message names it and its log).
        """
        exposures = list(self.exposures_of(step) if exposures is None else exposures)
        label = label or f"{kind} {step.name}"
        job_id = await self.ocps.submit(
            label,
            pipeline,
            self.ocps.make_config(self.plan.n_processes, inputs, options),
            self.ocps.make_data_query(self.plan.detectors, exposures),
        )
        self.jobs[job_id] = ProcessingJob(
            job_id=job_id,
            label=label,
            step=step.name,
            kind=kind,
            part=part,
            pipeline=pipeline,
            exposures=tuple(exposures),
            inputs=tuple(name for name in inputs if name),
            submitted=datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
        )
        # The product's job of that kind is the latest (a failed per-exposure job is named), the
        # run-level job in the end; its collection is that of the whole or run-level job only.
        outcome.jobs[kind] = job_id
        final = part != JobPart.PER_EXPOSURE
        if final:
            outcome.collections[kind] = f"u/ocps/{job_id}"
        try:
            result = await self.ocps.wait(job_id, timeout=self.plan.processing_timeout)
        finally:
            self.received[job_id] = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
            running = self.ocps.running_jobs
            self.log.info(
                "%s: job %s ended; OCPS jobs: %d done, %d running (%s)",
                label,
                job_id,
                len(self.ocps.results),
                len(running),
                ", ".join(self.ocps.labels[j] for j in running) or "none",
            )
        if final:
            outcome.collections[kind] = result.output_collection
        return result

    @staticmethod
    def output_run(result: OcpsJobResult) -> str:
        """The RUN collection a job wrote its outputs to (``outputRun`` of its record)."""
        return str(result.record.get("outputRun") or f"{result.output_collection}/run")

    def job_records(self) -> dict[str, dict[str, Any]]:
        """Every OCPS job of the run: its final record (or its label while running) and what it ran.

        Returns
        -------
        jobs : `dict` [`str`, `dict`]
            By job id: the OCPS's job record (UWS ``phase``,
            ``creationTime``, ``startTime``, ``endTime``, ``parameters``...)
            with this run's ``label``, ``step``, ``kind``, ``part``
            (`JobPart`), ``pipeline``, ``exposures``, ``inputs``,
            ``submitted`` and, once the script had its result, ``received``
            (ISO, UTC).
        """
        records: dict[str, dict[str, Any]] = {}
        for job_id, label in self.ocps.labels.items():
            result = self.ocps.results.get(job_id)
            entry = dict(result.record) if result is not None else {}
            job = self.jobs.get(job_id)
            entry.update(job.to_dict() if job is not None else {"label": label})
            if job_id in self.received:
                entry["received"] = self.received[job_id]
            records[job_id] = entry
        return records
