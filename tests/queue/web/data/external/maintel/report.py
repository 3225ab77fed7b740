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

"""An external test script that logs a note, then writes a small HTML run
report and announces it with ``largeFileObjectAvailable``, as the
calibration scripts do.
"""

import asyncio
import hashlib
import os
import pathlib
import tempfile
import types
import typing

import yaml

from lsst.ts.calibrations.sal import BaseScript


class ReportScript(BaseScript):
    """Log ``note``, wait ``wait_time`` seconds, publish a report."""

    def __init__(self, index: int) -> None:
        super().__init__(index=index, descr="Writes a run report")
        self.note = ""
        self.wait_time = 0.0

    @classmethod
    def get_schema(cls) -> dict[str, typing.Any]:
        return yaml.safe_load(
            """
            $schema: http://json-schema.org/draft-07/schema#
            $id: https://github.com/lsst-ts/ts_calibrations/tests/queue/web/data/external/maintel/report.py
            title: ReportScript v1
            description: Configuration of the report test script.
            type: object
            properties:
              note:
                description: Text logged and written into the report.
                type: string
                default: ""
              wait_time:
                description: Seconds to wait in run.
                type: number
                minimum: 0
                default: 0
              n_images:
                description: Images the plan announces (none is taken).
                type: integer
                minimum: 0
                default: 3
            additionalProperties: false
            """
        )

    async def configure(self, config: types.SimpleNamespace) -> None:
        self.note = config.note
        self.wait_time = config.wait_time
        self.n_images = config.n_images
        if "refuse" in self.note:
            raise ValueError(f"note={self.note!r}: a note containing 'refuse' is refused by the checks")
        self.log.info("Plan: %d image(s), then a report. Note: %s", self.n_images, self.note)

    def set_metadata(self, metadata: typing.Any) -> None:
        metadata.duration = self.wait_time + 1.0
        metadata.nimages = self.n_images

    def write_report(self) -> tuple[pathlib.Path, bytes]:
        """Write the report page; return its path and contents."""
        folder = pathlib.Path(os.environ.get("QUEUE_PANEL_TEST_REPORTS", tempfile.gettempdir()))
        folder = folder / f"report_{self.salinfo.index}"
        folder.mkdir(parents=True, exist_ok=True)
        page = folder / "index.html"
        page.write_text(f"<html><body><h1>Run report {self.salinfo.index}</h1></body></html>")
        return page, page.read_bytes()

    async def run(self) -> None:
        await self.checkpoint("start")
        self.log.info("Note: %s", self.note)
        await asyncio.sleep(self.wait_time)
        page, data = await asyncio.to_thread(self.write_report)
        await self.evt_largeFileObjectAvailable.set_write(
            url=page.absolute().as_uri(),
            generator="test",
            version=1.0,
            byteSize=len(data),
            checkSum=hashlib.md5(data).hexdigest(),
            mimeType="text/html",
            id=page.parent.name,
        )
        await self.checkpoint("end")


if __name__ == "__main__":
    asyncio.run(ReportScript.amain())
