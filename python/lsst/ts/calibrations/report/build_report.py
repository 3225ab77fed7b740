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

"""build_report: the calibration run report, from a repository and the run's collections or run record.

The page (``report.html``, figures embedded) and its figures (``*.png``) are
written into ``out_dir``. Sections, in order:

``run``
    The verification failures by name (image type, detector, amplifier,
    test, in how many exposures), then the run: script, final state and
    reason, elapsed time, collections searched, and what could not be
    read.
``rafts`` (only when the run's detectors span several rafts: LSSTCam)
    One row per raft: vendor, detectors, amplifiers failing verification,
    median gain and read noise and the amplifier farthest from the focal
    plane's median; each raft's detectors on demand (HTML ``<details>``).
``mosaics``
    Focal-plane mosaics of the combined bias, dark and flat.
``defects``
    The defects over the flat mosaic.
``gain``
    Gain per amplifier from the PTC and from each flat pair (mean and
    spread across pairs): table and heat maps.
``noise``
    Read noise per amplifier (overscan of the bias verification, flat
    pairs, PTC fit): table and heat map.
``dark-current``
    Dark current per amplifier (median of the combined dark): table and
    heat map.
``ptc``
    Photon transfer curves per detector, with the fit values.
``verification``
    Per image type: the verdict, the thresholds, and the matrix of
    exposures × detectors with the failed tests.
``drift``
    The script's drift check (``drift`` in the run record): the amplifiers
    whose gain, read noise or dark current moved beyond the threshold.
``timeline``
    Exposures, ingestion, OCPS jobs and certifications on one time axis.
``certification``
    What was certified where, with validity ranges; what was not, and why.

A section without data says so. When the run's detectors span several
rafts, the per-amplifier tables become one summary row per raft (median and
the value farthest from the focal plane's median, with its amplifier) with
the per-detector and per-amplifier rows of each raft in a ``<details>``
element, the verification matrix becomes exposures × rafts (each raft's
exposures × detectors on demand) and the photon transfer curves are drawn
for the ``MAX_PTC_FIGURES`` detectors with the worst fit.
"""

__all__ = ["build_report"]

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from lsst.daf.butler import Butler

from ..repo.camera import AMP_NAMES, Camera
from ..repo.repository import open_repository
from ..scripts.run_record import RunRecord
from .amp_heat_map import amp_heat_map
from .focal_plane import FocalPlane
from .mosaic_figure import mosaic_figure
from .ptc_figure import ptc_figure
from .raft_summary import RaftSummary
from .report_data import IMAGE_TYPES, ReportData, instrument_of_record
from .report_page import ReportPage
from .timeline_figure import timeline_figure
from .verification_sections import add_verification_section, failing_amps, failures_block

TITLE = "LSSTComCam calibration run report"
"""Title of a ComCam run's report; another instrument's names it instead."""
MAX_FAILURES_SHOWN = 40
"""Verification failures listed at the top before the rest go into a ``<details>``."""
MAX_PTC_FIGURES = 6
"""Photon transfer curves drawn when the run spans several rafts (the detectors with the worst χ²)."""

E = ReportPage.escape


_no_data = ReportPage.no_data
_table = ReportPage.table


def _fmt(value: float | None, fmt: str = ".3f") -> str:
    return "–" if value is None or not np.isfinite(value) else format(value, fmt)


def _amp_table(columns: Mapping[str, Mapping[int, Mapping[str, float]]], fmt: str, data: ReportData) -> str:
    """Per-amplifier values: rows detector × amplifier (one raft), or per-raft summaries (many)."""
    if data.multi_raft:
        return RaftSummary(data.instrument, data.run_detectors).amp_tables(columns, fmt, failing_amps(data))
    camera = Camera.instance(data.instrument)
    detectors = sorted({d for values in columns.values() for d in values})
    rows = []
    for detector in detectors:
        for amp in AMP_NAMES:
            cells = [f"{E(camera[detector].name)}", amp]
            cells += [_fmt(values.get(detector, {}).get(amp), fmt) for values in columns.values()]
            rows.append(cells)
    return _table(["detector", "amplifier", *columns], rows)


def _rows_by_raft(data: ReportData, header: Sequence[str], rows: Sequence[tuple[int, list[str]]]) -> str:
    """A table of per-detector rows; split into one ``<details>`` per raft when the run spans several."""
    if not data.multi_raft:
        return _table(header, [cells for _, cells in rows])
    return RaftSummary(data.instrument, data.run_detectors).rows_by_raft(header, rows)


def _detector_names(instrument: str, names: Sequence[str]) -> str:
    """Detector names; more than a raft's worth are grouped by raft (``R01 (all 9), R02: S00 S11``)."""
    if len(names) <= 9:
        return ", ".join(names)
    camera = Camera.instance(instrument)
    by_raft: dict[str, list[str]] = {}
    for name in sorted(names):
        raft, _, sensor = name.partition("_")
        by_raft.setdefault(raft, []).append(sensor)
    parts = []
    for raft, sensors in by_raft.items():
        size = sum(1 for d in camera.detectors if d.raft == raft)
        parts.append(f"{raft} (all {size})" if len(sensors) == size else f"{raft}: {' '.join(sensors)}")
    return f"{len(names)} detectors: " + ", ".join(parts)


def _run_section(page: ReportPage, data: ReportData) -> None:
    record = data.run_record
    items: list[tuple[str, str]] = [("repository", data.repo)]
    if record is not None:
        items += [
            ("script", f"{record.script} (index {record.index})"),
            ("final state", record.state),
            ("reason", record.reason or "–"),
            ("started, ended (TAI)", f"{record.started or '–'}, {record.ended or '–'}"),
            ("elapsed", f"{float(record.timings.get('elapsed') or 0.0):.1f} s"),
        ]
        items += [
            (f"{k} taken", f"{len(v)}: {', '.join(str(i) for i in v)}")
            for k, v in record.exposures_taken.items()
        ]
        items += [
            (f"{k} in the raw collection", f"{len(v)}: {', '.join(str(i) for i in v)}")
            for k, v in record.exposures_ingested.items()
        ]
        items += [
            (f"{k} {exposure} left out of processing", reason)
            for k, reasons in record.exposures_left_out.items()
            for exposure, reason in sorted(reasons.items())
        ]
        items += [(f"{k} not taken", why) for k, why in record.images_not_taken.items()]
        if record.collections.get("run"):
            items.append(("the run's collection", record.collections["run"]))
    else:
        items.append(("run record", "not given: the report shows the collections only"))
    items.append(("collections searched", ", ".join(data.collections) or "none found"))
    camera = Camera.instance(data.instrument)
    items.append(
        (
            "detectors with products",
            _detector_names(data.instrument, [camera[d].name for d in data.detectors]) or "none",
        )
    )
    body = _table(
        ["", ""], [[f'<td class="text">{E(k)}</td>', f'<td class="text">{E(v)}</td>'] for k, v in items]
    )
    if data.notes:
        body += "<p>Not read:</p><ul>" + "".join(f"<li>{E(n)}</li>" for n in data.notes) + "</ul>"
    page.add_section("run", "The run", failures_block(data) + body)


def _gain_values(data: ReportData) -> dict[int, dict[str, float]]:
    """Gain per amplifier: the PTC's, else the mean over flat pairs."""
    gains = {d: dict(p.gain) for d, p in data.ptc.items()}
    for detector, pairs in data.pair_gains.items():
        if detector in gains:
            continue
        for amp in AMP_NAMES:
            values = [p.gain.get(amp, np.nan) for p in pairs.values()]
            if np.isfinite(values).any():
                gains.setdefault(detector, {})[amp] = float(np.nanmean(values))
    return gains


def _rafts_section(page: ReportPage, data: ReportData) -> None:
    noise = data.read_noise or {d: dict(p.noise) for d, p in data.ptc.items()}
    body = (
        "<p>One row per raft; open a raft for its detectors. Gain from the PTC (else the flat pairs), "
        "read noise from the bias verification's overscan (else the PTC); the farthest value is the "
        "amplifier farthest from the focal plane's median.</p>"
    )
    body += RaftSummary(data.instrument, data.run_detectors).overview(
        _gain_values(data), noise, failing_amps(data), data.detectors
    )
    page.add_section("rafts", "Rafts", body)


def _mosaic_sections(page: ReportPage, data: ReportData, plane: FocalPlane | None) -> None:
    body = ""
    for product in IMAGE_TYPES:
        images = data.calibrations.get(product, {})
        if not images or plane is None:
            body += _no_data(f"No combined {product} in the run's collections.")
            continue
        unit = str(next(iter(images.values())).metadata.get("BUNIT", ""))
        png = mosaic_figure(
            plane,
            {d: e.binned for d, e in images.items()},
            title=f"Combined {product}",
            unit=unit,
            in_run=data.run_detectors,
        )
        source = data.calibration_collections.get(product, "")
        body += f"<p>Combined {product} from {E(source)}.</p>" + page.figure(
            f"mosaic_{product}", png, f"{product} mosaic"
        )
    page.add_section("mosaics", "Combined calibrations", body)
    flats = data.calibrations.get("flat", {})
    if not data.defects:
        body = _no_data("No defects in the run's collections (do_defects not asked, or not made).")
    elif plane is None:
        body = _no_data("No image to draw the defects on.")
    else:
        base = {d: e.binned for d, e in flats.items()}
        png = mosaic_figure(
            plane,
            base,
            title="Defects over the combined flat",
            unit="flat",
            defects=data.defects,
            in_run=data.run_detectors,
        )
        counts = ", ".join(
            f"{Camera.instance(data.instrument)[d].name}: {len(x.boxes)}"
            for d, x in sorted(data.defects.items())
        )
        if data.multi_raft:
            total = sum(len(x.boxes) for x in data.defects.values())
            counts = f"{total} in {len(data.defects)} detectors (per detector: {counts})"
        body = f"<p>Defect boxes per detector: {E(counts)}.</p>" + page.figure("defects", png, "defects")
        if not flats:
            body += _no_data("No combined flat: the defects are drawn on an empty focal plane.")
    page.add_section("defects", "Defects", body)


def _gain_section(page: ReportPage, data: ReportData) -> None:
    ptc_gain = {d: dict(p.gain) for d, p in data.ptc.items()}
    ptc_err = {d: dict(p.gainErr) for d, p in data.ptc.items()}
    pair_mean: dict[int, dict[str, float]] = {}
    pair_spread: dict[int, dict[str, float]] = {}
    per_pair_rows: list[tuple[int, list[str]]] = []
    camera = Camera.instance(data.instrument)
    for detector, pairs in sorted(data.pair_gains.items()):
        for amp in AMP_NAMES:
            values = np.array([p.gain.get(amp, np.nan) for p in pairs.values()], dtype=float)
            values = values[np.isfinite(values)]
            if values.size:
                pair_mean.setdefault(detector, {})[amp] = float(values.mean())
                pair_spread.setdefault(detector, {})[amp] = (
                    float(values.std(ddof=1)) if values.size > 1 else np.nan
                )
        for (first, second), extract in sorted(pairs.items()):
            gains = np.array([extract.gain.get(a, np.nan) for a in AMP_NAMES], dtype=float)
            means = np.array([np.nanmean(extract.rawMeans.get(a, [np.nan])) for a in AMP_NAMES], dtype=float)
            per_pair_rows.append(
                (
                    detector,
                    [
                        E(camera[detector].name),
                        f"{first}, {second}",
                        _fmt(float(np.nanmedian(means)), ".0f"),
                        _fmt(float(np.nanmedian(gains))),
                        _fmt(float(np.nanmin(gains))),
                        _fmt(float(np.nanmax(gains))),
                    ],
                )
            )
    if not ptc_gain and not pair_mean:
        page.add_section(
            "gain", "Gain", _no_data("No PTC and no gains from flat pairs in the run's collections.")
        )
        return
    body = ""
    if pair_mean:
        body += "<h3>Gains from flat pairs (cpPtcExtract)</h3>"
        body += page.figure(
            "gain_pairs",
            amp_heat_map(
                pair_mean,
                title="Gain, mean over flat pairs",
                unit="e⁻/ADU",
                instrument=data.instrument,
                in_run=data.run_detectors,
            ),
            "gain from pairs",
        )
        body += page.figure(
            "gain_pairs_spread",
            amp_heat_map(
                pair_spread,
                title="Gain spread across flat pairs (standard deviation)",
                unit="e⁻/ADU",
                fmt=".4f",
                instrument=data.instrument,
                in_run=data.run_detectors,
            ),
            "gain spread",
        )
        body += _rows_by_raft(
            data,
            ["detector", "pair", "median mean (ADU)", "median gain", "min gain", "max gain"],
            per_pair_rows,
        )
    else:
        body += _no_data("No gains from flat pairs (cpPtcExtract) in the run's collections.")
    if ptc_gain:
        body += "<h3>Gain from the PTC</h3>"
        body += page.figure(
            "gain_ptc",
            amp_heat_map(
                ptc_gain,
                title="Gain from the PTC fit",
                unit="e⁻/ADU",
                instrument=data.instrument,
                in_run=data.run_detectors,
            ),
            "PTC gain",
        )
    else:
        body += _no_data("No PTC in the run's collections (do_ptc not asked, or not made).")
    body += "<h3>Per amplifier (e⁻/ADU)</h3>" + _amp_table(
        {
            "PTC gain": ptc_gain,
            "PTC gain error": ptc_err,
            "pair gain mean": pair_mean,
            "pair gain spread": pair_spread,
        },
        ".4f",
        data,
    )
    page.add_section("gain", "Gain", body)


def _noise_section(page: ReportPage, data: ReportData) -> None:
    pair_noise: dict[int, dict[str, float]] = {}
    for detector, pairs in data.pair_gains.items():
        for amp in AMP_NAMES:
            values = [p.noise.get(amp, np.nan) for p in pairs.values()]
            if np.isfinite(values).any():
                pair_noise.setdefault(detector, {})[amp] = float(np.nanmedian(values))
    ptc_noise = {d: dict(p.noise) for d, p in data.ptc.items()}
    if not (data.read_noise or pair_noise or ptc_noise):
        page.add_section(
            "noise", "Read noise", _no_data("No bias verification, flat pairs or PTC: no read noise.")
        )
        return
    shown, source = (
        (data.read_noise, "bias verification overscan")
        if data.read_noise
        else (pair_noise, "flat-pair overscan")
    )
    body = page.figure(
        "read_noise",
        amp_heat_map(
            shown,
            title=f"Read noise ({source})",
            unit="e⁻",
            fmt=".2f",
            instrument=data.instrument,
            in_run=data.run_detectors,
        ),
        "read noise",
    )
    body += _amp_table(
        {"bias overscan": data.read_noise, "flat pairs overscan": pair_noise, "PTC fit": ptc_noise},
        ".2f",
        data,
    )
    page.add_section("noise", "Read noise (e⁻)", body)


def _dark_section(page: ReportPage, data: ReportData, plane: FocalPlane | None) -> None:
    darks = data.calibrations.get("dark", {})
    if not darks or plane is None:
        page.add_section(
            "dark-current", "Dark current", _no_data("No combined dark in the run's collections.")
        )
        return
    current = {detector: dict(dark.amp_medians) for detector, dark in darks.items()}
    unit = str(next(iter(darks.values())).metadata.get("BUNIT", ""))
    body = page.figure(
        "dark_current",
        amp_heat_map(
            current,
            title="Dark current (median of the combined dark)",
            unit=unit,
            fmt=".4f",
            instrument=data.instrument,
            in_run=data.run_detectors,
        ),
        "dark current",
    )
    body += _amp_table({f"dark current ({unit})": current}, ".5f", data)
    page.add_section("dark-current", "Dark current", body)


def _ptc_section(page: ReportPage, data: ReportData) -> None:
    if not data.ptc:
        page.add_section(
            "ptc",
            "Photon transfer curves",
            _no_data("No PTC in the run's collections (do_ptc not asked, or not made)."),
        )
        return
    camera = Camera.instance(data.instrument)
    body = ""
    rows: list[tuple[int, list[str]]] = []
    drawn = sorted(data.ptc)
    if data.multi_raft and len(drawn) > MAX_PTC_FIGURES:

        def worst_chi2(detector: int) -> float:
            values = [v for v in data.ptc[detector].ptcFitChiSq.values() if np.isfinite(v)]
            return max(values) if values else -np.inf

        drawn = sorted(sorted(drawn, key=worst_chi2, reverse=True)[:MAX_PTC_FIGURES])
        body += (
            f"<p>Curves of the {len(drawn)} detectors with the largest χ² of {len(data.ptc)}; "
            "every amplifier's fit is in the tables below.</p>"
        )
    for detector, ptc in sorted(data.ptc.items()):
        name = camera[detector].name
        if detector in drawn:
            body += page.figure(f"ptc_{name}", ptc_figure(ptc, name), f"PTC {name}")
        for amp in ptc.ampNames:
            mask = np.asarray(ptc.expIdMask.get(amp, []), dtype=bool)
            rows.append(
                (
                    detector,
                    [
                        E(name),
                        amp,
                        _fmt(ptc.gain[amp], ".4f"),
                        _fmt(ptc.gainErr[amp], ".4f"),
                        _fmt(ptc.noise[amp], ".2f"),
                        _fmt(ptc.ptcTurnoff[amp], ".0f"),
                        _fmt(ptc.ptcFitChiSq[amp], ".2f"),
                        f"{int(mask.sum())}/{mask.size}",
                    ],
                )
            )
    body += _rows_by_raft(
        data,
        [
            "detector",
            "amplifier",
            "gain (e⁻/ADU)",
            "error",
            "noise (e⁻)",
            "turnoff (ADU)",
            "χ²",
            "pairs kept",
        ],
        rows,
    )
    page.add_section("ptc", "Photon transfer curves", body)


def _drift_section(page: ReportPage, data: ReportData) -> None:
    drift = data.run_record.drift if data.run_record is not None else {}
    if not drift:
        page.add_section("drift", "Drift", _no_data("No drift check in the run record."))
        return
    notes = "".join(f"<p>{E(note)}</p>" for note in drift.get("notes") or [])
    flagged = [c for c in drift.get("changes") or [] if c.get("flagged")]
    rows = [
        [
            E(c["quantity"]),
            E(c["detector"]),
            E(c["amp"]),
            _fmt(c["value"], ".5g"),
            _fmt(c["reference"], ".5g"),
            _fmt(c["sigma"], ".3g"),
            f'<td class="fail">{_fmt(c["change_sigma"], "+.1f")}</td>',
            E(c["n_history"]),
        ]
        for c in flagged
    ]
    nights = ", ".join(str(n) for n in drift.get("history_nights") or []) or "none"
    judged = len(drift.get("changes") or [])
    body = (
        f"<p>Night {E(drift.get('day_obs'))} against the nights {E(nights)}; threshold "
        f"{E(drift.get('threshold'))} σ; {judged} amplifier measurement(s) judged.</p>" + notes
    )
    if rows:
        header = ["quantity", "detector", "amplifier", "value", "median", "σ", "change (σ)", "history nights"]
        body += _table(header, rows)
    elif drift.get("changes"):
        body += "<p>No amplifier moved beyond the threshold.</p>"
    page.add_section("drift", "Drift", body)


def _timeline_section(page: ReportPage, data: ReportData) -> None:
    if data.timeline.empty:
        page.add_section(
            "timeline", "Run timeline", _no_data("No timed events: no exposures found and no run record.")
        )
        return
    body = page.figure("timeline", timeline_figure(data.timeline), "run timeline")
    jobs = data.timeline.lane("OCPS jobs")
    if jobs:
        rows = [
            [
                f'<td class="text">{E(e.label)}</td>',
                E(e.status),
                E(f"{e.start:%H:%M:%S}"),
                E(f"{e.queued_until:%H:%M:%S}" if e.queued_until else "–"),
                E(f"{e.end:%H:%M:%S}" if e.end else "–"),
            ]
            for e in jobs
        ]
        body += _table(["job", "phase", "created", "started", "ended"], rows)
    elif data.run_record is None:
        body += _no_data("No run record: OCPS jobs and certification times are not known.")
    page.add_section("timeline", "Run timeline", body)


def _certification_section(page: ReportPage, data: ReportData) -> None:
    camera = Camera.instance(data.instrument)
    groups: dict[tuple[str, str, str, str], list[str]] = {}
    for entry in data.certifications:
        key = (entry["product"], entry["collection"], entry["begin"], entry["end"])
        groups.setdefault(key, []).append(camera[entry["detector"]].name)
    body = ""
    if groups:
        rows = [
            [
                E(p),
                f'<td class="text">{E(c)}</td>',
                E(b),
                E(e),
                E(_detector_names(data.instrument, sorted(d))),
            ]
            for (p, c, b, e), d in sorted(groups.items())
        ]
        body += "<h3>Certified</h3>" + _table(
            ["product", "collection", "valid from (TAI)", "valid until (TAI)", "detectors"], rows
        )
    else:
        body += _no_data("Nothing of this run was certified.")
    products = data.run_record.products if data.run_record is not None else {}
    if products:
        rows = []
        for name, outcome in products.items():
            validity = outcome.validity
            where = (
                f"{outcome.certified_into} [{validity[0]}, {validity[1]})"
                if validity
                else outcome.certified_into or "–"
            )
            verdict = outcome.verdict.summary().splitlines()[0] if outcome.verdict is not None else ""
            why = outcome.reason or verdict or "–"
            rows.append(
                [
                    E(name),
                    E(outcome.status.value),
                    f'<td class="text">{E(where)}</td>',
                    f'<td class="text">{E(why)}</td>',
                ]
            )
        body += "<h3>Every product of the run</h3>" + _table(
            ["product", "status", "certified into", "why"], rows
        )
    else:
        made = sorted(
            set(data.calibrations)
            | ({"defects"} if data.defects else set())
            | ({"ptc"} if data.ptc else set())
        )
        certified = {entry["product"] for entry in data.certifications}
        missing = [p for p in made if p not in certified]
        if missing:
            body += _no_data(
                f"Made but not certified: {', '.join(missing)} "
                "(without a run record the reason is not known)."
            )
    page.add_section("certification", "Certification", body)


def build_report(
    repo: str | os.PathLike[str],
    *,
    out_dir: str | os.PathLike[str],
    collections: Sequence[str] = (),
    run_record: str | os.PathLike[str] | RunRecord | Mapping[str, Any] | None = None,
    butler: Butler | None = None,
) -> Path:
    """Build the report of a calibration run (see the module documentation).

    Parameters
    ----------
    repo : `str` or `os.PathLike`
        The butler repository (path or alias).
    out_dir : `str` or `os.PathLike`
        Folder for ``report.html`` and the PNGs (created if needed).
    collections : `~collections.abc.Sequence` [`str`], optional
        The run's collections, searched in order.
    run_record : `str`, `os.PathLike`, ``RunRecord`` or `~collections.abc.Mapping`, optional
        The script's run record (its JSON file, a
        `~lsst.ts.calibrations.scripts.run_record.RunRecord`, or its
        `~lsst.ts.calibrations.scripts.run_record.RunRecord.to_dict` form);
        its collections are searched first.
    butler : `lsst.daf.butler.Butler`, optional
        A butler on ``repo`` to use instead of opening one.

    Returns
    -------
    path : `pathlib.Path`
        The HTML file.

    Raises
    ------
    ValueError
        Raised if neither collections nor a run record is given, or the run
        record is not a valid run record (the message says why).
    """
    record: RunRecord | None
    if run_record is None or isinstance(run_record, RunRecord):
        record = run_record
    elif isinstance(run_record, Mapping):
        record = RunRecord.from_dict(dict(run_record))
    else:
        try:
            record = RunRecord.read(run_record)
        except ValueError as e:
            raise ValueError(f"run_record={os.fspath(run_record)}: {e}") from e
    own = butler is None
    instrument = instrument_of_record(record) if record is not None else "LSSTComCam"
    if butler is None:
        butler = open_repository(repo, instrument=instrument)
    try:
        data = ReportData.load(butler, collections=collections, run_record=record)
    finally:
        if own:
            butler.close()
    data.repo = str(repo)
    shape = data.detector_shape
    plane = data.plane or (FocalPlane(shape, instrument=data.instrument) if shape is not None else None)
    subtitle = f"repository {repo}"
    if record is not None:
        subtitle += f"; {record.script} {record.state}"
    page = ReportPage(TITLE.replace("LSSTComCam", data.instrument), subtitle)
    _run_section(page, data)
    if data.multi_raft:
        _rafts_section(page, data)
    _mosaic_sections(page, data, plane)
    _gain_section(page, data)
    _noise_section(page, data)
    _dark_section(page, data, plane)
    _ptc_section(page, data)
    add_verification_section(page, data)
    _drift_section(page, data)
    _timeline_section(page, data)
    _certification_section(page, data)
    return page.write(Path(out_dir))
