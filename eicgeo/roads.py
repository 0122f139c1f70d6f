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
import rasterio.features
import shapely
import xarray as xr
from pyproj import CRS
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from eicgeo._errors import CRSError, InputError, NetworkError
from eicgeo._validate import check_crs, check_degrees, check_file, check_positive, did_you_mean
from eicgeo.grid import Grid
from eicgeo.settings import ROADS

__all__ = [
    "DEFAULT_SPEEDS_KPH",
    "DRIVABLE",
    "MAJOR_ROADS",
    "CompiledNetwork",
    "check_source",
    "compile_network",
    "load_network",
    "main_roads",
    "straight_line_minutes",
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

#: The classes ``road_access`` measures the time to by default (``roads.main_roads``).
MAJOR_ROADS: tuple[str, ...] = ROADS.main_roads

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
    snap_m: float = ROADS.snap_m,
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

    Examples
    --------
    A 3 km primary road with a 1 km residential street at its east end, as a GeoPackage line
    layer in metres: primary roads without ``maxspeed`` take 50 km/h (216 s for 3 km),
    residential ones 20 km/h (180 s for 1 km), each edge both ways.

    >>> import tempfile, pathlib
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> lines = gpd.GeoDataFrame({"highway": ["primary", "residential"]}, crs="EPSG:32647", geometry=[
    ...     LineString([(0, 150), (3000, 150)]), LineString([(3000, 150), (3000, 1150)])])
    >>> lines.to_file(folder / "roads.gpkg")
    >>> graph = load_network(folder / "roads.gpkg")
    >>> graph.number_of_nodes(), graph.number_of_edges()
    (3, 4)
    >>> sorted({(e["highway"], round(e["length"]), round(e["travel_time"])) for *_, e in graph.edges(data=True)})
    [('primary', 3000, 216), ('residential', 1000, 180)]
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


def check_source(path: str | Path) -> tuple[float, float, float, float, Any] | None:
    """Cheap checks of a road file before it is loaded, as ``eicgeo validate`` makes them.

    The extension, then for OSM PBF and XML (plain or bzip2) and GraphML the file's first bytes;
    for a line layer its ``highway`` column, its CRS and that it has features. Returns a line
    layer's bounds and CRS (for an overlap check), else None. Loading can still find a file
    truncated after its header.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "roads.osm.pbf"
    >>> _ = bad.write_bytes(b"<html>not a PBF</html>")
    >>> try:
    ...     check_source(bad)
    ... except NetworkError as err:
    ...     print(str(err).split("(", 1)[1])
    it does not start with an OSM PBF header)
    """
    path = check_file(path, "roads", _XML_SUFFIXES + _PBF_SUFFIXES + _GRAPHML_SUFFIXES + _LINE_SUFFIXES)
    name = path.name.lower()
    with open(path, "rb") as fh:
        head = fh.read(64)
    expected = None
    if name.endswith(_PBF_SUFFIXES) and b"OSMHeader" not in head:
        expected = "an OSM PBF header"
    elif name.endswith(".bz2") and not head.startswith(b"BZh"):
        expected = "the bzip2 signature"
    elif name.endswith((".osm", ".graphml")) and not head.lstrip().startswith(b"<"):
        expected = "XML"
    if expected is not None:
        msg = f"roads {str(path)!r} is truncated or not valid OSM (it does not start with {expected})"
        raise NetworkError(msg)
    if not name.endswith(_LINE_SUFFIXES) or name.endswith((".parquet", ".geoparquet")):
        return None
    import pyogrio

    try:
        info = pyogrio.read_info(path, force_total_bounds=True)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as err:
        msg = f"roads {str(path)!r} cannot be read as a line layer ({' '.join(str(err).split())})"
        raise NetworkError(msg) from err
    fields = [str(f) for f in info["fields"]]
    if "highway" not in fields:
        msg = (
            f"roads {str(path)!r} has no 'highway' column{did_you_mean('highway', fields)}; it has "
            f"{', '.join(fields) or 'no attribute columns'}; expected OSM road classes such as primary, residential"
        )
        raise InputError(msg)
    if info["crs"] is None:
        msg = f"roads {str(path)!r} has no CRS; expected a line layer with a coordinate reference system"
        raise CRSError(msg)
    if not info["features"]:
        msg = f"roads {str(path)!r} has no drivable roads; expected lines with a highway class such as primary"
        raise NetworkError(msg)
    bounds = tuple(float(v) for v in info["total_bounds"])
    check_degrees(bounds, CRS.from_user_input(info["crs"]), f"roads {str(path)!r}")
    return (*bounds, info["crs"])


def main_roads(graph: nx.MultiDiGraph, classes: Iterable[str] = MAJOR_ROADS) -> gpd.GeoDataFrame:
    """The edges of the given ``highway`` classes as lines (``highway``, geometry), for maps.

    Examples
    --------
    >>> import networkx as nx
    >>> from shapely.geometry import LineString
    >>> graph = nx.MultiDiGraph(crs="EPSG:32647")
    >>> graph.add_node(1, x=0, y=0); graph.add_node(2, x=1000, y=0); graph.add_node(3, x=1000, y=500)
    >>> _ = graph.add_edge(1, 2, highway="trunk", length=1000, geometry=LineString([(0, 0), (1000, 0)]))
    >>> _ = graph.add_edge(2, 3, highway="tertiary", length=500, geometry=LineString([(1000, 0), (1000, 500)]))
    >>> main_roads(graph)["highway"].tolist()
    ['trunk']
    """
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
    if len(layer):
        check_degrees(tuple(layer.total_bounds), CRS.from_user_input(layer.crs), f"roads {str(path)!r}")
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
    # Columns as plain lists once: per-row DataFrame access would dominate on large layers.
    extra = {
        c: [_tag(x) if pd.notna(x) else None for x in lines[c]]
        for c in ("maxspeed", "access", "motor_vehicle", "motorcar", "name")
        if c in lines.columns
    }
    highway = lines["highway"].astype(str).tolist()
    flags = lines["oneway"].astype(str).str.strip().str.lower().tolist() if "oneway" in lines.columns else None
    lengths = shapely.length(geoms).tolist()
    edges = []
    for i in range(n_lines):
        if u[i] == v[i]:
            continue  # a closed ring with no other junction cannot route anywhere
        data = {"osmid": i, "highway": highway[i], "length": lengths[i], "geometry": geoms[i]}
        data.update({c: values[i] for c, values in extra.items() if values[i] is not None})
        flag = flags[i] if flags is not None else ""
        if flag not in _ONEWAY_REVERSE:
            edges.append((int(u[i]), int(v[i]), {**data, "oneway": flag in _ONEWAY_FORWARD}))
        if flag not in _ONEWAY_FORWARD:
            back = {**data, "geometry": geoms[i].reverse(), "oneway": flag in _ONEWAY_REVERSE, "reversed": True}
            edges.append((int(v[i]), int(u[i]), back))
    graph.add_edges_from(edges)
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
    # In place: every caller passes the loader's own, freshly read graph.
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
    """Keep the largest strongly connected component, in place (``graph`` is the loader's own)."""
    keep = max(nx.strongly_connected_components(graph), key=len)
    total = lost = 0.0
    for u, v, length in graph.edges(data="length", default=0.0):
        total += length
        if u not in keep or v not in keep:
            lost += length
    drop = [n for n in graph if n not in keep]
    graph.remove_nodes_from(drop)
    return graph, {"nodes": len(drop), "length_share": lost / total if total else 0.0}


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
    lies on (-1 for nodes) and ``point_frac[p]`` its position along it (0..1). Make one with
    :func:`compile_network`; :func:`travel_time_surface` caches its cell lookups on it.

    Examples
    --------
    >>> import networkx as nx
    >>> graph = nx.MultiDiGraph(crs="EPSG:32647")
    >>> graph.add_node(1, x=0.0, y=0.0); graph.add_node(2, x=500.0, y=0.0)
    >>> _ = graph.add_edge(1, 2, highway="primary", length=500.0, travel_time=36.0)
    >>> network = compile_network(graph, spacing_m=250)
    >>> network.matrix.toarray().tolist(), network.point_frac.tolist()
    ([[0.0, 36.0], [0.0, 0.0]], [0.0, 0.0, 0.5])
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
    _tier_points: list[np.ndarray] = field(repr=False, default_factory=list)
    _cache: dict = field(repr=False, default_factory=dict, compare=False)

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    def tier_trees(self) -> list[cKDTree | None]:
        """k-d trees of the road points of each tier (built on first use, for snapping sources)."""
        if "trees" not in self._cache:
            self._cache["trees"] = [cKDTree(self.point_xy[p]) if p.size else None for p in self._tier_points]
        return self._cache["trees"]

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
            idx, offset = _merge_seeds([tuple(np.asarray(a) for a in seeds)])
        n = self.n_nodes
        if idx.size == 0:
            return np.full(n, np.inf)
        # A virtual node n joins every seed with its access time; times are then one Dijkstra.
        # Every path uses exactly one virtual edge, so adding 1 s to each (an explicit zero would
        # read as "no edge") and taking it off afterwards is exact. The virtual node's row is
        # appended to a cached copy of the matrix with an empty last row: no sparse arithmetic.
        key = ("padded", direction)
        if key not in self._cache:
            base = (self.matrix if direction == "from" else self.matrix.T).tocsr()
            base.sort_indices()
            indptr = np.append(base.indptr, base.indptr[-1])
            self._cache[key] = (base.data, base.indices, indptr)
        data, indices, indptr = self._cache[key]
        indptr = indptr.copy()
        indptr[-1] += idx.size
        full = csr_matrix(
            (np.concatenate([data, offset + 1.0]), np.concatenate([indices, idx.astype(indices.dtype)]), indptr),
            shape=(n + 1, n + 1),
        )
        times = dijkstra(full, directed=True, indices=n, limit=limit + 1.0)
        return times[:n] - 1.0


def compile_network(graph: nx.MultiDiGraph, *, spacing_m: float = 100.0) -> CompiledNetwork:
    """Compile a projected road graph for travel-time queries.

    Parameters
    ----------
    graph : networkx.MultiDiGraph
        From :func:`load_network` (projected, ``travel_time`` on every edge).
    spacing_m : float
        Spacing of the points sampled along edges, usually the grid resolution.

    Examples
    --------
    A 3 km two-way road: two nodes, two edges and road points every 100 m between them.

    >>> import networkx as nx
    >>> graph = nx.MultiDiGraph(crs="EPSG:32647")
    >>> graph.add_node(1, x=0.0, y=150.0); graph.add_node(2, x=3000.0, y=150.0)
    >>> for u, v in ((1, 2), (2, 1)):
    ...     _ = graph.add_edge(u, v, highway="primary", length=3000.0, travel_time=216.0)
    >>> network = compile_network(graph, spacing_m=100)
    >>> len(network.node_ids), len(network.point_xy), network.edge_time.tolist()
    (2, 31, [216.0, 216.0])
    """
    spacing_m = check_positive(spacing_m, "spacing_m")
    if graph.number_of_edges() == 0:
        msg = "road graph has no edges; expected a network from eicgeo.roads.load_network"
        raise NetworkError(msg)
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

    eu, ev = edges["u"].to_numpy(), edges["v"].to_numpy()
    geoms = edges["geometry"].to_numpy(dtype=object)
    # Edges without geometry are straight (osmnx convention): sampled by arithmetic, not shapely.
    straight = pd.isna(edges["geometry"]).to_numpy()
    lengths = np.hypot(*(node_xy[ev] - node_xy[eu]).T)
    lengths[~straight] = shapely.length(geoms[~straight])
    # A two-way road is sampled once (from its u < v edge); its points know both directions.
    sample = (eu < ev) | np.isinf(back_time)
    counts = np.where(sample, np.maximum(np.ceil(lengths / spacing_m).astype(np.int64), 1) - 1, 0)
    edge_of_point = np.repeat(np.arange(len(edges)), counts)
    starts = np.cumsum(counts) - counts
    k = np.arange(edge_of_point.size) - np.repeat(starts, counts) + 1
    frac = k / np.repeat(counts + 1, counts)
    a, b = node_xy[eu[edge_of_point]], node_xy[ev[edge_of_point]]
    interior_xy = a + frac[:, None] * (b - a)
    curved = ~straight[edge_of_point]
    if curved.any():
        pts = shapely.line_interpolate_point(geoms[edge_of_point[curved]], frac[curved], normalized=True)
        interior_xy[curved] = shapely.get_coordinates(pts)

    tiers = np.array([_TIERS.get(h, 2) for h in edges["highway"]], dtype=np.int8)
    node_tier = np.full(n, 2, dtype=np.int8)
    np.minimum.at(node_tier, edges["u"].to_numpy(), tiers)
    np.minimum.at(node_tier, edges["v"].to_numpy(), tiers)
    point_xy = np.vstack([node_xy, interior_xy])
    point_edge = np.concatenate([np.full(n, -1, dtype=np.int64), edge_of_point])
    point_frac = np.concatenate([np.zeros(n), frac])
    point_tier = np.concatenate([node_tier, tiers[edge_of_point]])
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
        _tier_points=[np.flatnonzero(point_tier == t) for t in range(_N_TIERS)],
    )


# --------------------------------------------------------------------------------------------
# travel-time surfaces
# --------------------------------------------------------------------------------------------
Sources = gpd.GeoDataFrame | gpd.GeoSeries | xr.DataArray | str | Sequence[str]

#: Road points up to this many cells outside the grid still serve its edge cells.
_PAD_CELLS = 64
#: Rows of cells per step of the in-memory per-cell stage (bounds its temporaries).
_BLOCK_ROWS = 512


def straight_line_minutes(
    sources: gpd.GeoDataFrame | gpd.GeoSeries | xr.DataArray,
    grid: Grid,
    *,
    kph: float = ROADS.fallback_kph,
    detour: float = ROADS.detour,
    name: str = "travel_time",
) -> xr.DataArray:
    """Travel time (minutes) without a road network: the straight-line distance from each cell to
    the nearest source, times ``detour``, at ``kph``.

    ``sources`` are a boolean layer on ``grid`` (urban-centre cells, say) or points, lines and
    polygons (any CRS), which stand for the cells they touch. Distances run between cell centres
    (an exact Euclidean distance transform), so cells holding a source are 0.

    Examples
    --------
    A source in the middle cell of a 1 x 5 strip of 1 km cells: 2 km away, times 1.3, at 30 km/h
    is 5.2 minutes.

    >>> import numpy as np
    >>> from affine import Affine
    >>> grid = Grid("EPSG:32647", Affine(1000, 0, 0, 0, -1000, 1000), (1, 5))
    >>> here = grid.wrap(np.array([[False, False, True, False, False]]), "source")
    >>> [round(float(v), 2) for v in straight_line_minutes(here, grid, kph=30, detour=1.3).values[0]]
    [5.2, 2.6, 0.0, 2.6, 5.2]
    """
    from scipy import ndimage

    kph = check_positive(kph, "kph")
    detour = check_positive(detour, "detour")
    if isinstance(sources, xr.DataArray):
        mask = np.asarray(sources.values).astype(bool)
    else:
        geoms = sources.to_crs(grid.crs).geometry if sources.crs is not None else sources.geometry
        geoms = [g for g in geoms if g is not None and not g.is_empty]
        mask = (
            rasterio.features.geometry_mask(geoms, grid.shape, grid.transform, invert=True, all_touched=True)
            if geoms
            else np.zeros(grid.shape, dtype=bool)
        )
    if not mask.any():
        minutes = np.full(grid.shape, np.nan, dtype=np.float32)
    else:
        metres = ndimage.distance_transform_edt(~mask, sampling=grid.resolution)
        minutes = (metres * detour / (kph * 1000.0 / 60.0)).astype(np.float32)
    attrs = {"units": "minutes", "method": "straight line x detour", "kph": kph, "detour": detour}
    return grid.wrap(minutes, name, attrs=attrs)


def travel_time_surface(
    graph: nx.MultiDiGraph | CompiledNetwork,
    sources: Sources,
    grid: Grid | xr.DataArray,
    *,
    offroad_kph: float = ROADS.offroad_kph,
    max_minutes: float | None = None,
    direction: Direction = "to",
    name: str = "travel_time",
    chunks: int | tuple[int, int] | None = None,
) -> xr.DataArray:
    """Travel time (minutes) between every cell of ``grid`` and the nearest source.

    Parameters
    ----------
    graph : networkx.MultiDiGraph or CompiledNetwork
        A projected graph from :func:`load_network`, or one compiled by
        :func:`compile_network` (faster when several surfaces share a network).
    sources : GeoDataFrame, GeoSeries, DataArray, str or list of str
        Points, lines or polygons (any CRS; reprojected); a boolean DataArray on ``grid`` whose
        True cells are the sources (urban-centre cells, say); or a ``highway`` selector such as
        ``"motorway|trunk|primary"`` or ``["motorway", "trunk"]``, whose roads are then the
        sources. Cells inside source polygons or source cells are 0.
    grid : Grid or DataArray
        Output grid, or a layer on it; a dask-backed layer lends its chunks.
    offroad_kph : float
        Speed off the network (unmapped tracks, site access), km/h.
    max_minutes : float, optional
        Cells farther than this are NaN.
    direction : {"to", "from"}
        ``"to"``: from each cell to its nearest source (the default; e.g. trucks going to
        market). ``"from"``: from the sources to each cell (deliveries of raw materials). They
        differ only where one-way roads matter.
    chunks : int or (rows, cols), optional
        Return a dask-backed layer computed chunk by chunk (the default with a dask-backed
        ``grid`` layer, and in a run with ``[compute] chunks``); the values equal the in-memory
        result.

    Returns
    -------
    xarray.DataArray
        float32 minutes on ``grid``; NaN where unreachable or beyond ``max_minutes``.

    Notes
    -----
    A cell's time is the off-road time (straight line at ``offroad_kph``) to a road point
    plus the network time from that point. Road points are the nodes and points every grid
    resolution along each edge, so cells snap to edges, not only to nodes. A cell's road point
    in each road tier (major, middle, minor) is the point nearest the centre of the nearest
    cell holding points of that tier (an exact Euclidean distance transform); the cell takes the
    fastest of the three, so a cell beside a farm track still finds the highway 300 m away.
    The cell-to-point lookup depends only on the grid and is cached on the compiled network.

    Examples
    --------
    The road of :func:`compile_network`'s example (primary, 50 km/h) on 100 m cells. From the
    road's west end to the cell centred 50 m off the road at 2.95 km: 2.9 km to the nearest
    road point (209 s), then 50 m off the road at 10 km/h (18 s), 3.78 minutes.

    >>> import networkx as nx, geopandas as gpd
    >>> from affine import Affine
    >>> from shapely.geometry import Point
    >>> graph = nx.MultiDiGraph(crs="EPSG:32647")
    >>> graph.add_node(1, x=0.0, y=150.0); graph.add_node(2, x=3000.0, y=150.0)
    >>> for u, v in ((1, 2), (2, 1)):
    ...     _ = graph.add_edge(u, v, highway="primary", length=3000.0, travel_time=216.0)
    >>> grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 300), (3, 30))
    >>> start = gpd.GeoDataFrame(geometry=[Point(0, 150)], crs="EPSG:32647")
    >>> minutes = travel_time_surface(compile_network(graph), start, grid)
    >>> round(float(minutes.values[1, 29]), 2)
    3.78
    """
    if direction not in ("to", "from"):
        msg = f"direction {direction!r} is not 'to' or 'from'"
        raise InputError(msg)
    if isinstance(grid, xr.DataArray):
        if chunks is None and grid.chunks is not None:
            chunks = (grid.chunks[-2], grid.chunks[-1])
        grid = Grid.from_dataarray(grid)
    if chunks is None:  # a chunked run ([compute] chunks) computes every surface chunk by chunk
        from eicgeo import compute

        chunks = compute.current().chunks
    offroad = check_positive(offroad_kph, "offroad_kph") / 3.6  # m/s
    net = graph if isinstance(graph, CompiledNetwork) else compile_network(graph, spacing_m=grid.resolution)
    if check_crs(net.crs, "road graph crs") != grid.crs:
        msg = (
            f"road graph CRS {check_crs(net.crs, 'road graph crs').to_string()} differs from the grid CRS "
            f"{grid.crs.to_string()}; load the network with crs=grid.crs"
        )
        raise CRSError(msg)
    limit = np.inf if max_minutes is None else check_positive(max_minutes, "max_minutes") * 60.0

    inside = None
    extra_xy = np.empty((0, 2))
    if isinstance(sources, xr.DataArray):
        inside = _source_cells(sources, grid)
        seeds, extra_xy = _cell_seeds(net, inside, grid, offroad, direction)
        zero_edges = np.zeros(len(net.edge_u), dtype=bool)
    elif isinstance(sources, str) or (isinstance(sources, Sequence) and not isinstance(sources, gpd.GeoSeries)):
        seeds, zero_edges = _selector_seeds(net, sources)
    else:
        geoms = _source_geometries(sources, grid)
        seeds, extra_xy = _geometry_seeds(net, geoms, grid.resolution, offroad, direction)
        zero_edges = np.zeros(len(net.edge_u), dtype=bool)
        polygons = [g for g in geoms if g.geom_type in ("Polygon", "MultiPolygon")]
        if polygons:
            import rasterio.features

            inside = rasterio.features.geometry_mask(polygons, grid.shape, grid.transform, invert=True)

    # Seeds are road points (nodes first, then edge points) with their access times.
    seeds = _merge_seeds([seeds])
    node_t = net.node_times(_merge_seeds([_attach(net, *seeds, direction)]), direction=direction, limit=limit)
    point_t = _point_times(net, node_t, zero_edges, direction, seeds)
    # Per table: the times of its points, and every cell's point and distance to it (m).
    tables = [(point_t, *lookup) for lookup in _lookup(net, grid)]
    if len(extra_xy):
        # Straight off-road to the source itself (its sample points), where no road is faster.
        extra = _nearest_point_lookup(extra_xy, grid)
        if extra is not None:
            tables.append((np.zeros(len(extra_xy)), *extra))
    block = _CellBlock([t[0] for t in tables], offroad, max_minutes)
    arrays = [a for t in tables for a in t[1:]] + ([inside] if inside is not None else [])
    if chunks is None:
        minutes = np.empty(grid.shape, dtype=np.float32)
        for r0 in range(0, grid.height, _BLOCK_ROWS):
            rows = slice(r0, min(r0 + _BLOCK_ROWS, grid.height))
            minutes[rows] = block(*(a[rows] for a in arrays))
    else:
        minutes = _dask_cells(block, arrays, chunks)
    attrs = {"units": "minutes", "offroad_kph": offroad_kph, "direction": direction}
    return grid.wrap(minutes, name, attrs=attrs)


class _CellBlock:
    """The per-cell stage for a block of cells: the fastest over the tables of off-road plus point time.

    Called with each table's point and distance arrays for the block, then optionally the
    block's source-cell mask (0 minutes there).
    """

    def __init__(self, point_times: list[np.ndarray], offroad: float, max_minutes: float | None):
        self.point_times, self.offroad, self.max_minutes = point_times, offroad, max_minutes

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        best = np.full(arrays[0].shape, np.inf)
        for k, times in enumerate(self.point_times):
            point, dist = arrays[2 * k], arrays[2 * k + 1]
            t = dist / self.offroad
            t += times[point]
            np.minimum(best, t, out=best)
        minutes = best / 60.0
        if len(arrays) > 2 * len(self.point_times):
            minutes[arrays[-1]] = 0.0
        minutes[~np.isfinite(minutes)] = np.nan
        if self.max_minutes is not None:
            minutes[minutes > self.max_minutes] = np.nan
        return minutes.astype(np.float32)


def _dask_cells(block: _CellBlock, arrays: list[np.ndarray], chunks: Any) -> Any:
    """The per-cell stage chunk by chunk over the cell-to-point lookups (dask map_blocks)."""
    import dask.array as da

    lazy = [da.from_array(a, chunks=chunks) for a in arrays]
    return da.map_blocks(block, *lazy, dtype=np.float32)


def _lookup(net: CompiledNetwork, grid: Grid) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per road tier with points, the road point serving every cell and its distance, cached."""
    key = ("lookup", grid)
    if key not in net._cache:
        out = []
        for tier_points in net._tier_points:
            lookup = _nearest_point_lookup(net.point_xy[tier_points], grid, ids=tier_points)
            if lookup is not None:
                out.append(lookup)
        net._cache[key] = out
    return net._cache[key]


def _nearest_point_lookup(
    xy: np.ndarray, grid: Grid, *, ids: np.ndarray | None = None, pad: int = _PAD_CELLS
) -> tuple[np.ndarray, np.ndarray] | None:
    """For every cell, the point of ``xy`` nearest the centre of the nearest cell holding a point.

    The grid is padded by ``pad`` cells so roads just outside it serve its edge cells. The
    nearest occupied cell comes from :func:`scipy.ndimage.distance_transform_edt` (exact
    Euclidean, in C), so the cost is a few passes over the cells whatever the number of points.
    Returns each cell's point, as its ``ids`` entry (default its position in ``xy``), and the
    distance (m, float32) from the cell centre to it; None when no point is near the grid.
    """
    from scipy.ndimage import distance_transform_edt

    t = grid.transform
    height, width = grid.height + 2 * pad, grid.width + 2 * pad
    col = np.floor((xy[:, 0] - t.c) / t.a).astype(np.int64) + pad
    row = np.floor((xy[:, 1] - t.f) / t.e).astype(np.int64) + pad
    near = np.flatnonzero((row >= 0) & (row < height) & (col >= 0) & (col < width))
    if near.size == 0:
        return None
    row, col = row[near], col[near]
    cell = row * width + col
    centre_x = t.c + t.a * (col - pad + 0.5)
    centre_y = t.f + t.e * (row - pad + 0.5)
    offset = np.hypot(xy[near, 0] - centre_x, xy[near, 1] - centre_y)
    # The point nearest its cell's centre represents the cell (one pass; no sort).
    closest = np.full(height * width, np.inf)
    np.minimum.at(closest, cell, offset)
    wins = offset == closest[cell]
    owner = np.full(height * width, -1, dtype=np.int32)
    owner[cell[wins]] = near[wins]
    indices = distance_transform_edt(owner.reshape(height, width) < 0, return_distances=False, return_indices=True)
    window = (slice(pad, pad + grid.height), slice(pad, pad + grid.width))
    nearest = indices[0][window] * np.int32(width)  # int32: the padded grid has < 2**31 cells
    nearest += indices[1][window]
    point = owner[nearest]
    # float32 offsets from the grid's corner: exact to centimetres over 400 km, and ~5x faster.
    px = (xy[:, 0] - t.c).astype(np.float32)
    py = (xy[:, 1] - t.f).astype(np.float32)
    dx = px[point]
    dx -= (grid.xs - t.c).astype(np.float32)[None, :]
    dy = py[point]
    dy -= (grid.ys - t.f).astype(np.float32)[:, None]
    dist = np.hypot(dx, dy, out=dx)
    return (point if ids is None else ids[point].astype(np.int32)), dist


def _source_geometries(sources: gpd.GeoDataFrame | gpd.GeoSeries, grid: Grid) -> list[Any]:
    if not isinstance(sources, gpd.GeoDataFrame | gpd.GeoSeries):
        msg = (
            "sources must be a GeoDataFrame, GeoSeries, boolean DataArray or highway selector, "
            f"got {type(sources).__name__}"
        )
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


def _source_cells(mask: xr.DataArray, grid: Grid) -> np.ndarray:
    """The True cells of a boolean layer on ``grid`` (for example urban-centre cells)."""
    grid.check(mask, f"source cells {mask.name!r}")
    values = np.asarray(mask.values)
    if values.dtype != bool:
        msg = f"source cells {mask.name!r} have dtype {values.dtype}; expected a boolean layer (True at sources)"
        raise InputError(msg)
    if not values.any():
        msg = f"source cells {mask.name!r} has no True cell; expected at least one source cell"
        raise InputError(msg)
    return values


def _cell_seeds(net: CompiledNetwork, inside: np.ndarray, grid: Grid, offroad: float, direction: Direction):
    """Seeds for source cells: road points in them (at 0 s), and the road points nearest the
    centres of their edge cells (at the off-road time). Edge-cell centres are also the points a
    cell can walk straight to."""
    from scipy.ndimage import binary_erosion

    edge = inside & ~binary_erosion(inside, border_value=0)
    rows, cols = np.nonzero(edge)
    xy = np.column_stack([grid.xs[cols], grid.ys[rows]])
    seeds = [_point_seeds(net, xy, offroad, direction)]
    row, col = grid.rowcol(net.point_xy[:, 0], net.point_xy[:, 1])
    ok = (row >= 0) & (row < grid.height) & (col >= 0) & (col < grid.width)
    ok[ok] = inside[row[ok], col[ok]]
    points = np.flatnonzero(ok)
    seeds.append((points, np.zeros(points.size)))
    return _merge_seeds(seeds), xy


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
    return (nodes, np.zeros(nodes.size)), chosen


def _geometry_seeds(net: CompiledNetwork, geoms: list[Any], spacing: float, offroad: float, direction: Direction):
    """Seeds for points, lines and polygons: each snaps to the nearest road point of every tier.

    Lines are sampled along their length and polygons along their boundary, every ``spacing``.
    Returns the seeds and the sample points (which a cell can also walk straight to).
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
    seeds = [_point_seeds(net, xy, offroad, direction)]
    # Nodes inside source polygons are sources themselves.
    polygons = [g for g in geoms if g.geom_type in ("Polygon", "MultiPolygon")]
    if polygons:
        tree = shapely.STRtree(shapely.points(net.node_xy))
        inside = np.unique(tree.query(polygons, predicate="contains")[1])
        seeds.append((inside, np.zeros(inside.size)))
    return _merge_seeds(seeds), xy


def _point_seeds(net: CompiledNetwork, xy: np.ndarray, offroad: float, direction: Direction):
    """Road points reached from sources at ``xy``: the nearest of every tier, at the off-road time."""
    idx, t = [np.empty(0, dtype=np.int64)], [np.empty(0)]
    for tier, tree in enumerate(net.tier_trees()):
        if tree is None or not len(xy):
            continue
        dist, local = tree.query(xy, k=1)
        idx.append(net._tier_points[tier][local])
        t.append(dist / offroad)
    return np.concatenate(idx), np.concatenate(t)


def _merge_seeds(seeds: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """One seed per node (or road point), at its smallest time."""
    idx = np.concatenate([s[0] for s in seeds]).astype(np.int64)
    t = np.concatenate([s[1] for s in seeds]).astype(float)
    order = np.lexsort((t, idx))
    idx, t = idx[order], t[order]
    first = np.r_[True, idx[1:] != idx[:-1]] if idx.size else np.zeros(0, dtype=bool)
    return idx[first], t[first]


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


def _point_times(
    net: CompiledNetwork,
    node_t: np.ndarray,
    zero_edges: np.ndarray,
    direction: Direction,
    seeds: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """Time (s) between every road point and the nearest source.

    A point's time comes through the two ends of its edge, or straight along the edge from a
    source that lies on the same edge (otherwise a point 100 m from a source in the middle of
    a 5 km road would go round by a node).
    """
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
    on_edge = seeds[0] >= n
    if on_edge.any():
        src, access = seeds[0][on_edge] - n, seeds[1][on_edge]
        # Interior points are stored edge by edge: each seed pairs with its edge's run of points.
        first = np.searchsorted(e, e[src], side="left")
        count = np.searchsorted(e, e[src], side="right") - first
        pair_src = np.repeat(np.arange(src.size), count)
        pair_pt = np.arange(pair_src.size) - np.repeat(np.cumsum(count) - count, count) + np.repeat(first, count)
        fs, fp = f[src][pair_src], f[pair_pt]
        ahead = fp >= fs  # the point lies after the source in the edge's direction
        # From the source to the point ("from") or back ("to"): forward or reverse along the edge.
        forward_leg = ahead if direction == "from" else ~ahead
        gap = np.abs(fp - fs)
        with np.errstate(invalid="ignore"):  # inf * 0 where a one-way edge's seed is the point
            leg = np.where(gap > 0, np.where(forward_leg, fwd[pair_pt], back[pair_pt]) * gap, 0.0)
        np.minimum.at(t, pair_pt, leg + access[pair_src])
    return np.concatenate([node_t, t])
