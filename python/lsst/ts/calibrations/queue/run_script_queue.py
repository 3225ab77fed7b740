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

"""``run_script_queue``: a ScriptQueue, its web panel and (with
``--simulate``) the simulated observatory, each in its own process where
it runs at the observatory, serving until interrupted.

``run_script_queue [--simulate] [--repo PATH] [--time-scale F]
[--ocps-max-processes N] [--port N] [--host H] [--token T] [--index 1|2]
[--standard DIR] [--external DIR]``

* Isolation: the processes talk over DDS in the isolation name
  ``LSST_TOPIC_SUBNAME``; if it is not set, a fresh private one is made
  (`ensure_isolation_name`), so the queue never meets another session's
  components.
* ``--simulate``: the simulated observatory (CCCamera, CCHeaderService,
  CCOODS, OCPS:2) runs as its own process on the repository (created and
  bootstrapped on first use), started by `start_simulated_observatory`.
* The ScriptQueue runs in this process, ENABLED; each script it runs is
  its own process.
* The web panel, if the package has one (``queue.web``), is started by
  `start_web_panel`; its address is printed.

Ctrl-C or SIGTERM closes the panel, then the queue (ending every script
process), then the observatory, and exits.
"""

__all__ = [
    "main",
    "make_parser",
    "parse_args",
    "run_script_queue",
    "start_simulated_observatory",
    "start_web_panel",
]

import argparse
import asyncio
import contextlib
import importlib
import pathlib
import sys
import typing

from ..sal import State
from ..sal.isolation import SUBNAME_ENV, ensure_isolation_name
from ..sal.observatory_provider import observatory_from_args
from ..sal.stop_signals import stop_on_signals
from ..sal.transport_choice import set_transport_name
from .base import SalIndex
from .script_queue import ScriptQueue

DEFAULT_REPO = pathlib.Path("_work") / "queue" / "repo"
"""Repository of ``--simulate`` when ``--repo`` is not given (relative to the working directory)."""

READY_PREFIX = "run_script_queue: ready"
"""Start of the line printed once everything serves."""


def make_parser() -> argparse.ArgumentParser:
    """Make the command-line parser of ``run_script_queue``."""
    parser = argparse.ArgumentParser(
        prog="run_script_queue",
        description="Run a ScriptQueue (ENABLED) and its web panel, and with --simulate the simulated "
        "observatory, until Ctrl-C or SIGTERM; then end every process started.",
    )
    parser.add_argument(
        "--index",
        type=int,
        choices=[int(index) for index in SalIndex],
        default=int(SalIndex.MAIN_TEL),
        help="ScriptQueue SAL index: 1 = MTQueue (default), 2 = ATQueue.",
    )
    parser.add_argument("--standard", metavar="DIR", help="Root of the standard scripts (default: shipped).")
    parser.add_argument("--external", metavar="DIR", help="Root of the external scripts (default: shipped).")
    parser.add_argument("--host", default="127.0.0.1", help="Address the panel binds (default 127.0.0.1).")
    parser.add_argument(
        "--port", type=int, default=8000, help="Port of the panel (default 8000; 0: any free)."
    )
    parser.add_argument(
        "--token",
        help="Secret the panel asks for (required for a --host other than loopback; 'auto' makes one).",
    )
    sim = parser.add_argument_group("simulated observatory")
    sim.add_argument(
        "--simulate",
        action="store_true",
        help="Start the simulated observatory (CCCamera, CCHeaderService, CCOODS, OCPS:2) as a process.",
    )
    sim.add_argument(
        "--repo", metavar="PATH", help=f"Butler repository, created if missing (default {DEFAULT_REPO})."
    )
    sim.add_argument(
        "--time-scale", type=float, metavar="F", help="Real seconds per simulated second (default 1.0)."
    )
    sim.add_argument(
        "--ocps-max-processes",
        type=int,
        metavar="N",
        help="Cap on the simulated OCPS's pipetask -j (default: the machine's cores). A script's "
        "n_processes (8 by default) above it is lowered to it; 1 is fastest for reduced-geometry quanta "
        "on a small machine.",
    )
    return parser


def parse_args(args: typing.Sequence[str] | None = None) -> argparse.Namespace:
    """Parse and check the command line.

    Parameters
    ----------
    args : `list` [`str`], optional
        Arguments; `None` for ``sys.argv[1:]``.

    Returns
    -------
    namespace : `argparse.Namespace`
        The options.
    """
    parser = make_parser()
    namespace = parser.parse_args(args)
    if not namespace.simulate:
        given = [
            name
            for name in ("repo", "time_scale", "ocps_max_processes")
            if getattr(namespace, name) is not None
        ]
        if given:
            options = ", ".join("--" + name.replace("_", "-") for name in given)
            parser.error(f"{options} need --simulate (they configure the simulated observatory)")
    elif namespace.repo is None:
        namespace.repo = str(DEFAULT_REPO)
    if namespace.time_scale is not None and not namespace.time_scale > 0:
        parser.error(f"--time-scale {namespace.time_scale} must be > 0 (1.0 = real timings)")
    if namespace.ocps_max_processes is not None and namespace.ocps_max_processes < 1:
        parser.error(f"--ocps-max-processes {namespace.ocps_max_processes} must be >= 1")
    if not 0 <= namespace.port <= 65535:
        parser.error(f"--port {namespace.port} must be in [0, 65535]")
    return namespace


def start_simulated_observatory(
    namespace: argparse.Namespace,
) -> contextlib.AbstractAsyncContextManager[typing.Any]:
    """Return the simulated observatory process of ``--simulate`` (not started).

    The observatory comes from an observatory provider
    (`lsst.ts.calibrations.sal.observatory_provider`), asked in its own
    command-line words; the queue never names the simulator.

    Parameters
    ----------
    namespace : `argparse.Namespace`
        The options (``repo``, ``time_scale``, ``ocps_max_processes``).

    Returns
    -------
    observatory : async context manager
        Entering it starts the process and waits until it is ready
        (``describe()`` says what runs); exiting stops it.

    Raises
    ------
    RuntimeError
        If no observatory provider offers ``--simulate``.
    """
    args = ["--simulate", "--repo", str(namespace.repo)]
    if namespace.time_scale is not None:
        args += ["--time-scale", str(namespace.time_scale)]
    if getattr(namespace, "ocps_max_processes", None) is not None:
        args += ["--ocps-max-processes", str(namespace.ocps_max_processes)]
    try:
        observatory = observatory_from_args(args, transport="dds")
    except ValueError as e:
        raise RuntimeError(f"no observatory provider offers {' '.join(args)}: {e}") from e
    if observatory is None:
        raise RuntimeError(f"no observatory provider made an observatory of {' '.join(args)}")
    return observatory


async def start_web_panel(
    stack: contextlib.AsyncExitStack, namespace: argparse.Namespace, out: typing.TextIO
) -> str | None:
    """Start the queue's web panel (``lsst.ts.calibrations.queue.web``), if
    the package has one; it is closed with ``stack``.

    The one place that knows the panel's server.

    Parameters
    ----------
    stack : `contextlib.AsyncExitStack`
        Where to register the panel's closing.
    namespace : `argparse.Namespace`
        The options (``index``, ``host``, ``port``, ``token``).
    out : `typing.TextIO`
        Where to say why there is no panel.

    Returns
    -------
    url : `str` or `None`
        The panel's address; None if there is no panel.
    """
    try:
        web = importlib.import_module(f"{__package__}.web")
    except ModuleNotFoundError as e:
        if e.name != f"{__package__}.web":
            raise
        print(
            f"run_script_queue: no web panel: {__package__}.web is not part of this installation; "
            "serving the ScriptQueue only",
            file=out,
            flush=True,
        )
        return None
    panel = web.QueuePanel(
        queue_index=namespace.index, host=namespace.host, port=namespace.port, token=namespace.token
    )
    await stack.enter_async_context(panel)
    token = getattr(panel, "token", None)
    if token:
        print(f"run_script_queue: panel token: {token}", file=out, flush=True)
    return str(panel.url)


async def run_script_queue(namespace: argparse.Namespace, stream: typing.TextIO | None = None) -> None:
    """Run the queue, the panel and (with ``--simulate``) the observatory
    until SIGINT or SIGTERM; then close them all.

    Parameters
    ----------
    namespace : `argparse.Namespace`
        The options (`parse_args`).
    stream : `typing.TextIO`, optional
        Where to print; `sys.stdout` if None.
    """
    out = sys.stdout if stream is None else stream
    set_transport_name("dds")
    name, created = ensure_isolation_name("queue")
    how = "private, made for this session" if created else "given"
    print(f"run_script_queue: isolation name ({how}) {SUBNAME_ENV}={name}", file=out, flush=True)
    with stop_on_signals() as stop:
        async with contextlib.AsyncExitStack() as stack:
            if namespace.simulate:
                observatory = await stack.enter_async_context(start_simulated_observatory(namespace))
                describe = getattr(observatory, "describe", None)
                if describe is not None:
                    print(f"run_script_queue: {describe()}", file=out, flush=True)
            csc = ScriptQueue(
                index=namespace.index,
                initial_state=State.ENABLED,
                standardpath=namespace.standard,
                externalpath=namespace.external,
            )
            stack.push_async_callback(csc.close)
            await csc.start_task
            print(
                f"run_script_queue: ScriptQueue:{namespace.index} ENABLED; standard scripts in "
                f"{csc.roots.standard}, external scripts in {csc.roots.external}",
                file=out,
                flush=True,
            )
            url = await start_web_panel(stack, namespace, out)
            print(f"{READY_PREFIX}; panel: {url or 'none'}", file=out, flush=True)
            await stop.wait()
            print("run_script_queue: stopping", file=out, flush=True)
    print("run_script_queue: stopped", file=out, flush=True)


def main(args: typing.Sequence[str] | None = None) -> None:
    """Run ``run_script_queue`` from the command line.

    Parameters
    ----------
    args : `list` [`str`], optional
        Arguments; `None` for ``sys.argv[1:]``.
    """
    namespace = parse_args(args)
    try:
        asyncio.run(run_script_queue(namespace))
    except (ValueError, OSError, RuntimeError) as e:
        print(f"run_script_queue: error: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
