"""The package imports beside Rubin's middleware, whose wheels own ``lsst/__init__.py``."""

import importlib
import subprocess
import sys


def test_imports_beside_daf_butler() -> None:
    import lsst.daf.butler

    import lsst.ts.calibrations

    assert lsst.ts.calibrations.__version__
    assert lsst.daf.butler.Butler is not None


def test_import_in_fresh_interpreter() -> None:
    # Import order matters for pkgutil-style namespaces: check both orders in a clean process.
    for order in (
        "import lsst.ts.calibrations, lsst.daf.butler",
        "import lsst.daf.butler, lsst.ts.calibrations",
    ):
        subprocess.run([sys.executable, "-c", order], check=True, timeout=120)


def test_version_module() -> None:
    version = importlib.import_module("lsst.ts.calibrations.version")
    assert version.__all__ == ["__version__"]
