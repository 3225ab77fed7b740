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

"""The end-to-end benchmark's observatory is private to its run."""

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from lsst.ts.calibrations.sal.isolation import SUBNAME_ENV

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import end_to_end  # noqa: E402


def _run_main(monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the benchmark's main with its observatory replaced; the isolation name it ran under."""
    seen: list[str] = []

    async def amain(args: argparse.Namespace) -> list[dict[str, Any]]:
        seen.append(os.environ.get(SUBNAME_ENV, ""))
        return []

    monkeypatch.setattr(end_to_end, "amain", amain)
    monkeypatch.setattr(sys, "argv", ["end_to_end.py", "--runs", "daily", "--ways", "incremental"])
    assert end_to_end.main() == 0
    return seen[0]


def test_each_run_gets_its_own_isolation_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two benchmarks on one machine (or a benchmark and a test) must not
    # command each other's camera and OCPS: each run starts its observatory
    # under a fresh isolation name of its own.
    monkeypatch.delenv(SUBNAME_ENV, raising=False)
    first = _run_main(monkeypatch)
    monkeypatch.delenv(SUBNAME_ENV, raising=False)
    second = _run_main(monkeypatch)
    assert first.startswith("e2e_") and second.startswith("e2e_")
    assert first != second


def test_a_name_the_user_set_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    # Set on purpose, e.g. to watch the run from another terminal.
    monkeypatch.setenv(SUBNAME_ENV, "watch_me")
    assert _run_main(monkeypatch) == "watch_me"
