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

"""A PostgreSQL registry for a new butler repository.

The observatory's repositories keep their registry in PostgreSQL, where
many writers on many machines share it; a SQLite file in the repository
(daf_butler's default, and this package's) serves one machine. A new
repository gets a PostgreSQL registry when `bootstrap_repository
<lsst.ts.calibrations.repo.repository.bootstrap_repository>` is given a
database URL (``registry_db``, or the environment variable
``TS_CALIBRATIONS_REGISTRY_DB``), ``postgresql://USER@HOST:PORT/DATABASE``.
Each repository has its own schema (daf_butler's ``namespace``) in that
database, so one server holds many repositories; the URL and the schema
are written into the repository's ``butler.yaml``, and everything after
the bootstrap opens the repository by its path, as with SQLite.

A password does not belong in the URL (it would be written into
``butler.yaml``): daf_butler reads it from ``~/.lsst/db-auth.yaml``.
"""

__all__ = ["REGISTRY_DB_ENV_VAR", "RegistryDatabase", "resolve_registry_db"]

import dataclasses
import os
import re
import secrets
from pathlib import Path
from typing import Any

import sqlalchemy
from lsst.daf.butler.registry import RegistryConfig
from lsst.utils.db_auth import DbAuthError

from .errors import RepositoryError

REGISTRY_DB_ENV_VAR = "TS_CALIBRATIONS_REGISTRY_DB"
"""Environment variable: the registry database URL of new repositories
(unset or empty: a SQLite registry in the repository)."""

DEFAULT_DRIVER = "psycopg2"
"""DB-API driver of a URL that names none (SQLAlchemy 2.1 would pick psycopg 3)."""

_MAX_NAMESPACE = 63
"""PostgreSQL's longest identifier."""


def resolve_registry_db(registry_db: str | None) -> str | None:
    """Return the registry database URL a new repository should use.

    Parameters
    ----------
    registry_db : `str` or `None`
        A database URL; "" for a SQLite registry in the repository; None
        for the value of ``TS_CALIBRATIONS_REGISTRY_DB`` (SQLite if it is
        unset or empty).

    Returns
    -------
    url : `str` or `None`
        The URL, or None for SQLite.
    """
    if registry_db is None:
        registry_db = os.environ.get(REGISTRY_DB_ENV_VAR, "")
    return registry_db.strip() or None


def _namespace_for(root: Path) -> str:
    """Return a new schema name for the repository at ``root``.

    The repository's directory name (lower case, letters, digits and
    underscores) and a random suffix, so a repository made again at the
    same path never meets the tables of an earlier one.
    """
    stem = re.sub(r"[^a-z0-9]+", "_", root.name.lower()).strip("_") or "repo"
    suffix = secrets.token_hex(4)
    return f"comcam_{stem[: _MAX_NAMESPACE - len(suffix) - 8]}_{suffix}"


@dataclasses.dataclass(frozen=True)
class RegistryDatabase:
    """The PostgreSQL database and schema of a new repository's registry.

    Make one with `for_repository`.

    Parameters
    ----------
    url : `sqlalchemy.engine.URL`
        The database, its driver named.
    namespace : `str`
        The schema holding this repository's tables.
    """

    url: sqlalchemy.engine.URL
    namespace: str

    @classmethod
    def for_repository(cls, registry_db: str, root: Path, namespace: str | None = None) -> "RegistryDatabase":
        """Check a registry URL and choose the schema of a new repository.

        Parameters
        ----------
        registry_db : `str`
            ``postgresql://[USER@]HOST[:PORT]/DATABASE`` (a driver may be
            named, ``postgresql+psycopg2://``; psycopg2 if none).
        root : `pathlib.Path`
            The repository root; its name starts the schema's name.
        namespace : `str`, optional
            The schema; by default ``comcam_<directory name>_<8 hex digits>``.

        Returns
        -------
        database : `RegistryDatabase`
            The database and schema.

        Raises
        ------
        RepositoryError
            If the URL cannot be parsed, is not a PostgreSQL URL with a
            database name, or holds a password; or if ``namespace`` is not
            a lower-case identifier.
        """
        try:
            url = sqlalchemy.engine.make_url(registry_db)
        except sqlalchemy.exc.ArgumentError as e:
            raise RepositoryError(
                f"registry_db {registry_db!r} is not a database URL: "
                "give postgresql://USER@HOST:PORT/DATABASE (or nothing for SQLite in the repository)."
            ) from e
        if url.get_backend_name() != "postgresql":
            raise RepositoryError(
                f"registry_db {url.render_as_string()!r} is a {url.get_backend_name()} URL: give "
                "postgresql://USER@HOST:PORT/DATABASE, or nothing for the default SQLite registry in the "
                "repository."
            )
        if not url.database:
            raise RepositoryError(
                f"registry_db {url.render_as_string()!r} names no database: "
                "give postgresql://USER@HOST:PORT/DATABASE."
            )
        if url.password is not None:
            raise RepositoryError(
                f"registry_db {url.render_as_string()!r} holds a password, which would be written into "
                "the repository's butler.yaml: leave it out and put it in ~/.lsst/db-auth.yaml "
                "(mode 600), where daf_butler looks for it."
            )
        if "+" not in url.drivername:
            url = url.set(drivername=f"postgresql+{DEFAULT_DRIVER}")
        if namespace is None:
            namespace = _namespace_for(root)
        elif not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", namespace):
            raise RepositoryError(
                f"registry namespace {namespace!r} must be a lower-case PostgreSQL identifier "
                "(letters, digits, underscores; at most 63 characters; not starting with a digit)."
            )
        return cls(url=url, namespace=namespace)

    @property
    def display(self) -> str:
        """The URL and schema as text for messages: ``URL (schema NAME)``."""
        return f"{self.url.render_as_string()} (schema {self.namespace})"

    def registry_config(self) -> dict[str, Any]:
        """Return the ``registry`` section of the repository's configuration.

        Returns
        -------
        config : `dict` [`str`, `typing.Any`]
            ``db`` (the URL) and ``namespace`` (the schema).
        """
        return {"db": self.url.render_as_string(hide_password=False), "namespace": self.namespace}

    def prepare(self) -> None:
        """Check the server before a repository is made on it.

        Connects (with daf_butler's credentials lookup, as the butler
        will), makes sure the database has the ``btree_gist`` extension
        daf_butler needs (creating it if this account may), and that the
        schema does not exist yet.

        Raises
        ------
        RepositoryError
            If the credentials file is unreadable or too open, the server
            cannot be reached, the extension is missing and cannot be
            created, or the schema already exists.
        """
        try:
            connect_url = RegistryConfig(
                {"db": self.url.render_as_string(hide_password=False)}
            ).connectionString
        except DbAuthError as e:
            raise RepositoryError(
                f"Cannot read the credentials of {self.url.render_as_string()} from the db-auth file "
                f"(~/.lsst/db-auth.yaml or $LSST_DB_AUTH): {e}"
            ) from e
        engine = sqlalchemy.create_engine(connect_url, poolclass=sqlalchemy.pool.NullPool)
        try:
            with engine.connect() as connection:
                has_extension = connection.execute(
                    sqlalchemy.text("SELECT COUNT(*) FROM pg_extension WHERE extname = 'btree_gist'")
                ).scalar()
                if not has_extension:
                    try:
                        connection.execute(sqlalchemy.text("CREATE EXTENSION IF NOT EXISTS btree_gist"))
                        connection.commit()
                    except sqlalchemy.exc.DBAPIError as e:
                        raise RepositoryError(
                            f"The registry database {self.url.render_as_string()} lacks the btree_gist "
                            "extension that daf_butler needs, and this account may not create it: ask its "
                            f"administrator to run `CREATE EXTENSION btree_gist;` in it ({_first_line(e)})."
                        ) from e
                exists = connection.execute(
                    sqlalchemy.text(
                        "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = :name"
                    ),
                    {"name": self.namespace},
                ).scalar()
        except sqlalchemy.exc.DBAPIError as e:
            raise RepositoryError(
                f"Cannot use the registry database {self.url.render_as_string()}: {_first_line(e)}"
            ) from e
        finally:
            engine.dispose()
        if exists:
            raise RepositoryError(
                f"The registry database already has a schema {self.namespace!r}: give a new namespace "
                "(each repository needs its own)."
            )


def _first_line(error: sqlalchemy.exc.DBAPIError) -> str:
    """Return the first line of the driver's message."""
    text = str(error.orig) if error.orig is not None else str(error)
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__
