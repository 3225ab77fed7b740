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

"""The queue panel: a web server that shows one ScriptQueue and commands it
the way LOVE's ScriptQueue panel does (see ``doc/queue/panel.rst``).
"""

__all__ = ["QueuePanel"]

import asyncio
import hmac
import ipaddress
import json
import logging
import os
import pathlib
import secrets
import time
import types
import typing
import urllib.parse
import urllib.request

from aiohttp import WSMsgType, web

from ...sal.base import AckError, AckTimeoutError, SalRetCode, current_tai
from ...sal.domain import Domain
from ...sal.remote import Remote
from .config_check import ConfigCheck
from .config_store import ConfigStore
from .config_validation import MAX_CONFIG_BYTES, ConfigValidation
from .queue_state import SCRIPT_HEARTBEAT_INTERVAL, QueueState, heartbeat_interval_seconds

STATIC_DIR = pathlib.Path(__file__).parent / "static"
"""The page's files: HTML, CSS and JavaScript, served as they are."""

MAX_REQUEST_BYTES = 4 * MAX_CONFIG_BYTES
"""Largest HTTP request body accepted."""

MAX_DESCR_LENGTH = 2000
"""Longest script description (characters) accepted with ``add``."""

COMMAND_TIMEOUT = 60.0
"""Time limit (s) for the final acknowledgement of a command."""

LONG_COMMAND_TIMEOUT = 120.0
"""Time limit (s) for ``add``, ``showSchema`` and ``requeue`` (a script process starts)."""

QUEUE_COMMANDS = frozenset(
    {
        "add",
        "move",
        "requeue",
        "stopScripts",
        "pause",
        "resume",
        "showAvailableScripts",
        "showSchema",
        "showQueue",
        "showScript",
        "start",
        "enable",
        "disable",
        "standby",
    }
)
"""ScriptQueue commands the page may send."""

SCRIPT_COMMANDS = frozenset({"resume", "stop"})
"""Script commands the page may send (to a script of this queue)."""

WS_QUEUE_SIZE = 1000
"""Messages queued for one websocket before it is dropped as too slow."""

_LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Client:
    """One connected websocket: its subscriptions and its send queue."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.groups: set[str] = set()
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(WS_QUEUE_SIZE)

    def put(self, text: str | None) -> bool:
        try:
            self.queue.put_nowait(text)
            return True
        except asyncio.QueueFull:
            return False


class QueuePanel:
    """Serve the queue panel of one ScriptQueue.

    Parameters
    ----------
    queue_index : `int`, optional
        SAL index of the ScriptQueue (1 MTQueue, 2 ATQueue).
    host : `str`, optional
        Address to bind; 127.0.0.1 by default. Any address that is not a
        loopback address needs a ``token``.
    port : `int`, optional
        Port; 0 to let the system choose (see `url`).
    token : `str` or `None`, optional
        Secret the page must send with every command, request and
        websocket. If given it is always required; required (and made up if
        "auto") for a non-loopback host.
    db_path : `str` or `os.PathLike` or `None`, optional
        SQLite file of the saved configurations; by default
        ``$HOME/.lsst/ts_calibrations_queue_panel.sqlite3``.
    domain : `~lsst.ts.calibrations.sal.Domain` or `None`, optional
        The Domain to talk to the queue on; a new one (closed with the
        panel) if None.
    script_heartbeat_interval : `float`, optional
        Interval (s) between the heartbeats of the queue's scripts, by which
        the panel counts the beats a script has missed (`QueueState`);
        salobj's 5 s by default.

    Attributes
    ----------
    state : `QueueState`
        What the panel knows of the queue.
    start_task : `asyncio.Task`
        Done when the server listens.

    Raises
    ------
    ValueError
        If ``host`` is not a loopback address and no token is given, the
        token is too short (fewer than 16 characters), or
        ``script_heartbeat_interval`` is not a finite number > 0.

    Notes
    -----
    Use ``async with QueuePanel(...) as panel:`` or `start` and `close`.
    """

    def __init__(
        self,
        queue_index: int = 1,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        db_path: str | os.PathLike[str] | None = None,
        domain: Domain | None = None,
        script_heartbeat_interval: float = SCRIPT_HEARTBEAT_INTERVAL,
    ) -> None:
        interval = heartbeat_interval_seconds("script_heartbeat_interval", script_heartbeat_interval)
        if token == "auto":
            token = secrets.token_urlsafe(24)
        if token is not None and len(token) < 16:
            raise ValueError("token must have at least 16 characters (use token='auto' to make one)")
        if token is None and not _is_loopback(host):
            raise ValueError(
                f"host={host!r} is not a loopback address: the panel can command a camera, so give a "
                "token (token='auto' makes one) or bind 127.0.0.1"
            )
        self.queue_index = queue_index
        self.script_heartbeat_interval = interval
        self.host = host
        self.port = port
        self.token = token
        self.log = logging.getLogger(f"{__name__}.{queue_index}")
        if db_path is None:
            db_path = pathlib.Path.home() / ".lsst" / "ts_calibrations_queue_panel.sqlite3"
        self.db_path = pathlib.Path(db_path)
        self._own_domain = domain is None
        self.domain = domain if domain is not None else Domain()
        self.clients: set[_Client] = set()
        self.store: ConfigStore | None = None
        self.state: QueueState | None = None
        self._script_remotes: dict[int, Remote] = {}
        self._check_lock = asyncio.Lock()
        self._close_tasks: set[asyncio.Future[bool]] = set()
        self._runner: web.AppRunner | None = None
        self._closed = False
        self.app = self.make_app()
        self.start_task = asyncio.ensure_future(self.start())

    # Lifecycle.

    @property
    def url(self) -> str:
        """The page's address (with the bound port)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def start(self) -> None:
        """Follow the queue and listen. Idempotent."""
        if self._runner is not None:
            return
        self.store = await asyncio.to_thread(self._open_store)
        self.state = QueueState(
            self.domain,
            self.queue_index,
            publish=self.publish,
            log=self.log,
            heartbeat_interval=self.script_heartbeat_interval,
        )
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            self.port = int(self._runner.addresses[0][1])
        await self.state.start_task
        self.log.info("Queue panel of ScriptQueue:%s at %s", self.queue_index, self.url)

    def _open_store(self) -> ConfigStore:
        if str(self.db_path) != ":memory:":
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
        return ConfigStore(self.db_path)

    async def close(self) -> None:
        """Close websockets, the server, the Remotes and the store. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.start_task.cancel()
        for client in list(self.clients):
            client.put(None)
            await client.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
        for remote in self._script_remotes.values():
            await remote.close()
        if self.state is not None:
            await self.state.close()
        if self.store is not None:
            await self.store.close()
        if self._own_domain:
            await self.domain.close()

    async def __aenter__(self) -> "QueuePanel":
        await self.start_task
        return self

    async def __aexit__(
        self,
        type: type[BaseException] | None,
        value: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        await self.close()

    # The application.

    def make_app(self) -> web.Application:
        """Build the aiohttp application (routes and security middleware)."""
        app = web.Application(client_max_size=MAX_REQUEST_BYTES, middlewares=[self._security])
        app.router.add_get("/", self._index)
        app.router.add_static("/static/", STATIC_DIR, show_index=False, follow_symlinks=False)
        app.router.add_get("/manager/ws/subscription", self._websocket)
        app.router.add_post("/manager/api/cmd/", self._command)
        app.router.add_post("/manager/api/validate-config-schema/", self._validate)
        app.router.add_post("/manager/api/check-config/", self._check)
        app.router.add_get("/manager/api/configs/", self._configs_get)
        app.router.add_post("/manager/api/configs/", self._configs_save)
        app.router.add_delete("/manager/api/configs/", self._configs_delete)
        app.router.add_get("/manager/api/panel/", self._panel_info)
        app.router.add_get("/reports/{index:\\d+}/{tail:.*}", self._report)
        return app

    def _authorized(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        given = request.headers.get("Authorization", "")
        if given.startswith("Token "):
            given = given[len("Token ") :]
        else:
            given = request.query.get("token", "")
        return hmac.compare_digest(given.encode(), self.token.encode())

    @web.middleware
    async def _security(
        self,
        request: web.Request,
        handler: typing.Callable[[web.Request], typing.Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Same-origin only for anything but reading the page; the token for
        every API call and websocket; no sniffing, no framing, no scripts
        from elsewhere.
        """
        path = request.path
        public = path == "/" or path.startswith("/static/")
        if not public:
            origin = request.headers.get("Origin")
            if origin is not None and urllib.parse.urlsplit(origin).netloc != request.host:
                return self._error(403, f"cross-origin request from {origin!r} refused")
            if not self._authorized(request):
                return self._error(401, "a valid token is required (Authorization: Token <token>)")
            if request.method == "POST" and request.content_type != "application/json":
                return self._error(415, "send JSON (Content-Type: application/json)")
        response = await handler(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        if not path.startswith("/reports/"):
            response.headers["Content-Security-Policy"] = (
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
            )
        else:
            # A report is shown as a document: its own styles, no scripts.
            response.headers["Content-Security-Policy"] = (
                "sandbox; default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'"
            )
        return response

    @staticmethod
    def _error(status: int, message: str) -> web.Response:
        return web.json_response({"ack": message, "error": message}, status=status)

    async def _json_body(self, request: web.Request) -> dict[str, typing.Any]:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise web.HTTPBadRequest(text=json.dumps({"error": f"body is not JSON: {e}"})) from e
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text=json.dumps({"error": "body must be a JSON object"}))
        return body

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html")

    async def _panel_info(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"salindex": self.queue_index, "max_config_bytes": MAX_CONFIG_BYTES, "tai": current_tai()}
        )

    # Websocket: LOVE's subscriptions.

    def publish(self, group: str, message: dict[str, typing.Any]) -> None:
        """Send a message to every websocket subscribed to its group.

        ``event-Script-0-logMessage`` receives the log messages of every
        script of the queue.
        """
        groups = {group}
        if group.startswith("event-Script-") and group.endswith("-logMessage"):
            groups.add("event-Script-0-logMessage")
        text: str | None = None
        for client in list(self.clients):
            if client.groups & groups:
                if text is None:
                    text = json.dumps({**message, "producer_snd": time.time()})
                if not client.put(text):
                    self.log.warning("Dropping a websocket that does not read its messages")
                    self.clients.discard(client)
                    self._spawn_close(client)

    def _spawn_close(self, client: _Client) -> None:
        task = asyncio.ensure_future(client.ws.close())
        self._close_tasks.add(task)
        task.add_done_callback(self._close_tasks.discard)

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=65536)
        await ws.prepare(request)
        client = _Client(ws)
        self.clients.add(client)
        writer = asyncio.ensure_future(self._write_ws(client))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    message = json.loads(msg.data)
                except json.JSONDecodeError:
                    client.put(json.dumps({"data": "Invalid message: not JSON"}))
                    continue
                if isinstance(message, dict):
                    self._handle_ws_message(client, message)
        finally:
            self.clients.discard(client)
            client.put(None)
            await writer
        return ws

    async def _write_ws(self, client: _Client) -> None:
        while True:
            text = await client.queue.get()
            if text is None or client.ws.closed:
                return
            try:
                await client.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    def _handle_ws_message(self, client: _Client, message: dict[str, typing.Any]) -> None:
        option = message.get("option")
        if message.get("action") == "get_time_data":
            client.put(
                json.dumps(
                    {
                        "time_data": {"tai": current_tai(), "utc": time.time()},
                        "request_time": message.get("request_time"),
                    }
                )
            )
            return
        if option not in ("subscribe", "unsubscribe"):
            client.put(json.dumps({"data": "Invalid message: option must be subscribe or unsubscribe"}))
            return
        parts = [str(message.get(key, "")) for key in ("category", "csc", "salindex", "stream")]
        group = "-".join(parts)
        if option == "subscribe":
            client.groups.add(group)
            client.put(json.dumps({"data": f"Successfully subscribed to {group}"}))
            self._send_initial(client, group, parts)
        else:
            client.groups.discard(group)
            client.put(json.dumps({"data": f"Successfully unsubscribed to {group}"}))

    def _send_initial(self, client: _Client, group: str, parts: list[str]) -> None:
        """Send a new subscriber the last message of its group."""
        if self.state is None:
            return
        last = self.state.last.get(group)
        if last is not None:
            client.put(json.dumps(last))
        if parts[1] == "Script" and parts[3] == "logMessage":
            index = int(parts[2]) if parts[2].isdigit() else -1
            indices = self.state.current if index == 0 else [index]
            for i in indices:
                for message in self.state.log_history(i):
                    client.put(json.dumps(message))

    # Commands: LOVE's POST /manager/api/cmd/.

    async def _command(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        assert self.state is not None and self.store is not None
        cmd = str(body.get("cmd", ""))
        csc = str(body.get("csc", body.get("component", "")))
        params = body.get("params", {})
        name = cmd.removeprefix("cmd_")
        if not isinstance(params, dict):
            return self._error(400, "params must be a JSON object")
        try:
            salindex = int(body.get("salindex", 0))
        except (TypeError, ValueError):
            return self._error(400, f"salindex must be an integer, not {body.get('salindex')!r}")
        if csc == "ScriptQueue":
            if salindex != self.queue_index:
                return self._error(403, f"this panel commands ScriptQueue:{self.queue_index}, not {salindex}")
            if name not in QUEUE_COMMANDS:
                return self._error(403, f"command {cmd!r} is not allowed; allowed: {sorted(QUEUE_COMMANDS)}")
            refusal = self._check_queue_params(name, params)
            if refusal:
                return self._error(400, refusal)
            command = getattr(self.state.remote, f"cmd_{name}")
        elif csc == "Script":
            if name not in SCRIPT_COMMANDS:
                return self._error(
                    403, f"Script command {cmd!r} is not allowed; allowed: {sorted(SCRIPT_COMMANDS)}"
                )
            if not self.state.script_known(salindex):
                return self._error(
                    403, f"Script:{salindex} is not a script of ScriptQueue:{self.queue_index}"
                )
            command = getattr(await self._script_remote(salindex), f"cmd_{name}")
        else:
            return self._error(403, f"csc must be ScriptQueue or Script, not {csc!r}")
        try:
            command.set(**params)
        except (TypeError, ValueError) as e:
            return self._error(400, f"bad params for {cmd}: {e}")
        timeout = LONG_COMMAND_TIMEOUT if name in ("add", "showSchema", "requeue") else COMMAND_TIMEOUT
        try:
            ackcmd = await command.start(timeout=timeout)
        except AckTimeoutError as e:
            return web.json_response(self._ack_dict(e.ackcmd, str(e)), status=504)
        except AckError as e:
            return web.json_response(self._ack_dict(e.ackcmd, str(e)), status=400)
        if csc == "ScriptQueue" and name in ("add", "requeue") and ackcmd.result.strip().isdigit():
            new_index = int(ackcmd.result)
            if name == "add":
                self.state.remember(new_index, config=params.get("config", ""), descr=params.get("descr", ""))
                await self.store.set_last(
                    bool(params.get("isStandard")), str(params.get("path")), params.get("config", "")
                )
            else:
                old = self.state.scripts.get(int(params.get("scriptSalIndex", 0)))
                if old is not None:
                    self.state.remember(new_index, config=old.config, descr=old.descr)
        return web.json_response(self._ack_dict(ackcmd, ""))

    @staticmethod
    def _ack_dict(ackcmd: typing.Any, error: str) -> dict[str, typing.Any]:
        try:
            name = SalRetCode(ackcmd.ack).name
        except ValueError:
            name = str(ackcmd.ack)
        answer = {
            "ack": name,
            "ack_code": int(ackcmd.ack),
            "result": ackcmd.result,
            "error_code": ackcmd.error,
        }
        if error:
            answer["error"] = error
        return answer

    def _check_queue_params(self, name: str, params: dict[str, typing.Any]) -> str:
        """Refuse what the queue should never be sent from a browser; "" if fine."""
        assert self.state is not None
        if name in ("add", "showSchema"):
            is_standard = params.get("isStandard")
            path = params.get("path")
            if not isinstance(is_standard, bool) or not isinstance(path, str):
                return "isStandard (true or false) and path (a string) are required"
            if not self.state.is_available(is_standard, path):
                kind = "standard" if is_standard else "external"
                return (
                    f"path {path!r} is not one of the queue's available {kind} scripts "
                    "(see AVAILABLE SCRIPTS; paths come only from the queue's discovery)"
                )
        if name == "add":
            config = params.get("config", "")
            if not isinstance(config, str):
                return "config must be a string of YAML"
            size = len(config.encode("utf-8"))
            if size > MAX_CONFIG_BYTES:
                return f"config is {size} bytes; the limit is {MAX_CONFIG_BYTES} bytes"
            descr = params.get("descr", "")
            if not isinstance(descr, str) or len(descr) > MAX_DESCR_LENGTH:
                return f"descr must be a string of at most {MAX_DESCR_LENGTH} characters"
        return ""

    async def _script_remote(self, index: int) -> Remote:
        remote = self._script_remotes.get(index)
        if remote is None:
            remote = Remote(self.domain, "Script", index, include=[])
            self._script_remotes[index] = remote
            await remote.start_task
        return remote

    # Validation, CHECK, saved configurations.

    def _script_key(self, body: typing.Mapping[str, typing.Any]) -> tuple[bool, str]:
        is_standard = body.get("isStandard")
        path = body.get("path")
        if isinstance(is_standard, str):
            is_standard = is_standard.lower() == "true"
        if not isinstance(is_standard, bool) or not isinstance(path, str) or not path:
            raise web.HTTPBadRequest(
                text=json.dumps({"error": "isStandard (true or false) and path (a string) are required"}),
                content_type="application/json",
            )
        return is_standard, path

    async def _validate(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        assert self.state is not None
        config = body.get("config", "")
        if not isinstance(config, str):
            return self._error(400, "config must be a string")
        if "schema" in body:
            schema = body["schema"]
        else:
            is_standard, path = self._script_key(body)
            schema = self.state.schema_of(is_standard, path)
            if schema is None:
                return web.json_response(
                    {"title": "NO SCHEMA", "valid": False, "error": {"message": "Schema not yet loaded"}}
                )
        if schema == "# empty schema":
            schema = None
        result = await asyncio.to_thread(ConfigValidation.from_text, config, schema)
        return web.json_response(result.to_dict())

    async def _check(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        assert self.state is not None
        is_standard, path = self._script_key(body)
        config = body.get("config", "")
        if not isinstance(config, str):
            return self._error(400, "config must be a string")
        if not self.state.is_available(is_standard, path):
            return self._error(
                400, f"path {path!r} is not one of the queue's available scripts (discovery decides)"
            )
        schema = self.state.schema_of(is_standard, path)
        if schema is not None:
            validation = await asyncio.to_thread(
                ConfigValidation.from_text, config, None if schema == "# empty schema" else schema
            )
            if not validation.valid:
                return web.json_response(
                    {
                        "ok": False,
                        "state": "",
                        "reason": validation.error["message"] if validation.error else "",
                        "validation": validation.to_dict(),
                    }
                )
        script_path = self._resolve_script(is_standard, path)
        if isinstance(script_path, str):
            return self._error(400, script_path)
        try:
            log_level = int(body.get("logLevel", logging.INFO) or logging.INFO)
        except (TypeError, ValueError):
            return self._error(400, "logLevel must be an integer")
        async with self._check_lock:
            check = await ConfigCheck.run(
                script_path,
                config,
                index=ConfigCheck.next_index(self.queue_index),
                log_level=log_level,
                log=self.log,
            )
        return web.json_response(check.to_dict())

    def _resolve_script(self, is_standard: bool, path: str) -> pathlib.Path | str:
        """The script file of an available script, inside its root; or why not."""
        assert self.state is not None
        root_text = self.state.script_root(is_standard)
        if not root_text:
            return "the queue has not reported its script root directories (rootDirectories) yet"
        root = pathlib.Path(root_text).resolve()
        candidate = (root / path).resolve()
        if not candidate.is_relative_to(root):
            return f"path {path!r} leads outside the script root"
        if not candidate.is_file() or not os.access(candidate, os.X_OK):
            return f"script {path!r} is not an executable file under {root}"
        return candidate

    async def _configs_get(self, request: web.Request) -> web.Response:
        assert self.store is not None
        is_standard, path = self._script_key(request.query)
        saved = await self.store.list(is_standard, path)
        last = await self.store.get_last(is_standard, path)
        return web.json_response({"configs": saved, "last": last})

    async def _configs_save(self, request: web.Request) -> web.Response:
        assert self.store is not None and self.state is not None
        body = await self._json_body(request)
        is_standard, path = self._script_key(body)
        if not self.state.is_available(is_standard, path):
            return self._error(400, f"path {path!r} is not one of the queue's available scripts")
        config = body.get("config", "")
        name = body.get("name", "")
        if not isinstance(config, str) or not isinstance(name, str):
            return self._error(400, "name and config must be strings")
        if len(config.encode("utf-8")) > MAX_CONFIG_BYTES:
            return self._error(413, f"config is larger than {MAX_CONFIG_BYTES} bytes")
        try:
            await self.store.save(is_standard, path, name, config)
        except ValueError as e:
            return self._error(400, str(e))
        return web.json_response({"saved": name.strip()})

    async def _configs_delete(self, request: web.Request) -> web.Response:
        assert self.store is not None
        is_standard, path = self._script_key(request.query)
        name = request.query.get("name", "")
        deleted = await self.store.delete(is_standard, path, name)
        return web.json_response({"deleted": deleted}, status=200 if deleted else 404)

    # Reports.

    async def _report(self, request: web.Request) -> web.StreamResponse:
        """Serve a script's run report: the file its largeFileObjectAvailable
        named, and the files beside it (figures), nothing else.
        """
        assert self.state is not None
        index = int(request.match_info["index"])
        script = self.state.scripts.get(index)
        if script is None or script.report is None:
            raise web.HTTPNotFound(text=f"Script {index} has announced no report")
        url = urllib.parse.urlsplit(script.report["url"])
        if url.scheme != "file":
            raise (
                web.HTTPFound(script.report["url"]) if url.scheme in ("http", "https") else web.HTTPNotFound()
            )
        page = pathlib.Path(urllib.request.url2pathname(url.path)).resolve()
        folder = page.parent
        tail = request.match_info["tail"]
        target = (folder / tail).resolve() if tail else page
        if not target.is_relative_to(folder) or not target.is_file():
            raise web.HTTPNotFound(text="no such file in the report")
        return web.FileResponse(target)
