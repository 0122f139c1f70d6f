"""Degree of Urbanisation (GHS-SMOD level 2) and fringe classes, on grids checked by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from affine import Affine

from eicgeo import fringe
from eicgeo._errors import InputError
from eicgeo.fringe import _majority_smooth, smod_codes
from eicgeo.grid import Grid
from eicgeo.io import raster_footprint, read_raster

DATA = Path(__file__).parent / "data"
LAUSANNE = DATA / "lausanne-clc2006-100m.tif"


def codes(density, **kwargs):
    """SMOD codes of a density grid (inh/km²) of 1 km² cells."""
    return smod_codes(np.asarray(density, dtype=float), area_km2=1.0, **kwargs)


# --------------------------------------------------------------------------------------------
# smod_codes: the rules, one at a time
# --------------------------------------------------------------------------------------------
def test_urban_centre_with_a_filled_hole():
    d = np.zeros((9, 9))
    d[2:7, 2:7] = 3000  # 24 cells x 3,000 = 72,000 people
    d[4, 4] = 0  # an empty square kilometre inside the centre
    expected = np.array(
        [
            [11, 11, 11, 11, 11, 11, 11, 11, 11],
            [11, 11, 11, 11, 11, 11, 11, 11, 11],
            [11, 11, 30, 30, 30, 30, 30, 11, 11],
            [11, 11, 30, 30, 30, 30, 30, 11, 11],
            [11, 11, 30, 30, 30, 30, 30, 11, 11],
            [11, 11, 30, 30, 30, 30, 30, 11, 11],
            [11, 11, 30, 30, 30, 30, 30, 11, 11],
            [11, 11, 11, 11, 11, 11, 11, 11, 11],
            [11, 11, 11, 11, 11, 11, 11, 11, 11],
        ]
    )
    got = codes(d)
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == np.uint8


def test_under_50000_people_is_a_dense_urban_cluster():
    d = np.zeros((4, 5))
    d[1:3, 1:3] = 2000  # 4 cells, 8,000 people: >= 5,000, < 50,000
    expected = np.array(
        [
            [11, 11, 11, 11, 11],
            [11, 23, 23, 11, 11],
            [11, 23, 23, 11, 11],
            [11, 11, 11, 11, 11],
        ]
    )
    np.testing.assert_array_equal(codes(d), expected)


def test_centre_threshold_at_exactly_50000_people():
    d = np.zeros((3, 27))
    d[1, 1:26] = 2000  # 25 cells in a row: exactly 50,000 people
    assert set(codes(d)[1, 1:26]) == {30}
    d[1, 25] = 1999  # 49,999 people
    assert set(codes(d)[1, 1:26]) == {23}


def test_5000_people_make_an_urban_cluster_4999_a_rural_cluster():
    d = np.zeros((3, 12))
    d[1, 1:11] = 500  # ten cells of 500 inh/km² (>= 300): 5,000 people
    expected = np.full((3, 12), 11)
    expected[1, 1:11] = 22  # an urban cluster far from any centre is semi-dense
    np.testing.assert_array_equal(codes(d), expected)

    d[1, 10] = 499  # 4,999 people, still >= 300 inh/km² everywhere
    expected[1, 1:11] = 13
    np.testing.assert_array_equal(codes(d), expected)


def test_rural_cluster_needs_500_people():
    d = np.zeros((3, 4))
    d[1, 1] = 600  # >= 300 inh/km², 600 people
    assert codes(d)[1, 1] == 13
    d[1, 1] = 320  # >= 300 inh/km² but 320 people: low-density rural
    assert codes(d)[1, 1] == 12


def test_diagonal_contact_joins_an_urban_cluster():
    d = np.zeros((4, 4))
    d[1, 1] = d[2, 2] = 3000  # 3,000 people each; touching at a corner only
    expected = np.array(
        [
            [11, 11, 11, 11],
            [11, 22, 11, 11],
            [11, 11, 22, 11],
            [11, 11, 11, 11],
        ]
    )
    # urban clusters are 8-connected: 6,000 people together
    np.testing.assert_array_equal(codes(d), expected)
    # one cell apart they are two rural clusters of 3,000
    d = np.zeros((4, 5))
    d[1, 1] = d[2, 3] = 3000
    assert codes(d)[1, 1] == 13 and codes(d)[2, 3] == 13


def test_diagonal_contact_does_not_join_an_urban_centre():
    d = np.zeros((10, 10))
    d[0:4, 0:4] = 2000  # 32,000 people
    d[4:8, 4:8] = 2000  # 32,000 people, touching the first block at one corner
    expected = np.array(
        [
            [23, 23, 23, 23, 11, 11, 11, 11, 11, 11],
            [23, 23, 23, 23, 11, 11, 11, 11, 11, 11],
            [23, 23, 23, 23, 11, 11, 11, 11, 11, 11],
            [23, 23, 23, 23, 11, 11, 11, 11, 11, 11],
            [11, 11, 11, 11, 23, 23, 23, 23, 11, 11],
            [11, 11, 11, 11, 23, 23, 23, 23, 11, 11],
            [11, 11, 11, 11, 23, 23, 23, 23, 11, 11],
            [11, 11, 11, 11, 23, 23, 23, 23, 11, 11],
            [11, 11, 11, 11, 11, 11, 11, 11, 11, 11],
            [11, 11, 11, 11, 11, 11, 11, 11, 11, 11],
        ]
    )
    # urban centres are 4-connected: two groups of 32,000 < 50,000, each a dense urban cluster
    np.testing.assert_array_equal(codes(d), expected)

    # an edge contact at (3, 4) joins them: 66,000 people, an urban centre. Majority smoothing
    # then adds (4, 3): 5 of its 8 neighbours, (3,2) (3,3) (3,4) (4,4) (5,4), are in the centre.
    d[3, 4] = 2000
    expected = np.where(expected == 23, 30, expected)
    expected[3, 4] = 30
    expected[4, 3] = 30
    np.testing.assert_array_equal(codes(d), expected)


def test_majority_rule_adds_a_notch_cell():
    d = np.zeros((9, 9))
    d[2:7, 2:7] = 3000
    d[2, 4] = 0  # a notch in the top edge: open to the outside, so not a hole
    # its 8 neighbours: (2,3) (2,5) (3,3) (3,4) (3,5) are in the centre: 5 >= 5, so it joins;
    # the cells above the edge have only 3 and stay out
    expected = np.full((9, 9), 11)
    expected[2:7, 2:7] = 30
    np.testing.assert_array_equal(codes(d), expected)
    # with a stricter rule (6 neighbours) it would stay out: check the notch is really a notch
    centre = d >= 1500
    assert not _majority_smooth(centre, needed=6)[2, 4]


def test_suburban_within_3_km_semi_dense_beyond():
    d = np.zeros((10, 10))
    d[0:5, 0:5] = 3000  # urban centre, 75,000 people
    d[0:5, 7:9] = 500  # 5,000 people; 3 km from the centre (col 7 to col 4): suburban
    d[8:10, 0:5] = 500  # 5,000 people; 4 km from the centre (row 8 to row 4): semi-dense
    expected = np.array(
        [
            [30, 30, 30, 30, 30, 11, 11, 21, 21, 11],
            [30, 30, 30, 30, 30, 11, 11, 21, 21, 11],
            [30, 30, 30, 30, 30, 11, 11, 21, 21, 11],
            [30, 30, 30, 30, 30, 11, 11, 21, 21, 11],
            [30, 30, 30, 30, 30, 11, 11, 21, 21, 11],
            [11, 11, 11, 11, 11, 11, 11, 11, 11, 11],
            [11, 11, 11, 11, 11, 11, 11, 11, 11, 11],
            [11, 11, 11, 11, 11, 11, 11, 11, 11, 11],
            [22, 22, 22, 22, 22, 11, 11, 11, 11, 11],
            [22, 22, 22, 22, 22, 11, 11, 11, 11, 11],
        ]
    )
    np.testing.assert_array_equal(codes(d), expected)
    # within 4 km both are suburban; with 0.5 km cells both are within 3 km
    assert codes(d, semi_dense_distance_km=4)[9, 0] == 21
    half = smod_codes(d, area_km2=1.0, cell_km=0.5)
    assert half[9, 0] == 21 and half[0, 8] == 21


def test_urban_cluster_around_a_centre_is_suburban():
    d = np.zeros((9, 9))
    d[2:7, 2:7] = 3000  # centre
    d[1, 2:7] = 400  # a ring of 400 inh/km² cells touching the centre
    d[7, 2:7] = 400
    got = codes(d)
    # the ring joins the centre's 8-connected urban cluster but is not the centre: suburban
    assert set(got[1, 2:7]) == {21}
    assert set(got[7, 2:7]) == {21}
    assert got[4, 4] == 30


def test_low_density_rural_from_50_per_km2():
    d = np.array([[50.0, 49.9, 299.0, 0.0]])
    np.testing.assert_array_equal(codes(d), [[12, 11, 12, 11]])


def test_nan_density_counts_as_empty():
    d = np.array([[np.nan, 60.0]])
    np.testing.assert_array_equal(codes(d), [[11, 12]])


def test_water_needs_half_water_and_under_50_per_km2():
    d = np.array([[0.0, 10.0, 60.0, 10.0, 10.0]])
    share = np.array([[1.0, 0.5, 1.0, 0.4, np.nan]])
    np.testing.assert_array_equal(codes(d, water_share=share), [[10, 10, 12, 11, 11]])


def test_built_share_counts_as_dense_for_centres():
    d = np.zeros((3, 30))
    d[1, 1:27] = 2000  # 26 cells, 52,000 people
    d[1, 13] = 1000  # a gap in density that splits them into 24,000 + 26,000
    assert 30 not in codes(d)
    built = np.zeros_like(d)
    built[1, 13] = 0.6  # but the gap is mostly built up
    assert set(codes(d, built_share=built)[1, 1:27]) == {30}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cluster_density": 2000}, r"cluster_density 2000 must not exceed centre_density 1500"),
        ({"centre_density": 0}, r"centre_density must be > 0, got 0"),
        ({"cluster_density": -5}, r"cluster_density must be > 0, got -5"),
    ],
)
def test_smod_codes_bad_thresholds(kwargs, match):
    with pytest.raises(InputError, match=match):
        codes(np.zeros((2, 2)), **kwargs)


# --------------------------------------------------------------------------------------------
# degurba on a finer grid
# --------------------------------------------------------------------------------------------
def test_degurba_aggregates_100m_cells_to_1km():
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 5000), (50, 50))  # 5 x 5 km
    people = np.full(grid.shape, 0.6, dtype=np.float32)  # 60 inh/km²: low-density rural
    people[0:30, 0:30] = 20.0  # 3 x 3 km at 2,000 inh/km² = 18,000 people
    people[40:50, 40:50] = np.nan  # one square kilometre without data
    smod = fringe.degurba(grid.wrap(people, "population"))

    assert smod.shape == (50, 50)
    assert smod.dtype == np.uint8
    assert smod.name == "degurba"
    assert smod.attrs["block_cells"] == 10
    assert smod.attrs["cell_km"] == 1.0
    assert Grid.from_dataarray(smod) == grid
    coarse = np.array(
        [
            [23, 23, 23, 12, 12],
            [23, 23, 23, 12, 12],
            [23, 23, 23, 12, 12],
            [12, 12, 12, 12, 12],
            [12, 12, 12, 12, 0],
        ]
    )
    # every 100 m cell carries the code of its 1 km block
    np.testing.assert_array_equal(smod.values, np.kron(coarse, np.ones((10, 10), dtype=np.uint8)))
    assert smod.values[0, 0] == 23 and smod.values[29, 29] == 23 and smod.values[30, 30] == 12
    assert smod.values[39, 49] == 12 and smod.values[40, 40] == 0 and smod.values[49, 49] == 0


def test_degurba_matches_smod_codes_on_the_block_sums():
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 4000), (40, 40))
    rng = np.random.default_rng(5)
    people = rng.gamma(0.5, 20.0, grid.shape).astype(np.float32)
    smod = fringe.degurba(grid.wrap(people, "population"))
    density = people.astype(float).reshape(4, 10, 4, 10).sum(axis=(1, 3))  # per km²
    expected = smod_codes(density, area_km2=1.0)
    np.testing.assert_array_equal(smod.values[::10, ::10], expected)


def test_degurba_water_share_is_averaged_per_block():
    grid = Grid("EPSG:32647", Affine(500, 0, 0, 0, -500, 1000), (2, 4))  # 2 x 2 cells per km
    people = np.zeros(grid.shape, dtype=np.float32)
    water = np.array([[1, 1, 1, 0], [0, 0, 0, 0]], dtype=np.float32)  # blocks: 0.5 and 0.25 water
    smod = fringe.degurba(grid.wrap(people, "population"), water_share=grid.wrap(water, "water"))
    np.testing.assert_array_equal(smod.values, [[10, 10, 11, 11], [10, 10, 11, 11]])


# --------------------------------------------------------------------------------------------
# fringe classes from SMOD codes
# --------------------------------------------------------------------------------------------
def test_classes_from_smod_codes():
    grid = Grid("EPSG:32647", Affine(1000, 0, 0, 0, -1000, 1000), (1, 12))
    smod = grid.wrap(np.array([[30, 11, 12, 13, 21, 11, 22, 23, 11, 12, 0, 11]], dtype=np.uint8), "degurba")
    got = fringe.classes(smod, band_km=5)
    # distance from the centre cell (column 0) in km is the column number
    np.testing.assert_array_equal(got.values, [[3, 2, 2, 2, 2, 2, 2, 2, 1, 1, 0, 1]])
    assert got.dtype == np.uint8
    assert got.name == "fringe"
    np.testing.assert_array_equal(fringe.classes(smod, band_km=0).values, [[3, 1, 1, 1, 2, 1, 2, 2, 1, 1, 0, 1]])


def test_classes_without_a_centre_has_no_band():
    grid = Grid("EPSG:32647", Affine(1000, 0, 0, 0, -1000, 1000), (1, 4))
    smod = grid.wrap(np.array([[23, 11, 13, 0]], dtype=np.uint8), "degurba")
    np.testing.assert_array_equal(fringe.classes(smod).values, [[2, 1, 1, 0]])


# --------------------------------------------------------------------------------------------
# from land cover
# --------------------------------------------------------------------------------------------
def test_from_landcover_built_up_square_in_cropland():
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 1200), (12, 12))
    lc = np.full(grid.shape, 40, dtype=np.uint8)  # ESA WorldCover cropland
    lc[4:8, 4:8] = 50  # built up
    lc[0:2, 0:2] = 0  # nodata
    # radius 100 m: the disc is the cell and its 4 edge neighbours. Inside the square >= 3 of 5
    # are built (urban); the cells edge-adjacent to the square have 1 of 5 (fringe); the rest 0.
    got = fringe.from_landcover(grid.wrap(lc, "landcover"), "esa_worldcover", radius_m=100)
    expected = np.array(
        [
            [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
            [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
            [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
            [1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1],
            [1, 1, 1, 2, 3, 3, 3, 3, 2, 1, 1, 1],
            [1, 1, 1, 2, 3, 3, 3, 3, 2, 1, 1, 1],
            [1, 1, 1, 2, 3, 3, 3, 3, 2, 1, 1, 1],
            [1, 1, 1, 2, 3, 3, 3, 3, 2, 1, 1, 1],
            [1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1],
            [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
            [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
            [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        ]
    )
    np.testing.assert_array_equal(got.values, expected)
    assert got.dtype == np.uint8
    assert got.name == "fringe"
    assert Grid.from_dataarray(got) == grid


def test_from_landcover_default_radius():
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 5000), (50, 50))
    lc = np.full(grid.shape, 40, dtype=np.uint8)
    lc[10:40, 10:40] = 50  # 3 x 3 km built up
    got = fringe.from_landcover(grid.wrap(lc, "landcover"), "esa_worldcover").values
    assert got[25, 25] == 3  # centre of the town
    assert got[10, 25] == 3  # its edge: more than half of the 1 km disc is built
    assert got[5, 25] == 2  # 500 m outside: some built land within 1 km
    assert got[0, 0] == 1  # over 1 km from every built cell


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"fringe_share": 0.6, "urban_share": 0.5},
            r"from_landcover needs 0 < fringe_share < urban_share <= 1, got 0.6, 0.5",
        ),
        ({"urban_share": 1.5}, r"from_landcover needs 0 < fringe_share < urban_share <= 1, got 0.1, 1.5"),
        ({"radius_m": 0}, r"radius_m must be > 0, got 0"),
    ],
)
def test_from_landcover_bad_parameters(kwargs, match):
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 200), (2, 2))
    lc = grid.wrap(np.full((2, 2), 40, dtype=np.uint8), "landcover")
    with pytest.raises(InputError, match=match):
        fringe.from_landcover(lc, "esa_worldcover", **kwargs)


def test_from_landcover_unknown_legend():
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 200), (2, 2))
    lc = grid.wrap(np.full((2, 2), 40, dtype=np.uint8), "landcover")
    with pytest.raises(InputError, match=r"legend 'worldcovr' is neither a built-in legend .*did you mean"):
        fringe.from_landcover(lc, "worldcovr")


@pytest.fixture(scope="module")
def lausanne():
    bounds, _ = raster_footprint(LAUSANNE)
    grid = Grid.from_bounds(bounds, 100, "EPSG:2056")
    lc = read_raster(LAUSANNE, grid, kind="categorical")
    return grid, lc, fringe.from_landcover(lc, "corine")


def test_from_landcover_on_lausanne_corine(lausanne):
    grid, lc, got = lausanne
    assert got.shape == grid.shape
    assert set(np.unique(got.values)) == {0, 1, 2, 3}

    def cell(e, n):
        row, col = grid.rowcol(e, n)
        return int(lc.values[row, col]), int(got.values[row, col])

    # Lausanne's core (Place Saint-François area, LV95): continuous urban fabric, urban
    assert cell(2_538_000, 1_152_600) == (1, 3)
    # Lake Geneva off Ouchy: CORINE nodata 255, read as 0, is nodata
    assert cell(2_535_000, 1_148_000) == (0, 0)
    # Gros-de-Vaud farmland between Cheseaux and Étagnières: non-irrigated arable land (12)
    # with no built-up cell within 1 km, found by inspecting the raster: rural
    assert cell(2_534_000, 1_164_000) == (12, 1)
    # every cell without land cover (the lake and outside the study area) is nodata
    assert (got.values[lc.values == 0] == 0).all()
