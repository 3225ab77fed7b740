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

"""make_calibration_set's options and arguments: detector lists by id,
range and "all"; each bad option or argument refused by name before any
file is written; what it prints when not quiet."""

from pathlib import Path

import pytest

from lsst.ts.calibrations.repo.camera import Camera
from lsst.ts.calibrations.sim.make_calibration_set import main, make_calibration_set, parse_args
from lsst.ts.calibrations.sim.sensor_model import SensorModel


def test_detector_lists() -> None:
    comcam = Camera.instance("LSSTComCam")
    assert parse_args(["out", "--detectors", "all"]).detectors == list(comcam.science_detector_ids)
    assert parse_args(["out", "--detectors", "2-4, 0"]).detectors == [0, 2, 3, 4]
    assert parse_args(["out"]).detectors is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--detectors", " , "], "--detectors: no detector given."),
        (["--flat-times", "1,a"], "--flat-times: '1,a' is not a list of seconds like '1,2,5'."),
        (["--n-bias", "-1"], "--n-bias=-1 must be >= 0."),
        (["--flats-per-time", "-2"], "--flats-per-time=-2 must be >= 0."),
    ],
)
def test_bad_options(capsys: pytest.CaptureFixture[str], options: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as info:
        parse_args(["out", *options])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_dark": -1}, "n_dark=-1 must be >= 0."),
        ({"dark_time": 0.0}, "dark_time=0.0 must be > 0 s."),
        ({"start_seq": 99999}, "start_seq=99999 leaves no room for 3 exposures (seq_num <= 99999)."),
        ({"day_obs": 20241332}, "day_obs=20241332 must be a date YYYYMMDD."),
    ],
)
def test_bad_arguments_write_nothing(tmp_path: Path, kwargs: dict, message: str) -> None:
    arguments = {"n_bias": 1, "n_dark": 1, "flat_times": (1.0,), "flats_per_time": 1, **kwargs}
    with pytest.raises(ValueError) as info:
        make_calibration_set(
            tmp_path / "out",
            model=SensorModel.from_yaml(None, 0),
            geometry_name="reduced",
            detectors=[0],
            **arguments,
        )
    assert str(info.value) == message
    assert not any((tmp_path / "out").rglob("*.fits"))


def test_what_it_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [str(tmp_path), "--geometry", "reduced", "--detectors", "0", "--n-bias", "1", "--n-dark", "0"]
    assert main([*argv, "--flat-times", "1", "--flats-per-time", "0"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("CC_O_20241024_000001 BIAS")
    assert out[-1].startswith(f"Wrote 1 raws of 1 exposures and truth.yaml to {tmp_path} in ")
    assert out[-1].endswith("pixels a detector).")
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "CC_O_20241024_000001_R22_S00.fits",
        "truth.yaml",
    ]
