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

"""ProcessingStep: one node of a run's processing graph."""

__all__ = ["ProcessingStep"]

import dataclasses
import typing


@dataclasses.dataclass(frozen=True)
class ProcessingStep:
    """One product of a run (bias, dark, flat, defects, PTC or gains) and
    the jobs that make, verify and certify it.

    The step runs, in order: the generation job (if ``generate``), the
    verification job (if ``verify``), the verdict, then certification (if
    ``certify`` and the verification, when there is one, passed). It starts
    when the exposures of every image type in ``images`` are taken and
    ingested and every step named in ``after`` is accepted (verified if
    verified, certified if certified). A step that fails (job failure,
    verification failure, certification refused) blocks every step that
    depends on it (`CalibrationPlan.dependents`); those are not run and are
    reported as not generated.

    Parameters
    ----------
    name : `str`
        "BIAS", "DARK", "FLAT", "DEFECTS", "PTC" or "GAIN".
    images : `tuple` [`str`, ...]
        Image types whose kept exposures the step's jobs process.
    after : `tuple` [`str`, ...]
        Steps of this run whose product must be accepted first (their
        certified product is found through ``calib_collection``, which
        then heads ``input_collections``).
    generate : `bool`
        Run the generation job (``pipeline``).
    pipeline : `str`
        Generation pipeline URL with ``${CP_PIPE_DIR}`` (and a ``#subset``
        for GAIN); "" if ``generate`` is false.
    config_options : `tuple` [`str`, ...]
        pipetask configuration arguments of the generation job.
    input_collections : `tuple` [`str`, ...]
        Input collections of the generation job (the OCPS adds the raws).
    verify : `bool`
        Run the verification job (``verify_pipeline``).
    verification : `str`
        "internal" (against the calibration just generated: the generation
        job's output collection must head the verification inputs),
        "external" (against existing calibrations in
        ``verify_input_collections``), or "" without verification.
    verify_pipeline : `str`
        Verification pipeline URL with ``${CP_VERIFY_DIR}``; "" if none.
    verify_config_options : `tuple` [`str`, ...]
        pipetask configuration arguments of the verification job (the
        ``isr`` options of the generation's, whose ISR label it shares).
    verify_input_collections : `tuple` [`str`, ...]
        Input collections of the verification job, without the
        generation job's output collection.
    verify_stats_dataset : `str`
        Run-level statistics dataset the verdict reads, e.g.
        "verifyBiasStats"; "" if none.
    verification_threshold : `int`
        ``number_verification_tests_threshold_*`` (0 if no verification).
    certify : `bool`
        Certify ``dataset_type`` from the generation job's output.
    dataset_type : `str`
        Dataset type generated (and certified if ``certify``), e.g.
        "bias"; "cpPtcExtract" for GAIN.
    report_gains : `bool`
        Report gains per flat pair, detector and amplifier from the
        ``cpPtcExtract`` datasets of the generation job's output.
    """

    name: str
    images: tuple[str, ...]
    after: tuple[str, ...] = ()
    generate: bool = False
    pipeline: str = ""
    config_options: tuple[str, ...] = ()
    input_collections: tuple[str, ...] = ()
    verify: bool = False
    verification: str = ""
    verify_pipeline: str = ""
    verify_config_options: tuple[str, ...] = ()
    verify_input_collections: tuple[str, ...] = ()
    verify_stats_dataset: str = ""
    verification_threshold: int = 0
    certify: bool = False
    dataset_type: str = ""
    report_gains: bool = False

    @property
    def jobs(self) -> tuple[str, ...]:
        """Kinds of OCPS jobs the step runs, in order: "generate" and/or "verify"."""
        return tuple(
            kind for kind, wanted in (("generate", self.generate), ("verify", self.verify)) if wanted
        )

    def incremental_jobs(self) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
        """The jobs whose per-exposure part can run as exposures land.

        The generation (its inputs exist once the steps it comes after are
        certified) and an external verification; not an internal
        verification, which needs the product the generation makes.

        Returns
        -------
        jobs : `list` [`tuple`]
            ``(kind, pipeline, config options, input collections)`` of each.
        """
        jobs = []
        if self.generate:
            jobs.append(("generate", self.pipeline, self.config_options, self.input_collections))
        if self.verify and self.verification == "external":
            jobs.append(
                ("verify", self.verify_pipeline, self.verify_config_options, self.verify_input_collections)
            )
        return jobs

    def describe(self) -> str:
        """Return a one-line description.

        For example "DARK from DARK: generate cpDark.yaml after BIAS, verify
        (internal) verifyDark.yaml, certify dark".
        """
        parts = []
        if self.generate:
            pipeline = self.pipeline.rsplit("/", 1)[-1]
            after = f" after {', '.join(self.after)}" if self.after else ""
            parts.append(f"generate {pipeline}{after}")
        if self.verify:
            parts.append(f"verify ({self.verification}) {self.verify_pipeline.rsplit('/', 1)[-1]}")
        if self.certify:
            parts.append(f"certify {self.dataset_type}")
        if self.report_gains:
            parts.append("report gains")
        return f"{self.name} from {'+'.join(self.images)}: {', '.join(parts)}"

    def to_dict(self) -> dict[str, typing.Any]:
        """Return a JSON-compatible dict of the fields."""
        return {
            field.name: list(value) if isinstance(value := getattr(self, field.name), tuple) else value
            for field in dataclasses.fields(self)
        }
