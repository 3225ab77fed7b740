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

"""The simulator's darks against the accuracy plan's error of one dark, for each vendor's layout."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import dark_frames  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("detector", [16, 94], ids=["ITL", "e2v"])
def test_simulated_darks_match_the_plan(detector: int) -> None:
    # 20 darks of one LSSTCam detector at reduced geometry, seeded: each
    # amplifier's dark charge is the truth's within its standard error, and
    # the frame-to-frame scatter is the plan's (the accuracy benchmark's
    # expected error of the dark current rests on both).
    args = dark_frames.parse_args(["--detector", str(detector), "--geometry", "reduced", "--frames", "20"])
    figures = dark_frames.measure(args)
    assert figures["vendor"] == ("ITL" if detector == 16 else "E2V")
    assert len(figures["amps"]) == 16
    pooled = figures["pooled"]
    # 16 amplifiers' pulls: rms 1 expected; a bias of one standard error in
    # every amplifier would make it 1.4.
    assert 0.5 < pooled["rms_mean_pull"] < 1.35
    # 16 x 19 degrees of freedom: the pooled ratio's error is about 4%.
    assert pooled["frame_scatter_over_plan_pooled"] == pytest.approx(1.0, abs=0.12)
    assert pooled["blocks"] == 16 * 4


def test_arguments_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in [
        (["--frames", "0"], "--frames=0 must be >= 1"),
        (["--block", "0"], "--block=0 must be >= 1"),
        (["--first-seq", "0"], "--first-seq=0 must be >= 1"),
        (["--dark-time", "-1"], "--dark-time=-1.0 must be > 0 s"),
    ]:
        with pytest.raises(SystemExit):
            dark_frames.parse_args(argv)
        assert message in capsys.readouterr().err
