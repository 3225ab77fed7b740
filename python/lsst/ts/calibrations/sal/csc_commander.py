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
"""CscCommander: command a CSC from the command line and print its output."""

__all__ = ["BOOL_DICT", "CscCommander", "stream_as_generator"]

import argparse
import asyncio
import collections
import dataclasses
import enum
import functools
import inspect
import shlex
import sys
import types
import warnings
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any, TextIO

from .base import State
from .domain import Domain
from .remote import Remote
from .set_summary_state import set_summary_state

BOOL_DICT = {"0": False, "f": False, "false": False, "1": True, "t": True, "true": True}
"""Text accepted for a boolean command argument (lower case)."""


async def stream_as_generator(stream: TextIO, exit_str: str = "") -> AsyncGenerator[str, None]:
    """Yield the non-blank lines of a text stream (e.g. `sys.stdin`), stripped.

    Each line is read in a worker thread, so the event loop keeps running.

    Parameters
    ----------
    stream : `typing.TextIO`
        Stream to read.
    exit_str : `str`, optional
        Stop at a line equal to this (if not blank); also stop at the end.

    Yields
    ------
    line : `str`
        A non-blank line without leading and trailing white space.
    """
    while True:
        line = await asyncio.to_thread(stream.readline)
        if not line:
            break
        stripped = line.strip()
        if not stripped:
            continue
        if exit_str and stripped == exit_str:
            break
        yield stripped


def _round_any(value: Any, digits: int = 2) -> Any:
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, list) and value and isinstance(value[0], float):
        return [round(item, digits) for item in value]
    return value


def _message_items(data: Any) -> dict[str, Any]:
    """Return field name: value of a message (a dataclass, or any object)."""
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        return {field.name: getattr(data, field.name) for field in dataclasses.fields(data)}
    return dict(vars(data))


class CscCommander:
    """Command a CSC from the command line, printing its events and
    telemetry (as salobj's ``CscCommander``).

    Parameters
    ----------
    name : `str`
        SAL component name of the CSC.
    index : `int` or `None`, optional
        SAL index of the CSC.
    enable : `bool`, optional
        Enable the CSC when the commander starts?
    exclude : sequence of `str`, optional
        Events and telemetry topics not to print.
    exclude_commands : sequence of `str`, optional
        Commands not to offer.
    fields_to_ignore : sequence of `str`, optional
        Fields left out of command arguments and printed messages.
    telemetry_fields_to_not_compare : sequence of `str`, optional
        Telemetry fields printed but not compared when deciding whether a
        sample changed enough to print.
    telemetry_fields_compare_digits : `dict` [`str`, `int`], optional
        Field name: digits to round to before comparing.

    Attributes
    ----------
    domain : `Domain`
        The Domain.
    remote : `Remote`
        Remote of the CSC.
    help_dict : `dict` [`str`, `str`]
        Command name: "arguments  # description", for commands of your own
        (``do_<name>`` methods) or overriding the generated help.
    command_dict : `dict` [`str`, `RemoteCommand`]
        Command name: command topic.
    testing : `bool`
        If True, `output` also appends to `output_queue` (for unit tests).
    output_queue : `collections.deque` [`str`]
        Output lines, when `testing`.

    Notes
    -----
    A command line is "name arg1 arg2 ..." (shell-like quoting); scalar
    arguments are cast to the field types, in field order. Define
    ``async def do_<name>(self, args)`` to add or override a command, and
    ``evt_<name>_callback``/``tel_<name>_callback`` to print a topic your
    way. ``help`` prints the commands; ``exit`` ends `amain`.
    """

    def __init__(
        self,
        name: str,
        index: int | None = 0,
        enable: bool = False,
        exclude: Sequence[str] | None = None,
        exclude_commands: Sequence[str] = (),
        fields_to_ignore: Sequence[str] = ("ignored", "value"),
        telemetry_fields_to_not_compare: Sequence[str] = ("timestamp",),
        telemetry_fields_compare_digits: dict[str, int] | None = None,
    ) -> None:
        self.domain = Domain()
        self.remote = Remote(domain=self.domain, name=name, index=index, exclude=exclude or None)
        self.fields_to_ignore = frozenset(fields_to_ignore)
        self.telemetry_fields_to_not_compare = frozenset(telemetry_fields_to_not_compare)
        self.telemetry_fields_compare_digits = dict(telemetry_fields_compare_digits or {})
        self.tasks: set[asyncio.Future[Any]] = set()
        self.help_dict: dict[str, str] = {}
        self.enable = enable
        self.testing = False
        self.output_queue: collections.deque[str] = collections.deque()
        self._previous_telemetry: dict[str, dict[str, Any]] = {}
        for event_name in self.remote.salinfo.event_names:
            topic = getattr(self.remote, f"evt_{event_name}", None)
            if event_name == "heartbeat" or topic is None:
                continue
            callback = getattr(self, f"evt_{event_name}_callback", None)
            topic.callback = callback or functools.partial(self.event_callback, name=event_name)
        for telemetry_name in self.remote.salinfo.telemetry_names:
            topic = getattr(self.remote, f"tel_{telemetry_name}", None)
            if topic is None:
                continue
            callback = getattr(self, f"tel_{telemetry_name}_callback", None)
            topic.callback = callback or functools.partial(self.telemetry_callback, name=telemetry_name)
        excluded = frozenset(exclude_commands)
        self.command_dict = {
            command_name: getattr(self.remote, f"cmd_{command_name}")
            for command_name in self.remote.salinfo.command_names
            if command_name not in excluded
        }
        sync_do_names = sorted(
            name
            for name, member in inspect.getmembers(self, predicate=inspect.ismethod)
            if name.startswith("do_") and not inspect.iscoroutinefunction(member)
        )
        if sync_do_names:
            warnings.warn(
                f"{type(self).__name__}: synchronous do_ methods are deprecated: {sync_do_names}",
                DeprecationWarning,
                stacklevel=2,
            )

    # Output

    def output(self, msg: str) -> None:
        """Print a message (and queue it, if `testing`).

        Parameters
        ----------
        msg : `str`
            The message.
        """
        if self.testing:
            self.output_queue.append(msg)
        print(msg)

    def print_help(self) -> None:
        """Print the commands and their arguments."""
        command_help = "\n".join(self.get_commands_help())
        self.output(
            f"Send commands to the {self.remote.salinfo.name} CSC and print events and telemetry.\n\n"
            f"CSC Commands:\n{command_help}\n"
            "exit  # exit this commander (leaving the CSC running)\n"
            "help  # print this help\n"
        )

    def format_item(self, key: str, value: Any) -> str:
        """Format one field: "key=value" (floats with 4 decimals)."""
        if isinstance(value, float):
            return f"{key}={value:0.4f}"
        return f"{key}={value}"

    def format_dict(self, data: dict[str, Any]) -> str:
        """Format every item of a dict, comma-separated."""
        return ", ".join(self.format_item(key, value) for key, value in data.items())

    def format_data(self, data: Any) -> str:
        """Format the public fields of a message."""
        return self.format_dict(self.get_public_data(data))

    def field_is_public(self, name: str) -> bool:
        """Is a field printed and used as a command argument?"""
        return not name.startswith("private_") and name != "salIndex" and name not in self.fields_to_ignore

    def get_public_data(self, data: Any) -> dict[str, Any]:
        """Return field name: value of the public fields of a message."""
        return {key: value for key, value in _message_items(data).items() if self.field_is_public(key)}

    def get_rounded_public_data(self, data: Any, digits: int = 2) -> dict[str, Any]:
        """Return the public fields of a message, floats rounded to ``digits``."""
        return {key: _round_any(value, digits) for key, value in self.get_public_data(data).items()}

    def get_telemetry_comparison_dict(self, public_dict: dict[str, Any], digits: int) -> dict[str, Any]:
        """Return the rounded fields compared to decide whether to print telemetry."""
        return {
            key: _round_any(value, self.telemetry_fields_compare_digits.get(key, digits))
            for key, value in public_dict.items()
            if key not in self.telemetry_fields_to_not_compare
        }

    async def event_callback(self, data: Any, name: str) -> None:
        """Print an event: "<sndStamp>: <name>: <fields>"."""
        self.output(f"{data.private_sndStamp:0.3f}: {name}: {self.format_data(data)}")

    async def evt_logMessage_callback(self, data: Any) -> None:  # noqa: N802
        """Print a log message briefly (name, level, message; traceback if any)."""
        public = {key: getattr(data, key) for key in ("name", "level", "message")}
        if data.traceback:
            public["traceback"] = data.traceback
        self.output(f"{data.private_sndStamp:0.3f}: logMessage: {self.format_dict(public)}")

    async def evt_summaryState_callback(self, data: Any) -> None:  # noqa: N802
        """Print the summary state by name."""
        try:
            state_repr = repr(State(data.summaryState))
        except ValueError:
            state_repr = f"{data.summaryState} (not a known state!)"
        self.output(f"{data.private_sndStamp:0.3f}: summaryState: summaryState={state_repr}")

    async def telemetry_callback(self, data: Any, name: str, digits: int = 2) -> None:
        """Print a telemetry sample if it changed enough since the last one printed.

        Parameters
        ----------
        data : ``DataType``
            The sample.
        name : `str`
            Topic name to print.
        digits : `int`, optional
            Digits floats are rounded to before comparing.
        """
        public = self.get_public_data(data)
        comparison = self.get_telemetry_comparison_dict(public, digits)
        if comparison != self._previous_telemetry.get(name):
            self._previous_telemetry[name] = comparison
            self.output(f"{data.private_sndStamp:0.3f}: {name}: {self.format_dict(public)}")

    # Commands

    def check_arguments(
        self, args: Sequence[str], *names: str | tuple[str, Callable[[str], Any]]
    ) -> dict[str, Any]:
        """Check the number of arguments and cast them.

        Parameters
        ----------
        args : sequence of `str`
            The arguments.
        *names : `str` or (`str`, callable)
            One per argument: a name (cast to float) or (name, cast function).

        Returns
        -------
        kwargs : `dict` [`str`, `typing.Any`]
            Name: cast value.

        Raises
        ------
        RuntimeError
            If the number of arguments is wrong.
        """
        if len(args) != len(names):
            if not names:
                raise RuntimeError("no arguments allowed")
            raise RuntimeError(f"{len(names)} arguments required: {names}; {len(args)} given: {list(args)}")
        result: dict[str, Any] = {}
        for name, arg in zip(names, args):
            if isinstance(name, tuple):
                arg_name, cast = name
                result[arg_name] = cast(arg)
            else:
                result[name] = float(arg)
        return result

    async def do_start(self, args: Sequence[str]) -> None:
        """Send ``start``, with an optional configuration override."""
        if len(args) > 1:
            raise RuntimeError(f"start takes at most one argument (the override); got {list(args)}")
        override = args[0] if args else ""
        await self.remote.cmd_start.set_start(configurationOverride=override)

    def get_commands_help(self) -> list[str]:
        """Return one help line per command.

        Then "Other Commands:" and the commands of `help_dict` that are not
        SAL commands.
        """
        lines = []
        for command_name in sorted(self.command_dict):
            arguments = self.help_dict.get(command_name)
            if arguments is None:
                sample = self.command_dict[command_name].DataType()
                arguments = " ".join(self.get_public_data(sample))
            lines.append(f"{command_name} {arguments}")
        lines += ["", "Other Commands:"]
        lines += [
            f"{name} {self.help_dict[name]}"
            for name in sorted(self.help_dict)
            if name not in self.command_dict
        ]
        return lines

    async def run_command_topic(self, command_name: str, args: Sequence[str]) -> None:
        """Send a SAL command with one argument per public scalar field.

        Parameters
        ----------
        command_name : `str`
            Command name.
        args : sequence of `str`
            Values, in field order.

        Raises
        ------
        ValueError
            If the number of arguments is wrong or one cannot be cast.
        """
        command = self.command_dict[command_name]
        kwargs = self.get_public_data(command.DataType())
        if len(kwargs) != len(args):
            raise ValueError(
                f"Command {command_name} requires {len(kwargs)} arguments "
                f"({' '.join(kwargs)}); got {len(args)}"
            )
        for (name, default), text in zip(list(kwargs.items()), args):
            try:
                if isinstance(default, bool):
                    kwargs[name] = BOOL_DICT[text.lower()]
                else:
                    kwargs[name] = type(default)(text)
            except Exception:
                raise ValueError(
                    f"Could not parse {text!r} as {type(default).__name__} for argument {name}"
                ) from None
        await command.set_start(**kwargs)

    async def run_command(self, cmd: str) -> None:
        """Run one command line ("name args...") and wait for it to finish.

        Parameters
        ----------
        cmd : `str`
            The line (not "exit").
        """
        tokens = shlex.split(cmd)
        if not tokens:
            return
        command_name, args = tokens[0], tokens[1:]
        method = getattr(self, f"do_{command_name}", None)
        if command_name == "help":
            self.print_help()
        elif method is not None:
            result = method(args)
            if inspect.isawaitable(result):
                await result
        elif command_name in self.command_dict:
            await self.run_command_topic(command_name, args)
        else:
            self.output(f"Unrecognized command: {command_name}")

    async def _run_command_and_output(self, cmd: str) -> None:
        task = asyncio.create_task(self.run_command(cmd))
        self.tasks.add(task)
        try:
            await task
            self.output(f"Finished command {cmd.split()[0]}")
        except Exception as e:
            self.output(str(e))
        finally:
            self.tasks.discard(task)

    async def start(self) -> None:
        """Wait for the Remote; enable the CSC if asked."""
        self.output(f"Waiting for {self.remote.salinfo.name_index} to start.")
        await self.remote.start_task
        if not self.enable:
            return
        self.output(f"Enabling {self.remote.salinfo.name_index}")
        callback = self.remote.evt_summaryState.callback
        try:
            self.remote.evt_summaryState.callback = None
            await set_summary_state(self.remote, State.ENABLED)
        finally:
            data = self.remote.evt_summaryState.get()
            self.remote.evt_summaryState.callback = callback
            if data is not None and callback is not None:
                result = callback(data)
                if inspect.isawaitable(result):
                    await result

    async def close(self) -> None:
        """Cancel running commands and close the Remote and Domain."""
        while self.tasks:
            self.tasks.pop().cancel()
        await self.remote.close()
        await self.domain.close()

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add arguments to the parser of `make_from_cmd_line` (none here)."""

    @classmethod
    def add_kwargs_from_args(cls, args: argparse.Namespace, kwargs: dict[str, Any]) -> None:
        """Add constructor arguments from the parsed command line (none here)."""

    @classmethod
    def make_from_cmd_line(
        cls, index: int | type[enum.IntEnum] | bool | None, args: Sequence[str] | None = None, **kwargs: Any
    ) -> "CscCommander":
        """Build the commander from command-line arguments.

        Parameters
        ----------
        index : `int`, `enum.IntEnum` class, `True` or `None`
            As for `BaseCsc.make_from_cmd_line`.
        args : sequence of `str`, optional
            Arguments to parse; ``sys.argv[1:]`` if None.
        **kwargs : `typing.Any`
            More constructor arguments.

        Returns
        -------
        commander : `CscCommander`
            The commander.
        """
        parser = argparse.ArgumentParser(f"Run {cls.__name__}")
        if index is True:
            parser.add_argument("index", type=int, help="SAL index.")
        elif isinstance(index, type) and issubclass(index, enum.IntEnum):
            choices = [int(item.value) for item in index]
            names = ", ".join(f"{item.value}: {item.name.lower()}" for item in index)
            parser.add_argument("index", type=int, choices=choices, help=f"SAL index, one of: {names}")
        parser.add_argument("-e", "--enable", action="store_true", help="Enable the CSC?")
        cls.add_arguments(parser)
        parsed = parser.parse_args(args)
        if hasattr(parsed, "index"):
            kwargs["index"] = parsed.index
        elif index and index is not True:
            kwargs["index"] = int(index)  # type: ignore[arg-type]
        kwargs["enable"] = parsed.enable
        cls.add_kwargs_from_args(args=parsed, kwargs=kwargs)
        return cls(**kwargs)

    @classmethod
    async def amain(cls, *, index: int | type[enum.IntEnum] | bool | None, **kwargs: Any) -> None:
        """Build the commander from the command line and run commands read
        from standard input until "exit" or the end of input.

        Parameters
        ----------
        index : `int`, `enum.IntEnum` class, `True` or `None`
            As for `make_from_cmd_line`.
        **kwargs : `typing.Any`
            More constructor arguments.
        """
        self = cls.make_from_cmd_line(index=index, **kwargs)
        try:
            await self.start()
            self.print_help()
            async for line in stream_as_generator(stream=sys.stdin, exit_str="exit"):
                self.tasks = {task for task in self.tasks if not task.done()}
                self.tasks.add(asyncio.create_task(self._run_command_and_output(line)))
        finally:
            await self.close()

    async def __aenter__(self) -> "CscCommander":
        await self.remote.start_task
        return self

    async def __aexit__(
        self,
        type: type[BaseException] | None,
        value: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        await self.close()
