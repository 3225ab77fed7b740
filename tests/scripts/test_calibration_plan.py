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

"""CalibrationPlan: the procedure document's examples and each configure-time rule."""

import datetime
import types

import pytest

from lsst.ts.calibrations.sal import DefaultingValidator
from lsst.ts.calibrations.sal.config_problem import ConfigProblem
from lsst.ts.calibrations.sal.config_yaml import read_and_validate_config
from lsst.ts.calibrations.scripts import MakeComCamCalibrations
from lsst.ts.calibrations.scripts.calibration_plan import CalibrationPlan
from lsst.ts.calibrations.scripts.plan_rules import MIN_DEFECT_DARK_TIME, resolve_filter

# The script's schema, validated once as BaseScript.do_configure does.
VALIDATOR = DefaultingValidator(MakeComCamCalibrations.get_schema())


def review(text: str) -> tuple[CalibrationPlan | None, list[ConfigProblem]]:
    """Read, validate and plan the YAML as configure does; every problem found."""
    config, explicit, problems = read_and_validate_config(text, VALIDATOR)
    assert config is not None, problems
    plan, more = CalibrationPlan.build(config, explicit_keys=explicit, skip=ConfigProblem.options(problems))
    return plan, problems + more


def plan_of(text: str) -> CalibrationPlan:
    """The plan of a configuration that has no problem."""
    plan, problems = review(text)
    assert not problems, ConfigProblem.describe_all(problems)
    assert plan is not None
    return plan


def refused(text: str) -> str:
    """The one answer refusing a configuration: every problem."""
    plan, problems = review(text)
    assert problems, f"accepted: {plan}"
    return ConfigProblem.describe_all(problems)


def validated(config: dict) -> dict:
    return VALIDATOR.validate(config)


# ----------------------------------------------------------------------
# The procedure document's examples.

INTERNAL_VERIFICATION = """
generate_calibrations: True
calibration_collection: LSSTComCam/calib/daily/calib.2022NOV04.1
certify_calib_begin_date: "2022-11-04"
certify_calib_begin_date: "2022-11-05"
"""

PTC_EXAMPLE = """
script_mode: BIAS_DARK_FLAT
n_flat: 14
exp_times_flat: [5, 5, 10, 10, 15, 15, 20, 20, 25, 25, 30, 30, 35, 35]
filter: ${FILTER_NAME_OR_ID}
generate_calibrations=True
calib_collection: "LSSTComCam/calib/daily/calibs.2022NOV04.1"
certify_calib_begin_date: "2022-11-04"
certify_calib_end_date: "2022-11-05"
do_defects: True
do_ptc: True
"""

ANOTHER_EXAMPLE = """
n_bias: 6
n_dark: 6
exp_times_dark: [5, 5, 5, 10, 15, 20]
n_flat: 14
exp_times_flat: [0.1, 0.1, 0.35, 0.35, 0.6, 0.6, 0.8, 0.8, 1.0, 1.0, 1.35, 1.35, 1.6, 1.6]
calib_collection: "LSSTComCam/calib/u/plazas/daily.2021SEP13.test1"
do_verify: True
input_collections_verify_bias: "LSSTComCam/calib/u/plazas/2021SEP16.1,LSSTComCam/calib"
input_collections_verify_dark: "LSSTComCam/calib/u/plazas/2021SEP16.1,LSSTComCam/calib"
input_collections_verify_flat: "LSSTComCam/calib/u/plazas/2021SEP16.1,LSSTComCam/calib"
certify_calib_begin_date: "2021-07-15"
certify_calib_end_date: "2021-07-17"
script_mode: BIAS_DARK_FLAT
do_defects: True
do_ptc: True
"""


def test_daily_default() -> None:
    plan = plan_of("")
    assert plan.image_types == ("BIAS", "DARK", "FLAT")
    for sequence in plan.sequences:
        assert (sequence.n, sequence.n_discard, sequence.total) == (20, 1, 21)
    assert plan.sequence("BIAS").exposure_times == (0.0,) * 21
    assert plan.sequence("DARK").exposure_times == (5.0,) * 21
    assert plan.sequence("FLAT").exposure_times == (5.0,) * 21
    assert [step.name for step in plan.steps] == ["BIAS", "DARK", "FLAT", "GAIN"]
    for step in plan.steps[:3]:
        assert step.jobs == ("verify",) and step.verification == "external" and not step.certify
        assert step.verify_input_collections == ("LSSTComCam/calib",)
        assert step.verification_threshold == 8 and step.after == ()
    assert plan.step("BIAS").verify_pipeline == "${CP_VERIFY_DIR}/pipelines/LSSTComCam/verifyBias.yaml"
    assert plan.step("FLAT").verify_stats_dataset == "verifyFlatStats"
    assert plan.step("FLAT").verify_config_options == ("-c", "isr:doDefect=False")
    gain = plan.step("GAIN")
    assert gain.pipeline == "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpPtc.yaml#generateGainFromFlatPair"
    assert gain.config_options == ("-c", "isr:doCrosstalk=False") and gain.report_gains
    assert plan.gain_step == "GAIN" and len(plan.gain_pairs) == 10 and plan.unpaired_flats == ()
    assert plan.detectors == tuple(range(9)) and plan.filter is None
    assert not any(step.certify for step in plan.steps)
    assert plan.notes == (
        "Nothing is certified in this run (generate_calibrations is false and no defects or PTC).",
    )
    assert (plan.repo, plan.n_processes, plan.oods_timeout) == ("/repo/LSSTComCam", 8, 120.0)


def test_exposure_times_example() -> None:
    message = refused("exp_times_dark: 20\nexp_times_flats: 30\n")
    assert message == (
        "1 configuration problem(s): (1) line 2: 'exp_times_flats' is not an option: did you mean "
        "exp_times_flat instead of exp_times_flats?"
    )
    plan = plan_of("exp_times_dark: 20\nexp_times_flat: 30\n")
    assert plan.sequence("DARK").exposure_times == (20.0,) * 21
    assert plan.sequence("FLAT").exposure_times == (30.0,) * 21


def test_numbers_and_times_example() -> None:
    plan = plan_of(
        "n_bias: 30\nn_dark: 5\nexp_times_dark: [5, 10, 15, 20, 25]\nn_flat: 10\n"
        "exp_times_flat: [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]\n"
    )
    assert plan.sequence("BIAS").total == 31
    # Lists of length n: the discarded image reuses the first time.
    assert plan.sequence("DARK").exposure_times == (5, 5, 10, 15, 20, 25)
    assert plan.sequence("DARK").kept_times == (5, 10, 15, 20, 25)
    assert plan.sequence("FLAT").exposure_times == (5, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50)
    # No two flats share a time: the default gain is dropped with a note.
    assert plan.gain_step == "" and "GAIN" not in [step.name for step in plan.steps]
    assert any(note.startswith("do_gain_from_flat_pairs (default true) dropped") for note in plan.notes)


def test_internal_verification_example_as_written() -> None:
    # Both slips of the example in one answer: the repeated date and the unknown option, with lines.
    message = refused(INTERNAL_VERIFICATION)
    assert message.startswith("2 configuration problem(s): ")
    assert (
        "(1) line 5: duplicate key 'certify_calib_begin_date' (first on line 4, again on line 5)" in message
    )
    assert (
        "(2) line 3: 'calibration_collection' is not an option: did you mean calib_collection instead of "
        "calibration_collection?" in message
    )
    # With the date fixed, only the unknown option is left.
    text = INTERNAL_VERIFICATION.replace(
        'certify_calib_begin_date: "2022-11-05"', 'certify_calib_end_date: "2022-11-05"'
    )
    message = refused(text)
    assert message.startswith("1 configuration problem(s)")
    assert "did you mean calib_collection instead of calibration_collection?" in message


def test_internal_verification_example_corrected() -> None:
    text = INTERNAL_VERIFICATION.replace("calibration_collection", "calib_collection").replace(
        'certify_calib_begin_date: "2022-11-05"', "certify_calib_end_date: 2022-11-05"
    )
    plan = plan_of(text)
    calib = "LSSTComCam/calib/daily/calib.2022NOV04.1"
    assert (plan.calib_collection, plan.certify_begin, plan.certify_end) == (
        calib,
        "2022-11-04",
        "2022-11-05",
    )
    bias, dark, flat = (plan.step(name) for name in ("BIAS", "DARK", "FLAT"))
    for step in (bias, dark, flat):
        assert step.jobs == ("generate", "verify") and step.certify and step.verification == "internal"
        assert step.config_options == ("-c", "isr:doDefect=False")
    assert bias.pipeline == "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml"
    assert (bias.after, dark.after, flat.after) == ((), ("BIAS",), ("BIAS", "DARK"))
    assert bias.input_collections == ("LSSTComCam/calib",)
    assert dark.input_collections == (calib, "LSSTComCam/calib")
    assert plan.dependents("BIAS") == ("DARK", "FLAT")
    assert plan.dependents("DARK") == ("FLAT",)
    assert plan.dependents("GAIN") == ()


def test_ptc_example_as_written() -> None:
    # Both slips of the example in one answer: the line without a colon and the placeholder filter.
    message = refused(PTC_EXAMPLE)
    assert message.startswith(
        "2 configuration problem(s): (1) line 6: 'generate_calibrations=True' is not an option"
    )
    assert (
        "each option is written `key: value`" in message and "write `generate_calibrations: True`" in message
    )
    assert "(2) filter='${FILTER_NAME_OR_ID}' is the procedure document's placeholder" in message
    # With the colon fixed, the placeholder filter is refused.
    message = refused(PTC_EXAMPLE.replace("generate_calibrations=True", "generate_calibrations: True"))
    assert message.startswith("1 configuration problem(s)")
    assert "filter='${FILTER_NAME_OR_ID}' is the procedure document's placeholder" in message


@pytest.mark.parametrize("filter_value, expected", [("r_03", "r_03"), ("2", 2)])
def test_ptc_example_corrected(filter_value: str, expected: str | int) -> None:
    text = PTC_EXAMPLE.replace("generate_calibrations=True", "generate_calibrations: True").replace(
        "${FILTER_NAME_OR_ID}", filter_value
    )
    plan = plan_of(text)
    assert plan.filter == expected
    assert [step.name for step in plan.steps] == ["BIAS", "DARK", "FLAT", "DEFECTS", "PTC"]
    defects, ptc = plan.step("DEFECTS"), plan.step("PTC")
    assert defects.images == ("DARK", "FLAT") and defects.after == ("BIAS",) and defects.certify
    assert defects.pipeline.endswith("/findDefects.yaml") and defects.dataset_type == "defects"
    assert ptc.images == ("FLAT",) and ptc.certify and ptc.report_gains and ptc.jobs == ("generate",)
    assert plan.gain_step == "PTC" and len(plan.gain_pairs) == 7
    assert plan.flat_pair_times == (5, 10, 15, 20, 25, 30, 35)
    # The discarded flat reuses the first time.
    assert plan.sequence("FLAT").exposure_times[:2] == (5.0, 5.0)
    assert plan.dependents("BIAS") == ("DARK", "FLAT", "DEFECTS")


def test_another_example() -> None:
    plan = plan_of(ANOTHER_EXAMPLE)
    assert plan.sequence("DARK").exposure_times == (5, 5, 5, 5, 10, 15, 20)
    for name in ("BIAS", "DARK", "FLAT"):
        step = plan.step(name)
        assert step.jobs == ("verify",) and step.verification == "external" and not step.certify
        assert step.verify_input_collections == ("LSSTComCam/calib/u/plazas/2021SEP16.1", "LSSTComCam/calib")
    # Defects and PTC are made and certified; their inputs are the default LSSTComCam/calib.
    for name in ("DEFECTS", "PTC"):
        step = plan.step(name)
        assert step.certify and step.after == () and step.input_collections == ("LSSTComCam/calib",)
    assert plan.calib_collection == "LSSTComCam/calib/u/plazas/daily.2021SEP13.test1"
    assert (plan.certify_begin, plan.certify_end) == ("2021-07-15", "2021-07-17")


def test_notes_gain_example() -> None:
    # As written in the notes: only the list (n_flat follows it).
    plan = plan_of("exp_times_flat: [0.1, 0.1, 0.35, 0.35, 0.6, 0.6, 1, 1.5, 1.7, 2.1, 2.3]\n")
    assert plan.sequence("FLAT").n == 11
    assert plan.gain_pairs == ((0, 1), (2, 3), (4, 5))
    assert plan.flat_pair_times == (0.1, 0.35, 0.6)
    assert plan.unpaired_flats == (6, 7, 8, 9, 10)
    assert any(
        "7 (1 s), 8 (1.5 s), 9 (1.7 s), 10 (2.1 s), 11 (2.3 s) are taken but in no pair" in n
        for n in plan.notes
    )
    # The note's snippet gives only the list: n_flat, left at its default, follows its length.
    plan = plan_of("exp_times_flat: [1.2, 1.2]\n")
    assert plan.gain_pairs == ((0, 1),) and plan.sequence("FLAT").exposure_times == (1.2, 1.2, 1.2)
    assert (
        "n_flat is 2, the number of entries of exp_times_flat (n_flat was left at its default, 20, so it "
        "follows the list); 1 more flat taken first and discarded, at 1.2 s." in plan.notes
    )
    assert plan_of("n_flat: 2\nexp_times_flat: [1.2, 1.2]\n").sequences == plan.sequences
    # An n_flat written explicitly that disagrees with the list is refused.
    message = refused("n_flat: 20\nexp_times_flat: [1.2, 1.2]\n")
    assert (
        "exp_times_flat has 2 entries" in message and "20 (n_flat) or 21 (n_flat + n_discard_flat" in message
    )


# ----------------------------------------------------------------------
# Rules.


def test_exposure_time_list_lengths() -> None:
    plan = plan_of("n_dark: 3\nn_discard_dark: 2\nexp_times_dark: [1, 2, 3, 4, 5]\n")
    assert plan.sequence("DARK").discard_times == (1, 2) and plan.sequence("DARK").kept_times == (3, 4, 5)
    plan = plan_of("n_dark: 3\nn_discard_dark: 2\nexp_times_dark: [3, 4, 5]\n")
    assert plan.sequence("DARK").exposure_times == (3, 3, 3, 4, 5)
    message = refused("n_dark: 3\nn_discard_dark: 2\nexp_times_dark: [1, 2, 3, 4]\n")
    assert message.startswith("1 configuration problem(s): (1) exp_times_dark has 4 entries")
    assert "3 (n_dark) or 5 (n_dark + n_discard_dark, the first 2 for the discarded images)" in message
    message = refused("n_dark: 3\nn_discard_dark: 0\nexp_times_dark: [1, 2]\n")
    assert "a list of 3 entries" in message


def test_ptc_needs_pairs_and_three_levels() -> None:
    base = "do_ptc: true\nn_flat: {n}\nexp_times_flat: {times}\n"
    message = refused(base.format(n=4, times="[1, 1, 2, 2]"))
    assert "do_ptc: true needs the flats in pairs" in message and "2 distinct times" in message
    message = refused(base.format(n=7, times="[1, 1, 2, 2, 3, 3, 4]"))
    assert "flats 7 unpaired" in message
    message = refused(base.format(n=6, times="[1, 2, 1, 2, 3, 3]"))
    assert "1 pairs" in message
    # Three pairs at three times: cpPtcSolve would refuse them (minNumberPairs 4), so configure does.
    message = refused(base.format(n=6, times="[1, 1, 2, 2, 3, 3]"))
    assert (
        "at least 4 pairs (cpPtcSolve's minNumberPairs)" in message
        and "(3 pairs, 3 distinct times)" in message
    )
    assert plan_of(base.format(n=8, times="[1, 1, 2, 2, 3, 3, 3, 3]")).step("PTC").certify
    # Left at its default (false), a PTC is not required.
    assert "PTC" not in [s.name for s in plan_of("n_flat: 3\nexp_times_flat: [1, 2, 3]\n").steps]


def test_defects_with_short_darks_warn() -> None:
    # The defect finder's 3 e-/s rule flags read noise in whole columns in darks shorter than 8 s.
    assert MIN_DEFECT_DARK_TIME == 8.0
    plan = plan_of("do_defects: true\nexp_times_dark: 2\n")
    assert plan.step("DEFECTS").certify
    (warning,) = plan.warnings
    assert "do_defects: true with darks of [2] s" in warning
    assert "set exp_times_dark to 8 s or more" in warning
    assert "  warning: do_defects: true" in plan.describe() and plan.to_dict()["warnings"] == [warning]
    # The procedure document's example: its 5 s darks are named, the 10 to 20 s ones are not.
    (warning,) = plan_of(ANOTHER_EXAMPLE).warnings
    assert "darks of [5] s" in warning
    # Long enough, without defects, or without darks: nothing to say.
    assert plan_of("do_defects: true\nexp_times_dark: [8, 30]\n").warnings == ()
    assert plan_of("exp_times_dark: 2\n").warnings == ()
    assert plan_of("script_mode: BIAS\n").warnings == ()


def test_defaults_dropped_explicit_refused() -> None:
    plan = plan_of("script_mode: BIAS_DARK\n")
    assert plan.image_types == ("BIAS", "DARK") and plan.gain_step == ""
    assert (
        "do_gain_from_flat_pairs (default true) dropped: script_mode BIAS_DARK takes no flats." in plan.notes
    )
    message = refused("script_mode: BIAS_DARK\ndo_gain_from_flat_pairs: true\n")
    assert "do_gain_from_flat_pairs: true needs script_mode BIAS_DARK_FLAT" in message
    message = refused("script_mode: BIAS_DARK\ndo_ptc: true\n")
    assert "do_ptc: true needs script_mode BIAS_DARK_FLAT" in message
    message = refused("script_mode: DARK\ndo_defects: true\n")
    assert "do_defects: true needs script_mode BIAS_DARK_FLAT (it uses darks and flats), not DARK" in message
    message = refused("n_flat: 3\nexp_times_flat: [1, 2, 3]\ndo_gain_from_flat_pairs: true\n")
    assert "do_gain_from_flat_pairs: true needs at least one pair" in message
    # Explicit false is always fine.
    plan = plan_of("script_mode: BIAS\ndo_gain_from_flat_pairs: false\ndo_ptc: false\n")
    assert plan.notes[-1].startswith("Nothing is certified")


def test_options_of_image_types_not_taken() -> None:
    message = refused("script_mode: BIAS\nn_dark: 3\nexp_times_flat: 2\nfilter: r_03\n")
    assert "(1) n_dark is set but script_mode BIAS takes no dark images" in message
    assert "exp_times_flat is set but script_mode BIAS takes no flat images" in message
    assert "filter is set but script_mode BIAS takes no flats" in message
    assert message.startswith("3 configuration problem(s)")
    plan = plan_of("script_mode: DARK\nn_dark: 2\n")
    assert plan.image_types == ("DARK",) and plan.sequence("DARK").total == 3


def test_explicit_options_that_cannot_apply() -> None:
    message = refused("calib_collection: u/me/x\n")
    assert "calib_collection is set but cannot apply because nothing is certified" in message
    message = refused("do_verify: false\ninput_collections_verify_bias: LSSTComCam/calib\n")
    assert "input_collections_verify_bias is set but cannot apply because do_verify is false" in message
    message = refused("input_collections_dark: LSSTComCam/calib\n")
    assert "input_collections_dark is set but cannot apply because generate_calibrations is false" in message
    message = refused("config_options_defects: -c isr:doBias=True\n")
    assert "config_options_defects is set but cannot apply because do_defects is false" in message
    plan = plan_of("do_verify: false\n")
    assert [s.name for s in plan.steps] == ["GAIN"]
    plan = plan_of("do_verify: false\ndo_gain_from_flat_pairs: false\n")
    assert plan.steps == () and plan.notes[0].startswith("No processing")


def test_generate_without_verify() -> None:
    plan = plan_of("generate_calibrations: true\ndo_verify: false\ncalib_collection: u/me/calib.1\n")
    for name in ("BIAS", "DARK", "FLAT"):
        assert plan.step(name).jobs == ("generate",) and plan.step(name).certify
        assert plan.step(name).verify_pipeline == ""


def test_dates() -> None:
    text = "generate_calibrations: true\ncertify_calib_begin_date: {b}\ncertify_calib_end_date: {e}\n"
    plan = plan_of(text.format(b="2022-11-04", e='"2022-11-05"'))
    assert (plan.certify_begin, plan.certify_end) == ("2022-11-04", "2022-11-05")
    plan = plan_of(text.format(b='"2022-11-04T12:00:00"', e="2022-11-05"))
    assert plan.certify_begin == "2022-11-04T12:00:00"
    message = refused(text.format(b="2022-11-05", e="2022-11-05"))
    assert "certify_calib_begin_date=2022-11-05 must be before certify_calib_end_date=2022-11-05" in message
    message = refused(text.format(b="2022-13-04", e="2023-01-01"))
    assert "certify_calib_begin_date='2022-13-04' is not a valid ISO date" in message
    # A YAML loader that makes dates (not the script's) gives date objects: accepted too.
    config = {
        "generate_calibrations": True,
        "certify_calib_begin_date": datetime.date(2022, 11, 4),
        "certify_calib_end_date": datetime.date(2022, 11, 5),
    }
    plan = CalibrationPlan.from_config({**validated({}), **config})
    assert (plan.certify_begin, plan.certify_end) == ("2022-11-04", "2022-11-05")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('input_collections_verify_bias: "a b,LSSTComCam/calib"', "'a b' is not a valid collection name"),
        ('input_collections_verify_bias: "u/me/x,,LSSTComCam/calib"', "'' is not a valid collection name"),
        ('input_collections_verify_dark: "u//x"', "'u//x' is not a valid collection name"),
        (
            "generate_calibrations: true\ncalib_collection: LSSTComCam/calib",
            "is the chained calibration collection",
        ),
        (
            "generate_calibrations: true\ncalib_collection: /x/",
            "calib_collection='/x/' is not a valid collection",
        ),
    ],
)
def test_collection_names(text: str, fragment: str) -> None:
    assert fragment in refused(text)


def test_collections_split_and_blank() -> None:
    plan = plan_of('input_collections_verify_flat: " u/me/a , LSSTComCam/calib "\n')
    assert plan.step("FLAT").verify_input_collections == ("u/me/a", "LSSTComCam/calib")
    plan = plan_of('input_collections_verify_flat: ""\n')
    assert plan.step("FLAT").verify_input_collections == ()


def test_config_options_checked() -> None:
    message = refused('config_options_bias: "-j 4 -c isr:doDefect=False"\nconfig_options_flat: "-c isr"\n')
    assert "config_options_bias: -j is not allowed: the script sets the number of processes" in message
    assert "config_options_flat: -c 'isr' is not of the form isr:doDefect=False" in message
    plan = plan_of(
        "generate_calibrations: true\n"
        'config_options_dark: "-c isr:doDefect=False '
        '-c cpDarkCombine:maxVisitsToCalcErrorFromInputVariance=5"\n'
    )
    dark = plan.step("DARK")
    assert dark.config_options == (
        "-c",
        "isr:doDefect=False",
        "-c",
        "cpDarkCombine:maxVisitsToCalcErrorFromInputVariance=5",
    )
    # The verification pipeline shares only the isr label.
    assert dark.verify_config_options == ("-c", "isr:doDefect=False")
    plan = plan_of('config_options_bias: " "\n')
    assert plan.step("BIAS").verify_config_options == ()


def test_detectors_and_namespace_config() -> None:
    config = types.SimpleNamespace(**validated({"detectors": [4, 0], "script_mode": "BIAS"}))
    plan = CalibrationPlan.from_config(config, explicit_keys={"detectors", "script_mode"})
    assert plan.detectors == (4, 0) and plan.image_types == ("BIAS",)
    assert plan.config["detectors"] == [4, 0] and plan.explicit_keys == {"detectors", "script_mode"}


def test_resolve_filter() -> None:
    available = ["u_02", "g_01", "r_03"]
    assert resolve_filter("r_03", available) == "r_03"
    assert resolve_filter(1, available) == "g_01"
    assert resolve_filter(None, available) is None
    with pytest.raises(
        ValueError,
        match=r"filter='i_06' is not one of the camera's available filters.*0=u_02, 1=g_01, 2=r_03",
    ):
        resolve_filter("i_06", available)
    with pytest.raises(ValueError, match=r"filter=3 is not an index .* \(0..2\)"):
        resolve_filter(3, available)


def test_graph_readiness_and_duration() -> None:
    plan = plan_of(
        PTC_EXAMPLE.replace("generate_calibrations=True", "generate_calibrations: True").replace(
            "${FILTER_NAME_OR_ID}", "r_03"
        )
    )
    names = lambda steps: [step.name for step in steps]  # noqa: E731
    assert names(plan.steps_ready(taken={"BIAS"}, accepted=set())) == ["BIAS"]
    assert names(plan.steps_ready(taken={"BIAS", "DARK"}, accepted=set(), started={"BIAS"})) == []
    assert names(plan.steps_ready(taken={"BIAS", "DARK"}, accepted={"BIAS"}, started={"BIAS"})) == ["DARK"]
    ready = plan.steps_ready(taken={"BIAS", "DARK", "FLAT"}, accepted={"BIAS"}, started={"BIAS"})
    assert names(ready) == ["DARK", "DEFECTS", "PTC"]
    # Camera time: 21 biases (2 s readout), 21 darks of 5 s, 15 flats (1 s shutter) + readout.
    flats = sum(plan.sequence("FLAT").exposure_times)
    assert plan.camera_time() == pytest.approx(21 * 2 + 21 * 7 + flats + 15 * 3)
    # Tail: FLAT waits for DARK which waits for BIAS: 3 x (generate + verify) jobs.
    assert plan.estimated_duration(job_time=100) == pytest.approx(plan.camera_time() + 600)
    text = plan.describe()
    assert (
        "FLAT from FLAT: generate cpFlat.yaml after BIAS, DARK, verify (internal) verifyFlat.yaml, "
        "certify flat" in text
    )
    assert plan.to_dict()["steps"][0]["name"] == "BIAS"
