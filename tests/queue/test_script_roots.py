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

"""Script discovery and the paths a queue may run, and the history's cap:
the queue's rules that need no script process.
"""

import asyncio
import logging
import os
import pathlib

import pytest
from queue_harness import EXTERNAL_ROOT, STANDARD_ROOT

from lsst.ts.calibrations.queue import MAX_HISTORY, QueueModel, ScriptInfo, ScriptRoots
from lsst.ts.calibrations.queue.script_roots import DEFAULT_EXTERNAL_ROOT, DEFAULT_STANDARD_ROOT
from lsst.ts.calibrations.sal import Domain


def test_find_scripts() -> None:
    roots = ScriptRoots(STANDARD_ROOT, EXTERNAL_ROOT)
    standard, external = roots.find_available()
    assert standard == ["script1.py", "stubborn.py", "subdir/script2.py", "unloadable.py"]
    assert external == ["script3.py", "subdir/script4.py"]


def test_full_path(tmp_path: pathlib.Path) -> None:
    roots = ScriptRoots(STANDARD_ROOT, EXTERNAL_ROOT)
    assert roots.full_path(True, "subdir/script2.py") == STANDARD_ROOT / "subdir" / "script2.py"
    assert roots.full_path(False, "script3.py") == EXTERNAL_ROOT / "script3.py"
    assert roots.full_path(True, "subdir/../script1.py") == STANDARD_ROOT / "script1.py"
    # A link inside the root to a file outside it is outside the root.
    root = tmp_path / "root"
    root.mkdir()
    (root / "link.py").symlink_to(STANDARD_ROOT / "script1.py")
    linked = ScriptRoots(root, EXTERNAL_ROOT)
    with pytest.raises(ValueError, match="'link.py' is outside the standard root"):
        linked.full_path(True, "link.py")
    assert linked.find_available()[0] == [], "what cannot run is not offered"
    (root / "inside.py").symlink_to(root / "real.py")
    (root / "real.py").write_text("")
    (root / "real.py").chmod(0o755)
    assert linked.find_available()[0] == ["inside.py", "real.py"]
    assert linked.full_path(True, "inside.py") == root.resolve() / "real.py"


def test_roots_must_exist(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError, match="standard scripts root .* is not a directory"):
        ScriptRoots(tmp_path / "missing", EXTERNAL_ROOT)
    with pytest.raises(ValueError, match="external scripts root .* is not a directory"):
        ScriptRoots(STANDARD_ROOT, STANDARD_ROOT / "script1.py")


def test_default_roots() -> None:
    package = pathlib.Path(__file__).parents[2] / "python" / "lsst" / "ts" / "calibrations"
    assert DEFAULT_EXTERNAL_ROOT == package / "data" / "scripts"
    assert DEFAULT_STANDARD_ROOT == package / "data" / "standard_scripts"
    # The calibration script is what the external root offers the operator.
    assert "maintel/make_comcam_calibrations.py" in ScriptRoots.find_scripts(DEFAULT_EXTERNAL_ROOT)
    if DEFAULT_STANDARD_ROOT.is_dir():
        roots = ScriptRoots()
        assert os.access(roots.full_path(False, "maintel/make_comcam_calibrations.py"), os.X_OK)


async def test_history_is_capped() -> None:
    async with Domain() as domain:
        model = QueueModel(
            domain=domain,
            log=logging.getLogger("test"),
            roots=ScriptRoots(STANDARD_ROOT, EXTERNAL_ROOT),
            min_sal_index=100000,
            max_sal_index=199999,
        )
        await model.start_task
        loop = asyncio.get_running_loop()
        for _ in range(MAX_HISTORY + 5):
            info = model.make_script_info(seq_num=0, is_standard=True, path="script1.py", config="", descr="")
            ended: asyncio.Future[int] = loop.create_future()
            ended.set_result(0)
            info.process_task = ended  # type: ignore[assignment]  # a process that has ended
            model.queue.append(info)
        assert isinstance(model.queue[0], ScriptInfo)
        await model.set_enable(True)  # ended scripts leave the top of the queue for the history
        assert len(model.history) == MAX_HISTORY and not model.queue
        assert model.history_indices[0] == 100000 + MAX_HISTORY + 4, "most recent first"
        assert model.history_indices[-1] == 100005, "the oldest are dropped"
        await model.close()
