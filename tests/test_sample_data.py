"""Tests of the synthetic sample-region generator and of the committed sample region."""

from __future__ import annotations

import bz2
import json
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import pytest
import rasterio

from eicgeo._errors import InputError, OutputFolderError
from eicgeo.datasets.synth import DEFAULT_SEED, FILES, generate

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

COMMITTED = Path(__file__).resolve().parents[1] / "sample_data" / "peri_urban_demo"

MATERIALS = frozenset(
    [
        "paddy",
        "sugar_cane",
        "cassava",
        "malt",
        "coal",
        "iron_ore",
        "scrap_metal",
        "limestone",
        "quarry_stone",
        "clay",
        "sand",
        "timber",
        "water",
        "rice_husk",
        "rice_husk_ash",
        "rice_bran",
        "bagasse",
        "molasses",
        "press_mud",
        "vinasse",
        "fly_ash",
        "bottom_ash",
        "slag",
        "fgd_gypsum",
        "mill_scale",
        "sawdust",
        "wood_chips",
        "spent_grain",
        "brewer_yeast",
        "organic_waste",
        "cassava_pulp",
        "treated_wastewater",
        "sewage_sludge",
        "biogas",
        "digestate",
        "compost",
        "waste_heat",
        "steam",
        "co2",
        "waste_plastic",
        "cullet",
        "paper_waste",
        "used_oil",
        "tyres",
        "textile_waste",
        "animal_manure",
        "cement_kiln_dust",
        "electricity",
        "animal_feed",
        "ethanol",
        "cement",
        "bricks",
        "particle_board",
        "fertilizer",
        "paper",
        "glass",
        "steel",
        "sugar",
        "rice",
        "beer",
        "starch",
        "plastic_pellets",
        "textiles",
        "food_products",
    ]
)
SECTORS = frozenset(
    [
        "rice_mill",
        "sugar_mill",
        "distillery",
        "coal_power",
        "biomass_power",
        "cement",
        "brick_kiln",
        "steel",
        "brewery",
        "feed_mill",
        "sawmill",
        "board_mill",
        "food_processing",
        "tapioca_starch",
        "biogas_plant",
        "compost_plant",
        "paper_mill",
        "plastics_recycling",
        "glass",
        "textile",
        "wastewater_treatment",
        "livestock_farm",
        "quarry",
    ]
)
HIGHWAYS = {
    "motorway",
    "motorway_link",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "residential",
    "unclassified",
    "track",
}
DRIVABLE = HIGHWAYS - {"track"}
# by-product, producing sector, user sectors: each needs a pair within 33 km
FLOWS = (
    ("rice_husk", "rice_mill", {"biomass_power", "cement", "brick_kiln"}),
    ("bagasse", "sugar_mill", {"biomass_power", "board_mill", "paper_mill"}),
    ("fly_ash", "coal_power", {"cement", "brick_kiln"}),
    ("slag", "steel", {"cement"}),
    ("spent_grain", "brewery", {"feed_mill"}),
    ("sawdust", "sawmill", {"board_mill"}),
    ("organic_waste", "food_processing", {"biogas_plant"}),
)


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly generated S region (default seed)."""
    return generate(tmp_path_factory.mktemp("synth") / "peri_urban_demo", size="S")


@pytest.fixture(scope="module", params=["fresh", "committed"])
def folder(request: pytest.FixtureRequest, region: Path) -> Path:
    return region if request.param == "fresh" else COMMITTED


@pytest.fixture(scope="module")
def firms(region: Path) -> pd.DataFrame:
    return pd.read_csv(region / "firms.csv", keep_default_na=False)


def _flows(text: str) -> dict[str, float]:
    return {m: float(v) for m, v in (item.split(":") for item in text.split(";") if item)}


def _km(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Great-circle distances (km) between lon/lat points a (n, 2) and b (m, 2)."""
    lon1, lat1 = np.radians(a[:, 0])[:, None], np.radians(a[:, 1])[:, None]
    lon2, lat2 = np.radians(b[:, 0])[None], np.radians(b[:, 1])[None]
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(h))


def _read(path: Path) -> tuple[np.ndarray, dict]:
    with rasterio.open(path) as src:
        meta = {
            "profile": src.profile,
            "tags": src.tags(),
            "bounds": src.bounds,
            "res": src.res,
            "description": src.descriptions[0],
            "structure": src.tags(ns="IMAGE_STRUCTURE"),
        }
        return src.read(1), meta


# ---------------------------------------------------------------- files, formats, determinism


def test_files_and_raster_formats(folder: Path) -> None:
    for name in FILES:
        assert (folder / name).is_file(), name
    lc, lc_meta = _read(folder / "landcover.tif")
    pop, pop_meta = _read(folder / "population.tif")
    for meta in (lc_meta, pop_meta):
        assert meta["profile"]["crs"].to_epsg() == 4326
        assert meta["profile"]["compress"] == "deflate"
        assert meta["profile"]["tiled"]
    assert lc.dtype == np.uint8
    assert lc_meta["profile"]["nodata"] == 0
    assert lc_meta["description"] == "ESA WorldCover class"
    assert lc_meta["res"] == pytest.approx((0.0003, 0.0003))
    assert set(np.unique(lc)) <= {10, 20, 30, 40, 50, 60, 80, 90, 95}
    assert {10, 20, 30, 40, 50, 60, 80, 90} <= set(np.unique(lc))
    assert pop.dtype == np.float32
    assert pop_meta["profile"]["nodata"] == -99999
    assert pop_meta["res"] == pytest.approx((1 / 1200, 1 / 1200))
    assert pop_meta["structure"].get("PREDICTOR") == "3"
    assert tuple(lc_meta["bounds"]) == pytest.approx(tuple(pop_meta["bounds"]), abs=1e-9)
    west, south, east, north = lc_meta["bounds"]
    assert west < 100.45 < east
    assert south < 14.80 < north
    assert (east - west) * 107.6 == pytest.approx(48, abs=1.0)
    assert (north - south) * 110.6 == pytest.approx(48, abs=1.0)


def test_committed_region_is_small() -> None:
    total = sum(p.stat().st_size for p in COMMITTED.rglob("*") if p.is_file())
    assert total <= 8 * 1024 * 1024
    assert (COMMITTED / "roads.osm.bz2").stat().st_size < 3 * 1024 * 1024


def test_committed_region_is_the_default_seed_output(region: Path) -> None:
    """The committed region is what the default seed gives.

    Exact for what depends only on the seeded generator (the firm register, the scenario); with
    a tolerance for rasters and geometry, which a newer GDAL or shapely may round differently.
    """
    for name in ("firms.csv", "scenario.toml"):
        assert (region / name).read_bytes() == (COMMITTED / name).read_bytes(), name
    fresh, committed = _read(region / "landcover.tif")[0], _read(COMMITTED / "landcover.tif")[0]
    assert fresh.shape == committed.shape and (fresh == committed).mean() > 0.999
    fresh, committed = _read(region / "population.tif")[0], _read(COMMITTED / "population.tif")[0]
    np.testing.assert_allclose(fresh, committed, rtol=1e-4, atol=1e-3)
    with bz2.open(region / "roads.osm.bz2") as a, bz2.open(COMMITTED / "roads.osm.bz2") as b:
        fresh_xml, committed_xml = a.read(), b.read()
    assert fresh_xml.count(b"<node ") == committed_xml.count(b"<node ")
    assert fresh_xml.count(b"<way ") == committed_xml.count(b"<way ")
    fresh, committed = (gpd.read_file(p / "sources.gpkg", layer="sources") for p in (region, COMMITTED))
    pd.testing.assert_frame_equal(fresh.drop(columns="geometry"), committed.drop(columns="geometry"))
    assert fresh.geometry.geom_equals_exact(committed.geometry, tolerance=1e-9).all()


def test_generation_is_deterministic(tmp_path: Path, region: Path) -> None:
    """Two generations with the same seed in one environment are byte-identical."""
    again = generate(tmp_path / "again", size="S")
    for name in FILES:
        assert (again / name).read_bytes() == (region / name).read_bytes(), name


def test_other_seed_differs_and_replaces_its_own_folder(tmp_path: Path, region: Path) -> None:
    out = tmp_path / "region"
    generate(out, size="S", seed=DEFAULT_SEED + 2)
    assert generate(out, size="S", seed=DEFAULT_SEED + 1) == out  # its own folder: replaced whole
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILES, "manifest.json"])
    assert [p.name for p in tmp_path.iterdir()] == ["region"]  # no temporary siblings left
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == DEFAULT_SEED + 1 and sorted(manifest["outputs"]) == sorted(FILES)
    assert not np.array_equal(_read(out / "landcover.tif")[0], _read(region / "landcover.tif")[0])
    assert (out / "firms.csv").read_bytes() != (region / "firms.csv").read_bytes()


@pytest.mark.parametrize("size", ["XXL", "s", "", None])
def test_bad_size_raises(tmp_path: Path, size: object) -> None:
    with pytest.raises(InputError, match="size must be one of"):
        generate(tmp_path / "x", size=size)  # type: ignore[arg-type]
    assert not (tmp_path / "x").exists()


def test_out_must_not_be_a_file(tmp_path: Path) -> None:
    target = tmp_path / "region"
    target.write_text("not a folder")
    with pytest.raises(OutputFolderError, match="existing file"):
        generate(target)
    assert target.read_text() == "not a folder"


def test_a_folder_with_user_files_is_refused_and_overwrite_keeps_them(tmp_path: Path) -> None:
    out = tmp_path / "region"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(
        OutputFolderError, match=r"holds 1 file\(s\) eicgeo did not write or that this run reads \(notes.txt\)"
    ):
        generate(out)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    generate(out, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILES, "manifest.json", "notes.txt"])


def test_scenario_keys(region: Path) -> None:
    text = (region / "scenario.toml").read_text()
    assert text.startswith("# eicgeo scenario for the synthetic peri-urban demo region")
    scenario = tomllib.loads(text)
    assert scenario["name"] == "peri_urban_demo"
    assert scenario["preset"] == "balanced"
    assert scenario["grid"] == {"crs": "auto", "resolution": 100}
    assert scenario["inputs"] == {
        "landcover": "landcover.tif",
        "legend": "esa_worldcover",
        "population": "population.tif",
        "roads": "roads.osm.bz2",
        "sources": "sources.gpkg",
        "firms": "firms.csv",
    }


# ---------------------------------------------------------------- population


def test_population_totals_and_consistency(region: Path) -> None:
    pop, meta = _read(region / "population.tif")
    lc, lc_meta = _read(region / "landcover.tif")
    total = float(pop.sum(dtype=np.float64))
    # expected: city ~1.23 M + five towns ~0.28 M + villages ~0.10 M + farms ~0.08 M = ~1.69 M
    assert 1.2e6 <= total <= 1.8e6
    assert total == pytest.approx(float(meta["tags"]["planned_total"]), rel=0.01)
    assert (pop >= 0).all()
    # land cover at each population cell centre: no people on water
    t_pop, t_lc = meta["profile"]["transform"], lc_meta["profile"]["transform"]
    rows, cols = np.indices(pop.shape)
    lon, lat = t_pop.c + (cols + 0.5) * t_pop.a, t_pop.f + (rows + 0.5) * t_pop.e
    under = lc[((lat - t_lc.f) / t_lc.e).astype(int), ((lon - t_lc.c) / t_lc.a).astype(int)]
    assert (pop[under == 80] == 0).all()
    # a dense core: >= 15,000 people per km2 on built-up land
    lat_c = np.radians(lat)
    area = (1 / 1200 * 111.32 * np.cos(lat_c)) * (1 / 1200 * 110.6)
    density = pop / area
    assert density.max() >= 15000
    assert under.flat[np.argmax(density)] == 50
    assert np.median(density[under == 50]) > 5 * np.median(density[under == 40])


# ---------------------------------------------------------------- roads


def test_roads_xml(region: Path) -> None:
    with bz2.open(region / "roads.osm.bz2") as f:
        root = ET.parse(f).getroot()
    assert root.tag == "osm"
    assert root.get("version") == "0.6"
    assert root.get("generator") == "eicgeo synth"
    assert root.find("bounds") is not None
    places = {n.get("id"): {t.get("k"): t.get("v") for t in n.iter("tag")} for n in root.iter("node") if len(n)}
    nodes = {n.get("id") for n in root.iter("node")} - set(places)
    assert 10_000 <= len(nodes) <= 40_000
    ways = list(root.iter("way"))
    tags = [{t.get("k"): t.get("v") for t in w.iter("tag")} for w in ways]
    refs = [nd.get("ref") for w in ways for nd in w.iter("nd")]
    assert set(refs) == nodes  # every road node is used, every reference resolves
    # the settlements are tagged nodes on no way, numbered after the road nodes
    assert Counter(t["place"] for t in places.values()) == {"city": 1, "town": 5, "village": 115}
    assert min(map(int, places)) == len(nodes) + 1
    assert all(t["name"] and int(t["population"]) >= 400 for t in places.values())
    classes = Counter(t["highway"] for t in tags)
    assert set(classes) >= HIGHWAYS
    assert classes["residential"] > classes["tertiary"] > classes["trunk"]
    assert any(t.get("oneway") == "yes" and t["highway"] == "motorway" for t in tags)
    assert any(t.get("oneway") == "yes" and t["highway"] == "motorway_link" for t in tags)
    assert any(t.get("oneway") == "yes" and t["highway"] == "residential" for t in tags)
    assert all(t.get("maxspeed") for t in tags if t["highway"] in ("motorway", "trunk"))
    assert any(t.get("maxspeed") for t in tags if t["highway"] == "primary")
    assert not any(t.get("maxspeed") for t in tags if t["highway"] in ("residential", "track"))
    assert all(t.get("ref") for t in tags if t["highway"] in ("motorway", "trunk"))
    assert any(t.get("bridge") == "yes" for t in tags)
    assert all(len(list(w.iter("nd"))) >= 2 for w in ways)


def test_roads_load_in_osmnx_and_are_connected(region: Path) -> None:
    graph = ox.graph_from_xml(region / "roads.osm.bz2", retain_all=True)

    def drivable(hw: str | list[str]) -> bool:  # simplified edges may merge several ways
        return any(h in DRIVABLE for h in ([hw] if isinstance(hw, str) else hw))

    drive = graph.edge_subgraph([(u, v, k) for u, v, k, hw in graph.edges(keys=True, data="highway") if drivable(hw)])
    largest = max(nx.strongly_connected_components(drive), key=len)
    assert len(largest) >= 0.95 * drive.number_of_nodes()
    assert drive.number_of_nodes() > 5000


# ---------------------------------------------------------------- firms and sources


def test_firms_table(region: Path, firms: pd.DataFrame) -> None:
    assert list(firms.columns) == [
        "firm_id",
        "name",
        "sector",
        "lon",
        "lat",
        "employees",
        "inputs",
        "outputs",
    ]
    assert 150 <= len(firms) <= 400
    assert firms.sector.nunique() >= 12
    assert set(firms.sector) <= SECTORS
    assert firms.firm_id.is_unique
    assert firms.firm_id.str.fullmatch(r"F\d{4}").all()
    assert pd.api.types.is_integer_dtype(firms.employees)
    assert (firms.employees > 0).all()
    with rasterio.open(region / "landcover.tif") as src:
        b = src.bounds
    assert firms.lon.between(b.left, b.right).all()
    assert firms.lat.between(b.bottom, b.top).all()
    for column in ("inputs", "outputs"):
        flows = firms[column].map(_flows)
        assert set().union(*flows) <= MATERIALS, column
        assert all(v > 0 for f in flows for v in f.values())
    assert (firms.outputs.map(_flows).map(len) > 0).all()


@pytest.mark.parametrize(("material", "producer", "users"), FLOWS)
def test_by_product_flows_have_a_partner_within_33_km(
    firms: pd.DataFrame, material: str, producer: str, users: set[str]
) -> None:
    prod = firms[(firms.sector == producer) & firms.outputs.map(lambda s: material in _flows(s))]
    use = firms[firms.sector.isin(users) & firms.inputs.map(lambda s: material in _flows(s))]
    assert len(prod)
    assert len(use)
    assert _km(prod[["lon", "lat"]].to_numpy(), use[["lon", "lat"]].to_numpy()).min() <= 33


def test_sources(region: Path) -> None:
    src = gpd.read_file(region / "sources.gpkg", layer="sources")
    assert src.crs.to_epsg() == 4326
    assert {"source_id", "name", "material", "tonnes_per_year"} <= set(src.columns)
    assert src.source_id.is_unique
    wanted = {
        "quarry_stone",
        "limestone",
        "clay",
        "sand",
        "timber",
        "rice_husk",
        "bagasse",
        "water",
    }
    assert wanted <= set(src.material) <= MATERIALS
    assert (src.tonnes_per_year > 0).all()
    kinds = src.groupby("material").geometry.agg(lambda g: set(g.geom_type))
    assert kinds["limestone"] == {"Polygon"}
    assert kinds["timber"] <= {"Polygon", "MultiPolygon"}
    assert kinds["rice_husk"] == {"Point"}
    with rasterio.open(region / "landcover.tif") as lc:
        b = lc.bounds
    x0, y0, x1, y1 = src.total_bounds
    assert b.left <= x0
    assert x1 <= b.right
    assert b.bottom <= y0
    assert y1 <= b.top
    tonnes = src.groupby("material").tonnes_per_year
    assert tonnes.min()["limestone"] >= 0.5e6
    assert tonnes.max()["rice_husk"] < 10e3


def test_real_example_files_ship_with_their_licences() -> None:
    """Notebook 05 reads these from the package, so it runs from a pip install."""
    from eicgeo.datasets import EXAMPLES, example_path

    tests_data = Path(__file__).resolve().parent / "data"
    readme = (example_path() / "README.md").read_text(encoding="utf-8")
    for name in EXAMPLES:
        assert example_path(name).read_bytes() == (tests_data / name).read_bytes()
        assert f"| `{name}` |" in readme
    assert "ODbL 1.0" in readme and "Copernicus Land Monitoring Service" in readme
    with rasterio.open(example_path("lausanne-clc2006-100m.tif")) as src:
        assert (src.crs.to_epsg(), round(src.res[0]), src.nodata) == (2056, 100, 255.0)
    with pytest.raises(InputError, match=r"unknown example file 'lausanne\.tif'; expected one of kotka"):
        example_path("lausanne.tif")
