"""MCDA: standardisation, weights, AHP, combination, constraints and Monte Carlo, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from affine import Affine

from eicgeo import mcda
from eicgeo._errors import EicgeoError, GridMismatchError, InputError
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
        ("sigmoid", {"midpoint": 1, "spread": 0}, r"sigmoid spread must be > 0, got 0"),
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


def test_rank_weights_unknown_method():
    with pytest.raises(InputError, match=r"rank weight method 'centroid' is not 'sum' or 'reciprocal'"):
        mcda.rank_weights(["a", "b"], "centroid")


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
    r = mcda.ahp_weights(m)
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
    with pytest.raises(InputError, match=r"combination method 'sum' is not 'wlc' or 'owa'"):
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
