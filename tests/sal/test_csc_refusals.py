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

"""BaseCsc's refusals and failure paths: a class set up wrongly, a state
that does not allow an action, a hook that fails, a fault that cannot be
reported, and the command line of a CSC executable (index choices,
simulation modes, termination signals)."""

import asyncio
import enum
import logging
import os
import signal
from typing import Any, ClassVar

import pytest

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations import sal as salobj
from lsst.ts.calibrations.sal import ExpectedError, State

HEARTBEAT_INTERVAL = 0.05


class NoVersionCsc(salobj.BaseCsc):
    """A CSC class that forgot its ``version``."""

    valid_simulation_modes: ClassVar[tuple[int, ...]] = (0,)


class NoModesCsc(salobj.BaseCsc):
    """A CSC class whose ``valid_simulation_modes`` is None."""

    version = "1.0"
    valid_simulation_modes = None  # type: ignore[assignment]


class TwoModeCsc(salobj.TestCsc):
    """A TestCsc that also simulates (mode 1)."""

    valid_simulation_modes: ClassVar[tuple[int, ...]] = (0, 1)


class ThreeModeCsc(salobj.TestCsc):
    """A TestCsc with simulation modes 0, 1 and 2."""

    valid_simulation_modes: ClassVar[tuple[int, ...]] = (0, 1, 2)


class Site(enum.IntEnum):
    """SAL indices with names, as some CSCs offer them."""

    NORTH = 3
    SOUTH = 4


def test_class_set_up_wrongly_is_refused() -> None:
    with pytest.raises(RuntimeError, match="NoVersionCsc must set class variable `version`"):
        NoVersionCsc("Test", 1)
    with pytest.raises(RuntimeError, match=r"NoModesCsc.valid_simulation_modes must not be None"):
        NoModesCsc("Test", 1)


async def test_properties_and_duplicate_check_argument(index: int) -> None:
    async with TwoModeCsc(
        index, override="all_fields.yaml", simulation_mode=1, heartbeat_interval=HEARTBEAT_INTERVAL
    ) as csc:
        assert csc.override == "all_fields.yaml"
        assert csc.simulation_mode == 1
        with pytest.raises(ValueError, match="num_intervals=0 must be positive"):
            await csc.check_for_duplicate_heartbeat(num_intervals=0)
        with pytest.raises(ValueError, match="num_intervals=-1 must be positive"):
            await csc.check_for_duplicate_heartbeat(num_intervals=-1)


async def test_assert_enabled_in_fault_names_the_error(index: int) -> None:
    async with salobj.TestCsc(
        index, initial_state=State.ENABLED, heartbeat_interval=HEARTBEAT_INTERVAL
    ) as csc:
        await csc.fault(code=52, report="camera lost")
        assert csc.summary_state == State.FAULT
        with pytest.raises(
            ExpectedError,
            match=r"takeImages not allowed in Fault state: errorCode=52, errorReport='camera lost'",
        ):
            csc.assert_enabled("takeImages")


async def test_fault_during_fault_is_ignored(index: int) -> None:
    class RefaultingCsc(salobj.TestCsc):
        async def handle_summary_state(self) -> None:
            if self.summary_state == State.FAULT:
                # A second fault while the first is being handled is ignored.
                await self.fault(code=99, report="nested")

    async with (
        RefaultingCsc(index, initial_state=State.ENABLED, heartbeat_interval=HEARTBEAT_INTERVAL) as csc,
        salobj.Domain() as domain,
        salobj.Remote(domain, "Test", index) as remote,
    ):
        remote.evt_errorCode.flush()
        await csc.fault(code=7, report="first")
        assert csc.summary_state == State.FAULT
        error = await remote.evt_errorCode.next(flush=False, timeout=STD_TIMEOUT)
        assert (error.errorCode, error.errorReport) == (7, "first")
        await asyncio.sleep(0)
        assert remote.evt_errorCode.nqueued == 0
        # Once the fault is handled, a new one is reported again.
        await csc.fault(code=8, report="second")
        assert csc.evt_errorCode.data.errorCode == 8


async def test_fault_with_an_unwritable_error_code(index: int, caplog: pytest.LogCaptureFixture) -> None:
    async with (
        salobj.TestCsc(index, initial_state=State.ENABLED, heartbeat_interval=HEARTBEAT_INTERVAL) as csc,
        salobj.Domain() as domain,
        salobj.Remote(domain, "Test", index) as remote,
    ):
        remote.evt_summaryState.flush()

        async def refuse(**kwargs: Any) -> None:
            raise RuntimeError("errorCode topic broken")

        csc.evt_errorCode.set_write = refuse  # type: ignore[method-assign]
        with caplog.at_level(logging.ERROR):
            await csc.fault(code=3, report="lost")  # does not raise
        assert csc.summary_state == State.FAULT
        data = await remote.evt_summaryState.next(flush=False, timeout=STD_TIMEOUT)
        assert data.summaryState == State.FAULT
        assert "Failed to write errorCode: code=3; report='lost'" in caplog.text


class FailingHookCsc(salobj.TestCsc):
    """Its begin_enable fails with a bug, its end_disable refuses."""

    async def begin_enable(self, data: Any) -> None:
        raise ZeroDivisionError("begin_enable has a bug")

    async def end_disable(self, data: Any) -> None:
        raise ExpectedError("end_disable refuses")


async def test_failing_hooks_keep_the_state(index: int, caplog: pytest.LogCaptureFixture) -> None:
    async with (
        FailingHookCsc(index, initial_state=State.DISABLED, heartbeat_interval=HEARTBEAT_INTERVAL) as csc,
        salobj.Domain() as domain,
        salobj.Remote(domain, "Test", index) as remote,
    ):
        with caplog.at_level(logging.ERROR):
            with salobj.assertRaisesAckError(
                ack=salobj.SalRetCode.CMD_FAILED, result_contains="begin_enable has a bug"
            ):
                await remote.cmd_enable.start(timeout=STD_TIMEOUT)
            assert csc.summary_state == State.DISABLED
            assert "begin_enable failed; remaining in state <State.DISABLED: 1>" in caplog.text

            await remote.cmd_standby.start(timeout=STD_TIMEOUT)
            await remote.cmd_start.start(timeout=STD_TIMEOUT)
            assert csc.summary_state == State.DISABLED
            csc._summary_state = State.ENABLED  # as after an enable without the faulty hook
            with salobj.assertRaisesAckError(
                ack=salobj.SalRetCode.CMD_FAILED, result_contains="end_disable refuses"
            ):
                await remote.cmd_disable.start(timeout=STD_TIMEOUT)
            assert csc.summary_state == State.ENABLED
            assert "end_disable failed; reverting to state <State.ENABLED: 2>: end_disable refuses" in (
                caplog.text
            )


async def build_from_cmd_line(cls: type[salobj.TestCsc], **kwargs: Any) -> salobj.TestCsc:
    csc = cls.make_from_cmd_line(**kwargs)
    await csc.close()
    return csc


async def test_cmd_line_index_from_an_enum() -> None:
    csc = await build_from_cmd_line(salobj.TestCsc, index=Site, args=["4"])
    assert csc.salinfo.index == Site.SOUTH
    with pytest.raises(SystemExit):
        salobj.TestCsc.make_from_cmd_line(index=Site, args=["5"])


async def test_cmd_line_fixed_index() -> None:
    csc = await build_from_cmd_line(salobj.TestCsc, index=17, args=[])
    assert csc.salinfo.index == 17
    # No positional index is accepted when the index is fixed.
    with pytest.raises(SystemExit):
        salobj.TestCsc.make_from_cmd_line(index=17, args=["18"])


async def test_cmd_line_simulation_flag_and_modes(index: int) -> None:
    assert (await build_from_cmd_line(TwoModeCsc, index=index, args=[])).simulation_mode == 0
    assert (await build_from_cmd_line(TwoModeCsc, index=index, args=["--simulate"])).simulation_mode == 1
    csc = await build_from_cmd_line(ThreeModeCsc, index=index, args=["--simulate", "2"])
    assert csc.simulation_mode == 2
    with pytest.raises(SystemExit):
        ThreeModeCsc.make_from_cmd_line(index=index, args=["--simulate", "3"])
    # One mode only: no --simulate option.
    with pytest.raises(SystemExit):
        salobj.TestCsc.make_from_cmd_line(index=index, args=["--simulate"])


async def test_amain_runs_until_a_termination_signal(index: int) -> None:
    async with salobj.Domain() as domain, salobj.Remote(domain, "Test", index) as remote:
        main_task = asyncio.create_task(
            salobj.TestCsc.amain(
                index=True, args=[str(index), "--state", "disabled"], heartbeat_interval=HEARTBEAT_INTERVAL
            )
        )
        try:
            data = await remote.evt_summaryState.next(flush=False, timeout=STD_TIMEOUT)
            while data.summaryState != State.DISABLED:
                data = await remote.evt_summaryState.next(flush=False, timeout=STD_TIMEOUT)
            assert not main_task.done()
            os.kill(os.getpid(), signal.SIGTERM)
            # The signal closes the CSC: amain returns, and SIGTERM's handler is removed.
            assert await asyncio.wait_for(main_task, STD_TIMEOUT) is None
            assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        finally:
            if not main_task.done():
                main_task.cancel()
