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

"""RaftSummary: tables that stay readable for many rafts (LSSTCam: 189 detectors × 16 amplifiers).

One row per raft (its vendor, how many of its detectors have values, the
amplifiers failing verification, the median of each quantity and the value
farthest from the focal plane's median with its detector and amplifier),
and under it, in an HTML ``<details>`` element the reader opens, the raft's
per-detector summary and per-amplifier rows. Rafts come in the camera
description's order (R01, R02, ... R43).
"""

__all__ = ["RaftSummary"]

import html
import math
from collections.abc import Collection, Mapping, Sequence

import numpy as np

from ..repo.camera import AMP_NAMES, Camera
from .report_page import ReportPage

Failing = Mapping[str, Mapping[str, Mapping[str, Collection[int]]]]
"""Failed verification tests: detector name → amplifier (or DET) → test → exposures."""


def _e(text: object) -> str:
    return html.escape(str(text))


_table = ReportPage.table


def _fmt(value: float | None, fmt: str) -> str:
    return "–" if value is None or not math.isfinite(value) else format(value, fmt)


class RaftSummary:
    """Per-raft tables of a run's detectors.

    Parameters
    ----------
    instrument : `str`
        The instrument (its camera description gives rafts, vendors and names).
    run_detectors : `~collections.abc.Collection` [`int`]
        Detector ids of the run.
    """

    def __init__(self, instrument: str, run_detectors: Collection[int]) -> None:
        self.camera = Camera.instance(instrument)
        self.run_detectors = set(run_detectors)

    def raft_detectors(self, ids: Collection[int]) -> dict[str, list[int]]:
        """Detector ids by raft, rafts in the camera's order; only rafts with a detector in ``ids``."""
        by_raft: dict[str, list[int]] = {}
        for detector in self.camera.detectors:
            if detector.id in ids:
                by_raft.setdefault(detector.raft, []).append(detector.id)
        return by_raft

    def vendor(self, raft: str) -> str:
        """Vendor of a raft's sensors as written ("ITL", "e2v")."""
        vendor = next(d.vendor for d in self.camera.detectors if d.raft == raft)
        return "e2v" if vendor == "E2V" else vendor

    def _failing_count(self, failing: Failing, detectors: Sequence[int]) -> int:
        names = [self.camera[d].name for d in detectors]
        return sum(1 for name in names for amp in failing.get(name, {}) if amp != "DET")

    @staticmethod
    def _worst(
        values: Mapping[int, Mapping[str, float]], detectors: Sequence[int], median: float
    ) -> tuple[float, int, str] | None:
        """The value farthest from ``median`` among ``detectors``, with its detector and amplifier."""
        best: tuple[float, int, str] | None = None
        for detector in detectors:
            for amp, value in values.get(detector, {}).items():
                if value is None or not math.isfinite(value):
                    continue
                if best is None or abs(value - median) > abs(best[0] - median):
                    best = (float(value), detector, amp)
        return best

    @staticmethod
    def _median(values: Mapping[int, Mapping[str, float]], detectors: Collection[int]) -> float:
        finite = [
            v for d in detectors for v in values.get(d, {}).values() if v is not None and math.isfinite(v)
        ]
        return float(np.median(finite)) if finite else math.nan

    def _failing_cell(self, failing: Failing, detector: int) -> str:
        amps = sorted(failing.get(self.camera[detector].name, {}))
        return f'<td class="text">{_e(", ".join(amps) or "–")}</td>'

    def _worst_cell(self, worst: tuple[float, int, str] | None, fmt: str) -> str:
        if worst is None:
            return "–"
        value, detector, amp = worst
        return f'<td class="text">{_fmt(value, fmt)} ({_e(self.camera[detector].name)} {_e(amp)})</td>'

    def amp_tables(
        self, columns: Mapping[str, Mapping[int, Mapping[str, float]]], fmt: str, failing: Failing
    ) -> str:
        """Summary rows per raft, each raft's detectors and amplifiers on demand.

        Parameters
        ----------
        columns : `~collections.abc.Mapping` [`str`, `~collections.abc.Mapping`]
            Per-amplifier values by quantity name, detector id and amplifier.
        fmt : `str`
            Format of the values.
        failing : `Failing`
            Failed verification tests by detector name and amplifier.

        Returns
        -------
        html : `str`
            The summary table and one ``<details>`` per raft.
        """
        with_values = {d for values in columns.values() for d in values}
        by_raft = self.raft_detectors(with_values)
        medians = {name: self._median(values, with_values) for name, values in columns.items()}
        header = ["raft", "vendor", "detectors", "amplifiers failing"]
        for name in columns:
            header += [f"{name}: median", f"{name}: farthest from {_fmt(medians[name], fmt)}"]
        rows = []
        details = ""
        for raft, detectors in by_raft.items():
            in_raft = [d.id for d in self.camera.detectors if d.raft == raft and d.id in self.run_detectors]
            cells = [
                _e(raft),
                _e(self.vendor(raft)),
                f"{len(detectors)}/{max(len(in_raft), len(detectors))}",
                str(self._failing_count(failing, detectors)),
            ]
            for name, values in columns.items():
                cells.append(_fmt(self._median(values, detectors), fmt))
                cells.append(self._worst_cell(self._worst(values, detectors, medians[name]), fmt))
            rows.append(cells)
            per_detector = []
            per_amp = []
            for detector in detectors:
                name = self.camera[detector].name
                row = [_e(name), str(sum(1 for a in failing.get(name, {}) if a != "DET"))]
                for quantity, values in columns.items():
                    row.append(_fmt(self._median(values, [detector]), fmt))
                    row.append(self._worst_cell(self._worst(values, [detector], medians[quantity]), fmt))
                per_detector.append(row)
                for amp in AMP_NAMES:
                    cells_amp = [_e(name), amp]
                    cells_amp += [_fmt(values.get(detector, {}).get(amp), fmt) for values in columns.values()]
                    per_amp.append(cells_amp)
            detector_header = ["detector", "amplifiers failing"]
            for quantity in columns:
                detector_header += [f"{quantity}: median", f"{quantity}: farthest"]
            details += (
                f'<details class="raft" data-raft="{_e(raft)}"><summary>{_e(raft)} '
                f"({_e(self.vendor(raft))}): {len(detectors)} detectors, {16 * len(detectors)} amplifiers"
                "</summary>"
                + _table(detector_header, per_detector)
                + _table(["detector", "amplifier", *columns], per_amp)
                + "</details>"
            )
        return _table(header, rows) + details

    def rows_by_raft(self, header: Sequence[str], rows: Sequence[tuple[int, list[str]]]) -> str:
        """Per-detector rows of a table, one ``<details>`` per raft (with its row count).

        Parameters
        ----------
        header : `~collections.abc.Sequence` [`str`]
            Column names.
        rows : `~collections.abc.Sequence` [`tuple` [`int`, `list` [`str`]]]
            Detector id and HTML cells of each row.

        Returns
        -------
        html : `str`
            The ``<details>`` elements.
        """
        by_raft = self.raft_detectors({d for d, _ in rows})
        body = ""
        for raft, detectors in by_raft.items():
            chosen = set(detectors)
            raft_rows = [cells for d, cells in rows if d in chosen]
            body += (
                f'<details class="raft" data-raft="{_e(raft)}"><summary>{_e(raft)} '
                f"({_e(self.vendor(raft))}): {len(detectors)} detectors, {len(raft_rows)} rows</summary>"
                + _table(header, raft_rows)
                + "</details>"
            )
        return body

    def overview(
        self,
        gain: Mapping[int, Mapping[str, float]],
        noise: Mapping[int, Mapping[str, float]],
        failing: Failing,
        with_products: Collection[int],
    ) -> str:
        """The rafts at a glance: one row per raft of the run, its detectors on demand.

        Parameters
        ----------
        gain, noise : `~collections.abc.Mapping` [`int`, `~collections.abc.Mapping` [`str`, `float`]]
            Gain (e⁻/ADU) and read noise (e⁻) by detector and amplifier.
        failing : `Failing`
            Failed verification tests by detector name and amplifier.
        with_products : `~collections.abc.Collection` [`int`]
            Detectors with any product.

        Returns
        -------
        html : `str`
            The table (id ``raft-summary``) and one ``<details>`` per raft.
        """
        everything = set(self.run_detectors) | set(with_products)
        by_raft = self.raft_detectors(everything)
        gain_median = self._median(gain, everything)
        noise_median = self._median(noise, everything)
        header = [
            "raft",
            "vendor",
            "detectors in the run",
            "with products",
            "amplifiers failing",
            "median gain",
            f"gain farthest from {_fmt(gain_median, '.3f')}",
            "median noise",
            f"noise farthest from {_fmt(noise_median, '.2f')}",
        ]
        rows = []
        details = ""
        for raft, detectors in by_raft.items():
            failing_names = [
                f"{self.camera[d].name} {amp}"
                for d in detectors
                for amp in sorted(failing.get(self.camera[d].name, {}))
            ]
            rows.append(
                [
                    _e(raft),
                    _e(self.vendor(raft)),
                    str(sum(1 for d in detectors if d in self.run_detectors)),
                    str(sum(1 for d in detectors if d in with_products)),
                    f'<td class="{"fail" if failing_names else "pass"}">'
                    f"{self._failing_count(failing, detectors)}</td>",
                    _fmt(self._median(gain, detectors), ".3f"),
                    self._worst_cell(self._worst(gain, detectors, gain_median), ".3f"),
                    _fmt(self._median(noise, detectors), ".2f"),
                    self._worst_cell(self._worst(noise, detectors, noise_median), ".2f"),
                ]
            )
            per_detector = [
                [
                    _e(self.camera[d].name),
                    "yes" if d in self.run_detectors else "no",
                    "yes" if d in with_products else "no",
                    self._failing_cell(failing, d),
                    _fmt(self._median(gain, [d]), ".3f"),
                    self._worst_cell(self._worst(gain, [d], gain_median), ".3f"),
                    _fmt(self._median(noise, [d]), ".2f"),
                    self._worst_cell(self._worst(noise, [d], noise_median), ".2f"),
                ]
                for d in detectors
            ]
            details += (
                f'<details class="raft" data-raft="{_e(raft)}"><summary>{_e(raft)} '
                f"({_e(self.vendor(raft))}): {len(detectors)} detectors</summary>"
                + _table(
                    [
                        "detector",
                        "in the run",
                        "with products",
                        "amplifiers failing",
                        "median gain",
                        "gain farthest",
                        "median noise",
                        "noise farthest",
                    ],
                    per_detector,
                )
                + "</details>"
            )
        return _table(header, rows, "raft-summary") + details
