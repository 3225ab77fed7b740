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

"""Drift of chosen amplifiers in the sensor model: the truth written with the data and the pixels."""

from pathlib import Path

import numpy as np
import pytest

from lsst.ts.calibrations.repo.raw import read_raw
from lsst.ts.calibrations.sim.make_calibration_set import make_calibration_set
from lsst.ts.calibrations.sim.sensor_model import SensorModel
from lsst.ts.calibrations.sim.sensor_parameters import SensorParameters
from lsst.ts.calibrations.sim.simulation_truth import load_truth

REFERENCE_DAY = 20241001
DRIFT = {
    "reference_day_obs": REFERENCE_DAY,
    "amps": {"R22_S11": {"C10": {"gain": 0.005, "dark_current": -0.02}, "C14": {"read_noise": 0.01}}},
}


def drifting_model(seed: int = 5) -> SensorModel:
    return SensorModel(SensorParameters({"drift": DRIFT}, source="drift-test"), seed)


def write_day(output: Path, model: SensorModel, day_obs: int) -> None:
    make_calibration_set(
        output,
        model=model,
        geometry_name="reduced",
        detectors=["R22_S11"],
        n_bias=1,
        n_dark=0,
        flat_times=(20.0,),
        flats_per_time=1,
        day_obs=day_obs,
    )


def test_truth_written_with_the_data_shows_the_drift(tmp_path: Path) -> None:
    model = drifting_model()
    plain = SensorModel(SensorParameters({}, source="plain"), 5)
    days = {0: REFERENCE_DAY, 10: 20241011, -2: 20240929}
    truths = {}
    for offset, day_obs in days.items():
        write_day(tmp_path / str(offset), model, day_obs)
        truths[offset] = load_truth(tmp_path / str(offset))
        assert truths[offset].day_obs == day_obs
    base = plain.detector_truth("R22_S11", truths[0].geometry).amps
    for offset, truth in truths.items():
        amps = truth.detectors["R22_S11"].amps
        assert amps["C10"].gain == pytest.approx(base["C10"].gain * (1 + 0.005 * offset), rel=1e-12)
        assert amps["C10"].dark_current == pytest.approx(base["C10"].dark_current * (1 - 0.02 * offset))
        assert amps["C10"].read_noise == base["C10"].read_noise
        assert amps["C14"].read_noise == pytest.approx(base["C14"].read_noise * (1 + 0.01 * offset))
        assert amps["C14"].gain == base["C14"].gain
        # Saturation follows the gain; the other amplifiers do not drift.
        assert amps["C10"].saturation == pytest.approx(
            min(262143, base["C10"].bias_level + base["C10"].full_well / amps["C10"].gain)
        )
        for name in set(amps) - {"C10", "C14"}:
            assert amps[name] == base[name]
    # The pixels follow the truth: the flat's signal in ADU on the drifting amplifier falls as its
    # gain rises (5 % in 10 days), while a steady amplifier's stays within its photon noise.
    signal = {}
    for offset in (0, 10):
        bias = read_raw(tmp_path / str(offset) / f"CC_O_{days[offset]}_000001_R22_S11.fits")
        flat = read_raw(tmp_path / str(offset) / f"CC_O_{days[offset]}_000002_R22_S11.fits")
        box = (slice(0, 200), slice(3, 100))
        signal[offset] = {
            amp: float(np.median(flat.amp_data[amp][box]) - np.median(bias.amp_data[amp][box]))
            for amp in ("C10", "C11")
        }
    assert signal[10]["C10"] / signal[0]["C10"] == pytest.approx(1 / 1.05, rel=0.004)
    assert signal[10]["C11"] / signal[0]["C11"] == pytest.approx(1.0, rel=0.004)


def test_without_a_day_the_reference_day_is_used() -> None:
    model = drifting_model()
    arrays = model.amp_arrays("R22_S11")
    assert np.array_equal(arrays["gain"], model.amp_arrays("R22_S11", REFERENCE_DAY)["gain"])
    later = model.amp_arrays("R22_S11", 20241101)
    index = [a.name for a in model.detector("R22_S11").amps].index("C10")
    assert later["gain"][index] == pytest.approx(arrays["gain"][index] * (1 + 0.005 * 31))
    assert np.array_equal(np.delete(later["gain"], index), np.delete(arrays["gain"], index))


@pytest.mark.parametrize(
    "drift, message",
    [
        (
            {"amps": {"R22_S11": {"C10": {"bias_level": 0.01}}}},
            "drift.amps.R22_S11.C10.bias_level cannot drift",
        ),
        ({"amps": {"R22_S11": {"C10": {"gain": 0.9}}}}, "drift.amps.R22_S11.C10.gain = 0.9 must be"),
        ({"amps": {"R99_S11": {"C10": {"gain": 0.01}}}}, "drift.amps.R99_S11 is not a detector"),
        ({"amps": {"R22_S11": {"C99": {"gain": 0.01}}}}, "drift.amps.R22_S11.C99 is not an amplifier"),
        ({"reference_day_obs": 20241399}, "drift.reference_day_obs = 20241399 must be a day_obs"),
        ({"rate": 0.01}, "drift.rate is unknown"),
    ],
)
def test_bad_drift_parameters_are_named(drift: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SensorParameters({"drift": drift}, source="bad.yaml")
