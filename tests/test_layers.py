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


"""The import layers of doc/architecture.rst, held by a test.

Every module under ``python/lsst/ts/calibrations`` is parsed (not imported)
and each name it reaches is collected: ``import`` and ``from ... import``
statements (relative ones resolved, also inside functions), and every
string constant that is a module path of this package (``importlib``
strings, ``python -m`` arguments, entry points). A lower layer that names a
higher one fails the test, naming the file and the name.
"""

import ast
import dataclasses
import pathlib
import re
import sys

import pytest

PACKAGE = "lsst.ts.calibrations"
ROOT = pathlib.Path(__file__).resolve().parent.parent / "python" / "lsst" / "ts" / "calibrations"

# drift_check: DriftCheck is the run record's "drift", and its rule (DriftCheck.band) is the trends page's.
RECORD_TYPES = frozenset(
    {"run_record", "product_outcome", "gain_report", "certification_record", "drift_check"}
)
"""Modules of ``scripts`` holding the run record's types (what ``report`` and ``trends`` may read)."""

# Layer: the layers (and "scripts.<module>" entries) it may import. Top-level modules of the package
# (version) may be imported by every layer.
ALLOWED: dict[str, frozenset[str]] = {
    "sal": frozenset(),
    "repo": frozenset(),
    "cp": frozenset({"repo"}),
    "observatory": frozenset({"sal"}),
    "sim": frozenset({"sal", "repo", "cp"}),
    "scripts": frozenset({"observatory", "sal", "repo"}),
    "report": frozenset({"repo", *(f"scripts.{name}" for name in RECORD_TYPES)}),
    # Trends across runs: like report, and over report's page and figures.
    "trends": frozenset({"repo", "report", *(f"scripts.{name}" for name in RECORD_TYPES)}),
    "queue": frozenset({"sal"}),
    "standardscripts": frozenset({"sal"}),
    # The executables the script queue loads run their layer's script classes.
    "data": frozenset({"scripts", "standardscripts", "sal"}),
}

IMPORT_FUNCTIONS = frozenset({"import_module", "__import__", "find_spec", "load_provider"})
"""Calls whose first argument, a module path in a string, is an import."""

MIDDLEWARE = ("lsst.daf", "lsst.pipe", "lsst.ctrl", "lsst.pex", "lsst.resources", "lsst.utils", "lsst.obs")
"""Rubin middleware: only the layers that play its users (repo, cp, sim, report) import it."""

MIDDLEWARE_USERS = frozenset({"repo", "cp", "sim", "report", "trends"})

SAL_THIRD_PARTY = frozenset({"yaml", "jsonschema", "cyclonedds", "numpy", "astropy"})
"""What the SAL runtime may import outside the standard library (numpy and astropy as salobj does:
array fields, TestCsc's random data, AsyncS3Bucket's dated keys)."""

# A layer may start a higher one's command as a process (``python -m MODULE``) without importing it:
# at the observatory they are different processes too.
PROCESS_ONLY: dict[str, frozenset[str]] = {
    "scripts": frozenset({"report"}),  # the run report is built by ``python -m lsst.ts.calibrations.report``
}

# Known breaks of the rules, each with the work item removing it: (layer, target) -> item. Delete an
# entry once that work is merged. (The scripts <-> report cycle and the scripts' own Butlers, issue 11
# items 4 and 6, are gone: the run record's types, the repository facade, the report as a process.)
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}


@dataclasses.dataclass(frozen=True)
class Reach:
    """One name a module reaches."""

    path: pathlib.Path
    line: int
    name: str
    imported: bool = True
    """False for a module path in a string that no import function receives (a command)."""


def subpackages() -> frozenset[str]:
    """Return the package's direct subpackages and top-level modules."""
    return frozenset(
        path.stem
        for path in ROOT.iterdir()
        if (path.is_dir() and not path.name.startswith(("_", "."))) or path.suffix == ".py"
    )


def layer_of(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).parts
    return parts[0] if len(parts) > 1 else ""


def _module_parts(path: pathlib.Path) -> list[str]:
    parts = [*PACKAGE.split("."), *path.relative_to(ROOT).with_suffix("").parts]
    return parts[:-1] if parts[-1] == "__init__" else parts


def reaches(path: pathlib.Path) -> list[Reach]:
    """Return every module name a file reaches (imports and module-path strings)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    # One walk of the tree (three took most of this test's 3.8 s of CPU over the package).
    nodes = list(ast.walk(tree))
    module = _module_parts(path)
    package = module if path.name == "__init__.py" else module[:-1]
    docstrings = {
        id(node.body[0].value)
        for node in nodes
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    import_arguments = {
        id(argument)
        for node in nodes
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Attribute) and node.func.attr in IMPORT_FUNCTIONS)
            or (isinstance(node.func, ast.Name) and node.func.id in IMPORT_FUNCTIONS)
        )
        for argument in node.args[:1]
    }
    found: list[Reach] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [Reach(path, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append(Reach(path, node.lineno, name))
            # "from . import x" / "from .. import sim" name modules too.
            found += [Reach(path, node.lineno, f"{name}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            for match in re.finditer(rf"\b{re.escape(PACKAGE)}(?:\.\w+)+", node.value):
                found.append(Reach(path, node.lineno, match.group(0), imported=id(node) in import_arguments))
    return found


def target_of(name: str, known: frozenset[str]) -> str | None:
    """Return the layer (or ``scripts.<module>``) a name reaches in this package, else None."""
    if not name.startswith(PACKAGE + "."):
        return None
    parts = name[len(PACKAGE) + 1 :].split(".")
    if parts[0] not in known:
        return None  # not a module of the package (e.g. an entry-point group name)
    if parts[0] == "scripts" and len(parts) > 1:
        return f"scripts.{parts[1]}"
    return parts[0]


def allowed(layer: str, target: str) -> bool:
    rules = ALLOWED[layer]
    return target in rules or target.split(".")[0] in rules


def violations() -> list[str]:
    known = subpackages()
    top_modules = frozenset(path.stem for path in ROOT.glob("*.py"))
    problems: list[str] = []
    seen: set[tuple[pathlib.Path, int, str]] = set()
    for path in sorted(ROOT.rglob("*.py")):
        layer = layer_of(path)
        if not layer:
            continue  # the package's own __init__ and version
        if layer not in ALLOWED:
            problems.append(f"{path.relative_to(ROOT)}: layer {layer!r} is not in ALLOWED; add its rule")
            continue
        for reach in reaches(path):
            where = f"{path.relative_to(ROOT)}:{reach.line}"
            target = target_of(reach.name, known)
            # "from x import y" reaches x and x.y: one problem per line and target.
            key = (path, reach.line, target or ".".join(reach.name.split(".")[:3]))
            if key in seen:
                continue
            seen.add(key)
            if target is not None:
                layer_name = target.split(".")[0]
                if layer_name == layer or layer_name in top_modules:
                    continue
                if allowed(layer, target):
                    continue
                if not reach.imported and layer_name in PROCESS_ONLY.get(layer, frozenset()):
                    continue
                if (layer, target) in KNOWN_EXCEPTIONS or (layer, layer_name) in KNOWN_EXCEPTIONS:
                    continue
                problems.append(f"{where}: {layer} must not import {target} ({reach.name})")
                continue
            top = reach.name.split(".")[0]
            if reach.name.startswith(MIDDLEWARE) and layer not in MIDDLEWARE_USERS:
                if (layer, ".".join(reach.name.split(".")[:2])) in KNOWN_EXCEPTIONS:
                    continue
                problems.append(f"{where}: {layer} must not import the middleware ({reach.name})")
            elif (
                layer == "sal"
                and top
                and top not in sys.stdlib_module_names
                and top not in SAL_THIRD_PARTY
                and not reach.name.startswith(PACKAGE)
            ):
                problems.append(f"{where}: sal may import only {sorted(SAL_THIRD_PARTY)} ({reach.name})")
    return problems


def test_layers() -> None:
    problems = violations()
    assert not problems, "import-layer violations:\n" + "\n".join(problems)


def test_sal_names_no_higher_layer() -> None:
    """Not even in a docstring or comment: the runtime does not know what runs on it."""
    higher = "|".join(sorted(subpackages() - {"sal", "version", "__init__", "data"}))
    pattern = re.compile(rf"calibrations[./]({higher})\b")
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "sal").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if pattern.search(line)
    ]
    assert not found, "sal names a higher layer:\n" + "\n".join(found)


def _write(tmp_path: pathlib.Path, relative: str, text: str) -> pathlib.Path:
    path = tmp_path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "reached"),
    [
        ("from ..sim.observatory import SimulatedObservatory\n", "lsst.ts.calibrations.sim.observatory"),
        ("from .. import sim\n", "lsst.ts.calibrations.sim"),
        ("import lsst.ts.calibrations.sim.observatory\n", "lsst.ts.calibrations.sim.observatory"),
        (
            "import importlib\n\ndef f():\n    return importlib.import_module('lsst.ts.calibrations.sim.x')",
            "lsst.ts.calibrations.sim.x",
        ),
        ("ARGS = ['-m', 'lsst.ts.calibrations.repo.tool']\n", "lsst.ts.calibrations.repo.tool"),
    ],
)
def test_reaches_finds_every_form(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, text: str, reached: str
) -> None:
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    path = _write(tmp_path, "sal/module.py", '"""Doc naming lsst.ts.calibrations.cp.x is prose."""\n' + text)
    names = {reach.name for reach in reaches(path)}
    assert reached in names
    assert "lsst.ts.calibrations.cp.x" not in names


def test_a_violation_is_named(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    _write(tmp_path, "version.py", "")
    _write(tmp_path, "sim/__init__.py", "")
    _write(tmp_path, "report/__init__.py", "")
    _write(tmp_path, "scripts/run_record.py", "")
    _write(
        tmp_path,
        "sal/run.py",
        "import importlib\nM = importlib.import_module('lsst.ts.calibrations.sim.x')\n",
    )
    _write(tmp_path, "report/ok.py", "from ..scripts.run_record import RunRecord\nfrom ..version import v\n")
    _write(tmp_path, "report/bad.py", "from ..scripts.calibration_plan import CalibrationPlan\n")
    _write(tmp_path, "observatory/bad.py", "from lsst.daf.butler import Butler\n")
    # The report's command as a process is allowed to scripts; importing it is not.
    _write(tmp_path, "scripts/run.py", "CMD = ['-m', 'lsst.ts.calibrations.report']\n")
    _write(
        tmp_path,
        "scripts/bad.py",
        "import importlib\nR = importlib.import_module('lsst.ts.calibrations.report')\n",
    )
    _write(tmp_path, "newlayer/x.py", "")
    assert violations() == [
        "newlayer/x.py: layer 'newlayer' is not in ALLOWED; add its rule",
        "observatory/bad.py:1: observatory must not import the middleware (lsst.daf.butler)",
        "report/bad.py:1: report must not import scripts.calibration_plan "
        "(lsst.ts.calibrations.scripts.calibration_plan)",
        "sal/run.py:2: sal must not import sim (lsst.ts.calibrations.sim.x)",
        "scripts/bad.py:2: scripts must not import report (lsst.ts.calibrations.report)",
    ]
