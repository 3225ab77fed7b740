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

"""Photon transfer curve solve (cp_pipe's ``cpPtcSolve``, EXPAPPROXIMATION).

`PtcSolveTask` gathers the ``cpPtcExtract`` datasets of one detector (both
exposures of a pair carry the same values: each pair is used once; unpaired
exposures are skipped), orders the pairs by mean signal and fits Astier+19
eq. 16 per amplifier (`~lsst.ts.calibrations.cp.ptc_fit.fit_exp_approximation`).
The ``ptc`` it writes has gain (e⁻/ADU), noise = √n₀₀ (e⁻), the fit
parameters [a₀₀ (1/e⁻), g (e⁻/ADU), n₀₀ (e⁻²)], the turnoff (ADU) and the
per-pair means (ADU), variances (ADU²) and mask.
"""

__all__ = ["PtcSolveConfig", "PtcSolveConnections", "PtcSolveTask"]

# Connection, config field and run() argument names follow the Science Pipelines (camelCase).
# ruff: noqa: N803, N815

import logging
import math
from collections.abc import Sequence

import numpy as np
from lsst.pex.config import ChoiceField, Field
from lsst.pipe.base import PipelineTask, PipelineTaskConfig, PipelineTaskConnections, Struct
from lsst.pipe.base import connectionTypes as cT

from ..repo.ptc_dataset import PhotonTransferCurveDataset
from .ptc_fit import exp_approximation, fit_exp_approximation

_log = logging.getLogger("lsst.ts.calibrations.cp.ptc_solve")


class PtcSolveConnections(PipelineTaskConnections, dimensions=("instrument", "detector")):
    """Connections of `PtcSolveTask`: the pair datasets of a detector in, its ``ptc`` out."""

    inputCovariances = cT.Input(
        name="cpPtcExtract",
        doc="Per-exposure pair measurements.",
        storageClass="ComCamPtcDataset",
        dimensions=("instrument", "exposure", "detector"),
        multiple=True,
    )
    outputPtcDataset = cT.Output(
        name="ptc",
        doc="Photon transfer curve of the detector.",
        storageClass="ComCamPtcDataset",
        dimensions=("instrument", "detector"),
        isCalibration=True,
    )


class PtcSolveConfig(PipelineTaskConfig, pipelineConnections=PtcSolveConnections):
    """Configuration of `PtcSolveTask`."""

    ptcFitType = ChoiceField[str](
        doc="Model of the photon transfer curve.",
        default="EXPAPPROXIMATION",
        allowed={"EXPAPPROXIMATION": "Astier+19 eq. 16: exponential approximation of C00."},
    )
    sigmaCutPtcOutliers = Field[float](doc="Outlier rejection threshold (σ).", default=5.0)
    maxIterationsPtcOutliers = Field[int](doc="Outlier rejection iterations.", default=2)
    minNumberPairs = Field[int](doc="Fewest pairs an amplifier needs for a fit.", default=4)


class PtcSolveTask(PipelineTask):
    """Fit the photon transfer curve of each amplifier."""

    ConfigClass = PtcSolveConfig
    _DefaultName = "cpPtcSolve"
    config: PtcSolveConfig

    def run(self, inputCovariances: Sequence[PhotonTransferCurveDataset]) -> Struct:
        """Fit the PTC from the pair measurements.

        Parameters
        ----------
        inputCovariances : `~collections.abc.Sequence` [`PhotonTransferCurveDataset`]
            ``cpPtcExtract`` datasets of one detector (one per exposure).

        Returns
        -------
        result : `~lsst.pipe.base.Struct`
            ``outputPtcDataset``: the fitted `PhotonTransferCurveDataset`.

        Raises
        ------
        ValueError
            Raised if there are fewer pairs than ``minNumberPairs``, or the
            datasets disagree on their amplifiers.
        """
        pairs: dict[tuple[int, int], PhotonTransferCurveDataset] = {}
        amp_names: list[str] | None = None
        detector = None
        for dataset in inputCovariances:
            if not dataset.metadata.get("PAIRED", True):
                continue
            if amp_names is None:
                amp_names = list(dataset.ampNames)
                detector = dataset.metadata.get("DETECTOR")
            elif list(dataset.ampNames) != amp_names:
                raise ValueError(
                    f"cpPtcExtract datasets disagree on amplifiers: {dataset.ampNames} vs {amp_names}."
                )
            pair = tuple(int(e) for e in dataset.inputExpIdPairs[amp_names[0]][0])
            pairs.setdefault((pair[0], pair[1]), dataset)
        if amp_names is None or len(pairs) < self.config.minNumberPairs:
            raise ValueError(
                f"The PTC needs at least minNumberPairs={self.config.minNumberPairs} flat pairs; "
                f"got {len(pairs)} from {len(inputCovariances)} cpPtcExtract datasets."
            )
        ordered = sorted(pairs)
        ptc = PhotonTransferCurveDataset(ampNames=amp_names, ptcFitType=self.config.ptcFitType)
        ptc.metadata.update({"DETECTOR": detector, "NPAIRS": len(ordered)})
        for amp in amp_names:
            datasets = [pairs[p] for p in ordered]
            means = np.array([d.rawMeans[amp][0] for d in datasets])
            variances = np.array([d.rawVars[amp][0] for d in datasets])
            ptc.inputExpIdPairs[amp] = list(ordered)
            ptc.rawExpTimes[amp] = np.array([d.rawExpTimes[amp][0] for d in datasets])
            ptc.rawMeans[amp] = means
            ptc.rawVars[amp] = variances
            if all(amp in d.covariances for d in datasets):
                ptc.covariances[amp] = np.concatenate([d.covariances[amp] for d in datasets])
            try:
                fit = fit_exp_approximation(
                    means,
                    variances,
                    sigma_cut=self.config.sigmaCutPtcOutliers,
                    max_iterations=self.config.maxIterationsPtcOutliers,
                    min_points=self.config.minNumberPairs,
                )
            except ValueError as e:
                _log.warning("Detector %s amplifier %s: no PTC fit: %s", detector, amp, e)
                ptc.expIdMask[amp] = np.zeros(len(ordered), dtype=bool)
                continue
            ptc.expIdMask[amp] = fit.mask
            ptc.gain[amp] = fit.gain
            ptc.gainErr[amp] = fit.errors[1]
            ptc.noise[amp] = fit.noise
            ptc.noiseErr[amp] = fit.noise_err
            ptc.ptcFitPars[amp] = np.array([fit.a00, fit.gain, fit.n00])
            ptc.ptcFitParsError[amp] = np.array(fit.errors)
            ptc.ptcFitChiSq[amp] = fit.chi2_dof
            ptc.ptcTurnoff[amp] = fit.turnoff
            ptc.finalMeans[amp] = np.where(fit.mask, means, math.nan)
            ptc.finalVars[amp] = np.where(fit.mask, variances, math.nan)
            ptc.finalModelVars[amp] = np.where(
                fit.mask, exp_approximation(means, fit.a00, fit.gain, fit.n00), math.nan
            )
        return Struct(outputPtcDataset=ptc)
