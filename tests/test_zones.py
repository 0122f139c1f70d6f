"""Candidate zones: locating them on a synthetic suitability grid, cluster zones and scoring."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio.features
from affine import Affine
from scipy import ndimage
from shapely.geometry import Point, Polygon, box

import eicgeo
from eicgeo import mcda, zones
from eicgeo._errors import EicgeoError, GridMismatchError, InputError, ScenarioError
from eicgeo.grid import Grid
from eicgeo.legends import ROLE_CODE
from eicgeo.materials import MATERIALS, parse_flows
from eicgeo.scenario import Scenario
from eicgeo.settings import MCDASettings

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
    found = zones.locate(suit, allowed, n=5, quantile=0.9, min_area_ha=10, min_spacing_km=0, lowest_quantile=None)
    assert found.attrs["threshold"] == pytest.approx(0.8)
    # blob C (4 ha) is too small to hold a zone; A and B grow whole (below 1000 ha)
    assert len(found) == 2
    assert found["kind"].tolist() == ["greenfield", "greenfield"]
    # ordered by mean suitability, not by area: A (16 ha, 0.9) before B (24 ha, 0.8)
    assert found["area_ha"].tolist() == [16.0, 24.0]
    assert found["mean_suitability"].tolist() == pytest.approx([0.9, 0.8])
    a, b = found.geometry
    assert a.equals(box(200, 1400, 600, 1800))  # rows 2-5, columns 2-5
    assert b.equals(box(1000, 400, 1400, 1000))  # rows 10-15, columns 10-13 (14-15 not allowed)
    assert found.crs == GRID.crs


def test_locate_spacing_is_exact():
    suit, allowed = two_blobs()
    # A ends at row 5 / column 5 and B starts at row 10 / column 10: four empty rows and columns
    # between them, so their nearest corners are sqrt(400^2 + 400^2) = 565.7 m apart.
    near = zones.locate(suit, allowed, n=5, quantile=0.9, min_area_ha=10, min_spacing_km=0.56, lowest_quantile=None)
    assert near["area_ha"].tolist() == [16.0, 24.0]
    assert near.geometry.iloc[0].distance(near.geometry.iloc[1]) == pytest.approx(565.685, abs=1e-3)
    # 570 m: only B's corner cell (row 10, column 10) is too close; B keeps its other 23 cells,
    # whose nearest is 100 m further down or right: sqrt(400^2 + 500^2) = 640.3 m.
    apart = zones.locate(suit, allowed, n=5, quantile=0.9, min_area_ha=10, min_spacing_km=0.57, lowest_quantile=None)
    assert apart["area_ha"].tolist() == [16.0, 23.0]
    assert apart.geometry.iloc[0].distance(apart.geometry.iloc[1]) == pytest.approx(640.312, abs=1e-3)
    assert "note" in apart.attrs  # 2 of 5


def test_locate_grows_a_disc_when_compact():
    # One peak cell and a flat plateau: with compactness > 0 the region takes the cells nearest
    # the seed first. 21 ha = the cells with (dr^2 + dc^2) <= 5: 1 + 4 (d=1) + 4 (d=1.41)
    # + 4 (d=2) + 8 (d=2.24); the next ring (d=2.83) is further than all of them.
    suit = np.full(GRID.shape, 0.5, dtype=np.float32)
    suit[10, 10] = 1.0
    allowed = GRID.wrap(np.ones(GRID.shape, dtype=bool), "allowed")
    layer = GRID.wrap(suit, "suitability")
    disc = zones.locate(layer, allowed, n=1, quantile=0.0, min_area_ha=21, max_area_ha=21, compactness=1.0)
    rows, cols = np.indices(GRID.shape)
    expected = (rows - 10) ** 2 + (cols - 10) ** 2 <= 5
    np.testing.assert_array_equal(cells(disc.geometry.iloc[0]), expected)
    assert disc["area_ha"].tolist() == [21.0]
    # Without the penalty every plateau cell ties, so the region is not the disc.
    loose = zones.locate(layer, allowed, n=1, quantile=0.0, min_area_ha=21, max_area_ha=21, compactness=0.0)
    assert loose["area_ha"].tolist() == [21.0]
    assert not np.array_equal(cells(loose.geometry.iloc[0]), expected)


def test_locate_keeps_away_from_zones_to_avoid():
    suit, allowed = two_blobs()
    avoid = np.zeros(GRID.shape, dtype=bool)
    avoid[10:16, 16:18] = True  # e.g. a cluster zone two cells right of B's allowed part
    # B's column 13 is 200 m from column 16 (two cells between): closer than 250 m, dropped.
    found = zones.locate(
        suit,
        allowed,
        n=5,
        quantile=0.9,
        min_area_ha=10,
        min_spacing_km=0.25,
        avoid=GRID.wrap(avoid, "avoid"),
        lowest_quantile=None,
    )
    assert found["area_ha"].tolist() == [16.0, 18.0]
    assert found.geometry.iloc[1].equals(box(1000, 400, 1300, 1000))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_located_zones_keep_every_guarantee(seed):
    rng = np.random.default_rng(seed)
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 8000), (80, 80))
    field = ndimage.gaussian_filter(rng.random(grid.shape), 3)
    suit = (field - field.min()) / (field.max() - field.min())
    ok = rng.random(grid.shape) > 0.1
    ok[40, :] = False  # a road-like strip of excluded land
    found = zones.locate(
        grid.wrap(suit.astype(np.float32), "suitability"),
        grid.wrap(ok, "allowed"),
        n=8,
        quantile=0.5,
        min_area_ha=20,
        max_area_ha=60,
        min_spacing_km=0.35,
        compactness=0.2,
    )
    assert len(found) >= 3
    masks = [cells(g, grid) for g in found.geometry]
    for geom, mask, area in zip(found.geometry, masks, found["area_ha"], strict=True):
        _, pieces = ndimage.label(mask, structure=ndimage.generate_binary_structure(2, 1))
        assert pieces == 1  # contiguous through shared edges (4-connected)
        assert 20 <= area <= 60 and mask.sum() == area and geom.area / 1e4 == pytest.approx(area)
        assert ok[mask].all()  # no excluded cell
        assert (suit[mask] >= found.attrs["threshold"] - 1e-6).all()
    assert found["mean_suitability"].is_monotonic_decreasing
    for i in range(len(masks)):
        for j in range(i + 1, len(masks)):
            assert not (masks[i] & masks[j]).any()  # no overlap
            assert found.geometry.iloc[i].distance(found.geometry.iloc[j]) >= 350 - 1e-6


def test_locate_says_why_fewer_zones_fit():
    suit, allowed = two_blobs()
    few = zones.locate(suit, allowed, n=5, quantile=0.9, min_area_ha=10, min_spacing_km=0, lowest_quantile=None)
    assert few.attrs["note"] == (
        "2 of 5 zones found: only 2 zone(s) of >= 10 ha fit 0 km apart on the allowed land of suitability "
        ">= 0.800 (the 90% quantile); that land has only 2 contiguous area(s) of >= 10 ha"
    )
    # every cell of B is within 1.5 km of A (at most sqrt(9^2 + 7^2) = 11.4 cells of gap)
    spaced = zones.locate(suit, allowed, n=5, quantile=0.9, min_area_ha=10, min_spacing_km=1.5, lowest_quantile=None)
    assert spaced["area_ha"].tolist() == [16.0]
    assert spaced.attrs["note"] == (
        "1 of 5 zones found: only 1 zone(s) of >= 10 ha fit 1.5 km apart on the allowed land of suitability "
        ">= 0.800 (the 90% quantile); that land has 2 contiguous area(s) of >= 10 ha, and keeping zones "
        "1.5 km apart leaves no room for more"
    )
    one = zones.locate(suit, allowed, n=1, quantile=0.9, min_area_ha=10, lowest_quantile=None)
    assert len(one) == 1 and one["mean_suitability"].iloc[0] == pytest.approx(0.9)
    assert "note" not in one.attrs
    # with a smaller minimum the 4 ha blob C comes first (0.95)
    small = zones.locate(suit, allowed, n=5, quantile=0.9, min_area_ha=4, min_spacing_km=0, lowest_quantile=None)
    assert small["area_ha"].tolist() == [4.0, 16.0, 24.0]


def test_locate_lowers_its_floor_until_n_zones_fit_and_keeps_the_zones_above_it():
    # 10 x 10 ha: A (3 x 3 at 0.9) and B (3 x 3 at 0.6) in opposite corners, 0.2 elsewhere. Of the
    # 100 sorted values 82 are 0.2 (positions 0-81), 9 are 0.6 (82-90) and 9 are 0.9 (91-99): the
    # 95 % quantile (position 94.05) is 0.9, so only A is candidate land; the 90 % quantile
    # (position 89.1) is 0.6, and B becomes candidate land too.
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 1000), (10, 10))
    s = np.full((10, 10), 0.2, dtype=np.float32)
    s[:3, :3], s[7:, 7:] = 0.9, 0.6
    suit, allowed = grid.wrap(s, "suitability"), grid.wrap(np.ones((10, 10), dtype=bool), "allowed")
    kw = {"n": 2, "quantile": 0.95, "min_area_ha": 9, "max_area_ha": 9, "min_spacing_km": 0.5}
    fixed = zones.locate(suit, allowed, lowest_quantile=None, **kw)
    assert fixed["mean_suitability"].round(3).tolist() == [0.9]
    assert fixed.attrs["threshold"] == pytest.approx(0.9)
    assert fixed.attrs["note"].startswith("1 of 2 zones found")
    lowered = zones.locate(suit, allowed, lowest_quantile=0.5, **kw)
    assert lowered["mean_suitability"].round(3).tolist() == [0.9, 0.6]
    assert lowered.geometry.iloc[0].equals(fixed.geometry.iloc[0])  # A is kept as found above 0.9
    assert lowered.geometry.iloc[1].equals(box(700, 0, 1000, 300))
    assert lowered.attrs["threshold"] == pytest.approx(0.6)
    assert lowered.attrs["note"] == (
        "2 of 2 zones found with the suitability floor lowered from the 95% to the 90% quantile of the "
        "allowed land (0.600; zones.lowest_quantile): too few zones of >= 9 ha fit 0.5 km apart above the "
        "95% quantile"
    )
    # a floor that may not go below the 92 % quantile (position 91.08: 0.9) finds A only
    stuck = zones.locate(suit, allowed, lowest_quantile=0.92, **kw)
    assert len(stuck) == 1 and stuck.attrs["threshold"] == pytest.approx(0.9)
    assert "(the 92% quantile, the lowest allowed)" in stuck.attrs["note"]
    # n = 1 is met above the first floor: nothing is lowered
    assert "note" not in zones.locate(suit, allowed, lowest_quantile=0.0, **{**kw, "n": 1}).attrs


def test_locate_lowest_quantile_must_be_a_quantile():
    suit, allowed = two_blobs()
    with pytest.raises(InputError, match=r"lowest_quantile must be in \[0, 1\), got 1.5"):
        zones.locate(suit, allowed, lowest_quantile=1.5)


def test_locate_is_four_connected():
    suit = np.zeros(GRID.shape, dtype=np.float32)
    suit[0:3, 0:3] = 1.0
    suit[3:6, 3:6] = 1.0  # touches the first block at one corner only
    allowed = GRID.wrap(np.ones(GRID.shape, dtype=bool), "allowed")
    # 18 of 400 cells are 1: the 99 % quantile (position 395.01 of 0..399) is 1
    found = zones.locate(
        GRID.wrap(suit, "suitability"),
        allowed,
        n=5,
        quantile=0.99,
        min_area_ha=9,
        min_spacing_km=0,
        lowest_quantile=None,
    )
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
    found = zones.locate(suit, none, lowest_quantile=None)
    assert len(found) == 0
    assert found.attrs["note"] == "no allowed cells: the fringe is empty or wholly excluded"
    assert {"kind", "area_ha", "mean_suitability"} <= set(found.columns)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quantile": 1}, r"quantile must be in \[0, 1\), got 1"),
        ({"n": 0}, r"n must be an integer >= 1, got 0"),
        ({"min_area_ha": 0}, r"min_area_ha must be > 0 hectares, got 0"),
        ({"min_area_ha": 50, "max_area_ha": 40}, r"max_area_ha must be >= min_area_ha \(50\), got 40"),
        ({"min_spacing_km": -1}, r"min_spacing_km must be >= 0 km, got -1"),
        ({"compactness": -0.1}, r"compactness must be >= 0, got -0.1"),
        (
            {"min_area_ha": 1.5, "max_area_ha": 1.9},
            r"max_area_ha 1.9 holds no whole number of 1 ha cells >= min_area_ha 1.5",
        ),
    ],
)
def test_locate_bad_settings(kwargs, message):
    suit, allowed = two_blobs()
    with pytest.raises(InputError, match=message):
        zones.locate(suit, allowed, **kwargs, lowest_quantile=None)


def test_locate_grid_errors():
    suit, allowed = two_blobs()
    other = Grid("EPSG:32647", Affine(100, 0, 500, 0, -100, 2000), (20, 20))
    with pytest.raises(GridMismatchError, match=r"allowed mask is on another grid"):
        zones.locate(suit, other.wrap(allowed.values, "allowed"), lowest_quantile=None)
    with pytest.raises(GridMismatchError, match=r"allowed mask has shape \(2, 2\), expected the grid shape \(20, 20\)"):
        zones.locate(suit, allowed[:2, :2], lowest_quantile=None)
    with pytest.raises(GridMismatchError, match=r"avoid mask is on another grid"):
        zones.locate(suit, allowed, avoid=other.wrap(allowed.values, "avoid"), lowest_quantile=None)


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
        {
            "firm_id": ["F1", "F2", "F3", "X", "X2"],
            "outputs": ["fly_ash:100;steel:50", "slag:200", "treated_wastewater:1000;rice_husk:30", "", ""],
        },
        geometry=[Point(1100, 1900), Point(2100, 1900), Point(1150, 1850), Point(2900, 500), Point(2900, 300)],
        crs=SCORE_GRID.crs,
    )
    links = gpd.GeoDataFrame(
        {"from_firm": ["F1", "F3", "X"], "to_firm": ["F2", "X", "X2"], "tonnes": [300.0, 100.0, 50.0]},
        geometry=[None, None, None],
        crs=SCORE_GRID.crs,
    )
    return (candidates, SCORE_GRID.wrap(suit, "suitability"), SCORE_GRID.wrap(market, "market"), firms, links)


OLD_WEIGHTS = {"suitability": 0.6, "symbiosis": 0.2, "rural_pop": 0.2}
RURAL = np.array([1000.0, 4000.0, 2000.0])


def test_score_by_hand():
    candidates, suit, market, firms, links = three_zones()
    got = zones.score(
        candidates,
        suitability=suit,
        firms=firms,
        links=links,
        market_minutes=market,
        rural_pop_30min=RURAL,
        firm_reach_m=100,
        weights=OLD_WEIGHTS,
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
    assert got["material_minutes"].isna().all() and got["equal_access"].isna().all()
    assert got["symbiosis_reach_tonnes"].isna().all() and got["green_loss_ha"].isna().all()
    assert got["p_top_k"].isna().all()  # until stability()
    assert got["rural_pop_30min"].tolist() == [4000.0, 1000.0, 2000.0]
    assert got["kind"].tolist() == ["greenfield", "greenfield", "cluster"]
    assert list(got.columns) == [*zones.ZONE_COLUMNS, "name", "geometry"]
    assert got.crs == SCORE_GRID.crs
    assert "score_note" not in got.attrs


def test_score_every_indicator_by_hand():
    candidates, suit, market, firms, links = three_zones()
    material = SCORE_GRID.wrap(np.full(SCORE_GRID.shape, 10.0, dtype=np.float32), "material")
    clay = SCORE_GRID.wrap(2 * market.values, "clay")  # twice the column number
    green = np.zeros(SCORE_GRID.shape, dtype=np.uint8)
    green[0, 0:2] = 1  # two cells of Z1
    green[0:2, 20:22] = 1  # all four cells of Z3
    green[10, :] = 1  # outside every zone: not counted
    got = zones.score(
        candidates,
        suitability=suit,
        firms=firms,
        links=links,
        market_minutes=market,
        material_minutes=material,
        materials={"clay": clay},
        rural_pop_30min=RURAL,
        green_space=SCORE_GRID.wrap(green, "green_space"),
        firm_reach_m=100,
        reach_km=1.0,
    )
    # default weights 0.5 suitability, 0.2 symbiosis, 0.2 rural population, 0.1 green loss
    # (less is better: 1 - loss / max loss):
    #   Z2: 0.5 x 0.6/0.9 + 0.2 x 1    + 0.2 x 1    + 0.1 x (1 - 0/4) = 0.8333
    #   Z1: 0.5 x 1       + 0.2 x 0    + 0.2 x 0.25 + 0.1 x (1 - 2/4) = 0.6
    #   Z3: 0.5 x 0.3/0.9 + 0.2 x 0.75 + 0.2 x 0.5  + 0.1 x (1 - 4/4) = 0.4167
    assert got["name"].tolist() == ["Z2", "Z1", "Z3"]
    assert got["score"].tolist() == pytest.approx([0.5 / 1.5 + 0.5, 0.6, 0.5 / 3 + 0.25])
    assert got["green_loss_ha"].tolist() == [0.0, 2.0, 4.0]
    assert got["material_minutes"].tolist() == [10.0, 10.0, 10.0]
    assert got["minutes_clay"].tolist() == [21.0, 1.0, 41.0]  # medians of 20, 22 / 0, 2 / 40, 42
    # equal access (1 - max(tm, tr)/60) (1 - |tm - tr| / (tm + tr + 1)) with tr = 10, averaged:
    #   Z2, tm = 10 and 11: (5/6 x 1 + 49/60 x 21/22) / 2
    #   Z1, tm = 0 and 1:   (5/6 x 1/11 + 5/6 x 3/12) / 2
    z2 = (5 / 6 + 49 / 60 * 21 / 22) / 2
    z1 = (5 / 6 / 11 + 5 / 6 * 3 / 12) / 2
    assert got["equal_access"].iloc[:2].tolist() == pytest.approx([z2, z1], rel=1e-6)
    # by-products (t/yr only) offered within 1 km: F1 fly ash 100 (its steel is a product),
    # F3 rice husk 30 (its wastewater is in m3), F2 slag 200. Z1 reaches F1 (900 m) and F3
    # (950 m); Z2 and Z3 reach all three (F2 is 900 m from Z2; F1, F3 850-900 m from Z3).
    assert got["symbiosis_reach_tonnes"].tolist() == [330.0, 130.0, 330.0]
    assert list(got.columns) == [*zones.ZONE_COLUMNS, "minutes_clay", "name", "geometry"]


def test_score_leaves_out_indicators_no_zone_has():
    candidates, suit, _, firms, links = three_zones()
    got = zones.score(candidates, suitability=suit, firms=firms, links=links, rural_pop_30min=RURAL, firm_reach_m=100)
    # no green-space layer: the default weights 0.5, 0.2, 0.2 are rescaled to 5/9, 2/9, 2/9
    assert got["name"].tolist() == ["Z2", "Z1", "Z3"]
    assert got["score"].tolist() == pytest.approx(
        [5 / 9 * 2 / 3 + 2 / 9 + 2 / 9, 5 / 9 + 2 / 9 * 0.25, 5 / 9 / 3 + 2 / 9 * 0.75 + 2 / 9 * 0.5]
    )
    assert got.attrs["score_note"] == (
        "the zone score leaves out green_loss (no zone has green_loss_ha); the other weights are rescaled"
    )


def test_score_with_any_index():
    # zones put together from several sources need not have a 0..n-1 index
    candidates, suit, _, firms, links = three_zones(index=[10, 11, 12])
    got = zones.score(
        candidates,
        suitability=suit,
        firms=firms,
        links=links,
        rural_pop_30min=RURAL,
        firm_reach_m=100,
        weights=OLD_WEIGHTS,
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
        # minutes to market, less is better: 1 - median / 20.5
        ({"market": 1}, ["Z1", "Z2", "Z3"], [1 - 0.5 / 20.5, 1 - 10.5 / 20.5, 0.0]),
        ({"n_firms": 1}, ["Z2", "Z3", "Z1"], [1.0, 0.5, 0.0]),
    ],
)
def test_score_weights(weights, names, scores):
    candidates, suit, market, firms, links = three_zones()
    got = zones.score(
        candidates,
        suitability=suit,
        firms=firms,
        links=links,
        market_minutes=market,
        rural_pop_30min=RURAL,
        firm_reach_m=100,
        weights=weights,
    )
    assert got["name"].tolist() == names
    assert got["score"].tolist() == pytest.approx(scores)


def test_score_without_firms_ranks_by_suitability():
    candidates, suit, _, _, _ = three_zones()
    got = zones.score(candidates, suitability=suit, weights=OLD_WEIGHTS)
    assert got["name"].tolist() == ["Z1", "Z2", "Z3"]
    # without a register the exchange is unknown, not zero: symbiosis and rural population are
    # left out and the suitability's weight is all there is
    assert got["score"].tolist() == pytest.approx([1.0, 2 / 3, 1 / 3])
    assert got["n_firms"].tolist() == [0, 0, 0]
    assert got["symbiosis_tonnes"].isna().all()
    assert "symbiosis" in got.attrs["score_note"]


def test_score_formula():
    assert zones.score_formula(OLD_WEIGHTS) == (
        "score = 0.6 × mean_suitability / max + 0.2 × symbiosis_tonnes / max + 0.2 × rural_pop_30min / max, "
        "each maximum taken over the zones ranked"
    )
    # the default (0.5, 0.2, 0.2, 0.1), as applied to zones without rural population or green space
    candidates, suit, *_ = three_zones()
    ranked = zones.score(candidates, suitability=suit)
    assert zones.score_formula(None, ranked) == (
        "score = 1 × mean_suitability / max, each maximum taken over the zones ranked"
    )
    assert zones.score_formula({"green_loss": 1}) == (
        "score = 1 × (1 - green_loss_ha / max), each maximum taken over the zones ranked"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"weights": {"suitabilty": 1}},
            r"zone score weights name unknown indicator\(s\) \['suitabilty'\]; expected \['equal_access', "
            r"'green_loss', 'market', 'materials', 'n_firms', 'rural_pop', 'suitability', 'symbiosis', "
            r"'symbiosis_reach'\] \(did you mean 'suitability'\?\)",
        ),
        (
            {"weights": {"suitability": -1}},
            r"zone score weights must be numbers >= 0 with a positive sum, got \{'suitability': -1\}",
        ),
        ({"rural_pop_30min": np.array([1.0])}, r"rural_pop_30min has 1 values, expected one per zone \(3\)"),
        ({"reach_km": 0}, r"reach_km must be > 0 km, got 0"),
        (
            {"green_space": GRID.wrap(np.zeros(GRID.shape, dtype=np.uint8), "green")},
            r"green_space has shape \(20, 20\), expected the grid shape \(20, 30\)",
        ),
    ],
)
def test_score_bad_input(kwargs, message):
    candidates, suit, *_ = three_zones()
    with pytest.raises(EicgeoError, match=message):  # InputError, or GridMismatchError for a layer
        zones.score(candidates, suitability=suit, **kwargs)


def test_score_empty_zones_have_every_column():
    _, suit, *_ = three_zones()
    empty = gpd.GeoDataFrame({"kind": [], "area_ha": [], "mean_suitability": []}, geometry=[], crs=SCORE_GRID.crs)
    got = zones.score(empty, suitability=suit)
    assert len(got) == 0
    assert list(got.columns) == [*zones.ZONE_COLUMNS, "geometry"]


def test_locate_then_score():
    suit, allowed = two_blobs()
    found = zones.locate(suit, allowed, n=5, quantile=0.9, min_area_ha=10, min_spacing_km=0, lowest_quantile=None)
    ranked = zones.score(found, suitability=suit, weights={"suitability": 1})
    assert ranked["score"].tolist() == pytest.approx([1.0, 0.8 / 0.9])
    assert ranked["area_ha"].tolist() == [16.0, 24.0]


# --------------------------------------------------------------------------------------------
# stability
# --------------------------------------------------------------------------------------------
def crossing_zones():
    """Zone 1 is all criterion a, zone 2 all b, zone 3 half of each."""
    a = np.zeros(SCORE_GRID.shape, dtype=np.float32)
    b = np.zeros(SCORE_GRID.shape, dtype=np.float32)
    a[0:2, 0:2] = 1.0
    b[0:2, 10:12] = 1.0
    a[0:2, 20:22] = 0.5
    b[0:2, 20:22] = 0.5
    criteria = {"a": SCORE_GRID.wrap(a, "a"), "b": SCORE_GRID.wrap(b, "b")}
    suit = SCORE_GRID.wrap(0.5 * a + 0.5 * b, "suitability")
    candidates, *_ = three_zones()
    ranked = zones.score(candidates, suitability=suit, weights={"suitability": 1})
    return ranked, criteria


def test_stability_by_hand():
    ranked, criteria = crossing_zones()
    # a weight draw (wa, wb = 1 - wa) gives the zones mean suitability wa, wb and 0.5: zone 1
    # is first when wa > 0.5, zone 2 when wb > 0.5, and zone 3 is always second.
    draws = mcda.sample_weights({"a": 1, "b": 1}, 200, concentration=50, seed=7)
    share_a = float((draws["a"] > 0.5).mean())
    assert 0.3 < share_a < 0.7
    by_name = {}
    for k in (1, 2):
        got = zones.stability(ranked, criteria, {"a": 1, "b": 1}, runs=200, top_k=k, concentration=50, seed=7)
        by_name[k] = dict(zip(got["name"], got["p_top_k"], strict=True))
        assert got.attrs["top_k"] == k and got.attrs["runs"] == 200
    assert by_name[1] == pytest.approx({"Z1": share_a, "Z2": 1 - share_a, "Z3": 0.0})
    assert by_name[2] == pytest.approx({"Z1": share_a, "Z2": 1 - share_a, "Z3": 1.0})


def test_stability_owa_with_equal_order_weights_is_wlc():
    ranked, criteria = crossing_zones()
    wlc = zones.stability(ranked, criteria, {"a": 1, "b": 1}, runs=50, top_k=1, concentration=20, seed=3)
    owa = zones.stability(
        ranked, criteria, {"a": 1, "b": 1}, runs=50, top_k=1, concentration=20, seed=3, mcda=MCDASettings(method="owa")
    )
    assert owa["p_top_k"].tolist() == wlc["p_top_k"].tolist()


def test_stability_with_fixed_weights_follows_the_rank():
    candidates, suit, *_ = three_zones()
    ranked = zones.score(candidates, suitability=suit)
    # one criterion: every draw is the weight 1, so the ranks never move
    got = zones.stability(ranked, {"suitability": suit}, {"suitability": 1}, runs=10, top_k=2)
    assert got["name"].tolist() == ["Z1", "Z2", "Z3"]
    assert got["p_top_k"].tolist() == [1.0, 1.0, 0.0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"runs": 0}, r"stability runs must be an integer >= 1, got 0"),
        ({"top_k": 0}, r"top_k must be an integer >= 1, got 0"),
        ({"concentration": 0}, r"concentration must be > 0, got 0"),
        (
            {"weights": {"a": 1, "c": 1}},
            r"weight given for criterion 'c', which is not among the criteria a, b",
        ),
    ],
)
def test_stability_bad_input(kwargs, message):
    ranked, criteria = crossing_zones()
    kwargs = {"weights": {"a": 1, "b": 1}, **kwargs}
    with pytest.raises(InputError, match=message):
        zones.stability(ranked, criteria, **kwargs)


# --------------------------------------------------------------------------------------------
# scenario settings
# --------------------------------------------------------------------------------------------
def test_scenario_zone_settings_are_checked():
    data = {
        "inputs": {"landcover": "lc.tif"},
        "zones": {
            "n": 0,
            "min_spacing_km": -1,
            "compactness": -0.5,
            "top_k": 0,
            "stability_runs": -1,
            "stability_concentration": 0,
            "min_area_ha": 100,
            "max_area_ha": 80,
            "score_weights": {"suitabilty": 1, "symbiosis": -1},
        },
    }
    with pytest.raises(ScenarioError) as err:
        Scenario.from_dict(data, check_files=False)
    problems = dict(err.value.problems)
    assert problems["zones.n"] == "expected an integer >= 1 (zones), got 0"
    assert problems["zones.min_spacing_km"] == "expected a number >= 0 (km), got -1"
    assert problems["zones.compactness"] == "expected a number >= 0, got -0.5"
    assert problems["zones.top_k"] == "expected an integer >= 1 (zones), got 0"
    assert problems["zones.stability_runs"] == "expected an integer >= 0 (runs), got -1"
    assert problems["zones.stability_concentration"] == "expected a number > 0, got 0"
    assert problems["zones.max_area_ha"] == "expected a number >= zones.min_area_ha (100), got 80"
    assert problems["zones.score_weights.suitabilty"].startswith("unknown indicator; expected one of suitability, ")
    assert problems["zones.score_weights.suitabilty"].endswith("(did you mean 'suitability'?)")
    assert problems["zones.score_weights.symbiosis"] == "expected a number >= 0, got -1"
    assert len(problems) == 9
    # the balanced preset documents its zone score
    s = Scenario.from_dict({"inputs": {"landcover": "lc.tif"}}, check_files=False)
    assert s.zones.score_table() == zones.SCORE_WEIGHTS
    assert s.zones.min_spacing_km == 1 and s.zones.top_k == 5 and s.zones.stability_runs == 100


# --------------------------------------------------------------------------------------------
# the sample region
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample():
    return eicgeo.run(eicgeo.load_sample(), progress=False)


def test_best_sample_zones_sit_where_the_seed_wants_them(sample):
    """The five best zones: on the fringe of the city and the towns, near a main road, raw
    materials and by-product producers; never in the urban core, water, wetland or forest."""
    result = sample
    grid = result.grid
    top = result.zones[result.zones["rank"] <= 5]
    assert len(top) == 5
    roles = np.asarray(result.layers["landcover_role"].values)
    smod = np.asarray(result.degurba.values)
    allowed = np.asarray(((result.fringe == 2) & (result.excluded == 0) & result.suitability.notnull()).values)
    road = np.asarray(result.layers["road_access"].values)
    material = np.asarray(result.layers["material_access"].values)
    # urban clusters of the Degree of Urbanisation (codes 21-30); the largest is the city
    urban, _ = ndimage.label(np.isin(smod, (21, 22, 23, 30)))
    city = np.bincount(urban.ravel())[1:].argmax() + 1
    _, (near_r, near_c) = ndimage.distance_transform_edt(urban == 0, return_indices=True)
    km_to_urban = ndimage.distance_transform_edt(urban == 0) * grid.resolution / 1000
    producers = result.firms[
        [
            any(MATERIALS[m].kind == "byproduct" and MATERIALS[m].unit == "t/yr" for m in parse_flows(text))
            for text in result.firms["outputs"]
        ]
    ]
    places = set()
    for zone in top.itertuples():
        inside = cells(zone.geometry, grid)
        assert inside.sum() * grid.cell_area_m2 / 1e4 == zone.area_ha
        assert (smod[inside] != 30).all(), f"zone {zone.zone_id} reaches into the urban centre"
        for role in ("water", "wetland", "built_up"):
            assert not (roles[inside] == ROLE_CODE[role]).any(), f"zone {zone.zone_id} holds {role}"
        assert (roles[inside] == ROLE_CODE["forest"]).mean() < 0.15, f"zone {zone.zone_id} is mostly forest"
        assert km_to_urban[inside].min() <= 5, f"zone {zone.zone_id} is not on an urban fringe"
        places.add("city" if np.bincount(urban[near_r[inside], near_c[inside]]).argmax() == city else "town")
        # nearer a main road and the raw materials than the typical allowed fringe cell
        assert np.median(road[inside]) < np.median(road[allowed]), f"zone {zone.zone_id} is far from main roads"
        assert np.median(material[inside]) < np.median(material[allowed]), f"zone {zone.zone_id} is far from materials"
        assert producers.distance(zone.geometry).min() < 2000, f"zone {zone.zone_id} has no by-product producer near"
    assert "city" in places, "the best zones ring the city"
    assert top["p_top_k"].between(0, 1).all()


def test_sample_report_shows_every_zone_column_and_flags_unstable_ranks(sample):
    from eicgeo.report import report_markdown

    text = report_markdown(sample)
    section = text[text.index("## Ranked candidate zones") : text.index("## Criteria and weights")]
    header = section.splitlines()[2]
    for column in ("rank", "kind", "score", "p_top_k", *zones.ZONE_COLUMNS[3:]):
        assert f" {column} |" in header
    assert (
        "`score = 0.5 × mean_suitability / max + 0.2 × symbiosis_tonnes / max + 0.2 × rural_pop_30min / max "
        "+ 0.1 × (1 - green_loss_ha / max), each maximum taken over the zones ranked`"
    ) in section
    assert sample.zones["green_loss_ha"].notna().all()  # from the fringe stage's residual green space
    assert "### Minutes to each raw material (median over the zone)" in section
    z = sample.zones
    flagged = {int(line.split("zone ")[1].split(" ")[0]) for line in section.splitlines() if "**Unstable**" in line}
    expected = z.loc[((z["rank"] <= 5) & (z["p_top_k"] < 0.5)) | ((z["rank"] > 5) & (z["p_top_k"] >= 0.5)), "zone_id"]
    assert flagged == set(expected.tolist())


def test_zone_cells_by_window_equal_a_whole_grid_mask():
    # Each zone is rasterised in its own window; the cells are those of a whole-grid mask,
    # including a zone half outside the grid and one wholly outside it.
    import rasterio.features
    from shapely.geometry import Polygon, box

    from eicgeo.zones import _masks

    grid = Grid("EPSG:32647", Affine(100, 0, 1000, 0, -100, 9000), (50, 70))
    shapes = [
        box(1230, 4040, 3370, 6960),
        Polygon([(1500, 8500), (6000, 8900), (4000, 5000)]),
        box(7500, 3000, 9500, 5000),  # half outside to the east
        box(20000, 20000, 21000, 21000),  # outside
    ]
    zones = gpd.GeoDataFrame(geometry=shapes, crs=grid.crs)
    for cells, geom in zip(_masks(zones, grid), shapes, strict=True):
        whole = rasterio.features.geometry_mask([geom], grid.shape, grid.transform, invert=True)
        np.testing.assert_array_equal(np.sort(cells), np.flatnonzero(whole))
    assert [len(c) for c in _masks(zones, grid)][3] == 0


def test_cluster_zone_at_the_grid_edge_keeps_the_cells_inside():
    # A cluster 100 m from the grid's west edge: its 500 m disc is clipped by the edge; the zone
    # is the allowed cells whose centres lie in the disc, counted by hand from a whole-grid mask.
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 2000), (20, 20))
    ok = np.ones((20, 20), dtype=bool)
    ok[:, 2] = False  # a road strip
    point = Point(100, 1000)
    clusters = gpd.GeoDataFrame({"cluster": [3]}, geometry=[point], crs=grid.crs)
    got = zones.cluster_zones(clusters, grid.wrap(ok, "allowed"), buffer_m=500, min_area_ha=1)
    want = rasterio.features.geometry_mask([point.buffer(500)], grid.shape, grid.transform, invert=True) & ok
    assert got["area_ha"].tolist() == [float(want.sum())]
    drawn = rasterio.features.geometry_mask([got.geometry.iloc[0]], grid.shape, grid.transform, invert=True)
    np.testing.assert_array_equal(drawn, want)
    assert got.geometry.iloc[0].bounds[0] == 0.0


def test_near_in_strips_equals_the_cell_gaps(monkeypatch):
    """zones._near in strips of 7 rows: every cell whose square lies within 250 m of a mask
    cell's square, checked against the gaps between squares computed by hand."""
    monkeypatch.setattr(zones, "_NEAR_ROWS", 7)
    grid = eicgeo.Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 0), (30, 12))
    mask = np.zeros(grid.shape, dtype=bool)
    mask[[2, 15, 16, 29], [3, 0, 11, 6]] = True
    rows, cols = np.indices(grid.shape)
    want = mask.copy()
    for r, c in zip(*np.nonzero(mask), strict=True):
        # the gap between two 100 m squares: (|dr| - 1)+ and (|dc| - 1)+ cells
        dr = np.maximum(np.abs(rows - r) - 1, 0) * 100.0
        dc = np.maximum(np.abs(cols - c) - 1, 0) * 100.0
        want |= np.hypot(dr, dc) < 250
    got = zones._near(mask, grid, 250.0)
    np.testing.assert_array_equal(got, want)
    assert got.sum() == want.sum() > 4 * 9
    # rows 2 and 15 are 13 apart: the strips in between stay clear; an empty mask is near nothing
    assert not got[6:12].any()
    assert not zones._near(np.zeros(grid.shape, dtype=bool), grid, 250.0).any()
