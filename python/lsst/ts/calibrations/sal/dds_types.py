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


"""SAL topics as DDS types: the IDL struct of a topic, and samples back to messages.

The IDL struct of a (component, SAL topic) is made at run time from the
interface definition (`TopicInfo`): one member per field, arrays as
``types.array[T, count]``, the private fields after the topic's own, and
``salIndex`` as the key. The SAL types map to IDL types as in
ts_sal's IDL (`IDL_TYPES`). Each type's XTypes data comes from the
machine's `DdsTypeCache` when it holds it.
"""

__all__ = ["IDL_TYPES", "idl_type_of", "make_converter", "sample_field_names", "topic_kind"]

import functools
from collections.abc import Callable
from typing import Any

from cyclonedds.idl import IdlStruct, make_idl_struct, types

from .component_info import ComponentInfo
from .dds_type_cache import DdsTypeCache
from .topic_info import TopicInfo

IDL_TYPES: dict[str, Any] = {
    "boolean": bool,
    "byte": types.uint8,
    "short": types.int16,
    "int": types.int32,
    "long": types.int64,
    "long long": types.int64,
    "unsigned short": types.uint16,
    "unsigned int": types.uint32,
    "unsigned long": types.uint64,
    "float": types.float32,
    "double": types.float64,
    "string": str,
}
"""SAL field type: IDL type."""


@functools.cache
def idl_type_of(component: str, sal_name: str) -> tuple[type[IdlStruct], TopicInfo]:
    """Return the IDL struct type of a topic, made from its interface definition.

    Parameters
    ----------
    component : `str`
        SAL component name, e.g. "Test".
    sal_name : `str`
        SAL topic name, e.g. "logevent_summaryState".

    Returns
    -------
    idl_type : `type` [`IdlStruct`]
        The struct, named ``lsst_sal::COMPONENT::SAL_NAME``; the same object
        on every call.
    topic_info : `TopicInfo`
        The topic's interface definition.

    Raises
    ------
    ValueError
        If the component has no topic of that SAL name.
    """
    component_info = ComponentInfo.from_name(component)
    topic_info = next((t for t in component_info.topics.values() if t.sal_name == sal_name), None)
    if topic_info is None:
        raise ValueError(f"{component} has no topic with SAL name {sal_name!r}")
    fields: dict[str, Any] = {}
    members = []
    for info in (*topic_info.fields.values(), *TopicInfo.PRIVATE_FIELDS.values()):
        idl = IDL_TYPES[info.sal_type]
        fields[info.name] = types.array[idl, info.count] if info.count > 1 else idl  # type: ignore[misc]
        members.append((info.name, info.sal_type, info.count))
    typename = f"lsst_sal::{component}::{sal_name}"
    idl_type = make_idl_struct(
        f"{component}_{sal_name}",
        typename,
        fields,
        field_annotations={_KEY: {"key": True}},
    )
    cache = _type_cache()
    cache.prefill(idl_type, cache.key(typename, tuple(members), (_KEY,)))
    return idl_type, topic_info


_KEY = "salIndex"
"""The key member of every topic type."""


@functools.cache
def _type_cache() -> DdsTypeCache:
    """The process's type data cache, chosen by the environment when first needed."""
    return DdsTypeCache.from_env()


def topic_kind(sal_name: str) -> str:
    """Return the kind of a SAL topic: "command", "event", "ackcmd" or "telemetry".

    Parameters
    ----------
    sal_name : `str`
        SAL topic name, e.g. "command_start".
    """
    if sal_name.startswith("command_"):
        return "command"
    if sal_name.startswith("logevent_"):
        return "event"
    if sal_name == "ackcmd":
        return "ackcmd"
    return "telemetry"


def sample_field_names(topic_info: TopicInfo) -> tuple[str, ...]:
    """Return the names of a sample's members: the topic's fields, then the private ones.

    Parameters
    ----------
    topic_info : `TopicInfo`
        The topic.
    """
    return (*topic_info.fields, *TopicInfo.PRIVATE_FIELDS)


def make_converter(topic_info: TopicInfo) -> Callable[[Any], Any]:
    """Return a function turning a DDS sample of a topic into its ``DataType``.

    Parameters
    ----------
    topic_info : `TopicInfo`
        The topic.

    Returns
    -------
    convert : callable
        ``convert(sample) -> DataType``; array members become lists, so
        the message shares nothing with the sample.
    """
    data_type = topic_info.DataType
    names = sample_field_names(topic_info)
    array_names = frozenset(name for name, info in topic_info.fields.items() if info.count > 1)

    def convert(sample: Any) -> Any:
        values = {name: getattr(sample, name) for name in names}
        for name in array_names:
            values[name] = list(values[name])
        return data_type(**values)

    return convert
