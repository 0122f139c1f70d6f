from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from shapely.geometry import Point

from eicgeo import Grid, io
from eicgeo._errors import CRSError, InputError, InputFileNotFoundError, MaterialError


def _write_tif(path, array, transform, crs="EPSG:32647", nodata=None):
    profile = {
        "driver": "GTiff",
        "height": array.shape[0],
        "width": array.shape[1],
        "count": 1,
        "dtype": array.dtype,
        "transform": transform,
        "nodata": nodata,
    }
    if crs is not None:
        profile["crs"] = CRS.from_user_input(crs)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array, 1)
    return path


# ---------------------------------------------------------------------------- rasters in
def test_categorical_same_grid_is_identical(tmp_path):
    codes = np.array([[10, 40, 40], [50, 80, 0]], dtype="uint8")
    path = _write_tif(tmp_path / "lc.tif", codes, Affine(100, 0, 0, 0, -100, 200), nodata=0)
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 200), (2, 3))
    layer = io.read_raster(path, grid, kind="categorical")
    assert layer.dtype == np.uint8
    np.testing.assert_array_equal(layer.values, codes)
    assert layer.name == "lc"


def test_categorical_nearest_to_coarser_grid(tmp_path):
    # 4x4 cells of 50 m, each 2x2 block one class; on a 100 m grid nearest keeps each block's class.
    codes = np.kron(np.array([[10, 40], [50, 80]], dtype="uint8"), np.ones((2, 2), dtype="uint8"))
    path = _write_tif(tmp_path / "lc.tif", codes, Affine(50, 0, 0, 0, -50, 200), nodata=0)
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 200), (2, 2))
    np.testing.assert_array_equal(io.read_raster(path, grid, kind="categorical").values, [[10, 40], [50, 80]])


def test_quantity_sums_into_coarser_cells(tmp_path):
    # One person per 10 m cell: a 100 m cell holds exactly 100 people.
    people = np.ones((20, 20), dtype="float32")
    path = _write_tif(tmp_path / "pop.tif", people, Affine(10, 0, 0, 0, -10, 200), nodata=-99999)
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 200), (2, 2))
    layer = io.read_raster(path, grid, kind="quantity")
    np.testing.assert_allclose(layer.values, 100.0, rtol=1e-5)
    assert layer.dtype == np.float32


def test_quantity_splits_into_finer_cells(tmp_path):
    people = np.array([[400.0]], dtype="float32")
    path = _write_tif(tmp_path / "pop.tif", people, Affine(200, 0, 0, 0, -200, 200), nodata=-99999)
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 200), (2, 2))
    np.testing.assert_allclose(io.read_raster(path, grid, kind="quantity").values, 100.0, rtol=1e-5)


def test_quantity_from_geographic_keeps_the_total(tmp_path):
    # 3-arcsecond cells (like WorldPop) near 14.8 N warped onto a 100 m UTM grid.
    rng = np.random.default_rng(1)
    people = rng.uniform(0, 50, size=(240, 240)).astype("float32")
    res = 1 / 1200
    transform = Affine(res, 0, 100.4, 0, -res, 14.9)
    path = _write_tif(tmp_path / "pop.tif", people, transform, crs="EPSG:4326", nodata=-99999)
    inner = (100.4 + 20 * res, 14.9 - 220 * res, 100.4 + 220 * res, 14.9 - 20 * res)
    grid = Grid.from_bounds(inner, 100)
    layer = io.read_raster(path, grid, kind="quantity")
    # People inside the grid footprint, from the source cells whose centres fall inside it.
    west, south, east, north = grid.lonlat_bounds
    cols = 100.4 + (np.arange(240) + 0.5) * res
    rows = 14.9 - (np.arange(240) + 0.5) * res
    # The UTM footprint is not a lon/lat rectangle, so compare against the cells wholly inside.
    expected = people[
        np.ix_((rows > south + 2 * res) & (rows < north - 2 * res), (cols > west + 2 * res) & (cols < east - 2 * res))
    ].sum()
    assert np.nansum(layer.values) == pytest.approx(expected, rel=0.03)


def test_nodata_becomes_nan_and_zero(tmp_path):
    values = np.array([[1.0, -99999.0]], dtype="float32")
    path = _write_tif(tmp_path / "v.tif", values, Affine(100, 0, 0, 0, -100, 100), nodata=-99999)
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 100), (1, 2))
    out = io.read_raster(path, grid, kind="continuous").values
    assert out[0, 0] == pytest.approx(1.0) and np.isnan(out[0, 1])


def test_raster_errors(tmp_path):
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 100), (1, 1))
    with pytest.raises(InputFileNotFoundError, match="landcover file '.*missing.tif' does not exist"):
        io.read_raster(tmp_path / "missing.tif", grid, what="landcover")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="unsupported extension; expected one of .tif"):
        io.read_raster(tmp_path / "notes.txt", grid)
    (tmp_path / "broken.tif").write_bytes(b"not a tiff at all")
    with pytest.raises(InputError, match="broken.tif' cannot be read as a raster"):
        io.read_raster(tmp_path / "broken.tif", grid)
    nocrs = _write_tif(tmp_path / "nocrs.tif", np.ones((2, 2), "uint8"), Affine(100, 0, 0, 0, -100, 100), crs=None)
    with pytest.raises(CRSError, match="nocrs.tif' has no CRS"):
        io.read_raster(nocrs, grid)
    far = _write_tif(tmp_path / "far.tif", np.ones((2, 2), "uint8"), Affine(100, 0, 5e5, 0, -100, 5e5))
    with pytest.raises(InputError, match="does not overlap the analysis grid"):
        io.read_raster(far, grid)
    with pytest.raises(InputError, match="kind 'classes' is not one of"):
        io.read_raster(far, grid, kind="classes")


# ---------------------------------------------------------------------------- vectors in
FIRMS_CSV = """firm_id,name,sector,lon,lat,employees,inputs,outputs
F1,Husk Power,biomass_power,100.45,14.80,40,rice_husk:12000,electricity:9000;rice_husk_ash:2000
F2,Golden Rice,rice_mill,100.50,14.85,25,paddy:60000,rice_husk:12000;rice_bran:4800
"""


def test_read_firms_csv(tmp_path):
    path = tmp_path / "firms.csv"
    path.write_text(FIRMS_CSV)
    firms = io.read_firms(path)
    assert firms.crs.to_epsg() == 4326
    assert firms["firm_id"].tolist() == ["F1", "F2"]
    assert firms.geometry.iloc[1].x == pytest.approx(100.50)
    assert io.read_firms(path, crs="EPSG:32647").crs.to_epsg() == 32647


@pytest.mark.parametrize(
    ("edit", "error", "match"),
    [
        (lambda t: t.replace(",outputs", ",produces"), InputError, "missing column\\(s\\) outputs"),
        (lambda t: t.replace("F2,", "F1,"), InputError, "row 3: firm_id 'F1' is used more than once"),
        (
            lambda t: t.replace("rice_husk:12000,", "rice_husk=12000,"),
            MaterialError,
            "row 2 \\(firm_id 'F1'\\) inputs: item 'rice_husk=12000' is not 'material:tonnes'",
        ),
        (lambda t: t.replace("paddy:60000", "paddy:-5"), MaterialError, "row 3 .* must be a number >= 0"),
        (lambda t: t.replace("paddy:60000", "paddy:lots"), MaterialError, "amount 'lots' for 'paddy' is not a number"),
        (lambda t: t.replace("rice_bran:4800", "ricebran:4800"), MaterialError, "did you mean 'rice_bran'"),
        (lambda t: t.replace("100.50,14.85", "200.5,14.85"), InputError, "row 3 .* not valid WGS 84 degrees"),
    ],
)
def test_read_firms_errors_name_the_row(tmp_path, edit, error, match):
    path = tmp_path / "firms.csv"
    path.write_text(edit(FIRMS_CSV))
    with pytest.raises(error, match=match):
        io.read_firms(path)


def test_read_firms_empty_register(tmp_path):
    path = tmp_path / "firms.csv"
    path.write_text(FIRMS_CSV.splitlines()[0] + "\n")
    with pytest.raises(InputError, match="has no firms"):
        io.read_firms(path)


def test_read_sources(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"material": ["clay", "quarry_stone"], "tonnes_per_year": [1000.0, 5e5]},
        geometry=[Point(100.4, 14.8), Point(100.5, 14.9)],
        crs=4326,
    )
    gdf.to_file(tmp_path / "s.gpkg")
    out = io.read_sources(tmp_path / "s.gpkg", crs="EPSG:32647")
    assert out.crs.to_epsg() == 32647 and out["tonnes_per_year"].tolist() == [1000.0, 5e5]
    gdf.assign(material=["clay", "quarystone"]).to_file(tmp_path / "bad.gpkg")
    with pytest.raises(MaterialError, match="feature 2: material 'quarystone' is not a known material .*quarry_stone"):
        io.read_sources(tmp_path / "bad.gpkg")
    gdf.assign(tonnes_per_year=[-1.0, 2.0]).to_file(tmp_path / "neg.gpkg")
    with pytest.raises(InputError, match="feature 1: tonnes_per_year '-1.0' is not a number >= 0"):
        io.read_sources(tmp_path / "neg.gpkg")
    gdf.drop(columns="material").to_file(tmp_path / "nomat.gpkg")
    with pytest.raises(InputError, match="missing column\\(s\\) material"):
        io.read_sources(tmp_path / "nomat.gpkg")


def test_read_vector_errors(tmp_path):
    (tmp_path / "bad.gpkg").write_bytes(b"garbage")
    with pytest.raises(InputError, match="bad.gpkg' cannot be read as a vector layer"):
        io.read_vector(tmp_path / "bad.gpkg", what="sources")
    gpd.GeoDataFrame({"a": [1]}, geometry=[Point(0, 0)]).to_file(tmp_path / "nocrs.shp")
    with pytest.raises(CRSError, match="nocrs.shp' has no CRS"):
        io.read_vector(tmp_path / "nocrs.shp", what="sources")


# ---------------------------------------------------------------------------- outputs
def test_write_raster_is_a_valid_cog_and_reads_back_equal(tmp_path):
    grid = Grid("EPSG:32647", Affine(100, 0, 600000, 0, -100, 1700000), (600, 700))
    values = np.random.default_rng(0).random(grid.shape).astype("float32")
    values[0, :10] = np.nan
    layer = grid.wrap(values, "suitability")
    path = io.write_raster(layer, tmp_path / "s.tif", description="EIC suitability", units="0..1", tags={"k": "v"})
    with rasterio.open(path) as src:
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert src.tags(ns="IMAGE_STRUCTURE")["COMPRESSION"] == "DEFLATE"
        assert src.block_shapes[0] == (256, 256)
        assert src.overviews(1), "expected internal overviews"
        assert src.crs.to_epsg() == 32647 and src.transform == grid.transform
        assert np.isnan(src.nodata)
        assert src.descriptions[0] == "EIC suitability" and src.tags(1)["units"] == "0..1" and src.tags()["k"] == "v"
        np.testing.assert_array_equal(src.read(1), values)
    assert not list(tmp_path.glob(".*tmp*"))


def test_write_class_raster_uses_zero_nodata(tmp_path):
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 300), (3, 3))
    path = io.write_raster(grid.wrap(np.arange(9, dtype="uint8").reshape(3, 3), "c"), tmp_path / "c.tif")
    with rasterio.open(path) as src:
        assert src.dtypes[0] == "uint8" and src.nodata == 0
        np.testing.assert_array_equal(src.read(1), np.arange(9).reshape(3, 3))


def test_write_gpkg_round_trip(tmp_path):
    a = gpd.GeoDataFrame(
        {"zone_id": [1, 2], "score": [0.9, 0.5], "kind": ["greenfield", "cluster"]},
        geometry=[Point(0, 0).buffer(10), Point(50, 50).buffer(10)],
        crs="EPSG:32647",
    )
    b = gpd.GeoDataFrame({"firm_id": ["F1"]}, geometry=[Point(1, 1)], crs="EPSG:32647")
    path = io.write_gpkg(tmp_path / "x.gpkg", {"zones": a, "firms": b})
    import pyogrio

    assert sorted(name for name, _ in pyogrio.list_layers(path)) == ["firms", "zones"]
    back = gpd.read_file(path, layer="zones")
    assert back.crs.to_epsg() == 32647
    assert back["zone_id"].tolist() == [1, 2] and back["kind"].tolist() == ["greenfield", "cluster"]
    assert back.geometry.area.round(0).tolist() == a.geometry.area.round(0).tolist()


def test_sha256(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"abc")
    assert io.sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
