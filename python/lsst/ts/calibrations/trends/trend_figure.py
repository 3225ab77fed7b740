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

"""The time series of one quantity on one detector: a panel per amplifier, with its band."""

__all__ = ["TREND_SIZE", "trend_figure"]

import datetime
import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..report.figure_png import figure_to_png, new_figure
from .trend_point import TrendPoint

TREND_SIZE = (1100, 860)
"""Size (width, height) of a trend figure PNG, pixels."""

_COLUMNS = 4


def _date(night: int) -> datetime.date:
    return datetime.datetime.strptime(str(night), "%Y%m%d").date()


def trend_figure(
    series: Mapping[str, Sequence[TrendPoint]],
    bands: Mapping[str, Sequence[tuple[float, float]]],
    *,
    title: str,
    unit: str,
    threshold: float,
) -> bytes:
    """Draw each amplifier's nightly values with errors and the band of its recent nights.

    Parameters
    ----------
    series : `~collections.abc.Mapping` [`str`, `~collections.abc.Sequence` [`TrendPoint`]]
        Points by amplifier name, oldest first.
    bands : `~collections.abc.Mapping` [`str`, `~collections.abc.Sequence` [`tuple` [`float`, `float`]]]
        (reference, σ) of each point (NaN where there is too little history).
    title : `str`
        Title of the picture.
    unit : `str`
        Unit of the values.
    threshold : `float`
        Half-width of the band in σ.

    Returns
    -------
    png : `bytes`
        The PNG (`TREND_SIZE`): values as dots with error bars, the band
        (reference ± threshold × σ) shaded, values outside it in red.
    """
    figure = new_figure(*TREND_SIZE)
    amps = list(series)
    rows = max(1, math.ceil(len(amps) / _COLUMNS))
    figure.suptitle(f"{title} ({unit}); band: median of the previous nights ± {threshold:g} σ", fontsize=11)
    nights = sorted({p.night for points in series.values() for p in points})
    first = _date(nights[0]) if nights else datetime.date.today()
    days = [(_date(n) - first).days for n in nights]
    span = days[-1] if days else 0
    step = max(1, math.ceil((span + 1) / 4))
    ticks = list(range(0, span + 1, step))
    labels = [(first + datetime.timedelta(days=t)).strftime("%m-%d") for t in ticks]
    for index, amp in enumerate(amps):
        axes = figure.add_subplot(rows, _COLUMNS, index + 1)
        points = series[amp]
        x = np.array([(_date(p.night) - first).days for p in points], dtype=float)
        values = np.array([p.value for p in points])
        errors = np.array([p.error if math.isfinite(p.error) else 0.0 for p in points])
        reference = np.array([b[0] for b in bands[amp]])
        sigma = np.array([b[1] for b in bands[amp]])
        low, high = reference - threshold * sigma, reference + threshold * sigma
        if np.any(np.isfinite(reference)):
            axes.fill_between(x, low, high, color="tab:blue", alpha=0.18, step="mid", linewidth=0)
            axes.plot(x, reference, color="tab:blue", linewidth=0.8, drawstyle="steps-mid")
        outside = np.isfinite(reference) & ((values < low) | (values > high))
        axes.vlines(x, values - errors, values + errors, color="0.3", linewidth=0.8)
        axes.plot(x[~outside], values[~outside], "o", markersize=3, color="black")
        if np.any(outside):
            axes.plot(x[outside], values[outside], "o", markersize=4, color="tab:red")
        axes.set_title(amp, fontsize=8, color="tab:red" if outside[-1:].any() else "black")
        axes.tick_params(labelsize=6)
        axes.set_xlim(-0.5, span + 0.5)
        axes.set_xticks(ticks, labels)
    figure.subplots_adjust(left=0.06, right=0.99, bottom=0.05, top=0.92, hspace=0.45, wspace=0.3)
    return figure_to_png(figure)
