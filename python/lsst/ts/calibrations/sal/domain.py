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

"""The Domain: the transport and identity shared by the components of a process."""

__all__ = ["Domain"]

import functools
import os
from typing import TYPE_CHECKING

from .base import get_user_host
from .lifecycle_mixin import LifecycleMixin
from .transport import Transport
from .transport_choice import make_default_transport, note_domain_closed, note_domain_transport

if TYPE_CHECKING:
    from .sal_info import SalInfo


# The fully qualified host name can take a DNS round trip: look it up once.
_process_user_host = functools.cache(get_user_host)


class Domain(LifecycleMixin):
    """Transport, identity and bookkeeping for the SAL components of a process.

    Parameters
    ----------
    transport : `Transport`, optional
        The transport. If None, the transport of the event loop chosen by
        ``LSST_SAL_TRANSPORT`` (see `make_default_transport`: `DdsTransport`
        unless "local"), shared by every Domain on that loop; it is looked
        up when first needed, so a Domain can be built before the loop
        runs.

    Attributes
    ----------
    origin : `int`
        Process ID: ``private_origin`` of every message written.
    default_identity : `str`
        ``user@host``: ``private_identity`` of messages written by a
        `Remote` (a `Controller` uses its own "Name[:index]").

    Notes
    -----
    `close` closes every `Remote` and `Controller` topic set built on this
    Domain. Use as ``async with Domain() as domain:``. While open, the
    Domain's transport is recorded for the processes this one starts
    (`note_domain_transport`), so that a mismatch is named.
    """

    def __init__(self, transport: Transport | None = None) -> None:
        self._transport = transport
        self._close_transport = transport is not None
        self.origin = os.getpid()
        self.user_host = _process_user_host()
        self.default_identity = self.user_host
        self._salinfos: set[SalInfo] = set()
        self.closed = False
        if transport is not None:
            note_domain_transport(self, transport)

    @property
    def transport(self) -> Transport:
        """The transport (the event loop's default transport unless given)."""
        if self._transport is None:
            self._transport = make_default_transport()
            if not self.closed:
                note_domain_transport(self, self._transport)
        return self._transport

    @property
    def salinfos(self) -> frozenset["SalInfo"]:
        """The open `SalInfo` of every Remote and Controller of this Domain."""
        return frozenset(self._salinfos)

    @property
    def salinfo_set(self) -> frozenset["SalInfo"]:
        """Alias of `salinfos` (salobj's name)."""
        return self.salinfos

    def add_salinfo(self, salinfo: "SalInfo") -> None:
        """Register a `SalInfo`; called by `SalInfo` itself.

        Raises
        ------
        RuntimeError
            If the Domain is closed.
        """
        if self.closed:
            raise RuntimeError("The Domain is closed; make a new one")
        self._salinfos.add(salinfo)

    def remove_salinfo(self, salinfo: "SalInfo") -> None:
        """Forget a `SalInfo`; called by `SalInfo.close`. Ignored if unknown."""
        self._salinfos.discard(salinfo)

    async def close(self) -> None:
        """Close every SalInfo of this Domain. Idempotent.

        The shared in-process bus stays open for the other Domains on the
        loop; a transport given to the constructor is closed.
        """
        if self.closed:
            return
        self.closed = True
        note_domain_closed(self)
        for salinfo in list(self._salinfos):
            await salinfo.close()
        if self._close_transport and self._transport is not None:
            await self._transport.close()

    def __repr__(self) -> str:
        return f"Domain(origin={self.origin}, identity={self.default_identity!r})"
