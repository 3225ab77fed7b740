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

Each thread takes one row at a time. A row is processed in blocks of
`BLOCK` pixels: the N values of every pixel of the block are copied into a
small (N, BLOCK) buffer (masked and non-finite values as +inf), sorted with
a Batcher odd-even merge sorting network whose compare-exchange steps run
across the block's pixels (SIMD), and then clipped in passes that are also
vectorized across pixels. The arithmetic, and the order of the float64
sums (values in ascending order), are those of
`~lsst.ts.calibrations.cp.clipped_mean.clipped_mean_reference`, so both
give the same numbers.

Importing this module raises `ImportError` if numba is not installed.
"""

__all__ = ["BLOCK", "combine_stack", "combine_strip", "sorting_network"]

import functools
import typing

import numba
import numpy as np

from .clipped_mean import IQR_TO_SIGMA

if typing.TYPE_CHECKING:
    from .clipped_mean import ClippedMeanResult, _Stack

BLOCK = 64
"""Pixels processed together by the vectorized sorting network."""


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
def _quantile(buf: np.ndarray, j: int, n: int, q: float) -> float:  # pragma: no cover - compiled
    """Linear-interpolation quantile ``q`` of the first ``n`` sorted values of column ``j``."""
    pos = q * np.float64(n - 1)
    ilo = int(np.floor(pos))
    ihi = min(ilo + 1, n - 1)
    frac = pos - ilo
    v_lo = np.float64(buf[ilo, j])
    return v_lo + frac * (np.float64(buf[ihi, j]) - v_lo)


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
    row0: int,
) -> None:  # pragma: no cover - compiled
    n_images, n_rows, n_cols = x.shape
    n_blocks = (n_cols + BLOCK - 1) // BLOCK
    n_comp = network.shape[0]
    inf = np.float32(np.inf)
    first_width = nsigma * IQR_TO_SIGMA
    for r in numba.prange(n_rows):
        buf = np.empty((n_images, BLOCK), dtype=np.float32)
        n_valid = np.empty(BLOCK, dtype=np.int64)
        centre = np.empty(BLOCK, dtype=np.float64)
        half_width = np.empty(BLOCK, dtype=np.float64)
        mean = np.empty(BLOCK, dtype=np.float64)
        var = np.empty(BLOCK, dtype=np.float64)
        count = np.empty(BLOCK, dtype=np.int64)
        total = np.empty(BLOCK, dtype=np.float64)
        total2 = np.empty(BLOCK, dtype=np.float64)
        kept = np.empty(BLOCK, dtype=np.int64)
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
            for k in range(n_comp):
                lo = network[k, 0]
                hi = network[k, 1]
                for j in range(BLOCK):
                    p = buf[lo, j]
                    q = buf[hi, j]
                    buf[lo, j] = min(p, q)
                    buf[hi, j] = max(p, q)
            for j in range(BLOCK):
                n_valid[j] = 0
            for i in range(n_images):
                for j in range(BLOCK):
                    n_valid[j] += buf[i, j] < inf
            for j in range(BLOCK):
                n = n_valid[j]
                mean[j] = np.nan
                var[j] = np.nan
                count[j] = 0
                if n == 0:
                    centre[j] = np.nan
                    half_width[j] = np.nan
                    continue
                q25 = _quantile(buf, j, n, 0.25)
                centre[j] = _quantile(buf, j, n, 0.5)
                half_width[j] = first_width * (_quantile(buf, j, n, 0.75) - q25)
            for _ in range(n_iter):
                for j in range(BLOCK):
                    total[j] = 0.0
                    total2[j] = 0.0
                    kept[j] = 0
                for i in range(n_images):
                    for j in range(BLOCK):
                        d = np.float64(buf[i, j]) - centre[j]
                        inside = abs(d) <= half_width[j]
                        total[j] += d if inside else 0.0
                        total2[j] += d * d if inside else 0.0
                        kept[j] += inside
                for j in range(BLOCK):
                    k = kept[j]
                    if k > 0:
                        mean[j] = centre[j] + total[j] / k
                        var[j] = max(total2[j] - total[j] * total[j] / k, 0.0) / (k - 1) if k > 1 else 0.0
                        count[j] = k
                    centre[j] = mean[j]
                    half_width[j] = nsigma * np.sqrt(var[j])
            for j in range(width):
                mean_out[row0 + r, c0 + j] = mean[j]
                n_out[row0 + r, c0 + j] = count[j]
                std_out[row0 + r, c0 + j] = np.sqrt(var[j])


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
        _combine_rows(
            x,
            _NO_MASK if mask is None else mask,
            mask is not None,
            network,
            spec.nsigma,
            spec.n_iter,
            result.mean,
            result.n_used,
            result.stdev,
            rows.start,
        )


def combine_stack(spec: "_Stack", result: "ClippedMeanResult") -> None:
    """Combine every image of ``spec`` into ``result``.

    A float32 3-D stack is read in place in one call; otherwise the images
    (and masks) are copied one strip at a time into a reused buffer.

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
    buffer = None if in_place else np.empty((spec.n, spec.strip_rows, spec.shape[1]), dtype=np.float32)
    for rows in spec.strips():
        combine_strip(spec.read(rows, out=buffer), spec.read_mask(rows), spec, result, rows)
