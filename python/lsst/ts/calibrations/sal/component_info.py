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

"""Description of one SAL component (its topics), loaded from an interface
definition file in ``data/interfaces``.
"""

__all__ = ["ComponentInfo"]

import pathlib
import threading
import typing

import yaml

from .topic_info import TopicInfo

INTERFACES_DIR = pathlib.Path(__file__).parent / "data" / "interfaces"
GENERICS_FILE_NAME = "_generics.yaml"

# Section of an interface file: topic kind.
_SECTION_KINDS = {"commands": "command", "events": "event", "telemetry": "telemetry"}
# SAL name prefix: section, for generic topics named like "logevent_summaryState".
_SAL_PREFIX_SECTIONS = {"command_": "commands", "logevent_": "events"}
_COMPONENT_KEYS = {
    "name",
    "indexed",
    "index_enumeration",
    "generics",
    "ts_xml_version",
    "generated_by",
    "description",
    "enums",
    *_SECTION_KINDS,
}
# The C YAML parser, when PyYAML has it, reads the larger camera files
# about ten times faster than the pure Python one.
_YamlLoader: typing.Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ComponentInfo:
    """Information about a SAL component: its name, whether it is indexed,
    and its topics.

    Use `from_name` to load the interface definition of a known component.

    Parameters
    ----------
    name : `str`
        Component name, e.g. "CCCamera".
    indexed : `bool`
        Is the component indexed (several instances told apart by index)?
    topics : `list` [`TopicInfo`]
        All topics, including generic topics and ackcmd.
    description : `str`, optional
        Description of the component.
    ts_xml_version : `str`, optional
        The ts_xml release the topics were taken from.
    generated_by : `str`, optional
        The converter that made the interface file from ts_xml.
    enums : `dict` [`str`, `dict` [`str`, `int`]], optional
        ts_xml's enumerations of the component (the file-level
        ``<Enumeration>`` elements): enumeration name: {item name: value},
        e.g. ``{"ScriptState": {"Unconfigured": 1, ...}}``.
    index_enumeration : `dict` [`str`, `int`], optional
        Named SAL indices of an indexed component (ts_xml's
        ``IndexEnumeration``), e.g. ``{"MainTel": 1, "AuxTel": 2, "OCS": 3}``;
        empty if any index may be used.

    Attributes
    ----------
    topics : `dict` [`str`, `TopicInfo`]
        Topics by attribute name (``cmd_takeImages``, ``evt_summaryState``,
        ``tel_scalars``, ``ack_ackcmd``), sorted.

    Raises
    ------
    ValueError
        If two topics have the same attribute name, or a topic belongs to
        another component.
    """

    def __init__(
        self,
        name: str,
        indexed: bool,
        topics: list[TopicInfo],
        description: str = "",
        ts_xml_version: str = "",
        generated_by: str = "",
        enums: dict[str, dict[str, int]] | None = None,
        index_enumeration: dict[str, int] | None = None,
    ) -> None:
        self.name = name
        self.indexed = indexed
        self.description = description
        self.ts_xml_version = ts_xml_version
        self.generated_by = generated_by
        self.enums: dict[str, dict[str, int]] = {key: dict(value) for key, value in (enums or {}).items()}
        self.index_enumeration: dict[str, int] = dict(index_enumeration or {})
        if self.index_enumeration and not indexed:
            raise ValueError(f"{name}: index_enumeration is set but the component is not indexed")
        topic_dict: dict[str, TopicInfo] = {}
        for topic in topics:
            if topic.component_name != name:
                raise ValueError(f"{name}: topic {topic.full_name} belongs to another component")
            if topic.attr_name in topic_dict:
                raise ValueError(f"{name}: topic {topic.attr_name} is defined more than once")
            topic_dict[topic.attr_name] = topic
        self.topics: dict[str, TopicInfo] = dict(sorted(topic_dict.items()))

    @property
    def command_names(self) -> list[str]:
        """Bare names of the commands, sorted."""
        return self._names_of_kind("command")

    @property
    def event_names(self) -> list[str]:
        """Bare names of the events, sorted."""
        return self._names_of_kind("event")

    @property
    def telemetry_names(self) -> list[str]:
        """Bare names of the telemetry topics, sorted."""
        return self._names_of_kind("telemetry")

    @property
    def ackcmd(self) -> TopicInfo:
        """The command acknowledgement topic."""
        return self.topics["ack_ackcmd"]

    def _names_of_kind(self, kind: str) -> list[str]:
        return sorted(topic.name for topic in self.topics.values() if topic.kind == kind)

    def __getitem__(self, attr_name: str) -> TopicInfo:
        """Return a topic by attribute name, naming the known ones if
        there is no such topic.
        """
        try:
            return self.topics[attr_name]
        except KeyError:
            raise KeyError(
                f"{self.name} has no topic {attr_name!r}; topics: {', '.join(self.topics)}"
            ) from None

    @classmethod
    def from_name(cls, name: str) -> "ComponentInfo":
        """Return the ComponentInfo of a known component (loaded once,
        then cached).

        Parameters
        ----------
        name : `str`
            Component name: the name of a file ``<name>.yaml`` in
            ``data/interfaces``.

        Raises
        ------
        ValueError
            If there is no such component, or its file is malformed.
        """
        with _cache_lock:
            info = _cache.get(name)
            if info is None:
                path = INTERFACES_DIR / f"{name}.yaml"
                if name.startswith("_") or not path.is_file():
                    raise ValueError(
                        f"Unknown SAL component {name!r}; "
                        f"known components: {', '.join(cls.available_names())}"
                    )
                info = cls.from_file(path)
                if info.name != name:
                    raise ValueError(f"{path}: name {info.name!r} does not match the file name")
                _cache[name] = info
            return info

    @staticmethod
    def available_names() -> list[str]:
        """Names of the components with an interface file, sorted."""
        return sorted(path.stem for path in INTERFACES_DIR.glob("*.yaml") if not path.name.startswith("_"))

    @classmethod
    def from_file(cls, path: str | pathlib.Path) -> "ComponentInfo":
        """Load a ComponentInfo from an interface definition file.

        Generic topics named by the file's ``generics`` key are taken from
        ``_generics.yaml`` in the same directory.

        Raises
        ------
        ValueError
            If the file is malformed.
        """
        path = pathlib.Path(path)
        data = _load_yaml(path)
        generics_path = path.parent / GENERICS_FILE_NAME
        return cls.from_dict(data, generics=_load_generics(generics_path), where=str(path))

    @classmethod
    def from_dict(
        cls,
        data: typing.Any,
        generics: dict[str, typing.Any] | None = None,
        where: str = "",
    ) -> "ComponentInfo":
        """Make a ComponentInfo from the parsed contents of an interface file.

        Parameters
        ----------
        data : `dict`
            Parsed interface file: keys ``name``, ``indexed``,
            ``index_enumeration``, ``generics``, ``ts_xml_version``,
            ``generated_by``, ``description``, ``enums``, ``commands``,
            ``events``, ``telemetry``.
        generics : `dict`, optional
            Parsed generics file (keys ``groups``, ``commands``, ``events``);
            required if ``data["generics"]`` names any generic topic.
        where : `str`, optional
            Where the data was read, for error messages.

        Raises
        ------
        ValueError
            If the data is malformed.
        """
        where = where or "interface definition"
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected a mapping at the top level")
        unknown = set(data) - _COMPONENT_KEYS
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(_COMPONENT_KEYS)}")
        name = data.get("name")
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"{where}: 'name' must be an identifier; got {name!r}")
        indexed = data.get("indexed", False)
        if not isinstance(indexed, bool):
            raise ValueError(f"{where}: 'indexed' must be true or false; got {indexed!r}")

        sections: dict[str, dict[str, typing.Any]] = {}
        for section in _SECTION_KINDS:
            entries = data.get(section) or {}
            if not isinstance(entries, dict):
                raise ValueError(f"{where}: {section!r} must be a mapping of topic name: topic entry")
            sections[section] = dict(entries)

        generic_names = _expand_generics(data.get("generics", "none"), generics, where)
        for sal_name in generic_names:
            section, bare_name = _split_generic_name(sal_name, where)
            assert generics is not None
            if bare_name in sections[section]:
                raise ValueError(
                    f"{where}: {section} {bare_name} is also a generic topic ({sal_name}); "
                    "remove it from the file or from 'generics'"
                )
            sections[section][bare_name] = generics[section][bare_name]

        topics = [TopicInfo.make_ackcmd(name)]
        for section, kind in _SECTION_KINDS.items():
            for topic_name, topic_data in sections[section].items():
                topics.append(TopicInfo.from_dict(name, str(topic_name), kind, topic_data, where=where))
        enums = _check_enums(data.get("enums"), where)
        index_enumeration = _check_enum_items(data.get("index_enumeration"), f"{where}: index_enumeration")
        try:
            return cls(
                name=name,
                indexed=indexed,
                topics=topics,
                description=str(data.get("description", "")).strip(),
                ts_xml_version=str(data.get("ts_xml_version", "")),
                generated_by=str(data.get("generated_by", "")),
                enums=enums,
                index_enumeration=index_enumeration,
            )
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from e

    def __repr__(self) -> str:
        return f"ComponentInfo({self.name}, indexed={self.indexed}, {len(self.topics)} topics)"


_cache: dict[str, ComponentInfo] = {}
_cache_lock = threading.Lock()


def _load_yaml(path: pathlib.Path) -> typing.Any:
    """Read a YAML file, naming the file in errors."""
    try:
        with open(path) as f:
            return yaml.load(f, Loader=_YamlLoader)
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"Cannot read interface file {path}: {e}") from e


def _load_generics(path: pathlib.Path) -> dict[str, typing.Any] | None:
    """Read and check a generics file; None if there is none."""
    if not path.is_file():
        return None
    data = _load_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("groups"), dict):
        raise ValueError(f"{path}: expected a mapping with keys 'groups', 'commands', 'events'")
    for section in ("commands", "events"):
        if not isinstance(data.get(section) or {}, dict):
            raise ValueError(f"{path}: {section!r} must be a mapping of topic name: topic entry")
        data[section] = data.get(section) or {}
    return data


def _check_enum_items(value: typing.Any, where: str) -> dict[str, int]:
    """Check a mapping of enumeration item name: integer value."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(item, str) and isinstance(number, int) and not isinstance(number, bool)
        for item, number in value.items()
    ):
        raise ValueError(f"{where}: must be a mapping of item name: integer value; got {value!r}")
    return value


def _check_enums(value: typing.Any, where: str) -> dict[str, dict[str, int]]:
    """Check the ``enums`` of an interface file: name: {item: value}."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{where}: 'enums' must be a mapping of enumeration name: {{item: value}}")
    return {str(name): _check_enum_items(items, f"{where}: enums {name}") for name, items in value.items()}


def _expand_generics(value: typing.Any, generics: dict[str, typing.Any] | None, where: str) -> list[str]:
    """Expand a ``generics`` value (a group name, a SAL topic name such as
    "logevent_largeFileObjectAvailable", or a list of these) into a sorted
    list of generic SAL topic names.
    """
    if value is None or value == "none":
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ValueError(f"{where}: 'generics' must be a name or a list of names; got {value!r}")
    if generics is None:
        raise ValueError(f"{where}: 'generics' is {value!r} but there is no {GENERICS_FILE_NAME} beside it")
    groups: dict[str, typing.Any] = generics["groups"]
    result: set[str] = set()

    def add(item: str, trail: tuple[str, ...]) -> None:
        if item == "none":
            return
        if item in groups:
            if item in trail:
                raise ValueError(f"{GENERICS_FILE_NAME}: group {item!r} includes itself")
            for member in groups[item] or []:
                add(member, trail + (item,))
            return
        if not item.startswith(tuple(_SAL_PREFIX_SECTIONS)):
            raise ValueError(
                f"{where}: unknown generic {item!r}; groups: {sorted(groups)}; "
                f"topics: {_generic_sal_names(generics)}"
            )
        section, bare_name = _split_generic_name(item, where)
        if bare_name not in generics[section]:
            raise ValueError(
                f"{where}: unknown generic {item!r}; groups: {sorted(groups)}; "
                f"topics: {_generic_sal_names(generics)}"
            )
        result.add(item)

    for item in items:
        add(item, ())
    return sorted(result)


def _split_generic_name(sal_name: str, where: str) -> tuple[str, str]:
    """Split "logevent_summaryState" into ("events", "summaryState")."""
    for prefix, section in _SAL_PREFIX_SECTIONS.items():
        if sal_name.startswith(prefix):
            return section, sal_name[len(prefix) :]
    raise ValueError(
        f"{where}: generic {sal_name!r} is neither a group "
        "nor a topic named command_<name> or logevent_<name>"
    )


def _generic_sal_names(generics: dict[str, typing.Any]) -> list[str]:
    """All generic topic SAL names."""
    return sorted(
        [f"command_{name}" for name in generics["commands"]]
        + [f"logevent_{name}" for name in generics["events"]]
    )
