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

"""Verification statistics, tests and roll-ups on synthetic processed exposures."""

import math

import numpy as np
import pytest

from lsst.ts.calibrations.cp.verify_bias import VerifyBiasTask
from lsst.ts.calibrations.cp.verify_dark import VerifyDarkTask
from lsst.ts.calibrations.cp.verify_exposure_merge import VerifyExposureMergeTask
from lsst.ts.calibrations.cp.verify_flat import VerifyFlatTask
from lsst.ts.calibrations.cp.verify_run_merge import VerifyRunMergeTask
from lsst.ts.calibrations.cp.verify_statistics import amp_statistics, clipped_combination_factor
from lsst.ts.calibrations.repo.camera import REDUCED_GEOMETRY, Camera
from lsst.ts.calibrations.repo.images import Exposure

GEOMETRY = REDUCED_GEOMETRY


def isr_metadata(detector: int, exposure: int, noise_scale: float = 1.0) -> dict[str, object]:
    """ISR metadata: the nominal gains and an overscan noise equal to the nominal read noise."""
    metadata: dict[str, object] = {"DETECTOR": detector, "EXPOSURE": exposure, "EXPTIME": 0.0}
    for amp in Camera.instance()[detector].amps:
        metadata[f"LSST ISR GAIN {amp.name}"] = amp.nominal_gain
        metadata[f"LSST ISR OVERSCAN RESIDUAL SERIAL STDEV {amp.name}"] = (
            amp.nominal_read_noise / amp.nominal_gain
        )
    return metadata


def make_bias_proc(
    rng: np.random.Generator, detector: int, exposure: int, noisy_amp: str | None = None, n_cr: int = 0
) -> Exposure:
    """A processed bias: zero mean, the nominal read noise (one amp 1.3× noisier)."""
    image = np.empty(GEOMETRY.detector_shape, dtype=np.float32)
    for amp in Camera.instance()[detector].amps:
        sigma = amp.nominal_read_noise * (1.3 if amp.name == noisy_amp else 1.0)
        image[amp.detector_slice(GEOMETRY)] = rng.normal(0.0, sigma, GEOMETRY.data_shape)
    ys = rng.integers(0, image.shape[0], n_cr)
    xs = rng.integers(0, image.shape[1], n_cr)
    image[ys, xs] += 5000.0
    return Exposure(image, metadata=isr_metadata(detector, exposure))


def test_bias_amp_noise_failure_rolls_up() -> None:
    rng = np.random.default_rng(5)
    task = VerifyBiasTask()
    exposures = [2024102400010, 2024102400011]
    det_stats = {}
    for exposure in exposures:
        for detector in (0, 4):
            noisy = "C10" if (exposure, detector) == (exposures[1], 4) else None
            proc = make_bias_proc(rng, detector, exposure, noisy_amp=noisy)
            det_stats[exposure, detector] = task.run(inputExp=proc).outputStats
    good = det_stats[exposures[0], 4]
    assert good["SUCCESS"] is True and good["FAILURES"] == []
    assert set(good["AMP"]["C10"]) >= {"MEAN", "NOISE", "CR_NOISE", "READ_NOISE"}
    assert good["VERIFY"]["AMP"]["C10"] == {"MEAN": True, "NOISE": True, "CR_NOISE": True}
    assert "READ_NOISE_CONSISTENT" in good["REPORTED"]["AMP"]["C10"]
    bad = det_stats[exposures[1], 4]
    assert bad["SUCCESS"] is False and bad["FAILURES"] == ["C10 NOISE"]

    merge = VerifyExposureMergeTask()
    exp_stats = [
        merge.run(inputStats=[det_stats[exposure, d] for d in (0, 4)]).outputStats for exposure in exposures
    ]
    assert exp_stats[0]["R22_S11"] == {"SUCCESS": True, "FAILURES": []}
    assert exp_stats[1]["R22_S11"] == {"SUCCESS": False, "FAILURES": ["C10 NOISE"]}
    assert exp_stats[1]["R22_S00"]["SUCCESS"] is True
    run_stats = VerifyRunMergeTask().run(inputStats=exp_stats).outputStats
    assert run_stats["SUCCESS"] is False
    assert run_stats[exposures[0]] == {"SUCCESS": True, "FAILURES": []}
    assert run_stats[exposures[1]] == {"SUCCESS": False, "FAILURES": ["R22_S11 C10 NOISE"]}


def test_dark_cosmic_rays_do_not_fail_cr_noise() -> None:
    rng = np.random.default_rng(6)
    proc = make_bias_proc(rng, 2, 7, n_cr=30)
    stats = VerifyDarkTask().run(inputExp=proc).outputStats
    assert stats["SUCCESS"] is True, stats["FAILURES"]
    assert sum(a["N_CR_PIXELS"] for a in stats["AMP"].values()) >= 30


def test_cr_noise_detects_unremoved_structure() -> None:
    rng = np.random.default_rng(8)
    image = rng.normal(0.0, 5.0, (256, 128))
    # Many moderate outliers: the clipped NOISE ignores them, CR removal (5σ) does not.
    image[rng.random(image.shape) < 0.02] += 15.0
    stats = amp_statistics(image, np.ones(image.shape, bool), read_noise_adu=5.0, gain=1.0)
    assert abs(stats["NOISE"] - stats["CR_NOISE"]) > 0.05 * stats["CR_NOISE"]


def test_verify_rejects_missing_isr_metadata() -> None:
    proc = Exposure(np.zeros(GEOMETRY.detector_shape, np.float32), metadata={"DETECTOR": 0})
    with pytest.raises(ValueError, match="LSST ISR OVERSCAN RESIDUAL SERIAL STDEV"):
        VerifyBiasTask().run(inputExp=proc)


def make_flat_pair(
    rng: np.random.Generator, level: float, n_flat: int, gain_error: float = 0.0
) -> tuple[Exposure, Exposure]:
    """A processed flat (e⁻ / flat) and its combined flat made of n_flat exposures."""
    detector = 4
    shape = GEOMETRY.detector_shape
    response = rng.normal(1.0, 0.01, shape) * np.linspace(0.95, 1.05, shape[1])[np.newaxis, :]
    flat_noise_var = response / (n_flat * level)  # relative variance of the combined flat
    flat = response + rng.normal(0.0, np.sqrt(flat_noise_var))
    metadata = isr_metadata(detector, 9)
    image = np.empty(shape)
    for amp in Camera.instance()[detector].amps:
        region = amp.detector_slice(GEOMETRY)
        electrons = rng.poisson(level * response[region])
        # ISR applies the gain it believes in; a wrong gain scales the photon noise.
        scale = 1.0 + gain_error
        read = rng.normal(0.0, amp.nominal_read_noise, electrons.shape)
        image[region] = (electrons * scale + read) / flat[region]
    proc = Exposure(image, metadata=metadata)
    return proc, Exposure(flat, variance=flat_noise_var, metadata={"DETECTOR": detector})


def test_flat_noise_prediction_passes_correct_flat() -> None:
    rng = np.random.default_rng(9)
    proc, flat = make_flat_pair(rng, 20_000.0, n_flat=5)
    stats = VerifyFlatTask().run(inputExp=proc, inputFlat=flat).outputStats
    assert stats["SUCCESS"] is True, stats["FAILURES"]
    for amp, values in stats["AMP"].items():
        assert values["NOISE"] == pytest.approx(values["PREDICTED_NOISE"], rel=0.02), amp
        # cp_verify's NOISE ≤ √MEAN fails on pure Poisson data (reported only).
        assert stats["REPORTED"]["AMP"][amp]["NOISE_LE_SQRT_MEAN"] is False
    assert stats["DET"]["SCATTER"] < 0.05
    assert stats["METADATA"]["UNITS"]["PREDICTED_NOISE"] == "electron"


def test_flat_noise_test_catches_wrong_gain() -> None:
    rng = np.random.default_rng(10)
    proc, flat = make_flat_pair(rng, 20_000.0, n_flat=5, gain_error=0.25)
    stats = VerifyFlatTask().run(inputExp=proc, inputFlat=flat).outputStats
    assert stats["SUCCESS"] is False
    assert "C10 NOISE" in stats["FAILURES"]


def test_flat_exposure_scatter() -> None:
    rng = np.random.default_rng(11)
    proc, flat = make_flat_pair(rng, 20_000.0, n_flat=5)
    det = VerifyFlatTask().run(inputExp=proc, inputFlat=flat).outputStats
    other = {**det, "METADATA": {**det["METADATA"], "DETECTOR_NAME": "R22_S12"}}
    other["AMP"] = {amp: {**v, "MEAN": v["MEAN"] * 1.3} for amp, v in det["AMP"].items()}
    task = VerifyExposureMergeTask(config=VerifyExposureMergeTask.ConfigClass(doExposureScatter=True))
    merged = task.run(inputStats=[det, other]).outputStats
    assert merged["EXP"]["SCATTER"] == pytest.approx(0.15 / 1.15, rel=1e-3)
    assert merged["FAILURES"] == ["EXP SCATTER"] and merged["SUCCESS"] is False
    assert not math.isnan(merged["EXP"]["SCATTER"])


def test_flat_verified_on_its_own_inputs() -> None:
    """A flat made of N flats divides out 1/N of each input's noise: the prediction accounts for it."""
    rng = np.random.default_rng(12)
    detector, level, n_flat = 4, 20_000.0, 4
    shape = GEOMETRY.detector_shape
    response = rng.normal(1.0, 0.01, shape)
    inputs = [rng.poisson(level * response).astype(np.float64) for _ in range(n_flat)]
    scaled = [image / level for image in inputs]
    flat = np.mean(scaled, axis=0)
    flat_var = np.var(scaled, axis=0, ddof=1) / n_flat
    metadata = isr_metadata(detector, 100)
    for amp in Camera.instance()[detector].amps:
        metadata[f"LSST ISR OVERSCAN RESIDUAL SERIAL STDEV {amp.name}"] = 0.0
    proc = Exposure(inputs[0] / flat, metadata=metadata)
    flat_md = {"DETECTOR": detector, **{f"CPP_INPUT_{i}": 100 + i for i in range(n_flat)}}
    stats = VerifyFlatTask().run(inputExp=proc, inputFlat=Exposure(flat, variance=flat_var, metadata=flat_md))
    assert stats.outputStats["METADATA"]["FLAT_INPUT_WEIGHT"] == pytest.approx(1 / n_flat)
    assert stats.outputStats["SUCCESS"] is True, stats.outputStats["FAILURES"]
    # Ignoring the shared noise (exposure not among the inputs) overpredicts by ~20 %.
    other = Exposure(flat, variance=flat_var, metadata={**flat_md, "CPP_INPUT_0": 999})
    assert VerifyFlatTask().run(inputExp=proc, inputFlat=other).outputStats["SUCCESS"] is False


def test_clipped_combination_factor() -> None:
    """The clipped flat's effect on a flat-fielded pixel's variance, against the plain-mean formula."""
    mixed = [2500.0, 2500.0, 5000.0, 5000.0, 10000.0, 10000.0, 20000.0, 20000.0, 40000.0, 40000.0]
    # the clipping weights the noisy low-level inputs less: less of them divides out
    low = clipped_combination_factor(mixed, 7.0, mixed[0], 0)
    high = clipped_combination_factor(mixed, 7.0, mixed[-1], 9)
    assert 1.03 < low < 1.2 and 0.85 < high < 0.97
    assert clipped_combination_factor(mixed, 7.0, mixed[0], 0) == low  # deterministic
    # one level: only the clipped mean's lower efficiency, a small share of the variance
    single = clipped_combination_factor([25000.0] * 20, 7.0, 25000.0)
    assert 1.0 < single < 1.01
    assert clipped_combination_factor([25000.0], 7.0, 25000.0) == 1.0
    assert clipped_combination_factor([25000.0, float("nan")], 7.0, 25000.0) == 1.0
