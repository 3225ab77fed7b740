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
"""TestCscCommander: command a Test CSC from the command line."""

__all__ = ["TestCscCommander", "command_test_csc"]

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from .csc_commander import BOOL_DICT, CscCommander
from .testcsc import _field_types

ARR_LEN = 5
"""Length of the array fields of the Test component."""


def _as_bool(text: str) -> bool:
    try:
        return BOOL_DICT[text.lower()]
    except KeyError:
        raise ValueError(f"{text!r} is not a boolean; use one of {sorted(BOOL_DICT)}") from None


class TestCscCommander(CscCommander):
    """Command a Test CSC, including ``setArrays`` (as salobj's).

    ``setArrays field=v1,v2,... field=...`` sets up to 5 values per field
    (missing ones are 0).

    Parameters
    ----------
    index : `int` or `None`
        SAL index of the CSC.
    enable : `bool`, optional
        Enable the CSC when the commander starts?
    """

    __test__ = False  # Not a pytest test class.

    def __init__(self, index: int | None, enable: bool = False) -> None:
        super().__init__(name="Test", index=index, enable=enable)
        # The arrays' element types are the CSC's (strings have no array field); booleans
        # are read from words such as "true" or "0".
        self.array_field_types: dict[str, Callable[[str], Any]] = {
            field: _as_bool if field == "boolean0" else cast
            for field, cast in _field_types().items()
            if field != "string0"
        }
        self.help_dict["setArrays"] = (
            f"field1=val1,val2,... field2=val1,val2,... (up to {ARR_LEN} values each)\n"
            f"          field: {' '.join(self.array_field_types)}\n"
            "          for example: boolean0=1,0 int0=3,-4,5,6,7 float0=-42.3"
        )

    async def do_setArrays(self, args: Sequence[str]) -> None:  # noqa: N802
        """Send ``setArrays`` from "field=v1,v2,..." arguments.

        Raises
        ------
        RuntimeError
            If a field is unknown or has more than 5 values.
        """
        kwargs: dict[str, list[Any]] = {}
        for field_values in args:
            field, _, text = field_values.partition("=")
            if field not in self.array_field_types:
                raise RuntimeError(f"Unknown field {field!r}; known: {' '.join(self.array_field_types)}")
            cast = self.array_field_types[field]
            values = [cast(item) for item in text.split(",")]
            if len(values) > ARR_LEN:
                raise RuntimeError(f"Field {field} has more than {ARR_LEN} values: {values}")
            values += [cast("0")] * (ARR_LEN - len(values))
            kwargs[field] = [value.item() if hasattr(value, "item") else value for value in values]
        await self.remote.cmd_setArrays.set_start(**kwargs)


def command_test_csc() -> None:
    """Run a `TestCscCommander` from the command line (index required)."""
    asyncio.run(TestCscCommander.amain(index=True))
