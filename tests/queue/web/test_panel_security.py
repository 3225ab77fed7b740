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

"""Security of the queue panel: where it listens, the token, what it lets
through to the ScriptQueue, and what the page does with the values it shows.
"""

import pathlib
import re
import socket

import aiohttp
import pytest
from panel_harness import STD_TIMEOUT, TOKEN, PanelHarness

from lsst.ts.calibrations.queue.web import QueuePanel
from lsst.ts.calibrations.queue.web.config_validation import MAX_CONFIG_BYTES
from lsst.ts.calibrations.queue.web.queue_panel import STATIC_DIR


async def test_token_needed_off_loopback(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError, match="not a loopback address"):
        QueuePanel(1, host="0.0.0.0", db_path=tmp_path / "db")
    with pytest.raises(ValueError, match="at least 16 characters"):
        QueuePanel(1, token="short", db_path=tmp_path / "db")
    panel = QueuePanel(1, host="0.0.0.0", token="auto", db_path=tmp_path / "db", port=0)
    try:
        assert panel.token is not None and len(panel.token) >= 16
    finally:
        await panel.close()


async def test_binds_loopback_by_default(harness: PanelHarness) -> None:
    assert harness.panel.host == "127.0.0.1"
    assert harness.url.startswith("http://127.0.0.1:")
    # Not reachable on another address of this machine.
    other = socket.gethostbyname(socket.gethostname())
    if not other.startswith("127."):
        with pytest.raises(OSError):
            socket.create_connection((other, harness.panel.port), timeout=2).close()


async def test_token_required_everywhere(token_harness: PanelHarness) -> None:
    h = token_harness
    url = h.url
    async with aiohttp.ClientSession() as session:
        # The page itself is public: it asks for the token.
        async with session.get(url) as response:
            assert response.status == 200
        add = {
            "cmd": "cmd_add",
            "csc": "ScriptQueue",
            "salindex": 1,
            "params": {"isStandard": True, "path": "wait.py", "config": "", "location": 2},
        }
        for token in (None, "", "wrong-token-0123456789"):
            headers = {} if token is None else {"Authorization": f"Token {token}"}
            for path, body in (
                ("manager/api/cmd/", add),
                (
                    "manager/api/validate-config-schema/",
                    {"config": "", "isStandard": True, "path": "wait.py"},
                ),
                ("manager/api/check-config/", {"config": "", "isStandard": True, "path": "wait.py"}),
                ("manager/api/configs/", {"isStandard": True, "path": "wait.py", "name": "a", "config": ""}),
            ):
                async with session.post(url + path, json=body, headers=headers) as response:
                    assert response.status == 401, path
            async with session.get(url + "manager/api/panel/", headers=headers) as response:
                assert response.status == 401
            query = "" if token is None else f"?token={token}"
            with pytest.raises(aiohttp.WSServerHandshakeError) as error:
                await session.ws_connect(url + "manager/ws/subscription" + query)
            assert error.value.status == 401
        assert not h.csc.model.queue and not h.csc.model.history, "no command may have reached the queue"
        # With the token: commands go through, the websocket opens.
        status, answer = await h.command(session, "showQueue")
        assert (status, answer["ack"]) == (200, "CMD_COMPLETE")
        async with session.ws_connect(url + f"manager/ws/subscription?token={TOKEN}") as ws:
            subscription = {
                "category": "event",
                "csc": "ScriptQueueState",
                "salindex": 1,
                "stream": "stateStream",
            }
            await ws.send_json({"option": "subscribe", **subscription})
            reply = await ws.receive_json(timeout=STD_TIMEOUT)
            assert reply == {"data": "Successfully subscribed to event-ScriptQueueState-1-stateStream"}


async def test_cross_origin_and_content_type_refused(harness: PanelHarness) -> None:
    body = {"cmd": "cmd_pause", "csc": "ScriptQueue", "salindex": 1, "params": {}}
    async with aiohttp.ClientSession() as session:
        async with session.post(
            harness.url + "manager/api/cmd/", json=body, headers={"Origin": "http://evil.example"}
        ) as response:
            assert response.status == 403
        async with session.post(
            harness.url + "manager/api/cmd/",
            data='{"cmd": "cmd_pause"}',
            headers={"Content-Type": "text/plain"},
        ) as response:
            assert response.status == 415
        with pytest.raises(aiohttp.WSServerHandshakeError) as error:
            await session.ws_connect(
                harness.url + "manager/ws/subscription", headers={"Origin": "http://evil.example"}
            )
        assert error.value.status == 403
        # Same origin is fine.
        async with session.post(
            harness.url + "manager/api/cmd/", json=body, headers={"Origin": harness.url.rstrip("/")}
        ) as response:
            assert response.status == 200
    assert not harness.csc.model.running


async def test_only_queue_commands(harness: PanelHarness) -> None:
    async with aiohttp.ClientSession() as session:
        for body, status in (
            ({"cmd": "cmd_exitControl", "csc": "ScriptQueue", "salindex": 1, "params": {}}, 403),
            ({"cmd": "cmd_setAuthList", "csc": "ScriptQueue", "salindex": 1, "params": {}}, 403),
            ({"cmd": "cmd_takeImages", "csc": "CCCamera", "salindex": 0, "params": {}}, 403),
            ({"cmd": "cmd_pause", "csc": "ScriptQueue", "salindex": 2, "params": {}}, 403),
            ({"cmd": "cmd_resume", "csc": "Script", "salindex": 100000, "params": {}}, 403),
            ({"cmd": "cmd_configure", "csc": "Script", "salindex": 100000, "params": {}}, 403),
            ({"cmd": "cmd_pause", "csc": "ScriptQueue", "salindex": 1, "params": {"bogus": 1}}, 400),
            ({"cmd": "cmd_pause", "csc": "ScriptQueue", "salindex": 1, "params": []}, 400),
        ):
            code, answer = await harness.post(session, "manager/api/cmd/", body)
            assert code == status, (body, answer)
            assert answer["error"]
    assert harness.csc.summary_state.name == "ENABLED"


@pytest.mark.parametrize(
    "is_standard, path",
    [
        (True, "../external/maintel/report.py"),
        (True, "_private.py"),
        (True, "/bin/sh"),
        (True, "missing.py"),
        (False, "wait.py"),
        (True, "subdir/../wait.py"),
    ],
)
async def test_paths_only_through_discovery(harness: PanelHarness, is_standard: bool, path: str) -> None:
    params = {"isStandard": is_standard, "path": path, "config": "", "location": 2}
    async with aiohttp.ClientSession() as session:
        status, answer = await harness.command(session, "add", params)
        assert status == 400 and "available" in answer["error"]
        status, answer = await harness.command(
            session, "showSchema", {"isStandard": is_standard, "path": path}
        )
        assert status == 400
        status, answer = await harness.post(
            session, "manager/api/check-config/", {"isStandard": is_standard, "path": path, "config": ""}
        )
        assert status == 400
        status, answer = await harness.post(
            session,
            "manager/api/configs/",
            {"isStandard": is_standard, "path": path, "name": "x", "config": ""},
        )
        assert status == 400
    assert not harness.csc.model.queue and not harness.csc.model.history


async def test_config_size_capped(harness: PanelHarness) -> None:
    big = "# " + "x" * MAX_CONFIG_BYTES + "\n"
    async with aiohttp.ClientSession() as session:
        status, answer = await harness.command(
            session, "add", {"isStandard": True, "path": "wait.py", "config": big, "location": 2}
        )
        assert status == 400 and f"limit is {MAX_CONFIG_BYTES} bytes" in answer["error"]
        body = {"isStandard": True, "path": "wait.py", "config": big, "schema": ""}
        status, answer = await harness.post(session, "manager/api/validate-config-schema/", body)
        assert status == 200 and answer["title"] == "CONFIG TOO LARGE"
        status, answer = await harness.post(
            session,
            "manager/api/configs/",
            {"isStandard": True, "path": "wait.py", "name": "big", "config": big},
        )
        assert status == 413
        # Far above the cap: refused before it is read.
        huge = {"config": "x" * (10 * MAX_CONFIG_BYTES)}
        status, _ = await harness.post(session, "manager/api/validate-config-schema/", huge)
        assert status == 413
    assert not harness.csc.model.queue


@pytest.mark.slow
async def test_report_files_only_from_the_announced_folder(
    harness: PanelHarness, tmp_path: pathlib.Path
) -> None:
    (tmp_path / "secret.txt").write_text("secret")
    async with aiohttp.ClientSession() as session:
        async with session.get(harness.url + "reports/100000/") as response:
            assert response.status == 404
        status, answer = await harness.command(
            session, "add", {"isStandard": False, "path": "maintel/report.py", "config": "", "location": 2}
        )
        assert status == 200
        index = int(answer["result"])
        state = harness.panel.state
        assert state is not None
        await harness.wait_for(
            lambda: index in state.scripts and state.scripts[index].report is not None, "report"
        )
        async with session.get(harness.url + f"reports/{index}/") as response:
            assert response.status == 200
            assert f"Run report {index}" in await response.text()
            assert "sandbox" in response.headers["Content-Security-Policy"]
        for tail in ("../../secret.txt", "..%2F..%2Fsecret.txt", "%2e%2e/%2e%2e/secret.txt"):
            async with session.get(harness.url + f"reports/{index}/{tail}") as response:
                assert response.status == 404, tail


def test_page_never_writes_html() -> None:
    """Every value reaches the page as text: no innerHTML, outerHTML,
    insertAdjacentHTML or document.write, no inline script or handler.
    """
    script = (STATIC_DIR / "panel.js").read_text()
    for forbidden in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
    ):
        assert forbidden not in script
    page = (STATIC_DIR / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "no inline script"
    assert not re.search(r"\son[a-z]+=", page), "no inline event handler"
    for path in STATIC_DIR.iterdir():
        assert "http://" not in path.read_text() and "https://" not in path.read_text(), (
            f"{path.name}: no CDN"
        )


async def test_headers(harness: PanelHarness) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(harness.url) as response:
            assert response.status == 200
            csp = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        async with session.get(harness.url + "static/panel.js") as response:
            assert response.status == 200
        async with session.get(harness.url + "static/../queue_panel.py") as response:
            assert response.status in (403, 404)
