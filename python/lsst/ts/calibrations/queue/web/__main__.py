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

"""``python -m lsst.ts.calibrations.queue.web``: serve the panel of a
ScriptQueue that runs elsewhere (over DDS), until interrupted.

Options: ``--index N`` (ScriptQueue index, 1), ``--host H`` (127.0.0.1),
``--port N`` (8080; 0 to choose one), ``--token T`` (required off the
loopback; "auto" makes one), ``--db FILE`` (saved configurations). It prints
the page's address (with the token, if any) once the server listens.
"""

import argparse
import asyncio
import signal
import sys
import typing

from ...sal.transport_choice import set_transport_name
from .queue_panel import QueuePanel


def make_parser() -> argparse.ArgumentParser:
    """The command line of the standalone panel."""
    parser = argparse.ArgumentParser(description="Serve the queue panel of a ScriptQueue (over DDS).")
    parser.add_argument("--index", type=int, default=1, help="ScriptQueue index (1 MTQueue, 2 ATQueue).")
    parser.add_argument("--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1).")
    parser.add_argument("--port", type=int, default=8080, help="Port (0: any free port).")
    parser.add_argument("--token", default=None, help='Token the page must give; "auto" makes one.')
    parser.add_argument("--db", default=None, help="SQLite file of the saved configurations.")
    return parser


async def serve(namespace: argparse.Namespace) -> None:
    """Serve until SIGINT or SIGTERM."""
    set_transport_name("dds")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with QueuePanel(
        namespace.index, host=namespace.host, port=namespace.port, token=namespace.token, db_path=namespace.db
    ) as panel:
        suffix = f"  (token: {panel.token})" if panel.token else ""
        print(f"queue panel: {panel.url}{suffix}", flush=True)
        await stop.wait()


def main(args: typing.Sequence[str] | None = None) -> None:
    """Entry point."""
    namespace = make_parser().parse_args(args)
    try:
        asyncio.run(serve(namespace))
    except ValueError as e:
        sys.exit(f"queue panel: {e}")


if __name__ == "__main__":
    main()
