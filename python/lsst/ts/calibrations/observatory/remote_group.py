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

"""RemoteGroup: a group of SAL components commanded and checked together.

As ts_observatory_control's ``RemoteGroup``: each component named
``"Name"`` or ``"Name:index"`` gets a `Remote` under
``rem.<lowercase name>`` (``rem.cccamera``, ``rem.ocps_2``) and a flag under
``check.<same name>`` saying whether it is included in group checks and
state changes.
"""

__all__ = ["GENERIC_TOPICS_READ", "RemoteGroup"]

import asyncio
import logging
import types
import typing
from collections.abc import Iterable, Mapping

from ..sal.base import AckError, State
from ..sal.domain import Domain
from ..sal.lifecycle_mixin import LifecycleMixin
from ..sal.remote import Remote
from ..sal.set_summary_state import set_summary_state
from .errors import ComponentNotEnabledError, ComponentNotRunningError

GENERIC_TOPICS_READ = ("heartbeat", "summaryState", "errorCode", "logMessage")
"""Events every Remote of a group reads, whatever `RemoteGroup.remote_topics` names."""


class RemoteGroup(LifecycleMixin):
    """Remotes of several SAL components, started, checked and commanded together.

    Parameters
    ----------
    components : `list` [`str`]
        Component names, ``"Name"`` or ``"Name:index"`` (e.g. "OCPS:2").
    domain : `Domain`, optional
        Domain of the remotes; a new one (closed with the group) if None.
    log : `logging.Logger`, optional
        Logger; a child of this module's logger if None.
    intended_usage : `int`, optional
        Accepted for compatibility with ts_observatory_control; every
        topic is read.

    Attributes
    ----------
    rem : `types.SimpleNamespace`
        `Remote` of each component, by lower-case name (``Name:2`` → ``name_2``).
    check : `types.SimpleNamespace`
        Per component, whether group checks and state changes include it.
    fast_timeout : `float`
        Time limit (s) of quick operations, such as reading a summary state (5 s).
    long_timeout : `float`
        Time limit (s) of state commands (30 s).
    long_long_timeout : `float`
        Time limit (s) of long operations (120 s).
    start_task : `asyncio.Task`
        Done when every remote has started.

    Raises
    ------
    ValueError
        If a component name is malformed or unknown, or given twice.
    """

    remote_topics: typing.ClassVar[Mapping[str, tuple[str, ...]]] = {}
    """Events and telemetry the group reads, by component name (besides
    `GENERIC_TOPICS_READ`); a component not named reads all of its topics.

    A subclass names what it uses, as ts_observatory_control's usages do:
    a camera's interface has hundreds of topics, and each one read costs a
    reader (over DDS, a topic type registered) when the group starts.
    """

    def __init__(
        self,
        components: Iterable[str],
        domain: Domain | None = None,
        log: logging.Logger | None = None,
        intended_usage: int | None = None,
    ) -> None:
        self.log = log if log is not None else logging.getLogger(f"{__name__}.{type(self).__name__}")
        self.fast_timeout = 5.0
        self.long_timeout = 30.0
        self.long_long_timeout = 120.0
        self.intended_usage = intended_usage
        self._owns_domain = domain is None
        self.domain = Domain() if domain is None else domain
        self._components: dict[str, tuple[str, int | None]] = {}
        for component in components:
            name, _, index_text = component.partition(":")
            try:
                index = int(index_text) if index_text else None
            except ValueError:
                raise ValueError(
                    f"component {component!r}: the index must be an integer (Name:index)"
                ) from None
            attr = name.lower() if index is None else f"{name.lower()}_{index}"
            if attr in self._components:
                raise ValueError(f"component {component!r} is given twice")
            self._components[attr] = (name, index)
        self.rem = types.SimpleNamespace()
        self.check = types.SimpleNamespace()
        try:
            for attr, (name, index) in self._components.items():
                include = self.remote_topics.get(name)
                if include is not None:
                    include = (*GENERIC_TOPICS_READ, *include)
                setattr(self.rem, attr, Remote(self.domain, name, index, include=include))
                setattr(self.check, attr, True)
        except BaseException:
            if self._owns_domain:
                asyncio.get_running_loop().create_task(self.domain.close())
            raise
        self.start_task: asyncio.Task[None] = asyncio.create_task(self.start())

    @property
    def components(self) -> list[str]:
        """Component names as given (``"Name"`` or ``"Name:index"``)."""
        return [name if index is None else f"{name}:{index}" for name, index in self._components.values()]

    @property
    def components_attr(self) -> list[str]:
        """Attribute names of the components under `rem` and `check`."""
        return list(self._components)

    def _checked(self) -> list[str]:
        return [attr for attr in self._components if getattr(self.check, attr)]

    def _name(self, attr: str) -> str:
        name, index = self._components[attr]
        return name if index is None else f"{name}:{index}"

    async def start(self) -> None:
        """Wait until every remote has started (read its event history)."""
        await asyncio.gather(*(getattr(self.rem, attr).start_task for attr in self._components))

    async def get_state(self, component: str) -> State:
        """Return the summary state of a component.

        Parameters
        ----------
        component : `str`
            Attribute name under `rem` (e.g. "cccamera") or component name.

        Returns
        -------
        state : `State`
            Its summary state.

        Raises
        ------
        ComponentNotRunningError
            If it publishes no summary state within `fast_timeout`.
        ValueError
            If the component is not in the group.
        """
        attr = self._attr(component)
        try:
            data = await getattr(self.rem, attr).evt_summaryState.aget(timeout=self.fast_timeout)
        except TimeoutError:
            raise ComponentNotRunningError(
                f"{self._name(attr)} published no summaryState within {self.fast_timeout} s: it is not "
                "running or not reachable (run the observatory, or run_one_script --simulate for the "
                "simulated one)"
            ) from None
        return State(data.summaryState)

    async def assert_all_enabled(self, message: str = "") -> None:
        """Check that every checked component is ENABLED.

        Parameters
        ----------
        message : `str`, optional
            Text to start the error message with.

        Raises
        ------
        ComponentNotEnabledError
            If a component is not ENABLED; the message names each and its state.
        ComponentNotRunningError
            If a component publishes no summary state.
        """
        attrs = self._checked()
        results = await asyncio.gather(*(self.get_state(attr) for attr in attrs), return_exceptions=True)
        not_running = [str(r) for r in results if isinstance(r, ComponentNotRunningError)]
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, ComponentNotRunningError):
                raise result
        prefix = f"{message}: " if message else ""
        if not_running:
            raise ComponentNotRunningError(prefix + "; ".join(not_running))
        not_enabled = [
            f"{self._name(attr)} is {state.name}"
            for attr, state in zip(attrs, results)
            if isinstance(state, State) and state != State.ENABLED
        ]
        if not_enabled:
            raise ComponentNotEnabledError(prefix + ", ".join(not_enabled) + "; all must be ENABLED")

    async def set_state(
        self,
        state: State,
        overrides: Mapping[str, str] | None = None,
        components: Iterable[str] | None = None,
    ) -> None:
        """Put components in a summary state (all checked ones by default), concurrently.

        Parameters
        ----------
        state : `State`
            Target summary state (not FAULT).
        overrides : `dict` [`str`, `str`], optional
            Configuration override per component attribute name.
        components : iterable of `str`, optional
            Components (attribute or component names); the checked ones if None.

        Raises
        ------
        RuntimeError
            If a component cannot be put in the state; the message names
            each failure.
        """
        attrs = [self._attr(c) for c in components] if components is not None else self._checked()
        overrides = overrides or {}

        async def one(attr: str) -> None:
            await set_summary_state(
                getattr(self.rem, attr), state, override=overrides.get(attr, ""), timeout=self.long_timeout
            )

        results = await asyncio.gather(*(one(attr) for attr in attrs), return_exceptions=True)
        errors = []
        for attr, result in zip(attrs, results):
            if isinstance(result, AckError):
                errors.append(f"{self._name(attr)}: {result.ackcmd.result if result.ackcmd else result}")
            elif isinstance(result, TimeoutError):
                errors.append(f"{self._name(attr)}: no answer within {self.long_timeout} s")
            elif isinstance(result, BaseException):
                errors.append(f"{self._name(attr)}: {result!r}")
        if errors:
            raise RuntimeError(f"Cannot put components in {State(state).name}: " + "; ".join(errors))

    async def enable(self, overrides: Mapping[str, str] | None = None) -> None:
        """Put every checked component in ENABLED (see `set_state`)."""
        await self.set_state(State.ENABLED, overrides=overrides)

    async def standby(self) -> None:
        """Put every checked component in STANDBY (see `set_state`)."""
        await self.set_state(State.STANDBY)

    def _attr(self, component: str) -> str:
        if component in self._components:
            return component
        name, _, index = component.partition(":")
        attr = name.lower() + (f"_{index}" if index else "")
        if attr not in self._components:
            raise ValueError(f"component {component!r} is not in this group; use one of {self.components}")
        return attr

    async def close(self) -> None:
        """Close the remotes (and the Domain, if the group made it). Idempotent."""
        if not self.start_task.done():
            self.start_task.cancel()
        for attr in self._components:
            await getattr(self.rem, attr).close()
        if self._owns_domain:
            await self.domain.close()
