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

"""The ScriptQueue CSC as ts_scriptqueue's tests pin it: scripts as
processes over DDS, the queue's rules, and the commands' refusals.
"""

import asyncio
import os
import pathlib
import sys
import typing

import pytest
import yaml
from queue_harness import EXTERNAL_ROOT, STANDARD_ROOT, STD_TIMEOUT, QueueHarness

from lsst.ts.calibrations.queue import Location, ScriptProcessState, ScriptQueue
from lsst.ts.calibrations.queue import queue_model as queue_model_module
from lsst.ts.calibrations.queue import script_info as script_info_module
from lsst.ts.calibrations.sal import AckError, Domain, Remote, ScriptState, State
from lsst.ts.calibrations.sal.dds_transport import DdsTransport
from lsst.ts.calibrations.sal.testscript import TestScript
from lsst.ts.calibrations.sal.transport_choice import TRANSPORT_ENV

P = ScriptProcessState
FIRST_INDEX = 100000  # queue 1: script indices 1 * 100000 + n


def proc_alive(pid: int) -> bool:
    """Is process ``pid`` in the process table, and not a zombie?"""
    try:
        status = pathlib.Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return "Z" not in state.split()[1]


def queue_script_pids(subname: str) -> list[int]:
    """Process IDs of the live processes started in isolation name ``subname`` (from /proc)."""
    pids = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
        pid = int(entry.name)
        if f"LSST_TOPIC_SUBNAME={subname}".encode() in environ and pid != os.getpid() and proc_alive(pid):
            pids.append(pid)
    return pids


# ----------------------------------------------------------------------
# States and refusals


async def test_starts_in_standby_and_refuses_commands(harness: QueueHarness) -> None:
    remote = harness.remote
    state = await remote.evt_summaryState.aget(timeout=STD_TIMEOUT)
    assert state.summaryState == State.STANDBY
    roots = await remote.evt_rootDirectories.aget(timeout=STD_TIMEOUT)
    assert (roots.standard, roots.external) == (str(STANDARD_ROOT), str(EXTERNAL_ROOT))
    queue = await harness.wait_queue(lambda data: True, "the first queue event")
    assert (queue.enabled, queue.running, queue.currentSalIndex, queue.length) == (False, True, 0, 0)

    refused: dict[str, dict[str, typing.Any]] = {
        "showAvailableScripts": {},
        "showSchema": dict(isStandard=True, path="script1.py"),
        "showQueue": {},
        "showScript": dict(scriptSalIndex=FIRST_INDEX),
        "resume": {},
        "add": dict(isStandard=True, path="script1.py", location=Location.LAST),
        "move": dict(scriptSalIndex=FIRST_INDEX, location=Location.FIRST),
        "requeue": dict(scriptSalIndex=FIRST_INDEX, location=Location.FIRST),
        "stopScripts": dict(length=1, salIndices=[FIRST_INDEX] + [0] * 399),
    }
    for state_name in ("STANDBY", "DISABLED"):
        for name, fields in refused.items():
            with pytest.raises(AckError, match=f"{name} not allowed in state <State.{state_name}"):
                await getattr(remote, f"cmd_{name}").set_start(**fields, timeout=STD_TIMEOUT)
        # pause is allowed in any state
        await remote.cmd_pause.start(timeout=STD_TIMEOUT)
        assert not harness.csc.model.running
        if state_name == "STANDBY":
            await remote.cmd_start.start(timeout=STD_TIMEOUT)
    assert not harness.scripts, "no script may have been started"


def test_bad_index() -> None:
    for index in (0, -1, 21474):
        with pytest.raises(ValueError, match=f"index={index} must be in"):
            ScriptQueue(index=index, standardpath=STANDARD_ROOT, externalpath=EXTERNAL_ROOT)


# ----------------------------------------------------------------------
# Discovery


async def test_show_available_scripts(harness: QueueHarness) -> None:
    await harness.enable()
    data = await harness.remote.evt_availableScripts.aget(timeout=STD_TIMEOUT)
    # Hidden, private, non-executable files and hidden directories are skipped.
    assert data.standard.split(":") == ["script1.py", "stubborn.py", "subdir/script2.py", "unloadable.py"]
    assert data.external.split(":") == ["script3.py", "subdir/script4.py"]
    harness.remote.evt_availableScripts.flush()
    await harness.remote.cmd_showAvailableScripts.start(timeout=STD_TIMEOUT)
    again = await harness.remote.evt_availableScripts.next(flush=False, timeout=STD_TIMEOUT)
    assert (again.standard, again.external) == (data.standard, data.external)


@pytest.mark.parametrize(
    "is_standard, path, reason",
    [
        (True, "../external/script3.py", "is outside the standard root"),
        (False, "../standard/script1.py", "is outside the external root"),
        (True, "/bin/true", "must be relative to the standard root"),
        (True, "missing.py", "not found in the standard root"),
        (True, "nonexecutable.py", "is not executable"),
        (True, ".hidden.py", "is hidden or private"),
        (True, "_private.py", "is hidden or private"),
        (True, ".hiddendir/script5.py", "is hidden or private"),
        (True, "subdir", "is not a file"),
        (True, "", "path is empty"),
    ],
)
async def test_add_refuses_paths(harness: QueueHarness, is_standard: bool, path: str, reason: str) -> None:
    await harness.enable()
    with pytest.raises(AckError, match=reason):
        await harness.add(path, is_standard=is_standard)
    with pytest.raises(AckError, match=reason):
        await harness.remote.cmd_showSchema.set_start(isStandard=is_standard, path=path, timeout=STD_TIMEOUT)
    assert not harness.scripts and not harness.csc.model.live_pids


# ----------------------------------------------------------------------
# Adding and running


@pytest.mark.slow
async def test_add_runs_to_done(harness: QueueHarness) -> None:
    await harness.enable()
    index = await harness.add("script1.py", "wait_time: 0.1", descr="first")
    assert index == FIRST_INDEX
    external = await harness.add("subdir/script4.py", "", is_standard=False)
    assert external == FIRST_INDEX + 1
    for sal_index in (index, external):
        done = await harness.wait_process_state(sal_index, P.DONE)
        assert done.scriptState == ScriptState.DONE
        seen = [data.processState for data in harness.scripts[sal_index]]
        assert seen.index(P.LOADING) < seen.index(P.CONFIGURED) < seen.index(P.RUNNING) < seen.index(P.DONE)
        assert 0 < done.timestampProcessStart <= done.timestampConfigureStart <= done.timestampConfigureEnd
        assert done.timestampConfigureEnd <= done.timestampRunStart <= done.timestampProcessEnd
    assert harness.scripts[external][-1].isStandard is False
    assert harness.scripts[external][-1].path == "subdir/script4.py"
    queue = await harness.wait_queue(lambda data: len(harness.past(data)) == 2, "both in the history")
    assert harness.past(queue) == [external, index] and queue.currentSalIndex == 0 and queue.running
    # Each script got a group ID at the top of the queue, announced as nextVisit.
    visits = [data.scriptSalIndex for data in harness.next_visits]
    assert visits == [index, external]
    assert all(data.groupId for data in harness.next_visits)
    assert harness.next_visits[0].duration == pytest.approx(0.1)  # from the script's metadata
    # showScript reports a finished script; an unknown one is refused.
    shown_before = len(harness.scripts[index])
    await harness.remote.cmd_showScript.set_start(scriptSalIndex=index, timeout=STD_TIMEOUT)
    await harness.wait_for(lambda: len(harness.scripts[index]) > shown_before, "the showScript event")
    shown = harness.scripts[index][shown_before]
    assert (shown.scriptSalIndex, shown.processState, shown.path) == (index, P.DONE, "script1.py")
    with pytest.raises(AckError, match="no script with index 42"):
        await harness.remote.cmd_showScript.set_start(scriptSalIndex=42, timeout=STD_TIMEOUT)
    assert not harness.csc.model.live_pids


@pytest.mark.slow
async def test_add_passes_log_level_and_checkpoints(harness: QueueHarness) -> None:
    await harness.enable()
    index = await harness.add(
        "script1.py", "wait_time: 0", logLevel=10, pauseCheckpoint="start", stopCheckpoint="end"
    )
    async with Remote(
        harness.remote.domain, "Script", index, include=["state", "checkpoints", "logLevel"]
    ) as script:
        async with asyncio.timeout(STD_TIMEOUT):
            while (await script.evt_state.next(flush=False)).state != ScriptState.PAUSED:
                pass
        checkpoints = script.evt_checkpoints.get()
        assert (checkpoints.pause, checkpoints.stop) == ("start", "end")
        assert script.evt_logLevel.get().level == 10
        assert script.evt_state.get().lastCheckpoint == "start"
        await script.cmd_resume.start(timeout=STD_TIMEOUT)
        data = await harness.wait_process_state(index, P.DONE)
        assert data.scriptState == ScriptState.STOPPED, "stopped at the end checkpoint"


@pytest.mark.slow
async def test_bad_config_goes_to_history(harness: QueueHarness) -> None:
    await harness.enable()
    await harness.remote.cmd_pause.start(timeout=STD_TIMEOUT)
    bad = await harness.add("script1.py", "wait_time: -1")
    typo = await harness.add("script1.py", "wait_tme: 1")
    good = await harness.add("script1.py", "wait_time: 0")
    for sal_index in (bad, typo):
        data = await harness.wait_process_state(sal_index, P.CONFIGURE_FAILED)
        assert data.scriptState == ScriptState.CONFIGURE_FAILED
    queue = await harness.wait_queue(lambda data: len(harness.past(data)) == 2, "two failed configurations")
    assert set(harness.past(queue)) == {bad, typo} and harness.waiting(queue) == [good]
    await harness.wait_process_state(good, P.CONFIGURED)
    await harness.remote.cmd_resume.start(timeout=STD_TIMEOUT)
    await harness.wait_process_state(good, P.DONE)
    queue = await harness.wait_queue(lambda data: harness.past(data)[:1] == [good], "the good script done")
    assert queue.running, "a script that fails to configure must not pause the queue"


@pytest.mark.slow
async def test_unloadable_script(harness: QueueHarness) -> None:
    await harness.enable()
    index = await harness.add("unloadable.py")
    data = await harness.wait_process_state(index, P.LOADFAILED)
    assert data.scriptState == 0 and data.timestampProcessEnd > 0
    queue = await harness.wait_queue(lambda data: harness.past(data) == [index], "the script in the history")
    assert queue.running and queue.currentSalIndex == 0
    after = await harness.add("script1.py")
    await harness.wait_process_state(after, P.DONE)


# ----------------------------------------------------------------------
# Moving and requeueing


async def test_move(harness: QueueHarness) -> None:
    await harness.enable()
    await harness.remote.cmd_pause.start(timeout=STD_TIMEOUT)
    i0, i1, i2, i3 = [await harness.add() for _ in range(4)]
    await harness.wait_queue(lambda data: harness.waiting(data) == [i0, i1, i2, i3], "four scripts waiting")

    async def move(index: int, location: Location, other: int, expected: list[int]) -> None:
        await harness.remote.cmd_move.set_start(
            scriptSalIndex=index, location=location, locationSalIndex=other, timeout=STD_TIMEOUT
        )
        assert harness.waiting(harness.queues[-1]) == expected

    await move(i2, Location.FIRST, 0, [i2, i0, i1, i3])
    await move(i2, Location.LAST, 0, [i0, i1, i3, i2])
    await move(i0, Location.BEFORE, i2, [i1, i3, i0, i2])
    await move(i1, Location.AFTER, i2, [i3, i0, i2, i1])
    await move(i3, Location.AFTER, i0, [i0, i3, i2, i1])
    await move(i1, Location.BEFORE, i0, [i1, i0, i3, i2])
    await move(i3, Location.BEFORE, i3, [i1, i0, i3, i2])  # before itself: nothing moves
    await move(i3, Location.AFTER, i3, [i1, i0, i3, i2])
    for index, location, other, reason in (
        (42, Location.FIRST, 0, "script 42 is not in the queue"),
        (i0, Location.BEFORE, 42, "script 42 is not in the queue"),
        (i0, 7, 0, "location=7 is not valid"),
    ):
        with pytest.raises(AckError, match=reason):
            await harness.remote.cmd_move.set_start(
                scriptSalIndex=index, location=location, locationSalIndex=other, timeout=STD_TIMEOUT
            )
        assert harness.csc.model.queue_indices == [i1, i0, i3, i2]
    # Adding at each location.
    first = await harness.add(location=Location.FIRST)
    after = await harness.add(location=Location.AFTER, locationSalIndex=i3)
    before = await harness.add(location=Location.BEFORE, locationSalIndex=i1)
    assert harness.csc.model.queue_indices == [first, before, i1, i0, i3, after, i2]
    with pytest.raises(AckError, match="location=0 is not valid"):
        await harness.add(location=0)


@pytest.mark.slow
async def test_group_id_only_for_the_top_script(harness: QueueHarness) -> None:
    await harness.enable()
    running = await harness.add("script1.py", "wait_time: 60")
    await harness.wait_process_state(running, P.RUNNING)
    top, second = await harness.add(), await harness.add()
    await harness.wait_for(
        lambda: [d.scriptSalIndex for d in harness.next_visits] == [running, top], "top's ID"
    )
    await harness.wait_process_state(second, P.CONFIGURED)
    model = harness.csc.model
    assert [info.index for info in model.queue if info.group_id] == [top]
    await harness.remote.cmd_move.set_start(scriptSalIndex=top, location=Location.LAST, timeout=STD_TIMEOUT)
    await harness.wait_for(lambda: harness.next_visits_canceled, "a cancellation")
    canceled = harness.next_visits_canceled[0]
    assert (canceled.scriptSalIndex, canceled.groupId) == (top, harness.next_visits[1].groupId)
    await harness.wait_for(lambda: len(harness.next_visits) == 3, "the new top's group ID")
    assert harness.next_visits[2].scriptSalIndex == second
    assert [info.index for info in model.queue if info.group_id] == [second]
    await harness.remote.cmd_stopScripts.set_start(
        salIndices=[running, second, top] + [0] * 397, length=3, terminate=True, timeout=STD_TIMEOUT
    )
    assert not model.live_pids


@pytest.mark.slow
async def test_requeue(harness: QueueHarness) -> None:
    await harness.enable()
    config = "wait_time: 0.2\nfail_cleanup: false\n"
    done = await harness.add("subdir/script2.py", config, descr="to be repeated")
    await harness.wait_process_state(done, P.DONE)
    await harness.remote.cmd_pause.start(timeout=STD_TIMEOUT)
    waiting = await harness.add("script1.py")
    ackcmd = await harness.remote.cmd_requeue.set_start(
        scriptSalIndex=done, location=Location.FIRST, timeout=STD_TIMEOUT
    )
    copy = int(ackcmd.result)
    assert copy == waiting + 1
    model = harness.csc.model
    assert model.queue_indices == [copy, waiting]
    info = model.get_script_info(copy, search_history=False)
    assert (info.is_standard, info.path, info.config, info.descr) == (
        True,
        "subdir/script2.py",
        config,
        "to be repeated",
    )
    # A waiting script can be requeued too, relative to another.
    ackcmd = await harness.remote.cmd_requeue.set_start(
        scriptSalIndex=waiting, location=Location.AFTER, locationSalIndex=copy, timeout=STD_TIMEOUT
    )
    assert model.queue_indices == [copy, int(ackcmd.result), waiting]
    with pytest.raises(AckError, match="no script with index 42"):
        await harness.remote.cmd_requeue.set_start(
            scriptSalIndex=42, location=Location.LAST, timeout=STD_TIMEOUT
        )
    await harness.remote.cmd_resume.start(timeout=STD_TIMEOUT)
    for index in model.queue_indices:
        await harness.wait_process_state(index, P.DONE)


# ----------------------------------------------------------------------
# Failure, pause and resume


@pytest.mark.slow
async def test_pause_on_failure_and_resume(harness: QueueHarness) -> None:
    await harness.enable()
    await harness.remote.cmd_pause.start(timeout=STD_TIMEOUT)
    failing = await harness.add("script1.py", "fail_run: true")
    after = await harness.add("script1.py")
    await harness.wait_process_state(failing, P.CONFIGURED)
    await harness.remote.cmd_resume.start(timeout=STD_TIMEOUT)
    data = await harness.wait_process_state(failing, P.DONE)
    assert data.scriptState == ScriptState.FAILED
    queue = await harness.wait_queue(lambda data: not data.running, "the queue paused by the failure")
    assert queue.currentSalIndex == failing, "the failed script stays current"
    assert harness.waiting(queue) == [after] and harness.past(queue) == []
    await asyncio.sleep(0.5)
    assert harness.last_script(after).processState == P.CONFIGURED, "nothing runs while paused"
    await harness.remote.cmd_resume.start(timeout=STD_TIMEOUT)
    await harness.wait_process_state(after, P.DONE)
    queue = await harness.wait_queue(lambda data: harness.past(data) == [after, failing], "both finished")
    assert queue.running and queue.currentSalIndex == 0


# ----------------------------------------------------------------------
# Stop and terminate


@pytest.mark.slow
@pytest.mark.parametrize("terminate", [False, True])
async def test_stop_running_and_waiting(harness: QueueHarness, terminate: bool) -> None:
    await harness.enable()
    running = await harness.add("script1.py", "wait_time: 60")
    waiting = await harness.add("script1.py")
    await harness.wait_process_state(running, P.RUNNING)
    await harness.wait_process_state(waiting, P.CONFIGURED)
    pids = harness.csc.model.live_pids
    assert len(pids) == 2
    await harness.remote.cmd_stopScripts.set_start(
        salIndices=[running, waiting] + [0] * 398, length=2, terminate=terminate, timeout=STD_TIMEOUT
    )
    stopped = await harness.wait_process_state(running, P.DONE, P.TERMINATED)
    if terminate:
        assert stopped.processState == P.TERMINATED
    else:
        # Asked to stop, it stopped by itself: its cleanup ran, it ended STOPPED.
        assert stopped.processState == P.DONE and stopped.scriptState == ScriptState.STOPPED
    assert (await harness.wait_process_state(waiting, P.TERMINATED)).processState == P.TERMINATED
    queue = await harness.wait_queue(lambda data: len(harness.past(data)) == 2, "both in the history")
    assert queue.running and queue.currentSalIndex == 0 and harness.waiting(queue) == []
    assert not any(proc_alive(pid) for pid in pids)


@pytest.mark.slow
async def test_stop_then_terminate_a_stubborn_script(
    harness: QueueHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The behaviour under test is the fallback after these limits: shorten them.
    stop_timeout, terminate_timeout = 1.0, 0.5
    monkeypatch.setattr(queue_model_module, "STOP_TIMEOUT", stop_timeout)
    monkeypatch.setattr(script_info_module, "TERMINATE_TIMEOUT", terminate_timeout)
    await harness.enable()
    index = await harness.add("stubborn.py")
    await harness.wait_process_state(index, P.RUNNING)
    (pid,) = harness.csc.model.live_pids
    loop = asyncio.get_running_loop()
    start = loop.time()
    await harness.remote.cmd_stopScripts.set_start(
        salIndices=[index] + [0] * 399, length=1, terminate=False, timeout=STD_TIMEOUT
    )
    elapsed = loop.time() - start
    data = await harness.wait_process_state(index, P.TERMINATED)
    assert data.timestampProcessEnd > 0
    assert stop_timeout <= elapsed < stop_timeout + terminate_timeout + 5.0, (
        "stop, then SIGTERM, then SIGKILL"
    )
    assert not proc_alive(pid)


# ----------------------------------------------------------------------
# showSchema


async def test_show_schema(harness: QueueHarness) -> None:
    await harness.enable()
    await harness.remote.cmd_showSchema.set_start(isStandard=False, path="script3.py", timeout=STD_TIMEOUT)
    data = await harness.remote.evt_configSchema.next(flush=False, timeout=STD_TIMEOUT)
    assert (data.isStandard, data.path) == (False, "script3.py")
    assert yaml.safe_load(data.configSchema) == TestScript.get_schema()
    with pytest.raises(
        AckError, match="unloadable.py 0 --schema failed with exit code 1: .*fails on purpose"
    ):
        await harness.remote.cmd_showSchema.set_start(
            isStandard=True, path="unloadable.py", timeout=STD_TIMEOUT
        )


# ----------------------------------------------------------------------
# Closing


@pytest.mark.slow
async def test_close_leaves_no_orphan(dds_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # stubborn.py ignores SIGTERM: closing kills it once the terminate limit has run out,
    # which is set short (not salobj's 5 s), as what is pinned is that nothing survives.
    monkeypatch.setattr(script_info_module, "TERMINATE_TIMEOUT", 0.5)
    csc = ScriptQueue(index=2, standardpath=STANDARD_ROOT, externalpath=EXTERNAL_ROOT)
    await csc.start_task
    await csc.do_start(None)
    await csc.do_enable(None)
    model = csc.model
    for path, config in (("script1.py", "wait_time: 60"), ("stubborn.py", ""), ("script1.py", "")):
        info = model.make_script_info(seq_num=0, is_standard=True, path=path, config=config, descr="")
        await model.add(info, Location.LAST, 0)
    async with asyncio.timeout(STD_TIMEOUT):
        while model.current_script is None or not model.current_script.running:
            await asyncio.sleep(0.05)
    assert model.current_script.index == 2 * 100000  # queue 2: indices 200000 + n
    pids = sorted(model.live_pids)
    assert len(pids) == 3
    assert sorted(queue_script_pids(dds_env)) == pids, "the process table agrees with the queue"
    await csc.close()
    assert not any(proc_alive(pid) for pid in pids)
    assert queue_script_pids(dds_env) == []


# ----------------------------------------------------------------------
# What the queue relies on in the transport


@pytest.mark.slow
async def test_wait_for_process_readers(dds_env: str) -> None:
    # Before configuring a script the queue waits until that process's command reader is met.
    async with Domain() as domain, Remote(domain, "Script", 4242, include=[]) as remote:
        assert remote.cmd_configure is not None
        transport = domain.transport
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(STANDARD_ROOT / "script1.py"), "4242"
        )
        try:
            assert await transport.wait_for_process_readers(  # type: ignore[attr-defined]
                "Script", "command_configure", process.pid, STD_TIMEOUT
            )
            # No reader of this process (this one has none): not met.
            assert not await transport.wait_for_process_readers(  # type: ignore[attr-defined]
                "Script", "command_configure", os.getpid(), 0.5
            )
        finally:
            process.terminate()
            await process.wait()


@pytest.mark.slow
async def test_calibration_script_in_the_default_external_root(dds_env: str) -> None:
    # What the operator finds under AVAILABLE SCRIPTS, and its schema.
    async with (
        ScriptQueue(index=1, initial_state=State.ENABLED, standardpath=STANDARD_ROOT) as csc,
        Domain() as domain,
        Remote(domain, "ScriptQueue", 1) as remote,
    ):
        path = "maintel/make_comcam_calibrations.py"
        available = await remote.evt_availableScripts.aget(timeout=STD_TIMEOUT)
        assert path in available.external.split(":")
        roots = await remote.evt_rootDirectories.aget(timeout=STD_TIMEOUT)
        assert roots.external == str(csc.roots.external)
        assert pathlib.Path(roots.external).name == "scripts"
        await remote.cmd_showSchema.set_start(isStandard=False, path=path, timeout=STD_TIMEOUT)
        data = await remote.evt_configSchema.next(flush=False, timeout=STD_TIMEOUT)
        schema = yaml.safe_load(data.configSchema)
        assert schema["title"] == "MakeComCamCalibrations v1"


async def test_queue_talks_dds_whatever_the_default(dds_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Its scripts are processes: the queue is on DDS even where the default is in-process.
    monkeypatch.setenv(TRANSPORT_ENV, "local")
    async with ScriptQueue(index=3, standardpath=STANDARD_ROOT, externalpath=EXTERNAL_ROOT) as csc:
        assert isinstance(csc.domain.transport, DdsTransport)
        assert csc.domain.transport.subname == dds_env
    assert os.environ[TRANSPORT_ENV] == "local"
