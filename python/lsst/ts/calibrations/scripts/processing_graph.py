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

"""ProcessingGraph: the processing steps of a run and their dependencies."""

from __future__ import annotations

__all__ = ["ProcessingGraph"]

import dataclasses
from collections.abc import Collection, Mapping, Sequence

from ..repo.image_type import ImageType
from .calibration_product import CalibrationProduct
from .processing_step import ProcessingStep


@dataclasses.dataclass(frozen=True)
class ProcessingGraph:
    """The processing steps of a run, in a topological order.

    Build it with `build`. A step starts when its images are taken and the
    steps it comes ``after`` are accepted; a step that fails blocks its
    `dependents`.

    Parameters
    ----------
    steps : `tuple` [`ProcessingStep`, ...]
        The steps; every step's ``after`` names earlier steps.
    """

    steps: tuple[ProcessingStep, ...] = ()

    @classmethod
    def build(
        cls,
        image_types: Sequence[ImageType],
        *,
        instrument: str,
        generate: bool,
        verify: bool,
        do_defects: bool,
        do_ptc: bool,
        gain_step: str,
        options: Mapping[str, tuple[str, ...]],
        inputs: Mapping[str, tuple[str, ...]],
        thresholds: Mapping[ImageType, int],
        calib_collection: str,
    ) -> ProcessingGraph:
        """Make the steps of a run from its validated choices.

        Parameters
        ----------
        image_types : sequence of `ImageType`
            Image types taken, in order.
        instrument : `str`
            Instrument name of the pipeline paths.
        generate, verify, do_defects, do_ptc : `bool`
            The options of those names (defects and PTC need flats).
        gain_step : `str`
            "GAIN" for the gain pipeline, "PTC" if the PTC job gives the
            gains, "" for no gains.
        options : `~collections.abc.Mapping` [`str`, `tuple` [`str`, ...]]
            Parsed ``config_options_*`` by option name.
        inputs : `~collections.abc.Mapping` [`str`, `tuple` [`str`, ...]]
            Parsed ``input_collections_*`` by option name.
        thresholds : `~collections.abc.Mapping` [`ImageType`, `int`]
            Verification threshold of each image type.
        calib_collection : `str`
            Where this run certifies; heads the inputs of a step that needs
            a product certified earlier in the run.

        Returns
        -------
        graph : `ProcessingGraph`
            BIAS, DARK, FLAT (generation after the products they need, when
            generating; none without generation or verification), DEFECTS,
            PTC, GAIN.
        """
        steps: list[ProcessingStep] = []
        for image_type in image_types:
            if not (generate or verify):
                break
            product = CalibrationProduct.of_image_type(image_type)
            names = image_type.options
            # cpDark needs the run's bias, cpFlat its bias and dark.
            after = (
                tuple(
                    s.name
                    for s in steps
                    if s.certify and s.name in (CalibrationProduct.BIAS, CalibrationProduct.DARK)
                )
                if generate
                else ()
            )
            generation_options = options[names.config_options]
            steps.append(
                ProcessingStep(
                    name=product,
                    images=(image_type,),
                    after=after,
                    generate=generate,
                    pipeline=_pipeline("CP_PIPE_DIR", instrument, product.pipeline) if generate else "",
                    config_options=generation_options if generate else (),
                    input_collections=((calib_collection,) if after else ()) + inputs[names.input_collections]
                    if generate
                    else (),
                    verify=verify,
                    verification=("internal" if generate else "external") if verify else "",
                    verify_pipeline=_pipeline("CP_VERIFY_DIR", instrument, image_type.verify_pipeline)
                    if verify
                    else "",
                    verify_config_options=_isr_options(generation_options) if verify else (),
                    verify_input_collections=inputs[names.input_collections_verify] if verify else (),
                    verify_stats_dataset=f"{image_type.verify_pipeline}Stats" if verify else "",
                    verification_threshold=thresholds[image_type] if verify else 0,
                    certify=generate,
                    dataset_type=product.dataset_type,
                )
            )
        flats = ImageType.FLAT in image_types
        if flats and do_defects:
            steps.append(
                cls._generated(
                    CalibrationProduct.DEFECTS,
                    instrument,
                    options,
                    inputs,
                    after=(CalibrationProduct.BIAS,) if generate and ImageType.BIAS in image_types else (),
                    calib_collection=calib_collection,
                    certify=True,
                )
            )
        if flats and do_ptc:
            steps.append(
                cls._generated(
                    CalibrationProduct.PTC,
                    instrument,
                    options,
                    inputs,
                    certify=True,
                    report_gains=gain_step == CalibrationProduct.PTC,
                )
            )
        if flats and gain_step == CalibrationProduct.GAIN:
            steps.append(
                cls._generated(CalibrationProduct.GAIN, instrument, options, inputs, report_gains=True)
            )
        return cls(tuple(steps))

    @staticmethod
    def _generated(
        product: CalibrationProduct,
        instrument: str,
        options: Mapping[str, tuple[str, ...]],
        inputs: Mapping[str, tuple[str, ...]],
        *,
        after: tuple[str, ...] = (),
        calib_collection: str = "",
        certify: bool = False,
        report_gains: bool = False,
    ) -> ProcessingStep:
        """A step that only generates (defects, PTC, gains)."""
        return ProcessingStep(
            name=product,
            images=product.image_types,
            after=after,
            generate=True,
            pipeline=_pipeline("CP_PIPE_DIR", instrument, product.pipeline),
            config_options=options[product.config_options_option],
            input_collections=((calib_collection,) if after else ())
            + inputs[product.input_collections_option],
            certify=certify,
            dataset_type=product.dataset_type,
            report_gains=report_gains,
        )

    @property
    def certifies(self) -> bool:
        """True if some step certifies its product."""
        return any(step.certify for step in self.steps)

    def step(self, name: str) -> ProcessingStep:
        """Return the step of that name.

        Raises
        ------
        KeyError
            If there is no such step.
        """
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"no processing step {name!r} in this run (steps: {[s.name for s in self.steps]})")

    def dependents(self, name: str) -> tuple[str, ...]:
        """Return the steps that depend on ``name``, directly or not (in order): those it blocks."""
        blocked = {name}
        result = []
        for step in self.steps:
            if any(dep in blocked for dep in step.after):
                blocked.add(step.name)
                result.append(step.name)
        return tuple(result)

    def steps_ready(
        self, taken: Collection[str], accepted: Collection[str], started: Collection[str] = ()
    ) -> tuple[ProcessingStep, ...]:
        """Return the steps whose images are taken and whose dependencies are accepted, not yet started."""
        return tuple(
            step
            for step in self.steps
            if step.name not in started
            and all(image_type in taken for image_type in step.images)
            and all(dep in accepted for dep in step.after)
        )

    def longest_chains(self) -> dict[str, int]:
        """Return, per step, the number of jobs on the longest chain of steps ending with it."""
        chain: dict[str, int] = {}
        for step in self.steps:
            previous = max((chain.get(dep, 0) for dep in step.after), default=0)
            chain[step.name] = previous + len(step.jobs)
        return chain


def _pipeline(variable: str, instrument: str, name: str) -> str:
    """Pipeline URL: ``${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml`` (a ``#subset`` kept at the end)."""
    file, _, subset = name.partition("#")
    return f"${{{variable}}}/pipelines/{instrument}/{file}.yaml" + (f"#{subset}" if subset else "")


def _isr_options(arguments: Sequence[str]) -> tuple[str, ...]:
    """Keep the ``isr`` configuration options (the label the verification pipelines share)."""
    kept: list[str] = []
    for name, value in zip(arguments, arguments[1:], strict=False):
        if name in ("-c", "--config", "-C", "--config-file") and value.startswith("isr:"):
            kept.extend((name, value))
    return tuple(kept)
