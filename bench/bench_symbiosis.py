"""Symbiosis speed: optimal by-product allocation and the symbiosis_potential surface.

What it measures, each against the obvious alternative in the same run:

* The allocation inside ``symbiosis.match`` (two HiGHS linear programmes per material: the most
  tonnes, then the fewest tonne-km; nearest first when one supplier or one user is the only hub)
  against networkx's ``max_flow_min_cost`` on the same
  supplier-user pairs (integer tonnes and distances in 100 m, as networkx needs), on generated
  registers of 300, 1,000 and 3,000 firms in a 100 x 100 km region. The two must move the same
  tonnes with the same tonne-km (up to the 100 m rounding). The whole ``match`` call is timed too.
  Target: ``match`` of 1,000 firms under 5 s; the LPs no slower than networkx.
* ``symbiosis.potential`` (FFT disc sum) on a 1,000 x 1,000 grid of 100 m with 500 firms with
  unmatched output, against a k-d tree query of every cell centre
  (``cKDTree.query_ball_point`` and a sum). Target: 10x faster, same values.

The registers are generated in memory (seeded) from the synergy table; nothing is written to
``bench/data``. Run: ``.venv/bin/python bench/bench_symbiosis.py``.
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
from _common import best_of, report
from scipy.spatial import cKDTree
from shapely.geometry import Point

from eicgeo import materials, symbiosis
from eicgeo.grid import Grid
from eicgeo.materials import SYNERGIES

X0, Y0 = 600_000.0, 1_600_000.0


def register(n: int, seed: int = 0) -> gpd.GeoDataFrame:
    """``n`` firms, each a supplier or a user of one material of a random synergy-table row."""
    rng = np.random.default_rng(seed)
    rows = SYNERGIES.iloc[rng.integers(0, len(SYNERGIES), n)]
    supplier = rng.random(n) < 0.5
    tonnes = rng.integers(100, 10_000, n)
    return gpd.GeoDataFrame(
        {
            "firm_id": [f"F{i:05d}" for i in range(n)],
            "sector": np.where(supplier, rows["from_sector"], rows["to_sector"]),
            "inputs": [f"{m}:{t}" if not s else "" for m, t, s in zip(rows["material"], tonnes, supplier, strict=True)],
            "outputs": [f"{m}:{t}" if s else "" for m, t, s in zip(rows["material"], tonnes, supplier, strict=True)],
        },
        geometry=[Point(X0 + x, Y0 + y) for x, y in rng.random((n, 2)) * 100_000],
        crs="EPSG:32647",
    )


def problems(firms: gpd.GeoDataFrame) -> list[tuple]:
    """The transportation problem of each material, as ``match`` builds it."""
    kinds = {"byproduct", "energy", "emission"}
    xy = symbiosis._xy(firms)
    vocab = materials.BUILTIN
    supply = symbiosis._flows(firms, "outputs", kinds, vocab)
    demand = symbiosis._flows(firms, "inputs", kinds, vocab)
    out = []
    for material in sorted(set(supply["material"]) & set(demand["material"])):
        s, d = supply[supply["material"] == material], demand[demand["material"] == material]
        limit = min(33.0, symbiosis.MAX_KM_BY_MATERIAL.get(material, 33.0))
        i, j, km = symbiosis._pairs(xy, s["row"].to_numpy(), d["row"].to_numpy(), limit, 1.3, None)
        if i.size:
            out.append((s["tonnes"].to_numpy(), d["tonnes"].to_numpy(), i, j, np.round(km * 10) / 10))
    return out


def with_lps(cases: list[tuple]) -> tuple[float, float]:
    moved = tkm = 0.0
    for supply, demand, i, j, km in cases:
        x = symbiosis._allocate(supply, demand, i, j, km)
        moved, tkm = moved + x.sum(), tkm + (x * km).sum()
    return moved, tkm


def with_networkx(cases: list[tuple]) -> tuple[float, float]:
    moved = tkm = 0.0
    for supply, demand, i, j, km in cases:
        g = nx.DiGraph()
        g.add_edges_from(("s", ("i", a), {"capacity": int(t), "weight": 0}) for a, t in enumerate(supply))
        g.add_edges_from((("j", b), "t", {"capacity": int(t), "weight": 0}) for b, t in enumerate(demand))
        g.add_edges_from(
            (("i", int(a)), ("j", int(b)), {"weight": round(w * 10)}) for a, b, w in zip(i, j, km, strict=True)
        )
        flow = nx.max_flow_min_cost(g, "s", "t")
        moved += sum(flow["s"].values())
        tkm += nx.cost_of_flow(g, flow) / 10
    return moved, tkm


def bench_match() -> list[dict]:
    rows = []
    for n in (300, 1000, 3000):
        firms = register(n)
        cases = problems(firms)
        t_lp, (moved_lp, tkm_lp) = best_of(lambda cases=cases: with_lps(cases), repeat=1 if n > 1000 else 3)
        t_nx, (moved_nx, tkm_nx) = best_of(lambda cases=cases: with_networkx(cases), repeat=1 if n > 1000 else 3)
        assert abs(moved_lp - moved_nx) < 1e-6 * moved_nx, (moved_lp, moved_nx)
        assert abs(tkm_lp - tkm_nx) < 1e-6 * tkm_nx, (tkm_lp, tkm_nx)
        t_match, links = best_of(lambda firms=firms: symbiosis.match(firms), repeat=1)
        pairs = sum(c[2].size for c in cases)
        base = {"firms": n, "materials": len(cases), "pairs in reach": pairs, "tonnes moved": moved_lp}
        rows.append(
            {
                **base,
                "case": "allocation: eicgeo (LPs; nearest first for one hub)",
                "seconds": t_lp,
                "x networkx": t_lp / t_nx,
            }
        )
        rows.append({**base, "case": "allocation: networkx max_flow_min_cost", "seconds": t_nx, "x networkx": 1.0})
        rows.append({**base, "case": f"symbiosis.match ({len(links)} links)", "seconds": t_match, "x networkx": ""})
    return rows


def bench_potential(size: int = 1000, n: int = 500) -> list[dict]:
    grid = Grid.from_bounds((X0, Y0, X0 + size * 100, Y0 + size * 100), 100, "EPSG:32647")
    rng = np.random.default_rng(1)
    xy = rng.random((n, 2)) * size * 100 + (X0, Y0)
    left = gpd.GeoDataFrame(
        {"unit": ["t/yr"] * n, "unmatched": rng.integers(10, 5000, n).astype(float)},
        geometry=[Point(grid.xs[c], grid.ys[r]) for r, c in zip(*grid.rowcol(xy[:, 0], xy[:, 1]), strict=True)],
        crs="EPSG:32647",
    )
    t_fft, layer = best_of(lambda: symbiosis.potential(left, grid), repeat=3)

    def kdtree():
        tree = cKDTree(np.column_stack([left.geometry.x, left.geometry.y]))
        gx, gy = np.meshgrid(grid.xs, grid.ys)
        hits = tree.query_ball_point(np.column_stack([gx.ravel(), gy.ravel()]), r=33_000 / 1.3 + 1e-6)
        t = left["unmatched"].to_numpy()
        return np.array([t[h].sum() for h in hits]).reshape(grid.shape)

    t_tree, expected = best_of(kdtree, repeat=1)
    np.testing.assert_allclose(layer.values, expected, rtol=1e-4, atol=1e-3)
    cells = f"{size} x {size}, {n} firms"
    return [
        {"case": "symbiosis.potential (FFT disc sum)", "cells": cells, "seconds": t_fft, "x k-d tree": t_fft / t_tree},
        {"case": "k-d tree query_ball_point per cell", "cells": cells, "seconds": t_tree, "x k-d tree": 1.0},
    ]


if __name__ == "__main__":
    report("symbiosis_match", bench_match(), region_km=100, max_km=33, detour=1.3)
    report("symbiosis_potential", bench_potential(), resolution_m=100, reach_km=33 / 1.3)
