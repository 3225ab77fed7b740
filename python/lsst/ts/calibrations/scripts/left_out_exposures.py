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

"""LeftOutExposures: the kept exposures of a run, those left out of processing, and why.

An exposure is left out when its ingest failed, when it never reached the
OODS, or when its processing failed for a detector; the rest are processed
as long as they can still make the product (`shortfall`):

* a combined calibration (bias, dark, flat, defects) needs at least
  `MIN_TO_COMBINE` exposures of each image type it uses (or all of them,
  if fewer were planned); a verification alone needs one;
* gains need at least one pair of consecutive flats of equal exposure
  time; the PTC needs `MIN_PTC_PAIRS` pairs at `MIN_PTC_TIMES` distinct
  times (or as many as were planned).
"""

from __future__ import annotations

__all__ = ["LeftOutExposures"]

import typing
from collections.abc import Sequence

from .calibration_product import CalibrationProduct
from .plan_rules import MIN_PTC_PAIRS, MIN_PTC_TIMES, pair_flats

if typing.TYPE_CHECKING:
    from .calibration_plan import CalibrationPlan
    from .processing_step import ProcessingStep

MIN_TO_COMBINE = 2
"""Exposures of an image type a combined calibration needs at least."""


class LeftOutExposures:
    """The kept exposures of a run and those left out of processing (see the module documentation).

    Parameters
    ----------
    plan : `CalibrationPlan`
        The run's plan: the number and exposure times of the kept exposures
        of each image type.

    Attributes
    ----------
    kept : `dict` [`str`, `list` [`int`]]
        Kept exposure ids per image type, in the order taken (left-out ones
        included).
    reasons : `dict` [`str`, `dict` [`int`, `str`]]
        Per image type, each exposure left out and why.
    """

    def __init__(self, plan: CalibrationPlan) -> None:
        self.plan = plan
        self.kept: dict[str, list[int]] = {}
        self.reasons: dict[str, dict[int, str]] = {}

    def add_kept(self, image_type: str, exposure: int) -> None:
        """Record a kept exposure (in the order taken)."""
        ids = self.kept.setdefault(str(image_type), [])
        if exposure not in ids:
            ids.append(int(exposure))

    def leave_out(self, image_type: str, exposure: int, reason: str) -> bool:
        """Leave an exposure out of processing; return False if it already was.

        Parameters
        ----------
        image_type : `str`
            BIAS, DARK or FLAT.
        exposure : `int`
            The exposure id (a kept one).
        reason : `str`
            Why, e.g. "ingest failed: ...".
        """
        reasons = self.reasons.setdefault(str(image_type), {})
        if exposure in reasons:
            return False
        self.add_kept(image_type, exposure)
        reasons[int(exposure)] = reason
        return True

    def is_left_out(self, exposure: int) -> bool:
        """Is this exposure left out?"""
        return any(exposure in reasons for reasons in self.reasons.values())

    def remaining(self, image_type: str, exposures: Sequence[int] | None = None) -> list[int]:
        """The exposures of an image type not left out (of ``exposures``, or of the kept ones)."""
        reasons = self.reasons.get(str(image_type), {})
        ids = self.kept.get(str(image_type), []) if exposures is None else exposures
        return [e for e in ids if e not in reasons]

    def image_type_of(self, exposure: int) -> str | None:
        """The image type of a kept exposure, or None."""
        for image_type, ids in self.kept.items():
            if exposure in ids:
                return image_type
        return None

    def _planned(self, image_type: str) -> tuple[int, tuple[float, ...]]:
        """Planned number and exposure times of the kept exposures of an image type."""
        try:
            sequence = self.plan.sequence(image_type)
        except KeyError:
            ids = self.kept.get(str(image_type), [])
            return len(ids), (0.0,) * len(ids)
        return sequence.n, sequence.kept_times

    def _remaining_times(self, image_type: str) -> list[float]:
        """Exposure times of the planned kept exposures not left out, in order."""
        n, times = self._planned(image_type)
        ids = self.kept.get(str(image_type), [])
        reasons = self.reasons.get(str(image_type), {})
        return [times[i] for i in range(n) if not (i < len(ids) and ids[i] in reasons)]

    def shortfall(self, step: ProcessingStep) -> str:
        """Why the exposures left can no longer make a step's product ("" if they can).

        Exposures not taken yet count as good.
        """
        if not any(self.reasons.get(str(t)) for t in step.images):
            return ""
        if step.name in (CalibrationProduct.GAIN, CalibrationProduct.PTC):
            flats = str(step.images[-1])
            _, planned_times = self._planned(flats)
            times = self._remaining_times(flats)
            pairs, _ = pair_flats(times)
            levels = {times[i] for i, _ in pairs}
            if step.name == CalibrationProduct.GAIN:
                need, have, what = 1, len(pairs), "pair(s) of consecutive flats of equal exposure time"
            else:
                planned_pairs, _ = pair_flats(planned_times)
                need_pairs = min(MIN_PTC_PAIRS, len(planned_pairs))
                need = min(MIN_PTC_TIMES, len({planned_times[i] for i, _ in planned_pairs}))
                have, what = len(levels), "distinct exposure time(s) of flat pairs"
                if len(pairs) < need_pairs:
                    need, have, what = (
                        need_pairs,
                        len(pairs),
                        "pair(s) of consecutive flats of equal exposure time",
                    )
            if have >= need:
                return ""
            return (
                f"{self._left_out_text(flats)}: {have} {what} left, {need} needed for "
                f"{'the gains' if step.name == CalibrationProduct.GAIN else 'the PTC'}"
            )
        for image_type in step.images:
            n, _ = self._planned(image_type)
            left = len(self._remaining_times(image_type))
            need = min(MIN_TO_COMBINE, n) if step.generate else min(1, n)
            if left < need:
                return (
                    f"{self._left_out_text(image_type)}: {left} of {n} {image_type} exposure(s) left, "
                    f"{need} needed to {'combine' if step.generate else 'verify'}"
                )
        return ""

    def _left_out_text(self, image_type: str) -> str:
        ids = sorted(self.reasons.get(str(image_type), {}))
        return f"{image_type} exposure(s) {', '.join(str(i) for i in ids)} left out"

    def describe(self) -> list[str]:
        """One line per exposure left out: "BIAS 2024102400002: <why>"."""
        return [
            f"{image_type} {exposure}: {reason}"
            for image_type, reasons in self.reasons.items()
            for exposure, reason in reasons.items()
        ]

    def to_dict(self) -> dict[str, dict[int, str]]:
        """Per image type, each exposure left out and why (a copy)."""
        return {image_type: dict(reasons) for image_type, reasons in self.reasons.items() if reasons}
