"""Draw the plots of docs/mcda.md: one small PNG per standardisation function.

Run from the repository root: ``.venv/bin/python docs/make_figures.py``. The curves come from
``eicgeo.mcda.standardize`` itself, so the plots show what the code does.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from eicgeo import mcda
from eicgeo.scenario import Scenario

OUT = Path(__file__).resolve().parent / "img"

#: (file, title, x label, x range, [(label, fn, params), ...], control points to mark)
FIGURES = [
    (
        "linear",
        "linear(low=10, high=40)",
        "minutes",
        (0, 50),
        [
            ("increasing", "linear", {"low": 10, "high": 40}),
            ("increasing=False", "linear", {"low": 10, "high": 40, "increasing": False}),
        ],
        [10, 40],
    ),
    (
        "logistic",
        "logistic(midpoint=30, spread=5)",
        "minutes",
        (0, 60),
        [
            ("growth", "logistic", {"midpoint": 30, "spread": 5}),
            ("decay (increasing=False)", "logistic", {"midpoint": 30, "spread": 5, "increasing": False}),
        ],
        [30],
    ),
    (
        "sigmoid",
        "sigmoid (IDRISI): a=10, b=20, c=35, d=50",
        "x",
        (0, 60),
        [
            ("symmetric a, b, c, d", "sigmoid", {"a": 10, "b": 20, "c": 35, "d": 50}),
            ("increasing a, b", "sigmoid", {"a": 10, "b": 20}),
            ("decreasing c, d", "sigmoid", {"c": 35, "d": 50}),
        ],
        [10, 20, 35, 50],
    ),
    (
        "jshaped",
        "jshaped (IDRISI): a=10, b=20, c=35, d=50",
        "x",
        (0, 60),
        [
            ("symmetric a, b, c, d", "jshaped", {"a": 10, "b": 20, "c": 35, "d": 50}),
            ("increasing a, b", "jshaped", {"a": 10, "b": 20}),
            ("decreasing c, d", "jshaped", {"c": 35, "d": 50}),
        ],
        [10, 20, 35, 50],
    ),
    (
        "symmetric_linear",
        "symmetric_linear (IDRISI linear): a=10, b=20, c=35, d=50",
        "x",
        (0, 60),
        [
            ("symmetric a, b, c, d", "symmetric_linear", {"a": 10, "b": 20, "c": 35, "d": 50}),
            ("increasing a, b", "symmetric_linear", {"a": 10, "b": 20}),
        ],
        [10, 20, 35, 50],
    ),
    (
        "gaussian",
        "gaussian(target=30, spread=8)",
        "x",
        (0, 60),
        [("gaussian", "gaussian", {"target": 30, "spread": 8})],
        [22, 30, 38],
    ),
    (
        "piecewise",
        "piecewise(points=[[0, 1], [15, 0.9], [30, 0.3], [45, 0]])",
        "minutes",
        (-5, 55),
        [("piecewise", "piecewise", {"points": [[0, 1], [15, 0.9], [30, 0.3], [45, 0]]})],
        [0, 15, 30, 45],
    ),
]


def curve(fn: str, params: dict, x: np.ndarray) -> np.ndarray:
    layer = xr.DataArray(x[None, :], dims=("y", "x"), name="x")
    return np.asarray(mcda.standardize(layer, fn, **params).values)[0]


def small_axes(title: str, xlabel: str):
    fig, ax = plt.subplots(figsize=(4.2, 2.4), dpi=80)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel("suitability", fontsize=8)
    ax.set_ylim(-0.05, 1.05)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    return fig, ax


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, title, xlabel, (x0, x1), lines, marks in FIGURES:
        x = np.linspace(x0, x1, 601)
        fig, ax = small_axes(title, xlabel)
        for k, (label, fn, params) in enumerate(lines):
            # the one-sided variants are dashed over the first curve, which they partly share
            ax.plot(x, curve(fn, params, x), label=label, lw=2.6 if k == 0 else 1.2, ls="-" if k == 0 else "--")
        for m in marks:
            ax.axvline(m, color="grey", lw=0.6, ls=":")
        if len(lines) > 1:
            ax.legend(fontsize=6.5, loc="best")
        fig.tight_layout()
        fig.savefig(OUT / f"{name}.png")
        plt.close(fig)
    # categorical: a bar per land-cover role
    # the balanced preset's land-cover scores
    preset = Scenario.from_dict({"inputs": {"landcover": "unused.tif"}}, check_files=False)
    scores = preset.criteria["landcover"].params["scores"]
    fig, ax = small_axes("categorical(scores={role: score})", "land-cover role")
    ax.bar(range(len(scores)), list(scores.values()), color="#4c72b0")
    ax.set_xticks(range(len(scores)), list(scores), rotation=30, ha="right", fontsize=6.5)
    fig.tight_layout()
    fig.savefig(OUT / "categorical.png")
    plt.close(fig)
    # OWA order weights from the risk parameter alpha
    fig, ax = small_axes("OWA order weights v_j = (j/n)^α − ((j−1)/n)^α, n = 5", "order position j (1 = best value)")
    j = np.arange(1, 6)
    for k, alpha in enumerate((0.3, 1.0, 3.0)):
        v = mcda.order_weights_from_alpha(5, alpha)
        orness = mcda.owa_measures(v)["orness"]
        ax.bar(j + (k - 1) * 0.27, v, width=0.27, label=f"α = {alpha:g} (ORness {orness:.2f})")
    ax.set_ylabel("order weight", fontsize=8)
    ax.legend(fontsize=6.5)
    fig.tight_layout()
    fig.savefig(OUT / "owa_alpha.png")
    plt.close(fig)


if __name__ == "__main__":
    main()
