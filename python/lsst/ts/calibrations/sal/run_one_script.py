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

"""``run_one_script``: configure, run and report one SAL script, as
ts_scriptqueue's command of that name does.

This module is the command line; the script is driven by
`lsst.ts.calibrations.sal.script_monitor` (`run_loaded_script`,
`run_script_process`).

What the script runs against: by default nothing is started, and the
script's components must be those of a real observatory, running and
reachable (the script says so, naming each component that is not). An
observatory provider (`ObservatoryProvider`, found by entry point, group
``lsst.ts.calibrations.observatories``, or passed to `make_parser`,
`parse_args` and `main`) may add its own options; when they ask for an
observatory (e.g. ``--simulate`` of the simulated ComCam observatory), the
provider makes an async context manager that `run_one_script` enters
before the script and leaves after it. This module knows nothing of what
the observatory is: it only enters it and prints its ``describe()`` line
and ``alias_line``, if it has them.

Isolation: when the command starts an observatory, the observatory is
private to this run: a fresh isolation name (``LSST_TOPIC_SUBNAME``, see
`lsst.ts.calibrations.sal.isolation`) is set unless the user gave one, and
every process the command starts inherits it, so two runs on one machine
never see each other.

Transport: with the DDS transport (``--transport dds``, or
``LSST_SAL_TRANSPORT=dds``; the default) the script runs as its own
process, ``python SCRIPT_PATH INDEX`` as a script queue starts it, driven
over DDS; a process that exits, or stops beating, without a final state is
reported and counts as a failure. The observatory provider is told the
transport, so it may run the observatory as its own process too. With the
local transport the script is imported under a private module name (script
executables run ``amain()`` only under ``if __name__ == "__main__"``), its
one `BaseScript` subclass is constructed in this process, and it is driven
through a `Remote`, exactly as a script queue drives a script process.
"""

__all__ = [
    "load_script_class",
    "main",
    "make_observatory",
    "make_parser",
    "parse_args",
    "run_one_script",
]

import argparse
import asyncio
import contextlib
import importlib.util
import inspect
import itertools
import logging
import os
import pathlib
import random
import re
import sys
import traceback
import typing

import yaml

from .base import MAX_SAL_INDEX
from .base_script import BaseScript
from .isolation import SUBNAME_ENV, ensure_isolation_name
from .observatory_provider import ObservatoryProvider, find_observatory_providers
from .script_monitor import ScriptMonitor, run_loaded_script, run_script_process
from .transport_choice import add_transport_argument, get_transport_name

MAX_DEFAULT_INDEX = 99999
"""The default index is random in [1, MAX_DEFAULT_INDEX]."""

_module_counter = itertools.count(1)


def load_script_class(path: str | os.PathLike[str]) -> type[BaseScript]:
    """Import a script file and return its one concrete `BaseScript`
    subclass.

    Parameters
    ----------
    path : `str` or `os.PathLike`
        Path of the script file (e.g. an executable that runs
        ``asyncio.run(MyScript.amain())`` under
        ``if __name__ == "__main__"``).

    Returns
    -------
    script_class : `type` [`BaseScript`]
        The script class: the one concrete subclass defined in the file,
        else the one imported into it.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ImportError
        If the file cannot be imported.
    LookupError
        If the file holds no concrete `BaseScript` subclass, or several.
    """
    path = pathlib.Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"script file {str(path)!r} not found")
    stem = re.sub(r"\W", "_", path.stem)
    module_name = f"_run_one_script_{next(_module_counter)}_{stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import script file {str(path)!r}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    candidates = {
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj) and issubclass(obj, BaseScript) and not inspect.isabstract(obj)
    }
    local = {obj for obj in candidates if obj.__module__ == module_name}
    if local:
        candidates = local
    if len(candidates) != 1:
        names = ", ".join(sorted(obj.__qualname__ for obj in candidates)) or "none"
        raise LookupError(
            f"script file {str(path)!r} must hold exactly one concrete BaseScript subclass; found {names}"
        )
    return candidates.pop()


class _ConfigAction(argparse.Action):
    """Read ``--config FILE`` into ``namespace.config`` as the text typed."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: typing.Any,
        option_string: str | None = None,
    ) -> None:
        path = pathlib.Path(values)
        if not path.is_file():
            parser.error(f"{option_string} file {values!r} not found")
        namespace.config = path.read_text()


class _ParameterAction(argparse.Action):
    """Turn ``--parameters key=value ...`` into YAML in ``namespace.config``;
    each value is parsed as YAML (``n=3`` is a number, ``names=[a, b]`` a
    list).
    """

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: typing.Any,
        option_string: str | None = None,
    ) -> None:
        config: dict[str, typing.Any] = {}
        for item in values:
            name, sep, value_str = item.partition("=")
            name = name.strip()
            if not sep or not name:
                parser.error(f"{option_string} item {item!r} must have the form name=value")
            if name in config:
                parser.error(f"{option_string} gives {name!r} more than once")
            try:
                config[name] = yaml.safe_load(value_str)
            except yaml.YAMLError as e:
                parser.error(f"{option_string} value of {name!r} is not valid YAML: {e}")
        namespace.config = yaml.safe_dump(config, sort_keys=False)


def _log_level(text: str) -> int:
    """Parse a log level given as a number or a name (``DEBUG``, ``info``)."""
    if text.lstrip("-").isdigit():
        return int(text)
    level = logging.getLevelName(text.upper())
    if not isinstance(level, int):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a log level; use a number or DEBUG, INFO, WARNING, ERROR"
        )
    return level


def make_parser(providers: typing.Sequence[ObservatoryProvider] | None = None) -> argparse.ArgumentParser:
    """Make the command-line parser of ``run_one_script``.

    Parameters
    ----------
    providers : `list` [`ObservatoryProvider`], optional
        Observatory providers whose options to add; None for those found
        by entry point (`find_observatory_providers`).

    Returns
    -------
    parser : `argparse.ArgumentParser`
        The parser; callers may add options before parsing.
    """
    parser = argparse.ArgumentParser(
        prog="run_one_script",
        description="Configure and run one SAL script, printing its log messages; "
        "exit with the script's exit code (0 if DONE or STOPPED, else 1).",
    )
    parser.add_argument("script", help="Path of the script file.")
    parser.add_argument(
        "--index", type=int, help=f"Script SAL index; default: random in [1, {MAX_DEFAULT_INDEX}]."
    )
    parser.add_argument(
        "-l",
        "--loglevel",
        type=_log_level,
        help="Script log level: a number (debug=10, info=20, warning=30, error=40) or a name.",
    )
    config_group = parser.add_mutually_exclusive_group()
    config_group.add_argument(
        "-c", "--config", action=_ConfigAction, help="Configuration file (YAML), sent as typed."
    )
    config_group.add_argument(
        "-p",
        "--parameters",
        nargs="+",
        action=_ParameterAction,
        metavar="NAME=VALUE",
        help="Configuration as name=value pairs; each value is parsed as YAML.",
    )
    add_transport_argument(parser)
    for provider in _providers(providers):
        provider.add_arguments(parser)
    return parser


def _providers(providers: typing.Sequence[ObservatoryProvider] | None) -> list[ObservatoryProvider]:
    """Return the given providers, or those found by entry point."""
    return find_observatory_providers() if providers is None else list(providers)


def make_observatory(
    namespace: argparse.Namespace,
    transport: str,
    providers: typing.Sequence[ObservatoryProvider] | None = None,
) -> contextlib.AbstractAsyncContextManager[typing.Any] | None:
    """Make the observatory the command-line options ask for, if any.

    Parameters
    ----------
    namespace : `argparse.Namespace`
        Parsed options (`parse_args`).
    transport : `str`
        The script's transport, "local" or "dds" (the provider may run the
        observatory in its own process with "dds").
    providers : `list` [`ObservatoryProvider`], optional
        Observatory providers; None for those found by entry point.

    Returns
    -------
    observatory : async context manager or `None`
        Not entered; None if no provider was asked for one.

    Raises
    ------
    ValueError
        If a provider refuses a value, or several providers were asked for
        an observatory.
    """
    made = [
        observatory
        for provider in _providers(providers)
        if (observatory := provider.make_observatory(namespace, transport)) is not None
    ]
    if len(made) > 1:
        raise ValueError(f"the options ask for {len(made)} observatories; give the options of one")
    return made[0] if made else None


def parse_args(
    args: typing.Sequence[str] | None = None,
    parser: argparse.ArgumentParser | None = None,
    providers: typing.Sequence[ObservatoryProvider] | None = None,
) -> argparse.Namespace:
    """Parse the command line of ``run_one_script``.

    Parameters
    ----------
    args : `list` [`str`], optional
        Arguments; `None` for ``sys.argv[1:]``.
    parser : `argparse.ArgumentParser`, optional
        Parser made by `make_parser` with the same ``providers``; `None`
        for ``make_parser(providers)``.
    providers : `list` [`ObservatoryProvider`], optional
        Observatory providers that check their options; None for those
        found by entry point.

    Returns
    -------
    namespace : `argparse.Namespace`
        With ``script``, ``index`` (always set), ``loglevel``, and
        ``config`` (YAML text; "" if none given).
    """
    providers = _providers(providers)
    if parser is None:
        parser = make_parser(providers)
    namespace = parser.parse_args(args)
    if namespace.index is None:
        namespace.index = random.randint(1, MAX_DEFAULT_INDEX)
    elif not 0 < namespace.index <= MAX_SAL_INDEX:
        parser.error(f"--index {namespace.index} must be in the range [1, {MAX_SAL_INDEX}]")
    if namespace.config is None:
        namespace.config = ""
    for provider in providers:
        provider.check_arguments(parser, namespace)
    return namespace


async def run_one_script(
    script: str | os.PathLike[str],
    *,
    index: int,
    config: str = "",
    loglevel: int | None = None,
    stream: typing.TextIO | None = None,
    handle_signals: bool = False,
    observatory: contextlib.AbstractAsyncContextManager[typing.Any] | None = None,
    transport: str | None = None,
) -> int:
    """Configure and run one SAL script; return its exit code.

    Parameters
    ----------
    script : `str` or `os.PathLike`
        Path of the script file.
    index : `int`
        SAL index of the script (non-zero).
    config : `str`, optional
        Configuration as YAML text, sent as typed; "" for none.
    loglevel : `int`, optional
        Log level of the script; `None` to leave it as is. At DEBUG or
        below, tracebacks are printed as they arrive.
    stream : `typing.TextIO`, optional
        Where to print; `None` for `sys.stdout`.
    handle_signals : `bool`, optional
        On SIGINT or SIGTERM send ``stop`` to the script and wait for its
        final state.
    observatory : async context manager, optional
        Entered before the script starts and exited after it ends (made by
        an observatory provider, `make_observatory`); its ``describe()``
        line and ``alias_line``, if any, are printed. None: the script uses
        whatever components are running (a real observatory).
    transport : `str`, optional
        "local": the script runs in this process; "dds": the script runs as
        its own process, driven over DDS. None: ``LSST_SAL_TRANSPORT``
        (default "dds", as everywhere).

    Returns
    -------
    exit_code : `int`
        0 if the final state is DONE or STOPPED, else 1.

    Raises
    ------
    ValueError
        If ``index`` is 0.
    FileNotFoundError, ImportError, LookupError
        If the script file cannot be loaded (see `load_script_class`).
    """
    if index == 0:
        raise ValueError("index must be nonzero: index 0 would address every script")
    path = pathlib.Path(script).resolve()
    script_class = await asyncio.to_thread(load_script_class, path)
    monitor = ScriptMonitor(
        stream=sys.stdout if stream is None else stream,
        show_tracebacks=loglevel is not None and loglevel <= logging.DEBUG,
    )
    monitor.print(f"index={index}; script={path}; class={script_class.__name__}; config={config!r}")
    async with contextlib.AsyncExitStack() as stack:
        if observatory is None:
            monitor.print(
                "no simulated observatory (--simulate not given): the script needs the real observatory's "
                "components, running and reachable"
            )
        else:
            started = await stack.enter_async_context(observatory)
            describe = getattr(started, "describe", None)
            if describe is not None:
                monitor.print(describe())
            alias_line = getattr(started, "alias_line", "")
            if alias_line:
                monitor.print(f"to reach the repository from another session: {alias_line}")
        if (transport or get_transport_name()) == "dds":
            code = await run_script_process(path, index, config, loglevel, monitor, handle_signals)
        else:
            code = await run_loaded_script(script_class, index, config, loglevel, monitor, handle_signals)
    return code


def main(
    args: typing.Sequence[str] | None = None, providers: typing.Sequence[ObservatoryProvider] | None = None
) -> None:
    """Run ``run_one_script`` from the command line and exit with the
    script's exit code.

    Parameters
    ----------
    args : `list` [`str`], optional
        Arguments; `None` for ``sys.argv[1:]``.
    providers : `list` [`ObservatoryProvider`], optional
        Observatory providers; None for those found by entry point.
    """
    try:
        providers = _providers(providers)
    except (ImportError, TypeError) as e:
        print(f"run_one_script: error: {e}", file=sys.stderr)
        sys.exit(1)
    namespace = parse_args(args, providers=providers)
    try:
        transport = namespace.transport or get_transport_name()
        observatory = make_observatory(namespace, transport, providers)
        if observatory is not None:
            # The observatory this command starts is private to it (and the processes it starts).
            name, created = ensure_isolation_name("run")
            how = "private to this run" if created else f"from {SUBNAME_ENV}"
            print(f"isolation name {SUBNAME_ENV}={name} ({how})", flush=True)
        code = asyncio.run(
            run_one_script(
                namespace.script,
                index=namespace.index,
                config=namespace.config,
                loglevel=namespace.loglevel,
                handle_signals=True,
                observatory=observatory,
                transport=transport,
            )
        )
    except (FileNotFoundError, ImportError, LookupError, ValueError, RuntimeError) as e:
        print(f"run_one_script: error: {e}", file=sys.stderr)
        if namespace.loglevel is not None and namespace.loglevel <= logging.DEBUG:
            traceback.print_exc()
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
