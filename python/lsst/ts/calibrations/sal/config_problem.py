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

"""ConfigProblem: one problem of a script configuration, naming its option."""

from __future__ import annotations

__all__ = ["ConfigProblem"]

import dataclasses
from collections.abc import Iterable, Mapping


@dataclasses.dataclass(frozen=True)
class ConfigProblem:
    """One problem of a configuration: what is wrong and what would be right.

    ``BaseScript.do_configure`` gathers the problems of every layer (the
    YAML text, the schema, then the script's own checks) and refuses the
    configuration once, with all of them (`describe_all`).

    Parameters
    ----------
    message : `str`
        One sentence naming the option and what would be right.
    option : `str`, optional
        The top-level option the problem is about; "" for the text as a
        whole. Checks that come later skip the options already named.
    line : `int` or `None`, optional
        Line of the configuration text the problem is on, if known.
    """

    message: str
    option: str = ""
    line: int | None = None

    def __str__(self) -> str:
        if self.line is None or self.message.startswith(f"line {self.line}:"):
            return self.message
        return f"line {self.line}: {self.message}"

    def on_line(self, lines: Mapping[str, int]) -> ConfigProblem:
        """Return the problem with the line of its option in ``lines``, if it has none."""
        if self.line is not None or self.option not in lines:
            return self
        return dataclasses.replace(self, line=lines[self.option])

    @staticmethod
    def options(problems: Iterable[ConfigProblem]) -> frozenset[str]:
        """Return the options named by ``problems``."""
        return frozenset(problem.option for problem in problems if problem.option)

    @staticmethod
    def describe_all(problems: Iterable[ConfigProblem]) -> str:
        """Return every problem in one text: "2 configuration problem(s): (1) ... (2) ...".

        Parameters
        ----------
        problems : iterable of `ConfigProblem`
            The problems, in the order found.

        Returns
        -------
        text : `str`
            The numbered problems.
        """
        items = list(problems)
        return f"{len(items)} configuration problem(s): " + " ".join(
            f"({i}) {problem}" for i, problem in enumerate(items, start=1)
        )
