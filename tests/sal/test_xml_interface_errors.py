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

"""The XML interface converter refuses malformed ts_xml input with the file
and the item named: enumeration items empty, not identifiers, repeated or
redefined; topics in the wrong file, misnamed or repeated; generic topics
misnamed or repeated; Avro schemas unreadable, not records, or with
nameless or repeated fields."""

import json
import pathlib
import shutil

import pytest

from lsst.ts.calibrations.sal.xml_interface_converter import XmlInterfaceConverter

FIXTURE_DIR = pathlib.Path(__file__).parents[1] / "data" / "sal_xml"
XML_DIR = FIXTURE_DIR / "sal_interfaces"
VERSION = "v0.0.1 (fixture)"

MOTION_EVENT = """  <SALEvent>
    <Subsystem>Widget</Subsystem>
    <EFDB_Topic>Widget_logevent_motion</EFDB_Topic>"""


def copy_fixture(tmp_path: pathlib.Path) -> pathlib.Path:
    xml_dir = tmp_path / "sal_interfaces"
    shutil.copytree(XML_DIR, xml_dir)
    return xml_dir


def edit(path: pathlib.Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ("Still, Turning=4, Sliding", "Still, , Sliding", r"<Enumeration>: empty item in 'Still, , Sliding'"),
        (
            "Still, Turning=4, Sliding",
            "Still, 1Turning",
            r"<Enumeration>: item name '1Turning' is not an identifier",
        ),
        ("Still, Turning=4, Sliding", "Still, Turning, Still", r"<Enumeration>: item Still is listed twice"),
        (
            "  <!-- <Enumeration>",
            "  <Enumeration>Motion_Stopped, Motion_Gone</Enumeration>\n  <!-- <Enumeration>",
            "enumeration Motion is defined twice, differently",
        ),
        (
            "<EFDB_Topic>Widget_logevent_motion",
            "<EFDB_Topic>Widget_command_motion",
            "expected a name Widget_logevent_<name>",
        ),
        ("<SALEvent>", "<SALCommand>", "a SALCommand element in the Events file"),
        (
            "</SALEventSet>",
            MOTION_EVENT + "\n    <Description>Again.</Description>\n  </SALEvent>\n</SALEventSet>",
            "topic logevent_motion is defined twice",
        ),
    ],
)
def test_malformed_component_files(tmp_path: pathlib.Path, old: str, new: str, match: str) -> None:
    xml_dir = copy_fixture(tmp_path)
    events = xml_dir / "Widget" / "Widget_Events.xml"
    if old == "<SALEvent>":
        edit(events, "</SALEvent>", "</SALCommand>")
    edit(events, old, new)
    with pytest.raises(ValueError, match=match) as info:
        XmlInterfaceConverter(xml_dir, VERSION).convert_component("Widget")
    assert str(events) in str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        (
            "SALGeneric_logevent_heartbeat",
            "SALGeneric_command_heartbeat",
            "expected a name SALGeneric_logevent_<name>",
        ),
        (
            "SALGeneric_command_setLogLevel",
            "SALGeneric_command_enable",
            "generic topic command_enable is defined twice",
        ),
    ],
)
def test_malformed_generics(tmp_path: pathlib.Path, old: str, new: str, match: str) -> None:
    xml_dir = copy_fixture(tmp_path)
    generics = xml_dir / "SALGenerics.xml"
    edit(generics, old, new)
    with pytest.raises(ValueError, match=match) as info:
        XmlInterfaceConverter(xml_dir, VERSION).convert_generics()
    assert str(generics) in str(info.value)


def test_generic_telemetry_is_refused(tmp_path: pathlib.Path) -> None:
    xml_dir = copy_fixture(tmp_path)
    generics = xml_dir / "SALGenerics.xml"
    edit(
        generics,
        "</SALObjects>",
        "  <SALTelemetrySet>\n    <SALTelemetry>\n      <EFDB_Topic>SALGeneric_temperature</EFDB_Topic>\n"
        "    </SALTelemetry>\n  </SALTelemetrySet>\n</SALObjects>",
    )
    with pytest.raises(ValueError, match="generic topics must be commands or events; got SALTelemetry"):
        XmlInterfaceConverter(xml_dir, VERSION).convert_generics()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", r"^Cannot read .*bad\.avsc: "),
        (
            json.dumps({"type": "record", "name": "bad"}),
            r"bad\.avsc: expected an Avro record schema with a 'fields' list$",
        ),
        (json.dumps(["a"]), r"bad\.avsc: expected an Avro record schema"),
        (
            json.dumps({"fields": [{"type": "long"}]}),
            r"bad\.avsc: every field needs a 'name'; got \{'type': 'long'\}$",
        ),
        (
            json.dumps({"fields": [{"name": "x", "type": "long"}, {"name": "x", "type": "double"}]}),
            r"bad\.avsc: field x is defined twice$",
        ),
    ],
)
def test_malformed_avro_schemas(tmp_path: pathlib.Path, text: str, match: str) -> None:
    xml_dir = copy_fixture(tmp_path)
    # An Avro directory given explicitly (not the one beside the XML).
    avro_dir = tmp_path / "avro"
    (avro_dir / "Widget").mkdir(parents=True)
    (avro_dir / "Widget" / "bad.avsc").write_text(text)
    with pytest.raises(ValueError, match=match):
        XmlInterfaceConverter(xml_dir, VERSION, avro_dir=avro_dir).convert_component("Widget")
