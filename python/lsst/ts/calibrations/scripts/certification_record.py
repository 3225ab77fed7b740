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

"""CertificationRecord: one certification a calibration run made."""

from __future__ import annotations

__all__ = ["CertificationRecord"]

import dataclasses


@dataclasses.dataclass(frozen=True)
class CertificationRecord:
    """One certification of a run: which datasets went where, valid when.

    Parameters
    ----------
    dataset_type : `str`
        Dataset type certified, e.g. "bias".
    collection : `str`
        The CALIBRATION collection certified into.
    begin, end : `str`
        Validity range [begin, end) (ISO dates or times, TAI).
    input_collection : `str`
        The collection the datasets were found in (the generation job's output).
    detectors : `tuple` [`int`, ...]
        Detectors of the run.
    time : `str`
        When it was made (ISO, UTC; "" if not known).
    """

    dataset_type: str
    collection: str
    begin: str
    end: str
    input_collection: str = ""
    detectors: tuple[int, ...] = ()
    time: str = ""
