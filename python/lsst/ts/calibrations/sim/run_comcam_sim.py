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

"""``run_comcam_sim``: a simulated observatory (ComCam by default) as its own process.

``run_comcam_sim --repo PATH [--instrument LSSTComCam|LSSTCam|LATISS] [--time-scale F]
[--sensor-model FILE] [--geometry reduced|full] [--seed N] [--date D] [--sim-fault SPEC ...]
[--ocps-max-processes N]`` starts `SimulatedObservatory` (CCCamera,
CCHeaderService, CCOODS, OCPS:2, ENABLED; with ``--instrument LSSTCam`` the
MT components and OCPS:3, with ``LATISS`` the AT components, ATSpectrograph
and OCPS:1) over the DDS transport, prints
`READY_LINE` when every CSC is ENABLED and runs until Ctrl-C or SIGTERM,
then closes every CSC and exits 0.

`ObservatoryProcess` starts it as a child process and waits until it is
ready: ``run_one_script --simulate`` uses it with the DDS transport. The
options are those of ``run_one_script --simulate`` (declared and checked
once, in `lsst.ts.calibrations.sim.simulated_observatory_provider`), with
``--repo`` required.

Isolation: the observatory answers only processes with its isolation name
(``LSST_TOPIC_SUBNAME``). Started by hand without one, it makes a fresh name
and prints it (``export LSST_TOPIC_SUBNAME=...`` in the shell that runs the
scripts); a child of ``run_one_script --simulate`` inherits that command's.
"""

__all__ = ["main", "make_parser", "run_comcam_sim"]

import argparse
import asyncio
import os
import sys
import typing

from ..sal.isolation import SUBNAME_ENV, ensure_isolation_name
from ..sal.stop_signals import stop_on_signals
from ..sal.transport_choice import set_transport_name
from .observatory_process import ENV_LINE_PREFIX, READY_LINE
from .simulated_observatory_provider import (
    add_simulator_arguments,
    check_simulator_arguments,
    make_simulated_observatory,
)


def make_parser() -> argparse.ArgumentParser:
    """Make the command-line parser of ``run_comcam_sim``."""
    parser = argparse.ArgumentParser(
        prog="run_comcam_sim",
        description="Run a simulated observatory (ComCam: CCCamera, CCHeaderService, CCOODS, OCPS:2; "
        "--instrument LSSTCam or LATISS for theirs) as its own process over DDS until Ctrl-C or SIGTERM.",
    )
    add_simulator_arguments(parser, repo_required=True)
    return parser


async def run_comcam_sim(namespace: argparse.Namespace, stream: typing.TextIO | None = None) -> None:
    """Run the simulated observatory until SIGINT or SIGTERM.

    Parameters
    ----------
    namespace : `argparse.Namespace`
        Parsed options (`make_parser`).
    stream : `typing.TextIO`, optional
        Where to print; `sys.stdout` if None.
    """
    out = sys.stdout if stream is None else stream
    with stop_on_signals() as stop:
        observatory = make_simulated_observatory(namespace)
        async with observatory as started:
            print(started.describe(), file=out, flush=True)
            for name in (SUBNAME_ENV, "DAF_BUTLER_REPOSITORY_INDEX", "DAF_BUTLER_REPOSITORIES"):
                if os.environ.get(name):
                    print(f"{ENV_LINE_PREFIX}{name}={os.environ[name]}", file=out, flush=True)
            print(READY_LINE, file=out, flush=True)
            await stop.wait()
            print("run_comcam_sim: stopping", file=out, flush=True)
    print("run_comcam_sim: stopped", file=out, flush=True)


def main(args: typing.Sequence[str] | None = None) -> None:
    """Run ``run_comcam_sim`` from the command line (DDS transport)."""
    parser = make_parser()
    namespace = parser.parse_args(args)
    check_simulator_arguments(parser, namespace)
    set_transport_name("dds")
    name, created = ensure_isolation_name("sim")
    if created:
        print(
            f"run_comcam_sim: this observatory is private: run scripts against it with {SUBNAME_ENV}={name} "
            f"(e.g. export {SUBNAME_ENV}={name})",
            flush=True,
        )
    try:
        asyncio.run(run_comcam_sim(namespace))
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"run_comcam_sim: error: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
