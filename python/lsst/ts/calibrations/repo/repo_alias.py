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

"""Repository aliases: reach a repository by the name the script uses (``/repo/LSSTComCam``).

At the observatory the calibration script's ``repo`` option is the path
``/repo/LSSTComCam``. Anywhere else that name reaches a repository through
daf_butler's repository index: the environment variable
``DAF_BUTLER_REPOSITORY_INDEX`` names a YAML file mapping labels to
repository URIs::

    "/repo/LSSTComCam": /home/me/comcam-sim/repo

daf_butler accepts any string as a label, including one that looks like a
path: ``Butler.from_config(LABEL)`` (and so ``pipetask -b LABEL``, ``butler
... LABEL`` and every process that inherits the variable) looks the string
up in the index *before* treating it as a path. `resolve_repository` applies
the same rule, so the script, the OCPS and the user's Python session agree
on which repository a name means.

`install_repository_alias` writes the index (keeping the labels of an index
already in use) and sets the variable in this process; `repository_index_line`
gives the one line a user sets to reach the repository from their own
session, for example::

    export DAF_BUTLER_REPOSITORY_INDEX=/home/me/comcam-sim/repo/repository-index.yaml
"""

__all__ = [
    "DEFAULT_REPO_ALIAS",
    "INDEX_ENV_VAR",
    "INDEX_FILE_NAME",
    "REPOSITORIES_ENV_VAR",
    "install_repository_alias",
    "read_repository_index",
    "repository_index_line",
    "resolve_repository",
    "write_repository_index",
]

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import yaml
from lsst.daf.butler import ButlerRepoIndex

from .errors import RepositoryError

# The calibration script's default ``repo`` (the observatory's repository path).
DEFAULT_REPO_ALIAS = "/repo/LSSTComCam"
# daf_butler's environment variables: the index file's URI, or the index itself as text.
INDEX_ENV_VAR = ButlerRepoIndex.index_env_var
REPOSITORIES_ENV_VAR = ButlerRepoIndex.repositories_env_var
# File name of an index written beside a repository by `install_repository_alias`.
INDEX_FILE_NAME = "repository-index.yaml"

_CONFIG_NAMES = ("butler.yaml", "butler.json")


def read_repository_index(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the repository index configured in an environment (label → URI).

    Parameters
    ----------
    environ : `~collections.abc.Mapping` [`str`, `str`], optional
        Environment to read; ``os.environ`` by default.

    Returns
    -------
    index : `dict` [`str`, `str`]
        The labels and their URIs; empty if no index is configured.

    Raises
    ------
    RepositoryError
        Raised if an index is configured but cannot be read or is not a
        mapping of strings to strings.
    """
    env = os.environ if environ is None else environ
    index_uri = env.get(INDEX_ENV_VAR, "")
    text = env.get(REPOSITORIES_ENV_VAR, "")
    where = f"{REPOSITORIES_ENV_VAR}" if text else f"{INDEX_ENV_VAR}={index_uri}"
    if not text and not index_uri:
        return {}
    try:
        if not text:
            text = Path(index_uri.removeprefix("file://")).read_text()
        data = yaml.safe_load(text) or {}
    except (OSError, yaml.YAMLError) as e:
        raise RepositoryError(f"Cannot read the butler repository index {where}: {e}") from e
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise RepositoryError(
            f"The butler repository index {where} must map labels to repository URIs (strings); got {data!r}."
        )
    return data


def write_repository_index(
    index_path: str | os.PathLike[str], aliases: Mapping[str, str | os.PathLike[str]]
) -> Path:
    """Write (or update) a repository index file.

    Labels already in the file are kept unless ``aliases`` gives them a new
    URI. The file is replaced atomically, so a process reading it never sees
    half of it.

    Parameters
    ----------
    index_path : `str` or `os.PathLike`
        The YAML file.
    aliases : `~collections.abc.Mapping` [`str`, `str` or `os.PathLike`]
        Label → repository root (a path is made absolute) or URI.

    Returns
    -------
    path : `pathlib.Path`
        The absolute path of the index file.

    Raises
    ------
    RepositoryError
        Raised if the existing file is not a valid index.
    """
    path = Path(index_path).expanduser().absolute()
    entries: dict[str, str] = {}
    if path.is_file():
        entries.update(read_repository_index({INDEX_ENV_VAR: str(path)}))
    for label, target in aliases.items():
        text = os.fspath(target)
        entries[label] = text if "://" in text else str(Path(text).expanduser().absolute())
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as f:
        yaml.safe_dump(entries, f, default_flow_style=False)
    os.replace(f.name, path)
    return path


def repository_index_line(index_path: str | os.PathLike[str], *, python: bool = False) -> str:
    """Return the one line that makes a repository index reach a user's session.

    Parameters
    ----------
    index_path : `str` or `os.PathLike`
        The index file.
    python : `bool`, optional
        Give the Python statement (before the first butler is made) instead
        of the shell ``export``.

    Returns
    -------
    line : `str`
        ``export DAF_BUTLER_REPOSITORY_INDEX=...`` or
        ``import os; os.environ["DAF_BUTLER_REPOSITORY_INDEX"] = "..."``.
    """
    path = str(Path(index_path).expanduser().absolute())
    if python:
        return f'import os; os.environ["{INDEX_ENV_VAR}"] = {path!r}'
    return f"export {INDEX_ENV_VAR}={path}"


def install_repository_alias(
    repo_root: str | os.PathLike[str],
    alias: str = DEFAULT_REPO_ALIAS,
    index_path: str | os.PathLike[str] | None = None,
) -> str:
    """Make ``alias`` reach a repository in this process and in every process it starts.

    Writes ``alias: repo_root`` into the index file, together with the
    labels of the index this process already uses (from
    ``DAF_BUTLER_REPOSITORY_INDEX`` or ``DAF_BUTLER_REPOSITORIES``), then
    sets ``DAF_BUTLER_REPOSITORY_INDEX`` to the file (and removes
    ``DAF_BUTLER_REPOSITORIES``, which daf_butler refuses alongside it).
    Subprocesses started afterwards (``pipetask``) inherit the variable.

    Parameters
    ----------
    repo_root : `str` or `os.PathLike`
        Root of the repository.
    alias : `str`, optional
        The label; the script's default ``/repo/LSSTComCam`` by default.
    index_path : `str` or `os.PathLike`, optional
        Index file; ``<repo_root>/repository-index.yaml`` by default.

    Returns
    -------
    line : `str`
        The shell line a user sets to reach the repository by ``alias``
        (`repository_index_line`).

    Raises
    ------
    RepositoryError
        Raised if ``repo_root`` is not a butler repository, or an existing
        index cannot be read.
    """
    root = Path(repo_root).expanduser().absolute()
    if not any((root / name).is_file() for name in _CONFIG_NAMES):
        raise RepositoryError(
            f"repo_root={str(root)!r} is not a butler repository (no butler.yaml): "
            "bootstrap it before giving it an alias."
        )
    path = Path(index_path).expanduser().absolute() if index_path is not None else root / INDEX_FILE_NAME
    entries: dict[str, str] = dict(read_repository_index())
    entries[alias] = str(root)
    write_repository_index(path, entries)
    os.environ.pop(REPOSITORIES_ENV_VAR, None)
    os.environ[INDEX_ENV_VAR] = str(path)
    # daf_butler caches each index by its URI; the file may have just changed.
    ButlerRepoIndex._cache.clear()
    return repository_index_line(path)


def resolve_repository(path_or_alias: str | os.PathLike[str]) -> str:
    """Return the repository a path or alias means, as daf_butler would resolve it.

    As in ``Butler.from_config``, a string is first looked up as a label of
    the repository index; only if it is not a label is it taken as a path.

    Parameters
    ----------
    path_or_alias : `str` or `os.PathLike`
        A label of the repository index (e.g. ``/repo/LSSTComCam``), a
        repository root, or its ``butler.yaml``.

    Returns
    -------
    repo : `str`
        The repository root as an absolute local path (or the URI of a
        non-local repository).

    Raises
    ------
    RepositoryError
        Raised if the name is neither a label of the index nor a
        repository; the message lists the known labels and the variable
        that configures them.
    """
    text = os.fspath(path_or_alias)
    index = read_repository_index()
    if text in index:
        target = index[text]
        local = target.removeprefix("file://")
        if "://" in local:
            return target
        candidate = Path(local)
    else:
        candidate = Path(text).expanduser()
    root = candidate.absolute()
    if root.is_file() and root.name in _CONFIG_NAMES:
        root = root.parent
    if any((root / name).is_file() for name in _CONFIG_NAMES):
        return str(root)
    if text in index:
        raise RepositoryError(
            f"repo={text!r} is a label of the butler repository index ({INDEX_ENV_VAR}="
            f"{os.environ.get(INDEX_ENV_VAR, '')!r}) but its target {index[text]} is not a butler repository."
        )
    labels = ", ".join(sorted(index)) or "none"
    raise RepositoryError(
        f"repo={text!r} is neither a butler repository nor a label of the butler repository index "
        f"(labels: {labels}). Give a repository path, or set {INDEX_ENV_VAR} to an index mapping "
        f"{text!r} to a repository (see install_repository_alias)."
    )
