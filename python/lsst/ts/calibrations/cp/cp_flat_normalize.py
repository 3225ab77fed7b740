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

"""Focal-plane normalization of flats: exposure levels and detector levels.

`CpFlatNormalizeTask` (cp_pipe's ``cpFlatNormalize``) takes the level
B[d, e] of every detector d in every flat exposure e of a run and solves
log B[d,e] = log E[e] + log G[d] (`solve_flat_normalization`). Dividing
each flat by E[e] before combining keeps the detectors' relative levels
G[d], whose mean is 1.
"""

__all__ = ["CpFlatNormalizeConfig", "CpFlatNormalizeConnections", "CpFlatNormalizeTask"]

# Connection, config field and run() argument names follow the Science Pipelines (camelCase).
# ruff: noqa: N803, N815

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from lsst.pex.config import Field
from lsst.pipe.base import PipelineTask, PipelineTaskConfig, PipelineTaskConnections, Struct
from lsst.pipe.base import connectionTypes as cT

from .calib_algorithms import solve_flat_normalization


class CpFlatNormalizeConnections(PipelineTaskConnections, dimensions=("instrument", "physical_filter")):
    """Connections of `CpFlatNormalizeTask`."""

    inputStats = cT.Input(
        name="cpFlatStatistics",
        doc="Level of each flat of each detector.",
        storageClass="StructuredDataDict",
        dimensions=("instrument", "exposure", "detector"),
        multiple=True,
    )
    outputScales = cT.Output(
        name="cpFlatNormalizeScales",
        doc="Scale of each exposure (expScale) and relative level of each detector (detScale).",
        storageClass="StructuredDataDict",
        dimensions=("instrument", "physical_filter"),
    )


class CpFlatNormalizeConfig(PipelineTaskConfig, pipelineConnections=CpFlatNormalizeConnections):
    """Configuration of `CpFlatNormalizeTask`."""

    maxIter = Field[int](doc="Maximum iterations of the solution.", default=100)
    tolerance = Field[float](doc="Convergence threshold on the change of the log scales.", default=1e-10)


class CpFlatNormalizeTask(PipelineTask):
    """Solve for the exposure and detector levels of a run's flats.

    Parameters
    ----------
    **kwargs
        Passed to `lsst.pipe.base.PipelineTask`.
    """

    ConfigClass = CpFlatNormalizeConfig
    _DefaultName = "cpFlatNormalize"

    config: CpFlatNormalizeConfig

    def run(self, inputStats: Sequence[Mapping[str, Any]]) -> Struct:
        """Solve the normalization.

        Parameters
        ----------
        inputStats : `~collections.abc.Sequence` [`~collections.abc.Mapping`]
            ``cpFlatStatistics`` of every detector and exposure.

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``outputScales``: `dict` with ``expScale`` (exposure id string →
            E), ``detScale`` (detector id string → G), ``nIter``,
            ``residualRms`` (of log B) and ``units``.

        Raises
        ------
        ValueError
            Raised if there are no statistics or a level is not positive.
        """
        if len(inputStats) == 0:
            raise ValueError("cpFlatNormalize: no flat statistics to normalize.")
        detectors = sorted({int(s["DETECTOR"]) for s in inputStats})
        exposures = sorted({int(s["EXPOSURE"]) for s in inputStats})
        levels = np.full((len(detectors), len(exposures)), np.nan)
        for stats in inputStats:
            levels[detectors.index(int(stats["DETECTOR"])), exposures.index(int(stats["EXPOSURE"]))] = float(
                stats["MEAN"]
            )
        solution = solve_flat_normalization(
            levels, max_iter=self.config.maxIter, tolerance=self.config.tolerance
        )
        self.log.info(
            "Normalized %d exposures over %d detectors in %d iterations (log residual RMS %.2g).",
            len(exposures),
            len(detectors),
            solution.n_iter,
            solution.residual_rms,
        )
        scales = {
            "expScale": {str(e): float(v) for e, v in zip(exposures, solution.exposure_scales)},
            "detScale": {str(d): float(v) for d, v in zip(detectors, solution.detector_scales)},
            "nIter": int(solution.n_iter),
            "residualRms": float(solution.residual_rms),
            "units": {"expScale": str(inputStats[0].get("UNITS", "")), "detScale": ""},
        }
        return Struct(outputScales=scales)
