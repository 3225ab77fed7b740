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

"""Tests of the simulated CCOODS and CCHeaderService: one imageInOODS per
detector with the raws in the repository, ingest failures and lost images,
and one largeFileObjectAvailable per image.
"""

import asyncio
import pathlib
from collections.abc import AsyncIterator

import pytest
from astropy.io import fits

from fixtures.repositories import new_repository
from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations.repo.repository import RAW_RUN, open_repository
from lsst.ts.calibrations.sal import Domain, Remote
from lsst.ts.calibrations.sim.observatory import SimulatedObservatory


@pytest.fixture
async def observatory(
    tmp_path: pathlib.Path, empty_repository: pathlib.Path
) -> AsyncIterator[SimulatedObservatory]:
    """The camera, header service and OODS (the OCPS, with its quantum workers, is not needed).

    The repository is a copy of the session's empty one (`new_repository`).
    """
    await asyncio.to_thread(lambda: new_repository(empty_repository, tmp_path / "repo").close())
    async with SimulatedObservatory(
        tmp_path / "repo", time_scale=0.02, date="2024-10-24", seed=5, detectors=[0, 4], ocps=False
    ) as observatory:
        yield observatory


async def take_biases(domain: Domain, n: int) -> None:
    async with Remote(domain, "CCCamera") as camera:
        await camera.cmd_takeImages.set_start(
            numImages=n, keyValueMap="imageType: BIAS, groupId: g", timeout=STD_TIMEOUT
        )


async def next_events(remote_topic, n: int) -> list:  # type: ignore[no-untyped-def]
    return [await remote_topic.next(flush=False, timeout=STD_TIMEOUT) for _ in range(n)]


@pytest.mark.slow
async def test_ingest_and_header(observatory: SimulatedObservatory) -> None:
    async with Domain() as domain, Remote(domain, "CCOODS") as oods, Remote(domain, "CCHeaderService") as hs:
        await take_biases(domain, 2)
        events = await next_events(oods.evt_imageInOODS, 4)
        assert [(e.obsid, e.raft, e.sensor, e.statusCode, e.description) for e in events] == [
            (f"CC_O_20241024_00000{i}", "R22", sensor, 0, "file ingested")
            for i in (1, 2)
            for sensor in ("S00", "S11")
        ]
        assert {e.camera for e in events} == {"LSSTComCam"}
        headers = await next_events(hs.evt_largeFileObjectAvailable, 2)
        assert [h.id for h in headers] == ["CC_O_20241024_000001", "CC_O_20241024_000002"]
        path = pathlib.Path(headers[0].url.removeprefix("file://"))
        assert path.stat().st_size == headers[0].byteSize
        assert (headers[0].generator, headers[0].mimeType) == ("CCHeaderService", "FITS")
        assert fits.getheader(path)["OBSID"] == "CC_O_20241024_000001"

    def query() -> list[tuple[int, int]]:
        with open_repository(observatory.repo) as butler:
            refs = butler.query_datasets("raw", collections=RAW_RUN)
            return sorted((ref.dataId["exposure"], ref.dataId["detector"]) for ref in refs)

    assert await asyncio.to_thread(query) == [
        (2024102400001, 0),
        (2024102400001, 4),
        (2024102400002, 0),
        (2024102400002, 4),
    ]


async def test_ingest_failure(observatory: SimulatedObservatory) -> None:
    observatory.faults.fail_ingest(2)
    async with Domain() as domain, Remote(domain, "CCOODS") as oods:
        await take_biases(domain, 2)
        events = await next_events(oods.evt_imageInOODS, 4)
    assert [e.statusCode for e in events] == [0, 0, 1, 1]
    assert events[2].obsid == "CC_O_20241024_000002"
    assert events[2].description.startswith("ingest failed: ")
    assert (
        "truncated" in events[2].description or "CC_O_20241024_000002_R22_S00.fits" in events[2].description
    )


@pytest.mark.slow
async def test_lost_image(observatory: SimulatedObservatory) -> None:
    observatory.faults.lose_image(1)
    async with Domain() as domain, Remote(domain, "CCOODS") as oods:
        await take_biases(domain, 2)
        events = await next_events(oods.evt_imageInOODS, 2)
        assert {e.obsid for e in events} == {"CC_O_20241024_000002"}
        await observatory.wait_idle()
        with pytest.raises(TimeoutError):
            await oods.evt_imageInOODS.next(flush=False, timeout=0.5)
