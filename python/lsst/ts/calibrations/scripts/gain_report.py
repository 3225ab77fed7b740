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

"""GainReport: gains from flat pairs per exposure pair, detector and amplifier.

Public API
----------
``GainReport.from_extracts(extracts) -> GainReport``
    ``extracts`` maps ``(exposure, detector)`` to the ``cpPtcExtract``
    dataset read from the butler (a ``PhotonTransferCurveDataset``: ``.gain``
    and ``.noise`` dicts per amplifier, ``.inputExpIdPairs``,
    ``.rawExpTimes``, ``.rawMeans``, ``.gainErr``; ``.metadata`` with
    ``PAIRED`` false for a flat without a partner). Both exposures of a pair
    carry that pair's values; each pair appears once per detector.
``GainReport.format() -> str``
    One table for the log.
``GainReport.rows``
    Tuples in the order of `GainReport.COLUMNS`: first exposure, second
    exposure, exposure time (s), detector, amplifier, gain (e-/ADU), gain
    error, read noise (e-), mean signal (ADU); sorted by pair, detector,
    amplifier.

Reads nothing itself: the caller gets the datasets through the butler (in a
thread) and passes them in.
"""

from __future__ import annotations

__all__ = ["GainReport"]

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

type GainRow = tuple[int, int, float, int, str, float, float, float, float]


def _detector_name(detector: int, names: Mapping[int, str]) -> str:
    """Detector name of an id: the extracts' ``DETNAME``, else LSSTComCam's (R22_S00 = 0 ...)."""
    if detector in names:
        return names[detector]
    return f"R22_S{detector // 3}{detector % 3}" if 0 <= detector < 9 else str(detector)


def _first(values: Any) -> float:
    """First element of a per-pair array (NaN if empty)."""
    try:
        return float(values[0]) if len(values) else math.nan
    except TypeError:
        return float(values)


@dataclasses.dataclass(frozen=True)
class GainReport:
    """Gains and read noise from flat pairs.

    Parameters
    ----------
    rows : `tuple` [`tuple`, ...]
        One row per pair, detector and amplifier (see `COLUMNS`).
    unpaired : `tuple` [`tuple` [`int`, `int`], ...]
        ``(exposure, detector)`` of flats without a partner (no gain).
    """

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "exposure_1",
        "exposure_2",
        "exposure_time",
        "detector",
        "amplifier",
        "gain",
        "gain_err",
        "noise",
        "mean",
    )

    rows: tuple[GainRow, ...]
    unpaired: tuple[tuple[int, int], ...] = ()
    detector_names: tuple[tuple[int, str], ...] = ()

    @classmethod
    def from_extracts(cls, extracts: Mapping[tuple[int, int], Any]) -> GainReport:
        """Build the report from ``cpPtcExtract`` datasets.

        Parameters
        ----------
        extracts : `~collections.abc.Mapping` [`tuple` [`int`, `int`], `typing.Any`]
            ``(exposure, detector)`` → ``PhotonTransferCurveDataset``.

        Returns
        -------
        report : `GainReport`
            The report.

        Raises
        ------
        ValueError
            If a paired dataset names no exposure pair for an amplifier
            that has a gain, or a pair that does not contain its exposure.
        """
        rows: dict[tuple[int, int, int, str], GainRow] = {}
        unpaired: set[tuple[int, int]] = set()
        names: dict[int, str] = {}
        for (exposure, detector), dataset in extracts.items():
            exposure, detector = int(exposure), int(detector)
            metadata = getattr(dataset, "metadata", {}) or {}
            if metadata.get("DETNAME"):
                names[detector] = str(metadata["DETNAME"])
            if metadata.get("PAIRED") is False:
                unpaired.add((exposure, detector))
                continue
            amp_names = list(getattr(dataset, "ampNames", []) or dataset.gain)
            for amp in amp_names:
                pairs: Sequence[Sequence[int]] = dataset.inputExpIdPairs.get(amp, [])
                gain = float(dataset.gain.get(amp, math.nan))
                if not pairs:
                    if "PAIR_EXPOSURE_1" in metadata:
                        pair = (int(metadata["PAIR_EXPOSURE_1"]), int(metadata["PAIR_EXPOSURE_2"]))
                    elif math.isnan(gain):
                        continue
                    else:
                        raise ValueError(
                            f"cpPtcExtract of exposure {exposure}, detector {detector} has a gain for {amp} "
                            "but no exposure pair (inputExpIdPairs)."
                        )
                else:
                    pair = (int(pairs[0][0]), int(pairs[0][1]))
                if exposure not in pair:
                    raise ValueError(
                        f"cpPtcExtract of exposure {exposure}, detector {detector} names pair {pair}, "
                        "which does not contain it."
                    )
                exposure_time = _first(dataset.rawExpTimes.get(amp, []))
                if math.isnan(exposure_time):
                    exposure_time = float(metadata.get("EXPTIME", math.nan))
                rows[(pair[0], pair[1], detector, amp)] = (
                    pair[0],
                    pair[1],
                    exposure_time,
                    detector,
                    str(amp),
                    gain,
                    float(getattr(dataset, "gainErr", {}).get(amp, math.nan)),
                    float(dataset.noise.get(amp, math.nan)),
                    _first(getattr(dataset, "rawMeans", {}).get(amp, [])),
                )
        return cls(
            rows=tuple(rows[key] for key in sorted(rows)),
            unpaired=tuple(sorted(unpaired)),
            detector_names=tuple(sorted(names.items())),
        )

    @property
    def pairs(self) -> tuple[tuple[int, int], ...]:
        """The exposure pairs, in order."""
        return tuple(dict.fromkeys((row[0], row[1]) for row in self.rows))

    def gains(self) -> dict[tuple[int, int], dict[int, dict[str, float]]]:
        """Return gains as ``{pair: {detector: {amplifier: gain}}}``."""
        result: dict[tuple[int, int], dict[int, dict[str, float]]] = {}
        for row in self.rows:
            result.setdefault((row[0], row[1]), {}).setdefault(row[3], {})[row[4]] = row[5]
        return result

    def format(self) -> str:
        """Return the report as one table (a line per pair, detector and amplifier)."""
        detectors = sorted({row[3] for row in self.rows})
        lines = [
            f"Gains from flat pairs: {len(self.pairs)} pair(s), {len(detectors)} detector(s); "
            "gain in e-/ADU, noise in e-, mean in ADU."
        ]
        header = (
            f"{'exposure pair':<29} {'exptime':>8} {'detector':<12} {'amp':<4} {'gain':>7} "
            f"{'gain err':>8} {'noise':>7} {'mean':>10}"
        )
        lines.append(header)
        lines.append("-" * len(header))
        for first, second, exposure_time, detector, amp, gain, gain_err, noise, mean in self.rows:
            pair = f"{first}/{second}"
            name = f"{detector} {_detector_name(detector, dict(self.detector_names))}"
            lines.append(
                f"{pair:<29} {exposure_time:>7.3g}s {name:<12} "
                f"{amp:<4} {gain:>7.4f} {gain_err:>8.4f} {noise:>7.3f} {mean:>10.1f}"
            )
        if not self.rows:
            lines.append("(no flat pair measured)")
        if self.unpaired:
            lines.append(
                "Flats taken but in no pair (no gain): "
                + ", ".join(f"{exposure} (detector {detector})" for exposure, detector in self.unpaired)
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-compatible dict: rows as dicts (NaN as `None`), unpaired."""
        return {
            "rows": [
                {
                    name: (None if isinstance(value, float) and math.isnan(value) else value)
                    for name, value in zip(self.COLUMNS, row, strict=True)
                }
                for row in self.rows
            ],
            "unpaired": [list(item) for item in self.unpaired],
            "detector_names": {str(d): name for d, name in self.detector_names},
        }
