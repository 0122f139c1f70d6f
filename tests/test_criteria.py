from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from affine import Affine
from shapely.geometry import Point

from eicgeo import Grid, criteria, roads
from eicgeo._errors import InputError
from eicgeo.legends import ROLE_CODE

GRID = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 200), (2, 30))


def road(minutes_per_km: float = 1.0) -> roads.CompiledNetwork:
    """A two-way primary road along y = 0 from x = 0 to 3 km, nodes every km."""
    g = nx.MultiDiGraph(crs="EPSG:32647")
    for i in range(4):
        g.add_node(i, x=1000.0 * i, y=0.0)
    for i in range(3):
        for u, v in ((i, i + 1), (i + 1, i)):
            g.add_edge(u, v, length=1000.0, travel_time=60.0 * minutes_per_km, highway="primary")
    return roads.compile_network(g, spacing_m=100)


def test_landcover_gives_role_codes():
    lc = GRID.wrap(np.array([[10, 40, 50] * 10, [80, 90, 0] * 10], dtype=np.uint8), "lc")
    roles = criteria.landcover(lc, "esa_worldcover")
    assert roles.values[0, :3].tolist() == [ROLE_CODE["forest"], ROLE_CODE["cropland"], ROLE_CODE["built_up"]]
    assert roles.values[1, :3].tolist() == [ROLE_CODE["water"], ROLE_CODE["wetland"], ROLE_CODE["nodata"]]


def test_equal_access_by_hand():
    market = GRID.wrap(np.full(GRID.shape, 10.0, dtype=np.float32), "m")
    material = GRID.wrap(np.full(GRID.shape, 30.0, dtype=np.float32), "r")
    got = criteria.equal_access(market, material, horizon=60)
    # (1 - 30 / 60) * (1 - 20 / 41) = 0.5 * 21 / 41
    assert float(got.values[0, 0]) == pytest.approx(0.5 * 21 / 41, rel=1e-6)
    same = criteria.equal_access(material, material, horizon=60)
    assert float(same.values[0, 0]) == pytest.approx(0.5)  # equal times: only nearness counts
    far = criteria.equal_access(market, GRID.wrap(np.full(GRID.shape, 90.0, dtype=np.float32), "r"))
    assert float(far.values[0, 0]) == 0.0
    assert got.rio.crs == GRID.crs and got.name == "equal_access"


def test_road_and_material_access_minutes():
    net = road()
    minutes = criteria.road_access(net, GRID, classes=["primary"])
    # Cell (1550, 50): 70.7 m off-road at 10 km/h to the nearest road point.
    assert float(minutes.values[1, 15]) == pytest.approx(np.hypot(50, 50) / (10 / 3.6) / 60, rel=1e-3)
    sources = gpd.GeoDataFrame({"material": ["clay", "sand"]}, geometry=[Point(0, 0), Point(3000, 0)], crs="EPSG:32647")
    clay = criteria.material_access(net, GRID, sources, "clay")
    assert clay.name == "material_access:clay"
    # Cell (2050, 50): 2 km along the road (2 min) + 70.7 m off-road.
    assert float(clay.values[1, 20]) == pytest.approx(2 + np.hypot(50, 50) / (10 / 3.6) / 60, rel=1e-3)
    with pytest.raises(InputError, match="no feature of material 'timber'"):
        criteria.material_access(net, GRID, sources, "timber")


def test_urban_centres_are_polygons_of_the_mask():
    mask = np.zeros(GRID.shape, dtype=bool)
    mask[:, 2:5] = True
    mask[0, 20] = True
    centres = criteria.urban_centres(GRID.wrap(mask.astype(np.uint8), "c") == 1)
    assert len(centres) == 2
    assert sorted(centres.area.round().tolist()) == [10_000.0, 60_000.0]
    market = criteria.market_access(road(), GRID, centres)
    assert float(market.values[1, 3]) == 0.0  # inside a centre
