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
"""Merge one nested dict into another, key by key."""

__all__ = ["hierarchical_update"]

from typing import Any


def hierarchical_update(
    main: dict[str, Any],
    override: dict[str, Any],
    main_name: str,
    override_name: str,
    prefix: str = "",
) -> None:
    """Update ``main`` in place with the values of ``override``, recursing
    into values that are dicts in both.

    Parameters
    ----------
    main : `dict` [`str`, `typing.Any`]
        Dict to update.
    override : `dict` [`str`, `typing.Any`]
        Values to apply. A key missing from ``main`` is added; a non-dict
        value replaces the old one; a dict value is merged item by item.
    main_name : `str`
        Name of ``main`` in error messages (e.g. "config").
    override_name : `str`
        Name of ``override`` in error messages (e.g. a file name).
    prefix : `str`, optional
        Key path so far, "[key][subkey]...", for error messages; "" at the
        top.

    Raises
    ------
    ValueError
        If ``main`` or ``override`` is not a dict, or a key holds a dict in
        one and not in the other.
    """
    if not isinstance(main, dict):
        raise ValueError(f"{main_name}{prefix}={main!r} is not a dict")
    if not isinstance(override, dict):
        raise ValueError(f"{override_name}{prefix}={override!r} is not a dict")
    for key, new_value in override.items():
        if key not in main:
            main[key] = new_value
        elif isinstance(new_value, dict):
            hierarchical_update(main[key], new_value, main_name, override_name, f"{prefix}[{key}]")
        elif isinstance(main[key], dict):
            raise ValueError(
                f"{main_name}{prefix}[{key}]={main[key]!r} is a dict, "
                f"but {override_name}{prefix}[{key}]={new_value!r} is not"
            )
        else:
            main[key] = new_value
