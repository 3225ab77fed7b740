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

"""RunSettings: what one run of a calibration script does, in the form the run needs.

Made from the validated configuration (option names of the procedure
document) once the configuration has passed every configure-time check
(`~lsst.ts.calibrations.scripts.calibration_plan.CalibrationPlan`): exposure
times expanded to one per image taken (discarded images first), option
strings split into argument lists, collection lists split at commas, the
detector list resolved ("[]" = every detector), and the products the run
makes with what each needs (`ProcessingGraph`).
"""

from __future__ import annotations

__all__ = ["RunSettings"]

import dataclasses
import datetime
import shlex
import types
from collections.abc import Mapping, Sequence
from typing import Any

IMAGE_TYPES_OF_MODE: Mapping[str, tuple[str, ...]] = {
    "BIAS": ("BIAS",),
    "DARK": ("DARK",),
    "BIAS_DARK": ("BIAS", "DARK"),
    "BIAS_DARK_FLAT": ("BIAS", "DARK", "FLAT"),
}
"""Image types taken, in order, by each ``script_mode``."""


def _split_collections(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(name.strip() for name in value.split(",") if name.strip())
    return tuple(str(name).strip() for name in value if str(name).strip())


def _split_options(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(shlex.split(value))
    return tuple(str(item) for item in value)


def _expand_times(value: Any, n: int, n_discard: int, name: str) -> tuple[float, ...]:
    """One exposure time per image taken (discards first); see the module doc."""
    if value is None:
        return (0.0,) * (n + n_discard)
    if isinstance(value, int | float):
        return (float(value),) * (n + n_discard)
    times = [float(item) for item in value]
    if len(times) == n + n_discard:
        return tuple(times)
    if len(times) == n and times:
        return (times[0],) * n_discard + tuple(times)
    if len(times) == 1:
        return (times[0],) * (n + n_discard)
    raise ValueError(
        f"{name} has {len(times)} entries; give one time, {n} (one per image kept) "
        f"or {n + n_discard} (the {n_discard} discarded images first)"
    )


def _date(value: Any) -> str:
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """What one run does (see the module documentation).

    Parameters
    ----------
    script_mode : `str`
        BIAS, DARK, BIAS_DARK or BIAS_DARK_FLAT.
    image_types : `tuple` [`str`]
        Image types taken, in order.
    n_images : `dict` [`str`, `int`]
        Images kept per image type.
    n_discard : `dict` [`str`, `int`]
        Images taken first and discarded, per image type.
    exposure_times : `dict` [`str`, `tuple` [`float`]]
        Exposure time of each image taken (discards first), per image type.
    detectors : `tuple` [`int`]
        Detectors processed.
    generate_calibrations, do_verify, do_defects, do_ptc, do_gain_from_flat_pairs : `bool`
        What is made (``do_gain_from_flat_pairs`` already dropped where it
        cannot apply, e.g. when PTC runs or no flats are taken).
    config_options : `dict` [`str`, `tuple` [`str`]]
        Pipetask options per product (BIAS, DARK, FLAT, DEFECTS, PTC).
    input_collections : `dict` [`str`, `tuple` [`str`]]
        Input collections per product (BIAS, DARK, FLAT, DEFECTS, PTC).
    input_collections_verify : `dict` [`str`, `tuple` [`str`]]
        Input collections of verification per image type.
    calib_collection : `str`
        CALIBRATION collection certified into.
    begin_date, end_date : `str`
        Validity range of what is certified (ISO dates).
    repo : `str`
        Butler repository (path or alias).
    n_processes : `int`
        ``-j`` of each job.
    oods_timeout : `float`
        Time limit (s) for the OODS to ingest the images of one exposure.
    filter : `str`, `int` or `None`
        Filter for the flats (a name, or an index into the camera's
        ``availableFilters``), or None to keep the current one.
    program, reason, note : `str` or `None`
        Tags of every image taken.
    thresholds : `dict` [`str`, `int`]
        Verification threshold per image type.
    wait_between_exposures : `float`
        Pause (s) between two images.
    processing_timeout : `float`
        Time limit (s) of each OCPS job.
    """

    script_mode: str
    image_types: tuple[str, ...]
    n_images: dict[str, int]
    n_discard: dict[str, int]
    exposure_times: dict[str, tuple[float, ...]]
    detectors: tuple[int, ...]
    generate_calibrations: bool
    do_verify: bool
    do_defects: bool
    do_ptc: bool
    do_gain_from_flat_pairs: bool
    config_options: dict[str, tuple[str, ...]]
    input_collections: dict[str, tuple[str, ...]]
    input_collections_verify: dict[str, tuple[str, ...]]
    calib_collection: str
    begin_date: str
    end_date: str
    repo: str
    n_processes: int
    oods_timeout: float
    filter: str | int | None
    program: str | None
    reason: str | None
    note: str | None
    thresholds: dict[str, int]
    wait_between_exposures: float
    processing_timeout: float

    @classmethod
    def from_config(
        cls, config: types.SimpleNamespace | Mapping[str, Any], detector_ids: Sequence[int]
    ) -> RunSettings:
        """Make the settings from a validated configuration.

        Parameters
        ----------
        config : `types.SimpleNamespace` or `dict`
            The configuration as validated (defaults filled), with the
            procedure document's option names.
        detector_ids : `list` [`int`]
            Every detector of the camera (used when ``detectors`` is empty).

        Returns
        -------
        settings : `RunSettings`
            The settings.

        Raises
        ------
        ValueError
            If an exposure-time list has a length that fits neither n nor
            n + n_discard, or ``script_mode`` is unknown.
        """
        values = dict(vars(config)) if isinstance(config, types.SimpleNamespace) else dict(config)

        def get(name: str, default: Any = None) -> Any:
            return values.get(name, default)

        mode = str(get("script_mode", "BIAS_DARK_FLAT"))
        if mode not in IMAGE_TYPES_OF_MODE:
            raise ValueError(f"script_mode={mode!r} must be one of {sorted(IMAGE_TYPES_OF_MODE)}")
        image_types = IMAGE_TYPES_OF_MODE[mode]
        keys = {"BIAS": "bias", "DARK": "dark", "FLAT": "flat"}
        n_images = {t: int(get(f"n_{keys[t]}", 0)) for t in image_types}
        n_discard = {t: int(get(f"n_discard_{keys[t]}", 0)) for t in image_types}
        exposure_times = {
            "BIAS": (0.0,) * (n_images.get("BIAS", 0) + n_discard.get("BIAS", 0)),
        }
        for t in ("DARK", "FLAT"):
            if t in image_types:
                name = f"exp_times_{keys[t]}"
                exposure_times[t] = _expand_times(get(name), n_images[t], n_discard[t], name)
        exposure_times = {t: times for t, times in exposure_times.items() if t in image_types}
        detectors = tuple(int(d) for d in (get("detectors") or detector_ids))
        has_flats = "FLAT" in image_types
        do_ptc = bool(get("do_ptc", False)) and has_flats
        flat_times = exposure_times.get("FLAT", ())[n_discard.get("FLAT", 0) :]
        has_pair = any(flat_times[i] == flat_times[i + 1] for i in range(len(flat_times) - 1))
        do_gain = bool(get("do_gain_from_flat_pairs", False)) and has_flats and has_pair and not do_ptc
        products = ("BIAS", "DARK", "FLAT", "DEFECTS", "PTC")
        filter_value = get("filter")
        return cls(
            script_mode=mode,
            image_types=image_types,
            n_images=n_images,
            n_discard=n_discard,
            exposure_times=exposure_times,
            detectors=detectors,
            generate_calibrations=bool(get("generate_calibrations", False)),
            do_verify=bool(get("do_verify", True)),
            do_defects=bool(get("do_defects", False)) and has_flats,
            do_ptc=do_ptc,
            do_gain_from_flat_pairs=do_gain,
            config_options={p: _split_options(get(f"config_options_{p.lower()}")) for p in products},
            input_collections={
                p: _split_collections(get(f"input_collections_{p.lower()}")) for p in products
            },
            input_collections_verify={
                t: _split_collections(get(f"input_collections_verify_{keys[t]}")) for t in keys
            },
            calib_collection=str(get("calib_collection", "")),
            begin_date=_date(get("certify_calib_begin_date", "1950-01-01")),
            end_date=_date(get("certify_calib_end_date", "2050-01-01")),
            repo=str(get("repo", "/repo/LSSTComCam")),
            n_processes=int(get("n_processes", 1)),
            oods_timeout=float(get("oods_timeout", 120.0)),
            filter=filter_value
            if filter_value is None or isinstance(filter_value, int)
            else str(filter_value),
            program=get("program"),
            reason=get("reason"),
            note=get("note"),
            thresholds={t: int(get(f"number_verification_tests_threshold_{keys[t]}", 8)) for t in keys},
            wait_between_exposures=float(get("wait_between_exposures", 0.0)),
            processing_timeout=float(get("processing_timeout", 3600.0)),
        )

    @property
    def n_taken(self) -> int:
        """Images taken in all (kept and discarded)."""
        return sum(len(times) for times in self.exposure_times.values())

    def products(self) -> list[str]:
        """The products of this run, in the order they can be made.

        BIAS, DARK, FLAT (those taken; each generated, verified or both,
        or only taken), then DEFECTS, PTC and GAIN when requested.
        """
        products = list(self.image_types)
        if self.do_defects:
            products.append("DEFECTS")
        if self.do_ptc:
            products.append("PTC")
        if self.do_gain_from_flat_pairs:
            products.append("GAIN")
        return products
