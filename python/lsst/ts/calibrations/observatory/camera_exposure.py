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

"""CameraExposure: what one ``take_imgtype`` call asks the camera for."""

__all__ = ["CameraExposure"]

import dataclasses


@dataclasses.dataclass
class CameraExposure:
    """The exposures of one `BaseCamera.take_imgtype` call.

    Parameters
    ----------
    exp_time : `float`
        Exposure time (s).
    shutter : `bool`
        Open the shutter?
    image_type : `str`
        Image type (BIAS, DARK, FLAT, ...).
    group_id : `str`
        Group ID of the images.
    n : `int`
        Number of ``takeImages`` commands.
    n_snaps : `int`
        Images per ``takeImages`` command.
    n_shift, row_shift : `int` or `None`
        Stuttered images only (not supported by `ComCam`).
    test_type, reason, program : `str` or `None`
        Header tags; ``test_type`` defaults to the image type.
    sensors : `str` or `None`
        Colon-separated sensor names; all if None.
    note : `str` or `None`
        Observer note (``obsNote``).
    """

    exp_time: float
    shutter: bool
    image_type: str
    group_id: str
    n: int = 1
    n_snaps: int = 1
    n_shift: int | None = None
    row_shift: int | None = None
    test_type: str | None = None
    reason: str | None = None
    program: str | None = None
    sensors: str | None = None
    note: str | None = None

    def get_key_value_map(self) -> str:
        """The ``takeImages.keyValueMap`` text.

        Returns
        -------
        key_value_map : `str`
            ``imageType: <type>, groupId: <id>, testType: <test type>,
            stutterRows: 0, stutterNShifts: 0, stutterDelay: 0.0`` (the
            stutter values are those of the exposure for STUTTERED images)
            followed by ``, reason: <r>`` and ``, program: <p>`` when not None.
        """
        stuttered = self.image_type == "STUTTERED"
        text = (
            f"imageType: {self.image_type}, groupId: {self.group_id}, "
            f"testType: {self.image_type if self.test_type is None else self.test_type}, "
            f"stutterRows: {self.row_shift or 0 if stuttered else 0}, "
            f"stutterNShifts: {self.n_shift or 0 if stuttered else 0}, "
            f"stutterDelay: {float(self.exp_time) if stuttered else 0.0}"
        )
        if self.reason is not None:
            text += f", reason: {self.reason}"
        if self.program is not None:
            text += f", program: {self.program}"
        return text
