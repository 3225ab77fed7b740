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

"""The report and trends commands' arguments: each refusal names the
option and what would be right (exit code 2), a repository that does not
exist is exit code 1 with the reason, and nothing is written then."""

from pathlib import Path

import pytest

from lsst.ts.calibrations.report.report_command import main as report_main
from lsst.ts.calibrations.trends.trends_command import main as trends_main


def refusal(capsys: pytest.CaptureFixture[str], main: object, argv: list[str]) -> str:
    """Run a command that must refuse its arguments; return its error output."""
    with pytest.raises(SystemExit) as info:
        main(argv)  # type: ignore[operator]
    assert info.value.code == 2
    return capsys.readouterr().err


def test_report_needs_a_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    err = refusal(capsys, report_main, ["--repo", str(tmp_path), "--out", str(tmp_path / "out")])
    assert "give --collections or --run-record: the report needs to know which run to show" in err
    # Blank collections are no collections.
    err = refusal(
        capsys, report_main, ["--repo", str(tmp_path), "--collections", " , ", "--out", str(tmp_path / "o")]
    )
    assert "give --collections or --run-record" in err
    err = refusal(capsys, report_main, ["--collections", "a"])
    assert "the following arguments are required: --repo, --out" in err
    assert not (tmp_path / "out").exists()


def test_report_of_a_missing_repository(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    repo, out = tmp_path / "no_repo", tmp_path / "out"
    assert report_main(["--repo", str(repo), "--collections", "u/ocps/1", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Cannot build the report: ")
    assert f"Butler repository {repo} does not exist" in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--since", "2026-13-01"], "--since/--until: "),
        (["--until", "yesterday"], "--since/--until: "),
        (["--since", "2026-05-03", "--until", "20260502"], "--since 2026-05-03 is after --until 20260502"),
        (["--nights", "0"], "--nights 0: give at least 1"),
        (["--threshold", "0"], "--threshold 0.0: give a number of σ > 0"),
        (["--threshold", "nan"], "--threshold nan: give a number of σ > 0"),
    ],
)
def test_trends_refusals(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, options: list[str], message: str
) -> None:
    out = tmp_path / "out"
    err = refusal(capsys, trends_main, ["--repo", str(tmp_path), "--out", str(out), *options])
    assert message in err
    assert not out.exists()


def test_trends_of_a_missing_repository(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    repo, out = tmp_path / "no_repo", tmp_path / "out"
    argv = ["--repo", str(repo), "--out", str(out), "--since", "20260501", "--until", "2026-05-01"]
    assert trends_main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("Cannot build the trends page: ")
    assert f"Butler repository {repo} does not exist" in err
    assert not out.exists()
