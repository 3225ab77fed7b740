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

"""ProcessingGraph: steps and dependencies from a run's choices, without a configuration."""

from lsst.ts.calibrations.repo.image_type import ImageType
from lsst.ts.calibrations.scripts.calibration_product import CalibrationProduct
from lsst.ts.calibrations.scripts.processing_graph import ProcessingGraph

OPTIONS = {
    f"config_options_{stem}": ("-c", "isr:doDefect=False", "-c", f"{stem}:x=1")
    for stem in ("bias", "dark", "flat", "defects", "ptc")
}
INPUTS = {
    name: ("LSSTComCam/calib",)
    for name in [f"input_collections_{stem}" for stem in ("bias", "dark", "flat", "defects", "ptc")]
    + [f"input_collections_verify_{stem}" for stem in ("bias", "dark", "flat")]
}
THRESHOLDS = {image_type: 8 for image_type in ImageType.calibration_types()}


def build(**choices: object) -> ProcessingGraph:
    arguments: dict = dict(
        instrument="LSSTComCam",
        generate=True,
        verify=True,
        do_defects=True,
        do_ptc=False,
        gain_step="GAIN",
        options=OPTIONS,
        inputs=INPUTS,
        thresholds=THRESHOLDS,
        calib_collection="u/me/calib.1",
    )
    arguments.update(choices)
    return ProcessingGraph.build(ImageType.calibration_types(), **arguments)


def test_generation_graph() -> None:
    graph = build()
    assert [step.name for step in graph.steps] == ["BIAS", "DARK", "FLAT", "DEFECTS", "GAIN"]
    flat = graph.step(CalibrationProduct.FLAT)
    assert flat.after == ("BIAS", "DARK") and flat.input_collections == ("u/me/calib.1", "LSSTComCam/calib")
    # Verification shares only the isr options of the generation.
    assert flat.verify_config_options == ("-c", "isr:doDefect=False")
    assert graph.step("DEFECTS").images == (ImageType.DARK, ImageType.FLAT)
    gain = graph.step("GAIN")
    assert gain.pipeline == "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpPtc.yaml#generateGainFromFlatPair"
    assert gain.config_options == OPTIONS["config_options_ptc"] and gain.dataset_type == "cpPtcExtract"
    assert graph.dependents("BIAS") == ("DARK", "FLAT", "DEFECTS") and graph.certifies
    assert graph.longest_chains()["FLAT"] == 6
    ready = graph.steps_ready(taken={"BIAS", "DARK", "FLAT"}, accepted={"BIAS"}, started={"BIAS"})
    assert [step.name for step in ready] == ["DARK", "DEFECTS", "GAIN"]


def test_no_generation_no_verification() -> None:
    graph = build(generate=False, verify=False, do_defects=False, gain_step="")
    assert graph.steps == () and not graph.certifies
    graph = build(generate=False, do_defects=False, do_ptc=True, gain_step="PTC")
    assert [step.name for step in graph.steps] == ["BIAS", "DARK", "FLAT", "PTC"]
    assert graph.step("PTC").report_gains and graph.step("FLAT").after == ()


def test_jobs_that_run_per_exposure() -> None:
    # Generation runs per exposure; internal verification needs the new product: it does not.
    generation = build()
    assert [kind for kind, *_ in generation.step(CalibrationProduct.FLAT).incremental_jobs()] == ["generate"]
    kind, pipeline, options, inputs = generation.step(CalibrationProduct.DARK).incremental_jobs()[0]
    assert pipeline.endswith("/cpDark.yaml") and inputs == ("u/me/calib.1", "LSSTComCam/calib")
    assert options == OPTIONS["config_options_dark"]
    # External verification runs per exposure, against the collections given.
    verification = build(generate=False, do_defects=False)
    jobs = verification.step(CalibrationProduct.BIAS).incremental_jobs()
    assert [(kind, pipeline.rsplit("/", 1)[-1], inputs) for kind, pipeline, _, inputs in jobs] == [
        ("verify", "verifyBias.yaml", ("LSSTComCam/calib",))
    ]
    assert (
        verification.step(CalibrationProduct.GAIN)
        .incremental_jobs()[0][1]
        .endswith("cpPtc.yaml#generateGainFromFlatPair")
    )
