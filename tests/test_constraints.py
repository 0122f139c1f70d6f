"""Constraints with reasons and the MCDA settings of a scenario, on small rasters and vectors."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from shapely.geometry import box

import eicgeo
from eicgeo import constraints, mcda, pipeline
from eicgeo._errors import EicgeoWarning, ScenarioError
from eicgeo.grid import Grid
from eicgeo.legends import ROLE_CODE
from eicgeo.scenario import Scenario

BASE = {"inputs": {"landcover": "landcover.tif"}}


# --------------------------------------------------------------------------------------------
# [mcda] settings
# --------------------------------------------------------------------------------------------
def test_scenario_accepts_every_combination_method():
    for method in mcda.COMBINE_METHODS:
        s = Scenario.from_dict({**BASE, "mcda": {"method": method, "gamma": 0.5}}, check_files=False)
        assert s.mcda.method == method and s.mcda.gamma == 0.5
    s = Scenario.from_dict({**BASE, "mcda": {"method": "owa", "alpha": 0.5}}, check_files=False)
    assert s.mcda.alpha == 0.5 and s.mcda.combine_args()["alpha"] == 0.5


@pytest.mark.parametrize(
    ("mcda", "match"),
    [
        ({"method": "wcl"}, r"mcda.method: expected one of 'wlc', .*got 'wcl' \(did you mean 'wlc'\?\)"),
        ({"method": "owa", "alpha": 0}, r"mcda.alpha: expected a number > 0, got 0"),
        ({"gamma": 1.5}, r"mcda.gamma: expected a number in \[0, 1\], got 1.5"),
        ({"monte_carlo_spread": 1.5}, r"mcda.monte_carlo_spread: expected a number in \[0, 1\), got 1.5"),
        ({"monte_carlo_concentration": 0}, r"mcda.monte_carlo_concentration: expected a number > 0, got 0"),
    ],
)
def test_scenario_mcda_errors(mcda, match):
    with pytest.raises(ScenarioError, match=match):
        Scenario.from_dict({**BASE, "mcda": mcda}, check_files=False)


def test_inconsistent_ahp_names_the_judgement_and_can_be_accepted_with_a_warning():
    ahp = {
        "labels": ["road_access", "landcover", "market_access"],
        "matrix": [[1, 9, 0.2], [1 / 9, 1, 9], [5, 1 / 9, 1]],
    }
    with pytest.raises(
        ScenarioError,
        match=r"mcda.ahp.matrix: consistency ratio 4.771 exceeds 0.10; the judgement that contributes most "
        r"\(33% of CI\) is \[road_access, landcover\] = 9",
    ):
        Scenario.from_dict({**BASE, "mcda": {"ahp": ahp}}, check_files=False)
    s = Scenario.from_dict({**BASE, "mcda": {"ahp": {**ahp, "on_inconsistent": "warn"}}}, check_files=False)
    with pytest.warns(EicgeoWarning, match=r"AHP consistency ratio 4.771 exceeds 0.10"):
        weights = s.weights()
    assert set(weights) == {"road_access", "landcover", "market_access"}
    with pytest.raises(
        ScenarioError, match=r"mcda.ahp.on_inconsistent: expected one of 'raise' or 'warn', got 'ignore'"
    ):
        Scenario.from_dict({**BASE, "mcda": {"ahp": {**ahp, "on_inconsistent": "ignore"}}}, check_files=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        consistent = {"labels": ["road_access", "landcover"], "matrix": [[1, 3], [1 / 3, 1]]}
        assert Scenario.from_dict({**BASE, "mcda": {"ahp": consistent}}, check_files=False).weights() == pytest.approx(
            {"road_access": 0.75, "landcover": 0.25}
        )


# --------------------------------------------------------------------------------------------
# [constraints]: exclusions with reasons
# --------------------------------------------------------------------------------------------
GRID = Grid("EPSG:32647", Affine(100, 0, 600000, 0, -100, 1600600), (6, 6))
R = ROLE_CODE


def write_tif(path, data, grid=GRID, nodata=None):
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=grid.height,
        width=grid.width,
        count=1,
        dtype=data.dtype,
        crs=grid.crs.to_wkt(),
        transform=grid.transform,
        nodata=nodata,
    ) as dst:
        dst.write(data, 1)
    return path


def small_region(tmp_path):
    """A 6 x 6 region of 100 m cells: a built-up cell, a water row, a steep east and two user layers."""
    roles = np.full((6, 6), R["cropland"], dtype=np.uint8)
    roles[0, 0] = R["built_up"]
    roles[5, :3] = R["water"]
    roles[5, 5] = R["nodata"]
    write_tif(tmp_path / "landcover.tif", np.full((6, 6), 40, dtype=np.uint8))
    # elevation by column 0, 0, 0, 0, 100, 200 m: central differences give slopes of
    # 0, 0, 0, atan(0.5) = 26.6, atan(1) = 45 and (one-sided) 45 degrees
    dem = np.tile(np.array([0, 0, 0, 0, 100, 200], dtype=np.float32), (6, 1))
    write_tif(tmp_path / "dem.tif", dem)
    # a flood zone covering the centres of rows 1-2, columns 1-2
    x0, y0 = GRID.transform.c, GRID.transform.f
    flood = box(x0 + 100, y0 - 300, x0 + 300, y0 - 100)
    gpd.GeoDataFrame({"name": ["river"]}, geometry=[flood], crs=GRID.crs).to_file(tmp_path / "flood.gpkg")
    protected = np.zeros((6, 6), dtype=np.uint8)
    protected[3, :2] = 1
    protected[1, 1] = 1  # also in the flood zone, which comes first
    write_tif(tmp_path / "protected.tif", protected)
    return GRID.wrap(roles, "landcover")


def exclusions(s, roles, suitability, green=None):
    """The pipeline's constraint step: read what the constraints need, then exclude."""
    made, masks = pipeline._constraint_layers(s, GRID)
    excluded = constraints.exclusions(
        s.constraints, GRID, roles, suitability, green=green, slope=made.get("slope"), layers=masks
    )
    return excluded, made


def scenario(tmp_path, constraints, **inputs):
    data = {"inputs": {"landcover": "landcover.tif", **inputs}, "constraints": constraints}
    return Scenario.from_dict(data, base_dir=tmp_path)


def test_every_kind_of_constraint_with_its_reason(tmp_path):
    roles = small_region(tmp_path)
    suitability = GRID.wrap(np.full((6, 6), 0.5, dtype=np.float32), "suitability")
    s = scenario(
        tmp_path,
        {
            "residential_buffer_m": 150,
            "slope_max_deg": 30,
            "layers": [
                {"path": "flood.gpkg", "reason": "flood zone"},
                {"path": "protected.tif", "reason": "protected area"},
            ],
        },
        dem="dem.tif",
    )
    excluded, made = exclusions(s, roles, suitability)
    expected = np.array(
        [
            [4, 10, 0, 0, 11, 11],  # built-up, its 150 m buffer (neighbours and diagonal), steep columns
            [10, 10, 20, 0, 11, 11],  # (1, 1) is in the buffer first, then flood and protected
            [0, 20, 20, 0, 11, 11],
            [21, 21, 0, 0, 11, 11],
            [0, 0, 0, 0, 11, 11],
            [2, 2, 2, 0, 11, 1],  # water; no data wins over slope
        ]
    )
    np.testing.assert_array_equal(excluded.values, expected)
    assert excluded.attrs["reason_names"] == {
        1: "no data",
        2: "water",
        3: "wetland",
        4: "built-up land",
        10: "residential buffer (150 m)",
        11: "slope > 30°",
        20: "flood zone",
        21: "protected area",
    }
    np.testing.assert_allclose(made["slope"].values[0], np.degrees(np.arctan([0, 0, 0, 0.5, 1, 1])), rtol=1e-6)
    areas = mcda.exclusion_areas(excluded).set_index("code")["area_ha"].to_dict()
    # 100 m cells are 1 ha each
    assert areas == {1: 1.0, 2: 3.0, 4: 1.0, 10: 3.0, 11: 11.0, 20: 3.0, 21: 2.0}


def test_constraints_default_to_the_roles_only(tmp_path):
    roles = small_region(tmp_path)
    suitability = GRID.wrap(np.full((6, 6), 0.5, dtype=np.float32), "suitability")
    suitability[2, 4] = np.nan
    excluded, made = exclusions(scenario(tmp_path, {}), roles, suitability)
    expected = np.zeros((6, 6), dtype=np.uint8)
    expected[0, 0] = 4
    expected[5, :3] = 2
    expected[5, 5] = expected[2, 4] = 1
    np.testing.assert_array_equal(excluded.values, expected)
    assert made == {}
    # a vector layer with all_touched: the cells the polygon's edge touches too
    s = scenario(
        tmp_path, {"exclude_roles": [], "layers": [{"path": "flood.gpkg", "reason": "flood", "all_touched": True}]}
    )
    excluded, _ = exclusions(s, roles, suitability)
    assert (excluded.values == 20).sum() >= 4


@pytest.mark.parametrize(
    ("constraints", "inputs", "match"),
    [
        ({"slope_max_deg": 20}, {}, r"constraints.slope_max_deg: needs inputs.dem"),
        (
            {"slope_max_deg": 95},
            {"dem": "dem.tif"},
            r"constraints.slope_max_deg: expected a number in \(0, 90\) \(degrees\), got 95",
        ),
        ({"residential_buffer_m": -1}, {}, r"constraints.residential_buffer_m: expected a number >= 0 \(m\), got -1"),
        ({"layers": [{"path": "flood.gpkg"}]}, {}, r"constraints.layers\[0\].reason: missing; the reason's name"),
        ({"layers": ["flood.gpkg"]}, {}, r"constraints.layers\[0\]: expected a table"),
        (
            {"layers": [{"path": "nothere.gpkg", "reason": "flood"}]},
            {},
            r"constraints.layers\[0\].path: file '.*nothere.gpkg' does not exist",
        ),
        ({"layers": [{"path": "flood.csv", "reason": "flood"}]}, {}, r"is neither a raster .* nor a vector file"),
        (
            {"layers": [{"path": "flood.gpkg", "reason": "flood", "touched": True}]},
            {},
            r"constraints.layers\[0\].touched: unknown key \(did you mean 'all_touched'\?\)",
        ),
        ({"exclude_roles": ["watre"]}, {}, r"constraints.exclude_roles: unknown role 'watre' \(did you mean 'water'"),
        ({"buffer_m": 100}, {}, r"constraints.buffer_m: unknown key"),
    ],
)
def test_constraint_errors(tmp_path, constraints, inputs, match):
    small_region(tmp_path)
    with pytest.raises(ScenarioError, match=match):
        scenario(tmp_path, constraints, **inputs)


def test_run_writes_the_reasons_and_areas_to_the_tags_and_report(tmp_path, data_dir):
    # Real CORINE land cover (Lausanne) with a generated flood zone and a residential buffer.
    lc = data_dir / "lausanne-clc2006-100m.tif"
    with rasterio.open(lc) as src:
        grid = Grid.from_bounds(tuple(src.bounds), 100, "EPSG:2056", bounds_crs=src.crs)
    # a flood zone of 10 x 5 whole cells in the middle of the grid, in the grid's CRS
    r0, c0 = grid.height // 2, grid.width // 2
    x0, y0 = grid.transform * (c0, r0)
    flood = box(x0, y0 - 500, x0 + 1000, y0)
    gpd.GeoDataFrame({"kind": ["flood"]}, geometry=[flood], crs=grid.crs).to_file(tmp_path / "flood.gpkg")
    s = Scenario.from_dict(
        {
            "name": "lausanne",
            "inputs": {"landcover": str(lc), "legend": "corine"},
            "grid": {"crs": "EPSG:2056"},
            "constraints": {
                "residential_buffer_m": 100,
                "layers": [{"path": str(tmp_path / "flood.gpkg"), "reason": "flood zone"}],
            },
        }
    )
    result = eicgeo.run(s, out=tmp_path / "out", progress=False)
    assert result.grid == grid
    codes = result.excluded.values
    in_flood = np.zeros(codes.shape, dtype=bool)
    in_flood[r0 : r0 + 5, c0 : c0 + 10] = True
    # the flood zone takes its 50 cells but those an earlier reason (1..19) took, and no other cell
    assert (codes == 20).sum() > 0
    assert np.all(in_flood[codes == 20])
    assert np.all((codes[in_flood] == 20) | ((codes[in_flood] >= 1) & (codes[in_flood] < 20)))
    cell_ha = result.grid.cell_area_m2 / 1e4
    with rasterio.open(tmp_path / "out" / "excluded.tif") as src:
        tags = src.tags()
    assert "20=flood zone" in tags["reasons"] and "10=residential buffer (100 m)" in tags["reasons"]
    areas = dict(item.split("=") for item in tags["area_ha"].split("; "))
    for code in (4, 10, 20):
        assert float(areas[str(code)]) == pytest.approx((codes == code).sum() * cell_ha)
    assert float(areas["10"]) > 0
    report = (tmp_path / "out" / "report.md").read_text()
    assert f"| 20 | flood zone | {(codes == 20).sum() * cell_ha:,.0f} |" in report
    assert f"| 10 | residential buffer (100 m) | {(codes == 10).sum() * cell_ha:,.0f} |" in report
    manifest = (tmp_path / "out" / "manifest.json").read_text()
    assert '"constraints.layers[0]"' in manifest


def test_run_with_owa_monte_carlo_and_a_slope_limit(tmp_path, data_dir):
    # Real CORINE land cover with a generated DEM: flat in the west half, 45 degrees in the east.
    lc = data_dir / "lausanne-clc2006-100m.tif"
    with rasterio.open(lc) as src:
        grid = Grid.from_bounds(tuple(src.bounds), 100, "EPSG:2056", bounds_crs=src.crs)
    half = grid.width // 2
    # metres: a gentle 1 m per 100 m cell in the west (so the elevation criterion varies on the
    # allowed land), then 100 m up per 100 m cell east of the middle
    east = np.arange(grid.width) * 1.0 + np.maximum(np.arange(grid.width) - half, 0) * 99.0
    write_tif(tmp_path / "dem.tif", np.tile(east.astype(np.float32), (grid.height, 1)), grid=grid)
    s = Scenario.from_dict(
        {
            "inputs": {"landcover": str(lc), "legend": "corine", "dem": str(tmp_path / "dem.tif")},
            "grid": {"crs": "EPSG:2056"},
            "criteria": {
                "elevation": {
                    "raster": str(tmp_path / "dem.tif"),
                    "fn": "linear",
                    "low": 0,
                    "high": 20000,
                    "weight": 1,
                },
                # two criteria only: the straight-line travel times are switched off
                "road_access": {"enabled": False},
                "market_access": {"enabled": False},
            },
            "constraints": {"slope_max_deg": 30},
            "mcda": {"method": "owa", "alpha": 0.5, "monte_carlo": 20, "monte_carlo_spread": 0.3},
        }
    )
    result = eicgeo.run(s, progress=False)
    assert set(result.weights) == {"landcover", "elevation"}
    # alpha 0.5 with two criteria: v = (sqrt(1/2), 1 - sqrt(1/2)), ORness = v_1 = 0.707
    assert result.suitability.attrs["method"] == "owa"
    assert result.suitability.attrs["orness"] == pytest.approx(np.sqrt(0.5))
    codes = result.excluded.values
    # central differences: the slope is 45 degrees from the column after the bend eastwards
    steep = np.zeros(grid.shape, dtype=bool)
    steep[:, half + 1 :] = True
    assert np.all(np.isin(codes[steep], [*range(1, 11), 11]))
    assert not (codes[:, :half] == 11).any()
    assert (codes == 11).sum() > 0
    p = result.layers["p_top"].values
    std = result.layers["suitability_std"].values
    valid = np.isfinite(p)
    assert valid.sum() > 1000 and np.nanmin(p) >= 0 and np.nanmax(p) <= 1
    assert np.nanmax(std) > 0
    # each of the 20 draws puts a tenth of the valid cells (to one cell, more with ties) in its top tenth
    assert p[valid].mean() >= 0.1 - 1 / valid.sum()
