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

"""ReportData: everything the report shows, read from the butler and the run record.

`ReportData.load` searches the run's collections (given, or taken from the
run record: each job's output collection and each product's collections and
CALIBRATION collection) for the products of the pipelines: ``bias``,
``dark``, ``flat``, ``defects``, ``ptc``, ``cpPtcExtract`` and
``verify{Bias,Dark,Flat}ExpStats`` (the exposure × detector verdicts) and
``verifyBiasDetStats`` (overscan read noise per amplifier), first match per
data ID in collection order. It lists what was certified from the run's own
outputs (CALIBRATION associations with their validity ranges) and the run's
exposures with their raws' ingest times. Whatever is missing is noted, not
an error: a failed or stopped run shows what exists. Combined images are
reduced as they are read (`CalibrationImage`: binned for the mosaic, a
median per amplifier), so a report of LSSTCam's 189 detectors holds a few
megabytes, not the images.
"""

__all__ = ["ReportData", "instrument_of_record"]

import dataclasses
import datetime
from collections.abc import Iterable, Sequence
from typing import Any

import astropy.time
import numpy as np
from lsst.daf.butler import Butler, CollectionType, DatasetRef
from lsst.daf.butler.registry import MissingCollectionError

from ..repo.camera import Camera
from ..repo.defects import Defects
from ..repo.ptc_dataset import PhotonTransferCurveDataset
from ..repo.repository import INSTRUMENT_NAME, raw_run
from ..scripts.run_record import RunRecord
from .calibration_image import CalibrationImage
from .focal_plane import FocalPlane
from .run_timeline import RunTimeline

IMAGE_TYPES = ("bias", "dark", "flat")
CERTIFIABLE = ("bias", "dark", "flat", "defects", "ptc")
READ_NOISE_EXPOSURES = 3
"""Bias verification exposures per detector read for the overscan read noise."""
READ_NOISE_EXPOSURES_MANY = 1
"""The same when the run has more than ``MANY_DETECTORS`` detectors (each read costs a YAML parse)."""
MANY_DETECTORS = 9
"""More detectors than one raft: the report reads less per detector."""


def instrument_of_record(record: RunRecord) -> str:
    """The instrument of a run: the first part of its raw collection (``LATISS/raw/all``), else LSSTComCam."""
    raw = str((record.collections or {}).get("raw") or "")
    return raw.split("/")[0] if raw.endswith("/raw/all") else INSTRUMENT_NAME


def _iso(bound: Any) -> str:
    """ISO TAI text of a timespan bound ("" if unbounded)."""
    return str(bound.tai.strftime("%Y-%m-%dT%H:%M:%S")) if isinstance(bound, astropy.time.Time) else ""


@dataclasses.dataclass
class ReportData:
    """The contents of a report.

    Parameters
    ----------
    repo : `str`
        The repository.
    collections : `list` [`str`]
        Collections searched, in order.
    run_record : `~lsst.ts.calibrations.scripts.run_record.RunRecord` or `None`
        The script's run record, if given.
    calibrations : `dict` [`str`, `dict` [`int`, `CalibrationImage`]]
        Combined bias, dark and flat by detector id, reduced.
    calibration_collections : `dict` [`str`, `str`]
        Run collection each combined calibration came from.
    defects : `dict` [`int`, `Defects`]
        Defects by detector.
    ptc : `dict` [`int`, `PhotonTransferCurveDataset`]
        PTC by detector.
    pair_gains : `dict` [`int`, `dict` [`tuple` [`int`, `int`], `PhotonTransferCurveDataset`]]
        ``cpPtcExtract`` of each flat pair by detector and pair.
    verification : `dict` [`str`, `dict` [`int`, `dict`]]
        ``verify<X>ExpStats`` by image type and exposure id.
    read_noise : `dict` [`int`, `dict` [`str`, `float`]]
        Overscan read noise (e⁻) by detector and amplifier, median over the
        first ``READ_NOISE_EXPOSURES`` bias verification exposures (the
        first only when the run has more than ``MANY_DETECTORS``).
    certifications : `list` [`dict` [`str`, `typing.Any`]]
        Certified datasets of the run: ``product``, ``detector``,
        ``collection``, ``begin``, ``end`` (ISO, TAI), ``run``.
    exposures : `list`
        Exposure dimension records of the run.
    timeline : `RunTimeline`
        Exposures, ingestion, jobs and certifications.
    notes : `list` [`str`]
        What could not be read, and why.
    instrument : `str`
        The instrument.
    plane : `FocalPlane` or `None`
        The layout the images were binned for (made from the first image
        read; `None` without any).
    """

    repo: str
    collections: list[str]
    run_record: RunRecord | None = None
    calibrations: dict[str, dict[int, CalibrationImage]] = dataclasses.field(default_factory=dict)
    calibration_collections: dict[str, str] = dataclasses.field(default_factory=dict)
    defects: dict[int, Defects] = dataclasses.field(default_factory=dict)
    ptc: dict[int, PhotonTransferCurveDataset] = dataclasses.field(default_factory=dict)
    pair_gains: dict[int, dict[tuple[int, int], PhotonTransferCurveDataset]] = dataclasses.field(
        default_factory=dict
    )
    verification: dict[str, dict[int, dict[str, Any]]] = dataclasses.field(default_factory=dict)
    read_noise: dict[int, dict[str, float]] = dataclasses.field(default_factory=dict)
    certifications: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    exposures: list[Any] = dataclasses.field(default_factory=list)
    timeline: RunTimeline = dataclasses.field(default_factory=RunTimeline)
    notes: list[str] = dataclasses.field(default_factory=list)
    instrument: str = INSTRUMENT_NAME
    plane: FocalPlane | None = None

    @property
    def detectors(self) -> list[int]:
        """Detector ids with any product."""
        ids: set[int] = set(self.defects) | set(self.ptc) | set(self.pair_gains) | set(self.read_noise)
        for images in self.calibrations.values():
            ids |= set(images)
        return sorted(ids)

    @property
    def run_detectors(self) -> list[int]:
        """Detector ids of the run: the run record's plan (or configuration), else those with a product."""
        if self.run_record is not None:
            for source in (self.run_record.plan, self.run_record.config):
                listed = (source or {}).get("detectors")
                if listed:
                    return sorted(int(d) for d in listed)
        return self.detectors

    @property
    def multi_raft(self) -> bool:
        """True if the run's detectors lie in more than one raft (its tables summarise rafts)."""
        camera = Camera.instance(self.instrument)
        ids = set(self.run_detectors) | set(self.detectors)
        return len({camera[d].raft for d in ids if d in camera.detector_ids}) > 1

    @property
    def detector_shape(self) -> tuple[int, int] | None:
        """Shape of the assembled detector images (`None` without any image)."""
        if self.plane is not None:
            return self.plane.detector_shape
        for defects in self.defects.values():
            return defects.detector_shape
        return None

    @staticmethod
    def record_collections(record: RunRecord) -> list[str]:
        """The collections a run record names: job outputs, product collections, CALIBRATION collections.

        Parameters
        ----------
        record : `~lsst.ts.calibrations.scripts.run_record.RunRecord`
            The run record.

        Returns
        -------
        collections : `list` [`str`]
            Generation outputs first, then the others, each once.
        """
        names: list[str] = []
        products = record.products.values()
        for step in ("generate", "measure", "verify"):
            names.extend(outcome.collections[step] for outcome in products if outcome.collections.get(step))
        for outcome in products:
            names.extend(name for name in outcome.collections.values() if name)
        for job in record.jobs.values():
            if (job or {}).get("outputCollection"):
                names.append(str(job["outputCollection"]))
        names.extend(outcome.certified_into for outcome in products if outcome.certified_into)
        for entry in record.certifications:
            names.extend(name for name in (entry.input_collection, entry.collection) if name)
        return list(dict.fromkeys(names))

    @classmethod
    def load(
        cls, butler: Butler, *, collections: Sequence[str] = (), run_record: RunRecord | None = None
    ) -> "ReportData":
        """Read a run's products (see the module documentation).

        Parameters
        ----------
        butler : `lsst.daf.butler.Butler`
            A butler on the repository.
        collections : `~collections.abc.Sequence` [`str`], optional
            Collections to search, in order; added after those of the run
            record.
        run_record : `~lsst.ts.calibrations.scripts.run_record.RunRecord`, optional
            The script's run record.

        Returns
        -------
        data : `ReportData`
            What was found.

        Raises
        ------
        ValueError
            Raised if neither collections nor a run record is given.
        """
        record = run_record
        names = (cls.record_collections(record) if record else []) + list(collections)
        names = list(dict.fromkeys(names))
        if not names and record is None:
            raise ValueError("Give collections or run_record: the report needs to know which run to show.")
        data = cls(repo=str(butler._config.configDir if hasattr(butler, "_config") else ""), collections=[])
        data.run_record = record
        if record is not None:
            data.instrument = instrument_of_record(record)
        existing = data._existing(butler, names)
        data.collections = existing
        if existing:
            data._load_calibrations(butler, existing)
            data._load_gains(butler, existing)
            data._load_verification(butler, existing)
            data._load_certifications(butler, existing)
        data._load_exposures(butler)
        if record is not None:
            data.timeline.add_run_record(record)
        return data

    def _existing(self, butler: Butler, names: Iterable[str]) -> list[str]:
        existing = []
        for name in names:
            try:
                found = bool(butler.collections.query(name))
            except MissingCollectionError:
                found = False
            if found:
                existing.append(name)
            else:
                self.notes.append(f"Collection {name} does not exist in the repository.")
        return existing

    def _refs(self, butler: Butler, dataset_type: str, collections: Sequence[str]) -> list[DatasetRef]:
        try:
            return list(
                butler.query_datasets(
                    dataset_type, collections=collections, find_first=True, explain=False, limit=None
                )
            )
        except Exception as e:  # a missing dataset type, or an ambiguous calibration search
            if "not registered" not in str(e) and "MissingDatasetType" not in type(e).__name__:
                self.notes.append(f"Cannot search {dataset_type}: {e}")
            return []

    def _load_calibrations(self, butler: Butler, collections: Sequence[str]) -> None:
        camera = Camera.instance(self.instrument)
        for product in IMAGE_TYPES:
            images = {}
            for ref in self._refs(butler, product, collections):
                detector = int(ref.dataId["detector"])
                exposure = butler.get(ref)
                if self.plane is None:
                    self.plane = FocalPlane(exposure.shape, instrument=self.instrument)
                try:
                    images[detector] = CalibrationImage.from_exposure(
                        exposure, self.plane, camera[detector], amp_medians=product == "dark"
                    )
                except ValueError as e:
                    self.notes.append(f"{product} of {camera[detector].name} not shown: {e}")
                del exposure
                self.calibration_collections[product] = ref.run
            if images:
                self.calibrations[product] = images
        for ref in self._refs(butler, "defects", collections):
            self.defects[int(ref.dataId["detector"])] = butler.get(ref)
        for ref in self._refs(butler, "ptc", collections):
            self.ptc[int(ref.dataId["detector"])] = butler.get(ref)

    def _load_gains(self, butler: Butler, collections: Sequence[str]) -> None:
        for ref in self._refs(butler, "cpPtcExtract", collections):
            detector = int(ref.dataId["detector"])
            pairs = self.pair_gains.setdefault(detector, {})
            exposure = int(ref.dataId["exposure"])
            # Both flats of a pair carry the pair's values: read the first only.
            if any(exposure in pair for pair in pairs):
                continue
            extract = butler.get(ref)
            if not extract.metadata.get("PAIRED", True):
                continue
            pair = (
                int(extract.metadata.get("PAIR_EXPOSURE_1", exposure)),
                int(extract.metadata.get("PAIR_EXPOSURE_2", exposure)),
            )
            pairs[pair] = extract
        self.pair_gains = {d: p for d, p in self.pair_gains.items() if p}

    def _load_verification(self, butler: Butler, collections: Sequence[str]) -> None:
        for kind in IMAGE_TYPES:
            name = f"verify{kind.capitalize()}ExpStats"
            stats = {
                int(ref.dataId["exposure"]): butler.get(ref) for ref in self._refs(butler, name, collections)
            }
            if stats:
                self.verification[kind] = dict(sorted(stats.items()))
        noise: dict[int, dict[str, list[float]]] = {}
        per_detector: dict[int, int] = {}
        refs = sorted(
            self._refs(butler, "verifyBiasDetStats", collections), key=lambda r: int(r.dataId["exposure"])
        )
        many = len({int(ref.dataId["detector"]) for ref in refs}) > MANY_DETECTORS
        limit = READ_NOISE_EXPOSURES_MANY if many else READ_NOISE_EXPOSURES
        for ref in refs:
            detector = int(ref.dataId["detector"])
            if per_detector.get(detector, 0) >= limit:
                continue
            per_detector[detector] = per_detector.get(detector, 0) + 1
            for amp, stats in (butler.get(ref).get("AMP") or {}).items():
                value = stats.get("READ_NOISE")
                if value is not None:
                    noise.setdefault(detector, {}).setdefault(amp, []).append(float(value))
        self.read_noise = {d: {a: float(np.median(v)) for a, v in amps.items()} for d, amps in noise.items()}

    def _load_certifications(self, butler: Butler, collections: Sequence[str]) -> None:
        infos = butler.collections.query_info(collections, flatten_chains=True, include_chains=False)
        runs = {i.name for i in infos if i.type == CollectionType.RUN and i.name != raw_run(self.instrument)}
        calibs = [i.name for i in infos if i.type == CollectionType.CALIBRATION]
        if self.run_record is not None:
            for outcome in self.run_record.products.values():
                target = outcome.certified_into
                if target and target not in calibs and target in self.collections:
                    calibs.append(target)
        registered = {t.name for t in butler.registry.queryDatasetTypes()}
        for product in CERTIFIABLE:
            if product not in registered or not calibs:
                continue
            for association in butler.registry.queryDatasetAssociations(product, collections=calibs):
                if association.ref.run not in runs:
                    continue
                span = association.timespan
                self.certifications.append(
                    {
                        "product": product,
                        "detector": int(association.ref.dataId["detector"]),
                        "collection": association.collection,
                        "begin": _iso(span.begin) if span is not None else "",
                        "end": _iso(span.end) if span is not None else "",
                        "run": association.ref.run,
                    }
                )

    def _exposure_ids(self) -> set[int]:
        ids: set[int] = set()
        for stats in self.verification.values():
            ids |= set(stats)
        for pairs in self.pair_gains.values():
            for pair in pairs:
                ids |= set(pair)
        if self.run_record is not None:
            for exposures in (self.run_record.exposures_taken, self.run_record.exposures_processed):
                for values in exposures.values():
                    ids |= set(values)
        for images in self.calibrations.values():
            for image in images.values():
                ids |= {
                    int(v)
                    for k, v in image.metadata.items()
                    if k.startswith("CPP_INPUT_") and str(v).isdigit()
                }
        return ids

    def _load_exposures(self, butler: Butler) -> None:
        ids = sorted(self._exposure_ids())
        if not ids:
            self.notes.append("No exposures of the run were found.")
            return
        where = f"exposure IN ({', '.join(str(i) for i in ids)})"
        self.exposures = sorted(
            butler.query_dimension_records(
                "exposure", where=where, instrument=self.instrument, explain=False, limit=None
            ),
            key=lambda r: int(r.id),
        )
        ingest: dict[int, datetime.datetime] = {}
        try:
            with butler.query() as query:
                rows = (
                    query.join_dataset_search("raw", [raw_run(self.instrument)])
                    .where(where, instrument=self.instrument)
                    .general(["exposure"], dataset_fields={"raw": {"ingest_date"}}, find_first=False)
                )
                for row in rows:
                    when = row["raw.ingest_date"].utc.to_datetime(timezone=datetime.UTC)
                    exposure = int(row["exposure"])
                    ingest[exposure] = max(ingest.get(exposure, when), when)
        except Exception as e:  # raws in another collection, or none
            self.notes.append(f"Raw ingest times not available: {e}")
        self.timeline.add_exposures(self.exposures, ingest)
