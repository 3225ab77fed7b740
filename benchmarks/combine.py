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

"""Benchmark the clipped-mean combine against astropy's ``ccdproc.combine``.

One run, one stack: N float32 images (default 20 full ComCam detectors,
4000 × 4072) of Gaussian noise with cosmic rays injected as single, double
and triple hits on the same pixel across exposures. For each method it
prints the median time over repeats, the peak extra memory (anonymous
resident memory sampled every millisecond, minus the size before the call), the ratio
of the time to one read of the stack (``np.sum`` over it, the floor), and
how many of the injected hits it rejects. It also prints the agreement of
the compiled kernel with the numpy reference, and, for FITS files on disk,
the time to combine them against the time to just read them.

Usage::

    python benchmarks/combine.py [--n 20] [--shape 4000 4072] [--repeats 3]
        [--seed 1] [--mem-limit-gib 4] [--skip-ccdproc] [--skip-files]
        [--workdir DIR] [--json OUT]
"""

__all__ = ["main"]

import argparse
import ctypes
import json
import os
import pathlib
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from lsst.ts.calibrations.cp.clipped_mean import (
    clipped_mean,
    clipped_mean_files,
    clipped_mean_reference,
)

GIB = 1024**3
LEVEL = 1000.0
SIGMA = 5.0
HIT_MIN = 50 * SIGMA
HIT_MAX = 20000.0


def rss_bytes() -> int:
    """Anonymous resident memory of this process (bytes, ``RssAnon`` in /proc/self/status).

    Anonymous memory counts every allocation (numpy, numba, astropy) and
    leaves out pages of memory-mapped files, which the page cache holds.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("No RssAnon in /proc/self/status: this benchmark needs Linux.")


def release_free_memory() -> None:
    """Return the C heap's free memory to the system (glibc ``malloc_trim``).

    Blocks under glibc's mmap threshold (which rises to the largest block
    freed, up to 32 MiB) stay in the heap when freed and are reused without
    growing the resident size: an allocation would then go unseen.
    """
    ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakRss:
    """Sample the resident set size in a thread; ``peak`` minus the start."""

    def __init__(self) -> None:
        self.start = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            self._stop.wait(0.001)

    def __enter__(self) -> "PeakRss":
        # hand freed heap memory back first, or its reuse would not show in the resident size
        release_free_memory()
        self.start = rss_bytes()
        self.peak = self.start
        self._thread.start()
        return self

    def __exit__(self, *args: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def extra(self) -> int:
        """Peak extra bytes during the block."""
        return self.peak - self.start


def measure(func: Callable[[], Any], repeats: int) -> tuple[float, int, Any]:
    """Median time (s), largest peak extra RSS (bytes) and the last result."""
    times = []
    extra = 0
    result = None
    for _ in range(repeats):
        result = None
        with PeakRss() as rss:
            t0 = time.perf_counter()
            result = func()
            times.append(time.perf_counter() - t0)
        extra = max(extra, rss.extra)
    return statistics.median(times), extra, result


def make_stack(
    n: int, shape: tuple[int, int], seed: int
) -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    """Noise stack with cosmic rays; return the stack, the clean mean and the hit pixels per multiplicity."""
    rng = np.random.default_rng(seed)
    stack = np.empty((n, *shape), dtype=np.float32)
    for i in range(n):
        stack[i] = rng.standard_normal(shape, dtype=np.float32)
        stack[i] *= SIGMA
        stack[i] += LEVEL
    n_pix = shape[0] * shape[1]
    per_class = max(10, n_pix // 2000)
    pixels = rng.choice(n_pix, size=3 * per_class, replace=False)
    hit_pixels: dict[int, np.ndarray] = {}
    for multiplicity in (1, 2, 3):
        chosen = pixels[(multiplicity - 1) * per_class : multiplicity * per_class]
        hit_pixels[multiplicity] = chosen
        rows, cols = np.unravel_index(chosen, shape)
        for k in range(per_class):
            frames = rng.choice(n, size=multiplicity, replace=False)
            stack[frames, rows[k], cols[k]] += rng.uniform(HIT_MIN, HIT_MAX, multiplicity).astype(np.float32)
    return stack, pixels, hit_pixels


def rejected_hits(
    mean: np.ndarray, clean: dict[int, np.ndarray], hit_pixels: dict[int, np.ndarray]
) -> dict[int, int]:
    """Hits rejected per multiplicity: pixels whose result is within SIGMA of the clean mean.

    One hit kept moves an N-image mean by at least ``HIT_MIN / N`` (≥ 2.5σ for
    N = 20), so a result within 1σ of the mean of the pixel's clean values
    means every hit there was rejected.
    """
    flat = mean.reshape(-1)
    out = {}
    for multiplicity, pixels in hit_pixels.items():
        ok = np.abs(flat[pixels].astype(np.float64) - clean[multiplicity]) < SIGMA
        out[multiplicity] = int(np.count_nonzero(ok)) * multiplicity
    return out


def clean_means(stack: np.ndarray, hit_pixels: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """Mean of the values without hits at every hit pixel."""
    n = stack.shape[0]
    flat = stack.reshape(n, -1)
    out = {}
    for multiplicity, pixels in hit_pixels.items():
        values = flat[:, pixels].astype(np.float64)
        keep = values < LEVEL + HIT_MIN - 10 * SIGMA
        out[multiplicity] = np.sum(np.where(keep, values, 0.0), axis=0) / np.sum(keep, axis=0)
    return out


def run_ccdproc(stack: np.ndarray, mem_limit: float) -> np.ndarray:
    """ccdproc's sigma-clipped average (default mean/std clipping, 3σ)."""
    import warnings

    import astropy.units as u
    import ccdproc
    from astropy.nddata import CCDData

    ccds = [CCDData(plane, unit=u.electron) for plane in stack]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        combined = ccdproc.combine(
            ccds,
            method="average",
            sigma_clip=True,
            sigma_clip_low_thresh=3,
            sigma_clip_high_thresh=3,
            mem_limit=mem_limit,
            dtype=np.float32,
        )
    return np.asarray(combined.data)


def write_files(stack: np.ndarray, directory: pathlib.Path) -> list[pathlib.Path]:
    """Write each image as an Exposure-like FITS file (PRIMARY, IMAGE)."""
    from astropy.io import fits

    paths = []
    for i, plane in enumerate(stack):
        path = directory / f"image{i:03d}.fits"
        fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(plane, name="IMAGE")]).writeto(path, overwrite=True)
        paths.append(path)
    return paths


def read_files(paths: list[pathlib.Path]) -> int:
    """Read every image fully into memory (native float32); return the bytes read."""
    from astropy.io import fits

    total = 0
    for path in paths:
        with fits.open(path, memmap=False) as hdulist:
            data = hdulist["IMAGE"].data.astype(np.float32)
            total += data.nbytes
            del data
    return total


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and print the table; return the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20, help="number of images (default 20)")
    parser.add_argument(
        "--shape", type=int, nargs=2, default=[4000, 4072], metavar=("ROWS", "COLS"), help="image shape"
    )
    parser.add_argument("--repeats", type=int, default=3, help="repeats per method (median reported)")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--mem-limit-gib", type=float, default=4.0, help="ccdproc.combine mem_limit (GiB)")
    parser.add_argument("--skip-ccdproc", action="store_true", help="do not run ccdproc")
    parser.add_argument("--skip-files", action="store_true", help="do not write and combine FITS files")
    parser.add_argument("--workdir", type=pathlib.Path, default=None, help="directory for the FITS files")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.n < 3:
        parser.error(f"--n {args.n}: give at least 3 images (a triple hit needs them)")
    shape = (args.shape[0], args.shape[1])

    stack, _, hit_pixels = make_stack(args.n, shape, args.seed)
    clean = clean_means(stack, hit_pixels)
    injected = {m: len(p) * m for m, p in hit_pixels.items()}
    stack_bytes = stack.nbytes
    probe = clipped_mean(stack[:, :2, :], threads=1)  # compile (or load the cache) outside the timings
    pixel_bytes = probe.mean.itemsize + probe.n_used.itemsize + probe.stdev.itemsize
    result_bytes = pixel_bytes * shape[0] * shape[1]
    lean_bytes = (probe.mean.itemsize + probe.n_used.itemsize) * shape[0] * shape[1]
    threads = os.cpu_count() or 1

    rows: list[dict[str, Any]] = []
    floor_time, floor_mem, _ = measure(lambda: np.sum(stack), max(args.repeats, 5))
    rows.append({"method": "one read (np.sum), the floor", "time": floor_time, "extra": floor_mem})

    results: dict[str, np.ndarray] = {}

    def add(name: str, func: Callable[[], Any], repeats: int, key: str) -> None:
        t, extra, result = measure(func, repeats)
        mean = result if isinstance(result, np.ndarray) else result.mean
        results[key] = mean
        row = {"method": name, "time": t, "extra": extra, "rejected": rejected_hits(mean, clean, hit_pixels)}
        if not isinstance(result, np.ndarray):
            # working memory: what the call needed beyond the result planes it returns
            planes = [result.mean, result.n_used, result.stdev_or_none]
            row["working"] = extra - sum(plane.nbytes for plane in planes if plane is not None)
        rows.append(row)

    add("clipped_mean, 1 core", lambda: clipped_mean(stack, threads=1), args.repeats, "one")
    add(f"clipped_mean, {threads} cores", lambda: clipped_mean(stack), args.repeats, "all")
    add(
        f"clipped_mean, {threads} cores, with_stdev=False",
        lambda: clipped_mean(stack, with_stdev=False),
        args.repeats,
        "lean",
    )
    add("clipped_mean_reference (numpy)", lambda: clipped_mean_reference(stack), args.repeats, "numpy")
    if not args.skip_ccdproc:
        mem_limit = args.mem_limit_gib * GIB
        add(
            f"ccdproc.combine sigma-clip (mem_limit {args.mem_limit_gib:g} GiB)",
            lambda: run_ccdproc(stack, mem_limit),
            args.repeats,
            "ccdproc",
        )
    diff = np.abs(results["all"].astype(np.float64) - results["numpy"])
    agreement = float(np.nanmax(diff) / SIGMA)
    nan_match = bool(np.array_equal(np.isnan(results["all"]), np.isnan(results["numpy"])))

    files: dict[str, float] = {}
    if not args.skip_files:
        with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
            paths = write_files(stack, pathlib.Path(tmp))
            read_files(paths)  # page cache warm for both measurements
            clipped_mean_files(paths[:3])  # compile (or load the cache) outside the timings
            read_time, read_extra, _ = measure(lambda: read_files(paths), args.repeats)
            files_time, files_extra, files_result = measure(lambda: clipped_mean_files(paths), args.repeats)
            one_time, _, one_result = measure(lambda: clipped_mean_files(paths, threads=1), args.repeats)
            files = {
                "read": read_time,
                "combine": files_time,
                "ratio": files_time / read_time,
                "extra": files_extra,
                "combine_1_core": one_time,
                "ratio_1_core": one_time / read_time,
                "equal": bool(
                    np.array_equal(files_result.mean, results["all"], equal_nan=True)
                    and np.array_equal(one_result.mean, results["all"], equal_nan=True)
                ),
            }

    print(
        f"Stack: {args.n} x {shape[0]} x {shape[1]} float32 = {stack_bytes / GIB:.2f} GiB; "
        f"noise {SIGMA} around {LEVEL}; hits {HIT_MIN:g}-{HIT_MAX:g}; {threads} cores; "
        "memory = peak anonymous RSS sampled every 1 ms, minus the size before the call; "
        "working = that less the result planes returned, x the stack"
    )
    print(
        f"{'method':58s} {'time s':>8s} {'x floor':>8s} {'extra GiB':>10s} {'x stack':>8s} "
        f"{'working':>8s}  rejected 1/2/3-hit"
    )
    for row in rows:
        rejected = row.get("rejected")
        text = "  ".join(f"{rejected[m]}/{injected[m]}" for m in (1, 2, 3)) if rejected is not None else "-"
        working = f"{row['working'] / stack_bytes:8.3f}" if "working" in row else f"{'-':>8s}"
        print(
            f"{row['method']:58s} {row['time']:8.3f} {row['time'] / floor_time:8.1f} "
            f"{row['extra'] / GIB:10.3f} {row['extra'] / stack_bytes:8.3f} {working}  {text}"
        )
    print(
        f"Result planes (mean, n_used, stdev) alone: {result_bytes / GIB:.3f} GiB = "
        f"{result_bytes / stack_bytes:.3f} x the stack; without stdev {lean_bytes / GIB:.3f} GiB = "
        f"{lean_bytes / stack_bytes:.3f} x"
    )
    print(
        f"Agreement, compiled vs numpy reference: max |difference| = {agreement:.2e} x the noise; "
        f"NaNs equal: {nan_match}"
    )
    if files:
        print(
            f"From FITS files (page cache warm): read only {files['read']:.3f} s, "
            f"clipped_mean_files {files['combine']:.3f} s = {files['ratio']:.2f} x the read "
            f"({files['combine_1_core']:.3f} s = {files['ratio_1_core']:.2f} x on 1 core), "
            f"extra {files['extra'] / GIB:.3f} GiB, equal to in-memory: {files['equal']}"
        )
    figures = {
        "n": args.n,
        "shape": list(shape),
        "stack_bytes": stack_bytes,
        "result_bytes": result_bytes,
        "result_bytes_without_stdev": lean_bytes,
        "cores": threads,
        "rows": rows,
        "injected": injected,
        "agreement_over_noise": agreement,
        "files": files,
    }
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return figures


if __name__ == "__main__":
    main()
