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

"""Certify calibrations: give datasets a validity range in a CALIBRATION collection.

The equivalent of ``butler certify-calibrations`` through the butler API.
Validity ranges are half-open, [begin, end), in TAI. Every dataset of the
type found in the input collections (first match per data ID, in collection
order) is certified; overlaps with ranges already in the CALIBRATION
collection for the same data ID are found before anything is written, and
the whole certification is one transaction. Certifying the same dataset
again with the same range is a no-op.
"""

__all__ = ["certify_calibrations", "overlapping_certifications", "to_tai"]

import datetime
from collections.abc import Iterable

import astropy.time
from lsst.daf.butler import Butler, CollectionType, DatasetAssociation, DatasetRef, Timespan
from lsst.daf.butler.registry import (
    ConflictingDefinitionError,
    MissingCollectionError,
    MissingDatasetTypeError,
)

from .errors import CertificationConflictError

type DateLike = datetime.date | datetime.datetime | str | astropy.time.Time


def to_tai(value: DateLike, name: str = "date") -> astropy.time.Time:
    """Convert a date to an astropy `~astropy.time.Time` in TAI.

    Parameters
    ----------
    value : `datetime.date`, `datetime.datetime`, `str` or `astropy.time.Time`
        A date (midnight TAI), a datetime (naive: TAI; aware: converted),
        an ISO string (TAI) or a Time (converted to TAI).
    name : `str`, optional
        Name of the argument, for error messages.

    Returns
    -------
    time : `astropy.time.Time`
        The time, scale TAI.

    Raises
    ------
    ValueError
        Raised if the value is not a date of a supported kind.
    """
    try:
        if isinstance(value, astropy.time.Time):
            return value.tai
        if isinstance(value, datetime.datetime):
            if value.tzinfo is not None:
                return astropy.time.Time(value.astimezone(datetime.UTC).replace(tzinfo=None), scale="utc").tai
            return astropy.time.Time(value, scale="tai")
        if isinstance(value, datetime.date):
            return astropy.time.Time(value.isoformat() + "T00:00:00", format="isot", scale="tai")
        if isinstance(value, str):
            return astropy.time.Time(value.strip(), scale="tai")
    except ValueError as e:
        raise ValueError(
            f"{name}={value!r} is not a valid date: use an ISO date such as 2024-10-24. ({e})"
        ) from e
    raise ValueError(
        f"{name}={value!r} has type {type(value).__name__}: use datetime.date, an ISO string or astropy Time."
    )


def certify_calibrations(
    butler: Butler,
    input_collections: str | Iterable[str],
    calib_collection: str,
    dataset_type: str,
    begin: DateLike,
    end: DateLike,
) -> list[DatasetRef]:
    """Certify the datasets of a type into a CALIBRATION collection with validity [begin, end).

    Parameters
    ----------
    butler : `lsst.daf.butler.Butler`
        A writeable butler.
    input_collections : `str` or `~collections.abc.Iterable` [`str`]
        Collections searched, in order, for the datasets (first match per
        data ID).
    calib_collection : `str`
        CALIBRATION collection; created if missing.
    dataset_type : `str`
        Dataset type name, e.g. "bias".
    begin, end : `datetime.date`, `datetime.datetime`, `str` or `astropy.time.Time`
        Validity range, begin inclusive, end exclusive; TAI (see `to_tai`).

    Returns
    -------
    refs : `list` [`lsst.daf.butler.DatasetRef`]
        The certified datasets (including any already certified with the
        same range).

    Raises
    ------
    ValueError
        Raised if ``begin`` is not before ``end``, a date is malformed, or
        ``calib_collection`` exists and is not a CALIBRATION collection.
    LookupError
        Raised if no dataset of the type is found in the inputs.
    CertificationConflictError
        Raised, with nothing written, if a data ID already has an
        overlapping validity range in ``calib_collection``; the message
        names each data ID and its existing range.
    """
    t_begin = to_tai(begin, "begin")
    t_end = to_tai(end, "end")
    if not t_begin < t_end:
        raise ValueError(f"begin={t_begin.isot} TAI must be before end={t_end.isot} TAI.")
    timespan = Timespan(t_begin, t_end)
    inputs = [input_collections] if isinstance(input_collections, str) else list(input_collections)
    if not inputs:
        raise ValueError("input_collections is empty: give at least one collection holding the datasets.")
    try:
        refs = butler.query_datasets(
            dataset_type, collections=inputs, find_first=True, explain=False, limit=None
        )
    except MissingCollectionError as e:
        raise LookupError(f"Cannot certify {dataset_type}: {e}") from e
    if not refs:
        raise LookupError(f"No {dataset_type!r} datasets in collections {inputs}: nothing to certify.")
    registry = butler.registry
    try:
        existing_type = butler.collections.get_info(calib_collection).type
    except MissingCollectionError:
        existing_type = None
    if existing_type is not None and existing_type != CollectionType.CALIBRATION:
        raise ValueError(
            f"calib_collection={calib_collection!r} is a {existing_type.name} collection; "
            "certification needs a CALIBRATION collection (give a new name or an existing CALIBRATION one)."
        )
    by_data_id = {ref.dataId: ref for ref in refs}
    to_certify: list[DatasetRef] = []
    conflicts: list[tuple[str, str]] = []
    already: set[DatasetRef] = set()
    if existing_type is not None:
        for association in overlapping_certifications(butler, calib_collection, dataset_type, timespan):
            ref = by_data_id.get(association.ref.dataId)
            if ref is None or association.timespan is None:
                continue
            if association.ref.id == ref.id and association.timespan == timespan:
                already.add(ref)
                continue
            conflicts.append((str(ref.dataId), _format_timespan(association.timespan)))
    if conflicts:
        details = "; ".join(f"{data_id} already valid {span}" for data_id, span in sorted(conflicts))
        raise CertificationConflictError(
            f"Cannot certify {dataset_type} into {calib_collection} for {_format_timespan(timespan)}: "
            f"overlapping validity for {len(conflicts)} data ID(s): {details}. Nothing was certified; "
            "choose a range that does not overlap or another CALIBRATION collection.",
            conflicts,
        )
    to_certify = [ref for ref in refs if ref not in already]
    try:
        with butler.transaction():
            registry.registerCollection(calib_collection, CollectionType.CALIBRATION)
            if to_certify:
                registry.certify(calib_collection, to_certify, timespan)
    except ConflictingDefinitionError as e:
        if isinstance(e, CertificationConflictError):
            raise
        # A concurrent certification won the race; nothing of ours was written.
        raise CertificationConflictError(
            f"Cannot certify {dataset_type} into {calib_collection} for {_format_timespan(timespan)}: "
            f"a concurrent certification overlaps ({e}). Nothing was certified.",
            [],
        ) from e
    return list(refs)


def overlapping_certifications(
    butler: Butler, calib_collection: str, dataset_type: str, timespan: Timespan
) -> list[DatasetAssociation]:
    """Certifications in a CALIBRATION collection whose validity overlaps a range.

    The one overlap search of the package: certification refuses what it
    finds, and the configure-time checks report it before any image is taken.

    Parameters
    ----------
    butler : `lsst.daf.butler.Butler`
        A butler on the repository.
    calib_collection : `str`
        The CALIBRATION collection.
    dataset_type : `str`
        Dataset type name, e.g. "bias".
    timespan : `lsst.daf.butler.Timespan`
        The validity range to compare with.

    Returns
    -------
    associations : `list` [`lsst.daf.butler.DatasetAssociation`]
        Every certification of ``dataset_type`` in ``calib_collection``
        (all data IDs) whose validity overlaps ``timespan``; empty if the
        dataset type is not registered.
    """
    try:
        associations = butler.registry.queryDatasetAssociations(dataset_type, collections=[calib_collection])
        return [a for a in associations if a.timespan is not None and a.timespan.overlaps(timespan)]
    except MissingDatasetTypeError:
        return []


def _format_timespan(timespan: Timespan) -> str:
    begin = timespan.begin.tai.isot if isinstance(timespan.begin, astropy.time.Time) else "-∞"
    end = timespan.end.tai.isot if isinstance(timespan.end, astropy.time.Time) else "+∞"
    return f"[{begin}, {end}) TAI"
