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

"""A command topic read by a Controller, with acknowledgement."""

__all__ = ["ControllerCommand"]

import asyncio
import inspect
from typing import TYPE_CHECKING, Any

from ..base import DEFAULT_QUEUE_LEN, ExpectedError, SalRetCode
from .read_topic import ReadTopic

if TYPE_CHECKING:
    from ..sal_info import SalInfo


class ControllerCommand(ReadTopic):
    """Read a command and acknowledge it.

    Parameters
    ----------
    salinfo : `SalInfo`
        The component's bookkeeping.
    name : `str`
        Bare command name, e.g. "enable".
    queue_len : `int`, optional
        Number of commands queued.

    Notes
    -----
    With a callback (a Controller's ``do_<name>`` method), each command is
    acknowledged from the callback's outcome:

    * returns None: ``CMD_COMPLETE``, result "Done";
    * returns an ackcmd: that acknowledgement;
    * raises `asyncio.CancelledError`: ``CMD_ABORTED``;
    * raises `TimeoutError`: ``CMD_TIMEOUT``;
    * raises `ExpectedError`: ``CMD_FAILED``, result "Failed: <error>",
      no traceback logged;
    * raises another `Exception`: the same, with the traceback logged.

    With ``allow_multiple_callbacks`` False (the default), commands are
    handled one at a time in the order received; set it True to let several
    run at once.
    """

    def __init__(self, salinfo: "SalInfo", name: str, queue_len: int = DEFAULT_QUEUE_LEN) -> None:
        super().__init__(salinfo=salinfo, attr_name="cmd_" + name, max_history=0, queue_len=queue_len)
        self.cmdtype = salinfo.command_names.index(name)

    async def ack(self, data: Any, ackcmd: Any) -> None:
        """Acknowledge a command.

        Parameters
        ----------
        data : ``DataType``
            The command.
        ackcmd : ``ackcmd`` ``DataType``
            The acknowledgement (``ack``, ``error``, ``result``, ``timeout``).
        """
        self.salinfo.ackcmd_writer.write_ack(command_data=data, ackcmd=ackcmd, cmdtype=self.cmdtype)

    async def ack_in_progress(self, data: Any, timeout: float, result: str = "") -> None:
        """Acknowledge a command as in progress.

        The sender's time limit is extended by ``timeout``.

        Parameters
        ----------
        data : ``DataType``
            The command.
        timeout : `float`
            Time (seconds) the command may still take.
        result : `str`, optional
            Explanation, usually "".
        """
        ackcmd = self.salinfo.make_ackcmd(
            private_seqNum=data.private_seqNum, ack=SalRetCode.CMD_INPROGRESS, result=result, timeout=timeout
        )
        await self.ack(data, ackcmd)

    async def next(self, *, timeout: float | None = None) -> Any:  # type: ignore[override]
        """Return the oldest queued command, waiting for one if needed.

        Unlike `ReadTopic.next` there is no ``flush`` argument: commands are
        never skipped silently (use `flush` explicitly). The caller must
        acknowledge the command with `ack`.

        Parameters
        ----------
        timeout : `float`, optional
            Time limit (seconds); None for no limit.

        Returns
        -------
        data : ``DataType``
            The command.

        Raises
        ------
        TimeoutError
            If no command arrives in time.
        RuntimeError
            If a callback is set.
        """
        return await super().next(flush=False, timeout=timeout)

    async def _run_callback(self, data: Any) -> None:
        callback = self._callback
        if callback is None:
            return
        seq_num = data.private_seqNum
        try:
            result = callback(data)
            if inspect.isawaitable(result):
                result = await result
            if result is None:
                ackcmd = self.salinfo.make_ackcmd(
                    private_seqNum=seq_num, ack=SalRetCode.CMD_COMPLETE, result="Done"
                )
            else:
                ackcmd = result
        except asyncio.CancelledError:
            ackcmd = self.salinfo.make_ackcmd(
                private_seqNum=seq_num, ack=SalRetCode.CMD_ABORTED, error=1, result="Aborted"
            )
        except TimeoutError:
            ackcmd = self.salinfo.make_ackcmd(
                private_seqNum=seq_num, ack=SalRetCode.CMD_TIMEOUT, error=1, result="Timeout"
            )
        except Exception as e:
            ackcmd = self.salinfo.make_ackcmd(
                private_seqNum=seq_num, ack=SalRetCode.CMD_FAILED, error=1, result=f"Failed: {e}"
            )
            if isinstance(e, ExpectedError):
                self.log.warning("%s %s failed: %s", self.salinfo.name_index, self.attr_name, e)
            else:
                self.log.exception(
                    "%s %s callback failed with data=%s", self.salinfo.name_index, self.attr_name, data
                )
        if not self.salinfo.closed:
            await self.ack(data, ackcmd)
