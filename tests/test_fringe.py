"""Degree of Urbanisation (GHS-SMOD level 2) and fringe classes, on grids checked by hand."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from affine import Affine
from pyproj import Transformer
from scipy import ndimage

from eicgeo import fringe
from eicgeo._errors import InputError, ScenarioError
from eicgeo.constraints import EXCLUSION_REASONS, exclusions
from eicgeo.fringe import _majority_smooth, smod_codes
from eicgeo.grid import Grid
from eicgeo.io import raster_footprint, read_raster
from eicgeo.legends import get_legend
from eicgeo.scenario import Scenario
from eicgeo.settings import ConstraintSettings

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


def test_diagonal_contact_with_a_centre_makes_a_suburb():
    d = np.zeros((9, 9))
    d[1:6, 1:6] = 3000  # urban centre, 75,000 people
    d[6, 6] = 1000  # 1,000 people touching the centre's corner cell (5,5) diagonally only
    got = codes(d)
    # the urban cluster (8-connected) takes it in: a suburban cell, not a rural cluster
    assert got[6, 6] == 21
    assert got[5, 5] == 30 and got[6, 5] == 11 and got[5, 6] == 11
    d[6, 6], d[7, 7] = 0, 1000  # one cell farther it is a rural cluster of its own
    assert codes(d)[7, 7] == 13


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


def test_majority_rule_is_repeated_until_stable():
    d = np.zeros((9, 9))
    d[2:7, 2:7] = 3000  # 5 x 5 km at 3,000 inh/km²
    d[2:4, 4] = 0  # a notch two cells deep in the top edge: open to the outside, not a hole
    # 23 cells, 69,000 people: an urban centre. Pass 1: (3,4) has 7 of its 8 neighbours in the
    # centre and joins; (2,4) has only (2,3) (2,5) (3,3) (3,5). Pass 2: with (3,4) in, (2,4) has
    # 5 and joins. The cells above the top edge never have more than 3.
    expected = np.full((9, 9), 11)
    expected[2:7, 2:7] = 30
    np.testing.assert_array_equal(codes(d), expected)

    centre = d >= 1500
    one_pass = _majority_smooth(centre, max_iter=1)
    assert one_pass[3, 4] and not one_pass[2, 4]  # a single pass leaves the notch half open
    assert not _majority_smooth(centre, needed=6)[2, 4]  # (2,4) never has 6
    # a stricter rule (6 of 8) only takes (3,4): the notch stays a dent of the centre
    strict = codes(d, majority_neighbours=6)
    assert strict[3, 4] == 30 and strict[2, 4] == 11


def test_majority_rule_never_adds_water():
    d = np.zeros((9, 9))
    d[2:7, 2:7] = 3000
    d[2:4, 4] = 0
    water = np.zeros_like(d)
    water[3, 4] = 1.0  # the inner notch cell is open water without people
    got = codes(d, water_share=water)
    # (3,4) is water and stays out; then (2,4) has 4 centre neighbours and stays out too
    assert got[3, 4] == 10 and got[2, 4] == 11
    assert got[4, 4] == 30


def _square_with_hole(rows: slice, cols: slice) -> np.ndarray:
    d = np.zeros((12, 13))
    d[1:11, 1:12] = 3000  # 10 x 11 km at 3,000 inh/km²
    d[rows, cols] = 0
    return d


def test_a_10_km2_hole_is_filled():
    d = _square_with_hole(slice(5, 7), slice(4, 9))  # 2 x 5 = 10 km² without people
    expected = np.full((12, 13), 11)
    expected[1:11, 1:12] = 30  # 10 < 15 km²: the hole is filled
    np.testing.assert_array_equal(codes(d), expected)
    # The fill alone does it: with smoothing that needs all 8 neighbours (no hole cell has 8)
    # the hole is still filled, and it is not filled once holes must be under 10 km².
    np.testing.assert_array_equal(codes(d, majority_neighbours=8), expected)
    assert (codes(d, majority_neighbours=8, max_hole_km2=10)[5:7, 4:9] == 11).all()


def test_a_20_km2_hole_is_not_filled():
    d = _square_with_hole(slice(4, 8), slice(4, 9))  # 4 x 5 = 20 km² without people
    expected = np.array(
        [
            [11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11],
            [11, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 11],
            [11, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 11],
            [11, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 11],
            [11, 30, 30, 30, 30, 11, 11, 11, 30, 30, 30, 30, 11],
            [11, 30, 30, 30, 11, 11, 11, 11, 11, 30, 30, 30, 11],
            [11, 30, 30, 30, 11, 11, 11, 11, 11, 30, 30, 30, 11],
            [11, 30, 30, 30, 30, 11, 11, 11, 30, 30, 30, 30, 11],
            [11, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 11],
            [11, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 11],
            [11, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 11],
            [11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11],
        ]
    )
    # 20 >= 15 km²: not filled. The majority rule then takes the hole's four corners, each with
    # 5 of 8 neighbours in the centre (e.g. (4,4): (3,3) (3,4) (3,5) (4,3) (5,3)); the cells
    # next to them have 4 and stay out, so 16 km² remain, still too big to fill.
    np.testing.assert_array_equal(codes(d), expected)
    # with a 25 km² limit the same hole is filled
    assert (codes(d, max_hole_km2=25)[4:8, 4:9] == 30).all()


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


def test_water_needs_more_than_half_water_and_no_people():
    d = np.array([[0.0, 10.0, 60.0, 0.0, 0.0, 0.4]])
    share = np.array([[1.0, 1.0, 1.0, 0.5, np.nan, 0.6]])
    # 0: all water, nobody: water. 1: 10 people: very-low-density rural. 2: 60 people: low
    # density. 3: exactly half water is not "less than half land". 4: no water share.
    # 5: 0.4 people round to nobody: water.
    np.testing.assert_array_equal(codes(d, water_share=share), [[10, 11, 12, 11, 11, 10]])
    # with the rule relaxed to 20 people, cell 1 is water too
    assert codes(d, water_share=share, water_population=20)[0, 1] == 10


def test_density_is_per_km2_of_permanent_land():
    d = np.array([[30.0, 30.0, 900.0, 900.0]])  # people per km² of the whole cell
    share = np.array([[0.5, 0.0, 0.5, 0.0]])
    # half water doubles the density on land: 60 (low density) and 1,800 (dense) inh/km²
    got = codes(d, water_share=share, dense_cluster_population=500)
    np.testing.assert_array_equal(got, [[12, 11, 23, 13]])


def test_ghsl_2023_semi_dense_rule_is_a_parameter_set():
    d = np.zeros((3, 6))
    d[1, 1:4] = 1000  # three cells in a row, 3,000 people, far from any centre
    # manual 2021 defaults: under 5,000 people it is a rural cluster
    assert set(codes(d)[1, 1:4]) == {13}
    # GHSL 2023: 4-connected cells of >= 900 inh/km² with >= 2,500 people, >= 2 km from centres
    ghsl = {
        "semi_dense_density": 900,
        "semi_dense_population": 2500,
        "semi_dense_contiguity": 4,
        "semi_dense_distance_km": 2,
    }
    assert set(codes(d, **ghsl)[1, 1:4]) == {22}


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
        ({"majority_neighbours": 9}, r"majority_neighbours must be 1..8 \(of the 8 neighbours\), got 9"),
        ({"semi_dense_contiguity": 6}, r"semi_dense_contiguity must be 4 or 8, got 6"),
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
    water = np.array([[1, 1, 1, 0], [1, 0, 0, 0]], dtype=np.float32)  # blocks: 0.75 and 0.25 water
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


def test_from_landcover_breakpoint_of_a_synthetic_gradient():
    # Two towns on cropland (100 m cells): fully built squares, each ringed by suburbs where one
    # cell in five is built ((row + 2 col) % 5 == 0: never two built cells edge to edge), out to
    # 1,000 m around town A and 500 m around town B, then no building at all.
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 8000), (80, 160))
    row, col = np.mgrid[0:80, 0:160]
    town_a = np.zeros(grid.shape, dtype=bool)
    town_a[30:50, 20:40] = True
    town_b = np.zeros(grid.shape, dtype=bool)
    town_b[35:45, 115:125] = True
    from_a = ndimage.distance_transform_edt(~town_a) * 100  # metres from town A's cells
    from_b = ndimage.distance_transform_edt(~town_b) * 100
    suburbs = ((from_a > 0) & (from_a <= 1000)) | ((from_b > 0) & (from_b <= 500))
    lc = np.full(grid.shape, 40, dtype=np.uint8)  # cropland
    lc[suburbs & ((row + 2 * col) % 5 == 0)] = 50
    lc[town_a | town_b] = 50
    got = fringe.from_landcover(grid.wrap(lc, "landcover"), "esa_worldcover", radius_m=100, breakpoint=True)
    # radius 100 m: a town cell sees >= 4 of 5 built cells (urban), a suburb cell <= 2 of 5
    np.testing.assert_array_equal(got.values == 3, town_a | town_b)
    # the built share falls from about 1/5 to 0 at 1,000 m around A and at 500 m around B
    assert got.attrs["breakpoints_m"] == "1000, 500"
    np.testing.assert_array_equal(got.values == 2, suburbs)
    assert got.attrs["ring_m"] == 250


def test_from_landcover_breakpoint_without_an_urban_core():
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 500), (5, 5))
    lc = np.full(grid.shape, 40, dtype=np.uint8)
    got = fringe.from_landcover(grid.wrap(lc, "landcover"), "esa_worldcover", breakpoint=True)
    assert (got.values == 1).all() and got.attrs["breakpoints_m"] == ""


# --------------------------------------------------------------------------------------------
# the fringe band in travel minutes
# --------------------------------------------------------------------------------------------
def _road_along_the_row():
    """A two-way primary road through cell centres (0, 0) .. (12 km, 0), 2 minutes per km."""
    g = nx.MultiDiGraph(crs="EPSG:32647")
    for i in range(13):
        g.add_node(i, x=1000.0 * i, y=0.0)
    for i in range(12):
        g.add_edge(i, i + 1, length=1000.0, travel_time=120.0, highway="primary")
        g.add_edge(i + 1, i, length=1000.0, travel_time=120.0, highway="primary")
    return g


def test_classes_band_in_travel_minutes():
    grid = Grid("EPSG:32647", Affine(1000, 0, -500, 0, -1000, 500), (1, 12))  # cell centres on the road
    codes_row = np.full((1, 12), 11, dtype=np.uint8)
    codes_row[0, 0] = 30
    smod = grid.wrap(codes_row, "degurba")
    # cell i is i km down the road from the centre cell: 2 i minutes; within 7 minutes: cells 1-3
    got = fringe.classes(smod, band_minutes=7, network=_road_along_the_row())
    np.testing.assert_array_equal(got.values, [[3, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1]])
    assert got.attrs["band_minutes"] == 7
    # the same band as 5 km of straight line reaches cell 5
    np.testing.assert_array_equal(fringe.classes(smod, band_km=5).values, [[3, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1]])


def test_classes_bad_band():
    grid = Grid("EPSG:32647", Affine(1000, 0, 0, 0, -1000, 1000), (1, 3))
    smod = grid.wrap(np.array([[30, 11, 11]], dtype=np.uint8), "degurba")
    with pytest.raises(InputError, match=r"band_minutes needs a road network \(inputs.roads\)"):
        fringe.classes(smod, band_minutes=10)
    with pytest.raises(InputError, match=r"band_minutes must be > 0, got -1"):
        fringe.classes(smod, band_minutes=-1, network=_road_along_the_row())
    with pytest.raises(InputError, match=r"band_km must be >= 0, got -2"):
        fringe.classes(smod, band_km=-2)


# --------------------------------------------------------------------------------------------
# residual green space
# --------------------------------------------------------------------------------------------
def test_green_space_next_to_the_built_up_edge():
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 300), (3, 10))
    # ESA WorldCover: 50 built-up, 10 tree cover, 30 grassland, 90 wetland, 40 cropland
    lc = np.array(
        [
            [50, 50, 10, 10, 10, 10, 10, 10, 10, 10],
            [50, 50, 30, 30, 40, 30, 30, 30, 30, 30],
            [50, 50, 90, 90, 90, 90, 90, 90, 90, 90],
        ],
        dtype=np.uint8,
    )
    got = fringe.green_space(grid.wrap(lc, "landcover"), "esa_worldcover", distance_m=300)
    # green cells up to 300 m (3 cells) from the built-up column 1; cropland (1, 4) is not green
    expected = np.array(
        [
            [0, 0, 1, 1, 1, 0, 0, 0, 0, 0],
            [0, 0, 1, 1, 0, 0, 0, 0, 0, 0],
            [0, 0, 1, 1, 1, 0, 0, 0, 0, 0],
        ]
    )
    np.testing.assert_array_equal(got.values, expected)
    assert got.dtype == np.uint8 and got.name == "green_space"
    # with fringe classes, built-up land in rural cells (a farmstead) does not count
    rural = grid.wrap(np.ones(grid.shape, dtype=np.uint8), "fringe")
    alone = fringe.green_space(grid.wrap(lc, "landcover"), "esa_worldcover", fringe=rural, distance_m=300)
    assert not alone.values.any()
    urban = grid.wrap(np.where(lc == 50, 3, 1).astype(np.uint8), "fringe")
    in_town = fringe.green_space(grid.wrap(lc, "landcover"), "esa_worldcover", fringe=urban, distance_m=300)
    np.testing.assert_array_equal(in_town.values, expected)


def test_green_space_bad_distance():
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 200), (2, 2))
    lc = grid.wrap(np.full((2, 2), 10, dtype=np.uint8), "landcover")
    with pytest.raises(InputError, match=r"distance_m must be >= 0, got -5"):
        fringe.green_space(lc, "esa_worldcover", distance_m=-5)


def test_protect_green_space_adds_exclusion_code_9():
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 100), (1, 4))
    roles = grid.wrap(np.array([[1, 4, 4, 2]], dtype=np.uint8), "landcover")  # built, forest, forest, crop
    suitability = grid.wrap(np.full((1, 4), 0.5, dtype=np.float32), "suitability")
    green = grid.wrap(np.array([[0, 1, 0, 0]], dtype=np.uint8), "green_space")
    assert EXCLUSION_REASONS[9] == "residual green space"
    settings = ConstraintSettings(exclude_roles=("built_up",))
    excluded = exclusions(settings, grid, roles, suitability, green=green)
    np.testing.assert_array_equal(excluded.values, [[4, 0, 0, 0]])
    settings = settings.changed(protect_green_space=True)
    excluded = exclusions(settings, grid, roles, suitability, green=green)
    np.testing.assert_array_equal(excluded.values, [[4, 9, 0, 0]])
    assert "9=residual green space" in excluded.attrs["reasons"]


# --------------------------------------------------------------------------------------------
# the sample region
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample_smod(sample_dir):
    bounds, crs = raster_footprint(sample_dir / "landcover.tif", "landcover")
    grid = Grid.from_bounds(bounds, 100, "auto", bounds_crs=crs)
    population = read_raster(sample_dir / "population.tif", grid, kind="quantity", name="population")
    return fringe.degurba(population)


def test_sample_fringe_is_a_ring_around_the_city_and_towns(sample_smod):
    smod = sample_smod.values
    got = fringe.classes(sample_smod, band_km=5).values  # the balanced preset's band
    parts, n = ndimage.label(got == 2, structure=np.ones((3, 3)))
    sizes = np.bincount(parts.ravel())[1:]
    # a few large connected pieces, no scatter of single cells: the sample has one city and
    # five towns, and the 5 km band merges the towns near the city into its ring
    assert n <= 6
    assert sizes.min() >= 100  # every piece is at least 1 km²
    centres = got == 3
    for k in range(1, n + 1):
        piece = parts == k
        enclosed = ndimage.binary_fill_holes(piece)
        # each piece is a ring around urban-centre cells or holds a dense town core (23)
        assert (enclosed & centres).any() or (piece & (smod == 23)).any(), k
    # the largest piece encloses every urban-centre cell: the city sits inside its ring
    largest = parts == 1 + int(np.argmax(sizes))
    assert (ndimage.binary_fill_holes(largest) | ~centres).all()
    assert not (largest & centres).any()


def test_sample_degurba_has_the_expected_classes(sample_smod):
    present = set(np.unique(sample_smod.values))
    assert {30, 23, 21, 13, 12, 11} <= present
    assert sample_smod.attrs["block_cells"] == 10


@pytest.mark.parametrize(
    ("place", "lon", "lat", "corine", "expected"),
    [
        # Place Saint-François, Lausanne: CLC 111 continuous urban fabric (index 1): urban
        ("Lausanne core", 6.6323, 46.5197, 1, 3),
        # Lac Léman off Ouchy: CORINE nodata, read as 0: nodata
        ("Lac Léman", 6.6200, 46.4900, 0, 0),
        # Gros-de-Vaud farmland 1.7 km south and 1.8 km west of Echallens: CLC 211
        # non-irrigated arable land (index 12) with hardly any building within 1 km: rural
        ("Gros-de-Vaud south of Echallens", 6.6300, 46.6250, 12, 1),
        ("Gros-de-Vaud west of Echallens", 6.6100, 46.6400, 12, 1),
        # Echallens itself: CLC 112 discontinuous urban fabric (index 2), a small town among
        # fields: fringe
        ("Echallens", 6.6333, 46.6410, 2, 2),
    ],
)
def test_lausanne_places_by_longitude_and_latitude(lausanne, place, lon, lat, corine, expected):
    grid, lc, got = lausanne
    e, n = Transformer.from_crs("EPSG:4326", "EPSG:2056", always_xy=True).transform(lon, lat)
    row, col = grid.rowcol(e, n)
    assert (int(lc.values[row, col]), int(got.values[row, col])) == (corine, expected), place


def test_scenario_fringe_and_green_space_keys():
    s = Scenario.from_dict(
        {
            "inputs": {"landcover": "x.tif"},
            "fringe": {
                "band_minutes": 15,
                "breakpoint": True,
                "green_distance_m": 300,
                "rules": {"semi_dense_density": 900, "semi_dense_contiguity": 4},
            },
            "constraints": {"protect_green_space": True},
        },
        check_files=False,
    )
    assert s.fringe.band_minutes == 15 and s.fringe.breakpoint is True
    assert s.fringe.rules == {"semi_dense_density": 900, "semi_dense_contiguity": 4}
    assert s.constraints.protect_green_space is True
    with pytest.raises(ScenarioError) as err:
        Scenario.from_dict(
            {
                "inputs": {"landcover": "x.tif"},
                "fringe": {"band_minutes": -5, "breakpoint": "yes", "rules": {"centre_densty": 1, "low_density": "50"}},
                "constraints": {"protect_green_space": 1},
            },
            check_files=False,
        )
    text = str(err.value)
    assert "fringe.band_minutes: expected a number >= 0 (minutes), got -5" in text
    assert "fringe.breakpoint: expected true or false, got 'yes'" in text
    assert "constraints.protect_green_space: expected true or false, got 1" in text
    assert "fringe.rules.centre_densty: unknown rule (did you mean 'centre_density'" in text
    assert "fringe.rules.low_density: expected a number, got '50'" in text


def test_degurba_unknown_rule():
    grid = Grid("EPSG:32647", Affine(1000, 0, 0, 0, -1000, 1000), (1, 1))
    with pytest.raises(InputError, match=r"degurba got unknown rule\(s\) \['centre_densty'\]; expected some of"):
        fringe.degurba(grid.wrap(np.zeros((1, 1)), "population"), centre_densty=1)
    assert fringe.DEGURBA_RULES["centre_density"] == 1500 and fringe.DEGURBA_RULES["max_hole_km2"] == 15


def test_degurba_edge_blocks_use_the_area_they_cover(monkeypatch):
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 2500), (25, 25))  # 2.5 x 2.5 km
    people = np.full(grid.shape, 0.6, dtype=np.float32)  # 60 inh/km² everywhere
    people[3, 4] = np.nan  # one cell without data in the first block
    # blocks: 10 x 10, 10 x 5 and 5 x 5 cells; each holds 60 inh/km² of the area it covers
    # (the first block 59.4 people on 99 cells with data, still >= 50): all low-density rural.
    # Counting the cut blocks as whole km² would make them 30 and 15 inh/km²: very low density.
    smod = fringe.degurba(grid.wrap(people, "population"))
    assert (smod.values == 12).all()
    # summing strip by strip gives the same blocks as summing at once
    monkeypatch.setattr(fringe, "_STRIP_BLOCKS", 1)
    people[14, 20] = 500.0  # in the second strip: block (1, 2) holds 529.4 people on 0.5 km²
    np.testing.assert_array_equal(
        fringe.degurba(grid.wrap(people, "population")).values[::10, ::10], [[12, 12, 12], [12, 12, 13], [12, 12, 12]]
    )  # 1,059 inh/km² and >= 500 people: a rural cluster
    people_block, cells = fringe._block_people(people, 10)
    assert people_block[1, 2] == pytest.approx(0.6 * 49 + 500.0)
    assert people_block[0, 0] == pytest.approx(0.6 * 99) and cells[0, 0] == 99 and cells[2, 2] == 25


def test_pipeline_writes_green_space_and_protects_it(tmp_path):
    import rasterio

    import eicgeo

    # the land-cover and population stages are enough; without roads the band falls back to
    # band_km, with a note
    s = eicgeo.load_sample().replace(
        without=["roads", "firms", "sources"], constraints={"protect_green_space": True}, fringe={"band_minutes": 10}
    )
    result = eicgeo.run(s, out=tmp_path / "out", progress=False)
    assert any("fringe.band_minutes needs a road network" in note for note in result.notes)
    assert result.fringe.attrs["band_km"] == 5
    green = result.layers["green_space"].values
    outside = result.layers["landcover_class"].values == 0  # nodata in every raster
    with rasterio.open(tmp_path / "out" / "green_space.tif") as src:
        assert src.dtypes[0] == "uint8" and src.nodata == 255
        np.testing.assert_array_equal(src.read(1), np.where(outside, 255, green))
    with rasterio.open(tmp_path / "out" / "degurba.tif") as src:
        np.testing.assert_array_equal(src.read(1), np.where(outside, 0, result.degurba.values))
    assert green.sum() > 100  # the sample has woods and grassland along its towns
    excluded = result.excluded.values
    # every residual green cell is excluded: as green space (9), or first for an earlier reason
    assert (excluded[green == 1] > 0).all() and (excluded[green == 1] == 9).mean() > 0.5
    assert not (excluded[green == 0] == 9).any()


def test_lausanne_gradient_breakpoint(lausanne):
    grid, lc, _ = lausanne
    # the gradient algorithm on the first design's share (1 km disc, every urban core kept)
    got = fringe.from_landcover(lc, "corine", breakpoint=True, radius_m=1000, min_core_km2=0)
    cores, n = ndimage.label(got.values == 3, structure=np.ones((3, 3)))
    to_lv95 = Transformer.from_crs("EPSG:4326", "EPSG:2056", always_xy=True)

    def at(lon, lat):
        row, col = grid.rowcol(*to_lv95.transform(lon, lat))
        return int(got.values[row, col]), int(cores[row, col])

    # one large core (Lausanne, Renens, Epalinges: 61.6 km²) and two small ones
    assert n == 3 and np.bincount(cores.ravel())[1] == 6158
    assert at(6.6323, 46.5197) == (3, 1)  # Place Saint-François
    assert at(6.5880, 46.5395) == (3, 1)  # Renens
    # the built-up share around Lausanne falls fastest 750 m beyond the core's edge
    assert got.attrs["breakpoints_m"].split(", ")[0] == "750"
    assert at(6.6300, 46.5550)[0] == 2  # Le Mont-sur-Lausanne, on the northern edge: fringe
    # Echallens (a small town 12 km north) and the Gros-de-Vaud fields are beyond it: rural
    assert at(6.6333, 46.6410)[0] == 1 and at(6.6300, 46.6250)[0] == 1
    fringe_cells = got.values == 2
    from_core = ndimage.distance_transform_edt(got.values != 3) * grid.resolution
    assert fringe_cells.any() and from_core[fringe_cells].max() <= 1000


def test_lausanne_with_the_calibrated_defaults(lausanne):
    """CORINE 100 m is a coarse map: 1.5 km disc, no urban green, cores of at least 7.1 km²."""
    grid, lc, _ = lausanne
    got = fringe.from_landcover(lc, "corine")
    assert got.attrs["radius_m"] == 1500 and got.attrs["min_core_km2"] == pytest.approx(7.069, abs=1e-3)
    assert got.attrs["urban_green"].startswith("not counted")
    cores, n = ndimage.label(got.values == 3, structure=np.ones((3, 3)))
    assert n == 1 and np.bincount(cores.ravel())[1] == 6013  # Lausanne, Renens, Epalinges: 60.1 km²
    to_lv95 = Transformer.from_crs("EPSG:4326", "EPSG:2056", always_xy=True)

    def at(lon, lat):
        row, col = grid.rowcol(*to_lv95.transform(lon, lat))
        return int(got.values[row, col])

    assert at(6.6323, 46.5197) == 3 and at(6.5880, 46.5395) == 3  # Place Saint-François, Renens
    # Echallens, 12 km north, is a small town: its core is too small for an urban centre, fringe
    assert at(6.6333, 46.6410) == 2


def test_urban_green_counts_on_fine_maps_only():
    """A 2 km block of rows of houses (2 in 5 rows) and gardens (3 in 5) on 10 m cells. Counted
    as urban green (each garden as much as the built-up share within 100 m of it, 0.41) the
    block is built up 0.64 on average, urban; counting built-up cells only (0.4) it is fringe,
    and so it is when the same block comes from a map of 100 m cells."""
    grid = Grid("EPSG:32647", Affine(10, 0, 0, 0, -10, 3000), (300, 300))
    lc = np.full(grid.shape, 40, dtype=np.uint8)
    block = np.zeros(grid.shape, dtype=bool)
    block[50:250, 50:250] = True
    houses = np.broadcast_to(np.arange(300)[:, None] % 5 < 2, grid.shape)
    lc[block & houses] = 50
    lc[block & ~houses] = 30  # gardens (grass)
    layer = grid.wrap(lc, "landcover")
    roles = get_legend("esa_worldcover").role_codes(lc)
    estimate = fringe.built_estimate(roles, grid, green_m=100)
    assert estimate[block].mean() == pytest.approx(0.6365, abs=1e-3)
    assert fringe.from_landcover(layer, "esa_worldcover", radius_m=500, min_core_km2=0).values[150, 150] == 3
    plain = fringe.from_landcover(layer, "esa_worldcover", radius_m=500, min_core_km2=0, green_m=0)
    assert plain.values[150, 150] == 2
    coarse = fringe.from_landcover(layer, "esa_worldcover", radius_m=500, min_core_km2=0, source_resolution_m=100)
    assert coarse.values[150, 150] == 2 and coarse.attrs["urban_green"].startswith("not counted")
