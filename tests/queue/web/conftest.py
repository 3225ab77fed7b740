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

"""Shared fixtures of the queue panel's tests."""

import pathlib
from collections.abc import AsyncIterator

import pytest
from panel_harness import TOKEN, PanelHarness, panel_harness


@pytest.fixture
async def harness(tmp_path: pathlib.Path) -> AsyncIterator[PanelHarness]:
    """A ScriptQueue (ENABLED) and its panel on 127.0.0.1, no token."""
    async with panel_harness(tmp_path) as h:
        yield h


@pytest.fixture
async def token_harness(tmp_path: pathlib.Path) -> AsyncIterator[PanelHarness]:
    """A ScriptQueue (ENABLED) and its panel requiring a token."""
    async with panel_harness(tmp_path, token=TOKEN) as h:
        yield h
