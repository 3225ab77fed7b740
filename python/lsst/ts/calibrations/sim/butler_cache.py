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
"""Where the butlers of the processes the simulator starts keep their datastore cache.

daf_butler's datastore cache manager uses, in order: ``$DAF_BUTLER_CACHE_DIRECTORY``,
the datastore configuration's cache root, ``$DAF_BUTLER_CACHE_DIRECTORY_IF_UNSET``,
and else a new ``$TMPDIR/butler-cache-dir-...`` folder, removed by an exit
handler. ``pipetask`` (and our quantum workers, as it does) set the third to
``$TMPDIR/butler-cache-dir-<pid>-...`` when unset, and every butler made after
that creates the folder. A process that is killed (an aborted job, a dying or
ended worker) runs no exit handler, so these folders piled up in ``/tmp``.
The processes started here get ``$DAF_BUTLER_CACHE_DIRECTORY_IF_UNSET`` set to
``<work folder>/butler-cache`` instead: one folder, shared as the cache is
meant to be, that goes with the run's own files. The repositories here are
local, so nothing is ever cached in it (daf_butler caches remote files only);
an explicit ``$DAF_BUTLER_CACHE_DIRECTORY`` or configured root still wins.
"""

__all__ = ["BUTLER_CACHE_ENV", "BUTLER_CACHE_FOLDER", "butler_cache_environment"]

import os
from collections.abc import Mapping
from pathlib import Path

BUTLER_CACHE_ENV = "DAF_BUTLER_CACHE_DIRECTORY_IF_UNSET"
"""daf_butler's fallback cache folder variable."""

BUTLER_CACHE_FOLDER = "butler-cache"
"""Name of the cache folder inside a work folder."""


def butler_cache_environment(work_dir: str | os.PathLike[str], base: Mapping[str, str]) -> dict[str, str]:
    """Return a copy of ``base`` whose butlers cache in ``work_dir/butler-cache``.

    Parameters
    ----------
    work_dir : `str` or `os.PathLike`
        The run's work folder (e.g. the OCPS's folder above its jobs).
    base : `~collections.abc.Mapping` [`str`, `str`]
        The environment to extend; not modified.

    Returns
    -------
    env : `dict` [`str`, `str`]
        ``base`` with ``DAF_BUTLER_CACHE_DIRECTORY_IF_UNSET`` set (replacing a
        value inherited from a process that set it to its own temporary
        folder).
    """
    env = dict(base)
    env[BUTLER_CACHE_ENV] = str(Path(work_dir).absolute() / BUTLER_CACHE_FOLDER)
    return env
