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

"""Write a calibration set of simulated raws (biases, darks, flats) and its truth.

The sensors are LSSTComCam's (default), LSSTCam's or LATISS's
(``--instrument``); a run may mix ITL and e2v detectors, each in its
vendor's segment layout, with its truth in the same layout.

Run as ``python -m lsst.ts.calibrations.sim.make_calibration_set OUTPUT
[options]`` (``--help`` lists them). Exposures are numbered from
``--start-seq`` on ``--day-obs`` in the order biases, darks, flats; flats
come in pairs of equal exposure time (``--flats-per-time``, default 2) for
gains from flat pairs and the photon transfer curve. Each raw is written as
``<OBSID>_<detector name>.fits``; the truth as ``truth.yaml`` beside them.
"""

__all__ = ["main", "make_calibration_set", "parse_args"]

import argparse
import datetime
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy.time import Time, TimeDelta

from ..repo.camera import Camera, get_geometry
from ..repo.exposure_id import make_exposure_id
from ..repo.raw import write_raw
from .image_model import ImageModel, _isot
from .sensor_model import SensorModel
from .sim_components import SimComponents
from .simulation_truth import TRUTH_FILE_NAME, SimulationTruth

# Camera readout time (s) between the end of one exposure and the next start.
READOUT_TIME = 2.0


def _parse_detectors(text: str, instrument: str = "LSSTComCam") -> list[int]:
    """Detector ids of an instrument from "0,4,8", "R22_S11", "all" (the science sensors) or "0-8"."""
    camera = Camera.instance(instrument)
    if text.strip().lower() == "all":
        return list(camera.science_detector_ids)
    ids: list[int] = []
    for part in text.replace(" ", ",").split(","):
        if not part:
            continue
        try:
            if "-" in part and "_" not in part:
                low, high = (int(v) for v in part.split("-"))
                for i in range(low, high + 1):
                    ids.append(camera[i].id)
            else:
                ids.append(camera[int(part) if part.isdigit() else part].id)
        except (KeyError, ValueError) as e:
            first, last = camera.science_detectors[0], camera.science_detectors[-1]
            raise argparse.ArgumentTypeError(
                f"--detectors: {part!r} is not a detector of {instrument} (use ids {first.id}-{last.id} "
                f"or names {first.name}...{last.name}): {e}"
            ) from None
    if not ids:
        raise argparse.ArgumentTypeError("--detectors: no detector given.")
    return sorted(set(ids))


def _parse_times(text: str) -> list[float]:
    """Exposure times from "1,2,5" (s)."""
    try:
        times = [float(v) for v in text.replace(" ", ",").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--flat-times: {text!r} is not a list of seconds like '1,2,5'."
        ) from None
    if any(t <= 0 for t in times):
        raise argparse.ArgumentTypeError(f"--flat-times: {text!r}: every flat exposure time must be > 0 s.")
    return times


def make_calibration_set(
    output: str | os.PathLike[str],
    *,
    model: SensorModel,
    geometry_name: str = "full",
    detectors: Sequence[int | str] | None = None,
    n_bias: int = 10,
    n_dark: int = 5,
    dark_time: float = 30.0,
    flat_times: Sequence[float] = (2.0,),
    flats_per_time: int = 2,
    physical_filter: str = "r_03",
    day_obs: int = 20241024,
    start_seq: int = 1,
    overwrite: bool = False,
    log: bool = False,
) -> SimulationTruth:
    """Simulate a calibration set and write it with its truth.

    Parameters
    ----------
    output : `str` or `os.PathLike`
        Folder to write into (created if needed).
    model : `SensorModel`
        The sensors and seed.
    geometry_name : `str`
        "full" or "reduced".
    detectors : `~collections.abc.Sequence` or `None`
        Detector ids or names; `None` for the camera's science sensors.
    n_bias, n_dark : `int`
        Number of biases and darks.
    dark_time : `float`
        Exposure (and dark) time of the darks, s.
    flat_times : `~collections.abc.Sequence` [`float`]
        Exposure times of the flats, s; each taken ``flats_per_time`` times in a row.
    flats_per_time : `int`
        Flats per exposure time (2 for pairs).
    physical_filter : `str`
        Filter of the flats.
    day_obs : `int`
        Observing day, YYYYMMDD.
    start_seq : `int`
        Sequence number of the first exposure.
    overwrite : `bool`
        Replace existing raw files.
    log : `bool`
        Print one line per exposure.

    Returns
    -------
    truth : `SimulationTruth`
        The truth, also written to ``output/truth.yaml``.

    Raises
    ------
    ValueError
        Raised for a bad count, time, filter or day.
    FileExistsError
        Raised if a raw exists and ``overwrite`` is false.
    """
    for name, value in (("n_bias", n_bias), ("n_dark", n_dark), ("flats_per_time", flats_per_time)):
        if value < 0:
            raise ValueError(f"{name}={value} must be >= 0.")
    if n_dark > 0 and dark_time <= 0:
        raise ValueError(f"dark_time={dark_time} must be > 0 s.")
    fluxes = model.parameters.get("flat.flux")
    if flat_times and physical_filter not in fluxes:
        raise ValueError(
            f"physical_filter={physical_filter!r} has no flat flux in sensor model "
            f"{model.parameters.source}; use one of {', '.join(sorted(fluxes))}."
        )
    # A standard geometry stands for each detector's vendor's layout (ITL's names the set).
    geometry = get_geometry(geometry_name)
    image_model = ImageModel(model, geometry)
    camera = model.camera
    prefix = SimComponents(camera.name).image_name_prefix
    detector_ids = [
        camera[d].id for d in (detectors if detectors is not None else camera.science_detector_ids)
    ]
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)

    plan: list[tuple[str, float, str | None]] = [("BIAS", 0.0, None)] * n_bias
    plan += [("DARK", dark_time, None)] * n_dark
    for exposure_time in flat_times:
        plan += [("FLAT", float(exposure_time), physical_filter)] * flats_per_time
    if start_seq + len(plan) - 1 > 99999:
        raise ValueError(
            f"start_seq={start_seq} leaves no room for {len(plan)} exposures (seq_num <= 99999)."
        )
    try:
        day = datetime.datetime.strptime(str(day_obs), "%Y%m%d")
    except ValueError:
        raise ValueError(f"day_obs={day_obs!r} must be a date YYYYMMDD.") from None
    truth = SimulationTruth.from_model(model, geometry, list(detector_ids), day_obs=int(day_obs))
    start = Time(day + datetime.timedelta(hours=18), scale="tai")

    for index, (image_type, exposure_time, filter_name) in enumerate(plan):
        seq_num = start_seq + index
        obs_id = f"{prefix}_{day_obs}_{seq_num:06d}"
        entry: dict = {
            "obs_id": obs_id,
            "exposure_id": make_exposure_id(int(day_obs), seq_num),
            "day_obs": int(day_obs),
            "seq_num": seq_num,
            "image_type": image_type,
            "exposure_time": exposure_time,
            "dark_time": exposure_time,
            "physical_filter": filter_name or "empty",
            "date_obs": _isot(start),
            "flat_electrons": float(fluxes[filter_name] * exposure_time) if filter_name else 0.0,
            "files": {},
            "cosmic_rays": {},
        }
        t0 = time.perf_counter()
        for detector_id in detector_ids:
            name = camera[detector_id].name
            raw = image_model.make_raw(
                detector_id,
                image_type=image_type,
                exposure_time=exposure_time,
                day_obs=day_obs,
                seq_num=seq_num,
                physical_filter=filter_name,
                date_obs=start,
            )
            file_name = f"{obs_id}_{name}.fits"
            write_raw(output / file_name, raw, overwrite=overwrite)
            entry["files"][name] = file_name
            y, x, electrons, hit = image_model.cosmic_ray_hits(
                detector_id, image_type=image_type, dark_time=exposure_time, day_obs=day_obs, seq_num=seq_num
            )
            entry["cosmic_rays"][name] = [
                [int(a), int(b), round(float(c), 1), int(d)] for a, b, c, d in zip(x, y, electrons, hit)
            ]
        truth.exposures.append(entry)
        if log:
            print(
                f"{obs_id} {image_type:5s} {exposure_time:7.2f} s {len(detector_ids)} detector(s) "
                f"in {time.perf_counter() - t0:.2f} s",
                flush=True,
            )
        start = start + TimeDelta(exposure_time + READOUT_TIME + 1.0, format="sec")
    truth.write(output / TRUTH_FILE_NAME)
    return truth


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line.

    Parameters
    ----------
    argv : `~collections.abc.Sequence` [`str`] or `None`
        Arguments; `None` for ``sys.argv[1:]``.

    Returns
    -------
    args : `argparse.Namespace`
        The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        prog="python -m lsst.ts.calibrations.sim.make_calibration_set",
        description="Write simulated bias, dark and flat raws and their truth (truth.yaml).",
    )
    parser.add_argument(
        "--instrument",
        choices=("LSSTComCam", "LSSTCam", "LATISS"),
        default="LSSTComCam",
        help="camera whose sensors are simulated (default LSSTComCam)",
    )
    parser.add_argument("output", help="folder to write the raws and truth.yaml into")
    parser.add_argument("--n-bias", type=int, default=10, help="number of biases (default 10)")
    parser.add_argument("--n-dark", type=int, default=5, help="number of darks (default 5)")
    parser.add_argument("--dark-time", type=float, default=30.0, help="dark exposure time, s (default 30)")
    parser.add_argument(
        "--flat-times",
        type=_parse_times,
        default=[2.0],
        help="flat exposure times, s, comma separated; each taken --flats-per-time times (default 2)",
    )
    parser.add_argument("--flats-per-time", type=int, default=2, help="flats per exposure time (default 2)")
    parser.add_argument("--filter", default="r_03", help="physical filter of the flats (default r_03)")
    parser.add_argument(
        "--detectors",
        default=None,
        help="detector ids or names, comma separated, a range 0-8, or 'all' (default all science sensors)",
    )
    parser.add_argument(
        "--geometry",
        choices=("full", "reduced"),
        default="full",
        help="full segments (75 MB per raw) or reduced ones for tests, each vendor's layout (default full)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the sensor model and images (default 0)")
    parser.add_argument(
        "--sensor-model",
        default=None,
        help="sensor-model YAML file or the name of a shipped one (default the instrument's)",
    )
    parser.add_argument(
        "--day-obs", type=int, default=20241024, help="observing day YYYYMMDD (default 20241024)"
    )
    parser.add_argument("--start-seq", type=int, default=1, help="first sequence number (default 1)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing raws")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    args = parser.parse_args(argv)
    if args.detectors is not None:
        try:
            args.detectors = _parse_detectors(args.detectors, args.instrument)
        except argparse.ArgumentTypeError as e:
            parser.error(str(e))
    if args.seed < 0:
        parser.error(f"--seed={args.seed} must be >= 0.")
    for option in ("n_bias", "n_dark", "flats_per_time"):
        if getattr(args, option) < 0:
            parser.error(f"--{option.replace('_', '-')}={getattr(args, option)} must be >= 0.")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command.

    Parameters
    ----------
    argv : `~collections.abc.Sequence` [`str`] or `None`
        Arguments; `None` for ``sys.argv[1:]``.

    Returns
    -------
    status : `int`
        0 on success, 1 on a bad input (the reason printed to stderr).
    """
    args = parse_args(argv)
    try:
        model = SensorModel.from_yaml(args.sensor_model, args.seed, instrument=args.instrument)
        t0 = time.perf_counter()
        truth = make_calibration_set(
            args.output,
            model=model,
            geometry_name=args.geometry,
            detectors=args.detectors,
            n_bias=args.n_bias,
            n_dark=args.n_dark,
            dark_time=args.dark_time,
            flat_times=args.flat_times,
            flats_per_time=args.flats_per_time,
            physical_filter=args.filter,
            day_obs=args.day_obs,
            start_seq=args.start_seq,
            overwrite=args.overwrite,
            log=not args.quiet,
        )
    except (OSError, ValueError) as e:
        print(f"make_calibration_set: error: {e}", file=sys.stderr)
        return 1
    if not args.quiet:
        n_files = sum(len(e["files"]) for e in truth.exposures)
        print(
            f"Wrote {n_files} raws of {len(truth.exposures)} exposures and {TRUTH_FILE_NAME} "
            f"to {args.output} in {time.perf_counter() - t0:.1f} s (seed {model.seed}, "
            f"sensor model {model.parameters.name}, "
            f"{np.prod(truth.geometry.detector_shape)} pixels a detector)."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
