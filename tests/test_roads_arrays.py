"""The array road loader (eicgeo.roads.load_roads) and the compiled-network cache, on small OSM
files written here with pyosmium, with distances and times worked out by hand."""

from __future__ import annotations

import copy
import math
import pickle

import geopandas as gpd
import networkx as nx
import numpy as np
import osmium
import pytest
from affine import Affine
from shapely.geometry import LineString, Point

from eicgeo import Grid, roads
from eicgeo._errors import NetworkError

R = 6_371_009.0  # the mean Earth radius of great-circle lengths
DEG = R * math.pi / 180  # metres per degree of longitude on the equator: 111,195 m
BIG = 10**10  # node ids beyond 2**32, as in today's OSM

# Nodes on the equator every 0.01 degrees of longitude (1,111.95 m), and two north of it.
NODES = {
    "A": (0.00, 0.0),
    "B": (0.01, 0.0),
    "C": (0.02, 0.0),
    "D": (0.03, 0.0),
    "I": (0.04, 0.0),
    "J": (0.05, 0.0),
    "E": (0.01, 0.01),
    "F": (0.02, 0.01),
    "G": (0.02, -0.01),
    "H": (0.03, -0.01),
    "K": (0.07, 0.0),
    "L": (0.08, 0.0),
    "M": (0.09, 0.0),
}
ID = {name: BIG + k for k, name in enumerate(NODES)}
#: (way id, node names, tags). X and Y are referenced but not in the file (a clipped extract).
WAYS = [
    (1, "ABCD", {"highway": "primary", "maxspeed": "30 mph", "name": "Main Road"}),
    (2, "BE", {"highway": "residential", "oneway": "-1"}),  # drivable E -> B only
    (3, "CFE", {"highway": "tertiary", "junction": "roundabout"}),  # C -> F -> E only
    (4, "CG", {"highway": "service"}),  # not a drivable class
    (5, "DH", {"highway": "residential", "access": "private"}),
    (6, "DI", {"highway": "secondary", "maxspeed": "50;70"}),
    (7, "IJ", {"highway": "unclassified", "maxspeed": "DE:urban"}),
    (8, "IXJ", {"highway": "tertiary"}),  # both runs around the missing node are single nodes
    (9, "KLYM", {"highway": "tertiary"}),  # K-L is kept, M is cut off by the missing Y
    (10, "GH", {"highway": "primary", "area": "yes"}),
    (11, "AG", {"highway": "track", "motor_vehicle": "no"}),
]


def write_osm(path, nodes=NODES, ways=WAYS):
    """An OSM file (XML or PBF, by suffix) with these nodes and ways."""
    ids = {**ID, "X": BIG + 100, "Y": BIG + 101}
    with osmium.SimpleWriter(str(path)) as writer:
        for name, (lon, lat) in nodes.items():
            writer.add_node(osmium.osm.mutable.Node(id=ids[name], location=(lon, lat), version=1))
        for way_id, names, tags in ways:
            writer.add_way(osmium.osm.mutable.Way(id=way_id, nodes=[ids[n] for n in names], tags=tags, version=1))
    return path


@pytest.fixture(scope="module")
def osm_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("osm")
    return write_osm(folder / "roads.osm"), write_osm(folder / "roads.osm.pbf")


def _segment(net, a, b):
    """Index of the segment between named nodes a and b (either way round)."""
    index = {int(n): i for i, n in enumerate(net.node_ids)}
    ia, ib = index[ID[a]], index[ID[b]]
    hits = np.flatnonzero(((net.u == ia) & (net.v == ib)) | ((net.u == ib) & (net.v == ia)))
    assert hits.size == 1, (a, b, hits)
    return int(hits[0])


def test_ways_split_at_junctions_with_known_lengths_and_speeds(osm_files):
    for path in osm_files:
        net = roads.load_roads(path)
        assert net.crs.to_epsg() == 32631  # UTM 31N at 0.03 E on the equator
        # Junctions B, C, D, I (shared by two ways) and the ends A, J and E; F is inside way 3.
        assert sorted(net.node_ids - BIG) == sorted(ID[n] - BIG for n in "ABCDIJE")
        assert len(net.u) == 7 and net.number_of_edges() == 12
        ab = _segment(net, "A", "B")
        assert net.length[ab] == pytest.approx(0.01 * DEG, rel=1e-9)
        assert net.speed_kph[ab] == pytest.approx(30 * 1.609344)  # maxspeed 30 mph
        assert net.travel_time[ab] == pytest.approx(0.01 * DEG / (30 * 1.609344 / 3.6), rel=1e-9)
        assert net.name[ab] == "Main Road" and net.osmid[ab] == 1
        cfe = _segment(net, "C", "E")
        # Via F: 0.01 degrees of latitude (as far as 0.01 of longitude on the equator), then west
        # along the parallel at 0.01 N.
        north = R * math.radians(0.01)
        west = 2 * R * math.asin(math.cos(math.radians(0.01)) * math.sin(math.radians(0.01) / 2))
        assert net.length[cfe] == pytest.approx(north + west, rel=1e-9)
        assert net.speed_kph[cfe] == 35  # tertiary, no maxspeed
        assert net.offsets[cfe + 1] - net.offsets[cfe] == 3
        assert net.speed_kph[_segment(net, "D", "I")] == 60  # "50;70": the mean
        assert net.speed_kph[_segment(net, "I", "J")] == 50  # DE:urban, osmnx's implicit table
        assert net.speed_kph[_segment(net, "B", "E")] == 20  # residential
        # Service, private, area and motor_vehicle=no ways are gone, and so are G and H.
        assert not {ID["G"], ID["H"]} & set(net.node_ids.tolist())


def test_oneway_reverse_and_roundabouts_by_node_times(osm_files):
    net = roads.load_roads(osm_files[1])
    compiled = net.compile(spacing_m=200)
    index = {int(n): i for i, n in enumerate(compiled.node_ids)}
    t_bc = net.travel_time[_segment(net, "B", "C")]
    t_cfe, t_be = net.travel_time[_segment(net, "C", "E")], net.travel_time[_segment(net, "B", "E")]
    from_b = compiled.node_times({index[ID["B"]]: 0.0}, direction="from")
    # E is reached from B only round the roundabout: B -> C -> F -> E.
    assert from_b[index[ID["E"]]] == pytest.approx(t_bc + t_cfe)
    from_e = compiled.node_times({index[ID["E"]]: 0.0}, direction="from")
    assert from_e[index[ID["B"]]] == pytest.approx(t_be)  # oneway=-1: E -> B is allowed
    assert from_e[index[ID["C"]]] == pytest.approx(t_be + t_bc)  # not back round the roundabout
    graph = net.to_graph()
    assert graph.has_edge(ID["E"], ID["B"]) and not graph.has_edge(ID["B"], ID["E"])
    assert graph.has_edge(ID["C"], ID["E"]) and not graph.has_edge(ID["E"], ID["C"])


def test_clipped_ways_split_at_missing_nodes(osm_files):
    whole = roads.load_roads(osm_files[1], largest_component=False)
    ids = set(whole.node_ids.tolist())
    assert {ID["K"], ID["L"]} <= ids and ID["M"] not in ids  # M only follows the missing Y
    kl = _segment(whole, "K", "L")
    assert whole.length[kl] == pytest.approx(0.01 * DEG, rel=1e-9) and whole.osmid[kl] == 9
    assert not (whole.osmid == 8).any()  # I-X-J keeps no run of two nodes
    # K-L is its own component: the largest component drops it and says so.
    net = roads.load_roads(osm_files[1])
    assert ID["K"] not in set(net.node_ids.tolist())
    assert net.dropped["nodes"] == 2
    assert net.dropped["length_share"] == pytest.approx(2 * 0.01 * DEG / whole.edge_km() / 1000, rel=1e-9)


def test_xml_and_pbf_give_the_same_arrays(osm_files):
    xml, pbf = (roads.load_roads(p) for p in osm_files)
    for name in ("node_ids", "node_xy", "u", "v", "forward", "backward", "length", "speed_kph", "coords"):
        np.testing.assert_array_equal(getattr(xml, name), getattr(pbf, name))


def test_graph_follows_osmnx_conventions(osm_files):
    net = roads.load_roads(osm_files[1])
    graph = roads.load_network(osm_files[1])
    assert isinstance(graph, nx.MultiDiGraph) and graph.graph["crs"].to_epsg() == 32631
    assert graph.graph["eicgeo_source"] == "roads.osm.pbf" and graph.graph["eicgeo_dropped"]["nodes"] == 2
    assert graph.number_of_nodes() == 7 and graph.number_of_edges() == 12
    x, y = graph.nodes[ID["B"]]["x"], graph.nodes[ID["B"]]["y"]
    assert (x, y) == tuple(net.node_xy[list(net.node_ids).index(ID["B"])])
    (data,) = graph.get_edge_data(ID["A"], ID["B"]).values()
    assert data["highway"] == "primary" and data["maxspeed"] == "30 mph" and data["name"] == "Main Road"
    assert data["oneway"] is False and data["length"] == pytest.approx(0.01 * DEG)
    assert data["travel_time"] == pytest.approx(data["length"] / (data["speed_kph"] / 3.6))
    assert data["reversed"] is False and data["geometry"].coords[-1] == (x, y)
    (back,) = graph.get_edge_data(ID["B"], ID["A"]).values()
    assert back["reversed"] is True and back["geometry"].coords[0] == (x, y)
    (street,) = graph.get_edge_data(ID["E"], ID["B"]).values()
    assert street["oneway"] is True and "maxspeed" not in street and "name" not in street
    # The graph compiles to the network the arrays compile to.
    ours, theirs = net.compile(spacing_m=100), roads.compile_network(graph, spacing_m=100)
    index = {int(n): i for i, n in enumerate(ours.node_ids)}
    seeds = {index[ID["J"]]: 0.0}
    np.testing.assert_allclose(ours.node_times(seeds), theirs.node_times(seeds), rtol=1e-12)
    np.testing.assert_allclose(np.sort(ours.point_xy, axis=0), np.sort(theirs.point_xy, axis=0), atol=1e-6)
    np.testing.assert_allclose(np.sort(ours.edge_length), np.sort(theirs.edge_length))


def test_main_roads_from_arrays_one_line_per_road(osm_files):
    net = roads.load_roads(osm_files[1])
    lines = roads.main_roads(net, ["primary", "secondary"])
    assert sorted(lines["highway"]) == ["primary"] * 3 + ["secondary"]
    assert lines.crs == net.crs
    assert lines.length.sum() == pytest.approx(
        3 * 0.01 * DEG + 0.01 * DEG, rel=3e-3
    )  # UTM metres at 3 degrees from the central meridian
    assert roads.main_roads(net, ["motorway"]).empty


def test_no_drivable_roads_and_truncated_files(tmp_path):
    only_service = write_osm(tmp_path / "service.osm.pbf", ways=[(4, "CG", {"highway": "service"})])
    with pytest.raises(NetworkError, match="service.osm.pbf' has no drivable roads"):
        roads.load_roads(only_service)
    private = write_osm(tmp_path / "private.osm", ways=[(5, "DH", {"highway": "residential", "access": "no"})])
    with pytest.raises(NetworkError, match="private.osm' has no drivable roads"):
        roads.load_roads(private)
    cut = tmp_path / "cut.osm.pbf"
    cut.write_bytes(write_osm(tmp_path / "whole.osm.pbf").read_bytes()[:300])
    with pytest.raises(NetworkError, match="cut.osm.pbf' is truncated or not valid OSM"):
        roads.load_roads(cut)


def test_maxspeed_values():
    assert roads.parse_maxspeed("50") == 50
    assert roads.parse_maxspeed("50 km/h") == 50
    assert roads.parse_maxspeed("60 MPH") == pytest.approx(96.56064)
    assert roads.parse_maxspeed("12,5") == 12.5
    assert roads.parse_maxspeed("40;60;80") == 60
    assert roads.parse_maxspeed("walk") is None and roads.parse_maxspeed("0") is None
    assert roads.parse_maxspeed(None) is None and roads.parse_maxspeed(70.0) == 70


def test_line_layer_access_and_maxspeed_columns(tmp_path):
    layer = gpd.GeoDataFrame(
        {
            "highway": ["primary", "primary", "residential", "secondary"],
            "maxspeed": [None, "45 mph", None, 80.0],
            "access": [None, None, "private", None],
        },
        geometry=[
            LineString([(0, 0), (1000, 0)]),
            LineString([(1000, 0), (1000, 1000)]),
            LineString([(1000, 1000), (2000, 1000)]),
            LineString([(1000, 1000), (0, 0)]),
        ],
        crs="EPSG:32647",
    )
    layer.to_file(tmp_path / "roads.gpkg")
    net = roads.load_roads(tmp_path / "roads.gpkg")
    assert net.number_of_nodes() == 3 and len(net.u) == 3  # the private street is gone
    assert sorted(net.speed_kph.tolist()) == pytest.approx([50, 45 * 1.609344, 80])
    assert net.length.tolist() == pytest.approx([1000, 1000, 1000 * math.sqrt(2)])


# ---------------------------------------------------------------------------- compile cache
def tiny_graph(cls=nx.MultiDiGraph):
    g = cls(crs="EPSG:32647")
    g.add_node(1, x=0.0, y=0.0)
    g.add_node(2, x=1000.0, y=0.0)
    g.add_node(3, x=2000.0, y=0.0)
    for u, v in ((1, 2), (2, 1), (2, 3), (3, 2)):
        g.add_edge(u, v, highway="primary", length=1000.0, travel_time=60.0)
    return g


@pytest.mark.parametrize("cls", [nx.MultiDiGraph, roads.RoadGraph])
def test_compiled_network_is_cached_until_the_graph_changes(cls):
    g = tiny_graph(cls)
    first = roads.compile_network(g, spacing_m=100)
    assert roads.compile_network(g, spacing_m=100) is first  # unchanged: not compiled again
    assert roads.compile_network(g, spacing_m=250) is not first  # another spacing is another network
    again = roads.compile_network(g, spacing_m=100)
    g.edges[1, 2, 0]["travel_time"] = 30.0
    changed = roads.compile_network(g, spacing_m=100)
    assert changed is not again
    assert changed.node_times({0: 0.0}, direction="from").tolist() == [0, 30, 90]
    assert roads.compile_network(g, spacing_m=100) is changed
    g.add_edge(1, 3, highway="motorway", length=2000.0, travel_time=40.0)
    assert roads.compile_network(g, spacing_m=100).node_times({0: 0.0}, direction="from").tolist() == [0, 30, 40]
    g.remove_edge(1, 3)
    nx.set_edge_attributes(g, {(2, 3, 0): 10.0}, "travel_time")
    assert roads.compile_network(g, spacing_m=100).node_times({0: 0.0}, direction="from").tolist() == [0, 30, 40]
    g.nodes[3]["x"] = 3000.0  # a moved node moves its road points
    moved = roads.compile_network(g, spacing_m=100)
    assert moved.node_xy[2].tolist() == [3000.0, 0.0] and moved.point_xy[moved.n_nodes :, 0].max() == pytest.approx(
        2900
    )
    g.edges[2, 3, 0]["geometry"] = LineString([(1000, 0), (2000, 1000), (3000, 0)])  # a new shape
    bent = roads.compile_network(g, spacing_m=100)
    assert bent.point_xy[:, 1].max() > 900
    g.remove_node(3)
    assert roads.compile_network(g, spacing_m=100).n_nodes == 2


def test_copies_of_a_road_graph_are_compiled_afresh(osm_files):
    graph = roads.load_network(osm_files[1])
    assert isinstance(graph, roads.RoadGraph)
    net = roads.compile_network(graph)
    for other in (pickle.loads(pickle.dumps(graph)), copy.deepcopy(graph), graph.copy()):
        assert isinstance(other, roads.RoadGraph)
        compiled = roads.compile_network(other)
        assert compiled is not net
        np.testing.assert_array_equal(compiled.matrix.toarray(), net.matrix.toarray())
        u, v, k = next(iter(other.edges(keys=True)))
        other.edges[u, v, k]["travel_time"] = 1e6
        slow = roads.compile_network(other)
        assert slow is not compiled and slow.edge_time.max() == pytest.approx(1e6)


def test_surfaces_on_a_graph_reuse_its_compiled_network():
    g = tiny_graph(roads.RoadGraph)
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 100), (1, 20))
    start = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs="EPSG:32647")
    minutes = roads.travel_time_surface(g, start, grid)
    network = roads._COMPILED[g][2]
    assert roads.travel_time_surface(g, start, grid).values.tolist() == minutes.values.tolist()
    assert roads._COMPILED[g][2] is network
    g.edges[1, 2, 0]["travel_time"] = 30.0
    faster = roads.travel_time_surface(g, start, grid, direction="from")
    assert roads._COMPILED[g][2] is not network
    # The cell centred at (1550, 50) is 70.7 m off the road point at x = 1500, 30 s + 30 s from 1.
    assert float(faster.values[0, 15]) == pytest.approx((30 + 30 + np.hypot(50, 50) / (10 / 3.6)) / 60, rel=1e-6)


def test_forgotten_cell_lookups_are_made_again_with_the_same_minutes():
    g = tiny_graph(roads.RoadGraph)
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 100), (1, 20))
    start = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs="EPSG:32647")
    net = roads.compile_network(g, spacing_m=100)
    minutes = roads.travel_time_surface(net, start, grid).values
    assert ("lookup", grid) in net._cache
    net.forget_lookups()
    assert not [k for k in net._cache if isinstance(k, tuple) and k[0] == "lookup"]
    again = roads.travel_time_surface(net, start, grid).values
    np.testing.assert_array_equal(again, minutes)
    # 1.5 km along the road at 1 km a minute, then 70.7 m off it at 10 km/h to the cell at (1550, 50).
    assert float(again[0, 15]) == pytest.approx((90 + np.hypot(50, 50) / (10 / 3.6)) / 60, rel=1e-6)


def test_lookups_in_threads_equal_one_thread():
    """The road tiers' lookups run side by side in threads; the cells' road points and distances
    are those of one tier at a time."""
    from eicgeo import compute
    from eicgeo.settings import ComputeSettings

    g = tiny_graph(roads.RoadGraph)
    g.add_node(4, x=0.0, y=-900.0)
    for u, v in ((1, 4), (4, 1)):
        g.add_edge(u, v, highway="residential", length=900.0, travel_time=200.0)
    grid = Grid("EPSG:32647", Affine(100, 0, -500, 0, -100, 500), (15, 30))
    net = roads.compile_network(g, spacing_m=100)
    assert len(net._tier_points) >= 2
    threaded = roads._lookup(net, grid)
    net.forget_lookups()
    with compute.session(ComputeSettings(scheduler="synchronous")) as run:
        assert run.threads == 1
        single = roads._lookup(net, grid)
    assert len(threaded) == len(single) >= 2
    for (p1, d1), (p2, d2) in zip(threaded, single, strict=True):
        np.testing.assert_array_equal(p1, p2)
        np.testing.assert_array_equal(d1, d2)


def test_graph_filled_directly_equals_the_public_way(osm_files):
    net = roads.load_roads(osm_files[1])
    direct, public = net._build_graph(), net._build_graph(direct=False)
    assert nx.utils.graphs_equal(direct, public)
    assert list(direct.edges(keys=True)) == list(public.edges(keys=True))
    assert list(direct.in_edges(ID["B"], keys=True)) == list(public.in_edges(ID["B"], keys=True))
    direct.add_edge(ID["A"], ID["B"], travel_time=1.0, highway="primary")  # a parallel edge takes key 1
    assert set(direct[ID["A"]][ID["B"]]) == {0, 1}


def test_graphml_round_trip_through_osmnx(osm_files, tmp_path):
    import osmnx as ox

    graph = roads.load_network(osm_files[1])
    ox.save_graphml(graph, tmp_path / "roads.graphml")
    again = roads.load_roads(tmp_path / "roads.graphml")  # read by osmnx, then as arrays
    assert again.number_of_nodes() == graph.number_of_nodes() and again.number_of_edges() == graph.number_of_edges()
    a, b = roads.compile_network(graph, spacing_m=100), again.compile(spacing_m=100)
    ia = {int(n): i for i, n in enumerate(a.node_ids)}
    ib = {int(n): i for i, n in enumerate(b.node_ids)}
    ta, tb = a.node_times({ia[ID["A"]]: 0.0}), b.node_times({ib[ID["A"]]: 0.0})
    np.testing.assert_allclose([tb[ib[n]] for n in ia], [ta[ia[n]] for n in ia], rtol=1e-9)
    assert len(b.point_xy) == len(a.point_xy)
    # From GraphML every edge is a segment: the two-way secondary road is drawn both ways.
    assert roads.main_roads(again, ["secondary"]).length.sum() == pytest.approx(2 * 0.01 * DEG, rel=3e-3)
