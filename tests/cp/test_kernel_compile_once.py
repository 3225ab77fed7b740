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


"""Processes that start together on an empty numba cache compile each kernel once."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.timeouts import PROCESS_TIMEOUT

pytest.importorskip("numba")

# Each process imports the kernels, says so, waits for the word, then combines a float32
# stack (the rows kernel) and big-endian planes (the planes kernel) and prints, per kernel,
# how many versions it compiled and how many it loaded from numba's cache.
COMBINE = """
import json, sys
import numpy as np
from lsst.ts.calibrations.cp import clipped_mean_numba as kernels
from lsst.ts.calibrations.cp.clipped_mean import clipped_mean
print("ready", flush=True)
sys.stdin.readline()
x = np.random.default_rng(1).normal(size=(5, 30, 70)).astype(np.float32)
clipped_mean(x)
clipped_mean([plane.astype(">f4") for plane in x])
print(json.dumps({
    name: [sum(kernel.stats.cache_misses.values()), sum(kernel.stats.cache_hits.values())]
    for name, kernel in (("rows", kernels._combine_rows), ("planes", kernels._combine_planes))
}), flush=True)
"""


@pytest.mark.slow
@pytest.mark.timeout(3 * PROCESS_TIMEOUT)
def test_processes_starting_together_compile_each_kernel_once(tmp_path: Path) -> None:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", COMBINE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        # Both go at once: without the compile lock each would compile both kernels.
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = [process.communicate(timeout=2 * PROCESS_TIMEOUT)[0] for process in processes]
    finally:
        for process in processes:
            process.kill()
    assert [process.returncode for process in processes] == [0, 0]
    counts = [json.loads(output) for output in outputs]
    for kernel in ("rows", "planes"):
        compiled = sorted(count[kernel][0] for count in counts)
        loaded = sorted(count[kernel][1] for count in counts)
        assert (compiled, loaded) == ([0, 1], [0, 1]), f"{kernel}: {counts}"
