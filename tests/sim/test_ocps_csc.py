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

"""The simulated OCPS: real pipetask jobs on a reduced-geometry repository reached by its alias."""

import asyncio
import itertools
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from lsst.daf.butler import Butler

from fixtures.repositories import simulate_and_ingest
from fixtures.timeouts import PIPETASK_TIMEOUT, STD_TIMEOUT
from lsst.ts.calibrations.cp.pipeline_paths import PipelinePaths
from lsst.ts.calibrations.repo.errors import RepositoryError
from lsst.ts.calibrations.repo.repo_alias import (
    DEFAULT_REPO_ALIAS,
    INDEX_ENV_VAR,
    REPOSITORIES_ENV_VAR,
    install_repository_alias,
    resolve_repository,
)
from lsst.ts.calibrations.sal import AckError, Domain, Remote, SalRetCode, State
from lsst.ts.calibrations.sim.ocps_csc import INJECTED_FAILURE_LABEL, OcpsCsc

DAY_OBS = 20241024
N_BIAS = 2
DETECTORS = (0, 1)
BIAS_PIPELINE = "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml"
BIAS_CONFIG = "-i LSSTComCam/calib --register-dataset-types -c isr:doDefect=False"

_indices = itertools.count(20)


def bias_query(detectors: tuple[int, ...] = DETECTORS) -> str:
    exposures = ", ".join(str(DAY_OBS * 100_000 + seq) for seq in range(1, N_BIAS + 1))
    return (
        f"instrument='LSSTComCam' AND detector IN ({', '.join(map(str, detectors))}) "
        f"AND exposure IN ({exposures})"
    )


@pytest.fixture(scope="module")
def repo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bootstrapped repository with N_BIAS reduced-geometry biases of DETECTORS ingested."""
    repo, _ = simulate_and_ingest(
        tmp_path_factory.mktemp("ocps"),
        detectors=DETECTORS,
        seed=11,
        n_bias=N_BIAS,
        n_dark=0,
        day_obs=DAY_OBS,
    )
    return repo


@pytest.fixture
def alias_index(repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Make /repo/LSSTComCam reach the test repository (environment restored afterwards)."""
    # setenv before delenv records the variables even when unset, so the alias
    # that install_repository_alias sets below is undone after the test.
    for name in (REPOSITORIES_ENV_VAR, INDEX_ENV_VAR):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    index_path = tmp_path / "repository-index.yaml"
    install_repository_alias(repo_root, index_path=index_path)
    yield index_path


@dataclass
class Harness:
    csc: OcpsCsc
    remote: Remote
    results: dict[str, Any] = field(default_factory=dict)
    result_event: asyncio.Event = field(default_factory=asyncio.Event)

    async def submit(self, **fields: str) -> tuple[str, Any]:
        """Send execute; return the job id and the in-progress ack."""
        request = dict(
            pipeline=BIAS_PIPELINE,
            version="",
            config=BIAS_CONFIG,
            data_query=bias_query(),
            prereq_jobs="",
            output_dataset_types="",
        )
        request.update(fields)
        ack = await self.remote.cmd_execute.set_start(wait_done=False, timeout=STD_TIMEOUT, **request)
        assert ack.ack == SalRetCode.CMD_INPROGRESS
        assert ack.timeout >= self.csc.in_progress_timeout
        return json.loads(ack.result)["job_id"], ack

    async def finish(self, ack: Any) -> Any:
        """Wait for the final ack of an execute."""
        return await self.remote.cmd_execute.next_ackcmd(ack, timeout=PIPETASK_TIMEOUT)

    async def job_result(self, job_id: str) -> Any:
        async with asyncio.timeout(STD_TIMEOUT):
            while job_id not in self.results:
                self.result_event.clear()
                await self.result_event.wait()
        return self.results[job_id]


@pytest.fixture
async def harness(
    alias_index: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Harness]:
    """An ENABLED OCPS and a remote; the ``pipetask`` backend unless parametrized (indirect).

    The parameter is the backend, or (backend, max_processes) for an OCPS
    that starts fewer quantum workers than the machine's cores.
    """
    param = getattr(request, "param", "pipetask")
    backend, max_processes = param if isinstance(param, tuple) else (param, None)
    index = next(_indices)
    csc = OcpsCsc(
        DEFAULT_REPO_ALIAS,
        jobs_root=tmp_path / "jobs",
        index=index,
        initial_state=State.ENABLED,
        abort_grace_period=5.0,
        execution_backend=backend,
        max_processes=max_processes,
    )
    await asyncio.wait_for(csc.start_task, STD_TIMEOUT)
    async with Domain() as domain:
        remote = Remote(domain, "OCPS", index)
        await asyncio.wait_for(remote.start_task, STD_TIMEOUT)
        harness = Harness(csc, remote)

        def on_result(data: Any) -> None:
            harness.results[data.job_id] = data
            harness.result_event.set()

        remote.evt_job_result.callback = on_result
        try:
            yield harness
        finally:
            await csc.close()


def collection_exists(repo: Path, name: str) -> bool:
    with Butler.from_config(str(repo)) as butler:
        return bool(butler.collections.query(name))


@pytest.mark.slow
@pytest.mark.parametrize("harness", ["pipetask", pytest.param(("workers", 1), id="workers")], indirect=True)
async def test_bias_job_end_to_end(
    harness: Harness, repo_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A cpBias job through the alias: ack with job_id, job_result 0 with the record, outputs and log."""
    caplog.set_level(logging.INFO)
    # One process (or worker) per job here.
    harness.csc.max_processes = 1
    backend = harness.csc.execution_backend
    job_id, ack = await harness.submit(config=f"-j 64 {BIAS_CONFIG}")
    final = await harness.finish(ack)
    assert final.ack == SalRetCode.CMD_COMPLETE
    assert final.result == f"Job {job_id} COMPLETED"
    data = await harness.job_result(job_id)
    assert data.exit_code == 0
    record = json.loads(data.result)
    assert record["jobId"] == job_id
    assert record["phase"] == "COMPLETED"
    assert record["creationTime"] <= record["startTime"] <= record["endTime"]
    assert record["executionBackend"] == backend
    if backend == "pipetask":
        assert record["returnCode"] == 0
        assert record["quanta"] is None
    else:
        # No one process: per-quantum outcomes instead, all succeeded, on the one worker.
        assert record["returnCode"] is None
        assert [q["label"] for q in record["quanta"]].count("isr") == N_BIAS * len(DETECTORS)
        assert {q["status"] for q in record["quanta"]} == {"succeeded"}
        assert len(record["workers"]) == 1 and record["workers"][0]["quanta"] == len(record["quanta"])
        assert record["startTime"] <= record["firstQuantumStart"] <= record["lastQuantumEnd"]
    assert record["outputCollection"] == f"u/ocps/{job_id}"
    assert record["outputRun"] == f"u/ocps/{job_id}/run"
    # ${CP_PIPE_DIR} resolves to this package's pipeline file.
    assert record["pipeline"] == PipelinePaths().pipeline("cpBias")
    # The alias is what pipetask was given, and it reached the repository.
    command = record["commandLine"]
    assert command[command.index("-b") + 1] == DEFAULT_REPO_ALIAS
    assert command[command.index("-d") + 1] == bias_query()
    # The -j cap: the command runs with the machine's cores, and the cap is logged.
    assert command[command.index("-j") + 1] == "1"
    assert record["requestedProcesses"] == 64 and record["processes"] == 1
    assert any("-j 64 requested, capped at 1" in r.getMessage() for r in caplog.records)
    log_file = Path(record["logFile"])
    assert log_file == harness.csc.jobs_root / job_id / "outs" / "ocps.log"  # type: ignore[operator]
    # The in-progress acknowledgement already named it, so a client can show it while the job runs.
    assert json.loads(ack.result) == {"job_id": job_id, "logFile": str(log_file)}
    log_text = log_file.read_text()
    assert "capped at 1" in log_text
    assert "cpBiasCombine" in log_text
    # job_result went out before the removal of the intermediates; job.json says how it ended.
    assert record["intermediates"] == "removing"
    await asyncio.wait_for(harness.csc.wait_for_removals(), STD_TIMEOUT)
    saved = json.loads((log_file.parent.parent / "job.json").read_text())
    assert saved["intermediates"] == "removed"
    assert saved["intermediatesDetail"].startswith(f"removed cpBiasIsrExp x{N_BIAS * len(DETECTORS)} from ")
    assert {**saved, "intermediates": "removing", "intermediatesDetail": ""} == record
    assert saved["intermediatesDetail"] in log_file.read_text()
    with Butler.from_config(DEFAULT_REPO_ALIAS, collections=record["outputCollection"]) as butler:
        refs = butler.query_datasets("bias", instrument="LSSTComCam")
        assert sorted(ref.dataId["detector"] for ref in refs) == list(DETECTORS)


@pytest.mark.slow
async def test_job_result_before_removal_and_close_waits_for_it(
    harness: Harness, repo_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """job_result and CMD_COMPLETE come while the removal runs; closing waits for it to end."""
    caplog.set_level(logging.INFO)
    csc = harness.csc
    gate = threading.Event()
    prune = csc.output_policy._prune

    def held_prune(*args: Any) -> Any:
        assert gate.wait(STD_TIMEOUT), "the test never let the removal go"
        return prune(*args)

    csc.output_policy._prune = held_prune  # type: ignore[method-assign]
    try:
        job_id, ack = await harness.submit(data_query=bias_query((0,)))
        final = await harness.finish(ack)  # the removal is held: this would hang if it came first
        assert final.ack == SalRetCode.CMD_COMPLETE
        record = json.loads((await harness.job_result(job_id)).result)
        assert record["phase"] == "COMPLETED" and record["intermediates"] == "removing"
        assert list(csc.removals) == [job_id]
        # What the client reads on job_result is there while the removal runs.
        with Butler.from_config(str(repo_root), collections=record["outputCollection"]) as butler:
            assert butler.query_datasets("bias", instrument="LSSTComCam", explain=False)
            assert butler.query_datasets("cpBiasIsrExp", instrument="LSSTComCam", explain=False)
        closing = asyncio.create_task(csc.close())
        async with asyncio.timeout(STD_TIMEOUT):
            while not any("Waiting for the removal" in r.getMessage() for r in caplog.records):
                await asyncio.sleep(0.01)
        assert not closing.done()
    finally:
        gate.set()
    await asyncio.wait_for(closing, STD_TIMEOUT)
    assert not csc.removals
    saved = json.loads((Path(record["logFile"]).parent.parent / "job.json").read_text())
    assert saved["intermediates"] == "removed", saved["intermediatesDetail"]
    with Butler.from_config(str(repo_root), collections=record["outputCollection"]) as butler:
        assert butler.query_datasets("bias", instrument="LSSTComCam", explain=False)
        assert not butler.query_datasets("cpBiasIsrExp", instrument="LSSTComCam", explain=False)


@pytest.mark.slow
async def test_failed_removal_is_logged_and_recorded(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """A removal that fails: ERROR in the OCPS log (a logMessage), the job's log, and job.json."""

    def broken_prune(*args: Any) -> Any:
        raise OSError("disk unplugged")

    harness.csc.output_policy._prune = broken_prune  # type: ignore[method-assign]
    job_id, ack = await harness.submit(data_query=bias_query((1,)))
    final = await harness.finish(ack)
    assert final.ack == SalRetCode.CMD_COMPLETE and final.result == f"Job {job_id} COMPLETED"
    record = json.loads((await harness.job_result(job_id)).result)
    assert record["exitCode"] == 0 and record["intermediates"] == "removing"
    await asyncio.wait_for(harness.csc.wait_for_removals(), STD_TIMEOUT)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and job_id in r.getMessage()]
    assert errors and errors[0].exc_info is not None
    saved = json.loads((Path(record["logFile"]).parent.parent / "job.json").read_text())
    assert saved["intermediates"] == "failed"
    assert "disk unplugged" in saved["intermediatesDetail"]
    assert "not removed: OSError('disk unplugged')" in Path(record["logFile"]).read_text()
    message = await harness.remote.evt_logMessage.next(flush=False, timeout=STD_TIMEOUT)
    while "intermediates not removed" not in message.message:
        message = await harness.remote.evt_logMessage.next(flush=False, timeout=STD_TIMEOUT)
    assert message.level >= logging.ERROR


@pytest.mark.slow
async def test_two_jobs_at_once_and_prereq_jobs_order(harness: Harness) -> None:
    """Two executes run their processes at the same time and both complete; a third, with
    prereq_jobs naming the first, starts only after that one has completed."""
    harness.csc.inject_slow_jobs(count=1, delay=1.0)  # the first: still running when the third comes
    id_a, ack_a = await harness.submit(data_query=bias_query((0,)))
    id_b, ack_b = await harness.submit(data_query=bias_query((1,)))
    id_c, ack_c = await harness.submit(data_query=bias_query((0,)), prereq_jobs=f" {id_a} ,")
    assert len({id_a, id_b, id_c}) == 3
    assert harness.csc.jobs[id_c].phase == "PENDING"
    await asyncio.gather(harness.finish(ack_a), harness.finish(ack_b), harness.finish(ack_c))
    a, b, c = [json.loads((await harness.job_result(job_id)).result) for job_id in (id_a, id_b, id_c)]
    assert a["phase"] == b["phase"] == c["phase"] == "COMPLETED"
    # The processes of the first two overlapped in time.
    assert a["startTime"] < b["endTime"] and b["startTime"] < a["endTime"]
    # The third waited for its prerequisite.
    assert c["prereqJobs"] == [id_a]
    assert c["startTime"] >= a["endTime"]


@pytest.mark.slow
@pytest.mark.parametrize("harness", ["pipetask", pytest.param(("workers", 1), id="workers")], indirect=True)
async def test_failing_job_and_failed_prerequisite(harness: Harness) -> None:
    """An injected failure: exit_code 1, ERROR, log kept; a job waiting for it fails naming it."""
    harness.csc.inject_failure(count=1, reason="broken")
    failing_id, failing_ack = await harness.submit()
    waiting_id, waiting_ack = await harness.submit(prereq_jobs=failing_id)
    final = await harness.finish(failing_ack)
    assert final.ack == SalRetCode.CMD_COMPLETE
    data = await harness.job_result(failing_id)
    assert data.exit_code == 1
    record = json.loads(data.result)
    assert record["phase"] == "ERROR"
    if harness.csc.execution_backend == "pipetask":
        assert final.result.startswith(f"Job {failing_id} ERROR: pipetask ended with return code 1")
        assert record["returnCode"] == 1
    else:
        # The worker ran pipetask's own planning, which refused the override.
        assert final.result.startswith(f"Job {failing_id} ERROR: pipetask could not make the quantum graph")
    log_text = Path(record["logFile"]).read_text()
    assert f"There are no tasks labeled '{INJECTED_FAILURE_LABEL}'" in log_text

    await harness.finish(waiting_ack)
    waiting = await harness.job_result(waiting_id)
    assert waiting.exit_code == 1
    waiting_record = json.loads(waiting.result)
    assert waiting_record["phase"] == "ERROR"
    assert waiting_record["message"].startswith(f"prerequisite job {failing_id} ended with phase ERROR")
    assert waiting_record["startTime"] is None and waiting_record["returnCode"] is None
    # The next job is not affected by the injected failure (count=1).
    assert INJECTED_FAILURE_LABEL not in " ".join(waiting_record["commandLine"])


@pytest.mark.parametrize(
    "harness", ["pipetask", pytest.param("workers", marks=pytest.mark.slow)], indirect=True
)
async def test_abort_running_job(harness: Harness) -> None:
    """abort_job ends the pipetask process or the workers (SIGTERM): none is left, the job reports 255."""
    job_id, ack = await harness.submit(config=f"-j 2 {BIAS_CONFIG}")
    job = harness.csc.jobs[job_id]
    async with asyncio.timeout(PIPETASK_TIMEOUT):
        while job.pid is None:
            await asyncio.sleep(0.05)
    pid = job.pid
    worker_pids = [w["pid"] for w in job.workers or []]
    await harness.remote.cmd_abort_job.set_start(job_id=job_id, timeout=STD_TIMEOUT)
    final = await harness.finish(ack)
    assert final.ack == SalRetCode.CMD_COMPLETE
    assert final.result.startswith(f"Job {job_id} ABORTED")
    data = await harness.job_result(job_id)
    assert data.exit_code == 255
    record = json.loads(data.result)
    assert record["phase"] == "ABORTED"
    if harness.csc.execution_backend == "pipetask":
        assert record["returnCode"] < 0  # ended by a signal
    else:
        assert len(worker_pids) == 2 and pid in worker_pids
        assert [w["returnCode"] for w in record["workers"]] == [-15, -15]  # SIGTERM
    for ended in {pid, *worker_pids}:
        with pytest.raises(ProcessLookupError):
            os.kill(ended, 0)
    # Aborting it again, or an unknown job, fails naming the job.
    for bad_id in (job_id, "nosuchjob"):
        with pytest.raises(AckError) as exc_info:
            await harness.remote.cmd_abort_job.set_start(job_id=bad_id, timeout=STD_TIMEOUT)
        assert bad_id in exc_info.value.ackcmd.result


async def test_abort_delayed_job_and_in_progress_acks(harness: Harness) -> None:
    """A slow job keeps acknowledging in progress; aborting it before its process starts reports 255."""
    harness.csc.in_progress_timeout = 0.4
    harness.csc.inject_slow_jobs(count=1, delay=60.0)
    job_id, ack = await harness.submit()
    again = await harness.remote.cmd_execute.next_ackcmd(ack, timeout=STD_TIMEOUT, wait_done=False)
    assert again.ack == SalRetCode.CMD_INPROGRESS
    assert json.loads(again.result)["job_id"] == job_id  # each in-progress ack repeats the job id
    await harness.remote.cmd_abort_job.set_start(job_id=job_id, timeout=STD_TIMEOUT)
    await asyncio.wait_for(harness.finish(ack), STD_TIMEOUT)
    data = await harness.job_result(job_id)
    assert data.exit_code == 255
    record = json.loads(data.result)
    assert record["phase"] == "ABORTED" and record["returnCode"] is None


@pytest.mark.parametrize(
    "fields, words",
    [
        (dict(pipeline=""), "pipeline is empty"),
        (dict(pipeline="${CP_PIPE_DIR}/pipelines/LSSTComCam/cpNothing.yaml"), "cpBias.yaml"),
        (dict(config="-b /elsewhere"), "config must not set -b"),
        (dict(config="-j many"), "number of processes 'many'"),
        (dict(config="-c 'isr:doDefect=False"), "cannot be split"),
        (dict(prereq_jobs="0123abc"), "prereq_jobs names '0123abc'"),
    ],
)
async def test_bad_request_fails_naming_field(harness: Harness, fields: dict[str, str], words: str) -> None:
    with pytest.raises(AckError) as exc_info:
        await harness.submit(**fields)
    assert exc_info.value.ackcmd.ack == SalRetCode.CMD_FAILED
    assert words in exc_info.value.ackcmd.result
    assert not harness.csc.jobs


async def test_execute_refused_unless_enabled(harness: Harness) -> None:
    await harness.remote.cmd_disable.start(timeout=STD_TIMEOUT)
    with pytest.raises(AckError) as exc_info:
        await harness.submit()
    assert "must be ENABLED" in exc_info.value.ackcmd.result


def test_max_processes_default_is_the_machines_cores(repo_root: Path) -> None:
    async def make() -> int:
        csc = OcpsCsc(repo_root, index=next(_indices))
        try:
            return csc.max_processes
        finally:
            await csc.close()

    assert asyncio.run(make()) == len(os.sched_getaffinity(0))
    with pytest.raises(ValueError, match="max_processes=0 must be positive"):
        OcpsCsc(repo_root, max_processes=0)


def test_alias_resolution(repo_root: Path, alias_index: Path, tmp_path: Path) -> None:
    """The alias resolves like daf_butler; unknown names fail naming the labels and the variable."""
    assert resolve_repository(DEFAULT_REPO_ALIAS) == str(repo_root)
    assert resolve_repository(repo_root) == str(repo_root)
    assert resolve_repository(repo_root / "butler.yaml") == str(repo_root)
    with pytest.raises(RepositoryError, match=f"labels: {DEFAULT_REPO_ALIAS}.*{INDEX_ENV_VAR}"):
        resolve_repository("/repo/LSSTCam")
    # A second alias keeps the first.
    install_repository_alias(repo_root, alias="comcam-sim", index_path=alias_index)
    assert resolve_repository("comcam-sim") == resolve_repository(DEFAULT_REPO_ALIAS) == str(repo_root)
    with pytest.raises(RepositoryError, match="not a butler repository"):
        install_repository_alias(tmp_path, alias="empty")


@pytest.mark.slow
def test_alias_reaches_a_users_python_session(repo_root: Path, alias_index: Path) -> None:
    """The printed line is all a fresh Python process needs to open /repo/LSSTComCam."""
    line = install_repository_alias(repo_root, index_path=alias_index)
    assert line == f"export {INDEX_ENV_VAR}={alias_index}"
    env = {k: v for k, v in os.environ.items() if k not in (INDEX_ENV_VAR, REPOSITORIES_ENV_VAR)}
    name, value = line.removeprefix("export ").split("=", 1)
    env[name] = value
    code = (
        "from lsst.daf.butler import Butler\n"
        f"butler = Butler.from_config({DEFAULT_REPO_ALIAS!r})\n"
        "print(len(butler.query_datasets('raw', collections='LSSTComCam/raw/all')))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert int(output.stdout.strip()) == N_BIAS * len(DETECTORS)
