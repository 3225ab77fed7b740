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

"""The LSSTComCam camera description: detectors, amplifiers and their geometry.

LSSTComCam has one raft, R22, of nine ITL sensors R22_S00 ... R22_S22 (detector
ids 0 ... 8). Each sensor has 16 amplifiers read out into separate segments
of a raw file. A raw segment holds, in readout order, ``prescan`` columns,
``nx`` data columns and ``serial_overscan`` columns, over ``ny`` data rows
followed by ``parallel_overscan`` rows.

The full ITL geometry is 3 + 509 + 64 columns by 2000 + 48 rows. A reduced
geometry with the same layout and fewer pixels keeps tests and demonstrations
fast; `AmpGeometry.check` states the minimum sizes every algorithm needs.

Amplifier values in this description (gain, read noise) are nominal, as a
camera description carries them; the sensors themselves differ.
"""

__all__ = [
    "AMP_NAMES",
    "DETECTOR_NAMES",
    "FULL_GEOMETRY",
    "REDUCED_GEOMETRY",
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

# Detector names by detector id.
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
    """

    prescan: int = 3
    nx: int = 509
    ny: int = 2000
    serial_overscan: int = 64
    parallel_overscan: int = 48
    name: str = "full"

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
            The matching geometry, named after a standard one when equal.
        """
        candidate = cls(
            prescan=prescan,
            nx=nx,
            ny=ny,
            serial_overscan=shape[1] - prescan - nx,
            parallel_overscan=shape[0] - ny,
            name="custom",
        )
        for known in (FULL_GEOMETRY, REDUCED_GEOMETRY):
            if dataclasses.replace(known, name="custom") == candidate:
                return known
        return candidate


FULL_GEOMETRY = AmpGeometry()
REDUCED_GEOMETRY = AmpGeometry(
    prescan=3, nx=128, ny=256, serial_overscan=16, parallel_overscan=8, name="reduced"
)


def get_geometry(name: str) -> AmpGeometry:
    """Return a standard geometry by name.

    Parameters
    ----------
    name : `str`
        "full" or "reduced".

    Returns
    -------
    geometry : `AmpGeometry`
        The geometry.

    Raises
    ------
    ValueError
        Raised if the name is not a standard geometry.
    """
    geometries = {"full": FULL_GEOMETRY, "reduced": REDUCED_GEOMETRY}
    try:
        return geometries[name]
    except KeyError:
        raise ValueError(f"Unknown geometry {name!r}: use one of {sorted(geometries)}.") from None


@dataclasses.dataclass(frozen=True)
class AmpInfo:
    """One amplifier of an ITL sensor.

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
    """One sensor of LSSTComCam.

    Parameters
    ----------
    id : `int`
        Detector id, 0 ... 8.
    name : `str`
        Full name, e.g. "R22_S11".
    serial : `str`
        Sensor serial number.
    amps : `tuple` [`AmpInfo`, ...]
        The 16 amplifiers in segment order.
    """

    id: int
    name: str
    serial: str
    amps: tuple[AmpInfo, ...]

    @property
    def raft(self) -> str:
        """Raft name, e.g. "R22"."""
        return self.name.split("_")[0]

    @property
    def name_in_raft(self) -> str:
        """Sensor name in its raft, e.g. "S11"."""
        return self.name.split("_")[1]

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


def _make_amps(detector_id: int) -> tuple[AmpInfo, ...]:
    # Nominal per-amplifier values as a camera description carries them:
    # ITL gains 1.17-1.45 e-/ADU and read noise 5-11 e- (obs_lsst LSSTComCam).
    rng = np.random.default_rng(20_190_910 + detector_id)
    amps = []
    for hdu, name in enumerate(AMP_NAMES, start=1):
        top = name.startswith("C1")
        k = int(name[2])
        amps.append(
            AmpInfo(
                name=name,
                hdu=hdu,
                ix=k if top else 7 - k,
                iy=1 if top else 0,
                flip_x=not top,
                flip_y=top,
                nominal_gain=round(float(rng.uniform(1.17, 1.45)), 3),
                nominal_read_noise=round(float(rng.uniform(5.5, 10.5)), 2),
            )
        )
    return tuple(amps)


class Camera:
    """The LSSTComCam camera description: nine ITL detectors.

    Use `Camera.instance` for the shared, immutable description.
    """

    name = "LSSTComCam"

    def __init__(self) -> None:
        self.detectors: tuple[DetectorInfo, ...] = tuple(
            DetectorInfo(id=i, name=name, serial=f"ITL-3800C-{229 + i:03d}", amps=_make_amps(i))
            for i, name in enumerate(DETECTOR_NAMES)
        )

    @classmethod
    @functools.cache
    def instance(cls) -> "Camera":
        """Return the shared camera description."""
        return cls()

    def __len__(self) -> int:
        return len(self.detectors)

    def __getitem__(self, key: int | str) -> DetectorInfo:
        """Return a detector by id or full name.

        Raises
        ------
        KeyError
            Raised if there is no such detector.
        """
        for detector in self.detectors:
            if key == detector.id or key == detector.name:
                return detector
        raise KeyError(
            f"LSSTComCam has no detector {key!r}: "
            f"ids are 0-8, names {DETECTOR_NAMES[0]}...{DETECTOR_NAMES[-1]}."
        )

    @property
    def detector_ids(self) -> tuple[int, ...]:
        """All detector ids."""
        return tuple(d.id for d in self.detectors)
