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

"""Base class of every topic of a Remote or Controller."""

__all__ = ["BaseTopic"]

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..sal_info import SalInfo
    from ..topic_info import TopicInfo


class BaseTopic:
    """A topic of one SAL component, bound to a `SalInfo`.

    Parameters
    ----------
    salinfo : `SalInfo`
        The component's bookkeeping (domain, index, identity).
    attr_name : `str`
        Attribute name: ``cmd_<name>``, ``evt_<name>``, ``tel_<name>`` or
        ``ack_ackcmd``.

    Attributes
    ----------
    topic_info : `TopicInfo`
        Description of the topic and its fields.
    name : `str`
        Bare topic name, e.g. "summaryState".
    attr_name : `str`
        Attribute name, e.g. "evt_summaryState".
    sal_name : `str`
        SAL topic name, e.g. "logevent_summaryState".
    DataType : `type`
        Message type (slotted dataclass).
    log : `logging.Logger`
        Logger of this topic.

    Raises
    ------
    KeyError
        If the component has no such topic.
    """

    def __init__(self, *, salinfo: "SalInfo", attr_name: str) -> None:
        self.salinfo = salinfo
        self.topic_info: TopicInfo = salinfo.topic_info(attr_name)
        self.name = self.topic_info.name
        self.attr_name = self.topic_info.attr_name
        self.sal_name = self.topic_info.sal_name
        self.DataType = self.topic_info.DataType
        self.log = logging.getLogger(f"{salinfo.log.name}.{self.attr_name}")

    @property
    def metadata(self) -> "TopicInfo":
        """The `TopicInfo` (salobj calls the equivalent ``metadata``)."""
        return self.topic_info

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.salinfo.name_index}, {self.attr_name})"
