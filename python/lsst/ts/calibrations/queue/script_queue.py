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

"""ScriptQueue: the CSC that loads, configures and runs SAL scripts, one
process each (ts_scriptqueue's ``ScriptQueue``).
"""

__all__ = ["ScriptQueue"]

import asyncio
import contextlib
import os
import pathlib
import sys
import typing
from collections.abc import Iterator

from ..sal import MAX_SAL_INDEX, BaseCsc, ExpectedError, SalRetCode, State
from ..sal.transport_choice import TRANSPORT_ENV
from ..version import __version__
from .base import SCRIPT_INDEX_MULT
from .queue_model import QueueModel
from .script_info import ScriptInfo
from .script_roots import ScriptRoots

SCHEMA_TIMEOUT = 20.0
"""Time limit (seconds) for ``SCRIPT 0 --schema``."""

STOP_SCRIPTS_BASE_TIMEOUT = 20.0
"""Time limit (seconds) of ``stopScripts``, plus this much per script."""

MAX_QUEUE_INDEX = MAX_SAL_INDEX // SCRIPT_INDEX_MULT - 1
"""Largest SAL index of a ScriptQueue (its scripts' indices must be valid SAL indices)."""


@contextlib.contextmanager
def _dds_for_this_block() -> Iterator[None]:
    """Make Domains built inside the block use the DDS transport."""
    old = os.environ.get(TRANSPORT_ENV)
    os.environ[TRANSPORT_ENV] = "dds"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(TRANSPORT_ENV, None)
        else:
            os.environ[TRANSPORT_ENV] = old


class ScriptQueue(BaseCsc):
    """The ScriptQueue CSC: a queue of SAL scripts, each run as its own process.

    Parameters
    ----------
    index : `int`
        SAL index: 1 for the Main Telescope (MTQueue), 2 for the Auxiliary
        Telescope (ATQueue); other positive values for tests. Scripts get
        SAL indices ``index * 100000`` to ``index * 100000 + 99999``.
    initial_state : `State`, optional
        Summary state after starting (STANDBY, as ts_scriptqueue).
    standardpath : `str` or `os.PathLike`, optional
        Root of the standard scripts (`ScriptRoots` default if None).
    externalpath : `str` or `os.PathLike`, optional
        Root of the external scripts (`ScriptRoots` default if None).

    Attributes
    ----------
    model : `QueueModel`
        The queue.
    roots : `ScriptRoots`
        The script roots.

    Raises
    ------
    ValueError
        If ``index`` is not in [1, `MAX_QUEUE_INDEX`] or a root is not a
        directory.

    Notes
    -----
    The CSC always talks over DDS (its scripts are other processes), in
    the isolation name of ``LSST_TOPIC_SUBNAME``; its scripts inherit that
    name. Every command but ``pause`` needs the ENABLED state.
    """

    valid_simulation_modes = (0,)
    version = __version__

    def __init__(
        self,
        index: int,
        initial_state: State | int = State.STANDBY,
        standardpath: str | os.PathLike[str] | None = None,
        externalpath: str | os.PathLike[str] | None = None,
    ) -> None:
        if not 1 <= index <= MAX_QUEUE_INDEX:
            raise ValueError(f"index={index} must be in [1, {MAX_QUEUE_INDEX}] (1 = MTQueue, 2 = ATQueue)")
        self.roots = ScriptRoots(standardpath, externalpath)
        self._schema_processes: set[asyncio.subprocess.Process] = set()
        with _dds_for_this_block():
            super().__init__(name="ScriptQueue", index=index, initial_state=initial_state)
        min_sal_index = index * SCRIPT_INDEX_MULT
        self.model = QueueModel(
            domain=self.domain,
            log=self.log,
            roots=self.roots,
            min_sal_index=min_sal_index,
            max_sal_index=min_sal_index + SCRIPT_INDEX_MULT - 1,
            queue_callback=self.put_queue,
            script_callback=self.put_script,
            next_visit_callback=self.put_next_visit,
            next_visit_canceled_callback=self.put_next_visit_canceled,
        )

    async def start(self) -> None:
        """Start the CSC, then report the roots and the queue."""
        await super().start()
        await self.model.start_task
        await self.evt_rootDirectories.set_write(
            standard=str(self.roots.standard), external=str(self.roots.external), force_output=True
        )
        await self.put_queue()

    async def handle_summary_state(self) -> None:
        """Tell the model whether it may run scripts; list the scripts when enabled."""
        enabled = self.summary_state == State.ENABLED
        await self.model.set_enable(enabled)
        if enabled:
            await self._put_available_scripts()

    async def close_tasks(self) -> None:
        """End every script process this queue started (and any schema reader)."""
        for process in list(self._schema_processes):
            if process.returncode is None:
                process.kill()
        await self.model.close()
        await super().close_tasks()

    # ------------------------------------------------------------------
    # Commands

    async def do_showAvailableScripts(self, data: typing.Any) -> None:
        """Write ``availableScripts``."""
        self.assert_enabled("showAvailableScripts")
        await self._put_available_scripts()

    async def do_showSchema(self, data: typing.Any) -> None:
        """Run ``SCRIPT 0 --schema`` and write ``configSchema``.

        Raises
        ------
        ExpectedError
            If the script may not run, fails, or takes more than
            `SCHEMA_TIMEOUT` seconds.
        """
        self.assert_enabled("showSchema")
        full_path = await self._full_path(data.isStandard, data.path)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(full_path),
            "0",
            "--schema",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(os.environ, **{TRANSPORT_ENV: "dds"}),
        )
        self._schema_processes.add(process)
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), SCHEMA_TIMEOUT)
        except TimeoutError:
            raise ExpectedError(
                f"{data.path} 0 --schema did not finish in {SCHEMA_TIMEOUT} s; it was killed"
            ) from None
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            self._schema_processes.discard(process)
        if process.returncode != 0:
            tail = stderr.decode(errors="replace").strip().splitlines()[-5:]
            raise ExpectedError(
                f"{data.path} 0 --schema failed with exit code {process.returncode}: " + " | ".join(tail)
            )
        await self.evt_configSchema.set_write(
            isStandard=data.isStandard,
            path=data.path,
            configSchema=stdout.decode(errors="replace"),
            force_output=True,
        )

    async def do_showQueue(self, data: typing.Any) -> None:
        """Write ``queue``."""
        self.assert_enabled("showQueue")
        await self.put_queue()

    async def do_showScript(self, data: typing.Any) -> None:
        """Write ``script`` for one script (current, waiting or finished).

        Raises
        ------
        ExpectedError
            If the script is unknown.
        """
        self.assert_enabled("showScript")
        try:
            info = self.model.get_script_info(data.scriptSalIndex, search_history=True)
        except ValueError as e:
            raise ExpectedError(f"scriptSalIndex={data.scriptSalIndex}: {e}") from None
        await self.put_script(info, force_output=True)

    async def do_pause(self, data: typing.Any) -> None:
        """Pause the queue (allowed in any state): the current script goes on;
        no new one starts.
        """
        await self.model.set_running(False)

    async def do_resume(self, data: typing.Any) -> None:
        """Resume the queue; a failed current script goes to the history."""
        self.assert_enabled("resume")
        await self.model.set_running(True)

    async def do_add(self, data: typing.Any) -> typing.Any:
        """Add a script: start its process; it is configured when it reports UNCONFIGURED.

        Returns
        -------
        ackcmd : ``ackcmd`` data
            CMD_COMPLETE with ``result`` = the new script's SAL index.

        Raises
        ------
        ExpectedError
            If the path may not run (the reason is given) or the location
            is not valid.
        """
        self.assert_enabled("add")
        info = self.model.make_script_info(
            seq_num=data.private_seqNum,
            is_standard=data.isStandard,
            path=data.path,
            config=data.config,
            descr=data.descr,
            log_level=data.logLevel,
            pause_checkpoint=data.pauseCheckpoint,
            stop_checkpoint=data.stopCheckpoint,
        )
        try:
            await self.model.add(info, data.location, data.locationSalIndex)
        except ValueError as e:
            raise ExpectedError(str(e)) from None
        return self.salinfo.make_ackcmd(
            private_seqNum=data.private_seqNum, ack=SalRetCode.CMD_COMPLETE, result=str(info.index)
        )

    async def do_move(self, data: typing.Any) -> None:
        """Move a waiting script.

        Raises
        ------
        ExpectedError
            If the script is not waiting or the location is not valid.
        """
        self.assert_enabled("move")
        try:
            await self.model.move(data.scriptSalIndex, data.location, data.locationSalIndex)
        except ValueError as e:
            raise ExpectedError(str(e)) from None

    async def do_requeue(self, data: typing.Any) -> typing.Any:
        """Add a copy of a script (path, configuration, description).

        Returns
        -------
        ackcmd : ``ackcmd`` data
            CMD_COMPLETE with ``result`` = the new script's SAL index.

        Raises
        ------
        ExpectedError
            If the script is unknown or the location is not valid.
        """
        self.assert_enabled("requeue")
        try:
            info = await self.model.requeue(
                data.scriptSalIndex, data.private_seqNum, data.location, data.locationSalIndex
            )
        except ValueError as e:
            raise ExpectedError(str(e)) from None
        return self.salinfo.make_ackcmd(
            private_seqNum=data.private_seqNum, ack=SalRetCode.CMD_COMPLETE, result=str(info.index)
        )

    async def do_stopScripts(self, data: typing.Any) -> None:
        """Stop scripts: stop (then terminate) running ones, terminate the others.

        Raises
        ------
        ExpectedError
            If ``length`` is not in [1, len(salIndices)].
        """
        self.assert_enabled("stopScripts")
        if not 0 < data.length <= len(data.salIndices):
            raise ExpectedError(f"length={data.length} must be in [1, {len(data.salIndices)}]")
        timeout = STOP_SCRIPTS_BASE_TIMEOUT + data.length
        await self.cmd_stopScripts.ack_in_progress(data, timeout=timeout, result="Stopping scripts.")
        await asyncio.wait_for(
            self.model.stop_scripts(data.salIndices[: data.length], terminate=data.terminate), timeout
        )

    # ------------------------------------------------------------------
    # Events

    async def _put_available_scripts(self) -> None:
        standard, external = await asyncio.to_thread(self.roots.find_available)
        await self.evt_availableScripts.set_write(
            standard=":".join(standard), external=":".join(external), force_output=True
        )

    async def _full_path(self, is_standard: bool, path: str) -> pathlib.Path:
        try:
            return await asyncio.to_thread(self.roots.full_path, is_standard, path)
        except ValueError as e:
            raise ExpectedError(str(e)) from None

    async def put_queue(self) -> None:
        """Write ``queue`` (always, so a command that changes nothing is still seen)."""
        size = len(self.evt_queue.data.salIndices)
        waiting = self.model.queue_indices[:size]
        past = self.model.history_indices[:size]
        await self.evt_queue.set_write(
            enabled=self.model.enabled,
            running=self.model.running,
            currentSalIndex=self.model.current_index,
            length=len(waiting),
            salIndices=waiting + [0] * (size - len(waiting)),
            pastLength=len(past),
            pastSalIndices=past + [0] * (size - len(past)),
            force_output=True,
        )

    async def put_script(self, info: ScriptInfo, force_output: bool = False) -> None:
        """Write ``script`` for one script (if it changed, or if forced)."""
        await self.evt_script.set_write(
            cmdId=info.seq_num,
            scriptSalIndex=info.index,
            isStandard=info.is_standard,
            path=info.path,
            timestampProcessStart=info.timestamp_process_start,
            timestampConfigureStart=info.timestamp_configure_start,
            timestampConfigureEnd=info.timestamp_configure_end,
            timestampRunStart=info.timestamp_run_start,
            timestampProcessEnd=info.timestamp_process_end,
            processState=info.process_state,
            scriptState=info.script_state,
            force_output=force_output,
        )

    async def put_next_visit(self, info: ScriptInfo) -> None:
        """Write ``nextVisit`` for a script just given its group ID."""
        values: dict[str, typing.Any] = {}
        if info.metadata is not None:
            fields = self.evt_nextVisit.topic_info.fields
            values = {name: getattr(info.metadata, name) for name in fields if hasattr(info.metadata, name)}
        values.update(scriptSalIndex=info.index, groupId=info.group_id)
        await self.evt_nextVisit.set_write(**values, force_output=True)

    async def put_next_visit_canceled(self, info: ScriptInfo) -> None:
        """Write ``nextVisitCanceled`` for a script losing its group ID."""
        await self.evt_nextVisitCanceled.set_write(
            scriptSalIndex=info.index, groupId=info.group_id, force_output=True
        )
