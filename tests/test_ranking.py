"""A ranking that ranks, and says when it cannot: ties, constant and saturated criteria,
thresholds relative to the region, and travel times without a road network, on constructed
cases whose answers are known by hand."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from shapely.geometry import box

import eicgeo
from eicgeo import zones
from eicgeo._errors import RankingWarning
from eicgeo.grid import Grid
from eicgeo.report import report_markdown

GRID = Grid("EPSG:32647", Affine(100, 0, 500_000, 0, -100, 1_600_000), (50, 50))


def _tif(path, values, grid=GRID, nodata=None):
    profile = {
        "driver": "GTiff",
        "height": values.shape[0],
        "width": values.shape[1],
        "count": 1,
        "dtype": values.dtype,
        "crs": grid.crs,
        "transform": grid.transform,
    }
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)
    return path


@pytest.fixture
def region(tmp_path):
    """5 x 5 km of cropland (WorldCover 40) around a built-up block (50) of 2 x 2 km, with a
    river (80) along the southern edge: the block's core is urban, its surroundings fringe."""
    lc = np.full(GRID.shape, 40, dtype=np.uint8)
    lc[15:35, 15:35] = 50
    lc[47:, :] = 80
    _tif(tmp_path / "lc.tif", lc)
    return tmp_path


def _run(region, **sections):
    data = {
        "name": "constructed",
        "inputs": {"landcover": str(region / "lc.tif")},
        "grid": {"crs": "EPSG:32647", "resolution": 100},
        # a 2 km town: every urban core counts, on a 1 km disc
        "fringe": {"method": "landcover", "radius_m": 1000, "min_core_km2": 0},
        "zones": {"n": 4, "min_area_ha": 4, "max_area_ha": 20, "stability_runs": 20},
        **sections,
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = eicgeo.run(eicgeo.Scenario.from_dict(data, base_dir=region), progress=False)
    return result, [str(w.message) for w in caught if issubclass(w.category, RankingWarning)]


# --------------------------------------------------------------------------------------------
# ties
# --------------------------------------------------------------------------------------------
def _identical_zones(order=(0, 1)):
    """Two zones of identical land, one near the grid's centre, one at its western edge."""
    suit = GRID.wrap(np.full(GRID.shape, 0.8, dtype=np.float32), "suitability")
    near = box(502_200, 1_597_200, 502_600, 1_597_600)  # centre of the grid is (502500, 1597500)
    edge = box(500_000, 1_597_200, 500_400, 1_597_600)
    polygons = [near, edge]
    frame = gpd.GeoDataFrame(
        {"kind": ["greenfield"] * 2, "name": ["near", "edge"]},
        geometry=[polygons[i] for i in order],
        crs=GRID.crs,
    )
    frame["name"] = [["near", "edge"][i] for i in order]
    return frame, suit


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_two_identical_zones_tie_and_the_tie_break_is_not_their_order(order):
    candidates, suit = _identical_zones(order)
    ranked = zones.score(candidates, suitability=suit)
    assert ranked["score"].tolist() == [1.0, 1.0] and ranked["tied"].all()
    # the documented tie-break (score, mean suitability, area, nearness to the centre)
    assert ranked["name"].tolist() == ["near", "edge"]


def test_identical_zones_share_the_top_place_in_the_stability_draws():
    candidates, suit = _identical_zones()
    ranked = zones.score(candidates, suitability=suit)
    stable = zones.stability(ranked, {"suitability": suit}, {"suitability": 1}, runs=10, top_k=1)
    # neither is more stable than the other: each holds half of the one top place
    assert stable["p_top_k"].tolist() == [0.5, 0.5]


def test_tied_zones_are_a_ranking_warning_and_the_report_says_the_ranks_are_unresolved(region):
    # the land cover alone, on cropland (1.0) with a grass strip (0.9): every zone grows on
    # cropland, so every zone has the same evidence
    lc = rasterio.open(region / "lc.tif").read(1)
    lc[:, 8:10] = 30
    _tif(region / "lc.tif", lc)
    result, caught = _run(
        region,
        criteria={"road_access": {"enabled": False}, "market_access": {"enabled": False}},
        zones={"n": 4, "min_area_ha": 4, "max_area_ha": 20, "stability_runs": 20, "top_k": 2},
    )
    assert result.zones["tied"].any()
    assert any("tie at score" in m and "not the evidence" in m for m in caught), caught
    text = report_markdown(result)
    assert text.index("## Caution: a weak ranking") < text.index("## Ranked candidate zones")
    assert "inputs not given: inputs.population, inputs.roads, inputs.sources, inputs.firms" in text
    # all four tie across the top 2: which of them belong in it is not decided
    assert result.zones["tied"].all() and len(result.zones) == 4
    assert "**Unresolved**: zones ranked 1, 2, 3, 4 tie" in text and "are stable" not in text
    assert result.zones["p_top_k"].tolist() == pytest.approx([0.5] * 4)


# --------------------------------------------------------------------------------------------
# constant and saturated criteria
# --------------------------------------------------------------------------------------------
def test_a_constant_criterion_is_named_and_left_out_of_the_weighting(region):
    _tif(region / "flat.tif", np.full(GRID.shape, 7.0, dtype=np.float32))
    result, caught = _run(
        region, criteria={"flat": {"raster": "flat.tif", "weight": 0.5, "fn": "linear", "low": 0, "high": 10}}
    )
    assert "flat" not in result.weights and "flat" in dict(result.skipped)
    assert dict(result.skipped)["flat"] == "is 0.7 everywhere on the allowed land"
    assert any(m.startswith("criterion flat is 0.7 everywhere") for m in caught)
    assert sum(result.weights.values()) == pytest.approx(1.0)


def test_a_criterion_at_1_everywhere_is_left_out_too(region):
    _tif(region / "one.tif", np.full(GRID.shape, 50.0, dtype=np.float32))
    result, caught = _run(
        region, criteria={"one": {"raster": "one.tif", "weight": 1, "fn": "linear", "low": 0, "high": 10}}
    )
    assert "one" not in result.weights
    assert any("criterion one is 1 everywhere on the allowed land" in m for m in caught)


def test_a_criterion_saturated_over_most_land_is_a_warning_with_its_shares(region):
    values = np.full(GRID.shape, 50.0, dtype=np.float32)
    values[:, 10:14] = np.linspace(0, 5, 4)  # a varied strip on the fringe; the rest is beyond high
    _tif(region / "mostly.tif", values)
    result, caught = _run(
        region, criteria={"mostly": {"raster": "mostly.tif", "weight": 1, "fn": "linear", "low": 0, "high": 10}}
    )
    d = result.criteria_diagnostics["mostly"]
    assert d["share_1"] > 0.5 and d["raw_max"] == 50.0
    assert any(m.startswith("criterion mostly is 1 over") and 'high = "p90"' in m for m in caught)


def test_nothing_left_to_rank_is_an_error(region):
    _tif(region / "flat.tif", np.full(GRID.shape, 7.0, dtype=np.float32))
    data = {
        "inputs": {"landcover": str(region / "lc.tif")},
        "grid": {"crs": "EPSG:32647"},
        "fringe": {"method": "landcover"},
        "criteria": {
            "flat": {"raster": "flat.tif", "weight": 1, "fn": "linear", "low": 0, "high": 10},
            **{k: {"weight": 0} for k in ("landcover", "road_access", "market_access", "material_access")},
            "equal_access": {"weight": 0},
        },
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(eicgeo.InputError, match="no criterion can rank the allowed land: flat: is 0.7 everywhere"):
            eicgeo.run(eicgeo.Scenario.from_dict(data, base_dir=region), progress=False)


def test_market_access_without_built_up_land_is_skipped_with_its_reason(region):
    # cropland only: no urban centre and no built-up land to stand in for the market
    _tif(region / "fields.tif", np.full(GRID.shape, 40, dtype=np.uint8))
    data = {"inputs": {"landcover": str(region / "fields.tif")}, "grid": {"crs": "EPSG:32647"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(eicgeo.InputError, match="no criterion can rank") as err:
            eicgeo.run(eicgeo.Scenario.from_dict(data, base_dir=region), progress=False)
    assert "market_access: no urban centre and no built-up land in the land cover" in str(err.value)


def test_densest_built_up_land_is_the_top_share_of_built_up_cells_by_density():
    from eicgeo.criteria import densest_built_up
    from eicgeo.legends import ROLE_CODE

    # a 1 km town of 10 x 10 built-up cells and 20 scattered houses: on a 300 m disc (29 cells)
    # only the town's 4 x 4 inner cells, 3 cells or more from its edge, are wholly built-up
    # (share 1); a house is alone among fields (share 1/29). The top 5 % of the 120 built-up
    # cells are at least 6 cells, all of them inner town cells.
    roles = np.full(GRID.shape, ROLE_CODE["cropland"])
    roles[5:15, 5:15] = ROLE_CODE["built_up"]
    houses = [(30 + 2 * i % 18, 25 + (7 * i) % 20) for i in range(20)]
    for r, c in houses:
        roles[r, c] = ROLE_CODE["built_up"]
    fringe = GRID.wrap(np.ones(GRID.shape, dtype=np.uint8), "fringe", attrs={"radius_m": 300})
    densest = densest_built_up(GRID.wrap(roles, "roles"), fringe, GRID).values
    inner = np.zeros(GRID.shape, dtype=bool)
    inner[8:12, 8:12] = True
    assert densest.sum() >= 6 and not (densest & ~inner).any()


# --------------------------------------------------------------------------------------------
# thresholds relative to the region
# --------------------------------------------------------------------------------------------
def test_a_percentile_threshold_is_the_percentile_over_the_allowed_fringe_land(region):
    ramp = np.tile(np.arange(GRID.width, dtype=np.float32), (GRID.height, 1))  # 0..29 west to east
    _tif(region / "ramp.tif", ramp)
    result, _ = _run(
        region, criteria={"ramp": {"raster": "ramp.tif", "weight": 1, "fn": "linear", "high": "p90", "low": 0}}
    )
    allowed = (result.fringe.values == 2) & (result.excluded.values == 0)
    expected = float(np.percentile(ramp[allowed], 90))
    assert f"high p90 = {expected:.4g} over the allowed land" in result.criteria["ramp"].attrs["parameters"]
    standard = result.criteria["ramp"].values
    # linear from 0 at x = 0 to 1 at the 90th percentile, then 1
    np.testing.assert_allclose(standard[0, :5], np.arange(5) / expected, rtol=1e-6)
    assert (standard[ramp >= expected] == 1).all()


def test_percentile_thresholds_are_checked_before_the_run():
    with pytest.raises(eicgeo.ScenarioError, match=r"low \(p90\) must be a lower percentile than high \(p50\)"):
        eicgeo.Scenario.from_dict(
            {"inputs": {"landcover": "x.tif"}, "criteria": {"road_access": {"low": "p90", "high": "p50"}}},
            check_files=False,
        )
    with pytest.raises(eicgeo.ScenarioError, match="expected a number or a percentile such as 'p90', got 'p900'"):
        eicgeo.Scenario.from_dict(
            {"inputs": {"landcover": "x.tif"}, "criteria": {"road_access": {"high": "p900"}}}, check_files=False
        )


# --------------------------------------------------------------------------------------------
# travel times without a road network
# --------------------------------------------------------------------------------------------
def test_without_roads_the_minutes_are_straight_lines_and_the_run_says_so(region):
    result, _ = _run(region, roads={"fallback_kph": 30, "detour": 1.5})
    market = result.layers["market_access"].values
    # the urban centre is the block's urban core: along row 25, the cell at column 0 is as many
    # 100 m cells west of the core's first cell, times 1.5, at 30 km/h (500 m a minute)
    first = int(np.flatnonzero(result.fringe.values[25] == 3)[0])
    assert float(market[25, 0]) == pytest.approx(first * 100 * 1.5 / 500, rel=1e-5)
    assert float(market[25, first]) == 0.0
    assert set(result.fallbacks) == {"road_access", "market_access"}
    assert "x 1.5 at 30 km/h" in result.fallbacks["road_access"]
    assert result.zones["market_minutes"].notna().all()
    text = report_markdown(result)
    assert "### Travel times in part straight-line estimates" in text
