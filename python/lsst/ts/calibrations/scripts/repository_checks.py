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

"""Repository checks made at configure time, before anything is taken.

Public API
----------
``check_repository(plan, butler, *, filter_name=None, when=None) -> list[str]``
    Problems (one sentence each, naming the option and what would be
    right; empty if none) found in the butler repository for a
    `CalibrationPlan`:

    * every input collection of every job exists (the collection
      ``calib_collection`` that heads a job's inputs because an earlier
      step of the run certifies into it need not exist yet);
    * the calibrations each job's ISR applies and the run does not make
      itself are in that job's input collections for every detector of the
      plan (and ``filter_name`` for flats, when given): cpDark needs bias;
      cpFlat bias and dark; findDefects bias; verifyBias bias; verifyDark
      bias and dark; verifyFlat bias, dark and flat; cpBias and cpPtc none.
      With ``when`` (an ISO date or `astropy.time.Time`, e.g. the date of
      the exposures to come) the calibration must also be valid then;
    * ``calib_collection``, when the run certifies, is a CALIBRATION
      collection if it exists, and holds no certification of the same
      dataset type and detector whose validity overlaps the plan's range
      (certification would be refused after the data were taken).

Blocking butler calls: run it in a thread (`asyncio.to_thread`). The
butler modules are imported when the function runs, never on import.
"""

from __future__ import annotations

__all__ = ["check_repository"]

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lsst.daf.butler import Butler

    from .calibration_plan import CalibrationPlan

# Calibrations the ISR of each pipeline applies (the pipelines' own ISR switches).
PIPELINE_NEEDS: dict[str, tuple[str, ...]] = {
    "cpBias": (),
    "cpDark": ("bias",),
    "cpFlat": ("bias", "dark"),
    "findDefects": ("bias",),
    "cpDefects": ("bias",),
    "cpPtc": (),
    "verifyBias": ("bias",),
    "verifyDark": ("bias", "dark"),
    "verifyFlat": ("bias", "dark", "flat"),
}

_OPTION_KIND = {
    "BIAS": "bias",
    "DARK": "dark",
    "FLAT": "flat",
    "DEFECTS": "defects",
    "PTC": "ptc",
    "GAIN": "ptc",
}


def _pipeline_name(url: str) -> str:
    return url.rsplit("/", 1)[-1].split("#", 1)[0].removesuffix(".yaml")


def check_repository(
    plan: CalibrationPlan,
    butler: Butler,
    *,
    filter_name: str | None = None,
    when: Any = None,
) -> list[str]:
    """Check the repository for a plan (see the module docstring).

    Parameters
    ----------
    plan : `CalibrationPlan`
        The run plan.
    butler : `lsst.daf.butler.Butler`
        A butler on ``plan.repo`` (read-only is enough).
    filter_name : `str`, optional
        Physical filter of the flats, when known (see `resolve_filter`).
    when : `str`, `datetime.date` or `astropy.time.Time`, optional
        If given, calibrations must be valid at this time (TAI).

    Returns
    -------
    problems : `list` [`str`]
        One sentence per problem; empty if the repository is ready.
    """
    import astropy.time
    from lsst.daf.butler import CollectionType, MissingCollectionError, Timespan

    from ..repo.certify import to_tai

    problems: list[str] = []
    types: dict[str, Any] = {}

    def collection_type(name: str) -> Any:
        if name not in types:
            try:
                types[name] = butler.collections.get_info(name).type
            except MissingCollectionError:
                types[name] = None
        return types[name]

    checked: set[tuple[str, str]] = set()
    at = None
    if when is not None:
        t = to_tai(when, "when")
        at = Timespan(t, t + astropy.time.TimeDelta(1.0, format="sec"))

    for step in plan.steps:
        kind = _OPTION_KIND[step.name]
        produced_before = {plan.step(name).dataset_type for name in step.after}
        jobs: list[tuple[str, str, Sequence[str], set[str]]] = []
        if step.generate:
            jobs.append((f"input_collections_{kind}", step.pipeline, step.input_collections, produced_before))
        if step.verify:
            made = produced_before | ({step.dataset_type} if step.verification == "internal" else set())
            jobs.append(
                (
                    f"input_collections_verify_{kind}",
                    step.verify_pipeline,
                    step.verify_input_collections,
                    made,
                )
            )
        for option, pipeline, names, made in jobs:
            for name in names:
                if (option, name) in checked or (step.after and name == plan.calib_collection):
                    # calib_collection heading the inputs is made by this run's certification.
                    continue
                checked.add((option, name))
                if collection_type(name) is None:
                    problems.append(
                        f"{option}: collection {name!r} does not exist in {plan.repo}: give existing "
                        f"collections (e.g. {plan.instrument}/calib) or create {name!r} first."
                    )
            search = [name for name in names if collection_type(name) is not None]
            needed = [t for t in PIPELINE_NEEDS.get(_pipeline_name(pipeline), ()) if t not in made]
            for dataset_type in needed:
                missing = _missing_detectors(
                    butler, plan, dataset_type, search, filter_name if dataset_type == "flat" else None, at
                )
                if missing:
                    where = f" valid at {when}" if when is not None else ""
                    band = f" for filter {filter_name}" if dataset_type == "flat" and filter_name else ""
                    problems.append(
                        f"{option}: {_pipeline_name(pipeline)} needs a {dataset_type}{band}{where} "
                        "for detector(s) "
                        f"{', '.join(str(d) for d in missing)}, but none is in "
                        f"{', '.join(names) or '(no collections)'}: add a collection that holds certified "
                        f"{dataset_type} calibrations (e.g. {plan.instrument}/calib)"
                        + (".", " or set generate_calibrations: true to make them in this run.")[
                            not plan.generate_calibrations
                        ]
                    )

    certified = [step for step in plan.steps if step.certify]
    if certified:
        calib = plan.calib_collection
        calib_type = collection_type(calib)
        if calib_type is not None and calib_type != CollectionType.CALIBRATION:
            problems.append(
                f"calib_collection={calib!r} is a {calib_type.name} collection, not a CALIBRATION "
                "collection: "
                "give a new name or an existing CALIBRATION collection."
            )
        elif calib_type is not None:
            span = Timespan(
                to_tai(plan.certify_begin, "certify_calib_begin_date"),
                to_tai(plan.certify_end, "certify_calib_end_date"),
            )
            for step in certified:
                overlaps = _overlapping(butler, calib, step.dataset_type, plan.detectors, span, filter_name)
                if overlaps:
                    problems.append(
                        f"calib_collection={calib!r} already has {step.dataset_type} certified with a "
                        "validity "
                        f"overlapping [{plan.certify_begin}, {plan.certify_end}) for detector(s) "
                        f"{', '.join(overlaps)}: certification would be refused after the images are taken; "
                        "choose another calib_collection or certify_calib_begin_date/certify_calib_end_date "
                        "that do not overlap."
                    )
    return problems


def _missing_detectors(
    butler: Butler,
    plan: CalibrationPlan,
    dataset_type: str,
    collections: Sequence[str],
    filter_name: str | None,
    at: Any,
) -> list[int]:
    """Detectors of the plan with no ``dataset_type`` in ``collections``."""
    from lsst.daf.butler import MissingDatasetTypeError

    if not collections:
        return list(plan.detectors)
    try:
        butler.get_dataset_type(dataset_type)
    except MissingDatasetTypeError:
        return list(plan.detectors)
    missing = []
    if at is not None and (dataset_type != "flat" or filter_name is not None):
        for detector in plan.detectors:
            data_id: dict[str, Any] = {"instrument": plan.instrument, "detector": detector}
            if filter_name is not None:
                data_id["physical_filter"] = filter_name
            if butler.find_dataset(dataset_type, data_id, collections=list(collections), timespan=at) is None:
                missing.append(detector)
        return missing
    where = f"instrument = '{plan.instrument}'"
    if filter_name is not None and dataset_type == "flat":
        where += " AND physical_filter = filter_name"
    refs = butler.query_datasets(
        dataset_type,
        collections=list(collections),
        where=where,
        bind={"filter_name": filter_name} if filter_name is not None and dataset_type == "flat" else None,
        find_first=False,
        explain=False,
        limit=None,
    )
    found = {int(ref.dataId["detector"]) for ref in refs}
    return [detector for detector in plan.detectors if detector not in found]


def _overlapping(
    butler: Butler,
    calib: str,
    dataset_type: str,
    detectors: Iterable[int],
    span: Any,
    filter_name: str | None,
) -> list[str]:
    """Data IDs (as text) certified in ``calib`` with a validity overlapping ``span``."""
    from lsst.daf.butler import MissingDatasetTypeError

    wanted = set(detectors)
    try:
        associations = list(butler.registry.queryDatasetAssociations(dataset_type, collections=[calib]))
    except MissingDatasetTypeError:
        return []
    found = set()
    for association in associations:
        data_id = association.ref.dataId
        if int(data_id["detector"]) not in wanted or association.timespan is None:
            continue
        if filter_name is not None and "physical_filter" in data_id.dimensions.names:
            if data_id["physical_filter"] != filter_name:
                continue
        if association.timespan.overlaps(span):
            found.add(int(data_id["detector"]))
    return [str(detector) for detector in sorted(found)]
