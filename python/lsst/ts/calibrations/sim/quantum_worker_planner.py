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

"""QuantumWorkerPlanner: a warm worker's quantum-graph build, on a butler kept open between jobs.

``pipetask run`` opens a new butler three times before its first quantum
(to resolve the pipeline, to build the graph, to write), each time reading
the repository's configuration and its registry's schema. A worker serves
many jobs on the same repository, so it opens the repository once and gives
each job a clone (its own defaults and database session, the registry's
caches refreshed: other processes add collections and dataset types between
jobs). The job's ``pipetask`` arguments are parsed by ``pipetask``'s own
command-line definitions and the pipeline is built by its own
``build`` step (same options, checks and error messages); the graph is built
with pipe_base's `AllDimensionsQuantumGraphBuilder` as ``pipetask qgraph``
builds it, and kept in memory for execution. Initialisation (output
collections, dataset types, init outputs, configs, package versions) is a
separate step, `initialize`, so the OCPS can let the other workers read the
saved graph meanwhile.

Options outside what this builder reproduces (listed in `supports`) make
`plan` return `None`: the worker then runs ``pipetask`` itself in process.
"""

from __future__ import annotations

__all__ = ["PlannedJob", "QuantumWorkerPlanner"]

import dataclasses
from collections.abc import Sequence
from typing import Any

import click
from lsst.ctrl.mpexec.cli import script
from lsst.ctrl.mpexec.cli.butler_factory import ButlerFactory
from lsst.ctrl.mpexec.cli.pipetask import cli as pipetask_cli
from lsst.ctrl.mpexec.cli.utils import collect_pipeline_actions, summarize_quantum_graph
from lsst.ctrl.mpexec.showInfo import ShowInfo
from lsst.daf.butler import Butler, CollectionType
from lsst.daf.butler.registry.wildcards import CollectionWildcard
from lsst.pipe.base.all_dimensions_quantum_graph_builder import (
    AllDimensionsQuantumGraphBuilder,
    DatasetQueryConstraintVariant,
)
from lsst.pipe.base.quantum_graph import PredictedQuantumGraph
from lsst.utils.threads import disable_implicit_threading

# Options whose defaults the in-process build assumes; any other value (the
# option is then used) means running pipetask itself. Execution-time options
# (-j, --timeout, --fail-fast, ...) do not concern planning and are ignored,
# as ``pipetask run --init-only`` ignores them.
_DEFAULTS_REQUIRED: dict[str, Any] = {
    "qgraph": None,
    "qgraph_id": None,
    "qgraph_node_id": (),
    "qgraph_dot": None,
    "qgraph_mermaid": None,
    "replace_run": False,
    "prune_replaced": None,
    "mock": False,
    "mock_failure": {},
    "unmocked_dataset_types": (),
    "data_id_table": (),
    "retained_dataset_types": None,
    "show": (),
    "summary": None,
    "coverage": False,
    "init_only": True,
}


@dataclasses.dataclass
class PlannedJob:
    """A job's quantum graph, built and saved, and what its initialisation needs."""

    graph: PredictedQuantumGraph
    """The graph, complete for execution."""
    butler: Butler
    """A clone of the worker's butler on the repository (no defaults)."""
    factory: ButlerFactory
    """The output and input collections, checked as ``pipetask`` checks them."""
    options: dict[str, Any]
    """The parsed ``pipetask run`` options."""


class QuantumWorkerPlanner:
    """Plans jobs in a worker process, on butlers kept open between jobs (see the module documentation)."""

    def __init__(self) -> None:
        self._butlers: dict[str, Butler] = {}
        self._cache_defined = False

    def butler(self, repo: str) -> Butler:
        """Return a new clone of this process's butler on ``repo``, its registry caches refreshed.

        Parameters
        ----------
        repo : `str`
            The repository (path or label), as ``pipetask -b`` takes it.

        Returns
        -------
        butler : `lsst.daf.butler.Butler`
            A writeable butler with no default collections or run.
        """
        base = self._butlers.get(repo)
        if base is None:
            base = self._butlers[repo] = Butler.from_config(repo, writeable=True)
        else:
            base.registry.refresh()
        return base.clone()

    @staticmethod
    def parse(args: Sequence[str]) -> dict[str, Any]:
        """Parse ``pipetask`` arguments (``[group options] run [run options]``) with pipetask's definitions.

        Parameters
        ----------
        args : `list` [`str`]
            The arguments after the executable.

        Returns
        -------
        options : `dict` [`str`, `typing.Any`]
            The ``run`` command's options, pipeline actions collected.

        Raises
        ------
        click.UsageError
            Raised if the arguments are not a valid ``pipetask run``.
        """
        args = list(args)
        group = pipetask_cli.make_context("pipetask", list(args))
        # Click leaves the command's own arguments in group.args; its name is just before them.
        rest = list(group.args)
        name = args[len(args) - len(rest) - 1] if len(rest) < len(args) else ""
        command = pipetask_cli.get_command(group, name) if name == "run" else None
        if command is None:
            raise click.UsageError(f"expected 'pipetask ... run ...', got {name!r}")
        context = command.make_context(name, rest, parent=group)
        return collect_pipeline_actions(context, **context.params)

    @staticmethod
    def supports(options: dict[str, Any]) -> bool:
        """Can `plan` build a job with these options (else ``pipetask`` runs in process)?"""
        return (
            all(options.get(name, default) == default for name, default in _DEFAULTS_REQUIRED.items())
            and options.get("output") is not None
            and options.get("output_run") is not None
        )

    def plan(self, args: Sequence[str]) -> PlannedJob | None:
        """Build and save a job's quantum graph, as ``pipetask run --init-only --save-qgraph`` does.

        Nothing is written to the repository: `initialize` does that.

        Parameters
        ----------
        args : `list` [`str`]
            The ``pipetask`` arguments of the job, with ``--init-only`` and
            ``--save-qgraph PATH``.

        Returns
        -------
        job : `PlannedJob` or `None`
            The planned job, or `None` if its options need ``pipetask``
            itself (`supports`).

        Raises
        ------
        click.UsageError
            Raised if the arguments are invalid.
        ValueError
            Raised if the collections are inconsistent (``pipetask``'s own
            checks) or the pipeline cannot be built.
        RuntimeError
            Raised if the graph is empty.
        """
        options = self.parse(args)
        if not self.supports(options):
            return None
        if not options.get("enable_implicit_threading"):
            disable_implicit_threading()
        # The pipeline is resolved by the graph builder, on the warm butler.
        build_options = dict(options, butler_config=None, show=ShowInfo([]))
        pipeline_graph_factory = script.build(**build_options)
        butler = self.butler(options["butler_config"])
        try:
            graph = self._build(butler, options, pipeline_graph_factory(resolve=False))
        except BaseException:
            butler.close()
            raise
        return graph

    def _build(self, butler: Butler, options: dict[str, Any], pipeline_graph: Any) -> PlannedJob:
        extend_run = bool(options["extend_run"])
        factory = ButlerFactory(
            butler,
            output=options["output"],
            output_run=options["output_run"],
            inputs=list(options["input"] or ()),
            extend_run=extend_run,
            rebase=bool(options["rebase"]),
            writeable=False,
        )
        factory.check(extend_run=extend_run, replace_run=False, prune_replaced=None)
        assert factory.output is not None and factory.output_run is not None  # supports() checked
        inputs = [factory.output.name] if factory.output.exists else list(factory.inputs)
        if extend_run:
            inputs.insert(0, factory.output_run.name)
        run = factory.output_run.name
        skip_existing_in = tuple(options["skip_existing_in"] or ())
        if options["skip_existing"] or extend_run:
            skip_existing_in += (run,)
        builder = AllDimensionsQuantumGraphBuilder(
            pipeline_graph,
            butler,
            where=options["data_query"] or "",
            skip_existing_in=skip_existing_in,
            prune_unanchored_quanta=options["prune_unanchored_quanta"],
            clobber=options["clobber_outputs"],
            dataset_query_constraint=DatasetQueryConstraintVariant.fromExpression(
                options["dataset_query_constraint"]
            ),
            input_collections=CollectionWildcard.from_expression(inputs).require_ordered(),
            output_run=run,
        )
        metadata = {
            "butler_argument": str(options["butler_config"]),
            "extend_run": extend_run,
            "skip_existing_in": skip_existing_in,
            "skip_existing": options["skip_existing"],
            "retained_dataset_types": None,
            "data_query": options["data_query"] or "",
        }
        components = builder.finish(
            options["output"], metadata=metadata, attach_datastore_records=options["qgraph_datastore_records"]
        )
        if options["save_qgraph"]:
            components.write(options["save_qgraph"])
        graph = components.assemble()
        if not summarize_quantum_graph(graph):
            raise RuntimeError("QuantumGraph was empty; ERROR logs above should provide details.")
        return PlannedJob(graph=graph, butler=butler, factory=factory, options=options)

    def initialize(self, job: PlannedJob) -> Butler:
        """Make the output collections and write what precedes the first quantum, as ``pipetask run`` does.

        Registers the output RUN and CHAINED collections, the dataset types
        (with ``--register-dataset-types``), and writes the init outputs,
        configs and package versions.

        Parameters
        ----------
        job : `PlannedJob`
            The planned job.

        Returns
        -------
        butler : `lsst.daf.butler.Butler`
            A butler writing to the job's output run and reading from its
            output collection, for executing its quanta.
        """
        if not self._cache_defined:
            ButlerFactory.define_datastore_cache()
            self._cache_defined = True
        butler, factory, options = job.butler, job.factory, job.options
        assert factory.output is not None and factory.output_run is not None
        extend_run = bool(options["extend_run"])
        chain = list(
            butler.collections.query(
                factory.output.chain if factory.output.exists else factory.inputs,
                flatten_chains=True,
                include_chains=False,
            )
        )
        if not factory.output.exists:
            butler.collections.register(factory.output.name, CollectionType.CHAINED)
        if not extend_run:
            butler.collections.register(factory.output_run.name, CollectionType.RUN)
            chain.insert(0, factory.output_run.name)
            butler.collections.redefine_chain(factory.output.name, chain)
        writer = butler.clone(collections=[factory.output.name], run=factory.output_run.name)
        try:
            no_versions = bool(options["no_versions"])
            if options["register_dataset_types"]:
                job.graph.pipeline_graph.register_dataset_types(writer, include_packages=not no_versions)
            if not options["skip_init_writes"]:
                skip_existing = bool(options["skip_existing"]) or extend_run
                job.graph.write_init_outputs(writer, skip_existing=skip_existing)
                job.graph.write_configs(writer, compare_existing=extend_run)
                if not no_versions:
                    job.graph.write_packages(writer, compare_existing=extend_run)
        except BaseException:
            writer.close()
            raise
        finally:
            butler.close()
        return writer
