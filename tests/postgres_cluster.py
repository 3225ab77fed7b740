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

"""A throwaway PostgreSQL cluster for butler registries in tests.

`PostgresCluster` runs Debian's PostgreSQL server binaries (``initdb``,
``pg_ctl``) on a new cluster in a new directory (in ``/dev/shm`` when it
has room, else in the temporary directory), listening on
127.0.0.1 at a free port with ``trust`` authentication (no password), and
makes one database, ``butler``, with the ``btree_gist`` extension that
daf_butler's PostgreSQL registry needs. Stopping it removes everything.

PostgreSQL refuses to run as root: as root (CI), the cluster belongs to the
``postgres`` account that Debian's package creates, and the server runs as
that user; otherwise it runs as the current user.

Run as a program it starts a cluster, prints the registry URL and serves
until interrupted::

    python tests/postgres_cluster.py
    run_one_script ... --simulate --repo /tmp/repo --registry-db URL
"""

__all__ = ["PostgresCluster", "PostgresUnavailableError"]

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import types
from pathlib import Path

DATABASE = "butler"
"""The database made for butler registries."""

DRIVER = "postgresql+psycopg2"
"""SQLAlchemy dialect and driver of this cluster's own connections."""

SUPERUSER = "postgres"
"""The cluster's superuser (``initdb -U``); trust authentication, no password."""

SERVER_SETTINGS = {
    # A throwaway cluster: durability is not wanted, speed is.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    # Every butler (pipetask, OCPS workers, readers) holds its own connections.
    "max_connections": "300",
    "shared_buffers": "64MB",
}

SHM_MIN_FREE = 2 * 1024**3
"""Bytes free on /dev/shm for the cluster to go there (a few hundred MB for a test session)."""

START_TIMEOUT = 60
"""Seconds ``pg_ctl start`` and ``stop`` wait for the server."""


class PostgresUnavailableError(RuntimeError):
    """The PostgreSQL server binaries or the client library are missing."""


def _find_bindir() -> Path:
    """Return the directory of ``initdb``, ``pg_ctl`` and ``postgres``.

    That of ``initdb`` on ``PATH`` first, then Debian's
    ``/usr/lib/postgresql/VERSION/bin`` (newest version first), where the
    ``postgresql`` package puts them.
    """
    candidates = []
    initdb = shutil.which("initdb")
    if initdb is not None:
        candidates.append(Path(os.path.realpath(initdb)).parent)
    debian = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")]
    candidates += sorted(
        debian, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True
    )
    for bindir in candidates:
        if all((bindir / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return bindir
    raise PostgresUnavailableError(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH nor in "
        "/usr/lib/postgresql/*/bin: install Debian's postgresql package (.ci/run does, as root)."
    )


def _free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresCluster:
    """A private PostgreSQL cluster in a temporary directory.

    Parameters
    ----------
    parent : `str` or `None`, optional
        Directory in which to make the cluster's directory (default:
        ``/dev/shm`` if it has room, else the system's temporary directory,
        ``/tmp`` as root). As root, the ``postgres`` account must be able to
        reach it.

    Attributes
    ----------
    url : `str`
        Registry URL of the ``butler`` database,
        ``postgresql://postgres@127.0.0.1:PORT/butler`` (set by `start`).
    port : `int`
        The server's TCP port (set by `start`).
    directory : `pathlib.Path` or `None`
        The cluster's directory: ``data/`` and ``server.log`` (set by
        `start`, None once stopped).

    Raises
    ------
    PostgresUnavailableError
        On construction, if the server binaries, psycopg2, or (as root) the
        ``postgres`` account are missing.
    """

    def __init__(self, parent: str | None = None) -> None:
        self.bindir = _find_bindir()
        try:
            import psycopg2  # noqa: F401
        except ImportError as e:
            raise PostgresUnavailableError(
                "psycopg2 is not installed: pip install psycopg2-binary (a dependency of this package)."
            ) from e
        self._user: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(SUPERUSER)
            except KeyError as e:
                raise PostgresUnavailableError(
                    "PostgreSQL refuses to run as root and there is no 'postgres' account to run it as: "
                    "install Debian's postgresql package, which creates it."
                ) from e
            self._user = SUPERUSER
        self.parent = parent
        self.directory: Path | None = None
        self.port = 0
        self.url = ""

    @property
    def _engine_url(self) -> str:
        """`url` with the driver named (SQLAlchemy 2.1 defaults to psycopg 3)."""
        return self.url.replace("postgresql://", f"{DRIVER}://", 1)

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        if self.directory is None:
            raise RuntimeError("The cluster is not started.")
        return self.directory / "server.log"

    def _parent_directory(self) -> str | None:
        """Return where to make the cluster's directory.

        ``parent`` if given; else ``/dev/shm`` when it is a memory file
        system with room to spare (the cluster's thousands of small files
        are made and removed there without waiting for a busy disk); else
        the temporary directory, ``/tmp`` as root (the postgres account
        must reach it, which a private TMPDIR under /root would not let it).
        """
        if self.parent is not None:
            return self.parent
        shm = "/dev/shm"
        if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
            stats = os.statvfs(shm)
            if stats.f_bavail * stats.f_frsize >= SHM_MIN_FREE:
                return shm
        return "/tmp" if self._user is not None else None

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a server binary as the cluster's owner; raise with its output on failure."""
        argv = [str(self.bindir / args[0]), *args[1:]]
        result = subprocess.run(
            argv,
            user=self._user,
            # As root: the account's own group, none of root's groups.
            group=pwd.getpwnam(self._user).pw_gid if self._user is not None else None,
            extra_groups=[] if self._user is not None else None,
            cwd=self.directory,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT + 30,
            env={**os.environ, "LC_ALL": "C.UTF-8"},
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} exited with {result.returncode}:\n{result.stdout}{result.stderr}"
            )
        return result

    def start(self) -> str:
        """Make the cluster, start the server and create the ``butler`` database.

        Returns
        -------
        url : `str`
            The registry URL of the ``butler`` database.

        Raises
        ------
        RuntimeError
            If ``initdb`` or the server fails (with their output).
        """
        if self.directory is not None:
            return self.url
        self.directory = Path(tempfile.mkdtemp(prefix="ts-calib-pg-", dir=self._parent_directory()))
        try:
            if self._user is not None:
                account = pwd.getpwnam(self._user)
                os.chown(self.directory, account.pw_uid, account.pw_gid)
            data = self.directory / "data"
            self._run("initdb", "-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-sync")
            # Port races with other processes: take another port if the bind fails.
            for attempt in range(5):
                self.port = _free_port()
                settings = {
                    **SERVER_SETTINGS,
                    "port": str(self.port),
                    "listen_addresses": "'127.0.0.1'",
                    "unix_socket_directories": f"'{self.directory}'",
                }
                with open(data / "postgresql.auto.conf", "a") as conf:
                    conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
                started = self._run(
                    "pg_ctl",
                    "-D",
                    str(data),
                    "-l",
                    str(self.log_path),
                    "-w",
                    "-t",
                    str(START_TIMEOUT),
                    "start",
                    check=False,
                )
                if started.returncode == 0:
                    break
                if "could not bind" not in self.log_path.read_text() or attempt == 4:
                    raise RuntimeError(
                        f"pg_ctl start failed ({started.returncode}):\n{started.stdout}{started.stderr}\n"
                        f"server log:\n{self.log_path.read_text()}"
                    )
            import sqlalchemy

            admin = sqlalchemy.create_engine(
                f"{DRIVER}://{SUPERUSER}@127.0.0.1:{self.port}/postgres", isolation_level="AUTOCOMMIT"
            )
            with admin.connect() as connection:
                connection.execute(sqlalchemy.text(f"CREATE DATABASE {DATABASE}"))
            admin.dispose()
            self.url = f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"
            engine = sqlalchemy.create_engine(self._engine_url, isolation_level="AUTOCOMMIT")
            with engine.connect() as connection:
                connection.execute(sqlalchemy.text("CREATE EXTENSION btree_gist"))
            engine.dispose()
        except BaseException:
            self.stop()
            raise
        return self.url

    def attach(self, directory: Path, port: int) -> str:
        """Use a cluster that another `PostgresCluster` started (in another process).

        The cluster stays that object's: stop it there, and `detach` this one.

        Parameters
        ----------
        directory : `pathlib.Path`
            The cluster's directory (the other object's `directory`).
        port : `int`
            Its server's TCP port.

        Returns
        -------
        url : `str`
            The registry URL of the ``butler`` database.

        Raises
        ------
        RuntimeError
            If this object has a cluster already, or no server runs in ``directory``.
        """
        if self.directory is not None:
            raise RuntimeError(f"This object already has the cluster in {self.directory}.")
        if not (directory / "data" / "postmaster.pid").is_file():
            raise RuntimeError(f"No PostgreSQL server runs in {directory}.")
        self.directory = directory
        self.port = port
        self.url = f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{DATABASE}"
        return self.url

    def detach(self) -> None:
        """Forget an attached cluster (`attach`) without stopping it. Idempotent."""
        self.directory = None
        self.port = 0
        self.url = ""

    def stop(self) -> None:
        """Stop the server (immediate shutdown: nothing to keep) and remove the cluster. Idempotent."""
        if self.directory is None:
            return
        try:
            data = self.directory / "data"
            if (data / "postmaster.pid").is_file():
                self._run(
                    "pg_ctl", "-D", str(data), "-m", "immediate", "-w", "-t", str(START_TIMEOUT), "stop"
                )
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
            self.url = ""

    def add_password_role(self, name: str, password: str) -> str:
        """Add an account that must give a password, allowed to make schemas in ``butler``.

        Parameters
        ----------
        name : `str`
            The account (a lower-case identifier).
        password : `str`
            Its password (scram-sha-256 over TCP).

        Returns
        -------
        url : `str`
            ``postgresql://NAME@127.0.0.1:PORT/butler``, without the password.
        """
        import sqlalchemy

        if self.directory is None:
            raise RuntimeError("The cluster is not started.")
        engine = sqlalchemy.create_engine(self._engine_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(
                    sqlalchemy.text(f"CREATE ROLE {name} LOGIN PASSWORD :password"), {"password": password}
                )
                connection.execute(sqlalchemy.text(f"GRANT CREATE ON DATABASE {DATABASE} TO {name}"))
        finally:
            engine.dispose()
        # pg_hba.conf is read top down: this account's line goes before initdb's trust lines.
        hba = self.directory / "data" / "pg_hba.conf"
        hba.write_text(f"host all {name} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        self._run("pg_ctl", "-D", str(self.directory / "data"), "reload")
        return f"postgresql://{name}@127.0.0.1:{self.port}/{DATABASE}"

    def schemas(self) -> list[str]:
        """Return the names of the schemas of the ``butler`` database, sorted.

        Returns
        -------
        schemas : `list` [`str`]
            Every schema but PostgreSQL's own.
        """
        import sqlalchemy

        engine = sqlalchemy.create_engine(self._engine_url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    sqlalchemy.text(
                        "SELECT schema_name FROM information_schema.schemata "
                        "WHERE schema_name NOT LIKE 'pg_%' AND schema_name <> 'information_schema'"
                    )
                )
                return sorted(str(row[0]) for row in rows)
        finally:
            engine.dispose()

    def __enter__(self) -> "PostgresCluster":
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.stop()


def main() -> int:
    """Start a cluster, print its registry URL, serve until interrupted."""
    with PostgresCluster() as cluster:
        print(cluster.url, flush=True)
        print("Serving; interrupt (Ctrl-C) to stop and remove the cluster.", file=sys.stderr, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main())
