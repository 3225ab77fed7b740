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

"""Exposure roll-up of verification statistics (cp_verify's ``CpVerifyExpMergeTask``).

`VerifyExposureMergeTask` (labels ``verifyBiasExpMerge``,
``verifyDarkExpMerge``, ``verifyFlatExpMerge``) merges the
``verify<X>DetStats`` of one exposure into ``verify<X>ExpStats``:
``{det_name: {"SUCCESS": bool, "FAILURES": ["C10 NOISE", ...]}}`` plus
``EXPOSURE``, ``EXP``/``VERIFY`` (for flats the ``SCATTER`` of detector
means ≤ 0.05), ``SUCCESS`` and ``FAILURES`` (["R22_S11 C10 NOISE", ...]).
"""

__all__ = ["VerifyExposureMergeConfig", "VerifyExposureMergeConnections", "VerifyExposureMergeTask"]

# Connection, config field and run() argument names follow the Science Pipelines (camelCase).
# ruff: noqa: N803, N815

from collections.abc import Mapping, Sequence
from typing import Any

from lsst.pex.config import Field
from lsst.pipe.base import PipelineTask, PipelineTaskConfig, PipelineTaskConnections, Struct
from lsst.pipe.base import connectionTypes as cT

from .verify_statistics import VerifyThresholds, exposure_summary


class VerifyExposureMergeConnections(PipelineTaskConnections, dimensions=("instrument", "exposure")):
    """Connections of `VerifyExposureMergeTask`: detector statistics in, exposure statistics out."""

    inputStats = cT.Input(
        name="verifyBiasDetStats",
        doc="Statistics of each detector of the exposure.",
        storageClass="StructuredDataDict",
        dimensions=("instrument", "exposure", "detector"),
        multiple=True,
    )
    outputStats = cT.Output(
        name="verifyBiasExpStats",
        doc="Exposure roll-up: per detector SUCCESS and FAILURES.",
        storageClass="StructuredDataDict",
        dimensions=("instrument", "exposure"),
    )


class VerifyExposureMergeConfig(PipelineTaskConfig, pipelineConnections=VerifyExposureMergeConnections):
    """Configuration of `VerifyExposureMergeTask`."""

    doExposureScatter = Field[bool](doc="Test the scatter of detector means (flats).", default=False)
    exposureScatter = Field[float](doc="Largest std / mean of the detector means.", default=0.05)


class VerifyExposureMergeTask(PipelineTask):
    """Merge the detector statistics of one exposure."""

    ConfigClass = VerifyExposureMergeConfig
    _DefaultName = "verifyExposureMerge"
    config: VerifyExposureMergeConfig

    def run(self, inputStats: Sequence[Mapping[str, Any]]) -> Struct:
        """Roll up the detectors.

        Parameters
        ----------
        inputStats : `~collections.abc.Sequence` [`~collections.abc.Mapping`]
            ``verify<X>DetStats`` of the exposure's detectors.

        Returns
        -------
        result : `~lsst.pipe.base.Struct`
            ``outputStats``: the exposure summary.

        Raises
        ------
        ValueError
            Raised if there are no inputs or they belong to different exposures.
        """
        if not inputStats:
            raise ValueError("No detector statistics to merge.")
        exposures = {stats["METADATA"]["EXPOSURE"] for stats in inputStats}
        if len(exposures) != 1:
            raise ValueError(
                f"Detector statistics of several exposures {sorted(exposures)} cannot be merged."
            )
        summary = exposure_summary(
            inputStats,
            int(exposures.pop()),
            test_scatter=self.config.doExposureScatter,
            thresholds=VerifyThresholds(exposure_scatter=self.config.exposureScatter),
        )
        return Struct(outputStats=summary)
