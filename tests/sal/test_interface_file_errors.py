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

"""Interface definition files that are malformed are refused with a
message naming the file, the topic or field, and what would be right; a
well-formed file's defaults, arrays and representations."""

import pathlib
import typing

import pytest
import yaml

from lsst.ts.calibrations.sal.component_info import INTERFACES_DIR, ComponentInfo
from lsst.ts.calibrations.sal.field_info import FieldInfo
from lsst.ts.calibrations.sal.topic_info import TopicInfo

GENERICS = yaml.safe_load((INTERFACES_DIR / "_generics.yaml").read_text())


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (["name", "Bad"], r"^where: expected a mapping at the top level$"),
        ({"name": "1Bad"}, r"^where: 'name' must be an identifier; got '1Bad'$"),
        ({"name": "Bad", "events": ["a"]}, r"^where: 'events' must be a mapping of topic name: topic entry$"),
        (
            {"name": "Bad", "index_enumeration": {"North": 1}},
            "index_enumeration is set but the component is not indexed",
        ),
        (
            {"name": "Bad", "indexed": True, "index_enumeration": {"North": "1"}},
            r"^where: index_enumeration: must be a mapping of item name: integer value; "
            r"got \{'North': '1'\}$",
        ),
        ({"name": "Bad", "enums": ["One"]}, r"^where: 'enums' must be a mapping of enumeration name"),
        (
            {"name": "Bad", "enums": {"E": {"One": True}}},
            r"^where: enums E: must be a mapping of item name: integer",
        ),
        ({"name": "Bad", "generics": 3}, r"^where: 'generics' must be a name or a list of names; got 3$"),
        ({"name": "Bad", "generics": "csc", "events": {"x": None}}, None),
        (
            {"name": "Bad", "generics": ["logevent_nosuch"]},
            r"^where: unknown generic 'logevent_nosuch'; groups: ",
        ),
        (
            {"name": "Bad", "events": {"e": "text"}},
            r"^where: event e: expected a mapping with 'description' and 'fields'$",
        ),
        (
            {"name": "Bad", "events": {"e": {"units": "s"}}},
            r"^where: event e: unknown keys \['units'\]; allowed: ",
        ),
        (
            {"name": "Bad", "events": {"e": {"fields": ["f"]}}},
            r"^where: event e: 'fields' must be a mapping of field name",
        ),
        (
            {"name": "Bad", "events": {"1e": {}}},
            r"^where: event 1e: Topic name '1e' of Bad is not a valid identifier$",
        ),
        (
            {"name": "Bad", "events": {"e": {"fields": {"f": "int"}}}},
            r"^where: event e: field f: expected a mapping with a 'type' key; got 'int'$",
        ),
        (
            {"name": "Bad", "events": {"e": {"fields": {"f": {"type": "int", "enumeration": [1]}}}}},
            r"^where: event e: field f: 'enumeration' must be a mapping of item name: value$",
        ),
        (
            {"name": "Bad", "events": {"e": {"fields": {"f": {"type": "int", "enumeration": {"A": "x"}}}}}},
            r"enumeration must map item names to integers; got 'A': 'x'",
        ),
    ],
)
def test_malformed_definitions_are_refused(data: typing.Any, match: str | None) -> None:
    if match is None:
        ComponentInfo.from_dict(data, generics=GENERICS, where="where")  # a well-formed one
        return
    with pytest.raises(ValueError, match=match):
        ComponentInfo.from_dict(data, generics=GENERICS, where="where")


def test_generics_need_their_file() -> None:
    with pytest.raises(
        ValueError, match=r"^where: 'generics' is 'csc' but there is no _generics.yaml beside it$"
    ):
        ComponentInfo.from_dict({"name": "Bad", "generics": "csc"}, generics=None, where="where")


def test_a_generics_group_that_includes_itself() -> None:
    generics = {"groups": {"loop": ["inner"], "inner": ["loop"]}, "commands": {}, "events": {}}
    with pytest.raises(ValueError, match=r"^_generics.yaml: group 'loop' includes itself$"):
        ComponentInfo.from_dict({"name": "Bad", "generics": "loop"}, generics=generics, where="where")


def test_topics_of_one_component_only() -> None:
    other = TopicInfo(component_name="Other", name="e", kind="event", fields={})
    with pytest.raises(ValueError, match=r"^Bad: topic Other\.logevent_e belongs to another component$"):
        ComponentInfo(name="Bad", indexed=False, topics=[other])
    topic = TopicInfo(component_name="Bad", name="e", kind="event", fields={})
    with pytest.raises(ValueError, match=r"^Bad: topic evt_e is defined more than once$"):
        ComponentInfo(name="Bad", indexed=False, topics=[topic, topic])
    field = FieldInfo.from_dict("f", {"type": "int"})
    with pytest.raises(ValueError, match=r"Bad\.logevent_e: field key 'g' != field name 'f'"):
        TopicInfo(component_name="Bad", name="e", kind="event", fields={"g": field})


def write(path: pathlib.Path, text: str) -> pathlib.Path:
    path.write_text(text)
    return path


def test_unreadable_files_are_named(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path / "Bad.yaml", "name: [unclosed\n")
    with pytest.raises(ValueError, match=rf"^Cannot read interface file {path}: "):
        ComponentInfo.from_file(path)
    missing = tmp_path / "Missing.yaml"
    with pytest.raises(ValueError, match=rf"^Cannot read interface file {missing}: "):
        ComponentInfo.from_file(missing)


@pytest.mark.parametrize(
    ("generics_text", "match"),
    [
        ("groups: [a]\n", "expected a mapping with keys 'groups', 'commands', 'events'"),
        ("groups: {}\ncommands: [a]\n", "'commands' must be a mapping of topic name: topic entry"),
    ],
)
def test_malformed_generics_file(tmp_path: pathlib.Path, generics_text: str, match: str) -> None:
    generics = write(tmp_path / "_generics.yaml", generics_text)
    path = write(tmp_path / "Good.yaml", "name: Good\n")
    with pytest.raises(ValueError, match=f"^{generics}: {match}$"):
        ComponentInfo.from_file(path)


def test_a_generics_file_with_empty_sections(tmp_path: pathlib.Path) -> None:
    write(tmp_path / "_generics.yaml", "groups: {none_here: []}\ncommands:\nevents:\n")
    info = ComponentInfo.from_file(write(tmp_path / "Good.yaml", "name: Good\ngenerics: none_here\n"))
    assert info.command_names == [] and info.event_names == []
    assert repr(info) == "ComponentInfo(Good, indexed=False, 1 topics)"  # ackcmd only


def test_fields_defaults_and_representation() -> None:
    array = FieldInfo.from_dict("levels", {"type": "double", "count": 3})
    scalar = FieldInfo.from_dict("level", {"type": "float"})
    assert (array.is_array, array.default_value()) == (True, [0.0, 0.0, 0.0])
    assert (scalar.is_array, scalar.default_value()) == (False, 0.0)
    topic = TopicInfo(component_name="Good", name="e", kind="event", fields={"level": scalar})
    assert repr(topic) == "TopicInfo(Good.logevent_e, fields=['level'])"
    # Messages compare as dataclasses do: same class and fields.
    message = topic.DataType()
    assert message == topic.DataType()
    message.level = 1.5
    assert message != topic.DataType()
    assert message != {"level": 1.5}
