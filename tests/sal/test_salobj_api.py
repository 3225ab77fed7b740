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

"""The salobj API names: name parsing, ack assertions, SalInfo as a context
manager, Remote(start=False), set_write results, mock write topics, S3
buckets, and the names that cannot work without Kafka."""

import asyncio
import io
import logging
import os
import pathlib
import subprocess
import sys

import astropy.time
import pytest

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations import sal as salobj
from lsst.ts.calibrations.sal import State


def test_name_to_name_index() -> None:
    assert salobj.name_to_name_index("Script") == ("Script", 0)
    assert salobj.name_to_name_index("Script:0") == ("Script", 0)
    assert salobj.name_to_name_index("Script:15") == ("Script", 15)
    assert salobj.name_to_name_index("MT_Dome-2:3") == ("MT_Dome-2", 3)
    for bad in (" Script:15", "Script:15 ", "Script:", "Script:zero", "Script:-1", "1Script", ""):
        with pytest.raises(ValueError, match="not of the form"):
            salobj.name_to_name_index(bad)
    with pytest.raises(salobj.WildcardIndexError, match="wildcard") as exc_info:
        salobj.name_to_name_index("Test:*")
    assert exc_info.value.name == "Test"
    assert isinstance(exc_info.value, ValueError)


def test_constants_and_helpers() -> None:
    assert (salobj.MIN_QUEUE_LEN, salobj.DEFAULT_QUEUE_LEN, salobj.MAX_HISTORY_READ) == (10, 100, 500)
    assert salobj.LOCAL_HOST == "127.0.0.1"
    user, _, host = salobj.get_user_host().partition("@")
    assert user and host
    assert salobj.as_state(2) is State.ENABLED and salobj.as_state(99) == 99
    assert salobj.as_salRetCode(-302) is salobj.SalRetCode.CMD_FAILED and salobj.as_salRetCode(7) == 7


async def test_delete_kafka_topics_has_nothing_to_do() -> None:
    # salobj test cases call it in asyncTearDown: it must neither fail nor wait.
    await asyncio.wait_for(salobj.delete_kafka_topics(), timeout=0.1)


def test_set_test_topic_subname(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LSST_TOPIC_SUBNAME", raising=False)
    salobj.set_test_topic_subname()
    first = os.environ["LSST_TOPIC_SUBNAME"]
    assert first.startswith("test_") and "-" not in first and "=" not in first
    salobj.set_test_topic_subname()
    assert os.environ["LSST_TOPIC_SUBNAME"] == first
    salobj.set_test_topic_subname(randomize=True)
    assert os.environ["LSST_TOPIC_SUBNAME"] != first


async def test_ack_assertions(index: int) -> None:
    async with salobj.TestCsc(index, initial_state=State.ENABLED, heartbeat_interval=0.1):
        async with salobj.Domain() as domain, salobj.Remote(domain, "Test", index) as remote:
            with salobj.assertRaisesAckError(ack=salobj.SalRetCode.CMD_FAILED, result_contains="not allowed"):
                await remote.cmd_start.start(timeout=STD_TIMEOUT)
            with pytest.raises(AssertionError, match="instead of -303"):
                with salobj.assertRaisesAckError(ack=salobj.SalRetCode.CMD_ABORTED):
                    await remote.cmd_start.start(timeout=STD_TIMEOUT)
            with pytest.raises(AssertionError, match="AckError not raised"):
                with salobj.assertRaisesAckError():
                    await remote.cmd_setScalars.set_start(int0=1, timeout=STD_TIMEOUT)
            # A negative duration waits without an in-progress ack: the command times out.
            with salobj.assertRaisesAckTimeoutError(ack=salobj.SalRetCode.CMD_NOACK):
                await remote.cmd_wait.set_start(duration=-2, timeout=0.5)
            with pytest.raises(AssertionError, match="AckTimeoutError not raised"):
                with salobj.assertRaisesAckTimeoutError():
                    await remote.cmd_wait.set_start(duration=0, timeout=STD_TIMEOUT)


async def test_salinfo_context_manager(index: int) -> None:
    async with salobj.Domain() as domain:
        async with salobj.SalInfo(domain, "Test", index, write_only=True) as salinfo:
            assert salinfo.write_only and not salinfo.start_called
            with pytest.raises(RuntimeError, match="write-only"):
                salobj.topics.RemoteEvent(salinfo, "scalars")
        assert salinfo.closed
        salinfo = salobj.SalInfo(domain, "Test", index)
        salobj.topics.RemoteEvent(salinfo, "scalars")
        await salinfo.start()
        async with salinfo:
            assert salinfo.start_called and salinfo.start_task.done()
        assert salinfo.closed


async def test_remote_start_false(index: int) -> None:
    async with salobj.TestCsc(index, heartbeat_interval=0.1), salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", index, start=False)
        assert not remote.start_called
        assert not hasattr(remote, "start_task")
        async with remote:  # entering does not start it
            assert not remote.start_called
            await asyncio.sleep(0.1)
            assert not remote.evt_summaryState.has_data
            await remote.start()
            assert remote.start_called and remote.start_task.done()
            # Started: the late joiner has the summary state (history 1).
            assert remote.evt_summaryState.get().summaryState == State.STANDBY
        assert remote.salinfo.closed


async def test_set_write_results(index: int) -> None:
    async with salobj.TestCsc(index, heartbeat_interval=0.1) as csc:
        event, telemetry = csc.evt_scalars, csc.tel_scalars
        first = await event.set_write(int0=1)
        assert (first.was_written, first.did_change, first.data.int0) == (True, True, 1)
        same = await event.set_write(int0=1)
        assert (same.was_written, same.did_change) == (False, False)
        assert same.did_write is same.was_written  # the older name still works
        forced = await event.set_write(int0=1, force_output=True)
        assert (forced.was_written, forced.did_change) == (True, False)
        # Telemetry writes whether or not anything changed.
        assert (await telemetry.set_write(int0=1)).was_written
        assert (await telemetry.set_write(int0=1)).was_written
        assert not (await telemetry.set_write(int0=1, force_output=False)).was_written


async def test_queue_len_limits(index: int) -> None:
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", index, start=False)
        with pytest.raises(ValueError, match="MIN_QUEUE_LEN=10"):
            salobj.topics.RemoteTelemetry(remote.salinfo, "arrays", queue_len=salobj.MIN_QUEUE_LEN - 1)
        with pytest.raises(ValueError, match="max_history=11 must be <= queue_len=10"):
            salobj.topics.RemoteEvent(remote.salinfo, "arrays", max_history=11, queue_len=10)
        await remote.close()


async def test_controller_argument_checks() -> None:
    with pytest.raises(ValueError, match="do_callbacks and write_only"):
        salobj.Controller("Test", 1, do_callbacks=True, write_only=True)
    with pytest.raises(ValueError, match="requires do_callbacks"):
        salobj.Controller("Test", 1, allow_missing_callbacks=True)


async def test_make_mock_write_topics() -> None:
    async with salobj.make_mock_write_topics("Test", ["evt_scalars", "tel_arrays"]) as topics:
        assert not hasattr(topics, "tel_scalars")
        await topics.evt_scalars.set_write(int0=3)
        await topics.evt_scalars.set_write(int0=3)  # unchanged event: not written
        await topics.tel_arrays.set_write(int0=[1, 2, 3, 4, 5])
        await topics.tel_arrays.set_write(int0=[1, 2, 3, 4, 5])
        assert [data.int0 for data in topics.evt_scalars.data_list] == [3]
        assert len(topics.tel_arrays.data_list) == 2
        assert topics.tel_arrays.data_list[1].private_seqNum == 2
        assert topics.evt_scalars.data_list[0].salIndex == 1  # indexed: 1 by default
    with pytest.raises(ValueError, match="one or more topics"):
        async with salobj.make_mock_write_topics("Test", []):
            pass


async def test_testcsc_random_data(index: int) -> None:
    async with salobj.TestCsc(index, initial_state=State.ENABLED, heartbeat_interval=0.1) as csc:
        async with salobj.Domain() as domain, salobj.Remote(domain, "Test", index) as remote:
            scalars = csc.make_random_scalars_dict()
            assert set(scalars) == set(csc.scalars_fields)
            await remote.cmd_setScalars.set_start(**scalars, timeout=STD_TIMEOUT)
            csc.assert_scalars_equal(scalars, await remote.evt_scalars.next(flush=False, timeout=STD_TIMEOUT))
            csc.assert_scalars_equal(scalars, await remote.tel_scalars.next(flush=False, timeout=STD_TIMEOUT))
            arrays = csc.make_random_arrays_dict()
            await remote.cmd_setArrays.set_start(
                **{name: value.tolist() for name, value in arrays.items()}, timeout=STD_TIMEOUT
            )
            csc.assert_arrays_equal(arrays, await remote.evt_arrays.next(flush=False, timeout=STD_TIMEOUT))
            changed = dict(arrays, int0=arrays["int0"] + 1)
            with pytest.raises(AssertionError, match="arrays1.int0"):
                csc.assert_arrays_equal(changed, arrays)


@pytest.mark.parametrize("backend", ["memory", "file"])
async def test_async_s3_bucket(backend: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = salobj.AsyncS3Bucket.make_bucket_name(s3instance="Test")
    assert name == "rubinobs-lfa-test"
    if backend == "file":
        monkeypatch.setenv("S3_ENDPOINT_URL", tmp_path.as_uri())
        with pytest.raises(ValueError, match="does not exist"):
            salobj.AsyncS3Bucket(name)
    bucket = salobj.AsyncS3Bucket(name, create=True, domock=backend == "memory")
    key = bucket.make_key(
        salname="Test",
        salindexname=1,
        generator="fits",
        date=astropy.time.Time("2026-01-02T03:04:05", scale="tai"),
    )
    assert key == "Test:1/fits/2026/01/01/Test:1_fits_2026-01-02T03:04:05.000.dat"
    assert not await bucket.exists(key)
    seen: list[int] = []
    url = await bucket.upload(io.BytesIO(b"0123456789"), key, callback=seen.append)
    assert sum(seen) == 10
    assert url.startswith("memory://" if backend == "memory" else "file://")
    assert await bucket.exists(key) and await bucket.size(key) == 10
    assert (await bucket.download(key)).read() == b"0123456789"
    if backend == "file":
        assert (tmp_path / name / key).read_bytes() == b"0123456789"
        with pytest.raises(ValueError, match="outside bucket"):
            await bucket.upload(io.BytesIO(b"x"), "../escape")
    with pytest.raises(FileNotFoundError):
        await bucket.download("missing")
    bucket.stop_mock()


def test_sal_import_stays_light() -> None:
    """Importing the SAL runtime (every script does, at each start) loads
    neither astropy, numpy nor unittest: they are imported where used."""
    code = (
        "import sys; import lsst.ts.calibrations.sal; "
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'astropy', 'numpy', 'unittest', 'erfa'}); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=STD_TIMEOUT)


def test_async_s3_bucket_needs_a_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3_ENDPOINT_URL", "http://s3.example:9000")
    with pytest.raises(RuntimeError, match="no S3 client"):
        salobj.AsyncS3Bucket("rubinobs-lfa-test")
    with pytest.raises(ValueError, match="invalid"):
        salobj.AsyncS3Bucket.make_bucket_name(s3instance="bad_name")


async def test_kafka_only_names_refuse(index: int) -> None:
    async with salobj.Domain() as domain, salobj.SalInfo(domain, "Test", index) as salinfo:
        assert domain.salinfo_set == domain.salinfos == {salinfo}
        with pytest.raises(NotImplementedError, match="no Kafka broker"):
            salinfo.get_broker_client_configuration()


def test_queue_capacity_checker(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test_queue_capacity_checker")
    checker = salobj.topics.QueueCapacityChecker("test queue", log, queue_len=100)
    assert checker.warn_thresholds == (10, 50, 90, 100)
    logged = [n for n in range(0, 101) if checker.check_nitems(n)]
    assert logged == [10, 50, 90, 100]  # one message per level
    assert "test queue is full (100 elements)" in caplog.text
    assert checker.warn_threshold is None
    # Draining below half of a level re-arms it and the levels above.
    assert not checker.check_nitems(40)
    assert checker.warn_threshold == 90
    assert not checker.check_nitems(4)
    assert (checker.warn_threshold, checker.reset_threshold) == (10, None)
    assert checker.check_nitems(12)
    with pytest.raises(ValueError, match="MIN_QUEUE_LEN"):
        salobj.topics.QueueCapacityChecker("small", log, queue_len=5)
