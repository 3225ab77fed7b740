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

Each image type's processing starts as soon as its images are in the
repository, while the camera takes the next type. What one product does:

=====================  =========  ==============================================================
generate_calibrations  do_verify  steps
=====================  =========  ==============================================================
true                   true       generate → verify against the new calibration ("internal")
                                  → certify if the verdict passes
true                   false      generate → certify
false                  true       verify against the calibrations of the verify inputs
                                  ("external"); never certified; failures are a warning
false                  false      nothing (images only)
=====================  =========  ==============================================================

Dependencies when generating (`DEPENDENCIES`): DARK needs the new BIAS,
FLAT the new BIAS and DARK, DEFECTS the new BIAS (its ISR subtracts a
bias); PTC and GAIN remove the overscan only and need nothing. A product
waits until what it needs is certified into ``calib_collection``, which is
then the first input collection of its jobs; if what it needs was not
certified (failed verification, failed job), the product is not generated
and its outcome says why. DEFECTS and PTC are certified without
verification; GAIN is never certified: its gains are reported as a table.

Nothing is swallowed: every failed job or certification is recorded in
`failures` with the step and the job id, and the script ends FAILED.
"""

from __future__ import annotations

__all__ = ["CalibrationProcessor"]

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from .ocps_client import OcpsClient
from .ocps_job_result import OcpsJobError, OcpsJobResult
from .product_outcome import ProductOutcome, ProductStatus
from .run_settings import RunSettings

DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "BIAS": (),
    "DARK": ("BIAS",),
    "FLAT": ("BIAS", "DARK"),
    "DEFECTS": ("BIAS",),
    "PTC": (),
    "GAIN": (),
}
"""Products a generated product needs, certified, before it can be made."""

DATASET_TYPES = {"BIAS": "bias", "DARK": "dark", "FLAT": "flat", "DEFECTS": "defects", "PTC": "ptc"}
"""Dataset type certified for each product."""

VerdictFunction = Callable[[Any, int, int], Any]
"""``judge(stats, threshold, n_detectors) -> verdict`` with ``.passed`` and ``.summary()``."""


def _read_dataset(repo: str, collection: str, dataset_type: str, data_id: dict[str, Any]) -> Any:
    from ..repo.repository import open_repository

    butler = open_repository(repo, collections=[collection])
    try:
        return butler.get(dataset_type, **data_id)
    finally:
        butler.close()


def _certify(
    repo: str, inputs: list[str], calib_collection: str, dataset_type: str, begin: str, end: str
) -> int:
    from ..repo.certify import certify_calibrations
    from ..repo.repository import open_repository

    butler = open_repository(repo, writeable=True)
    try:
        return len(certify_calibrations(butler, inputs, calib_collection, dataset_type, begin, end))
    finally:
        butler.close()


def _read_extracts(
    repo: str, collection: str, instrument: str, exposures: Sequence[int], detectors: Sequence[int]
) -> dict[tuple[int, int], Any]:
    """``cpPtcExtract`` of each (exposure, detector) the job wrote."""
    from ..repo.repository import open_repository

    butler = open_repository(repo, collections=[collection])
    extracts: dict[tuple[int, int], Any] = {}
    try:
        for exposure in exposures:
            for detector in detectors:
                extracts[(exposure, detector)] = butler.get(
                    "cpPtcExtract", instrument=instrument, detector=detector, exposure=exposure
                )
    finally:
        butler.close()
    return extracts


class CalibrationProcessor:
    """Process the images of one run (see the module documentation).

    Parameters
    ----------
    settings : `RunSettings`
        What the run does.
    ocps : `OcpsClient`
        Client of the instrument's OCPS.
    log : `logging.Logger`
        Logger.
    instrument : `str`
        Instrument name (pipeline folder and data IDs), e.g. "LSSTComCam".
    judge : callable
        ``judge(stats, threshold, n_detectors)`` → verdict with ``passed``
        (`bool`) and ``summary()`` (`str`).
    format_gains : callable
        ``format_gains(extracts)`` → the gain table (`str`), from the
        ``cpPtcExtract`` of each (exposure, detector).

    Attributes
    ----------
    outcomes : `dict` [`str`, `ProductOutcome`]
        What became of each product of the run.
    failures : `list` [`str`]
        Failed steps, each naming the step and the job.
    gain_table : `str`
        The gains from flat pairs ("" if none were measured).
    """

    def __init__(
        self,
        settings: RunSettings,
        ocps: OcpsClient,
        log: logging.Logger,
        instrument: str,
        judge: VerdictFunction,
        format_gains: Callable[[dict[tuple[int, int], Any]], str],
    ) -> None:
        self.settings = settings
        self.ocps = ocps
        self.log = log
        self.instrument = instrument
        self.judge = judge
        self.format_gains = format_gains
        self.outcomes = {name: ProductOutcome(name) for name in settings.products()}
        self.failures: list[str] = []
        self.gain_table = ""
        self.exposures: dict[str, list[int]] = {}
        self._certified: dict[str, asyncio.Future[bool]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    # Pipelines and requests.

    def pipeline(self, step: str, product: str) -> str:
        """The pipeline of a step ("generate", "verify", "measure") of a product."""
        folder = f"pipelines/{self.instrument}"
        if step == "verify":
            return f"${{CP_VERIFY_DIR}}/{folder}/verify{product.title()}.yaml"
        name = {"DEFECTS": "findDefects", "PTC": "cpPtc", "GAIN": "cpPtc"}.get(
            product, f"cp{product.title()}"
        )
        suffix = "#generateGainFromFlatPair" if product == "GAIN" else ""
        return f"${{CP_PIPE_DIR}}/{folder}/{name}.yaml{suffix}"

    def _config(self, inputs: Sequence[str], product: str) -> str:
        options = self.settings.config_options.get("PTC" if product == "GAIN" else product, ())
        return self.ocps.make_config(self.settings.n_processes, inputs, options)

    # Running.

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        """The processing tasks started so far."""
        return list(self._tasks.values())

    def certified(self, product: str) -> asyncio.Future[bool]:
        """Future set True when ``product`` is certified, False when it will not be."""
        future = self._certified.get(product)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._certified[product] = future
        return future

    def start(self, image_type: str, exposures: Sequence[int]) -> None:
        """Start processing the images of a type (and, after FLAT, DEFECTS, PTC, GAIN).

        Parameters
        ----------
        image_type : `str`
            BIAS, DARK or FLAT.
        exposures : `list` [`int`]
            The exposures kept (discards dropped).
        """
        self.exposures[image_type] = list(exposures)
        products = [image_type]
        if image_type == "FLAT":
            products += [name for name in ("DEFECTS", "PTC", "GAIN") if name in self.outcomes]
        for product in products:
            self._tasks[product] = asyncio.create_task(self._process(product), name=f"process {product}")

    async def wait(self) -> None:
        """Wait until every processing task started has ended (each records its own outcome)."""
        if self._tasks:
            await asyncio.gather(*self._tasks.values())

    async def cancel(self) -> None:
        """Cancel the processing tasks still running (jobs are aborted by the script)."""
        running = [task for task in self._tasks.values() if not task.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    async def _process(self, product: str) -> None:
        outcome = self.outcomes[product]
        try:
            if product == "GAIN":
                await self._measure_gains(outcome)
            elif product in ("DEFECTS", "PTC"):
                await self._generate(outcome, verify=False)
            elif self.settings.generate_calibrations:
                await self._generate(outcome, verify=self.settings.do_verify)
            elif self.settings.do_verify:
                await self._verify_external(outcome)
            else:
                outcome.status = ProductStatus.TAKEN
        except OcpsJobError as e:
            outcome.status = ProductStatus.FAILED
            outcome.reason = str(e)
            self.failures.append(f"{product}: {e}")
            self.log.error("%s", e)
        except asyncio.CancelledError:
            outcome.reason = outcome.reason or "stopped"
            raise
        except Exception as e:
            outcome.status = ProductStatus.FAILED
            outcome.reason = f"{type(e).__name__}: {e}"
            self.failures.append(f"{product}: {outcome.reason}")
            self.log.exception("Processing %s failed", product)
        finally:
            future = self.certified(product)
            if not future.done():
                future.set_result(outcome.status == ProductStatus.CERTIFIED)

    async def _inputs_for(self, outcome: ProductOutcome) -> list[str] | None:
        """Wait for what a generated product needs; its input collections, or None if blocked."""
        needs = [name for name in DEPENDENCIES[outcome.name] if name in self.outcomes]
        if not self.settings.generate_calibrations:
            needs = []
        missing = []
        for name in needs:
            if not await self.certified(name):
                missing.append(f"{name} ({self.outcomes[name].status.value})")
        if missing:
            outcome.status = ProductStatus.BLOCKED
            outcome.reason = f"needs {', '.join(missing)}, which was not certified"
            self.log.warning("%s not generated: %s", outcome.name, outcome.reason)
            return None
        inputs = list(self.settings.input_collections.get(outcome.name, ()))
        if needs:
            inputs.insert(0, self.settings.calib_collection)
        return inputs

    def _exposures_of(self, product: str) -> list[int]:
        if product == "DEFECTS":
            return self.exposures.get("DARK", []) + self.exposures.get("FLAT", [])
        if product in ("PTC", "GAIN"):
            return self.exposures.get("FLAT", [])
        return self.exposures.get(product, [])

    async def _run_job(self, outcome: ProductOutcome, step: str, inputs: Sequence[str]) -> OcpsJobResult:
        exposures = self._exposures_of(outcome.name)
        label = f"{step} {outcome.name}"
        job_id = await self.ocps.submit(
            label,
            self.pipeline(step, outcome.name),
            self._config(inputs, outcome.name),
            self.ocps.make_data_query(self.settings.detectors, exposures),
        )
        outcome.jobs[step] = job_id
        outcome.collections[step] = f"u/ocps/{job_id}"
        result = await self.ocps.wait(job_id, timeout=self.settings.processing_timeout)
        outcome.collections[step] = result.output_collection
        return result

    async def _verdict(self, outcome: ProductOutcome, result: OcpsJobResult) -> bool:
        dataset_type = f"verify{outcome.name.title()}Stats"
        stats = await asyncio.to_thread(
            _read_dataset,
            self.settings.repo,
            result.output_collection,
            dataset_type,
            {"instrument": self.instrument},
        )
        threshold = self.settings.thresholds.get(outcome.name, 8)
        verdict = self.judge(stats, threshold, len(self.settings.detectors))
        outcome.verdict = verdict.summary()
        log = self.log.info if verdict.passed else self.log.warning
        log("Verification of %s (job %s):\n%s", outcome.name, result.job_id, outcome.verdict)
        return bool(verdict.passed)

    async def _generate(self, outcome: ProductOutcome, verify: bool) -> None:
        inputs = await self._inputs_for(outcome)
        if inputs is None:
            return
        generated = await self._run_job(outcome, "generate", inputs)
        if verify:
            verify_inputs = [
                generated.output_collection,
                *self.settings.input_collections_verify[outcome.name],
            ]
            verified = await self._run_job(outcome, "verify", verify_inputs)
            if not await self._verdict(outcome, verified):
                outcome.status = ProductStatus.VERIFICATION_FAILED
                outcome.reason = f"verification failed (job {verified.job_id}); not certified"
                return
        await self._certify(outcome, generated)

    async def _certify(self, outcome: ProductOutcome, generated: OcpsJobResult) -> None:
        settings = self.settings
        dataset_type = DATASET_TYPES[outcome.name]
        what = (
            f"certify {dataset_type} of job {generated.job_id} into {settings.calib_collection} "
            f"[{settings.begin_date}, {settings.end_date})"
        )
        self.log.info("%s", what)
        try:
            count = await asyncio.to_thread(
                _certify,
                settings.repo,
                [generated.output_collection],
                settings.calib_collection,
                dataset_type,
                settings.begin_date,
                settings.end_date,
            )
        except Exception as e:
            raise RuntimeError(f"{what} failed: {e}") from e
        outcome.status = ProductStatus.CERTIFIED
        outcome.certified_into = settings.calib_collection
        outcome.validity = (settings.begin_date, settings.end_date)
        self.log.info("Certified %d %s dataset(s) into %s", count, dataset_type, settings.calib_collection)

    async def _verify_external(self, outcome: ProductOutcome) -> None:
        verified = await self._run_job(
            outcome, "verify", self.settings.input_collections_verify[outcome.name]
        )
        if await self._verdict(outcome, verified):
            outcome.status = ProductStatus.VERIFIED
        else:
            outcome.status = ProductStatus.VERIFICATION_FAILED
            outcome.reason = f"external verification failed (job {verified.job_id})"

    async def _measure_gains(self, outcome: ProductOutcome) -> None:
        result = await self._run_job(outcome, "measure", self.settings.input_collections["PTC"])
        extracts = await asyncio.to_thread(
            _read_extracts,
            self.settings.repo,
            result.output_collection,
            self.instrument,
            self._exposures_of("GAIN"),
            self.settings.detectors,
        )
        self.gain_table = self.format_gains(extracts)
        outcome.status = ProductStatus.MEASURED
        self.log.info("Gains from flat pairs (job %s):\n%s", result.job_id, self.gain_table)
