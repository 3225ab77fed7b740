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

"""The calibration script under faults, as an operator runs it: ``run_one_script --simulate``
with ``--sim-fault`` options (in this process, local transport; reduced geometry).

An exposure that fails ingest, never reaches the OODS, or whose processing
fails for a detector is left out and named, and the rest make the product;
a fault that leaves nothing to make stops data taking at once; configure
refuses reference calibrations not valid when the images are taken; and
the biases are processed while the darks are taken. The run reports are
requested, not built (``run_reports``).
"""

import datetime
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from lsst.daf.butler import Butler, DatasetType

from fixtures.script_runs import next_script_index
from lsst.ts.calibrations.repo.certify import certify_calibrations
from lsst.ts.calibrations.repo.images import Exposure
from lsst.ts.calibrations.repo.repository import bootstrap_repository
from lsst.ts.calibrations.sal.run_one_script import parse_args, run_one_script
from lsst.ts.calibrations.scripts.run_record import RunRecord
from lsst.ts.calibrations.sim.simulated_observatory_provider import make_simulated_observatory

EXECUTABLE = (
    Path(__file__).parents[2] / "python/lsst/ts/calibrations/data/scripts/maintel/make_comcam_calibrations.py"
)
DATE = "2022-11-04"
CALIB = "LSSTComCam/calib/daily/calib.2022NOV04.1"
# Every test runs the script against an observatory started for it: all are slow.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("run_reports")]


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The observatory installs the repository alias in this process: restore the environment after."""
    for name in ("DAF_BUTLER_REPOSITORY_INDEX", "TS_CALIBRATIONS_RUN_RECORDS"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def bias_config(repo: Path, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = dict(
        repo=str(repo),
        detectors=[0],
        n_processes=1,
        oods_timeout=20,
        script_mode="BIAS",
        n_bias=3,
        generate_calibrations=True,
        do_verify=False,
        calib_collection=CALIB,
        certify_calib_begin_date=DATE,
        certify_calib_end_date="2022-11-05",
    )
    config.update(overrides)
    return config


async def run_simulated(
    repo: Path,
    config: dict[str, Any],
    faults: list[str] = [],  # noqa: B006 - never modified
    *,
    time_scale: str = "0.01",
    date: str | None = DATE,
) -> tuple[int, str, RunRecord | None]:
    """``run_one_script make_comcam_calibrations.py --simulate ... --sim-fault F ...``.

    Returns the exit code, what it printed and the run record (None if none was written).
    """
    args = [str(EXECUTABLE), "--simulate", "--repo", str(repo), "--time-scale", time_scale]
    args += ["--index", str(next_script_index()), "--ocps-max-processes", "1"]
    if date is not None:
        args += ["--date", date]
    for fault in faults:
        args += ["--sim-fault", fault]
    namespace = parse_args(args)
    stream = io.StringIO()
    code = await run_one_script(
        namespace.script,
        index=namespace.index,
        config=yaml.safe_dump(config),
        stream=stream,
        observatory=make_simulated_observatory(namespace),
        transport="local",
    )
    records = sorted((repo / "run_records").glob("*.json"))
    return code, stream.getvalue(), RunRecord.read(records[-1]) if records else None


async def test_exposures_not_ingested_lost_or_unprocessable_are_left_out_and_the_rest_certified(
    tmp_path: Path,
) -> None:
    # One run, a fault on three of its five kept images: image 1 is the discarded bias; image 2
    # arrives damaged (its ingest fails), image 3 never reaches the OODS, image 4 ingests but its
    # detector 0 cannot be read for processing; images 5 and 6, the fewest that combine, make the
    # bias. Image 4 is the first image processed: if its job held it alone, that job's ISR ran
    # and failed before any exposure was processed, and the next job, processing image 5,
    # decides that image 4 was at fault (with image 5 in the same job, it is blamed at once).
    # The lost image is reported missing oods_timeout after the OODS last ingested anything:
    # the limit is waited out once. 30 s: the images that arrive were all ingested within 2.5 s
    # of the first at load 10, but the first imageInOODS of the run came 12.5 s after its
    # readout at load 8 (the OODS's first ingest, in this process), and a 10 s limit then
    # left out every image.
    config = bias_config(tmp_path / "repo", n_bias=5, oods_timeout=30)
    code, output, record = await run_simulated(
        tmp_path / "repo", config, ["ingest-fail:2", "oods-lose:3", "process-fail:4:0"]
    )
    assert code == 0, output
    assert record is not None and record.state == "DONE", output
    taken = record.exposures_taken["BIAS"]
    assert len(taken) == 6
    damaged, lost, unreadable = taken[1], taken[2], taken[3]
    left_out = record.exposures_left_out["BIAS"]
    assert set(left_out) == {damaged, lost, unreadable}
    # Each named with why; the images taken stay listed, the rest made the product.
    assert (
        left_out[damaged].startswith("not ingested: OODS could not ingest")
        and "statusCode 1" in left_out[damaged]
    )
    assert "No imageInOODS within 30.0 s of the readout" in left_out[lost]
    assert left_out[unreadable].startswith("processing failed for detector(s) 0 in job ")
    assert record.exposures_processed["BIAS"] == [taken[4], taken[5]]
    outcome = record.products["BIAS"]
    assert outcome.status.value == "certified"
    # The generation processed only the exposures left.
    query = record.jobs[outcome.jobs["generate"]]["parameters"]["data_query"]
    assert all(str(e) not in query for e in (damaged, lost, unreadable)), query
    assert all(str(e) in query for e in (taken[4], taken[5])), query
    # The job that failed for the unreadable detector ended ERROR; the generation ran without it.
    failed_job = left_out[unreadable].split(" in job ")[1].split()[0]
    assert record.jobs[failed_job]["phase"] == "ERROR"
    assert outcome.jobs["generate"] != failed_job
    # A job that failed for the bad exposure only leaves nothing to submit again; one that also
    # held others (how exposures batch depends on when they land) is submitted again without it.
    others = [e for e in record.jobs[failed_job]["exposures"] if e != unreadable]
    resubmitted = "submitting the job again without the exposures left out" in output
    assert resubmitted == bool(others), (others, output)
    # One WARNING naming each exposure left out and why, in the log, and the summary lines.
    warnings = [
        line for line in output.splitlines() if " WARNING " in line and "Left out of processing" in line
    ]
    assert len(warnings) == 1, output
    assert f"BIAS {damaged}: not ingested" in warnings[0], output
    assert f"BIAS {lost}: not ingested: No imageInOODS" in warnings[0], output
    assert f"BIAS {unreadable}: processing failed for detector(s) 0" in warnings[0], output
    for exposure, why in ((damaged, "not ingested"), (lost, "not ingested: No imageInOODS")):
        assert f"left out of processing: BIAS {exposure}: {why}" in output
    assert f"left out of processing: BIAS {unreadable}: processing failed" in output
    assert "final state DONE" in output


async def test_too_few_biases_left_fails_and_stops_data_taking(tmp_path: Path) -> None:
    # Both kept biases fail ingest: nothing can be made, the dark needs the new bias, so the
    # darks are pointless: data taking stops as soon as that is known. The darks last 6 s each
    # (60 s at time scale 0.1): the OODS's answers for the two biases, slow on a busy machine,
    # arrive well before the last dark, and the stop comes before the next one.
    config = bias_config(tmp_path / "repo", script_mode="BIAS_DARK", n_bias=2, n_dark=5, exp_times_dark=60.0)
    code, output, record = await run_simulated(
        tmp_path / "repo", config, ["ingest-fail:2", "ingest-fail:3"], time_scale="0.1"
    )
    assert code == 1, output
    assert record is not None and record.state == "FAILED", output
    biases = record.exposures_taken["BIAS"]
    assert set(record.exposures_left_out["BIAS"]) == set(biases[1:])
    assert len(record.exposures_taken.get("DARK", [])) < 6
    assert "DARK" in record.images_not_taken and "BIAS" in record.images_not_taken["DARK"]
    assert "0 of 2 BIAS exposure(s) left, 2 needed to combine" in record.reason
    assert record.products["BIAS"].status.value == "failed"
    assert record.products["DARK"].status.value == "not generated"
    assert "Not taking the" in output and "no product can use them any more" in output
    # Nothing half-certified; every image taken is listed.
    assert not record.certifications
    assert record.exposures_ingested["BIAS"] == [biases[0]]


def _reference_repository(path: Path, begin: str, end: str) -> None:
    """A repository with a bias, dark and r_03 flat for detector 0 certified in LSSTComCam/calib
    (through its chain) for [begin, end)."""
    with bootstrap_repository(path) as butler:
        for name, dims in (
            ("bias", ("instrument", "detector")),
            ("dark", ("instrument", "detector")),
            ("flat", ("instrument", "detector", "physical_filter")),
        ):
            butler.registry.registerDatasetType(
                DatasetType(name, dims, "ComCamExposure", universe=butler.dimensions, isCalibration=True)
            )
            run = f"u/ref/{name}"
            butler.collections.register(run)
            data_id = {"instrument": "LSSTComCam", "detector": 0}
            if name == "flat":
                data_id["physical_filter"] = "r_03"
            butler.put(Exposure(np.zeros((4, 6), dtype=np.float32)), name, data_id, run=run)
            certify_calibrations(butler, run, "LSSTComCam/calib/certified", name, begin, end)


async def test_reference_calibrations_not_valid_when_the_images_are_taken_are_refused(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    _reference_repository(repo, "2022-10-01", "2022-11-01")
    # The daily default's shape: external verification against LSSTComCam/calib.
    config = dict(repo=str(repo), detectors=[0], n_bias=2, n_dark=1, n_flat=2)
    code, output, record = await run_simulated(repo, config)
    assert code == 1, output
    assert record is None or not record.exposures_taken
    # One answer naming dataset type, detector and the validity found, on the camera's day.
    for dataset_type in ("bias", "dark", "flat"):
        assert (
            f"needs a {dataset_type}"
            + (" for filter r_03" if dataset_type == "flat" else "")
            + f" valid at {DATE}T"
        ) in output
        assert f"the {dataset_type} certified in LSSTComCam/calib is valid only (TAI) detector 0: " in output
    assert "[2022-10-01T00:00:00, 2022-11-01T00:00:00) in LSSTComCam/calib/certified" in output
    # bias for verifyBias, verifyDark and verifyFlat; dark for verifyDark and verifyFlat; flat.
    assert "6 configuration problem(s)" in output
    assert "final state CONFIGURE_FAILED" in output


async def test_bias_processing_overlaps_the_darks(tmp_path: Path) -> None:
    # Real timings (time scale 1, the clock starting now), so job and exposure times compare.
    # Three darks of 15 s (the discarded one first) end about 51 s after the last bias; the bias's
    # job started 23 s after it at load 10 (its worker's imports first), 3-5 s on a quiet machine.
    today = datetime.datetime.now(datetime.UTC).date()
    config = bias_config(
        tmp_path / "repo",
        script_mode="BIAS_DARK",
        n_bias=2,
        n_dark=2,
        exp_times_dark=15.0,
        oods_timeout=60,
        calib_collection="LSSTComCam/calib/overlap",
        certify_calib_begin_date=(today - datetime.timedelta(days=1)).isoformat(),
        certify_calib_end_date=(today + datetime.timedelta(days=2)).isoformat(),
    )
    code, output, record = await run_simulated(tmp_path / "repo", config, time_scale="1.0", date=None)
    assert code == 0, output
    assert record is not None and record.state == "DONE", output
    bias_job = record.jobs[record.products["BIAS"].jobs["generate"]]
    started = datetime.datetime.fromisoformat(bias_job["startTime"].replace("Z", "+00:00"))
    with Butler.from_config(str(tmp_path / "repo")) as butler:
        spans = {
            int(r.id): r.timespan
            for r in butler.query_dimension_records("exposure", instrument="LSSTComCam", explain=False)
        }

    def utc(t: Any) -> datetime.datetime:
        return t.utc.to_datetime(timezone=datetime.UTC)

    last_bias = max(record.exposures_taken["BIAS"])
    last_dark = max(record.exposures_taken["DARK"])
    # The bias job ran after its last image, and while the darks were being taken.
    ended = datetime.datetime.fromisoformat(bias_job["endTime"].replace("Z", "+00:00"))
    first_dark = min(record.exposures_taken["DARK"])
    assert utc(spans[last_bias].end) < started
    assert started < utc(spans[last_dark].end) and ended > utc(spans[first_dark].begin)
