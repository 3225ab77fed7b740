"""Synthetic raw images with known content for the ISR and calibration tests."""

from collections.abc import Mapping

import numpy as np

from lsst.ts.calibrations.repo.camera import REDUCED_GEOMETRY, AmpGeometry, Camera
from lsst.ts.calibrations.repo.raw import RawImage, make_header


def make_raw(
    signal_e: np.ndarray,
    *,
    detector_id: int = 0,
    geometry: AmpGeometry = REDUCED_GEOMETRY,
    bias_level: float = 20_000.0,
    row_amplitude: float = 0.0,
    read_noise_adu: float = 0.0,
    gains: Mapping[str, float] | None = None,
    seed: int = 1,
    imgtype: str = "FLAT",
    exptime: float = 1.0,
    darktime: float | None = None,
    seqnum: int = 1,
    physical_filter: str = "r_03",
) -> tuple[RawImage, dict[str, np.ndarray]]:
    """Return a raw whose data areas hold ``signal_e`` (assembled detector, e⁻)
    converted with ``gains`` (nominal by default), plus a bias level with a
    row-structure ramp and sine over every row of the segment, and Gaussian
    read noise. Also returns the row structure added to each amplifier.
    """
    detector = Camera.instance()[detector_id]
    rng = np.random.default_rng(seed)
    gains = gains or {amp.name: amp.nominal_gain for amp in detector.amps}
    parts = detector.split(np.asarray(signal_e, dtype=np.float64), geometry)
    amp_data = {}
    rows_added = {}
    n_rows = geometry.raw_shape[0]
    for i, amp in enumerate(detector.amps):
        segment = np.zeros(geometry.raw_shape)
        segment[geometry.data_slice] = parts[amp.name] / gains[amp.name]
        rows = row_amplitude * (
            np.sin(np.arange(n_rows) / (7.0 + i)) + np.linspace(-1, 1, n_rows) ** 2
        ) + rng.normal(0.0, row_amplitude / 3.0 if row_amplitude else 0.0, n_rows)
        segment += bias_level + 10 * i + rows[:, np.newaxis]
        segment += rng.normal(0.0, read_noise_adu, segment.shape) if read_noise_adu else 0.0
        amp_data[amp.name] = np.round(segment).astype(np.int32)
        rows_added[amp.name] = rows
    header = make_header(
        {
            "INSTRUME": "LSSTComCam",
            "DETECTOR": detector_id,
            "IMGTYPE": imgtype,
            "EXPTIME": exptime,
            "DARKTIME": exptime if darktime is None else darktime,
            "DATE-OBS": "2024-10-24T03:00:00.000",
            "OBSID": f"CC_O_20241024_{seqnum:06d}",
            "DAYOBS": 20241024,
            "SEQNUM": seqnum,
            "FILTER": physical_filter,
        }
    )
    return RawImage(header=header, amp_data=amp_data, geometry=geometry), rows_added
