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

"""A telemetry topic written by a Controller."""

__all__ = ["ControllerTelemetry"]

from typing import TYPE_CHECKING

from .write_topic import WriteTopic

if TYPE_CHECKING:
    from ..sal_info import SalInfo


class ControllerTelemetry(WriteTopic):
    """Write a telemetry topic: `set_write` always writes unless
    ``force_output`` is False, in which case it writes only on change.

    Parameters
    ----------
    salinfo : `SalInfo`
        The component's bookkeeping.
    name : `str`
        Bare telemetry topic name, e.g. "scalars".
    """

    default_force_output = True

    def __init__(self, salinfo: "SalInfo", name: str) -> None:
        super().__init__(salinfo=salinfo, attr_name="tel_" + name, keep_history=False)
