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

"""An exposure's metadata in the FITS file the butler writes: what FITS
cards can carry goes in the primary header (not NaN, not non-ASCII text,
not astropy's own cards, not a key too long for a card: that once failed
the whole write); everything goes in
the METADATA extension as JSON (numpy values as plain ones); a value JSON
cannot hold is refused by name."""

import json
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from lsst.ts.calibrations.repo.formatters import ExposureFormatter
from lsst.ts.calibrations.repo.images import Exposure


def test_metadata_in_header_and_extension(tmp_path: Path) -> None:
    metadata = {
        "EXPTIME": 15.0,
        "GAIN": np.float32(1.5),
        "NEXP": np.int64(3),
        "LEVELS": np.array([1.0, 2.0]),
        "MISSING": float("nan"),
        "OBSERVER": "Ñuñoa",
        "NAXIS": 7,
        "NOTE": "x" * 200,
        "long_key_name": True,
        "K" * 75: 1,
    }
    path = tmp_path / "exposure.fits"
    ExposureFormatter.write_exposure(Exposure(np.ones((3, 4)), metadata=metadata), str(path))
    with fits.open(path) as hdul:
        header = hdul[0].header
        assert (header["EXPTIME"], header["GAIN"], header["NEXP"]) == (15.0, 1.5, 3)
        assert header["LONG_KEY_NAME"] is True  # HIERARCH card
        assert header["NOTE"] == "x" * 200  # a long string, on CONTINUE cards
        for key in ("LEVELS", "MISSING", "OBSERVER", "K" * 75):
            assert key not in header
        assert header["NAXIS"] == 0  # astropy's own card, not the metadata's
        stored = json.loads(hdul["METADATA"].data.tobytes().decode())
        assert hdul["IMAGE"].data.shape == (3, 4)
    assert stored["LEVELS"] == [1.0, 2.0] and stored["NEXP"] == 3 and stored["GAIN"] == 1.5
    assert stored["OBSERVER"] == "Ñuñoa" and stored["NOTE"] == "x" * 200 and stored["NAXIS"] == 7
    assert np.isnan(stored["MISSING"]) and stored["K" * 75] == 1


def test_metadata_json_cannot_hold_is_named(tmp_path: Path) -> None:
    exposure = Exposure(np.ones((2, 2)), metadata={"WHEN": {1, 2}})
    with pytest.raises(TypeError, match=r"^Metadata value \{1, 2\} of type set is not JSON-serializable\.$"):
        ExposureFormatter.write_exposure(exposure, str(tmp_path / "exposure.fits"))
