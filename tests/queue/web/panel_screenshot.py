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

"""Take the documentation's screenshot of the queue panel
(``doc/_static/queue_panel.png``) against the simulated observatory.

Usage: ``python tests/queue/web/panel_screenshot.py [OUTPUT]``
"""

import asyncio
import pathlib
import shutil
import sys
import tempfile

from panel_harness import comcam_panel
from playwright.async_api import expect

OUTPUT = pathlib.Path(__file__).parents[3] / "doc" / "_static" / "queue_panel.png"
CONFIG = """n_bias: 30
n_dark: 5
exp_times_dark: [5, 10, 15, 20, 25]
n_flat: 10
exp_times_flat: [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]
detectors: [0]
"""


async def main(output: pathlib.Path) -> None:
    from playwright.async_api import async_playwright

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="queue_panel_shot_"))
    try:
        async with comcam_panel(tmp) as harness, async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=["--no-sandbox"]
            )
            page = await browser.new_page(viewport={"width": 1500, "height": 1000})
            await page.goto(harness.url)
            await expect(page.locator("#connection")).to_have_text("CONNECTED")

            async def add(button: str, config: str, status: str = "VALID", descr: str = "") -> None:
                await page.click(button)
                await page.fill("#config-editor", config)
                await expect(page.locator("#validation-status")).to_have_text(status, timeout=60_000)
                await page.fill("#opt-descr", descr)
                await page.click("#btn-add")
                await page.wait_for_timeout(500)

            wait = "li.script[data-path='wait.py'] button"
            comcam = "li.script[data-path='maintel/make_comcam_calibrations.py'] button"
            await add(wait, "wait_time: 0.5\n", descr="Warm-up")
            await add(wait, "wait_time: 90\n", descr="Hold the queue while the flats are checked")
            await add(wait, "wait_time: 5\n", descr="Next: a short wait")
            await add(wait, "wait_time: 10\nfail_run: false\n", descr="Then another")
            await expect(page.locator("#current .state")).to_have_text("RUNNING", timeout=60_000)
            await page.fill("#script-filter", "")
            await page.click(comcam)
            await expect(page.locator("#schema")).to_contain_text("MakeComCamCalibrations v1", timeout=60_000)
            await page.fill("#config-editor", CONFIG)
            await expect(page.locator("#validation-status")).to_have_text("VALID")
            await page.click("#btn-check")
            await expect(page.locator("#check-status")).to_have_text("CHECK PASSED", timeout=300_000)
            await page.locator("#finished details").first.locator("summary").click()
            await page.wait_for_timeout(1500)
            await page.screenshot(path=str(output), full_page=True)
            await browser.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT))
