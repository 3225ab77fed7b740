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

"""BaseCsc and TestCsc: summary states, simulation mode, heartbeat, fault, set_summary_state."""

import asyncio
import logging

import pytest

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations.sal import (
    AckError,
    BaseCsc,
    Domain,
    ExpectedError,
    Remote,
    SalRetCode,
    State,
    TestCsc,
    set_summary_state,
)

HEARTBEAT_INTERVAL = 0.05


async def make_csc(index: int, **kwargs: object) -> TestCsc:
    csc = TestCsc(index, heartbeat_interval=HEARTBEAT_INTERVAL, **kwargs)  # type: ignore[arg-type]
    await asyncio.wait_for(csc.start_task, STD_TIMEOUT)
    return csc


async def assert_next_state(remote: Remote, state: State) -> None:
    data = await remote.evt_summaryState.next(flush=False, timeout=STD_TIMEOUT)
    assert data.summaryState == state


async def test_initial_events(index: int) -> None:
    async with await make_csc(index, initial_state=State.DISABLED) as csc, Domain() as domain:
        remote = Remote(domain, "Test", index)
        await asyncio.wait_for(remote.start_task, STD_TIMEOUT)
        # Late joiner: the events written at start are there.
        assert remote.evt_summaryState.get().summaryState == State.DISABLED
        assert remote.evt_simulationMode.get().mode == 0
        versions = remote.evt_softwareVersions.get()
        assert versions.cscVersion == TestCsc.version
        assert versions.xmlVersion == csc.salinfo.component_info.ts_xml_version
        assert remote.evt_logLevel.get().level == logging.INFO
        assert csc.summary_state == State.DISABLED
        assert csc.disabled_or_enabled


async def test_transitions(index: int) -> None:
    async with await make_csc(index) as csc, Domain() as domain:
        remote = Remote(domain, "Test", index)
        await assert_next_state(remote, State.STANDBY)

        # Each refusal: ExpectedError in the CSC, CMD_FAILED at the remote, state unchanged.
        refused = {
            State.STANDBY: ["enable", "disable", "standby"],
            State.DISABLED: ["start", "disable", "exitControl"],
            State.ENABLED: ["start", "enable", "standby", "exitControl"],
        }
        path = [
            ("start", State.DISABLED),
            ("enable", State.ENABLED),
            ("disable", State.DISABLED),
            ("standby", State.STANDBY),
            ("start", State.DISABLED),
            ("enable", State.ENABLED),
        ]
        for command in refused[State.STANDBY]:
            with pytest.raises(AckError) as exc_info:
                await getattr(remote, f"cmd_{command}").start(timeout=STD_TIMEOUT)
            assert exc_info.value.ackcmd.ack == SalRetCode.CMD_FAILED
            assert "not allowed in state" in exc_info.value.ackcmd.result
        for command, state in path:
            ackcmd = await getattr(remote, f"cmd_{command}").start(timeout=STD_TIMEOUT)
            assert ackcmd.ack == SalRetCode.CMD_COMPLETE
            assert csc.summary_state == state
            await assert_next_state(remote, state)
            for bad in refused[state]:
                with pytest.raises(AckError):
                    await getattr(remote, f"cmd_{bad}").start(timeout=STD_TIMEOUT)
                assert csc.summary_state == state
        assert remote.evt_summaryState.nqueued == 0  # refusals wrote no state


async def test_exit_control_closes(index: int) -> None:
    csc = await make_csc(index)
    async with Domain() as domain:
        remote = Remote(domain, "Test", index)
        await remote.cmd_exitControl.start(timeout=STD_TIMEOUT)
        await assert_next_state(remote, State.STANDBY)
        await assert_next_state(remote, State.OFFLINE)
        await asyncio.wait_for(csc.done_task, STD_TIMEOUT)
        assert csc.summary_state == State.OFFLINE


async def test_fault_and_recovery(index: int) -> None:
    async with await make_csc(index, initial_state=State.ENABLED) as csc, Domain() as domain:
        remote = Remote(domain, "Test", index)
        await assert_next_state(remote, State.ENABLED)
        # The CSC wrote errorCode 0 when it started (as salobj).
        error = await remote.evt_errorCode.next(flush=False, timeout=STD_TIMEOUT)
        assert (error.errorCode, error.errorReport) == (0, "")
        await remote.cmd_fault.start(timeout=STD_TIMEOUT)
        await assert_next_state(remote, State.FAULT)
        error = await remote.evt_errorCode.next(flush=False, timeout=STD_TIMEOUT)
        assert (error.errorCode, error.errorReport) == (1, "Method do_fault called")
        # A second fault updates errorCode but writes no new summaryState.
        await csc.fault(code=2, report="again")
        error = await remote.evt_errorCode.next(flush=False, timeout=STD_TIMEOUT)
        assert (error.errorCode, error.errorReport) == (2, "again")
        assert csc.summary_state == State.FAULT
        for command in ("start", "enable", "disable", "exitControl"):
            with pytest.raises(AckError, match="not allowed in state <State.FAULT: 3>"):
                await getattr(remote, f"cmd_{command}").start(timeout=STD_TIMEOUT)
        await remote.cmd_standby.start(timeout=STD_TIMEOUT)
        await assert_next_state(remote, State.STANDBY)
        assert remote.evt_summaryState.nqueued == 0
        # Leaving FAULT clears the error code.
        error = await remote.evt_errorCode.next(flush=False, timeout=STD_TIMEOUT)
        assert (error.errorCode, error.errorReport) == (0, "")


async def test_fault_without_code(index: int) -> None:
    async with await make_csc(index) as csc, Domain() as domain:
        remote = Remote(domain, "Test", index)
        await asyncio.wait_for(remote.start_task, STD_TIMEOUT)
        await csc.fault()
        await assert_next_state(remote, State.STANDBY)
        await assert_next_state(remote, State.FAULT)
        # Only the errorCode 0 written at start: fault() without a code writes none.
        assert remote.evt_errorCode.get().errorCode == 0
        assert remote.evt_errorCode.nqueued == 1


async def test_heartbeat(index: int) -> None:
    async with await make_csc(index), Domain() as domain:
        remote = Remote(domain, "Test", index)
        await remote.evt_heartbeat.next(flush=True, timeout=STD_TIMEOUT)
        t0 = asyncio.get_running_loop().time()
        for _ in range(3):
            await remote.evt_heartbeat.next(flush=False, timeout=STD_TIMEOUT)
        elapsed = asyncio.get_running_loop().time() - t0
        assert 2.5 * HEARTBEAT_INTERVAL <= elapsed < 3 * HEARTBEAT_INTERVAL + 1.0


def test_bad_arguments() -> None:
    async def build(**kwargs: object) -> None:
        csc = TestCsc(**kwargs)  # type: ignore[arg-type]
        await csc.close()

    with pytest.raises(ValueError, match="initial_state"):
        asyncio.run(build(index=1, initial_state=99))
    with pytest.raises(ValueError, match="simulation_mode=1"):
        asyncio.run(build(index=1, simulation_mode=1))
    with pytest.raises(ValueError, match="nonzero"):
        asyncio.run(build(index=0))


async def test_handle_summary_state_failure_reverts(index: int) -> None:
    class FussyCsc(TestCsc):
        async def handle_summary_state(self) -> None:
            if self.summary_state == State.ENABLED:
                raise RuntimeError("cannot enable today")

    async with FussyCsc(index, initial_state=State.DISABLED, heartbeat_interval=HEARTBEAT_INTERVAL) as csc:
        async with Domain() as domain:
            remote = Remote(domain, "Test", index)
            with pytest.raises(AckError, match="cannot enable today"):
                await remote.cmd_enable.start(timeout=STD_TIMEOUT)
            assert csc.summary_state == State.DISABLED


async def test_begin_end_hooks(index: int) -> None:
    calls: list[tuple[str, State]] = []

    class HookedCsc(TestCsc):
        async def begin_start(self, data: object) -> None:
            calls.append(("begin_start", self.summary_state))

        async def end_start(self, data: object) -> None:
            calls.append(("end_start", self.summary_state))

    async with HookedCsc(index, heartbeat_interval=HEARTBEAT_INTERVAL), Domain() as domain:
        remote = Remote(domain, "Test", index)
        await remote.cmd_start.start(timeout=STD_TIMEOUT)
    assert calls == [("begin_start", State.STANDBY), ("end_start", State.DISABLED)]


async def test_enter_control_requires_the_command(index: int) -> None:
    # The Test interface has no enterControl; do_enterControl is still the transition.
    async with await make_csc(index, initial_state=State.OFFLINE) as csc:
        assert not hasattr(csc, "cmd_enterControl")
        await csc.do_enterControl(None)
        assert csc.summary_state == State.STANDBY
        with pytest.raises(ExpectedError, match="enterControl not allowed"):
            await csc.do_enterControl(None)


async def test_assert_enabled(index: int) -> None:
    async with await make_csc(index) as csc, Domain() as domain:
        remote = Remote(domain, "Test", index)
        with pytest.raises(AckError, match="setScalars not allowed in state <State.STANDBY: 5>"):
            await remote.cmd_setScalars.set_start(int0=1, timeout=STD_TIMEOUT)
        with pytest.raises(ExpectedError, match="This action not allowed"):
            csc.assert_enabled()


async def test_set_scalars_and_arrays(index: int) -> None:
    async with await make_csc(index, initial_state=State.ENABLED), Domain() as domain:
        remote = Remote(domain, "Test", index)
        await asyncio.wait_for(remote.start_task, STD_TIMEOUT)
        await remote.cmd_setScalars.set_start(
            int0=5, double0=1.5, string0="x", boolean0=True, timeout=STD_TIMEOUT
        )
        evt = await remote.evt_scalars.next(flush=False, timeout=STD_TIMEOUT)
        tel = await remote.tel_scalars.next(flush=False, timeout=STD_TIMEOUT)
        for data in (evt, tel):
            assert (data.int0, data.double0, data.string0, data.boolean0) == (5, 1.5, "x", True)
        await remote.cmd_setArrays.set_start(int0=[1, 2, 3, 4, 5], timeout=STD_TIMEOUT)
        evt = await remote.evt_arrays.next(flush=False, timeout=STD_TIMEOUT)
        tel = await remote.tel_arrays.next(flush=False, timeout=STD_TIMEOUT)
        assert evt.int0 == tel.int0 == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "ack, expected",
    [
        (SalRetCode.CMD_FAILED, SalRetCode.CMD_FAILED),
        (SalRetCode.CMD_TIMEOUT, SalRetCode.CMD_TIMEOUT),
        (SalRetCode.CMD_ABORTED, SalRetCode.CMD_ABORTED),
        (SalRetCode.CMD_STALLED, SalRetCode.CMD_FAILED),
    ],
)
async def test_wait_failure_codes(index: int, ack: SalRetCode, expected: SalRetCode) -> None:
    async with await make_csc(index, initial_state=State.ENABLED), Domain() as domain:
        remote = Remote(domain, "Test", index)
        with pytest.raises(AckError) as exc_info:
            await remote.cmd_wait.set_start(duration=0.01, ack=ack, timeout=STD_TIMEOUT)
        assert exc_info.value.ackcmd.ack == expected


async def test_set_summary_state(index: int) -> None:
    async with await make_csc(index) as csc, Domain() as domain:
        remote = Remote(domain, "Test", index)
        states = await set_summary_state(remote, State.ENABLED, timeout=STD_TIMEOUT)
        assert states == [State.STANDBY, State.DISABLED, State.ENABLED]
        assert csc.summary_state == State.ENABLED
        states = await set_summary_state(remote, State.ENABLED, timeout=STD_TIMEOUT)
        assert states == [State.ENABLED]
        remote.evt_summaryState.flush()
        await csc.fault(code=3, report="test")
        await assert_next_state(remote, State.FAULT)
        states = await set_summary_state(
            remote, State.DISABLED, override="all_fields.yaml", timeout=STD_TIMEOUT
        )
        assert csc.config.int0 == -47
        assert states == [State.FAULT, State.STANDBY, State.DISABLED]
        states = await set_summary_state(remote, State.OFFLINE, timeout=STD_TIMEOUT)
        assert states == [State.DISABLED, State.STANDBY, State.OFFLINE]
        await asyncio.wait_for(csc.done_task, STD_TIMEOUT)
        with pytest.raises(ValueError, match="FAULT"):
            await set_summary_state(remote, State.FAULT)
        with pytest.raises(ValueError, match="not a summary state"):
            await set_summary_state(remote, 42)


async def test_set_summary_state_enter_control(index: int) -> None:
    # A CSC starting OFFLINE: set_summary_state would send enterControl,
    # which the Test interface lacks, so the Remote has no such command.
    async with await make_csc(index, initial_state=State.OFFLINE), Domain() as domain:
        remote = Remote(domain, "Test", index)
        with pytest.raises(AttributeError, match="cmd_enterControl"):
            await set_summary_state(remote, State.STANDBY, timeout=STD_TIMEOUT)


async def test_missing_do_method() -> None:
    class Incomplete(BaseCsc):
        version = "1.0"

    with pytest.raises(TypeError, match="no do_ methods for commands"):
        Incomplete("Test", 1)
    csc = Incomplete("Test", 1, allow_missing_callbacks=True, heartbeat_interval=HEARTBEAT_INTERVAL)
    await csc.close()

    class Extra(TestCsc):
        async def do_notACommand(self, data: object) -> None:
            pass

    with pytest.raises(TypeError, match="match no command"):
        Extra(1)
