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

"""run_one_script's refusals in this process: a script file that is not
Python, that fails on import (and leaves no half-imported module), that
is missing (exit code 1 with the reason; the traceback too at debug
level), a parameter that is not YAML, and index 0."""

import pathlib
import sys

import pytest

from lsst.ts.calibrations.sal.run_one_script import load_script_class, main, parse_args, run_one_script

SCRIPTS_DIR = pathlib.Path(__file__).parent.parent / "data" / "scripts"
TEST_SCRIPT = SCRIPTS_DIR / "testscript.py"


def test_a_file_that_is_not_python(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "script.txt"
    path.write_text("print('hello')\n")
    with pytest.raises(ImportError, match=rf"^cannot import script file '{path}': not a Python file$"):
        load_script_class(path)


def test_a_file_that_fails_on_import(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "broken_script.py"
    path.write_text("raise RuntimeError('broken on import')\n")
    before = set(sys.modules)
    with pytest.raises(RuntimeError, match="broken on import"):
        load_script_class(path)
    assert not [name for name in set(sys.modules) - before if name.endswith("broken_script")]


@pytest.mark.parametrize(("loglevel", "traceback"), [([], False), (["-l", "DEBUG"], True)])
def test_missing_script_is_exit_code_1(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], loglevel: list[str], traceback: bool
) -> None:
    missing = tmp_path / "missing.py"
    with pytest.raises(SystemExit) as info:
        main([str(missing), "--index", "5", *loglevel], providers=[])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert f"run_one_script: error: script file '{missing}' not found" in err
    assert ("Traceback (most recent call last)" in err) is traceback


def test_parameter_that_is_not_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse_args([str(TEST_SCRIPT), "-p", "names=[a, b"])
    assert info.value.code == 2
    assert "-p value of 'names' is not valid YAML" in capsys.readouterr().err


async def test_index_0_is_refused() -> None:
    with pytest.raises(ValueError, match="^index must be nonzero: index 0 would address every script$"):
        await run_one_script(TEST_SCRIPT, index=0, config="")
