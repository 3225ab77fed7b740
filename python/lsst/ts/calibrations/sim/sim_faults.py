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

"""Faults to inject into the simulated camera, header service and OODS.

A `SimFaults` is shared by the simulated CSCs of one observatory; tests
and demonstrations arm faults on it before or while images are taken:

- `SimFaults.fail_camera_command`: the next ``times`` CCCamera commands of
  a name (``takeImages``, ``setFilter``, ...) fail with ``CMD_FAILED`` and
  a message saying the failure is injected;
- `SimFaults.lose_image`: the image with this ordinal (1 = the first image
  the simulated camera takes) never reaches the OODS: no
  ``imageInOODS`` is written for it;
- `SimFaults.fail_ingest`: the raw files of this image arrive damaged
  (truncated), so the OODS's ingest fails and each of its detectors gets
  ``imageInOODS`` with ``statusCode`` 1 and the ingest error;
- `SimFaults.fail_processing`: the raw file of one detector of this image
  is complete and ingests, but the header of its first amplifier segment
  lacks ``DATASEC`` (`damage_for_processing`), so reading it for
  processing fails: that detector's ISR quantum fails in every OCPS job
  that processes the image.

The same faults can be given as text (`SimFaults.add_spec`, used by
``run_one_script --simulate --sim-fault SPEC``):

=============================  ===============================================
spec                           fault
=============================  ===============================================
``camera:COMMAND[:TIMES]``     the next TIMES (default 1) CCCamera COMMANDs fail
``oods-lose:N``                image N never reaches the OODS
``ingest-fail:N``              ingest of image N fails
``process-fail:N[:DETECTOR]``  processing of image N fails for DETECTOR (an
                               id; default the first detector read out)
``ocps-fail[:COUNT]``          the next COUNT (default 1) OCPS jobs fail
``ocps-slow:COUNT:DELAY``      the next COUNT OCPS jobs wait DELAY s to start
=============================  ===============================================

The OCPS faults are applied by `SimulatedObservatory` when it starts the
OCPS (`OcpsCsc.inject_failure`, `OcpsCsc.inject_slow_jobs`).
"""

__all__ = ["SimFaults"]

import collections
import dataclasses
import os

from astropy.io import fits


@dataclasses.dataclass
class SimFaults:
    """Faults armed for the simulated observatory's camera, header service and OODS.

    Attributes
    ----------
    camera_commands : `collections.Counter` [`str`]
        Number of upcoming failures per CCCamera command name.
    lost_images : `set` [`int`]
        Ordinals (1-based) of images that never reach the OODS.
    failed_ingests : `set` [`int`]
        Ordinals (1-based) of images whose ingest fails.
    failed_processing : `dict` [`int`, `int` or `None`]
        Ordinal (1-based) of each image whose processing fails → the
        detector id it fails for (None: the first detector read out).
    image_numbers : `dict` [`str`, `int`]
        Ordinal of each image taken, by image name (filled by the camera).
    ocps_failures : `int`
        Number of OCPS jobs to fail (applied when the OCPS starts).
    ocps_slow_jobs, ocps_slow_delay : `int`, `float`
        Number of OCPS jobs to delay, and by how many seconds.
    """

    camera_commands: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    lost_images: set[int] = dataclasses.field(default_factory=set)
    failed_ingests: set[int] = dataclasses.field(default_factory=set)
    failed_processing: dict[int, int | None] = dataclasses.field(default_factory=dict)
    image_numbers: dict[str, int] = dataclasses.field(default_factory=dict)
    ocps_failures: int = 0
    ocps_slow_jobs: int = 0
    ocps_slow_delay: float = 0.0

    def fail_camera_command(self, command: str, times: int = 1) -> None:
        """Make the next ``times`` CCCamera commands ``command`` fail.

        Parameters
        ----------
        command : `str`
            Command name, e.g. "takeImages" or "setFilter".
        times : `int`, optional
            How many of the next such commands fail (>= 1).

        Raises
        ------
        ValueError
            If ``times`` < 1.
        """
        if times < 1:
            raise ValueError(f"times={times} must be >= 1.")
        self.camera_commands[command] += times

    def lose_image(self, image_number: int) -> None:
        """Make image ``image_number`` (1 = the first taken) never reach the OODS.

        Raises
        ------
        ValueError
            If ``image_number`` < 1.
        """
        self.lost_images.add(self._check_number(image_number))

    def fail_ingest(self, image_number: int) -> None:
        """Make the ingest of image ``image_number`` (1 = the first taken) fail.

        Raises
        ------
        ValueError
            If ``image_number`` < 1.
        """
        self.failed_ingests.add(self._check_number(image_number))

    def fail_processing(self, image_number: int, detector: int | None = None) -> None:
        """Make processing of image ``image_number`` (1 = the first taken) fail for one detector.

        The raw ingests; reading it for processing fails (`damage_for_processing`).

        Parameters
        ----------
        image_number : `int`
            Ordinal of the image (>= 1).
        detector : `int`, optional
            Detector id (0-8); the first detector the image reads out if None.

        Raises
        ------
        ValueError
            If ``image_number`` < 1 or ``detector`` is not in 0-8.
        """
        if detector is not None and not 0 <= detector <= 8:
            raise ValueError(f"detector={detector} must be a ComCam detector id, 0-8.")
        self.failed_processing[self._check_number(image_number)] = detector

    def processing_fails(self, obs_id: str, detector: int, detectors: list[int]) -> bool:
        """Is the raw of this image and detector armed to fail processing?

        Parameters
        ----------
        obs_id : `str`
            Image name.
        detector : `int`
            Detector id of the raw.
        detectors : `list` [`int`]
            Detectors the image reads out, in order.
        """
        number = self.image_numbers.get(obs_id)
        if number not in self.failed_processing:
            return False
        wanted = self.failed_processing[number]
        return detector == (wanted if wanted is not None else detectors[0])

    @staticmethod
    def damage_for_processing(path: str | os.PathLike[str]) -> None:
        """Remove ``DATASEC`` from the first amplifier segment of a raw file (blocking).

        The file keeps its size, segments and primary header, so it
        ingests; reading its pixels for processing fails.
        """
        with fits.open(path, mode="update") as hdul:
            del hdul[1].header["DATASEC"]

    def take_camera_command_fault(self, command: str) -> bool:
        """Use up one armed failure of a camera command; return whether there was one."""
        if self.camera_commands[command] > 0:
            self.camera_commands[command] -= 1
            return True
        return False

    def register_image(self, obs_id: str) -> int:
        """Record an image the camera starts; return its ordinal (1 = first).

        Parameters
        ----------
        obs_id : `str`
            Image name.

        Returns
        -------
        image_number : `int`
            Ordinal of the image among those taken.
        """
        number = len(self.image_numbers) + 1
        self.image_numbers[obs_id] = number
        return number

    def is_lost(self, obs_id: str) -> bool:
        """Is this image armed to never reach the OODS?"""
        return self.image_numbers.get(obs_id) in self.lost_images

    def ingest_fails(self, obs_id: str) -> bool:
        """Is this image armed to fail ingest?"""
        return self.image_numbers.get(obs_id) in self.failed_ingests

    def add_spec(self, spec: str) -> None:
        """Arm a fault given as text (see the module documentation).

        Parameters
        ----------
        spec : `str`
            ``camera:COMMAND[:TIMES]``, ``oods-lose:N``, ``ingest-fail:N``,
            ``process-fail:N[:DETECTOR]``, ``ocps-fail[:COUNT]`` or
            ``ocps-slow:COUNT:DELAY``.

        Raises
        ------
        ValueError
            If the spec is malformed; the message lists the valid forms.
        """
        kind, _, rest = spec.strip().partition(":")
        usage = (
            "use camera:COMMAND[:TIMES], oods-lose:N, ingest-fail:N, process-fail:N[:DETECTOR], "
            "ocps-fail[:COUNT] or ocps-slow:COUNT:DELAY"
        )
        try:
            if kind == "camera" and rest:
                command, _, times = rest.partition(":")
                self.fail_camera_command(command, int(times) if times else 1)
            elif kind == "oods-lose":
                self.lose_image(int(rest))
            elif kind == "ingest-fail":
                self.fail_ingest(int(rest))
            elif kind == "process-fail":
                number, _, detector = rest.partition(":")
                self.fail_processing(int(number), int(detector) if detector else None)
            elif kind == "ocps-fail":
                count = int(rest) if rest else 1
                if count < 1:
                    raise ValueError(f"COUNT={count} must be >= 1")
                self.ocps_failures += count
            elif kind == "ocps-slow":
                count_text, _, delay_text = rest.partition(":")
                count, delay = int(count_text), float(delay_text)
                if count < 1 or delay <= 0:
                    raise ValueError(f"COUNT={count} must be >= 1 and DELAY={delay} > 0")
                self.ocps_slow_jobs, self.ocps_slow_delay = count, delay
            else:
                raise ValueError(f"unknown fault kind {kind!r}")
        except ValueError as e:
            raise ValueError(f"fault spec {spec!r} is not valid ({e}): {usage}.") from None

    @staticmethod
    def _check_number(image_number: int) -> int:
        if image_number < 1:
            raise ValueError(f"image_number={image_number} must be >= 1 (1 = the first image taken).")
        return int(image_number)
