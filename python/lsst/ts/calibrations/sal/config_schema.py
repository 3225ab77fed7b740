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
"""Configuration schema of the Test CSC (`TestCsc`), as salobj's."""

__all__ = ["CONFIG_SCHEMA"]

from typing import Any

import yaml

CONFIG_SCHEMA: dict[str, Any] = yaml.safe_load(
    """
$schema: http://json-schema.org/draft-07/schema#
$id: https://github.com/lsst-ts/ts_calibrations/blob/main/python/lsst/ts/calibrations/sal/config_schema.py
title: Test v2
description: Configuration of the Test CSC.
type: object
properties:
  string0:
    type: string
  bool0:
    type: boolean
  int0:
    type: integer
  float0:
    type: number
  intarr0:
    type: array
    items:
      type: integer
  multi_type:
    anyOf:
      - type: integer
        minimum: 1
      - type: string
      - type: "null"
required: [string0, bool0, int0, float0, intarr0, multi_type]
additionalProperties: false
"""
)
"""Schema of the Test CSC's configuration; its version (v2) names the
configuration directory ``Test/v2``."""
