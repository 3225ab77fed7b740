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

One reduced-geometry detector: 3 biases, 2 darks and 5 flat pairs
(0.5-8 s) are simulated, ingested, and bias, dark and flat are made with
cpBias/cpDark/cpFlat and certified; the tests then run this module's
pipelines with the procedure document's options and fetch the products with
the document's own calls.
"""

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import lsst.daf.butler as dB  # noqa: N812 (the procedure document's alias)
import numpy as np
import pytest
import yaml

from lsst.ts.calibrations.cp.pipeline_paths import PipelinePaths
from lsst.ts.calibrations.repo.certify import certify_calibrations
from lsst.ts.calibrations.repo.ingest import ingest_raws
from lsst.ts.calibrations.repo.repository import bootstrap_repository
from lsst.ts.calibrations.sim.make_calibration_set import make_calibration_set
from lsst.ts.calibrations.sim.sensor_model import SensorModel

STD_TIMEOUT = 300.0
RAW = "LSSTComCam/raw/all"
CALIB = "LSSTComCam/calib/test"
DETECTOR = 4
FLAT_TIMES = (0.5, 1.0, 2.0, 4.0, 8.0)
PATHS = PipelinePaths()


def run_pipetask(repo: Path, pipeline: str, output: str, where: str, inputs: list[str]) -> float:
    """Run ``pipetask run`` with the procedure's default options; return its duration (s)."""
    args = PATHS.pipetask_run_args(
        repo, pipeline, output, inputs, f"instrument='LSSTComCam' AND detector={DETECTOR} AND {where}"
    )
    start = time.monotonic()
    process = subprocess.run(
        args, env=PATHS.pipeline_environment(), capture_output=True, text=True, timeout=STD_TIMEOUT
    )
    assert process.returncode == 0, f"pipetask {pipeline} failed:\n{process.stderr[-4000:]}"
    return time.monotonic() - start


@pytest.fixture(scope="module")
def repo(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[int, tuple[str, float]], dict]]:
    root = tmp_path_factory.mktemp("ptc_verify")
    make_calibration_set(
        root / "raws",
        model=SensorModel.from_yaml(None, seed=3),
        geometry_name="reduced",
        detectors=[DETECTOR],
        n_bias=3,
        n_dark=2,
        dark_time=30.0,
        flat_times=FLAT_TIMES,
        flats_per_time=2,
    )
    truth = yaml.safe_load((root / "raws" / "truth.yaml").read_text())
    butler = bootstrap_repository(root / "repo")
    ingest_raws(butler, sorted((root / "raws").glob("*.fits")))
    exposures = {
        int(r.id): (str(r.observation_type), float(r.exposure_time))
        for r in butler.query_dimension_records("exposure", instrument="LSSTComCam")
    }
    for product, inputs in (("bias", [RAW]), ("dark", [RAW, CALIB]), ("flat", [RAW, CALIB])):
        pipeline = PATHS.pipeline(f"cp{product.capitalize()}")
        run_pipetask(
            root / "repo", pipeline, f"u/test/{product}", f"exposure.observation_type='{product}'", inputs
        )
        certify_calibrations(butler, f"u/test/{product}", CALIB, product, "2024-10-01", "2024-11-30")
    yield root / "repo", exposures, truth
    butler.close()


def flats(exposures: dict[int, tuple[str, float]]) -> list[int]:
    return sorted(e for e, (kind, _) in exposures.items() if kind == "flat")


@pytest.mark.timeout(STD_TIMEOUT)
def test_gain_from_flat_pair_subset(repo: tuple[Path, dict, dict]) -> None:
    path, exposures, truth = repo
    pipeline = PATHS.pipeline("cpPtc", subset="generateGainFromFlatPair")
    run_pipetask(path, pipeline, "u/test/gain", "exposure.observation_type='flat'", [RAW])
    butler = dB.Butler(str(path), collections=["u/test/gain"])  # type: ignore[abstract]  # the document's form
    flat1, flat2 = flats(exposures)[6:8]  # the 4 s pair, about 19 ke⁻
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


@pytest.mark.timeout(STD_TIMEOUT)
def test_cp_ptc(repo: tuple[Path, dict, dict]) -> None:
    path, exposures, truth = repo
    run_pipetask(path, PATHS.pipeline("cpPtc"), "u/test/ptc", "exposure.observation_type='flat'", [RAW])
    butler = dB.Butler(str(path), collections=["u/test/ptc"])  # type: ignore[abstract]  # the document's form
    ptc = butler.get("ptc", detector=DETECTOR, instrument="LSSTComCam")
    assert ptc.ptcFitType == "EXPAPPROXIMATION"
    assert len(ptc.inputExpIdPairs["C10"]) == len(FLAT_TIMES)
    errors = []
    for amp, values in truth["detectors"]["R22_S11"]["amps"].items():
        # Five pairs of 128 × 256 pixels: about 1 % per amplifier.
        assert ptc.gain[amp] == pytest.approx(values["gain"], rel=0.03), amp
        errors.append(ptc.gain[amp] / values["gain"] - 1)
    assert abs(np.mean(errors)) < 0.005


@pytest.mark.timeout(STD_TIMEOUT)
@pytest.mark.parametrize("kind", ["Bias", "Dark", "Flat"])
def test_verify_pipeline(repo: tuple[Path, dict, dict], kind: str) -> None:
    path, exposures, _ = repo
    where = f"exposure.observation_type='{kind.lower()}'"
    run_pipetask(path, PATHS.pipeline(f"verify{kind}"), f"u/test/verify{kind}", where, [RAW, CALIB])
    butler = dB.Butler(str(path), collections=[f"u/test/verify{kind}"])  # type: ignore[abstract]  # the document's form
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
