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

"""What OCPS jobs leave in the repository: products kept, intermediates removed."""

import asyncio
import concurrent.futures
import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
from lsst.daf.butler import Butler, CollectionType, DatasetType

from fixtures.repositories import new_repository
from fixtures.script_runs import reports_requested, run_script
from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations.cp.pipeline_paths import PipelinePaths
from lsst.ts.calibrations.repo.certify import certify_calibrations
from lsst.ts.calibrations.repo.images import Exposure
from lsst.ts.calibrations.repo.ingest import ingest_raws
from lsst.ts.calibrations.sal import ScriptState
from lsst.ts.calibrations.scripts import MakeComCamCalibrations
from lsst.ts.calibrations.scripts.pipeline_split import PipelineSplit
from lsst.ts.calibrations.sim.make_calibration_set import make_calibration_set
from lsst.ts.calibrations.sim.observatory import SimulatedObservatory
from lsst.ts.calibrations.sim.ocps_job import OcpsJob
from lsst.ts.calibrations.sim.ocps_job_phase import OcpsJobPhase
from lsst.ts.calibrations.sim.ocps_output_policy import OcpsOutputPolicy
from lsst.ts.calibrations.sim.sensor_model import SensorModel
from postgres_fixture import BOTH_REGISTRIES

DATE = "2022-11-04"
CALIB = "LSSTComCam/calib/daily/policy.2022NOV04"
INTERMEDIATES = {
    "cpBiasIsrExp",
    "cpDarkIsrExp",
    "cpDarkRemoveCRIsrExp",
    "cpFlatIsrExp",
    "cpFlatStatistics",
    "cpFlatNormalizeScales",
    "cpPtcIsrExp",
    "cpDefectsIsrExp",
    "cpPartialDefects",
}


def pipeline(name: str) -> str:
    return str(PipelinePaths().pipelines_dir / name)


@pytest.mark.parametrize(
    "name, own, upstream",
    [
        ("cpBias.yaml", {"cpBiasIsrExp"}, set()),
        ("cpDark.yaml", {"cpDarkIsrExp", "cpDarkRemoveCRIsrExp"}, set()),
        ("cpFlat.yaml", {"cpFlatIsrExp", "cpFlatStatistics", "cpFlatNormalizeScales"}, set()),
        ("cpPtc.yaml", {"cpPtcIsrExp"}, set()),
        ("cpPtc.yaml#generateGainFromFlatPair", {"cpPtcIsrExp"}, set()),
        ("cpDefects.yaml", {"cpDefectsIsrExp", "cpPartialDefects"}, set()),
        ("verifyBias.yaml", set(), set()),
        ("verifyDark.yaml", set(), set()),
        ("verifyFlat.yaml", set(), set()),
        # The per-exposure part of a pipeline leaves what its later part reads ...
        ("cpFlat.yaml#isr,cpFlatMeasure", set(), set()),
        ("cpPtc.yaml#isr", set(), set()),
        # ... and the run-level part removes it from the earlier jobs' runs.
        (
            "cpFlat.yaml#cpFlatNormalize,cpFlatCombine",
            {"cpFlatNormalizeScales"},
            {"cpFlatIsrExp", "cpFlatStatistics"},
        ),
        ("cpDefects.yaml#mergeDefects", set(), {"cpPartialDefects"}),
    ],
)
def test_removable_dataset_types(name: str, own: set[str], upstream: set[str]) -> None:
    assert OcpsOutputPolicy().removable(pipeline(name)) == (own, upstream)


def test_products_and_records_always_kept() -> None:
    policy = OcpsOutputPolicy()
    for name in (
        "bias",
        "dark",
        "flat",
        "defects",
        "ptc",
        "cpPtcExtract",
        "verifyFlatProc",
        "verifyBiasDetStats",
        "verifyDarkExpStats",
        "verifyFlatStats",
        "isr_metadata",
        "isr_log",
        "isr_config",
        "packages",
    ):
        assert policy.is_kept(name), name
    assert not any(policy.is_kept(name) for name in INTERMEDIATES)
    # Nothing removed when told to keep intermediates, nor for an unknown kept list entry.
    assert OcpsOutputPolicy(kept=("cp*",)).removable(pipeline("cpBias.yaml")) == (set(), set())


@pytest.mark.parametrize("phase", [OcpsJobPhase.ERROR, OcpsJobPhase.ABORTED])
async def test_failed_job_keeps_everything(phase: OcpsJobPhase, tmp_path: Path) -> None:
    """A job that did not complete is left as it is (no butler is even opened)."""
    job = make_job(tmp_path, "x", "cpBias.yaml", phase)
    await OcpsOutputPolicy().apply(job, str(tmp_path / "no-repository"), logging.getLogger("test"))
    assert not job.log_file.exists()


def make_job(tmp_path: Path, job_id: str, pipeline_name: str, phase: OcpsJobPhase) -> OcpsJob:
    job = OcpsJob(
        job_id=job_id,
        parameters={},
        pipeline=pipeline(pipeline_name),
        prereq_jobs=[],
        job_dir=tmp_path / "jobs" / job_id,
        output_collection=f"u/ocps/{job_id}",
        output_run=f"u/ocps/{job_id}/run",
        command=[],
        processes=1,
        requested_processes=None,
    )
    job.finish(phase, "" if phase == OcpsJobPhase.COMPLETED else "failed")
    return job


@pytest.mark.slow
async def test_run_level_job_removes_what_earlier_jobs_left(tmp_path: Path, empty_repository: Path) -> None:
    """Per-exposure jobs keep their ISR images; the run-level job removes them from their runs."""
    raws = tmp_path / "raws"
    make_calibration_set(
        raws,
        model=SensorModel.from_yaml(None, seed=4),
        geometry_name="reduced",
        detectors=[0],
        n_bias=2,
        n_dark=0,
        flat_times=(),
    )
    repo = tmp_path / "repo"
    with new_repository(empty_repository, repo) as butler:
        refs = ingest_raws(butler, sorted(raws.glob("*.fits")))
        for name, dimensions, storage_class in (
            ("cpFlatIsrExp", ("instrument", "exposure", "detector"), "ComCamExposure"),
            ("cpFlatStatistics", ("instrument", "exposure", "detector"), "StructuredDataDict"),
            ("cpFlatNormalizeScales", ("instrument",), "StructuredDataDict"),
        ):
            butler.registry.registerDatasetType(
                DatasetType(name, dimensions, storage_class, universe=butler.dimensions)
            )
        # Two per-exposure jobs (isr, cpFlatMeasure), one exposure each, then the run-level job.
        for ref, job_id in zip(refs, ("early1", "early2"), strict=True):
            run = f"u/ocps/{job_id}/run"
            butler.collections.register(run)
            butler.put(Exposure(np.zeros((4, 6), np.float32)), "cpFlatIsrExp", ref.dataId, run=run)
            butler.put({"LEVEL": 1.0}, "cpFlatStatistics", ref.dataId, run=run)
        butler.collections.register("u/ocps/final/run")
        butler.put({"SCALE": 1.0}, "cpFlatNormalizeScales", instrument="LSSTComCam", run="u/ocps/final/run")
        butler.collections.register("u/ocps/final", CollectionType.CHAINED)
        butler.collections.redefine_chain(
            "u/ocps/final",
            ["u/ocps/final/run", "u/ocps/early1/run", "u/ocps/early2/run", "LSSTComCam/raw/all"],
        )
    log = logging.getLogger("test")
    policy = OcpsOutputPolicy()
    early = make_job(tmp_path, "early1", "cpFlat.yaml#isr,cpFlatMeasure", OcpsJobPhase.COMPLETED)
    await policy.apply(early, str(repo), log)
    assert "no intermediate datasets to remove" in early.log_file.read_text()
    assert early.record()["intermediates"] == "removed"
    failed = make_job(tmp_path, "final", "cpFlat.yaml#cpFlatNormalize,cpFlatCombine", OcpsJobPhase.ERROR)
    await policy.apply(failed, str(repo), log)
    assert failed.record()["intermediates"] is None
    with Butler.from_config(str(repo)) as butler:
        assert (
            len(
                butler.query_datasets("cpFlatIsrExp", collections="u/ocps/*", find_first=False, explain=False)
            )
            == 2
        )
    final = make_job(tmp_path, "final", "cpFlat.yaml#cpFlatNormalize,cpFlatCombine", OcpsJobPhase.COMPLETED)
    await policy.apply(final, str(repo), log)
    with Butler.from_config(str(repo)) as butler:
        for name in ("cpFlatIsrExp", "cpFlatStatistics", "cpFlatNormalizeScales"):
            assert not butler.query_datasets(name, collections="u/ocps/*", find_first=False, explain=False), (
                name
            )
        assert len(butler.query_datasets("raw", collections="LSSTComCam/raw/all", explain=False)) == 2
    assert not list((repo / "u" / "ocps").rglob("*.fits"))
    text = final.log_file.read_text()
    assert (
        "cpFlatIsrExp x1 from u/ocps/early1/run" in text and "cpFlatIsrExp x1 from u/ocps/early2/run" in text
    )
    assert "cpFlatNormalizeScales x1 from u/ocps/final/run" in text


def ways_submitted(pipeline_file: Path) -> list[str]:
    """The pipeline URLs the script submits for a pipeline file: whole, and each part of its splits."""
    urls = [str(pipeline_file)]
    for name in PipelineSplit.SPLITS:
        stem, _, subset = name.partition("#")
        if stem != pipeline_file.stem:
            continue
        split = PipelineSplit.of(f"{pipeline_file}#{subset}" if subset else str(pipeline_file))
        assert split is not None
        urls += [split.per_exposure_url(str(pipeline_file)), split.run_level_url(str(pipeline_file))]
    return urls


@pytest.mark.slow
@pytest.mark.parametrize("instrument", ["LSSTComCam", "LSSTCam", "LATISS"])
def test_removal_takes_nothing_read_after_job_result(
    instrument: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a job's removal takes is read by nothing that may run after its ``job_result``.

    The OCPS removes a completed job's intermediates after writing its
    ``job_result``, while the script reads the job's results (verification
    statistics, the products it certifies, gains: all kept types) and
    submits later jobs that take this run or the earlier runs as inputs
    (the run-level part of the same pipeline, or a verification reading a
    generation's product). So for every way the script submits each
    pipeline (whole, per-exposure part, run-level part), a removed type is
    never kept, never an input of a task of the same pipeline that has not
    run yet, and never read from its inputs by another pipeline.
    """
    from lsst.pipe.base import Pipeline

    paths = PipelinePaths(instrument=instrument)
    for name, value in paths.environment().items():
        monkeypatch.setenv(name, value)
    files = sorted(paths.pipelines_dir.glob("*.yaml"))
    graphs = {path.stem: Pipeline.from_uri(str(path)).to_graph() for path in files}
    inputs_of = {
        stem: {
            name: {task.label for task in graph.consumers_of(name)}
            for name in graph.dataset_types
            if graph.consumers_of(name)
        }
        for stem, graph in graphs.items()
    }
    # What a pipeline reads from its input collections (it makes the rest itself, in its own run).
    overall_inputs = {
        stem: {name for name in inputs_of[stem] if graph.producer_of(name) is None}
        for stem, graph in graphs.items()
    }
    policy = OcpsOutputPolicy()
    checked = 0
    for path in files:
        for url in ways_submitted(path):
            own, upstream = policy.removable(url)
            removed = own | upstream
            checked += bool(removed)
            ran = set(url.partition("#")[2].split(",")) if "#" in url else set(graphs[path.stem].tasks.keys())
            graph = graphs[path.stem]
            later = set(graph.tasks.keys()) - ran
            for name in removed:
                assert not policy.is_kept(name), (url, name)
                assert not inputs_of[path.stem].get(name, set()) & later - {
                    ancestor for label in ran for ancestor in _upstream_labels(graph, label)
                }, (url, name)
                for other, inputs in overall_inputs.items():
                    if other != path.stem:
                        assert name not in inputs, f"{url} removes {name}, an input of {other}"
    assert checked >= 5, "the check saw too few removals to mean anything"


def _upstream_labels(graph: Any, label: str) -> set[str]:
    """Labels of the tasks a task depends on, directly or not (they have run when it runs)."""
    import networkx

    xgraph = graph.make_task_xgraph()
    node = next(key for key in xgraph.nodes if key.name == label)
    return {key.name for key in networkx.ancestors(xgraph, node)}


@pytest.mark.slow
@BOTH_REGISTRIES
async def test_removal_beside_readers_and_writers(
    tmp_path: Path, registry_db: str, empty_repository: Path
) -> None:
    """The removal runs while the client certifies and reads the job's products and later jobs write.

    Nothing fails on either side (SQLite's and PostgreSQL's registries), the
    intermediates of the chained runs are gone, and everything else (the
    products, what the later job wrote, a run not chained) is there.
    """
    repo = tmp_path / "repo"
    detectors = range(9)
    with new_repository(empty_repository, repo, registry_db=registry_db) as butler:
        for name, dimensions, storage_class, calibration in (
            ("cpFlatIsrExp", ("instrument", "detector"), "ComCamExposure", False),
            ("cpFlatStatistics", ("instrument", "detector"), "StructuredDataDict", False),
            ("cpFlatNormalizeScales", ("instrument",), "StructuredDataDict", False),
            ("bias", ("instrument", "detector"), "ComCamExposure", True),
            ("verifyBiasStats", ("instrument",), "StructuredDataDict", False),
        ):
            butler.registry.registerDatasetType(
                DatasetType(
                    name, dimensions, storage_class, universe=butler.dimensions, isCalibration=calibration
                )
            )
        image = Exposure(np.zeros((8, 8), np.float32))
        for job_id in ("early1", "early2", "other"):
            run = f"u/ocps/{job_id}/run"
            butler.collections.register(run)
            for detector in detectors:
                butler.put(image, "cpFlatIsrExp", instrument="LSSTComCam", detector=detector, run=run)
                butler.put(
                    {"LEVEL": 1.0}, "cpFlatStatistics", instrument="LSSTComCam", detector=detector, run=run
                )
        final = "u/ocps/final/run"
        butler.collections.register(final)
        butler.put({"SCALE": 1.0}, "cpFlatNormalizeScales", instrument="LSSTComCam", run=final)
        butler.put({"MEAN": 0.5}, "verifyBiasStats", instrument="LSSTComCam", run=final)
        for detector in detectors:
            butler.put(image, "bias", instrument="LSSTComCam", detector=detector, run=final)
        butler.collections.register("u/ocps/final", CollectionType.CHAINED)
        butler.collections.redefine_chain(
            "u/ocps/final", [final, "u/ocps/early1/run", "u/ocps/early2/run", "LSSTComCam/raw/all"]
        )
    job = make_job(tmp_path, "final", "cpFlat.yaml#cpFlatNormalize,cpFlatCombine", OcpsJobPhase.COMPLETED)

    def certify_and_read() -> int:
        with Butler.from_config(str(repo), writeable=True) as client:
            stats = client.get("verifyBiasStats", instrument="LSSTComCam", collections=final)
            assert stats == {"MEAN": 0.5}
            refs = certify_calibrations(
                client, final, "LSSTComCam/calib/test", "bias", "2024-10-24", "2024-10-25"
            )
            for ref in refs:
                assert client.get(ref).image.shape == (8, 8)
            return len(refs)

    def later_job_writes() -> int:
        with Butler.from_config(str(repo), writeable=True) as writer:
            run = "u/ocps/later/run"
            writer.collections.register(run)
            for detector in detectors:
                writer.put(image, "cpFlatIsrExp", instrument="LSSTComCam", detector=detector, run=run)
            return len(writer.query_datasets("cpFlatIsrExp", collections=run, explain=False))

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        removal = asyncio.create_task(OcpsOutputPolicy().apply(job, str(repo), logging.getLogger("test")))
        futures = [pool.submit(certify_and_read), pool.submit(later_job_writes)]
        await asyncio.wait_for(removal, STD_TIMEOUT)
        results = [await asyncio.wait_for(asyncio.wrap_future(f), STD_TIMEOUT) for f in futures]
    assert results == [len(detectors), len(detectors)]
    assert job.intermediates == "removed", job.intermediates_detail
    with Butler.from_config(str(repo)) as butler:

        def count(name: str, run: str) -> int:
            return len(butler.query_datasets(name, collections=run, find_first=False, explain=False))

        for run in ("u/ocps/early1/run", "u/ocps/early2/run"):
            assert count("cpFlatIsrExp", run) == count("cpFlatStatistics", run) == 0
        assert count("cpFlatNormalizeScales", final) == 0
        assert count("bias", final) == len(detectors) and count("verifyBiasStats", final) == 1
        assert count("bias", "LSSTComCam/calib/test") == len(detectors)
        assert count("cpFlatIsrExp", "u/ocps/other/run") == count("cpFlatIsrExp", "u/ocps/later/run") == 9


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def generation_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[SimulatedObservatory, MakeComCamCalibrations]]:
    """One small generation run with verification and gains from flat pairs, one detector.

    (The PTC and defects pipelines' intermediates are pinned by `test_removable_dataset_types`;
    the procedure document's PTC and defects examples run in the scripts' end-to-end tests.)
    The run's report is not built: these tests read the repository and the jobs.
    """

    root = tmp_path_factory.mktemp("policy")
    with pytest.MonkeyPatch.context() as monkeypatch, reports_requested():
        monkeypatch.setenv("TS_CALIBRATIONS_RUN_RECORDS", str(root / "records"))
        # The jobs run -j 1 (n_processes): one quantum worker is all the OCPS needs to start.
        async with SimulatedObservatory(
            root / "repo",
            time_scale=0.01,
            date=DATE,
            seed=3,
            detectors=[0],
            heartbeat_interval=1.0,
            ocps_max_processes=1,
        ) as observatory:
            config: dict[str, Any] = dict(
                repo=str(observatory.repo),
                detectors=[0],
                n_processes=1,
                script_mode="BIAS_DARK_FLAT",
                n_bias=2,
                n_dark=2,
                n_flat=2,
                exp_times_flat=[1, 1],
                generate_calibrations=True,
                do_gain_from_flat_pairs=True,
                calib_collection=CALIB,
                certify_calib_begin_date="2022-11-04",
                certify_calib_end_date="2022-11-05",
            )
            script = await run_script(MakeComCamCalibrations, config, group_id="policy")
            # The last job's removal runs after its job_result, while the script ends.
            assert observatory.ocps is not None
            await asyncio.wait_for(observatory.ocps.wait_for_removals(), STD_TIMEOUT)
            yield observatory, script


def job_records(observatory: SimulatedObservatory) -> list[dict[str, Any]]:
    assert observatory.ocps is not None and observatory.ocps.jobs_root is not None
    return [json.loads(path.read_text()) for path in sorted(observatory.ocps.jobs_root.glob("*/job.json"))]


@pytest.mark.slow
async def test_run_leaves_products_not_intermediates(
    generation_run: tuple[SimulatedObservatory, MakeComCamCalibrations],
) -> None:
    observatory, script = generation_run
    assert script.state.state == ScriptState.DONE, script.state.reason
    records = job_records(observatory)
    assert records and all(r["phase"] == "COMPLETED" for r in records)
    with Butler.from_config(str(observatory.repo)) as butler:
        runs = [r["outputRun"] for r in records]
        present = {
            ref.datasetType.name
            for name in butler.registry.queryDatasetTypes(...)
            for ref in butler.query_datasets(
                name, collections=runs, find_first=False, explain=False, limit=None
            )
        }
    assert not present & INTERMEDIATES, f"intermediates left: {sorted(present & INTERMEDIATES)}"
    wanted = {"bias", "dark", "flat", "cpPtcExtract", "packages"}
    for kind in ("Bias", "Dark", "Flat"):
        wanted |= {
            f"verify{kind}Proc",
            f"verify{kind}DetStats",
            f"verify{kind}ExpStats",
            f"verify{kind}Stats",
        }
    assert wanted <= present, f"missing: {sorted(wanted - present)}"
    assert {"isr_log", "isr_metadata", "isr_config"} <= present
    # No file of an intermediate is left on disk either.
    files = [p.name for p in observatory.repo.rglob("*.fits") if "/u/ocps/" in p.as_posix()]
    assert files and not [f for f in files if f.split("_")[0] in INTERMEDIATES]
    # The jobs' logs say what their policy removed: with incremental processing the ISR images
    # of the per-exposure jobs' runs are removed by the run-level job that read them, one entry
    # a run, so the counts are summed over every job.
    removed: dict[str, int] = {}
    for record in records:
        last = Path(record["logFile"]).read_text().splitlines()[-1]
        for name, count in re.findall(r"(\w+) x(\d+) from ", last):
            removed[name] = removed.get(name, 0) + int(count)
    assert removed.get("cpBiasIsrExp") == 2 and removed.get("cpPtcIsrExp") == 2, removed


@pytest.mark.slow
async def test_document_fetches_still_work(
    generation_run: tuple[SimulatedObservatory, MakeComCamCalibrations],
) -> None:
    """The procedure document's retrieval code, after the intermediates are gone."""
    observatory, script = generation_run
    assert script.state.state == ScriptState.DONE, script.state.reason
    import lsst.daf.butler as dB  # noqa: N812 (the procedure document's code)

    butler = dB.Butler(str(observatory.repo), collections=[CALIB])  # type: ignore[abstract]
    try:
        exposure = script.kept["BIAS"][:2]
        flat_id = script.kept["FLAT"][0]
        for name in ("bias", "dark"):
            assert butler.get(name, detector=0, exposure=exposure[0], instrument="LSSTComCam") is not None
        flat = butler.get("flat", detector=0, exposure=flat_id, instrument="LSSTComCam")
        assert np.isfinite(flat.getImage().getArray()).all()
    finally:
        butler.close()
    collections = [job["outputCollection"] for job in job_records(observatory)]
    with Butler.from_config(str(observatory.repo), collections=collections) as butler:
        cp_cov = butler.get("cpPtcExtract", detector=0, exposure=flat_id, instrument="LSSTComCam")
        assert cp_cov.gain and cp_cov.noise
        assert butler.get("verifyFlatStats", instrument="LSSTComCam") is not None
        det_stats = butler.get("verifyFlatDetStats", instrument="LSSTComCam", detector=0, exposure=flat_id)
        assert det_stats is not None
        im_proc = butler.get("verifyFlatProc", detector=0, exposure=flat_id, instrument="LSSTComCam")
        calib_array = im_proc.getImage().getArray()
        q25, q50, q75 = np.percentile(calib_array.flatten(), [25, 50, 75])
        assert q25 <= q50 <= q75
