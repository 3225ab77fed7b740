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

"""A simulated OODS (CCOODS; MTOODS, ATOODS): ingests each raw into ``<instrument>/raw/all``.

For each image the camera announces with ``CCCamera.endOfImageTelemetry``
(the instrument's camera), the OODS (when ENABLED) ingests the image's raw
files, where they are (``transfer="direct"``), with `ingest_raws` in a
thread, and writes one ``imageInOODS`` per file (per detector): ``camera``
the instrument ("LSSTComCam"), ``obsid``
the image name, ``raft`` "R22", ``sensor`` "S11", and

- ``statusCode`` 0, ``description`` "file ingested";
- ``statusCode`` 1, ``description`` "ingest failed: <cause>" when the file
  cannot be ingested (the other files of the image are still ingested).

Images are ingested one at a time, in the order announced. An image armed
with `SimFaults.lose_image` never reaches the OODS: nothing is ingested
and no ``imageInOODS`` is written for it.

A test sets the OODS's progress itself with `CCOODSCsc.hold_reports`:
images are still ingested as they come, but the ``imageInOODS`` of each
is kept back until `CCOODSCsc.release_report` writes it, so each sign of
progress a client sees comes when the test says, whatever the ingest
costs on a busy machine.
"""

__all__ = ["CCOODSCsc"]

import asyncio
import collections
import dataclasses
import os
import threading
from pathlib import Path
from typing import ClassVar

from lsst.daf.butler import Butler

from ..repo.ingest import ingest_raws
from ..repo.repository import open_repository, raw_run
from ..sal.base import State
from .camera_listener_csc import CameraListenerCsc
from .raw_store import RawStore
from .sim_components import SimComponents
from .sim_faults import SimFaults


@dataclasses.dataclass(frozen=True)
class _FileStatus:
    """Outcome of ingesting one raw file."""

    raft: str
    sensor: str
    status_code: int
    description: str


class CCOODSCsc(CameraListenerCsc):
    """The simulated OODS of an instrument (ComCam by default).

    Parameters
    ----------
    repo : `str` or `os.PathLike`
        Bootstrapped butler repository to ingest into.
    raw_store : `RawStore`, optional
        Where the camera writes raws; ``<repo>/sim_raws`` if None.
    faults : `SimFaults`, optional
        Armed faults; none if None.
    initial_state : `State`, optional
        Summary state after starting.
    simulation_mode : `int`, optional
        Must be 1 (simulating).
    heartbeat_interval : `float`, optional
        Interval (real seconds) between heartbeats.
    instrument : `str`, optional
        "LSSTComCam" (default), "LSSTCam" or "LATISS": the camera listened
        to, the SAL component, and the raws' instrument.

    Attributes
    ----------
    files_ingested : `int`
        Number of raw files ingested.
    """

    skipped_message: ClassVar[str] = "Not ENABLED: %s not ingested"

    def __init__(
        self,
        repo: str | os.PathLike[str],
        *,
        raw_store: RawStore | None = None,
        faults: SimFaults | None = None,
        initial_state: State = State.ENABLED,
        simulation_mode: int = 1,
        heartbeat_interval: float | None = None,
        instrument: str = "LSSTComCam",
    ) -> None:
        self.instrument = instrument
        components = SimComponents(instrument)
        self.faults = faults if faults is not None else SimFaults()
        self.files_ingested = 0
        # Images ingested whose imageInOODS is kept back (hold_reports), oldest first; None: not held.
        self._held: collections.deque[tuple[str, list[_FileStatus]]] | None = None
        self._butler: Butler | None = None
        # Held by an ingest (in its thread) and by closing the butler, so neither cuts into the other.
        self._butler_lock = threading.Lock()
        super().__init__(
            components.oods,
            repo,
            camera_name=components.camera,
            raw_store=raw_store,
            initial_state=initial_state,
            simulation_mode=simulation_mode,
            heartbeat_interval=heartbeat_interval,
        )

    async def prepare(self) -> None:
        """Open the repository (in a thread)."""
        self._butler = await asyncio.to_thread(
            open_repository, self.repo, run=raw_run(self.instrument), instrument=self.instrument
        )

    async def handle_image(self, obs_id: str) -> None:
        """Ingest the image's raws (in a thread); one ``imageInOODS`` per file."""
        if self.faults.is_lost(obs_id):
            self.log.warning("%s never reaches the OODS (SimFaults.lose_image)", obs_id)
            return
        statuses = await asyncio.to_thread(self._ingest_image, obs_id)
        if statuses is None:
            self.log.warning("Closing: %s not ingested", obs_id)
            return
        if not statuses:
            self.log.error("No raw files of %s in %s", obs_id, self.raw_store.image_dir(obs_id))
        if self._held is not None:
            self._held.append((obs_id, statuses))
            return
        await self._report(obs_id, statuses)

    def hold_reports(self) -> None:
        """Keep back the ``imageInOODS`` of each image ingested from now on,
        until `release_report` writes it.

        The ingest itself goes on as images come: only the reports, the
        OODS's progress as its clients see it, wait for the caller.
        """
        if self._held is None:
            self._held = collections.deque()

    @property
    def held_reports(self) -> list[str]:
        """Names of the images ingested whose ``imageInOODS`` is held, oldest first."""
        return [obs_id for obs_id, _ in self._held or ()]

    async def release_report(self) -> str:
        """Write the ``imageInOODS`` of the oldest held image (one per file).

        Returns
        -------
        obs_id : `str`
            The image's name.

        Raises
        ------
        RuntimeError
            If no report is held (`hold_reports` not called, or every
            report held has been written).
        """
        if not self._held:
            raise RuntimeError("No imageInOODS held: call hold_reports, and let an image be ingested first")
        obs_id, statuses = self._held.popleft()
        await self._report(obs_id, statuses)
        return obs_id

    async def _report(self, obs_id: str, statuses: list[_FileStatus]) -> None:
        """Write one ``imageInOODS`` per file of an image."""
        for status in statuses:
            await self.evt_imageInOODS.set_write(
                camera=self.instrument,
                obsid=obs_id,
                raft=status.raft,
                sensor=status.sensor,
                statusCode=status.status_code,
                description=status.description,
                force_output=True,
            )

    def _ingest_image(self, obs_id: str) -> list[_FileStatus] | None:
        """Ingest the raws of one image (in a thread); one status per file, None once closed."""
        with self._butler_lock:
            if self._butler is None:
                return None
            return self._ingest_files(self._butler, obs_id)

    def _ingest_files(self, butler: Butler, obs_id: str) -> list[_FileStatus]:
        """Ingest the raws of one image with the butler; one status per file."""
        paths = self.raw_store.raw_files(obs_id)
        if not paths:
            return []
        names = [_detector_name(obs_id, path) for path in paths]
        try:
            ingest_raws(butler, paths, instrument=self.instrument)
        except Exception as e:
            self.log.warning("Ingest of %s failed (%s); ingesting its files one by one", obs_id, e)
        else:
            self.files_ingested += len(paths)
            return [_FileStatus(name[:3], name[4:], 0, "file ingested") for name in names]
        statuses: list[_FileStatus] = []
        for path, name in zip(paths, names):
            raft, sensor = name[:3], name[4:]
            try:
                ingest_raws(butler, [path], instrument=self.instrument)
            except Exception as e:
                self.log.error("Ingest of %s failed: %s", path, e)
                statuses.append(_FileStatus(raft, sensor, 1, f"ingest failed: {e}"))
            else:
                self.files_ingested += 1
                statuses.append(_FileStatus(raft, sensor, 0, "file ingested"))
        return statuses

    async def close_tasks(self) -> None:
        """Close the butler, once an ingest under way has ended."""
        await super().close_tasks()
        await asyncio.to_thread(self._close_butler)

    def _close_butler(self) -> None:
        with self._butler_lock:
            butler, self._butler = self._butler, None
        if butler is not None:
            butler.close()


def _detector_name(obs_id: str, path: Path) -> str:
    """Detector name ("R22_S11", "RXX_S00") from a raw file name ``<obs_id>_R22_S11.fits``."""
    return path.name.removeprefix(f"{obs_id}_").removesuffix(".fits")
