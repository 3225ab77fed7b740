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

"""QuantumWorkerPool: warm quantum workers kept by the OCPS between jobs."""

__all__ = ["QuantumWorkerPool"]

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Coroutine, Hashable, Mapping
from pathlib import Path
from typing import Any, Literal

from .ocps_execution_backends import QuantumWorkerDiedError
from .quantum_worker_process import QuantumWorkerProcess


class QuantumWorkerPool:
    """Idle, already-imported quantum workers, lent to jobs and taken back.

    A job `acquire` s the workers it runs on (idle ones first, new ones
    started for the rest) and `release` s them when it ends; a worker that
    died or was killed is not taken back. At most ``max_workers`` workers
    live at once, over all the jobs (idle, lent and starting): with
    incremental processing several jobs run at once, and each starting its
    own ``-j`` workers gave a 2-core machine 8 worker processes, each paying
    its imports (about 2.5 s of CPU time) and its memory. A job gets the
    workers that are free, up to what it asks, and waits only while none is:
    it never holds workers while it waits for more, so two jobs cannot wait
    for each other. At most ``max_idle`` workers wait between jobs. Nothing
    starts before the first `acquire`: an OCPS that runs no job costs no
    worker imports. The first `acquire` starts ``max_idle`` workers at once
    (the job waits for those it needs; the others warm up for the next
    jobs), so only the first job waits for the imports. `prestart` warms
    workers up ahead of any job.

    Fair share: the pool knows who holds which workers (``holder``) and
    how many acquirers wait with none. While one waits, a holder of more
    than its share (``max_workers`` over the holders and the waiters, at
    least 1) is asked to hand a worker back when it finishes its current
    quantum (`should_hand_back`); a job with fewer workers than it asked
    for takes idle ones again while nobody waits (`try_acquire`), e.g.
    when the small job that took one has ended. So a job arriving while
    another holds every worker waits about one quantum, not until that
    job ends, and ``max_workers`` stays a hard bound.

    Parameters
    ----------
    workers_dir : `pathlib.Path`
        Folder of the workers' own logs (``worker-<n>.log``).
    env : `dict` [`str`, `str`]
        Environment of the worker processes.
    max_idle : `int`
        Most workers kept between jobs.
    log : `logging.Logger`
        Where to say what happens.
    max_workers : `int` or `None`, optional
        Most workers alive at once over all jobs; `None` for no bound (each
        job starts what it lacks).

    Raises
    ------
    ValueError
        If ``max_workers`` is less than 1 or less than ``max_idle``.
    """

    def __init__(
        self,
        workers_dir: Path,
        env: Mapping[str, str],
        max_idle: int,
        log: logging.Logger,
        max_workers: int | None = None,
    ) -> None:
        if max_workers is not None and not max_idle <= max_workers >= 1:
            raise ValueError(f"max_workers={max_workers} must be at least 1 and at least max_idle={max_idle}")
        self.workers_dir = workers_dir
        self.env = dict(env)
        self.max_idle = max_idle
        self.max_workers = max_workers
        self.log = log
        self.idle: list[QuantumWorkerProcess] = []
        self.busy: set[QuantumWorkerProcess] = set()
        self.most_alive = 0
        """The most workers ever alive at once (idle, lent and starting)."""
        self._starting: set[asyncio.Task[QuantumWorkerProcess]] = set()
        self._for_jobs: set[asyncio.Task[QuantumWorkerProcess]] = set()
        self._closing: set[asyncio.Task[None]] = set()
        self._freed = asyncio.Event()
        self._released = asyncio.Event()
        self._waiting = 0
        self.share_fairly = True
        """Ask holders of more than their share to hand workers back while a job
        waits (False: a job keeps its workers to its end, as before; for comparisons)."""
        self._holders: dict[QuantumWorkerProcess, Hashable] = {}
        self._numbers = itertools.count(1)
        self._started = False
        self._closed = False

    @property
    def alive(self) -> int:
        """Workers counted against ``max_workers``: idle, lent and starting."""
        return len(self.idle) + len(self.busy) + len(self._starting)

    def prestart(self, count: int) -> None:
        """Start ``count`` workers in the background (they become idle when ready).

        No more start than ``max_workers`` allows.
        """
        self._started = True
        for _ in range(min(count, self._room())):
            self._start_one(for_job=False).add_done_callback(self._log_failed_start)

    def _room(self) -> int:
        """How many more workers may start now."""
        if self.max_workers is None:
            return 1 << 30
        return max(self.max_workers - self.alive, 0)

    def _start_one(self, for_job: bool) -> "asyncio.Task[QuantumWorkerProcess]":
        """Start a worker; when ready it is lent (``for_job``) or idle.

        It moves from starting to busy or idle in one step, so `alive`
        never undercounts it.
        """
        worker = QuantumWorkerProcess(self.workers_dir / f"worker-{next(self._numbers)}.log", self.env)

        async def start() -> QuantumWorkerProcess:
            try:
                await worker.start()  # ends the process itself if it fails or is cancelled
            finally:
                self._starting.discard(task)
                self._freed.set()  # a failed start frees its place
            (self.busy.add if for_job else self.idle.append)(worker)  # close() ends it if closing
            return worker

        task = asyncio.create_task(start())
        self._starting.add(task)
        self.most_alive = max(self.most_alive, self.alive)
        return task

    def _log_failed_start(self, task: "asyncio.Task[QuantumWorkerProcess]") -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.error("A quantum worker failed to start: %r", task.exception())

    @property
    def waiting(self) -> int:
        """Acquirers waiting with no worker yet."""
        return self._waiting

    def holder_of(self, worker: QuantumWorkerProcess) -> Hashable | None:
        """Who holds ``worker`` (as given to `acquire` or `try_acquire`), or None if it is not lent."""
        return self._holders.get(worker)

    def held_by(self, holder: Hashable) -> int:
        """How many workers ``holder`` holds."""
        return sum(1 for owner in self._holders.values() if owner == holder)

    def fair_share(self) -> int:
        """Workers per job when the holders and the waiting acquirers share ``max_workers`` (at least 1)."""
        if self.max_workers is None:
            return 1 << 30
        jobs = len(set(self._holders.values())) + self._waiting
        return max(1, self.max_workers // max(jobs, 1))

    def should_hand_back(self, holder: Hashable) -> bool:
        """Should ``holder`` give a worker back (when its current quantum ends)?

        True while an acquirer waits with no worker and ``holder`` holds
        more than one worker and more than its `fair_share`.
        """
        if not self.share_fairly:
            return False
        held = self.held_by(holder)
        return self._waiting > 0 and held > 1 and held > self.fair_share()

    def try_acquire(self, holder: Hashable, count: int) -> list[QuantumWorkerProcess]:
        """Return up to ``count`` idle workers at once, marked busy; none while an acquirer waits.

        For a job that runs on fewer workers than it asked for; starts no
        worker and never waits.
        """
        if self._waiting > 0 or self._closed or not self.share_fairly:
            return []
        self.idle = [w for w in self.idle if w.alive]
        taken = self.idle[:count]
        del self.idle[:count]
        for worker in taken:
            self.busy.add(worker)
            self._holders[worker] = holder
        return taken

    def released(self) -> Coroutine[Any, Any, Literal[True]]:
        """Return an awaitable that ends when a worker is next given back (`release_one`).

        The release it waits for is the first after this call, not after
        the first await.
        """
        return self._released.wait()

    async def acquire(self, count: int, holder: Hashable | None = None) -> list[QuantumWorkerProcess]:
        """Return up to ``count`` ready workers (at least one), marked busy.

        Takes the idle workers, starts new ones while ``max_workers``
        allows, and waits only while no worker at all can be had: a job
        runs on fewer workers than it asked for rather than hold some while
        waiting for more. While it waits, holders of more than their
        `fair_share` are asked to hand workers back (`should_hand_back`).

        Parameters
        ----------
        count : `int`
            Workers wanted.
        holder : `~collections.abc.Hashable` or `None`, optional
            Who holds them (e.g. the job's id), for the fair share; a
            holder of its own if None.

        Raises
        ------
        QuantumWorkerDiedError
            Raised if a new worker fails to start.
        """
        holder = holder if holder is not None else object()
        workers = await self._acquire(count)
        for worker in workers:
            self._holders[worker] = holder
        return workers

    async def _acquire(self, count: int) -> list[QuantumWorkerProcess]:
        if not self._started:
            self.prestart(max(count, self.max_idle))
        if self.max_workers is not None:
            count = min(count, self.max_workers)
        count = max(count, 1)
        workers: list[QuantumWorkerProcess] = []
        try:
            while len(workers) < count:
                self.idle = [w for w in self.idle if w.alive]
                if self.idle:
                    worker = self.idle.pop(0)
                    self.busy.add(worker)
                    workers.append(worker)
                    continue
                prestarted = [t for t in self._starting if t not in self._for_jobs]
                if prestarted:
                    # Workers warming up for any job (they owe nothing to another job,
                    # so waiting for them cannot deadlock): wait for the first one.
                    await asyncio.wait(prestarted, return_when=asyncio.FIRST_COMPLETED)
                    continue
                room = min(self._room(), count - len(workers))
                if room > 0:
                    workers += await self._start_for_job(room)
                    continue
                if workers:
                    break  # run on what it has rather than hold workers while waiting
                self._freed.clear()
                self._waiting += 1
                try:
                    await self._freed.wait()
                finally:
                    self._waiting -= 1
        except BaseException:
            for worker in workers:
                self.release_one(worker)
            raise
        return workers

    async def _start_for_job(self, count: int) -> list[QuantumWorkerProcess]:
        """Start ``count`` workers for the calling job and return them, marked busy.

        Raises
        ------
        QuantumWorkerDiedError
            Raised if one fails to start (the others are given back).
        """
        tasks = [self._start_one(for_job=True) for _ in range(count)]
        self._for_jobs.update(tasks)
        try:
            results = await asyncio.gather(*tasks, return_exceptions=True)
        except BaseException:
            # Cancelled: give back those that started; the others end themselves.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for task in tasks:
                if not task.cancelled() and task.exception() is None:
                    self.release_one(task.result())
            raise
        finally:
            self._for_jobs.difference_update(tasks)
        started = [r for r in results if isinstance(r, QuantumWorkerProcess)]
        failed = [r for r in results if not isinstance(r, QuantumWorkerProcess)]
        if failed:
            for worker in started:
                self.busy.discard(worker)
                await worker.terminate()
            self._freed.set()
            raise QuantumWorkerDiedError(f"a quantum worker failed to start: {failed[0]!r}")
        return started

    def release_one(self, worker: QuantumWorkerProcess) -> None:
        """Take a worker back: idle if alive and there is room, else ended (and reaped)."""
        self.busy.discard(worker)
        self._holders.pop(worker, None)
        if worker.alive and not self._closed and len(self.idle) < self.max_idle:
            self.idle.append(worker)
        else:
            task = asyncio.create_task(worker.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        self._freed.set()
        released, self._released = self._released, asyncio.Event()
        released.set()

    async def close(self) -> None:
        """End every worker (idle, busy and starting)."""
        self._closed = True
        for task in list(self._starting):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        await asyncio.sleep(0)  # done callbacks of workers that were ready
        for closing in list(self._closing):
            with contextlib.suppress(BaseException):
                await closing
        workers = [*self.idle, *self.busy]
        self.idle.clear()
        self.busy.clear()
        self._holders.clear()
        await asyncio.gather(*(w.close() for w in workers), return_exceptions=True)
