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

"""PtcExtractTask and PtcSolveTask run() on synthetic flats of known gain, a00 and noise."""

import math

import numpy as np
import pytest

from lsst.ts.calibrations.cp.ptc_extract import PtcExtractTask
from lsst.ts.calibrations.cp.ptc_fit import exp_approximation
from lsst.ts.calibrations.cp.ptc_solve import PtcSolveTask
from lsst.ts.calibrations.repo.camera import AMP_NAMES, REDUCED_GEOMETRY, Camera
from lsst.ts.calibrations.repo.images import MASK_PLANES, Exposure

DETECTOR = 4
GAINS = {amp: 1.2 + 0.02 * i for i, amp in enumerate(AMP_NAMES)}
READ_NOISE_E = 7.0
A00 = -2.0e-6


def make_flat(
    rng: np.random.Generator, exposure: int, signal_e: float, exptime: float, a00: float = A00
) -> Exposure:
    """A flat in ADU whose per-amp pixel variance follows Astier+19 eq. 16."""
    geometry = REDUCED_GEOMETRY
    image = np.empty(geometry.detector_shape, dtype=np.float32)
    metadata: dict[str, object] = {"DETECTOR": DETECTOR, "EXPOSURE": exposure, "EXPTIME": exptime}
    for amp in Camera.instance()[DETECTOR].amps:
        gain = GAINS[amp.name]
        mean_adu = signal_e / gain
        var_adu = float(exp_approximation(np.array([mean_adu]), a00, gain, READ_NOISE_E**2)[0])
        region = amp.detector_slice(geometry)
        image[region] = rng.normal(mean_adu, math.sqrt(var_adu), size=geometry.data_shape)
        metadata[f"LSST ISR OVERSCAN RESIDUAL SERIAL STDEV {amp.name}"] = READ_NOISE_E / gain
    return Exposure(image, metadata=metadata)


def test_extract_pairs_and_unpaired() -> None:
    rng = np.random.default_rng(11)
    flats = [
        # No brighter-fatter sag: the single-pair gain is then unbiased.
        make_flat(rng, 100, 20_000.0, 10.0, a00=0.0),
        make_flat(rng, 101, 20_000.0, 10.0, a00=0.0),
        make_flat(rng, 102, 10_000.0, 5.0, a00=0.0),
    ]
    # Masked block in one flat is left out of the statistics.
    flats[0].mask.array[:20, :20] = MASK_PLANES["BAD"]
    flats[0].image.array[:20, :20] = 1e6
    task = PtcExtractTask()
    result = task.run(inputExp=flats, inputDims=[(100, 10.0), (101, math.nan), (102, 5.0)], detector=DETECTOR)
    first, second, unpaired = result.outputCovariances
    assert first.metadata["EXPOSURE"] == 100 and second.metadata["EXPOSURE"] == 101
    assert first.gain == second.gain
    assert first.inputExpIdPairs["C10"] == [(100, 101)]
    assert set(first.gain) == set(AMP_NAMES)
    for amp in AMP_NAMES:
        assert abs(first.gain[amp] - GAINS[amp]) < 4 * first.gainErr[amp]
        assert first.noise[amp] == pytest.approx(READ_NOISE_E, rel=0.03)
        assert first.rawMeans[amp][0] == pytest.approx(20_000.0 / GAINS[amp], rel=1e-3)
    assert first.units["gain"] == "electron/adu" and first.units["noise"] == "electron"
    assert unpaired.metadata["PAIRED"] is False
    assert math.isnan(unpaired.gain["C10"])


def test_extract_without_pairs_is_an_error() -> None:
    rng = np.random.default_rng(12)
    flats = [make_flat(rng, 100, 1000.0, 1.0), make_flat(rng, 101, 2000.0, 2.0)]
    with pytest.raises(ValueError, match="No flat pairs on detector 4"):
        PtcExtractTask().run(inputExp=flats, inputDims=[(100, 1.0), (101, 2.0)], detector=DETECTOR)


@pytest.mark.slow
def test_solve_recovers_gain_a00_noise() -> None:
    rng = np.random.default_rng(13)
    signals = np.geomspace(500.0, 80_000.0, 10)
    flats, dims = [], []
    for i, signal in enumerate(signals):
        for k in range(2):
            exposure = 1000 + 2 * i + k
            flats.append(make_flat(rng, exposure, float(signal), float(signal) / 1000.0))
            dims.append((exposure, float(signal) / 1000.0))
    extracted = PtcExtractTask().run(inputExp=flats, inputDims=dims, detector=DETECTOR).outputCovariances
    inputs = list(extracted)
    snapshot = [d.to_dict() for d in inputs]
    ptc = PtcSolveTask().run(inputCovariances=inputs).outputPtcDataset
    assert [d.to_dict() for d in inputs] == snapshot  # inputs not mutated
    assert len(ptc.inputExpIdPairs["C10"]) == 10  # each pair once
    gain_errors = []
    for amp in AMP_NAMES:
        gain_errors.append(ptc.gain[amp] / GAINS[amp] - 1)
        assert abs(ptc.gain[amp] - GAINS[amp]) < 4 * ptc.gainErr[amp]
        assert ptc.ptcFitPars[amp][0] == pytest.approx(A00, rel=0.25)
        assert abs(ptc.noise[amp] - READ_NOISE_E) < 4 * ptc.noiseErr[amp]
    assert np.std(gain_errors) < 0.005
    assert ptc.ptcFitType == "EXPAPPROXIMATION"


def test_solve_needs_pairs() -> None:
    with pytest.raises(ValueError, match="minNumberPairs"):
        PtcSolveTask().run(inputCovariances=[])
