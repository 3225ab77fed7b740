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


"""Validation of a script's YAML configuration against its schema, as
LOVE-manager's ``validate-config-schema`` endpoint answers it.
"""

__all__ = ["ConfigValidation"]

import dataclasses
import typing

import jsonschema
import yaml

from ...sal.config_yaml import config_text_hints, load_config_yaml
from ...sal.defaulting_validator import DefaultingValidator

MAX_CONFIG_BYTES = 65536
"""Largest configuration text (bytes of UTF-8) the panel accepts."""


@dataclasses.dataclass
class ConfigValidation:
    """The outcome of validating one configuration text.

    Attributes
    ----------
    title : `str`
        LOVE's title: "None" if valid, "ERROR WHILE PARSING YAML STRING"
        for a YAML error, "INVALID CONFIG YAML" for a schema error, "NO
        SCHEMA" if the schema is unknown or not valid, "CONFIG TOO LARGE".
    output : `dict` or `None`
        The configuration with every default filled in (valid only).
    defaults : `dict`
        The top-level options the script will fill in with their default
        (valid only): those not written in the text.
    error : `dict` or `None`
        ``message``; for a YAML error ``problem_mark`` {``line``,
        ``column``} (0-based, as LOVE reads them) and ``line``,
        ``column`` (1-based, for people); for a schema error ``path`` and
        ``schema_path`` (lists) and ``path_text`` ("a.b[2]").
    """

    title: str
    output: dict[str, typing.Any] | None = None
    defaults: dict[str, typing.Any] = dataclasses.field(default_factory=dict)
    error: dict[str, typing.Any] | None = None

    @property
    def valid(self) -> bool:
        """Is the configuration valid?"""
        return self.error is None

    def to_dict(self) -> dict[str, typing.Any]:
        """The JSON answer of the validation endpoint."""
        answer: dict[str, typing.Any] = {"title": self.title, "valid": self.valid}
        if self.valid:
            answer["output"] = self.output
            answer["defaults"] = self.defaults
        else:
            answer["error"] = self.error
        return answer

    @classmethod
    def from_text(cls, config: str, schema: str | dict[str, typing.Any] | None) -> "ConfigValidation":
        """Validate a configuration text against a script's schema.

        Parameters
        ----------
        config : `str`
            The YAML text, as the operator typed it ("" for none). Parsed as
            the script parses it (`~lsst.ts.calibrations.sal.config_text_hints`,
            a top-level ``metadata`` key dropped, repeated keys refused).
        schema : `str`, `dict` or `None`
            The script's JSON schema (YAML text as in the ``configSchema``
            event, or parsed); "" or `None` if the script has none (then
            the configuration must be empty).

        Returns
        -------
        validation : `ConfigValidation`
            The outcome; never raises for bad input.
        """
        size = len(config.encode("utf-8"))
        if size > MAX_CONFIG_BYTES:
            return cls(
                title="CONFIG TOO LARGE",
                error={
                    "message": f"config is {size} bytes; the limit is {MAX_CONFIG_BYTES} bytes",
                },
            )
        try:
            values = load_config_yaml(config)
        except ValueError as e:
            return cls(title="ERROR WHILE PARSING YAML STRING", error=_yaml_error(config, e))
        if isinstance(schema, str):
            try:
                schema = yaml.safe_load(schema) if schema.strip() else None
            except yaml.YAMLError as e:
                return cls(
                    title="NO SCHEMA", error={"message": f"the script's schema is not valid YAML: {e}"}
                )
        if schema is None:
            if values:
                return cls(
                    title="INVALID CONFIG YAML",
                    error={
                        "message": "this script has no configuration, so config must be empty",
                        "path": [],
                        "schema_path": [],
                        "path_text": "",
                    },
                )
            return cls(title="None", output={}, defaults={})
        try:
            validator = DefaultingValidator(schema)
        except (TypeError, jsonschema.SchemaError) as e:
            return cls(title="NO SCHEMA", error={"message": f"the script's schema is not valid: {e}"})
        try:
            output = validator.validate(values)
        except jsonschema.ValidationError as e:
            path = list(e.absolute_path)
            return cls(
                title="INVALID CONFIG YAML",
                error={
                    "message": e.message,
                    "path": path,
                    "schema_path": list(e.absolute_schema_path),
                    "path_text": _format_path(path),
                },
            )
        defaults = {name: value for name, value in output.items() if name not in values}
        return cls(title="None", output=output, defaults=defaults)


def _yaml_error(config: str, error: ValueError) -> dict[str, typing.Any]:
    """Describe a YAML error: message, and the line and column it is on.

    A line written ``name=value`` (no colon) is reported on its own line,
    where the operator made the mistake, rather than where the parser
    noticed it (often the next line).
    """
    cause = error.__cause__
    line = column = None
    hints = config_text_hints(config)
    if hints:
        line, column = int(hints[0].split(":", 1)[0].removeprefix("line ")) - 1, 0
    elif isinstance(cause, yaml.MarkedYAMLError) and cause.problem_mark is not None:
        line, column = cause.problem_mark.line, cause.problem_mark.column
    answer: dict[str, typing.Any] = {"message": str(error)}
    if line is not None and column is not None:
        answer["problem_mark"] = {"line": line, "column": column}
        answer["line"] = line + 1
        answer["column"] = column + 1
    return answer


def _format_path(path: typing.Iterable[str | int]) -> str:
    """Format a JSON path as "a.b[2].c"."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
