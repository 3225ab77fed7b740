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

"""The camera's image types and exposure ids agree with the one definition in ``repo``."""

import pytest

from lsst.ts.calibrations.observatory.base_camera import BaseCamera
from lsst.ts.calibrations.observatory.comcam import ComCam
from lsst.ts.calibrations.repo.exposure_id import make_exposure_id, split_exposure_id
from lsst.ts.calibrations.repo.image_type import ImageType


def test_camera_image_types_are_the_enum() -> None:
    # ComCam accepts exactly the members of ImageType (SPOT is ComCam's own, as in
    # ts_observatory_control); the base camera accepts all the others.
    assert ComCam.get_image_types() == [member.value for member in ImageType]
    assert set(BaseCamera.get_image_types()) == {member.value for member in ImageType} - {"SPOT"}


def test_image_type_attributes() -> None:
    assert ImageType.calibration_types() == (ImageType.BIAS, ImageType.DARK, ImageType.FLAT)
    assert [t.plural for t in ImageType.calibration_types()] == ["biases", "darks", "flats"]
    assert ImageType.DARK.options.exp_times == "exp_times_dark" and ImageType.BIAS.options.exp_times is None
    assert ImageType.FLAT.options.n == "n_flat" and ImageType.FLAT.verify_pipeline == "verifyFlat"
    assert not ImageType.DARK.shutter_open and ImageType.DFLAT.shutter_open
    assert ImageType.from_name(" flat ") is ImageType.FLAT and ImageType.BIAS == "BIAS"
    with pytest.raises(ValueError, match="'SKY' is not an image type; use one of BIAS, DARK, FLAT"):
        ImageType.from_name("SKY")
    with pytest.raises(ValueError, match="OBJECT is not a calibration image type"):
        ImageType.OBJECT.options  # noqa: B018


@pytest.mark.parametrize("day_obs, seq_num", [(20241024, 123), (20221104, 1), (20500101, 99999)])
def test_exposure_ids_agree(day_obs: int, seq_num: int) -> None:
    exposure_id = make_exposure_id(day_obs, seq_num)
    assert split_exposure_id(exposure_id) == (day_obs, seq_num)
    name = ComCam.image_name_from_exposure_id(exposure_id)
    assert name == f"CC_O_{day_obs}_{seq_num:06d}"
    assert ComCam.exposure_id_from_image_name(name) == exposure_id
    with pytest.raises(ValueError, match="seq_num=100000 must be in 0-99999"):
        make_exposure_id(day_obs, 100000)
