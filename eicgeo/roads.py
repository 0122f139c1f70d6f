"""Road networks and travel-time surfaces.

Loading (:func:`load_roads`) reads OSM PBF and XML (``.osm``, ``.osm.bz2``) straight into
arrays with pyosmium and numpy (:mod:`eicgeo._osm`), a GIS line layer (``.gpkg``,
``.geojson``, ``.parquet``, ``.shp``) with a ``highway`` column likewise, and an osmnx GraphML
file through osmnx. It keeps the drivable roads and the largest strongly connected component
(scipy), projects to metres (pyproj) and sets ``length`` (m), ``speed_kph`` and travel times on
every road: a :class:`RoadNetwork`. :func:`load_network` returns the same network as an
osmnx-convention :class:`networkx.MultiDiGraph`.

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

import operator
import re
import threading
import weakref
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
from pyproj import CRS, Transformer
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
    "RoadGraph",
    "RoadNetwork",
    "check_source",
    "compile_network",
    "load_compiled",
    "load_network",
    "load_roads",
    "main_roads",
    "parse_maxspeed",
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
class _Stamp:
    """A graph's version: every change to it or to a node's or edge's attributes counts."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


class _AttrDict(dict):
    """The attribute dict of a node or edge of a :class:`RoadGraph`: changes bump the stamp.

    Each graph has its own subclass, whose ``_stamp`` is the graph's: a new dict is then made
    at C speed, with no ``__init__`` in Python.
    """

    __slots__ = ()
    _stamp: _Stamp | None = None

    def _bump(self) -> None:
        stamp = self._stamp
        if stamp is not None:
            stamp.n += 1

    def __setitem__(self, key: Any, value: Any) -> None:
        self._bump()
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        self._bump()
        super().__delitem__(key)

    def __ior__(self, other: Any) -> _AttrDict:
        self._bump()
        return super().__ior__(other)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._bump()
        super().update(*args, **kwargs)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self._bump()
        return super().setdefault(key, default)

    def pop(self, *args: Any) -> Any:
        self._bump()
        return super().pop(*args)

    def popitem(self) -> tuple[Any, Any]:
        self._bump()
        return super().popitem()

    def clear(self) -> None:
        self._bump()
        super().clear()

    def __reduce__(self) -> tuple:
        return (dict, (dict(self),))  # a copy is a plain dict (and its graph is untracked)


def _bumps(name: str) -> Any:
    method = getattr(nx.MultiDiGraph, name)

    def wrapper(self: RoadGraph, *args: Any, **kwargs: Any) -> Any:
        if self._stamp is not None:
            self._stamp.n += 1
        return method(self, *args, **kwargs)

    wrapper.__name__ = wrapper.__qualname__ = name
    wrapper.__doc__ = method.__doc__
    return wrapper


class RoadGraph(nx.MultiDiGraph):
    """The MultiDiGraph :func:`load_network` returns: a :class:`networkx.MultiDiGraph` that
    counts its changes, so :func:`compile_network` (and :func:`travel_time_surface`) can reuse
    its compiled network with no pass over the graph.

    Every change through networkx (adding or removing nodes and edges, setting attributes, as
    ``graph.edges[u, v, k]["travel_time"] = 60`` or :func:`networkx.set_edge_attributes` do)
    counts. A pickled or deep-copied graph no longer counts: it is compiled from a fresh read of
    the graph, as any other MultiDiGraph is. Changing an attribute's value in place (appending
    to a list) does not count.
    """

    _stamp: _Stamp | None = None

    def __init__(self, incoming_graph_data: Any = None, multigraph_input: Any = None, **attr: Any) -> None:
        self._stamp = _Stamp()
        tracked = type("_AttrDict", (_AttrDict,), {"__slots__": (), "_stamp": self._stamp})
        self.node_attr_dict_factory = self.edge_attr_dict_factory = tracked
        super().__init__(incoming_graph_data, multigraph_input, **attr)

    def __getstate__(self) -> dict:
        # A copy holds plain dicts and does not count its changes (see the class docstring).
        state = dict(self.__dict__)
        for name in ("node_attr_dict_factory", "edge_attr_dict_factory"):
            state.pop(name, None)
        state["_stamp"] = None
        return state

    add_node = _bumps("add_node")
    add_nodes_from = _bumps("add_nodes_from")
    remove_node = _bumps("remove_node")
    remove_nodes_from = _bumps("remove_nodes_from")
    add_edge = _bumps("add_edge")
    add_edges_from = _bumps("add_edges_from")
    remove_edge = _bumps("remove_edge")
    remove_edges_from = _bumps("remove_edges_from")
    clear = _bumps("clear")
    clear_edges = _bumps("clear_edges")
    update = _bumps("update")


@dataclass(eq=False)
class RoadNetwork:
    """A drivable road network as arrays: what :func:`load_roads` returns.

    Roads are *segments* between junctions: segment ``s`` runs from node ``u[s]`` to node
    ``v[s]`` through ``coords[offsets[s]:offsets[s + 1]]`` (projected, in ``crs``), and may be
    driven forward (``forward[s]``, u to v) and back (``backward[s]``). Every drivable direction
    is one edge of the osmnx-convention graph :meth:`to_graph` builds. :meth:`compile` makes the
    :class:`CompiledNetwork` that travel-time surfaces need, with no graph in between.

    The arrays are read only: change a network by loading it again.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> lines = gpd.GeoDataFrame({"highway": ["primary", "residential"], "oneway": ["no", "yes"]},
    ...     crs="EPSG:32647", geometry=[LineString([(0, 0), (3000, 0)]), LineString([(3000, 0), (0, 0)])])
    >>> lines.to_file(folder / "roads.gpkg")
    >>> net = load_roads(folder / "roads.gpkg")
    >>> net.number_of_nodes(), net.number_of_edges(), net.travel_time.round().tolist()
    (2, 3, [216.0, 540.0])
    >>> net.compile(spacing_m=1000).node_times({0: 0.0}, direction="from").tolist()
    [0.0, 216.0]
    """

    crs: Any
    node_ids: np.ndarray
    node_xy: np.ndarray
    u: np.ndarray
    v: np.ndarray
    forward: np.ndarray
    backward: np.ndarray
    length: np.ndarray  # m
    speed_kph: np.ndarray
    highway: np.ndarray
    maxspeed: np.ndarray  # the tag (str) or None
    name: np.ndarray  # the tag (str) or None
    osmid: np.ndarray
    offsets: np.ndarray
    coords: np.ndarray
    dropped: dict[str, float] = field(default_factory=lambda: {"nodes": 0, "length_share": 0.0})
    source: str = ""
    _graph: nx.MultiDiGraph | None = field(default=None, repr=False)
    _compiled: dict = field(default_factory=dict, repr=False)

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def travel_time(self) -> np.ndarray:
        """Seconds to drive each segment (either way)."""
        return self.length / (self.speed_kph / 3.6)

    def number_of_nodes(self) -> int:
        return len(self.node_ids)

    def number_of_edges(self) -> int:
        """Drivable directions: the edges of :meth:`to_graph`."""
        return int(self.forward.sum() + self.backward.sum())

    def edge_km(self) -> float:
        """Length of all edges (a two-way road counts twice, as in the graph), km."""
        return float((self.length * (self.forward.astype(float) + self.backward)).sum() / 1000.0)

    def _edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Directed edges: u, v (node indices), segment and whether it runs against the drawing."""
        fwd, back = np.flatnonzero(self.forward), np.flatnonzero(self.backward)
        seg = np.concatenate([fwd, back])
        rev = np.concatenate([np.zeros(fwd.size, bool), np.ones(back.size, bool)])
        u = np.where(rev, self.v[seg], self.u[seg])
        v = np.where(rev, self.u[seg], self.v[seg])
        return u, v, seg, rev

    def geometries(self, segments: np.ndarray | None = None, reverse: np.ndarray | None = None) -> np.ndarray:
        """Segments as shapely LineStrings (all, or ``segments``; drawn backwards where ``reverse``)."""
        seg = np.arange(len(self.u)) if segments is None else np.asarray(segments, dtype=np.int64)
        rev = np.zeros(seg.size, bool) if reverse is None else np.asarray(reverse, dtype=bool)
        if seg.size == 0:
            return np.empty(0, dtype=object)
        start, end = self.offsets[seg], self.offsets[seg + 1]
        count = end - start
        k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        at = np.where(np.repeat(rev, count), np.repeat(end - 1, count) - k, np.repeat(start, count) + k)
        return shapely.linestrings(self.coords[at], indices=np.repeat(np.arange(seg.size), count))

    def compile(self, spacing_m: float = 100.0) -> CompiledNetwork:
        """The network compiled for travel-time queries (cached per spacing)."""
        spacing_m = check_positive(spacing_m, "spacing_m")
        if spacing_m not in self._compiled:
            u, v, seg, rev = self._edges()
            polylines = _Polylines(self.offsets, self.coords, seg, rev)
            self._compiled.clear()  # one spacing at a time: networks are large
            self._compiled[spacing_m] = _compile(
                self.crs,
                self.node_ids,
                self.node_xy,
                u,
                v,
                self.travel_time[seg],
                self.length[seg],
                self.highway[seg],
                polylines,
                spacing_m,
            )
        return self._compiled[spacing_m]

    def to_graph(self) -> nx.MultiDiGraph:
        """The network as an osmnx-convention MultiDiGraph (built once, then cached).

        Nodes have ``x``, ``y``; edges ``osmid``, ``highway``, ``oneway``, ``reversed``,
        ``length`` (m), ``speed_kph``, ``travel_time`` (s), ``geometry`` and, where tagged,
        ``maxspeed`` and ``name``; ``graph["crs"]``, ``["eicgeo_dropped"]`` and
        ``["eicgeo_source"]`` are set.
        """
        if self._graph is None:
            self._graph = self._build_graph()
        return self._graph

    def _build_graph(self, *, direct: bool = True) -> nx.MultiDiGraph:
        graph = RoadGraph(crs=self.crs, simplified=True)
        graph.graph["eicgeo_dropped"] = dict(self.dropped)
        graph.graph["eicgeo_source"] = self.source
        node_attrs, edge_attrs = graph.node_attr_dict_factory, graph.edge_attr_dict_factory
        nodes = [node_attrs(x=x, y=y) for x, y in self.node_xy.tolist()]
        u, v, seg, rev = self._edges()
        geoms = self.geometries(seg, rev)
        oneway = ~(self.forward & self.backward)
        rows = zip(
            self.osmid[seg].tolist(),
            self.highway[seg].tolist(),
            oneway[seg].tolist(),
            rev.tolist(),
            self.length[seg].tolist(),
            self.speed_kph[seg].tolist(),
            self.travel_time[seg].tolist(),
            geoms,
            strict=True,
        )
        data = [
            edge_attrs(osmid=o, highway=h, oneway=w, reversed=r, length=m, speed_kph=k, travel_time=t, geometry=g)
            for o, h, w, r, m, k, t, g in rows
        ]
        for key in ("maxspeed", "name"):
            values = getattr(self, key)[seg]
            for i in np.flatnonzero(pd.notna(values)).tolist():
                dict.__setitem__(data[i], key, values[i])
        ids = self.node_ids.tolist()
        us, vs = self.node_ids[u].tolist(), self.node_ids[v].tolist()
        if direct and all(hasattr(graph, a) for a in ("_succ", "_pred", "_node")):
            _fill_graph(graph, ids, nodes, us, vs, data)
        else:
            graph.add_nodes_from(zip(ids, nodes, strict=True))
            graph.add_edges_from(zip(us, vs, data, strict=True))
        return graph

    def main_roads(self, classes: Iterable[str] = MAJOR_ROADS) -> gpd.GeoDataFrame:
        """The segments of the given ``highway`` classes as lines (``highway``, geometry), one
        per road whichever ways it may be driven (from GraphML, one per edge: every edge is a
        segment)."""
        chosen = np.flatnonzero(np.isin(self.highway.astype(str), list(classes)))
        return gpd.GeoDataFrame(
            {"highway": self.highway[chosen].astype(str)}, geometry=self.geometries(chosen), crs=self.crs
        )

    @classmethod
    def from_graph(cls, graph: nx.MultiDiGraph, source: str = "") -> RoadNetwork:
        """Arrays of a projected osmnx-convention graph: every edge a one-way segment."""
        node_ids = np.fromiter(graph.nodes, dtype=np.int64, count=graph.number_of_nodes())
        node_xy = np.array([(d["x"], d["y"]) for _, d in graph.nodes(data=True)], dtype=float).reshape(-1, 2)
        rows = [
            (u, v, d.get("length", np.nan), d.get("speed_kph", np.nan), _first(d.get("highway")), d.get("geometry"))
            for u, v, d in graph.edges(data=True)
        ]
        index = pd.Series(np.arange(node_ids.size), index=node_ids)
        u = index.loc[[r[0] for r in rows]].to_numpy()
        v = index.loc[[r[1] for r in rows]].to_numpy()
        geoms = np.empty(len(rows), dtype=object)
        geoms[:] = [r[5] for r in rows]
        straight = pd.isna(geoms)
        if straight.any():
            geoms[straight] = shapely.linestrings(np.stack([node_xy[u[straight]], node_xy[v[straight]]], axis=1))
        coords, part = shapely.get_coordinates(list(geoms), return_index=True)
        offsets = np.r_[0, np.cumsum(np.bincount(part, minlength=len(rows)))].astype(np.int64)
        n = len(rows)
        out = cls(
            crs=graph.graph["crs"],
            node_ids=node_ids,
            node_xy=node_xy,
            u=u,
            v=v,
            forward=np.ones(n, bool),
            backward=np.zeros(n, bool),
            length=np.array([r[2] for r in rows], dtype=float),
            speed_kph=np.array([r[3] for r in rows], dtype=float),
            highway=np.array([r[4] for r in rows], dtype=object),
            maxspeed=np.full(n, None, dtype=object),
            name=np.full(n, None, dtype=object),
            osmid=np.arange(n, dtype=np.int64),
            offsets=offsets,
            coords=coords,
            dropped=dict(graph.graph.get("eicgeo_dropped", {"nodes": 0, "length_share": 0.0})),
            source=source,
        )
        out._graph = graph
        return out


def _fill_graph(graph: nx.MultiDiGraph, ids: list, nodes: list, us: list, vs: list, data: list) -> None:
    """Fill an empty MultiDiGraph's own dicts with nodes and edges, as ``add_nodes_from`` and
    ``add_edges_from`` would (the same dicts, keys 0, 1, ... per node pair) but with none of
    their per-edge checks: four times faster on large networks. ``tests/test_roads_arrays.py``
    checks the result equals the public way's."""
    succ, pred, node = graph._succ, graph._pred, graph._node
    for n, attrs in zip(ids, nodes, strict=True):
        node[n] = attrs
        succ[n] = {}
        pred[n] = {}
    for u, v, attrs in zip(us, vs, data, strict=True):
        keys = succ[u].get(v)
        if keys is None:
            succ[u][v] = pred[v][u] = {0: attrs}
        else:
            key = len(keys)
            while key in keys:
                key += 1
            keys[key] = attrs
    cache = getattr(graph, "__networkx_cache__", None)
    if cache:
        cache.clear()


def load_roads(
    path: str | Path,
    network_type: str = "drive",
    *,
    crs: Any = None,
    speeds: Mapping[str, float] | None = None,
    largest_component: bool = True,
    snap_m: float = ROADS.snap_m,
) -> RoadNetwork:
    """Load a road network from a file, offline, as arrays (:class:`RoadNetwork`).

    The parameters are those of :func:`load_network`. OSM PBF and XML are read straight into
    arrays with pyosmium; ways are cut into segments at junctions (nodes shared by ways, or
    used twice by one), at their ends and at nodes missing from a clipped extract. Edge lengths
    are great-circle metres, as osmnx measures them. A ``maxspeed`` tag is read as km/h, with
    ``mph`` and ``knots`` converted and a list (``"50;60"``, or per lane ``"50|60"``) averaged;
    OSM's implicit values (``"DE:urban"``) come from osmnx's table; anything else takes the
    class speed. ``oneway=yes|true|1`` and ``junction=roundabout`` are one-way along the way,
    ``oneway=-1|reverse`` against it. Ways tagged ``access``, ``motor_vehicle`` or ``motorcar``
    ``=no|private`` and ``area=yes`` are left out. GraphML goes through osmnx.

    Examples
    --------
    A primary road with a 60 km/h limit, written as OSM XML: 1,075 m at 60 km/h (64.5 s), both ways.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "roads.osm"
    >>> _ = path.write_text(
    ...     '<?xml version="1.0"?><osm version="0.6">'
    ...     '<node id="1" lat="14.8" lon="100.40" version="1"/><node id="2" lat="14.8" lon="100.41" version="1"/>'
    ...     '<way id="7" version="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="primary"/>'
    ...     '<tag k="maxspeed" v="60"/></way></osm>')
    >>> net = load_roads(path)
    >>> net.crs.to_epsg(), net.number_of_edges(), round(float(net.length[0])), round(float(net.travel_time[0]), 1)
    (32647, 2, 1075, 64.5)
    """
    if network_type != "drive":
        msg = f"network_type {network_type!r} is not supported; expected 'drive'"
        raise InputError(msg)
    path = check_file(path, "roads", _XML_SUFFIXES + _PBF_SUFFIXES + _GRAPHML_SUFFIXES + _LINE_SUFFIXES)
    target = check_crs(crs, "roads crs") if crs is not None else None
    table = dict(DEFAULT_SPEEDS_KPH)
    table.update({str(k): check_positive(v, f"speed for highway={k}") for k, v in (speeds or {}).items()})
    name = path.name.lower()
    if name.endswith(_GRAPHML_SUFFIXES):
        graph = _graph_network(_read_graphml(path), path, target, table, largest_component)
        return RoadNetwork.from_graph(graph, source=path.name)
    if name.endswith(_LINE_SUFFIXES):
        raw = _read_lines(path, target, check_positive(snap_m, "snap_m", allow_zero=True))
    else:
        raw = _read_osm(path, target)
    return _finish(raw, path, table, largest_component)


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
        Project to this CRS (metres); default the local UTM zone (a projected line layer keeps
        its own CRS).
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
        It is :meth:`RoadNetwork.to_graph` of :func:`load_roads`, which reads the file into
        arrays (faster, and all a travel-time surface needs); GraphML is read by osmnx.

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
    net = load_roads(path, network_type, crs=crs, speeds=speeds, largest_component=largest_component, snap_m=snap_m)
    return net.to_graph()


def load_compiled(
    path: str | Path,
    *,
    spacing_m: float = 100.0,
    crs: Any = None,
    speeds: Mapping[str, float] | None = None,
    largest_component: bool = True,
    snap_m: float = ROADS.snap_m,
) -> CompiledNetwork:
    """:func:`load_roads`, compiled for travel-time surfaces with road points every ``spacing_m``."""
    net = load_roads(path, crs=crs, speeds=speeds, largest_component=largest_component, snap_m=snap_m)
    return net.compile(spacing_m)


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


def main_roads(graph: nx.MultiDiGraph | RoadNetwork, classes: Iterable[str] = MAJOR_ROADS) -> gpd.GeoDataFrame:
    """The edges of the given ``highway`` classes as lines (``highway``, geometry), for maps.

    A :class:`RoadNetwork` gives one line per road (see :meth:`RoadNetwork.main_roads`).

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
    if isinstance(graph, RoadNetwork):
        return graph.main_roads(classes)
    edges = ox.graph_to_gdfs(graph, nodes=False)[["highway", "geometry"]]
    edges["highway"] = edges["highway"].map(_first)
    return edges[edges["highway"].isin(list(classes))].reset_index(drop=True)


@dataclass
class _Raw:
    """Segments before the component and speed steps (projected; see :class:`RoadNetwork`)."""

    crs: Any
    node_ids: np.ndarray
    node_xy: np.ndarray
    u: np.ndarray
    v: np.ndarray
    forward: np.ndarray
    backward: np.ndarray
    length: np.ndarray
    highway: np.ndarray
    maxspeed: np.ndarray
    name: np.ndarray
    osmid: np.ndarray
    offsets: np.ndarray
    coords: np.ndarray


def _no_drivable(path: Path, classes: Iterable[str]) -> NetworkError:
    return NetworkError(
        f"roads {str(path)!r} has no drivable roads; expected ways tagged highway="
        f"{'|'.join(classes)}|... (see eicgeo.roads.DRIVABLE)"
    )


def _read_osm(path: Path, target: Any) -> _Raw:
    """OSM XML or PBF straight into segments (pyosmium and numpy; see :mod:`eicgeo._osm`).

    Extracts clipped to a bounding box often hold ways whose nodes lie outside the file; such
    ways are split at the missing nodes instead of failing the whole load.
    """
    from eicgeo import _osm

    try:
        ways = _osm.read_ways(path, DRIVABLE)
    except RuntimeError as err:
        msg = f"roads {str(path)!r} is truncated or not valid OSM ({err})"
        raise NetworkError(msg) from err
    if ways.n_ways == 0:
        raise _no_drivable(path, MAJOR_ROADS)
    tags = {k: pd.Series(v, dtype=object) for k, v in ways.tags.items()}
    blocked = tags["area"].eq("yes").to_numpy()
    for key in ("access", "motor_vehicle", "motorcar"):
        blocked = blocked | tags[key].isin(_NO_ACCESS).to_numpy()
    seg = _osm.split_ways(ways, ~blocked)
    if len(seg.u) == 0:
        raise _no_drivable(path, sorted(MAJOR_ROADS))
    oneway = tags["oneway"].to_numpy()[seg.way]
    reverse = pd.Series(oneway, dtype=object).isin(_ONEWAY_REVERSE).to_numpy()
    one = pd.Series(oneway, dtype=object).isin(_ONEWAY_FORWARD).to_numpy()
    one = one | pd.Series(ways.tags["junction"][seg.way], dtype=object).eq("roundabout").to_numpy()
    # Project to the CRS asked for, else the local UTM zone (at the centre of the roads' extent).
    if target is None:
        from eicgeo.grid import utm_crs

        (w, s), (e, n) = seg.node_lonlat.min(axis=0), seg.node_lonlat.max(axis=0)
        target = utm_crs((w + e) / 2, (s + n) / 2)
    to_xy = Transformer.from_crs(4326, target, always_xy=True)
    node_xy = np.column_stack(to_xy.transform(seg.node_lonlat[:, 0], seg.node_lonlat[:, 1]))
    coords = np.column_stack(to_xy.transform(seg.lonlat[:, 0], seg.lonlat[:, 1]))
    return _Raw(
        crs=CRS.from_user_input(target),
        node_ids=seg.node_ids,
        node_xy=node_xy,
        u=seg.u,
        v=seg.v,
        forward=~reverse,
        backward=reverse | ~one,
        length=seg.length,
        highway=ways.tags["highway"][seg.way],
        maxspeed=ways.tags["maxspeed"][seg.way],
        name=ways.tags["name"][seg.way],
        osmid=ways.way_id[seg.way],
        offsets=seg.offsets,
        coords=coords,
    )


def _finish(raw: _Raw, path: Path, table: Mapping[str, float], largest_component: bool) -> RoadNetwork:
    """The largest strongly connected component, speeds and travel times, as a RoadNetwork."""
    from scipy.sparse.csgraph import connected_components

    n = len(raw.node_ids)
    dropped = {"nodes": 0, "length_share": 0.0}
    keep_seg = np.ones(len(raw.u), dtype=bool)
    if largest_component:
        a = np.concatenate([raw.u[raw.forward], raw.v[raw.backward]])
        b = np.concatenate([raw.v[raw.forward], raw.u[raw.backward]])
        adjacency = csr_matrix((np.ones(a.size, dtype=np.int8), (a, b)), shape=(n, n))
        _, label = connected_components(adjacency, directed=True, connection="strong")
        keep = label == np.argmax(np.bincount(label))
        keep_seg = keep[raw.u] & keep[raw.v]
        directed = raw.length * (raw.forward.astype(float) + raw.backward)
        total = directed.sum()
        dropped = {
            "nodes": int(n - keep.sum()),
            "length_share": float(directed[~keep_seg].sum() / total) if total else 0.0,
        }
    else:
        keep = np.zeros(n, dtype=bool)
        keep[raw.u] = keep[raw.v] = True
    new_index = np.cumsum(keep) - 1
    seg = np.flatnonzero(keep_seg)
    count = raw.offsets[seg + 1] - raw.offsets[seg]
    at = np.repeat(raw.offsets[seg], count) + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    return RoadNetwork(
        crs=raw.crs,
        node_ids=raw.node_ids[keep],
        node_xy=raw.node_xy[keep],
        u=new_index[raw.u[seg]],
        v=new_index[raw.v[seg]],
        forward=raw.forward[seg],
        backward=raw.backward[seg],
        length=raw.length[seg],
        speed_kph=_speeds(raw.highway[seg], raw.maxspeed[seg], table),
        highway=raw.highway[seg],
        maxspeed=raw.maxspeed[seg],
        name=raw.name[seg],
        osmid=raw.osmid[seg],
        offsets=np.r_[0, np.cumsum(count)].astype(np.int64),
        coords=raw.coords[at],
        dropped=dropped,
        source=path.name,
    )


def parse_maxspeed(value: Any) -> float | None:
    """km/h of an OSM ``maxspeed`` value, or None when it says nothing usable.

    Numbers are km/h unless followed by ``mph`` or ``knots``; a decimal comma is read as a
    point; lists (``"50;60"``, per lane ``"50|60"``) give their mean; OSM's implicit values such
    as ``"DE:urban"`` come from osmnx's table.

    Examples
    --------
    >>> [parse_maxspeed(v) for v in ("50", "30 mph", "50;70", "60|80", "DE:urban", "signals", None)]
    [50.0, 48.28032, 60.0, 70.0, 50.0, None, None]
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value) if value > 0 else None
    text = str(value).strip()
    parts = [p.strip() for p in re.split(r"[;|]", text)]
    speeds = []
    for part in parts:
        match = _MAXSPEED.match(part)
        if match is None:
            break
        number = float(match.group(1).replace(",", "."))
        unit = (match.group(2) or "").lower()
        speeds.append(number * _UNIT_KPH.get(unit, 1.0))
    else:
        mean = float(np.mean(speeds)) if speeds else 0.0
        return mean if mean > 0 else None
    implicit = getattr(ox.routing, "_IMPLICIT_MAXSPEEDS", {}).get(text)
    return float(implicit) if implicit is not None else None


_MAXSPEED = re.compile(r"^([0-9][0-9.,]*?)\s*(km/h|kmh|kph|mph|knots)?$", re.IGNORECASE)
_UNIT_KPH = {"mph": 1.609344, "knots": 1.852}


def _speeds(highway: np.ndarray, maxspeed: np.ndarray, table: Mapping[str, float]) -> np.ndarray:
    """km/h per road: its ``maxspeed`` where usable, else its class's, else unclassified's.

    Each distinct tag value is parsed once."""
    codes, values = pd.factorize(pd.Series(maxspeed, dtype=object))
    parsed = np.array([parse_maxspeed(x) for x in values] + [None], dtype=float)
    tagged = parsed[codes]  # code -1 (no tag) takes the trailing NaN
    classes, inverse = np.unique(highway.astype(str), return_inverse=True)
    fallback = table["unclassified"]
    default = np.array([table.get(c, fallback) for c in classes], dtype=float)[inverse]
    return np.where(np.isnan(tagged), default, tagged)


def _read_lines(path: Path, target: Any, snap_m: float) -> _Raw:
    """A line layer with a ``highway`` column as segments (vectorised).

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
    return _line_segments(layer, path, target, snap_m)


def _line_segments(layer: gpd.GeoDataFrame, path: Path, target: Any, snap_m: float) -> _Raw:
    lines = layer[layer.geom_type.isin(["LineString", "MultiLineString"])]
    if (lines.geom_type == "MultiLineString").any():
        lines = lines.explode(index_parts=False)
    lines = lines[~lines.geometry.is_empty & lines["highway"].notna()]
    if lines.empty:
        msg = f"roads {str(path)!r} has no drivable roads; expected lines with a highway class such as primary"
        raise NetworkError(msg)
    if target is None:
        target = layer.crs if layer.crs.is_projected else _utm_of(lines if len(lines) else layer)
    lines = lines.to_crs(target).reset_index(drop=True)
    n_lines = len(lines)
    coords, part = shapely.get_coordinates(lines.geometry.to_numpy(), return_index=True)
    offsets = np.r_[0, np.cumsum(np.bincount(part, minlength=n_lines))].astype(np.int64)
    first, last = offsets[:-1], offsets[1:] - 1
    node_of_end, node_xy = _snap(np.vstack([coords[first], coords[last]]), snap_m)
    u, v = node_of_end[:n_lines], node_of_end[n_lines:]
    # Each line's ends move to their node, so geometry and topology agree.
    coords[first] = node_xy[u]
    coords[last] = node_xy[v]
    step = np.hypot(*np.diff(coords, axis=0).T)
    step[offsets[1:-1] - 1] = 0.0
    cum = np.r_[0.0, np.cumsum(step)]
    length = cum[last] - cum[first]

    def column(name: str) -> pd.Series:
        if name in lines.columns:
            return lines[name]
        return pd.Series(None, index=lines.index, dtype=object)

    def tags(name: str) -> np.ndarray:
        """A column as OSM tag strings (None where missing), converting each distinct value once."""
        if name not in lines.columns:
            return np.full(n_lines, None, dtype=object)
        codes, values = pd.factorize(lines[name])
        return np.array([_tag_text(x) for x in values] + [None], dtype=object)[codes]

    highway = lines["highway"].astype(str).to_numpy(dtype=object)
    blocked = pd.Series(tags("area"), dtype=object).eq("yes").to_numpy()
    for key in ("access", "motor_vehicle", "motorcar"):
        blocked = blocked | pd.Series(tags(key), dtype=object).isin(_NO_ACCESS).to_numpy()
    # A closed ring with no other junction cannot route anywhere.
    keep = pd.Series(highway).isin(DRIVABLE).to_numpy() & ~blocked & (u != v)
    if not keep.any():
        raise _no_drivable(path, sorted(MAJOR_ROADS))
    flags = column("oneway").astype(str).str.strip().str.lower()
    one = flags.isin(_ONEWAY_FORWARD).to_numpy()
    reverse = flags.isin(_ONEWAY_REVERSE).to_numpy()
    text = tags("maxspeed")
    name = tags("name")
    seg = np.flatnonzero(keep)
    count = offsets[seg + 1] - offsets[seg]
    at = np.repeat(offsets[seg], count) + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    used = np.unique(np.concatenate([u[seg], v[seg]]))
    return _Raw(
        crs=CRS.from_user_input(target),
        node_ids=used.astype(np.int64),
        node_xy=node_xy[used],
        u=np.searchsorted(used, u[seg]),
        v=np.searchsorted(used, v[seg]),
        forward=~reverse[seg],
        backward=~one[seg],
        length=length[seg],
        highway=highway[seg],
        maxspeed=text[seg],
        name=name[seg],
        osmid=seg.astype(np.int64),
        offsets=np.r_[0, np.cumsum(count)].astype(np.int64),
        coords=coords[at],
    )


def _tag_text(value: Any) -> Any:
    """OSM tags are strings: a numeric ``maxspeed`` column (50.0) reads as "50"; missing is None."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        return f"{float(value):g}"
    return str(value)


def _snap(points: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Node number of every point and node positions: points within ``tolerance`` (chained) join."""
    from scipy.sparse.csgraph import connected_components

    pairs = cKDTree(points).query_pairs(tolerance, output_type="ndarray") if tolerance > 0 else np.empty((0, 2), int)
    # Exactly shared ends join even with zero tolerance (x + iy: one fast 1-D unique).
    flat = np.ascontiguousarray(points, dtype=float).view(np.complex128).ravel()
    _, same = np.unique(flat, return_inverse=True)
    n = len(points)
    links = csr_matrix(
        (np.ones(len(pairs) + n), (np.r_[pairs[:, 0], np.arange(n)], np.r_[pairs[:, 1], same.ravel() + n])),
        shape=(2 * n, 2 * n),
    )
    _, label = connected_components(links, directed=False)
    # Number the groups 0.. in order of their labels (as a sorted unique would, in one pass).
    present = np.zeros(label.max() + 1, dtype=bool)
    present[label[:n]] = True
    node = (np.cumsum(present) - 1)[label[:n]]
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


def _graph_network(
    graph: nx.MultiDiGraph, path: Path, target: Any, table: Mapping[str, float], largest_component: bool
) -> nx.MultiDiGraph:
    """A graph read by osmnx (GraphML): drivable edges, its largest component, projected, timed."""
    graph = _drivable(graph, path)
    dropped = {"nodes": 0, "length_share": 0.0}
    if largest_component:
        graph, dropped = _largest_strong_component(graph)
    current = check_crs(graph.graph["crs"], "roads graph crs")
    if (target is not None and current != target) or not current.is_projected:
        graph = ox.project_graph(graph, to_crs=target)
    # Speeds as for OSM files (maxspeed lists, from simplified chains, are averaged like "50;60").
    data = [d for *_, d in graph.edges(data=True)]
    highway = np.array([str(_first(d.get("highway"))) for d in data], dtype=object)
    maxspeed = np.array(
        [";".join(map(str, m)) if isinstance(m := d.get("maxspeed"), list) else m for d in data], dtype=object
    )
    speed = _speeds(highway, maxspeed, table)
    for d, kph in zip(data, speed.tolist(), strict=True):
        d["speed_kph"] = kph
        d["travel_time"] = d["length"] / (kph / 3.6)
    graph.graph["eicgeo_dropped"] = dropped
    graph.graph["eicgeo_source"] = path.name
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
        raise _no_drivable(path, sorted(MAJOR_ROADS))
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
    ``edge_*`` describe the edges kept (the fastest of parallel ones, no self-loops):
    ``edge_length`` is in metres. Road points are nodes and points sampled along edges;
    ``point_edge[p]`` is the edge a point lies on (-1 for nodes) and ``point_frac[p]`` its
    position along it (0..1). Make one with :func:`compile_network` or
    :meth:`RoadNetwork.compile`; :func:`travel_time_surface` caches its cell lookups on it.

    Examples
    --------
    >>> import networkx as nx
    >>> graph = nx.MultiDiGraph(crs="EPSG:32647")
    >>> graph.add_node(1, x=0.0, y=0.0); graph.add_node(2, x=500.0, y=0.0)
    >>> _ = graph.add_edge(1, 2, highway="primary", length=500.0, travel_time=36.0)
    >>> network = compile_network(graph, spacing_m=250)
    >>> network.matrix.toarray().tolist(), network.point_frac.tolist(), network.edge_length.tolist()
    ([[0.0, 36.0], [0.0, 0.0]], [0.0, 0.0, 0.5], [500.0])
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
    edge_length: np.ndarray  # metres
    point_xy: np.ndarray
    point_edge: np.ndarray
    point_frac: np.ndarray
    point_tier: np.ndarray
    _tier_points: list[np.ndarray] = field(repr=False, default_factory=list)
    _cache: dict = field(repr=False, default_factory=dict, compare=False)

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    def forget_lookups(self) -> None:
        """Drop the cell lookups that :func:`travel_time_surface` cached, whole-grid arrays of 8
        bytes per cell and road tier; the next surface on a grid makes them again. A run drops
        them once its zones are ranked (the rural population within reach reads them)."""
        for key in [k for k in self._cache if isinstance(k, tuple) and k[0] == "lookup"]:
            del self._cache[key]

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


#: The last network compiled from each graph passed to :func:`compile_network`, with what it was
#: compiled from (see :class:`_GraphArrays`), so an edited graph compiles again.
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def compile_network(graph: nx.MultiDiGraph | RoadNetwork, *, spacing_m: float = 100.0) -> CompiledNetwork:
    """Compile a projected road graph for travel-time queries.

    The result is cached on the graph until its nodes, edges, node positions, ``travel_time``,
    ``length``, ``highway`` or ``geometry`` change: compiling it again (or
    :func:`travel_time_surface` on it) is then free for a :class:`RoadGraph` (what
    :func:`load_network` returns), which counts its changes, and a read of the graph's arrays
    (no compiling) for any other MultiDiGraph.

    Parameters
    ----------
    graph : networkx.MultiDiGraph or RoadNetwork
        From :func:`load_network` (projected, ``travel_time`` on every edge), or
        :func:`load_roads`.
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
    >>> compile_network(graph, spacing_m=100) is network
    True
    """
    if isinstance(graph, RoadNetwork):
        return graph.compile(spacing_m)
    spacing_m = check_positive(spacing_m, "spacing_m")
    crs = graph.graph.get("crs")
    if crs is None:
        msg = "road graph has no CRS (graph.graph['crs']); load it with eicgeo.roads.load_network"
        raise CRSError(msg)
    if not check_crs(crs, "road graph crs").is_projected:
        msg = "road graph is not projected; expected metres (load it with eicgeo.roads.load_network)"
        raise CRSError(msg)
    cached = _COMPILED.get(graph)
    stamp = getattr(graph, "_stamp", None) if isinstance(graph, RoadGraph) else None
    key = (spacing_m, str(crs), None if stamp is None else stamp.n)
    if cached is not None and stamp is not None and cached[0] == key:
        return cached[2]  # a RoadGraph unchanged since: no need to read it
    arrays = _graph_arrays(graph)
    if cached is not None and cached[0][:2] == key[:2] and arrays.same_as(cached[1]):
        network = cached[2]
    else:
        network = arrays.compile(crs, spacing_m)
    _COMPILED[graph] = (key, arrays, network)
    return network


@dataclass
class _GraphArrays:
    """A graph's nodes and edges read into arrays: what compiling needs, and the cache key.

    Two reads of a graph are the same network when every array is equal and every edge holds the
    same geometry object (shapely geometries are immutable; the cache keeps them alive, so an
    object id cannot be reused by another geometry while compared).
    """

    node_ids: np.ndarray
    node_xy: np.ndarray
    out_degree: np.ndarray  # edges leaving each node, in node order: the u of every edge
    v_ids: np.ndarray
    time: np.ndarray
    length: np.ndarray
    highway: list
    geoms: list

    def same_as(self, other: _GraphArrays) -> bool:
        arrays = ("node_ids", "node_xy", "out_degree", "v_ids", "time", "length")
        return (
            all(np.array_equal(getattr(self, a), getattr(other, a), equal_nan=a != "node_ids") for a in arrays)
            and self.highway == other.highway
            and len(self.geoms) == len(other.geoms)
            and all(map(operator.is_, self.geoms, other.geoms))
        )

    def compile(self, crs: Any, spacing_m: float) -> CompiledNetwork:
        u = np.repeat(np.arange(self.node_ids.size), self.out_degree)
        v = pd.Index(self.node_ids).get_indexer(self.v_ids)
        geoms = np.empty(len(self.geoms), dtype=object)
        geoms[:] = self.geoms
        curved = ~pd.isna(geoms)
        highway = np.empty(len(self.highway), dtype=object)
        highway[:] = [_first(h) for h in self.highway]
        return _compile(
            crs,
            self.node_ids,
            self.node_xy,
            u,
            v,
            self.time,
            self.length,
            highway,
            _Polylines.from_geometries(geoms, curved),
            spacing_m,
        )


def _graph_arrays(graph: nx.MultiDiGraph) -> _GraphArrays:
    """Read a MultiDiGraph's nodes and edges in a few C-level passes over its adjacency dicts."""
    node_data = graph._node  # networkx's own dicts: reading them directly is several times faster
    adjacency = graph._adj
    n = len(node_data)
    node_ids = np.fromiter(node_data, dtype=np.int64, count=n)
    attrs = list(node_data.values())
    node_xy = np.column_stack(
        [np.fromiter(map(operator.itemgetter(k), attrs), dtype=float, count=n) for k in ("x", "y")]
    ).reshape(-1, 2)
    out_degree = np.fromiter((sum(map(len, nbrs.values())) for nbrs in adjacency.values()), dtype=np.int64, count=n)
    m = int(out_degree.sum())
    v_ids = np.fromiter(
        (v for nbrs in adjacency.values() for v, keys in nbrs.items() for _ in keys), dtype=np.int64, count=m
    )
    data = [d for nbrs in adjacency.values() for keys in nbrs.values() for d in keys.values()]
    times = list(map(operator.methodcaller("get", "travel_time"), data))
    if None in times:
        k = times.index(None)
        u = np.repeat(node_ids, out_degree)[k]
        msg = f"road edge {u}->{v_ids[k]} has no travel_time; load the graph with eicgeo.roads.load_network"
        raise InputError(msg)
    return _GraphArrays(
        node_ids=node_ids,
        node_xy=node_xy,
        out_degree=out_degree,
        v_ids=v_ids,
        time=np.array(times, dtype=float),
        length=np.array(list(map(operator.methodcaller("get", "length", np.nan), data)), dtype=float),
        highway=list(map(operator.methodcaller("get", "highway"), data)),
        geoms=list(map(operator.methodcaller("get", "geometry"), data)),
    )


@dataclass
class _Polylines:
    """Edge shapes: directed edge ``e`` follows polyline ``line[e]`` (``coords[offsets[k]:offsets[k+1]]``),
    backwards where ``rev[e]``; ``line[e] = -1`` is a straight edge between its nodes."""

    offsets: np.ndarray
    coords: np.ndarray
    line: np.ndarray
    rev: np.ndarray

    @classmethod
    def from_geometries(cls, geoms: np.ndarray, curved: np.ndarray) -> _Polylines:
        line = np.full(len(geoms), -1, dtype=np.int64)
        line[curved] = np.arange(int(curved.sum()))
        if curved.any():
            coords, part = shapely.get_coordinates(geoms[curved], return_index=True)
            offsets = np.r_[0, np.cumsum(np.bincount(part, minlength=int(curved.sum())))].astype(np.int64)
        else:
            coords, offsets = np.empty((0, 2)), np.zeros(1, np.int64)
        return cls(offsets, coords, line, np.zeros(len(geoms), dtype=bool))

    def subset(self, edges: np.ndarray) -> _Polylines:
        return _Polylines(self.offsets, self.coords, self.line[edges], self.rev[edges])

    def planar_length(self, straight_length: np.ndarray) -> np.ndarray:
        """Drawn length of every edge (m): its polyline's, or ``straight_length``."""
        out = np.asarray(straight_length, dtype=float).copy()
        curved = self.line >= 0
        if curved.any():
            cum = self._cumulative()
            k = self.line[curved]
            out[curved] = cum[self.offsets[k + 1] - 1] - cum[self.offsets[k]]
        return out

    def _cumulative(self) -> np.ndarray:
        step = np.hypot(*np.diff(self.coords, axis=0).T) if len(self.coords) > 1 else np.empty(0)
        if len(self.offsets) > 2:
            step[self.offsets[1:-1] - 1] = 0.0
        return np.r_[0.0, np.cumsum(step)]

    def interpolate(self, edge: np.ndarray, frac: np.ndarray) -> np.ndarray:
        """Points at ``frac`` (0..1) of the drawn length along curved edges ``edge``."""
        if edge.size == 0:
            return np.empty((0, 2))
        cum = self._cumulative()
        k = self.line[edge]
        f = np.where(self.rev[edge], 1.0 - frac, frac)
        first, last = self.offsets[k], self.offsets[k + 1] - 1
        target = cum[first] + f * (cum[last] - cum[first])
        j = np.clip(np.searchsorted(cum, target, side="right") - 1, first, np.maximum(last - 1, first))
        span = cum[j + 1] - cum[j] if len(cum) > 1 else np.zeros(j.size)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(span > 0, (target - cum[j]) / span, 0.0)
        t = np.clip(t, 0.0, 1.0)[:, None]
        return self.coords[j] + t * (self.coords[np.minimum(j + 1, last)] - self.coords[j])


def _compile(
    crs: Any,
    node_ids: np.ndarray,
    node_xy: np.ndarray,
    eu: np.ndarray,
    ev: np.ndarray,
    time: np.ndarray,
    length: np.ndarray,
    highway: np.ndarray,
    polylines: _Polylines,
    spacing_m: float,
) -> CompiledNetwork:
    """The compiled network of directed edges ``eu -> ev`` (node indices), all arrays."""
    n = node_ids.size
    if eu.size == 0:
        msg = "road graph has no edges; expected a network from eicgeo.roads.load_network"
        raise NetworkError(msg)
    # Parallel edges: keep the fastest (the first of equal ones); self-loops route nowhere.
    order = np.lexsort((np.arange(eu.size), time, ev, eu))
    su, sv = eu[order], ev[order]
    first = np.r_[True, (su[1:] != su[:-1]) | (sv[1:] != sv[:-1])]
    kept = np.sort(order[first])
    kept = kept[eu[kept] != ev[kept]]
    eu, ev, time, length, highway = eu[kept], ev[kept], time[kept], length[kept], highway[kept]
    polylines = polylines.subset(kept)
    matrix = csr_matrix((np.maximum(time, 1e-9), (eu, ev)), shape=(n, n))
    # The time of each edge's reverse (inf where the road is one-way).
    key = eu.astype(np.int64) * n + ev
    back_key = ev.astype(np.int64) * n + eu
    sorter = np.argsort(key)
    pos = np.clip(np.searchsorted(key, back_key, sorter=sorter), 0, max(key.size - 1, 0))
    match = sorter[pos]
    back_time = np.where(key[match] == back_key, time[match], np.inf)

    straight = polylines.line < 0
    drawn = polylines.planar_length(np.hypot(*(node_xy[ev] - node_xy[eu]).T))
    length = np.where(np.isnan(length), drawn, length)
    # A two-way road is sampled once (from its u < v edge); its points know both directions.
    sample = (eu < ev) | np.isinf(back_time)
    counts = np.where(sample, np.maximum(np.ceil(drawn / spacing_m).astype(np.int64), 1) - 1, 0)
    edge_of_point = np.repeat(np.arange(eu.size), counts)
    starts = np.cumsum(counts) - counts
    k = np.arange(edge_of_point.size) - np.repeat(starts, counts) + 1
    frac = k / np.repeat(counts + 1, counts)
    a, b = node_xy[eu[edge_of_point]], node_xy[ev[edge_of_point]]
    interior_xy = a + frac[:, None] * (b - a)
    curved = ~straight[edge_of_point]
    if curved.any():
        interior_xy[curved] = polylines.interpolate(edge_of_point[curved], frac[curved])

    names = highway.astype(str)
    classes, inverse = np.unique(names, return_inverse=True)
    tiers = np.array([_TIERS.get(h, 2) for h in classes], dtype=np.int8)[inverse]
    node_tier = np.full(n, 2, dtype=np.int8)
    np.minimum.at(node_tier, eu, tiers)
    np.minimum.at(node_tier, ev, tiers)
    point_xy = np.vstack([node_xy, interior_xy])
    point_edge = np.concatenate([np.full(n, -1, dtype=np.int64), edge_of_point])
    point_frac = np.concatenate([np.zeros(n), frac])
    point_tier = np.concatenate([node_tier, tiers[edge_of_point]])
    return CompiledNetwork(
        crs=crs,
        node_ids=node_ids,
        node_xy=node_xy,
        matrix=matrix,
        edge_u=eu,
        edge_v=ev,
        edge_time=time,
        edge_back_time=back_time,
        edge_highway=names,
        edge_length=length,
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
    graph: nx.MultiDiGraph | RoadNetwork | CompiledNetwork,
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
    graph : networkx.MultiDiGraph, RoadNetwork or CompiledNetwork
        A projected graph from :func:`load_network`, a network from :func:`load_roads`, or
        one compiled by :func:`compile_network`. Graphs and networks are compiled once per
        grid resolution and the result cached on them (see :func:`compile_network`).
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


_LOOKUP_LOCK = threading.Lock()


def _lookup(net: CompiledNetwork, grid: Grid) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per road tier with points, the road point serving every cell and its distance, cached."""
    from eicgeo import compute

    key = ("lookup", grid)
    with _LOOKUP_LOCK:  # surfaces computed in threads (compute.thread_map) wait for one lookup
        if key not in net._cache:
            tiers = compute.thread_map(lambda p: _nearest_point_lookup(net.point_xy[p], grid, ids=p), net._tier_points)
            net._cache[key] = [lookup for lookup in tiers if lookup is not None]
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
    # The point nearest its cell's centre represents the cell (of equal offsets, the last in
    # ``xy``): sorted by cell, then offset, then position from the last, the first of each cell.
    order = np.lexsort((-near, offset, cell))
    first = np.ones(order.size, dtype=bool)
    first[1:] = cell[order[1:]] != cell[order[:-1]]
    owner = np.full(height * width, -1, dtype=np.int32)
    owner[cell[order[first]]] = near[order[first]]
    indices = distance_transform_edt(owner.reshape(height, width) < 0, return_distances=False, return_indices=True)
    window = (slice(pad, pad + grid.height), slice(pad, pad + grid.width))
    nearest = indices[0][window] * np.int32(width)  # int32: the padded grid has < 2**31 cells
    nearest += indices[1][window]
    del indices
    point = owner[nearest]
    del nearest, owner
    # float32 offsets from the grid's corner: exact to centimetres over 400 km, and ~5x faster.
    px = (xy[:, 0] - t.c).astype(np.float32)
    py = (xy[:, 1] - t.f).astype(np.float32)
    dx = px[point]
    dx -= (grid.xs - t.c).astype(np.float32)[None, :]
    dy = py[point]
    dy -= (grid.ys - t.f).astype(np.float32)[:, None]
    dist = np.hypot(dx, dy, out=dx)
    return (point if ids is None else ids.astype(np.int32)[point]), dist


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
        if "node_tree" not in net._cache:  # built once per network, not once per source
            net._cache["node_tree"] = shapely.STRtree(shapely.points(net.node_xy))
        inside = np.unique(net._cache["node_tree"].query(polygons, predicate="contains")[1])
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


def reach_sums(
    network: CompiledNetwork,
    sources: gpd.GeoSeries,
    grid: Grid,
    values: np.ndarray,
    *,
    max_minutes: float,
    offroad_kph: float = ROADS.offroad_kph,
    direction: Direction = "to",
) -> np.ndarray:
    """For each source geometry, the sum of ``values`` over the cells within ``max_minutes`` of it.

    The same cells :func:`travel_time_surface` with ``max_minutes`` finds for each geometry on
    its own, without making a surface over the whole grid: each search stops at ``max_minutes``,
    and only the window of cells the reached road points (and the geometry) can serve within
    the remaining off-road time is evaluated. The cost follows the area within reach of each
    geometry, not the grid times the geometries.

    Examples
    --------
    A two-way residential street (20 km/h) running 2 km north from (0, 0), on 200 m cells of
    10 people each. Within 3 minutes of a zone at its south end live 220 people, in the same 22
    cells the whole surface finds:

    >>> import networkx as nx
    >>> from shapely.geometry import box
    >>> street = nx.MultiDiGraph(crs="EPSG:32648")
    >>> street.add_nodes_from([(1, {"x": 0.0, "y": 0.0}), (2, {"x": 0.0, "y": 2000.0})])
    >>> lane = {"highway": "residential", "travel_time": 360.0}
    >>> street.add_edges_from([(1, 2, lane), (2, 1, lane)])
    [0, 0]
    >>> cells = Grid.from_bounds((-1000, -200, 1000, 2200), 200, "EPSG:32648")
    >>> zone = gpd.GeoSeries([box(-100, -100, 100, 100)], crs=cells.crs)
    >>> network = compile_network(street, spacing_m=200)
    >>> people = np.full(cells.shape, 10.0)
    >>> whole = travel_time_surface(network, zone, cells, max_minutes=3.0).values
    >>> reach_sums(network, zone, cells, people, max_minutes=3.0).tolist(), float(people[np.isfinite(whole)].sum())
    ([220.0], 220.0)
    """
    offroad = check_positive(offroad_kph, "offroad_kph") / 3.6
    limit = check_positive(max_minutes, "max_minutes") * 60.0
    values = np.asarray(values)
    if values.shape != grid.shape:
        msg = f"reach_sums values have shape {values.shape}; expected the grid's {grid.shape}"
        raise InputError(msg)
    from eicgeo import compute

    lookups = _lookup(network, grid)
    zero_edges = np.zeros(len(network.edge_u), dtype=bool)

    def one(geom: Any) -> float:
        if geom is None or geom.is_empty:
            return 0.0
        seeds, extra_xy = _geometry_seeds(network, [geom], grid.resolution, offroad, direction)
        seeds = _merge_seeds([seeds])
        node_t = network.node_times(
            _merge_seeds([_attach(network, *seeds, direction)]), direction=direction, limit=limit
        )
        point_t = _point_times(network, node_t, zero_edges, direction, seeds)
        # Cells within reach lie within the remaining off-road time of a reached point or of the
        # geometry itself: a window around them (one cell wider) holds every one.
        reached = network.point_xy[point_t <= limit]
        corners = np.reshape(geom.bounds, (2, 2))
        xy = np.vstack([reached, extra_xy, corners])
        margin = limit * offroad + 2 * grid.resolution
        (west, south), (east, north) = xy.min(axis=0) - margin, xy.max(axis=0) + margin
        cells, window = grid.window((west, south, east, north))
        if window is None:
            return 0.0
        rows, cols = cells
        tables = [(point_t, point[rows, cols], dist[rows, cols]) for point, dist in lookups]
        arrays = [a for table in tables for a in table[1:]]
        if geom.geom_type in ("Polygon", "MultiPolygon"):
            arrays.append(rasterio.features.geometry_mask([geom], window.shape, window.transform, invert=True))
        if arrays:
            within = np.isfinite(_CellBlock([table[0] for table in tables], offroad, max_minutes)(*arrays))
        else:
            within = np.zeros(window.shape, dtype=bool)
        # Straight to the geometry itself, off-road: only the cells within that reach (margin) of
        # its bounds can be served so, and its lookup runs on their (much smaller) window. A cell
        # is within reach as the whole surface has it: its float32 walk, in minutes, at most the limit.
        gw, gs, ge, gn = geom.bounds
        near_cells, near = window.window((gw - margin, gs - margin, ge + margin, gn + margin))
        extra = _nearest_point_lookup(extra_xy, near) if near is not None and len(extra_xy) else None
        if extra is not None:
            walk = extra[1] / offroad  # float32 seconds, as _CellBlock has them
            within[near_cells] |= walk.astype(np.float64) / 60.0 <= max_minutes
        return float(values[rows, cols][within].astype(np.float64).sum())  # float64 sums of any dtype

    # The geometries are independent: side by side in the run's threads.
    return np.fromiter(compute.thread_map(one, sources.to_crs(grid.crs).geometry), dtype=float, count=len(sources))
