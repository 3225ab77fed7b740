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

"""A calibration run's products written straight into a butler repository, for report tests and benchmarks.

`make_synthetic_run` bootstraps a repository of an instrument and writes
what the calibration pipelines would have made, under their dataset type
names, dimensions and storage classes, with `Butler.put`: combined bias,
dark and flat (assembled detectors of the sensor's own geometry, one level
per amplifier and a gentle gradient), defects, a PTC per detector (gain and
read noise from the camera description's nominal values) and the bias
verification (``verifyBiasDetStats`` per detector and exposure and their
``verifyBiasExpStats`` roll-up, made by the verification tasks' own
functions), with exposure records for the verification exposures. It
returns the repository and the script's run record pointing at those
collections, so the report reads them exactly as after a real run, at a
small fraction of the cost of simulating and processing 189 detectors.
"""

__all__ = ["SyntheticRun", "make_synthetic_run"]

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path

import astropy.time
import astropy.units as u
import numpy as np
from lsst.daf.butler import Butler, DatasetType, Timespan

from lsst.ts.calibrations.cp.verify_statistics import detector_summary, exposure_summary
from lsst.ts.calibrations.repo.camera import Camera, DetectorInfo
from lsst.ts.calibrations.repo.defects import Defects
from lsst.ts.calibrations.repo.exposure_id import make_exposure_id
from lsst.ts.calibrations.repo.images import Exposure
from lsst.ts.calibrations.repo.ptc_dataset import PhotonTransferCurveDataset
from lsst.ts.calibrations.repo.repository import bootstrap_repository
from lsst.ts.calibrations.scripts.product_outcome import ProductOutcome, ProductStatus
from lsst.ts.calibrations.scripts.run_record import RunRecord

DAY_OBS = 20241024
COLLECTIONS = {
    "bias": "u/synthetic/cpBias",
    "dark": "u/synthetic/cpDark",
    "flat": "u/synthetic/cpFlat",
    "ptc": "u/synthetic/cpPtc",
    "defects": "u/synthetic/findDefects",
    "verifyBias": "u/synthetic/verifyBias",
}
"""Output collection of each product (as an OCPS job's output)."""

_DATASET_TYPES = {
    "bias": (("instrument", "detector"), "ComCamExposure", True),
    "dark": (("instrument", "detector"), "ComCamExposure", True),
    "flat": (("instrument", "detector"), "ComCamExposure", True),
    "ptc": (("instrument", "detector"), "ComCamPtcDataset", True),
    "defects": (("instrument", "detector"), "ComCamDefects", True),
    "verifyBiasDetStats": (("instrument", "exposure", "detector"), "StructuredDataDict", False),
    "verifyBiasExpStats": (("instrument", "exposure"), "StructuredDataDict", False),
}
"""Dataset types as the pipelines define them: dimensions, storage class, is a calibration."""


@dataclasses.dataclass
class SyntheticRun:
    """A repository holding a synthetic run's products.

    Parameters
    ----------
    repo : `pathlib.Path`
        The repository root.
    record : `~lsst.ts.calibrations.scripts.run_record.RunRecord`
        The run record pointing at its collections.
    detectors : `list` [`int`]
        Detectors of the run.
    failing : `list` [`tuple` [`str`, `str`]]
        (detector name, amplifier) failing the bias verification's NOISE
        test in the first exposure.
    exposures : `list` [`int`]
        The bias verification exposures.
    """

    repo: Path
    record: RunRecord
    detectors: list[int]
    failing: list[tuple[str, str]]
    exposures: list[int]


def _image(
    detector: DetectorInfo, shape: tuple[int, int], level: float, rng: np.random.Generator
) -> Exposure:
    """An assembled detector: one level per amplifier (±2 %) and a gradient along the rows.

    No pixel noise: the images compress well, so writing and reading 189 of
    them stays cheap.
    """
    rows, columns = shape
    ny, nx = rows // 2, columns // 8
    image = np.empty(shape, dtype=np.float32)
    gradient = np.linspace(-0.01, 0.01, columns, dtype=np.float32)[None, :]
    for amp in detector.amps:
        image[amp.iy * ny : (amp.iy + 1) * ny, amp.ix * nx : (amp.ix + 1) * nx] = level * (
            1 + 0.02 * rng.standard_normal()
        )
    image *= 1 + gradient
    return Exposure(image, metadata={"BUNIT": "electron", "DETECTOR": detector.id, "INSTRUME": "synthetic"})


def _ptc(detector: DetectorInfo) -> PhotonTransferCurveDataset:
    """A PTC whose fit is the camera description's nominal gain and read noise."""
    ptc = PhotonTransferCurveDataset(detector.amp_names, "EXPAPPROXIMATION")
    means = np.geomspace(200.0, 60_000.0, 8)
    for amp in detector.amps:
        gain, noise = amp.nominal_gain, amp.nominal_read_noise
        variances = means / gain + (noise / gain) ** 2
        ptc.rawMeans[amp.name] = means
        ptc.rawVars[amp.name] = variances
        ptc.rawExpTimes[amp.name] = np.linspace(1.0, 30.0, means.size)
        ptc.expIdMask[amp.name] = np.ones(means.size, dtype=bool)
        ptc.finalMeans[amp.name] = means
        ptc.finalVars[amp.name] = variances
        ptc.finalModelVars[amp.name] = variances
        ptc.ptcFitPars[amp.name] = np.array([1e-7, gain, noise**2])
        ptc.ptcFitParsError[amp.name] = np.array([1e-8, 1e-3, 0.1])
        ptc.gain[amp.name] = gain
        ptc.gainErr[amp.name] = 0.002
        ptc.noise[amp.name] = noise
        ptc.noiseErr[amp.name] = 0.05
        ptc.ptcFitChiSq[amp.name] = 1.0 + 0.01 * detector.id
        ptc.ptcTurnoff[amp.name] = float(means[-1])
    return ptc


def _register(butler: Butler) -> None:
    for name, (dimensions, storage_class, is_calibration) in _DATASET_TYPES.items():
        butler.registry.registerDatasetType(
            DatasetType(
                name, dimensions, storage_class, universe=butler.dimensions, isCalibration=is_calibration
            )
        )


def _exposure_records(butler: Butler, instrument: str, exposures: Sequence[int]) -> None:
    day_start = astropy.time.Time("2024-10-24T12:00:00", scale="tai")
    registry = butler.registry
    registry.syncDimensionData(
        "day_obs",
        {"instrument": instrument, "id": DAY_OBS, "timespan": Timespan(day_start, day_start + 1 * u.day)},
    )
    empty = butler.registry.queryDimensionRecords("physical_filter", instrument=instrument)
    physical_filter = next(r.name for r in empty if r.band == "white")
    for seq_num, exposure in enumerate(exposures, start=1):
        group = f"synthetic-{seq_num}"
        registry.syncDimensionData("group", {"instrument": instrument, "name": group})
        begin = day_start + (6 * 3600 + 30 * seq_num) * u.s
        registry.syncDimensionData(
            "exposure",
            {
                "instrument": instrument,
                "id": exposure,
                "day_obs": DAY_OBS,
                "group": group,
                "physical_filter": physical_filter,
                "obs_id": f"SYN_{DAY_OBS}_{seq_num:06d}",
                "exposure_time": 0.0,
                "dark_time": 0.0,
                "observation_type": "bias",
                "observation_reason": "bias",
                "seq_num": seq_num,
                "seq_start": seq_num,
                "seq_end": seq_num,
                "target_name": "",
                "science_program": "",
                "has_simulated": True,
                "can_see_sky": False,
                "timespan": Timespan(begin, begin + 2 * u.s),
            },
        )


def make_synthetic_run(
    root: Path,
    *,
    instrument: str,
    detectors: Iterable[int],
    geometry: str = "reduced",
    failing: Sequence[tuple[str, str]] = (),
    n_exposures: int = 2,
    products: Sequence[str] = ("bias", "dark", "flat"),
    seed: int = 7,
) -> SyntheticRun:
    """Write a run's products into a new repository (see the module documentation).

    Parameters
    ----------
    root : `pathlib.Path`
        An empty folder; the repository is ``root / "repo"``.
    instrument : `str`
        "LSSTComCam", "LSSTCam" or "LATISS".
    detectors : `~collections.abc.Iterable` [`int`]
        Detectors of the run.
    geometry : `str`, optional
        "reduced" or "full": each sensor's own geometry of that name.
    failing : `~collections.abc.Sequence` [`tuple` [`str`, `str`]], optional
        (detector name, amplifier) whose bias verification NOISE test fails
        in the first exposure.
    n_exposures : `int`, optional
        Bias verification exposures.
    products : `~collections.abc.Sequence` [`str`], optional
        Combined images written ("bias", "dark", "flat").
    seed : `int`, optional
        Seed of the images' noise.

    Returns
    -------
    run : `SyntheticRun`
        The repository and its run record.
    """
    camera = Camera.instance(instrument)
    ids = sorted(int(d) for d in detectors)
    rng = np.random.default_rng(seed)
    exposures = [make_exposure_id(DAY_OBS, n) for n in range(1, n_exposures + 1)]
    failing_set = set(failing)
    repo = root / "repo"
    with bootstrap_repository(repo, instrument=instrument, registry_db="") as butler:
        _register(butler)
        for collection in COLLECTIONS.values():
            butler.registry.registerRun(collection)
        _exposure_records(butler, instrument, exposures)
        levels = {"bias": 0.5, "dark": 0.02, "flat": 1.0}
        for product in products:
            for detector in ids:
                info = camera[detector]
                shape = info.geometry(geometry).detector_shape
                butler.put(
                    _image(info, shape, levels[product], rng),
                    product,
                    instrument=instrument,
                    detector=detector,
                    run=COLLECTIONS[product],
                )
        for detector in ids:
            butler.put(
                _ptc(camera[detector]),
                "ptc",
                instrument=instrument,
                detector=detector,
                run=COLLECTIONS["ptc"],
            )
        for detector in ids[:3]:
            butler.put(
                Defects(
                    [(10, 20, 1, 40), (50, 60, 3, 3)], camera[detector].geometry(geometry).detector_shape
                ),
                "defects",
                instrument=instrument,
                detector=detector,
                run=COLLECTIONS["defects"],
            )
        for index, exposure in enumerate(exposures):
            summaries = []
            for detector in ids:
                info = camera[detector]
                amp_stats = {
                    a.name: {"MEAN": 0.1, "NOISE": a.nominal_read_noise, "READ_NOISE": a.nominal_read_noise}
                    for a in info.amps
                }
                amp_tests = {
                    a.name: {"MEAN": True, "NOISE": not (index == 0 and (info.name, a.name) in failing_set)}
                    for a in info.amps
                }
                summary = detector_summary(
                    amp_stats,
                    amp_tests,
                    {a.name: {} for a in info.amps},
                    metadata={"DETECTOR": detector, "DETECTOR_NAME": info.name, "EXPOSURE": exposure},
                )
                butler.put(
                    summary,
                    "verifyBiasDetStats",
                    instrument=instrument,
                    exposure=exposure,
                    detector=detector,
                    run=COLLECTIONS["verifyBias"],
                )
                summaries.append(summary)
            butler.put(
                exposure_summary(summaries, exposure),
                "verifyBiasExpStats",
                instrument=instrument,
                exposure=exposure,
                run=COLLECTIONS["verifyBias"],
            )
    outcomes = {
        "BIAS": ProductOutcome(
            "BIAS",
            ProductStatus.CERTIFIED if not failing else ProductStatus.FAILED,
            reason="" if not failing else "bias verification failed",
            collections={"generate": COLLECTIONS["bias"], "verify": COLLECTIONS["verifyBias"]},
        ),
        "DARK": ProductOutcome(
            "DARK", ProductStatus.CERTIFIED, collections={"generate": COLLECTIONS["dark"]}
        ),
        "FLAT": ProductOutcome(
            "FLAT", ProductStatus.CERTIFIED, collections={"generate": COLLECTIONS["flat"]}
        ),
        "PTC": ProductOutcome("PTC", ProductStatus.CERTIFIED, collections={"generate": COLLECTIONS["ptc"]}),
        "DEFECTS": ProductOutcome(
            "DEFECTS", ProductStatus.CERTIFIED, collections={"generate": COLLECTIONS["defects"]}
        ),
    }
    record = RunRecord(
        script=f"Make{instrument}Calibrations",
        index=1,
        state="DONE",
        config={"detectors": ids},
        plan={"detectors": ids},
        products=outcomes,
        collections={"raw": f"{instrument}/raw/all"},
        exposures_taken={"BIAS": exposures},
        timings={"elapsed": 60.0},
    )
    return SyntheticRun(repo=repo, record=record, detectors=ids, failing=list(failing), exposures=exposures)
