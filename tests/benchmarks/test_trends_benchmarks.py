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

"""The two trends benchmarks write repositories the trends builder reads alike.

``benchmarks/trends_scale.py`` writes its nights straight into the datastore
to reach 100 nights at nine detectors; its figures stand for the pipelines'
outputs only while what it writes reads back as what ``benchmarks/trends.py``
writes through the butler.
"""

import sys
from pathlib import Path

import pytest
from lsst.daf.butler import Butler

from lsst.ts.calibrations.trends import TrendData

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import trends  # noqa: E402
import trends_scale  # noqa: E402


def _load(repo: Path) -> TrendData:
    butler = Butler.from_config(str(repo))
    try:
        return TrendData.load(butler, instrument=trends.INSTRUMENT_NAME)
    finally:
        butler.close()


@pytest.mark.slow
def test_bulk_written_nights_read_as_butler_written_ones(tmp_path: Path) -> None:
    trends.make_nights(tmp_path / "put", nights=2, detectors=[0], seed=5)
    trends_scale.make_nights(tmp_path / "bulk", nights=2, detectors=[0], seed=5)
    put, bulk = _load(tmp_path / "put"), _load(tmp_path / "bulk")
    assert put.nights == bulk.nights and len(put.nights) == 2
    assert sorted(put.points) == sorted(bulk.points)
    for quantity, points in put.points.items():
        expected = sorted((p.night, p.detector, p.amp, p.value) for p in points)
        found = sorted((p.night, p.detector, p.amp, p.value) for p in bulk.points[quantity])
        assert found == expected, quantity
    # The drifting amplifier drifts in both.
    gains = {key: [p.value for p in series] for key, series in bulk.series("gain").items()}
    assert gains[(0, "C10")][1] > gains[(0, "C10")][0]
