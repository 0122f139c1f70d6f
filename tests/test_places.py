"""Named places: reading them from OSM (XML and PBF) and from a user's layer, and the zone
phrase "4 km north-east of <town>" on hand-computed points.

Points are placed in UTM 47N (EPSG:32647) around its central meridian (99 E, easting 500 km),
where a grid metre is 1 / 0.9996 ground metres and grid north is true north: a point 4 km east
and 4 km north of a town is sqrt(32) = 5.657 grid km, 5.659 km on the ground, to the north-east.
"""

from __future__ import annotations

import bz2
import math
import shutil

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, box

import eicgeo
from eicgeo import places, roads
from eicgeo._errors import CRSError, InputError, InputFileNotFoundError, ScenarioError
from eicgeo.pipeline import check
from eicgeo.places import describe, describe_zones, read_places

UTM = "EPSG:32647"
X0, Y0 = 500_000.0, 1_600_000.0

#: A hand-written OSM extract: two place nodes, one neighbourhood (not read), one node without
#: a name (not read), a suburb mapped as a closed way (read at its centroid), a town mapped both
#: as a node and as an area (the area is dropped), and a road whose nodes carry no place.
OSM_XML = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand">
  <node id="1" lat="14.0000000" lon="100.0000000" version="1">
    <tag k="place" v="town"/><tag k="name" v="Ban Mai"/><tag k="population" v="12,500"/>
  </node>
  <node id="2" lat="14.1000000" lon="100.1000000" version="1">
    <tag k="place" v="village"/><tag k="name" v="Nong Khae"/><tag k="population" v="ca. 900"/>
  </node>
  <node id="3" lat="14.2000000" lon="100.2000000" version="1">
    <tag k="place" v="neighbourhood"/><tag k="name" v="Soi Sam"/>
  </node>
  <node id="4" lat="14.3000000" lon="100.3000000" version="1"><tag k="place" v="village"/></node>
  <node id="10" lat="14.2000000" lon="100.0000000" version="1"/>
  <node id="11" lat="14.2000000" lon="100.0200000" version="1"/>
  <node id="12" lat="14.2200000" lon="100.0200000" version="1"/>
  <node id="13" lat="14.2200000" lon="100.0000000" version="1"/>
  <node id="20" lat="14.0000000" lon="99.9900000" version="1"/>
  <node id="21" lat="14.0000000" lon="100.0100000" version="1"/>
  <node id="22" lat="14.0100000" lon="100.0100000" version="1"/>
  <way id="100" version="1">
    <nd ref="10"/><nd ref="11"/><nd ref="12"/><nd ref="13"/><nd ref="10"/>
    <tag k="place" v="suburb"/><tag k="name" v="Bang Rak"/>
  </way>
  <way id="101" version="1">
    <nd ref="20"/><nd ref="21"/><nd ref="22"/><nd ref="20"/>
    <tag k="place" v="town"/><tag k="name" v="Ban Mai"/>
  </way>
  <way id="102" version="1">
    <nd ref="20"/><nd ref="21"/><nd ref="22"/>
    <tag k="highway" v="primary"/><tag k="name" v="Thanon Nueng"/>
  </way>
</osm>
"""


def _places(*rows: tuple[str, str | None, float, float], crs: str = UTM) -> gpd.GeoDataFrame:
    """Places from (name, place, x, y) rows."""
    return gpd.GeoDataFrame(
        {"name": [r[0] for r in rows], "place": [r[1] for r in rows]},
        geometry=[Point(r[2], r[3]) for r in rows],
        crs=crs,
    )


def _say(dx_km: float, dy_km: float, towns: gpd.GeoDataFrame) -> str:
    return str(describe(Point(X0 + 1000 * dx_km, Y0 + 1000 * dy_km), towns, crs=UTM))


# ---------------------------------------------------------------------------- the phrase
def test_four_km_east_and_north_is_5_7_km_north_east():
    town = _places(("Ban Mai", "town", X0, Y0))
    where = describe(Point(X0 + 4000, Y0 + 4000), town, crs=UTM)
    assert str(where) == "5.7 km north-east of Ban Mai"
    assert where.name == "Ban Mai" and where.place == "town" and where.direction == "north-east"
    assert where.distance_km == pytest.approx(math.sqrt(32) / 0.9996, abs=0.005)


@pytest.mark.parametrize(
    ("degrees", "word"),
    [
        (0, "north"),
        (45, "north-east"),
        (90, "east"),
        (135, "south-east"),
        (180, "south"),
        (225, "south-west"),
        (270, "west"),
        (315, "north-west"),
        (20, "north"),  # 22.5 degrees either side of a point of the compass
        (25, "north-east"),
    ],
)
def test_eight_compass_points_from_the_place_to_the_point(degrees, word):
    town = _places(("Ban Mai", "town", X0, Y0))
    a = math.radians(degrees)
    assert _say(3 * math.sin(a), 3 * math.cos(a), town) == f"3 km {word} of Ban Mai"


@pytest.mark.parametrize(
    ("km", "text"),
    [(0.8, "0.8 km"), (1.5, "1.5 km"), (4.02, "4 km"), (5.66, "5.7 km"), (9.97, "10 km"), (12.4, "12 km")],
)
def test_distances_are_rounded_for_reading(km, text):
    # due east along a parallel of UTM 47N at the central meridian: ground km = grid km / 0.9996
    town = _places(("Ban Mai", "town", X0, Y0))
    assert _say(km * 0.9996, 0, town) == f"{text} east of Ban Mai"


def test_within_half_a_km_a_point_is_in_a_settlement_and_at_a_hamlet():
    assert _say(0.3, 0.2, _places(("Ban Mai", "town", X0, Y0))) == "in Ban Mai"
    assert _say(0.3, 0.2, _places(("Ban Mai", "village", X0, Y0))) == "in Ban Mai"
    assert _say(0.3, 0.2, _places(("Khok Noi", "hamlet", X0, Y0))) == "at Khok Noi"
    assert _say(0.3, 0.2, _places(("Wat Pa", None, X0, Y0))) == "in Wat Pa"  # a user's layer without place
    # the nearest place decides "in", whatever the weights: a city 2 km off does not win
    near = _places(("Ban Mai", "village", X0, Y0), ("Krung Thep", "city", X0 - 2000, Y0))
    assert _say(0.4, 0, near) == "in Ban Mai"


def test_a_larger_place_wins_when_it_is_not_much_farther():
    # village 3 km east of the point, town 4 km west: 4 / 1.5 = 2.67 < 3 / 1
    both = _places(("Ban Mai", "village", X0 + 3000, Y0), ("Nong Khae", "town", X0 - 4000, Y0))
    assert _say(0, 0, both) == "4 km east of Nong Khae"
    # town 5 km west: 5 / 1.5 = 3.33 > 3, the village is taken
    both = _places(("Ban Mai", "village", X0 + 3000, Y0), ("Nong Khae", "town", X0 - 5000, Y0))
    assert _say(0, 0, both) == "3 km west of Ban Mai"
    # city 7 km north (7 / 2 = 3.5) against the town 5 km west (5 / 1.5 = 3.33)
    three = _places(("Nong Khae", "town", X0 - 5000, Y0), ("Krung Thep", "city", X0, Y0 + 7000))
    assert _say(0, 0, three) == "5 km east of Nong Khae"


def test_without_places_only_the_coordinates():
    where = describe(Point(X0, Y0), places.empty(UTM), crs=UTM)
    assert where.phrase is None and where.name is None
    # easting 500 km is the zone's central meridian, 99 E; 1,600 km of grid northing is
    # 1,600.64 km of meridian arc, 14.4727 degrees on WGS 84
    assert where.lon == 99.0 and where.lat == pytest.approx(14.4727, abs=1e-4)
    assert str(where) == "14.47265 N, 99.00000 E"


def test_any_crs_in_and_a_geometry_is_taken_at_its_centroid():
    # 0.045 degrees of latitude at 14 N is 4.98 km (110.6 km per degree)
    town = _places(("Ban Mai", "town", 100.0, 14.0), crs="EPSG:4326")
    assert str(describe(Point(100.0, 14.045), town, crs="EPSG:4326")) == "5 km north of Ban Mai"
    square = box(99.99, 14.035, 100.01, 14.055)  # centroid (100, 14.045)
    assert str(describe(square, town, crs="EPSG:4326")) == "5 km north of Ban Mai"
    # the same point given in UTM, the places in degrees
    x, y = gpd.GeoSeries([Point(100.0, 14.045)], crs="EPSG:4326").to_crs(UTM).iloc[0].coords[0]
    assert str(describe(Point(x, y), town, crs=UTM)) == "5 km north of Ban Mai"


def test_describe_zones_adds_where_lon_lat_before_the_geometry():
    zones = gpd.GeoDataFrame(
        {"zone_id": [7, 8], "score": [0.9, 0.5]},
        geometry=[box(X0 + 1000, Y0 - 1000, X0 + 3000, Y0 + 1000), box(X0 - 500, Y0 + 3000, X0 + 500, Y0 + 5000)],
        crs=UTM,
        index=[10, 11],
    )
    town = _places(("Ban Mai", "town", X0, Y0))
    out = describe_zones(zones, town)
    assert list(out.columns) == ["zone_id", "score", "where", "lon", "lat", "geometry"]
    assert list(out.index) == [10, 11] and out.crs == zones.crs
    assert out["where"].tolist() == ["2 km east of Ban Mai", "4 km north of Ban Mai"]
    assert out["lon"].iloc[1] == 99.0 and out["lat"].iloc[1] > out["lat"].iloc[0]
    assert "where" not in zones  # the input is untouched
    bare = describe_zones(zones, places.empty(UTM))
    assert bare["where"].isna().all() and bare["lon"].tolist() == out["lon"].tolist()
    none = describe_zones(zones.iloc[:0], town)
    assert list(none.columns) == list(out.columns) and none["lon"].dtype == float


# ---------------------------------------------------------------------------- reading OSM
@pytest.fixture
def osm_files(tmp_path):
    xml = tmp_path / "places.osm"
    xml.write_text(OSM_XML, encoding="utf-8")
    bz = tmp_path / "places.osm.bz2"
    bz.write_bytes(bz2.compress(OSM_XML.encode()))
    pbf = tmp_path / "places.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(xml)):
            writer.add(obj)
    return xml, bz, pbf


def test_osm_place_nodes_and_areas(osm_files):
    got = read_places(osm_files[0])
    assert list(got.columns) == ["name", "place", "population", "geometry"]
    assert got.crs.to_epsg() == 4326
    # sorted by weight (town, suburb, village); the neighbourhood, the nameless village and the
    # area named like the Ban Mai node are left out
    assert got["name"].tolist() == ["Ban Mai", "Bang Rak", "Nong Khae"]
    assert got["place"].tolist() == ["town", "suburb", "village"]
    assert got["population"].iloc[0] == 12500.0 and np.isnan(got["population"].iloc[1:]).all()
    assert got.geometry.iloc[0].coords[0] == (100.0, 14.0)
    assert got.geometry.iloc[1].x == pytest.approx(100.01) and got.geometry.iloc[1].y == pytest.approx(14.21)


def test_xml_bz2_and_pbf_give_the_same_places(osm_files):
    xml, bz, pbf = (read_places(p, crs=UTM) for p in osm_files)
    for other in (bz, pbf):
        pd.testing.assert_frame_equal(pd.DataFrame(xml.drop(columns="geometry")), other.drop(columns="geometry"))
        assert xml.geometry.geom_equals_exact(other.geometry, tolerance=1e-3).all()
    assert xml.crs.to_epsg() == 32647


def test_the_road_reader_ignores_the_place_nodes(osm_files):
    graph = roads.load_network(osm_files[0], crs=UTM)
    assert len(graph) and set(graph.nodes) <= {20, 21, 22}  # the road's nodes only


def test_real_extracts_kotka_holds_suburbs_and_a_hamlet(data_dir, tmp_path):
    """Of the real extracts in tests/data only kotka-karhula holds place nodes: 2 suburbs, a
    hamlet and 3 neighbourhoods (Suurniitty, Marttila, Malminki, which are not read)."""
    got = read_places(data_dir / "kotka-karhula.osm.pbf")
    assert got[["name", "place"]].values.tolist() == [
        ["Helilä", "suburb"],
        ["Ristinkallio", "suburb"],
        ["Kannikko", "hamlet"],
    ]
    assert got.geometry.iloc[0].x == pytest.approx(26.93113, abs=1e-5)
    assert got.geometry.iloc[0].y == pytest.approx(60.52241, abs=1e-5)
    assert got["population"].isna().all()
    # the same extract as OSM XML
    xml = tmp_path / "kotka.osm"
    with osmium.SimpleWriter(str(xml)) as writer:
        for obj in osmium.FileProcessor(str(data_dir / "kotka-karhula.osm.pbf")):
            writer.add(obj)
    again = read_places(xml)
    pd.testing.assert_frame_equal(pd.DataFrame(got.drop(columns="geometry")), again.drop(columns="geometry"))
    assert got.geometry.geom_equals_exact(again.geometry, tolerance=1e-7).all()


@pytest.mark.parametrize("name", ["aguascalientes.osm.bz2", "aguascalientes.osm.pbf", "West-Oakland.osm.bz2"])
def test_real_extracts_without_places_give_an_empty_layer(data_dir, name):
    got = read_places(data_dir / name, crs=UTM)
    assert got.empty and list(got.columns) == ["name", "place", "population", "geometry"]
    assert got.crs.to_epsg() == 32647


def test_the_sample_region_has_its_city_towns_and_villages(sample_dir):
    got = read_places(sample_dir / "roads.osm.bz2")
    assert got["place"].value_counts().to_dict() == {"village": 115, "town": 5, "city": 1}
    city = got.iloc[0]
    assert (city["name"], city["place"], city["population"]) == ("Nakhon Thong Rin", "city", 1229280.0)
    assert got["name"].is_unique and got["population"].between(400, 1.3e6).all()
    assert got.geometry.x.between(100.2225, 100.6725).all() and got.geometry.y.between(14.58, 15.015).all()


# ---------------------------------------------------------------------------- a user's layer
def test_a_user_places_layer(tmp_path):
    layer = gpd.GeoDataFrame(
        {"name": ["Ban Mai", "Nong Khae"], "place": ["village", "town"], "population": [900, 15000]},
        geometry=[Point(X0, Y0), box(X0 + 1000, Y0, X0 + 3000, Y0 + 2000)],
        crs=UTM,
    )
    layer.to_file(tmp_path / "places.gpkg", layer="places")
    got = read_places(tmp_path / "places.gpkg", crs="EPSG:4326")
    assert got["name"].tolist() == ["Nong Khae", "Ban Mai"]  # the town first
    assert got["population"].tolist() == [15000.0, 900.0]
    assert (got.geom_type == "Point").all() and got.crs.to_epsg() == 4326
    back = got.to_crs(UTM).geometry
    assert back.iloc[0].distance(Point(X0 + 2000, Y0 + 1000)) < 1  # the polygon at its centre
    # name only, as GeoParquet
    layer[["name", "geometry"]].to_parquet(tmp_path / "places.parquet")
    bare = read_places(tmp_path / "places.parquet")
    assert bare["place"].isna().all() and bare["population"].isna().all() and bare.crs.to_epsg() == 32647


def _write(tmp_path, frame: gpd.GeoDataFrame, name: str = "places.gpkg"):
    path = tmp_path / name
    frame.to_file(path)
    return path


def test_bad_places_files_get_one_clear_error(tmp_path):
    point = [Point(X0, Y0)]
    no_name = _write(tmp_path, gpd.GeoDataFrame({"town": ["Ban Mai"]}, geometry=point, crs=UTM))
    with pytest.raises(InputError, match=r"places '.*places\.gpkg' is missing column\(s\) name; it has town"):
        read_places(no_name)
    blank = _write(tmp_path, gpd.GeoDataFrame({"name": ["Ban Mai", " "]}, geometry=point * 2, crs=UTM), "b.gpkg")
    with pytest.raises(InputError, match=r"b\.gpkg' feature 2 has no name"):
        read_places(blank)
    people = gpd.GeoDataFrame({"name": ["Ban Mai"], "population": ["many"]}, geometry=point, crs=UTM)
    with pytest.raises(InputError, match=r"feature 1: population 'many' is not a number >= 0"):
        read_places(_write(tmp_path, people, "p.gpkg"))
    line = gpd.GeoDataFrame({"name": ["Thanon"]}, geometry=[LineString([(X0, Y0), (X0 + 1, Y0)])], crs=UTM)
    with pytest.raises(InputError, match=r"feature 1 is a LineString; expected points"):
        read_places(_write(tmp_path, line, "l.gpkg"))
    no_crs = _write(tmp_path, gpd.GeoDataFrame({"name": ["Ban Mai"]}, geometry=point), "places.shp")
    with pytest.raises(CRSError, match=r"places '.*places\.shp' has no CRS"):
        read_places(no_crs)
    with pytest.raises(InputFileNotFoundError, match=r"places file '.*nowhere\.osm\.pbf' does not exist"):
        read_places(tmp_path / "nowhere.osm.pbf")
    (tmp_path / "places.txt").write_text("Ban Mai")
    with pytest.raises(InputError, match=r"unsupported extension; expected one of \.osm, \.osm\.bz2"):
        read_places(tmp_path / "places.txt")


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("cut.osm.pbf", None, "PBF error"),
        ("bad.osm", b"<osm version='0.6'><node id='1' lat=", "XML parsing error"),
        ("bad.osm.bz2", b"BZh9 not bzip2 data", "bzip2 error"),
    ],
)
def test_a_corrupt_osm_file_is_one_input_error(tmp_path, data_dir, name, content, says):
    path = tmp_path / name
    if content is None:  # a real PBF cut in the middle of its first data block
        shutil.copy(data_dir / "kotka-karhula.osm.pbf", path)
        path.write_bytes(path.read_bytes()[:2000])
    else:
        path.write_bytes(content)
    with pytest.raises(InputError) as err:
        read_places(path)
    message = str(err.value)
    assert message.startswith(f"places {str(path)!r} is truncated or not valid OSM (")
    assert says in message and message.endswith("expected OSM XML or PBF")


# ---------------------------------------------------------------------------- in the pipeline
def test_the_sample_run_describes_its_zones_from_the_osm_places(sample_result):
    got = sample_result.places
    assert list(got.columns) == ["name", "place", "population", "geometry"]
    assert got.crs == sample_result.grid.crs and len(got) == 121  # all inside the region
    zones = sample_result.zones
    assert list(zones.columns)[-4:] == ["where", "lon", "lat", "geometry"]
    assert zones["where"].str.fullmatch(r"(in|at) .+|\d+(\.\d)? km [a-z-]+ of .+").all()
    named = set(got["name"])
    assert all(w.split(" of ", 1)[-1].removeprefix("in ") in named for w in zones["where"])
    assert zones["lon"].between(100.2225, 100.6725).all() and zones["lat"].between(14.58, 15.015).all()
    first = zones.iloc[0]
    assert describe(first.geometry, got, crs=zones.crs).phrase == first["where"]


def test_a_run_takes_inputs_places_over_the_roads_and_none_without_either(tmp_path):
    town = gpd.GeoDataFrame({"name": ["Ban Thot Long"], "place": ["town"]}, geometry=[Point(100.45, 14.8)], crs=4326)
    town.to_file(tmp_path / "places.geojson")
    scenario = eicgeo.load_sample().replace(resolution=2000, without=["roads"], zones={"n": 3, "stability_runs": 0})
    bare = eicgeo.run(scenario, progress=False)
    assert bare.places.empty and list(bare.places.columns) == ["name", "place", "population", "geometry"]
    assert bare.zones["where"].isna().all() and bare.zones["lon"].notna().all()
    given = eicgeo.run(scenario.replace(inputs={"places": str(tmp_path / "places.geojson")}), progress=False)
    assert given.places["name"].tolist() == ["Ban Thot Long"]
    assert given.zones["where"].str.endswith(" of Ban Thot Long").all()
    assert given.zones["lon"].tolist() == bare.zones["lon"].tolist()


def test_validate_checks_the_places_file(tmp_path):
    bad = tmp_path / "places.gpkg"
    gpd.GeoDataFrame({"town": ["Ban Mai"]}, geometry=[Point(100.45, 14.8)], crs=4326).to_file(bad)
    found = check(eicgeo.load_sample().replace(inputs={"places": str(bad)}))
    assert [key for key, _ in found.problems] == ["inputs.places"]
    assert "is missing column(s) name" in found.problems[0][1]
    # a missing file is a problem of the scenario itself, as for every input
    with pytest.raises(ScenarioError, match=r"inputs\.places: file '.*none\.gpkg' does not exist"):
        eicgeo.load_sample().replace(inputs={"places": str(tmp_path / "none.gpkg")})
