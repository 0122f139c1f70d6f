"""Candidate zones: locating them on a synthetic suitability grid, cluster zones and scoring."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio.features
from affine import Affine
from shapely.geometry import Point, Polygon, box

from eicgeo import zones
from eicgeo._errors import GridMismatchError, InputError
from eicgeo.grid import Grid

# 100 m cells: one hectare each; the grid's top edge is y = 2000, its left edge x = 0
GRID = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 2000), (20, 20))


def cells(geom, grid=GRID) -> np.ndarray:
    """Cells whose centre is inside ``geom``."""
    return rasterio.features.geometry_mask([geom], grid.shape, grid.transform, invert=True)


def two_blobs():
    suit = np.full(GRID.shape, 0.2, dtype=np.float32)
    suit[2:6, 2:6] = 0.9  # blob A: 16 ha at 0.9
    suit[10:16, 10:16] = 0.8  # blob B: 36 ha at 0.8 ...
    allowed = np.ones(GRID.shape, dtype=bool)
    allowed[10:16, 14:16] = False  # ... of which 12 ha are not allowed, leaving 24 ha
    suit[2:4, 15:17] = 0.95  # blob C: 4 ha at 0.95, too small
    return GRID.wrap(suit, "suitability"), GRID.wrap(allowed, "allowed")


def test_locate_two_blobs():
    suit, allowed = two_blobs()
    # 388 allowed cells: 344 at 0.2, 24 at 0.8, 16 at 0.9, 4 at 0.95. The 90 % quantile sits at
    # position 0.9 x 387 = 348.3 of the sorted values, inside the 0.8 run: threshold 0.8.
    found = zones.locate(suit, allowed, n=5, quantile=0.9, min_area_ha=10)
    assert found.attrs["threshold"] == pytest.approx(0.8)
    assert len(found) == 2
    assert found["kind"].tolist() == ["greenfield", "greenfield"]
    # ordered by mean suitability, not by area: A (16 ha, 0.9) before B (24 ha, 0.8)
    assert found["area_ha"].tolist() == [16.0, 24.0]
    assert found["mean_suitability"].tolist() == pytest.approx([0.9, 0.8])
    a, b = found.geometry
    assert a.equals(box(200, 1400, 600, 1800))  # rows 2-5, columns 2-5
    assert b.equals(box(1000, 400, 1400, 1000))  # rows 10-15, columns 10-13 (14-15 not allowed)
    assert found.crs == GRID.crs


def test_located_zones_are_contiguous_disjoint_allowed_and_large_enough():
    suit, allowed = two_blobs()
    found = zones.locate(suit, allowed, n=5, quantile=0.9, min_area_ha=10)
    ok = allowed.values
    for geom, area in zip(found.geometry, found["area_ha"], strict=True):
        assert isinstance(geom, Polygon)  # one piece
        assert geom.area / 1e4 == pytest.approx(area)
        assert area >= 10
        inside = cells(geom)
        assert inside.sum() == area
        assert ok[inside].all()  # no disallowed cell
    geoms = list(found.geometry)
    for i in range(len(geoms)):
        for j in range(i + 1, len(geoms)):
            assert geoms[i].intersection(geoms[j]).area == 0


def test_locate_note_when_fewer_than_asked():
    suit, allowed = two_blobs()
    found = zones.locate(suit, allowed, n=5, quantile=0.9, min_area_ha=10)
    assert found.attrs["note"] == (
        "2 of 5 zones found: only 2 contiguous areas of suitability >= 0.800 (the 90% quantile of "
        "allowed land) reach 10 ha"
    )
    one = zones.locate(suit, allowed, n=1, quantile=0.9, min_area_ha=10)
    assert len(one) == 1 and one["mean_suitability"].iloc[0] == pytest.approx(0.9)
    assert "note" not in one.attrs
    # with a smaller minimum the 4 ha blob C comes first (0.95)
    small = zones.locate(suit, allowed, n=5, quantile=0.9, min_area_ha=4)
    assert small["area_ha"].tolist() == [4.0, 16.0, 24.0]


def test_locate_is_four_connected():
    suit = np.zeros(GRID.shape, dtype=np.float32)
    suit[0:3, 0:3] = 1.0
    suit[3:6, 3:6] = 1.0  # touches the first block at one corner only
    allowed = GRID.wrap(np.ones(GRID.shape, dtype=bool), "allowed")
    # 18 of 400 cells are 1: the 99 % quantile (position 395.01 of 0..399) is 1
    found = zones.locate(GRID.wrap(suit, "suitability"), allowed, n=5, quantile=0.99, min_area_ha=9)
    assert found["area_ha"].tolist() == [9.0, 9.0]
    assert all(isinstance(g, Polygon) for g in found.geometry)


def test_locate_ignores_nan_suitability():
    suit = np.full(GRID.shape, np.nan, dtype=np.float32)
    suit[0:4, 0:4] = 0.5
    allowed = GRID.wrap(np.ones(GRID.shape, dtype=bool), "allowed")
    found = zones.locate(GRID.wrap(suit, "suitability"), allowed, n=3, quantile=0.0, min_area_ha=1)
    assert found["area_ha"].tolist() == [16.0]


def test_locate_all_disallowed():
    suit, _ = two_blobs()
    none = GRID.wrap(np.zeros(GRID.shape, dtype=bool), "allowed")
    found = zones.locate(suit, none)
    assert len(found) == 0
    assert found.attrs["note"] == "no allowed cells: the fringe is empty or wholly excluded"
    assert {"kind", "area_ha", "mean_suitability"} <= set(found.columns)


def test_locate_errors():
    suit, allowed = two_blobs()
    with pytest.raises(InputError, match=r"quantile must be in \[0, 1\), got 1"):
        zones.locate(suit, allowed, quantile=1)
    other = Grid("EPSG:32647", Affine(100, 0, 500, 0, -100, 2000), (20, 20))
    with pytest.raises(GridMismatchError, match=r"allowed mask is on another grid"):
        zones.locate(suit, other.wrap(allowed.values, "allowed"))
    with pytest.raises(GridMismatchError, match=r"allowed mask has shape \(2, 2\), expected the grid shape \(20, 20\)"):
        zones.locate(suit, allowed[:2, :2])


# --------------------------------------------------------------------------------------------
# cluster zones
# --------------------------------------------------------------------------------------------
BIG = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 3000), (30, 30))


def hull_clusters(crs="EPSG:32647"):
    clusters = gpd.GeoDataFrame(
        {"cluster": [7, 8], "n_firms": [5, 3]},
        geometry=[box(1000, 1000, 1200, 1200), box(90_000, 90_000, 90_100, 90_100)],
        crs="EPSG:32647",
    )
    return clusters.to_crs(crs)


def test_cluster_zones_around_a_hull():
    allowed = BIG.wrap(np.ones(BIG.shape, dtype=bool), "allowed")
    got = zones.cluster_zones(hull_clusters(), allowed, buffer_m=200, min_area_ha=10)
    # cell centres 850..1350 m in x and y lie within 200 m of the hull (6 x 6 = 36), except the
    # four corner cells, whose centres are 212 m from the hull's corners: 32 ha. The second
    # cluster is outside the grid.
    assert got["kind"].tolist() == ["cluster"]
    assert got["cluster"].tolist() == [7]
    assert got["area_ha"].tolist() == [32.0]
    assert got.geometry.iloc[0].area / 1e4 == pytest.approx(32.0)
    assert got.geometry.iloc[0].contains(box(1000, 1000, 1200, 1200))
    assert got.crs == BIG.crs


def test_cluster_zones_keep_to_allowed_land():
    ok = np.ones(BIG.shape, dtype=bool)
    ok[:, 8] = False  # the column of cells 800-900 m
    allowed = BIG.wrap(ok, "allowed")
    got = zones.cluster_zones(hull_clusters(), allowed, buffer_m=200, min_area_ha=10)
    assert got["area_ha"].tolist() == [28.0]  # 32 less the 4 cells at x = 850
    assert ok[cells(got.geometry.iloc[0], BIG)].all()
    # in another CRS the clusters are reprojected first
    again = zones.cluster_zones(hull_clusters("EPSG:4326"), allowed, buffer_m=200, min_area_ha=10)
    assert again["area_ha"].tolist() == [28.0]


def test_cluster_zones_below_min_area():
    allowed = BIG.wrap(np.ones(BIG.shape, dtype=bool), "allowed")
    got = zones.cluster_zones(hull_clusters(), allowed, buffer_m=200, min_area_ha=40)
    assert len(got) == 0
    assert list(got.columns) == ["kind", "area_ha", "cluster", "geometry"]


# --------------------------------------------------------------------------------------------
# scoring
# --------------------------------------------------------------------------------------------
SCORE_GRID = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 2000), (20, 30))


def three_zones(index=None):
    suit = np.zeros(SCORE_GRID.shape, dtype=np.float32)
    suit[0:2, 0:2] = 0.9
    suit[0:2, 10:12] = 0.6
    suit[0:2, 20:22] = 0.3
    market = np.tile(np.arange(30, dtype=np.float32), (20, 1))  # minutes = column number
    candidates = gpd.GeoDataFrame(
        {"kind": ["greenfield", "greenfield", "cluster"], "name": ["Z1", "Z2", "Z3"]},
        geometry=[box(0, 1800, 200, 2000), box(1000, 1800, 1200, 2000), box(2000, 1800, 2200, 2000)],
        crs=SCORE_GRID.crs,
        index=index,
    )
    firms = gpd.GeoDataFrame(
        {"firm_id": ["F1", "F2", "F3", "X", "X2"]},
        geometry=[Point(1100, 1900), Point(2100, 1900), Point(1150, 1850), Point(2900, 500), Point(2900, 300)],
        crs=SCORE_GRID.crs,
    )
    links = gpd.GeoDataFrame(
        {"from_firm": ["F1", "F3", "X"], "to_firm": ["F2", "X", "X2"], "tonnes": [300.0, 100.0, 50.0]},
        geometry=[None, None, None],
        crs=SCORE_GRID.crs,
    )
    return (candidates, SCORE_GRID.wrap(suit, "suitability"), SCORE_GRID.wrap(market, "market"), firms, links)


def test_score_by_hand():
    candidates, suit, market, firms, links = three_zones()
    got = zones.score(
        candidates,
        suitability=suit,
        firms=firms,
        links=links,
        market_minutes=market,
        rural_pop_30min=np.array([1000.0, 4000.0, 2000.0]),
        firm_reach_m=100,
    )
    # indicator / max over zones, weighted 0.6 suitability, 0.2 symbiosis, 0.2 rural population:
    #   Z1: 0.6 x 0.9/0.9 + 0.2 x   0/400 + 0.2 x 1000/4000 = 0.65
    #   Z2: 0.6 x 0.6/0.9 + 0.2 x 400/400 + 0.2 x 4000/4000 = 0.80  (F1 and F3: 300 + 100 t)
    #   Z3: 0.6 x 0.3/0.9 + 0.2 x 300/400 + 0.2 x 2000/4000 = 0.45  (F2: 300 t)
    assert got["name"].tolist() == ["Z2", "Z1", "Z3"]
    assert got["score"].tolist() == pytest.approx([0.80, 0.65, 0.45])
    assert got["rank"].tolist() == [1, 2, 3]
    assert got["zone_id"].tolist() == [1, 2, 3]
    assert got["n_firms"].tolist() == [2, 0, 1]
    assert got["symbiosis_tonnes"].tolist() == [400.0, 0.0, 300.0]
    assert got["mean_suitability"].tolist() == pytest.approx([0.6, 0.9, 0.3])
    assert got["area_ha"].tolist() == [4.0, 4.0, 4.0]
    assert got["market_minutes"].tolist() == [10.5, 0.5, 20.5]  # median of columns 10 and 11, ...
    assert got["material_minutes"].isna().all()
    assert got["rural_pop_30min"].tolist() == [4000.0, 1000.0, 2000.0]
    assert got["kind"].tolist() == ["greenfield", "greenfield", "cluster"]
    assert list(got.columns) == [*zones.ZONE_COLUMNS, "name", "geometry"]
    assert got.crs == SCORE_GRID.crs


def test_score_with_any_index():
    # zones put together from several sources need not have a 0..n-1 index
    candidates, suit, _, firms, links = three_zones(index=[10, 11, 12])
    got = zones.score(
        candidates,
        suitability=suit,
        firms=firms,
        links=links,
        rural_pop_30min=np.array([1000.0, 4000.0, 2000.0]),
        firm_reach_m=100,
    )
    assert got["name"].tolist() == ["Z2", "Z1", "Z3"]
    assert got["n_firms"].tolist() == [2, 0, 1]
    assert got["score"].tolist() == pytest.approx([0.80, 0.65, 0.45])


@pytest.mark.parametrize(
    ("weights", "names", "scores"),
    [
        ({"suitability": 1}, ["Z1", "Z2", "Z3"], [1.0, 2 / 3, 1 / 3]),
        # symbiosis and rural population only, half each
        ({"symbiosis": 1, "rural_pop": 1}, ["Z2", "Z3", "Z1"], [1.0, 0.5 * 0.75 + 0.5 * 0.5, 0.5 * 0.25]),
    ],
)
def test_score_weights(weights, names, scores):
    candidates, suit, _, firms, links = three_zones()
    got = zones.score(
        candidates,
        suitability=suit,
        firms=firms,
        links=links,
        rural_pop_30min=np.array([1000.0, 4000.0, 2000.0]),
        firm_reach_m=100,
        weights=weights,
    )
    assert got["name"].tolist() == names
    assert got["score"].tolist() == pytest.approx(scores)


def test_score_without_firms_ranks_by_suitability():
    candidates, suit, _, _, _ = three_zones()
    got = zones.score(candidates, suitability=suit)
    assert got["name"].tolist() == ["Z1", "Z2", "Z3"]
    assert got["score"].tolist() == pytest.approx([0.6, 0.4, 0.2])
    assert got["n_firms"].tolist() == [0, 0, 0]
    assert got["symbiosis_tonnes"].tolist() == [0.0, 0.0, 0.0]


def test_score_unknown_weight_key():
    candidates, suit, *_ = three_zones()
    with pytest.raises(
        InputError,
        match=r"zone score weights name unknown indicator\(s\) \['suitabilty'\]; "
        r"expected \['rural_pop', 'suitability', 'symbiosis'\]",
    ):
        zones.score(candidates, suitability=suit, weights={"suitabilty": 1})


def test_score_empty_zones_have_every_column():
    _, suit, *_ = three_zones()
    empty = gpd.GeoDataFrame({"kind": [], "area_ha": [], "mean_suitability": []}, geometry=[], crs=SCORE_GRID.crs)
    got = zones.score(empty, suitability=suit)
    assert len(got) == 0
    assert list(got.columns) == [*zones.ZONE_COLUMNS, "geometry"]


def test_locate_then_score():
    suit, allowed = two_blobs()
    found = zones.locate(suit, allowed, n=5, quantile=0.9, min_area_ha=10)
    ranked = zones.score(found, suitability=suit)
    # suitability only: 0.9 / 0.9 x 0.6 and 0.8 / 0.9 x 0.6
    assert ranked["score"].tolist() == pytest.approx([0.6, 0.8 / 0.9 * 0.6])
    assert ranked["area_ha"].tolist() == [16.0, 24.0]
