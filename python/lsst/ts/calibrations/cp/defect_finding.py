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

"""Defect finding on processed darks and flats, per amplifier (cp_pipe's rules).

Per amplifier, with ``m`` the clipped mean and ``σ`` the clipped standard
deviation of the good pixels:

* dark (bias-subtracted, electrons): hot where ``x - m > 4.8 σ`` or where
  the dark current ``x / darkTime`` exceeds 3 e⁻/s;
* flat: hot where ``x - m > 4.8 σ``; cold where ``x - m < -5 σ`` or
  ``x < 0.9 m``;
* in a column of an amplifier with at least the column threshold of defect
  pixels, the rows between its defect pixels are filled, except across runs
  of at least the gap threshold of good pixels (cp_pipe's
  ``badPixelsToFillColumnThreshold`` 50 and ``goodPixelColumnGapThreshold``
  30, for 2000-row amplifiers). Both scale with the amplifier's rows,
  ``max(3, round(50 × ny / 2000))`` and ``max(2, round(30 × ny / 2000))``
  (6 and 4 for the 256-row reduced geometry), so the rules behave alike on
  reduced geometries.

The per-exposure masks are merged per image type by vote (a pixel is bad
when it is bad in at least 70% of that type's exposures, which drops
cosmic rays) and the types are OR'ed.
"""

__all__ = [
    "DefectThresholds",
    "column_gap_threshold",
    "column_threshold",
    "find_amp_defects",
    "fill_columns",
    "find_defects",
    "merge_defect_masks",
]

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..repo.camera import AmpGeometry, Camera
from ..repo.images import Exposure
from .amp_areas import amp_areas
from .clipped_statistics import clipped_statistics

KINDS = ("dark", "flat")


@dataclasses.dataclass(frozen=True)
class DefectThresholds:
    """Thresholds of the defect search (cp_pipe's ComCam values by default).

    Parameters
    ----------
    hot_nsigma : `float`
        Hot pixels: clipped standard deviations above the clipped mean.
    cold_nsigma : `float`
        Cold pixels in flats: clipped standard deviations below the mean.
    dark_current_threshold : `float`
        Hot pixels in darks: dark current above this (e⁻/s).
    flat_cold_fraction : `float`
        Cold pixels in flats: below this fraction of the clipped mean.
    column_pixels_full : `int`
        Defect pixels in an amplifier column that make it a bad column
        (filled between its defect pixels), for 2000-row amplifiers.
    column_gap_full : `int`
        Good pixels in a row that stop the filling, for 2000-row amplifiers.
    vote_fraction : `float`
        Fraction of one type's exposures in which a pixel must be bad.
    """

    hot_nsigma: float = 4.8
    cold_nsigma: float = 5.0
    dark_current_threshold: float = 3.0
    flat_cold_fraction: float = 0.9
    column_pixels_full: int = 50
    column_gap_full: int = 30
    vote_fraction: float = 0.7

    def __post_init__(self) -> None:
        for name in (
            "hot_nsigma",
            "cold_nsigma",
            "dark_current_threshold",
            "column_pixels_full",
            "column_gap_full",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"DefectThresholds.{name}={getattr(self, name)} must be > 0.")
        for name in ("flat_cold_fraction", "vote_fraction"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"DefectThresholds.{name}={getattr(self, name)} must be in (0, 1].")


def column_threshold(ny: int, column_pixels_full: int = 50) -> int:
    """Defect pixels in one amplifier column that make the column bad.

    Parameters
    ----------
    ny : `int`
        Data rows of an amplifier.
    column_pixels_full : `int`, optional
        The threshold for 2000-row (full ITL) amplifiers.

    Returns
    -------
    threshold : `int`
        ``max(3, round(column_pixels_full × ny / 2000))``.
    """
    return max(3, int(round(column_pixels_full * ny / 2000)))


def column_gap_threshold(ny: int, column_gap_full: int = 30) -> int:
    """Consecutive good pixels that stop the filling of a bad column.

    Parameters
    ----------
    ny : `int`
        Data rows of an amplifier.
    column_gap_full : `int`, optional
        The threshold for 2000-row (full ITL) amplifiers.

    Returns
    -------
    threshold : `int`
        ``max(2, round(column_gap_full × ny / 2000))``.
    """
    return max(2, int(round(column_gap_full * ny / 2000)))


def fill_columns(bad: np.ndarray, min_pixels: int, min_gap: int) -> np.ndarray:
    """Fill the bad columns of an amplifier's defect mask, in place.

    Parameters
    ----------
    bad : `numpy.ndarray`
        Boolean defect mask (rows, columns).
    min_pixels : `int`
        Defect pixels that make a column bad.
    min_gap : `int`
        Consecutive good pixels that are left unfilled.

    Returns
    -------
    bad : `numpy.ndarray`
        The same array.
    """
    for x in np.flatnonzero(np.count_nonzero(bad, axis=0) >= min_pixels):
        rows = np.flatnonzero(bad[:, x])
        gaps = np.diff(rows) - 1
        for start, stop, gap in zip(rows[:-1], rows[1:], gaps):
            if 0 < gap < min_gap:
                bad[start:stop, x] = True
    return bad


def find_amp_defects(
    image: np.ndarray,
    good: np.ndarray,
    kind: str,
    *,
    dark_time: float = 1.0,
    thresholds: DefectThresholds = DefectThresholds(),
) -> np.ndarray:
    """Defect pixels of one amplifier.

    Parameters
    ----------
    image : `numpy.ndarray`
        The amplifier's pixels (rows, columns): electrons for a dark, any
        unit for a flat.
    good : `numpy.ndarray`
        Boolean, pixels usable for the statistics and the search.
    kind : `str`
        ``"dark"`` or ``"flat"``.
    dark_time : `float`, optional
        Dark time (s) of a dark (1 for a dark already in e⁻/s).
    thresholds : `DefectThresholds`, optional
        Thresholds.

    Returns
    -------
    defects : `numpy.ndarray`
        Boolean mask of the amplifier, bad columns filled.

    Raises
    ------
    ValueError
        Raised if ``kind`` is unknown, ``dark_time`` is not positive or the
        amplifier has too few good pixels for statistics.
    """
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} must be one of {KINDS}.")
    if kind == "dark" and not dark_time > 0:
        raise ValueError(f"dark_time={dark_time} must be > 0 s for a dark.")
    stats = clipped_statistics(image, good)
    if not math.isfinite(stats.mean) or not math.isfinite(stats.stdev):
        raise ValueError(f"Only {stats.n_used} good pixels in the amplifier: too few to find defects.")
    with np.errstate(invalid="ignore"):
        deviation = image - stats.mean
        bad = deviation > thresholds.hot_nsigma * stats.stdev
        if kind == "dark":
            bad |= image / dark_time > thresholds.dark_current_threshold
        else:
            bad |= deviation < -thresholds.cold_nsigma * stats.stdev
            bad |= image < thresholds.flat_cold_fraction * stats.mean
    bad &= good & np.isfinite(image)
    ny = image.shape[0]
    return fill_columns(
        bad,
        column_threshold(ny, thresholds.column_pixels_full),
        column_gap_threshold(ny, thresholds.column_gap_full),
    )


def find_defects(
    exposure: Exposure,
    kind: str,
    *,
    dark_time: float = 1.0,
    thresholds: DefectThresholds = DefectThresholds(),
) -> np.ndarray:
    """Defect pixels of an assembled detector, found amplifier by amplifier.

    Parameters
    ----------
    exposure : `~lsst.ts.calibrations.repo.images.Exposure`
        A processed (ISR) or combined dark or flat.
    kind, dark_time, thresholds
        As for `find_amp_defects`.

    Returns
    -------
    defects : `numpy.ndarray`
        Boolean mask of the detector.
    """
    detector = exposure.detector
    if detector is None:
        raise ValueError("The exposure has no DETECTOR in its metadata: its amplifiers are unknown.")
    rows, cols = exposure.shape
    geometry = AmpGeometry(nx=cols // 8, ny=rows // 2, name="custom")
    areas = amp_areas(exposure, detector)
    mask = np.zeros(exposure.shape, dtype=bool)
    for amp in Camera.of_metadata(exposure.metadata)[int(detector)].amps:
        area = areas[amp.name]
        mask[amp.detector_slice(geometry)] = find_amp_defects(
            area.image, area.good, kind, dark_time=dark_time, thresholds=thresholds
        )
    return mask


def merge_defect_masks(
    masks: Sequence[np.ndarray], kinds: Sequence[str], vote_fraction: float = 0.7
) -> tuple[np.ndarray, Mapping[str, int]]:
    """Merge per-exposure defect masks: vote per image type, then OR the types.

    Parameters
    ----------
    masks : `~collections.abc.Sequence` [`numpy.ndarray`]
        Boolean masks of one detector, one per exposure.
    kinds : `~collections.abc.Sequence` [`str`]
        Image type of each mask (``"dark"`` or ``"flat"``).
    vote_fraction : `float`, optional
        Fraction of a type's masks in which a pixel must be bad.

    Returns
    -------
    merged : `numpy.ndarray`
        Boolean mask of the detector.
    counts : `~collections.abc.Mapping` [`str`, `int`]
        Number of masks of each type.

    Raises
    ------
    ValueError
        Raised if there are no masks, the lengths differ, a kind is unknown
        or the shapes differ.
    """
    if len(masks) == 0:
        raise ValueError("masks is empty: give at least one partial defect mask.")
    if len(masks) != len(kinds):
        raise ValueError(f"kinds has {len(kinds)} entries; it must have one per mask ({len(masks)}).")
    shape = masks[0].shape
    merged = np.zeros(shape, dtype=bool)
    counts: dict[str, int] = {}
    for kind in sorted(set(kinds)):
        if kind not in KINDS:
            raise ValueError(f"kinds contains {kind!r}; each must be one of {KINDS}.")
        members = [mask for mask, k in zip(masks, kinds) if k == kind]
        votes = np.zeros(shape, dtype=np.int32)
        for mask in members:
            if mask.shape != shape:
                raise ValueError(f"A {kind} mask has shape {mask.shape}; all must have {shape}.")
            votes += mask
        needed = max(1, math.ceil(vote_fraction * len(members) - 1e-9))
        merged |= votes >= needed
        counts[kind] = len(members)
    return merged, counts
