"""Defects and PhotonTransferCurveDataset: construction, masks and round trips."""

import math

import numpy as np
import pytest

from lsst.ts.calibrations.repo.defects import Defects
from lsst.ts.calibrations.repo.ptc_dataset import PhotonTransferCurveDataset


def test_defects_from_mask_round_trip() -> None:
    rng = np.random.default_rng(11)
    mask = rng.random((60, 48)) < 0.03
    mask[:, 7] = True  # a bad column
    mask[10:14, 20:25] = True  # a block
    defects = Defects.from_mask(mask, metadata={"DETECTOR": 3})
    np.testing.assert_array_equal(defects.to_mask(), mask)
    assert defects.n_pixels == int(mask.sum())
    assert (7, 0, 1, 60) in list(defects)
    assert len(defects) == len(defects.boxes)
    assert defects.metadata == {"DETECTOR": 3}
    # A larger shape pads, a smaller one clips.
    assert defects.to_mask((70, 50))[:60, :48].sum() == mask.sum()
    assert defects.to_mask((30, 30)).shape == (30, 30)


def test_defects_empty_and_bad_boxes() -> None:
    empty = Defects.from_mask(np.zeros((8, 9), dtype=bool))
    assert len(empty) == 0 and empty.detector_shape == (8, 9)
    with pytest.raises(ValueError, match="outside the detector"):
        Defects([(5, 0, 10, 1)], (8, 9))
    with pytest.raises(ValueError, match="positive width"):
        Defects([(0, 0, 0, 1)], (8, 9))
    with pytest.raises(ValueError, match="x0, y0, width, height"):
        Defects([(0, 0, 1)], (8, 9))


def test_ptc_json_round_trip() -> None:
    rng = np.random.default_rng(5)
    ptc = PhotonTransferCurveDataset(["C10", "C00"], metadata={"DETECTOR": 4})
    ptc.inputExpIdPairs["C10"] = [(2024102400010, 2024102400011), (2024102400012, 2024102400013)]
    ptc.expIdMask["C10"] = np.array([True, False])
    ptc.rawMeans["C10"] = rng.uniform(1e3, 5e4, 2)
    ptc.rawVars["C10"] = np.array([1.0, math.nan])
    ptc.gain["C10"] = 1.31
    ptc.noise["C10"] = 7.2
    ptc.ptcFitPars["C10"] = np.array([-2e-6, 1.31, 51.8])
    ptc.covariances["C10"] = rng.normal(size=(2, 3, 3))
    text = ptc.to_json()
    assert "NaN" not in text  # strict JSON
    back = PhotonTransferCurveDataset.from_json(text)
    assert back == ptc
    assert back.inputExpIdPairs["C10"][0] == (2024102400010, 2024102400011)
    assert back.expIdMask["C10"].dtype == bool
    assert math.isnan(back.rawVars["C10"][1]) and math.isnan(back.gain["C00"])
    np.testing.assert_array_equal(back.covariances["C10"], ptc.covariances["C10"])
    assert back.units["gain"] == "electron/adu" and back.units["noise"] == "electron"


def test_ptc_units_override_and_bad_json() -> None:
    ptc = PhotonTransferCurveDataset(["C10"], ptcFitType="", units={"noise": "adu"})
    assert PhotonTransferCurveDataset.from_json(ptc.to_json()).units["noise"] == "adu"
    with pytest.raises(ValueError, match="ampNames"):
        PhotonTransferCurveDataset.from_json("{}")
    with pytest.raises(ValueError, match="must be an object"):
        PhotonTransferCurveDataset.from_json("[1, 2]")
