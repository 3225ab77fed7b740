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

"""Choice of the transport: ``LSST_SAL_TRANSPORT=local|dds`` or ``--transport``.

One default everywhere: ``dds`` (Cyclone DDS between processes,
`DdsTransport`, imported only when chosen), for a `Domain` made without a
transport (`make_default_transport`), a script executable
(`BaseScript.amain`, through `standalone_transport`), ``run_one_script``
and ``run_comcam_sim``. So a unit test that makes ``Domain()`` and a
``Remote`` and starts a script executable meets it with no configuration,
as with salobj. ``local`` (the in-process bus, `LocalTransport`) is chosen
by setting ``LSST_SAL_TRANSPORT=local``: code that builds every component
in one process (this package's own test suite) is faster on it. The
variable is inherited, so the choice travels to the processes started.

Mismatches are named, not left to time out. Each process records the
transports of its open Domains in ``LSST_SAL_PARENT_TRANSPORT`` (``PID:NAMES``),
which the processes it starts inherit; a standalone process
(`standalone_transport`) started by that process compares, when it makes
its first Domain transport (``SCRIPT 0 --schema`` makes none):

* it would run on ``local`` (it can reach nothing outside itself):
  `TransportMismatchError`, and the process exits saying why;
* it runs on ``dds`` while the process that started it has only ``local``
  Domains open (its Remotes will not hear this process): a warning on
  standard error naming both.
"""

__all__ = [
    "DEFAULT_TRANSPORT",
    "PARENT_ENV",
    "TRANSPORT_ENV",
    "TRANSPORT_NAMES",
    "TransportMismatchError",
    "add_transport_argument",
    "check_parent_transport",
    "get_transport_name",
    "make_default_transport",
    "note_domain_closed",
    "note_domain_transport",
    "set_transport_name",
    "standalone_transport",
]

import argparse
import asyncio
import contextlib
import os
import sys
import weakref
from collections.abc import Iterator

from .local_transport import LocalTransport
from .transport import Transport

TRANSPORT_ENV = "LSST_SAL_TRANSPORT"
"""Environment variable naming the transport: "local" or "dds"."""

TRANSPORT_NAMES = ("local", "dds")
"""Valid transport names."""

DEFAULT_TRANSPORT = "dds"
"""The transport when ``LSST_SAL_TRANSPORT`` is unset: the same for every entry point."""

PARENT_ENV = "LSST_SAL_PARENT_TRANSPORT"
"""Environment variable: ``PID:NAMES``, the transports of the open Domains of process PID
(names comma-separated, e.g. ``4123:dds``), inherited by the processes it starts."""


class TransportMismatchError(RuntimeError):
    """A process's transport cannot reach the process that started it."""


def get_transport_name(default: str = DEFAULT_TRANSPORT) -> str:
    """Return the transport named by ``LSST_SAL_TRANSPORT``, else ``default``.

    Parameters
    ----------
    default : `str`, optional
        Name used when the variable is unset or empty.

    Returns
    -------
    name : `str`
        "local" or "dds".

    Raises
    ------
    ValueError
        If the variable (or ``default``) is not a valid name.
    """
    name = os.environ.get(TRANSPORT_ENV, "").strip().lower() or default
    if name not in TRANSPORT_NAMES:
        raise ValueError(
            f"{TRANSPORT_ENV}={name!r} is not a transport; use one of {', '.join(TRANSPORT_NAMES)}"
        )
    return name


def set_transport_name(name: str) -> None:
    """Choose the transport of this process and of the processes it starts.

    Parameters
    ----------
    name : `str`
        "local" or "dds"; sets ``LSST_SAL_TRANSPORT``.

    Raises
    ------
    ValueError
        If the name is not valid.
    """
    if name not in TRANSPORT_NAMES:
        raise ValueError(f"transport {name!r} is not valid; use one of {', '.join(TRANSPORT_NAMES)}")
    os.environ[TRANSPORT_ENV] = name


# Domain (any object) -> its transport, while the Domain is open.
_open_domains: weakref.WeakKeyDictionary[object, Transport] = weakref.WeakKeyDictionary()


def _is_open(transport: Transport) -> bool:
    """Is a transport open, on a loop that is not closed?"""
    # A transport written elsewhere may lack what this package's transports set.
    loop = getattr(transport, "loop", None)
    return not getattr(transport, "closed", False) and (loop is None or not loop.is_closed())


def _publish_open_transports() -> None:
    """Write ``LSST_SAL_PARENT_TRANSPORT`` from the Domains open in this process."""
    names = sorted({transport.name for transport in list(_open_domains.values()) if _is_open(transport)})
    if names:
        os.environ[PARENT_ENV] = f"{os.getpid()}:{','.join(names)}"
    elif os.environ.get(PARENT_ENV, "").startswith(f"{os.getpid()}:"):
        del os.environ[PARENT_ENV]


def note_domain_transport(domain: object, transport: Transport) -> None:
    """Record that a Domain of this process uses a transport (`Domain` calls it).

    Parameters
    ----------
    domain : `object`
        The Domain (held weakly).
    transport : `Transport`
        Its transport.
    """
    _open_domains[domain] = transport
    _publish_open_transports()


def note_domain_closed(domain: object) -> None:
    """Record that a Domain of this process has closed (`Domain` calls it).

    Parameters
    ----------
    domain : `object`
        The Domain.
    """
    _open_domains.pop(domain, None)
    _publish_open_transports()


def check_parent_transport(name: str) -> str:
    """Compare this process's transport with that of the process that started it.

    Parameters
    ----------
    name : `str`
        This process's transport, "local" or "dds".

    Returns
    -------
    warning : `str`
        A sentence naming a likely mismatch (this process on ``dds``, its
        parent with only ``local`` Domains open); "" if none is seen.

    Raises
    ------
    TransportMismatchError
        If this process, started by a process with open Domains, would run
        on ``local``: nothing outside this process could reach it.
    """
    pid_text, sep, names_text = os.environ.get(PARENT_ENV, "").partition(":")
    if not sep or not pid_text.isdigit() or int(pid_text) != os.getppid():
        return ""  # not started by a process with open Domains (or the record is a grandparent's)
    parent_names = set(names_text.split(","))
    if name == "local":
        raise TransportMismatchError(
            f"{TRANSPORT_ENV}=local: this process is on the in-process bus, which reaches nothing outside "
            f"it, so the process that started it (pid {pid_text}, on {names_text}) can never reach it; "
            f"start it with {TRANSPORT_ENV}=dds (or unset: dds is the default)"
        )
    if name not in parent_names:
        return (
            f"this process uses the {name} transport but the process that started it (pid {pid_text}) has "
            f"only {names_text} Domains open: its Remotes will not hear this process. Give the parent's "
            f"Domain the {name} transport ({TRANSPORT_ENV}={name}, the default when unset)"
        )
    return ""


# Depth of standalone_transport blocks: inside one, the default transport is checked
# against the parent's when it is made (so "SCRIPT 0 --schema", which makes none, is not).
_standalone_depth = 0
_warned = False


@contextlib.contextmanager
def standalone_transport(default: str = DEFAULT_TRANSPORT) -> Iterator[str]:
    """Use ``default`` as the transport inside the block unless
    ``LSST_SAL_TRANSPORT`` names one; restore the variable after.

    The transport of a standalone process (a script executable's
    `BaseScript.amain`). When the block makes its first Domain transport
    (`make_default_transport`), it is checked against the process that
    started this one (`check_parent_transport`): a transport that cannot
    reach it ends the process with a one-line error, a likely mismatch is
    warned about on standard error.

    Parameters
    ----------
    default : `str`, optional
        Transport used when the variable is unset or empty.

    Yields
    ------
    name : `str`
        The transport in effect: "local" or "dds".

    Raises
    ------
    ValueError
        If the variable (or ``default``) is not a valid name.
    SystemExit
        If the block's transport cannot reach the process that started
        this one (`TransportMismatchError`); the message says why.
    """
    global _standalone_depth
    old = os.environ.get(TRANSPORT_ENV)
    name = get_transport_name(default=default)
    os.environ[TRANSPORT_ENV] = name
    _standalone_depth += 1
    try:
        yield name
    except TransportMismatchError as e:
        raise SystemExit(f"{_program()}: error: {e}") from e
    finally:
        _standalone_depth -= 1
        if old is None:
            os.environ.pop(TRANSPORT_ENV, None)
        else:
            os.environ[TRANSPORT_ENV] = old


def _program() -> str:
    """Name of this program, for messages."""
    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"


def _check_standalone(name: str) -> None:
    """Inside `standalone_transport`: check ``name`` against the parent's (warn once)."""
    global _warned
    warning = check_parent_transport(name)
    if warning and not _warned:
        _warned = True
        print(f"{_program()}: warning: {warning}", file=sys.stderr, flush=True)


def add_transport_argument(parser: argparse.ArgumentParser, default: str = DEFAULT_TRANSPORT) -> None:
    """Add ``--transport {local,dds}`` to a command-line parser.

    Parameters
    ----------
    parser : `argparse.ArgumentParser`
        The parser.
    default : `str`, optional
        Default when neither the option nor ``LSST_SAL_TRANSPORT`` is given.
    """
    parser.add_argument(
        "--transport",
        choices=TRANSPORT_NAMES,
        default=None,
        help=f"SAL transport: dds between processes, local in this process only "
        f"(default: ${TRANSPORT_ENV}, else {default}).",
    )


def make_default_transport(loop: asyncio.AbstractEventLoop | None = None) -> Transport:
    """Return the shared transport of an event loop chosen by ``LSST_SAL_TRANSPORT``.

    Parameters
    ----------
    loop : `asyncio.AbstractEventLoop`, optional
        The event loop; the running loop if None.

    Returns
    -------
    transport : `Transport`
        `DdsTransport.for_loop` for "dds" (the default),
        `LocalTransport.for_loop` for "local".

    Raises
    ------
    TransportMismatchError
        Inside `standalone_transport`, if the transport cannot reach the
        process that started this one (see `check_parent_transport`).
    """
    name = get_transport_name()
    if _standalone_depth:
        _check_standalone(name)
    if name == "dds":
        from .dds_transport import DdsTransport

        return DdsTransport.for_loop(loop)
    return LocalTransport.for_loop(loop)
