"""Industrial symbiosis: matching firms' by-product outputs to other firms' inputs.

For each material, every firm that lists it as an output is a supplier and every other firm that
lists it as an input is a user. Pairs farther apart than ``max_km`` cannot trade. Tonnage is then
allocated optimally, so that no supply or demand is counted twice: first the largest total
tonnage that can be exchanged, then, among allocations moving that tonnage, the one with the
fewest tonne-kilometres (two linear programmes solved with HiGHS through
:func:`scipy.optimize.linprog`; a transportation problem).

Distances are straight lines times a detour factor, or road distances when a road graph is
given.
"""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, csr_matrix, vstack
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree
from shapely.geometry import LineString

from eicgeo._errors import CRSError, InputError
from eicgeo._validate import check_positive
from eicgeo.materials import MATERIALS, parse_flows

__all__ = ["MAX_KM_BY_MATERIAL", "match", "metrics"]

#: Materials that cannot travel far whatever ``max_km`` says: steam and heat need pipelines
#: (a few km at most), treated water a pipe.
MAX_KM_BY_MATERIAL: dict[str, float] = {"steam": 5.0, "waste_heat": 3.0, "treated_wastewater": 10.0}

_LINK_COLUMNS = ["from_firm", "to_firm", "material", "tonnes", "km", "from_sector", "to_sector", "geometry"]


def match(
    firms: gpd.GeoDataFrame,
    graph: nx.MultiDiGraph | None = None,
    max_km: float = 33.0,
    *,
    detour: float = 1.3,
    kinds: Iterable[str] = ("byproduct", "energy", "emission"),
) -> gpd.GeoDataFrame:
    """Symbiosis links between firms.

    Parameters
    ----------
    firms : GeoDataFrame
        Points with ``firm_id``, ``sector``, ``inputs`` and ``outputs`` (``material:tonnes``
        lists), in a projected CRS (metres).
    graph : networkx.MultiDiGraph, optional
        A projected road graph (``length`` in metres); distances are then along roads.
    max_km : float
        Longest exchange, km. The default of 33 km is the median distance of exchanges
        reported for the UK National Industrial Symbiosis Programme.
    detour : float
        Road distance over straight-line distance, used when no graph is given.
    kinds : iterable of str
        Material kinds that are exchanged (see :class:`eicgeo.materials.Material`); products,
        raw materials and utilities are ordinary trade, not symbiosis.

    Returns
    -------
    GeoDataFrame
        One LineString per link with ``from_firm``, ``to_firm``, ``material``, ``tonnes``
        (per year; MWh for energy), ``km``, ``from_sector`` and ``to_sector``.
    """
    max_km = check_positive(max_km, "max_km")
    detour = check_positive(detour, "detour")
    if firms.crs is None or not firms.crs.is_projected:
        msg = "symbiosis.match needs firms in a projected CRS (metres); use firms.to_crs(grid.crs)"
        raise CRSError(msg)
    kinds = set(kinds)
    xy = np.column_stack([firms.geometry.x, firms.geometry.y])
    ids = firms["firm_id"].astype(str).to_numpy()
    sectors = firms["sector"].astype(str).to_numpy() if "sector" in firms else np.full(len(firms), "")
    supply = _flows(firms, "outputs", kinds)
    demand = _flows(firms, "inputs", kinds)
    distance = _road_km(graph, xy) if graph is not None else None

    rows = []
    for material in sorted(set(supply["material"]) & set(demand["material"])):
        s = supply[supply["material"] == material]
        d = demand[demand["material"] == material]
        limit = min(max_km, MAX_KM_BY_MATERIAL.get(material, max_km))
        i, j, km = _pairs(xy, s["row"].to_numpy(), d["row"].to_numpy(), limit, detour, distance)
        if i.size == 0:
            continue
        flows = _allocate(s["tonnes"].to_numpy(), d["tonnes"].to_numpy(), i, j, km)
        for a, b, t, dist in zip(i, j, flows, km, strict=True):
            if t <= 1e-6:
                continue
            ra, rb = int(s["row"].iloc[a]), int(d["row"].iloc[b])
            rows.append(
                (
                    ids[ra],
                    ids[rb],
                    material,
                    float(t),
                    float(dist),
                    sectors[ra],
                    sectors[rb],
                    LineString([xy[ra], xy[rb]]),
                )
            )
    links = gpd.GeoDataFrame(rows, columns=_LINK_COLUMNS, geometry="geometry", crs=firms.crs)
    return links.sort_values(["material", "tonnes"], ascending=[True, False], kind="stable").reset_index(drop=True)


def _flows(firms: gpd.GeoDataFrame, column: str, kinds: set[str]) -> pd.DataFrame:
    rows = []
    for row, text in enumerate(firms[column].fillna("")):
        for material, tonnes in parse_flows(text, what=f"firm {firms['firm_id'].iloc[row]!r} {column}").items():
            if tonnes > 0 and MATERIALS[material].kind in kinds:
                rows.append((row, material, tonnes))
    return pd.DataFrame(rows, columns=["row", "material", "tonnes"])


def _pairs(
    xy: np.ndarray, rows_s: np.ndarray, rows_d: np.ndarray, max_km: float, detour: float, distance: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Supplier-user index pairs within ``max_km`` and their distances (km)."""
    if distance is None:
        straight = np.hypot(*(xy[rows_s][:, None, :] - xy[rows_d][None, :, :]).transpose(2, 0, 1)) / 1000.0
        km = straight * detour
    else:
        km = distance[np.ix_(rows_s, rows_d)]
    same = rows_s[:, None] == rows_d[None, :]
    ok = (km <= max_km) & ~same
    i, j = np.nonzero(ok)
    return i, j, km[i, j]


def _allocate(supply: np.ndarray, demand: np.ndarray, i: np.ndarray, j: np.ndarray, km: np.ndarray) -> np.ndarray:
    """Transportation problem: the most tonnes, then the fewest tonne-km, as two LPs."""
    n = i.size
    cols = np.arange(n)
    a_ub = coo_matrix(
        (np.ones(2 * n), (np.concatenate([i, supply.size + j]), np.concatenate([cols, cols]))),
        shape=(supply.size + demand.size, n),
    ).tocsr()
    b_ub = np.concatenate([supply, demand])
    most = linprog(-np.ones(n), A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
    if not most.success:  # pragma: no cover - a bounded feasible LP always solves
        msg = f"symbiosis allocation failed: {most.message}"
        raise InputError(msg)
    total = -most.fun
    # Keep (almost all of) the largest tonnage while minimising tonne-km.
    a2 = vstack([a_ub, csr_matrix(-np.ones((1, n)))]).tocsr()
    b2 = np.concatenate([b_ub, [-total * (1 - 1e-9)]])
    cheapest = linprog(km + 1e-9, A_ub=a2, b_ub=b2, bounds=(0, None), method="highs")
    return cheapest.x if cheapest.success else most.x


def _road_km(graph: nx.MultiDiGraph, xy: np.ndarray) -> np.ndarray:
    """Road distance (km) between every pair of firms, plus the off-road legs to the network."""
    nodes = list(graph.nodes)
    index = {node: k for k, node in enumerate(nodes)}
    node_xy = np.array([(graph.nodes[n]["x"], graph.nodes[n]["y"]) for n in nodes])
    rows, cols, length = [], [], []
    for u, v, data in graph.edges(data=True):
        rows.append(index[u])
        cols.append(index[v])
        length.append(max(float(data.get("length", 0.0)), 1e-6))
    matrix = coo_matrix((length, (rows, cols)), shape=(len(nodes), len(nodes))).tocsr()
    matrix.sum_duplicates()
    dist, nearest = cKDTree(node_xy).query(xy)
    unique, inverse = np.unique(nearest, return_inverse=True)
    between = dijkstra(matrix, directed=True, indices=unique)[:, unique]
    km = between[np.ix_(inverse, inverse)] + dist[:, None] + dist[None, :]
    return km / 1000.0


def metrics(firms: gpd.GeoDataFrame, links: gpd.GeoDataFrame) -> dict:
    """Network metrics of the symbiosis links.

    ``density`` is the share of ordered firm pairs (among linked firms) joined by at least one
    link; ``share_of_byproducts_used`` is the tonnage of by-products (kind ``byproduct``, counted
    in tonnes) that finds a user over the tonnage offered.
    """

    def solid(material: str) -> bool:
        return MATERIALS[material].kind == "byproduct" and MATERIALS[material].unit == "t/yr"

    offered = 0.0
    for text in firms["outputs"].fillna(""):
        offered += sum(t for m, t in parse_flows(text).items() if solid(m))
    byproduct = [solid(m) for m in links["material"]]
    exchanged = float(links.loc[byproduct, "tonnes"].sum()) if len(links) else 0.0
    linked = set(links["from_firm"]) | set(links["to_firm"])
    n = len(linked)
    pairs = len(set(zip(links["from_firm"], links["to_firm"], strict=True)))
    return {
        "n_firms": len(firms),
        "n_linked_firms": n,
        "n_links": len(links),
        "density": pairs / (n * (n - 1)) if n > 1 else 0.0,
        "byproduct_tonnes_exchanged": exchanged,
        "share_of_byproducts_used": exchanged / offered if offered > 0 else 0.0,
        "tonnes_by_material": links.groupby("material")["tonnes"].sum().round(1).to_dict() if len(links) else {},
    }
