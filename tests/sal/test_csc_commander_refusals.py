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

"""CscCommander's refusals and edge cases: wrong argument counts and casts
named in the message, an unknown command, a summary state it does not
know, log messages with tracebacks, telemetry printed only on change, its
command line (index choices) and its loop over standard input."""

import asyncio
import enum
import io
import types
from collections.abc import Sequence

import pytest

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations import sal as salobj
from lsst.ts.calibrations.sal import State


class Site(enum.IntEnum):
    """SAL indices with names."""

    NORTH = 3
    SOUTH = 4


def message(**fields: object) -> types.SimpleNamespace:
    """A message that is not a dataclass, with a send time."""
    return types.SimpleNamespace(private_sndStamp=12.5, salIndex=1, **fields)


async def make_commander(index: int, **kwargs: object) -> salobj.CscCommander:
    commander = salobj.CscCommander("Test", index=index, **kwargs)  # type: ignore[arg-type]
    commander.testing = True
    await asyncio.wait_for(commander.remote.start_task, STD_TIMEOUT)
    return commander


async def test_check_arguments_names_what_is_wanted(index: int) -> None:
    async with await make_commander(index) as commander:
        assert commander.check_arguments(["1.5", "7"], "x", ("n", int)) == {"x": 1.5, "n": 7}
        assert commander.check_arguments([]) == {}
        with pytest.raises(RuntimeError, match="no arguments allowed"):
            commander.check_arguments(["1"])
        with pytest.raises(RuntimeError, match=r"2 arguments required: \('x', 'y'\); 1 given: \['1'\]"):
            commander.check_arguments(["1"], "x", "y")
        with pytest.raises(ValueError):
            commander.check_arguments(["one"], "x")


async def test_start_takes_at_most_one_override(index: int) -> None:
    async with await make_commander(index) as commander:
        with pytest.raises(
            RuntimeError, match=r"start takes at most one argument \(the override\); got \['a', 'b'\]"
        ):
            await commander.run_command("start a b")


async def test_unknown_and_empty_commands(index: int) -> None:
    async with await make_commander(index) as commander:
        await commander.run_command("   ")
        assert not commander.output_queue
        await commander.run_command("frobnicate 1 2")
        assert list(commander.output_queue) == ["Unrecognized command: frobnicate"]


async def test_command_errors_reach_the_output(index: int) -> None:
    async with salobj.TestCsc(index, initial_state=State.ENABLED), await make_commander(index) as commander:
        await commander._run_command_and_output("setScalars 1 2")
        assert commander.output_queue.pop().startswith("Command setScalars requires 11 arguments")
        await commander._run_command_and_output("setScalars 1 2 3 4 5 6 7 8 9 10 s")
        assert commander.output_queue.pop() == "Finished command setScalars"
        assert not commander.tasks


async def test_callbacks_format_what_they_print(index: int) -> None:
    async with await make_commander(index, telemetry_fields_compare_digits={"temperature": 0}) as commander:
        await commander.evt_summaryState_callback(message(summaryState=99))
        assert commander.output_queue.pop() == "12.500: summaryState: summaryState=99 (not a known state!)"
        await commander.evt_summaryState_callback(message(summaryState=int(State.FAULT)))
        assert commander.output_queue.pop() == "12.500: summaryState: summaryState=<State.FAULT: 3>"

        log = message(name="cam", level=40, message="lost", traceback="")
        await commander.evt_logMessage_callback(log)
        assert commander.output_queue.pop() == "12.500: logMessage: name=cam, level=40, message=lost"
        log.traceback = "Traceback: boom"
        await commander.evt_logMessage_callback(log)
        assert commander.output_queue.pop().endswith("message=lost, traceback=Traceback: boom")

        # Telemetry is printed when it changes beyond its rounding; "timestamp" is not compared.
        await commander.telemetry_callback(message(temperature=20.2, timestamp=1.0), name="weather")
        assert commander.output_queue.pop() == "12.500: weather: temperature=20.2000, timestamp=1.0000"
        await commander.telemetry_callback(message(temperature=20.4, timestamp=2.0), name="weather")
        assert not commander.output_queue
        await commander.telemetry_callback(message(temperature=21.6, timestamp=3.0), name="weather")
        assert commander.output_queue.pop().startswith("12.500: weather: temperature=21.6000")

        data = message(value=1.0, ignored=2, private_origin=3, level=[1.234, 5.678], mean=2.345)
        assert commander.get_rounded_public_data(data, digits=1) == {"level": [1.2, 5.7], "mean": 2.3}


async def test_excluded_telemetry_gets_no_callback(index: int) -> None:
    async with await make_commander(index, exclude=["scalars"]) as commander:
        assert not hasattr(commander.remote, "tel_scalars")
        assert commander.remote.tel_arrays.callback is not None


def test_synchronous_do_methods_are_deprecated() -> None:
    class OldCommander(salobj.CscCommander):
        def do_legacy(self, args: Sequence[str]) -> None:
            self.output(f"legacy {args}")

    async def build() -> None:
        with pytest.warns(DeprecationWarning, match=r"OldCommander: synchronous do_ methods are deprecated"):
            commander = OldCommander("Test", index=5)
        commander.testing = True
        # Still run, though.
        await commander.run_command("legacy a")
        assert list(commander.output_queue) == ["legacy ['a']"]
        await commander.close()

    asyncio.run(build())


def test_cmd_line_index() -> None:
    async def build(index: object, args: list[str]) -> salobj.CscCommander:
        commander = salobj.CscCommander.make_from_cmd_line(index=index, name="Test", args=args)  # type: ignore[arg-type]
        await commander.close()
        return commander

    assert asyncio.run(build(Site, ["3"])).remote.salinfo.index == Site.NORTH
    assert asyncio.run(build(12, [])).remote.salinfo.index == 12
    assert not asyncio.run(build(12, [])).enable
    with pytest.raises(SystemExit):
        salobj.CscCommander.make_from_cmd_line(index=Site, name="Test", args=["5"])


async def test_amain_reads_commands_until_exit(index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    outputs: list[str] = []
    monkeypatch.setattr(salobj.CscCommander, "output", lambda self, msg: outputs.append(msg))
    monkeypatch.setattr("sys.stdin", io.StringIO("nosuchcommand\n\nexit\nnot read\n"))
    async with salobj.TestCsc(index) as csc:
        await asyncio.wait_for(
            salobj.CscCommander.amain(index=True, name="Test", args=[str(index), "--enable"]), STD_TIMEOUT
        )
        assert csc.summary_state == State.ENABLED
    assert outputs[0] == f"Waiting for Test:{index} to start."
    assert f"Enabling Test:{index}" in outputs
    assert any(line.startswith("Send commands to the Test CSC") for line in outputs)
