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

"""The order of the work handed to pytest-xdist's workers: the longest units first."""

from typing import Any

import pytest

from fixtures import scheduling


class _Item:
    """What the ordering reads of a collected test: its node id and markers."""

    def __init__(self, nodeid: str, group: str | None = None, slow: bool = False) -> None:
        self.nodeid = nodeid
        self.markers: dict[str, Any] = {}
        if group is not None:
            self.markers["xdist_group"] = pytest.mark.xdist_group(group).mark
        if slow:
            self.markers["slow"] = pytest.mark.slow.mark

    def get_closest_marker(self, name: str) -> Any:
        return self.markers.get(name)


def ids(items: list[Any]) -> list[str]:
    return [item.nodeid for item in items]


def test_longest_unit_first_and_a_unit_keeps_its_order() -> None:
    items = [
        _Item("a.py::one"),
        _Item("e2e.py::first", group="e2e.py"),
        _Item("b.py::two"),
        _Item("e2e.py::second", group="e2e.py"),
        _Item("c.py::long"),
    ]
    last = {
        "a.py::one": 1.0,
        "e2e.py::first": 20.0,
        "e2e.py::second": 5.0,
        "b.py::two": 2.0,
        "c.py::long": 30.0,
    }
    ordered = scheduling.order_by_expected_time(items, last)  # type: ignore[arg-type]
    # e2e.py's group (25 s) after c.py::long (30 s); its two tests together and in their order.
    assert ids(ordered) == ["c.py::long", "e2e.py::first", "e2e.py::second", "b.py::two", "a.py::one"]


def test_tests_not_run_before_are_estimated_from_their_markers() -> None:
    items = [
        _Item("fast.py::a"),
        _Item("fast.py::b"),
        _Item("slow.py::a", slow=True),
        _Item("build.py::a", group="reference_repository", slow=True),
        _Item("other.py::known"),
    ]
    ordered = scheduling.order_by_expected_time(  # type: ignore[arg-type]
        items, {"other.py::known": 60.0}, frozenset({"reference_repository"})
    )
    # The build (estimated 90 s + a slow test) first, then the test known to take 60 s, then the
    # slow test; tests of equal time keep the collection's order.
    assert ids(ordered) == ["build.py::a", "other.py::known", "slow.py::a", "fast.py::a", "fast.py::b"]
    assert scheduling.estimate(items[2], {}) == scheduling.SLOW_SECONDS  # type: ignore[arg-type]
    assert scheduling.estimate(items[0], {}) == scheduling.FAST_SECONDS  # type: ignore[arg-type]


def test_a_build_known_from_the_last_run_is_not_estimated_again() -> None:
    items = [_Item("build.py::a", group="calibration_run"), _Item("x.py::b")]
    last = {"build.py::a": 10.0, "x.py::b": 50.0}
    ordered = scheduling.order_by_expected_time(items, last, frozenset({"calibration_run"}))  # type: ignore[arg-type]
    assert ids(ordered) == ["x.py::b", "build.py::a"]


def test_the_group_suffix_of_pytest_xdist_is_not_part_of_a_test() -> None:
    assert scheduling.plain_nodeid("tests/a.py::test_b@reference_repository") == "tests/a.py::test_b"
    assert scheduling.plain_nodeid("tests/a.py::test_b[x@y]") == "tests/a.py::test_b[x@y]"
    assert scheduling.plain_nodeid("tests/a.py::test_b[x@y]@group") == "tests/a.py::test_b[x@y]"
    item = _Item("tests/a.py::test_b@group", group="group")
    assert scheduling.estimate(item, {"tests/a.py::test_b": 3.0}) == 3.0  # type: ignore[arg-type]


def test_a_group_missing_from_a_node_id_stops_the_session() -> None:
    grouped = _Item("tests/a.py::test_one@calibration_run", group="calibration_run")
    scheduling.check_groups_in_node_ids([grouped, _Item("tests/b.py::test_two")])
    with pytest.raises(pytest.UsageError, match=r"tests/a.py::test_one \(pytest"):
        scheduling.check_groups_in_node_ids([_Item("tests/a.py::test_one", group="calibration_run")])


class _Terminal:
    """What the end-of-run summary writes to: sections and lines, kept."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def section(self, title: str) -> None:
        self.lines.append(f"== {title}")

    def write_line(self, line: str) -> None:
        self.lines.append(line)


def _report(nodeid: str, seconds: float, *markers: str) -> Any:
    keywords = {name: 1 for name in (nodeid.rpartition("::")[2], *markers)}
    return pytest.TestReport(nodeid, ("a.py", 0, nodeid), keywords, "passed", None, "call", duration=seconds)


def test_quick_tests_that_were_slow_are_named_at_the_end() -> None:
    times = scheduling._TestTimes(None)
    over = scheduling.QUICK_REPORT_SECONDS + 0.5
    for report in (
        _report("a.py::quick", 0.1),
        _report("a.py::long_in_two_phases", over / 2),
        _report("a.py::long_in_two_phases", over / 2),
        _report("a.py::marked", 30.0, "slow"),
        _report("a.py::grouped@g", over + 1.0),
    ):
        times.pytest_runtest_logreport(report)
    terminal = _Terminal()
    times.pytest_terminal_summary(terminal)  # type: ignore[arg-type]
    assert terminal.lines[0].startswith("== tests not marked slow that took over")
    assert [line.split("s  ")[-1] for line in terminal.lines[1:3]] == [
        "a.py::grouped",
        "a.py::long_in_two_phases",
    ]
    assert len(terminal.lines) == 4 and "mark them slow" in terminal.lines[3]
    times.pytest_sessionfinish()  # no cache: nothing kept, no error
    quiet = _Terminal()
    quick_only = scheduling._TestTimes(None)
    quick_only.pytest_runtest_logreport(_report("a.py::quick", 0.1))
    quick_only.pytest_terminal_summary(quiet)  # type: ignore[arg-type]
    assert quiet.lines == []
