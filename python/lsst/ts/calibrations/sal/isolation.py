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

"""Isolation names: which processes on one network see each other.

Processes talk to each other over the multi-process transport only when
they share ``LSST_TOPIC_SUBNAME`` (the subname selects the DDS domain and
partition, as salobj's selects topic names). A command that starts an
observatory for itself (``run_one_script --simulate``, ``run_comcam_sim``,
a simulated script queue) makes it private with `ensure_isolation_name`: a
fresh name unless the user set one, put into this process's environment so
that every process it starts inherits it. Two such runs on one machine then
never see each other's commands, events or images.
"""

__all__ = ["SUBNAME_ENV", "ensure_isolation_name", "isolation_name", "make_isolation_name"]

import os
import re
import secrets

SUBNAME_ENV = "LSST_TOPIC_SUBNAME"
"""Environment variable holding the isolation name ("" or unset: none)."""


def isolation_name() -> str:
    """Return the isolation name of this process ("" if none is set)."""
    return os.environ.get(SUBNAME_ENV, "").strip()


def make_isolation_name(prefix: str = "run") -> str:
    """Return a new isolation name, unique on this machine.

    Parameters
    ----------
    prefix : `str`, optional
        Start of the name, saying who made it (letters, digits, ``_``).

    Returns
    -------
    name : `str`
        ``PREFIX_PID_RANDOM``, e.g. ``sim_41234_9f2c61ab``.

    Raises
    ------
    ValueError
        If the prefix holds other characters than letters, digits and ``_``.
    """
    if not re.fullmatch(r"[A-Za-z0-9_]+", prefix):
        raise ValueError(f"isolation name prefix {prefix!r} must be letters, digits and _ only")
    return f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"


def ensure_isolation_name(prefix: str = "run") -> tuple[str, bool]:
    """Make sure this process (and every process it starts) has an isolation name.

    Parameters
    ----------
    prefix : `str`, optional
        Prefix of a new name (see `make_isolation_name`).

    Returns
    -------
    name : `str`
        The isolation name now in ``LSST_TOPIC_SUBNAME``.
    created : `bool`
        True if the name was made here; False if the user had set one.
    """
    name = isolation_name()
    if name:
        return name, False
    name = make_isolation_name(prefix)
    os.environ[SUBNAME_ENV] = name
    return name, True
