#!/usr/bin/env python
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

"""A standard test script: TestScript (wait_time, fail_run, fail_cleanup).

``QUEUE_PANEL_TEST_HEARTBEAT_INTERVAL`` (s), if set in the queue's
environment, is the interval between the script's heartbeats (salobj's 5 s
otherwise): the panel's lost-heartbeat test counts faster beats with a
panel told the same interval.
"""

import asyncio
import os

from lsst.ts.calibrations.sal.testscript import TestScript

HEARTBEAT_INTERVAL_ENV = "QUEUE_PANEL_TEST_HEARTBEAT_INTERVAL"

if __name__ == "__main__":
    if os.environ.get(HEARTBEAT_INTERVAL_ENV):
        TestScript.heartbeat_interval = float(os.environ[HEARTBEAT_INTERVAL_ENV])
    asyncio.run(TestScript.amain())
