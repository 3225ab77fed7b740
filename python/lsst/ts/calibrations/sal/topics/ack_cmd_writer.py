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

"""The ``ackcmd`` (command acknowledgement) topic written by a Controller."""

__all__ = ["AckCmdWriter"]

from typing import TYPE_CHECKING, Any

from .write_topic import WriteTopic

if TYPE_CHECKING:
    from ..sal_info import SalInfo


class AckCmdWriter(WriteTopic):
    """Write command acknowledgements.

    ``private_seqNum`` of an ackcmd is that of the command acknowledged, and
    ``identity`` and ``origin`` are the command's ``private_identity`` and
    ``private_origin``, so the acknowledgement reaches only the Remote that
    sent the command.

    Parameters
    ----------
    salinfo : `SalInfo`
        The component's bookkeeping.
    """

    def __init__(self, salinfo: "SalInfo") -> None:
        super().__init__(salinfo=salinfo, attr_name="ack_ackcmd", keep_history=False, set_seq_num=False)

    def write_ack(self, command_data: Any, ackcmd: Any, cmdtype: int) -> None:
        """Write the acknowledgement of a command.

        Parameters
        ----------
        command_data : ``DataType``
            The command acknowledged.
        ackcmd : ``ackcmd`` ``DataType``
            Its ``ack``, ``error``, ``result`` and ``timeout`` are written.
        cmdtype : `int`
            Index of the command in the component's sorted command names.
        """
        self.set(
            private_seqNum=command_data.private_seqNum,
            origin=command_data.private_origin,
            identity=command_data.private_identity,
            cmdtype=cmdtype,
            ack=int(ackcmd.ack),
            error=ackcmd.error,
            result=ackcmd.result,
            timeout=float(ackcmd.timeout),
        )
        self.basic_write()
