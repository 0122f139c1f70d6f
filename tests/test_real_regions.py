"""The balanced preset on real regions, with the inputs planners have (tests/data/README.md):
land cover alone, land cover with population, and land cover with OSM roads. Each must rank:
distinct zone scores, a suitability surface with spread, and every minute column filled, with
roads or without them (straight-line estimates, named as such)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import eicgeo
from eicgeo import pipeline, zones

REGIONS = {
    # ESA WorldCover 10 m: Cayambe, Tabacundo and El Quinche, Ecuador (Andes)
    "cayambe": {"inputs": {"landcover": "cayambe-worldcover-10m-epsg3857.tif"}, "grid": {"crs": "EPSG:32617"}},
    # ESA CCI LC 300 m: Podlasie with Białystok, Poland, on a 300 m grid
    "podlasie": {
        "inputs": {"landcover": "podlasie-esacci-lc2015-300m.tif", "legend": "esa_cci_lc"},
        "grid": {"crs": "EPSG:32634", "resolution": 300},
    },
    # CORINE 100 m: the Lausanne agglomeration (the "10 zones, all with the same score")
    "lausanne": {
        "inputs": {"landcover": "lausanne-clc2006-100m.tif", "legend": "corine"},
        "grid": {"crs": "EPSG:2056"},
    },
    # NLCD 30 m: the suburbs west of Augusta, Georgia, where no cell is an urban centre
    "augusta": {
        "inputs": {"landcover": "augusta-nlcd2011-30m.tif", "legend": "nlcd"},
        "grid": {"crs": "EPSG:32617"},
    },
    # MODIS 500 m with WorldPop: Assaba, Mauritania (the fringe from the Degree of Urbanisation)
    "assaba": {
        "inputs": {
            "landcover": "assaba-modis-mcd12q1-2020-500m.tif",
            "legend": "modis_igbp",
            "population": "assaba-worldpop-pd2020-1km.tif",
        },
        "grid": {"crs": "EPSG:32628", "resolution": 500},
    },
    # C3S LC 300 m with OSM roads: San Carlos de Bariloche, Argentina
    "bariloche": {
        "inputs": {"landcover": "bariloche-c3s-lc2022-300m.tif", "legend": "esa_cci_lc"},
        "grid": {"crs": "EPSG:32719"},
    },
    "bariloche_roads": {
        "inputs": {
            "landcover": "bariloche-c3s-lc2022-300m.tif",
            "legend": "esa_cci_lc",
            "roads": "bariloche-osm-roads.gpkg",
        },
        "grid": {"crs": "EPSG:32719"},
    },
    "bariloche_main_roads": {
        "inputs": {
            "landcover": "bariloche-c3s-lc2022-300m.tif",
            "legend": "esa_cci_lc",
            "roads": "bariloche-osm-roads.gpkg",
        },
        "grid": {"crs": "EPSG:32719"},
        "roads": {"coverage": "main"},
    },
}
_RUNS: dict[str, tuple[eicgeo.Scenario, eicgeo.Result]] = {}


def scenario(name: str, data_dir) -> eicgeo.Scenario:
    return eicgeo.Scenario.from_dict({"name": name, **REGIONS[name]}, base_dir=data_dir)


@pytest.fixture
def run(data_dir):
    """The region's scenario and result, run once per test session."""

    def get(name: str) -> tuple[eicgeo.Scenario, eicgeo.Result]:
        if name not in _RUNS:
            s = scenario(name, data_dir)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", eicgeo.EicgeoWarning)
                _RUNS[name] = s, eicgeo.run(s, progress=False)
        return _RUNS[name]

    return get


def spread(result: eicgeo.Result) -> float:
    """p95 - p5 of the suitability over the allowed fringe land."""
    s = result.suitability.values
    allowed = (result.fringe.values == 2) & (result.excluded.values == 0) & np.isfinite(s)
    p5, p95 = np.percentile(s[allowed], [5, 95])
    return float(p95 - p5)


def shown(result: eicgeo.Result) -> np.ndarray:
    return result.zones.sort_values("rank")["score"].round(zones.SCORE_DECIMALS).to_numpy()


# The zones that fit each region's allowed fringe land 1 km apart (zones.min_spacing_km), with
# the floor lowered to the median where the 85 % quantile's land is too broken (zones.lowest_quantile).
FOUND = {"cayambe": 10, "podlasie": 10, "lausanne": 10, "augusta": 5, "assaba": 8, "bariloche": 4}


@pytest.mark.parametrize("name", sorted(FOUND))
def test_real_regions_rank_without_roads(run, name):
    s, result = run(name)
    assert len(result.zones) == FOUND[name]
    # the surface tells places apart: its 5-95 % range over the allowed land is 0.53-0.67 wide,
    # 0.20 on the Sahel's grassland of Assaba
    assert spread(result) > 0.15
    # every zone has its minutes, straight-line estimates the run names with their speed and detour
    assert result.zones["market_minutes"].notna().all() and (result.zones["market_minutes"] > 0).all()
    assert set(result.fallbacks) == {"road_access", "market_access"}
    assert all("x 1.3 at 30 km/h" in how for how in result.fallbacks.values())
    assert set(result.weights) == {"landcover", "road_access", "market_access"}
    # validate predicts what the run skips and what it estimates
    found = pipeline.check(s)
    assert [k for k, _ in found.skipped] == [k for k, _ in result.skipped] == ["material_access", "equal_access"]
    assert [k for k, _ in found.estimated] == ["road_access", "market_access"]


@pytest.mark.parametrize("name", ["cayambe", "podlasie", "augusta", "assaba", "bariloche"])
def test_real_regions_give_distinct_scores(run, name):
    _, result = run(name)
    scores = shown(result)
    assert len(set(scores)) == len(scores), scores
    assert not result.zones["tied"].any() and not result.cautions


def test_equal_scores_on_a_real_region_are_flagged_not_ranked(run):
    # CORINE Lausanne, land cover alone: three zones whose mean suitability differs by < 0.001
    # show the same score; they are marked tied, and the report's caution names them
    _, result = run("lausanne")
    scores = shown(result)
    ranked = result.zones.sort_values("rank")
    for value in {v for v in scores if (scores == v).sum() > 1}:
        assert ranked["tied"].to_numpy()[scores == value].all()
    assert ranked["tied"].sum() == 3 and len(set(scores)) == 8
    assert len(result.cautions) == 1 and "tie at score 0.989" in result.cautions[0]
    assert "inputs not given: inputs.population, inputs.roads" in result.cautions[0]


def test_a_region_without_an_urban_centre_measures_markets_to_its_densest_built_up_land(run):
    # NLCD Augusta: suburbs only, no cell reaches the urban share, so no urban centre
    _, result = run("augusta")
    assert (result.fringe.values == 3).sum() == 0
    how = result.fallbacks["market_access"]
    assert how.startswith("no urban centre in the study area: minutes to its densest built-up land (the top 5%")
    assert "straight-line distance to the densest built-up land x 1.3 at 30 km/h" in how
    assert result.zones["market_minutes"].notna().all()


def test_population_fills_the_rural_population_within_30_minutes(run):
    _, result = run("assaba")
    assert result.degurba is not None
    assert result.zones["rural_pop_30min"].notna().all() and (result.zones["rural_pop_30min"] > 0).all()


def test_a_real_region_with_roads_routes_its_minutes(run):
    s, without = run("bariloche")
    s, result = run("bariloche_roads")
    assert result.fallbacks == {} and pipeline.check(s).estimated == []
    assert len(result.zones) == 5 and len(set(shown(result))) == 5
    assert spread(result) > 0.3
    assert result.zones["market_minutes"].notna().all()
    # routed minutes differ from the straight-line ones on the same land
    assert not np.allclose(
        result.layers["market_access"].values, without.layers["market_access"].values, equal_nan=True
    )


def test_main_roads_only_estimate_the_last_mile_and_say_so(run, tmp_path):
    s, result = run("bariloche_main_roads")
    expected = "main roads only (roads.coverage = main): the last mile to them is the straight line x 1.3 at 30 km/h"
    assert result.fallbacks == {"road_access": expected, "market_access": expected}
    assert [k for k, _ in pipeline.check(s).estimated] == ["road_access", "market_access"]
    assert result.zones["market_minutes"].notna().all()
    _, full = run("bariloche_roads")
    # the last mile at 30 / 1.3 km/h over the straight line is faster than offroad_kph: never slower
    road_main = result.layers["road_access"].values
    road_all = full.layers["road_access"].values
    both = np.isfinite(road_main) & np.isfinite(road_all)
    assert np.median(road_main[both]) < np.median(road_all[both])
    # the report and the manifest say so
    result.save(tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["fallbacks"] == result.fallbacks
    report = (tmp_path / "out" / "report.md").read_text()
    assert "### Travel times in part straight-line estimates" in report and expected in report


def test_validate_names_the_estimated_criteria(data_dir, tmp_path):
    from click.testing import CliRunner

    from eicgeo.cli import cli

    land = data_dir / "bariloche-c3s-lc2022-300m.tif"
    toml = tmp_path / "bariloche.toml"
    toml.write_text(
        f'name = "bariloche"\n[inputs]\nlandcover = "{land.as_posix()}"\nlegend = "esa_cci_lc"\n'
        '[grid]\ncrs = "EPSG:32719"\n'
    )
    out = CliRunner().invoke(cli, ["validate", str(toml)])
    assert out.exit_code == 0, out.output
    assert f"{toml}: will estimate road_access, market_access: no road network (inputs.roads): " in out.output
    assert "straight-line distance x 1.3 at 30 km/h" in out.output
