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

"""Shared fixtures of the ScriptQueue tests: a queue on DDS, in an isolation name of its own."""

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from queue_harness import EXTERNAL_ROOT, STANDARD_ROOT, QueueHarness

from lsst.ts.calibrations.queue import ScriptQueue
from lsst.ts.calibrations.sal import Domain, Remote
from lsst.ts.calibrations.sal.transport_choice import TRANSPORT_ENV


@pytest.fixture
def dds_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Use DDS in this process, in an isolation name of this test alone."""
    subname = "queue_" + uuid.uuid4().hex[:12]
    monkeypatch.setenv(TRANSPORT_ENV, "dds")
    monkeypatch.setenv("LSST_TOPIC_SUBNAME", subname)
    yield subname


@pytest.fixture
async def harness(dds_env: str) -> AsyncIterator[QueueHarness]:
    """A ScriptQueue (index 1) on the test script roots, in STANDBY."""
    async with (
        ScriptQueue(index=1, standardpath=STANDARD_ROOT, externalpath=EXTERNAL_ROOT) as csc,
        Domain() as domain,
        Remote(domain, "ScriptQueue", 1) as remote,
    ):
        yield QueueHarness(csc, remote)
