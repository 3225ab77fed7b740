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


"""What ``run_one_script`` runs against: observatory providers.

The SAL runtime does not know which observatory a script talks to. A
package that can start one (the simulated ComCam observatory, a test
double, another camera's simulator) offers an `ObservatoryProvider`: it
adds its own options to ``run_one_script``'s command line (an argparse
group, so ``--help`` lists them), checks them, and makes an async context
manager that ``run_one_script`` enters around the script.

Providers are found by entry point, group `ENTRY_POINT_GROUP`; each entry
names a class (or a ready object) whose instances implement the protocol::

    [project.entry-points."lsst.ts.calibrations.observatories"]
    simulated = "package.module:ProviderClass"

A command other than ``run_one_script`` (a script queue) asks for an
observatory in the providers' own command-line words with
`observatory_from_args`, e.g. ``["--simulate", "--repo", PATH]``.

An install made before an entry point was declared does not list it; then
`find_observatory_providers` also reads the declarations from the
``pyproject.toml`` of the source tree this package is imported from (an
editable install or ``PYTHONPATH``), so a new provider works without a
reinstall.
"""

__all__ = [
    "ENTRY_POINT_GROUP",
    "ObservatoryProvider",
    "find_observatory_providers",
    "load_provider",
    "observatory_from_args",
]

import argparse
import contextlib
import importlib
import importlib.metadata
import pathlib
import tomllib
import typing

ENTRY_POINT_GROUP = "lsst.ts.calibrations.observatories"
"""Entry-point group of the observatory providers."""

DISTRIBUTION_NAME = "lsst-ts-calibrations"
"""Name of this package's distribution (whose ``pyproject.toml`` is the fallback)."""


@typing.runtime_checkable
class ObservatoryProvider(typing.Protocol):
    """An observatory ``run_one_script`` can start around a script.

    A provider owns its command-line options: `add_arguments` declares them,
    `check_arguments` refuses bad combinations with ``parser.error``, and
    `make_observatory` turns the parsed values into an async context
    manager (not yet entered), or `None` when the options do not ask for
    this observatory.

    The context manager's value may offer ``describe() -> str`` (one line
    saying what runs where) and ``alias_line: str`` (a shell line that
    reaches the observatory's data from another session); both are
    printed if present.
    """

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add this observatory's options (an argument group) to a parser.

        Parameters
        ----------
        parser : `argparse.ArgumentParser`
            The parser of ``run_one_script``.
        """
        ...

    def check_arguments(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace) -> None:
        """Check the parsed options; call ``parser.error`` naming a bad one.

        Parameters
        ----------
        parser : `argparse.ArgumentParser`
            The parser (for ``parser.error``).
        namespace : `argparse.Namespace`
            The parsed options.
        """
        ...

    def make_observatory(
        self, namespace: argparse.Namespace, transport: str
    ) -> contextlib.AbstractAsyncContextManager[typing.Any] | None:
        """Make the observatory the options ask for, not started.

        Parameters
        ----------
        namespace : `argparse.Namespace`
            The parsed, checked options.
        transport : `str`
            The transport the script will use: "local" (the observatory
            must run in this process) or "dds" (it may run in its own).

        Returns
        -------
        observatory : async context manager or `None`
            None if the options do not ask for this observatory.
        """
        ...


def load_provider(value: str) -> ObservatoryProvider:
    """Load a provider from an entry-point value, ``module:attribute``.

    Parameters
    ----------
    value : `str`
        E.g. ``"package.module:ProviderClass"``; a class is instantiated
        with no arguments.

    Returns
    -------
    provider : `ObservatoryProvider`
        The provider.

    Raises
    ------
    ImportError
        If the module cannot be imported.
    TypeError
        If ``value`` is not ``module:attribute``, or the object is not an
        `ObservatoryProvider`.
    """
    module_name, sep, attribute = value.partition(":")
    if not sep or not module_name or not attribute:
        raise TypeError(f"observatory provider {value!r} must have the form module:attribute")
    obj: typing.Any = importlib.import_module(module_name.strip())
    for part in attribute.strip().split("."):
        obj = getattr(obj, part)
    provider = obj() if isinstance(obj, type) else obj
    if not isinstance(provider, ObservatoryProvider):
        raise TypeError(
            f"observatory provider {value!r} lacks add_arguments, check_arguments or make_observatory"
        )
    return provider


def _declared_in_source() -> dict[str, str]:
    """Return the providers declared in this source tree's ``pyproject.toml``.

    Returns ``{}`` when the package is not imported from a source tree of
    this distribution (a regular install).
    """
    # python/lsst/ts/calibrations/sal/observatory_provider.py -> the tree's root.
    root = pathlib.Path(__file__).resolve().parents[5]
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    project = data.get("project", {})
    if project.get("name") != DISTRIBUTION_NAME:
        return {}
    declared = project.get("entry-points", {}).get(ENTRY_POINT_GROUP, {})
    return {str(name): str(value) for name, value in declared.items()}


def find_observatory_providers() -> list[ObservatoryProvider]:
    """Load every observatory provider, sorted by entry-point name.

    The installed entry points of `ENTRY_POINT_GROUP` come first; names
    declared in this source tree's ``pyproject.toml`` but not installed
    (an install older than the declaration) are added.

    Returns
    -------
    providers : `list` [`ObservatoryProvider`]
        The providers; empty if there are none.

    Raises
    ------
    ImportError, TypeError
        If a declared provider cannot be loaded (see `load_provider`).
    """
    values = {entry.name: entry.value for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    for name, value in _declared_in_source().items():
        values.setdefault(name, value)
    providers = []
    for name in sorted(values):
        try:
            providers.append(load_provider(values[name]))
        except ImportError as e:
            raise ImportError(
                f"observatory provider {name!r} ({values[name]}, entry point group {ENTRY_POINT_GROUP}) "
                f"cannot be imported: {e}"
            ) from e
    return providers


def observatory_from_args(
    args: typing.Sequence[str],
    transport: str,
    providers: typing.Sequence[ObservatoryProvider] | None = None,
) -> contextlib.AbstractAsyncContextManager[typing.Any] | None:
    """Make the observatory that providers' options ask for, given as a command line.

    Parameters
    ----------
    args : `list` [`str`]
        The providers' options, e.g. ``["--simulate", "--repo", "/tmp/repo"]``.
    transport : `str`
        The transport of the scripts that will use the observatory, "local"
        or "dds".
    providers : `list` [`ObservatoryProvider`], optional
        Observatory providers; None for those found by entry point.

    Returns
    -------
    observatory : async context manager or `None`
        Not entered; None if no provider was asked for one.

    Raises
    ------
    ValueError
        If the options are not those of the providers, or a value is bad
        (the message names it), or they ask for several observatories.
    """
    if providers is None:
        providers = find_observatory_providers()
    parser = _RaisingParser(prog="observatory", add_help=False)
    for provider in providers:
        provider.add_arguments(parser)
    namespace = parser.parse_args(list(args))
    for provider in providers:
        provider.check_arguments(parser, namespace)
    made = [
        observatory
        for provider in providers
        if (observatory := provider.make_observatory(namespace, transport)) is not None
    ]
    if len(made) > 1:
        raise ValueError(f"{' '.join(args)!r} asks for {len(made)} observatories; give the options of one")
    return made[0] if made else None


class _RaisingParser(argparse.ArgumentParser):
    """A parser whose errors are `ValueError` (not an exit): options given by a program."""

    def error(self, message: str) -> typing.NoReturn:
        raise ValueError(f"observatory options: {message}")
