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

"""Tests of the simulated CCCamera: event sequence and fields against the
interface definition, command checks, filters, raws and injected faults.
"""

import asyncio
import dataclasses
import datetime
import pathlib
from collections.abc import AsyncIterator
from importlib import resources

import pytest
import yaml
from astropy.io import fits
from astropy.time import Time

from fixtures.repositories import new_repository
from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations.repo.camera import REDUCED_GEOMETRY
from lsst.ts.calibrations.sal import AckError, Domain, Remote, SalRetCode
from lsst.ts.calibrations.sim.cccamera_csc import CCCameraCsc
from lsst.ts.calibrations.sim.image_model import ImageModel
from lsst.ts.calibrations.sim.sensor_model import SensorModel
from lsst.ts.calibrations.sim.sim_clock import SimClock
from lsst.ts.calibrations.sim.sim_faults import SimFaults

TIME_SCALE = 0.02
IMAGE_EVENTS = ("startIntegration", "startReadout", "endReadout", "endOfImageTelemetry")


def interface_events() -> dict[str, list[str]]:
    """Field names of each CCCamera event, read from the interface file itself."""
    path = resources.files("lsst.ts.calibrations.sal").joinpath("data", "interfaces", "CCCamera.yaml")
    data = yaml.safe_load(path.read_text())
    return {name: list((topic or {}).get("fields") or {}) for name, topic in data["events"].items()}


class Harness:
    """A camera CSC on a fresh repository and a Remote reading it."""

    def __init__(self, csc: CCCameraCsc, remote: Remote, faults: SimFaults) -> None:
        self.csc = csc
        self.remote = remote
        self.faults = faults


@pytest.fixture
async def harness(tmp_path: pathlib.Path, empty_repository: pathlib.Path) -> AsyncIterator[Harness]:
    repo = tmp_path / "repo"
    butler = await asyncio.to_thread(new_repository, empty_repository, repo)
    butler.close()
    faults = SimFaults()
    model = ImageModel(SensorModel.from_yaml(None, seed=3), REDUCED_GEOMETRY)
    clock = SimClock(time_scale=TIME_SCALE, start="2024-10-24")
    async with (
        CCCameraCsc(repo, clock=clock, image_model=model, detectors=[4], faults=faults) as csc,
        Domain() as domain,
        Remote(domain, "CCCamera") as remote,
    ):
        yield Harness(csc, remote, faults)


async def take(remote: Remote, n: int, image_type: str, exptime: float, shutter: bool) -> None:
    await remote.cmd_takeImages.set_start(
        numImages=n,
        expTime=exptime,
        shutter=shutter,
        sensors="",
        keyValueMap=f"imageType: {image_type}, groupId: 2024-10-24T18:00:00.000, testType: {image_type}",
        obsNote="a note",
        timeout=STD_TIMEOUT,
    )


async def test_start_events(harness: Harness) -> None:
    remote = harness.remote
    filters = await remote.evt_availableFilters.aget(timeout=STD_TIMEOUT)
    assert filters.filterNames.split(",") == ["u_02", "g_01", "r_03", "i_06", "z_03", "y_04"]
    assert filters.filterTypes.split(",") == ["u", "g", "r", "i", "z", "y"]
    end_set_filter = await remote.evt_endSetFilter.aget(timeout=STD_TIMEOUT)
    assert (end_set_filter.filterName, end_set_filter.filterType) == ("r_03", "r")
    assert (await remote.evt_ccsCommandState.aget(timeout=STD_TIMEOUT)).substate == 1  # IDLE
    assert (await remote.evt_shutterDetailedState.aget(timeout=STD_TIMEOUT)).substate == 1  # CLOSED
    assert (await remote.evt_summaryState.aget(timeout=STD_TIMEOUT)).summaryState == 2  # ENABLED


@pytest.mark.slow
async def test_take_images_event_sequence(harness: Harness) -> None:
    remote = harness.remote
    fields = interface_events()
    order: list[tuple[str, str]] = []
    messages: dict[str, list] = {name: [] for name in IMAGE_EVENTS}

    def recorder(name: str):  # type: ignore[no-untyped-def]
        def record(data) -> None:  # type: ignore[no-untyped-def]
            messages[name].append(data)
            order.append((name, data.imageName))

        return record

    for name in IMAGE_EVENTS:
        getattr(remote, f"evt_{name}").callback = recorder(name)
    states: list[int] = []
    remote.evt_ccsCommandState.callback = lambda data: states.append(data.substate)
    shutter: list[int] = []
    remote.evt_shutterDetailedState.callback = lambda data: shutter.append(data.substate)

    before = harness.csc.clock.utc()
    await take(remote, 2, "FLAT", 1.5, shutter=True)
    after = harness.csc.clock.utc()
    await asyncio.wait_for(harness.csc.wait_images_written(), STD_TIMEOUT)
    await asyncio.sleep(0.1)

    names = ["CC_O_20241024_000001", "CC_O_20241024_000002"]
    # Per image: startIntegration, startReadout, endReadout (and, once written, endOfImageTelemetry).
    readout_order = [item for item in order if item[0] != "endOfImageTelemetry"]
    assert readout_order == [(event, name) for name in names for event in IMAGE_EVENTS[:3]]
    assert [data.imageName for data in messages["endOfImageTelemetry"]] == names
    assert states == [2, 1]  # BUSY, IDLE
    assert shutter == [4, 2, 3, 1] * 2  # OPENING, OPEN, CLOSING, CLOSED per image
    for name, received in messages.items():
        for data in received:
            # Every field of the interface definition is in the message, and no other.
            field_names = {field.name for field in dataclasses.fields(data)}
            public = {key for key in field_names if not key.startswith("private_")} - {"salIndex"}
            assert public == set(fields[name]), name
    start = messages["startIntegration"][1]
    assert (start.imageIndex, start.imagesInSequence, start.imageNumber) == (2, 2, 2)
    assert (start.imageSource, start.imageController, start.imageDate) == ("CC", "O", "20241024")
    assert start.additionalKeys == "imageType:groupId:testType"
    assert start.exposureTime == 1.5
    telemetry = messages["endOfImageTelemetry"][0]
    assert telemetry.measuredShutterOpenTime == 1.5
    # Dark time: shutter open and close (1 s each) and the exposure, as scheduled, so that
    # the pixels do not depend on how busy the machine was.
    assert telemetry.darkTime == 3.5
    end = messages["endReadout"][0]
    # Shutter, exposure, shutter and readout: 5.5 simulated seconds at least (more on a busy machine,
    # where the simulated clock runs on while the camera waits for the processor).
    assert end.timestampEndOfReadout - end.timestampAcquisitionStart >= 5.5 - 0.05

    raw = harness.csc.raw_store.raw_path(names[0], "R22_S11")
    header = fits.getheader(raw, 0)
    assert (header["IMGTYPE"], header["EXPTIME"], header["FILTER"], header["OBSID"]) == (
        "FLAT",
        1.5,
        "r_03",
        names[0],
    )
    assert (header["GROUPID"], header["OBSANNOT"], header["SEQNUM"]) == (
        "2024-10-24T18:00:00.000",
        "a note",
        1,
    )
    # DATE-OBS is TAI. The simulated clock runs 50 times faster than the test, so the time the
    # shutter opened is pinned by the clock's readings around the take, not by a fixed minute.
    date_obs = Time(header["DATE-OBS"], scale="tai").utc.datetime.replace(tzinfo=datetime.UTC)
    assert before <= date_obs <= after and date_obs.date() == datetime.date(2024, 10, 24)


async def test_set_filter(harness: Harness) -> None:
    remote = harness.remote
    remote.evt_endSetFilter.flush()
    await remote.cmd_setFilter.set_start(name="i_06", timeout=STD_TIMEOUT)
    start = await remote.evt_startSetFilter.next(flush=False, timeout=STD_TIMEOUT)
    end = await remote.evt_endSetFilter.next(flush=False, timeout=STD_TIMEOUT)
    assert (start.filterName, end.filterName, end.filterType, end.filterSlot) == ("i_06", "i_06", "i", 3)
    with pytest.raises(AckError, match="not an available filter; use one of u_02, g_01"):
        await remote.cmd_setFilter.set_start(name="q_99", timeout=STD_TIMEOUT)


@pytest.mark.slow
async def test_command_checks(harness: Harness) -> None:
    remote = harness.remote
    with pytest.raises(AckError, match="imageType=None must be one of BIAS"):
        await remote.cmd_takeImages.set_start(numImages=1, keyValueMap="groupId: x", timeout=STD_TIMEOUT)
    with pytest.raises(AckError, match="numImages=0 must be >= 1"):
        await remote.cmd_takeImages.set_start(numImages=0, keyValueMap="imageType: BIAS", timeout=STD_TIMEOUT)
    with pytest.raises(AckError, match="'R22_S00' is not a configured sensor"):
        await remote.cmd_takeImages.set_start(
            numImages=1, keyValueMap="imageType: BIAS", sensors="R22_S00", timeout=STD_TIMEOUT
        )
    with pytest.raises(AckError, match="does not support the startImage command"):
        await remote.cmd_startImage.start(timeout=STD_TIMEOUT)
    # takeImages while a filter change runs is refused. The change takes 50 simulated seconds
    # (1 s): takeImages is sent as soon as the change has started.
    harness.csc.filter_change_time = 50.0
    remote.evt_startSetFilter.flush()
    change = asyncio.create_task(remote.cmd_setFilter.set_start(name="g_01", timeout=STD_TIMEOUT))
    assert (await remote.evt_startSetFilter.next(flush=False, timeout=STD_TIMEOUT)).filterName == "g_01"
    with pytest.raises(AckError, match="busy with setFilter"):
        await take(remote, 1, "BIAS", 0.0, shutter=False)
    await asyncio.wait_for(change, STD_TIMEOUT)


async def test_injected_command_fault(harness: Harness) -> None:
    remote = harness.remote
    harness.faults.fail_camera_command("takeImages")
    with pytest.raises(AckError, match="injected camera fault") as info:
        await take(remote, 1, "BIAS", 0.0, shutter=False)
    assert info.value.ackcmd.ack == SalRetCode.CMD_FAILED
    # The fault is used up: the next command works.
    await take(remote, 1, "BIAS", 0.0, shutter=False)
    assert (await remote.evt_endReadout.aget(timeout=STD_TIMEOUT)).imageName == "CC_O_20241024_000001"


def test_fault_specs() -> None:
    faults = SimFaults()
    faults.add_spec("camera:setFilter:2")
    faults.add_spec("oods-lose:3")
    faults.add_spec("ingest-fail:4")
    assert faults.camera_commands["setFilter"] == 2
    assert faults.lost_images == {3} and faults.failed_ingests == {4}
    for bad in ("camera", "oods-lose:x", "ingest-fail:0", "disk-full:1"):
        with pytest.raises(ValueError, match="use camera:COMMAND"):
            faults.add_spec(bad)
