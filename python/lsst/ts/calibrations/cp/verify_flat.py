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

"""Per-detector verification of a combined flat (cp_verify's ``CpVerifyFlatTask``).

`VerifyFlatTask` (pipeline label ``verifyFlatMeasure``) measures each
amplifier of a flat processed by ISR with the candidate bias, dark and flat
(``verifyFlatProc``, e⁻ divided by the normalized flat) and judges:

- ``NOISE`` (clipped stdev, e⁻) within 5 % of ``PREDICTED_NOISE`` (e⁻): the
  noise expected from photon noise at the amplifier's level with the ISR's
  gain, the read noise measured in the overscan, and the candidate flat's
  own noise (its variance plane), with the part of the exposure's own
  noise that the flat divides out when the exposure is one of its inputs,
  corrected for the flat being a clipped mean of its inputs' levels; see
  `~lsst.ts.calibrations.cp.verify_statistics.predicted_flat_noise` and
  `~lsst.ts.calibrations.cp.verify_statistics.clipped_combination_factor`.
  cp_verify's test NOISE ≤ √MEAN cannot pass on a flat without
  brighter-fatter variance sag (photon noise alone is √MEAN, read noise and
  the flat's noise only add); it is reported as ``NOISE_LE_SQRT_MEAN``.
- Detector ``SCATTER``: std / mean of the amplifier means ≤ 0.05.

The result is ``verifyFlatDetStats``.
"""

__all__ = ["VerifyFlatConfig", "VerifyFlatConnections", "VerifyFlatTask"]

# Connection, config field and run() argument names follow the Science Pipelines (camelCase).
# ruff: noqa: N803, N815

import functools
import math
import re
from collections.abc import Mapping, Sequence

import numpy as np
from lsst.pex.config import Field
from lsst.pipe.base import PipelineTask, PipelineTaskConfig, Struct
from lsst.pipe.base import connectionTypes as cT

from ..repo.images import Exposure
from .amp_areas import amp_areas
from .verify_bias import GAIN_KEY, READ_NOISE_KEY, VerifyDetectorConnections, metadata_float, summary_metadata
from .verify_statistics import (
    VerifyThresholds,
    amp_statistics,
    clipped_combination_factor,
    detector_summary,
    flat_tests,
    predicted_flat_noise,
)


class VerifyFlatConnections(
    VerifyDetectorConnections,
    dimensions=("instrument", "exposure", "detector"),
    defaultTemplates={"kind": "Flat"},
):
    """Connections of `VerifyFlatTask`: the processed flat and the candidate flat in, statistics out."""

    inputFlat = cT.PrerequisiteInput(
        name="flat",
        doc="The candidate flat (normalized), for its own noise.",
        storageClass="ComCamExposure",
        dimensions=("instrument", "detector", "physical_filter"),
        isCalibration=True,
    )


class VerifyFlatConfig(PipelineTaskConfig, pipelineConnections=VerifyFlatConnections):
    """Configuration of `VerifyFlatTask`."""

    noiseTolerance = Field[float](doc="Largest |NOISE − PREDICTED_NOISE| / PREDICTED_NOISE.", default=0.05)
    detectorScatter = Field[float](doc="Largest std / mean of the amplifier means.", default=0.05)
    crNSigma = Field[float](doc="Cosmic-ray detection threshold (σ above the clipped mean).", default=5.0)


class VerifyFlatTask(PipelineTask):
    """Measure and judge each amplifier and the detector of a processed flat."""

    ConfigClass = VerifyFlatConfig
    _DefaultName = "verifyFlat"
    config: VerifyFlatConfig

    def run(self, inputExp: Exposure, inputFlat: Exposure) -> Struct:
        """Measure the exposure and judge it.

        Parameters
        ----------
        inputExp : `~lsst.ts.calibrations.repo.images.Exposure`
            ISR-processed flat (e⁻, flat-fielded) with the ISR metadata.
        inputFlat : `~lsst.ts.calibrations.repo.images.Exposure`
            The candidate flat used by the ISR.

        Returns
        -------
        result : `~lsst.pipe.base.Struct`
            ``outputStats``: the `detector_summary` dict.

        Raises
        ------
        ValueError
            Raised if the shapes differ or the ISR metadata is incomplete.
        """
        if inputExp.shape != inputFlat.shape:
            raise ValueError(
                f"inputExp shape {inputExp.shape} differs from inputFlat shape {inputFlat.shape}."
            )
        if inputExp.detector is None:
            raise ValueError(
                "The processed exposure has no DETECTOR in its metadata; run it through IsrTask."
            )
        detector = inputExp.detector
        thresholds = VerifyThresholds(
            flat_noise_tolerance=self.config.noiseTolerance, detector_scatter=self.config.detectorScatter
        )
        flat_areas = amp_areas(inputFlat, detector)
        inputs = _flat_inputs(inputFlat)
        exposure = inputExp.metadata.get("EXPOSURE")
        ids = [input_id for input_id, _ in inputs]
        exposure_id = int(exposure) if exposure is not None else None
        self_index = ids.index(exposure_id) if exposure_id in ids else None
        self_weight = 1.0 / len(inputs) if self_index is not None else 0.0
        amp_stats, amp_tests, amp_reported = {}, {}, {}
        areas = amp_areas(inputExp, detector)
        for name, area in areas.items():
            amp_stats[name] = amp_statistics(
                area.image,
                area.good,
                read_noise_adu=metadata_float(inputExp, READ_NOISE_KEY.format(amp=name)),
                gain=metadata_float(inputExp, GAIN_KEY.format(amp=name)),
                cr_nsigma=self.config.crNSigma,
            )
        factor = _combination_factor([scale for _, scale in inputs], self_index, amp_stats)
        for name, area in areas.items():
            stats = amp_stats[name]
            flat_area = flat_areas[name]
            stats["PREDICTED_NOISE"] = predicted_flat_noise(
                stats["MEAN"],
                flat_area.image,
                flat_area.variance,
                area.good & flat_area.good,
                stats["READ_NOISE"],
                self_weight=self_weight,
                combination_factor=factor,
            )
            stats["SQRT_MEAN"] = math.sqrt(stats["MEAN"]) if stats["MEAN"] > 0 else math.nan
            amp_tests[name], amp_reported[name] = flat_tests(stats, thresholds)
        means = np.array([stats["MEAN"] for stats in amp_stats.values()])
        level = float(np.nanmean(means))
        scatter = float(np.nanstd(means)) / level if level != 0 else math.inf
        metadata = summary_metadata(inputExp, detector)
        metadata["UNITS"].update({"PREDICTED_NOISE": "electron", "SQRT_MEAN": "electron^0.5"})
        metadata["FILTER"] = str(inputExp.metadata.get("FILTER", ""))
        metadata["FLAT_INPUT_WEIGHT"] = self_weight
        metadata["FLAT_COMBINATION_FACTOR"] = factor
        summary = detector_summary(
            amp_stats,
            amp_tests,
            amp_reported,
            metadata=metadata,
            det_stats={"SCATTER": scatter, "MEAN": level},
            det_tests={"SCATTER": bool(scatter <= thresholds.detector_scatter)},
        )
        return Struct(outputStats=summary)


def _flat_inputs(flat: Exposure) -> list[tuple[int, float | None]]:
    """The flat's inputs, in order: exposure id (``CPP_INPUT_i``) and scale (``CPP_INPUT_SCALE_i``)."""
    inputs: dict[int, tuple[int, float | None]] = {}
    for key, value in flat.metadata.items():
        match = re.fullmatch(r"CPP_INPUT_(\d+)", key)
        if match is not None:
            scale = flat.metadata.get(f"CPP_INPUT_SCALE_{match.group(1)}")
            inputs[int(match.group(1))] = (int(value), None if scale is None else float(scale))
    return [inputs[i] for i in sorted(inputs)]


def _combination_factor(
    levels: Sequence[float | None], self_index: int | None, amp_stats: Mapping[str, Mapping[str, float]]
) -> float:
    """`clipped_combination_factor` for an exposure verified with a flat of these input levels.

    The exposure's level and read noise are the medians over its
    amplifiers. A flat without its inputs' scales gets 1 (the plain-mean
    prediction).
    """
    known = [level for level in levels if level is not None]
    means = [stats["MEAN"] for stats in amp_stats.values() if math.isfinite(stats["MEAN"])]
    noises = [stats["READ_NOISE"] for stats in amp_stats.values() if math.isfinite(stats["READ_NOISE"])]
    if not means or len(known) != len(levels):
        return 1.0
    read_noise = float(np.median(noises)) if noises else 0.0
    # Rounded (read noise to 0.5 e-, level to 2 digits, far below what moves the factor) so that
    # the detectors of one exposure, which share the flat's input levels, share one simulation.
    level = float(f"{np.median(means):.2g}")
    return _cached_factor(tuple(known), round(2 * read_noise) / 2, level, self_index)


@functools.lru_cache(maxsize=256)
def _cached_factor(
    levels: tuple[float, ...], read_noise: float, level: float, self_index: int | None
) -> float:
    """`clipped_combination_factor`, remembered for the process."""
    return clipped_combination_factor(levels, read_noise, level, self_index)
