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

"""The simulated sensors: per-detector and per-amplifier truth drawn from parameters and a seed.

`SensorModel` turns `SensorParameters` and a seed into the fixed properties
of each detector: amplifier gains, read noise, bias levels and structure,
dark current, full well, brighter-fatter a00, the flat response (vignetting
across the focal plane × detector QE × pixel response non-uniformity) and
the defects (hot pixels, cold pixels, bad columns). Every quantity comes
from its own random stream keyed by (seed, stream, detector, geometry), so
it does not depend on which detectors or images were made before.

A standard geometry ("full" or "reduced") stands for each detector's
vendor's layout of it (`SensorModel.geometry_of`): an e2v detector of
LSSTCam gets e2v segments, its defects, flat response and truth are drawn
in them, whichever vendor's layout the caller passed; a custom geometry
applies to every detector as given.

Amplifiers listed under ``drift`` in the parameters change with the day:
their gain, read noise or dark current on ``day_obs`` is the drawn value ×
(1 + rate × days from ``drift.reference_day_obs``). Methods that take a
``day_obs`` give that day's values; without one, the reference day's.
"""

__all__ = ["SensorModel"]

import collections
import dataclasses
import os
import threading

import numpy as np

from ..repo.camera import VENDORS, AmpGeometry, Camera, DetectorInfo, get_geometry
from .amp_truth import AmpTruth
from .detector_truth import DetectorTruth
from .sensor_parameters import DRIFT_KEYS, SensorParameters

# Random stream tags (the second entry of every seed sequence).
_STREAM_AMPS = 1
_STREAM_DEFECTS = 2
_STREAM_PRNU = 3
_STREAM_COLUMNS = 4

# Columns of each amplifier edge kept free of bad columns.
_COLUMN_MARGIN = 4

# Full ITL data area of a detector, pixels (rows, columns): the physical size
# of a detector, whatever the simulated geometry.
_FULL_DETECTOR_PIXELS = (4000, 4072)


class SensorModel:
    """The fixed properties of the simulated sensors of one instrument (ComCam's nine by default).

    Parameters
    ----------
    parameters : `SensorParameters`
        Parameters of the model; a detector's vendor section
        (``vendors.ITL``, ``vendors.E2V``) applies over them
        (`parameters_of`).
    seed : `int`
        Seed (>= 0); the same parameters and seed give the same sensors.
    cache_size : `int`
        Number of per-detector flat-response maps kept in memory.
    instrument : `str`, optional
        "LSSTComCam" (default), "LSSTCam" or "LATISS": whose camera
        description (detectors, vendors, nominal amplifier values) the
        model draws from.

    Raises
    ------
    ValueError
        Raised if the seed is negative or not an integer.
    """

    def __init__(
        self, parameters: SensorParameters, seed: int, cache_size: int = 9, instrument: str = "LSSTComCam"
    ) -> None:
        if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed={seed!r} must be an integer >= 0.")
        self.parameters = parameters
        self.seed = int(seed)
        self.camera = Camera.instance(instrument)
        self._vendor_parameters = {vendor: parameters.for_vendor(vendor) for vendor in VENDORS}
        self.cache_size = cache_size
        self._lock = threading.Lock()
        self._truth: dict[tuple[int, AmpGeometry], DetectorTruth] = {}
        self._responses: collections.OrderedDict[tuple[int, AmpGeometry], np.ndarray] = (
            collections.OrderedDict()
        )

    @classmethod
    def from_yaml(
        cls, path: str | os.PathLike[str] | None, seed: int, instrument: str = "LSSTComCam"
    ) -> "SensorModel":
        """Make a model from a sensor-model file.

        Parameters
        ----------
        path : `str`, `os.PathLike` or `None`
            Sensor-model file, the name of a shipped model, or `None` for
            the shipped default.
        seed : `int`
            Seed.
        instrument : `str`, optional
            The instrument; its shipped default model when ``path`` is None.

        Returns
        -------
        model : `SensorModel`
            The model.
        """
        if path is None:
            path = SensorParameters.default_path(instrument)
        return cls(SensorParameters.from_yaml(path), seed, instrument=instrument)

    def rng(self, *key: int) -> np.random.Generator:
        """A random generator for a stream keyed by integers (seed first).

        Parameters
        ----------
        *key : `int`
            Stream tag and identifiers (detector id, day_obs, ...), >= 0.

        Returns
        -------
        rng : `numpy.random.Generator`
            A generator independent of every other key's.
        """
        return np.random.default_rng([self.seed, *(int(k) for k in key)])

    def detector(self, detector: int | str) -> DetectorInfo:
        """The camera description of a detector, by id or name."""
        return self.camera[detector]

    def geometry_of(self, detector: int | str | DetectorInfo, geometry: AmpGeometry) -> AmpGeometry:
        """The segment geometry of a detector for a requested geometry.

        Parameters
        ----------
        detector : `int`, `str` or `DetectorInfo`
            Detector id, name or description.
        geometry : `AmpGeometry`
            Requested geometry: a standard one ("full", "reduced", of
            either vendor) stands for the detector's vendor's layout of
            that name; any other is returned as given.

        Returns
        -------
        geometry : `AmpGeometry`
            The geometry of the detector's raw segments.
        """
        info = detector if isinstance(detector, DetectorInfo) else self.detector(detector)
        if geometry.name in ("full", "reduced") and geometry.vendor != info.vendor:
            standard = get_geometry(geometry.name, geometry.vendor)
            if geometry.dimensions == standard.dimensions:
                return get_geometry(geometry.name, info.vendor)
        return geometry

    def parameters_of(self, detector: int | str | DetectorInfo) -> SensorParameters:
        """The parameters of a detector: the model's, with its vendor's section applied."""
        info = detector if isinstance(detector, DetectorInfo) else self.detector(detector)
        return self._vendor_parameters[info.vendor]

    # ---- per-amplifier scalars -------------------------------------------------------------

    def _drift_factors(self, info: DetectorInfo, day_obs: int | None) -> dict[str, np.ndarray]:
        """Factor of each drifting quantity on ``day_obs`` (arrays in segment order; only drifting ones)."""
        p = self.parameters_of(info)
        days = p.drift_days(day_obs)
        factors: dict[str, np.ndarray] = {}
        if days == 0:
            return factors
        for i, amp in enumerate(info.amps):
            for key, rate in p.drift_rates(info.name, amp.name).items():
                factors.setdefault(key, np.ones(len(info.amps)))[i] = max(1.0 + rate * days, 0.0)
        return factors

    def _amp_values(self, info: DetectorInfo, day_obs: int | None = None) -> dict[str, np.ndarray]:
        """Per-amplifier values of one detector (arrays in segment order) on ``day_obs``."""
        p = self.parameters_of(info)
        n = len(info.amps)
        rng = self.rng(_STREAM_AMPS, info.id)
        nominal_gain = np.array([a.nominal_gain for a in info.amps])
        nominal_rn = np.array([a.nominal_read_noise for a in info.amps])
        # Draw every quantity in a fixed order so that changing one parameter
        # does not change the others' draws.
        z_gain = rng.standard_normal(n)
        z_rn = np.abs(rng.standard_normal(n))
        z_bias = rng.standard_normal(n)
        z_dark = rng.standard_normal(n)
        z_fw = rng.standard_normal(n)
        z_a00 = rng.standard_normal(n)
        u_start = rng.uniform(0.5, 1.5, n)
        z_qe = rng.standard_normal()
        values = {
            "gain": nominal_gain * (1.0 + p.get("gain.scatter") * z_gain),
            "read_noise": nominal_rn * p.get("read_noise.scale") * (1.0 - p.get("read_noise.scatter") * z_rn),
            "bias_level": p.get("bias.level") + p.get("bias.level_scatter") * z_bias,
            "dark_current": np.maximum(
                p.get("dark.current") * (1.0 + p.get("dark.current_scatter") * z_dark), 0.0
            ),
            "full_well": p.get("saturation.full_well") * (1.0 + p.get("saturation.full_well_scatter") * z_fw),
            "a00": (
                p.get("brighter_fatter.a00") * (1.0 + p.get("brighter_fatter.a00_scatter") * z_a00)
                if p.get("brighter_fatter.enabled")
                else np.zeros(n)
            ),
            "start_amplitude": p.get("bias.start_amplitude") * u_start,
            "qe": np.full(n, 1.0 + p.get("flat.detector_qe_scatter") * z_qe),
        }
        values["read_noise"] = np.maximum(values["read_noise"], 0.0)
        values["a00"] = np.minimum(values["a00"], 0.0)
        for i, amp in enumerate(info.amps):
            for key, value in p.amp_override(info.name, amp.name).items():
                values[key][i] = value
        for key, factor in self._drift_factors(info, day_obs).items():
            values[key] = values[key] * factor
        return values

    def amp_arrays(self, detector: int | str, day_obs: int | None = None) -> dict[str, np.ndarray]:
        """Per-amplifier truth of a detector as arrays in segment order.

        Parameters
        ----------
        detector : `int` or `str`
            Detector id or name.
        day_obs : `int` or `None`, optional
            Day (YYYYMMDD) of drifting quantities; `None` for the
            reference day.

        Returns
        -------
        values : `dict` [`str`, `numpy.ndarray`]
            ``gain`` (e⁻/ADU), ``read_noise`` (e⁻), ``bias_level`` (ADU),
            ``dark_current`` (e⁻/s), ``full_well`` (e⁻), ``a00`` (1/e⁻),
            ``start_amplitude`` (ADU), ``qe`` (the detector's QE, repeated).
        """
        return self._amp_values(self.detector(detector), day_obs)

    # ---- defects ---------------------------------------------------------------------------

    def _defects(self, info: DetectorInfo, geometry: AmpGeometry) -> dict[str, np.ndarray]:
        p = self.parameters_of(info)
        ny, nx = geometry.ny, geometry.nx
        rows, cols = geometry.detector_shape
        rng = self.rng(_STREAM_DEFECTS, info.id, ny, nx)
        # Bad columns: distinct columns away from amplifier edges, each from a
        # trap to the amplifier's far edge (the rows read last).
        n_columns = p.get("defects.bad_columns")
        usable = np.array(
            [x for x in range(cols) if _COLUMN_MARGIN <= x % nx < nx - _COLUMN_MARGIN], dtype=np.int64
        )
        if n_columns > usable.size:
            raise ValueError(
                f"Sensor model {p.source}: parameter defects.bad_columns={n_columns} exceeds the "
                f"{usable.size} usable columns of geometry {geometry.name!r}."
            )
        column_x = np.sort(rng.choice(usable, size=n_columns, replace=False))
        column_top = rng.integers(0, 2, size=n_columns)
        min_rows = min(p.get("defects.bad_column_min_rows"), ny)
        lengths = rng.integers(min_rows, ny + 1, size=n_columns)
        # Bottom amplifiers read from row 0: their far rows are just below the
        # middle; top amplifiers read from the top: their far rows are just above.
        y0 = np.where(column_top == 1, ny, ny - lengths)
        y1 = y0 + lengths - 1
        bad_columns = np.stack([column_x, y0, y1], axis=1).astype(np.int64).reshape(-1, 3)
        low, high = p.get("defects.bad_column_response")
        column_response = rng.uniform(low, high, size=n_columns)

        # Hot and cold pixels: distinct pixels off the bad columns.
        n_hot = p.get("defects.hot_pixels")
        n_cold = p.get("defects.cold_pixels")
        n_pixels = n_hot + n_cold
        if n_pixels > rows * cols // 10:
            raise ValueError(
                f"Sensor model {p.source}: parameters defects.hot_pixels + defects.cold_pixels = "
                f"{n_pixels} are more than a tenth of the {rows * cols} pixels of geometry {geometry.name!r}."
            )
        on_column = np.zeros((rows, cols), dtype=bool)
        for x, c0, c1 in bad_columns:
            on_column[c0 : c1 + 1, x] = True
        chosen: list[int] = []
        taken: set[int] = set()
        while len(chosen) < n_pixels:
            for index in rng.choice(rows * cols, size=2 * (n_pixels - len(chosen)) + 8, replace=False):
                index = int(index)
                if index in taken or on_column.flat[index]:
                    continue
                taken.add(index)
                chosen.append(index)
                if len(chosen) == n_pixels:
                    break
        flat_index = np.array(chosen, dtype=np.int64)
        xy = np.stack([flat_index % cols, flat_index // cols], axis=1).reshape(-1, 2)
        low, high = p.get("defects.hot_current")
        hot_current = np.exp(rng.uniform(np.log(max(low, 1e-12)), np.log(max(high, 1e-12)), size=n_hot))
        low, high = p.get("defects.cold_response")
        cold_response = rng.uniform(low, high, size=n_cold)
        return {
            "hot_pixels": xy[:n_hot],
            "hot_current": hot_current,
            "cold_pixels": xy[n_hot:],
            "cold_response": cold_response,
            "bad_columns": bad_columns,
            "bad_column_response": column_response,
        }

    # ---- flat response ---------------------------------------------------------------------

    def center_mm(self, detector: int | str) -> tuple[float, float]:
        """Focal-plane position (x, y) of a detector's centre, mm.

        Sensor ``S<row><column>`` of a raft sits at column × pitch, row ×
        pitch from the raft's corner sensor S00, and raft ``R<row><column>``
        at column × raft pitch (3 × pitch + 0.5 mm), row × raft pitch from
        R00; the centre of R22_S11 is the origin (ComCam's raft centre;
        LSSTCam's focal-plane centre). LATISS's single sensor (RXX_S00) is
        centred on the optical axis.
        """
        info = self.detector(detector)
        name = info.name_in_raft
        raft = info.raft
        if not (name[1:].isdigit() and raft[1:].isdigit()):
            return (0.0, 0.0)
        pitch = self.parameters.get("flat.detector_pitch")
        raft_pitch = 3 * pitch + 0.5
        return (
            (int(name[2]) - 1) * pitch + (int(raft[2]) - 2) * raft_pitch,
            (int(name[1]) - 1) * pitch + (int(raft[1]) - 2) * raft_pitch,
        )

    def vignetting(self, detector: int | str, geometry: AmpGeometry) -> np.ndarray:
        """Vignetting factor of each pixel of an assembled detector.

        The detector covers its physical area (4072 × 4000 pixels of
        ``flat.pixel_size``) whatever the geometry, so a reduced geometry
        samples the same pattern more coarsely.

        Returns
        -------
        factor : `numpy.ndarray`
            float32 array of the assembled-detector shape.
        """
        p = self.parameters
        rows, cols = self.geometry_of(detector, geometry).detector_shape
        size_mm = p.get("flat.pixel_size") * 1e-3
        cx, cy = self.center_mm(detector)
        x = cx + ((np.arange(cols) + 0.5) / cols - 0.5) * _FULL_DETECTOR_PIXELS[1] * size_mm
        y = cy + ((np.arange(rows) + 0.5) / rows - 0.5) * _FULL_DETECTOR_PIXELS[0] * size_mm
        r2 = (y[:, np.newaxis] ** 2 + x[np.newaxis, :] ** 2) / p.get("flat.vignetting_radius") ** 2
        return (1.0 - p.get("flat.vignetting") * r2).astype(np.float32)

    def flat_response(self, detector: int | str, geometry: AmpGeometry) -> np.ndarray:
        """Response of each pixel to uniform illumination (1 = nominal).

        Vignetting × detector QE × (1 + PRNU), with cold pixels and bad
        columns scaled down by their response. Cached; do not modify.

        Parameters
        ----------
        detector : `int` or `str`
            Detector id or name.
        geometry : `AmpGeometry`
            Geometry of the simulated segments.

        Returns
        -------
        response : `numpy.ndarray`
            float32 array of the assembled-detector shape (read only).
        """
        info = self.detector(detector)
        geometry = self.geometry_of(info, geometry)
        key = (info.id, geometry)
        with self._lock:
            if key in self._responses:
                self._responses.move_to_end(key)
                return self._responses[key]
        truth = self.detector_truth(info.id, geometry)
        with self._lock:
            if key in self._responses:
                return self._responses[key]
        response = self._clean_response(info, geometry)
        return self._add_defects(key, response, truth)

    def _add_defects(
        self, key: tuple[int, AmpGeometry], response: np.ndarray, truth: DetectorTruth
    ) -> np.ndarray:
        """Scale cold pixels and bad columns of a clean response; cache the result."""
        response[truth.cold_pixels[:, 1], truth.cold_pixels[:, 0]] *= truth.cold_pixel_response.astype(
            np.float32
        )
        for (x, y0, y1), factor in zip(truth.bad_columns, truth.bad_column_response):
            response[y0 : y1 + 1, x] *= np.float32(factor)
        response.flags.writeable = False
        with self._lock:
            self._responses[key] = response
            while len(self._responses) > self.cache_size:
                self._responses.popitem(last=False)
        return response

    def _clean_response(self, info: DetectorInfo, geometry: AmpGeometry) -> np.ndarray:
        """Flat response without defects."""
        p = self.parameters_of(info)
        response = self.vignetting(info.id, geometry)
        qe = self._amp_values(info)["qe"][0]
        rng = self.rng(_STREAM_PRNU, info.id, geometry.ny, geometry.nx)
        prnu = rng.standard_normal(geometry.detector_shape, dtype=np.float32)
        prnu *= np.float32(p.get("flat.prnu"))
        prnu += np.float32(1.0)
        response *= prnu
        response *= np.float32(qe)
        return response

    # ---- dark and bias ---------------------------------------------------------------------

    def dark_current(
        self, detector: int | str, geometry: AmpGeometry, day_obs: int | None = None
    ) -> np.ndarray:
        """Dark current of each pixel of an assembled detector, e⁻/s, on ``day_obs``.

        Returns
        -------
        current : `numpy.ndarray`
            float32 array of the assembled-detector shape: each amplifier's
            dark current, hot pixels at their own.
        """
        info = self.detector(detector)
        geometry = self.geometry_of(info, geometry)
        truth = self.detector_truth(info.id, geometry, day_obs)
        current = np.empty(geometry.detector_shape, dtype=np.float32)
        for amp in info.amps:
            current[amp.detector_slice(geometry)] = truth.amps[amp.name].dark_current
        current[truth.hot_pixels[:, 1], truth.hot_pixels[:, 0]] = truth.hot_pixel_current
        return current

    def bias_structure(self, detector: int | str, geometry: AmpGeometry) -> tuple[np.ndarray, np.ndarray]:
        """Fixed bias structure of each amplifier, in readout order.

        Returns
        -------
        rows : `numpy.ndarray`
            (16, raw rows) float32: bias level plus the start-of-readout
            excess of each row of each segment (prescan, data and serial
            overscan alike), ADU.
        columns : `numpy.ndarray`
            (16, nx) float32: offset of each data column (data and parallel
            overscan rows alike), ADU; zero mean per amplifier.
        """
        info = self.detector(detector)
        geometry = self.geometry_of(info, geometry)
        values = self._amp_values(info)
        n_rows = geometry.raw_shape[0]
        p = self.parameters_of(info)
        decay = np.exp(-np.arange(n_rows) / p.get("bias.start_rows"))
        rows = values["bias_level"][:, np.newaxis] + values["start_amplitude"][:, np.newaxis] * decay
        rng = self.rng(_STREAM_COLUMNS, info.id, geometry.nx)
        columns = rng.standard_normal((len(info.amps), geometry.nx)) * p.get("bias.column_pattern")
        columns -= columns.mean(axis=1, keepdims=True)
        return rows.astype(np.float32), columns.astype(np.float32)

    # ---- truth -----------------------------------------------------------------------------

    def detector_truth(
        self, detector: int | str, geometry: AmpGeometry, day_obs: int | None = None
    ) -> DetectorTruth:
        """The truth of one detector in one geometry on one day (cached).

        Parameters
        ----------
        detector : `int` or `str`
            Detector id or name.
        geometry : `AmpGeometry`
            Geometry of the simulated segments (defect positions and the
            flat-response summary depend on it); a standard one stands
            for the detector's vendor's layout (`geometry_of`).
        day_obs : `int` or `None`, optional
            Day (YYYYMMDD) of drifting quantities; `None` for the
            reference day.

        Returns
        -------
        truth : `DetectorTruth`
            The detector's truth.
        """
        truth = self._reference_truth(detector, geometry)
        factors = self._drift_factors(self.detector(detector), day_obs)
        if not factors:
            return truth
        adc_max = float(self.parameters_of(detector).get("saturation.adc_max"))
        amps = {}
        for i, amp in enumerate(self.detector(detector).amps):
            base = truth.amps[amp.name]
            changed = {k: getattr(base, k) * float(factors[k][i]) for k in DRIFT_KEYS if k in factors}
            gain = changed.get("gain", base.gain)
            full_scale = base.bias_level + base.full_well / gain if gain > 0 else adc_max
            changed["saturation"] = min(adc_max, full_scale)
            amps[amp.name] = dataclasses.replace(base, **changed)
        return dataclasses.replace(truth, amps=amps)

    def _reference_truth(self, detector: int | str, geometry: AmpGeometry) -> DetectorTruth:
        """The truth of one detector on the reference day (cached)."""
        info = self.detector(detector)
        geometry = self.geometry_of(info, geometry)
        key = (info.id, geometry)
        with self._lock:
            if key in self._truth:
                return self._truth[key]
        values = self._amp_values(info)
        defects = self._defects(info, geometry)
        clean = self._clean_response(info, geometry)
        defect_free = np.ones(geometry.detector_shape, dtype=bool)
        defect_free[defects["cold_pixels"][:, 1], defects["cold_pixels"][:, 0]] = False
        defect_free[defects["hot_pixels"][:, 1], defects["hot_pixels"][:, 0]] = False
        for x, y0, y1 in defects["bad_columns"]:
            defect_free[y0 : y1 + 1, x] = False
        adc_max = float(self.parameters_of(detector).get("saturation.adc_max"))
        amps = {}
        for i, amp in enumerate(info.amps):
            area = amp.detector_slice(geometry)
            good = clean[area][defect_free[area]]
            gain = float(values["gain"][i])
            amps[amp.name] = AmpTruth(
                name=amp.name,
                gain=gain,
                read_noise=float(values["read_noise"][i]),
                bias_level=float(values["bias_level"][i]),
                dark_current=float(values["dark_current"][i]),
                full_well=float(values["full_well"][i]),
                saturation=min(adc_max, float(values["bias_level"][i] + values["full_well"][i] / gain)),
                a00=float(values["a00"][i]),
                flat_response_mean=float(good.mean(dtype=np.float64)),
                flat_response_min=float(good.min()),
                flat_response_max=float(good.max()),
                nominal_gain=amp.nominal_gain,
                nominal_read_noise=amp.nominal_read_noise,
            )
        truth = DetectorTruth(
            id=info.id,
            name=info.name,
            detector_shape=geometry.detector_shape,
            vendor=info.vendor,
            amps=amps,
            qe=float(values["qe"][0]),
            center_mm=self.center_mm(info.id),
            hot_pixels=defects["hot_pixels"],
            hot_pixel_current=defects["hot_current"],
            cold_pixels=defects["cold_pixels"],
            cold_pixel_response=defects["cold_response"],
            bad_columns=defects["bad_columns"],
            bad_column_response=defects["bad_column_response"],
        )
        with self._lock:
            self._truth[key] = truth
        # The clean response is at hand: keep the full one for flat_response.
        self._add_defects(key, clean, truth)
        return truth
