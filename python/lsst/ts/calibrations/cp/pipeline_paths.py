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

"""Where the calibration pipelines are, and the environment ``pipetask`` needs to find them.

Pipeline files are named as in cp_pipe and cp_verify, one directory per
instrument (LSSTComCam, LSSTCam, LATISS):
``${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml``,
``${CP_VERIFY_DIR}/pipelines/LATISS/verifyBias.yaml``. Both variables
name this package's ``cp`` directory. The per-instrument files import their
shared task graphs from ``pipelines/_ingredients/`` through ``$CP_PIPE_DIR``, so the variables
must be set in the environment of any process that reads a pipeline
(`pipeline_environment`).
"""

__all__ = ["DOCUMENT_OPTIONS", "PIPELINE_ENV_VARS", "PipelinePaths", "pipetask_executable"]

import os
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

# Environment variables a pipeline path may use; both name the cp package directory.
PIPELINE_ENV_VARS: tuple[str, ...] = ("CP_PIPE_DIR", "CP_VERIFY_DIR")

DOCUMENT_OPTIONS: tuple[str, ...] = ("-c", "isr:doDefect=False", "-c", "isr:doCrosstalk=False")
"""The procedure document's default ``pipetask`` configuration options."""


def pipetask_executable() -> str:
    """Return the ``pipetask`` beside this Python (a virtual environment's), else the one on
    ``PATH``, else the bare name ``pipetask``.
    """
    sibling = Path(sys.executable).with_name("pipetask")
    if sibling.is_file():
        return str(sibling)
    return shutil.which("pipetask") or "pipetask"


_VAR_RE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


class PipelinePaths:
    """Resolve pipeline paths and provide the environment for ``pipetask``.

    Parameters
    ----------
    package_dir : `str` or `os.PathLike`, optional
        Directory the variables resolve to; this package's ``cp`` directory
        by default.
    instrument : `str`, optional
        Instrument whose pipelines `pipeline` finds: "LSSTComCam" (default),
        "LSSTCam" or "LATISS".
    """

    def __init__(
        self, package_dir: str | os.PathLike[str] | None = None, instrument: str = "LSSTComCam"
    ) -> None:
        self.package_dir = Path(package_dir) if package_dir is not None else Path(__file__).resolve().parent
        self.instrument = instrument

    @property
    def pipelines_dir(self) -> Path:
        """The instrument's pipelines directory."""
        return self.package_dir / "pipelines" / self.instrument

    def environment(self) -> dict[str, str]:
        """Return the variables to set for ``pipetask`` (`PIPELINE_ENV_VARS`)."""
        return {name: str(self.package_dir) for name in PIPELINE_ENV_VARS}

    def pipeline_environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Return a process environment with the pipeline variables set.

        Parameters
        ----------
        base : `~collections.abc.Mapping` [`str`, `str`], optional
            Environment to extend; ``os.environ`` by default. Not modified.

        Returns
        -------
        env : `dict` [`str`, `str`]
            A copy of ``base`` with `PIPELINE_ENV_VARS` set.
        """
        env = dict(os.environ if base is None else base)
        env.update(self.environment())
        return env

    def resolve(self, url: str) -> str:
        """Replace ``${CP_PIPE_DIR}`` / ``${CP_VERIFY_DIR}`` (or ``$NAME``) in a pipeline URL.

        A ``#subset`` suffix is kept; other variables are left as they are.

        Parameters
        ----------
        url : `str`
            Pipeline path or URL, e.g.
            ``"${CP_PIPE_DIR}/pipelines/LSSTComCam/cpPtc.yaml#cpPtcGainFromFlatPairs"``.

        Returns
        -------
        resolved : `str`
            The path with the variables replaced.
        """
        values = self.environment()

        def replace(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            return values.get(name, match.group(0))

        return _VAR_RE.sub(replace, url)

    def pipeline(self, name: str, subset: str | None = None) -> str:
        """Return the resolved path of one of the instrument's pipelines.

        Parameters
        ----------
        name : `str`
            Pipeline name, e.g. "cpBias" or "cpBias.yaml".
        subset : `str`, optional
            Label subset, appended as ``#subset``.

        Returns
        -------
        path : `str`
            The file path (with ``#subset``).

        Raises
        ------
        FileNotFoundError
            Raised if there is no such pipeline; the message lists those
            available.
        """
        file_name = name if name.endswith(".yaml") else f"{name}.yaml"
        path = self.pipelines_dir / file_name
        if not path.is_file():
            available = sorted(p.stem for p in self.pipelines_dir.glob("*.yaml"))
            raise FileNotFoundError(f"No pipeline {name!r} in {self.pipelines_dir}; available: {available}.")
        return f"{path}#{subset}" if subset else str(path)

    def pipetask_run_args(
        self,
        repo: str | os.PathLike[str],
        pipeline: str,
        output: str,
        inputs: Sequence[str],
        where: str,
        *,
        options: Sequence[str] = DOCUMENT_OPTIONS,
        processes: int | None = None,
    ) -> list[str]:
        """Return the arguments of a ``pipetask run`` (no shell: a list).

        Parameters
        ----------
        repo : `str` or `os.PathLike`
            The butler repository.
        pipeline : `str`
            Pipeline path (see `pipeline` and `resolve`).
        output : `str`
            Output collection (``-o``).
        inputs : `~collections.abc.Sequence` [`str`]
            Input collections (``-i``).
        where : `str`
            Data query (``-d``).
        options : `~collections.abc.Sequence` [`str`], optional
            Further options; the procedure document's ``-c`` overrides by
            default (`DOCUMENT_OPTIONS`).
        processes : `int`, optional
            ``-j``: processes for the quanta.

        Returns
        -------
        args : `list` [`str`]
            The executable (`pipetask_executable`) and its arguments,
            registering new dataset types.
        """
        args = [pipetask_executable(), "run", "-b", os.fspath(repo), "-p", pipeline]
        args += ["-i", ",".join(inputs), "-o", output, "-d", where, "--register-dataset-types"]
        if processes is not None:
            args += ["-j", str(processes)]
        return args + list(options)
