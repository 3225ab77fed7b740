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

"""BaseConfigTestCase's helpers, as a CSC package's tests call them: the
schema found by component name or path, and each wrong call or missing
file refused with what is missing named."""

import pathlib
import unittest

import pytest
import yaml

from lsst.ts.calibrations import sal as salobj

CONFIGS_ROOT = pathlib.Path(__file__).parent / "data" / "configs"


class Checker(salobj.BaseConfigTestCase):
    """The helpers, outside a unittest.TestCase."""


@pytest.fixture
def package_root(tmp_path: pathlib.Path) -> pathlib.Path:
    """A CSC package with ``schema/Test.yaml`` (the Test schema) and ``schema/list.yaml``."""
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "Test.yaml").write_text(yaml.safe_dump(salobj.CONFIG_SCHEMA))
    (tmp_path / "schema" / "list.yaml").write_text("- not\n- a dict\n")
    return tmp_path


def test_schema_by_name_or_path(package_root: pathlib.Path) -> None:
    checker = Checker()
    assert checker.get_schema(package_root, sal_name="Test") == salobj.CONFIG_SCHEMA
    assert checker.get_schema(package_root, sal_name="Other", schema_subpath="schema/Test.yaml")["title"] == (
        "Test v2"
    )


def test_schema_refusals(package_root: pathlib.Path) -> None:
    checker = Checker()
    with pytest.raises(AssertionError, match=f"^{package_root / 'nosuch'} is not a directory$"):
        checker.get_schema(package_root / "nosuch", sal_name="Test")
    with pytest.raises(RuntimeError, match="^Give sal_name or schema_subpath$"):
        checker.get_schema(package_root)
    with pytest.raises(AssertionError, match=f"^{package_root / 'schema' / 'Other.yaml'} is not a file$"):
        checker.get_schema(package_root, sal_name="Other")
    with pytest.raises(
        AssertionError, match=f"^{package_root / 'schema' / 'list.yaml'} does not hold a dict$"
    ):
        checker.get_schema(package_root, schema_subpath="schema/list.yaml")


def test_standard_config_files_refusals() -> None:
    checker = Checker()
    with pytest.raises(unittest.SkipTest, match="^Cannot import lsst.ts.nosuchcsc$"):
        checker.check_standard_config_files("lsst.ts.nosuchcsc")
    with pytest.raises(RuntimeError, match="^config_package_root must be given if config_dir is None$"):
        checker.check_standard_config_files("lsst.ts.calibrations.sal", sal_name="Test")
    with pytest.raises(ValueError, match="^sal_name must be given if config_dir is None$"):
        checker.check_standard_config_files("lsst.ts.calibrations.sal", config_package_root=CONFIGS_ROOT)


def test_standard_config_files_found_from_the_package_root(tmp_path: pathlib.Path) -> None:
    config_dir = tmp_path / "Test" / "v2"
    config_dir.parent.mkdir()
    config_dir.symlink_to(CONFIGS_ROOT / "good_with_site_file")
    Checker().check_standard_config_files(
        "lsst.ts.calibrations.sal", sal_name="Test", config_package_root=tmp_path
    )
    # A bad file in the directory found is reported.
    bad_dir = tmp_path / "bad" / "Test" / "v2"
    bad_dir.parent.mkdir(parents=True)
    bad_dir.symlink_to(CONFIGS_ROOT / "bad_incomplete")
    with pytest.raises(AssertionError, match="override_file=''"):
        Checker().check_standard_config_files(
            "lsst.ts.calibrations.sal", sal_name="Test", config_package_root=tmp_path / "bad"
        )
