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

"""The tests' pipetask pool: its processes leave nothing in the temporary folder."""

from pathlib import Path

import pytest

from fixtures.pipetask_pool import PipetaskPool
from fixtures.repositories import PIPETASK_TIMEOUT, _paths, pipetask_args, simulate_and_ingest


@pytest.mark.slow
def test_runs_leave_no_butler_cache_folder_in_tmp(tmp_path: Path) -> None:
    # pipetask makes $TMPDIR/butler-cache-dir-<pid>-... for a run's butlers unless told where
    # to cache, and removes it only when its process exits normally; the pool kills its
    # processes when it closes.
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    repo, _ = simulate_and_ingest(tmp_path / "data", detectors=[0], seed=3, n_bias=2, n_dark=0)
    env = dict(_paths().pipeline_environment(), TMPDIR=str(tmp))
    pool = PipetaskPool(env, PIPETASK_TIMEOUT)
    try:
        # One run in the pool's environment, then two at once in the caller's: three butlers
        # written through, two of them in one process.
        runs = [pool.run(_bias_args(repo, "one"))]
        runs += pool.run_many([_bias_args(repo, "two"), _bias_args(repo, "three")], env)
    finally:
        pool.close()
    for done in runs:
        assert done.returncode == 0, done.stderr[-3000:]
    assert not list(tmp.iterdir())


def _bias_args(repo: Path, name: str) -> list[str]:
    return pipetask_args(repo, "cpBias", f"u/pool/{name}", ["LSSTComCam/raw/all"], "detector = 0")
