"""Road networks and travel-time surfaces.

Loading (:func:`load_network`) reads OSM XML (``.osm``, ``.osm.bz2``) with
:func:`osmnx.graph_from_xml`, OSM PBF through pyosmium, an osmnx GraphML file, or a GIS line
layer (``.gpkg``, ``.geojson``, ``.parquet``, ``.shp``) with a ``highway`` column. It keeps the
drivable roads, the largest strongly connected component, projects to metres and sets
``length`` (m), ``speed_kph`` and ``travel_time`` (s) on every edge, following osmnx's
conventions.

Travel-time surfaces (:func:`travel_time_surface`) are computed in three steps:

1. the network is *compiled* once (:func:`compile_network`) into a scipy sparse matrix of
   edge travel times, plus points sampled along every edge at about the grid resolution;
2. exact network times are one multi-source Dijkstra on that matrix
   (:func:`scipy.sparse.csgraph.dijkstra` from a virtual source joined to every seed with its
   access time), never a Python loop over nodes;
3. each cell's time is the off-network access time (straight-line distance at
   ``offroad_kph``) to a nearby road point plus the network time from that point. Candidate road
   points are the nearest few of each road tier (major, middle, minor), so a cell beside a
   farm track still finds the highway 300 m away.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import shapely
import xarray as xr
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from eicgeo._errors import CRSError, InputError, NetworkError
from eicgeo._validate import check_crs, check_file, check_positive, did_you_mean
from eicgeo.grid import Grid

__all__ = [
    "DEFAULT_SPEEDS_KPH",
    "DRIVABLE",
    "MAJOR_ROADS",
    "CompiledNetwork",
    "compile_network",
    "load_network",
    "main_roads",
    "travel_time_surface",
]

#: Default speeds (km/h) by OSM ``highway`` class where ``maxspeed`` is absent. They are typical
#: speeds of a loaded truck on peri-urban roads in South and Southeast Asia, not legal limits:
#: traffic mixes two- and three-wheelers, junctions are at grade and markets and villages line
#: the roads. Access-controlled expressways (motorway) keep 90; national highways (trunk) drop to
#: 70 through ribbon development; provincial roads (primary, secondary) run 50 and 40; district
#: and village roads (tertiary, unclassified) 35 and 25; residential lanes 20; unpaved farm tracks,
#: which trucks use to reach mills, 15. Ramps (``*_link``) run at about two thirds of their road.
#: A scenario overrides any of them: ``[roads] speeds = {primary = 45}``.
DEFAULT_SPEEDS_KPH: dict[str, float] = {
    "motorway": 90.0,
    "motorway_link": 45.0,
    "trunk": 70.0,
    "trunk_link": 40.0,
    "primary": 50.0,
    "primary_link": 35.0,
    "secondary": 40.0,
    "secondary_link": 30.0,
    "tertiary": 35.0,
    "tertiary_link": 25.0,
    "unclassified": 25.0,
    "road": 25.0,
    "residential": 20.0,
    "living_street": 10.0,
    "track": 15.0,
}

#: ``highway`` classes kept for ``network_type="drive"``. Tracks are kept: in the Asian
#: countryside they carry farm trucks to mills. Service roads (parking aisles, driveways) are not.
DRIVABLE: frozenset[str] = frozenset(DEFAULT_SPEEDS_KPH)

#: The classes that count as "the main road network" for ``road_access``.
MAJOR_ROADS: tuple[str, ...] = ("motorway", "trunk", "primary")

_TIERS: dict[str, int] = {
    **dict.fromkeys(["motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link"], 0),
    **dict.fromkeys(["secondary", "secondary_link", "tertiary", "tertiary_link"], 1),
}
_N_TIERS = 3
_XML_SUFFIXES = (".osm", ".osm.bz2")
_PBF_SUFFIXES = (".osm.pbf", ".pbf")
_GRAPHML_SUFFIXES = (".graphml",)
_LINE_SUFFIXES = (".gpkg", ".geojson", ".json", ".parquet", ".geoparquet", ".shp")
_ONEWAY_FORWARD = {"yes", "true", "1"}
_ONEWAY_REVERSE = {"-1", "reverse"}
_NO_ACCESS = {"no", "private"}

Direction = Literal["to", "from"]


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------
def load_network(
    path: str | Path,
    network_type: str = "drive",
    *,
    crs: Any = None,
    speeds: Mapping[str, float] | None = None,
    largest_component: bool = True,
    snap_m: float = 1.0,
) -> nx.MultiDiGraph:
    """Load a road network from a file, offline.

    Parameters
    ----------
    path : path
        ``.osm``/``.osm.bz2`` (OSM XML), ``.osm.pbf`` (OSM PBF), ``.graphml`` (osmnx), or a
        line layer (``.gpkg``, ``.geojson``, ``.parquet`` GeoParquet, ``.shp``) with a
        ``highway`` column of OSM classes and optional ``oneway``, ``maxspeed``, ``access`` and
        ``name`` columns.
    network_type : {"drive"}
        Only the drivable network is supported: the ``highway`` classes of :data:`DRIVABLE`.
    crs : CRS-like, optional
        Project to this CRS (metres); default the local UTM zone, as osmnx chooses (a projected
        line layer keeps its own CRS).
    speeds : mapping, optional
        km/h by ``highway`` class, overriding :data:`DEFAULT_SPEEDS_KPH` where ``maxspeed``
        is absent.
    largest_component : bool
        Keep only the largest strongly connected component (default), so every kept node can
        reach every other. What was dropped is in ``graph.graph["eicgeo_dropped"]``.
    snap_m : float
        Line layers only: line ends closer than this (metres) are joined into one node. Lines
        meet only at their ends (a crossing without a shared end is a bridge), as in OSM.

    Returns
    -------
    networkx.MultiDiGraph
        Projected, with ``length`` (m), ``speed_kph`` and ``travel_time`` (s) on every edge.
    """
    if network_type != "drive":
        msg = f"network_type {network_type!r} is not supported; expected 'drive'"
        raise InputError(msg)
    path = check_file(path, "roads", _XML_SUFFIXES + _PBF_SUFFIXES + _GRAPHML_SUFFIXES + _LINE_SUFFIXES)
    target = check_crs(crs, "roads crs") if crs is not None else None
    name = path.name.lower()
    if name.endswith(_GRAPHML_SUFFIXES):
        graph = _read_graphml(path)
    elif name.endswith(_LINE_SUFFIXES):
        graph = _read_lines(path, target, check_positive(snap_m, "snap_m", allow_zero=True))
    else:
        graph = _read_osm(path)
    graph = _drivable(graph, path)
    dropped = {"nodes": 0, "length_share": 0.0}
    if largest_component:
        graph, dropped = _largest_strong_component(graph)
    current = check_crs(graph.graph["crs"], "roads graph crs")
    if (target is not None and current != target) or not current.is_projected:
        graph = ox.project_graph(graph, to_crs=target)
    table = dict(DEFAULT_SPEEDS_KPH)
    table.update({str(k): check_positive(v, f"speed for highway={k}") for k, v in (speeds or {}).items()})
    graph = ox.add_edge_speeds(graph, hwy_speeds=table, fallback=table["unclassified"])
    graph = ox.add_edge_travel_times(graph)
    graph.graph["eicgeo_dropped"] = dropped
    graph.graph["eicgeo_source"] = path.name
    return graph


def main_roads(graph: nx.MultiDiGraph, classes: Iterable[str] = MAJOR_ROADS) -> gpd.GeoDataFrame:
    """The edges of the given ``highway`` classes as lines (``highway``, geometry), for maps."""
    edges = ox.graph_to_gdfs(graph, nodes=False)[["highway", "geometry"]]
    edges["highway"] = edges["highway"].map(_first)
    return edges[edges["highway"].isin(list(classes))].reset_index(drop=True)


def _read_osm(path: Path) -> nx.MultiDiGraph:
    """OSM XML or PBF: extract the drivable ways with pyosmium, then build the graph with osmnx.

    Extracts clipped to a bounding box often hold ways whose nodes lie outside the file; such
    ways are split at the missing nodes instead of failing the whole load.
    """
    with tempfile.TemporaryDirectory(prefix="eicgeo-osm-") as tmp:
        xml = Path(tmp) / "roads.osm"
        try:
            n_ways = _extract_drivable(path, xml)
        except RuntimeError as err:
            msg = f"roads {str(path)!r} is truncated or not valid OSM ({err})"
            raise NetworkError(msg) from err
        if n_ways == 0:
            msg = (
                f"roads {str(path)!r} has no drivable roads; expected ways tagged highway="
                f"{'|'.join(MAJOR_ROADS)}|... (see eicgeo.roads.DRIVABLE)"
            )
            raise NetworkError(msg)
        tags = ox.settings.useful_tags_way
        ox.settings.useful_tags_way = list(dict.fromkeys([*tags, "motor_vehicle", "motorcar"]))
        try:
            return ox.graph_from_xml(xml, simplify=False, retain_all=True)
        finally:
            ox.settings.useful_tags_way = tags


def _extract_drivable(path: Path, out: Path) -> int:
    """Write the drivable highway ways of ``path`` (and their nodes) to OSM XML ``out``."""
    import osmium

    present = osmium.index.IdSet()
    for node in osmium.FileProcessor(str(path), osmium.osm.NODE):
        present.set(node.id)
    n_ways = 0
    with osmium.BackReferenceWriter(str(out), ref_src=str(path), overwrite=True) as writer:
        ways = osmium.FileProcessor(str(path), osmium.osm.WAY).with_filter(osmium.filter.KeyFilter("highway"))
        for way in ways:
            if way.tags.get("highway") not in DRIVABLE:
                continue
            refs = [n.ref for n in way.nodes]
            for k, run in enumerate(_runs_present(refs, present)):
                # Pieces of a clipped way get new negative ids so they cannot collide.
                writer.add_way(way.replace(nodes=run, id=way.id if k == 0 else -(way.id * 1000 + k)))
                n_ways += 1
    return n_ways


def _runs_present(refs: list[int], present: Any) -> list[list[int]]:
    runs: list[list[int]] = [[]]
    for ref in refs:
        if ref in present:
            runs[-1].append(ref)
        elif runs[-1]:
            runs.append([])
    return [r for r in runs if len(r) >= 2]


def _read_lines(path: Path, target: Any, snap_m: float) -> nx.MultiDiGraph:
    """A line layer with a ``highway`` column as a projected MultiDiGraph (osmnx conventions).

    Nodes are the line ends, joined when closer than ``snap_m`` (at their mean position);
    each line is an edge both ways unless ``oneway`` says otherwise.
    """
    try:
        layer = (
            gpd.read_parquet(path) if path.name.lower().endswith((".parquet", ".geoparquet")) else gpd.read_file(path)
        )
    except Exception as err:  # pyogrio and pyarrow raise their own error types
        msg = f"roads {str(path)!r} cannot be read as a line layer ({err})"
        raise NetworkError(msg) from err
    if "highway" not in layer.columns:
        columns = [str(c) for c in layer.columns if c != layer.geometry.name]
        msg = (
            f"roads {str(path)!r} has no 'highway' column{did_you_mean('highway', columns)}; it has "
            f"{', '.join(columns) or 'no attribute columns'}; expected OSM road classes such as primary, residential"
        )
        raise InputError(msg)
    if layer.crs is None:
        msg = f"roads {str(path)!r} has no CRS; expected a line layer with a coordinate reference system"
        raise CRSError(msg)
    lines = layer[layer.geom_type.isin(["LineString", "MultiLineString"])].explode(index_parts=False)
    lines = lines[~lines.geometry.is_empty & lines["highway"].notna()]
    if lines.empty:
        msg = f"roads {str(path)!r} has no drivable roads; expected lines with a highway class such as primary"
        raise NetworkError(msg)
    if target is None:
        target = layer.crs if layer.crs.is_projected else _utm_of(lines if len(lines) else layer)
    lines = lines.to_crs(target).reset_index(drop=True)

    geoms = lines.geometry.to_numpy()
    ends = np.vstack(
        [shapely.get_coordinates(shapely.get_point(geoms, 0)), shapely.get_coordinates(shapely.get_point(geoms, -1))]
    )
    node_of_end, node_xy = _snap(ends, snap_m)
    n_lines = len(lines)
    u, v = node_of_end[:n_lines], node_of_end[n_lines:]
    # Each line's ends move to their node, so geometry and topology agree.
    coords, part = shapely.get_coordinates(geoms, return_index=True)
    first = np.r_[0, np.flatnonzero(np.diff(part)) + 1]
    last = np.r_[first[1:] - 1, len(part) - 1] if len(part) else first
    coords[first] = node_xy[u]
    coords[last] = node_xy[v]
    geoms = shapely.linestrings(coords, indices=part)

    graph = nx.MultiDiGraph(crs=target, simplified=True)
    graph.add_nodes_from((int(i), {"x": float(x), "y": float(y)}) for i, (x, y) in enumerate(node_xy))
    extra = [c for c in ("maxspeed", "access", "motor_vehicle", "motorcar", "name") if c in lines.columns]
    oneway = lines["oneway"].astype(str).str.strip().str.lower() if "oneway" in lines.columns else None
    lengths = shapely.length(geoms)
    for i in range(n_lines):
        if u[i] == v[i]:
            continue  # a closed ring with no other junction cannot route anywhere
        data = {"osmid": i, "highway": str(lines["highway"].iat[i]), "length": float(lengths[i]), "geometry": geoms[i]}
        data.update({c: _tag(lines[c].iat[i]) for c in extra if pd.notna(lines[c].iat[i])})
        flag = oneway.iat[i] if oneway is not None else ""
        if flag not in _ONEWAY_REVERSE:
            graph.add_edge(int(u[i]), int(v[i]), oneway=flag in _ONEWAY_FORWARD, **data)
        if flag not in _ONEWAY_FORWARD:
            back = {**data, "geometry": geoms[i].reverse()}
            graph.add_edge(int(v[i]), int(u[i]), oneway=flag in _ONEWAY_REVERSE, reversed=True, **back)
    return graph


def _tag(value: Any) -> Any:
    """OSM tags are strings: a numeric ``maxspeed`` column (50.0) reads as "50", as osmnx expects."""
    if isinstance(value, int | float | np.integer | np.floating):
        return f"{float(value):g}"
    return value


def _snap(points: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Node number of every point and node positions: points within ``tolerance`` (chained) join."""
    from scipy.sparse.csgraph import connected_components

    pairs = cKDTree(points).query_pairs(tolerance, output_type="ndarray") if tolerance > 0 else np.empty((0, 2), int)
    # Exactly shared ends join even with zero tolerance.
    _, same = np.unique(points, axis=0, return_inverse=True)
    n = len(points)
    links = csr_matrix(
        (np.ones(len(pairs) + n), (np.r_[pairs[:, 0], np.arange(n)], np.r_[pairs[:, 1], same.ravel() + n])),
        shape=(2 * n, 2 * n),
    )
    _, label = connected_components(links, directed=False)
    _, node = np.unique(label[:n], return_inverse=True)
    counts = np.bincount(node)
    xy = np.column_stack([np.bincount(node, points[:, 0]), np.bincount(node, points[:, 1])]) / counts[:, None]
    return node, xy


def _utm_of(frame: gpd.GeoDataFrame) -> Any:
    from eicgeo.grid import utm_crs

    w, s, e, n = frame.to_crs(4326).total_bounds
    return utm_crs((w + e) / 2, (s + n) / 2)


def _read_graphml(path: Path) -> nx.MultiDiGraph:
    try:
        graph = ox.load_graphml(path)
    except Exception as err:  # networkx raises assorted parser errors
        msg = f"roads {str(path)!r} cannot be read as osmnx GraphML: {err}"
        raise NetworkError(msg) from err
    if graph.graph.get("crs") is None:
        msg = f"roads {str(path)!r} graph has no CRS; expected an osmnx graph with graph['crs']"
        raise CRSError(msg)
    return graph


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _drivable(graph: nx.MultiDiGraph, path: Path) -> nx.MultiDiGraph:
    """Keep edges of drivable classes that motor vehicles may use, then simplify."""
    drop = []
    for u, v, k, data in graph.edges(keys=True, data=True):
        highway = _first(data.get("highway"))
        access = {str(_first(data.get(tag, ""))) for tag in ("access", "motor_vehicle", "motorcar")}
        if highway not in DRIVABLE or access & _NO_ACCESS or str(_first(data.get("area", ""))) == "yes":
            drop.append((u, v, k))
    graph = graph.copy()
    graph.remove_edges_from(drop)
    graph.remove_nodes_from([n for n, degree in graph.degree() if degree == 0])
    if graph.number_of_edges() == 0:
        msg = (
            f"roads {str(path)!r} has no drivable roads; expected ways tagged highway="
            f"{'|'.join(sorted(MAJOR_ROADS))}|... (see eicgeo.roads.DRIVABLE)"
        )
        raise NetworkError(msg)
    if not graph.graph.get("simplified"):
        # Chains are merged only where class and speed limit agree, so every edge has one of each
        # (merged lists would order by string hash and make speeds differ from run to run).
        graph = ox.simplify_graph(graph, edge_attrs_differ=["highway", "maxspeed"])
    return graph


def _largest_strong_component(graph: nx.MultiDiGraph) -> tuple[nx.MultiDiGraph, dict[str, float]]:
    lengths = nx.get_edge_attributes(graph, "length")
    total = float(sum(lengths.values())) or 1.0
    keep = max(nx.strongly_connected_components(graph), key=len)
    sub = graph.subgraph(keep).copy()
    kept = float(sum(nx.get_edge_attributes(sub, "length").values()))
    dropped = {"nodes": graph.number_of_nodes() - sub.number_of_nodes(), "length_share": 1.0 - kept / total}
    return sub, dropped


def _is_projected(graph: nx.MultiDiGraph) -> bool:
    return check_crs(graph.graph["crs"], "roads graph crs").is_projected


# --------------------------------------------------------------------------------------------
# compiling
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CompiledNetwork:
    """A road graph compiled for repeated travel-time queries.

    ``matrix[i, j]`` is the shortest edge travel time (s) from node ``i`` to node ``j``.
    Road points are nodes and points sampled along edges; ``point_edge[p]`` is the edge a point
    lies on (-1 for nodes) and ``point_frac[p]`` its position along it (0..1).
    """

    crs: Any
    node_ids: np.ndarray
    node_xy: np.ndarray
    matrix: csr_matrix
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_time: np.ndarray
    edge_back_time: np.ndarray  # time of the reverse edge, inf where the road is one-way
    edge_highway: np.ndarray
    point_xy: np.ndarray
    point_edge: np.ndarray
    point_frac: np.ndarray
    point_tier: np.ndarray
    _trees: list[cKDTree | None] = field(repr=False, default_factory=list)
    _tier_points: list[np.ndarray] = field(repr=False, default_factory=list)
    _cache: dict = field(repr=False, default_factory=dict, compare=False)

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    def node_times(
        self,
        seeds: Mapping[int, float] | tuple[np.ndarray, np.ndarray],
        *,
        direction: Direction = "to",
        limit: float = np.inf,
    ) -> np.ndarray:
        """Shortest time (s) between every node and the nearest seed.

        ``seeds`` maps node index to an initial time (s). With ``direction="to"`` the times are
        from each node to a seed (travel towards the sources); with ``"from"``, from a seed to
        each node. Unreachable nodes are ``inf``.
        """
        if isinstance(seeds, Mapping):
            idx = np.fromiter(seeds.keys(), dtype=np.int64, count=len(seeds))
            offset = np.fromiter(seeds.values(), dtype=float, count=len(seeds))
        else:
            idx, offset = (np.asarray(a) for a in seeds)
        n = self.n_nodes
        if idx.size == 0:
            return np.full(n, np.inf)
        # A virtual node n joins every seed with its access time; times are then one Dijkstra.
        # Every path uses exactly one virtual edge, so adding 1 s to each (an explicit zero would
        # read as "no edge") and taking it off afterwards is exact.
        base = self.matrix if direction == "from" else self.matrix.T.tocsr()
        extra = csr_matrix((offset + 1.0, (np.full(idx.size, n), idx)), shape=(n + 1, n + 1))
        full = _pad(base, n + 1) + extra
        times = dijkstra(full, directed=True, indices=n, limit=limit + 1.0)
        return times[:n] - 1.0


def _pad(matrix: csr_matrix, size: int) -> csr_matrix:
    m = matrix.tocoo()
    return csr_matrix((m.data, (m.row, m.col)), shape=(size, size))


def compile_network(graph: nx.MultiDiGraph, *, spacing_m: float = 100.0) -> CompiledNetwork:
    """Compile a projected road graph for travel-time queries.

    Parameters
    ----------
    graph : networkx.MultiDiGraph
        From :func:`load_network` (projected, ``travel_time`` on every edge).
    spacing_m : float
        Spacing of the points sampled along edges, usually the grid resolution.
    """
    spacing_m = check_positive(spacing_m, "spacing_m")
    crs = graph.graph.get("crs")
    if crs is None:
        msg = "road graph has no CRS (graph.graph['crs']); load it with eicgeo.roads.load_network"
        raise CRSError(msg)
    if not check_crs(crs, "road graph crs").is_projected:
        msg = "road graph is not projected; expected metres (load it with eicgeo.roads.load_network)"
        raise CRSError(msg)
    node_ids = np.fromiter(graph.nodes, dtype=np.int64, count=graph.number_of_nodes())
    index = pd.Series(np.arange(node_ids.size), index=node_ids)
    node_xy = np.array([(d["x"], d["y"]) for _, d in graph.nodes(data=True)], dtype=float)

    rows = []
    for u, v, data in graph.edges(data=True):
        if "travel_time" not in data:
            msg = f"road edge {u}->{v} has no travel_time; load the graph with eicgeo.roads.load_network"
            raise InputError(msg)
        rows.append((u, v, float(data["travel_time"]), _first(data.get("highway")), data.get("geometry")))
    edges = pd.DataFrame(rows, columns=["u", "v", "time", "highway", "geometry"])
    edges["u"] = index.loc[edges["u"].to_numpy()].to_numpy()
    edges["v"] = index.loc[edges["v"].to_numpy()].to_numpy()
    # Parallel edges: keep the fastest.
    edges = edges.sort_values("time", kind="stable").drop_duplicates(["u", "v"]).sort_index()
    edges = edges[edges["u"] != edges["v"]].reset_index(drop=True)
    n = node_ids.size
    matrix = csr_matrix((np.maximum(edges["time"].to_numpy(), 1e-9), (edges["u"], edges["v"])), shape=(n, n))
    back = pd.Series(edges["time"].to_numpy(), index=pd.MultiIndex.from_arrays([edges["u"], edges["v"]]))
    back_time = back.reindex(pd.MultiIndex.from_arrays([edges["v"], edges["u"]])).to_numpy(dtype=float)
    back_time = np.where(np.isnan(back_time), np.inf, back_time)

    geoms = [
        g if g is not None else shapely.LineString([node_xy[u], node_xy[v]])
        for g, u, v in zip(edges["geometry"], edges["u"], edges["v"], strict=True)
    ]
    geoms = np.asarray(geoms, dtype=object)
    # A two-way road is sampled once (from its u < v edge); its points know both directions.
    sample = (edges["u"].to_numpy() < edges["v"].to_numpy()) | np.isinf(back_time)
    lengths = shapely.length(geoms)
    counts = np.where(sample, np.maximum(np.ceil(lengths / spacing_m).astype(np.int64), 1) - 1, 0)
    edge_of_point = np.repeat(np.arange(len(edges)), counts)
    starts = np.cumsum(counts) - counts
    k = np.arange(edge_of_point.size) - np.repeat(starts, counts) + 1
    frac = k / np.repeat(counts + 1, counts)
    pts = shapely.line_interpolate_point(geoms[edge_of_point], frac, normalized=True)
    interior_xy = shapely.get_coordinates(pts) if pts.size else np.empty((0, 2))

    tiers = np.array([_TIERS.get(h, 2) for h in edges["highway"]], dtype=np.int8)
    node_tier = np.full(n, 2, dtype=np.int8)
    np.minimum.at(node_tier, edges["u"].to_numpy(), tiers)
    np.minimum.at(node_tier, edges["v"].to_numpy(), tiers)
    point_xy = np.vstack([node_xy, interior_xy])
    point_edge = np.concatenate([np.full(n, -1, dtype=np.int64), edge_of_point])
    point_frac = np.concatenate([np.zeros(n), frac])
    point_tier = np.concatenate([node_tier, tiers[edge_of_point]])
    trees = [cKDTree(point_xy[point_tier == t]) if np.any(point_tier == t) else None for t in range(_N_TIERS)]
    return CompiledNetwork(
        crs=crs,
        node_ids=node_ids,
        node_xy=node_xy,
        matrix=matrix,
        edge_u=edges["u"].to_numpy(),
        edge_v=edges["v"].to_numpy(),
        edge_time=edges["time"].to_numpy(),
        edge_back_time=back_time,
        edge_highway=edges["highway"].astype(str).to_numpy(),
        point_xy=point_xy,
        point_edge=point_edge,
        point_frac=point_frac,
        point_tier=point_tier,
        _trees=trees,
        _tier_points=[np.flatnonzero(point_tier == t) for t in range(_N_TIERS)],
    )


# --------------------------------------------------------------------------------------------
# travel-time surfaces
# --------------------------------------------------------------------------------------------
Sources = gpd.GeoDataFrame | gpd.GeoSeries | str | Sequence[str]


def travel_time_surface(
    graph: nx.MultiDiGraph | CompiledNetwork,
    sources: Sources,
    grid: Grid,
    *,
    offroad_kph: float = 10.0,
    max_minutes: float | None = None,
    direction: Direction = "to",
    name: str = "travel_time",
    k: int = 4,
) -> xr.DataArray:
    """Travel time (minutes) between every cell of ``grid`` and the nearest source.

    Parameters
    ----------
    graph : networkx.MultiDiGraph or CompiledNetwork
        A projected graph from :func:`load_network`, or one compiled by
        :func:`compile_network` (faster when several surfaces share a network).
    sources : GeoDataFrame, GeoSeries, str or list of str
        Points or polygons (any CRS; reprojected), or a ``highway`` selector such as
        ``"motorway|trunk|primary"`` or ``["motorway", "trunk"]``: then the roads of those
        classes are the sources. Cells inside source polygons are 0.
    grid : Grid
        Output grid.
    offroad_kph : float
        Speed off the network (unmapped tracks, site access), km/h.
    max_minutes : float, optional
        Cells farther than this are NaN.
    direction : {"to", "from"}
        ``"to"``: from each cell to its nearest source (the default; e.g. trucks going to
        market). ``"from"``: from the sources to each cell (deliveries of raw materials). They
        differ only where one-way roads matter.
    k : int
        Candidate road points per road tier for each cell.

    Returns
    -------
    xarray.DataArray
        float32 minutes on ``grid``; NaN where unreachable or beyond ``max_minutes``.
    """
    if direction not in ("to", "from"):
        msg = f"direction {direction!r} is not 'to' or 'from'"
        raise InputError(msg)
    offroad = check_positive(offroad_kph, "offroad_kph") / 3.6  # m/s
    net = graph if isinstance(graph, CompiledNetwork) else compile_network(graph, spacing_m=grid.resolution)
    if check_crs(net.crs, "road graph crs") != grid.crs:
        msg = (
            f"road graph CRS {check_crs(net.crs, 'road graph crs').to_string()} differs from the grid CRS "
            f"{grid.crs.to_string()}; load the network with crs=grid.crs"
        )
        raise CRSError(msg)
    limit = np.inf if max_minutes is None else check_positive(max_minutes, "max_minutes") * 60.0

    polygons = None
    if isinstance(sources, str) or (isinstance(sources, Sequence) and not isinstance(sources, gpd.GeoSeries)):
        seeds, zero_edges, extra_xy, extra_t = _selector_seeds(net, sources)
    else:
        geoms = _source_geometries(sources, grid)
        seeds, extra_xy, extra_t = _geometry_seeds(net, geoms, grid.resolution, offroad, direction)
        zero_edges = np.zeros(len(net.edge_u), dtype=bool)
        polygons = [g for g in geoms if g.geom_type in ("Polygon", "MultiPolygon")]

    node_t = net.node_times(seeds, direction=direction, limit=limit)
    point_t = _point_times(net, node_t, zero_edges, direction)
    minutes = _cell_times(net, point_t, extra_xy, extra_t, grid, offroad, k) / 60.0
    if polygons:
        import rasterio.features

        inside = rasterio.features.geometry_mask(polygons, grid.shape, grid.transform, invert=True)
        minutes[inside] = 0.0
    minutes[~np.isfinite(minutes)] = np.nan
    if max_minutes is not None:
        minutes[minutes > max_minutes] = np.nan
    attrs = {"units": "minutes", "offroad_kph": offroad_kph, "direction": direction}
    return grid.wrap(minutes.astype(np.float32), name, attrs=attrs)


def _source_geometries(sources: gpd.GeoDataFrame | gpd.GeoSeries, grid: Grid) -> list[Any]:
    if not isinstance(sources, gpd.GeoDataFrame | gpd.GeoSeries):
        msg = f"sources must be a GeoDataFrame, GeoSeries or highway selector, got {type(sources).__name__}"
        raise InputError(msg)
    if sources.crs is None:
        msg = "sources have no CRS; expected a GeoDataFrame with a CRS"
        raise CRSError(msg)
    geoms = sources.to_crs(grid.crs).geometry
    geoms = [g for g in geoms if g is not None and not g.is_empty]
    if not geoms:
        msg = "sources are empty; expected at least one point or polygon"
        raise InputError(msg)
    return geoms


def _selector_seeds(net: CompiledNetwork, selector: str | Iterable[str]):
    classes = set(selector.split("|")) if isinstance(selector, str) else set(selector)
    classes = {c.strip() for c in classes if c.strip()}
    known = set(DEFAULT_SPEEDS_KPH)
    unknown = classes - known
    if unknown:
        msg = f"highway selector has unknown class(es) {sorted(unknown)}; expected some of {sorted(known)}"
        raise InputError(msg)
    chosen = np.isin(net.edge_highway, sorted(classes))
    if not chosen.any():
        msg = f"the road network has no roads of class {'|'.join(sorted(classes))}"
        raise NetworkError(msg)
    nodes = np.unique(np.concatenate([net.edge_u[chosen], net.edge_v[chosen]]))
    return (nodes, np.zeros(nodes.size)), chosen, np.empty((0, 2)), np.empty(0)


def _geometry_seeds(net: CompiledNetwork, geoms: list[Any], spacing: float, offroad: float, direction: Direction):
    """Seeds for points, lines and polygons: each snaps to the nearest road point of every tier.

    Lines are sampled along their length and polygons along their boundary, every ``spacing``.
    """
    pts = []
    for g in geoms:
        if g.geom_type in ("Point", "MultiPoint"):
            pts.append(shapely.get_coordinates(g))
        elif g.geom_type in ("LineString", "MultiLineString", "LinearRing"):
            pts.append(_sample_lines(g, spacing))
        else:
            pts.append(_sample_lines(g.boundary, spacing))
    xy = np.vstack(pts)
    seed_idx: list[np.ndarray] = []
    seed_t: list[np.ndarray] = []
    for tier, tree in enumerate(net._trees):
        if tree is None:
            continue
        dist, local = tree.query(xy, k=1)
        global_idx = net._tier_points[tier][local]
        access = dist / offroad
        idx, t = _attach(net, global_idx, access, direction)
        seed_idx.append(idx)
        seed_t.append(t)
    # Nodes inside source polygons are sources themselves.
    polygons = [g for g in geoms if g.geom_type in ("Polygon", "MultiPolygon")]
    if polygons:
        tree = shapely.STRtree(shapely.points(net.node_xy))
        inside = tree.query(polygons, predicate="contains")[1]
        seed_idx.append(np.unique(inside))
        seed_t.append(np.zeros(np.unique(inside).size))
    idx = np.concatenate(seed_idx)
    t = np.concatenate(seed_t)
    order = np.lexsort((t, idx))
    idx, t = idx[order], t[order]
    first = np.r_[True, idx[1:] != idx[:-1]]
    return (idx[first], t[first]), xy, np.zeros(len(xy))


def _sample_lines(lines: Any, spacing: float) -> np.ndarray:
    """Points every ``spacing`` metres (at least one) along each part of a (multi)line."""
    parts = shapely.get_parts(lines)
    out = []
    for part in parts:
        n = max(int(np.ceil(part.length / spacing)), 1)
        out.append(
            shapely.get_coordinates(
                shapely.line_interpolate_point(part, np.linspace(0, 1, n, endpoint=False), normalized=True)
            )
        )
    return np.vstack(out) if out else np.empty((0, 2))


def _attach(net: CompiledNetwork, points: np.ndarray, access: np.ndarray, direction: Direction):
    """Node seeds for sources reached at road points ``points`` after ``access`` seconds."""
    edge = net.point_edge[points]
    on_node = edge < 0
    idx = [points[on_node]]  # node points are the first n_nodes points
    t = [access[on_node]]
    e = edge[~on_node]
    f = net.point_frac[points[~on_node]]
    a = access[~on_node]
    fwd, back = net.edge_time[e], net.edge_back_time[e]
    if direction == "to":
        # Travelling towards the source: from u along the edge (f of it), or from v back along
        # the reverse edge when the road is two-way.
        idx += [net.edge_u[e], net.edge_v[e]]
        t += [a + f * fwd, a + (1 - f) * back]
    else:
        idx += [net.edge_v[e], net.edge_u[e]]
        t += [a + (1 - f) * fwd, a + f * back]
    idx_all, t_all = np.concatenate(idx), np.concatenate(t)
    finite = np.isfinite(t_all)
    return idx_all[finite], t_all[finite]


def _point_times(net: CompiledNetwork, node_t: np.ndarray, zero_edges: np.ndarray, direction: Direction) -> np.ndarray:
    """Time (s) between every road point and the nearest source."""
    n = net.n_nodes
    e = net.point_edge[n:]
    f = net.point_frac[n:]
    u, v = net.edge_u[e], net.edge_v[e]
    fwd, back = net.edge_time[e], net.edge_back_time[e]
    with np.errstate(invalid="ignore"):
        if direction == "to":
            t = np.minimum((1 - f) * fwd + node_t[v], f * back + node_t[u])
        else:
            t = np.minimum(node_t[u] + f * fwd, node_t[v] + (1 - f) * back)
    t = np.where(zero_edges[e], 0.0, t)
    return np.concatenate([node_t, t])


def _cell_times(
    net: CompiledNetwork,
    point_t: np.ndarray,
    extra_xy: np.ndarray,
    extra_t: np.ndarray,
    grid: Grid,
    offroad: float,
    k: int,
    block_rows: int = 256,
) -> np.ndarray:
    """Per cell: min over candidate points of (distance / offroad speed + point time), seconds."""
    out = np.empty(grid.shape, dtype=np.float64)
    cached = _candidates(net, grid, k)
    extra_tree = cKDTree(extra_xy) if len(extra_xy) else None
    for r0 in range(0, grid.height, block_rows):
        rows = slice(r0, min(r0 + block_rows, grid.height))
        if cached is not None:
            n0, n1 = rows.start * grid.width, rows.stop * grid.width
            dist, idx = cached[0][n0:n1], cached[1][n0:n1]
        else:
            dist, idx = _block_candidates(net, grid, rows, k)
        best = (dist / offroad + point_t[idx]).min(axis=1)
        if extra_tree is not None:
            d, j = extra_tree.query(_cell_centres(grid, rows), k=1, workers=-1)
            best = np.minimum(best, d / offroad + extra_t[j])
        out[rows] = best.reshape(-1, grid.width)
    return out


#: Cells x candidates above which candidate lists are recomputed per surface instead of cached
#: (about 8 bytes each: 50 million is 400 MB).
_CACHE_LIMIT = 50_000_000


def _candidates(net: CompiledNetwork, grid: Grid, k: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Candidate road points of every cell (distances in m, point indices), cached per grid.

    The candidates depend only on geometry, not on the sources, so every surface on the same grid
    reuses them and costs one gather and one minimum per cell.
    """
    key = (grid, k)
    if key in net._cache:
        return net._cache[key]
    if grid.height * grid.width * k * _N_TIERS > _CACHE_LIMIT:
        return None
    dist, idx = _block_candidates(net, grid, slice(0, grid.height), k)
    net._cache[key] = (dist, idx)
    return dist, idx


def _block_candidates(net: CompiledNetwork, grid: Grid, rows: slice, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest road points of each road tier for the cells of ``rows``."""
    cells = _cell_centres(grid, rows)
    dists, idxs = [], []
    for tier, tree in enumerate(net._trees):
        if tree is None:
            continue
        kk = min(k, tree.n)
        dist, local = tree.query(cells, k=kk, workers=-1)
        dists.append(dist.reshape(len(cells), kk).astype(np.float32))
        idxs.append(net._tier_points[tier][local.reshape(len(cells), kk)].astype(np.int32))
    return np.hstack(dists), np.hstack(idxs)


def _cell_centres(grid: Grid, rows: slice) -> np.ndarray:
    cx, cy = np.meshgrid(grid.xs, grid.ys[rows])
    return np.column_stack([cx.ravel(), cy.ravel()])
