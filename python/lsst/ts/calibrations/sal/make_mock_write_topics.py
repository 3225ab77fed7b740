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
"""make_mock_write_topics: recording write topics, for testing code that writes."""

__all__ = ["make_mock_write_topics"]

import contextlib
import types
from collections.abc import AsyncGenerator, Sequence

from .domain import Domain
from .sal_info import SalInfo
from .topics.mock_write_topic import MockWriteTopic


@contextlib.asynccontextmanager
async def make_mock_write_topics(
    name: str, attr_names: Sequence[str], index: int | None = None
) -> AsyncGenerator[types.SimpleNamespace, None]:
    """Make `MockWriteTopic` instances of a component, as a namespace.

    Parameters
    ----------
    name : `str`
        SAL component name.
    attr_names : sequence of `str`
        Topic attribute names, e.g. ["tel_scalars", "evt_arrays"].
    index : `int` or `None`, optional
        SAL index written in ``salIndex``; None for 0 (not indexed) or 1
        (indexed).

    Yields
    ------
    topics : `types.SimpleNamespace`
        One attribute per name in ``attr_names``.

    Raises
    ------
    ValueError
        If ``attr_names`` is empty or names an unknown topic.
    """
    if not attr_names:
        raise ValueError("attr_names must name one or more topics, e.g. ['tel_scalars']")
    async with Domain() as domain:
        probe = SalInfo(domain=domain, name=name, index=0, write_only=True)
        if index is None:
            index = 1 if probe.indexed else 0
        await probe.close()
        async with SalInfo(domain=domain, name=name, index=index, write_only=True) as salinfo:
            topics = {
                attr_name: MockWriteTopic(salinfo=salinfo, attr_name=attr_name) for attr_name in attr_names
            }
            yield types.SimpleNamespace(**topics)
