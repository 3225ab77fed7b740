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

import numpy as np
import pytest

from lsst.ts.calibrations.repo.camera import DETECTOR_NAMES, FULL_GEOMETRY, REDUCED_GEOMETRY, Camera
from lsst.ts.calibrations.sim.sensor_model import SensorModel
from lsst.ts.calibrations.sim.sensor_parameters import SensorParameters

GEOMETRY = REDUCED_GEOMETRY


def test_truth_is_deterministic_and_order_independent() -> None:
    first = SensorModel.from_yaml(None, seed=5)
    second = SensorModel.from_yaml(None, seed=5)
    for name in reversed(DETECTOR_NAMES):
        second.detector_truth(name, GEOMETRY)
    a = first.detector_truth(4, GEOMETRY)
    b = second.detector_truth("R22_S11", GEOMETRY)
    assert a.to_dict() == b.to_dict()
    np.testing.assert_array_equal(first.flat_response(4, GEOMETRY), second.flat_response(4, GEOMETRY))
    other = SensorModel.from_yaml(None, seed=6).detector_truth(4, GEOMETRY)
    assert other.amps["C10"].gain != a.amps["C10"].gain


def test_amplifier_truth_near_nominal() -> None:
    model = SensorModel.from_yaml(None, seed=1)
    for detector in Camera.instance().detectors:
        truth = model.detector_truth(detector.id, GEOMETRY)
        for amp in detector.amps:
            value = truth.amps[amp.name]
            assert abs(value.gain / amp.nominal_gain - 1) < 0.1
            # At or a little below nominal, so that verification passes.
            assert 0.8 * amp.nominal_read_noise < value.read_noise <= amp.nominal_read_noise
            assert 18000 < value.bias_level < 22000
            assert 0 <= value.dark_current < 0.02
            assert value.a00 == 0.0
            assert value.saturation == pytest.approx(value.bias_level + value.full_well / value.gain)


def test_high_noise_model_fails_verification_threshold() -> None:
    model = SensorModel.from_yaml("comcam_high_noise", seed=1)
    truth = model.detector_truth(0, GEOMETRY)
    for amp in Camera.instance()[0].amps:
        assert truth.amps[amp.name].read_noise > 1.05 * amp.nominal_read_noise


def test_brighter_fatter_and_overrides() -> None:
    parameters = SensorParameters(
        {
            "brighter_fatter": {"enabled": True},
            "overrides": {"R22_S11": {"C10": {"read_noise": 12.5, "gain": 2.0}}},
        }
    )
    model = SensorModel(parameters, seed=1)
    truth = model.detector_truth("R22_S11", GEOMETRY)
    assert truth.amps["C10"].read_noise == 12.5
    assert truth.amps["C10"].gain == 2.0
    a00 = [amp.a00 for amp in truth.amps.values()]
    assert all(-2.5e-6 < value < -1.5e-6 for value in a00)


def test_defects_inside_distinct_and_in_mask() -> None:
    model = SensorModel.from_yaml(None, seed=2)
    truth = model.detector_truth(3, GEOMETRY)
    rows, cols = GEOMETRY.detector_shape
    assert len(truth.hot_pixels) == 40 and len(truth.cold_pixels) == 30 and len(truth.bad_columns) == 2
    pixels = {tuple(p) for p in truth.hot_pixels} | {tuple(p) for p in truth.cold_pixels}
    assert len(pixels) == 70
    assert all(0 <= x < cols and 0 <= y < rows for x, y in pixels)
    mask = truth.defect_mask()
    column_pixels = sum(y1 - y0 + 1 for _, y0, y1 in truth.bad_columns)
    assert mask.sum() == 70 + column_pixels
    for x, y0, y1 in truth.bad_columns:
        # A bad column stays in one amplifier and reaches its far edge (the detector's middle).
        assert y0 // GEOMETRY.ny == y1 // GEOMETRY.ny
        assert y1 == GEOMETRY.ny - 1 or y0 == GEOMETRY.ny
        assert y1 - y0 + 1 >= 100
    assert sum(w * h for _, _, w, h in truth.defect_boxes()) == mask.sum()


def test_bad_geometry_for_defects() -> None:
    parameters = SensorParameters({"defects": {"hot_pixels": 60000}}, source="many.yaml")
    with pytest.raises(ValueError, match="defects.hot_pixels \\+ defects.cold_pixels = 60030"):
        SensorModel(parameters, seed=0).detector_truth(0, GEOMETRY)
    with pytest.raises(ValueError, match="seed=-1 must be an integer >= 0"):
        SensorModel(parameters, seed=-1)


def test_flat_response_vignetting_and_prnu() -> None:
    model = SensorModel.from_yaml(None, seed=3)
    means = {
        name: model.detector_truth(name, GEOMETRY).amps["C10"].flat_response_mean for name in DETECTOR_NAMES
    }
    center = model.detector_truth("R22_S11", GEOMETRY)
    # The central detector is brighter than the corners; detector levels differ.
    center_mean = np.mean([a.flat_response_mean for a in center.amps.values()])
    for corner in ("R22_S00", "R22_S02", "R22_S20", "R22_S22"):
        corner_mean = np.mean(
            [a.flat_response_mean for a in model.detector_truth(corner, GEOMETRY).amps.values()]
        )
        assert corner_mean < center_mean - 0.01
        assert model.vignetting(corner, GEOMETRY).mean() < model.vignetting("R22_S11", GEOMETRY).mean() - 0.03
    assert len({round(v, 4) for v in means.values()}) == 9
    # Pixel response non-uniformity of about 1% once the smooth vignetting is divided out.
    response = model.flat_response("R22_S11", GEOMETRY).astype(float)
    ratio = response / model.vignetting("R22_S11", GEOMETRY) / center.qe
    good = ~center.defect_mask()
    assert np.std(ratio[good]) == pytest.approx(0.01, rel=0.05)
    assert not model.flat_response("R22_S11", GEOMETRY).flags.writeable


def test_vignetting_same_pattern_in_any_geometry() -> None:
    model = SensorModel.from_yaml(None, seed=3)
    full = model.vignetting(0, FULL_GEOMETRY)
    reduced = model.vignetting(0, GEOMETRY)
    assert full.mean() == pytest.approx(reduced.mean(), rel=1e-4)
    assert full[0, 0] == pytest.approx(reduced[0, 0], rel=2e-3)
