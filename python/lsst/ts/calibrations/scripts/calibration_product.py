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

"""CalibrationProduct: what one step of a calibration run makes, and its options."""

from __future__ import annotations

__all__ = ["CalibrationProduct"]

import enum

from ..repo.image_type import ImageType


class CalibrationProduct(enum.StrEnum):
    """A product of a calibration run: the name of its `ProcessingStep`.

    A member *is* its name (``CalibrationProduct.PTC == "PTC"``), the key of
    the run record's ``products``.

    Attributes
    ----------
    dataset_type : `str`
        Dataset type generated (and certified, but for GAIN), e.g. "bias".
    option_stem : `str`
        Suffix of its ``config_options_*`` and ``input_collections_*``
        options ("ptc" for GAIN: the gain pipeline is a subset of cpPtc).
    pipeline : `str`
        Generation pipeline (cp_pipe), with its subset if any.
    image_types : `tuple` [`ImageType`, ...]
        Image types whose kept exposures it processes.
    """

    dataset_type: str
    option_stem: str
    pipeline: str
    image_types: tuple[ImageType, ...]

    def __new__(
        cls,
        value: str,
        dataset_type: str,
        option_stem: str,
        pipeline: str,
        image_types: tuple[ImageType, ...],
    ) -> CalibrationProduct:
        """Make a member from its value and attributes."""
        member = str.__new__(cls, value)
        member._value_ = value
        member.dataset_type = dataset_type
        member.option_stem = option_stem
        member.pipeline = pipeline
        member.image_types = image_types
        return member

    BIAS = ("BIAS", "bias", "bias", ImageType.BIAS.pipeline, (ImageType.BIAS,))
    DARK = ("DARK", "dark", "dark", ImageType.DARK.pipeline, (ImageType.DARK,))
    FLAT = ("FLAT", "flat", "flat", ImageType.FLAT.pipeline, (ImageType.FLAT,))
    DEFECTS = ("DEFECTS", "defects", "defects", "findDefects", (ImageType.DARK, ImageType.FLAT))
    PTC = ("PTC", "ptc", "ptc", "cpPtc", (ImageType.FLAT,))
    GAIN = ("GAIN", "cpPtcExtract", "ptc", "cpPtc#generateGainFromFlatPair", (ImageType.FLAT,))

    @classmethod
    def of_image_type(cls, image_type: ImageType) -> CalibrationProduct:
        """Return the product combined from one calibration image type (BIAS, DARK, FLAT)."""
        return cls[image_type.value]

    @property
    def config_options_option(self) -> str:
        """Name of its pipetask options option, e.g. "config_options_ptc"."""
        if self.image_type is not None:
            return self.image_type.options.config_options
        return f"config_options_{self.option_stem}"

    @property
    def input_collections_option(self) -> str:
        """Name of its generation inputs option, e.g. "input_collections_ptc"."""
        if self.image_type is not None:
            return self.image_type.options.input_collections
        return f"input_collections_{self.option_stem}"

    @property
    def image_type(self) -> ImageType | None:
        """The image type it is combined from (BIAS, DARK, FLAT), or `None`."""
        return ImageType[self.value] if self.value in ImageType.__members__ else None
