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

"""Merge the partial defects of a detector into its ``defects`` (cp_pipe's ``mergeDefects``).

Per image type (dark, flat), a pixel is a defect when it is one in at least
``fraction`` (0.7) of that type's exposures, which drops cosmic rays in
single darks; the types are then OR'ed.
"""

__all__ = ["MergeDefectsConfig", "MergeDefectsConnections", "MergeDefectsTask"]

from collections.abc import Sequence

from lsst.pex.config import Field
from lsst.pipe.base import PipelineTask, PipelineTaskConfig, PipelineTaskConnections, Struct
from lsst.pipe.base import connectionTypes as cT

from ..repo.defects import Defects
from .defect_finding import merge_defect_masks


class MergeDefectsConnections(PipelineTaskConnections, dimensions=("instrument", "detector")):
    """Connections of `MergeDefectsTask`."""

    inputDefects = cT.Input(
        name="cpPartialDefects",
        doc="Defects found in each dark and flat of the detector.",
        storageClass="ComCamDefects",
        dimensions=("instrument", "exposure", "detector"),
        multiple=True,
    )
    mergedDefects = cT.Output(
        name="defects",
        doc="The detector's defects calibration.",
        storageClass="ComCamDefects",
        dimensions=("instrument", "detector"),
        isCalibration=True,
    )


class MergeDefectsConfig(PipelineTaskConfig, pipelineConnections=MergeDefectsConnections):
    """Configuration of `MergeDefectsTask`."""

    combinationFraction = Field[float](
        doc="Fraction of one image type's exposures in which a pixel must be a defect.", default=0.7
    )


class MergeDefectsTask(PipelineTask):
    """Merge per-exposure defects into the detector's defects.

    Parameters
    ----------
    **kwargs
        Passed to `lsst.pipe.base.PipelineTask`.
    """

    ConfigClass = MergeDefectsConfig
    _DefaultName = "mergeDefects"
    config: MergeDefectsConfig

    def run(self, inputDefects: Sequence[Defects]) -> Struct:
        """Merge.

        Parameters
        ----------
        inputDefects : `~collections.abc.Sequence` [`~lsst.ts.calibrations.repo.defects.Defects`]
            Partial defects, each with metadata IMGTYPE DARK or FLAT.

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``mergedDefects``: the merged `~lsst.ts.calibrations.repo.defects.Defects`.

        Raises
        ------
        ValueError
            Raised if there are no inputs, their shapes differ or one has
            no IMGTYPE DARK or FLAT.
        """
        if len(inputDefects) == 0:
            raise ValueError("No partial defects to merge: the data query selected no dark or flat.")
        shape = inputDefects[0].detector_shape
        kinds = []
        for defects in inputDefects:
            imgtype = str(defects.metadata.get("IMGTYPE", "")).upper()
            if imgtype not in ("DARK", "FLAT"):
                raise ValueError(
                    f"Partial defects with IMGTYPE={imgtype!r}: each must be from a DARK or FLAT."
                )
            if defects.detector_shape != shape:
                raise ValueError(f"Partial defects of shape {defects.detector_shape}; all must have {shape}.")
            kinds.append(imgtype.lower())
        merged, counts = merge_defect_masks(
            [defects.to_mask() for defects in inputDefects], kinds, self.config.combinationFraction
        )
        metadata = {
            "OBSTYPE": "defects",
            "LSST CP DEFECTS N DARK": counts.get("dark", 0),
            "LSST CP DEFECTS N FLAT": counts.get("flat", 0),
            "LSST CP DEFECTS PIXELS": int(merged.sum()),
        }
        detector = inputDefects[0].metadata.get("DETECTOR")
        if detector is not None:
            metadata["DETECTOR"] = detector
        result = Defects.from_mask(merged, metadata=metadata)
        self.log.info(
            "Merged %d partial defects (%s) into %d pixels in %d boxes.",
            len(inputDefects),
            counts,
            int(merged.sum()),
            len(result),
        )
        return Struct(mergedDefects=result)
