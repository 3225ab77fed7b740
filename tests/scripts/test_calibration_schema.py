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

"""The configuration schema: every option of the procedure document with its default."""

import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations.sal import DefaultingValidator
from lsst.ts.calibrations.sal.config_yaml import config_text_hints, load_config_yaml
from lsst.ts.calibrations.scripts.calibration_schema import (
    SCHEMA_ID,
    make_schema,
    schema_yaml,
)

# The procedure document's options and defaults, as it lists them.
DOCUMENTED_DEFAULTS = {
    "script_mode": "BIAS_DARK_FLAT",
    "n_bias": 20,
    "n_discard_bias": 1,
    "n_dark": 20,
    "n_discard_dark": 1,
    "exp_times_dark": 5,
    "n_flat": 20,
    "n_discard_flat": 1,
    "exp_times_flat": 5,
    "detectors": [],
    "do_verify": True,
    "generate_calibrations": False,
    "config_options_bias": "-c isr:doDefect=False",
    "config_options_dark": "-c isr:doDefect=False",
    "config_options_flat": "-c isr:doDefect=False",
    "do_defects": False,
    "config_options_defects": "-c isr:doDefect=False",
    "do_ptc": False,
    "config_options_ptc": "-c isr:doCrosstalk=False",
    "do_gain_from_flat_pairs": True,
    "input_collections_bias": "LSSTComCam/calib",
    "input_collections_verify_bias": "LSSTComCam/calib",
    "input_collections_dark": "LSSTComCam/calib",
    "input_collections_verify_dark": "LSSTComCam/calib",
    "input_collections_flat": "LSSTComCam/calib",
    "input_collections_verify_flat": "LSSTComCam/calib",
    "input_collections_defects": "LSSTComCam/calib",
    "input_collections_ptc": "LSSTComCam/calib",
    "calib_collection": "LSSTComCam/calib/daily",
    "repo": "/repo/LSSTComCam",
    "n_processes": 8,
    "certify_calib_begin_date": "1950-01-01",
    "certify_calib_end_date": "2050-01-01",
    "oods_timeout": 120,
}
EXTRAS = {
    "filter": None,
    "program": "",
    "reason": "",
    "note": "",
    "number_verification_tests_threshold_bias": 8,
    "number_verification_tests_threshold_dark": 8,
    "number_verification_tests_threshold_flat": 8,
    "wait_between_exposures": 0,
    "processing_timeout": 3600,
    "drift_nights": 7,
    "drift_threshold": 4.0,
}


@pytest.fixture(scope="module")
def validator() -> DefaultingValidator:
    return DefaultingValidator(make_schema())


def test_schema_header_and_descriptions() -> None:
    schema = make_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["$id"] == SCHEMA_ID
    assert schema["title"] == "MakeComCamCalibrations v1"
    assert schema["additionalProperties"] is False
    for name, prop in schema["properties"].items():
        assert prop.get("description"), name
        assert "default" in prop, name
    assert set(schema["properties"]) == set(DOCUMENTED_DEFAULTS) | set(EXTRAS)
    assert "DARK" in schema["properties"]["script_mode"]["enum"]
    # A new dict each call.
    schema["properties"].clear()
    assert make_schema()["properties"]


def test_defaults_are_the_documented_ones(validator: DefaultingValidator) -> None:
    config = validator.validate({})
    assert config == {**DOCUMENTED_DEFAULTS, **EXTRAS}


def test_schema_yaml_round_trip() -> None:
    assert yaml.safe_load(schema_yaml()) == make_schema()


@pytest.mark.parametrize(
    "config, message",
    [
        ({"detectors": [0, 9]}, "detectors[1]: 9 is greater than the maximum of 8"),
        ({"detectors": [3, 3]}, "detectors: [3, 3] has non-unique elements"),
        ({"detectors": [-1]}, "detectors[0]"),
        ({"n_bias": None}, "n_bias"),
        ({"n_flat": 0}, "n_flat: 0 is less than the minimum of 1"),
        ({"n_discard_dark": -1}, "n_discard_dark"),
        ({"exp_times_flat": [1, 0.05]}, "exp_times_flat"),
        ({"exp_times_dark": 0}, "exp_times_dark"),
        ({"script_mode": "FLAT"}, "script_mode"),
        ({"certify_calib_begin_date": "Nov 4 2022"}, "certify_calib_begin_date"),
        ({"exp_times_flats": 30}, "did you mean exp_times_flat instead of exp_times_flats?"),
        ({"calibration_collection": "x"}, "did you mean calib_collection instead of calibration_collection?"),
    ],
)
def test_schema_refusals(validator: DefaultingValidator, config: dict, message: str) -> None:
    with pytest.raises(jsonschema.ValidationError, match=message.replace("[", r"\[").replace("?", r"\?")):
        validator.validate(config)


def test_dates_quoted_or_not(validator: DefaultingValidator) -> None:
    config = load_config_yaml('certify_calib_begin_date: 2022-11-04\ncertify_calib_end_date: "2022-11-05"')
    assert config == {"certify_calib_begin_date": "2022-11-04", "certify_calib_end_date": "2022-11-05"}
    validator.validate(config)


def test_key_value_explained() -> None:
    text = "filter: r_03\ngenerate_calibrations=True\nn_bias:30\ncalib_collection: a/b\n"
    assert config_text_hints(text) == [
        "line 2: 'generate_calibrations=True' is not an option: each option is written `key: value`, the "
        "option name, a colon and a space, then the value; write `generate_calibrations: True`",
        "line 3: 'n_bias:30' is not an option: each option is written `key: value`, the option name, a colon "
        "and a space, then the value; write `n_bias: 30`",
    ]
    with pytest.raises(ValueError, match=r"line 2: .*write `generate_calibrations: True`.*line 3") as info:
        load_config_yaml(text)
    assert "line 3" in str(info.value)
    assert config_text_hints("a: 1\n# comment = x\nb: [1,\n  2]\n") == []


def test_duplicate_key_refused() -> None:
    with pytest.raises(ValueError, match="duplicate key 'certify_calib_begin_date'.*line 3, again on line 4"):
        load_config_yaml(
            "generate_calibrations: True\ncalib_collection: a\n"
            'certify_calib_begin_date: "2022-11-04"\ncertify_calib_begin_date: "2022-11-05"\n'
        )


def test_schema_import_does_not_import_the_butler() -> None:
    code = (
        "import sys; from lsst.ts.calibrations.scripts import calibration_schema, calibration_plan; "
        "calibration_schema.schema_yaml(); "
        "bad = [m for m in sys.modules if m.startswith(('lsst.daf.butler', 'lsst.pipe', "
        "'lsst.ts.calibrations.cp', 'lsst.ts.calibrations.sim'))]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=STD_TIMEOUT)


def test_configuration_page_lists_every_option() -> None:
    page = (Path(__file__).parents[2] / "doc" / "scripts" / "configuration.rst").read_text()
    for name, prop in make_schema()["properties"].items():
        assert f"``{name}``" in page, name
        assert prop["description"] in page, name
