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

"""Tests of defect finding: synthetic darks and flats with injected defects, tasks, pipelines."""

import numpy as np
import pytest
from lsst.daf.butler import DimensionUniverse
from lsst.pipe.base import Pipeline

from lsst.ts.calibrations.cp.defect_finding import (
    DefectThresholds,
    column_gap_threshold,
    column_threshold,
    find_amp_defects,
    find_defects,
    merge_defect_masks,
)
from lsst.ts.calibrations.cp.defects import MeasureDefectsTask
from lsst.ts.calibrations.cp.merge_defects import MergeDefectsTask
from lsst.ts.calibrations.cp.pipeline_paths import PipelinePaths
from lsst.ts.calibrations.repo.camera import REDUCED_GEOMETRY
from lsst.ts.calibrations.repo.defects import Defects
from lsst.ts.calibrations.repo.images import MASK_PLANES, Exposure

SHAPE = REDUCED_GEOMETRY.detector_shape  # (512, 1024)
DARK_TIME = 30.0
DARK_CURRENT = 0.01  # e-/s
READ_NOISE = 8.0
FLAT_LEVEL = 20000.0


class Truth:
    """Injected defects of one synthetic detector."""

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        rows, cols = SHAPE
        n = rows * cols
        picks = rng.choice(n, size=120, replace=False)
        self.hot = np.zeros(SHAPE, dtype=bool)
        self.cold = np.zeros(SHAPE, dtype=bool)
        self.hot.reshape(-1)[picks[:60]] = True
        self.cold.reshape(-1)[picks[60:]] = True
        self.hot_current = rng.uniform(4.0, 50.0, SHAPE)  # e-/s where hot
        self.cold_response = rng.uniform(0.2, 0.8, SHAPE)  # where cold
        # one bad column (low response) in the top half and one hot partial column in the bottom half
        self.cold_column = (slice(256, 512), 300)
        self.hot_column = (slice(40, 120), 777)
        self.cold[self.cold_column] = True
        self.hot[self.hot_column] = True

    @property
    def mask(self) -> np.ndarray:
        return self.hot | self.cold


def make_dark(truth: Truth, rng: np.random.Generator, cosmic_rays: int = 200) -> Exposure:
    signal = np.where(truth.hot, truth.hot_current, DARK_CURRENT) * DARK_TIME
    image = rng.poisson(signal).astype(np.float64) + READ_NOISE * rng.standard_normal(SHAPE)
    crs = rng.choice(image.size, size=cosmic_rays, replace=False)
    image.reshape(-1)[crs] += rng.uniform(500, 5000, cosmic_rays)
    return Exposure(image, metadata={"IMGTYPE": "DARK", "DARKTIME": DARK_TIME, "DETECTOR": 4, "EXPOSURE": 1})


def make_flat(truth: Truth, rng: np.random.Generator) -> Exposure:
    response = np.where(truth.cold, truth.cold_response, 1.0)
    # vignetting-like slope across the detector and 1% pixel response non-uniformity
    slope = 1.0 - 0.05 * np.linspace(0, 1, SHAPE[1])[np.newaxis, :]
    prnu = 1.0 + 0.01 * rng.standard_normal(SHAPE)
    expected = FLAT_LEVEL * response * slope * prnu
    image = rng.poisson(expected).astype(np.float64) + READ_NOISE * rng.standard_normal(SHAPE)
    return Exposure(image, metadata={"IMGTYPE": "FLAT", "DETECTOR": 4, "EXPOSURE": 2})


def test_recall_and_precision_on_injected_defects() -> None:
    truth = Truth(seed=1)
    rng = np.random.default_rng(2)
    darks = [make_dark(truth, rng) for _ in range(3)]
    flats = [make_flat(truth, rng) for _ in range(3)]
    masks = [find_defects(d, "dark", dark_time=DARK_TIME) for d in darks]
    masks += [find_defects(f, "flat") for f in flats]
    merged, counts = merge_defect_masks(masks, ["dark"] * 3 + ["flat"] * 3)
    assert counts == {"dark": 3, "flat": 3}
    expected = truth.mask
    true_positive = np.count_nonzero(merged & expected)
    recall = true_positive / np.count_nonzero(expected)
    precision = true_positive / np.count_nonzero(merged)
    assert recall == 1.0
    assert precision >= 0.99
    # each single dark flags its cosmic rays; the vote drops them
    assert np.count_nonzero(masks[0] & ~expected) > 100


def test_dark_current_threshold_independent_of_noise() -> None:
    """A pixel above 3 e-/s is hot even if the amplifier is noisy enough to hide it in sigmas."""
    rng = np.random.default_rng(3)
    image = 200.0 * rng.standard_normal((256, 128))
    image[10, 10] = 3.5 * DARK_TIME  # 105 e-: 0.5 sigma
    image[20, 20] = 2.5 * DARK_TIME
    bad = find_amp_defects(image, np.ones(image.shape, dtype=bool), "dark", dark_time=DARK_TIME)
    # noise itself crosses 3 e-/s (90 e-) often at sigma 200; the injected pixel must be among them
    assert bad[10, 10]
    quiet = find_amp_defects(image / 100, np.ones(image.shape, dtype=bool), "dark", dark_time=DARK_TIME)
    assert not quiet[20, 20]


def test_flat_cold_fraction_and_masked_pixels_ignored() -> None:
    rng = np.random.default_rng(4)
    image = 1000.0 + 50.0 * rng.standard_normal((256, 128))  # sigma 5% : 0.9 is only 2 sigma
    image[5, 5] = 880.0  # below 0.9 of the mean
    image[6, 6] = 0.0
    good = np.ones(image.shape, dtype=bool)
    good[6, 6] = False
    bad = find_amp_defects(image, good, "flat")
    assert bad[5, 5]
    assert not bad[6, 6]


@pytest.mark.parametrize("ny,pixels,gap", [(2000, 50, 30), (256, 6, 4), (64, 3, 2), (4000, 100, 60)])
def test_column_thresholds_scale_with_rows(ny: int, pixels: int, gap: int) -> None:
    assert column_threshold(ny) == pixels
    assert column_gap_threshold(ny) == gap


def test_bad_columns_filled_between_their_pixels() -> None:
    rng = np.random.default_rng(5)
    image = 1000.0 + 5.0 * rng.standard_normal((256, 128))
    image[0:10:2, 10] = 2000.0  # 5 pixels < 6: not a bad column, not filled
    image[100:112:2, 20] = 2000.0  # 6 pixels with 1-pixel gaps: filled from 100 to 110
    image[200, 20] = 2000.0  # 89 good pixels away (>= 4): not bridged
    bad = find_amp_defects(image, np.ones(image.shape, dtype=bool), "flat")
    assert np.count_nonzero(bad[:, 10]) == 5
    np.testing.assert_array_equal(np.flatnonzero(bad[:, 20]), [*range(100, 111), 200])


def test_bad_inputs_name_the_problem() -> None:
    image = np.ones((256, 128))
    good = np.ones(image.shape, dtype=bool)
    with pytest.raises(ValueError, match="kind"):
        find_amp_defects(image, good, "bias")
    with pytest.raises(ValueError, match="dark_time"):
        find_amp_defects(image, good, "dark", dark_time=0.0)
    with pytest.raises(ValueError, match="too few"):
        find_amp_defects(image, np.zeros(image.shape, dtype=bool), "flat")
    with pytest.raises(ValueError, match="vote_fraction"):
        DefectThresholds(vote_fraction=1.5)
    with pytest.raises(ValueError, match="empty"):
        merge_defect_masks([], [])
    with pytest.raises(ValueError, match="kinds"):
        merge_defect_masks([good], ["bias"])


def test_tasks_measure_and_merge() -> None:
    truth = Truth(seed=6)
    rng = np.random.default_rng(7)
    exposures = [make_dark(truth, rng) for _ in range(2)] + [make_flat(truth, rng) for _ in range(2)]
    exposures[0].mask.array[0, 0] = MASK_PLANES["SAT"]
    measure = MeasureDefectsTask()
    partials = [measure.run(inputExp=exp).outputDefects for exp in exposures]
    assert [p.metadata["IMGTYPE"] for p in partials] == ["DARK", "DARK", "FLAT", "FLAT"]
    assert all(p.metadata["LSST CP DEFECTS COLUMN THRESHOLD"] == 6 for p in partials)
    merged = MergeDefectsTask().run(inputDefects=partials).mergedDefects
    assert isinstance(merged, Defects)
    np.testing.assert_array_equal(merged.to_mask(), truth.mask)
    assert merged.metadata["LSST CP DEFECTS N DARK"] == 2 and merged.metadata["DETECTOR"] == 4
    bias = Exposure(np.zeros(SHAPE), metadata={"IMGTYPE": "BIAS", "DETECTOR": 4})
    with pytest.raises(ValueError, match="IMGTYPE"):
        measure.run(inputExp=bias)
    no_time = Exposure(np.zeros(SHAPE), metadata={"IMGTYPE": "DARK", "DETECTOR": 4})
    with pytest.raises(ValueError, match="DARKTIME"):
        measure.run(inputExp=no_time)
    with pytest.raises(ValueError, match="No partial defects"):
        MergeDefectsTask().run(inputDefects=[])


@pytest.mark.parametrize("name", ["cpDefects", "findDefects"])
def test_pipelines_build_with_procedure_options(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = PipelinePaths()
    for key, value in paths.environment().items():
        monkeypatch.setenv(key, value)
    pipeline = Pipeline.from_uri(paths.pipeline(name))
    pipeline.addConfigOverride("isr", "doDefect", False)
    pipeline.addConfigOverride("isr", "doCrosstalk", False)
    graph = pipeline.to_graph()
    graph.resolve(dimensions=DimensionUniverse())
    assert set(graph.tasks) == {"isr", "measureDefects", "mergeDefects"}
    node = graph.dataset_types["defects"]
    assert node.is_calibration
    assert set(node.dimensions.required) == {"instrument", "detector"}
    assert set(graph.tasks["isr"].prerequisite_inputs) == {"bias"}
