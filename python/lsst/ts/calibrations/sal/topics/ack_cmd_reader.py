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

"""The ``ackcmd`` (command acknowledgement) topic read by a Remote."""

__all__ = ["AckCmdReader"]

from typing import TYPE_CHECKING, Any

from ..base import current_tai
from .read_topic import ReadTopic

if TYPE_CHECKING:
    from ..sal_info import SalInfo


class AckCmdReader(ReadTopic):
    """Read command acknowledgements and hand each to the command it belongs to.

    An acknowledgement belongs to the running command with the same
    ``(origin, identity, private_seqNum)``; the others (for commands of
    other Remotes, or already finished) are ignored, so two Remotes never
    see each other's acknowledgements. Acks are not queued.

    Parameters
    ----------
    salinfo : `SalInfo`
        The component's bookkeeping.
    """

    def __init__(self, salinfo: "SalInfo") -> None:
        super().__init__(salinfo=salinfo, attr_name="ack_ackcmd", max_history=0)

    def _on_data(self, data: Any) -> None:
        data.private_rcvStamp = current_tai()
        key = (data.origin, data.identity, data.private_seqNum)
        cmd_info = self.salinfo.running_cmds.get(key)
        if cmd_info is not None:
            self._current_data = data
            cmd_info.add_ackcmd(data)
