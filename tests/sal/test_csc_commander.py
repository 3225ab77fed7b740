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

"""CscCommander and TestCscCommander, driven as salobj's tests drive them:
``testing = True`` and `run_command`, checking the output queue."""

import asyncio
import io

import pytest

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations import sal as salobj
from lsst.ts.calibrations.sal import State


async def wait_for_output(commander: salobj.CscCommander, text: str) -> str:
    """Return the first output line containing ``text`` (consuming the queue up to it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STD_TIMEOUT
    while loop.time() < deadline:
        while commander.output_queue:
            line = commander.output_queue.popleft()
            if text in line:
                return line
        await asyncio.sleep(0.01)
    raise AssertionError(f"no output containing {text!r}")


async def test_commander(index: int) -> None:
    async with salobj.TestCsc(index, heartbeat_interval=0.1) as csc:
        commander = salobj.TestCscCommander(index=index, enable=True)
        commander.testing = True
        async with commander:
            await commander.start()
            assert csc.summary_state == State.ENABLED
            await wait_for_output(commander, "summaryState=<State.ENABLED: 2>")

            await commander.run_command("setScalars 1 2 3 4 5 6 7 8 9.5 10.5 'two words'")
            line = await wait_for_output(commander, ": scalars: ")
            assert "int0=4" in line and "string0=two words" in line and "float0=9.5000" in line
            assert csc.evt_scalars.data.boolean0 is True

            await commander.run_command("setArrays int0=3,-4,5 boolean0=1,0 float0=-42.5")
            await wait_for_output(commander, ": arrays: ")
            assert csc.evt_arrays.data.int0 == [3, -4, 5, 0, 0]
            assert csc.evt_arrays.data.boolean0 == [True, False, False, False, False]

            with pytest.raises(ValueError, match="requires 11 arguments"):
                await commander.run_command("setScalars 1 2")
            with pytest.raises(ValueError, match="Could not parse 'x' as int for argument byte0"):
                await commander.run_command("setScalars 1 x 3 4 5 6 7 8 9 10 s")
            with pytest.raises(RuntimeError, match="Unknown field 'nope'"):
                await commander.run_command("setArrays nope=1")
            with pytest.raises(salobj.AckError, match="start not allowed"):
                await commander.run_command("start")

            commander.output_queue.clear()
            await commander.run_command("help")
            help_text = commander.output_queue.popleft()
            assert "setScalars boolean0 byte0 short0 int0" in help_text
            assert "setArrays field1=val1,val2,..." in help_text
            assert "exit  # exit this commander" in help_text
            await commander.run_command("no_such_command")
            assert "Unrecognized command: no_such_command" in commander.output_queue

            # The interactive wrapper reports errors instead of raising.
            await commander._run_command_and_output("setScalars 1")
            assert any("requires 11 arguments" in line for line in commander.output_queue)
            await commander.run_command("disable")
            await commander.run_command("standby")
            await commander.run_command("start some_fields.yaml")
            assert csc.config.string0 == "an arbitrary string"


async def test_stream_as_generator() -> None:
    stream = io.StringIO("first\n\n  second  \nexit\nnot read\n")
    lines = [line async for line in salobj.stream_as_generator(stream, exit_str="exit")]
    assert lines == ["first", "second"]


def test_make_from_cmd_line() -> None:
    async def build() -> salobj.CscCommander:
        commander = salobj.CscCommander.make_from_cmd_line(index=True, name="Test", args=["7", "--enable"])
        await commander.close()
        return commander

    commander = asyncio.run(build())
    assert commander.enable
    assert commander.remote.salinfo.index == 7
