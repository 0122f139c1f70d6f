"""roads.reach_sums: the cells within a time of each zone, evaluated on a window around it."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
from affine import Affine
from shapely.geometry import Point, box

from eicgeo import roads
from eicgeo.grid import Grid


def lattice(n: int = 31, step: float = 1000.0) -> nx.MultiDiGraph:
    """Two-way 50 km/h (72 s per km) roads on an n x n lattice 1 km apart, with one one-way trunk."""
    graph = nx.MultiDiGraph(crs="EPSG:32647")
    for i in range(n):
        for j in range(n):
            graph.add_node(i * n + j, x=j * step, y=i * step)
    for i in range(n):
        for j in range(n):
            for di, dj in ((0, 1), (1, 0)):
                a, b = i * n + j, (i + di) * n + (j + dj)
                if i + di < n and j + dj < n:
                    for u, v in ((a, b), (b, a)):
                        graph.add_edge(u, v, highway="tertiary", length=step, travel_time=72.0)
    graph.add_edge(0, n - 1, highway="trunk", length=(n - 1) * step, travel_time=(n - 1) * 30.0)
    return graph


def test_reach_sums_equal_the_whole_surfaces_zone_by_zone():
    net = roads.compile_network(lattice(), spacing_m=250)
    grid = Grid("EPSG:32647", Affine(250, 0, -2000, 0, -250, 32000), (136, 136))
    rng = np.random.default_rng(4)
    people = rng.integers(0, 50, size=grid.shape).astype(float)
    zones = gpd.GeoSeries(
        [
            box(2000, 2000, 4000, 3500),
            box(20000, 25000, 21000, 27000),
            Point(15000, 15500),
            box(-3000, -1000, 500, 800),
            # Beyond the lattice's corner, 1 km and more from a road: within 5 minutes at 8 km/h
            # (667 m) its neighbours only walk straight to it, the window around its bounds.
            box(30900, 30900, 31400, 31400),
        ],
        crs="EPSG:32647",
    )
    for minutes in (5.0, 12.0):
        got = roads.reach_sums(net, zones, grid, people, max_minutes=minutes, offroad_kph=8.0)
        want = [
            people[
                np.isfinite(
                    roads.travel_time_surface(net, zones.iloc[[k]], grid, max_minutes=minutes, offroad_kph=8.0).values
                )
            ].sum()
            for k in range(len(zones))
        ]
        np.testing.assert_array_equal(got, want)
        assert (got > 0).all()
    # Longer reach takes in more people, and a 72 s block means 5 minutes reaches about 4 km.
    small = roads.reach_sums(net, zones[2:3], grid, np.ones(grid.shape), max_minutes=5.0, offroad_kph=8.0)[0]
    large = roads.reach_sums(net, zones[2:3], grid, np.ones(grid.shape), max_minutes=12.0, offroad_kph=8.0)[0]
    assert 100 < small < large


def test_reach_sums_checks_the_values_shape():
    import pytest

    from eicgeo._errors import InputError

    net = roads.compile_network(lattice(5), spacing_m=250)
    grid = Grid("EPSG:32647", Affine(250, 0, 0, 0, -250, 4000), (16, 16))
    with pytest.raises(InputError, match=r"reach_sums values have shape \(3, 3\); expected the grid's \(16, 16\)"):
        roads.reach_sums(net, gpd.GeoSeries([Point(0, 0)], crs=grid.crs), grid, np.ones((3, 3)), max_minutes=5)
