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

"""TestCsc: a CSC of the Test component, for testing the SAL runtime and its users."""

__all__ = ["TestCsc"]

import asyncio
from typing import Any, ClassVar

from ..version import __version__
from .base import ExpectedError, SalRetCode, State
from .base_csc import BaseCsc


class TestCsc(BaseCsc):
    """A CSC of the ``Test`` component (as salobj's TestCsc).

    Commands (in ENABLED state):

    * ``setScalars``: write the fields to ``evt_scalars`` and ``tel_scalars``;
    * ``setArrays``: write the fields to ``evt_arrays`` and ``tel_arrays``;
    * ``fault``: go to FAULT state (errorCode 1);
    * ``wait``: acknowledge in progress with ``timeout=duration``, sleep
      ``duration`` seconds, then end as ``ack`` says: ``CMD_COMPLETE`` (or 0)
      completes, ``CMD_FAILED`` fails, ``CMD_TIMEOUT`` times out,
      ``CMD_ABORTED`` aborts.

    Parameters
    ----------
    index : `int`
        SAL index (nonzero).
    initial_state : `State`, optional
        Summary state after starting.
    override : `str`, optional
        Configuration override (unused).
    simulation_mode : `int`, optional
        Simulation mode: 0.
    heartbeat_interval : `float`, optional
        Interval (seconds) between heartbeats; 1 s if None.

    Raises
    ------
    ValueError
        If ``index`` is 0, or another argument is invalid.
    """

    __test__ = False  # Not a pytest test class.

    valid_simulation_modes: ClassVar[tuple[int, ...]] = (0,)
    version: ClassVar[str] = __version__

    def __init__(
        self,
        index: int,
        initial_state: State | int = State.STANDBY,
        override: str = "",
        simulation_mode: int = 0,
        *,
        heartbeat_interval: float | None = None,
    ) -> None:
        if index == 0:
            raise ValueError("index must be nonzero for TestCsc")
        super().__init__(
            "Test",
            index=index,
            initial_state=initial_state,
            override=override,
            simulation_mode=simulation_mode,
            heartbeat_interval=heartbeat_interval,
        )

    async def do_setScalars(self, data: Any) -> None:
        """Write the command's scalar fields to ``evt_scalars`` and ``tel_scalars``."""
        self.assert_enabled("setScalars")
        await self._copy_and_write(data, "scalars")

    async def do_setArrays(self, data: Any) -> None:
        """Write the command's array fields to ``evt_arrays`` and ``tel_arrays``."""
        self.assert_enabled("setArrays")
        await self._copy_and_write(data, "arrays")

    async def _copy_and_write(self, data: Any, topic_name: str) -> None:
        command = self.cmd_setScalars if topic_name == "scalars" else self.cmd_setArrays
        values = command.topic_info.get_values(data)
        for topic in (getattr(self, f"evt_{topic_name}"), getattr(self, f"tel_{topic_name}")):
            fields = topic.topic_info.fields
            await topic.set_write(**{name: value for name, value in values.items() if name in fields})

    async def do_fault(self, data: Any) -> None:
        """Go to FAULT state."""
        await self.fault(code=1, report="Method do_fault called")

    async def do_wait(self, data: Any) -> None:
        """Wait ``duration`` seconds, then end as the ``ack`` field says.

        Raises
        ------
        ExpectedError
            If not ENABLED, or ``ack`` is CMD_FAILED or not a final code.
        TimeoutError
            If ``ack`` is CMD_TIMEOUT.
        asyncio.CancelledError
            If ``ack`` is CMD_ABORTED.
        """
        self.assert_enabled("wait")
        await self.cmd_wait.ack_in_progress(data, timeout=data.duration)
        await asyncio.sleep(data.duration)
        if data.ack in (0, SalRetCode.CMD_COMPLETE):
            return
        if data.ack == SalRetCode.CMD_TIMEOUT:
            raise TimeoutError("wait ended with CMD_TIMEOUT, as asked")
        if data.ack == SalRetCode.CMD_ABORTED:
            raise asyncio.CancelledError()
        if data.ack == SalRetCode.CMD_FAILED:
            raise ExpectedError("wait ended with CMD_FAILED, as asked")
        raise ExpectedError(
            f"wait: ack={data.ack} is not one of CMD_COMPLETE, CMD_FAILED, CMD_TIMEOUT or CMD_ABORTED"
        )
