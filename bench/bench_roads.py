"""Road networks and travel-time surfaces at regional scale.

Measures, in one run, on a generated road network of 211,600 nodes (a perturbed 460 x 460
street grid over 400 x 400 km with a motorway / trunk / primary / secondary / tertiary /
residential hierarchy, one-way streets and missing links) and 500 random sources:

- multi-source network times: :meth:`eicgeo.roads.CompiledNetwork.node_times` (one scipy
  Dijkstra from a virtual source) against networkx's ``multi_source_dijkstra_path_length`` on
  the same graph; target: at least 20 times faster, with equal times;
- a full travel-time surface on a 4,000 x 4,000 grid (100 m cells):
  :func:`eicgeo.roads.travel_time_surface`, with the cell lookup built from scratch ("cold") and
  cached ("warm"), against the obvious per-cell alternative (a k-d tree query of every cell for
  its nearest road point); target: under 10 s on 2 cores;
- loading the sample region's ``roads.osm.bz2`` with :func:`eicgeo.roads.load_network`,
  against ``osmnx.graph_from_xml`` on the same file; target: under 30 s;
- loading the generated network as a GeoParquet line layer (written to ``bench/data/``), as GIS
  staff would hand it over: no target, for scale.

Run: ``.venv/bin/python bench/bench_roads.py`` (about 4 minutes; writes bench/results/roads.json).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import shapely
from affine import Affine
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_of, report

from eicgeo import Grid, roads
from eicgeo.datasets import sample_path

SIDE = 460  # nodes per side: 211,600 nodes
CELLS = 4000  # grid cells per side
RES = 100.0  # metres
N_SOURCES = 500
CRS = "EPSG:32647"
DATA = Path(__file__).resolve().parent / "data"


def road_class(line: int) -> str:
    """The class of the ``line``-th street of the grid: a hierarchy as in a real region."""
    for every, name in ((40, "motorway"), (20, "trunk"), (10, "primary"), (5, "secondary"), (2, "tertiary")):
        if line % every == 0:
            return name
    return "residential"


def generate(seed: int = 0) -> tuple[nx.MultiDiGraph, np.ndarray]:
    """A perturbed street grid covering the 4,000 x 4,000 grid, as an osmnx-convention graph."""
    rng = np.random.default_rng(seed)
    spacing = CELLS * RES / SIDE
    ids = np.arange(SIDE * SIDE)
    x = (ids % SIDE + 0.5 + rng.uniform(-0.3, 0.3, ids.size)) * spacing
    y = (ids // SIDE + 0.5 + rng.uniform(-0.3, 0.3, ids.size)) * spacing
    graph = nx.MultiDiGraph(crs=CRS)
    graph.add_nodes_from((int(i), {"x": float(x[i]), "y": float(y[i])}) for i in ids)
    edges = []
    for i in ids:
        r, c = divmod(int(i), SIDE)
        for j, line, ok in ((i + 1, r, c + 1 < SIDE), (i + SIDE, c, r + 1 < SIDE)):
            if not ok:
                continue
            highway = road_class(line)
            if highway == "residential" and rng.random() < 0.05:
                continue  # missing links
            length = float(np.hypot(x[i] - x[j], y[i] - y[j]))
            data = {"length": length, "highway": highway}
            data["travel_time"] = length / (roads.DEFAULT_SPEEDS_KPH[highway] / 3.6)
            edges.append((int(i), int(j), data))
            if not (highway == "residential" and rng.random() < 0.1):  # one-way streets
                edges.append((int(j), int(i), dict(data)))
    graph.add_edges_from(edges)
    return graph, np.column_stack([x, y])


def nearest_point_surface(net: roads.CompiledNetwork, point_t: np.ndarray, grid: Grid) -> np.ndarray:
    """The obvious per-cell alternative: every cell queries a k-d tree for its nearest road point."""
    tree = cKDTree(net.point_xy)
    out = np.empty(grid.shape, dtype=np.float32)
    for r0 in range(0, grid.height, 500):
        cx, cy = np.meshgrid(grid.xs, grid.ys[r0 : r0 + 500])
        dist, idx = tree.query(np.column_stack([cx.ravel(), cy.ravel()]), k=1, workers=-1)
        out[r0 : r0 + 500] = ((dist / (10 / 3.6) + point_t[idx]) / 60).reshape(-1, grid.width)
    return out


def main() -> None:
    rows = []
    t0 = time.perf_counter()
    graph, xy = generate()
    size = f"{graph.number_of_nodes():,} nodes, {graph.number_of_edges():,} edges"
    print(f"generated {size} in {time.perf_counter() - t0:.0f} s")
    t_compile, net = best_of(lambda: roads.compile_network(graph, spacing_m=RES), repeat=1)
    rows.append({"task": "compile network", "eicgeo_s": t_compile, "road_points": len(net.point_xy)})

    rng = np.random.default_rng(1)
    sources = rng.choice(graph.number_of_nodes(), N_SOURCES, replace=False)
    index = {n: i for i, n in enumerate(net.node_ids)}
    seeds = {index[int(s)]: 0.0 for s in sources}
    t_ours, times = best_of(lambda: net.node_times(seeds, direction="from"), repeat=5)
    t_nx, ref = best_of(
        lambda: nx.multi_source_dijkstra_path_length(graph, {int(s) for s in sources}, weight="travel_time"), repeat=2
    )
    worst = max(abs(times[index[n]] - t) for n, t in ref.items())
    assert len(ref) == np.isfinite(times).sum() and worst < 1e-6, worst
    rows.append(
        {
            "task": f"network times, {N_SOURCES} sources",
            "eicgeo_s": t_ours,
            "alternative": "networkx multi_source_dijkstra",
            "alternative_s": t_nx,
            "speedup": t_nx / t_ours,
            "target": ">= 20x",
            "met": t_nx / t_ours >= 20,
        }
    )

    grid = Grid(CRS, Affine(RES, 0, 0, 0, -RES, CELLS * RES), (CELLS, CELLS))
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[sources, 0], xy[sources, 1]), crs=CRS)

    def cold():
        net._cache.pop(("lookup", grid), None)
        return roads.travel_time_surface(net, points, grid)

    t_cold, surface = best_of(cold, repeat=2)
    t_warm, _ = best_of(lambda: roads.travel_time_surface(net, points, grid), repeat=2)
    t_major, _ = best_of(lambda: roads.travel_time_surface(net, "motorway|trunk|primary", grid), repeat=2)
    node_t = net.node_times(seeds, direction="to")
    point_t = roads._point_times(net, node_t, np.zeros(len(net.edge_u), bool), "to", (np.empty(0, int), np.empty(0)))
    t_kd, alternative = best_of(lambda: nearest_point_surface(net, point_t, grid), repeat=1)
    finite = np.isfinite(surface.values)
    both = finite & np.isfinite(alternative)
    rows.append(
        {
            "task": f"surface {CELLS}x{CELLS}, {N_SOURCES} points, cold",
            "eicgeo_s": t_cold,
            "alternative": "k-d tree nearest road point per cell",
            "alternative_s": t_kd,
            "speedup": t_kd / t_cold,
            "target": "< 10 s",
            "met": t_cold < 10,
        }
    )
    rows.append({"task": "same surface, lookup cached", "eicgeo_s": t_warm, "target": "< 10 s", "met": t_warm < 10})
    rows.append(
        {"task": "surface to motorway|trunk|primary", "eicgeo_s": t_major, "target": "< 10 s", "met": t_major < 10}
    )

    osm = sample_path() / "roads.osm.bz2"
    t_load, g = best_of(lambda: roads.load_network(osm), repeat=1)
    t_ox, _ = best_of(lambda: ox.graph_from_xml(osm), repeat=1)
    rows.append(
        {
            "task": f"load {osm.name} ({g.number_of_nodes():,} nodes)",
            "eicgeo_s": t_load,
            "alternative": "osmnx.graph_from_xml (no speeds, no filtering)",
            "alternative_s": t_ox,
            "target": "< 30 s",
            "met": t_load < 30,
        }
    )
    layer = DATA / "generated_roads.parquet"
    if not layer.exists():
        DATA.mkdir(exist_ok=True)
        pairs = [(u, v, d["highway"]) for u, v, d in graph.edges(data=True) if u < v or not graph.has_edge(v, u)]
        u, v = (np.array([p[i] for p in pairs]) for i in (0, 1))
        one_way = [not graph.has_edge(b, a) for a, b, _ in pairs]
        lines = gpd.GeoDataFrame(
            {"highway": [p[2] for p in pairs], "oneway": np.where(one_way, "yes", "no")},
            geometry=shapely.linestrings(np.stack([xy[u], xy[v]], axis=1)),
            crs=CRS,
        )
        lines.to_parquet(layer)
    t_lines, g_lines = best_of(lambda: roads.load_network(layer), repeat=1)
    rows.append(
        {
            "task": f"load the generated network as a line layer ({g_lines.number_of_nodes():,} nodes)",
            "eicgeo_s": t_lines,
        }
    )
    report(
        "roads",
        rows,
        nodes=graph.number_of_nodes(),
        edges=graph.number_of_edges(),
        sources=N_SOURCES,
        grid=f"{CELLS} x {CELLS} cells of {RES:g} m",
        surface_minutes_median=float(np.nanmedian(surface.values)),
        surface_reachable_share=float(finite.mean()),
        # Where both are finite: the per-cell road point differs, the network times are the same.
        mean_abs_difference_to_kd_minutes=float(np.mean(np.abs(surface.values - alternative)[both])),
    )


if __name__ == "__main__":
    main()
