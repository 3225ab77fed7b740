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

"""CHECK: run a script's configure-time checks without running it.

How: the script file is started as its own process, exactly as the queue
starts it (``python SCRIPT INDEX``, over DDS), at an index outside every
queue's range; it is sent ``setLogLevel`` and ``configure`` with the
operator's text over SAL, the way the queue configures a script. The
script's own ``configure`` then validates the configuration, builds its
plan and makes its checks (cross-field rules, the camera's filters, the
butler repository), logs the plan and writes its ``metadata`` (estimated
duration, number of images). Nothing is taken: the script is never sent
``run``; once it reports CONFIGURED it is sent ``stop`` and ends STOPPED
(a script stopped before running skips its run and cleanup). A refused
configuration ends CONFIGURE_FAILED with the script's reason.

The panel never imports the script's package: the script is a process
and the answer comes over SAL, so what CHECK says is what the queue's own
configure will say.
"""

__all__ = ["ConfigCheck"]

import asyncio
import dataclasses
import itertools
import logging
import os
import pathlib
import sys
import typing

from ...sal.base import AckError, ScriptState
from ...sal.domain import Domain
from ...sal.remote import Remote
from ...sal.transport_choice import TRANSPORT_ENV

CHECK_INDEX_BASE = 1_000_000_000
"""Check scripts get index ``CHECK_INDEX_BASE + queue_index * 100000 + n``:
above every ScriptQueue's own range (``queue_index * 100000 + n``).
"""

START_TIMEOUT = 60.0
"""Time limit (seconds) for the script process to report UNCONFIGURED."""

CONFIGURE_TIMEOUT = 300.0
"""Time limit (seconds) for the script's configure (repository checks included)."""

END_TIMEOUT = 30.0
"""Time limit (seconds) for the script to end after the stop."""

MAX_LOG_LINES = 200
"""Most log messages kept in the answer."""

_counter = itertools.count(1)


@dataclasses.dataclass
class ConfigCheck:
    """The outcome of a CHECK: what the script's configure said.

    Attributes
    ----------
    ok : `bool`
        Did the script accept the configuration (state CONFIGURED)?
    state : `str`
        The script's last state (CONFIGURED, CONFIGURE_FAILED, ...); "" if
        it never reported one.
    reason : `str`
        Why it was refused (the script's reason, or what went wrong).
    duration : `float`
        The script's estimated duration (s), ``metadata.duration``.
    nimages : `int`
        Images it plans to take, ``metadata.nimages``.
    plan : `str`
        The plan the script logged last before it was configured.
    log : `list` [`dict`]
        Its log messages: ``level``, ``name``, ``message``.
    elapsed : `float`
        How long the check took (s).
    """

    ok: bool = False
    state: str = ""
    reason: str = ""
    duration: float = 0.0
    nimages: int = 0
    plan: str = ""
    log: list[dict[str, typing.Any]] = dataclasses.field(default_factory=list)
    elapsed: float = 0.0

    def to_dict(self) -> dict[str, typing.Any]:
        """The JSON answer of the CHECK endpoint."""
        return dataclasses.asdict(self)

    @staticmethod
    def next_index(queue_index: int) -> int:
        """An index for a check script of a queue, unused in this process."""
        return CHECK_INDEX_BASE + queue_index * 100000 + next(_counter) % 100000

    @classmethod
    async def run(
        cls,
        script_path: pathlib.Path,
        config: str,
        *,
        index: int,
        log_level: int = logging.INFO,
        log: logging.Logger | None = None,
    ) -> "ConfigCheck":
        """Start the script, configure it, stop it, and report.

        Parameters
        ----------
        script_path : `pathlib.Path`
            The script file (found by the queue's discovery).
        config : `str`
            The configuration text, sent as typed.
        index : `int`
            SAL index of the check script (`next_index`).
        log_level : `int`, optional
            Log level the script is set to before configure.
        log : `logging.Logger`, optional
            Where the script process's failures are logged.

        Returns
        -------
        check : `ConfigCheck`
            The outcome; a script that cannot start or does not answer in
            time is reported with ``ok`` False and the reason.
        """
        from ...sal.dds_transport import DdsTransport

        log = log or logging.getLogger(__name__)
        loop = asyncio.get_running_loop()
        began = loop.time()
        check = cls()
        states: asyncio.Queue[typing.Any] = asyncio.Queue()

        def on_state(data: typing.Any) -> None:
            check.state = ScriptState(data.state).name
            if data.reason:
                check.reason = data.reason
            states.put_nowait(data.state)

        def on_log(data: typing.Any) -> None:
            if len(check.log) < MAX_LOG_LINES:
                check.log.append(
                    {"level": int(data.level), "name": str(data.name), "message": str(data.message)}
                )
            if data.level >= logging.INFO and check.state == ScriptState.UNCONFIGURED.name:
                check.plan = str(data.message)

        def on_metadata(data: typing.Any) -> None:
            check.duration = float(data.duration)
            check.nimages = int(data.nimages)

        process: asyncio.subprocess.Process | None = None
        async with (
            Domain(transport=DdsTransport(loop)) as domain,
            Remote(
                domain, "Script", index, include=["state", "logMessage", "metadata"], evt_max_history=0
            ) as remote,
        ):
            remote.evt_state.callback = on_state
            remote.evt_logMessage.callback = on_log
            remote.evt_metadata.callback = on_metadata
            try:
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    str(script_path),
                    str(index),
                    env=dict(os.environ, **{TRANSPORT_ENV: "dds"}),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.PIPE,
                )
                exited = asyncio.ensure_future(process.communicate())
                await cls._wait_state(states, exited, {ScriptState.UNCONFIGURED}, START_TIMEOUT)
                if check.state == ScriptState.UNCONFIGURED.name:
                    await domain.transport.wait_for_readers(  # type: ignore[attr-defined]
                        "Script", "command_configure", START_TIMEOUT
                    )
                    await remote.cmd_setLogLevel.set_start(level=log_level, timeout=START_TIMEOUT)
                    try:
                        await remote.cmd_configure.set_start(config=config, timeout=CONFIGURE_TIMEOUT)
                    except AckError as e:
                        if not check.reason:
                            check.reason = e.ackcmd.result or str(e)
                    await cls._wait_state(
                        states, exited, {ScriptState.CONFIGURED, ScriptState.CONFIGURE_FAILED}, END_TIMEOUT
                    )
                    check.ok = check.state == ScriptState.CONFIGURED.name
                    if check.ok:
                        await remote.cmd_stop.start(timeout=END_TIMEOUT)
                elif not check.reason:
                    check.reason = "the script did not start (no UNCONFIGURED state)"
                try:
                    _, stderr = await asyncio.wait_for(asyncio.shield(exited), END_TIMEOUT)
                except TimeoutError:
                    stderr = b""
                    log.warning("Check script %s did not exit after its checks; killing it", index)
                if not check.state and stderr:
                    check.reason = stderr.decode(errors="replace")[-2000:]
            except (AckError, TimeoutError) as e:
                check.ok = False
                check.reason = check.reason or f"the script did not answer in time: {e}"
            finally:
                if process is not None and process.returncode is None:
                    process.kill()
                    await process.wait()
        check.elapsed = loop.time() - began
        return check

    @staticmethod
    async def _wait_state(
        states: asyncio.Queue[typing.Any],
        exited: asyncio.Future[typing.Any],
        wanted: set[ScriptState],
        timeout: float,
    ) -> None:
        """Wait until the script reports a state in ``wanted`` or a final
        state, or its process exits.
        """
        async with asyncio.timeout(timeout):
            while True:
                getter = asyncio.ensure_future(states.get())
                done, _ = await asyncio.wait({getter, exited}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    return
                state = getter.result()
                if state in wanted or state >= ScriptState.DONE:
                    return
