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

"""The procedure document's "Launch the script" steps in the panel, in
headless chromium, against the simulated observatory, as the README starts
them: ``run_script_queue --simulate --repo PATH`` on a repository that
holds the reference calibrations, its panel opened; the calibration script
found by filter under the default external root, the daily configuration
valid, the PTC example's typo shown on its line, fixed and CHECKed (plan
and duration, nothing taken); then a configuration ADDed, run to DONE, its
report opened; and Ctrl-C ends the command and every process it started.

The run ADDed is the smallest that goes the whole way (two biases of one
detector, cpBias through the OCPS, certified): what the panel adds and
shows does not depend on how many pipelines the script runs, and the PTC
example's own run (defects, PTC and verification of fourteen flats) is
the script's end-to-end tests' subject. Still a real script process,
simulated observatory and ``pipetask`` run, hence ``slow``. It is also the
test of ``run_script_queue --simulate`` running the calibration script
(``test_run_script_queue.py`` tests the command without the observatory).
"""

import asyncio
import pathlib
import typing

import pytest
from command_process import panel_url_of, pids_in_subname, start_command, stop_command, subname_of
from panel_harness import STANDARD_ROOT
from playwright.async_api import Page, expect

from fixtures.repositories import copy_repository
from fixtures.timeouts import PIPETASK_TIMEOUT, RUN_TIMEOUT, STD_TIMEOUT
from lsst.ts.calibrations.queue import ScriptProcessState
from lsst.ts.calibrations.sal import Domain, Remote, ScriptState
from lsst.ts.calibrations.sal.isolation import SUBNAME_ENV
from lsst.ts.calibrations.sal.transport_choice import TRANSPORT_ENV

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]  # the module's browser

PANEL_RUN_TIMEOUT = 2 * RUN_TIMEOUT
"""Time limit (s) of the run to DONE (a script process and its pipelines on a shared 2-core machine)."""

COMCAM = "li.script[data-path='maintel/make_comcam_calibrations.py'] button"

TIMES_AND_NUMBERS = """n_bias: 30
n_dark: 5
exp_times_dark: [5, 10, 15, 20, 25]
n_flat: 10
exp_times_flat: [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]
"""

PTC = """script_mode: BIAS_DARK_FLAT
n_flat: 14
exp_times_flat: [5, 5, 10, 10, 15, 15, 20, 20, 25, 25, 30, 30, 35, 35]
filter: ${FILTER_NAME_OR_ID}
generate_calibrations=True
calib_collection: "LSSTComCam/calib/daily/calibs.2022NOV04.1"
certify_calib_begin_date: "2022-11-04"
certify_calib_end_date: "2022-11-05"
do_defects: True
do_ptc: True
"""

# Fixed as the document intends: the colon, the filter placeholder set to y_04 (bright enough
# for the 35 s flats to stay below full well); one detector and one process for the pipelines.
PTC_FIXED = (
    PTC.replace("generate_calibrations=True", "generate_calibrations: True").replace(
        "${FILTER_NAME_OR_ID}", "y_04"
    )
    + "detectors: [0]\nn_processes: 1\n"
)

# The run ADDed: two biases of one detector, combined by cpBias and certified into the example's
# collection (no verification pipeline), so the report names that collection.
SMALL_RUN = """script_mode: BIAS
n_bias: 2
detectors: [0]
n_processes: 1
generate_calibrations: True
do_verify: False
calib_collection: "LSSTComCam/calib/daily/calibs.2022NOV04.1"
certify_calib_begin_date: "2022-11-04"
certify_calib_end_date: "2022-11-05"
"""


@pytest.mark.timeout(PANEL_RUN_TIMEOUT + PIPETASK_TIMEOUT)
async def test_launch_the_script(
    tmp_path: pathlib.Path,
    browser_page: Page,
    reference_repository: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = browser_page
    repo = await asyncio.to_thread(copy_repository, reference_repository, tmp_path / "repo")
    # The script's jobs run one after the other on one process each: one OCPS worker.
    args = ["--simulate", "--repo", str(repo), "--time-scale", "0.01", "--ocps-max-processes", "1"]
    args += ["--port", "0", "--standard", str(STANDARD_ROOT)]
    process, lines = await start_command(
        args, tmp_path, env={"TS_CALIBRATIONS_RUN_RECORDS": str(tmp_path / "records")}
    )
    subname = subname_of(lines)
    try:
        assert "observatory process" in "".join(lines)
        assert len(pids_in_subname(subname, workers=False)) == 1, "the observatory"
        # The queue's script events, read beside the panel on the command's isolation name.
        monkeypatch.setenv(TRANSPORT_ENV, "dds")
        monkeypatch.setenv(SUBNAME_ENV, subname)
        async with (
            Domain() as domain,
            Remote(domain, "ScriptQueue", 1, include=["script", "queue"]) as remote,
        ):
            events: list[typing.Any] = []
            remote.evt_script.callback = events.append
            await launch_the_script(page, panel_url_of(lines), remote, events)
    finally:
        rest = await stop_command(process)
    assert process.returncode == 0, rest
    assert "run_script_queue: stopped" in rest
    assert pids_in_subname(subname) == [], "no process of the session survives"


async def launch_the_script(page: Page, url: str, remote: Remote, events: list[typing.Any]) -> None:
    """The operator's steps in the panel at ``url``; ``events`` receives the queue's script events."""
    await page.goto(url)
    await expect(page.locator("#summary-state")).to_have_text("ENABLED")
    # Load the script: search for it under AVAILABLE SCRIPTS.
    await page.fill("#script-filter", "comcam")
    await expect(page.locator("#script-tree li.script")).to_have_count(1)
    await page.click(COMCAM)
    await expect(page.locator("#schema")).to_contain_text("title: MakeComCamCalibrations v1")
    # The daily default: no configuration; the defaults the script fills in are shown.
    await page.fill("#config-editor", "")
    await expect(page.locator("#validation-status")).to_have_text("EMPTY")
    await expect(page.locator("#defaults")).to_contain_text('script_mode: "BIAS_DARK_FLAT"')
    await expect(page.locator("#defaults")).to_contain_text("n_bias: 20")
    await page.fill("#config-editor", TIMES_AND_NUMBERS)
    await expect(page.locator("#validation-status")).to_have_text("VALID")
    # The PTC example as printed: the error is on its line 5.
    await page.fill("#config-editor", PTC)
    await expect(page.locator("#validation-status")).to_have_text("ERROR")
    await expect(page.locator("#validation-error")).to_contain_text("line 5, column 1")
    await expect(page.locator("#validation-error")).to_contain_text("write `generate_calibrations: True`")
    await expect(page.locator("#gutter .err-line")).to_have_text("5")
    # Fixed, then CHECKed: the plan and its duration; nothing is taken.
    await page.fill("#config-editor", PTC_FIXED)
    await expect(page.locator("#validation-status")).to_have_text("VALID")
    await page.click("#btn-check")
    await expect(page.locator("#check-status")).to_have_text("CHECK PASSED", timeout=300_000)
    await expect(page.locator("#check-plan")).to_contain_text("FLAT")
    assert await page.locator("#check-duration").text_content() not in ("", "-")
    # Nothing went through the queue: none current, waiting or finished.
    remote.evt_queue.flush()
    await remote.cmd_showQueue.start(timeout=STD_TIMEOUT)
    queue = await remote.evt_queue.next(flush=False, timeout=STD_TIMEOUT)
    assert (queue.currentSalIndex, queue.length, queue.pastLength) == (0, 0, 0)
    assert not events, "CHECK must not go through the queue"
    # ADD the small run; watch it run to DONE in the finished list; open its report.
    await page.fill("#config-editor", SMALL_RUN)
    await expect(page.locator("#validation-status")).to_have_text("VALID")
    async with page.expect_response("**/manager/api/cmd/") as response_info:
        await page.click("#btn-add")
    answer = await (await response_info.value).json()
    assert answer["ack"] == "CMD_COMPLETE", answer
    index = int(answer["result"])
    await expect(page.locator("#current .state")).to_have_text("RUNNING", timeout=300_000)
    # Wait for the script to end, whatever its final state (a failed run is reported at once,
    # with its state and log, rather than after the whole time limit), then require DONE.
    item = page.locator(f"#finished li[data-index='{index}']")
    await expect(item).to_have_count(1, timeout=PANEL_RUN_TIMEOUT * 1000)
    final = await item.locator(".state").inner_text()
    assert final == "DONE", f"script {index} ended {final}:\n{await item.inner_text()}"
    # The queue says so too: its process and the script DONE.
    async with asyncio.timeout(STD_TIMEOUT):
        while not (
            ended := [
                e for e in events if e.scriptSalIndex == index and e.processState >= ScriptProcessState.DONE
            ]
        ):
            await asyncio.sleep(0.05)
    assert (ended[-1].processState, ended[-1].scriptState) == (ScriptProcessState.DONE, ScriptState.DONE)
    await expect(item.locator("a.report")).to_be_visible()
    async with page.context.expect_page() as new_page_info:
        await item.locator("a.report").click()
    report: typing.Any = await new_page_info.value
    await report.wait_for_load_state()
    assert "LSSTComCam/calib/daily/calibs.2022NOV04.1" in await report.content()
    await report.close()
