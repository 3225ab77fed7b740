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

"""Per-detector verification of a combined dark (cp_verify's ``CpVerifyDarkTask``).

`VerifyDarkTask` (pipeline label ``verifyDarkMeasure``) applies the bias
tests (`~lsst.ts.calibrations.cp.verify_bias.VerifyBiasTask`) to a dark
processed by ISR with the candidate bias and dark (``verifyDarkProc``, e⁻):
after the dark is subtracted what is left must be read noise, and cosmic
rays must not change the noise by more than 5 %. The result is
``verifyDarkDetStats``.
"""

__all__ = ["VerifyDarkConfig", "VerifyDarkConnections", "VerifyDarkTask"]

# ruff: noqa: N815

from .verify_bias import VerifyBiasConfig, VerifyBiasTask, VerifyDetectorConnections


class VerifyDarkConnections(
    VerifyDetectorConnections,
    dimensions=("instrument", "exposure", "detector"),
    defaultTemplates={"kind": "Dark"},
):
    """Connections of `VerifyDarkTask`: ``verifyDarkProc`` in, ``verifyDarkDetStats`` out."""


class VerifyDarkConfig(VerifyBiasConfig, pipelineConnections=VerifyDarkConnections):
    """Configuration of `VerifyDarkTask` (the bias tests' thresholds)."""


class VerifyDarkTask(VerifyBiasTask):
    """Measure and judge each amplifier of a processed dark."""

    ConfigClass = VerifyDarkConfig
    _DefaultName = "verifyDark"
    config: VerifyDarkConfig
