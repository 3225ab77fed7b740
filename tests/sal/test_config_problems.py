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

"""Every problem of a configuration text and its schema, found in one pass."""

import pytest

from lsst.ts.calibrations.sal import DefaultingValidator
from lsst.ts.calibrations.sal.config_problem import ConfigProblem
from lsst.ts.calibrations.sal.config_yaml import read_and_validate_config, read_config_yaml

SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "wait_time": {"type": "number", "minimum": 0, "default": 1},
        "count": {"type": "integer", "minimum": 1, "default": 2},
        "name": {"type": "string", "default": "x"},
    },
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    "text, config, problem",
    [
        ("count 3", {"count": 3}, "line 1: 'count 3' is not an option: "),
        ("name: a\ncount=3\n", {"name": "a", "count": 3}, "line 2: 'count=3' is not an option"),
        ("count: 1\ncount: 2\n", {}, "line 2: duplicate key 'count' (first on line 1, again on line 2)"),
        ("- 1\n", None, "config must be a mapping of name: value pairs, not a list ([1])"),
        ("count: [1\n", None, "invalid YAML: "),
    ],
)
def test_text_slips_recovered_or_reported(text: str, config: dict | None, problem: str) -> None:
    read, _, problems = read_config_yaml(text)
    assert read == config
    assert len(problems) == 1 and str(problems[0]).startswith(problem)


def test_slip_hint_gives_the_corrected_form() -> None:
    _, lines, problems = read_config_yaml("name: a\n\ncount 30\n")
    assert lines == {"name": 1, "count": 3}
    assert str(problems[0]).endswith("write `count: 30`") and problems[0].option == "count"


def test_every_schema_problem_once_in_text_order() -> None:
    text = "count: 0\nwait_tme: 2\nwait_time: -1\nname: ok\n"
    config, explicit, problems = read_and_validate_config(text, DefaultingValidator(SCHEMA))
    assert explicit == {"count", "wait_tme", "wait_time", "name"}
    assert [str(p) for p in problems] == [
        "count: 0 is less than the minimum of 1",
        "line 2: 'wait_tme' is not an option: did you mean wait_time instead of wait_tme?",
        "wait_time: -1 is less than the minimum of 0",
    ]
    # Options with a problem are left at their default; the rest is kept.
    assert config == {"count": 2, "wait_time": 1, "name": "ok"}
    assert ConfigProblem.options(problems) == {"count", "wait_tme", "wait_time"}
    assert ConfigProblem.describe_all(problems).startswith(
        "3 configuration problem(s): (1) count: 0 is less than the minimum of 1 (2) line 2: "
    )


def test_no_schema_means_no_options() -> None:
    config, _, problems = read_and_validate_config("a: 1", None)
    assert config == {"a": 1} and "config must be empty" in str(problems[0])
    assert read_and_validate_config("", None) == ({}, frozenset(), [])
