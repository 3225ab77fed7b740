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


"""`ObservatoryProcess`: the simulated observatory as a child process.

``run_one_script --simulate`` over DDS (through `SimulatedObservatoryProvider`)
starts ``run_comcam_sim`` with this class and waits until it prints
`READY_LINE`; lines starting with `ENV_LINE_PREFIX` give environment
variables (the repository alias) that the parent sets for the processes it
starts next.
"""

__all__ = ["ENV_LINE_PREFIX", "READY_LINE", "START_TIMEOUT", "STOP_TIMEOUT", "ObservatoryProcess"]

import asyncio
import os
import sys
import typing

from ..sal.lifecycle_mixin import LifecycleMixin
from ..sal.transport_choice import TRANSPORT_ENV

READY_LINE = "run_comcam_sim: ready"
"""Printed (alone on its line) by ``run_comcam_sim`` when every CSC is ENABLED."""

ENV_LINE_PREFIX = "run_comcam_sim: env "
"""Prefix of the lines giving environment variables other processes need (NAME=VALUE)."""

START_TIMEOUT = 300.0
"""Time limit (seconds) for the observatory process to become ready (first use bootstraps the repository)."""

STOP_TIMEOUT = 30.0
"""Time limit (seconds) for the observatory process to exit after SIGTERM."""


class ObservatoryProcess(LifecycleMixin):
    """Start ``run_comcam_sim`` as a child process; stop it on exit.

    Parameters
    ----------
    args : `list` [`str`]
        Command-line arguments of ``run_comcam_sim``.
    stream : `typing.TextIO`, optional
        Where to relay the child's output; `sys.stdout` if None.

    Notes
    -----
    The child inherits the environment (so ``LSST_TOPIC_SUBNAME``); the
    environment variables it reports (the repository alias) are set in
    this process too, so the processes it starts next reach the repository.
    """

    def __init__(self, args: typing.Sequence[str], stream: typing.TextIO | None = None) -> None:
        self.args = list(args)
        self.stream = sys.stdout if stream is None else stream
        self.process: asyncio.subprocess.Process | None = None
        self.description = ""
        self._relay_task: asyncio.Task[None] | None = None

    def describe(self) -> str:
        """One line saying what runs where."""
        pid = self.process.pid if self.process is not None else None
        return f"observatory process {pid}: {self.description}"

    async def start(self) -> None:
        """Start the child and wait until it is ready.

        Raises
        ------
        RuntimeError
            If the child exits (or is not ready within `START_TIMEOUT`).
        """
        env = dict(os.environ, **{TRANSPORT_ENV: "dds"})
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "lsst.ts.calibrations.sim.run_comcam_sim",
            *self.args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        assert self.process.stdout is not None
        lines: list[str] = []
        try:
            async with asyncio.timeout(START_TIMEOUT):
                while True:
                    raw = await self.process.stdout.readline()
                    if not raw:
                        code = await self.process.wait()
                        raise RuntimeError(
                            f"run_comcam_sim exited with code {code} before it was ready:\n" + "".join(lines)
                        )
                    line = raw.decode(errors="replace")
                    lines.append(line)
                    text = line.rstrip("\n")
                    if text == READY_LINE:
                        break
                    if text.startswith(ENV_LINE_PREFIX):
                        name, _, value = text.removeprefix(ENV_LINE_PREFIX).partition("=")
                        os.environ[name] = value
                    elif text.startswith("simulated observatory"):
                        self.description = text
        except BaseException:
            await self.stop()
            raise
        self._relay_task = asyncio.create_task(self._relay())

    async def _relay(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while raw := await self.process.stdout.readline():
            print(raw.decode(errors="replace").rstrip("\n"), file=self.stream, flush=True)

    async def stop(self) -> int | None:
        """Send SIGTERM and wait for the child to exit (kill it after `STOP_TIMEOUT`).

        Returns
        -------
        code : `int` or `None`
            The child's exit code; None if it was never started.
        """
        if self.process is None:
            return None
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._relay_task is not None:
            try:
                await asyncio.wait_for(self._relay_task, STOP_TIMEOUT)
            except TimeoutError:
                self._relay_task.cancel()
        return self.process.returncode

    async def close(self) -> None:
        """Stop the child (see `stop`). Idempotent."""
        await self.stop()
