"""Industrial symbiosis: matching firms' by-product outputs to other firms' inputs.

For each material, every firm that lists it as an output is a supplier and every other firm that
lists it as an input is a user. Pairs farther apart than ``max_km`` cannot trade (steam, heat and
treated water have shorter caps, :data:`MAX_KM_BY_MATERIAL`). Distances are road distances when
a road graph is given, else straight lines times a detour factor.

Tonnage is allocated optimally, material by material, so that no supply or demand is counted
twice. With suppliers *i* (offering ``s_i`` t/yr), users *j* (needing ``d_j``), the pairs within
reach and their distances ``km_ij``, the flows ``x_ij >= 0`` solve two linear programmes (a
transportation problem; HiGHS through :func:`scipy.optimize.linprog`):

1. maximise ``sum x_ij`` subject to ``sum_j x_ij <= s_i`` and ``sum_i x_ij <= d_j``: the most
   tonnage that can be exchanged (a first-come greedy rule can strand a supplier whose only
   user was taken by a nearer one);
2. minimise ``sum km_ij x_ij`` (tonne-km) subject to the same limits and ``sum x_ij >= T``,
   the optimum of (1): among the allocations moving the most, the one with the least haulage.

The result is a min-cost maximum flow, as networkx's ``max_flow_min_cost`` would give, without
its integer capacities. When a material has a single supplier (or a single user), serving the
nearest partners first gives the same optimum without the LPs.

Each link also carries screening estimates of the CO2 it saves: the virgin material or fuel it
replaces (``tonnes x`` the material's ``co2_avoided``, see :mod:`eicgeo.materials`) and the CO2
of trucking it (``tonnes x km x transport_kg_per_tkm / 1000``, see
:class:`~eicgeo.settings.SymbiosisSettings`; 0 for piped energy and water).

Every function that reads material names takes the run's vocabulary (``vocab``, default the
built-in :data:`eicgeo.materials.BUILTIN`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import xarray as xr
from scipy.optimize import linprog
from scipy.signal import fftconvolve
from scipy.sparse import coo_matrix, csr_matrix, vstack
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree
from shapely.geometry import LineString

from eicgeo._errors import CRSError, InputError
from eicgeo._validate import check_columns, check_positive
from eicgeo.grid import Grid
from eicgeo.materials import BUILTIN, Vocabulary, parse_flows
from eicgeo.settings import SYMBIOSIS

__all__ = [
    "LINK_COLUMNS",
    "MAX_KM_BY_MATERIAL",
    "UNMATCHED_COLUMNS",
    "byproduct_tonnes",
    "cluster_metrics",
    "links_by_firm",
    "match",
    "metrics",
    "opportunities",
    "potential",
    "unmatched",
]

#: Materials that cannot travel far whatever ``max_km`` says: steam and heat need pipelines
#: (a few km at most), treated water a pipe.
MAX_KM_BY_MATERIAL: dict[str, float] = {"steam": 5.0, "waste_heat": 3.0, "treated_wastewater": 10.0}

#: Columns of the links table. ``tonnes`` is per year in the material's unit (t, MWh or m³);
#: the CO2 columns are t CO2 per year.
LINK_COLUMNS = [
    "from_firm",
    "to_firm",
    "material",
    "tonnes",
    "km",
    "co2_avoided_t",
    "transport_co2_t",
    "net_co2_t",
    "from_sector",
    "to_sector",
    "geometry",
]

#: Columns of the unmatched-outputs table.
UNMATCHED_COLUMNS = ["firm_id", "sector", "material", "unit", "offered", "matched", "unmatched", "geometry"]


def match(
    firms: gpd.GeoDataFrame,
    graph: nx.MultiDiGraph | Any = None,
    max_km: float = SYMBIOSIS.max_km,
    *,
    detour: float = SYMBIOSIS.detour,
    kinds: Iterable[str] = SYMBIOSIS.kinds,
    co2_factors: Mapping[str, float] | None = None,
    transport_kg_per_tkm: float = SYMBIOSIS.transport_kg_per_tkm,
    vocab: Vocabulary = BUILTIN,
) -> gpd.GeoDataFrame:
    """Symbiosis links between firms, with the tonnage of each allocated optimally.

    Parameters
    ----------
    firms : GeoDataFrame
        Points with ``firm_id``, ``inputs`` and ``outputs`` (``material:tonnes`` lists) and
        optionally ``sector``, in a projected CRS (metres). Polygons stand for their
        representative point.
    graph : networkx.MultiDiGraph or roads.CompiledNetwork, optional
        A projected road graph (``length`` in metres), or a network compiled from one
        (``edge_length``, as the pipeline passes); distances are then along roads (from each
        firm to its nearest node in a straight line, then the shortest path).
    max_km : float
        Longest exchange, km. The default of 33 km is the median distance of exchanges
        reported for the UK National Industrial Symbiosis Programme.
    detour : float
        Road distance over straight-line distance, used when no graph is given.
    kinds : iterable of str
        Material kinds that are exchanged (see :class:`eicgeo.materials.Material`); products,
        raw materials and utilities are ordinary trade, not symbiosis.
    co2_factors : mapping of str to float, optional
        t CO2 avoided per unit of a material, overriding the vocabulary's ``co2_avoided``.
    transport_kg_per_tkm : float
        kg CO2 per tonne-km of trucking (materials in t/yr only; energy and water are piped).
    vocab : Vocabulary
        The materials the register may name (units, kinds and CO2 factors).

    Returns
    -------
    GeoDataFrame
        One LineString per link (:data:`LINK_COLUMNS`): ``from_firm``, ``to_firm``,
        ``material``, ``tonnes`` (per year; MWh for energy, m³ for water), ``km``,
        ``co2_avoided_t`` (virgin material or fuel replaced), ``transport_co2_t`` (trucking),
        ``net_co2_t`` (the difference), ``from_sector`` and ``to_sector``. Sorted by material,
        then by tonnes, largest first.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> firms = gpd.GeoDataFrame({"firm_id": ["P", "C"], "inputs": ["", "fly_ash:60"],
    ...                           "outputs": ["fly_ash:100", ""]},
    ...                          geometry=[Point(0, 0), Point(10_000, 0)], crs="EPSG:32647")
    >>> link = match(firms).iloc[0]
    >>> [round(float(link[c]), 3) for c in ("tonnes", "km", "co2_avoided_t", "transport_co2_t", "net_co2_t")]
    [60.0, 13.0, 48.0, 0.078, 47.922]
    """
    max_km = check_positive(max_km, "max_km")
    detour = check_positive(detour, "detour")
    per_tkm = check_positive(transport_kg_per_tkm, "transport_kg_per_tkm", allow_zero=True) / 1000.0
    firms = _check_firms(firms, "symbiosis.match")
    factors = {m: v.co2_avoided for m, v in vocab.materials.items()}
    for material, value in (co2_factors or {}).items():
        factors[material] = check_positive(value, f"co2_factors[{material!r}]", allow_zero=True)
    kinds = set(kinds)
    xy = _xy(firms)
    ids = firms["firm_id"].astype(str).to_numpy()
    sectors = firms["sector"].astype(str).to_numpy() if "sector" in firms else np.full(len(firms), "")
    supply = _flows(firms, "outputs", kinds, vocab)
    demand = _flows(firms, "inputs", kinds, vocab)
    limits = {
        m: min(max_km, MAX_KM_BY_MATERIAL.get(m, max_km)) for m in set(supply["material"]) & set(demand["material"])
    }
    distance = None
    if graph is not None and limits:
        suppliers = np.unique(supply.loc[supply["material"].isin(list(limits)), "row"].to_numpy())
        distance = _road_km(graph, xy, suppliers, max(limits.values()))

    rows = []
    for material in sorted(set(supply["material"]) & set(demand["material"])):
        s = supply[supply["material"] == material]
        d = demand[demand["material"] == material]
        limit = limits[material]
        i, j, km = _pairs(xy, s["row"].to_numpy(), d["row"].to_numpy(), limit, detour, distance)
        if i.size == 0:
            continue
        flows = _allocate(s["tonnes"].to_numpy(), d["tonnes"].to_numpy(), i, j, km)
        trucked = vocab.materials[material].unit == "t/yr"
        for a, b, t, dist in zip(i, j, flows, km, strict=True):
            if t <= 1e-6:
                continue
            ra, rb = int(s["row"].iloc[a]), int(d["row"].iloc[b])
            avoided = float(t) * factors.get(material, 0.0)
            transport = float(t) * float(dist) * per_tkm if trucked else 0.0
            rows.append(
                (
                    ids[ra],
                    ids[rb],
                    material,
                    float(t),
                    float(dist),
                    avoided,
                    transport,
                    avoided - transport,
                    sectors[ra],
                    sectors[rb],
                    LineString([xy[ra], xy[rb]]),
                )
            )
    links = gpd.GeoDataFrame(rows, columns=LINK_COLUMNS, geometry="geometry", crs=firms.crs)
    return links.sort_values(["material", "tonnes"], ascending=[True, False], kind="stable").reset_index(drop=True)


def _check_firms(firms: Any, what: str) -> gpd.GeoDataFrame:
    """The register, checked: a GeoDataFrame in metres with the flow columns and unique ids."""
    if not isinstance(firms, gpd.GeoDataFrame):
        msg = f"{what} expects a GeoDataFrame of firms, got {type(firms).__name__}"
        raise InputError(msg)
    check_columns(firms.columns, ["firm_id", "inputs", "outputs"], f"{what}: firms")
    if firms.crs is None or not firms.crs.is_projected:
        msg = f"{what} needs firms in a projected CRS (metres), got {firms.crs}; use firms.to_crs(grid.crs)"
        raise CRSError(msg)
    firms = firms.reset_index(drop=True)
    ids = firms["firm_id"].astype(str)
    dupes = ids[ids.duplicated()]
    if len(dupes):
        msg = f"{what}: firms row {int(dupes.index[0]) + 1}: firm_id {dupes.iloc[0]!r} is used more than once"
        raise InputError(msg)
    empty = firms.geometry.isna() | firms.geometry.is_empty
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0])
        msg = f"{what}: firms row {row + 1} (firm_id {ids.iloc[row]!r}) has no geometry"
        raise InputError(msg)
    return firms


def _xy(firms: gpd.GeoDataFrame) -> np.ndarray:
    """x, y of each firm (metres); a polygon stands for its representative point."""
    points = firms.geometry
    if len(points) and not (points.geom_type == "Point").all():
        points = points.representative_point()
    return np.column_stack([points.x.to_numpy(), points.y.to_numpy()]).reshape(-1, 2)


def _flows(firms: gpd.GeoDataFrame, column: str, kinds: set[str], vocab: Vocabulary) -> pd.DataFrame:
    rows = []
    for row, text in enumerate(firms[column].fillna("")):
        what = f"firm {firms['firm_id'].iloc[row]!r} {column}"
        for material, tonnes in parse_flows(text, what=what, vocab=vocab).items():
            if tonnes > 0 and vocab.materials[material].kind in kinds:
                rows.append((row, material, tonnes))
    return pd.DataFrame(rows, columns=["row", "material", "tonnes"])


def _pairs(
    xy: np.ndarray, rows_s: np.ndarray, rows_d: np.ndarray, max_km: float, detour: float, distance: _PairKm | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Supplier-user index pairs within ``max_km`` and their distances (km), ordered by
    supplier then user. Without roads, only the pairs within reach are ever formed (a k-d tree
    query), so the cost follows the pairs, not suppliers times users."""
    if distance is None:
        reach = cKDTree(xy[rows_d]).query_ball_point(xy[rows_s], r=max_km * 1000.0 / detour)
        i = np.repeat(np.arange(len(rows_s)), [len(r) for r in reach])
        j = np.array([k for r in reach for k in sorted(r)], dtype=np.int64)
        km = np.hypot(*(xy[rows_s[i]] - xy[rows_d[j]]).T) / 1000.0 * detour if i.size else np.empty(0)
    else:
        i, j, km = distance.pairs(rows_s, rows_d)
    ok = (km <= max_km) & (rows_s[i] != rows_d[j])
    return i[ok], j[ok], km[ok]


def _allocate(supply: np.ndarray, demand: np.ndarray, i: np.ndarray, j: np.ndarray, km: np.ndarray) -> np.ndarray:
    """Transportation problem: the most tonnes, then the fewest tonne-km, as two LPs."""
    if np.unique(i).size == 1 or np.unique(j).size == 1:
        return _allocate_star(supply, demand, i, j, km)
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
    # Keep the largest tonnage while minimising tonne-km. The tiny extra cost per link breaks
    # ties between equally long links towards fewer links.
    a2 = vstack([a_ub, csr_matrix(-np.ones((1, n)))]).tocsr()
    for slack in (0.0, 1e-9):  # exact first; the relaxed bound only guards against round-off
        cheapest = linprog(km + 1e-9, A_ub=a2, b_ub=np.concatenate([b_ub, [-total * (1 - slack)]]), method="highs")
        if cheapest.success:
            return cheapest.x
    return most.x  # pragma: no cover - the first solution is feasible for the second LP


def _allocate_star(supply: np.ndarray, demand: np.ndarray, i: np.ndarray, j: np.ndarray, km: np.ndarray) -> np.ndarray:
    """The same optimum when one supplier (or one user) is the only hub: fill nearest first.

    Any allocation that moves ``min(hub, sum of the others)`` is a largest one, and among them
    serving the nearest partners first has the fewest tonne-km (an exchange argument). This
    saves the LPs' set-up on the many materials with a single supplier or user.
    """
    hub_is_supplier = np.unique(i).size == 1
    left = float(supply[i[0]] if hub_is_supplier else demand[j[0]])
    partner = demand[j] if hub_is_supplier else supply[i]
    flows = np.zeros(i.size)
    for k in np.argsort(km, kind="stable"):
        flows[k] = min(left, float(partner[k]))
        left -= flows[k]
        if left <= 0:
            break
    return flows


def _road_km(graph: Any, xy: np.ndarray, rows: np.ndarray, max_km: float) -> _PairKm:
    """Road distances (km) from the firms ``rows`` to every firm within ``max_km`` by road.

    A firm joins the network at its nearest node in a straight line; a distance is that leg at
    each end plus the shortest path between the two nodes. The searches are bounded and local:
    the suppliers are grouped into square tiles ``max_km`` wide, and each tile's searches run on
    the part of the network within ``max_km`` of the tile (a path no longer than ``max_km`` never
    leaves it, since no edge is shorter than the straight line between its ends; a graph whose
    lengths are shorter widens the margin to match). Each search stops at ``max_km``. The cost
    therefore grows with the number of suppliers times the network within reach of one, not
    with the square of the firms or the size of the whole network.
    """
    node_xy, matrix = _length_matrix(graph)
    limit = max_km * 1000.0
    margin = limit / _shortest_ratio(node_xy, matrix)
    dist, nearest = cKDTree(node_xy).query(xy)
    out_s, out_d, out_km = [], [], []
    tile = np.floor(xy[rows] / limit).astype(np.int64)
    order = np.lexsort((tile[:, 1], tile[:, 0]))
    keys = tile[order]
    starts = np.r_[0, np.flatnonzero(np.any(np.diff(keys, axis=0) != 0, axis=1)) + 1, len(keys)]
    for a, b in itertools.pairwise(starts):
        group = rows[order[a:b]]
        x0, y0 = keys[a] * limit
        box = (x0 - margin, y0 - margin, x0 + limit + margin, y0 + limit + margin)
        sub = np.flatnonzero(_in_box(node_xy, box))
        local = np.full(len(node_xy), -1, dtype=np.int64)
        local[sub] = np.arange(sub.size)
        users = np.flatnonzero(_in_box(xy, box) & (local[nearest] >= 0))
        if users.size == 0:
            continue
        sources, source_of = np.unique(local[nearest[group]], return_inverse=True)
        between = dijkstra(matrix[sub][:, sub], directed=True, indices=sources, limit=limit)
        km = (between[source_of][:, local[nearest[users]]] + dist[group, None] + dist[None, users]) / 1000.0
        i, j = np.nonzero(km <= max_km)
        out_s.append(group[i])
        out_d.append(users[j])
        out_km.append(km[i, j])
    cat = lambda parts, dtype: np.concatenate(parts) if parts else np.empty(0, dtype)  # noqa: E731
    return _PairKm(len(xy), cat(out_s, np.int64), cat(out_d, np.int64), cat(out_km, float))


class _PairKm:
    """Distances (km) of the firm pairs within reach, looked up by (supplier row, user row)."""

    def __init__(self, n: int, s: np.ndarray, d: np.ndarray, km: np.ndarray):
        keys = s * n + d
        order = np.argsort(keys, kind="stable")
        self.n, self.keys, self.km = n, keys[order], km[order]

    def pairs(self, rows_s: np.ndarray, rows_d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions ``i`` in ``rows_s`` and ``j`` in ``rows_d`` of the stored pairs, and their km,
        ordered by ``i`` then ``j``; the cost follows the stored pairs."""
        pos_s = np.full(self.n, -1, dtype=np.int64)
        pos_d = np.full(self.n, -1, dtype=np.int64)
        pos_s[rows_s] = np.arange(len(rows_s))
        pos_d[rows_d] = np.arange(len(rows_d))
        i, j = pos_s[self.keys // self.n], pos_d[self.keys % self.n]
        ok = (i >= 0) & (j >= 0)
        i, j, km = i[ok], j[ok], self.km[ok]
        order = np.lexsort((j, i))
        return i[order], j[order], km[order]


def _length_matrix(graph: Any) -> tuple[np.ndarray, csr_matrix]:
    """Node positions and the sparse matrix of edge lengths (m; the shortest of parallel edges)
    of a road graph (networkx, osmnx conventions) or of a compiled network with ``edge_length``."""
    if hasattr(graph, "edge_length"):
        u, v, length, node_xy = graph.edge_u, graph.edge_v, np.asarray(graph.edge_length, float), graph.node_xy
    else:
        nodes = list(graph.nodes)
        index = {node: k for k, node in enumerate(nodes)}
        node_xy = np.array([(graph.nodes[n]["x"], graph.nodes[n]["y"]) for n in nodes], dtype=float).reshape(-1, 2)
        edges = [(index[a], index[b], float(d.get("length", 0.0))) for a, b, d in graph.edges(data=True)]
        u, v, length = (np.array(c) for c in zip(*edges, strict=True)) if edges else (np.empty(0),) * 3
    keep = np.asarray(u) != np.asarray(v)
    u, v, length = np.asarray(u, np.int64)[keep], np.asarray(v, np.int64)[keep], np.maximum(length[keep], 1e-6)
    # The shortest of parallel edges: sort by length and keep the first of each (u, v).
    order = np.lexsort((length, v, u))
    u, v, length = u[order], v[order], length[order]
    first = np.r_[True, (np.diff(u) != 0) | (np.diff(v) != 0)] if len(u) else np.zeros(0, dtype=bool)
    n = len(node_xy)
    return node_xy, csr_matrix((length[first], (u[first], v[first])), shape=(n, n))


def _shortest_ratio(node_xy: np.ndarray, matrix: csr_matrix) -> float:
    """The smallest edge length over the straight line between its ends (1 for real roads)."""
    coo = matrix.tocoo()
    straight = np.hypot(*(node_xy[coo.row] - node_xy[coo.col]).T)
    ok = straight > 0
    return float(min(1.0, np.min(coo.data[ok] / straight[ok]))) if ok.any() else 1.0


def _in_box(xy: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    return (xy[:, 0] >= box[0]) & (xy[:, 1] >= box[1]) & (xy[:, 0] <= box[2]) & (xy[:, 1] <= box[3])


def links_by_firm(links: pd.DataFrame) -> dict[Any, list[int]]:
    """The positions of each firm's links (as supplier or user) in ``links``, ascending.

    Examples
    --------
    >>> import pandas as pd
    >>> links_by_firm(pd.DataFrame({"from_firm": ["P", "P"], "to_firm": ["C", "B"]}))
    {'P': [0, 1], 'C': [0], 'B': [1]}
    """
    out: dict[Any, list[int]] = {}
    for k, (a, b) in enumerate(zip(links["from_firm"], links["to_firm"], strict=True)):
        out.setdefault(a, []).append(k)
        if b != a:
            out.setdefault(b, []).append(k)
    return out


def byproduct_tonnes(firms: gpd.GeoDataFrame, *, vocab: Vocabulary = BUILTIN) -> np.ndarray:
    """By-product tonnes per year each firm offers (kind ``byproduct`` in t/yr), in row order.

    Water (m³) and energy (MWh) are left out, so the figures add up across materials.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> firms = gpd.GeoDataFrame(
    ...     {"firm_id": ["power", "brewery"], "inputs": ["", ""],
    ...      "outputs": ["fly_ash:100;steam:50", "spent_grain:20;treated_wastewater:500"]},
    ...     geometry=[Point(0, 0), Point(2_000, 0)], crs="EPSG:32647")
    >>> byproduct_tonnes(firms).tolist()
    [100.0, 20.0]
    """
    if not len(firms):
        return np.zeros(0)
    return np.array(
        [
            sum(t for m, t in parse_flows(text, vocab=vocab).items() if _solid(m, vocab))
            for text in firms["outputs"].fillna("")
        ],
        dtype=float,
    )


def _solid(material: str, vocab: Vocabulary) -> bool:
    """By-products counted in tonnes: the share of by-products used is over these."""
    return vocab.materials[material].kind == "byproduct" and vocab.materials[material].unit == "t/yr"


def metrics(
    firms: gpd.GeoDataFrame, links: gpd.GeoDataFrame, *, n_anchors: int = 3, vocab: Vocabulary = BUILTIN
) -> dict[str, Any]:
    """Network metrics of the symbiosis links among ``firms``.

    The network's nodes are the firms with at least one link (``n_linked_firms``); an edge joins
    two firms that exchange anything.

    - ``density``: ordered firm pairs joined by a link over ``n (n - 1)``, n linked firms;
    - ``degree_centralization``: Freeman's degree centralisation of the undirected network,
      ``sum(d_max - d_i) / ((n - 1)(n - 2))``: 1 for a star around one hub (a Kalundborg-like
      anchor), 0 when every firm has as many partners;
    - ``anchor_firms``: the ``n_anchors`` firms with the largest exchanged tonnage (sent plus
      received, materials in t/yr), as ``{"firm_id", "sector", "tonnes"}``;
    - ``share_of_byproducts_used``: by-product tonnes (kind ``byproduct``, in t/yr) exchanged
      over the by-product tonnes offered by ``firms``;
    - ``tonnes_by_material``: exchanged per year, each in its material's unit;
    - ``co2_avoided_t``, ``transport_co2_t``, ``net_co2_t``: sums over the links, t CO2/yr.

    Examples
    --------
    A power plant sends fly ash to a cement plant and a brick maker and steam to a brewery: a
    star around one hub. Of the 120 t of by-products offered (fly ash and spent grain; steam is
    MWh), 90 t are used:

    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> firms = gpd.GeoDataFrame(
    ...     {"firm_id": ["power", "cement", "bricks", "brewery"], "sector": ["energy", "cement", "bricks", "food"],
    ...      "inputs": ["", "fly_ash:60", "fly_ash:30", "steam:30"],
    ...      "outputs": ["fly_ash:100;steam:50", "", "", "spent_grain:20"]},
    ...     geometry=[Point(0, 0), Point(5_000, 0), Point(0, 3_000), Point(2_000, 0)], crs="EPSG:32647")
    >>> links = match(firms)
    >>> m = metrics(firms, links)
    >>> m["n_linked_firms"], m["n_links"], m["density"], m["degree_centralization"]
    (4, 3, 0.25, 1.0)
    >>> m["share_of_byproducts_used"], m["anchor_firms"][0], m["tonnes_by_material"]
    (0.75, {'firm_id': 'power', 'sector': 'energy', 'tonnes': 90.0}, {'fly_ash': 90.0, 'steam': 30.0})
    """
    offered = float(byproduct_tonnes(firms, vocab=vocab).sum())
    solid = np.array([_solid(m, vocab) for m in links["material"]], dtype=bool)
    exchanged = float(links.loc[solid, "tonnes"].sum()) if len(links) else 0.0
    graph = nx.Graph()
    graph.add_edges_from(zip(links["from_firm"], links["to_firm"], strict=True))
    n = graph.number_of_nodes()
    pairs = len(set(zip(links["from_firm"], links["to_firm"], strict=True)))
    degrees = np.array([d for _, d in graph.degree()], dtype=float)
    centralization = float((degrees.max() - degrees).sum() / ((n - 1) * (n - 2))) if n > 2 else 0.0
    return {
        "n_firms": len(firms),
        "n_linked_firms": n,
        "n_links": len(links),
        "density": pairs / (n * (n - 1)) if n > 1 else 0.0,
        "degree_centralization": centralization,
        "anchor_firms": _anchors(firms, links[solid] if len(links) else links, n_anchors),
        "byproduct_tonnes_offered": offered,
        "byproduct_tonnes_exchanged": exchanged,
        "share_of_byproducts_used": exchanged / offered if offered > 0 else 0.0,
        "tonnes_by_material": links.groupby("material")["tonnes"].sum().round(1).to_dict() if len(links) else {},
        "co2_avoided_t": float(links["co2_avoided_t"].sum()) if len(links) else 0.0,
        "transport_co2_t": float(links["transport_co2_t"].sum()) if len(links) else 0.0,
        "net_co2_t": float(links["net_co2_t"].sum()) if len(links) else 0.0,
    }


def _anchors(firms: gpd.GeoDataFrame, links: pd.DataFrame, n: int) -> list[dict[str, Any]]:
    if not len(links):
        return []
    moved = (
        pd.concat([links.groupby("from_firm")["tonnes"].sum(), links.groupby("to_firm")["tonnes"].sum()])
        .groupby(level=0)
        .sum()
    )
    top = moved.sort_values(ascending=False, kind="stable").head(n)
    sector = (
        dict(zip(firms["firm_id"].astype(str), firms["sector"].astype(str), strict=True)) if "sector" in firms else {}
    )
    return [{"firm_id": f, "sector": sector.get(f, ""), "tonnes": round(float(t), 1)} for f, t in top.items()]


def unmatched(
    firms: gpd.GeoDataFrame,
    links: gpd.GeoDataFrame,
    *,
    kinds: Iterable[str] = SYMBIOSIS.kinds,
    vocab: Vocabulary = BUILTIN,
) -> gpd.GeoDataFrame:
    """Outputs that found no user: the opportunity for new firms.

    Returns
    -------
    GeoDataFrame
        One row per firm and material whose output (of the ``kinds`` matched) is not all taken,
        at the firm's location: ``firm_id``, ``sector``, ``material``, ``unit``, ``offered``,
        ``matched`` and ``unmatched`` (per year, in the unit). Materials in tonnes first, then
        MWh and m³, each largest unmatched first.

    Examples
    --------
    The power plant's fly ash and steam are not all taken, and no one uses the brewery's
    spent grain:

    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> firms = gpd.GeoDataFrame(
    ...     {"firm_id": ["power", "cement", "bricks", "brewery"], "sector": ["energy", "cement", "bricks", "food"],
    ...      "inputs": ["", "fly_ash:60", "fly_ash:30", "steam:30"],
    ...      "outputs": ["fly_ash:100;steam:50", "", "", "spent_grain:20"]},
    ...     geometry=[Point(0, 0), Point(5_000, 0), Point(0, 3_000), Point(2_000, 0)], crs="EPSG:32647")
    >>> links = match(firms)
    >>> left = unmatched(firms, links)
    >>> print(left[["firm_id", "material", "unit", "offered", "unmatched"]].to_string(index=False))
    firm_id    material   unit  offered  unmatched
    brewery spent_grain   t/yr     20.0       20.0
      power     fly_ash   t/yr    100.0       10.0
      power       steam MWh/yr     50.0       20.0
    """
    kinds = set(kinds)
    if not len(firms):
        return gpd.GeoDataFrame(columns=UNMATCHED_COLUMNS, geometry="geometry", crs=firms.crs)
    firms = firms.reset_index(drop=True)
    sent = links.groupby(["from_firm", "material"])["tonnes"].sum().to_dict() if len(links) else {}
    supply = _flows(firms, "outputs", kinds, vocab)
    ids = firms["firm_id"].astype(str).to_numpy()
    sectors = firms["sector"].astype(str).to_numpy() if "sector" in firms else np.full(len(firms), "")
    rows = []
    for row, material, offered in supply.itertuples(index=False):
        used = float(sent.get((ids[row], material), 0.0))
        left = offered - used
        if left > 1e-6 * max(offered, 1.0):
            rows.append(
                (
                    ids[row],
                    sectors[row],
                    material,
                    vocab.materials[material].unit,
                    offered,
                    used,
                    left,
                    firms.geometry.iloc[row],
                )
            )
    out = gpd.GeoDataFrame(rows, columns=UNMATCHED_COLUMNS, geometry="geometry", crs=firms.crs)
    # tonnes first, then MWh and m³: quantities in different units are not ranked together
    order = out["unit"].map({"t/yr": 0, "MWh/yr": 1}).fillna(2)
    out = out.assign(_order=order).sort_values(["_order", "unmatched"], ascending=[True, False], kind="stable")
    return out.drop(columns="_order").reset_index(drop=True)


def opportunities(unmatched: gpd.GeoDataFrame, *, vocab: Vocabulary = BUILTIN) -> gpd.GeoDataFrame:
    """The unmatched outputs a new firm could build on: :func:`unmatched` without the emissions.

    Captured CO2 is matched like a by-product where a firm takes it (greenhouses, algae, soda
    ash), but what is left is an emission to cut, not a feedstock to site a firm for.

    Returns
    -------
    GeoDataFrame
        The rows of ``unmatched`` whose material is not of kind ``emission``, in its order and
        with its index.

    Examples
    --------
    >>> import geopandas as gpd
    >>> left = gpd.GeoDataFrame({"material": ["co2", "fly_ash"], "unit": ["t/yr", "t/yr"], "unmatched": [9e5, 10.0]},
    ...                         geometry=gpd.points_from_xy([0, 0], [0, 0]))
    >>> opportunities(left)["material"].tolist()
    ['fly_ash']
    """
    if not len(unmatched):
        return unmatched
    emission = unmatched["material"].map(lambda m: vocab.materials[m].kind == "emission")
    return unmatched[~emission.astype(bool)]


def cluster_metrics(
    firms: gpd.GeoDataFrame, links: gpd.GeoDataFrame, *, column: str = "cluster", vocab: Vocabulary = BUILTIN
) -> pd.DataFrame:
    """:func:`metrics` of each firm cluster, over its firms and the links inside it.

    Parameters
    ----------
    firms : GeoDataFrame
        With a ``column`` of cluster labels (``-1`` is noise, left out), as set by
        :class:`eicgeo.clustering.FirmClusterer`.
    links : GeoDataFrame
        From :func:`match`.

    Returns
    -------
    DataFrame
        One row per cluster: ``cluster``, ``n_firms``, ``n_linked_firms``, ``n_links``,
        ``density``, ``degree_centralization``, ``anchor_firm`` and ``anchor_tonnes`` (the
        largest), ``internal_tonnes`` (by-products in t/yr exchanged inside),
        ``share_of_byproducts_used`` (inside the cluster), ``net_co2_t`` and
        ``tonnes_by_material`` (``material:tonnes`` text).

    Examples
    --------
    The power plant, cement plant and brick maker form cluster 0, the brewery cluster 1; the
    steam link between the two clusters counts in neither:

    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> firms = gpd.GeoDataFrame(
    ...     {"firm_id": ["power", "cement", "bricks", "brewery"], "sector": ["energy", "cement", "bricks", "food"],
    ...      "inputs": ["", "fly_ash:60", "fly_ash:30", "steam:30"],
    ...      "outputs": ["fly_ash:100;steam:50", "", "", "spent_grain:20"]},
    ...     geometry=[Point(0, 0), Point(5_000, 0), Point(0, 3_000), Point(2_000, 0)], crs="EPSG:32647")
    >>> links = match(firms)
    >>> firms["cluster"] = [0, 0, 0, 1]
    >>> table = cluster_metrics(firms, links)
    >>> print(table[["cluster", "n_firms", "n_links", "anchor_firm", "internal_tonnes", "share_of_byproducts_used"]]
    ...       .to_string(index=False))
     cluster  n_firms  n_links anchor_firm  internal_tonnes  share_of_byproducts_used
           0        3        2       power             90.0                       0.9
           1        1        0                          0.0                       0.0
    >>> table["tonnes_by_material"].tolist()
    ['fly_ash:90', '']
    """
    check_columns(firms.columns, [column], "cluster_metrics: firms")
    rows = []
    for label, group in firms[firms[column] >= 0].groupby(column):
        members = set(group["firm_id"].astype(str))
        inside = links[links["from_firm"].isin(members) & links["to_firm"].isin(members)] if len(links) else links
        m = metrics(group, inside, n_anchors=1, vocab=vocab)
        anchor = m["anchor_firms"][0] if m["anchor_firms"] else {"firm_id": "", "tonnes": 0.0}
        rows.append(
            {
                "cluster": int(label),
                "n_firms": m["n_firms"],
                "n_linked_firms": m["n_linked_firms"],
                "n_links": m["n_links"],
                "density": m["density"],
                "degree_centralization": m["degree_centralization"],
                "anchor_firm": anchor["firm_id"],
                "anchor_tonnes": anchor["tonnes"],
                "internal_tonnes": m["byproduct_tonnes_exchanged"],
                "share_of_byproducts_used": m["share_of_byproducts_used"],
                "net_co2_t": m["net_co2_t"],
                "tonnes_by_material": ";".join(f"{k}:{v:g}" for k, v in m["tonnes_by_material"].items()),
            }
        )
    columns = [
        "cluster",
        "n_firms",
        "n_linked_firms",
        "n_links",
        "density",
        "degree_centralization",
        "anchor_firm",
        "anchor_tonnes",
        "internal_tonnes",
        "share_of_byproducts_used",
        "net_co2_t",
        "tonnes_by_material",
    ]
    return pd.DataFrame(rows, columns=columns)


def potential(
    unmatched: gpd.GeoDataFrame, grid: Grid, *, max_km: float = SYMBIOSIS.max_km, detour: float = SYMBIOSIS.detour
) -> xr.DataArray:
    """The ``symbiosis_potential`` criterion: unmatched by-product tonnes within reach of each cell.

    A new firm at a cell could take, or build a business on, the by-products that firms within
    the matching reach offer and no one uses yet (the table of :func:`unmatched`). The layer is
    the sum of those tonnes per year over the firms whose straight-line distance times
    ``detour`` is at most ``max_km`` from the cell: the same reach as :func:`match` without a
    road graph. Only materials counted in tonnes are summed (energy and water need pipes and
    cannot be added to tonnes).

    Firms are snapped to the centre of their cell (an error of at most ``resolution / √2``) and
    the disc of reach is applied by FFT convolution (:func:`scipy.signal.fftconvolve`) on a grid
    padded by the reach, so firms just outside the study area still count.

    Parameters
    ----------
    unmatched : GeoDataFrame
        From :func:`unmatched` (``unit``, ``unmatched`` and point geometry), in ``grid``'s CRS.
    grid : Grid
    max_km, detour : float
        The matching reach (km) and the detour factor, as in :func:`match`.

    Returns
    -------
    xarray.DataArray
        float32 t/yr on ``grid``, named ``symbiosis_potential``; 0 where nothing is in reach.

    Examples
    --------
    40 t/yr of unused fly ash at the centre of a 3 x 3 grid of 100 m cells, with a reach of
    0.2 km by road at a detour of 2 (100 m in a straight line): the cell and its four
    neighbours can reach it, the corners (141 m) cannot; the steam (MWh) is left out:

    >>> import geopandas as gpd
    >>> from affine import Affine
    >>> from shapely.geometry import Point
    >>> grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 300), (3, 3))
    >>> left = gpd.GeoDataFrame({"unit": ["t/yr", "MWh/yr"], "unmatched": [40.0, 20.0]},
    ...                         geometry=[Point(150, 150), Point(150, 150)], crs=grid.crs)
    >>> potential(left, grid, max_km=0.2, detour=2.0).values.round(1).tolist()
    [[0.0, 40.0, 0.0], [40.0, 40.0, 40.0], [0.0, 40.0, 0.0]]
    """
    max_km = check_positive(max_km, "max_km")
    detour = check_positive(detour, "detour")
    radius = max_km * 1000.0 / detour  # metres in a straight line
    pad = int(np.ceil(radius / grid.resolution))
    height, width = grid.shape
    offer = np.zeros((height + 2 * pad, width + 2 * pad))
    solid = unmatched[unmatched["unit"] == "t/yr"] if len(unmatched) else unmatched
    if len(solid):
        if solid.crs is not None and not grid.crs.equals(solid.crs):
            solid = solid.to_crs(grid.crs)
        points = solid.geometry.representative_point()
        row, col = grid.rowcol(points.x.to_numpy(), points.y.to_numpy())
        row, col = row + pad, col + pad
        inside = (row >= 0) & (row < offer.shape[0]) & (col >= 0) & (col < offer.shape[1])
        np.add.at(offer, (row[inside], col[inside]), solid["unmatched"].to_numpy(dtype=float)[inside])
    if offer.any():
        offsets = np.arange(-pad, pad + 1) * grid.resolution
        disc = (np.hypot(offsets[:, None], offsets[None, :]) <= radius + 1e-6).astype(float)
        reach = fftconvolve(offer, disc, mode="same")[pad : pad + height, pad : pad + width]
        # FFT round-off leaves ~1e-12 of the total where nothing is in reach
        reach[reach < 1e-9 * offer.sum()] = 0.0
    else:
        reach = np.zeros(grid.shape)
    attrs = {"units": "t/yr", "reach_km": max_km, "detour": detour, "long_name": "unmatched by-products in reach"}
    return grid.wrap(reach.astype(np.float32), "symbiosis_potential", attrs=attrs)
