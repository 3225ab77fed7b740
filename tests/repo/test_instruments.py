"""The three instruments' camera descriptions, butler records, raws and repositories."""

from pathlib import Path

import astropy.time
import numpy as np
import pytest

from lsst.ts.calibrations.repo.camera import (
    AMP_NAMES,
    E2V_FULL_GEOMETRY,
    E2V_REDUCED_GEOMETRY,
    FULL_GEOMETRY,
    REDUCED_GEOMETRY,
    AmpGeometry,
    Camera,
    get_geometry,
)
from lsst.ts.calibrations.repo.errors import IngestError, RepositoryError
from lsst.ts.calibrations.repo.ingest import ingest_raws
from lsst.ts.calibrations.repo.instruments import INSTRUMENT_CLASSES, get_instrument
from lsst.ts.calibrations.repo.raw import RawImage, make_header, read_raw, write_raw
from lsst.ts.calibrations.repo.repository import bootstrap_repository, open_repository, raw_run

DAY_OBS = 20260105
ITL_RAFTS = {"R01", "R02", "R03", "R10", "R20", "R41", "R42", "R43"}


def write_raw_of(
    path: Path,
    instrument: str,
    detector: int,
    geometry: AmpGeometry,
    *,
    filter_name: str = "",
    grating: str = "",
) -> Path:
    """Write one reduced raw of an instrument, as its camera would."""
    rng = np.random.default_rng(detector)
    start = astropy.time.Time("2026-01-05T20:00:00", scale="tai")
    values = {
        "INSTRUME": instrument,
        "DETECTOR": detector,
        "IMGTYPE": "FLAT" if filter_name else "BIAS",
        "EXPTIME": 1.0 if filter_name else 0.0,
        "DATE-OBS": start.isot,
        "OBSID": f"XX_O_{DAY_OBS}_000001",
        "DAYOBS": DAY_OBS,
        "SEQNUM": 1,
        "FILTER": filter_name,
        "GRATING": grating,
    }
    amps = {name: rng.integers(900, 1100, size=geometry.raw_shape, dtype=np.int32) for name in AMP_NAMES}
    write_raw(path, RawImage(make_header(values), amps, geometry))
    return path


def test_lsstcam_focal_plane() -> None:
    camera = Camera.instance("LSSTCam")
    science = camera.science_detectors
    assert len(science) == 189
    assert camera.science_detector_ids == tuple(range(189))
    # Ids as obs_lsst's camera description numbers them.
    assert camera["R01_S00"].id == 0
    assert camera["R22_S11"].id == 94
    assert camera[188].name == "R43_S22"
    assert camera[189].name == "R00_SG0" and camera[189].purpose == "GUIDER"
    assert camera[191].name == "R00_SW0" and camera[191].purpose == "WAVEFRONT"
    assert camera[204].name == "R44_SW1"
    assert len(camera.rafts) == 21
    for detector in science:
        assert detector.vendor == ("ITL" if detector.raft in ITL_RAFTS else "E2V"), detector.name
        assert detector.amp_names == AMP_NAMES
    assert camera.vendors == ("ITL", "E2V")
    assert sum(d.vendor == "E2V" for d in science) == 13 * 9
    # Nominal amplifier values are the sensors' own, not one number per vendor.
    e2v = [a.nominal_gain for d in science if d.vendor == "E2V" for a in d.amps]
    assert 1.2 < np.median(e2v) < 1.7 and np.std(e2v) > 0.01
    assert camera["R22_S11"].serial.startswith("E2V-CCD250-")
    assert camera["R01_S00"].serial.startswith("ITL-3800C-")
    with pytest.raises(KeyError, match="LSSTCam has no detector 205"):
        camera[205]


def test_latiss_and_comcam_cameras() -> None:
    latiss = Camera.instance("LATISS")
    assert latiss.detector_ids == (0,)
    assert latiss[0].name == "RXX_S00" and latiss[0].vendor == "ITL"
    assert latiss[0].amp("C10").nominal_gain == pytest.approx(1.0811)
    comcam = Camera.instance()
    assert comcam is Camera.instance("LSSTComCam")
    assert comcam.science_detector_ids == tuple(range(9)) and comcam.vendors == ("ITL",)
    with pytest.raises(ValueError, match="Unknown instrument 'HSC'"):
        Camera.instance("HSC")


def test_vendor_geometries() -> None:
    # The same 576 × 2048 raw segment, split differently.
    assert FULL_GEOMETRY.raw_shape == E2V_FULL_GEOMETRY.raw_shape == (2048, 576)
    assert (E2V_FULL_GEOMETRY.prescan, E2V_FULL_GEOMETRY.nx, E2V_FULL_GEOMETRY.ny) == (10, 512, 2002)
    assert (E2V_FULL_GEOMETRY.serial_overscan, E2V_FULL_GEOMETRY.parallel_overscan) == (54, 46)
    assert get_geometry("reduced", "E2V") is E2V_REDUCED_GEOMETRY
    assert get_geometry("reduced") is REDUCED_GEOMETRY
    assert E2V_REDUCED_GEOMETRY.dimensions != REDUCED_GEOMETRY.dimensions
    assert Camera.instance("LSSTCam")["R22_S11"].geometry("full") is E2V_FULL_GEOMETRY
    with pytest.raises(ValueError, match="vendor"):
        get_geometry("full", "STA")


@pytest.mark.parametrize("geometry", [E2V_REDUCED_GEOMETRY, E2V_FULL_GEOMETRY])
def test_e2v_raw_round_trip(tmp_path: Path, geometry: AmpGeometry) -> None:
    path = write_raw_of(tmp_path / "raw.fits", "LSSTCam", 94, geometry)
    raw = read_raw(path)
    assert raw.geometry is geometry
    assert raw.detector.name == "R22_S11"
    assert raw.data("C10").shape == (geometry.ny, geometry.nx)


def test_dimension_records() -> None:
    assert set(INSTRUMENT_CLASSES) == {"LSSTComCam", "LSSTCam", "LATISS"}
    records = get_instrument("LSSTCam").dimension_records()
    purposes = [r["purpose"] for r in records["detector"]]
    assert (
        purposes.count("SCIENCE") == 189
        and purposes.count("GUIDER") == 8
        and purposes.count("WAVEFRONT") == 8
    )
    assert records["instrument"][0]["detector_max"] == 205
    latiss = get_instrument("LATISS")
    names = {r["name"] for r in latiss.dimension_records()["physical_filter"]}
    assert {"empty~empty", "SDSSr_65mm~empty", "empty~holo4_003"} <= names
    assert latiss.physical_filter_from_header({"FILTER": "SDSSr_65mm", "GRATING": "holo4_003"}) == (
        "SDSSr_65mm~holo4_003"
    )
    assert latiss.physical_filter_from_header({"FILTER": "", "GRATING": "NONE"}) == "empty~empty"
    with pytest.raises(ValueError, match="not an LATISS filter"):
        latiss.physical_filter_from_header({"FILTER": "r_03"})
    with pytest.raises(ValueError, match="Unknown instrument"):
        get_instrument("DECam")


@pytest.mark.parametrize(
    ("instrument", "detector", "geometry", "filter_name", "grating", "physical_filter"),
    [
        ("LATISS", 0, REDUCED_GEOMETRY, "SDSSr_65mm", "empty", "SDSSr_65mm~empty"),
        ("LSSTCam", 94, E2V_REDUCED_GEOMETRY, "r_57", "", "r_57"),
        ("LSSTCam", 0, REDUCED_GEOMETRY, "", "", "empty"),
    ],
)
@pytest.mark.slow
def test_repository_and_ingest_per_instrument(
    tmp_path: Path,
    instrument: str,
    detector: int,
    geometry: AmpGeometry,
    filter_name: str,
    grating: str,
    physical_filter: str,
) -> None:
    root = tmp_path / "repo"
    bootstrap_repository(root, instrument=instrument).close()
    path = write_raw_of(
        tmp_path / "raw.fits", instrument, detector, geometry, filter_name=filter_name, grating=grating
    )
    with open_repository(root, writeable=True, instrument=instrument) as butler:
        (ref,) = ingest_raws(butler, [path], instrument=instrument)
        assert ref.run == raw_run(instrument)
        (record,) = butler.query_dimension_records("exposure", instrument=instrument)
        assert record.physical_filter == physical_filter
        assert butler.get(ref).detector.id == detector
        # A raw of another instrument is refused, naming both.
        with pytest.raises(IngestError, match=f"not {instrument!r}"):
            other = write_raw_of(tmp_path / "other.fits", "LSSTComCam", 0, REDUCED_GEOMETRY)
            ingest_raws(butler, [other], instrument=instrument)
    # A repository is one instrument's.
    with pytest.raises(RepositoryError, match="not LSSTComCam"):
        open_repository(root)
