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

"""BaseCamera: take images with a camera CSC, with the ts_observatory_control API.

Behaviour kept from ts_observatory_control's ``BaseCamera``: the method
names, arguments and checks (`take_imgtype`), the ``takeImages`` payload
(`CameraExposure.get_key_value_map`, ``obsNote``), the command time limit
``(exptime + read_out_time) * n_snaps + long_long_timeout``, and exposure IDs
from ``startIntegration.imageName`` (``CC_O_20241024_000123`` →
``2024102400123``).

What is done differently: every wait is on an event the camera was caused
to write, with a limit from the exposure times, and a missing event is an
error that names it, never a 30 s pause followed by "continuing":

- readiness: the last ``startIntegration`` and ``endReadout`` are read from
  the remote's history (no wait); if an image is still being read out, wait
  for its ``endReadout`` for its exposure time + readout + shutter +
  `fast_timeout`; a camera that never took an image is ready;
- ``ccsCommandState``: read from history; if BUSY, wait for IDLE up to
  `long_long_timeout`; a camera that never reported it is assumed IDLE;
- after ``takeImages`` completes, one ``startIntegration`` and one
  ``endReadout`` per image of the command (events flushed just before the
  command, so only this command's count) must be there within
  `fast_timeout`.

The OODS of the camera (the component named ``*OODS``) is listened to
from the start: its ``imageInOODS`` events are recorded per image and
detector, so `wait_for_oods` awaits exactly the exposures and detectors
taken, and a failed or missing ingest is an error naming it. The time limit
of that wait holds on a busy machine: a file counts as missing only when
the limit has passed both since its image was read out and since the OODS
last reported any ingest.

A subclass declares what differs, as class attributes: its components
(`camera_component`, `header_service_component`, `oods_component`, and
`setup_components` with the topics each is read for, e.g. LATISS's
ATSpectrograph), the keywords of its instrument setup
(`setup_attributes`), `image_name_prefix` and `detector_names`; from them
this class builds the group's `remote_topics` (the camera's image and
readout events plus `camera_setup_topics`, the header service's
``largeFileObjectAvailable``, the OODS's ``imageInOODS``), its components
list and the `camera` remote, so a subclass's constructor only passes its
arguments on.

Images this class did not command are never counted, never waited for:
an image whose ``startIntegration`` carries another group ID, or no group
ID, or whose name is not of this camera (another client's, or another
observatory's on the same network) is skipped and reported once; readiness
waits only for the readout of an image this class commanded (another
client's image in progress shows in ``ccsCommandState``, which is waited
for).
"""

__all__ = ["BaseCamera"]

import abc
import asyncio
import dataclasses
import enum
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, ClassVar

import astropy.time

from ..sal.base import AckError
from ..sal.domain import Domain
from ..sal.remote import Remote
from .camera_exposure import CameraExposure
from .remote_group import RemoteGroup


@dataclasses.dataclass(frozen=True)
class _ImageTags:
    """The pass-through arguments of the ``take_*`` methods, as `take_imgtype` documents them."""

    group_id: str | None
    test_type: str | None
    reason: str | None
    program: str | None
    sensors: str | None
    note: str | None
    checkpoint: Callable[[str], Awaitable[Any]] | None


class CameraSubstate(enum.IntEnum):
    """``ccsCommandState.substate``."""

    IDLE = 1
    BUSY = 2


class BaseCamera(RemoteGroup, metaclass=abc.ABCMeta):
    """Base class of camera groups.

    Parameters
    ----------
    components : `list` [`str`], optional
        SAL components of the group, the camera first; None: the class's
        (`camera_component`, `setup_components`, `header_service_component`,
        `oods_component`).
    instrument_setup_attributes : `list` [`str`], optional
        Keyword arguments `setup_instrument` accepts (e.g. ["filter"]);
        None: the class's `setup_attributes`.
    domain : `Domain`, optional
        Domain; a new one if None.
    log : `logging.Logger`, optional
        Logger.
    intended_usage : `int`, optional
        Accepted for compatibility; unused.

    Attributes
    ----------
    read_out_time : `float`
        Readout time (2.0 s).
    shutter_time : `float`
        Time to open or close the shutter (1.0 s).
    min_exptime : `float`
        Shortest open-shutter exposure time (0.1 s).
    instrument_setup_attributes : `set` [`str`]
        Accepted `setup_instrument` keywords.
    cmd_lock : `asyncio.Lock`
        Held while taking images.
    oods_status : `dict` [`str`, `dict` [`str`, `tuple` [`int`, `str`]]]
        ``imageInOODS`` seen since start: image name → detector name
        ("R22_S11") → (statusCode, description).
    """

    image_name_prefix: ClassVar[str] = "CC_O"
    """Prefix of the camera's image names (``CC_O_20241024_000123``)."""

    camera_component: ClassVar[str] = ""
    """The camera CSC (e.g. "CCCamera"); empty in a class that names its components itself."""

    header_service_component: ClassVar[str] = ""
    """The camera's header service CSC (e.g. "CCHeaderService")."""

    oods_component: ClassVar[str] = ""
    """The camera's OODS CSC (e.g. "CCOODS")."""

    setup_components: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    """Other CSCs of the instrument setup, with the topics read from each (LATISS: ATSpectrograph)."""

    setup_attributes: ClassVar[tuple[str, ...]] = ()
    """Keywords `setup_instrument` accepts (e.g. ("filter",))."""

    camera_topics: ClassVar[tuple[str, ...]] = (
        "startIntegration",
        "endReadout",
        "endOfImageTelemetry",
        "ccsCommandState",
    )
    """Events of the camera CSC every camera group reads (images, readouts, command state)."""

    camera_setup_topics: ClassVar[tuple[str, ...]] = ()
    """Further events of the camera CSC the instrument setup reads (the filter's, `CameraFilterMixin`)."""

    _detector_names: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Build a subclass's `remote_topics` from its declared components."""
        super().__init_subclass__(**kwargs)
        if cls.camera_component and "remote_topics" not in vars(cls):
            cls.remote_topics = {
                cls.camera_component: (*cls.camera_topics, *cls.camera_setup_topics),
                **cls.setup_components,
                cls.header_service_component: ("largeFileObjectAvailable",),
                cls.oods_component: ("imageInOODS",),
            }

    @classmethod
    def declared_components(cls) -> list[str]:
        """The group's components as the class declares them: the camera first, the OODS last."""
        return [
            cls.camera_component,
            *cls.setup_components,
            cls.header_service_component,
            cls.oods_component,
        ]

    def __init__(
        self,
        components: list[str] | None = None,
        instrument_setup_attributes: Iterable[str] | None = None,
        domain: Domain | None = None,
        log: logging.Logger | None = None,
        intended_usage: int | None = None,
    ) -> None:
        if components is None:
            if not self.camera_component:
                raise TypeError(f"{type(self).__name__} declares no camera_component: give components")
            components = self.declared_components()
        if instrument_setup_attributes is None:
            instrument_setup_attributes = self.setup_attributes
        super().__init__(components=components, domain=domain, log=log, intended_usage=intended_usage)
        self.read_out_time = 2.0
        self.shutter_time = 1.0
        self.min_exptime = 0.1
        self.max_n_snaps_warning = 2
        self.instrument_setup_attributes = set(instrument_setup_attributes)
        self.cmd_lock = asyncio.Lock()
        # Group IDs this class sent, names of the images it counted, and of the others reported.
        self._own_groups: set[str] = set()
        self._own_images: set[str] = set()
        self._reported_foreign: set[str] = set()
        # Event-loop time at which each image this class counted was read out (its endReadout).
        self.readout_times: dict[str, float] = {}
        self.oods_status: dict[str, dict[str, tuple[int, str]]] = {}
        self._oods_changed = asyncio.Event()
        # Event-loop time of the last imageInOODS (of any image): the OODS's last sign of progress.
        self._last_oods_event: float | None = None
        oods = [name for name in components if name.split(":")[0].endswith("OODS")]
        if oods:
            getattr(self.rem, self._attr(oods[0])).evt_imageInOODS.callback = self._image_in_oods

    @classmethod
    def detector_names(cls) -> tuple[str, ...]:
        """Detector names by id (e.g. ComCam: R22_S00 (0) ... R22_S22 (8))."""
        return cls._detector_names

    def parse_sensors(self, sensors: str | None) -> str:
        """Check colon-separated sensor names ("R22_S11:R22_S00"); "" for all.

        Raises
        ------
        RuntimeError
            If a name is not one of the camera's sensors.
        """
        if sensors is None or not sensors.strip():
            return ""
        names = [name.strip() for name in sensors.split(":")]
        known = set(self.detector_names())
        unknown = [name for name in names if name not in known]
        if unknown:
            names_text = ", ".join(self.detector_names()[:3]) + ", ..."
            raise RuntimeError(
                f"sensors {unknown} are not {type(self).__name__} sensors; use names such as {names_text}"
            )
        return ":".join(names)

    @classmethod
    def get_image_types(cls) -> list[str]:
        """Image types `take_imgtype` accepts (the SAL ``imageType`` values).

        Plain strings, as ts_observatory_control gives them: this layer
        imports only the SAL runtime. The one definition of image types for
        the simulator, the pipelines and the scripts is
        ``lsst.ts.calibrations.repo.image_type.ImageType``, whose members
        are these strings (a test keeps the two equal).
        """
        return [
            "BIAS",
            "DARK",
            "FLAT",
            "OBJECT",
            "ENGTEST",
            "ACQ",
            "CWFS",
            "FOCUS",
            "STUTTERED",
            "INDOME",
            "CBP",
            "SFLAT",
            "DFLAT",
        ]

    @property
    def camera(self) -> Remote:
        """The camera's remote (the group's first component)."""
        return getattr(self.rem, self.components_attr[0])

    @abc.abstractmethod
    async def setup_instrument(self, **kwargs: Any) -> None:
        """Set up the instrument for the next images (e.g. the filter)."""
        raise NotImplementedError()

    @abc.abstractmethod
    async def get_available_instrument_setup(self) -> Any:
        """Return the available instrument setups (e.g. the filters)."""
        raise NotImplementedError()

    async def take_bias(
        self,
        nbias: int,
        group_id: str | None = None,
        test_type: str | None = None,
        reason: str | None = None,
        program: str | None = None,
        sensors: str | None = None,
        note: str | None = None,
        checkpoint: Callable[[str], Awaitable[Any]] | None = None,
    ) -> list[int]:
        """Take ``nbias`` bias images; return their exposure IDs.

        The other parameters are `take_imgtype`'s.
        """
        tags = _ImageTags(group_id, test_type, reason, program, sensors, note, checkpoint)
        return await self._take("BIAS", 0.0, nbias, tags)

    async def take_darks(
        self,
        exptime: float,
        ndarks: int,
        group_id: str | None = None,
        test_type: str | None = None,
        reason: str | None = None,
        program: str | None = None,
        sensors: str | None = None,
        note: str | None = None,
        checkpoint: Callable[[str], Awaitable[Any]] | None = None,
    ) -> list[int]:
        """Take ``ndarks`` dark images of ``exptime`` s; return their exposure IDs.

        The other parameters are `take_imgtype`'s.
        """
        tags = _ImageTags(group_id, test_type, reason, program, sensors, note, checkpoint)
        return await self._take("DARK", exptime, ndarks, tags)

    async def take_flats(
        self,
        exptime: float,
        nflats: int,
        group_id: str | None = None,
        test_type: str | None = None,
        reason: str | None = None,
        program: str | None = None,
        sensors: str | None = None,
        note: str | None = None,
        checkpoint: Callable[[str], Awaitable[Any]] | None = None,
        **kwargs: Any,
    ) -> list[int]:
        """Take ``nflats`` flats of ``exptime`` s, after `setup_instrument` (``**kwargs``).

        The other parameters are `take_imgtype`'s.
        """
        tags = _ImageTags(group_id, test_type, reason, program, sensors, note, checkpoint)
        return await self._take("FLAT", exptime, nflats, tags, **kwargs)

    async def take_imgtype(
        self,
        imgtype: str,
        exptime: float,
        n: int,
        n_snaps: int = 1,
        n_shift: int | None = None,
        row_shift: int | None = None,
        group_id: str | None = None,
        test_type: str | None = None,
        reason: str | None = None,
        program: str | None = None,
        sensors: str | None = None,
        note: str | None = None,
        checkpoint: Callable[[str], Awaitable[Any]] | None = None,
        **kwargs: Any,
    ) -> list[int]:
        """Take ``n`` times ``n_snaps`` images of a type; return their exposure IDs.

        Parameters
        ----------
        imgtype : `str`
            Image type, one of `get_image_types`.
        exptime : `float`
            Exposure time (s); forced to 0 for BIAS.
        n : `int`
            Number of ``takeImages`` commands.
        n_snaps : `int`, optional
            Images per command.
        n_shift, row_shift : `int`, optional
            Stuttered images only.
        group_id : `str`, optional
            Group ID; `next_group_id` (the current TAI time) if None.
        test_type, reason, program : `str`, optional
            Header tags.
        sensors : `str`, optional
            Colon-separated sensor names; all if None.
        note : `str`, optional
            Observer note (``obsNote``).
        checkpoint : callable, optional
            Awaited with a description before the images are taken.
        **kwargs
            `setup_instrument` arguments (e.g. ``filter``), applied for all
            types but BIAS and DARK.

        Returns
        -------
        exposure_ids : `list` [`int`]
            One per image, in order.

        Raises
        ------
        RuntimeError
            If a keyword or the image type is unknown, an open-shutter
            exposure time is below `min_exptime`, or the camera fails or
            does not write an event it must (the message says which).
        """
        tags = _ImageTags(group_id, test_type, reason, program, sensors, note, checkpoint)
        return await self._take(imgtype, exptime, n, tags, n_snaps, n_shift, row_shift, **kwargs)

    async def _take(
        self,
        imgtype: str,
        exptime: float,
        n: int,
        tags: _ImageTags,
        n_snaps: int = 1,
        n_shift: int | None = None,
        row_shift: int | None = None,
        **kwargs: Any,
    ) -> list[int]:
        """What `take_imgtype` and `take_bias`/`take_darks`/`take_flats` do (see `take_imgtype`)."""
        self.check_kwargs(**kwargs)
        if imgtype not in self.get_image_types():
            raise RuntimeError(f"Invalid imgtype:{imgtype}. Must be one of {self.get_image_types()!r}")
        group_id = self.next_group_id() if tags.group_id is None else tags.group_id
        if imgtype not in ("BIAS", "DARK"):
            await self.setup_instrument(**kwargs)
        if tags.checkpoint is not None:
            await tags.checkpoint(f"Expose {n} {imgtype}")
        camera_exposure = CameraExposure(
            exp_time=exptime if imgtype != "BIAS" else 0.0,
            shutter=imgtype not in ("BIAS", "DARK"),
            image_type=imgtype,
            group_id=group_id,
            n=n,
            n_snaps=n_snaps,
            n_shift=n_shift,
            row_shift=row_shift,
            test_type=tags.test_type,
            reason=tags.reason,
            program=tags.program,
            sensors=tags.sensors,
            note=tags.note,
        )
        return await self.expose(camera_exposure)

    def check_kwargs(self, **kwargs: Any) -> None:
        """Check that each keyword is an instrument setup attribute.

        Raises
        ------
        RuntimeError
            If one is not.
        """
        for key in kwargs:
            if key not in self.instrument_setup_attributes:
                raise RuntimeError(
                    f"Invalid argument {key}. Must be one of {sorted(self.instrument_setup_attributes)}."
                )

    async def expose(self, camera_exposure: CameraExposure) -> list[int]:
        """Take the images of a `CameraExposure`; return their exposure IDs.

        Raises
        ------
        RuntimeError
            If an open-shutter exposure time is below `min_exptime`, or
            taking an image fails (see the module documentation).
        """
        async with self.cmd_lock:
            if camera_exposure.image_type == "BIAS" and camera_exposure.exp_time > 0.0:
                self.log.warning("Image type is BIAS, ignoring exptime.")
                camera_exposure.exp_time = 0.0
            elif camera_exposure.shutter and camera_exposure.exp_time < self.min_exptime:
                raise RuntimeError(
                    f"Minimum allowed open-shutter exposure time is {self.min_exptime}. "
                    f"Got {camera_exposure.exp_time}."
                )
            if camera_exposure.n_snaps > self.max_n_snaps_warning:
                self.log.warning(
                    "n_snaps=%d is more than the recommended %d",
                    camera_exposure.n_snaps,
                    self.max_n_snaps_warning,
                )
            exposure_ids: list[int] = []
            for _ in range(camera_exposure.n):
                exposure_ids += await self._take_images(camera_exposure)
            return exposure_ids

    async def _take_images(self, camera_exposure: CameraExposure) -> list[int]:
        """Send one ``takeImages`` and return the exposure IDs of its images."""
        n_images = camera_exposure.n_snaps
        camera = self.camera
        camera.cmd_takeImages.set(
            numImages=n_images,
            expTime=float(camera_exposure.exp_time),
            shutter=bool(camera_exposure.shutter),
            keyValueMap=camera_exposure.get_key_value_map(),
            sensors=self.parse_sensors(camera_exposure.sensors),
            obsNote="" if camera_exposure.note is None else camera_exposure.note,
        )
        timeout = (float(camera_exposure.exp_time) + self.read_out_time) * n_images + self.long_long_timeout
        await self.wait_for_camera_readiness()
        await self.wait_for_camera_state(CameraSubstate.IDLE)
        camera.evt_startIntegration.flush()
        camera.evt_endReadout.flush()
        self._own_groups.add(camera_exposure.group_id)
        what = f"{n_images} {camera_exposure.image_type} image(s) of {camera_exposure.exp_time} s"
        try:
            await camera.cmd_takeImages.start(timeout=timeout)
        except AckError as e:
            result = e.ackcmd.result if e.ackcmd is not None else str(e)
            if isinstance(e, TimeoutError):
                raise RuntimeError(
                    f"{camera.salinfo.name}.takeImages of {what} did not complete "
                    f"within {timeout} s ({result})"
                ) from e
            raise RuntimeError(f"{camera.salinfo.name}.takeImages of {what} failed: {result}") from e
        image_names = await self._image_names(camera_exposure.group_id, n_images, what)
        await self._check_end_readouts(image_names, what)
        return [self.exposure_id_from_image_name(name) for name in image_names]

    async def _image_names(self, group_id: str, n_images: int, what: str) -> list[str]:
        """Names of the images the command just taken started (from ``startIntegration``)."""
        names: list[str] = []
        while len(names) < n_images:
            try:
                data = await self.camera.evt_startIntegration.next(flush=False, timeout=self.fast_timeout)
            except TimeoutError:
                raise RuntimeError(
                    f"takeImages of {what} completed, but the camera wrote startIntegration for only "
                    f"{len(names)} of them within {self.fast_timeout} s (seen: {names or 'none'})"
                ) from None
            why = self._foreign_reason(data, group_id)
            if why:
                self._report_foreign(data.imageName, why)
                continue
            names.append(data.imageName)
            self._own_images.add(data.imageName)
        return names

    def _foreign_reason(self, data: Any, group_id: str) -> str:
        """Why a ``startIntegration`` is not of the images just commanded ("" if it is)."""
        try:
            self.exposure_id_from_image_name(data.imageName)
        except RuntimeError:
            return "its name is not of the form CC_O_YYYYMMDD_NNNNNN"
        if data.imageName in self._own_images:
            return "it was counted already"
        if "groupId" not in data.additionalKeys.split(":"):
            return f"it carries no group ID (expected {group_id})"
        # additionalValues joins the values with ":", which group IDs (ISO times) also contain.
        if group_id not in data.additionalValues:
            return f"it is not of group {group_id}"
        return ""

    def _is_own(self, data: Any) -> bool:
        """Is a ``startIntegration`` of an image this class commanded (of a group ID it sent)?"""
        if data.imageName in self._own_images:
            return True
        if "groupId" not in data.additionalKeys.split(":"):
            return False
        return any(group_id in data.additionalValues for group_id in self._own_groups)

    def _report_foreign(self, image_name: str, why: str) -> None:
        """Log, once per image, that an image not commanded here is skipped."""
        if image_name in self._reported_foreign:
            return
        self._reported_foreign.add(image_name)
        self.log.warning("Skipping %s: not an image this script commanded (%s)", image_name, why)

    async def _check_end_readouts(self, image_names: list[str], what: str) -> None:
        """Check that each image was read out (``endReadout`` written)."""
        missing = set(image_names)
        while missing:
            try:
                data = await self.camera.evt_endReadout.next(flush=False, timeout=self.fast_timeout)
            except TimeoutError:
                raise RuntimeError(
                    f"takeImages of {what} completed, but the camera wrote no endReadout for "
                    f"{', '.join(sorted(missing))} within {self.fast_timeout} s"
                ) from None
            if data.imageName in missing:
                missing.discard(data.imageName)
                self.readout_times[data.imageName] = asyncio.get_running_loop().time()

    async def wait_for_camera_readiness(self) -> None:
        """Wait until the camera has read out the last image it started.

        Raises
        ------
        RuntimeError
            If that image's ``endReadout`` does not arrive within its
            exposure time + readout + shutter time + `fast_timeout`.
        """
        camera = self.camera
        await camera.start_task
        last_start = camera.evt_startIntegration.get()
        last_end = camera.evt_endReadout.get()
        if last_start is None or (last_end is not None and last_end.imageName == last_start.imageName):
            return
        if not self._is_own(last_start):
            # Another client's image (or another observatory's): its readout is not ours to wait
            # for; a camera busy with it says so in ccsCommandState.
            self._report_foreign(last_start.imageName, "another client's image, still being read out")
            return
        camera.evt_endReadout.flush()
        timeout = last_start.exposureTime + self.read_out_time + 2 * self.shutter_time + self.fast_timeout
        self.log.info("Waiting for the readout of %s (up to %.1f s)", last_start.imageName, timeout)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    data = await camera.evt_endReadout.next(flush=False)
                    if data.imageName == last_start.imageName:
                        return
        except TimeoutError:
            raise RuntimeError(
                f"Camera not ready: image {last_start.imageName} started integrating but no endReadout "
                f"for it arrived within {timeout:.1f} s"
            ) from None

    async def wait_for_camera_state(self, substate: CameraSubstate) -> None:
        """Wait until ``ccsCommandState`` is ``substate``.

        A camera that never reported its command state is assumed to be in it.

        Raises
        ------
        RuntimeError
            If the state is not reached within `long_long_timeout`.
        """
        camera = self.camera
        await camera.start_task
        data = camera.evt_ccsCommandState.get()
        if data is None:
            self.log.warning(
                "%s never reported ccsCommandState; assuming %s", camera.salinfo.name, substate.name
            )
            return
        if data.substate == substate:
            return
        camera.evt_ccsCommandState.flush()
        try:
            async with asyncio.timeout(self.long_long_timeout):
                while data.substate != substate:
                    data = await camera.evt_ccsCommandState.next(flush=False)
        except TimeoutError:
            raise RuntimeError(
                f"{camera.salinfo.name} ccsCommandState is still {CameraSubstate(data.substate).name} after "
                f"{self.long_long_timeout} s; waited for {substate.name}"
            ) from None

    @staticmethod
    def exposure_id_from_image_name(image_name: str) -> int:
        """Exposure ID of an image name: ``CC_O_20241024_000123`` → ``2024102400123``.

        Raises
        ------
        RuntimeError
            If the name is not ``<camera>_<controller>_YYYYMMDD_NNNNNN``.
        """
        parts = image_name.split("_")
        if len(parts) != 4 or not (len(parts[2]) == 8 and parts[2].isdigit() and parts[3].isdigit()):
            raise RuntimeError(f"image name {image_name!r} is not of the form CC_O_YYYYMMDD_NNNNNN")
        return int(parts[2] + parts[3][1:])

    @staticmethod
    def image_name_from_exposure_id(exposure_id: int, prefix: str = "CC_O") -> str:
        """Image name of an exposure ID: ``2024102400123`` → ``CC_O_20241024_000123``.

        The inverse of `exposure_id_from_image_name`, on the text of the SAL
        image name (this layer cannot import ``repo.exposure_id``, the
        formula's home; a test keeps them in agreement).
        """
        day_obs, seq_num = divmod(int(exposure_id), 100000)
        return f"{prefix}_{day_obs:08d}_{seq_num:06d}"

    @staticmethod
    def next_group_id() -> str:
        """The current TAI time in ISO format (e.g. "2020-01-17T22:59:05.721"), a new group ID."""
        return str(astropy.time.Time.now().tai.isot)

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
            Detector ids or names read out; every detector of `detector_names` if None.
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
        all_names = self.detector_names()
        names = [
            all_names[d] if isinstance(d, int) else str(d)
            for d in (detectors if detectors is not None else range(len(all_names)))
        ]
        wanted = {
            self.image_name_from_exposure_id(e, self.image_name_prefix): set(names) for e in exposure_ids
        }
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
