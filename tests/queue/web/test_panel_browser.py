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

"""The queue panel in headless chromium, driven by Playwright: what an
operator does with LOVE's ScriptQueue panel, against a real ScriptQueue
running real script processes.

One chromium serves the module (a context of its own per test), so the
tests and their fixtures run in the module's event loop.
"""

import pathlib
import typing
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from panel_harness import TOKEN, PanelHarness, panel_harness
from playwright.async_api import Page, expect

pytestmark = pytest.mark.asyncio(loop_scope="module")

REPORT = "li.script[data-path='maintel/report.py'] button"
WAIT = "li.script[data-path='wait.py'] button"


async def open_panel(page: Page, harness: PanelHarness) -> None:
    await page.goto(harness.url)
    await expect(page.locator("#connection")).to_have_text("CONNECTED")
    await expect(page.locator("#summary-state")).to_have_text("ENABLED")


async def load_script(page: Page, button: str, title: str) -> None:
    await page.click(button)
    await expect(page.locator("#schema")).to_contain_text(title)


async def set_config(page: Page, text: str, status: str) -> None:
    await page.fill("#config-editor", text)
    await expect(page.locator("#validation-status")).to_have_text(status)


@pytest_asyncio.fixture(loop_scope="module")
async def harness(tmp_path: pathlib.Path) -> AsyncIterator[PanelHarness]:
    """A ScriptQueue (ENABLED) and its panel on 127.0.0.1, no token (in the module's loop)."""
    async with panel_harness(tmp_path) as h:
        yield h


@pytest_asyncio.fixture(loop_scope="module")
async def token_harness(tmp_path: pathlib.Path) -> AsyncIterator[PanelHarness]:
    """A ScriptQueue (ENABLED) and its panel requiring a token (in the module's loop)."""
    async with panel_harness(tmp_path, token=TOKEN) as h:
        yield h


def finished_item(page: Page, index: int) -> typing.Any:
    return page.locator(f"#finished li[data-index='{index}']")


async def add(page: Page) -> int:
    """Press ADD; return the new script's index (the ack's result)."""
    async with page.expect_response("**/manager/api/cmd/") as response_info:
        await page.click("#btn-add")
    answer = await (await response_info.value).json()
    assert answer["ack"] == "CMD_COMPLETE", answer
    return int(answer["result"])


async def waiting_order(page: Page) -> list[int]:
    return [
        int(i)
        for i in await page.locator("#waiting > li").evaluate_all("els => els.map(e => e.dataset.index)")
    ]


# An operator's whole session: two CHECK runs and two script runs to DONE with their report,
# each a script process (13-22 s), so slow; the other tests keep the panel in the quick set.
@pytest.mark.slow
async def test_filter_validate_check_add_report_requeue(harness: PanelHarness, browser_page: Page) -> None:
    page = browser_page
    await open_panel(page, harness)
    # Find the script by a case-insensitive filter.
    await page.fill("#script-filter", "REPORT")
    await expect(page.locator("#script-tree li.script")).to_have_count(1)
    await expect(page.locator(REPORT)).to_be_visible()
    await page.fill("#script-filter", "")
    await expect(page.locator("#script-tree li.script")).to_have_count(3)
    await load_script(page, REPORT, "title: ReportScript v1")

    # Empty: valid, every default shown.
    await set_config(page, "", "EMPTY")
    await expect(page.locator("#defaults-count")).to_have_text("3")
    await set_config(page, "note: hello\nwait_time: 0.2\n", "VALID")
    await expect(page.locator("#defaults-count")).to_have_text("1")
    await expect(page.locator("#defaults")).to_have_text("n_images: 3")
    # A YAML error, with its line; the gutter marks it.
    await set_config(page, "wait_time: 0.2\nnote=hello\n", "ERROR")
    await expect(page.locator("#validation-error")).to_contain_text("ERROR WHILE PARSING YAML STRING")
    await expect(page.locator("#validation-error")).to_contain_text("line 2, column 1")
    await expect(page.locator("#gutter .err-line")).to_have_text("2")
    # A schema error, with its path.
    await set_config(page, "wait_time: -1\n", "ERROR")
    await expect(page.locator("#validation-error")).to_contain_text("at wait_time:")
    await expect(page.locator("#validation-error")).to_contain_text("less than the minimum of 0")

    # CHECK: refused by the script's own configure, then passed with its plan.
    await set_config(page, "note: please refuse\n", "VALID")
    await page.click("#btn-check")
    await expect(page.locator("#check-status")).to_contain_text("CHECK FAILED")
    await expect(page.locator("#check-status")).to_contain_text("refused by the checks")
    await set_config(page, "note: hello\nwait_time: 0.2\n", "VALID")
    await page.click("#btn-check")
    await expect(page.locator("#check-status")).to_have_text("CHECK PASSED")
    await expect(page.locator("#check-plan")).to_have_text("Plan: 3 image(s), then a report. Note: hello")
    await expect(page.locator("#check-duration")).to_have_text("1s")
    await expect(page.locator("#check-nimages")).to_have_text("3")
    assert not harness.csc.model.history, "CHECK must not go through the queue"

    # ADD, watch it run to DONE, open its report.
    index = await add(page)
    item = finished_item(page, index)
    await expect(item.locator(".state")).to_have_text("DONE")
    await item.locator("summary").click()
    await expect(item.locator("pre.config")).to_have_text("note: hello\nwait_time: 0.2\n")
    await expect(item.locator("pre.log")).to_contain_text("Note: hello")
    async with page.context.expect_page() as new_page_info:
        await item.locator("a.report").click()
    report = await new_page_info.value
    await expect(report.locator("h1")).to_have_text(f"Run report {index}")
    await report.close()

    # Requeue it: same path and configuration, runs again.
    await item.locator("button.requeue").click()
    requeued = index + 1
    again = finished_item(page, requeued)
    await expect(again.locator(".state")).to_have_text("DONE")
    await again.locator("summary").click()
    await expect(again.locator("pre.config")).to_have_text("note: hello\nwait_time: 0.2\n")


@pytest.mark.slow
async def test_reorder_waiting_scripts(harness: PanelHarness, browser_page: Page) -> None:
    page = browser_page
    await open_panel(page, harness)
    layout = await page.locator("main.layout").bounding_box()
    await page.click("#btn-pause")
    await expect(page.locator("#queue-running")).to_have_text("PAUSED")
    # A command's message (it leaves after 15 s) floats over the page: nothing moves under
    # the pointer, so a drag that spans its coming or going drops where it was aimed.
    await expect(page.locator("#messages div")).to_contain_text(["pause: CMD_COMPLETE"])
    assert await page.locator("main.layout").bounding_box() == layout
    await load_script(page, WAIT, "title: TestScript v1")
    await set_config(page, "wait_time: 0\n", "VALID")
    a = await add(page)
    b = await add(page)
    await page.check("input[name='location'][value='1']")  # add at the top
    c = await add(page)
    await expect(page.locator("#waiting > li")).to_have_count(3)
    assert await waiting_order(page) == [c, a, b]
    # Drag the last onto the first: move FIRST.
    await page.drag_and_drop(f"#waiting li[data-index='{b}']", f"#waiting li[data-index='{c}']")
    await expect(page.locator("#waiting > li").first).to_have_attribute("data-index", str(b))
    assert await waiting_order(page) == [b, c, a]
    # Drag the first onto the last: move BEFORE it.
    await page.drag_and_drop(f"#waiting li[data-index='{b}']", f"#waiting li[data-index='{a}']")
    await expect(page.locator("#waiting > li").nth(1)).to_have_attribute("data-index", str(b))
    assert await waiting_order(page) == [c, b, a]
    # Drag to the end: move LAST.
    await page.drag_and_drop(f"#waiting li[data-index='{c}']", "#waiting-end")
    await expect(page.locator("#waiting > li").last).to_have_attribute("data-index", str(c))
    assert await waiting_order(page) == [b, a, c]
    # Up and down buttons.
    await page.locator(f"#waiting li[data-index='{c}'] button.up").click()
    await expect(page.locator("#waiting > li").nth(1)).to_have_attribute("data-index", str(c))
    await page.locator(f"#waiting li[data-index='{b}'] button.down").click()
    await expect(page.locator("#waiting > li").first).to_have_attribute("data-index", str(c))
    assert await waiting_order(page) == [c, b, a]
    assert [script.index for script in harness.csc.model.queue] == [c, b, a]
    # Stop a waiting script: it leaves the queue.
    await page.locator(f"#waiting li[data-index='{b}'] button.stop").click()
    await expect(page.locator("#waiting > li")).to_have_count(2)
    await expect(finished_item(page, b)).to_be_visible()
    # An update arriving during a drag is drawn when the drag ends: the dragged item is not
    # replaced under the pointer (its drop would be lost).
    # The item is found and its drag started in one task of the page: an update drawn between
    # the two would leave the test holding a replaced item.
    transfer = await page.evaluate_handle("() => new DataTransfer()")
    started = await page.evaluate_handle(
        """([index, transfer]) => {
            const item = document.querySelector(`#waiting li[data-index='${index}']`);
            item.dispatchEvent(new DragEvent("dragstart", { dataTransfer: transfer, bubbles: true }));
            return item;
        }""",
        [a, transfer],
    )
    dragged = started.as_element()
    assert dragged is not None
    d = await add(page)
    await expect(page.locator("#waiting-count")).to_have_text("3")
    assert await waiting_order(page) == [c, a]
    assert await dragged.evaluate("item => item.isConnected")
    await dragged.dispatch_event("dragend", {"dataTransfer": transfer})
    await expect(page.locator("#waiting > li")).to_have_count(3)
    assert await waiting_order(page) == [d, c, a]
    await page.locator(f"#waiting li[data-index='{d}'] button.stop").click()
    await expect(page.locator("#waiting > li")).to_have_count(2)
    # Resume: they run, in the new order.
    await page.click("#btn-resume")
    await expect(finished_item(page, a).locator(".state")).to_have_text("DONE")
    await expect(finished_item(page, c).locator(".state")).to_have_text("DONE")
    history = [script.index for script in harness.csc.model.history]
    assert history.index(a) < history.index(c)


@pytest.mark.slow
async def test_stop_terminate_and_resume_current_script(harness: PanelHarness, browser_page: Page) -> None:
    page = browser_page
    await open_panel(page, harness)
    await load_script(page, WAIT, "title: TestScript v1")
    await set_config(page, "wait_time: 60\n", "VALID")
    stopped = await add(page)
    await expect(page.locator("#current .state")).to_have_text("RUNNING")
    await expect(page.locator("#current .elapsed")).to_contain_text("of 1m 0s expected")
    await expect(page.locator("#current .checkpoint")).to_have_text("Last checkpoint: start")
    await expect(page.locator("#current .heartbeat")).to_have_text("Lost heartbeats: 0")
    await page.click("#btn-cur-stop")
    await expect(finished_item(page, stopped).locator(".state")).to_have_text("STOPPED")
    await expect(page.locator("#current")).to_have_text("No script running")

    terminated = await add(page)
    await expect(page.locator("#current .state")).to_have_text("RUNNING")
    await page.click("#btn-cur-terminate")
    await expect(finished_item(page, terminated).locator(".state")).to_have_text("TERMINATED")

    # Paused at a checkpoint: RESUME SCRIPT appears and resumes it.
    await load_script(page, REPORT, "title: ReportScript v1")
    await set_config(page, "note: paused\n", "VALID")
    await page.fill("#opt-pause", "start")
    paused = await add(page)
    await expect(page.locator("#current .state")).to_have_text("PAUSED")
    await expect(page.locator("#btn-cur-resume")).to_be_visible()
    await page.click("#btn-cur-resume")
    await expect(finished_item(page, paused).locator(".state")).to_have_text("DONE")


@pytest.mark.slow
async def test_values_shown_as_text(harness: PanelHarness, browser_page: Page) -> None:
    page = browser_page
    await open_panel(page, harness)
    await load_script(page, REPORT, "title: ReportScript v1")
    note = '<b id="injected">bold</b><img src=x onerror="window.pwned=1">'
    await set_config(page, f"note: '{note}'\n", "VALID")
    await page.fill("#opt-descr", '<i id="descr-html">why</i>')
    index = await add(page)
    item = finished_item(page, index)
    await expect(item.locator(".state")).to_have_text("DONE")
    await item.locator("summary").click()
    await expect(item.locator("pre.log")).to_contain_text(f"Note: {note}")
    await expect(item.locator(".descr")).to_have_text('Description: <i id="descr-html">why</i>')
    assert await page.locator("#injected, #descr-html, img[src='x']").count() == 0
    assert await page.evaluate("window.pwned") is None


@pytest.mark.slow
async def test_saved_configurations(harness: PanelHarness, browser_page: Page) -> None:
    page = browser_page
    await open_panel(page, harness)
    await load_script(page, WAIT, "title: TestScript v1")
    await expect(page.locator("#btn-load-last")).to_be_disabled()
    await set_config(page, "wait_time: 0.1\n", "VALID")
    await page.fill("#save-name", "short wait")
    await page.click("#btn-save")
    await expect(page.locator("#saved-select option")).to_have_text(["short wait"])
    await set_config(page, "wait_time: 0\nfail_run: true\n", "VALID")
    await add(page)
    await set_config(page, "", "EMPTY")
    await page.click("#btn-load-saved")
    await expect(page.locator("#config-editor")).to_have_value("wait_time: 0.1\n")
    await expect(page.locator("#btn-load-last")).to_be_enabled()
    await page.click("#btn-load-last")
    await expect(page.locator("#config-editor")).to_have_value("wait_time: 0\nfail_run: true\n")
    # Kept in SQLite: a new page sees them.
    await page.reload()
    await expect(page.locator("#connection")).to_have_text("CONNECTED")
    await load_script(page, WAIT, "title: TestScript v1")
    await expect(page.locator("#saved-select option")).to_have_text(["short wait"])
    await page.click("#btn-delete-saved")
    await expect(page.locator("#saved-select option")).to_have_count(0)


@pytest.mark.slow
async def test_queue_state_controls(harness: PanelHarness, browser_page: Page) -> None:
    page = browser_page
    await open_panel(page, harness)
    await expect(page.locator("#btn-enable")).to_be_disabled()
    await page.click("#btn-disable")
    await expect(page.locator("#summary-state")).to_have_text("DISABLED")
    await page.click("#btn-enable")
    await expect(page.locator("#summary-state")).to_have_text("ENABLED")
    await page.click("#btn-pause")
    await expect(page.locator("#queue-running")).to_have_text("PAUSED")
    await page.click("#btn-resume")
    await expect(page.locator("#queue-running")).to_have_text("RUNNING")


@pytest.mark.slow
async def test_token_asked_by_the_page(token_harness: PanelHarness, browser_page: Page) -> None:
    page = browser_page
    await page.goto(token_harness.url)
    await expect(page.locator("#token-dialog")).to_be_visible()
    await page.fill("#token-input", "not-the-token-at-all")
    await page.click("#token-submit")
    await expect(page.locator("#token-error")).to_have_text("The token was refused.")
    await page.fill("#token-input", TOKEN)
    await page.click("#token-submit")
    await expect(page.locator("#connection")).to_have_text("CONNECTED")
    await expect(page.locator("#summary-state")).to_have_text("ENABLED")
    await load_script(page, WAIT, "title: TestScript v1")
    await set_config(page, "wait_time: 0\n", "VALID")
    index = await add(page)
    await expect(finished_item(page, index).locator(".state")).to_have_text("DONE")
