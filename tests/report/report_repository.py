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

"""A small calibration run in a butler repository, made with the package's own tools, for the report.

`make_report_repository` simulates raws (`make_calibration_set`), bootstraps
and ingests them, then runs the calibration pipelines with ``pipetask`` as the
OCPS does: cpBias, cpDark and cpFlat (each certified into ``CALIB`` before the
next needs it), cpPtc (gains per flat pair and the PTC), findDefects and
verifyBias/Dark/Flat. Independent pipelines run at the same time. Used by
the report tests and by ``benchmarks/report.py``.
"""

import dataclasses
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from lsst.ts.calibrations.cp.pipeline_paths import PipelinePaths
from lsst.ts.calibrations.repo.certify import certify_calibrations
from lsst.ts.calibrations.repo.ingest import ingest_raws
from lsst.ts.calibrations.repo.repository import RAW_RUN, bootstrap_repository
from lsst.ts.calibrations.sim.make_calibration_set import make_calibration_set
from lsst.ts.calibrations.sim.sensor_model import SensorModel

PATHS = PipelinePaths()
CALIB = "LSSTComCam/calib/report"
VALIDITY = ("2024-10-01", "2024-11-30")
PIPETASK_TIMEOUT = 900.0


@dataclasses.dataclass
class ReportRepository:
    """A repository holding one calibration run.

    Parameters
    ----------
    repo : `pathlib.Path`
        The repository root.
    collections : `list` [`str`]
        Output collections of the run's pipelines, by product.
    calib_collection : `str`
        The CALIBRATION collection bias, dark and flat were certified into.
    detectors : `list` [`int`]
        Detector ids.
    seconds : `dict` [`str`, `float`]
        Wall time of each step.
    """

    repo: Path
    collections: dict[str, str]
    calib_collection: str
    detectors: list[int]
    seconds: dict[str, float]


def _pipetask_args(repo: Path, name: str, output: str, inputs: Sequence[str], where: str) -> list[str]:
    pipeline = (
        PATHS.pipeline("cpPtc", subset="generateGainFromFlatPair") if name == "gain" else PATHS.pipeline(name)
    )
    return PATHS.pipetask_run_args(repo, pipeline, output, inputs, f"instrument='LSSTComCam' AND {where}")


def _run_together(repo: Path, jobs: dict[str, tuple[Sequence[str], str]], seconds: dict[str, float]) -> None:
    """Run pipelines at the same time; raise with stderr if one fails."""
    start = time.monotonic()
    processes = {
        name: subprocess.Popen(
            _pipetask_args(repo, name, f"u/report/{name}", inputs, where),
            env=PATHS.pipeline_environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (inputs, where) in jobs.items()
    }
    failures = []
    for name, process in processes.items():
        _, stderr = process.communicate(timeout=PIPETASK_TIMEOUT)
        seconds[name] = time.monotonic() - start
        if process.returncode != 0:
            failures.append(f"pipetask {name} failed ({process.returncode}):\n{stderr[-3000:]}")
    if failures:
        raise RuntimeError("\n".join(failures))


def make_report_repository(
    root: Path,
    *,
    detectors: Sequence[int],
    n_bias: int = 3,
    n_dark: int = 2,
    dark_time: float = 10.0,
    flat_times: Sequence[float] = (0.5, 1.0, 2.0, 4.0),
    seed: int = 5,
    ptc: bool = True,
    defects: bool = True,
) -> ReportRepository:
    """Simulate, ingest and process a calibration run (see the module documentation).

    Parameters
    ----------
    root : `pathlib.Path`
        An empty folder; the repository is ``root / "repo"``.
    detectors : `~collections.abc.Sequence` [`int`]
        Detector ids.
    n_bias, n_dark : `int`
        Numbers of biases and darks.
    dark_time : `float`
        Exposure time of the darks (s).
    flat_times : `~collections.abc.Sequence` [`float`]
        Exposure times of the flat pairs (s).
    seed : `int`
        Seed of the sensor model.
    ptc : `bool`
        Run the full cpPtc (gains per pair and the PTC); if false only the
        gain-from-flat-pairs subset.
    defects : `bool`
        Run findDefects.

    Returns
    -------
    repository : `ReportRepository`
        The repository and its collections.
    """
    seconds: dict[str, float] = {}
    start = time.monotonic()
    make_calibration_set(
        root / "raws",
        model=SensorModel.from_yaml(None, seed=seed),
        geometry_name="reduced",
        detectors=list(detectors),
        n_bias=n_bias,
        n_dark=n_dark,
        dark_time=dark_time,
        flat_times=tuple(flat_times),
        flats_per_time=2,
    )
    seconds["simulate"] = time.monotonic() - start
    repo = root / "repo"
    butler = bootstrap_repository(repo)
    try:
        ingest_raws(butler, sorted((root / "raws").glob("*.fits")))
    finally:
        butler.close()
    seconds["ingest"] = time.monotonic() - start
    det = f"detector IN ({', '.join(str(d) for d in detectors)})"
    kind = "exposure.observation_type="
    raw, calib = [RAW_RUN], [RAW_RUN, CALIB]
    stages: list[dict[str, tuple[Sequence[str], str]]] = [
        {
            "cpBias": (raw, f"{kind}'bias' AND {det}"),
            ("cpPtc" if ptc else "gain"): (raw, f"{kind}'flat' AND {det}"),
        },
        {"cpDark": (calib, f"{kind}'dark' AND {det}"), "verifyBias": (calib, f"{kind}'bias' AND {det}")},
        {"cpFlat": (calib, f"{kind}'flat' AND {det}"), "verifyDark": (calib, f"{kind}'dark' AND {det}")},
        {"verifyFlat": (calib, f"{kind}'flat' AND exposure.exposure_time >= 2.0 AND {det}")},
    ]
    if defects:
        stages[3]["findDefects"] = (calib, f"exposure.observation_type IN ('dark', 'flat') AND {det}")
    collections: dict[str, str] = {}
    for stage in stages:
        _run_together(repo, stage, seconds)
        collections.update({name: f"u/report/{name}" for name in stage})
        butler = bootstrap_repository(repo)
        try:
            for name in stage:
                if name in ("cpBias", "cpDark", "cpFlat"):
                    product = name[2:].lower()
                    certify_calibrations(butler, f"u/report/{name}", CALIB, product, *VALIDITY)
        finally:
            butler.close()
    seconds["total"] = time.monotonic() - start
    return ReportRepository(
        repo=repo, collections=collections, calib_collection=CALIB, detectors=list(detectors), seconds=seconds
    )
