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


"""``async with`` for components with salobj's lifecycle, written once."""

__all__ = ["LifecycleMixin"]

import asyncio
import types
import typing


class LifecycleMixin:
    """Mixin: use a component as ``async with component:``.

    The component follows salobj's lifecycle: it either starts itself when
    constructed and exposes the running start as `start_task` (as
    `Controller`, `Remote` and `RemoteGroup` do), or has no `start_task`
    and is started by `start` when entered (components made before the
    event loop runs, such as a simulated observatory); its `close` is
    idempotent and ends whatever the component started (its ``done_task``,
    where it has one, is done after `close`).

    Entering waits for `start_task`, else awaits `start` (unless
    `start_on_enter` is False: a salobj Remote made with ``start=False``
    is not started by ``async with``), and returns the component; leaving
    awaits `close`, also when the block raised (the exception then
    propagates).

    Notes
    -----
    A subclass sets ``self.start_task`` in its constructor, or implements
    `start`; it always implements `close`.
    """

    start_on_enter: typing.ClassVar[bool] = True
    """Without a `start_task`, does entering await `start`?"""

    start_task: asyncio.Future[None]
    """Done when the component has started. A component may have none (a
    salobj Remote made with ``start=False`` has no such attribute); then
    `start` is awaited on entering."""

    async def start(self) -> None:
        """Start the component; awaited on entering when there is no `start_task`."""

    async def close(self) -> None:
        """Close the component; idempotent.

        Raises
        ------
        NotImplementedError
            Always: a component implements its own.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement close()")

    async def __aenter__(self) -> typing.Self:
        start_task = getattr(self, "start_task", None)
        if start_task is not None:
            await start_task
        elif self.start_on_enter:
            await self.start()
        return self

    async def __aexit__(
        self,
        type: type[BaseException] | None,
        value: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        await self.close()
