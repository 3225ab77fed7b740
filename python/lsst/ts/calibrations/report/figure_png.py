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

"""Render a matplotlib figure to PNG bytes with the Agg renderer, without pyplot.

Report figures are made as `matplotlib.figure.Figure` objects on an Agg
canvas: pyplot's global figure manager never holds them, so building a
report leaves no figure open (``matplotlib.pyplot.get_fignums()`` stays
empty), needs no display and is safe in a thread. `new_figure` makes a
figure of an exact size in pixels; `figure_to_png` renders it and clears it.
"""

__all__ = ["DPI", "figure_to_png", "new_figure"]

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 100
"""Resolution of every report figure (pixels per inch)."""


def new_figure(width: int, height: int) -> Figure:
    """Return a figure of ``width`` × ``height`` pixels on an Agg canvas.

    Parameters
    ----------
    width, height : `int`
        Size of the PNG it renders to (pixels).

    Returns
    -------
    figure : `matplotlib.figure.Figure`
        The figure; render it with `figure_to_png`.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"Figure size {width} × {height} pixels must be positive.")
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def figure_to_png(figure: Figure) -> bytes:
    """Render a figure to PNG and release it.

    Parameters
    ----------
    figure : `matplotlib.figure.Figure`
        A figure made by `new_figure` (its size in pixels is kept exactly:
        no tight bounding box).

    Returns
    -------
    png : `bytes`
        The PNG file.
    """
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=DPI)
    finally:
        figure.clear()
    return buffer.getvalue()
