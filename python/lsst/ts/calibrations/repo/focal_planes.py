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

"""The focal planes of the three cameras, as their camera descriptions give them.

``make_detectors(instrument) -> tuple[DetectorInfo, ...]``
    The detectors of "LSSTComCam", "LATISS" or "LSSTCam", by increasing id.
``INSTRUMENT_NAMES``
    The instruments described.

LSSTComCam
    Raft R22 of nine ITL sensors, R22_S00 = 0 ... R22_S22 = 8 (row-major
    S00, S01, S02, S10, ...); nominal amplifier values drawn once, with a
    fixed seed, in ITL's range (gain 1.17-1.45 e⁻/ADU, read noise
    5.5-10.5 e⁻).
LATISS
    One ITL sensor, RXX_S00 = 0 (ITL-3800C-068), with its measured
    nominal gains and read noise.
LSSTCam
    Science rafts R01 ... R43 (21 rafts; not the corners) of nine sensors
    each, ids ``9 * raft_index + sensor_index`` (R01_S00 = 0, R22_S11 = 94,
    R43_S22 = 188). Rafts R01, R02, R03, R10, R20, R41, R42, R43 are ITL,
    the 13 others e2v. Serials and per-amplifier nominal gain and read
    noise come from ``configs/lsstcam_focal_plane.yaml``. The corner rafts
    R00, R04, R40, R44 carry two guider sensors (SG0, SG1, ITL) and two
    wavefront sensors (SW0, SW1, ITL) each, ids 189 ... 204 in the order
    R00_SG0, R00_SG1, R00_SW0, R00_SW1, R04_SG0, ...; they are listed with
    their purpose ("GUIDER", "WAVEFRONT") and not used by a calibration run
    unless asked for. Their amplifiers carry LSSTCam's median ITL values.
"""

__all__ = ["INSTRUMENT_NAMES", "make_detectors"]

import importlib.resources
import statistics
from collections.abc import Callable

import numpy as np
import yaml

from .camera import AMP_NAMES, DETECTOR_NAMES, DetectorInfo, make_amps

_YamlLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader where PyYAML has it: the LSSTCam description (189 sensors)
takes 0.14 s of CPU with it, 0.9 s with the pure-Python loader, in every process
that describes the LSSTCam focal plane."""

INSTRUMENT_NAMES: tuple[str, ...] = ("LSSTComCam", "LSSTCam", "LATISS")

# LATISS's sensor ITL-3800C-068: (gain e-/ADU, read noise e-) per amplifier.
_LATISS_NOMINAL: dict[str, tuple[float, float]] = {
    "C10": (1.0811, 8.4),
    "C11": (1.0470, 8.5),
    "C12": (1.0795, 8.4),
    "C13": (1.0810, 8.6),
    "C14": (1.0644, 8.4),
    "C15": (1.0669, 8.4),
    "C16": (1.0795, 8.4),
    "C17": (1.0560, 8.0),
    "C07": (1.1033, 8.5),
    "C06": (1.1039, 10.0),
    "C05": (1.1047, 10.3),
    "C04": (1.0840, 9.7),
    "C03": (1.0939, 9.1),
    "C02": (1.0874, 9.4),
    "C01": (1.0933, 9.9),
    "C00": (1.0972, 9.1),
}

_SENSORS_IN_RAFT: tuple[str, ...] = tuple(f"S{row}{col}" for row in range(3) for col in range(3))
_CORNER_RAFTS: tuple[str, ...] = ("R00", "R04", "R40", "R44")
_CORNER_SENSORS: tuple[tuple[str, str], ...] = (
    ("SG0", "GUIDER"),
    ("SG1", "GUIDER"),
    ("SW0", "WAVEFRONT"),
    ("SW1", "WAVEFRONT"),
)


def _comcam() -> tuple[DetectorInfo, ...]:
    detectors = []
    for detector_id, name in enumerate(DETECTOR_NAMES):
        rng = np.random.default_rng(20_190_910 + detector_id)
        nominal = {}
        for amp_name in AMP_NAMES:
            gain = round(float(rng.uniform(1.17, 1.45)), 3)
            read_noise = round(float(rng.uniform(5.5, 10.5)), 2)
            nominal[amp_name] = (gain, read_noise)
        detectors.append(
            DetectorInfo(
                id=detector_id,
                name=name,
                serial=f"ITL-3800C-{229 + detector_id:03d}",
                amps=make_amps("ITL", nominal),
            )
        )
    return tuple(detectors)


def _latiss() -> tuple[DetectorInfo, ...]:
    return (
        DetectorInfo(id=0, name="RXX_S00", serial="ITL-3800C-068", amps=make_amps("ITL", _LATISS_NOMINAL)),
    )


def _lsstcam() -> tuple[DetectorInfo, ...]:
    text = importlib.resources.files(__package__).joinpath("configs", "lsstcam_focal_plane.yaml").read_text()
    description = yaml.load(text, Loader=_YamlLoader)
    detectors: list[DetectorInfo] = []
    itl_values: list[tuple[float, float]] = []
    for raft_name, raft in description["rafts"].items():
        vendor = str(raft["vendor"])
        for sensor_name in _SENSORS_IN_RAFT:
            sensor = raft["sensors"][sensor_name]
            nominal = {amp: (float(v[0]), float(v[1])) for amp, v in sensor["amps"].items()}
            if vendor == "ITL":
                itl_values.extend(nominal.values())
            detectors.append(
                DetectorInfo(
                    id=len(detectors),
                    name=f"{raft_name}_{sensor_name}",
                    serial=str(sensor["serial"]),
                    amps=make_amps(vendor, nominal),
                    vendor=vendor,
                )
            )
    median = (
        round(statistics.median(g for g, _ in itl_values), 4),
        round(statistics.median(n for _, n in itl_values), 2),
    )
    corner_amps = make_amps("ITL", dict.fromkeys(AMP_NAMES, median))
    for raft_name in _CORNER_RAFTS:
        corner = description["corner_rafts"][raft_name]
        for sensor_name, purpose in _CORNER_SENSORS:
            serials = corner["guider"] if purpose == "GUIDER" else corner["wavefront"]
            detectors.append(
                DetectorInfo(
                    id=len(detectors),
                    name=f"{raft_name}_{sensor_name}",
                    serial=str(serials[sensor_name]),
                    amps=corner_amps,
                    vendor="ITL",
                    purpose=purpose,
                )
            )
    return tuple(detectors)


_BUILDERS: dict[str, Callable[[], tuple[DetectorInfo, ...]]] = {
    "LSSTComCam": _comcam,
    "LSSTCam": _lsstcam,
    "LATISS": _latiss,
}


def make_detectors(instrument: str) -> tuple[DetectorInfo, ...]:
    """Return the detectors of an instrument, by increasing id.

    Parameters
    ----------
    instrument : `str`
        "LSSTComCam", "LSSTCam" or "LATISS".

    Returns
    -------
    detectors : `tuple` [`DetectorInfo`, ...]
        The detectors.

    Raises
    ------
    ValueError
        Raised if the instrument is not one of `INSTRUMENT_NAMES`.
    """
    try:
        builder = _BUILDERS[instrument]
    except KeyError:
        raise ValueError(
            f"Unknown instrument {instrument!r}: use one of {', '.join(INSTRUMENT_NAMES)}."
        ) from None
    return builder()
