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
"""QueueCapacityChecker: warn as a bounded queue fills, once per level."""

__all__ = ["QueueCapacityChecker"]

import logging

from ..base import MIN_QUEUE_LEN


class QueueCapacityChecker:
    """Log a warning each time a bounded queue, which should hold at most
    one item, fills past a new level; an error when it is full.

    Parameters
    ----------
    descr : `str`
        What the queue is, for the messages (e.g. "evt_scalars read queue").
    log : `logging.Logger`
        Where to log.
    queue_len : `int`
        Capacity of the queue (at least `MIN_QUEUE_LEN`).

    Attributes
    ----------
    warn_thresholds : `tuple` [`int`, ...]
        Fill levels that are reported, ascending: about a tenth of the
        queue (between 5 and 10 items), half (if ``queue_len`` >= 20),
        nine tenths and full.
    warn_threshold : `int` or `None`
        The next level to report; None once full.
    reset_threshold : `int` or `None`
        When the queue drains to this many items or fewer, the levels
        above are armed again (half of the last level reported); None
        while nothing was reported.

    Raises
    ------
    ValueError
        If ``queue_len`` < `MIN_QUEUE_LEN`.
    """

    def __init__(self, descr: str, log: logging.Logger, queue_len: int) -> None:
        if queue_len < MIN_QUEUE_LEN:
            raise ValueError(f"queue_len={queue_len} must be >= MIN_QUEUE_LEN={MIN_QUEUE_LEN}")
        self.descr = descr
        self.log = log
        self.queue_len = queue_len
        levels = {min(10, max(5, queue_len // 10)), queue_len * 9 // 10, queue_len}
        if queue_len >= 20:
            levels.add(queue_len // 2)
        self.warn_thresholds = tuple(sorted(levels))
        self._reset_levels = tuple(level // 2 for level in self.warn_thresholds)
        self.warn_threshold: int | None = self.warn_thresholds[0]
        self.reset_threshold: int | None = None

    def check_nitems(self, nitems: int) -> bool:
        """Check the number of queued items; log if it reached a new level.

        Parameters
        ----------
        nitems : `int`
            Number of items in the queue now.

        Returns
        -------
        did_log : `bool`
            True if a message was logged.
        """
        if self.warn_threshold is not None and nitems >= self.warn_threshold:
            if nitems >= self.queue_len:
                self.warn_threshold = None
                self.reset_threshold = self._reset_levels[-1]
                self.log.error(f"{self.descr} is full ({self.queue_len} elements); data may be lost")
            else:
                # Levels reached so far; the next one becomes the warning level.
                reached = sum(1 for level in self.warn_thresholds if level <= nitems)
                self.warn_threshold = self.warn_thresholds[reached]
                self.reset_threshold = self._reset_levels[reached - 1]
                self.log.warning(f"{self.descr} is filling: {nitems} of {self.queue_len} elements")
            return True
        if self.reset_threshold is not None and nitems <= self.reset_threshold:
            # Re-arm every level whose half is at least the current count.
            still_reached = sum(1 for level in self._reset_levels if level < nitems)
            self.warn_threshold = self.warn_thresholds[still_reached]
            self.reset_threshold = self._reset_levels[still_reached - 1] if still_reached > 0 else None
        return False
