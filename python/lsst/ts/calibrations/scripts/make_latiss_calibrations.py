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

"""MakeLatissCalibrations: the LATISS script ``auxtel/make_latiss_calibrations.py``."""

from __future__ import annotations

__all__ = ["MakeLatissCalibrations"]

import typing

from ..observatory.base_camera import BaseCamera
from ..observatory.latiss import LATISS
from ..sal.base import ExpectedError
from .base_make_calibrations import BaseMakeCalibrations
from .calibration_schema import make_schema
from .plan_rules import resolve_filter


class MakeLatissCalibrations(BaseMakeCalibrations):
    """Take LATISS biases, darks and flats and make combined calibrations with the OCPS (index 1).

    Parameters
    ----------
    index : `int`
        SAL index of the script.

    Notes
    -----
    What differs from ComCam: the camera group (`LATISS`: ATCamera,
    ATSpectrograph, ATHeaderService, ATOODS), OCPS:1, one detector (0,
    RXX_S00), collections ``LATISS/calib`` and ``LATISS/calib/daily``, the
    repository ``/repo/LATISS``, and the flats' setup: ``filter`` and
    ``grating`` are the spectrograph's, each a name or a 0-based slot of its
    wheel (``settingsAppliedValues``), null (default) to leave it. The
    physical filter of the flats is ``filter~grating``.
    """

    instrument_name: typing.ClassVar[str] = "LATISS"
    ocps_index: typing.ClassVar[int] = 1
    detector_ids: typing.ClassVar[tuple[int, ...]] = (0,)
    camera_class: typing.ClassVar[typing.Callable[..., BaseCamera]] = LATISS

    def __init__(self, index: int) -> None:
        super().__init__(
            index=index,
            descr="Take biases, darks and flats with LATISS and make combined calibrations with the OCPS.",
        )
        self.grating_name: str | None = None

    @classmethod
    def get_schema(cls) -> dict[str, typing.Any]:
        """The shared schema for LATISS (detector 0, LATISS collections), with ``grating``."""
        schema = make_schema(
            "LATISS",
            detector_ids=cls.detector_ids,
            detectors_description="Detector ids passed to the pipelines: LATISS has one, 0 (RXX_S00). "
            "Empty: detector 0.",
            title="MakeLatissCalibrations v1",
            description=(
                "Configuration of make_latiss_calibrations: take biases, darks and flats with LATISS, "
                "generate and verify combined calibrations through the OCPS, certify the accepted ones "
                "and report gains from flat pairs."
            ),
            filter_example="SDSSr_65mm",
        )
        schema["properties"]["filter"]["description"] = (
            "Filter for the flats: a name from ATSpectrograph's filter wheel (settingsAppliedValues."
            "filterNames, e.g. SDSSr_65mm), or an integer, the 0-based slot in that list. null (the "
            "default): leave the filter wheel as it is. Biases and darks never move it."
        )
        properties = dict(schema["properties"])
        schema["properties"] = {}
        for name, value in properties.items():
            schema["properties"][name] = value
            if name == "filter":
                schema["properties"]["grating"] = {
                    "description": (
                        "Grating for the flats: a name from ATSpectrograph's grating wheel "
                        "(settingsAppliedValues.gratingNames, e.g. empty, holo4_003), or an integer, "
                        "the 0-based slot. null (the default): leave the grating wheel as it is."
                    ),
                    "anyOf": [
                        {"type": "string", "minLength": 1},
                        {"type": "integer", "minimum": 0},
                        {"type": "null"},
                    ],
                    "default": None,
                }
        return cls.add_reprocessing_options(schema)

    @property
    def latiss(self) -> LATISS:
        """The LATISS group."""
        assert isinstance(self.camera, LATISS)
        return self.camera

    async def resolve_filter(self, value: str | int | None) -> str | None:
        """Check ``filter`` and ``grating`` against the spectrograph's wheels; return ``filter~grating``.

        The half not given is the one in place (`LATISS.get_setup`). Both
        null: `None` (nothing moves).

        Raises
        ------
        ExpectedError
            If the spectrograph does not tell its wheels, or a name or slot
            is not on its wheel (the message lists those that are).
        """
        grating_value = self._config.get("grating") if self._config else None
        self.grating_name = None
        if value is None and grating_value is None:
            return None
        try:
            filters, gratings, _ = await self.latiss.get_available_instrument_setup()
            in_place_filter, in_place_grating, _ = await self.latiss.get_setup()
        except RuntimeError as e:
            raise ExpectedError(f"filter={value!r}, grating={grating_value!r} cannot be checked: {e}") from e
        try:
            filter_name = resolve_filter(value, filters) if value is not None else in_place_filter
        except ValueError as e:
            raise ExpectedError(str(e)) from e
        try:
            grating = (
                resolve_filter(grating_value, gratings) if grating_value is not None else in_place_grating
            )
        except ValueError as e:
            raise ExpectedError(str(e).replace("filter", "grating")) from e
        self.grating_name = grating
        return f"{filter_name}~{grating}"

    async def current_filter(self) -> str | None:
        """The physical filter in place, ``filter~grating`` (ATSpectrograph's last reports), or None.

        Read from what the spectrograph has written, without waiting: one
        that is not running leaves it unknown.
        """
        return self.latiss.filter_in_place()

    def instrument_setup(self) -> dict[str, typing.Any]:
        """The spectrograph's filter and grating for the flats (from ``filter~grating``)."""
        if self.filter_name is None:
            return {}
        filter_name, _, grating = self.filter_name.partition("~")
        return {"filter": filter_name, "grating": grating}
