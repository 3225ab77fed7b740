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

"""Drift check: tonight's amplifier measurements against the amplifier's own recent history.

At the end of a run that measured gains from flat pairs, read noise (bias
verification) or dark current (dark verification), `run_drift_check`
compares each amplifier's value with the last N nights of run records and
names every amplifier that moved beyond a threshold, in σ of its history.

The rule (`DriftCheck.band`, shared with the trends page):

- the reference is the median of the amplifier's values over the history
  nights (at most N, the latest run of each night before tonight);
- σ is the night-to-night scatter of those values, 1.4826 × the median
  absolute deviation of successive differences / √2 (a steady drift does
  not widen it), at least the statistical error of a night (root mean
  square of the history's errors); it is widened by the uncertainty of a
  median of k nights, × √(1 + π / 2k);
- the change is (value − reference) / σ; beyond ``threshold`` it is
  flagged. Fewer than `MIN_HISTORY_NIGHTS` nights: nothing is judged, and
  the check says so.

A night's measurement per amplifier is ``[value, statistical error, n]``:
gain = median of the pairs' gains (error 1.2533 × standard deviation /
√n); read noise = median of the bias verification's overscan
``READ_NOISE``; dark current = median over the dark verification's
exposures of ``MEAN`` / ``EXPTIME`` (what remains after the reference dark
is subtracted, e⁻/s); both over the first `EXPOSURES_PER_NIGHT` exposures
per detector. Run records keep them (``drift.measurements``), so
the next nights read their history from the records alone.

Pure functions, plus `run_drift_check` (async; the butler and the files in
threads) that the script calls at the end of a run.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_DRIFT_NIGHTS",
    "DEFAULT_DRIFT_THRESHOLD",
    "DRIFT_QUANTITIES",
    "EXPOSURES_PER_NIGHT",
    "MIN_HISTORY_NIGHTS",
    "DriftCheck",
    "drift_check_of_record",
    "gain_measurements",
    "load_history",
    "night_of_exposures",
    "run_drift_check",
    "summary_statistic",
]

import asyncio
import dataclasses
import itertools
import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

DEFAULT_DRIFT_NIGHTS = 7
"""Default number of history nights (the schema's ``drift_nights``)."""

DEFAULT_DRIFT_THRESHOLD = 4.0
"""Default threshold in σ (the schema's ``drift_threshold``): nine detectors give 432 amplifier
judgements a night, which 3 σ would turn into about one false warning a night."""

MIN_HISTORY_NIGHTS = 3
"""Fewest history nights for a judgement."""

EXPOSURES_PER_NIGHT = 3
"""Bias and dark verification exposures per detector read for a night's read noise and dark
current (the first ones; as the run report reads the read noise)."""

DRIFT_QUANTITIES: dict[str, str] = {
    "gain": "electron/adu",
    "read_noise": "electron",
    "dark_current": "electron/s",
}
"""Quantities checked, with their units."""

# Measurements of one night: quantity -> detector (str) -> amp -> [value, error, n].
type Measurements = dict[str, dict[str, dict[str, list[float]]]]


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return math.nan
    middle = n // 2
    return ordered[middle] if n % 2 else 0.5 * (ordered[middle - 1] + ordered[middle])


def summary_statistic(values: Sequence[float]) -> tuple[float, float, int]:
    """Median of a night's values and its statistical error.

    Parameters
    ----------
    values : `~collections.abc.Sequence` [`float`]
        The night's values (NaN ignored).

    Returns
    -------
    value, error, n : `float`, `float`, `int`
        Median; 1.2533 × standard deviation / √n (NaN for fewer than two
        values); number of finite values.
    """
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    n = len(finite)
    if n == 0:
        return math.nan, math.nan, 0
    median = _median(finite)
    if n < 2:
        return median, math.nan, n
    mean = sum(finite) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1))
    return median, 1.2533 * std / math.sqrt(n), n


def night_of_exposures(exposures: Sequence[int]) -> int | None:
    """The night (day_obs) of a run: that of its latest exposure (id = day_obs × 100000 + seq_num)."""
    ids = [int(e) for e in exposures]
    return max(ids) // 100000 if ids else None


def gain_measurements(gains: Mapping[str, Any]) -> dict[str, dict[str, list[float]]]:
    """Per-amplifier gain of a night from a run record's ``gains`` (``GainReport.to_dict()``).

    Returns
    -------
    measurements : `dict` [`str`, `dict` [`str`, `list` [`float`]]]
        Detector (as text) → amplifier → [median gain, error, pairs].
    """
    values: dict[tuple[str, str], list[float]] = {}
    for row in gains.get("rows") or []:
        key = (str(int(row["detector"])), str(row["amplifier"]))
        values.setdefault(key, []).append(float(row["gain"]) if row.get("gain") is not None else math.nan)
    result: dict[str, dict[str, list[float]]] = {}
    for (detector, amp), series in sorted(values.items()):
        value, error, n = summary_statistic(series)
        if n:
            result.setdefault(detector, {})[amp] = [value, error, float(n)]
    return result


@dataclasses.dataclass
class DriftCheck:
    """Outcome of the drift check of one night (kept in the run record as ``drift``).

    Parameters
    ----------
    day_obs : `int` or `None`
        Tonight.
    n_nights : `int`
        History nights asked for.
    threshold : `float`
        Threshold, σ.
    history_nights : `list` [`int`]
        day_obs of the history nights used (oldest first).
    measurements : `dict`
        Tonight's measurements: quantity → detector → amplifier →
        [value, error, n].
    changes : `list` [`DriftCheck.Change`]
        Every judged amplifier and quantity.
    notes : `list` [`str`]
        What could not be judged, and why ("no history", ...).
    """

    @dataclasses.dataclass(frozen=True)
    class Change:
        """The change of one amplifier's quantity against its history.

        Parameters
        ----------
        quantity : `str`
            A key of `DRIFT_QUANTITIES`.
        detector : `int`
            Detector id.
        amp : `str`
            Amplifier name.
        value : `float`
            Tonight's value.
        reference : `float`
            Median of the history.
        sigma : `float`
            σ of the history (see the module documentation).
        n_history : `int`
            History nights of this amplifier.
        """

        quantity: str
        detector: int
        amp: str
        value: float
        reference: float
        sigma: float
        n_history: int

        @property
        def change_sigma(self) -> float:
            """(value − reference) / σ (NaN if σ is not positive)."""
            return (self.value - self.reference) / self.sigma if self.sigma > 0 else math.nan

        @property
        def change_percent(self) -> float:
            """(value − reference) / |reference| in % (NaN for a zero reference)."""
            return 100.0 * (self.value - self.reference) / abs(self.reference) if self.reference else math.nan

        def beyond(self, threshold: float) -> bool:
            """Whether the change exceeds ``threshold`` σ."""
            return math.isfinite(self.change_sigma) and abs(self.change_sigma) > threshold

        def describe(self) -> str:
            """One line naming the amplifier and the change."""
            unit = DRIFT_QUANTITIES.get(self.quantity, "")
            percent = f", {self.change_percent:+.2f} %" if math.isfinite(self.change_percent) else ""
            return (
                f"detector {self.detector} amplifier {self.amp} {self.quantity} {self.value:.5g} {unit}: "
                f"{self.change_sigma:+.1f} σ{percent} from the median {self.reference:.5g} of "
                f"{self.n_history} nights (σ {self.sigma:.3g})"
            )

    day_obs: int | None
    n_nights: int = DEFAULT_DRIFT_NIGHTS
    threshold: float = DEFAULT_DRIFT_THRESHOLD
    history_nights: list[int] = dataclasses.field(default_factory=list)
    measurements: Measurements = dataclasses.field(default_factory=dict)
    changes: list[DriftCheck.Change] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)

    @staticmethod
    def band(values: Sequence[float], errors: Sequence[float] = ()) -> tuple[float, float]:
        """Reference and σ of a history (the rule of the module documentation).

        Parameters
        ----------
        values : `~collections.abc.Sequence` [`float`]
            The history's nightly values, oldest first (NaN ignored).
        errors : `~collections.abc.Sequence` [`float`], optional
            Their statistical errors (NaN ignored).

        Returns
        -------
        reference, sigma : `float`
            Median and σ; NaN without values.
        """
        finite = [float(v) for v in values if v is not None and math.isfinite(v)]
        k = len(finite)
        if k == 0:
            return math.nan, math.nan
        reference = _median(finite)
        scatter = 0.0
        if k >= 3:
            steps = [b - a for a, b in itertools.pairwise(finite)]
            middle = _median(steps)
            scatter = 1.4826 * _median([abs(s - middle) for s in steps]) / math.sqrt(2.0)
        # Pooled (root mean square) statistical error: the median of errors each estimated from
        # a few exposures would be biased low.
        known = [float(e) for e in errors if e is not None and math.isfinite(e) and e > 0]
        floor = math.sqrt(sum(e * e for e in known) / len(known)) if known else 0.0
        sigma = max(scatter, floor)
        return reference, sigma * math.sqrt(1.0 + math.pi / (2.0 * k))

    @property
    def flagged(self) -> list[DriftCheck.Change]:
        """Changes beyond the threshold."""
        return [c for c in self.changes if c.beyond(self.threshold)]

    @classmethod
    def compare(
        cls,
        day_obs: int | None,
        measurements: Measurements,
        history: Mapping[int, Measurements],
        *,
        n_nights: int = DEFAULT_DRIFT_NIGHTS,
        threshold: float = DEFAULT_DRIFT_THRESHOLD,
    ) -> DriftCheck:
        """Judge tonight's measurements against the history.

        Parameters
        ----------
        day_obs : `int` or `None`
            Tonight.
        measurements : `dict`
            Tonight's: quantity → detector → amplifier → [value, error, n].
        history : `~collections.abc.Mapping` [`int`, `dict`]
            Earlier nights' measurements by day_obs; only the latest
            ``n_nights`` before tonight are used.
        n_nights : `int`, optional
            History nights to use.
        threshold : `float`, optional
            Threshold in σ.

        Returns
        -------
        check : `DriftCheck`
            The outcome.
        """
        nights = sorted(n for n in history if day_obs is None or n < day_obs)[-n_nights:]
        check = cls(
            day_obs=day_obs,
            n_nights=n_nights,
            threshold=threshold,
            history_nights=nights,
            measurements=measurements,
        )
        if not any(measurements.get(q) for q in DRIFT_QUANTITIES):
            check.notes.append("This run measured no gain, read noise or dark current: nothing to check.")
            return check
        if not nights:
            check.notes.append(
                f"No history: no earlier night (day_obs before {day_obs}) has a run record with "
                "measurements; nothing to compare with, no warning."
            )
            return check
        short: dict[str, int] = {}
        for quantity in DRIFT_QUANTITIES:
            for detector, amps in sorted((measurements.get(quantity) or {}).items()):
                for amp, (value, _, _) in sorted(amps.items()):
                    past = [history[n].get(quantity, {}).get(detector, {}).get(amp) for n in nights]
                    past = [p for p in past if p is not None and math.isfinite(p[0])]
                    if len(past) < MIN_HISTORY_NIGHTS:
                        short[quantity] = max(short.get(quantity, 0), len(past))
                        continue
                    reference, sigma = cls.band([p[0] for p in past], [p[1] for p in past])
                    check.changes.append(
                        cls.Change(quantity, int(detector), amp, float(value), reference, sigma, len(past))
                    )
        for quantity, found in short.items():
            check.notes.append(
                f"{quantity}: not enough history (at most {found} of the {MIN_HISTORY_NIGHTS} nights "
                "needed); those amplifiers are not judged."
            )
        return check

    def summary_lines(self) -> list[str]:
        """Lines for the end-of-run summary."""
        head = f"Drift check of day_obs {self.day_obs} against {len(self.history_nights)} earlier night(s)"
        lines = [f"{head} (threshold {self.threshold:g} σ, up to {self.n_nights} nights):"]
        lines += [f"  {note}" for note in self.notes]
        flagged = self.flagged
        if self.changes:
            lines.append(
                f"  {len(self.changes)} amplifier measurement(s) judged; {len(flagged)} beyond the threshold"
            )
        lines += [f"  DRIFT {c.describe()}" for c in flagged]
        return lines

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the run record."""
        return {
            "day_obs": self.day_obs,
            "n_nights": self.n_nights,
            "threshold": self.threshold,
            "history_nights": list(self.history_nights),
            "measurements": self.measurements,
            "changes": [
                dict(dataclasses.asdict(c), change_sigma=c.change_sigma, flagged=c.beyond(self.threshold))
                for c in self.changes
            ],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftCheck:
        """Rebuild from `to_dict` output (a run record's ``drift``).

        Raises
        ------
        ValueError
            If ``data`` is not a drift check.
        """
        try:
            names = {f.name for f in dataclasses.fields(cls.Change)}
            return cls(
                day_obs=int(data["day_obs"]) if data.get("day_obs") is not None else None,
                n_nights=int(data.get("n_nights", DEFAULT_DRIFT_NIGHTS)),
                threshold=float(data.get("threshold", DEFAULT_DRIFT_THRESHOLD)),
                history_nights=[int(n) for n in data.get("history_nights") or []],
                measurements=dict(data.get("measurements") or {}),
                changes=[
                    cls.Change(**{k: v for k, v in c.items() if k in names})
                    for c in data.get("changes") or []
                ],
                notes=[str(n) for n in data.get("notes") or []],
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"Not a drift check: {e!r}") from e


def _record_night(data: Mapping[str, Any]) -> tuple[int | None, Measurements]:
    """Night and measurements of one run record (from its ``drift``, else its gains)."""
    drift = data.get("drift") or {}
    measurements: Measurements = dict(drift.get("measurements") or {})
    night = drift.get("day_obs")
    if not measurements.get("gain") and data.get("gains"):
        measurements["gain"] = gain_measurements(data["gains"])
    if night is None:
        taken = data.get("exposures_processed") or {}
        night = night_of_exposures([e for ids in taken.values() for e in ids])
    return (int(night) if night is not None else None), measurements


def load_history(
    records_dir: str | Path, *, before: int | None, script: str = "", exclude: Sequence[Path] = ()
) -> dict[int, Measurements]:
    """Measurements of earlier nights from the run records in a folder (blocking).

    Parameters
    ----------
    records_dir : `str` or `pathlib.Path`
        Folder of run records (``*.json``).
    before : `int` or `None`
        Only nights before this day_obs (all if `None`).
    script : `str`, optional
        Only records of this script class (all if empty).
    exclude : `~collections.abc.Sequence` [`pathlib.Path`], optional
        Records to leave out (tonight's own).

    Returns
    -------
    history : `dict` [`int`, `dict`]
        By day_obs: the measurements of that night's latest run (by its
        end time) that has any. Unreadable records are skipped.
    """
    folder = Path(records_dir)
    if not folder.is_dir():
        return {}
    skip = {Path(p).resolve() for p in exclude}
    latest: dict[int, tuple[str, Measurements]] = {}
    for path in sorted(folder.glob("*.json")):
        if path.resolve() in skip:
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or (script and data.get("script") != script):
            continue
        night, measurements = _record_night(data)
        if night is None or (before is not None and night >= before) or not any(measurements.values()):
            continue
        ended = str(data.get("ended") or "")
        if night not in latest or ended >= latest[night][0]:
            latest[night] = (ended, measurements)
    return {night: m for night, (_, m) in sorted(latest.items())}


def _verification_measurements(
    butler: Any, collections: Mapping[str, str], detectors: Sequence[int]
) -> dict[str, dict[str, dict[str, list[float]]]]:
    """Read noise and dark current per amplifier from a run's verification outputs (blocking)."""
    wanted = {"read_noise": ("verifyBiasDetStats", "BIAS"), "dark_current": ("verifyDarkDetStats", "DARK")}
    result: dict[str, dict[str, dict[str, list[float]]]] = {}
    for quantity, (dataset_type, product) in wanted.items():
        collection = collections.get(product)
        if not collection:
            continue
        values: dict[tuple[str, str], list[float]] = {}
        refs = butler.query_datasets(dataset_type, collections=[collection], explain=False, limit=None)
        read: dict[int, int] = {}
        for ref in sorted(refs, key=lambda r: int(r.dataId["exposure"])):
            detector = int(ref.dataId["detector"])
            if (detectors and detector not in detectors) or read.get(detector, 0) >= EXPOSURES_PER_NIGHT:
                continue
            read[detector] = read.get(detector, 0) + 1
            stats = butler.get(ref)
            exposure_time = float((stats.get("METADATA") or {}).get("EXPTIME", math.nan))
            for amp, amp_stats in (stats.get("AMP") or {}).items():
                if quantity == "read_noise":
                    value = float(amp_stats.get("READ_NOISE", math.nan))
                else:
                    value = float(amp_stats.get("MEAN", math.nan)) / exposure_time
                values.setdefault((str(detector), str(amp)), []).append(value)
        for (detector, amp), series in sorted(values.items()):
            value, error, n = summary_statistic(series)
            if n:
                result.setdefault(quantity, {}).setdefault(detector, {})[amp] = [value, error, float(n)]
    return result


async def run_drift_check(
    *,
    butler: Any,
    day_obs: int | None,
    gains: Mapping[str, Any],
    verify_collections: Mapping[str, str],
    detectors: Sequence[int],
    records_dir: str | Path,
    script: str,
    n_nights: int,
    threshold: float,
    log: logging.Logger,
    exclude: Sequence[Path] = (),
) -> DriftCheck:
    """Measure tonight, read the history, judge, and log a WARNING per amplifier beyond the threshold.

    Parameters
    ----------
    butler : `lsst.daf.butler.Butler` or `None`
        A butler on the run's repository (the script's repository facade's;
        read in a thread); `None`: read noise and dark current are not read.
    day_obs : `int` or `None`
        Tonight.
    gains : `~collections.abc.Mapping` [`str`, `typing.Any`]
        The run's ``GainReport.to_dict()`` (empty without gains).
    verify_collections : `~collections.abc.Mapping` [`str`, `str`]
        Verification output collection by product (``BIAS``, ``DARK``).
    detectors : `~collections.abc.Sequence` [`int`]
        Detectors of the run.
    records_dir : `str` or `pathlib.Path`
        Folder of the run records (the history).
    script : `str`
        Script class name; only its records are history.
    n_nights : `int`
        History nights.
    threshold : `float`
        Threshold in σ.
    log : `logging.Logger`
        Where the outcome goes.
    exclude : `~collections.abc.Sequence` [`pathlib.Path`], optional
        Records that are not history (this run's).

    Returns
    -------
    check : `DriftCheck`
        The outcome (a failed read is a note, never an exception).
    """
    measurements: Measurements = {}
    notes: list[str] = []
    gain = gain_measurements(gains) if gains else {}
    if gain:
        measurements["gain"] = gain
    if verify_collections and butler is None:
        notes.append("No repository to read the verification statistics from.")
    elif verify_collections:
        try:
            measurements.update(
                await asyncio.to_thread(_verification_measurements, butler, verify_collections, detectors)
            )
        except Exception as e:
            notes.append(f"Could not read the verification statistics: {e!r}")
    try:
        history = await asyncio.to_thread(
            load_history, records_dir, before=day_obs, script=script, exclude=exclude
        )
    except Exception as e:
        notes.append(f"Could not read the history in {records_dir}: {e!r}")
        history = {}
    check = DriftCheck.compare(day_obs, measurements, history, n_nights=n_nights, threshold=threshold)
    check.notes[:0] = notes
    for note in check.notes:
        log.info("Drift check: %s", note)
    for change in check.flagged:
        log.warning("Drift beyond %g σ: %s", threshold, change.describe())
    if check.changes and not check.flagged:
        log.info(
            "Drift check: %d amplifier measurement(s) within %g σ of their last %d night(s).",
            len(check.changes),
            threshold,
            len(check.history_nights),
        )
    return check


async def drift_check_of_record(
    record: Mapping[str, Any],
    *,
    butler: Any,
    records_dir: str | Path,
    log: logging.Logger,
    exclude: Sequence[Path] = (),
) -> DriftCheck:
    """The drift check of a run, from its run record (the script's end-of-run entry).

    Parameters
    ----------
    record : `~collections.abc.Mapping` [`str`, `typing.Any`]
        The run's record (``RunRecord.to_dict()``): its ``config``
        (``detectors``, ``drift_nights``, ``drift_threshold``),
        ``gains``, the verification collections of its ``products`` and
        its ``exposures_processed`` (tonight's day_obs).
    butler : `lsst.daf.butler.Butler` or `None`
        A butler on the run's repository.
    records_dir : `str` or `pathlib.Path`
        Folder of the run records (the history).
    log : `logging.Logger`
        Where the outcome goes.
    exclude : `~collections.abc.Sequence` [`pathlib.Path`], optional
        Records that are not history.

    Returns
    -------
    check : `DriftCheck`
        The outcome (see `run_drift_check`).
    """
    config = record.get("config") or {}
    products = record.get("products") or {}
    verify = {
        name: str(outcome["collections"]["verify"])
        for name, outcome in products.items()
        if name in ("BIAS", "DARK") and ((outcome or {}).get("collections") or {}).get("verify")
    }
    taken = record.get("exposures_processed") or {}
    return await run_drift_check(
        butler=butler,
        day_obs=night_of_exposures([e for ids in taken.values() for e in ids]),
        gains=record.get("gains") or {},
        verify_collections=verify,
        detectors=[int(d) for d in config.get("detectors") or []],
        records_dir=records_dir,
        script=str(record.get("script", "")),
        n_nights=int(config.get("drift_nights", DEFAULT_DRIFT_NIGHTS)),
        threshold=float(config.get("drift_threshold", DEFAULT_DRIFT_THRESHOLD)),
        log=log,
        exclude=exclude,
    )
