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

"""The panel's CHECK of a configuration when the script never starts: the
check fails and says why (the script's own error output, or that it never
reported UNCONFIGURED)."""

import pathlib

from lsst.ts.calibrations.queue.web.config_check import ConfigCheck


async def test_a_script_that_dies_at_start(dds_env: str, tmp_path: pathlib.Path) -> None:
    script = tmp_path / "dies.py"
    script.write_text(
        "import sys\nsys.stderr.write('ImportError: no module named lsst.ts.nosuch\\n')\nsys.exit(1)\n"
    )
    check = await ConfigCheck.run(script, "wait_time: 1\n", index=970_901)
    assert not check.ok
    assert check.state == ""
    assert check.reason == "ImportError: no module named lsst.ts.nosuch\n"
    assert check.elapsed > 0


async def test_a_script_that_exits_quietly(dds_env: str, tmp_path: pathlib.Path) -> None:
    script = tmp_path / "quiet.py"
    script.write_text("raise SystemExit(0)\n")
    check = await ConfigCheck.run(script, "", index=970_902)
    assert not check.ok
    assert check.reason == "the script did not start (no UNCONFIGURED state)"
