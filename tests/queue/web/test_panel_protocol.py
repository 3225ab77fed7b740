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

"""The panel's messages, as LOVE's frontend reads them, its validation of
the procedure document's configurations, CHECK and the saved
configurations (without a browser).
"""

import asyncio
import math
import os
import pathlib
import signal
import subprocess
import sys
import typing

import aiohttp
import pytest
from panel_harness import STD_TIMEOUT, PanelHarness, panel_harness

from lsst.ts.calibrations.queue.web import ConfigStore, ConfigValidation, QueuePanel
from lsst.ts.calibrations.queue.web.config_check import CHECK_INDEX_BASE

COMCAM_SCRIPT = (
    pathlib.Path(__file__).parents[3]
    / "python/lsst/ts/calibrations/data/scripts/maintel/make_comcam_calibrations.py"
)

# The procedure document's examples, as printed (typos included).
DAILY_DEFAULT = ""
EXPOSURE_TIMES = "exp_times_dark: 20\nexp_times_flats: 30\n"
TIMES_AND_NUMBERS = """n_bias: 30
n_dark: 5
exp_times_dark: [5, 10, 15, 20, 25]
n_flat: 10
exp_times_flat: [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]
"""
INTERNAL_VERIFICATION = """generate_calibrations: True
calibration_collection: LSSTComCam/calib/daily/calib.2022NOV04.1
certify_calib_begin_date: "2022-11-04"
certify_calib_begin_date: "2022-11-05"
"""
PTC = """script_mode: BIAS_DARK_FLAT
n_flat: 14
exp_times_flat: [5, 5, 10, 10, 15, 15, 20, 20, 25, 25, 30, 30, 35, 35]
filter: ${FILTER_NAME_OR_ID}
generate_calibrations=True
calib_collection: "LSSTComCam/calib/daily/calibs.2022NOV04.1"
certify_calib_begin_date: "2022-11-04"
certify_calib_end_date: "2022-11-05"
do_defects: True
do_ptc: True
"""


@pytest.fixture(scope="module")
def comcam_schema() -> str:
    """The calibration script's schema, as the queue gets it: ``SCRIPT 0 --schema``."""
    result = subprocess.run(
        [sys.executable, str(COMCAM_SCRIPT), "0", "--schema"], capture_output=True, text=True, check=True
    )
    return result.stdout


def test_procedure_examples(comcam_schema: str) -> None:
    daily = ConfigValidation.from_text(DAILY_DEFAULT, comcam_schema)
    assert daily.valid and daily.output == daily.defaults
    assert daily.defaults["script_mode"] == "BIAS_DARK_FLAT" and daily.defaults["n_bias"] == 20

    times = ConfigValidation.from_text(TIMES_AND_NUMBERS, comcam_schema)
    assert times.valid and "n_bias" not in times.defaults and times.output is not None
    assert times.output["n_bias"] == 30 and times.defaults["n_discard_bias"] == 1

    typo = ConfigValidation.from_text(EXPOSURE_TIMES, comcam_schema).to_dict()
    assert typo["title"] == "INVALID CONFIG YAML"
    assert "did you mean exp_times_flat instead of exp_times_flats?" in typo["error"]["message"]

    ptc = ConfigValidation.from_text(PTC, comcam_schema).to_dict()
    assert ptc["title"] == "ERROR WHILE PARSING YAML STRING"
    assert (ptc["error"]["line"], ptc["error"]["column"]) == (5, 1)
    assert ptc["error"]["problem_mark"] == {"line": 4, "column": 0}
    assert "write `generate_calibrations: True`" in ptc["error"]["message"]
    fixed = ConfigValidation.from_text(PTC.replace("=True", ": True"), comcam_schema)
    assert fixed.valid and fixed.output is not None and fixed.output["filter"] == "${FILTER_NAME_OR_ID}"

    repeated = ConfigValidation.from_text(INTERNAL_VERIFICATION, comcam_schema).to_dict()
    assert repeated["error"]["line"] == 4
    assert "duplicate key 'certify_calib_begin_date'" in repeated["error"]["message"]
    renamed = ConfigValidation.from_text(
        INTERNAL_VERIFICATION.replace('begin_date: "2022-11-05"', 'end_date: "2022-11-05"'), comcam_schema
    ).to_dict()
    assert renamed["error"]["path"] == [] and "calib_collection" in renamed["error"]["message"]


def test_validation_edge_cases() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "object", "properties": {"b": {"type": "integer", "default": 1}}}},
        "additionalProperties": False,
    }
    nested = ConfigValidation.from_text("a:\n  b: x\n", schema).to_dict()
    assert nested["error"]["path"] == ["a", "b"] and nested["error"]["path_text"] == "a.b"
    assert ConfigValidation.from_text("- 1\n- 2\n", schema).error is not None
    metadata = ConfigValidation.from_text("metadata: {x: 1}\n", schema)
    assert metadata.valid, "a top-level metadata key is dropped, as the script drops it"
    assert ConfigValidation.from_text("", None).valid
    assert not ConfigValidation.from_text("a: 1\n", None).valid
    assert ConfigValidation.from_text("", "type: [nonsense\n").title == "NO SCHEMA"
    assert ConfigValidation.from_text("", {"type": "nonsense"}).title == "NO SCHEMA"


async def test_config_store(tmp_path: pathlib.Path) -> None:
    store = ConfigStore(tmp_path / "configs.sqlite3")
    try:
        assert await store.list(True, "wait.py") == [] and await store.get_last(True, "wait.py") is None
        await store.save(True, "wait.py", " b ", "wait_time: 2\n")
        await store.save(True, "wait.py", "a", "wait_time: 1\n")
        await store.save(True, "wait.py", "a", "wait_time: 3\n")
        await store.save(False, "wait.py", "other root", "")
        saved = await store.list(True, "wait.py")
        assert [(c["name"], c["config"]) for c in saved] == [("a", "wait_time: 3\n"), ("b", "wait_time: 2\n")]
        with pytest.raises(ValueError, match="must not be blank"):
            await store.save(True, "wait.py", "  ", "")
        with pytest.raises(ValueError, match="at most 100"):
            await store.save(True, "wait.py", "x" * 101, "")
        assert await store.delete(True, "wait.py", "a") and not await store.delete(True, "wait.py", "a")
        await store.set_last(True, "wait.py", "one")
        await store.set_last(True, "wait.py", "two")
        last = await store.get_last(True, "wait.py")
        assert last is not None and last["config"] == "two"
    finally:
        await store.close()
    reopened = ConfigStore(tmp_path / "configs.sqlite3")
    try:
        assert [c["name"] for c in await reopened.list(True, "wait.py")] == ["b"]
    finally:
        await reopened.close()


async def receive_until(
    ws: aiohttp.ClientWebSocketResponse,
    predicate: typing.Callable[[dict[str, typing.Any]], bool],
    seen: list[dict[str, typing.Any]] | None = None,
) -> dict[str, typing.Any]:
    """Receive until a message matches; every message received is appended to ``seen``."""
    async with asyncio.timeout(STD_TIMEOUT):
        while True:
            message = await ws.receive_json()
            if seen is not None:
                seen.append(message)
            if predicate(message):
                return message


def stream_of(message: dict[str, typing.Any], csc: str, stream: str) -> typing.Any:
    if message.get("category") != "event" or message["data"][0]["csc"] != csc:
        return None
    return message["data"][0]["data"].get(stream)


@pytest.mark.slow
async def test_love_messages_and_commands(harness: PanelHarness) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(harness.url + "manager/ws/subscription") as ws:
            await ws.send_json({"action": "get_time_data", "request_time": 12.5})
            reply = await ws.receive_json(timeout=STD_TIMEOUT)
            assert reply["request_time"] == 12.5 and reply["time_data"]["tai"] > reply["time_data"]["utc"]
            for csc, stream in (
                ("ScriptQueueState", "stateStream"),
                ("ScriptQueueState", "availableScriptsStream"),
                ("ScriptQueue", "summaryState"),
            ):
                sub = {"category": "event", "csc": csc, "salindex": 1, "stream": stream}
                await ws.send_json({"option": "subscribe", **sub})
                # A group subscribed to before may send an update first; the confirmation
                # comes before the group's own last message.
                confirmation = {"data": f"Successfully subscribed to event-{csc}-1-{stream}"}
                seen: list[dict[str, typing.Any]] = []
                await receive_until(ws, lambda m: m == confirmation, seen)
                assert all(stream_of(m, csc, stream) is None for m in seen[:-1])
                initial = await receive_until(ws, lambda m: stream_of(m, csc, stream) is not None)
                assert initial["category"] == "event"
                assert initial["data"][0]["csc"] == csc and initial["data"][0]["salindex"] == 1
                data = initial["data"][0]["data"][stream]
                if stream == "stateStream":
                    assert (data["enabled"], data["running"], data["summaryStateName"]) == (
                        True,
                        True,
                        "ENABLED",
                    )
                elif stream == "availableScriptsStream":
                    scripts = {(s["type"], s["path"]) for s in data["available_scripts"]}
                    assert scripts == {
                        ("standard", "wait.py"),
                        ("standard", "subdir/other_wait.py"),
                        ("external", "maintel/report.py"),
                    }
                else:
                    assert data == [{"summaryState": {"value": 2, "dataType": "Int"}}]
            # showSchema fills the script's configSchema.
            status, answer = await harness.command(
                session, "showSchema", {"isStandard": True, "path": "wait.py"}
            )
            assert status == 200 and answer["ack"] == "CMD_COMPLETE"
            message = await receive_until(
                ws,
                lambda m: any(
                    s["path"] == "wait.py" and "TestScript v1" in s["configSchema"]
                    for s in (stream_of(m, "ScriptQueueState", "availableScriptsStream") or {}).get(
                        "available_scripts", []
                    )
                ),
            )
            for sub in (("ScriptQueueState", "scriptsStream"), ("Script", "logMessage")):
                salindex = 1 if sub[0] == "ScriptQueueState" else 0
                await ws.send_json(
                    {
                        "option": "subscribe",
                        "category": "event",
                        "csc": sub[0],
                        "salindex": salindex,
                        "stream": sub[1],
                    }
                )
            # add: the ack's result is the new script's index.
            params = {
                "isStandard": True,
                "path": "wait.py",
                "config": "wait_time: 0\n",
                "descr": "a test",
                "location": 2,
            }
            status, answer = await harness.command(session, "add", params)
            assert status == 200 and answer["ack"] == "CMD_COMPLETE"
            index = int(answer["result"])
            seen: list[dict[str, typing.Any]] = []
            message = await receive_until(
                ws,
                lambda m: any(
                    s["index"] == index and s["script_state"] == "DONE" and s["process_state"] == "DONE"
                    for s in (stream_of(m, "ScriptQueueState", "scriptsStream") or {}).get(
                        "finished_scripts", []
                    )
                ),
                seen,
            )
            script = message["data"][0]["data"]["scriptsStream"]["finished_scripts"][0]
            assert (script["type"], script["path"], script["config"], script["descr"]) == (
                "standard",
                "wait.py",
                "wait_time: 0\n",
                "a test",
            )
            assert (
                script["timestampProcessStart"]
                <= script["timestampRunStart"]
                <= script["timestampProcessEnd"]
            )
            assert script["classname"] == "TestScript" and script["last_checkpoint"] == "end"
            # Its log messages came on event-Script-0-logMessage.
            logs = [m for m in seen if stream_of(m, "Script", "logMessage") is not None]
            assert logs and all(m["data"][0]["salindex"] == index for m in logs)
            log = logs[0]
            fields = log["data"][0]["data"]["logMessage"][0]
            assert {"name", "level", "message", "traceback"} <= set(fields) and "value" in fields["message"]
            await ws.send_json(
                {
                    "option": "unsubscribe",
                    "category": "event",
                    "csc": "Script",
                    "salindex": 0,
                    "stream": "logMessage",
                }
            )
            await receive_until(
                ws, lambda m: m.get("data") == "Successfully unsubscribed to event-Script-0-logMessage"
            )
        # The last configuration added is kept for the script.
        async with session.get(harness.url + "manager/api/configs/?isStandard=true&path=wait.py") as response:
            assert (await response.json())["last"]["config"] == "wait_time: 0\n"
        # A refused command answers with the queue's ack.
        status, answer = await harness.command(
            session, "move", {"scriptSalIndex": 123, "location": 1, "locationSalIndex": 0}
        )
        assert status == 400 and answer["ack"] == "CMD_FAILED" and answer["error"]


@pytest.mark.slow
async def test_check_runs_configure_only(harness: PanelHarness) -> None:
    state = harness.panel.state
    assert state is not None
    body = {"isStandard": False, "path": "maintel/report.py"}
    async with aiohttp.ClientSession() as session:
        status, check = await harness.post(
            session, "manager/api/check-config/", {**body, "config": "n_images: 7\n"}
        )
        assert status == 200 and check["ok"] and check["state"] == "STOPPED"
        assert (check["duration"], check["nimages"]) == (1.0, 7)
        assert check["plan"] == "Plan: 7 image(s), then a report. Note: "
        status, check = await harness.post(
            session, "manager/api/check-config/", {**body, "config": "note: refuse\n"}
        )
        assert status == 200 and not check["ok"] and check["state"] == "CONFIGURE_FAILED"
        assert "a note containing 'refuse' is refused by the checks" in check["reason"]
        # Before the panel has the schema, the script's own validation refuses it.
        bad = {**body, "config": "n_images: -1\n"}
        status, check = await harness.post(session, "manager/api/check-config/", bad)
        assert status == 200 and not check["ok"] and check["state"] == "CONFIGURE_FAILED"
        assert "n_images" in check["reason"]
        # With the schema, a configuration it refuses never starts a process.
        status, _ = await harness.command(
            session, "showSchema", {"isStandard": False, "path": "maintel/report.py"}
        )
        assert status == 200
        await harness.wait_for(lambda: state.schema_of(False, "maintel/report.py") is not None, "the schema")
        status, check = await harness.post(session, "manager/api/check-config/", bad)
        assert status == 200 and not check["ok"] and check["state"] == ""
        assert check["validation"]["error"]["path"] == ["n_images"]
    # Nothing went through the queue; check scripts used their own indices.
    assert not harness.csc.model.queue and not harness.csc.model.history
    assert not any(index >= CHECK_INDEX_BASE for index in state.scripts)


HEARTBEAT_INTERVAL = 1.0
"""The lost-heartbeat test's interval (s) between a script's beats, and the panel's: a fifth of salobj's."""


def test_heartbeat_interval_is_checked() -> None:
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="script_heartbeat_interval=.* must be a number of seconds > 0"):
            QueuePanel(script_heartbeat_interval=bad)


@pytest.mark.slow
async def test_lost_heartbeats_counted(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A script that stops beating (its process frozen) is shown with lost heartbeats.

    The script beats every `HEARTBEAT_INTERVAL` and the panel counts with
    the same interval, so a beat is missed in seconds (with salobj's 5 s, in
    10 to 15 s, and as long again to see it beat).
    """
    monkeypatch.setenv("QUEUE_PANEL_TEST_HEARTBEAT_INTERVAL", str(HEARTBEAT_INTERVAL))
    async with (
        panel_harness(tmp_path, script_heartbeat_interval=HEARTBEAT_INTERVAL) as harness,
        aiohttp.ClientSession() as session,
    ):
        state = harness.panel.state
        assert state is not None and state.heartbeat_interval == HEARTBEAT_INTERVAL
        params = {"isStandard": True, "path": "wait.py", "config": "wait_time: 120\n", "location": 2}
        status, answer = await harness.command(session, "add", params)
        assert status == 200
        index = int(answer["result"])
        await harness.wait_for(
            lambda: (
                index in state.scripts
                and state.scripts[index].script_state == "RUNNING"
                and state.scripts[index].last_heartbeat_timestamp > 0
            ),
            "RUNNING and beating",
        )
        script = harness.csc.model.current_script
        assert script is not None and script.index == index and script.pid is not None
        os.kill(script.pid, signal.SIGSTOP)
        try:
            await harness.wait_for(lambda: state.scripts[index].lost_heartbeats >= 1, "a lost heartbeat", 60)
        finally:
            os.kill(script.pid, signal.SIGCONT)
        await harness.wait_for(lambda: state.scripts[index].lost_heartbeats == 0, "beating again", 60)
        status, _ = await harness.command(
            session, "stopScripts", {"length": 1, "salIndices": [index] + [0] * 399, "terminate": True}
        )
        assert status == 200
