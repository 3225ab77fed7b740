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
verification statistics and verdicts, and the gains.
"""

import asyncio
import itertools
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from lsst.daf.butler import Butler
from lsst.pipe.base import Pipeline

from fixtures.timeouts import RUN_TIMEOUT, STD_TIMEOUT
from lsst.ts.calibrations.cp.pipeline_paths import PipelinePaths
from lsst.ts.calibrations.repo.repo_alias import INDEX_ENV_VAR, REPOSITORIES_ENV_VAR
from lsst.ts.calibrations.sal import ScriptState
from lsst.ts.calibrations.scripts import MakeComCamCalibrations
from lsst.ts.calibrations.scripts.pipeline_split import PipelineSplit
from lsst.ts.calibrations.scripts.processing_job import JobPart
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
    dimensions = {
        label: set(node.raw_dimensions)
        for label, node in graph.tasks.items()
    }
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


async def run_script(config: dict[str, Any], *, incremental: bool) -> RunRecord:
    """Configure and run the script (incrementally or the one-job way); return its run record."""
    script = MakeComCamCalibrations(index=next(_indices))
    script.incremental_processing = incremental
    await asyncio.wait_for(script.start_task, STD_TIMEOUT)
    data = script.cmd_configure.DataType()
    data.config = yaml.safe_dump(config)
    await asyncio.wait_for(script.do_configure(data), STD_TIMEOUT)
    await asyncio.wait_for(script.do_run(None), RUN_TIMEOUT)
    assert script.state.state == ScriptState.DONE, script.state.reason
    assert script.run_record_path is not None
    return RunRecord.read(script.run_record_path)


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
        **{f"input_collections_verify_{t}": [f"{calib}.incremental"] for t in ("bias", "dark", "flat")},
    )
    async with SimulatedObservatory(
        tmp_path / "repo", time_scale=0.02, date=DATE, seed=5, detectors=[0], heartbeat_interval=1.0
    ) as obs:
        repo = str(obs.repo)
        generated = await run_script(
            {**generation, "repo": repo, "calib_collection": f"{calib}.incremental"}, incremental=True
        )
        regenerated = await run_script(
            {
                **generation,
                "repo": repo,
                "calib_collection": f"{calib}.one_job",
                "reprocess_run_record": os.fspath(environment / sorted(os.listdir(environment))[-1]),
            },
            incremental=False,
        )
        verified = await run_script({**verification, "repo": repo}, incremental=True)
        verified_path = environment / sorted(os.listdir(environment))[-1]
        reverified = await run_script(
            {**verification, "repo": repo, "reprocess_run_record": os.fspath(verified_path)},
            incremental=False,
        )
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
    # Verification statistics and verdicts, gains.
    for first, second in ((generated, regenerated), (verified, reverified)):
        a, b = _verification(tmp_path / "repo", first), _verification(tmp_path / "repo", second)
        assert set(a) == set(b) and a
        _assert_same(a, b, "verification")
    assert generated.gains is not None and reverified.gains is not None and verified.gains is not None
    assert generated.gains.to_dict() == regenerated.gains.to_dict()
    assert verified.gains.to_dict() == reverified.gains.to_dict()
