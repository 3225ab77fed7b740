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

"""Tell from its heartbeat events whether a component's process still runs."""

__all__ = ["HeartbeatMonitor"]

import asyncio
from typing import Any

from .base import current_tai
from .domain import Domain
from .lifecycle_mixin import LifecycleMixin
from .remote import Remote


class HeartbeatMonitor(LifecycleMixin):
    """Watch the ``heartbeat`` event of one component (a CSC or a script).

    Parameters
    ----------
    domain : `Domain`
        The Domain.
    name : `str`
        SAL component name, e.g. "Script" or "CCCamera".
    index : `int` or `None`, optional
        SAL index of the component.
    interval : `float`, optional
        Heartbeat interval (seconds) of the component: 1 s for a CSC, 5 s
        for a script.
    max_missed : `int`, optional
        Number of intervals without a heartbeat after which the component is
        considered stopped.

    Notes
    -----
    The age of the last heartbeat is measured from its ``private_sndStamp``,
    so a heartbeat received as history from a process that has since
    stopped is already old. Use ``async with`` or `close`.
    """

    def __init__(
        self,
        domain: Domain,
        name: str,
        index: int | None = None,
        *,
        interval: float = 1.0,
        max_missed: int = 3,
    ) -> None:
        if not interval > 0:
            raise ValueError(f"interval={interval} must be > 0 (seconds between heartbeats)")
        if max_missed < 1:
            raise ValueError(f"max_missed={max_missed} must be >= 1")
        self.interval = interval
        self.max_missed = max_missed
        self.last_heartbeat: float | None = None
        """TAI time (unix seconds) the last heartbeat was sent; None if none seen."""
        self._beat = asyncio.Event()
        self.remote = Remote(domain, name, index, readonly=True, include=["heartbeat"])
        self.remote.evt_heartbeat.callback = self._on_heartbeat
        self.start_task = self.remote.start_task

    @property
    def timeout(self) -> float:
        """Time (seconds) without a heartbeat after which the component is stopped."""
        return self.interval * self.max_missed

    @property
    def age(self) -> float | None:
        """Seconds since the last heartbeat was sent; None if none seen."""
        if self.last_heartbeat is None:
            return None
        return max(0.0, current_tai() - self.last_heartbeat)

    @property
    def alive(self) -> bool:
        """Has a heartbeat been sent within `timeout`?"""
        age = self.age
        return age is not None and age <= self.timeout

    async def wait_beating(self, timeout: float) -> None:
        """Wait for a recent heartbeat.

        Raises
        ------
        TimeoutError
            If none arrives in ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            while not self.alive:
                self._beat.clear()
                await self._beat.wait()

    async def wait_stopped(self, timeout: float | None = None) -> float:
        """Wait until the component stops beating (after beating at least once).

        Parameters
        ----------
        timeout : `float` or `None`, optional
            Time limit (seconds); None for no limit.

        Returns
        -------
        age : `float`
            Seconds since the last heartbeat.

        Raises
        ------
        TimeoutError
            If the component still beats after ``timeout``.
        """
        async with asyncio.timeout(timeout):
            while True:
                age = self.age
                if age is not None and age > self.timeout:
                    return age
                delay = self.timeout if age is None else self.timeout - age
                self._beat.clear()
                try:
                    await asyncio.wait_for(self._beat.wait(), max(delay, 0.0) + 0.01)
                except TimeoutError:
                    pass

    def _on_heartbeat(self, data: Any) -> None:
        if self.last_heartbeat is None or data.private_sndStamp > self.last_heartbeat:
            self.last_heartbeat = data.private_sndStamp
        self._beat.set()

    async def close(self) -> None:
        """Stop watching. Idempotent."""
        await self.remote.close()
