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

"""Inputs of the clipped-mean combine and the PTC extraction config
refused with the argument named and what would be right: planes that are
not 2-D or are empty, a mask that does not fit its file's image; a
negative time tolerance or covariance range."""

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from lsst.ts.calibrations.cp.clipped_mean import clipped_mean, clipped_mean_files
from lsst.ts.calibrations.cp.ptc_extract import PtcExtractConfig


def test_planes_that_cannot_be_combined() -> None:
    with pytest.raises(ValueError) as info:
        clipped_mean([np.ones((2, 2)), np.ones(4)])
    assert str(info.value) == "stack[1] is 1-D; every plane must be 2-D."
    with pytest.raises(ValueError) as info:
        clipped_mean(np.ones((2, 0, 3)))
    assert str(info.value) == "stack planes have shape (0, 3); they must not be empty."


def test_a_mask_that_does_not_fit(tmp_path: Path) -> None:
    paths = []
    for i, mask in enumerate((np.zeros((4, 5), dtype=np.int32), np.zeros((4, 5), dtype=np.float32))):
        path = tmp_path / f"image{i}.fits"
        fits.HDUList(
            [
                fits.PrimaryHDU(),
                fits.ImageHDU(np.ones((4, 5), np.float32), name="IMAGE"),
                fits.ImageHDU(mask, name="MASK"),
            ]
        ).writeto(path)
        paths.append(path)
    result = clipped_mean_files(paths[:1], mask_hdu="MASK")
    assert np.array_equal(result.mean, np.ones((4, 5), np.float32))
    with pytest.raises(ValueError) as info:
        clipped_mean_files(paths, mask_hdu="MASK")
    assert str(info.value) == (
        f"mask_hdu 'MASK' of {str(paths[1])!r} holds no integer mask of the image's shape (4, 5); "
        "set mask_hdu."
    )


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("matchExposuresByTime", "matchExposuresByTime=-1.0 must be >= 0 s."),
        ("maximumRangeCovariancesAstier", "maximumRangeCovariancesAstier=-1 must be >= 0."),
    ],
)
def test_ptc_extract_config_refusals(field: str, message: str) -> None:
    config = PtcExtractConfig()
    setattr(config, field, -1)
    with pytest.raises(ValueError) as info:
        config.validate()
    assert str(info.value) == message
