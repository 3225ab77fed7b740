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

"""The calibration run report: pictures and tables of a run's calibrations, checks and timeline.

`build_report` reads a run's products from the butler (and the script's run
record) and writes one self-contained HTML page with its PNG figures;
``python -m lsst.ts.calibrations.report`` does the same from a shell.
"""

from .amp_heat_map import *
from .build_report import *
from .calibration_image import *
from .figure_png import *
from .focal_plane import *
from .mosaic_figure import *
from .ptc_figure import *
from .raft_overlay import *
from .raft_summary import *
from .report_command import *
from .report_data import *
from .report_page import *
from .run_timeline import *
from .timeline_event import *
from .timeline_figure import *
from .verification_sections import *
