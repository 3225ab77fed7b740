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

"""What a run states at its end, against the simulated observatory: facts only, a snippet that works
as printed in a new shell, the run's own collection, and records beside the repository.

One observatory (detector 0, reduced geometry, time scale 0.01) serves the
module; each test certifies into a calibration collection of its own, and
the test that arms an ingest failure disarms it at its end.
"""

import asyncio
import itertools
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsst.daf.butler import Butler, CollectionType

from fixtures.script_runs import run_script as run_configured
from fixtures.timeouts import PROCESS_TIMEOUT
from lsst.ts.calibrations.repo.repo_alias import INDEX_ENV_VAR, REPOSITORIES_ENV_VAR, install_repository_alias
from lsst.ts.calibrations.sal import ScriptState
from lsst.ts.calibrations.scripts import MakeComCamCalibrations
from lsst.ts.calibrations.scripts.product_outcome import ProductStatus
from lsst.ts.calibrations.scripts.run_record import RUN_RECORD_DIR_ENV, RunRecord
from lsst.ts.calibrations.sim.observatory import SimulatedObservatory

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.slow,
    pytest.mark.usefixtures("run_reports"),
]

DATE = "2022-11-04"
ALIAS = "/repo/LSSTComCam"
_collections = itertools.count(1)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def observatory(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SimulatedObservatory]:
    """The module's observatory, its repository also known as ALIAS; its clock starts at 18:00 UTC on DATE.

    The repository index it installs (the process's environment) is undone at the module's end.
    Its OCPS keeps one quantum worker: the runs' jobs come one after the other.
    """
    repo = tmp_path_factory.mktemp("facts") / "repo"
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in (INDEX_ENV_VAR, REPOSITORIES_ENV_VAR):
            monkeypatch.setenv(name, "")  # restored (to unset, or to its value) at the end
            monkeypatch.delenv(name)
        async with SimulatedObservatory(
            repo,
            time_scale=0.01,
            date=DATE,
            seed=3,
            detectors=[0],
            repo_alias=ALIAS,
            heartbeat_interval=1.0,
            ocps_max_processes=1,
        ) as obs:
            yield obs


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No run-record folder and no repository index given; the working folder is a fresh one.

    (The index is restored at the test's end: the module's observatory outlives it.)
    """
    for name in (RUN_RECORD_DIR_ENV, INDEX_ENV_VAR, REPOSITORIES_ENV_VAR):
        monkeypatch.delenv(name, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield work


async def run_script(config: dict[str, Any]) -> tuple[MakeComCamCalibrations, list[str]]:
    """Configure and run the script; return it once ended, with its log messages."""
    messages: list[str] = []
    script = await run_configured(MakeComCamCalibrations, config, messages=messages)
    return script, messages


def config_of(repo: str, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = dict(
        repo=repo,
        detectors=[0],
        n_processes=1,
        oods_timeout=30,
        script_mode="BIAS",
        n_bias=2,
        generate_calibrations=True,
        calib_collection=f"LSSTComCam/calib/daily/calib.2022NOV04.{next(_collections)}",
        certify_calib_begin_date="2022-11-04",
        certify_calib_end_date="2022-11-05",
    )
    config.update(overrides)
    return config


async def test_failed_ingest_is_stated_as_it_is(environment: Path, observatory: SimulatedObservatory) -> None:
    # The ingest of the run's second image fails.
    second = len(observatory.faults.image_numbers) + 2
    observatory.faults.fail_ingest(second)
    try:
        script, messages = await run_script(config_of(str(observatory.repo), do_verify=False))
    finally:
        observatory.faults.failed_ingests.discard(second)
    assert script.run_record_path is not None
    record = RunRecord.read(script.run_record_path)
    taken = record.exposures_taken["BIAS"]
    assert len(taken) == 3
    with Butler.from_config(str(observatory.repo)) as butler:
        held = {int(ref.dataId["exposure"]) for ref in butler.query_datasets("raw", "LSSTComCam/raw/all")}
    # "Ingested" is what the raw collection holds, the damaged raw not among it.
    assert taken[1] not in held
    ingested = record.exposures_ingested["BIAS"]
    # (read at the end of the run: an ingest still under way then may have ended since)
    assert taken[1] not in ingested and taken[0] in ingested and set(ingested) <= held
    summary = "\n".join(messages)
    assert "every exposure taken is ingested" not in summary
    assert f"not in LSSTComCam/raw/all: {sorted(set(taken) - set(ingested))}" in summary
    assert f"ingested in LSSTComCam/raw/all (can be reprocessed): {sorted(ingested)}" in summary
    # Every product has a status, and a reason when it is not certified or verified.
    assert record.products
    for outcome in record.products.values():
        if outcome.status not in (ProductStatus.CERTIFIED, ProductStatus.VERIFIED):
            assert outcome.reason, outcome
            assert outcome.reason in summary
    # Beside the repository, not in the working folder.
    assert script.run_record_path.parent == observatory.repo / "run_records"
    assert not (environment / "run_records").exists()


async def test_snippet_works_as_printed_in_a_new_shell(
    environment: Path, observatory: SimulatedObservatory
) -> None:
    # The alias as the observatory installed it (`environment` took the index away for the test).
    await asyncio.to_thread(install_repository_alias, observatory.repo, ALIAS)
    obs = observatory
    script, messages = await run_script(config_of(ALIAS, n_bias=3))
    assert script.state.state == ScriptState.DONE, script.state.reason
    assert script.run_record_path is not None
    assert script.run_record_path.parent == obs.repo / "run_records"
    assert not (environment / "run_records").exists()
    record = RunRecord.read(script.run_record_path)
    # One CHAINED collection of the run over its job outputs and the calibration collection.
    chain = record.collections["run"]
    outcome = record.products["BIAS"]
    with Butler.from_config(str(obs.repo)) as butler:
        assert butler.collections.get_info(chain).type == CollectionType.CHAINED
        children = list(butler.collections.get_info(chain).children)
    assert children == [
        outcome.collections["generate"],
        outcome.collections["verify"],
        record.collections["calib"],
    ]
    # The snippet as logged, run by a new interpreter that knows no repository index.
    text = next(m for m in messages if m.startswith("Fetch the results with:"))
    snippet = [line.strip() for line in text.splitlines()[1:]]
    assert snippet[0].startswith(f'import os; os.environ["{INDEX_ENV_VAR}"] = ')
    assert chain in snippet[2]
    code = "\n".join(
        snippet
        + [
            "print('bias', bias.getImage().getArray().shape)",
            "print('stats', sorted(str(k) for k in runStats))",
            "print('proc', calibArray.shape)",
            f"chained = dB.Butler({ALIAS!r}, collections=[{chain!r}])",
            "print('chained', len(chained.get('verifyBiasStats', instrument='LSSTComCam')))",
        ]
    )
    env = {k: v for k, v in os.environ.items() if k not in (INDEX_ENV_VAR, REPOSITORIES_ENV_VAR)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        env=env,
        cwd=environment,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert out["bias"].startswith("(") and out["proc"].startswith("(")
    assert str(record.exposures_processed["BIAS"][0]) in out["stats"]
    assert int(out["chained"]) >= 1
