"""The fast paths of mcda and criteria: float32 kept, values by hand and against float64
formulas, dask identical to numpy, bounded temporaries, and each Monte Carlo path agreeing."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import xarray as xr
from affine import Affine

from eicgeo import criteria, mcda
from eicgeo.grid import Grid
from eicgeo.legends import ROLE_CODE
from eicgeo.settings import Criterion

NAN = np.nan


def grid(rows: int, cols: int) -> Grid:
    return Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, rows * 100), (rows, cols))


def wrap(values, name="x", dtype=np.float32):
    values = np.asarray(values, dtype=dtype)
    if values.ndim == 1:
        values = values[None, :]
    return grid(*values.shape).wrap(values, name)


# --------------------------------------------------------------------------------------------
# standardize: by hand
# --------------------------------------------------------------------------------------------
def test_linear_by_hand_is_exact_float32():
    x = wrap([0.0, 5.0, 10.0, NAN])
    up = mcda.standardize(x, "linear", low=0, high=10)
    down = mcda.standardize(x, "linear", low=0, high=10, increasing=False)
    assert up.dtype == np.float32 and down.dtype == np.float32
    np.testing.assert_array_equal(up.values, np.array([[0.0, 0.5, 1.0, NAN]], dtype=np.float32))
    np.testing.assert_array_equal(down.values, np.array([[1.0, 0.5, 0.0, NAN]], dtype=np.float32))


def test_curves_at_their_control_points_are_exact():
    x = wrap([5.0, 30.0, 10.0, 20.0, 35.0, 50.0, NAN])
    gaussian = mcda.standardize(x, "gaussian", target=30, spread=10).values[0]
    assert gaussian[1] == 1.0  # at target
    assert gaussian[[3]].item() == pytest.approx(np.exp(-0.5), rel=1e-6)  # one spread off
    assert mcda.standardize(x, "logistic", midpoint=30, spread=5).values[0, 1] == 0.5
    sigmoid = mcda.standardize(x, "sigmoid", a=5, b=20, c=35, d=50).values[0]
    np.testing.assert_array_equal(sigmoid[[0, 3, 1, 4, 5]], [0.0, 1.0, 1.0, 1.0, 0.0])
    jshaped = mcda.standardize(x, "jshaped", a=5, b=20, c=35, d=50).values[0]
    np.testing.assert_array_equal(jshaped[[0, 3, 4, 5]], [0.5, 1.0, 1.0, 0.5])
    trapezoid = mcda.standardize(x, "symmetric_linear", a=5, b=20, c=35, d=50).values[0]
    np.testing.assert_array_equal(trapezoid[[0, 3, 4, 5]], [0.0, 1.0, 1.0, 0.0])
    for out in (gaussian, sigmoid, jshaped, trapezoid):
        assert np.isnan(out[-1])


# The float64 formulas of docs/mcda.md, for the comparison below.
def _reference(fn: str, x: np.ndarray, p: dict) -> np.ndarray:
    x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        if fn == "linear":
            y = (x - p["low"]) / (p["high"] - p["low"])
            y = y if p.get("increasing", True) else 1 - y
        elif fn == "logistic":
            z = (x - p["midpoint"]) / p["spread"]
            y = 1 / (1 + np.exp(-z if p.get("increasing", True) else z))
        elif fn == "gaussian":
            y = np.exp(-0.5 * ((x - p["target"]) / p["spread"]) ** 2)
        elif fn == "sigmoid":
            rise = np.cos((1 - np.clip((x - p["a"]) / (p["b"] - p["a"]), 0, 1)) * np.pi / 2) ** 2
            fall = np.cos(np.clip((x - p["c"]) / (p["d"] - p["c"]), 0, 1) * np.pi / 2) ** 2
            y = np.where(x < p["b"], rise, np.where(x > p["c"], fall, 1.0))
        elif fn == "jshaped":
            rise = 1 / (1 + ((x - p["b"]) / (p["b"] - p["a"])) ** 2)
            fall = 1 / (1 + ((x - p["c"]) / (p["d"] - p["c"])) ** 2)
            y = np.where(x < p["b"], rise, np.where(x > p["c"], fall, 1.0))
        elif fn == "symmetric_linear":
            y = np.minimum((x - p["a"]) / (p["b"] - p["a"]), (p["d"] - x) / (p["d"] - p["c"]))
        else:
            pts = np.asarray(p["points"], dtype=float)
            y = np.interp(x, pts[:, 0], pts[:, 1])
    return np.where(np.isnan(x), np.nan, np.clip(y, 0, 1))


FUNCTIONS = [
    ("linear", {"low": 0, "high": 60}),
    ("linear", {"low": 3.3, "high": 47.123456789, "increasing": False}),
    ("logistic", {"midpoint": 30, "spread": 5}),
    ("logistic", {"midpoint": 30, "spread": 5, "increasing": False}),
    ("gaussian", {"target": 30, "spread": 10}),
    ("sigmoid", {"a": 5, "b": 20, "c": 35, "d": 50}),
    ("jshaped", {"a": 5, "b": 20, "c": 35, "d": 50}),
    ("symmetric_linear", {"a": 5, "b": 20, "c": 35, "d": 50}),
    ("piecewise", {"points": [[0, 1], [30, 0.4], [60, 0]]}),
]


def _raw(rows=300, cols=250, seed=0) -> np.ndarray:
    """More cells than one tile (mcda._TILE_CELLS), with NaN and infinities."""
    raw = np.random.default_rng(seed).uniform(-10, 70, (rows, cols)).astype(np.float32)
    raw[0, :5] = [NAN, np.inf, -np.inf, 0.0, 60.0]
    raw[150:160, 100:140] = NAN
    return raw


@pytest.mark.parametrize(("fn", "params"), FUNCTIONS)
def test_float32_paths_match_the_float64_formulas(fn, params):
    raw = _raw()
    out = mcda.standardize(wrap(raw), fn, **params)
    assert out.dtype == np.float32
    expected = _reference(fn, raw, params)
    np.testing.assert_array_equal(np.isnan(out.values), np.isnan(raw))
    np.testing.assert_allclose(out.values, expected, rtol=0, atol=5e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.int16, np.int32])
@pytest.mark.parametrize(("fn", "params"), FUNCTIONS)
def test_float32_out_whatever_the_input(fn, params, dtype):
    raw = np.arange(0, 60, dtype=np.float64).reshape(6, 10)
    out = mcda.standardize(wrap(raw, dtype=dtype), fn, **params)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.values, _reference(fn, raw, params), rtol=0, atol=5e-7)


def test_parameters_beyond_float32_are_worked_in_float64():
    # 1e300 is no float32: the float64 tiles keep the values right
    x = wrap([-1e30, 0.0, 1e30, NAN])
    out = mcda.standardize(x, "linear", low=-1e300, high=1e300).values
    np.testing.assert_allclose(out[0, :3], [0.5, 0.5, 0.5])
    assert out.dtype == np.float32 and np.isnan(out[0, 3])
    # a span too narrow for float32 parameters near 1e6
    x = wrap(np.array([1e6, 1e6 + 0.0625, 1e6 + 0.125], dtype=np.float64), dtype=np.float64)
    out = mcda.standardize(x, "linear", low=1e6 + 0.01, high=1e6 + 0.12).values
    np.testing.assert_allclose(out[0], [0.0, 0.0525 / 0.11, 1.0], rtol=1e-6)


def test_categorical_fast_lookup_equals_the_general_one():
    codes = np.random.default_rng(1).integers(0, 300, (40, 50))
    scores = {1: 1.0, 2: 0.5, 7: 1.7, 255: 0.25, 299: 0.3}
    for default in (NAN, 0.0, -2.0):
        general = mcda.standardize(wrap(codes, dtype=np.int32), "categorical", scores=scores, default=default)
        assert general.dtype == np.float32
        wide = mcda.standardize(wrap(codes, dtype=np.uint16), "categorical", scores=scores, default=default)
        np.testing.assert_array_equal(wide.values, general.values)
        small = codes % 256
        general8 = mcda.standardize(wrap(small, dtype=np.int32), "categorical", scores=scores, default=default)
        fast8 = mcda.standardize(wrap(small, dtype=np.uint8), "categorical", scores=scores, default=default)
        np.testing.assert_array_equal(fast8.values, general8.values)
    got = mcda.standardize(wrap([1, 2, 7, 3], dtype=np.uint8), "categorical", scores=scores).values
    np.testing.assert_array_equal(got, np.array([[1.0, 0.5, 1.0, NAN]], dtype=np.float32))  # 1.7 clipped


@pytest.mark.parametrize(("fn", "params"), [*FUNCTIONS, ("categorical", {"scores": {1: 1.0, 2: 0.5}})])
def test_dask_blocks_give_identical_values(fn, params):
    raw = _raw(130, 270, seed=3)
    if fn == "categorical":
        raw = np.nan_to_num(raw, nan=0, posinf=0, neginf=0).astype(np.int16) % 4
    x = wrap(raw, dtype=raw.dtype)
    eager = mcda.standardize(x, fn, **params)
    lazy = mcda.standardize(x.chunk({"y": 47, "x": 101}), fn, **params)
    assert lazy.chunks is not None and lazy.dtype == np.float32
    np.testing.assert_array_equal(lazy.values, eager.values)
    assert {k: v for k, v in lazy.attrs.items() if k != "_FillValue"} == {
        k: v for k, v in eager.attrs.items() if k != "_FillValue"
    }


def test_standardize_temporaries_are_tiles_not_grids():
    x = wrap(_raw(1000, 1000))
    for fn, params in FUNCTIONS:
        tracemalloc.start()
        out = mcda.standardize(x, fn, **params)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        # the 4 MB float32 output and a few tiles; a float64 copy alone would be 8 MB
        assert peak < out.nbytes + 2_500_000, (fn, peak)


def test_standardize_drops_the_raw_file_encoding():
    x = wrap([[1, 2]], dtype=np.uint8)
    x.encoding = {"dtype": "uint8", "_FillValue": 0}
    out = mcda.standardize(x, "linear", low=0, high=2)
    assert "dtype" not in out.encoding and "_FillValue" not in out.encoding
    assert x.encoding == {"dtype": "uint8", "_FillValue": 0}


# --------------------------------------------------------------------------------------------
# Monte Carlo: the one-pass bracket, its fallbacks and dask
# --------------------------------------------------------------------------------------------
def _criteria(rows=60, cols=50, seed=5):
    g = grid(rows, cols)
    rng = np.random.default_rng(seed)
    crit = {k: g.wrap(rng.uniform(0, 1, g.shape).astype(np.float32), k) for k in ("a", "b", "c")}
    crit["b"][10:14, 5:30] = NAN
    for k in crit:  # a plateau of ties
        crit[k][40:48, 0:20] = 0.7
    return crit


def _brute(crit, w, n, top_q=0.1, **kwargs):
    draws = mcda.sample_weights(w, n, **kwargs).to_numpy(dtype=np.float32)
    stack = np.stack([crit[k].values for k in w])
    valid = ~np.isnan(stack).any(axis=0)
    s = draws @ stack[:, valid]
    return valid, (s >= np.quantile(s, 1 - top_q, axis=1)[:, None]).mean(axis=0)


@pytest.mark.parametrize("top_q", [0.1, 0.3, 0.02])
def test_monte_carlo_bracket_radix_and_missed_bracket_agree(monkeypatch, top_q):
    crit = _criteria()
    w = {"a": 0.5, "b": 0.3, "c": 0.2}
    args = {"n": 40, "concentration": 5.0, "seed": 4, "top_q": top_q}
    # the bracket is taken (the sample has enough valid cells)
    draws = mcda.sample_weights(w, 40, concentration=5.0, seed=4).to_numpy(dtype=np.float32)
    assert mcda._mc_bracket(list(crit.values()), draws, top_q) is not None
    one_pass = mcda.monte_carlo(crit, w, **args)
    valid, p = _brute(crit, w, 40, top_q=top_q, concentration=5.0, seed=4)
    np.testing.assert_array_equal(one_pass["p_top"].values[valid], p.astype(np.float32))
    assert np.isnan(one_pass["p_top"].values[~valid]).all()
    with monkeypatch.context() as m:  # no room for the values near the thresholds: radix
        m.setattr(mcda, "_MC_NEAR_VALUES", 0)
        xr.testing.assert_identical(mcda.monte_carlo(crit, w, **args), one_pass)
    with monkeypatch.context() as m:  # a bracket too narrow to hold the thresholds: radix
        m.setattr(mcda, "_MC_BRACKET_SIGMAS", -50.0)
        xr.testing.assert_identical(mcda.monte_carlo(crit, w, **args), one_pass)
    with monkeypatch.context() as m:  # the kept values overflow half-way through the pass
        m.setattr(mcda, "_MC_NEAR_VALUES", 200)
        m.setattr(mcda, "_mc_bracket", lambda *a: (np.zeros((40, 1), np.float32), np.ones((40, 1), np.float32)))
        xr.testing.assert_identical(mcda.monte_carlo(crit, w, **args), one_pass)


@pytest.mark.parametrize("n", [30, 300])  # 300 draws: per-cell counts beyond uint8
def test_monte_carlo_counts_over_many_tiles_and_float64_moments(monkeypatch, n):
    # tiles of 5 cells: 600 tiles, so the uint8 per-draw counts are summed mid-pass
    monkeypatch.setattr(mcda, "_MC_TILE_VALUES", 5 * n)
    crit = _criteria()
    w = {"a": 0.5, "b": 0.3, "c": 0.2}
    ds = mcda.monte_carlo(crit, w, n=n, concentration=5.0, seed=4)
    valid, p = _brute(crit, w, n, concentration=5.0, seed=4)
    np.testing.assert_array_equal(ds["p_top"].values[valid], p.astype(np.float32))
    # mean and std are those of the draws' values in float64, rounded once to float32
    draws = mcda.sample_weights(w, n, concentration=5.0, seed=4).to_numpy(dtype=np.float32)
    s = draws.astype(np.float64) @ np.stack([crit[k].values[valid] for k in w]).astype(np.float64)
    for key, exact in (("mean", s.mean(axis=0)), ("std", s.std(axis=0))):
        got = ds[key].values[valid]
        assert got.dtype == np.float32
        assert np.abs(got - exact).max() <= np.spacing(exact.astype(np.float32)).max(), key
        assert np.isnan(ds[key].values[~valid]).all()


@pytest.mark.parametrize("ks", [[0, 3], [3700, 3800], [4990, 4999], [3800, 3700]])
def test_row_order_statistics_are_numpys_partition(ks):
    rng = np.random.default_rng(3)
    part = rng.random((12, 5000), dtype=np.float32)
    part[1, :2000] = 0.25  # ties across the window
    part[2] = 0.5  # one value
    part[3, ::8] = 9.0  # the subsample is every 8th value: its window misses the row's ranks
    part[4] = np.sort(part[4])[::-1]
    expected = np.partition(part, ks, axis=1)[:, ks]
    np.testing.assert_array_equal(mcda._row_order_statistics(part, ks), expected)
    small = part[:, :300]  # too few values for a subsample: a plain partition
    expected = np.partition(small, [5, 9], axis=1)[:, [5, 9]]
    np.testing.assert_array_equal(mcda._row_order_statistics(small, [5, 9]), expected)


def test_monte_carlo_threshold_on_a_plateau_of_ties():
    # a third of the valid cells tie at the top: the threshold is their value, hi itself
    g = grid(30, 30)
    base = np.random.default_rng(2).uniform(0, 0.5, g.shape).astype(np.float32)
    base[:10] = 0.9
    crit = {k: g.wrap(base.copy(), k) for k in ("a", "b")}
    ds = mcda.monte_carlo(crit, {"a": 1, "b": 1}, n=20, top_q=0.1, seed=1)
    valid, p = _brute(crit, {"a": 1, "b": 1}, 20, concentration=mcda.MCDA.monte_carlo_concentration, seed=1)
    np.testing.assert_array_equal(ds["p_top"].values[valid], p.astype(np.float32))
    assert (ds["p_top"].values[:10] == 1).all()


def test_monte_carlo_dask_identical_with_the_bracket():
    crit = _criteria()
    w = {"a": 0.2, "b": 0.5, "c": 0.3}
    eager = mcda.monte_carlo(crit, w, n=30, seed=7, block_cells=400)
    lazy = mcda.monte_carlo({k: v.chunk({"y": 17, "x": 23}) for k, v in crit.items()}, w, n=30, seed=7, block_cells=400)
    xr.testing.assert_identical(eager, lazy)
    for key in ("mean", "std", "p_top"):
        assert eager[key].dtype == np.float32


def test_monte_carlo_memory_is_bounded_by_blocks():
    g = grid(500, 500)
    rng = np.random.default_rng(0)
    crit = {k: g.wrap(rng.uniform(0, 1, g.shape).astype(np.float32), k) for k in "abcdef"}
    tracemalloc.start()
    ds = mcda.monte_carlo(crit, dict.fromkeys(crit, 1.0), n=100)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # all draws at once would be 100 MB; the outputs are 3 MB
    assert peak < 40e6, peak
    assert float(np.nansum(ds["p_top"].values)) / 250_000 == pytest.approx(0.1, abs=0.001)


# --------------------------------------------------------------------------------------------
# criteria: percentiles, float32 at the source, masking without copies
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [1, 2, 7, 1000])
@pytest.mark.parametrize("pct", [0.0, 5.0, 37.5, 50.0, 90.0, 95.0, 100.0])
def test_percentile_is_numpys_without_a_float64_grid(size, pct):
    values = np.random.default_rng(size).gamma(2.0, 10.0, size).astype(np.float32)
    layer = wrap(values)
    expected = float(np.percentile(values.astype(np.float64), pct))
    assert criteria._percentile(layer, None, pct) == expected
    ints = wrap((values * 3).astype(np.int32), dtype=np.int32)
    assert criteria._percentile(ints, None, pct) == float(np.percentile((values * 3).astype(np.int32), pct))


def test_percentile_over_the_reference_only():
    values = np.arange(20, dtype=np.float32)
    values[3] = NAN
    reference = wrap(np.arange(20) >= 10, dtype=bool)
    assert criteria._percentile(wrap(values), reference, 50) == 14.5
    assert criteria._percentile(wrap(values), None, 0) == 0.0


def test_build_keeps_float_layers_float32_and_masks_off_the_land():
    g = grid(40, 30)
    roles = np.full(g.shape, ROLE_CODE["cropland"], dtype=np.uint8)
    roles[:5] = ROLE_CODE["nodata"]
    raw64 = g.wrap(np.random.default_rng(0).uniform(0, 60, g.shape), "slope")  # float64
    ctx = criteria.Context(
        grid=g,
        roles=g.wrap(roles, "roles"),
        fringe=g.wrap(np.full(g.shape, 2, dtype=np.uint8), "fringe"),
        rasters={"slope": raw64},
    )
    built = criteria.build(
        {"landcover": Criterion(weight=1.0), "slope": Criterion(weight=1.0, fn="linear", low=0, high="p90")},
        {"landcover": 1.0, "slope": 1.0},
        ctx,
    )
    assert built.raw["slope"].dtype == np.float32
    assert {k: v.dtype for k, v in built.standard.items()} == {"landcover": np.float32, "slope": np.float32}
    for layer in (built.raw["slope"], *built.standard.values()):
        assert np.isnan(layer.values[:5]).all() and not np.isnan(layer.values[5:]).any()
    assert not np.isnan(raw64.values).any()  # the input is untouched
    high = float(np.percentile(raw64.values.astype(np.float32).astype(np.float64), 90))
    expected = mcda.standardize(raw64.astype(np.float32), "linear", low=0.0, high=high).values[5:]
    np.testing.assert_array_equal(built.standard["slope"].values[5:], expected)


def test_on_land_copies_only_when_it_must():
    g = grid(4, 4)
    land = g.wrap(np.arange(16).reshape(4, 4) >= 4, "land")
    layer = g.wrap(np.ones((4, 4), dtype=np.float32), "c")
    values = layer.values
    masked = criteria.on_land(layer, land)
    assert masked is not layer and not np.isnan(values).any()  # a copy: the input is kept
    assert np.isnan(masked.values[0]).all() and (masked.values[1:] == 1).all()
    assert criteria.on_land(masked, land) is masked  # already masked: as it is
    in_place = criteria.on_land(layer, land, in_place=True)
    assert in_place is layer and np.isnan(values[0]).all()
    lazy = criteria.on_land(g.wrap(np.ones((4, 4), dtype=np.float32), "c").chunk({"y": 2}), land)
    np.testing.assert_array_equal(lazy.values, masked.values)


def test_equal_access_float32_dask_and_the_formula():
    g = grid(50, 40)
    rng = np.random.default_rng(4)
    tm = rng.uniform(0, 90, g.shape).astype(np.float32)
    tr = rng.uniform(0, 90, g.shape).astype(np.float32)
    tm[3, 4] = NAN
    market, material = g.wrap(tm, "m"), g.wrap(tr, "r")
    got = criteria.equal_access(market, material, horizon=60)
    a, b = tm.astype(np.float64), tr.astype(np.float64)
    expected = np.clip(1 - np.maximum(a, b) / 60, 0, 1) * (1 - np.abs(a - b) / (a + b + 1))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.values, expected, rtol=0, atol=3e-7)
    assert np.isnan(got.values[3, 4])
    lazy = criteria.equal_access(market.chunk({"y": 13}), material.chunk({"y": 13}), horizon=60)
    assert lazy.chunks is not None
    np.testing.assert_array_equal(lazy.values, got.values)


@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")
def test_nanmean_of_the_materials():
    rng = np.random.default_rng(8)
    layers = [rng.uniform(0, 60, (300, 200)).astype(np.float32) for _ in range(3)]
    layers[0][:10] = NAN
    layers[1][:5] = NAN
    layers[2][:5] = NAN
    got = criteria._nanmean(layers)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, np.nanmean(np.stack(layers).astype(np.float64), axis=0), rtol=1e-6)
    assert np.isnan(got[:5]).all() and not np.isnan(got[5:]).any()


@pytest.mark.parametrize("k", [2, 3, 5, 7, 12])
def test_piecewise_is_interp_exact_at_the_control_points(k):
    rng = np.random.default_rng(k)
    xs = np.sort(rng.choice(np.arange(0, 60, 0.5), k, replace=False))
    ys = rng.uniform(0, 1, k).round(3)
    raw = _raw(200, 200, seed=k)
    raw[1, :k] = xs  # exactly on the control points
    out = mcda.standardize(wrap(raw), "piecewise", points=np.stack([xs, ys], axis=1).tolist()).values
    expected = np.where(np.isnan(raw), np.nan, np.interp(raw.astype(np.float64), xs, ys))
    np.testing.assert_allclose(out, expected, rtol=0, atol=3e-7)
    np.testing.assert_array_equal(out[1, :k], ys.astype(np.float32))
    np.testing.assert_array_equal(np.isnan(out), np.isnan(raw))
