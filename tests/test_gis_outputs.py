"""The output folder as a GIS officer opens it: every raster and layer of real runs on the sample
region, read back from the files, for nodata, types and styles (issue 17, GIS layers)."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio
from affine import Affine

import eicgeo
from eicgeo import io, report
from eicgeo._errors import InputError
from eicgeo.grid import Grid

#: The nodata of each class raster: 255 where 0 is a class ("allowed", "other").
CLASS_NODATA = {"excluded": 255, "green_space": 255, "fringe": 0, "degurba": 0}
#: The columns of the table QGIS creates for the styles of a GeoPackage's layers.
QGIS_LAYER_STYLES = [
    "id",
    "f_table_catalog",
    "f_table_schema",
    "f_table_name",
    "f_geometry_column",
    "styleName",
    "styleQML",
    "styleSLD",
    "useAsDefault",
    "description",
    "owner",
    "ui",
    "update_time",
]


@pytest.fixture(scope="module")
def saved(sample_result, tmp_path_factory):
    out = tmp_path_factory.mktemp("gis") / "out"
    sample_result.save(out, offline=True)
    return sample_result, out


@pytest.fixture(scope="module")
def environmental(tmp_path_factory):
    """The sample under the environmental preset, which weighs symbiosis_potential, on 500 m cells,
    with residual green space excluded."""
    out = tmp_path_factory.mktemp("gis_env") / "out"
    scenario = eicgeo.load_sample().replace(
        preset="environmental", resolution=500, without=["roads"], constraints={"protect_green_space": True}
    )
    result = eicgeo.run(scenario, out=out, progress=False, offline=True)
    return result, out


@pytest.fixture(scope="module")
def empty(tmp_path_factory):
    """The sample without firms and sources: empty firms, links, sources, clusters, unmatched."""
    out = tmp_path_factory.mktemp("gis_empty") / "out"
    scenario = eicgeo.load_sample().replace(resolution=1000, without=["firms", "sources"])
    result = eicgeo.run(scenario, out=out, progress=False, offline=True)
    return result, out


def _outside(result) -> np.ndarray:
    """The land cover's no-data cells, from the land cover read onto the grid."""
    return np.asarray(result.layers["landcover_class"].values) == 0


def _read(path: Path) -> tuple[np.ndarray, rasterio.profiles.Profile]:
    with rasterio.open(path) as src:
        return src.read(1), src.profile


def _qml(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == "qgis", path.name
    return root


def _palette(path: Path) -> list[ET.Element]:
    renderer = _qml(path).find("pipe/rasterrenderer")
    assert renderer.get("type") == "paletted", path.name
    return renderer.findall("colorPalette/paletteEntry")


def _layers(path: Path) -> list[str]:
    return [name for name, _ in pyogrio.list_layers(path) if name != "layer_styles"]


def test_the_sample_has_a_no_data_area(saved):
    result, _ = saved
    assert int(_outside(result).sum()) == 3548, "the corner of the sample's land cover outside its data"


def test_class_rasters_have_a_nodata_that_is_never_data(saved):
    result, out = saved
    outside = _outside(result)
    for name, nodata in CLASS_NODATA.items():
        values, profile = _read(out / f"{name}.tif")
        assert profile["dtype"] == "uint8" and profile["nodata"] == nodata, name
        assert (values[outside] == nodata).all(), f"{name}: nodata outside the land cover's data"
        if nodata == 255:
            assert not (values[~outside] == 255).any(), f"{name}: 255 is never a class"
            assert (values[~outside] == 0).sum() > 0, f"{name}: 0 is a class inside the data"
    excluded, _ = _read(out / "excluded.tif")
    np.testing.assert_array_equal(excluded[~outside], np.asarray(result.excluded.values)[~outside])
    assert set(np.unique(excluded).tolist()) == {0, 2, 3, 4, 255}
    green, _ = _read(out / "green_space.tif")
    assert set(np.unique(green).tolist()) == {0, 1, 255}
    fringe, _ = _read(out / "fringe.tif")
    assert np.array_equal(fringe == 0, outside), "fringe: 0 is nodata and only that"
    degurba, _ = _read(out / "degurba.tif")
    assert np.asarray(result.degurba.values)[outside].any(), "the population grid reaches past the land cover"
    assert (degurba[outside] == 0).all()


def test_float_rasters_share_the_land_cover_nan_mask(saved):
    result, out = saved
    outside = _outside(result)
    criteria = sorted((out / "criteria").glob("*.tif"))
    assert len(criteria) == len(result.criteria.data_vars) == 12
    for path in criteria:
        values, profile = _read(path)
        assert profile["dtype"] == "float32" and np.isnan(profile["nodata"]), path.name
        np.testing.assert_array_equal(np.isnan(values), outside, err_msg=path.name)
    suitability, profile = _read(out / "suitability.tif")
    excluded, _ = _read(out / "excluded.tif")
    assert profile["dtype"] == "float32" and np.isnan(profile["nodata"])
    # NaN outside the land cover's data, and on excluded land: nowhere else.
    np.testing.assert_array_equal(np.isnan(suitability), outside | (excluded != 0))
    for name, layer in result.layers.data_vars.items():
        if layer.dtype.kind == "f":
            assert np.isnan(np.asarray(layer.values)[outside]).all(), name


def test_symbiosis_potential_is_nodata_outside_the_land_cover(environmental):
    result, out = environmental
    assert "symbiosis_potential" in result.weights
    outside = _outside(result)
    assert outside.sum() > 0
    # The kernel runs over the whole grid: the raw layer is masked as the criteria are.
    assert np.isnan(np.asarray(result.layers["symbiosis_potential"].values)[outside]).all()
    values, _ = _read(out / "criteria" / "symbiosis_potential.tif")
    np.testing.assert_array_equal(np.isnan(values), outside)
    assert float(np.nanmax(values)) == pytest.approx(1.0) and float(np.nanmin(values)) >= 0
    for path in (out / "criteria").glob("*.tif"):
        np.testing.assert_array_equal(np.isnan(_read(path)[0]), outside, err_msg=path.name)


def test_every_raster_has_a_parseable_style_beside_it(saved):
    _, out = saved
    rasters = sorted(out.rglob("*.tif"))
    assert len(rasters) == 5 + 12
    for path in rasters:
        root = _qml(path.with_suffix(".qml"))
        assert root.find("pipe/rasterrenderer").get("band") == "1", path.name


def test_class_styles_list_exactly_the_classes_present_in_distinct_colours(saved):
    _, out = saved
    for name, nodata in CLASS_NODATA.items():
        values, _ = _read(out / f"{name}.tif")
        present = set(np.unique(values).tolist()) - {nodata}
        entries = _palette(out / f"{name}.qml")
        assert {int(e.get("value")) for e in entries} == present, name
        colours = [e.get("color") for e in entries]
        labels = [e.get("label") for e in entries]
        assert len(set(colours)) == len(colours) and len(set(labels)) == len(labels) and all(labels), name
    excluded = {
        int(e.get("value")): (e.get("label"), e.get("color"), e.get("alpha")) for e in _palette(out / "excluded.qml")
    }
    assert excluded == {
        0: ("allowed", "#ffffff", "0"),
        2: ("water", "#0072b2", "255"),
        3: ("wetland", "#56b4e9", "255"),
        4: ("built-up land", "#000000", "255"),
    }
    green = {int(e.get("value")): (e.get("label"), e.get("color")) for e in _palette(out / "green_space.qml")}
    assert green == {0: ("other", "#ffffff"), 1: ("residual green space", "#009e73")}
    fringe = {int(e.get("value")): e.get("label") for e in _palette(out / "fringe.qml")}
    assert fringe == {1: "rural", 2: "peri-urban fringe", 3: "urban"}
    degurba = {int(e.get("value")): e.get("label") for e in _palette(out / "degurba.qml")}
    assert degurba[10] == "water" and degurba[30] == "urban centre" and 22 not in degurba


def test_residual_green_space_is_not_blue_when_it_is_excluded(environmental):
    result, out = environmental
    assert (np.asarray(result.excluded.values) == 9).any(), "protect_green_space excludes it"
    entries = {int(e.get("value")): e.get("color") for e in _palette(out / "excluded.qml")}
    assert entries[9] == "#d55e00" and entries[2] == "#0072b2", "vermillion green space, blue water"
    assert len(set(entries.values())) == len(entries)


def _layer_styles(path: Path) -> dict[str, tuple]:
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(layer_styles)")]
        assert columns == QGIS_LAYER_STYLES, path.name
        kind = db.execute("SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchone()
        assert kind == ("attributes",), "registered, so that GDAL and QGIS list it"
        rows = db.execute(
            "SELECT f_table_name, f_geometry_column, styleName, styleQML, useAsDefault FROM layer_styles"
        ).fetchall()
    names = [row[0] for row in rows]
    assert len(names) == len(set(names)), "one default style per layer"
    return {row[0]: row[1:] for row in rows}


def test_every_geopackage_layer_has_a_default_style_in_layer_styles_and_beside_it(saved):
    _, out = saved
    layers = {"zones.gpkg": ["zones", "places"], "firms.gpkg": ["firms", "links", "sources", "clusters", "unmatched"]}
    for file, names in layers.items():
        assert _layers(out / file) == names
        styles = _layer_styles(out / file)
        assert sorted(styles) == sorted(names)
        for name in names:
            column, style_name, qml, default = styles[name]
            assert column == pyogrio.read_info(out / file, layer=name)["geometry_name"] == "geom"
            assert style_name == name and default == 1, name
            assert qml == (out / f"{name}.qml").read_text(encoding="utf-8"), f"{name}.qml is the same style"
            root = ET.fromstring(qml.split("\n", 1)[1])
            assert root.tag == "qgis" and root.find("renderer-v2") is not None, name


def _categories(path: Path) -> tuple[ET.Element, dict[str, str]]:
    """The renderer and each category's value with its symbol's colour."""
    renderer = _qml(path).find("renderer-v2")
    symbols = {s.get("name"): s for s in renderer.findall("symbols/symbol")}
    colours = {}
    for category in renderer.findall("categories/category"):
        options = symbols[category.get("symbol")].find("layer/Option")
        values = {o.get("name"): o.get("value") for o in options}
        colours[category.get("value")] = values.get("color") or values.get("line_color")
    return renderer, colours


def test_vector_styles_categorise_the_values_of_each_layer(saved):
    result, out = saved
    zones, colours = _categories(out / "zones.qml")
    assert zones.get("type") == "categorizedSymbol" and zones.get("attr") == "rank"
    assert sorted(colours, key=int) == [str(r) for r in sorted(result.zones["rank"])]
    assert len(set(colours.values())) == len(colours) == 20
    assert zones.find("symbols/symbol").get("type") == "fill"
    firms, colours = _categories(out / "firms.qml")
    assert firms.get("attr") == "sector" and set(colours) == set(result.firms["sector"])
    assert len(set(colours.values())) == len(colours)
    links, colours = _categories(out / "links.qml")
    assert links.get("attr") == "material" and set(colours) == set(result.links["material"])
    assert len(set(colours.values())) == len(colours) and links.find("symbols/symbol").get("type") == "line"
    width = links.find(".//data_defined_properties//Option[@name='outlineWidth']")
    expression = {o.get("name"): o.get("value") for o in width}
    assert expression["active"] == "true" and '"tonnes"' in expression["expression"]
    assert f"{result.links['tonnes'].max():.6g}" in expression["expression"]
    sources, source_colours = _categories(out / "sources.qml")
    assert sources.get("attr") == "material" and set(source_colours) == set(result.sources["material"])
    shared = set(source_colours) & set(colours)
    rgb = {m: c.rsplit(",", 1)[0] for m, c in colours.items()}  # links are drawn a little transparent
    assert shared and all(source_colours[m].rsplit(",", 1)[0] == rgb[m] for m in shared), "a material looks alike"
    clusters = _qml(out / "clusters.qml").find("renderer-v2")
    assert clusters.get("type") == "singleSymbol"


def test_layers_with_rows_declare_their_geometry_type(saved):
    _, out = saved
    types = {
        name: pyogrio.read_info(out / file, layer=name)["geometry_type"]
        for file in ("zones.gpkg", "firms.gpkg")
        for name in _layers(out / file)
    }
    # Zones mix Polygon and MultiPolygon: declared MultiPolygon. The sample's sources are points
    # and quarry polygons: GDAL declares what it finds.
    assert types == {
        "zones": "MultiPolygon",
        "firms": "Point",
        "links": "LineString",
        "sources": "Unknown",
        "clusters": "Polygon",
        "unmatched": "Point",
        "places": "Point",
    }


def test_empty_layers_keep_their_geometry_type_and_column_types(empty):
    result, out = empty
    assert len(result.firms) == len(result.links) == len(result.sources) == 0
    expected_types = {"str": "object", "float64": "float64", "int64": "int64", "bool": "bool"}
    for name in _layers(out / "firms.gpkg"):
        info = pyogrio.read_info(out / "firms.gpkg", layer=name)
        geometry, columns = report.LAYER_SCHEMAS[name]
        assert info["features"] == 0 and info["geometry_type"] == geometry, name
        found = dict(zip(info["fields"], info["dtypes"], strict=True))
        assert found == {c: expected_types[t] for c, t in columns.items()}, name
    sources = pyogrio.read_info(out / "firms.gpkg", layer="sources")
    assert sources["geometry_type"] == "Point" and dict(zip(sources["fields"], sources["dtypes"], strict=True)) == {
        "material": "object",
        "tonnes_per_year": "float64",
    }
    styles = _layer_styles(out / "firms.gpkg")
    assert sorted(styles) == sorted(_layers(out / "firms.gpkg"))
    for name in _layers(out / "firms.gpkg"):
        assert _qml(out / f"{name}.qml").find("renderer-v2").get("type") == "singleSymbol", name
    assert pyogrio.read_info(out / "zones.gpkg", layer="zones")["geometry_type"] == "MultiPolygon"


def test_a_nodata_that_is_a_class_code_is_refused(tmp_path):
    grid = Grid("EPSG:32647", Affine(100, 0, 600000, 0, -100, 1700000), (4, 4))
    codes = grid.wrap(np.array([[0, 1, 2, 255]] * 4, dtype="uint8"), "classes")
    with pytest.raises(InputError, match=r"nodata 255 is a class code of layer 'classes'"):
        io.write_raster(codes, tmp_path / "c.tif", nodata=255)
    with pytest.raises(InputError, match=r"nodata 256 does not fit uint8"):
        io.write_raster(codes, tmp_path / "c.tif", nodata=256)
    outside = np.zeros((4, 4), bool)
    outside[0] = True
    path = io.write_raster(codes.where(codes < 255, 3).astype("uint8"), tmp_path / "c.tif", nodata=255, outside=outside)
    values, profile = _read(path)
    assert profile["nodata"] == 255 and values[0].tolist() == [255] * 4 and values[1].tolist() == [0, 1, 2, 3]


#: Opens the output folder in QGIS (Debian's python3-qgis, outside the venv) and prints, for each
#: layer, the renderer QGIS applied by itself and its classes.
_PYQGIS = r"""
import json, os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from qgis.core import QgsApplication, QgsRasterLayer, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
out = sys.argv[1]
seen = {}
for name in ("excluded", "green_space", "fringe", "degurba", "suitability"):
    layer = QgsRasterLayer(os.path.join(out, name + ".tif"), name)
    renderer = layer.renderer()
    classes = [c.value for c in renderer.classes()] if renderer.type() == "paletted" else []
    seen[name] = [renderer.type(), classes, layer.dataProvider().sourceNoDataValue(1)]
layers = ["firms", "links", "sources|geometrytype=Point", "clusters", "unmatched"]
for file, names in (("zones.gpkg", ["zones", "places"]), ("firms.gpkg", layers)):
    for name in names:
        layer = QgsVectorLayer(os.path.join(out, file) + "|layername=" + name, name, "ogr")
        name = name.split("|")[0]
        renderer = layer.renderer()
        attr = renderer.classAttribute() if renderer.type() == "categorizedSymbol" else ""
        values = [str(c.value()) for c in renderer.categories()] if attr else []
        seen[name] = [renderer.type(), attr, values, layer.isValid()]
print(json.dumps(seen), flush=True)
os._exit(0)  # QGIS 3.22 can crash in its own teardown, after the answer
"""


def _system_pyqgis() -> str | None:
    import shutil
    import subprocess

    python = shutil.which("python3", path="/usr/bin")
    if python is None:
        return None
    found = subprocess.run([python, "-c", "import qgis.core"], capture_output=True, check=False)
    return python if found.returncode == 0 else None


@pytest.mark.skipif(_system_pyqgis() is None, reason="QGIS (Debian's python3-qgis) is not installed")
def test_qgis_opens_every_layer_styled_by_itself(saved):
    import json
    import subprocess

    result, out = saved
    run = subprocess.run(
        [_system_pyqgis(), "-c", _PYQGIS, str(out)], capture_output=True, text=True, check=True, timeout=300
    )
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["excluded"] == ["paletted", [0, 2, 3, 4], 255.0]
    assert seen["green_space"] == ["paletted", [0, 1], 255.0]
    assert seen["fringe"] == ["paletted", [1, 2, 3], 0.0]
    assert seen["suitability"][0] == "singlebandpseudocolor"
    # QGIS loads each layer's default style from the GeoPackage's layer_styles by itself.
    assert seen["zones"] == ["categorizedSymbol", "rank", [str(r) for r in sorted(result.zones["rank"])], True]
    assert seen["firms"][:2] == ["categorizedSymbol", "sector"]
    assert sorted(seen["firms"][2]) == sorted(set(result.firms["sector"]))
    assert seen["links"][:2] == ["categorizedSymbol", "material"]
    # The sample's sources mix points and polygons: QGIS opens them as one sublayer per type, and
    # the point sublayer takes the style.
    assert seen["sources"][:2] == ["categorizedSymbol", "material"]
    assert seen["clusters"][0] == "singleSymbol" and all(v[-1] for v in seen.values() if len(v) == 4)
    assert seen["places"][:2] == ["categorizedSymbol", "place"]
    assert sorted(seen["places"][2]) == sorted(set(result.places["place"]))


def _raster_threads() -> list[str]:
    import threading

    return [t.name for t in threading.enumerate() if t.name.startswith("eicgeo-rasters")]


def test_a_failure_while_drawing_stops_the_geotiffs_and_leaves_no_part_written(sample_result, tmp_path):
    """The GeoTIFFs are written on a thread of their own while the maps are drawn: when drawing
    fails, write_outputs raises its error only once that thread is done, with no file half written
    and nothing written after it returns."""
    import time

    folder = tmp_path / "out"
    (folder / "map.html").mkdir(parents=True)  # the interactive map cannot be saved
    with pytest.raises(IsADirectoryError):
        report.write_outputs(sample_result, folder)
    assert _raster_threads() == []
    listing = sorted((p.relative_to(folder).as_posix(), p.stat().st_size) for p in folder.rglob("*") if p.is_file())
    time.sleep(0.5)
    assert sorted((p.relative_to(folder).as_posix(), p.stat().st_size) for p in folder.rglob("*") if p.is_file()) == (
        listing
    )
    assert not [name for name, _ in listing if name.rsplit("/", 1)[-1].startswith(".")], "no temporary file left"
    for name, _ in listing:
        if name.endswith(".tif"):
            with rasterio.open(folder / name) as src:
                assert src.read(1).shape == sample_result.grid.shape, name


def test_a_geotiff_that_fails_fails_write_outputs(sample_result, tmp_path):
    """An error writing a GeoTIFF on its thread is write_outputs' error, after the other files."""
    import dataclasses

    codes = sample_result.excluded.copy()
    codes.values[0, 0] = 255  # the excluded layer's nodata, as a class code
    broken = dataclasses.replace(sample_result, excluded=codes)
    with pytest.raises(InputError, match=r"nodata 255 is a class code of layer"):
        report.write_outputs(broken, tmp_path / "out")
    assert _raster_threads() == []
    assert (tmp_path / "out" / "report.pdf").exists() and (tmp_path / "out" / "suitability.tif").exists()
    assert not (tmp_path / "out" / "excluded.tif").exists()
