"""The package imports beside Rubin's middleware, whose wheels own ``lsst/__init__.py``."""

import importlib
import subprocess
import sys

import pytest


def test_imports_beside_daf_butler() -> None:
    import lsst.daf.butler

    import lsst.ts.calibrations

    assert lsst.ts.calibrations.__version__
    assert lsst.daf.butler.Butler is not None


@pytest.mark.slow
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


@pytest.mark.slow
def test_regular_install_beside_daf_butler(tmp_path) -> None:
    # A regular (non-editable) install: the wheel must not ship lsst/__init__.py or
    # lsst/ts/__init__.py (the lsst-* wheels own the pkgutil-style lsst/__init__.py),
    # and the installed package must import beside lsst.daf.butler.
    import pathlib
    import zipfile

    top = pathlib.Path(__file__).parent.parent
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(top),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("lsst_ts_calibrations-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "lsst/__init__.py" not in names and "lsst/ts/__init__.py" not in names
    assert "lsst/ts/calibrations/cp/pipelines/LSSTComCam/cpBias.yaml" in names
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        timeout=300,
    )
    code = (
        "import lsst.daf.butler, lsst.ts.calibrations.repo.camera as camera, sys; "
        f"assert camera.__file__.startswith({str(target)!r}), camera.__file__"
    )
    # The installed copy comes first on the path; the editable one must not be the one found.
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"}
    subprocess.run(
        [sys.executable, "-S", "-c", "import site; site.main(); " + code], check=True, timeout=120, env=env
    )
