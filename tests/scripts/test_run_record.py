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

"""The JSON run record: round trip, provenance, refusals."""

import datetime
import json
import math
from pathlib import Path

import pytest

from lsst.ts.calibrations.repo.verification_verdict import judge_verification
from lsst.ts.calibrations.sal import DefaultingValidator
from lsst.ts.calibrations.scripts import MakeComCamCalibrations
from lsst.ts.calibrations.scripts.calibration_plan import CalibrationPlan
from lsst.ts.calibrations.scripts.certification_record import CertificationRecord
from lsst.ts.calibrations.scripts.gain_report import GainReport
from lsst.ts.calibrations.scripts.product_outcome import ProductOutcome, ProductStatus
from lsst.ts.calibrations.scripts.run_record import RunRecord


def make_record() -> RunRecord:
    config = DefaultingValidator(MakeComCamCalibrations.get_schema()).validate(
        {"n_bias": 2, "n_dark": 2, "n_flat": 2}
    )
    plan = CalibrationPlan.from_config(config, explicit_keys={"n_bias"})
    return RunRecord(
        script="MakeComCamCalibrations",
        index=7,
        state="DONE",
        reason="",
        started="2024-10-24T12:00:00.000",
        ended="2024-10-24T12:20:00.000",
        config=plan.config,
        explicit_keys=sorted(plan.explicit_keys),
        plan=plan.to_dict(),
        exposures_taken={"BIAS": [2024102400001, 2024102400002, 2024102400003]},
        exposures_processed={"BIAS": [2024102400002, 2024102400003]},
        products={
            "BIAS": ProductOutcome(
                "BIAS",
                ProductStatus.VERIFIED,
                jobs={"verify": "abc"},
                verdict=judge_verification(
                    {2024102400002: {"FAILURES": ["R22_S11 C10 NOISE"]}}, 8, 9, image_type="BIAS"
                ),
            )
        },
        jobs={"abc": {"jobId": "abc", "phase": "completed"}},
        collections={"raw": "LSSTComCam/raw/all", "verify BIAS": "u/ocps/abc"},
        certifications=[
            CertificationRecord(
                dataset_type="bias",
                collection="u/me/c",
                begin=datetime.date(2024, 10, 24).isoformat(),
                end="2024-10-25",
                input_collection="u/ocps/abc",
                detectors=(0, 1),
            )
        ],
        gains=GainReport(
            rows=((2024102400002, 2024102400003, 5.0, 0, "C10", math.nan, 0.01, 6.5, 12000.0),),
            unpaired=((2024102400004, 0),),
        ),
        gain_table="Gains ...",
        software_versions=RunRecord.software_versions_now(),
        timings={"elapsed": 1200.0, "camera_busy": 900.5},
    )


def test_round_trip(tmp_path: Path) -> None:
    record = make_record()
    path = record.write(tmp_path / "records" / "run.json")
    text = path.read_text()
    data = json.loads(text)
    assert data["format_version"] == 1
    assert data["certifications"][0]["begin"] == "2024-10-24" and data["certifications"][0]["detectors"] == [
        0,
        1,
    ]
    assert data["gains"]["rows"][0]["gain"] is None
    assert data["plan"]["steps"][0]["name"] == "BIAS"
    again = RunRecord.read(path)
    assert again.to_dict() == record.to_dict()
    assert RunRecord.from_json(again.to_json()) == again
    assert again.exposure_ids("BIAS") == [2024102400002, 2024102400003]
    assert again.exposure_ids() == [2024102400002, 2024102400003]
    assert not list(tmp_path.glob("records/*.tmp"))
    # Typed end to end: the record read back is the record written.
    assert again == record
    assert isinstance(again.products["BIAS"], ProductOutcome) and again.products["BIAS"].verdict is not None
    assert again.products["BIAS"].verdict.failure_counts == {"2024102400002": {"NOISE": 1}}
    assert isinstance(again.gains, GainReport) and again.gains.unpaired == ((2024102400004, 0),)
    assert again.certifications[0].detectors == (0, 1)


def test_retrieval_lines_name_the_run_collection_and_the_alias() -> None:
    record = make_record()
    record.collections["run"] = "u/ocps/runs/MakeComCamCalibrations_7_1"
    record.products["BIAS"].collections["verify"] = "u/ocps/abc"
    alias = 'import os; os.environ["DAF_BUTLER_REPOSITORY_INDEX"] = "/data/repo/repository-index.yaml"'
    lines = record.retrieval_lines("/repo/LSSTComCam", index_line=alias)
    assert lines[0] == alias
    assert lines[2] == (
        "butler = dB.Butler('/repo/LSSTComCam', "
        "collections=['u/ocps/runs/MakeComCamCalibrations_7_1', 'LSSTComCam/calib'])"
    )
    text = "\n".join(lines)
    assert "runStats = butler.get('verifyBiasStats'" in text and "verifyBiasProc" in text
    compile(text, "<retrieval>", "exec")
    # A path needs no alias line.
    assert record.retrieval_lines("/data/repo")[0] == "import lsst.daf.butler as dB"


def test_malformed_product_named() -> None:
    data = make_record().to_dict()
    data["products"]["BIAS"]["status"] = "done"
    with pytest.raises(ValueError, match="products\\['BIAS'\\].status='done' is not one of"):
        RunRecord.from_dict(data)


def test_software_versions() -> None:
    versions = RunRecord.software_versions_now()
    assert set(versions) >= {"python", "lsst-ts-calibrations", "lsst-daf-butler", "lsst-pipe-base"}
    assert versions["lsst-daf-butler"] != "not installed"


@pytest.mark.parametrize(
    "text, message",
    [
        ("[1]", "must be a JSON object"),
        ("{", "not valid JSON"),
        ('{"script": "x", "index": 1, "format_version": 2}', "format_version 2 is not supported"),
        ('{"script": "x"}', "lacks index"),
        ('{"script": "x", "index": 1, "extra": 3}', "unknown field\\(s\\) extra"),
    ],
)
def test_refusals(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RunRecord.from_json(text)


def test_unknown_image_type() -> None:
    with pytest.raises(KeyError, match="'FLAT' not in this run record"):
        make_record().exposure_ids("FLAT")
