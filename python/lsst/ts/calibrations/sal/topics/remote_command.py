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

"""A command topic sent by a Remote."""

__all__ = ["RemoteCommand"]

from typing import TYPE_CHECKING, Any

from ..base import DEFAULT_ACK_TIMEOUT
from .command_info import CommandInfo
from .write_topic import WriteTopic

if TYPE_CHECKING:
    from ..sal_info import SalInfo


class RemoteCommand(WriteTopic):
    """Send a command and wait for its acknowledgement.

    Parameters
    ----------
    salinfo : `SalInfo`
        The component's bookkeeping.
    name : `str`
        Bare command name, e.g. "enable".
    """

    def __init__(self, salinfo: "SalInfo", name: str) -> None:
        super().__init__(salinfo=salinfo, attr_name="cmd_" + name, keep_history=False, set_seq_num=False)
        # Make the ackcmd reader now, so it reads from the moment the Remote starts.
        salinfo.ackcmd_reader

    def set(self, **kwargs: Any) -> bool:
        """Reset `data` to the defaults, then set the given fields.

        Parameters
        ----------
        **kwargs : `typing.Any`
            Field name: value.

        Returns
        -------
        did_change : `bool`
            True if any field differs from its default.

        Raises
        ------
        TypeError
            If a name is not a field of the command or a value has the wrong type.
        ValueError
            If an array has the wrong length or a value is out of range.
        """
        checked = self.topic_info.check_values(kwargs)
        self._data = self.DataType()
        self._has_data = True
        did_change = False
        for name, value in checked.items():
            if getattr(self._data, name) != value:
                did_change = True
                setattr(self._data, name, value)
        return did_change

    async def set_start(
        self, timeout: float | None = DEFAULT_ACK_TIMEOUT, wait_done: bool = True, **kwargs: Any
    ) -> Any:
        """Set the command's fields (others get their defaults) and start it.

        Parameters
        ----------
        timeout : `float` or `None`, optional
            Time limit (seconds) for the final acknowledgement (or the next,
            if ``wait_done`` is False), extended by the ``timeout`` of each
            ``CMD_INPROGRESS`` acknowledgement; None for no limit.
        wait_done : `bool`, optional
            Wait for the final acknowledgement (True), or return the first
            acknowledgement (False)?
        **kwargs : `typing.Any`
            Field name: value.

        Returns
        -------
        ackcmd : ``ackcmd`` ``DataType``
            The acknowledgement.

        Raises
        ------
        AckError
            If the command fails.
        AckTimeoutError
            If the acknowledgement does not arrive in time.
        TypeError
            If a name is not a field of the command or a value has the wrong type.
        """
        self.set(**kwargs)
        return await self.start(timeout=timeout, wait_done=wait_done)

    async def start(
        self, data: Any = None, timeout: float | None = DEFAULT_ACK_TIMEOUT, wait_done: bool = True
    ) -> Any:
        """Start the command.

        Parameters
        ----------
        data : ``DataType``, optional
            The command's data; `data` (as set by `set`) if None.
        timeout : `float` or `None`, optional
            Time limit (seconds); see `set_start`.
        wait_done : `bool`, optional
            Wait for the final acknowledgement (True), or return the first
            acknowledgement (False)?

        Returns
        -------
        ackcmd : ``ackcmd`` ``DataType``
            The acknowledgement.

        Raises
        ------
        AckError
            If the command fails.
        AckTimeoutError
            If the acknowledgement does not arrive in time.
        TypeError
            If ``data`` is not a ``DataType`` of this command.
        """
        if data is not None:
            self.data = data
        seq_num = self.salinfo.next_command_seq_num()
        self._data.private_seqNum = seq_num
        cmd_info = CommandInfo(remote_command=self, seq_num=seq_num, wait_done=wait_done)
        self.salinfo.ackcmd_reader.start()
        self.salinfo.running_cmds[cmd_info.key] = cmd_info
        try:
            self.basic_write()
        except Exception:
            self.salinfo.running_cmds.pop(cmd_info.key, None)
            raise
        return await cmd_info.next_ackcmd(timeout=timeout)

    async def next_ackcmd(
        self, ackcmd: Any, timeout: float | None = DEFAULT_ACK_TIMEOUT, wait_done: bool = True
    ) -> Any:
        """Wait for a further acknowledgement of a command started with ``wait_done=False``.

        Parameters
        ----------
        ackcmd : ``ackcmd`` ``DataType``
            An acknowledgement of the command (e.g. returned by `start`).
        timeout : `float` or `None`, optional
            Time limit (seconds); see `set_start`.
        wait_done : `bool`, optional
            Wait for the final acknowledgement (True), or the next (False)?

        Returns
        -------
        ackcmd : ``ackcmd`` ``DataType``
            The acknowledgement.

        Raises
        ------
        AckError
            If the command fails.
        AckTimeoutError
            If the acknowledgement does not arrive in time.
        RuntimeError
            If the command is unknown or has already finished.
        """
        key = (ackcmd.origin, ackcmd.identity, ackcmd.private_seqNum)
        cmd_info = self.salinfo.running_cmds.get(key)
        if cmd_info is None or cmd_info.remote_command is not self:
            raise RuntimeError(
                f"{self.attr_name}: command private_seqNum={ackcmd.private_seqNum} is unknown or finished"
            )
        cmd_info.wait_done = wait_done
        return await cmd_info.next_ackcmd(timeout=timeout)
