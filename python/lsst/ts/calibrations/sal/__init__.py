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

"""A SAL runtime with the API and semantics of ts_salobj 8."""

from ..version import __version__
from .async_s3_bucket import *
from .base import *
from .base_config_test_case import *
from .base_csc import *
from .base_csc_test_case import *
from .base_script import *
from .component_info import *
from .config_schema import *
from .configurable_csc import *
from .controller import *
from .csc_commander import *
from .defaulting_validator import *
from .domain import *
from .field_info import *
from .heartbeat_monitor import *
from .hierarchical_update import *
from .isolation import *
from .local_transport import *
from .make_mock_write_topics import *
from .remote import *
from .sal_info import *
from .sal_log_handler import *
from .set_summary_state import *
from .stop_signals import *
from .testcsc import *
from .testcsccommander import *
from .testscript import *
from .testutils import *
from .topic_info import *
from .topics import *
from .transport import *
from .transport_choice import *
from .type_hints import *
