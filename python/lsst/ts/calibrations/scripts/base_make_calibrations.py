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

"""BaseMakeCalibrations: take biases, darks and flats, have the OCPS make and verify
combined calibrations, certify the accepted ones and report gains.

Instrument-neutral; a subclass gives the camera, the OCPS index, the
detectors and the filter (`MakeComCamCalibrations`). The run follows the
procedure document and ts_externalscripts' script, checkpoint names
included:

1. "Setup instrument.": every camera component and the OCPS ENABLED; the
   filter set.
2. Per image type of ``script_mode``: "Taking N biases." (N = n +
   n_discard); the images taken one at a time, tagged with program,
   reason, note and the group ID; every detector of every image awaited in
   the OODS (``imageInOODS`` matched by image name, ``statusCode`` checked,
   ``oods_timeout``); the discarded images dropped; "Images taken: (...);
   type: BIAS"; that type's processing started (`CalibrationProcessor`)
   while the next type is taken.
3. "Data-taking part completed."; the processing awaited.
4. The summary logged and the run record written (also when stopped or
   failed).

Final state: FAILED if a step failed (the reason names the step and the
job) or a generation run did not certify every product it was asked for;
DONE with a WARNING when external verification finds failures. ``stop``
(or SIGTERM) ends camera work after the image being taken, aborts the OCPS
jobs still running and ends STOPPED. Every exposure taken stays ingested
and is listed in the log and the record with the jobs and collections, so
processing can be redone without retaking (`reprocess`).
"""

from __future__ import annotations

__all__ = ["BaseMakeCalibrations"]

import abc
import asyncio
import importlib.util
import json
import os
import time
import types
import typing
from pathlib import Path

from ..observatory.base_camera import BaseCamera
from ..observatory.remote_group import RemoteGroup
from ..sal.base import ExpectedError
from ..sal.base_script import BaseScript
from .calibration_processor import CalibrationProcessor
from .ocps_client import OcpsClient
from .product_outcome import ProductStatus
from .run_settings import RunSettings

PLURALS = {"BIAS": "biases", "DARK": "darks", "FLAT": "flats"}
"""Words of the "Taking N ..." checkpoints."""

RUN_RECORD_DIR_ENV = "TS_CALIBRATIONS_RUN_RECORDS"
"""Environment variable naming the folder of run records (default ``./run_records``)."""

JOB_OVERHEAD = 60.0
"""Estimated fixed cost (s) of one OCPS job (scheduling, pipetask start, graph build)."""

JOB_COST_PER_IMAGE = 3.0
"""Estimated cost (s) of one detector image in one job, per process."""


class BaseMakeCalibrations(BaseScript, metaclass=abc.ABCMeta):
    """Base class of the combined-calibrations scripts (see the module documentation).

    Parameters
    ----------
    index : `int`
        SAL index of the script.
    descr : `str`
        Short description.

    Attributes
    ----------
    settings : `RunSettings` or `None`
        What the run does (set by ``configure``).
    taken : `dict` [`str`, `list` [`int`]]
        Exposure ids taken per image type, discards included.
    kept : `dict` [`str`, `list` [`int`]]
        Exposure ids processed per image type (discards dropped).
    processor : `CalibrationProcessor` or `None`
        The processing of the run (set by ``run``).
    run_record_path : `pathlib.Path` or `None`
        Where the run record was written.
    """

    instrument_name: typing.ClassVar[str] = ""
    ocps_index: typing.ClassVar[int] = 0
    detector_ids: typing.ClassVar[tuple[int, ...]] = ()

    def __init__(self, index: int, descr: str) -> None:
        super().__init__(index=index, descr=descr)
        self.settings: RunSettings | None = None
        self.camera: BaseCamera | None = None
        self.ocps_group: RemoteGroup | None = None
        self.ocps: OcpsClient | None = None
        self.processor: CalibrationProcessor | None = None
        self.filter_name: str | None = None
        self.taken: dict[str, list[int]] = {}
        self.kept: dict[str, list[int]] = {}
        self.run_record_path: Path | None = None
        self.plan_notes: list[str] = []
        self._config: dict[str, typing.Any] = {}
        self._run_began = 0.0
        self._data_taking_end = 0.0

    # Subclass API.

    @abc.abstractmethod
    def make_camera(self) -> BaseCamera:
        """Make the camera group on this script's domain."""
        raise NotImplementedError()

    @abc.abstractmethod
    async def resolve_filter(self, value: str | int | None) -> str | None:
        """Check the configured filter against the camera's; return its name (None: keep)."""
        raise NotImplementedError()

    def judge_verification(self, stats: typing.Any, threshold: int, n_detectors: int) -> typing.Any:
        """Verdict of a verification run (``passed``, ``summary()``)."""
        from .verification_verdict import judge_verification

        return judge_verification(stats, threshold, n_detectors)

    def format_gains(self, extracts: dict[tuple[int, int], typing.Any]) -> str:
        """The gain table from the ``cpPtcExtract`` of each (exposure, detector)."""
        from .gain_report import format_gain_table

        return str(format_gain_table(extracts))

    # BaseScript API.

    async def configure(self, config: types.SimpleNamespace) -> None:
        """Check the configuration, the repository and the filter; take nothing.

        Raises
        ------
        ExpectedError
            Naming the option and what would be right, for any refusal.
        """
        self._config = dict(vars(config))
        try:
            from .calibration_plan import CalibrationPlan
        except ImportError:
            plan = None
        else:
            try:
                plan = CalibrationPlan.from_config(
                    config, explicit_keys=self.explicit_config_keys, instrument=self.instrument_name
                )
            except ValueError as e:
                raise ExpectedError(str(e)) from e
            self.plan_notes = list(getattr(plan, "notes", []))
            for note in self.plan_notes:
                self.log.info("%s", note)
        try:
            settings = RunSettings.from_config(config, self.detector_ids)
        except ValueError as e:
            raise ExpectedError(str(e)) from e
        if plan is not None and importlib.util.find_spec(f"{__package__}.repository_checks") is None:
            self.log.warning(
                "Repository checks are not installed: the repository is not checked at configure"
            )
        elif plan is not None:
            problems = await asyncio.to_thread(self._check_repository, plan)
            if problems:
                raise ExpectedError("; ".join(problems))
        if self.camera is None:
            self.camera = self.make_camera()
            self.ocps_group = RemoteGroup([f"OCPS:{self.ocps_index}"], domain=self.domain, log=self.log)
            self.ocps = OcpsClient(
                getattr(self.ocps_group.rem, f"ocps_{self.ocps_index}"),
                self.log,
                instrument=self.instrument_name,
            )
        assert self.ocps_group is not None
        await asyncio.gather(self.camera.start_task, self.ocps_group.start_task)
        self.filter_name = await self.resolve_filter(settings.filter)
        self.settings = settings

    @staticmethod
    def _check_repository(plan: typing.Any) -> list[str]:
        from ..repo.repository import open_repository
        from .repository_checks import check_repository

        butler = open_repository(plan.repo)
        try:
            return list(check_repository(plan, butler))
        finally:
            butler.close()

    def estimate_duration(self) -> float:
        """Estimated duration (s) of the run: camera time plus the processing tail."""
        settings = self.settings
        if settings is None:
            return 0.0
        read_out_time = self.camera.read_out_time if self.camera is not None else 2.0
        shutter_time = self.camera.shutter_time if self.camera is not None else 1.0
        camera_time = 0.0
        for image_type, times in settings.exposure_times.items():
            shutter = 2 * shutter_time if image_type == "FLAT" else 0.0
            camera_time += sum(t + read_out_time + shutter + settings.wait_between_exposures for t in times)
        last = settings.image_types[-1]
        images = settings.n_images[last] * len(settings.detectors)
        job_time = JOB_OVERHEAD + JOB_COST_PER_IMAGE * images / max(1, settings.n_processes)
        chain = int(settings.generate_calibrations) + int(settings.do_verify)
        return camera_time + max(1, chain) * job_time

    def set_metadata(self, metadata: typing.Any) -> None:
        """Duration from the plan (camera time + the processing of the last image type); filter."""
        metadata.duration = self.estimate_duration()
        if self.filter_name:
            metadata.filters = self.filter_name

    async def run(self) -> None:
        """Take the images and process them (see the module documentation)."""
        settings = self.settings
        assert settings is not None and self.camera is not None and self.ocps_group is not None
        assert self.ocps is not None
        self._run_began = time.monotonic()
        await self.checkpoint("Setup instrument.")
        await self.camera.assert_all_enabled("The camera must be ENABLED to take calibrations.")
        await self.ocps_group.assert_all_enabled("The OCPS must be ENABLED to process calibrations.")
        if self.filter_name is not None:
            await self.camera.setup_instrument(filter=self.filter_name)
        self.processor = CalibrationProcessor(
            settings,
            self.ocps,
            self.log,
            self.instrument_name,
            judge=self.judge_verification,
            format_gains=self.format_gains,
        )
        for image_type in settings.image_types:
            times = settings.exposure_times[image_type]
            await self.checkpoint(f"Taking {len(times)} {PLURALS[image_type]}.")
            exposure_ids = await self.take_images(image_type, times)
            kept = exposure_ids[settings.n_discard[image_type] :]
            self.kept[image_type] = kept
            await self.checkpoint(f"Images taken: {tuple(kept)}; type: {image_type}")
            self.processor.start(image_type, kept)
        self._data_taking_end = time.monotonic()
        await self.checkpoint("Data-taking part completed.")
        await self.processor.wait()
        self.judge_run()

    async def take_images(self, image_type: str, times: typing.Sequence[float]) -> list[int]:
        """Take the images of one type one at a time and wait until the OODS has them all.

        A stop while an image is being taken lets that image finish (it is
        then listed with the others) before the stop takes effect.
        """
        settings = self.settings
        assert settings is not None and self.camera is not None
        taken = self.taken.setdefault(image_type, [])
        group_id = self.group_id or None
        for i, exptime in enumerate(times):
            if i > 0 and settings.wait_between_exposures > 0:
                await asyncio.sleep(settings.wait_between_exposures)
            task = asyncio.create_task(
                self.camera.take_imgtype(
                    image_type,
                    exptime,
                    1,
                    group_id=group_id,
                    reason=settings.reason,
                    program=settings.program,
                    note=settings.note,
                )
            )
            try:
                exposure_ids = await asyncio.shield(task)
            except asyncio.CancelledError:
                if not task.done():
                    self.log.info("Stop requested: finishing the %s image being taken", image_type)
                    try:
                        taken += await task
                    except Exception as e:
                        self.log.error("The %s image being taken when stopped failed: %s", image_type, e)
                raise
            taken += exposure_ids
            self.log.info("%s %d of %d taken: exposure %s", image_type, i + 1, len(times), exposure_ids)
        await self.wait_for_ingest(taken[-len(times) :])
        return taken[-len(times) :]

    @abc.abstractmethod
    async def wait_for_ingest(self, exposure_ids: list[int]) -> None:
        """Wait until the OODS has ingested every detector of these exposures."""
        raise NotImplementedError()

    def judge_run(self) -> None:
        """Raise if a step failed or a generation run misses a product; warn on verification failures.

        Raises
        ------
        ExpectedError
            Naming each failed step and its job, or each product that was
            requested and not certified, and why.
        """
        assert self.processor is not None and self.settings is not None
        outcomes = self.processor.outcomes
        if self.processor.failures:
            raise ExpectedError("Failed: " + " | ".join(self.processor.failures))
        if self.settings.generate_calibrations:
            missing = [
                o.describe()
                for name, o in outcomes.items()
                if name != "GAIN" and o.status != ProductStatus.CERTIFIED
            ]
            if missing:
                raise ExpectedError("Requested calibrations not certified: " + " | ".join(missing))
        failed = [o.describe() for o in outcomes.values() if o.status == ProductStatus.VERIFICATION_FAILED]
        if failed:
            self.log.warning("Verification found failures: %s", " | ".join(failed))

    async def cleanup(self) -> None:
        """Abort running jobs, log the summary and write the run record."""
        aborted: list[str] = []
        if self.ocps is not None:
            aborted = await self.ocps.abort_running()
        if self.processor is not None:
            await self.processor.cancel()
        for line in self.summary_lines(aborted):
            self.log.info("%s", line)
        try:
            self.run_record_path = await asyncio.to_thread(self.write_run_record, aborted)
            self.log.info("Run record: %s", self.run_record_path)
        except OSError as e:
            self.log.error("Could not write the run record: %s", e)
        if self.ocps is not None:
            await self.ocps.close()

    def summary_lines(self, aborted: typing.Sequence[str] = ()) -> list[str]:
        """The end-of-run summary: images, jobs, products, what was certified and what not."""
        lines = ["Summary of the run:"]
        for image_type, ids in self.taken.items():
            kept = self.kept.get(image_type, [])
            lines.append(f"  {image_type}: {len(ids)} taken {ids}; processed {kept}")
        if self.processor is not None:
            for outcome in self.processor.outcomes.values():
                lines.append(f"  {outcome.describe()}")
            if self.ocps is not None:
                for job_id, label in self.ocps.labels.items():
                    result = self.ocps.results.get(job_id)
                    status = (
                        result.describe() if result is not None else f"{label}: job {job_id} not finished"
                    )
                    lines.append(f"  job {status}")
        if aborted:
            lines.append(f"  aborted jobs: {', '.join(aborted)}")
        lines.append("  every exposure taken is ingested in the raw collection and can be reprocessed")
        return lines

    def run_record(self, aborted: typing.Sequence[str] = ()) -> dict[str, typing.Any]:
        """The run record as a JSON-compatible dict."""
        record: dict[str, typing.Any] = {
            "script": type(self).__name__,
            "index": self.salinfo.index,
            "state": self.state_name,
            "reason": str(self.state.reason),
            "config": {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in self._config.items()},
            "exposures_taken": self.taken,
            "exposures_processed": self.kept,
            "products": {},
            "jobs": {},
            "aborted_jobs": list(aborted),
            "elapsed": time.monotonic() - self._run_began if self._run_began else 0.0,
        }
        if self.processor is not None:
            record["products"] = {
                name: {
                    "status": o.status.value,
                    "reason": o.reason,
                    "jobs": o.jobs,
                    "collections": o.collections,
                    "certified_into": o.certified_into,
                    "validity": list(o.validity) if o.validity else None,
                    "verdict": o.verdict,
                }
                for name, o in self.processor.outcomes.items()
            }
            record["gain_table"] = self.processor.gain_table
        if self.ocps is not None:
            record["jobs"] = {
                job_id: (
                    self.ocps.results[job_id].record if job_id in self.ocps.results else {"label": label}
                )
                for job_id, label in self.ocps.labels.items()
            }
        return record

    def write_run_record(self, aborted: typing.Sequence[str] = ()) -> Path:
        """Write the run record as JSON; return its path."""
        folder = Path(os.environ.get(RUN_RECORD_DIR_ENV, "run_records"))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{type(self).__name__}_{self.salinfo.index}_{int(time.time())}.json"
        path.write_text(json.dumps(self.run_record(aborted), indent=2, default=str))
        return path
