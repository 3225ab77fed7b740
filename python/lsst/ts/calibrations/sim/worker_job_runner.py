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

"""WorkerJobRunner: runs one OCPS job's quanta on long-lived quantum workers.

1. Takes up to ``processes`` warm workers from the pool (fewer when other
   jobs hold the rest of the pool's ``max_workers``; it waits only while
   none is free) and points their logs at the job's ``ocps.log``.
2. The first worker plans the job from its ``pipetask run ... --init-only
   --save-qgraph <job dir>/graph.qg`` arguments (the options and their
   checks are pipetask's own), building the graph in process on a butler
   it keeps open between jobs; its reply lists the quanta with their
   dependencies.
3. The first worker makes the collections and writes the init outputs
   while the others read the saved graph; then the runner
   hands out quanta whose inputs are done, one at a time, each worker
   preferring the detectors of its shard (detector ``k``-th in sorted order
   goes to worker ``k mod N``), then quanta of no detector (per exposure, per
   run), then any other ready quantum.
4. Fair share between jobs (the pool's ``max_workers`` is a hard bound):
   while another job waits for a worker with none, a job holding more than
   its share hands the worker that just finished a quantum back to the
   pool (`QuantumWorkerPool.should_hand_back`), so the waiting job starts
   after about one quantum; a job running on fewer workers than its ``-j``
   takes idle workers again (`QuantumWorkerPool.try_acquire`) when one is
   given back and nobody waits, each opening the saved graph first.
5. Success is read per quantum from the worker's reply. A quantum that
   failed, and those downstream of it, are named; a worker that dies takes
   the quantum it was running with it: that quantum and those downstream are
   named as not run, the other workers go on with the rest, and the job ends
   ERROR.
"""

__all__ = ["WorkerJobRunner"]

import asyncio
import dataclasses
import datetime
import logging
import signal
from typing import Any

from .ocps_execution_backends import QuantumWorkerDiedError
from .ocps_job import OcpsJob
from .ocps_job_phase import OcpsJobPhase
from .quantum_worker_pool import QuantumWorkerPool
from .quantum_worker_process import QuantumWorkerProcess

_NAMED = 10  # quanta named in a message (all of them are in the record)


@dataclasses.dataclass
class _Quantum:
    id: str
    label: str
    data_id: dict[str, Any]
    upstream: list[str]
    status: str = "pending"  # pending, running, succeeded, failed, lost, blocked
    error: str = ""
    worker: int | None = None
    times: dict[str, float] = dataclasses.field(default_factory=dict)
    """The worker's ``start`` and ``end`` (POSIX seconds) and ``cpu`` (seconds)."""

    @property
    def name(self) -> str:
        data_id = ", ".join(f"{k}: {v!r}" for k, v in self.data_id.items())
        return f"{self.label}@{{{data_id}}}"

    def summary(self) -> dict[str, Any]:
        item: dict[str, Any] = {"id": self.id, "label": self.label, "dataId": self.data_id}
        item["status"] = self.status
        if self.error:
            item["error"] = self.error
        if self.worker is not None:
            item["worker"] = self.worker
        item.update(self.times)
        return item


def _iso(seconds: float) -> str:
    when = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class WorkerJobRunner:
    """Runs jobs on the quantum workers of a pool (see the module documentation).

    Parameters
    ----------
    pool : `QuantumWorkerPool`
        Where the workers come from.
    repo : `str`
        The repository (path or alias) the workers open.
    log : `logging.Logger`
        The OCPS's log.
    """

    def __init__(self, pool: QuantumWorkerPool, repo: str, log: logging.Logger) -> None:
        self.pool = pool
        self.repo = repo
        self.log = log
        self.plan_with_pipetask = False
        """Plan every job by running ``pipetask`` in the worker (the way before
        in-process planning; for comparisons)."""
        self._kill_after: list[int] = []

    def inject_worker_death(self, count: int, after_quanta: int) -> None:
        """Kill (SIGKILL) a worker of each of the next ``count`` jobs mid-quantum.

        The worker is killed as soon as it has been handed the quantum that
        follows the first ``after_quanta`` finished ones of its job.
        """
        self._kill_after = [int(after_quanta)] * int(count)

    async def run(self, job: OcpsJob, pipetask_args: list[str]) -> None:
        """Run ``job`` and finish it (COMPLETED or ERROR); abort is `OcpsJob.abort`'s.

        Parameters
        ----------
        job : `OcpsJob`
            The job; its log header is written.
        pipetask_args : `list` [`str`]
            The ``pipetask`` arguments (after the executable) of the job.
        """
        kill_after = self._kill_after.pop(0) if self._kill_after else None
        # Every worker the job ran on (the record's ``workers``, in order), and
        # those it holds now (not handed back to the pool).
        workers: list[QuantumWorkerProcess] = []
        held: list[QuantumWorkerProcess] = []
        own_logs: dict[QuantumWorkerProcess, str] = {}

        def stop(sig: signal.Signals) -> None:
            for worker in held:
                worker.kill(sig)

        try:
            # Waiting for a free worker (other jobs hold them all), the job has no
            # stop: abort_job cancels the wait.
            workers = await self.pool.acquire(job.processes, holder=job.job_id)
            held[:] = workers
            job.stop = stop
            job.start(workers[0].pid)
            job.workers = [{"pid": w.pid, "quanta": 0, "returnCode": None} for w in workers]
            await job.write_record()
            fewer = (
                f"; {job.processes} asked, the others busy with other jobs "
                f"(at most {self.pool.max_workers} workers in all)"
                if len(workers) < job.processes
                else ""
            )
            self.log.info(
                "Job %s started on %d worker(s) (pids %s)%s",
                job.job_id,
                len(workers),
                ", ".join(str(w.pid) for w in workers),
                fewer,
            )
            log_path = str(job.log_file)
            for worker in workers:
                own_logs[worker] = str(worker.log_file)
            await asyncio.gather(*(w.request("log", path=log_path) for w in workers))
            graph = str(job.job_dir / "graph.qg")
            plan = await workers[0].request(
                "plan",
                args=[*pipetask_args, "--init-only", "--save-qgraph", graph],
                graph=graph,
                pipetask=self.plan_with_pipetask,
            )
            if not plan["ok"]:
                job.finish(
                    OcpsJobPhase.ERROR,
                    f"pipetask could not make the quantum graph ({plan['error']}); see {job.log_file}",
                )
                return
            quanta = [_Quantum(q["id"], q["label"], q["dataId"], q["upstream"]) for q in plan["quanta"]]
            where = dict(repo=self.repo, graph=graph, output=job.output_collection, outputRun=job.output_run)
            # The planning worker initialises the run while the others read the saved graph.
            opened = await asyncio.gather(
                workers[0].request("init", **where), *(w.request("open", **where) for w in workers[1:])
            )
            for index, reply in enumerate(opened):
                if not reply["ok"]:
                    what = "initialise the job's run" if index == 0 else "open the job"
                    job.finish(OcpsJobPhase.ERROR, f"a worker could not {what}: {reply['error']}")
                    return
            await _Schedule(self, job, workers, held, own_logs, where, kill_after).run(quanta)
        except QuantumWorkerDiedError as e:
            if not job.abort_requested:
                job.finish(OcpsJobPhase.ERROR, f"a quantum worker died before the quanta ran: {e}")
        finally:
            job.stop = None
            await self._give_back(held, own_logs)
            for index, worker in enumerate(workers):
                if job.workers and index < len(job.workers):
                    job.workers[index]["returnCode"] = worker.return_code
            if job.abort_requested:
                job.finish(OcpsJobPhase.ABORTED, "aborted by abort_job")

    async def _give_back(self, workers: list[QuantumWorkerProcess], own_logs: dict[Any, str]) -> None:
        """Forget the job in the live workers and return them to the pool."""
        workers = list(workers)

        async def reset(worker: QuantumWorkerProcess) -> None:
            try:
                if worker.alive:
                    await worker.request("close")
                    await worker.request("log", path=own_logs.get(worker, str(worker.log_file)))
            except QuantumWorkerDiedError:
                pass
            except asyncio.CancelledError:
                worker.kill()
                raise

        await asyncio.gather(*(reset(w) for w in workers), return_exceptions=True)
        for worker in workers:
            self.pool.release_one(worker)

    def _finish(self, job: OcpsJob, quanta: list[_Quantum]) -> None:
        if job.abort_requested:
            return
        counts = {s: sum(q.status == s for q in quanta) for s in ("succeeded", "failed", "lost", "blocked")}
        if counts["succeeded"] == len(quanta):
            job.finish(OcpsJobPhase.COMPLETED, "")
            return
        parts = []
        for status, what in (
            ("failed", "failed"),
            ("lost", "did not run: their worker died while running them"),
            ("blocked", "did not run: an input failed or was not made"),
        ):
            selected = [q for q in quanta if q.status == status]
            if selected:
                parts.append(f"{len(selected)} {what}: {_names(selected)}")
        job.finish(
            OcpsJobPhase.ERROR,
            f"{counts['succeeded']} of {len(quanta)} quanta succeeded; "
            + "; ".join(parts)
            + f"; see {job.log_file}",
        )


class _Schedule:
    """Hands out one job's quanta to its workers, sharing them with other jobs (module documentation)."""

    def __init__(
        self,
        runner: WorkerJobRunner,
        job: OcpsJob,
        workers: list[QuantumWorkerProcess],
        held: list[QuantumWorkerProcess],
        own_logs: dict[QuantumWorkerProcess, str],
        where: dict[str, str],
        kill_after: int | None,
    ) -> None:
        self.runner = runner
        self.pool = runner.pool
        self.log = runner.log
        self.job = job
        self.workers = workers
        self.held = held
        self.own_logs = own_logs
        self.where = where
        self.kill_after = kill_after
        self.n_shards = len(workers)

    async def run(self, quanta: list[_Quantum]) -> None:
        """Run ``quanta`` to their end and finish the job."""
        job, workers, pool = self.job, self.workers, self.pool
        by_id = {q.id: q for q in quanta}
        detectors = sorted({q.data_id["detector"] for q in quanta if "detector" in q.data_id})
        rank = {d: i for i, d in enumerate(detectors)}

        def shard(q: _Quantum) -> int | None:
            detector = q.data_id.get("detector")
            return rank[detector] % self.n_shards if detector is not None else None

        def ready(q: _Quantum) -> bool:
            return q.status == "pending" and all(by_id[u].status == "succeeded" for u in q.upstream)

        def pick(index: int) -> _Quantum | None:
            candidates = [q for q in quanta if ready(q)]
            for choose in (
                lambda q: shard(q) == index,
                lambda q: shard(q) is None,
                lambda q: True,
            ):
                for q in candidates:
                    if choose(q):
                        return q
            return None

        first_start: float | None = None
        last_end: float | None = None
        finished = 0
        idle = list(range(len(workers)))
        running: dict[asyncio.Future[Any], tuple[int, _Quantum]] = {}
        joining: dict[asyncio.Future[Any], QuantumWorkerProcess] = {}
        released: asyncio.Future[Any] | None = None
        try:
            while True:
                for index in list(idle):
                    q = pick(index)
                    if q is None:
                        continue
                    idle.remove(index)
                    q.status, q.worker = "running", workers[index].pid
                    task = asyncio.create_task(workers[index].request("run", id=q.id))
                    running[task] = (index, q)
                    if self.kill_after is not None and finished >= self.kill_after:
                        self.kill_after = None
                        self.log.warning(
                            "Job %s: killing worker %s while it runs %s (inject_worker_death)",
                            job.job_id,
                            workers[index].pid,
                            q.name,
                        )
                        workers[index].kill(signal.SIGKILL)
                if not running:
                    break
                pending = sum(q.status == "pending" for q in quanta)
                if len(self.held) + len(joining) < job.processes and pending > len(idle) and not joining:
                    for worker in pool.try_acquire(job.job_id, job.processes - len(self.held)):
                        joining[asyncio.create_task(self._join(worker))] = worker
                    if released is None and not joining:
                        released = asyncio.create_task(pool.released())
                waits: list[asyncio.Future[Any]] = [*running, *joining]
                if released is not None:
                    waits.append(released)
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                if released is not None and released.done():
                    released = None
                for future in done:
                    if future in joining:
                        worker = joining.pop(future)
                        if future.result():
                            if worker in workers:  # one it handed back earlier: the same record entry
                                idle.append(workers.index(worker))
                            else:
                                idle.append(len(workers))
                                workers.append(worker)
                                if job.workers is not None:
                                    job.workers.append({"pid": worker.pid, "quanta": 0, "returnCode": None})
                        continue
                    if future not in running:
                        continue
                    index, q = running.pop(future)
                    try:
                        reply = future.result()
                    except QuantumWorkerDiedError as e:
                        q.status, q.error = "lost", f"worker {workers[index].pid} died: {e}"
                        self.log.error("Job %s: %s while running %s", job.job_id, q.error, q.name)
                        continue
                    finished += 1
                    if job.workers is not None:
                        job.workers[index]["quanta"] += 1
                    q.times = {key: reply[key] for key in ("start", "end", "cpu") if key in reply}
                    if "start" in reply:
                        first_start = min(first_start or reply["start"], reply["start"])
                        last_end = max(last_end or reply["end"], reply["end"])
                    if reply["ok"]:
                        q.status = "succeeded"
                    else:
                        q.status, q.error = "failed", reply["error"]
                    if pool.should_hand_back(job.job_id) and any(q.status == "pending" for q in quanta):
                        await self._hand_back(workers[index])
                    else:
                        idle.append(index)
        except asyncio.CancelledError:
            for request in running:
                request.cancel()
            raise
        finally:
            if released is not None:
                released.cancel()
            for join in joining:
                join.cancel()
            outcomes = await asyncio.gather(*joining, return_exceptions=True)
            for worker, outcome in zip(joining.values(), outcomes, strict=True):
                if outcome is True or outcome is False:
                    continue  # held (given back with the others) or already given back
                if worker in self.held:  # stopped mid-request: its state is unknown
                    self.held.remove(worker)
                    worker.kill()
                pool.release_one(worker)
            job.first_quantum_start = _iso(first_start) if first_start is not None else None
            job.last_quantum_end = _iso(last_end) if last_end is not None else None
        for q in quanta:
            if q.status == "pending":
                q.status = "blocked"
        job.quanta = [q.summary() for q in quanta]
        self.runner._finish(job, quanta)

    async def _join(self, worker: QuantumWorkerProcess) -> bool:
        """Point a worker taken mid-job at the job's log and graph; False (given back) if it cannot."""
        self.held.append(worker)
        self.own_logs[worker] = str(worker.log_file)
        try:
            await worker.request("log", path=str(self.job.log_file))
            reply = await worker.request("open", **self.where)
        except QuantumWorkerDiedError:
            reply = {"ok": False}
        if reply["ok"]:
            self.log.info(
                "Job %s: worker %s joins (%d of the %d asked)",
                self.job.job_id,
                worker.pid,
                len(self.held),
                self.job.processes,
            )
            return True
        self.held.remove(worker)
        await self.runner._give_back([worker], self.own_logs)
        return False

    async def _hand_back(self, worker: QuantumWorkerProcess) -> None:
        """Give a worker that finished its quantum back to the pool, for a job waiting with none."""
        self.log.info(
            "Job %s hands worker %s back for a job waiting for one (fair share of %d workers)",
            self.job.job_id,
            worker.pid,
            self.pool.max_workers or 0,
        )
        self.held.remove(worker)
        await self.runner._give_back([worker], self.own_logs)


def _names(quanta: list[_Quantum]) -> str:
    text = ", ".join(q.name for q in quanta[:_NAMED])
    if len(quanta) > _NAMED:
        text += f" and {len(quanta) - _NAMED} more (all in the record's quanta)"
    return text
