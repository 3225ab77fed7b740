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

"""Measure the level of each processed flat for the focal-plane normalization.

`CpFlatMeasureTask` (cp_pipe's ``cpFlatMeasure``) records the clipped mean
and standard deviation of a processed flat over the detector and per
amplifier, leaving out masked pixels.
"""

__all__ = ["CpFlatMeasureConfig", "CpFlatMeasureConnections", "CpFlatMeasureTask"]

# Connection, config field and run() argument names follow the Science Pipelines (camelCase).
# ruff: noqa: N803, N815

from typing import Any

import numpy as np
from lsst.pex.config import Field
from lsst.pipe.base import PipelineTask, PipelineTaskConfig, PipelineTaskConnections, Struct
from lsst.pipe.base import connectionTypes as cT

from ..repo.camera import Camera
from ..repo.images import MASK_PLANES, Exposure
from .calib_algorithms import clipped_mean_stdev


class CpFlatMeasureConnections(PipelineTaskConnections, dimensions=("instrument", "exposure", "detector")):
    """Connections of `CpFlatMeasureTask`."""

    inputExp = cT.Input(
        name="cpFlatIsrExp",
        doc="Processed flat.",
        storageClass="ComCamExposure",
        dimensions=("instrument", "exposure", "detector"),
    )
    outputStats = cT.Output(
        name="cpFlatStatistics",
        doc="Level of the flat: clipped mean over the detector and per amplifier.",
        storageClass="StructuredDataDict",
        dimensions=("instrument", "exposure", "detector"),
    )


class CpFlatMeasureConfig(PipelineTaskConfig, pipelineConnections=CpFlatMeasureConnections):
    """Configuration of `CpFlatMeasureTask`."""

    nSigma = Field[float](doc="Clipping threshold.", default=3.0)
    nIter = Field[int](doc="Clipping passes.", default=3)


class CpFlatMeasureTask(PipelineTask):
    """Measure the level of one processed flat.

    Parameters
    ----------
    **kwargs
        Passed to `lsst.pipe.base.PipelineTask`.
    """

    ConfigClass = CpFlatMeasureConfig
    _DefaultName = "cpFlatMeasure"

    config: CpFlatMeasureConfig

    def run(self, inputExp: Exposure) -> Struct:
        """Measure the flat.

        Parameters
        ----------
        inputExp : `lsst.ts.calibrations.repo.images.Exposure`
            The processed flat; not modified.

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``outputStats``: `dict` with ``DETECTOR``, ``EXPOSURE``,
            ``PHYSICAL_FILTER``, ``UNITS``, ``MEAN``, ``STDEV``, ``NPIX`` and
            ``AMP`` (per amplifier ``MEAN``, ``STDEV``, ``NPIX``).

        Raises
        ------
        ValueError
            Raised if the flat has no usable pixel.
        """
        metadata = inputExp.metadata
        detector = Camera.of_metadata(metadata)[int(metadata["DETECTOR"])]
        image = inputExp.image.array
        usable = (
            inputExp.mask.array & (MASK_PLANES["BAD"] | MASK_PLANES["SAT"] | MASK_PLANES["NO_DATA"])
        ) == 0
        mean, stdev, npix = clipped_mean_stdev(
            image[usable], nsigma=self.config.nSigma, n_iter=self.config.nIter
        )
        if npix == 0:
            raise ValueError(
                f"Flat exposure {metadata.get('EXPOSURE')} detector {detector.name} has no usable pixel."
            )
        amps: dict[str, Any] = {}
        ny, nx = image.shape[0] // 2, image.shape[1] // 8
        for amp in detector.amps:
            cut = (slice(amp.iy * ny, (amp.iy + 1) * ny), slice(amp.ix * nx, (amp.ix + 1) * nx))
            a_mean, a_stdev, a_npix = clipped_mean_stdev(
                image[cut][usable[cut]], nsigma=self.config.nSigma, n_iter=self.config.nIter
            )
            amps[amp.name] = {"MEAN": a_mean, "STDEV": a_stdev, "NPIX": a_npix}
        stats = {
            "DETECTOR": detector.id,
            "EXPOSURE": int(metadata["EXPOSURE"]),
            "PHYSICAL_FILTER": str(metadata.get("FILTER", "")),
            "UNITS": str(metadata.get("LSST ISR UNITS", "")),
            "MEAN": float(mean),
            "STDEV": float(stdev),
            "NPIX": int(npix),
            "AMP": amps,
        }
        if not np.isfinite(mean):
            raise ValueError(
                f"Flat exposure {metadata.get('EXPOSURE')} detector {detector.name}: mean is {mean}."
            )
        return Struct(outputStats=stats)
