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

"""A simulated header service (CCHeaderService; MTHeaderService, ATHeaderService with ``instrument``).

For each image the camera announces with ``CCCamera.endOfImageTelemetry``
(the instrument's camera),
the header service (when ENABLED) writes the image's header, the primary
header of its raws as a header-only FITS file
(`RawStore.header_path`, ``<obs_id>_header.fits`` in the image folder), in a
thread, and announces it with ``largeFileObjectAvailable`` (``url`` a
``file://`` URL, ``generator`` the CSC's name, e.g. "CCHeaderService", ``version`` 1.0,
``byteSize``, ``checkSum`` the MD5 of the file, ``mimeType`` "FITS",
``id`` the image name).
"""

__all__ = ["CCHeaderServiceCsc"]

import asyncio
import hashlib
import os
from pathlib import Path
from typing import ClassVar

from astropy.io import fits

from ..sal.base import State
from .camera_listener_csc import CameraListenerCsc
from .raw_store import RawStore
from .sim_components import SimComponents


class CCHeaderServiceCsc(CameraListenerCsc):
    """The simulated header service of an instrument (ComCam by default).

    Parameters
    ----------
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
    instrument : `str`, optional
        "LSSTComCam" (default), "LSSTCam" or "LATISS": which camera it
        listens to and which SAL component it is.

    Attributes
    ----------
    headers_written : `int`
        Number of headers written and announced.
    """

    skipped_message: ClassVar[str] = "Not ENABLED: no header for %s"

    def __init__(
        self,
        repo: str | os.PathLike[str],
        *,
        raw_store: RawStore | None = None,
        initial_state: State = State.ENABLED,
        simulation_mode: int = 1,
        heartbeat_interval: float | None = None,
        instrument: str = "LSSTComCam",
    ) -> None:
        self.headers_written = 0
        components = SimComponents(instrument)
        super().__init__(
            components.header_service,
            repo,
            camera_name=components.camera,
            raw_store=raw_store,
            initial_state=initial_state,
            simulation_mode=simulation_mode,
            heartbeat_interval=heartbeat_interval,
        )

    async def handle_image(self, obs_id: str) -> None:
        """Write the image's header (in a thread) and announce it."""
        try:
            path, size, checksum = await asyncio.to_thread(self._write_header, obs_id)
        except Exception as e:
            self.log.error("Cannot write the header of %s: %s", obs_id, e)
            return
        self.headers_written += 1
        await self.evt_largeFileObjectAvailable.set_write(
            url=path.as_uri(),
            generator=self.salinfo.name,
            version=1.0,
            byteSize=size,
            checkSum=checksum,
            mimeType="FITS",
            id=obs_id,
            force_output=True,
        )

    def _write_header(self, obs_id: str) -> tuple[Path, int, str]:
        """Write the header file of an image (in a thread); return path, size and MD5."""
        raws = self.raw_store.raw_files(obs_id)
        if not raws:
            raise FileNotFoundError(f"no raw files of {obs_id} in {self.raw_store.image_dir(obs_id)}")
        header = fits.getheader(raws[0], 0)
        for key in ("DETECTOR", "DETNAME", "CCDSLOT", "LSST_NUM", "PRESCAN"):
            header.remove(key, ignore_missing=True)
        path = self.raw_store.header_path(obs_id)
        fits.PrimaryHDU(header=header).writeto(path, overwrite=True)
        content = path.read_bytes()
        return path, len(content), hashlib.md5(content).hexdigest()
