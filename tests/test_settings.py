"""Settings declared once and read by the stages: no default written twice, no setting a stage
misses, the stability check on the suitability's own MCDA model, and a manifest that reruns its
run."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from shapely.geometry import box

import eicgeo
from eicgeo import mcda, settings, zones
from eicgeo.settings import SECTIONS, MCDASettings, Settings

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------
# one declaration per default
# --------------------------------------------------------------------------------------------
def _literals(default: object) -> list[str]:
    if isinstance(default, bool):
        return [str(default), str(default).lower()]
    if isinstance(default, int | float):
        return sorted({f"{default:g}", repr(float(default))})
    if isinstance(default, str):
        return [f'"{default}"', f"'{default}'"]
    return ["[" + ", ".join(f'"{v}"' for v in default) + "]", "(" + ", ".join(f'"{v}"' for v in default) + ")"]


def _declared_defaults():
    for section, model in SECTIONS.items():
        for name, info in model.model_fields.items():
            default = info.default
            if info.is_required() or default is None or (isinstance(default, dict | tuple) and not default):
                continue
            if name == "weight":  # a criterion's 0 is "not used"; presets choose weights
                continue
            yield section, name, default


def test_each_scenario_default_is_written_once_in_its_declaration():
    """No function signature (``name: type = value``), ``.get("name", value)``, preset or doc
    outside the generated tables restates a setting's default; the building blocks take theirs
    from the declarations (``ZONES.min_spacing_km``)."""
    code = [p for p in (ROOT / "eicgeo").rglob("*.py") if p.name != "settings.py" and "synth" not in p.parts]
    presets = sorted((ROOT / "eicgeo" / "presets").glob("*.toml"))
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found = []
    for section, name, default in _declared_defaults():
        alt = "|".join(re.escape(lit) for lit in _literals(default))
        in_code = re.compile(
            rf"\b{name}\s*:\s*[\w\[\]| .,]+=\s*(?:{alt})(?![\w.])|\.get\(\s*[\"']{name}[\"']\s*,\s*(?:{alt})(?![\w.])"
        )
        in_toml = re.compile(rf"^\s*{name}\s*=\s*(?:{alt})(?![\w.])", re.M)
        for path in code:
            found += [
                f"{path.name}: {section}.{name}" for line in path.read_text().splitlines() if in_code.search(line)
            ]
        for path in [*presets, *docs]:
            text = re.sub(r"<!-- keys:(\S+) -->.*?<!-- /keys:\1 -->", "", path.read_text(), flags=re.S)
            found += [f"{path.name}: {section}.{name}" for _ in in_toml.finditer(text)]
    assert not found, f"defaults restated outside eicgeo/settings.py: {found}"


def test_the_method_lists_of_the_settings_are_the_ones_mcda_implements():
    assert tuple(mcda.STANDARDIZERS) == settings.STANDARDIZER_NAMES
    assert mcda.COMBINE_METHODS == settings.COMBINE_METHODS


def test_settings_are_frozen_values():
    z = settings.ZoneSettings(n=4)
    with pytest.raises(ValueError, match="frozen"):
        z.n = 5  # type: ignore[misc]
    assert z.changed(n=5).n == 5 and z.n == 4
    assert settings.ZoneSettings() == settings.ZONES


# --------------------------------------------------------------------------------------------
# every setting reaches a stage
# --------------------------------------------------------------------------------------------
def _region(tmp_path: Path, sample_dir: Path) -> dict[str, Path]:
    """Extra inputs over the sample region: an elevation model, a constraint layer, a table of
    materials."""
    with rasterio.open(sample_dir / "landcover.tif") as src:
        bounds, crs = src.bounds, src.crs
    west, south, east, north = bounds
    rows, cols = 200, 200
    height = np.tile(np.linspace(0, 3000, cols, dtype=np.float32), (rows, 1))  # a steady climb to the east
    profile = {
        "driver": "GTiff",
        "height": rows,
        "width": cols,
        "count": 1,
        "dtype": "float32",
        "crs": crs,
        "transform": rasterio.transform.from_bounds(west, south, east, north, cols, rows),
    }
    with rasterio.open(tmp_path / "dem.tif", "w", **profile) as dst:
        dst.write(height, 1)
    mid_x, mid_y = (west + east) / 2, (south + north) / 2
    gpd.GeoDataFrame(geometry=[box(mid_x, mid_y, mid_x + 0.05, mid_y + 0.05)], crs=crs).to_file(
        tmp_path / "flood.geojson"
    )
    (tmp_path / "materials.csv").write_text("name,kind,used_by\noyster_shells,byproduct,cement\n")
    return {"dem": tmp_path / "dem.tif", "flood": tmp_path / "flood.geojson", "materials": tmp_path / "materials.csv"}


def test_every_setting_is_read_by_a_stage(tmp_path, sample_dir, monkeypatch):
    """Two runs over the sample region between them read every field of every stage's settings:
    a stage that ignored a setting (as stability once ignored alpha and gamma) fails here."""
    extra = _region(tmp_path, sample_dir)
    inputs = {k: str(sample_dir / f) for k, f in (("landcover", "landcover.tif"), ("legend", "esa_worldcover"))}
    inputs["legend"] = "esa_worldcover"
    full = {
        "inputs": {
            **inputs,
            "population": str(sample_dir / "population.tif"),
            "roads": str(sample_dir / "roads.osm.bz2"),
            "sources": str(sample_dir / "sources.gpkg"),
            "firms": str(sample_dir / "firms.csv"),
            "dem": str(extra["dem"]),
            "materials": str(extra["materials"]),
        },
        "grid": {"resolution": 500},
        "fringe": {"band_minutes": 15, "rules": {"semi_dense_density": 350}},
        "mcda": {"method": "owa", "alpha": 2.0, "monte_carlo": 3},
        "constraints": {
            "residential_buffer_m": 300,
            "slope_max_deg": 40,
            "layers": [{"path": str(extra["flood"]), "reason": "flood zone"}],
        },
        "criteria": {"symbiosis_potential": {"weight": 0.2}, "labour_access": {"weight": 0.1, "high": 40}},
        "zones": {"n": 3, "stability_runs": 5},
    }
    ahp = {"labels": ["landcover", "symbiosis_potential"], "matrix": [[1, 2], [0.5, 1]]}
    bare = {
        "inputs": {**inputs, "firms": str(sample_dir / "firms.csv")},
        "grid": {"resolution": 1000, "bounds": [100.3, 14.6, 100.6, 14.9], "bounds_crs": "EPSG:4326"},
        "fringe": {"method": "landcover"},
        "mcda": {"ahp": ahp},
        "criteria": {"symbiosis_potential": {"weight": 0}},
        "clustering": {"method": "dbscan"},
        "zones": {"n": 2, "stability_runs": 5},
    }
    scenarios = [eicgeo.Scenario.from_dict(data, base_dir=tmp_path) for data in (full, bare)]
    read: set[tuple[str, str]] = set()
    original = Settings.__getattribute__

    def tracked(self, name):
        value = original(self, name)
        if name in type(self).model_fields:
            read.add((type(self).__name__, name))
        return value

    monkeypatch.setattr(Settings, "__getattribute__", tracked)
    for s in scenarios:
        eicgeo.run(s, progress=False)
    monkeypatch.undo()
    stage_types = [*SECTIONS.values(), settings.AHPSettings, settings.ConstraintLayer]
    unread = [
        f"{model.__name__}.{field}"
        for model in stage_types
        for field in model.model_fields
        if (model.__name__, field) not in read
    ]
    assert not unread, f"settings no stage read in either run: {unread}"


# --------------------------------------------------------------------------------------------
# the stability of the ranks measures the suitability's own model
# --------------------------------------------------------------------------------------------
def test_owa_stability_uses_the_order_weights_of_alpha():
    """OWA with alpha = 2: p_top_k is what the order weights from alpha give, and differs from
    OWA with equal order weights (the defect: stability got method but not alpha)."""
    from affine import Affine
    from shapely.geometry import box as cell_box

    from eicgeo.grid import Grid

    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 300), (3, 3))
    # three zones of one cell each; three criteria whose worst value decides under alpha = 2
    a = np.array([[0.9, 0.5, 0.6], [0, 0, 0], [0, 0, 0]], dtype=np.float32)
    b = np.array([[0.1, 0.5, 0.6], [0, 0, 0], [0, 0, 0]], dtype=np.float32)
    c = np.array([[0.95, 0.5, 0.3], [0, 0, 0], [0, 0, 0]], dtype=np.float32)
    criteria = {k: grid.wrap(v, k) for k, v in {"a": a, "b": b, "c": c}.items()}
    weights = {"a": 1.0, "b": 1.0, "c": 1.0}
    suit = mcda.combine(criteria, weights, method="owa", alpha=2.0)
    polygons = [cell_box(x, 200, x + 100, 300) for x in (0, 100, 200)]
    ranked = zones.score(
        gpd.GeoDataFrame({"kind": ["greenfield"] * 3}, geometry=polygons, crs=grid.crs), suitability=suit
    )
    by_alpha = zones.stability(
        ranked, criteria, weights, runs=200, top_k=1, seed=1, mcda=MCDASettings(method="owa", alpha=2.0)
    )
    order = tuple(float(w) for w in mcda.order_weights_from_alpha(3, 2.0))
    by_order = zones.stability(
        ranked, criteria, weights, runs=200, top_k=1, seed=1, mcda=MCDASettings(method="owa", order_weights=order)
    )
    equal = zones.stability(ranked, criteria, weights, runs=200, top_k=1, seed=1, mcda=MCDASettings(method="owa"))
    assert by_alpha["p_top_k"].tolist() == by_order["p_top_k"].tolist()
    assert by_alpha["p_top_k"].tolist() != equal["p_top_k"].tolist()
    # the zone that wins under alpha = 2 is the balanced one (0.5, 0.5, 0.5), not the one with a 0.1
    assert by_alpha.loc[by_alpha["p_top_k"].idxmax(), "geometry"].bounds[0] == 100.0


def test_the_pipeline_checks_stability_on_its_own_mcda_settings(tmp_path):
    s = eicgeo.load_sample().replace(
        resolution=1000, mcda={"method": "owa", "alpha": 2.0}, zones={"stability_runs": 40}
    )
    result = eicgeo.run(s, progress=False)
    order = tuple(float(w) for w in mcda.order_weights_from_alpha(len(result.weights), 2.0))
    again = zones.stability(
        result.zones,
        result.criteria,
        result.weights,
        runs=40,
        top_k=s.zones.top_k,
        seed=s.zones.stability_seed,
        mcda=MCDASettings(method="owa", order_weights=order),
    )
    assert again["p_top_k"].tolist() == result.zones["p_top_k"].tolist()


# --------------------------------------------------------------------------------------------
# the manifest reproduces the run
# --------------------------------------------------------------------------------------------
def test_the_manifest_reruns_the_demo_to_the_same_result(tmp_path, sample_result):
    """The demo's manifest.json holds the resolved scenario, every default included; running it
    gives the same suitability and zones."""
    import json

    sample_result.save(tmp_path / "first")
    manifest = json.loads((tmp_path / "first" / "manifest.json").read_text())
    assert (
        manifest["scenario"]["fringe"]["cell_m"] == 1000 and manifest["scenario"]["fringe"]["green_distance_m"] == 500
    )
    assert manifest["scenario"]["criteria"]["road_access"] == {
        "weight": 0.2,
        "enabled": True,
        "fn": "linear",
        "low": 0.0,
        "high": "p95",
        "increasing": False,
    }
    rerun = eicgeo.run(eicgeo.read_scenario(tmp_path / "first" / "manifest.json"), progress=False)
    np.testing.assert_array_equal(rerun.suitability.values, sample_result.suitability.values)
    columns = [c for c in sample_result.zones.columns if c != "geometry"]
    assert rerun.zones[columns].equals(sample_result.zones[columns])
    assert rerun.zones.geometry.geom_equals(sample_result.zones.geometry).all()
    assert rerun.scenario.to_dict(nulls=True) == manifest["scenario"]
