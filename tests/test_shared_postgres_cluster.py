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

"""The PostgreSQL cluster that the pytest-xdist workers of a run share (`postgres_fixture.shared_cluster`)."""

import json
import subprocess
from pathlib import Path

import pytest
import sqlalchemy

from postgres_cluster import PostgresCluster, PostgresUnavailableError
from postgres_fixture import shared_cluster


def _answers(url: str) -> bool:
    """Does the ``butler`` database at ``url`` answer a query?"""
    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    try:
        with engine.connect() as connection:
            return connection.execute(sqlalchemy.text("SELECT 1")).scalar() == 1
    except sqlalchemy.exc.OperationalError:
        return False
    finally:
        engine.dispose()


# It starts a cluster of its own (seconds): the quick set's PostgreSQL tests use the shared one.
@pytest.mark.slow
def test_first_starts_last_stops(tmp_path: Path) -> None:
    try:
        first, second = PostgresCluster(), PostgresCluster()
    except PostgresUnavailableError as e:
        pytest.skip(f"PostgreSQL not available: {e}")
    with shared_cluster(first, tmp_path, "gw0"):
        assert first.url and _answers(first.url)
        directory = first.directory
        assert directory is not None
        with shared_cluster(second, tmp_path, "gw1"):
            assert second.url == first.url and second.directory == directory
        # The second left: detached, the cluster still runs for the first.
        assert second.directory is None and second.url == ""
        assert _answers(first.url)
        url = first.url
        # A user that ended without leaving (a killed worker) is not waited for.
        ended = subprocess.Popen(["true"])
        ended.wait()
        state = json.loads((tmp_path / "postgres.json").read_text())
        state["users"]["gw9"] = ended.pid
        (tmp_path / "postgres.json").write_text(json.dumps(state))
    assert first.directory is None and not directory.exists()
    assert not _answers(url)
    assert not (tmp_path / "postgres.json").exists()
    # The next run's first user starts a new one.
    with shared_cluster(second, tmp_path, "gw1"):
        assert second.directory is not None and second.directory != directory
        assert _answers(second.url)
    assert second.directory is None
