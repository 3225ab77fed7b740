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

"""cpPtc, its gain subset and verifyBias/Dark/Flat run by ``pipetask`` on a simulated repository.

The session's `calibration_run` (R22_S00 and R22_S11, seed 3: 3 biases, 2
darks of 30 s and 5 flat pairs of 0.5-8 s, simulated and ingested; bias,
dark and flat made with cpBias/cpDark/cpFlat and certified; cpPtc and
verifyBias/Dark/Flat run with the procedure document's options) is
shared with the report tests; these tests fetch R22_S11's products with the
document's own calls, and run the gain subset into a collection of their own.
"""

from pathlib import Path

import lsst.daf.butler as dB  # noqa: N812 (the procedure document's alias)
import numpy as np
import pytest
import yaml

from fixtures.repositories import CalibrationRun, pipetask
from lsst.ts.calibrations.repo.repository import RAW_RUN

DETECTOR = 4
FLAT_TIMES = (0.5, 1.0, 2.0, 4.0, 8.0)


@pytest.fixture(scope="module")
def repo(calibration_run: CalibrationRun) -> tuple[Path, dict[int, tuple[str, float]], dict]:
    """The shared run's repository, its exposures (id → type, time) and the simulator's truth."""
    truth = yaml.safe_load((calibration_run.raws / "truth.yaml").read_text())
    butler = dB.Butler.from_config(str(calibration_run.repo))
    try:
        exposures = {
            int(r.id): (str(r.observation_type), float(r.exposure_time))
            for r in butler.query_dimension_records("exposure", instrument="LSSTComCam")
        }
    finally:
        butler.close()
    assert sorted(t for kind, t in exposures.values() if kind == "flat") == sorted(2 * FLAT_TIMES)
    return calibration_run.repo, exposures, truth


def flats(exposures: dict[int, tuple[str, float]]) -> list[int]:
    return sorted(e for e, (kind, _) in exposures.items() if kind == "flat")


def test_gain_from_flat_pair_subset(repo: tuple[Path, dict, dict]) -> None:
    path, exposures, truth = repo
    flat1, flat2 = flats(exposures)[6:8]  # the 4 s pair, about 19 ke⁻
    # The pair the assertions read is all the subset needs: its two ISRs and one extraction.
    where = f"detector={DETECTOR} AND exposure.observation_type='flat' AND exposure IN ({flat1}, {flat2})"
    process = pipetask(path, "cpPtc", "u/test/gain", [RAW_RUN], where, subset="generateGainFromFlatPair")
    assert process.returncode == 0, (
        f"pipetask cpPtc#generateGainFromFlatPair failed:\n{process.stderr[-4000:]}"
    )
    butler = dB.Butler(str(path), collections=["u/test/gain"])  # type: ignore[abstract]  # the document's form
    # The procedure document's call, for either exposure of the pair.
    cp_covs = butler.get("cpPtcExtract", detector=DETECTOR, exposure=flat1, instrument="LSSTComCam")
    other = butler.get("cpPtcExtract", detector=DETECTOR, exposure=flat2, instrument="LSSTComCam")
    assert cp_covs.gain == other.gain and cp_covs.noise == other.noise
    assert cp_covs.units["gain"] == "electron/adu" and cp_covs.units["noise"] == "electron"
    amps = truth["detectors"]["R22_S11"]["amps"]
    assert set(cp_covs.gain) == set(amps)
    for amp, values in amps.items():
        assert abs(cp_covs.gain[amp] - values["gain"]) < 4 * cp_covs.gainErr[amp], amp
        assert cp_covs.noise[amp] == pytest.approx(values["read_noise"], rel=0.1), amp
    # Only isr and cpExtract ran: no ptc in the output.
    assert "ptc" not in {t.name for t in butler.registry.queryDatasetTypes()} or not butler.query_datasets(
        "ptc", collections="u/test/gain", explain=False
    )


def test_cp_ptc(repo: tuple[Path, dict, dict], calibration_run: CalibrationRun) -> None:
    path, exposures, truth = repo
    output = calibration_run.collections["cpPtc"]
    butler = dB.Butler(str(path), collections=[output])  # type: ignore[abstract]  # the document's form
    ptc = butler.get("ptc", detector=DETECTOR, instrument="LSSTComCam")
    assert ptc.ptcFitType == "EXPAPPROXIMATION"
    assert len(ptc.inputExpIdPairs["C10"]) == len(FLAT_TIMES)
    errors = []
    for amp, values in truth["detectors"]["R22_S11"]["amps"].items():
        # Five pairs of 128 × 256 pixels: about 1 % per amplifier.
        assert ptc.gain[amp] == pytest.approx(values["gain"], rel=0.03), amp
        errors.append(ptc.gain[amp] / values["gain"] - 1)
    assert abs(np.mean(errors)) < 0.005


@pytest.mark.parametrize("kind", ["Bias", "Dark", "Flat"])
def test_verify_pipeline(repo: tuple[Path, dict, dict], calibration_run: CalibrationRun, kind: str) -> None:
    path, exposures, _ = repo
    output = calibration_run.collections[f"verify{kind}"]
    butler = dB.Butler(str(path), collections=[output])  # type: ignore[abstract]  # the document's form
    run_stats = butler.get(f"verify{kind}Stats", instrument="LSSTComCam")
    verified = sorted(e for e in run_stats if e != "SUCCESS")
    assert verified and all(exposures[e][0] == kind.lower() for e in verified)
    assert run_stats["SUCCESS"] is True, run_stats
    exposure = verified[0]
    det_stats = butler.get(
        f"verify{kind}DetStats", instrument="LSSTComCam", detector=DETECTOR, exposure=exposure
    )
    assert det_stats["SUCCESS"] is True and set(det_stats["AMP"]) >= {"C10", "C00"}
    exp_stats = butler.get(f"verify{kind}ExpStats", instrument="LSSTComCam", exposure=exposure)
    assert exp_stats["R22_S11"] == {"SUCCESS": True, "FAILURES": []}
    proc = butler.get(f"verify{kind}Proc", detector=DETECTOR, exposure=exposure, instrument="LSSTComCam")
    array = proc.getImage().getArray()
    q25, q50, q75 = np.percentile(array.flatten(), [25, 50, 75])
    assert array.shape == (512, 1024) and q75 > q25
    if kind == "Flat":
        assert q50 == pytest.approx(det_stats["DET"]["MEAN"], rel=0.01)
        # Every flat of the 0.5-8 s series passes against the flat made from all of them: the
        # prediction follows the clipped combination, which weights the low-level inputs less.
        assert len(verified) == 2 * len(FLAT_TIMES)
        assert det_stats["METADATA"]["FLAT_COMBINATION_FACTOR"] > 1.0  # a 0.5 s flat
        last = butler.get(
            "verifyFlatDetStats", instrument="LSSTComCam", detector=DETECTOR, exposure=verified[-1]
        )
        assert last["METADATA"]["FLAT_COMBINATION_FACTOR"] < 1.0  # an 8 s flat
