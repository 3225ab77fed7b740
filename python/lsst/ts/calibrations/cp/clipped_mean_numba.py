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

"""The compiled clipped-mean kernel (numba), used by `clipped_mean`.

The rows are shared among the threads in groups of consecutive rows. A row
is processed in blocks of `BLOCK` pixels: the N values of every pixel of
the block are copied into a small (N, BLOCK) buffer (masked and non-finite
values as +inf) and sorted with a Batcher odd-even merge sorting network
whose compare-exchange steps run across the block's pixels (SIMD). The
float64 prefix sums of the sorted values' deviations from the median, and
of their squares, are also computed across the block's pixels. Each
clipping pass then keeps a contiguous run of the sorted values: it only
moves the run's ends and reads the run's sums off the prefix sums, and a
pixel stops as soon as a pass keeps the run of the previous one (or
nothing), since every later pass would repeat it. The arithmetic is that
of `~lsst.ts.calibrations.cp.clipped_mean.clipped_mean_reference`, so both
give the same numbers.

The kernels are compiled on first use and kept in numba's cache
(``cache=True``); a process that finds them there loads them in well under
a second instead of compiling them (seconds of CPU). Processes that start
together on a machine whose cache is empty (a new installation: the
OCPS's quantum workers, ``pipetask`` processes) compile one at a time
(`_call_compiled`, a file lock in the cache folder), so one compiles a kernel
and the others load it.

Importing this module raises `ImportError` if numba is not installed.
"""

__all__ = [
    "BLOCK",
    "combine_planes",
    "combine_stack",
    "combine_strip",
    "planes_fit",
    "sorting_network",
]

import fcntl
import functools
import os
import typing
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numba
import numpy as np
from numba import typed

from .clipped_mean import IQR_TO_SIGMA

if typing.TYPE_CHECKING:
    from .clipped_mean import ClippedMeanResult, _Stack

BLOCK = 64
"""Pixels processed together by the vectorized sorting network."""

_ROW_GROUPS = 64
"""Groups of consecutive rows shared among the threads (each allocates its buffers once)."""


@functools.cache
def sorting_network(n: int) -> np.ndarray:
    """Comparators of a Batcher odd-even merge sort of ``n`` values.

    Built for the next power of two and pruned of the comparators that
    touch an index ``>= n`` (those values are +inf, so such comparators
    never exchange anything).

    Parameters
    ----------
    n : `int`
        Number of values, >= 1.

    Returns
    -------
    comparators : `numpy.ndarray`
        int64 (M, 2) pairs (i, j), i < j: after the step value i <= value j.
    """
    size = 1
    while size < n:
        size *= 2
    pairs: list[tuple[int, int]] = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    kept = [(a, b) for a, b in pairs if b < n]
    return np.array(kept, dtype=np.int64).reshape(-1, 2)


@numba.njit(nogil=True, cache=True, inline="always")
def _quartile_point(n: int, quarters: int) -> tuple[int, float]:  # pragma: no cover - compiled
    """Index and fraction of the linear-interpolation quantile ``quarters / 4`` of ``n`` values.

    Exactly numpy's ``linear`` position ``q (n - 1)``, in integers.
    """
    scaled = quarters * (n - 1)
    return scaled // 4, (scaled % 4) * 0.25


@numba.njit(nogil=True, cache=True, inline="always")
def _quartile(buf: np.ndarray, j: int, n: int, quarters: int) -> float:  # pragma: no cover - compiled
    """Linear-interpolation quantile ``quarters / 4`` of the first ``n`` sorted values of column ``j``."""
    i, frac = _quartile_point(n, quarters)
    v = np.float64(buf[i, j])
    return v + frac * (np.float64(buf[min(i + 1, n - 1), j]) - v)


@numba.njit(nogil=True, cache=True, fastmath=False, boundscheck=False)
def _clip_block(
    work: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    network: np.ndarray,
    nsigma: float,
    n_iter: int,
    outputs: tuple[np.ndarray, np.ndarray, np.ndarray, bool],
    row: int,
    c0: int,
    width: int,
) -> None:  # pragma: no cover - compiled
    """Sort and clip one block whose values are in the workspace's buffer; write its results.

    ``work`` is a thread's `_workspace`: the block's values ``buf`` float32
    (N, BLOCK), masked and non-finite ones already +inf (they sort last),
    and working space. ``outputs`` is (mean, n_used, stdev, write_stdev).
    Only the first ``width`` pixels are written out, at ``row`` from
    column ``c0``.

    After sorting, the values a pass keeps are a contiguous run
    ``[lo, hi)`` of the sorted values (those within its limits): the pass
    moves the run's ends in from the ends of the valid values, usually by
    none or one, and reads the run's sums off the prefix sums of the
    deviations from the median. A pixel whose pass keeps the run of its
    previous pass, or nothing, is finished: every later pass would repeat
    it.
    """
    buf, prefix, lanes, counts = work
    mean_out, n_out, std_out, write_std = outputs
    n_images = buf.shape[0]
    inf = np.float32(np.inf)
    for k in range(network.shape[0]):
        lo = network[k, 0]
        hi = network[k, 1]
        for j in range(BLOCK):
            p = buf[lo, j]
            q = buf[hi, j]
            buf[lo, j] = min(p, q)
            buf[hi, j] = max(p, q)
    median = lanes[0]
    half_width = lanes[1]
    s1 = lanes[2]
    s2 = lanes[3]
    n_valid = counts[0]
    p1 = prefix[0]
    p2 = prefix[1]
    first_width = nsigma * IQR_TO_SIGMA
    for j in range(BLOCK):
        n = n_images
        while n > 0 and buf[n - 1, j] == inf:
            n -= 1
        n_valid[j] = n
        n = max(n, 1)
        q25 = _quartile(buf, j, n, 1)
        median[j] = _quartile(buf, j, n, 2) if n_valid[j] > 0 else 0.0
        half_width[j] = first_width * (_quartile(buf, j, n, 3) - q25)
    for j in range(BLOCK):
        s1[j] = 0.0
        s2[j] = 0.0
        p1[0, j] = 0.0
        p2[0, j] = 0.0
    for i in range(n_images):
        for j in range(BLOCK):
            d = np.float64(buf[i, j]) - median[j]
            s1[j] += d
            s2[j] += d * d
        for j in range(BLOCK):
            p1[i + 1, j] = s1[j]
            p2[i + 1, j] = s2[j]
    for j in range(width):
        n = n_valid[j]
        mean = np.nan
        var = np.nan
        used = 0
        centre = median[j]
        hw = half_width[j]
        prev_lo = -1
        prev_hi = -1
        for _ in range(n_iter if n > 0 else 0):
            lower = centre - hw
            upper = centre + hw
            lo = 0
            while lo < n and np.float64(buf[lo, j]) < lower:
                lo += 1
            hi = n
            while hi > lo and np.float64(buf[hi - 1, j]) > upper:
                hi -= 1
            k = hi - lo
            if k == 0 or (lo == prev_lo and hi == prev_hi):
                break
            t1 = p1[hi, j] - p1[lo, j]
            t2 = p2[hi, j] - p2[lo, j]
            mean = median[j] + t1 / k
            var = max(t2 - t1 * t1 / k, 0.0) / (k - 1) if k > 1 else 0.0
            used = k
            prev_lo = lo
            prev_hi = hi
            centre = mean
            hw = nsigma * np.sqrt(var)
        mean_out[row, c0 + j] = mean
        n_out[row, c0 + j] = used
        if write_std:
            std_out[row, c0 + j] = np.sqrt(var)


@numba.njit(nogil=True, cache=True)
def _workspace(n_images: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    """A thread's buffers for `_clip_block`: block values, prefix sums, per-pixel scratch."""
    return (
        np.empty((n_images, BLOCK), dtype=np.float32),
        np.empty((2, n_images + 1, BLOCK), dtype=np.float64),
        np.empty((4, BLOCK), dtype=np.float64),
        np.empty((1, BLOCK), dtype=np.int32),
    )


@numba.njit(nogil=True, parallel=True, cache=True, fastmath=False, boundscheck=False)
def _combine_rows(
    x: np.ndarray,
    mask: np.ndarray,
    use_mask: bool,
    network: np.ndarray,
    nsigma: float,
    n_iter: int,
    mean_out: np.ndarray,
    n_out: np.ndarray,
    std_out: np.ndarray,
    write_std: bool,
    row0: int,
) -> None:  # pragma: no cover - compiled
    """Combine the rows of a float32 (N, rows, columns) array into output rows from ``row0``."""
    n_images, n_rows, n_cols = x.shape
    n_blocks = (n_cols + BLOCK - 1) // BLOCK
    inf = np.float32(np.inf)
    outputs = (mean_out, n_out, std_out, write_std)
    n_groups = min(n_rows, _ROW_GROUPS)
    for g in numba.prange(n_groups):
        work = _workspace(n_images)
        buf = work[0]
        for r in range(g * n_rows // n_groups, (g + 1) * n_rows // n_groups):
            for b in range(n_blocks):
                c0 = b * BLOCK
                width = min(BLOCK, n_cols - c0)
                for i in range(n_images):
                    if use_mask:
                        for j in range(width):
                            v = x[i, r, c0 + j]
                            buf[i, j] = v if (abs(v) < inf and not mask[i, r, c0 + j]) else inf
                    else:
                        for j in range(width):
                            v = x[i, r, c0 + j]
                            buf[i, j] = v if abs(v) < inf else inf
                    for j in range(width, BLOCK):
                        buf[i, j] = inf
                _clip_block(work, network, nsigma, n_iter, outputs, row0 + r, c0, width)


_EXPONENT = np.uint32(0x7F800000)
"""Exponent bits of a float32: all set for infinities and NaN; alone, +inf."""


@numba.njit(nogil=True, cache=True, inline="always")
def _bswap32(v: np.uint32) -> np.uint32:  # pragma: no cover - compiled
    """Reverse the byte order of a 32-bit word."""
    return np.uint32(
        ((v & np.uint32(0xFF)) << np.uint32(24))
        | ((v & np.uint32(0xFF00)) << np.uint32(8))
        | ((v >> np.uint32(8)) & np.uint32(0xFF00))
        | (v >> np.uint32(24))
    )


@numba.njit(nogil=True, parallel=True, cache=True, fastmath=False, boundscheck=False)
def _combine_planes(
    planes: typing.Any,
    swap: np.ndarray,
    mask_planes: typing.Any,
    mask_swap: np.ndarray,
    use_mask: bool,
    mask_bits: np.uint32,
    network: np.ndarray,
    nsigma: float,
    n_iter: int,
    mean_out: np.ndarray,
    n_out: np.ndarray,
    std_out: np.ndarray,
    write_std: bool,
) -> None:  # pragma: no cover - compiled
    """Combine separate float32 planes, given as their 32-bit words, of either byte order.

    Each value is read once, straight from its plane (a memory-mapped file
    as well as memory), byte-swapped where ``swap`` says so, and checked
    for finiteness on its exponent bits. Masks are 32-bit integer planes;
    a value is excluded where its mask word has any of ``mask_bits`` set.
    """
    n_images = len(planes)
    n_rows, n_cols = mean_out.shape
    n_blocks = (n_cols + BLOCK - 1) // BLOCK
    outputs = (mean_out, n_out, std_out, write_std)
    n_groups = min(n_rows, _ROW_GROUPS)
    for g in numba.prange(n_groups):
        # each row's words of every image, byte-swapped and checked, padded to whole blocks
        row_words = np.empty((n_images, n_blocks * BLOCK), dtype=np.uint32)
        row_words[:, n_cols:] = _EXPONENT
        row_values = row_words.view(np.float32)
        work = _workspace(n_images)
        buf = work[0]
        for r in range(g * n_rows // n_groups, (g + 1) * n_rows // n_groups):
            for i in range(n_images):
                # one look-up of the plane per row: a typed list's item is costly to get
                src = planes[i][r]
                dst = row_words[i]
                if swap[i]:
                    for c in range(n_cols):
                        dst[c] = _bswap32(src[c])
                else:
                    for c in range(n_cols):
                        dst[c] = src[c]
                for c in range(n_cols):
                    w = dst[c]
                    dst[c] = _EXPONENT if (w & _EXPONENT) == _EXPONENT else w
                if use_mask:
                    msrc = mask_planes[i][r]
                    if mask_swap[i]:
                        for c in range(n_cols):
                            if _bswap32(msrc[c]) & mask_bits:
                                dst[c] = _EXPONENT
                    else:
                        for c in range(n_cols):
                            if msrc[c] & mask_bits:
                                dst[c] = _EXPONENT
            for b in range(n_blocks):
                c0 = b * BLOCK
                for i in range(n_images):
                    for j in range(BLOCK):
                        buf[i, j] = row_values[i, c0 + j]
                _clip_block(work, network, nsigma, n_iter, outputs, r, c0, min(BLOCK, n_cols - c0))


@contextmanager
def _compile_lock(kernel: typing.Any) -> Iterator[None]:
    """Hold the lock on compiling ``kernel`` into its numba cache folder (released if the process dies).

    The lock file is in the cache folder itself (``__pycache__`` beside
    this module, or where numba keeps the cache when that is not
    writeable), so every process using that cache shares it.
    """
    cache_dir = kernel.stats.cache_path
    os.makedirs(cache_dir, exist_ok=True)
    with open(os.path.join(cache_dir, f"{__name__.rpartition('.')[2]}.compile.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _call_compiled(kernel: typing.Any, *args: typing.Any) -> None:
    """Call ``kernel``; if it has no compiled version for these arguments yet, hold `_compile_lock`.

    Under the lock, numba looks in its cache first: a kernel another
    process compiled meanwhile is loaded, not compiled again. Calls with
    arguments already compiled for take no lock, so processes combine at
    the same time.
    """
    if tuple(numba.typeof(arg) for arg in args) in kernel.overloads:
        kernel(*args)
        return
    with _compile_lock(kernel):
        kernel(*args)


class _Threads:
    """Context manager running numba with a given number of threads."""

    def __init__(self, threads: int | None) -> None:
        available: int = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
        self.threads = max(1, min(available if threads is None else threads, available))
        self.previous = 0

    def __enter__(self) -> None:
        self.previous = numba.get_num_threads()
        numba.set_num_threads(self.threads)

    def __exit__(self, *args: typing.Any) -> None:
        numba.set_num_threads(self.previous)


_NO_MASK = np.zeros((1, 1, 1), dtype=np.bool_)
_NO_STDEV = np.zeros((1, 1), dtype=np.float32)


def combine_strip(
    x: np.ndarray, mask: np.ndarray | None, spec: "_Stack", result: "ClippedMeanResult", rows: slice
) -> None:
    """Combine one strip of rows into ``result``.

    Parameters
    ----------
    x : `numpy.ndarray`
        float32 (N, rows, columns) values of the strip.
    mask : `numpy.ndarray` or `None`
        bool (N, rows, columns), True to exclude.
    spec : `_Stack`
        The validated parameters.
    result : `ClippedMeanResult`
        Output arrays, written at ``rows``.
    rows : `slice`
        Rows of the strip in the output.
    """
    network = sorting_network(x.shape[0])
    with _Threads(spec.threads):
        _call_compiled(
            _combine_rows,
            x,
            _NO_MASK if mask is None else mask,
            mask is not None,
            network,
            spec.nsigma,
            spec.n_iter,
            result.mean,
            result.n_used,
            _NO_STDEV if result.stdev_or_none is None else result.stdev_or_none,
            result.stdev_or_none is not None,
            rows.start,
        )


def combine_stack(spec: "_Stack", result: "ClippedMeanResult") -> None:
    """Combine every image of ``spec`` into ``result``.

    A float32 3-D stack is read in place in one call; so are separate
    float32 images of either byte order (memory-mapped FITS data included)
    with no mask or 32-bit integer masks (`planes_fit`); otherwise the
    images (and masks) are copied one strip at a time into a reused buffer.

    Parameters
    ----------
    spec : `_Stack`
        The validated images and parameters.
    result : `ClippedMeanResult`
        Output arrays.
    """
    in_place = isinstance(spec.planes, np.ndarray) and spec.planes.dtype == np.float32
    if in_place and spec.mask_planes is None:
        combine_strip(spec.read(slice(0, spec.shape[0])), None, spec, result, slice(0, spec.shape[0]))
        return
    if not in_place and planes_fit(spec.planes, spec.mask_planes):
        combine_planes(spec.planes, spec.mask_planes, -1, spec, result)
        return
    buffer = None if in_place else np.empty((spec.n, spec.strip_rows, spec.shape[1]), dtype=np.float32)
    for rows in spec.strips():
        combine_strip(spec.read(rows, out=buffer), spec.read_mask(rows), spec, result, rows)


def _words_fit(plane: np.ndarray, kind: str) -> bool:
    """Return True if ``plane`` is C-contiguous 4-byte data of the given kind ("f" or "iu")."""
    return plane.dtype.itemsize == 4 and plane.dtype.kind in kind and plane.flags.c_contiguous


def planes_fit(
    planes: np.ndarray | Sequence[np.ndarray], mask_planes: np.ndarray | Sequence[np.ndarray] | None
) -> bool:
    """Return True if `combine_planes` can read these images and masks in place.

    Parameters
    ----------
    planes : `numpy.ndarray` or `~collections.abc.Sequence` [`numpy.ndarray`]
        The images (2-D each).
    mask_planes : `numpy.ndarray` or `~collections.abc.Sequence` or `None`
        Integer masks, or `None`.

    Returns
    -------
    fit : `bool`
        True if every image is C-contiguous float32 (either byte order) and
        every mask C-contiguous 32-bit integers.
    """
    if not all(_words_fit(plane, "f") for plane in planes):
        return False
    return mask_planes is None or all(_words_fit(plane, "iu") for plane in mask_planes)


def _word_list(planes: np.ndarray | Sequence[np.ndarray]) -> tuple[typed.List, np.ndarray]:
    """Read-only uint32 views of 4-byte planes, and whether each needs a byte swap."""
    words = typed.List()
    for plane in planes:
        view = np.asarray(plane).view(np.uint32)
        view.flags.writeable = False
        words.append(view)
    swap = np.array([not plane.dtype.isnative for plane in planes], dtype=np.bool_)
    return words, swap


def combine_planes(
    planes: np.ndarray | Sequence[np.ndarray],
    mask_planes: np.ndarray | Sequence[np.ndarray] | None,
    mask_bits: int,
    spec: "_Stack",
    result: "ClippedMeanResult",
) -> None:
    """Combine separate images read in place, byte-swapping big-endian (FITS) data as it is read.

    Each value is read once, by the thread that combines it, so reading a
    memory-mapped file overlaps combining on every thread with no copy of
    the data and no reader thread competing for the cores.

    Parameters
    ----------
    planes : `numpy.ndarray` or `~collections.abc.Sequence` [`numpy.ndarray`]
        float32 images of either byte order, C-contiguous (see `planes_fit`).
    mask_planes : `numpy.ndarray` or `~collections.abc.Sequence` or `None`
        32-bit integer masks of either byte order, or `None`.
    mask_bits : `int`
        A value is excluded where its mask has any of these bits set.
    spec : `_Stack`
        The validated parameters.
    result : `ClippedMeanResult`
        Output arrays.
    """
    words, swap = _word_list(planes)
    if mask_planes is None:
        mask_words, mask_swap = _word_list([np.zeros((1, 1), dtype=np.uint32)])
    else:
        mask_words, mask_swap = _word_list(mask_planes)
    with _Threads(spec.threads):
        _call_compiled(
            _combine_planes,
            words,
            swap,
            mask_words,
            mask_swap,
            mask_planes is not None,
            np.uint32(mask_bits & 0xFFFFFFFF),
            sorting_network(len(planes)),
            spec.nsigma,
            spec.n_iter,
            result.mean,
            result.n_used,
            _NO_STDEV if result.stdev_or_none is None else result.stdev_or_none,
            result.stdev_or_none is not None,
        )
