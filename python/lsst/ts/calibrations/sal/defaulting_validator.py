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

"""JSON-schema (draft 7) validation that fills in defaults at every depth."""

__all__ = ["DefaultingValidator", "StandardValidator"]

import copy
import difflib
import typing

import jsonschema
import jsonschema.exceptions

StandardValidator = jsonschema.Draft7Validator
"""The plain draft 7 validator (no defaults filled), as salobj's."""

# Marks "no default" (None is a valid default).
_NO_DEFAULT = object()


class DefaultingValidator:
    """Validate configuration against a JSON schema (draft 7) and fill in
    default values, at every depth.

    A missing property that has a ``default`` gets a copy of it; a missing
    object-typed property without one is built from its children's defaults
    (if any child has one). Defaults are also filled inside objects that are
    present, inside array items and through local ``$ref`` and ``allOf``.

    Parameters
    ----------
    schema : `dict`
        JSON schema (draft 7). It is checked here, so a bad schema fails
        at construction, not when the first configuration arrives.

    Raises
    ------
    TypeError
        If ``schema`` is not a dict.
    jsonschema.SchemaError
        If the schema is not a valid draft 7 schema, or a ``default`` in it
        does not satisfy its own property schema. The message names the
        schema path.
    """

    def __init__(self, schema: dict[str, typing.Any]) -> None:
        if not isinstance(schema, dict):
            raise TypeError(f"schema must be a dict; got {type(schema).__name__}")
        try:
            jsonschema.Draft7Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            where = _format_path(e.path) or "(top level)"
            raise jsonschema.SchemaError(f"Invalid schema at {where}: {e.message}") from e
        self.schema = schema
        self._validator = jsonschema.Draft7Validator(schema)
        self._check_defaults(schema, [])

    def validate(self, data: dict[str, typing.Any] | None) -> dict[str, typing.Any]:
        """Validate data and return a copy with defaults filled in.

        Parameters
        ----------
        data : `dict` or `None`
            Data to validate (not modified). `None` means an empty dict.

        Returns
        -------
        result : `dict`
            A deep copy of ``data`` with defaults filled in at every depth.

        Raises
        ------
        jsonschema.ValidationError
            If the data is not a dict, or does not match the schema. The
            message starts with the path of the bad value, e.g.
            "detectors[2]: 9 is greater than the maximum of 8", and, for an
            unknown property, suggests the closest known name.
        """
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise jsonschema.ValidationError(f"{data!r} is not a dict")
        result = copy.deepcopy(data)
        self._fill(self.schema, result)
        error = jsonschema.exceptions.best_match(self._validator.iter_errors(result))
        if error is not None:
            raise jsonschema.ValidationError(
                self._describe(error),
                path=error.absolute_path,
                schema_path=error.absolute_schema_path,
            )
        return result

    def validate_all(
        self, data: dict[str, typing.Any]
    ) -> tuple[dict[str, typing.Any] | None, list[tuple[str, str]]]:
        """Validate data, finding every problem, and recover what is valid.

        Parameters
        ----------
        data : `dict`
            Data to validate (not modified).

        Returns
        -------
        result : `dict` or `None`
            A deep copy of ``data`` with defaults filled in, in which every
            top-level property with a problem is left at its default (an
            unknown one is left out); `None` if that is still not valid.
        problems : `list` [`tuple` [`str`, `str`]]
            ``(property, message)`` for each top-level property with a
            problem, in the order of ``data`` then of the schema (one
            message per property, as `validate` words it; an unknown
            property suggests the closest known name); the property is ""
            for a problem of the whole.
        """
        result = copy.deepcopy(data)
        self._fill(self.schema, result)
        by_name: dict[str, list[jsonschema.ValidationError]] = {}
        problems: list[tuple[str, str]] = []
        for error in self._validator.iter_errors(result):
            path = list(error.absolute_path)
            if not path and error.validator == "additionalProperties" and isinstance(error.instance, dict):
                known = list(self.schema.get("properties", {}))
                for name in error.instance:
                    if name not in known:
                        problems.append((str(name), self._describe_unknown(str(name), known)))
            elif path:
                by_name.setdefault(str(path[0]), []).append(error)
            else:
                problems.append(("", self._describe(error)))
        order: dict[str, int] = {}
        for name in [*data, *self.schema.get("properties", {})]:
            order.setdefault(str(name), len(order))
        for name, errors in by_name.items():
            best = jsonschema.exceptions.best_match(errors)
            assert best is not None
            problems.append((name, self._describe(best)))
        problems.sort(key=lambda problem: order.get(problem[0], -1))
        if not problems:
            return result, []
        bad = {name for name, _ in problems}
        recovered = {name: value for name, value in copy.deepcopy(data).items() if name not in bad}
        self._fill(self.schema, recovered)
        if jsonschema.exceptions.best_match(self._validator.iter_errors(recovered)) is not None:
            return None, problems
        return recovered, problems

    @staticmethod
    def _describe_unknown(name: str, known: list[str]) -> str:
        """Message for an unknown top-level property, suggesting the closest known name."""
        matches = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        if matches:
            return f"{name!r} is not an option: did you mean {matches[0]} instead of {name}?"
        return f"{name!r} is not an option; allowed options: {', '.join(known)}"

    def _resolve(self, schema: typing.Any) -> typing.Any:
        """Follow local ``$ref`` ("#/definitions/x") links; return the schema
        unchanged if it is not a local reference.
        """
        seen: set[str] = set()
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
            ref = schema["$ref"]
            if not ref.startswith("#") or ref in seen:
                return schema
            seen.add(ref)
            target: typing.Any = self.schema
            for part in ref[1:].split("/"):
                if not part:
                    continue
                part = part.replace("~1", "/").replace("~0", "~")
                if isinstance(target, dict) and part in target:
                    target = target[part]
                elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                    target = target[int(part)]
                else:
                    return schema
            schema = target
        return schema

    def _fill(self, schema: typing.Any, instance: typing.Any) -> None:
        """Fill defaults into ``instance`` (in place), following ``schema``."""
        schema = self._resolve(schema)
        if not isinstance(schema, dict):
            return
        for sub_schema in schema.get("allOf", []):
            self._fill(sub_schema, instance)
        if isinstance(instance, dict):
            properties = schema.get("properties", {})
            for name, prop_schema in properties.items():
                if name not in instance:
                    default = self._make_default(prop_schema)
                    if default is _NO_DEFAULT:
                        continue
                    instance[name] = default
                self._fill(prop_schema, instance[name])
        elif isinstance(instance, list):
            items = schema.get("items")
            if isinstance(items, dict):
                for item in instance:
                    self._fill(items, item)
            elif isinstance(items, list):
                for item_schema, item in zip(items, instance):
                    self._fill(item_schema, item)

    def _make_default(self, schema: typing.Any) -> typing.Any:
        """Return the default for a missing property: a copy of its
        ``default``, or an object built from its children's defaults,
        or ``_NO_DEFAULT``.
        """
        schema = self._resolve(schema)
        if not isinstance(schema, dict):
            return _NO_DEFAULT
        if "default" in schema:
            return copy.deepcopy(schema["default"])
        schema_type = schema.get("type")
        is_object = schema_type == "object" or (
            schema_type is None and ("properties" in schema or "allOf" in schema)
        )
        if not is_object:
            return _NO_DEFAULT
        built: dict[str, typing.Any] = {}
        self._fill(schema, built)
        return built if built else _NO_DEFAULT

    def _check_defaults(self, schema: typing.Any, path: list[str | int]) -> None:
        """Check that every ``default`` in the schema satisfies the schema
        of the property it belongs to.
        """
        if isinstance(schema, dict):
            if "default" in schema:
                sub_validator = jsonschema.Draft7Validator(
                    {**schema, "definitions": self.schema.get("definitions", {})}
                )
                error = jsonschema.exceptions.best_match(sub_validator.iter_errors(schema["default"]))
                if error is not None:
                    where = _format_path(path) or "(top level)"
                    inner = _format_path(error.absolute_path)
                    detail = f"{inner}: {error.message}" if inner else error.message
                    raise jsonschema.SchemaError(f"Invalid schema at {where}: default is invalid: {detail}")
            for key, value in schema.items():
                if key in ("default", "enum", "const", "examples"):
                    continue
                self._check_defaults(value, path + [key])
        elif isinstance(schema, list):
            for i, value in enumerate(schema):
                self._check_defaults(value, path + [i])

    def _describe(self, error: jsonschema.ValidationError) -> str:
        """Make a message for a validation error that names the path of the
        bad value and, for unknown properties, suggests the closest name.
        """
        message = error.message
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            schema = error.schema if isinstance(error.schema, dict) else {}
            known = list(schema.get("properties", {}))
            extras = [name for name in error.instance if name not in known and isinstance(name, str)]
            hints = []
            for name in extras:
                matches = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
                if matches:
                    hints.append(f"did you mean {matches[0]} instead of {name}?")
            if hints:
                message = f"{message}; {' '.join(hints)}"
            elif known:
                message = f"{message}; allowed properties: {', '.join(known)}"
        path = _format_path(error.absolute_path)
        return f"{path}: {message}" if path else message


def _format_path(path: typing.Iterable[str | int]) -> str:
    """Format a JSON path as "a.b[2].c"."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
