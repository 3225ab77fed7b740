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


"""PipelineSplit: the per-exposure and run-level labels of a calibration pipeline.

A pipeline of this package (cp_pipe's and cp_verify's labels) splits in
two label subsets (pipe_base's ``pipeline.yaml#label1,label2``):

- the per-exposure part: the tasks whose quanta have the ``exposure``
  dimension (ISR, cosmic-ray masking, per-exposure levels, defects and
  verification statistics, the per-exposure merge of the verification
  statistics over detectors), which can run on exposures as they land;
- the run-level part: the tasks over every exposure of the run (combine,
  flat normalization, PTC pair extraction and solve, defect merge,
  run-level verification statistics), which run once at the end over the
  per-exposure part's outputs.

The table `SPLITS` is checked against the pipelines' task dimensions by
the tests (``tests/scripts/test_incremental_processing.py``): the script
never imports the pipelines, which live where the OCPS runs them.
"""

from __future__ import annotations

__all__ = ["PipelineSplit"]

import dataclasses
from collections.abc import Sequence
from typing import ClassVar

_LABELLED_OPTIONS = ("-c", "--config", "-C", "--config-file")


@dataclasses.dataclass(frozen=True)
class PipelineSplit:
    """The per-exposure and run-level task labels of one pipeline.

    Parameters
    ----------
    per_exposure : `tuple` [`str`, ...]
        Labels of the tasks run per exposure (and detector).
    run_level : `tuple` [`str`, ...]
        Labels of the tasks run over the whole run.
    """

    per_exposure: tuple[str, ...]
    run_level: tuple[str, ...]

    SPLITS: ClassVar[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
        "cpBias": (("isr",), ("cpBiasCombine",)),
        "cpDark": (("isr", "cpDark"), ("cpDarkCombine",)),
        "cpFlat": (("isr", "cpFlatMeasure"), ("cpFlatNormalize", "cpFlatCombine")),
        "cpDefects": (("isr", "measureDefects"), ("mergeDefects",)),
        "findDefects": (("isr", "measureDefects"), ("mergeDefects",)),
        "cpPtc": (("isr",), ("cpExtract", "cpPtcSolve")),
        "cpPtc#cpPtcGainFromFlatPairs": (("isr",), ("cpExtract",)),
        "cpPtc#generateGainFromFlatPair": (("isr",), ("cpExtract",)),
        "verifyBias": (("isr", "verifyBiasMeasure", "verifyBiasExpMerge"), ("verifyBiasRunMerge",)),
        "verifyDark": (("isr", "verifyDarkMeasure", "verifyDarkExpMerge"), ("verifyDarkRunMerge",)),
        "verifyFlat": (("isr", "verifyFlatMeasure", "verifyFlatExpMerge"), ("verifyFlatRunMerge",)),
    }
    """Per pipeline name (file stem, with its ``#subset`` if any): the
    per-exposure labels and the run-level labels."""

    @staticmethod
    def name_of(pipeline: str) -> str:
        """The pipeline's name in `SPLITS`: file stem and ``#subset`` of a pipeline URL.

        Parameters
        ----------
        pipeline : `str`
            E.g. ``${CP_PIPE_DIR}/pipelines/LSSTComCam/cpPtc.yaml#generateGainFromFlatPair``.

        Returns
        -------
        name : `str`
            E.g. ``cpPtc#generateGainFromFlatPair``.
        """
        path, _, subset = pipeline.partition("#")
        stem = path.rsplit("/", 1)[-1].removesuffix(".yaml")
        return f"{stem}#{subset}" if subset else stem

    @classmethod
    def of(cls, pipeline: str) -> PipelineSplit | None:
        """The split of a pipeline URL, or `None` if it has none (it then runs as one job).

        Parameters
        ----------
        pipeline : `str`
            Pipeline URL, possibly with a ``#subset``.

        Returns
        -------
        split : `PipelineSplit` or `None`
            Its per-exposure and run-level labels.
        """
        labels = cls.SPLITS.get(cls.name_of(pipeline))
        return cls(*labels) if labels is not None else None

    @staticmethod
    def subset_url(pipeline: str, labels: Sequence[str]) -> str:
        """The pipeline URL restricted to ``labels`` (``file.yaml#label1,label2``).

        Parameters
        ----------
        pipeline : `str`
            Pipeline URL; a subset it names is replaced.
        labels : sequence of `str`
            Task labels to run.

        Returns
        -------
        url : `str`
            The URL with the labels as its fragment.
        """
        return f"{pipeline.partition('#')[0]}#{','.join(labels)}"

    def per_exposure_url(self, pipeline: str) -> str:
        """The URL of the per-exposure part of ``pipeline``."""
        return self.subset_url(pipeline, self.per_exposure)

    def run_level_url(self, pipeline: str) -> str:
        """The URL of the run-level part of ``pipeline``."""
        return self.subset_url(pipeline, self.run_level)

    @staticmethod
    def options_for(options: Sequence[str], labels: Sequence[str]) -> tuple[str, ...]:
        """The pipetask options that apply to a label subset.

        ``pipetask`` refuses a ``-c label:field=value`` (or ``-C
        label:file``) naming a label the pipeline it runs does not have, so
        those of labels outside the subset are dropped; every other option
        is kept.

        Parameters
        ----------
        options : sequence of `str`
            Pipetask options, split into arguments.
        labels : sequence of `str`
            The labels that run.

        Returns
        -------
        kept : `tuple` [`str`, ...]
            The options for that subset, in order.
        """
        kept: list[str] = []
        i = 0
        while i < len(options):
            name = options[i]
            if name in _LABELLED_OPTIONS and i + 1 < len(options):
                value = options[i + 1]
                if value.partition(":")[0] in labels:
                    kept += [name, value]
                i += 2
                continue
            kept.append(name)
            i += 1
        return tuple(kept)

    def describe(self) -> str:
        """E.g. ``per exposure isr, cpDark; run level cpDarkCombine``."""
        return f"per exposure {', '.join(self.per_exposure)}; run level {', '.join(self.run_level)}"
