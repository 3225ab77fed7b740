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


"""The shape shared by the simulated CSCs that act on each image the camera announces."""

__all__ = ["CameraListenerCsc"]

import abc
import os
from pathlib import Path
from typing import Any, ClassVar

from ..sal.base import State
from ..sal.base_csc import BaseCsc
from ..sal.remote import Remote
from ..version import __version__
from .raw_store import RawStore


class CameraListenerCsc(BaseCsc, abc.ABC):
    """A simulated CSC that handles each image announced by the camera's ``endOfImageTelemetry``.

    The header service and the OODS listen to the camera the same way: a
    read-only `Remote` of the camera (CCCamera, MTCamera or ATCamera) that reads only ``endOfImageTelemetry``
    and no history (an image announced before this CSC started is not
    its), started with the CSC; while the CSC is not ENABLED an image is
    skipped with a warning. Subclasses implement `handle_image`, and may
    extend `prepare` (awaited before the CSC starts).

    Parameters
    ----------
    name : `str`
        SAL component name.
    repo : `str` or `os.PathLike`
        Butler repository (the raw folder defaults to ``<repo>/sim_raws``).
    raw_store : `RawStore`, optional
        Where the camera writes raws; ``<repo>/sim_raws`` if None.
    initial_state : `State`, optional
        Summary state after starting.
    simulation_mode : `int`, optional
        Must be 1 (simulating).
    heartbeat_interval : `float`, optional
        Interval (real seconds) between heartbeats.
    camera_name : `str`, optional
        SAL component of the camera listened to; "CCCamera" by default.

    Attributes
    ----------
    repo : `pathlib.Path`
        The repository (absolute).
    raw_store : `RawStore`
        Where the raws are.
    camera : `Remote`
        The camera remote (``endOfImageTelemetry`` only).
    """

    valid_simulation_modes: ClassVar[tuple[int, ...]] = (1,)
    version: ClassVar[str] = __version__

    skipped_message: ClassVar[str] = "Not ENABLED: image %s skipped"
    """Warning logged (with the image name) for an image announced while not ENABLED."""

    def __init__(
        self,
        name: str,
        repo: str | os.PathLike[str],
        *,
        raw_store: RawStore | None = None,
        initial_state: State = State.ENABLED,
        simulation_mode: int = 1,
        heartbeat_interval: float | None = None,
        camera_name: str = "CCCamera",
    ) -> None:
        self.repo = Path(repo).absolute()
        self.raw_store = raw_store if raw_store is not None else RawStore(self.repo / "sim_raws")
        super().__init__(
            name,
            initial_state=initial_state,
            simulation_mode=simulation_mode,
            heartbeat_interval=heartbeat_interval,
        )
        self.camera = Remote(
            self.domain, camera_name, readonly=True, include=["endOfImageTelemetry"], evt_max_history=0
        )
        self.camera.evt_endOfImageTelemetry.callback = self._end_of_image

    async def prepare(self) -> None:
        """Get ready before the CSC starts (e.g. open the repository, in a thread)."""

    async def start(self) -> None:
        """Prepare, then start the CSC and its camera remote."""
        await self.prepare()
        await super().start()
        await self.camera.start_task

    async def _end_of_image(self, data: Any) -> None:
        if self.summary_state != State.ENABLED:
            self.log.warning(self.skipped_message, data.imageName)
            return
        await self.handle_image(data.imageName)

    @abc.abstractmethod
    async def handle_image(self, obs_id: str) -> None:
        """Act on one image the camera announced (the CSC is ENABLED).

        Parameters
        ----------
        obs_id : `str`
            The image name (``imageName``), e.g. ``CC_O_20240601_000001``.
        """
