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

"""Benchmark of the SAL transports: command round trip and event latency.

Command round trip: ``set_start`` of ``Test`` ``wait`` (duration 0) to the
final acknowledgement. Event latency: ``private_rcvStamp -
private_sndStamp`` of the ``scalars`` event (time of writing to time of
receipt on the reader's event loop; one clock, as both processes run on this
host). In-process: controller and remote on one event loop
(`LocalTransport`). DDS: the controller in a child process, the remote here
(`DdsTransport`, loopback). One run; median and p99.

Usage: ``python benchmarks/transport.py [-n N]``
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid

CONTROLLER_PROGRAM = """
import asyncio, signal, sys, time
from lsst.ts.calibrations.sal import Controller

class Ctl(Controller):
    heartbeat_interval = None

async def main():
    ctl = Ctl("Test", int(sys.argv[1]))
    async def do_wait(data):
        pass
    async def do_setScalars(data):
        # Echo: write the scalars event with the sender's time, for latency.
        await ctl.evt_scalars.set_write(double0=data.double0, int0=data.int0, force_output=True)
    ctl.cmd_wait.callback = do_wait
    ctl.cmd_setScalars.callback = do_setScalars
    await ctl.start_task
    print("ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await ctl.close()

asyncio.run(main())
"""


def summary(name: str, values: list[float]) -> str:
    values = sorted(values)
    p99 = values[min(len(values) - 1, int(round(0.99 * (len(values) - 1))))]
    return f"{name:44s} median {statistics.median(values) * 1e3:7.3f} ms   p99 {p99 * 1e3:7.3f} ms"


async def measure(remote: object, num: int, event_source: object | None) -> tuple[list[float], list[float]]:
    """Return command round trips and event latencies (seconds)."""
    from lsst.ts.calibrations.sal import Remote

    assert isinstance(remote, Remote)
    for _ in range(20):  # warm up
        await remote.cmd_wait.set_start(duration=0, timeout=10)
    round_trips = []
    for _ in range(num):
        t0 = time.perf_counter()
        await remote.cmd_wait.set_start(duration=0, timeout=10)
        round_trips.append(time.perf_counter() - t0)
    latencies = []
    received: asyncio.Queue[float] = asyncio.Queue()
    remote.evt_scalars.callback = lambda data: received.put_nowait(
        data.private_rcvStamp - data.private_sndStamp
    )
    for i in range(num):
        if event_source is None:
            # Controller in another process: it writes the event when asked.
            await remote.cmd_setScalars.set_start(int0=i, timeout=10, wait_done=False)
        else:
            await event_source.evt_scalars.set_write(int0=i, force_output=True)  # type: ignore[attr-defined]
        latencies.append(await asyncio.wait_for(received.get(), 10))
    return round_trips, latencies


async def run_local(num: int) -> None:
    os.environ["LSST_SAL_TRANSPORT"] = "local"
    from lsst.ts.calibrations.sal import Controller, Domain, Remote

    class Ctl(Controller):
        heartbeat_interval = None

    ctl = Ctl("Test", 1)

    async def do_wait(data: object) -> None:
        pass

    ctl.cmd_wait.callback = do_wait
    await ctl.start_task
    async with Domain() as domain, Remote(domain, "Test", 1) as remote:
        round_trips, latencies = await measure(remote, num, event_source=ctl)
    await ctl.close()
    print(summary("in-process command round trip", round_trips))
    print(summary("in-process event latency", latencies))


async def run_dds(num: int) -> None:
    os.environ["LSST_SAL_TRANSPORT"] = "dds"
    os.environ["LSST_TOPIC_SUBNAME"] = "bench_" + uuid.uuid4().hex[:8]
    from lsst.ts.calibrations.sal import Domain, Remote

    process = subprocess.Popen(
        [sys.executable, "-c", CONTROLLER_PROGRAM, "1"],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert process.stdout is not None
        line = await asyncio.to_thread(process.stdout.readline)
        assert line.strip() == "ready", line
        async with Domain() as domain, Remote(domain, "Test", 1) as remote:
            await domain.transport.wait_for_readers("Test", "command_wait", 10)  # type: ignore[attr-defined]
            round_trips, latencies = await measure(remote, num, event_source=None)
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 10)
        except subprocess.TimeoutExpired:
            process.kill()
    print(summary("DDS command round trip (other process)", round_trips))
    print(summary("DDS event latency (other process)", latencies))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1000, help="Samples per measurement (default 1000).")
    args = parser.parse_args()
    asyncio.run(run_local(args.n))
    asyncio.run(run_dds(args.n))


if __name__ == "__main__":
    main()
