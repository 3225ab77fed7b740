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
"""Sleep: a script that waits, to pause a script queue."""

__all__ = ["Sleep"]

import asyncio
import types
from typing import Any

import yaml

from .. import sal as salobj


class Sleep(salobj.BaseScript):
    """Wait a given time (pauses the script queue that runs it).

    Parameters
    ----------
    index : `int`
        SAL index of the script.

    Notes
    -----
    Configuration: ``sleep_for`` (seconds, >= 0; default 0).
    Checkpoint: "Sleep for <sleep_for> seconds..." before waiting.
    """

    def __init__(self, index: int) -> None:
        super().__init__(index=index, descr="Pause the script queue.")
        self.sleep_for = 0.0

    @classmethod
    def get_schema(cls) -> dict[str, Any]:
        """Return the configuration schema."""
        return yaml.safe_load(
            """
            $schema: http://json-schema.org/draft-07/schema#
            $id: https://github.com/lsst-ts/ts_calibrations/standardscripts/sleep.yaml
            title: Sleep v1
            description: Configuration of Sleep.
            type: object
            properties:
              sleep_for:
                description: Time to sleep (seconds).
                type: number
                minimum: 0
                default: 0
            additionalProperties: false
            """
        )

    async def configure(self, config: types.SimpleNamespace) -> None:
        """Keep the time to sleep.

        Parameters
        ----------
        config : `types.SimpleNamespace`
            Validated configuration.
        """
        self.sleep_for = float(config.sleep_for)

    def set_metadata(self, metadata: Any) -> None:
        """Set ``duration`` to the time to sleep."""
        metadata.duration = self.sleep_for

    async def run(self) -> None:
        """Sleep."""
        self.log.info(f"Sleep for {self.sleep_for} seconds...")
        await self.checkpoint(f"Sleep for {self.sleep_for} seconds...")
        await asyncio.sleep(self.sleep_for)
