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
"""BaseConfigTestCase: a mixin for unit tests of configuration files, as salobj's."""

__all__ = ["BaseConfigTestCase"]

import abc
import importlib
import itertools
import pathlib
from typing import Any

import yaml

from .configurable_csc import ConfigurableCsc
from .defaulting_validator import StandardValidator
from .type_hints import PathType


class BaseConfigTestCase(metaclass=abc.ABCMeta):
    """Helpers to check a CSC's configuration files against its schema.

    Inherit from this and from `unittest.TestCase`.
    """

    def get_schema(
        self, csc_package_root: PathType, sal_name: str | None = None, schema_subpath: str | None = None
    ) -> dict[str, Any]:
        """Read a configuration schema from a CSC package.

        Parameters
        ----------
        csc_package_root : `str` or `os.PathLike`
            Root directory of the CSC package.
        sal_name : `str`, optional
            SAL component name: the schema is ``schema/<sal_name>.yaml``.
        schema_subpath : `str`, optional
            Schema path relative to the root (wins over ``sal_name``).

        Returns
        -------
        schema : `dict`
            The schema.

        Raises
        ------
        AssertionError
            If the root or the schema file does not exist, or the file is
            not a YAML dict.
        RuntimeError
            If neither ``sal_name`` nor ``schema_subpath`` is given.
        """
        root = pathlib.Path(csc_package_root)
        assert root.is_dir(), f"{root} is not a directory"
        if schema_subpath is None:
            if sal_name is None:
                raise RuntimeError("Give sal_name or schema_subpath")
            schema_path = root / "schema" / f"{sal_name}.yaml"
        else:
            schema_path = root / schema_subpath
        assert schema_path.is_file(), f"{schema_path} is not a file"
        schema = yaml.safe_load(schema_path.read_text())
        assert isinstance(schema, dict), f"{schema_path} does not hold a dict"
        return schema

    def get_config_dir(
        self, config_package_root: PathType, sal_name: str, schema: dict[str, Any]
    ) -> pathlib.Path:
        """Return ``<config_package_root>/<sal_name>/<schema version>``.

        Parameters
        ----------
        config_package_root : `str` or `os.PathLike`
            Root of the configuration package.
        sal_name : `str`
            SAL component name.
        schema : `dict`
            Schema; its title ends with the version ("v2").

        Returns
        -------
        config_dir : `pathlib.Path`
            The directory.

        Raises
        ------
        AssertionError
            If a directory does not exist or the title has no version.
        """
        root = pathlib.Path(config_package_root)
        assert root.is_dir(), f"{root} is not a directory"
        version = schema["title"].split()[-1]
        assert version.startswith("v"), (
            f"version={version} of schema title {schema['title']!r} must start with 'v'"
        )
        config_dir = root / sal_name / version
        assert config_dir.is_dir(), f"{config_dir} is not a directory"
        return config_dir

    def check_config_files(
        self, config_dir: PathType, schema: dict[str, Any], exclude_glob: str | None = None
    ) -> None:
        """Check every combination of ``_init.yaml``, a site file and an
        override file of a directory against the schema.

        Parameters
        ----------
        config_dir : `str` or `os.PathLike`
            The directory.
        schema : `dict`
            Configuration schema.
        exclude_glob : `str`, optional
            Glob of files to leave out.

        Raises
        ------
        AssertionError
            If there is no ``_init.yaml`` or a combination is invalid; the
            message names the site and override files.
        """
        schema_version = "?"
        try:
            config_dir = pathlib.Path(config_dir)
            assert config_dir.is_dir(), f"{config_dir} is not a directory"
            validator = StandardValidator(schema)
            schema_version = schema["title"].split()[-1]
            assert schema_version.startswith("v"), f"schema title {schema['title']!r} has no version"
            files = list(config_dir.glob("*.yaml"))
            if exclude_glob:
                excluded = set(config_dir.glob(exclude_glob))
                files = [path for path in files if path not in excluded]
            names = {path.name for path in files}
            if "_init.yaml" not in names:
                raise RuntimeError("no _init.yaml file found")
            site_files = sorted(name for name in names if name.startswith("_") and name != "_init.yaml") or [
                ""
            ]
            override_files = [""] + sorted(name for name in names if not name.startswith("_"))
        except Exception as e:
            raise AssertionError(
                f"Failed on config_dir={config_dir}, schema_version={schema_version}: {e}"
            ) from e
        for site_file, override_file in itertools.product(site_files, override_files):
            try:
                ConfigurableCsc.read_config_files(
                    config_validator=validator,
                    config_dir=config_dir,
                    files_to_read=["_init.yaml", site_file, override_file],
                )
            except Exception as e:
                raise AssertionError(
                    f"Failed on config_dir={config_dir}, schema_version={schema_version}, "
                    f"site_file={site_file!r}, override_file={override_file!r}: {e}"
                ) from e

    def check_standard_config_files(
        self,
        module_name: str,
        schema_name: str = "CONFIG_SCHEMA",
        sal_name: str | None = None,
        config_package_root: PathType | None = None,
        config_dir: PathType | None = None,
    ) -> None:
        """Check the configuration files of a CSC package whose module
        holds its schema.

        Parameters
        ----------
        module_name : `str`
            Module holding the schema, e.g. "lsst.ts.calibrations.sal".
        schema_name : `str`, optional
            Name of the schema in the module.
        sal_name : `str`, optional
            SAL component name (to find ``config_dir``).
        config_package_root : `str` or `os.PathLike`, optional
            Root of the configuration package (to find ``config_dir``).
        config_dir : `str` or `os.PathLike`, optional
            The directory; found from the other arguments if None.

        Raises
        ------
        unittest.SkipTest
            If the module cannot be imported.
        RuntimeError, ValueError
            If ``config_dir`` is None and the other arguments are missing.
        """
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            # unittest is imported here only: this module is part of the SAL
            # runtime's package, which every script imports at start.
            import unittest

            raise unittest.SkipTest(f"Cannot import {module_name}") from None
        schema = getattr(module, schema_name)
        if config_dir is None:
            if config_package_root is None:
                raise RuntimeError("config_package_root must be given if config_dir is None")
            if sal_name is None:
                raise ValueError("sal_name must be given if config_dir is None")
            config_dir = self.get_config_dir(config_package_root, sal_name, schema)
        self.check_config_files(config_dir=config_dir, schema=schema)
