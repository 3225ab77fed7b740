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

The report is built by the report's own command, ``python -m
lsst.ts.calibrations.report --repo REPO --run-record FILE --out DIR``, in a
process of its own: the script never imports the report (nor matplotlib),
and drawing never competes with the script's event loop. The page is then
announced with the script's ``largeFileObjectAvailable`` event (``url`` a
``file://`` URL of the HTML page, ``mimeType`` ``text/html``,
``byteSize``, ``checkSum`` the MD5 of the file, ``generator``
``ts_calibrations.report``, ``id`` the folder name) and in the log. A
report that cannot be built is logged as an error (with the command's
output) and does not change the script's outcome.
"""

from __future__ import annotations

__all__ = ["publish_report"]

import asyncio
import hashlib
import os
import sys
from pathlib import Path

from ..sal.base_script import BaseScript

GENERATOR = "ts_calibrations.report"
FORMAT_VERSION = 1.0
REPORT_MODULE = "lsst.ts.calibrations.report"
"""The report's command, run as ``python -m``."""
REPORT_TIMEOUT = 600.0
"""Time limit (s) of the report's process."""


async def publish_report(
    script: BaseScript,
    *,
    repo: str | os.PathLike[str],
    run_record: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    timeout: float = REPORT_TIMEOUT,
) -> Path | None:
    """Build the report of the script's run (in a process) and announce it.

    Parameters
    ----------
    script : `~lsst.ts.calibrations.sal.BaseScript`
        The script (its ``evt_largeFileObjectAvailable`` and ``log``).
    repo : `str` or `os.PathLike`
        The butler repository.
    run_record : `str` or `os.PathLike`
        The run record file.
    out_dir : `str` or `os.PathLike`
        Folder for the report.
    timeout : `float`, optional
        Time limit (s) of the report's process.

    Returns
    -------
    path : `pathlib.Path` or `None`
        The HTML page, or `None` if it could not be built.
    """
    path = Path(out_dir) / "report.html"
    args = [
        sys.executable,
        "-m",
        REPORT_MODULE,
        "--repo",
        os.fspath(repo),
        "--run-record",
        os.fspath(run_record),
        "--out",
        os.fspath(out_dir),
    ]
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        script.log.error(
            "The run report in %s was not built within %s s: its process was killed", out_dir, timeout
        )
        return None
    except asyncio.CancelledError:
        process.kill()
        await process.wait()
        raise
    text = output.decode(errors="replace").strip()
    if process.returncode != 0:
        script.log.error(
            "Could not build the run report in %s (exit code %s): %s", out_dir, process.returncode, text
        )
        return None
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as e:
        script.log.error("The run report's command ended but %s cannot be read: %s (%s)", path, e, text)
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
    script.log.info("Run report: %s (%s)", path, text.splitlines()[-1] if text else "")
    return path
