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

"""The two script roots of a queue: which scripts they hold and which path may run."""

__all__ = ["ScriptRoots"]

import os
import pathlib

PACKAGE_DIR = pathlib.Path(__file__).resolve().parents[1]
"""``python/lsst/ts/calibrations``."""

DEFAULT_STANDARD_ROOT = PACKAGE_DIR / "data" / "standard_scripts"
"""Default root of the standard scripts."""

DEFAULT_EXTERNAL_ROOT = PACKAGE_DIR / "data" / "scripts"
"""Default root of the external scripts (this package's observatory scripts)."""


def _is_public(name: str) -> bool:
    return not name.startswith((".", "_"))


class ScriptRoots:
    """The standard and the external script root directories.

    A script is an executable file under a root whose name does not start
    with "." (hidden) or "_" (private); directories whose names start with
    "." are not searched (as ts_scriptqueue: a directory named "_x" is).

    Parameters
    ----------
    standard : `str` or `os.PathLike`, optional
        Root of the standard scripts; `DEFAULT_STANDARD_ROOT` if None.
    external : `str` or `os.PathLike`, optional
        Root of the external scripts; `DEFAULT_EXTERNAL_ROOT` if None.

    Attributes
    ----------
    standard : `pathlib.Path`
        Absolute path of the standard root.
    external : `pathlib.Path`
        Absolute path of the external root.

    Raises
    ------
    ValueError
        If a root is not an existing directory.
    """

    def __init__(
        self, standard: str | os.PathLike[str] | None = None, external: str | os.PathLike[str] | None = None
    ) -> None:
        self.standard = self._check_root(standard, DEFAULT_STANDARD_ROOT, "standard")
        self.external = self._check_root(external, DEFAULT_EXTERNAL_ROOT, "external")

    @staticmethod
    def _check_root(path: str | os.PathLike[str] | None, default: pathlib.Path, kind: str) -> pathlib.Path:
        root = pathlib.Path(default if path is None else path).resolve()
        if not root.is_dir():
            raise ValueError(f"{kind} scripts root {str(root)!r} is not a directory")
        return root

    def root(self, is_standard: bool) -> pathlib.Path:
        """Return the standard root if ``is_standard``, else the external root."""
        return self.standard if is_standard else self.external

    @staticmethod
    def find_scripts(root: pathlib.Path) -> list[str]:
        """Return the scripts under one root, as sorted relative paths.

        Parameters
        ----------
        root : `pathlib.Path`
            The root directory.

        Returns
        -------
        paths : `list` [`str`]
            Relative paths (with "/") of the public executable files (a
            symbolic link is listed only if it leads to a file in the root).
        """
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(name for name in dirnames if not name.startswith("."))
            for filename in filenames:
                path = pathlib.Path(dirpath, filename)
                if (
                    _is_public(filename)
                    and path.is_file()
                    and os.access(path, os.X_OK)
                    and root in path.resolve().parents
                ):
                    found.append(path.relative_to(root).as_posix())
        return sorted(found)

    def find_available(self) -> tuple[list[str], list[str]]:
        """Return the standard and the external scripts.

        Returns
        -------
        standard, external : `list` [`str`]
            Relative paths of the scripts under each root.
        """
        return self.find_scripts(self.standard), self.find_scripts(self.external)

    def full_path(self, is_standard: bool, path: str) -> pathlib.Path:
        """Return the absolute path of a script, checking that it may run.

        Parameters
        ----------
        is_standard : `bool`
            Standard (True) or external (False) script?
        path : `str`
            Path relative to that root.

        Returns
        -------
        full_path : `pathlib.Path`
            The absolute path, symbolic links resolved.

        Raises
        ------
        ValueError
            If the path is empty or absolute, leaves the root, names a
            hidden or private file, is missing, is not a file, or is not
            executable; the message says which.
        """
        kind = "standard" if is_standard else "external"
        root = self.root(is_standard)
        if not path:
            raise ValueError(f"path is empty: give a script path relative to the {kind} root {str(root)!r}")
        relative = pathlib.PurePosixPath(path)
        if relative.is_absolute():
            raise ValueError(f"path {path!r} must be relative to the {kind} root {str(root)!r}")
        full = (root / relative).resolve()
        if root not in full.parents:
            raise ValueError(f"path {path!r} is outside the {kind} root {str(root)!r}")
        *dirs, name = full.relative_to(root).parts
        if not _is_public(name) or any(part.startswith(".") for part in dirs):
            raise ValueError(f"script {path!r} is hidden or private (its name starts with '.' or '_')")
        if not full.exists():
            raise ValueError(f"script {path!r} not found in the {kind} root {str(root)!r}")
        if not full.is_file():
            raise ValueError(f"script {path!r} is not a file")
        if not os.access(full, os.X_OK):
            raise ValueError(f"script {path!r} is not executable")
        return full
