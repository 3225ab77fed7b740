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

"""TestScript: a minimal SAL script for testing script machinery."""

__all__ = ["TestScript"]

import asyncio
import types
import typing

import yaml

from .base import ExpectedError
from .base_script import BaseScript


class TestScript(BaseScript):
    """A script that waits, with checkpoints "start" and "end", and can be
    told to fail in `run` or `cleanup`, like salobj's TestScript.

    Parameters
    ----------
    index : `int`
        SAL index of the script (non-zero).
    descr : `str`, optional
        Short description.

    Attributes
    ----------
    config : `types.SimpleNamespace` or `None`
        The configuration (``wait_time``, ``fail_run``, ``fail_cleanup``);
        None until configured. ``wait_time``, ``fail_run`` and
        ``fail_cleanup`` are also attributes.

    Notes
    -----
    Configuration (all optional):

    * ``wait_time`` (number ≥ 0, default 0): seconds to wait in `run`
      between the "start" and "end" checkpoints;
    * ``fail_run`` (bool, default false): raise in `run` after the "start"
      checkpoint, before waiting;
    * ``fail_cleanup`` (bool, default false): raise in `cleanup`.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, index: int, descr: str = "Test script") -> None:
        super().__init__(index=index, descr=descr, help="Waits `wait_time` seconds; can fail on demand.")
        self.wait_time = 0.0
        self.fail_run = False
        self.fail_cleanup = False
        self.cleanup_called = False
        self.config: types.SimpleNamespace | None = None

    @classmethod
    def get_schema(cls) -> dict[str, typing.Any]:
        """Return the configuration schema."""
        schema_yaml = """
            $schema: http://json-schema.org/draft-07/schema#
            $id: https://github.com/lsst-ts/ts_calibrations/blob/main/python/lsst/ts/calibrations/sal/testscript.py
            title: TestScript v1
            description: Configuration for TestScript.
            type: object
            properties:
              wait_time:
                description: Time to wait in run, between the start and end checkpoints (seconds).
                type: number
                minimum: 0
                default: 0
              fail_run:
                description: Raise an exception in run after the start checkpoint, before waiting.
                type: boolean
                default: false
              fail_cleanup:
                description: Raise an exception in cleanup.
                type: boolean
                default: false
            additionalProperties: false
        """
        return typing.cast(dict[str, typing.Any], yaml.safe_load(schema_yaml))

    async def configure(self, config: types.SimpleNamespace) -> None:
        """Configure the script.

        Parameters
        ----------
        config : `types.SimpleNamespace`
            Validated configuration (``wait_time``, ``fail_run``,
            ``fail_cleanup``).
        """
        self.log.info(f"Configure started with {vars(config)}")
        self.config = config
        self.wait_time = float(config.wait_time)
        self.fail_run = bool(config.fail_run)
        self.fail_cleanup = bool(config.fail_cleanup)
        self.log.info("Configure succeeded")

    def set_metadata(self, metadata: typing.Any) -> None:
        """Set the metadata ``duration`` to ``wait_time``.

        Parameters
        ----------
        metadata : ``evt_metadata.DataType``
            Metadata to update.
        """
        metadata.duration = self.wait_time
        metadata.totalCheckpoints = 2

    async def run(self) -> None:
        """Wait ``wait_time`` seconds between checkpoints "start" and "end".

        Raises
        ------
        ExpectedError
            If configured with ``fail_run``.
        """
        self.log.info("Run started")
        await self.checkpoint("start")
        if self.fail_run:
            raise ExpectedError("Failed in run: fail_run is true")
        await asyncio.sleep(self.wait_time)
        self.log.info("Run succeeded")
        await self.checkpoint("end")

    async def cleanup(self) -> None:
        """Record that cleanup ran.

        Raises
        ------
        ExpectedError
            If configured with ``fail_cleanup``.
        """
        self.log.info("Cleanup started")
        self.cleanup_called = True
        if self.fail_cleanup:
            raise ExpectedError("Failed in cleanup: fail_cleanup is true")
        self.log.info("Cleanup succeeded")
