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

"""Named configurations saved per script, and the last one used, in SQLite."""

__all__ = ["ConfigStore"]

import asyncio
import os
import sqlite3
import threading
import time
import typing

MAX_NAME_LENGTH = 100
"""Longest name of a saved configuration (characters)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS saved_config (
    is_standard INTEGER NOT NULL,
    path TEXT NOT NULL,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (is_standard, path, name)
);
CREATE TABLE IF NOT EXISTS last_config (
    is_standard INTEGER NOT NULL,
    path TEXT NOT NULL,
    config TEXT NOT NULL,
    used REAL NOT NULL,
    PRIMARY KEY (is_standard, path)
);
"""


class ConfigStore:
    """Named configurations of each script, and the last one added to the
    queue, kept in an SQLite file.

    Parameters
    ----------
    path : `str` or `os.PathLike`
        The SQLite file (created if missing); ":memory:" for a store that
        lives as long as this object.

    Notes
    -----
    Every database call runs in a worker thread (`asyncio.to_thread`), one
    at a time, on one connection; `close` closes it.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(self.path, check_same_thread=False)
        with self._lock, self._connection:
            self._connection.executescript(_SCHEMA)

    async def _run(self, sql: str, args: tuple[typing.Any, ...] = ()) -> list[tuple[typing.Any, ...]]:
        def run() -> list[tuple[typing.Any, ...]]:
            with self._lock, self._connection:
                return self._connection.execute(sql, args).fetchall()

        return await asyncio.to_thread(run)

    @staticmethod
    def check_name(name: str) -> str:
        """Return a configuration name stripped, or raise.

        Raises
        ------
        ValueError
            If the name is blank or longer than `MAX_NAME_LENGTH`.
        """
        stripped = name.strip()
        if not stripped:
            raise ValueError("name must not be blank: give the configuration a name")
        if len(stripped) > MAX_NAME_LENGTH:
            raise ValueError(f"name has {len(stripped)} characters; at most {MAX_NAME_LENGTH} are allowed")
        return stripped

    async def save(self, is_standard: bool, path: str, name: str, config: str) -> None:
        """Save (or replace) a named configuration of a script.

        Raises
        ------
        ValueError
            If the name is not valid (`check_name`).
        """
        name = self.check_name(name)
        await self._run(
            "INSERT INTO saved_config VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (is_standard, path, name) DO UPDATE SET config=excluded.config, "
            "updated=excluded.updated",
            (int(is_standard), path, name, config, time.time()),
        )

    async def delete(self, is_standard: bool, path: str, name: str) -> bool:
        """Delete a named configuration; return True if it existed."""
        rows = await self._run(
            "DELETE FROM saved_config WHERE is_standard=? AND path=? AND name=? RETURNING name",
            (int(is_standard), path, name.strip()),
        )
        return bool(rows)

    async def list(self, is_standard: bool, path: str) -> list[dict[str, typing.Any]]:
        """The saved configurations of a script, by name: ``name``,
        ``config``, ``updated`` (unix seconds).
        """
        rows = await self._run(
            "SELECT name, config, updated FROM saved_config WHERE is_standard=? AND path=? ORDER BY name",
            (int(is_standard), path),
        )
        return [{"name": name, "config": config, "updated": updated} for name, config, updated in rows]

    async def set_last(self, is_standard: bool, path: str, config: str) -> None:
        """Remember the configuration last added to the queue for a script."""
        await self._run(
            "INSERT INTO last_config VALUES (?, ?, ?, ?) ON CONFLICT (is_standard, path) "
            "DO UPDATE SET config=excluded.config, used=excluded.used",
            (int(is_standard), path, config, time.time()),
        )

    async def get_last(self, is_standard: bool, path: str) -> dict[str, typing.Any] | None:
        """The configuration last added for a script (``config``, ``used``), or None."""
        rows = await self._run(
            "SELECT config, used FROM last_config WHERE is_standard=? AND path=?", (int(is_standard), path)
        )
        return {"config": rows[0][0], "used": rows[0][1]} if rows else None

    async def close(self) -> None:
        """Close the database. Idempotent."""

        def close() -> None:
            with self._lock:
                self._connection.close()

        await asyncio.to_thread(close)
