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

"""A telemetry topic read by a Remote."""

__all__ = ["RemoteTelemetry"]

from typing import TYPE_CHECKING

from ..base import DEFAULT_QUEUE_LEN
from .read_topic import ReadTopic

if TYPE_CHECKING:
    from ..sal_info import SalInfo


class RemoteTelemetry(ReadTopic):
    """Read a telemetry topic (no history: only messages written after the reader starts).

    Parameters
    ----------
    salinfo : `SalInfo`
        The component's bookkeeping.
    name : `str`
        Bare telemetry topic name, e.g. "scalars".
    queue_len : `int`, optional
        Number of messages queued.
    """

    def __init__(self, salinfo: "SalInfo", name: str, queue_len: int = DEFAULT_QUEUE_LEN) -> None:
        super().__init__(salinfo=salinfo, attr_name="tel_" + name, max_history=0, queue_len=queue_len)
