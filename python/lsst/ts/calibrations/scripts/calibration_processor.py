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

"""CalibrationProcessor: OCPS jobs, verdicts and certification of one run, in dependency order.

The processing graph is the plan's (`CalibrationPlan.steps`, each a
`ProcessingStep`): a step starts as soon as the exposures of its image
types (``step.images``) are in the repository, while the camera takes the
next type, and once every step in ``step.after`` has made its product
(`products_needed`; with ``start_before_certified`` False: once each is
certified). Its jobs run in order:

1. ``generate`` (if ``step.generate``): ``step.pipeline`` with
   ``step.config_options`` on ``step.input_collections`` (headed by
   ``calib_collection`` when the step needs an earlier product of the
   run, which is found there once certified, and before that in the
   output run of the job that made it, which then heads the inputs: the
   same dataset);
2. ``verify`` (if ``step.verify``): ``step.verify_pipeline`` on the
   generation's output collection followed by
   ``step.verify_input_collections`` ("internal"), or on those alone
   ("external"); the verdict (`judge`) reads ``step.verify_stats_dataset``
   with ``step.verification_threshold``;
3. ``certify`` (if ``step.certify``, the verdict, when there is one,
   passed, and every product of ``step.after`` is certified, else the step
   is BLOCKED): ``step.dataset_type`` of the generation's output into
   ``calib_collection`` with the plan's validity range, through the butler
   in a thread;
4. gains (if ``step.report_gains``): the ``cpPtcExtract`` of every kept
   flat and detector, made into one `GainReport` (`gains`) and logged.

Incremental processing (``incremental``, the default): as each kept
exposure is in the OODS (`arrived`), the per-exposure part of each
pipeline of the steps that use it (`PipelineSplit`; generation, and
external verification) runs over the exposures that arrived since the
previous such job (`IncrementalJobs`); when the step starts, that job kind
runs only the run-level part, over the per-exposure jobs' output runs (its
first inputs) and the exposures left. Internal verification, and a kind
with no exposure arrived (reprocessing), run as one job. A generation's
per-exposure jobs start once the products they need are made (`generated`),
before those are verified and certified. Every job goes through the run's
`JobRunner`, which submits it, waits for it and records it (`jobs`,
`job_records`) with its part, pipeline, exposures and inputs.

Every read and write of the repository goes through the run's
`~lsst.ts.calibrations.repo.calibration_repository.CalibrationRepository`,
in a thread (`asyncio.to_thread`).

A step whose product is not certified (failed job, failed verification)
blocks its dependents (`CalibrationPlan.dependents`), which are reported
as not generated with the reason. External verification failures are
recorded (``VERIFICATION_FAILED``) but are not failures of the run.

Exposures left out (`left_out`, a `LeftOutExposures`): the script leaves
out an exposure whose ingest failed or that never reached the OODS
(`leave_out`); a job that fails because the ISR of some exposures failed
for a detector (no ``isr_metadata`` for it in the job's output, while other
exposures have theirs) leaves those exposures out and is submitted again
with the rest (`JobRunner.run_job_leaving_out`). A step starts, and a job is submitted again, only while the
exposures left can still make its product (`LeftOutExposures.shortfall`);
otherwise the step fails, naming what was left out. `pointless` tells the
script when the images of a type can no longer serve any step, so it stops
taking them.

Nothing is swallowed: every failed job or certification is recorded in
`failures` with the step and the job id, and the script ends FAILED.
"""

from __future__ import annotations

__all__ = ["CalibrationProcessor", "NotEnoughExposuresError"]

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..repo.verification_verdict import VerificationVerdict
from .gain_report import GainReport
from .incremental_jobs import IncrementalJobs
from .job_runner import JobRunner
from .left_out_exposures import LeftOutExposures
from .not_enough_exposures_error import NotEnoughExposuresError
from .ocps_client import OcpsClient
from .ocps_job_result import OcpsJobError, OcpsJobResult
from .pipeline_split import PipelineSplit
from .processing_job import JobPart
from .processing_step import ProcessingStep
from .product_outcome import ProductOutcome, ProductStatus

if TYPE_CHECKING:
    from ..repo.calibration_repository import CalibrationRepository
    from .calibration_plan import CalibrationPlan

type VerdictFunction = Callable[[Mapping[Any, Any], int, int], VerificationVerdict]
"""``judge(stats, threshold, n_detectors) -> VerificationVerdict`` (see `judge_verification`)."""


class _NeededNotCertifiedError(Exception):
    """A product the step needs was not certified while the step's jobs ran (it is then BLOCKED)."""


class CalibrationProcessor:
    """Process the images of one run (see the module documentation).

    Parameters
    ----------
    plan : `CalibrationPlan`
        The run's plan (its ``steps`` are the processing graph).
    ocps : `OcpsClient`
        Client of the instrument's OCPS.
    log : `logging.Logger`
        Logger.
    repository : `~lsst.ts.calibrations.repo.calibration_repository.CalibrationRepository`
        The run's repository (its blocking calls are made in threads).
    judge : callable
        ``judge(stats, threshold, n_detectors)`` → `VerificationVerdict`.
    incremental : `bool`, optional
        Process exposures as they land (`arrived`): the per-exposure part
        of each pipeline in jobs during data taking, the run-level part in
        one final job (see the module documentation). False: each
        pipeline runs as one job over every exposure once they are all in.

    Attributes
    ----------
    outcomes : `dict` [`str`, `ProductOutcome`]
        What became of each step of the run, in plan order.
    failures : `list` [`str`]
        Failed steps, each naming the step and the job.
    gains : `GainReport` or `None`
        The gains from flat pairs (`None` if none were measured).
    exposures : `dict` [`str`, `list` [`int`]]
        Exposures given to `start`, per image type.
    left_out : `LeftOutExposures`
        The kept exposures and those left out of processing, with why.
    jobs : `dict` [`str`, `ProcessingJob`]
        Every job submitted, by job id: part, pipeline, exposures, inputs.
    """

    start_before_certified: bool = True
    """A generation's per-exposure jobs start once the products they need are
    made (`generated`); False: once those are certified (`certified`), as
    before (the benchmarks compare the two)."""

    def __init__(
        self,
        plan: CalibrationPlan,
        ocps: OcpsClient,
        log: logging.Logger,
        repository: CalibrationRepository,
        judge: VerdictFunction,
        incremental: bool = True,
    ) -> None:
        self.plan = plan
        self.ocps = ocps
        self.log = log
        self.repository = repository
        self.judge = judge
        self.outcomes = {step.name: ProductOutcome(step.name) for step in plan.steps}
        self.failures: list[str] = []
        self.gains: GainReport | None = None
        self.left_out = LeftOutExposures(plan)
        self.runner = JobRunner(plan, ocps, log, repository, self.left_out)
        self.exposures = self.runner.exposures
        self.incremental = incremental
        self.jobs = self.runner.jobs
        self._feeders: dict[tuple[str, str], IncrementalJobs] = {}
        self._certified: dict[str, asyncio.Future[bool]] = {}
        self._generated: dict[str, asyncio.Future[str]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @property
    def gain_table(self) -> str:
        """The gains from flat pairs as one table ("" if none were measured)."""
        return self.gains.format() if self.gains is not None else ""

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        """The processing tasks started so far (per-exposure feeding included)."""
        feeding = [f.task for f in self._feeders.values() if f.task is not None]
        return [*self._tasks.values(), *feeding]

    def arrived(self, image_type: str, exposure: int) -> None:
        """A kept exposure is in the OODS: give it to the per-exposure jobs of the steps that use it.

        Does nothing unless ``incremental``. A pipeline without a split
        (`PipelineSplit.of`), and an internal verification (it needs the
        product the run-level job makes), run as one job when the step starts.
        """
        if not self.incremental or self.left_out.is_left_out(exposure):
            return
        for step in self.plan.steps:
            if image_type not in step.images or step.name in self._tasks:
                continue
            for kind, pipeline, options, inputs in step.incremental_jobs():
                key = (step.name, kind)
                feeder = self._feeders.get(key)
                split = PipelineSplit.of(pipeline)
                if feeder is None and split is not None:
                    feeder = IncrementalJobs(
                        self, step, kind, pipeline, options, inputs, split, self.outcomes[step.name]
                    )
                    self._feeders[key] = feeder
                if feeder is not None:
                    feeder.add(exposure)

    def certified(self, name: str) -> asyncio.Future[bool]:
        """Future set True when step ``name`` is accepted (certified), False when it will not be."""
        future = self._certified.get(name)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._certified[name] = future
        return future

    def generated(self, name: str) -> asyncio.Future[str]:
        """Future set to the output run holding step ``name``'s product once its generation completed.

        Set before the product is verified and certified; ``""`` when the
        step ends without generating it.
        """
        future = self._generated.get(name)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._generated[name] = future
        return future

    def start(self, image_type: str, exposures: Sequence[int]) -> list[str]:
        """Record the kept exposures of an image type and start the steps that now have their images.

        Parameters
        ----------
        image_type : `str`
            BIAS, DARK or FLAT.
        exposures : `list` [`int`]
            The exposures kept (discards dropped).

        Returns
        -------
        started : `list` [`str`]
            Names of the steps started.
        """
        self.exposures[image_type] = list(exposures)
        started = []
        for step in self.plan.steps:
            if step.name in self._tasks or not all(t in self.exposures for t in step.images):
                continue
            self._tasks[step.name] = asyncio.create_task(self._process(step), name=f"process {step.name}")
            started.append(step.name)
        return started

    async def start_when_in(
        self, image_type: str, waits: Sequence[Awaitable[None]], n_taken: int, kept: Sequence[int]
    ) -> None:
        """Wait until every image of a type is in the OODS or left out, then `start` with the rest.

        Runs while the camera takes the next image type.

        Parameters
        ----------
        image_type : `str`
            BIAS, DARK or FLAT.
        waits : sequence of awaitable
            The OODS wait of each image (each leaves its image out if it never gets there).
        n_taken : `int`
            Images of that type taken (discards included).
        kept : sequence of `int`
            The exposures kept.
        """
        await asyncio.gather(*waits)
        remaining = self.left_out.remaining(image_type, kept)
        self.log.info(
            "%s: %d image(s) in the OODS, %d kept left out; processing starts with %d",
            image_type,
            n_taken,
            len(kept) - len(remaining),
            len(remaining),
        )
        self.start(image_type, kept)

    async def wait(self) -> None:
        """Wait until every processing task started has ended (each records its own outcome).

        Per-exposure jobs of steps that never started (their images were
        not all taken) submit no more; the one in flight is waited for.
        """
        if self._tasks:
            await asyncio.gather(*self._tasks.values())
        await asyncio.gather(*(feeder.abandon() for feeder in self._feeders.values()))

    async def cancel(self) -> None:
        """Cancel the processing tasks still running (jobs are aborted by the script)."""
        running = [task for task in self._tasks.values() if not task.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await asyncio.gather(*(feeder.cancel() for feeder in self._feeders.values()))

    def exposures_of(self, step: ProcessingStep) -> list[int]:
        """The kept exposures a step's jobs process (those left out excluded)."""
        return self.runner.exposures_of(step)

    def leave_out(self, image_type: str, exposure: int, reason: str) -> None:
        """Leave a kept exposure out of processing, with why (logged as a warning once)."""
        self.runner.leave_out(image_type, exposure, reason)

    def check_enough(self, step: ProcessingStep) -> None:
        """Raise `NotEnoughExposuresError` if the exposures left cannot make the step's product."""
        self.runner.check_enough(step)

    def job_records(self) -> dict[str, dict[str, Any]]:
        """Every OCPS job of the run (`JobRunner.job_records`)."""
        return self.runner.job_records()

    def doomed(self, name: str) -> str:
        """Why step ``name`` can no longer make its product ("" if it still can).

        It cannot when it ended without its product (failed, blocked,
        verification failed), when the exposures left fall short
        (`LeftOutExposures.shortfall`), or when a step it needs cannot.
        """
        step = self.plan.step(name)
        outcome = self.outcomes[name]
        future = self._certified.get(name)
        if future is not None and future.done() and step.certify and not future.result():
            return outcome.describe()
        if outcome.status in (ProductStatus.FAILED, ProductStatus.BLOCKED):
            return outcome.describe()
        for (feeding, _), feeder in self._feeders.items():
            if feeding == name and feeder.error is not None:
                return f"{name}: {feeder.error}"
        short = self.left_out.shortfall(step)
        if short:
            return f"{name}: {short}"
        for dependency in step.after:
            why = self.doomed(dependency)
            if why:
                return why
        return ""

    def pointless(self, image_type: str) -> str:
        """Why taking (more) images of a type is pointless ("" if some step can still use them).

        Images no step uses (no processing asked) are never pointless:
        they are what the run was asked for.
        """
        users = [step for step in self.plan.steps if image_type in step.images]
        reasons = []
        for step in users:
            why = self.doomed(step.name)
            if not why:
                return ""
            reasons.append(f"{step.name} cannot be made ({why})")
        return "; ".join(reasons)

    def block_unstarted(self) -> None:
        """Mark the steps never started that can no longer be made BLOCKED, with why."""
        for step in self.plan.steps:
            outcome = self.outcomes[step.name]
            if step.name in self._tasks or outcome.status != ProductStatus.PENDING:
                continue
            why = self.doomed(step.name)
            if why and not why.startswith(f"{step.name}:"):
                outcome.status = ProductStatus.BLOCKED
                outcome.reason = f"not made: it needs what cannot be made ({why})"
            elif why:
                outcome.status = ProductStatus.FAILED
                outcome.reason = why.removeprefix(f"{step.name}: ")
                self.failures.append(why)

    async def _process(self, step: ProcessingStep) -> None:
        outcome = self.outcomes[step.name]
        try:
            await self._run_step(step, outcome)
        except (OcpsJobError, NotEnoughExposuresError) as e:
            outcome.status = ProductStatus.FAILED
            outcome.reason = str(e)
            self.failures.append(f"{step.name}: {e}")
            self.log.error("%s", e)
        except asyncio.CancelledError:
            outcome.reason = outcome.reason or "stopped"
            raise
        except Exception as e:
            outcome.status = ProductStatus.FAILED
            outcome.reason = f"{type(e).__name__}: {e}"
            self.failures.append(f"{step.name}: {outcome.reason}")
            self.log.exception("Processing %s failed", step.name)
        finally:
            made = self.generated(step.name)
            if not made.done():
                made.set_result("")
            future = self.certified(step.name)
            if not future.done():
                future.set_result(outcome.status == ProductStatus.CERTIFIED)

    async def products_needed(self, step: ProcessingStep) -> list[str] | None:
        """Wait until the products ``step`` needs (``step.after``) are made; return where to read them.

        With ``start_before_certified`` (the default) a product counts once
        its generation completed (`generated`): the step's jobs read it from
        that job's output run, the very dataset its certification puts into
        ``calib_collection``, while it is verified; otherwise once certified.

        Returns
        -------
        runs : `list` [`str`] or `None`
            The output runs of the products not certified yet, to head the
            step's inputs (those certified are found in ``calib_collection``);
            `None` if one of them will not be certified.
        """
        runs = []
        for name in step.after:
            certified = self.certified(name)
            if not self.start_before_certified or certified.done():
                if not await certified:
                    return None
                continue
            run = await self.generated(name)
            if not run:
                return None
            if not (certified.done() and certified.result()):
                runs.append(run)
        return runs

    async def inputs_with(self, runs: Sequence[str], inputs: Sequence[str]) -> list[str]:
        """A job's input collections headed by the ``runs`` of products not certified yet.

        The calibration collection is created by the run's first
        certification: before that it is left out of the inputs (nothing
        of the run is certified there yet, and the products needed are read
        from their ``runs``).
        """
        collections = [*runs, *inputs]
        calib = self.plan.calib_collection
        if runs and calib in collections:
            kind = await asyncio.to_thread(self.repository.collection_type, calib)
            if kind is None:
                collections.remove(calib)
        return collections

    def _not_certified(self, name: str) -> bool:
        """True if step ``name`` ended without its product certified."""
        future = self._certified.get(name)
        return future is not None and future.done() and not future.result()

    async def _needed_certified(self, step: ProcessingStep, outcome: ProductOutcome) -> bool:
        """Wait for the certification of the products ``step`` needs; if one is not, mark it BLOCKED."""
        missing = []
        for name in step.after:
            if not await self.certified(name):
                missing.append(f"{name} ({self.outcomes[name].status.value})")
        if missing:
            outcome.status = ProductStatus.BLOCKED
            outcome.reason = f"needs {', '.join(missing)}, which was not certified"
            self.log.warning("%s not generated: %s", step.name, outcome.reason)
        return not missing

    async def _run_step(self, step: ProcessingStep, outcome: ProductOutcome) -> None:
        try:
            await self._run_step_jobs(step, outcome)
        except _NeededNotCertifiedError:
            await self._needed_certified(step, outcome)

    async def _run_step_jobs(self, step: ProcessingStep, outcome: ProductOutcome) -> None:
        needed = await self.products_needed(step)
        if needed is None:
            await self._needed_certified(step, outcome)
            return
        self.check_enough(step)
        generated: OcpsJobResult | None = None
        if step.generate:
            generated = await self._run_kind(
                outcome,
                "generate",
                step.pipeline,
                step.config_options,
                await self.inputs_with(needed, step.input_collections),
                step,
            )
            made = self.generated(step.name)
            if not made.done():
                made.set_result(JobRunner.output_run(generated))
            if any(self._not_certified(name) for name in step.after):
                await self._needed_certified(step, outcome)  # BLOCKED: no verification
                return
        if step.verify:
            inputs = list(step.verify_input_collections)
            if step.verification == "internal" and generated is not None:
                inputs.insert(0, generated.output_collection)
            verified = await self._run_kind(
                outcome, "verify", step.verify_pipeline, step.verify_config_options, inputs, step
            )
            if not await self._verdict(step, outcome, verified):
                # Made with a product that was not certified either: blocked by it, as before.
                if not await self._needed_certified(step, outcome):
                    return
                outcome.status = ProductStatus.VERIFICATION_FAILED
                which = "external verification" if step.verification == "external" else "verification"
                outcome.reason = f"{which} failed (job {verified.job_id})"
                if step.certify:
                    outcome.reason += "; not certified"
                return
            outcome.status = ProductStatus.VERIFIED
        if step.report_gains and generated is not None:
            await self._report_gains(step, generated)
            outcome.status = ProductStatus.MEASURED
            pairs = len(self.gains.pairs) if self.gains is not None else 0
            outcome.reason = (
                f"gains from {pairs} flat pair(s), in the log and the record; not a certified product"
            )
        if step.certify and generated is not None:
            # Made (and verified) with the products it needs before they were certified: it is
            # certified only once they are.
            if not await self._needed_certified(step, outcome):
                return
            await self._certify(step, outcome, generated)
            outcome.reason = ""
        elif not step.generate and not step.verify:
            outcome.status = ProductStatus.TAKEN
            outcome.reason = "images taken only: neither generation nor verification was asked"

    async def _run_kind(
        self,
        outcome: ProductOutcome,
        kind: str,
        pipeline: str,
        options: Sequence[str],
        inputs: Sequence[str],
        step: ProcessingStep,
    ) -> OcpsJobResult:
        """Run a job kind of a step: its run-level part after its per-exposure jobs, or as one job.

        Raises
        ------
        OcpsJobError
            If a job failed (the message names the job).
        NotEnoughExposuresError
            If the exposures left can no longer make the product.
        """
        feeder = self._feeders.get((step.name, kind))
        split = PipelineSplit.of(pipeline)
        if feeder is None or split is None:
            return await self.runner.run_job_leaving_out(outcome, kind, pipeline, options, inputs, step)
        runs = await feeder.finish()
        if any(self._not_certified(name) for name in step.after):
            # The feeding stopped: the run-level job would miss exposures; the step is blocked.
            raise _NeededNotCertifiedError(step.name)
        self.check_enough(step)
        return await self.runner.run_job(
            outcome,
            kind,
            split.run_level_url(pipeline),
            PipelineSplit.options_for(options, split.run_level),
            [*runs, *inputs],
            step,
            part=JobPart.RUN_LEVEL,
            label=f"{kind} {step.name} (run-level)",
        )

    async def _verdict(self, step: ProcessingStep, outcome: ProductOutcome, result: OcpsJobResult) -> bool:
        stats = await asyncio.to_thread(
            self.repository.verification_statistics, result.output_collection, step.verify_stats_dataset
        )
        verdict = self.judge(stats, step.verification_threshold, len(self.plan.detectors))
        outcome.verdict = verdict
        log = self.log.info if verdict.passed else self.log.warning
        log("Verification of %s (job %s):\n%s", step.name, result.job_id, verdict.summary())
        return bool(verdict.passed)

    async def _certify(self, step: ProcessingStep, outcome: ProductOutcome, generated: OcpsJobResult) -> None:
        plan = self.plan
        what = (
            f"certify {step.dataset_type} of job {generated.job_id} into {plan.calib_collection} "
            f"[{plan.certify_begin}, {plan.certify_end})"
        )
        self.log.info("%s", what)
        try:
            count = await asyncio.to_thread(
                self.repository.certify,
                [generated.output_collection],
                plan.calib_collection,
                step.dataset_type,
                plan.certify_begin,
                plan.certify_end,
            )
        except Exception as e:
            raise RuntimeError(f"{what} failed: {e}") from e
        outcome.status = ProductStatus.CERTIFIED
        outcome.certified_into = plan.calib_collection
        outcome.validity = (plan.certify_begin, plan.certify_end)
        outcome.certified_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
        self.log.info("Certified %d %s dataset(s) into %s", count, step.dataset_type, plan.calib_collection)

    async def _report_gains(self, step: ProcessingStep, generated: OcpsJobResult) -> None:
        extracts = await asyncio.to_thread(
            self.repository.ptc_extracts,
            generated.output_collection,
            self.exposures_of(step),
            list(self.plan.detectors),
        )
        self.gains = GainReport.from_extracts(extracts)
        self.log.info("Gains from flat pairs (job %s):\n%s", generated.job_id, self.gain_table)
