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

"""An event topic read by a Remote."""

__all__ = ["RemoteEvent"]

from typing import TYPE_CHECKING

from ..base import DEFAULT_QUEUE_LEN
from .read_topic import ReadTopic

if TYPE_CHECKING:
    from ..sal_info import SalInfo


class RemoteEvent(ReadTopic):
    """Read an event topic.

    Parameters
    ----------
    salinfo : `SalInfo`
        The component's bookkeeping.
    name : `str`
        Bare event name, e.g. "summaryState".
    max_history : `int`, optional
        1 (default): a reader that starts late first gets the last event
        written per SAL index; 0: only events written after it starts.
    queue_len : `int`, optional
        Number of messages queued.
    """

    def __init__(
        self, salinfo: "SalInfo", name: str, max_history: int = 1, queue_len: int = DEFAULT_QUEUE_LEN
    ) -> None:
        super().__init__(
            salinfo=salinfo, attr_name="evt_" + name, max_history=max_history, queue_len=queue_len
        )
