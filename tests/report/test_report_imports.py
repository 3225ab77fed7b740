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

"""The report depends on the run record's types only, never on the script."""

import ast
from pathlib import Path

REPORT = Path(__file__).parents[2] / "python/lsst/ts/calibrations/report"
ALLOWED_FROM_SCRIPTS = {"run_record"}


def _modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every ``from`` import of a report module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            base = "lsst.ts.calibrations.report".split(".")
            prefix = ".".join(base[: len(base) - node.level + 1]) if node.level else ""
            found.append((node.lineno, ".".join(p for p in (prefix, node.module or "") if p)))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def test_report_uses_the_run_record_types_only() -> None:
    offending = []
    for path in sorted(REPORT.glob("*.py")):
        for line, module in _modules(path):
            parts = module.split(".")
            if parts[:4] == ["lsst", "ts", "calibrations", "scripts"] and (
                len(parts) < 5 or parts[4] not in ALLOWED_FROM_SCRIPTS
            ):
                offending.append(f"{path.name}:{line} imports {module}")
            if parts[:4] == ["lsst", "ts", "calibrations", "sal"]:
                offending.append(f"{path.name}:{line} imports {module} (the announcement is the script's)")
    assert offending == []
