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

"""Instrument signature removal: raw amplifier segments to a calibrated detector image.

`IsrTask` removes the serial overscan row by row and (optionally) the
parallel overscan column by column from each amplifier segment, assembles
the 16 data areas into the detector, converts ADU to electrons with the
camera's nominal gains, masks saturated pixels and defects, subtracts a
bias and a dark scaled by the dark time, divides by a flat and computes the
variance plane. The algorithms are the pure functions of
`lsst.ts.calibrations.cp.isr_algorithms`.

Crosstalk correction (``doCrosstalk``) is accepted so command lines written
for the LSST Science Pipelines work; LSSTComCam crosstalk is not simulated,
so it does nothing here.
"""

__all__ = ["IsrTask", "IsrTaskConfig", "IsrTaskConnections"]

# Connection, config field and run() argument names follow the Science Pipelines (camelCase).
# ruff: noqa: N803, N815

from typing import Any

import numpy as np
from lsst.pex.config import Field
from lsst.pipe.base import PipelineTask, PipelineTaskConfig, PipelineTaskConnections, Struct
from lsst.pipe.base import connectionTypes as cT

from ..repo.exposure_id import make_exposure_id
from ..repo.images import MASK_PLANES, Exposure
from ..repo.raw import RawImage
from .isr_algorithms import overscan_levels, variance_plane

# Units of the output image, recorded in its metadata.
UNITS_KEY = "LSST ISR UNITS"


class IsrTaskConnections(
    PipelineTaskConnections,
    dimensions=("instrument", "exposure", "detector"),
):
    """Connections of `IsrTask`: a raw in, a processed exposure out.

    Prerequisite calibrations whose ``do*`` switch is off are removed, so a
    pipeline needs only the calibrations it uses.
    """

    ccdExposure = cT.Input(
        name="raw",
        doc="Raw image of one detector.",
        storageClass="ComCamRawImage",
        dimensions=("instrument", "exposure", "detector"),
    )
    bias = cT.PrerequisiteInput(
        name="bias",
        doc="Combined bias (e⁻).",
        storageClass="ComCamExposure",
        dimensions=("instrument", "detector"),
        isCalibration=True,
    )
    dark = cT.PrerequisiteInput(
        name="dark",
        doc="Combined dark (e⁻/s).",
        storageClass="ComCamExposure",
        dimensions=("instrument", "detector"),
        isCalibration=True,
    )
    flat = cT.PrerequisiteInput(
        name="flat",
        doc="Combined flat (normalized).",
        storageClass="ComCamExposure",
        dimensions=("instrument", "detector", "physical_filter"),
        isCalibration=True,
    )
    defects = cT.PrerequisiteInput(
        name="defects",
        doc="Defects of the detector.",
        storageClass="ComCamDefects",
        dimensions=("instrument", "detector"),
        isCalibration=True,
    )
    outputExposure = cT.Output(
        name="postISRCCD",
        doc="The processed exposure; each pipeline names it (cpBiasIsrExp, ...).",
        storageClass="ComCamExposure",
        dimensions=("instrument", "exposure", "detector"),
    )

    def __init__(self, *, config: "IsrTaskConfig | None" = None) -> None:
        super().__init__(config=config)
        if config is None:
            return
        if not config.doBias:
            del self.bias
        if not config.doDark:
            del self.dark
        if not config.doFlat:
            del self.flat
        if not config.doDefect:
            del self.defects


class IsrTaskConfig(PipelineTaskConfig, pipelineConnections=IsrTaskConnections):
    """Configuration of `IsrTask`."""

    doOverscan = Field[bool](doc="Subtract the serial overscan, row by row.", default=True)
    overscanSkipLeading = Field[int](
        doc="Serial overscan columns skipped after the data (charge transfer trail).", default=3
    )
    overscanSkipTrailing = Field[int](doc="Serial overscan columns skipped at the segment's end.", default=3)
    overscanNSigma = Field[float](
        doc="Overscan outlier rejection threshold (robust standard deviations).", default=4.0
    )
    doParallelOverscan = Field[bool](
        doc="Subtract the parallel overscan, column by column, after the serial overscan. "
        "Each column's level is a median of the parallel overscan rows, which adds its own noise; "
        "fixed column structure is removed by the bias in any case.",
        default=False,
    )
    parallelOverscanSkipLeading = Field[int](
        doc="Parallel overscan rows skipped after the data (charge transfer trail).", default=3
    )
    doAssembleCcd = Field[bool](
        doc="Assemble the amplifiers into the detector. Must be True: every later step works on the "
        "assembled detector.",
        default=True,
        check=lambda value: bool(value),
    )
    doApplyGains = Field[bool](
        doc="Convert ADU to electrons with the camera's nominal gains; False keeps ADU (the PTC).",
        default=True,
    )
    doCrosstalk = Field[bool](
        doc="Crosstalk correction. Accepted for command-line compatibility; LSSTComCam crosstalk is not "
        "simulated, so this does nothing.",
        default=False,
    )
    doSaturation = Field[bool](doc="Mask saturated pixels (SAT).", default=True)
    saturation = Field[float](
        doc="Saturation level: overscan-subtracted ADU at or above which a pixel is SAT.", default=100_000.0
    )
    doBias = Field[bool](doc="Subtract the combined bias (prerequisite 'bias').", default=True)
    doDark = Field[bool](
        doc="Subtract the combined dark times the dark time (prerequisite 'dark').", default=True
    )
    doFlat = Field[bool](doc="Divide by the combined flat (prerequisite 'flat').", default=True)
    doDefect = Field[bool](doc="Mask defects as BAD (prerequisite 'defects').", default=True)
    doSetBadRegions = Field[bool](doc="Replace BAD pixels by the median of the good pixels.", default=False)
    doVariance = Field[bool](
        doc="Compute the variance plane: image/gain + (readNoise/gain)² in the output units.",
        default=True,
    )
    doEmpiricalReadNoise = Field[bool](
        doc="Use the overscan residual standard deviation as the read noise of the variance plane; "
        "False uses the camera's nominal read noise.",
        default=False,
    )

    def validate(self) -> None:
        """Check the switches are consistent.

        Raises
        ------
        ValueError
            Raised if the dark or flat is applied without the bias.
        """
        super().validate()
        if (self.doDark or self.doFlat) and not self.doBias:
            raise ValueError(
                "IsrTaskConfig: doDark and doFlat need doBias=True (a dark or flat applies to "
                "bias-subtracted pixels)."
            )


class IsrTask(PipelineTask):
    """Remove the instrument signature from a raw LSSTComCam detector image.

    Parameters
    ----------
    **kwargs
        Passed to `lsst.pipe.base.PipelineTask`.
    """

    ConfigClass = IsrTaskConfig
    _DefaultName = "isr"

    config: IsrTaskConfig

    def run(
        self,
        ccdExposure: RawImage,
        bias: Exposure | None = None,
        dark: Exposure | None = None,
        flat: Exposure | None = None,
        defects: Any | None = None,
    ) -> Struct:
        """Process one raw detector image.

        Parameters
        ----------
        ccdExposure : `lsst.ts.calibrations.repo.raw.RawImage`
            The raw image; not modified.
        bias : `lsst.ts.calibrations.repo.images.Exposure`, optional
            Combined bias (e⁻); needed if ``doBias``.
        dark : `lsst.ts.calibrations.repo.images.Exposure`, optional
            Combined dark (e⁻/s); needed if ``doDark``.
        flat : `lsst.ts.calibrations.repo.images.Exposure`, optional
            Combined flat; needed if ``doFlat``.
        defects : `lsst.ts.calibrations.repo.defects.Defects`, optional
            Defects; needed if ``doDefect``.

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``outputExposure``: the processed `Exposure`, in electrons
            (``doApplyGains``) or ADU.

        Raises
        ------
        ValueError
            Raised if a calibration that is switched on is missing or does
            not match the raw's geometry.
        """
        config = self.config
        raw = ccdExposure
        geometry = raw.geometry
        detector = raw.detector
        for name, used, value in (
            ("bias", config.doBias, bias),
            ("dark", config.doDark, dark),
            ("flat", config.doFlat, flat),
            ("defects", config.doDefect, defects),
        ):
            if used and value is None:
                raise ValueError(
                    f"IsrTask: do{name.capitalize() if name != 'defects' else 'Defect'}=True but no "
                    f"'{name}' was given for detector {detector.name}: certify one or switch it off."
                )
        metadata: dict[str, Any] = dict(raw.header)
        if config.doCrosstalk:
            self.log.info("doCrosstalk=True: LSSTComCam crosstalk is not simulated; no correction applied.")

        amp_data: dict[str, np.ndarray] = {}
        amp_sat: dict[str, np.ndarray] = {}
        empirical_noise: dict[str, float] = {}
        for amp in detector.amps:
            segment = raw.amp_data[amp.name].astype(np.float64)
            if config.doOverscan:
                serial = overscan_levels(
                    segment[:, geometry.prescan + geometry.nx :],
                    axis=1,
                    skip_leading=config.overscanSkipLeading,
                    skip_trailing=config.overscanSkipTrailing,
                    nsigma=config.overscanNSigma,
                )
                segment -= serial.levels[:, np.newaxis]
                metadata[f"LSST ISR OVERSCAN SERIAL MEDIAN {amp.name}"] = serial.median
                metadata[f"LSST ISR OVERSCAN RESIDUAL SERIAL STDEV {amp.name}"] = serial.residual_stdev
                empirical_noise[amp.name] = serial.residual_stdev
                if config.doParallelOverscan:
                    parallel = overscan_levels(
                        segment[geometry.ny :, geometry.prescan : geometry.prescan + geometry.nx],
                        axis=0,
                        skip_leading=config.parallelOverscanSkipLeading,
                        skip_trailing=0,
                        nsigma=config.overscanNSigma,
                    )
                    segment[:, geometry.prescan : geometry.prescan + geometry.nx] -= parallel.levels
                    metadata[f"LSST ISR OVERSCAN PARALLEL MEDIAN {amp.name}"] = parallel.median
                    metadata[f"LSST ISR OVERSCAN RESIDUAL PARALLEL STDEV {amp.name}"] = (
                        parallel.residual_stdev
                    )
            data = segment[geometry.data_slice].astype(np.float32)
            amp_data[amp.name] = data
            amp_sat[amp.name] = data >= config.saturation

        image = detector.assemble(amp_data, geometry)
        del amp_data
        mask = np.zeros(image.shape, dtype=np.int32)
        if config.doSaturation:
            mask[detector.assemble(amp_sat, geometry)] |= MASK_PLANES["SAT"]

        # Per amplifier: e- per output unit (1 in electrons, the gain in ADU) and read noise (e-).
        areas = {amp.name: amp.detector_slice(geometry) for amp in detector.amps}
        units = "electron" if config.doApplyGains else "adu"
        units_gain: dict[str, float] = {}
        read_noise: dict[str, float] = {}
        for amp in detector.amps:
            gain = amp.nominal_gain
            metadata[f"LSST ISR GAIN {amp.name}"] = gain
            metadata[f"LSST ISR READNOISE {amp.name}"] = amp.nominal_read_noise
            if config.doApplyGains:
                image[areas[amp.name]] *= np.float32(gain)
            units_gain[amp.name] = 1.0 if config.doApplyGains else gain
            if config.doEmpiricalReadNoise and amp.name in empirical_noise:
                # Overscan residuals are ADU: electrons = ADU × gain.
                read_noise[amp.name] = empirical_noise[amp.name] * gain
            else:
                read_noise[amp.name] = amp.nominal_read_noise

        if config.doBias:
            assert bias is not None
            image -= self._calibration_in_units(bias, "bias", areas, units_gain)
            mask |= bias.mask.array & MASK_PLANES["BAD"]
        variance = np.zeros(image.shape, dtype=np.float32)
        if config.doVariance:
            for name, area in areas.items():
                variance[area] = variance_plane(image[area], units_gain[name], read_noise[name])
        dark_time = float(raw.dark_time)
        if config.doDark:
            assert dark is not None
            image -= np.float32(dark_time) * self._calibration_in_units(dark, "dark", areas, units_gain)
            mask |= dark.mask.array & MASK_PLANES["BAD"]
        if config.doFlat:
            assert flat is not None
            flat_image = self._calibration_in_units(flat, "flat", areas, None)
            good = np.isfinite(flat_image) & (flat_image > 0)
            safe = np.where(good, flat_image, np.float32(1.0))
            image = np.where(good, image / safe, np.float32(0.0))
            variance = np.where(good, variance / safe**2, np.float32(0.0))
            mask[~good] |= MASK_PLANES["BAD"] | MASK_PLANES["NO_DATA"]
            mask |= flat.mask.array & MASK_PLANES["BAD"]
        if config.doDefect:
            assert defects is not None
            defect_mask = np.asarray(defects.to_mask(image.shape), dtype=bool)
            mask[defect_mask] |= MASK_PLANES["BAD"]
        if config.doSetBadRegions:
            bad = (mask & MASK_PLANES["BAD"]) != 0
            if bad.any() and (~bad).any():
                image[bad] = np.median(image[~bad])

        metadata.update(
            {
                "EXPTIME": float(raw.exposure_time),
                "DARKTIME": dark_time,
                "DETECTOR": detector.id,
                "DET_NAME": detector.name,
                "EXPOSURE": make_exposure_id(int(raw.header["DAYOBS"]), int(raw.header["SEQNUM"])),
                "IMGTYPE": raw.observation_type.upper(),
                "FILTER": raw.physical_filter,
                UNITS_KEY: units,
                "BUNIT": units,
            }
        )
        for name, used in (
            ("OVERSCAN", config.doOverscan),
            ("PARALLEL_OVERSCAN", config.doOverscan and config.doParallelOverscan),
            ("APPLY_GAINS", config.doApplyGains),
            ("BIAS", config.doBias),
            ("DARK", config.doDark),
            ("FLAT", config.doFlat),
            ("DEFECT", config.doDefect),
        ):
            metadata[f"LSST ISR DO {name}"] = bool(used)
        exposure = Exposure(image, mask, variance, metadata)
        return Struct(outputExposure=exposure)

    @staticmethod
    def _calibration_in_units(
        calibration: Exposure,
        name: str,
        areas: dict[str, tuple[slice, slice]],
        units_gain: dict[str, float] | None,
    ) -> np.ndarray:
        """Return a calibration's image (float32) in the output units.

        Calibrations are in electrons (bias e⁻, dark e⁻/s, flat unitless);
        with gains not applied, each amplifier's area is divided by its
        gain to get ADU. ``units_gain`` None leaves the values as they are.

        Raises
        ------
        ValueError
            Raised if the calibration's shape differs from the image's.
        """
        array = calibration.image.array
        shape = (
            max(area[0].stop for area in areas.values()),
            max(area[1].stop for area in areas.values()),
        )
        if array.shape != shape:
            raise ValueError(
                f"IsrTask: the {name} has shape {array.shape}; the raw assembles to {shape}: "
                "use a calibration made from raws of the same geometry."
            )
        values = array.astype(np.float32)
        if units_gain is not None:
            for amp_name, area in areas.items():
                if units_gain[amp_name] != 1.0:
                    values[area] /= np.float32(units_gain[amp_name])
        return values
