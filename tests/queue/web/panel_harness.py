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

"""A ScriptQueue on DDS with its panel, for the panel's tests and benchmark."""

import asyncio
import contextlib
import io
import json
import os
import pathlib
import typing
import uuid
from collections.abc import AsyncIterator, Callable

import aiohttp

from fixtures.repositories import REFERENCE_FILTERS, copy_repository, run_pipetask_command
from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations.queue import ScriptQueue
from lsst.ts.calibrations.queue.web import QueuePanel
from lsst.ts.calibrations.queue.web.queue_state import SCRIPT_HEARTBEAT_INTERVAL
from lsst.ts.calibrations.sal import State
from lsst.ts.calibrations.sal.transport_choice import TRANSPORT_ENV

DATA_DIR = pathlib.Path(__file__).parent / "data"
STANDARD_ROOT = DATA_DIR / "standard"
EXTERNAL_ROOT = DATA_DIR / "external"
"""Time limit (s) of every wait in these tests."""

TOKEN = "test-token-0123456789abcdef"


@contextlib.contextmanager
def dds_isolation(prefix: str = "panel") -> typing.Iterator[str]:
    """Use DDS, in an isolation name of its own, inside the block."""
    old = {name: os.environ.get(name) for name in (TRANSPORT_ENV, "LSST_TOPIC_SUBNAME")}
    subname = f"{prefix}_{uuid.uuid4().hex[:12]}"
    os.environ[TRANSPORT_ENV] = "dds"
    os.environ["LSST_TOPIC_SUBNAME"] = subname
    try:
        yield subname
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class PanelHarness:
    """A ScriptQueue (index 1, ENABLED) on the test script roots and its panel."""

    def __init__(self, csc: ScriptQueue, panel: QueuePanel) -> None:
        self.csc = csc
        self.panel = panel

    @property
    def url(self) -> str:
        return self.panel.url

    def headers(self, token: str | None = None) -> dict[str, str]:
        token = token if token is not None else self.panel.token
        return {"Authorization": f"Token {token}"} if token else {}

    async def post(
        self, session: aiohttp.ClientSession, path: str, body: typing.Any, token: str | None = None
    ) -> tuple[int, typing.Any]:
        async with session.post(self.url + path, json=body, headers=self.headers(token)) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except json.JSONDecodeError:
                return response.status, text

    async def command(
        self, session: aiohttp.ClientSession, cmd: str, params: dict[str, typing.Any] | None = None
    ) -> tuple[int, typing.Any]:
        body = {"cmd": f"cmd_{cmd}", "csc": "ScriptQueue", "salindex": 1, "params": params or {}}
        return await self.post(session, "manager/api/cmd/", body)

    async def wait_for(self, predicate: Callable[[], bool], what: str, timeout: float = STD_TIMEOUT) -> None:
        """Wait until ``predicate()`` is true."""
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.05)

    async def wait_available(self) -> None:
        state = self.panel.state
        assert state is not None
        await self.wait_for(
            lambda: state.is_available(True, "wait.py") and bool(state.roots["standard"]), "available scripts"
        )


@contextlib.asynccontextmanager
async def panel_harness(
    tmp_path: pathlib.Path,
    *,
    token: str | None = None,
    host: str = "127.0.0.1",
    script_heartbeat_interval: float = SCRIPT_HEARTBEAT_INTERVAL,
) -> AsyncIterator[PanelHarness]:
    """Start a queue (ENABLED, on DDS in an isolation name of its own) and its panel.

    ``script_heartbeat_interval`` is the panel's (`QueuePanel`); ``wait.py``
    beats at that interval when ``QUEUE_PANEL_TEST_HEARTBEAT_INTERVAL`` says so.
    """
    with dds_isolation():
        os.environ["QUEUE_PANEL_TEST_REPORTS"] = str(tmp_path / "reports")
        async with (
            ScriptQueue(
                index=1, standardpath=STANDARD_ROOT, externalpath=EXTERNAL_ROOT, initial_state=State.ENABLED
            ) as csc,
            QueuePanel(
                1,
                host=host,
                token=token,
                db_path=tmp_path / "panel.sqlite3",
                script_heartbeat_interval=script_heartbeat_interval,
            ) as panel,
        ):
            harness = PanelHarness(csc, panel)
            await harness.wait_available()
            yield harness


DATE = "2022-11-04T06:00:00"
"""The simulated clock's start: the exposures fall in the example's validity range."""


@contextlib.asynccontextmanager
async def comcam_panel(
    tmp_path: pathlib.Path, references: pathlib.Path | None = None
) -> AsyncIterator[PanelHarness]:
    """The simulated observatory (own process), the ScriptQueue with this
    package's scripts as the external root, and the panel.

    The observatory's repository is a copy of ``references`` (the session's
    ``reference_repository``) if given, else its reference calibrations are
    made here.
    """
    # The simulator is imported only here: the other panel tests do without it.
    from lsst.ts.calibrations.sim.observatory_process import ObservatoryProcess
    from lsst.ts.calibrations.sim.reference_calibrations import ReferenceCalibrations

    repo = tmp_path / "repo"
    if references is not None:
        await asyncio.to_thread(copy_repository, references, repo)
    else:
        for physical_filter in REFERENCE_FILTERS:
            made = ReferenceCalibrations(
                repo,
                detectors=[0],
                seed=3,
                day_obs=20221102,
                physical_filter=physical_filter,
                run_pipetask=run_pipetask_command,
            )
            await asyncio.to_thread(made.make)
    old_records = os.environ.get("TS_CALIBRATIONS_RUN_RECORDS")
    os.environ["TS_CALIBRATIONS_RUN_RECORDS"] = str(tmp_path / "records")
    try:
        with dds_isolation("panel_e2e"):
            args = ["--repo", str(repo), "--time-scale", "0.01", "--date", DATE, "--seed", "3"]
            async with (
                ObservatoryProcess(args, stream=io.StringIO()),
                ScriptQueue(index=1, standardpath=STANDARD_ROOT, initial_state=State.ENABLED) as csc,
                QueuePanel(1, db_path=tmp_path / "panel.sqlite3") as panel,
            ):
                harness = PanelHarness(csc, panel)
                state = panel.state
                assert state is not None
                await harness.wait_for(
                    lambda: state.is_available(False, "maintel/make_comcam_calibrations.py"), "the script"
                )
                yield harness
    finally:
        if old_records is None:
            os.environ.pop("TS_CALIBRATIONS_RUN_RECORDS", None)
        else:
            os.environ["TS_CALIBRATIONS_RUN_RECORDS"] = old_records
