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

"""Result of `WriteTopic.set_write`."""

__all__ = ["SetWriteResult"]

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class SetWriteResult:
    """What `WriteTopic.set_write` did.

    Attributes
    ----------
    was_written : `bool`
        Was the message written? (``did_write`` is an alias.)
    did_change : `bool`
        Did any field change (always True for the first message)?
    data : ``DataType``
        The topic's data after the call.
    """

    was_written: bool
    did_change: bool
    data: Any

    @property
    def did_write(self) -> bool:
        """Alias of `was_written`."""
        return self.was_written
