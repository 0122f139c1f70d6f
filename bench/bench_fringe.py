"""Degree of Urbanisation on a 10,000 x 10,000 population grid at 100 m (a 1,000 km square).

Measures :func:`eicgeo.fringe.degurba` (1 km block sums, stage I and II, codes back on the 100 m
grid) against, in the same run:

* the obvious alternative: the same rules after an xarray ``coarsen(...).sum()`` aggregation
  with the codes copied back by ``np.kron`` (what one would write first);
* a floor: a single ``scipy.ndimage.label`` of the 100 m cells at 15 people per cell
  (1,500 inh/km²), the cheapest step any contiguity rule on this grid needs.

Target: ``degurba`` under 20 s on 2 cores (ARCHITECTURE / issue 5). The population is synthetic
but city-like: 60 cities and 600 towns with exponential density profiles (Clark's law), a rural
background, two lakes without data, and lognormal noise per 100 m cell. It is written to
``bench/data/population_10k.npy`` once and reused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from _common import best_of, report
from affine import Affine
from scipy import ndimage

from eicgeo import fringe
from eicgeo.grid import Grid

N = 10_000  # cells per side
RES = 100.0  # metres
DATA = Path(__file__).resolve().parent / "data" / "population_10k.npy"


def population() -> np.ndarray:
    """People per 100 m cell (float32, NaN on the lakes), generated once."""
    if DATA.is_file():
        return np.load(DATA)
    rng = np.random.default_rng(20261129)
    km = N // 10
    y, x = np.mgrid[0:km, 0:km].astype(np.float32)
    density = rng.lognormal(np.log(25.0), 0.6, (km, km)).astype(np.float32)  # rural, inh/km²
    for n, peak, scale in ((60, (8_000, 25_000), (2.0, 6.0)), (600, (1_500, 5_000), (0.5, 1.5))):
        for cx, cy, d0, b in zip(
            rng.uniform(0, km, n), rng.uniform(0, km, n), rng.uniform(*peak, n), rng.uniform(*scale, n), strict=True
        ):
            r = int(8 * b) + 1  # the profile is negligible beyond 8 scale lengths
            x0, x1, y0, y1 = max(0, int(cx) - r), min(km, int(cx) + r), max(0, int(cy) - r), min(km, int(cy) + r)
            dist = np.hypot(x[y0:y1, x0:x1] - cx, y[y0:y1, x0:x1] - cy)
            density[y0:y1, x0:x1] += d0 * np.exp(-dist / b)
    out = np.empty((N, N), dtype=np.float32)
    for top in range(0, N, 1000):  # 100 m cells: the block's people spread with lognormal noise
        coarse = np.repeat(np.repeat(density[top // 10 : top // 10 + 100], 10, axis=0), 10, axis=1)
        noise = rng.lognormal(-0.5, 1.0, coarse.shape).astype(np.float32)  # mean 1
        out[top : top + 1000] = coarse / 100.0 * noise
    for cx, cy, r in ((2_500, 7_000, 120), (7_800, 2_200, 80)):  # lakes, in 100 m cells
        yy, xx = np.ogrid[cy - r : cy + r, cx - r : cx + r]
        out[cy - r : cy + r, cx - r : cx + r][(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = np.nan
    DATA.parent.mkdir(exist_ok=True)
    np.save(DATA, out)
    return out


def coarsen_alternative(layer: xr.DataArray) -> np.ndarray:
    """The same rules after xarray's coarsen().sum(), codes copied back with np.kron."""
    people = layer.coarsen(y=10, x=10).sum().values  # NaN skipped (the default for floats)
    codes = fringe.smod_codes(people, area_km2=1.0)
    return np.kron(codes, np.ones((10, 10), dtype=np.uint8))[:N, :N]


def label_floor(values: np.ndarray) -> int:
    """One connected-component labelling of the dense 100 m cells."""
    _, n = ndimage.label(values >= 15.0)
    return n


def main() -> None:
    values = population()
    grid = Grid("EPSG:3035", Affine(RES, 0, 4_000_000, 0, -RES, 3_000_000), (N, N))
    layer = grid.wrap(values, "population")
    repeat = 2

    t_eic, smod = best_of(lambda: fringe.degurba(layer), repeat)
    t_alt, alt = best_of(lambda: coarsen_alternative(layer), repeat)
    t_floor, n_labels = best_of(lambda: label_floor(values), repeat)
    agree = float((smod.values == alt)[np.isfinite(values)].mean())
    counts = {int(k): int(c) for k, c in zip(*np.unique(smod.values[::10, ::10], return_counts=True), strict=True)}
    rows = [
        {"method": "eicgeo fringe.degurba", "seconds": t_eic, "ratio": 1.0, "target_s": 20, "meets": t_eic < 20},
        {"method": "xarray coarsen + same rules + np.kron", "seconds": t_alt, "ratio": t_alt / t_eic},
        {"method": "floor: one ndimage.label at 100 m", "seconds": t_floor, "ratio": t_floor / t_eic},
    ]
    report(
        "fringe",
        rows,
        grid=f"{N} x {N} cells at {RES:g} m",
        people=float(np.nansum(values, dtype=np.float64)),
        km2_per_class=counts,
        agreement_with_alternative=agree,
        dense_components_100m=n_labels,
        repeat=repeat,
    )


if __name__ == "__main__":
    main()
