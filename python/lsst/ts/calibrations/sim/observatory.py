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

"""A simulated observatory (ComCam, LSSTCam, LATISS): camera, header service, OODS, OCPS on one repository.

`SimulatedObservatory` is an async context manager that bootstraps the
butler repository (on first use), builds the sensor and image model from a
sensor-model file and a seed, and starts, ENABLED and sharing one
`SimClock`, `RawStore` and `SimFaults`:

- `CCCameraCsc` (CCCamera; MTCamera for LSSTCam, ATCamera for LATISS),
- `CCHeaderServiceCsc` (CCHeaderService; MTHeaderService, ATHeaderService),
- `CCOODSCsc` (CCOODS; MTOODS, ATOODS),
- for LATISS, `ATSpectrographCsc` (filter and grating),
- `OcpsCsc` (OCPS index 2; 3 for LSSTCam, 1 for LATISS; ``ocps=False``
  leaves it out), with its jobs under ``<repo>/ocps/jobs``.

The ``instrument`` (LSSTComCam by default) chooses the components
(`SimComponents`), the repository's instrument and the shipped sensor
model (``comcam_default``, ``lsstcam_default``, ``latiss_default``).

With ``repo_alias`` (e.g. ``/repo/LSSTComCam``, the calibration script's
default ``repo``) the alias is installed in daf_butler's repository index
(`install_repository_alias`), so that name reaches the simulated repository
in this process and in every process it starts (``pipetask``); the line a
user sets to reach it from another session is `alias_line`.

Example::

    async with SimulatedObservatory("/tmp/repo", time_scale=0.02, date="2024-10-24") as observatory:
        async with ComCam() as comcam:
            exposure_ids = await comcam.take_bias(3)
"""

__all__ = ["SimulatedObservatory"]

import asyncio
import datetime
import os
from pathlib import Path

from ..repo.camera import get_geometry
from ..repo.repo_alias import install_repository_alias
from ..repo.repository import bootstrap_repository, registry_description
from ..sal.base import State
from ..sal.base_csc import BaseCsc
from ..sal.lifecycle_mixin import LifecycleMixin
from .atspectrograph_csc import ATSpectrographCsc
from .cccamera_csc import CCCameraCsc
from .ccheader_service_csc import CCHeaderServiceCsc
from .ccoods_csc import CCOODSCsc
from .image_model import ImageModel
from .ocps_csc import OcpsCsc
from .ocps_execution_backends import DEFAULT_EXECUTION_BACKEND, EXECUTION_BACKENDS
from .raw_store import RawStore
from .sensor_model import SensorModel
from .sim_clock import SimClock
from .sim_components import SimComponents
from .sim_faults import SimFaults


class SimulatedObservatory(LifecycleMixin):
    """Start an instrument's simulated camera, header service, OODS (and spectrograph) and OCPS.

    Parameters
    ----------
    repo : `str` or `os.PathLike`
        Butler repository; created and bootstrapped if missing.
    time_scale : `float`, optional
        Real seconds per simulated second (1.0 = real timings).
    date : `str`, `datetime.datetime` or `None`, optional
        Start of the simulated clock: ``YYYY-MM-DD`` (18:00 UTC that day),
        ``YYYY-MM-DDTHH:MM:SS`` (UTC) or None for now (see `SimClock`).
    seed : `int`, optional
        Seed of the sensor model (>= 0).
    sensor_model : `str`, `os.PathLike` or `None`, optional
        Sensor-model file or shipped model name; the instrument's default
        model if None.
    geometry : `str`, optional
        "reduced" (default) or "full" (each vendor's layout of it).
    detectors : `list` [`int`], optional
        Detectors the camera reads out by default; the instrument's
        science detectors if None.
    faults : `SimFaults`, optional
        Faults to inject; a new, empty `SimFaults` if None.
    initial_filter : `str`, optional
        Filter installed at start; the camera's default if None. LATISS:
        ``filter`` or ``filter~grating`` put in by the spectrograph.
    heartbeat_interval : `float`, optional
        Interval (real seconds) between heartbeats of each CSC.
    ocps : `bool`, optional
        Start the OCPS?
    repo_alias : `str`, optional
        Repository-index label to install for the repository (changes
        ``DAF_BUTLER_REPOSITORY_INDEX`` of this process); none if None.
    ocps_max_processes : `int`, optional
        Cap on the OCPS jobs' ``pipetask -j`` (at most the machine's cores,
        the default if None). ``pipetask -j N`` with N > 1 starts a Python
        process per quantum, which costs more than a reduced-geometry
        quantum: 1 runs each job in one process.
    ocps_execution_backend : `str`, optional
        How the OCPS runs a job's quanta
        (`~lsst.ts.calibrations.sim.ocps_csc.EXECUTION_BACKENDS`): long-lived
        ``workers`` (the default) or one ``pipetask`` process per job.
    registry_db : `str`, optional
        Registry database of a new repository:
        ``postgresql://USER@HOST:PORT/DATABASE`` (its own schema there), ""
        for SQLite in the repository, None (the default) for the
        environment variable ``TS_CALIBRATIONS_REGISTRY_DB`` or SQLite; see
        `~lsst.ts.calibrations.repo.repository.bootstrap_repository`.
    instrument : `str`, optional
        LSSTComCam (the default), LSSTCam or LATISS: the CSCs, OCPS index,
        camera description and collections of that instrument.

    Attributes
    ----------
    clock : `SimClock`
        The shared clock (made by `start`).
    raw_store : `RawStore`
        Where raws are written: ``<repo>/sim_raws``.
    faults : `SimFaults`
        The shared faults.
    camera : `CCCameraCsc`
        The camera (made by `start`).
    spectrograph : `ATSpectrographCsc` or `None`
        LATISS's spectrograph (made by `start`); None for the others.
    header_service : `CCHeaderServiceCsc`
        The header service (made by `start`).
    oods : `CCOODSCsc`
        The OODS (made by `start`).
    ocps : `OcpsCsc` or `None`
        The OCPS (made by `start`), None without ``ocps``.
    alias_line : `str`
        With ``repo_alias``: the shell line that makes the alias reach the
        repository in another session; "" otherwise.
    registry : `str`
        The repository's registry, "SQLite" or ``URL (schema NAME)`` (set
        by `start`).

    Raises
    ------
    ValueError
        If ``time_scale``, ``date``, ``seed`` or ``geometry`` is not valid
        (on construction).
    """

    def __init__(
        self,
        repo: str | os.PathLike[str],
        *,
        time_scale: float = 1.0,
        date: str | datetime.datetime | None = None,
        seed: int = 0,
        sensor_model: str | os.PathLike[str] | None = None,
        geometry: str = "reduced",
        detectors: list[int] | None = None,
        faults: SimFaults | None = None,
        initial_filter: str | None = None,
        heartbeat_interval: float | None = None,
        ocps: bool = True,
        repo_alias: str | None = None,
        ocps_max_processes: int | None = None,
        ocps_execution_backend: str = DEFAULT_EXECUTION_BACKEND,
        registry_db: str | None = None,
        instrument: str = "LSSTComCam",
    ) -> None:
        self.components = SimComponents(instrument)
        self.instrument = instrument
        self.repo = Path(repo).expanduser().absolute()
        self.clock = SimClock(time_scale=time_scale, start=date)
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed={seed!r} must be an integer >= 0.")
        self.seed = seed
        self.sensor_model = sensor_model
        self.geometry = get_geometry(geometry)
        self.detectors = detectors
        self.faults = faults if faults is not None else SimFaults()
        self.initial_filter = initial_filter
        self.heartbeat_interval = heartbeat_interval
        self.raw_store = RawStore(self.repo / "sim_raws", prefix=self.components.image_name_prefix)
        self.with_ocps = ocps
        self.repo_alias = repo_alias
        if ocps_max_processes is not None and ocps_max_processes < 1:
            raise ValueError(f"ocps_max_processes={ocps_max_processes} must be >= 1.")
        self.ocps_max_processes = ocps_max_processes
        if ocps_execution_backend not in EXECUTION_BACKENDS:
            raise ValueError(
                f"ocps_execution_backend={ocps_execution_backend!r} is not one of "
                f"{', '.join(EXECUTION_BACKENDS)}."
            )
        self.ocps_execution_backend = ocps_execution_backend
        self.registry_db = registry_db
        self.registry = ""
        self.alias_line = ""
        self.ocps: OcpsCsc | None = None
        self.spectrograph: ATSpectrographCsc | None = None
        self._csc_list: list[BaseCsc] = []
        self._started = False

    @property
    def cscs(self) -> list[BaseCsc]:
        """The running CSCs."""
        return list(self._csc_list)

    async def start(self) -> None:
        """Bootstrap the repository, build the models and start the CSCs ENABLED.

        The clock starts when the CSCs are running.

        Raises
        ------
        RepositoryError
            If the repository path is not usable.
        """
        if self._started:
            return
        self._started = True
        butler = await asyncio.to_thread(
            bootstrap_repository, self.repo, registry_db=self.registry_db, instrument=self.instrument
        )
        await asyncio.to_thread(butler.close)
        self.registry = await asyncio.to_thread(registry_description, self.repo)
        if self.repo_alias is not None:
            self.alias_line = await asyncio.to_thread(install_repository_alias, self.repo, self.repo_alias)
        model = await asyncio.to_thread(SensorModel.from_yaml, self.sensor_model, self.seed, self.instrument)
        image_model = ImageModel(model, self.geometry)
        try:
            self.oods = CCOODSCsc(
                self.repo,
                raw_store=self.raw_store,
                faults=self.faults,
                heartbeat_interval=self.heartbeat_interval,
                instrument=self.instrument,
            )
            self._csc_list.append(self.oods)
            self.header_service = CCHeaderServiceCsc(
                self.repo,
                raw_store=self.raw_store,
                heartbeat_interval=self.heartbeat_interval,
                instrument=self.instrument,
            )
            self._csc_list.append(self.header_service)
            if self.with_ocps:
                self.ocps = OcpsCsc(
                    self.repo_alias if self.repo_alias is not None else self.repo,
                    initial_state=State.ENABLED,
                    simulation_mode=1,
                    heartbeat_interval=self.heartbeat_interval,
                    max_processes=self.ocps_max_processes,
                    execution_backend=self.ocps_execution_backend,
                    index=self.components.ocps_index,
                )
                self._csc_list.append(self.ocps)
                if self.faults.ocps_failures:
                    self.ocps.inject_failure(self.faults.ocps_failures)
                if self.faults.ocps_slow_jobs:
                    self.ocps.inject_slow_jobs(self.faults.ocps_slow_jobs, self.faults.ocps_slow_delay)
            await asyncio.gather(*(csc.start_task for csc in self._csc_list))
            self.clock = SimClock(time_scale=self.clock.time_scale, start=self.clock.start_utc)
            if self.components.spectrograph is not None:
                filter_name, _, grating = (self.initial_filter or "").partition("~")
                self.spectrograph = ATSpectrographCsc(
                    clock=self.clock,
                    initial_filter=filter_name or None,
                    initial_grating=grating or None,
                    heartbeat_interval=self.heartbeat_interval,
                )
                self._csc_list.append(self.spectrograph)
                await self.spectrograph.start_task
            self.camera = CCCameraCsc(
                self.repo,
                clock=self.clock,
                image_model=image_model,
                raw_store=self.raw_store,
                detectors=self.detectors,
                faults=self.faults,
                initial_filter=self.initial_filter if self.spectrograph is None else None,
                heartbeat_interval=self.heartbeat_interval,
                instrument=self.instrument,
            )
            self._csc_list.append(self.camera)
            await self.camera.start_task
        except BaseException:
            await self.close()
            raise

    async def wait_idle(self) -> None:
        """Wait until every image taken so far is written and announced (``endOfImageTelemetry``)."""
        await self.camera.wait_images_written()

    async def close(self) -> None:
        """Close every CSC (camera first). Idempotent."""
        csc_list, self._csc_list = self._csc_list, []
        for csc in reversed(csc_list):
            await csc.close()

    def describe(self) -> str:
        """One line saying what runs where."""
        names = ", ".join(
            name for name in self.components.names if self.with_ocps or not name.startswith("OCPS")
        )
        alias = f" (alias {self.repo_alias})" if self.repo_alias else ""
        registry = f" (registry {self.registry})" if self.registry else ""
        return (
            f"simulated observatory: {names} ENABLED on repository {self.repo}{alias}{registry} "
            f"(raws in {self.raw_store.root}); time_scale={self.clock.time_scale}, "
            f"start {self.clock.start_utc.isoformat(timespec='seconds')} (day_obs {self.clock.day_obs()}), "
            f"seed={self.seed}, sensor model {self.sensor_model or 'default'}, geometry {self.geometry.name}"
        )
