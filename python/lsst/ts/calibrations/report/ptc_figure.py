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

"""The photon transfer curves of one detector: variance against mean, the fit, residuals, turnoff.

Top: every flat pair's variance against its mean for each amplifier (one
colour per amplifier; points the fit rejected as crosses), with the fitted
model (``EXPAPPROXIMATION``, Astier+19 eq. 16) over the fitted range and each
amplifier's turnoff (the highest mean kept) as a triangle on the axis.
Bottom: relative residuals (var − model)/model of the kept points.
"""

__all__ = ["ptc_figure"]

import numpy as np
from matplotlib import colormaps

from ..repo.ptc_dataset import PhotonTransferCurveDataset
from .figure_png import figure_to_png, new_figure

PTC_SIZE = (1000, 720)
"""Size (width, height) of a PTC PNG, pixels."""


def _model(means: np.ndarray, parameters: np.ndarray) -> np.ndarray:
    """EXPAPPROXIMATION variance (ADU²) at means (ADU) for [a00 (1/e⁻), gain (e⁻/ADU), n00 (e⁻²)]."""
    a00, gain, n00 = (float(p) for p in parameters[:3])
    if abs(a00) < 1e-12:
        return means / gain + n00 / gain**2
    return np.expm1(2 * a00 * means * gain) / (2 * a00 * gain**2) + n00 / gain**2


def ptc_figure(ptc: PhotonTransferCurveDataset, detector_name: str) -> bytes:
    """Draw a detector's photon transfer curves; return the PNG (``PTC_SIZE`` pixels).

    Parameters
    ----------
    ptc : `PhotonTransferCurveDataset`
        The ``ptc`` dataset of the detector.
    detector_name : `str`
        Its name, for the title.

    Returns
    -------
    png : `bytes`
        The PNG.
    """
    figure = new_figure(*PTC_SIZE)
    grid = figure.add_gridspec(
        2, 1, height_ratios=(3, 1), left=0.08, right=0.82, top=0.92, bottom=0.08, hspace=0.05
    )
    top = figure.add_subplot(grid[0])
    bottom = figure.add_subplot(grid[1], sharex=top)
    colours = colormaps["tab20"]
    gains = []
    for i, amp in enumerate(ptc.ampNames):
        colour = colours(i % 20)
        means = np.asarray(ptc.rawMeans.get(amp, []), dtype=float)
        variances = np.asarray(ptc.rawVars.get(amp, []), dtype=float)
        mask = np.asarray(ptc.expIdMask.get(amp, np.ones(means.size, bool)), dtype=bool)
        if mask.size != means.size:
            mask = np.ones(means.size, bool)
        good = mask & np.isfinite(means) & np.isfinite(variances) & (means > 0) & (variances > 0)
        top.plot(means[good], variances[good], "o", ms=3, color=colour, label=amp)
        rejected = ~mask & np.isfinite(means) & (means > 0) & (variances > 0)
        if rejected.any():
            top.plot(means[rejected], variances[rejected], "x", ms=4, color=colour)
        parameters = np.asarray(ptc.ptcFitPars.get(amp, []), dtype=float)
        if parameters.size >= 3 and np.all(np.isfinite(parameters[:3])) and good.any():
            line = np.geomspace(means[good].min(), means[good].max(), 60)
            top.plot(line, _model(line, parameters), "-", lw=0.8, color=colour)
            model = _model(means[good], parameters)
            bottom.plot(means[good], (variances[good] - model) / model, "o-", ms=2.5, lw=0.5, color=colour)
        turnoff = float(ptc.ptcTurnoff.get(amp, np.nan))
        if np.isfinite(turnoff) and turnoff > 0:
            top.plot(
                [turnoff],
                [0.0],
                marker="v",
                ms=6,
                color=colour,
                transform=top.get_xaxis_transform(),
                clip_on=False,
            )
        if np.isfinite(ptc.gain.get(amp, np.nan)):
            gains.append(float(ptc.gain[amp]))
    top.set_xscale("log")
    top.set_yscale("log")
    top.set_ylabel("variance (ADU²)")
    top.tick_params(which="both", labelbottom=False)
    top.grid(True, which="both", alpha=0.2)
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, ncol=1, title="amplifier")
    bottom.axhline(0.0, color="black", lw=0.6)
    bottom.set_xlabel("mean (ADU)")
    bottom.set_ylabel("(var − model)/model")
    bottom.grid(True, alpha=0.2)
    gain_text = f"gain median {np.median(gains):.3f} e⁻/ADU" if gains else "no fitted gain"
    top.set_title(
        f"{detector_name}: photon transfer curves ({ptc.ptcFitType}); {gain_text}; ▼ turnoff, × rejected",
        fontsize=10,
    )
    return figure_to_png(figure)
