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

"""The accuracy benchmark's plan, expected errors and comparisons, checked by Monte Carlo."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import least_squares

from lsst.ts.calibrations.repo.camera import FULL_GEOMETRY, REDUCED_GEOMETRY, AmpGeometry, get_geometry

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import _accuracy_lib as lib  # noqa: E402
import _accuracy_plan as planning  # noqa: E402

SMALL = AmpGeometry(prescan=3, nx=64, ny=64, serial_overscan=16, parallel_overscan=8, name="custom")


def small_plan(**changes: object) -> planning.AccuracyPlan:
    values: dict = dict(flat_filter="r_03", flat_flux=5000.0, planning_read_noise=7.0)
    values.update(changes)
    return planning.make_plan(SMALL, [0], **values)


def test_median_variance() -> None:
    assert planning.median_variance(1) == 1.0
    assert planning.median_variance(2) == 0.5
    # Large n: the asymptotic pi / (2 n).
    assert planning.median_variance(101) == pytest.approx(math.pi / 202, rel=0.03)
    with pytest.raises(ValueError, match="n=0"):
        planning.median_variance(0)


def test_digitized_median_variance_matches_monte_carlo() -> None:
    # Rows of integer pixels about levels anywhere within an ADU: the median's
    # variance is the Gaussian one plus what the rounding adds (about 0.05 ADU^2
    # for e2v's 48 overscan columns at 3.4 ADU of noise).
    rng = np.random.default_rng(11)
    for n, sigma in [(48, 3.44), (10, 4.8)]:
        level = rng.random((100_000, 1))
        medians = np.median(np.rint(rng.normal(0.0, sigma, (100_000, n)) + level), axis=1) - level[:, 0]
        expected = planning.digitized_median_variance(n, sigma)
        assert np.mean(medians**2) / sigma**2 == pytest.approx(expected, rel=0.015)
    assert planning.digitized_median_variance(48, 3.44) > 1.1 * planning.median_variance(48)
    # Wide noise: the rounding no longer matters.
    assert planning.digitized_median_variance(48, 40.0) == pytest.approx(
        planning.median_variance(48), rel=0.002
    )
    with pytest.raises(ValueError, match="sigma_adu=0"):
        planning.digitized_median_variance(48, 0)
    with pytest.raises(ValueError, match="n=0"):
        planning.digitized_median_variance(0, 3.0)


def test_exp_approximation_limit() -> None:
    mu = np.array([100.0, 1e4])
    linear = planning.exp_approximation_model(mu, 0.0, 1.5, 49.0)
    np.testing.assert_allclose(linear, mu / 1.5 + 49.0 / 1.5**2)
    sagged = planning.exp_approximation_model(mu, -2e-6, 1.5, 49.0)
    assert np.all(sagged < linear)
    np.testing.assert_allclose(planning.exp_approximation_model(mu, -1e-14, 1.5, 49.0), linear, rtol=1e-8)


def test_pair_gain_sigma_matches_monte_carlo() -> None:
    # Simulate the difference of a flat pair (Gaussian limit) and measure
    # g = mu / (var - sigma_r^2) as the FULL correction does at first order.
    rng = np.random.default_rng(1)
    plan = small_plan()
    gain, noise_e, level_e = 1.3, 7.0, 2000.0
    mu = level_e / gain
    var_adu = mu / gain + (noise_e / gain) ** 2
    gains = []
    for _ in range(400):
        diff = rng.normal(0.0, math.sqrt(2 * var_adu), plan.n_pixels)
        gains.append(mu / (0.5 * diff.var() - (noise_e / gain) ** 2))
    measured = np.std(gains) / gain
    expected = plan.pair_gain_relative_sigma(level_e, noise_e)
    assert expected == pytest.approx(math.sqrt(2 / 4096) * (1 + 49 / 2000))
    assert measured == pytest.approx(expected, rel=0.15)


def test_ptc_sigma_matches_monte_carlo() -> None:
    rng = np.random.default_rng(2)
    plan = small_plan()
    gain, noise_e, a00 = 1.4, 7.0, -2e-6
    levels = np.array(plan.flat_levels)
    mu = levels / gain
    model = planning.exp_approximation_model(mu, a00, gain, noise_e**2)
    rel = math.sqrt(2 / plan.n_pixels)
    fitted = []
    for _ in range(200):
        var = model * (1 + rel * rng.standard_normal(mu.size))
        fit = least_squares(
            lambda p: (var - planning.exp_approximation_model(mu, *p)) / (model * rel),
            x0=[a00, gain, noise_e**2],
            x_scale=[1e-6, 0.01, 1.0],
        )
        fitted.append(fit.x[1])
    gain_sigma, noise_sigma = plan.ptc_sigmas(levels, gain, noise_e, a00)
    assert np.std(fitted) == pytest.approx(gain_sigma, rel=0.2)
    assert noise_sigma > 0
    with pytest.raises(ValueError, match="at least 3 pairs"):
        plan.ptc_sigmas(levels[:2], gain, noise_e)


def test_read_noise_sigma_matches_monte_carlo() -> None:
    rng = np.random.default_rng(3)
    plan = small_plan(n_bias=4)
    n_used = plan.n_overscan_used
    estimates = []
    for _ in range(300):
        stdevs = []
        for _ in range(plan.n_bias):
            rows = rng.standard_normal((SMALL.ny, n_used))
            resid = rows - rows.mean(axis=1, keepdims=True)
            stdevs.append(math.sqrt((resid**2).sum() / (SMALL.ny * (n_used - 1))))
        estimates.append(np.mean(stdevs))
    assert np.std(estimates) == pytest.approx(plan.read_noise_relative_sigma(), rel=0.15)
    # A gain error adds in quadrature.
    assert plan.read_noise_relative_sigma(0.01) == pytest.approx(
        math.hypot(plan.read_noise_relative_sigma(), 0.01)
    )


def test_dark_sigma_limits() -> None:
    plan = small_plan()
    # Without read noise only the Poisson term remains.
    expected = math.sqrt(0.01 * plan.dark_time / (plan.n_pixels * plan.n_dark)) / plan.dark_time
    assert plan.dark_sigma(0.01, 0.0) == pytest.approx(expected)
    # More darks lower it.
    fixed = planning.AccuracyPlan(**{**plan.__dict__, "n_dark": 50})
    assert fixed.dark_sigma(0.004, 7.0) < plan.dark_sigma(0.004, 7.0)


def test_dark_sigma_matches_monte_carlo() -> None:
    # Darks and biases with read noise, Poisson dark charge and a per-row
    # overscan median; the mean of (combined dark - combined bias) / t.
    rng = np.random.default_rng(4)
    plan = planning.AccuracyPlan(**{**small_plan().__dict__, "n_bias": 5, "n_dark": 3, "dark_time": 100.0})
    ny, nx, n_os = SMALL.ny, SMALL.nx, plan.n_overscan_used
    rn, dc, t = 7.0, 0.02, plan.dark_time

    def frame(signal: float) -> np.ndarray:
        data = rng.poisson(signal, (ny, nx)) + rng.normal(0, rn, (ny, nx))
        overscan = rng.normal(0, rn, (ny, n_os))
        return data - np.median(overscan, axis=1, keepdims=True)

    values = []
    for _ in range(300):
        bias = np.mean([frame(0.0) for _ in range(plan.n_bias)], axis=0)
        dark = np.mean([frame(dc * t) - bias for _ in range(plan.n_dark)], axis=0) / t
        values.append(dark.mean())
    assert np.mean(values) == pytest.approx(dc, abs=3 * plan.dark_sigma(dc, rn))
    assert np.std(values) == pytest.approx(plan.dark_sigma(dc, rn), rel=0.15)


def test_ptc_noise_offset_matches_monte_carlo() -> None:
    # Two overscan-subtracted frames of pure read noise: the difference's
    # variance / 2 exceeds sigma^2 by the row medians' noise.
    rng = np.random.default_rng(5)
    plan = small_plan()
    n_used = plan.n_overscan_used

    def frame() -> np.ndarray:
        data = rng.standard_normal((20000, 8))
        return data - np.median(rng.standard_normal((20000, n_used)), axis=1, keepdims=True)

    measured = math.sqrt(0.5 * (frame() - frame()).var()) - 1.0
    assert measured == pytest.approx(plan.ptc_noise_relative_offset(), abs=0.006)
    assert plan.ptc_noise_relative_offset() == pytest.approx(math.sqrt(1 + planning.median_variance(10)) - 1)


def test_make_plan_chooses_shortest_dark_meeting_goal() -> None:
    full = planning.make_plan(
        FULL_GEOMETRY, [0], flat_filter="r_03", flat_flux=5000.0, planning_read_noise=9.0
    )
    reduced = planning.make_plan(
        REDUCED_GEOMETRY, [0], flat_filter="r_03", flat_flux=5000.0, planning_read_noise=9.0
    )
    for plan in (full, reduced):
        assert plan.dark_sigma(1e-3, 9.0) <= 2e-4
        shorter = [t for t in (60.0, 120.0, 180.0, 300.0, 450.0, 600.0, 900.0, 1200.0) if t < plan.dark_time]
        for t in shorter:
            assert planning.AccuracyPlan(**{**plan.__dict__, "dark_time": t}).dark_sigma(1e-3, 9.0) > 2e-4
    # Fewer pixels need longer darks.
    assert reduced.dark_time > full.dark_time
    assert full.n_bias == 20
    # The single-pair gain uses the pair at about 20 ke-.
    assert full.flat_levels[full.gain_pair_index] == pytest.approx(planning.PAIR_GAIN_LEVEL, rel=0.05)
    assert full.n_exposures == 20 + full.n_dark + 2 * len(full.flat_exposure_times)
    text = "\n".join(full.describe())
    assert f"{full.dark_time:g} s" in text and "20 ke-" in text
    assert full.to_dict()["geometry"]["nx"] == 509


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"flat_flux": 0.0}, "flat_flux"),
        ({"planning_read_noise": -1.0}, "planning_read_noise"),
        ({"n_bias": 2}, "n_bias"),
        ({"n_dark": 1}, "n_dark"),
        ({"dark_sigma_goal": 0.0}, "dark_sigma_goal"),
        ({"n_flat_pairs": 4}, "n_flat_pairs=4 must be 5 to 14"),
        ({"n_flat_pairs": 15}, "n_flat_pairs=15 must be 5 to 14"),
    ],
)
def test_make_plan_rejects_bad_values(changes: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        small_plan(**changes)


def test_fewer_flat_pairs_span_the_range_and_keep_the_gain_pair() -> None:
    every = planning.ptc_levels()
    assert len(every) == 14 and every == planning.ptc_levels(14)
    assert small_plan().flat_levels == pytest.approx(every)
    for n in range(planning.MIN_FLAT_PAIRS, 15):
        levels = planning.ptc_levels(n)
        assert len(levels) == n and list(levels) == sorted(set(levels)) and set(levels) <= set(every)
        assert levels[0] == every[0] and levels[-1] == every[-1] and planning.PAIR_GAIN_LEVEL in levels
        # No gap wider than a third of the range in shot noise: the PTC is sampled throughout.
        noise = np.sqrt(levels)
        assert np.max(np.diff(noise)) < (noise[-1] - noise[0]) / 3
    plan = small_plan(n_flat_pairs=7)
    assert plan.flat_levels == pytest.approx((300.0, 5e3, 12e3, 20e3, 41e3, 50e3, 60e3))
    assert plan.flat_levels[plan.gain_pair_index] == planning.PAIR_GAIN_LEVEL
    assert plan.n_exposures == plan.n_bias + plan.n_dark + 14
    assert "Flats: 7 pairs" in "\n".join(plan.describe())


def test_make_plan_rejects_bad_detectors() -> None:
    with pytest.raises(ValueError, match="detectors"):
        planning.make_plan(SMALL, [], flat_filter="r_03", flat_flux=1.0, planning_read_noise=1.0)
    with pytest.raises(ValueError, match=r"\[9\]"):
        planning.make_plan(SMALL, [0, 9], flat_filter="r_03", flat_flux=1.0, planning_read_noise=1.0)


def test_compare_and_summarize() -> None:
    truth = {"C10": 1.0, "C11": 2.0, "C12": 3.0}
    rows = lib.compare(
        "gain", 0, {"C10": 1.002, "C11": 2.1}, truth, {"C10": 0.001, "C11": 0.01, "C12": 0.01}, "e/adu"
    )
    assert [c.amp for c in rows] == ["C10", "C11", "C12"]
    assert rows[0].within_3_sigma and rows[0].pull == pytest.approx(2.0)
    assert not rows[1].within_3_sigma and rows[1].relative_error == pytest.approx(0.05)
    assert math.isnan(rows[2].measured) and not rows[2].within_3_sigma
    assert rows[2].to_dict()["measured"] is None
    summary = lib.summarize(rows)
    assert summary["n"] == 3 and summary["n_measured"] == 2 and summary["n_within_3_sigma"] == 1
    assert summary["max_abs_relative_error"] == pytest.approx(0.05)


def test_expected_value_moves_the_3_sigma_test_only() -> None:
    """A known effect of the data (here the ADC's quantization) sets what the pull is taken against."""
    digitized = planning.AccuracyPlan.digitized_noise(5.0, 1.5)
    assert digitized == pytest.approx(math.sqrt(25.0 + 2.25 / 12.0))
    rows = lib.compare("read_noise", 0, {"C10": 5.02}, {"C10": 5.0}, {"C10": 0.005}, "e-")
    assert not rows[0].within_3_sigma and rows[0].pull == pytest.approx(4.0)
    rows = lib.compare("read_noise", 0, {"C10": 5.02}, {"C10": 5.0}, {"C10": 0.005}, "e-", {"C10": digitized})
    assert rows[0].within_3_sigma and rows[0].pull == pytest.approx((5.02 - digitized) / 0.005)
    assert rows[0].relative_error == pytest.approx(0.004)
    assert rows[0].to_dict()["expected"] == pytest.approx(digitized)


def test_score_defects() -> None:
    shape = (20, 30)
    hot = np.zeros(shape, bool)
    hot[3, 4] = hot[5, 6] = True
    column = np.zeros(shape, bool)
    column[2:12, 10] = True
    found = column.copy()
    found[3, 4] = True
    found[0, 0] = True  # a false positive
    score = lib.score_defects(1, {"hot_pixels": hot, "bad_columns": column}, found)
    assert score.n_true == 12 and score.n_found == 12 and score.n_true_found == 11
    assert score.recall == pytest.approx(11 / 12) and score.precision == pytest.approx(11 / 12)
    assert score.category_recall == {"hot_pixels": 0.5, "bad_columns": 1.0}
    assert score.false_positives == 1
    with pytest.raises(ValueError, match="hot_pixels"):
        lib.score_defects(1, {"hot_pixels": hot[:5]}, found)


def test_quantum_times() -> None:
    metadata = {
        "quantum": {
            "startUtc": "2026-11-25T10:00:00.250000+00:00",
            "endUtc": "2026-11-25T10:00:02.750000+00:00",
            "startCpuTime": 1.0,
            "endCpuTime": 3.25,
        }
    }
    assert lib.quantum_times(metadata) == pytest.approx((2.5, 2.25))
    listed = {"startUtc": ["2026-11-25T10:00:00"], "endUtc": ["2026-11-25T10:00:01"]}
    assert lib.quantum_times(listed)[0] == pytest.approx(1.0)
    wall, cpu = lib.quantum_times({"quantum": {}})
    assert math.isnan(wall) and math.isnan(cpu)


def test_check_targets() -> None:
    truth = {"C10": 1.0}
    good = {
        "ptc_gain": lib.compare("ptc_gain", 0, {"C10": 1.004}, truth, {"C10": 0.002}, "e/adu"),
        "pair_gain": lib.compare("pair_gain", 0, {"C10": 1.02}, truth, {"C10": 0.002}, "e/adu"),
        "read_noise": lib.compare("read_noise", 0, {}, truth, {"C10": 0.002}, "e"),
    }
    scores = [lib.score_defects(0, {"hot": np.eye(4, dtype=bool)}, np.eye(4, dtype=bool))]
    results = {r.name: r for r in lib.check_targets(good, scores, full_geometry=True)}
    assert results["PTC gain within 0.5%"].verdict == "PASS"
    assert results["gain of the ~20 ke- pair within 1%"].verdict == "FAIL"
    assert results["read noise within 2%"].verdict == "FAIL"
    assert results["defect recall 100%"].verdict == "PASS"
    assert results["defect precision >= 99%"].verdict == "PASS"
    assert results["ptc_gain within 3x expected error"].verdict == "PASS"
    assert results["pair_gain within 3x expected error"].verdict == "FAIL"
    missing = {r.name: r for r in lib.check_targets({}, [], full_geometry=False)}
    assert missing["PTC gain within 0.5%"].verdict == "n/a"
    assert missing["defect recall 100%"].detail == "not measured"


def test_make_plan_for_mixed_vendors() -> None:
    """An LSSTCam plan with ITL and e2v detectors: the dark time meets the goal in both layouts."""
    itl, e2v = get_geometry("reduced", "ITL"), get_geometry("reduced", "E2V")
    plan = planning.make_plan(
        itl,
        [16, 94],
        flat_filter="r_57",
        flat_flux=5000.0,
        planning_read_noise=9.0,
        instrument="LSSTCam",
        other_geometries=[e2v],
    )
    assert plan.geometries == (itl, e2v)
    for geometry in plan.geometries:
        one = plan.for_geometry(geometry)
        assert one.geometry == geometry and one.other_geometries == ()
        assert one.dark_sigma(1e-3, 9.0) <= 2e-4
    # e2v's overscan has 14 columns (8 used), ITL's 16 (10): the e2v rows' medians are noisier.
    assert plan.for_geometry(e2v).n_overscan_used == 8 and plan.for_geometry(itl).n_overscan_used == 10
    assert (
        plan.for_geometry(e2v).ptc_noise_relative_offset()
        > plan.for_geometry(itl).ptc_noise_relative_offset()
    )
    text = "\n".join(plan.describe())
    assert "ITL amplifiers: data 128 x 256" in text and "E2V amplifiers: data 128 x 258" in text
    assert plan.to_dict()["other_geometries"][0]["vendor"] == "E2V"
    # Same layout twice is one layout.
    assert planning.make_plan(
        itl, [16], flat_filter="r_57", flat_flux=5000.0, planning_read_noise=9.0, instrument="LSSTCam",
        other_geometries=[itl],
    ).geometries == (itl,)  # fmt: skip
    with pytest.raises(ValueError, match=r"\[189\] are not LSSTCam science detector ids: use 0-188"):
        planning.make_plan(
            itl, [189], flat_filter="r_57", flat_flux=1.0, planning_read_noise=1.0, instrument="LSSTCam"
        )
    with pytest.raises(ValueError, match=r"\[1\] are not LATISS science detector ids"):
        planning.make_plan(
            itl, [1], flat_filter="x", flat_flux=1.0, planning_read_noise=1.0, instrument="LATISS"
        )


def test_targets_by_vendor() -> None:
    """Each vendor's amplifiers are judged on their own: a bad e2v gain fails e2v only."""
    truth = {"C10": 1.0, "C11": 1.0}
    sigma = {"C10": 0.002, "C11": 0.002}
    comparisons = {
        "ptc_gain": lib.compare("ptc_gain", 16, {"C10": 1.001, "C11": 0.999}, truth, sigma, "e/adu")
        + lib.compare("ptc_gain", 94, {"C10": 1.02, "C11": 1.0}, truth, sigma, "e/adu"),
        "read_noise": lib.compare("read_noise", 16, {"C10": 1.0, "C11": 1.0}, truth, sigma, "e")
        + lib.compare("read_noise", 94, {"C10": 1.0, "C11": 1.01}, truth, sigma, "e"),
    }
    scores = [
        lib.score_defects(16, {"hot": np.eye(4, dtype=bool)}, np.eye(4, dtype=bool)),
        lib.score_defects(94, {"hot": np.eye(4, dtype=bool)}, np.zeros((4, 4), dtype=bool)),
    ]
    vendor_of = {16: "ITL", 94: "E2V"}
    split = lib.split_by_vendor(comparisons, scores, vendor_of)
    assert list(split) == ["ITL", "E2V"]
    assert [c.detector for c in split["E2V"][0]["ptc_gain"]] == [94, 94]
    assert [s.detector for s in split["ITL"][1]] == [16]
    by_vendor = {
        v: {t.name: t for t in results}
        for v, results in lib.check_targets_by_vendor(
            comparisons, scores, vendor_of, full_geometry=True
        ).items()
    }
    assert by_vendor["ITL"]["PTC gain within 0.5%"].verdict == "PASS"
    assert by_vendor["E2V"]["PTC gain within 0.5%"].verdict == "FAIL"
    assert "detector 94 C10" in by_vendor["E2V"]["PTC gain within 0.5%"].detail
    assert by_vendor["ITL"]["read noise within 2%"].verdict == "PASS"
    assert by_vendor["E2V"]["read_noise within 3x expected error"].verdict == "FAIL"
    assert by_vendor["ITL"]["defect recall 100%"].verdict == "PASS"
    assert by_vendor["E2V"]["defect recall 100%"].verdict == "FAIL"
    # Over all amplifiers the worst decides.
    overall = {t.name: t for t in lib.check_targets(comparisons, scores, full_geometry=True)}
    assert overall["PTC gain within 0.5%"].verdict == "FAIL"
    # A vendor without detectors is not reported; a detector without a vendor is an error.
    assert list(lib.split_by_vendor(comparisons, [], {16: "ITL", 94: "ITL"})) == ["ITL"]
    with pytest.raises(KeyError):
        lib.split_by_vendor(comparisons, scores, {16: "ITL"})


def test_instrument_defaults() -> None:
    """Each instrument's default detectors and flat filter; LSSTCam's are one ITL and one e2v sensor."""
    import accuracy
    from lsst.ts.calibrations.repo.camera import Camera

    comcam = accuracy.parse_args([])
    assert (comcam.instrument, comcam.detector_ids, comcam.flat_filter) == ("LSSTComCam", [0], "r_03")
    lsstcam = accuracy.parse_args(["--instrument", "LSSTCam"])
    camera = Camera.instance("LSSTCam")
    assert sorted(camera[d].vendor for d in lsstcam.detector_ids) == ["E2V", "ITL"]
    assert lsstcam.flat_filter == "r_57"
    latiss = accuracy.parse_args(["--instrument", "LATISS"])
    assert (latiss.detector_ids, latiss.flat_filter) == ([0], "SDSSr_65mm~empty")
    for argv in (
        ["--instrument", "LATISS", "--detectors", "1"],
        ["--instrument", "LSSTCam", "--detectors", "189"],
    ):
        with pytest.raises(SystemExit):
            accuracy.parse_args(argv)
