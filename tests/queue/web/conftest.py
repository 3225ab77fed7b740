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

"""Shared fixtures of the queue panel's tests."""

import pathlib
import shutil
import typing
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from panel_harness import STD_TIMEOUT, TOKEN, PanelHarness, panel_harness

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
"""Debian's chromium: Playwright drives it with ``executable_path``."""


@pytest.fixture
async def harness(tmp_path: pathlib.Path) -> AsyncIterator[PanelHarness]:
    """A ScriptQueue (ENABLED) and its panel on 127.0.0.1, no token."""
    async with panel_harness(tmp_path) as h:
        yield h


@pytest.fixture
async def token_harness(tmp_path: pathlib.Path) -> AsyncIterator[PanelHarness]:
    """A ScriptQueue (ENABLED) and its panel requiring a token."""
    async with panel_harness(tmp_path, token=TOKEN) as h:
        yield h


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[typing.Any]:
    """Headless Debian chromium (Playwright's own browser is not used), one per test module.

    Starting chromium and Playwright's driver takes seconds; each test gets a
    context of its own (`browser_page`), so tests share no cookies, storage
    or pages. A module that requests it runs its tests in the module's event
    loop (``pytestmark = pytest.mark.asyncio(loop_scope="module")``).
    """
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=STD_TIMEOUT * 1000)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def browser_page(browser: typing.Any) -> AsyncIterator[typing.Any]:
    """A page in a new context of the module's `browser`, closed after the test.

    The test fails if the page raises a JavaScript error.
    """
    errors: list[str] = []
    context = await browser.new_context(viewport={"width": 1500, "height": 1000})
    try:
        page = await context.new_page()
        page.set_default_timeout(STD_TIMEOUT * 1000)
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
    finally:
        await context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"
