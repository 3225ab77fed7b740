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

"""The readers a DDS writer has matched: one complete list, however many there are."""

import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cyclonedds.domain import DomainParticipant
from cyclonedds.idl import IdlStruct
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic

from lsst.ts.calibrations.sal.dds_domain import NUM_DOMAIN_IDS, DdsDomain, delete_entity, make_cyclone_config
from lsst.ts.calibrations.sal.dds_matching import matched_subscriptions


@dataclasses.dataclass
class Sample(IdlStruct, typename="test_dds_matching.Sample"):
    value: int


@pytest.fixture
def participant() -> Iterator[DomainParticipant]:
    """A participant on the loopback, on a domain ID above those of the package's subnames."""
    domain_id = NUM_DOMAIN_IDS + 7
    DdsDomain.acquire(domain_id, make_cyclone_config())
    try:
        participant = DomainParticipant(domain_id)
        yield participant
        delete_entity(participant)
    finally:
        DdsDomain.release(domain_id)


def writer_and_readers(participant: DomainParticipant, n_readers: int) -> tuple[Any, list[Any]]:
    topic = Topic(participant, "matching_" + uuid.uuid4().hex[:8], Sample)
    writer = DataWriter(participant, topic)
    readers = [DataReader(participant, topic) for _ in range(n_readers)]
    return writer, readers


def test_more_readers_than_room_are_all_returned(participant: DomainParticipant) -> None:
    # Cyclone answers with how many readers match, which may exceed the room given (a reader
    # matched since the room was sized): the list is read again, whole, rather than indexed
    # past its end ("invalid index").
    writer, readers = writer_and_readers(participant, 3)
    expected = sorted(reader.get_instance_handle() for reader in readers)
    for capacity in (1, 2, 3, 16):
        assert sorted(matched_subscriptions(writer, capacity=capacity)) == expected
    assert matched_subscriptions(writer_and_readers(participant, 0)[0]) == []


def test_capacity_must_be_positive(participant: DomainParticipant) -> None:
    writer, _ = writer_and_readers(participant, 1)
    with pytest.raises(ValueError, match="capacity=0 must be >= 1"):
        matched_subscriptions(writer, capacity=0)
