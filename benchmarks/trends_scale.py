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

"""Time the trends builder on 100 nights at nine detectors.

``benchmarks/trends.py`` writes its nights with one ``butler.put`` per
dataset: about 0.1-0.3 s each on a shared machine, hours for the 57 000
datasets of 100 nights at nine detectors. This benchmark makes the same
repository content cheaply: the files are written straight into the
datastore with the formatters the butler would use (YAML for the
statistics, this package's JSON and FITS formatters for ``cpPtcExtract``
and ``verifyBiasProc``), and each night is registered in one transaction
(dimension records inserted together, then one ``butler.ingest`` of all
its datasets). The datasets, dimensions, storage classes and values are
those of ``benchmarks/trends.py`` (20 bias, 20 dark and 20 flat exposures
a night, four RUN collections a night, one amplifier drifting 0.5 % a
night, ``verifyBiasProc`` at reduced geometry), so reading them costs what
reading the pipelines' outputs costs.

Then ``TrendData.load`` (the one pass over the butler) and ``build_trends``
(the whole page) are timed ``--repeats`` times and the medians printed:
wall-clock time and this process's CPU time (user + system), which a busy
machine does not inflate.

Usage::

    python benchmarks/trends_scale.py [--work DIR] [--nights 100] [--detectors 0-8] [--repeats 3] [--json OUT]

Disk: about 6 MB per ``verifyBiasProc`` (three per night and detector):
about 17 GB for 100 nights at nine detectors. ``--work`` is kept and
reused (nights already there are skipped); without it a temporary folder
is made and removed at the end.
"""

__all__ = ["main"]

import argparse
import datetime
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from lsst.daf.butler import (
    Butler,
    CollectionType,
    DataCoordinate,
    DatasetRef,
    DatasetType,
    FileDataset,
)
from lsst.daf.butler.formatters.yaml import YamlFormatter

from lsst.ts.calibrations.repo.camera import AMP_NAMES, REDUCED_GEOMETRY
from lsst.ts.calibrations.repo.formatters import ExposureFormatter, PtcDatasetFormatter
from lsst.ts.calibrations.repo.images import Exposure
from lsst.ts.calibrations.repo.ptc_dataset import PhotonTransferCurveDataset
from lsst.ts.calibrations.repo.repository import INSTRUMENT_NAME, bootstrap_repository, open_repository
from lsst.ts.calibrations.trends import TrendData, build_trends

sys.path.insert(0, str(Path(__file__).parent))
from trends import (  # noqa: E402
    DATASET_TYPES,
    DRIFT_PER_NIGHT,
    FIRST_NIGHT,
    _det_stats,
    night_dimension_records,
)

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _NightWriter:
    """Write one night's files into the datastore and collect them for one ingest."""

    def __init__(self, butler: Butler, root: Path, stamp: str) -> None:
        self.butler = butler
        self.folder = root / "trends_scale" / stamp
        self.folder.mkdir(parents=True, exist_ok=True)
        self.types = {name: butler.get_dataset_type(name) for name in DATASET_TYPES}
        self.datasets: list[FileDataset] = []

    def _ref(self, name: str, run: str, **data_id: int | str) -> DatasetRef:
        coordinate = DataCoordinate.standardize(
            {"instrument": INSTRUMENT_NAME, **data_id}, universe=self.butler.dimensions
        )
        return DatasetRef(self.types[name], coordinate, run=run)

    def add(self, name: str, run: str, payload: bytes | Exposure, **data_id: int | str) -> None:
        ref = self._ref(name, run, **data_id)
        stem = "_".join([name, run.replace("/", "-")] + [str(v) for v in data_id.values()])
        if isinstance(payload, Exposure):
            path = self.folder / f"{stem}.fits"
            ExposureFormatter.write_exposure(payload, str(path))
            formatter: type = ExposureFormatter
        else:
            path = self.folder / f"{stem}.{'json' if name == 'cpPtcExtract' else 'yaml'}"
            path.write_bytes(payload)
            formatter = PtcDatasetFormatter if name == "cpPtcExtract" else YamlFormatter
        self.datasets.append(FileDataset(path=str(path), refs=[ref], formatter=formatter))


def _yaml(data: dict) -> bytes:
    return yaml.dump(data, Dumper=_DUMPER, sort_keys=False).encode()


def make_nights(repo: Path, nights: int, detectors: list[int], seed: int = 1) -> float:
    """Write ``nights`` nights into ``repo`` (skipping nights already there); return the seconds taken."""
    began = time.monotonic()
    butler = bootstrap_repository(repo)
    shape = REDUCED_GEOMETRY.detector_shape
    root = Path(repo).resolve()
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
            day, groups, exposures, ids = night_dimension_records(night)
            writer = _NightWriter(butler, root, stamp)
            for kind in ("bias", "dark"):
                for exposure in ids[kind]:
                    for detector in detectors:
                        stats = _det_stats(rng, exposure, detector, kind)
                        writer.add(f"verify{kind.title()}DetStats", runs[kind], _yaml(stats),
                                   exposure=exposure, detector=detector)  # fmt: skip
            for exposure in ids["bias"][:3]:
                for detector in detectors:
                    metadata = {f"LSST ISR OVERSCAN SERIAL MEDIAN {amp}": float(20000 + rng.normal(0, 2))
                                for amp in AMP_NAMES}  # fmt: skip
                    proc = Exposure(rng.normal(0, 7, shape).astype(np.float32), metadata=metadata)
                    writer.add("verifyBiasProc", runs["bias"], proc, exposure=exposure, detector=detector)
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
                    payload = extract.to_json().encode()
                    for exposure in (first, second):
                        writer.add("cpPtcExtract", runs["gain"], payload, exposure=exposure,
                                   detector=detector)  # fmt: skip
            for kind in ("bias", "dark", "flat"):
                summary: dict = {str(e): {"SUCCESS": True, "FAILURES": []} for e in ids[kind]}
                summary["SUCCESS"] = True
                writer.add(f"verify{kind.title()}Stats", runs[kind], _yaml(summary))
            with butler.transaction():
                registry = butler.registry
                registry.syncDimensionData("day_obs", day)
                registry.insertDimensionData("group", *groups)
                registry.insertDimensionData("exposure", *exposures)
                for run in runs.values():
                    registry.registerCollection(run, CollectionType.RUN)
                butler.ingest(*writer.datasets, transfer=None)
            print(
                f"night {stamp} written: {len(writer.datasets)} datasets "
                f"({time.monotonic() - began:.0f} s so far)",
                flush=True,
            )
    finally:
        butler.close()
    return time.monotonic() - began


def _detectors(text: str) -> list[int]:
    if "-" in text:
        low, high = (int(v) for v in text.split("-"))
        return list(range(low, high + 1))
    return [int(v) for v in text.split(",")]


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
    if args.nights < 1 or args.repeats < 1:
        parser.error("--nights and --repeats must be >= 1")
    detectors = _detectors(args.detectors)
    work = args.work or Path(tempfile.mkdtemp(prefix="trends_scale_"))
    work.mkdir(parents=True, exist_ok=True)
    repo = work / "repo"
    try:
        written = make_nights(repo, args.nights, detectors)
        print(f"Repository {repo}: {args.nights} nights x {len(detectors)} detectors ready "
              f"({written:.0f} s to write the missing ones).", flush=True)  # fmt: skip
        loads, builds, parts, load_cpu, build_cpu = [], [], [], [], []
        for repeat in range(args.repeats):
            began, cpu = time.monotonic(), time.process_time()
            butler = open_repository(str(repo))
            try:
                data = TrendData.load(butler, instrument=INSTRUMENT_NAME)
            finally:
                butler.close()
            loads.append(time.monotonic() - began)
            load_cpu.append(time.process_time() - cpu)
            parts.append(dict(data.seconds))
            began, cpu = time.monotonic(), time.process_time()
            page = build_trends(repo, work / "page")
            builds.append(time.monotonic() - began)
            build_cpu.append(time.process_time() - cpu)
            n_points = sum(len(p) for p in data.points.values())
            n_runs = len({run for runs in data.runs.values() for run in runs})
            described = ", ".join(f"{k} {v:.1f} s" for k, v in data.seconds.items())
            with open("/proc/loadavg") as f:
                load = f.read().split()[0]
            print(
                f"repeat {repeat + 1}: {len(data.nights)} nights, {n_runs} runs, {n_points} amplifier-night "
                f"values; load {loads[-1]:.1f} s, CPU {load_cpu[-1]:.1f} s ({described}); whole page "
                f"{builds[-1]:.1f} s, CPU {build_cpu[-1]:.1f} s, "
                f"{page.stat().st_size / 1e6:.1f} MB; load average {load}",
                flush=True,
            )
        figures = {
            "nights": args.nights,
            "detectors": len(detectors),
            "write_seconds": written,
            "load_seconds": loads,
            "build_seconds": builds,
            "load_cpu_seconds": load_cpu,
            "build_cpu_seconds": build_cpu,
            "load_median": statistics.median(loads),
            "build_median": statistics.median(builds),
            "load_cpu_median": statistics.median(load_cpu),
            "build_cpu_median": statistics.median(build_cpu),
            "load_parts_median": {k: statistics.median(p[k] for p in parts) for k in parts[0]},
        }
        print(
            f"median over {args.repeats}: TrendData.load {figures['load_median']:.1f} s "
            f"(CPU {figures['load_cpu_median']:.1f} s), build_trends {figures['build_median']:.1f} s "
            f"(CPU {figures['build_cpu_median']:.1f} s)"
        )
        print(json.dumps(figures))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
