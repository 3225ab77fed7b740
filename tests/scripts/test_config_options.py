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

"""pipetask configuration options: split like a shell, only configuration options allowed."""

import pytest

from lsst.ts.calibrations.scripts.config_options import SCRIPT_OWNED_OPTIONS, parse_config_options


def test_accepted_forms() -> None:
    text = (
        '-c isr:doDefect=False --register-dataset-types --config=isr:doBias=True -C "isr:/a b/c.py" '
        "--no-versions"
    )
    assert parse_config_options("config_options_bias", text) == (
        "-c",
        "isr:doDefect=False",
        "--register-dataset-types",
        "--config",
        "isr:doBias=True",
        "-C",
        "isr:/a b/c.py",
        "--no-versions",
    )
    assert parse_config_options("config_options_bias", "  ") == ()
    # Shell metacharacters stay inside their argument: nothing is ever run through a shell.
    assert parse_config_options("x", "-c 'isr:doc=a; rm -rf /'") == ("-c", "isr:doc=a; rm -rf /")


@pytest.mark.parametrize("option", sorted(SCRIPT_OWNED_OPTIONS))
def test_script_owned_options_refused(option: str) -> None:
    with pytest.raises(ValueError, match=f"config_options_flat: {option} is not allowed: the script sets"):
        parse_config_options("config_options_flat", f"{option} value")


@pytest.mark.parametrize(
    "text, message",
    [
        ("--output-run=u/me/x", "--output-run is not allowed"),
        ("-c", "-c needs a value, e.g. -c isr:doDefect=False"),
        ("-c isr", "-c 'isr' is not of the form isr:doDefect=False"),
        ("-C isr", "-C 'isr' is not of the form isr:/path/to/isr_config.py"),
        ("isr:doDefect=False", "'isr:doDefect=False' is a value without its option"),
        ("--clobber-outputs", "'--clobber-outputs' is an option that is not allowed here"),
        ("--register-dataset-types=1", "--register-dataset-types takes no value"),
        ('-c "isr:doDefect=False', "cannot be split into arguments .*: balance the quotes"),
    ],
)
def test_refusals(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_config_options("config_options_ptc", text)
