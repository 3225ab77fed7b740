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

"""A CSC's start-up as salobj's: the default initial state first, then one
summaryState per transition to the requested state, and errorCode 0."""

import asyncio
from typing import Any, ClassVar

import pytest

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations import sal as salobj
from lsst.ts.calibrations.sal import State

HEARTBEAT_INTERVAL = 0.05


async def start_watched(csc: salobj.BaseCsc) -> salobj.Remote:
    """Start a Remote on the CSC's Domain before letting the CSC start."""
    remote = salobj.Remote(csc.domain, csc.salinfo.name, csc.salinfo.index)
    await asyncio.wait_for(remote.start_task, STD_TIMEOUT)
    csc.delay_start_event.set()
    await asyncio.wait_for(csc.start_task, STD_TIMEOUT)
    return remote


async def read_states(remote: salobj.Remote, count: int) -> list[State]:
    return [
        State((await remote.evt_summaryState.next(flush=False, timeout=STD_TIMEOUT)).summaryState)
        for _ in range(count)
    ]


@pytest.mark.parametrize(
    "initial_state, expected",
    [
        (None, [State.STANDBY]),
        (State.STANDBY, [State.STANDBY]),
        (State.DISABLED, [State.STANDBY, State.DISABLED]),
        (State.ENABLED, [State.STANDBY, State.DISABLED, State.ENABLED]),
        (State.OFFLINE, [State.STANDBY, State.OFFLINE]),
    ],
)
async def test_initial_state_steps(index: int, initial_state: State | None, expected: list[State]) -> None:
    csc = salobj.TestCsc(
        index, initial_state=initial_state or State.STANDBY, heartbeat_interval=HEARTBEAT_INTERVAL
    )
    csc.delay_start_event.clear()
    try:
        remote = await start_watched(csc)
        assert await read_states(remote, len(expected)) == expected
        assert csc.summary_state == expected[-1]
        # The CSC's other start-up events, each once.
        error = await remote.evt_errorCode.next(flush=False, timeout=STD_TIMEOUT)
        assert (error.errorCode, error.errorReport, error.traceback) == (0, "", "")
        assert remote.evt_errorCode.nqueued == 0
        assert remote.evt_simulationMode.get().mode == 0
        assert remote.evt_softwareVersions.get().cscVersion == salobj.TestCsc.version
        if expected[-1] in (State.DISABLED, State.ENABLED):
            applied = await remote.evt_configurationApplied.next(flush=False, timeout=STD_TIMEOUT)
            assert applied.configurations == "_init.yaml"  # the shipped directory has no _test.yaml
            assert csc.config is not None
        else:
            assert csc.config is None
    finally:
        await csc.close()


async def test_initial_state_fault_refused() -> None:
    with pytest.raises(ValueError, match="initial_state cannot be FAULT"):
        salobj.TestCsc(1, initial_state=State.FAULT)


class OfflineCsc(salobj.BaseCsc):
    """A CSC of the Test component that starts OFFLINE (externally commandable)."""

    default_initial_state: ClassVar[State] = State.OFFLINE
    version = "1.0"

    def __init__(self, index: int, initial_state: State | None = None) -> None:
        super().__init__(
            "Test",
            index,
            initial_state=initial_state,
            allow_missing_callbacks=True,
            heartbeat_interval=HEARTBEAT_INTERVAL,
        )


async def test_default_initial_state(index: int) -> None:
    csc = OfflineCsc(index, initial_state=State.DISABLED)
    csc.delay_start_event.clear()
    try:
        remote = await start_watched(csc)
        # OFFLINE → STANDBY is enterControl, which the CSC runs itself.
        assert await read_states(remote, 3) == [State.OFFLINE, State.STANDBY, State.DISABLED]
    finally:
        await csc.close()


class HookedCsc(salobj.TestCsc):
    """Records the hooks called and fails where asked."""

    def __init__(self, index: int, **kwargs: Any) -> None:
        self.calls: list[tuple[str, State]] = []
        self.fail_in = ""
        super().__init__(index, heartbeat_interval=HEARTBEAT_INTERVAL, **kwargs)

    async def _hook(self, name: str) -> None:
        self.calls.append((name, self.summary_state))
        if name == self.fail_in:
            raise salobj.ExpectedError(f"{name} refuses")

    async def begin_enable(self, data: Any) -> None:
        await self._hook("begin_enable")

    async def end_enable(self, data: Any) -> None:
        await self._hook("end_enable")

    async def handle_summary_state(self) -> None:
        self.calls.append(("handle_summary_state", self.summary_state))


async def test_hook_order_and_failures(index: int) -> None:
    async with HookedCsc(index, initial_state=State.DISABLED) as csc, salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", index)
        await remote.start_task
        remote.evt_summaryState.flush()
        for fail_in in ("begin_enable", "end_enable"):
            csc.calls.clear()
            csc.fail_in = fail_in
            with salobj.assertRaisesAckError(
                ack=salobj.SalRetCode.CMD_FAILED, result_contains=f"{fail_in} refuses"
            ):
                await remote.cmd_enable.start(timeout=STD_TIMEOUT)
            assert csc.summary_state == State.DISABLED
            assert csc.calls[-1][0] == fail_in
        assert remote.evt_summaryState.nqueued == 0
        csc.calls.clear()
        csc.fail_in = ""
        await remote.cmd_enable.start(timeout=STD_TIMEOUT)
        assert csc.calls == [
            ("begin_enable", State.DISABLED),
            ("end_enable", State.ENABLED),
            ("handle_summary_state", State.ENABLED),
        ]
        data = await remote.evt_summaryState.next(flush=False, timeout=STD_TIMEOUT)
        assert data.summaryState == State.ENABLED


async def test_check_if_duplicate(index: int) -> None:
    async with salobj.TestCsc(index, heartbeat_interval=HEARTBEAT_INTERVAL) as first:
        duplicate = salobj.TestCsc(index, check_if_duplicate=True, heartbeat_interval=HEARTBEAT_INTERVAL)
        with pytest.raises(salobj.ExpectedError, match="found another instance"):
            await asyncio.wait_for(duplicate.start_task, STD_TIMEOUT)
        with pytest.raises(salobj.ExpectedError):
            await asyncio.wait_for(duplicate.done_task, STD_TIMEOUT)
        assert first.summary_state == State.STANDBY
    # Alone, the check finds nobody and the CSC starts.
    async with salobj.TestCsc(
        index + 100000, check_if_duplicate=True, heartbeat_interval=HEARTBEAT_INTERVAL
    ) as csc:
        assert csc.summary_state == State.STANDBY


async def test_make_from_cmd_line(index: int) -> None:
    csc = salobj.TestCsc.make_from_cmd_line(
        index=True,
        args=[str(index), "--state", "enabled", "--override", "all_fields.yaml", "--loglevel", "10"],
    )
    try:
        assert isinstance(csc, salobj.TestCsc)
        assert csc.salinfo.index == index
        assert not csc.check_if_duplicate
        await asyncio.wait_for(csc.start_task, STD_TIMEOUT)
        assert csc.summary_state == State.ENABLED
        assert csc.config is not None and csc.config.int0 == -47
        assert csc.log.level == 10
    finally:
        await csc.close()
    with pytest.raises(SystemExit):
        salobj.TestCsc.make_from_cmd_line(index=True, args=[str(index), "--state", "fault"])


async def test_missing_command_refused(index: int) -> None:
    async with OfflineCsc(index, initial_state=State.STANDBY) as csc, salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", index)
        with salobj.assertRaisesAckError(ack=salobj.SalRetCode.CMD_FAILED, result_contains="not supported"):
            await remote.cmd_setScalars.set_start(int0=1, timeout=STD_TIMEOUT)
        assert csc.summary_state == State.STANDBY


async def test_leaving_fault_clears_error_code(index: int) -> None:
    async with salobj.TestCsc(index, heartbeat_interval=HEARTBEAT_INTERVAL) as csc, salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", index)
        await remote.start_task
        remote.evt_errorCode.flush()
        await csc.fault(code=None, report="no code")  # writes no errorCode
        await remote.cmd_standby.start(timeout=STD_TIMEOUT)
        # errorCode 0 is written again when leaving FAULT, though it did not change.
        data = await remote.evt_errorCode.next(flush=False, timeout=STD_TIMEOUT)
        assert (data.errorCode, data.errorReport) == (0, "")
        assert remote.evt_errorCode.nqueued == 0


async def test_fault_survives_a_failing_report(index: int) -> None:
    class BadReportCsc(salobj.TestCsc):
        async def _report_summary_state(self) -> None:
            if self.summary_state == State.FAULT:
                raise RuntimeError("report fails in FAULT")
            await super()._report_summary_state()

    async with BadReportCsc(index, initial_state=State.ENABLED, heartbeat_interval=HEARTBEAT_INTERVAL) as csc:
        async with salobj.Domain() as domain, salobj.Remote(domain, "Test", index) as remote:
            await csc.fault(code=51, report="broken", traceback="tb")  # does not raise
            data = await remote.evt_summaryState.next(flush=False, timeout=STD_TIMEOUT)
            while data.summaryState != State.FAULT:
                data = await remote.evt_summaryState.next(flush=False, timeout=STD_TIMEOUT)
            error = remote.evt_errorCode.get()
            assert (error.errorCode, error.errorReport, error.traceback) == (51, "broken", "tb")
