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

"""The configure-time rules of a calibration run, one small function each.

Each rule reads the validated configuration (defaults filled in, as
``BaseScript.do_configure`` hands it over) and the options the operator
wrote, and returns `ConfigProblem` items that name their option and say
what would be right; rules that also derive a value return it with the
problems. `CalibrationPlan.build` applies them all and reports every
problem at once. None of them validates against a schema: that was done
once, by the script.

Rules
-----
``options_of_types_not_taken`` : options of an image type ``script_mode`` does not take.
``filter_placeholder`` : ``filter`` left as the procedure document's placeholder.
``exposure_sequences`` : the exposures of each image type (``n_*`` follows a list).
``flat_products_need_flats`` : ``do_defects``/``do_ptc`` need ``BIAS_DARK_FLAT``.
``defect_dark_times`` : a warning when ``do_defects`` has darks too short for
the defect finder (`MIN_DEFECT_DARK_TIME`).
``ptc_pairs`` : the PTC needs flats in pairs: `MIN_PTC_PAIRS` or more, at
`MIN_PTC_TIMES` or more times.
``gain_pairs`` : the gain from flat pairs needs a pair (dropped with a note if defaulted).
``pipeline_options`` : every ``config_options_*`` parses.
``input_collections`` : every ``input_collections_*`` names valid collections.
``calib_collection`` : a valid CALIBRATION collection name.
``validity_range`` : the certification dates parse and are in order.
``inapplicable_options`` : explicit options that cannot apply to this run.
``resolve_filter`` : the filter name the ``filter`` option selects on a camera.
"""

from __future__ import annotations

__all__ = [
    "MIN_DEFECT_DARK_TIME",
    "calib_collection",
    "defect_dark_times",
    "exposure_sequences",
    "filter_placeholder",
    "flat_products_need_flats",
    "format_times",
    "gain_pairs",
    "inapplicable_options",
    "input_collections",
    "options_of_types_not_taken",
    "pair_flats",
    "pipeline_options",
    "ptc_pairs",
    "resolve_filter",
    "validity_range",
]

import datetime
import math
import re
import statistics
import typing
from collections.abc import Collection, Iterable, Mapping, Sequence

from ..repo.image_type import ImageType
from ..sal.config_problem import ConfigProblem
from .calibration_product import CalibrationProduct
from .calibration_schema import IMAGE_TYPES_BY_MODE
from .config_options import parse_config_options
from .exposure_sequence import ExposureSequence
from .processing_graph import ProcessingGraph

Config = Mapping[str, typing.Any]

# Pairing of flats as cp_pipe does it: consecutive flats with times within 5 ms.
_PAIR_TOLERANCE = 0.005

# A collection name: path segments of letters, digits and _ . + - @ separated by single slashes.
_COLLECTION_NAME = re.compile(r"^[A-Za-z0-9_.+@-]+(/[A-Za-z0-9_.+@-]+)*$")

_FULL_MODE = "BIAS_DARK_FLAT"


def format_times(times: Iterable[float]) -> str:
    """Exposure times as "1, 1.5, 2"."""
    return ", ".join(f"{t:g}" for t in times)


def options_of_types_not_taken(
    values: Config, explicit: Collection[str], image_types: Sequence[ImageType]
) -> list[ConfigProblem]:
    """Options set for an image type that ``script_mode`` does not take (and ``filter`` without flats)."""
    mode = values["script_mode"]
    problems = []
    for image_type in ImageType.calibration_types():
        if image_type in image_types:
            continue
        modes = [m for m, types in IMAGE_TYPES_BY_MODE.items() if image_type in types]
        for name in image_type.options.names:
            if name in explicit:
                problems.append(
                    ConfigProblem(
                        f"{name} is set but script_mode {mode} takes no {image_type.observation_type} "
                        f"images: remove {name} or use a script_mode that does ({', '.join(modes)}).",
                        option=name,
                    )
                )
    if values["filter"] is not None and ImageType.FLAT not in image_types and "filter" in explicit:
        problems.append(
            ConfigProblem(
                f"filter is set but script_mode {mode} takes no flats (biases and darks never change the "
                f"filter): remove filter or use script_mode {_FULL_MODE}.",
                option="filter",
            )
        )
    return problems


def filter_placeholder(values: Config) -> list[ConfigProblem]:
    """``filter`` written as the procedure document's ``${FILTER_NAME_OR_ID}``."""
    value = values["filter"]
    if isinstance(value, str) and "$" in value:
        return [
            ConfigProblem(
                f"filter={value!r} is the procedure document's placeholder: replace it with a filter name of "
                "the camera (e.g. r_03) or its 0-based index in the camera's availableFilters, or remove "
                "filter to keep the current one.",
                option="filter",
            )
        ]
    return []


def exposure_sequences(
    values: Config,
    explicit: Collection[str],
    image_types: Sequence[ImageType],
    reprocess: Mapping[ImageType, Sequence[float]] | None = None,
) -> tuple[list[ExposureSequence], list[ConfigProblem], list[str]]:
    """The exposures of each image type taken, in order.

    An ``n_*`` the operator did not write follows the length of an
    ``exp_times_*`` list (a note says so); an explicit one must agree with
    it (the list has ``n`` or ``n + n_discard`` entries). When reprocessing,
    the exposures given are the sequence (all kept, none discarded).

    Returns
    -------
    sequences : `list` [`ExposureSequence`]
        One per image type that could be made.
    problems : `list` [`ConfigProblem`]
        A list of the wrong length or a bad time, naming the option (the
        image type is then planned as if ``n_*`` followed the list, when it
        is a list, for the checks that come later).
    notes : `list` [`str`]
        INFO lines: an ``n_*`` that followed its list; options overridden
        by reprocessing.
    """
    sequences: list[ExposureSequence] = []
    problems: list[ConfigProblem] = []
    notes: list[str] = []
    for image_type in image_types:
        names = image_type.options
        if reprocess is not None and image_type in reprocess:
            sequences.append(ExposureSequence.from_exposures(image_type, reprocess[image_type]))
            ignored = [
                name for name in (names.n, names.n_discard, names.exp_times) if name and name in explicit
            ]
            if ignored:
                notes.append(
                    f"{', '.join(ignored)} ignored: the {len(reprocess[image_type])} "
                    f"{image_type.plural} to reprocess give the number and exposure times."
                )
            continue
        n = int(values[names.n])
        n_discard = int(values[names.n_discard])
        exp_times = values[names.exp_times] if names.exp_times is not None else None
        if isinstance(exp_times, list) and exp_times and names.n not in explicit and len(exp_times) != n:
            n = len(exp_times)
            notes.append(
                f"{names.n} is {n}, the number of entries of {names.exp_times} ({names.n} was left at its "
                f"default, {values[names.n]}, so it follows the list)"
                + (
                    f"; {n_discard} more {image_type.observation_type} taken first and discarded, at "
                    f"{exp_times[0]:g} s."
                    if n_discard
                    else "."
                )
            )
        try:
            sequences.append(ExposureSequence.from_options(image_type, n, n_discard, exp_times))
        except ValueError as e:
            problems.append(ConfigProblem(str(e), option=names.exp_times or names.n))
            if isinstance(exp_times, list) and exp_times:
                # Planned as if n followed the list, so that the checks that come later still run.
                try:
                    sequences.append(
                        ExposureSequence.from_options(image_type, len(exp_times), n_discard, exp_times)
                    )
                except ValueError:
                    pass  # a bad time: reported above
    return sequences, problems, notes


def pair_flats(times: Sequence[float]) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...]]:
    """Pair consecutive flats of equal exposure time; return the pairs and the unpaired (indices)."""
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


def flat_products_need_flats(values: Config) -> list[ConfigProblem]:
    """``do_defects`` and ``do_ptc`` need darks and flats: ``script_mode`` BIAS_DARK_FLAT."""
    mode = values["script_mode"]
    problems = []
    for name, uses in (("do_defects", "darks and flats"), ("do_ptc", "flats")):
        if values[name] and mode != _FULL_MODE:
            problems.append(
                ConfigProblem(
                    f"{name}: true needs script_mode {_FULL_MODE} (it uses {uses}), not {mode}: "
                    f"set script_mode: {_FULL_MODE} or remove {name}.",
                    option=name,
                )
            )
    return problems


# The defect finder (cp_pipe's measureDefects, our cp/defects.py) flags a
# pixel of a bias-subtracted dark as hot where its signal over the dark time
# exceeds darkCurrentThreshold = 3 e-/s (besides nSigmaBright = 4.8 clipped
# sigmas above the mean), then fills a whole column of an amplifier where 50
# of its 2000 rows are flagged. In one dark a pixel's noise is the read noise
# (the simulator's dark current, 0.004 e-/s, adds nothing), so the 3 e-/s rule
# flags the fraction P(N(0, 1) > 3 e-/s * t / read_noise) of the pixels; once
# that nears the column fraction 50 / 2000 = 2.5%, columns fill and the count
# explodes. Keeping the expected count per column at 60% of 50 (1.5%, so that
# its Poisson scatter over 509 columns rarely reaches 50) needs
# 3 e-/s * t >= 2.17 * read_noise; the cameras' largest nominal read noise is
# 10.5 e- (ComCam and LSSTCam descriptions 5.5-10.5 e-, LATISS 8.0-10.3 e-):
# t >= 2.17 * 10.5 / 3 = 7.6 s, so 8 s. Measured with the defect finder on
# read noise alone over a full 509 x 2000 amplifier (10.5 e-, then 9.7 e-, the
# simulator's noisiest amplifier): per dark, 5 s flags 72% (59%) of the
# pixels, 6 s 41% (27%), 7 s 7.8% (1.6%), 8 s 1.1% (0.7%), 10 s 0.2% (0.1%).
_DEFECT_DARK_CURRENT_THRESHOLD = 3.0  # e-/s
_DEFECT_COLUMN_FRACTION = 50 / 2000  # column filling: defect pixels per row
_MAX_NOMINAL_READ_NOISE = 10.5  # e-

MIN_DEFECT_DARK_TIME = float(
    math.ceil(
        statistics.NormalDist().inv_cdf(1 - 0.6 * _DEFECT_COLUMN_FRACTION)
        * _MAX_NOMINAL_READ_NOISE
        / _DEFECT_DARK_CURRENT_THRESHOLD
    )
)
"""Shortest dark (s) whose read noise does not make the defect finder's hot pixels explode (8 s)."""


def defect_dark_times(values: Config, dark_times: Sequence[float] | None) -> list[str]:
    """Warn when ``do_defects`` uses darks shorter than `MIN_DEFECT_DARK_TIME`.

    Parameters
    ----------
    values : `~collections.abc.Mapping`
        The validated configuration.
    dark_times : `~collections.abc.Sequence` [`float`] or `None`
        Exposure times of the kept darks; `None` if no darks are planned.

    Returns
    -------
    warnings : `list` [`str`]
        One warning naming ``exp_times_dark`` and the time that would be
        right, or none. Not a refusal: the run is still possible, its
        defects are not to be trusted.
    """
    if not values["do_defects"] or not dark_times:
        return []
    short = sorted({t for t in dark_times if t < MIN_DEFECT_DARK_TIME})
    if not short:
        return []
    return [
        f"do_defects: true with darks of [{format_times(short)}] s: the defect finder flags pixels above "
        f"3 e-/s as hot, and in darks shorter than {MIN_DEFECT_DARK_TIME:g} s the read noise alone does in "
        f"so many pixels that whole columns are flagged, so the measured hot pixels will be mostly noise; "
        f"set exp_times_dark to {MIN_DEFECT_DARK_TIME:g} s or more (e.g. exp_times_dark: 10)."
    ]


MIN_PTC_PAIRS = 4
"""Flat pairs a PTC needs at least: cpPtcSolve's ``minNumberPairs`` (its fit has three parameters)."""

MIN_PTC_TIMES = 3
"""Distinct exposure times of flat pairs a PTC needs at least."""


def ptc_pairs(values: Config, flat_times: Sequence[float] | None) -> list[ConfigProblem]:
    """The PTC needs the kept flats in consecutive pairs of equal time: 4 or more, at 3 or more times."""
    if not values["do_ptc"] or flat_times is None:
        return []
    pairs, unpaired = pair_flats(flat_times)
    levels = {flat_times[i] for i, _ in pairs}
    if not unpaired and len(levels) >= MIN_PTC_TIMES and len(pairs) >= MIN_PTC_PAIRS:
        return []
    return [
        ConfigProblem(
            "do_ptc: true needs the flats in pairs of equal exposure time (consecutive), at least "
            f"{MIN_PTC_PAIRS} pairs (cpPtcSolve's minNumberPairs) at {MIN_PTC_TIMES} or more distinct "
            f"times, but exp_times_flat gives [{format_times(flat_times)}] for the "
            f"{len(flat_times)} kept flats ({len(pairs)} pairs, {len(levels)} distinct times"
            + (f", flats {', '.join(str(i + 1) for i in unpaired)} unpaired" if unpaired else "")
            + "): give e.g. exp_times_flat: [1, 1, 2, 2, 4, 4, 8, 8] with n_flat: 8.",
            option="do_ptc",
        )
    ]


def gain_pairs(
    values: Config, explicit: Collection[str], flat_times: Sequence[float] | None
) -> tuple[str, list[ConfigProblem], list[str]]:
    """Whether and how gains are measured from flat pairs.

    Returns
    -------
    gain_step : `str`
        "GAIN" (the gain pipeline), "PTC" (the PTC job's extracts give the
        gains) or "" (no gains).
    problems : `list` [`ConfigProblem`]
        An explicit ``do_gain_from_flat_pairs: true`` that cannot apply.
    notes : `list` [`str`]
        A default that does not apply is dropped with a note; unpaired flats.
    """
    option = "do_gain_from_flat_pairs"
    if not values[option]:
        return "", [], []
    mode = values["script_mode"]
    if flat_times is None:
        if mode == _FULL_MODE:
            return "", [], []  # the flats could not be planned: that problem is reported
        if option in explicit:
            problem = ConfigProblem(
                f"{option}: true needs script_mode {_FULL_MODE} (gains come from flat pairs), not {mode}: "
                f"set script_mode: {_FULL_MODE} or {option}: false.",
                option=option,
            )
            return "", [problem], []
        return "", [], [f"{option} (default true) dropped: script_mode {mode} takes no flats."]
    pairs, unpaired = pair_flats(flat_times)
    if not pairs:
        if option in explicit:
            problem = ConfigProblem(
                f"{option}: true needs at least one pair of consecutive flats with the same exposure time, "
                f"but exp_times_flat gives [{format_times(flat_times)}]: repeat a time, e.g. "
                "exp_times_flat: [1.2, 1.2].",
                option=option,
            )
            return "", [problem], []
        return (
            "",
            [],
            [
                f"{option} (default true) dropped: no two consecutive flats have the same exposure time "
                f"([{format_times(flat_times)}])."
            ],
        )
    notes = []
    if unpaired:
        notes.append(
            f"Gains from {len(pairs)} flat pair(s); flat(s) "
            + ", ".join(f"{i + 1} ({flat_times[i]:g} s)" for i in unpaired)
            + " are taken but in no pair, so unused for the gain."
        )
    if values["do_ptc"]:
        notes.append(
            "Gains are read from the PTC job's cpPtcExtract (the gain pipeline is a subset of the PTC "
            "pipeline, so it is not run separately)."
        )
        return CalibrationProduct.PTC, [], notes
    return CalibrationProduct.GAIN, [], notes


def pipeline_options(values: Config) -> tuple[dict[str, tuple[str, ...]], list[ConfigProblem]]:
    """Parse every ``config_options_*`` (`parse_config_options`); by option name."""
    options: dict[str, tuple[str, ...]] = {}
    problems = []
    for name in _option_names(values, "config_options_"):
        try:
            options[name] = parse_config_options(name, values[name])
        except ValueError as e:
            problems.append(ConfigProblem(str(e), option=name))
            options[name] = ()
    return options, problems


def input_collections(values: Config) -> tuple[dict[str, tuple[str, ...]], list[ConfigProblem]]:
    """Split every ``input_collections_*`` on commas and check the names; by option name."""
    inputs: dict[str, tuple[str, ...]] = {}
    problems = []
    for name in _option_names(values, "input_collections_"):
        text = str(values[name])
        names = tuple(part.strip() for part in text.split(",")) if text.strip() else ()
        inputs[name] = names
        for part in names:
            if not _COLLECTION_NAME.match(part):
                problems.append(
                    ConfigProblem(
                        f"{name}={text!r}: {part!r} is not a valid collection name: give comma-separated "
                        "names made of letters, digits and _ . + @ - separated by single slashes, e.g. "
                        '"u/me/2024OCT24.1,LSSTComCam/calib".',
                        option=name,
                    )
                )
    return inputs, problems


def calib_collection(values: Config, instrument: str) -> tuple[str, list[ConfigProblem]]:
    """The CALIBRATION collection to certify into: a valid name, not the chained or raw collection."""
    name = str(values["calib_collection"]).strip()
    option = "calib_collection"
    if not _COLLECTION_NAME.match(name):
        message = (
            f"calib_collection={values[option]!r} is not a valid collection name: use letters, digits and "
            f"_ . + @ - separated by single slashes, e.g. {instrument}/calib/daily."
        )
        return name, [ConfigProblem(message, option=option)]
    if name in (f"{instrument}/calib", f"{instrument}/raw/all"):
        what = "chained calibration" if name.endswith("calib") else "raw"
        message = (
            f"calib_collection={name!r} is the {what} collection, not a CALIBRATION collection to certify "
            f"into: use e.g. {instrument}/calib/daily or {instrument}/calib/u/<you>/<date>.1."
        )
        return name, [ConfigProblem(message, option=option)]
    return name, []


def validity_range(values: Config) -> tuple[str | None, str | None, list[ConfigProblem]]:
    """The validity range of the certified calibrations: ISO dates (TAI), begin before end."""
    problems: list[ConfigProblem] = []
    begin = _parse_date(values, "certify_calib_begin_date", problems)
    end = _parse_date(values, "certify_calib_end_date", problems)
    if begin is not None and end is not None and not begin < end:
        problems.append(
            ConfigProblem(
                f"certify_calib_begin_date={values['certify_calib_begin_date']} must be before "
                f"certify_calib_end_date={values['certify_calib_end_date']}: give a begin date earlier than "
                "the end date (e.g. 2022-11-04 and 2022-11-05).",
                option="certify_calib_begin_date",
            )
        )
    return (
        _iso(begin) if begin is not None else None,
        _iso(end) if end is not None else None,
        problems,
    )


# Why an explicit option cannot apply, and the fix.
_CANNOT_APPLY: dict[str, tuple[str, str]] = {
    "certify": ("nothing is certified", "set generate_calibrations: true (or do_defects / do_ptc: true)"),
    "defects": ("do_defects is false", "set do_defects: true"),
    "ptc": (
        "neither do_ptc nor do_gain_from_flat_pairs runs",
        "set do_ptc: true or do_gain_from_flat_pairs: true with flat pairs",
    ),
    "generate": ("generate_calibrations is false", "set generate_calibrations: true"),
    "verify": ("do_verify is false", "set do_verify: true"),
}


def inapplicable_options(
    values: Config,
    explicit: Collection[str],
    graph: ProcessingGraph,
    gain_step: str,
    already: Collection[str] = (),
) -> list[ConfigProblem]:
    """Explicit options that cannot apply to this run (options in ``already`` have their problem)."""
    certifies = graph.certifies
    ptc = bool(values["do_ptc"]) or bool(gain_step)
    cannot: list[tuple[str, str]] = [
        ("calib_collection", "certify" if not certifies else ""),
        ("certify_calib_begin_date", "certify" if not certifies else ""),
        ("certify_calib_end_date", "certify" if not certifies else ""),
    ]
    for product, runs, why in (
        (CalibrationProduct.DEFECTS, bool(values["do_defects"]), "defects"),
        (CalibrationProduct.PTC, ptc, "ptc"),
    ):
        for name in (product.config_options_option, product.input_collections_option):
            cannot.append((name, why if not runs else ""))
    for image_type in ImageType.calibration_types():
        names = image_type.options
        cannot.append((names.input_collections, "generate" if not values["generate_calibrations"] else ""))
        cannot.append((names.input_collections_verify, "verify" if not values["do_verify"] else ""))
        cannot.append((names.verification_threshold, "verify" if not values["do_verify"] else ""))
    problems = []
    for name, reason in cannot:
        if reason and name in explicit and name not in already:
            why, fix = _CANNOT_APPLY[reason]
            problems.append(
                ConfigProblem(
                    f"{name} is set but cannot apply because {why}: {fix}, or remove {name}.", option=name
                )
            )
    return problems


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


def _option_names(values: Config, prefix: str) -> list[str]:
    return [name for name in values if name.startswith(prefix)]


def _parse_date(values: Config, option: str, problems: list[ConfigProblem]) -> datetime.datetime | None:
    """Parse a date option (text or a YAML date); record a problem if bad."""
    value = values[option]
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day)
    try:
        return datetime.datetime.fromisoformat(str(value).strip())
    except ValueError:
        problems.append(
            ConfigProblem(
                f"{option}={value!r} is not a valid ISO date: write it as YYYY-MM-DD, e.g. 2022-11-04 "
                "(quoted or not).",
                option=option,
            )
        )
        return None


def _iso(value: datetime.datetime) -> str:
    if value.time() == datetime.time(0):
        return value.date().isoformat()
    return value.isoformat()
