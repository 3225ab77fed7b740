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

"""Reference calibrations in a simulated repository: certified bias, dark, flat (defects, PTC).

External verification (the procedure document's daily default) checks new
images against the combined calibrations already certified in
``LSSTComCam/calib`` (``<instrument>/calib``: ``instrument`` is LSSTComCam
by default, LSSTCam or LATISS; the collections below follow it). `ReferenceCalibrations` puts them there in a
simulated repository, as the observatory's calibration team does:

1. raws are simulated with the sensor model and image model the simulated
   camera uses (same sensor model, seed and geometry, so the references
   match the camera's images) and ingested into ``LSSTComCam/raw/all``;
   their ``day_obs`` is ``day_obs`` and their sequence numbers follow the
   highest already registered that day, so they never collide with the
   simulated camera's exposures;
2. each product's pipeline (``cpBias``, ``cpDark``, ``cpFlat``, then
   ``findDefects``, ``cpPtc``) runs with ``pipetask`` (an argument list, in
   its own process) into ``LSSTComCam/calib/reference/<product>.<stamp>``,
   each from the products certified before it;
3. each product is certified into ``LSSTComCam/calib/certified`` (the
   CALIBRATION collection in the ``LSSTComCam/calib`` chain) with validity
   [``begin``, ``end``) through `~lsst.ts.calibrations.repo.certify.certify_calibrations`.

Idempotent: a product already certified there for every requested
detector (and, for flats, the filter) is skipped (`missing`).

Blocking (butler, subprocesses): call `make` in a thread from async code.
From the shell::

    python -m lsst.ts.calibrations.sim.reference_calibrations REPO [--instrument LATISS]
        [--detectors 0,1] [--geometry reduced] [--filter r_03] [--defects] [--ptc]
        [--registry-db postgresql://USER@HOST:PORT/DATABASE]
"""

from __future__ import annotations

__all__ = ["ReferenceCalibrations", "main"]

import argparse
import datetime
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ..cp.pipeline_paths import PipelinePaths
from ..repo.camera import Camera
from ..repo.certify import certify_calibrations
from ..repo.ingest import ingest_raws
from ..repo.repository import bootstrap_repository, calib_chain, certified_collection, raw_run
from .butler_cache import butler_cache_environment
from .make_calibration_set import make_calibration_set
from .sensor_model import SensorModel

_R_FILTERS = {"LSSTComCam": "r_03", "LSSTCam": "r_57", "LATISS": "SDSSr_65mm~empty"}

PRODUCTS: tuple[str, ...] = ("bias", "dark", "flat", "defects", "ptc")
"""Products in the order they are made."""

PIPELINES: dict[str, str] = {
    "bias": "cpBias",
    "dark": "cpDark",
    "flat": "cpFlat",
    "defects": "findDefects",
    "ptc": "cpPtc",
}
"""Pipeline (``${CP_PIPE_DIR}/pipelines/<instrument>/<name>.yaml``) of each product."""

IMAGES: dict[str, tuple[str, ...]] = {
    "bias": ("bias",),
    "dark": ("dark",),
    "flat": ("flat",),
    "defects": ("dark", "flat"),
    "ptc": ("ptc",),
}
"""Raws each product's pipeline reads."""

CONFIG_OPTIONS: dict[str, tuple[str, ...]] = {
    "bias": ("-c", "isr:doDefect=False"),
    "dark": ("-c", "isr:doDefect=False"),
    "flat": ("-c", "isr:doDefect=False"),
    "defects": ("-c", "isr:doDefect=False"),
    "ptc": ("-c", "isr:doCrosstalk=False"),
}
"""pipetask options of each product (the procedure document's defaults)."""


class ReferenceCalibrations:
    """Make and certify reference calibrations in a simulated repository.

    Parameters
    ----------
    repo : `str` or `os.PathLike`
        Butler repository (bootstrapped if missing).
    detectors : `list` [`int`] or `None`, optional
        Detectors; the instrument's science detectors if None.
    physical_filter : `str`, optional
        Filter of the reference flats (the simulated camera's default is
        "r_03"; LSSTCam "r_57"; LATISS e.g. "SDSSr_65mm~empty"). The
        instrument's r filter if None.
    geometry : `str`, optional
        "reduced" or "full": must be the simulated camera's.
    sensor_model : `str`, `os.PathLike` or `None`, optional
        Sensor-model file or shipped name (the camera's); default model if None.
    seed : `int`, optional
        Seed of the sensor model (the camera's).
    defects, ptc : `bool`, optional
        Also make defects and a photon transfer curve.
    day_obs : `int` or `None`, optional
        ``day_obs`` (YYYYMMDD) of the reference raws; yesterday (UTC) if None.
    begin, end : `str`, optional
        Validity range of the certified references (ISO dates, TAI).
    n_bias, n_dark, n_flat : `int`, optional
        Raws combined into each reference (``n_flat`` flats of one time).
        Verification allows a residual noise of 1.05 x the read noise, and
        a reference of N frames adds sqrt(1 + 1/N): N >= 20 keeps that
        under 1.025, so the bias and dark noise tests judge the new images.
    dark_time, flat_time : `float`, optional
        Exposure times (s) of the reference darks and flats.
    n_processes : `int`, optional
        ``pipetask -j``.
    registry_db : `str` or `None`, optional
        Registry database of a new repository (``postgresql://...``; ""
        for SQLite; None for ``TS_CALIBRATIONS_REGISTRY_DB`` or SQLite), as
        `~lsst.ts.calibrations.repo.repository.bootstrap_repository` takes it.
    log : `logging.Logger` or `None`, optional
        Logger; this module's if None.
    instrument : `str`, optional
        "LSSTComCam" (default), "LSSTCam" or "LATISS".
    run_pipetask : `~collections.abc.Callable` or `None`, optional
        Runs one ``pipetask`` command line, given its arguments (the
        executable first) and environment, and returns the finished
        process (``returncode``, ``stdout``, ``stderr``); a new process
        (`subprocess.run`) if None. The tests give one that runs the command
        in a process that has imported the middleware already.

    Raises
    ------
    ValueError
        If a count is < 1 or a product name is unknown.
    """

    def __init__(
        self,
        repo: str | os.PathLike[str],
        *,
        detectors: Sequence[int] | None = None,
        physical_filter: str | None = None,
        geometry: str = "reduced",
        sensor_model: str | os.PathLike[str] | None = None,
        seed: int = 0,
        defects: bool = False,
        ptc: bool = False,
        day_obs: int | None = None,
        begin: str = "1950-01-01",
        end: str = "2050-01-01",
        n_bias: int = 20,
        n_dark: int = 20,
        n_flat: int = 4,
        dark_time: float = 5.0,
        flat_time: float = 5.0,
        n_processes: int = 1,
        registry_db: str | None = None,
        log: logging.Logger | None = None,
        instrument: str = "LSSTComCam",
        run_pipetask: Callable[[list[str], dict[str, str]], subprocess.CompletedProcess[str]] | None = None,
    ) -> None:
        for name, value in (("n_bias", n_bias), ("n_dark", n_dark), ("n_flat", n_flat)):
            if value < 1:
                raise ValueError(f"{name}={value} must be >= 1.")
        self.repo = Path(repo).expanduser().absolute()
        self.instrument = instrument
        camera = Camera.instance(instrument)
        self.detectors = tuple(int(d) for d in (detectors if detectors else camera.science_detector_ids))
        self.physical_filter = physical_filter or _R_FILTERS[instrument]
        self.geometry = geometry
        self.sensor_model = sensor_model
        self.seed = seed
        self.products = tuple(
            p for p in PRODUCTS if p in ("bias", "dark", "flat") or {"defects": defects, "ptc": ptc}[p]
        )
        if day_obs is None:
            yesterday = datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=1)
            day_obs = int(yesterday.strftime("%Y%m%d"))
        self.day_obs = day_obs
        self.begin = begin
        self.end = end
        self.n_bias = n_bias
        self.n_dark = n_dark
        self.n_flat = n_flat
        self.dark_time = dark_time
        self.flat_time = flat_time
        self.n_processes = n_processes
        self.registry_db = registry_db
        self.log = log if log is not None else logging.getLogger(__name__)
        self.pipeline_paths = PipelinePaths(instrument=instrument)
        self.run_pipetask = run_pipetask if run_pipetask is not None else _run_process

    def missing(self) -> list[str]:
        """Products not yet certified in ``<instrument>/calib/certified`` for every detector.

        Returns
        -------
        products : `list` [`str`]
            e.g. ``["flat", "ptc"]``; empty if every requested product is there.
        """
        butler = bootstrap_repository(self.repo, registry_db=self.registry_db, instrument=self.instrument)
        try:
            missing = []
            for product in self.products:
                try:
                    associations = list(
                        butler.registry.queryDatasetAssociations(
                            product, collections=[certified_collection(self.instrument)]
                        )
                    )
                except Exception:
                    missing.append(product)
                    continue
                found = set()
                for association in associations:
                    data_id = association.ref.dataId
                    if product == "flat" and data_id.get("physical_filter") != self.physical_filter:
                        continue
                    found.add(int(data_id["detector"]))
                if not set(self.detectors) <= found:
                    missing.append(product)
            return missing
        finally:
            butler.close()

    def make(self) -> dict[str, str]:
        """Make and certify what is missing (see the module documentation).

        Returns
        -------
        made : `dict` [`str`, `str`]
            Output collection of each product made now (empty if none was missing).

        Raises
        ------
        RuntimeError
            If a pipetask fails (the message has the command and the end of its output).
        """
        missing = self.missing()
        if not missing:
            self.log.info(
                "Reference calibrations already certified in %s: %s",
                calib_chain(self.instrument),
                self.products,
            )
            return {}
        self.log.info("Making reference calibrations %s for detectors %s", missing, list(self.detectors))
        exposures = self._take(missing)
        made: dict[str, str] = {}
        stamp = time.strftime("%Y%m%dT%H%M%S")
        for product in missing:
            output = f"{self.instrument}/calib/reference/{product}.{stamp}"
            ids = [e for kind in IMAGES[product] for e in exposures[kind]]
            began = time.monotonic()
            self._pipetask(product, output, ids)
            butler = bootstrap_repository(self.repo, registry_db=self.registry_db, instrument=self.instrument)
            try:
                refs = certify_calibrations(
                    butler, [output], certified_collection(self.instrument), product, self.begin, self.end
                )
            finally:
                butler.close()
            made[product] = output
            self.log.info(
                "Reference %s: %d dataset(s) from %s certified into %s [%s, %s) in %.1f s",
                product,
                len(refs),
                output,
                certified_collection(self.instrument),
                self.begin,
                self.end,
                time.monotonic() - began,
            )
        return made

    # Steps.

    def _take(self, products: Sequence[str]) -> dict[str, list[int]]:
        """Simulate and ingest the raws the products need; exposure ids per kind."""
        kinds = sorted({kind for product in products for kind in IMAGES[product]}, key=PRODUCTS.index)
        model = SensorModel.from_yaml(self.sensor_model, self.seed, self.instrument)
        butler = bootstrap_repository(self.repo, registry_db=self.registry_db, instrument=self.instrument)
        exposures: dict[str, list[int]] = {}
        try:
            records = butler.registry.queryDimensionRecords(
                "exposure", where=f"instrument = '{self.instrument}' AND exposure.day_obs = {self.day_obs}"
            )
            seq = max((int(record.seq_num) for record in records), default=0) + 1
            for kind in kinds:
                counts = {"n_bias": 0, "n_dark": 0, "flat_times": ()}  # type: dict[str, object]
                if kind == "bias":
                    counts["n_bias"] = self.n_bias
                elif kind == "dark":
                    counts["n_dark"] = self.n_dark
                elif kind == "flat":
                    counts["flat_times"] = (self.flat_time,)
                else:
                    counts["flat_times"] = (1.0, 2.0, 4.0, 8.0)
                folder = self.repo / "reference_raws" / f"{self.day_obs}_{seq:05d}_{kind}"
                make_calibration_set(
                    folder,
                    model=model,
                    geometry_name=self.geometry,
                    detectors=list(self.detectors),
                    n_bias=int(counts["n_bias"]),  # type: ignore[call-overload]
                    n_dark=int(counts["n_dark"]),  # type: ignore[call-overload]
                    dark_time=self.dark_time,
                    flat_times=counts["flat_times"],  # type: ignore[arg-type]
                    flats_per_time=self.n_flat if kind == "flat" else 2,
                    physical_filter=self.physical_filter,
                    day_obs=self.day_obs,
                    start_seq=seq,
                    overwrite=True,
                )
                refs = ingest_raws(butler, sorted(folder.glob("*.fits")), instrument=self.instrument)
                ids = sorted({int(ref.dataId["exposure"]) for ref in refs})
                exposures[kind] = ids
                seq += len(ids)
                self.log.info(
                    "Reference %s raws: exposures %s ingested into %s", kind, ids, raw_run(self.instrument)
                )
        finally:
            butler.close()
        return exposures

    def _pipetask(self, product: str, output: str, exposures: Sequence[int]) -> None:
        pipeline = self.pipeline_paths.resolve(
            f"${{CP_PIPE_DIR}}/pipelines/{self.instrument}/{PIPELINES[product]}.yaml"
        )
        query = (
            f"instrument = '{self.instrument}' AND detector IN ({', '.join(str(d) for d in self.detectors)}) "
            f"AND exposure IN ({', '.join(str(e) for e in exposures)})"
        )
        command = self.pipeline_paths.pipetask_run_args(
            self.repo,
            pipeline,
            output,
            [raw_run(self.instrument), calib_chain(self.instrument)],
            query,
            options=CONFIG_OPTIONS[product],
            processes=self.n_processes,
        )
        # The repository is this run's work folder: a killed pipetask leaves its butler cache
        # folder there, not in $TMPDIR.
        env = butler_cache_environment(self.repo, self.pipeline_paths.pipeline_environment())
        process = self.run_pipetask(command, env)
        if process.returncode != 0:
            tail = "\n".join((process.stdout + process.stderr).splitlines()[-20:])
            raise RuntimeError(f"{' '.join(command)} failed (return code {process.returncode}):\n{tail}")


def _run_process(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a command in a new process and wait for it, its output as text."""
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: make the missing reference calibrations of a repository.

    Parameters
    ----------
    argv : `list` [`str`] or `None`
        Arguments; ``sys.argv[1:]`` if None.

    Returns
    -------
    code : `int`
        0 on success, 1 on failure (the message on stderr).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", help="Butler repository (bootstrapped if missing).")
    parser.add_argument(
        "--instrument",
        choices=tuple(_R_FILTERS),
        default="LSSTComCam",
        help="Instrument (default LSSTComCam).",
    )
    parser.add_argument(
        "--detectors", default="", help="Comma-separated detector ids (default: the science detectors)."
    )
    parser.add_argument("--geometry", choices=("reduced", "full"), default="reduced")
    parser.add_argument(
        "--filter", default=None, help="Filter of the reference flats (default: the r filter)."
    )
    parser.add_argument("--sensor-model", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--defects", action="store_true", help="Also make defects.")
    parser.add_argument("--ptc", action="store_true", help="Also make a photon transfer curve.")
    parser.add_argument(
        "-j", "--processes", type=int, default=1, help="pipetask -j (1: in one process, the fastest here)."
    )
    parser.add_argument(
        "--registry-db",
        metavar="URL",
        help="Registry of a new repository: postgresql://USER@HOST:PORT/DATABASE (its own schema there). "
        "Default: $TS_CALIBRATIONS_REGISTRY_DB, else SQLite in the repository.",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        detectors = [int(d) for d in args.detectors.split(",") if d.strip()]
    except ValueError:
        parser.error(f"--detectors={args.detectors!r}: give comma-separated ids 0..8")
    try:
        ReferenceCalibrations(
            args.repo,
            detectors=detectors or None,
            physical_filter=args.filter,
            geometry=args.geometry,
            sensor_model=args.sensor_model,
            seed=args.seed,
            defects=args.defects,
            ptc=args.ptc,
            n_processes=args.processes,
            registry_db=args.registry_db,
            instrument=args.instrument,
        ).make()
    except (RuntimeError, ValueError, LookupError) as e:
        print(f"reference_calibrations: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
