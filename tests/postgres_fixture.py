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

"""Pytest fixtures for PostgreSQL-backed butler repositories.

Registered by ``tests/conftest.py`` (``pytest_plugins``).

- ``postgres_cluster`` (session): a throwaway cluster (`PostgresCluster`),
  started on first use and removed at the end of the session. Under
  pytest-xdist the workers share one: the first worker that needs it starts
  it, the others attach to it, and the last one to end its session stops it
  (`shared_cluster`). Each repository has a schema of its own, so the
  workers' registries never meet.
- ``postgres_registry_db`` (session): the URL of a PostgreSQL database for
  registries. ``TS_CALIBRATIONS_TEST_POSTGRES_URL`` names an existing one;
  otherwise the ``butler`` database of ``postgres_cluster``.

  Without PostgreSQL the tests that need it are skipped, saying why,
  unless ``TS_CALIBRATIONS_REQUIRE_POSTGRES=1`` (set by ``.ci/run``): then
  they fail.
- ``registry_everywhere`` (session, automatic): with
  ``TS_CALIBRATIONS_TEST_REGISTRY=postgresql`` every repository the tests
  bootstrap without naming a registry goes on PostgreSQL: the session
  sets ``TS_CALIBRATIONS_REGISTRY_DB`` (inherited by the processes tests
  start) to ``postgres_registry_db``, which is then required. ``.ci/run``
  runs some of the script's end-to-end tests so, after the whole suite.
- ``registry_db``: the ``registry_db`` argument of `bootstrap_repository
  <lsst.ts.calibrations.repo.repository.bootstrap_repository>` for a
  test's repositories: None (the default registry) unless the test is
  marked `BOTH_REGISTRIES`, which runs it twice, with "" (SQLite) and
  with the PostgreSQL URL.
"""

__all__ = [
    "BACKEND_ENV_VAR",
    "BOTH_REGISTRIES",
    "REQUIRE_ENV_VAR",
    "URL_ENV_VAR",
    "postgres_cluster",
    "postgres_registry_db",
    "registry_db",
    "registry_everywhere",
    "shared_cluster",
]

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from postgres_cluster import PostgresCluster, PostgresUnavailableError

REQUIRE_ENV_VAR = "TS_CALIBRATIONS_REQUIRE_POSTGRES"
"""Set to 1: a missing PostgreSQL fails the tests that need it instead of skipping them."""

URL_ENV_VAR = "TS_CALIBRATIONS_TEST_POSTGRES_URL"
"""An existing PostgreSQL database for the tests' registries (its account may create schemas)."""

BACKEND_ENV_VAR = "TS_CALIBRATIONS_TEST_REGISTRY"
"""Set to ``postgresql``: the session's repositories get PostgreSQL registries by default."""


@pytest.fixture(scope="session")
def postgres_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    """Return a throwaway PostgreSQL cluster, started on first use, removed at the end.

    Under pytest-xdist, one for the workers of the run (`shared_cluster`):
    a cluster costs seconds to make and start.
    """
    try:
        cluster = PostgresCluster()
    except PostgresUnavailableError as e:
        if os.environ.get(REQUIRE_ENV_VAR) == "1" or _everywhere():
            pytest.fail(f"PostgreSQL is required here ({REQUIRE_ENV_VAR}=1) but not available: {e}")
        pytest.skip(f"PostgreSQL not available: {e}")
    if "PYTEST_XDIST_WORKER" not in os.environ:
        with cluster:
            yield cluster
        return
    # A worker's base temporary folder is in the run's own, which every worker of the run shares.
    run_folder = tmp_path_factory.getbasetemp().parent
    with shared_cluster(cluster, run_folder, os.environ["PYTEST_XDIST_WORKER"]):
        yield cluster


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (made if missing) inside the block."""
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    """Is process ``pid`` running?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it runs, as another user
    return True


@contextlib.contextmanager
def shared_cluster(cluster: PostgresCluster, folder: Path, user: str) -> Iterator[PostgresCluster]:
    """Use one cluster among the processes of a test run, started by the first, stopped by the last.

    ``folder/postgres.json`` (under the lock ``folder/postgres.lock``) names
    the running cluster and its users (process ids, by name). The first user
    starts ``cluster``; a later one attaches ``cluster`` to it
    (`PostgresCluster.attach`). On leaving, a user that finds no other live
    user stops the cluster and removes it; a user that ended without leaving
    (a killed worker) is not waited for.

    Parameters
    ----------
    cluster : `PostgresCluster`
        A cluster not yet started.
    folder : `pathlib.Path`
        A folder of the test run that every process of the run sees.
    user : `str`
        This process's name in the run (pytest-xdist's ``gw0``, ...).

    Yields
    ------
    cluster : `PostgresCluster`
        ``cluster``, started or attached.
    """
    lock = folder / "postgres.lock"
    state_path = folder / "postgres.json"
    with _locked(lock):
        state = json.loads(state_path.read_text()) if state_path.is_file() else None
        users = {name: pid for name, pid in (state or {}).get("users", {}).items() if _alive(pid)}
        if state is not None and users:
            cluster.attach(Path(state["directory"]), int(state["port"]))
        else:
            cluster.start()
            state = {"directory": str(cluster.directory), "port": cluster.port}
        users[user] = os.getpid()
        state_path.write_text(json.dumps({**state, "users": users}))
    try:
        yield cluster
    finally:
        with _locked(lock):
            state = json.loads(state_path.read_text())
            others = {name: pid for name, pid in state["users"].items() if name != user and _alive(pid)}
            if others:
                state_path.write_text(json.dumps({**state, "users": others}))
                cluster.detach()
            else:
                state_path.unlink()
                cluster.stop()


@pytest.fixture(scope="session")
def postgres_registry_db(request: pytest.FixtureRequest) -> str:
    """Return the URL of a PostgreSQL database for butler registries.

    ``TS_CALIBRATIONS_TEST_POSTGRES_URL``, or the ``butler`` database of
    ``postgres_cluster``. Each repository bootstrapped on it gets its own
    schema, so tests share the database without meeting each other's
    tables.
    """
    external = os.environ.get(URL_ENV_VAR, "").strip()
    if external:
        return external
    return str(request.getfixturevalue("postgres_cluster").url)


def _everywhere() -> bool:
    """Return whether the session puts every repository on PostgreSQL (raise if the value is bad)."""
    backend = os.environ.get(BACKEND_ENV_VAR, "").strip()
    if backend not in ("", "sqlite", "postgresql"):
        raise pytest.UsageError(f"{BACKEND_ENV_VAR}={backend!r}: use 'sqlite' (the default) or 'postgresql'.")
    return backend == "postgresql"


@pytest.fixture(scope="session", autouse=True)
def registry_everywhere(request: pytest.FixtureRequest) -> Iterator[None]:
    """With ``TS_CALIBRATIONS_TEST_REGISTRY=postgresql``, default new repositories to PostgreSQL."""
    if not _everywhere():
        yield
        return
    # Imported here: the butler's import is not for every session's start.
    from lsst.ts.calibrations.repo.registry_database import REGISTRY_DB_ENV_VAR

    url = str(request.getfixturevalue("postgres_registry_db"))
    before = os.environ.get(REGISTRY_DB_ENV_VAR)
    os.environ[REGISTRY_DB_ENV_VAR] = url
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(REGISTRY_DB_ENV_VAR, None)
        else:
            os.environ[REGISTRY_DB_ENV_VAR] = before


BOTH_REGISTRIES = pytest.mark.parametrize("registry_db", ["sqlite", "postgresql"], indirect=True)
"""Mark: run the test with a SQLite and with a PostgreSQL registry (fixture ``registry_db``)."""


@pytest.fixture
def registry_db(request: pytest.FixtureRequest) -> str | None:
    """Return the ``registry_db`` of a test's new repositories.

    None (the default: ``TS_CALIBRATIONS_REGISTRY_DB`` or SQLite) unless
    parametrized (`BOTH_REGISTRIES`): "" for ``sqlite``, the URL of
    ``postgres_registry_db`` for ``postgresql``.
    """
    backend = getattr(request, "param", None)
    if backend is None:
        return None
    if backend == "sqlite":
        return ""
    if backend == "postgresql":
        return str(request.getfixturevalue("postgres_registry_db"))
    raise ValueError(f"registry_db parameter {backend!r} must be 'sqlite' or 'postgresql'.")
