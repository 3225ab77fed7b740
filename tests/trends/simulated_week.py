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

"""A week of simulated nights of the daily default with one amplifier's gain drifting.

`make_week` builds the repository once (the tests' session fixture):
reference calibrations (a copy of a repository that has them, or made
here), then one run of ``MakeComCamCalibrations`` per night against one
simulated observatory whose clock is moved on to each night, each night's
log kept. A folder holding a
complete week (``week.json``) is reused: set ``TS_CALIBRATIONS_TRENDS_WEEK``
to a folder to keep the week between test sessions. Also a command:
``python tests/trends/simulated_week.py DIR``.
"""

import asyncio
import contextlib
import dataclasses
import datetime
import itertools
import json
import logging
import os
import sys
import time
from pathlib import Path

import yaml

from lsst.ts.calibrations.sal import ScriptState
from lsst.ts.calibrations.scripts import MakeComCamCalibrations
from lsst.ts.calibrations.sim.observatory import SimulatedObservatory
from lsst.ts.calibrations.sim.reference_calibrations import ReferenceCalibrations

if __name__ == "__main__":  # run as a command: the tests' shared modules are one folder up
    sys.path.insert(0, str(Path(__file__).parents[1]))
from fixtures.repositories import copy_repository, run_pipetask_command  # noqa: E402
from fixtures.script_runs import reports_requested  # noqa: E402
from fixtures.timeouts import RUN_TIMEOUT, STD_TIMEOUT  # noqa: E402

SEED = 3
FIRST_NIGHT = datetime.date(2024, 10, 1)
NIGHTS = 5
DETECTORS = (0,)
DRIFTING = ("R22_S00", "C10")
GAIN_DRIFT_PER_DAY = 0.015
# The daily default with small counts: 6 flat pairs keep a night's gain to ~0.4 %, so the
# 1.5 % a day passes the script's 4 σ on the first night with three nights of history (3 % above
# the history's median, about 6 σ; 9.0 σ in this week). Five nights: three of history, two
# judged; four would leave the measured gain slopes too loose (about 0.19 % a day, against the
# tests' 0.4 %: one amplifier's came to 0.43 %). Flats are most of a night's work (each goes
# through two ISRs, flat verification and the pair extraction).
CONFIG = {"n_bias": 3, "n_dark": 3, "n_flat": 12}
_indices = itertools.count(500)
WEEK_FILE = "week.json"
"""Written when the week is complete; `make_week` on a folder holding it reuses the week."""


@dataclasses.dataclass
class SimulatedWeek:
    """What `make_week` made.

    Parameters
    ----------
    root : `pathlib.Path`
        Folder of everything.
    repo : `pathlib.Path`
        The butler repository.
    records : `pathlib.Path`
        Folder of the run records.
    nights : `list` [`int`]
        day_obs of each night, in order.
    logs : `dict` [`int`, `list` [`tuple` [`int`, `str`]]]
        The script's log (level, message) at INFO and above, each night.
    states : `dict` [`int`, `str`]
        Final state of each night's run.
    seconds : `dict` [`str`, `float`]
        Time taken: ``references`` and one entry per night.
    """

    root: Path
    repo: Path
    records: Path
    nights: list[int]
    logs: dict[int, list[tuple[int, str]]] = dataclasses.field(default_factory=dict)
    states: dict[int, str] = dataclasses.field(default_factory=dict)
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)

    def write(self, path: Path) -> None:
        """Write what was made as JSON (`read` gives it back)."""
        data = dataclasses.asdict(self)
        for key in ("root", "repo", "records"):
            data[key] = str(data[key])
        path.write_text(json.dumps(data))

    @classmethod
    def read(cls, path: Path) -> "SimulatedWeek":
        """Read what `write` wrote."""
        data = json.loads(path.read_text())
        return cls(
            root=Path(data["root"]),
            repo=Path(data["repo"]),
            records=Path(data["records"]),
            nights=[int(n) for n in data["nights"]],
            logs={
                int(n): [(int(level), str(text)) for level, text in logs] for n, logs in data["logs"].items()
            },
            states={int(n): str(state) for n, state in data["states"].items()},
            seconds=dict(data["seconds"]),
        )


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def sensor_model_file(root: Path) -> Path:
    """Write the sensor model with the drifting amplifier; return its path."""
    detector, amp = DRIFTING
    path = root / "drifting_gain.yaml"
    model = {
        "name": "comcam_drifting_gain",
        "description": f"{detector} {amp} gain rising {GAIN_DRIFT_PER_DAY:.1%} a day",
        "drift": {
            "reference_day_obs": int(FIRST_NIGHT.strftime("%Y%m%d")),
            "amps": {detector: {amp: {"gain": GAIN_DRIFT_PER_DAY}}},
        },
    }
    path.write_text(yaml.safe_dump(model))
    return path


async def run_night(
    week: SimulatedWeek, observatory: SimulatedObservatory, night: datetime.date, extra: dict
) -> None:
    """Run the daily default for one night (the clock moved to 18:00 UTC that day)."""
    day_obs = int(night.strftime("%Y%m%d"))
    began = time.monotonic()
    if observatory.clock.day_obs() != day_obs:
        observatory.clock.advance_to(night.isoformat())
    script = MakeComCamCalibrations(index=next(_indices))
    keep = _Keep()
    script.log.addHandler(keep)
    try:
        await asyncio.wait_for(script.start_task, STD_TIMEOUT)
        data = script.cmd_configure.DataType()
        data.config = yaml.safe_dump(
            dict(CONFIG, detectors=list(DETECTORS), repo=str(week.repo), n_processes=1, **extra)
        )
        await asyncio.wait_for(script.do_configure(data), STD_TIMEOUT)
        await script.do_setGroupId(type("GroupId", (), {"groupId": f"night-{day_obs}"})())
        await asyncio.wait_for(script.do_run(None), RUN_TIMEOUT)
    finally:
        script.log.removeHandler(keep)
        await script.close()
    week.logs[day_obs] = [(r.levelno, r.getMessage()) for r in keep.records]
    week.states[day_obs] = ScriptState(script.state.state).name
    week.seconds[str(day_obs)] = time.monotonic() - began


async def make_week(
    root: Path,
    nights: int = NIGHTS,
    extra: dict | None = None,
    *,
    run_reports: bool = True,
    references: Path | None = None,
) -> SimulatedWeek:
    """Make the references and run the daily default once a night.

    One simulated observatory serves the whole week, its clock moved on to
    each night's afternoon (`SimClock.advance_to`), as the real one stays up
    from day to day: its OCPS's quantum workers are started once.

    Parameters
    ----------
    root : `pathlib.Path`
        Folder to make everything in.
    nights : `int`
        Number of nights, from ``FIRST_NIGHT``.
    extra : `dict` or `None`
        Configuration added to ``CONFIG``.
    run_reports : `bool`, optional
        Whether each night's run report is built (a process of seconds a
        night); the trends page reads the repository and the run records,
        not the reports.
    references : `pathlib.Path` or `None`, optional
        A repository holding reference calibrations of detector 0 made with
        seed ``SEED`` and the default sensor model (the drifting model's
        state on ``FIRST_NIGHT``), e.g. the tests' shared
        ``reference_repository``: copied as the week's repository. `None`:
        the references are made here, with the drifting model, the day
        before the first night.

    Returns
    -------
    week : `SimulatedWeek`
        What was made.
    """
    root.mkdir(parents=True, exist_ok=True)
    done = root / WEEK_FILE
    if done.exists():
        return SimulatedWeek.read(done)
    days = [FIRST_NIGHT + datetime.timedelta(days=i) for i in range(nights)]
    week = SimulatedWeek(
        root=root,
        repo=root / "repo",
        records=root / "run_records",
        nights=[int(d.strftime("%Y%m%d")) for d in days],
    )
    model = sensor_model_file(root)
    began = time.monotonic()
    if references is not None:
        await asyncio.to_thread(copy_repository, references, week.repo)
    else:
        await asyncio.to_thread(
            ReferenceCalibrations(
                week.repo,
                detectors=list(DETECTORS),
                seed=SEED,
                sensor_model=model,
                day_obs=int((FIRST_NIGHT - datetime.timedelta(days=1)).strftime("%Y%m%d")),
                run_pipetask=run_pipetask_command,
            ).make
        )
    week.seconds["references"] = time.monotonic() - began
    previous = os.environ.get("TS_CALIBRATIONS_RUN_RECORDS")
    os.environ["TS_CALIBRATIONS_RUN_RECORDS"] = str(week.records)
    try:
        with contextlib.ExitStack() as stack:
            if not run_reports:
                stack.enter_context(reports_requested())
            async with SimulatedObservatory(
                week.repo,
                time_scale=0.01,
                date=FIRST_NIGHT.isoformat(),
                seed=SEED,
                detectors=list(DETECTORS),
                sensor_model=model,
                heartbeat_interval=1.0,
            ) as observatory:
                for night in days:
                    await run_night(week, observatory, night, extra or {})
    finally:
        if previous is None:
            del os.environ["TS_CALIBRATIONS_RUN_RECORDS"]
        else:
            os.environ["TS_CALIBRATIONS_RUN_RECORDS"] = previous
    week.write(done)
    return week


if __name__ == "__main__":
    made = asyncio.run(make_week(Path(sys.argv[1])))
    print(made.states, made.seconds)
