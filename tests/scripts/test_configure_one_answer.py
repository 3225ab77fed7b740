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

"""Configure answers once, with every problem: YAML, schema, rules, filter and repository.

Through ``do_configure`` of the script itself (no observatory): the
configuration is validated once against the script's schema, and a
subclass's schema is what the plan is built from.
"""

import asyncio
import itertools
import logging
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations.repo.repository import bootstrap_repository
from lsst.ts.calibrations.sal import ScriptState
from lsst.ts.calibrations.scripts import MakeComCamCalibrations

_indices = itertools.count(760)

# Nothing to process: configure then needs only a repository, no calibrations in it.
NO_PROCESSING = "do_verify: false\ndo_gain_from_flat_pairs: false\n"


@pytest.fixture(scope="module")
def empty_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An LSSTComCam repository with nothing in it."""
    path: Path = tmp_path_factory.mktemp("repo")
    bootstrap_repository(path).close()
    yield str(path)


async def configure(
    text: str, script_class: type[MakeComCamCalibrations] = MakeComCamCalibrations
) -> MakeComCamCalibrations:
    """Configure a new script with ``text``; return it (CONFIGURED or CONFIGURE_FAILED), closed."""
    script = script_class(index=next(_indices))
    try:
        await asyncio.wait_for(script.start_task, STD_TIMEOUT)
        data = script.cmd_configure.DataType()
        data.config = text
        try:
            await asyncio.wait_for(script.do_configure(data), STD_TIMEOUT)
        except Exception:
            assert script.state.state == ScriptState.CONFIGURE_FAILED
    finally:
        await script.close()
    return script


def problems_of(script: MakeComCamCalibrations) -> str:
    reason = str(script.state.reason)
    assert script.state.state == ScriptState.CONFIGURE_FAILED, reason
    return reason.split(" failed: ", 1)[1]


async def test_every_layer_in_one_answer() -> None:
    text = (
        "script_mode: BIAS_DARK_FLAT\n"
        "n_bias 30\n"  # a slip: read as n_bias: 30 for the other checks
        "n_dark: 0\n"  # schema
        "exp_times_flats: 2\n"  # unknown option, with its line
        "n_flat: 4\n"
        "exp_times_flat: [1, 1, 2]\n"  # rule: n_flat written and the list disagrees
        "do_verify: false\n"
        "input_collections_verify_bias: LSSTComCam/calib\n"  # rule: cannot apply
        "repo: /no/such/repository\n"  # repository check
    )
    message = problems_of(await configure(text))
    assert message.startswith("6 configuration problem(s): ")
    expected = [
        "(1) line 2: 'n_bias 30' is not an option: each option is written `key: value`",
        "write `n_bias: 30`",
        "(2) n_dark: 0 is less than the minimum of 1",
        "(3) line 4: 'exp_times_flats' is not an option: did you mean exp_times_flat instead of "
        "exp_times_flats?",
        "(4) exp_times_flat has 3 entries, but with n_flat=4 and n_discard_flat=1",
        "(5) input_collections_verify_bias is set but cannot apply because do_verify is false",
        "(6) repo='/no/such/repository': ",
    ]
    for fragment in expected:
        assert fragment in message, (fragment, message)


async def test_one_line_without_colon_gets_a_hint() -> None:
    message = problems_of(await configure("n_bias 30"))
    assert "line 1: 'n_bias 30' is not an option" in message and "write `n_bias: 30`" in message
    assert "not a str" not in message


async def test_unreadable_text_answers_alone() -> None:
    message = problems_of(await configure("n_bias: [1, 2\n"))
    assert message.startswith("1 configuration problem(s): (1) invalid YAML: ") and "line 2" in message


async def test_note_example_accepted(empty_repo: str) -> None:
    # The procedure document's note: only exp_times_flat is given, n_flat follows it.
    text = f"exp_times_flat: [1.2, 1.2]\nrepo: {empty_repo}\ndo_verify: false\n"
    script = await configure(text)
    assert script.state.state == ScriptState.CONFIGURED, script.state.reason
    assert script.plan is not None
    assert script.plan.sequence("FLAT").exposure_times == (1.2, 1.2, 1.2)
    assert script.plan.gain_pairs == ((0, 1),) and script.plan.gain_step == "GAIN"
    # The configuration is what was validated: not rewritten on the way to the plan.
    assert script.plan.config["n_flat"] == 20 and script.plan.config["exp_times_flat"] == [1.2, 1.2]


async def test_short_darks_for_defects_warn_but_configure(
    empty_repo: str, caplog: pytest.LogCaptureFixture
) -> None:
    text = (
        f"do_defects: true\ngenerate_calibrations: true\nexp_times_dark: 2\nrepo: {empty_repo}\n"
        + NO_PROCESSING
    )
    with caplog.at_level(logging.WARNING):
        script = await configure(text)
    assert script.state.state == ScriptState.CONFIGURED, script.state.reason
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("darks of [2] s" in w and "set exp_times_dark to 8 s or more" in w for w in warnings), warnings


class ShortComCamCalibrations(MakeComCamCalibrations):
    """A subclass with its own schema (fewer biases by default) and detectors."""

    detector_ids: typing.ClassVar[tuple[int, ...]] = (4,)

    @classmethod
    def get_schema(cls) -> dict[str, typing.Any]:
        schema = super().get_schema()
        schema["title"] = "ShortComCamCalibrations v1"
        schema["properties"]["n_bias"]["default"] = 3
        schema["properties"]["n_bias"]["maximum"] = 5
        return schema


async def test_subclass_schema_reaches_the_plan(empty_repo: str) -> None:
    script = await configure(
        f"script_mode: BIAS\nrepo: {empty_repo}\n{NO_PROCESSING}", ShortComCamCalibrations
    )
    assert script.state.state == ScriptState.CONFIGURED, script.state.reason
    assert script.plan is not None
    assert script.plan.sequence("BIAS").n == 3 and script.plan.detectors == (4,)
    # The subclass's schema is the one configure validates against.
    message = problems_of(await configure("script_mode: BIAS\nn_bias: 6\n", ShortComCamCalibrations))
    assert "n_bias: 6 is greater than the maximum of 5" in message


async def test_reprocessing_and_config_problems_together(tmp_path: Path) -> None:
    config = dict(
        script_mode="BIAS",
        reprocess_exposures={"bias": [1, 2]},
        reprocess_run_record=str(tmp_path / "run.json"),
        n_discard_bias=-1,
    )
    message = problems_of(await configure(yaml.safe_dump(config)))
    assert "n_discard_bias: -1 is less than the minimum of 0" in message
    assert "reprocess_exposures and reprocess_run_record are both set: give one of them" in message
