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
"""ConfigurableCsc: a CSC configured from YAML files by its ``start`` command."""

__all__ = ["ConfigurableCsc"]

import abc
import argparse
import asyncio
import os
import pathlib
import subprocess
import types
from collections.abc import Sequence
from typing import Any

import yaml

from .base import ExpectedError, State
from .base_csc import BaseCsc
from .defaulting_validator import StandardValidator
from .hierarchical_update import hierarchical_update


class ConfigurableCsc(BaseCsc, abc.ABC):
    """A CSC whose ``start`` command reads, validates and applies a
    configuration (as salobj's ``ConfigurableCsc``).

    Parameters
    ----------
    name : `str`
        SAL component name.
    index : `int` or `None`
        SAL index; nonzero for an indexed component.
    config_schema : `dict`
        JSON schema (draft 7) of the configuration; its ``title`` must end
        with " v<version>" (e.g. "Test v2").
    config_dir : `str`, `pathlib.Path` or `None`, optional
        Directory of the configuration files; None for the default
        (`_get_default_config_dir`).
    check_if_duplicate, initial_state, override, simulation_mode, extra_commands : optional
        As for `BaseCsc`.
    discard_out_of_order_telemetry, discard_out_of_order_events : `bool`, optional
        Accepted and ignored, as by `BaseCsc`.
    heartbeat_interval : `float`, optional
        As for `BaseCsc`.

    Attributes
    ----------
    config_dir : `pathlib.Path`
        Absolute path of the configuration directory.
    config_validator : `StandardValidator`
        Validator of the configuration.
    schema_version : `str`
        Last word of the schema title, e.g. "v2".
    site : `str`
        Value of environment variable ``LSST_SITE`` (e.g. "summit", "test").
    read_config_dir_interval : `float`
        Interval (seconds) between reads of the configuration directory
        while in STANDBY.

    Raises
    ------
    RuntimeError
        If environment variable ``LSST_SITE`` is not set.
    ValueError
        If the schema is invalid or its title has no version, or
        ``config_dir`` is not a directory.

    Notes
    -----
    The ``start`` command (and a start in DISABLED or ENABLED) reads, in
    order, ``_init.yaml``, ``_<site>.yaml`` if it exists, and the file
    named by ``configurationOverride`` (if not blank; it must not start
    with "_"; "name.yaml:<git ref>" reads that file at a git reference of
    ``config_dir``). Each file updates the values of the previous ones
    (`hierarchical_update`); a top-level ``metadata`` key is dropped. The
    result must match the schema (no defaults are filled, as salobj), and
    is given to `configure` as a `types.SimpleNamespace`. Then
    ``configurationApplied`` is written with the files read. While in
    STANDBY, ``configurationsAvailable`` lists the override files of
    ``config_dir`` (``*.yaml`` not starting with "_"), reread every
    `read_config_dir_interval`; its ``version`` (``git describe`` of the
    directory, "" if not in git) is refreshed at each ``start`` (salobj:
    at every reread).
    """

    def __init__(
        self,
        name: str,
        index: int | None,
        config_schema: dict[str, Any],
        config_dir: str | pathlib.Path | None = None,
        check_if_duplicate: bool = False,
        initial_state: State | int | None = None,
        override: str = "",
        simulation_mode: int = 0,
        extra_commands: set[str] | frozenset[str] = frozenset(),
        discard_out_of_order_telemetry: bool = True,
        discard_out_of_order_events: bool = True,
        *,
        heartbeat_interval: float | None = None,
    ) -> None:
        site = os.environ.get("LSST_SITE")
        if site is None:
            raise RuntimeError("Environment variable $LSST_SITE not defined (e.g. summit, base or test)")
        self.site = site
        try:
            self.config_validator = StandardValidator(schema=config_schema)
            StandardValidator.check_schema(config_schema)
            title = config_schema["title"]
            name_version = title.rsplit(" ", 1)
            if len(name_version) != 2 or not name_version[1].startswith("v"):
                raise ValueError(f"Schema title {title!r} must end with ' v<version>'")
            self.schema_version = name_version[1]
        except Exception as e:
            raise ValueError(f"config_schema invalid: {e}") from e
        self.config_dir = self._get_default_config_dir(name) if config_dir is None else config_dir
        self.read_config_dir_interval = 1.0
        self._configs_version: str | None = None
        self._read_config_dir_task: asyncio.Task[None] | None = None
        super().__init__(
            name,
            index,
            check_if_duplicate=check_if_duplicate,
            initial_state=initial_state,
            override=override,
            simulation_mode=simulation_mode,
            extra_commands=extra_commands,
            heartbeat_interval=heartbeat_interval,
        )
        for evt in (self.evt_configurationsAvailable, self.evt_configurationApplied):
            evt.set(schemaVersion=self.schema_version, url=self.config_dir.as_uri())

    @property
    def config_dir(self) -> pathlib.Path:
        """The configuration directory (absolute).

        Setting it to something that is not a directory raises
        `ValueError`.
        """
        return self._config_dir

    @config_dir.setter
    def config_dir(self, config_dir: str | pathlib.Path) -> None:
        path = pathlib.Path(config_dir).resolve()
        if not path.is_dir():
            raise ValueError(f"config_dir={path} does not exist or is not a directory")
        self._config_dir = path

    @classmethod
    def read_config_files(
        cls,
        config_validator: Any,
        config_dir: pathlib.Path,
        files_to_read: Sequence[str],
        git_hash: str = "",
    ) -> types.SimpleNamespace:
        """Read configuration files in order, merge and validate them.

        Blocking (file and git reads): call it from a thread in async code.

        Parameters
        ----------
        config_validator : `StandardValidator`
            Validator of the configuration.
        config_dir : `pathlib.Path`
            Directory of the files.
        files_to_read : sequence of `str`
            File names; "" entries are skipped. Later files override
            earlier ones.
        git_hash : `str`, optional
            Git reference to read the files at; "" for the files as they are.

        Returns
        -------
        config : `types.SimpleNamespace`
            The validated configuration (top-level keys as attributes).

        Raises
        ------
        ExpectedError
            If a file is missing, is not YAML, holds something other than a
            dict, or the merged configuration does not match the schema.
        """
        config_dir = pathlib.Path(config_dir)
        config_dict: dict[str, Any] = {}
        for filename in files_to_read:
            if not filename:
                continue
            filepath = config_dir / filename
            if not filepath.is_file():
                raise ExpectedError(f"Config file '{filepath}' does not exist")
            if git_hash:
                result = subprocess.run(
                    ["git", "show", f"{git_hash}:./{filename}"],
                    cwd=config_dir,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if result.returncode != 0:
                    raise ExpectedError(
                        f"Could not read config file {filepath} at git reference {git_hash!r}: "
                        f"{result.stderr.strip()}"
                    )
                raw = result.stdout
            else:
                raw = filepath.read_text()
            try:
                data = yaml.safe_load(raw)
            except yaml.YAMLError as e:
                raise ExpectedError(f"Could not parse {filepath} as YAML: {e}") from e
            if data is None:
                continue
            try:
                hierarchical_update(
                    main=config_dict, override=data, main_name="config", override_name=filename
                )
            except ValueError as e:
                raise ExpectedError(f"Could not apply {filepath}: {e}") from e
        config_dict.pop("metadata", None)
        try:
            config_validator.validate(config_dict)
        except Exception as e:
            message = getattr(e, "message", str(e))
            path = "".join(f"[{item!r}]" for item in getattr(e, "absolute_path", []))
            where = f" at config{path}" if path else ""
            raise ExpectedError(f"Configuration failed validation{where}: {message}") from e
        return types.SimpleNamespace(**config_dict)

    async def read_config_dir(self, refresh_version: bool = True) -> None:
        """Write ``configurationsAvailable`` (if changed) from the
        configuration directory, and set ``configurationApplied.version``.

        Parameters
        ----------
        refresh_version : `bool`, optional
            Run ``git describe`` again? If False, reuse the version found
            last time (the STANDBY loop does, to spare a process a second).
        """
        overrides = await asyncio.to_thread(self._list_overrides)
        if refresh_version or self._configs_version is None:
            self._configs_version = await self._get_configs_version()
        version = self._configs_version
        await self.evt_configurationsAvailable.set_write(overrides=",".join(overrides), version=version)
        self.evt_configurationApplied.set(version=version)

    def _list_overrides(self) -> list[str]:
        return sorted(
            path.name
            for path in self.config_dir.glob("*.yaml")
            if not path.name.startswith("_") and path.is_file()
        )

    async def _read_config_dir_loop(self) -> None:
        refresh_version = True
        while self.summary_state == State.STANDBY:
            await self.read_config_dir(refresh_version=refresh_version)
            refresh_version = False
            await asyncio.sleep(self.read_config_dir_interval)

    async def _get_configs_version(self) -> str:
        """Return the ``git describe --all --long --always --dirty`` of the
        configuration directory, or "" if it is no git work tree.

        Computed without writing to the repository: ``git describe
        --dirty`` takes the index lock (and a CSC closing while it runs
        would leave a stale ``index.lock``), so the description and the
        dirty check (``git status``) run separately, with
        ``GIT_OPTIONAL_LOCKS=0``.
        """
        description = await self._run_git("describe", "--all", "--long", "--always")
        if description is None:
            return ""
        changes = await self._run_git("status", "--porcelain", "--untracked-files=no")
        return f"{description}-dirty" if changes else description

    async def _run_git(self, *args: str) -> str | None:
        """Run git in `config_dir`; return its stripped output, or None if it fails.

        Git runs to completion in a worker thread, which reaps it even if
        the caller is cancelled (the CSC closing).
        """
        return await asyncio.to_thread(self._run_git_blocking, args)

    def _run_git_blocking(self, args: Sequence[str]) -> str | None:
        try:
            result = subprocess.run(
                ["git", *args],
                cwd=self.config_dir,
                capture_output=True,
                text=True,
                errors="replace",
                env=dict(os.environ, GIT_OPTIONAL_LOCKS="0"),
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if result.returncode != 0:
            return None
        return result.stdout.strip()

    async def _report_summary_state(self) -> None:
        await super()._report_summary_state()
        if self._read_config_dir_task is not None:
            self._read_config_dir_task.cancel()
        if self.summary_state == State.STANDBY:
            self._read_config_dir_task = asyncio.create_task(self._read_config_dir_loop())

    async def close_tasks(self) -> None:
        """Stop reading the configuration directory, then as `BaseCsc`."""
        task = self._read_config_dir_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])
        await super().close_tasks()

    async def begin_start(self, data: Any) -> None:
        """Read, validate and apply the configuration (see the class notes).

        Parameters
        ----------
        data : ``cmd_start.DataType``
            Command data; ``configurationOverride`` names the override.

        Raises
        ------
        ExpectedError
            If the override starts with "_", or the configuration cannot
            be read or is invalid.
        """
        if self._read_config_dir_task is not None:
            self._read_config_dir_task.cancel()
        await self.read_config_dir()
        override = getattr(data, "configurationOverride", "") or ""
        override_filename, _, git_hash = override.partition(":")
        files_to_read = ["_init.yaml"]
        site_filename = f"_{self.site}.yaml"
        if (self.config_dir / site_filename).is_file():
            files_to_read.append(site_filename)
        if override_filename:
            if override_filename.startswith("_"):
                raise ExpectedError(f"configurationOverride={override_filename!r} must not start with '_'")
            files_to_read.append(override_filename)
        self.log.debug(
            f"Reading configuration from {self.config_dir}: {files_to_read}, git_hash={git_hash!r}"
        )
        config = await asyncio.to_thread(
            self.read_config_files, self.config_validator, self.config_dir, files_to_read, git_hash
        )
        await self.configure(config)
        await self.evt_configurationApplied.set_write(
            configurations=",".join(files_to_read), force_output=True
        )

    @abc.abstractmethod
    async def configure(self, config: Any) -> None:
        """Apply a validated configuration; called by ``start`` before the
        state changes to DISABLED. Raise to refuse it.

        Parameters
        ----------
        config : `types.SimpleNamespace`
            The configuration.
        """
        raise NotImplementedError()

    @staticmethod
    @abc.abstractmethod
    def get_config_pkg() -> str:
        """Return the name of the configuration package, e.g. "ts_config_ocs"."""
        raise NotImplementedError()

    def _get_default_config_dir(self, name: str) -> pathlib.Path:
        """Return ``${CONFIG_PKG}_DIR/<name>/<schema version>``.

        Parameters
        ----------
        name : `str`
            SAL component name.

        Raises
        ------
        RuntimeError
            If the environment variable is not set or the directory does
            not exist.
        """
        env_name = f"{self.get_config_pkg().upper()}_DIR"
        root = os.environ.get(env_name)
        if root is None:
            raise RuntimeError(f"Environment variable {env_name} not defined; give config_dir instead")
        config_dir = pathlib.Path(root).resolve() / name / self.schema_version
        if not config_dir.is_dir():
            raise RuntimeError(f"{config_dir} (${env_name}/{name}/{self.schema_version}) is not a directory")
        return config_dir

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add ``--configdir`` (and ``--override`` with ``--state``).

        Parameters
        ----------
        parser : `argparse.ArgumentParser`
            The parser.
        """
        parser.add_argument(
            "--configdir", help="directory of configuration files (default: the standard one)"
        )
        if cls.enable_cmdline_state:
            parser.add_argument(
                "--override", default="", help="override to apply if --state is disabled or enabled"
            )

    @classmethod
    def add_kwargs_from_args(cls, args: argparse.Namespace, kwargs: dict[str, Any]) -> None:
        """Pass ``config_dir`` (and ``override``) to the constructor.

        Parameters
        ----------
        args : `argparse.Namespace`
            Parsed arguments.
        kwargs : `dict` [`str`, `typing.Any`]
            Constructor keyword arguments, to update.
        """
        kwargs["config_dir"] = args.configdir
        if hasattr(args, "override"):
            kwargs["override"] = args.override
