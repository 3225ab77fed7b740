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

"""Shared fixtures of the trends tests: one simulated week, built once per session."""

import asyncio
import os
from pathlib import Path

import pytest
from simulated_week import WEEK_FILE, SimulatedWeek, make_week


@pytest.fixture(scope="session")
def week(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> SimulatedWeek:
    """Five nights of the daily default with R22_S00 C10's gain rising 1.5 % a day.

    Built in a temporary folder, or in (and reused from) ``$TS_CALIBRATIONS_TRENDS_WEEK``,
    on a copy of the session's shared ``reference_repository`` (detector 0, seed 3, built
    once for every module that runs the script against reference calibrations). The nights'
    run reports are not built: the trends page does not read them.
    """
    kept = os.environ.get("TS_CALIBRATIONS_TRENDS_WEEK")
    root = Path(kept) if kept else tmp_path_factory.mktemp("week")
    if (root / WEEK_FILE).exists():
        return SimulatedWeek.read(root / WEEK_FILE)
    references = request.getfixturevalue("reference_repository")
    return asyncio.run(make_week(root, run_reports=False, references=references))
