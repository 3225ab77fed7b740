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

"""Exposure ids of LSSTComCam: ``day_obs * 100000 + seq_num`` (obs_lsst's formula).

``make_exposure_id(day_obs, seq_num) -> int``
    The exposure id, e.g. ``make_exposure_id(20241024, 123) == 2024102400123``.
``split_exposure_id(exposure_id) -> tuple[int, int]``
    The inverse: ``(day_obs, seq_num)``.

The one place the formula is written for the layers that may import
``repo`` (ingest, the ISR's metadata, the simulator). The camera control
classes (``observatory``, which imports only the SAL runtime) convert
between an exposure id and the SAL image name ``CC_O_YYYYMMDD_NNNNNN`` as
text; a test pins them to these functions.
"""

__all__ = ["MAX_SEQ_NUM", "make_exposure_id", "split_exposure_id"]

MAX_SEQ_NUM = 99_999
"""Largest sequence number of a day_obs."""

_SEQ_NUM_SPAN = MAX_SEQ_NUM + 1


def make_exposure_id(day_obs: int, seq_num: int) -> int:
    """Return the exposure id of a day_obs and sequence number.

    Parameters
    ----------
    day_obs : `int`
        Observing day, YYYYMMDD.
    seq_num : `int`
        Sequence number in that day, 0 ... `MAX_SEQ_NUM`.

    Returns
    -------
    exposure_id : `int`
        ``day_obs * 100000 + seq_num``.

    Raises
    ------
    ValueError
        If ``seq_num`` is out of range.
    """
    if not 0 <= int(seq_num) <= MAX_SEQ_NUM:
        raise ValueError(f"seq_num={seq_num} must be in 0-{MAX_SEQ_NUM}")
    return int(day_obs) * _SEQ_NUM_SPAN + int(seq_num)


def split_exposure_id(exposure_id: int) -> tuple[int, int]:
    """Return ``(day_obs, seq_num)`` of an exposure id (see `make_exposure_id`)."""
    day_obs, seq_num = divmod(int(exposure_id), _SEQ_NUM_SPAN)
    return day_obs, seq_num
