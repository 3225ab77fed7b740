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

"""Edge cases of the calibration algorithms' public functions: clipped
statistics of integers, of no finite value, of one value and of a constant;
combine_stack refusing what it cannot combine, naming the image or scale;
no cosmic rays on a flat image; a normalization refused for a shape that
is not (detectors, exposures)."""

import numpy as np
import pytest

from lsst.ts.calibrations.cp.calib_algorithms import (
    clipped_mean_stdev,
    combine_stack,
    cosmic_ray_mask,
    solve_flat_normalization,
)


def test_clipped_statistics_edge_cases() -> None:
    mean, stdev, n = clipped_mean_stdev(np.array([[1, 2, 3], [2, 3, 1000]], dtype=np.int32))
    assert (mean, n) == (2.2, 5) and stdev == pytest.approx(np.std([1, 2, 3, 2, 3], ddof=1))
    mean, stdev, n = clipped_mean_stdev(np.array([np.nan, np.inf]))
    assert np.isnan(mean) and np.isnan(stdev) and n == 0
    assert clipped_mean_stdev(np.array([np.nan, 7.5])) == (7.5, 0.0, 1)
    # A constant: the first window has no width, nothing is clipped.
    assert clipped_mean_stdev(np.full(10, 4.0)) == (4.0, 0.0, 10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"images": []}, "combine_stack: no images to combine."),
        ({"scales": [1.0]}, "combine_stack: 1 scales for 2 images."),
        ({"variances": [np.ones((2, 3))]}, "combine_stack: 1 variance planes for 2 images."),
        (
            {"images": [np.ones((2, 3)), np.ones((3, 2))]},
            "combine_stack: image 1 has shape (3, 2); image 0 has (2, 3).",
        ),
        ({"scales": [1.0, 0.0]}, "combine_stack: scale 1 is 0.0; it must be a positive number."),
        ({"scales": [np.nan, 1.0]}, "combine_stack: scale 0 is nan; it must be a positive number."),
        (
            {"variances": [np.ones((2, 3)), np.ones((3, 3))]},
            "combine_stack: variance plane 1 has shape (3, 3); image 0 has (2, 3).",
        ),
    ],
)
def test_combine_stack_refusals(kwargs: dict, message: str) -> None:
    arguments = {"images": [np.ones((2, 3)), np.ones((2, 3))], **kwargs}
    with pytest.raises(ValueError) as info:
        combine_stack(**arguments)
    assert str(info.value) == message


def test_no_cosmic_rays_on_a_flat_image() -> None:
    image = np.full((5, 5), 3.0)
    mask = cosmic_ray_mask(image, nsigma=5.0, grow=1)
    assert mask.shape == (5, 5) and mask.dtype == bool and not mask.any()


@pytest.mark.parametrize("shape", [(4,), (2, 2, 2)])
def test_normalization_needs_detectors_by_exposures(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError) as info:
        solve_flat_normalization(np.ones(shape))
    assert str(info.value) == f"levels must be (detectors, exposures); got shape {shape}."
