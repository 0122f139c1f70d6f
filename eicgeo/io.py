"""Reading inputs onto a Grid and writing outputs atomically.

This is the only module (with :mod:`eicgeo.roads` loaders and the CLI) that touches files. Rasters
are warped onto the analysis :class:`~eicgeo.grid.Grid`: nearest neighbour for class codes, and
for quantities such as population a density-preserving average so that the total is conserved
whether the grid is finer or coarser than the source. Output folders are written by
:func:`output_folder` (see :mod:`eicgeo._outdir`): built in a staging folder, swapped in whole,
and never deleting or changing a file eicgeo did not write.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
import rasterio.features
import rasterio.shutil
import xarray as xr
from affine import Affine
from pyproj import CRS, Geod
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window, from_bounds

from eicgeo._errors import CRSError, EicgeoWarning, InputError
from eicgeo._outdir import folder_lock, inspect_folder, output_folder
from eicgeo._validate import check_columns, check_crs, check_degrees, check_file, did_you_mean
from eicgeo.grid import Grid
from eicgeo.materials import BUILTIN, Vocabulary, check_material, parse_flows

__all__ = [
    "RASTER_SUFFIXES",
    "VECTOR_SUFFIXES",
    "check_raster",
    "folder_lock",
    "inspect_folder",
    "output_folder",
    "raster_footprint",
    "read_firms",
    "read_mask",
    "read_raster",
    "read_sources",
    "read_vector",
    "sha256",
    "write_gpkg",
    "write_raster",
    "write_text",
]

RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".img", ".nc", ".jp2")
VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".parquet", ".geoparquet", ".fgb")
_GEOD = Geod(ellps="WGS84")

RasterKind = Literal["categorical", "quantity", "continuous"]


# --------------------------------------------------------------------------------------------
# rasters in
# --------------------------------------------------------------------------------------------
def raster_footprint(path: str | Path, what: str = "raster") -> tuple[tuple[float, ...], CRS]:
    """Bounds and CRS of a raster file, for building a Grid around it."""
    path = check_file(path, what, RASTER_SUFFIXES)
    with _open_raster(path, what) as src:
        _check_georeferenced(src, path, what)
        return tuple(src.bounds), CRS.from_user_input(src.crs)


def _check_georeferenced(src: rasterio.DatasetReader, path: Path, what: str) -> None:
    """A CRS, and bounds that fit it: a geographic CRS with bounds beyond ±180/±90 is a wrong
    label (a UTM raster tagged EPSG:4326, say), which would otherwise surface far downstream."""
    if src.crs is None:
        msg = f"{what} {str(path)!r} has no CRS; expected a georeferenced raster"
        raise CRSError(msg)
    check_degrees(tuple(src.bounds), CRS.from_user_input(src.crs), f"{what} {str(path)!r}")


def check_raster(path: str | Path, grid: Grid, *, what: str = "raster") -> None:
    """Cheap checks of a raster before it is read: it opens, has a CRS that fits its bounds, and
    overlaps ``grid``."""
    path = check_file(path, what, RASTER_SUFFIXES)
    with _open_raster(path, what) as src:
        _check_georeferenced(src, path, what)
        if _window_over(src, grid) is None:
            msg = f"{what} {str(path)!r} does not overlap the analysis grid ({_extent(grid)})"
            raise InputError(msg)


def read_raster(
    path: str | Path,
    grid: Grid,
    *,
    kind: RasterKind = "continuous",
    name: str | None = None,
    band: int = 1,
    resampling: str | None = None,
    what: str | None = None,
    chunks: int | None = None,
) -> xr.DataArray:
    """Read one band of a raster file onto ``grid``.

    Parameters
    ----------
    path : path
        Any raster GDAL reads, in any CRS.
    grid : Grid
        The analysis grid.
    kind : {"categorical", "quantity", "continuous"}
        ``categorical``: class codes, nearest neighbour, uint8 with 0 for nodata (uint16 when
        codes exceed 255). ``quantity``: a count per cell such as people; warped as a density so
        that totals are kept, float32 with NaN for nodata. ``continuous``: a field such as slope,
        bilinear, float32 with NaN for nodata.
    name : str, optional
        Layer name (default: the file stem).
    resampling : str, optional
        Override the resampling (a ``rasterio.enums.Resampling`` name, e.g. ``"mode"``).
    chunks : int, optional
        Return a dask-backed layer in square chunks of this many cells, each read and warped
        on its own (a task opens the file and reads the source window under its chunk, with a
        margin of two source cells), so no step holds the whole source or the whole grid. The
        values are those of the in-memory read (``tests/test_compute.py``). A class raster's
        dtype is its codes' (uint8 unless a code exceeds 255; found by a pass over the source
        unless it is uint8), and its checks (whole codes in 0..65535, population >= 0) run
        chunk by chunk, when the chunks are computed.
    """
    what = what or f"{kind} raster"
    path = check_file(path, what, RASTER_SUFFIXES)
    name = name or path.name.split(".")[0]
    if kind not in ("categorical", "quantity", "continuous"):
        msg = f"read_raster kind {kind!r} is not one of 'categorical', 'quantity', 'continuous'"
        raise InputError(msg)
    label = f"{what} {str(path)!r}"
    with _open_raster(path, what) as src:
        _check_georeferenced(src, path, what)
        if not 1 <= band <= src.count:
            msg = f"{what} {str(path)!r} has {src.count} band(s); band {band} does not exist"
            raise InputError(msg)
        window = _window_over(src, grid)
        if window is None:
            msg = f"{what} {str(path)!r} does not overlap the analysis grid ({_extent(grid)})"
            raise InputError(msg)
        source_m = _cell_size_m(src)
        dtype = _class_dtype(src, band, window, label) if kind == "categorical" else np.dtype(np.float32)
    attrs = {"kind": kind, "units": "per cell", "source": path.name} if kind == "quantity" else {"kind": kind}
    attrs.setdefault("source", path.name)
    attrs["source_resolution_m"] = source_m
    if chunks is None:
        out = _warp_tiles(path, band, grid, kind, resampling, label, dtype, _WARP_TILE)
    else:
        out = _lazy_warp(path, band, grid, kind, resampling, label, dtype, chunks, _WARP_TILE)
    return grid.wrap(out, name, attrs=attrs)


#: Cells per side of the tiles a raster is warped in, in memory or chunked alike. GDAL's warper
#: approximates the coordinate transformation along each output row of the area it warps
#: (to 1/8 of a source cell), so a cell's value depends on the extent warped with it: warping the
#: same tiles, aligned on the grid's origin, whatever the chunks, is what makes chunked and
#: in-memory reads equal cell for cell. A grid of up to this many cells per side is one tile.
_WARP_TILE = 512


_DEFAULT_RESAMPLING = {"categorical": Resampling.nearest, "quantity": Resampling.average}


def _class_dtype(src: rasterio.DatasetReader, band: int, window: Window, label: str) -> np.dtype:
    """The dtype the in-memory read gives a class raster: uint8 unless a code over the study
    area exceeds 255 (then uint16), found strip by strip unless the source is uint8."""
    if np.dtype(src.dtypes[band - 1]) == np.uint8:
        return np.dtype(np.uint8)
    top = 0
    rows = max(1, (1 << 22) // max(int(window.width), 1))
    for r0 in range(int(window.row_off), int(window.row_off + window.height), rows):
        strip = Window(window.col_off, r0, window.width, min(rows, int(window.row_off + window.height) - r0))
        try:
            data = src.read(band, window=strip, masked=True)
        except rasterio.errors.RasterioError as err:
            msg = f"{label} cannot be read as a raster (truncated or corrupt?): {' '.join(str(err).split())}"
            raise InputError(msg) from err
        values = np.ma.filled(data, 0)
        if np.issubdtype(values.dtype, np.floating):
            values = np.nan_to_num(values, nan=0.0)
        top = max(top, float(values.max(initial=0)))
    return np.dtype(np.uint8 if top <= 255 else np.uint16)


def _warp_tiles(
    path: Path, band: int, grid: Grid, kind: str, resampling: str | None, label: str, dtype: np.dtype, tile: int
) -> np.ndarray:
    """``grid`` warped tile by tile (tiles of ``tile`` cells from the grid's origin)."""
    out = np.empty(grid.shape, dtype=dtype)
    for r0 in range(0, grid.height, tile):
        for c0 in range(0, grid.width, tile):
            h, w = min(tile, grid.height - r0), min(tile, grid.width - c0)
            out[r0 : r0 + h, c0 : c0 + w] = _warp_block(
                path, band, _sub_grid(grid, r0, c0, h, w), kind, resampling, label, dtype
            )
    return out


def _lazy_warp(
    path: Path,
    band: int,
    grid: Grid,
    kind: str,
    resampling: str | None,
    label: str,
    dtype: np.dtype,
    chunks: int,
    tile: int,
) -> Any:
    """A dask array on ``grid`` in chunks of ``chunks`` cells: one task per read chunk (a whole
    number of warp tiles) reads and warps the source under it."""
    import dask
    import dask.array as da

    size = tile * -(-chunks // tile)
    rows = [(r0, min(r0 + size, grid.height)) for r0 in range(0, grid.height, size)]
    cols = [(c0, min(c0 + size, grid.width)) for c0 in range(0, grid.width, size)]
    token = dask.base.tokenize(str(path), Path(path).stat().st_mtime_ns, band, grid, kind, resampling, size, tile)
    warp = dask.delayed(_warp_tiles, pure=True)
    blocks = [
        [
            da.from_delayed(
                warp(
                    path,
                    band,
                    _sub_grid(grid, r0, c0, r1 - r0, c1 - c0),
                    kind,
                    resampling,
                    label,
                    dtype,
                    tile,
                    dask_key_name=f"eicgeo-read-{token}-{i}-{j}",
                ),
                shape=(r1 - r0, c1 - c0),
                dtype=dtype,
            )
            for j, (c0, c1) in enumerate(cols)
        ]
        for i, (r0, r1) in enumerate(rows)
    ]
    out = da.block(blocks)
    return out.rechunk((chunks, chunks)) if size != chunks else out


def _sub_grid(grid: Grid, row: int, col: int, height: int, width: int) -> Grid:
    """The part of ``grid`` of ``height`` x ``width`` cells from cell ``(row, col)``."""
    t = grid.transform
    return Grid(grid.crs, Affine(t.a, 0.0, t.c + t.a * col, 0.0, t.e, t.f + t.e * row), (height, width))


def _warp_block(
    path: Path, band: int, block: Grid, kind: str, resampling: str | None, label: str, dtype: np.dtype
) -> np.ndarray:
    """One chunk of :func:`read_raster`: the source window under ``block``, warped onto it."""
    method = Resampling[resampling] if resampling else _DEFAULT_RESAMPLING.get(kind, Resampling.bilinear)
    fill = 0 if kind == "categorical" else np.nan
    with rasterio.open(path) as src:
        window = _window_over(src, block)
        if window is None:
            return np.full(block.shape, fill, dtype=dtype)
        try:
            data = src.read(band, window=window, masked=True)
        except rasterio.errors.RasterioError as err:
            msg = f"{label} cannot be read as a raster (truncated or corrupt?): {' '.join(str(err).split())}"
            raise InputError(msg) from err
        transform, crs = src.window_transform(window), src.crs
    if kind == "categorical":
        out = _warp_classes(data, transform, crs, block, method, label)
    elif kind == "quantity":
        out = _warp_quantity(data, transform, crs, block, method, label)
    else:
        out = _warp_float(data, transform, crs, block, method)
    return out.astype(dtype, copy=False)


def _cell_size_m(src: rasterio.DatasetReader) -> float:
    """The source's cell width in metres (at its centre latitude for a geographic CRS)."""
    crs = CRS.from_user_input(src.crs)
    width = abs(src.transform.a)
    if crs.is_geographic:
        lat = (src.bounds.bottom + src.bounds.top) / 2
        return float(width * 111_320.0 * np.cos(np.radians(lat)))
    unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return float(width * unit)


@contextlib.contextmanager
def _open_raster(path: Path, what: str) -> Iterator[rasterio.DatasetReader]:
    try:
        src = rasterio.open(path)
    except (RasterioIOError, rasterio.errors.RasterioError) as err:
        msg = f"{what} {str(path)!r} cannot be read as a raster: {' '.join(str(err).split())}"
        raise InputError(msg) from err
    with src:
        yield src


def _window_over(src: rasterio.DatasetReader, grid: Grid) -> Window | None:
    """The source window covering the grid, with a margin of two source cells."""
    left, bottom, right, top = transform_bounds(grid.crs, src.crs, *grid.bounds, densify_pts=21)
    window = from_bounds(left, bottom, right, top, transform=src.transform)
    window = Window(window.col_off - 2, window.row_off - 2, window.width + 4, window.height + 4)
    full = Window(0, 0, src.width, src.height)
    try:
        window = window.intersection(full)
    except rasterio.errors.WindowError:
        return None
    window = window.round_offsets(op="floor").round_lengths(op="ceil")
    if window.width <= 0 or window.height <= 0:
        return None
    return window


def _warp_classes(data, transform, crs, grid: Grid, resampling: Resampling, label: str) -> np.ndarray:
    codes = np.ma.filled(data, 0)
    if np.issubdtype(codes.dtype, np.floating):
        fractional = np.isfinite(codes) & (codes != np.round(codes))
        if fractional.any():
            example = float(codes[fractional].flat[0])
            msg = (
                f"{label} has values that are not whole numbers ({example:g}, in {int(fractional.sum())} cells); "
                "expected integer class codes (a land-cover classification, not a continuous field)"
            )
            raise InputError(msg)
        codes = np.nan_to_num(codes, nan=0.0)
    if codes.size and (codes.min() < 0 or codes.max() > 65535):
        msg = f"{label} has values {codes.min():g}..{codes.max():g}; expected class codes in 0..65535"
        raise InputError(msg)
    dtype = np.uint8 if codes.max(initial=0) <= 255 else np.uint16
    out = np.zeros(grid.shape, dtype=dtype)
    reproject(
        codes.astype(dtype),
        out,
        src_transform=transform,
        src_crs=crs,
        src_nodata=0,
        dst_transform=grid.transform,
        dst_crs=grid.crs,
        dst_nodata=0,
        resampling=resampling,
    )
    return out


def _warp_float(data, transform, crs, grid: Grid, resampling: Resampling) -> np.ndarray:
    values = np.ma.filled(data.astype(np.float32), np.nan)
    out = np.full(grid.shape, np.nan, dtype=np.float32)
    reproject(
        values,
        out,
        src_transform=transform,
        src_crs=crs,
        src_nodata=np.nan,
        dst_transform=grid.transform,
        dst_crs=grid.crs,
        dst_nodata=np.nan,
        resampling=resampling,
    )
    return out


def _warp_quantity(data, transform, crs, grid: Grid, resampling: Resampling, label: str) -> np.ndarray:
    """Warp counts per cell as a density per m², then back to counts per grid cell."""
    values = np.ma.filled(data.astype(np.float64), np.nan)
    if np.nanmin(values, initial=0) < 0:
        msg = (
            f"{label} has negative values (min {np.nanmin(values):g}, in {int((values < 0).sum())} cells); "
            "expected people (or another count) per cell >= 0, with negative nodata values declared as nodata"
        )
        raise InputError(msg)
    density = values / _cell_areas_m2(transform, CRS.from_user_input(crs), values.shape)
    out = np.full(grid.shape, np.nan, dtype=np.float64)
    reproject(
        density,
        out,
        src_transform=transform,
        src_crs=crs,
        src_nodata=np.nan,
        dst_transform=grid.transform,
        dst_crs=grid.crs,
        dst_nodata=np.nan,
        resampling=resampling,
    )
    return (out * grid.cell_area_m2).astype(np.float32)


def _cell_areas_m2(transform, crs: CRS, shape: tuple[int, int]) -> np.ndarray:
    """Area of each source cell in m² (a column vector for geographic rasters)."""
    if crs.is_projected:
        unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
        return np.full((1, 1), abs(transform.a * transform.e) * unit * unit)
    rows = np.arange(shape[0])
    top = transform.f + transform.e * rows
    bottom = top + transform.e
    lon0, lon1 = transform.c, transform.c + transform.a
    areas = np.array(
        [
            abs(_GEOD.polygon_area_perimeter([lon0, lon1, lon1, lon0], [t, t, b, b])[0])
            for t, b in zip(top, bottom, strict=True)
        ]
    )
    return areas[:, None]


# --------------------------------------------------------------------------------------------
# vectors in
# --------------------------------------------------------------------------------------------
def _extent(grid: Grid) -> str:
    """The grid's extent in words, for messages."""
    west, south, east, north = grid.bounds
    return f"{grid.crs.to_string()}, x {west:,.0f}..{east:,.0f}, y {south:,.0f}..{north:,.0f}"


def read_vector(
    path: str | Path,
    *,
    what: str = "vector",
    crs: Any = None,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a vector file (GeoPackage, GeoJSON, Shapefile, GeoParquet, FlatGeobuf).

    The result is reprojected to ``crs`` when given. An empty layer, a layer without CRS or an
    unreadable file is an :class:`~eicgeo.InputError` naming the file.
    """
    path = check_file(path, what, VECTOR_SUFFIXES)
    try:
        if path.name.lower().endswith((".parquet", ".geoparquet")):
            gdf = gpd.read_parquet(path)
        else:
            gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError, OSError) as err:
        detail = str(err).split("; It might help to specify the correct driver")[0]
        msg = f"{what} {str(path)!r} cannot be read as a vector layer: {detail}"
        raise InputError(msg) from err
    if gdf.empty:
        msg = f"{what} {str(path)!r} has no features"
        raise InputError(msg)
    if gdf.crs is None:
        msg = f"{what} {str(path)!r} has no CRS; expected a layer with a coordinate reference system"
        raise CRSError(msg)
    # GeoJSON without a crs member is WGS 84 by definition: a layer in metres saved that way
    # reads as degrees far outside their range.
    check_degrees(tuple(gdf.total_bounds), CRS.from_user_input(gdf.crs), f"{what} {str(path)!r}")
    if gdf.geometry.isna().any():
        row = int(np.flatnonzero(gdf.geometry.isna().to_numpy())[0])
        msg = f"{what} {str(path)!r} feature {row + 1} has no geometry"
        raise InputError(msg)
    if crs is not None:
        gdf = gdf.to_crs(check_crs(crs, what))
    return gdf


def read_mask(
    path: str | Path, grid: Grid, *, all_touched: bool = False, what: str = "mask", chunks: int | None = None
) -> xr.DataArray:
    """Cells a raster or vector file covers, as a boolean layer on ``grid``.

    A raster covers its non-zero cells (nearest neighbour); a vector the cells whose centre a
    feature covers, or every cell it touches with ``all_touched``. With ``chunks`` a raster is
    read chunk by chunk (see :func:`read_raster`).
    """
    path = Path(path)
    if path.name.lower().endswith(RASTER_SUFFIXES):
        layer = read_raster(path, grid, kind="continuous", resampling="nearest", what=what, chunks=chunks)
        return layer.notnull() & (layer != 0)
    features = read_vector(path, what=what, crs=grid.crs)
    covered = rasterio.features.geometry_mask(
        list(features.geometry), out_shape=grid.shape, transform=grid.transform, invert=True, all_touched=all_touched
    )
    return grid.wrap(covered, path.name.split(".")[0])


def read_sources(path: str | Path, *, crs: Any = None, vocab: Vocabulary = BUILTIN) -> gpd.GeoDataFrame:
    """Read raw-material sources: a ``material`` column (names of ``vocab``) and an optional
    ``tonnes_per_year``."""
    gdf = read_vector(path, what="sources", crs=crs)
    check_columns(gdf.columns, ["material"], f"sources {str(path)!r}")
    for row, material in enumerate(gdf["material"]):
        check_material(material, what=f"sources {str(path)!r} feature {row + 1}: material", vocab=vocab)
    if "tonnes_per_year" in gdf:
        tonnes = pd.to_numeric(gdf["tonnes_per_year"], errors="coerce")
        bad = np.flatnonzero((tonnes < 0).to_numpy() | (tonnes.isna() & gdf["tonnes_per_year"].notna()).to_numpy())
        if bad.size:
            row = int(bad[0])
            msg = (
                f"sources {str(path)!r} feature {row + 1}: tonnes_per_year "
                f"{str(gdf['tonnes_per_year'].iloc[row])!r} is not a number >= 0"
            )
            raise InputError(msg)
        gdf["tonnes_per_year"] = tonnes.astype(float)
    else:
        gdf["tonnes_per_year"] = np.nan
    return gdf


_FIRM_COLUMNS = ("firm_id", "name", "sector", "inputs", "outputs")


def read_firms(path: str | Path, *, crs: Any = None, vocab: Vocabulary = BUILTIN) -> gpd.GeoDataFrame:
    """Read a firm register from CSV (with ``lon``/``lat``) or any vector format.

    Required columns: ``firm_id``, ``name``, ``sector``, ``inputs``, ``outputs`` and a geometry
    or ``lon``/``lat`` (WGS 84 degrees). ``inputs`` and ``outputs`` are ``material:tonnes``
    lists separated by ``;`` (tonnes per year; MWh per year for energy, m³ per year for water;
    see each material's ``unit``). Every material must be in ``vocab`` (the built-in
    vocabulary of :mod:`eicgeo.materials` unless a run adds its own); each problem is reported
    with its row.

    Returns
    -------
    GeoDataFrame
        Indexed 0..n-1, in ``crs`` when given, else in EPSG:4326 for CSV input.
    """
    path = Path(path)
    label = f"firms {str(path)!r}"
    if path.name.lower().endswith(".csv"):
        path = check_file(path, "firms", (".csv",))
        try:
            table = pd.read_csv(path, dtype={"firm_id": str}, keep_default_na=False, na_values=[""])
        except pd.errors.EmptyDataError as err:
            msg = f"{label} is empty; expected a CSV with the header {','.join([*_FIRM_COLUMNS, 'lon', 'lat'])}"
            raise InputError(msg) from err
        except UnicodeDecodeError as err:
            msg = (
                f"{label} is not UTF-8 text (byte 0x{err.object[err.start]:02x} at position {err.start}); "
                "expected a CSV saved as UTF-8"
            )
            raise InputError(msg) from err
        except pd.errors.ParserError as err:
            msg = f"{label} cannot be parsed as CSV: {' '.join(str(err).split())}"
            raise InputError(msg) from err
        check_columns(table.columns, [*_FIRM_COLUMNS, "lon", "lat"], label)
        lon = pd.to_numeric(table["lon"], errors="coerce")
        lat = pd.to_numeric(table["lat"], errors="coerce")
        bad = np.flatnonzero((lon.isna() | lat.isna() | (lon.abs() > 180) | (lat.abs() > 90)).to_numpy())
        if bad.size:
            row = int(bad[0])
            msg = (
                f"{label} row {row + 2} (firm_id {table['firm_id'].iloc[row]!r}): lon/lat "
                f"'{table['lon'].iloc[row]}', '{table['lat'].iloc[row]}' are not valid WGS 84 degrees "
                "(expected lon in -180..180 and lat in -90..90)"
            )
            raise InputError(msg)
        firms = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
        first_row = 2  # header is line 1
    else:
        firms = read_vector(path, what="firms")
        check_columns(firms.columns, _FIRM_COLUMNS, label)
        first_row = 1
    if firms.empty:
        msg = f"{label} has no firms"
        raise InputError(msg)
    firms = firms.reset_index(drop=True)
    blank = firms["firm_id"].isna() | (firms["firm_id"].astype(str).str.strip() == "")
    if blank.any():
        row = int(np.flatnonzero(blank.to_numpy())[0])
        msg = f"{label} row {row + first_row}: firm_id is empty; every firm needs a unique id"
        raise InputError(msg)
    firms["firm_id"] = firms["firm_id"].astype(str).str.strip()
    dupes = firms["firm_id"][firms["firm_id"].duplicated()]
    if len(dupes):
        row = int(dupes.index[0])
        msg = f"{label} row {row + first_row}: firm_id {dupes.iloc[0]!r} is used more than once"
        raise InputError(msg)
    for column in ("inputs", "outputs"):
        firms[column] = firms[column].fillna("").astype(str)
        for row, text in enumerate(firms[column]):
            where = f"{label} row {row + first_row} (firm_id {firms['firm_id'].iloc[row]!r}) {column}"
            parse_flows(text, what=where, vocab=vocab)
    # Matching goes by material, so an unknown sector is only a warning (it is often a typo).
    unknown = ~firms["sector"].astype(str).isin(list(vocab.sectors))
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        sector = str(firms["sector"].iloc[row])
        msg = (
            f"{label}: {int(unknown.sum())} firm(s) have a sector that the vocabulary does not list; "
            f"the first is row {row + first_row} (firm_id {firms['firm_id'].iloc[row]!r}): {sector!r}"
            f"{did_you_mean(sector, vocab.sectors)}"
        )
        warnings.warn(msg, EicgeoWarning, stacklevel=2)
    if crs is not None:
        firms = firms.to_crs(check_crs(crs, "firms"))
    return firms


# --------------------------------------------------------------------------------------------
# outputs
# --------------------------------------------------------------------------------------------
def write_raster(
    layer: xr.DataArray,
    path: str | Path,
    *,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    units: str | None = None,
    nodata: int | None = None,
    outside: xr.DataArray | np.ndarray | None = None,
) -> Path:
    """Write a layer as a Cloud-Optimised GeoTIFF (tiled, DEFLATE, internal overviews).

    GDAL's COG driver lays the file out as the COG specification asks: 256 x 256 tiles, the
    image file directories first, then the overviews' tiles from the smallest, then the full
    resolution. Overviews are averaged for float layers and nearest for class codes, and GDAL
    compresses with every CPU. The file is written beside its final name and renamed into place.
    A dask-backed layer is written window by window (a row of chunks in memory at a time) into a
    tiled GeoTIFF, which the COG driver then copies: the same cells as in memory.

    Parameters
    ----------
    layer : DataArray
        On a :class:`~eicgeo.grid.Grid`. Float layers are written as float32 with NaN as
        nodata; integer (class) layers keep their type with ``nodata`` as nodata.
    path : path
    tags : mapping, optional
        Dataset tags (e.g. the meaning of class codes).
    description : str, optional
        The band description.
    units : str, optional
        The band's unit, stored both as GDAL's unit type and as a ``units`` band tag.
    nodata : int, optional
        The nodata value of an integer layer: 0 (the default) where 0 is no class, 255 for a
        uint8 layer whose 0 is a class ("allowed", "other"). A value that is a class code of
        the layer is an error. Ignored for float layers (NaN).
    outside : boolean array or DataArray, optional
        Cells outside the study area's data (the land cover's nodata): written as nodata (read
        window by window when dask-backed).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid = Grid.from_dataarray(layer)
    is_float = np.issubdtype(layer.dtype, np.floating)
    dtype = np.dtype(np.float32) if is_float else np.dtype(layer.dtype)
    if is_float:
        nodata = np.nan
    else:
        nodata = 0 if nodata is None else int(nodata)
        if not np.can_cast(np.min_scalar_type(nodata), dtype):
            msg = f"write_raster nodata {nodata} does not fit {dtype} layer {layer.name!r}"
            raise InputError(msg)
    profile = {
        "driver": "GTiff",
        "height": grid.height,
        "width": grid.width,
        "count": 1,
        "dtype": dtype,
        "crs": grid.crs.to_wkt(),
        "transform": grid.transform,
        "nodata": nodata,
    }
    cog = {
        "driver": "COG",
        "COMPRESS": "DEFLATE",
        "PREDICTOR": "YES" if is_float else "NO",
        "BLOCKSIZE": 256,
        "OVERVIEWS": "AUTO",
        "RESAMPLING": "AVERAGE" if is_float else "NEAREST",
        "NUM_THREADS": "ALL_CPUS",
    }
    tmp = path.with_name(f".{path.name}.tmp")
    if hasattr(layer.data, "dask"):
        _write_windowed(layer, path, tmp, profile, cog, nodata, outside, tags, description, units)
        os.replace(tmp, path)
        return path
    data = np.array(layer.values, dtype=dtype)  # one copy, to blank the cells outside
    if not is_float and nodata != 0 and (data == nodata).any():
        msg = f"write_raster nodata {nodata} is a class code of layer {layer.name!r}; expected a value never data"
        raise InputError(msg)
    if outside is not None:
        data[np.asarray(outside, dtype=bool)] = nodata
    # The COG driver copies from a GDAL in-memory (MEM) dataset: one buffer, read without GDAL's
    # block cache (a GeoTIFF in /vsimem/ grew its file and cached its blocks as it was read).
    with rasterio.open(f"{path.name}.mem", "w", **{**profile, "driver": "MEM"}) as src:
        src.write(data, 1)
        del data
        _describe(src, tags, description, units)
        src.update_tags(AREA_OR_POINT="Area")  # what a GeoTIFF declares, and the COG with it
        rasterio.shutil.copy(src, tmp, **cog)
    os.replace(tmp, path)
    return path


def _describe(dst: Any, tags: Mapping[str, Any] | None, description: str | None, units: str | None) -> None:
    dst.update_tags(**{k: str(v) for k, v in (tags or {}).items()})
    if description:
        dst.set_band_description(1, description)
    if units:
        dst.update_tags(1, units=units)
        dst.units = (units,)


def _write_windowed(
    layer: xr.DataArray,
    path: Path,
    tmp: Path,
    profile: dict[str, Any],
    cog: dict[str, Any],
    nodata: float,
    outside: Any,
    tags: Mapping[str, Any] | None,
    description: str | None,
    units: str | None,
) -> None:
    """A dask-backed layer as a COG, window by window: each chunk is computed and written into a
    tiled GeoTIFF beside the output (one row of chunks in memory at a time), then GDAL's COG
    driver adds the overviews and lays the file out, with every CPU compressing."""
    from eicgeo import compute

    staging = path.with_name(f".{path.name}.chunks.tif")
    block = 256
    tiled = {
        **profile,
        "tiled": True,
        "blockxsize": block,
        "blockysize": block,
        "compress": "ZSTD",
        "BIGTIFF": "IF_SAFER",
    }
    mask = outside.data if isinstance(outside, xr.DataArray) else outside
    is_float = np.isnan(nodata) if isinstance(nodata, float) else False
    try:
        with rasterio.open(staging, "w", **tiled) as dst:
            for (rows, cols), values in compute.blocks(layer):
                values = values.astype(profile["dtype"], copy=True)
                if not is_float and nodata != 0 and (values == nodata).any():
                    msg = (
                        f"write_raster nodata {nodata} is a class code of layer {layer.name!r}; expected a "
                        "value never data"
                    )
                    raise InputError(msg)
                if mask is not None:
                    values[np.asarray(mask[rows, cols], dtype=bool)] = nodata
                window = Window(cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start)
                dst.write(values, 1, window=window)
            _describe(dst, tags, description, units)
        with rasterio.open(staging) as src:
            rasterio.shutil.copy(src, tmp, **cog)
    finally:
        staging.unlink(missing_ok=True)


#: A layer's declared schema: its geometry type and the dtype of each column.
LayerSchema = tuple[str, Mapping[str, str]]


def write_gpkg(
    path: str | Path,
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    schemas: Mapping[str, LayerSchema] | None = None,
    styles: Mapping[str, str] | None = None,
) -> Path:
    """Write GeoDataFrames as layers of one GeoPackage, atomically.

    Parameters
    ----------
    path : path
    layers : mapping
        Layer name to GeoDataFrame.
    schemas : mapping, optional
        Layer name to ``(geometry type, {column: dtype})``, e.g. ``("Point", {"tonnes":
        "float64"})``. An empty layer is written with that geometry type and those columns and
        types (not GDAL's guess for no rows: GEOMETRY and text); a layer with rows keeps its
        columns, and its geometries are declared of that type when they all are (a
        ``Multi`` type takes single parts too).
    styles : mapping, optional
        Layer name to a QGIS style (QML): written into the GeoPackage's ``layer_styles`` table
        as the layer's default style, which QGIS loads when it opens the layer.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.gpkg")
    tmp.unlink(missing_ok=True)
    schemas = schemas or {}
    try:
        for name, gdf in layers.items():
            frame = gdf.reset_index(drop=True)
            options: dict[str, Any] = {}
            if name in schemas:
                frame, options = _declared(frame, *schemas[name])
            pyogrio.write_dataframe(frame, tmp, layer=name, driver="GPKG", append=tmp.exists(), **options)
        if styles:
            _write_layer_styles(tmp, {name: qml for name, qml in styles.items() if name in layers})
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path


def _declared(frame: gpd.GeoDataFrame, geometry_type: str, dtypes: Mapping[str, str]) -> tuple[gpd.GeoDataFrame, dict]:
    """``frame`` as its schema declares it, and pyogrio's geometry options."""
    if frame.empty:
        columns = {c: pd.Series([], dtype=t) for c, t in dtypes.items()}
        columns |= {c: frame[c] for c in frame.columns if c not in dtypes and c != frame.geometry.name}
        empty = gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries([], crs=frame.crs), crs=frame.crs)
        return empty, {"geometry_type": geometry_type}
    found = set(frame.geom_type.dropna())
    single = geometry_type.removeprefix("Multi")
    if found <= {geometry_type}:
        return frame, {"geometry_type": geometry_type}
    if geometry_type.startswith("Multi") and found <= {geometry_type, single}:
        return frame, {"geometry_type": geometry_type, "promote_to_multi": True}
    return frame, {}  # other geometries (polygon sources, say): GDAL declares what it finds


#: QGIS's table of layer styles in a GeoPackage (as QGIS creates it), registered in
#: gpkg_contents as attributes so that GDAL lists it.
_LAYER_STYLES_SQL = """
CREATE TABLE IF NOT EXISTS layer_styles (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    f_table_catalog TEXT(256),
    f_table_schema TEXT(256),
    f_table_name TEXT(256),
    f_geometry_column TEXT(256),
    styleName TEXT(30),
    styleQML TEXT,
    styleSLD TEXT,
    useAsDefault BOOLEAN,
    description TEXT,
    owner TEXT(30),
    ui TEXT(30),
    update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)
"""


def _write_layer_styles(path: Path, styles: Mapping[str, str]) -> None:
    """Each layer's style as its default in ``layer_styles`` (one row per layer)."""
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute(_LAYER_STYLES_SQL)
        db.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, last_change) "
            "VALUES ('layer_styles', 'attributes', 'layer_styles', 'QGIS layer styles', "
            "strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
        )
        for name, qml in styles.items():
            (column,) = db.execute(
                "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (name,)
            ).fetchone()
            db.execute("DELETE FROM layer_styles WHERE f_table_name = ?", (name,))
            db.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                "styleName, styleQML, styleSLD, useAsDefault, description, owner, ui) "
                "VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '', NULL)",
                (name, column, name, qml, f"eicgeo default style of {name}"),
            )


def write_text(path: str | Path, text: str) -> Path:
    """Write a UTF-8 text file atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
