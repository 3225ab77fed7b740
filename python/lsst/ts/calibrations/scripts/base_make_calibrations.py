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
   reason, note and the group ID; "Images taken: (...); type: BIAS" (the
   discards dropped); then, while the camera takes the next type, every
   detector of every image is awaited in the OODS (``imageInOODS`` matched
   by image name, ``statusCode`` checked, ``oods_timeout``) and that
   type's processing starts (`CalibrationProcessor`).
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
import datetime
import os
import time
import types
import typing
from pathlib import Path

from ..observatory.base_camera import BaseCamera
from ..observatory.remote_group import RemoteGroup
from ..sal.base import ExpectedError
from ..sal.base_script import BaseScript
from .calibration_plan import CalibrationPlan
from .calibration_processor import CalibrationProcessor
from .gain_report import GainReport
from .ocps_client import OcpsClient
from .product_outcome import ProductStatus
from .run_record import RunRecord

PLURALS = {"BIAS": "biases", "DARK": "darks", "FLAT": "flats"}

REPROCESS_SCHEMA: dict[str, typing.Any] = {
    "reprocess_exposures": {
        "description": (
            "Reprocess without retaking: exposure ids already in the repository per image type "
            "(keys bias, dark, flat; those of script_mode), e.g. {bias: [2022110400002, ...]}. "
            "No image is taken; n_* and exp_times_* come from these exposures."
        ),
        "type": "object",
        "properties": {
            kind: {
                "type": "array",
                "items": {"type": "integer", "minimum": 0},
                "minItems": 1,
                "uniqueItems": True,
            }
            for kind in ("bias", "dark", "flat")
        },
        "additionalProperties": False,
        "default": {},
    },
    "reprocess_run_record": {
        "description": (
            "Reprocess without retaking: path of the JSON run record of an earlier run; its "
            "processed exposures (discards dropped) are processed again. No image is taken."
        ),
        "type": "string",
        "default": "",
    },
}
"""Options of reprocessing (added to the schema by `add_reprocessing_options`)."""
"""Words of the "Taking N ..." checkpoints."""

RUN_RECORD_DIR_ENV = "TS_CALIBRATIONS_RUN_RECORDS"
"""Environment variable naming the folder of run records (default ``./run_records``)."""

FETCHABLE = ("certified", "verified", "verification failed", "measured")
"""Product states whose datasets are in the repository (`retrieval_lines`)."""

FINAL_STATES = {"ENDING": "DONE", "STOPPING": "STOPPED", "FAILING": "FAILED"}
"""The final state a run record written during cleanup names (cleanup is the last step)."""

TAI_MINUS_UTC = 37.0
"""TAI - UTC (s) since 2017."""

JOB_TIME = 300.0
"""Typical duration (s) of one OCPS job at the observatory (for ``metadata.duration``)."""


def _tai_now() -> str:
    """Now in TAI (UTC + 37 s), ISO with milliseconds."""
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(seconds=TAI_MINUS_UTC)
    return now.isoformat(timespec="milliseconds")


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
    plan : `CalibrationPlan` or `None`
        What the run does (set by ``configure``).
    taken : `dict` [`str`, `list` [`int`]]
        Exposure ids taken per image type, discards included.
    kept : `dict` [`str`, `list` [`int`]]
        Exposure ids processed per image type (discards dropped).
    processor : `CalibrationProcessor` or `None`
        The processing of the run (set by ``run``).
    run_record_path : `pathlib.Path` or `None`
        Where the run record was written.
    timings : `dict` [`str`, `float`]
        Seconds from the start of ``run`` to: "first_image" (the first
        image requested), "last_readout" (the last image read out and
        ingested), "processing_end" (the last job's result) and "end".
    """

    instrument_name: typing.ClassVar[str] = ""
    ocps_index: typing.ClassVar[int] = 0
    detector_ids: typing.ClassVar[tuple[int, ...]] = ()

    def __init__(self, index: int, descr: str) -> None:
        super().__init__(index=index, descr=descr)
        self.plan: CalibrationPlan | None = None
        self.camera: BaseCamera | None = None
        self.ocps_group: RemoteGroup | None = None
        self.ocps: OcpsClient | None = None
        self.processor: CalibrationProcessor | None = None
        self.filter_name: str | None = None
        self.taken: dict[str, list[int]] = {}
        self.kept: dict[str, list[int]] = {}
        self.run_record_path: Path | None = None
        self.reprocess: dict[str, list[int]] = {}
        self._ingests: list[asyncio.Task[None]] = []
        self._config: dict[str, typing.Any] = {}
        self._run_began = 0.0
        self.timings: dict[str, float] = {}
        self._started_tai = ""
        self._gains: dict[str, typing.Any] = {}

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
        """The gain table from the ``cpPtcExtract`` of each (exposure, detector) (`GainReport`)."""
        report = GainReport.from_extracts(extracts)
        self._gains = report.to_dict()
        return report.format()

    # BaseScript API.

    async def configure(self, config: types.SimpleNamespace) -> None:
        """Check the configuration, the repository and the filter; take nothing.

        Raises
        ------
        ExpectedError
            Naming the option and what would be right, for any refusal.
        """
        self._config = dict(vars(config))
        values = dict(self._config)
        explicit = set(self.explicit_config_keys)
        self.reprocess = await self._reprocessing(values, explicit)
        try:
            plan = CalibrationPlan.from_config(
                values, explicit_keys=frozenset(explicit), instrument=self.instrument_name
            )
        except ValueError as e:
            raise ExpectedError(str(e)) from e
        for note in plan.notes:
            self.log.info("%s", note)
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
        self.filter_name = await self.resolve_filter(plan.filter)
        problems = await asyncio.to_thread(self._check_repository, plan, self.filter_name)
        if problems:
            raise ExpectedError("; ".join(problems))
        self.plan = plan
        self.log.info("%s", plan.describe())

    @staticmethod
    def add_reprocessing_options(schema: dict[str, typing.Any]) -> dict[str, typing.Any]:
        """Add ``reprocess_exposures`` and ``reprocess_run_record`` to a schema (returned)."""
        schema.setdefault("properties", {}).update(REPROCESS_SCHEMA)
        return schema

    async def _reprocessing(self, values: dict[str, typing.Any], explicit: set[str]) -> dict[str, list[int]]:
        """Exposures to reprocess per image type ({} to take new images); adjusts the config.

        Removes the reprocessing options from ``values`` and ``explicit``;
        when reprocessing, sets ``n_*`` to the number of exposures given,
        ``n_discard_*`` to 0 and ``exp_times_*`` to their exposure times
        (read from the repository's exposure records).

        Raises
        ------
        ExpectedError
            If both options are given, the run record cannot be read, an
            image type of ``script_mode`` has no exposures, or an exposure
            is not in the repository or is of another type.
        """
        given = values.pop("reprocess_exposures", None) or {}
        record_path = values.pop("reprocess_run_record", "") or ""
        explicit -= set(REPROCESS_SCHEMA)
        if given and record_path:
            raise ExpectedError("reprocess_exposures and reprocess_run_record are both set: give one of them")
        if record_path:
            try:
                processed = (await asyncio.to_thread(RunRecord.read, record_path)).exposures_processed
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise ExpectedError(
                    f"reprocess_run_record={record_path!r} is not a readable run record "
                    f"(a JSON file with exposures_processed): {e}"
                ) from e
            given = {str(k).lower(): [int(i) for i in v] for k, v in processed.items() if v}
        if not given:
            return {}
        mode = str(values.get("script_mode", "BIAS_DARK_FLAT"))
        kinds = [kind for kind in ("bias", "dark", "flat") if kind.upper() in mode.split("_")]
        option = "reprocess_run_record" if record_path else "reprocess_exposures"
        absent = [kind for kind in kinds if not given.get(kind)]
        if absent:
            raise ExpectedError(
                f"{option} has no {', '.join(absent)} exposures, which script_mode={mode} processes: "
                f"give them or choose a script_mode of the image types given ({', '.join(sorted(given))})"
            )
        repo = str(values.get("repo", "/repo/LSSTComCam"))
        records = await asyncio.to_thread(
            self._exposure_records, repo, self.instrument_name, [i for k in kinds for i in given[k]]
        )
        exposures: dict[str, list[int]] = {}
        for kind in kinds:
            ids = list(given[kind])
            wrong = [
                f"{i} ({records[i][0] if i in records else 'not in the repository'})"
                for i in ids
                if i not in records or records[i][0] != kind
            ]
            if wrong:
                raise ExpectedError(f"{option}: {kind} exposure(s) {', '.join(wrong)} are not {kind} images")
            values[f"n_{kind}"] = len(ids)
            values[f"n_discard_{kind}"] = 0
            if kind != "bias":
                values[f"exp_times_{kind}"] = [records[i][1] for i in ids]
            explicit.update({f"n_{kind}", f"n_discard_{kind}"})
            exposures[kind.upper()] = ids
        self.log.info("Reprocessing exposures already in %s (no image taken): %s", repo, exposures)
        return exposures

    @staticmethod
    def _exposure_records(repo: str, instrument: str, ids: list[int]) -> dict[int, tuple[str, float]]:
        """(observation type, exposure time) of each exposure id found in the repository."""
        from ..repo.repository import open_repository

        butler = open_repository(repo)
        try:
            found: dict[int, tuple[str, float]] = {}
            for record in butler.registry.queryDimensionRecords(
                "exposure",
                where=f"instrument = '{instrument}' AND exposure IN ({', '.join(str(i) for i in ids)})",
            ):
                found[int(record.id)] = (str(record.observation_type).lower(), float(record.exposure_time))
            return found
        finally:
            butler.close()

    @staticmethod
    def _check_repository(plan: CalibrationPlan, filter_name: str | None) -> list[str]:
        from ..repo.repository import open_repository
        from .repository_checks import check_repository

        butler = open_repository(plan.repo)
        try:
            return list(check_repository(plan, butler, filter_name=filter_name))
        finally:
            butler.close()

    def estimate_duration(self) -> float:
        """Estimated duration (s) of the run: camera time plus the processing tail (`CalibrationPlan`)."""
        if self.plan is None:
            return 0.0
        read_out_time = self.camera.read_out_time if self.camera is not None else 2.0
        return self.plan.estimated_duration(read_out_time=read_out_time, job_time=JOB_TIME)

    def set_metadata(self, metadata: typing.Any) -> None:
        """Duration from the plan (camera time + the processing of the last image type); filter."""
        metadata.duration = self.estimate_duration()
        if self.filter_name:
            metadata.filters = self.filter_name

    async def run(self) -> None:
        """Take the images and process them (see the module documentation)."""
        plan = self.plan
        assert plan is not None and self.camera is not None and self.ocps_group is not None
        assert self.ocps is not None
        self._run_began = time.monotonic()
        self._started_tai = _tai_now()
        self.timings = {}
        if self.reprocess:
            await self.run_reprocessing()
            return
        await self.checkpoint("Setup instrument.")
        await self.camera.assert_all_enabled("The camera must be ENABLED to take calibrations.")
        await self.ocps_group.assert_all_enabled("The OCPS must be ENABLED to process calibrations.")
        if self.filter_name is not None:
            await self.camera.setup_instrument(filter=self.filter_name)
        self.processor = CalibrationProcessor(
            plan,
            self.ocps,
            self.log,
            self.instrument_name,
            judge=self.judge_verification,
            format_gains=self.format_gains,
        )
        for sequence in plan.sequences:
            image_type = sequence.image_type
            times = sequence.exposure_times
            await self.checkpoint(f"Taking {len(times)} {PLURALS[image_type]}.")
            exposure_ids = await self.take_images(image_type, times)
            kept = exposure_ids[sequence.n_discard :]
            self.kept[image_type] = kept
            await self.checkpoint(f"Images taken: {tuple(kept)}; type: {image_type}")
            self._ingests.append(
                asyncio.create_task(self._ingest_then_process(image_type, exposure_ids, kept))
            )
        self._mark("last_readout")
        await self.checkpoint("Data-taking part completed.")
        await asyncio.gather(*self._ingests)
        await self.processor.wait()
        self._mark("processing_end")
        self.judge_run()

    async def _ingest_then_process(self, image_type: str, exposure_ids: list[int], kept: list[int]) -> None:
        """Wait until the OODS has every detector of the images, then start their processing.

        Runs while the camera takes the next image type.

        Raises
        ------
        ExpectedError
            If the OODS did not ingest them (the message says which and why).
        """
        assert self.processor is not None
        try:
            await self.wait_for_ingest(exposure_ids)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            raise ExpectedError(f"OODS ingest of the {image_type} images {exposure_ids} failed: {e}") from e
        self.log.info("%s: %d image(s) in the OODS; processing starts", image_type, len(exposure_ids))
        self.processor.start(image_type, kept)

    def _mark(self, name: str) -> None:
        if self._run_began and name not in self.timings:
            self.timings[name] = time.monotonic() - self._run_began

    async def checkpoint(self, name: str = "") -> None:
        """Log the checkpoint (progress of the run), then pause or stop there if asked."""
        if name:
            self.log.info("Checkpoint: %s", name)
        await super().checkpoint(name)

    async def run_reprocessing(self) -> None:
        """Process exposures already in the repository (``reprocess_*`` options); take nothing."""
        plan = self.plan
        assert plan is not None and self.ocps_group is not None and self.ocps is not None
        await self.checkpoint("Reprocessing exposures already in the repository.")
        await self.ocps_group.assert_all_enabled("The OCPS must be ENABLED to process calibrations.")
        self.processor = CalibrationProcessor(
            plan,
            self.ocps,
            self.log,
            self.instrument_name,
            judge=self.judge_verification,
            format_gains=self.format_gains,
        )
        for sequence in plan.sequences:
            kept = self.reprocess[sequence.image_type]
            self.kept[sequence.image_type] = kept
            self.processor.start(sequence.image_type, kept)
        await self.processor.wait()
        self.judge_run()

    async def take_images(self, image_type: str, times: typing.Sequence[float]) -> list[int]:
        """Take the images of one type one at a time (the OODS wait is `_ingest_then_process`).

        A stop while an image is being taken lets that image finish (it is
        then listed with the others) before the stop takes effect.
        """
        plan = self.plan
        assert plan is not None and self.camera is not None
        taken = self.taken.setdefault(image_type, [])
        group_id = self.group_id or None
        self._mark("first_image")
        for i, exptime in enumerate(times):
            if i > 0 and plan.wait_between_exposures > 0:
                await asyncio.sleep(plan.wait_between_exposures)
            task = asyncio.create_task(
                self.camera.take_imgtype(
                    image_type,
                    exptime,
                    1,
                    group_id=group_id,
                    reason=plan.reason or None,
                    program=plan.program or None,
                    note=plan.note or None,
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
            done = sum(len(ids) for ids in self.taken.values())
            planned = sum(sequence.total for sequence in plan.sequences)
            self.log.info(
                "%s %d of %d taken: exposure %s (%d of %d images planned)",
                image_type,
                i + 1,
                len(times),
                exposure_ids,
                done,
                planned,
            )
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
        assert self.processor is not None and self.plan is not None
        outcomes = self.processor.outcomes
        if self.processor.failures:
            raise ExpectedError("Failed: " + " | ".join(self.processor.failures))
        certifying = [step.name for step in self.plan.steps if step.certify]
        if certifying:
            missing = [
                outcomes[name].describe()
                for name in certifying
                if outcomes[name].status != ProductStatus.CERTIFIED
            ]
            if missing:
                raise ExpectedError("Requested calibrations not certified: " + " | ".join(missing))
        failed = [o.describe() for o in outcomes.values() if o.status == ProductStatus.VERIFICATION_FAILED]
        if failed:
            self.log.warning("Verification found failures: %s", " | ".join(failed))

    async def cleanup(self) -> None:
        """Abort running jobs, log the summary and write the run record."""
        self._mark("end")
        for task in self._ingests:
            task.cancel()
        await asyncio.gather(*self._ingests, return_exceptions=True)
        aborted: list[str] = []
        if self.ocps is not None:
            aborted = await self.ocps.abort_running()
        if self.processor is not None:
            await self.processor.cancel()
        for line in self.summary_lines(aborted):
            self.log.info("%s", line)
        if self.plan is not None and self.processor is not None:
            record = self.run_record(aborted).to_dict()
            lines = self.retrieval_lines(record, self.plan.repo, self.instrument_name)
            self.log.info("Fetch the results with:\n    %s", "\n    ".join(lines))
        try:
            self.run_record_path = await asyncio.to_thread(self.write_run_record, aborted)
            self.log.info("Run record: %s", self.run_record_path)
        except OSError as e:
            self.log.error("Could not write the run record: %s", e)
        if self.ocps is not None:
            await self.ocps.close()
        produced = any(self.taken.values()) or bool(self.reprocess)
        if self.plan is not None and self.run_record_path is not None and produced:
            # The report of every run that produced anything, failed and stopped runs
            # included; it is announced with largeFileObjectAvailable. Imported here:
            # matplotlib is not needed to configure the script or print its schema.
            from ..report.publish_report import publish_report

            await publish_report(
                self,
                repo=self.plan.repo,
                run_record=self.run_record_path,
                out_dir=self.run_record_path.with_suffix(""),
            )

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

    def run_record(self, aborted: typing.Sequence[str] = ()) -> RunRecord:
        """The run record (`RunRecord`): configuration, plan, exposures, products, jobs, timings."""
        plan = self.plan
        record = RunRecord(
            script=type(self).__name__,
            index=self.salinfo.index,
            state=FINAL_STATES.get(self.state_name, self.state_name),
            reason=str(self.state.reason),
            started=self._started_tai,
            ended=_tai_now(),
            config=dict(self._config),
            explicit_keys=sorted(self.explicit_config_keys),
            plan=plan.to_dict() if plan is not None else {},
            exposures_taken={k: list(v) for k, v in self.taken.items()},
            exposures_processed={k: list(v) for k, v in self.kept.items()},
            aborted_jobs=list(aborted),
            software_versions=RunRecord.software_versions_now(),
        )
        timings = dict(self.timings)
        timings["elapsed"] = time.monotonic() - self._run_began if self._run_began else 0.0
        if "first_image" in timings and "last_readout" in timings:
            timings["camera_busy"] = timings["last_readout"] - timings["first_image"]
        record.timings = timings
        if plan is not None:
            record.collections = {"raw": f"{self.instrument_name}/raw/all", "calib": plan.calib_collection}
        if self.processor is not None:
            for name, o in self.processor.outcomes.items():
                record.products[name] = {
                    "status": o.status.value,
                    "reason": o.reason,
                    "jobs": dict(o.jobs),
                    "collections": dict(o.collections),
                    "certified_into": o.certified_into,
                    "validity": list(o.validity) if o.validity else None,
                    "verdict": o.verdict,
                }
                if o.certified_into and o.validity and plan is not None:
                    record.certifications.append(
                        {
                            "dataset_type": plan.step(name).dataset_type,
                            "collection": o.certified_into,
                            "begin": o.validity[0],
                            "end": o.validity[1],
                            "input_collection": o.collections.get("generate", ""),
                            "detectors": list(plan.detectors),
                        }
                    )
            record.gain_table = self.processor.gain_table
            record.gains = dict(self._gains)
        if self.ocps is not None:
            record.jobs = {
                job_id: (
                    self.ocps.results[job_id].record if job_id in self.ocps.results else {"label": label}
                )
                for job_id, label in self.ocps.labels.items()
            }
        return record

    @staticmethod
    def retrieval_lines(
        record: dict[str, typing.Any], repo: str, instrument: str = "LSSTComCam"
    ) -> list[str]:
        """Python lines that fetch the results of a run, with its real collections.

        Parameters
        ----------
        record : `dict`
            A run record (`run_record`).
        repo : `str`
            Repository path or alias to write in the lines.
        instrument : `str`, optional
            Instrument of the data IDs.

        Returns
        -------
        lines : `list` [`str`]
            The procedure document's retrieval code for what this run made:
            certified calibrations from ``calib_collection``, verification
            statistics and processed images from each verification job's
            collection, gains and noise from the gain job's collection.
        """
        products = record.get("products", {})
        processed = record.get("exposures_processed", {})
        detector = (record.get("plan", {}).get("detectors") or [0])[0]
        certified = sorted({p["certified_into"] for p in products.values() if p.get("certified_into")})
        lines = [
            "import lsst.daf.butler as dB",
            f"butler = dB.Butler({repo!r}, collections={certified + [f'{instrument}/calib']!r})",
        ]
        for name, product in products.items():
            if product.get("status") not in FETCHABLE:
                continue
            kind = name.lower()
            first = {
                "BIAS": processed.get("BIAS"),
                "DARK": processed.get("DARK"),
                "FLAT": processed.get("FLAT"),
                "DEFECTS": processed.get("FLAT"),
                "PTC": processed.get("FLAT"),
                "GAIN": processed.get("FLAT"),
            }.get(name) or [None]
            exposure = first[0]
            data_id = f"detector={detector}, exposure={exposure}, instrument={instrument!r}"
            if product.get("certified_into") and exposure is not None:
                lines.append(f"{kind} = butler.get({kind!r}, {data_id})")
            verify = product.get("collections", {}).get("verify")
            if verify and exposure is not None:
                title = name.title()
                lines += [
                    f"runStats = butler.get('verify{title}Stats', instrument={instrument!r}, "
                    f"collections=[{verify!r}])",
                    f"runDetStats = butler.get('verify{title}DetStats', {data_id}, collections=[{verify!r}])",
                    f"imProc = butler.get('verify{title}Proc', {data_id}, collections=[{verify!r}])",
                    "calibArray = imProc.getImage().getArray()",
                ]
            generated = product.get("collections", {}).get("generate")
            if name in ("GAIN", "PTC") and generated and exposure is not None:
                lines += [
                    f"cpCov = butler.get('cpPtcExtract', {data_id}, collections=[{generated!r}])",
                    "gain_values, noise_values = cpCov.gain, cpCov.noise",
                ]
        return lines

    def write_run_record(self, aborted: typing.Sequence[str] = ()) -> Path:
        """Write the run record as JSON; return its path."""
        folder = Path(os.environ.get(RUN_RECORD_DIR_ENV, "run_records"))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{type(self).__name__}_{self.salinfo.index}_{int(time.time())}.json"
        return self.run_record(aborted).write(path)
