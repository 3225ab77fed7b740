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

"""Convert ts_xml's SAL interface definitions (XML) into this package's
interface files (YAML, read by `ComponentInfo`).

Run as::

    python -m lsst.ts.calibrations.sal.xml_interface_converter XML_DIR OUT_DIR \
        [--components NAME ...] [--ts-xml-version "v28.0.1 (<commit>)"]

where ``XML_DIR`` is ts_xml's ``python/lsst/ts/xml/data/sal_interfaces``;
the release is found with git when ``XML_DIR`` is in a ts_xml checkout.
"""

__all__ = ["XmlInterfaceConverter"]

import argparse
import json
import pathlib
import re
import subprocess
import sys
import typing
from xml.etree import ElementTree

import yaml

CONVERTER_NAME = "lsst.ts.calibrations.sal.xml_interface_converter"

# XML topic element tag: (section of the interface file, SAL name prefix).
_TOPIC_TAGS = {
    "SALCommand": ("commands", "command_"),
    "SALEvent": ("events", "logevent_"),
    "SALTelemetry": ("telemetry", ""),
}
# File name suffix of each section's XML file.
_FILE_SUFFIXES = {"commands": "Commands", "events": "Events", "telemetry": "Telemetry"}
# Avro type of a field of an .avsc topic schema: SAL type (as ts_xml reads
# them, the Avro type name is the SAL type).
_AVRO_TYPES = {"boolean", "int", "long", "float", "double", "string"}
# Generic topics every component with generics has (ts_xml adds this
# category to each component's AddedGenerics).
MANDATORY_CATEGORY = "mandatory"


class XmlInterfaceConverter:
    """Convert ts_xml SAL interface XML files into interface YAML files.

    Parameters
    ----------
    xml_dir : `str` or `pathlib.Path`
        ts_xml's ``sal_interfaces`` directory: ``SALSubsystems.xml``,
        ``SALGenerics.xml`` and one directory per component holding
        ``<Name>_Commands.xml``, ``<Name>_Events.xml`` and
        ``<Name>_Telemetry.xml`` (each optional).
    ts_xml_version : `str`
        The ts_xml release the files come from, e.g.
        "v28.0.1 (9e72b8ad...)"; recorded in every output file.
    avro_dir : `str` or `pathlib.Path` or `None`, optional
        ts_xml's ``interfaces`` directory of Avro topic schemas
        (``<Name>/<topic>.avsc``, camera telemetry). Default: the
        ``interfaces`` directory beside ``xml_dir``, if there is one.

    Raises
    ------
    ValueError
        If ``xml_dir`` has no ``SALSubsystems.xml`` or ``SALGenerics.xml``.
    """

    def __init__(
        self,
        xml_dir: str | pathlib.Path,
        ts_xml_version: str,
        avro_dir: str | pathlib.Path | None = None,
    ) -> None:
        self.xml_dir = pathlib.Path(xml_dir)
        if not ts_xml_version.strip():
            raise ValueError("ts_xml_version must name the ts_xml release, e.g. 'v28.0.1 (<commit>)'")
        self.ts_xml_version = ts_xml_version.strip()
        for file_name in ("SALSubsystems.xml", "SALGenerics.xml"):
            if not (self.xml_dir / file_name).is_file():
                raise ValueError(
                    f"{self.xml_dir} has no {file_name}: XML_DIR must be ts_xml's "
                    "python/lsst/ts/xml/data/sal_interfaces directory"
                )
        if avro_dir is None:
            default_avro_dir = self.xml_dir.parent / "interfaces"
            self.avro_dir: pathlib.Path | None = default_avro_dir if default_avro_dir.is_dir() else None
        else:
            self.avro_dir = pathlib.Path(avro_dir)
        self._subsystems = self._read_subsystems()

    @property
    def component_names(self) -> list[str]:
        """Names of all components of ``SALSubsystems.xml``, sorted."""
        return sorted(self._subsystems)

    def convert_generics(self) -> dict[str, typing.Any]:
        """Convert ``SALGenerics.xml``.

        Returns
        -------
        generics : `dict`
            Keys ``ts_xml_version``, ``generated_by``, ``groups`` (category:
            list of generic SAL topic names), ``enums``, ``commands`` and
            ``events`` (bare topic name: topic entry).
        """
        path = self.xml_dir / "SALGenerics.xml"
        root = _parse(path)
        groups: dict[str, list[str]] = {}
        sections: dict[str, dict[str, typing.Any]] = {"commands": {}, "events": {}}
        enums: dict[str, dict[str, int]] = {}
        # The root holds a SALCommandSet and a SALEventSet.
        for element in (element for topic_set in root for element in topic_set):
            if element.tag == "Enumeration" and element.text and element.text.strip():
                _add_global_enum(enums, element.text, where=str(path))
            if element.tag not in _TOPIC_TAGS:
                continue
            section, prefix = _TOPIC_TAGS[element.tag]
            if section not in sections:
                raise ValueError(f"{path}: generic topics must be commands or events; got {element.tag}")
            topic_where = f"{path}: {element.tag}"
            full_name = _required_text(element, "EFDB_Topic", topic_where)
            sal_name = _strip_component(full_name, "SALGeneric", topic_where)
            if not sal_name.startswith(prefix):
                raise ValueError(f"{topic_where} {full_name}: expected a name SALGeneric_{prefix}<name>")
            bare_name = sal_name[len(prefix) :]
            if bare_name in sections[section]:
                raise ValueError(f"{path}: generic topic {sal_name} is defined twice")
            sections[section][bare_name] = _convert_topic(element, f"{path}: {sal_name}")
            category = _optional_text(element, "Category", "").strip()
            if category:
                groups.setdefault(category, []).append(sal_name)
        return {
            "ts_xml_version": self.ts_xml_version,
            "generated_by": CONVERTER_NAME,
            "groups": groups,
            "enums": enums,
            **sections,
        }

    def convert_component(self, name: str) -> dict[str, typing.Any]:
        """Convert the interface of one component.

        Parameters
        ----------
        name : `str`
            Component name, as in ``SALSubsystems.xml``.

        Returns
        -------
        interface : `dict`
            The contents of the component's interface file.

        Raises
        ------
        ValueError
            If the component is not in ``SALSubsystems.xml`` or its files
            are malformed.
        """
        subsystem = self._subsystems.get(name)
        if subsystem is None:
            raise ValueError(
                f"Unknown SAL component {name!r}: not in {self.xml_dir / 'SALSubsystems.xml'}; "
                f"known: {', '.join(self.component_names)}"
            )
        index_text = _optional_text(subsystem, "IndexEnumeration", "no").strip()
        indexed = index_text != "no"
        added = [item.strip() for item in _optional_text(subsystem, "AddedGenerics", "").split(",")]
        generics = [MANDATORY_CATEGORY] + [item for item in added if item and item != MANDATORY_CATEGORY]
        data: dict[str, typing.Any] = {
            "name": name,
            "indexed": indexed,
        }
        if indexed and index_text != "any":
            data["index_enumeration"] = _parse_enum_items(
                index_text, where=f"SALSubsystems.xml {name} IndexEnumeration"
            )
        data["generics"] = generics
        data["ts_xml_version"] = self.ts_xml_version
        data["generated_by"] = CONVERTER_NAME
        data["description"] = _clean(_optional_text(subsystem, "Description", ""))
        enums: dict[str, dict[str, int]] = {}
        sections: dict[str, dict[str, typing.Any]] = {section: {} for section in _FILE_SUFFIXES}
        component_dir = self.xml_dir / name
        for section, suffix in _FILE_SUFFIXES.items():
            path = component_dir / f"{name}_{suffix}.xml"
            if not path.is_file():
                continue
            root = _parse(path)
            for element in root:
                if element.tag == "Enumeration":
                    if element.text and element.text.strip():
                        _add_global_enum(enums, element.text, where=str(path))
                    continue
                if element.tag not in _TOPIC_TAGS:
                    continue
                topic_section, prefix = _TOPIC_TAGS[element.tag]
                if topic_section != section:
                    raise ValueError(f"{path}: a {element.tag} element in the {suffix} file")
                topic_where = f"{path}: {element.tag}"
                full_name = _required_text(element, "EFDB_Topic", topic_where)
                sal_name = _strip_component(full_name, name, topic_where)
                if not sal_name.startswith(prefix):
                    raise ValueError(f"{topic_where} {full_name}: expected a name {name}_{prefix}<name>")
                bare_name = sal_name[len(prefix) :]
                if bare_name in sections[section]:
                    raise ValueError(f"{path}: topic {sal_name} is defined twice")
                sections[section][bare_name] = _convert_topic(element, f"{path}: {sal_name}")
        if self.avro_dir is not None:
            for path in sorted((self.avro_dir / name).glob("*.avsc")):
                # ts_xml reads these after the XML topics, so one of the same
                # name replaces the XML telemetry topic.
                sections["telemetry"][path.stem] = _convert_avro_topic(path)
        if enums:
            data["enums"] = enums
        data.update(sections)
        return data

    def write(self, out_dir: str | pathlib.Path, names: typing.Iterable[str]) -> list[pathlib.Path]:
        """Convert the generics and the named components and write one
        interface file per component, and ``_generics.yaml``.

        Parameters
        ----------
        out_dir : `str` or `pathlib.Path`
            Directory to write to (made if needed).
        names : iterable of `str`
            Component names.

        Returns
        -------
        paths : `list` [`pathlib.Path`]
            The files written: ``_generics.yaml`` first.
        """
        out_dir = pathlib.Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        outputs = [("_generics", self.convert_generics())]
        outputs += [(name, self.convert_component(name)) for name in names]
        paths: list[pathlib.Path] = []
        for file_stem, data in outputs:
            path = out_dir / f"{file_stem}.yaml"
            path.write_text(self.to_yaml(data, what=file_stem))
            paths.append(path)
        return paths

    def to_yaml(self, data: dict[str, typing.Any], what: str) -> str:
        """Format converted data as the text of an interface file, with a
        header naming the source and the converter.

        Parameters
        ----------
        data : `dict`
            Output of `convert_component` or `convert_generics`.
        what : `str`
            Component name, or "_generics".
        """
        if what == "_generics":
            subject = "Generic SAL topics (ts_xml SALGenerics.xml)"
        else:
            subject = f"Interface of the SAL component {what}"
        header = (
            f"# {subject}.\n"
            f"# Generated from ts_xml {self.ts_xml_version}\n"
            f"# by python -m {CONVERTER_NAME}; do not edit by hand\n"
            "# (see doc/sal/interfaces.rst).\n"
        )
        body = yaml.dump(
            data,
            Dumper=_Dumper,
            sort_keys=False,
            default_flow_style=None,
            allow_unicode=True,
            width=10_000,
        )
        return header + body

    def _read_subsystems(self) -> dict[str, ElementTree.Element]:
        """Read SALSubsystems.xml: component name: its element."""
        path = self.xml_dir / "SALSubsystems.xml"
        subsystems: dict[str, ElementTree.Element] = {}
        for element in _parse(path).findall("SALSubsystem"):
            name = _required_text(element, "Name", f"{path}: SALSubsystem").strip()
            if name in subsystems:
                raise ValueError(f"{path}: component {name} is defined twice")
            subsystems[name] = element
        return subsystems


class _Dumper(yaml.SafeDumper):
    """YAML dumper that writes multi-line strings plainly and never uses
    aliases.
    """

    def ignore_aliases(self, data: typing.Any) -> bool:
        return True


def _parse(path: pathlib.Path) -> ElementTree.Element:
    """Parse an XML file, naming the file in errors."""
    try:
        return ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError) as e:
        raise ValueError(f"Cannot read {path}: {e}") from e


def _optional_text(element: ElementTree.Element, tag: str, default: str) -> str:
    """Return the text of a sub-element, or ``default`` if absent or
    empty.
    """
    sub = element.find(tag)
    if sub is None or sub.text is None:
        return default
    return sub.text


def _required_text(element: ElementTree.Element, tag: str, where: str) -> str:
    """Return the stripped text of a required sub-element."""
    text = _optional_text(element, tag, "").strip()
    if not text:
        raise ValueError(f"{where}: missing required <{tag}>")
    return text


def _clean(text: str) -> str:
    """Collapse white space (XML indentation and line breaks)."""
    return " ".join(text.split())


def _strip_component(full_name: str, component: str, where: str) -> str:
    """Return the SAL topic name from an EFDB_Topic "<component>_<name>"."""
    prefix = f"{component}_"
    if not full_name.startswith(prefix):
        raise ValueError(f"{where} {full_name}: EFDB_Topic must start with {prefix!r}")
    return full_name[len(prefix) :]


def _convert_topic(element: ElementTree.Element, where: str) -> dict[str, typing.Any]:
    """Convert one SALCommand, SALEvent or SALTelemetry element."""
    topic: dict[str, typing.Any] = {"description": _clean(_optional_text(element, "Description", ""))}
    fields: dict[str, typing.Any] = {}
    for item in element.findall("item"):
        name = _required_text(item, "EFDB_Name", f"{where}: item")
        field_where = f"{where}.{name}"
        if name in fields:
            raise ValueError(f"{where}: field {name} is defined twice")
        sal_type = _clean(_required_text(item, "IDL_Type", field_where))
        count_text = _optional_text(item, "Count", "1").strip() or "1"
        try:
            count = int(count_text)
        except ValueError:
            raise ValueError(f"{field_where}: <Count> must be an integer; got {count_text!r}") from None
        if sal_type == "string":
            # SAL has no string arrays: a string's Count is ignored, as ts_xml does.
            count = 1
        entry: dict[str, typing.Any] = {"type": sal_type}
        if count != 1:
            entry["count"] = count
        entry["units"] = _optional_text(item, "Units", "unitless").strip() or "unitless"
        entry["description"] = _clean(_optional_text(item, "Description", ""))
        enum_text = _optional_text(item, "Enumeration", "").strip()
        if enum_text:
            entry["enumeration"] = _parse_enum_items(enum_text, where=f"{field_where} <Enumeration>")
        fields[name] = entry
    if fields:
        topic["fields"] = fields
    return topic


def _convert_avro_topic(path: pathlib.Path) -> dict[str, typing.Any]:
    """Convert one Avro topic schema (a ts_xml ``.avsc`` file)."""
    try:
        schema = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"Cannot read {path}: {e}") from e
    if not isinstance(schema, dict) or not isinstance(schema.get("fields"), list):
        raise ValueError(f"{path}: expected an Avro record schema with a 'fields' list")
    topic: dict[str, typing.Any] = {"description": _clean(str(schema.get("description", "")))}
    fields: dict[str, typing.Any] = {}
    for field in schema["fields"]:
        name = field.get("name") if isinstance(field, dict) else None
        if not isinstance(name, str):
            raise ValueError(f"{path}: every field needs a 'name'; got {field!r}")
        avro_type = field.get("type")
        if isinstance(avro_type, list):
            # A nullable field: ["null", "<type>"].
            non_null = [item for item in avro_type if item != "null"]
            avro_type = non_null[0] if len(non_null) == 1 else None
        if not isinstance(avro_type, str) or avro_type not in _AVRO_TYPES:
            raise ValueError(
                f"{path}: field {name}: type {field.get('type')!r} is not one of {sorted(_AVRO_TYPES)} "
                "(or a union of one of them with null)"
            )
        if name in fields:
            raise ValueError(f"{path}: field {name} is defined twice")
        fields[name] = {
            "type": avro_type,
            "units": str(field.get("units", "unitless")),
            "description": _clean(str(field.get("description", ""))),
        }
    if fields:
        topic["fields"] = fields
    return topic


_ENUM_SPLIT = re.compile(r"\s*,\s*")


def _parse_enum_value(text: str, where: str) -> int:
    """Parse an enumeration value as C does: 0x... hex, 0... octal."""
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-").strip()
    try:
        if digits.lower().startswith("0x"):
            return sign * int(digits, 16)
        if len(digits) > 1 and digits.startswith("0"):
            return sign * int(digits, 8)
        return sign * int(digits, 10)
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not an integer value") from None


def _parse_enum_items(text: str, where: str) -> dict[str, int]:
    """Parse SAL enumeration text, "A, B, C" or "A=0, B=2", into
    item: value.

    Items without a value are numbered from 1, or from one more than the
    previous item's value.
    """
    items: dict[str, int] = {}
    next_value = 1
    for raw in _ENUM_SPLIT.split(text.strip().strip(",")):
        raw = raw.strip()
        if not raw:
            raise ValueError(f"{where}: empty item in {text!r}")
        if "=" in raw:
            name, value_text = (part.strip() for part in raw.split("=", 1))
            value = _parse_enum_value(value_text, where)
        else:
            name, value = raw, next_value
        if not name.isidentifier():
            raise ValueError(f"{where}: item name {name!r} is not an identifier")
        if name in items:
            raise ValueError(f"{where}: item {name} is listed twice")
        items[name] = value
        next_value = value + 1
    return items


def _add_global_enum(enums: dict[str, dict[str, int]], text: str, where: str) -> None:
    """Parse a file-level enumeration, "Prefix_A, Prefix_B", and add it to
    ``enums`` as Prefix: {A: 1, B: 2}.
    """
    items = _parse_enum_items(text, where=f"{where} <Enumeration>")
    prefixes = {name.split("_", 1)[0] for name in items}
    if len(prefixes) != 1 or not all("_" in name for name in items):
        raise ValueError(
            f"{where}: every item of an enumeration must be <EnumName>_<item> with one EnumName; "
            f"got {list(items)}"
        )
    enum_name = prefixes.pop()
    members = {name.split("_", 1)[1]: value for name, value in items.items()}
    previous = enums.get(enum_name)
    if previous is not None and previous != members:
        raise ValueError(f"{where}: enumeration {enum_name} is defined twice, differently")
    enums[enum_name] = members


def find_ts_xml_version(xml_dir: str | pathlib.Path) -> str:
    """Name the ts_xml release of a git checkout: "<tag> (<commit>)".

    Parameters
    ----------
    xml_dir : `str` or `pathlib.Path`
        A directory inside a ts_xml git work tree.

    Returns
    -------
    version : `str`
        The tag of the checked-out commit (or ``git describe``'s
        "<tag>-<n>-g<hash>" if it is not tagged, with "-dirty" for local
        changes) and the full commit hash.

    Raises
    ------
    ValueError
        If ``xml_dir`` is not in a git work tree with a tag.
    """

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", "-C", str(xml_dir), *args], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise ValueError(
                f"Cannot name the ts_xml release of {xml_dir} (git {' '.join(args)}: "
                f"{result.stderr.strip()}); give --ts-xml-version"
            )
        return result.stdout.strip()

    return f"{git('describe', '--tags', '--dirty')} ({git('rev-parse', 'HEAD')})"


def main(argv: list[str] | None = None) -> int:
    """Run the converter from the command line.

    Parameters
    ----------
    argv : `list` [`str`], optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    status : `int`
        0 on success, 1 on a conversion error (printed to stderr).
    """
    parser = argparse.ArgumentParser(
        prog=f"python -m {CONVERTER_NAME}",
        description="Convert ts_xml SAL interface XML into interface YAML files.",
    )
    parser.add_argument("xml_dir", help="ts_xml's python/lsst/ts/xml/data/sal_interfaces directory")
    parser.add_argument("out_dir", help="directory for the YAML files")
    parser.add_argument(
        "--ts-xml-version",
        help='the ts_xml release the XML comes from, e.g. "v28.0.1 (<commit>)"; recorded in each file '
        "(default: found with git when XML_DIR is in a ts_xml checkout)",
    )
    parser.add_argument(
        "--components",
        nargs="+",
        help="components to convert (default: every component of SALSubsystems.xml)",
    )
    parser.add_argument(
        "--avro-dir",
        help="ts_xml's interfaces directory of .avsc topics (default: 'interfaces' beside XML_DIR)",
    )
    args = parser.parse_args(argv)
    try:
        version = args.ts_xml_version or find_ts_xml_version(args.xml_dir)
        converter = XmlInterfaceConverter(args.xml_dir, version, avro_dir=args.avro_dir)
        names = args.components or converter.component_names
        paths = converter.write(args.out_dir, names)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"{path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
