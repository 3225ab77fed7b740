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

"""Combine flats of one detector and filter, scaled by the focal-plane normalization.

`CalibCombineByFilterTask` is `CalibCombineTask` with the physical filter
in its dimensions and the per-exposure scales of ``cpFlatNormalizeScales``
as an input, so the combined flat keeps the relative levels of the
detectors and averages 1 over the focal plane.
"""

__all__ = ["CalibCombineByFilterConfig", "CalibCombineByFilterConnections", "CalibCombineByFilterTask"]

# Connection names follow the Science Pipelines (camelCase).
# ruff: noqa: N802, N815

from lsst.pipe.base import connectionTypes as cT

from .cp_combine import CalibCombineConfig, CalibCombineConnections, CalibCombineTask


class CalibCombineByFilterConnections(
    CalibCombineConnections, dimensions=("instrument", "detector", "physical_filter")
):
    """Connections of `CalibCombineByFilterTask`."""

    inputScales = cT.Input(
        name="cpFlatNormalizeScales",
        doc="Focal-plane normalization: scale of each exposure.",
        storageClass="StructuredDataDict",
        dimensions=("instrument", "physical_filter"),
    )
    outputData = cT.Output(
        name="flat",
        doc="The combined flat.",
        storageClass="ComCamExposure",
        dimensions=("instrument", "detector", "physical_filter"),
        isCalibration=True,
    )


class CalibCombineByFilterConfig(CalibCombineConfig, pipelineConnections=CalibCombineByFilterConnections):
    """Configuration of `CalibCombineByFilterTask`."""

    def setDefaults(self) -> None:
        """Set the flat's type, scaling and input dataset type."""
        super().setDefaults()
        self.calibrationType = "flat"
        self.exposureScaling = "InputList"
        self.connections.inputExpHandles = "cpFlatIsrExp"


class CalibCombineByFilterTask(CalibCombineTask):
    """Combine the flats of one detector in one filter.

    Parameters
    ----------
    **kwargs
        Passed to `lsst.pipe.base.PipelineTask`.
    """

    ConfigClass = CalibCombineByFilterConfig
    _DefaultName = "cpFlatCombine"
