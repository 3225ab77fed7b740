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

"""ProductOutcome: what became of one product of a calibration run."""

from __future__ import annotations

__all__ = ["ProductOutcome", "ProductStatus"]

import dataclasses
import enum

from ..repo.verification_verdict import VerificationVerdict


class ProductStatus(enum.StrEnum):
    """State of a product of a run."""

    PENDING = "pending"
    """Not finished (the run ended, was stopped, or failed before); the reason says which."""
    CERTIFIED = "certified"
    """Generated (and verified, if asked) and certified."""
    VERIFIED = "verified"
    """Images verified against existing calibrations; nothing to certify."""
    VERIFICATION_FAILED = "verification failed"
    """Verification found more failures than the threshold allows."""
    MEASURED = "measured"
    """Gains measured from flat pairs (never certified)."""
    TAKEN = "taken"
    """Images taken; neither generation nor verification asked."""
    FAILED = "failed"
    """A job or the certification failed."""
    BLOCKED = "not generated"
    """Not made because a product it needs was not certified."""


@dataclasses.dataclass
class ProductOutcome:
    """What became of one product (BIAS, DARK, FLAT, DEFECTS, PTC, GAIN).

    Parameters
    ----------
    name : `str`
        The product.
    status : `ProductStatus`
        Its state.
    reason : `str`
        Why (for failures, blocks and verdicts).
    jobs : `dict` [`str`, `str`]
        OCPS job ids by step ("generate", "verify", "measure").
    collections : `dict` [`str`, `str`]
        Output collections by step.
    certified_into : `str`
        CALIBRATION collection it was certified into ("" if not).
    validity : `tuple` [`str`, `str`] or `None`
        Validity range [begin, end) of the certification.
    certified_at : `str`
        When it was certified (ISO, UTC; "" if not).
    verdict : `VerificationVerdict` or `None`
        The verdict of the verification job (`None` if not verified).
    """

    name: str
    status: ProductStatus = ProductStatus.PENDING
    reason: str = ""
    jobs: dict[str, str] = dataclasses.field(default_factory=dict)
    collections: dict[str, str] = dataclasses.field(default_factory=dict)
    certified_into: str = ""
    validity: tuple[str, str] | None = None
    certified_at: str = ""
    verdict: VerificationVerdict | None = None

    def describe(self) -> str:
        """One line for the end-of-run summary."""
        text = f"{self.name}: {self.status.value}"
        if self.certified_into and self.validity is not None:
            text += f" into {self.certified_into}, valid [{self.validity[0]}, {self.validity[1]})"
        if self.jobs:
            text += "; jobs " + ", ".join(f"{step} {job_id}" for step, job_id in self.jobs.items())
        if self.reason:
            text += f"; {self.reason}"
        return text
