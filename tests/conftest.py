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


"""Session settings of the whole test suite.

Shared fixtures live in the ``fixtures`` package beside this file and
reach every test as plugins (``pytest_plugins`` below): the timeout policy
(`fixtures.timeouts`, which also scales pytest-timeout's limits) and the
session-scoped simulated repositories (`fixtures.repositories`). See
``doc/testing.rst``.

The SAL transport defaults to DDS everywhere (``Domain()``, script
executables, ``run_one_script``), as a unit test written for salobj
expects. This suite builds most components in one process, where the
in-process bus is faster and keeps tests apart, so it chooses
``LSST_SAL_TRANSPORT=local`` unless the variable is already set
(``LSST_SAL_TRANSPORT=dds bin/run-tests`` runs the suite over DDS). Tests
that start processes choose DDS themselves (a ``dds_env`` fixture, or the
child's environment without the variable). Each test process has its own
isolation name (``LSST_TOPIC_SUBNAME``) unless one is set, so nothing it
starts shares topics with other runs on the machine.
"""

import os

from lsst.ts.calibrations.sal.isolation import ensure_isolation_name

os.environ.setdefault("LSST_SAL_TRANSPORT", "local")
# Every process a test starts without a name of its own talks on this test
# process's private topics, never on the machine's default ones, where another
# test run, a benchmark or a bin/run-daily-default could hear it.
ensure_isolation_name("pytest")

pytest_plugins = [
    "fixtures.timeouts",
    "fixtures.repositories",
    "fixtures.scheduling",
    "fixtures.script_runs",
    "postgres_fixture",
]
