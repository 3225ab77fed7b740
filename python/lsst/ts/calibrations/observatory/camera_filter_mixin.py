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

"""CameraFilterMixin: the filter of a camera that changes it itself (ComCam, LSSTCam).

The camera CSC (CCCamera, MTCamera) has ``setFilter`` and writes
``startSetFilter``/``endSetFilter`` and ``availableFilters``. The mixin gives
the ts_observatory_control methods on them: `setup_instrument` with
``filter=``, `setup_filter`, `get_current_filter`, `get_available_filters`
and `get_available_instrument_setup`. Mix it in before `BaseCamera`.
"""

__all__ = ["CameraFilterMixin"]

import logging
import typing
from typing import Any

from ..sal.base import AckError
from ..sal.remote import Remote


class CameraFilterMixin:
    """Filter setup through the camera CSC's ``setFilter`` (mix in before `BaseCamera`).

    Attributes
    ----------
    filter_change_timeout : `float`
        Time limit (s) of a filter change (60 s).
    """

    filter_change_timeout: float = 60.0

    setup_attributes: typing.ClassVar[tuple[str, ...]] = ("filter",)
    """Keywords `setup_instrument` accepts: the filter."""

    camera_setup_topics: typing.ClassVar[tuple[str, ...]] = (
        "startSetFilter",
        "endSetFilter",
        "availableFilters",
    )
    """The camera's filter events, read besides its image events."""

    # Provided by BaseCamera.
    camera: Remote
    log: logging.Logger
    fast_timeout: float

    if typing.TYPE_CHECKING:

        def check_kwargs(self, **kwargs: Any) -> None:
            """Refuse unknown setup_instrument keywords (BaseCamera's)."""

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
            Filter name, e.g. "r_03" (ComCam), "r_57" (LSSTCam).

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
            raise RuntimeError(
                f"{self.camera.salinfo.name}.setFilter(name={filter!r}) failed: {result}"
            ) from e
        installed = await self.get_current_filter()
        if installed != filter:
            raise RuntimeError(
                f"{self.camera.salinfo.name}.setFilter(name={filter!r}) completed but endSetFilter "
                f"says {installed!r}"
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
            raise RuntimeError(
                f"{self.camera.salinfo.name} wrote no endSetFilter within {self.fast_timeout} s"
            ) from None
        return str(data.filterName)

    def filter_in_place(self) -> str | None:
        """The filter the camera last reported installed (``endSetFilter.filterName``), without waiting.

        Returns
        -------
        name : `str` or `None`
            The filter; None if the camera has not reported one (a camera
            that is not running leaves it unknown).
        """
        data = self.camera.evt_endSetFilter.get()
        if data is None or not data.filterName:
            return None
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
            raise RuntimeError(
                f"{self.camera.salinfo.name} wrote no availableFilters within {self.fast_timeout} s"
            ) from None
        return [name for name in str(data.filterNames).split(",") if name]

    async def get_available_instrument_setup(self) -> list[str]:
        """The available filters."""
        return await self.get_available_filters()
