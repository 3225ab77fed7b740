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

"""Tests of run_one_script: loading script files, configuring with -c and
-p, exit codes, log output, and stopping by signal.
"""

import argparse
import concurrent.futures
import contextlib
import io
import itertools
import os
import pathlib
import signal
import subprocess
import sys
import time
import typing
import uuid

import pytest
import yaml

from fixtures.timeouts import PROCESS_TIMEOUT, STD_TIMEOUT
from lsst.ts.calibrations.sal.observatory_provider import (
    ObservatoryProvider,
    load_provider,
    observatory_from_args,
)
from lsst.ts.calibrations.sal.run_one_script import (
    load_script_class,
    main,
    make_observatory,
    make_parser,
    parse_args,
    run_one_script,
)
from lsst.ts.calibrations.sal.testscript import TestScript

SCRIPTS_DIR = pathlib.Path(__file__).parent.parent / "data" / "scripts"
TEST_SCRIPT = SCRIPTS_DIR / "testscript.py"
_index_generator = itertools.count(2000)


def next_index() -> int:
    return next(_index_generator)


def test_load_script_class() -> None:
    assert load_script_class(TEST_SCRIPT) is TestScript
    # A class defined in the file wins over the one it imports.
    subclass = load_script_class(SCRIPTS_DIR / "subclass_script.py")
    assert subclass.__name__ == "SubclassScript"
    assert issubclass(subclass, TestScript)
    assert subclass.__module__.startswith("_run_one_script_")
    with pytest.raises(LookupError, match="found FirstScript, SecondScript"):
        load_script_class(SCRIPTS_DIR / "two_scripts.py")
    with pytest.raises(LookupError, match="found none"):
        load_script_class(SCRIPTS_DIR / "no_script.py")
    with pytest.raises(FileNotFoundError):
        load_script_class(SCRIPTS_DIR / "missing.py")


def test_parse_args(tmp_path: pathlib.Path) -> None:
    config_path = tmp_path / "config.yaml"
    config_text = "# as typed\nwait_time: 0.1  # seconds\n"
    config_path.write_text(config_text)
    args = parse_args([str(TEST_SCRIPT), "-c", str(config_path), "--index", "7", "-l", "DEBUG"])
    assert args.config == config_text
    assert args.index == 7
    assert args.loglevel == 10

    args = parse_args(
        [str(TEST_SCRIPT), "-p", "wait_time=0.5", "fail_run=true", "name=a b", "day=2024-06-01"]
    )
    assert yaml.safe_load(args.config) == {
        "wait_time": 0.5,
        "fail_run": True,
        "name": "a b",
        "day": yaml.safe_load("2024-06-01"),
    }
    assert 1 <= args.index <= 99999
    assert args.loglevel is None

    assert parse_args([str(TEST_SCRIPT), "-l", "20"]).config == ""
    assert parse_args([str(TEST_SCRIPT), "-l", "20"]).loglevel == 20
    for bad in (
        ["-p", "wait_time"],
        ["-p", "a=1", "a=2"],
        ["-c", str(tmp_path / "missing.yaml")],
        ["-c", str(config_path), "-p", "a=1"],
        ["--index", "0"],
        ["-l", "LOUD"],
    ):
        with pytest.raises(SystemExit):
            parse_args([str(TEST_SCRIPT), *bad])
    # The parser can be extended before parsing.
    parser = make_parser()
    parser.add_argument("--extra", action="store_true")
    assert parse_args([str(TEST_SCRIPT), "--extra"], parser=parser).extra


async def test_run_to_done() -> None:
    stream = io.StringIO()
    code = await run_one_script(TEST_SCRIPT, index=next_index(), config="wait_time: 0.01", stream=stream)
    output = stream.getvalue()
    assert code == 0, output
    assert "INFO" in output
    assert "Run started" in output
    assert "Cleanup succeeded" in output
    assert "group ID " in output
    assert "final state DONE" in output


async def test_run_subclass_with_parameters() -> None:
    stream = io.StringIO()
    code = await run_one_script(
        SCRIPTS_DIR / "subclass_script.py", index=next_index(), config="wait_time: 0\n", stream=stream
    )
    assert code == 0
    assert "SubclassScript running" in stream.getvalue()


async def test_run_fails() -> None:
    stream = io.StringIO()
    code = await run_one_script(TEST_SCRIPT, index=next_index(), config="fail_run: true", stream=stream)
    output = stream.getvalue()
    assert code == 1
    assert "final state FAILED; reason: Error in run: Failed in run: fail_run is true" in output


async def test_configure_fails() -> None:
    stream = io.StringIO()
    code = await run_one_script(TEST_SCRIPT, index=next_index(), config="wait_time: -1", stream=stream)
    output = stream.getvalue()
    assert code == 1
    assert "final state CONFIGURE_FAILED; reason: config(wait_time: -1) failed: " in output
    assert "Run started" not in output


async def test_tracebacks_on_failure_and_at_debug_level() -> None:
    error_script = SCRIPTS_DIR / "error_script.py"
    # Default level: no debug messages; the traceback is printed at the end, on failure.
    stream = io.StringIO()
    assert await run_one_script(error_script, index=next_index(), stream=stream) == 1
    output = stream.getvalue()
    assert "debug detail" not in output
    assert (
        output.index("script state FAILED") < output.index("Traceback") < output.index("final state FAILED")
    )
    assert "RuntimeError: unexpected failure" in output
    # DEBUG: debug messages, and the traceback as it arrives.
    stream = io.StringIO()
    assert await run_one_script(error_script, index=next_index(), loglevel=10, stream=stream) == 1
    output = stream.getvalue()
    assert "DEBUG lsst.ts.calibrations.sal.ErrorScript" in output
    assert "debug detail" in output
    # Printed once, as it arrived (not again at the end).
    assert output.count("Traceback") == 1
    assert output.index("Traceback") < output.index("final state FAILED")


def command_env() -> dict[str, str]:
    """The command's own default transport (DDS), in a DDS domain of this test alone."""
    env = {name: value for name, value in os.environ.items() if name != "LSST_SAL_TRANSPORT"}
    env["LSST_TOPIC_SUBNAME"] = f"test_{uuid.uuid4().hex[:12]}"
    return env


def run_command(*args: str, timeout: float = PROCESS_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lsst.ts.calibrations.sal.run_one_script", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=command_env(),
    )


@pytest.mark.slow
def test_command_exit_codes(tmp_path: pathlib.Path) -> None:
    config_path = tmp_path / "config.yaml"
    config_path.write_text("wait_time: 0.01\n")
    # Four separate commands, each in a DDS domain of its own: run side by side, as they wait
    # mostly for their DDS start-up.
    commands = [
        (str(TEST_SCRIPT), "-c", str(config_path)),
        (str(TEST_SCRIPT), "-p", "fail_cleanup=true"),
        (str(TEST_SCRIPT), "-p", "wait_time=-3"),
        (str(SCRIPTS_DIR / "two_scripts.py"),),
    ]
    with concurrent.futures.ThreadPoolExecutor(len(commands)) as pool:
        done, failed_cleanup, bad_config, two_scripts = pool.map(lambda args: run_command(*args), commands)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "final state DONE" in done.stdout

    assert failed_cleanup.returncode == 1
    assert "final state FAILED" in failed_cleanup.stdout

    assert bad_config.returncode == 1
    assert "final state CONFIGURE_FAILED; reason: config(wait_time: -3" in bad_config.stdout

    assert two_scripts.returncode == 1
    assert "exactly one concrete BaseScript subclass" in two_scripts.stderr


def test_main_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main([str(TEST_SCRIPT), "-p", "wait_time=0", "--index", str(next_index())])
    assert excinfo.value.code == 0
    assert "final state DONE" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stop_by_signal(signum: int) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lsst.ts.calibrations.sal.run_one_script",
            str(TEST_SCRIPT),
            "-p",
            "wait_time=60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=command_env(),
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + STD_TIMEOUT
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Run started" in line:
                break
        assert any("Run started" in line for line in lines), "".join(lines)
        t0 = time.monotonic()
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=STD_TIMEOUT)
        duration = time.monotonic() - t0
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    output = "".join(lines) + stdout
    assert process.returncode == 0, output + stderr
    assert "Cleanup succeeded" in output
    assert "final state STOPPED" in output
    assert duration < 10


class _Bench:
    """An observatory double: records when it is entered and left."""

    def __init__(self, events: list[str], name: str) -> None:
        self.events = events
        self.name = name
        self.alias_line = f"export BENCH={name}"

    def describe(self) -> str:
        return f"bench {self.name} ready"

    async def __aenter__(self) -> "_Bench":
        self.events.append("enter")
        return self

    async def __aexit__(self, *args: typing.Any) -> None:
        self.events.append("exit")


class _BenchProvider:
    """An observatory provider double with its own option group."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.transports: list[str] = []

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("bench", "A test bench.")
        group.add_argument("--bench", metavar="NAME")

    def check_arguments(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace) -> None:
        if namespace.bench == "":
            parser.error("--bench needs a name")

    def make_observatory(
        self, namespace: argparse.Namespace, transport: str
    ) -> contextlib.AbstractAsyncContextManager[typing.Any] | None:
        self.transports.append(transport)
        return None if namespace.bench is None else _Bench(self.events, namespace.bench)


def test_provider_options(capsys: pytest.CaptureFixture[str]) -> None:
    provider = _BenchProvider()
    assert isinstance(provider, ObservatoryProvider)
    help_text = make_parser([provider]).format_help()
    assert "--bench NAME" in help_text
    # Only the given providers' options exist.
    assert "--simulate" not in help_text
    with pytest.raises(SystemExit):
        parse_args([str(TEST_SCRIPT), "--bench", ""], providers=[provider])
    assert "--bench needs a name" in capsys.readouterr().err
    namespace = parse_args([str(TEST_SCRIPT), "--bench", "b1"], providers=[provider])
    assert isinstance(make_observatory(namespace, "local", [provider]), _Bench)
    assert make_observatory(parse_args([str(TEST_SCRIPT)], providers=[provider]), "dds", [provider]) is None
    assert provider.transports == ["local", "dds"]
    with pytest.raises(ValueError, match="ask for 2 observatories"):
        make_observatory(namespace, "local", [provider, _BenchProvider()])


def test_main_enters_the_provided_observatory(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # main sets a fresh isolation name in this process; restore the environment afterwards.
    monkeypatch.setenv("LSST_TOPIC_SUBNAME", "")
    provider = _BenchProvider()
    args = [str(TEST_SCRIPT), "-p", "wait_time=0", "--index", str(next_index()), "--transport", "local"]
    with pytest.raises(SystemExit) as excinfo:
        main([*args, "--bench", "b2"], providers=[provider])
    assert excinfo.value.code == 0
    output = capsys.readouterr().out
    assert provider.events == ["enter", "exit"]
    assert provider.transports == ["local"]
    assert "bench b2 ready" in output
    assert "to reach the repository from another session: export BENCH=b2" in output
    assert "isolation name LSST_TOPIC_SUBNAME=" in output
    assert "final state DONE" in output


def test_load_provider_errors() -> None:
    with pytest.raises(TypeError, match="module:attribute"):
        load_provider("no_colon")
    with pytest.raises(TypeError, match="lacks add_arguments"):
        load_provider("argparse:Namespace")
    with pytest.raises(ImportError):
        load_provider("lsst.ts.calibrations.no_such_module:Provider")


def test_broken_provider_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from importlib import metadata

    from lsst.ts.calibrations.sal import observatory_provider

    # An install declaring a provider whose module is gone.
    entry = metadata.EntryPoint(
        "gone", "no_such_package.provider:Provider", observatory_provider.ENTRY_POINT_GROUP
    )
    monkeypatch.setattr(observatory_provider.importlib.metadata, "entry_points", lambda group: [entry])
    with pytest.raises(SystemExit) as excinfo:
        main([str(TEST_SCRIPT)])
    assert excinfo.value.code == 1
    error = capsys.readouterr().err
    assert "run_one_script: error: observatory provider 'gone' (no_such_package.provider:Provider" in error
    assert "cannot be imported" in error


def test_observatory_from_args() -> None:
    """Another command (a script queue) asks for an observatory in the providers' own words."""
    provider = _BenchProvider()
    bench = observatory_from_args(["--bench", "b3"], "dds", [provider])
    assert isinstance(bench, _Bench) and bench.name == "b3"
    assert provider.transports == ["dds"]
    assert observatory_from_args([], "dds", [provider]) is None
    with pytest.raises(ValueError, match="--bench needs a name"):
        observatory_from_args(["--bench", ""], "dds", [provider])
    with pytest.raises(ValueError, match="observatory options: unrecognized arguments: --simulate"):
        observatory_from_args(["--simulate"], "dds", [provider])
