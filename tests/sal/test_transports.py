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

"""The SAL runtime's semantics over both transports, and processes over DDS:
a script process driven by another process, late joiners, a killed process
detected, isolated sets side by side.

``run_one_script --simulate`` over DDS, the observatory in one process and
the script in another, is tested in
``tests/observatory/test_run_one_script_simulate.py`` (two such runs at once).
"""

import asyncio
import io
import os
import pathlib
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations.sal import (
    AckError,
    Controller,
    Domain,
    HeartbeatMonitor,
    Remote,
    SalRetCode,
    ScriptState,
    State,
)
from lsst.ts.calibrations.sal.local_transport import LocalTransport
from lsst.ts.calibrations.sal.run_one_script import run_one_script
from lsst.ts.calibrations.sal.transport_choice import (
    PARENT_ENV,
    TRANSPORT_ENV,
    TransportMismatchError,
    check_parent_transport,
    get_transport_name,
)

DATA_DIR = pathlib.Path(__file__).parents[1] / "data"
TEST_SCRIPT = DATA_DIR / "scripts" / "testscript.py"

# A TestCsc process: ENABLED, heartbeat every 0.2 s, until SIGTERM.
CSC_PROGRAM = """
import asyncio, signal, sys
from lsst.ts.calibrations.sal import State, TestCsc

async def main():
    csc = TestCsc(int(sys.argv[1]), initial_state=State.ENABLED, heartbeat_interval=0.2)
    await csc.start_task
    print("ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await csc.close()

asyncio.run(main())
"""


class FastController(Controller):
    heartbeat_interval = None


def random_subname() -> str:
    return "test_" + uuid.uuid4().hex[:12]


@pytest.fixture
def dds_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Use the DDS transport with a subname of this test alone."""
    subname = random_subname()
    monkeypatch.setenv(TRANSPORT_ENV, "dds")
    monkeypatch.setenv("LSST_TOPIC_SUBNAME", subname)
    yield subname


@pytest.fixture(params=["local", "dds"])
async def transport_name(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[str]:
    """Run a test over each transport (DDS with a subname of its own)."""
    monkeypatch.setenv(TRANSPORT_ENV, request.param)
    monkeypatch.setenv("LSST_TOPIC_SUBNAME", random_subname())
    yield request.param
    if request.param == "dds":
        from lsst.ts.calibrations.sal.dds_transport import DdsTransport

        await DdsTransport.for_loop().close()


class ChildProcesses:
    """Start processes and kill every one left at teardown."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[str]] = []

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ) if env is None else env,
        )
        self.processes.append(process)
        return process

    def start_csc(self, index: int, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        process = self.start("-c", CSC_PROGRAM, str(index), env=env)
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == "ready", process.stderr.read() if process.stderr else ""
        return process

    def kill_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=STD_TIMEOUT)


@pytest.fixture
def children() -> Iterator[ChildProcesses]:
    processes = ChildProcesses()
    yield processes
    processes.kill_all()


# ----------------------------------------------------------------------
# Semantics over both transports


async def make_controller(index: int) -> Controller:
    controller = FastController("Test", index)
    await asyncio.wait_for(controller.start_task, STD_TIMEOUT)
    return controller


async def test_transport_chosen_by_environment(transport_name: str) -> None:
    assert get_transport_name() == transport_name
    async with Domain() as domain:
        assert (
            type(domain.transport).__name__
            == {"local": "LocalTransport", "dds": "DdsTransport"}[transport_name]
        )


async def test_commands_and_acks(transport_name: str, index: int) -> None:
    async with await make_controller(index) as controller, Domain() as domain:

        async def do_wait(data: Any) -> None:
            if data.duration < 0:
                raise RuntimeError("negative duration")
            await controller.cmd_wait.ack_in_progress(data, timeout=5)

        controller.cmd_wait.callback = do_wait
        async with Remote(domain, "Test", index) as remote:
            ackcmd = await remote.cmd_wait.set_start(duration=0, timeout=STD_TIMEOUT)
            assert ackcmd.ack == SalRetCode.CMD_COMPLETE
            with pytest.raises(AckError) as excinfo:
                await remote.cmd_wait.set_start(duration=-1, timeout=STD_TIMEOUT)
            assert excinfo.value.ackcmd.ack == SalRetCode.CMD_FAILED
            assert "negative duration" in excinfo.value.ackcmd.result


async def test_events_telemetry_order_and_copies(transport_name: str, index: int) -> None:
    async with await make_controller(index) as controller, Domain() as domain:
        async with Remote(domain, "Test", index) as remote:
            for i in range(20):
                await controller.tel_arrays.set_write(int0=[i] * 5, double0=[float(i)] * 5)
            received = [await remote.tel_arrays.next(flush=False, timeout=STD_TIMEOUT) for _ in range(20)]
            assert [data.int0[0] for data in received] == list(range(20))
            received[0].double0[0] = -1.0
            assert controller.tel_arrays.data.double0[0] == 19.0
            assert received[5].double0 == [5.0] * 5
            # Events: written only on change.
            await controller.evt_scalars.set_write(int0=3)
            await controller.evt_scalars.set_write(int0=3)
            await controller.evt_scalars.set_write(int0=4)
            first = await remote.evt_scalars.next(flush=False, timeout=STD_TIMEOUT)
            second = await remote.evt_scalars.next(flush=False, timeout=STD_TIMEOUT)
            assert (first.int0, second.int0) == (3, 4)
            assert second.private_identity == f"Test:{index}"
            assert second.salIndex == index


async def test_late_joiner_and_index_filter(transport_name: str, next_index: Any) -> None:
    index1, index2 = next_index(), next_index()
    async with await make_controller(index1) as c1, await make_controller(index2) as c2:
        for i in range(3):
            await c1.evt_scalars.set_write(int0=10 + i)
            await c2.evt_scalars.set_write(int0=20 + i)
        async with Domain() as domain:
            # A late joiner sees the last event of each index, and only that.
            async with Remote(domain, "Test", index1) as remote1, Remote(domain, "Test", 0) as remote_all:
                assert remote1.evt_scalars.get().int0 == 12
                assert remote1.evt_scalars.nqueued == 1
                last = {}
                while remote_all.evt_scalars.nqueued:
                    data = remote_all.evt_scalars.get_oldest()
                    last[data.salIndex] = data.int0
                assert last == {index1: 12, index2: 22}
                # Telemetry has no history.
                assert remote1.tel_scalars.get() is None


# ----------------------------------------------------------------------
# Processes over DDS


@pytest.mark.slow
async def test_script_process_driven_by_another_process(dds_env: str, children: ChildProcesses) -> None:
    index = 400 + os.getpid() % 1000
    async with Domain() as domain, Remote(domain, "Script", index) as remote:
        process = children.start(str(TEST_SCRIPT), str(index))
        state = await remote.evt_state.next(flush=False, timeout=STD_TIMEOUT)
        assert state.state == ScriptState.UNCONFIGURED
        await domain.transport.wait_for_readers("Script", "command_configure", STD_TIMEOUT)  # type: ignore
        await remote.cmd_configure.set_start(config="wait_time: 60", timeout=STD_TIMEOUT)
        await remote.cmd_setGroupId.set_start(groupId="group1", timeout=STD_TIMEOUT)
        run_task = asyncio.create_task(remote.cmd_run.start(timeout=STD_TIMEOUT))
        while (await remote.evt_state.next(flush=False, timeout=STD_TIMEOUT)).state != ScriptState.RUNNING:
            pass
        await remote.cmd_stop.start(timeout=STD_TIMEOUT)
        # The run acknowledgement arrives once the stopped run has ended.
        await asyncio.wait_for(run_task, STD_TIMEOUT)
        states: list[int] = []
        while not states or states[-1] not in (ScriptState.STOPPED, ScriptState.FAILED):
            states.append((await remote.evt_state.next(flush=False, timeout=STD_TIMEOUT)).state)
        assert states[-1] == ScriptState.STOPPED
        assert await asyncio.to_thread(process.wait, STD_TIMEOUT) == 0


async def wait_for_summary_state(remote: Remote, state: State) -> Any:
    """Return the first summaryState equal to ``state``: a CSC started in
    ENABLED writes STANDBY and DISABLED first, as salobj's."""
    data = await remote.evt_summaryState.aget(timeout=STD_TIMEOUT)
    while data.summaryState != state:
        data = await remote.evt_summaryState.next(flush=False, timeout=STD_TIMEOUT)
    return data


@pytest.mark.slow
async def test_killed_csc_process_detected(dds_env: str, children: ChildProcesses) -> None:
    index = 500 + os.getpid() % 1000
    process = await asyncio.to_thread(children.start_csc, index)
    async with (
        Domain() as domain,
        HeartbeatMonitor(domain, "Test", index, interval=0.2, max_missed=3) as monitor,
        Remote(domain, "Test", index) as remote,
    ):
        await monitor.wait_beating(STD_TIMEOUT)
        assert monitor.alive
        assert (await wait_for_summary_state(remote, State.ENABLED)).summaryState == State.ENABLED
        process.send_signal(signal.SIGKILL)
        age = await monitor.wait_stopped(timeout=STD_TIMEOUT)
        assert age > 0.6
        assert not monitor.alive


@pytest.mark.slow
async def test_killed_script_process_reported(dds_env: str, tmp_path: pathlib.Path) -> None:
    # A script that kills its own process while running.
    script = tmp_path / "suicide_script.py"
    script.write_text(
        "import asyncio, os, signal\n"
        "from lsst.ts.calibrations.sal import BaseScript\n"
        "class SuicideScript(BaseScript):\n"
        "    def __init__(self, index):\n"
        "        super().__init__(index=index, descr='kills itself')\n"
        "    @classmethod\n"
        "    def get_schema(cls):\n"
        "        return None\n"
        "    async def configure(self, config):\n"
        "        pass\n"
        "    def set_metadata(self, metadata):\n"
        "        pass\n"
        "    async def run(self):\n"
        "        self.log.info('about to die')\n"
        "        await asyncio.sleep(0.2)\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "if __name__ == '__main__':\n"
        "    asyncio.run(SuicideScript.amain())\n"
    )
    stream = io.StringIO()
    code = await asyncio.wait_for(
        run_one_script(script, index=601, stream=stream, transport="dds"), timeout=STD_TIMEOUT * 2
    )
    output = stream.getvalue()
    assert code == 1, output
    assert "about to die" in output
    assert "was killed by signal 9 without a final state (last state RUNNING)" in output


@pytest.mark.slow
async def test_isolated_sets_side_by_side(dds_env: str, children: ChildProcesses) -> None:
    index = 700 + os.getpid() % 1000
    other_env = dict(os.environ, LSST_TOPIC_SUBNAME=random_subname())
    await asyncio.to_thread(children.start_csc, index, other_env)
    async with Domain() as domain, Remote(domain, "Test", index) as remote:
        # The CSC of the other set is invisible here...
        with pytest.raises(TimeoutError):
            await remote.evt_heartbeat.next(flush=False, timeout=1.0)
        assert remote.evt_summaryState.get() is None
        # ...and one of this set with the same index is seen.
        await asyncio.to_thread(children.start_csc, index)
        data = await wait_for_summary_state(remote, State.ENABLED)
        assert data.private_origin == children.processes[-1].pid


# ----------------------------------------------------------------------
# One transport choice: a test's Domain and the script process it starts


# A unit test as a salobj author writes it, run with no SAL variable set: Domain() and a script
# executable started from it meet.
SALOBJ_STYLE_TEST = """
import asyncio, sys
from lsst.ts.calibrations import sal as salobj

async def main(script, index):
    async with salobj.Domain() as domain, salobj.Remote(domain, "Script", index) as remote:
        process = await asyncio.create_subprocess_exec(sys.executable, script, str(index))
        data = await remote.evt_state.next(flush=False, timeout=60)
        assert data.state == salobj.ScriptState.UNCONFIGURED, data
        await remote.cmd_configure.set_start(config="wait_time: 0", timeout=60)
        await remote.cmd_setGroupId.set_start(groupId="g", timeout=10)
        await remote.cmd_run.start(timeout=60)
        assert await asyncio.wait_for(process.wait(), 60) == 0
        print("met over", domain.transport.name, flush=True)

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def without_sal_variables() -> dict[str, str]:
    """This environment without LSST_SAL_TRANSPORT and the parent record, with a subname of its own."""
    env = {name: value for name, value in os.environ.items() if name not in (TRANSPORT_ENV, PARENT_ENV)}
    env["LSST_TOPIC_SUBNAME"] = random_subname()
    return env


@pytest.mark.slow
async def test_salobj_style_test_meets_its_script_process(index: int) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SALOBJ_STYLE_TEST,
        str(TEST_SCRIPT),
        str(index),
        env=without_sal_variables(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    stdout, _ = await asyncio.wait_for(process.communicate(), STD_TIMEOUT * 6)
    output = stdout.decode()
    assert process.returncode == 0, output
    assert "met over dds" in output


async def test_local_script_process_is_refused_naming_why(
    index: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This test's Domain is local and the child inherits LSST_SAL_TRANSPORT=local: it could never be reached.
    monkeypatch.setenv(TRANSPORT_ENV, "local")
    async with Domain() as domain, Remote(domain, "Script", index):
        assert isinstance(domain.transport, LocalTransport)
        assert os.environ[PARENT_ENV] == f"{os.getpid()}:local"
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(TEST_SCRIPT), str(index), stderr=subprocess.PIPE
        )
        _, stderr = await asyncio.wait_for(process.communicate(), STD_TIMEOUT)
        # --schema makes no Domain: it works from any parent.
        schema = await asyncio.create_subprocess_exec(
            sys.executable, str(TEST_SCRIPT), "0", "--schema", stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        schema_out, schema_err = await asyncio.wait_for(schema.communicate(), STD_TIMEOUT)
        assert schema.returncode == 0, schema_err.decode()
        assert b"wait_time" in schema_out
    assert process.returncode == 1
    message = stderr.decode()
    assert "testscript.py: error: LSST_SAL_TRANSPORT=local: this process is on the in-process bus" in message
    assert f"(pid {os.getpid()}, on local) can never reach it" in message
    assert "Traceback" not in message
    # Closed: the record goes with the last open Domain.
    assert PARENT_ENV not in os.environ


async def test_dds_script_process_of_a_local_parent_says_so(
    index: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TRANSPORT_ENV, "local")
    async with Domain() as domain, Remote(domain, "Script", index):
        assert domain.transport.name == "local"
        env = dict(os.environ, LSST_TOPIC_SUBNAME=random_subname())
        del env[TRANSPORT_ENV]  # the child takes the default, DDS
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(TEST_SCRIPT), str(index), stderr=subprocess.PIPE, env=env
        )
        try:
            assert process.stderr is not None
            line = await asyncio.wait_for(process.stderr.readline(), STD_TIMEOUT)
        finally:
            process.terminate()
            await asyncio.wait_for(process.communicate(), STD_TIMEOUT)
    assert line.decode().startswith(
        "testscript.py: warning: this process uses the dds transport but the process that started it "
        f"(pid {os.getpid()}) has only local Domains open: its Remotes will not hear this process"
    )


def test_check_parent_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = os.getppid()
    monkeypatch.delenv(PARENT_ENV, raising=False)
    assert check_parent_transport("local") == ""  # started by hand: nothing to compare
    monkeypatch.setenv(PARENT_ENV, f"{parent}:dds,local")
    assert check_parent_transport("dds") == ""
    with pytest.raises(TransportMismatchError, match="reaches nothing outside it"):
        check_parent_transport("local")
    monkeypatch.setenv(PARENT_ENV, f"{parent}:local")
    assert "has only local Domains open" in check_parent_transport("dds")
    # The record of a grandparent (another pid) is not this process's parent's.
    monkeypatch.setenv(PARENT_ENV, f"{parent + 100000}:local")
    assert check_parent_transport("local") == ""
