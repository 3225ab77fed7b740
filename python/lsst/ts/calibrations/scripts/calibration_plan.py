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

"""CalibrationPlan: the validated, normalized plan of one calibration run.

Public API
----------
``CalibrationPlan.from_config(config, *, explicit_keys=frozenset(), instrument="LSSTComCam")``
    Returns a `CalibrationPlan`.
    ``config`` is the configuration (a `types.SimpleNamespace` as
    `BaseScript.configure` receives it, or a mapping); it is validated
    against `make_schema` (defaults filled, so a raw dict works too).
    ``explicit_keys`` are the options the operator wrote
    (``BaseScript.explicit_config_keys``). Every configure-time rule is
    applied; all problems are reported at once in one `ValueError`, one
    sentence per problem naming the option and what would be right.
    Defaults that do not apply are dropped with a line in ``plan.notes``
    (log them at INFO).
``resolve_filter(value, available_filters) -> str``
    The physical filter name for ``filter`` (a name, or the 0-based index
    into the camera's ``availableFilters`` list); `ValueError` otherwise.

The plan (frozen) gives, for the run engineer:

* ``sequences``: one `ExposureSequence` per image type, in taking order
  (``exposure_times`` discards first; ``n``/``n_discard``);
* ``steps``: the processing graph, `ProcessingStep` nodes in a topological
  order (``after`` = dependencies inside the run, ``images`` = image types
  needed); ``step(name)``, ``dependents(name)`` (transitive: what a failure
  blocks), ``steps_ready(taken, accepted)``;
* ``detectors`` (all nine if none given), ``filter`` (as written: name,
  index or None; resolve it with `resolve_filter` against the camera),
  ``calib_collection``, ``certify_begin``/``certify_end`` (ISO text, TAI),
  ``repo``, ``n_processes``, ``oods_timeout``, ``processing_timeout``,
  ``wait_between_exposures``, ``program``, ``reason``, ``note``;
* ``gain_pairs`` (index pairs into the kept flats), ``unpaired_flats``,
  ``gain_step`` ("GAIN", "PTC" whose cpPtcExtract carries the gains, or "");
* ``notes`` (INFO lines), ``config`` (the validated configuration dict),
  ``explicit_keys``, ``camera_time()``, ``estimated_duration()``,
  ``describe()``, ``to_dict()``.
"""

from __future__ import annotations

__all__ = ["CalibrationPlan", "resolve_filter"]

import dataclasses
import datetime
import re
import types
import typing
from collections.abc import Collection, Iterable, Mapping, Sequence

from ..sal.defaulting_validator import DefaultingValidator
from .calibration_schema import DETECTOR_IDS, IMAGE_TYPES_BY_MODE, make_schema
from .config_options import parse_config_options
from .exposure_sequence import ExposureSequence
from .processing_step import ProcessingStep

# Pairing of flats as cp_pipe does it: consecutive flats with times within 5 ms.
_PAIR_TOLERANCE = 0.005

# A collection name: path segments of letters, digits and _ . + - @ separated by single slashes.
_COLLECTION_NAME = re.compile(r"^[A-Za-z0-9_.+@-]+(/[A-Za-z0-9_.+@-]+)*$")

_PRODUCTS: dict[str, dict[str, str]] = {
    "BIAS": {"kind": "bias", "pipeline": "cpBias", "verify": "verifyBias"},
    "DARK": {"kind": "dark", "pipeline": "cpDark", "verify": "verifyDark"},
    "FLAT": {"kind": "flat", "pipeline": "cpFlat", "verify": "verifyFlat"},
}

# Options that only apply to one image type (refused if set explicitly when it is not taken).
_IMAGE_TYPE_OPTIONS: dict[str, tuple[str, ...]] = {
    image_type: (
        f"n_{kind}",
        f"n_discard_{kind}",
        f"config_options_{kind}",
        f"input_collections_{kind}",
        f"input_collections_verify_{kind}",
        f"number_verification_tests_threshold_{kind}",
    )
    + ((f"exp_times_{kind}",) if kind != "bias" else ())
    for image_type, kind in (("BIAS", "bias"), ("DARK", "dark"), ("FLAT", "flat"))
}

_VALIDATOR: DefaultingValidator | None = None


def _validator() -> DefaultingValidator:
    global _VALIDATOR
    if _VALIDATOR is None:
        _VALIDATOR = DefaultingValidator(make_schema())
    return _VALIDATOR


def resolve_filter(value: str | int | None, available_filters: Sequence[str]) -> str | None:
    """Return the physical filter name the ``filter`` option selects.

    Parameters
    ----------
    value : `str`, `int` or `None`
        The ``filter`` option: a filter name, or an integer that is the
        0-based index of the filter in ``available_filters``; `None` to
        leave the filter as it is.
    available_filters : sequence of `str`
        The camera's filters, in the order of its ``availableFilters``
        event (``filterNames`` split on commas).

    Returns
    -------
    name : `str` or `None`
        The filter name, or `None` if ``value`` is `None`.

    Raises
    ------
    ValueError
        If the name is not among ``available_filters`` or the index is
        out of range; the message lists the filters with their indices.
    """
    if value is None:
        return None
    names = [str(name).strip() for name in available_filters if str(name).strip()]
    listing = ", ".join(f"{i}={name}" for i, name in enumerate(names)) or "none"
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"filter={value!r} must be a filter name or an index; available: {listing}.")
    if isinstance(value, int):
        if 0 <= value < len(names):
            return names[value]
        raise ValueError(
            f"filter={value} is not an index into the camera's available filters "
            f"(0..{len(names) - 1}): give a name or an index among {listing}."
        )
    if value in names:
        return value
    raise ValueError(
        f"filter={value!r} is not one of the camera's available filters: give a name or an index among "
        f"{listing}."
    )


def _parse_date(option: str, value: typing.Any, problems: list[str]) -> datetime.datetime | None:
    """Parse a date option (text or a YAML date); record a problem if bad."""
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day)
    text = str(value).strip()
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        problems.append(
            f"{option}={value!r} is not a valid ISO date: write it as YYYY-MM-DD, e.g. 2022-11-04 "
            "(quoted or not)."
        )
        return None


def _pair_flats(times: Sequence[float]) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...]]:
    """Pair consecutive flats of equal exposure time (indices into ``times``)."""
    pairs: list[tuple[int, int]] = []
    unpaired: list[int] = []
    i = 0
    while i < len(times):
        if i + 1 < len(times) and abs(times[i + 1] - times[i]) <= _PAIR_TOLERANCE + 1e-12:
            pairs.append((i, i + 1))
            i += 2
        else:
            unpaired.append(i)
            i += 1
    return tuple(pairs), tuple(unpaired)


def _format_times(times: Iterable[float]) -> str:
    return ", ".join(f"{t:g}" for t in times)


@dataclasses.dataclass(frozen=True)
class CalibrationPlan:
    """The validated, normalized plan of one calibration run.

    Build it with `from_config`; the fields are documented in the module
    docstring. Frozen: the run reads it, never changes it.

    Parameters
    ----------
    config : `dict` [`str`, `typing.Any`]
        The validated configuration, defaults filled in.
    explicit_keys : `frozenset` [`str`]
        Options the operator wrote.
    instrument : `str`
        Instrument name ("LSSTComCam").
    script_mode : `str`
        The ``script_mode``.
    sequences : `tuple` [`ExposureSequence`, ...]
        Exposures per image type, in taking order.
    steps : `tuple` [`ProcessingStep`, ...]
        The processing graph in topological order.
    detectors : `tuple` [`int`, ...]
        Detector ids to process.
    filter : `str`, `int` or `None`
        The ``filter`` option as written (see `resolve_filter`).
    generate_calibrations, do_verify : `bool`
        The options of those names.
    calib_collection : `str`
        CALIBRATION collection to certify into.
    certify_begin, certify_end : `str`
        Validity range (ISO, TAI), begin < end.
    repo : `str`
        Butler repository.
    n_processes : `int`
        Processes per pipetask job.
    oods_timeout, processing_timeout, wait_between_exposures : `float`
        Seconds.
    program, reason, note : `str`
        Exposure metadata.
    gain_pairs : `tuple` [`tuple` [`int`, `int`], ...]
        Pairs of kept flats (0-based indices) that give gains.
    unpaired_flats : `tuple` [`int`, ...]
        Kept flats (indices) taken but in no pair.
    gain_step : `str`
        Step whose ``cpPtcExtract`` gives the gains ("GAIN", "PTC"), or "".
    notes : `tuple` [`str`, ...]
        Information for the log (dropped defaults, what is not done).
    """

    config: dict[str, typing.Any]
    explicit_keys: frozenset[str]
    instrument: str
    script_mode: str
    sequences: tuple[ExposureSequence, ...]
    steps: tuple[ProcessingStep, ...]
    detectors: tuple[int, ...]
    filter: str | int | None
    generate_calibrations: bool
    do_verify: bool
    calib_collection: str
    certify_begin: str
    certify_end: str
    repo: str
    n_processes: int
    oods_timeout: float
    processing_timeout: float
    wait_between_exposures: float
    program: str
    reason: str
    note: str
    gain_pairs: tuple[tuple[int, int], ...]
    unpaired_flats: tuple[int, ...]
    gain_step: str
    notes: tuple[str, ...]

    # ------------------------------------------------------------------
    # Construction

    @classmethod
    def from_config(
        cls,
        config: types.SimpleNamespace | Mapping[str, typing.Any],
        *,
        explicit_keys: Collection[str] = frozenset(),
        instrument: str = "LSSTComCam",
    ) -> CalibrationPlan:
        """Validate a configuration and build the run plan.

        Parameters
        ----------
        config : `types.SimpleNamespace` or `~collections.abc.Mapping`
            The configuration; validated here against `make_schema`, with
            defaults filled in.
        explicit_keys : `~collections.abc.Collection` [`str`], optional
            Options the operator set explicitly. An explicit option that
            cannot apply is refused; a default that cannot apply is dropped
            with a note.
        instrument : `str`, optional
            Instrument name for pipeline paths.

        Returns
        -------
        plan : `CalibrationPlan`
            The plan.

        Raises
        ------
        jsonschema.ValidationError
            If the configuration does not match the schema (unknown options
            suggest the closest name).
        ValueError
            If a cross-field rule is broken; the message lists every
            problem, each naming the option and what would be right.
        """
        raw = vars(config) if isinstance(config, types.SimpleNamespace) else dict(config)
        cfg = _validator().validate(raw)
        explicit = frozenset(explicit_keys)
        problems: list[str] = []
        notes: list[str] = []

        mode = cfg["script_mode"]
        image_types = IMAGE_TYPES_BY_MODE[mode]
        generate = bool(cfg["generate_calibrations"])
        verify = bool(cfg["do_verify"])

        def explicit_true(name: str) -> bool:
            return name in explicit and bool(cfg[name])

        # Options set for an image type that is not taken.
        for image_type, names in _IMAGE_TYPE_OPTIONS.items():
            if image_type in image_types:
                continue
            for name in names:
                if name in explicit:
                    modes = [m for m, types_ in IMAGE_TYPES_BY_MODE.items() if image_type in types_]
                    problems.append(
                        f"{name} is set but script_mode {mode} takes no {image_type.lower()} images: remove "
                        f"{name} or use a script_mode that does ({', '.join(modes)})."
                    )
        if cfg["filter"] is not None and "FLAT" not in image_types and "filter" in explicit:
            problems.append(
                f"filter is set but script_mode {mode} takes no flats (biases and darks never change the "
                "filter): remove filter or use script_mode BIAS_DARK_FLAT."
            )
        if isinstance(cfg["filter"], str) and "$" in cfg["filter"]:
            problems.append(
                f"filter={cfg['filter']!r} is the procedure document's placeholder: replace it with a filter "
                "name of the camera (e.g. r_03) or its 0-based index in the camera's availableFilters, or "
                "remove filter to keep the current one."
            )

        # Exposure sequences.
        sequences: list[ExposureSequence] = []
        for image_type in image_types:
            kind = image_type.lower()
            option = f"exp_times_{kind}"
            try:
                sequences.append(
                    ExposureSequence.from_options(
                        image_type,
                        int(cfg[f"n_{kind}"]),
                        int(cfg[f"n_discard_{kind}"]),
                        None if image_type == "BIAS" else cfg[option],
                        option,
                    )
                )
            except ValueError as e:
                problems.append(str(e))
        flats = next((s for s in sequences if s.image_type == "FLAT"), None)

        # Flat pairs: PTC and gain.
        flat_times = flats.kept_times if flats is not None else ()
        gain_pairs, unpaired = _pair_flats(flat_times)
        levels = sorted({flat_times[i] for i, _ in gain_pairs})
        do_defects = bool(cfg["do_defects"])
        do_ptc = bool(cfg["do_ptc"])
        do_gain = bool(cfg["do_gain_from_flat_pairs"])
        for name, wanted in (("do_defects", do_defects), ("do_ptc", do_ptc)):
            if wanted and mode != "BIAS_DARK_FLAT":
                problems.append(
                    f"{name}: true needs script_mode BIAS_DARK_FLAT (it uses "
                    f"{'darks and flats' if name == 'do_defects' else 'flats'}), not {mode}: "
                    f"set script_mode: BIAS_DARK_FLAT or remove {name}."
                )
        if do_ptc and flats is not None:
            if unpaired or len(levels) < 3:
                problems.append(
                    f"do_ptc: true needs the flats in pairs of equal exposure time (consecutive) "
                    "with at least 3 distinct times, but exp_times_flat gives "
                    f"[{_format_times(flat_times)}] for the "
                    f"{len(flat_times)} kept flats ({len(gain_pairs)} pairs, {len(levels)} distinct times"
                    + (f", flats {', '.join(str(i + 1) for i in unpaired)} unpaired" if unpaired else "")
                    + "): give e.g. exp_times_flat: [1, 1, 2, 2, 4, 4] with n_flat: 6."
                )
        gain_step = ""
        if do_gain:
            if mode != "BIAS_DARK_FLAT":
                if "do_gain_from_flat_pairs" in explicit:
                    problems.append(
                        f"do_gain_from_flat_pairs: true needs script_mode BIAS_DARK_FLAT (gains come from "
                        f"flat pairs), not {mode}: set script_mode: BIAS_DARK_FLAT or "
                        "do_gain_from_flat_pairs: false."
                    )
                else:
                    notes.append(
                        f"do_gain_from_flat_pairs (default true) dropped: script_mode {mode} takes no flats."
                    )
            elif not gain_pairs:
                if "do_gain_from_flat_pairs" in explicit:
                    problems.append(
                        "do_gain_from_flat_pairs: true needs at least one pair of consecutive flats with "
                        "the same exposure time, but exp_times_flat gives "
                        f"[{_format_times(flat_times)}]: repeat a time, "
                        "e.g. exp_times_flat: [1.2, 1.2] with n_flat: 2."
                    )
                else:
                    notes.append(
                        "do_gain_from_flat_pairs (default true) dropped: no two consecutive flats have "
                        f"the same exposure time ([{_format_times(flat_times)}])."
                    )
            else:
                gain_step = "PTC" if do_ptc else "GAIN"
                if unpaired:
                    notes.append(
                        f"Gains from {len(gain_pairs)} flat pair(s); flat(s) "
                        + ", ".join(f"{i + 1} ({flat_times[i]:g} s)" for i in unpaired)
                        + " are taken but in no pair, so unused for the gain."
                    )
                if do_ptc:
                    notes.append(
                        "Gains are read from the PTC job's cpPtcExtract (the gain pipeline is a subset of "
                        "the PTC pipeline, so it is not run separately)."
                    )

        # Configuration options of each pipeline.
        options: dict[str, tuple[str, ...]] = {}
        for kind in ("bias", "dark", "flat", "defects", "ptc"):
            name = f"config_options_{kind}"
            try:
                options[kind] = parse_config_options(name, cfg[name])
            except ValueError as e:
                problems.append(str(e))
                options[kind] = ()

        # Collections.
        def collections(name: str) -> tuple[str, ...]:
            text = str(cfg[name])
            if not text.strip():
                return ()
            names = tuple(part.strip() for part in text.split(","))
            for part in names:
                if not _COLLECTION_NAME.match(part):
                    problems.append(
                        f"{name}={text!r}: {part!r} is not a valid collection name: give "
                        "comma-separated names made of letters, digits and _ . + @ - separated by "
                        "single slashes, e.g. "
                        '"u/me/2024OCT24.1,LSSTComCam/calib".'
                    )
            return names

        inputs = {name: collections(name) for name in cfg if name.startswith("input_collections_")}
        calib_collection = str(cfg["calib_collection"]).strip()
        if not _COLLECTION_NAME.match(calib_collection):
            problems.append(
                f"calib_collection={cfg['calib_collection']!r} is not a valid collection name: use letters, "
                "digits and _ . + @ - separated by single slashes, e.g. LSSTComCam/calib/daily."
            )
        elif calib_collection in (f"{instrument}/calib", f"{instrument}/raw/all"):
            problems.append(
                f"calib_collection={calib_collection!r} is the "
                + ("chained calibration" if calib_collection.endswith("calib") else "raw")
                + " collection, not a CALIBRATION collection to certify into: use e.g. "
                f"{instrument}/calib/daily or {instrument}/calib/u/<you>/<date>.1."
            )

        # Validity range.
        begin = _parse_date("certify_calib_begin_date", cfg["certify_calib_begin_date"], problems)
        end = _parse_date("certify_calib_end_date", cfg["certify_calib_end_date"], problems)
        if begin is not None and end is not None and not begin < end:
            problems.append(
                f"certify_calib_begin_date={cfg['certify_calib_begin_date']} must be before "
                f"certify_calib_end_date={cfg['certify_calib_end_date']}: give a begin date earlier than the "
                "end date (e.g. 2022-11-04 and 2022-11-05)."
            )

        # Processing graph.
        steps: list[ProcessingStep] = []
        for image_type in image_types:
            product = _PRODUCTS[image_type]
            kind = product["kind"]
            after = (
                tuple(s.name for s in steps if s.certify and s.name in ("BIAS", "DARK")) if generate else ()
            )
            isr_options = _isr_options(options[kind])
            step = ProcessingStep(
                name=image_type,
                images=(image_type,),
                after=after,
                generate=generate,
                pipeline=_pipeline("CP_PIPE_DIR", instrument, product["pipeline"]) if generate else "",
                config_options=options[kind] if generate else (),
                input_collections=((calib_collection,) if after else ()) + inputs[f"input_collections_{kind}"]
                if generate
                else (),
                verify=verify,
                verification=("internal" if generate else "external") if verify else "",
                verify_pipeline=_pipeline("CP_VERIFY_DIR", instrument, product["verify"]) if verify else "",
                verify_config_options=isr_options if verify else (),
                verify_input_collections=inputs[f"input_collections_verify_{kind}"] if verify else (),
                verify_stats_dataset=f"{product['verify']}Stats" if verify else "",
                verification_threshold=int(cfg[f"number_verification_tests_threshold_{kind}"])
                if verify
                else 0,
                certify=generate,
                dataset_type=kind,
            )
            if generate or verify:
                steps.append(step)
        if mode == "BIAS_DARK_FLAT" and do_defects:
            after = ("BIAS",) if generate else ()
            steps.append(
                ProcessingStep(
                    name="DEFECTS",
                    images=("DARK", "FLAT"),
                    after=after,
                    generate=True,
                    pipeline=_pipeline("CP_PIPE_DIR", instrument, "findDefects"),
                    config_options=options["defects"],
                    input_collections=((calib_collection,) if after else ())
                    + inputs["input_collections_defects"],
                    certify=True,
                    dataset_type="defects",
                )
            )
        if mode == "BIAS_DARK_FLAT" and do_ptc:
            steps.append(
                ProcessingStep(
                    name="PTC",
                    images=("FLAT",),
                    generate=True,
                    pipeline=_pipeline("CP_PIPE_DIR", instrument, "cpPtc"),
                    config_options=options["ptc"],
                    input_collections=inputs["input_collections_ptc"],
                    certify=True,
                    dataset_type="ptc",
                    report_gains=gain_step == "PTC",
                )
            )
        if gain_step == "GAIN":
            steps.append(
                ProcessingStep(
                    name="GAIN",
                    images=("FLAT",),
                    generate=True,
                    pipeline=_pipeline("CP_PIPE_DIR", instrument, "cpPtc") + "#generateGainFromFlatPair",
                    config_options=options["ptc"],
                    input_collections=inputs["input_collections_ptc"],
                    dataset_type="cpPtcExtract",
                    report_gains=True,
                )
            )
        certifies = any(step.certify for step in steps)

        # Explicit options that cannot apply to this run.
        inapplicable: list[tuple[str, bool, str]] = [
            ("calib_collection", not certifies, "nothing is certified"),
            ("certify_calib_begin_date", not certifies, "nothing is certified"),
            ("certify_calib_end_date", not certifies, "nothing is certified"),
            ("config_options_defects", not do_defects, "do_defects is false"),
            ("input_collections_defects", not do_defects, "do_defects is false"),
            (
                "config_options_ptc",
                not (do_ptc or gain_step),
                "neither do_ptc nor do_gain_from_flat_pairs runs",
            ),
            (
                "input_collections_ptc",
                not (do_ptc or gain_step),
                "neither do_ptc nor do_gain_from_flat_pairs runs",
            ),
        ]
        for kind in ("bias", "dark", "flat"):
            inapplicable.append((f"input_collections_{kind}", not generate, "generate_calibrations is false"))
            inapplicable.append((f"input_collections_verify_{kind}", not verify, "do_verify is false"))
            inapplicable.append(
                (f"number_verification_tests_threshold_{kind}", not verify, "do_verify is false")
            )
        mentioned = {p.split(" ", 1)[0].split("=", 1)[0].split(":", 1)[0] for p in problems}
        for name, cannot, why in inapplicable:
            if cannot and name in explicit and name not in mentioned:
                fix = {
                    "nothing is certified": "set generate_calibrations: true (or do_defects / do_ptc: true)",
                    "do_defects is false": "set do_defects: true",
                    "generate_calibrations is false": "set generate_calibrations: true",
                    "do_verify is false": "set do_verify: true",
                }.get(why, "set do_ptc: true or do_gain_from_flat_pairs: true with flat pairs")
                problems.append(f"{name} is set but cannot apply because {why}: {fix}, or remove {name}.")

        if problems:
            raise ValueError(
                f"{len(problems)} configuration problem(s): "
                + " ".join(f"({i}) {problem}" for i, problem in enumerate(problems, start=1))
            )
        if not steps:
            notes.append(
                "No processing: generate_calibrations and do_verify are false and no defects, PTC or "
                "gains are requested; the images are only taken and ingested."
            )
        elif not certifies:
            notes.append(
                "Nothing is certified in this run (generate_calibrations is false and no defects or PTC)."
            )
        detectors = tuple(int(d) for d in cfg["detectors"]) or DETECTOR_IDS
        assert begin is not None and end is not None
        return cls(
            config=cfg,
            explicit_keys=explicit,
            instrument=instrument,
            script_mode=mode,
            sequences=tuple(sequences),
            steps=tuple(steps),
            detectors=detectors,
            filter=cfg["filter"],
            generate_calibrations=generate,
            do_verify=verify,
            calib_collection=calib_collection,
            certify_begin=_iso(begin),
            certify_end=_iso(end),
            repo=str(cfg["repo"]),
            n_processes=int(cfg["n_processes"]),
            oods_timeout=float(cfg["oods_timeout"]),
            processing_timeout=float(cfg["processing_timeout"]),
            wait_between_exposures=float(cfg["wait_between_exposures"]),
            program=str(cfg["program"]),
            reason=str(cfg["reason"]),
            note=str(cfg["note"]),
            gain_pairs=gain_pairs if gain_step else (),
            unpaired_flats=unpaired if gain_step else (),
            gain_step=gain_step,
            notes=tuple(notes),
        )

    # ------------------------------------------------------------------
    # Queries

    @property
    def image_types(self) -> tuple[str, ...]:
        """Image types taken, in order."""
        return tuple(sequence.image_type for sequence in self.sequences)

    def sequence(self, image_type: str) -> ExposureSequence:
        """Return the `ExposureSequence` of an image type.

        Raises
        ------
        KeyError
            If the image type is not taken in this run.
        """
        for sequence in self.sequences:
            if sequence.image_type == image_type:
                return sequence
        raise KeyError(f"image type {image_type!r} is not taken in this run (taken: {self.image_types})")

    def step(self, name: str) -> ProcessingStep:
        """Return the step of that name.

        Raises
        ------
        KeyError
            If the run has no such step.
        """
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"no processing step {name!r} in this run (steps: {[s.name for s in self.steps]})")

    def dependents(self, name: str) -> tuple[str, ...]:
        """Return the steps that depend on ``name``, directly or not (in plan order).

        These are the steps blocked when ``name`` fails.
        """
        blocked = {name}
        result = []
        for step in self.steps:
            if any(dep in blocked for dep in step.after):
                blocked.add(step.name)
                result.append(step.name)
        return tuple(result)

    def steps_ready(
        self, taken: Collection[str], accepted: Collection[str], started: Collection[str] = ()
    ) -> tuple[ProcessingStep, ...]:
        """Return the steps that may start now.

        Parameters
        ----------
        taken : `~collections.abc.Collection` [`str`]
            Image types whose exposures are all taken and ingested.
        accepted : `~collections.abc.Collection` [`str`]
            Steps finished successfully (verified / certified as planned).
        started : `~collections.abc.Collection` [`str`], optional
            Steps already started (excluded).

        Returns
        -------
        steps : `tuple` [`ProcessingStep`, ...]
            Steps whose images are taken and whose dependencies are accepted.
        """
        return tuple(
            step
            for step in self.steps
            if step.name not in started
            and all(image_type in taken for image_type in step.images)
            and all(dep in accepted for dep in step.after)
        )

    @property
    def flat_pair_times(self) -> tuple[float, ...]:
        """Exposure time (s) of each gain pair, in order."""
        if not self.gain_pairs:
            return ()
        kept = self.sequence("FLAT").kept_times
        return tuple(kept[i] for i, _ in self.gain_pairs)

    def camera_time(self, read_out_time: float = 2.0, shutter_time: float = 1.0) -> float:
        """Return the time (s) the camera needs for every exposure of the run.

        Each exposure takes its exposure time plus ``read_out_time``
        (plus ``shutter_time`` for flats, whose shutter opens), plus
        ``wait_between_exposures`` between exposures.
        """
        total = 0.0
        count = 0
        for sequence in self.sequences:
            extra = read_out_time + (shutter_time if sequence.image_type == "FLAT" else 0.0)
            total += sum(sequence.exposure_times) + extra * sequence.total
            count += sequence.total
        return total + self.wait_between_exposures * max(count - 1, 0)

    def estimated_duration(self, read_out_time: float = 2.0, job_time: float = 300.0) -> float:
        """Return a realistic duration (s) of the run for the ``metadata`` event.

        Camera time (`camera_time`) plus the processing left after the last
        image type is taken: ``job_time`` per OCPS job on the longest chain
        of steps that waits for the last image type (generation and
        verification count one job each, through the steps it depends on
        that start no earlier).

        Parameters
        ----------
        read_out_time : `float`, optional
            Camera read-out time (s).
        job_time : `float`, optional
            Typical duration (s) of one OCPS job.
        """
        if not self.sequences:
            return 0.0
        last = self.sequences[-1].image_type
        chain: dict[str, int] = {}
        for step in self.steps:
            previous = max((chain.get(dep, 0) for dep in step.after), default=0)
            chain[step.name] = previous + len(step.jobs)
        tail = max((chain[step.name] for step in self.steps if last in step.images), default=0)
        return self.camera_time(read_out_time) + job_time * tail

    def describe(self) -> str:
        """Return a multi-line description of the plan for the log."""
        lines = [f"Plan ({self.script_mode}, detectors {list(self.detectors)}):"]
        for sequence in self.sequences:
            lines.append(
                f"  {sequence.image_type}: {sequence.n} kept + {sequence.n_discard} discarded, "
                f"exposure times [{_format_times(sequence.exposure_times)}] s"
            )
        for step in self.steps:
            lines.append(f"  {step.describe()}")
        if any(step.certify for step in self.steps):
            lines.append(
                f"  certify into {self.calib_collection}, "
                f"valid [{self.certify_begin}, {self.certify_end}) TAI"
            )
        if self.gain_step:
            lines.append(
                f"  gains from {len(self.gain_pairs)} flat pair(s) "
                f"at [{_format_times(self.flat_pair_times)}] s"
            )
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, typing.Any]:
        """Return a JSON-compatible dict of the plan."""
        return {
            "config": dict(self.config),
            "explicit_keys": sorted(self.explicit_keys),
            "instrument": self.instrument,
            "script_mode": self.script_mode,
            "sequences": [sequence.to_dict() for sequence in self.sequences],
            "steps": [step.to_dict() for step in self.steps],
            "detectors": list(self.detectors),
            "filter": self.filter,
            "calib_collection": self.calib_collection,
            "certify_begin": self.certify_begin,
            "certify_end": self.certify_end,
            "gain_pairs": [list(pair) for pair in self.gain_pairs],
            "unpaired_flats": list(self.unpaired_flats),
            "gain_step": self.gain_step,
            "notes": list(self.notes),
        }


def _pipeline(variable: str, instrument: str, name: str) -> str:
    return f"${{{variable}}}/pipelines/{instrument}/{name}.yaml"


def _isr_options(arguments: Sequence[str]) -> tuple[str, ...]:
    """Keep the ``isr`` configuration options (the label verification pipelines share)."""
    kept: list[str] = []
    for name, value in zip(arguments[::1], arguments[1:], strict=False):
        if name in ("-c", "--config", "-C", "--config-file") and value.startswith("isr:"):
            kept.extend((name, value))
    return tuple(kept)


def _iso(value: datetime.datetime) -> str:
    if value.time() == datetime.time(0):
        return value.date().isoformat()
    return value.isoformat()
