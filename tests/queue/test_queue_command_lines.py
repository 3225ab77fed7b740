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

"""The queue's commands in this process: ``run_script_queue`` serves the
ScriptQueue and its panel until SIGTERM and says what it runs; a bad
observatory option or panel token is refused with the reason."""

import argparse
import asyncio
import io
import os
import pathlib
import signal

import pytest

from fixtures.timeouts import PROCESS_TIMEOUT
from lsst.ts.calibrations.queue.run_script_queue import (
    READY_PREFIX,
    parse_args,
    run_script_queue,
    start_simulated_observatory,
)
from lsst.ts.calibrations.queue.web.__main__ import main as panel_main
from lsst.ts.calibrations.queue.web.__main__ import make_parser as panel_parser
from lsst.ts.calibrations.sal.isolation import SUBNAME_ENV
from lsst.ts.calibrations.sal.transport_choice import TRANSPORT_ENV


async def test_run_script_queue_serves_until_sigterm(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    # What the command sets in the environment is undone after the test.
    monkeypatch.delenv(SUBNAME_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # the panel's saved configurations go there
    monkeypatch.setenv(TRANSPORT_ENV, "local")
    namespace = parse_args(["--port", "0", "--token", "auto"])
    out = io.StringIO()
    task = asyncio.create_task(run_script_queue(namespace, stream=out))
    try:
        async with asyncio.timeout(PROCESS_TIMEOUT):
            while READY_PREFIX not in out.getvalue():
                assert not task.done(), out.getvalue()
                await asyncio.sleep(0.05)
        assert os.environ[TRANSPORT_ENV] == "dds"
        name = os.environ[SUBNAME_ENV]
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(task, PROCESS_TIMEOUT)
        assert (tmp_path / ".lsst" / "ts_calibrations_queue_panel.sqlite3").exists()
    finally:
        if not task.done():
            task.cancel()
    lines = out.getvalue().splitlines()
    assert (
        lines[0] == f"run_script_queue: isolation name (private, made for this session) {SUBNAME_ENV}={name}"
    )
    assert lines[1].startswith("run_script_queue: ScriptQueue:1 ENABLED; standard scripts in ")
    assert ", external scripts in " in lines[1]
    assert lines[2].startswith("run_script_queue: panel token: ") and len(lines[2].split()[-1]) >= 16
    assert lines[3].startswith(f"{READY_PREFIX}; panel: http://127.0.0.1:")
    assert lines[4:] == ["run_script_queue: stopping", "run_script_queue: stopped"]


def test_bad_observatory_option_is_named() -> None:
    namespace = argparse.Namespace(repo="r", time_scale=-1.0, ocps_max_processes=None)
    with pytest.raises(
        RuntimeError,
        match=r"no observatory provider offers --simulate --repo r --time-scale -1.0: .*"
        r"--time-scale -1.0 must be > 0",
    ):
        start_simulated_observatory(namespace)


def test_panel_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    namespace = panel_parser().parse_args([])
    assert (namespace.index, namespace.host, namespace.port, namespace.token, namespace.db) == (
        1,
        "127.0.0.1",
        8080,
        None,
        None,
    )
    monkeypatch.setenv(TRANSPORT_ENV, "local")
    with pytest.raises(SystemExit) as info:
        panel_main(["--port", "0", "--token", "short"])
    assert str(info.value.code) == (
        "queue panel: token must have at least 16 characters (use token='auto' to make one)"
    )
    with pytest.raises(SystemExit) as info:
        panel_main(["--port", "0", "--host", "0.0.0.0"])
    assert str(info.value.code).startswith("queue panel: ")
    assert "token" in str(info.value.code)
