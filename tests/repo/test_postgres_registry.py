"""Repositories with a PostgreSQL registry: bootstrap, one schema each, and the errors that name the fix."""

import secrets
from pathlib import Path

import pytest
import sqlalchemy
import yaml
from lsst.daf.butler import Butler, CollectionType, Config

from lsst.ts.calibrations.repo.errors import RepositoryError
from lsst.ts.calibrations.repo.registry_database import (
    REGISTRY_DB_ENV_VAR,
    RegistryDatabase,
    resolve_registry_db,
)
from lsst.ts.calibrations.repo.repository import (
    CALIB_CHAIN,
    CERTIFIED_COLLECTION,
    RAW_RUN,
    bootstrap_repository,
    open_repository,
    registry_description,
)
from postgres_cluster import PostgresCluster


def schemas(url: str) -> set[str]:
    engine = sqlalchemy.create_engine(RegistryDatabase.for_repository(url, Path("x")).url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sqlalchemy.text("SELECT schema_name FROM information_schema.schemata"))
            return {str(row[0]) for row in rows}
    finally:
        engine.dispose()


@pytest.mark.slow
def test_bootstrap_on_postgresql(tmp_path: Path, postgres_registry_db: str) -> None:
    root = tmp_path / "Daily Repo"
    with bootstrap_repository(root, registry_db=postgres_registry_db) as butler:
        assert butler.run == RAW_RUN
        assert len(butler.query_dimension_records("detector")) == 9
        assert butler.collections.get_info(CALIB_CHAIN).children == (CERTIFIED_COLLECTION,)
    # The registry is in its own schema, written into butler.yaml; no SQLite file.
    config = Config(str(root / "butler.yaml"))
    namespace = config["registry", "namespace"]
    assert namespace.startswith("comcam_daily_repo_") and len(namespace) == len("comcam_daily_repo_") + 8
    assert config["registry", "db"].startswith("postgresql+psycopg2://")
    assert not (root / "gen3.sqlite3").exists()
    assert namespace in schemas(postgres_registry_db)
    assert registry_description(root).endswith(f"/butler (schema {namespace})")
    # Bootstrapping again (with or without the URL) only opens it.
    for again in (postgres_registry_db, None):
        with bootstrap_repository(root, registry_db=again) as butler:
            butler.collections.register("LSSTComCam/calib/20241024", CollectionType.CALIBRATION)
    # Opened by path, as pipetask and the script do.
    with open_repository(root) as butler:
        assert "LSSTComCam/calib/20241024" in butler.collections.query("*")
    # A second repository at the same path name gets another schema: nothing shared.
    other = tmp_path / "other" / "Daily Repo"
    with bootstrap_repository(other, registry_db=postgres_registry_db) as butler:
        assert "LSSTComCam/calib/20241024" not in butler.collections.query("*")
    assert Config(str(other / "butler.yaml"))["registry", "namespace"] != namespace
    # A repository made with a given schema name refuses a second one with it.
    fixed = f"test_{secrets.token_hex(6)}"
    with bootstrap_repository(tmp_path / "fixed", registry_db=postgres_registry_db, registry_namespace=fixed):
        pass
    assert Config(str(tmp_path / "fixed" / "butler.yaml"))["registry", "namespace"] == fixed
    with pytest.raises(RepositoryError, match=f"already has a schema '{fixed}'"):
        bootstrap_repository(tmp_path / "fixed2", registry_db=postgres_registry_db, registry_namespace=fixed)
    assert not (tmp_path / "fixed2" / "butler.yaml").exists()


@pytest.mark.slow
def test_registry_db_from_environment(
    tmp_path: Path, postgres_registry_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REGISTRY_DB_ENV_VAR, postgres_registry_db)
    assert resolve_registry_db(None) == postgres_registry_db
    assert resolve_registry_db("") is None
    with bootstrap_repository(tmp_path / "env"):
        pass
    assert registry_description(tmp_path / "env").startswith("postgresql+psycopg2://")
    # "" asks for SQLite whatever the environment says.
    with bootstrap_repository(tmp_path / "lite", registry_db=""):
        pass
    assert registry_description(tmp_path / "lite") == "SQLite"
    assert (tmp_path / "lite" / "gen3.sqlite3").is_file()
    # An explicit URL for an existing SQLite repository is an error, not ignored.
    with pytest.raises(RepositoryError, match="exists with a SQLite registry"):
        bootstrap_repository(tmp_path / "lite", registry_db=postgres_registry_db)
    monkeypatch.setenv(REGISTRY_DB_ENV_VAR, "  ")
    assert resolve_registry_db(None) is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "is not a database URL"),
        ("sqlite:///tmp/x.sqlite3", "is a sqlite URL"),
        ("postgresql://user@localhost:5432", "names no database"),
        ("postgresql://user:secret@localhost/butler", "holds a password.*db-auth.yaml"),
    ],
)
def test_bad_registry_urls(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(RepositoryError, match=message) as info:
        bootstrap_repository(tmp_path / "repo", registry_db=url)
    assert "secret" not in str(info.value)
    assert not (tmp_path / "repo").exists()


def test_bad_namespace_and_unreachable_server(tmp_path: Path) -> None:
    with pytest.raises(RepositoryError, match="registry namespace 'Bad-Name' must be a lower-case"):
        bootstrap_repository(
            tmp_path / "repo", registry_db="postgresql://u@localhost/butler", registry_namespace="Bad-Name"
        )
    # Nothing listens on port 1: the error names the database, and no repository is left behind.
    with pytest.raises(RepositoryError, match=r"Cannot use the registry database postgresql\+psycopg2://u@"):
        bootstrap_repository(tmp_path / "repo", registry_db="postgresql://u@127.0.0.1:1/butler")
    assert not (tmp_path / "repo" / "butler.yaml").exists()


@pytest.mark.slow
def test_existing_repository_on_another_database(tmp_path: Path, postgres_registry_db: str) -> None:
    root = tmp_path / "repo"
    with bootstrap_repository(root, registry_db=postgres_registry_db):
        pass
    url = sqlalchemy.engine.make_url(postgres_registry_db)
    elsewhere = url.set(database="elsewhere").render_as_string()
    with pytest.raises(RepositoryError, match="exists with the registry .*/butler, not .*/elsewhere"):
        bootstrap_repository(root, registry_db=elsewhere)
    with Butler.from_config(str(root)) as butler:
        assert butler.registry.queryDimensionRecords("instrument").any()


def test_password_from_db_auth(
    tmp_path: Path, postgres_cluster: PostgresCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "calib-" + secrets.token_hex(8)
    role = f"writer_{secrets.token_hex(4)}"
    url = postgres_cluster.add_password_role(role, password)
    # No credentials: the server refuses, and the error names the database, not a password.
    monkeypatch.setenv("LSST_DB_AUTH", str(tmp_path / "no-such-db-auth.yaml"))
    with pytest.raises(RepositoryError, match=f"Cannot use the registry database .*{role}@") as info:
        bootstrap_repository(tmp_path / "refused", registry_db=url)
    assert password not in str(info.value)
    # The password in daf_butler's credentials file (mode 600), as at the observatory.
    auth = tmp_path / "db-auth.yaml"
    auth.write_text(yaml.safe_dump([{"url": url, "password": password}]))
    auth.chmod(0o600)
    monkeypatch.setenv("LSST_DB_AUTH", str(auth))
    root = tmp_path / "repo"
    with bootstrap_repository(root, registry_db=url) as butler:
        assert len(butler.query_dimension_records("detector")) == 9
    assert password not in (root / "butler.yaml").read_text()
    with open_repository(root) as butler:
        assert butler.collections.get_info(RAW_RUN).type == CollectionType.RUN
    # A credentials file others can read is refused, naming the file.
    auth.chmod(0o644)
    with pytest.raises(RepositoryError, match="Cannot read the credentials"):
        bootstrap_repository(tmp_path / "open-auth", registry_db=url)
