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

"""State of one command sent by a RemoteCommand: its acknowledgements so far."""

__all__ = ["CommandInfo"]

import asyncio
import collections
from typing import TYPE_CHECKING, Any

from ..base import AckError, AckTimeoutError, SalRetCode

if TYPE_CHECKING:
    from .remote_command import RemoteCommand

DONE_ACK_CODES = frozenset(
    (
        SalRetCode.CMD_ABORTED,
        SalRetCode.CMD_COMPLETE,
        SalRetCode.CMD_FAILED,
        SalRetCode.CMD_NOACK,
        SalRetCode.CMD_NOPERM,
        SalRetCode.CMD_STALLED,
        SalRetCode.CMD_TIMEOUT,
    )
)
"""Codes of a final acknowledgement."""

FAILED_ACK_CODES = DONE_ACK_CODES - {SalRetCode.CMD_COMPLETE}
"""Codes of a final acknowledgement that reports failure."""


class CommandInfo:
    """Acknowledgements of one command, and waiting for them.

    Parameters
    ----------
    remote_command : `RemoteCommand`
        The command topic that sent the command.
    seq_num : `int`
        ``private_seqNum`` of the command.
    wait_done : `bool`
        Wait for the final acknowledgement (True) or the next one (False)?
    """

    def __init__(self, remote_command: "RemoteCommand", seq_num: int, wait_done: bool) -> None:
        self.remote_command = remote_command
        self.seq_num = seq_num
        self.wait_done = wait_done
        salinfo = remote_command.salinfo
        self.key = (salinfo.domain.origin, salinfo.identity, seq_num)
        self._ack_queue: collections.deque[Any] = collections.deque()
        self._ack_event = asyncio.Event()
        self._last_ackcmd: Any = None
        self._aborted = False

    def add_ackcmd(self, ackcmd: Any) -> None:
        """Add an acknowledgement (called by `AckCmdReader`)."""
        self._ack_queue.append(ackcmd)
        self._ack_event.set()

    def abort(self) -> None:
        """End waiting: the Remote is closing."""
        self._aborted = True
        self._ack_event.set()

    def _finish(self) -> None:
        self.remote_command.salinfo.running_cmds.pop(self.key, None)

    async def next_ackcmd(self, timeout: float | None) -> Any:
        """Wait for the next acknowledgement of interest.

        With ``wait_done`` True that is the final acknowledgement; else the
        next one other than ``CMD_ACK``. Each ``CMD_INPROGRESS``
        acknowledgement extends the time limit by its ``timeout`` field.

        Parameters
        ----------
        timeout : `float` or `None`
            Time limit (seconds); None for no limit.

        Returns
        -------
        ackcmd : ``ackcmd`` ``DataType``
            The acknowledgement.

        Raises
        ------
        AckError
            If the final acknowledgement reports failure, or the Remote
            closed before the command ended.
        AckTimeoutError
            If the acknowledgement does not arrive in time.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        cmd_name = f"{self.remote_command.salinfo.name_index} {self.remote_command.attr_name}"
        try:
            async with asyncio.timeout_at(deadline) as timeout_cm:
                while True:
                    ackcmd = await self._get_next_ackcmd()
                    if ackcmd is None:
                        self._finish()
                        raise AckError(
                            msg=f"Command {cmd_name} abandoned: the Remote was closed",
                            ackcmd=self._make_ackcmd(SalRetCode.CMD_NOACK, "Remote closed"),
                        )
                    self._last_ackcmd = ackcmd
                    if ackcmd.ack in FAILED_ACK_CODES:
                        self._finish()
                        raise AckError(msg=f"Command {cmd_name} failed", ackcmd=ackcmd)
                    if ackcmd.ack in DONE_ACK_CODES:
                        self._finish()
                        return ackcmd
                    if (
                        ackcmd.ack == SalRetCode.CMD_INPROGRESS
                        and deadline is not None
                        and ackcmd.timeout > 0
                    ):
                        deadline += ackcmd.timeout
                        timeout_cm.reschedule(deadline)
                    if not self.wait_done and ackcmd.ack != SalRetCode.CMD_ACK:
                        return ackcmd
        except TimeoutError:
            self._finish()
            last_ackcmd = self._last_ackcmd
            if last_ackcmd is None:
                last_ackcmd = self._make_ackcmd(SalRetCode.CMD_NOACK, "No command acknowledgement seen")
            raise AckTimeoutError(
                msg=f"Timed out waiting for command acknowledgement of {cmd_name}", ackcmd=last_ackcmd
            ) from None

    def _make_ackcmd(self, ack: SalRetCode, result: str) -> Any:
        return self.remote_command.salinfo.make_ackcmd(private_seqNum=self.seq_num, ack=ack, result=result)

    async def _get_next_ackcmd(self) -> Any:
        while not self._ack_queue:
            if self._aborted:
                return None
            self._ack_event.clear()
            await self._ack_event.wait()
        return self._ack_queue.popleft()

    def __repr__(self) -> str:
        return f"CommandInfo({self.remote_command!r}, seq_num={self.seq_num}, wait_done={self.wait_done})"
