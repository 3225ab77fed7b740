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

"""Description of one field of a SAL topic: name, SAL type, array length,
units; default values and value checking.
"""

__all__ = ["FieldInfo"]

import dataclasses
import keyword
import math
import numbers
import typing

# SAL type: (Python type, minimum, maximum); None means no range check.
# The integer ranges follow the Avro types salobj 8 uses ("long" is 64 bits)
# and the IDL meaning of "byte" (an unsigned octet).
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_SAL_TYPES: dict[str, tuple[type, tuple[int, int] | None]] = {
    "boolean": (bool, None),
    "byte": (int, (0, 255)),
    "short": (int, (-(2**15), 2**15 - 1)),
    "int": (int, _INT32),
    "long": (int, _INT64),
    "long long": (int, _INT64),
    "unsigned short": (int, (0, 2**16 - 1)),
    "unsigned int": (int, (0, 2**32 - 1)),
    "unsigned long": (int, (0, 2**63 - 1)),
    "float": (float, None),
    "double": (float, None),
    "string": (str, None),
}

# Largest finite single-precision float, to reject values a float field
# cannot hold.
_FLOAT32_MAX = 3.4028234663852886e38


@dataclasses.dataclass(frozen=True, slots=True)
class FieldInfo:
    """Information about one field of a topic.

    Parameters
    ----------
    name : `str`
        Field name; a Python identifier.
    sal_type : `str`
        SAL type: one of ``boolean``, ``byte``, ``short``, ``int``, ``long``,
        ``long long``, ``unsigned short``, ``unsigned int``,
        ``unsigned long``, ``float``, ``double``, ``string``.
    count : `int`, optional
        1 for a scalar; > 1 for a fixed-length array (a `list`).
        Strings cannot be arrays.
    units : `str`, optional
        Units, "unitless" if none.
    description : `str`, optional
        Description of the field.
    enumeration : `dict` [`str`, `int`], optional
        Named values of the field (ts_xml's ``<Enumeration>`` of the item),
        item name: value; empty if none. Informational: values are not
        restricted to these.

    Raises
    ------
    ValueError
        If the name is not an identifier, the type is unknown, the count
        is invalid, or an enumeration value is not an integer.
    """

    name: str
    sal_type: str
    count: int = 1
    units: str = "unitless"
    description: str = ""
    enumeration: dict[str, int] = dataclasses.field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or keyword.iskeyword(self.name):
            raise ValueError(f"Field name {self.name!r} is not a valid Python identifier")
        if self.sal_type not in _SAL_TYPES:
            raise ValueError(
                f"Field {self.name}: unknown type {self.sal_type!r}; must be one of {sorted(_SAL_TYPES)}"
            )
        if not isinstance(self.count, int) or isinstance(self.count, bool) or self.count < 1:
            raise ValueError(f"Field {self.name}: count={self.count!r} must be an integer >= 1")
        if self.sal_type == "string" and self.count > 1:
            raise ValueError(f"Field {self.name}: a string field cannot be an array (count={self.count})")
        for item, value in self.enumeration.items():
            if not isinstance(item, str) or not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(
                    f"Field {self.name}: enumeration must map item names to integers; got {item!r}: {value!r}"
                )

    @property
    def python_type(self) -> type:
        """The Python type of a scalar value or array element."""
        return _SAL_TYPES[self.sal_type][0]

    @property
    def is_array(self) -> bool:
        """True if the field is a fixed-length array."""
        return self.count > 1

    @property
    def default_scalar_value(self) -> typing.Any:
        """Default value of a scalar, or of one array element."""
        return self.python_type()

    def default_value(self) -> typing.Any:
        """Return a new default value: a scalar, or a list of ``count``
        default elements.
        """
        if self.count > 1:
            return [self.default_scalar_value] * self.count
        return self.default_scalar_value

    def make_dataclass_tuple(self) -> tuple[str, typing.Any, typing.Any]:
        """Return (name, type, field) for `dataclasses.make_dataclass`."""
        if self.count > 1:
            scalar_default = self.default_scalar_value
            count = self.count
            return (
                self.name,
                list[self.python_type],  # type: ignore[name-defined]
                dataclasses.field(default_factory=lambda: [scalar_default] * count),
            )
        return (self.name, self.python_type, dataclasses.field(default=self.default_scalar_value))

    def check_value(self, value: typing.Any, topic_name: str = "") -> typing.Any:
        """Check a value for this field and return it in canonical form.

        Integers given to float fields become floats, numpy scalars become
        Python scalars and arrays (any sequence or numpy array of the right
        length) become a new `list`.

        Parameters
        ----------
        value : `typing.Any`
            The value to check.
        topic_name : `str`, optional
            Name of the topic, used in error messages.

        Returns
        -------
        value : `typing.Any`
            The value in canonical form (a new list for an array).

        Raises
        ------
        TypeError
            If the value, or an array element, has the wrong type.
        ValueError
            If an array has the wrong length, or a value is out of range.
        """
        where = f"{topic_name}.{self.name}" if topic_name else self.name
        if self.count > 1:
            if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__len__"):
                raise TypeError(
                    f"{where} must be a sequence of {self.count} {self.sal_type} values; "
                    f"got {type(value).__name__} {value!r}"
                )
            if len(value) != self.count:
                raise ValueError(
                    f"{where} must have exactly {self.count} elements; got {len(value)}: {list(value)!r}"
                )
            return [self._check_scalar(item, f"{where}[{i}]") for i, item in enumerate(value)]
        return self._check_scalar(value, where)

    def _check_scalar(self, value: typing.Any, where: str) -> typing.Any:
        """Check one scalar value (or array element) and return it as a
        Python scalar of the right type.
        """
        python_type, int_range = _SAL_TYPES[self.sal_type]
        if python_type is bool:
            # Accept numpy booleans (which are not a bool subclass).
            if _is_bool(value):
                return bool(value)
        elif python_type is int:
            if isinstance(value, numbers.Integral) and not _is_bool(value):
                result = int(value)
                assert int_range is not None
                if not int_range[0] <= result <= int_range[1]:
                    raise ValueError(
                        f"{where}={result} is out of range for SAL type {self.sal_type!r}: "
                        f"must be in [{int_range[0]}, {int_range[1]}]"
                    )
                return result
        elif python_type is float:
            if isinstance(value, numbers.Real) and not _is_bool(value):
                result_float = float(value)
                if (
                    self.sal_type == "float"
                    and math.isfinite(result_float)
                    and abs(result_float) > _FLOAT32_MAX
                ):
                    raise ValueError(f"{where}={result_float} is too large for SAL type 'float'")
                return result_float
        elif isinstance(value, str):
            return value
        raise TypeError(
            f"{where} must be {_type_phrase(self.sal_type, python_type)}; "
            f"got {type(value).__name__} {value!r}"
        )

    @classmethod
    def from_dict(cls, name: str, data: typing.Any, where: str = "") -> "FieldInfo":
        """Make a FieldInfo from an interface file entry.

        Parameters
        ----------
        name : `str`
            Field name.
        data : `dict`
            Mapping with keys ``type`` (required), ``count``, ``units``,
            ``description``, ``enumeration`` (a mapping of item name:
            integer value).
        where : `str`, optional
            Where the entry was read (file and topic), for error messages.

        Raises
        ------
        ValueError
            If the entry is malformed.
        """
        prefix = f"{where}: field {name}" if where else f"field {name}"
        if not isinstance(data, dict):
            raise ValueError(f"{prefix}: expected a mapping with a 'type' key; got {data!r}")
        unknown = set(data) - {"type", "count", "units", "description", "enumeration"}
        if unknown:
            raise ValueError(
                f"{prefix}: unknown keys {sorted(unknown)}; "
                "allowed: type, count, units, description, enumeration"
            )
        enumeration = data.get("enumeration") or {}
        if not isinstance(enumeration, dict):
            raise ValueError(f"{prefix}: 'enumeration' must be a mapping of item name: value")
        if "type" not in data:
            raise ValueError(f"{prefix}: missing required key 'type'")
        try:
            return cls(
                name=name,
                sal_type=data["type"],
                count=data.get("count", 1),
                units=str(data.get("units", "unitless")),
                description=str(data.get("description", "")).strip(),
                enumeration={str(item): value for item, value in enumeration.items()},
            )
        except ValueError as e:
            raise ValueError(f"{where}: {e}" if where else str(e)) from e


def _is_bool(value: typing.Any) -> bool:
    """Return True if value is a Python or numpy boolean."""
    value_type = type(value)
    return isinstance(value, bool) or (
        value_type.__module__ == "numpy" and value_type.__name__ in ("bool", "bool_")
    )


def _type_phrase(sal_type: str, python_type: type) -> str:
    """Describe the values accepted for a SAL type."""
    if python_type is bool:
        return "a bool"
    if python_type is int:
        return f"an int (SAL type {sal_type!r})"
    if python_type is float:
        return f"a float or int (SAL type {sal_type!r})"
    return "a str"
