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

"""Relative seeks in a zip archive with several members open, for the OCPS's BPS jobs.

Put first on ``PYTHONPATH`` of ``bps submit`` by
`~lsst.ts.calibrations.sim.ocps_bps_backend.OcpsBpsBackend` when this
interpreter's `zipfile` has the fault: a forward seek in an uncompressed
member is a relative seek of the archive's shared file, which starts from
wherever another open member left the file, not from the member's own
position. ``pipetask run-qbb --qgraph-node-id`` reads quanta that way
(the graph's address file and its multi-block file open at once) and fails
with ``EOFError`` once a graph's blocks outgrow zipfile's read buffer. The
shared file's seek here counts a relative seek from its own position.
"""

import os
import zipfile
from typing import Any


def _seek(self: Any, offset: int, whence: int = os.SEEK_SET) -> int:
    with self._lock:
        if self._writing():
            raise ValueError(
                "Can't reposition in the ZIP file while there is an open writing handle on it. "
                "Close the writing handle before trying to read."
            )
        if whence == os.SEEK_CUR:
            offset, whence = self._pos + offset, os.SEEK_SET
        self._file.seek(offset, whence)
        self._pos = self._file.tell()
        return self._pos


zipfile._SharedFile.seek = _seek  # type: ignore[attr-defined]
