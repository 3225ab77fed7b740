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

"""Combine processed exposures into a calibration: bias, dark and flat.

`CalibCombineTask` (cp_pipe's ``cpCombine``) reads the processed exposures
of one detector one at a time, divides each by its scale (1 for a bias,
the dark time for a dark, the focal-plane level of the exposure for a
flat), combines them with the per-pixel clipped mean and records the
inputs in the metadata (``CPP_INPUT_i`` exposure ids). Flats use
`CalibCombineByFilterTask` (`lsst.ts.calibrations.cp.cp_combine_by_filter`),
which adds the physical filter and the normalization scales.
"""

__all__ = ["CalibCombineConfig", "CalibCombineConnections", "CalibCombineTask"]

# Connection, config field and run() argument names follow the Science Pipelines (camelCase).
# ruff: noqa: N803, N815

import datetime
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from lsst.pex.config import ChoiceField, Field, ListField
from lsst.pipe.base import PipelineTask, PipelineTaskConfig, PipelineTaskConnections, Struct
from lsst.pipe.base import connectionTypes as cT

from ..repo.camera import Camera
from ..repo.images import MASK_PLANES, Exposure
from .calib_algorithms import combine_stack


class _Handle(Protocol):
    """A deferred dataset: `lsst.daf.butler.DeferredDatasetHandle` or an in-memory one."""

    def get(self) -> Any: ...


class CalibCombineConnections(PipelineTaskConnections, dimensions=("instrument", "detector")):
    """Connections of `CalibCombineTask`: processed exposures in, a calibration out."""

    inputExpHandles = cT.Input(
        name="cpBiasIsrExp",
        doc="Processed exposures to combine.",
        storageClass="ComCamExposure",
        dimensions=("instrument", "exposure", "detector"),
        multiple=True,
        deferLoad=True,
    )
    outputData = cT.Output(
        name="bias",
        doc="The combined calibration.",
        storageClass="ComCamExposure",
        dimensions=("instrument", "detector"),
        isCalibration=True,
    )


class CalibCombineConfig(PipelineTaskConfig, pipelineConnections=CalibCombineConnections):
    """Configuration of `CalibCombineTask`."""

    calibrationType = Field[str](
        doc="Calibration type recorded as OBSTYPE (bias, dark, flat).", default="bias"
    )
    exposureScaling = ChoiceField[str](
        doc="How each input is scaled before combining.",
        default="Unity",
        allowed={
            "Unity": "No scaling (bias; result in the inputs' units).",
            "DarkTime": "Divide by the DARKTIME of each input (dark; result per second).",
            "InputList": "Divide by the per-exposure scale of the normalization (flat).",
        },
    )
    nSigma = Field[float](doc="Clipping threshold of the clipped mean.", default=3.0)
    nIter = Field[int](doc="Clipping passes of the clipped mean.", default=3)
    calcErrorFromInputVariance = Field[bool](
        doc="Propagate the variance plane from the inputs' variance planes (the clipped mean over the "
        "inputs of variance / scale², over the number of values kept), as cp_pipe does by default. "
        "False: the kept values' scatter / their number, an underestimate with few inputs. Inputs "
        "whose variance planes are all zero (an ISR run without doVariance) fall back to the scatter.",
        default=True,
    )
    mask = ListField[str](
        doc="Mask planes whose pixels are left out of the combination (unless masked in every input).",
        default=["SAT", "CR", "NO_DATA"],
    )

    def validate(self) -> None:
        """Check the mask planes exist.

        Raises
        ------
        ValueError
            Raised for an unknown mask plane.
        """
        super().validate()
        unknown = [name for name in self.mask if name not in MASK_PLANES]
        if unknown:
            raise ValueError(
                f"CalibCombineConfig.mask: unknown planes {unknown}; planes are {sorted(MASK_PLANES)}."
            )


def provenance_metadata(
    calibration_type: str, input_metadata: Sequence[Mapping[str, Any]], scales: Sequence[float]
) -> dict[str, Any]:
    """Return the metadata of a combined calibration.

    Parameters
    ----------
    calibration_type : `str`
        Calibration type (bias, dark, flat).
    input_metadata : `~collections.abc.Sequence` [`~collections.abc.Mapping`]
        Metadata of the inputs, in combination order.
    scales : `~collections.abc.Sequence` [`float`]
        Scale each input was divided by.

    Returns
    -------
    metadata : `dict` [`str`, `typing.Any`]
        Creation date and time, type, detector, filter, units and per input
        ``CPP_INPUT_i`` (exposure id), ``CPP_INPUT_DATE_i``,
        ``CPP_INPUT_EXPT_i`` and ``CPP_INPUT_SCALE_i``.
    """
    first = input_metadata[0]
    now = datetime.datetime.now(datetime.UTC)
    detector_id = int(first["DETECTOR"])
    metadata: dict[str, Any] = {
        "INSTRUME": Camera.of_metadata(first).name,
        "OBSTYPE": calibration_type,
        "CALIB_CREATION_DATE": now.strftime("%Y-%m-%d"),
        "CALIB_CREATION_TIME": now.strftime("%H:%M:%S"),
        "CALIBDATE": str(first.get("DATE-OBS", "")),
        "DETECTOR": detector_id,
        "DET_NAME": Camera.of_metadata(first)[detector_id].name,
        "DET_SER": Camera.of_metadata(first)[detector_id].serial,
        "FILTER": str(first.get("FILTER", "")),
        "CPP_N_INPUTS": len(input_metadata),
    }
    for i, (md, scale) in enumerate(zip(input_metadata, scales)):
        metadata[f"CPP_INPUT_{i}"] = int(md["EXPOSURE"])
        metadata[f"CPP_INPUT_DATE_{i}"] = str(md.get("DATE-OBS", ""))
        metadata[f"CPP_INPUT_EXPT_{i}"] = float(md.get("EXPTIME", 0.0))
        metadata[f"CPP_INPUT_SCALE_{i}"] = float(scale)
    return metadata


class CalibCombineTask(PipelineTask):
    """Combine the processed exposures of one detector into a calibration.

    Parameters
    ----------
    **kwargs
        Passed to `lsst.pipe.base.PipelineTask`.
    """

    ConfigClass = CalibCombineConfig
    _DefaultName = "cpCombine"

    config: CalibCombineConfig

    def run(self, inputExpHandles: Sequence[_Handle], inputScales: Mapping[str, Any] | None = None) -> Struct:
        """Combine the inputs.

        Parameters
        ----------
        inputExpHandles : `~collections.abc.Sequence`
            Handles of the processed exposures (``get()`` returns an
            `Exposure`); read one at a time, not modified.
        inputScales : `~collections.abc.Mapping`, optional
            Normalization scales (``expScale``: exposure id → scale), needed
            when ``exposureScaling`` is "InputList".

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``outputData``: the combined `Exposure`.

        Raises
        ------
        ValueError
            Raised if there are no inputs, their units or detectors differ,
            or a scale is missing.
        """
        config = self.config
        if len(inputExpHandles) == 0:
            raise ValueError(f"{config.calibrationType}: no input exposures to combine.")
        bad_bits = 0
        for name in config.mask:
            bad_bits |= MASK_PLANES[name]
        images: list[np.ndarray] = []
        variances: list[np.ndarray] = []
        masks: list[np.ndarray] = []
        metadata_list: list[dict[str, Any]] = []
        input_mask_bits: np.ndarray | None = None
        for handle in inputExpHandles:
            exposure: Exposure = handle.get()
            images.append(exposure.image.array)
            if config.calcErrorFromInputVariance:
                variances.append(exposure.variance.array)
            masks.append((exposure.mask.array & bad_bits) != 0)
            bits = exposure.mask.array & (MASK_PLANES["BAD"] | MASK_PLANES["SAT"])
            input_mask_bits = bits if input_mask_bits is None else input_mask_bits | bits
            metadata_list.append(dict(exposure.metadata))
        units = {str(md.get("LSST ISR UNITS", "")) for md in metadata_list}
        detectors = {str(md.get("DETECTOR")) for md in metadata_list}
        if len(units) != 1 or len(detectors) != 1:
            raise ValueError(
                f"{config.calibrationType}: inputs mix units {sorted(units)} or detectors "
                f"{sorted(detectors)}; combine exposures of one detector processed alike."
            )
        scales = [self._scale(md, inputScales) for md in metadata_list]
        propagate = config.calcErrorFromInputVariance and any(plane.any() for plane in variances)
        if config.calcErrorFromInputVariance and not propagate:
            self.log.warning(
                "The %s inputs have no variance (all zero): the combined variance is the inputs' "
                "scatter instead.",
                config.calibrationType,
            )
        combined = combine_stack(
            images,
            masks,
            scales,
            variances=variances if propagate else None,
            nsigma=config.nSigma,
            n_iter=config.nIter,
        )
        del images, masks, variances
        mask = np.zeros(combined.image.shape, dtype=np.int32)
        if input_mask_bits is not None:
            mask |= input_mask_bits & MASK_PLANES["BAD"]
        mask[combined.all_masked] |= MASK_PLANES["SUSPECT"]
        mask[combined.no_data] |= MASK_PLANES["NO_DATA"] | MASK_PLANES["BAD"]
        metadata = provenance_metadata(config.calibrationType, metadata_list, scales)
        unit = units.pop()
        if config.exposureScaling == "DarkTime":
            unit = f"{unit}/s"
        elif config.exposureScaling == "InputList":
            unit = ""
        metadata["BUNIT"] = unit
        metadata["LSST ISR UNITS"] = unit
        metadata["LSST CALIB COMBINE N_SUSPECT"] = int(combined.all_masked.sum())
        self.log.info(
            "Combined %d %s inputs of detector %s (%d pixels masked in every input).",
            len(scales),
            config.calibrationType,
            metadata["DET_NAME"],
            metadata["LSST CALIB COMBINE N_SUSPECT"],
        )
        return Struct(outputData=Exposure(combined.image, mask, combined.variance, metadata))

    def _scale(self, metadata: Mapping[str, Any], input_scales: Mapping[str, Any] | None) -> float:
        """Return the scale of one input.

        Raises
        ------
        ValueError
            Raised if the scale cannot be found or is not positive.
        """
        scaling = self.config.exposureScaling
        if scaling == "Unity":
            return 1.0
        if scaling == "DarkTime":
            dark_time = float(metadata.get("DARKTIME", float("nan")))
            if not dark_time > 0:
                raise ValueError(
                    f"Exposure {metadata.get('EXPOSURE')} has DARKTIME={dark_time}: a dark needs a positive "
                    "dark time."
                )
            return dark_time
        if input_scales is None:
            raise ValueError("exposureScaling='InputList' needs inputScales (the flat normalization).")
        exposure = str(metadata["EXPOSURE"])
        try:
            return float(input_scales["expScale"][exposure])
        except KeyError:
            raise ValueError(
                f"The normalization scales have no entry for exposure {exposure}; they cover "
                f"{sorted(input_scales.get('expScale', {}))}."
            ) from None
