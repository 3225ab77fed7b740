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

"""Enumerations and constants of the ScriptQueue, as ts_xml and ts_scriptqueue define them."""

__all__ = [
    "MAX_HISTORY",
    "SCRIPT_INDEX_MULT",
    "Location",
    "SalIndex",
    "ScriptProcessState",
]

import enum

SCRIPT_INDEX_MULT = 100000
"""Script SAL indices of queue ``i`` run from ``i * SCRIPT_INDEX_MULT`` to
``(i + 1) * SCRIPT_INDEX_MULT - 1``."""

MAX_HISTORY = 400
"""Number of finished scripts the queue remembers (the ``pastSalIndices`` array length)."""


class Location(enum.IntEnum):
    """Where ``add``, ``move`` and ``requeue`` put a script in the queue."""

    FIRST = 1
    LAST = 2
    BEFORE = 3
    AFTER = 4


class SalIndex(enum.IntEnum):
    """SAL indices of the observatory's script queues."""

    MAIN_TEL = 1
    AUX_TEL = 2


class ScriptProcessState(enum.IntEnum):
    """State of a script's process (``script.processState``)."""

    UNKNOWN = 0
    LOADING = 1
    CONFIGURED = 2
    RUNNING = 3
    DONE = 4
    LOADFAILED = 5
    CONFIGURE_FAILED = 6
    TERMINATED = 7
