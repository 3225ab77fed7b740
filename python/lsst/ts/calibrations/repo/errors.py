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

"""Errors of the LSSTComCam repository layer.

Each subclasses a builtin (and, for certification conflicts, daf_butler's
`~lsst.daf.butler.registry.ConflictingDefinitionError`) so existing handlers
still catch them.
"""

__all__ = ["CertificationConflictError", "IngestError", "RepositoryError"]

from lsst.daf.butler.registry import ConflictingDefinitionError


class RepositoryError(RuntimeError):
    """A path or alias is not a usable LSSTComCam butler repository.

    The message names the path and says what would be right.
    """


class IngestError(ValueError):
    """A raw file cannot be ingested; the message names the file and the reason."""


class CertificationConflictError(ConflictingDefinitionError, ValueError):
    """Certification would give a data ID two overlapping validity ranges.

    Parameters
    ----------
    message : `str`
        Description naming the conflicting data IDs and existing ranges.
    conflicts : `list` [`tuple` [`str`, `str`]]
        Pairs (data ID, existing validity range) as text.
    """

    def __init__(self, message: str, conflicts: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.conflicts = conflicts
