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

"""RemoteGroup's refusals and failures, named per component: a component
written wrongly or twice, one that is not in the group, one that refuses
a state change, and one that does not answer."""

import itertools
import os
from typing import Any

import pytest

from lsst.ts.calibrations import sal as salobj
from lsst.ts.calibrations.observatory.remote_group import RemoteGroup
from lsst.ts.calibrations.sal import ExpectedError, State

# TestCsc is configurable: it needs a site, as salobj's test cases set it.
os.environ.setdefault("LSST_SITE", "test")

_indices = itertools.count(960_001)


class RefusingCsc(salobj.TestCsc):
    """A TestCsc that refuses to be enabled."""

    async def begin_enable(self, data: Any) -> None:
        raise ExpectedError("the shutter is jammed")


async def test_components_written_wrongly_or_twice() -> None:
    with pytest.raises(
        ValueError, match=r"^component 'CCCamera:one': the index must be an integer \(Name:index\)$"
    ):
        RemoteGroup(["CCCamera:one"])
    with pytest.raises(ValueError, match=r"^component 'OCPS:2' is given twice$"):
        RemoteGroup(["OCPS:2", "CCCamera", "OCPS:2"])


async def test_a_component_not_in_the_group() -> None:
    async with RemoteGroup(["CCCamera", "OCPS:2"]) as group:
        with pytest.raises(
            ValueError,
            match=r"^component 'CCOODS' is not in this group; use one of \['CCCamera', 'OCPS:2'\]$",
        ):
            await group.get_state("CCOODS")
        with pytest.raises(ValueError, match="component 'OCPS:3' is not in this group"):
            await group.set_state(State.ENABLED, components=["OCPS:3"])


async def test_a_refused_state_change_is_named() -> None:
    index = next(_indices)
    async with RefusingCsc(index, initial_state=State.DISABLED, heartbeat_interval=0.1) as csc:
        async with RemoteGroup([f"Test:{index}"]) as group:
            with pytest.raises(RuntimeError) as info:
                await group.enable()
            message = str(info.value)
            assert message.startswith(f"Cannot put components in ENABLED: Test:{index}: ")
            assert "the shutter is jammed" in message
            assert csc.summary_state == State.DISABLED
            await group.standby()
            assert csc.summary_state == State.STANDBY
            assert await group.get_state(f"Test:{index}") == State.STANDBY


async def test_a_component_that_does_not_answer() -> None:
    index = next(_indices)
    async with RemoteGroup([f"Test:{index}"]) as group:
        # Nobody runs Test:index: the wait for its answer is the one that fails.
        group.long_timeout = 0.2
        with pytest.raises(RuntimeError) as info:
            await group.set_state(State.STANDBY)
        assert str(info.value) == (f"Cannot put components in STANDBY: Test:{index}: no answer within 0.2 s")
