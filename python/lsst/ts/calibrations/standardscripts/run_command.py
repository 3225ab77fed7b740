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
"""RunCommand: run one command of a CSC, optionally waiting for an event."""

__all__ = ["RunCommand"]

import types
from typing import Any

import yaml

from .. import sal as salobj


class RunCommand(salobj.BaseScript):
    """Run a command of a CSC and, optionally, wait for an event after it.

    Parameters
    ----------
    index : `int`
        SAL index of the script.

    Notes
    -----
    Configuration: ``component`` ("Name[:index]"), ``cmd``, ``parameters``
    (command fields, plus ``timeout``: seconds for the command, default
    30), ``event`` (optional, waited for after the command), ``flush``
    (flush the event before the command; default true), ``event_timeout``
    (seconds, default 30).

    Checkpoints: "run <name>:<index>:<cmd>" before the command; "wait
    <name>:<index>:<event>" before waiting for the event.
    """

    def __init__(self, index: int) -> None:
        super().__init__(index=index, descr="Run command from CSC.")
        self.config: types.SimpleNamespace | None = None
        self.remote: salobj.Remote | None = None
        self.name = ""
        self.index = 0
        self.cmd = ""
        self.event: str | None = None
        self.flush = False

    @classmethod
    def get_schema(cls) -> dict[str, Any]:
        """Return the configuration schema."""
        return yaml.safe_load(
            """
            $schema: http://json-schema.org/draft-07/schema#
            $id: https://github.com/lsst-ts/ts_calibrations/standardscripts/run_command.yaml
            title: RunCommand v1
            description: Configuration of RunCommand.
            type: object
            properties:
              component:
                description: CSC to command, as Name[:index]; the default index is 0.
                type: string
              cmd:
                description: Name of the command.
                type: string
              event:
                description: Event to wait for after the command.
                type: string
              flush:
                description: Flush the event before sending the command?
                type: boolean
                default: true
              event_timeout:
                description: Time limit (seconds) for the event.
                type: number
                default: 30
              parameters:
                description: Fields of the command, and its time limit.
                type: object
                properties:
                  timeout:
                    description: Time limit (seconds) for the command.
                    type: number
                    default: 30
                additionalProperties: true
            required: [component, cmd]
            additionalProperties: false
            """
        )

    async def configure(self, config: types.SimpleNamespace) -> None:
        """Make the Remote and set the command's fields.

        Parameters
        ----------
        config : `types.SimpleNamespace`
            Validated configuration.

        Raises
        ------
        RuntimeError
            If the component has no such command.
        ValueError
            If ``component`` is badly formed, the component has no such
            event, or a parameter is not a field of the command.
        """
        self.config = config
        self.name, self.index = salobj.name_to_name_index(config.component)
        self.event = getattr(config, "event", None)
        if self.remote is not None:
            await self.remote.close()
        self.remote = salobj.Remote(
            domain=self.domain,
            name=self.name,
            index=self.index,
            include=[] if self.event is None else [self.event],
        )
        if config.cmd not in self.remote.salinfo.command_names:
            raise RuntimeError(
                f"Command {config.cmd} is not a command of {self.name}; "
                f"known: {', '.join(self.remote.salinfo.command_names)}"
            )
        self.cmd = config.cmd
        parameters = getattr(config, "parameters", {"timeout": 30})
        config.parameters = parameters
        fields = {key: value for key, value in parameters.items() if key != "timeout"}
        getattr(self.remote, f"cmd_{self.cmd}").set(**fields)
        self.flush = bool(config.flush) if self.event is not None else False

    def set_metadata(self, metadata: Any) -> None:
        """Estimate the duration: the command and event time limits (with an event)."""
        assert self.config is not None
        metadata.duration = (
            self.config.parameters["timeout"] + self.config.event_timeout if self.event is not None else 0.0
        )

    async def run(self) -> None:
        """Send the command, then wait for the event (if any)."""
        assert self.remote is not None and self.config is not None
        await self.remote.start_task
        if self.flush:
            getattr(self.remote, f"evt_{self.event}").flush()
        await self.checkpoint(f"run {self.name}:{self.index}:{self.cmd}")
        await getattr(self.remote, f"cmd_{self.cmd}").start(timeout=self.config.parameters["timeout"])
        if self.event is not None:
            await self.checkpoint(f"wait {self.name}:{self.index}:{self.event}")
            data = await getattr(self.remote, f"evt_{self.event}").next(
                flush=False, timeout=self.config.event_timeout
            )
            self.log.info(f"{self.event}: {data}")
