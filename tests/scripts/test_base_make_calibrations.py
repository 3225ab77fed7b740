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

"""BaseMakeCalibrations without an observatory: its seams (imports, remotes, where records go)."""

import ast
import asyncio
import itertools
import os
from pathlib import Path

import pytest

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations.scripts import MakeComCamCalibrations
from lsst.ts.calibrations.scripts.run_record import RUN_RECORD_DIR_ENV, RunRecord

SCRIPTS = Path(__file__).parents[2] / "python/lsst/ts/calibrations/scripts"
FACADE_MODULES = {"calibration_repository", "verification_verdict", "image_type"}
"""The modules of repo/ that scripts/ may use: the repository facade, the verdict rule and the image
types (plain definitions, no butler)."""
_indices = itertools.count(300)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a module, relative ones resolved from the scripts package."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "lsst.ts.calibrations.scripts".split(".")
            prefix = ".".join(base[: len(base) - node.level + 1]) if node.level else ""
            module = ".".join(part for part in (prefix, node.module or "") if part)
            found += [
                (node.lineno, f"{module}.{alias.name}" if not node.module else module) for alias in node.names
            ]
    return found


def test_scripts_reach_the_repository_through_the_facade_only() -> None:
    offending = []
    for path in sorted(SCRIPTS.glob("*.py")):
        for line, module in _imports(path):
            if module.startswith(("lsst.daf", "lsst.pipe", "astropy")):
                offending.append(f"{path.name}:{line} imports {module}")
            parts = module.split(".")
            if parts[:4] == ["lsst", "ts", "calibrations", "repo"] and (
                len(parts) < 5 or parts[4] not in FACADE_MODULES
            ):
                offending.append(f"{path.name}:{line} imports {module}")
            if parts[:4] == ["lsst", "ts", "calibrations", "report"]:
                offending.append(f"{path.name}:{line} imports {module}")
    assert offending == []


async def test_remotes_are_made_with_the_script_and_described() -> None:
    script = MakeComCamCalibrations(index=next(_indices))
    try:
        await asyncio.wait_for(script.start_task, STD_TIMEOUT)
        # Made in the constructor, from the class's declared camera and OCPS: no configure needed.
        assert script.camera is not None and script.ocps is not None
        # "Name:index", as salobj's BaseScript writes them (index 0 for a component without index).
        remotes = script.evt_description.data.remotes.split(",")
        assert remotes == ["CCCamera:0", "CCHeaderService:0", "CCOODS:0", "OCPS:2"]
    finally:
        await script.close()


def test_run_records_go_beside_the_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    repo = tmp_path / "repo"
    assert RunRecord.default_folder(repo, environ={}) == repo / "run_records"
    assert RunRecord.default_folder(repo, environ={RUN_RECORD_DIR_ENV: "somewhere"}) == tmp_path / "somewhere"
    # Never the working folder: a repository that is not a local folder needs the variable.
    with pytest.raises(ValueError, match=RUN_RECORD_DIR_ENV):
        RunRecord.default_folder("s3://bucket/repo", environ={})
    with pytest.raises(ValueError, match=RUN_RECORD_DIR_ENV):
        RunRecord.default_folder("repo", environ={})
    monkeypatch.delenv(RUN_RECORD_DIR_ENV, raising=False)
    assert RunRecord.default_folder(repo) == repo / "run_records"
    assert not os.path.exists(tmp_path / "run_records")
