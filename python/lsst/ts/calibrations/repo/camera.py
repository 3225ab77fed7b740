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

"""Camera descriptions: detectors, amplifiers and their geometry, per instrument.

`Camera.instance` returns the description of an instrument (see
`~lsst.ts.calibrations.repo.focal_planes` for what each holds):

- LSSTComCam: one raft, R22, of nine ITL sensors R22_S00 ... R22_S22
  (detector ids 0 ... 8);
- LATISS: one ITL sensor, RXX_S00 (detector 0);
- LSSTCam: 21 science rafts of nine sensors (ids 0 ... 188, R01_S00 ...
  R43_S22), ITL or e2v by raft, and the corner rafts' guider and wavefront
  sensors (ids 189 ... 204), listed but not science detectors.

Each sensor has 16 amplifiers read out into separate segments of a raw file.
A raw segment holds, in readout order, ``prescan`` columns, ``nx`` data
columns and ``serial_overscan`` columns, over ``ny`` data rows followed by
``parallel_overscan`` rows.

The full ITL geometry is 3 + 509 + 64 columns by 2000 + 48 rows; the full e2v
geometry is 10 + 512 + 54 columns by 2002 + 46 rows (the same 576 × 2048 raw
segment, a different split). A reduced geometry per vendor with the same
layout and fewer pixels keeps tests and demonstrations fast;
`AmpGeometry.check` states the minimum sizes every algorithm needs.

Amplifier values in this description (gain, read noise) are nominal, as a
camera description carries them; the sensors themselves differ.
"""

__all__ = [
    "AMP_NAMES",
    "DETECTOR_NAMES",
    "E2V_FULL_GEOMETRY",
    "E2V_REDUCED_GEOMETRY",
    "FULL_GEOMETRY",
    "REDUCED_GEOMETRY",
    "VENDORS",
    "AmpGeometry",
    "AmpInfo",
    "Camera",
    "DetectorInfo",
    "get_geometry",
]

import dataclasses
import functools
from collections.abc import Mapping

import numpy as np

# Amplifier names in the order of their segments (HDUs 1..16) in a raw file.
AMP_NAMES: tuple[str, ...] = tuple(f"C1{i}" for i in range(8)) + tuple(f"C0{i}" for i in range(7, -1, -1))

# Sensor vendors, as the camera description names them.
VENDORS: tuple[str, ...] = ("ITL", "E2V")

# LSSTComCam detector names by detector id.
DETECTOR_NAMES: tuple[str, ...] = tuple(f"R22_S{row}{col}" for row in range(3) for col in range(3))


@dataclasses.dataclass(frozen=True)
class AmpGeometry:
    """Pixel layout of one raw amplifier segment, in readout order.

    Parameters
    ----------
    prescan : `int`
        Serial prescan columns before the data.
    nx : `int`
        Data columns.
    ny : `int`
        Data rows.
    serial_overscan : `int`
        Serial overscan columns after the data.
    parallel_overscan : `int`
        Parallel overscan rows after the data.
    name : `str`
        Name of the geometry ("full", "reduced" or "custom").
    vendor : `str`
        Sensor vendor the layout belongs to ("ITL" or "E2V").
    """

    prescan: int = 3
    nx: int = 509
    ny: int = 2000
    serial_overscan: int = 64
    parallel_overscan: int = 48
    name: str = "full"
    vendor: str = "ITL"

    # Minimum sizes: the overscan fit skips 3 leading and 3 trailing columns
    # and needs at least 8 left; statistics and defect finding need a data
    # area large enough for clipped statistics and column defects.
    MIN_SERIAL_OVERSCAN = 14
    MIN_PARALLEL_OVERSCAN = 8
    MIN_NX = 32
    MIN_NY = 64

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise `ValueError` if the geometry is too small for the algorithms.

        Raises
        ------
        ValueError
            Raised if a dimension is below its minimum.
        """
        minimums = {
            "serial_overscan": self.MIN_SERIAL_OVERSCAN,
            "parallel_overscan": self.MIN_PARALLEL_OVERSCAN,
            "nx": self.MIN_NX,
            "ny": self.MIN_NY,
        }
        for field, minimum in minimums.items():
            value = getattr(self, field)
            if value < minimum:
                raise ValueError(f"AmpGeometry.{field}={value} is too small: the minimum is {minimum}.")
        if self.prescan < 0:
            raise ValueError(f"AmpGeometry.prescan={self.prescan} must be >= 0.")
        if self.vendor not in VENDORS:
            raise ValueError(f"AmpGeometry.vendor={self.vendor!r} is not a vendor; use one of {VENDORS}.")

    @property
    def dimensions(self) -> tuple[int, int, int, int, int]:
        """(prescan, nx, ny, serial_overscan, parallel_overscan): the layout without its names."""
        return (self.prescan, self.nx, self.ny, self.serial_overscan, self.parallel_overscan)

    @property
    def raw_shape(self) -> tuple[int, int]:
        """Shape (rows, columns) of a raw segment."""
        return (self.ny + self.parallel_overscan, self.prescan + self.nx + self.serial_overscan)

    @property
    def data_shape(self) -> tuple[int, int]:
        """Shape (rows, columns) of the data area of one amplifier."""
        return (self.ny, self.nx)

    @property
    def detector_shape(self) -> tuple[int, int]:
        """Shape (rows, columns) of an assembled detector (2 × 8 amplifiers)."""
        return (2 * self.ny, 8 * self.nx)

    @property
    def data_slice(self) -> tuple[slice, slice]:
        """Data area in a raw segment."""
        return (slice(0, self.ny), slice(self.prescan, self.prescan + self.nx))

    @property
    def prescan_slice(self) -> tuple[slice, slice]:
        """Serial prescan in a raw segment (data rows only)."""
        return (slice(0, self.ny), slice(0, self.prescan))

    @property
    def serial_overscan_slice(self) -> tuple[slice, slice]:
        """Serial overscan in a raw segment (data rows only)."""
        start = self.prescan + self.nx
        return (slice(0, self.ny), slice(start, start + self.serial_overscan))

    @property
    def parallel_overscan_slice(self) -> tuple[slice, slice]:
        """Parallel overscan in a raw segment (data columns only)."""
        return (
            slice(self.ny, self.ny + self.parallel_overscan),
            slice(self.prescan, self.prescan + self.nx),
        )

    def fits_sections(self) -> dict[str, str]:
        """FITS section keywords (1-based, inclusive) of a raw segment.

        Returns
        -------
        sections : `dict` [`str`, `str`]
            ``DATASEC``, ``BIASSEC`` (serial overscan) and ``PARALSEC``
            (parallel overscan over the data columns).
        """
        x0 = self.prescan + 1
        x1 = self.prescan + self.nx
        return {
            "DATASEC": f"[{x0}:{x1},1:{self.ny}]",
            "BIASSEC": f"[{x1 + 1}:{x1 + self.serial_overscan},1:{self.ny}]",
            "PARALSEC": f"[{x0}:{x1},{self.ny + 1}:{self.ny + self.parallel_overscan}]",
        }

    @classmethod
    def from_raw_shape(cls, shape: tuple[int, int], *, prescan: int, ny: int, nx: int) -> "AmpGeometry":
        """Geometry of a raw segment of known shape and data size.

        Parameters
        ----------
        shape : `tuple` [`int`, `int`]
            Shape of the raw segment.
        prescan, ny, nx : `int`
            Prescan columns and data size.

        Returns
        -------
        geometry : `AmpGeometry`
            The matching geometry, named after a standard one (of either
            vendor) when its layout is equal.
        """
        candidate = cls(
            prescan=prescan,
            nx=nx,
            ny=ny,
            serial_overscan=shape[1] - prescan - nx,
            parallel_overscan=shape[0] - ny,
            name="custom",
        )
        for known in _STANDARD_GEOMETRIES.values():
            if known.dimensions == candidate.dimensions:
                return known
        return candidate


FULL_GEOMETRY = AmpGeometry()
REDUCED_GEOMETRY = AmpGeometry(
    prescan=3, nx=128, ny=256, serial_overscan=16, parallel_overscan=8, name="reduced"
)
# e2v CCD250 segments (obs_lsst's AMP_E2V): 10 prescan, 512 × 2002 data,
# 54 serial and 46 parallel overscan.
E2V_FULL_GEOMETRY = AmpGeometry(
    prescan=10, nx=512, ny=2002, serial_overscan=54, parallel_overscan=46, name="full", vendor="E2V"
)
E2V_REDUCED_GEOMETRY = AmpGeometry(
    prescan=10, nx=128, ny=258, serial_overscan=14, parallel_overscan=10, name="reduced", vendor="E2V"
)

_STANDARD_GEOMETRIES: dict[tuple[str, str], AmpGeometry] = {
    (g.vendor, g.name): g for g in (FULL_GEOMETRY, REDUCED_GEOMETRY, E2V_FULL_GEOMETRY, E2V_REDUCED_GEOMETRY)
}


def get_geometry(name: str, vendor: str = "ITL") -> AmpGeometry:
    """Return a standard geometry by name and sensor vendor.

    Parameters
    ----------
    name : `str`
        "full" or "reduced".
    vendor : `str`, optional
        "ITL" (default) or "E2V".

    Returns
    -------
    geometry : `AmpGeometry`
        The geometry.

    Raises
    ------
    ValueError
        Raised if the name is not a standard geometry or the vendor unknown.
    """
    if vendor not in VENDORS:
        raise ValueError(f"Unknown sensor vendor {vendor!r}: use one of {list(VENDORS)}.")
    try:
        return _STANDARD_GEOMETRIES[(vendor, name)]
    except KeyError:
        raise ValueError(f"Unknown geometry {name!r}: use one of ['full', 'reduced'].") from None


@dataclasses.dataclass(frozen=True)
class AmpInfo:
    """One amplifier of a sensor.

    Parameters
    ----------
    name : `str`
        Amplifier name, C10 ... C17, C07 ... C00.
    hdu : `int`
        Index of its segment in a raw file (1 ... 16).
    ix, iy : `int`
        Position of the amplifier in the 8 × 2 grid of the assembled
        detector (``ix`` 0 ... 7 left to right, ``iy`` 0 bottom, 1 top).
    flip_x, flip_y : `bool`
        Whether the readout order runs against the assembled detector's
        x (columns) or y (rows) axis.
    nominal_gain : `float`
        Nominal gain (e⁻/ADU).
    nominal_read_noise : `float`
        Nominal read noise (e⁻).
    """

    name: str
    hdu: int
    ix: int
    iy: int
    flip_x: bool
    flip_y: bool
    nominal_gain: float
    nominal_read_noise: float

    def detector_slice(self, geometry: AmpGeometry) -> tuple[slice, slice]:
        """Where this amplifier's data lands in the assembled detector.

        Parameters
        ----------
        geometry : `AmpGeometry`
            Geometry of the segments.

        Returns
        -------
        rows, columns : `tuple` [`slice`, `slice`]
            Slices of the assembled detector array.
        """
        return (
            slice(self.iy * geometry.ny, (self.iy + 1) * geometry.ny),
            slice(self.ix * geometry.nx, (self.ix + 1) * geometry.nx),
        )

    def to_detector(self, data: np.ndarray) -> np.ndarray:
        """Orient an array in readout order as in the assembled detector.

        Parameters
        ----------
        data : `numpy.ndarray`
            Array (rows, columns) in readout order.

        Returns
        -------
        oriented : `numpy.ndarray`
            A view, flipped as needed.
        """
        if self.flip_y:
            data = data[::-1, :]
        if self.flip_x:
            data = data[:, ::-1]
        return data

    # Flips are their own inverse.
    to_readout = to_detector


@dataclasses.dataclass(frozen=True)
class DetectorInfo:
    """One sensor of a camera.

    Parameters
    ----------
    id : `int`
        Detector id (0 ... 8 in LSSTComCam, 0 ... 204 in LSSTCam).
    name : `str`
        Full name, e.g. "R22_S11".
    serial : `str`
        Sensor serial number.
    amps : `tuple` [`AmpInfo`, ...]
        The 16 amplifiers in segment order.
    vendor : `str`, optional
        Sensor vendor, "ITL" (default) or "E2V".
    purpose : `str`, optional
        The butler's detector purpose: "SCIENCE" (default), "GUIDER" or
        "WAVEFRONT".
    """

    id: int
    name: str
    serial: str
    amps: tuple[AmpInfo, ...]
    vendor: str = "ITL"
    purpose: str = "SCIENCE"

    def geometry(self, name: str) -> AmpGeometry:
        """Return this sensor's standard geometry "full" or "reduced" (by its vendor)."""
        return get_geometry(name, self.vendor)

    @property
    def raft(self) -> str:
        """Raft name, e.g. "R22"."""
        return self.name.split("_")[0]

    @property
    def name_in_raft(self) -> str:
        """Sensor name in its raft, e.g. "S11"."""
        return self.name.split("_")[1]

    @property
    def is_science(self) -> bool:
        """True for a science sensor (not a guider or wavefront sensor)."""
        return self.purpose == "SCIENCE"

    @property
    def amp_names(self) -> tuple[str, ...]:
        """Amplifier names in segment order."""
        return tuple(amp.name for amp in self.amps)

    def amp(self, name: str) -> AmpInfo:
        """Return an amplifier by name.

        Raises
        ------
        KeyError
            Raised if there is no such amplifier.
        """
        for amp in self.amps:
            if amp.name == name:
                return amp
        raise KeyError(f"{self.name} has no amplifier {name!r}; amplifiers are {', '.join(AMP_NAMES)}.")

    def assemble(self, amp_data: Mapping[str, np.ndarray], geometry: AmpGeometry) -> np.ndarray:
        """Assemble per-amplifier data areas (readout order) into a detector.

        Parameters
        ----------
        amp_data : `~collections.abc.Mapping` [`str`, `numpy.ndarray`]
            Data area of each amplifier, ``geometry.data_shape``, in readout
            order (as cut from a raw segment with ``geometry.data_slice``).
        geometry : `AmpGeometry`
            Geometry of the segments.

        Returns
        -------
        image : `numpy.ndarray`
            The assembled detector, ``geometry.detector_shape``.
        """
        first = next(iter(amp_data.values()))
        image = np.empty(geometry.detector_shape, dtype=first.dtype)
        for amp in self.amps:
            image[amp.detector_slice(geometry)] = amp.to_detector(amp_data[amp.name])
        return image

    def split(self, image: np.ndarray, geometry: AmpGeometry) -> dict[str, np.ndarray]:
        """Cut an assembled detector into amplifier data areas in readout order.

        Parameters
        ----------
        image : `numpy.ndarray`
            Assembled detector, ``geometry.detector_shape``.
        geometry : `AmpGeometry`
            Geometry of the segments.

        Returns
        -------
        amp_data : `dict` [`str`, `numpy.ndarray`]
            Views of ``image`` per amplifier, in readout order.
        """
        if image.shape != geometry.detector_shape:
            raise ValueError(f"Image shape {image.shape} does not match {geometry.detector_shape}.")
        return {amp.name: amp.to_readout(image[amp.detector_slice(geometry)]) for amp in self.amps}

    def amp_views(self, image: np.ndarray, geometry: AmpGeometry) -> dict[str, np.ndarray]:
        """Views of each amplifier's area of an assembled detector, in detector orientation."""
        return {amp.name: image[amp.detector_slice(geometry)] for amp in self.amps}


def make_amps(vendor: str, nominal: Mapping[str, tuple[float, float]]) -> tuple[AmpInfo, ...]:
    """Return the 16 amplifiers of a sensor of a vendor, in segment order.

    Parameters
    ----------
    vendor : `str`
        "ITL" or "E2V": the bottom half's serial registers read out in
        opposite directions (obs_lsst's ``flipXY`` of C07 ... C00).
    nominal : `~collections.abc.Mapping` [`str`, `tuple` [`float`, `float`]]
        Nominal (gain e⁻/ADU, read noise e⁻) of each amplifier by name.

    Returns
    -------
    amps : `tuple` [`AmpInfo`, ...]
        The amplifiers.

    Raises
    ------
    ValueError
        Raised if the vendor is unknown or an amplifier lacks its values.
    """
    if vendor not in VENDORS:
        raise ValueError(f"Unknown sensor vendor {vendor!r}: use one of {list(VENDORS)}.")
    missing = [name for name in AMP_NAMES if name not in nominal]
    if missing:
        raise ValueError(f"Nominal amplifier values lack {missing}.")
    amps = []
    for hdu, name in enumerate(AMP_NAMES, start=1):
        top = name.startswith("C1")
        k = int(name[2])
        gain, read_noise = nominal[name]
        amps.append(
            AmpInfo(
                name=name,
                hdu=hdu,
                ix=k if top else 7 - k,
                iy=1 if top else 0,
                flip_x=(not top) and vendor == "ITL",
                flip_y=top,
                nominal_gain=float(gain),
                nominal_read_noise=float(read_noise),
            )
        )
    return tuple(amps)


class Camera:
    """The description of one instrument's camera: its detectors.

    Use `Camera.instance` for the shared, immutable description of an
    instrument.

    Parameters
    ----------
    name : `str`, optional
        Instrument name: "LSSTComCam" (default), "LSSTCam" or "LATISS".
    detectors : `tuple` [`DetectorInfo`, ...], optional
        The detectors, by increasing id; the instrument's own by default.

    Raises
    ------
    ValueError
        Raised if the instrument is unknown.
    """

    def __init__(self, name: str = "LSSTComCam", detectors: tuple[DetectorInfo, ...] | None = None) -> None:
        from .focal_planes import make_detectors

        self.name = name
        self.detectors: tuple[DetectorInfo, ...] = (
            detectors if detectors is not None else make_detectors(name)
        )
        self._by_key: dict[int | str, DetectorInfo] = {}
        for detector in self.detectors:
            self._by_key[detector.id] = detector
            self._by_key[detector.name] = detector

    @classmethod
    def instance(cls, name: str = "LSSTComCam") -> "Camera":
        """Return the shared camera description of an instrument.

        Parameters
        ----------
        name : `str`, optional
            "LSSTComCam" (default), "LSSTCam" or "LATISS".

        Raises
        ------
        ValueError
            Raised if the instrument is unknown.
        """
        return _shared_camera(cls, str(name))

    @classmethod
    def of_metadata(cls, metadata: Mapping[str, object]) -> "Camera":
        """The camera of an image from its metadata's ``INSTRUME`` (LSSTComCam if absent).

        Raw headers carry ``INSTRUME``; the ISR copies the header into its
        output's metadata and the combined calibrations keep it, so every
        pipeline step can find the camera of the data it processes.

        Raises
        ------
        ValueError
            Raised if the instrument is unknown.
        """
        return cls.instance(str(metadata.get("INSTRUME") or "LSSTComCam"))

    def __len__(self) -> int:
        return len(self.detectors)

    def __getitem__(self, key: int | str) -> DetectorInfo:
        """Return a detector by id or full name.

        Raises
        ------
        KeyError
            Raised if there is no such detector.
        """
        try:
            return self._by_key[key]
        except (KeyError, TypeError):
            first, last = self.detectors[0], self.detectors[-1]
            raise KeyError(
                f"{self.name} has no detector {key!r}: ids are {first.id}-{last.id}, "
                f"names {first.name}...{last.name}."
            ) from None

    @property
    def detector_ids(self) -> tuple[int, ...]:
        """All detector ids."""
        return tuple(d.id for d in self.detectors)

    @property
    def science_detectors(self) -> tuple[DetectorInfo, ...]:
        """The science sensors (all but guider and wavefront sensors)."""
        return tuple(d for d in self.detectors if d.is_science)

    @property
    def science_detector_ids(self) -> tuple[int, ...]:
        """Ids of the science sensors: what a calibration run uses by default."""
        return tuple(d.id for d in self.science_detectors)

    @property
    def vendors(self) -> tuple[str, ...]:
        """Vendors of the science sensors, each once, in `VENDORS` order."""
        present = {d.vendor for d in self.science_detectors}
        return tuple(v for v in VENDORS if v in present)

    @property
    def rafts(self) -> tuple[str, ...]:
        """Rafts of the science sensors, each once, in detector order."""
        return tuple(dict.fromkeys(d.raft for d in self.science_detectors))


@functools.cache
def _shared_camera(cls: type[Camera], name: str) -> Camera:
    return cls(name)
