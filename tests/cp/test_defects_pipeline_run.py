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

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from lsst.daf.butler import Butler

from fixtures.repositories import certify, pipetask, simulate_and_ingest
from fixtures.timeouts import BUILD_TIMEOUT
from lsst.ts.calibrations.repo.camera import REDUCED_GEOMETRY
from lsst.ts.calibrations.repo.defects import Defects
from lsst.ts.calibrations.repo.repository import RAW_RUN
from lsst.ts.calibrations.sim.sensor_model import SensorModel

# The module's repository is built by its first test (simulation, ingest, pipetask runs).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(BUILD_TIMEOUT)]

GEOMETRY = REDUCED_GEOMETRY
DETECTOR = 4
SEED = 11
CALIB = "u/test/calib"


@dataclass
class Setup:
    repo: str
    model: SensorModel


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    repo, model = simulate_and_ingest(
        tmp_path_factory.mktemp("defects_run"),
        detectors=[DETECTOR],
        seed=SEED,
        n_bias=3,
        n_dark=3,
        dark_time=30.0,
        flat_times=(2.0,),
        flats_per_time=3,
        physical_filter="r_03",
    )
    result = pipetask(repo, "cpBias", "u/test/bias", [RAW_RUN], "exposure.observation_type='bias'")
    assert result.returncode == 0, result.stderr[-3000:]
    certify(repo, "u/test/bias", CALIB, "bias", "2024-10-01", "2024-11-01")
    yield Setup(repo=str(repo), model=model)


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
