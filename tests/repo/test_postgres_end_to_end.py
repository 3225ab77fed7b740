"""The script end to end on a PostgreSQL registry: ``run_one_script --simulate --registry-db URL``.

Bootstrap, ingest by the OODS, OCPS ``pipetask`` jobs (generation and
verification), the verdict, certification, the run report and the
procedure document's retrieval all run on a repository whose registry is in
PostgreSQL.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from lsst.daf.butler import Butler, Config

from fixtures.timeouts import RUN_TIMEOUT
from lsst.ts.calibrations.sal.run_one_script import make_observatory, parse_args
from lsst.ts.calibrations.sim.observatory_process import ObservatoryProcess
from lsst.ts.calibrations.sim.run_comcam_sim import make_parser as make_sim_parser
from lsst.ts.calibrations.sim.simulated_observatory_provider import (
    check_simulator_arguments,
    make_simulated_observatory,
)

EXECUTABLE = (
    Path(__file__).parents[2] / "python/lsst/ts/calibrations/data/scripts/maintel/make_comcam_calibrations.py"
)
CALIB = "LSSTComCam/calib/daily/calib.2022NOV04.pg"


def test_registry_db_option_reaches_the_simulator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://ops@db.example.org:5432/butler"
    repo = str(tmp_path / "r")
    namespace = parse_args([str(EXECUTABLE), "--simulate", "--repo", repo, "--registry-db", url])
    assert make_simulated_observatory(namespace).registry_db == url
    # Over DDS the simulator is its own process (run_comcam_sim), given the same option.
    process = make_observatory(namespace, "dds")
    assert isinstance(process, ObservatoryProcess)
    sim_parser = make_sim_parser()
    sim_namespace = sim_parser.parse_args(process.args)
    check_simulator_arguments(sim_parser, sim_namespace)
    assert sim_namespace.registry_db == url
    for args, message in (
        (["--registry-db", url], "--registry-db need --simulate"),
        (["--simulate", "--repo", "r", "--registry-db", "sqlite:///x"], "must be postgresql://"),
    ):
        with pytest.raises(SystemExit):
            parse_args([str(EXECUTABLE), *args])
        assert message in capsys.readouterr().err


@pytest.mark.slow
def test_bias_run_on_postgresql(tmp_path: Path, postgres_registry_db: str) -> None:
    repo = tmp_path / "repo"
    config = tmp_path / "bias.yaml"
    config.write_text(
        yaml.safe_dump(
            dict(
                script_mode="BIAS",
                n_bias=2,
                generate_calibrations=True,
                do_verify=True,
                detectors=[0],
                n_processes=1,
                repo=str(repo),
                calib_collection=CALIB,
                certify_calib_begin_date="2022-11-04",
                certify_calib_end_date="2022-11-05",
            )
        )
    )
    records = tmp_path / "records"
    env = {**os.environ, "LSST_SAL_TRANSPORT": "local", "TS_CALIBRATIONS_RUN_RECORDS": str(records)}
    env.pop("DAF_BUTLER_REPOSITORY_INDEX", None)
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "lsst.ts.calibrations.sal.run_one_script",
            str(EXECUTABLE),
            "-c",
            str(config),
            "--simulate",
            "--repo",
            str(repo),
            "--registry-db",
            postgres_registry_db,
            "--time-scale",
            "0.01",
            "--date",
            "2022-11-04",
            "--ocps-max-processes",
            "1",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    output = process.stdout + process.stderr
    assert process.returncode == 0, output
    assert "final state DONE" in output
    # The simulator made the repository on PostgreSQL, in a schema of its own: no SQLite file.
    namespace = Config(str(repo / "butler.yaml"))["registry", "namespace"]
    assert f"/butler (schema {namespace}))" in output
    assert not (repo / "gen3.sqlite3").exists()
    # The OCPS's pipetask jobs ran on it, verification passed and the bias was certified.
    assert "Verification: PASSED" in output
    assert f"Certified 1 bias dataset(s) into {CALIB}" in output
    (record_path,) = records.glob("*.json")
    record = json.loads(record_path.read_text())
    bias = record["products"]["BIAS"]
    assert bias["status"] == "certified" and bias["certified_into"] == CALIB
    # The run report read the products from the same registry.
    report = record_path.with_suffix("") / "report.html"
    assert report.is_file() and "Combined bias" in report.read_text()
    exposures = record["exposures_processed"]["BIAS"]
    assert len(exposures) == 2 and len(record["exposures_taken"]["BIAS"]) == 3
    # The procedure document's retrieval, by path, from the PostgreSQL registry.
    butler = Butler(str(repo), collections=[CALIB, bias["collections"]["verify"]])  # type: ignore[abstract]  # the document's form
    try:
        raws = butler.query_datasets("raw", collections="LSSTComCam/raw/all")
        assert {ref.dataId["exposure"] for ref in raws} == set(record["exposures_taken"]["BIAS"])
        combined = butler.get("bias", detector=0, exposure=exposures[0], instrument="LSSTComCam")
        assert combined.getImage().getArray().size > 0
        assert butler.get("verifyBiasStats", instrument="LSSTComCam")
        proc = butler.get("verifyBiasProc", detector=0, exposure=exposures[0], instrument="LSSTComCam")
        assert proc.getImage().getArray().size > 0
    finally:
        butler.close()
