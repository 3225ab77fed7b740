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

"""Mask cosmic rays in processed darks before they are combined.

`CpDarkTask` (cp_pipe's ``cpDark``) marks the pixels of a bias-subtracted
dark that stand far above the image's level, grown by a pixel, in the CR
mask plane; the dark combination leaves them out. The pixel values are
kept.
"""

__all__ = ["CpDarkConfig", "CpDarkConnections", "CpDarkTask"]

# Connection, config field and run() argument names follow the Science Pipelines (camelCase).
# ruff: noqa: N803, N815

from lsst.pex.config import Field
from lsst.pipe.base import PipelineTask, PipelineTaskConfig, PipelineTaskConnections, Struct
from lsst.pipe.base import connectionTypes as cT

from ..repo.images import MASK_PLANES, Exposure
from .calib_algorithms import cosmic_ray_mask


class CpDarkConnections(PipelineTaskConnections, dimensions=("instrument", "exposure", "detector")):
    """Connections of `CpDarkTask`."""

    inputExp = cT.Input(
        name="cpDarkIsrExp",
        doc="Bias-subtracted dark.",
        storageClass="ComCamExposure",
        dimensions=("instrument", "exposure", "detector"),
    )
    outputExp = cT.Output(
        name="cpDarkRemoveCRIsrExp",
        doc="The dark with cosmic rays masked (CR).",
        storageClass="ComCamExposure",
        dimensions=("instrument", "exposure", "detector"),
    )


class CpDarkConfig(PipelineTaskConfig, pipelineConnections=CpDarkConnections):
    """Configuration of `CpDarkTask`."""

    crNSigma = Field[float](
        doc="Cosmic-ray threshold: clipped standard deviations above the clipped mean.", default=6.0
    )
    crGrow = Field[int](doc="Pixels by which cosmic-ray detections are grown.", default=1)


class CpDarkTask(PipelineTask):
    """Mask cosmic rays in one processed dark.

    Parameters
    ----------
    **kwargs
        Passed to `lsst.pipe.base.PipelineTask`.
    """

    ConfigClass = CpDarkConfig
    _DefaultName = "cpDark"

    config: CpDarkConfig

    def run(self, inputExp: Exposure) -> Struct:
        """Mask cosmic rays.

        Parameters
        ----------
        inputExp : `lsst.ts.calibrations.repo.images.Exposure`
            The dark; not modified.

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``outputExp``: a copy with the CR mask plane set.
        """
        output = inputExp.clone()
        usable = (output.mask.array & (MASK_PLANES["BAD"] | MASK_PLANES["SAT"] | MASK_PLANES["NO_DATA"])) == 0
        crs = cosmic_ray_mask(
            output.image.array, usable, nsigma=self.config.crNSigma, grow=self.config.crGrow
        )
        output.mask.array[crs] |= MASK_PLANES["CR"]
        output.metadata["LSST CPDARK CR PIXELS"] = int(crs.sum())
        self.log.info("Masked %d cosmic-ray pixels.", int(crs.sum()))
        return Struct(outputExp=output)
