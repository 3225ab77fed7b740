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

"""RunRecord: the run record of a calibration run, typed, with its one JSON form.

Public API
----------
``RunRecord(script=..., index=..., ...)``: a dataclass (fields below) whose
results are typed: ``products`` are `ProductOutcome` (with their
`VerificationVerdict`), ``gains`` a `GainReport`, ``certifications``
`CertificationRecord`. This module is the one place they are converted to
and from JSON: ``to_json()`` / ``RunRecord.from_json(text)``, ``to_dict()``
/ ``RunRecord.from_dict(data)``, ``write(path)`` / ``RunRecord.read(path)``
(blocking file I/O: call them in a thread). Also ``exposure_ids(image_type=None)``
(the processed exposures, to reprocess without retaking),
``retrieval_lines(repo)`` (Python that fetches what the run made),
``RunRecord.default_folder(repo_root)`` (where records go) and
``RunRecord.software_versions_now()``.

The file (``format_version`` 1) is one JSON object::

    {
      "format_version": 1,
      "script": "MakeComCamCalibrations", "index": 1,
      "state": "DONE", "reason": "",
      "started": "2024-10-24T12:00:00.000", "ended": "2024-10-24T12:20:00.000",   # TAI, ISO
      "config": {...},                      # the configuration as validated (defaults filled)
      "explicit_keys": ["n_bias", ...],     # the options the operator wrote
      "plan": {...},                        # CalibrationPlan.to_dict(), or {}
      "exposures_taken": {"BIAS": [2024102400001, ...], ...},      # every exposure, discards included
      "exposures_processed": {"BIAS": [2024102400002, ...], ...},  # the kept ones
      "exposures_ingested": {"BIAS": [2024102400001, ...], ...},   # those the raw collection holds
      "exposures_left_out": {"BIAS": {"2024102400003": "not ingested: ..."}},  # kept, not processed: why
      "images_not_taken": {"DARK": "DARK cannot be made (...)"},   # taking stopped: no product could use them
      "products": {"BIAS": {"status": "certified", "reason": "", "jobs": {"generate": "<id>", ...},
                            "collections": {"generate": "u/ocps/<id>", ...}, "certified_into": "...",
                            "validity": ["2024-10-24", "2024-10-25"],
                            "verdict": {...VerificationVerdict fields...} or null}, ...},
      "jobs": {"<job id>": {...job record..., "label": "generate BIAS (per-exposure 1)", "step": "BIAS",
                            "kind": "generate", "part": "per-exposure", "pipeline": ".../cpBias.yaml#isr",
                            "exposures": [...], "inputs": [...], "submitted": "..."}, ...},
      "aborted_jobs": [],
      "collections": {"raw": "LSSTComCam/raw/all", "calib": "...", "run": "<the run's CHAINED collection>"},
      "certifications": [{"dataset_type": "bias", "collection": "...", "begin": "...", "end": "...",
                          "input_collection": "u/ocps/<id>", "detectors": [0, ...], "time": "..."}],
      "gains": {"rows": [...], "unpaired": [...]},   # the GainReport, or {}
      "gain_table": "...",                           # the table as logged
      "drift": {...},                                # DriftCheck.to_dict() (drift_check.py), or {}
      "software_versions": {"python": "3.12.1", "lsst-daf-butler": "...", ...},
      "timings": {"elapsed": 1200.0, "camera_busy": 900.0, ...}    # seconds
    }
"""

from __future__ import annotations

__all__ = ["RUN_RECORD_DIR_ENV", "RunRecord"]

import dataclasses
import importlib.metadata
import json
import math
import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from ..repo.verification_verdict import VerificationVerdict
from .certification_record import CertificationRecord
from .gain_report import GainReport
from .product_outcome import ProductOutcome, ProductStatus

_PACKAGES = (
    "lsst-ts-calibrations",
    "lsst-daf-butler",
    "lsst-pipe-base",
    "lsst-ctrl-mpexec",
    "numpy",
    "astropy",
)

RUN_RECORD_DIR_ENV = "TS_CALIBRATIONS_RUN_RECORDS"
"""Environment variable naming the folder of run records (default ``<repository>/run_records``)."""

RUN_RECORD_DIR_NAME = "run_records"
"""Folder of run records in the repository root, by default."""

FETCHABLE = (
    ProductStatus.CERTIFIED,
    ProductStatus.VERIFIED,
    ProductStatus.VERIFICATION_FAILED,
    ProductStatus.MEASURED,
)
"""Product states whose datasets are in the repository (`RunRecord.retrieval_lines`)."""

_IMAGES_OF = {
    "BIAS": "BIAS",
    "DARK": "DARK",
    "FLAT": "FLAT",
    "DEFECTS": "FLAT",
    "PTC": "FLAT",
    "GAIN": "FLAT",
}
"""The image type whose exposures a product's data IDs name."""


def _plain(value: Any) -> Any:
    """Return ``value`` with tuples as lists, dates as ISO text and NaN as None."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value") and hasattr(value, "name") and not isinstance(value, str | int | float | bool):
        return value.value  # enums
    return value


def _float(value: Any) -> float:
    """A JSON number back to float (None, written for NaN, as `math.nan`)."""
    return math.nan if value is None else float(value)


# The JSON form of each typed result of a record, both ways.


def _verdict_to_json(verdict: VerificationVerdict | None) -> dict[str, Any] | None:
    return None if verdict is None else _plain(dataclasses.asdict(verdict))


def _verdict_from_json(data: Any) -> VerificationVerdict | None:
    if data is None or data == "":
        return None
    if not isinstance(data, Mapping):
        raise ValueError(f"A product's verdict must be a JSON object or null, not {data!r}.")
    cp_success = data.get("cp_verify_success")
    return VerificationVerdict(
        image_type=str(data.get("image_type", "")),
        passed=bool(data["passed"]),
        threshold=int(data["threshold"]),
        n_detectors=int(data["n_detectors"]),
        n_exposures=int(data["n_exposures"]),
        failures_to_fail_exposure=int(data["failures_to_fail_exposure"]),
        exposures_to_fail_run=int(data["exposures_to_fail_run"]),
        failure_counts={
            str(e): {str(t): int(n) for t, n in counts.items()}
            for e, counts in (data.get("failure_counts") or {}).items()
        },
        failed_exposures={
            str(t): tuple(str(e) for e in es) for t, es in (data.get("failed_exposures") or {}).items()
        },
        failed_tests=tuple(str(t) for t in data.get("failed_tests") or ()),
        cp_verify_success=None if cp_success is None else bool(cp_success),
    )


def _outcome_to_json(outcome: ProductOutcome) -> dict[str, Any]:
    return {
        "status": outcome.status.value,
        "reason": outcome.reason,
        "jobs": dict(outcome.jobs),
        "collections": dict(outcome.collections),
        "certified_into": outcome.certified_into,
        "validity": list(outcome.validity) if outcome.validity else None,
        "certified_at": outcome.certified_at,
        "verdict": _verdict_to_json(outcome.verdict),
    }


def _outcome_from_json(name: str, data: Any) -> ProductOutcome:
    if not isinstance(data, Mapping):
        raise ValueError(f"products[{name!r}] must be a JSON object, not {data!r}.")
    try:
        status = ProductStatus(data.get("status", ProductStatus.PENDING.value))
    except ValueError as e:
        raise ValueError(
            f"products[{name!r}].status={data.get('status')!r} is not one of "
            f"{', '.join(s.value for s in ProductStatus)}."
        ) from e
    validity = data.get("validity")
    return ProductOutcome(
        name=name,
        status=status,
        reason=str(data.get("reason", "")),
        jobs={str(k): str(v) for k, v in (data.get("jobs") or {}).items()},
        collections={str(k): str(v) for k, v in (data.get("collections") or {}).items()},
        certified_into=str(data.get("certified_into") or ""),
        validity=(str(validity[0]), str(validity[1])) if validity else None,
        certified_at=str(data.get("certified_at") or ""),
        verdict=_verdict_from_json(data.get("verdict")),
    )


def _gains_to_json(gains: GainReport | None) -> dict[str, Any]:
    return {} if gains is None else gains.to_dict()


def _gains_from_json(data: Any) -> GainReport | None:
    if not data:
        return None
    if not isinstance(data, Mapping):
        raise ValueError(f"gains must be a JSON object, not {data!r}.")
    rows = []
    for row in data.get("rows") or []:
        rows.append(
            (
                int(row["exposure_1"]),
                int(row["exposure_2"]),
                _float(row.get("exposure_time")),
                int(row["detector"]),
                str(row["amplifier"]),
                _float(row.get("gain")),
                _float(row.get("gain_err")),
                _float(row.get("noise")),
                _float(row.get("mean")),
            )
        )
    unpaired = tuple((int(e), int(d)) for e, d in data.get("unpaired") or [])
    names = tuple(sorted((int(d), str(n)) for d, n in (data.get("detector_names") or {}).items()))
    return GainReport(rows=tuple(rows), unpaired=unpaired, detector_names=names)


def _certification_from_json(data: Any) -> CertificationRecord:
    if not isinstance(data, Mapping):
        raise ValueError(f"A certification must be a JSON object, not {data!r}.")
    return CertificationRecord(
        dataset_type=str(data["dataset_type"]),
        collection=str(data["collection"]),
        begin=str(data["begin"]),
        end=str(data["end"]),
        input_collection=str(data.get("input_collection", "")),
        detectors=tuple(int(d) for d in data.get("detectors") or ()),
        time=str(data.get("time") or ""),
    )


def _exposures_from_json(data: Any) -> dict[str, list[int]]:
    return {str(k): [int(e) for e in ids] for k, ids in (data or {}).items()}


@dataclasses.dataclass
class RunRecord:
    """The run record of one calibration run (see the module docstring).

    Parameters
    ----------
    script : `str`
        Script class name.
    index : `int`
        SAL index of the script.
    state : `str`
        Final state name (DONE, FAILED, STOPPED, ...).
    reason : `str`
        Reason of the final state.
    started, ended : `str`
        Start of the run and end (TAI, ISO); "" if unknown.
    config : `dict`
        The configuration as validated.
    explicit_keys : `list` [`str`]
        Options the operator wrote.
    plan : `dict`
        ``CalibrationPlan.to_dict()``.
    exposures_taken, exposures_processed : `dict` [`str`, `list` [`int`]]
        Exposure ids per image type: every one taken; the kept ones.
    exposures_ingested : `dict` [`str`, `list` [`int`]]
        Per image type, the exposures taken that the raw collection holds
        (read from the repository at the end of the run).
    exposures_left_out : `dict` [`str`, `dict` [`int`, `str`]]
        Per image type, each kept exposure left out of processing (not
        ingested, never in the OODS, or its processing failed) and why; the
        others are ``exposures_processed``.
    images_not_taken : `dict` [`str`, `str`]
        Image types whose images were not (all) taken because no product
        could use them any more, and why.
    products : `dict` [`str`, `ProductOutcome`]
        Outcome of each product.
    jobs : `dict` [`str`, `dict`]
        Every OCPS job of the run by job id: its record (the OCPS's own
        JSON: ``phase``, ``creationTime``, ``startTime``, ``endTime``...)
        with what the run submitted (`ProcessingJob.to_dict`: ``label``,
        ``step``, ``kind``, ``part``, ``pipeline``, ``exposures``,
        ``inputs``, ``submitted``).
    aborted_jobs : `list` [`str`]
        Jobs aborted at the end of the run.
    collections : `dict` [`str`, `str`]
        Collections of the run by role ("raw", "calib", "run": the run's
        CHAINED collection).
    certifications : `list` [`CertificationRecord`]
        One entry per certification made.
    gains : `GainReport` or `None`
        Gains from flat pairs, if measured.
    gain_table : `str`
        The gain table as logged.
    drift : `dict`
        ``DriftCheck.to_dict()``: tonight against the recent nights.
    software_versions : `dict` [`str`, `str`]
        Package versions.
    timings : `dict` [`str`, `float`]
        Durations (s) by name.
    format_version : `int`
        Version of the file format.
    """

    FORMAT_VERSION: ClassVar[int] = 1

    script: str
    index: int
    state: str = ""
    reason: str = ""
    started: str = ""
    ended: str = ""
    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    explicit_keys: list[str] = dataclasses.field(default_factory=list)
    plan: dict[str, Any] = dataclasses.field(default_factory=dict)
    exposures_taken: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    exposures_processed: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    exposures_ingested: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    exposures_left_out: dict[str, dict[int, str]] = dataclasses.field(default_factory=dict)
    images_not_taken: dict[str, str] = dataclasses.field(default_factory=dict)
    products: dict[str, ProductOutcome] = dataclasses.field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    aborted_jobs: list[str] = dataclasses.field(default_factory=list)
    collections: dict[str, str] = dataclasses.field(default_factory=dict)
    certifications: list[CertificationRecord] = dataclasses.field(default_factory=list)
    gains: GainReport | None = None
    gain_table: str = ""
    drift: dict[str, Any] = dataclasses.field(default_factory=dict)
    software_versions: dict[str, str] = dataclasses.field(default_factory=dict)
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    format_version: int = 1

    @staticmethod
    def software_versions_now() -> dict[str, str]:
        """Return the versions of Python and the packages of `_PACKAGES` installed."""
        versions = {"python": platform.python_version()}
        for name in _PACKAGES:
            try:
                versions[name] = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                versions[name] = "not installed"
        return versions

    @staticmethod
    def default_folder(repo_root: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Path:
        """Where run records (and their reports) go.

        Parameters
        ----------
        repo_root : `str` or `os.PathLike`
            Root of the run's repository (aliases resolved).
        environ : `~collections.abc.Mapping` [`str`, `str`], optional
            Environment; ``os.environ`` by default.

        Returns
        -------
        folder : `pathlib.Path`
            ``$TS_CALIBRATIONS_RUN_RECORDS`` if set, else
            ``<repo_root>/run_records``; absolute, never relative to the
            working folder of the process.

        Raises
        ------
        ValueError
            If the variable is not set and ``repo_root`` is not a local
            absolute path (a remote repository): the message says to set it.
        """
        env = os.environ if environ is None else environ
        given = env.get(RUN_RECORD_DIR_ENV, "")
        if given:
            return Path(given).expanduser().absolute()
        root = os.fspath(repo_root)
        if "://" in root.removeprefix("file://") or not Path(root.removeprefix("file://")).is_absolute():
            raise ValueError(
                f"The repository {root} is not a local folder: set {RUN_RECORD_DIR_ENV} to the folder "
                "of run records."
            )
        return Path(root.removeprefix("file://")) / RUN_RECORD_DIR_NAME

    def exposure_ids(self, image_type: str | None = None) -> list[int]:
        """Return the processed (kept) exposure ids, of one image type or all.

        Raises
        ------
        KeyError
            If ``image_type`` was not taken in this run.
        """
        if image_type is not None:
            if image_type not in self.exposures_processed:
                raise KeyError(
                    f"image type {image_type!r} not in this run record "
                    f"(it has {sorted(self.exposures_processed)})"
                )
            return list(self.exposures_processed[image_type])
        return [exposure for ids in self.exposures_processed.values() for exposure in ids]

    def retrieval_lines(self, repo: str, instrument: str = "LSSTComCam", index_line: str = "") -> list[str]:
        """Python lines that fetch the results of the run, with its real collections.

        Parameters
        ----------
        repo : `str`
            Repository path or alias to write in the lines.
        instrument : `str`, optional
            Instrument of the data IDs.
        index_line : `str`, optional
            The line that makes the alias ``repo`` reach the repository in
            a new session (``import os; os.environ[...] = ...``), written
            first; "" when ``repo`` is a path.

        Returns
        -------
        lines : `list` [`str`]
            The procedure document's retrieval code for what this run made:
            a butler on the run's CHAINED collection (when made), the
            certified calibrations' collections and ``<instrument>/calib``;
            certified calibrations; verification statistics and processed
            images from each verification job's collection; gains and noise
            from the gain job's collection.
        """
        detector = (self.plan.get("detectors") or [0])[0]
        certified = sorted({p.certified_into for p in self.products.values() if p.certified_into})
        chain = [self.collections["run"]] if self.collections.get("run") else []
        lines = [index_line] if index_line else []
        lines += [
            "import lsst.daf.butler as dB",
            f"butler = dB.Butler({repo!r}, collections={chain + certified + [f'{instrument}/calib']!r})",
        ]
        for name, product in self.products.items():
            if product.status not in FETCHABLE:
                continue
            kind = name.lower()
            first = self.exposures_processed.get(_IMAGES_OF.get(name, name))
            exposure = first[0] if first else None
            data_id = f"detector={detector}, exposure={exposure}, instrument={instrument!r}"
            if product.certified_into and exposure is not None:
                lines.append(f"{kind} = butler.get({kind!r}, {data_id})")
            verify = product.collections.get("verify")
            if verify and exposure is not None:
                title = name.title()
                lines += [
                    f"runStats = butler.get('verify{title}Stats', instrument={instrument!r}, "
                    f"collections=[{verify!r}])",
                    f"runDetStats = butler.get('verify{title}DetStats', {data_id}, collections=[{verify!r}])",
                    f"imProc = butler.get('verify{title}Proc', {data_id}, collections=[{verify!r}])",
                    "calibArray = imProc.getImage().getArray()",
                ]
            generated = product.collections.get("generate")
            if name in ("GAIN", "PTC") and generated and exposure is not None:
                lines += [
                    f"cpCov = butler.get('cpPtcExtract', {data_id}, collections=[{generated!r}])",
                    "gain_values, noise_values = cpCov.gain, cpCov.noise",
                ]
        return lines

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-compatible dict."""
        data: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "products":
                data[field.name] = {name: _outcome_to_json(outcome) for name, outcome in value.items()}
            elif field.name == "gains":
                data[field.name] = _gains_to_json(value)
            elif field.name == "certifications":
                data[field.name] = [_plain(dataclasses.asdict(entry)) for entry in value]
            else:
                data[field.name] = _plain(value)
        return data

    def to_json(self) -> str:
        """Return the record as JSON text (indented, keys in field order)."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Any) -> RunRecord:
        """Make a record from `to_dict` output.

        Raises
        ------
        ValueError
            If ``data`` is not a dict, has another ``format_version``,
            lacks ``script`` or ``index``, has fields this version does
            not know (named), or a typed field is malformed (named).
        """
        if not isinstance(data, dict):
            raise ValueError(f"A run record must be a JSON object, not {type(data).__name__}.")
        version = data.get("format_version", cls.FORMAT_VERSION)
        if version != cls.FORMAT_VERSION:
            raise ValueError(
                f"Run record format_version {version!r} is not supported (this version reads "
                f"{cls.FORMAT_VERSION})."
            )
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(
                f"Run record has unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}."
            )
        missing = [name for name in ("script", "index") if name not in data]
        if missing:
            raise ValueError(f"Run record lacks {', '.join(missing)}.")
        values = dict(data)
        try:
            for key in ("exposures_taken", "exposures_processed", "exposures_ingested"):
                values[key] = _exposures_from_json(values.get(key))
            values["exposures_left_out"] = {
                str(image_type): {int(e): str(why) for e, why in reasons.items()}
                for image_type, reasons in (values.get("exposures_left_out") or {}).items()
            }
            values["images_not_taken"] = {
                str(k): str(v) for k, v in (values.get("images_not_taken") or {}).items()
            }
            values["products"] = {
                str(name): _outcome_from_json(str(name), outcome)
                for name, outcome in (values.get("products") or {}).items()
            }
            values["gains"] = _gains_from_json(values.get("gains"))
            values["certifications"] = [
                _certification_from_json(c) for c in values.get("certifications") or []
            ]
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"Run record has a malformed field: {type(e).__name__}: {e}") from e
        return cls(**values)

    @classmethod
    def from_json(cls, text: str | bytes) -> RunRecord:
        """Read a record from JSON text (see `from_dict`).

        Raises
        ------
        ValueError
            If the text is not JSON or not a valid run record.
        """
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"Run record is not valid JSON: {e}") from e
        return cls.from_dict(data)

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the record as JSON (blocking; the folder is created).

        Returns
        -------
        path : `pathlib.Path`
            The file written.
        """
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(target.name + ".tmp")
        temporary.write_text(self.to_json() + "\n")
        temporary.replace(target)
        return target

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> RunRecord:
        """Read a record written by `write` (blocking)."""
        return cls.from_json(Path(path).read_text())
