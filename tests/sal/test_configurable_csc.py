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

"""ConfigurableCsc with good, bad and override configurations, tested the
salobj way: BaseCscTestCase and BaseConfigTestCase on unittest."""

import os
import pathlib
import shutil
import subprocess
import unittest
from typing import Any

import pytest

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations import sal as salobj
from lsst.ts.calibrations.sal import State

CONFIGS_ROOT = pathlib.Path(__file__).parent / "data" / "configs"


class ConfigurableCscTestCase(salobj.BaseCscTestCase, unittest.IsolatedAsyncioTestCase):
    def basic_make_csc(
        self,
        initial_state: State | int | None,
        config_dir: str | pathlib.Path | None,
        simulation_mode: int,
        **kwargs: Any,
    ) -> salobj.BaseCsc:
        return salobj.TestCsc(
            self.next_index(),
            config_dir=config_dir,
            initial_state=State.STANDBY if initial_state is None else initial_state,
            simulation_mode=simulation_mode,
            heartbeat_interval=0.1,
            **kwargs,
        )

    async def test_site_and_available(self) -> None:
        config_dir = CONFIGS_ROOT / "good_with_site_file"
        async with self.make_csc(initial_state=State.STANDBY, config_dir=config_dir):
            assert os.environ["LSST_SITE"] == "test"
            available = await self.assert_next_sample(
                self.remote.evt_configurationsAvailable, overrides="some_fields.yaml", schemaVersion="v2"
            )
            assert available.url == config_dir.resolve().as_uri()
            # Inside this package's git work tree: a git description.
            assert available.version
            await self.remote.cmd_start.set_start(timeout=STD_TIMEOUT)
            applied = await self.assert_next_sample(
                self.remote.evt_configurationApplied, configurations="_init.yaml,_test.yaml"
            )
            assert applied.version == available.version
            config = self.csc.config
            assert (config.string0, config.bool0, config.int0) == ("default value for string0", True, 5)
            assert config.intarr0 == [-1, 1] and config.multi_type is None

    async def test_overrides(self) -> None:
        config_dir = CONFIGS_ROOT / "good_no_site_file"
        async with self.make_csc(initial_state=State.STANDBY, config_dir=config_dir):
            await self.assert_next_summary_state(State.STANDBY)
            available = await self.assert_next_sample(self.remote.evt_configurationsAvailable)
            assert available.overrides.split(",") == [
                "all_fields.yaml",
                "bad_extra_field.yaml",
                "bad_field_type.yaml",
                "bad_format.yaml",
                "empty.yaml",
                "some_fields.yaml",
            ]
            expected_values = {
                "": ("default value for string0", [-1, 1], None),
                "empty.yaml": ("default value for string0", [-1, 1], None),
                "some_fields.yaml": ("some fields", [7], None),
                "all_fields.yaml": ("an arbitrary string", [0, 2, -3, -5, 4], 3),
            }
            for override, (string0, intarr0, multi_type) in expected_values.items():
                await self.remote.cmd_start.set_start(configurationOverride=override, timeout=STD_TIMEOUT)
                await self.assert_next_summary_state(State.DISABLED)
                files = "_init.yaml" + (f",{override}" if override else "")
                await self.assert_next_sample(self.remote.evt_configurationApplied, configurations=files)
                config = self.csc.config
                assert (config.string0, config.intarr0, config.multi_type) == (string0, intarr0, multi_type)
                await self.remote.cmd_standby.start(timeout=STD_TIMEOUT)
                await self.assert_next_summary_state(State.STANDBY)

    async def test_bad_overrides(self) -> None:
        config_dir = CONFIGS_ROOT / "good_no_site_file"
        async with self.make_csc(initial_state=State.STANDBY, config_dir=config_dir):
            await self.assert_next_summary_state(State.STANDBY)
            bad = {
                "bad_field_type.yaml": "at config['int0']: 'not an integer' is not of type 'integer'",
                "bad_extra_field.yaml": "no_such_field",
                "bad_format.yaml": "is not a dict",
                "no_such_file.yaml": "does not exist",
                "_init.yaml": "must not start with '_'",
            }
            for override, message in bad.items():
                with salobj.assertRaisesAckError(ack=salobj.SalRetCode.CMD_FAILED, result_contains=message):
                    await self.remote.cmd_start.set_start(configurationOverride=override, timeout=STD_TIMEOUT)
                assert self.csc.summary_state == State.STANDBY
                assert self.csc.config is None
            assert self.remote.evt_summaryState.nqueued == 0

    async def test_start_with_override(self) -> None:
        config_dir = CONFIGS_ROOT / "good_no_site_file"
        async with self.make_csc(
            initial_state=State.ENABLED, config_dir=config_dir, override="all_fields.yaml"
        ):
            await self.assert_next_summary_state(State.ENABLED)
            await self.assert_next_sample(
                self.remote.evt_configurationApplied, configurations="_init.yaml,all_fields.yaml"
            )
            assert self.csc.config.int0 == -47

    async def test_bad_initial_override_stays_standby(self) -> None:
        # A failing transition during start-up is logged; the CSC stays where it got to.
        config_dir = CONFIGS_ROOT / "good_no_site_file"
        csc = self.basic_make_csc(
            initial_state=State.ENABLED, config_dir=config_dir, simulation_mode=0, override="bad_format.yaml"
        )
        try:
            await csc.start_task
            assert csc.summary_state == State.STANDBY
        finally:
            await csc.close()

    async def test_standard_state_transitions(self) -> None:
        async with self.make_csc(initial_state=State.STANDBY):
            await self.check_standard_state_transitions(
                enabled_commands=("setArrays", "setScalars", "wait"),
                skip_commands=("fault",),
                override="some_fields.yaml",
            )

    async def test_bad_config_dirs(self) -> None:
        for name, message in (
            ("bad_no_init", "_init.yaml' does not exist"),
            ("bad_incomplete", "is a required"),
        ):
            csc = self.basic_make_csc(
                initial_state=State.STANDBY, config_dir=CONFIGS_ROOT / name, simulation_mode=0
            )
            try:
                remote = salobj.Remote(csc.domain, "Test", csc.salinfo.index)
                await csc.start_task
                with salobj.assertRaisesAckError(result_contains=message):
                    await remote.cmd_start.start(timeout=STD_TIMEOUT)
            finally:
                await csc.close()
        with pytest.raises(ValueError, match="not a directory"):
            self.basic_make_csc(initial_state=None, config_dir=CONFIGS_ROOT / "missing", simulation_mode=0)


class SiteTestCase(unittest.TestCase):
    def test_site_required(self) -> None:
        saved = os.environ.pop("LSST_SITE", None)
        try:
            with pytest.raises(RuntimeError, match="LSST_SITE"):
                # The check comes before anything needs an event loop.
                salobj.TestCsc(1)
        finally:
            if saved is not None:
                os.environ["LSST_SITE"] = saved


class ConfigFilesTestCase(salobj.BaseConfigTestCase, unittest.TestCase):
    def test_good_files(self) -> None:
        self.check_config_files(CONFIGS_ROOT / "good_with_site_file", salobj.CONFIG_SCHEMA)
        self.check_config_files(
            CONFIGS_ROOT / "good_no_site_file", salobj.CONFIG_SCHEMA, exclude_glob="bad_*"
        )
        self.check_standard_config_files(
            "lsst.ts.calibrations.sal", config_dir=salobj.testcsc.DEFAULT_CONFIG_DIR
        )

    def test_bad_files(self) -> None:
        with pytest.raises(AssertionError, match="override_file='bad_extra_field.yaml'"):
            self.check_config_files(CONFIGS_ROOT / "good_no_site_file", salobj.CONFIG_SCHEMA)
        with pytest.raises(AssertionError, match="no _init.yaml"):
            self.check_config_files(CONFIGS_ROOT / "bad_no_init", salobj.CONFIG_SCHEMA)
        with pytest.raises(AssertionError, match="override_file=''"):
            self.check_config_files(CONFIGS_ROOT / "bad_incomplete", salobj.CONFIG_SCHEMA)

    def test_config_dir_layout(self) -> None:
        root = salobj.testcsc.DEFAULT_CONFIG_DIR.parents[1]
        assert self.get_config_dir(root, "Test", salobj.CONFIG_SCHEMA) == salobj.testcsc.DEFAULT_CONFIG_DIR


def test_hierarchical_update() -> None:
    main: dict[str, Any] = {"a": 1, "b": {"c": 2, "d": {"e": 3}}}
    salobj.hierarchical_update(main, {"b": {"d": {"e": 4, "f": 5}}, "g": 6}, "main", "override")
    assert main == {"a": 1, "b": {"c": 2, "d": {"e": 4, "f": 5}}, "g": 6}
    with pytest.raises(ValueError, match=r"main\[b\]=.* is a dict, but override\[b\] = 1 is not|is a dict"):
        salobj.hierarchical_update(main, {"b": 1}, "main", "override")
    with pytest.raises(ValueError, match=r"override\[b\]\[c\]=7 is not a dict|is not a dict"):
        salobj.hierarchical_update(main, {"b": {"c": {"x": 1}}}, "main", "override")


async def test_configs_version_leaves_no_lock(tmp_path: pathlib.Path) -> None:
    """The configuration version comes from git without writing to the repository."""
    config_dir = tmp_path / "config"
    shutil.copytree(CONFIGS_ROOT / "good_no_site_file", config_dir)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "configs"], ["tag", "v1"]):
        subprocess.run([*git, *args], cwd=config_dir, check=True)
    async with salobj.TestCsc(1, config_dir=config_dir, heartbeat_interval=0.1) as csc:
        assert (
            await csc._get_configs_version()
            == "tags/v1-0-g"
            + subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                cwd=config_dir,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
        (config_dir / "all_fields.yaml").write_text("int0: 1\n")
        assert (await csc._get_configs_version()).endswith("-dirty")
        assert not (config_dir / ".git" / "index.lock").exists()
    outside = tmp_path / "plain"
    outside.mkdir()
    (outside / "_init.yaml").write_text("")
    async with salobj.TestCsc(2, config_dir=outside, heartbeat_interval=0.1) as csc:
        assert await csc._get_configs_version() == ""
