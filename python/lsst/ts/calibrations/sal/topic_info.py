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

"""Description of one SAL topic (command, event, telemetry or ackcmd)
and the slotted dataclass that holds its messages.
"""

__all__ = ["TopicInfo"]

import dataclasses
import threading
import typing

from .field_info import FieldInfo

# Topic kind: (attribute name prefix, SAL name prefix).
_KIND_PREFIXES = {
    "command": ("cmd_", "command_"),
    "event": ("evt_", "logevent_"),
    "telemetry": ("tel_", ""),
    "ackcmd": ("ack_", ""),
}

# Fields every message carries, in addition to the topic's own fields.
_PRIVATE_FIELDS: dict[str, FieldInfo] = {
    info.name: info
    for info in (
        FieldInfo("salIndex", "long", description="SAL index of the component; 0 if not indexed."),
        FieldInfo("private_sndStamp", "double", units="s", description="Time of sending (TAI unix s)."),
        FieldInfo("private_rcvStamp", "double", units="s", description="Time of receipt (TAI unix s)."),
        FieldInfo("private_seqNum", "long", description="Sequence number of the message."),
        FieldInfo("private_identity", "string", description="Identity of the writer (user@host or CSC)."),
        FieldInfo("private_origin", "long", description="Process ID of the writer."),
    )
}

# User fields of the ackcmd topic (command acknowledgement).
_ACKCMD_FIELDS: dict[str, FieldInfo] = {
    info.name: info
    for info in (
        FieldInfo("ack", "long", description="Acknowledgement code: a SalRetCode."),
        FieldInfo("error", "long", description="Error code; 0 if no error."),
        FieldInfo("result", "string", description="Message explaining the acknowledgement."),
        FieldInfo("identity", "string", description="private_identity of the command acknowledged."),
        FieldInfo("origin", "long", description="private_origin of the command acknowledged."),
        FieldInfo("cmdtype", "long", description="Index of the command in the component's command list."),
        FieldInfo("timeout", "double", units="s", description="Time the command may yet take; 0 if unknown."),
    )
}


# Held while a topic's DataType is made, so that threads share one class.
_data_type_lock = threading.Lock()


def _message_repr(self: typing.Any) -> str:
    """Repr of a message, as a dataclass writes it: Name(field=value, ...)."""
    values = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__dataclass_fields__)
    return f"{type(self).__qualname__}({values})"


def _message_eq(self: typing.Any, other: typing.Any) -> typing.Any:
    """Equality of messages, as a dataclass defines it: same class and
    equal fields.
    """
    if other.__class__ is not self.__class__:
        return NotImplemented
    return all(getattr(self, name) == getattr(other, name) for name in self.__dataclass_fields__)


class TopicInfo:
    """Information about one topic of a SAL component.

    Parameters
    ----------
    component_name : `str`
        Name of the SAL component, e.g. "CCCamera".
    name : `str`
        Bare topic name, e.g. "takeImages", "summaryState", "ackcmd".
    kind : `str`
        One of "command", "event", "telemetry", "ackcmd".
    fields : `dict` [`str`, `FieldInfo`]
        The topic's own fields (not the private fields), in order.
    description : `str`, optional
        Description of the topic.

    Attributes
    ----------
    attr_name : `str`
        Attribute name on a Remote or Controller: ``cmd_<name>``,
        ``evt_<name>``, ``tel_<name>`` or ``ack_ackcmd``.
    sal_name : `str`
        SAL topic name: ``command_<name>``, ``logevent_<name>``, ``<name>``
        (telemetry) or ``ackcmd``.
    DataType : `type`
        Slotted dataclass for messages of this topic, made on first use
        (a camera has hundreds of topics, most never used): every field is a
        keyword argument with a default (0, 0.0, "", False, or a list of
        ``count`` of these), followed by the private fields (``salIndex``,
        ``private_sndStamp``, ``private_rcvStamp``, ``private_seqNum``,
        ``private_identity``, ``private_origin``). Assigning an attribute
        that is not a field raises `AttributeError`.

    Raises
    ------
    ValueError
        If the kind is unknown, or a field name clashes with a private field.
    """

    PRIVATE_FIELDS: typing.ClassVar[dict[str, FieldInfo]] = _PRIVATE_FIELDS

    def __init__(
        self,
        component_name: str,
        name: str,
        kind: str,
        fields: dict[str, FieldInfo],
        description: str = "",
    ) -> None:
        if kind not in _KIND_PREFIXES:
            raise ValueError(f"Topic {name}: unknown kind {kind!r}; must be one of {sorted(_KIND_PREFIXES)}")
        if not name.isidentifier():
            raise ValueError(f"Topic name {name!r} of {component_name} is not a valid identifier")
        attr_prefix, sal_prefix = _KIND_PREFIXES[kind]
        self.component_name = component_name
        self.name = name
        self.kind = kind
        self.description = description
        self.attr_name = attr_prefix + name
        self.sal_name = sal_prefix + name
        clashes = sorted(set(fields) & set(_PRIVATE_FIELDS))
        if clashes:
            raise ValueError(f"{self.full_name}: fields {clashes} clash with the private fields")
        for key, field_info in fields.items():
            if key != field_info.name:
                raise ValueError(f"{self.full_name}: field key {key!r} != field name {field_info.name!r}")
        self.fields: dict[str, FieldInfo] = dict(fields)
        self._all_fields: dict[str, FieldInfo] = {**self.fields, **_PRIVATE_FIELDS}
        self._array_names = tuple(name for name, info in self._all_fields.items() if info.count > 1)
        self._data_type: type | None = None

    @property
    def DataType(self) -> type:  # noqa: N802 (salobj's name)
        """Slotted dataclass for messages of this topic (see the class
        docstring); the same class on every access.
        """
        data_type = self._data_type
        if data_type is None:
            with _data_type_lock:
                if self._data_type is None:
                    # __repr__ and __eq__ are shared functions and __doc__ is
                    # given, so that only __init__ is compiled per topic: a
                    # Remote of a camera makes hundreds of these classes.
                    self._data_type = dataclasses.make_dataclass(
                        f"{self.component_name}_{self.sal_name}",
                        [info.make_dataclass_tuple() for info in self._all_fields.values()],
                        namespace={
                            "__doc__": f"Message of SAL topic {self.full_name}.",
                            "__repr__": _message_repr,
                            "__eq__": _message_eq,
                        },
                        kw_only=True,
                        slots=True,
                        repr=False,
                        eq=False,
                        module=__name__,
                    )
                data_type = self._data_type
        return data_type

    @property
    def full_name(self) -> str:
        """Component and SAL topic name, e.g. "CCCamera.command_takeImages"."""
        return f"{self.component_name}.{self.sal_name}"

    @property
    def field_names(self) -> list[str]:
        """Names of the topic's own fields, in order."""
        return list(self.fields)

    @classmethod
    def make_ackcmd(cls, component_name: str) -> "TopicInfo":
        """Make the ackcmd (command acknowledgement) topic of a component."""
        return cls(
            component_name=component_name,
            name="ackcmd",
            kind="ackcmd",
            fields=_ACKCMD_FIELDS,
            description="Command acknowledgement.",
        )

    @classmethod
    def from_dict(
        cls, component_name: str, name: str, kind: str, data: typing.Any, where: str = ""
    ) -> "TopicInfo":
        """Make a TopicInfo from an interface file entry.

        Parameters
        ----------
        component_name : `str`
            Name of the SAL component.
        name : `str`
            Bare topic name.
        kind : `str`
            "command", "event" or "telemetry".
        data : `dict` or `None`
            Mapping with optional keys ``description`` and ``fields``
            (a mapping of field name: field entry); `None` means no fields.
        where : `str`, optional
            Where the entry was read (file name), for error messages.

        Raises
        ------
        ValueError
            If the entry is malformed.
        """
        topic_where = f"{where}: {kind} {name}" if where else f"{component_name} {kind} {name}"
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ValueError(f"{topic_where}: expected a mapping with 'description' and 'fields'")
        unknown = set(data) - {"description", "fields", "category"}
        if unknown:
            raise ValueError(
                f"{topic_where}: unknown keys {sorted(unknown)}; allowed: description, fields, category"
            )
        fields_data = data.get("fields") or {}
        if not isinstance(fields_data, dict):
            raise ValueError(f"{topic_where}: 'fields' must be a mapping of field name: field entry")
        fields = {
            str(field_name): FieldInfo.from_dict(str(field_name), field_data, where=topic_where)
            for field_name, field_data in fields_data.items()
        }
        try:
            return cls(
                component_name=component_name,
                name=name,
                kind=kind,
                fields=fields,
                description=str(data.get("description", "")).strip(),
            )
        except ValueError as e:
            raise ValueError(f"{topic_where}: {e}") from e

    def make_data(self, **kwargs: typing.Any) -> typing.Any:
        """Make a new message, with defaults for fields not specified.

        Parameters
        ----------
        **kwargs : `typing.Any`
            Field values: the topic's own fields and the private fields.

        Returns
        -------
        data : ``DataType``
            A new message; arrays are new lists.

        Raises
        ------
        TypeError
            If a name is not a field of this topic, or a value has the wrong
            type.
        ValueError
            If an array has the wrong length or a value is out of range.
        """
        return self.DataType(**self.check_values(kwargs))

    def check_values(self, values: dict[str, typing.Any]) -> dict[str, typing.Any]:
        """Check field values and return them in canonical form.

        Parameters
        ----------
        values : `dict` [`str`, `typing.Any`]
            Field name: value.

        Returns
        -------
        checked : `dict` [`str`, `typing.Any`]
            Field name: value, with ints for float fields made floats and
            arrays copied into new lists.

        Raises
        ------
        TypeError
            If a name is not a field of this topic, or a value has the wrong
            type.
        ValueError
            If an array has the wrong length or a value is out of range.
        """
        checked: dict[str, typing.Any] = {}
        for name, value in values.items():
            field_info = self._all_fields.get(name)
            if field_info is None:
                raise TypeError(self._unknown_field_message(name))
            checked[name] = field_info.check_value(value, topic_name=self.full_name)
        return checked

    def check_data(self, data: typing.Any) -> None:
        """Check every field of a message, e.g. one whose attributes were
        assigned directly.

        Raises
        ------
        TypeError
            If ``data`` is not a ``DataType`` or a value has the wrong type.
        ValueError
            If an array has the wrong length or a value is out of range.
        """
        if not isinstance(data, self.DataType):
            raise TypeError(
                f"{self.full_name}: data must be a {self.DataType.__name__}; got {type(data).__name__}"
            )
        for name, field_info in self._all_fields.items():
            field_info.check_value(getattr(data, name), topic_name=self.full_name)

    def copy_data(self, data: typing.Any) -> typing.Any:
        """Return a copy of a message that shares no mutable data (arrays
        are copied).
        """
        values = {name: getattr(data, name) for name in self._all_fields}
        for name in self._array_names:
            values[name] = list(values[name])
        return self.DataType(**values)

    def get_values(self, data: typing.Any, include_private: bool = False) -> dict[str, typing.Any]:
        """Return the field values of a message as a dict.

        Parameters
        ----------
        data : ``DataType``
            The message.
        include_private : `bool`, optional
            Include the private fields (``salIndex``, ``private_...``)?

        Returns
        -------
        values : `dict` [`str`, `typing.Any`]
            Field name: value (arrays copied).
        """
        names = self._all_fields if include_private else self.fields
        return {
            name: list(value) if isinstance(value, list) else value
            for name, value in ((name, getattr(data, name)) for name in names)
        }

    def _unknown_field_message(self, name: str) -> str:
        """Describe an unknown field name, listing the valid ones."""
        valid = ", ".join(self.fields) if self.fields else "(none)"
        return f"{self.full_name} has no field {name!r}; its fields are: {valid}"

    def __repr__(self) -> str:
        return f"TopicInfo({self.full_name}, fields={list(self.fields)})"
