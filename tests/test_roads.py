from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pytest
from affine import Affine
from shapely.geometry import LineString, Point, box

from eicgeo import Grid, roads
from eicgeo._errors import CRSError, GridMismatchError, InputError, NetworkError

OFFROAD_MPS = 10 / 3.6  # the default off-road speed, 10 km/h


def line_graph(times, *, oneway=False, highway="primary"):
    """Nodes 0..n every 1 km along y = 0 (EPSG:32647); edge i -> i+1 takes times[i] seconds."""
    g = nx.MultiDiGraph(crs="EPSG:32647")
    for i in range(len(times) + 1):
        g.add_node(i, x=1000.0 * i, y=0.0)
    for i, t in enumerate(times):
        g.add_edge(i, i + 1, length=1000.0, travel_time=float(t), highway=highway)
        if not oneway:
            g.add_edge(i + 1, i, length=1000.0, travel_time=float(t), highway=highway)
    return g


# ---------------------------------------------------------------------------- loading
def test_load_xml_west_oakland(data_dir):
    g = roads.load_network(data_dir / "West-Oakland.osm.bz2")
    assert g.graph["crs"].to_epsg() == 32610  # UTM 10N
    assert g.number_of_nodes() > 20
    for _, _, d in g.edges(data=True):
        assert d["length"] > 0 and d["speed_kph"] > 0
        assert d["travel_time"] == pytest.approx(d["length"] / (d["speed_kph"] / 3.6), rel=1e-3)
    assert nx.is_strongly_connected(g)


def test_pbf_gives_the_same_graph_as_xml(data_dir):
    xml = roads.load_network(data_dir / "aguascalientes.osm.bz2")
    pbf = roads.load_network(data_dir / "aguascalientes.osm.pbf")
    length = lambda g: sum(d["length"] for _, _, d in g.edges(data=True))  # noqa: E731
    assert abs(pbf.number_of_nodes() - xml.number_of_nodes()) <= 0.05 * xml.number_of_nodes()
    assert length(pbf) == pytest.approx(length(xml), rel=0.02)


def test_load_pbf_with_all_tags(data_dir):
    g = roads.load_network(data_dir / "kotka-karhula.osm.pbf")
    highways = {roads._first(d["highway"]) for _, _, d in g.edges(data=True)}
    assert highways <= set(roads.DRIVABLE)
    assert "footway" not in highways and g.number_of_edges() > 50


def test_largest_component_is_reported(data_dir):
    g = roads.load_network(data_dir / "aguascalientes.osm.bz2")
    dropped = g.graph["eicgeo_dropped"]
    assert dropped["nodes"] > 0 and 0 < dropped["length_share"] < 0.5
    whole = roads.load_network(data_dir / "aguascalientes.osm.bz2", largest_component=False)
    assert whole.number_of_nodes() == g.number_of_nodes() + dropped["nodes"]


def test_speed_table_override(data_dir):
    slow = roads.load_network(data_dir / "West-Oakland.osm.bz2", speeds={"residential": 5})
    times = [d for _, _, d in slow.edges(data=True) if d["highway"] == "residential" and "maxspeed" not in d]
    assert times and all(d["speed_kph"] == 5 for d in times)


def test_load_errors(tmp_path, data_dir):
    truncated = tmp_path / "cut.osm.bz2"
    truncated.write_bytes((data_dir / "West-Oakland.osm.bz2").read_bytes()[:3000])
    with pytest.raises(NetworkError, match="cut.osm.bz2"):
        roads.load_network(truncated)
    footways = tmp_path / "paths.osm"
    footways.write_text(
        '<?xml version="1.0"?><osm version="0.6"><node id="1" lat="14.8" lon="100.4" version="1"/>'
        '<node id="2" lat="14.81" lon="100.41" version="1"/><way id="3" version="1"><nd ref="1"/><nd ref="2"/>'
        '<tag k="highway" v="footway"/></way></osm>'
    )
    with pytest.raises(NetworkError, match="paths.osm' has no drivable roads"):
        roads.load_network(footways)
    (tmp_path / "roads.txt").write_text("x")
    with pytest.raises(InputError, match="roads.txt' has an unsupported extension; expected one of .osm"):
        roads.load_network(tmp_path / "roads.txt")
    plain = nx.MultiDiGraph()
    plain.add_edge(1, 2, length=1.0, highway="primary")
    nx.write_graphml(plain, tmp_path / "plain.graphml")  # no x/y: not an osmnx graph
    with pytest.raises(NetworkError, match="plain.graphml' cannot be read as osmnx GraphML"):
        roads.load_network(tmp_path / "plain.graphml")
    nocrs = line_graph([60])
    del nocrs.graph["crs"]
    ox.save_graphml(nocrs, tmp_path / "nocrs.graphml")
    with pytest.raises(CRSError, match="nocrs.graphml' graph has no CRS"):
        roads.load_network(tmp_path / "nocrs.graphml")
    pbf = tmp_path / "cut.osm.pbf"
    pbf.write_bytes((data_dir / "kotka-karhula.osm.pbf").read_bytes()[:5000])
    with pytest.raises(NetworkError, match="cut.osm.pbf' is truncated or not valid OSM"):
        roads.load_network(pbf)
    with pytest.raises(InputError, match="network_type 'walk' is not supported"):
        roads.load_network(data_dir / "West-Oakland.osm.bz2", network_type="walk")


def road_layer():
    """Three roads in EPSG:32647: a 1 km primary (maxspeed 60) from A (0, 0) to B (1000, 0), a
    one-way residential from B to C (1000, 1000) via (1000, 500), whose start is 0.4 m off B, and
    a two-way residential from C back to A; plus a footway, which is not drivable."""
    return gpd.GeoDataFrame(
        {
            "highway": ["primary", "residential", "residential", "footway"],
            "oneway": [None, "yes", None, None],
            "maxspeed": [60, None, None, None],
        },
        geometry=[
            LineString([(0, 0), (1000, 0)]),
            LineString([(1000.4, 0), (1000, 500), (1000, 1000)]),
            LineString([(1000, 1000), (0, 0)]),
            LineString([(0, 0), (0, -100)]),
        ],
        crs="EPSG:32647",
    )


def _write(frame, path):
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_file(path)
    return path


def _edge(g, xy_from, xy_to):
    """The data of the edge between the nodes at these positions (to 1 m)."""
    at = {(round(d["x"]), round(d["y"])): n for n, d in g.nodes(data=True)}
    return g.get_edge_data(at[xy_from], at[xy_to])


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".parquet", ".shp"])
def test_line_layers_in_every_format(tmp_path, suffix):
    g = roads.load_network(_write(road_layer(), tmp_path / f"roads{suffix}"))
    assert roads.check_crs(g.graph["crs"], "g").to_epsg() == 32647
    # The 0.4 m gap at B is within the 1 m snap: three nodes, B at the mean of the two ends.
    assert g.number_of_nodes() == 3
    assert {(round(d["x"], 1), d["y"]) for _, d in g.nodes(data=True)} == {(0, 0), (1000.2, 0), (1000, 1000)}
    ab = _edge(g, (0, 0), (1000, 0))[0]
    assert ab["length"] == pytest.approx(1000.2, abs=1e-6)
    assert ab["speed_kph"] == 60  # maxspeed beats the table (primary is 50)
    assert ab["travel_time"] == pytest.approx(1000.2 / (60 / 3.6), rel=1e-3)
    bc = _edge(g, (1000, 0), (1000, 1000))[0]
    assert bc["length"] == pytest.approx(np.hypot(0.2, 500) + 500, abs=1e-6)  # via the kink at (1000, 500)
    assert bc["speed_kph"] == roads.DEFAULT_SPEEDS_KPH["residential"]
    assert bc["travel_time"] == pytest.approx(1000.00004 / (20 / 3.6), rel=1e-3)
    ca = _edge(g, (1000, 1000), (0, 0))[0]
    assert ca["length"] == pytest.approx(1000 * np.sqrt(2))
    assert not any(d["highway"] == "footway" for _, _, d in g.edges(data=True))


def test_line_layer_oneway_is_honoured(tmp_path):
    g = roads.load_network(_write(road_layer(), tmp_path / "roads.gpkg"))
    assert _edge(g, (1000, 0), (1000, 1000)) is not None
    assert _edge(g, (1000, 1000), (1000, 0)) is None  # the one-way street cannot be driven back
    assert _edge(g, (0, 0), (1000, 1000)) is not None and _edge(g, (1000, 1000), (0, 0)) is not None
    # From C to B the only way is C -> A -> B: 254.6 s + 60 s.
    times = nx.single_source_dijkstra_path_length(g, _node(g, 1000, 1000), weight="travel_time")
    assert times[_node(g, 1000, 0)] == pytest.approx(1000 * np.sqrt(2) / (20 / 3.6) + 1000.2 / (60 / 3.6), rel=1e-4)
    reverse = road_layer()
    reverse.loc[1, "oneway"] = "-1"  # the same street, one way against its drawing direction
    g = roads.load_network(_write(reverse, tmp_path / "reverse.gpkg"))
    assert _edge(g, (1000, 0), (1000, 1000)) is None and _edge(g, (1000, 1000), (1000, 0)) is not None


def _node(g, x, y):
    return next(n for n, d in g.nodes(data=True) if round(d["x"]) == x and round(d["y"]) == y)


def test_line_layer_snap_tolerance(tmp_path):
    path = _write(road_layer(), tmp_path / "roads.gpkg")
    # With a 0.1 m tolerance the 0.4 m gap stays open: B's two ends are separate nodes, and the
    # one-way street (reachable from B only through its own dead end) falls out of the network.
    g = roads.load_network(path, snap_m=0.1, largest_component=False)
    assert g.number_of_nodes() == 4
    kept = roads.load_network(path, snap_m=0.1)
    assert kept.number_of_nodes() == 3 and kept.graph["eicgeo_dropped"]["nodes"] == 1


def test_line_layer_in_degrees_is_projected_to_utm(tmp_path):
    layer = road_layer()
    layer["geometry"] = layer.translate(500_000, 1_600_000)  # near 99 E, 14.5 N
    g = roads.load_network(_write(layer.to_crs(4326), tmp_path / "roads.geojson"))
    assert roads.check_crs(g.graph["crs"], "g").to_epsg() == 32647
    assert _edge(g, (500_000, 1_600_000), (501_000, 1_600_000))[0]["length"] == pytest.approx(1000.2, abs=0.01)
    moved = roads.load_network(tmp_path / "roads.geojson", crs="EPSG:3857")
    assert roads.check_crs(moved.graph["crs"], "g").to_epsg() == 3857


def test_line_layer_errors(tmp_path):
    no_class = road_layer().rename(columns={"highway": "highways"})
    with pytest.raises(
        InputError, match="no 'highway' column \\(did you mean 'highways'\\?\\); it has highways, oneway"
    ):
        roads.load_network(_write(no_class, tmp_path / "noclass.gpkg"))
    paths = road_layer().iloc[[3]]
    with pytest.raises(NetworkError, match="paths.gpkg' has no drivable roads"):
        roads.load_network(_write(paths, tmp_path / "paths.gpkg"))
    corrupt = tmp_path / "corrupt.gpkg"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\x00" * 50)
    with pytest.raises(NetworkError, match="corrupt.gpkg' cannot be read as a line layer"):
        roads.load_network(corrupt)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(_write(road_layer(), tmp_path / "whole.parquet").read_bytes()[:200])
    with pytest.raises(NetworkError, match="cut.parquet' cannot be read as a line layer"):
        roads.load_network(cut)
    nocrs = road_layer().set_crs(None, allow_override=True)
    with pytest.warns(UserWarning, match="'crs' was not provided"):  # pyogrio, writing it
        _write(nocrs, tmp_path / "nocrs.shp")
    with pytest.raises(CRSError, match="nocrs.shp' has no CRS"):
        roads.load_network(tmp_path / "nocrs.shp")
    with pytest.raises(InputError, match="snap_m must be >= 0"):
        roads.load_network(tmp_path / "whole.parquet", snap_m=-1)


# ---------------------------------------------------------------------------- network times
def test_three_edge_path_times():
    net = roads.compile_network(line_graph([60, 120, 30]))
    t = net.node_times({0: 0.0}, direction="from")
    np.testing.assert_allclose(t, [0, 60, 180, 210], atol=1e-6)
    t = net.node_times({3: 0.0}, direction="to")  # time from each node to node 3
    np.testing.assert_allclose(t, [210, 150, 30, 0], atol=1e-6)
    t = net.node_times({0: 5.0, 3: 0.0}, direction="from")  # initial offsets add
    np.testing.assert_allclose(t, [5, 65, 30, 0], atol=1e-6)


def test_one_way_streets_are_respected():
    net = roads.compile_network(line_graph([60, 60], oneway=True))
    assert net.node_times({0: 0.0}, direction="from").tolist()[:3] == pytest.approx([0, 60, 120])
    away = net.node_times({0: 0.0}, direction="to")  # nobody can drive back to node 0
    assert away[0] == pytest.approx(0) and np.isinf(away[1:]).all()


def test_parallel_edges_keep_the_fastest():
    g = line_graph([100])
    g.add_edge(0, 1, length=1000.0, travel_time=40.0, highway="motorway")
    assert roads.compile_network(g).node_times({0: 0.0}, direction="from")[1] == pytest.approx(40)


@pytest.mark.parametrize("path", ["aguascalientes.osm.bz2", "kotka-karhula.osm.pbf"])
def test_node_times_equal_networkx(data_dir, path):
    g = roads.load_network(data_dir / path)
    net = roads.compile_network(g)
    sources = list(g.nodes)[::97][:6]
    index = {n: i for i, n in enumerate(net.node_ids)}
    for direction, graph in (("from", g), ("to", g.reverse(copy=True))):
        ours = net.node_times({index[s]: 0.0 for s in sources}, direction=direction)
        ref = nx.multi_source_dijkstra_path_length(graph, sources, weight="travel_time")
        assert len(ref) == np.isfinite(ours).sum()
        for node, seconds in ref.items():
            assert ours[index[node]] == pytest.approx(seconds, abs=1e-6)


# ---------------------------------------------------------------------------- surfaces
def strip_grid():
    """100 m cells over the road x = 0..3000 m, y = 0..200 m (road along the bottom edge)."""
    return Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 200), (2, 30))


def test_cell_times_by_hand():
    g = line_graph([60, 60, 60])  # 60 km/h
    source = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs="EPSG:32647")
    minutes = roads.travel_time_surface(g, source, strip_grid(), direction="from")
    assert minutes.dtype == np.float32 and minutes.attrs["units"] == "minutes"
    # Cell centred at (2050, 50): 70.7 m off-road to the road point at x = 2000 (or 2100), which the
    # network reaches in 120 s (126 s): 120 + 70.71 / 2.78 = 145.46 s.
    expected = (120 + np.hypot(50, 50) / OFFROAD_MPS) / 60
    assert float(minutes.values[1, 20]) == pytest.approx(expected, rel=1e-4)
    # Cell centred at (50, 150): straight to the source point is shorter than via the road.
    assert float(minutes.values[0, 0]) == pytest.approx(np.hypot(50, 150) / OFFROAD_MPS / 60, rel=1e-4)


def test_points_between_nodes_snap_to_the_edge():
    g = line_graph([60, 60, 60])
    # A source beside the middle of edge 1-2 (x = 1500), 20 m off the road.
    source = gpd.GeoDataFrame(geometry=[Point(1500, 20)], crs="EPSG:32647")
    minutes = roads.travel_time_surface(g, source, strip_grid(), direction="to")
    # Cell (2550, 50): 70.7 m to road point x=2500 (or 2600), then 1000 m back along the road at
    # 60 km/h (60 s) to x = 1500, then 20 m off-road.
    expected = (np.hypot(50, 50) / OFFROAD_MPS + 60 + 20 / OFFROAD_MPS) / 60
    assert float(minutes.values[1, 25]) == pytest.approx(expected, rel=1e-3)


def test_highway_selector_and_polygons():
    g = line_graph([60, 60, 60])
    minutes = roads.travel_time_surface(g, "primary", strip_grid())
    # Every road point is a source: a cell 50 m off the road costs 50 m off-road (at x = 50 the
    # nearest road point is the node at x = 0 or the first sample point at x = 100: 70.7 m).
    assert float(minutes.values[1, 5]) == pytest.approx(np.hypot(50, 50) / OFFROAD_MPS / 60, rel=1e-3)
    inside = roads.travel_time_surface(
        g, gpd.GeoDataFrame(geometry=[box(1000, 0, 1300, 200)], crs="EPSG:32647"), strip_grid()
    )
    assert np.all(inside.values[:, 10:13] == 0)
    assert float(inside.values[1, 14]) > 0
    capped = roads.travel_time_surface(
        g, gpd.GeoDataFrame(geometry=[Point(0, 0)], crs="EPSG:32647"), strip_grid(), max_minutes=1.5
    )
    assert np.isnan(capped.values[1, 25]) and np.isfinite(capped.values[1, 10])


def test_surface_errors():
    g = line_graph([60])
    with pytest.raises(InputError, match="unknown class\\(es\\) \\['highway'\\]"):
        roads.travel_time_surface(g, "highway", strip_grid())
    with pytest.raises(NetworkError, match="no roads of class motorway"):
        roads.travel_time_surface(g, ["motorway"], strip_grid())
    with pytest.raises(CRSError, match="sources have no CRS"):
        roads.travel_time_surface(g, gpd.GeoDataFrame(geometry=[Point(0, 0)]), strip_grid())
    other = Grid("EPSG:32648", Affine(100, 0, 0, 0, -100, 200), (2, 30))
    with pytest.raises(CRSError, match="differs from the grid CRS"):
        roads.travel_time_surface(g, "primary", other)
    with pytest.raises(InputError, match="offroad_kph must be > 0"):
        roads.travel_time_surface(g, "primary", strip_grid(), offroad_kph=0)
    unprojected = line_graph([60])
    unprojected.graph["crs"] = "EPSG:4326"
    with pytest.raises(CRSError, match="not projected"):
        roads.compile_network(unprojected)


def test_edges_keep_one_class_and_speed(tmp_path):
    # A secondary road continuing as a residential street through a degree-2 node. Merging the
    # two into one edge would give it a list of classes, ordered by string hash, and a speed that
    # changes from run to run; each keeps its own class and speed instead.
    nodes = "".join(f'<node id="{i}" lat="14.8" lon="{100.40 + 0.01 * i:.2f}" version="1"/>' for i in range(1, 5))
    ways = (
        '<way id="10" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="secondary"/></way>'
        '<way id="11" version="1"><nd ref="3"/><nd ref="4"/><tag k="highway" v="residential"/></way>'
    )
    path = tmp_path / "chain.osm"
    path.write_text(f'<?xml version="1.0"?><osm version="0.6">{nodes}{ways}</osm>')
    g = roads.load_network(path)
    classes = sorted(d["highway"] for _, _, d in g.edges(data=True))
    assert classes == ["residential", "residential", "secondary", "secondary"]
    for _, _, d in g.edges(data=True):
        assert d["speed_kph"] == roads.DEFAULT_SPEEDS_KPH[d["highway"]]


def test_line_sources_are_sampled_along_their_length():
    from shapely.geometry import LineString

    g = line_graph([60, 60, 60])
    # A canal along y = 150 from x = 2000 to 3000 as the source of water.
    canal = gpd.GeoDataFrame(geometry=[LineString([(2000, 150), (3000, 150)])], crs="EPSG:32647")
    minutes = roads.travel_time_surface(g, canal, strip_grid())
    # Cell (2550, 150) lies on the canal; sample points every 100 m make it at most 50 m off.
    assert float(minutes.values[0, 25]) <= 50 / OFFROAD_MPS / 60 + 1e-6


def centred_grid():
    """100 m cells centred on x = 0, 100, ..., 2900 and y = 100, 0, -100: the road of
    line_graph runs through the centres of the middle row."""
    return Grid("EPSG:32647", Affine(100, 0, -50, 0, -100, 150), (3, 30))


def test_source_cells_by_hand():
    g = line_graph([60, 60, 60])  # 60 km/h: 6 s per 100 m
    grid = centred_grid()
    cells = np.zeros(grid.shape, dtype=bool)
    cells[:, :2] = True  # x = -50..150: holds the node at x = 0 and the road point at x = 100
    minutes = roads.travel_time_surface(g, grid.wrap(cells, "centre"), grid)
    assert np.all(minutes.values[:, :2] == 0)
    # On the road at x = 2500: 2400 m of road to the source cells' road point at x = 100.
    assert float(minutes.values[1, 25]) == pytest.approx(144 / 60, rel=1e-6)
    # 100 m off the road at x = 2500: 100 m off-road (36 s) to the road point, then 144 s.
    assert float(minutes.values[0, 25]) == pytest.approx((36 + 144) / 60, rel=1e-6)
    # At (200, 100) walking straight to the source cell centred at (100, 100) (36 s) beats 100 m
    # off-road to the road at x = 200 and 6 s along it (42 s).
    assert float(minutes.values[0, 2]) == pytest.approx(36 / 60, rel=1e-6)
    assert float(minutes.values[1, 2]) == pytest.approx(6 / 60, rel=1e-6)
    with pytest.raises(InputError, match="source cells 'centre' have dtype float64; expected a boolean"):
        roads.travel_time_surface(g, grid.wrap(cells.astype(float), "centre"), grid)
    with pytest.raises(InputError, match="source cells 'none' has no True cell"):
        roads.travel_time_surface(g, grid.wrap(np.zeros(grid.shape, bool), "none"), grid)
    with pytest.raises(GridMismatchError, match="source cells 'small' has shape \\(2, 30\\)"):
        roads.travel_time_surface(g, strip_grid().wrap(np.ones((2, 30), bool), "small"), grid)


def test_one_way_streets_in_surfaces():
    g = line_graph([60, 60, 60], oneway=True)  # traffic flows east only
    grid = centred_grid()
    source = gpd.GeoDataFrame(geometry=[Point(3000, 0)], crs="EPSG:32647")
    to_source = roads.travel_time_surface(g, source, grid, direction="to")
    # From x = 1000 east along the road to the node at x = 3000: 120 s.
    assert float(to_source.values[1, 10]) == pytest.approx(2.0, rel=1e-6)
    from_source = roads.travel_time_surface(g, source, grid, direction="from")
    # Nobody drives west from x = 3000: only the 2 km walk is left (720 s).
    assert float(from_source.values[1, 10]) == pytest.approx(2000 / OFFROAD_MPS / 60, rel=1e-6)


def test_dask_chunked_surfaces_equal_the_in_memory_ones(data_dir):
    import dask.array as da

    g = roads.load_network(data_dir / "aguascalientes.osm.bz2")
    net = roads.compile_network(g, spacing_m=50)
    xs = [d["x"] for _, d in g.nodes(data=True)]
    ys = [d["y"] for _, d in g.nodes(data=True)]
    grid = Grid.from_bounds((min(xs) - 500, min(ys) - 500, max(xs) + 500, max(ys) + 500), 50, g.graph["crs"])
    quarry = gpd.GeoDataFrame(geometry=[Point(xs[10], ys[10]).buffer(120), Point(xs[200], ys[200])], crs=grid.crs)
    like = grid.wrap(da.zeros(grid.shape, chunks=(17, 23), dtype=np.float32), "like")
    for sources in (quarry, "primary|secondary"):
        eager = roads.travel_time_surface(net, sources, grid, max_minutes=8)
        lazy = roads.travel_time_surface(net, sources, like, max_minutes=8)
        assert lazy.chunks == like.chunks and lazy.dtype == np.float32
        np.testing.assert_array_equal(lazy.compute().values, eager.values)
        assert np.isfinite(eager.values).mean() > 0.3 and np.isnan(eager.values).any()
    cells = grid.wrap(eager.values < 1, "near")
    chunked = roads.travel_time_surface(net, cells, grid, chunks=64)
    np.testing.assert_array_equal(chunked.compute().values, roads.travel_time_surface(net, cells, grid).values)


def test_sources_in_the_middle_of_an_edge_reach_its_points_directly():
    grid = centred_grid()
    source = gpd.GeoDataFrame(geometry=[Point(500, 0)], crs="EPSG:32647")  # mid-way along a 1 km edge
    both = roads.travel_time_surface(line_graph([60]), source, grid)
    # 100 m along the road either side (6 s), not round by a node 500 m away (54 s).
    assert float(both.values[1, 6]) == pytest.approx(0.1, rel=1e-6)
    assert float(both.values[1, 4]) == pytest.approx(0.1, rel=1e-6)
    east = roads.travel_time_surface(line_graph([60], oneway=True), source, grid)
    assert float(east.values[1, 4]) == pytest.approx(0.1, rel=1e-6)  # with the traffic
    # Against it, only the 100 m walk to the source is left (36 s).
    assert float(east.values[1, 6]) == pytest.approx(100 / OFFROAD_MPS / 60, rel=1e-6)


# ---------------------------------------------------------------------------- labour_access
def test_labour_access_is_the_commute_from_the_nearest_settlement():
    from eicgeo import criteria

    g = line_graph([60, 60, 60], oneway=True)  # traffic flows east only
    grid = centred_grid()
    west = np.zeros(grid.shape, dtype=bool)
    west[:, :2] = True
    minutes = criteria.labour_access(roads.compile_network(g, spacing_m=100), grid, grid.wrap(west, "villages"))
    assert minutes.name == "labour_access" and minutes.attrs["direction"] == "from"
    assert float(minutes.values[1, 25]) == pytest.approx(2.4, rel=1e-6)  # 2400 m east at 60 km/h
    east = np.zeros(grid.shape, dtype=bool)
    east[:, 28:] = True
    minutes = criteria.labour_access(roads.compile_network(g, spacing_m=100), grid, grid.wrap(east, "villages"))
    # Workers from the east cannot drive west: they walk 1800 m to x = 1000 (648 s).
    assert float(minutes.values[1, 10]) == pytest.approx(1800 / OFFROAD_MPS / 60, rel=1e-6)


def test_settlements_are_villages_towns_and_the_city():
    from eicgeo.criteria import settlements as _settlements

    grid = Grid("EPSG:32647", Affine(1000, 0, 0, 0, -1000, 3000), (3, 3))
    smod = grid.wrap(np.array([[30, 23, 22], [21, 13, 12], [11, 10, 0]], dtype=np.uint8), "degurba")
    urban = grid.wrap(np.full((3, 3), 3, dtype=np.uint8), "fringe")
    assert _settlements(smod, urban).values.tolist() == [[True, True, True], [False, True, False], [False] * 3]
    assert _settlements(None, urban).values.all()  # no population grid: urban land cover
    assert _settlements(None, urban * 0 + 1) is None


def test_pipeline_builds_labour_access(sample_dir):
    import eicgeo
    from eicgeo.criteria import REGISTRY

    assert "labour_access" in REGISTRY
    s = eicgeo.load_sample()
    s = s.replace(name="labour", resolution=400.0, criteria={"labour_access": {"weight": 0.3}})
    result = eicgeo.run(s, progress=False)
    raw = result.layers["labour_access"]
    assert raw.attrs["units"] == "minutes" and result.weights["labour_access"] > 0
    # 0 in the settlements the Degree of Urbanisation found, positive elsewhere.
    settled = np.isin(result.degurba.values, (13, 22, 23, 30))
    assert settled.any() and np.all(raw.values[settled] == 0)
    assert np.nanmax(raw.values) > 5
    standard = result.criteria["labour_access"]
    assert float(standard.values[settled].min()) == 1.0  # 0 minutes scores 1 (linear 0..45 min)
