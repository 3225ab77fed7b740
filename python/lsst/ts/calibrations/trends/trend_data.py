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

"""TrendData: per amplifier and per night, what the runs in a repository measured.

`TrendData.load` reads the butler once: it lists the RUN collections
(raws aside), queries each dataset type over all of them at once, within
the nights asked for, and reads each dataset once:

- ``cpPtcExtract``: the gain of each flat pair (each pair's first flat;
  both carry the pair's values); the night's gain is their median
  (statistical error 1.2533 × standard deviation / √pairs);
- ``ptc``: PTC gain and read noise with the fit's errors, when a PTC was
  made (its night is that of its flats);
- ``verifyBiasDetStats``: overscan read noise (``READ_NOISE``) per bias
  exposure, median over the night's first ``EXPOSURES_PER_NIGHT`` (3)
  exposures per detector;
- ``verifyDarkDetStats``: ``MEAN`` / ``EXPTIME`` of each dark after the
  reference dark is subtracted (dark current over the reference), median
  over the night's first three per detector;
- ``verifyBiasProc``: the overscan median the ISR recorded (``LSST ISR
  OVERSCAN SERIAL MEDIAN``), the bias level, median over the night's first
  three bias verification exposures per detector;
- ``verify{Bias,Dark,Flat}Stats``: each run's verdict of the cp_verify tests
  per exposure and the failed tests.

The same exposure processed by several runs counts once (the first run in
name order). Run records, when given, add the script's verdict per product
and the drift check of each night (`~lsst.ts.calibrations.scripts.drift_check.DriftCheck`).
Blocking: call `load` in a thread from async code.
"""

__all__ = ["TrendData", "parse_day_obs"]

import dataclasses
import datetime
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lsst.daf.butler import Butler, CollectionType, DatasetRef

from ..repo.repository import RAW_RUN
from ..scripts.drift_check import EXPOSURES_PER_NIGHT, DriftCheck, summary_statistic
from .trend_point import QUANTITIES, TrendPoint

IMAGE_TYPES = ("bias", "dark", "flat")
"""Image types with verification statistics."""


def _night(exposure: int) -> int:
    """day_obs of an exposure id (day_obs × 100000 + seq_num)."""
    return int(exposure) // 100000


def parse_day_obs(text: str | int | None) -> int | None:
    """A day_obs from ``YYYY-MM-DD`` or ``YYYYMMDD`` (`None` stays `None`).

    Raises
    ------
    ValueError
        If the text is not such a date.
    """
    if text is None or text == "":
        return None
    value = str(text).strip()
    for form in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return int(datetime.datetime.strptime(value, form).strftime("%Y%m%d"))
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a date: give YYYY-MM-DD or YYYYMMDD (a day_obs).")


@dataclasses.dataclass
class TrendData:
    """What the runs in a repository measured, per amplifier and per night.

    Parameters
    ----------
    repo : `str`
        The repository.
    instrument : `str`
        Instrument name.
    since, until : `int` or `None`
        First and last night asked for (day_obs), `None` for open.
    points : `dict` [`str`, `list` [`TrendPoint`]]
        By quantity (a key of `QUANTITIES`), sorted by detector,
        amplifier, night.
    verification : `dict` [`int`, `dict` [`str`, `dict` [`str`, `typing.Any`]]]
        By night and image type: ``exposures``, ``failed_exposures``,
        ``success`` (cp_verify's flag), ``failures`` (test → count),
        ``runs``, and ``verdict`` / ``status`` from a run record.
    drift_checks : `dict` [`int`, `DriftCheck`]
        The script's drift check of each night (from run records).
    runs : `dict` [`int`, `list` [`str`]]
        Run collections that measured each night.
    notes : `list` [`str`]
        What could not be read, and why.
    seconds : `dict` [`str`, `float`]
        Time taken reading each dataset type.
    """

    repo: str
    instrument: str
    since: int | None = None
    until: int | None = None
    points: dict[str, list[TrendPoint]] = dataclasses.field(default_factory=dict)
    verification: dict[int, dict[str, dict[str, Any]]] = dataclasses.field(default_factory=dict)
    drift_checks: dict[int, DriftCheck] = dataclasses.field(default_factory=dict)
    runs: dict[int, list[str]] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def nights(self) -> list[int]:
        """Every night with any measurement or verification, in order."""
        found = set(self.verification) | set(self.runs)
        for points in self.points.values():
            found |= {p.night for p in points}
        return sorted(found)

    @property
    def detectors(self) -> list[int]:
        """Detector ids with any measurement."""
        return sorted({p.detector for points in self.points.values() for p in points})

    def series(self, quantity: str) -> dict[tuple[int, str], list[TrendPoint]]:
        """Points of one quantity by (detector, amplifier), oldest first."""
        result: dict[tuple[int, str], list[TrendPoint]] = {}
        for point in self.points.get(quantity, []):
            result.setdefault((point.detector, point.amp), []).append(point)
        return {key: sorted(points, key=lambda p: p.night) for key, points in sorted(result.items())}

    @staticmethod
    def bands(points: Sequence[TrendPoint], n_nights: int) -> list[tuple[float, float]]:
        """The band of each point: (reference, σ) of the ``n_nights`` nights before it.

        Parameters
        ----------
        points : `~collections.abc.Sequence` [`TrendPoint`]
            One amplifier's points, oldest first.
        n_nights : `int`
            Nights of history.

        Returns
        -------
        bands : `list` [`tuple` [`float`, `float`]]
            Per point, ``DriftCheck.band`` of the previous nights (NaN
            without enough of them, see
            `~lsst.ts.calibrations.scripts.drift_check.MIN_HISTORY_NIGHTS`).
        """
        from ..scripts.drift_check import MIN_HISTORY_NIGHTS

        bands = []
        for index in range(len(points)):
            past = points[max(0, index - n_nights) : index]
            if len(past) < MIN_HISTORY_NIGHTS:
                bands.append((math.nan, math.nan))
            else:
                bands.append(DriftCheck.band([p.value for p in past], [p.error for p in past]))
        return bands

    def latest_changes(self, quantity: str, n_nights: int) -> list[DriftCheck.Change]:
        """Each amplifier's latest value against the band of the nights before it.

        Parameters
        ----------
        quantity : `str`
            A key of `QUANTITIES`.
        n_nights : `int`
            Nights of history.

        Returns
        -------
        changes : `list` [`DriftCheck.Change`]
            One per amplifier with enough history (on its latest night).
        """
        changes = []
        for (detector, amp), points in self.series(quantity).items():
            reference, sigma = self.bands(points, n_nights)[-1]
            if math.isfinite(reference):
                history = len(points[max(0, len(points) - 1 - n_nights) : -1])
                changes.append(
                    DriftCheck.Change(quantity, detector, amp, points[-1].value, reference, sigma, history)
                )
        return changes

    # ---- reading ----------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        butler: Butler,
        *,
        instrument: str,
        since: int | None = None,
        until: int | None = None,
        run_records: Iterable[str | Path] = (),
        repo: str = "",
    ) -> "TrendData":
        """Read every night's measurements (see the module documentation).

        Parameters
        ----------
        butler : `lsst.daf.butler.Butler`
            A butler on the repository.
        instrument : `str`
            Instrument name.
        since, until : `int` or `None`, optional
            First and last night (day_obs), inclusive.
        run_records : `~collections.abc.Iterable` [`str` or `pathlib.Path`], optional
            Run record files or folders of them.
        repo : `str`, optional
            The repository, for the page.

        Returns
        -------
        data : `TrendData`
            What was found; what could not be read is in ``notes``.
        """
        import time

        data = cls(repo=repo, instrument=instrument, since=since, until=until)
        infos = butler.collections.query_info("*", collection_types={CollectionType.RUN})
        runs = sorted(i.name for i in infos if i.name != RAW_RUN)
        if not runs:
            data.notes.append("The repository has no run collections (nothing was processed).")
        registered = {t.name for t in butler.registry.queryDatasetTypes()}
        readers = (
            ("cpPtcExtract", data._read_pair_gains),
            ("ptc", data._read_ptc),
            ("verifyBiasDetStats", data._read_read_noise),
            ("verifyDarkDetStats", data._read_dark_current),
            ("verifyBiasProc", data._read_bias_level),
        )
        samples: dict[tuple[str, int, int, str], list[tuple[float, float, str]]] = {}
        for dataset_type, reader in readers:
            began = time.monotonic()
            if dataset_type in registered and runs:
                reader(butler, data._refs(butler, dataset_type, runs), samples)
            data.seconds[dataset_type] = time.monotonic() - began
        data._points_from(samples)
        began = time.monotonic()
        for kind in IMAGE_TYPES:
            name = f"verify{kind.capitalize()}Stats"
            if name in registered and runs:
                data._read_verification(butler, kind, data._refs(butler, name, runs, per_exposure=False))
        data.seconds["verification"] = time.monotonic() - began
        for source in run_records:
            data._read_run_records(Path(source))
        return data

    def _in_range(self, night: int) -> bool:
        return (self.since is None or night >= self.since) and (self.until is None or night <= self.until)

    def _refs(
        self, butler: Butler, dataset_type: str, runs: Sequence[str], per_exposure: bool = True
    ) -> list[DatasetRef]:
        """Refs of one dataset type in all runs, within the nights.

        Per-exposure datasets: one per data ID (the first run in name order);
        run-level ones: one per run.
        """
        where = ""
        bind: dict[str, Any] = {}
        if per_exposure:
            clauses = []
            if self.since is not None:
                clauses.append("exposure.day_obs >= since")
                bind["since"] = self.since
            if self.until is not None:
                clauses.append("exposure.day_obs <= until")
                bind["until"] = self.until
            where = " AND ".join(clauses)
        try:
            refs = butler.query_datasets(
                dataset_type,
                collections=list(runs),
                find_first=False,
                where=where,
                bind=bind,
                instrument=self.instrument,
                explain=False,
                limit=None,
            )
        except Exception as e:  # an unknown instrument, a malformed query
            self.notes.append(f"Cannot search {dataset_type}: {e}")
            return []
        order = {name: i for i, name in enumerate(runs)}
        chosen: dict[Any, DatasetRef] = {}
        for ref in sorted(refs, key=lambda r: order.get(r.run, len(order))):
            # A run-level dataset (no exposure) is one per run; an exposure's counts once.
            key = ref.dataId.required_values if per_exposure else (ref.run, ref.dataId.required_values)
            chosen.setdefault(key, ref)
        return list(chosen.values())

    def _get(self, butler: Butler, ref: DatasetRef) -> Any:
        try:
            return butler.get(ref)
        except Exception as e:  # a missing file, an unreadable one
            self.notes.append(
                f"Cannot read {ref.datasetType.name} {dict(ref.dataId.required)} in {ref.run}: {e}"
            )
            return None

    def _add_run(self, night: int, run: str) -> None:
        names = self.runs.setdefault(night, [])
        if run not in names:
            names.append(run)

    def _read_pair_gains(self, butler: Butler, refs: list[DatasetRef], samples: dict) -> None:
        seen: set[tuple[int, int]] = set()
        for ref in sorted(refs, key=lambda r: (int(r.dataId["detector"]), int(r.dataId["exposure"]))):
            detector, exposure = int(ref.dataId["detector"]), int(ref.dataId["exposure"])
            if (detector, exposure) in seen:
                continue
            extract = self._get(butler, ref)
            if extract is None or not extract.metadata.get("PAIRED", True):
                continue
            pair = (
                int(extract.metadata.get("PAIR_EXPOSURE_1", exposure)),
                int(extract.metadata.get("PAIR_EXPOSURE_2", exposure)),
            )
            seen.update((detector, e) for e in pair)
            night = _night(exposure)
            self._add_run(night, ref.run)
            for amp, gain in extract.gain.items():
                samples.setdefault(("gain", night, detector, amp), []).append(
                    (float(gain), math.nan, ref.run)
                )

    def _read_ptc(self, butler: Butler, refs: list[DatasetRef], samples: dict) -> None:
        for ref in refs:
            ptc = self._get(butler, ref)
            if ptc is None:
                continue
            exposures = [int(e) for pairs in ptc.inputExpIdPairs.values() for pair in pairs for e in pair]
            if not exposures:
                continue
            night = _night(max(exposures))
            if not self._in_range(night):
                continue
            detector = int(ref.dataId["detector"])
            self._add_run(night, ref.run)
            for amp in ptc.ampNames:
                for quantity, value, error in (
                    ("ptc_gain", ptc.gain.get(amp), ptc.gainErr.get(amp)),
                    ("ptc_read_noise", ptc.noise.get(amp), ptc.noiseErr.get(amp)),
                ):
                    if value is not None and math.isfinite(value):
                        key = (quantity, night, detector, amp)
                        samples.setdefault(key, []).append((float(value), float(error or math.nan), ref.run))

    def _read_det_stats(self, butler: Butler, refs: list[DatasetRef], samples: dict, quantity: str) -> None:
        read: dict[tuple[int, int], int] = {}
        for ref in sorted(refs, key=lambda r: int(r.dataId["exposure"])):
            key = (_night(int(ref.dataId["exposure"])), int(ref.dataId["detector"]))
            if read.get(key, 0) >= EXPOSURES_PER_NIGHT:
                continue
            read[key] = read.get(key, 0) + 1
            stats = self._get(butler, ref)
            if not stats:
                continue
            night, detector = _night(int(ref.dataId["exposure"])), int(ref.dataId["detector"])
            self._add_run(night, ref.run)
            exposure_time = float((stats.get("METADATA") or {}).get("EXPTIME", math.nan))
            for amp, amp_stats in (stats.get("AMP") or {}).items():
                if quantity == "read_noise":
                    value = float(amp_stats.get("READ_NOISE", math.nan))
                else:
                    value = float(amp_stats.get("MEAN", math.nan)) / exposure_time
                samples.setdefault((quantity, night, detector, str(amp)), []).append(
                    (value, math.nan, ref.run)
                )

    def _read_read_noise(self, butler: Butler, refs: list[DatasetRef], samples: dict) -> None:
        self._read_det_stats(butler, refs, samples, "read_noise")

    def _read_dark_current(self, butler: Butler, refs: list[DatasetRef], samples: dict) -> None:
        self._read_det_stats(butler, refs, samples, "dark_current")

    def _read_bias_level(self, butler: Butler, refs: list[DatasetRef], samples: dict) -> None:
        first: dict[tuple[int, int], list[DatasetRef]] = {}
        for ref in sorted(refs, key=lambda r: int(r.dataId["exposure"])):
            chosen = first.setdefault((_night(int(ref.dataId["exposure"])), int(ref.dataId["detector"])), [])
            if len(chosen) < EXPOSURES_PER_NIGHT:
                chosen.append(ref)
        prefix = "LSST ISR OVERSCAN SERIAL MEDIAN "
        for (night, detector), ref in sorted((k, r) for k, refs in first.items() for r in refs):
            exposure = self._get(butler, ref)
            if exposure is None:
                continue
            for key, value in exposure.metadata.items():
                if key.startswith(prefix) and value is not None:
                    amp = key[len(prefix) :]
                    samples.setdefault(("bias_level", night, detector, amp), []).append(
                        (float(value), math.nan, ref.run)
                    )

    def _points_from(
        self, samples: Mapping[tuple[str, int, int, str], list[tuple[float, float, str]]]
    ) -> None:
        points: dict[str, list[TrendPoint]] = {}
        for (quantity, night, detector, amp), entries in samples.items():
            values = [v for v, _, _ in entries]
            runs = tuple(dict.fromkeys(r for _, _, r in entries))
            if len(entries) == 1 and math.isfinite(entries[0][1]):
                value, error, n = entries[0][0], entries[0][1], 1
            else:
                value, error, n = summary_statistic(values)
            if not n:
                continue
            point = TrendPoint(quantity, night, detector, amp, value, error, n, tuple(values), runs)
            points.setdefault(quantity, []).append(point)
        self.points = {
            q: sorted(points[q], key=lambda p: (p.detector, p.amp, p.night))
            for q in QUANTITIES
            if q in points
        }

    def _read_verification(self, butler: Butler, kind: str, refs: list[DatasetRef]) -> None:
        for ref in refs:
            stats = self._get(butler, ref)
            if not stats:
                continue
            exposures = {int(k): v for k, v in stats.items() if str(k).isdigit() and isinstance(v, Mapping)}
            if not exposures:
                continue
            night = _night(max(exposures))
            if not self._in_range(night):
                continue
            self._add_run(night, ref.run)
            entry = self.verification.setdefault(night, {}).setdefault(
                kind, {"exposures": 0, "failed_exposures": 0, "success": True, "failures": {}, "runs": []}
            )
            entry["exposures"] += len(exposures)
            entry["failed_exposures"] += sum(1 for v in exposures.values() if not v.get("SUCCESS", True))
            entry["success"] = bool(entry["success"] and stats.get("SUCCESS", True))
            entry["runs"].append(ref.run)
            for result in exposures.values():
                for failure in result.get("FAILURES") or []:
                    entry["failures"][str(failure)] = entry["failures"].get(str(failure), 0) + 1

    def _read_run_records(self, source: Path) -> None:
        from ..scripts.run_record import RunRecord

        files = sorted(source.glob("*.json")) if source.is_dir() else [source]
        latest: dict[int, str] = {}
        for path in files:
            try:
                record = RunRecord.read(path)
            except (OSError, ValueError) as e:
                self.notes.append(f"Cannot read run record {path}: {e}")
                continue
            ids = [int(e) for values in record.exposures_processed.values() for e in values]
            night = record.drift.get("day_obs") or (_night(max(ids)) if ids else None)
            if night is None or not self._in_range(int(night)):
                continue
            night = int(night)
            if record.ended < latest.get(night, ""):
                continue
            latest[night] = record.ended
            if record.drift:
                try:
                    self.drift_checks[night] = DriftCheck.from_dict(record.drift)
                except ValueError as e:
                    self.notes.append(f"Run record {path}: {e}")
            for product, outcome in record.products.items():
                kind = str(product).lower()
                if kind in IMAGE_TYPES and outcome.verdict is not None:
                    entry = self.verification.setdefault(night, {}).setdefault(
                        kind,
                        {"exposures": 0, "failed_exposures": 0, "success": True, "failures": {}, "runs": []},
                    )
                    entry["status"] = outcome.status.value
                    entry["verdict"] = outcome.verdict.summary()
