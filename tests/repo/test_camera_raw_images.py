"""The camera description, the raw file format and the processed image type."""

import numpy as np
import pytest

from lsst.ts.calibrations.repo.camera import (
    AMP_NAMES,
    FULL_GEOMETRY,
    REDUCED_GEOMETRY,
    AmpGeometry,
    Camera,
    get_geometry,
)
from lsst.ts.calibrations.repo.images import MASK_PLANES, Exposure
from lsst.ts.calibrations.repo.raw import RawImage, make_header, read_raw, write_raw


def test_camera_detectors_and_amps() -> None:
    camera = Camera.instance()
    assert camera.detector_ids == tuple(range(9))
    assert [d.name for d in camera.detectors][:4] == ["R22_S00", "R22_S01", "R22_S02", "R22_S10"]
    assert camera["R22_S22"].id == 8
    detector = camera[4]
    assert detector.raft == "R22" and detector.name_in_raft == "S11"
    assert detector.amp_names == AMP_NAMES
    assert AMP_NAMES[0] == "C10" and AMP_NAMES[8] == "C07" and AMP_NAMES[-1] == "C00"
    # Each (ix, iy) cell of the 8 x 2 amplifier grid is used once.
    assert sorted((a.ix, a.iy) for a in detector.amps) == [(x, y) for x in range(8) for y in range(2)]
    for amp in detector.amps:
        assert 1.17 <= amp.nominal_gain <= 1.45
        assert 5 <= amp.nominal_read_noise <= 11
    with pytest.raises(KeyError, match="no detector 9"):
        camera[9]
    with pytest.raises(KeyError, match="no amplifier"):
        detector.amp("C99")


def test_geometry() -> None:
    assert FULL_GEOMETRY.raw_shape == (2048, 576)
    assert FULL_GEOMETRY.detector_shape == (4000, 4072)
    assert REDUCED_GEOMETRY.raw_shape == (264, 147)
    assert get_geometry("reduced") is REDUCED_GEOMETRY
    with pytest.raises(ValueError, match="Unknown geometry 'tiny'"):
        get_geometry("tiny")
    with pytest.raises(ValueError, match="serial_overscan=4 is too small"):
        AmpGeometry(serial_overscan=4)
    assert FULL_GEOMETRY.fits_sections()["DATASEC"] == "[4:512,1:2000]"


def test_assemble_split_round_trip() -> None:
    geometry = REDUCED_GEOMETRY
    detector = Camera.instance()[0]
    image = np.arange(np.prod(geometry.detector_shape), dtype=np.int64).reshape(geometry.detector_shape)
    parts = detector.split(image, geometry)
    np.testing.assert_array_equal(detector.assemble(parts, geometry), image)
    # C10 is read from the top row's far side: its first readout row is the detector's top row.
    c10 = parts["C10"]
    assert c10[0, 0] == image[2 * geometry.ny - 1, 0]
    # C00 is at the bottom right and read from the right.
    c00 = parts["C00"]
    assert c00[0, 0] == image[0, 8 * geometry.nx - 1]


def _raw(rng: np.random.Generator, detector: int = 3) -> RawImage:
    geometry = REDUCED_GEOMETRY
    header = make_header(
        {
            "INSTRUME": "LSSTComCam",
            "DETECTOR": detector,
            "IMGTYPE": "BIAS",
            "EXPTIME": 0.0,
            "DARKTIME": 2.1,
            "DATE-OBS": "2024-10-24T20:00:00.000",
            "OBSID": "CC_O_20241024_000001",
            "DAYOBS": "20241024",
            "SEQNUM": 1,
            "FILTER": "",
        }
    )
    amps = {name: rng.integers(15000, 25000, geometry.raw_shape, dtype=np.int32) for name in AMP_NAMES}
    return RawImage(header=header, amp_data=amps, geometry=geometry)


def test_raw_round_trip(tmp_path) -> None:
    rng = np.random.default_rng(1)
    raw = _raw(rng)
    path = tmp_path / "raw.fits"
    write_raw(path, raw)
    back = read_raw(path)
    assert back.geometry == REDUCED_GEOMETRY
    assert back.header["OBSID"] == "CC_O_20241024_000001"
    assert back.detector.name == "R22_S10"
    assert back.observation_type == "bias" and back.dark_time == 2.1 and back.physical_filter == ""
    for name in AMP_NAMES:
        np.testing.assert_array_equal(back.amp_data[name], raw.amp_data[name])
        assert back.amp_data[name].dtype == np.int32 and back.amp_data[name].dtype.isnative
    assert back.data("C10").shape == REDUCED_GEOMETRY.data_shape
    assert back.serial_overscan("C10").shape == (256, 16)
    assert back.parallel_overscan("C10").shape == (8, 128)
    with pytest.raises(FileExistsError):
        write_raw(path, raw)


def test_raw_errors(tmp_path) -> None:
    bad = tmp_path / "bad.fits"
    bad.write_bytes(b"not a FITS file")
    with pytest.raises(ValueError, match="Cannot read raw file"):
        read_raw(bad)
    with pytest.raises(ValueError, match="lacks \\['SEQNUM'\\]"):
        keys = ("INSTRUME", "DETECTOR", "IMGTYPE", "EXPTIME", "DATE-OBS", "OBSID", "DAYOBS")
        make_header(dict.fromkeys(keys, 1))
    rng = np.random.default_rng(2)
    raw = _raw(rng)
    with pytest.raises(ValueError, match="has shape"):
        RawImage(raw.header, {**raw.amp_data, "C00": np.zeros((3, 3), np.int32)}, raw.geometry)


def test_exposure_accessors() -> None:
    image = np.ones((20, 30))
    exposure = Exposure(image, metadata={"DETECTOR": 4})
    assert exposure.getImage().getArray() is exposure.image.array
    assert exposure.image.array.dtype == np.float32
    assert exposure.getDimensions() == (30, 20)
    assert exposure.detector == 4
    assert exposure.mask_bits("BAD", "SAT") == MASK_PLANES["BAD"] | MASK_PLANES["SAT"]
    clone = exposure.clone()
    clone.image.array[0, 0] = 5
    assert exposure.image.array[0, 0] == 1
    with pytest.raises(ValueError, match="mask shape"):
        Exposure(image, mask=np.zeros((2, 2)))
    with pytest.raises(KeyError, match="Unknown mask plane"):
        exposure.mask_bits("NOPE")
