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

"""Enumerations, exceptions, constants and time functions of the SAL runtime.

The names and values follow ts_salobj 8 (``lsst.ts.salobj.base`` and
``sal_enums``) so code written for salobj reads the same here.
"""

__all__ = [
    "DEFAULT_ACK_TIMEOUT",
    "DEFAULT_QUEUE_LEN",
    "DEFAULT_START_TIMEOUT",
    "HEARTBEAT_INTERVAL",
    "LOCAL_HOST",
    "MAX_HISTORY_READ",
    "MAX_SAL_INDEX",
    "MAX_SEQ_NUM",
    "MIN_QUEUE_LEN",
    "TAI_MINUS_UTC",
    "AckError",
    "AckTimeoutError",
    "ExpectedError",
    "SalRetCode",
    "ScriptState",
    "State",
    "WildcardIndexError",
    "as_salRetCode",
    "as_state",
    "current_tai",
    "get_user_host",
    "name_to_name_index",
]

import enum
import getpass
import re
import socket
import time
from typing import Any

MAX_SAL_INDEX = (1 << 31) - 1
"""Largest allowed SAL index (the index is a signed 32-bit int)."""

MAX_SEQ_NUM = (1 << 31) - 1
"""Largest ``private_seqNum`` a writer uses before wrapping around."""

DEFAULT_ACK_TIMEOUT = 3600.0
"""Default time limit (seconds) for `RemoteCommand.start` and friends."""

DEFAULT_START_TIMEOUT = 30.0
"""Default time limit (seconds) for a component to start."""

DEFAULT_QUEUE_LEN = 100
"""Number of messages a read topic queues before dropping the oldest."""

MIN_QUEUE_LEN = 10
"""Smallest ``queue_len`` a read topic accepts."""

MAX_HISTORY_READ = 500
"""Most historical messages per topic an indexed-component reader with
index 0 looks through for the last message of each index (as salobj; the
``LSST_MAX_HISTORY_READ`` environment variable overrides it there). The
transports of this runtime keep the last message per index themselves, so
the value is informative only.
"""

LOCAL_HOST = "127.0.0.1"
"""Numeric address of the local host."""

_NAME_INDEX_REGEX = re.compile(r"(?P<name>[a-zA-Z_-][a-zA-Z0-9_-]*)(:(?P<index>\d+|\*))?$")

HEARTBEAT_INTERVAL = 1.0
"""Default interval (seconds) between ``heartbeat`` events."""

TAI_MINUS_UTC = 37.0
"""TAI - UTC (seconds), constant since the leap second of 2017-01-01."""


class State(enum.IntEnum):
    """CSC summary state."""

    DISABLED = 1
    ENABLED = 2
    FAULT = 3
    OFFLINE = 4
    STANDBY = 5


class ScriptState(enum.IntEnum):
    """SAL script state."""

    UNKNOWN = 0
    UNCONFIGURED = 1
    CONFIGURED = 2
    RUNNING = 3
    PAUSED = 4
    ENDING = 5
    STOPPING = 6
    FAILING = 7
    DONE = 8
    STOPPED = 9
    FAILED = 10
    CONFIGURE_FAILED = 11


class SalRetCode(enum.IntEnum):
    """Command acknowledgement codes (``ackcmd.ack``)."""

    CMD_ACK = 300
    CMD_INPROGRESS = 301
    CMD_STALLED = 302
    CMD_COMPLETE = 303
    CMD_NOPERM = -300
    CMD_NOACK = -301
    CMD_FAILED = -302
    CMD_ABORTED = -303
    CMD_TIMEOUT = -304


class AckError(Exception):
    """A command failed: the controller sent a failure acknowledgement.

    Parameters
    ----------
    msg : `str`
        Error message.
    ackcmd : ``ackcmd`` data
        The command acknowledgement that reported the failure.
    """

    def __init__(self, msg: str, ackcmd: Any) -> None:
        super().__init__(msg)
        self.ackcmd = ackcmd

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self!s})"

    def __str__(self) -> str:
        if self.ackcmd is None:
            return str(self.args[0])
        ack = getattr(self.ackcmd, "ack", 0)
        try:
            ack_name = SalRetCode(ack).name
        except ValueError:
            ack_name = str(ack)
        seq_num = getattr(self.ackcmd, "private_seqNum", 0)
        return (
            f"msg={self.args[0]!r}, ackcmd=(ackcmd private_seqNum={seq_num}, "
            f"ack=<SalRetCode.{ack_name}: {ack}>, error={getattr(self.ackcmd, 'error', 0)}, "
            f"result={getattr(self.ackcmd, 'result', '')!r})"
        )


class AckTimeoutError(AckError, TimeoutError):
    """No final command acknowledgement arrived in time.

    ``ackcmd`` is the last acknowledgement seen, or one with
    ``ack=SalRetCode.CMD_NOACK`` if none was seen. It also is a
    `TimeoutError`, so ``except TimeoutError`` handlers catch it.
    """


class WildcardIndexError(ValueError):
    """A component name's index is the wildcard "*" (``"Name:*"``).

    Parameters
    ----------
    name : `str`
        Component name (without the index).
    """

    def __init__(self, name: str) -> None:
        super().__init__(f"The index of component {name!r} is the wildcard '*', not a number")
        self.name = name


def name_to_name_index(name: str) -> tuple[str, int]:
    """Split a component name of the form ``name[:index]``.

    Parameters
    ----------
    name : `str`
        "Name" or "Name:index"; no blanks anywhere.

    Returns
    -------
    name_index : `tuple` [`str`, `int`]
        The name and the index (0 if none is given).

    Raises
    ------
    WildcardIndexError
        If the index is "*".
    ValueError
        If ``name`` is not of the form ``name`` or ``name:index`` (leading or
        trailing blanks, an empty or non-integer index).

    Examples
    --------
    "Script" → ("Script", 0); "Script:15" → ("Script", 15);
    "Script:" and " Script" raise `ValueError`.
    """
    match = _NAME_INDEX_REGEX.match(name)
    if match is None:
        raise ValueError(f"name {name!r} is not of the form 'name' or 'name:index' (e.g. 'Script:1')")
    index_str = match["index"]
    if index_str is None:
        return match["name"], 0
    if index_str == "*":
        raise WildcardIndexError(match["name"])
    return match["name"], int(index_str)


def get_user_host() -> str:
    """Return ``user@host``, with the host's fully qualified domain name.

    Returns
    -------
    user_host : `str`
        The user name and the host name.
    """
    return f"{getpass.getuser()}@{socket.getfqdn()}"


def as_state(value: int) -> State | int:
    """Return ``value`` as a `State` if it is one, else unchanged.

    Parameters
    ----------
    value : `int`
        A summary state value, possibly unknown.

    Returns
    -------
    state : `State` or `int`
        The `State`, or ``value`` if it is no known state.
    """
    try:
        return State(value)
    except ValueError:
        return value


def as_salRetCode(value: int) -> SalRetCode | int:  # noqa: N802
    """Return ``value`` as a `SalRetCode` if it is one, else unchanged.

    Parameters
    ----------
    value : `int`
        An acknowledgement code, possibly unknown.

    Returns
    -------
    code : `SalRetCode` or `int`
        The `SalRetCode`, or ``value`` if it is no known code.
    """
    try:
        return SalRetCode(value)
    except ValueError:
        return value


class ExpectedError(Exception):
    """An error whose message says it all: it is reported without a traceback.

    Raise it for an operator's mistake (a command in the wrong state, a bad
    configuration value). A command callback raising it is acknowledged
    with ``CMD_FAILED`` and the message, but no traceback is logged.
    """


def current_tai() -> float:
    """Return the current time as TAI unix seconds.

    Returns
    -------
    tai : `float`
        TAI time in unix seconds (UTC unix seconds plus `TAI_MINUS_UTC`),
        the time scale of ``private_sndStamp`` and ``private_rcvStamp``.
    """
    return time.time() + TAI_MINUS_UTC
