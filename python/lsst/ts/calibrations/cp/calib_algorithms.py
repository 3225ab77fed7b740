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

"""Array-level algorithms of calibration construction.

Pure functions: combining a stack of scaled images with the clipped mean,
cosmic-ray masking of a dark, clipped statistics of an image and the
focal-plane normalization of flats (log B[d,e] = log E[e] + log G[d]).
The calibration tasks of this package wrap them.
"""

__all__ = [
    "CombinedStack",
    "FlatNormalization",
    "clipped_mean_stdev",
    "combine_stack",
    "cosmic_ray_mask",
    "solve_flat_normalization",
]

import dataclasses
from collections.abc import Sequence

import numpy as np

from .clipped_mean import clipped_mean
from .isr_algorithms import IQR_TO_SIGMA

# Largest number of values whose quartiles start the clipping; larger sets use an
# evenly strided sample of about this size for the starting window only.
_START_SAMPLE = 1_000_000


def clipped_mean_stdev(
    values: np.ndarray, *, nsigma: float = 3.0, n_iter: int = 3
) -> tuple[float, float, int]:
    """Return the clipped mean, standard deviation and count of finite values.

    The first pass keeps values within ``nsigma`` × 0.7413 × IQR of the
    median; each further pass keeps values within ``nsigma`` standard
    deviations of the previous pass's mean. For more than a million values
    the starting median and IQR come from an evenly strided sample of about
    a million (they only place the first window); every pass uses all
    values. Sums are accumulated in float64.

    Parameters
    ----------
    values : `numpy.ndarray`
        Values (any shape); non-finite ones are ignored.
    nsigma : `float`
        Clipping half-width in standard deviations.
    n_iter : `int`
        Number of passes.

    Returns
    -------
    mean, stdev, n : `float`, `float`, `int`
        Clipped mean, its standard deviation (ddof=1) and the number of
        values kept; NaN and 0 if no value is finite.
    """
    data = np.asarray(values).ravel()
    if data.dtype.kind != "f":
        data = data.astype(np.float64)
    data = data[np.isfinite(data)]
    if data.size == 0:
        return float("nan"), float("nan"), 0
    if data.size == 1:
        return float(data[0]), 0.0, 1
    sample = data[:: max(1, data.size // _START_SAMPLE)]
    q25, centre, q75 = (float(q) for q in np.percentile(sample, [25.0, 50.0, 75.0]))
    half_width = nsigma * IQR_TO_SIGMA * (q75 - q25)
    kept = data
    for _ in range(n_iter):
        if not half_width > 0:
            break
        selected = data[np.abs(data - data.dtype.type(centre)) <= data.dtype.type(half_width)]
        if selected.size < 2:
            break
        kept = selected
        centre = float(kept.mean(dtype=np.float64))
        half_width = nsigma * float(kept.std(ddof=1, dtype=np.float64))
    stdev = float(kept.std(ddof=1, dtype=np.float64)) if kept.size > 1 else 0.0
    return float(kept.mean(dtype=np.float64)), stdev, int(kept.size)


@dataclasses.dataclass(frozen=True)
class CombinedStack:
    """A stack of images combined pixel by pixel.

    Parameters
    ----------
    image : `numpy.ndarray`
        Clipped mean, float32.
    variance : `numpy.ndarray`
        Variance of the clipped mean, float32: propagated from the inputs'
        variance planes, or the kept values' scatter (stdev² / n).
    n_used : `numpy.ndarray`
        Number of values kept per pixel, int32.
    all_masked : `numpy.ndarray`
        Pixels masked in every input; their value is the clipped mean of
        all inputs ignoring the masks (a feature present in every
        exposure, such as a hot pixel, is not a cosmic ray).
    no_data : `numpy.ndarray`
        Pixels with no finite input value at all.
    """

    image: np.ndarray
    variance: np.ndarray
    n_used: np.ndarray
    all_masked: np.ndarray
    no_data: np.ndarray


def combine_stack(
    images: Sequence[np.ndarray],
    masks: Sequence[np.ndarray] | None = None,
    scales: Sequence[float] | None = None,
    *,
    variances: Sequence[np.ndarray] | None = None,
    nsigma: float = 3.0,
    n_iter: int = 3,
) -> CombinedStack:
    """Combine images with the per-pixel clipped mean after dividing each by its scale.

    Parameters
    ----------
    images : `~collections.abc.Sequence` [`numpy.ndarray`]
        Images of equal shape; not modified.
    masks : `~collections.abc.Sequence` [`numpy.ndarray`], optional
        Boolean arrays, true where a pixel must not be used.
    scales : `~collections.abc.Sequence` [`float`], optional
        Each image is divided by its scale (1 if not given).
    variances : `~collections.abc.Sequence` [`numpy.ndarray`], optional
        The images' variance planes. When given, the combined variance is
        propagated from them (cp_pipe's ``calcErrorFromInputVariance``):
        the clipped mean over the inputs of variance / scale², divided by
        the number of values kept. Otherwise it is the kept values' own
        scatter, variance / number kept, which the clipping makes an
        underestimate when there are few inputs.
    nsigma : `float`
        Clipping threshold.
    n_iter : `int`
        Clipping passes.

    Returns
    -------
    combined : `CombinedStack`
        The combined image and its variance.

    Raises
    ------
    ValueError
        Raised if there are no images, shapes differ, or a scale is not a
        positive finite number.
    """
    if len(images) == 0:
        raise ValueError("combine_stack: no images to combine.")
    shape = images[0].shape
    if scales is None:
        scales = [1.0] * len(images)
    if len(scales) != len(images):
        raise ValueError(f"combine_stack: {len(scales)} scales for {len(images)} images.")
    if variances is not None and len(variances) != len(images):
        raise ValueError(f"combine_stack: {len(variances)} variance planes for {len(images)} images.")
    stack = np.empty((len(images), *shape), dtype=np.float32)
    for i, (image, scale) in enumerate(zip(images, scales)):
        if image.shape != shape:
            raise ValueError(f"combine_stack: image {i} has shape {image.shape}; image 0 has {shape}.")
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"combine_stack: scale {i} is {scale}; it must be a positive number.")
        np.divide(image, scale, out=stack[i], casting="unsafe")
    mask_stack = None if masks is None else np.stack([np.asarray(m, dtype=bool) for m in masks])
    mean, stdev, n_used, all_masked = _combine_with_fallback(
        stack, mask_stack, nsigma, n_iter, with_stdev=variances is None
    )
    if variances is None:
        assert stdev is not None
        variance_of_inputs = stdev.astype(np.float64) ** 2
    else:
        # the stack's buffer now holds the variances, scaled as the images were
        for i, (plane, scale) in enumerate(zip(variances, scales)):
            if plane.shape != shape:
                raise ValueError(
                    f"combine_stack: variance plane {i} has shape {plane.shape}; image 0 has {shape}."
                )
            np.divide(plane, scale * scale, out=stack[i], casting="unsafe")
        input_variance, _, _, _ = _combine_with_fallback(
            stack, mask_stack, nsigma, n_iter, with_stdev=False, all_masked=all_masked
        )
        variance_of_inputs = input_variance.astype(np.float64)
    del stack
    no_data = n_used == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = np.where(n_used > 0, variance_of_inputs / np.maximum(n_used, 1), np.nan)
    mean = np.where(no_data, 0.0, mean).astype(np.float32)
    variance = np.where(no_data | ~np.isfinite(variance), 0.0, variance).astype(np.float32)
    return CombinedStack(
        image=mean, variance=variance, n_used=n_used.astype(np.int32), all_masked=all_masked, no_data=no_data
    )


def _combine_with_fallback(
    stack: np.ndarray,
    mask_stack: np.ndarray | None,
    nsigma: float,
    n_iter: int,
    *,
    with_stdev: bool,
    all_masked: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """Clipped mean per pixel; pixels masked in every input are combined ignoring the masks.

    Parameters
    ----------
    stack : `numpy.ndarray`
        float32 (N, rows, columns).
    mask_stack : `numpy.ndarray` or `None`
        bool (N, rows, columns), True to leave out.
    nsigma, n_iter
        The clipping.
    with_stdev : `bool`
        Compute the kept values' standard deviation too.
    all_masked : `numpy.ndarray`, optional
        The pixels to combine ignoring the masks; by default those with no
        value kept but some finite value.

    Returns
    -------
    mean, stdev, n_used, all_masked : `numpy.ndarray`
        Per pixel (float32, float32 or `None` without ``with_stdev``,
        int16 or int32, bool).
    """
    result = clipped_mean(stack, mask_stack, nsigma=nsigma, n_iter=n_iter, with_stdev=with_stdev)
    mean = result.mean
    stdev = result.stdev_or_none
    n_used = result.n_used
    if all_masked is None:
        all_masked = np.zeros(mean.shape, dtype=bool)
        if mask_stack is not None:
            all_masked = (n_used == 0) & np.isfinite(stack).any(axis=0)
    if all_masked.any():
        subset = stack[:, all_masked][:, np.newaxis, :]
        fallback = clipped_mean(subset, nsigma=nsigma, n_iter=n_iter, with_stdev=with_stdev)
        mean[all_masked] = fallback.mean[0]
        if stdev is not None:
            stdev[all_masked] = fallback.stdev[0]
        n_used[all_masked] = fallback.n_used[0]
    return mean, stdev, n_used, all_masked


def _grow(mask: np.ndarray, radius: int) -> np.ndarray:
    """Dilate a boolean mask by ``radius`` pixels (a square)."""
    grown = mask.copy()
    rows, cols = mask.shape
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dy == 0 and dx == 0:
                continue
            src = mask[max(0, -dy) : rows - max(0, dy), max(0, -dx) : cols - max(0, dx)]
            grown[max(0, dy) : rows - max(0, -dy), max(0, dx) : cols - max(0, -dx)] |= src
    return grown


def cosmic_ray_mask(
    image: np.ndarray, good: np.ndarray | None = None, *, nsigma: float = 6.0, grow: int = 1
) -> np.ndarray:
    """Mask cosmic-ray candidates in a dark: pixels far above the image's level.

    A pixel is a candidate when it exceeds the clipped mean of the image by
    more than ``nsigma`` clipped standard deviations; candidates are grown
    by ``grow`` pixels to cover the charge a track spreads to its
    neighbours. A single dark cannot tell a cosmic ray from a hot pixel:
    the combination (`combine_stack`) keeps a pixel masked in every input.

    Parameters
    ----------
    image : `numpy.ndarray`
        Bias-subtracted dark (any units).
    good : `numpy.ndarray`, optional
        Boolean array of pixels to use for the image's statistics.
    nsigma : `float`
        Detection threshold.
    grow : `int`
        Growth radius in pixels.

    Returns
    -------
    mask : `numpy.ndarray`
        Boolean array, true on cosmic-ray pixels.
    """
    values = image if good is None else image[good]
    mean, stdev, _ = clipped_mean_stdev(values)
    if not (np.isfinite(stdev) and stdev > 0):
        return np.zeros(image.shape, dtype=bool)
    candidates = np.asarray(image > mean + nsigma * stdev)
    return _grow(candidates, grow) if grow > 0 else candidates


@dataclasses.dataclass(frozen=True)
class FlatNormalization:
    """Solution of log B[d,e] = log E[e] + log G[d].

    Parameters
    ----------
    exposure_scales : `numpy.ndarray`
        E[e], the focal-plane level of each exposure (B's units).
    detector_scales : `numpy.ndarray`
        G[d], the relative level of each detector; their mean is 1.
    n_iter : `int`
        Iterations used.
    residual_rms : `float`
        RMS of log B - log E - log G over the measured entries.
    """

    exposure_scales: np.ndarray
    detector_scales: np.ndarray
    n_iter: int
    residual_rms: float


def solve_flat_normalization(
    levels: np.ndarray, *, max_iter: int = 100, tolerance: float = 1e-10
) -> FlatNormalization:
    """Split the levels of flats into exposure levels and detector levels.

    Alternating least squares in log space: E[e] = exp mean_d(log B - log G),
    then G[d] = exp mean_e(log B - log E), until the largest change in log
    is below ``tolerance``. Entries that are NaN (a detector missing from
    an exposure) are skipped. The overall level is fixed by requiring the
    mean of G to be 1, so a flat divided by E[e] keeps the relative levels
    of the detectors and averages 1 over the focal plane.

    Parameters
    ----------
    levels : `numpy.ndarray`
        B[d, e], (detectors, exposures), positive; NaN where not measured.
    max_iter : `int`
        Maximum iterations.
    tolerance : `float`
        Convergence threshold on the change of log E and log G.

    Returns
    -------
    normalization : `FlatNormalization`
        The scales.

    Raises
    ------
    ValueError
        Raised if ``levels`` is not 2-D, has a measured value that is not
        positive, or a detector or exposure without any measurement.
    """
    b = np.asarray(levels, dtype=np.float64)
    if b.ndim != 2:
        raise ValueError(f"levels must be (detectors, exposures); got shape {b.shape}.")
    measured = np.isfinite(b)
    if np.any(b[measured] <= 0):
        raise ValueError("Every measured flat level must be positive (a flat with no light?).")
    if not measured.any(axis=1).all() or not measured.any(axis=0).all():
        raise ValueError("Every detector and every exposure needs at least one measured level.")
    log_b = np.where(measured, np.log(np.where(measured, b, 1.0)), 0.0)
    weight = measured.astype(np.float64)
    log_g = np.zeros(b.shape[0])
    log_e = np.zeros(b.shape[1])
    iteration = 0
    for iteration in range(1, max_iter + 1):
        new_e = ((log_b - log_g[:, np.newaxis]) * weight).sum(axis=0) / weight.sum(axis=0)
        new_g = ((log_b - new_e[np.newaxis, :]) * weight).sum(axis=1) / weight.sum(axis=1)
        change = max(np.abs(new_e - log_e).max(), np.abs(new_g - log_g).max())
        log_e, log_g = new_e, new_g
        if change < tolerance:
            break
    g = np.exp(log_g)
    norm = g.mean()
    g /= norm
    e = np.exp(log_e) * norm
    residual = (log_b - np.log(e)[np.newaxis, :] - np.log(g)[:, np.newaxis])[measured]
    return FlatNormalization(
        exposure_scales=e,
        detector_scales=g,
        n_iter=iteration,
        residual_rms=float(np.sqrt(np.mean(residual**2))),
    )
