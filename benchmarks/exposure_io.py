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

"""CPU time to write and read one processed image with the ``lossless`` recipe, two ways side by side.

A processed image (float image and variance, int32 mask, as ISR writes it)
is made from simulated noise at the chosen geometry. Alternating, ``--repeats``
times each:

- deflate: the GZIP_1 tiles of the image and variance planes with ISA-L's
  level 1 (what `FitsCompression` writes at ``gzip_level`` 1) and with zlib's
  level 1 (Python's ``gzip``);
- read: the three planes as native-endian arrays, by
  `ExposureFormatter.read_from_local_file` (`read_plane`: GZIP_1 tiles
  inflated with ISA-L into one buffer swapped in place) and by astropy's
  own decompression (zlib) then a native-endian copy;
- the formatter's whole write of the image (`ExposureFormatter.write_exposure`).

It prints the median CPU seconds of this process and the compressed size.

Usage::

    python benchmarks/exposure_io.py [--geometry full|reduced] [--repeats 5] [--workdir DIR]
"""

import argparse
import gzip
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from astropy.io import fits
from isal import igzip

from lsst.ts.calibrations.repo.camera import get_geometry
from lsst.ts.calibrations.repo.fits_compression import FitsCompression
from lsst.ts.calibrations.repo.formatters import ExposureFormatter
from lsst.ts.calibrations.repo.images import MASK_PLANES, Exposure

TILE_ROWS = 64


def processed_image(shape: tuple[int, int], seed: int = 3) -> Exposure:
    """A flat-like processed image: Poisson signal with read noise, a sparse mask."""
    rng = np.random.default_rng(seed)
    image = (rng.poisson(20000.0, shape) + rng.normal(0.0, 6.0, shape)).astype(np.float32)
    mask = np.zeros(shape, dtype=np.int32)
    mask[:, 11] = MASK_PLANES["BAD"]
    mask[rng.random(shape) < 1e-4] |= MASK_PLANES["CR"]
    variance = (np.abs(image) / 1.5 + 20.0).astype(np.float32)
    return Exposure(image, mask, variance, {"IMGTYPE": "FLAT"})


def cpu(function: Callable[[], object]) -> float:
    """CPU seconds of this process spent in ``function()``."""
    began = time.process_time()
    function()
    return time.process_time() - began


def tiles(array: np.ndarray) -> list[bytes]:
    """The big-endian bytes of each tile of ``TILE_ROWS`` rows."""
    big = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder(">"))
    return [big[i : i + TILE_ROWS].tobytes() for i in range(0, big.shape[0], TILE_ROWS)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--geometry", choices=("full", "reduced"), default="full")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workdir", default=None, help="folder for the files (default a temporary one)")
    args = parser.parse_args()

    geometry = get_geometry(args.geometry)
    exposure = processed_image(geometry.detector_shape)
    planes = {"image": exposure.image.array, "variance": exposure.variance.array}
    raw_bytes = sum(a.nbytes for a in (exposure.image.array, exposure.mask.array, exposure.variance.array))
    print(
        f"Geometry {geometry.name}: a processed image of {geometry.detector_shape[0]} x "
        f"{geometry.detector_shape[1]} pixels, {raw_bytes / 2**20:.1f} MiB in three planes; "
        f"median CPU seconds of {args.repeats}, the two ways alternating."
    )
    formatter = object.__new__(ExposureFormatter)  # reads need no butler configuration
    times: dict[str, list[float]] = {
        key: [] for key in ("deflate ISA-L", "deflate zlib", "read ISA-L", "read astropy", "write")
    }
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        path = Path(tmp) / "processed.fits"
        ExposureFormatter.write_exposure(exposure, str(path))
        size = path.stat().st_size
        for _ in range(args.repeats):
            for plane in planes.values():
                parts = tiles(plane)
                times["deflate ISA-L"].append(cpu(lambda: [igzip.compress(p, 1, mtime=0) for p in parts]))
                times["deflate zlib"].append(cpu(lambda: [gzip.compress(p, 1, mtime=0) for p in parts]))

            def read_astropy() -> None:
                with fits.open(path, memmap=False) as hdul:
                    for name, kind in (("IMAGE", np.float32), ("MASK", np.int32), ("VARIANCE", np.float32)):
                        np.ascontiguousarray(hdul[name].data, dtype=np.dtype(kind).newbyteorder("="))

            times["read ISA-L"].append(cpu(lambda: formatter.read_from_local_file(str(path))))
            times["read astropy"].append(cpu(read_astropy))
            times["write"].append(cpu(lambda: ExposureFormatter.write_exposure(exposure, str(path))))
    compressed = FitsCompression.from_recipe("lossless", ExposureFormatter.BUILTIN_RECIPES["lossless"])
    print(
        f"File with the lossless recipe (GZIP_1 level {compressed.gzip_level}, RICE_1 mask): "
        f"{size / 2**20:.2f} MiB ({raw_bytes / size:.2f}x smaller)"
    )
    median = {key: statistics.median(values) for key, values in times.items()}
    print(f"{'step':34s} {'ISA-L s':>8s} {'zlib s':>8s} {'ratio':>6s}")
    for label, fast, slow in (
        ("deflate image+variance tiles", "deflate ISA-L", "deflate zlib"),
        ("read: formatter | astropy's own", "read ISA-L", "read astropy"),
    ):
        factor = 2 if fast.startswith("deflate") else 1  # two planes a repeat
        print(
            f"{label:34s} {factor * median[fast]:8.3f} {factor * median[slow]:8.3f} "
            f"{median[slow] / median[fast]:6.1f}"
        )
    print(f"ExposureFormatter.write_exposure: {median['write']:.3f} s")


if __name__ == "__main__":
    main()
