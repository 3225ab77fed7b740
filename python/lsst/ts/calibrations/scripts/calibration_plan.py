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

"""CalibrationPlan: the plan of one calibration run, built from a validated configuration.

Public API
----------
``CalibrationPlan.build(config, *, explicit_keys, instrument, detector_ids, reprocess, skip)``
    Returns ``(plan, problems)``. ``config`` is the configuration as
    ``BaseScript.do_configure`` validated it against the script's schema
    (defaults filled in; a `types.SimpleNamespace` or a mapping): it is not
    validated again. ``explicit_keys`` are the options the operator wrote.
    Every rule of `plan_rules` is applied and every problem returned, each
    a `ConfigProblem` naming its option; problems about the options in
    ``skip`` (already reported) are left out. ``plan`` is `None` only when
    the exposures or the validity range cannot be planned. Defaults that
    do not apply are dropped with a line in ``plan.notes`` (log them at
    INFO), and so is an ``n_*`` that follows the length of its
    ``exp_times_*`` list.
``CalibrationPlan.from_config(config, ...)``
    The same, raising one `ValueError` with every problem; the plan.

Reprocessing is an input of the plan, not a rewrite of the configuration:
``reprocess`` maps each image type to the ids and exposure times of
exposures already in the repository; they are the sequences (all kept,
none discarded) and no image is taken.

The plan (frozen) gives, for the run engineer:

* ``sequences``: one `ExposureSequence` per image type, in taking order
  (``exposure_times`` discards first; ``n``/``n_discard``);
* ``graph`` (`ProcessingGraph`) and ``steps``: `ProcessingStep` nodes in a
  topological order (``after`` = dependencies inside the run, ``images`` =
  image types needed); ``step(name)``, ``dependents(name)`` (transitive:
  what a failure blocks), ``steps_ready(taken, accepted)``;
* ``detectors`` (all of the instrument's if none given), ``filter`` (as
  written: name, index or None; resolve it with `plan_rules.resolve_filter`
  against the camera), ``calib_collection``, ``certify_begin``/
  ``certify_end`` (ISO text, TAI), ``repo``, ``n_processes``,
  ``oods_timeout``, ``processing_timeout``, ``wait_between_exposures``,
  ``program``, ``reason``, ``note``, ``reprocess`` (exposure ids per image
  type, empty unless reprocessing);
* ``gain_pairs`` (index pairs into the kept flats), ``unpaired_flats``,
  ``gain_step`` ("GAIN", "PTC" whose cpPtcExtract carries the gains, or "");
* ``notes`` (INFO lines), ``warnings`` (WARNING lines), ``config`` (the configuration dict),
  ``explicit_keys``, ``camera_time()``, ``estimated_duration()``,
  ``describe()``, ``to_dict()``.
"""

from __future__ import annotations

__all__ = ["CalibrationPlan"]

import dataclasses
import types
import typing
from collections.abc import Collection, Mapping, Sequence

from ..repo.image_type import ImageType
from ..sal.config_problem import ConfigProblem
from . import plan_rules
from .calibration_schema import DETECTOR_IDS, IMAGE_TYPES_BY_MODE
from .exposure_sequence import ExposureSequence
from .processing_graph import ProcessingGraph
from .processing_step import ProcessingStep


@dataclasses.dataclass(frozen=True)
class CalibrationPlan:
    """The validated, normalized plan of one calibration run.

    Build it with `from_config`; the fields are documented in the module
    docstring. Frozen: the run reads it, never changes it.

    Parameters
    ----------
    config : `dict` [`str`, `typing.Any`]
        The validated configuration, defaults filled in.
    explicit_keys : `frozenset` [`str`]
        Options the operator wrote.
    instrument : `str`
        Instrument name ("LSSTComCam").
    script_mode : `str`
        The ``script_mode``.
    sequences : `tuple` [`ExposureSequence`, ...]
        Exposures per image type, in taking order.
    graph : `ProcessingGraph`
        The processing steps in topological order.
    detectors : `tuple` [`int`, ...]
        Detector ids to process.
    filter : `str`, `int` or `None`
        The ``filter`` option as written (see `resolve_filter`).
    generate_calibrations, do_verify : `bool`
        The options of those names.
    calib_collection : `str`
        CALIBRATION collection to certify into.
    certify_begin, certify_end : `str`
        Validity range (ISO, TAI), begin < end.
    repo : `str`
        Butler repository.
    n_processes : `int`
        Processes per pipetask job.
    oods_timeout, processing_timeout, wait_between_exposures : `float`
        Seconds.
    program, reason, note : `str`
        Exposure metadata.
    gain_pairs : `tuple` [`tuple` [`int`, `int`], ...]
        Pairs of kept flats (0-based indices) that give gains.
    unpaired_flats : `tuple` [`int`, ...]
        Kept flats (indices) taken but in no pair.
    gain_step : `str`
        Step whose ``cpPtcExtract`` gives the gains ("GAIN", "PTC"), or "".
    notes : `tuple` [`str`, ...]
        Information for the log (dropped defaults, what is not done).
    warnings : `tuple` [`str`, ...]
        Configurations that run but give doubtful results (logged at
        WARNING), e.g. darks too short for the defect finder.
    reprocess : `dict` [`ImageType`, `tuple` [`int`, ...]]
        Exposures already in the repository to process again, per image
        type; empty when images are taken.
    """

    config: dict[str, typing.Any]
    explicit_keys: frozenset[str]
    instrument: str
    script_mode: str
    sequences: tuple[ExposureSequence, ...]
    graph: ProcessingGraph
    detectors: tuple[int, ...]
    filter: str | int | None
    generate_calibrations: bool
    do_verify: bool
    calib_collection: str
    certify_begin: str
    certify_end: str
    repo: str
    n_processes: int
    oods_timeout: float
    processing_timeout: float
    wait_between_exposures: float
    program: str
    reason: str
    note: str
    gain_pairs: tuple[tuple[int, int], ...]
    unpaired_flats: tuple[int, ...]
    gain_step: str
    notes: tuple[str, ...]
    reprocess: dict[ImageType, tuple[int, ...]] = dataclasses.field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    # ------------------------------------------------------------------
    # Construction

    @classmethod
    def build(
        cls,
        config: types.SimpleNamespace | Mapping[str, typing.Any],
        *,
        explicit_keys: Collection[str] = frozenset(),
        instrument: str = "LSSTComCam",
        detector_ids: Sequence[int] = DETECTOR_IDS,
        reprocess: Mapping[ImageType, Sequence[tuple[int, float]]] | None = None,
        skip: Collection[str] = frozenset(),
    ) -> tuple[CalibrationPlan | None, list[ConfigProblem]]:
        """Apply every configure-time rule and build the run plan.

        Parameters
        ----------
        config : `types.SimpleNamespace` or `~collections.abc.Mapping`
            The configuration validated by the script (defaults filled in).
        explicit_keys : `~collections.abc.Collection` [`str`], optional
            Options set explicitly. An explicit option that cannot apply is
            refused; a default that cannot apply is dropped with a note.
        instrument : `str`, optional
            Instrument name for pipeline paths and collection names.
        detector_ids : `~collections.abc.Sequence` [`int`], optional
            The instrument's detectors: those processed when ``detectors``
            is empty.
        reprocess : `~collections.abc.Mapping`, optional
            ``ImageType`` → ``(exposure id, exposure time)`` of the exposures
            already in the repository to process again; `None` to take images.
        skip : `~collections.abc.Collection` [`str`], optional
            Options whose problems were already reported (left out here).

        Returns
        -------
        plan : `CalibrationPlan` or `None`
            The plan; `None` if the exposures or the validity range cannot
            be planned.
        problems : `list` [`ConfigProblem`]
            Every problem, each naming its option; empty if none.
        """
        values = dict(vars(config)) if isinstance(config, types.SimpleNamespace) else dict(config)
        explicit = frozenset(explicit_keys)
        image_types = IMAGE_TYPES_BY_MODE[values["script_mode"]]
        times = {t: [exposure_time for _, exposure_time in given] for t, given in (reprocess or {}).items()}

        problems = plan_rules.options_of_types_not_taken(values, explicit, image_types)
        problems += plan_rules.filter_placeholder(values)
        sequences, more, notes = plan_rules.exposure_sequences(
            values, explicit, image_types, times if reprocess is not None else None
        )
        problems += more
        flats = next((s for s in sequences if s.image_type is ImageType.FLAT), None)
        flat_times = flats.kept_times if flats is not None else None
        problems += plan_rules.flat_products_need_flats(values)
        problems += plan_rules.ptc_pairs(values, flat_times)
        darks = next((s for s in sequences if s.image_type is ImageType.DARK), None)
        warnings = plan_rules.defect_dark_times(values, darks.kept_times if darks is not None else None)
        gain_step, more, gain_notes = plan_rules.gain_pairs(values, explicit, flat_times)
        problems += more
        notes += gain_notes
        options, more = plan_rules.pipeline_options(values)
        problems += more
        inputs, more = plan_rules.input_collections(values)
        problems += more
        calib_collection, more = plan_rules.calib_collection(values, instrument)
        problems += more
        begin, end, more = plan_rules.validity_range(values)
        problems += more

        graph = ProcessingGraph.build(
            image_types,
            instrument=instrument,
            generate=bool(values["generate_calibrations"]),
            verify=bool(values["do_verify"]),
            do_defects=bool(values["do_defects"]),
            do_ptc=bool(values["do_ptc"]),
            gain_step=gain_step,
            options=options,
            inputs=inputs,
            thresholds={
                t: int(values[t.options.verification_threshold]) for t in ImageType.calibration_types()
            },
            calib_collection=calib_collection,
        )
        problems += plan_rules.inapplicable_options(
            values, explicit, graph, gain_step, already=ConfigProblem.options(problems)
        )
        problems = [problem for problem in problems if problem.option not in skip]

        if not graph.steps:
            notes.append(
                "No processing: generate_calibrations and do_verify are false and no defects, PTC or "
                "gains are requested; the images are only taken and ingested."
            )
        elif not graph.certifies:
            notes.append(
                "Nothing is certified in this run (generate_calibrations is false and no defects or PTC)."
            )
        if len(sequences) != len(image_types) or begin is None or end is None:
            return None, problems
        gain_pairs, unpaired = plan_rules.pair_flats(flat_times or ())
        plan = cls(
            config=values,
            explicit_keys=explicit,
            instrument=instrument,
            script_mode=values["script_mode"],
            sequences=tuple(sequences),
            graph=graph,
            detectors=tuple(int(d) for d in values["detectors"]) or tuple(detector_ids),
            filter=values["filter"],
            generate_calibrations=bool(values["generate_calibrations"]),
            do_verify=bool(values["do_verify"]),
            calib_collection=calib_collection,
            certify_begin=begin,
            certify_end=end,
            repo=str(values["repo"]),
            n_processes=int(values["n_processes"]),
            oods_timeout=float(values["oods_timeout"]),
            processing_timeout=float(values["processing_timeout"]),
            wait_between_exposures=float(values["wait_between_exposures"]),
            program=str(values["program"]),
            reason=str(values["reason"]),
            note=str(values["note"]),
            gain_pairs=gain_pairs if gain_step else (),
            unpaired_flats=unpaired if gain_step else (),
            gain_step=gain_step,
            notes=tuple(notes),
            reprocess={t: tuple(i for i, _ in given) for t, given in (reprocess or {}).items()},
            warnings=tuple(warnings),
        )
        return plan, problems

    @classmethod
    def from_config(
        cls,
        config: types.SimpleNamespace | Mapping[str, typing.Any],
        *,
        explicit_keys: Collection[str] = frozenset(),
        instrument: str = "LSSTComCam",
        detector_ids: Sequence[int] = DETECTOR_IDS,
        reprocess: Mapping[ImageType, Sequence[tuple[int, float]]] | None = None,
    ) -> CalibrationPlan:
        """Build the run plan from a validated configuration, or refuse it (see `build`).

        Raises
        ------
        ValueError
            If a rule is broken; the message lists every problem
            (`ConfigProblem.describe_all`), each naming the option and
            what would be right.
        """
        plan, problems = cls.build(
            config,
            explicit_keys=explicit_keys,
            instrument=instrument,
            detector_ids=detector_ids,
            reprocess=reprocess,
        )
        if problems or plan is None:
            raise ValueError(ConfigProblem.describe_all(problems))
        return plan

    # ------------------------------------------------------------------
    # Queries

    @property
    def image_types(self) -> tuple[ImageType, ...]:
        """Image types taken, in order."""
        return tuple(sequence.image_type for sequence in self.sequences)

    @property
    def steps(self) -> tuple[ProcessingStep, ...]:
        """The processing steps in topological order (`ProcessingGraph.steps`)."""
        return self.graph.steps

    def sequence(self, image_type: str) -> ExposureSequence:
        """Return the `ExposureSequence` of an image type.

        Raises
        ------
        KeyError
            If the image type is not taken in this run.
        """
        for sequence in self.sequences:
            if sequence.image_type == image_type:
                return sequence
        raise KeyError(f"image type {image_type!r} is not taken in this run (taken: {self.image_types})")

    def step(self, name: str) -> ProcessingStep:
        """Return the step of that name (`ProcessingGraph.step`)."""
        return self.graph.step(name)

    def dependents(self, name: str) -> tuple[str, ...]:
        """Return the steps that depend on ``name``, directly or not: those blocked when it fails."""
        return self.graph.dependents(name)

    def steps_ready(
        self, taken: Collection[str], accepted: Collection[str], started: Collection[str] = ()
    ) -> tuple[ProcessingStep, ...]:
        """Return the steps that may start now (`ProcessingGraph.steps_ready`).

        Parameters
        ----------
        taken : `~collections.abc.Collection` [`str`]
            Image types whose exposures are all taken and ingested.
        accepted : `~collections.abc.Collection` [`str`]
            Steps finished successfully (verified / certified as planned).
        started : `~collections.abc.Collection` [`str`], optional
            Steps already started (excluded).
        """
        return self.graph.steps_ready(taken, accepted, started)

    @property
    def flat_pair_times(self) -> tuple[float, ...]:
        """Exposure time (s) of each gain pair, in order."""
        if not self.gain_pairs:
            return ()
        kept = self.sequence(ImageType.FLAT).kept_times
        return tuple(kept[i] for i, _ in self.gain_pairs)

    def camera_time(self, read_out_time: float = 2.0, shutter_time: float = 1.0) -> float:
        """Return the time (s) the camera needs for every exposure of the run.

        Each exposure takes its exposure time plus ``read_out_time``
        (plus ``shutter_time`` for flats, whose shutter opens), plus
        ``wait_between_exposures`` between exposures.
        """
        total = 0.0
        count = 0
        for sequence in self.sequences:
            extra = read_out_time + (shutter_time if sequence.image_type.shutter_open else 0.0)
            total += sum(sequence.exposure_times) + extra * sequence.total
            count += sequence.total
        return total + self.wait_between_exposures * max(count - 1, 0)

    def estimated_duration(self, read_out_time: float = 2.0, job_time: float = 300.0) -> float:
        """Return a realistic duration (s) of the run for the ``metadata`` event.

        Camera time (`camera_time`) plus the processing left after the last
        image type is taken: ``job_time`` per OCPS job on the longest chain
        of steps that waits for the last image type (generation and
        verification count one job each, through the steps it depends on
        that start no earlier).

        Parameters
        ----------
        read_out_time : `float`, optional
            Camera read-out time (s).
        job_time : `float`, optional
            Typical duration (s) of one OCPS job.
        """
        if not self.sequences:
            return 0.0
        last = self.sequences[-1].image_type
        chain = self.graph.longest_chains()
        tail = max((chain[step.name] for step in self.steps if last in step.images), default=0)
        return self.camera_time(read_out_time) + job_time * tail

    def describe(self) -> str:
        """Return a multi-line description of the plan for the log."""
        lines = [f"Plan ({self.script_mode}, detectors {list(self.detectors)}):"]
        for sequence in self.sequences:
            lines.append(
                f"  {sequence.image_type}: {sequence.n} kept + {sequence.n_discard} discarded, "
                f"exposure times [{plan_rules.format_times(sequence.exposure_times)}] s"
            )
        for step in self.steps:
            lines.append(f"  {step.describe()}")
        if any(step.certify for step in self.steps):
            lines.append(
                f"  certify into {self.calib_collection}, "
                f"valid [{self.certify_begin}, {self.certify_end}) TAI"
            )
        if self.gain_step:
            lines.append(
                f"  gains from {len(self.gain_pairs)} flat pair(s) "
                f"at [{plan_rules.format_times(self.flat_pair_times)}] s"
            )
        lines.extend(f"  note: {note}" for note in self.notes)
        lines.extend(f"  warning: {warning}" for warning in self.warnings)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, typing.Any]:
        """Return a JSON-compatible dict of the plan."""
        return {
            "config": dict(self.config),
            "explicit_keys": sorted(self.explicit_keys),
            "instrument": self.instrument,
            "script_mode": self.script_mode,
            "sequences": [sequence.to_dict() for sequence in self.sequences],
            "steps": [step.to_dict() for step in self.steps],
            "detectors": list(self.detectors),
            "filter": self.filter,
            "calib_collection": self.calib_collection,
            "certify_begin": self.certify_begin,
            "certify_end": self.certify_end,
            "gain_pairs": [list(pair) for pair in self.gain_pairs],
            "unpaired_flats": list(self.unpaired_flats),
            "gain_step": self.gain_step,
            "notes": list(self.notes),
            "warnings": list(self.warnings),
            "reprocess": {str(k): list(v) for k, v in self.reprocess.items()},
        }
