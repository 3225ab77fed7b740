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


"""The simulated observatories (ComCam, LSSTCam, LATISS) as an observatory provider of ``run_one_script``.

`SimulatedObservatoryProvider` is found by ``run_one_script`` through the
entry point ``simulated`` of the ``lsst.ts.calibrations.observatories``
group. It adds the "simulated observatory" options (``--simulate``,
``--instrument NAME``, ``--repo PATH``, ``--time-scale F``, ``--sensor-model FILE``, ``--seed
N``, ``--date YYYY-MM-DD``, ``--geometry reduced|full``, ``--sim-fault
SPEC``, ``--ocps-max-processes N``, ``--registry-db URL``), checks them,
and with ``--simulate`` makes the observatory of the instrument:
``--instrument``, else the one the script names
(``make_latiss_calibrations.py`` → LATISS, ``make_lsstcam_calibrations.py``
→ LSSTCam), else LSSTComCam:

* with the local transport, `SimulatedObservatory` (CCCamera,
  CCHeaderService, CCOODS and OCPS:2, ENABLED; the MT or AT components and
  OCPS:3 or OCPS:1 for LSSTCam and LATISS) in the process of
  ``run_one_script``, on the repository (created and bootstrapped on first
  use), with the repository alias ``/repo/<instrument>`` installed (the
  script's default ``repo``);
* with the DDS transport, the same observatory as its own process,
  ``run_comcam_sim`` (`ObservatoryProcess`), given the same options.

``run_comcam_sim`` declares and checks its options with the same functions
(`add_simulator_arguments`, `check_simulator_arguments`), so the two
commands cannot drift apart.

Importing this module is cheap: the simulator is imported only when an
observatory is made.
"""

__all__ = [
    "SimulatedObservatoryProvider",
    "add_simulator_arguments",
    "check_simulator_arguments",
    "instrument_of_script",
    "make_simulated_observatory",
    "simulator_argv",
]

import argparse
import contextlib
import datetime
import os
import typing

from .ocps_execution_backends import DEFAULT_EXECUTION_BACKEND, EXECUTION_BACKENDS

if typing.TYPE_CHECKING:
    from .observatory import SimulatedObservatory

INSTRUMENTS = ("LSSTComCam", "LSSTCam", "LATISS")
"""Instruments with a simulated observatory."""

SIMULATOR_OPTIONS = (
    "repo",
    "instrument",
    "time_scale",
    "sensor_model",
    "seed",
    "date",
    "geometry",
    "sim_fault",
    "ocps_max_processes",
    "ocps_execution_backend",
    "registry_db",
)
"""Destinations of the simulator's options, in command-line order."""


def add_simulator_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, *, repo_required: bool = False
) -> None:
    """Add the simulator's options (all but ``--simulate``).

    Parameters
    ----------
    parser : `argparse.ArgumentParser` or argument group
        Where to add them.
    repo_required : `bool`, optional
        Make ``--repo`` required (``run_comcam_sim``); otherwise
        `check_simulator_arguments` asks for it with ``--simulate``.
    """
    parser.add_argument(
        "--repo",
        required=repo_required,
        metavar="PATH",
        help="Butler repository; created and bootstrapped if missing.",
    )
    parser.add_argument(
        "--instrument",
        choices=INSTRUMENTS,
        help="Instrument whose observatory is simulated (default: the one the script is for, "
        "else LSSTComCam).",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        metavar="F",
        help="Real seconds per simulated second (default 1.0: the real camera's timings).",
    )
    parser.add_argument(
        "--sensor-model", metavar="FILE", help="Sensor-model file (default: the shipped model)."
    )
    parser.add_argument("--seed", type=int, metavar="N", help="Seed of the sensor model (default 0).")
    parser.add_argument(
        "--date",
        metavar="YYYY-MM-DD",
        help="Start the simulated clock on this day, 18:00 UTC (or give YYYY-MM-DDTHH:MM:SS UTC); "
        "day_obs rolls over at 12:00 UTC. Default: now.",
    )
    parser.add_argument(
        "--geometry", choices=("reduced", "full"), help="Raw geometry (default reduced: fewer pixels)."
    )
    parser.add_argument(
        "--sim-fault",
        action="append",
        metavar="SPEC",
        help="Fault to inject (repeatable): camera:COMMAND[:TIMES], oods-lose:N, ingest-fail:N, "
        "process-fail:N[:DETECTOR], ocps-fail[:COUNT], ocps-slow:COUNT:DELAY.",
    )
    parser.add_argument(
        "--ocps-max-processes",
        type=int,
        metavar="N",
        help="Cap on the simulated OCPS's -j (default: the machine's cores): the workers of a job, or "
        "pipetask's processes (pipetask -j N > 1 starts a process per quantum).",
    )
    parser.add_argument(
        "--ocps-execution-backend",
        choices=EXECUTION_BACKENDS,
        help=f"How the simulated OCPS runs a job's quanta (default: {DEFAULT_EXECUTION_BACKEND}): workers "
        "(long-lived processes, up to the job's -j) or pipetask (one pipetask run process per job).",
    )
    parser.add_argument(
        "--registry-db",
        metavar="URL",
        help="Registry of a new repository: postgresql://USER@HOST:PORT/DATABASE, in a schema of its own "
        "(password in ~/.lsst/db-auth.yaml, not in the URL). Default: $TS_CALIBRATIONS_REGISTRY_DB, else "
        "SQLite in the repository. Given for an existing repository, it must be its database.",
    )


def check_simulator_arguments(parser: argparse.ArgumentParser, namespace: argparse.Namespace) -> None:
    """Check the simulator's options; ``parser.error`` names a bad one.

    Parameters
    ----------
    parser : `argparse.ArgumentParser`
        The parser.
    namespace : `argparse.Namespace`
        Parsed options. Without a ``simulate`` attribute (``run_comcam_sim``)
        the observatory is always wanted.
    """
    simulate = getattr(namespace, "simulate", True)
    if not simulate:
        given = [name for name in SIMULATOR_OPTIONS if getattr(namespace, name, None) is not None]
        if given:
            options = ", ".join("--" + name.replace("_", "-") for name in given)
            parser.error(f"{options} need --simulate (they configure the simulated observatory)")
        return
    if namespace.repo is None:
        parser.error("--simulate needs --repo PATH: the butler repository to use (created if missing)")
    if namespace.time_scale is not None and not namespace.time_scale > 0:
        parser.error(f"--time-scale {namespace.time_scale} must be > 0 (1.0 = real timings)")
    if namespace.seed is not None and namespace.seed < 0:
        parser.error(f"--seed {namespace.seed} must be >= 0")
    if namespace.ocps_max_processes is not None and namespace.ocps_max_processes < 1:
        parser.error(f"--ocps-max-processes {namespace.ocps_max_processes} must be >= 1")
    if namespace.registry_db and not namespace.registry_db.startswith("postgresql"):
        parser.error(
            f"--registry-db {namespace.registry_db!r} must be postgresql://USER@HOST:PORT/DATABASE "
            "(leave it out for SQLite in the repository)"
        )
    if namespace.date is not None:
        try:
            datetime.datetime.fromisoformat(namespace.date)
        except ValueError:
            parser.error(f"--date {namespace.date!r} must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS")


def instrument_of_script(path: str | None) -> str | None:
    """The instrument a calibration script is for, from its file name (None if it names none).

    ``make_latiss_calibrations.py`` → "LATISS", ``make_lsstcam_calibrations.py``
    → "LSSTCam", ``make_comcam_calibrations.py`` → "LSSTComCam".
    """
    name = os.path.basename(path or "").lower()
    for key, instrument in (("latiss", "LATISS"), ("lsstcam", "LSSTCam"), ("comcam", "LSSTComCam")):
        if key in name:
            return instrument
    return None


def _instrument(namespace: argparse.Namespace) -> str:
    """``--instrument``, else the script's, else LSSTComCam."""
    given = getattr(namespace, "instrument", None)
    return given or instrument_of_script(getattr(namespace, "script", None)) or "LSSTComCam"


def make_simulated_observatory(namespace: argparse.Namespace) -> "SimulatedObservatory":
    """Make the simulated observatory the options describe, in this process.

    Parameters
    ----------
    namespace : `argparse.Namespace`
        Parsed, checked options (`check_simulator_arguments`).

    Returns
    -------
    observatory : `SimulatedObservatory`
        Not started; enter it with ``async with``. The repository alias
        ``/repo/<instrument>`` is installed when it starts.

    Raises
    ------
    ValueError
        If a fault spec or another value is not valid.
    """
    from .observatory import SimulatedObservatory
    from .sim_faults import SimFaults

    faults = SimFaults()
    for spec in namespace.sim_fault or ():
        faults.add_spec(spec)
    return SimulatedObservatory(
        namespace.repo,
        time_scale=1.0 if namespace.time_scale is None else namespace.time_scale,
        date=namespace.date,
        seed=0 if namespace.seed is None else namespace.seed,
        sensor_model=namespace.sensor_model,
        geometry=namespace.geometry or "reduced",
        faults=faults,
        repo_alias=f"/repo/{_instrument(namespace)}",
        ocps_max_processes=namespace.ocps_max_processes,
        ocps_execution_backend=namespace.ocps_execution_backend or DEFAULT_EXECUTION_BACKEND,
        registry_db=namespace.registry_db,
        instrument=_instrument(namespace),
    )


def simulator_argv(namespace: argparse.Namespace) -> list[str]:
    """Return the ``run_comcam_sim`` arguments that repeat the given options.

    Parameters
    ----------
    namespace : `argparse.Namespace`
        Parsed, checked options.

    Returns
    -------
    argv : `list` [`str`]
        ``--repo PATH`` first, then every other option given (each fault
        as its own ``--sim-fault SPEC``).
    """
    argv = ["--repo", str(namespace.repo)]
    for name in SIMULATOR_OPTIONS:
        value = _instrument(namespace) if name == "instrument" else getattr(namespace, name)
        if name == "repo" or value is None or (name == "instrument" and value == "LSSTComCam"):
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            argv += ["--" + name.replace("_", "-"), str(item)]
    return argv


class SimulatedObservatoryProvider:
    """The simulated observatories (ComCam, LSSTCam, LATISS), offered to ``run_one_script``.

    Implements `lsst.ts.calibrations.sal.observatory_provider.ObservatoryProvider`:
    adds the "simulated observatory" argument group, checks it and, with
    ``--simulate``, makes the observatory (in this process with the local
    transport, as its own process with DDS).
    """

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add ``--simulate`` and the simulator's options as one group."""
        group = parser.add_argument_group(
            "simulated observatory",
            "Without --simulate the script talks to the real observatory's components.",
        )
        group.add_argument(
            "--simulate",
            action="store_true",
            help="Start the simulated observatory of the script's instrument (ComCam: CCCamera, "
            "CCHeaderService, CCOODS, OCPS:2; LSSTCam: MT..., OCPS:3; LATISS: AT..., ATSpectrograph, "
            "OCPS:1): in this process with the local transport, as its own process (run_comcam_sim) "
            "with DDS.",
        )
        add_simulator_arguments(group)

    def check_arguments(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace) -> None:
        """See `check_simulator_arguments`."""
        check_simulator_arguments(parser, namespace)

    def make_observatory(
        self, namespace: argparse.Namespace, transport: str
    ) -> contextlib.AbstractAsyncContextManager[typing.Any] | None:
        """Make the observatory ``--simulate`` asks for (None without it).

        Parameters
        ----------
        namespace : `argparse.Namespace`
            Parsed, checked options.
        transport : `str`
            "local": `SimulatedObservatory` in this process; "dds": the
            ``run_comcam_sim`` process (`ObservatoryProcess`).

        Returns
        -------
        observatory : async context manager or `None`
            Not started.
        """
        if not namespace.simulate:
            return None
        if transport == "dds":
            from .observatory_process import ObservatoryProcess

            return ObservatoryProcess(simulator_argv(namespace))
        return make_simulated_observatory(namespace)
