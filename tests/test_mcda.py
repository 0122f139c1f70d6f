"""MCDA: standardisation, weights, AHP, combination, constraints and Monte Carlo, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from affine import Affine

from eicgeo import mcda
from eicgeo._errors import EicgeoError, EicgeoWarning, GridMismatchError, InputError
from eicgeo.grid import Grid

GRID = Grid("EPSG:32647", Affine(1000, 0, 0, 0, -1000, 2000), (2, 2))
NAN = np.nan


def layer(values, name="c", grid=GRID):
    return grid.wrap(np.asarray(values, dtype=np.float32), name)


def values(da):
    return np.asarray(da.values, dtype=float)


# --------------------------------------------------------------------------------------------
# standardisation
# --------------------------------------------------------------------------------------------
def test_linear_increasing_and_decreasing_keep_nan_and_clip():
    x = layer([[0.0, 15.0], [30.0, NAN]], "minutes")
    up = mcda.standardize(x, "linear", low=0, high=30)
    down = mcda.standardize(x, "linear", low=0, high=30, increasing=False)
    np.testing.assert_allclose(values(up), [[0.0, 0.5], [1.0, NAN]])
    np.testing.assert_allclose(values(down), [[1.0, 0.5], [0.0, NAN]])
    # outside low..high is clipped to 0..1
    clipped = mcda.standardize(layer([[-10.0, 5.0], [40.0, 10.0]]), "linear", low=0, high=20)
    np.testing.assert_allclose(values(clipped), [[0.0, 0.25], [1.0, 0.5]])


def test_standardize_returns_float32_named_georeferenced_input_untouched():
    x = layer([[0.0, 15.0], [30.0, NAN]], "minutes")
    before = x.copy(deep=True)
    out = mcda.standardize(x, "linear", low=0, high=30)
    assert out.dtype == np.float32
    assert out.name == "minutes"
    assert out.attrs["standardisation"] == "linear"
    assert out.attrs["units"] == "0..1"
    assert Grid.from_dataarray(out) == GRID
    assert np.isnan(out.rio.nodata)
    xr.testing.assert_identical(x, before)


def test_sigmoid_is_half_at_midpoint():
    x = layer([[10.0, 12.0], [8.0, NAN]])
    up = values(mcda.standardize(x, "sigmoid", midpoint=10, spread=2))
    down = values(mcda.standardize(x, "sigmoid", midpoint=10, spread=2, increasing=False))
    e = 1 / (1 + np.exp(-1.0))  # one spread above the midpoint
    np.testing.assert_allclose(up, [[0.5, e], [1 - e, NAN]], rtol=1e-6)
    np.testing.assert_allclose(down, [[0.5, 1 - e], [e, NAN]], rtol=1e-6)


def test_gaussian_is_one_at_target():
    x = layer([[5.0, 7.0], [3.0, NAN]])
    out = values(mcda.standardize(x, "gaussian", target=5, spread=2))
    np.testing.assert_allclose(out, [[1.0, np.exp(-0.5)], [np.exp(-0.5), NAN]], rtol=1e-6)


def test_jshaped_half_at_a_and_d_one_on_b_to_c():
    g = Grid("EPSG:32647", Affine(1000, 0, 0, 0, -1000, 2000), (2, 4))
    x = g.wrap(np.array([[0.0, 5.0, 10.0, 15.0], [20.0, 25.0, 30.0, NAN]], dtype=np.float32), "x")
    out = values(mcda.standardize(x, "jshaped", a=0, b=10, c=20, d=30))
    # 1 / (1 + ((x - b) / (b - a))²) below b; 1 / (1 + ((x - c) / (d - c))²) above c
    np.testing.assert_allclose(out, [[0.5, 0.8, 1.0, 1.0], [1.0, 0.8, 0.5, NAN]], rtol=1e-6)


def test_jshaped_one_sided():
    g = Grid("EPSG:32647", Affine(1000, 0, 0, 0, -1000, 2000), (1, 3))
    x = g.wrap(np.array([[0.0, 10.0, 100.0]], dtype=np.float32), "x")
    out = values(mcda.standardize(x, "jshaped", a=0, b=10))
    np.testing.assert_allclose(out, [[0.5, 1.0, 1.0]])


def test_symmetric_linear_trapezoid():
    g = Grid("EPSG:32647", Affine(1000, 0, 0, 0, -1000, 2000), (2, 4))
    x = g.wrap(np.array([[-5.0, 5.0, 15.0, 25.0], [35.0, 0.0, 30.0, NAN]], dtype=np.float32), "x")
    out = values(mcda.standardize(x, "symmetric_linear", a=0, b=10, c=20, d=30))
    np.testing.assert_allclose(out, [[0.0, 0.5, 1.0, 0.5], [0.0, 0.0, 0.0, NAN]])


def test_piecewise_through_control_points():
    g = Grid("EPSG:32647", Affine(1000, 0, 0, 0, -1000, 2000), (2, 3))
    x = g.wrap(np.array([[0.0, 5.0, 15.0], [25.0, -3.0, NAN]], dtype=np.float32), "x")
    out = values(mcda.standardize(x, "piecewise", points=[[0, 0], [10, 1], [20, 0.5]]))
    # linear between points, held at the end values outside them
    np.testing.assert_allclose(out, [[0.0, 0.5, 0.75], [0.5, 0.0, NAN]])


def test_categorical_scores_codes_and_default():
    codes = GRID.wrap(np.array([[1, 2], [3, 0]], dtype=np.uint8), "landcover")
    out = mcda.standardize(codes, "categorical", scores={1: 1.0, 2: 0.5})
    np.testing.assert_allclose(values(out), [[1.0, 0.5], [NAN, NAN]])
    assert out.dtype == np.float32
    zero = mcda.standardize(codes, "categorical", scores={"1": 1.0, "2": 0.5}, default=0.0)
    np.testing.assert_allclose(values(zero), [[1.0, 0.5], [0.0, 0.0]])


@pytest.mark.parametrize(
    ("fn", "params"),
    [
        ("linear", {"low": 10, "high": 1000}),
        ("sigmoid", {"midpoint": 30, "spread": 10}),
        ("gaussian", {"target": 50, "spread": 30}),
        ("jshaped", {"a": 0, "b": 20, "c": 40, "d": 90}),
        ("symmetric_linear", {"a": 0, "b": 20, "c": 40, "d": 90}),
        ("piecewise", {"points": [[0, 1], [50, 0.2], [100, 0]]}),
    ],
)
def test_every_function_gives_float32_in_unit_range_with_nan_kept(fn, params):
    g = Grid("EPSG:32647", Affine(1000, 0, 0, 0, -1000, 10000), (10, 10))
    raw = np.linspace(-20, 130, 100).reshape(10, 10).astype(np.float32)
    raw[3, 7] = np.nan
    out = mcda.standardize(g.wrap(raw, "x"), fn, **params)
    v = values(out)
    assert out.dtype == np.float32
    assert np.isnan(v[3, 7])
    assert np.isfinite(np.delete(v.ravel(), 37)).all()
    assert v[np.isfinite(v)].min() >= 0.0
    assert v[np.isfinite(v)].max() <= 1.0


@pytest.mark.parametrize(
    ("fn", "params", "match"),
    [
        ("linear", {"low": 30, "high": 0}, r"linear parameters out of order: low=30 must be < high=0"),
        ("linear", {"low": 5, "high": 5}, r"linear parameters out of order: low=5 must be < high=5"),
        ("jshaped", {"a": 10, "b": 0}, r"jshaped parameters out of order: a=10 must be <= b=0"),
        (
            "symmetric_linear",
            {"a": 0, "b": 10, "c": 5, "d": 30},
            r"symmetric_linear parameters out of order: b=10 must be <= c=5",
        ),
        ("sigmoid", {"midpoint": 1, "spread": 0}, r"criterion 'c': logistic spread must be > 0, got 0"),
        ("gaussian", {"target": 1, "spread": -1}, r"gaussian spread must be > 0, got -1"),
        ("piecewise", {"points": [[0, 1]]}, r"piecewise points must be at least two \(x, y\) pairs"),
        (
            "piecewise",
            {"points": [[0, 1], [0, 0]]},
            r"piecewise points must have strictly increasing x, got \[0.0, 0.0\]",
        ),
        ("linear", {"low": 0}, r"standardisation 'linear' of layer 'c': bad parameters \{'low': 0\}"),
    ],
)
def test_bad_parameters_are_named(fn, params, match):
    x = layer([[0.0, 1.0], [2.0, 3.0]])
    with pytest.raises(InputError, match=match):
        mcda.standardize(x, fn, **params)


def test_unknown_function_suggests_closest():
    with pytest.raises(InputError, match=r"standardisation function 'lineer' is not one of .*did you mean 'linear'"):
        mcda.standardize(layer([[0.0, 1.0], [2.0, 3.0]]), "lineer", low=0, high=1)


def test_logistic_growth_and_decay():
    x = layer([[10.0, 12.0], [8.0, NAN]])
    up = values(mcda.standardize(x, "logistic", midpoint=10, spread=2))
    down = values(mcda.standardize(x, "logistic", midpoint=10, spread=2, increasing=False))
    e = 1 / (1 + np.exp(-1.0))  # 0.7310586: one spread above the midpoint
    np.testing.assert_allclose(up, [[0.5, e], [1 - e, NAN]], rtol=1e-6)
    np.testing.assert_allclose(down, [[0.5, 1 - e], [e, NAN]], rtol=1e-6)


def test_sigmoid_is_idrisi_cosine_squared():
    g = Grid("EPSG:32647", Affine(1000, 0, 0, 0, -1000, 2000), (2, 5))
    x = g.wrap(np.array([[0.0, 2.5, 5.0, 10.0, 15.0], [25.0, 27.5, 30.0, 35.0, NAN]], dtype=np.float32), "x")
    out = values(mcda.standardize(x, "sigmoid", a=0, b=10, c=20, d=30))
    # rising: cos²((1 - (x - a)/(b - a)) π/2); at a quarter of the way, cos²(3π/8) = (1 - cos(π/4))/2
    q = (1 - np.sqrt(0.5)) / 2  # 0.1464466
    np.testing.assert_allclose(out, [[0.0, q, 0.5, 1.0, 1.0], [0.5, q, 0.0, 0.0, NAN]], atol=1e-6)
    # monotonically increasing (a, b only) and decreasing (c, d only)
    up = values(mcda.standardize(x, "sigmoid", a=0, b=10))
    np.testing.assert_allclose(up[0], [0.0, q, 0.5, 1.0, 1.0], atol=1e-6)
    assert up[1, 3] == 1.0
    down = values(mcda.standardize(x, "sigmoid", c=20, d=30))
    np.testing.assert_allclose(down, [[1.0, 1.0, 1.0, 1.0, 1.0], [0.5, q, 0.0, 0.0, NAN]], atol=1e-6)


def test_sigmoid_with_midpoint_and_spread_is_the_logistic_curve():
    x = layer([[10.0, 12.0], [8.0, NAN]])
    old = values(mcda.standardize(x, "sigmoid", midpoint=10, spread=2))
    new = values(mcda.standardize(x, "logistic", midpoint=10, spread=2))
    np.testing.assert_array_equal(old, new)


def test_jshaped_decreasing_only():
    g = Grid("EPSG:32647", Affine(1000, 0, 0, 0, -1000, 2000), (1, 4))
    x = g.wrap(np.array([[0.0, 20.0, 30.0, 50.0]], dtype=np.float32), "x")
    out = values(mcda.standardize(x, "jshaped", c=20, d=30))
    # 1 / (1 + ((x - c)/(d - c))²): 1 at c, 0.5 at d, 1/(1 + 9) = 0.1 three widths out
    np.testing.assert_allclose(out, [[1.0, 1.0, 0.5, 0.1]], rtol=1e-6)


def test_symmetric_linear_one_sided():
    g = Grid("EPSG:32647", Affine(1000, 0, 0, 0, -1000, 2000), (1, 4))
    x = g.wrap(np.array([[-5.0, 5.0, 10.0, 100.0]], dtype=np.float32), "x")
    np.testing.assert_allclose(values(mcda.standardize(x, "symmetric_linear", a=0, b=10)), [[0.0, 0.5, 1.0, 1.0]])
    np.testing.assert_allclose(values(mcda.standardize(x, "symmetric_linear", c=0, d=10)), [[1.0, 0.5, 0.0, 0.0]])


@pytest.mark.parametrize(
    ("fn", "params", "match"),
    [
        ("linear", {"low": 30, "high": 0}, r"criterion 'road_minutes': linear parameters out of order: low=30"),
        ("sigmoid", {"a": 0}, r"criterion 'road_minutes': sigmoid needs both a and b for its rising side"),
        ("jshaped", {"c": 5}, r"jshaped needs both c and d for its falling side, got c=5, d=None"),
        ("sigmoid", {}, r"sigmoid needs control points a, b \(rising side\) and/or c, d"),
        ("jshaped", {"a": 3, "b": 3}, r"jshaped parameters out of order: a=3 must be < b=3"),
        ("sigmoid", {"a": 0, "b": 1, "midpoint": 3}, r"sigmoid takes control points a, b, c, d or midpoint"),
        ("sigmoid", {"midpoint": 3}, r"sigmoid as a logistic curve needs both midpoint and spread"),
        ("logistic", {"midpoint": 3, "spread": -1}, r"logistic spread must be > 0, got -1"),
        ("categorical", {"scores": {"forest": 1}}, r"categorical scores must map integer class codes"),
    ],
)
def test_bad_parameters_name_the_criterion(fn, params, match):
    x = layer([[0.0, 1.0], [2.0, 3.0]], "road_minutes")
    with pytest.raises(InputError, match=match):
        mcda.standardize(x, fn, **params)


# --------------------------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------------------------
def test_normalize_weights_sum_to_one():
    assert mcda.normalize_weights({"a": 2, "b": 1, "c": 1}) == {"a": 0.5, "b": 0.25, "c": 0.25}
    assert mcda.normalize_weights({"a": "3", "b": 0}) == {"a": 1.0, "b": 0.0}


@pytest.mark.parametrize(
    ("weights", "error", "match"),
    [
        ({"roads": -1, "land": 2}, InputError, r"weight of criterion 'roads' must be a number >= 0, got -1"),
        ({"roads": float("nan")}, InputError, r"weight of criterion 'roads' must be a number >= 0, got nan"),
        ({"roads": 0, "land": 0.0}, InputError, r"weights \{'roads': 0, 'land': 0.0\} are all zero"),
        ({"roads": "high"}, InputError, r"weight of criterion 'roads' is not a number: 'high'"),
        ({"roads": None}, InputError, r"weight of criterion 'roads' is not a number: None"),
        ({}, InputError, r"weights are empty"),
    ],
)
def test_normalize_weights_errors(weights, error, match):
    with pytest.raises(error, match=match) as info:
        mcda.normalize_weights(weights)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, EicgeoError)


def test_rank_weights_by_hand():
    # rank sum: (n - r + 1) / sum = 3/6, 2/6, 1/6
    got = mcda.rank_weights(["a", "b", "c"], "sum")
    assert got == pytest.approx({"a": 3 / 6, "b": 2 / 6, "c": 1 / 6})
    # rank reciprocal: (1/r) / (1 + 1/2 + 1/3) = 6/11, 3/11, 2/11
    got = mcda.rank_weights(["a", "b", "c"], "reciprocal")
    assert got == pytest.approx({"a": 6 / 11, "b": 3 / 11, "c": 2 / 11})
    assert list(got) == ["a", "b", "c"]


def test_rank_order_centroid_by_hand():
    # ROC: w_r = (1/n) sum_{k=r..n} 1/k: (1 + 1/2 + 1/3)/3, (1/2 + 1/3)/3, (1/3)/3 = 11/18, 5/18, 2/18
    got = mcda.rank_weights(["a", "b", "c"], "centroid")
    assert got == pytest.approx({"a": 11 / 18, "b": 5 / 18, "c": 2 / 18})


@pytest.mark.parametrize(
    ("names", "method", "match"),
    [
        (["a", "b"], "roc", r"rank weight method 'roc' is not one of 'sum', 'reciprocal', 'centroid'"),
        ([], "sum", r"rank_weights needs at least one criterion name"),
        (["a", "b", "a"], "sum", r"rank_weights: criterion 'a' is ranked more than once"),
    ],
)
def test_rank_weights_errors(names, method, match):
    with pytest.raises(InputError, match=match):
        mcda.rank_weights(names, method)


# --------------------------------------------------------------------------------------------
# AHP
# --------------------------------------------------------------------------------------------
def test_ahp_two_by_two():
    r = mcda.ahp_weights([[1, 3], [1 / 3, 1]], ["roads", "land"])
    assert r.weights == pytest.approx({"roads": 0.75, "land": 0.25})
    assert r.lambda_max == pytest.approx(2.0)
    assert r.consistency_ratio == 0.0
    assert r.consistent


def test_ahp_perfectly_consistent_three_by_three_recovers_weights():
    w = np.array([0.5, 0.3, 0.2])
    m = w[:, None] / w[None, :]  # m_ij = w_i / w_j: perfectly consistent
    r = mcda.ahp_weights(m, ["a", "b", "c"])
    assert r.weights == pytest.approx({"a": 0.5, "b": 0.3, "c": 0.2}, abs=1e-12)
    assert r.lambda_max == pytest.approx(3.0, abs=1e-9)
    assert r.consistency_index == pytest.approx(0.0, abs=1e-9)
    assert r.consistency_ratio == pytest.approx(0.0, abs=1e-9)
    assert r.consistent


def _power_iteration(m: np.ndarray, steps: int = 200) -> tuple[np.ndarray, float]:
    """Principal eigenvector (sum 1) and eigenvalue, independently of numpy.linalg.eig."""
    w = np.full(len(m), 1 / len(m))
    for _ in range(steps):
        w = m @ w
        w = w / w.sum()
    return w, float(np.mean((m @ w) / w))


def test_ahp_saaty_inconsistent_example():
    m = np.array([[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]])
    w, lam = _power_iteration(m)
    ci = (lam - 3) / 2
    cr = ci / 0.58  # Saaty's random index for n = 3
    # the published values (Saaty 1980), checked here independently
    np.testing.assert_allclose(w, [0.637, 0.258, 0.105], atol=5e-4)
    assert lam == pytest.approx(3.039, abs=5e-4)
    assert cr == pytest.approx(0.033, abs=5e-4)

    r = mcda.ahp_weights(m, ["roads", "market", "land"])
    assert list(r.weights) == ["roads", "market", "land"]
    np.testing.assert_allclose(list(r.weights.values()), w, rtol=1e-9)
    assert r.lambda_max == pytest.approx(lam, rel=1e-9)
    assert r.consistency_index == pytest.approx(ci, rel=1e-6)
    assert r.consistency_ratio == pytest.approx(cr, rel=1e-6)
    assert r.consistent  # 0.033 <= 0.10


def test_ahp_default_labels():
    r = mcda.ahp_weights([[1, 1], [1, 1]])
    assert r.weights == pytest.approx({"c1": 0.5, "c2": 0.5})


def test_ahp_inconsistent_matrix_flagged():
    # a > b, b > c but c > a: strongly intransitive
    m = [[1, 9, 1 / 9], [1 / 9, 1, 9], [9, 1 / 9, 1]]
    r = mcda.ahp_weights(m, on_inconsistent="ignore")
    assert r.consistency_ratio > 0.10
    assert not r.consistent


@pytest.mark.parametrize(
    ("matrix", "labels", "match"),
    [
        ([[1, 2, 3], [0.5, 1, 2]], None, r"AHP matrix must be square, got shape \(2, 3\)"),
        ([1, 2, 3], None, r"AHP matrix must be square, got shape \(3,\)"),
        ([[1, 2], [0.5, 1]], ["a", "b", "c"], r"AHP matrix is 2x2 but 3 labels were given"),
        ([[1, -2], [-0.5, 1]], None, r"AHP matrix entries must be finite and > 0"),
        (
            [[1, 3, 1], [0.5, 1, 1], [1, 1, 1]],
            ["roads", "land", "water"],
            r"AHP matrix is not reciprocal: \[roads, land\] = 3 but \[land, roads\] = 0.5; expected 0.333333",
        ),
        (
            [[1, 1, 1], [1, 1, 4], [1, 0.5, 1]],
            ["roads", "land", "water"],
            r"not reciprocal: \[land, water\] = 4 but \[water, land\] = 0.5; expected 0.25",
        ),
    ],
)
def test_ahp_errors(matrix, labels, match):
    with pytest.raises(InputError, match=match):
        mcda.ahp_weights(matrix, labels)


def test_ahp_published_wealth_of_nations():
    # Saaty (1980), The Analytic Hierarchy Process, McGraw-Hill, the relative wealth of seven
    # nations (US, USSR, China, France, UK, Japan, West Germany; first in Saaty 1977, J. Math.
    # Psychol. 15:234-281): published eigenvector .427 .230 .021 .052 .052 .123 .094 and
    # lambda_max = 7.61, so CI = 0.61 / 6 = 0.10 and CR = CI / 1.32 = 0.077.
    m = [
        [1, 4, 9, 6, 6, 5, 5],
        [1 / 4, 1, 7, 5, 5, 3, 4],
        [1 / 9, 1 / 7, 1, 1 / 5, 1 / 5, 1 / 7, 1 / 5],
        [1 / 6, 1 / 5, 5, 1, 1, 1 / 3, 1 / 3],
        [1 / 6, 1 / 5, 5, 1, 1, 1 / 3, 1 / 3],
        [1 / 5, 1 / 3, 7, 3, 3, 1, 2],
        [1 / 5, 1 / 4, 5, 3, 3, 1 / 2, 1],
    ]
    labels = ["US", "USSR", "China", "France", "UK", "Japan", "W Germany"]
    r = mcda.ahp_weights(m, labels)
    published = [0.427, 0.230, 0.021, 0.052, 0.052, 0.123, 0.094]
    np.testing.assert_allclose(list(r.weights.values()), published, atol=5e-4)
    assert r.lambda_max == pytest.approx(7.61, abs=5e-3)
    assert r.consistency_index == pytest.approx((r.lambda_max - 7) / 6)
    assert r.consistency_ratio == pytest.approx(0.61 / 6 / 1.32, abs=1e-3)
    assert r.consistent
    # independently of numpy.linalg.eig
    w, lam = _power_iteration(np.array(m))
    np.testing.assert_allclose(list(r.weights.values()), w, rtol=1e-9)
    assert r.lambda_max == pytest.approx(lam, rel=1e-9)


def test_ahp_judgement_shares_sum_to_the_consistency_index():
    m = np.array([[1, 5, 6, 7], [1 / 5, 1, 4, 6], [1 / 6, 1 / 4, 1, 4], [1 / 7, 1 / 6, 1 / 4, 1]])
    r = mcda.ahp_weights(m, ["a", "b", "c", "d"], on_inconsistent="ignore")
    j = r.judgements
    assert len(j) == 6  # n (n - 1) / 2 judgements above the diagonal
    assert j["ci_share"].sum() == pytest.approx(r.consistency_index, rel=1e-9)
    w = r.weights
    row = j.set_index(["row", "col"]).loc[("a", "d")]
    assert row["given"] == 7
    assert row["implied"] == pytest.approx(w["a"] / w["d"])
    e = 7 * w["d"] / w["a"]
    assert row["ci_share"] == pytest.approx((e + 1 / e - 2) / 12)
    assert j["ci_share"].is_monotonic_decreasing


def test_ahp_names_the_worst_judgement():
    # Consistent judgements from w = (0.4, 0.3, 0.2, 0.1) (a_ij = w_i / w_j) except one reversed:
    # a_14 = 1/4 where the others imply 4. That judgement is the one to revise.
    w = np.array([0.4, 0.3, 0.2, 0.1])
    m = w[:, None] / w[None, :]
    m[0, 3], m[3, 0] = 1 / 4, 4
    labels = ["roads", "market", "materials", "land"]
    r = mcda.ahp_weights(m, labels, on_inconsistent="ignore")
    assert r.consistency_ratio > 0.10
    assert r.worst_judgement == ("roads", "land")
    message = r"AHP consistency ratio 0\.\d+ exceeds 0\.10; the judgement that contributes most \(\d+% of CI\) is "
    message += r"\[roads, land\] = 1/4, while the weights imply about"
    with pytest.warns(EicgeoWarning, match=message):
        mcda.ahp_weights(m, labels)
    with pytest.raises(InputError, match=message):
        mcda.ahp_weights(m, labels, on_inconsistent="raise")
    with pytest.raises(InputError, match=r"on_inconsistent 'stop' is not one of 'warn', 'raise', 'ignore'"):
        mcda.ahp_weights(m, labels, on_inconsistent="stop")


def test_ahp_three_by_three_shares_inconsistency_equally():
    # For n = 3 the eigenvector is the row geometric mean and every judgement's error is the
    # cube root of the cycle a12 a23 / a13, so no single judgement stands out.
    r = mcda.ahp_weights([[1, 2, 1], [1 / 2, 1, 2], [1, 1 / 2, 1]], on_inconsistent="ignore")
    np.testing.assert_allclose(r.judgements["ci_share"], r.consistency_index / 3, rtol=1e-9)


def test_consistent_ahp_does_not_warn(recwarn):
    mcda.ahp_weights([[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]])
    assert not [w for w in recwarn if issubclass(w.category, EicgeoWarning)]


def test_group_ahp_is_the_geometric_mean():
    a = [[1, 4], [1 / 4, 1]]
    b = [[1, 1], [1, 1]]
    r = mcda.ahp_group([a, b], ["roads", "land"])
    # sqrt(4 * 1) = 2: roads twice as important, weights 2/3 and 1/3
    assert r.matrix[0, 1] == pytest.approx(2.0)
    assert r.matrix[1, 0] == pytest.approx(0.5)
    assert r.weights == pytest.approx({"roads": 2 / 3, "land": 1 / 3})
    # opposite judges cancel out
    r = mcda.ahp_group([[[1, 9], [1 / 9, 1]], [[1, 1 / 9], [9, 1]]])
    assert r.weights == pytest.approx({"c1": 0.5, "c2": 0.5})
    # judge weights: 4**0.75 * 1**0.25 = 2.828
    r = mcda.ahp_group([a, b], judge_weights=[3, 1])
    assert r.matrix[0, 1] == pytest.approx(4**0.75)
    assert r.weights["c1"] == pytest.approx(4**0.75 / (1 + 4**0.75))


def test_group_ahp_of_three_by_three_matrices_by_hand():
    m1 = np.array([[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]])
    m2 = np.array([[1, 1 / 3, 1], [3, 1, 3], [1, 1 / 3, 1]])
    r = mcda.ahp_group([m1, m2], ["a", "b", "c"])
    np.testing.assert_allclose(r.matrix, np.sqrt(m1 * m2))
    assert r.matrix[0, 2] == pytest.approx(np.sqrt(5))
    # equals AHP of the aggregated matrix
    assert r.weights == pytest.approx(mcda.ahp_weights(np.sqrt(m1 * m2), ["a", "b", "c"]).weights)


@pytest.mark.parametrize(
    ("matrices", "kwargs", "match"),
    [
        ([], {}, r"ahp_group needs at least one pairwise matrix"),
        ([[[1, 2], [0.5, 1]], [[1, 2, 3], [0.5, 1, 1], [1 / 3, 1, 1]]], {}, r"AHP group matrices differ in shape"),
        ([[[1, 2], [0.5, 1]], [[1, 2], [2, 1]]], {}, r"AHP matrix 2 of the group is not reciprocal: \[c1, c2\] = 2"),
        ([[[1, 2], [0.5, 1]]], {"judge_weights": [1, 1]}, r"judge_weights must be 1 numbers >= 0"),
    ],
)
def test_group_ahp_errors(matrices, kwargs, match):
    with pytest.raises(InputError, match=match):
        mcda.ahp_group(matrices, **kwargs)


# --------------------------------------------------------------------------------------------
# combination
# --------------------------------------------------------------------------------------------
A = [[1.0, 0.0], [0.5, 0.2]]
B = [[0.0, 1.0], [0.5, 0.8]]


def test_wlc_by_hand():
    out = mcda.combine({"a": layer(A, "a"), "b": layer(B, "b")}, {"a": 3, "b": 1})
    # 0.75 a + 0.25 b
    np.testing.assert_allclose(values(out), [[0.75, 0.25], [0.5, 0.35]], rtol=1e-6)
    assert out.dtype == np.float32
    assert out.name == "suitability"
    assert out.attrs["method"] == "wlc"
    assert Grid.from_dataarray(out) == GRID


def test_wlc_accepts_a_dataset_and_ignores_zero_weights():
    ds = xr.Dataset({"a": layer(A, "a"), "b": layer(B, "b"), "nan": layer([[NAN, NAN], [NAN, NAN]], "nan")})
    out = mcda.combine(ds, {"a": 1, "b": 1, "nan": 0})
    np.testing.assert_allclose(values(out), [[0.5, 0.5], [0.5, 0.5]], rtol=1e-6)


def test_wlc_propagates_nan():
    a = layer([[1.0, NAN], [0.5, 0.2]], "a")
    out = mcda.combine({"a": a, "b": layer(B, "b")}, {"a": 1, "b": 1})
    np.testing.assert_allclose(values(out), [[0.5, NAN], [0.5, 0.5]], rtol=1e-6)


def test_owa_equal_order_weights_equals_wlc():
    crit = {"a": layer(A, "a"), "b": layer(B, "b"), "c": layer([[0.3, 0.9], [0.1, NAN]], "c")}
    w = {"a": 0.5, "b": 0.3, "c": 0.2}
    wlc = values(mcda.combine(crit, w))
    owa = values(mcda.combine(crit, w, method="owa"))
    owa_explicit = values(mcda.combine(crit, w, method="owa", order_weights=[1, 1, 1]))
    np.testing.assert_allclose(owa, wlc, rtol=1e-6)
    np.testing.assert_allclose(owa_explicit, wlc, rtol=1e-6)
    assert np.isnan(owa[1, 1])


def test_owa_first_order_weight_is_cellwise_max_and_last_is_min():
    crit = {"a": layer(A, "a"), "b": layer(B, "b")}
    top = values(mcda.combine(crit, {"a": 1, "b": 1}, method="owa", order_weights=[1, 0]))
    low = values(mcda.combine(crit, {"a": 1, "b": 1}, method="owa", order_weights=[0, 1]))
    np.testing.assert_allclose(top, [[1.0, 1.0], [0.5, 0.8]], rtol=1e-6)
    np.testing.assert_allclose(low, [[0.0, 0.0], [0.5, 0.2]], rtol=1e-6)


def test_owa_with_criterion_and_order_weights_by_hand():
    # Malczewski (2006): sum(u v z) / sum(u v) over criteria sorted by value, descending.
    crit = {"a": layer(A, "a"), "b": layer(B, "b")}
    out = values(mcda.combine(crit, {"a": 3, "b": 1}, method="owa", order_weights=[0.25, 0.75]))
    # cell (0,0): z = (a=1, b=0), u = (.75, .25), v = (.25, .75): (.1875*1 + .1875*0) / .375 = 0.5
    # cell (0,1): z = (b=1, a=0), u = (.25, .75): (.0625*1 + .5625*0) / .625 = 0.1
    # cell (1,1): z = (b=.8, a=.2): (.0625*.8 + .5625*.2) / .625 = 0.26
    np.testing.assert_allclose(out, [[0.5, 0.1], [0.5, 0.26]], rtol=1e-5)


def test_combine_errors():
    crit = {"road_access": layer(A, "road_access"), "landcover": layer(B, "landcover")}
    with pytest.raises(
        InputError,
        match=r"weight given for criterion 'road_acess', which does not exist; "
        r"criteria are road_access, landcover \(did you mean 'road_access'",
    ):
        mcda.combine(crit, {"road_acess": 1, "landcover": 1})
    with pytest.raises(InputError, match=r"combination method 'sum' is not one of 'wlc', 'weighted_product'"):
        mcda.combine(crit, {"road_access": 1}, method="sum")
    with pytest.raises(InputError, match=r"OWA order_weights must be 2 numbers >= 0 .*got \[1, 0, 0\]"):
        mcda.combine(crit, {"road_access": 1, "landcover": 1}, method="owa", order_weights=[1, 0, 0])
    with pytest.raises(InputError, match=r"OWA order_weights must be 2 numbers >= 0 .*got \[-1, 2\]"):
        mcda.combine(crit, {"road_access": 1, "landcover": 1}, method="owa", order_weights=[-1, 2])


def test_combine_criteria_on_different_grids():
    shifted = Grid("EPSG:32647", Affine(1000, 0, 5000, 0, -1000, 2000), (2, 2))
    other_crs = Grid("EPSG:32648", Affine(1000, 0, 0, 0, -1000, 2000), (2, 2))
    bigger = Grid("EPSG:32647", Affine(1000, 0, 0, 0, -1000, 3000), (3, 2))
    a = layer(A, "a")
    with pytest.raises(GridMismatchError, match=r"criterion 'b' is on another grid"):
        mcda.combine({"a": a, "b": layer(B, "b", shifted)}, {"a": 1, "b": 1})
    with pytest.raises(GridMismatchError, match=r"criterion 'b' is on another grid \(EPSG:32648"):
        mcda.combine({"a": a, "b": layer(B, "b", other_crs)}, {"a": 1, "b": 1})
    with pytest.raises(GridMismatchError, match=r"criterion 'b' has shape \(3, 2\), but 'a' has \(2, 2\)"):
        mcda.combine({"a": a, "b": layer(np.zeros((3, 2)), "b", bigger)}, {"a": 1, "b": 1})


def test_combine_all_nan_criterion():
    crit = {"a": layer(A, "a"), "flood": layer([[NAN, NAN], [NAN, NAN]], "flood")}
    with pytest.raises(InputError, match=r"criterion 'flood' is NaN everywhere"):
        mcda.combine(crit, {"a": 1, "flood": 1})


def test_weighted_product_by_hand():
    out = mcda.combine({"a": layer(A, "a"), "b": layer(B, "b")}, {"a": 3, "b": 1}, method="weighted_product")
    # a**0.75 * b**0.25; a zero in either criterion gives zero
    expected = [[0.0, 0.0], [0.5**0.75 * 0.5**0.25, 0.2**0.75 * 0.8**0.25]]
    np.testing.assert_allclose(values(out), expected, rtol=1e-6)
    assert out.attrs["method"] == "weighted_product"


def test_owa_order_weights_from_alpha_with_orness_and_tradeoff():
    # Yager's RIM quantifier Q(r) = r**alpha: n = 2, alpha = 2 gives v = (1/4, 3/4)
    np.testing.assert_allclose(mcda.order_weights_from_alpha(2, 2.0), [0.25, 0.75])
    # n = 4, alpha = 0.5: v_j = sqrt(j/4) - sqrt((j-1)/4)
    np.testing.assert_allclose(
        mcda.order_weights_from_alpha(4, 0.5),
        [0.5, np.sqrt(0.5) - 0.5, np.sqrt(0.75) - np.sqrt(0.5), 1 - np.sqrt(0.75)],
    )
    crit = {"a": layer(A, "a"), "b": layer(B, "b")}
    out = mcda.combine(crit, {"a": 3, "b": 1}, method="owa", alpha=2.0)
    # the same cells as test_owa_with_criterion_and_order_weights_by_hand
    np.testing.assert_allclose(values(out), [[0.5, 0.1], [0.5, 0.26]], rtol=1e-5)
    # orness = (n - j)/(n - 1) v_j summed = 1 x 0.25; tradeoff = 1 - sqrt(2 (0.25² + 0.25²)) = 0.5
    assert out.attrs["orness"] == pytest.approx(0.25)
    assert out.attrs["tradeoff"] == pytest.approx(0.5)
    assert out.attrs["alpha"] == 2.0
    assert out.attrs["order_weights"] == "[0.25, 0.75]"


def test_owa_alpha_one_is_wlc_and_extremes_are_or_and_and():
    crit = {"a": layer(A, "a"), "b": layer(B, "b"), "c": layer([[0.3, 0.9], [0.1, 0.4]], "c")}
    w = {"a": 1, "b": 1, "c": 1}
    wlc = mcda.combine(crit, w)
    one = mcda.combine(crit, w, method="owa", alpha=1.0)
    np.testing.assert_allclose(values(one), values(wlc), rtol=1e-6)
    assert (one.attrs["orness"], one.attrs["tradeoff"]) == (0.5, 1.0)
    assert (wlc.attrs["orness"], wlc.attrs["tradeoff"]) == (0.5, 1.0)
    risky = mcda.combine(crit, w, method="owa", alpha=1e-6)
    averse = mcda.combine(crit, w, method="owa", alpha=1e6)
    np.testing.assert_allclose(values(risky), values(mcda.combine(crit, w, method="fuzzy_or")), atol=1e-4)
    np.testing.assert_allclose(values(averse), values(mcda.combine(crit, w, method="fuzzy_and")), atol=1e-4)
    assert risky.attrs["orness"] == pytest.approx(1.0, abs=1e-4)
    assert averse.attrs["orness"] == pytest.approx(0.0, abs=1e-4)


def test_owa_measures_by_hand():
    assert mcda.owa_measures([1, 0, 0]) == {"orness": 1.0, "tradeoff": 0.0}
    assert mcda.owa_measures([0, 0, 1]) == {"orness": 0.0, "tradeoff": 0.0}
    assert mcda.owa_measures([1, 1, 1, 1]) == {"orness": 0.5, "tradeoff": 1.0}
    # v = (0.5, 0.3, 0.2): orness = (2 x 0.5 + 1 x 0.3) / 2 = 0.65
    m = mcda.owa_measures([0.5, 0.3, 0.2])
    assert m["orness"] == pytest.approx(0.65)
    assert m["tradeoff"] == pytest.approx(
        1 - np.sqrt(3 * ((0.5 - 1 / 3) ** 2 + (0.3 - 1 / 3) ** 2 + (0.2 - 1 / 3) ** 2) / 2)
    )


def test_fuzzy_and_or_gamma_by_hand():
    crit = {"a": layer(A, "a"), "b": layer(B, "b")}
    w = {"a": 3, "b": 1}  # the fuzzy operators do not weigh criteria
    np.testing.assert_allclose(values(mcda.combine(crit, w, method="fuzzy_and")), [[0.0, 0.0], [0.5, 0.2]])
    np.testing.assert_allclose(values(mcda.combine(crit, w, method="fuzzy_or")), [[1.0, 1.0], [0.5, 0.8]])
    out = mcda.combine(crit, w, method="fuzzy_gamma", gamma=0.5)
    # (a b)**0.5 (1 - (1 - a)(1 - b))**0.5: cell (1, 1) = sqrt(0.16 x 0.84)
    expected = [[0.0, 0.0], [np.sqrt(0.25 * 0.75), np.sqrt(0.16 * 0.84)]]
    np.testing.assert_allclose(values(out), expected, rtol=1e-6)
    assert out.attrs["gamma"] == 0.5
    # gamma 0 is the fuzzy product, 1 the fuzzy algebraic sum
    np.testing.assert_allclose(values(mcda.combine(crit, w, method="fuzzy_gamma", gamma=0)), [[0, 0], [0.25, 0.16]])
    np.testing.assert_allclose(values(mcda.combine(crit, w, method="fuzzy_gamma", gamma=1)), [[1, 1], [0.75, 0.84]])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "owa", "alpha": 0}, r"OWA alpha must be a finite number > 0 .*got 0"),
        ({"method": "owa", "alpha": float("inf")}, r"OWA alpha must be a finite number > 0"),
        ({"method": "owa", "alpha": 2, "order_weights": [1, 1]}, r"OWA takes order_weights or alpha, not both"),
        ({"method": "owa", "order_weights": ["x", 1]}, r"OWA order_weights must be 2 numbers"),
        ({"method": "fuzzy_gamma", "gamma": 1.5}, r"fuzzy_gamma gamma must be a number in 0..1, got 1.5"),
        ({"method": "fuzy_and"}, r"combination method 'fuzy_and' is not one of .*did you mean 'fuzzy_and'"),
    ],
)
def test_combine_parameter_errors(kwargs, match):
    crit = {"a": layer(A, "a"), "b": layer(B, "b")}
    with pytest.raises(InputError, match=match):
        mcda.combine(crit, {"a": 1, "b": 1}, **kwargs)


def test_combine_a_criterion_that_is_not_2d():
    cube = xr.DataArray(np.zeros((2, 2, 2)), dims=("band", "y", "x"), name="cube")
    with pytest.raises(InputError, match=r"criterion 'cube' has 3 dimensions"):
        mcda.combine({"cube": cube}, {"cube": 1})


# --------------------------------------------------------------------------------------------
# dask
# --------------------------------------------------------------------------------------------
def test_dask_gives_the_same_values_as_numpy():
    g = Grid("EPSG:32647", Affine(1000, 0, 0, 0, -1000, 10000), (5, 6))
    rng = np.random.default_rng(1)
    minutes = rng.uniform(0, 60, g.shape).astype(np.float32)
    minutes[2, 3] = np.nan
    codes = rng.integers(0, 5, g.shape).astype(np.uint8)
    raw = {"minutes": g.wrap(minutes, "minutes"), "codes": g.wrap(codes, "codes")}
    specs = {
        "minutes": [
            ("linear", {"low": 0, "high": 60, "increasing": False}),
            ("jshaped", {"a": 0, "b": 10, "c": 20, "d": 50}),
            ("piecewise", {"points": [[0, 1], [30, 0.4], [60, 0]]}),
            ("sigmoid", {"midpoint": 30, "spread": 5}),
        ],
        "codes": [("categorical", {"scores": {1: 1.0, 2: 0.5, 3: 0.2}})],
    }
    for name, fns in specs.items():
        for fn, params in fns:
            eager = mcda.standardize(raw[name], fn, **params)
            lazy = mcda.standardize(raw[name].chunk({"y": 2, "x": 2}), fn, **params)
            assert lazy.chunks is not None, fn  # stays lazy
            np.testing.assert_array_equal(lazy.values, eager.values, err_msg=fn)
            assert lazy.dtype == np.float32

    crit = {
        "time": mcda.standardize(raw["minutes"], "linear", low=0, high=60, increasing=False),
        "land": mcda.standardize(raw["codes"], "categorical", scores={0: 0.1, 1: 1.0, 2: 0.5, 3: 0.2, 4: 0.0}),
    }
    lazy_crit = {k: v.chunk({"y": 2, "x": 2}) for k, v in crit.items()}
    w = {"time": 0.7, "land": 0.3}
    for kwargs in ({}, {"method": "owa", "order_weights": [0.7, 0.3]}):
        eager = mcda.combine(crit, w, **kwargs)
        lazy = mcda.combine(lazy_crit, w, **kwargs)
        assert lazy.chunks is not None
        np.testing.assert_array_equal(lazy.values, eager.values)
        assert np.isnan(eager.values[2, 3])


def test_every_function_is_identical_on_dask_and_numpy():
    g = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 1200), (12, 10))
    rng = np.random.default_rng(7)
    raw = rng.uniform(0, 60, g.shape).astype(np.float32)
    raw[4, 5] = np.nan
    x = g.wrap(raw, "minutes")
    lazy_x = x.chunk({"y": 5, "x": 4})
    for fn, params in [
        ("logistic", {"midpoint": 30, "spread": 5, "increasing": False}),
        ("sigmoid", {"a": 5, "b": 20, "c": 35, "d": 50}),
        ("gaussian", {"target": 30, "spread": 10}),
        ("symmetric_linear", {"a": 5, "b": 20, "c": 35, "d": 50}),
    ]:
        eager = mcda.standardize(x, fn, **params)
        lazy = mcda.standardize(lazy_x, fn, **params)
        assert lazy.chunks is not None, fn
        np.testing.assert_array_equal(lazy.values, eager.values, err_msg=fn)

    crit = {
        k: g.wrap(rng.uniform(0, 1, g.shape).astype(np.float32), k) for k in ("time", "land", "market", "materials")
    }
    crit["time"][4, 5] = np.nan
    lazy_crit = {k: v.chunk({"y": 5, "x": 4}) for k, v in crit.items()}
    w = {"time": 0.4, "land": 0.3, "market": 0.2, "materials": 0.1}
    for kwargs in (
        {"method": "wlc"},
        {"method": "weighted_product"},
        {"method": "owa", "alpha": 0.5},
        {"method": "fuzzy_and"},
        {"method": "fuzzy_or"},
        {"method": "fuzzy_gamma", "gamma": 0.7},
    ):
        eager = mcda.combine(crit, w, **kwargs)
        lazy = mcda.combine(lazy_crit, w, **kwargs)
        assert lazy.chunks is not None, kwargs
        np.testing.assert_array_equal(lazy.values, eager.values, err_msg=str(kwargs))
        assert {k: v for k, v in eager.attrs.items() if k != "_FillValue"} == {
            k: v for k, v in lazy.attrs.items() if k != "_FillValue"
        }
        assert np.isnan(eager.values[4, 5])
    # one dask-backed criterion among numpy ones
    mixed = mcda.combine({**crit, "land": lazy_crit["land"]}, w)
    np.testing.assert_array_equal(mixed.values, mcda.combine(crit, w).values)

    built = g.wrap(np.zeros(g.shape, dtype=bool), "built")
    built[0, 0] = built[11, 9] = built[6, 3] = True
    np.testing.assert_array_equal(
        mcda.buffer_mask(built.chunk({"y": 5, "x": 4}), 350).values, mcda.buffer_mask(built, 350).values
    )
    dem = g.wrap((np.add.outer(np.arange(12.0) ** 2, np.arange(10.0) * 7)).astype(np.float32), "dem")
    np.testing.assert_array_equal(
        mcda.slope_degrees(dem.chunk({"y": 5, "x": 4})).values, mcda.slope_degrees(dem).values
    )
    mask = crit["land"] > 0.8
    np.testing.assert_array_equal(
        mcda.exclude([(2, mask.chunk({"y": 5})), (4, built.chunk({"y": 5}))], x.chunk({"y": 5})).values,
        mcda.exclude([(2, mask), (4, built)], x).values,
    )
    eager = mcda.monte_carlo(crit, w, n=30, concentration=20.0, seed=2, block_cells=25)
    lazy = mcda.monte_carlo(lazy_crit, w, n=30, concentration=20.0, seed=2, block_cells=25)
    xr.testing.assert_identical(eager, lazy)


# --------------------------------------------------------------------------------------------
# constraints
# --------------------------------------------------------------------------------------------
def test_exclude_keeps_the_first_reason():
    like = layer([[0.1, 0.2], [0.3, 0.4]], "suitability")
    water = GRID.wrap(np.array([[True, True], [False, False]]), "water")
    protected = GRID.wrap(np.array([[False, True], [True, False]]), "protected")
    out = mcda.exclude([(1, water), (4, protected)], like)
    np.testing.assert_array_equal(out.values, [[1, 1], [4, 0]])
    assert out.dtype == np.uint8
    assert out.name == "excluded"
    assert Grid.from_dataarray(out) == GRID
    # priority follows the order given
    flipped = mcda.exclude([(4, protected), (1, water)], like)
    np.testing.assert_array_equal(flipped.values, [[1, 4], [4, 0]])
    assert mcda.exclude([], like).values.tolist() == [[0, 0], [0, 0]]


def test_exclude_names_and_areas():
    like = layer([[0.1, 0.2], [0.3, 0.4]], "suitability")
    water = GRID.wrap(np.array([[True, True], [False, False]]), "water")
    flood = GRID.wrap(np.array([[False, True], [True, False]]), "flood")
    out = mcda.exclude([(2, water), (20, flood)], like, names={2: "water", 20: "flood zone"})
    assert out.attrs["reason_names"] == {2: "water", 20: "flood zone"}
    table = mcda.exclusion_areas(out)
    # 1000 m cells: 100 ha each
    assert table.to_dict("list") == {
        "code": [2, 20],
        "reason": ["water", "flood zone"],
        "cells": [2, 1],
        "area_ha": [200.0, 100.0],
    }
    with pytest.raises(InputError, match=r"exclusion reason code must be 1..255 \(0 means allowed\), got 0"):
        mcda.exclude([(0, water)], like)
    with pytest.raises(GridMismatchError, match=r"exclusion mask for reason 2 has shape \(1, 2\)"):
        mcda.exclude([(2, water[:1])], like)


def test_buffer_mask_by_hand():
    g = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 500), (5, 5))
    built = np.zeros((5, 5), dtype=bool)
    built[2, 2] = True
    out = mcda.buffer_mask(g.wrap(built, "built"), 150)
    # 100 m cells: the 4 neighbours are 100 m away, the diagonals 141 m, the next ring 200 m+
    expected = np.zeros((5, 5), dtype=bool)
    expected[1:4, 1:4] = True
    np.testing.assert_array_equal(out.values, expected)
    assert out.attrs["buffer_m"] == 150
    np.testing.assert_array_equal(mcda.buffer_mask(g.wrap(built, "built"), 100).values.sum(), 5)
    assert mcda.buffer_mask(g.wrap(built, "built"), 0).values.sum() == 1
    assert not mcda.buffer_mask(g.wrap(np.zeros((5, 5), dtype=bool), "none"), 500).values.any()
    with pytest.raises(InputError, match=r"buffer distance must be a number of metres >= 0, got -5"):
        mcda.buffer_mask(g.wrap(built, "built"), -5)
    with pytest.raises(InputError, match=r"layer 'plain' has no CRS; give cell_m"):
        mcda.buffer_mask(xr.DataArray(built, dims=("y", "x"), name="plain"), 100)
    plain = mcda.buffer_mask(xr.DataArray(built, dims=("y", "x"), name="plain"), 150, cell_m=100)
    np.testing.assert_array_equal(plain.values, expected)


def test_slope_of_planes_by_hand():
    g = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 400), (4, 5))
    xs, ys = np.meshgrid(g.xs, g.ys)
    # z rises 10 m per 100 m eastwards: atan(0.1) = 5.7106 degrees everywhere (edges included)
    slope = mcda.slope_degrees(g.wrap((0.1 * xs).astype(np.float32), "dem"))
    np.testing.assert_allclose(slope.values, np.degrees(np.arctan(0.1)), rtol=1e-5)
    assert slope.attrs["units"] == "degrees" and slope.dtype == np.float32
    # 45 degrees: 1 m per metre northwards
    np.testing.assert_allclose(mcda.slope_degrees(g.wrap(ys.astype(np.float64), "dem")).values, 45.0, rtol=1e-6)
    # 0.3 east and 0.4 north: gradient 0.5, atan(0.5) = 26.565 degrees
    both = mcda.slope_degrees(g.wrap(0.3 * xs + 0.4 * ys, "dem"))
    np.testing.assert_allclose(both.values, np.degrees(np.arctan(0.5)), rtol=1e-6)
    with pytest.raises(InputError, match=r"slope needs at least 2 x 2 elevation cells, got \(1, 5\)"):
        mcda.slope_degrees(xr.DataArray(np.zeros((1, 5)), dims=("y", "x")), cell_m=100)


# --------------------------------------------------------------------------------------------
# Monte Carlo
# --------------------------------------------------------------------------------------------
def _mc_criteria():
    g = Grid("EPSG:32647", Affine(1000, 0, 0, 0, -1000, 10000), (10, 10))
    i = np.arange(100, dtype=np.float32).reshape(10, 10)
    a = i / 100
    b = (99 - i) / 100
    a[0, 0] = np.nan
    return g, {"a": g.wrap(a, "a"), "b": g.wrap(b, "b")}


def test_monte_carlo_with_fixed_weights_equals_wlc():
    g, crit = _mc_criteria()
    w = {"a": 0.7, "b": 0.3}
    ds = mcda.monte_carlo(crit, w, n=20, concentration=1e9, top_q=0.1, seed=3)
    wlc = values(mcda.combine(crit, w))
    np.testing.assert_allclose(values(ds["mean"]), wlc, atol=1e-4)
    std = values(ds["std"])
    assert np.nanmax(std) < 1e-3
    assert np.isnan(ds["mean"].values[0, 0]) and np.isnan(ds["p_top"].values[0, 0])
    p = values(ds["p_top"])
    valid = p[np.isfinite(p)]
    assert valid.min() >= 0 and valid.max() <= 1
    # Weights fixed: every draw agrees, so p_top is 0 or 1 and the cells at 1 are the top tenth
    # of the 99 valid cells. WLC rises with i, so they are the 10 cells with the largest i.
    assert set(np.unique(valid)) == {0.0, 1.0}
    top = np.flatnonzero(p.ravel() == 1.0)
    np.testing.assert_array_equal(top, np.arange(90, 100))
    assert len(top) / valid.size == pytest.approx(0.1, abs=0.01)
    assert ds.attrs == {"n": 20, "concentration": 1e9, "top_q": 0.1, "seed": 3}
    assert Grid.from_dataarray(ds["mean"]) == g


def test_monte_carlo_spread_with_loose_weights():
    _, crit = _mc_criteria()
    ds = mcda.monte_carlo(crit, {"a": 0.5, "b": 0.5}, n=200, concentration=2.0, seed=0)
    p = values(ds["p_top"])
    assert np.nanmax(values(ds["std"])) > 0.05
    # uncertain weights: some cells are in the top tenth in some draws only
    assert ((p > 0) & (p < 1)).any()
    # every draw puts about 10 % of the 99 valid cells in its top tenth
    assert np.nansum(p) / 99 == pytest.approx(0.1, abs=0.02)
    # same seed, same answer
    again = mcda.monte_carlo(crit, {"a": 0.5, "b": 0.5}, n=200, concentration=2.0, seed=0)
    xr.testing.assert_identical(ds, again)


def test_monte_carlo_bad_n():
    _, crit = _mc_criteria()
    with pytest.raises(InputError, match=r"monte_carlo n must be >= 1, got 0"):
        mcda.monte_carlo(crit, {"a": 1, "b": 1}, n=0)


def test_sample_weights_are_centred_on_the_given_weights_and_sum_to_one():
    draws = mcda.sample_weights({"a": 3.0, "b": 1.0, "c": 0.0}, 4000, concentration=200.0, seed=1)
    assert list(draws.columns) == ["a", "b", "c"]
    np.testing.assert_allclose(draws.sum(axis=1), 1.0)
    assert draws["c"].eq(0.0).all()
    assert abs(draws["a"].mean() - 0.75) < 0.005
    # Dirichlet variance of a component: w(1-w)/(alpha0+1) with alpha0 = concentration
    assert abs(draws["a"].std() - np.sqrt(0.75 * 0.25 / 201.0)) < 0.003


def _brute_force(crit, w, n, **kwargs):
    """Every draw's whole suitability map in memory and numpy.quantile per draw."""
    draws = mcda.sample_weights(w, n, **kwargs).to_numpy(dtype=np.float32)
    stack = np.stack([np.asarray(crit[k].values, dtype=np.float32) for k in w])
    valid = ~np.isnan(stack).any(axis=0)
    s = draws @ stack[:, valid]
    top = s >= np.quantile(s, 0.9, axis=1)[:, None]
    return valid, s, top.mean(axis=0)


@pytest.mark.parametrize("sampling", [{"concentration": 5.0, "seed": 4}, {"spread": 0.5, "seed": 9}])
def test_monte_carlo_block_by_block_matches_the_whole_grid(sampling):
    g = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 3000), (30, 20))
    rng = np.random.default_rng(11)
    crit = {k: g.wrap(rng.uniform(0, 1, g.shape).astype(np.float32), k) for k in ("a", "b", "c")}
    crit["b"][3:6, 4:9] = np.nan
    # ties: a block of equal values straddles the top-10 % threshold
    for k in crit:
        crit[k][20:26, 0:10] = 0.8
    w = {"a": 0.5, "b": 0.3, "c": 0.2}
    valid, s, p = _brute_force(crit, w, 40, **sampling)
    ds = mcda.monte_carlo(crit, w, n=40, block_cells=70, **sampling)  # 3 rows per block: 10 blocks
    np.testing.assert_array_equal(values(ds["p_top"])[valid], p.astype(np.float32))
    np.testing.assert_allclose(values(ds["mean"])[valid], s.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(values(ds["std"])[valid], s.std(axis=0), rtol=1e-3, atol=1e-6)
    assert np.isnan(values(ds["p_top"])[~valid]).all()
    whole = mcda.monte_carlo(crit, w, n=40, **sampling)
    xr.testing.assert_identical(ds, whole)


def test_monte_carlo_threshold_by_hand():
    # one criterion: every draw gives the same map 0.00, 0.01, ..., 0.99 (a 10 x 10 grid). The
    # top 10 % starts at rank ceil(99 x 0.9) = 90, so exactly the cells 0.90..0.99 are in it.
    g = Grid("EPSG:32647", Affine(1000, 0, 0, 0, -1000, 10000), (10, 10))
    c = g.wrap((np.arange(100, dtype=np.float32) / 100).reshape(10, 10), "c")
    ds = mcda.monte_carlo({"c": c}, {"c": 1}, n=3, top_q=0.1, block_cells=30)
    np.testing.assert_array_equal(values(ds["p_top"]).ravel(), [0.0] * 90 + [1.0] * 10)
    ds = mcda.monte_carlo({"c": c}, {"c": 1}, n=3, top_q=0.25)
    # rank ceil(99 x 0.75) = 75: 25 cells
    assert values(ds["p_top"]).sum() == 25


def test_monte_carlo_spread_and_errors():
    _, crit = _mc_criteria()
    ds = mcda.monte_carlo(crit, {"a": 0.5, "b": 0.5}, n=50, spread=0.2, seed=1)
    assert ds.attrs["spread"] == 0.2
    assert np.nanmax(values(ds["std"])) > 0.01
    with pytest.raises(InputError, match=r"monte_carlo top_q must be a fraction in \(0, 1\), got 1.5"):
        mcda.monte_carlo(crit, {"a": 1, "b": 1}, top_q=1.5)
    with pytest.raises(InputError, match=r"weight spread must be a fraction in \[0, 1\) .*got 1.2"):
        mcda.monte_carlo(crit, {"a": 1, "b": 1}, spread=1.2)
    with pytest.raises(InputError, match=r"weight given for criterion 'c', which does not exist"):
        mcda.monte_carlo(crit, {"a": 1, "c": 1})
    g = Grid("EPSG:32647", Affine(1000, 0, 0, 0, -1000, 2000), (1, 2))
    apart = {"a": g.wrap(np.array([[1.0, NAN]], dtype=np.float32), "a"), "b": g.wrap(np.array([[NAN, 1.0]]), "b")}
    with pytest.raises(InputError, match=r"no cell has a value in every criterion \(a, b\)"):
        mcda.monte_carlo(apart, {"a": 1, "b": 1})


def test_sample_weights_with_spread_stay_within_plus_minus():
    draws = mcda.sample_weights({"a": 0.6, "b": 0.4}, 2000, spread=0.2, seed=3)
    np.testing.assert_allclose(draws.sum(axis=1), 1.0)
    # a / b = 1.5 x f_a / f_b with f in [0.8, 1.2]: between 1.5 x 0.8/1.2 = 1.0 and 1.5 x 1.2/0.8 = 2.25
    ratio = draws["a"] / draws["b"]
    assert ratio.min() >= 1.0 and ratio.max() <= 2.25
    assert ratio.min() < 1.1 and ratio.max() > 2.1
    assert abs(draws["a"].mean() - 0.6) < 0.01
    with pytest.raises(InputError, match=r"Dirichlet concentration must be a number > 0, got 0"):
        mcda.sample_weights({"a": 1}, 3, concentration=0)


def test_wlc_into_a_reused_buffer():
    crit = {"a": layer(A, "a"), "b": layer(B, "b")}
    buffer = np.full((2, 2), -1.0, dtype=np.float32)
    out = mcda.combine(crit, {"a": 3, "b": 1}, out=buffer)
    np.testing.assert_allclose(buffer, [[0.75, 0.25], [0.5, 0.35]], rtol=1e-6)
    assert np.shares_memory(out.values, buffer)
    assert Grid.from_dataarray(out) == GRID
    np.testing.assert_array_equal(out.values, mcda.combine(crit, {"a": 3, "b": 1}).values)
    with pytest.raises(InputError, match=r"combine out must be a float32 numpy array of shape \(2, 2\), got float64"):
        mcda.combine(crit, {"a": 1}, out=np.zeros((2, 2)))
    with pytest.raises(InputError, match=r"combine out= is supported for method 'wlc' only, got method 'owa'"):
        mcda.combine(crit, {"a": 1}, method="owa", out=buffer)
    with pytest.raises(InputError, match=r"combine out= needs numpy-backed criteria"):
        mcda.combine({k: v.chunk({"y": 1}) for k, v in crit.items()}, {"a": 1}, out=buffer)
