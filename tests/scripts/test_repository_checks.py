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

"""Repository checks on a real (temporary) butler repository."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from lsst.daf.butler import Butler, CollectionType, DatasetType

from lsst.ts.calibrations.repo.calibration_repository import CalibrationRepository
from lsst.ts.calibrations.repo.certify import certify_calibrations
from lsst.ts.calibrations.repo.images import Exposure
from lsst.ts.calibrations.repo.repository import bootstrap_repository
from lsst.ts.calibrations.sal import DefaultingValidator
from lsst.ts.calibrations.sal.config_yaml import load_config_yaml
from lsst.ts.calibrations.scripts import MakeComCamCalibrations
from lsst.ts.calibrations.scripts.calibration_plan import CalibrationPlan
from lsst.ts.calibrations.scripts.repository_checks import check_repository

CALIB = "LSSTComCam/calib"
CERTIFIED = "LSSTComCam/calib/certified"


def _put(butler: Butler, dataset_type: str, run: str, detectors: tuple[int, ...], **extra: str) -> None:
    butler.collections.register(run)
    for detector in detectors:
        data_id = {"instrument": "LSSTComCam", "detector": detector, **extra}
        butler.put(Exposure(np.zeros((4, 6), dtype=np.float32)), dataset_type, data_id, run=run)


@pytest.fixture(scope="module")
def butler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CalibrationRepository]:
    """A repository with bias and dark for detectors 0..3 and an r_03 flat for 0..1, certified in
    LSSTComCam/calib (through its chain) for 2024-10-01..2024-11-01; a RUN collection u/me/run."""
    path: Path = tmp_path_factory.mktemp("repo")
    with bootstrap_repository(path) as butler:
        for name, dims in (
            ("bias", ("instrument", "detector")),
            ("dark", ("instrument", "detector")),
            ("flat", ("instrument", "detector", "physical_filter")),
        ):
            butler.registry.registerDatasetType(
                DatasetType(name, dims, "ComCamExposure", universe=butler.dimensions, isCalibration=True)
            )
        _put(butler, "bias", "u/ocps/b", (0, 1, 2, 3))
        _put(butler, "dark", "u/ocps/d", (0, 1, 2, 3))
        _put(butler, "flat", "u/ocps/f", (0, 1), physical_filter="r_03")
        for dataset_type, run in (("bias", "u/ocps/b"), ("dark", "u/ocps/d"), ("flat", "u/ocps/f")):
            certify_calibrations(butler, run, CERTIFIED, dataset_type, "2024-10-01", "2024-11-01")
        certify_calibrations(butler, "u/ocps/b", "u/me/calib.1", "bias", "2024-10-24", "2024-10-25")
        butler.collections.register("u/me/run", CollectionType.RUN)
    repository = CalibrationRepository(str(path))
    yield repository
    repository.close()


def plan_of(text: str) -> CalibrationPlan:
    config = load_config_yaml(text)
    validated = DefaultingValidator(MakeComCamCalibrations.get_schema()).validate(config)
    return CalibrationPlan.from_config(validated, explicit_keys=config.keys())


def test_external_verification_ready(butler: CalibrationRepository) -> None:
    plan = plan_of("detectors: [0, 1]\n")
    assert check_repository(plan, butler, filter_name="r_03") == []
    # Valid at a date inside the certified range, not after it.
    assert check_repository(plan, butler, filter_name="r_03", when="2024-10-24") == []
    problems = check_repository(plan, butler, filter_name="r_03", when="2024-12-01")
    assert problems[0].startswith(
        "input_collections_verify_bias: verifyBias needs a bias valid at 2024-12-01"
    )
    assert len(problems) == 6


def test_missing_calibrations_named(butler: CalibrationRepository) -> None:
    plan = plan_of("detectors: [1, 2, 4]\n")
    problems = check_repository(plan, butler, filter_name="r_03")
    assert problems == [
        "input_collections_verify_bias: verifyBias needs a bias for detector(s) 4, but none is in "
        "LSSTComCam/calib: add a collection that holds certified bias calibrations (e.g. LSSTComCam/calib) "
        "or set generate_calibrations: true to make them in this run.",
        "input_collections_verify_dark: verifyDark needs a bias for detector(s) 4, but none is in "
        "LSSTComCam/calib: add a collection that holds certified bias calibrations (e.g. LSSTComCam/calib) "
        "or set generate_calibrations: true to make them in this run.",
        "input_collections_verify_dark: verifyDark needs a dark for detector(s) 4, but none is in "
        "LSSTComCam/calib: add a collection that holds certified dark calibrations (e.g. LSSTComCam/calib) "
        "or set generate_calibrations: true to make them in this run.",
        "input_collections_verify_flat: verifyFlat needs a bias for detector(s) 4, but none is in "
        "LSSTComCam/calib: add a collection that holds certified bias calibrations (e.g. LSSTComCam/calib) "
        "or set generate_calibrations: true to make them in this run.",
        "input_collections_verify_flat: verifyFlat needs a dark for detector(s) 4, but none is in "
        "LSSTComCam/calib: add a collection that holds certified dark calibrations (e.g. LSSTComCam/calib) "
        "or set generate_calibrations: true to make them in this run.",
        "input_collections_verify_flat: verifyFlat needs a flat for filter r_03 for detector(s) 2, 4, "
        "but none is in LSSTComCam/calib: add a collection that holds certified flat calibrations (e.g. "
        "LSSTComCam/calib) or set generate_calibrations: true to make them in this run.",
    ]
    # Another filter has no flat at all.
    problems = check_repository(plan_of("detectors: [0]\n"), butler, filter_name="g_01")
    assert len(problems) == 1 and "needs a flat for filter g_01 for detector(s) 0" in problems[0]
    # Filter not known yet: any flat of the detector.
    assert check_repository(plan_of("detectors: [0]\n"), butler) == []


def test_missing_collection(butler: CalibrationRepository) -> None:
    plan = plan_of('detectors: [0]\ninput_collections_verify_bias: "u/me/nothing,LSSTComCam/calib"\n')
    problems = check_repository(plan, butler, filter_name="r_03")
    assert problems == [
        "input_collections_verify_bias: collection 'u/me/nothing' does not exist in /repo/LSSTComCam: give "
        "existing collections (e.g. LSSTComCam/calib) or create 'u/me/nothing' first."
    ]


def test_generation_needs_only_what_the_run_does_not_make(butler: CalibrationRepository) -> None:
    # Biases, darks and flats made in the run: only the (new) calib_collection heads later inputs.
    plan = plan_of("generate_calibrations: true\ncalib_collection: u/me/new.1\ndetectors: [5, 6]\n")
    assert check_repository(plan, butler) == []
    # A DARK-only generation run needs existing biases for cpDark and verifyDark.
    plan = plan_of(
        "script_mode: DARK\ngenerate_calibrations: true\ncalib_collection: u/me/new.1\ndetectors: [5]\n"
    )
    problems = check_repository(plan, butler)
    assert [p.split(":", 1)[0] for p in problems] == [
        "input_collections_dark",
        "input_collections_verify_dark",
    ]
    assert "cpDark needs a bias for detector(s) 5" in problems[0]
    assert problems[0].endswith("(e.g. LSSTComCam/calib).")


def test_calib_collection_overlap_and_type(butler: CalibrationRepository) -> None:
    text = (
        "generate_calibrations: true\ncalib_collection: {c}\ndetectors: [0, 1]\n"
        "certify_calib_begin_date: {b}\ncertify_calib_end_date: {e}\n"
    )
    problems = check_repository(
        plan_of(text.format(c="u/me/calib.1", b="2024-10-24", e="2024-10-26")), butler
    )
    assert problems == [
        "calib_collection='u/me/calib.1' already has bias certified with a validity overlapping "
        "[2024-10-24, 2024-10-26) for detector(s) 0, 1: certification would be refused after the images are "
        "taken; choose another calib_collection or certify_calib_begin_date/certify_calib_end_date that do "
        "not overlap."
    ]
    assert (
        check_repository(plan_of(text.format(c="u/me/calib.1", b="2024-10-25", e="2024-10-26")), butler) == []
    )
    problems = check_repository(plan_of(text.format(c="u/me/run", b="2024-10-25", e="2024-10-26")), butler)
    assert problems == [
        "calib_collection='u/me/run' is a RUN collection, not a CALIBRATION collection: give a new name "
        "or an existing CALIBRATION collection."
    ]
