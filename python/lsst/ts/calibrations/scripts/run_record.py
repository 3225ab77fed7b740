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

"""RunRecord: the JSON run record of a calibration run, with its provenance.

Public API
----------
``RunRecord(script=..., index=..., ...)``: a dataclass (fields below), all
JSON-compatible values. ``to_json()`` / ``RunRecord.from_json(text)``,
``to_dict()`` / ``RunRecord.from_dict(data)``, ``write(path)`` /
``RunRecord.read(path)`` (blocking file I/O: call them in a thread),
``exposure_ids(image_type=None)`` (the processed exposures, to reprocess
without retaking), ``RunRecord.software_versions_now()`` (versions of the
packages that matter for provenance).

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
      "products": {"BIAS": {"status": "certified", "reason": "", "jobs": {"generate": "<id>", ...},
                            "collections": {"generate": "u/ocps/<id>", ...}, "certified_into": "...",
                            "validity": ["2024-10-24", "2024-10-25"], "verdict": "..."}, ...},
      "jobs": {"<job id>": {...job record...}, ...},
      "aborted_jobs": [],
      "collections": {"raw": "LSSTComCam/raw/all", "calib": "LSSTComCam/calib/daily", ...},
      "certifications": [{"dataset_type": "bias", "collection": "...", "begin": "...", "end": "...",
                          "input_collection": "u/ocps/<id>", "detectors": [0, ...]}],
      "gains": {"rows": [...], "unpaired": [...]},   # GainReport.to_dict(), or {}
      "gain_table": "...",                           # the table as logged
      "software_versions": {"python": "3.12.1", "lsst-daf-butler": "...", ...},
      "timings": {"elapsed": 1200.0, "camera_busy": 900.0, ...}    # seconds
    }
"""

from __future__ import annotations

__all__ = ["RunRecord"]

import dataclasses
import importlib.metadata
import json
import math
import os
import platform
from pathlib import Path
from typing import Any, ClassVar

_PACKAGES = (
    "lsst-ts-calibrations",
    "lsst-daf-butler",
    "lsst-pipe-base",
    "lsst-ctrl-mpexec",
    "numpy",
    "astropy",
)


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
    products : `dict` [`str`, `dict`]
        Outcome of each product.
    jobs : `dict` [`str`, `dict`]
        OCPS job records by job id.
    aborted_jobs : `list` [`str`]
        Jobs aborted at the end of the run.
    collections : `dict` [`str`, `str`]
        Collections of the run by role.
    certifications : `list` [`dict`]
        One entry per certification made.
    gains : `dict`
        ``GainReport.to_dict()``.
    gain_table : `str`
        The gain table as logged.
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
    products: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    aborted_jobs: list[str] = dataclasses.field(default_factory=list)
    collections: dict[str, str] = dataclasses.field(default_factory=dict)
    certifications: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    gains: dict[str, Any] = dataclasses.field(default_factory=dict)
    gain_table: str = ""
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

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-compatible dict."""
        return _plain({field.name: getattr(self, field.name) for field in dataclasses.fields(self)})

    def to_json(self) -> str:
        """Return the record as JSON text (indented, keys in field order)."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """Make a record from `to_dict` output.

        Raises
        ------
        ValueError
            If ``data`` is not a dict, has another ``format_version``,
            lacks ``script`` or ``index``, or has fields this version does
            not know (named).
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
        for key in ("exposures_taken", "exposures_processed"):
            values[key] = {str(k): [int(e) for e in ids] for k, ids in values.get(key, {}).items()}
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
