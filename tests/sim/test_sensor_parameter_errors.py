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

"""Sensor-model parameters refused with the parameter named and what would
be right: names, vendors, per-amplifier overrides and drift, the
reference night; and the unknown instrument or night asked of a model."""

from typing import Any

import pytest

from lsst.ts.calibrations.sim.sensor_parameters import SensorParameters


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"name": 3}, "parameter name must be a string, not 3."),
        (
            {"defects": {"hot_pixels": 100001}},
            "parameter defects.hot_pixels = 100001 is out of range: it must be in [0, 100000].",
        ),
        (
            {"flat": {"flux": []}},
            "parameter flat.flux must map physical filter names to fluxes in e-/s, not [].",
        ),
        (
            {"overrides": ["R22_S11"]},
            "parameter overrides must map detector names to amplifiers, not ['R22_S11'].",
        ),
        (
            {"overrides": {"R22_S11": 1.2}},
            "parameter overrides.R22_S11 must map amplifier names to values, not 1.2.",
        ),
        (
            {"overrides": {"R22_S11": {"C10": 1.2}}},
            "parameter overrides.R22_S11.C10 must map value names to numbers, not 1.2.",
        ),
        (
            {"vendors": ["ITL"]},
            "parameter vendors must map sensor vendors (ITL, E2V) to parameters, not ['ITL'].",
        ),
        ({"vendors": {"STA": {}}}, "parameter vendors.STA is not a vendor; use one of ITL, E2V."),
        ({"vendors": {"ITL": 1}}, "parameter vendors.ITL must be a mapping of parameters, not 1."),
        (
            {"vendors": {"ITL": {"overrides": {}}}},
            "parameter vendors.ITL.overrides cannot be set per vendor.",
        ),
        (
            {"vendors": {"E2V": {"gain": {"scatter": 0.5}}}},
            "Sensor model bad.yaml [vendors.E2V]: parameter gain.scatter = 0.5 is out of range: "
            "it must be in [0, 0.2].",
        ),
        (
            {"drift": {"amps": {"R22_S11": {"C10": [0.01]}}}},
            "parameter drift.amps.R22_S11.C10 must map quantities to fractional changes per day, not [0.01].",
        ),
        (
            {"drift": {"reference_day_obs": 20241340}},
            "parameter drift.reference_day_obs = 20241340 must be a day_obs, an integer date YYYYMMDD.",
        ),
    ],
)
def test_bad_parameters_are_named(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        SensorParameters(values, source="bad.yaml")
    assert str(info.value).endswith(message)
    assert str(info.value).startswith("Sensor model bad.yaml")


def test_unknown_instrument_and_night() -> None:
    with pytest.raises(ValueError) as info:
        SensorParameters.default_path("LSSTCamImSim")
    assert str(info.value) == "Unknown instrument 'LSSTCamImSim': use one of LSSTComCam, LSSTCam, LATISS."
    parameters = SensorParameters({"drift": {"reference_day_obs": 20241020}})
    assert parameters.drift_days(20241024) == 4
    assert parameters.drift_days(None) == 0
    with pytest.raises(ValueError) as info:
        parameters.drift_days(20241032)
    assert str(info.value) == "day_obs=20241032 must be a date YYYYMMDD."
