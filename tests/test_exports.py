"""GIS exports: Cloud-Optimised GeoTIFFs, QGIS styles beside them, GeoPackage layers."""

from __future__ import annotations

import itertools
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
from affine import Affine

from eicgeo import constraints, io, maps, report
from eicgeo._errors import InputError
from eicgeo.fringe import FRINGE_CLASSES
from eicgeo.grid import Grid

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 16: 8, 17: 8, 18: 8}
_INT_FORMATS = {1: "B", 3: "H", 4: "I", 16: "Q"}


def tiff_layout(path: Path) -> tuple[bytes, list[dict]]:
    """The ghost header and, for each image file directory in file order, its offset, size,
    tiling and tile offsets: read with ``struct`` from the TIFF itself, not through GDAL."""
    data = path.read_bytes()
    order = {b"II": "<", b"MM": ">"}[data[:2]]
    magic = struct.unpack(order + "H", data[2:4])[0]
    big = magic == 43
    head, count_fmt, entry_size, off_fmt = (16, "Q", 20, "Q") if big else (8, "H", 12, "I")
    next_ifd = struct.unpack(order + off_fmt, data[8:16] if big else data[4:8])[0]
    ifds = []
    while next_ifd:
        count = struct.unpack_from(order + count_fmt, data, next_ifd)[0]
        start = next_ifd + struct.calcsize(count_fmt)
        tags = {}
        for i in range(count):
            tag, kind = struct.unpack_from(order + "HH", data, start + i * entry_size)
            n = struct.unpack_from(order + ("Q" if big else "I"), data, start + i * entry_size + 4)[0]
            if kind not in _INT_FORMATS:
                continue
            value_at = start + i * entry_size + (12 if big else 8)
            if n * _TYPE_SIZES[kind] > (8 if big else 4):
                value_at = struct.unpack_from(order + off_fmt, data, value_at)[0]
            tags[tag] = list(struct.unpack_from(order + _INT_FORMATS[kind] * n, data, value_at))
        ifds.append({"offset": next_ifd, "end": start + count * entry_size, "tags": tags})
        next_ifd = struct.unpack_from(order + off_fmt, data, start + count * entry_size)[0]
    return data[head : head + 400], ifds


def assert_cog(path: Path, *, n_overviews: int) -> None:
    """The checks of GDAL's COG validator, on the file's bytes."""
    ghost, ifds = tiff_layout(path)
    assert ghost.startswith(b"GDAL_STRUCTURAL_METADATA_SIZE=") and b"LAYOUT=IFDS_BEFORE_DATA" in ghost
    assert b"BLOCK_ORDER=ROW_MAJOR" in ghost
    assert len(ifds) == 1 + n_overviews
    sizes = [(d["tags"][256][0], d["tags"][257][0]) for d in ifds]
    assert sizes == sorted(sizes, reverse=True), "full resolution first, then smaller and smaller overviews"
    assert ifds[0]["tags"].get(254, [0]) == [0] and all(d["tags"][254] == [1] for d in ifds[1:])
    for d in ifds:
        assert 273 not in d["tags"], "tiled, not stripped"
        assert d["tags"][322] == [256] and d["tags"][323] == [256]
        assert d["tags"][259] == [8], "DEFLATE"
    tiles = [[o for o in d["tags"][324] if o] for d in ifds]
    assert max(d["end"] for d in ifds) < min(min(t) for t in tiles), "every IFD comes before the tile data"
    for larger, smaller in itertools.pairwise(tiles):
        assert min(larger) > max(smaller), "a smaller overview's tiles come before a larger one's"


def test_float_raster_is_a_cog_that_reads_back_equal(tmp_path):
    grid = Grid("EPSG:32647", Affine(100, 0, 600000, 0, -100, 1700000), (600, 700))
    values = np.random.default_rng(1).random(grid.shape).astype("float32")
    values[:3, :] = np.nan
    path = io.write_raster(grid.wrap(values, "s"), tmp_path / "s.tif", description="EIC suitability", units="0..1")
    assert_cog(path, n_overviews=2)  # 700 x 600 -> 350 x 300 -> 175 x 150 (one tile)
    with rasterio.open(path) as src:
        assert src.units == ("0..1",) and src.tags(1)["units"] == "0..1"
        assert src.descriptions == ("EIC suitability",) and np.isnan(src.nodata)
        np.testing.assert_array_equal(src.read(1), values)
    with rasterio.open(path, overview_level=0) as ovr:
        half = ovr.read(1)
    assert half.shape == (300, 350)
    # Overviews average: overview cell (2, 0) is the mean of full-resolution rows 4-5, columns 0-1;
    # overview row 0 covers rows 0-1, all NaN, and stays NaN.
    assert np.isnan(half[0]).all()
    assert half[2, 0] == pytest.approx(values[4:6, 0:2].mean(), rel=1e-5)


def test_class_raster_overviews_keep_class_codes(tmp_path):
    grid = Grid("EPSG:32647", Affine(100, 0, 600000, 0, -100, 1700000), (512, 512))
    codes = (np.indices(grid.shape).sum(axis=0) % 4).astype("uint8")  # 0..3 in diagonal stripes
    path = io.write_raster(grid.wrap(codes, "fringe"), tmp_path / "f.tif", units="class code")
    assert_cog(path, n_overviews=1)
    with rasterio.open(path) as src:
        assert src.nodata == 0 and src.dtypes[0] == "uint8" and src.crs.to_epsg() == 32647
        np.testing.assert_array_equal(src.read(1), codes)
    with rasterio.open(path, overview_level=0) as ovr:
        assert set(np.unique(ovr.read(1))) <= {0, 1, 2, 3}, "nearest, never a blend of codes"


@pytest.fixture(scope="module")
def saved(sample_result, tmp_path_factory):
    out = tmp_path_factory.mktemp("exports") / "out"
    sample_result.save(out, offline=True)
    return sample_result, out


def test_sample_rasters_are_cogs_equal_to_the_result(saved):
    result, out = saved
    for name, layer in (("suitability", result.suitability), ("fringe", result.fringe), ("excluded", result.excluded)):
        path = out / f"{name}.tif"
        assert_cog(path, n_overviews=1)  # 488 x 485 -> 244 x 243
        with rasterio.open(path) as src:
            assert src.crs.to_epsg() == 32647 and src.transform == result.grid.transform
            assert src.units[0] in ("0..1", "class code") and src.descriptions[0]
            # Outside the land cover's data each layer holds its nodata (NaN, 255, 0).
            expected = np.where(report.no_data(result), src.nodata, layer.values).astype(src.dtypes[0])
            np.testing.assert_array_equal(src.read(1), expected)


def _qml(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == "qgis"
    return root.find("pipe/rasterrenderer")


def test_each_raster_has_a_qgis_style_beside_it(saved):
    result, out = saved
    suitability = _qml(out / "suitability.qml")
    assert suitability.get("type") == "singlebandpseudocolor" and suitability.get("band") == "1"
    shader = suitability.find("rastershader/colorrampshader")
    assert shader.get("colorRampType") == "INTERPOLATED"
    items = [(float(i.get("value")), i.get("color")) for i in shader.findall("item")]
    assert [v for v, _ in items] == pytest.approx(np.linspace(0, 1, 11))
    assert items[0][1] == "#440154" and items[-1][1] == "#fde725", "viridis, as in map.html"

    fringe = _qml(out / "fringe.qml")
    assert fringe.get("type") == "paletted"
    entries = {int(e.get("value")): e.get("label") for e in fringe.findall("colorPalette/paletteEntry")}
    assert entries == {1: "rural", 2: "peri-urban fringe", 3: "urban"} == {k: FRINGE_CLASSES[k] for k in (1, 2, 3)}

    excluded = _qml(out / "excluded.qml")
    entries = {int(e.get("value")): e.get("label") for e in excluded.findall("colorPalette/paletteEntry")}
    # The reasons the file holds, and no other: the sample's no-data cells are nodata (255) there.
    assert entries == {0: "allowed", 2: "water", 3: "wetland", 4: "built-up land"}
    for name in result.criteria.data_vars:
        qml = out / "criteria" / (name.replace(":", "-") + ".qml")
        assert _qml(qml).get("type") == "singlebandpseudocolor", qml.name
    assert (out / "degurba.qml").is_file() and (out / "green_space.qml").is_file()


def test_the_excluded_style_is_built_from_the_reason_table_at_write_time(monkeypatch):
    monkeypatch.setitem(constraints.EXCLUSION_REASONS, 9, "steep land")
    monkeypatch.setitem(constraints.EXCLUSION_REASONS, 21, "user constraint: flood zone")
    root = ET.fromstring(maps.qgis_style("excluded").split("\n", 1)[1])
    entries = root.findall("pipe/rasterrenderer/colorPalette/paletteEntry")
    labels = {int(e.get("value")): e.get("label") for e in entries}
    assert labels[9] == "steep land" and labels[21] == "user constraint: flood zone"
    assert labels == constraints.EXCLUSION_REASONS
    assert len({e.get("color") for e in entries}) == len(entries), "one colour per reason"


def test_unknown_style_kind_is_a_clear_error():
    with pytest.raises(InputError, match=r"qgis_style kind 'suitabilty' is not one of .*did you mean 'suitability'"):
        maps.qgis_style("suitabilty")


def test_geopackages_have_a_layer_per_table_and_round_trip(saved):
    result, out = saved
    assert [name for name, _ in pyogrio.list_layers(out / "zones.gpkg")] == ["zones", "places", "layer_styles"]
    layers = [name for name, _ in pyogrio.list_layers(out / "firms.gpkg") if name != "layer_styles"]
    assert layers[:4] == ["firms", "links", "sources", "clusters"]
    tables = {("zones.gpkg", "zones"): result.zones, ("zones.gpkg", "places"): result.places}
    tables.update({("firms.gpkg", name): getattr(result, name) for name in layers})
    for (file, layer), table in tables.items():
        back = gpd.read_file(out / file, layer=layer)
        assert back.crs == table.crs and back.crs.to_epsg() == 32647, layer
        assert set(back.columns) == set(table.columns), layer
        assert len(back) == len(table) > 0, layer
        columns = [c for c in table.columns if c != "geometry"]
        pd.testing.assert_frame_equal(
            pd.DataFrame(back[columns]), pd.DataFrame(table[columns]).reset_index(drop=True), check_dtype=False
        )
        # Mixed Polygon / MultiPolygon layers are written as MultiPolygon: same shapes, same area.
        assert back.geometry.geom_equals(table.geometry.reset_index(drop=True)).all(), layer


def test_an_empty_table_keeps_its_columns_and_crs(tmp_path):
    empty = gpd.GeoDataFrame(
        {"from_firm": pd.Series(dtype=str), "tonnes": pd.Series(dtype=float)}, geometry=[], crs="EPSG:32647"
    )
    path = io.write_gpkg(tmp_path / "f.gpkg", {"links": empty})
    back = gpd.read_file(path, layer="links")
    assert list(back.columns) == ["from_firm", "tonnes", "geometry"] and back.crs.to_epsg() == 32647 and back.empty
