"""Multi-criteria decision analysis: standardisation, weights, combination, constraints and
Monte Carlo weight uncertainty.

Every function takes and returns :class:`xarray.DataArray` layers on one grid, keeps NaN as
nodata and works the same whether the arrays are numpy- or dask-backed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from eicgeo._errors import GridMismatchError, InputError
from eicgeo._validate import did_you_mean
from eicgeo.grid import Grid

__all__ = [
    "RANDOM_INDEX",
    "STANDARDIZERS",
    "AHPResult",
    "ahp_weights",
    "combine",
    "exclude",
    "monte_carlo",
    "normalize_weights",
    "rank_weights",
    "sample_weights",
    "standardize",
]


# --------------------------------------------------------------------------------------------
# standardisation
# --------------------------------------------------------------------------------------------
def _linear(x, *, low: float, high: float, increasing: bool = True):
    _ordered("linear", low=low, high=high)
    y = (x - low) / (high - low)
    return y if increasing else 1.0 - y


def _sigmoid(x, *, midpoint: float, spread: float, increasing: bool = True):
    if spread <= 0:
        msg = f"sigmoid spread must be > 0, got {spread}"
        raise InputError(msg)
    z = (x - midpoint) / spread
    if not increasing:
        z = -z
    return 1.0 / (1.0 + np.exp(-z))


def _gaussian(x, *, target: float, spread: float):
    if spread <= 0:
        msg = f"gaussian spread must be > 0, got {spread}"
        raise InputError(msg)
    return np.exp(-0.5 * ((x - target) / spread) ** 2)


def _jshaped(x, *, a: float | None = None, b: float | None = None, c: float | None = None, d: float | None = None):
    """IDRISI FUZZY J-shaped: rises through a (0.5) to b (1), falls from c (1) through d (0.5)."""
    _ordered("jshaped", a=a, b=b, c=c, d=d)
    y = xr.ones_like(x)
    if a is not None and b is not None:
        y = xr.where(x < b, 1.0 / (1.0 + ((x - b) / (b - a)) ** 2), y)
    if c is not None and d is not None:
        y = xr.where(x > c, 1.0 / (1.0 + ((x - c) / (d - c)) ** 2), y)
    return y


def _symmetric_linear(x, *, a: float, b: float, c: float, d: float):
    """Trapezoid: 0 below a, rising to 1 at b, 1 until c, falling to 0 at d."""
    _ordered("symmetric_linear", a=a, b=b, c=c, d=d)
    rise = (x - a) / (b - a) if b > a else 1.0
    fall = (d - x) / (d - c) if d > c else 1.0
    return np.minimum(rise, fall)


def _piecewise(x, *, points: Sequence[Sequence[float]]):
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2:
        msg = f"piecewise points must be at least two (x, y) pairs, got {points!r}"
        raise InputError(msg)
    if np.any(np.diff(pts[:, 0]) <= 0):
        msg = f"piecewise points must have strictly increasing x, got {pts[:, 0].tolist()}"
        raise InputError(msg)
    return xr.apply_ufunc(
        lambda v: np.where(np.isnan(v), np.nan, np.interp(v, pts[:, 0], pts[:, 1])),
        x,
        dask="parallelized",
        output_dtypes=[np.float64],
    )


def _categorical(x, *, scores: Mapping[Any, float], default: float = np.nan):
    codes = {int(k): float(v) for k, v in scores.items()}
    size = max([*codes, 0]) + 1
    table = np.full(size, default, dtype=np.float64)
    for k, v in codes.items():
        table[k] = v

    def lookup(v):
        v = np.asarray(v)
        inside = (v >= 0) & (v < size)
        return np.where(inside, table[np.where(inside, v, 0).astype(np.int64)], default)

    return xr.apply_ufunc(lookup, x, dask="parallelized", output_dtypes=[np.float64])


def _ordered(fn: str, **params: float | None) -> None:
    given = [(k, v) for k, v in params.items() if v is not None]
    for (k1, v1), (k2, v2) in itertools.pairwise(given):
        if v1 > v2 or (fn == "linear" and v1 == v2):
            msg = f"{fn} parameters out of order: {k1}={v1} must be {'<' if fn == 'linear' else '<='} {k2}={v2}"
            raise InputError(msg)


#: Standardisation functions by name.
STANDARDIZERS: dict[str, Callable[..., Any]] = {
    "linear": _linear,
    "sigmoid": _sigmoid,
    "gaussian": _gaussian,
    "jshaped": _jshaped,
    "symmetric_linear": _symmetric_linear,
    "piecewise": _piecewise,
    "categorical": _categorical,
}


def standardize(layer: xr.DataArray, fn: str, **params: Any) -> xr.DataArray:
    """Rescale a criterion layer to suitability 0..1 (float32, NaN kept).

    Parameters
    ----------
    layer : DataArray
        Raw criterion values (minutes, class codes, ...).
    fn : str
        One of :data:`STANDARDIZERS`:

        * ``linear(low, high, increasing=True)``: ``(x - low) / (high - low)``, clipped;
        * ``sigmoid(midpoint, spread, increasing=True)``: ``1 / (1 + exp(-(x - midpoint) / spread))``;
        * ``gaussian(target, spread)``: ``exp(-((x - target) / spread)² / 2)``;
        * ``jshaped(a, b, c, d)``: IDRISI J-shaped fuzzy membership (0.5 at a and d, 1 on b..c);
        * ``symmetric_linear(a, b, c, d)``: 0 at a, 1 on b..c, 0 at d;
        * ``piecewise(points=[[x, y], ...])``: linear through control points;
        * ``categorical(scores={code: score}, default=nan)``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> minutes = xr.DataArray(np.array([[0.0, 15.0], [30.0, np.nan]]), dims=("y", "x"))
    >>> standardize(minutes, "linear", low=0, high=30, increasing=False).values.tolist()
    [[1.0, 0.5], [0.0, nan]]
    """
    if fn not in STANDARDIZERS:
        msg = (
            f"standardisation function {fn!r} is not one of {', '.join(STANDARDIZERS)}{did_you_mean(fn, STANDARDIZERS)}"
        )
        raise InputError(msg)
    try:
        out = STANDARDIZERS[fn](layer.astype(np.float64) if fn != "categorical" else layer, **params)
    except TypeError as err:
        msg = f"standardisation {fn!r} of layer {layer.name!r}: bad parameters {params}: {err}"
        raise InputError(msg) from err
    out = xr.where(layer.notnull(), out, np.nan) if fn != "categorical" else out
    out = out.clip(0.0, 1.0).astype(np.float32)
    out.name = layer.name
    out.attrs = {**layer.attrs, "standardisation": fn, "parameters": repr(params), "units": "0..1"}
    return _georef_like(out, layer)


def _georef_like(out: xr.DataArray, like: xr.DataArray) -> xr.DataArray:
    """Georeference ``out`` like ``like`` when ``like`` has a CRS (plain arrays stay plain)."""
    return Grid.from_dataarray(like).georef(out) if like.rio.crs is not None else out


# --------------------------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------------------------
def normalize_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Scale weights to sum to 1.

    Examples
    --------
    >>> normalize_weights({"a": 2, "b": 1, "c": 1})
    {'a': 0.5, 'b': 0.25, 'c': 0.25}
    """
    if not weights:
        msg = "weights are empty; expected at least one criterion weight"
        raise InputError(msg)
    values = {}
    for name, w in weights.items():
        try:
            values[name] = float(w)
        except (TypeError, ValueError) as err:
            msg = f"weight of criterion {name!r} is not a number: {w!r}"
            raise InputError(msg) from err
        if not np.isfinite(values[name]) or values[name] < 0:
            msg = f"weight of criterion {name!r} must be a number >= 0, got {w!r}"
            raise InputError(msg)
    total = sum(values.values())
    if total <= 0:
        msg = f"weights {dict(weights)} are all zero; at least one must be > 0"
        raise InputError(msg)
    return {k: v / total for k, v in values.items()}


def rank_weights(names: Sequence[str], method: str = "sum") -> dict[str, float]:
    """Weights from a ranking, most important first: rank sum or rank reciprocal.

    Examples
    --------
    >>> rank_weights(["a", "b", "c"], "sum")
    {'a': 0.5, 'b': 0.3333333333333333, 'c': 0.16666666666666666}
    """
    n = len(names)
    ranks = np.arange(1, n + 1, dtype=float)
    if method == "sum":
        raw = n - ranks + 1
    elif method == "reciprocal":
        raw = 1.0 / ranks
    else:
        msg = f"rank weight method {method!r} is not 'sum' or 'reciprocal'"
        raise InputError(msg)
    return dict(zip(names, (raw / raw.sum()).tolist(), strict=True))


#: Saaty's random consistency index by matrix order.
RANDOM_INDEX: dict[int, float] = {
    1: 0.0,
    2: 0.0,
    3: 0.58,
    4: 0.90,
    5: 1.12,
    6: 1.24,
    7: 1.32,
    8: 1.41,
    9: 1.45,
    10: 1.49,
    11: 1.51,
    12: 1.48,
    13: 1.56,
    14: 1.57,
    15: 1.59,
}


@dataclass(frozen=True)
class AHPResult:
    """Weights of an AHP pairwise comparison and their consistency."""

    weights: dict[str, float]
    lambda_max: float
    consistency_index: float
    consistency_ratio: float

    @property
    def consistent(self) -> bool:
        """Saaty's rule: a consistency ratio of at most 0.10 is acceptable."""
        return self.consistency_ratio <= 0.10


def ahp_weights(matrix: Any, labels: Sequence[str] | None = None) -> AHPResult:
    """AHP weights from a pairwise comparison matrix on Saaty's 1-9 scale.

    ``matrix[i][j]`` says how much more important criterion ``i`` is than ``j``; the matrix must
    be square, positive and reciprocal (``m[j][i] == 1 / m[i][j]``). Weights are the normalised
    principal eigenvector; ``CI = (lambda_max - n) / (n - 1)`` and ``CR = CI / RI(n)``.

    Examples
    --------
    >>> r = ahp_weights([[1, 3], [1/3, 1]], ["roads", "land"])
    >>> {k: round(v, 3) for k, v in r.weights.items()}, r.consistency_ratio
    ({'roads': 0.75, 'land': 0.25}, 0.0)
    """
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 1:
        msg = f"AHP matrix must be square, got shape {m.shape}"
        raise InputError(msg)
    n = m.shape[0]
    labels = list(labels) if labels is not None else [f"c{i + 1}" for i in range(n)]
    if len(labels) != n:
        msg = f"AHP matrix is {n}x{n} but {len(labels)} labels were given"
        raise InputError(msg)
    if np.any(~np.isfinite(m)) or np.any(m <= 0):
        msg = "AHP matrix entries must be finite and > 0 (Saaty's scale 1/9..9)"
        raise InputError(msg)
    bad = np.argwhere(~np.isclose(m * m.T, 1.0, rtol=1e-3))
    if bad.size:
        i, j = bad[0]
        msg = (
            f"AHP matrix is not reciprocal: [{labels[i]}, {labels[j]}] = {m[i, j]:g} but "
            f"[{labels[j]}, {labels[i]}] = {m[j, i]:g}; expected {1 / m[i, j]:g}"
        )
        raise InputError(msg)
    values, vectors = np.linalg.eig(m)
    k = int(np.argmax(values.real))
    w = np.abs(vectors[:, k].real)
    w = w / w.sum()
    lambda_max = float(values[k].real)
    ci = (lambda_max - n) / (n - 1) if n > 2 else 0.0
    ri = RANDOM_INDEX.get(n, 1.59)
    cr = ci / ri if ri > 0 else 0.0
    return AHPResult(dict(zip(labels, w.tolist(), strict=True)), lambda_max, float(max(ci, 0.0)), float(max(cr, 0.0)))


# --------------------------------------------------------------------------------------------
# combination
# --------------------------------------------------------------------------------------------
def _aligned(
    criteria: Mapping[str, xr.DataArray] | xr.Dataset, weights: Mapping[str, float]
) -> tuple[list[str], list[xr.DataArray], np.ndarray]:
    layers = dict(criteria.data_vars) if isinstance(criteria, xr.Dataset) else dict(criteria)
    missing = [k for k in weights if k not in layers]
    if missing:
        msg = (
            f"weight given for criterion {missing[0]!r}, which does not exist; criteria are "
            f"{', '.join(layers)}{did_you_mean(missing[0], layers)}"
        )
        raise InputError(msg)
    w = normalize_weights(weights)
    names = [k for k in w if w[k] > 0]
    arrays = [layers[k] for k in names]
    first = arrays[0]
    for name, layer in zip(names[1:], arrays[1:], strict=True):
        if layer.shape != first.shape:
            msg = (
                f"criterion {name!r} has shape {layer.shape}, but {names[0]!r} has {first.shape}; "
                "criteria must share one grid"
            )
            raise GridMismatchError(msg)
        if first.rio.crs is not None and layer.rio.crs is not None:
            Grid.from_dataarray(first).check(layer, f"criterion {name!r}")
    for name, layer in zip(names, arrays, strict=True):
        if not bool(layer.notnull().any()):
            msg = f"criterion {name!r} is NaN everywhere"
            raise InputError(msg)
    return names, arrays, np.array([w[k] for k in names])


def combine(
    criteria: Mapping[str, xr.DataArray] | xr.Dataset,
    weights: Mapping[str, float],
    method: str = "wlc",
    order_weights: Sequence[float] | None = None,
) -> xr.DataArray:
    """Combine standardised criteria into suitability 0..1.

    ``wlc``: weighted linear combination ``sum(w_i * c_i)`` with weights normalised to 1.
    ``owa``: ordered weighted average (Yager; with criterion weights as in Malczewski 2006):
    in each cell the criteria are sorted in descending order and
    ``sum(u_j v_j z_j) / sum(u_j v_j)``, where ``z_j`` are the sorted values, ``u_j`` their
    criterion weights and ``v_j`` the order weights. Equal order weights give WLC.
    A cell where any weighted criterion is NaN is NaN.
    """
    names, arrays, w = _aligned(criteria, weights)
    stack = xr.concat([a.astype(np.float32) for a in arrays], dim=pd.Index(names, name="criterion"))
    if method == "wlc":
        weights_da = xr.DataArray(w.astype(np.float32), dims="criterion", coords={"criterion": names})
        out = (stack * weights_da).sum("criterion", skipna=False)
    elif method == "owa":
        v = np.full(len(names), 1.0 / len(names)) if order_weights is None else np.asarray(order_weights, dtype=float)
        if v.shape != (len(names),) or np.any(v < 0) or v.sum() <= 0:
            msg = f"OWA order_weights must be {len(names)} numbers >= 0 (one per criterion), got {order_weights!r}"
            raise InputError(msg)
        v = v / v.sum()
        if stack.chunks is not None:
            # OWA sorts across criteria in each cell, so a dask block must hold every criterion.
            stack = stack.chunk({"criterion": -1})
        out = xr.apply_ufunc(
            _owa,
            stack,
            kwargs={"u": w, "v": v},
            input_core_dims=[["criterion"]],
            dask="parallelized",
            output_dtypes=[np.float32],
        )
    else:
        msg = f"combination method {method!r} is not 'wlc' or 'owa'"
        raise InputError(msg)
    out = out.clip(0.0, 1.0).astype(np.float32)
    out.name = "suitability"
    out.attrs = {"method": method, "weights": repr(dict(zip(names, w.round(6).tolist(), strict=True))), "units": "0..1"}
    return _georef_like(out, arrays[0])


def _owa(z: np.ndarray, *, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    order = np.argsort(-z, axis=-1, kind="stable")
    zs = np.take_along_axis(z, order, axis=-1)
    us = u[order]
    uv = us * v
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (uv * zs).sum(axis=-1) / uv.sum(axis=-1)
    out[np.isnan(z).any(axis=-1)] = np.nan
    return out.astype(np.float32)


# --------------------------------------------------------------------------------------------
# constraints
# --------------------------------------------------------------------------------------------
def exclude(reasons: Sequence[tuple[int, xr.DataArray]], like: xr.DataArray) -> xr.DataArray:
    """Exclusion layer: the first reason code that applies in each cell, 0 where allowed.

    ``reasons`` is a sequence of ``(code, mask)`` pairs in priority order; ``mask`` is a boolean
    layer on the grid of ``like``.
    """
    out = xr.zeros_like(like, dtype=np.uint8)
    for code, mask in reversed(list(reasons)):
        out = xr.where(mask.astype(bool), np.uint8(code), out)
    out = out.astype(np.uint8)
    out.name = "excluded"
    return _georef_like(out, like)


# --------------------------------------------------------------------------------------------
# uncertainty
# --------------------------------------------------------------------------------------------
def sample_weights(
    weights: Mapping[str, float], n: int, *, concentration: float = 100.0, seed: int | None = 0
) -> pd.DataFrame:
    """``n`` weight vectors drawn from a Dirichlet distribution centred on ``weights``.

    ``alpha = concentration * w``: the mean of each column is its normalised weight, and larger
    ``concentration`` draws tighter around it. Rows sum to 1; columns are the criterion names.
    Zero weights stay zero.
    """
    w = normalize_weights(weights)
    names = [k for k in w if w[k] > 0]
    rng = np.random.default_rng(seed)
    draws = rng.dirichlet(np.maximum(np.array([w[k] for k in names]) * concentration, 1e-6), size=n)
    out = pd.DataFrame(draws, columns=names)
    for k in w:
        if k not in out:
            out[k] = 0.0
    return out[list(w)]


def monte_carlo(
    criteria: Mapping[str, xr.DataArray] | xr.Dataset,
    weights: Mapping[str, float],
    n: int = 100,
    *,
    concentration: float = 100.0,
    top_q: float = 0.10,
    seed: int = 0,
) -> xr.Dataset:
    """Suitability under uncertain weights.

    Weights are drawn ``n`` times from a Dirichlet distribution centred on ``weights``
    (``alpha = concentration * w``; larger is tighter) and combined by WLC. Returns ``mean`` and
    ``std`` of suitability and ``p_top``: the share of draws in which a cell is in the top
    ``top_q`` of the valid cells.
    """
    names, arrays, w = _aligned(criteria, weights)
    if n < 1:
        msg = f"monte_carlo n must be >= 1, got {n}"
        raise InputError(msg)
    draws = sample_weights(dict(zip(names, w, strict=True)), n, concentration=concentration, seed=seed).to_numpy()
    stack = np.stack([np.asarray(a.values, dtype=np.float32) for a in arrays])
    valid = ~np.isnan(stack).any(axis=0)
    values = stack[:, valid]
    total = np.zeros(values.shape[1], dtype=np.float64)
    total_sq = np.zeros_like(total)
    top = np.zeros_like(total)
    for draw in draws:
        s = draw.astype(np.float32) @ values
        total += s
        total_sq += s.astype(np.float64) ** 2
        top += s >= np.quantile(s, 1.0 - top_q)
    mean = total / n
    std = np.sqrt(np.maximum(total_sq / n - mean**2, 0.0))
    like = arrays[0]
    out = {}
    for key, vals in (("mean", mean), ("std", std), ("p_top", top / n)):
        full = np.full(like.shape, np.nan, dtype=np.float32)
        full[valid] = vals
        out[key] = like.copy(data=full)
        out[key].name = key
    ds = xr.Dataset(out)
    ds.attrs = {"n": n, "concentration": concentration, "top_q": top_q, "seed": seed}
    return ds
