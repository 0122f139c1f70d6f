from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

from eicgeo import Grid
from eicgeo._errors import CRSError, GridMismatchError, InputError
from eicgeo.grid import utm_crs


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (100.50, 13.75, 32647),
        (139.69, 35.69, 32654),
        (105.85, 21.03, 32648),
        (77.59, 12.97, 32643),
        (151.2, -33.9, 32756),
        (-0.1, 51.5, 32630),
        (180.0, 0.0, 32660),
    ],
)
def test_utm_zone_of_known_places(lon, lat, epsg):
    # Bangkok, Tokyo, Hanoi, Bengaluru, Sydney, London, the antimeridian.
    assert utm_crs(lon, lat).to_epsg() == epsg


def test_utm_outside_range_is_an_error():
    with pytest.raises(CRSError, match="lon=10.0, lat=85.0"):
        utm_crs(10.0, 85.0)


def test_from_bounds_snaps_outward_to_the_resolution():
    g = Grid.from_bounds((50.0, 20.0, 1020.0, 480.0), 100, "EPSG:32647")
    assert g.transform == Affine(100, 0, 0, 0, -100, 500)
    assert g.shape == (5, 11)
    assert g.bounds == (0.0, 0.0, 1100.0, 500.0)
    assert g.cell_area_m2 == 10_000.0
    np.testing.assert_allclose(g.xs[:3], [50, 150, 250])
    np.testing.assert_allclose(g.ys[:2], [450, 350])


def test_auto_crs_picks_local_utm_from_lonlat_bounds():
    g = Grid.from_bounds((100.2, 14.6, 100.7, 15.0), 100)
    assert g.crs.to_epsg() == 32647
    # 0.5 degrees of longitude at 14.8 N is about 53.8 km; 0.4 degrees of latitude about 44.2 km.
    assert 535 <= g.width <= 545
    assert 442 <= g.height <= 450
    west, south, east, north = g.lonlat_bounds
    assert west <= 100.2 and east >= 100.7 and south <= 14.6 and north >= 15.0


def test_auto_crs_with_projected_bounds_crs():
    g = Grid.from_bounds((660000, 1630000, 670000, 1640000), 250, "auto", bounds_crs="EPSG:32647")
    assert g.crs.to_epsg() == 32647
    assert g.shape == (40, 40)


def test_geographic_grid_crs_is_rejected():
    with pytest.raises(CRSError, match="geographic; expected a projected CRS"):
        Grid.from_bounds((100, 14, 101, 15), 0.01, "EPSG:4326")


@pytest.mark.parametrize(
    ("bounds", "resolution", "match"),
    [
        ((10, 0, 0, 10), 1, "empty"),
        ((0, 0, 10), 1, "four numbers"),
        ((0, 0, 10, 10), 0, "resolution"),
        ((0, 0, 10, 10), "x", "resolution"),
    ],
)
def test_bad_bounds_and_resolution(bounds, resolution, match):
    with pytest.raises(InputError, match=match):
        Grid.from_bounds(bounds, resolution, "EPSG:32647")


def test_unparsable_crs():
    with pytest.raises(CRSError, match="cannot parse CRS 'EPSG:99999999'"):
        Grid.from_bounds((0, 0, 10, 10), 1, "EPSG:99999999")


def test_wrap_and_check():
    g = Grid("EPSG:32647", Affine(10, 0, 1000, 0, -10, 2000), (3, 4))
    layer = g.wrap(np.arange(12, dtype="float32").reshape(3, 4), "a")
    assert layer.rio.crs.to_epsg() == 32647
    assert layer.rio.transform() == g.transform
    assert np.isnan(layer.rio.nodata)
    assert Grid.from_dataarray(layer) == g
    g.check(layer)
    other = Grid("EPSG:32647", Affine(10, 0, 1010, 0, -10, 2000), (3, 4)).wrap(np.zeros((3, 4)), "b")
    with pytest.raises(GridMismatchError, match="layer 'b' is on another grid"):
        g.check(other)
    with pytest.raises(GridMismatchError, match=r"shape \(2, 2\), expected the grid shape \(3, 4\)"):
        g.wrap(np.zeros((2, 2)), "c")
    assert g.wrap(np.zeros((3, 4), dtype="uint8"), "d").rio.nodata == 0


def test_rowcol_and_contains():
    g = Grid("EPSG:32647", Affine(10, 0, 1000, 0, -10, 2000), (3, 4))
    row, col = g.rowcol(np.array([1005.0, 1039.9, 999.0]), np.array([1995.0, 1970.1, 1990.0]))
    assert row.tolist() == [0, 2, 1]
    assert col.tolist() == [0, 3, -1]
    assert g.contains(np.array([1005.0, 999.0]), np.array([1995.0, 1995.0])).tolist() == [True, False]


def test_grid_rejects_rotation_and_bad_shape():
    with pytest.raises(InputError, match="north-up"):
        Grid("EPSG:32647", Affine(10, 1, 0, 0, -10, 0), (2, 2))
    with pytest.raises(InputError, match="positive integers"):
        Grid("EPSG:32647", Affine(10, 0, 0, 0, -10, 0), (0, 2))
