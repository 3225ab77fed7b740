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

"""cpDefects (and findDefects) run by ``pipetask`` on a simulated reduced-geometry data set.

Biases make the bias (cpBias, certified), then darks and flats make the
defects, which are compared with the simulator's injected hot and cold
pixels and bad columns.
"""

import glob
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from lsst.daf.butler import Butler

from lsst.ts.calibrations.cp.pipeline_paths import PipelinePaths
from lsst.ts.calibrations.repo.camera import REDUCED_GEOMETRY
from lsst.ts.calibrations.repo.certify import certify_calibrations
from lsst.ts.calibrations.repo.defects import Defects
from lsst.ts.calibrations.repo.ingest import ingest_raws
from lsst.ts.calibrations.repo.repository import RAW_RUN, bootstrap_repository
from lsst.ts.calibrations.sim.make_calibration_set import make_calibration_set
from lsst.ts.calibrations.sim.sensor_model import SensorModel

pytestmark = pytest.mark.slow

STD_TIMEOUT = 300.0
GEOMETRY = REDUCED_GEOMETRY
DETECTOR = 4
SEED = 11
CALIB = "u/test/calib"
PATHS = PipelinePaths()


@dataclass
class Setup:
    repo: str
    model: SensorModel


def pipetask(repo: str, name: str, output: str, inputs: list[str], where: str) -> subprocess.CompletedProcess:
    query = f"instrument='LSSTComCam' AND {where}"
    args = PATHS.pipetask_run_args(repo, PATHS.pipeline(name), output, inputs, query)
    return subprocess.run(
        args, env=PATHS.pipeline_environment(), capture_output=True, text=True, timeout=STD_TIMEOUT
    )


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("defects_run")
    model = SensorModel.from_yaml(None, seed=SEED)
    make_calibration_set(
        root / "raws",
        model=model,
        geometry_name=GEOMETRY.name,
        detectors=[DETECTOR],
        n_bias=3,
        n_dark=3,
        dark_time=30.0,
        flat_times=(2.0,),
        flats_per_time=3,
        physical_filter="r_03",
    )
    repo = str(root / "repo")
    butler = bootstrap_repository(repo)
    ingest_raws(butler, sorted(glob.glob(str(root / "raws" / "*.fits"))))
    butler.close()
    result = pipetask(repo, "cpBias", "u/test/bias", [RAW_RUN], "exposure.observation_type='bias'")
    assert result.returncode == 0, result.stderr[-3000:]
    butler = Butler.from_config(repo, writeable=True)
    try:
        certify_calibrations(butler, "u/test/bias", CALIB, "bias", "2024-10-01", "2024-11-01")
    finally:
        butler.close()
    yield Setup(repo=repo, model=model)


@pytest.mark.parametrize("name", ["cpDefects", "findDefects"])
def test_defects_match_injected_truth(setup: Setup, name: str) -> None:
    output = f"u/test/{name}"
    result = pipetask(
        setup.repo,
        name,
        output,
        [RAW_RUN, CALIB],
        "exposure.observation_type IN ('dark', 'flat')",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    butler = Butler.from_config(setup.repo, collections=[output])
    try:
        defects = butler.get("defects", instrument="LSSTComCam", detector=DETECTOR)
        partials = butler.query_datasets("cpPartialDefects", instrument="LSSTComCam", detector=DETECTOR)
    finally:
        butler.close()
    assert isinstance(defects, Defects)
    assert len(partials) == 6
    assert defects.metadata["LSST CP DEFECTS N DARK"] == 3
    assert defects.metadata["LSST CP DEFECTS N FLAT"] == 3
    truth = setup.model.detector_truth(DETECTOR, GEOMETRY).defect_mask()
    found = defects.to_mask()
    assert truth.any()
    true_positive = np.count_nonzero(found & truth)
    recall = true_positive / np.count_nonzero(truth)
    precision = true_positive / np.count_nonzero(found)
    assert recall == 1.0, f"recall {recall:.4f}"
    assert precision >= 0.99, f"precision {precision:.4f}"
