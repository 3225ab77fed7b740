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

"""A script that ignores the stop command and SIGTERM while it runs: only SIGKILL ends it."""

import asyncio
import signal
import types
import typing

from lsst.ts.calibrations.sal import BaseScript


class StubbornScript(BaseScript):
    """Runs for an hour and will not stop.

    Parameters
    ----------
    index : `int`
        SAL index of the script.
    """

    def __init__(self, index: int) -> None:
        super().__init__(index=index, descr="Stubborn test script")

    @classmethod
    def get_schema(cls) -> None:
        """No configuration."""
        return None

    async def configure(self, config: types.SimpleNamespace) -> None:
        """Accept the empty configuration."""

    def set_metadata(self, metadata: typing.Any) -> None:
        """Leave the metadata as it is."""

    async def run(self) -> None:
        """Sleep, ignoring cancellation (the stop command) and SIGTERM."""
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, lambda: None)
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                self.log.warning("asked to stop; ignoring it")


if __name__ == "__main__":
    asyncio.run(StubbornScript.amain())
