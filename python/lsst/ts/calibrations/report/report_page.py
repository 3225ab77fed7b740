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

"""ReportPage: one self-contained HTML page with its PNG figures beside it.

Sections are added in order, each with an id, a title and HTML (text made
safe with `ReportPage.escape`); figures are added by name and embedded in the
page as ``data:image/png;base64`` URIs, so the page alone is the whole
report (mail it, attach it, open it offline). `ReportPage.write` writes
``report.html`` and every figure as ``<name>.png`` into a folder.
"""

__all__ = ["ReportPage"]

import base64
import html
from collections.abc import Sequence
from pathlib import Path

TITLE_BAND_COLOUR = "#1f3b73"
"""Colour of the title band at the top of the page (a browser test finds it in a screenshot)."""

STYLE = f"""
body {{ font-family: sans-serif; margin: 0; color: #222; }}
header {{ background: {TITLE_BAND_COLOUR}; color: white; padding: 24px 32px; }}
header h1 {{ margin: 0; font-size: 30px; }}
header p {{ margin: 6px 0 0 0; }}
nav {{ padding: 8px 32px; background: #eef1f7; }}
nav a {{ margin-right: 14px; }}
section {{ padding: 4px 32px 16px 32px; border-bottom: 1px solid #ddd; }}
table {{ border-collapse: collapse; font-size: 12px; margin: 8px 0; }}
th, td {{ border: 1px solid #bbb; padding: 2px 6px; text-align: right; }}
th {{ background: #eef1f7; }}
td.text {{ text-align: left; }}
td.pass {{ background: #c8f0c8; }}
td.fail {{ background: #f5b5b5; text-align: left; }}
td.none {{ background: #eee; }}
.nodata {{ color: #a33; font-style: italic; }}
.failures {{ border-left: 4px solid #c33; padding: 0 12px; margin: 8px 0; background: #fdf0f0; }}
details.raft {{ margin: 4px 0; }}
details.raft summary {{ cursor: pointer; }}
img {{ max-width: 100%; display: block; margin: 8px 0; }}
"""


class ReportPage:
    """An HTML report being assembled.

    Parameters
    ----------
    title : `str`
        Title of the page (shown in the title band).
    subtitle : `str`
        A line under the title (repository, run).
    """

    def __init__(self, title: str, subtitle: str = "") -> None:
        self.title = title
        self.subtitle = subtitle
        self.sections: list[tuple[str, str, str]] = []
        self.figures: dict[str, bytes] = {}

    @staticmethod
    def escape(text: object) -> str:
        """HTML-escape a value's text."""
        return html.escape(str(text))

    @staticmethod
    def table(header: Sequence[str], rows: Sequence[Sequence[str]], table_id: str = "") -> str:
        """An HTML table.

        Parameters
        ----------
        header : `~collections.abc.Sequence` [`str`]
            Column names (text).
        rows : `~collections.abc.Sequence` [`~collections.abc.Sequence` [`str`]]
            Cells as HTML (escape text first); a cell starting with ``<td``
            is taken as the whole cell (for its class).
        table_id : `str`, optional
            The table's HTML id.

        Returns
        -------
        html : `str`
            The table.
        """
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(c if c.startswith("<td") else f"<td>{c}</td>" for c in row) + "</tr>"
            for row in rows
        )
        ident = f' id="{html.escape(table_id)}"' if table_id else ""
        return f"<table{ident}><tr>{head}</tr>{body}</table>"

    @staticmethod
    def no_data(text: str) -> str:
        """A paragraph saying what is missing (class ``nodata``)."""
        return f'<p class="nodata">{html.escape(str(text))}</p>'

    def add_section(self, section_id: str, title: str, body: str) -> None:
        """Add a section.

        Parameters
        ----------
        section_id : `str`
            Its HTML id (unique).
        title : `str`
            Its heading.
        body : `str`
            Its HTML.
        """
        if any(existing == section_id for existing, _, _ in self.sections):
            raise ValueError(f"Section id {section_id!r} is already used; give each section its own id.")
        self.sections.append((section_id, title, body))

    def figure(self, name: str, png: bytes, alt: str) -> str:
        """Keep a figure and return the HTML that embeds it.

        Parameters
        ----------
        name : `str`
            File name without ``.png`` (unique).
        png : `bytes`
            The PNG.
        alt : `str`
            Text alternative.

        Returns
        -------
        html : `str`
            An ``<img>`` element with the PNG as a data URI.
        """
        if not png.startswith(b"\x89PNG"):
            raise ValueError(f"Figure {name!r} is not a PNG.")
        if name in self.figures:
            raise ValueError(f"Figure name {name!r} is already used; give each figure its own name.")
        self.figures[name] = png
        data = base64.b64encode(png).decode("ascii")
        return (
            f'<img id="fig-{self.escape(name)}" alt="{self.escape(alt)}" src="data:image/png;base64,{data}">'
        )

    def render(self) -> str:
        """Return the page's HTML."""
        nav = " ".join(f'<a href="#{sid}">{self.escape(title)}</a>' for sid, title, _ in self.sections)
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{self.escape(self.title)}</title><style>{STYLE}</style></head><body>",
            f'<header><h1 id="report-title">{self.escape(self.title)}</h1>',
            f"<p>{self.escape(self.subtitle)}</p></header>",
            f"<nav>{nav}</nav>",
        ]
        for sid, title, body in self.sections:
            parts.append(f'<section id="{sid}"><h2>{self.escape(title)}</h2>\n{body}\n</section>')
        parts.append("</body></html>")
        return "\n".join(parts)

    def write(self, out_dir: Path) -> Path:
        """Write ``report.html`` and the figures into a folder (created if needed).

        Parameters
        ----------
        out_dir : `pathlib.Path`
            The folder.

        Returns
        -------
        path : `pathlib.Path`
            The HTML file.
        """
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, png in self.figures.items():
            (out_dir / f"{name}.png").write_bytes(png)
        path = out_dir / "report.html"
        path.write_text(self.render(), encoding="utf-8")
        return path
