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

"""LeftOutExposures: what is left, and whether it can still make each product."""

from lsst.ts.calibrations.sal import DefaultingValidator
from lsst.ts.calibrations.sal.config_yaml import load_config_yaml
from lsst.ts.calibrations.scripts import MakeComCamCalibrations
from lsst.ts.calibrations.scripts.calibration_plan import CalibrationPlan
from lsst.ts.calibrations.scripts.left_out_exposures import LeftOutExposures
from lsst.ts.calibrations.scripts.run_record import RunRecord


def plan_of(text: str) -> CalibrationPlan:
    config = load_config_yaml(text)
    validated = DefaultingValidator(MakeComCamCalibrations.get_schema()).validate(config)
    return CalibrationPlan.from_config(validated, explicit_keys=config.keys())


def test_combining_needs_two_exposures_left() -> None:
    plan = plan_of("script_mode: BIAS_DARK\nn_bias: 3\nn_dark: 2\ngenerate_calibrations: true\n")
    left = LeftOutExposures(plan)
    for exposure in (11, 12, 13):
        left.add_kept("BIAS", exposure)
    bias, dark = plan.step("BIAS"), plan.step("DARK")
    assert left.shortfall(bias) == ""
    assert left.leave_out("BIAS", 12, "not ingested: damaged")
    assert not left.leave_out("BIAS", 12, "again")
    assert left.remaining("BIAS") == [11, 13]
    assert left.shortfall(bias) == "" and left.is_left_out(12) and left.image_type_of(13) == "BIAS"
    left.leave_out("BIAS", 11, "lost")
    assert left.shortfall(bias) == (
        "BIAS exposure(s) 11, 12 left out: 1 of 3 BIAS exposure(s) left, 2 needed to combine"
    )
    # Darks not taken yet count as good.
    assert left.shortfall(dark) == ""
    assert left.describe() == ["BIAS 12: not ingested: damaged", "BIAS 11: lost"]
    assert left.to_dict() == {"BIAS": {12: "not ingested: damaged", 11: "lost"}}


def test_a_single_planned_exposure_and_verification_alone() -> None:
    plan = plan_of("script_mode: BIAS\nn_bias: 1\ngenerate_calibrations: true\n")
    left = LeftOutExposures(plan)
    left.add_kept("BIAS", 5)
    assert left.shortfall(plan.step("BIAS")) == ""
    left.leave_out("BIAS", 5, "lost")
    assert "0 of 1 BIAS exposure(s) left, 1 needed to combine" in left.shortfall(plan.step("BIAS"))
    # External verification needs one exposure.
    verify = plan_of("script_mode: BIAS\nn_bias: 3\n")
    left = LeftOutExposures(verify)
    for exposure in (1, 2, 3):
        left.add_kept("BIAS", exposure)
    left.leave_out("BIAS", 1, "lost")
    left.leave_out("BIAS", 2, "lost")
    assert left.shortfall(verify.step("BIAS")) == ""
    left.leave_out("BIAS", 3, "lost")
    assert "1 needed to verify" in left.shortfall(verify.step("BIAS"))


def test_gains_and_ptc_need_pairs() -> None:
    plan = plan_of(
        "script_mode: BIAS_DARK_FLAT\nn_bias: 2\nn_dark: 2\nexp_times_flat: [1, 1, 2, 2, 4, 4, 4, 4]\n"
        "do_ptc: true\ngenerate_calibrations: true\n"
    )
    left = LeftOutExposures(plan)
    for exposure in range(1, 9):
        left.add_kept("FLAT", exposure)
    ptc = plan.step("PTC")
    # One flat of the 2 s pair gone: its partner is unpaired; 3 pairs left of the 4 needed.
    left.leave_out("FLAT", 3, "lost")
    assert left.shortfall(ptc) == (
        "FLAT exposure(s) 3 left out: 3 pair(s) of consecutive flats of equal exposure time left, "
        "4 needed for the PTC"
    )
    # Enough pairs, too few times: the 1 s pair gone of five pairs.
    plan = plan_of(
        "script_mode: BIAS_DARK_FLAT\nn_bias: 2\nn_dark: 2\nexp_times_flat: [1, 1, 2, 2, 4, 4, 4, 4, 4, 4]\n"
        "do_ptc: true\ngenerate_calibrations: true\n"
    )
    ptc = plan.step("PTC")
    left = LeftOutExposures(plan)
    for exposure in range(1, 11):
        left.add_kept("FLAT", exposure)
    left.leave_out("FLAT", 1, "lost")
    left.leave_out("FLAT", 2, "lost")
    assert "2 distinct exposure time(s) of flat pairs left, 3 needed for the PTC" in left.shortfall(ptc)
    gains = plan_of("script_mode: BIAS_DARK_FLAT\nn_bias: 2\nn_dark: 2\nexp_times_flat: [1, 1, 2, 2]\n")
    left = LeftOutExposures(gains)
    for exposure in range(1, 5):
        left.add_kept("FLAT", exposure)
    left.leave_out("FLAT", 1, "lost")
    assert left.shortfall(gains.step("GAIN")) == ""
    left.leave_out("FLAT", 4, "lost")
    assert "0 pair(s) of consecutive flats of equal exposure time left, 1 needed for the gains" in (
        left.shortfall(gains.step("GAIN"))
    )


def test_run_record_keeps_what_was_left_out() -> None:
    record = RunRecord(
        script="MakeComCamCalibrations",
        index=1,
        exposures_left_out={"BIAS": {2022110400002: "not ingested: damaged"}},
        images_not_taken={"DARK": "DARK cannot be made"},
    )
    again = RunRecord.from_json(record.to_json())
    assert again.exposures_left_out == {"BIAS": {2022110400002: "not ingested: damaged"}}
    assert again.images_not_taken == {"DARK": "DARK cannot be made"}
