"""End to end on the committed sample region: every output of the contract, checked."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
import rasterio.features

import eicgeo
import eicgeo.maps
from eicgeo import io
from eicgeo.constraints import EXCLUSION_REASONS
from eicgeo.fringe import SMOD_CLASSES
from eicgeo.pipeline import STAGES
from eicgeo.zones import ZONE_COLUMNS


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    result = eicgeo.run(eicgeo.load_sample(), out=out, progress=False, offline=True)
    return result, out


def read(path):
    with rasterio.open(path) as src:
        return src.read(1), src.crs, src.dtypes[0], src.nodata, src.tags()


def test_every_output_file_exists(demo):
    _, out = demo
    for name in (
        "suitability.tif",
        "fringe.tif",
        "degurba.tif",
        "excluded.tif",
        "zones.gpkg",
        "firms.gpkg",
        "map.html",
        "map.png",
        "report.md",
        "report.html",
        "report.pdf",
        "manifest.json",
    ):
        assert (out / name).is_file(), name
    criteria = sorted(p.name for p in (out / "criteria").glob("*.tif"))
    assert {"landcover.tif", "road_access.tif", "market_access.tif", "equal_access.tif"} <= set(criteria)
    assert any(name.startswith("material_access-") for name in criteria)
    assert not list(out.parent.glob(".*partial*")), "no staging folder is left behind"


def test_rasters_have_the_right_crs_dtype_and_range(demo):
    result, out = demo
    epsg = result.grid.crs.to_epsg()
    assert epsg == 32647
    suit, crs, dtype, nodata, _ = read(out / "suitability.tif")
    assert crs.to_epsg() == epsg and dtype == "float32" and np.isnan(nodata)
    assert np.nanmin(suit) >= 0 and np.nanmax(suit) <= 1 and np.isfinite(suit).mean() > 0.5
    fringe, crs, dtype, nodata, _ = read(out / "fringe.tif")
    assert crs.to_epsg() == epsg and dtype == "uint8" and nodata == 0
    assert set(np.unique(fringe)) <= {0, 1, 2, 3} and {1, 2, 3} <= set(np.unique(fringe))
    smod, _, dtype, _, tags = read(out / "degurba.tif")
    assert dtype == "uint8" and set(np.unique(smod)) <= {0, *SMOD_CLASSES}
    assert 30 in smod, "the sample city is an urban centre"
    excluded, _, dtype, nodata, tags = read(out / "excluded.tif")
    assert dtype == "uint8" and nodata == 255 and set(np.unique(excluded)) <= {0, *EXCLUSION_REASONS, 255}
    assert "2=water" in tags["reasons"]
    assert np.all(np.isnan(suit[excluded > 0])), "excluded cells are NaN in suitability.tif"
    for path in (out / "criteria").glob("*.tif"):
        values, crs, dtype, _, _ = read(path)
        assert crs.to_epsg() == epsg and dtype == "float32", path.name
        assert np.nanmin(values) >= 0 and np.nanmax(values) <= 1, path.name
    np.testing.assert_array_equal(suit, result.suitability.values)


def test_zones_lie_on_allowed_fringe_land(demo):
    result, out = demo
    zones = gpd.read_file(out / "zones.gpkg", layer="zones")
    assert zones.crs.to_epsg() == 32647
    assert list(zones.columns)[: len(ZONE_COLUMNS)] == ZONE_COLUMNS
    assert len(zones) >= 5
    assert zones["rank"].tolist() == list(range(1, len(zones) + 1))
    assert zones["score"].is_monotonic_decreasing
    assert set(zones["kind"]) <= {"greenfield", "cluster"}
    grid = result.grid
    fringe = result.fringe.values
    excluded = result.excluded.values
    for zone in zones.itertuples():
        cells = rasterio.features.geometry_mask([zone.geometry], grid.shape, grid.transform, invert=True)
        assert cells.sum() * grid.cell_area_m2 / 1e4 == pytest.approx(zone.area_ha)
        assert np.all(fringe[cells] == 2), f"zone {zone.zone_id} leaves the fringe"
        assert np.all(excluded[cells] == 0), f"zone {zone.zone_id} holds excluded land"
    assert zones["mean_suitability"].between(0, 1).all()
    assert (zones["market_minutes"] >= 0).all() and (zones["rural_pop_30min"] > 0).all()


def test_firms_links_and_sources(demo):
    result, out = demo
    layers = {name for name, _ in pyogrio.list_layers(out / "firms.gpkg")}
    assert {"firms", "links", "sources", "clusters", "unmatched"} <= layers
    unmatched = gpd.read_file(out / "firms.gpkg", layer="unmatched")
    assert len(unmatched) == len(result.unmatched) > 0 and (unmatched["unmatched"] > 0).all()
    links = gpd.read_file(out / "firms.gpkg", layer="links")
    firms = gpd.read_file(out / "firms.gpkg", layer="firms")
    assert len(firms) == len(result.firms) >= 150 and "cluster" in firms
    assert (links["from_sector"] != links["to_sector"]).any(), "a link joins firms of different sectors"
    assert (links["km"] <= 33 + 1e-9).all() and (links["tonnes"] > 0).all()
    assert links["from_firm"].isin(firms["firm_id"]).all() and links["to_firm"].isin(firms["firm_id"]).all()


def test_manifest_and_report(demo, sample_dir):
    result, out = demo
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["stage_seconds"]) == {*STAGES, "outputs"}
    assert manifest["inputs"]["landcover"]["sha256"] == io.sha256(sample_dir / "landcover.tif")
    assert manifest["outputs"]["suitability.tif"] == io.sha256(out / "suitability.tif")
    assert manifest["grid"]["crs"] == "EPSG:32647" and manifest["packages"]["osmnx"]
    report = (out / "report.md").read_text()
    assert "## Ranked candidate zones" in report and "## Exclusions" in report
    assert sum(line.startswith("| ") and line.split("|")[1].strip().isdigit() for line in report.splitlines()) >= len(
        result.zones
    )


def test_offline_map_is_self_contained(demo):
    result, out = demo
    html = (out / "map.html").read_text()
    assert "<script src=" not in html and 'rel="stylesheet" href="http' not in html
    assert "L.map(" in html and "jQuery" in html
    # One rank label per zone (the JSON-escaped marker HTML), plus the CSS rule that styles them.
    assert html.count("eicgeo-rank") == len(result.zones) + 1


def test_a_failed_save_leaves_no_folder(demo, tmp_path, monkeypatch):
    result, _ = demo

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(eicgeo.maps, "static", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        result.save(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_missing_inputs_skip_their_criteria(sample_dir, data_dir):
    # Land cover only (real CORINE): the travel times are straight-line estimates (to built-up land for
    # roads, to the urban land for markets), the material criteria are skipped, with their reasons, and
    # the fringe comes from the land-cover gradient.
    s = eicgeo.Scenario.from_dict(
        {
            "name": "lausanne",
            "inputs": {"landcover": str(data_dir / "lausanne-clc2006-100m.tif"), "legend": "corine"},
            "grid": {"crs": "EPSG:2056"},
        }
    )
    result = eicgeo.run(s, progress=False)
    assert dict(result.skipped) == {
        "material_access": "no source of the material(s) in inputs.sources",
        "equal_access": "no raw-material sources (inputs.sources)",
    }
    assert set(result.fallbacks) == {"road_access", "market_access"}
    assert "x 1.3 at 30 km/h" in result.fallbacks["market_access"]
    assert set(result.weights) == {"landcover", "road_access", "market_access"}
    assert result.zones["market_minutes"].notna().all()
    assert result.degurba is None and "land-cover built-up gradient" in " ".join(result.notes)
    assert len(result.zones) > 0 and set(np.unique(result.fringe.values)) <= {0, 1, 2, 3}


def test_roads_without_sources(sample_dir):
    s = eicgeo.load_sample().replace(name="no_sources", without=["sources", "firms"])
    result = eicgeo.run(s, progress=False)
    skipped = dict(result.skipped)
    assert skipped["material_access"] == "no source of the material(s) in inputs.sources"
    assert skipped["equal_access"] == "no raw-material sources (inputs.sources)"
    assert set(result.weights) == {"landcover", "road_access", "market_access"}
    assert sum(result.weights.values()) == pytest.approx(1.0)
    assert result.zones["n_firms"].eq(0).all() and len(result.links) == 0
