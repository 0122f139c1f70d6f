"""The reference Grid that every layer of a run shares.

A :class:`Grid` is a frozen value: a projected CRS, an affine transform and a shape. Every
raster input is warped onto it and every layer comes back on it, so layers can be combined cell
by cell without checks at each step.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from pyproj import CRS
from rasterio.warp import transform_bounds

from eicgeo._errors import CRSError, GridMismatchError, InputError
from eicgeo._validate import check_crs, check_positive
from eicgeo.settings import GRID

__all__ = ["Grid", "utm_crs"]

WGS84 = CRS.from_epsg(4326)


def utm_crs(lon: float, lat: float) -> CRS:
    """Return the WGS 84 / UTM zone CRS that contains ``(lon, lat)``.

    Parameters
    ----------
    lon, lat : float
        A point in degrees, usually the centre of the study area.

    Examples
    --------
    >>> utm_crs(100.45, 14.8).to_epsg()
    32647
    >>> utm_crs(151.2, -33.9).to_epsg()
    32756
    """
    if not (-180 <= lon <= 180 and -80 <= lat <= 84):
        msg = f"cannot choose a UTM zone for lon={lon}, lat={lat}: outside -180..180, -80..84"
        raise CRSError(msg)
    zone = min(int((lon + 180) // 6) + 1, 60)
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid in a projected CRS.

    Parameters
    ----------
    crs : pyproj.CRS or anything ``CRS.from_user_input`` accepts
        Projected, in metres, so that resolution, areas and distances are in metres.
    transform : affine.Affine
        Maps (col, row) to (x, y) of the cell's upper-left corner; no rotation.
    shape : tuple of int
        ``(height, width)`` in cells.

    Examples
    --------
    >>> g = Grid.from_bounds((0, 0, 1000, 500), 100, "EPSG:32647")
    >>> g.shape, g.resolution, g.cell_area_m2
    ((5, 10), 100.0, 10000.0)

    A 3 x 3 grid of 100 m cells from its transform, a layer wrapped on it, and the cell that
    holds a point:

    >>> import numpy as np
    >>> grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 300), (3, 3))
    >>> grid.bounds, grid.xs.tolist(), grid.ys.tolist()
    ((0.0, 0.0, 300.0, 300.0), [50.0, 150.0, 250.0], [250.0, 150.0, 50.0])
    >>> elevation = grid.wrap(np.arange(9.0).reshape(3, 3), "elevation")
    >>> grid.check(elevation)  # silent: the layer is on this grid
    >>> Grid.from_dataarray(elevation) == grid
    True
    >>> [int(v) for v in grid.rowcol(250, 50)], bool(grid.contains(350, 50))
    ([2, 2], False)
    """

    crs: CRS
    transform: Affine
    shape: tuple[int, int]

    def __post_init__(self) -> None:
        crs = check_crs(self.crs, "Grid crs")
        if not crs.is_projected:
            msg = (
                f"Grid crs {crs.to_string()!r} is geographic; expected a projected CRS in metres "
                "(use crs='auto' for the local UTM zone)"
            )
            raise CRSError(msg)
        object.__setattr__(self, "crs", crs)
        t = self.transform
        if not isinstance(t, Affine) or t.b != 0 or t.d != 0 or t.a <= 0 or t.e >= 0:
            msg = f"Grid transform must be a north-up Affine without rotation, got {t!r}"
            raise InputError(msg)
        height, width = (int(v) for v in self.shape)
        if height <= 0 or width <= 0:
            msg = f"Grid shape must be two positive integers (height, width), got {self.shape!r}"
            raise InputError(msg)
        object.__setattr__(self, "shape", (height, width))

    # construction ---------------------------------------------------------------------------
    @classmethod
    def from_bounds(
        cls,
        bounds: tuple[float, float, float, float],
        resolution: float,
        crs: Any = GRID.crs,
        *,
        bounds_crs: Any = None,
    ) -> Grid:
        """Make a grid covering ``bounds`` with square cells of ``resolution`` metres.

        Parameters
        ----------
        bounds : (xmin, ymin, xmax, ymax)
            In ``crs`` units, or in ``bounds_crs`` units when that is given. With
            ``crs="auto"`` the bounds are longitude/latitude degrees unless ``bounds_crs`` says
            otherwise.
        resolution : float
            Cell size in metres.
        crs : CRS-like or "auto"
            The grid's CRS; ``"auto"`` picks the UTM zone of the bounds' centre.
        bounds_crs : CRS-like, optional
            The CRS ``bounds`` are expressed in, when it differs from ``crs``.

        The grid snaps outward to multiples of ``resolution`` so that grids made from
        overlapping bounds share cell edges (as ``gdalwarp -tap``).
        """
        resolution = check_positive(resolution, "Grid resolution (metres)")
        try:
            xmin, ymin, xmax, ymax = (float(v) for v in bounds)
        except (TypeError, ValueError) as err:
            msg = f"Grid bounds must be four numbers (xmin, ymin, xmax, ymax), got {bounds!r}"
            raise InputError(msg) from err
        if not (xmin < xmax and ymin < ymax):
            msg = f"Grid bounds {bounds!r} are empty: expected xmin < xmax and ymin < ymax"
            raise InputError(msg)
        if isinstance(crs, str) and crs.lower() == "auto":
            src = check_crs(bounds_crs, "Grid bounds_crs") if bounds_crs is not None else WGS84
            lon, lat = _centre_lonlat((xmin, ymin, xmax, ymax), src)
            target = utm_crs(lon, lat)
        else:
            target = check_crs(crs, "Grid crs")
            src = check_crs(bounds_crs, "Grid bounds_crs") if bounds_crs is not None else target
        if src != target:
            xmin, ymin, xmax, ymax = transform_bounds(src, target, xmin, ymin, xmax, ymax, densify_pts=21)
        x0 = math.floor(xmin / resolution) * resolution
        y0 = math.floor(ymin / resolution) * resolution
        x1 = math.ceil(xmax / resolution) * resolution
        y1 = math.ceil(ymax / resolution) * resolution
        width = round((x1 - x0) / resolution)
        height = round((y1 - y0) / resolution)
        transform = Affine(resolution, 0.0, x0, 0.0, -resolution, y1)
        return cls(target, transform, (height, width))

    @classmethod
    def from_dataarray(cls, da: xr.DataArray) -> Grid:
        """Return the grid of a rioxarray-aware DataArray."""
        crs, transform = georef_of(da)
        if crs is None:
            msg = f"layer {da.name!r} has no CRS; expected a DataArray with rio.crs set"
            raise CRSError(msg)
        return cls(CRS.from_user_input(crs), transform, da.shape[-2:])

    # properties -----------------------------------------------------------------------------
    @property
    def height(self) -> int:
        return self.shape[0]

    @property
    def width(self) -> int:
        return self.shape[1]

    @property
    def resolution(self) -> float:
        """Cell size in metres."""
        return float(self.transform.a)

    @property
    def cell_area_m2(self) -> float:
        return float(self.transform.a * -self.transform.e)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` in the grid's CRS."""
        t = self.transform
        return (t.c, t.f + t.e * self.height, t.c + t.a * self.width, t.f)

    @property
    def lonlat_bounds(self) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` in degrees."""
        return tuple(transform_bounds(self.crs, WGS84, *self.bounds, densify_pts=21))

    @property
    def xs(self) -> np.ndarray:
        """Cell-centre x coordinates, west to east (metres)."""
        t = self.transform
        return t.c + t.a * (np.arange(self.width) + 0.5)

    @property
    def ys(self) -> np.ndarray:
        """Cell-centre y coordinates, north to south (metres)."""
        t = self.transform
        return t.f + t.e * (np.arange(self.height) + 0.5)

    # cells ----------------------------------------------------------------------------------
    def rowcol(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of the cells holding points ``(x, y)``; may fall outside the grid."""
        t = self.transform
        col = np.floor((np.asarray(x, dtype=float) - t.c) / t.a).astype(np.int64)
        row = np.floor((np.asarray(y, dtype=float) - t.f) / t.e).astype(np.int64)
        return row, col

    def window(self, bounds: Any) -> tuple[tuple[slice, slice], Grid] | tuple[None, None]:
        """The cells under ``bounds`` (west, south, east, north), clipped to the grid: their row
        and column slices and the grid they form; ``(None, None)`` when none are.

        Examples
        --------
        >>> grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 1000), (10, 10))
        >>> (rows, cols), sub = grid.window((150, 420, 380, 1200))
        >>> rows, cols, sub.shape, sub.transform.c, sub.transform.f
        (slice(0, 6, None), slice(1, 4, None), (6, 3), 100.0, 1000.0)
        >>> grid.window((2000, 0, 2100, 100))
        (None, None)
        """
        west, south, east, north = (float(v) for v in bounds)
        if not np.isfinite([west, south, east, north]).all():
            return None, None
        t = self.transform
        c0 = max(int(np.floor((west - t.c) / t.a)), 0)
        c1 = min(int(np.ceil((east - t.c) / t.a)), self.width)
        r0 = max(int(np.floor((north - t.f) / t.e)), 0)
        r1 = min(int(np.ceil((south - t.f) / t.e)), self.height)
        if r0 >= r1 or c0 >= c1:
            return None, None
        return (slice(r0, r1), slice(c0, c1)), Grid(self.crs, t * t.translation(c0, r0), (r1 - r0, c1 - c0))

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Boolean mask of the points that fall inside the grid."""
        row, col = self.rowcol(x, y)
        return (row >= 0) & (row < self.height) & (col >= 0) & (col < self.width)

    # layers ---------------------------------------------------------------------------------
    def wrap(
        self,
        data: Any,
        name: str,
        *,
        attrs: dict[str, Any] | None = None,
        nodata: float | int | None = None,
    ) -> xr.DataArray:
        """Wrap a 2-D array (numpy or dask) of this grid's shape as a named, georeferenced layer.

        Float layers use NaN for nodata; class layers use 0 unless ``nodata`` says otherwise.
        """
        if tuple(data.shape) != self.shape:
            msg = f"layer {name!r} has shape {tuple(data.shape)}, expected the grid shape {self.shape}"
            raise GridMismatchError(msg)
        da = xr.DataArray(data, dims=("y", "x"), coords={"y": self.ys, "x": self.xs}, name=name)
        da.attrs.update(attrs or {})
        return self.georef(da, nodata=nodata)

    def georef(self, da: xr.DataArray, *, nodata: float | int | None = None) -> xr.DataArray:
        """``da`` with this grid's CRS, transform and nodata (NaN for floats, else 0) attached.

        A new DataArray over the same values: rioxarray's ``write_*`` copy the values each
        (three whole-grid copies per layer), so they write into one shallow copy instead.
        """
        da = da.copy(deep=False)
        with warnings.catch_warnings():
            # pyproj's CF conversion of oblique projections (e.g. Swiss LV95) warns needlessly.
            warnings.filterwarnings("ignore", message="angle from rectified", category=UserWarning)
            da.rio.write_crs(self.crs.to_wkt(), inplace=True)
            da.rio.write_transform(self.transform, inplace=True)
        if nodata is None:
            nodata = np.nan if np.issubdtype(da.dtype, np.floating) else 0
        da.rio.write_nodata(nodata, encoded=False, inplace=True)
        _drop_accessor(da)
        return da

    def check(self, layer: xr.DataArray, what: str | None = None) -> None:
        """Raise :class:`GridMismatchError` if ``layer`` is not on this grid."""
        what = what or f"layer {layer.name!r}"
        if tuple(layer.shape[-2:]) != self.shape:
            msg = f"{what} has shape {tuple(layer.shape[-2:])}, expected the grid shape {self.shape}"
            raise GridMismatchError(msg)
        other = Grid.from_dataarray(layer)
        if other.crs != self.crs or not other.transform.almost_equals(self.transform, precision=1e-6):
            msg = f"{what} is on another grid ({other.crs.to_string()}, {other.transform!r}); expected {self}"
            raise GridMismatchError(msg)

    def __repr__(self) -> str:
        return (
            f"Grid(crs={self.crs.to_string()!r}, resolution={self.resolution:g} m, "
            f"shape={self.shape}, bounds={tuple(round(v, 1) for v in self.bounds)})"
        )


def _centre_lonlat(bounds: tuple[float, float, float, float], crs: CRS) -> tuple[float, float]:
    if crs.is_geographic:
        return ((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)
    w, s, e, n = transform_bounds(crs, WGS84, *bounds, densify_pts=21)
    return ((w + e) / 2, (s + n) / 2)


def georef_of(da: xr.DataArray) -> tuple[Any, Affine]:
    """``da``'s CRS (None without one) and transform, as rioxarray reads them, leaving no ``rio``
    accessor cached on ``da`` that was not there before (see :func:`_drop_accessor`)."""
    cached = "rio" in (getattr(da, "_cache", None) or {})
    crs, transform = da.rio.crs, da.rio.transform(recalc=False)
    if not cached:
        _drop_accessor(da)
    return crs, transform


def _drop_accessor(da: xr.DataArray) -> None:
    """Forget the ``rio`` accessor xarray cached on ``da``. The accessor refers back to the layer,
    a reference cycle that keeps a dropped layer's values until the garbage collector runs
    (about 110 MB of raw criteria on L at 100 m, held into the zones stage)."""
    cache = getattr(da, "_cache", None)
    if isinstance(cache, dict):
        cache.pop("rio", None)
