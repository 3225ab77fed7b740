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

"""ExposureSequence: the exposures of one image type, discards first."""

from __future__ import annotations

__all__ = ["ExposureSequence"]

import dataclasses
import math
import typing
from collections.abc import Sequence

from ..repo.image_type import ImageType


@dataclasses.dataclass(frozen=True)
class ExposureSequence:
    """The exposures of one image type, in the order they are taken.

    Parameters
    ----------
    image_type : `ImageType`
        BIAS, DARK or FLAT.
    n : `int`
        Number of exposures kept (processed).
    n_discard : `int`
        Number of exposures taken first and discarded.
    exposure_times : `tuple` [`float`, ...]
        Exposure time (s) of every exposure taken, discards first; length
        ``n + n_discard``. Biases have 0.
    """

    image_type: ImageType
    n: int
    n_discard: int
    exposure_times: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.exposure_times) != self.n + self.n_discard:
            raise ValueError(
                f"{self.image_type.value}: {len(self.exposure_times)} exposure times for "
                f"n={self.n} + n_discard={self.n_discard} exposures."
            )

    @property
    def total(self) -> int:
        """Number of exposures taken (``n + n_discard``)."""
        return self.n + self.n_discard

    @property
    def discard_times(self) -> tuple[float, ...]:
        """Exposure times (s) of the discarded exposures."""
        return self.exposure_times[: self.n_discard]

    @property
    def kept_times(self) -> tuple[float, ...]:
        """Exposure times (s) of the kept exposures."""
        return self.exposure_times[self.n_discard :]

    @classmethod
    def from_options(
        cls, image_type: ImageType, n: int, n_discard: int, exp_times: float | Sequence[float] | None
    ) -> ExposureSequence:
        """Build the sequence from the configuration options.

        Parameters
        ----------
        image_type : `ImageType`
            BIAS, DARK or FLAT (its option names are in the messages).
        n, n_discard : `int`
            Numbers of exposures kept and discarded.
        exp_times : `float`, sequence of `float`, or `None`
            A single exposure time for every exposure; a list of ``n``
            times (the discards reuse the first); or a list of
            ``n + n_discard`` times, the discards' first. `None` for biases
            (exposure time 0).

        Returns
        -------
        sequence : `ExposureSequence`
            The sequence.

        Raises
        ------
        ValueError
            If a list has another length (the message names the options and
            both acceptable lengths), or a time is not a finite number >= 0.
        """
        names = image_type.options
        option = names.exp_times or names.n
        if exp_times is None:
            times: list[float] = [0.0] * (n + n_discard)
        elif isinstance(exp_times, int | float) and not isinstance(exp_times, bool):
            times = [float(exp_times)] * (n + n_discard)
        elif isinstance(exp_times, Sequence):
            values = [float(value) for value in exp_times]
            if len(values) == n + n_discard:
                times = values
            elif len(values) == n and values:
                times = [values[0]] * n_discard + values
            else:
                lengths = f"{n}"
                if n_discard:
                    lengths = (
                        f"{n} ({names.n}) or {n + n_discard} ({names.n} + {names.n_discard}, "
                        f"the first {n_discard} for the discarded images)"
                    )
                raise ValueError(
                    f"{option} has {len(values)} entries, but with {names.n}={n} and "
                    f"{names.n_discard}={n_discard} it must be a single value or a list of {lengths} "
                    "entries; "
                    f"change {option}, or set {names.n} to the number of exposures wanted (or leave it "
                    "out: then it follows the length of the list)."
                )
        else:
            raise ValueError(f"{option}={exp_times!r} must be a number of seconds or a list of them.")
        for value in times:
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{option}: exposure time {value} must be a finite number of seconds >= 0.")
        return cls(image_type=image_type, n=n, n_discard=n_discard, exposure_times=tuple(times))

    @classmethod
    def from_exposures(cls, image_type: ImageType, exposure_times: Sequence[float]) -> ExposureSequence:
        """The sequence of exposures already taken (reprocessing): all kept, none discarded."""
        return cls(
            image_type=image_type,
            n=len(exposure_times),
            n_discard=0,
            exposure_times=tuple(float(t) for t in exposure_times),
        )

    def to_dict(self) -> dict[str, typing.Any]:
        """Return a JSON-compatible dict of the fields."""
        return {**dataclasses.asdict(self), "exposure_times": list(self.exposure_times)}
