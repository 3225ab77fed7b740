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


"""The DDS domain of a process: which domain, configured how, shared by whom.

The isolation name (``LSST_TOPIC_SUBNAME``) selects the DDS domain ID
(`domain_id_for_subname`); the package writes its own Cyclone configuration
(`make_cyclone_config`: loopback only, multicast off, peers on localhost,
a participant-index limit of `MAX_PARTICIPANT_INDEX`; ``LSST_DDS_INTERFACE``
and ``LSST_DDS_PEERS`` for another network); `DdsDomain` shares one
configured Cyclone domain per ID among the transports of a process.
"""

__all__ = [
    "INTERFACE_ENV",
    "LEASE_DURATION",
    "MAX_PARTICIPANT_INDEX",
    "NUM_DOMAIN_IDS",
    "PEERS_ENV",
    "DdsDomain",
    "delete_entity",
    "domain_id_for_subname",
    "make_cyclone_config",
    "subname_from_env",
]

import threading
import xml.sax.saxutils
import zlib
from typing import Any

from cyclonedds.core import DDSException
from cyclonedds.domain import Domain as CycloneDomain

from .isolation import isolation_name

INTERFACE_ENV = "LSST_DDS_INTERFACE"
"""Environment variable: network interface (name or address); loopback if unset."""

PEERS_ENV = "LSST_DDS_PEERS"
"""Environment variable: comma-separated unicast peer addresses (with an interface)."""

MAX_PARTICIPANT_INDEX = 119
"""Highest participant index: up to 120 processes per domain on one host."""

NUM_DOMAIN_IDS = 200
"""Domain IDs 1..NUM_DOMAIN_IDS are used for non-empty subnames; 0 for none."""

LEASE_DURATION = 5.0
"""Participant lease (seconds): a killed process's endpoints go away after this."""


def subname_from_env() -> str:
    """Return ``LSST_TOPIC_SUBNAME`` ("" if unset)."""
    return isolation_name()


def domain_id_for_subname(subname: str) -> int:
    """Return the DDS domain ID of a subname: 0 for "", else in [1, NUM_DOMAIN_IDS].

    Parameters
    ----------
    subname : `str`
        The subname.

    Returns
    -------
    domain_id : `int`
        The same in every process (a CRC of the name).
    """
    if not subname:
        return 0
    return zlib.crc32(subname.encode()) % NUM_DOMAIN_IDS + 1


def make_cyclone_config(interface: str | None = None, peers: list[str] | None = None) -> str:
    """Return the Cyclone DDS configuration (XML) of this package.

    Parameters
    ----------
    interface : `str`, optional
        Network interface name or address; None for loopback only
        (multicast off, peer localhost).
    peers : `list` [`str`], optional
        Unicast peer addresses (with ``interface``).

    Returns
    -------
    config : `str`
        XML for ``cyclonedds.domain.Domain``.
    """
    quote = xml.sax.saxutils.quoteattr
    if interface is None:
        iface = '<NetworkInterface address="127.0.0.1"/>'
        multicast = "false"
        peers = ["localhost"]
    else:
        attr = "address" if interface[:1].isdigit() else "name"
        iface = f"<NetworkInterface {attr}={quote(interface)}/>"
        multicast = "false" if peers else "true"
    peer_xml = "".join(f"<Peer address={quote(peer)}/>" for peer in peers or ())
    return (
        '<CycloneDDS><Domain Id="any">'
        f"<General><Interfaces>{iface}</Interfaces><AllowMulticast>{multicast}</AllowMulticast></General>"
        "<Discovery>"
        + (f"<Peers>{peer_xml}</Peers>" if peer_xml else "")
        + "<ParticipantIndex>auto</ParticipantIndex>"
        f"<MaxAutoParticipantIndex>{MAX_PARTICIPANT_INDEX}</MaxAutoParticipantIndex>"
        f"<LeaseDuration>{LEASE_DURATION}s</LeaseDuration>"
        "</Discovery></Domain></CycloneDDS>"
    )


def delete_entity(entity: Any) -> None:
    """Delete a DDS entity now (and its children), not when garbage collected."""
    try:
        entity.__del__()
    except DDSException:
        pass


class DdsDomain:
    """Cyclone domains by ID, shared by the transports of a process
    (Cyclone allows one configured domain per ID): `acquire` configures a
    domain on first use, `release` deletes it with its last user.
    """

    lock = threading.Lock()
    domains: dict[int, tuple[CycloneDomain, int]] = {}

    @classmethod
    def acquire(cls, domain_id: int, config: str) -> None:
        """Use the Cyclone domain of an ID, configuring it on first use.

        Parameters
        ----------
        domain_id : `int`
            DDS domain ID.
        config : `str`
            Cyclone configuration (XML), used if the domain is made now.
        """
        with cls.lock:
            domain, count = cls.domains.get(domain_id, (None, 0))
            if domain is None:
                domain = CycloneDomain(domain_id, config)
            cls.domains[domain_id] = (domain, count + 1)

    @classmethod
    def release(cls, domain_id: int) -> None:
        """Stop using the Cyclone domain of an ID; its last user deletes it.

        Parameters
        ----------
        domain_id : `int`
            DDS domain ID.
        """
        with cls.lock:
            domain, count = cls.domains.get(domain_id, (None, 0))
            if domain is None:
                return
            if count <= 1:
                del cls.domains[domain_id]
                delete_entity(domain)
            else:
                cls.domains[domain_id] = (domain, count - 1)
