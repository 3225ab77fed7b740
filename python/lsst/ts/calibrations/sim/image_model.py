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

"""Raw images of the simulated sensors (ComCam, LSSTCam, LATISS): bias, dark, flat and every other type.

`ImageModel.make_raw` draws one detector's raw image for one exposure:

1. Expected charge per pixel (e⁻, assembled-detector coordinates): dark
   current × dark time, plus, for shutter-open images (every type but BIAS
   and DARK), the filter's flat flux × exposure time × flat response.
2. Photon and dark shot noise: Poisson below ``flat.gaussian_threshold``
   e⁻, its Gaussian limit above; optional brighter-fatter variance sag
   (deviations scaled so the variance is (exp(2 a00 μ) − 1)/(2 a00)).
3. Cosmic rays (darks, and other images with a long dark time): single,
   double and triple-pixel hits.
4. Full-well clipping per amplifier, then each amplifier is cut out and
   turned to readout order with `AmpInfo.to_readout`.
5. Readout: charge / gain + bias level + start-of-readout excess + row
   offsets of this exposure (data, prescan and serial overscan share them) +
   fixed column pattern (data and parallel overscan rows share it) +
   Gaussian read noise on every pixel, rounded to integers and clipped to
   [0, ``saturation.adc_max``].

Randomness comes from streams keyed by (seed, day_obs, seq_num, detector),
so an exposure's pixels do not depend on the order images are made in.

Each detector is drawn in its vendor's layout of the geometry asked for
(``full`` or ``reduced``: ITL 3 + 509 + 64 columns, e2v 10 + 512 + 54, ...;
`geometry_of`); a custom geometry applies to every detector.

Header keys written (primary HDU): ``INSTRUME`` (LSSTComCam, LSSTCam or
LATISS), ``TELESCOP``, ``OBSERVAT``, ``CAMCODE`` (CC, MT, AT), ``CONTRLLR``
(O), ``TIMESYS`` (TAI),
``DATE-OBS``, ``DATE-BEG``, ``DATE-END`` (ISO, TAI), ``MJD-OBS``, ``MJD-BEG``,
``MJD-END``, ``EXPTIME``, ``SHUTTIME``, ``DARKTIME`` (s), ``IMGTYPE``,
``OBSTYPE``, ``TESTTYPE``, ``OBSID`` (CC_O_YYYYMMDD_NNNNNN), ``DAYOBS``
(string YYYYMMDD), ``SEQNUM`` (int), ``GROUPID``, ``FILTER``, ``FILTBAND``,
``GRATING`` (LATISS: ``FILTER`` and ``GRATING`` are the two halves of its
``filter~grating``), ``DETECTOR`` (id), ``DETNAME`` (R22_S11), ``CCDSLOT``
(S11), ``RAFTBAY`` (R22), ``CCD_MANU`` (ITL or E2V), ``CCD_TYPE`` (3800C or
CCD250), ``LSST_NUM`` (serial),
``PROGRAM``, ``REASON``, ``OBSANNOT``, ``EMULATED`` and ``SIMULATE`` (True:
simulated pixels; ingest sets ``exposure.has_simulated`` from ``SIMULATE``),
``SIMSEED``, ``SIMMODEL``, ``SIMGEOM``. ``write_raw`` adds ``PRESCAN``; each
segment carries ``AMPNAME``, ``DATASEC``, ``BIASSEC``, ``PARALSEC``.
"""

__all__ = ["ImageModel"]

import datetime
from collections.abc import Mapping
from typing import Any

import numpy as np
from astropy.time import Time, TimeDelta

from ..repo.camera import FULL_GEOMETRY, AmpGeometry, DetectorInfo
from ..repo.image_type import ImageType
from ..repo.instruments import get_instrument
from ..repo.raw import RawImage, make_header
from .sensor_model import SensorModel

# Random stream tags of an exposure (the sensor model uses 1-4).
_STREAM_NOISE = 10
_STREAM_COSMIC_RAYS = 11
_STREAM_ILLUMINATION = 12

# Physical filter of exposures without one (lsst.ts.calibrations.repo.instrument.EMPTY_FILTER).
NO_FILTER = "empty"

# Per instrument: telescope, camera code; per vendor: CCD type.
_TELESCOPES = {"LATISS": ("Rubin Auxiliary Telescope", "AT")}
_DEFAULT_TELESCOPE = "Simonyi Survey Telescope"
_CAMERA_CODES = {"LSSTComCam": "CC", "LSSTCam": "MT", "LATISS": "AT"}
_CCD_TYPES = {"ITL": "3800C", "E2V": "CCD250"}

# Pixel offsets (dy, dx) of cosmic-ray hit shapes by number of pixels.
_CR_SHAPES: dict[int, tuple[tuple[tuple[int, int], ...], ...]] = {
    1: (((0, 0),),),
    2: (((0, 0), (0, 1)), ((0, 0), (1, 0)), ((0, 0), (1, 1))),
    3: (
        ((0, 0), (0, 1), (0, 2)),
        ((0, 0), (1, 0), (2, 0)),
        ((0, 0), (0, 1), (1, 1)),
        ((0, 0), (1, 0), (1, 1)),
        ((0, 0), (1, 1), (2, 2)),
    ),
}

# Default start of the first exposure of a day_obs (TAI) and spacing of sequence numbers.
_DEFAULT_START = datetime.timedelta(hours=18)
_DEFAULT_SPACING = datetime.timedelta(seconds=60)


def _isot(time: Time) -> str:
    """ISO time with milliseconds, "YYYY-MM-DDTHH:MM:SS.sss"."""
    copy = time.copy()
    copy.precision = 3
    return str(copy.isot)


class ImageModel:
    """Raw images of the simulated sensors.

    Parameters
    ----------
    sensor_model : `SensorModel`
        The sensors (truth) and the seed.
    geometry : `AmpGeometry`
        Geometry of the raw segments: a standard one ("full", "reduced")
        stands for each vendor's layout of that name (`geometry_of`).
    """

    def __init__(self, sensor_model: SensorModel, geometry: AmpGeometry = FULL_GEOMETRY) -> None:
        self.sensor_model = sensor_model
        self.geometry = geometry
        self.instrument = get_instrument(sensor_model.camera.name)

    def geometry_of(self, detector: int | str | DetectorInfo) -> AmpGeometry:
        """The segment geometry of a detector: its vendor's layout of a standard geometry.

        A custom geometry (not "full" or "reduced") is every detector's.
        """
        return self.sensor_model.geometry_of(detector, self.geometry)

    @property
    def parameters(self) -> Any:
        """The sensor model's `SensorParameters`."""
        return self.sensor_model.parameters

    def has_cosmic_rays(self, image_type: str, dark_time: float) -> bool:
        """Whether an image of this type and dark time gets cosmic rays.

        Darks always do (when the rate is not zero), biases never; other
        types from ``cosmic_rays.min_dark_time`` seconds of dark time on.
        """
        kind = ImageType.from_name(image_type)
        if kind is ImageType.BIAS or dark_time <= 0 or self.parameters.get("cosmic_rays.rate") <= 0:
            return False
        return kind is ImageType.DARK or dark_time >= self.parameters.get("cosmic_rays.min_dark_time")

    def cosmic_ray_hits(
        self, detector: int | str, *, image_type: str, dark_time: float, day_obs: int, seq_num: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The cosmic-ray hits of one detector in one exposure.

        Parameters
        ----------
        detector : `int` or `str`
            Detector id or name.
        image_type : `str`
            Image type.
        dark_time : `float`
            Dark time, s.
        day_obs, seq_num : `int`
            The exposure.

        Returns
        -------
        y, x : `numpy.ndarray`
            Hit pixels, assembled-detector coordinates (int).
        electrons : `numpy.ndarray`
            Charge deposited in each hit pixel, e⁻.
        hit : `numpy.ndarray`
            Index of the hit each pixel belongs to.
        """
        info = self.sensor_model.detector(detector)
        empty_i = np.zeros(0, dtype=np.int64)
        if not self.has_cosmic_rays(image_type, dark_time):
            return empty_i, empty_i, np.zeros(0), empty_i
        p = self.parameters
        rows, cols = self.geometry_of(info).detector_shape
        area_cm2 = rows * cols * (p.get("flat.pixel_size") * 1e-4) ** 2
        rng = self.sensor_model.rng(_STREAM_COSMIC_RAYS, day_obs, seq_num, info.id)
        n_hits = rng.poisson(p.get("cosmic_rays.rate") * area_cm2 * dark_time)
        fractions = np.array([p.get(f"cosmic_rays.{k}") for k in ("single", "double", "triple")])
        sizes = rng.choice(3, size=n_hits, p=fractions / fractions.sum()) + 1
        y0 = rng.integers(0, rows, size=n_hits)
        x0 = rng.integers(0, cols, size=n_hits)
        shape_u = rng.random(n_hits)
        ys: list[int] = []
        xs: list[int] = []
        hits: list[int] = []
        for hit, (size, yy, xx, u) in enumerate(zip(sizes, y0, x0, shape_u)):
            shapes = _CR_SHAPES[int(size)]
            for dy, dx in shapes[int(u * len(shapes))]:
                y, x = int(yy) + dy, int(xx) + dx
                if y < rows and x < cols:
                    ys.append(y)
                    xs.append(x)
                    hits.append(hit)
        low, high = p.get("cosmic_rays.electrons")
        electrons = np.exp(rng.uniform(np.log(low), np.log(high), size=len(ys)))
        return (
            np.array(ys, dtype=np.int64),
            np.array(xs, dtype=np.int64),
            electrons,
            np.array(hits, dtype=np.int64),
        )

    def expected_electrons(
        self,
        detector: int | str,
        *,
        image_type: str,
        exposure_time: float,
        dark_time: float,
        physical_filter: str,
        day_obs: int,
        seq_num: int,
    ) -> np.ndarray:
        """Expected charge of each pixel before noise, e⁻ (assembled detector).

        Parameters
        ----------
        detector : `int` or `str`
            Detector id or name.
        image_type : `str`
            Image type; every type but BIAS and DARK is illuminated.
        exposure_time, dark_time : `float`
            Exposure and dark time, s.
        physical_filter : `str`
            Filter of an illuminated image (a key of ``flat.flux``).
        day_obs, seq_num : `int`
            The exposure (sets the illumination's fluctuation, if any).

        Returns
        -------
        expected : `numpy.ndarray`
            float32 array of the assembled-detector shape.

        Raises
        ------
        ValueError
            Raised if an illuminated image's filter has no flux.
        """
        model = self.sensor_model
        geometry = self.geometry_of(detector)
        expected = model.dark_current(detector, geometry, day_obs)
        expected *= np.float32(max(dark_time, 0.0))
        if ImageType.from_name(image_type).shutter_open and exposure_time > 0:
            fluxes = self.parameters.get("flat.flux")
            if physical_filter not in fluxes:
                raise ValueError(
                    f"physical_filter={physical_filter!r} has no flat.flux in sensor model "
                    f"{self.parameters.source}; known filters: {', '.join(sorted(fluxes))}."
                )
            stability = self.parameters.get("flat.flux_stability")
            level = fluxes[physical_filter] * exposure_time
            if stability > 0:
                # The illumination is common to the whole focal plane.
                level *= 1.0 + stability * model.rng(_STREAM_ILLUMINATION, day_obs, seq_num).standard_normal()
            expected += model.flat_response(detector, geometry) * np.float32(level)
        return expected

    def _shot_noise(self, expected: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Draw charge with shot noise: Poisson below the threshold, Gaussian above."""
        if not np.any(expected):
            return np.zeros_like(expected)
        threshold = self.parameters.get("flat.gaussian_threshold")
        high = expected >= threshold
        n_high = int(np.count_nonzero(high))
        if n_high == 0:
            return rng.poisson(expected).astype(np.float32)
        # Gaussian limit: expected + sqrt(expected) * N(0, 1), drawn for every pixel
        # so that the draws do not depend on which pixels are above the threshold.
        charge = rng.standard_normal(expected.shape, dtype=np.float32)
        charge *= np.sqrt(expected)
        charge += expected
        if n_high < expected.size:
            low = ~high
            charge[low] = rng.poisson(expected[low])
        return charge

    def make_raw(
        self,
        detector: int | str,
        *,
        image_type: str,
        exposure_time: float,
        day_obs: int,
        seq_num: int,
        physical_filter: str | None = None,
        dark_time: float | None = None,
        date_obs: Time | str | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> RawImage:
        """Draw the raw image of one detector in one exposure.

        Parameters
        ----------
        detector : `int` or `str`
            Detector id (0-8) or name ("R22_S11").
        image_type : `str`
            BIAS, DARK, FLAT or another ComCam image type (illuminated like
            a flat).
        exposure_time : `float`
            Exposure time, s (0 for a bias).
        day_obs : `int`
            Observing day, YYYYMMDD.
        seq_num : `int`
            Sequence number in the day (1-99999).
        physical_filter : `str` or `None`
            Filter; `None` for ``empty`` (biases, darks).
        dark_time : `float` or `None`
            Dark time, s; `None` for the exposure time.
        date_obs : `astropy.time.Time`, `str` or `None`
            Start of the exposure (TAI); `None` for 18:00 TAI on the day
            of ``day_obs`` plus 60 s per sequence number.
        header : `~collections.abc.Mapping` or `None`
            Header values that replace or add to the computed ones (e.g.
            ``GROUPID``, ``PROGRAM``, ``REASON``, ``OBSANNOT``, ``TESTTYPE``).

        Returns
        -------
        raw : `RawImage`
            The raw image: 16 int32 segments in readout order.

        Raises
        ------
        ValueError
            Raised for an unknown image type, a negative time, a bad
            day_obs or seq_num, or an illuminated filter without flux.
        """
        try:
            image_type = ImageType.from_name(image_type).value
        except ValueError as e:
            raise ValueError(f"image_type={image_type!r} is not a ComCam image type: {e}.") from None
        if exposure_time < 0:
            raise ValueError(f"exposure_time={exposure_time} must be >= 0 s.")
        if dark_time is None:
            dark_time = exposure_time
        if dark_time < 0:
            raise ValueError(f"dark_time={dark_time} must be >= 0 s.")
        if not 1 <= seq_num <= 99999:
            raise ValueError(f"seq_num={seq_num} must be in 1-99999.")
        try:
            day = datetime.datetime.strptime(str(day_obs), "%Y%m%d")
        except ValueError:
            raise ValueError(f"day_obs={day_obs!r} must be a date YYYYMMDD.") from None
        if physical_filter is None:
            physical_filter = NO_FILTER
        info = self.sensor_model.detector(detector)
        geometry = self.geometry_of(info)
        model = self.sensor_model
        amps = model.amp_arrays(info.id, day_obs)
        n_amps = len(info.amps)
        rng = model.rng(_STREAM_NOISE, day_obs, seq_num, info.id)

        # Charge in the assembled detector.
        expected = self.expected_electrons(
            info.id,
            image_type=image_type,
            exposure_time=exposure_time,
            dark_time=dark_time,
            physical_filter=physical_filter,
            day_obs=day_obs,
            seq_num=seq_num,
        )
        charge = self._shot_noise(expected, rng)
        a00 = amps["a00"]
        if np.any(a00 != 0):
            self._brighter_fatter(charge, expected, a00, info)
        del expected
        cr_y, cr_x, cr_e, _ = self.cosmic_ray_hits(
            info.id, image_type=image_type, dark_time=dark_time, day_obs=day_obs, seq_num=seq_num
        )
        np.add.at(charge, (cr_y, cr_x), cr_e.astype(np.float32))

        # Readout, all amplifiers at once: (amp, row, column) in readout order.
        n_rows, n_cols = geometry.raw_shape
        gain = amps["gain"].astype(np.float32)[:, np.newaxis, np.newaxis]
        raw = rng.standard_normal((n_amps, n_rows, n_cols), dtype=np.float32)
        raw *= (amps["read_noise"] / amps["gain"]).astype(np.float32)[:, np.newaxis, np.newaxis]
        bias_rows, bias_columns = model.bias_structure(info.id, geometry)
        row_offsets = rng.standard_normal((n_amps, n_rows), dtype=np.float32)
        vendor_parameters = model.parameters_of(info)
        row_offsets *= np.float32(vendor_parameters.get("bias.row_noise"))
        row_offsets += rng.standard_normal((n_amps, 1), dtype=np.float32) * np.float32(
            vendor_parameters.get("bias.exposure_jitter")
        )
        raw += (bias_rows + row_offsets)[:, :, np.newaxis]
        data_cols = slice(geometry.prescan, geometry.prescan + geometry.nx)
        raw[:, :, data_cols] += bias_columns[:, np.newaxis, :]
        full_well = amps["full_well"].astype(np.float32)
        data = raw[:, : geometry.ny, data_cols]
        for i, amp in enumerate(info.amps):
            amp_charge = amp.to_readout(charge[amp.detector_slice(geometry)])
            np.minimum(amp_charge, full_well[i], out=amp_charge)
            data[i] += amp_charge / gain[i]
        del charge
        np.rint(raw, out=raw)
        np.clip(raw, 0, self.parameters.get("saturation.adc_max"), out=raw)
        pixels = raw.astype(np.int32)
        amp_data = {amp.name: pixels[i] for i, amp in enumerate(info.amps)}

        values = self._header(
            info.id,
            image_type=image_type,
            exposure_time=exposure_time,
            dark_time=dark_time,
            day=day,
            day_obs=int(day_obs),
            seq_num=seq_num,
            physical_filter=physical_filter,
            date_obs=date_obs,
        )
        if header:
            values.update(header)
        return RawImage(header=make_header(values), amp_data=amp_data, geometry=geometry)

    def _brighter_fatter(self, charge: np.ndarray, expected: np.ndarray, a00: np.ndarray, info: Any) -> None:
        """Scale each pixel's deviation from its expectation so its variance sags."""
        for i, amp in enumerate(info.amps):
            if a00[i] == 0:
                continue
            area = amp.detector_slice(self.geometry_of(info))
            mu = expected[area].astype(np.float64)
            # var(mu) = (exp(2 a00 mu) - 1) / (2 a00); ratio to the Poisson mu.
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = np.where(mu > 0, np.expm1(2.0 * a00[i] * mu) / (2.0 * a00[i] * mu), 1.0)
            scale = np.sqrt(ratio).astype(np.float32)
            deviation = charge[area] - expected[area]
            charge[area] = expected[area] + deviation * scale

    def _header(
        self,
        detector_id: int,
        *,
        image_type: str,
        exposure_time: float,
        dark_time: float,
        day: datetime.datetime,
        day_obs: int,
        seq_num: int,
        physical_filter: str,
        date_obs: Time | str | None,
    ) -> dict[str, Any]:
        info = self.sensor_model.detector(detector_id)
        if date_obs is None:
            start = Time(day + _DEFAULT_START + (seq_num - 1) * _DEFAULT_SPACING, scale="tai")
        else:
            start = date_obs if isinstance(date_obs, Time) else Time(date_obs, scale="tai")
            start = start.tai
        end = start + TimeDelta(exposure_time, format="sec")
        start_text = _isot(start)
        end_text = _isot(end)
        shutter_open = ImageType.from_name(image_type).shutter_open
        instrument = self.instrument.getName()
        if physical_filter == NO_FILTER:
            physical_filter = self.instrument.empty_filter
        band = self.instrument.filter_bands.get(physical_filter, "white")
        filter_name, _, grating = physical_filter.partition("~")
        code = _CAMERA_CODES[instrument]
        obs_id = f"{code}_O_{day_obs:08d}_{seq_num:06d}"
        values = {
            "INSTRUME": instrument,
            "TELESCOP": _TELESCOPES.get(instrument, (_DEFAULT_TELESCOPE,))[0],
            "OBSERVAT": "Rubin Observatory",
            "CAMCODE": code,
            "CONTRLLR": "O",
            "TIMESYS": "TAI",
            "DATE-OBS": start_text,
            "DATE-BEG": start_text,
            "DATE-END": end_text,
            "MJD-OBS": float(start.mjd),
            "MJD-BEG": float(start.mjd),
            "MJD-END": float(end.mjd),
            "EXPTIME": float(exposure_time),
            "SHUTTIME": float(exposure_time) if shutter_open else 0.0,
            "DARKTIME": float(dark_time),
            "IMGTYPE": image_type,
            "OBSTYPE": image_type,
            "TESTTYPE": image_type,
            "OBSID": obs_id,
            "DAYOBS": f"{day_obs:08d}",
            "SEQNUM": int(seq_num),
            "GROUPID": start_text,
            "FILTER": filter_name,
            "FILTBAND": band,
            "DETECTOR": info.id,
            "DETNAME": info.name,
            "CCDSLOT": info.name_in_raft,
            "RAFTBAY": info.raft,
            "CCD_MANU": info.vendor,
            "CCD_TYPE": _CCD_TYPES[info.vendor],
            "LSST_NUM": info.serial,
            "PROGRAM": "",
            "REASON": "",
            "OBSANNOT": "",
            "EMULATED": True,
            "SIMULATE": True,
            "SIMSEED": self.sensor_model.seed,
            "SIMMODEL": self.parameters.name,
            "SIMGEOM": self.geometry.name,
        }
        if self.instrument.has_grating:
            values["GRATING"] = grating
        return values
