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

"""The suite's timeout policy: the factor from the environment, and limits that never shrink."""

import pytest

from fixtures import timeouts


def test_factor_default_and_value() -> None:
    assert timeouts.timeout_factor({}) == 1.0
    assert timeouts.timeout_factor({timeouts.TIMEOUT_FACTOR_ENV: " "}) == 1.0
    assert timeouts.timeout_factor({timeouts.TIMEOUT_FACTOR_ENV: "2.5"}) == 2.5


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("fast", "is not a number"),
        ("0.5", "must be a finite number ≥ 1"),
        ("inf", "must be a finite number ≥ 1"),
    ],
)
def test_bad_factor_is_named(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=timeouts.TIMEOUT_FACTOR_ENV) as raised:
        timeouts.timeout_factor({timeouts.TIMEOUT_FACTOR_ENV: text})
    assert words in str(raised.value)


def test_limits_are_ordered_and_scaled() -> None:
    limits = [
        timeouts.STD_TIMEOUT,
        timeouts.PROCESS_TIMEOUT,
        timeouts.RUN_TIMEOUT,
        timeouts.PIPETASK_TIMEOUT,
        timeouts.BUILD_TIMEOUT,
    ]
    assert limits == sorted(limits)
    assert timeouts.STD_TIMEOUT == 60.0 * timeouts.TIMEOUT_FACTOR


@pytest.mark.timeout(1234.0)
def test_a_timeout_marker_is_kept(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("timeout")
    assert marker.args[0] == 1234.0


def test_default_limit_is_multiplied(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("timeout")
    default = float(request.config.getini("timeout"))
    if timeouts.TIMEOUT_FACTOR == 1.0:
        assert marker is None or marker.args[0] == default
    else:
        assert marker.args[0] == default * timeouts.TIMEOUT_FACTOR
