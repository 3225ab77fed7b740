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

"""The simulated OCPS's execution backends: names and errors (cheap to import)."""

__all__ = ["DEFAULT_EXECUTION_BACKEND", "EXECUTION_BACKENDS", "QuantumWorkerDiedError"]

EXECUTION_BACKENDS: tuple[str, ...] = ("pipetask", "workers")
"""Values of the OCPS's ``execution_backend``: ``pipetask`` runs a job as one
``pipetask run`` process; ``workers`` runs its quanta on long-lived quantum
workers (`~lsst.ts.calibrations.sim.worker_job_runner.WorkerJobRunner`)."""

DEFAULT_EXECUTION_BACKEND = "workers"
"""The backend used unless configured otherwise."""


class QuantumWorkerDiedError(ConnectionError):
    """Raised when a quantum worker process ends while a request to it is outstanding."""
