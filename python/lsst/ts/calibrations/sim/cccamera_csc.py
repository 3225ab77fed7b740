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

"""A simulated camera that writes real raw files: CCCamera, or MTCamera / ATCamera with ``instrument``.

``takeImages`` takes ``numImages`` images one after the other; each goes
through, in simulated time (`SimClock`):

1. ``startIntegration`` (image name, index in the sequence, the
   ``keyValueMap`` keys and values as colon-separated ``additionalKeys`` /
   ``additionalValues``);
2. with ``shutter``: ``startShutterOpen``, ``shutterDetailedState`` OPENING,
   ``shutter_time`` s, OPEN, ``endShutterOpen``; the exposure time;
   ``startShutterClose``, CLOSING, ``shutter_time`` s, CLOSED,
   ``endShutterClose``; without: the exposure time;
3. ``startReadout``, ``read_out_time`` (2 s), ``endReadout``.

``ccsCommandState`` is BUSY from the start of the command to the last
``endReadout``, when the command completes. Meanwhile each image's raw files
(one per detector, drawn by the `ImageModel` with the exposure's header)
are generated and written in a worker thread, in order, without holding up
the next exposure; ``endOfImageTelemetry`` follows when they are on disk.
The header service and the OODS act on that event.

Image names are ``CC_O_YYYYMMDD_NNNNNN`` (``MT_O_...`` for LSSTCam,
``AT_O_...`` for LATISS): ``day_obs`` of the `SimClock`
and a sequence number that starts at 1 each day_obs and continues after a
restart on the same repository: the first image of a day gets one more than
the highest ``seq_num`` of that day in the registry and in the raw folder.

``setFilter`` writes ``startSetFilter``, waits ``filter_change_time``
simulated seconds and writes ``endSetFilter``. At start the CSC writes
``availableFilters`` (filters with a flux in the sensor model),
``endSetFilter`` (the installed filter), ``ccsCommandState`` IDLE and
``shutterDetailedState`` CLOSED. ``takeImages`` and ``setFilter`` are
refused while the other runs. ATCamera has no filter changer: LATISS's
filter and grating are the ATSpectrograph's (its ``reportedFilterPosition``
and ``reportedDisperserPosition``, read when each image starts), written as
``FILTER`` and ``GRATING``. Commands the simulator does not model
(``startImage``, ``discardRows``, ``initGuiders``, ...) fail with a message
saying so. Faults come from a shared `SimFaults`.
"""

__all__ = ["CCCameraCsc"]

import asyncio
import dataclasses
import datetime
import enum
import os
from pathlib import Path
from typing import Any, ClassVar

from astropy.time import Time

from ..repo.camera import Camera
from ..repo.image_type import ImageType
from ..repo.instruments import get_instrument
from ..repo.raw import write_raw
from ..repo.repository import open_repository
from ..sal.base import TAI_MINUS_UTC, ExpectedError, State
from ..sal.base_csc import BaseCsc
from ..sal.remote import Remote
from ..version import __version__
from .image_model import ImageModel
from .raw_store import RawStore
from .sim_clock import SimClock
from .sim_components import SimComponents
from .sim_faults import SimFaults


class CcsCommandState(enum.IntEnum):
    """``ccsCommandState.substate`` (1-based, as in ts_xml)."""

    IDLE = 1
    BUSY = 2


class ShutterState(enum.IntEnum):
    """``shutterDetailedState.substate`` (1-based, as in ts_xml)."""

    CLOSED = 1
    OPEN = 2
    CLOSING = 3
    OPENING = 4


class FilterChangerState(enum.IntEnum):
    """``filterChangerDetailedState.substate`` (1-based, as in ts_xml)."""

    UNLOADING = 1
    LOADING = 2
    LOADED = 3
    UNLOADED = 4
    ROTATING = 5
    NOFILTER = 6
    UNKNOWN = 7


# keyValueMap keys that become raw header keys.
_HEADER_KEYS = {"groupId": "GROUPID", "testType": "TESTTYPE", "reason": "REASON", "program": "PROGRAM"}


@dataclasses.dataclass
class _Image:
    """One image being taken: what the writer thread needs."""

    obs_id: str
    day_obs: int
    seq_num: int
    image_type: str
    exposure_time: float
    dark_time: float
    shutter_open_time: float
    physical_filter: str | None
    date_obs: datetime.datetime
    detectors: list[int]
    header: dict[str, Any]
    common: dict[str, Any]
    damaged: bool


def parse_key_value_map(text: str) -> dict[str, str]:
    """Parse a ``keyValueMap`` ("imageType: BIAS, groupId: 2024-...") into a dict.

    Raises
    ------
    ExpectedError
        If an item has no ``key: value`` form.
    """
    values: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition(":")
        if not sep or not key.strip():
            raise ExpectedError(f"keyValueMap item {item.strip()!r} is not of the form 'key: value'")
        values[key.strip()] = value.strip()
    return values


class CCCameraCsc(BaseCsc):
    """The simulated camera of an instrument (ComCam by default).

    Parameters
    ----------
    repo : `str` or `os.PathLike`
        Bootstrapped butler repository (read for the sequence numbers of
        earlier images).
    clock : `SimClock`
        The observatory's clock.
    image_model : `ImageModel`
        Draws the raw images (sensor model, seed and geometry).
    raw_store : `RawStore`, optional
        Where raws are written; ``<repo>/sim_raws`` if None.
    detectors : `list` [`int`], optional
        Detector ids read out when ``takeImages.sensors`` is blank; the
        instrument's science detectors if None.
    faults : `SimFaults`, optional
        Armed faults; none if None.
    initial_state : `State`, optional
        Summary state after starting.
    initial_filter : `str`, optional
        Filter installed at start; the r filter (``r_03``, ``r_57``; else
        the first available) if None. Not for LATISS (the spectrograph's).
    simulation_mode : `int`, optional
        Must be 1 (simulating).
    heartbeat_interval : `float`, optional
        Interval (real seconds) between heartbeats.
    instrument : `str`, optional
        "LSSTComCam" (default), "LSSTCam" or "LATISS".

    Attributes
    ----------
    shutter_time : `float`
        Simulated seconds to open, and to close, the shutter (1 s).
    read_out_time : `float`
        Simulated readout time (2 s).
    filter_change_time : `float`
        Simulated seconds of a filter change (20 s).
    available_filters : `list` [`str`]
        Filters that can be installed (none without a filter changer).
    current_filter : `str`
        The installed filter ("" without a filter changer).
    images_written : `int`
        Number of images whose raws are on disk.

    Raises
    ------
    ValueError
        If a detector id or the initial filter is not valid.
    """

    valid_simulation_modes: ClassVar[tuple[int, ...]] = (1,)
    version: ClassVar[str] = __version__

    def __init__(
        self,
        repo: str | os.PathLike[str],
        *,
        clock: SimClock,
        image_model: ImageModel,
        raw_store: RawStore | None = None,
        detectors: list[int] | None = None,
        faults: SimFaults | None = None,
        initial_state: State = State.ENABLED,
        initial_filter: str | None = None,
        simulation_mode: int = 1,
        heartbeat_interval: float | None = None,
        instrument: str = "LSSTComCam",
    ) -> None:
        self.repo = Path(repo).absolute()
        self.clock = clock
        self.image_model = image_model
        self.instrument = instrument
        self.components = SimComponents(instrument)
        self.filter_bands = get_instrument(instrument).filter_bands
        self.raw_store = (
            raw_store
            if raw_store is not None
            else RawStore(self.repo / "sim_raws", prefix=self.components.image_name_prefix)
        )
        camera = Camera.instance(instrument)
        try:
            self.detectors = sorted(camera[d].id for d in (detectors or camera.science_detector_ids))
        except (KeyError, IndexError) as e:
            ids = camera.detector_ids
            raise ValueError(
                f"detectors={detectors!r}: use {instrument} detector ids {ids[0]}-{ids[-1]} ({e})"
            ) from None
        self.faults = faults if faults is not None else SimFaults()
        self.has_filter_changer = self.components.spectrograph is None
        self.spectrograph: Remote | None = None
        if self.has_filter_changer:
            fluxes = image_model.parameters.get("flat.flux")
            self.available_filters = [name for name in self.filter_bands if name in fluxes]
            if not self.available_filters:
                raise ValueError(
                    f"The sensor model {image_model.parameters.source} has no flat.flux for any "
                    f"{instrument} filter ({', '.join(self.filter_bands)})."
                )
            if initial_filter is None:
                r_filters = [name for name in self.available_filters if self.filter_bands[name] == "r"]
                initial_filter = (r_filters or self.available_filters)[0]
            if initial_filter not in self.available_filters:
                raise ValueError(
                    f"initial_filter={initial_filter!r} is not available; use one of {self.available_filters}"
                )
            self.current_filter = initial_filter
        else:
            if initial_filter is not None:
                raise ValueError(
                    f"initial_filter={initial_filter!r}: {self.components.camera} has no filter; "
                    f"{self.components.spectrograph} holds it."
                )
            self.available_filters = []
            self.current_filter = ""
        self.shutter_time = 1.0
        self.read_out_time = 2.0
        self.filter_change_time = 20.0
        self.images_written = 0
        self._busy = ""
        self._last_seq_num: dict[int, int] = {}
        self._write_queue: asyncio.Queue[_Image] = asyncio.Queue()
        self._writer_task: asyncio.Task[None] | None = None
        super().__init__(
            self.components.camera,
            initial_state=initial_state,
            simulation_mode=simulation_mode,
            heartbeat_interval=heartbeat_interval,
            extra_commands={"setFilter", "wakeFilterChanger"},
        )
        if self.components.spectrograph is not None:
            self.spectrograph = Remote(
                self.domain,
                self.components.spectrograph,
                readonly=True,
                include=["reportedFilterPosition", "reportedDisperserPosition"],
            )

    async def start(self) -> None:
        """Start the CSC and write the camera's initial state events."""
        await super().start()
        if self.spectrograph is not None:
            await self.spectrograph.start_task
        self._writer_task = asyncio.create_task(self._write_images())
        if self.has_filter_changer:
            await self.evt_availableFilters.set_write(
                filterNames=",".join(self.available_filters),
                filterTypes=",".join(self.filter_bands[name] for name in self.available_filters),
            )
            await self._write_end_set_filter()
            await self.evt_filterChangerDetailedState.set_write(
                substate=FilterChangerState.LOADED, timestampTransition=self.clock.tai()
            )
        await self._set_ccs_state(CcsCommandState.IDLE)
        await self._set_shutter_state(ShutterState.CLOSED)

    async def wait_images_written(self) -> None:
        """Wait until every image taken so far is written (and announced)."""
        await self._write_queue.join()

    # Commands

    async def do_takeImages(self, data: Any) -> None:
        """Take ``numImages`` images (see the module documentation).

        Raises
        ------
        ExpectedError
            If not ENABLED, busy, a field is invalid, or a fault is armed.
        """
        self.assert_enabled("takeImages")
        self._assert_idle("takeImages")
        self._check_fault("takeImages")
        if data.numImages < 1:
            raise ExpectedError(f"takeImages numImages={data.numImages} must be >= 1")
        if data.expTime < 0:
            raise ExpectedError(f"takeImages expTime={data.expTime} must be >= 0 s")
        key_values = parse_key_value_map(data.keyValueMap)
        image_type = key_values.get("imageType", "").upper()
        if image_type not in ImageType.__members__:
            raise ExpectedError(
                f"takeImages keyValueMap imageType={image_type or None!r} "
                f"must be one of {', '.join(ImageType)}"
            )
        detectors = self._parse_sensors(data.sensors)
        shutter = bool(data.shutter)
        exptime = float(data.expTime)
        per_image = exptime + self.read_out_time + (2 * self.shutter_time if shutter else 0.0)
        await self.cmd_takeImages.ack_in_progress(
            data, timeout=self.clock.real_seconds(per_image * data.numImages) + 10.0
        )
        self._busy = "takeImages"
        await self._set_ccs_state(CcsCommandState.BUSY)
        try:
            for index in range(data.numImages):
                await self._take_image(
                    index=index,
                    num_images=data.numImages,
                    image_type=image_type,
                    exptime=exptime,
                    shutter=shutter,
                    detectors=detectors,
                    key_values=key_values,
                    obs_note=data.obsNote,
                )
        finally:
            self._busy = ""
            await self._set_ccs_state(CcsCommandState.IDLE)

    async def do_setFilter(self, data: Any) -> None:
        """Install a filter: ``startSetFilter``, the change, ``endSetFilter``.

        Raises
        ------
        ExpectedError
            If not ENABLED, busy, the filter is not available, or a fault is armed.
        """
        if not self.has_filter_changer:
            raise ExpectedError(f"{self.components.camera} has no filter changer")
        self.assert_enabled("setFilter")
        self._assert_idle("setFilter")
        self._check_fault("setFilter")
        if data.name not in self.available_filters:
            raise ExpectedError(
                f"setFilter name={data.name!r} is not an available filter; "
                f"use one of {', '.join(self.available_filters)}"
            )
        change_time = 0.0 if data.name == self.current_filter else self.filter_change_time
        await self.cmd_setFilter.ack_in_progress(data, timeout=self.clock.real_seconds(change_time) + 10.0)
        self._busy = "setFilter"
        await self._set_ccs_state(CcsCommandState.BUSY)
        try:
            await self.evt_startSetFilter.set_write(
                filterName=data.name, filterType=self.filter_bands[data.name], force_output=True
            )
            if change_time > 0:
                await self._set_filter_changer_state(FilterChangerState.UNLOADING)
                await self.clock.sleep(change_time / 2)
                await self._set_filter_changer_state(FilterChangerState.LOADING)
                await self.clock.sleep(change_time / 2)
            self.current_filter = data.name
            await self._set_filter_changer_state(FilterChangerState.LOADED)
            await self._write_end_set_filter()
        finally:
            self._busy = ""
            await self._set_ccs_state(CcsCommandState.IDLE)

    async def _unsupported(self, name: str) -> None:
        self._check_fault(name)
        raise ExpectedError(f"{self.components.camera} simulator does not support the {name} command")

    async def do_alert(self, data: Any) -> None:
        """Not modelled: fails."""
        await self._unsupported("alert")

    async def do_clear(self, data: Any) -> None:
        """Not modelled: fails."""
        await self._unsupported("clear")

    async def do_disableCalibration(self, data: Any) -> None:
        """Not modelled: fails."""
        await self._unsupported("disableCalibration")

    async def do_discardRows(self, data: Any) -> None:
        """Not modelled: fails."""
        await self._unsupported("discardRows")

    async def do_enableCalibration(self, data: Any) -> None:
        """Not modelled: fails."""
        await self._unsupported("enableCalibration")

    async def do_endImage(self, data: Any) -> None:
        """Not modelled: fails."""
        await self._unsupported("endImage")

    async def do_generic(self, data: Any) -> None:
        """Not modelled: fails."""
        await self._unsupported("generic")

    async def do_initGuiders(self, data: Any) -> None:
        """Not modelled: fails."""
        await self._unsupported("initGuiders")

    async def do_initImage(self, data: Any) -> None:
        """Not modelled: fails."""
        await self._unsupported("initImage")

    async def do_play(self, data: Any) -> None:
        """Not modelled: fails."""
        await self._unsupported("play")

    async def do_playlist(self, data: Any) -> None:
        """Not modelled: fails."""
        await self._unsupported("playlist")

    async def do_startImage(self, data: Any) -> None:
        """Not modelled: fails."""
        await self._unsupported("startImage")

    async def do_wakeFilterChanger(self, data: Any) -> None:
        """Not modelled (MTCamera)."""
        await self._unsupported("wakeFilterChanger")

    async def do_stop(self, data: Any) -> None:
        """Not modelled: fails."""
        await self._unsupported("stop")

    # Internals

    def _assert_idle(self, command: str) -> None:
        if self._busy:
            raise ExpectedError(f"{command} refused: the camera is busy with {self._busy}")

    def _check_fault(self, command: str) -> None:
        if self.faults.take_camera_command_fault(command):
            raise ExpectedError(f"{command} failed: injected camera fault (SimFaults.fail_camera_command)")

    def _parse_sensors(self, sensors: str) -> list[int]:
        if not sensors.strip():
            return list(self.detectors)
        camera = Camera.instance(self.instrument)
        ids: list[int] = []
        for name in sensors.split(":"):
            name = name.strip()
            try:
                detector_id = camera[name].id
            except (KeyError, IndexError):
                detector_id = -1
            if detector_id not in self.detectors:
                configured = ":".join(camera[d].name for d in self.detectors)
                raise ExpectedError(
                    f"takeImages sensors: {name!r} is not a configured sensor; use names from {configured}"
                )
            ids.append(detector_id)
        return sorted(set(ids))

    async def _set_ccs_state(self, state: CcsCommandState) -> None:
        await self.evt_ccsCommandState.set_write(
            substate=state, timestampTransition=self.clock.tai(), force_output=True
        )

    async def _set_shutter_state(self, state: ShutterState) -> None:
        await self.evt_shutterDetailedState.set_write(
            substate=state, timestampTransition=self.clock.tai(), force_output=True
        )

    async def _set_filter_changer_state(self, state: FilterChangerState) -> None:
        await self.evt_filterChangerDetailedState.set_write(
            substate=state, timestampTransition=self.clock.tai(), force_output=True
        )

    async def _write_end_set_filter(self) -> None:
        await self.evt_endSetFilter.set_write(
            filterName=self.current_filter,
            filterType=self.filter_bands.get(self.current_filter, ""),
            filterSlot=self.available_filters.index(self.current_filter),
            filterPosition=0.0,
            force_output=True,
        )

    async def _next_seq_num(self, day_obs: int) -> int:
        if day_obs not in self._last_seq_num:
            registry_max, folder_max = await asyncio.to_thread(self._stored_max_seq_num, day_obs)
            self._last_seq_num[day_obs] = max(registry_max, folder_max)
            self.log.info(
                "day_obs %d: highest sequence number %d in the registry, %d in %s",
                day_obs,
                registry_max,
                folder_max,
                self.raw_store.root,
            )
        seq_num = self._last_seq_num[day_obs] + 1
        if seq_num > 99999:
            raise ExpectedError(f"day_obs {day_obs} has used all 99999 sequence numbers")
        self._last_seq_num[day_obs] = seq_num
        return seq_num

    def _stored_max_seq_num(self, day_obs: int) -> tuple[int, int]:
        """Highest seq_num of ``day_obs`` in the registry and in the raw folder (in a thread)."""
        with open_repository(self.repo, instrument=self.instrument) as butler:
            records = butler.registry.queryDimensionRecords(
                "exposure",
                where="instrument = instrument_name AND exposure.day_obs = day_obs_value",
                bind={"instrument_name": self.instrument, "day_obs_value": day_obs},
            )
            registry_max = max((int(record.seq_num) for record in records), default=0)
        return registry_max, self.raw_store.max_seq_num(day_obs)

    async def _take_image(
        self,
        *,
        index: int,
        num_images: int,
        image_type: str,
        exptime: float,
        shutter: bool,
        detectors: list[int],
        key_values: dict[str, str],
        obs_note: str,
    ) -> None:
        day_obs = self.clock.day_obs()
        seq_num = await self._next_seq_num(day_obs)
        obs_id = self.raw_store.obs_id(day_obs, seq_num)
        self.faults.register_image(obs_id)
        start_tai = self.clock.tai()
        start_utc = self.clock.utc()
        common = dict(
            additionalKeys=":".join(key_values),
            additionalValues=":".join(key_values.values()),
            imagesInSequence=num_images,
            imageName=obs_id,
            imageIndex=index + 1,
            imageSource=self.components.code,
            imageController="O",
            imageDate=f"{day_obs:08d}",
            imageNumber=seq_num,
            timestampAcquisitionStart=start_tai,
        )
        await self.evt_startIntegration.set_write(
            **common,
            exposureTime=exptime,
            mode="NORMAL",
            timeout=exptime + 2 * self.shutter_time + self.read_out_time + 10.0,
            force_output=True,
        )
        shutter_open_time = 0.0
        date_obs = start_utc
        if shutter:
            await self.evt_startShutterOpen.set_write(timestampTransition=self.clock.tai(), force_output=True)
            await self._set_shutter_state(ShutterState.OPENING)
            await self.clock.sleep(self.shutter_time)
            await self._set_shutter_state(ShutterState.OPEN)
            await self.evt_endShutterOpen.set_write(timestampTransition=self.clock.tai(), force_output=True)
            date_obs = self.clock.utc()
            await self.clock.sleep(exptime)
            shutter_open_time = exptime
            await self.evt_startShutterClose.set_write(
                timestampTransition=self.clock.tai(), force_output=True
            )
            await self._set_shutter_state(ShutterState.CLOSING)
            await self.clock.sleep(self.shutter_time)
            await self._set_shutter_state(ShutterState.CLOSED)
            await self.evt_endShutterClose.set_write(timestampTransition=self.clock.tai(), force_output=True)
        else:
            await self.clock.sleep(exptime)
        readout_tai = self.clock.tai()
        await self.evt_startReadout.set_write(
            **common, exposureTime=exptime, timestampStartOfReadout=readout_tai, force_output=True
        )
        await self.clock.sleep(self.read_out_time)
        await self.evt_endReadout.set_write(
            **common, requestedExposureTime=exptime, timestampEndOfReadout=self.clock.tai(), force_output=True
        )
        header = {_HEADER_KEYS[key]: value for key, value in key_values.items() if key in _HEADER_KEYS}
        header["OBSANNOT"] = obs_note
        self._write_queue.put_nowait(
            _Image(
                obs_id=obs_id,
                day_obs=day_obs,
                seq_num=seq_num,
                image_type=image_type,
                exposure_time=exptime,
                # The scheduled times, not the wall-clock measurement: event-loop jitter
                # scaled by a small time_scale would otherwise change the pixels (dark
                # current, cosmic rays) from one run to the next.
                dark_time=exptime + (2 * self.shutter_time if shutter else 0.0),
                shutter_open_time=shutter_open_time,
                physical_filter=self._physical_filter() if ImageType[image_type].shutter_open else None,
                date_obs=date_obs,
                detectors=detectors,
                header=header,
                common=common,
                damaged=self.faults.ingest_fails(obs_id),
            )
        )

    def _physical_filter(self) -> str:
        """The filter in the beam now: the camera's, or the spectrograph's ``filter~grating``."""
        if self.spectrograph is None:
            return self.current_filter
        filter_data = self.spectrograph.evt_reportedFilterPosition.get()
        grating_data = self.spectrograph.evt_reportedDisperserPosition.get()
        filter_name = filter_data.name if filter_data is not None and filter_data.name else "empty"
        grating = grating_data.name if grating_data is not None and grating_data.name else "empty"
        return f"{filter_name}~{grating}"

    async def _write_images(self) -> None:
        """Write queued images, one at a time, in a thread; announce each."""
        while True:
            image = await self._write_queue.get()
            try:
                await asyncio.to_thread(self._write_image_files, image)
                self.images_written += 1
                date_obs_tai = image.date_obs.timestamp() + TAI_MINUS_UTC
                await self.evt_endOfImageTelemetry.set_write(
                    **image.common,
                    exposureTime=image.exposure_time,
                    imageTag=image.obs_id,
                    timestampDateObs=date_obs_tai,
                    timestampDateEnd=date_obs_tai + image.exposure_time,
                    measuredShutterOpenTime=image.shutter_open_time,
                    darkTime=image.dark_time,
                    emulatedImage="",
                    force_output=True,
                )
            except Exception:
                self.log.exception("Writing the raws of %s failed; the image is lost", image.obs_id)
            finally:
                self._write_queue.task_done()

    def _write_image_files(self, image: _Image) -> None:
        """Draw and write the raw of each detector of an image (in a thread)."""
        camera = Camera.instance(self.instrument)
        date_obs = Time(image.date_obs.replace(tzinfo=None), scale="utc").tai
        for detector_id in image.detectors:
            raw = self.image_model.make_raw(
                detector_id,
                image_type=image.image_type,
                exposure_time=image.exposure_time,
                day_obs=image.day_obs,
                seq_num=image.seq_num,
                physical_filter=image.physical_filter,
                dark_time=image.dark_time,
                date_obs=date_obs,
                header=image.header,
            )
            path = self.raw_store.raw_path(image.obs_id, camera[detector_id].name)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_raw(path, raw, overwrite=True)
            if image.damaged:
                # A damaged transfer: the file ends early (SimFaults.fail_ingest).
                with open(path, "r+b") as stream:
                    stream.truncate(path.stat().st_size * 3 // 5)
            elif self.faults.processing_fails(image.obs_id, detector_id, image.detectors):
                # Ingests, but cannot be read for processing (SimFaults.fail_processing).
                self.faults.damage_for_processing(path)

    async def close_tasks(self) -> None:
        """Stop the image writer (an image being written in its thread finishes)."""
        await super().close_tasks()
        if self._writer_task is not None:
            self._writer_task.cancel()
