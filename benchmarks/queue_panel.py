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

"""Benchmark of the queue panel: how soon the page shows a script's state
change, and the server with 50 websockets connected while a script runs.

Layout (as at the observatory): the ScriptQueue in one process, the panel's
server in another (``python -m lsst.ts.calibrations.queue.web``), headless
chromium showing the page, and this process, which adds a script through
the panel's HTTP API (as the page does), follows the script's ``state``
event over SAL and, for the second measurement, holds the extra websockets.

Latency: the script pauses at each of its checkpoints (pause checkpoint
``step.*``) and is resumed through the panel; each RUNNING→PAUSED and
PAUSED→RUNNING is one change. Its time is the script's ``state`` event
``private_sndStamp`` (TAI, written in the script process) to the moment a
MutationObserver in the page sees the CURRENT SCRIPT state text change
(``Date.now()`` + TAI-UTC; one clock, one host). Median and p95 over N
changes (target: p95 ≤ 200 ms).

Load: the same measurement again while W more websockets (default 50), each
subscribed to the streams the page subscribes to, receive every message;
the panel process's CPU (user + system, from /proc) over that run, its peak
memory, and the fan-out delay of the server's messages (``producer_snd`` to
receipt) are printed.

Usage: ``python benchmarks/queue_panel.py [--changes N] [--clients W] [--json FILE]``
"""

import argparse
import asyncio
import json
import os
import pathlib
import re
import shutil
import statistics
import sys
import tempfile
import time
import typing
import uuid

import aiohttp

TAI_MINUS_UTC = 37.0
STD_TIMEOUT = 60.0

QUEUE_PROGRAM = """
import asyncio, signal, sys
from lsst.ts.calibrations.queue import ScriptQueue
from lsst.ts.calibrations.sal import State

async def main():
    async with ScriptQueue(index=1, standardpath=sys.argv[1], externalpath=sys.argv[2],
                           initial_state=State.ENABLED):
        print("ready", flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()

asyncio.run(main())
"""

STEP_SCRIPT = '''#!/usr/bin/env python
"""Benchmark script: n_steps checkpoints "step<i>", a log message each."""
import asyncio
import types

from lsst.ts.calibrations.sal import BaseScript


class StepScript(BaseScript):
    def __init__(self, index: int) -> None:
        super().__init__(index=index, descr="Steps through checkpoints")

    @classmethod
    def get_schema(cls):
        return {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "n_steps": {"type": "integer", "minimum": 1, "default": 50, "description": "Steps."},
                "step_time": {"type": "number", "minimum": 0, "default": 0, "description": "Wait (s)."},
            },
            "additionalProperties": False,
        }

    async def configure(self, config: types.SimpleNamespace) -> None:
        self.n_steps = config.n_steps
        self.step_time = config.step_time

    def set_metadata(self, metadata) -> None:
        metadata.duration = self.n_steps * self.step_time

    async def run(self) -> None:
        for i in range(self.n_steps):
            await self.checkpoint(f"step{i}")
            self.log.info("step %d of %d", i + 1, self.n_steps)
            await asyncio.sleep(self.step_time)


if __name__ == "__main__":
    asyncio.run(StepScript.amain())
'''

OBSERVER = """
() => {
  window.__changes = [];
  let last = null;
  const box = document.getElementById("current");
  new MutationObserver(() => {
    const node = box.querySelector(".state");
    const text = node ? node.textContent : "";
    if (text !== last) {
      last = text;
      window.__changes.push([text, box.dataset.index || "", Date.now()]);
    }
  }).observe(box, { childList: true, subtree: true, characterData: true });
}
"""

PAGE_STREAMS = [
    ("ScriptQueueState", 1, "stateStream"),
    ("ScriptQueueState", 1, "scriptsStream"),
    ("ScriptQueueState", 1, "availableScriptsStream"),
    ("ScriptQueue", 1, "summaryState"),
    ("ScriptHeartbeats", 1, "stream"),
    ("Script", 0, "logMessage"),
]


def percentile(values: list[float], fraction: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(fraction * (len(values) - 1))))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time (s) of a process, from /proc."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def start_process(args: list[str], ready: re.Pattern[str]) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    async with asyncio.timeout(STD_TIMEOUT):
        while True:
            line = (await process.stdout.readline()).decode()
            if not line:
                raise RuntimeError(f"{args} exited before it was ready")
            match = ready.search(line)
            if match:
                return process, match.group(0)


async def stop_process(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


class Run:
    """One script run: the script's state changes (SAL) and the page's."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.session = session

    async def post(self, body: dict[str, typing.Any]) -> dict[str, typing.Any]:
        async with self.session.post(self.url + "manager/api/cmd/", json=body) as response:
            answer = await response.json()
            if response.status != 200:
                raise RuntimeError(f"{body['cmd']} failed: {answer}")
            return answer

    async def measure(self, page: typing.Any, domain: typing.Any, changes: int) -> list[float]:
        """Run the step script with a pause at each step; return the latencies (s)."""
        from lsst.ts.calibrations.sal import Remote, ScriptState

        await page.evaluate(OBSERVER)
        n_steps = changes // 2
        answer = await self.post(
            {
                "cmd": "cmd_add",
                "csc": "ScriptQueue",
                "salindex": 1,
                "params": {
                    "isStandard": True,
                    "path": "steps.py",
                    "config": f"n_steps: {n_steps}\n",
                    "location": 2,
                    "pauseCheckpoint": "step.*",
                    "logLevel": 20,
                },
            }
        )
        index = int(answer["result"])
        sent: list[tuple[str, float]] = []
        paused = asyncio.Queue[None]()
        done = asyncio.Event()

        def on_state(data: typing.Any) -> None:
            name = ScriptState(data.state).name
            if not sent or sent[-1][0] != name:
                sent.append((name, data.private_sndStamp))
                if name == "PAUSED":
                    paused.put_nowait(None)
            if data.state >= ScriptState.DONE:
                done.set()

        # The callback is set before the Remote starts, so no state is missed.
        remote = Remote(domain, "Script", index, include=["state"], start=False)
        remote.evt_state.callback = on_state
        try:
            await remote.start()
            async with asyncio.timeout(STD_TIMEOUT + changes):
                for _ in range(n_steps):
                    await paused.get()
                    # Let the page show PAUSED before the resume, as an operator would.
                    shown = f"document.querySelector('#current[data-index=\\'{index}\\'] .state')"
                    await page.wait_for_function(f"{shown}?.textContent === 'PAUSED'")
                    await self.post({"cmd": "cmd_resume", "csc": "Script", "salindex": index, "params": {}})
                await done.wait()
        finally:
            await remote.close()
        seen = [(name, t_ms) for name, page_index, t_ms in await page.evaluate("window.__changes")
                if page_index == str(index)]  # fmt: skip
        # Match the script's transitions in order with the page's.
        latencies: list[float] = []
        position = 0
        first_running = next(i for i, (name, _) in enumerate(sent) if name == "RUNNING")
        for name, stamp in sent[first_running + 1 :]:
            if name not in ("PAUSED", "RUNNING"):
                break
            while position < len(seen) and seen[position][0] != name:
                position += 1
            if position == len(seen):
                raise RuntimeError(f"the page never showed {name} (change {len(latencies) + 1})")
            latencies.append(seen[position][1] / 1000 + TAI_MINUS_UTC - stamp)
            position += 1
        return latencies


async def listen(url: str, received: list[float], counts: list[int], slot: int, stop: asyncio.Event) -> None:
    """One extra websocket: subscribe as the page does; record fan-out delays."""
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url + "manager/ws/subscription") as ws:
            for csc, salindex, stream in PAGE_STREAMS:
                await ws.send_json(
                    {
                        "option": "subscribe",
                        "category": "event",
                        "csc": csc,
                        "salindex": salindex,
                        "stream": stream,
                    }
                )
            while not stop.is_set():
                try:
                    message = await ws.receive(timeout=0.5)
                except TimeoutError:
                    continue
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                data = json.loads(message.data)
                counts[slot] += 1
                if "producer_snd" in data:
                    received.append(time.time() - data["producer_snd"])


def report(name: str, latencies: list[float]) -> dict[str, float]:
    ms = [1000 * x for x in latencies]
    figures = {
        "n": len(ms),
        "median_ms": statistics.median(ms),
        "p95_ms": percentile(ms, 0.95),
        "max_ms": max(ms),
    }
    print(
        f"{name:52s} n={figures['n']:4d}  median {figures['median_ms']:7.1f} ms  "
        f"p95 {figures['p95_ms']:7.1f} ms  max {figures['max_ms']:7.1f} ms"
    )
    return figures


async def main(namespace: argparse.Namespace) -> dict[str, typing.Any]:
    from playwright.async_api import async_playwright

    from lsst.ts.calibrations.sal import Domain

    os.environ["LSST_SAL_TRANSPORT"] = "dds"
    os.environ["LSST_TOPIC_SUBNAME"] = "panelbench_" + uuid.uuid4().hex[:10]
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="queue_panel_bench_"))
    results: dict[str, typing.Any] = {}
    try:
        standard, external = workdir / "standard", workdir / "external"
        standard.mkdir()
        external.mkdir()
        script = standard / "steps.py"
        script.write_text(STEP_SCRIPT)
        script.chmod(0o755)
        queue, _ = await start_process(
            [sys.executable, "-c", QUEUE_PROGRAM, str(standard), str(external)], re.compile("ready")
        )
        panel, url = await start_process(
            [
                sys.executable,
                "-m",
                "lsst.ts.calibrations.queue.web",
                "--port",
                "0",
                "--db",
                str(workdir / "db"),
            ],
            re.compile(r"http://\S+/"),
        )
        panel_pid = panel.pid
        try:
            async with (
                Domain() as domain,
                aiohttp.ClientSession() as session,
                async_playwright() as playwright,
            ):
                browser = await playwright.chromium.launch(
                    executable_path=namespace.chromium, args=["--no-sandbox"]
                )
                # The harness polls the page with wait_for_function, which the page's CSP forbids.
                context = await browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
                page = await context.new_page()
                await page.goto(url)
                await page.wait_for_function(
                    "document.getElementById('connection').textContent === 'CONNECTED'"
                )
                run = Run(url, session)
                print(
                    f"Queue panel benchmark: {namespace.changes} state changes per run; "
                    "page in headless chromium"
                )
                latencies = await run.measure(page, domain, namespace.changes)
                results["idle"] = report("state change -> page, 1 page", latencies)

                stop = asyncio.Event()
                received: list[float] = []
                counts = [0] * namespace.clients
                listeners = [
                    asyncio.create_task(listen(url, received, counts, slot, stop))
                    for slot in range(namespace.clients)
                ]
                await asyncio.sleep(2.0)
                cpu0, wall0 = cpu_seconds(panel_pid), time.monotonic()
                latencies = await run.measure(page, domain, namespace.changes)
                cpu1, wall1 = cpu_seconds(panel_pid), time.monotonic()
                stop.set()
                await asyncio.gather(*listeners)
                results["loaded"] = report(
                    f"state change -> page, 1 page + {namespace.clients} websockets", latencies
                )
                results["fanout"] = report(
                    f"server send -> websocket receipt ({namespace.clients} clients)", received
                )
                cpu = 100 * (cpu1 - cpu0) / (wall1 - wall0)
                results["server"] = {
                    "clients": namespace.clients,
                    "connected_all_run": sum(1 for c in counts if c > 0),
                    "messages_per_client": statistics.median(counts),
                    "cpu_percent_of_one_core": cpu,
                    "run_seconds": wall1 - wall0,
                    "peak_rss_mib": peak_rss_mib(panel_pid),
                }
                print(
                    f"server with {namespace.clients} websockets + 1 page: CPU {cpu:.1f}% of one core over "
                    f"{wall1 - wall0:.1f} s; {statistics.median(counts):.0f} messages per websocket; "
                    f"peak memory {results['server']['peak_rss_mib']:.0f} MiB; "
                    f"{results['server']['connected_all_run']}/{namespace.clients} websockets served"
                )
                p95 = max(results["idle"]["p95_ms"], results["loaded"]["p95_ms"])
                print(f"target p95 <= 200 ms: {'met' if p95 <= 200 else 'NOT met'} (worst p95 {p95:.1f} ms)")
                await browser.close()
        finally:
            await stop_process(panel)
            await stop_process(queue)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=100, help="State changes per run (even).")
    parser.add_argument("--clients", type=int, default=50, help="Extra websockets in the loaded run.")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="Write the figures here.")
    namespace = parser.parse_args()
    figures = asyncio.run(main(namespace))
    if namespace.json is not None:
        namespace.json.write_text(json.dumps(figures, indent=2))
