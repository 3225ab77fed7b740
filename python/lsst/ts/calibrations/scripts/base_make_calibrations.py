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
   discards dropped). From its readout on, every detector of each image is
   awaited in the OODS (``imageInOODS`` matched by image name,
   ``statusCode`` checked, ``oods_timeout`` counted from that image's
   readout); an image whose ingest failed, or that never reached the OODS,
   is left out of processing and named (`CalibrationProcessor.leave_out`).
   Once every image of the type is in the OODS or left out, while the
   camera takes the next type, that type's processing starts with the rest
   (`CalibrationProcessor`). Before each image, the script checks that
   some product can still use it (`CalibrationProcessor.pointless`): when
   none can (the biases all failed and the darks need the new bias), data
   taking stops at once, with a WARNING saying why.
3. "Data-taking part completed."; the processing awaited.
4. The summary logged (facts only: what the repository holds, and why
   each product not certified or verified is so), the run's CHAINED
   collection defined, the run record written beside the repository
   (``<repo>/run_records`` or ``$TS_CALIBRATIONS_RUN_RECORDS``) with the
   Python lines that fetch the results, and the run report built (in a
   process of its own) and announced with ``largeFileObjectAvailable``
   (also when stopped or failed).

The remotes (the camera group of `camera_class` and the OCPS of
`ocps_index`) are made in the constructor, as salobj scripts do, so the
``description`` event names them. Everything the script reads from or
writes to the butler repository goes through one
`~lsst.ts.calibrations.repo.calibration_repository.CalibrationRepository`
per run, called in threads; this package never imports the butler.

Final state: FAILED if a step failed (the reason names the step and the
job, or the exposures left out that leave too few to make the product) or
a generation run did not certify every product it was asked for; DONE with
a WARNING when external verification finds failures, and DONE with a
WARNING naming each exposure left out and why when the rest made every
product (also in the summary and the run record's
``exposures_left_out``). ``stop``
(or SIGTERM) ends camera work after the image being taken, aborts the OCPS
jobs still running and ends STOPPED. Every exposure taken stays ingested
and is listed in the log and the record with the jobs and collections, so
processing can be redone without retaking (`reprocess`).
"""

from __future__ import annotations

__all__ = ["BaseMakeCalibrations"]

import abc
import asyncio
import collections.abc
import datetime
import time
import types
import typing
from pathlib import Path

from ..observatory.base_camera import BaseCamera
from ..observatory.remote_group import RemoteGroup
from ..repo.image_type import ImageType
from ..repo.verification_verdict import VerificationVerdict, judge_verification
from ..sal.base import ExpectedError, current_tai
from ..sal.base_script import BaseScript
from ..sal.config_problem import ConfigProblem
from .calibration_plan import CalibrationPlan
from .calibration_processor import CalibrationProcessor
from .certification_record import CertificationRecord
from .ocps_client import OcpsClient
from .plan_rules import resolve_filter
from .product_outcome import ProductOutcome, ProductStatus
from .publish_report import publish_report
from .repository_checks import check_repository
from .run_record import RunRecord

if typing.TYPE_CHECKING:
    from ..repo.calibration_repository import CalibrationRepository

REPROCESS_SCHEMA: dict[str, typing.Any] = {
    "reprocess_exposures": {
        "description": (
            "Reprocess without retaking: exposure ids already in the repository per image type "
            "(keys bias, dark, flat; those of script_mode), e.g. {bias: [2022110400002, ...]}. "
            "No image is taken; n_* and exp_times_* come from these exposures."
        ),
        "type": "object",
        "properties": {
            image_type.observation_type: {
                "type": "array",
                "items": {"type": "integer", "minimum": 0},
                "minItems": 1,
                "uniqueItems": True,
            }
            for image_type in ImageType.calibration_types()
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

RUN_COLLECTION_PREFIX = "u/ocps/runs"
"""Parent of each run's CHAINED collection (``<prefix>/<record name>``)."""

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
    camera : `BaseCamera`
        The camera group (`make_camera`), made with the script.
    ocps_group : `RemoteGroup`
        The OCPS of `ocps_index`, made with the script.
    ocps : `OcpsClient`
        Client of the OCPS.
    repository : `CalibrationRepository` or `None`
        The run's butler repository (set by ``configure``).
    taken : `dict` [`str`, `list` [`int`]]
        Exposure ids taken per image type, discards included.
    kept : `dict` [`str`, `list` [`int`]]
        Exposure ids kept per image type (discards dropped; those left out
        of processing included: see `CalibrationProcessor.left_out`).
    not_taken : `dict` [`str`, `str`]
        Image types whose images were not all taken because no product
        could use them any more, and why.
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
    camera_class: typing.ClassVar[collections.abc.Callable[..., BaseCamera]]
    """The camera control class (e.g. `ComCam`), made on the script's domain with its log."""
    incremental_processing: bool = True
    """Process each image type's exposures as they land (per-exposure jobs, then a run-level
    job); False: one job per pipeline once all are in (`CalibrationProcessor`)."""

    def __init__(self, index: int, descr: str) -> None:
        super().__init__(index=index, descr=descr)
        self.plan: CalibrationPlan | None = None
        self.camera: BaseCamera = self.make_camera()
        self.ocps_group = RemoteGroup([f"OCPS:{self.ocps_index}"], domain=self.domain, log=self.log)
        self.ocps = OcpsClient(
            getattr(self.ocps_group.rem, f"ocps_{self.ocps_index}"), self.log, instrument=self.instrument_name
        )
        self.repository: CalibrationRepository | None = None
        self.processor: CalibrationProcessor | None = None
        self.filter_name: str | None = None
        self.taken: dict[str, list[int]] = {}
        self.kept: dict[str, list[int]] = {}
        self.run_record_path: Path | None = None
        self.reprocess: dict[ImageType, list[int]] = {}
        self.not_taken: dict[str, str] = {}
        self._ingests: list[asyncio.Task[None]] = []
        self._oods_waits: dict[int, asyncio.Task[None]] = {}
        self._config: dict[str, typing.Any] = {}
        self._run_began = 0.0
        self.timings: dict[str, float] = {}
        self._started_tai = ""
        self._record_name = ""

    # Subclass API.

    def make_camera(self) -> BaseCamera:
        """Make the camera group (`camera_class`) on this script's domain."""
        return self.camera_class(domain=self.domain, log=self.log)

    async def resolve_filter(self, value: str | int | None) -> str | None:
        """Check the ``filter`` option against the camera's available filters; return its name.

        The filters are the camera's ``get_available_instrument_setup()``
        (``availableFilters.filterNames``, in order); `plan_rules.resolve_filter`
        picks the name. A camera whose setups are not a list of filter
        names overrides this.

        Returns
        -------
        name : `str` or `None`
            The physical filter; `None` for ``filter: null`` (keep it).

        Raises
        ------
        ExpectedError
            If the camera does not tell its filters, or the filter is not
            among them (the message lists those that are, with indices).
        """
        if value is None:
            return None
        try:
            available = await self.camera.get_available_instrument_setup()
        except RuntimeError as e:
            raise ExpectedError(f"filter={value!r} cannot be checked: {e}") from e
        try:
            return resolve_filter(value, available)
        except ValueError as e:
            raise ExpectedError(str(e)) from e

    async def current_filter(self) -> str | None:
        """The filter in place (that of the flats when ``filter`` is null), or None if unknown.

        The base class does not know it; a subclass whose camera tells it
        overrides this, so the repository checks look for flats of that
        filter.
        """
        return None

    def instrument_setup(self) -> dict[str, typing.Any]:
        """Keywords of ``camera.setup_instrument`` for the run: the resolved filter, if any.

        LATISS's script adds the grating.
        """
        return {"filter": self.filter_name} if self.filter_name is not None else {}

    def judge_verification(
        self, stats: collections.abc.Mapping[typing.Any, typing.Any], threshold: int, n_detectors: int
    ) -> VerificationVerdict:
        """Verdict of a verification run (`judge_verification`; a subclass may apply its own rule)."""
        return judge_verification(stats, threshold, n_detectors)

    # BaseScript API.

    async def configure(self, config: types.SimpleNamespace) -> None:
        """Check the configuration, the repository and the filter; take nothing (`check_and_configure`).

        Raises
        ------
        ExpectedError
            Listing every problem, each naming the option and what would be right.
        """
        await self.check_and_configure(config, ())

    async def check_and_configure(
        self, config: types.SimpleNamespace, problems: typing.Sequence[ConfigProblem]
    ) -> None:
        """Plan the run from the validated configuration; refuse it with every problem at once.

        ``BaseScript.do_configure`` validated ``config`` against
        `get_schema` and found ``problems`` in its text and schema; this
        adds, skipping the options those name, the problems of the
        reprocessing options, of the plan's rules (`CalibrationPlan.build`),
        of the filter (against the camera's ``availableFilters``) and of the
        repository (`repository_checks.check_repository`), and refuses the
        configuration once if there is any. The plan's notes are logged at
        INFO, its warnings at WARNING.

        Raises
        ------
        ExpectedError
            Listing every problem (`ConfigProblem.describe_all`).
        """
        self._config = dict(vars(config))
        problems = list(problems)
        skip = ConfigProblem.options(problems)
        reprocess, more = await self._reprocessing(self._config, skip)
        problems += more
        plan, more = CalibrationPlan.build(
            config,
            explicit_keys=self.explicit_config_keys,
            instrument=self.instrument_name,
            detector_ids=self.detector_ids,
            reprocess=reprocess,
            skip=skip,
        )
        problems += more
        if plan is not None:
            for note in plan.notes:
                self.log.info("%s", note)
            for warning in plan.warnings:
                self.log.warning("%s", warning)
        await asyncio.gather(self.camera.start_task, self.ocps_group.start_task)
        self.filter_name = None
        if plan is not None and "filter" not in ConfigProblem.options(problems):
            try:
                self.filter_name = await self.resolve_filter(plan.filter)
            except ExpectedError as e:
                problems.append(ConfigProblem(str(e), option="filter"))
        if plan is not None and "repo" not in skip:
            when = self.images_time()
            flats_filter = self.filter_name
            if flats_filter is None and ImageType.FLAT in plan.image_types:
                flats_filter = await self.current_filter()
            try:
                found = await asyncio.to_thread(self._check_repository, plan, flats_filter, when)
            except RuntimeError as e:  # RepositoryError: not a repository (its module imports the butler)
                found = [f"repo={plan.repo!r}: {e}"]
            problems += [ConfigProblem(text, option="repo") for text in found]
        if problems or plan is None:
            raise ExpectedError(ConfigProblem.describe_all(problems))
        self.plan = plan
        self.reprocess = {image_type: list(ids) for image_type, ids in plan.reprocess.items()}
        if self.reprocess:
            self.log.info(
                "Reprocessing exposures already in %s (no image taken): %s", plan.repo, self.reprocess
            )
        self.log.info("%s", plan.describe())

    @staticmethod
    def add_reprocessing_options(schema: dict[str, typing.Any]) -> dict[str, typing.Any]:
        """Add ``reprocess_exposures`` and ``reprocess_run_record`` to a schema (returned)."""
        schema.setdefault("properties", {}).update(REPROCESS_SCHEMA)
        return schema

    async def _reprocessing(
        self, values: typing.Mapping[str, typing.Any], skip: typing.Collection[str]
    ) -> tuple[dict[ImageType, list[tuple[int, float]]] | None, list[ConfigProblem]]:
        """The exposures to reprocess, an input of the plan; the configuration is not changed.

        Parameters
        ----------
        values : `~collections.abc.Mapping`
            The validated configuration.
        skip : `~collections.abc.Collection` [`str`]
            Options already refused (not checked again).

        Returns
        -------
        exposures : `dict` [`ImageType`, `list` [`tuple` [`int`, `float`]]] or `None`
            ``(exposure id, exposure time)`` per image type of
            ``script_mode``, the times read from the repository's exposure
            records; `None` to take new images (or if refused).
        problems : `list` [`ConfigProblem`]
            Both options given; a run record that cannot be read; an image
            type of ``script_mode`` without exposures; an exposure not in
            the repository or of another type.
        """
        names = tuple(REPROCESS_SCHEMA)
        if any(name in skip for name in names):
            return None, []
        given = values.get("reprocess_exposures") or {}
        record_path = values.get("reprocess_run_record") or ""
        if given and record_path:
            problem = ConfigProblem(
                "reprocess_exposures and reprocess_run_record are both set: give one of them",
                option="reprocess_run_record",
            )
            return None, [problem]
        option = "reprocess_run_record" if record_path else "reprocess_exposures"
        if record_path:
            try:
                processed = (await asyncio.to_thread(RunRecord.read, record_path)).exposures_processed
            except (OSError, ValueError, KeyError, TypeError) as e:
                problem = ConfigProblem(
                    f"reprocess_run_record={record_path!r} is not a readable run record "
                    f"(a JSON file with exposures_processed): {e}",
                    option=option,
                )
                return None, [problem]
            given = {str(k).lower(): [int(i) for i in v] for k, v in processed.items() if v}
        if not given:
            return None, []
        mode = str(values["script_mode"])
        image_types = [t for t in ImageType.calibration_types() if t.value in mode.split("_")]
        absent = [t.observation_type for t in image_types if not given.get(t.observation_type)]
        if absent:
            problem = ConfigProblem(
                f"{option} has no {', '.join(absent)} exposures, which script_mode={mode} processes: "
                f"give them or choose a script_mode of the image types given ({', '.join(sorted(given))})",
                option=option,
            )
            return None, [problem]
        repo = str(values["repo"])
        wanted = [i for t in image_types for i in given[t.observation_type]]
        try:
            records = await asyncio.to_thread(self._exposure_records, repo, self.instrument_name, wanted)
        except RuntimeError as e:  # RepositoryError
            return None, [
                ConfigProblem(f"{option}: the exposures cannot be read from {repo!r}: {e}", option=option)
            ]
        exposures: dict[ImageType, list[tuple[int, float]]] = {}
        problems = []
        for image_type in image_types:
            kind = image_type.observation_type
            ids = list(given[kind])
            wrong = [
                f"{i} ({records[i][0] if i in records else 'not in the repository'})"
                for i in ids
                if i not in records or records[i][0] != kind
            ]
            if wrong:
                problems.append(
                    ConfigProblem(
                        f"{option}: {kind} exposure(s) {', '.join(wrong)} are not {kind} images",
                        option=option,
                    )
                )
            exposures[image_type] = [(i, records[i][1] if i in records else 0.0) for i in ids]
        return (None if problems else exposures), problems

    def open_repository(self, repo: str) -> CalibrationRepository:
        """The run's repository facade on ``repo`` (made once; another ``repo`` replaces it).

        Blocking when it replaces one (the old butler is closed): call it
        in a thread.
        """
        # Imported here only: printing the schema (``--schema``) never loads the butler.
        from ..repo.calibration_repository import CalibrationRepository

        if self.repository is not None and self.repository.repo != repo:
            self.repository.close()
            self.repository = None
        if self.repository is None:
            self.repository = CalibrationRepository(repo, self.instrument_name)
        return self.repository

    def _exposure_records(self, repo: str, instrument: str, ids: list[int]) -> dict[int, tuple[str, float]]:
        """(observation type, exposure time) of each exposure id found in the repository (blocking)."""
        repository = self.open_repository(repo)
        assert repository.instrument == instrument
        return repository.exposure_records(ids)

    def _check_repository(self, plan: CalibrationPlan, filter_name: str | None, when: str) -> list[str]:
        """Problems of the repository for the plan (`check_repository`; blocking).

        Reference calibrations must be valid at ``when`` (ISO, TAI): the time
        of the images to be taken (`images_time`).
        """
        return check_repository(plan, self.open_repository(plan.repo), filter_name=filter_name, when=when)

    def images_time(self) -> str:
        """When the images of the run will be taken, by the camera's clock (ISO, TAI).

        The camera's latest timestamp (``timestampTransition`` of
        ``ccsCommandState``, ``timestampEndOfReadout`` of ``endReadout``)
        advanced by the time since it was received; now if the camera has
        reported neither. At the observatory this is now; a simulated
        camera runs on its own clock.
        """
        camera = self.camera.camera
        now = current_tai()
        stamps = []
        for topic, field in (
            (camera.evt_ccsCommandState, "timestampTransition"),
            (camera.evt_endReadout, "timestampEndOfReadout"),
        ):
            data = topic.get()
            if data is not None and float(getattr(data, field)) > 0:
                stamps.append((float(data.private_rcvStamp), float(getattr(data, field))))
        tai = now
        if stamps:
            received, stamp = max(stamps)
            tai = stamp + max(0.0, now - received)
        moment = datetime.datetime.fromtimestamp(tai, datetime.UTC).replace(tzinfo=None)
        return moment.isoformat(timespec="seconds")

    def estimate_duration(self) -> float:
        """Estimated duration (s) of the run: camera time plus the processing tail (`CalibrationPlan`)."""
        if self.plan is None:
            return 0.0
        read_out_time = self.camera.read_out_time
        return self.plan.estimated_duration(read_out_time=read_out_time, job_time=JOB_TIME)

    def set_metadata(self, metadata: typing.Any) -> None:
        """Duration from the plan (camera time + the processing of the last image type); filter."""
        metadata.duration = self.estimate_duration()
        if self.filter_name:
            metadata.filters = self.filter_name

    async def run(self) -> None:
        """Take the images and process them (see the module documentation)."""
        plan = self.plan
        assert plan is not None
        self._run_began = time.monotonic()
        self._started_tai = _tai_now()
        self.timings = {}
        if self.reprocess:
            await self.run_reprocessing()
            return
        await self.checkpoint("Setup instrument.")
        await self.camera.assert_all_enabled("The camera must be ENABLED to take calibrations.")
        await self.ocps_group.assert_all_enabled("The OCPS must be ENABLED to process calibrations.")
        setup = self.instrument_setup()
        if setup:
            await self.camera.setup_instrument(**setup)
        self.processor = self.make_processor(plan)
        for sequence in plan.sequences:
            image_type = sequence.image_type
            times = sequence.exposure_times
            why = self.processor.pointless(image_type)
            if why:
                self._stop_taking(image_type, len(times), why)
                continue
            await self.checkpoint(f"Taking {len(times)} {image_type.plural}.")
            exposure_ids = await self.take_images(image_type, times, n_discard=sequence.n_discard)
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
        self.processor.block_unstarted()
        self._mark("processing_end")
        self.judge_run()

    def _stop_taking(self, image_type: ImageType, count: int, why: str) -> None:
        """Record and say (WARNING) that ``count`` images of a type are not taken, and why."""
        self.not_taken[image_type] = why
        self.log.warning(
            "Not taking the %s %s: no product can use them any more: %s", count, image_type.plural, why
        )

    def make_processor(self, plan: CalibrationPlan) -> CalibrationProcessor:
        """The processing of the run, on the run's repository."""
        return CalibrationProcessor(
            plan,
            self.ocps,
            self.log,
            self.open_repository(plan.repo),
            judge=self.judge_verification,
            incremental=self.incremental_processing,
        )

    async def _ingest_then_process(self, image_type: str, exposure_ids: list[int], kept: list[int]) -> None:
        """Once every image is in the OODS or left out (`_wait_for_one`), start the processing of the rest."""
        assert self.processor is not None
        waits = [self._oods_waits[e] for e in exposure_ids if e in self._oods_waits]
        await self.processor.start_when_in(image_type, waits, len(exposure_ids), kept)

    async def _wait_for_one(self, image_type: str, exposure_id: int, kept: bool) -> None:
        """Wait for one image in the OODS (`wait_for_ingest`); leave it out if it never gets there.

        ``oods_timeout`` counts from the image's readout and again from each
        ``imageInOODS`` the OODS writes (`BaseCamera.wait_for_oods`), so a
        busy OODS that is still ingesting is waited for. A discarded image
        that is not ingested is only reported (it is not processed anyway).
        """
        assert self.processor is not None
        try:
            await self.wait_for_ingest([exposure_id])
        except asyncio.CancelledError:
            raise
        except Exception as e:
            if kept:
                self.processor.leave_out(image_type, exposure_id, f"not ingested: {e}")
            else:
                self.log.warning("Discarded %s exposure %s not ingested: %s", image_type, exposure_id, e)
            return
        if kept:
            self.processor.arrived(image_type, exposure_id)

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
        assert plan is not None
        await self.checkpoint("Reprocessing exposures already in the repository.")
        await self.ocps_group.assert_all_enabled("The OCPS must be ENABLED to process calibrations.")
        self.processor = self.make_processor(plan)
        for image_type, ids in plan.reprocess.items():
            kept = list(ids)
            self.kept[image_type] = kept
            self.processor.start(image_type, kept)
        await self.processor.wait()
        self.judge_run()

    async def take_images(
        self, image_type: str, times: typing.Sequence[float], n_discard: int = 0
    ) -> list[int]:
        """Take the images of one type one at a time; return their exposure ids.

        The OODS wait of each image (`_wait_for_one`) starts as it is read
        out; the first ``n_discard`` are discards. Taking stops early, with
        a WARNING, as soon as no product can use these images any more
        (`CalibrationProcessor.pointless`). A stop while an image is being
        taken lets that image finish (it is then listed with the others)
        before the stop takes effect.
        """
        plan = self.plan
        assert plan is not None
        taken = self.taken.setdefault(image_type, [])
        group_id = self.group_id or None
        self._mark("first_image")
        first = len(taken)
        for i, exptime in enumerate(times):
            why = self.processor.pointless(image_type) if self.processor is not None and i > 0 else ""
            if why:
                self._stop_taking(ImageType[str(image_type)], len(times) - i, why)
                break
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
                        finished = await task
                        taken += finished
                        for exposure_id in finished:
                            self._watch_ingest(image_type, exposure_id, kept=i >= n_discard)
                    except Exception as e:
                        self.log.error("The %s image being taken when stopped failed: %s", image_type, e)
                raise
            taken += exposure_ids
            for exposure_id in exposure_ids:
                self._watch_ingest(image_type, exposure_id, kept=i >= n_discard)
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
        return taken[first:]

    def _watch_ingest(self, image_type: str, exposure_id: int, kept: bool) -> None:
        """Start the OODS wait of an image just read out (`_wait_for_one`)."""
        if self.processor is None or exposure_id in self._oods_waits:
            return
        if kept:
            self.processor.left_out.add_kept(image_type, exposure_id)
        self._oods_waits[exposure_id] = asyncio.create_task(
            self._wait_for_one(image_type, exposure_id, kept), name=f"OODS wait {exposure_id}"
        )

    async def wait_for_ingest(self, exposure_ids: list[int]) -> None:
        """Wait for ``imageInOODS`` of every detector of the exposures (``oods_timeout``)."""
        assert self.plan is not None
        await self.camera.wait_for_oods(
            exposure_ids, detectors=list(self.plan.detectors), timeout=self.plan.oods_timeout
        )

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
        left_out = self.processor.left_out.describe()
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
        if left_out:
            self.log.warning(
                "Left out of processing (the products were made from the rest): %s", " | ".join(left_out)
            )

    async def cleanup(self) -> None:
        """Abort running jobs; log the summary; define the run collection; write the record; report."""
        self._mark("end")
        waits = [*self._ingests, *self._oods_waits.values()]
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
        aborted = await self.ocps.abort_running()
        if self.processor is not None:
            await self.processor.cancel()
        self._record_name = f"{type(self).__name__}_{self.salinfo.index}_{int(time.time())}"
        record = self.run_record(aborted)
        repository = self.repository if self.plan is not None else None
        index_line = ""
        ingest_known = False
        if repository is not None:
            try:
                record.exposures_ingested = await asyncio.to_thread(self._ingested, repository)
                ingest_known = True
                record.collections["run"] = await asyncio.to_thread(
                    self._define_run_collection, repository, record
                )
                index_line = await asyncio.to_thread(repository.index_line)
            except Exception as e:
                self.log.error("Could not read the repository at the end of the run: %s", e)
        if self.plan is not None and self.processor is not None:
            record.drift = await self._check_drift(record)
        for line in self.summary_lines(record, ingest_known=ingest_known):
            self.log.info("%s", line)
        if self.plan is not None and self.processor is not None:
            lines = record.retrieval_lines(self.plan.repo, self.instrument_name, index_line)
            self.log.info("Fetch the results with:\n    %s", "\n    ".join(lines))
        try:
            self.run_record_path = await asyncio.to_thread(self.write_run_record, record)
            self.log.info("Run record: %s", self.run_record_path)
        except (OSError, ValueError) as e:
            self.log.error("Could not write the run record: %s", e)
        await self.ocps.close()
        produced = any(self.taken.values()) or bool(self.reprocess)
        if self.plan is not None and self.run_record_path is not None and produced:
            # The report of every run that produced anything, failed and stopped runs included.
            await publish_report(
                self,
                repo=self.plan.repo,
                run_record=self.run_record_path,
                out_dir=self.run_record_path.with_suffix(""),
            )
        if self.repository is not None:
            # A script runs once: its butler is not needed after the run.
            await asyncio.to_thread(self.repository.close)

    async def close_tasks(self) -> None:
        """Close the repository's butler, then the script."""
        if self.repository is not None:
            await asyncio.to_thread(self.repository.close)
        await super().close_tasks()

    async def _check_drift(self, record: RunRecord) -> dict[str, typing.Any]:
        """The drift check of this run against the recent nights' run records (`drift_check`)."""
        from .drift_check import drift_check_of_record

        try:
            root = self.repository.root if self.repository is not None else ""
            folder = await asyncio.to_thread(RunRecord.default_folder, root)
            butler = self.repository.butler if self.repository is not None else None
            check = await drift_check_of_record(
                record.to_dict(), butler=butler, records_dir=folder, log=self.log
            )
            return check.to_dict()
        except Exception as e:
            self.log.exception("The drift check failed.")
            return {"notes": [f"The drift check failed: {e!r}"]}

    def _ingested(self, repository: CalibrationRepository) -> dict[str, list[int]]:
        """Per image type, the exposures taken that the raw collection holds (blocking)."""
        return {
            image_type: repository.ingested_exposures(ids) for image_type, ids in self.taken.items() if ids
        }

    def _define_run_collection(self, repository: CalibrationRepository, record: RunRecord) -> str:
        """Define the run's CHAINED collection over its job outputs and calib collection (blocking).

        Returns
        -------
        name : `str`
            The collection, "" if the run wrote nothing.
        """
        children = [name for outcome in record.products.values() for name in outcome.collections.values()]
        children += [record.collections[role] for role in ("calib",) if record.collections.get(role)]
        if not children:
            return ""
        name = f"{RUN_COLLECTION_PREFIX}/{self._record_name}"
        return name if repository.define_run_collection(name, children) else ""

    def summary_lines(self, record: RunRecord, *, ingest_known: bool = True) -> list[str]:
        """The end-of-run summary: images, ingestion, products with their reasons, jobs.

        Facts only: "ingested" lists what the repository's raw collection
        holds (``record.exposures_ingested``; ``ingest_known`` false when it
        could not be read), and each product not certified or verified
        says why.
        """
        lines = ["Summary of the run:"]
        for image_type, ids in record.exposures_taken.items():
            kept = record.exposures_processed.get(image_type, [])
            lines.append(f"  {image_type}: {len(ids)} taken {ids}; processed {kept}")
        if record.exposures_taken:
            raw = record.collections.get("raw", "the raw collection")
            if ingest_known:
                ingested = sorted(e for ids in record.exposures_ingested.values() for e in ids)
                absent = sorted(
                    e for ids in record.exposures_taken.values() for e in ids if e not in set(ingested)
                )
                lines.append(f"  ingested in {raw} (can be reprocessed): {ingested or 'none'}")
                if absent:
                    lines.append(f"  not in {raw}: {absent}")
            else:
                lines.append(f"  ingestion into {raw} could not be read from the repository")
        for image_type, why in record.images_not_taken.items():
            lines.append(f"  {image_type}: images not (all) taken: no product could use them ({why})")
        for image_type, reasons in record.exposures_left_out.items():
            for exposure, why in reasons.items():
                lines.append(f"  left out of processing: {image_type} {exposure}: {why}")
        for outcome in record.products.values():
            lines.append(f"  {outcome.describe()}")
        for job_id, job in record.jobs.items():
            result = self.ocps.results.get(job_id)
            label = job.get("label", self.ocps.labels.get(job_id, "job"))
            lines.append(
                f"  job {result.describe() if result is not None else f'{label}: job {job_id} not finished'}"
            )
        if record.aborted_jobs:
            lines.append(f"  aborted jobs: {', '.join(record.aborted_jobs)}")
        if record.drift.get("day_obs") is not None:
            from .drift_check import DriftCheck

            lines += ["  " + line for line in DriftCheck.from_dict(record.drift).summary_lines()]
        else:
            lines += [f"  Drift check: {note}" for note in record.drift.get("notes", [])]
        return lines

    def _pending_reason(self, image_type_of: collections.abc.Sequence[str]) -> str:
        """Why a product that never ended is pending (facts of the run)."""
        missing_kept = [t for t in image_type_of if t not in self.kept]
        if self.state_name == "STOPPING":
            why = "stopped"
        elif self.state_name == "FAILING":
            why = f"the run failed ({self.state.reason})" if self.state.reason else "the run failed"
        else:
            why = "the run ended"
        if missing_kept:
            return f"not processed: {why} before its {', '.join(missing_kept)} images were taken"
        started = self.processor is not None and all(t in self.processor.exposures for t in image_type_of)
        if not started:
            return f"not processed: {why} before its {', '.join(image_type_of)} images were ingested"
        return f"not finished: {why} while it was being processed"

    def run_record(self, aborted: typing.Sequence[str] = ()) -> RunRecord:
        """The run record (`RunRecord`): configuration, plan, exposures, products, jobs, timings.

        Every product has a status; one that is not certified or verified
        has a reason (a product still pending when the run ended says why).
        """
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
            exposures_processed={
                k: (self.processor.left_out.remaining(k, v) if self.processor is not None else list(v))
                for k, v in self.kept.items()
            },
            exposures_left_out=self.processor.left_out.to_dict() if self.processor is not None else {},
            images_not_taken=dict(self.not_taken),
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
        if self.processor is not None and plan is not None:
            for name, outcome in self.processor.outcomes.items():
                if outcome.status == ProductStatus.PENDING and not outcome.reason:
                    outcome.reason = self._pending_reason(plan.step(name).images)
                record.products[name] = outcome
                if outcome.certified_into and outcome.validity:
                    record.certifications.append(
                        CertificationRecord(
                            dataset_type=plan.step(name).dataset_type,
                            collection=outcome.certified_into,
                            begin=outcome.validity[0],
                            end=outcome.validity[1],
                            input_collection=outcome.collections.get("generate", ""),
                            detectors=tuple(plan.detectors),
                            time=outcome.certified_at,
                        )
                    )
            record.gains = self.processor.gains
            record.gain_table = self.processor.gain_table
        elif plan is not None:
            for step in plan.steps:
                record.products[step.name] = ProductOutcome(
                    step.name, reason=self._pending_reason(step.images)
                )
        if self.processor is not None:
            record.jobs = self.processor.job_records()
        return record

    def write_run_record(self, record: RunRecord) -> Path:
        """Write the run record as JSON beside the repository (`RunRecord.default_folder`); return its path.

        Blocking (resolves the repository and writes the file): call it in
        a thread.

        Raises
        ------
        ValueError
            If the folder cannot be known (a remote repository and no
            ``TS_CALIBRATIONS_RUN_RECORDS``).
        OSError
            If the file cannot be written.
        """
        if self.repository is not None:
            root = self.repository.root
        elif self.plan is not None:
            root = self.open_repository(self.plan.repo).root
        else:
            root = ""
        folder = RunRecord.default_folder(root) if root else RunRecord.default_folder("", None)
        name = self._record_name or f"{type(self).__name__}_{self.salinfo.index}_{int(time.time())}"
        return record.write(folder / f"{name}.json")
