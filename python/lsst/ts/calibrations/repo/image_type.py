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

"""ImageType: the camera's image types, and what a calibration run does with each.

One definition for every layer that may import ``repo``: the simulated
camera and its image model (``sim``), the calibration pipelines (``cp``)
and the calibration scripts (``scripts``). A member *is* its SAL
``imageType`` text (`enum.StrEnum`: ``ImageType.BIAS == "BIAS"``), so it
crosses the SAL boundary as that string and compares equal to it.

The observatory layer (``observatory``, the camera control classes that
play ts_observatory_control) may import only the SAL runtime, so it keeps
the image types it accepts as the plain strings of ts_observatory_control's
``get_image_types`` API; a test pins that list to this enum.

The calibration image types (`BIAS`, `DARK`, `FLAT`) carry what the
calibration script needs: the plural of its checkpoints ("Taking 21
biases."), the names of their configuration options (`ImageTypeOptions`),
and their generation and verification pipelines (cp_pipe's ``cpBias``,
cp_verify's ``verifyBias``, ...). These are names, not imports: the layer
stays below ``cp`` and ``scripts``.
"""

from __future__ import annotations

__all__ = ["ImageType", "ImageTypeOptions"]

import dataclasses
import enum


@dataclasses.dataclass(frozen=True)
class ImageTypeOptions:
    """Names of the configuration options of one calibration image type.

    Parameters
    ----------
    n : `str`
        Number of images kept, e.g. "n_bias".
    n_discard : `str`
        Number of images taken first and discarded, e.g. "n_discard_bias".
    exp_times : `str` or `None`
        Exposure time(s), e.g. "exp_times_dark"; `None` for biases.
    config_options : `str`
        pipetask options of the generation pipeline, e.g. "config_options_bias".
    input_collections : `str`
        Inputs of the generation pipeline, e.g. "input_collections_bias".
    input_collections_verify : `str`
        Inputs of the verification pipeline, e.g. "input_collections_verify_bias".
    verification_threshold : `str`
        e.g. "number_verification_tests_threshold_bias".
    """

    n: str
    n_discard: str
    exp_times: str | None
    config_options: str
    input_collections: str
    input_collections_verify: str
    verification_threshold: str

    @classmethod
    def of(cls, kind: str, *, timed: bool) -> ImageTypeOptions:
        """Return the option names of image type ``kind`` ("bias", "dark", "flat")."""
        return cls(
            n=f"n_{kind}",
            n_discard=f"n_discard_{kind}",
            exp_times=f"exp_times_{kind}" if timed else None,
            config_options=f"config_options_{kind}",
            input_collections=f"input_collections_{kind}",
            input_collections_verify=f"input_collections_verify_{kind}",
            verification_threshold=f"number_verification_tests_threshold_{kind}",
        )

    @property
    def names(self) -> tuple[str, ...]:
        """Every option name, in schema order (``exp_times`` only if the type has one)."""
        return tuple(value for value in dataclasses.astuple(self) if value is not None)


class ImageType(enum.StrEnum):
    """An image type of the camera (the ``imageType`` of ``takeImages``).

    Members: BIAS, DARK, FLAT (the calibration types), OBJECT, ENGTEST, ACQ,
    CWFS, FOCUS, STUTTERED, INDOME, CBP, SFLAT, DFLAT, SPOT.

    Attributes
    ----------
    plural : `str`
        Plural for messages, e.g. "biases".
    pipeline : `str`
        Generation pipeline name (cp_pipe), e.g. "cpBias"; "" if none.
    verify_pipeline : `str`
        Verification pipeline name (cp_verify), e.g. "verifyBias"; "" if none.
    """

    plural: str
    pipeline: str
    verify_pipeline: str

    def __new__(cls, value: str, plural: str, pipeline: str = "", verify_pipeline: str = "") -> ImageType:
        """Make a member from its value and attributes."""
        member = str.__new__(cls, value)
        member._value_ = value
        member.plural = plural
        member.pipeline = pipeline
        member.verify_pipeline = verify_pipeline
        return member

    BIAS = ("BIAS", "biases", "cpBias", "verifyBias")
    DARK = ("DARK", "darks", "cpDark", "verifyDark")
    FLAT = ("FLAT", "flats", "cpFlat", "verifyFlat")
    OBJECT = ("OBJECT", "objects")
    ENGTEST = ("ENGTEST", "engineering tests")
    ACQ = ("ACQ", "acquisition images")
    CWFS = ("CWFS", "curvature wavefront images")
    FOCUS = ("FOCUS", "focus images")
    STUTTERED = ("STUTTERED", "stuttered images")
    INDOME = ("INDOME", "in-dome images")
    CBP = ("CBP", "collimated beam projector images")
    SFLAT = ("SFLAT", "sky flats")
    DFLAT = ("DFLAT", "dome flats")
    SPOT = ("SPOT", "spot images")

    @classmethod
    def calibration_types(cls) -> tuple[ImageType, ...]:
        """The image types a calibration run takes, in taking order: BIAS, DARK, FLAT."""
        return (cls.BIAS, cls.DARK, cls.FLAT)

    @property
    def is_calibration(self) -> bool:
        """True for BIAS, DARK and FLAT."""
        return self in self.calibration_types()

    @property
    def shutter_open(self) -> bool:
        """True if the shutter opens (every type but BIAS and DARK)."""
        return self not in (ImageType.BIAS, ImageType.DARK)

    @property
    def observation_type(self) -> str:
        """The butler's ``exposure.observation_type``: the name in lower case ("bias")."""
        return self.value.lower()

    @property
    def options(self) -> ImageTypeOptions:
        """Names of the configuration options of a calibration image type.

        Raises
        ------
        ValueError
            If the type is not a calibration type (BIAS, DARK, FLAT).
        """
        if not self.is_calibration:
            raise ValueError(f"{self.value} is not a calibration image type; no options")
        return ImageTypeOptions.of(self.observation_type, timed=self is not ImageType.BIAS)

    @classmethod
    def from_name(cls, name: str) -> ImageType:
        """Return the member of a name in any case ("bias", "BIAS").

        Raises
        ------
        ValueError
            If no image type has that name; the message lists them.
        """
        try:
            return cls[str(name).strip().upper()]
        except KeyError:
            raise ValueError(
                f"{name!r} is not an image type; use one of {', '.join(member.value for member in cls)}"
            ) from None
