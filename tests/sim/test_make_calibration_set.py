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

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fixtures.timeouts import PROCESS_TIMEOUT
from lsst.ts.calibrations.repo.raw import read_raw
from lsst.ts.calibrations.sim.make_calibration_set import main
from lsst.ts.calibrations.sim.sensor_model import SensorModel
from lsst.ts.calibrations.sim.simulation_truth import SimulationTruth, load_truth

ARGS = [
    "--geometry", "reduced", "--n-bias", "2", "--n-dark", "1", "--dark-time", "10",
    "--flat-times", "1,3", "--detectors", "0,R22_S11", "--seed", "7", "--quiet",
]  # fmt: skip


@pytest.mark.slow
def test_writes_raws_and_truth(tmp_path: Path) -> None:
    assert main([str(tmp_path / "a"), *ARGS]) == 0
    truth = load_truth(tmp_path / "a")
    assert truth.seed == 7 and truth.sensor_model == "comcam_default"
    assert truth.geometry.name == "reduced"
    assert sorted(truth.detectors) == ["R22_S00", "R22_S11"]
    types = [e["image_type"] for e in truth.exposures]
    assert types == ["BIAS", "BIAS", "DARK", "FLAT", "FLAT", "FLAT", "FLAT"]
    assert [e["seq_num"] for e in truth.exposures] == list(range(1, 8))
    assert [e["exposure_time"] for e in truth.exposures_of_type("FLAT")] == [1.0, 1.0, 3.0, 3.0]
    assert truth.exposures[0]["exposure_id"] == 2024102400001
    starts = [e["date_obs"] for e in truth.exposures]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    files = sorted(p.name for p in (tmp_path / "a").glob("*.fits"))
    assert len(files) == 14 and files[0] == "CC_O_20241024_000001_R22_S00.fits"
    raw = read_raw(tmp_path / "a" / "CC_O_20241024_000004_R22_S11.fits")
    assert raw.header["IMGTYPE"] == "FLAT" and raw.header["FILTER"] == "r_03"
    assert raw.header["DATE-OBS"] == truth.exposures[3]["date_obs"]
    # The truth equals the model's and survives a round trip.
    model = SensorModel.from_yaml(None, 7)
    assert truth.detectors["R22_S11"].to_dict() == model.detector_truth(4, truth.geometry).to_dict()
    assert SimulationTruth.from_dict(truth.to_dict()).to_dict() == truth.to_dict()
    assert truth.amp("R22_S11", "C10").gain == model.detector_truth(4, truth.geometry).amps["C10"].gain
    # The same command gives the same pixels.
    assert main([str(tmp_path / "b"), *ARGS]) == 0
    again = read_raw(tmp_path / "b" / "CC_O_20241024_000004_R22_S11.fits")
    np.testing.assert_array_equal(again.amp_data["C07"], raw.amp_data["C07"])


def test_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path), *ARGS, "--filter", "x_09"]) == 1
    assert "physical_filter='x_09' has no flat flux" in capsys.readouterr().err
    assert main([str(tmp_path), *ARGS, "--sensor-model", str(tmp_path / "none.yaml")]) == 1
    assert "does not exist" in capsys.readouterr().err
    for option, value, message in (
        ("--detectors", "9", "--detectors: '9' is not a detector"),
        ("--flat-times", "1,-2", "every flat exposure time must be > 0 s"),
        ("--seed", "-3", "--seed=-3 must be >= 0"),
        ("--geometry", "tiny", "invalid choice: 'tiny'"),
    ):
        with pytest.raises(SystemExit) as raised:
            main([str(tmp_path), *ARGS, option, value])
        assert raised.value.code == 2
        assert message in capsys.readouterr().err
    assert main([str(tmp_path / "c"), *ARGS]) == 0
    assert main([str(tmp_path / "c"), *ARGS]) == 1
    assert "already exists" in capsys.readouterr().err


def test_truth_file_errors(tmp_path: Path) -> None:
    (tmp_path / "truth.yaml").write_text("truth_version: 99\n")
    with pytest.raises(ValueError, match="not a simulation truth file of version 1"):
        load_truth(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_truth(tmp_path / "missing.yaml")


@pytest.mark.slow
def test_module_runs_as_a_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lsst.ts.calibrations.sim.make_calibration_set", "--help"],
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for option in ("--n-bias", "--n-dark", "--dark-time", "--flat-times", "--filter", "--detectors"):
        assert option in result.stdout
    for option in ("--geometry", "--seed", "--sensor-model", "--day-obs"):
        assert option in result.stdout
