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

"""Build the calibration trends page: per amplifier and per night, what the runs measured.

``build_trends(repo, out_dir, ...)`` reads the repository once
(`TrendData.load`) and writes ``out_dir/trends.html``, self-contained (every
figure a PNG data URI, the PNGs beside it), in the run report's look
(`~lsst.ts.calibrations.report.report_page.ReportPage`). Sections:

``nights``
    Each night: the runs that measured it, the flat pairs, the verification
    verdicts and the script's drift check.
``out-of-band``
    Amplifiers whose latest value left the band of their recent nights
    (median ± threshold × σ, the script's drift rule), with the change in σ
    and in %.
``latest-change``
    Focal-plane heat maps of each amplifier's latest change, in σ.
``gain``, ``ptc_gain``, ``read_noise``, ``ptc_read_noise``, ``dark_current``, ``bias_level``
    Per detector, a panel per amplifier: nightly value, statistical error,
    the band; values outside it in red.
``verification``
    Per night and image type: cp_verify's verdict, the failed tests, the
    script's verdict when a run record is given.

A section without data says so. Every value shown is HTML-escaped.
"""

__all__ = ["BAND_SIGMA", "build_trends"]

import math
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..repo.camera import Camera
from ..repo.repository import INSTRUMENT_NAME, open_repository
from ..report.amp_heat_map import amp_heat_map
from ..report.report_page import ReportPage
from ..scripts.drift_check import DEFAULT_DRIFT_NIGHTS, DriftCheck
from .trend_data import IMAGE_TYPES, TrendData
from .trend_figure import trend_figure
from .trend_point import QUANTITIES

TITLE = "LSSTComCam calibration trends"
BAND_SIGMA = 3.0
"""Default half-width of a band, σ (the script's drift check warns from its own threshold, 4 σ)."""
PAGE_NAME = "trends.html"

E = ReportPage.escape


def _no_data(text: str) -> str:
    return f'<p class="nodata">{E(text)}</p>'


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table; header cells are escaped, row cells are HTML (escaped by the caller)."""
    head = "".join(f"<th>{E(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(c if c.startswith("<td") else f"<td>{c}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: float, fmt: str = ".4g") -> str:
    return E(format(value, fmt)) if value is not None and math.isfinite(value) else "–"


def _night_text(night: int) -> str:
    text = str(night)
    return f"{text[:4]}-{text[4:6]}-{text[6:]}"


def _verification_cell(entry: dict | None) -> str:
    if not entry:
        return '<td class="none">–</td>'
    failures = entry.get("failures") or {}
    status = entry.get("status", "")
    passed = entry.get("success", True) and status != "verification_failed"
    words = (
        f"{entry.get('failed_exposures', 0)} of {entry['exposures']} exposures failed"
        if entry.get("exposures")
        else "no verification statistics found"
    )
    if status:
        words = f"{status}; {words}"
    if failures:
        listed = ", ".join(f"{test} ×{count}" for test, count in sorted(failures.items())[:8])
        more = f" (+{len(failures) - 8} more)" if len(failures) > 8 else ""
        words += f": {listed}{more}"
    return f'<td class="{"pass" if passed else "fail"}">{E(words)}</td>'


def _nights_section(page: ReportPage, data: TrendData) -> None:
    if not data.nights:
        page.add_section("nights", "Nights", _no_data("No night with measurements in the range asked for."))
        return
    pairs: dict[int, int] = {}
    for point in data.points.get("gain", []):
        pairs[point.night] = max(pairs.get(point.night, 0), point.n)
    rows = []
    for night in data.nights:
        check = data.drift_checks.get(night)
        if check is None:
            drift = '<td class="none">–</td>'
        else:
            flagged = [f"{c.detector}/{c.amp} {c.quantity} {c.change_sigma:+.1f}σ" for c in check.flagged]
            judged = (
                [f"{len(check.changes)} judged, {len(flagged)} beyond {check.threshold:g} σ"]
                if check.changes
                else []
            )
            text = "; ".join(flagged + judged + check.notes)
            drift = f'<td class="{"fail" if flagged else "pass"}">{E(text)}</td>'
        rows.append(
            [
                E(_night_text(night)),
                f'<td class="text">{E(", ".join(data.runs.get(night, [])))}</td>',
                str(pairs.get(night, 0)),
                *[_verification_cell(data.verification.get(night, {}).get(kind)) for kind in IMAGE_TYPES],
                drift,
            ]
        )
    header = ["night", "runs", "flat pairs", "bias verification", "dark verification", "flat verification"]
    page.add_section("nights", "Nights", _table([*header, "drift check (script)"], rows))


def _out_of_band_section(
    page: ReportPage, changes: dict[str, list[DriftCheck.Change]], data: TrendData, threshold: float
) -> None:
    camera = Camera.instance()
    rows = []
    for quantity, items in changes.items():
        title, unit = QUANTITIES[quantity]
        latest = {key: points[-1].night for key, points in data.series(quantity).items()}
        for change in sorted(items, key=lambda c: -abs(c.change_sigma)):
            if not change.beyond(threshold):
                continue
            rows.append(
                [
                    f'<td class="text">{E(title)}</td>',
                    E(camera[change.detector].name),
                    E(change.amp),
                    E(_night_text(latest[(change.detector, change.amp)])),
                    f"{_fmt(change.value)} {E(unit)}",
                    _fmt(change.reference),
                    _fmt(change.sigma, ".3g"),
                    f'<td class="fail">{_fmt(change.change_sigma, "+.1f")}</td>',
                    _fmt(change.change_percent, "+.2f"),
                    str(change.n_history),
                ]
            )
    intro = (
        f"<p>Each amplifier's latest value against the band of its previous nights: median ± "
        f"{E(format(threshold, 'g'))} σ (σ: night-to-night scatter, at least the typical statistical error, "
        "widened for the median's own uncertainty; the script's drift rule).</p>"
    )
    if rows:
        header = ["quantity", "detector", "amplifier", "night", "value", "median", "σ", "change (σ)",
                  "change (%)", "history nights"]  # fmt: skip
        body = intro + _table(header, rows)
    elif any(changes.values()):
        body = intro + _no_data("No amplifier's latest value left its band.")
    else:
        body = intro + _no_data(
            "Not enough nights for a band (at least three before the latest night are needed)."
        )
    page.add_section("out-of-band", "Amplifiers out of their band", body)


def _latest_change_section(page: ReportPage, changes: dict[str, list[DriftCheck.Change]]) -> None:
    body = ""
    for quantity, items in changes.items():
        if not items:
            continue
        title, _ = QUANTITIES[quantity]
        values: dict[int, dict[str, float]] = {}
        for change in items:
            values.setdefault(change.detector, {})[change.amp] = change.change_sigma
        png = amp_heat_map(
            values, title=f"Latest change of {title.lower()}, in σ of its history", unit="σ", fmt="+.1f"
        )
        body += page.figure(f"latest_change_{quantity}", png, f"Latest change of {title} per amplifier")
    page.add_section(
        "latest-change",
        "Latest change per amplifier",
        body or _no_data("Not enough nights for a change to be measured."),
    )


def _quantity_sections(page: ReportPage, data: TrendData, n_nights: int, threshold: float) -> None:
    camera = Camera.instance()
    for quantity, (title, unit) in QUANTITIES.items():
        series = data.series(quantity)
        if not series:
            page.add_section(quantity, title, _no_data(f"No {title.lower()} in the runs of these nights."))
            continue
        body = ""
        for detector in sorted({d for d, _ in series}):
            amps = {amp: points for (d, amp), points in series.items() if d == detector}
            bands = {amp: TrendData.bands(points, n_nights) for amp, points in amps.items()}
            name = camera[detector].name
            png = trend_figure(amps, bands, title=f"{title}, {name}", unit=unit, threshold=threshold)
            body += f"<h3>{E(name)}</h3>" + page.figure(
                f"{quantity}_{name}", png, f"{title} of {name} per night"
            )
        page.add_section(quantity, title, body)


def _verification_section(page: ReportPage, data: TrendData) -> None:
    if not data.verification:
        page.add_section("verification", "Verification", _no_data("No verification in these nights."))
        return
    body = ""
    for kind in IMAGE_TYPES:
        rows = []
        for night, kinds in sorted(data.verification.items()):
            entry = kinds.get(kind)
            if entry is None:
                continue
            verdict = entry.get("verdict", "")
            rows.append(
                [
                    E(_night_text(night)),
                    _verification_cell(entry),
                    f'<td class="text"><pre>{E(verdict)}</pre></td>',
                ]
            )
        body += f"<h3>{E(kind)}</h3>" + (
            _table(["night", "cp_verify", "script's verdict"], rows)
            if rows
            else _no_data(f"No {kind} verification.")
        )
    page.add_section("verification", "Verification", body)


def build_trends(
    repo: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    since: int | None = None,
    until: int | None = None,
    instrument: str = INSTRUMENT_NAME,
    run_records: Iterable[str | os.PathLike[str]] = (),
    n_nights: int = DEFAULT_DRIFT_NIGHTS,
    threshold: float = BAND_SIGMA,
) -> Path:
    """Read a repository's runs and write the trends page (blocking: call it in a thread from async code).

    Parameters
    ----------
    repo : `str` or `os.PathLike`
        The butler repository.
    out_dir : `str` or `os.PathLike`
        Folder of the page (created if needed).
    since, until : `int` or `None`, optional
        First and last night (day_obs YYYYMMDD), inclusive.
    instrument : `str`, optional
        Instrument name.
    run_records : `~collections.abc.Iterable` [`str` or `os.PathLike`], optional
        Run record files or folders: the script's verdicts and drift checks;
        by default ``<repo>/run_records`` if it exists (where the script
        writes them unless ``TS_CALIBRATIONS_RUN_RECORDS`` says otherwise).
    n_nights : `int`, optional
        Nights of history of a band.
    threshold : `float`, optional
        Half-width of a band, σ.

    Returns
    -------
    path : `pathlib.Path`
        ``out_dir/trends.html``.

    Raises
    ------
    ValueError
        If ``since`` is after ``until``, ``n_nights`` < 1 or ``threshold`` <= 0.
    """
    if since is not None and until is not None and since > until:
        raise ValueError(f"since={since} is after until={until}: give since <= until.")
    if n_nights < 1:
        raise ValueError(f"n_nights={n_nights} must be >= 1.")
    if not threshold > 0:
        raise ValueError(f"threshold={threshold} must be > 0 (σ).")
    records = [Path(r) for r in run_records]
    if not records and (Path(repo) / "run_records").is_dir():
        records = [Path(repo) / "run_records"]  # where the script writes them by default
    began = time.monotonic()
    butler = open_repository(str(repo))
    try:
        data = TrendData.load(
            butler,
            instrument=instrument,
            since=since,
            until=until,
            run_records=records,
            repo=str(repo),
        )
    finally:
        butler.close()
    read = time.monotonic() - began
    nights = data.nights
    span = (
        f"{_night_text(nights[0])} to {_night_text(nights[-1])}, {len(nights)} night(s)"
        if nights
        else "no nights"
    )
    page = ReportPage(TITLE, f"{repo} · {instrument} · {span}")
    changes = {q: data.latest_changes(q, n_nights) for q in QUANTITIES}
    _nights_section(page, data)
    _out_of_band_section(page, changes, data, threshold)
    _latest_change_section(page, changes)
    _quantity_sections(page, data, n_nights, threshold)
    _verification_section(page, data)
    notes = "".join(f"<li>{E(n)}</li>" for n in data.notes)
    built = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    timings = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in data.seconds.items())
    page.add_section(
        "about",
        "About this page",
        f"<p>Read in {read:.1f} s from {E(repo)} ({E(timings)}); built {E(built)}.</p>"
        + (f"<ul>{notes}</ul>" if notes else ""),
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, png in page.figures.items():
        (out / f"{name}.png").write_bytes(png)
    path = out / PAGE_NAME
    path.write_text(page.render(), encoding="utf-8")
    return path
