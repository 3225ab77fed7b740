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

"""A script taking biases with ComCam (for the run_one_script --simulate tests)."""

import asyncio
import types
import typing

from lsst.ts.calibrations.observatory import ComCam
from lsst.ts.calibrations.sal.base_script import BaseScript


class TakeBiasScript(BaseScript):
    """Take ``nbias`` biases with ComCam and wait for their ingest."""

    def __init__(self, index: int) -> None:
        super().__init__(index=index, descr="Take biases")
        self.nbias = 1

    @classmethod
    def get_schema(cls) -> dict[str, typing.Any]:
        return {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "$id": "https://github.com/lsst-ts/ts_calibrations/tests/take_bias.yaml",
            "title": "TakeBiasScript v1",
            "description": "Take biases.",
            "type": "object",
            "properties": {
                "nbias": {"type": "integer", "minimum": 1, "default": 1, "description": "Biases."}
            },
            "additionalProperties": False,
        }

    async def configure(self, config: types.SimpleNamespace) -> None:
        self.nbias = config.nbias

    def set_metadata(self, metadata: typing.Any) -> None:
        pass

    async def run(self) -> None:
        async with ComCam(domain=self.domain, log=self.log) as comcam:
            comcam.fast_timeout = 1.0
            await comcam.assert_all_enabled("ComCam")
            exposure_ids = await comcam.take_bias(self.nbias, sensors="R22_S11")
            await comcam.wait_for_oods(exposure_ids, ["R22_S11"], timeout=30)
            self.log.info(f"exposure ids {exposure_ids}")


if __name__ == "__main__":
    asyncio.run(TakeBiasScript.amain())
