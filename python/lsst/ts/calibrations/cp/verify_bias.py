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

"""Per-detector verification of a combined bias (cp_verify's ``CpVerifyBiasTask``).

`VerifyBiasTask` (pipeline label ``verifyBiasMeasure``) measures each
amplifier of a bias processed by ISR with the candidate bias
(``verifyBiasProc``, e⁻) and judges it: ``MEAN`` |mean| < NOISE, ``NOISE`` ≤
1.05 × the camera description's read noise, ``CR_NOISE`` within 5 %;
``READ_NOISE_CONSISTENT`` is reported. The result is ``verifyBiasDetStats``
(`~lsst.ts.calibrations.cp.verify_statistics.detector_summary`).
"""

__all__ = [
    "VerifyBiasConfig",
    "VerifyBiasConnections",
    "VerifyBiasTask",
    "VerifyDetectorConnections",
    "metadata_float",
    "summary_metadata",
]

# Connection, config field and run() argument names follow the Science Pipelines (camelCase).
# ruff: noqa: N803, N815

import math
from typing import Any

from lsst.pex.config import Field
from lsst.pipe.base import PipelineTask, PipelineTaskConfig, PipelineTaskConnections, Struct
from lsst.pipe.base import connectionTypes as cT

from ..repo.camera import Camera
from ..repo.images import Exposure
from .amp_areas import amp_areas
from .verify_statistics import VerifyThresholds, amp_statistics, bias_dark_tests, detector_summary

READ_NOISE_KEY = "LSST ISR OVERSCAN RESIDUAL SERIAL STDEV {amp}"
GAIN_KEY = "LSST ISR GAIN {amp}"


class VerifyDetectorConnections(
    PipelineTaskConnections,
    dimensions=("instrument", "exposure", "detector"),
    defaultTemplates={"kind": "Bias"},
):
    """Connections of a detector verification: ``verify{kind}Proc`` in, ``verify{kind}DetStats`` out.

    The template ``kind`` is Bias, Dark or Flat (each task's connections
    set it), giving cp_verify's dataset type names.
    """

    inputExp = cT.Input(
        name="verify{kind}Proc",
        doc="The exposure processed by ISR with the candidate calibration(s) (e⁻).",
        storageClass="ComCamExposure",
        dimensions=("instrument", "exposure", "detector"),
    )
    outputStats = cT.Output(
        name="verify{kind}DetStats",
        doc="Per-amplifier statistics, tests and detector SUCCESS.",
        storageClass="StructuredDataDict",
        dimensions=("instrument", "exposure", "detector"),
    )


class VerifyBiasConnections(
    VerifyDetectorConnections,
    dimensions=("instrument", "exposure", "detector"),
    defaultTemplates={"kind": "Bias"},
):
    """Connections of `VerifyBiasTask`: ``verifyBiasProc`` in, ``verifyBiasDetStats`` out."""


class VerifyBiasConfig(PipelineTaskConfig, pipelineConnections=VerifyBiasConnections):
    """Configuration of `VerifyBiasTask`."""

    readNoiseFactor = Field[float](doc="NOISE ≤ readNoiseFactor × nominal read noise.", default=1.05)
    crNoiseTolerance = Field[float](doc="Largest |NOISE − CR_NOISE| / CR_NOISE.", default=0.05)
    readNoiseTolerance = Field[float](
        doc="READ_NOISE_CONSISTENT tolerance (reported, not judged).", default=0.05
    )
    crNSigma = Field[float](doc="Cosmic-ray detection threshold (σ above the clipped mean).", default=5.0)

    def thresholds(self) -> VerifyThresholds:
        """Return the test thresholds."""
        return VerifyThresholds(
            read_noise_factor=self.readNoiseFactor,
            cr_noise_tolerance=self.crNoiseTolerance,
            read_noise_tolerance=self.readNoiseTolerance,
        )


class VerifyBiasTask(PipelineTask):
    """Measure and judge each amplifier of a processed bias."""

    ConfigClass = VerifyBiasConfig
    _DefaultName = "verifyBias"
    config: VerifyBiasConfig

    def run(self, inputExp: Exposure) -> Struct:
        """Measure the exposure and judge every amplifier.

        Parameters
        ----------
        inputExp : `~lsst.ts.calibrations.repo.images.Exposure`
            ISR-processed exposure (e⁻) with the ISR metadata.

        Returns
        -------
        result : `~lsst.pipe.base.Struct`
            ``outputStats``: the `detector_summary` dict.

        Raises
        ------
        ValueError
            Raised if the ISR metadata lacks a gain or overscan noise.
        """
        detector = _detector_id(inputExp)
        info = Camera.of_metadata(inputExp.metadata)[detector]
        thresholds = self.config.thresholds()
        amp_stats, amp_tests, amp_reported = {}, {}, {}
        for name, area in amp_areas(inputExp, detector).items():
            stats = amp_statistics(
                area.image,
                area.good,
                read_noise_adu=metadata_float(inputExp, READ_NOISE_KEY.format(amp=name)),
                gain=metadata_float(inputExp, GAIN_KEY.format(amp=name)),
                cr_nsigma=self.config.crNSigma,
            )
            judged, reported = bias_dark_tests(stats, info.amp(name).nominal_read_noise, thresholds)
            amp_stats[name], amp_tests[name], amp_reported[name] = stats, judged, reported
        summary = detector_summary(
            amp_stats, amp_tests, amp_reported, metadata=summary_metadata(inputExp, detector)
        )
        return Struct(outputStats=summary)


def _detector_id(exposure: Exposure) -> int:
    """The exposure's detector id, or a clear error."""
    if exposure.detector is None:
        raise ValueError("The processed exposure has no DETECTOR in its metadata; run it through IsrTask.")
    return exposure.detector


def metadata_float(exposure: Exposure, key: str) -> float:
    """Return a float from the ISR metadata.

    Raises
    ------
    ValueError
        Raised if the key is missing, naming it.
    """
    try:
        return float(exposure.metadata[key])
    except KeyError:
        raise ValueError(
            f"The processed exposure lacks ISR metadata {key!r}; run it through IsrTask."
        ) from None


def summary_metadata(exposure: Exposure, detector: int) -> dict[str, Any]:
    """Return the identification and units recorded in every detector summary."""
    exposure_id = exposure.metadata.get("EXPOSURE")
    return {
        "DETECTOR": detector,
        "DETECTOR_NAME": Camera.of_metadata(exposure.metadata)[detector].name,
        "EXPOSURE": None if exposure_id is None else int(exposure_id),
        "IMGTYPE": str(exposure.metadata.get("IMGTYPE", "")),
        "UNITS": {"MEAN": "electron", "NOISE": "electron", "CR_NOISE": "electron", "READ_NOISE": "electron"},
        "EXPTIME": float(exposure.metadata.get("EXPTIME", math.nan)),
    }
