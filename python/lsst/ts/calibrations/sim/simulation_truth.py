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

"""The truth of a simulated data set, written beside the raws (``truth.yaml``).

The file format is documented in ``doc/sim/truth.rst``. `load_truth` reads
it back as a `SimulationTruth`; benchmarks and tests compare pipeline
results with it.
"""

__all__ = ["TRUTH_FILE_NAME", "TRUTH_VERSION", "SimulationTruth", "load_truth"]

import dataclasses
import os
from pathlib import Path
from typing import Any

import yaml

from ..repo.camera import AmpGeometry, get_geometry
from .detector_truth import DetectorTruth
from .sensor_model import SensorModel

# Name of the truth file in a simulated data set's folder.
TRUTH_FILE_NAME = "truth.yaml"

# Version of the truth file format.
TRUTH_VERSION = 1

_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclasses.dataclass
class SimulationTruth:
    """What the simulator put into a data set.

    Parameters
    ----------
    seed : `int`
        Seed of the sensor model.
    sensor_model : `str`
        Name of the sensor model.
    sensor_model_file : `str`
        Where the sensor model was read from.
    parameters : `dict` [`str`, `typing.Any`]
        The sensor model's parameters (merged over the default file).
    geometry : `AmpGeometry`
        Geometry asked for; a standard one ("full", "reduced") stands for
        each detector's vendor's layout of it (`geometry_of`).
    detectors : `dict` [`str`, `DetectorTruth`]
        Truth per detector name.
    exposures : `list` [`dict` [`str`, `typing.Any`]]
        One entry per exposure (see ``doc/sim/truth.rst``).
    day_obs : `int` or `None`, optional
        Day (YYYYMMDD) whose values of drifting quantities the detectors
        hold; `None` for the sensor model's reference day.
    """

    seed: int
    sensor_model: str
    sensor_model_file: str
    parameters: dict[str, Any]
    geometry: AmpGeometry
    detectors: dict[str, DetectorTruth]
    exposures: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    day_obs: int | None = None

    @classmethod
    def from_model(
        cls,
        model: SensorModel,
        geometry: AmpGeometry,
        detectors: list[int | str],
        day_obs: int | None = None,
    ) -> "SimulationTruth":
        """The truth of some detectors of a sensor model (no exposures yet).

        Parameters
        ----------
        model : `SensorModel`
            The sensor model.
        geometry : `AmpGeometry`
            Geometry of the raw segments: a standard one stands for each
            detector's vendor's layout of it (an e2v detector's truth is
            in e2v segments when the run mixes vendors).
        detectors : `list` [`int` or `str`]
            Detector ids or names.
        day_obs : `int` or `None`, optional
            Day (YYYYMMDD) of the data: drifting quantities take that day's
            values; `None` for the reference day.

        Returns
        -------
        truth : `SimulationTruth`
            The truth.
        """
        truths = [model.detector_truth(d, geometry, day_obs) for d in detectors]
        return cls(
            seed=model.seed,
            sensor_model=model.parameters.name,
            sensor_model_file=model.parameters.source,
            parameters=model.parameters.to_dict(),
            geometry=geometry,
            detectors={t.name: t for t in truths},
            day_obs=day_obs,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain values, as written to the file."""
        return {
            "truth_version": TRUTH_VERSION,
            "seed": self.seed,
            "sensor_model": self.sensor_model,
            "sensor_model_file": self.sensor_model_file,
            "day_obs": self.day_obs,
            "geometry": dataclasses.asdict(self.geometry),
            "geometries": {
                vendor: dataclasses.asdict(self.vendor_geometry(vendor)) for vendor in self.vendors
            },
            "units": {
                "gain": "electron/adu",
                "read_noise": "electron",
                "bias_level": "adu",
                "saturation": "adu",
                "dark_current": "electron/s",
                "full_well": "electron",
                "a00": "1/electron",
                "flat_response": "relative",
                "flat_flux": "electron/s",
                "pixel_positions": "assembled detector (x column, y row), 0-based",
            },
            "detectors": {name: truth.to_dict() for name, truth in self.detectors.items()},
            "exposures": self.exposures,
            "parameters": self.parameters,
        }

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the truth file (to a temporary name, then renamed).

        Parameters
        ----------
        path : `str` or `os.PathLike`
            File to write; a folder gets ``truth.yaml`` inside it.
        """
        path = Path(path)
        if path.is_dir():
            path = path / TRUTH_FILE_NAME
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            with open(tmp, "w") as f:
                yaml.dump(self.to_dict(), f, Dumper=_Dumper, sort_keys=False, default_flow_style=None)
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "<dict>") -> "SimulationTruth":
        """Rebuild from `to_dict` output.

        Parameters
        ----------
        values : `dict` [`str`, `typing.Any`]
            Values as in a truth file.
        source : `str`
            Where they come from, for error messages.

        Returns
        -------
        truth : `SimulationTruth`
            The truth.

        Raises
        ------
        ValueError
            Raised if the values are not a truth of a known version.
        """
        if not isinstance(values, dict) or values.get("truth_version") != TRUTH_VERSION:
            version = values.get("truth_version") if isinstance(values, dict) else None
            raise ValueError(
                f"{source} is not a simulation truth file of version {TRUTH_VERSION} "
                f"(truth_version={version!r})."
            )
        try:
            return cls(
                seed=int(values["seed"]),
                sensor_model=str(values["sensor_model"]),
                sensor_model_file=str(values["sensor_model_file"]),
                parameters=dict(values["parameters"]),
                geometry=AmpGeometry(**values["geometry"]),
                detectors={name: DetectorTruth.from_dict(name, d) for name, d in values["detectors"].items()},
                exposures=list(values.get("exposures") or []),
                day_obs=int(values["day_obs"]) if values.get("day_obs") is not None else None,
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{source} is not a valid simulation truth file: {e!r}") from e

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> "SimulationTruth":
        """Read a truth file.

        Parameters
        ----------
        path : `str` or `os.PathLike`
            The file, or the data set's folder holding ``truth.yaml``.

        Returns
        -------
        truth : `SimulationTruth`
            The truth.

        Raises
        ------
        FileNotFoundError
            Raised if there is no such file.
        ValueError
            Raised if the file is not a valid truth file.
        """
        path = Path(path)
        if path.is_dir():
            path = path / TRUTH_FILE_NAME
        with open(path) as f:
            try:
                values = yaml.load(f, Loader=_Loader)
            except yaml.YAMLError as e:
                raise ValueError(f"{path} is not valid YAML: {e}") from e
        return cls.from_dict(values, source=str(path))

    @property
    def vendors(self) -> tuple[str, ...]:
        """Vendors of the detectors in the truth, each once, in detector order."""
        return tuple(dict.fromkeys(d.vendor for d in self.detectors.values()))

    def vendor_geometry(self, vendor: str) -> AmpGeometry:
        """The segment geometry of a vendor's detectors in this data set.

        Parameters
        ----------
        vendor : `str`
            "ITL" or "E2V".

        Returns
        -------
        geometry : `AmpGeometry`
            The vendor's layout of `geometry` if that is a standard one,
            else `geometry` itself.
        """
        g = self.geometry
        if g.name in ("full", "reduced") and g.vendor != vendor:
            if g.dimensions == get_geometry(g.name, g.vendor).dimensions:
                return get_geometry(g.name, vendor)
        return g

    def geometry_of(self, detector: str) -> AmpGeometry:
        """The segment geometry of one detector (its vendor's layout).

        Parameters
        ----------
        detector : `str`
            Detector name.

        Returns
        -------
        geometry : `AmpGeometry`
            The geometry its raws and pixel positions are in.

        Raises
        ------
        KeyError
            Raised if the detector is not in the truth.
        """
        if detector not in self.detectors:
            raise KeyError(f"Detector {detector!r} is not in this truth; it has {sorted(self.detectors)}.")
        return self.vendor_geometry(self.detectors[detector].vendor)

    def amp(self, detector: str, amp: str) -> Any:
        """The `AmpTruth` of one amplifier.

        Raises
        ------
        KeyError
            Raised if the detector or amplifier is not in the truth.
        """
        if detector not in self.detectors:
            raise KeyError(f"Detector {detector!r} is not in this truth; it has {sorted(self.detectors)}.")
        return self.detectors[detector].amps[amp]

    def exposures_of_type(self, image_type: str) -> list[dict[str, Any]]:
        """The exposure entries of one image type (e.g. "FLAT")."""
        return [e for e in self.exposures if e["image_type"] == image_type.upper()]


def load_truth(path: str | os.PathLike[str]) -> SimulationTruth:
    """Read the truth of a simulated data set.

    Parameters
    ----------
    path : `str` or `os.PathLike`
        ``truth.yaml`` or the folder holding it.

    Returns
    -------
    truth : `SimulationTruth`
        The truth.
    """
    return SimulationTruth.read(path)
