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

from pathlib import Path
from typing import Any

import pytest
import yaml

from lsst.ts.calibrations.sim.sensor_parameters import SensorParameters

SHIPPED = sorted(SensorParameters.default_path().parent.glob("*.yaml"))


def _leaf_names(values: dict[str, Any], prefix: str = "") -> set[str]:
    names = set()
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and key not in ("flux", "overrides", "amps", "vendors"):
            names |= _leaf_names(value, f"{name}.")
        else:
            names.add(name)
    return names


def test_default_file_lists_and_documents_every_parameter() -> None:
    path = SensorParameters.default_path()
    with open(path) as f:
        values = yaml.safe_load(f)
    assert _leaf_names(values) == set(SensorParameters.parameter_names())
    # Every parameter line is preceded by a comment (or by another parameter
    # of the same documented group).
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.endswith(":") or line.startswith("    "):
            continue
        previous = lines[number - 1].strip()
        assert previous.startswith("#") or previous.split(":")[0] in ("single", "double"), line


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_models_load(path: Path) -> None:
    parameters = SensorParameters.from_yaml(path)
    assert parameters.name == path.stem
    assert SensorParameters.from_yaml(path.stem).values == parameters.values


def test_partial_file_merges_over_default(tmp_path: Path) -> None:
    path = tmp_path / "noisy.yaml"
    path.write_text("name: noisy\nread_noise:\n  scale: 1.3\nflat:\n  flux:\n    r_03: 100.0\n")
    parameters = SensorParameters.from_yaml(path)
    assert parameters.get("read_noise.scale") == 1.3
    assert parameters.get("read_noise.scatter") == 0.02
    assert parameters.get("flat.flux")["r_03"] == 100.0
    assert parameters.get("flat.flux")["g_01"] == 3500.0
    assert parameters.source == str(path)


@pytest.mark.parametrize(
    "values, message",
    [
        (
            {"gain": {"scatter": -0.1}},
            r"parameter gain.scatter = -0.1 is out of range: it must be in \[0, 0.2\]",
        ),
        ({"read_noise": {"scale": "big"}}, r"parameter read_noise.scale must be a number, not 'big'"),
        ({"bias": {"levl": 3}}, r"parameter bias.levl is unknown; known: bias.column_pattern"),
        ({"biass": {}}, r"parameter biass is unknown"),
        ({"bias": 5}, r"parameter bias must be a mapping"),
        ({"defects": {"hot_pixels": 2.5}}, r"parameter defects.hot_pixels must be an integer, not 2.5"),
        (
            {"defects": {"cold_response": [0.8, 0.2]}},
            r"parameter defects.cold_response = \[0.8, 0.2\] must satisfy",
        ),
        ({"defects": {"hot_current": 5}}, r"parameter defects.hot_current must be a pair \[low, high\]"),
        ({"brighter_fatter": {"enabled": "yes"}}, r"parameter brighter_fatter.enabled must be true or false"),
        ({"brighter_fatter": {"a00": 2e-6}}, r"parameter brighter_fatter.a00 = 2e-06 is out of range"),
        ({"flat": {"flux": {"r_03": -1}}}, r"parameter flat.flux.r_03 = -1 must be a flux >= 0"),
        (
            {"cosmic_rays": {"single": 0.9}},
            r"parameter cosmic_rays.single/double/triple must sum to 1; they sum to 1.4",
        ),
        ({"overrides": {"R22_S33": {}}}, r"parameter overrides.R22_S33 is not a detector"),
        ({"overrides": {"R22_S11": {"C99": {}}}}, r"parameter overrides.R22_S11.C99 is not an amplifier"),
        (
            {"overrides": {"R22_S11": {"C10": {"noise": 3}}}},
            r"parameter overrides.R22_S11.C10.noise is unknown",
        ),
        (
            {"overrides": {"R22_S11": {"C10": {"gain": 0}}}},
            r"parameter overrides.R22_S11.C10.gain = 0 must be",
        ),
        ({"saturation": {"adc_max": True}}, r"parameter saturation.adc_max must be an integer, not True"),
    ],
)
def test_bad_parameters_are_named(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SensorParameters(values, source="bad.yaml")


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="shipped models are .*comcam_default"):
        SensorParameters.from_yaml(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("gain: [1, 2\n")
    with pytest.raises(ValueError, match="is not valid YAML"):
        SensorParameters.from_yaml(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="must hold a mapping"):
        SensorParameters.from_yaml(listing)
    with pytest.raises(KeyError, match="Unknown sensor-model parameter 'gain'"):
        SensorParameters.from_yaml(None).get("gain")
