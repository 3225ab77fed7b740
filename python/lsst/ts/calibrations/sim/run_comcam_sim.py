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

"""``run_comcam_sim``: the simulated ComCam observatory as its own process.

``run_comcam_sim --repo PATH [--time-scale F] [--sensor-model FILE]
[--geometry reduced|full] [--seed N] [--date D] [--sim-fault SPEC ...] [--ocps-max-processes N]``
starts `SimulatedObservatory` (CCCamera, CCHeaderService, CCOODS, OCPS:2,
ENABLED) over the DDS transport, prints
`READY_LINE` when every CSC is ENABLED and runs until Ctrl-C or SIGTERM,
then closes every CSC and exits 0.

`ObservatoryProcess` starts it as a child process and waits until it is
ready: ``run_one_script --simulate`` uses it with the DDS transport.

Isolation: the observatory answers only processes with its isolation name
(``LSST_TOPIC_SUBNAME``). Started by hand without one, it makes a fresh name
and prints it (``export LSST_TOPIC_SUBNAME=...`` in the shell that runs the
scripts); a child of ``run_one_script --simulate`` inherits that command's.
"""

__all__ = ["READY_LINE", "ObservatoryProcess", "main", "make_parser", "run_comcam_sim"]

import argparse
import asyncio
import os
import signal
import sys
import types
import typing

from ..sal.isolation import SUBNAME_ENV, ensure_isolation_name
from ..sal.run_one_script import add_ocps_max_processes_argument, make_simulated_observatory
from ..sal.transport_choice import set_transport_name

READY_LINE = "run_comcam_sim: ready"
"""Printed (alone on its line) when every CSC is ENABLED."""

ENV_LINE_PREFIX = "run_comcam_sim: env "
"""Prefix of the lines giving environment variables other processes need (NAME=VALUE)."""

START_TIMEOUT = 300.0
"""Time limit (seconds) for the observatory process to become ready (first use bootstraps the repository)."""

STOP_TIMEOUT = 30.0
"""Time limit (seconds) for the observatory process to exit after SIGTERM."""


def make_parser() -> argparse.ArgumentParser:
    """Make the command-line parser of ``run_comcam_sim``."""
    parser = argparse.ArgumentParser(
        prog="run_comcam_sim",
        description="Run the simulated ComCam observatory (CCCamera, CCHeaderService, CCOODS, OCPS:2) "
        "as its own process over DDS until Ctrl-C or SIGTERM.",
    )
    parser.add_argument(
        "--repo", required=True, metavar="PATH", help="Butler repository (created if missing)."
    )
    parser.add_argument(
        "--time-scale", type=float, metavar="F", help="Real seconds per simulated second (default 1.0)."
    )
    parser.add_argument("--sensor-model", metavar="FILE", help="Sensor-model file (default: shipped).")
    parser.add_argument("--seed", type=int, metavar="N", help="Seed of the sensor model (default 0).")
    parser.add_argument(
        "--date",
        metavar="YYYY-MM-DD",
        help="Start the simulated clock this day, 18:00 UTC.",
    )
    parser.add_argument(
        "--geometry", choices=("reduced", "full"), help="Raw geometry (default reduced: fewer pixels)."
    )
    parser.add_argument(
        "--sim-fault",
        action="append",
        metavar="SPEC",
        help="Fault to inject (repeatable).",
    )
    add_ocps_max_processes_argument(parser)
    return parser


def _check(parser: argparse.ArgumentParser, namespace: argparse.Namespace) -> None:
    if namespace.time_scale is not None and not namespace.time_scale > 0:
        parser.error(f"--time-scale {namespace.time_scale} must be > 0 (1.0 = real timings)")
    if namespace.seed is not None and namespace.seed < 0:
        parser.error(f"--seed {namespace.seed} must be >= 0")
    if namespace.ocps_max_processes is not None and namespace.ocps_max_processes < 1:
        parser.error(f"--ocps-max-processes {namespace.ocps_max_processes} must be >= 1")


async def run_comcam_sim(namespace: argparse.Namespace, stream: typing.TextIO | None = None) -> None:
    """Run the simulated observatory until SIGINT or SIGTERM.

    Parameters
    ----------
    namespace : `argparse.Namespace`
        Parsed options (`make_parser`).
    stream : `typing.TextIO`, optional
        Where to print; `sys.stdout` if None.
    """
    out = sys.stdout if stream is None else stream
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        namespace.simulate = True
        observatory = make_simulated_observatory(namespace)
        async with observatory as started:
            print(started.describe(), file=out, flush=True)
            for name in (SUBNAME_ENV, "DAF_BUTLER_REPOSITORY_INDEX", "DAF_BUTLER_REPOSITORIES"):
                if os.environ.get(name):
                    print(f"{ENV_LINE_PREFIX}{name}={os.environ[name]}", file=out, flush=True)
            print(READY_LINE, file=out, flush=True)
            await stop.wait()
            print("run_comcam_sim: stopping", file=out, flush=True)
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
    print("run_comcam_sim: stopped", file=out, flush=True)


def main(args: typing.Sequence[str] | None = None) -> None:
    """Run ``run_comcam_sim`` from the command line (DDS transport)."""
    parser = make_parser()
    namespace = parser.parse_args(args)
    _check(parser, namespace)
    set_transport_name("dds")
    name, created = ensure_isolation_name("sim")
    if created:
        print(
            f"run_comcam_sim: this observatory is private: run scripts against it with {SUBNAME_ENV}={name} "
            f"(e.g. export {SUBNAME_ENV}={name})",
            flush=True,
        )
    try:
        asyncio.run(run_comcam_sim(namespace))
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"run_comcam_sim: error: {e}", file=sys.stderr)
        sys.exit(1)


class ObservatoryProcess:
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
        env = dict(os.environ, LSST_SAL_TRANSPORT="dds")
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

    async def __aenter__(self) -> "ObservatoryProcess":
        await self.start()
        return self

    async def __aexit__(
        self,
        type: type[BaseException] | None,
        value: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        await self.stop()


if __name__ == "__main__":
    main()
