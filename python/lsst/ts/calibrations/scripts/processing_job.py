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


"""ProcessingJob: one OCPS job of a run, what part of which pipeline it ran, on which exposures."""

from __future__ import annotations

__all__ = ["JobPart", "ProcessingJob"]

import dataclasses
import enum
from typing import Any


class JobPart(enum.StrEnum):
    """Which part of its pipeline a job runs."""

    WHOLE = "whole"
    """The whole pipeline over every exposure (the one-job way)."""
    PER_EXPOSURE = "per-exposure"
    """The per-exposure tasks over the exposures that arrived since the previous such job."""
    RUN_LEVEL = "run-level"
    """The run-level tasks over the per-exposure jobs' outputs."""


@dataclasses.dataclass(frozen=True)
class ProcessingJob:
    """One OCPS job submitted by the run's processing.

    Parameters
    ----------
    job_id : `str`
        The OCPS job id.
    label : `str`
        What it does, e.g. "generate BIAS (per-exposure 2)".
    step : `str`
        The processing step (product), e.g. "BIAS".
    kind : `str`
        "generate" or "verify".
    part : `JobPart`
        Which part of the pipeline it runs.
    pipeline : `str`
        The pipeline URL submitted, with its label subset if any.
    exposures : `tuple` [`int`, ...]
        The exposures of its data query.
    inputs : `tuple` [`str`, ...]
        Its input collections (the OCPS adds the raws).
    submitted : `str`
        When it was submitted (ISO, UTC).
    """

    job_id: str
    label: str
    step: str
    kind: str
    part: JobPart
    pipeline: str
    exposures: tuple[int, ...]
    inputs: tuple[str, ...]
    submitted: str

    def to_dict(self) -> dict[str, Any]:
        """The fields the run record adds to the job's entry (JSON-compatible)."""
        return {
            "label": self.label,
            "step": self.step,
            "kind": self.kind,
            "part": str(self.part),
            "pipeline": self.pipeline,
            "exposures": list(self.exposures),
            "inputs": list(self.inputs),
            "submitted": self.submitted,
        }
