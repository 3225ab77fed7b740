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

"""Parameters of the simulated sensors, read and checked from a sensor-model YAML file.

The shipped ``data/sensor_models/comcam_default.yaml`` documents every
parameter. Another file may give only the parameters it changes; it is merged
over the default file. Every value is checked (type and range) and an error
names the parameter, the file and what would be right.
"""

__all__ = ["DRIFT_KEYS", "SensorParameters"]

import copy
import datetime
import functools
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from ..repo.camera import AMP_NAMES, VENDORS, Camera
from ..repo.focal_planes import INSTRUMENT_NAMES

_DATA_DIR = Path(__file__).parent / "data" / "sensor_models"

# Parameter kinds: ("float", min, max), ("int", min, max), ("bool",),
# ("range", min, max) for an ordered [low, high] pair, ("str",),
# ("flux",) for the filter -> e-/s mapping, ("overrides",).
_SPEC: dict[str, tuple[Any, ...]] = {
    "name": ("str",),
    "description": ("str",),
    "gain.scatter": ("float", 0.0, 0.2),
    "read_noise.scale": ("float", 0.1, 10.0),
    "read_noise.scatter": ("float", 0.0, 0.5),
    "bias.level": ("float", 0.0, 200000.0),
    "bias.level_scatter": ("float", 0.0, 20000.0),
    "bias.exposure_jitter": ("float", 0.0, 1000.0),
    "bias.row_noise": ("float", 0.0, 1000.0),
    "bias.start_amplitude": ("float", -1000.0, 1000.0),
    "bias.start_rows": ("float", 0.1, 1e5),
    "bias.column_pattern": ("float", 0.0, 1000.0),
    "dark.current": ("float", 0.0, 1000.0),
    "dark.current_scatter": ("float", 0.0, 5.0),
    "flat.flux": ("flux",),
    "flat.vignetting": ("float", 0.0, 0.99),
    "flat.vignetting_radius": ("float", 1.0, 1e4),
    "flat.detector_pitch": ("float", 1.0, 1e3),
    "flat.pixel_size": ("float", 0.1, 1e3),
    "flat.prnu": ("float", 0.0, 0.5),
    "flat.detector_qe_scatter": ("float", 0.0, 0.5),
    "flat.flux_stability": ("float", 0.0, 0.5),
    "flat.gaussian_threshold": ("float", 100.0, 1e12),
    "defects.hot_pixels": ("int", 0, 100000),
    "defects.hot_current": ("range", 0.0, 1e7),
    "defects.cold_pixels": ("int", 0, 100000),
    "defects.cold_response": ("range", 0.0, 1.0),
    "defects.bad_columns": ("int", 0, 1000),
    "defects.bad_column_response": ("range", 0.0, 1.0),
    "defects.bad_column_min_rows": ("int", 1, 100000),
    "saturation.full_well": ("float", 1000.0, 1e7),
    "saturation.full_well_scatter": ("float", 0.0, 0.5),
    "saturation.adc_max": ("int", 1000, 2**31 - 1),
    "brighter_fatter.enabled": ("bool",),
    "brighter_fatter.a00": ("float", -1e-4, 0.0),
    "brighter_fatter.a00_scatter": ("float", 0.0, 1.0),
    "cosmic_rays.rate": ("float", 0.0, 1e4),
    "cosmic_rays.min_dark_time": ("float", 0.0, 1e6),
    "cosmic_rays.single": ("float", 0.0, 1.0),
    "cosmic_rays.double": ("float", 0.0, 1.0),
    "cosmic_rays.triple": ("float", 0.0, 1.0),
    "cosmic_rays.electrons": ("range", 1.0, 1e7),
    "overrides": ("overrides",),
    "vendors": ("vendors",),
    "drift.reference_day_obs": ("day_obs",),
    "drift.amps": ("drift",),
}

# Quantities that may drift per day, with the largest fractional change per day allowed.
DRIFT_KEYS: tuple[str, ...] = ("gain", "read_noise", "dark_current")
_MAX_DRIFT_PER_DAY = 0.5

# Keys allowed per amplifier in ``overrides``, with their (min, max).
_OVERRIDE_KEYS: dict[str, tuple[float, float]] = {
    "gain": (0.1, 10.0),
    "read_noise": (0.0, 1000.0),
    "bias_level": (0.0, 200000.0),
    "dark_current": (0.0, 1e7),
    "full_well": (1000.0, 1e7),
    "a00": (-1e-4, 0.0),
}


def _merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``update`` over ``base`` recursively (mappings merged, others replaced)."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _day(day_obs: Any) -> datetime.date | None:
    """The date of a day_obs YYYYMMDD, or `None` if it is not one."""
    try:
        return datetime.datetime.strptime(str(int(day_obs)), "%Y%m%d").date()
    except (TypeError, ValueError):
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class SensorParameters:
    """Checked parameters of a sensor model.

    Parameters
    ----------
    values : `~collections.abc.Mapping` [`str`, `typing.Any`]
        Parameters as in a sensor-model file; merged over the default file.
    source : `str`
        Where the values come from (a file name), used in error messages
        and recorded in the truth.

    Raises
    ------
    ValueError
        Raised if a parameter is unknown, of the wrong type or out of range;
        the message names the parameter.
    """

    def __init__(self, values: Mapping[str, Any], source: str = "<dict>") -> None:
        self.source = source
        if not isinstance(values, Mapping):
            raise ValueError(f"Sensor model {source}: the file must hold a mapping of parameters.")
        self.values: dict[str, Any] = _merge(self._default_values(), values)
        self._check()

    @staticmethod
    def default_path(instrument: str = "LSSTComCam") -> Path:
        """Path of the shipped default sensor-model file of an instrument.

        ``comcam_default.yaml`` (the base every file is merged over),
        ``lsstcam_default.yaml`` or ``latiss_default.yaml``.
        """
        names = {"LSSTComCam": "comcam_default", "LSSTCam": "lsstcam_default", "LATISS": "latiss_default"}
        if instrument not in names:
            raise ValueError(f"Unknown instrument {instrument!r}: use one of {', '.join(names)}.")
        return _DATA_DIR / f"{names[instrument]}.yaml"

    def for_vendor(self, vendor: str) -> "SensorParameters":
        """The parameters of a vendor's sensors: this model with its ``vendors.<vendor>`` section applied.

        Parameters
        ----------
        vendor : `str`
            "ITL" or "E2V".

        Returns
        -------
        parameters : `SensorParameters`
            ``self`` if the model has no section for the vendor.
        """
        section = self.values["vendors"].get(vendor)
        if not section:
            return self
        values = {key: value for key, value in self.values.items() if key != "vendors"}
        return SensorParameters(_merge(values, section), source=f"{self.source} [vendors.{vendor}]")

    @staticmethod
    def _default_values() -> dict[str, Any]:
        with open(SensorParameters.default_path()) as f:
            return yaml.safe_load(f)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str] | None = None) -> "SensorParameters":
        """Read a sensor-model file.

        Parameters
        ----------
        path : `str`, `os.PathLike` or `None`
            The file; `None` for the shipped default. A bare name such as
            ``comcam_default`` names a shipped model.

        Returns
        -------
        parameters : `SensorParameters`
            The checked parameters.

        Raises
        ------
        FileNotFoundError
            Raised if the file does not exist.
        ValueError
            Raised if the file is not valid YAML or a parameter is bad.
        """
        if path is None:
            path = cls.default_path()
        path = Path(path)
        if not path.exists() and path.parent == Path(".") and (_DATA_DIR / f"{path.name}.yaml").exists():
            path = _DATA_DIR / f"{path.name}.yaml"
        if not path.exists():
            shipped = sorted(p.stem for p in _DATA_DIR.glob("*.yaml"))
            raise FileNotFoundError(f"Sensor model file {path} does not exist; shipped models are {shipped}.")
        try:
            with open(path) as f:
                values = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise ValueError(f"Sensor model {path} is not valid YAML: {e}") from e
        return cls(values if values is not None else {}, source=str(path))

    def get(self, name: str) -> Any:
        """Return a parameter by its dotted name, e.g. ``"bias.level"``.

        Raises
        ------
        KeyError
            Raised if there is no such parameter.
        """
        if name not in _SPEC:
            raise KeyError(f"Unknown sensor-model parameter {name!r}; known: {', '.join(sorted(_SPEC))}.")
        value: Any = self.values
        for part in name.split("."):
            value = value[part]
        return value

    @property
    def name(self) -> str:
        """Name of the model."""
        return str(self.values["name"])

    @staticmethod
    def parameter_names() -> tuple[str, ...]:
        """Dotted names of all parameters."""
        return tuple(_SPEC)

    def _fail(self, name: str, message: str) -> None:
        raise ValueError(f"Sensor model {self.source}: parameter {name} {message}")

    def _check(self) -> None:
        # Unknown keys first: a misspelt name must not pass silently.
        sections = {name.split(".")[0] for name in _SPEC}
        for key, value in self.values.items():
            if key not in sections:
                self._fail(
                    str(key), f"is unknown; known sections and parameters: {', '.join(sorted(sections))}."
                )
            if any(name.startswith(f"{key}.") for name in _SPEC):
                if not isinstance(value, Mapping):
                    self._fail(str(key), f"must be a mapping of parameters, not {value!r}.")
                for sub in value:
                    if f"{key}.{sub}" not in _SPEC:
                        known = sorted(n for n in _SPEC if n.startswith(f"{key}."))
                        self._fail(f"{key}.{sub}", f"is unknown; known: {', '.join(known)}.")
        for name, kind in _SPEC.items():
            self._check_one(name, kind, self.get(name))
        fractions = sum(self.get(f"cosmic_rays.{k}") for k in ("single", "double", "triple"))
        if abs(fractions - 1.0) > 1e-6:
            self._fail(
                "cosmic_rays.single/double/triple",
                f"must sum to 1; they sum to {fractions:g}.",
            )

    def _check_one(self, name: str, kind: tuple[Any, ...], value: Any) -> None:
        match kind:
            case ("str",):
                if not isinstance(value, str):
                    self._fail(name, f"must be a string, not {value!r}.")
            case ("bool",):
                if not isinstance(value, bool):
                    self._fail(name, f"must be true or false, not {value!r}.")
            case ("float", low, high):
                if not _is_number(value):
                    self._fail(name, f"must be a number, not {value!r}.")
                elif not low <= value <= high:
                    self._fail(name, f"= {value!r} is out of range: it must be in [{low:g}, {high:g}].")
            case ("int", low, high):
                if not isinstance(value, int) or isinstance(value, bool):
                    self._fail(name, f"must be an integer, not {value!r}.")
                elif not low <= value <= high:
                    self._fail(name, f"= {value!r} is out of range: it must be in [{low}, {high}].")
            case ("range", low, high):
                if (
                    not isinstance(value, list | tuple)
                    or len(value) != 2
                    or not all(_is_number(v) for v in value)
                ):
                    self._fail(name, f"must be a pair [low, high] of numbers, not {value!r}.")
                elif not low <= value[0] <= value[1] <= high:
                    self._fail(name, f"= {value!r} must satisfy {low:g} <= low <= high <= {high:g}.")
            case ("flux",):
                if not isinstance(value, Mapping) or not value:
                    self._fail(name, f"must map physical filter names to fluxes in e-/s, not {value!r}.")
                for filter_name, flux in value.items():
                    if not isinstance(filter_name, str) or not _is_number(flux) or flux < 0:
                        self._fail(
                            f"{name}.{filter_name}",
                            f"= {flux!r} must be a flux >= 0 in e-/s for a filter name.",
                        )
            case ("overrides",):
                self._check_overrides(name, value)
            case ("vendors",):
                self._check_vendors(name, value)
            case ("day_obs",):
                if not isinstance(value, int) or isinstance(value, bool) or _day(value) is None:
                    self._fail(name, f"= {value!r} must be a day_obs, an integer date YYYYMMDD.")
            case ("drift",):
                self._check_drift(name, value)
            case _:  # pragma: no cover - the table above is complete
                raise AssertionError(f"Unknown kind {kind} for {name}.")

    def _amp_entries(self, name: str, value: Any, what: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """Check a detector → amplifier → mapping section; yield (where, mapping) per amplifier."""
        if not isinstance(value, Mapping):
            self._fail(name, f"must map detector names to amplifiers, not {value!r}.")
        for detector, amps in value.items():
            if detector not in _detector_names():
                self._fail(
                    f"{name}.{detector}",
                    f"is not a detector of {', '.join(INSTRUMENT_NAMES)} (names such as R22_S11, RXX_S00).",
                )
            if not isinstance(amps, Mapping):
                self._fail(f"{name}.{detector}", f"must map amplifier names to {what}, not {amps!r}.")
            for amp, entries in amps.items():
                where = f"{name}.{detector}.{amp}"
                if amp not in AMP_NAMES:
                    self._fail(where, f"is not an amplifier; use one of {', '.join(AMP_NAMES)}.")
                yield where, entries

    def _check_vendors(self, name: str, value: Any) -> None:
        if not isinstance(value, Mapping):
            self._fail(name, f"must map sensor vendors ({', '.join(VENDORS)}) to parameters, not {value!r}.")
        for vendor, section in value.items():
            if vendor not in VENDORS:
                self._fail(f"{name}.{vendor}", f"is not a vendor; use one of {', '.join(VENDORS)}.")
            if not isinstance(section, Mapping):
                self._fail(f"{name}.{vendor}", f"must be a mapping of parameters, not {section!r}.")
            for key in ("vendors", "name", "description", "overrides", "drift"):
                if key in section:
                    self._fail(f"{name}.{vendor}.{key}", "cannot be set per vendor.")
            values = {key: v for key, v in self.values.items() if key != "vendors"}
            try:
                SensorParameters(_merge(values, section), source=f"{self.source} [vendors.{vendor}]")
            except ValueError as e:
                raise ValueError(str(e)) from None

    def _check_overrides(self, name: str, value: Any) -> None:
        for where, amp_values in self._amp_entries(name, value, "values"):
            if not isinstance(amp_values, Mapping):
                self._fail(where, f"must map value names to numbers, not {amp_values!r}.")
            for key, number in amp_values.items():
                if key not in _OVERRIDE_KEYS:
                    self._fail(f"{where}.{key}", f"is unknown; use one of {', '.join(_OVERRIDE_KEYS)}.")
                low, high = _OVERRIDE_KEYS[key]
                if not _is_number(number) or not low <= number <= high:
                    self._fail(f"{where}.{key}", f"= {number!r} must be a number in [{low:g}, {high:g}].")

    def _check_drift(self, name: str, value: Any) -> None:
        for where, rates in self._amp_entries(name, value, "drift rates"):
            if not isinstance(rates, Mapping):
                self._fail(where, f"must map quantities to fractional changes per day, not {rates!r}.")
            for key, rate in rates.items():
                if key not in DRIFT_KEYS:
                    self._fail(f"{where}.{key}", f"cannot drift; use one of {', '.join(DRIFT_KEYS)}.")
                if not _is_number(rate) or abs(rate) > _MAX_DRIFT_PER_DAY:
                    self._fail(
                        f"{where}.{key}",
                        f"= {rate!r} must be a fractional change per day in "
                        f"[{-_MAX_DRIFT_PER_DAY:g}, {_MAX_DRIFT_PER_DAY:g}] (0.005 is 0.5 % a day).",
                    )

    def drift_rates(self, detector: str, amp: str) -> dict[str, float]:
        """Fractional change per day of each drifting quantity of one amplifier (may be empty).

        Parameters
        ----------
        detector : `str`
            Detector name (``R22_S11``).
        amp : `str`
            Amplifier name (``C10``).

        Returns
        -------
        rates : `dict` [`str`, `float`]
            By quantity (``gain``, ``read_noise``, ``dark_current``).
        """
        return {k: float(v) for k, v in self.values["drift"]["amps"].get(detector, {}).get(amp, {}).items()}

    def drift_days(self, day_obs: int | None) -> int:
        """Days from ``drift.reference_day_obs`` to ``day_obs`` (0 for `None`; negative before it).

        Raises
        ------
        ValueError
            Raised if ``day_obs`` is not a date YYYYMMDD.
        """
        if day_obs is None:
            return 0
        day = _day(day_obs)
        if day is None:
            raise ValueError(f"day_obs={day_obs!r} must be a date YYYYMMDD.")
        reference = _day(self.get("drift.reference_day_obs"))
        assert reference is not None  # checked in the constructor
        return (day - reference).days

    def amp_override(self, detector: str, amp: str) -> dict[str, float]:
        """Values that replace the drawn ones for one amplifier (may be empty)."""
        return {k: float(v) for k, v in self.values["overrides"].get(detector, {}).get(amp, {}).items()}

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the merged parameters (as in a sensor-model file)."""
        return copy.deepcopy(self.values)


@functools.cache
def _detector_names() -> frozenset[str]:
    """Names of the detectors of every instrument (what ``overrides`` and ``drift`` may name)."""
    return frozenset(d.name for instrument in INSTRUMENT_NAMES for d in Camera.instance(instrument).detectors)
