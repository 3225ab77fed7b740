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
"""SetSummaryState: put one or more CSCs in given summary states."""

__all__ = ["SetSummaryState"]

import asyncio
import types
from typing import Any

import yaml

from .. import sal as salobj

WATCHER_CRITICAL = 4
"""``AlarmSeverity.CRITICAL`` of the Watcher (ts_xml)."""


class SetSummaryState(salobj.BaseScript):
    """Put CSCs in summary states, each by the shortest path.

    Parameters
    ----------
    index : `int`
        SAL index of the script.

    Attributes
    ----------
    cmd_timeout : `float`
        Time limit (seconds) of each transition command.
    discovery_time : `float`
        Time (seconds) spent listening for heartbeats to find the running
        instances of "Name:*".
    nameind_state_override : `list` [`tuple`]
        After configuration: ((name, index), `State`, override) per CSC.
    remotes : `dict` [`tuple` [`str`, `int`], `Remote`]
        After configuration: one Remote per (name, index).

    Notes
    -----
    Configuration: ``data``, a list of [Name[:index], state name (any
    case, not FAULT), optional override]; index "*" means every running
    instance (found by their heartbeats). ``mute_alarms`` (default false
    here, true in ts_standardscripts) mutes the Watcher's "Enabled" and
    "Heartbeat" alarms of each CSC sent OFFLINE for ``mute_duration``
    minutes (default 30); a failed mute is logged as a warning. The
    default is false because, with no Watcher running, each mute waits
    for its acknowledgement until `cmd_timeout`.

    To configure a CSC, list it twice: first STANDBY, then DISABLED or
    ENABLED with the override. Checkpoint: "set <name>:<index>" before
    each CSC.
    """

    def __init__(self, index: int) -> None:
        super().__init__(index=index, descr="Put CSCs into specified states")
        self.cmd_timeout = 60.0
        self.discovery_time = 5.0
        self.nameind_state_override: list[tuple[tuple[str, int], salobj.State, str]] = []
        self.remotes: dict[tuple[str, int], salobj.Remote] = {}
        self.watcher: salobj.Remote | None = None
        self.mute_alarms = False
        self.mute_duration = 30.0

    @classmethod
    def get_schema(cls) -> dict[str, Any]:
        """Return the configuration schema."""
        return yaml.safe_load(
            """
            $schema: http://json-schema.org/draft-07/schema#
            $id: https://github.com/lsst-ts/ts_calibrations/standardscripts/set_summary_state.yaml
            title: SetSummaryState v1
            description: Configuration of SetSummaryState.
            type: object
            properties:
              data:
                description: >-
                  List of [CSC_name[:index], state_name [, override]]; the default
                  index is 0 ("*" for every running instance), the default override "".
                type: array
                minItems: 1
                items:
                  type: array
                  minItems: 2
                  maxItems: 3
                  items:
                    type: string
              mute_alarms:
                description: Mute the Watcher alarms of the CSCs sent to OFFLINE?
                type: boolean
                default: false
              mute_duration:
                description: Time (minutes) to mute the alarms.
                type: number
                minimum: 0
                default: 30.0
            required: [data]
            additionalProperties: false
            """
        )

    async def configure(self, config: types.SimpleNamespace) -> None:
        """Parse the list of CSCs and make their Remotes.

        Parameters
        ----------
        config : `types.SimpleNamespace`
            Validated configuration.

        Raises
        ------
        ValueError
            If a name, state or override is invalid, or the state is FAULT.
        RuntimeError
            If ``mute_alarms`` is true and there is no Watcher interface.
        """
        targets: list[tuple[tuple[str, int], salobj.State, str]] = []
        for item in config.data:
            try:
                name, index = salobj.name_to_name_index(item[0])
                indices = [index]
            except salobj.WildcardIndexError as e:
                name = e.name
                indices = await self._find_running_instances(name)
                if not indices:
                    self.log.warning(f"No running instance of {name} found")
            try:
                state = salobj.State[item[1].upper()]
            except KeyError:
                raise ValueError(
                    f"{item} has unknown summary state {item[1]!r}; use one of "
                    "offline, standby, disabled, enabled"
                ) from None
            if state == salobj.State.FAULT:
                raise ValueError(f"{item}: the state cannot be FAULT")
            override = item[2] if len(item) == 3 else ""
            targets.extend(((name, index), state, override) for index in indices)
        self.mute_alarms = bool(config.mute_alarms)
        self.mute_duration = float(config.mute_duration)
        if self.mute_alarms and self.watcher is None:
            try:
                self.watcher = salobj.Remote(self.domain, "Watcher", include=[])
            except ValueError as e:
                raise RuntimeError(f"mute_alarms needs the Watcher component: {e}") from e
        for remote in self.remotes.values():
            await remote.close()
        self.remotes = {}
        for name_index, _, _ in targets:
            if name_index not in self.remotes:
                name, index = name_index
                self.remotes[name_index] = salobj.Remote(
                    domain=self.domain, name=name, index=index, include=["summaryState"]
                )
        self.nameind_state_override = targets

    async def _find_running_instances(self, name: str) -> list[int]:
        """Return the SAL indices whose heartbeats are seen within `discovery_time`."""
        seen: set[int] = set()
        async with salobj.Remote(self.domain, name, 0, readonly=True, include=["heartbeat"]) as remote:
            remote.evt_heartbeat.flush()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.discovery_time
            while (remaining := deadline - loop.time()) > 0:
                try:
                    data = await remote.evt_heartbeat.next(flush=False, timeout=remaining)
                except TimeoutError:
                    break
                seen.add(int(data.salIndex))
        return sorted(seen)

    def set_metadata(self, metadata: Any) -> None:
        """Estimate 2 seconds per CSC."""
        metadata.duration = 2.0 * len(self.nameind_state_override)

    async def run(self) -> None:
        """Put each CSC in its state, in order."""
        await asyncio.gather(*(remote.start_task for remote in self.remotes.values()))
        for (name, index), state, override in self.nameind_state_override:
            if self.mute_alarms and state == salobj.State.OFFLINE and self.watcher is not None:
                try:
                    await self.watcher.cmd_mute.set_start(
                        name=rf"^(Enabled|Heartbeat)\.{name}:{index}",
                        duration=self.mute_duration * 60,
                        severity=WATCHER_CRITICAL,
                        mutedBy="set_summary_state script",
                        timeout=self.cmd_timeout,
                    )
                except Exception as e:
                    self.log.warning(f"Failed to mute the alarms of {name}:{index}: {e}")
            await self.checkpoint(f"set {name}:{index}")
            await salobj.set_summary_state(
                remote=self.remotes[(name, index)], state=state, override=override, timeout=self.cmd_timeout
            )
