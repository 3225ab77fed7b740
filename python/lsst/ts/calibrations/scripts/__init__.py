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

"""The calibration scripts (ts_externalscripts): BaseMakeCalibrations and one subclass per instrument."""

from .base_make_calibrations import *
from .calibration_plan import *
from .calibration_processor import *
from .calibration_schema import *
from .certification_record import *
from .config_options import *
from .exposure_sequence import *
from .gain_report import *
from .incremental_jobs import *
from .job_runner import *
from .left_out_exposures import *
from .make_comcam_calibrations import *
from .make_latiss_calibrations import *
from .make_lsstcam_calibrations import *
from .not_enough_exposures_error import *
from .ocps_client import *
from .ocps_job_result import *
from .pipeline_split import *
from .processing_job import *
from .processing_step import *
from .product_outcome import *
from .publish_report import *
from .repository_checks import *
from .run_record import *
