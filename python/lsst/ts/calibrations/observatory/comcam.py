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

"""ComCam: the LSSTComCam camera group (CCCamera, CCHeaderService, CCOODS).

The ts_observatory_control API (`BaseCamera`) plus the filter
(`setup_instrument` with ``filter=``, `setup_filter`, `get_current_filter`,
`get_available_filters`) and, beyond it, `wait_for_oods`: the OODS's
``imageInOODS`` events are recorded from the moment the group starts, per
image and detector, so an ingest can be awaited for exactly the exposures
and detectors taken, and a failed or missing ingest is an error naming it.

The time limit of the wait holds on a busy machine: a file counts as
missing only when the limit has passed both since its image was read out
and since the OODS last reported any ingest. An OODS that is behind but
working (a backlog of files on a loaded machine) is waited for; one that
lost a file, or stopped, is reported one limit after it went quiet.
"""

__all__ = ["ComCam"]

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from ..sal.base import AckError
from ..sal.domain import Domain
from ..sal.remote import Remote
from .base_camera import BaseCamera

# Detector names by id (ids 0-8: R22_S00, R22_S01, R22_S02, R22_S10, ...).
_DETECTOR_NAMES = tuple(f"R22_S{row}{col}" for row in range(3) for col in range(3))


class ComCam(BaseCamera):
    """The LSSTComCam camera, header service and OODS.

    Parameters
    ----------
    domain : `Domain`, optional
        Domain; a new one if None.
    log : `logging.Logger`, optional
        Logger.
    intended_usage : `int`, optional
        Accepted for compatibility; unused.

    Attributes
    ----------
    filter_change_timeout : `float`
        Time limit (s) of a filter change (60 s).
    oods_status : `dict` [`str`, `dict` [`str`, `tuple` [`int`, `str`]]]
        ``imageInOODS`` seen since start: image name → detector name
        ("R22_S11") → (statusCode, description).
    """

    def __init__(
        self,
        domain: Domain | None = None,
        log: logging.Logger | None = None,
        intended_usage: int | None = None,
    ) -> None:
        super().__init__(
            components=["CCCamera", "CCHeaderService", "CCOODS"],
            instrument_setup_attributes=["filter"],
            domain=domain,
            log=log,
            intended_usage=intended_usage,
        )
        self.filter_change_timeout = 60.0
        self.oods_status: dict[str, dict[str, tuple[int, str]]] = {}
        self._oods_changed = asyncio.Event()
        # Event-loop time of the last imageInOODS (of any image): the OODS's last sign of progress.
        self._last_oods_event: float | None = None
        self.rem.ccoods.evt_imageInOODS.callback = self._image_in_oods

    remote_topics = {
        "CCCamera": (
            "startIntegration",
            "endReadout",
            "endOfImageTelemetry",
            "ccsCommandState",
            "startSetFilter",
            "endSetFilter",
            "availableFilters",
        ),
        "CCHeaderService": ("largeFileObjectAvailable",),
        "CCOODS": ("imageInOODS",),
    }

    @classmethod
    def get_image_types(cls) -> list[str]:
        """Image types `take_imgtype` accepts (those of `BaseCamera` and SPOT)."""
        return [*super().get_image_types(), "SPOT"]

    @property
    def camera(self) -> Remote:
        """The CCCamera remote."""
        return self.rem.cccamera

    @staticmethod
    def detector_names() -> tuple[str, ...]:
        """Detector names by id: R22_S00 (0) ... R22_S22 (8)."""
        return _DETECTOR_NAMES

    def parse_sensors(self, sensors: str | None) -> str:
        """Check colon-separated sensor names ("R22_S11:R22_S00"); "" for all.

        Raises
        ------
        RuntimeError
            If a name is not a ComCam sensor.
        """
        if sensors is None or not sensors.strip():
            return ""
        names = [name.strip() for name in sensors.split(":")]
        unknown = [name for name in names if name not in _DETECTOR_NAMES]
        if unknown:
            raise RuntimeError(f"sensors {unknown} are not ComCam sensors; use names from {_DETECTOR_NAMES}")
        return ":".join(names)

    async def setup_instrument(self, **kwargs: Any) -> None:
        """Set up the camera: ``filter=<name>`` changes the filter if needed.

        Raises
        ------
        RuntimeError
            If a keyword is not ``filter``, or the filter change fails.
        """
        self.check_kwargs(**kwargs)
        if kwargs.get("filter") is not None:
            await self.setup_filter(str(kwargs["filter"]))

    async def setup_filter(self, filter: str) -> None:
        """Install a filter unless it is already in (``endSetFilter.filterName``).

        Parameters
        ----------
        filter : `str`
            Filter name, e.g. "r_03".

        Raises
        ------
        RuntimeError
            If ``setFilter`` fails or times out, or ``endSetFilter`` then
            names another filter.
        """
        current = self.camera.evt_endSetFilter.get()
        if current is not None and current.filterName == filter:
            self.log.info("Filter %s already in place", filter)
            return
        self.log.info("Changing filter %s → %s", current.filterName if current else "unknown", filter)
        try:
            await self.camera.cmd_setFilter.set_start(name=filter, timeout=self.filter_change_timeout)
        except AckError as e:
            result = e.ackcmd.result if e.ackcmd is not None else str(e)
            raise RuntimeError(f"CCCamera.setFilter(name={filter!r}) failed: {result}") from e
        installed = await self.get_current_filter()
        if installed != filter:
            raise RuntimeError(
                f"CCCamera.setFilter(name={filter!r}) completed but endSetFilter says {installed!r}"
            )

    async def get_current_filter(self) -> str:
        """The installed filter (``endSetFilter.filterName``).

        Raises
        ------
        RuntimeError
            If the camera wrote no ``endSetFilter`` within `fast_timeout`.
        """
        try:
            data = await self.camera.evt_endSetFilter.aget(timeout=self.fast_timeout)
        except TimeoutError:
            raise RuntimeError(f"CCCamera wrote no endSetFilter within {self.fast_timeout} s") from None
        return str(data.filterName)

    async def get_available_filters(self) -> list[str]:
        """Filters the camera can install (``availableFilters.filterNames``).

        Raises
        ------
        RuntimeError
            If the camera wrote no ``availableFilters`` within `fast_timeout`.
        """
        try:
            data = await self.camera.evt_availableFilters.aget(timeout=self.fast_timeout)
        except TimeoutError:
            raise RuntimeError(f"CCCamera wrote no availableFilters within {self.fast_timeout} s") from None
        return [name for name in str(data.filterNames).split(",") if name]

    async def get_available_instrument_setup(self) -> list[str]:
        """The available filters."""
        return await self.get_available_filters()

    def _image_in_oods(self, data: Any) -> None:
        detector = f"{data.raft}_{data.sensor}"
        self.oods_status.setdefault(data.obsid, {})[detector] = (int(data.statusCode), str(data.description))
        self._last_oods_event = asyncio.get_running_loop().time()
        self._oods_changed.set()

    async def wait_for_oods(
        self,
        exposure_ids: Iterable[int],
        detectors: Iterable[int | str] | None = None,
        timeout: float = 120.0,
    ) -> None:
        """Wait until the OODS has ingested every detector of every exposure.

        Parameters
        ----------
        exposure_ids : iterable of `int`
            Exposure IDs (as returned by the ``take_*`` methods).
        detectors : iterable of `int` or `str`, optional
            Detector ids (0-8) or names read out; all nine if None.
        timeout : `float`, optional
            Time limit (s) of each file: it counts from the readout of the
            file's image (from the call, for an image this group did not
            read out), and again from each ``imageInOODS`` the OODS writes,
            so an OODS that is behind but still ingesting is waited for.

        Raises
        ------
        RuntimeError
            As soon as an ``imageInOODS`` of these reports a failure (statusCode
            != 0, with its description), or when the time limit has passed
            both since a file's readout and since the OODS's last
            ``imageInOODS``, naming each image and detector not ingested.
        """
        names = [
            _DETECTOR_NAMES[d] if isinstance(d, int) else str(d)
            for d in (detectors if detectors is not None else range(len(_DETECTOR_NAMES)))
        ]
        wanted = {self.image_name_from_exposure_id(e): set(names) for e in exposure_ids}
        loop = asyncio.get_running_loop()
        called = loop.time()
        while True:
            self._oods_changed.clear()
            failures = []
            missing: list[tuple[str, str]] = []
            for obs_id, detector_names in wanted.items():
                seen = self.oods_status.get(obs_id, {})
                for name in sorted(detector_names):
                    if name not in seen:
                        missing.append((obs_id, name))
                    elif seen[name][0] != 0:
                        failures.append(f"{obs_id} {name}: statusCode {seen[name][0]} {seen[name][1]}")
            if failures:
                raise RuntimeError("OODS could not ingest " + "; ".join(failures))
            if not missing:
                return
            # The earliest deadline of a missing file: its readout (or the call), or the OODS's
            # last sign of progress, whichever is later, plus the limit.
            progress = self._last_oods_event if self._last_oods_event is not None else called
            starts = [self.readout_times.get(obs_id, called) for obs_id, _ in missing]
            remaining = max(min(starts), progress) + timeout - loop.time()
            try:
                if remaining <= 0:
                    raise TimeoutError()
                await asyncio.wait_for(self._oods_changed.wait(), remaining)
            except TimeoutError:
                raise RuntimeError(
                    f"No imageInOODS within {timeout} s of the readout (nor any OODS progress for "
                    f"{timeout} s) for {len(missing)} file(s): " + ", ".join(f"{o} {d}" for o, d in missing)
                ) from None
