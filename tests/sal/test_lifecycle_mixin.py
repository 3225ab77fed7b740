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


"""LifecycleMixin: async with waits for the start (or starts) and always closes."""

import asyncio

import pytest

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations.sal import Domain
from lsst.ts.calibrations.sal.lifecycle_mixin import LifecycleMixin


class SelfStarting(LifecycleMixin):
    """Starts when constructed, as a Controller or Remote does."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.gate = asyncio.Event()
        self.start_task = asyncio.create_task(self._start())

    async def _start(self) -> None:
        await self.gate.wait()
        self.events.append("started")

    async def close(self) -> None:
        self.events.append("closed")


class StartedOnEnter(LifecycleMixin):
    """Made before the loop runs; started by async with."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def start(self) -> None:
        self.events.append("started")

    async def close(self) -> None:
        self.events.append("closed")


class NotStartedOnEnter(StartedOnEnter):
    """Like a salobj Remote made with start=False."""

    start_on_enter = False


async def test_enter_waits_for_start_task() -> None:
    component = SelfStarting()
    enter = asyncio.create_task(component.__aenter__())
    await asyncio.sleep(0.01)
    assert not enter.done()
    component.gate.set()
    assert await asyncio.wait_for(enter, STD_TIMEOUT) is component
    await component.__aexit__(None, None, None)
    assert component.events == ["started", "closed"]


async def test_enter_starts_without_start_task() -> None:
    async with StartedOnEnter() as component:
        assert component.events == ["started"]
    assert component.events == ["started", "closed"]
    async with NotStartedOnEnter() as other:
        assert other.events == []
    assert other.events == ["closed"]


async def test_closed_when_the_block_raises() -> None:
    component = StartedOnEnter()
    with pytest.raises(RuntimeError, match="in the block"):
        async with component:
            raise RuntimeError("in the block")
    assert component.events == ["started", "closed"]


async def test_close_is_required() -> None:
    with pytest.raises(NotImplementedError, match="must implement close"):
        async with LifecycleMixin():
            pass


async def test_domain_uses_it() -> None:
    async with Domain() as domain:
        assert isinstance(domain, LifecycleMixin)
        assert not domain.closed
    assert domain.closed
