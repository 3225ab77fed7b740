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

"""Tests of ComCam and RemoteGroup against the simulated observatory."""

import asyncio
import pathlib
import types
import typing
from collections.abc import AsyncIterator

import pytest
from astropy.io import fits

from fixtures.repositories import copy_repository
from fixtures.timeouts import STD_TIMEOUT, TIMEOUT_FACTOR
from lsst.ts.calibrations.observatory import (
    CameraExposure,
    ComCam,
    ComponentNotEnabledError,
    ComponentNotRunningError,
    RemoteGroup,
)
from lsst.ts.calibrations.repo.registry_database import resolve_registry_db
from lsst.ts.calibrations.repo.repository import RAW_RUN, open_repository
from lsst.ts.calibrations.sal import State
from lsst.ts.calibrations.sim.observatory import SimulatedObservatory

TIME_SCALE = 0.02
DETECTORS = [0, 4]


@pytest.fixture
def repo(tmp_path: pathlib.Path, empty_repository: pathlib.Path) -> pathlib.Path:
    """Where the test's observatory keeps its repository: a copy of the session's empty one.

    Copying a bootstrapped repository costs a fraction of bootstrapping one.
    With a PostgreSQL registry (``TS_CALIBRATIONS_REGISTRY_DB``) a copy would
    share the template's database schema, so the observatory bootstraps a
    new one instead.
    """
    if resolve_registry_db(None) is not None:
        return tmp_path / "repo"
    return copy_repository(empty_repository, tmp_path / "repo")


def make_observatory(repo: pathlib.Path, date: str = "2024-10-24") -> SimulatedObservatory:
    """The simulated observatory the tests talk to, without the OCPS (ComCam does not use it)."""
    return SimulatedObservatory(
        repo, time_scale=TIME_SCALE, date=date, seed=2, detectors=DETECTORS, ocps=False
    )


@pytest.fixture
async def comcam(repo: pathlib.Path) -> AsyncIterator[ComCam]:
    async with make_observatory(repo) as observatory, ComCam() as comcam:
        comcam.observatory = observatory  # type: ignore[attr-defined]
        yield comcam


def raw_records(repo: pathlib.Path) -> dict[int, tuple[set[int], str, float, str]]:
    """Exposure id → (detectors, observation type, exposure time, filter) of the raws."""
    with open_repository(repo) as butler:
        result: dict[int, tuple[set[int], str, float, str]] = {}
        for ref in butler.query_datasets("raw", collections=RAW_RUN, with_dimension_records=True):
            record = ref.dataId.records["exposure"]
            entry = result.setdefault(
                record.id, (set(), record.observation_type, record.exposure_time, record.physical_filter)
            )
            entry[0].add(int(ref.dataId["detector"]))
        return result


def test_key_value_map() -> None:
    exposure = CameraExposure(exp_time=0.0, shutter=False, image_type="BIAS", group_id="G", n=1)
    assert exposure.get_key_value_map() == (
        "imageType: BIAS, groupId: G, testType: BIAS, stutterRows: 0, stutterNShifts: 0, stutterDelay: 0.0"
    )
    exposure.test_type, exposure.reason, exposure.program = "PTC", "daily", "BLOCK-1"
    assert exposure.get_key_value_map().endswith(
        "testType: PTC, stutterRows: 0, stutterNShifts: 0, stutterDelay: 0.0, reason: daily, program: BLOCK-1"
    )


def test_exposure_ids() -> None:
    assert ComCam.exposure_id_from_image_name("CC_O_20241024_000123") == 2024102400123
    assert ComCam.image_name_from_exposure_id(2024102400123) == "CC_O_20241024_000123"
    with pytest.raises(RuntimeError, match="CC_O_YYYYMMDD_NNNNNN"):
        ComCam.exposure_id_from_image_name("CC_O_2024_1")


async def test_group(comcam: ComCam) -> None:
    assert comcam.components_attr == ["cccamera", "ccheaderservice", "ccoods"]
    assert comcam.rem.cccamera is comcam.camera
    # The camera's remote reads only the topics the group uses (the interface has hundreds).
    assert hasattr(comcam.camera, "evt_startIntegration") and hasattr(comcam.camera, "evt_summaryState")
    assert not hasattr(comcam.camera, "tel_fcs")
    await comcam.assert_all_enabled("ready")
    await comcam.set_state(State.DISABLED, components=["ccoods"])
    assert await comcam.get_state("CCOODS") == State.DISABLED
    with pytest.raises(
        ComponentNotEnabledError, match="calibrations: CCOODS is DISABLED; all must be ENABLED"
    ):
        await comcam.assert_all_enabled("calibrations")
    comcam.check.ccoods = False
    await comcam.assert_all_enabled()
    comcam.check.ccoods = True
    await comcam.enable()
    await comcam.assert_all_enabled()


async def test_no_observatory() -> None:
    async with RemoteGroup(["CCCamera", "OCPS:2"]) as group:
        group.fast_timeout = 0.2
        assert group.components_attr == ["cccamera", "ocps_2"]
        with pytest.raises(
            ComponentNotRunningError, match="CCCamera published no summaryState .* not running"
        ):
            await group.assert_all_enabled("start")


@pytest.mark.slow
async def test_take_bias_darks_flats(comcam: ComCam) -> None:
    bias_ids = await comcam.take_bias(3)
    assert bias_ids == [2024102400001, 2024102400002, 2024102400003]
    dark_ids = await comcam.take_darks(2.0, 1, reason="daily", program="CALIB", note="dark note")
    flat_ids = await comcam.take_flats(1.5, 2, filter="i_06")
    assert await comcam.get_current_filter() == "i_06"
    all_ids = bias_ids + dark_ids + flat_ids
    assert all_ids == sorted(all_ids) and len(set(all_ids)) == 6
    await comcam.wait_for_oods(all_ids, DETECTORS, timeout=STD_TIMEOUT)
    records = await asyncio.to_thread(raw_records, comcam.observatory.repo)  # type: ignore[attr-defined]
    assert records == {
        **{i: ({0, 4}, "bias", 0.0, "empty") for i in bias_ids},
        dark_ids[0]: ({0, 4}, "dark", 2.0, "empty"),
        **{i: ({0, 4}, "flat", 1.5, "i_06") for i in flat_ids},
    }
    raw = comcam.observatory.raw_store.raw_path("CC_O_20241024_000004", "R22_S00")  # type: ignore[attr-defined]
    header = fits.getheader(raw)
    assert (header["REASON"], header["PROGRAM"], header["OBSANNOT"]) == ("daily", "CALIB", "dark note")


async def test_take_imgtype_checks_and_filter_change(comcam: ComCam) -> None:
    with pytest.raises(RuntimeError, match="Invalid argument grating"):
        await comcam.take_flats(1.0, 1, grating="x")
    with pytest.raises(RuntimeError, match="Invalid imgtype:SKY"):
        await comcam.take_imgtype("SKY", 1.0, 1)
    with pytest.raises(RuntimeError, match="Minimum allowed open-shutter exposure time is 0.1"):
        await comcam.take_flats(0.05, 1)
    # BIAS forces exptime 0.
    ids = await comcam.take_imgtype("BIAS", 5.0, 1, sensors="R22_S11")
    telemetry = await comcam.camera.evt_endReadout.aget(timeout=STD_TIMEOUT)
    assert telemetry.requestedExposureTime == 0.0
    await comcam.wait_for_oods(ids, ["R22_S11"], timeout=STD_TIMEOUT)
    with pytest.raises(RuntimeError, match="are not ComCam sensors"):
        await comcam.take_bias(1, sensors="R99_S00")
    assert await comcam.get_available_filters() == ["u_02", "g_01", "r_03", "i_06", "z_03", "y_04"]
    # The filter: changed on request, left in place when already there, refused if not on the wheel
    # (on the same observatory: the checks above take no flat and change no filter).
    assert await comcam.get_current_filter() == "r_03"
    await comcam.setup_instrument(filter="z_03")
    assert await comcam.get_current_filter() == "z_03"
    comcam.camera.evt_startSetFilter.flush()
    await comcam.setup_filter("z_03")  # already in place: no command
    assert comcam.camera.evt_startSetFilter.get_oldest() is None
    with pytest.raises(RuntimeError, match=r"setFilter\(name='w_01'\) failed: .*not an available filter"):
        await comcam.setup_filter("w_01")


async def test_readiness(comcam: ComCam, caplog: pytest.LogCaptureFixture) -> None:
    # Never took an image: ready at once.
    await asyncio.wait_for(comcam.wait_for_camera_readiness(), 1.0)
    # An image being read out by another client (no group ID of ours) is not waited for, and
    # reported once; the camera's BUSY command state is what the next take waits for.
    other = asyncio.create_task(
        comcam.camera.cmd_takeImages.set_start(numImages=1, expTime=10.0, keyValueMap="imageType: DARK")
    )
    await comcam.camera.evt_startIntegration.next(flush=True, timeout=STD_TIMEOUT)
    assert comcam.camera.evt_ccsCommandState.get().substate == 2
    await asyncio.wait_for(comcam.wait_for_camera_readiness(), 1.0)
    await asyncio.wait_for(comcam.wait_for_camera_readiness(), 1.0)
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Skipping")]
    assert skipped == [
        "Skipping CC_O_20241024_000001: not an image this script commanded "
        "(another client's image, still being read out)"
    ]
    ids = await comcam.take_bias(1)
    assert ids == [2024102400002]
    assert other.done()
    await other


async def test_readiness_timeout(comcam: ComCam) -> None:
    camera = comcam.observatory.camera  # type: ignore[attr-defined]
    camera.read_out_time = 1e4  # the readout never ends within the test
    # The client's limit is exposure + readout + 2 shutter moves + fast_timeout: the behaviour
    # under test is what happens after it, so its terms are short (0.6 s, not 4.2 s).
    comcam.read_out_time = 0.2
    comcam.shutter_time = 0.1
    comcam.fast_timeout = 0.2
    # This class's own image, left reading out by a take that was cancelled, is waited for.
    take = asyncio.create_task(comcam.take_bias(1))
    await comcam.camera.evt_startIntegration.next(flush=True, timeout=STD_TIMEOUT)
    take.cancel()
    with pytest.raises(RuntimeError, match="CC_O_20241024_000001 started integrating but no endReadout"):
        await comcam.wait_for_camera_readiness()


async def test_failed_command_and_images_not_commanded_are_not_counted(comcam: ComCam) -> None:
    # A takeImages that fails takes no image (one observatory for both checks: each pins the
    # exposure ids from 1).
    comcam.observatory.faults.fail_camera_command("takeImages")  # type: ignore[attr-defined]
    with pytest.raises(
        RuntimeError, match=r"CCCamera.takeImages of 2 BIAS image\(s\) of 0.0 s failed: .*injected"
    ):
        await comcam.take_imgtype("BIAS", 0.0, 1, n_snaps=2)
    # An image of another client (group ID), of another camera (name) or without a group ID is
    # not one of this class's images; one it counted is not counted twice.
    group = "2024-10-24T18:00:00.000"

    def start(name: str, keys: str, values: str) -> types.SimpleNamespace:
        return types.SimpleNamespace(imageName=name, additionalKeys=keys, additionalValues=values)

    cases = {
        "CC_O_20241024_000007": ("imageType:groupId", f"BIAS:{group}", ""),
        "CC_O_20241024_000008": (
            "imageType:groupId",
            "BIAS:2000-01-01T00:00:00.000",
            f"not of group {group}",
        ),
        "CC_O_20241024_000009": ("imageType", "BIAS", f"it carries no group ID (expected {group})"),
        "AT_O_2024102_000010": ("imageType:groupId", f"BIAS:{group}", "its name is not of the form"),
    }
    for name, (keys, values, why) in cases.items():
        reason = comcam._foreign_reason(start(name, keys, values), group)
        assert (why in reason) if why else reason == "", (name, reason)
    # Take two images: both counted, and counted once; the failed command took none.
    ids = await comcam.take_bias(2)
    assert ids == [2024102400001, 2024102400002]
    own = start("CC_O_20241024_000001", "imageType:groupId", "BIAS:whatever")
    assert comcam._foreign_reason(own, "whatever") == "it was counted already"


async def test_oods_faults(comcam: ComCam) -> None:
    comcam.observatory.faults.lose_image(1)  # type: ignore[attr-defined]
    comcam.observatory.faults.fail_ingest(2)  # type: ignore[attr-defined]
    ids = await comcam.take_bias(2)
    with pytest.raises(
        RuntimeError, match=r"OODS could not ingest CC_O_20241024_000002 R22_S00: statusCode 1 ingest"
    ):
        await comcam.wait_for_oods(ids, DETECTORS, timeout=STD_TIMEOUT)
    with pytest.raises(
        RuntimeError,
        match=r"No imageInOODS within 0.5 s of the readout \(nor any OODS progress for 0.5 s\) for 2 file"
        ".*CC_O_20241024_000001 R22_S00",
    ):
        await comcam.wait_for_oods(ids[:1], DETECTORS, timeout=0.5)


async def until(predicate: typing.Callable[[], bool], what: str) -> None:
    """Wait (polling) until ``predicate()`` is true."""
    try:
        async with asyncio.timeout(STD_TIMEOUT):
            while not predicate():
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


@pytest.mark.slow
async def test_oods_behind_but_working_is_waited_for(comcam: ComCam) -> None:
    # An OODS far behind: every image is ingested, but the test lets out one imageInOODS at a
    # time, each a third of the limit after the client saw the one before. The OODS is never
    # quiet for the limit, yet the last image comes 4/3 of the limit after the wait began:
    # the limit counts time without progress, so the wait goes on to the end ... Each step
    # leaves the two thirds of the limit not slept (2 s) for one in-process message to arrive.
    limit = 3.0 * TIMEOUT_FACTOR
    gap = limit / 3
    oods = comcam.observatory.oods  # type: ignore[attr-defined]
    oods.hold_reports()
    ids = await comcam.take_bias(4)
    names = [comcam.image_name_from_exposure_id(e) for e in ids]
    for n in range(1, len(names) + 1):
        await until(lambda: len(oods.held_reports) >= n, f"{n} image(s) ingested")
    assert oods.held_reports == names
    loop = asyncio.get_running_loop()
    began = loop.time()
    wait = asyncio.create_task(comcam.wait_for_oods(ids[-1:], DETECTORS, timeout=limit))
    for name in names:
        await asyncio.sleep(gap)
        if wait.done():
            wait.result()  # the wait's own error, if it gave up
            raise AssertionError(f"the wait ended before {name} was reported")
        assert await oods.release_report() == name
        await until(lambda: len(comcam.oods_status.get(name, {})) == len(DETECTORS), f"{name} seen")
    await asyncio.wait_for(wait, STD_TIMEOUT)
    assert loop.time() - began > limit
    # ... while an image the OODS never reports is given up one limit after its readout, the
    # OODS quiet since.
    comcam.observatory.faults.lose_image(5)  # type: ignore[attr-defined]
    lost = await comcam.take_bias(1)
    with pytest.raises(RuntimeError, match="CC_O_20241024_000005 R22_S00"):
        await comcam.wait_for_oods(lost, DETECTORS, timeout=limit)
    assert loop.time() - comcam.readout_times["CC_O_20241024_000005"] >= limit
    assert not oods.held_reports


@pytest.mark.slow
async def test_sequence_continues_after_restart(tmp_path: pathlib.Path, repo: pathlib.Path) -> None:
    async with make_observatory(repo) as observatory, ComCam() as comcam:
        ids = await comcam.take_bias(2)
        await comcam.wait_for_oods(ids, DETECTORS, timeout=STD_TIMEOUT)
        await observatory.wait_idle()
    # From the registry (the raw folder is gone) ...
    for path in sorted((repo / "sim_raws" / "20241024").iterdir()):
        path.rename(tmp_path / path.name)
    async with make_observatory(repo) as observatory, ComCam() as comcam:
        observatory.faults.lose_image(1)
        assert await comcam.take_bias(1) == [2024102400003]
        await observatory.wait_idle()
    # ... and from the raw folder (image 3 never reached the registry).
    async with make_observatory(repo), ComCam() as comcam:
        assert await comcam.take_bias(1) == [2024102400004]


@pytest.mark.slow
async def test_day_obs_rollover(repo: pathlib.Path) -> None:
    async with (
        make_observatory(repo, date="2022-01-02T11:58:00") as observatory,
        ComCam() as comcam,
    ):
        # Two simulated minutes before noon UTC: a margin that a busy machine cannot use up.
        assert await comcam.take_bias(1) == [2022010100001]
        noon = observatory.clock.utc().replace(hour=12, minute=0, second=0, microsecond=0)
        await observatory.clock.sleep((noon - observatory.clock.utc()).total_seconds() + 5.0)
        assert await comcam.take_bias(2) == [2022010200001, 2022010200002]
        await comcam.wait_for_oods([2022010100001, 2022010200002], DETECTORS, timeout=STD_TIMEOUT)
