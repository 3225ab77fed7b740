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

"""A file cache of the XTypes type data Cyclone DDS computes for each topic type.

Creating a DDS topic makes Cyclone DDS's Python binding build the topic
type's XTypes type information and type mapping (`IDL.fill_type_data`),
about 30 ms a topic. A camera's interface has some 600 topics, so a
`Controller` of MTCamera spent 18 s (CCCamera 4.5 s) starting, in every
process, before any message was sent. The result depends only on the type's
definition and the binding's version, so it is computed once per machine
and kept in a folder (`DdsTypeCache.directory`): one file per type, named
by a hash of everything it depends on, written atomically, so that processes
starting together at worst compute the same bytes twice.

The folder is ``TS_CALIBRATIONS_DDS_TYPE_CACHE`` if set (``none``: no
cache), else ``$XDG_CACHE_HOME/lsst-ts-calibrations/dds-types`` (``~/.cache``
when ``XDG_CACHE_HOME`` is unset). A file that cannot be read or written is
ignored: the type data is then computed as without a cache.
"""

__all__ = ["CACHE_ENV", "DdsTypeCache"]

import hashlib
import importlib.metadata
import logging
import os
import pathlib
import struct
import tempfile
from typing import Any

from cyclonedds.idl._main import IDL

CACHE_ENV = "TS_CALIBRATIONS_DDS_TYPE_CACHE"
"""Environment variable: the cache folder, or ``none`` for no cache."""

_FORMAT = b"tsdds1"
_log = logging.getLogger(__name__)


class _PrefilledIdl(IDL):
    """An `IDL` whose serialized type data came from the cache.

    Creating a topic needs only the serialized form (``_xt_bytedata``);
    the type objects are still built, on demand, for anything that asks.
    """

    def fill_type_data(self) -> None:
        if self._xt_bytedata[0] is None:
            super().fill_type_data()

    def get_type_info(self) -> Any:
        if self._xt_data[0] is None:
            IDL.fill_type_data(self)
        return self._xt_data[0]

    def get_type_mapping(self) -> Any:
        if self._xt_data[0] is None:
            IDL.fill_type_data(self)
        return self._xt_data[1]

    def get_type_id(self) -> Any:
        return self.get_type_info().complete.typeid_with_size.type_id


class DdsTypeCache:
    """The per-machine cache of topic type data (see the module documentation).

    Parameters
    ----------
    directory : `pathlib.Path` or `None`, optional
        The cache folder; from the environment if omitted (`from_env`);
        `None`: no cache.
    """

    def __init__(self, directory: pathlib.Path | None) -> None:
        self.directory = directory
        self._version = importlib.metadata.version("cyclonedds")

    @classmethod
    def from_env(cls) -> "DdsTypeCache":
        """Return the cache the environment selects (see the module documentation)."""
        value = os.environ.get(CACHE_ENV)
        if value is not None:
            return cls(None if value.strip().lower() in ("", "none") else pathlib.Path(value))
        base = os.environ.get("XDG_CACHE_HOME") or str(pathlib.Path.home() / ".cache")
        return cls(pathlib.Path(base) / "lsst-ts-calibrations" / "dds-types")

    def key(self, typename: str, members: tuple[tuple[str, str, int], ...], keys: tuple[str, ...]) -> str:
        """Return the file name of a type's data.

        Parameters
        ----------
        typename : `str`
            The IDL type name.
        members : `tuple`
            (name, SAL type, count) of each member, in order.
        keys : `tuple` [`str`]
            The key members.
        """
        text = repr((_FORMAT, self._version, typename, members, keys)).encode()
        return hashlib.sha256(text).hexdigest()

    def prefill(self, idl_type: type, key: str) -> bool:
        """Give a new IDL type its type data, from the cache or computed and stored.

        Parameters
        ----------
        idl_type : `type`
            The IDL struct type, before any topic of it exists.
        key : `str`
            Its `key`.

        Returns
        -------
        hit : `bool`
            True if the data came from the cache.
        """
        idl: IDL = idl_type.__idl__  # type: ignore[attr-defined]
        if self.directory is None:
            return False
        path = self.directory / key
        data = self._read(path)
        if data is not None:
            idl.populate()
            idl.__class__ = _PrefilledIdl
            idl._xt_bytedata = data
            return True
        idl.fill_type_data()
        info, mapping = idl._xt_bytedata
        if info is not None and mapping is not None:
            self._write(path, info, mapping)
        return False

    @staticmethod
    def _read(path: pathlib.Path) -> tuple[bytes, bytes] | None:
        try:
            blob = path.read_bytes()
        except OSError:
            return None
        header = len(_FORMAT) + 16
        if len(blob) < header or not blob.startswith(_FORMAT):
            return None
        n_info, n_mapping = struct.unpack_from("<QQ", blob, len(_FORMAT))
        if len(blob) != header + n_info + n_mapping:
            return None
        return blob[header : header + n_info], blob[header + n_info :]

    @staticmethod
    def _write(path: pathlib.Path, info: bytes, mapping: bytes) -> None:
        blob = _FORMAT + struct.pack("<QQ", len(info), len(mapping)) + info + mapping
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(blob)
                os.replace(temp, path)
            except BaseException:
                pathlib.Path(temp).unlink(missing_ok=True)
                raise
        except OSError as e:
            _log.debug("DDS type cache: cannot write %s: %s", path, e)
