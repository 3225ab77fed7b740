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

"""Measure defects in one processed dark or flat (cp_pipe's ``measureDefects``).

`MeasureDefectsTask` finds hot, cold and column defects amplifier by
amplifier (see `~lsst.ts.calibrations.cp.defect_finding`) in an ISR-processed
(or combined) dark or flat and writes them as partial defects of that
exposure; `~lsst.ts.calibrations.cp.merge_defects.MergeDefectsTask` merges
the partial defects of a detector into the ``defects`` calibration.
"""

__all__ = ["MeasureDefectsConfig", "MeasureDefectsConnections", "MeasureDefectsTask"]

from typing import Any

from lsst.pex.config import Field
from lsst.pipe.base import PipelineTask, PipelineTaskConfig, PipelineTaskConnections, Struct
from lsst.pipe.base import connectionTypes as cT

from ..repo.defects import Defects
from ..repo.images import Exposure
from .defect_finding import DefectThresholds, column_threshold, find_defects

IMGTYPE_KINDS = {"DARK": "dark", "FLAT": "flat"}


class MeasureDefectsConnections(PipelineTaskConnections, dimensions=("instrument", "exposure", "detector")):
    """Connections of `MeasureDefectsTask`."""

    inputExp = cT.Input(
        name="cpDefectsIsrExp",
        doc="ISR-processed dark or flat (IMGTYPE DARK or FLAT).",
        storageClass="ComCamExposure",
        dimensions=("instrument", "exposure", "detector"),
    )
    outputDefects = cT.Output(
        name="cpPartialDefects",
        doc="Defects found in this exposure; metadata IMGTYPE says which kind.",
        storageClass="ComCamDefects",
        dimensions=("instrument", "exposure", "detector"),
    )


class MeasureDefectsConfig(PipelineTaskConfig, pipelineConnections=MeasureDefectsConnections):
    """Configuration of `MeasureDefectsTask` (cp_pipe's ComCam values)."""

    nSigmaBright = Field[float](doc="Hot pixels: clipped sigmas above the clipped mean.", default=4.8)
    nSigmaDark = Field[float](doc="Cold pixels in flats: clipped sigmas below the clipped mean.", default=5.0)
    darkCurrentThreshold = Field[float](
        doc="Hot pixels in darks: dark current above this (e-/s).", default=3.0
    )
    fracThresholdFlat = Field[float](
        doc="Cold pixels in flats: below this fraction of the mean.", default=0.9
    )
    badPixelsToFillColumnThreshold = Field[int](
        doc="Defect pixels in one amplifier column (2000-row amplifiers) that make the whole column "
        "bad; scaled by rows / 2000 for other geometries (minimum 3).",
        default=50,
    )
    goodPixelColumnGapThreshold = Field[int](
        doc="Consecutive good pixels (2000-row amplifiers) across which a bad column is not filled; "
        "scaled by rows / 2000 for other geometries (minimum 2).",
        default=30,
    )

    def thresholds(self, vote_fraction: float = 0.7) -> DefectThresholds:
        """Return the thresholds as a `DefectThresholds`."""
        return DefectThresholds(
            hot_nsigma=self.nSigmaBright,
            cold_nsigma=self.nSigmaDark,
            dark_current_threshold=self.darkCurrentThreshold,
            flat_cold_fraction=self.fracThresholdFlat,
            column_pixels_full=self.badPixelsToFillColumnThreshold,
            column_gap_full=self.goodPixelColumnGapThreshold,
            vote_fraction=vote_fraction,
        )


class MeasureDefectsTask(PipelineTask):
    """Find the defects of one processed dark or flat.

    Parameters
    ----------
    **kwargs
        Passed to `lsst.pipe.base.PipelineTask`.
    """

    ConfigClass = MeasureDefectsConfig
    _DefaultName = "measureDefects"
    config: MeasureDefectsConfig

    def run(self, inputExp: Exposure) -> Struct:
        """Find the defects.

        Parameters
        ----------
        inputExp : `~lsst.ts.calibrations.repo.images.Exposure`
            The processed dark (electrons, with DARKTIME) or flat; not
            modified.

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``outputDefects``: `~lsst.ts.calibrations.repo.defects.Defects`
            with metadata IMGTYPE (DARK or FLAT), EXPOSURE and DETECTOR.

        Raises
        ------
        ValueError
            Raised if the exposure is not a dark or flat, or a dark has no
            positive DARKTIME.
        """
        metadata: dict[str, Any] = inputExp.metadata
        imgtype = str(metadata.get("IMGTYPE", "")).upper()
        if imgtype not in IMGTYPE_KINDS:
            raise ValueError(
                f"Exposure {metadata.get('EXPOSURE')} has IMGTYPE={imgtype!r}: defects are measured "
                f"from {sorted(IMGTYPE_KINDS)} exposures only; select those in the data query."
            )
        kind = IMGTYPE_KINDS[imgtype]
        dark_time = 1.0
        if kind == "dark":
            dark_time = float(metadata.get("DARKTIME", metadata.get("EXPTIME", 0.0)))
            if not dark_time > 0:
                raise ValueError(
                    f"Dark exposure {metadata.get('EXPOSURE')} has DARKTIME={dark_time}: it must be > 0 s."
                )
        mask = find_defects(inputExp, kind, dark_time=dark_time, thresholds=self.config.thresholds())
        ny = inputExp.shape[0] // 2
        defects = Defects.from_mask(
            mask,
            metadata={
                "IMGTYPE": imgtype,
                "EXPOSURE": int(metadata.get("EXPOSURE", -1)),
                "DETECTOR": int(inputExp.detector if inputExp.detector is not None else -1),
                "LSST CP DEFECTS PIXELS": int(mask.sum()),
                "LSST CP DEFECTS COLUMN THRESHOLD": column_threshold(
                    ny, self.config.badPixelsToFillColumnThreshold
                ),
            },
        )
        self.log.info("Found %d defect pixels in %d boxes in a %s.", int(mask.sum()), len(defects), kind)
        return Struct(outputDefects=defects)
