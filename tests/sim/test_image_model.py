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

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lsst.ts.calibrations.repo.camera import AMP_NAMES, REDUCED_GEOMETRY, Camera
from lsst.ts.calibrations.repo.raw import RAW_REQUIRED_KEYS, RawImage, read_raw, write_raw
from lsst.ts.calibrations.sim.image_model import NO_FILTER, ImageModel
from lsst.ts.calibrations.sim.sensor_model import SensorModel
from lsst.ts.calibrations.sim.sensor_parameters import SensorParameters

GEOMETRY = REDUCED_GEOMETRY
DAY_OBS = 20241024
# No per-exposure bias offset, so levels compare exactly with the truth.
QUIET_BIAS = {"bias": {"exposure_jitter": 0.0}}


def make_model(seed: int = 11, values: dict[str, Any] | None = None) -> ImageModel:
    parameters = SensorParameters(values or {}, source="test")
    return ImageModel(SensorModel(parameters, seed), GEOMETRY)


def corrected(raw: RawImage, amp: str) -> np.ndarray:
    """Data minus the mean of each row's serial overscan, ADU (readout order)."""
    overscan = raw.serial_overscan(amp).astype(float)
    return raw.data(amp).astype(float) - overscan.mean(axis=1, keepdims=True)


def assembled_electrons(raw: RawImage, model: ImageModel) -> np.ndarray:
    """Overscan-corrected data of every amplifier in e⁻, assembled."""
    truth = model.sensor_model.detector_truth(raw.detector.id, GEOMETRY)
    parts = {amp: corrected(raw, amp) * truth.amps[amp].gain for amp in AMP_NAMES}
    return raw.detector.assemble(parts, GEOMETRY)


def test_deterministic_regardless_of_order() -> None:
    exposures = [("BIAS", 0.0, None, 1, 0), ("DARK", 60.0, None, 2, 4), ("FLAT", 2.0, "r_03", 3, 8)]
    first = make_model(seed=3)
    images = [
        first.make_raw(d, image_type=t, exposure_time=e, physical_filter=f, day_obs=DAY_OBS, seq_num=s)
        for t, e, f, s, d in exposures
    ]
    second = make_model(seed=3)
    second.sensor_model.detector_truth(5, GEOMETRY)
    for (t, e, f, s, d), image in reversed(list(zip(exposures, images))):
        again = second.make_raw(
            d, image_type=t, exposure_time=e, physical_filter=f, day_obs=DAY_OBS, seq_num=s
        )
        for amp in AMP_NAMES:
            np.testing.assert_array_equal(again.amp_data[amp], image.amp_data[amp])
        assert again.header == image.header
    # Another exposure or seed gives other pixels.
    other = first.make_raw(0, image_type="BIAS", exposure_time=0.0, day_obs=DAY_OBS, seq_num=9)
    assert not np.array_equal(other.amp_data["C10"], images[0].amp_data["C10"])
    reseeded = make_model(seed=4).make_raw(
        0, image_type="BIAS", exposure_time=0.0, day_obs=DAY_OBS, seq_num=1
    )
    assert not np.array_equal(reseeded.amp_data["C10"], images[0].amp_data["C10"])


def test_raw_format_and_header(tmp_path: Path) -> None:
    model = make_model()
    raw = model.make_raw(
        "R22_S12",
        image_type="flat",
        exposure_time=1.5,
        dark_time=1.7,
        physical_filter="g_01",
        day_obs=DAY_OBS,
        seq_num=123,
        header={"GROUPID": "2024-10-24T20:00:00.000", "PROGRAM": "BLOCK-T123", "OBSANNOT": "a note"},
    )
    assert set(raw.amp_data) == set(AMP_NAMES)
    assert all(a.dtype == np.int32 and a.shape == GEOMETRY.raw_shape for a in raw.amp_data.values())
    header = raw.header
    for key in RAW_REQUIRED_KEYS + (
        "TELESCOP", "DATE-END", "MJD-OBS", "DARKTIME", "GROUPID", "FILTER", "CCDSLOT", "RAFTBAY",
        "CCD_MANU", "CCD_TYPE", "LSST_NUM", "TESTTYPE", "PROGRAM", "REASON", "OBSANNOT", "CONTRLLR",
        "EMULATED", "SIMULATE", "TIMESYS",
    ):  # fmt: skip
        assert key in header, key
    assert header["INSTRUME"] == "LSSTComCam"
    assert header["OBSID"] == "CC_O_20241024_000123"
    assert header["DAYOBS"] == "20241024" and header["SEQNUM"] == 123
    assert header["DETECTOR"] == 5 and header["CCDSLOT"] == "S12" and header["RAFTBAY"] == "R22"
    assert header["CCD_MANU"] == "ITL" and header["LSST_NUM"] == Camera.instance()[5].serial
    assert header["IMGTYPE"] == "FLAT" and header["FILTER"] == "g_01"
    assert header["EXPTIME"] == 1.5 and header["DARKTIME"] == 1.7
    assert header["PROGRAM"] == "BLOCK-T123" and header["OBSANNOT"] == "a note"
    assert header["CONTRLLR"] == "O" and header["SIMULATE"] is True
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", header["DATE-OBS"])
    assert header["DATE-END"] > header["DATE-OBS"]
    assert header["MJD-OBS"] == pytest.approx(60607.75 + 122 * 60 / 86400)
    write_raw(tmp_path / "raw.fits", raw)
    back = read_raw(tmp_path / "raw.fits")
    assert back.geometry == GEOMETRY
    assert back.header["OBSID"] == header["OBSID"]
    np.testing.assert_array_equal(back.amp_data["C03"], raw.amp_data["C03"])
    bias = model.make_raw(0, image_type="BIAS", exposure_time=0.0, day_obs=DAY_OBS, seq_num=1)
    assert bias.header["FILTER"] == NO_FILTER


def test_no_filter_name_matches_instrument() -> None:
    from lsst.ts.calibrations.repo.instrument import EMPTY_FILTER

    assert NO_FILTER == EMPTY_FILTER


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"image_type": "SKY"}, "image_type='SKY' is not a ComCam image type"),
        ({"exposure_time": -1.0}, "exposure_time=-1.0 must be >= 0 s"),
        ({"dark_time": -1.0}, "dark_time=-1.0 must be >= 0 s"),
        ({"seq_num": 0}, "seq_num=0 must be in 1-99999"),
        ({"day_obs": 20241399}, "day_obs=20241399 must be a date YYYYMMDD"),
        ({"image_type": "FLAT", "physical_filter": "x_01"}, "physical_filter='x_01' has no flat.flux"),
    ],
)
def test_bad_exposure_arguments(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = dict(image_type="DARK", exposure_time=1.0, day_obs=DAY_OBS, seq_num=1)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=re.escape(message)):
        make_model().make_raw(0, **arguments)


def test_bias_level_read_noise_and_structure() -> None:
    # Strong row and column structure, to see the overscans remove it.
    model = make_model(values={"bias": {"exposure_jitter": 0.0, "row_noise": 5.0, "column_pattern": 3.0}})
    truth = model.sensor_model.detector_truth(2, GEOMETRY)
    biases = [
        model.make_raw(2, image_type="BIAS", exposure_time=0.0, day_obs=DAY_OBS, seq_num=s) for s in (1, 2)
    ]
    n_overscan = GEOMETRY.serial_overscan
    for amp in AMP_NAMES:
        values = truth.amps[amp]
        sigma = values.read_noise / values.gain
        # Bias level from the overscan, away from the start-of-readout excess.
        overscan = biases[0].serial_overscan(amp)[100:].astype(float)
        error = np.sqrt(5.0**2 / overscan.shape[0] + sigma**2 / overscan.size)
        assert overscan.mean() == pytest.approx(values.bias_level, abs=4 * error)
        # Read noise in the overscan, once each row's level is removed.
        full_overscan = biases[0].serial_overscan(amp).astype(float)
        rows_removed = full_overscan - full_overscan.mean(axis=1, keepdims=True)
        measured = rows_removed.std() * np.sqrt(n_overscan / (n_overscan - 1))
        assert measured == pytest.approx(np.sqrt(sigma**2 + 1 / 12), rel=0.04)
        # Read noise in the data: the difference of two overscan-corrected biases.
        difference = corrected(biases[0], amp) - corrected(biases[1], amp)
        expected = np.sqrt(2 * (sigma**2 + 1 / 12) * (1 + 1 / n_overscan))
        assert difference.std() == pytest.approx(expected, rel=0.03)
        # The serial overscan carries the row structure: without it, row means scatter more.
        data = biases[0].data(amp).astype(float)
        raw_row_scatter = data.mean(axis=1).std()
        corrected_row_scatter = corrected(biases[0], amp).mean(axis=1).std()
        assert corrected_row_scatter < 0.7 * raw_row_scatter
        assert corrected_row_scatter == pytest.approx(
            sigma * np.sqrt(1 / GEOMETRY.nx + 1 / n_overscan), rel=0.2
        )
        # The parallel overscan carries the column structure.
        column_means = corrected(biases[0], amp).mean(axis=0)
        parallel = biases[0].parallel_overscan(amp).astype(float)
        parallel -= biases[0].amp_data[amp][GEOMETRY.ny :, -n_overscan:].mean(axis=1, keepdims=True)
        residual = column_means - parallel.mean(axis=0)
        assert column_means.std() > 1.0
        assert residual.std() < sigma * 0.6


def test_dark_current_from_long_darks() -> None:
    model = make_model(values=QUIET_BIAS)
    truth = model.sensor_model.detector_truth(1, GEOMETRY)
    dark_time = 1000.0
    bias = assembled_electrons(
        model.make_raw(1, image_type="BIAS", exposure_time=0.0, day_obs=DAY_OBS, seq_num=1), model
    )
    dark_raw = model.make_raw(1, image_type="DARK", exposure_time=dark_time, day_obs=DAY_OBS, seq_num=2)
    dark = assembled_electrons(dark_raw, model)
    y, x, _, _ = model.cosmic_ray_hits(1, image_type="DARK", dark_time=dark_time, day_obs=DAY_OBS, seq_num=2)
    good = ~truth.defect_mask()
    good[y, x] = False
    signal = dark - bias  # removes the fixed column pattern
    detector = Camera.instance()[1]
    for amp in detector.amps:
        area = amp.detector_slice(GEOMETRY)
        values = truth.amps[amp.name]
        current = signal[area][good[area]].mean() / dark_time
        # Each image's overscan correction is common to a row: it averages over
        # the overscan pixels only.
        n_overscan = GEOMETRY.serial_overscan * GEOMETRY.ny
        error = np.sqrt(2 * values.read_noise**2 * (1 / good[area].sum() + 1 / n_overscan)) / dark_time
        assert current == pytest.approx(values.dark_current, abs=5 * error + 2e-5)
    # Hot pixels carry their own dark current.
    # Hot pixels carry their own dark current, up to the full well.
    hot = signal[truth.hot_pixels[:, 1], truth.hot_pixels[:, 0]]
    full_well = np.array([truth.amps[_amp_at(detector, x, y).name].full_well for x, y in truth.hot_pixels])
    expected = np.minimum(truth.hot_pixel_current * dark_time, full_well)
    assert np.any(expected == full_well) and np.any(expected < full_well)
    np.testing.assert_allclose(hot, expected, rtol=0.02, atol=100)


def _amp_at(detector: Any, x: int, y: int) -> Any:
    return next(amp for amp in detector.amps if amp.ix == x // GEOMETRY.nx and amp.iy == y // GEOMETRY.ny)


@pytest.mark.parametrize("brighter_fatter", [False, True])
def test_flat_mean_and_photon_transfer(brighter_fatter: bool) -> None:
    model = make_model(values={"brighter_fatter": {"enabled": brighter_fatter}})
    truth = model.sensor_model.detector_truth(4, GEOMETRY)
    exposure_time = 4.0  # 20 ke- in r_03
    flats = [
        model.make_raw(
            4,
            image_type="FLAT",
            exposure_time=exposure_time,
            physical_filter="r_03",
            day_obs=DAY_OBS,
            seq_num=s,
        )
        for s in (10, 11)
    ]
    good = ~truth.defect_mask()
    detector = Camera.instance()[4]
    for amp in detector.amps:
        values = truth.amps[amp.name]
        in_amp = amp.to_readout(good[amp.detector_slice(GEOMETRY)])
        first, second = (corrected(f, amp.name) for f in flats)
        mean = (first[in_amp].mean() + second[in_amp].mean()) / 2
        mean_e = 5000.0 * exposure_time * values.flat_response_mean
        assert mean * values.gain == pytest.approx(mean_e, rel=2e-3)
        # Variance of the difference removes the fixed pattern (PRNU, columns).
        variance = (first - second)[in_amp].var() / 2
        noise_adu = (values.read_noise / values.gain) ** 2 + 1 / 12
        if brighter_fatter:
            a00 = values.a00
            shot_e = np.expm1(2 * a00 * mean_e) / (2 * a00)
            assert shot_e < 0.97 * mean_e
        else:
            shot_e = mean_e
        expected = shot_e / values.gain**2 + noise_adu * (1 + 1 / GEOMETRY.serial_overscan)
        assert variance == pytest.approx(expected, rel=0.03)


def test_saturation_and_adc_clipping() -> None:
    model = make_model(values=QUIET_BIAS)
    truth = model.sensor_model.detector_truth(0, GEOMETRY)
    raw = model.make_raw(
        0, image_type="FLAT", exposure_time=100.0, physical_filter="r_03", day_obs=DAY_OBS, seq_num=5
    )
    good = ~truth.defect_mask()
    for amp in Camera.instance()[0].amps:
        values = truth.amps[amp.name]
        in_amp = amp.to_readout(good[amp.detector_slice(GEOMETRY)])
        data = corrected(raw, amp.name)[in_amp]
        # Every pixel holds a full well: no photon noise is left, only read noise.
        assert np.median(data) == pytest.approx(values.full_well / values.gain, abs=1.0)
        assert data.std() < 2 * values.read_noise / values.gain
    clipped = make_model(values={"saturation": {"adc_max": 60000}}).make_raw(
        0, image_type="FLAT", exposure_time=100.0, physical_filter="r_03", day_obs=DAY_OBS, seq_num=5
    )
    data = clipped.data("C10")
    assert data.max() == 60000
    assert np.mean(data == 60000) > 0.9


def test_defects_where_the_truth_says() -> None:
    model = make_model(values=QUIET_BIAS)
    truth = model.sensor_model.detector_truth(6, GEOMETRY)
    flat = assembled_electrons(
        model.make_raw(
            6, image_type="FLAT", exposure_time=4.0, physical_filter="r_03", day_obs=DAY_OBS, seq_num=1
        ),
        model,
    )
    response = model.sensor_model.flat_response(6, GEOMETRY)
    clean = flat / np.where(truth.defect_mask(), 1.0, response)
    level = np.median(clean)
    # Cold pixels and bad columns are low by their response; nothing else is.
    cold = flat[truth.cold_pixels[:, 1], truth.cold_pixels[:, 0]] / level
    neighbours = np.array(
        [np.median(flat[max(y - 2, 0) : y + 3, max(x - 2, 0) : x + 3]) for x, y in truth.cold_pixels]
    )
    np.testing.assert_allclose(cold * level / neighbours, truth.cold_pixel_response, atol=0.05)
    for (x, y0, y1), factor in zip(truth.bad_columns, truth.bad_column_response):
        column = np.median(flat[y0 : y1 + 1, x])
        beside = np.median(flat[y0 : y1 + 1, x + 1])
        assert column / beside == pytest.approx(factor, abs=0.03)
    low = flat / level < 0.85
    assert np.array_equal(low, truth.defect_mask() & ~_hot_mask(truth))


def _hot_mask(truth: Any) -> np.ndarray:
    mask = np.zeros(truth.detector_shape, dtype=bool)
    mask[truth.hot_pixels[:, 1], truth.hot_pixels[:, 0]] = True
    return mask


def test_cosmic_rays_only_where_expected() -> None:
    values = {"cosmic_rays": {"rate": 20.0}, **QUIET_BIAS}
    model = make_model(values=values)
    truth = model.sensor_model.detector_truth(7, GEOMETRY)
    dark_time = 60.0
    kwargs: dict[str, Any] = dict(day_obs=DAY_OBS, seq_num=3)
    y, x, electrons, hits = model.cosmic_ray_hits(7, image_type="DARK", dark_time=dark_time, **kwargs)
    sizes = np.bincount(np.bincount(hits))
    assert sizes[1] > 0 and sizes[2] > 0 and sizes[3] > 0
    # Hits on the edge may lose pixels; no hit has more than three.
    assert len(sizes) == 4
    bias = assembled_electrons(
        model.make_raw(7, image_type="BIAS", exposure_time=0.0, day_obs=DAY_OBS, seq_num=1), model
    )
    dark = assembled_electrons(model.make_raw(7, image_type="DARK", exposure_time=dark_time, **kwargs), model)
    bright = (dark - bias) > 300.0
    bright[truth.hot_pixels[:, 1], truth.hot_pixels[:, 0]] = False
    expected = np.zeros_like(bright)
    expected[y, x] = True
    expected[truth.hot_pixels[:, 1], truth.hot_pixels[:, 0]] = False
    assert expected.sum() > 50
    assert np.array_equal(bright, expected)
    # No cosmic rays on biases or short flats; long exposures of other types get them.
    assert len(model.cosmic_ray_hits(7, image_type="BIAS", dark_time=0.0, **kwargs)[0]) == 0
    assert len(model.cosmic_ray_hits(7, image_type="FLAT", dark_time=5.0, **kwargs)[0]) == 0
    assert len(model.cosmic_ray_hits(7, image_type="OBJECT", dark_time=30.0, **kwargs)[0]) > 0
    short_flat = model.make_raw(7, image_type="FLAT", exposure_time=5.0, physical_filter="r_03", **kwargs)
    assert short_flat.header["IMGTYPE"] == "FLAT"


def test_every_image_type() -> None:
    model = make_model()
    for seq_num, image_type in enumerate(("OBJECT", "ENGTEST", "ACQ", "CWFS", "SFLAT"), start=1):
        raw = model.make_raw(
            0,
            image_type=image_type,
            exposure_time=1.0,
            physical_filter="i_06",
            day_obs=DAY_OBS,
            seq_num=seq_num,
        )
        assert raw.header["IMGTYPE"] == image_type
        assert corrected(raw, "C10").mean() > 3000
