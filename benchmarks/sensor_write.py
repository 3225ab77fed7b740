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

"""Time to simulate and to write one full-geometry ComCam detector.

For each image type (a bias, a 30 s dark, a ~20 ke⁻ flat) it generates
``--repeats`` raws of one detector with `ImageModel.make_raw` (new exposures,
so nothing but the sensor's fixed maps is cached; the first, which builds
them, is timed separately) and writes each with `repo.raw.write_raw`, then
prints the median generation and write time, wall clock and CPU time
of this process (the CPU time is what a busy machine distorts least).

Usage::

    python benchmarks/sensor_write.py [--geometry full|reduced] [--repeats 5]
        [--detector 4] [--seed 1] [--sensor-model FILE] [--workdir DIR]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from lsst.ts.calibrations.repo.camera import get_geometry
from lsst.ts.calibrations.repo.raw import write_raw
from lsst.ts.calibrations.sim.image_model import ImageModel
from lsst.ts.calibrations.sim.sensor_model import SensorModel

DAY_OBS = 20241024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--geometry", choices=("full", "reduced"), default="full")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--detector", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sensor-model", default=None)
    parser.add_argument("--workdir", default=None, help="folder for the files (default a temporary one)")
    args = parser.parse_args()

    geometry = get_geometry(args.geometry)
    model = SensorModel.from_yaml(args.sensor_model, args.seed)
    images = ImageModel(model, geometry)
    flux = float(model.parameters.get("flat.flux")["r_03"])
    t0 = time.perf_counter()
    model.detector_truth(args.detector, geometry)
    model.flat_response(args.detector, geometry)
    setup = time.perf_counter() - t0
    n_pixels = 16 * geometry.raw_shape[0] * geometry.raw_shape[1]
    print(
        f"Geometry {geometry.name}: 16 segments of {geometry.raw_shape[0]} x {geometry.raw_shape[1]} "
        f"= {n_pixels / 1e6:.1f} Mpixel, {n_pixels * 4 / 2**20:.0f} MiB as int32; detector {args.detector}."
    )
    print(f"Sensor truth and flat-response map (once per detector): {setup:.2f} s")
    plans = (("BIAS", 0.0, None), ("DARK", 30.0, None), ("FLAT", 20000.0 / flux, "r_03"))
    seq_num = 0
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        path = Path(tmp) / "raw.fits"
        print(
            f"{'type':6s} {'exptime s':>9s} {'make_raw s':>10s} {'write s':>8s} {'total s':>8s}"
            f" {'make CPU s':>12s} {'write CPU s':>9s}  (wall clock and CPU time, median of {args.repeats})"
        )
        for image_type, exposure_time, physical_filter in plans:
            make_times, write_times, make_cpu, write_cpu = [], [], [], []
            for _ in range(args.repeats):
                seq_num += 1
                t0, c0 = time.perf_counter(), time.process_time()
                raw = images.make_raw(
                    args.detector,
                    image_type=image_type,
                    exposure_time=exposure_time,
                    physical_filter=physical_filter,
                    day_obs=DAY_OBS,
                    seq_num=seq_num,
                )
                t1, c1 = time.perf_counter(), time.process_time()
                write_raw(path, raw, overwrite=True)
                t2, c2 = time.perf_counter(), time.process_time()
                make_times.append(t1 - t0)
                write_times.append(t2 - t1)
                make_cpu.append(c1 - c0)
                write_cpu.append(c2 - c1)
            make, write = statistics.median(make_times), statistics.median(write_times)
            print(
                f"{image_type:6s} {exposure_time:9.2f} {make:10.3f} {write:8.3f} {make + write:8.3f}"
                f" {statistics.median(make_cpu):12.3f} {statistics.median(write_cpu):9.3f}"
            )


if __name__ == "__main__":
    main()
