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

"""Create, bootstrap and open an instrument's butler repository.

One repository per instrument, as at the observatory (``/repo/LSSTComCam``,
``/repo/LATISS``, ...); LSSTComCam unless ``instrument`` says otherwise
(LSSTCam, LATISS: `~lsst.ts.calibrations.repo.instruments`). For
LSSTComCam, a repository made by `bootstrap_repository` has (the other
instruments' the same with their name):

- the seed configuration ``configs/butler-seed.yaml`` (storage classes
  ``ComCamRawImage``, ``ComCamExposure``, ``ComCamDefects``,
  ``ComCamPtcDataset`` and their formatters) in its ``butler.yaml``;
- the ``LSSTComCam`` instrument, its nine detectors and physical filters
  (`~lsst.ts.calibrations.repo.instrument.LSSTComCam`);
- the dataset type ``raw`` (instrument, exposure, detector; ComCamRawImage);
- the RUN collection ``LSSTComCam/raw/all`` for raws;
- the CHAINED collection ``LSSTComCam/calib`` whose first child is the
  CALIBRATION collection ``LSSTComCam/calib/certified``; new certified
  collections can be prepended to the chain (DMTN-222);
- by default, a SQLite registry in the repository, in write-ahead-log mode
  (``PRAGMA journal_mode=WAL``, persistent in the database file), so
  readers do not wait for a writer and writers do not wait for readers;
  daf_butler itself sets a 300 s busy timeout and begins write
  transactions with ``BEGIN IMMEDIATE``;
- or, given a PostgreSQL URL (``registry_db``, or the environment variable
  ``TS_CALIBRATIONS_REGISTRY_DB``), a registry in its own schema of that
  database (`~lsst.ts.calibrations.repo.registry_database.RegistryDatabase`),
  as the observatory's repositories have: many writers on many machines.
  The URL and schema are written into ``butler.yaml``, so everything else
  opens the repository by its path, whichever the registry.

`open_repository` opens a repository by path or by alias (the butler
repository index) with the same checks.
"""

__all__ = [
    "CALIB_CHAIN",
    "CERTIFIED_COLLECTION",
    "INSTRUMENT_NAME",
    "RAW_RUN",
    "SEED_CONFIG",
    "bootstrap_repository",
    "calib_chain",
    "certified_collection",
    "open_repository",
    "raw_run",
    "registry_description",
]

import contextlib
import os
import sqlite3
from importlib import resources
from pathlib import Path

import sqlalchemy
from lsst.daf.butler import Butler, CollectionType, Config, DatasetType
from lsst.daf.butler.registry import RegistryDefaults

from .errors import RepositoryError
from .instruments import get_instrument
from .registry_database import RegistryDatabase, resolve_registry_db
from .repo_alias import read_repository_index

INSTRUMENT_NAME = "LSSTComCam"
RAW_RUN = f"{INSTRUMENT_NAME}/raw/all"
CALIB_CHAIN = f"{INSTRUMENT_NAME}/calib"
CERTIFIED_COLLECTION = f"{INSTRUMENT_NAME}/calib/certified"


def raw_run(instrument: str = INSTRUMENT_NAME) -> str:
    """The RUN collection of an instrument's raws, ``<instrument>/raw/all``."""
    return f"{instrument}/raw/all"


def calib_chain(instrument: str = INSTRUMENT_NAME) -> str:
    """The CHAINED calibration collection of an instrument, ``<instrument>/calib``."""
    return f"{instrument}/calib"


def certified_collection(instrument: str = INSTRUMENT_NAME) -> str:
    """The CALIBRATION collection first in the chain, ``<instrument>/calib/certified``."""
    return f"{instrument}/calib/certified"


SEED_CONFIG = str(resources.files("lsst.ts.calibrations.repo").joinpath("configs", "butler-seed.yaml"))

_CONFIG_NAMES = ("butler.yaml", "butler.json")


def _is_repository(path: Path) -> bool:
    return any((path / name).is_file() for name in _CONFIG_NAMES)


def _check_instruments(butler: Butler, where: str, *, require: bool, instrument: str) -> None:
    """Raise `RepositoryError` if the repository belongs to another instrument."""
    names = sorted(
        str(record.name) for record in butler.query_dimension_records("instrument", explain=False, limit=None)
    )
    if instrument in names:
        return
    if names:
        raise RepositoryError(
            f"Butler repository {where} holds instrument(s) {', '.join(names)}, not {instrument}: "
            f"use an {instrument} repository or a new path."
        )
    if require:
        raise RepositoryError(
            f"Butler repository {where} has no {instrument} instrument: "
            "create it with bootstrap_repository (or `butler register-instrument`)."
        )


def _check_storage_classes(root: Path) -> None:
    """Raise `RepositoryError` if the repository was not made with the seed configuration."""
    names = [name for name in _CONFIG_NAMES if (root / name).is_file()]
    config = Config(str(root / names[0]))
    wanted = Config(SEED_CONFIG)["storageClasses"].keys()
    have = config["storageClasses"].keys() if "storageClasses" in config else []
    missing = sorted(set(wanted) - set(have))
    if missing:
        raise RepositoryError(
            f"Butler repository {root} lacks the storage classes {', '.join(missing)}: it was not created "
            f"with this package's seed configuration {SEED_CONFIG}; bootstrap a new repository."
        )


def _set_wal(path: Path) -> None:
    """Put a new repository's SQLite registry in write-ahead-log mode."""
    database = path / "gen3.sqlite3"
    if not database.is_file():
        return
    with contextlib.closing(sqlite3.connect(database, timeout=60.0)) as connection:
        mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise RepositoryError(f"Cannot put the registry {database} in WAL mode (got {mode!r}).")


def _check_registry(root: Path, registry_db: str) -> None:
    """Raise `RepositoryError` if an existing repository's registry is not ``registry_db``."""
    names = [name for name in _CONFIG_NAMES if (root / name).is_file()]
    config = Config(str(root / names[0]))
    have = str(config.get(("registry", "db"), "")) if "registry" in config else ""
    wanted = RegistryDatabase.for_repository(registry_db, root).url
    if have.startswith("sqlite") or not have:
        raise RepositoryError(
            f"Butler repository {root} exists with a SQLite registry, not {wanted.render_as_string()}: "
            "a registry database applies to new repositories; give a new path (or no registry_db)."
        )
    existing = sqlalchemy.engine.make_url(have)
    if (existing.host, existing.port, existing.database) != (wanted.host, wanted.port, wanted.database):
        raise RepositoryError(
            f"Butler repository {root} exists with the registry {existing.render_as_string()}, not "
            f"{wanted.render_as_string()}: give a new path, or its own registry URL."
        )


def registry_description(path: str | os.PathLike[str]) -> str:
    """Describe a repository's registry for people: ``SQLite`` or ``URL (schema NAME)``.

    Parameters
    ----------
    path : `str` or `os.PathLike`
        Repository root.

    Returns
    -------
    description : `str`
        "SQLite" or the PostgreSQL URL (password hidden) and schema.

    Raises
    ------
    RepositoryError
        If the path is not a butler repository.
    """
    root = Path(path).expanduser().absolute()
    names = [name for name in _CONFIG_NAMES if (root / name).is_file()]
    if not names:
        raise RepositoryError(f"{root} is not a butler repository (no butler.yaml).")
    config = Config(str(root / names[0]))
    db = str(config.get(("registry", "db"), "")) if "registry" in config else ""
    if not db or db.startswith("sqlite"):
        return "SQLite"
    url = sqlalchemy.engine.make_url(db)
    return f"{url.render_as_string()} (schema {config.get(('registry', 'namespace'), 'default')})"


def bootstrap_repository(
    path: str | os.PathLike[str],
    *,
    exist_ok: bool = True,
    registry_db: str | None = None,
    registry_namespace: str | None = None,
    instrument: str = INSTRUMENT_NAME,
) -> Butler:
    """Create (or complete) an instrument's butler repository and return a writeable butler.

    Idempotent: bootstrapping an existing repository of the instrument only
    adds what is missing and never changes what is there.

    Parameters
    ----------
    path : `str` or `os.PathLike`
        Repository root. Created if missing; an existing empty directory is
        used.
    exist_ok : `bool`, optional
        Accept an existing repository (the default). If false, an existing
        repository is an error.
    registry_db : `str`, optional
        Registry database of a new repository:
        ``postgresql://USER@HOST:PORT/DATABASE`` puts it in a new schema of
        that PostgreSQL database (no password in the URL: daf_butler reads
        it from ``~/.lsst/db-auth.yaml``); "" gives a SQLite registry in
        the repository; None (the default) takes the environment variable
        ``TS_CALIBRATIONS_REGISTRY_DB``, SQLite if it is unset or empty.
        Given explicitly for an existing repository, it must be that
        repository's database.
    registry_namespace : `str`, optional
        Schema of a new PostgreSQL registry (default: made from the
        directory name and a random suffix, so every new repository has its
        own). Ignored for SQLite.
    instrument : `str`, optional
        "LSSTComCam" (default), "LSSTCam" or "LATISS".

    Returns
    -------
    butler : `lsst.daf.butler.Butler`
        A writeable butler on the repository, default run ``<instrument>/raw/all``.

    Raises
    ------
    RepositoryError
        Raised, leaving the path untouched, if the path is a file or a
        non-empty directory that is not a butler repository, if it is a
        repository of another instrument, if it exists and ``exist_ok``
        is false, or if the repository lacks this package's storage classes;
        if ``registry_db`` is not a usable PostgreSQL database (the message
        says why), or is given and differs from an existing repository's.
    """
    instrument_object = get_instrument(instrument)
    root = Path(path).expanduser().absolute()
    url = resolve_registry_db(registry_db)
    if root.exists() and not root.is_dir():
        raise RepositoryError(f"{root} exists and is not a directory: give a new or empty directory.")
    if root.is_dir() and _is_repository(root):
        if not exist_ok:
            raise RepositoryError(f"Butler repository {root} already exists (exist_ok=False).")
        if registry_db:
            _check_registry(root, registry_db)
        butler = Butler.from_config(str(root), writeable=True)
        try:
            _check_instruments(butler, str(root), require=False, instrument=instrument)
            _check_storage_classes(root)
        except RepositoryError:
            butler.close()
            raise
    elif root.is_dir() and any(root.iterdir()):
        raise RepositoryError(
            f"{root} exists, is not empty and is not a butler repository (no butler.yaml): "
            "give a repository, a new path or an empty directory."
        )
    else:
        config = Config(SEED_CONFIG)
        if url is not None:
            database = RegistryDatabase.for_repository(url, root, registry_namespace)
            database.prepare()
            config["registry"] = database.registry_config()
        Butler.makeRepo(str(root), config=config)
        _set_wal(root)
        butler = Butler.from_config(str(root), writeable=True)
    raw_type = DatasetType(
        "raw", ("instrument", "exposure", "detector"), "ComCamRawImage", universe=butler.dimensions
    )
    try:
        registry = butler.registry
        # Table creation (a new dataset type) cannot run inside a transaction.
        registry.registerDatasetType(raw_type)
        with registry.transaction():
            instrument_object.register(registry)
            registry.registerCollection(raw_run(instrument), CollectionType.RUN)
            registry.registerCollection(certified_collection(instrument), CollectionType.CALIBRATION)
            if registry.registerCollection(calib_chain(instrument), CollectionType.CHAINED):
                registry.setCollectionChain(calib_chain(instrument), [certified_collection(instrument)])
        # The butler that bootstrapped is returned, writing to the raw run by default, as
        # Butler.from_config(..., run=...) would make it: opening another costs as much again.
        registry.defaults = RegistryDefaults(run=raw_run(instrument))
    except BaseException:
        butler.close()
        raise
    return butler


def open_repository(
    path_or_alias: str | os.PathLike[str],
    *,
    writeable: bool = False,
    collections: str | list[str] | None = None,
    run: str | None = None,
    instrument: str = INSTRUMENT_NAME,
) -> Butler:
    """Open an existing repository of an instrument by path or repository-index alias.

    Parameters
    ----------
    path_or_alias : `str` or `os.PathLike`
        Repository root, its ``butler.yaml``, or an alias from the butler
        repository index (``DAF_BUTLER_REPOSITORY_INDEX``).
    writeable : `bool`, optional
        Open for writing.
    collections : `str` or `list` [`str`], optional
        Default collections to search.
    run : `str`, optional
        Default output RUN (implies ``writeable``).
    instrument : `str`, optional
        Instrument the repository must hold; "LSSTComCam" by default.

    Returns
    -------
    butler : `lsst.daf.butler.Butler`
        The butler.

    Raises
    ------
    RepositoryError
        Raised, leaving the path untouched, if it is not a butler
        repository (or a known alias), or if the repository has no
        LSSTComCam instrument.
    """
    text = os.fspath(path_or_alias)
    candidate = Path(text).expanduser()
    if text in read_repository_index():
        # A label of the repository index, such as /repo/LSSTComCam: daf_butler
        # looks labels up before paths, as pipetask -b does.
        target = text
    elif candidate.exists():
        root = candidate.absolute()
        if root.is_dir() and not _is_repository(root):
            raise RepositoryError(
                f"{root} is not a butler repository (no butler.yaml): "
                "give a repository path or create one with bootstrap_repository."
            )
        if root.is_file() and root.name not in _CONFIG_NAMES:
            raise RepositoryError(f"{root} is a file, not a butler repository or its butler.yaml.")
        target = str(root)
    elif os.sep in text or text.startswith("."):
        raise RepositoryError(
            f"Butler repository {text} does not exist: create it with bootstrap_repository."
        )
    else:
        target = text
    try:
        butler = Butler.from_config(
            target, writeable=writeable or run is not None, collections=collections, run=run
        )
    except Exception as e:
        raise RepositoryError(
            f"Cannot open butler repository {text!r} (not a repository path nor a known alias): {e}"
        ) from e
    try:
        _check_instruments(butler, text, require=True, instrument=instrument)
    except RepositoryError:
        butler.close()
        raise
    return butler
