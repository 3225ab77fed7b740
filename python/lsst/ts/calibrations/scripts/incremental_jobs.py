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


"""IncrementalJobs: the per-exposure jobs of one pipeline of a step, submitted as exposures land.

As each kept exposure of the step's image types is in the OODS
(`add`), the per-exposure part of the pipeline (`PipelineSplit`) is
submitted over every exposure that arrived since the previous such job
was submitted; one job at a time, so the next takes everything that
arrived meanwhile. An external verification starts at once. A generation
waits until the steps it comes after have generated their products (its ISR
needs them), not until they are verified and certified: until a product is
certified, the per-exposure jobs read it from the output run of the job
that made it (listed first among their inputs), the very dataset the
certification then puts into the calibration collection, so the outputs are
those of the one-job way. The product's verification runs meanwhile; if it
fails (the product is not certified), no more per-exposure jobs are
submitted and the step is reported blocked, as in the one-job way.

When the step starts (every exposure of its image types is in),
`finish` submits a last per-exposure job for the exposures not covered
yet, waits for them all and returns the output runs of the per-exposure
jobs that completed: the inputs of the step's run-level job.

A per-exposure job that failed because the ISR of some exposures failed
for a detector (while it ran for others, in that job or an earlier one)
leaves those exposures out (with the same reason and
WARNING as the one-job way) and is submitted again with the rest. A first
job whose ISR quanta ran and all failed, before any exposure was processed
(an unreadable first image, or a pipeline that cannot run), is judged by
the next: if that one processes its exposures, the first job's are left
out; if it fails too, or no other exposure comes, the step fails with that
error. A job that failed otherwise (its ISR quanta never ran, say), or was
aborted, ends the feeding with that error, which `finish` raises.
"""

from __future__ import annotations

__all__ = ["IncrementalJobs"]

import asyncio
import typing
from collections.abc import Sequence

from .ocps_job_result import OcpsJobError
from .pipeline_split import PipelineSplit
from .processing_job import JobPart
from .processing_step import ProcessingStep

if typing.TYPE_CHECKING:
    from .calibration_processor import CalibrationProcessor
    from .product_outcome import ProductOutcome


class IncrementalJobs:
    """The per-exposure jobs of one pipeline of a step (see the module documentation).

    Parameters
    ----------
    processor : `CalibrationProcessor`
        The run's processing (submits the jobs, leaves exposures out).
    step : `ProcessingStep`
        The step.
    kind : `str`
        "generate" or "verify".
    pipeline : `str`
        The step's pipeline URL for that kind.
    options : sequence of `str`
        Its pipetask options (those of labels outside the per-exposure part
        are dropped).
    inputs : sequence of `str`
        Its input collections.
    split : `PipelineSplit`
        The pipeline's per-exposure and run-level labels.
    outcome : `ProductOutcome`
        The step's outcome.

    Attributes
    ----------
    runs : `list` [`str`]
        Output runs of the per-exposure jobs that completed.
    covered : `list` [`int`]
        Exposures processed by those jobs.
    submitted : `int`
        Per-exposure jobs submitted so far.
    """

    def __init__(
        self,
        processor: CalibrationProcessor,
        step: ProcessingStep,
        kind: str,
        pipeline: str,
        options: Sequence[str],
        inputs: Sequence[str],
        split: PipelineSplit,
        outcome: ProductOutcome,
    ) -> None:
        self.processor = processor
        self.step = step
        self.kind = kind
        self.pipeline = pipeline
        self.options = tuple(options)
        self.inputs = tuple(inputs)
        self.split = split
        self.outcome = outcome
        self.runs: list[str] = []
        self.covered: list[int] = []
        self.submitted = 0
        self.error: BaseException | None = None
        self._pending: list[int] = []
        self._closed = False
        self._abandoned = False
        self._in_flight = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # A first job whose ISR quanta ran and all failed, with the detectors they failed for,
        # until a later job processes some exposures (these are left out) or none does (the
        # step fails with its error).
        self._suspect: tuple[OcpsJobError, dict[int, list[int]]] | None = None

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The feeding task (`None` before the first exposure)."""
        return self._task

    def add(self, exposure: int) -> None:
        """An exposure of the step's image types is in the OODS: process it with the next job."""
        if self._closed or exposure in self._pending or exposure in self.covered:
            return
        self._pending.append(int(exposure))
        self._wake.set()
        if self._task is None:
            self._task = asyncio.create_task(self._feed(), name=f"per-exposure {self.kind} {self.step.name}")

    async def finish(self) -> list[str]:
        """Process the exposures not covered yet, wait for every per-exposure job; return their runs.

        Raises
        ------
        OcpsJobError
            If a per-exposure job failed (not only for some exposures).
        NotEnoughExposuresError
            If the exposures left can no longer make the product.
        """
        self._closed = True
        self._wake.set()
        if self._task is None:
            self._task = asyncio.create_task(self._feed(), name=f"per-exposure {self.kind} {self.step.name}")
        await self._task
        if self.error is not None:
            raise self.error
        return list(self.runs)

    async def abandon(self) -> None:
        """The step will not run: let the job in flight end, submit no more."""
        self._closed = True
        self._abandoned = True
        self._wake.set()
        if self._task is not None and not self._in_flight:
            self._task.cancel()  # waiting for an exposure or for a step that will not be certified
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def cancel(self) -> None:
        """Cancel the feeding (the script aborts the job in flight)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _feed(self) -> None:
        try:
            await self._feed_jobs()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            # Kept for `finish` (and `CalibrationProcessor.doomed`), which report it with the step.
            self.error = e

    def _needed_not_certified(self) -> bool:
        """True if a step this one comes after ended without its product certified."""
        for name in self.step.after:
            certified = self.processor.certified(name)
            if certified.done() and not certified.result():
                return True
        return False

    async def _feed_jobs(self) -> None:
        processor = self.processor
        if self.kind == "generate":
            runs = await processor.products_needed(self.step)
            if runs is None:
                return  # the step will be reported blocked
            self.inputs = tuple(await processor.inputs_with(runs, self.inputs))
        while not self._abandoned:
            if self._needed_not_certified():
                return  # the step will be reported blocked
            todo = [e for e in self._pending if not processor.left_out.is_left_out(e)]
            self._pending.clear()
            if not todo and self._closed:
                suspects = self._suspect[1] if self._suspect is not None else {}
                todo = [
                    e
                    for e in processor.exposures_of(self.step)
                    if e not in self.covered and e not in suspects
                ]
                if not todo:
                    if self._suspect is not None:
                        raise self._suspect[0]  # no job processed any exposure: the step fails
                    return
            if not todo:
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._run(todo)

    async def _run(self, exposures: list[int]) -> None:
        processor = self.processor
        self.submitted += 1
        labels = self.split.per_exposure
        self._in_flight = True
        try:
            result = await processor.runner.run_job(
                self.outcome,
                self.kind,
                self.split.per_exposure_url(self.pipeline),
                PipelineSplit.options_for(self.options, labels),
                self.inputs,
                self.step,
                part=JobPart.PER_EXPOSURE,
                exposures=exposures,
                label=f"{self.kind} {self.step.name} (per-exposure {self.submitted})",
            )
        except OcpsJobError as e:
            self._in_flight = False
            if e.result is None or e.result.phase == "ABORTED":
                raise
            found = await processor.runner.failed_isr(e.result, exposures)
            if found is None or not found[0]:
                raise
            failed, ran = found
            if not (ran or self.covered):
                # The ISR succeeded for none of this job's exposures, nor for any before. If its
                # quanta ran and failed (an unreadable image, or a pipeline that cannot run), the
                # next job that processes any says which; if none ran, the job failed otherwise.
                crashed = await processor.runner.crashed_isr(e.result, exposures)
                if self._suspect is not None or not crashed:
                    raise
                failed = crashed
                self._suspect = (e, failed)
                processor.log.warning(
                    "%s %s: the ISR of job %s failed for %s before any exposure was processed; "
                    "if the next job processes its exposures, %s left out, else the step fails",
                    self.kind,
                    self.step.name,
                    e.result.job_id,
                    ", ".join(str(x) for x in failed),
                    "that one is" if len(failed) == 1 else "those are",
                )
                return
            processor.runner.leave_out_isr_failures(self.step, self.kind, e.result, failed)
            left = [x for x in exposures if not processor.left_out.is_left_out(x)]
            processor.check_enough(self.step)
            if left:
                processor.log.warning(
                    "%s %s: submitting the job again without the exposures left out (%d left)",
                    self.kind,
                    self.step.name,
                    len(left),
                )
            self._pending[:0] = left
            return
        finally:
            self._in_flight = False
        self.runs.append(processor.runner.output_run(result))
        self.covered += exposures
        if self._suspect is not None:
            error, failed = self._suspect
            self._suspect = None
            assert error.result is not None
            processor.runner.leave_out_isr_failures(self.step, self.kind, error.result, failed)
            processor.check_enough(self.step)
