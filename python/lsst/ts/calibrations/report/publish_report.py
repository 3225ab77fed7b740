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

"""publish_report: build a run's report at the end of a script and announce where it is.

For the combined-calibrations script's cleanup, after the run record is
written (failed and stopped runs included: the report shows what exists)::

    await publish_report(self, repo=repo, run_record=self.run_record_path, out_dir=folder)

The report is built in a thread (the butler reads and the figures never
block the event loop), then announced with the script's
``largeFileObjectAvailable`` event (``url`` a ``file://`` URL of the HTML
page, ``mimeType`` ``text/html``, ``byteSize``, ``checkSum`` the MD5 of the
file, ``generator`` ``ts_calibrations.report``, ``id`` the folder name) and
in the log. A report that cannot be built is logged as an error and does not
change the script's outcome.
"""

__all__ = ["publish_report"]

import asyncio
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..sal.base_script import BaseScript
from .build_report import build_report

GENERATOR = "ts_calibrations.report"
FORMAT_VERSION = 1.0


async def publish_report(
    script: BaseScript,
    *,
    repo: str | os.PathLike[str],
    run_record: str | os.PathLike[str] | Mapping[str, Any],
    out_dir: str | os.PathLike[str],
) -> Path | None:
    """Build the report of the script's run and announce it.

    Parameters
    ----------
    script : `~lsst.ts.calibrations.sal.BaseScript`
        The script (its ``evt_largeFileObjectAvailable`` and ``log``).
    repo : `str` or `os.PathLike`
        The butler repository.
    run_record : `str`, `os.PathLike` or `~collections.abc.Mapping`
        The run record (file or contents).
    out_dir : `str` or `os.PathLike`
        Folder for the report.

    Returns
    -------
    path : `pathlib.Path` or `None`
        The HTML page, or `None` if it could not be built.
    """
    try:
        path = await asyncio.to_thread(build_report, repo, run_record=run_record, out_dir=out_dir)
        data = await asyncio.to_thread(path.read_bytes)
    except Exception as e:
        script.log.error("Could not build the run report in %s: %s", out_dir, e)
        return None
    await script.evt_largeFileObjectAvailable.set_write(
        url=path.absolute().as_uri(),
        generator=GENERATOR,
        version=FORMAT_VERSION,
        byteSize=len(data),
        checkSum=hashlib.md5(data).hexdigest(),
        mimeType="text/html",
        id=path.parent.name,
    )
    script.log.info("Run report: %s", path)
    return path
