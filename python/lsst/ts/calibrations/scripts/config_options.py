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

"""The ``config_options_*`` options: pipetask configuration arguments.

Public API
----------
``parse_config_options(option: str, text: str) -> tuple[str, ...]``
    Split ``text`` like a POSIX shell would (`shlex.split`; it is never run
    through a shell) and check that it holds only pipetask configuration
    options. Returns the arguments normalized to separate tokens, e.g.
    ``("-c", "isr:doDefect=False", "--register-dataset-types")``.
``ALLOWED_OPTIONS``, ``SCRIPT_OWNED_OPTIONS``
    What is accepted, and what the script itself sets.

Accepted: ``-c``/``--config LABEL:FIELD=VALUE``, ``-C``/``--config-file
LABEL:FILE``, ``--register-dataset-types``, ``--no-versions``. Refused:
``-b -i -o -p -d -j -t --output-run`` and their long forms (the script sets
the repository, inputs, outputs, pipeline, data query and processes of
every job), and anything else.
"""

__all__ = ["ALLOWED_OPTIONS", "SCRIPT_OWNED_OPTIONS", "parse_config_options"]

import re
import shlex

# Options taking a value -> what the value must look like.
_VALUE_OPTIONS: dict[str, str] = {
    "-c": "config",
    "--config": "config",
    "-C": "config-file",
    "--config-file": "config-file",
}
_FLAG_OPTIONS: frozenset[str] = frozenset({"--register-dataset-types", "--no-versions"})

ALLOWED_OPTIONS: frozenset[str] = frozenset(_VALUE_OPTIONS) | _FLAG_OPTIONS
"""pipetask options accepted in ``config_options_*``."""

SCRIPT_OWNED_OPTIONS: dict[str, str] = {
    "-b": "the butler repository (option repo)",
    "--butler-config": "the butler repository (option repo)",
    "-i": "the input collections (options input_collections_*)",
    "--input": "the input collections (options input_collections_*)",
    "-o": "the output collection (u/ocps/<job id>, set by the OCPS)",
    "--output": "the output collection (u/ocps/<job id>, set by the OCPS)",
    "--output-run": "the output run (set by the OCPS)",
    "-p": "the pipeline",
    "--pipeline": "the pipeline",
    "-d": "the data query (options detectors and the exposures taken)",
    "--data-query": "the data query (options detectors and the exposures taken)",
    "-j": "the number of processes (option n_processes)",
    "--processes": "the number of processes (option n_processes)",
    "-t": "the pipeline's tasks",
    "--task": "the pipeline's tasks",
}
"""Options the script sets itself, with what they set (refused in ``config_options_*``)."""

_CONFIG_VALUE = re.compile(r"^[A-Za-z_][\w.-]*:[A-Za-z_][\w.\[\]'\"-]*=.+$")
_CONFIG_FILE_VALUE = re.compile(r"^[A-Za-z_][\w.-]*:\S.*$")


def parse_config_options(option: str, text: str) -> tuple[str, ...]:
    """Split and check the pipetask configuration options of one pipeline.

    Parameters
    ----------
    option : `str`
        Name of the configuration option, e.g. "config_options_bias", for
        error messages.
    text : `str`
        The options as written, e.g. "-c isr:doDefect=False". Blank means
        none.

    Returns
    -------
    arguments : `tuple` [`str`, ...]
        The arguments, each option and its value as separate tokens
        (``--config=x`` becomes ``("--config", "x")``).

    Raises
    ------
    ValueError
        If the text cannot be split (unbalanced quotes), holds an option
        the script sets itself or that is not a pipetask configuration
        option, a stray value, an option without its value, or a value of
        the wrong form; the message names ``option`` and what would be
        right.
    """
    try:
        tokens = shlex.split(text)
    except ValueError as e:
        raise ValueError(
            f"{option}={text!r} cannot be split into arguments ({e}): balance the quotes."
        ) from e
    arguments: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        name, has_inline, inline_value = token.partition("=") if token.startswith("--") else (token, "", "")
        if name in SCRIPT_OWNED_OPTIONS:
            raise ValueError(
                f"{option}: {name} is not allowed: the script sets {SCRIPT_OWNED_OPTIONS[name]}. "
                "Use only pipetask "
                "configuration options: -c label:field=value, -C label:file, --register-dataset-types."
            )
        if name in _FLAG_OPTIONS:
            if has_inline:
                raise ValueError(f"{option}: {name} takes no value; write it alone, not {token!r}.")
            arguments.append(name)
            i += 1
            continue
        if name not in _VALUE_OPTIONS:
            what = "an option" if token.startswith("-") else "a value without its option"
            raise ValueError(
                f"{option}: {token!r} is {what} that is not allowed here. Use only pipetask configuration "
                "options: -c label:field=value (e.g. -c isr:doDefect=False), -C label:file, "
                "--register-dataset-types, --no-versions."
            )
        if has_inline:
            value = inline_value
            i += 1
        elif i + 1 < len(tokens):
            value = tokens[i + 1]
            i += 2
        else:
            raise ValueError(f"{option}: {name} needs a value, e.g. {name} {_example(name)}.")
        pattern = _CONFIG_VALUE if _VALUE_OPTIONS[name] == "config" else _CONFIG_FILE_VALUE
        if not pattern.match(value):
            raise ValueError(f"{option}: {name} {value!r} is not of the form {_example(name)}.")
        arguments.extend((name, value))
    return tuple(arguments)


def _example(name: str) -> str:
    return "isr:doDefect=False" if _VALUE_OPTIONS[name] == "config" else "isr:/path/to/isr_config.py"
