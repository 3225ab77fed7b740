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

"""The OCPS's workers backend: same products as pipetask, a dying worker, no orphan worker."""

import asyncio
import io
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Container
from pathlib import Path
from typing import Any

import click
import numpy as np
import psutil
import pytest
import pytest_asyncio
import yaml
from lsst.daf.butler import Butler, CollectionType, DatasetRef, DatasetType
from lsst.daf.butler.registry import ConflictingDefinitionError
from lsst.daf.butler.registry.sql_registry import SqlRegistry

from fixtures.repositories import new_repository
from fixtures.timeouts import PIPETASK_TIMEOUT, STD_TIMEOUT
from lsst.ts.calibrations.cp.isr import IsrTask
from lsst.ts.calibrations.cp.pipeline_paths import PipelinePaths
from lsst.ts.calibrations.repo.ingest import ingest_raws
from lsst.ts.calibrations.repo.repository import bootstrap_repository
from lsst.ts.calibrations.sal import Domain, Remote, SalRetCode, State
from lsst.ts.calibrations.sim.make_calibration_set import make_calibration_set
from lsst.ts.calibrations.sim.ocps_csc import OcpsCsc
from lsst.ts.calibrations.sim.quantum_worker import QuantumWorker
from lsst.ts.calibrations.sim.quantum_worker_butler import QuantumWorkerButler
from lsst.ts.calibrations.sim.quantum_worker_planner import QuantumWorkerPlanner
from lsst.ts.calibrations.sim.sensor_model import SensorModel
from postgres_fixture import BOTH_REGISTRIES

# Workers import the middleware once (several seconds on a loaded machine); jobs are small.
JOB_TIMEOUT = PIPETASK_TIMEOUT
DAY_OBS = 20241025
N_BIAS = 3
DETECTORS = (0, 1)
BIAS_PIPELINE = "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml"
BIAS_CONFIG = "-i LSSTComCam/calib --register-dataset-types -c isr:doDefect=False"
QUERY = (
    f"instrument='LSSTComCam' AND detector IN ({', '.join(map(str, DETECTORS))}) "
    f"AND exposure IN ({', '.join(str(DAY_OBS * 100_000 + s) for s in range(1, N_BIAS + 1))})"
)

_indices = itertools.count(60)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with N_BIAS reduced-geometry biases of DETECTORS."""
    root = tmp_path_factory.mktemp("ocps_workers")
    make_calibration_set(
        root / "raws",
        model=SensorModel.from_yaml(None, seed=5),
        geometry_name="reduced",
        detectors=list(DETECTORS),
        n_bias=N_BIAS,
        n_dark=0,
        flat_times=(),
        day_obs=DAY_OBS,
    )
    with bootstrap_repository(root / "repo") as butler:
        ingest_raws(butler, sorted((root / "raws").glob("*.fits")))
    return root / "repo"


class Client:
    """An ENABLED OCPS (workers backend) and a remote that submits and waits for job results."""

    def __init__(self, csc: OcpsCsc, remote: Remote) -> None:
        self.csc = csc
        self.remote = remote

    async def submit(self, config: str = BIAS_CONFIG) -> tuple[str, Any]:
        ack = await self.remote.cmd_execute.set_start(
            wait_done=False,
            timeout=STD_TIMEOUT,
            pipeline=BIAS_PIPELINE,
            version="",
            config=config,
            data_query=QUERY,
            prereq_jobs="",
            output_dataset_types="",
        )
        assert ack.ack == SalRetCode.CMD_INPROGRESS
        return json.loads(ack.result)["job_id"], ack

    async def run(self, config: str = BIAS_CONFIG) -> dict[str, Any]:
        """Run a job to its end; return its final record."""
        job_id, ack = await self.submit(config)
        final = await self.remote.cmd_execute.next_ackcmd(ack, timeout=JOB_TIMEOUT)
        assert final.ack == SalRetCode.CMD_COMPLETE
        return self.csc.jobs[job_id].record()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_client(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    """One ENABLED OCPS (workers backend, max_processes=2) for the module's job tests.

    Its two workers pay their imports once for all of them; each test gets it
    through `client`, which checks that it is idle and sets it back.
    """
    index = next(_indices)
    csc = OcpsCsc(
        repo,
        jobs_root=tmp_path_factory.mktemp("ocps_workers_jobs"),
        index=index,
        initial_state=State.ENABLED,
        abort_grace_period=5.0,
        max_processes=2,
        execution_backend="workers",
        keep_intermediates=True,  # the ISR images are compared too
    )
    await asyncio.wait_for(csc.start_task, JOB_TIMEOUT)
    try:
        async with Domain() as domain:
            remote = Remote(domain, "OCPS", index)
            await asyncio.wait_for(remote.start_task, STD_TIMEOUT)
            yield Client(csc, remote)
    finally:
        await csc.close()


@pytest_asyncio.fixture(loop_scope="module")
async def client(shared_client: Client) -> AsyncIterator[Client]:
    """The module's OCPS, idle: no job running, no worker lent, no fault pending; set back after the test."""
    csc = shared_client.csc
    pool = csc.worker_pool
    assert pool is not None and not pool.busy and pool.waiting == 0
    assert all(job.is_final for job in csc.jobs.values())
    try:
        yield shared_client
    finally:
        csc.execution_backend = "workers"
        csc.worker_runner.plan_with_pipetask = False
        csc.worker_runner.inject_worker_death(count=0, after_quanta=0)
        for worker in [*pool.idle, *pool.busy]:
            worker.__dict__.pop("request", None)  # a test's wrapper of a worker's requests


def products(repo: Path, collection: str) -> dict[tuple[str, int, int | None], np.ndarray]:
    """Every image-like output of a job: (dataset type, detector, exposure) -> array."""
    found = {}
    with Butler.from_config(str(repo), collections=[collection]) as butler:
        for name in ("cpBiasIsrExp", "bias"):
            for ref in butler.query_datasets(name, collections=collection, find_first=True):
                if not ref.run.startswith(collection):
                    continue
                exposure = ref.dataId.get("exposure")
                key = (name, int(ref.dataId["detector"]), int(exposure) if exposure is not None else None)
                found[key] = np.asarray(butler.get(ref).getImage().getArray())
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_workers_make_what_pipetask_makes(client: Client, repo: Path) -> None:
    """A job on two workers, sharded by detector, gives the pipetask backend's products, value for value."""
    on_workers = await client.run(f"-j 2 {BIAS_CONFIG}")
    assert on_workers["phase"] == "COMPLETED", on_workers["message"]
    # Each worker ran quanta; each detector's ISR stayed on its shard's worker.
    assert all(w["quanta"] > 0 for w in on_workers["workers"])
    isr_workers = {q["dataId"]["detector"]: set() for q in on_workers["quanta"]}
    for q in on_workers["quanta"]:
        if q["label"] == "isr":
            isr_workers[q["dataId"]["detector"]].add(q["worker"])
    assert all(len(w) == 1 for w in isr_workers.values()) and isr_workers[0] != isr_workers[1]

    client.csc.execution_backend = "pipetask"
    on_pipetask = await client.run(BIAS_CONFIG)
    assert on_pipetask["phase"] == "COMPLETED", on_pipetask["message"]

    ours = products(repo, on_workers["outputCollection"])
    theirs = products(repo, on_pipetask["outputCollection"])
    assert len(ours) == N_BIAS * len(DETECTORS) + len(DETECTORS)
    assert sorted(ours) == sorted(theirs)
    for key, array in ours.items():
        np.testing.assert_array_equal(array, theirs[key], err_msg=str(key))
    # The output chain is the one pipetask makes: the run, then the inputs in order.
    with Butler.from_config(str(repo)) as butler:
        chains = [
            list(butler.collections.get_info(record["outputCollection"]).children)
            for record in (on_workers, on_pipetask)
        ]
    assert chains[0][1:] == chains[1][1:] and chains[0][0] == on_workers["outputRun"]


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_worker_killed_mid_way_fails_the_job_naming_unrun_quanta(client: Client, repo: Path) -> None:
    """A worker killed mid-quantum: the job ends ERROR (exit code 1), naming the quanta that did not run."""
    client.csc.inject_worker_death(count=1, after_quanta=1)
    record = await client.run(f"-j 2 {BIAS_CONFIG}")
    assert record["phase"] == "ERROR" and record["exitCode"] == 1
    statuses = {q["id"]: q["status"] for q in record["quanta"]}
    lost = [q for q in record["quanta"] if q["status"] == "lost"]
    blocked = [q for q in record["quanta"] if q["status"] == "blocked"]
    assert len(lost) == 1 and lost[0]["label"] == "isr"
    dead_detector = lost[0]["dataId"]["detector"]
    # The combine of the dead worker's detector could not run; the other detector's did.
    assert [(q["label"], q["dataId"]["detector"]) for q in blocked] == [("cpBiasCombine", dead_detector)]
    assert statuses and sum(s == "succeeded" for s in statuses.values()) == len(statuses) - 2
    dead = [w for w in record["workers"] if w["returnCode"] is not None]
    assert len(dead) == 1 and dead[0]["returnCode"] == -9 and not alive(dead[0]["pid"])
    message = record["message"]
    assert "did not run: their worker died" in message
    assert f"isr@{{instrument: 'LSSTComCam', detector: {dead_detector}, exposure: " in message
    assert f"cpBiasCombine@{{instrument: 'LSSTComCam', detector: {dead_detector}}}" in message
    # Nothing of the dead detector's combine was made.
    with Butler.from_config(str(repo), collections=[record["outputCollection"]]) as butler:
        refs = butler.query_datasets("bias", collections=record["outputRun"], explain=False)
        made = {ref.dataId["detector"] for ref in refs}
    assert made == set(DETECTORS) - {dead_detector}
    # The pool replaces the dead worker: the next job runs on two live workers.
    again = await client.run(f"-j 2 {BIAS_CONFIG}")
    assert again["phase"] == "COMPLETED", again["message"]
    assert len({w["pid"] for w in again["workers"]}) == 2


def worker_children(but: Container[int] = ()) -> list[psutil.Process]:
    """The quantum worker processes this process started, but those whose pid is in ``but``."""
    return [
        child
        for child in psutil.Process().children(recursive=True)
        if "lsst.ts.calibrations.sim.quantum_worker" in " ".join(child.cmdline()) and child.pid not in but
    ]


@pytest.mark.slow
async def test_workers_start_at_the_first_job_and_close_leaves_none(repo: Path, tmp_path: Path) -> None:
    """No worker before the first job; its acquire warms max_processes; closing the OCPS ends them."""
    others = {p.pid for p in worker_children()}  # the workers of the module's shared OCPS, if it runs
    csc = OcpsCsc(repo, jobs_root=tmp_path / "jobs", index=next(_indices), max_processes=2)
    assert csc.execution_backend == "workers"  # the default
    await asyncio.wait_for(csc.start_task, STD_TIMEOUT)
    assert csc.worker_pool is not None
    assert worker_children(but=others) == []  # an OCPS that runs no job pays no imports
    workers = await asyncio.wait_for(csc.worker_pool.acquire(1), JOB_TIMEOUT)
    deadline = time.monotonic() + JOB_TIMEOUT
    while not csc.worker_pool.idle and time.monotonic() < deadline:  # the second one, for later jobs
        await asyncio.sleep(0.05)
    pids = [w.pid for w in [*workers, *csc.worker_pool.idle]]
    assert len(set(pids)) == 2
    for worker in workers:
        csc.worker_pool.release_one(worker)
    assert all(pid is not None and alive(pid) for pid in pids)
    await csc.close()
    assert not any(alive(pid) for pid in pids if pid is not None)
    assert worker_children(but=others) == []


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_concurrent_jobs_share_max_processes_workers(client: Client) -> None:
    """Three jobs at once, each asking -j 2, on an OCPS of max_processes=2: never more than
    two workers alive, every job completes (none waits for another that waits for it)."""
    assert client.csc.worker_pool is not None and client.csc.worker_pool.max_workers == 2
    submitted = [await client.submit(f"-j 2 {BIAS_CONFIG}") for _ in range(3)]
    finals = await asyncio.gather(
        *(client.remote.cmd_execute.next_ackcmd(ack, timeout=3 * JOB_TIMEOUT) for _, ack in submitted)
    )
    assert all(final.ack == SalRetCode.CMD_COMPLETE for final in finals)
    records = [client.csc.jobs[job_id].record() for job_id, _ in submitted]
    assert [r["phase"] for r in records] == ["COMPLETED"] * 3, [r["message"] for r in records]
    assert client.csc.worker_pool.most_alive == 2
    assert len({w["pid"] for r in records for w in r["workers"]}) <= 2
    # A job that found one worker free ran on it rather than wait for a second.
    assert all(1 <= len(r["workers"]) <= 2 for r in records)


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_small_job_gets_a_worker_at_the_next_quantum_boundary(client: Client) -> None:
    """A job arriving while another holds every worker starts after one quantum of that job.

    The big job (8 quanta, -j 2) holds both workers of max_processes=2; a
    1-detector, 1-exposure job arrives. The big job's first two quanta are
    held until the small job waits, and its later ones until the small job
    has ended and given its worker back, so the order is fixed: at its next
    quantum boundary the big job hands a worker back, the small job runs on
    it while the big job goes on with one, then the big job takes it again.
    """
    pool = client.csc.worker_pool
    assert pool is not None and pool.max_workers == 2
    big_id, big_ack = await client.submit(f"-j 2 {BIAS_CONFIG}")
    big = client.csc.jobs[big_id]
    async with asyncio.timeout(JOB_TIMEOUT):
        while not big.workers:
            await asyncio.sleep(0.01)
    small_id: str | None = None
    runs = 0

    def small_has_given_back() -> bool:
        return small_id is not None and client.csc.jobs[small_id].is_final and not pool.held_by(small_id)

    async def until(condition: Any) -> None:
        async with asyncio.timeout(JOB_TIMEOUT):
            while not condition():
                await asyncio.sleep(0.01)

    for worker in list(pool.busy):
        request = worker.request

        async def gated(
            kind: str, _request: Any = request, _worker: Any = worker, **fields: Any
        ) -> dict[str, Any]:
            nonlocal runs
            if kind == "run" and pool.holder_of(_worker) == big_id:
                runs += 1
                await until(lambda: pool.waiting > 0 or small_id is not None and runs > 2)
                if runs > 2:
                    await until(small_has_given_back)
            return await _request(kind, **fields)

        worker.request = gated  # type: ignore[method-assign]
    one = "instrument='LSSTComCam' AND detector IN (0) AND exposure IN (2024102500001)"
    ack = await client.remote.cmd_execute.set_start(
        wait_done=False,
        timeout=STD_TIMEOUT,
        pipeline=BIAS_PIPELINE,
        version="",
        config=f"-j 2 {BIAS_CONFIG}",
        data_query=one,
        prereq_jobs="",
        output_dataset_types="",
    )
    small_id = json.loads(ack.result)["job_id"]
    finals = await asyncio.gather(
        client.remote.cmd_execute.next_ackcmd(ack, timeout=2 * JOB_TIMEOUT),
        client.remote.cmd_execute.next_ackcmd(big_ack, timeout=2 * JOB_TIMEOUT),
    )
    assert [final.ack for final in finals] == [SalRetCode.CMD_COMPLETE] * 2
    small, big_record = client.csc.jobs[small_id].record(), big.record()
    assert small["phase"] == big_record["phase"] == "COMPLETED", (small["message"], big_record["message"])
    # The small job ran on the worker the big job handed back, before the big job's later quanta.
    (small_worker,) = small["workers"]
    assert small_worker["pid"] in {w["pid"] for w in big_record["workers"]}
    big_starts = sorted(q["start"] for q in big_record["quanta"])
    small_first = min(q["start"] for q in small["quanta"])
    assert len(big_starts) == 8 and sum(start > small_first for start in big_starts) == 6
    # Then the big job took the worker again: both ran its quanta, no third worker.
    assert len(big_record["workers"]) == 2 and all(w["quanta"] >= 2 for w in big_record["workers"])
    assert pool.most_alive == 2


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_job_waiting_for_a_worker_is_aborted_at_once(client: Client) -> None:
    """A job waiting for a worker (all held elsewhere) ends ABORTED at abort_job, holding none."""
    pool = client.csc.worker_pool
    assert pool is not None
    held = await asyncio.wait_for(pool.acquire(2), JOB_TIMEOUT)  # as another job would hold them
    try:
        job_id, ack = await client.submit(f"-j 2 {BIAS_CONFIG}")
        job = client.csc.jobs[job_id]
        deadline = time.monotonic() + STD_TIMEOUT
        while not job.log_file.exists() and time.monotonic() < deadline:  # its header: now it waits
            await asyncio.sleep(0.05)
        assert job.log_file.exists() and job.phase == "QUEUED"
        await client.remote.cmd_abort_job.set_start(job_id=job_id, timeout=STD_TIMEOUT)
        final = await client.remote.cmd_execute.next_ackcmd(ack, timeout=STD_TIMEOUT)
        assert final.ack == SalRetCode.CMD_COMPLETE
        record = job.record()
        assert record["phase"] == "ABORTED" and record["exitCode"] == 255 and not record.get("workers")
        assert pool.busy == set(held) and pool.alive == 2 and all(w.alive for w in held)
    finally:
        for worker in held:
            pool.release_one(worker)


@pytest.mark.slow
async def test_killed_workers_leave_no_butler_cache_in_tmp(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers killed mid-job (SIGKILL) or ended (SIGTERM) leave no butler cache folder in $TMPDIR.

    daf_butler makes ``$TMPDIR/butler-cache-dir-<pid>-...`` when no cache
    folder is configured and removes it only at a normal exit; the OCPS
    points its processes at ``<work folder>/butler-cache`` instead.
    """
    tmpdir = tmp_path / "tmp"  # the child processes' temporary folder, watched alone
    tmpdir.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    index = next(_indices)
    csc = OcpsCsc(
        repo, jobs_root=tmp_path / "jobs", index=index, initial_state=State.ENABLED, max_processes=2
    )
    await asyncio.wait_for(csc.start_task, JOB_TIMEOUT)
    try:
        cache = csc.job_environment()["DAF_BUTLER_CACHE_DIRECTORY_IF_UNSET"]
        assert cache == str(tmp_path / "butler-cache")
        async with Domain() as domain:
            remote = Remote(domain, "OCPS", index)
            await asyncio.wait_for(remote.start_task, STD_TIMEOUT)
            client = Client(csc, remote)
            csc.inject_worker_death(count=1, after_quanta=1)
            record = await client.run(f"-j 2 {BIAS_CONFIG}")
            assert record["phase"] == "ERROR" and record["exitCode"] == 1
            assert any(w["returnCode"] == -9 for w in record["workers"])
    finally:
        await csc.close()  # the other workers end with SIGTERM: no atexit handler runs either
    assert sorted(p.name for p in tmpdir.iterdir()) == []
    assert (tmp_path / "butler-cache").is_dir()


def test_bad_backend_is_refused(repo: Path) -> None:
    with pytest.raises(
        ValueError, match="execution_backend=.slurm. must be one of .pipetask., .workers., .bps."
    ):
        OcpsCsc(repo, execution_backend="slurm")


@pytest.mark.slow
async def test_script_run_with_a_dying_worker_certifies_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: the bias job's worker dies mid-way; the script fails naming the job; nothing certified."""
    from lsst.ts.calibrations.sal import ScriptState
    from lsst.ts.calibrations.scripts import MakeComCamCalibrations
    from lsst.ts.calibrations.sim.observatory import SimulatedObservatory

    monkeypatch.setenv("TS_CALIBRATIONS_RUN_RECORDS", str(tmp_path / "records"))
    calib_collection = "LSSTComCam/calib/daily/calib.2022NOV04.1"
    config = dict(
        repo=str(tmp_path / "repo"),
        detectors=[0],
        n_processes=1,
        oods_timeout=30,
        script_mode="BIAS",
        n_bias=2,
        generate_calibrations=True,
        do_verify=False,
        calib_collection=calib_collection,
        certify_calib_begin_date="2022-11-04",
        certify_calib_end_date="2022-11-05",
    )
    # The job runs -j 1 (n_processes): one worker is all the OCPS needs to start.
    async with SimulatedObservatory(
        tmp_path / "repo",
        time_scale=0.01,
        date="2022-11-04",
        seed=3,
        detectors=[0],
        heartbeat_interval=1.0,
        ocps_max_processes=1,
    ) as observatory:
        assert observatory.ocps is not None and observatory.ocps.execution_backend == "workers"
        observatory.ocps.inject_worker_death(count=1, after_quanta=1)
        script = MakeComCamCalibrations(index=next(_indices))
        # One job over both biases, so the worker dies in the middle of a job (incremental
        # processing would give each bias a one-quantum job of its own).
        script.incremental_processing = False
        await asyncio.wait_for(script.start_task, STD_TIMEOUT)
        data = script.cmd_configure.DataType()
        data.config = yaml.safe_dump(config)
        await asyncio.wait_for(script.do_configure(data), STD_TIMEOUT)
        await script.do_setGroupId(type("G", (), {"groupId": "workers-test"})())
        await asyncio.wait_for(script.do_run(None), 2 * JOB_TIMEOUT)
        assert script.state.state == ScriptState.FAILED
        failed = [job.record() for job in observatory.ocps.jobs.values() if job.exit_code != 0]
        assert len(failed) == 1
        record = failed[0]
        assert record["exitCode"] == 1 and "did not run: their worker died" in record["message"]
        # The script reads what the job made: the exposure whose ISR was lost is left out, named.
        lost = [q for q in record["quanta"] if q["status"] == "lost"]
        assert len(lost) == 1 and str(lost[0]["dataId"]["exposure"]) in script.state.reason
        assert len(script.taken["BIAS"]) == 3  # nothing taken is lost
    with Butler.from_config(str(tmp_path / "repo")) as butler:
        # No CALIBRATION collection holds a bias: the calibration collection was not even made.
        calibrations = butler.collections.query("*", collection_types={CollectionType.CALIBRATION})
        refs = (
            butler.query_datasets("bias", collections=calibrations, find_first=False, explain=False)
            if calibrations
            else []
        )
        assert calib_collection not in butler.collections.query("LSSTComCam/calib/*")
    assert not refs


@pytest.mark.slow
def test_killed_ocps_leaves_no_worker(tmp_path: Path) -> None:
    """A worker dies with the process that started it, even one killed without a chance to clean up."""
    code = (
        "import asyncio, os, sys, time\n"
        "from pathlib import Path\n"
        "from lsst.ts.calibrations.sim.quantum_worker_process import QuantumWorkerProcess\n"
        "async def main():\n"
        f"    worker = QuantumWorkerProcess(Path({str(tmp_path / 'worker.log')!r}), dict(os.environ))\n"
        "    await worker.start()\n"
        "    print(worker.pid, flush=True)\n"
        "    time.sleep(600)\n"
        "asyncio.run(main())\n"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as parent:
        try:
            assert parent.stdout is not None
            worker_pid = int(parent.stdout.readline())
            assert alive(worker_pid)
        finally:
            parent.kill()
            parent.wait(timeout=STD_TIMEOUT)
    deadline = time.monotonic() + STD_TIMEOUT
    while alive(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(worker_pid)


@pytest.mark.parametrize(
    ("extra", "in_process"),
    [
        ((), True),
        (("--skip-existing-in", "u/earlier", "--clobber-outputs"), True),
        (("--replace-run",), False),
        (("--show", "graph"), False),
    ],
)
def test_planner_builds_in_process_unless_an_option_needs_pipetask(
    extra: tuple[str, ...], in_process: bool
) -> None:
    """pipetask's own parser reads the job's arguments; options the in-process build lacks fall back."""
    args = [
        "--long-log",
        "run",
        "-p",
        "pipeline.yaml",
        "-b",
        "repo",
        "-o",
        "u/ocps/x",
        "--output-run",
        "u/ocps/x/run",
        "-i",
        "LSSTComCam/raw/all",
        "-c",
        "isr:doDefect=False",
        "-d",
        "instrument='LSSTComCam'",
        "--init-only",
        "--save-qgraph",
        "graph.qg",
        *extra,
    ]
    options = QuantumWorkerPlanner.parse(args)
    assert options["output_run"] == "u/ocps/x/run"
    assert [(a.label, a.value) for a in options["pipeline_actions"]] == [("isr", "doDefect=False")]
    assert QuantumWorkerPlanner.supports(options) is in_process


def test_planner_refuses_what_pipetask_refuses() -> None:
    """A bad option or another pipetask command is refused with click's message."""
    with pytest.raises(click.UsageError, match="--no-such-option"):
        QuantumWorkerPlanner.parse(["run", "-b", "repo", "--no-such-option"])
    with pytest.raises(click.UsageError, match="pipetask ... run"):
        QuantumWorkerPlanner.parse(["qgraph", "-b", "repo"])


def files_under(root: Path) -> list[str]:
    """The files under a folder, relative to it, sorted."""
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


@BOTH_REGISTRIES
def test_worker_butler_registers_a_quantum_at_commit_or_leaves_nothing(
    empty_repository: Path, tmp_path: Path, registry_db: str
) -> None:
    """A worker's put writes the file; commit registers the quantum's outputs at once, or none of them."""
    root = tmp_path / "repo"
    run = "u/ocps/worker_butler/run"
    with new_repository(empty_repository, root, registry_db) as butler:
        butler.collections.register(run)
        per_detector, per_instrument = (
            DatasetType(name, dimensions, "StructuredDataDict", universe=butler.dimensions)
            for name, dimensions in (
                ("probeDetector", ("instrument", "detector")),
                ("probeRun", ("instrument",)),
            )
        )
        for dataset_type in (per_detector, per_instrument):
            butler.registry.registerDatasetType(dataset_type)

        def new_ref(dataset_type: DatasetType, **data_id: int) -> DatasetRef:
            return DatasetRef(
                dataset_type, butler.registry.expandDataId(instrument="LSSTComCam", **data_id), run=run
            )

        def registered() -> set[Any]:
            return {
                ref.id
                for name in ("probeDetector", "probeRun")
                for ref in butler.query_datasets(name, collections=run, explain=False)
            }

        writer = QuantumWorkerButler(butler)
        run_dir = root / run
        # A write that fails leaves nothing of its dataset.
        with pytest.raises(Exception):  # noqa: B017 - whatever the datastore raises for a wrong type
            writer.put(object(), new_ref(per_detector, detector=0))
        assert writer.pending == [] and files_under(root / "u") == []
        # Written when put, registered at commit: two sets of dimensions, one commit.
        first, second = new_ref(per_detector, detector=0), new_ref(per_instrument)
        assert writer.put({"level": 1.5}, first) == first
        writer.put({"n": 2}, second)
        assert len(files_under(run_dir)) == 2 and registered() == set()
        assert writer.commit() == [first, second] and writer.pending == []
        kept = files_under(run_dir)
        with Butler.from_config(str(root)) as fresh:
            assert fresh.get(first) == {"level": 1.5} and fresh.get(second) == {"n": 2}
            assert fresh.stored_many([first, second]) == {first: True, second: True}
        assert writer.stored(first) and registered() == {first.id, second.id}
        # Another dataset with a stored one's data ID is refused before it writes over that file.
        with pytest.raises(ConflictingDefinitionError, match="already where"):
            writer.put({"level": 9.0}, new_ref(per_detector, detector=0))
        assert writer.pending == [] and butler.get(first) == {"level": 1.5}
        # A commit that fails (the registry has a dataset with one output's data ID, without a
        # file) registers none of the quantum's outputs and removes all of their files.
        taken = new_ref(per_detector, detector=1)
        butler.registry._importDatasets([taken])
        writer.put({"level": 2.0}, new_ref(per_detector, detector=2))
        writer.put({"level": 3.0}, new_ref(per_detector, detector=1))
        assert len(files_under(run_dir)) == len(kept) + 2
        with pytest.raises(ConflictingDefinitionError):
            writer.commit()
        assert files_under(run_dir) == kept and registered() == {first.id, second.id, taken.id}
        assert writer.pending == []
        # Discarded: the files go, nothing is registered.
        dropped = new_ref(per_detector, detector=3)
        writer.put({"level": 4.0}, dropped)
        assert writer.discard() == [dropped]
        assert files_under(run_dir) == kept and registered() == {first.id, second.id, taken.id}


@pytest.mark.slow
def test_quantum_that_fails_keeps_what_pipetask_keeps(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a worker, a quantum whose task fails keeps only its log (as pipetask does); one whose
    registration fails keeps nothing; the next one's outputs are read by a fresh butler.
    """
    output = "u/test/failing_quanta"
    graph = str(tmp_path / "graph.qg")
    exposures = ", ".join(str(DAY_OBS * 100_000 + s) for s in range(1, N_BIAS + 1))
    args = ["--long-log", "run", "-p", PipelinePaths().resolve(BIAS_PIPELINE), "-b", str(repo)]
    args += ["-o", output, "-i", "LSSTComCam/raw/all", *BIAS_CONFIG.split(), "--output-run", f"{output}/run"]
    args += ["-d", f"instrument='LSSTComCam' AND detector = 0 AND exposure IN ({exposures})"]
    for name, value in PipelinePaths().environment().items():
        monkeypatch.setenv(name, value)
    worker = QuantumWorker(io.StringIO(), io.StringIO())
    plan = worker._do_plan({"args": [*args, "--init-only", "--save-qgraph", graph], "graph": graph})
    assert plan["ok"], plan
    where = {"repo": str(repo), "graph": graph, "output": output, "outputRun": f"{output}/run"}
    assert worker._do_init(where)["ok"]
    isr = [q for q in plan["quanta"] if q["label"] == "isr"]
    assert len(isr) == N_BIAS

    def stored(name: str) -> dict[int, bool]:
        """Exposure -> is the dataset's file there, for what a fresh butler finds in the run."""
        with Butler.from_config(str(repo)) as fresh:
            refs = fresh.query_datasets(name, collections=f"{output}/run", explain=False, limit=None)
            return {int(ref.dataId["exposure"]): fresh.getURI(ref).exists() for ref in refs}

    def run_files() -> list[str]:
        """The run's files of ISR quanta (logs, images, metadata), not the job's init outputs."""
        names = files_under(repo / output / "run")
        return [name for name in names if name.startswith(("isr_", "cpBiasIsrExp")) and "config" not in name]

    try:
        exposure = [int(q["dataId"]["exposure"]) for q in isr]
        with monkeypatch.context() as patch:
            patch.setattr(IsrTask, "run", _fail("injected ISR failure"))
            failed = worker._do_run({"id": isr[0]["id"]})
        assert not failed["ok"] and "injected ISR failure" in failed["error"]
        assert stored("isr_log") == {exposure[0]: True} and stored("cpBiasIsrExp") == {}
        assert len(run_files()) == 1
        with monkeypatch.context() as patch:
            patch.setattr(SqlRegistry, "_importDatasets", _fail("injected registry failure"))
            unregistered = worker._do_run({"id": isr[1]["id"]})
        assert not unregistered["ok"] and "injected registry failure" in unregistered["error"]
        assert stored("isr_log") == {exposure[0]: True} and stored("cpBiasIsrExp") == {}
        assert len(run_files()) == 1
        assert worker._do_run({"id": isr[2]["id"]})["ok"]
        assert stored("cpBiasIsrExp") == {exposure[2]: True}
        assert stored("isr_log") == {exposure[0]: True, exposure[2]: True}
        assert stored("isr_metadata") == {exposure[2]: True}
        assert len(run_files()) == 4  # its image, log and metadata, and the failed quantum's log
    finally:
        worker._close_job()


def _fail(message: str) -> Any:
    """A replacement of a method that raises RuntimeError(message)."""

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(message)

    return fail


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_planning_by_pipetask_that_fails_fails_the_job(client: Client) -> None:
    """pipetask's failure to plan (here an input collection that does not exist) ends the job in ERROR."""
    client.csc.worker_runner.plan_with_pipetask = True
    record = await client.run(BIAS_CONFIG.replace("LSSTComCam/calib", "LSSTComCam/no-such-collection"))
    assert record["phase"] == "ERROR"
    assert record["exitCode"] == 1
    assert "pipetask ended with exit code 1" in record["message"]
    assert "No collection with name 'LSSTComCam/no-such-collection'" in Path(record["logFile"]).read_text()
