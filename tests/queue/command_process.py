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

"""``run_script_queue`` as a process, as an operator starts it: started
without an isolation name, read up to its ready line, interrupted with
Ctrl-C; and the processes of the isolation name it made.
"""

import asyncio
import os
import pathlib
import signal
import sys

from fixtures.timeouts import PIPETASK_TIMEOUT, STD_TIMEOUT
from lsst.ts.calibrations.queue.run_script_queue import READY_PREFIX
from lsst.ts.calibrations.sal.isolation import SUBNAME_ENV
from lsst.ts.calibrations.sal.transport_choice import TRANSPORT_ENV

SIM_READY_TIMEOUT = PIPETASK_TIMEOUT
"""Time limit (s) of ``--simulate`` to its ready line (the observatory's process and CSCs first)."""

QUANTUM_WORKER = b"lsst.ts.calibrations.sim.quantum_worker"
"""In the command line of the simulated OCPS's quantum workers (processes of the observatory's)."""


def pids_in_subname(subname: str, *, workers: bool = True) -> list[int]:
    """Live processes (not zombies) whose environment has ``LSST_TOPIC_SUBNAME=subname``.

    With ``workers=False``, leave out the OCPS's quantum workers.
    """
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
        zombie = any(line.startswith("State:") and "Z" in line.split()[1] for line in status.splitlines())
        if f"{SUBNAME_ENV}={subname}".encode() in environ and not zombie:
            if workers or QUANTUM_WORKER not in cmdline:
                found.append(int(entry.name))
    return found


async def start_command(
    args: list[str], tmp_path: pathlib.Path, env: dict[str, str] | None = None
) -> tuple[asyncio.subprocess.Process, list[str]]:
    """Start ``run_script_queue`` without an isolation name; return it and
    its output up to the ready line.

    ``env`` is added to the environment (the test's, without an isolation
    name or transport; ``HOME`` is ``tmp_path``, where the panel stores its
    configurations).
    """
    full_env = {name: value for name, value in os.environ.items() if name not in (SUBNAME_ENV, TRANSPORT_ENV)}
    full_env["HOME"] = str(tmp_path)
    full_env.update(env or {})
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lsst.ts.calibrations.queue.run_script_queue",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=full_env,
        cwd=tmp_path,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(SIM_READY_TIMEOUT if "--simulate" in args else STD_TIMEOUT):
            while not (lines and lines[-1].startswith(READY_PREFIX)):
                raw = await process.stdout.readline()
                assert raw, "run_script_queue exited before it was ready:\n" + "".join(lines)
                lines.append(raw.decode())
    except BaseException:
        process.kill()
        await process.wait()
        raise
    return process, lines


def subname_of(lines: list[str]) -> str:
    """The isolation name the command printed on its first line."""
    return lines[0].strip().rpartition("=")[2]


def panel_url_of(lines: list[str]) -> str:
    """The panel's address, from the ready line."""
    return lines[-1].strip().rpartition("panel: ")[2]


async def stop_command(process: asyncio.subprocess.Process) -> str:
    """Interrupt the command (Ctrl-C); return the rest of its output."""
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
    rest, _ = await asyncio.wait_for(process.communicate(), STD_TIMEOUT * 2)
    return rest.decode()
