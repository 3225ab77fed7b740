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

"""Configuration files of a ConfigurableCsc read at a git reference, and
what is refused with the file and reason named: unparsable YAML, a file
missing at the reference, a bad schema title, a configuration package
directory that is not set or not there."""

import copy
import pathlib
import shutil
import subprocess

import pytest

from lsst.ts.calibrations import sal as salobj
from lsst.ts.calibrations.sal import ExpectedError
from lsst.ts.calibrations.sal.configurable_csc import StandardValidator

CONFIGS_ROOT = pathlib.Path(__file__).parent / "data" / "configs"
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]


def validator() -> StandardValidator:
    return StandardValidator(schema=salobj.CONFIG_SCHEMA)


def read(config_dir: pathlib.Path, files: list[str], git_hash: str = "") -> object:
    return salobj.TestCsc.read_config_files(validator(), config_dir, files, git_hash)


@pytest.fixture
def git_config_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    """A copy of good_no_site_file under git, committed, then some_fields.yaml changed."""
    config_dir = tmp_path / "config"
    shutil.copytree(CONFIGS_ROOT / "good_no_site_file", config_dir)
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "configs"]):
        subprocess.run([*GIT, *args], cwd=config_dir, check=True)
    return config_dir


def test_files_read_at_a_git_reference(git_config_dir: pathlib.Path) -> None:
    (git_config_dir / "_init.yaml").write_text(
        (git_config_dir / "_init.yaml").read_text().replace("int0: 5", "int0: 6")
    )
    assert read(git_config_dir, ["_init.yaml"]).int0 == 6  # type: ignore[attr-defined]
    assert read(git_config_dir, ["_init.yaml"], git_hash="HEAD").int0 == 5  # type: ignore[attr-defined]


def test_a_file_missing_at_the_git_reference(git_config_dir: pathlib.Path) -> None:
    (git_config_dir / "later.yaml").write_text("int0: 9\n")  # not committed
    path = git_config_dir / "later.yaml"
    with pytest.raises(
        ExpectedError, match=rf"^Could not read config file {path} at git reference 'HEAD': .+"
    ):
        read(git_config_dir, ["_init.yaml", "later.yaml"], git_hash="HEAD")
    assert read(git_config_dir, ["_init.yaml", "later.yaml"]).int0 == 9  # type: ignore[attr-defined]


def test_unparsable_yaml_is_named(tmp_path: pathlib.Path) -> None:
    shutil.copytree(CONFIGS_ROOT / "good_no_site_file", tmp_path / "config")
    path = tmp_path / "config" / "broken.yaml"
    path.write_text("int0: [1, 2\n")
    with pytest.raises(ExpectedError, match=rf"^Could not parse {path} as YAML: "):
        read(tmp_path / "config", ["_init.yaml", "broken.yaml"])


class OtherPackageCsc(salobj.TestCsc):
    """A TestCsc whose configuration package is ts_config_nosuch."""

    @staticmethod
    def get_config_pkg() -> str:
        return "ts_config_nosuch"

    def _get_default_config_dir(self, name: str) -> pathlib.Path:
        return salobj.ConfigurableCsc._get_default_config_dir(self, name)


async def test_config_package_directory(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TS_CONFIG_NOSUCH_DIR", raising=False)
    with pytest.raises(
        RuntimeError,
        match=r"^Environment variable TS_CONFIG_NOSUCH_DIR not defined; give config_dir instead$",
    ):
        OtherPackageCsc(1)
    monkeypatch.setenv("TS_CONFIG_NOSUCH_DIR", str(tmp_path))
    expected = tmp_path.resolve() / "Test" / "v2"
    with pytest.raises(
        RuntimeError, match=rf"^{expected} \(\$TS_CONFIG_NOSUCH_DIR/Test/v2\) is not a directory$"
    ):
        OtherPackageCsc(1)
    shutil.copytree(CONFIGS_ROOT / "good_no_site_file", expected)
    csc = OtherPackageCsc(1)
    try:
        assert csc.config_dir == expected
    finally:
        await csc.close()


class TitledCsc(salobj.TestCsc):
    """A TestCsc with the schema given."""

    def __init__(self, schema: dict) -> None:
        salobj.ConfigurableCsc.__init__(self, "Test", index=1, config_schema=schema)


@pytest.mark.parametrize("title", ["Test", "Test 2", "Testv2"])
def test_schema_title_needs_a_version(title: str) -> None:
    schema = copy.deepcopy(salobj.CONFIG_SCHEMA)
    schema["title"] = title
    with pytest.raises(
        ValueError, match=rf"^config_schema invalid: Schema title '{title}' must end with ' v<version>'$"
    ):
        TitledCsc(schema)


def test_schema_must_be_valid() -> None:
    schema = copy.deepcopy(salobj.CONFIG_SCHEMA)
    schema["type"] = "no such type"
    with pytest.raises(ValueError, match=r"^config_schema invalid: "):
        TitledCsc(schema)
