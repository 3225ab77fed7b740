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

"""Parsing of the YAML configuration text that scripts receive."""

__all__ = ["config_text_hints", "load_config_yaml", "read_and_validate_config", "read_config_yaml"]

import re
import typing

import yaml

from .config_problem import ConfigProblem
from .defaulting_validator import DefaultingValidator


class _ConfigLoader(yaml.SafeLoader):
    """YAML loader for script configuration.

    It differs from `yaml.SafeLoader` in two ways:

    * A mapping with a repeated key is an error (``SafeLoader`` silently
      keeps the last value, hiding the operator's mistake).
    * Dates and times are kept as the text typed: JSON has no date type,
      so a JSON schema describes them as strings (``format: date``), and
      ``2024-06-01`` must validate as such.
    """

    def construct_mapping(
        self, node: yaml.MappingNode, deep: bool = False
    ) -> dict[typing.Hashable, typing.Any]:
        seen: dict[typing.Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                previous = seen.get(key)
            except TypeError:
                # Unhashable key: let SafeLoader report it.
                continue
            if previous is not None:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r} (first on line {previous.start_mark.line + 1}, "
                    f"again on line {key_node.start_mark.line + 1}); each key may appear only once",
                    key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


# Keep timestamps as strings: drop the implicit timestamp resolver.
_ConfigLoader.yaml_implicit_resolvers = {
    first_char: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first_char, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _LenientLoader(_ConfigLoader):
    """`_ConfigLoader` that records repeated keys (keeping the last value) instead of failing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.repeated: list[tuple[typing.Any, int, int]] = []

    def construct_mapping(
        self, node: yaml.MappingNode, deep: bool = False
    ) -> dict[typing.Hashable, typing.Any]:
        seen: dict[typing.Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:
                continue
            if first != key_node.start_mark.line + 1:
                self.repeated.append((key, first, key_node.start_mark.line + 1))
        return yaml.SafeLoader.construct_mapping(self, node, deep=deep)


# A line "name=value" or "name value" in a block mapping (no "name: value").
_NOT_A_PAIR = re.compile(
    r"^(?P<indent>\s*)(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<sep>=|:(?=\S)|\s)\s*(?P<value>\S.*)$"
)
_PAIR = re.compile(r"^\s*[^#\s][^:#]*:(\s|$)")


def config_text_hints(config_yaml: str) -> list[str]:
    """Explain lines of a configuration that are not ``name: value`` pairs.

    Parameters
    ----------
    config_yaml : `str`
        The configuration text.

    Returns
    -------
    hints : `list` [`str`]
        One sentence per line that looks like an option written without the
        colon (``generate_calibrations=True``, ``n_bias 30``), naming the
        line and the corrected form; empty if there is none.
    """
    hints = []
    for number, line in enumerate(config_yaml.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "-", "---", "...")) or _PAIR.match(line):
            continue
        match = _NOT_A_PAIR.match(line)
        if match is None:
            continue
        name, value = match["name"], match["value"].strip()
        hints.append(
            f"line {number}: {stripped!r} is not an option: each option is written `key: value`, the "
            f"option name, a colon and a space, then the value; write `{name}: {value}`"
        )
    return hints


def load_config_yaml(config_yaml: str) -> dict[str, typing.Any]:
    """Parse the ``config`` text of the ``configure`` command.

    Parameters
    ----------
    config_yaml : `str`
        Configuration as YAML text; blank means no configuration.

    Returns
    -------
    config : `dict` [`str`, `typing.Any`]
        The configuration, without its top-level ``metadata`` key.

    Raises
    ------
    ValueError
        If the text is not valid YAML (the message gives the line and
        column, and explains each line written without the ``key: value``
        form, see `config_text_hints`), repeats a key, or is not a mapping.
    """
    try:
        config = yaml.load(config_yaml, Loader=_ConfigLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as e:
        hints = config_text_hints(config_yaml)
        prefix = "; ".join(hints) + ". " if hints else ""
        raise ValueError(f"{prefix}invalid YAML: {e}") from e
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ValueError(
            f"config must be a mapping of name: value pairs, not a {type(config).__name__} ({config!r})"
        )
    config.pop("metadata", None)
    return config


def _fix_lines(config_yaml: str) -> tuple[str, list[ConfigProblem]]:
    """Rewrite the lines `config_text_hints` explains as ``name: value``; return the text and the problems."""
    lines = config_yaml.splitlines()
    problems = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "-", "---", "...")) or _PAIR.match(line):
            continue
        match = _NOT_A_PAIR.match(line)
        if match is None:
            continue
        name, value = match["name"], match["value"].strip()
        lines[number - 1] = f"{match['indent']}{name}: {value}"
        problems.append(
            ConfigProblem(
                f"{stripped!r} is not an option: each option is written `key: value`, the option name, a "
                f"colon and a space, then the value; write `{name}: {value}`",
                option=name,
                line=number,
            )
        )
    return "\n".join(lines) + "\n", problems


def _key_lines(config_yaml: str) -> dict[str, int]:
    """Line (1-based) of each top-level key; the first occurrence of a repeated one."""
    try:
        root = yaml.compose(config_yaml, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    lines: dict[str, int] = {}
    if isinstance(root, yaml.MappingNode):
        for key_node, _ in root.value:
            if isinstance(key_node, yaml.ScalarNode):
                lines.setdefault(str(key_node.value), key_node.start_mark.line + 1)
    return lines


def read_config_yaml(
    config_yaml: str,
) -> tuple[dict[str, typing.Any] | None, dict[str, int], list[ConfigProblem]]:
    """Parse the ``config`` text, recovering from common slips so later checks can run too.

    Parameters
    ----------
    config_yaml : `str`
        Configuration as YAML text; blank means no configuration.

    Returns
    -------
    config : `dict` [`str`, `typing.Any`] or `None`
        The configuration as far as it could be read, without its top-level
        ``metadata`` key: lines written ``name=value`` or ``name value``
        read as ``name: value``; a repeated top-level key left out. `None`
        if the text cannot be read as a mapping at all.
    lines : `dict` [`str`, `int`]
        The line of each top-level option.
    problems : `list` [`ConfigProblem`]
        Problems of the text, each with its line: a line that is not a
        ``key: value`` pair (with the corrected form), a repeated key,
        invalid YAML, a text that is not a mapping. Empty if none.
    """
    text = config_yaml
    problems: list[ConfigProblem] = []
    for attempt in range(2):
        loader = _LenientLoader(text)
        try:
            config = loader.get_single_data()
        except yaml.YAMLError as e:
            error: str | None = f"invalid YAML: {e}"
        else:
            error = None
            if config is None:
                config = {}
            if not isinstance(config, dict):
                error = (
                    f"config must be a mapping of name: value pairs, not a {type(config).__name__} "
                    f"({config!r})"
                )
        finally:
            loader.dispose()
        if error is None or attempt == 1:
            break
        text, fixes = _fix_lines(config_yaml)
        if not fixes:
            break
        problems = fixes
    if error is not None:
        return None, {}, [*problems, ConfigProblem(error)]
    lines = _key_lines(text)
    for key, first, again in loader.repeated:
        top = isinstance(key, str) and lines.get(key) == first
        problems.append(
            ConfigProblem(
                f"duplicate key {key!r} (first on line {first}, again on line {again}); each key may appear "
                "only once" + (": the option is left at its default until you keep one" if top else ""),
                option=key if top else "",
                line=again,
            )
        )
        if top:
            config.pop(key, None)
    config.pop("metadata", None)
    return {str(key): value for key, value in config.items()}, lines, problems


def read_and_validate_config(
    config_yaml: str, validator: DefaultingValidator | None
) -> tuple[dict[str, typing.Any] | None, frozenset[str], list[ConfigProblem]]:
    """Read the configuration text and validate it, finding every problem of both.

    What ``BaseScript.do_configure`` does before the script's own checks.

    Parameters
    ----------
    config_yaml : `str`
        The ``config`` text.
    validator : `DefaultingValidator` or `None`
        The script's schema validator; `None` if the script has no
        configuration (then the text must be empty).

    Returns
    -------
    config : `dict` or `None`
        The configuration with defaults filled in, every option named by a
        problem at its default (an unknown one left out); `None` if the text
        cannot be read as options.
    explicit_keys : `frozenset` [`str`]
        The options written, before defaults were filled in.
    problems : `list` [`ConfigProblem`]
        Problems of the text (`read_config_yaml`) then of the schema
        (`DefaultingValidator.validate_all`), an unknown option with its
        line.
    """
    config, lines, problems = read_config_yaml(config_yaml)
    if config is None:
        return None, frozenset(), problems
    explicit = frozenset(config)
    if validator is None:
        if config:
            problems.append(
                ConfigProblem(f"this script has no configuration, so config must be empty, not {config}")
            )
        return config, explicit, problems
    known = validator.schema.get("properties", {})
    recovered, schema_problems = validator.validate_all(config)
    for option, message in schema_problems:
        problem = ConfigProblem(message, option=option)
        problems.append(problem if option in known else problem.on_line(lines))
    return recovered, explicit, problems
