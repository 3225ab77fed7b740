"""Every pipeline YAML builds into a pipeline graph; the procedure's options apply to them."""

from pathlib import Path

import pytest
from lsst.daf.butler import DimensionUniverse
from lsst.pipe.base import Pipeline
from lsst.pipe.base.pipelineIR import ContractError

from lsst.ts.calibrations.cp.pipeline_paths import PIPELINE_ENV_VARS, PipelinePaths

PATHS = PipelinePaths()
INSTRUMENTS = ("LSSTComCam", "LSSTCam", "LATISS")
# Every instrument's pipelines, then the task graphs they share.
PIPELINE_FILES = [
    path
    for instrument in INSTRUMENTS
    for path in sorted(PipelinePaths(instrument=instrument).pipelines_dir.glob("*.yaml"))
] + sorted((PATHS.pipelines_dir.parent / "_ingredients").glob("*.yaml"))
# Pipelines this package's ISR engineer defines; others' files are built too.
OWN_PIPELINES = {
    "cpBias": {"isr", "cpBiasCombine"},
    "cpDark": {"isr", "cpDark", "cpDarkCombine"},
    "cpFlat": {"isr", "cpFlatMeasure", "cpFlatNormalize", "cpFlatCombine"},
}


@pytest.fixture(autouse=True)
def pipeline_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PATHS.environment().items():
        monkeypatch.setenv(name, value)


def test_own_pipelines_exist() -> None:
    names = {path.stem for path in PIPELINE_FILES}
    assert set(OWN_PIPELINES) <= names
    # Names the procedure document uses.
    assert {"cpPtc", "findDefects", "cpDefects", "verifyBias", "verifyDark", "verifyFlat"} <= names
    assert {f"{name}LSST" for name in OWN_PIPELINES} <= names
    # The same pipelines for each instrument.
    for instrument in INSTRUMENTS:
        own = {path.stem for path in PIPELINE_FILES if path.parent.name == instrument}
        assert {*OWN_PIPELINES, "cpPtc", "findDefects", "verifyBias", "verifyDark", "verifyFlat"} <= own


@pytest.mark.parametrize("path", PIPELINE_FILES, ids=lambda p: p.name)
def test_pipeline_builds(path: Path) -> None:
    graph = Pipeline.from_uri(str(path)).to_graph()
    assert len(graph.tasks) > 0
    if path.stem in OWN_PIPELINES:
        assert set(graph.tasks) == OWN_PIPELINES[path.stem]
    if "isr" in graph.tasks and path.parent.name in INSTRUMENTS:
        # The procedure document's defaults apply to every pipeline with an ISR step.
        pipeline = Pipeline.from_uri(str(path))
        pipeline.addConfigOverride("isr", "doDefect", False)
        pipeline.addConfigOverride("isr", "doCrosstalk", False)
        assert "defects" not in pipeline.to_graph().tasks["isr"].prerequisite_inputs


@pytest.mark.parametrize("subset", ["generateGainFromFlatPair", "cpPtcGainFromFlatPairs"])
def test_procedure_subsets_build(subset: str) -> None:
    graph = Pipeline.from_uri(PATHS.pipeline("cpPtc", subset=subset)).to_graph()
    assert "isr" in graph.tasks and "cpExtract" in graph.tasks


@pytest.mark.parametrize("name", sorted(OWN_PIPELINES))
def test_procedure_options_and_dataset_types(name: str) -> None:
    pipeline = Pipeline.from_uri(PATHS.pipeline(name))
    # The procedure document's defaults.
    pipeline.addConfigOverride("isr", "doDefect", False)
    pipeline.addConfigOverride("isr", "doCrosstalk", False)
    graph = pipeline.to_graph()
    graph.resolve(dimensions=DimensionUniverse())
    outputs = {node.name for node in graph.dataset_types.values() if graph.producer_of(node.name)}
    expected = {
        "cpBias": {"cpBiasIsrExp", "bias"},
        "cpDark": {"cpDarkIsrExp", "cpDarkRemoveCRIsrExp", "dark"},
        "cpFlat": {"cpFlatIsrExp", "cpFlatStatistics", "cpFlatNormalizeScales", "flat"},
    }[name]
    assert expected <= outputs
    final = {"cpBias": "bias", "cpDark": "dark", "cpFlat": "flat"}[name]
    node = graph.dataset_types[final]
    assert node.is_calibration
    expected_dims = {"instrument", "detector"} | ({"physical_filter"} if name == "cpFlat" else set())
    assert set(node.dimensions.required) == expected_dims
    prerequisites = {"cpBias": set(), "cpDark": {"bias"}, "cpFlat": {"bias", "dark"}}[name]
    assert set(graph.tasks["isr"].prerequisite_inputs) == prerequisites


def test_contracts_reject_inconsistent_overrides() -> None:
    pipeline = Pipeline.from_uri(PATHS.pipeline("cpBias"))
    pipeline.addConfigOverride("cpBiasCombine", "exposureScaling", "DarkTime")
    with pytest.raises(ContractError, match="Biases are combined unscaled"):
        pipeline.to_graph()
    pipeline = Pipeline.from_uri(PATHS.pipeline("cpDark"))
    pipeline.addConfigOverride("isr", "connections.outputExposure", "somethingElse")
    with pytest.raises(ContractError, match="cpDark must mask"):
        pipeline.to_graph()


def test_pipeline_paths(tmp_path: Path) -> None:
    paths = PipelinePaths()
    cp_dir = Path(__file__).resolve().parents[2] / "python" / "lsst" / "ts" / "calibrations" / "cp"
    assert paths.package_dir == cp_dir
    assert set(paths.environment()) == set(PIPELINE_ENV_VARS) == {"CP_PIPE_DIR", "CP_VERIFY_DIR"}
    assert paths.resolve("${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml") == str(
        cp_dir / "pipelines" / "LSSTComCam" / "cpBias.yaml"
    )
    assert paths.resolve("$CP_VERIFY_DIR/pipelines/x.yaml#sub") == f"{cp_dir}/pipelines/x.yaml#sub"
    assert paths.resolve("${HOME_UNKNOWN}/a.yaml") == "${HOME_UNKNOWN}/a.yaml"
    assert paths.pipeline("cpBias", subset="isr").endswith("cpBias.yaml#isr")
    with pytest.raises(FileNotFoundError, match="available: .*cpBias"):
        paths.pipeline("cpNothing")
    env = paths.pipeline_environment({"PATH": "/bin"})
    assert env["PATH"] == "/bin" and env["CP_PIPE_DIR"] == str(cp_dir)
    other = PipelinePaths(tmp_path)
    assert other.resolve("${CP_PIPE_DIR}/p.yaml") == f"{tmp_path}/p.yaml"


def test_pipetask_run_args_are_a_list_with_the_documents_options() -> None:
    paths = PipelinePaths()
    args = paths.pipetask_run_args(
        "/repo", paths.pipeline("cpBias"), "u/me/bias", ["LSSTComCam/raw/all", "LSSTComCam/calib"], "a = 1"
    )
    assert Path(args[0]).name == "pipetask" and args[1] == "run"
    assert args[args.index("-i") + 1] == "LSSTComCam/raw/all,LSSTComCam/calib"
    assert args[args.index("-d") + 1] == "a = 1" and "--register-dataset-types" in args
    assert args[-4:] == ["-c", "isr:doDefect=False", "-c", "isr:doCrosstalk=False"]
    assert "-j" not in args
    with_j = paths.pipetask_run_args("/repo", "p.yaml", "o", ["i"], "w", options=(), processes=2)
    assert with_j[-2:] == ["-j", "2"]
