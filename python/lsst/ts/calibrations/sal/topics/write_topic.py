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

"""Base class of the topics a component writes: events, telemetry, commands, acks."""

__all__ = ["WriteTopic"]

from typing import TYPE_CHECKING, Any

from ..base import MAX_SEQ_NUM, current_tai
from .base_topic import BaseTopic
from .set_write_result import SetWriteResult

if TYPE_CHECKING:
    from ..sal_info import SalInfo


class WriteTopic(BaseTopic):
    """Write messages of a topic.

    Parameters
    ----------
    salinfo : `SalInfo`
        The component's bookkeeping.
    attr_name : `str`
        Attribute name, e.g. "evt_summaryState".
    keep_history : `bool`, optional
        Keep the last message per SAL index for readers that start later
        (events)?
    set_seq_num : `bool`, optional
        Fill ``private_seqNum`` from this topic's counter when writing?
        (False for ``ackcmd``, whose seqNum is that of the command.)

    Attributes
    ----------
    default_force_output : `bool`
        The ``force_output`` that `set_write` uses when given None: False
        for events (write only if a field changed), True for telemetry
        (always write).
    """

    default_force_output: bool = False

    def __init__(
        self,
        *,
        salinfo: "SalInfo",
        attr_name: str,
        keep_history: bool = False,
        set_seq_num: bool = True,
    ) -> None:
        super().__init__(salinfo=salinfo, attr_name=attr_name)
        self._data: Any = self.DataType()
        self._has_data = False
        self._set_seq_num = set_seq_num
        self._seq_num = 0
        self._writer_handle = salinfo.add_writer(self.sal_name, keep_history=keep_history)

    @property
    def data(self) -> Any:
        """The message to be written next (a ``DataType``).

        You may change its fields directly, or assign a new ``DataType``.
        """
        return self._data

    @data.setter
    def data(self, data: Any) -> None:
        if not isinstance(data, self.DataType):
            raise TypeError(
                f"{self.attr_name}: data must be a {self.DataType.__name__}; got {type(data).__name__}"
            )
        self._data = data
        self._has_data = True

    @property
    def has_data(self) -> bool:
        """Has `data` been set (by `set`, `set_write` or assigning `data`)?"""
        return self._has_data

    def set(self, **kwargs: Any) -> bool:
        """Set one or more fields of `data`, without writing.

        Parameters
        ----------
        **kwargs : `typing.Any`
            Field name: value.

        Returns
        -------
        did_change : `bool`
            True if any field changed, or if there was no data before.

        Raises
        ------
        TypeError
            If a name is not a field of the topic or a value has the wrong type.
        ValueError
            If an array has the wrong length or a value is out of range.
        """
        checked = self.topic_info.check_values(kwargs)
        did_change = not self._has_data
        for name, value in checked.items():
            if getattr(self._data, name) != value:
                did_change = True
                setattr(self._data, name, value)
        self._has_data = True
        return did_change

    async def write(self) -> Any:
        """Write `data` and return it.

        Returns
        -------
        data : ``DataType``
            The message written (the private fields filled in).

        Raises
        ------
        TypeError
            If a field set directly on `data` has the wrong type.
        ValueError
            If a field set directly on `data` has a bad value.
        RuntimeError
            If the topic's component is closed.
        """
        self.basic_write()
        return self._data

    async def set_write(self, *, force_output: bool | None = None, **kwargs: Any) -> SetWriteResult:
        """Set fields and write the message if changed (or if forced).

        Parameters
        ----------
        force_output : `bool`, optional
            True to write even if nothing changed; False to write only if
            a field changed (or the topic had no data); None to use
            `default_force_output` (events: False; telemetry: True).
            These are salobj's semantics.
        **kwargs : `typing.Any`
            Field name: value.

        Returns
        -------
        result : `SetWriteResult`
            Whether it wrote, whether anything changed, and the data.

        Raises
        ------
        TypeError
            If a name is not a field of the topic or a value has the wrong type.
        ValueError
            If an array has the wrong length or a value is out of range.
        """
        did_change = self.set(**kwargs)
        if force_output is None:
            force_output = self.default_force_output
        do_write = did_change or force_output
        if do_write:
            self.basic_write()
        return SetWriteResult(was_written=do_write, did_change=did_change, data=self._data)

    def basic_write(self) -> None:
        """Fill the private fields of `data` and publish it (synchronously).

        Raises
        ------
        RuntimeError
            If the component is closed.
        """
        data = self._prepare_data_to_write()
        self.salinfo.domain.transport.publish(self._writer_handle, data)

    def _prepare_data_to_write(self) -> Any:
        """Check `data`, fill its private fields and return it.

        Raises
        ------
        RuntimeError
            If the component is closed.
        """
        if self.salinfo.closed:
            raise RuntimeError(f"{self.salinfo.name_index} is closed: cannot write {self.attr_name}")
        data = self._data
        self.topic_info.check_data(data)
        if self._set_seq_num:
            self._seq_num = self._seq_num % MAX_SEQ_NUM + 1
            data.private_seqNum = self._seq_num
        if self.salinfo.index != 0 or not self.salinfo.indexed:
            # A writer of index 0 on an indexed component writes the
            # salIndex the caller set (as salobj).
            data.salIndex = self.salinfo.index
        data.private_sndStamp = current_tai()
        data.private_identity = self.salinfo.identity
        data.private_origin = self.salinfo.domain.origin
        self._has_data = True
        return data
