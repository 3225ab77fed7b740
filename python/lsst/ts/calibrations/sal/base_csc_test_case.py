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
"""BaseCscTestCase: a mixin for unit tests of a CSC, as salobj's."""

__all__ = ["BaseCscTestCase"]

import abc
import asyncio
import contextlib
import enum
import itertools
import os
import pathlib
import shutil
import subprocess
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from .base import MAX_SAL_INDEX, SalRetCode, State, current_tai
from .base_csc import BaseCsc
from .domain import Domain
from .remote import Remote
from .set_summary_state import get_expected_summary_states
from .testutils import assertRaisesAckError, set_test_topic_subname
from .topics.read_topic import ReadTopic

STD_TIMEOUT = 30.0
"""Time limit (seconds) of the steps that should be quick."""

STD_WITH_DUPLICATE_CHECK_TIMEOUT = STD_TIMEOUT + 10
"""Time limit (seconds) for a CSC process that checks for a duplicate first."""


class BaseCscTestCase(metaclass=abc.ABCMeta):
    """Helpers for unit tests of a CSC.

    Inherit from this and from `unittest.IsolatedAsyncioTestCase`, and
    define `basic_make_csc`. Each test runs with ``LSST_SITE=test`` and a
    test ``LSST_TOPIC_SUBNAME`` (which keeps the DDS traffic of concurrent
    test processes apart, and is inherited by the processes a test starts).

    Attributes
    ----------
    csc : `BaseCsc`
        The CSC made by `make_csc`.
    remote : `Remote`
        A Remote of the CSC, on the CSC's Domain (`make_csc`,
        `check_bin_script`).
    csc_start_time : `float`
        TAI time the CSC was made; older samples are skipped by
        `assert_next_sample`.
    """

    _index_iter = itertools.count(1)
    _randomize_topic_subname = False

    def run(self, result: Any = None) -> Any:
        """Run the test with ``LSST_SITE=test`` and a test ``LSST_TOPIC_SUBNAME``.

        Both are restored afterwards (salobj leaves them set).
        """
        saved = {name: os.environ.get(name) for name in ("LSST_SITE", "LSST_TOPIC_SUBNAME")}
        set_test_topic_subname(randomize=self._randomize_topic_subname)
        os.environ["LSST_SITE"] = "test"
        self.csc_start_time = current_tai()
        try:
            return super().run(result)  # type: ignore[misc]
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    @abc.abstractmethod
    def basic_make_csc(
        self,
        initial_state: State | int | None,
        config_dir: str | pathlib.Path | None,
        simulation_mode: int,
        **kwargs: Any,
    ) -> BaseCsc:
        """Make and return the CSC under test.

        Parameters
        ----------
        initial_state : `State`, `int` or `None`
            Initial state.
        config_dir : `str`, `pathlib.Path` or `None`
            Configuration directory (None for the default).
        simulation_mode : `int`
            Simulation mode.
        **kwargs : `typing.Any`
            Extra arguments given to `make_csc`.
        """
        raise NotImplementedError()

    def next_index(self) -> int:
        """Return a SAL index not used before in this process."""
        return (next(self._index_iter) - 1) % MAX_SAL_INDEX + 1

    @contextlib.asynccontextmanager
    async def make_csc(
        self,
        initial_state: State | int | None = None,
        config_dir: str | pathlib.Path | None = None,
        simulation_mode: int = 0,
        log_level: int | None = None,
        timeout: float = STD_TIMEOUT,
        **kwargs: Any,
    ) -> AsyncGenerator[None, None]:
        """Make the CSC (``self.csc``) and a Remote (``self.remote``), start
        them, and check the summary states on the way to ``initial_state``.

        Parameters
        ----------
        initial_state : `State`, `int` or `None`, optional
            Initial state; None for the CSC's default.
        config_dir : `str`, `pathlib.Path` or `None`, optional
            Configuration directory.
        simulation_mode : `int`, optional
            Simulation mode.
        log_level : `int` or `None`, optional
            Log level of the CSC; unchanged if None.
        timeout : `float`, optional
            Time limit (seconds) for starting.
        **kwargs : `typing.Any`
            Extra arguments of `basic_make_csc` (e.g. ``override``).

        Notes
        -----
        The Remote is started before the CSC (`Controller.delay_start_event`),
        so it sees every event. The summary states before the final one are
        read and checked; the final one stays queued.
        """
        items_to_close: list[Any] = []
        try:
            self.csc = self.basic_make_csc(
                initial_state=initial_state, config_dir=config_dir, simulation_mode=simulation_mode, **kwargs
            )
            self.csc.delay_start_event.clear()
            self.csc_start_time = current_tai()
            items_to_close.append(self.csc)
            self.remote = Remote(
                domain=self.csc.domain, name=self.csc.salinfo.name, index=self.csc.salinfo.index
            )
            items_to_close.append(self.remote)
            await asyncio.wait_for(self.remote.start_task, timeout=timeout)
            self.csc.delay_start_event.set()
            await asyncio.wait_for(self.csc.start_task, timeout=timeout)
            if log_level is not None:
                self.csc.log.setLevel(log_level)
            if initial_state is not None and initial_state != self.csc.default_initial_state:
                expected = get_expected_summary_states(self.csc.default_initial_state, initial_state)[:-1]
                for state in expected:
                    await self.assert_next_summary_state(state)
            yield
        finally:
            for item in reversed(items_to_close):
                await item.close()

    async def assert_next_summary_state(
        self,
        state: State | int,
        flush: bool = False,
        timeout: float = STD_TIMEOUT,
        remote: Remote | None = None,
    ) -> None:
        """Read the next ``summaryState`` and check it.

        Parameters
        ----------
        state : `State` or `int`
            Expected summary state.
        flush : `bool`, optional
            Flush the queue first?
        timeout : `float`, optional
            Time limit (seconds).
        remote : `Remote`, optional
            Remote to read; ``self.remote`` if None.

        Raises
        ------
        AssertionError
            If the state differs.
        TimeoutError
            If no event arrives in time.
        """
        remote = self.remote if remote is None else remote
        await self.assert_next_sample(
            remote.evt_summaryState, flush=flush, timeout=timeout, summaryState=state
        )

    async def assert_next_sample(
        self, topic: ReadTopic, flush: bool = False, timeout: float = STD_TIMEOUT, **kwargs: Any
    ) -> Any:
        """Read the next message of a topic (skipping those written before
        `csc_start_time`), check the given fields and return it.

        Parameters
        ----------
        topic : `ReadTopic`
            Topic to read, e.g. ``self.remote.evt_logMessage``.
        flush : `bool`, optional
            Flush the queue first?
        timeout : `float`, optional
            Time limit (seconds) per message.
        **kwargs : `typing.Any`
            Field name: expected value.

        Returns
        -------
        data : ``DataType``
            The message.

        Raises
        ------
        AssertionError
            If a field is missing or differs.
        TimeoutError
            If no message arrives in time.
        """
        data = await topic.next(flush=flush, timeout=timeout)
        while data.private_sndStamp <= self.csc_start_time:
            data = await topic.next(flush=False, timeout=timeout)
        for name, expected in kwargs.items():
            if not hasattr(data, name):
                raise AssertionError(f"No field {name} in topic {topic.attr_name}")
            value = getattr(data, name)
            if isinstance(expected, enum.IntEnum):
                try:
                    value = type(expected)(value)
                except ValueError:
                    pass
            assert value == expected, f"Failed on field {name}: read {value!r} != expected {expected!r}"
        return data

    async def check_bin_script(
        self,
        name: str,
        index: int | None,
        exe_name: str,
        default_initial_state: State = State.STANDBY,
        initial_state: State | None = None,
        override: str | None = None,
        cmdline_args: Sequence[str] = (),
        timeout: float = STD_WITH_DUPLICATE_CHECK_TIMEOUT,
    ) -> None:
        """Run the CSC's executable and check its summary states.

        Parameters
        ----------
        name : `str`
            SAL component name.
        index : `int` or `None`
            SAL index.
        exe_name : `str`
            Executable, found on ``PATH``.
        default_initial_state : `State`, optional
            The CSC's default initial state.
        initial_state : `State` or `None`, optional
            Value of ``--state``, if given.
        override : `str` or `None`, optional
            Value of ``--override``, if given; then checked in
            ``configurationApplied.configurations``.
        cmdline_args : sequence of `str`, optional
            More arguments.
        timeout : `float`, optional
            Time limit (seconds) per state.

        Raises
        ------
        AssertionError
            If the executable is not found or a state differs.
        TimeoutError
            If a state is not seen in time.

        Notes
        -----
        The process must use the same transport as this test (see
        ``LSST_SAL_TRANSPORT``): the in-process bus cannot reach it.
        """
        exe_path = shutil.which(exe_name)
        if exe_path is None:
            raise AssertionError(f"Could not find executable {exe_name!r} on PATH")
        args = [exe_path]
        if index not in (None, 0):
            args.append(str(index))
        if initial_state is None:
            expected_states = [default_initial_state]
        else:
            args += ["--state", State(initial_state).name.lower()]
            expected_states = get_expected_summary_states(default_initial_state, initial_state)
        if override is not None:
            args += ["--override", override]
        args += list(cmdline_args)
        async with Domain() as domain, Remote(domain=domain, name=name, index=index) as self.remote:
            self.csc_start_time = current_tai()
            process = await asyncio.create_subprocess_exec(*args, stderr=subprocess.PIPE)
            try:
                for state in expected_states:
                    await self.assert_next_summary_state(state, timeout=timeout)
                if override:
                    data = await self.assert_next_sample(topic=self.remote.evt_configurationApplied)
                    assert override in data.configurations
            finally:
                if process.returncode is None:
                    process.terminate()
                    await asyncio.wait_for(process.wait(), timeout=STD_TIMEOUT)
                else:
                    assert process.stderr is not None
                    errbytes = await process.stderr.read()
                    print("Subprocess quit early; stderr:", errbytes.decode(errors="replace"))

    async def check_standard_state_transitions(
        self,
        enabled_commands: Sequence[str],
        skip_commands: Sequence[str] | None = None,
        override: str = "",
        timeout: float = STD_TIMEOUT,
    ) -> None:
        """Walk the CSC from STANDBY to ENABLED and back to OFFLINE,
        checking that the other commands fail in each state.

        Parameters
        ----------
        enabled_commands : sequence of `str`
            CSC-specific commands allowed in ENABLED (besides ``disable``
            and ``setLogLevel``).
        skip_commands : sequence of `str`, optional
            Commands not to try.
        override : `str`, optional
            Configuration override of ``start``.
        timeout : `float`, optional
            Time limit (seconds) of each transition command.
        """
        skip = tuple(skip_commands or ())
        assert self.csc.summary_state == State.STANDBY
        await self.assert_next_summary_state(State.STANDBY)
        await self.check_bad_commands(good_commands=("start", "exitControl", "setLogLevel") + skip)
        await self.remote.cmd_start.set_start(configurationOverride=override, timeout=timeout)
        assert self.csc.summary_state == State.DISABLED
        await self.assert_next_summary_state(State.DISABLED)
        await self.check_bad_commands(good_commands=("enable", "standby", "setLogLevel") + skip)
        await self.remote.cmd_enable.start(timeout=timeout)
        assert self.csc.summary_state == State.ENABLED
        await self.assert_next_summary_state(State.ENABLED)
        good = tuple(sorted({"disable", "setLogLevel", *enabled_commands}))
        await self.check_bad_commands(good_commands=good + skip)
        await self.remote.cmd_disable.start(timeout=timeout)
        assert self.csc.summary_state == State.DISABLED
        await self.assert_next_summary_state(State.DISABLED)
        await self.remote.cmd_standby.start(timeout=timeout)
        assert self.csc.summary_state == State.STANDBY
        await self.assert_next_summary_state(State.STANDBY)
        await self.remote.cmd_exitControl.start(timeout=timeout)
        assert self.csc.summary_state == State.OFFLINE
        await self.assert_next_summary_state(State.OFFLINE)

    async def check_bad_commands(
        self, bad_commands: Sequence[str] | None = None, good_commands: Sequence[str] | None = None
    ) -> None:
        """Check that commands fail with ``CMD_FAILED``.

        Parameters
        ----------
        bad_commands : sequence of `str`, optional
            Commands to try; all of the component's if None.
        good_commands : sequence of `str`, optional
            Commands to skip (wins over ``bad_commands``).
        """
        commands = self.remote.salinfo.command_names if bad_commands is None else bad_commands
        good = set(good_commands or ())
        for command in commands:
            if command in good:
                continue
            with self.subTest(command=command):  # type: ignore[attr-defined]
                with assertRaisesAckError(ack=SalRetCode.CMD_FAILED):
                    await getattr(self.remote, f"cmd_{command}").start(timeout=STD_TIMEOUT)
