"""LSSTCam and LATISS camera groups on their simulated observatories; the simulator picks the instrument."""

import pathlib
from collections.abc import AsyncIterator

import pytest
from astropy.io import fits

from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations.observatory import LATISS, BaseCamera, ComCam, LSSTCam
from lsst.ts.calibrations.repo.camera import Camera
from lsst.ts.calibrations.sal.run_one_script import make_observatory, parse_args
from lsst.ts.calibrations.sim.observatory import SimulatedObservatory
from lsst.ts.calibrations.sim.observatory_process import ObservatoryProcess
from lsst.ts.calibrations.sim.run_comcam_sim import make_parser as make_sim_parser
from lsst.ts.calibrations.sim.simulated_observatory_provider import (
    check_simulator_arguments,
    instrument_of_script,
    make_simulated_observatory,
)

SCRIPTS = pathlib.Path(__file__).parents[2] / "python/lsst/ts/calibrations/data/scripts"
LATISS_SCRIPT = SCRIPTS / "auxtel" / "make_latiss_calibrations.py"
LSSTCAM_SCRIPT = SCRIPTS / "maintel" / "make_lsstcam_calibrations.py"


@pytest.mark.parametrize(
    ("camera_class", "instrument"), [(ComCam, "LSSTComCam"), (LSSTCam, "LSSTCam"), (LATISS, "LATISS")]
)
def test_detector_names_are_the_camera_descriptions(camera_class: type, instrument: str) -> None:
    # The observatory layer imports only SAL; its names must be the repository's.
    assert camera_class.detector_names() == tuple(d.name for d in Camera.instance(instrument).detectors)


@pytest.mark.parametrize(
    ("camera_class", "components", "setup"),
    [
        (ComCam, ["CCCamera", "CCHeaderService", "CCOODS"], {"filter"}),
        (LSSTCam, ["MTCamera", "MTHeaderService", "MTOODS"], {"filter"}),
        (
            LATISS,
            ["ATCamera", "ATSpectrograph", "ATHeaderService", "ATOODS"],
            {"filter", "grating", "linear_stage"},
        ),
    ],
)
async def test_groups_declare_their_components(
    camera_class: type[BaseCamera], components: list[str], setup: set[str]
) -> None:
    # ts_observatory_control's constructor (domain, log, intended_usage); the camera first.
    async with camera_class(None, None, None) as camera:
        assert camera.components == components
        assert camera.instrument_setup_attributes == setup
        assert camera.camera is getattr(camera.rem, components[0].lower())
    topics = camera_class.remote_topics
    assert set(topics) == set(components)
    assert {"startIntegration", "endReadout", "ccsCommandState"} <= set(topics[components[0]])
    assert ("endSetFilter" in topics[components[0]]) == (camera_class is not LATISS)
    assert topics[components[-1]] == ("imageInOODS",)


def test_science_detectors_of_lsstcam() -> None:
    assert LSSTCam.science_detector_ids() == Camera.instance("LSSTCam").science_detector_ids


def test_the_script_chooses_the_observatory(tmp_path: pathlib.Path) -> None:
    assert instrument_of_script(str(LATISS_SCRIPT)) == "LATISS"
    assert instrument_of_script(str(LSSTCAM_SCRIPT)) == "LSSTCam"
    assert instrument_of_script("take_bias_script.py") is None
    repo = str(tmp_path / "repo")
    namespace = parse_args([str(LATISS_SCRIPT), "--simulate", "--repo", repo])
    observatory = make_simulated_observatory(namespace)
    assert observatory.instrument == "LATISS" and observatory.repo_alias == "/repo/LATISS"
    assert observatory.components.names == [
        "ATCamera",
        "ATHeaderService",
        "ATOODS",
        "ATSpectrograph",
        "OCPS:1",
    ]
    # As its own process (DDS), run_comcam_sim is told the instrument.
    process = make_observatory(namespace, "dds")
    assert isinstance(process, ObservatoryProcess)
    assert process.args[-2:] == ["--instrument", "LATISS"]
    sim_parser = make_sim_parser()
    sim_namespace = sim_parser.parse_args(process.args)
    check_simulator_arguments(sim_parser, sim_namespace)
    assert make_simulated_observatory(sim_namespace).instrument == "LATISS"
    # --instrument wins over the script's name.
    namespace = parse_args([str(LATISS_SCRIPT), "--simulate", "--repo", repo, "--instrument", "LSSTCam"])
    assert make_simulated_observatory(namespace).components.ocps_index == 3


@pytest.fixture
async def latiss(tmp_path: pathlib.Path) -> AsyncIterator[tuple[SimulatedObservatory, LATISS]]:
    async with (
        SimulatedObservatory(
            tmp_path / "repo", time_scale=0.01, date="2024-10-24", instrument="LATISS", ocps=False
        ) as observatory,
        LATISS() as latiss,
    ):
        yield observatory, latiss


async def test_latiss_spectrograph_setup_and_flats(latiss: tuple[SimulatedObservatory, LATISS]) -> None:
    observatory, camera = latiss
    await camera.assert_all_enabled()
    filters, gratings, stage = await camera.get_available_instrument_setup()
    assert filters[2] == "SDSSr_65mm" and gratings[1] == "holo4_003" and stage == [0.0, 75.0]
    # The r filter is in the beam at start, as the reference flats are made: the daily default's
    # flats verify against them without a filter in the configuration.
    assert await camera.get_setup() == ("SDSSr_65mm", "empty", 0.0)
    assert camera.filter_in_place() == "SDSSr_65mm~empty"  # LATISS's physical filter: filter~grating
    ids = await camera.take_flats(1.0, 2, filter="SDSSr_65mm", grating=1, linear_stage=20.0)
    assert await camera.get_setup() == ("SDSSr_65mm", "holo4_003", 20.0)
    assert camera.filter_in_place() == "SDSSr_65mm~holo4_003"
    await camera.wait_for_oods(ids, timeout=STD_TIMEOUT)
    assert ids == [2024102400001, 2024102400002]
    assert set(camera.oods_status) == {"AT_O_20241024_000001", "AT_O_20241024_000002"}
    (raw,) = observatory.raw_store.raw_files("AT_O_20241024_000002")
    header = fits.getheader(raw)
    assert (header["INSTRUME"], header["FILTER"], header["GRATING"]) == ("LATISS", "SDSSr_65mm", "holo4_003")
    assert header["DETNAME"] == "RXX_S00" and header["TELESCOP"] == "Rubin Auxiliary Telescope"
    with pytest.raises(RuntimeError, match="ATSpectrograph.changeFilter.*not on the wheel"):
        await camera.setup_atspec(filter="u_24")
    with pytest.raises(RuntimeError, match="Invalid argument"):
        await camera.take_flats(1.0, 1, focus=1.0)
    with pytest.raises(RuntimeError, match="are not LATISS sensors"):
        await camera.take_bias(1, sensors="R22_S11")


@pytest.mark.slow
async def test_lsstcam_takes_a_raft(tmp_path: pathlib.Path) -> None:
    detectors = [90, 94, 0]  # two e2v sensors of R22, one ITL of R01
    async with (
        SimulatedObservatory(
            tmp_path / "repo",
            time_scale=0.01,
            date="2024-10-24",
            instrument="LSSTCam",
            detectors=detectors,
            ocps=False,
        ) as observatory,
        LSSTCam() as camera,
    ):
        assert await camera.get_current_filter() == "r_57"
        await camera.setup_filter("g_6")
        assert camera.filter_in_place() == "g_6"
        ids = await camera.take_bias(1, sensors="R22_S00:R22_S11")
        await camera.wait_for_oods(ids, ["R22_S00", "R22_S11"], timeout=STD_TIMEOUT)
        files = observatory.raw_store.raw_files("MT_O_20241024_000001")
        assert [f.name.removeprefix("MT_O_20241024_000001_") for f in files] == [
            "R22_S00.fits",
            "R22_S11.fits",
        ]
        header = fits.getheader(files[1])
        assert (header["CCD_MANU"], header["CCD_TYPE"], header["PRESCAN"]) == ("E2V", "CCD250", 10)
        assert fits.getheader(files[1], 1)["DATASEC"] == "[11:138,1:258]"
        ids = await camera.take_flats(1.0, 1)
        await camera.wait_for_oods(ids, detectors, timeout=STD_TIMEOUT)
        itl = observatory.raw_store.raw_path("MT_O_20241024_000002", "R01_S00")
        assert fits.getheader(itl, 1)["DATASEC"] == "[4:131,1:256]"
        assert fits.getheader(itl)["FILTER"] == "g_6"
