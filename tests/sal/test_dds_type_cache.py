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

"""The DDS type data cache: the bytes Cyclone DDS would compute, kept per machine."""

import os
import pathlib
import subprocess
import sys

import pytest
from cyclonedds.idl import make_idl_struct, types

from lsst.ts.calibrations.sal.dds_type_cache import CACHE_ENV, DdsTypeCache

MEMBERS = (("salIndex", "long", 1), ("value", "double", 3), ("name", "string", 1))


def make_type(name: str) -> type:
    """A new struct type object of the same definition each call."""
    fields = {"salIndex": types.int32, "value": types.array[types.float64, 3], "name": str}
    return make_idl_struct(
        name, "lsst_sal::Test::cacheCheck", fields, field_annotations={"salIndex": {"key": True}}
    )


def computed_bytes(name: str) -> tuple[bytes, bytes]:
    """What Cyclone DDS computes for the type, with no cache."""
    idl = make_type(name).__idl__
    idl.fill_type_data()
    return idl._xt_bytedata


def test_cached_type_data_equals_computed(tmp_path: pathlib.Path) -> None:
    cache = DdsTypeCache(tmp_path)
    key = cache.key("lsst_sal::Test::cacheCheck", MEMBERS, ("salIndex",))
    first = make_type("First")
    assert not cache.prefill(first, key)  # computed, then stored
    assert (tmp_path / key).is_file()
    second = make_type("Second")
    assert cache.prefill(second, key)  # read back
    assert second.__idl__._xt_bytedata == computed_bytes("Fresh")
    # Asking for the type objects still gives the real ones.
    assert second.__idl__.get_type_id() == make_type("Other").__idl__.get_type_id()


def test_key_changes_with_the_definition(tmp_path: pathlib.Path) -> None:
    cache = DdsTypeCache(tmp_path)
    key = cache.key("lsst_sal::Test::cacheCheck", MEMBERS, ("salIndex",))
    assert key != cache.key("lsst_sal::Test::cacheCheck", MEMBERS[:2], ("salIndex",))
    assert key != cache.key("lsst_sal::Test::other", MEMBERS, ("salIndex",))
    assert key != cache.key(
        "lsst_sal::Test::cacheCheck", (("salIndex", "long", 1), ("value", "float", 3)), ()
    )


def test_damaged_or_unwritable_cache_is_ignored(tmp_path: pathlib.Path) -> None:
    cache = DdsTypeCache(tmp_path)
    key = cache.key("lsst_sal::Test::cacheCheck", MEMBERS, ("salIndex",))
    (tmp_path / key).write_bytes(b"tsdds1 truncated")
    damaged = make_type("Damaged")
    assert not cache.prefill(damaged, key)
    assert damaged.__idl__._xt_bytedata == computed_bytes("Fresh2")
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    nowhere = DdsTypeCache(blocked / "cache")
    assert not nowhere.prefill(make_type("Nowhere"), key)


def test_cache_folder_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "types"))
    assert DdsTypeCache.from_env().directory == tmp_path / "types"
    monkeypatch.setenv(CACHE_ENV, "none")
    assert DdsTypeCache.from_env().directory is None
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert DdsTypeCache.from_env().directory == tmp_path / "lsst-ts-calibrations" / "dds-types"


WRITER = """
import asyncio
from lsst.ts.calibrations import sal

async def main() -> None:
    async with sal.Controller("Test", 5) as controller:
        for _ in range(600):
            await controller.evt_scalars.set_write(int0=42, force_output=True)
            await asyncio.sleep(0.2)

asyncio.run(main())
"""

READER = """
import asyncio
from lsst.ts.calibrations import sal

async def main() -> None:
    async with sal.Domain() as domain, sal.Remote(domain, "Test", 5, readonly=True) as remote:
        data = await remote.evt_scalars.next(flush=False, timeout=120)
        print("received", data.int0)

asyncio.run(main())
"""


@pytest.mark.slow
def test_processes_with_and_without_cache_talk(tmp_path: pathlib.Path) -> None:
    """A writer whose types came from the cache and a reader that computed its own meet."""
    cache = tmp_path / "cache"
    base = {**os.environ, "LSST_SAL_TRANSPORT": "dds", "LSST_TOPIC_SUBNAME": f"typecache{os.getpid()}"}
    # Fill the cache with the Test interface's types.
    fill = (
        "from lsst.ts.calibrations.sal.component_info import ComponentInfo\n"
        "from lsst.ts.calibrations.sal.dds_types import idl_type_of\n"
        "for topic in ComponentInfo.from_name('Test').topics.values():\n"
        "    idl_type_of('Test', topic.sal_name)\n"
    )
    subprocess.run([sys.executable, "-c", fill], env={**base, CACHE_ENV: str(cache)}, check=True, timeout=300)
    assert any(cache.iterdir())
    writer = subprocess.Popen([sys.executable, "-c", WRITER], env={**base, CACHE_ENV: str(cache)})
    try:
        reader = subprocess.run(
            [sys.executable, "-c", READER],
            env={**base, CACHE_ENV: "none"},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        writer.kill()
        writer.wait()
    assert reader.returncode == 0, reader.stderr
    assert "received 42" in reader.stdout
