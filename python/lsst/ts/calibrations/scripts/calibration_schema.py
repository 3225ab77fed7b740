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

"""The configuration schema of the combined-calibrations scripts.

Public API
----------
``make_schema(instrument="LSSTComCam", ...) -> dict``
    The JSON schema (draft 7) of the configuration: every option of the
    procedure document with its documented default, plus ``DARK`` mode,
    ``program``, ``reason``, ``note``, ``filter``, the verification
    thresholds, ``wait_between_exposures`` and ``processing_timeout``.
    A new dict each call (callers may modify it). The instrument's
    scripts (LSSTCam, LATISS) give their name, detectors and title: the
    collection and repository defaults follow the name
    (``<instrument>/calib``, ``<instrument>/calib/daily``,
    ``/repo/<instrument>``).
``schema_yaml() -> str``
    The same schema as YAML text (what ``make_comcam_calibrations.py 0
    --schema`` prints).

The configuration text is read by the SAL runtime
(`lsst.ts.calibrations.sal.config_yaml.read_config_yaml`) and validated
once, by ``BaseScript.do_configure``, against the script's ``get_schema()``
(this schema plus the reprocessing options for ``MakeComCamCalibrations``):
repeated keys are refused, dates kept as typed, and a line that is not a
``name: value`` pair (the procedure document writes
``generate_calibrations=True``) is explained; every problem is reported in
one answer with the script's own checks.

Constants: ``SCRIPT_MODES``, ``IMAGE_TYPES_BY_MODE``, ``DETECTOR_IDS``,
``DEFAULT_INPUT_COLLECTION``.

This module imports only the standard library, PyYAML and the image types of
``repo`` (which import nothing else): printing the schema never imports the
butler or a pipeline.
"""

__all__ = [
    "DEFAULT_INPUT_COLLECTION",
    "DETECTOR_IDS",
    "IMAGE_TYPES_BY_MODE",
    "SCHEMA_ID",
    "SCRIPT_MODES",
    "make_schema",
    "schema_yaml",
]

import copy
import typing

import yaml

from ..repo.image_type import ImageType

SCHEMA_ID = "https://github.com/lsst-ts/ts_calibrations/blob/main/python/lsst/ts/calibrations/scripts/calibration_schema.py"
"""``$id`` of the configuration schema."""

SCRIPT_MODES: tuple[str, ...] = ("BIAS", "DARK", "BIAS_DARK", "BIAS_DARK_FLAT")
"""Values of ``script_mode``."""

IMAGE_TYPES_BY_MODE: dict[str, tuple[ImageType, ...]] = {
    "BIAS": (ImageType.BIAS,),
    "DARK": (ImageType.DARK,),
    "BIAS_DARK": (ImageType.BIAS, ImageType.DARK),
    "BIAS_DARK_FLAT": (ImageType.BIAS, ImageType.DARK, ImageType.FLAT),
}
"""Image types each ``script_mode`` takes, in the order they are taken."""

DETECTOR_IDS: tuple[int, ...] = tuple(range(9))
"""LSSTComCam detector ids (R22_S00 = 0 ... R22_S22 = 8)."""

DEFAULT_INPUT_COLLECTION = "LSSTComCam/calib"
"""Default of every ``input_collections_*`` option."""

_DEFAULT_ISR_OPTIONS = "-c isr:doDefect=False"
_DEFAULT_PTC_OPTIONS = "-c isr:doCrosstalk=False"

_COLLECTION_LIST_DESCRIPTION = (
    "Comma-separated collections searched, in order, by the {what} (the OCPS adds "
    'LSSTComCam/raw/all itself), e.g. "u/me/2024OCT24,LSSTComCam/calib".'
)

_DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$"

_EXPOSURE_TIME_LIST_DESCRIPTION = (
    "The exposure time (s) of each {kind} image. A single value is used for every image (the "
    "discarded ones included). A list has one entry per image: n_{kind} entries (the "
    "n_discard_{kind} discarded images reuse the first time), or n_{kind} + n_discard_{kind} "
    "entries, the first n_discard_{kind} of them for the discarded images."
)


def _count(description: str, default: int, minimum: int) -> dict[str, typing.Any]:
    return {"description": description, "type": "integer", "minimum": minimum, "default": default}


def _collections(what: str, instrument: str) -> dict[str, typing.Any]:
    return {
        "description": _COLLECTION_LIST_DESCRIPTION.format(what=what).replace("LSSTComCam", instrument),
        "type": "string",
        "default": f"{instrument}/calib",
    }


def _config_options(pipeline: str, default: str) -> dict[str, typing.Any]:
    return {
        "description": (
            f"pipetask configuration options for the {pipeline} pipeline, written as on the command "
            "line and split like a shell would (never run through one): -c label:field=value, "
            "-C/--config-file label:file, --register-dataset-types and the like. The script owns "
            "-b, -i, -o, -p, -d, -j and --output-run; they are refused. Blank for none."
        ),
        "type": "string",
        "default": default,
    }


def _exposure_times(kind: str, minimum_key: str, minimum: float) -> dict[str, typing.Any]:
    item = {"type": "number", minimum_key: minimum}
    return {
        "description": _EXPOSURE_TIME_LIST_DESCRIPTION.format(kind=kind),
        "anyOf": [item, {"type": "array", "items": item, "minItems": 1}],
        "default": 5,
    }


def make_schema(
    instrument: str = "LSSTComCam",
    *,
    detector_ids: typing.Sequence[int] = DETECTOR_IDS,
    detectors_description: str = (
        "Detector ids passed to the pipelines (0..8: R22_S00=0, R22_S01=1, ..., R22_S22=8), "
        "each at most once. Empty: all nine detectors."
    ),
    title: str = "MakeComCamCalibrations v1",
    description: str = (
        "Configuration of make_comcam_calibrations: take biases, darks and flats with ComCam, "
        "generate and verify combined calibrations through the OCPS, certify the accepted ones "
        "and report gains from flat pairs."
    ),
    filter_example: str = "r_03",
) -> dict[str, typing.Any]:
    """Return the JSON schema (draft 7) of the configuration.

    Parameters
    ----------
    instrument : `str`, optional
        Instrument name: the collections' and repository's defaults.
    detector_ids : `~collections.abc.Sequence` [`int`], optional
        Detector ids ``detectors`` may name (items between their minimum
        and maximum).
    detectors_description : `str`, optional
        Description of ``detectors``.
    title, description : `str`, optional
        Title and description of the schema.
    filter_example : `str`, optional
        A physical filter name, for the description of ``filter``.

    Returns
    -------
    schema : `dict` [`str`, `typing.Any`]
        A new schema dict: ``$schema`` draft-07, ``$id`` `SCHEMA_ID`,
        ``title`` "MakeComCamCalibrations v1", every property with a
        ``description`` and a ``default``, ``additionalProperties: false``.
    """
    properties: dict[str, typing.Any] = {
        "script_mode": {
            "description": (
                "Image types to take: biases (BIAS), darks (DARK), biases and darks (BIAS_DARK), or "
                "biases, darks and flats (BIAS_DARK_FLAT, the daily default)."
            ),
            "type": "string",
            "enum": list(SCRIPT_MODES),
            "default": "BIAS_DARK_FLAT",
        },
        "n_bias": _count("Number of biases to take (and keep).", 20, 1),
        "n_discard_bias": _count("Additional biases taken first and discarded (not processed).", 1, 0),
        "n_dark": _count("Number of darks to take (and keep).", 20, 1),
        "n_discard_dark": _count("Additional darks taken first and discarded (not processed).", 1, 0),
        "exp_times_dark": _exposure_times("dark", "exclusiveMinimum", 0),
        "n_flat": _count("Number of flats to take (and keep).", 20, 1),
        "n_discard_flat": _count("Additional flats taken first and discarded (not processed).", 1, 0),
        "exp_times_flat": _exposure_times("flat", "minimum", 0.1),
        "detectors": {
            "description": detectors_description,
            "type": "array",
            "items": {"type": "integer", "minimum": min(detector_ids), "maximum": max(detector_ids)},
            "uniqueItems": True,
            "default": [],
        },
        "filter": {
            "description": (
                "Filter for the flats: a physical filter name from the camera's availableFilters "
                f"(e.g. {filter_example}), or an integer, the 0-based index of the filter in the camera's "
                "availableFilters list. null (the default): leave the filter as it is. Biases and "
                "darks never change the filter."
            ),
            "anyOf": [
                {"type": "string", "minLength": 1},
                {"type": "integer", "minimum": 0},
                {"type": "null"},
            ],
            "default": None,
        },
        "do_verify": {
            "description": "Verify the images taken with cp_verify against combined calibrations.",
            "type": "boolean",
            "default": True,
        },
        "generate_calibrations": {
            "description": (
                "Generate combined calibrations from the images taken, verify against them "
                "(internal verification, with do_verify) and certify the accepted ones into "
                "calib_collection. False: verify against existing calibrations found in the "
                "input_collections_verify_* collections (external verification); nothing is "
                "generated from the biases, darks and flats."
            ),
            "type": "boolean",
            "default": False,
        },
        "config_options_bias": _config_options("cpBias", _DEFAULT_ISR_OPTIONS),
        "config_options_dark": _config_options("cpDark", _DEFAULT_ISR_OPTIONS),
        "config_options_flat": _config_options("cpFlat", _DEFAULT_ISR_OPTIONS),
        "do_defects": {
            "description": "Build defects from the darks and flats; script_mode must be BIAS_DARK_FLAT.",
            "type": "boolean",
            "default": False,
        },
        "config_options_defects": _config_options("findDefects (cpDefects)", _DEFAULT_ISR_OPTIONS),
        "do_ptc": {
            "description": (
                "Build a photon transfer curve from the flats; script_mode must be BIAS_DARK_FLAT and "
                "the flats must come in pairs of equal exposure time, "
                "at least 4 pairs at 3 or more distinct times."
            ),
            "type": "boolean",
            "default": False,
        },
        "config_options_ptc": _config_options(
            "cpPtc (also used for the gain from flat pairs)", _DEFAULT_PTC_OPTIONS
        ),
        "do_gain_from_flat_pairs": {
            "description": (
                "Estimate the gain from each pair of consecutive flats of equal exposure time "
                "(cpPtc.yaml#generateGainFromFlatPair) and report it per exposure pair, detector and "
                "amplifier. Needs script_mode BIAS_DARK_FLAT and at least one pair; unpaired flats "
                "are taken and reported unused. Left at its default, it is dropped (with a note) "
                "when it cannot apply."
            ),
            "type": "boolean",
            "default": True,
        },
        "input_collections_bias": _collections("bias generation pipeline (cpBias)", instrument),
        "input_collections_verify_bias": _collections("bias verification pipeline (verifyBias)", instrument),
        "input_collections_dark": _collections("dark generation pipeline (cpDark)", instrument),
        "input_collections_verify_dark": _collections("dark verification pipeline (verifyDark)", instrument),
        "input_collections_flat": _collections("flat generation pipeline (cpFlat)", instrument),
        "input_collections_verify_flat": _collections("flat verification pipeline (verifyFlat)", instrument),
        "input_collections_defects": _collections("defects pipeline (findDefects)", instrument),
        "input_collections_ptc": _collections("PTC and gain pipeline (cpPtc)", instrument),
        "calib_collection": {
            "description": (
                "CALIBRATION collection the accepted calibrations are certified into, e.g. "
                f"{instrument}/calib/daily or {instrument}/calib/u/plazas/2024OCT24.test. Certifying a "
                "calibration type again with an overlapping validity range is refused: change the "
                "collection or the dates to run again."
            ),
            "type": "string",
            "minLength": 1,
            "default": f"{instrument}/calib/daily",
        },
        "repo": {
            "description": "Butler repository (path or repository-index alias).",
            "type": "string",
            "minLength": 1,
            "default": f"/repo/{instrument}",
        },
        "n_processes": _count("Number of processes each pipetask job uses (pipetask -j).", 8, 1),
        "certify_calib_begin_date": {
            "description": (
                "Beginning (inclusive, TAI) of the validity range of the certified calibrations: an "
                "ISO date such as 2024-10-24, quoted or not."
            ),
            "type": "string",
            "pattern": _DATE_PATTERN,
            "default": "1950-01-01",
        },
        "certify_calib_end_date": {
            "description": (
                "End (exclusive, TAI) of the validity range of the certified calibrations: an ISO date "
                "after certify_calib_begin_date, such as 2024-10-25, quoted or not."
            ),
            "type": "string",
            "pattern": _DATE_PATTERN,
            "default": "2050-01-01",
        },
        "oods_timeout": {
            "description": (
                "Longest time (s) to wait, after each exposure's readout, for the OODS to report every "
                "detector's raw ingested."
            ),
            "type": "number",
            "exclusiveMinimum": 0,
            "default": 120,
        },
        "processing_timeout": {
            "description": "Longest time (s) one OCPS job (generation, verification, PTC, ...) may take.",
            "type": "number",
            "exclusiveMinimum": 0,
            "default": 3600,
        },
        "wait_between_exposures": {
            "description": "Time (s) to wait between exposures (e.g. to let the camera settle).",
            "type": "number",
            "minimum": 0,
            "default": 0,
        },
        "number_verification_tests_threshold_bias": _count(
            "Bias verification threshold T: a test counts against an exposure when it fails at least "
            "T x (n_detectors // 2 + 1) times in that exposure (as many as T failures in each "
            "of a majority of the detectors); the biases fail verification when some test counts "
            "against a majority of the exposures (n_exposures // 2 + 1).",
            8,
            1,
        ),
        "number_verification_tests_threshold_dark": _count(
            "As number_verification_tests_threshold_bias, for the darks.", 8, 1
        ),
        "number_verification_tests_threshold_flat": _count(
            "As number_verification_tests_threshold_bias, for the flats.", 8, 1
        ),
        "drift_nights": _count(
            "Nights of history the end-of-run drift check compares this run's gains, read noise and "
            "dark current with (the latest run of each of the last drift_nights nights in the run "
            "records); at least 3 are needed for a judgement.",
            7,
            1,
        ),
        "drift_threshold": {
            "description": "Drift check threshold, in σ of each amplifier's own history: an amplifier "
            "whose value moved further from the median of its last drift_nights nights is named in a "
            "WARNING, the run record, the report and the summary.",
            "type": "number",
            "exclusiveMinimum": 0,
            "default": 4.0,
        },
        "program": {
            "description": "Program name recorded with every exposure (block metadata); blank for none.",
            "type": "string",
            "default": "",
        },
        "reason": {
            "description": "Reason recorded with every exposure (block metadata); blank for none.",
            "type": "string",
            "default": "",
        },
        "note": {
            "description": "Observer's note recorded with every exposure (obsNote); blank for none.",
            "type": "string",
            "default": "",
        },
    }
    return copy.deepcopy(
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "$id": SCHEMA_ID,
            "title": title,
            "description": description,
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
        }
    )


def schema_yaml() -> str:
    """Return `make_schema` as YAML text (keys in schema order).

    Returns
    -------
    text : `str`
        The schema as a YAML document.
    """
    return yaml.safe_dump(make_schema(), sort_keys=False, width=110)
