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

"""Calibration health over time: per amplifier and per night, what the runs in a repository measured.

`build_trends` reads a repository's runs once (`TrendData`) and writes one
self-contained HTML page of time series, bands of recent nights, the latest
change per amplifier and the verification verdicts; ``calibration_trends``
(``python -m lsst.ts.calibrations.trends``) does the same from a shell.
"""

from .build_trends import *
from .trend_data import *
from .trend_figure import *
from .trend_point import *
from .trends_command import *
