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
"""AsyncS3Bucket: salobj's Large File Annex bucket API on a directory or in memory."""

__all__ = ["AsyncS3Bucket"]

import asyncio
import io
import os
import pathlib
import re
import threading
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    # Imported where used (make_key): astropy costs scripts ~0.3 s at start
    # and only the Large File Annex key needs it.
    import astropy.time

# In-memory buckets (domock=True), shared by the process as salobj's mock
# server is: bucket name -> key -> bytes.
_MEMORY_BUCKETS: dict[str, dict[str, bytes]] = {}
_MEMORY_LOCK = threading.Lock()
_CHUNK_SIZE = 1 << 20


class AsyncS3Bucket:
    """Upload and download files of a bucket, asynchronously (the API of
    salobj's ``AsyncS3Bucket``), stored in a directory or in memory.

    Parameters
    ----------
    name : `str`
        Bucket name.
    create : `bool`, optional
        Create the bucket if it does not exist.
    profile : `str`, optional
        Ignored (an AWS profile name in salobj); kept as `profile`.
    domock : `bool`, optional
        Keep the bucket in memory (shared by the process until
        `stop_mock`), as salobj's mock S3 server for tests and simulation.

    Attributes
    ----------
    name : `str`
        Bucket name.
    profile : `str` or `None`
        The ``profile`` argument.
    root : `pathlib.Path` or `None`
        Directory holding the buckets (file backend); None in memory.

    Raises
    ------
    RuntimeError
        If not ``domock`` and ``S3_ENDPOINT_URL`` is not a ``file://`` URL:
        salobj talks to an S3 server with boto3; this runtime stores
        buckets as directories, ``<root>/<bucket>/<key>``, with
        ``S3_ENDPOINT_URL=file:///<root>``.
    ValueError
        If the bucket does not exist and ``create`` is false (file backend).
    """

    def __init__(
        self, name: str, *, create: bool = False, profile: str | None = None, domock: bool = False
    ) -> None:
        self.name = name
        self.profile = profile
        self.root: pathlib.Path | None = None
        self._mock = domock
        if domock:
            with _MEMORY_LOCK:
                _MEMORY_BUCKETS.setdefault(name, {})
            return
        endpoint_url = os.environ.get("S3_ENDPOINT_URL", "")
        parsed = urllib.parse.urlparse(endpoint_url)
        if parsed.scheme != "file":
            raise RuntimeError(
                f"S3_ENDPOINT_URL={endpoint_url!r}: this runtime has no S3 client; set it to a "
                "file:///directory URL (the bucket is a subdirectory), or use domock=True"
            )
        self.root = pathlib.Path(urllib.parse.unquote(parsed.path))
        bucket_dir = self.root / name
        if create:
            bucket_dir.mkdir(parents=True, exist_ok=True)
        elif not bucket_dir.is_dir():
            raise ValueError(
                f"Bucket {name!r} does not exist ({bucket_dir} is not a directory); use create=True"
            )

    def stop_mock(self) -> None:
        """Forget the in-memory bucket (``domock``); no-op otherwise."""
        if self._mock:
            with _MEMORY_LOCK:
                _MEMORY_BUCKETS.pop(self.name, None)
            self._mock = False

    @staticmethod
    def make_bucket_name(s3instance: str, s3category: str = "LFA") -> str:
        """Return ``rubinobs-{s3category}-{s3instance}``, lower case.

        Parameters
        ----------
        s3instance : `str`
            S3 instance, e.g. "Summit"; letters, digits and "."; starts and
            ends with a letter or digit.
        s3category : `str`, optional
            Category, "LFA" by default; same rules.

        Returns
        -------
        bucket_name : `str`
            The bucket name.

        Raises
        ------
        ValueError
            If an argument breaks the rules or the name exceeds 63 characters.
        """
        pattern = re.compile(r"^[a-z0-9]([a-z0-9.]*[a-z0-9])?$", flags=re.IGNORECASE)
        for argname, arg in (("s3instance", s3instance), ("s3category", s3category)):
            if pattern.match(arg) is None:
                raise ValueError(
                    f"{argname}={arg!r} invalid: letters, digits and '.', starting and ending "
                    "with a letter or digit"
                )
        bucket_name = f"rubinobs-{s3category}-{s3instance}".lower()
        if len(bucket_name) > 63:
            raise ValueError(f"Bucket name {bucket_name!r} too long: {len(bucket_name)} > 63 characters")
        return bucket_name

    @staticmethod
    def make_key(
        salname: str,
        salindexname: str | int | None,
        generator: str,
        date: "astropy.time.Time",
        other: str | None = None,
        stem: str | None = None,
        suffix: str = ".dat",
    ) -> str:
        """Return the key of a data item, as salobj (CAP-452).

        Parameters
        ----------
        salname : `str`
            SAL component name, e.g. "ATPtg".
        salindexname : `str`, `int` or `None`
            Name or number of the SAL index; None if not indexed.
        generator : `str`
            Dataset type.
        date : `astropy.time.Time`
            Date of the data.
        other : `str`, optional
            Unique part of the name; ``date`` as TAI ISO-8601 (ms) if None.
        stem : `str`, optional
            Whole file stem, replacing "{name}_{generator}_{other}".
        suffix : `str`, optional
            Suffix, e.g. ".fits".

        Returns
        -------
        key : `str`
            ``{name}/{generator}/{yyyy}/{mm}/{dd}/{stem}{suffix}``, where
            ``name`` is ``salname[:salindexname]`` and the date is the
            observing day (TAI date minus 12 hours).
        """
        import astropy.time
        import astropy.units as u

        fullname = f"{salname}:{salindexname}" if salindexname else salname
        tai = astropy.time.Time(date, scale="tai", precision=3)
        shifted = (tai - 12 * u.hour).isot
        if other is None:
            other = tai.isot
        file_stem = stem if stem is not None else f"{fullname}_{generator}_{other}"
        return f"{fullname}/{generator}/{shifted[0:4]}/{shifted[5:7]}/{shifted[8:10]}/{file_stem}{suffix}"

    def _url(self, key: str) -> str:
        if self.root is None:
            return f"memory://{self.name}/{key}"
        return (self.root / self.name / key).as_uri()

    def _path(self, key: str) -> pathlib.Path:
        assert self.root is not None
        bucket_dir = (self.root / self.name).resolve()
        path = (bucket_dir / key).resolve()
        if not path.is_relative_to(bucket_dir):
            raise ValueError(f"key={key!r} points outside bucket {self.name!r}")
        return path

    def _memory(self) -> dict[str, bytes]:
        with _MEMORY_LOCK:
            try:
                return _MEMORY_BUCKETS[self.name]
            except KeyError:
                raise RuntimeError(f"In-memory bucket {self.name!r} was stopped") from None

    async def upload(self, fileobj: BinaryIO, key: str, callback: Callable[[int], None] | None = None) -> str:
        """Store the contents of a binary file object under ``key``.

        Parameters
        ----------
        fileobj : `typing.BinaryIO`
            Data to store, read to its end.
        key : `str`
            Name of the data in the bucket.
        callback : callable, optional
            Called (synchronously, from a worker thread) with the number of
            bytes of each chunk written.

        Returns
        -------
        url : `str`
            URL of the stored data, for ``largeFileObjectAvailable.url``:
            ``file://...`` or ``memory://bucket/key``.
        """
        await asyncio.to_thread(self._sync_upload, fileobj, key, callback)
        return self._url(key)

    def _sync_upload(self, fileobj: BinaryIO, key: str, callback: Callable[[int], None] | None) -> None:
        chunks = []
        while chunk := fileobj.read(_CHUNK_SIZE):
            chunks.append(chunk)
            if callback is not None:
                callback(len(chunk))
        data = b"".join(chunks)
        if self.root is None:
            memory = self._memory()
            with _MEMORY_LOCK:
                memory[key] = data
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp_path = path.with_name(path.name + ".uploading")
        tmp_path.write_bytes(data)
        tmp_path.replace(path)

    async def download(self, key: str, callback: Callable[[int], None] | None = None) -> io.BytesIO:
        """Return the data stored under ``key``.

        Parameters
        ----------
        key : `str`
            Name of the data.
        callback : callable, optional
            Called with the number of bytes read.

        Returns
        -------
        fileobj : `io.BytesIO`
            The data, positioned at the start.

        Raises
        ------
        FileNotFoundError
            If there is no such key.
        """
        return await asyncio.to_thread(self._sync_download, key, callback)

    def _sync_download(self, key: str, callback: Callable[[int], None] | None) -> io.BytesIO:
        if self.root is None:
            memory = self._memory()
            with _MEMORY_LOCK:
                if key not in memory:
                    raise FileNotFoundError(f"No key {key!r} in bucket {self.name!r}")
                data = memory[key]
        else:
            path = self._path(key)
            if not path.is_file():
                raise FileNotFoundError(f"No key {key!r} in bucket {self.name!r} ({path})")
            data = path.read_bytes()
        if callback is not None:
            callback(len(data))
        return io.BytesIO(data)

    async def exists(self, key: str) -> bool:
        """Is there data under ``key``?"""
        return await asyncio.to_thread(self._sync_exists, key)

    def _sync_exists(self, key: str) -> bool:
        if self.root is None:
            memory = self._memory()
            with _MEMORY_LOCK:
                return key in memory
        return self._path(key).is_file()

    async def size(self, key: str) -> int:
        """Return the size (bytes) of the data under ``key``.

        Raises
        ------
        FileNotFoundError
            If there is no such key.
        """
        return await asyncio.to_thread(self._sync_size, key)

    def _sync_size(self, key: str) -> int:
        if self.root is None:
            memory = self._memory()
            with _MEMORY_LOCK:
                if key not in memory:
                    raise FileNotFoundError(f"No key {key!r} in bucket {self.name!r}")
                return len(memory[key])
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(f"No key {key!r} in bucket {self.name!r} ({path})")
        return path.stat().st_size
