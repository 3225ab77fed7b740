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

"""Tests of the per-pixel clipped mean: analytic cases, masks, implementations agree."""

import importlib.util
import os
import pathlib
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from astropy.io import fits

from lsst.ts.calibrations.cp.clipped_mean import (
    IQR_TO_SIGMA,
    ClippedMeanResult,
    clipped_mean,
    clipped_mean_files,
    clipped_mean_reference,
)

Combine = Callable[..., ClippedMeanResult]
IMPLEMENTATIONS = [pytest.param(clipped_mean_reference, id="numpy"), pytest.param(clipped_mean, id="fast")]


def scalar_clipped_mean(values: np.ndarray, nsigma: float = 3.0, n_iter: int = 3) -> tuple[float, int, float]:
    """One pixel's clipped mean written plainly, as the documentation states it."""
    x = np.sort(values[np.isfinite(values)].astype(np.float64))
    if x.size == 0:
        return np.nan, 0, np.nan
    q25, q50, q75 = np.percentile(x, [25, 50, 75])
    centre, half_width = q50, nsigma * IQR_TO_SIGMA * (q75 - q25)
    mean, count, stdev = np.nan, 0, np.nan
    for _ in range(n_iter):
        kept = x[np.abs(x - centre) <= half_width]
        if kept.size == 0:
            break
        mean, count = float(np.mean(kept)), kept.size
        stdev = float(np.std(kept, ddof=1)) if kept.size > 1 else 0.0
        centre, half_width = mean, nsigma * stdev
    return mean, count, stdev


def noisy_stack(
    n: int, shape: tuple[int, int], seed: int, level: float = 1000.0, sigma: float = 5.0
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (level + sigma * rng.standard_normal((n, *shape))).astype(np.float32)


@pytest.mark.parametrize("combine", IMPLEMENTATIONS)
def test_against_plain_per_pixel_definition(combine: Combine) -> None:
    stack = noisy_stack(11, (7, 9), seed=1)
    rng = np.random.default_rng(2)
    # outliers of every size, some pixels with several
    hits = rng.random(stack.shape) < 0.15
    stack[hits] += rng.uniform(5, 500, hits.sum()).astype(np.float32)
    stack[0, 0, 0] = np.nan
    result = combine(stack, strip_rows=3)
    for r in range(stack.shape[1]):
        for c in range(stack.shape[2]):
            mean, count, stdev = scalar_clipped_mean(stack[:, r, c])
            assert result.mean[r, c] == pytest.approx(mean, rel=1e-6)
            assert result.n_used[r, c] == count
            assert result.stdev[r, c] == pytest.approx(stdev, rel=1e-5, abs=1e-5)
    assert result.mean.dtype == np.float32
    assert result.n_used.dtype == np.int16
    assert result.stdev.dtype == np.float32


@pytest.mark.parametrize("combine", IMPLEMENTATIONS)
def test_constant_with_outliers_is_exact(combine: Combine) -> None:
    """Identical values: IQR 0, the outliers go and the mean is the value itself."""
    stack = np.full((9, 4, 5), 17.25, dtype=np.float32)
    stack[2, 1, 1] = 1e6
    stack[3, 1, 1] = -50.0
    stack[4, 2, 3] = 18.0
    result = combine(stack)
    np.testing.assert_array_equal(result.mean, 17.25)
    expected_n = np.full((4, 5), 9)
    expected_n[1, 1] = 7
    expected_n[2, 3] = 8
    np.testing.assert_array_equal(result.n_used, expected_n)
    np.testing.assert_array_equal(result.stdev, 0.0)


@pytest.mark.parametrize("combine", IMPLEMENTATIONS)
def test_gaussian_statistics(combine: Combine) -> None:
    """Pure noise: mean unbiased, stdev that of a normal clipped at 3σ, few values dropped."""
    sigma = 5.0
    stack = noisy_stack(40, (50, 60), seed=3, sigma=sigma)
    result = combine(stack)
    n_pix = result.mean.size
    assert abs(float(np.mean(result.mean)) - 1000.0) < 5 * sigma / np.sqrt(40 * n_pix)
    # a normal truncated at ±3σ has σ' = 0.9866 σ
    assert float(np.mean(result.stdev)) == pytest.approx(0.9866 * sigma, rel=0.03)
    assert float(np.mean(result.n_used)) > 40 * 0.99


@pytest.mark.parametrize("combine", IMPLEMENTATIONS)
def test_cosmic_rays_rejected(combine: Combine) -> None:
    """Single, double and triple hits on one pixel across 20 exposures are all rejected."""
    sigma = 5.0
    stack = noisy_stack(20, (30, 40), seed=4, sigma=sigma)
    clean = stack.copy()
    rng = np.random.default_rng(5)
    hit_pixels = rng.choice(30 * 40, size=90, replace=False)
    hits = np.zeros(stack.shape, dtype=bool)
    for i, pixel in enumerate(hit_pixels):
        r, c = divmod(int(pixel), 40)
        frames = rng.choice(20, size=1 + i % 3, replace=False)
        hits[frames, r, c] = True
    stack[hits] += rng.uniform(30 * sigma, 5000, hits.sum()).astype(np.float32)
    result = combine(stack)
    expected = combine(clean, masks=hits)
    # a hit kept would move the mean by at least 30σ / 20 = 1.5σ
    assert np.max(np.abs(result.mean - expected.mean)) < 0.5 * sigma
    assert np.all(result.n_used <= 20 - hits.sum(axis=0))
    # pixels without hits are untouched
    no_hit = ~hits.any(axis=0)
    np.testing.assert_array_equal(result.mean[no_hit], combine(clean).mean[no_hit])


@pytest.mark.parametrize("combine", IMPLEMENTATIONS)
def test_masks_and_non_finite_excluded(combine: Combine) -> None:
    stack = noisy_stack(6, (3, 4), seed=6)
    masks = np.zeros(stack.shape, dtype=bool)
    masks[:, 0, 0] = True  # every value masked
    masks[1:, 0, 1] = True  # one value left
    stack[:3, 1, 1] = np.inf
    stack[3:, 1, 1] = np.nan  # nothing finite
    masks[0, 2, 2] = True
    stack[0, 2, 2] = 1e30
    result = combine(stack, masks)
    assert np.isnan(result.mean[0, 0]) and result.n_used[0, 0] == 0 and np.isnan(result.stdev[0, 0])
    assert result.mean[0, 1] == stack[0, 0, 1] and result.n_used[0, 1] == 1 and result.stdev[0, 1] == 0
    assert np.isnan(result.mean[1, 1]) and result.n_used[1, 1] == 0
    mean, count, _ = scalar_clipped_mean(stack[1:, 2, 2])
    assert result.mean[2, 2] == pytest.approx(mean, rel=1e-6) and result.n_used[2, 2] == count


@pytest.mark.parametrize("combine", IMPLEMENTATIONS)
def test_sequence_strips_and_dtypes_agree(combine: Combine) -> None:
    stack = noisy_stack(7, (23, 17), seed=7)
    stack[3, 5, 5] += 300
    whole = combine(stack, strip_rows=1000)
    for strip_rows in (1, 4, 23):
        as_list = combine(list(stack), strip_rows=strip_rows)
        np.testing.assert_array_equal(as_list.mean, whole.mean)
        np.testing.assert_array_equal(as_list.n_used, whole.n_used)
    as_float64 = combine(stack.astype(np.float64))
    np.testing.assert_array_equal(as_float64.mean, whole.mean)
    assert whole.shape == (23, 17)


def test_fast_equals_reference() -> None:
    """The compiled kernel and the numpy reference give the same numbers (1e-3 of the noise)."""
    sigma = 5.0
    stack = noisy_stack(20, (64, 100), seed=8, sigma=sigma)
    rng = np.random.default_rng(9)
    hits = rng.random(stack.shape) < 0.02
    stack[hits] += rng.uniform(0, 200, hits.sum()).astype(np.float32)
    masks = rng.random(stack.shape) < 0.01
    fast = clipped_mean(stack, masks, threads=1)
    fast_all = clipped_mean(stack, masks)
    ref = clipped_mean_reference(stack, masks)
    np.testing.assert_allclose(fast.mean, ref.mean, rtol=0, atol=1e-3 * sigma)
    np.testing.assert_allclose(fast.stdev, ref.stdev, rtol=0, atol=1e-3 * sigma)
    np.testing.assert_array_equal(fast.n_used, ref.n_used)
    np.testing.assert_array_equal(fast_all.mean, fast.mean)


@pytest.mark.parametrize("nsigma,n_iter", [(2.0, 1), (2.5, 5), (4.0, 2)])
def test_parameters_agree(nsigma: float, n_iter: int) -> None:
    stack = noisy_stack(13, (9, 11), seed=10)
    stack[::3, ::2, ::3] += 40
    fast = clipped_mean(stack, nsigma=nsigma, n_iter=n_iter)
    ref = clipped_mean_reference(stack, nsigma=nsigma, n_iter=n_iter)
    np.testing.assert_allclose(fast.mean, ref.mean, atol=5e-3)
    np.testing.assert_array_equal(fast.n_used, ref.n_used)
    for r, c in [(0, 0), (4, 7), (8, 10)]:
        mean, count, _ = scalar_clipped_mean(stack[:, r, c], nsigma=nsigma, n_iter=n_iter)
        assert ref.mean[r, c] == pytest.approx(mean, rel=1e-6) and ref.n_used[r, c] == count


@pytest.mark.parametrize("combine", IMPLEMENTATIONS)
def test_memory_never_a_float64_copy(combine: Combine) -> None:
    stack = noisy_stack(20, (400, 300), seed=11)
    combine(stack[:, :8], strip_rows=8)  # compile outside the measurement
    tracemalloc.start()
    try:
        combine(stack, strip_rows=20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    result_bytes = 3 * 4 * 400 * 300
    assert peak - result_bytes < 0.5 * stack.nbytes


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"nsigma": 0.0}, "nsigma"),
        ({"n_iter": 0}, "n_iter"),
        ({"strip_rows": 0}, "strip_rows"),
        ({"threads": 0}, "threads"),
        ({"masks": np.zeros((2, 3, 4), dtype=bool)}, "masks"),
        ({"masks": np.zeros((3, 3, 5), dtype=bool)}, "masks"),
    ],
)
def test_bad_parameters_name_the_field(kwargs: dict, field: str) -> None:
    stack = noisy_stack(3, (3, 4), seed=12)
    for combine in (clipped_mean, clipped_mean_reference):
        with pytest.raises(ValueError, match=field):
            combine(stack, **kwargs)


def test_bad_stacks_name_the_problem() -> None:
    with pytest.raises(ValueError, match="empty"):
        clipped_mean([])
    with pytest.raises(ValueError, match="3-D"):
        clipped_mean(np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"stack\[1\]"):
        clipped_mean([np.zeros((3, 4)), np.zeros((3, 5))])


def test_files_equal_in_memory(tmp_path: pathlib.Path) -> None:
    stack = noisy_stack(5, (37, 21), seed=13)
    stack[1, 3, 4] = 1e5
    masks = np.zeros(stack.shape, dtype=np.int32)
    masks[2, 10, 10] = 8
    masks[3, 10, 10] = 16
    paths = []
    for i in range(stack.shape[0]):
        path = tmp_path / f"image{i}.fits"
        fits.HDUList(
            [
                fits.PrimaryHDU(),
                fits.ImageHDU(stack[i], name="IMAGE"),
                fits.ImageHDU(masks[i], name="MASK"),
            ]
        ).writeto(path)
        paths.append(path)
    expected = clipped_mean(stack, masks != 0)
    result = clipped_mean_files(paths, mask_hdu="MASK", strip_rows=8)
    np.testing.assert_array_equal(result.mean, expected.mean)
    np.testing.assert_array_equal(result.n_used, expected.n_used)
    only_8 = clipped_mean_files(paths, mask_hdu="MASK", mask_bits=8, strip_rows=5)
    assert only_8.n_used[10, 10] == 4
    with pytest.raises(ValueError, match="hdu"):
        clipped_mean_files(paths, hdu=0)
    with pytest.raises(ValueError, match="paths"):
        clipped_mean_files([])
    (tmp_path / "corrupt.fits").write_bytes(b"not a FITS file" * 10)
    with pytest.raises(OSError):
        clipped_mean_files([*paths, tmp_path / "corrupt.fits"])


def write_fits(
    directory: pathlib.Path, images: np.ndarray, masks: np.ndarray | None = None
) -> list[pathlib.Path]:
    """Write each image (and mask) as an Exposure-like FITS file; return the paths."""
    paths = []
    for i, image in enumerate(images):
        hdus = [fits.PrimaryHDU(), fits.ImageHDU(image, name="IMAGE")]
        if masks is not None:
            hdus.append(fits.ImageHDU(masks[i], name="MASK"))
        path = directory / f"image{i}.fits"
        fits.HDUList(hdus).writeto(path)
        paths.append(path)
    return paths


@pytest.mark.parametrize("combine", IMPLEMENTATIONS)
def test_without_stdev(combine: Combine) -> None:
    """with_stdev=False gives the same mean and n_used and no stdev plane."""
    stack = noisy_stack(9, (13, 70), seed=14)
    stack[2, 4, 4] += 500
    full = combine(stack)
    lean = combine(stack, with_stdev=False)
    assert lean.stdev_or_none is None and full.stdev_or_none is full.stdev
    with pytest.raises(ValueError, match="with_stdev"):
        lean.stdev
    np.testing.assert_array_equal(lean.mean, full.mean)
    np.testing.assert_array_equal(lean.n_used, full.n_used)


def test_n_used_widens_past_int16() -> None:
    """n_used is int16 while it can hold the image count, int32 beyond."""
    stack = np.zeros((40000, 1, 1), dtype=np.float32)
    result = clipped_mean_reference(stack)
    assert result.n_used.dtype == np.int32 and result.n_used[0, 0] == 40000


def test_separate_planes_of_either_byte_order() -> None:
    """Big-endian and native float32 planes are read in place and give the reference's numbers."""
    stack = noisy_stack(8, (11, 150), seed=15)
    stack[1, 2, 3] = np.nan
    stack[2, 2, 3] = -np.inf
    stack[3, 5, 100] += 1e4
    stack[:, 7, 7] = np.inf  # no finite value
    planes = [plane.astype(">f4") if i % 2 else plane.copy() for i, plane in enumerate(stack)]
    result = clipped_mean(planes)
    expected = clipped_mean_reference(stack)
    np.testing.assert_array_equal(result.mean, expected.mean)
    np.testing.assert_array_equal(result.n_used, expected.n_used)
    np.testing.assert_array_equal(result.stdev, expected.stdev)
    assert result.n_used[7, 7] == 0 and np.isnan(result.mean[7, 7])
    int_masks = np.zeros(stack.shape, dtype=">i4")
    int_masks[0, 4, 4] = 1 << 30
    masked = clipped_mean(planes, list(int_masks))
    assert masked.n_used[4, 4] == expected.n_used[4, 4] - 1
    np.testing.assert_array_equal(masked.mean, clipped_mean_reference(stack, int_masks != 0).mean)


@pytest.mark.parametrize("dtype", [">f4", ">i2", ">f8"])
def test_files_every_pixel_type_equals_in_memory(tmp_path: pathlib.Path, dtype: str) -> None:
    """float32 files are read in place, other types through strips; the numbers are the same."""
    rng = np.random.default_rng(16)
    stack = np.round(1000 + 5 * rng.standard_normal((6, 29, 90))).astype(dtype)
    stack[2, 3, 4] = 20000
    masks = np.zeros(stack.shape, dtype=">i4")
    masks[1, 5, 6] = 4
    paths = write_fits(tmp_path, stack, masks)
    expected = clipped_mean_reference(stack.astype(np.float32), masks != 0)
    options: list[dict[str, Any]] = [{}, {"threads": 1, "strip_rows": 7}]
    for kwargs in options:
        result = clipped_mean_files(paths, mask_hdu="MASK", **kwargs)
        np.testing.assert_array_equal(result.mean, expected.mean)
        np.testing.assert_array_equal(result.n_used, expected.n_used)
        np.testing.assert_array_equal(result.stdev, expected.stdev)
    lean = clipped_mean_files(paths, mask_hdu="MASK", with_stdev=False)
    assert lean.stdev_or_none is None
    np.testing.assert_array_equal(lean.mean, expected.mean)


@pytest.mark.skipif(
    importlib.util.find_spec("numba") is None or bool(os.environ.get("TS_CALIBRATIONS_NO_NUMBA")),
    reason="the numpy fallback reads files through strip buffers",
)
def test_files_read_in_place_without_copies(tmp_path: pathlib.Path) -> None:
    """Combining float32 files allocates the result and nothing of the stack's size."""
    stack = noisy_stack(20, (400, 300), seed=17)
    paths = write_fits(tmp_path, stack)
    clipped_mean_files(paths[:3])  # compile outside the measurement
    tracemalloc.start()
    try:
        result = clipped_mean_files(paths, strip_rows=200)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    result_bytes = result.mean.nbytes + result.n_used.nbytes + result.stdev.nbytes
    # astropy's HDU objects take about 20 kB a file; three 200-row strip buffers would take 1.5 x the stack
    assert peak - result_bytes < 0.1 * stack.nbytes
    np.testing.assert_array_equal(result.mean, clipped_mean(stack).mean)


@pytest.mark.parametrize("combine", IMPLEMENTATIONS)
def test_pass_keeping_nothing_ends_the_clipping(combine: Combine) -> None:
    """A first pass narrower than the gap around the median keeps nothing: NaN, 0 values used."""
    stack = np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32).reshape(4, 1, 1)
    result = combine(stack, nsigma=0.01)
    assert np.isnan(result.mean[0, 0]) and result.n_used[0, 0] == 0 and np.isnan(result.stdev[0, 0])
    assert scalar_clipped_mean(stack[:, 0, 0], nsigma=0.01)[1] == 0


@pytest.mark.parametrize("combine", IMPLEMENTATIONS)
def test_many_passes_equal_the_plain_definition(combine: Combine) -> None:
    """Heavy-tailed values need many passes; every pixel matches the plain per-pixel loop."""
    rng = np.random.default_rng(18)
    stack = (100 + 3 * rng.standard_t(2, size=(15, 6, 70))).astype(np.float32)
    for n_iter in (1, 2, 10):
        result = combine(stack, n_iter=n_iter, nsigma=2.0)
        for r in range(stack.shape[1]):
            for c in range(stack.shape[2]):
                mean, count, stdev = scalar_clipped_mean(stack[:, r, c], nsigma=2.0, n_iter=n_iter)
                assert result.n_used[r, c] == count
                assert result.mean[r, c] == pytest.approx(mean, rel=1e-6)
                assert result.stdev[r, c] == pytest.approx(stdev, rel=1e-5, abs=1e-5)
