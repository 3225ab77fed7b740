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
``check_repository(plan, repository, *, filter_name=None, when=None) -> list[str]``
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
      With ``when`` (an ISO date or `astropy.time.Time`: the time of the
      exposures to come, by the camera's clock) the calibration must also
      be valid then, by the butler's calibration lookup by date (as ISR
      finds it); one certified only for other dates is refused naming its
      dataset type, detector, collection and validity range;
    * ``calib_collection``, when the run certifies, is a CALIBRATION
      collection if it exists, and holds no certification of the same
      dataset type and detector whose validity overlaps the plan's range
      (certification would be refused after the data were taken).

The rules are here; the repository is read through the run's
`~lsst.ts.calibrations.repo.calibration_repository.CalibrationRepository`,
whose calls block: run `check_repository` in a thread (`asyncio.to_thread`).
"""

from __future__ import annotations

__all__ = ["check_repository"]

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..repo.image_type import ImageType
from .calibration_product import CalibrationProduct

if TYPE_CHECKING:
    from ..repo.calibration_repository import CalibrationRepository
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


def _pipeline_name(url: str) -> str:
    return url.rsplit("/", 1)[-1].split("#", 1)[0].removesuffix(".yaml")


def check_repository(
    plan: CalibrationPlan,
    repository: CalibrationRepository,
    *,
    filter_name: str | None = None,
    when: Any = None,
) -> list[str]:
    """Check the repository for a plan (see the module docstring).

    Parameters
    ----------
    plan : `CalibrationPlan`
        The run plan.
    repository : `~lsst.ts.calibrations.repo.calibration_repository.CalibrationRepository`
        The run's repository (``plan.repo``).
    filter_name : `str`, optional
        Physical filter of the flats, when known (see `resolve_filter`).
    when : `str`, `datetime.date` or `astropy.time.Time`, optional
        If given, calibrations must be valid at this time (TAI).

    Returns
    -------
    problems : `list` [`str`]
        One sentence per problem; empty if the repository is ready.
    """
    problems: list[str] = []
    types: dict[str, str | None] = {}

    def collection_type(name: str) -> str | None:
        if name not in types:
            types[name] = repository.collection_type(name)
        return types[name]

    checked: set[tuple[str, str]] = set()
    for step in plan.steps:
        product = CalibrationProduct[step.name]
        produced_before = {plan.step(name).dataset_type for name in step.after}
        jobs: list[tuple[str, str, Sequence[str], set[str]]] = []
        if step.generate:
            jobs.append(
                (product.input_collections_option, step.pipeline, step.input_collections, produced_before)
            )
        if step.verify:
            made = produced_before | ({step.dataset_type} if step.verification == "internal" else set())
            jobs.append(
                (
                    ImageType[step.images[0]].options.input_collections_verify,
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
                missing = repository.missing_detectors(
                    dataset_type,
                    search,
                    list(plan.detectors),
                    filter_name if dataset_type == "flat" else None,
                    when,
                )
                ranges = (
                    repository.validity_ranges(
                        dataset_type, search, missing, filter_name if dataset_type == "flat" else None
                    )
                    if missing and when is not None
                    else {}
                )
                if ranges:
                    found = "; ".join(
                        f"detector {detector}: "
                        + ", ".join(f"[{begin}, {end}) in {collection}" for collection, begin, end in spans)
                        for detector, spans in sorted(ranges.items())
                    )
                    band = f" for filter {filter_name}" if dataset_type == "flat" and filter_name else ""
                    problems.append(
                        f"{option}: {_pipeline_name(pipeline)} needs a {dataset_type}{band} valid at "
                        f"{when} TAI (when the images are to be taken, by the camera's clock), but the "
                        f"{dataset_type} certified in {', '.join(names)} is valid only (TAI) {found}: "
                        f"certify a {dataset_type} valid then (e.g. in {plan.instrument}/calib) or give "
                        "collections that hold one"
                        + (".", " or set generate_calibrations: true to make it in this run.")[
                            not plan.generate_calibrations
                        ]
                    )
                    missing = [d for d in missing if d not in ranges]
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
        if calib_type is not None and calib_type != "CALIBRATION":
            problems.append(
                f"calib_collection={calib!r} is a {calib_type} collection, not a CALIBRATION "
                "collection: "
                "give a new name or an existing CALIBRATION collection."
            )
        elif calib_type is not None:
            for step in certified:
                overlaps = repository.overlapping_detectors(
                    calib,
                    step.dataset_type,
                    plan.detectors,
                    plan.certify_begin,
                    plan.certify_end,
                    filter_name,
                )
                if overlaps:
                    problems.append(
                        f"calib_collection={calib!r} already has {step.dataset_type} certified with a "
                        "validity "
                        f"overlapping [{plan.certify_begin}, {plan.certify_end}) for detector(s) "
                        f"{', '.join(str(d) for d in overlaps)}: certification would be refused after the "
                        "images are taken; choose another calib_collection or "
                        "certify_calib_begin_date/certify_calib_end_date that do not overlap."
                    )
    return problems
