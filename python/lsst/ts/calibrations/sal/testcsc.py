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

"""TestCsc: a CSC of the Test component, for testing the SAL runtime and its users."""

__all__ = ["TestCsc", "run_test_csc"]

import asyncio
import functools
import os
import pathlib
import string
import types
from collections.abc import Sequence
from typing import Any, ClassVar

from ..version import __version__
from .base import ExpectedError, SalRetCode, State
from .config_schema import CONFIG_SCHEMA
from .configurable_csc import ConfigurableCsc

DEFAULT_CONFIG_DIR = pathlib.Path(__file__).parent / "data" / "config" / "Test" / "v2"
"""Configuration directory of `TestCsc` when ``$TS_CONFIG_OCS_DIR`` is not set."""


@functools.cache
def _field_types() -> dict[str, Any]:
    """Return field name: element type of the ``scalars``/``arrays`` fields.

    numpy is imported here, not at module load: this module is part of the
    SAL runtime's package, which every script imports at start.
    """
    import numpy as np

    return dict(
        boolean0=bool,
        byte0=np.uint8,
        short0=np.int16,
        int0=np.int32,
        long0=np.int32,
        longLong0=np.int64,
        unsignedShort0=np.uint16,
        unsignedInt0=np.uint32,
        float0=np.single,
        double0=np.double,
        string0=str,
    )


_INT_FIELDS = ("byte0", "short0", "int0", "long0", "longLong0", "unsignedShort0", "unsignedInt0")
_ARRAYS_FIELDS = ("boolean0", *_INT_FIELDS, "float0", "double0")
_SCALARS_FIELDS = (*_ARRAYS_FIELDS, "string0")


class TestCsc(ConfigurableCsc):
    """A configurable CSC of the ``Test`` component (as salobj's TestCsc).

    Commands (``setScalars``, ``setArrays`` and ``wait`` need ENABLED):

    * ``setScalars``: write the fields to ``evt_scalars`` and ``tel_scalars``;
    * ``setArrays``: write the fields to ``evt_arrays`` and ``tel_arrays``;
    * ``fault``: go to FAULT state (errorCode 1);
    * ``wait``: if ``duration`` >= 0 acknowledge in progress with
      ``timeout=duration``; sleep ``abs(duration)`` seconds (a negative
      duration tests command time-outs, as salobj); then end as the
      ``ack`` field says (an addition to salobj, where it is ignored):
      0 or ``CMD_COMPLETE`` completes, ``CMD_FAILED`` fails,
      ``CMD_TIMEOUT`` times out, ``CMD_ABORTED`` aborts. Several may run
      at once.

    Parameters
    ----------
    index : `int`
        SAL index (nonzero).
    config_dir : `str`, `pathlib.Path` or `None`, optional
        Configuration directory; None for ``$TS_CONFIG_OCS_DIR/Test/v2``
        or, if that variable is not set, the directory shipped with this
        package (`DEFAULT_CONFIG_DIR`).
    check_if_duplicate : `bool`, optional
        See `BaseCsc`.
    initial_state : `State`, optional
        State to reach after starting.
    override : `str`, optional
        Configuration override applied on the way to DISABLED or ENABLED.
    simulation_mode : `int`, optional
        Simulation mode: 0.
    heartbeat_interval : `float`, optional
        Interval (seconds) between heartbeats; 1 s if None.

    Attributes
    ----------
    config : `types.SimpleNamespace` or `None`
        The configuration applied by the last ``start``; None before.

    Raises
    ------
    ValueError
        If ``index`` is 0, or another argument is invalid.
    RuntimeError
        If ``$LSST_SITE`` is not set.

    Notes
    -----
    Error codes: 1: the ``fault`` command was run.
    """

    __test__ = False  # Not a pytest test class.

    enable_cmdline_state: ClassVar[bool] = True
    valid_simulation_modes: ClassVar[tuple[int, ...]] = (0,)
    version: ClassVar[str] = __version__

    def __init__(
        self,
        index: int,
        config_dir: str | pathlib.Path | None = None,
        check_if_duplicate: bool = False,
        initial_state: State | int = State.STANDBY,
        override: str = "",
        simulation_mode: int = 0,
        *,
        heartbeat_interval: float | None = None,
    ) -> None:
        if index == 0:
            raise ValueError("index must be nonzero for TestCsc")
        self.config: types.SimpleNamespace | None = None
        super().__init__(
            "Test",
            index=index,
            config_schema=CONFIG_SCHEMA,
            config_dir=config_dir,
            check_if_duplicate=check_if_duplicate,
            initial_state=initial_state,
            override=override,
            simulation_mode=simulation_mode,
            heartbeat_interval=heartbeat_interval,
        )
        self.cmd_wait.allow_multiple_callbacks = True

    @staticmethod
    def get_config_pkg() -> str:
        """Return "ts_config_ocs"."""
        return "ts_config_ocs"

    def _get_default_config_dir(self, name: str) -> pathlib.Path:
        if "TS_CONFIG_OCS_DIR" in os.environ:
            return super()._get_default_config_dir(name)
        return DEFAULT_CONFIG_DIR

    async def configure(self, config: types.SimpleNamespace) -> None:
        """Keep the configuration as `config`.

        Parameters
        ----------
        config : `types.SimpleNamespace`
            Validated configuration.
        """
        self.config = config

    async def do_setScalars(self, data: Any) -> None:
        """Write the command's scalar fields to ``evt_scalars`` and ``tel_scalars``."""
        self.assert_enabled("setScalars")
        await self._copy_and_write(data, "scalars")

    async def do_setArrays(self, data: Any) -> None:
        """Write the command's array fields to ``evt_arrays`` and ``tel_arrays``."""
        self.assert_enabled("setArrays")
        await self._copy_and_write(data, "arrays")

    async def _copy_and_write(self, data: Any, topic_name: str) -> None:
        command = self.cmd_setScalars if topic_name == "scalars" else self.cmd_setArrays
        values = command.topic_info.get_values(data)
        for topic in (getattr(self, f"evt_{topic_name}"), getattr(self, f"tel_{topic_name}")):
            fields = topic.topic_info.fields
            await topic.set_write(**{name: value for name, value in values.items() if name in fields})

    async def do_fault(self, data: Any) -> None:
        """Go to FAULT state (errorCode 1)."""
        await self.fault(code=1, report="Method do_fault called")

    async def do_wait(self, data: Any) -> None:
        """Wait ``abs(duration)`` seconds, then end as the ``ack`` field says.

        Raises
        ------
        ExpectedError
            If not ENABLED, or ``ack`` is CMD_FAILED or not a final code.
        TimeoutError
            If ``ack`` is CMD_TIMEOUT.
        asyncio.CancelledError
            If ``ack`` is CMD_ABORTED.
        """
        self.assert_enabled("wait")
        if data.duration >= 0:
            await self.cmd_wait.ack_in_progress(data, timeout=data.duration)
        await asyncio.sleep(abs(data.duration))
        ack = getattr(data, "ack", 0)
        if ack in (0, SalRetCode.CMD_COMPLETE):
            return
        if ack == SalRetCode.CMD_TIMEOUT:
            raise TimeoutError("wait ended with CMD_TIMEOUT, as asked")
        if ack == SalRetCode.CMD_ABORTED:
            raise asyncio.CancelledError()
        if ack == SalRetCode.CMD_FAILED:
            raise ExpectedError("wait ended with CMD_FAILED, as asked")
        raise ExpectedError(
            f"wait: ack={ack} is not one of CMD_COMPLETE, CMD_FAILED, CMD_TIMEOUT or CMD_ABORTED"
        )

    # Helpers for tests, as salobj's.

    @property
    def field_type(self) -> dict[str, Any]:
        """Field name: element type, of the ``scalars``/``arrays`` fields."""
        return dict(_field_types())

    @property
    def arrays_fields(self) -> Sequence[str]:
        """Names of the fields of an ``arrays`` message."""
        return _ARRAYS_FIELDS

    @property
    def scalars_fields(self) -> Sequence[str]:
        """Names of the fields of a ``scalars`` message."""
        return _SCALARS_FIELDS

    @property
    def int_fields(self) -> Sequence[str]:
        """Names of the integer fields."""
        return _INT_FIELDS

    def as_dict(self, data: Any, fields: Sequence[str]) -> dict[str, Any]:
        """Return the given fields of a message as a dict.

        Parameters
        ----------
        data : `typing.Any`
            A message (or any object with these attributes).
        fields : sequence of `str`
            Field names.

        Returns
        -------
        values : `dict` [`str`, `typing.Any`]
            Field name: value.
        """
        return {field: getattr(data, field) for field in fields}

    def assert_arrays_equal(self, arrays1: Any, arrays2: Any) -> None:
        """Assert that two ``arrays`` messages (or dicts) have equal fields.

        Raises
        ------
        AssertionError
            Naming the first field that differs (NaN equals NaN for floats).
        """
        self._assert_fields_equal(arrays1, arrays2, self.arrays_fields, "arrays")

    def assert_scalars_equal(self, scalars1: Any, scalars2: Any) -> None:
        """Assert that two ``scalars`` messages (or dicts) have equal fields.

        Raises
        ------
        AssertionError
            Naming the first field that differs (NaN equals NaN for floats).
        """
        self._assert_fields_equal(scalars1, scalars2, self.scalars_fields, "scalars")

    @staticmethod
    def _assert_fields_equal(data1: Any, data2: Any, fields: Sequence[str], what: str) -> None:
        if isinstance(data1, dict):
            data1 = types.SimpleNamespace(**data1)
        if isinstance(data2, dict):
            data2 = types.SimpleNamespace(**data2)
        for field in reversed(fields):
            value1, value2 = getattr(data1, field), getattr(data2, field)
            is_float = field in ("float0", "double0")
            if field == "string0":
                equal = value1 == value2
            else:
                import numpy as np

                equal = bool(np.array_equal(value1, value2, equal_nan=is_float))
            if not equal:
                raise AssertionError(f"{what}1.{field} = {value1!r} != {value2!r} = {what}2.{field}")

    def make_random_arrays_dict(self) -> dict[str, Any]:
        """Return random values for every field of an ``arrays`` message.

        Returns
        -------
        values : `dict` [`str`, `numpy.ndarray`]
            Field name: array of the field's length and type.
        """
        import numpy as np

        blank = self.evt_arrays.DataType()
        rng = np.random.default_rng()
        values: dict[str, Any] = {}
        values["boolean0"] = rng.choice([False, True], size=len(blank.boolean0))
        for field in _INT_FIELDS:
            dtype = _field_types()[field]
            iinfo = np.iinfo(dtype)
            values[field] = rng.integers(iinfo.min, iinfo.max, size=len(getattr(blank, field)), dtype=dtype)
        for field in ("float0", "double0"):
            size = len(getattr(blank, field))
            values[field] = np.array(rng.uniform(-1e5, 1e5, size=size), dtype=_field_types()[field])
        return values

    def make_random_scalars_dict(self) -> dict[str, Any]:
        """Return random values for every field of a ``scalars`` message.

        Returns
        -------
        values : `dict` [`str`, `typing.Any`]
            Field name: value of the field's type (``string0``: 20
            printable characters).
        """
        import numpy as np

        rng = np.random.default_rng()
        values: dict[str, Any] = {}
        values["boolean0"] = bool(rng.choice([False, True]))
        values["string0"] = "".join(rng.choice(list(string.printable), size=20))
        for field in _INT_FIELDS:
            dtype = _field_types()[field]
            iinfo = np.iinfo(dtype)
            values[field] = rng.integers(iinfo.min, iinfo.max, dtype=dtype)
        for field in ("float0", "double0"):
            values[field] = _field_types()[field](rng.uniform(-1e5, 1e5))
        return values


def run_test_csc() -> None:
    """Run the Test CSC from the command line (index required)."""
    asyncio.run(TestCsc.amain(index=True))
