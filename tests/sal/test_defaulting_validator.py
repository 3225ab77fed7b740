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

import copy
import typing

import jsonschema
import pytest

from lsst.ts.calibrations.sal.defaulting_validator import DefaultingValidator

SCHEMA: dict[str, typing.Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "$id": "https://example.org/test_schema.yaml",
    "title": "Test v1",
    "type": "object",
    "additionalProperties": False,
    "required": ["program"],
    "properties": {
        "program": {"type": "string"},
        "detectors": {
            "type": "array",
            "items": {"type": "integer", "minimum": 0, "maximum": 8},
            "default": [0, 1, 2],
        },
        "exp_times_flat": {"type": "array", "items": {"type": "number"}, "default": [1.0, 2.0]},
        "exp_times_dark": {"type": "array", "items": {"type": "number"}, "default": [30.0]},
        "level1": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "a": {"type": "integer", "default": 1},
                "level2": {
                    "type": "object",
                    "properties": {
                        "b": {"type": "string", "default": "two"},
                        "level3": {
                            "type": "object",
                            "properties": {"c": {"type": "number", "default": 3.5}},
                        },
                    },
                },
            },
        },
        "no_defaults": {"type": "object", "properties": {"x": {"type": "integer"}}},
        "steps": {"type": "array", "items": {"$ref": "#/definitions/step"}, "default": []},
        "combined": {"allOf": [{"$ref": "#/definitions/step"}]},
    },
    "definitions": {
        "step": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "repeat": {"type": "integer", "default": 1}},
        }
    },
}


@pytest.fixture
def validator() -> DefaultingValidator:
    return DefaultingValidator(SCHEMA)


def test_defaults_filled_at_every_depth(validator: DefaultingValidator) -> None:
    result = validator.validate({"program": "BLOCK-1"})
    assert result == {
        "program": "BLOCK-1",
        "detectors": [0, 1, 2],
        "exp_times_flat": [1.0, 2.0],
        "exp_times_dark": [30.0],
        "level1": {"a": 1, "level2": {"b": "two", "level3": {"c": 3.5}}},
        "steps": [],
        "combined": {"repeat": 1},
    }
    # An object property with no defaults below it is not invented.
    assert "no_defaults" not in result


def test_defaults_fill_partial_objects_and_array_items(validator: DefaultingValidator) -> None:
    data = {
        "program": "p",
        "level1": {"level2": {"level3": {}}},
        "steps": [{"name": "bias"}, {"name": "dark", "repeat": 3}],
    }
    result = validator.validate(data)
    assert result["level1"] == {"a": 1, "level2": {"b": "two", "level3": {"c": 3.5}}}
    assert result["steps"] == [{"name": "bias", "repeat": 1}, {"name": "dark", "repeat": 3}]


def test_given_values_are_kept_and_input_not_modified(validator: DefaultingValidator) -> None:
    data = {"program": "p", "detectors": [4], "level1": {"a": 7}}
    original = copy.deepcopy(data)
    result = validator.validate(data)
    assert data == original
    assert result["detectors"] == [4]
    assert result["level1"]["a"] == 7
    # Defaults are copies: changing one result does not change the next.
    result["exp_times_flat"].append(99.0)
    assert validator.validate({"program": "p"})["exp_times_flat"] == [1.0, 2.0]


def test_none_means_empty_dict() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer", "default": 2}}}
    validator = DefaultingValidator(schema)
    assert validator.validate(None) == {"a": 2}


@pytest.mark.parametrize("data", [5, "a: 1", [1, 2]])
def test_non_dict_rejected(validator: DefaultingValidator, data: typing.Any) -> None:
    with pytest.raises(jsonschema.ValidationError, match="is not a dict"):
        validator.validate(data)


def test_error_names_path_of_bad_value(validator: DefaultingValidator) -> None:
    with pytest.raises(jsonschema.ValidationError) as exc_info:
        validator.validate({"program": "p", "detectors": [0, 1, 9]})
    assert str(exc_info.value) == "detectors[2]: 9 is greater than the maximum of 8"
    assert list(exc_info.value.path) == ["detectors", 2]

    with pytest.raises(jsonschema.ValidationError, match=r"^level1\.level2\.level3\.c: 'x' is not of type"):
        validator.validate({"program": "p", "level1": {"level2": {"level3": {"c": "x"}}}})


def test_missing_required_property(validator: DefaultingValidator) -> None:
    with pytest.raises(jsonschema.ValidationError, match="'program' is a required property"):
        validator.validate({})


def test_unknown_property_suggests_closest_name(validator: DefaultingValidator) -> None:
    with pytest.raises(jsonschema.ValidationError, match=r"did you mean exp_times_flat\b") as exc_info:
        validator.validate({"program": "p", "exp_times_flats": [1.0]})
    assert "exp_times_flats" in str(exc_info.value)

    # Nested: the path of the object is named.
    with pytest.raises(jsonschema.ValidationError, match=r"^level1: .*did you mean level2"):
        validator.validate({"program": "p", "level1": {"levle2": {}}})


def test_unknown_property_without_close_match_lists_allowed(validator: DefaultingValidator) -> None:
    with pytest.raises(jsonschema.ValidationError, match="allowed properties: program, detectors"):
        validator.validate({"program": "p", "zzzzzz": 1})


def test_bad_schema_fails_at_construction() -> None:
    with pytest.raises(jsonschema.SchemaError, match=r"Invalid schema at properties\.a\.type"):
        DefaultingValidator({"type": "object", "properties": {"a": {"type": "integr"}}})
    with pytest.raises(TypeError, match="schema must be a dict"):
        DefaultingValidator("type: object")  # type: ignore[arg-type]


def test_invalid_default_fails_at_construction() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1, "default": 0}}}
    with pytest.raises(jsonschema.SchemaError, match=r"properties\.n: default is invalid: 0 is less than"):
        DefaultingValidator(schema)
