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

"""QueueModel's failure paths: an index range it refuses, a script whose
process cannot start (it leaves the queue for the history and the error
reaches the caller), callbacks that fail (logged, the queue goes on), and
stopping scripts it does not know or that wait."""

import asyncio
import itertools
import logging
import pathlib

import pytest

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations.queue import Location, QueueModel, ScriptInfo, ScriptRoots
from lsst.ts.calibrations.sal import Domain

_ranges = itertools.count(0)


def make_roots(tmp_path: pathlib.Path) -> ScriptRoots:
    """A standard root with a script that ends at once and one that waits."""
    standard, external = tmp_path / "standard", tmp_path / "external"
    standard.mkdir()
    external.mkdir()
    for name, body in (("ends.py", "raise SystemExit(0)\n"), ("waits.py", "import time\ntime.sleep(600)\n")):
        (standard / name).write_text(body)
        (standard / name).chmod(0o755)
    return ScriptRoots(standard, external)


def make_model(domain: Domain, roots: ScriptRoots, **kwargs: object) -> QueueModel:
    # Each test its own SAL index range, so no test sees another's scripts.
    low = 980_000 + 100 * next(_ranges)
    return QueueModel(
        domain=domain,
        log=logging.getLogger("test_queue_model_failures"),
        roots=roots,
        min_sal_index=low,
        max_sal_index=low + 99,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_index_range_is_checked(tmp_path: pathlib.Path) -> None:
    roots = make_roots(tmp_path)
    async with Domain() as domain:
        for low, high in ((0, 10), (20, 10), (-1, 5)):
            with pytest.raises(ValueError, match=rf"^need 0 < min_sal_index={low} <= max_sal_index={high}$"):
                QueueModel(
                    domain=domain,
                    log=logging.getLogger("test"),
                    roots=roots,
                    min_sal_index=low,
                    max_sal_index=high,
                )


async def test_script_that_cannot_start_goes_to_history(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[list[int]] = []

    async def queue_callback() -> None:
        calls.append(list(model.queue_indices))
        raise RuntimeError("the panel is gone")

    async with Domain() as domain:
        model = make_model(domain, make_roots(tmp_path), queue_callback=queue_callback)
        await asyncio.wait_for(model.start_task, STD_TIMEOUT)
        info = model.make_script_info(seq_num=1, is_standard=True, path="ends.py", config="", descr="")

        async def cannot_start(full_path: pathlib.Path, env: dict[str, str]) -> None:
            raise OSError("Resource temporarily unavailable")

        info.start_loading = cannot_start  # type: ignore[method-assign]
        with caplog.at_level(logging.ERROR), pytest.raises(OSError, match="Resource temporarily unavailable"):
            await model.add(info, Location.LAST, 0)
        assert model.queue_indices == [] and model.history_indices == [info.index]
        assert info.terminated
        # The queue was reported with the script in it, then without; the callback's
        # failure is logged each time and does not stop the queue.
        assert calls[0] == [info.index] and calls[-1] == []
        assert "queue_callback failed; continuing" in caplog.text
        await model.close()
        await model.close()  # idempotent


async def test_failing_script_callback_is_logged(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[ScriptInfo] = []

    async def script_callback(info: ScriptInfo) -> None:
        seen.append(info)
        raise RuntimeError("cannot show the script")

    async with Domain() as domain:
        model = make_model(domain, make_roots(tmp_path), script_callback=script_callback)
        await asyncio.wait_for(model.start_task, STD_TIMEOUT)
        info = model.make_script_info(seq_num=1, is_standard=True, path="ends.py", config="", descr="")
        with caplog.at_level(logging.ERROR):
            await model.add(info, Location.LAST, 0)
            async with asyncio.timeout(STD_TIMEOUT):
                while model.history_indices != [info.index]:
                    await asyncio.sleep(0.01)
        assert info.load_failed and seen and seen[-1] is info
        assert "script_callback failed; continuing" in caplog.text
        await model.close()


async def test_stop_unknown_and_waiting_scripts(tmp_path: pathlib.Path) -> None:
    async with Domain() as domain:
        model = make_model(domain, make_roots(tmp_path))
        await asyncio.wait_for(model.start_task, STD_TIMEOUT)
        info = model.make_script_info(seq_num=1, is_standard=True, path="waits.py", config="", descr="")
        await model.add(info, Location.LAST, 0)
        assert model.queue_indices == [info.index] and model.live_pids == [info.pid]
        # Unknown indices are ignored; a waiting script is terminated at once.
        await asyncio.wait_for(
            model.stop_scripts([info.index - 1, info.index, info.index + 50], terminate=False), STD_TIMEOUT
        )
        assert info.terminated and info.process is not None and info.process.returncode == -15
        async with asyncio.timeout(STD_TIMEOUT):
            while model.queue_indices:
                await asyncio.sleep(0.01)
        assert model.history_indices == [info.index] and model.live_pids == []
        with pytest.raises(ValueError, match=rf"^no script with index {info.index} is current or queued$"):
            model.get_script_info(info.index, search_history=False)
        assert model.get_script_info(info.index, search_history=True) is info
        await model.close()
