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

"""QuantumWorkerProcess: the OCPS's handle on one long-lived quantum worker."""

__all__ = ["QuantumWorkerProcess"]

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .ocps_execution_backends import QuantumWorkerDiedError


class QuantumWorkerProcess:
    """One ``python -m lsst.ts.calibrations.sim.quantum_worker`` process, driven over its pipes.

    Use `start` (await it) before `request`. The process leads a session of
    its own, so `kill` reaches it and anything it starts.

    Parameters
    ----------
    log_file : `pathlib.Path`
        The worker's own log (its stderr between jobs).
    env : `dict` [`str`, `str`]
        Environment of the process.
    """

    def __init__(self, log_file: Path, env: Mapping[str, str]) -> None:
        self.log_file = log_file
        self.env = dict(env)
        self.process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    @property
    def pid(self) -> int | None:
        """The process id, once started."""
        return self.process.pid if self.process is not None else None

    @property
    def alive(self) -> bool:
        """Is the process running?"""
        return self.process is not None and self.process.returncode is None

    @property
    def return_code(self) -> int | None:
        """The process's return code once it has ended (negative: the signal)."""
        return self.process.returncode if self.process is not None else None

    async def start(self) -> None:
        """Start the process and wait until it has imported the middleware and tasks.

        Raises
        ------
        QuantumWorkerDiedError
            Raised if the process ends before it is ready.
        """
        await asyncio.to_thread(self.log_file.parent.mkdir, parents=True, exist_ok=True)
        log = await asyncio.to_thread(self.log_file.open, "ab")
        creating = asyncio.ensure_future(
            asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "lsst.ts.calibrations.sim.quantum_worker",
                "--parent",
                str(os.getpid()),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                env=self.env,
                start_new_session=True,
                limit=2**26,
            )
        )
        try:
            try:
                self.process = await asyncio.shield(creating)
            except asyncio.CancelledError:
                # Let the process come into being, so that it can be ended, not orphaned.
                self.process = await creating
                raise
            finally:
                log.close()
            await self._read()
        except BaseException:
            await asyncio.shield(self.terminate())
            raise

    async def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send one request and return its reply.

        Parameters
        ----------
        op : `str`
            The operation (see `~lsst.ts.calibrations.sim.quantum_worker`).
        **fields : `typing.Any`
            Its fields.

        Returns
        -------
        reply : `dict` [`str`, `typing.Any`]
            The reply (``ok`` and what the operation returns).

        Raises
        ------
        QuantumWorkerDiedError
            Raised if the process ends before replying.
        """
        async with self._lock:
            if not self.alive:
                raise QuantumWorkerDiedError(f"worker {self.pid} has ended (return code {self.return_code})")
            assert self.process is not None and self.process.stdin is not None
            try:
                self.process.stdin.write((json.dumps({"op": op, **fields}) + "\n").encode())
                await self.process.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                await self.process.wait()
                raise QuantumWorkerDiedError(
                    f"worker {self.pid} ended with return code {self.return_code}"
                ) from None
            return await self._read()

    async def _read(self) -> dict[str, Any]:
        assert self.process is not None and self.process.stdout is not None
        line = await self.process.stdout.readline()
        if not line:
            await self.process.wait()
            raise QuantumWorkerDiedError(f"worker {self.pid} ended with return code {self.return_code}")
        return json.loads(line)

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send ``sig`` to the worker's process group (nothing if it has ended)."""
        if self.alive:
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)

    async def close(self, timeout: float = 5.0) -> None:
        """End the worker: SIGTERM (it holds nothing between jobs), SIGKILL after ``timeout`` seconds."""
        if self.process is None:
            return
        self.kill(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(self.process.wait()), timeout)
        except TimeoutError:
            pass
        await self.terminate()

    async def terminate(self) -> None:
        """End the worker now (SIGKILL), wait for it and close its pipes."""
        if self.process is None:
            return
        self.kill()
        await self.process.wait()
        if self.process.stdin is not None:
            self.process.stdin.close()
