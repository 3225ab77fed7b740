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

"""The photon transfer curve of one detector, or the values of one flat pair.

`PhotonTransferCurveDataset` keeps ip_isr's attribute names so code written
for the LSST Science Pipelines reads the same here (``ptc.gain["C10"]``,
``ptc.noise["C10"]``). Every per-amplifier attribute is a dict keyed by
amplifier name (C10 ... C17, C07 ... C00). ``units`` states the unit of each
quantity; the defaults are those of a PTC solve (gain e⁻/ADU, noise e⁻,
means ADU, variances ADU²). A producer that records another unit (for
example the noise of a single pair in ADU) sets ``units["noise"]``.

The JSON form (`to_json` / `from_json`) is a plain object of these
attributes; arrays become lists and NaN becomes ``null``.
"""

__all__ = ["DEFAULT_UNITS", "PhotonTransferCurveDataset"]

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

# Per-amplifier attributes holding 1-D float arrays (one value per pair or fit parameter).
_ARRAY_FIELDS = (
    "rawExpTimes",
    "rawMeans",
    "rawVars",
    "ptcFitPars",
    "ptcFitParsError",
    "finalVars",
    "finalModelVars",
    "finalMeans",
)
# Per-amplifier attributes holding one float.
_SCALAR_FIELDS = ("gain", "gainErr", "noise", "noiseErr", "ptcFitChiSq", "ptcTurnoff")

DEFAULT_UNITS: dict[str, str] = {
    "gain": "electron/adu",
    "gainErr": "electron/adu",
    "noise": "electron",
    "noiseErr": "electron",
    "rawExpTimes": "s",
    "rawMeans": "adu",
    "rawVars": "adu^2",
    "finalMeans": "adu",
    "finalVars": "adu^2",
    "finalModelVars": "adu^2",
    "ptcTurnoff": "adu",
    "covariances": "adu^2",
}


def _float_or_none(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _float_list(values: Iterable[Any]) -> list[float | None]:
    return [_float_or_none(v) for v in np.asarray(values, dtype=np.float64).ravel()]


class PhotonTransferCurveDataset:
    """Photon transfer curve measurements and fit results per amplifier.

    Parameters
    ----------
    ampNames : `~collections.abc.Iterable` [`str`]
        Amplifier names; every per-amplifier dict gets an entry for each,
        with empty arrays and NaN scalars until filled.
    ptcFitType : `str`
        Fit type: "EXPAPPROXIMATION", "FULLCOVARIANCE", "POLYNOMIAL" or
        "" when no fit was made (single pairs).
    metadata : `~collections.abc.Mapping` [`str`, `typing.Any`], optional
        Header-like metadata (scalars). Copied.
    units : `~collections.abc.Mapping` [`str`, `str`], optional
        Units overriding `DEFAULT_UNITS` per attribute name.

    Notes
    -----
    Attributes, all dicts keyed by amplifier name unless stated:

    ``inputExpIdPairs`` : `list` [`tuple` [`int`, `int`]]
        Exposure id pairs, one per measured pair.
    ``expIdMask`` : `numpy.ndarray` of `bool`
        Per pair, whether the pair was used in the fit.
    ``rawExpTimes``, ``rawMeans``, ``rawVars`` : `numpy.ndarray`
        Per pair: exposure time, mean signal, variance.
    ``gain``, ``gainErr``, ``noise``, ``noiseErr`` : `float`
        Gain and read noise with their errors.
    ``ptcFitPars``, ``ptcFitParsError`` : `numpy.ndarray`
        Fit parameters (EXPAPPROXIMATION: a00, gain, noise²) and errors.
    ``ptcFitChiSq``, ``ptcTurnoff`` : `float`
        Reduced chi² of the fit and the highest mean kept.
    ``finalVars``, ``finalModelVars``, ``finalMeans`` : `numpy.ndarray`
        Kept points and the model at them.
    ``covariances`` : `numpy.ndarray`, optional
        Per pair, the covariance matrix (pairs × lags × lags); absent
        from the dict when not measured.
    """

    def __init__(
        self,
        ampNames: Iterable[str] = (),  # noqa: N803 (ip_isr names)
        ptcFitType: str = "EXPAPPROXIMATION",  # noqa: N803
        metadata: Mapping[str, Any] | None = None,
        units: Mapping[str, str] | None = None,
    ) -> None:
        self.ampNames: list[str] = [str(name) for name in ampNames]
        self.ptcFitType = str(ptcFitType)
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.units: dict[str, str] = {**DEFAULT_UNITS, **dict(units or {})}
        self.inputExpIdPairs: dict[str, list[tuple[int, int]]] = {name: [] for name in self.ampNames}
        self.expIdMask: dict[str, np.ndarray] = {name: np.zeros(0, dtype=bool) for name in self.ampNames}
        for field in _ARRAY_FIELDS:
            setattr(self, field, {name: np.zeros(0, dtype=np.float64) for name in self.ampNames})
        for field in _SCALAR_FIELDS:
            setattr(self, field, {name: math.nan for name in self.ampNames})
        self.covariances: dict[str, np.ndarray] = {}

    # Attribute declarations for type checkers (set in __init__).
    rawExpTimes: dict[str, np.ndarray]  # noqa: N815
    rawMeans: dict[str, np.ndarray]  # noqa: N815
    rawVars: dict[str, np.ndarray]  # noqa: N815
    ptcFitPars: dict[str, np.ndarray]  # noqa: N815
    ptcFitParsError: dict[str, np.ndarray]  # noqa: N815
    finalVars: dict[str, np.ndarray]  # noqa: N815
    finalModelVars: dict[str, np.ndarray]  # noqa: N815
    finalMeans: dict[str, np.ndarray]  # noqa: N815
    gain: dict[str, float]
    gainErr: dict[str, float]  # noqa: N815
    noise: dict[str, float]
    noiseErr: dict[str, float]  # noqa: N815
    ptcFitChiSq: dict[str, float]  # noqa: N815
    ptcTurnoff: dict[str, float]  # noqa: N815

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-compatible dict (lists, NaN as `None`).

        Returns
        -------
        data : `dict` [`str`, `typing.Any`]
            All attributes.
        """
        data: dict[str, Any] = {
            "ampNames": list(self.ampNames),
            "ptcFitType": self.ptcFitType,
            "metadata": dict(self.metadata),
            "units": dict(self.units),
            "inputExpIdPairs": {
                amp: [[int(a), int(b)] for a, b in pairs] for amp, pairs in self.inputExpIdPairs.items()
            },
            "expIdMask": {amp: [bool(v) for v in np.asarray(m).ravel()] for amp, m in self.expIdMask.items()},
        }
        for field in _ARRAY_FIELDS:
            data[field] = {amp: _float_list(v) for amp, v in getattr(self, field).items()}
        for field in _SCALAR_FIELDS:
            data[field] = {amp: _float_or_none(v) for amp, v in getattr(self, field).items()}
        data["covariances"] = {
            amp: {"shape": list(np.shape(v)), "values": _float_list(v)} for amp, v in self.covariances.items()
        }
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PhotonTransferCurveDataset":
        """Build a dataset from the output of `to_dict`.

        Parameters
        ----------
        data : `~collections.abc.Mapping` [`str`, `typing.Any`]
            The dict.

        Returns
        -------
        ptc : `PhotonTransferCurveDataset`
            The dataset.

        Raises
        ------
        ValueError
            Raised if ``ampNames`` is missing.
        """
        if "ampNames" not in data:
            raise ValueError("A PhotonTransferCurveDataset dict needs 'ampNames'.")
        ptc = cls(
            data["ampNames"],
            ptcFitType=data.get("ptcFitType", ""),
            metadata=data.get("metadata"),
            units=data.get("units"),
        )
        ptc.inputExpIdPairs = {
            amp: [(int(a), int(b)) for a, b in pairs]
            for amp, pairs in data.get("inputExpIdPairs", {}).items()
        }
        ptc.expIdMask = {amp: np.asarray(v, dtype=bool) for amp, v in data.get("expIdMask", {}).items()}
        for field in _ARRAY_FIELDS:
            values = data.get(field, {})
            setattr(ptc, field, {amp: np.array(v, dtype=np.float64) for amp, v in values.items()})
        for field in _SCALAR_FIELDS:
            values = data.get(field, {})
            setattr(ptc, field, {amp: math.nan if v is None else float(v) for amp, v in values.items()})
        ptc.covariances = {
            amp: np.array(v["values"], dtype=np.float64).reshape(v["shape"])
            for amp, v in data.get("covariances", {}).items()
        }
        return ptc

    def to_json(self) -> str:
        """Return the JSON form (strict JSON: no NaN literals)."""
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> "PhotonTransferCurveDataset":
        """Build a dataset from its JSON form.

        Parameters
        ----------
        text : `str` or `bytes`
            JSON written by `to_json`.

        Returns
        -------
        ptc : `PhotonTransferCurveDataset`
            The dataset.

        Raises
        ------
        ValueError
            Raised if the text is not valid JSON of this form.
        """
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("PhotonTransferCurveDataset JSON must be an object.")
        return cls.from_dict(data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PhotonTransferCurveDataset):
            return NotImplemented
        return self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PhotonTransferCurveDataset(ptcFitType={self.ptcFitType!r}, ampNames={self.ampNames})"
