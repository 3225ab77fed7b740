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

"""OcpsBpsBackend: the OCPS runs a job as a ctrl_bps workflow on Parsl workers.

Chosen by the OCPS's ``execution_backend="bps"``. For each job the OCPS:

1. checks the request's options (`check_options`): ``-i`` adds input
   collections, ``-c`` / ``-C`` become options of the quantum-graph
   build, ``--register-dataset-types`` is what the workflow's final job
   always does, ``-j N`` is the number of local Parsl workers; anything else
   fails the ``execute`` command naming the option;
2. writes ``<job folder>/bps/submit.yaml`` (`prepare`): the Parsl service
   (``wmsServiceClass: lsst.ctrl.bps.parsl.ParslService``), the compute site
   ``local`` (``lsst.ctrl.bps.parsl.sites.Local`` with ``cores`` = the job's
   ``-j``, no retries), the payload (``butlerConfig``, ``inCollection``,
   ``dataQuery``, ``output`` ``u/ocps/<job_id>``, ``outputRun``
   ``u/ocps/<job_id>/run``), ``submitPath`` ``<job folder>/bps/submit``
   and quanta clustered (``dimension_clustering``, `_clusters`): the
   tasks with the ``detector`` dimension per detector, so one ``pipetask
   run-qbb`` process runs all of a detector's quanta of a stage; the others
   (exposure and run merges, flat normalization) per instrument, one job
   for all their quanta; a new stage, with clusters of its own, begins
   where the task graph goes from one kind of task to the other (cpFlat:
   ``perDetector`` isr and cpFlatMeasure, ``perRun`` cpFlatNormalize,
   ``perDetector2`` cpFlatCombine);
3. runs ``bps submit <job folder>/bps/submit.yaml`` (`command`: an argument
   list, the ``bps`` beside this Python) as the job's process, its output in
   the job log;
4. once ``bps submit`` has ended with 0, reads success per quantum from the
   butler (`find_failed_quanta`): a quantum succeeded when its
   ``<label>_metadata`` dataset, which ``pipe_base`` writes last, is in the
   output run. ``bps submit`` with the Parsl plugin ends with 0 even when
   cluster jobs failed (their failure is only in the Parsl log), so the job
   fails when a quantum has no outputs, naming them;
5. after the job (`finish`): ends any of the job's Parsl worker pools still
   running (they run in process groups of their own, found by the job's
   submit folder on their command line) and removes the submit folder as
   ``keep_submit`` says (``"failed"``: kept for jobs that did not complete,
   with the cluster logs under ``submit/logs``; ``"always"``; ``"never"``).

`terminate` is what ``abort_job`` adds: the worker pools get the signal the
``bps`` process group gets.
"""

__all__ = ["OcpsBpsBackend"]

import asyncio
import contextlib
import dataclasses
import io
import os
import shlex
import shutil
import signal
import sys
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import networkx
import psutil
import yaml

from ..cp.pipeline_paths import PipelinePaths

if TYPE_CHECKING:
    from lsst.daf.butler import DataCoordinate

    from .ocps_job import OcpsJob

# Where the cluster jobs' quanta are grouped.
_CLUSTER_DIMENSION = "detector"
_SERVICE_CLASS = "lsst.ctrl.bps.parsl.ParslService"
_LOCAL_SITE_CLASS = "lsst.ctrl.bps.parsl.sites.Local"
_CLUSTER_ALGORITHM = "lsst.ctrl.bps.quantum_clustering_funcs.dimension_clustering"


@dataclasses.dataclass(frozen=True)
class _Request:
    """What a job's options ask of its workflow."""

    inputs: tuple[str, ...]
    qgraph_options: tuple[str, ...]


_SITE_DIR = Path(__file__).parent / "data" / "bps_site"


def _zipfile_seek_fault() -> bool:
    """Does a forward seek in one open zip member land wrong after another member moved the file?"""
    data = bytes(range(256)) * 40
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a", bytes(10_000))
        archive.writestr("b", data)
    with zipfile.ZipFile(buffer) as archive, archive.open("b") as b, archive.open("a") as a:
        b.read(1)  # b's read buffer now holds its first 4 kB
        a.read(9_000)  # moves the shared file
        b.seek(8_000)  # beyond b's buffer: a relative seek of the shared file
        return b.read(4) != data[8_000:8_004]


_ZIPFILE_SEEK_FAULT = _zipfile_seek_fault()


def _bps_executable() -> str:
    sibling = Path(sys.executable).with_name("bps")
    if sibling.is_file():
        return str(sibling)
    return shutil.which("bps") or "bps"


class OcpsBpsBackend:
    """Run OCPS jobs as ctrl_bps workflows with the Parsl plugin on local workers.

    Parameters
    ----------
    repo : `str`
        The repository root (``butlerConfig`` of each submission).
    raw_collection : `str`
        The raw collection, the first input of every job.
    keep_submit : `str`, optional
        When a job's submit folder (quantum graph, cluster logs, Parsl run
        information) is kept: ``"failed"`` (jobs that did not complete;
        the default), ``"always"`` or ``"never"``.
    bps : `~collections.abc.Sequence` [`str`], optional
        The ``bps`` command (argument list); the ``bps`` beside this Python
        by default.

    Raises
    ------
    ValueError
        Raised if ``keep_submit`` is not one of its values.

    Notes
    -----
    The pipeline's tasks are read in this process to make the clusters:
    ``CP_PIPE_DIR`` and ``CP_VERIFY_DIR``, which the pipelines' imports
    use, are set in this process's environment if they are not set.
    """

    KEEP_SUBMIT: ClassVar[tuple[str, ...]] = ("failed", "always", "never")
    name: ClassVar[str] = "bps submit"

    def __init__(
        self,
        repo: str,
        raw_collection: str,
        *,
        keep_submit: str = "failed",
        bps: Sequence[str] | None = None,
    ) -> None:
        if keep_submit not in self.KEEP_SUBMIT:
            raise ValueError(f"keep_submit={keep_submit!r} must be one of {', '.join(self.KEEP_SUBMIT)}")
        self.repo = repo
        self.raw_collection = raw_collection
        self.keep_submit = keep_submit
        self.bps = list(bps) if bps is not None else [_bps_executable()]
        self._requests: dict[str, _Request] = {}
        for name, value in PipelinePaths().environment().items():
            os.environ.setdefault(name, value)

    # Paths of a job.

    @staticmethod
    def bps_dir(job: "OcpsJob") -> Path:
        """The job's BPS folder: ``<job folder>/bps``."""
        return job.job_dir / "bps"

    @classmethod
    def submit_file(cls, job: "OcpsJob") -> Path:
        """The job's submit YAML."""
        return cls.bps_dir(job) / "submit.yaml"

    @classmethod
    def submit_path(cls, job: "OcpsJob") -> Path:
        """The job's ``submitPath``: quantum graph, cluster logs, Parsl run information."""
        return cls.bps_dir(job) / "submit"

    # Request.

    def check_options(self, options: Sequence[str]) -> tuple[str, ...]:
        """Check a request's options (``-j`` already taken out) for this backend.

        Parameters
        ----------
        options : `~collections.abc.Sequence` [`str`]
            The options, split.

        Returns
        -------
        inputs : `tuple` [`str`]
            The input collections the options add.

        Raises
        ------
        ValueError
            Raised if an option is not one the BPS backend can pass on; the
            message names it and the options it takes.
        """
        return self._parse(options).inputs

    def _parse(self, options: Sequence[str]) -> _Request:
        inputs: list[str] = []
        qgraph: list[str] = []
        i = 0
        while i < len(options):
            option = options[i]
            name, has_value, value = option.partition("=")
            if name in ("-i", "--input", "-c", "--config", "-C", "--config-file"):
                if not has_value:
                    if i + 1 >= len(options):
                        raise ValueError(f"config: {name} needs a value.")
                    value = options[i + 1]
                    i += 1
                if name in ("-i", "--input"):
                    inputs += [item.strip() for item in value.split(",") if item.strip()]
                else:
                    qgraph += [name, value]
            elif option != "--register-dataset-types":
                raise ValueError(
                    f"config option {option!r} cannot be passed to a BPS workflow: the bps backend takes "
                    "-j N, -i COLLECTIONS, -c LABEL:FIELD=VALUE, -C LABEL:FILE and --register-dataset-types."
                )
            i += 1
        for text in [*inputs, *qgraph]:
            if "{" in text or "}" in text:
                raise ValueError(f"config value {text!r}: braces cannot be passed through a BPS config.")
        return _Request(tuple(inputs), tuple(qgraph))

    def command(self, job_dir: Path) -> list[str]:
        """Return the job's process: ``bps submit <job folder>/bps/submit.yaml``.

        Parameters
        ----------
        job_dir : `pathlib.Path`
            The job's folder.

        Returns
        -------
        command : `list` [`str`]
            The argument list.
        """
        return [*self.bps, "submit", str(job_dir / "bps" / "submit.yaml")]

    def environment(self, env: Mapping[str, str]) -> dict[str, str]:
        """Return the environment of ``bps submit``.

        The workflow's commands (``pipetask``, ``butler``) are looked up on
        ``PATH`` by the workers: the folder of this Python's executables
        comes first. If this Python's `zipfile` seeks wrongly in an archive
        with several members open (`_zipfile_seek_fault`), which makes
        ``pipetask run-qbb --qgraph-node-id`` fail with ``EOFError`` on
        graphs of more than a few quanta, ``PYTHONPATH`` starts with
        ``data/bps_site``, whose ``sitecustomize`` corrects it in the
        workflow's processes.

        Parameters
        ----------
        env : `~collections.abc.Mapping` [`str`, `str`]
            The OCPS's job environment.

        Returns
        -------
        env : `dict` [`str`, `str`]
            A copy with ``PATH`` extended.
        """
        result = dict(env)
        bin_dir = str(Path(sys.executable).parent)
        path = result.get("PATH", "")
        if bin_dir not in path.split(os.pathsep):
            result["PATH"] = os.pathsep.join([bin_dir, path]) if path else bin_dir
        if _ZIPFILE_SEEK_FAULT:
            python_path = result.get("PYTHONPATH", "")
            result["PYTHONPATH"] = os.pathsep.join(p for p in (str(_SITE_DIR), python_path) if p)
        return result

    # Running.

    def register(self, job: "OcpsJob", options: Sequence[str]) -> None:
        """Keep what a job's (checked) options ask until the job is prepared.

        Parameters
        ----------
        job : `OcpsJob`
            The job.
        options : `~collections.abc.Sequence` [`str`]
            Its options, ``-j`` taken out.
        """
        self._requests[job.job_id] = self._parse(options)

    async def prepare(self, job: "OcpsJob") -> list[str]:
        """Write the job's submit YAML (in a thread).

        Parameters
        ----------
        job : `OcpsJob`
            The job.

        Returns
        -------
        header : `list` [`str`]
            Lines for the job log's header.
        """
        request = self._requests.get(job.job_id, _Request((), ()))
        clusters = await asyncio.to_thread(self._clusters, job.pipeline)
        config = self.submit_config(job, request, clusters)
        path = self.submit_file(job)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(config, sort_keys=False))

        await asyncio.to_thread(write)
        summary = "; ".join(
            f"{name} ({section['dimensions']}): {section['pipetasks']}" for name, section in clusters.items()
        )
        return [
            f"# bps submit file: {path}",
            f"# Parsl site local, {job.processes} worker(s); clusters: {summary}",
        ]

    def submit_config(
        self, job: "OcpsJob", request: _Request, clusters: Mapping[str, Mapping[str, str]]
    ) -> dict[str, object]:
        """Return the job's BPS submit configuration (see the module documentation)."""
        inputs = ",".join(dict.fromkeys([self.raw_collection, *request.inputs]))
        data_query = job.parameters.get("data_query", "").strip()
        submit_path = self.submit_path(job)
        config: dict[str, object] = {
            "pipelineYaml": job.pipeline,
            "wmsServiceClass": _SERVICE_CLASS,
            "computeSite": "local",
            "site": {
                "local": {
                    "class": _LOCAL_SITE_CLASS,
                    "cores": job.processes,
                    "retries": 0,
                    "run_dir": str(submit_path / "runinfo"),
                }
            },
            "operator": "ocps",
            "project": "ocps",
            "campaign": job.job_id,
            "payload": {
                "payloadName": f"ocps_{job.job_id}",
                "butlerConfig": self.repo,
                "inCollection": inputs,
                "dataQuery": data_query,
                "output": job.output_collection,
                "outputRun": job.output_run,
            },
            "submitPath": str(submit_path),
            # The query as one shell word (bps splits this command with shlex).
            "pipetaskDataQuery": f"-d {shlex.quote(data_query)}" if data_query else "",
            "extraQgraphOptions": shlex.join(request.qgraph_options),
            # butler aggregate-graph in one process: for a job's few hundred quanta its
            # worker processes cost more than they save (measured: doc/sim/bps.rst).
            "finalJob": {"requestCpus": 1},
        }
        if clusters:
            config["clusterAlgorithm"] = _CLUSTER_ALGORITHM
            config["cluster"] = {name: dict(section) for name, section in clusters.items()}
        return config

    def _clusters(self, pipeline: str) -> dict[str, dict[str, str]]:
        """Return the ``cluster`` section for a pipeline (see the module documentation).

        Tasks with the ``detector`` dimension are clustered per detector,
        the others (exposure and run merges, flat normalization) per
        instrument: one job for all their quanta. Along each path of the
        task graph, a task's stage grows by one where the path goes from one
        kind to the other; a cluster holds the tasks of one kind and one
        stage, so clusters never depend on each other both ways.
        """
        from lsst.daf.butler import DimensionUniverse
        from lsst.pipe.base import Pipeline

        graph = Pipeline.from_uri(pipeline).to_graph()
        graph.resolve(dimensions=DimensionUniverse())
        xgraph = graph.make_task_xgraph()
        order = list(networkx.topological_sort(xgraph))
        per_detector = {node: _CLUSTER_DIMENSION in graph.tasks[node.name].dimensions.names for node in order}
        stage: dict[object, int] = {}
        labels: dict[tuple[bool, int], list[str]] = {}
        for node in order:
            stage[node] = max(
                (stage[p] + (per_detector[p] != per_detector[node]) for p in xgraph.predecessors(node)),
                default=0,
            )
            labels.setdefault((per_detector[node], stage[node]), []).append(node.name)
        clusters: dict[str, dict[str, str]] = {}
        counts = {True: 0, False: 0}
        for (detector, _), names in labels.items():
            counts[detector] += 1
            name = ("perDetector" if detector else "perRun") + (
                str(counts[detector]) if counts[detector] > 1 else ""
            )
            clusters[name] = {
                "pipetasks": ",".join(names),
                "dimensions": _CLUSTER_DIMENSION if detector else "instrument",
            }
        return clusters

    async def find_failed_quanta(self, job: "OcpsJob") -> list[str]:
        """Return the quanta of the job's graph without outputs in its output run (in a thread).

        Parameters
        ----------
        job : `OcpsJob`
            A job whose ``bps submit`` has ended.

        Returns
        -------
        failed : `list` [`str`]
            ``label@{data ID}`` of each quantum whose ``<label>_metadata``
            is not in the output run, in pipeline order.

        Raises
        ------
        FileNotFoundError
            Raised if the job has no quantum graph.
        """
        return await asyncio.to_thread(self._find_failed_quanta, job)

    def _find_failed_quanta(self, job: "OcpsJob") -> list[str]:
        from lsst.daf.butler import Butler, MissingDatasetTypeError
        from lsst.pipe.base.quantum_graph import PredictedQuantumGraph

        graphs = sorted(self.submit_path(job).glob("*.qg"))
        if not graphs:
            raise FileNotFoundError(f"no quantum graph in {self.submit_path(job)}")
        with PredictedQuantumGraph.open(graphs[0]) as reader:
            reader.read_thin_graph()
            graph = reader.finish()
        failed: list[str] = []
        with Butler.from_config(self.repo) as butler:
            for label, quanta in graph.quanta_by_task.items():
                if not quanta:
                    continue
                try:
                    refs = butler.query_datasets(
                        f"{label}_metadata", collections=job.output_run, explain=False, limit=None
                    )
                except MissingDatasetTypeError:
                    refs = []
                written = {ref.dataId for ref in refs}
                failed += [
                    f"{label}@{{{_data_id_text(data_id)}}}" for data_id in quanta if data_id not in written
                ]
        return failed

    async def finish(self, job: "OcpsJob", completed: bool) -> None:
        """End the job's stray Parsl worker pools and clean its submit folder as ``keep_submit`` says.

        Parameters
        ----------
        job : `OcpsJob`
            A job that has ended.
        completed : `bool`
            Did the job complete?
        """
        self._requests.pop(job.job_id, None)
        await asyncio.to_thread(self._signal_workers, job, signal.SIGKILL)
        remove = self.keep_submit == "never" or (self.keep_submit == "failed" and completed)
        if remove:
            await asyncio.to_thread(shutil.rmtree, self.bps_dir(job), True)

    async def terminate(self, job: "OcpsJob", sig: signal.Signals) -> None:
        """Send ``sig`` to the job's Parsl worker pools and their processes (abort).

        Parameters
        ----------
        job : `OcpsJob`
            The job.
        sig : `signal.Signals`
            The signal.
        """
        await asyncio.to_thread(self._signal_workers, job, sig)

    def _signal_workers(self, job: "OcpsJob", sig: signal.Signals) -> None:
        """Signal the job's worker pools (their command line names its run folder) and descendants."""
        marker = str(self.submit_path(job)) + os.sep
        for process in _find_processes(marker):
            targets = [process]
            with contextlib.suppress(psutil.Error):
                targets += process.children(recursive=True)
            for target in targets:
                with contextlib.suppress(psutil.Error):
                    target.send_signal(sig)


def _find_processes(marker: str) -> Iterable[psutil.Process]:
    """Yield this user's processes whose command line contains ``marker``."""
    me = os.getpid()
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if process.info["pid"] != me and any(marker in part for part in cmdline):
            yield process


def _data_id_text(data_id: "DataCoordinate") -> str:
    return ", ".join(f"{key}: {value!r}" for key, value in data_id.required.items())
