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


"""The trends command's refusals and its process, without a repository to read."""

import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.timeouts import PROCESS_TIMEOUT
from lsst.ts.calibrations.trends.trends_command import main as trends_main


@pytest.mark.slow
def test_command_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The refusals of the arguments, by the command's function (argparse exits with 2), before
    # any repository is read; the page of a real repository is built by the same function in
    # test_trends_week.py.
    base = ["--repo", str(tmp_path / "none"), "--out", str(tmp_path)]
    for extra, message in (
        (["--since", "2024-13-01"], "is not a date"),
        (["--since", "2024-10-05", "--until", "2024-10-01"], "is after --until"),
        (["--threshold", "0"], "--threshold"),
    ):
        with pytest.raises(SystemExit) as exc_info:
            trends_main([*base, *extra])
        stderr = capsys.readouterr().err
        assert exc_info.value.code == 2 and message in stderr, stderr
    # The command's process (``python -m``) reports a repository it cannot read with exit code 1.
    missing = subprocess.run(
        [sys.executable, "-m", "lsst.ts.calibrations.trends", *base],
        capture_output=True, text=True, timeout=PROCESS_TIMEOUT,
    )  # fmt: skip
    assert missing.returncode == 1 and "Cannot build the trends page" in missing.stderr
    assert not (tmp_path / "trends.html").exists()
