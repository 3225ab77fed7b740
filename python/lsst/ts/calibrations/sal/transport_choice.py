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

``local`` is the in-process bus (`LocalTransport`); ``dds`` is Cyclone DDS
between processes (`DdsTransport`, imported only when chosen). A `Domain`
made without a transport uses `make_default_transport`: ``local`` when the
variable is unset, so code that builds components in one process (tests)
stays in that process. Standalone entry points use ``dds``:
``run_comcam_sim`` always, ``run_one_script`` and script executables
(`BaseScript.amain`, through `standalone_transport`) unless the variable
or ``--transport`` says otherwise.
"""

__all__ = [
    "TRANSPORT_ENV",
    "TRANSPORT_NAMES",
    "add_transport_argument",
    "get_transport_name",
    "make_default_transport",
    "set_transport_name",
    "standalone_transport",
]

import argparse
import asyncio
import contextlib
import os
from collections.abc import Iterator

from .local_transport import LocalTransport
from .transport import Transport

TRANSPORT_ENV = "LSST_SAL_TRANSPORT"
"""Environment variable naming the transport: "local" or "dds"."""

TRANSPORT_NAMES = ("local", "dds")
"""Valid transport names."""


def get_transport_name(default: str = "local") -> str:
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


@contextlib.contextmanager
def standalone_transport(default: str = "dds") -> Iterator[str]:
    """Use ``default`` as the transport inside the block unless
    ``LSST_SAL_TRANSPORT`` names one; restore the variable after.

    The default of a standalone process (a script executable's
    `BaseScript.amain`): over DDS, as a script queue runs it, while a
    `Domain` made outside the block keeps the in-process default.

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
    """
    old = os.environ.get(TRANSPORT_ENV)
    name = get_transport_name(default=default)
    os.environ[TRANSPORT_ENV] = name
    try:
        yield name
    finally:
        if old is None:
            os.environ.pop(TRANSPORT_ENV, None)
        else:
            os.environ[TRANSPORT_ENV] = old


def add_transport_argument(parser: argparse.ArgumentParser, default: str) -> None:
    """Add ``--transport {local,dds}`` to a command-line parser.

    Parameters
    ----------
    parser : `argparse.ArgumentParser`
        The parser.
    default : `str`
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
        `LocalTransport.for_loop` for "local" (the default),
        `DdsTransport.for_loop` for "dds".
    """
    if get_transport_name() == "dds":
        from .dds_transport import DdsTransport

        return DdsTransport.for_loop(loop)
    return LocalTransport.for_loop(loop)
