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

"""CalibrationRepository: the one way the calibration script reaches its butler repository.

The script never imports the butler: everything it reads from or writes to
the repository goes through one `CalibrationRepository` per run, which opens
one `~lsst.daf.butler.Butler` on first use and keeps it until `close`. Every
method blocks (butler calls): the script calls them through
`asyncio.to_thread`. Calls from several threads are serialised by a lock,
and the registry's caches are refreshed before a read, because the OCPS
writes new collections from other processes while the run goes on.

What it offers, with plain Python values in and out:

- `exposure_records`: observation type and exposure time of exposures;
- `ingested_exposures`: which exposures have raws in the raw collection;
- `collection_type`, `missing_detectors`, `validity_ranges`,
  `overlapping_detectors`: the configure-time checks
  (`scripts.repository_checks`);
- `processed_detectors`, `failed_detectors`: which quanta of a task a job
  ran successfully, and which ran and failed (to name the exposures whose
  processing failed);
- `verification_statistics`, `ptc_extracts`: what the verdict and the gain
  report read from a job's output collection;
- `certify`: certification into a CALIBRATION collection
  (`certify_calibrations`);
- `define_run_collection`: one CHAINED collection over a run's outputs;
- `root` and `index_line`: where the repository is, and the line that
  reaches its alias from a new session.
"""

from __future__ import annotations

__all__ = ["CalibrationRepository"]

import datetime
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import astropy.time
from lsst.daf.butler import Butler, CollectionType, MissingDatasetTypeError, Timespan
from lsst.daf.butler.registry import MissingCollectionError

from .certify import certify_calibrations, overlapping_certifications, to_tai
from .ptc_dataset import PhotonTransferCurveDataset
from .repo_alias import INDEX_ENV_VAR, read_repository_index, repository_index_line, resolve_repository
from .repository import open_repository, raw_run

type DateLike = datetime.date | datetime.datetime | str | astropy.time.Time


def _seconds(time: astropy.time.Time) -> str:
    """ISO text (TAI) to the second, e.g. "2024-10-24T00:00:00"."""
    return str(astropy.time.Time(time, precision=0).tai.isot)


class CalibrationRepository:
    """The butler repository of one calibration run (see the module documentation).

    Parameters
    ----------
    repo : `str`
        Repository path or alias of the repository index (e.g.
        ``/repo/LSSTComCam``).
    instrument : `str`, optional
        Instrument of the data IDs.

    Notes
    -----
    Constructing one does not touch the repository (no blocking in an
    event loop); the butler is opened, writeable, by the first call.
    """

    def __init__(self, repo: str, instrument: str = "LSSTComCam") -> None:
        self.repo = str(repo)
        self.instrument = instrument
        self._butler: Butler | None = None
        self._lock = threading.RLock()
        self._closed = False

    # Lifecycle.

    @property
    def butler(self) -> Butler:
        """The butler of the run, opened on first use (blocking).

        Raises
        ------
        RuntimeError
            If the repository was closed.
        lsst.ts.calibrations.repo.errors.RepositoryError
            If ``repo`` is not a repository of the instrument nor a known alias.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError(f"The repository {self.repo} was closed.")
            if self._butler is None:
                self._butler = open_repository(self.repo, writeable=True, instrument=self.instrument)
            return self._butler

    def close(self) -> None:
        """Close the butler (idempotent; blocking)."""
        with self._lock:
            self._closed = True
            if self._butler is not None:
                self._butler.close()
                self._butler = None

    def _fresh(self) -> Butler:
        """The butler with its registry caches refreshed (others write too)."""
        butler = self.butler
        butler.registry.refresh()
        return butler

    # Where the repository is.

    @property
    def root(self) -> str:
        """The repository root as an absolute path (aliases resolved, as daf_butler does)."""
        return resolve_repository(self.repo)

    def index_line(self) -> str:
        """The Python line that makes ``repo`` reach the repository in a new session.

        Returns
        -------
        line : `str`
            ``import os; os.environ["DAF_BUTLER_REPOSITORY_INDEX"] = ...``
            when ``repo`` is a label of the repository index in use; ""
            when it is a path (nothing to set).
        """
        if self.repo not in read_repository_index():
            return ""
        index = os.environ.get(INDEX_ENV_VAR, "")
        if index:
            return repository_index_line(index.removeprefix("file://"), python=True)
        return f"import os; os.environ[{INDEX_ENV_VAR!r}] = ''  # set it to an index naming {self.repo}"

    # Exposures.

    def exposure_records(self, exposures: Iterable[int]) -> dict[int, tuple[str, float]]:
        """Observation type (lower case) and exposure time (s) of each exposure found.

        Parameters
        ----------
        exposures : iterable of `int`
            Exposure ids.

        Returns
        -------
        records : `dict` [`int`, `tuple` [`str`, `float`]]
            By exposure id, only those in the repository.
        """
        ids = sorted({int(i) for i in exposures})
        if not ids:
            return {}
        with self._lock:
            records = self._fresh().registry.queryDimensionRecords(
                "exposure",
                where=f"instrument = '{self.instrument}' AND exposure IN ({', '.join(str(i) for i in ids)})",
            )
            return {int(r.id): (str(r.observation_type).lower(), float(r.exposure_time)) for r in records}

    def ingested_exposures(self, exposures: Iterable[int], collection: str | None = None) -> list[int]:
        """The exposures of ``exposures`` that have raws in ``collection``, sorted.

        Parameters
        ----------
        exposures : iterable of `int`
            Exposure ids.
        collection : `str`, optional
            The raw collection; the instrument's ``<instrument>/raw/all`` by default.
        """
        collection = collection or raw_run(self.instrument)
        ids = sorted({int(i) for i in exposures})
        if not ids:
            return []
        with self._lock:
            try:
                refs = self._fresh().query_datasets(
                    "raw",
                    collections=[collection],
                    where=f"exposure IN ({', '.join(str(i) for i in ids)})",
                    instrument=self.instrument,
                    find_first=False,
                    explain=False,
                    limit=None,
                )
            except (MissingCollectionError, MissingDatasetTypeError):
                return []
            return sorted({int(ref.dataId["exposure"]) for ref in refs})

    # Configure-time checks.

    def collection_type(self, name: str) -> str | None:
        """The type of a collection ("RUN", "CALIBRATION", "CHAINED", "TAGGED"), None if missing."""
        with self._lock:
            try:
                return self._fresh().collections.get_info(name).type.name
            except MissingCollectionError:
                return None

    def missing_detectors(
        self,
        dataset_type: str,
        collections: Sequence[str],
        detectors: Sequence[int],
        filter_name: str | None = None,
        when: DateLike | None = None,
    ) -> list[int]:
        """Detectors with no ``dataset_type`` in ``collections``.

        Parameters
        ----------
        dataset_type : `str`
            E.g. "bias".
        collections : `list` [`str`]
            Existing collections searched.
        detectors : `list` [`int`]
            Detectors wanted.
        filter_name : `str`, optional
            Physical filter the dataset must have (flats).
        when : `str`, `datetime.date` or `astropy.time.Time`, optional
            If given, the dataset must be valid at this time (TAI): a
            calibration lookup by date, as ISR makes it.

        Returns
        -------
        missing : `list` [`int`]
            The detectors without one, in the order given.
        """
        if not collections:
            return list(detectors)
        with self._lock:
            butler = self._fresh()
            try:
                butler.get_dataset_type(dataset_type)
            except MissingDatasetTypeError:
                return list(detectors)
            if when is not None and (dataset_type != "flat" or filter_name is not None):
                t = to_tai(when, "when")
                at = Timespan(t, t + astropy.time.TimeDelta(1.0, format="sec"))
                missing = []
                for detector in detectors:
                    data_id: dict[str, Any] = {"instrument": self.instrument, "detector": detector}
                    if filter_name is not None:
                        data_id["physical_filter"] = filter_name
                    if (
                        butler.find_dataset(dataset_type, data_id, collections=list(collections), timespan=at)
                        is None
                    ):
                        missing.append(detector)
                return missing
            where = f"instrument = '{self.instrument}'"
            bind = None
            if filter_name is not None and dataset_type == "flat":
                where += " AND physical_filter = filter_name"
                bind = {"filter_name": filter_name}
            refs = butler.query_datasets(
                dataset_type,
                collections=list(collections),
                where=where,
                bind=bind,
                find_first=False,
                explain=False,
                limit=None,
            )
            found = {int(ref.dataId["detector"]) for ref in refs}
            return [detector for detector in detectors if detector not in found]

    def validity_ranges(
        self,
        dataset_type: str,
        collections: Sequence[str],
        detectors: Sequence[int],
        filter_name: str | None = None,
    ) -> dict[int, list[tuple[str, str, str]]]:
        """The validity ranges of ``dataset_type`` certified in ``collections``, per detector.

        A calibration lookup by date finds a certification whose range holds
        the date; this lists every range there is, to say why none does.

        Parameters
        ----------
        dataset_type : `str`
            E.g. "bias".
        collections : `list` [`str`]
            Existing collections searched (CHAINED ones are followed; only
            CALIBRATION collections have validity ranges).
        detectors : `list` [`int`]
            Detectors wanted.
        filter_name : `str`, optional
            Physical filter the dataset must have (flats); others are left out.

        Returns
        -------
        ranges : `dict` [`int`, `list` [`tuple` [`str`, `str`, `str`]]]
            Detector → ``(collection, begin, end)`` of each certification
            (ISO, TAI; "-inf"/"+inf" for an open end), sorted by begin;
            a detector with none is absent.
        """
        wanted = {int(d) for d in detectors}
        ranges: dict[int, list[tuple[str, str, str]]] = {}
        if not collections:
            return ranges
        with self._lock:
            butler = self._fresh()
            try:
                associations = list(
                    butler.registry.queryDatasetAssociations(
                        dataset_type,
                        collections=list(collections),
                        collectionTypes={CollectionType.CALIBRATION},
                        flattenChains=True,
                    )
                )
            except MissingDatasetTypeError:
                return ranges
        for association in associations:
            data_id = association.ref.dataId
            detector = int(data_id["detector"])
            if detector not in wanted or association.timespan is None:
                continue
            if filter_name is not None and "physical_filter" in data_id.dimensions.names:
                if data_id["physical_filter"] != filter_name:
                    continue
            span = association.timespan
            begin = _seconds(span.begin) if isinstance(span.begin, astropy.time.Time) else "-inf"
            end = _seconds(span.end) if isinstance(span.end, astropy.time.Time) else "+inf"
            ranges.setdefault(detector, []).append((association.collection, begin, end))
        for found in ranges.values():
            found.sort(key=lambda item: item[1])
        return ranges

    def overlapping_detectors(
        self,
        calib_collection: str,
        dataset_type: str,
        detectors: Iterable[int],
        begin: DateLike,
        end: DateLike,
        filter_name: str | None = None,
    ) -> list[int]:
        """Detectors with ``dataset_type`` certified in ``calib_collection`` over part of [begin, end).

        Uses the search certification itself refuses with
        (`overlapping_certifications`).

        Returns
        -------
        detectors : `list` [`int`]
            Sorted; a certification of another ``filter_name`` does not count.
        """
        wanted = set(detectors)
        span = Timespan(to_tai(begin, "certify_calib_begin_date"), to_tai(end, "certify_calib_end_date"))
        with self._lock:
            associations = overlapping_certifications(self._fresh(), calib_collection, dataset_type, span)
        found = set()
        for association in associations:
            data_id = association.ref.dataId
            if int(data_id["detector"]) not in wanted:
                continue
            if filter_name is not None and "physical_filter" in data_id.dimensions.names:
                if data_id["physical_filter"] != filter_name:
                    continue
            found.add(int(data_id["detector"]))
        return sorted(found)

    # What the processing reads and writes.

    def verification_statistics(self, collection: str, dataset_type: str) -> Mapping[Any, Any]:
        """The run-level verification statistics (``verify<X>Stats``) a job wrote.

        Parameters
        ----------
        collection : `str`
            The job's output collection.
        dataset_type : `str`
            E.g. "verifyBiasStats".
        """
        with self._lock:
            stats = self._fresh().get(dataset_type, instrument=self.instrument, collections=[collection])
        if not isinstance(stats, Mapping):
            raise TypeError(f"{dataset_type} in {collection} is a {type(stats).__name__}, not a mapping.")
        return stats

    def processed_detectors(
        self, collection: str, exposures: Iterable[int], label: str = "isr"
    ) -> dict[int, list[int]]:
        """Per exposure, the detectors whose ``label`` quantum ran successfully in a job.

        A quantum that succeeds writes ``<label>_metadata``; one that fails
        writes none. Every pipeline of this package labels its ISR ``isr``,
        the first task each exposure goes through.

        Parameters
        ----------
        collection : `str`
            The job's output collection (or RUN).
        exposures : iterable of `int`
            Exposure ids the job processed.
        label : `str`, optional
            Task label.

        Returns
        -------
        detectors : `dict` [`int`, `list` [`int`]]
            Exposure → sorted detector ids; every exposure given is a key
            (an empty list if none succeeded, or the collection is missing).
        """
        return self._detectors_with(f"{label}_metadata", collection, exposures)

    def failed_detectors(
        self, collection: str, exposures: Iterable[int], label: str = "isr"
    ) -> dict[int, list[int]]:
        """Per exposure, the detectors whose ``label`` quantum ran and failed in a job.

        A quantum that ran writes ``<label>_log``, whether it succeeded or
        failed (``pipetask`` and the OCPS's quantum workers alike); one that
        succeeded also writes ``<label>_metadata``. A quantum that never ran
        (the job failed before it, or was killed) writes neither.

        Parameters
        ----------
        collection, exposures, label
            As `processed_detectors`.

        Returns
        -------
        detectors : `dict` [`int`, `list` [`int`]]
            Exposure → sorted detector ids with a log and no metadata; every
            exposure given is a key.
        """
        exposures = list(exposures)
        ran = self._detectors_with(f"{label}_log", collection, exposures)
        succeeded = self.processed_detectors(collection, exposures, label)
        return {
            exposure: [d for d in detectors if d not in succeeded[exposure]]
            for exposure, detectors in ran.items()
        }

    def _detectors_with(
        self, dataset_type: str, collection: str, exposures: Iterable[int]
    ) -> dict[int, list[int]]:
        """Per exposure, the detectors with a ``dataset_type`` dataset in ``collection``."""
        found: dict[int, list[int]] = {int(e): [] for e in exposures}
        if not found:
            return found
        with self._lock:
            butler = self._fresh()
            try:
                refs = butler.query_datasets(
                    dataset_type,
                    collections=[collection],
                    where=f"exposure IN ({', '.join(str(i) for i in sorted(found))})",
                    instrument=self.instrument,
                    find_first=False,
                    explain=False,
                    limit=None,
                )
            except (MissingDatasetTypeError, MissingCollectionError):
                return found
        for ref in refs:
            exposure = int(ref.dataId["exposure"])
            if exposure in found:
                found[exposure].append(int(ref.dataId["detector"]))
        return {exposure: sorted(set(detectors)) for exposure, detectors in found.items()}

    def ptc_extracts(
        self, collection: str, exposures: Sequence[int], detectors: Sequence[int]
    ) -> dict[tuple[int, int], PhotonTransferCurveDataset]:
        """The ``cpPtcExtract`` of each (exposure, detector) a job wrote."""
        extracts: dict[tuple[int, int], PhotonTransferCurveDataset] = {}
        with self._lock:
            butler = self._fresh()
            for exposure in exposures:
                for detector in detectors:
                    extracts[(int(exposure), int(detector))] = butler.get(
                        "cpPtcExtract",
                        instrument=self.instrument,
                        detector=detector,
                        exposure=exposure,
                        collections=[collection],
                    )
        return extracts

    def certify(
        self, inputs: Sequence[str], calib_collection: str, dataset_type: str, begin: DateLike, end: DateLike
    ) -> int:
        """Certify ``dataset_type`` of ``inputs`` into ``calib_collection`` over [begin, end).

        Returns
        -------
        count : `int`
            Datasets certified (see `certify_calibrations` for the errors).
        """
        with self._lock:
            return len(
                certify_calibrations(self._fresh(), list(inputs), calib_collection, dataset_type, begin, end)
            )

    def define_run_collection(self, name: str, children: Sequence[str]) -> list[str]:
        """Make (or redefine) a CHAINED collection over a run's collections.

        Parameters
        ----------
        name : `str`
            The chain.
        children : `list` [`str`]
            Collections in search order; those that do not exist are left
            out (a job that never wrote anything).

        Returns
        -------
        children : `list` [`str`]
            The children of the chain, in order (empty: no chain made).
        """
        with self._lock:
            butler = self._fresh()
            existing = []
            for child in dict.fromkeys(children):
                try:
                    butler.collections.get_info(child)
                except MissingCollectionError:
                    continue
                existing.append(child)
            if existing:
                butler.collections.register(name, CollectionType.CHAINED)
                butler.collections.redefine_chain(name, existing)
            return existing
