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

"""The readers a DDS writer has matched, read as one consistent list.

Cyclone's ``dds_get_matched_subscriptions(writer, handles, size)`` fills at
most ``size`` handles and returns how many readers match *now*, which may
be more than ``size``. cyclonedds-python's
``DataWriter.get_matched_subscriptions`` asks for the count in one call,
makes a buffer of that size and reads as many handles as the second call
returns: a reader matched between the two calls (another process starting
its readers, discovered by Cyclone's own threads) makes it index past its
buffer, and ctypes raises ``IndexError("invalid index")``.
`matched_subscriptions` keeps to the C contract instead: an answer that
does not fit its buffer is read again into one large enough, so every list
it returns is one complete snapshot.
"""

__all__ = ["INITIAL_CAPACITY", "matched_subscriptions"]

import ctypes
from typing import Any

from cyclonedds.core import DDSException
from cyclonedds.internal import dds_c_t

INITIAL_CAPACITY = 16
"""Handles the first read makes room for."""


def matched_subscriptions(dds_writer: Any, capacity: int = INITIAL_CAPACITY) -> list[int]:
    """Return the instance handles of the readers a writer has matched.

    Parameters
    ----------
    dds_writer : `cyclonedds.pub.DataWriter`
        The writer.
    capacity : `int`, optional
        Handles the first read makes room for (>= 1); a larger answer is
        read again into a buffer of twice its size.

    Returns
    -------
    handles : `list` [`int`]
        Instance handles of the matched readers (for
        ``get_matched_subscription_data``), all of one moment.

    Raises
    ------
    ValueError
        If ``capacity`` < 1.
    cyclonedds.core.DDSException
        If Cyclone reports an error (e.g. the writer was deleted).
    """
    if capacity < 1:
        raise ValueError(f"capacity={capacity} must be >= 1")
    while True:
        buffer = (dds_c_t.instance_handle * capacity)()
        pointer = ctypes.cast(buffer, ctypes.POINTER(dds_c_t.instance_handle))
        count = dds_writer._get_matched_subscriptions(dds_writer._ref, pointer, capacity)
        if count < 0:
            raise DDSException(count, f"getting the matched subscriptions of {dds_writer!r}")
        if count <= capacity:
            return list(buffer[:count])
        capacity = 2 * count
