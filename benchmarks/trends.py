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

"""Benchmark the trends builder on 100 nights of the daily default, nine detectors.

Running the script 100 times would take hours, so the nights' outputs are
written directly with the butler, in the datasets, storage classes and
dimensions the pipelines use, one RUN collection per product and night (four
a night, as the daily default's OCPS jobs): per night 20 bias, 20 dark and
20 flat exposures (dimension records as ingest makes them); ``cpPtcExtract``
for every flat (both of a pair carry its gains), ``verifyBiasDetStats`` and
``verifyDarkDetStats`` for every exposure and detector, ``verifyBiasProc``
(reduced geometry) for the first three biases of each detector, and
``verify{Bias,Dark,Flat}Stats``. Gains carry 0.3 % noise, one amplifier
drifts 0.5 % a night. The repository is kept in ``--work`` and reused.

Then ``TrendData.load`` (the one pass over the butler) and ``build_trends``
(the page) are timed ``--repeats`` times; the figures are printed (and
written as JSON with ``--json``).

Usage::

    python benchmarks/trends.py [--work DIR] [--nights 100] [--detectors 0-8] [--repeats 3] [--json OUT]
"""

__all__ = ["main"]

import argparse
import datetime
import json
import tempfile
import time
from pathlib import Path

import astropy.time
import numpy as np
from lsst.daf.butler import CollectionType, DatasetType, Timespan

from lsst.ts.calibrations.repo.camera import AMP_NAMES, REDUCED_GEOMETRY
from lsst.ts.calibrations.repo.images import Exposure
from lsst.ts.calibrations.repo.ptc_dataset import PhotonTransferCurveDataset
from lsst.ts.calibrations.repo.repository import INSTRUMENT_NAME, bootstrap_repository, open_repository
from lsst.ts.calibrations.trends import TrendData, build_trends

N_KEPT = 20
"""Exposures of each type a night (the daily default keeps 20 of 21)."""

FIRST_NIGHT = datetime.date(2025, 1, 1)
DRIFT_PER_NIGHT = 0.005

_PER_EXPOSURE = ("instrument", "exposure", "detector")
DATASET_TYPES = {
    "cpPtcExtract": (_PER_EXPOSURE, "ComCamPtcDataset"),
    "verifyBiasDetStats": (_PER_EXPOSURE, "StructuredDataDict"),
    "verifyDarkDetStats": (_PER_EXPOSURE, "StructuredDataDict"),
    "verifyBiasProc": (_PER_EXPOSURE, "ComCamExposure"),
    "verifyBiasStats": (("instrument",), "StructuredDataDict"),
    "verifyDarkStats": (("instrument",), "StructuredDataDict"),
    "verifyFlatStats": (("instrument",), "StructuredDataDict"),
}


def night_dimension_records(
    night: datetime.date,
) -> tuple[dict, list[dict], list[dict], dict[str, list[int]]]:
    """The night's day_obs, group and exposure records (as ingest makes them), and exposure ids by type.

    ``benchmarks/trends_scale.py`` inserts the same records in bulk.
    """
    day_obs = int(night.strftime("%Y%m%d"))
    start = astropy.time.Time(datetime.datetime.combine(night, datetime.time(18)), scale="tai")
    day = {
        "instrument": INSTRUMENT_NAME,
        "id": day_obs,
        "timespan": Timespan(start - datetime.timedelta(hours=18), start + datetime.timedelta(hours=6)),
    }
    groups: list[dict] = []
    exposures: list[dict] = []
    ids: dict[str, list[int]] = {}
    seq = 0
    for kind, exposure_time, physical_filter in (("bias", 0.0, "empty"), ("dark", 5.0, "empty"),
                                                 ("flat", 5.0, "r_03")):  # fmt: skip
        for _ in range(N_KEPT):
            seq += 1
            begin = start + datetime.timedelta(seconds=10 * seq)
            groups.append({"instrument": INSTRUMENT_NAME, "name": begin.isot})
            exposure = day_obs * 100000 + seq
            exposures.append(
                {
                    "instrument": INSTRUMENT_NAME,
                    "id": exposure,
                    "day_obs": day_obs,
                    "group": begin.isot,
                    "physical_filter": physical_filter,
                    "obs_id": f"CC_O_{day_obs}_{seq:06d}",
                    "exposure_time": exposure_time,
                    "dark_time": exposure_time,
                    "observation_type": kind,
                    "observation_reason": kind,
                    "seq_num": seq,
                    "seq_start": seq,
                    "seq_end": seq,
                    "has_simulated": True,
                    "can_see_sky": False,
                    "timespan": Timespan(begin, begin + datetime.timedelta(seconds=exposure_time + 1)),
                }
            )
            ids.setdefault(kind, []).append(exposure)
    return day, groups, exposures, ids


def _exposure_records(butler, night: datetime.date) -> dict[str, list[int]]:
    """Insert the night's day_obs, group and exposure records; return exposure ids by type."""
    day, groups, exposures, ids = night_dimension_records(night)
    registry = butler.registry
    registry.syncDimensionData("day_obs", day)
    for group in groups:
        registry.syncDimensionData("group", group)
    for exposure in exposures:
        registry.syncDimensionData("exposure", exposure)
    return ids


def _det_stats(rng: np.random.Generator, exposure: int, detector: int, kind: str) -> dict:
    amps = {
        amp: {"MEAN": float(rng.normal(0, 0.05)), "NOISE": 7.5, "CR_NOISE": 7.5,
              "READ_NOISE": float(rng.normal(7.4, 0.08))}
        for amp in AMP_NAMES
    }  # fmt: skip
    return {
        "AMP": amps,
        "DET": {},
        "VERIFY": {"AMP": {amp: {"MEAN": True, "NOISE": True} for amp in AMP_NAMES}, "DET": {}},
        "METADATA": {"DETECTOR": detector, "EXPOSURE": exposure, "IMGTYPE": kind.upper(), "EXPTIME": 5.0},
        "SUCCESS": True,
        "FAILURES": [],
    }


def make_nights(repo: Path, nights: int, detectors: list[int], seed: int = 1) -> float:
    """Write ``nights`` nights into ``repo`` (skipping nights already there); return the seconds taken."""
    began = time.monotonic()
    butler = bootstrap_repository(repo)
    shape = REDUCED_GEOMETRY.detector_shape
    try:
        for name, (dimensions, storage) in DATASET_TYPES.items():
            butler.registry.registerDatasetType(
                DatasetType(name, dimensions, storage, universe=butler.dimensions)
            )
        existing = set(butler.collections.query("bench/*"))
        base_gain = {(d, a): 1.2 + 0.01 * i for d in detectors for i, a in enumerate(AMP_NAMES)}
        for index in range(nights):
            night = FIRST_NIGHT + datetime.timedelta(days=index)
            stamp = night.strftime("%Y%m%d")
            runs = {p: f"bench/{p}/{stamp}" for p in ("bias", "dark", "flat", "gain")}
            if runs["gain"] in existing:
                continue
            rng = np.random.default_rng([seed, index])
            ids = _exposure_records(butler, night)
            for run in runs.values():
                butler.registry.registerCollection(run, CollectionType.RUN)
            for kind in ("bias", "dark"):
                for exposure in ids[kind]:
                    for detector in detectors:
                        stats = _det_stats(rng, exposure, detector, kind)
                        data_id = {"instrument": INSTRUMENT_NAME, "exposure": exposure, "detector": detector}
                        butler.put(stats, f"verify{kind.title()}DetStats", data_id, run=runs[kind])
            for exposure in ids["bias"][:3]:
                for detector in detectors:
                    metadata = {f"LSST ISR OVERSCAN SERIAL MEDIAN {amp}": float(20000 + rng.normal(0, 2))
                                for amp in AMP_NAMES}  # fmt: skip
                    proc = Exposure(rng.normal(0, 7, shape).astype(np.float32), metadata=metadata)
                    butler.put(proc, "verifyBiasProc", run=runs["bias"], instrument=INSTRUMENT_NAME,
                               exposure=exposure, detector=detector)  # fmt: skip
            for first, second in zip(ids["flat"][::2], ids["flat"][1::2]):
                for detector in detectors:
                    extract = PhotonTransferCurveDataset(
                        AMP_NAMES,
                        metadata={"PAIRED": True, "PAIR_EXPOSURE_1": first, "PAIR_EXPOSURE_2": second},
                    )
                    for amp in AMP_NAMES:
                        drift = (
                            1 + DRIFT_PER_NIGHT * index if (detector, amp) == (detectors[0], "C10") else 1.0
                        )
                        extract.gain[amp] = float(base_gain[(detector, amp)] * drift * rng.normal(1, 0.008))
                        extract.noise[amp] = 7.4
                    for exposure in (first, second):
                        butler.put(extract, "cpPtcExtract", run=runs["gain"], instrument=INSTRUMENT_NAME,
                                   exposure=exposure, detector=detector)  # fmt: skip
            for kind in ("bias", "dark", "flat"):
                summary = {str(e): {"SUCCESS": True, "FAILURES": []} for e in ids[kind]}
                summary["SUCCESS"] = True
                butler.put(summary, f"verify{kind.title()}Stats", run=runs[kind], instrument=INSTRUMENT_NAME)
            print(f"night {stamp} written ({time.monotonic() - began:.0f} s so far)", flush=True)
    finally:
        butler.close()
    return time.monotonic() - began


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, default=None, help="folder for the repository (kept, reused)")
    parser.add_argument("--nights", type=int, default=100)
    parser.add_argument("--detectors", default="0-8", help="detector ids: 0-8 (all nine), or e.g. 0,4")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="trends_benchmark_"))
    work.mkdir(parents=True, exist_ok=True)
    repo = work / "repo"
    if "-" in args.detectors:
        low, high = (int(v) for v in args.detectors.split("-"))
        detectors = list(range(low, high + 1))
    else:
        detectors = [int(v) for v in args.detectors.split(",")]
    written = make_nights(repo, args.nights, detectors)
    print(f"Repository {repo}: {args.nights} nights ready ({written:.0f} s to write the missing ones).")
    loads, builds = [], []
    for repeat in range(args.repeats):
        began = time.monotonic()
        butler = open_repository(str(repo))
        try:
            data = TrendData.load(butler, instrument=INSTRUMENT_NAME)
        finally:
            butler.close()
        loads.append(time.monotonic() - began)
        began = time.monotonic()
        page = build_trends(repo, work / "page")
        builds.append(time.monotonic() - began)
        n_points = sum(len(p) for p in data.points.values())
        n_runs = len({run for runs in data.runs.values() for run in runs})
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in data.seconds.items())
        print(
            f"repeat {repeat + 1}: {len(data.nights)} nights, {n_runs} runs, {n_points} amplifier-night "
            f"values; load {loads[-1]:.1f} s ({parts}); whole page {builds[-1]:.1f} s, "
            f"{page.stat().st_size / 1e6:.1f} MB",
            flush=True,
        )
    figures = {
        "nights": args.nights,
        "detectors": len(detectors),
        "load_seconds": loads,
        "build_seconds": builds,
        "load_median": float(np.median(loads)),
        "build_median": float(np.median(builds)),
    }
    print(json.dumps(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
