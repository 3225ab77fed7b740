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

"""Pair extraction of the photon transfer curve (cp_pipe's ``cpPtcExtract``).

`PtcExtractTask` (pipeline label ``cpExtract``) takes the ISR-processed flats
of one detector (``cpPtcIsrExp``, ADU: ISR runs with ``doApplyGains=False``),
pairs them (`~lsst.ts.calibrations.cp.flat_pairing.pair_flats`: consecutive
flats with exposure times equal within 5 ms) and measures each amplifier of
each pair (`~lsst.ts.calibrations.cp.pair_statistics.measure_pair`).

It writes one ``cpPtcExtract`` dataset per input exposure. Both exposures of
a pair carry that pair's values: gain (e⁻/ADU), noise (e⁻: the mean of the
two overscan residual stdevs times the pair's gain; the ADU value is in the
metadata as ``LSST CPPTC NOISE ADU <amp>``), mean (ADU), variance (ADU²) and
the covariances (ADU²). An unpaired exposure gets a dataset with no pair, NaN
gain and noise, and ``PAIRED = False`` with the reason in its metadata, so
asking for it says why there is no gain instead of failing to find it.
"""

__all__ = ["PtcExtractConfig", "PtcExtractConnections", "PtcExtractTask"]

# Connection, config field and run() argument names follow the Science Pipelines (camelCase).
# ruff: noqa: N803, N815

import logging
import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from lsst.pex.config import Field
from lsst.pipe.base import (
    InputQuantizedConnection,
    OutputQuantizedConnection,
    PipelineTask,
    PipelineTaskConfig,
    PipelineTaskConnections,
    QuantumContext,
    Struct,
)
from lsst.pipe.base import connectionTypes as cT

from ..repo.camera import AMP_NAMES, Camera
from ..repo.images import Exposure
from ..repo.ptc_dataset import PhotonTransferCurveDataset
from .amp_areas import amp_areas
from .flat_pairing import pair_flats
from .pair_statistics import measure_pair

_log = logging.getLogger("lsst.ts.calibrations.cp.ptc_extract")

READ_NOISE_KEY = "LSST ISR OVERSCAN RESIDUAL SERIAL STDEV {amp}"


class _Loadable(Protocol):
    def get(self) -> Any: ...


class PtcExtractConnections(PipelineTaskConnections, dimensions=("instrument", "detector")):
    """Connections of `PtcExtractTask`: all flats of a detector in, one dataset per flat out."""

    inputExp = cT.Input(
        name="cpPtcIsrExp",
        doc="ISR-processed flats (ADU).",
        storageClass="ComCamExposure",
        dimensions=("instrument", "exposure", "detector"),
        multiple=True,
        deferLoad=True,
    )
    outputCovariances = cT.Output(
        name="cpPtcExtract",
        doc="Per exposure: the values of the pair it belongs to.",
        storageClass="ComCamPtcDataset",
        dimensions=("instrument", "exposure", "detector"),
        multiple=True,
    )


class PtcExtractConfig(PipelineTaskConfig, pipelineConnections=PtcExtractConnections):
    """Configuration of `PtcExtractTask`."""

    matchExposuresByTime = Field[float](
        doc="Largest exposure-time difference (s) between the two flats of a pair.", default=0.005
    )
    maximumRangeCovariancesAstier = Field[int](
        doc="Largest covariance lag (pixels) in each direction.", default=10
    )
    nSigmaClipPtc = Field[float](doc="Clipping width of the pair variance (σ).", default=5.5)
    minNumberGoodPixelsForCovariance = Field[int](
        doc="Fewest good pixels an amplifier needs in a pair.", default=100
    )

    def validate(self) -> None:
        """Check the tolerance and the lag.

        Raises
        ------
        ValueError
            Raised if ``matchExposuresByTime`` or
            ``maximumRangeCovariancesAstier`` is negative.
        """
        super().validate()
        if self.matchExposuresByTime < 0:
            raise ValueError(f"matchExposuresByTime={self.matchExposuresByTime} must be >= 0 s.")
        if self.maximumRangeCovariancesAstier < 0:
            raise ValueError(
                f"maximumRangeCovariancesAstier={self.maximumRangeCovariancesAstier} must be >= 0."
            )


class PtcExtractTask(PipelineTask):
    """Measure gain, noise, variance and covariances of each flat pair."""

    ConfigClass = PtcExtractConfig
    _DefaultName = "cpPtcExtract"
    config: PtcExtractConfig

    def runQuantum(
        self,
        butlerQC: QuantumContext,
        inputRefs: InputQuantizedConnection,
        outputRefs: OutputQuantizedConnection,
    ) -> None:
        """Read exposure ids and times from the data IDs and write one output per exposure."""
        # Adapt handles: exposure ids and times come from the dimension records
        # when the data IDs carry them, so pixels are read one pair at a time.
        handles = butlerQC.get(inputRefs.inputExp)
        input_dims = []
        for ref in inputRefs.inputExp:
            exposure_time = math.nan
            if ref.dataId.hasRecords():
                record = ref.dataId.records["exposure"]
                if record is not None:
                    exposure_time = float(record.exposure_time)
            input_dims.append((int(ref.dataId["exposure"]), exposure_time))
        quantum_data_id = butlerQC.quantum.dataId
        assert quantum_data_id is not None
        detector = int(quantum_data_id["detector"])
        outputs = self.run(inputExp=handles, inputDims=input_dims, detector=detector)
        by_exposure = {int(ref.dataId["exposure"]): ref for ref in outputRefs.outputCovariances}
        for dataset in outputs.outputCovariances:
            butlerQC.put(dataset, by_exposure[int(dataset.metadata["EXPOSURE"])])

    def run(
        self,
        inputExp: Sequence[Exposure | _Loadable],
        inputDims: Sequence[tuple[int, float]],
        detector: int,
    ) -> Struct:
        """Pair the flats and measure every pair.

        Parameters
        ----------
        inputExp : `~collections.abc.Sequence`
            ISR-processed flats (ADU), each an `Exposure` or an object whose
            ``get()`` returns one (read only when its pair is measured).
        inputDims : `~collections.abc.Sequence` [`tuple` [`int`, `float`]]
            Exposure id and exposure time (s) of each flat, same order; a NaN
            time is read from the exposure's ``EXPTIME``.
        detector : `int`
            Detector id.

        Returns
        -------
        result : `~lsst.pipe.base.Struct`
            ``outputCovariances``: one `PhotonTransferCurveDataset` per input
            exposure, in input order (metadata ``EXPOSURE`` names it).

        Raises
        ------
        ValueError
            Raised if the lengths differ, if no two flats form a pair (the
            message lists the exposure times), or a pair has too few good
            pixels.
        """
        if len(inputExp) != len(inputDims):
            raise ValueError(f"inputExp has {len(inputExp)} items but inputDims {len(inputDims)}.")
        cache: dict[int, Exposure] = {}
        index = {int(exposure): i for i, (exposure, _) in enumerate(inputDims)}

        def load(exposure: int) -> Exposure:
            if exposure not in cache:
                item = inputExp[index[exposure]]
                cache[exposure] = item if isinstance(item, Exposure) else item.get()
            return cache[exposure]

        times = []
        for exposure, exposure_time in inputDims:
            if not math.isfinite(exposure_time):
                exposure_time = float(load(int(exposure)).metadata["EXPTIME"])
                cache.pop(int(exposure))
            times.append((int(exposure), float(exposure_time)))
        pairing = pair_flats(times, tolerance=self.config.matchExposuresByTime)
        if not pairing.pairs:
            listing = ", ".join(f"{e} ({t:g} s)" for e, t in sorted(times))
            raise ValueError(
                f"No flat pairs on detector {detector}: flats {listing}. A pair needs two consecutive "
                f"flats with exposure times equal within {self.config.matchExposuresByTime} s."
            )
        results: dict[int, PhotonTransferCurveDataset] = {}
        for first, second in pairing.pairs:
            exp1, exp2 = load(first), load(second)
            dataset = self._measure(exp1, exp2, (first, second), pairing.exposure_times[first], detector)
            for exposure in (first, second):
                results[exposure] = self._for_exposure(dataset, exposure)
            cache.clear()
        for exposure in pairing.unpaired:
            _log.warning(
                "Flat %d on detector %d (%g s) has no partner: no gain from it.",
                exposure,
                detector,
                pairing.exposure_times[exposure],
            )
            results[exposure] = self._unpaired(exposure, detector, pairing.exposure_times[exposure])
        return Struct(outputCovariances=[results[int(exposure)] for exposure, _ in inputDims])

    def _measure(
        self,
        exp1: Exposure,
        exp2: Exposure,
        pair: tuple[int, int],
        exposure_time: float,
        detector: int,
    ) -> PhotonTransferCurveDataset:
        """Measure every amplifier of one pair."""
        areas1 = amp_areas(exp1, detector)
        areas2 = amp_areas(exp2, detector)
        dataset = PhotonTransferCurveDataset(ampNames=AMP_NAMES, ptcFitType="")
        dataset.metadata.update(
            {
                "INSTRUME": Camera.of_metadata(exp1.metadata).name,
                "DETECTOR": detector,
                "DETNAME": Camera.of_metadata(exp1.metadata)[detector].name,
                "PAIRED": True,
                "PAIR_EXPOSURE_1": pair[0],
                "PAIR_EXPOSURE_2": pair[1],
                "EXPTIME": exposure_time,
                "NOISE_METHOD": "mean overscan residual stdev of the pair times the pair's gain",
            }
        )
        for amp in AMP_NAMES:
            a1, a2 = areas1[amp], areas2[amp]
            try:
                rn1 = float(exp1.metadata[READ_NOISE_KEY.format(amp=amp)])
                rn2 = float(exp2.metadata[READ_NOISE_KEY.format(amp=amp)])
            except KeyError as e:
                raise ValueError(
                    f"Flat pair {pair} lacks ISR metadata {e.args[0]!r}: run ISR with doOverscan=True."
                ) from None
            lag = min(self.config.maximumRangeCovariancesAstier, min(a1.image.shape) - 1)
            stats = measure_pair(
                a1.image,
                a2.image,
                a1.good & a2.good,
                rn1,
                rn2,
                max_lag=lag,
                nsigma_variance=self.config.nSigmaClipPtc,
                min_pixels=self.config.minNumberGoodPixelsForCovariance,
            )
            dataset.inputExpIdPairs[amp] = [pair]
            dataset.expIdMask[amp] = np.array([math.isfinite(stats.gain)])
            dataset.rawExpTimes[amp] = np.array([exposure_time])
            dataset.rawMeans[amp] = np.array([stats.mean])
            dataset.rawVars[amp] = np.array([stats.variance])
            dataset.gain[amp] = stats.gain
            dataset.gainErr[amp] = stats.gain_err
            dataset.noise[amp] = stats.noise
            dataset.noiseErr[amp] = stats.read_noise_adu * stats.gain_err
            dataset.covariances[amp] = stats.covariances[np.newaxis, :, :]
            dataset.metadata[f"LSST CPPTC NOISE ADU {amp}"] = stats.read_noise_adu
            dataset.metadata[f"LSST CPPTC NPIXELS {amp}"] = stats.n_pixels
        return dataset

    @staticmethod
    def _for_exposure(dataset: PhotonTransferCurveDataset, exposure: int) -> PhotonTransferCurveDataset:
        """A copy of a pair's dataset naming one of its exposures."""
        copy = PhotonTransferCurveDataset.from_dict(dataset.to_dict())
        copy.metadata["EXPOSURE"] = exposure
        return copy

    @staticmethod
    def _unpaired(exposure: int, detector: int, exposure_time: float) -> PhotonTransferCurveDataset:
        """The dataset of a flat without a partner: no values, the reason stated."""
        dataset = PhotonTransferCurveDataset(ampNames=AMP_NAMES, ptcFitType="")
        dataset.metadata.update(
            {
                "DETECTOR": detector,
                "EXPOSURE": exposure,
                "EXPTIME": exposure_time,
                "PAIRED": False,
                "REASON": "no consecutive flat with an exposure time equal within the tolerance",
            }
        )
        return dataset
