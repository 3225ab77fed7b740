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
"""A write topic that records what it writes instead of publishing it."""

__all__ = ["MockWriteTopic"]

import copy
from typing import TYPE_CHECKING, Any

from .write_topic import WriteTopic

if TYPE_CHECKING:
    from ..sal_info import SalInfo


class MockWriteTopic(WriteTopic):
    """A `WriteTopic` that appends a copy of each message to `data_list`
    and publishes nothing; for unit tests of code that writes topics.

    Parameters
    ----------
    salinfo : `SalInfo`
        The component's bookkeeping.
    attr_name : `str`
        Attribute name: "evt_<name>", "tel_<name>" or "cmd_<name>".

    Attributes
    ----------
    data_list : `list`
        Copies of the messages written, oldest first. Every message is
        kept: for short-lived use only.

    Notes
    -----
    Build these with `make_mock_write_topics`.
    """

    def __init__(self, *, salinfo: "SalInfo", attr_name: str) -> None:
        if not attr_name.startswith(("evt_", "tel_", "cmd_")):
            raise ValueError(f"attr_name={attr_name!r} must start with evt_, tel_ or cmd_")
        super().__init__(salinfo=salinfo, attr_name=attr_name, keep_history=attr_name.startswith("evt_"))
        self.default_force_output = not attr_name.startswith("evt_")
        self.data_list: list[Any] = []

    def basic_write(self) -> None:
        """Fill the private fields of `data` and record a copy in `data_list`."""
        data = self._prepare_data_to_write()
        self.data_list.append(copy.deepcopy(data))
