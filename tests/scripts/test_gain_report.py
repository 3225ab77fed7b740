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

"""The gain table from cpPtcExtract datasets."""

import math

import numpy as np
import pytest

from lsst.ts.calibrations.repo.camera import AMP_NAMES
from lsst.ts.calibrations.repo.ptc_dataset import PhotonTransferCurveDataset
from lsst.ts.calibrations.scripts.gain_report import GainReport


def extract(
    pair: tuple[int, int], exposure: int, detector: int, gains: dict[str, float]
) -> PhotonTransferCurveDataset:
    """A cpPtcExtract dataset as cpExtract writes it for one exposure of a pair."""
    dataset = PhotonTransferCurveDataset(ampNames=AMP_NAMES, ptcFitType="")
    dataset.metadata.update(
        {
            "DETECTOR": detector,
            "PAIRED": True,
            "PAIR_EXPOSURE_1": pair[0],
            "PAIR_EXPOSURE_2": pair[1],
            "EXPOSURE": exposure,
        }
    )
    for amp in AMP_NAMES:
        dataset.inputExpIdPairs[amp] = [pair]
        dataset.rawExpTimes[amp] = np.array([0.35])
        dataset.rawMeans[amp] = np.array([1234.5])
        dataset.gain[amp] = gains[amp]
        dataset.gainErr[amp] = 0.01
        dataset.noise[amp] = 6.5
    return dataset


def unpaired(exposure: int, detector: int) -> PhotonTransferCurveDataset:
    dataset = PhotonTransferCurveDataset(ampNames=AMP_NAMES, ptcFitType="")
    dataset.metadata.update({"DETECTOR": detector, "EXPOSURE": exposure, "PAIRED": False})
    return dataset


def test_table_per_pair_detector_and_amplifier() -> None:
    rng = np.random.default_rng(5)
    truth = {
        (pair, det): {amp: float(rng.uniform(1.2, 1.8)) for amp in AMP_NAMES}
        for pair in ((11, 12), (13, 14))
        for det in (0, 4)
    }
    extracts = {}
    for (pair, det), gains in truth.items():
        for exposure in pair:
            extracts[(exposure, det)] = extract(pair, exposure, det, gains)
    extracts[(15, 0)] = unpaired(15, 0)
    report = GainReport.from_extracts(extracts)
    # Each pair once per detector and amplifier, although both exposures carry it.
    assert len(report.rows) == 2 * 2 * 16
    assert report.pairs == ((11, 12), (13, 14))
    assert report.unpaired == ((15, 0),)
    measured = report.gains()
    for (pair, det), expected in truth.items():
        assert measured[pair][det] == pytest.approx(expected)
    first = report.rows[0]
    assert first[:5] == (11, 12, 0.35, 0, sorted(AMP_NAMES)[0])
    text = report.format()
    lines = text.splitlines()
    assert (
        lines[0]
        == "Gains from flat pairs: 2 pair(s), 2 detector(s); gain in e-/ADU, noise in e-, mean in ADU."
    )
    assert lines[1].split() == [
        "exposure",
        "pair",
        "exptime",
        "detector",
        "amp",
        "gain",
        "gain",
        "err",
        "noise",
        "mean",
    ]
    row = lines[3].split()
    assert row[:5] == ["11/12", "0.35s", "0", "R22_S00", "C00"]
    assert float(row[5]) == pytest.approx(truth[((11, 12), 0)]["C00"], abs=1e-4)
    assert lines[-1] == "Flats taken but in no pair (no gain): 15 (detector 0)"
    assert len(lines) == 3 + 64 + 1
    rows = report.to_dict()["rows"]
    assert rows[0]["exposure_1"] == 11 and rows[0]["noise"] == 6.5


def test_nan_and_empty() -> None:
    gains = {amp: 1.5 for amp in AMP_NAMES}
    gains["C10"] = math.nan
    report = GainReport.from_extracts({(1, 2): extract((1, 2), 1, 2, gains)})
    assert math.isnan(report.gains()[(1, 2)][2]["C10"])
    assert report.to_dict()["rows"][[r[4] for r in report.rows].index("C10")]["gain"] is None
    assert "(no flat pair measured)" in GainReport.from_extracts({}).format()


def test_inconsistent_pair_refused() -> None:
    with pytest.raises(ValueError, match="names pair \\(1, 2\\), which does not contain it"):
        GainReport.from_extracts({(3, 0): extract((1, 2), 1, 0, {amp: 1.5 for amp in AMP_NAMES})})
