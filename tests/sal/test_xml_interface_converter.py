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

import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

from lsst.ts.calibrations.sal.component_info import ComponentInfo
from lsst.ts.calibrations.sal.xml_interface_converter import CONVERTER_NAME, XmlInterfaceConverter, main

FIXTURE_DIR = pathlib.Path(__file__).parents[1] / "data" / "sal_xml"
XML_DIR = FIXTURE_DIR / "sal_interfaces"
VERSION = "v0.0.1 (fixture)"


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """Convert the fixture's three components once; return the output
    directory.
    """
    out_dir = tmp_path_factory.mktemp("interfaces")
    XmlInterfaceConverter(XML_DIR, VERSION).write(out_dir, ["Widget", "Gadget", "Gizmo"])
    return out_dir


def test_component_names_types_units_and_counts(converted: pathlib.Path) -> None:
    widget = ComponentInfo.from_file(converted / "Widget.yaml")
    assert widget.name == "Widget"
    assert widget.description == "A test component with an indexed instance per side."
    assert (widget.ts_xml_version, widget.generated_by) == (VERSION, CONVERTER_NAME)

    move = widget["cmd_move"]
    assert move.sal_name == "command_move"
    assert move.description == "Move to a position."
    assert list(move.fields) == ["position", "label", "speed"]
    position = move.fields["position"]
    assert (position.sal_type, position.count, position.units) == ("double", 3, "deg")
    assert position.description == "Target, one value per axis."
    # SAL has no string arrays: a string's Count is ignored.
    assert (move.fields["label"].sal_type, move.fields["label"].count) == ("string", 1)
    # No <Units>: unitless.
    assert (move.fields["speed"].sal_type, move.fields["speed"].units) == ("unsigned short", "unitless")
    assert widget["cmd_stop"].fields == {}

    motion = widget["evt_motion"]
    assert motion.sal_name == "logevent_motion"
    assert (motion.fields["state"].sal_type, motion.fields["faults"].sal_type) == ("byte", "long long")
    assert motion.fields["faults"].count == 3

    axes = widget["tel_axes"]
    assert axes.sal_name == "axes"
    assert (axes.fields["velocity"].sal_type, axes.fields["velocity"].count) == ("float", 3)
    assert axes.fields["velocity"].units == "deg/s"
    assert axes.fields["temperature"].units == "Celsius"
    assert axes.make_data(velocity=[1, 2, 3]).velocity == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="must have exactly 3 elements"):
        axes.make_data(velocity=[1, 2])


def test_enumerations(converted: pathlib.Path) -> None:
    widget = ComponentInfo.from_file(converted / "Widget.yaml")
    # Items without values count from 1; explicit values are C literals
    # (0x.. hexadecimal, 0.. octal) and later items count on from them.
    assert widget.enums == {
        "Motion": {"Stopped": 1, "Moving": 2, "Parked": 3},
        "Fault": {"None": 0, "Hot": 16, "Cold": 8, "Stuck": 9},
    }
    assert widget["evt_motion"].fields["state"].enumeration == {"Still": 1, "Turning": 4, "Sliding": 5}
    assert widget["evt_motion"].fields["faults"].enumeration == {}
    generics = yaml.safe_load((converted / "_generics.yaml").read_text())
    assert generics["enums"] == {"SummaryStates": {"DisabledState": 1, "EnabledState": 2, "FaultState": 3}}


def test_generics_and_indices(converted: pathlib.Path) -> None:
    widget = ComponentInfo.from_file(converted / "Widget.yaml")
    assert widget.indexed
    assert widget.index_enumeration == {"North": 1, "South": 2}
    assert widget.command_names == ["enable", "move", "setLogLevel", "stop"]
    assert widget.event_names == ["clockOffset", "heartbeat", "motion", "summaryState"]
    assert widget["evt_clockOffset"].fields["offset"].units == "second"

    gadget = ComponentInfo.from_file(converted / "Gadget.yaml")
    assert not gadget.indexed and gadget.index_enumeration == {}
    assert gadget.command_names == ["setLogLevel"]
    assert gadget.event_names == ["heartbeat"]
    assert gadget.telemetry_names == []

    gizmo = ComponentInfo.from_file(converted / "Gizmo.yaml")
    assert gizmo.indexed and gizmo.index_enumeration == {}

    generics = yaml.safe_load((converted / "_generics.yaml").read_text())
    assert generics["groups"] == {
        "csc": ["command_enable", "command_setLogLevel", "logevent_summaryState"],
        "mandatory": ["logevent_heartbeat"],
    }
    assert generics["ts_xml_version"] == VERSION


def test_avro_topic_replaces_xml_topic(converted: pathlib.Path) -> None:
    widget = ComponentInfo.from_file(converted / "Widget.yaml")
    power = widget["tel_power"]
    assert power.description == "Power supply readings."
    assert {name: (info.sal_type, info.units) for name, info in power.fields.items()} == {
        "timestamp": ("long", "millisecond"),
        "current": ("double", "mA"),
        "state": ("string", "unitless"),
    }


def test_header_records_release_and_converter(converted: pathlib.Path) -> None:
    lines = (converted / "Widget.yaml").read_text().splitlines()
    assert lines[0] == "# Interface of the SAL component Widget."
    assert lines[1] == f"# Generated from ts_xml {VERSION}"
    assert f"python -m {CONVERTER_NAME}" in lines[2]


def test_yaml_round_trip() -> None:
    """The written text loads back to exactly what was converted."""
    converter = XmlInterfaceConverter(XML_DIR, VERSION)
    for name in converter.component_names:
        data = converter.convert_component(name)
        assert yaml.safe_load(converter.to_yaml(data, what=name)) == data
    generics = converter.convert_generics()
    assert yaml.safe_load(converter.to_yaml(generics, what="_generics")) == generics


def test_command_line(tmp_path: pathlib.Path) -> None:
    out_dir = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            CONVERTER_NAME,
            str(XML_DIR),
            str(out_dir),
            "--ts-xml-version",
            VERSION,
            "--components",
            "Gadget",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in out_dir.iterdir()) == ["Gadget.yaml", "_generics.yaml"]
    assert "Gadget.yaml" in result.stdout
    # Without --components: every component of SALSubsystems.xml.
    assert main([str(XML_DIR), str(tmp_path / "all"), "--ts-xml-version", VERSION]) == 0
    assert sorted(path.stem for path in (tmp_path / "all").iterdir()) == [
        "Gadget",
        "Gizmo",
        "Widget",
        "_generics",
    ]


def test_command_line_errors(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [str(XML_DIR), str(tmp_path), "--ts-xml-version", VERSION]
    assert main([*args, "--components", "NoSuch"]) == 1
    assert "Unknown SAL component 'NoSuch'" in capsys.readouterr().err
    assert main([str(tmp_path), str(tmp_path), "--ts-xml-version", VERSION]) == 1
    assert "has no SALSubsystems.xml" in capsys.readouterr().err
    with pytest.raises(ValueError, match="must name the ts_xml release"):
        XmlInterfaceConverter(XML_DIR, " ")


def copy_fixture(tmp_path: pathlib.Path) -> pathlib.Path:
    """Copy the fixture's XML to a directory a test may change."""
    xml_dir = tmp_path / "sal_interfaces"
    shutil.copytree(XML_DIR, xml_dir)
    return xml_dir


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        (
            "Motion_Stopped, Motion_Moving",
            "Motion_Stopped, Other_Moving",
            "every item of an enumeration must be <EnumName>_<item>",
        ),
        ("Fault_Hot=0x10", "Fault_Hot=hot", "'hot' is not an integer value"),
        (
            "<Count>3</Count>\n    </item>\n  </SALEvent>",
            "<Count>x</Count>\n    </item>\n  </SALEvent>",
            "Count",
        ),
        ("Widget_logevent_motion", "Wodget_logevent_motion", "EFDB_Topic must start with 'Widget_'"),
        ("<EFDB_Name>faults</EFDB_Name>", "<EFDB_Name>state</EFDB_Name>", "field state is defined twice"),
        ("<IDL_Type>long long</IDL_Type>", "", "missing required <IDL_Type>"),
        ("</SALEventSet>", "", "Cannot read"),
    ],
)
def test_malformed_xml_is_rejected(tmp_path: pathlib.Path, old: str, new: str, match: str) -> None:
    xml_dir = copy_fixture(tmp_path)
    events_path = xml_dir / "Widget" / "Widget_Events.xml"
    text = events_path.read_text()
    assert old in text
    events_path.write_text(text.replace(old, new, 1))
    converter = XmlInterfaceConverter(xml_dir, VERSION)
    with pytest.raises(ValueError, match=match) as exc_info:
        converter.convert_component("Widget")
    assert "Widget_Events.xml" in str(exc_info.value)


def test_bad_avro_type_is_rejected(tmp_path: pathlib.Path) -> None:
    xml_dir = copy_fixture(tmp_path)
    avro_dir = tmp_path / "interfaces" / "Widget"
    avro_dir.mkdir(parents=True)
    (avro_dir / "bad.avsc").write_text(
        '{"type": "record", "name": "bad", "fields": [{"name": "x", "type": {"type": "map"}}]}'
    )
    with pytest.raises(ValueError, match=r"bad\.avsc: field x: type .* is not one of"):
        XmlInterfaceConverter(xml_dir, VERSION).convert_component("Widget")


def test_release_found_with_git(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    checkout = tmp_path / "ts_xml"
    xml_dir = checkout / "sal_interfaces"
    shutil.copytree(XML_DIR, xml_dir)

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=T", "-c", "user.email=t@example.org", "-C", str(checkout), *args],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    # Not a git work tree: the release must be given.
    assert main([str(xml_dir), str(tmp_path / "out0"), "--components", "Gadget"]) == 1
    assert "give --ts-xml-version" in capsys.readouterr().err

    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "fixture")
    git("tag", "v1.2.3")
    commit = git("rev-parse", "HEAD")
    assert main([str(xml_dir), str(tmp_path / "out1"), "--components", "Gadget"]) == 0
    gadget = ComponentInfo.from_file(tmp_path / "out1" / "Gadget.yaml")
    assert gadget.ts_xml_version == f"v1.2.3 ({commit})"

    # Local changes are named as such.
    (xml_dir / "Gadget" / "README.md").write_text("changed\n")
    assert main([str(xml_dir), str(tmp_path / "out2"), "--components", "Gadget"]) == 0
    gadget = ComponentInfo.from_file(tmp_path / "out2" / "Gadget.yaml")
    assert gadget.ts_xml_version == f"v1.2.3-dirty ({commit})"
