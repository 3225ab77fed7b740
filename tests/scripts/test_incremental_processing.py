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


"""Incremental processing: the per-exposure/run-level split of every pipeline, and products
identical to the one-job way.

The split table (`PipelineSplit.SPLITS`) is checked against the pipelines
themselves: the per-exposure labels are the tasks with the ``exposure``
dimension, the run-level labels the rest, together every task. The
end-to-end test takes a small generation run (bias, dark, flat, defects,
PTC with internal verification) and an external verification run with
gains, each processed as exposures land; then it reprocesses the same raws
the one-job way and compares the certified products pixel for pixel, the
external verification's statistics and verdicts, and the gains. Internal
verification runs whole either way, on the new product: the one-job
regeneration leaves it out (its statistics would follow from products
already compared pixel for pixel) and runs beside the verification run.
"""

import asyncio
import itertools
import logging
import os
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import yaml
from lsst.daf.butler import Butler
from lsst.pipe.base import Pipeline

from fixtures.timeouts import RUN_TIMEOUT, STD_TIMEOUT
from lsst.ts.calibrations.cp.pipeline_paths import PipelinePaths
from lsst.ts.calibrations.repo.repo_alias import INDEX_ENV_VAR, REPOSITORIES_ENV_VAR
from lsst.ts.calibrations.sal import DefaultingValidator, ScriptState
from lsst.ts.calibrations.sal.config_yaml import load_config_yaml
from lsst.ts.calibrations.scripts import MakeComCamCalibrations
from lsst.ts.calibrations.scripts.calibration_plan import CalibrationPlan
from lsst.ts.calibrations.scripts.calibration_processor import CalibrationProcessor
from lsst.ts.calibrations.scripts.ocps_client import OcpsClient
from lsst.ts.calibrations.scripts.ocps_job_result import OcpsJobError, OcpsJobResult
from lsst.ts.calibrations.scripts.pipeline_split import PipelineSplit
from lsst.ts.calibrations.scripts.processing_job import JobPart
from lsst.ts.calibrations.scripts.product_outcome import ProductStatus
from lsst.ts.calibrations.scripts.run_record import RUN_RECORD_DIR_ENV, RunRecord
from lsst.ts.calibrations.sim.observatory import SimulatedObservatory

DATE = "2022-11-04"
INSTRUMENTS = ("LSSTComCam", "LSSTCam", "LATISS")
_indices = itertools.count(1500)


def _pipeline_url(name: str, instrument: str) -> str:
    file, _, subset = name.partition("#")
    variable = "CP_PIPE_DIR" if file.startswith(("cp", "find")) else "CP_VERIFY_DIR"
    return f"${{{variable}}}/pipelines/{instrument}/{file}.yaml" + (f"#{subset}" if subset else "")


@pytest.mark.parametrize("instrument", INSTRUMENTS)
@pytest.mark.parametrize("name", sorted(PipelineSplit.SPLITS))
def test_split_matches_the_pipeline(name: str, instrument: str, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = PipelinePaths()
    for variable, value in paths.environment().items():
        monkeypatch.setenv(variable, value)
    url = _pipeline_url(name, instrument)
    split = PipelineSplit.of(url)
    assert split is not None
    graph = Pipeline.from_uri(paths.resolve(url)).to_graph()
    dimensions = {label: set(node.raw_dimensions) for label, node in graph.tasks.items()}
    assert set(split.per_exposure) | set(split.run_level) == set(dimensions)
    assert not set(split.per_exposure) & set(split.run_level)
    for label in split.per_exposure:
        assert "exposure" in dimensions[label], label
    for label in split.run_level:
        assert "exposure" not in dimensions[label], label
    # Each part is a pipeline pipetask can build on its own (the labels exist).
    for part in (split.per_exposure_url(url), split.run_level_url(url)):
        assert set(Pipeline.from_uri(paths.resolve(part)).to_graph().tasks) <= set(dimensions)


def test_split_urls_and_options() -> None:
    url = "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpPtc.yaml#generateGainFromFlatPair"
    assert PipelineSplit.name_of(url) == "cpPtc#generateGainFromFlatPair"
    split = PipelineSplit.of(url)
    assert split is not None
    assert split.per_exposure_url(url) == "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpPtc.yaml#isr"
    assert split.run_level_url(url) == "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpPtc.yaml#cpExtract"
    assert PipelineSplit.of("${CP_PIPE_DIR}/pipelines/LSSTComCam/unknown.yaml") is None
    options = ["-c", "isr:doDefect=False", "--config", "cpExtract:maxMean=1e5", "-C", "isr:x.py", "--other"]
    assert PipelineSplit.options_for(options, ("isr",)) == (
        "-c",
        "isr:doDefect=False",
        "-C",
        "isr:x.py",
        "--other",
    )
    assert PipelineSplit.options_for(options, ("cpExtract",)) == (
        "--config",
        "cpExtract:maxMean=1e5",
        "--other",
    )


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run records in the test's folder; no repository index from outside."""
    for name in (INDEX_ENV_VAR, REPOSITORIES_ENV_VAR):
        monkeypatch.delenv(name, raising=False)
    records = tmp_path / "run_records"
    monkeypatch.setenv(RUN_RECORD_DIR_ENV, str(records))
    return records


async def run_script(config: dict[str, Any], *, incremental: bool) -> tuple[RunRecord, Path]:
    """Configure and run the script (incrementally or the one-job way); return its run record and path."""
    script = MakeComCamCalibrations(index=next(_indices))
    script.incremental_processing = incremental
    await asyncio.wait_for(script.start_task, STD_TIMEOUT)
    data = script.cmd_configure.DataType()
    data.config = yaml.safe_dump(config)
    await asyncio.wait_for(script.do_configure(data), STD_TIMEOUT)
    group = script.cmd_setGroupId.DataType()
    group.groupId = f"incremental-{script.salinfo.index}"
    await script.do_setGroupId(group)
    await asyncio.wait_for(script.do_run(None), RUN_TIMEOUT)
    assert script.state.state == ScriptState.DONE, script.state.reason
    assert script.run_record_path is not None
    return RunRecord.read(script.run_record_path), script.run_record_path


def _parts(record: RunRecord) -> dict[str, set[str]]:
    """Per step, the parts of its jobs."""
    parts: dict[str, set[str]] = {}
    for job in record.jobs.values():
        parts.setdefault(str(job["step"]), set()).add(str(job["part"]))
    return parts


def _content(value: Any) -> Any:
    """What a product holds, comparable with numpy."""
    if hasattr(value, "getImage"):
        return [value.getImage().getArray(), value.getMask().getArray(), value.getVariance().getArray()]
    if hasattr(value, "to_mask"):
        return value.to_mask()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return value


def _assert_same(a: Any, b: Any, what: str) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), what
        for key in a:
            _assert_same(a[key], b[key], f"{what}.{key}")
    elif isinstance(a, list | tuple) and not (a and isinstance(a[0], int | float | str)):
        assert len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{what}[{i}]")
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=what)


def _products(repo: Path, collection: str, dataset_types: tuple[str, ...]) -> dict[str, Any]:
    with Butler.from_config(str(repo)) as butler:
        found = {}
        for dataset_type in dataset_types:
            for ref in butler.query_datasets(dataset_type, collections=collection, find_first=False):
                key = f"{dataset_type} {dict(ref.dataId.required)}"
                found[key] = _content(butler.get(ref))
    return found


def _verification(repo: Path, record: RunRecord) -> dict[str, Any]:
    """Each verified product's run-level statistics and verdict."""
    found = {}
    with Butler.from_config(str(repo)) as butler:
        for name, outcome in record.products.items():
            collection = outcome.collections.get("verify")
            if collection:
                stats = butler.get(
                    f"verify{name.title()}Stats", instrument="LSSTComCam", collections=[collection]
                )
                found[name] = (stats, outcome.verdict.to_dict() if outcome.verdict else None)
    return found


@pytest.mark.slow
@pytest.mark.timeout(4 * RUN_TIMEOUT)
@pytest.mark.usefixtures("run_reports")
async def test_incremental_and_one_job_products_equal(environment: Path, tmp_path: Path) -> None:
    calib = "LSSTComCam/calib/incremental"
    generation = dict(
        detectors=[0],
        n_processes=1,
        oods_timeout=60,
        script_mode="BIAS_DARK_FLAT",
        n_bias=3,
        n_dark=3,
        exp_times_dark=5.0,
        n_flat=8,
        exp_times_flat=[1, 1, 2, 2, 3, 3, 4, 4],
        generate_calibrations=True,
        do_defects=True,
        do_ptc=True,
        certify_calib_begin_date=DATE,
        certify_calib_end_date="2022-11-05",
    )
    verification = dict(
        detectors=[0],
        n_processes=1,
        oods_timeout=60,
        script_mode="BIAS_DARK_FLAT",
        n_bias=2,
        n_dark=2,
        exp_times_dark=5.0,
        n_flat=4,
        exp_times_flat=[2, 2, 3, 3],
        do_gain_from_flat_pairs=True,
        **{f"input_collections_verify_{t}": f"{calib}.incremental" for t in ("bias", "dark", "flat")},
    )
    async with SimulatedObservatory(
        tmp_path / "repo", time_scale=0.02, date=DATE, seed=5, detectors=[0], heartbeat_interval=1.0
    ) as obs:
        repo = str(obs.repo)
        generated, generated_path = await run_script(
            {**generation, "repo": repo, "calib_collection": f"{calib}.incremental"}, incremental=True
        )

        async def verify_then_reverify() -> tuple[RunRecord, RunRecord]:
            verified, verified_path = await run_script({**verification, "repo": repo}, incremental=True)
            reverified, _ = await run_script(
                {**verification, "repo": repo, "reprocess_run_record": os.fspath(verified_path)},
                incremental=False,
            )
            return verified, reverified

        # The one-job regeneration (its internal verification left out: see below) reprocesses
        # while the verification run takes its images; if one fails, the other is cancelled.
        async with asyncio.TaskGroup() as group:
            regeneration = group.create_task(
                run_script(
                    {
                        **generation,
                        "repo": repo,
                        "calib_collection": f"{calib}.one_job",
                        "reprocess_run_record": os.fspath(generated_path),
                        "do_verify": False,
                    },
                    incremental=False,
                )
            )
            verifications = group.create_task(verify_then_reverify())
        regenerated, _ = regeneration.result()
        verified, reverified = verifications.result()
    # The first of each pair ran per-exposure jobs then a run-level job for every split
    # pipeline (internal verification runs whole: it needs the new product); the second one job.
    parts = _parts(generated)
    for step in ("BIAS", "DARK", "FLAT", "DEFECTS", "PTC"):
        assert {"per-exposure", "run-level"} <= parts[step], (step, parts)
    assert _parts(verified) == {
        name: {"per-exposure", "run-level"} for name in ("BIAS", "DARK", "FLAT", "GAIN")
    }
    for record in (regenerated, reverified):
        assert all(part == {str(JobPart.WHOLE)} for part in _parts(record).values())
    # Internal verification ran whole, on the new product (its generation's output first among
    # its inputs), so the same pipeline on the products compared below gives the same statistics;
    # each verdict passed.
    for step in ("BIAS", "DARK", "FLAT"):
        outcome = generated.products[step]
        job = generated.jobs[outcome.jobs["verify"]]
        assert job["part"] == str(JobPart.WHOLE), (step, job["part"])
        assert f"-i {outcome.collections['generate']}," in job["parameters"]["config"], job["parameters"]
        assert outcome.verdict is not None and outcome.verdict.passed, step
        assert sorted(job["exposures"]) == sorted(generated.exposures_processed[step])
    assert set(regenerated.products) == set(generated.products)
    for name, outcome in regenerated.products.items():
        assert outcome.status == ProductStatus.CERTIFIED and "verify" not in outcome.jobs, name
    # Every job listed with its pipeline subset, exposures, timing and outcome.
    for job in generated.jobs.values():
        assert job["phase"] == "COMPLETED" and job["startTime"] and job["endTime"]
        assert job["exposures"] and job["pipeline"]
        if job["part"] == "per-exposure":
            assert "#isr" in job["pipeline"]
    assert generated.exposures_processed == regenerated.exposures_processed
    # Certified products, pixel for pixel.
    kinds = ("bias", "dark", "flat", "defects", "ptc")
    incremental = _products(tmp_path / "repo", f"{calib}.incremental", kinds)
    one_job = _products(tmp_path / "repo", f"{calib}.one_job", kinds)
    assert len(incremental) == len(kinds) and set(incremental) == set(one_job)
    _assert_same(incremental, one_job, "certified")
    # External verification's statistics and verdicts, gains.
    a, b = _verification(tmp_path / "repo", verified), _verification(tmp_path / "repo", reverified)
    assert set(a) == set(b) == {"BIAS", "DARK", "FLAT"}
    _assert_same(a, b, "verification")
    assert generated.gains is not None and reverified.gains is not None and verified.gains is not None
    assert generated.gains.to_dict() == regenerated.gains.to_dict()
    assert verified.gains.to_dict() == reverified.gains.to_dict()


class _FakeOcps:
    """The OCPS client's interface, with jobs that end when the test says so."""

    make_config = staticmethod(OcpsClient.make_config)

    def __init__(self) -> None:
        self.submitted: list[tuple[str, str, str, str]] = []
        self.labels: dict[str, str] = {}
        self.results: dict[str, OcpsJobResult] = {}
        self._ends: dict[str, asyncio.Future[int]] = {}
        self.new_job = asyncio.Event()

    def make_data_query(self, detectors: Any, exposures: Any = None) -> str:
        return f"detector IN {tuple(detectors)} AND exposure IN {tuple(exposures)}"

    @property
    def running_jobs(self) -> list[str]:
        return [job_id for job_id in self.labels if job_id not in self.results]

    async def submit(self, label: str, pipeline: str, config: str, data_query: str) -> str:
        job_id = f"job{len(self.submitted) + 1}"
        self.submitted.append((label, pipeline, config, data_query))
        self.labels[job_id] = label
        self._ends[job_id] = asyncio.get_running_loop().create_future()
        self.new_job.set()
        return job_id

    def end(self, job_id: str, exit_code: int = 0) -> None:
        self._ends[job_id].set_result(exit_code)

    async def next_job(self, count: int) -> None:
        """Wait until ``count`` jobs were submitted."""
        while len(self.submitted) < count:
            self.new_job.clear()
            await asyncio.wait_for(self.new_job.wait(), STD_TIMEOUT)

    async def wait(self, job_id: str, timeout: float | None = None) -> OcpsJobResult:
        code = await asyncio.wait_for(self._ends[job_id], STD_TIMEOUT)
        phase = "COMPLETED" if code == 0 else "ERROR"
        record = {"phase": phase, "outputCollection": f"u/ocps/{job_id}", "outputRun": f"u/ocps/{job_id}/run"}
        result = OcpsJobResult(job_id, self.labels[job_id], code, record, f"/jobs/{job_id}/outs/ocps.log")
        self.results[job_id] = result
        if code:
            raise OcpsJobError(f"{self.labels[job_id]}: OCPS job {job_id} failed", job_id, job_id, result)
        return result


class _FakeRepository:
    """What the processing reads and writes in the repository (certification held until ``release``)."""

    def __init__(self) -> None:
        self.processed: dict[str, dict[int, list[int]]] = {}
        # The quanta that ran and failed (a log, no metadata), by collection.
        self.crashed: dict[str, dict[int, list[int]]] = {}
        self.certified: list[tuple[list[str], str]] = []
        self.certified_into: list[tuple[list[str], str, str]] = []
        self.release = threading.Event()
        self.release.set()

    def collection_type(self, name: str) -> str | None:
        return "CALIBRATION" if any(calib == name for _, _, calib in self.certified_into) else None

    def verification_statistics(self, collection: str, dataset_type: str) -> dict[str, Any]:
        return {"dataset_type": dataset_type}

    def processed_detectors(self, collection: str, exposures: Any) -> dict[int, list[int]]:
        done = self.processed.get(collection, {})
        return {int(e): done.get(int(e), [0]) for e in exposures}

    def failed_detectors(self, collection: str, exposures: Any) -> dict[int, list[int]]:
        ran_and_failed = self.crashed.get(collection, {})
        return {int(e): ran_and_failed.get(int(e), []) for e in exposures}

    def certify(self, inputs: list[str], calib: str, dataset_type: str, begin: Any, end: Any) -> int:
        assert self.release.wait(STD_TIMEOUT)
        self.certified.append((list(inputs), dataset_type))
        self.certified_into.append((list(inputs), dataset_type, calib))
        return 1


_BIAS_ONLY = "script_mode: BIAS\nn_bias: 4\ndetectors: [0]\ngenerate_calibrations: true\ndo_verify: false\n"


def _bias_plan(text: str = _BIAS_ONLY) -> CalibrationPlan:
    config = load_config_yaml(text)
    validated = DefaultingValidator(MakeComCamCalibrations.get_schema()).validate(config)
    return CalibrationPlan.from_config(validated, explicit_keys=config.keys())


def _verdict(passed: bool) -> SimpleNamespace:
    return SimpleNamespace(passed=passed, summary=lambda: "passed" if passed else "failed")


def _processor(
    incremental: bool = True, plan: CalibrationPlan | None = None, failing: tuple[str, ...] = ()
) -> tuple[CalibrationProcessor, _FakeOcps, _FakeRepository]:
    """A processor on fake OCPS and repository; verification fails for the ``failing`` statistics."""
    ocps, repository = _FakeOcps(), _FakeRepository()
    processor = CalibrationProcessor(
        plan or _bias_plan(),
        ocps,  # type: ignore[arg-type]
        logging.getLogger("test_incremental"),
        repository,  # type: ignore[arg-type]
        judge=lambda stats, threshold, n: _verdict(stats["dataset_type"] not in failing),  # type: ignore[arg-type,return-value]
        incremental=incremental,
    )
    for exposure in (1, 2, 3, 4):
        processor.left_out.add_kept("BIAS", exposure)
    for exposure in (5, 6):
        processor.left_out.add_kept("DARK", exposure)
    return processor, ocps, repository


def _bias_dark_processor(
    failing: tuple[str, ...] = (), incremental: bool = True
) -> tuple[CalibrationProcessor, _FakeOcps, _FakeRepository]:
    plan = _bias_plan(
        "script_mode: BIAS_DARK\nn_bias: 2\nn_dark: 2\ndetectors: [0]\ngenerate_calibrations: true\n"
    )
    return _processor(incremental=incremental, plan=plan, failing=failing)


async def test_dark_made_and_verified_while_the_bias_is_verified_certified_after_it() -> None:
    processor, ocps, repository = _bias_dark_processor(incremental=False)
    repository.release.clear()  # certifications wait
    processor.start("BIAS", [1])
    processor.start("DARK", [5, 6])
    await ocps.next_job(1)
    ocps.end("job1")  # generate BIAS
    await ocps.next_job(3)
    by_label = {label: (f"job{i + 1}", config) for i, (label, _, config, _) in enumerate(ocps.submitted)}
    assert set(by_label) == {"generate BIAS", "verify BIAS", "generate DARK"}
    # The dark reads the new bias from the run that made it.
    # The run's calibration collection, made by its first certification, is not an input yet.
    assert "-i u/ocps/job1/run,LSSTComCam/calib " in by_label["generate DARK"][1]
    ocps.end(by_label["verify BIAS"][0])
    ocps.end(by_label["generate DARK"][0])
    await ocps.next_job(4)
    assert ocps.submitted[3][0] == "verify DARK"
    assert f"-i u/ocps/{by_label['generate DARK'][0]}," in ocps.submitted[3][2]
    ocps.end("job4")
    await asyncio.sleep(0.1)
    # The dark is verified; it is certified only after the bias.
    assert repository.certified == [] and processor.outcomes["DARK"].status.value == "verified"
    repository.release.set()
    await asyncio.wait_for(processor.wait(), STD_TIMEOUT)
    assert [dataset_type for _, dataset_type in repository.certified] == ["bias", "dark"]
    assert [o.status.value for o in processor.outcomes.values()] == ["certified", "certified"]


@pytest.mark.parametrize("failing", [("verifyBiasStats",), ("verifyBiasStats", "verifyDarkStats")])
async def test_a_dark_made_with_a_bias_that_failed_verification_is_not_certified(
    failing: tuple[str, ...],
) -> None:
    # Whether the dark passes its own verification or not, it is blocked by the bias, as before.
    processor, ocps, repository = _bias_dark_processor(failing=failing, incremental=False)
    processor.start("BIAS", [1])
    processor.start("DARK", [5, 6])
    await ocps.next_job(1)
    ocps.end("job1")
    await ocps.next_job(3)
    jobs = {label: f"job{i + 1}" for i, (label, *_) in enumerate(ocps.submitted)}
    ocps.end(jobs["generate DARK"])
    await ocps.next_job(4)
    ocps.end("job4")  # verify DARK
    ocps.end(jobs["verify BIAS"])  # its verdict fails
    await asyncio.wait_for(processor.wait(), STD_TIMEOUT)
    assert repository.certified == []
    assert processor.outcomes["BIAS"].status.value == "verification failed"
    dark = processor.outcomes["DARK"]
    assert dark.status == ProductStatus.BLOCKED
    assert dark.reason == "needs BIAS (verification failed), which was not certified"


async def test_dark_per_exposure_jobs_start_once_the_bias_is_made_before_it_is_certified() -> None:
    processor, ocps, repository = _bias_dark_processor()
    repository.release.clear()  # the bias's certification waits
    processor.arrived("BIAS", 1)
    await ocps.next_job(1)
    ocps.end("job1")  # per-exposure BIAS
    processor.start("BIAS", [1])
    processor.arrived("DARK", 5)
    await ocps.next_job(2)
    assert ocps.submitted[1][0] == "generate BIAS (run-level)"
    await asyncio.sleep(0.05)
    assert len(ocps.submitted) == 2  # the dark's ISR needs the bias, not made yet
    ocps.end("job2")
    # The dark's per-exposure job and the bias's verification run side by side.
    await ocps.next_job(4)
    labels = {label: i for i, (label, *_) in enumerate(ocps.submitted)}
    assert set(labels) >= {"verify BIAS", "generate DARK (per-exposure 1)"}
    dark = ocps.submitted[labels["generate DARK (per-exposure 1)"]]
    # It reads the bias from the run that made it, first among its inputs.
    assert "-i u/ocps/job2/run,LSSTComCam/calib " in dark[2]
    assert repository.certified == []
    for job_id in ("job3", "job4"):
        ocps.end(job_id)
    repository.release.set()
    processor.arrived("DARK", 6)
    await ocps.next_job(5)
    ocps.end("job5")
    processor.start("DARK", [5, 6])
    await ocps.next_job(6)
    assert ocps.submitted[5][0] == "generate DARK (run-level)"
    ocps.end("job6")
    await ocps.next_job(7)
    ocps.end("job7")  # verify DARK
    await asyncio.wait_for(processor.wait(), STD_TIMEOUT)
    assert [o.status.value for o in processor.outcomes.values()] == ["certified", "certified"]
    assert [dataset_type for _, dataset_type in repository.certified] == ["bias", "dark"]


async def test_dark_per_exposure_jobs_after_certification_when_asked() -> None:
    processor, ocps, repository = _bias_dark_processor()
    processor.start_before_certified = False
    repository.release.clear()
    processor.start("BIAS", [1])
    processor.arrived("DARK", 5)
    await ocps.next_job(1)
    ocps.end("job1")  # generate BIAS
    await ocps.next_job(2)
    ocps.end("job2")  # verify BIAS; its certification waits
    await asyncio.sleep(0.05)
    assert [label for label, *_ in ocps.submitted] == ["generate BIAS", "verify BIAS"]
    repository.release.set()
    await ocps.next_job(3)
    assert ocps.submitted[2][0] == "generate DARK (per-exposure 1)"
    assert "-i LSSTComCam/calib/daily,LSSTComCam/calib " in ocps.submitted[2][2]
    await asyncio.wait_for(processor.cancel(), STD_TIMEOUT)


async def test_no_dark_verification_once_the_bias_failed_its_own() -> None:
    processor, ocps, repository = _bias_dark_processor(failing=("verifyBiasStats",), incremental=False)
    processor.start("BIAS", [1])
    processor.start("DARK", [5, 6])
    await ocps.next_job(1)
    ocps.end("job1")
    await ocps.next_job(3)
    jobs = {label: f"job{i + 1}" for i, (label, *_) in enumerate(ocps.submitted)}
    ocps.end(jobs["verify BIAS"])  # its verdict fails while the dark is made
    await asyncio.sleep(0.05)
    ocps.end(jobs["generate DARK"])
    await asyncio.wait_for(processor.wait(), STD_TIMEOUT)
    assert len(ocps.submitted) == 3 and repository.certified == []
    assert processor.outcomes["DARK"].status == ProductStatus.BLOCKED


async def test_no_dark_run_level_job_once_the_bias_failed_verification_while_fed() -> None:
    processor, ocps, _ = _bias_dark_processor(failing=("verifyBiasStats",))
    processor.arrived("BIAS", 1)
    await ocps.next_job(1)
    ocps.end("job1")
    processor.start("BIAS", [1])
    processor.arrived("DARK", 5)
    await ocps.next_job(2)
    ocps.end("job2")  # generate BIAS (run-level)
    await ocps.next_job(4)
    jobs = {label: f"job{i + 1}" for i, (label, *_) in enumerate(ocps.submitted)}
    ocps.end(jobs["generate DARK (per-exposure 1)"])
    processor.arrived("DARK", 6)
    await ocps.next_job(5)
    processor.start("DARK", [5, 6])  # the run-level job waits for the per-exposure jobs
    ocps.end(jobs["verify BIAS"])  # its verdict fails
    await asyncio.sleep(0.05)
    ocps.end("job5")
    await asyncio.wait_for(processor.wait(), STD_TIMEOUT)
    assert "generate DARK (run-level)" not in [label for label, *_ in ocps.submitted]
    dark = processor.outcomes["DARK"]
    assert dark.status == ProductStatus.BLOCKED and "BIAS" in dark.reason


async def test_no_dark_per_exposure_job_once_the_bias_failed_verification() -> None:
    processor, ocps, _ = _bias_dark_processor(failing=("verifyBiasStats",))
    processor.start("BIAS", [1])
    processor.arrived("DARK", 5)
    await ocps.next_job(1)
    ocps.end("job1")  # generate BIAS (whole: no exposure arrived)
    await ocps.next_job(3)
    ocps.end("job2")
    ocps.end("job3")  # verify BIAS: its verdict fails
    await asyncio.sleep(0.05)
    processor.arrived("DARK", 6)
    processor.start("DARK", [5, 6])
    await asyncio.wait_for(processor.wait(), STD_TIMEOUT)
    # The dark's first per-exposure job ran beside the verification; none after its verdict.
    labels = [label for label, *_ in ocps.submitted]
    assert labels[0] == "generate BIAS"
    assert sorted(labels[1:]) == ["generate DARK (per-exposure 1)", "verify BIAS"]
    assert processor.outcomes["BIAS"].status.value == "verification failed"
    assert processor.outcomes["DARK"].status == ProductStatus.BLOCKED


async def test_per_exposure_jobs_take_what_arrived_then_one_run_level_job() -> None:
    processor, ocps, repository = _processor()
    processor.arrived("BIAS", 1)
    await ocps.next_job(1)
    # One per-exposure job in flight: those arriving meanwhile wait for the next.
    processor.arrived("BIAS", 2)
    processor.arrived("BIAS", 3)
    await asyncio.sleep(0.05)
    assert len(ocps.submitted) == 1
    ocps.end("job1")
    await ocps.next_job(2)
    processor.arrived("BIAS", 4)
    ocps.end("job2")
    await ocps.next_job(3)
    ocps.end("job3")
    processor.start("BIAS", [1, 2, 3, 4])
    await ocps.next_job(4)
    ocps.end("job4")
    await asyncio.wait_for(processor.wait(), STD_TIMEOUT)
    labels = [label for label, *_ in ocps.submitted]
    pipelines = [pipeline.rsplit("/", 1)[-1] for _, pipeline, _, _ in ocps.submitted]
    queries = [query for *_, query in ocps.submitted]
    assert labels == [
        "generate BIAS (per-exposure 1)",
        "generate BIAS (per-exposure 2)",
        "generate BIAS (per-exposure 3)",
        "generate BIAS (run-level)",
    ]
    assert pipelines == ["cpBias.yaml#isr"] * 3 + ["cpBias.yaml#cpBiasCombine"]
    assert queries[:3] == [
        "detector IN (0,) AND exposure IN (1,)",
        "detector IN (0,) AND exposure IN (2, 3)",
        "detector IN (0,) AND exposure IN (4,)",
    ]
    assert queries[3] == "detector IN (0,) AND exposure IN (1, 2, 3, 4)"
    # The run-level job reads the per-exposure jobs' runs, first among its inputs.
    assert "-i u/ocps/job1/run,u/ocps/job2/run,u/ocps/job3/run" in ocps.submitted[3][2]
    outcome = processor.outcomes["BIAS"]
    assert outcome.status.value == "certified" and outcome.jobs == {"generate": "job4"}
    assert repository.certified == [(["u/ocps/job4"], "bias")]
    records = processor.job_records()
    assert [records[j]["part"] for j in ("job1", "job2", "job3", "job4")] == [
        "per-exposure",
        "per-exposure",
        "per-exposure",
        "run-level",
    ]
    assert records["job2"]["exposures"] == [2, 3] and records["job4"]["phase"] == "COMPLETED"


async def _end_job2_then_the_run(processor: CalibrationProcessor, ocps: _FakeOcps) -> None:
    """End job2; exposure 4 arrives (job3), then the step starts (job4, run-level); wait for the end."""
    ocps.end("job2")
    processor.arrived("BIAS", 4)
    await ocps.next_job(3)
    ocps.end("job3")
    processor.start("BIAS", [1, 2, 3, 4])
    await ocps.next_job(4)
    ocps.end("job4")
    await asyncio.wait_for(processor.wait(), STD_TIMEOUT)


async def test_failed_isr_in_a_per_exposure_job_leaves_the_exposure_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    processor, ocps, repository = _processor()
    for exposure in (1, 2, 3):
        processor.arrived("BIAS", exposure)
    await ocps.next_job(1)
    # Exposure 2's ISR failed for detector 0; exposure 1's ran.
    repository.processed["u/ocps/job1"] = {2: []}
    ocps.end("job1", exit_code=1)
    await ocps.next_job(2)
    assert ocps.submitted[1][3] == "detector IN (0,) AND exposure IN (1, 3)"
    await _end_job2_then_the_run(processor, ocps)
    why = processor.left_out.to_dict()["BIAS"][2]
    assert (
        why == "processing failed for detector(s) 0 in job job1 (generate BIAS; log /jobs/job1/outs/ocps.log)"
    )
    assert "submitting the job again without the exposures left out (2 left)" in caplog.text
    assert f"Leaving out BIAS exposure 2: {why}" in caplog.text
    # The failed job's run is not an input; the run-level query leaves the exposure out.
    assert "-i u/ocps/job2/run,u/ocps/job3/run" in ocps.submitted[3][2]
    assert ocps.submitted[3][3] == "detector IN (0,) AND exposure IN (1, 3, 4)"
    assert processor.outcomes["BIAS"].status.value == "certified"


async def test_a_per_exposure_job_that_failed_otherwise_fails_the_step() -> None:
    processor, ocps, _ = _processor()
    processor.arrived("BIAS", 1)
    await ocps.next_job(1)
    ocps.end("job1", exit_code=1)  # every exposure's ISR ran: not the exposures' fault
    await asyncio.sleep(0.05)
    assert processor.pointless("BIAS").startswith("BIAS cannot be made (BIAS: generate BIAS (per-exposure 1)")
    processor.start("BIAS", [1, 2, 3, 4])
    await asyncio.wait_for(processor.wait(), STD_TIMEOUT)
    assert len(ocps.submitted) == 1
    outcome = processor.outcomes["BIAS"]
    assert outcome.status.value == "failed" and "job1 failed" in outcome.reason
    assert outcome.jobs == {"generate": "job1"} and not outcome.collections
    assert processor.failures == [f"BIAS: {outcome.reason}"]


async def test_one_job_way_ignores_arrivals() -> None:
    processor, ocps, _ = _processor(incremental=False)
    for exposure in (1, 2, 3, 4):
        processor.arrived("BIAS", exposure)
    await asyncio.sleep(0.05)
    assert not ocps.submitted
    processor.start("BIAS", [1, 2, 3, 4])
    await ocps.next_job(1)
    ocps.end("job1")
    await asyncio.wait_for(processor.wait(), STD_TIMEOUT)
    assert ocps.submitted[0][0] == "generate BIAS" and ocps.submitted[0][1].endswith("cpBias.yaml")
    assert processor.job_records()["job1"]["part"] == "whole"


async def test_cancel_stops_the_per_exposure_jobs() -> None:
    processor, ocps, _ = _processor()
    processor.arrived("BIAS", 1)
    await ocps.next_job(1)
    assert len(processor.tasks) == 1
    await asyncio.wait_for(processor.cancel(), STD_TIMEOUT)
    assert all(task.done() for task in processor.tasks)


async def test_a_job_of_one_failed_exposure_after_others_ran_leaves_it_out() -> None:
    processor, ocps, repository = _processor()
    processor.arrived("BIAS", 1)
    await ocps.next_job(1)
    processor.arrived("BIAS", 2)
    ocps.end("job1")
    await ocps.next_job(2)
    # The job holds exposure 2 alone, whose ISR failed: the ISR ran for exposure 1 before.
    repository.processed["u/ocps/job2"] = {2: []}
    ocps.end("job2", exit_code=1)
    for exposure in (3, 4):
        processor.arrived("BIAS", exposure)
    await ocps.next_job(3)
    ocps.end("job3")
    processor.start("BIAS", [1, 2, 3, 4])
    await ocps.next_job(4)
    ocps.end("job4")
    await asyncio.wait_for(processor.wait(), STD_TIMEOUT)
    assert list(processor.left_out.to_dict()["BIAS"]) == [2]
    assert ocps.submitted[3][3] == "detector IN (0,) AND exposure IN (1, 3, 4)"
    assert processor.outcomes["BIAS"].status.value == "certified"


async def test_a_first_job_whose_isr_failed_for_all_is_judged_by_the_next(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Exposure 1's only detector cannot be read: the first job's one ISR quantum ran and failed,
    # before any exposure was processed. The next job processes exposures 2 and 3, so exposure
    # 1 was at fault.
    processor, ocps, repository = _processor()
    processor.arrived("BIAS", 1)
    await ocps.next_job(1)
    repository.processed["u/ocps/job1"] = {1: []}
    repository.crashed["u/ocps/job1"] = {1: [0]}
    ocps.end("job1", exit_code=1)
    for exposure in (2, 3):
        processor.arrived("BIAS", exposure)
    await ocps.next_job(2)
    assert ocps.submitted[1][3] == "detector IN (0,) AND exposure IN (2, 3)"
    assert "generate BIAS: the ISR of job job1 failed for 1 before any exposure was processed" in caplog.text
    assert not processor.left_out.to_dict().get("BIAS")  # not judged yet
    await _end_job2_then_the_run(processor, ocps)
    why = processor.left_out.to_dict()["BIAS"][1]
    assert (
        why == "processing failed for detector(s) 0 in job job1 (generate BIAS; log /jobs/job1/outs/ocps.log)"
    )
    assert ocps.submitted[3][3] == "detector IN (0,) AND exposure IN (2, 3, 4)"
    assert processor.outcomes["BIAS"].status.value == "certified"


@pytest.mark.parametrize("more", [True, False])
async def test_no_job_whose_isr_succeeded_for_any_fails_the_step(more: bool) -> None:
    # The first job's ISR failed for everything; then the next job's did too (``more``: the
    # pipeline is at fault), or no other exposure was left to try. The step fails, nobody blamed.
    processor, ocps, repository = _processor()
    processor.arrived("BIAS", 1)
    await ocps.next_job(1)
    repository.processed["u/ocps/job1"] = {1: []}
    repository.crashed["u/ocps/job1"] = {1: [0]}
    ocps.end("job1", exit_code=1)
    if more:
        processor.arrived("BIAS", 2)
        await ocps.next_job(2)
        repository.processed["u/ocps/job2"] = {2: []}
        repository.crashed["u/ocps/job2"] = {2: [0]}
        ocps.end("job2", exit_code=1)
        processor.start("BIAS", [1, 2])
    else:
        processor.start("BIAS", [1])
    await asyncio.wait_for(processor.wait(), STD_TIMEOUT)
    outcome = processor.outcomes["BIAS"]
    failed_job = "job2" if more else "job1"
    assert outcome.status.value == "failed" and f"{failed_job} failed" in outcome.reason, outcome.reason
    assert len(ocps.submitted) == (2 if more else 1)
    assert not processor.left_out.to_dict().get("BIAS")


async def test_a_first_job_whose_isr_never_ran_fails_the_step_at_once() -> None:
    # The job failed before any quantum ran (no quantum graph, say): no exposure is suspected,
    # even when the next exposures would have been processed.
    processor, ocps, repository = _processor()
    processor.arrived("BIAS", 1)
    await ocps.next_job(1)
    repository.processed["u/ocps/job1"] = {1: []}
    ocps.end("job1", exit_code=1)
    await asyncio.sleep(0.05)
    assert processor.pointless("BIAS").startswith("BIAS cannot be made (BIAS: generate BIAS (per-exposure 1)")
    processor.start("BIAS", [1, 2, 3, 4])
    await asyncio.wait_for(processor.wait(), STD_TIMEOUT)
    assert len(ocps.submitted) == 1
    outcome = processor.outcomes["BIAS"]
    assert outcome.status.value == "failed" and "job1 failed" in outcome.reason, outcome.reason
    assert not processor.left_out.to_dict().get("BIAS")
