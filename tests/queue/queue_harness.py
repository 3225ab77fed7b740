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

"""A ScriptQueue under test and a Remote commanding it, recording its events."""

import asyncio
import pathlib
import typing
from collections.abc import Callable

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations.queue import Location, ScriptQueue
from lsst.ts.calibrations.sal import Remote

"""Time limit (seconds) of every wait in these tests."""

DATA_DIR = pathlib.Path(__file__).parents[1] / "data" / "queue_scripts"
STANDARD_ROOT = DATA_DIR / "standard"
EXTERNAL_ROOT = DATA_DIR / "external"


class QueueHarness:
    """A ScriptQueue and a Remote that commands it.

    Parameters
    ----------
    csc : `ScriptQueue`
        The queue.
    remote : `Remote`
        A ``ScriptQueue`` Remote of the same index.
    """

    def __init__(self, csc: ScriptQueue, remote: Remote) -> None:
        self.csc = csc
        self.remote = remote
        self.scripts: dict[int, list[typing.Any]] = {}
        self.queues: list[typing.Any] = []
        self.next_visits: list[typing.Any] = []
        self.next_visits_canceled: list[typing.Any] = []
        self._changed = asyncio.Event()
        remote.evt_script.callback = self._on_script
        remote.evt_queue.callback = self._record(self.queues)
        remote.evt_nextVisit.callback = self._record(self.next_visits)
        remote.evt_nextVisitCanceled.callback = self._record(self.next_visits_canceled)
        # Setting a callback drops what was queued: keep the queue event read as history.
        current = remote.evt_queue.get()
        if current is not None:
            self.queues.append(current)

    def _on_script(self, data: typing.Any) -> None:
        self.scripts.setdefault(data.scriptSalIndex, []).append(data)
        self._changed.set()

    def _record(self, into: list[typing.Any]) -> Callable[[typing.Any], None]:
        def callback(data: typing.Any) -> None:
            into.append(data)
            self._changed.set()

        return callback

    async def wait_for(self, predicate: Callable[[], typing.Any], what: str) -> typing.Any:
        """Wait until ``predicate()`` is true (checked after each event); return its value."""
        try:
            async with asyncio.timeout(STD_TIMEOUT):
                while not (value := predicate()):
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}") from None
        return value

    def last_script(self, index: int) -> typing.Any:
        """The last ``script`` event of a script, or None."""
        events = self.scripts.get(index)
        return events[-1] if events else None

    async def wait_process_state(self, index: int, *states: int) -> typing.Any:
        """Wait until a script's ``processState`` is one of ``states``; return the event."""

        def reached() -> typing.Any:
            data = self.last_script(index)
            return data if data is not None and data.processState in states else None

        return await self.wait_for(reached, f"script {index} in process state {states}")

    async def wait_queue(self, predicate: Callable[[typing.Any], bool], what: str) -> typing.Any:
        """Wait until the last ``queue`` event satisfies ``predicate``; return it."""
        return await self.wait_for(
            lambda: self.queues[-1] if self.queues and predicate(self.queues[-1]) else None, what
        )

    @staticmethod
    def waiting(data: typing.Any) -> list[int]:
        """The waiting scripts of a ``queue`` event."""
        return list(data.salIndices[: data.length])

    @staticmethod
    def past(data: typing.Any) -> list[int]:
        """The finished scripts of a ``queue`` event, most recent first."""
        return list(data.pastSalIndices[: data.pastLength])

    async def enable(self) -> None:
        """STANDBY → DISABLED → ENABLED."""
        await self.remote.cmd_start.start(timeout=STD_TIMEOUT)
        await self.remote.cmd_enable.start(timeout=STD_TIMEOUT)

    async def add(
        self, path: str = "script1.py", config: str = "", *, is_standard: bool = True, **kwargs: typing.Any
    ) -> int:
        """Add a script (LAST unless told); return its SAL index."""
        kwargs.setdefault("location", Location.LAST)
        ackcmd = await self.remote.cmd_add.set_start(
            isStandard=is_standard, path=path, config=config, timeout=STD_TIMEOUT, **kwargs
        )
        return int(ackcmd.result)
