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

"""OcpsOutputPolicy: what a completed OCPS job leaves in the repository.

``pipetask`` persists every output of every quantum, intermediates
included: the ISR images a combine or a pair extraction reads
(``cpBiasIsrExp``, ``cpDarkIsrExp``, ``cpDarkRemoveCRIsrExp``,
``cpFlatIsrExp``, ``cpPtcIsrExp``, ``cpDefectsIsrExp``), the flat levels
and scales, the per-exposure defects. After a job COMPLETED, the OCPS
removes those (registry entries and files, ``pruneDatasets`` with
``purge``) and keeps:

- every dataset type matching `KEPT_DATASET_TYPES`: the products someone
  fetches or the report and trends read (``bias``, ``dark``, ``flat``,
  ``defects``, ``ptc``, ``cpPtcExtract``, ``verify*Proc``,
  ``verify*DetStats``, ``verify*ExpStats``, ``verify*Stats``) and
  ``pipetask``'s own records (``*_config``, ``*_metadata``, ``*_log``,
  ``packages``);
- every dataset type no task of the pipeline consumes (a final product
  not listed above is kept, never guessed away);
- every dataset type that a task of the pipeline consumes but that task
  did not run in this job (a job running a label subset, such as the
  per-exposure part of a pipeline, leaves its outputs for the job that
  runs the rest).

A job that consumes intermediates written by earlier OCPS jobs (the
run-level part of a pipeline over their runs, chained as inputs) removes
them from those runs once it has COMPLETED, when every consumer of that
dataset type ran in it. A job that ended in ERROR or ABORTED keeps
everything, for diagnosis.

The dataset types' producers and consumers come from the job's pipeline
file (its ``#subset`` gives the labels that ran), read with pipe_base as
``pipetask`` reads it; configuration overrides on the command line are not
applied, so a connection renamed there is judged by its pipeline-file name.
What was removed (dataset types, counts, bytes) is appended to the job's
log.
"""

__all__ = ["OcpsOutputPolicy"]

import asyncio
import dataclasses
import fnmatch
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import ClassVar

import networkx
from lsst.daf.butler import Butler, CollectionType, DatasetRef
from lsst.pipe.base import Pipeline
from lsst.pipe.base.pipeline_graph import PipelineGraph

from ..cp.pipeline_paths import PipelinePaths
from .ocps_job import OcpsJob
from .ocps_job_phase import OcpsJobPhase

_OCPS_RUN_PREFIX = "u/ocps/"


@dataclasses.dataclass(frozen=True)
class _Pruned:
    """Datasets removed from one run, by dataset type."""

    run: str
    counts: dict[str, int]
    size: int
    """Bytes of the removed files."""


@dataclasses.dataclass
class OcpsOutputPolicy:
    """Remove a completed job's intermediate datasets; keep what is fetched or read.

    Parameters
    ----------
    kept : `tuple` [`str`, ...], optional
        Dataset type names or glob patterns never removed;
        `KEPT_DATASET_TYPES` by default.
    keep_intermediates : `bool`, optional
        Keep everything (no removal at all), e.g. to debug a pipeline.
    """

    KEPT_DATASET_TYPES: ClassVar[tuple[str, ...]] = (
        "bias",
        "dark",
        "flat",
        "defects",
        "ptc",
        "cpPtcExtract",
        "verify*Proc",
        "verify*DetStats",
        "verify*ExpStats",
        "verify*Stats",
        "*_config",
        "*_metadata",
        "*_log",
        "packages",
    )
    """What the procedure document fetches, the report and trends read,
    and pipetask's own records."""

    kept: tuple[str, ...] = KEPT_DATASET_TYPES
    keep_intermediates: bool = False

    def is_kept(self, dataset_type: str) -> bool:
        """Is a dataset type always kept?

        Parameters
        ----------
        dataset_type : `str`
            Dataset type name.

        Returns
        -------
        kept : `bool`
            True if it matches one of `kept`.
        """
        return any(fnmatch.fnmatchcase(dataset_type, pattern) for pattern in self.kept)

    def removable(self, pipeline: str) -> tuple[set[str], set[str]]:
        """Return the dataset types a completed job of ``pipeline`` removes.

        Parameters
        ----------
        pipeline : `str`
            The job's resolved pipeline path, optionally with ``#subset``.

        Returns
        -------
        own : `set` [`str`]
            Types the job writes whose consumers all ran in it: removed
            from its output run.
        upstream : `set` [`str`]
            Types an earlier job of the same pipeline wrote, that a task of
            this job consumes, and whose other consumers are all upstream of
            this job's tasks (so they ran already): removed from the earlier
            OCPS runs chained as the job's inputs.

        Notes
        -----
        A type none of whose consumers ran in this job is left alone.
        """
        full = _load_graph(pipeline.split("#", 1)[0])
        ran = set(_load_graph(pipeline).tasks.keys()) if "#" in pipeline else set(full.tasks.keys())
        tasks = full.make_task_xgraph()
        # Tasks upstream of one that ran here have run before this job (its inputs need them).
        done = set(ran)
        for key in tasks.nodes:
            if key.name in ran:
                done.update(ancestor.name for ancestor in networkx.ancestors(tasks, key))
        own: set[str] = set()
        upstream: set[str] = set()
        for name in full.dataset_types:
            if self.is_kept(name):
                continue
            producer = full.producer_of(name)
            consumers = {task.label for task in full.consumers_of(name)}
            if producer is None or not consumers or not consumers <= done or not consumers & ran:
                continue
            if producer.label in ran:
                own.add(name)
            else:
                upstream.add(name)
        return own, upstream

    async def apply(self, job: OcpsJob, repo: str, log: logging.Logger) -> None:
        """Remove a completed job's intermediates; never raises (except when cancelled).

        Does nothing unless the job COMPLETED. What was removed, or why
        nothing could be, goes to ``log`` (a failure at ERROR level, with
        its traceback), is appended to the job's log, and is set in the
        job's record (`OcpsJob.intermediates`: ``removed`` or ``failed``,
        `OcpsJob.intermediates_detail`: the line of the log); the caller
        rewrites ``job.json``.

        Parameters
        ----------
        job : `OcpsJob`
            The job (its pipeline, output run and output collection).
        repo : `str`
            The repository (path or alias) the job ran on.
        log : `logging.Logger`
            The OCPS's log.
        """
        if not self.removes_from(job):
            return
        job.intermediates = OcpsJob.INTERMEDIATES_REMOVING
        try:
            pruned = await asyncio.to_thread(self._prune, job, repo)
        except Exception as e:
            status = OcpsJob.INTERMEDIATES_FAILED
            line = f"# output policy: intermediates of {job.output_run} not removed: {e!r}"
            log.exception("Job %s: intermediates not removed", job.job_id)
        else:
            status = OcpsJob.INTERMEDIATES_REMOVED
            parts = [
                f"{name} x{count} from {item.run}"
                for item in pruned
                for name, count in sorted(item.counts.items())
            ]
            freed = sum(item.size for item in pruned)
            line = (
                f"# output policy: removed {', '.join(parts)}; {freed / 1e6:.1f} MB freed"
                if parts
                else "# output policy: no intermediate datasets to remove"
            )
            log.info("Job %s: %s", job.job_id, line.removeprefix("# output policy: "))
        job.intermediates = status
        job.intermediates_detail = line.removeprefix("# output policy: ")
        try:
            await asyncio.to_thread(_append_line, job.log_file, line)
        except OSError:
            log.exception("Job %s: cannot append to %s", job.job_id, job.log_file)

    def removes_from(self, job: OcpsJob) -> bool:
        """Does `apply` remove anything (or try to) for this job?

        Parameters
        ----------
        job : `OcpsJob`
            The job.

        Returns
        -------
        removes : `bool`
            True if the job COMPLETED and intermediates are not kept.
        """
        return job.phase == OcpsJobPhase.COMPLETED and not self.keep_intermediates

    def _prune(self, job: OcpsJob, repo: str) -> list[_Pruned]:
        """Remove the intermediates (blocking; run in a thread)."""
        own, upstream = self.removable(job.pipeline)
        if not own and not upstream:
            return []
        pruned = []
        with Butler.from_config(repo, writeable=True) as butler:
            if own:
                pruned.append(_prune_run(butler, job.output_run, own))
            if upstream:
                for run in _chained_ocps_runs(butler, job.output_collection, job.output_run):
                    pruned.append(_prune_run(butler, run, upstream))
        return [item for item in pruned if item.counts]


def _load_graph(pipeline: str) -> PipelineGraph:
    """Return the task graph of a pipeline file (or ``file#subset``)."""
    # The pipelines import their ingredients by eups:// URI, which resolves through
    # the same variables the OCPS gives pipetask.
    for name, value in PipelinePaths().environment().items():
        os.environ[name] = value
    return Pipeline.from_uri(pipeline).to_graph()


def _chained_ocps_runs(butler: Butler, output_collection: str, own_run: str) -> list[str]:
    """Return the RUN collections of earlier OCPS jobs in a job's output chain."""
    if not butler.collections.query(output_collection):
        return []
    runs = butler.collections.query(
        output_collection, collection_types={CollectionType.RUN}, flatten_chains=True
    )
    return [run for run in runs if run != own_run and run.startswith(_OCPS_RUN_PREFIX)]


def _prune_run(butler: Butler, run: str, dataset_types: Iterable[str]) -> _Pruned:
    """Remove every dataset of ``dataset_types`` from one RUN collection, files included."""
    registered = {dt.name for dt in butler.registry.queryDatasetTypes(list(dataset_types))}
    refs: list[DatasetRef] = []
    for name in sorted(registered):
        refs.extend(butler.query_datasets(name, collections=run, find_first=False, explain=False, limit=None))
    if not refs:
        return _Pruned(run, {}, 0)
    size = _bytes_of(butler, refs)
    counts: dict[str, int] = {}
    for ref in refs:
        counts[ref.datasetType.name] = counts.get(ref.datasetType.name, 0) + 1
    butler.pruneDatasets(refs, disassociate=True, unstore=True, purge=True)
    return _Pruned(run, counts, size)


def _bytes_of(butler: Butler, refs: Sequence[DatasetRef]) -> int:
    """Return the size of the files of ``refs`` (0 for a file not found)."""
    total = 0
    for ref in refs:
        uri = butler.getURI(ref)
        if uri.isLocal:
            try:
                total += Path(uri.ospath).stat().st_size
            except OSError:
                continue
    return total


def _append_line(path: Path, line: str) -> None:
    """Append one line to a text file (creating it if needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as stream:
        stream.write(line + "\n")
