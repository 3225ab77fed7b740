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

"""The truth of a run that mixes ITL and e2v detectors is each vendor's own."""

from pathlib import Path

import numpy as np
import pytest

from lsst.ts.calibrations.repo.camera import (
    E2V_REDUCED_GEOMETRY,
    REDUCED_GEOMETRY,
    AmpGeometry,
    Camera,
)
from lsst.ts.calibrations.repo.raw import read_raw
from lsst.ts.calibrations.sim.make_calibration_set import main, make_calibration_set
from lsst.ts.calibrations.sim.sensor_model import SensorModel
from lsst.ts.calibrations.sim.simulation_truth import load_truth

# R01_S00 is an ITL sensor, R22_S11 an e2v one.
ITL_DETECTOR, E2V_DETECTOR = 0, 94


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SensorModel]:
    model = SensorModel.from_yaml(None, 5, instrument="LSSTCam")
    output = tmp_path_factory.mktemp("mixed")
    make_calibration_set(
        output,
        model=model,
        geometry_name="reduced",
        detectors=[E2V_DETECTOR, ITL_DETECTOR],
        n_bias=1,
        n_dark=1,
        dark_time=30.0,
        flat_times=(1.0,),
        flats_per_time=1,
    )
    return output, model


def test_camera_has_both_vendors() -> None:
    camera = Camera.instance("LSSTCam")
    assert camera[ITL_DETECTOR].vendor == "ITL" and camera[E2V_DETECTOR].vendor == "E2V"


def test_truth_in_each_vendor_layout(mixed: tuple[Path, SensorModel]) -> None:
    output, model = mixed
    truth = load_truth(output)
    itl, e2v = truth.detectors["R01_S00"], truth.detectors["R22_S11"]
    assert (itl.vendor, e2v.vendor) == ("ITL", "E2V")
    assert truth.vendors == ("E2V", "ITL")
    assert truth.geometry_of("R01_S00") == REDUCED_GEOMETRY
    assert truth.geometry_of("R22_S11") == E2V_REDUCED_GEOMETRY
    assert itl.detector_shape == REDUCED_GEOMETRY.detector_shape
    assert e2v.detector_shape == E2V_REDUCED_GEOMETRY.detector_shape != itl.detector_shape
    # Each raw is in the layout its truth describes.
    for exposure in truth.exposures:
        for name, file_name in exposure["files"].items():
            raw = read_raw(output / file_name)
            assert raw.geometry.dimensions == truth.geometry_of(name).dimensions, (name, file_name)
    # Defects, gains and read noise are the model's for the detector in its own layout,
    # whatever vendor's layout the caller names.
    for ask in (REDUCED_GEOMETRY, E2V_REDUCED_GEOMETRY):
        assert model.detector_truth(E2V_DETECTOR, ask).to_dict() == e2v.to_dict()
        assert model.detector_truth(ITL_DETECTOR, ask).to_dict() == itl.to_dict()
    camera = Camera.instance("LSSTCam")
    for name, det in (("R01_S00", itl), ("R22_S11", e2v)):
        info = camera[name]
        for amp in info.amps:
            assert det.amps[amp.name].nominal_gain == amp.nominal_gain
            assert det.amps[amp.name].nominal_read_noise == amp.nominal_read_noise
    # The vendor sections of the model apply: e2v's full well and dark current, ITL's bias level.
    e2v_parameters = model.parameters_of(E2V_DETECTOR)
    itl_parameters = model.parameters_of(ITL_DETECTOR)
    assert e2v_parameters.get("saturation.full_well") != itl_parameters.get("saturation.full_well")
    full_wells = [a.full_well for a in e2v.amps.values()]
    scatter = e2v_parameters.get("saturation.full_well_scatter")
    assert abs(np.mean(full_wells) / e2v_parameters.get("saturation.full_well") - 1) < 4 * scatter + 1e-9


def test_e2v_defects_land_in_the_raw(mixed: tuple[Path, SensorModel]) -> None:
    """A hot pixel of the e2v truth is hot in the e2v dark, at the truth's position."""
    output, _ = mixed
    truth = load_truth(output)
    e2v = truth.detectors["R22_S11"]
    geometry = truth.geometry_of("R22_S11")
    info = Camera.instance("LSSTCam")["R22_S11"]
    dark = truth.exposures_of_type("DARK")[0]
    raw = read_raw(output / dark["files"]["R22_S11"])
    data = {name: segment[geometry.data_slice] for name, segment in raw.amp_data.items()}
    image = info.assemble(data, geometry).astype(np.float64)
    for amp in info.amps:
        area = image[amp.detector_slice(geometry)]
        area -= np.median(area)
    hot = e2v.hot_pixels[np.argmax(e2v.hot_pixel_current)]
    x, y = int(hot[0]), int(hot[1])
    rows_of = {a.name: a.detector_slice(geometry)[0] for a in info.amps}
    cols_of = {a.name: a.detector_slice(geometry)[1] for a in info.amps}
    amp = next(
        a
        for a in info.amps
        if rows_of[a.name].start <= y < rows_of[a.name].stop
        and cols_of[a.name].start <= x < cols_of[a.name].stop
    )
    expected_adu = e2v.hot_pixel_current.max() * dark["exposure_time"] / e2v.amps[amp.name].gain
    noise_adu = e2v.amps[amp.name].read_noise / e2v.amps[amp.name].gain
    assert expected_adu > 20 * noise_adu
    assert image[y, x] > 0.5 * expected_adu


def test_custom_geometry_applies_to_every_vendor() -> None:
    model = SensorModel.from_yaml(None, 5, instrument="LSSTCam")
    custom = AmpGeometry(prescan=3, nx=64, ny=64, serial_overscan=16, parallel_overscan=8, name="custom")
    assert model.geometry_of(E2V_DETECTOR, custom) == custom
    assert model.detector_truth(E2V_DETECTOR, custom).detector_shape == custom.detector_shape
    # A layout named "reduced" that is not the standard one is custom too.
    odd = AmpGeometry(prescan=3, nx=64, ny=64, serial_overscan=16, parallel_overscan=8, name="reduced")
    assert model.geometry_of(E2V_DETECTOR, odd) == odd


def test_command_line_instrument(tmp_path: Path) -> None:
    args = ["--instrument", "LSSTCam", "--geometry", "reduced", "--n-bias", "1", "--n-dark", "0",
            "--flat-times", "1", "--flats-per-time", "1", "--detectors", "R01_S00,94", "--quiet"]  # fmt: skip
    assert main([str(tmp_path), *args]) == 0
    truth = load_truth(tmp_path)
    assert {n: d.vendor for n, d in truth.detectors.items()} == {"R01_S00": "ITL", "R22_S11": "E2V"}
    assert truth.sensor_model == "lsstcam_default"
    assert sorted(p.name for p in tmp_path.glob("*.fits"))[0].startswith("MT_O_")
