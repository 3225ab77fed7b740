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

"""Run roll-up of verification statistics (cp_verify's ``CpVerifyRunMergeTask``).

`VerifyRunMergeTask` (labels ``verifyBiasRunMerge``, ``verifyDarkRunMerge``,
``verifyFlatRunMerge``) merges the ``verify<X>ExpStats`` of a run into
``verify<X>Stats`` (dimensions {instrument}): keyed by exposure id,
``{"SUCCESS": bool, "FAILURES": ["R22_S11 C10 NOISE", ...]}``, with a
top-level ``SUCCESS``.
"""

__all__ = ["VerifyRunMergeConfig", "VerifyRunMergeConnections", "VerifyRunMergeTask"]

# Connection, config field and run() argument names follow the Science Pipelines (camelCase).
# ruff: noqa: N803, N815

from collections.abc import Mapping, Sequence
from typing import Any

from lsst.pipe.base import PipelineTask, PipelineTaskConfig, PipelineTaskConnections, Struct
from lsst.pipe.base import connectionTypes as cT

from .verify_statistics import run_summary


class VerifyRunMergeConnections(PipelineTaskConnections, dimensions=("instrument",)):
    """Connections of `VerifyRunMergeTask`: exposure statistics in, run statistics out."""

    inputStats = cT.Input(
        name="verifyBiasExpStats",
        doc="Statistics of each exposure of the run.",
        storageClass="StructuredDataDict",
        dimensions=("instrument", "exposure"),
        multiple=True,
    )
    outputStats = cT.Output(
        name="verifyBiasStats",
        doc="Run roll-up: per exposure SUCCESS and FAILURES, and SUCCESS.",
        storageClass="StructuredDataDict",
        dimensions=("instrument",),
    )


class VerifyRunMergeConfig(PipelineTaskConfig, pipelineConnections=VerifyRunMergeConnections):
    """Configuration of `VerifyRunMergeTask`."""


class VerifyRunMergeTask(PipelineTask):
    """Merge the exposure statistics of a run."""

    ConfigClass = VerifyRunMergeConfig
    _DefaultName = "verifyRunMerge"
    config: VerifyRunMergeConfig

    def run(self, inputStats: Sequence[Mapping[str, Any]]) -> Struct:
        """Roll up the exposures.

        Parameters
        ----------
        inputStats : `~collections.abc.Sequence` [`~collections.abc.Mapping`]
            ``verify<X>ExpStats`` of the run.

        Returns
        -------
        result : `~lsst.pipe.base.Struct`
            ``outputStats``: the run summary.

        Raises
        ------
        ValueError
            Raised if there are no inputs.
        """
        if not inputStats:
            raise ValueError("No exposure statistics to merge.")
        return Struct(outputStats=run_summary(inputStats))
