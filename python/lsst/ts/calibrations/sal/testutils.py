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
"""Test helpers of salobj: assertions on command acknowledgements and topic names."""

__all__ = [
    "assertRaisesAckError",
    "assertRaisesAckTimeoutError",
    "delete_kafka_topics",
    "set_random_lsst_dds_partition_prefix",
    "set_test_topic_subname",
]

import base64
import contextlib
import os
import warnings
from collections.abc import Iterator

from .base import AckError, AckTimeoutError


def _check_ackcmd(e: AckError, ack: int | None, error: int | None, result_contains: str | None) -> None:
    if ack is not None and e.ackcmd.ack != ack:
        raise AssertionError(f"ackcmd.ack={e.ackcmd.ack} instead of {ack}") from e
    if error is not None and e.ackcmd.error != error:
        raise AssertionError(f"ackcmd.error={e.ackcmd.error} instead of {error}") from e
    if result_contains is not None and result_contains not in e.ackcmd.result:
        raise AssertionError(f"ackcmd.result={e.ackcmd.result!r} does not contain {result_contains!r}") from e


@contextlib.contextmanager
def assertRaisesAckError(  # noqa: N802
    ack: int | None = None, error: int | None = None, result_contains: str | None = None
) -> Iterator[None]:
    """Assert that the body raises `AckError` with the given fields.

    Parameters
    ----------
    ack : `int`, optional
        Expected ``ackcmd.ack`` (a `SalRetCode`); not checked if None.
    error : `int`, optional
        Expected ``ackcmd.error``; not checked if None.
    result_contains : `str`, optional
        Text ``ackcmd.result`` must contain; not checked if None.

    Raises
    ------
    AssertionError
        If no `AckError` is raised, or a field differs.
    """
    try:
        yield
    except AckError as e:
        _check_ackcmd(e, ack, error, result_contains)
    else:
        raise AssertionError("AckError not raised")


@contextlib.contextmanager
def assertRaisesAckTimeoutError(  # noqa: N802
    ack: int | None = None, error: int | None = None
) -> Iterator[None]:
    """Assert that the body raises `AckTimeoutError` with the given fields.

    Parameters
    ----------
    ack : `int`, optional
        Expected ``ackcmd.ack`` of the last acknowledgement seen
        (``CMD_NOACK`` if none); not checked if None.
    error : `int`, optional
        Expected ``ackcmd.error``; not checked if None.

    Raises
    ------
    AssertionError
        If no `AckTimeoutError` is raised, or a field differs.
    """
    try:
        yield
    except AckTimeoutError as e:
        _check_ackcmd(e, ack, error, None)
    else:
        raise AssertionError("AckTimeoutError not raised")


def set_test_topic_subname(randomize: bool = False) -> None:
    """Set ``LSST_TOPIC_SUBNAME`` to a test value: "test_" and the process
    ID (or random bytes), base64-encoded.

    Parameters
    ----------
    randomize : `bool`, optional
        Use random bytes instead of the process ID.

    Notes
    -----
    salobj uses the variable to keep the Kafka topics of concurrent tests
    apart; here it selects the DDS domain and partition of the
    multi-process transport (see `isolation_name`), to the same end.
    Processes started afterwards inherit it.
    """
    if randomize:
        root = os.urandom(12)
    else:
        pid = os.getpid()
        root = pid.to_bytes(length=(pid.bit_length() + 7) // 8, byteorder="big")
    suffix = base64.urlsafe_b64encode(root).decode().replace("=", "").replace("-", "")
    os.environ["LSST_TOPIC_SUBNAME"] = f"test_{suffix}"


def set_random_lsst_dds_partition_prefix() -> None:
    """Deprecated synonym of `set_test_topic_subname`."""
    warnings.warn("Call set_test_topic_subname instead", DeprecationWarning, stacklevel=2)
    set_test_topic_subname()


async def delete_kafka_topics() -> None:
    """Delete the Kafka topics of this test's ``LSST_TOPIC_SUBNAME``: here
    there are none, so this does nothing.

    salobj's test cases call it in ``asyncTearDown``; this runtime keeps no
    topics between runs (the in-process bus lives with its event loop, DDS
    keeps nothing once the processes exit), so there is nothing to delete
    and the call returns at once, leaving salobj tests runnable unchanged.
    """
