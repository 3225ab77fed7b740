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

"""QuantumWorkerButler: a quantum worker's butler; it registers a quantum's outputs together.

``Butler.put`` registers a dataset and writes its file in one registry
transaction, so the registry's write lock (SQLite's ``BEGIN IMMEDIATE``)
is held while the file is compressed and written: measured, 40 % of a
reduced-geometry ISR quantum. With two workers on one SQLite registry the
outputs were written one at a time, which bounded the speed-up of a second
worker to about 1.4×. And each put is two transactions (the dataset's
registration, checked against the registry through a temporary table, then
its datastore records): with a quantum's metadata and log, three outputs
of a small quantum cost six transactions, measured as a third of the
quantum's CPU time.

This limited butler writes each output's file when the task puts it,
holding no registry lock, and keeps its datastore records; `commit`, at
the quantum's end, registers all of the quantum's outputs and inserts
their datastore records in one short transaction. The outputs are new (the
quantum's refs, of a run the job made), so they are inserted as new
rows: a conflict with an existing dataset still fails, on the registry's
unique constraints. A write that fails removes what it wrote; a `commit`
that fails removes every file of the quantum, so the quantum stores its
outputs completely or leaves nothing of them; `discard` removes them
without registering. Until `commit` the outputs are neither registered nor
readable: a quantum does not read its own outputs. Reading goes to the
full butler unchanged.
"""

__all__ = ["QuantumWorkerButler"]

import contextlib
import dataclasses
import glob
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy
from lsst.daf.butler import (
    Butler,
    ButlerMetrics,
    DatasetProvenance,
    DatasetRef,
    DimensionGroup,
    DimensionUniverse,
    LimitedButler,
)
from lsst.daf.butler.datastore.stored_file_info import StoredFileInfo
from lsst.daf.butler.datastores.fileDatastore import FileDatastore
from lsst.daf.butler.registry import ConflictingDefinitionError
from lsst.daf.butler.registry.interfaces import DatabaseInsertMode


@dataclasses.dataclass(frozen=True)
class _Written:
    """An output whose files are written and not yet registered."""

    ref: DatasetRef
    artifacts: list[tuple[DatasetRef, StoredFileInfo]]


class QuantumWorkerButler(LimitedButler):
    """A limited butler over a full one that registers a quantum's outputs in one transaction.

    Parameters
    ----------
    butler : `lsst.daf.butler.Butler`
        A writeable butler on the job's output run (a direct butler: it
        has a registry and a file datastore in this process).

    Raises
    ------
    TypeError
        Raised if ``butler``'s datastore is not a
        `~lsst.daf.butler.datastores.fileDatastore.FileDatastore` on local
        files.
    """

    def __init__(self, butler: Butler) -> None:
        datastore = butler._datastore
        if not isinstance(datastore, FileDatastore) or not datastore.root.isLocal:
            raise TypeError(f"A quantum worker writes to a local FileDatastore, not {datastore}.")
        self.butler = butler
        self._registry = butler._registry  # type: ignore[attr-defined]
        self._datastore: FileDatastore = datastore
        self._written: dict[Any, _Written] = {}

    def isWriteable(self) -> bool:  # noqa: N802 - LimitedButler's name
        """Return whether the butler can write (`True` for a job's butler)."""
        return self.butler.isWriteable()

    @property
    def pending(self) -> list[DatasetRef]:
        """The outputs written since the last `commit` or `discard`, not yet registered."""
        return [written.ref for written in self._written.values()]

    def put(self, obj: Any, ref: DatasetRef, /, *, provenance: DatasetProvenance | None = None) -> DatasetRef:
        """Write a dataset's file(s) now; it is registered, with its datastore records, at `commit`.

        Parameters
        ----------
        obj : `typing.Any`
            The dataset.
        ref : `lsst.daf.butler.DatasetRef`
            Resolved reference of a dataset not yet stored.
        provenance : `lsst.daf.butler.DatasetProvenance`, optional
            Provenance attached to the file where its format allows.

        Returns
        -------
        ref : `lsst.daf.butler.DatasetRef`
            ``ref``.

        Raises
        ------
        lsst.daf.butler.registry.ConflictingDefinitionError
            Raised if this dataset was already put since the last `commit`,
            or a file is already where its file would go (another dataset
            with its data ID in the run); nothing is written.
        TypeError
            Raised if ``obj`` does not match the dataset's storage class.
        RuntimeError
            Raised if the formatter cannot write it.
        """
        if ref.id in self._written:
            raise ConflictingDefinitionError(f"Dataset already put by this quantum: {ref}")
        # Registered later, the dataset must not write over another's file (same data ID and run).
        self._check_no_file(ref)
        # The datastore's transaction removes what the write wrote if it fails.
        with self._datastore.transaction():
            artifacts = self._write(obj, ref, provenance)
        self._written[ref.id] = _Written(ref, artifacts)
        return ref

    def _check_no_file(self, ref: DatasetRef) -> None:
        """Raise if a file is already where the dataset's file would go (whatever its extension)."""
        datastore = self._datastore
        template = datastore.templates.getTemplate(ref)
        path = Path(datastore.locationFactory.fromPath(template.format(ref), trusted_path=True).uri.ospath)
        found = [path] if path.exists() else list(path.parent.glob(glob.escape(path.name) + ".*"))
        if found:
            raise ConflictingDefinitionError(
                f"A file is already where dataset {ref} would be written: {found[0]}; "
                "another dataset has its data ID in this run."
            )

    def _write(
        self, obj: Any, ref: DatasetRef, provenance: DatasetProvenance | None
    ) -> list[tuple[DatasetRef, StoredFileInfo]]:
        """Write the file(s) of a dataset as `FileDatastore.put` does, without its records."""
        datastore = self._datastore
        if not datastore.composites.shouldBeDisassembled(ref):
            return [(ref, datastore._write_in_memory_to_artifact(obj, ref, provenance=provenance))]
        delegate = ref.datasetType.storageClass.delegate()
        obj = delegate.add_provenance(obj, ref, provenance=provenance)
        components = delegate.disassemble(obj)
        if components is None:
            raise RuntimeError(
                f"Inconsistent configuration: dataset type {ref.datasetType.name} with storage class "
                f"{ref.datasetType.storageClass.name} is configured to be disassembled, but cannot be."
            )
        artifacts = []
        for component, info in components.items():
            component_ref = ref.makeComponentRef(component)
            artifacts.append(
                (component_ref, datastore._write_in_memory_to_artifact(info.component, component_ref))
            )
        return artifacts

    def commit(self) -> list[DatasetRef]:
        """Register the outputs put since the last `commit` and insert their datastore records, in one
        transaction.

        Returns
        -------
        refs : `list` [`lsst.daf.butler.DatasetRef`]
            The datasets registered, in the order they were put.

        Raises
        ------
        lsst.daf.butler.registry.ConflictingDefinitionError
            Raised if one of them conflicts with a dataset of the registry;
            nothing is registered and their files are removed.
        Exception
            Whatever else the registry raises; nothing is registered and
            the files are removed.
        """
        written, self._written = list(self._written.values()), {}
        if not written:
            return []
        refs = [item.ref for item in written]
        # One import per set of dimensions (the registry's import takes one).
        by_dimensions: dict[DimensionGroup, list[DatasetRef]] = {}
        for ref in refs:
            by_dimensions.setdefault(ref.datasetType.dimensions, []).append(ref)
        try:
            with self._registry.transaction():
                for group in by_dimensions.values():
                    self._registry._importDatasets(group, expand=True, assume_new=True)
                self._datastore._register_datasets(
                    [artifact for item in written for artifact in item.artifacts],
                    insert_mode=DatabaseInsertMode.INSERT,
                )
        except sqlalchemy.exc.IntegrityError as e:
            self._remove(written)
            raise ConflictingDefinitionError(f"Outputs conflict with the registry's datasets: {e}") from e
        except BaseException:
            self._remove(written)
            raise
        return refs

    def discard(self) -> list[DatasetRef]:
        """Remove the files of the outputs put since the last `commit`, registering nothing.

        Returns
        -------
        refs : `list` [`lsst.daf.butler.DatasetRef`]
            The datasets whose files were removed.
        """
        written, self._written = list(self._written.values()), {}
        self._remove(written)
        return [item.ref for item in written]

    def _remove(self, written: list[_Written]) -> None:
        """Remove the files (and cached copies) of outputs that are not registered."""
        datastore = self._datastore
        for item in written:
            datastore.cacheManager.remove_from_cache(item.ref)
            for _, info in item.artifacts:
                with contextlib.suppress(FileNotFoundError):
                    info.file_location(datastore.locationFactory).uri.remove()

    def get(self, ref: DatasetRef, /, **kwargs: Any) -> Any:
        """Read a dataset (the full butler's ``get``)."""
        return self.butler.get(ref, **kwargs)

    def getDeferred(self, ref: DatasetRef, /, **kwargs: Any) -> Any:  # noqa: N802 - LimitedButler's name
        """Return a deferred handle on a dataset (the full butler's)."""
        return self.butler.getDeferred(ref, **kwargs)

    def stored(self, ref: DatasetRef) -> bool:
        """Is the dataset's file stored (and registered)?"""
        return self.butler.stored(ref)

    def stored_many(self, refs: Iterable[DatasetRef]) -> dict[DatasetRef, bool]:
        """Are the datasets' files stored (and registered)?"""
        return self.butler.stored_many(refs)

    def pruneDatasets(self, refs: Iterable[DatasetRef], **kwargs: Any) -> None:  # noqa: N802 - its name
        """Remove datasets (the full butler's ``pruneDatasets``)."""
        self.butler.pruneDatasets(refs, **kwargs)

    @contextmanager
    def record_metrics(self, metrics: ButlerMetrics | None = None) -> Iterator[ButlerMetrics]:
        """Record the full butler's metrics within the block."""
        with self.butler.record_metrics(metrics) as recorded:
            yield recorded

    @property
    def dimensions(self) -> DimensionUniverse:
        """The repository's dimension universe."""
        return self.butler.dimensions

    def close(self) -> None:
        """Remove what was put and not committed, and close the full butler."""
        self.discard()
        self.butler.close()
