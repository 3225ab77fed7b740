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

"""The OCPS's BPS backend: a ctrl_bps workflow on local Parsl workers, success read per quantum."""

import asyncio
import itertools
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest
import yaml
from lsst.daf.butler import Butler

from fixtures.timeouts import PIPETASK_TIMEOUT, STD_TIMEOUT
from lsst.ts.calibrations.cp.pipeline_paths import PipelinePaths
from lsst.ts.calibrations.repo.ingest import ingest_raws
from lsst.ts.calibrations.repo.repository import RAW_RUN, bootstrap_repository
from lsst.ts.calibrations.sal import AckError, Domain, Remote, SalRetCode, State
from lsst.ts.calibrations.sim.make_calibration_set import make_calibration_set
from lsst.ts.calibrations.sim.ocps_bps_backend import OcpsBpsBackend
from lsst.ts.calibrations.sim.ocps_csc import INJECTED_FAILURE_LABEL, OcpsCsc
from lsst.ts.calibrations.sim.sensor_model import SensorModel

# bps submit: a quantum-graph build, an init job, Parsl start-up, the clusters and
# the final aggregation, each its own interpreter; leave room for a loaded machine.
JOB_TIMEOUT = PIPETASK_TIMEOUT
DAY_OBS = 20241024
N_BIAS = 2
DETECTORS = (0, 1)
BIAS_PIPELINE = "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml"
BIAS_CONFIG = "-i LSSTComCam/calib --register-dataset-types -c isr:doDefect=False"
EXPOSURES = tuple(DAY_OBS * 100_000 + seq for seq in range(1, N_BIAS + 1))
QUERY = (
    f"instrument='LSSTComCam' AND detector IN ({', '.join(map(str, DETECTORS))}) "
    f"AND exposure IN ({', '.join(map(str, EXPOSURES))})"
)

_indices = itertools.count(60)


@pytest.fixture(scope="module")
def repo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bootstrapped repository with N_BIAS reduced-geometry biases of DETECTORS ingested."""
    root = tmp_path_factory.mktemp("ocps-bps")
    raws = root / "raws"
    make_calibration_set(
        raws,
        model=SensorModel.from_yaml(None, seed=11),
        geometry_name="reduced",
        detectors=list(DETECTORS),
        n_bias=N_BIAS,
        n_dark=0,
        flat_times=(),
        day_obs=DAY_OBS,
    )
    with bootstrap_repository(root / "repo") as butler:
        ingest_raws(butler, sorted(raws.glob("*.fits")))
    return root / "repo"


@asynccontextmanager
async def ocps(
    repo: Path, jobs_root: Path, backend: str, **kwargs: Any
) -> AsyncIterator[tuple[OcpsCsc, Remote]]:
    """An enabled OCPS with the given backend and a remote of it."""
    index = next(_indices)
    csc = OcpsCsc(
        repo,
        jobs_root=jobs_root,
        index=index,
        initial_state=State.ENABLED,
        execution_backend=backend,
        **kwargs,
    )
    try:
        await asyncio.wait_for(csc.start_task, STD_TIMEOUT)
        async with Domain() as domain:
            remote = Remote(domain, "OCPS", index)
            await asyncio.wait_for(remote.start_task, STD_TIMEOUT)
            yield csc, remote
    finally:
        await csc.close()


async def run_job(remote: Remote, config: str = BIAS_CONFIG, query: str = QUERY) -> dict[str, Any]:
    """Execute the bias pipeline; return the job record of its job_result."""
    results: dict[str, Any] = {}
    remote.evt_job_result.callback = lambda data: results.setdefault(data.job_id, data)
    ack = await remote.cmd_execute.set_start(
        wait_done=False,
        timeout=STD_TIMEOUT,
        pipeline=BIAS_PIPELINE,
        version="",
        config=config,
        data_query=query,
        prereq_jobs="",
        output_dataset_types="",
    )
    assert ack.ack == SalRetCode.CMD_INPROGRESS
    job_id = json.loads(ack.result)["job_id"]
    final = await remote.cmd_execute.next_ackcmd(ack, timeout=JOB_TIMEOUT)
    assert final.ack == SalRetCode.CMD_COMPLETE
    data = results[job_id]
    record = json.loads(data.result)
    assert data.exit_code == record["exitCode"]
    assert final.result.startswith(f"Job {job_id} {record['phase']}")
    return record


def biases(repo: Path, collection: str) -> dict[int, np.ndarray]:
    with Butler.from_config(str(repo), collections=collection) as butler:
        return {
            ref.dataId["detector"]: butler.get(ref).getImage().getArray()
            for ref in butler.query_datasets("bias", instrument="LSSTComCam")
        }


def test_options_and_clusters(tmp_path: Path) -> None:
    """Options a workflow takes or refuses; per-detector clusters split by a task without detector."""
    backend = OcpsBpsBackend(str(tmp_path), RAW_RUN)
    assert backend.check_options(["-i", "A,B", "--register-dataset-types", "-c", "isr:doDefect=False"]) == (
        "A",
        "B",
    )
    for option, words in (
        ("--no-versions", "'--no-versions' cannot be passed to a BPS workflow"),
        ("--skip-existing", "takes -j N, -i COLLECTIONS"),
    ):
        with pytest.raises(ValueError, match=words):
            backend.check_options([option])
    with pytest.raises(ValueError, match="braces"):
        backend.check_options(["-c", "isr:x={y}"])
    paths = PipelinePaths()
    det = {"dimensions": "detector"}
    run = {"dimensions": "instrument"}
    assert backend._clusters(paths.pipeline("cpBias")) == {
        "perDetector": {"pipetasks": "isr,cpBiasCombine", **det}
    }
    # cpFlatNormalize (instrument, physical_filter) sits between the detector tasks.
    assert backend._clusters(paths.pipeline("cpFlat")) == {
        "perDetector": {"pipetasks": "isr,cpFlatMeasure", **det},
        "perRun": {"pipetasks": "cpFlatNormalize", **run},
        "perDetector2": {"pipetasks": "cpFlatCombine", **det},
    }
    # The exposure and run merges of verification share one job.
    assert backend._clusters(paths.pipeline("verifyBias")) == {
        "perDetector": {"pipetasks": "isr,verifyBiasMeasure", **det},
        "perRun": {"pipetasks": "verifyBiasExpMerge,verifyBiasRunMerge", **run},
    }
    with pytest.raises(ValueError, match="keep_submit='sometimes' must be one of failed, always, never"):
        OcpsBpsBackend(str(tmp_path), RAW_RUN, keep_submit="sometimes")
    refused = "execution_backend='condor' must be one of 'pipetask', 'workers', 'bps'"
    with pytest.raises(ValueError, match=refused):
        OcpsCsc(tmp_path, execution_backend="condor")


def test_workflow_environment(tmp_path: Path) -> None:
    """bps finds pipetask beside this Python; zipfile's seek is right in the workflow's processes."""
    from lsst.ts.calibrations.sim import ocps_bps_backend

    env = OcpsBpsBackend(str(tmp_path), RAW_RUN).environment({"PATH": "/usr/bin", "PYTHONPATH": "/x"})
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert env["PYTHONPATH"].endswith("/x")
    check = "from lsst.ts.calibrations.sim.ocps_bps_backend import _zipfile_seek_fault as f; print(f())"
    python_path = os.pathsep.join([*env["PYTHONPATH"].split(os.pathsep)[:-1], *sys.path])
    process = subprocess.run(
        [sys.executable, "-c", check],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": python_path},
    )
    assert process.stdout.strip() == "False", process.stderr
    # The correction is applied only where needed.
    assert (str(ocps_bps_backend._SITE_DIR) in env["PYTHONPATH"]) == ocps_bps_backend._ZIPFILE_SEEK_FAULT


async def test_refused_option_fails_execute(repo_root: Path, tmp_path: Path) -> None:
    async with ocps(repo_root, tmp_path / "jobs", "bps") as (_, remote):
        with pytest.raises(AckError) as exc_info:
            await run_job(remote, config=f"--no-versions {BIAS_CONFIG}")
    assert exc_info.value.ackcmd.ack == SalRetCode.CMD_FAILED
    assert "'--no-versions' cannot be passed to a BPS workflow" in exc_info.value.ackcmd.result


@pytest.mark.slow
async def test_injected_failure_fails_bps_submit(repo_root: Path, tmp_path: Path) -> None:
    """inject_failure reaches the quantum-graph build: bps submit fails, the job ends ERROR with its code."""
    async with ocps(repo_root, tmp_path / "jobs", "bps") as (csc, remote):
        csc.inject_failure(count=1, reason="broken node")
        record = await run_job(remote)
    assert record["phase"] == "ERROR" and record["exitCode"] == 1
    assert record["returnCode"] not in (0, None)
    assert record["message"].startswith(f"bps submit ended with return code {record['returnCode']}")
    assert f"There are no tasks labeled '{INJECTED_FAILURE_LABEL}'" in Path(record["logFile"]).read_text()


@pytest.mark.slow
async def test_bps_job_equals_pipetask_job(repo_root: Path, tmp_path: Path) -> None:
    """The same bias job through pipetask and through bps/Parsl: identical biases; the workflow's shape."""
    async with ocps(repo_root, tmp_path / "pipetask-jobs", "pipetask") as (_, remote):
        reference = await run_job(remote)
    assert reference["phase"] == "COMPLETED"
    jobs_root = tmp_path / "bps-jobs"
    async with ocps(repo_root, jobs_root, "bps", bps_keep_submit="always") as (_, remote):
        record = await run_job(remote, config=f"-j 2 {BIAS_CONFIG}")
    assert record["phase"] == "COMPLETED", record["message"]
    assert record["exitCode"] == 0 and record["processes"] == 2
    job_dir = jobs_root / record["jobId"]
    assert record["commandLine"][-2:] == ["submit", str(job_dir / "bps" / "submit.yaml")]
    submit = yaml.safe_load((job_dir / "bps" / "submit.yaml").read_text())
    assert submit["wmsServiceClass"] == "lsst.ctrl.bps.parsl.ParslService"
    assert submit["site"]["local"]["cores"] == 2
    assert submit["payload"]["outputRun"] == record["outputRun"] == f"u/ocps/{record['jobId']}/run"
    assert submit["payload"]["inCollection"] == f"{RAW_RUN},LSSTComCam/calib"
    assert submit["extraQgraphOptions"] == "-c isr:doDefect=False"
    # One cluster job per detector ran the detector's quanta (isr of each bias, then the combine).
    logs = job_dir / "bps" / "submit" / "logs" / "perDetector"
    assert sorted(p.name for p in logs.glob("*.stderr")) == [f"perDetector_{d}.stderr" for d in DETECTORS]
    assert "Executed 3 quanta successfully" in (logs / "perDetector_0.stderr").read_text()
    assert "bps submit file" in Path(record["logFile"]).read_text()

    expected = biases(repo_root, reference["outputCollection"])
    got = biases(repo_root, record["outputCollection"])
    assert sorted(got) == sorted(expected) == list(DETECTORS)
    for detector in DETECTORS:
        np.testing.assert_array_equal(got[detector], expected[detector])


@pytest.mark.slow
async def test_failed_quantum_detected_though_bps_exits_0(repo_root: Path, tmp_path: Path) -> None:
    """A raw lost from the datastore: bps submit exits 0, the job fails naming the quanta without outputs."""
    with Butler.from_config(str(repo_root)) as butler:
        lost = Path(
            butler.getURI(
                "raw", instrument="LSSTComCam", detector=1, exposure=EXPOSURES[1], collections=RAW_RUN
            ).ospath
        )
    aside = lost.with_name(lost.name + ".aside")
    lost.rename(aside)
    jobs_root = tmp_path / "jobs"
    try:
        async with ocps(repo_root, jobs_root, "bps") as (_, remote):
            record = await run_job(remote, config=f"-j 1 {BIAS_CONFIG}")
    finally:
        aside.rename(lost)
    assert record["phase"] == "ERROR" and record["exitCode"] == 1
    assert record["returnCode"] == 0  # bps submit itself reported success
    message = record["message"]
    assert message.startswith("bps submit ended with 0 but 2 quanta wrote no outputs: ")
    assert f"isr@{{instrument: 'LSSTComCam', detector: 1, exposure: {EXPOSURES[1]}}}" in message
    assert "cpBiasCombine@{instrument: 'LSSTComCam', detector: 1}" in message
    # Detector 0's quanta ran; the failed job's submit folder and cluster logs are kept.
    assert list(biases(repo_root, record["outputCollection"])) == [0]
    logs = jobs_root / record["jobId"] / "bps" / "submit" / "logs" / "perDetector"
    assert "perDetector_1.stderr" in {p.name for p in logs.iterdir()}


def workflow_processes(job_dir: Path) -> list[psutil.Process]:
    """Processes started for a job's workflow: their command line names its submit folder."""
    marker = str(job_dir / "bps" / "submit") + "/"
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(marker in part for part in process.info.get("cmdline") or []):
            found.append(process)
    return found


def alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.slow
async def test_abort_ends_parsl_workers(repo_root: Path, tmp_path: Path) -> None:
    """abort_job while cluster jobs run: ABORTED, 255, and no Parsl worker pool or pipetask is left."""
    jobs_root = tmp_path / "jobs"
    async with ocps(repo_root, jobs_root, "bps", abort_grace_period=5.0) as (_, remote):
        ack = await remote.cmd_execute.set_start(
            wait_done=False,
            timeout=STD_TIMEOUT,
            pipeline=BIAS_PIPELINE,
            version="",
            config=f"-j 1 {BIAS_CONFIG}",
            data_query=QUERY,
            prereq_jobs="",
            output_dataset_types="",
        )
        job_id = json.loads(ack.result)["job_id"]
        job_dir = jobs_root / job_id
        # Wait for the Parsl worker pool (its own process group) to be running.
        async with asyncio.timeout(JOB_TIMEOUT):
            while not any(
                "process_worker_pool" in " ".join(p.info["cmdline"] or [])
                for p in await asyncio.to_thread(workflow_processes, job_dir)
            ):
                await asyncio.sleep(0.5)
        await remote.cmd_abort_job.set_start(job_id=job_id, timeout=STD_TIMEOUT + 10.0)
        final = await remote.cmd_execute.next_ackcmd(ack, timeout=STD_TIMEOUT)
    assert final.result.startswith(f"Job {job_id} ABORTED")
    record = json.loads((job_dir / "job.json").read_text())
    assert record["phase"] == "ABORTED" and record["exitCode"] == 255
    async with asyncio.timeout(STD_TIMEOUT):
        while left := [p for p in await asyncio.to_thread(workflow_processes, job_dir) if alive(p)]:
            await asyncio.sleep(0.2)
    assert not left
    # An aborted job keeps its submit folder (bps_keep_submit="failed").
    assert (job_dir / "bps" / "submit.yaml").is_file()
