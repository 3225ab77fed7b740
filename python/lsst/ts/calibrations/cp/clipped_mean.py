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

"""Per-pixel clipped mean of a stack of images (cp_pipe's MEANCLIP combine).

For every pixel the values of the N input images, less the masked and
non-finite ones, are combined as LSST's ``afw`` statistics do for MEANCLIP:

1. first pass: centre = median, half-width = ``nsigma`` × 0.7413 × IQR
   (with the default ``nsigma=3`` this is 3 × 0.7413 × IQR);
2. keep the values with ``centre - half-width <= x <= centre + half-width``
   (limits in float64); the clipped mean and sample standard deviation
   (``ddof=1``) of the kept values become the next centre and, times
   ``nsigma``, the next half-width;
3. ``n_iter`` passes in all (the first one clipping about the median).

The result is the mean, standard deviation and number of values of the last
pass that kept any value. A pass that keeps nothing, or exactly the values
the previous pass kept, ends the clipping: every later pass would repeat it.
Quantiles interpolate linearly between order statistics (numpy's default
``linear`` method). The mean and variance come from float64 sums of
``x - median`` and ``(x - median)²`` over the kept values, summed in
ascending order of ``x`` (as differences of prefix sums over the sorted
values, so each pass costs no new summation). A pixel with no valid value
gets mean and standard deviation NaN and ``n_used`` 0; one with a single
kept value gets standard deviation 0.

Two implementations give the same numbers: `clipped_mean`, a compiled
(numba) kernel that sorts each pixel's values with a sorting network
vectorized across pixels and runs in parallel over rows, and
`clipped_mean_reference`, plain numpy over strips of rows. `clipped_mean`
falls back to the reference when numba is not installed.
`clipped_mean_files` combines images in FITS files; the kernel reads
float32 data in place from the memory-mapped files, byte-swapping as it
reads (other pixel types go through strips filled by a reader thread).

Memory: neither implementation makes a float64 copy of the stack. The
reference works on strips of ``strip_rows`` rows (several float32 and
float64 temporaries of one strip); the compiled kernel reads a 3-D float32
array, or separate float32 images of either byte order, in place and needs
only a small buffer per thread; it copies other images one strip at a time.
"""

__all__ = [
    "IQR_TO_SIGMA",
    "ClippedMeanResult",
    "clipped_mean",
    "clipped_mean_files",
    "clipped_mean_reference",
]

import dataclasses
import os
import queue
import threading
from collections.abc import Iterator, Sequence

import numpy as np

IQR_TO_SIGMA = 0.7413
"""Standard deviation of a normal distribution per unit interquartile range."""


@dataclasses.dataclass(frozen=True)
class ClippedMeanResult:
    """The per-pixel clipped mean of a stack of images.

    Parameters
    ----------
    mean : `numpy.ndarray`
        Clipped mean, float32, shape (rows, columns); NaN where no input
        value was valid.
    n_used : `numpy.ndarray`
        Number of values kept by the last clipping pass: int16 (it never
        exceeds the number of images), int32 for more than 32767 images.
    stdev_or_none : `numpy.ndarray` or `None`
        Sample standard deviation of the kept values, float32 (0 where one
        value was kept, NaN where none), or `None` if it was not asked for
        (``with_stdev=False``); read it as `stdev`.
    """

    mean: np.ndarray
    n_used: np.ndarray
    stdev_or_none: np.ndarray | None

    @property
    def stdev(self) -> np.ndarray:
        """Sample standard deviation of the kept values, float32.

        Raises
        ------
        ValueError
            Raised if the combine ran with ``with_stdev=False``.
        """
        if self.stdev_or_none is None:
            raise ValueError("stdev was not computed: combine with with_stdev=True (the default).")
        return self.stdev_or_none

    @property
    def shape(self) -> tuple[int, int]:
        """Shape (rows, columns) of the combined image."""
        return self.mean.shape


class _Stack:
    """Validated view of the images to combine, read one strip at a time.

    Parameters
    ----------
    stack : `numpy.ndarray` or `~collections.abc.Sequence` [`numpy.ndarray`]
        A 3-D array (N, rows, columns) or a sequence of N 2-D arrays.
    masks : `numpy.ndarray` or `~collections.abc.Sequence` or `None`
        Booleans of the same shapes, True where a pixel is excluded.
    nsigma, n_iter, strip_rows, threads, with_stdev
        As for `clipped_mean`.

    Raises
    ------
    ValueError
        Raised if a parameter is out of range or the shapes disagree.
    """

    def __init__(
        self,
        stack: np.ndarray | Sequence[np.ndarray],
        masks: np.ndarray | Sequence[np.ndarray] | None,
        nsigma: float,
        n_iter: int,
        strip_rows: int,
        threads: int | None,
        with_stdev: bool = True,
    ) -> None:
        if not nsigma > 0 or not np.isfinite(nsigma):
            raise ValueError(f"nsigma={nsigma} must be a finite number > 0 (3 is cp_pipe's).")
        if int(n_iter) != n_iter or n_iter < 1:
            raise ValueError(f"n_iter={n_iter} must be an integer >= 1 (3 is cp_pipe's).")
        if int(strip_rows) != strip_rows or strip_rows < 1:
            raise ValueError(f"strip_rows={strip_rows} must be an integer >= 1 (200 is cp_pipe's).")
        if threads is not None and (int(threads) != threads or threads < 1):
            raise ValueError(f"threads={threads} must be None (all cores) or an integer >= 1.")
        self.planes = self._planes(stack, "stack")
        self.shape: tuple[int, int] = self.planes[0].shape
        self.mask_planes = None if masks is None else self._planes(masks, "masks")
        if self.mask_planes is not None:
            if len(self.mask_planes) != len(self.planes):
                raise ValueError(
                    f"masks has {len(self.mask_planes)} planes; it must have one per image "
                    f"({len(self.planes)})."
                )
            if self.mask_planes[0].shape != self.shape:
                raise ValueError(
                    f"masks planes have shape {self.mask_planes[0].shape}; they must match "
                    f"the images' {self.shape}."
                )
        self.nsigma = float(nsigma)
        self.n_iter = int(n_iter)
        self.strip_rows = int(strip_rows)
        self.threads = None if threads is None else int(threads)
        self.with_stdev = bool(with_stdev)

    @staticmethod
    def _planes(stack: np.ndarray | Sequence[np.ndarray], name: str) -> np.ndarray | list[np.ndarray]:
        """Return a 3-D array or a list of 2-D arrays of one shape."""
        if isinstance(stack, np.ndarray):
            if stack.ndim != 3:
                raise ValueError(
                    f"{name} is a {stack.ndim}-D array; it must be 3-D (N, rows, columns) "
                    "or a sequence of 2-D arrays."
                )
            planes: np.ndarray | list[np.ndarray] = stack
        else:
            planes = [np.asarray(plane) for plane in stack]
            for i, plane in enumerate(planes):
                if plane.ndim != 2:
                    raise ValueError(f"{name}[{i}] is {plane.ndim}-D; every plane must be 2-D.")
                if plane.shape != planes[0].shape:
                    raise ValueError(
                        f"{name}[{i}] has shape {plane.shape}; every plane must have the shape "
                        f"of {name}[0], {planes[0].shape}."
                    )
        if len(planes) == 0:
            raise ValueError(f"{name} is empty; give at least one image.")
        if 0 in planes[0].shape:
            raise ValueError(f"{name} planes have shape {planes[0].shape}; they must not be empty.")
        return planes

    @property
    def n(self) -> int:
        """Number of images."""
        return len(self.planes)

    def strips(self) -> Iterator[slice]:
        """Row slices of consecutive strips."""
        for r0 in range(0, self.shape[0], self.strip_rows):
            yield slice(r0, min(r0 + self.strip_rows, self.shape[0]))

    def read(self, rows: slice, out: np.ndarray | None = None) -> np.ndarray:
        """Return the images' rows as float32 (N, rows, columns).

        A float32 3-D stack gives a view; anything else a copy (into ``out``
        if given).
        """
        if isinstance(self.planes, np.ndarray) and self.planes.dtype == np.float32:
            return self.planes[:, rows, :]
        nrows = rows.stop - rows.start
        if out is None:
            out = np.empty((self.n, nrows, self.shape[1]), dtype=np.float32)
        else:
            out = out[:, :nrows, :]
        for i, plane in enumerate(self.planes):
            out[i] = plane[rows, :]
        return out

    def read_mask(self, rows: slice) -> np.ndarray | None:
        """Return the masks' rows as bool (N, rows, columns), or `None`."""
        if self.mask_planes is None:
            return None
        if isinstance(self.mask_planes, np.ndarray):
            return self.mask_planes[:, rows, :].astype(bool, copy=False)
        return np.stack([np.asarray(plane[rows, :], dtype=bool) for plane in self.mask_planes])

    def empty_result(self) -> ClippedMeanResult:
        """Allocate the result arrays (``n_used`` of the smallest signed type that holds N)."""
        return ClippedMeanResult(
            mean=np.empty(self.shape, dtype=np.float32),
            n_used=np.empty(self.shape, dtype=np.int16 if self.n <= np.iinfo(np.int16).max else np.int32),
            stdev_or_none=np.empty(self.shape, dtype=np.float32) if self.with_stdev else None,
        )

    def store(self, result: ClippedMeanResult, rows: slice, strip: tuple[np.ndarray, ...]) -> None:
        """Write one strip's (mean, count, stdev) from `_reference_strip` into ``result``."""
        mean, count, stdev = strip
        result.mean[rows] = mean
        result.n_used[rows] = count
        if result.stdev_or_none is not None:
            result.stdev_or_none[rows] = stdev


def _quantile(xs: np.ndarray, n: np.ndarray, q: float) -> np.ndarray:
    """Linear-interpolation quantile of the first ``n`` sorted values per pixel.

    Parameters
    ----------
    xs : `numpy.ndarray`
        Values sorted along axis 0, invalid ones (+inf) last.
    n : `numpy.ndarray`
        Number of valid values per pixel (at least 1).
    q : `float`
        Quantile in [0, 1].

    Returns
    -------
    value : `numpy.ndarray`
        float64 quantile per pixel.
    """
    pos = q * (n - 1).astype(np.float64)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    v_lo = np.take_along_axis(xs, lo[np.newaxis], axis=0)[0].astype(np.float64)
    v_hi = np.take_along_axis(xs, hi[np.newaxis], axis=0)[0].astype(np.float64)
    return v_lo + frac * (v_hi - v_lo)


def _reference_strip(
    x: np.ndarray, mask: np.ndarray | None, nsigma: float, n_iter: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clipped mean of one strip (N, rows, columns) in numpy.

    Returns
    -------
    mean, n_used, stdev : `numpy.ndarray`
        float64 mean, int64 count and float64 standard deviation per pixel.
    """
    with np.errstate(invalid="ignore"):
        return _reference_strip_unchecked(x, mask, nsigma, n_iter)


def _reference_strip_unchecked(
    x: np.ndarray, mask: np.ndarray | None, nsigma: float, n_iter: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_reference_strip` without floating-point warnings (inf - inf is expected)."""
    valid = np.isfinite(x)
    if mask is not None:
        valid &= ~mask
    xs = np.where(valid, x, np.float32(np.inf))
    xs.sort(axis=0)
    del valid
    n = np.count_nonzero(np.isfinite(xs), axis=0)
    n_safe = np.maximum(n, 1)
    median = _quantile(xs, n_safe, 0.5)
    iqr = _quantile(xs, n_safe, 0.75) - _quantile(xs, n_safe, 0.25)
    half_width = nsigma * IQR_TO_SIGMA * iqr
    del iqr
    # prefix sums of the deviations from the median, in ascending order of the values
    median = np.where(n > 0, median, 0.0)
    d = np.subtract(xs, median, dtype=np.float64)
    p1 = np.cumsum(d, axis=0)
    np.multiply(d, d, out=d)
    p2 = np.cumsum(d, axis=0, out=d)

    def run_sum(prefix: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Sum of the sorted values' terms [lo, hi) per pixel (hi >= 1 where used)."""
        upto_hi = np.take_along_axis(prefix, np.maximum(hi - 1, 0)[np.newaxis], axis=0)[0]
        upto_lo = np.take_along_axis(prefix, np.maximum(lo - 1, 0)[np.newaxis], axis=0)[0]
        return upto_hi - np.where(lo > 0, upto_lo, 0.0)

    centre = median
    mean = np.full(median.shape, np.nan)
    var = np.full(median.shape, np.nan)
    count = np.zeros(median.shape, dtype=np.int64)
    done = n == 0
    prev_lo = np.full(median.shape, -1)
    prev_hi = np.full(median.shape, -1)
    for _ in range(n_iter):
        lower = centre - half_width
        upper = centre + half_width
        lo = np.count_nonzero(xs < lower, axis=0)
        hi = np.maximum(np.minimum(xs.shape[0] - np.count_nonzero(xs > upper, axis=0), n), lo)
        k = hi - lo
        done |= (k == 0) | ((lo == prev_lo) & (hi == prev_hi))
        k_safe = np.maximum(k, 1)
        s1 = run_sum(p1, lo, hi)
        s2 = run_sum(p2, lo, hi)
        m = median + s1 / k_safe
        v = np.where(k > 1, np.maximum(s2 - s1 * s1 / k_safe, 0.0) / np.maximum(k - 1, 1), 0.0)
        mean = np.where(done, mean, m)
        var = np.where(done, var, v)
        count = np.where(done, count, k)
        prev_lo, prev_hi = lo, hi
        centre = mean
        half_width = nsigma * np.sqrt(var)
    return mean, count, np.sqrt(var)


def clipped_mean_reference(
    stack: np.ndarray | Sequence[np.ndarray],
    masks: np.ndarray | Sequence[np.ndarray] | None = None,
    *,
    nsigma: float = 3.0,
    n_iter: int = 3,
    strip_rows: int = 200,
    threads: int | None = None,
    with_stdev: bool = True,
) -> ClippedMeanResult:
    """Per-pixel clipped mean in plain numpy, strip by strip.

    Parameters
    ----------
    stack : `numpy.ndarray` or `~collections.abc.Sequence` [`numpy.ndarray`]
        The images: a 3-D array (N, rows, columns) or N 2-D arrays of one
        shape; float32 is read in place, other types are converted one
        strip at a time. Non-finite values are excluded.
    masks : `numpy.ndarray` or `~collections.abc.Sequence` or `None`, optional
        Booleans of the images' shape, True for pixels to exclude.
    nsigma : `float`, optional
        Clipping limit in standard deviations (also scales the first, IQR
        based, half-width).
    n_iter : `int`, optional
        Number of clipping passes, the first about the median.
    strip_rows : `int`, optional
        Rows processed at a time.
    threads : `int` or `None`, optional
        Accepted for the same signature as `clipped_mean`; numpy runs on
        one core.
    with_stdev : `bool`, optional
        Compute the standard deviation too; without it the result is
        smaller (``stdev_or_none`` is `None`, reading ``stdev`` raises).

    Returns
    -------
    result : `ClippedMeanResult`
        Clipped mean, number of values used and standard deviation.

    Raises
    ------
    ValueError
        Raised if a parameter is out of range or the shapes disagree.
    """
    spec = _Stack(stack, masks, nsigma, n_iter, strip_rows, threads, with_stdev)
    result = spec.empty_result()
    for rows in spec.strips():
        spec.store(
            result, rows, _reference_strip(spec.read(rows), spec.read_mask(rows), spec.nsigma, spec.n_iter)
        )
    return result


def _kernel_available() -> bool:
    """Return True if the compiled kernel can be used (numba importable)."""
    if os.environ.get("TS_CALIBRATIONS_NO_NUMBA"):
        return False
    try:
        from . import clipped_mean_numba  # noqa: F401
    except ImportError:
        return False
    return True


def clipped_mean(
    stack: np.ndarray | Sequence[np.ndarray],
    masks: np.ndarray | Sequence[np.ndarray] | None = None,
    *,
    nsigma: float = 3.0,
    n_iter: int = 3,
    strip_rows: int = 200,
    threads: int | None = None,
    with_stdev: bool = True,
) -> ClippedMeanResult:
    """Per-pixel clipped mean, compiled and parallel (numpy if numba is absent).

    Parameters
    ----------
    stack : `numpy.ndarray` or `~collections.abc.Sequence` [`numpy.ndarray`]
        The images: a 3-D array (N, rows, columns), read in place if
        float32, or N 2-D arrays of one shape, read in place if they are
        C-contiguous float32 (either byte order) and there are no boolean
        masks, otherwise copied one strip at a time. Non-finite values are
        excluded.
    masks : `numpy.ndarray` or `~collections.abc.Sequence` or `None`, optional
        Booleans (or integers, nonzero to exclude) of the images' shape,
        True for pixels to exclude.
    nsigma : `float`, optional
        Clipping limit in standard deviations (also scales the first, IQR
        based, half-width).
    n_iter : `int`, optional
        Number of clipping passes, the first about the median.
    strip_rows : `int`, optional
        Rows per strip when the images must be copied.
    threads : `int` or `None`, optional
        Threads to use; `None` for all cores.
    with_stdev : `bool`, optional
        Compute the standard deviation too; without it the result is
        smaller (``stdev_or_none`` is `None`, reading ``stdev`` raises).

    Returns
    -------
    result : `ClippedMeanResult`
        Clipped mean, number of values used and standard deviation, equal
        to `clipped_mean_reference`'s.

    Raises
    ------
    ValueError
        Raised if a parameter is out of range or the shapes disagree.
    """
    if not _kernel_available():
        return clipped_mean_reference(
            stack,
            masks,
            nsigma=nsigma,
            n_iter=n_iter,
            strip_rows=strip_rows,
            threads=threads,
            with_stdev=with_stdev,
        )
    from .clipped_mean_numba import combine_stack

    spec = _Stack(stack, masks, nsigma, n_iter, strip_rows, threads, with_stdev)
    result = spec.empty_result()
    combine_stack(spec, result)
    return result


def clipped_mean_files(
    paths: Sequence[str | os.PathLike[str]],
    *,
    hdu: int | str = "IMAGE",
    mask_hdu: int | str | None = None,
    mask_bits: int = -1,
    nsigma: float = 3.0,
    n_iter: int = 3,
    strip_rows: int = 200,
    threads: int | None = None,
    with_stdev: bool = True,
) -> ClippedMeanResult:
    """Clipped mean of images in FITS files, reading while combining.

    The files are memory-mapped. With the compiled kernel, float32 images
    (and 32-bit integer masks) are read in place: each thread reads the
    values of the rows it combines straight from the mapped files,
    byte-swapping the big-endian FITS words as it goes, so reading and
    combining overlap on every core with no copy of the data. Other pixel
    types (and the numpy fallback) go through strips: a reader thread
    converts strips of rows into native float32 buffers while the previous
    strip is combined.

    Parameters
    ----------
    paths : `~collections.abc.Sequence` [`str` or `os.PathLike`]
        FITS files, one image each.
    hdu : `int` or `str`, optional
        HDU holding the image (``"IMAGE"`` in an `~lsst.ts.calibrations.repo.images.Exposure`
        file).
    mask_hdu : `int` or `str` or `None`, optional
        HDU holding an integer mask; pixels with any of ``mask_bits`` set
        are excluded.
    mask_bits : `int`, optional
        Mask bits that exclude a pixel (all by default).
    nsigma, n_iter, strip_rows, threads, with_stdev
        As for `clipped_mean`.

    Returns
    -------
    result : `ClippedMeanResult`
        As `clipped_mean` would give for the same images in memory.

    Raises
    ------
    ValueError
        Raised if no file is given, an HDU holds no 2-D image or the
        shapes disagree.
    OSError
        Raised if a file cannot be read.
    """
    from astropy.io import fits

    if len(paths) == 0:
        raise ValueError("paths is empty; give at least one FITS file.")
    hdulists: list[fits.HDUList] = []
    try:
        for path in paths:
            hdulists.append(fits.open(path, memmap=True, lazy_load_hdus=True))
        images = []
        masks: list[np.ndarray] | None = [] if mask_hdu is not None else None
        for path, hdulist in zip(paths, hdulists):
            data = hdulist[hdu].data
            if data is None or data.ndim != 2:
                raise ValueError(f"HDU {hdu!r} of {os.fspath(path)!r} holds no 2-D image; set hdu.")
            images.append(np.asarray(data))
            if masks is not None:
                mask_data = hdulist[mask_hdu].data
                if mask_data is None or mask_data.shape != data.shape or mask_data.dtype.kind not in "iu":
                    raise ValueError(
                        f"mask_hdu {mask_hdu!r} of {os.fspath(path)!r} holds no integer mask of the "
                        f"image's shape {data.shape}; set mask_hdu."
                    )
                masks.append(np.asarray(mask_data))
        spec = _Stack(images, masks, nsigma, n_iter, strip_rows, threads, with_stdev)
        result = spec.empty_result()
        if _kernel_available():
            from .clipped_mean_numba import combine_planes, planes_fit

            if planes_fit(images, masks):
                combine_planes(images, masks, mask_bits, spec, result)
                return result
        _combine_strips_overlapped(spec, masks, mask_bits, result)
        return result
    finally:
        for hdulist in hdulists:
            hdulist.close()


def _combine_strips_overlapped(
    spec: _Stack, masks: list[np.ndarray] | None, mask_bits: int, result: ClippedMeanResult
) -> None:
    """Combine strip by strip, a reader thread converting the next strips meanwhile.

    Parameters
    ----------
    spec : `_Stack`
        The images (any numeric type) and parameters.
    masks : `list` [`numpy.ndarray`] or `None`
        Integer masks.
    mask_bits : `int`
        A value is excluded where its mask has any of these bits set.
    result : `ClippedMeanResult`
        Output arrays.
    """
    use_kernel = _kernel_available()
    # one strip being combined, one waiting in the queue, one being filled
    strips: queue.Queue[tuple[slice, np.ndarray, np.ndarray | None] | BaseException | None] = queue.Queue(
        maxsize=1
    )
    buffers = [np.empty((spec.n, spec.strip_rows, spec.shape[1]), dtype=np.float32) for _ in range(3)]
    stop = threading.Event()

    def read_strips() -> None:
        try:
            for i, rows in enumerate(spec.strips()):
                if stop.is_set():
                    return
                x = spec.read(rows, out=buffers[i % len(buffers)])
                mask = None
                if masks is not None:
                    mask = np.stack([(plane[rows, :] & mask_bits) != 0 for plane in masks])
                strips.put((rows, x, mask))
            strips.put(None)
        except BaseException as e:
            strips.put(e)

    reader = threading.Thread(target=read_strips, name="clipped_mean_files reader", daemon=True)
    reader.start()
    try:
        if use_kernel:
            from .clipped_mean_numba import combine_strip
        while True:
            item = strips.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            rows, x, mask = item
            if use_kernel:
                combine_strip(x, mask, spec, result, rows)
            else:
                spec.store(result, rows, _reference_strip(x, mask, spec.nsigma, spec.n_iter))
    finally:
        stop.set()
        while reader.is_alive():
            try:
                strips.get(timeout=0.1)
            except queue.Empty:
                pass
        reader.join()
