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
from collections.abc import Mapping
from pathlib import Path

from .ocps_execution_backends import QuantumWorkerDiedError
from .quantum_worker_process import QuantumWorkerProcess


class QuantumWorkerPool:
    """Idle, already-imported quantum workers, lent to jobs and taken back.

    A job `acquire` s the workers it runs on (idle ones first, new ones
    started for the rest) and `release` s them when it ends; a worker that
    died or was killed is not taken back. At most ``max_idle`` workers wait
    between jobs. Nothing starts before the first `acquire`: an OCPS that
    runs no job costs no worker imports (about 2.5 s of CPU time each).
    The first `acquire` starts ``max_idle`` workers at once (the job waits
    for those it needs; the others warm up for the next jobs), so only the
    first job waits for the imports. `prestart` warms workers up ahead of
    any job.

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
    """

    def __init__(self, workers_dir: Path, env: Mapping[str, str], max_idle: int, log: logging.Logger) -> None:
        self.workers_dir = workers_dir
        self.env = dict(env)
        self.max_idle = max_idle
        self.log = log
        self.idle: list[QuantumWorkerProcess] = []
        self.busy: set[QuantumWorkerProcess] = set()
        self._starting: set[asyncio.Task[QuantumWorkerProcess]] = set()
        self._closing: set[asyncio.Task[None]] = set()
        self._numbers = itertools.count(1)
        self._started = False
        self._closed = False

    def prestart(self, count: int) -> None:
        """Start ``count`` workers in the background (they become idle when ready)."""
        self._started = True
        for _ in range(count):
            task = self._start_one()
            task.add_done_callback(self._started_idle)

    def _start_one(self) -> "asyncio.Task[QuantumWorkerProcess]":
        worker = QuantumWorkerProcess(self.workers_dir / f"worker-{next(self._numbers)}.log", self.env)

        async def start() -> QuantumWorkerProcess:
            await worker.start()  # ends the process itself if it fails or is cancelled
            return worker

        task = asyncio.create_task(start())
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)
        return task

    def _started_idle(self, task: "asyncio.Task[QuantumWorkerProcess]") -> None:
        if task.cancelled():
            return
        if task.exception() is not None:
            self.log.error("A quantum worker failed to start: %r", task.exception())
            return
        worker = task.result()
        self.idle.append(worker)  # close() ends it if the pool is closing

    async def acquire(self, count: int) -> list[QuantumWorkerProcess]:
        """Return ``count`` ready workers, marked busy.

        Raises
        ------
        QuantumWorkerDiedError
            Raised if a new worker fails to start.
        """
        if not self._started:
            self.prestart(max(count, self.max_idle))
        workers: list[QuantumWorkerProcess] = []
        while len(workers) < count:
            self.idle = [w for w in self.idle if w.alive]
            if self.idle:
                workers.append(self.idle.pop(0))
                continue
            if self._starting:
                # Workers warming up: wait for the first one.
                await asyncio.wait(list(self._starting), return_when=asyncio.FIRST_COMPLETED)
                await asyncio.sleep(0)  # let its done callback put it in idle
                continue
            break
        missing = count - len(workers)
        if missing:
            tasks = [self._start_one() for _ in range(missing)]
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    for worker in workers:
                        self.release_one(worker)
                    for other in results:
                        if isinstance(other, QuantumWorkerProcess):
                            await other.terminate()
                    raise QuantumWorkerDiedError(f"a quantum worker failed to start: {result!r}")
                workers.append(result)
        self.busy.update(workers)
        return workers

    def release_one(self, worker: QuantumWorkerProcess) -> None:
        """Take a worker back: idle if alive and there is room, else ended (and reaped)."""
        self.busy.discard(worker)
        if worker.alive and not self._closed and len(self.idle) < self.max_idle:
            self.idle.append(worker)
        else:
            task = asyncio.create_task(worker.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

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
        await asyncio.gather(*(w.close() for w in workers), return_exceptions=True)
