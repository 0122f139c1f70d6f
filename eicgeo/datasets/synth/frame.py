"""The region's frame and smooth noise.

The layout is planned in kilometres on a local equirectangular frame centred on the region (x east,
y north). :class:`Frame` converts between that frame and the EPSG:4326 grids of the written rasters,
whose extent is a multiple of both cell sizes so the land-cover and population grids align.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from rasterio.transform import Affine
from scipy import ndimage
from scipy.interpolate import RectBivariateSpline

__all__ = ["LC_RES", "POP_RES", "SIZES", "Frame", "Noise", "region_frame"]

#: Region side length in kilometres for each size.
SIZES: dict[str, float] = {"S": 48.0, "M": 96.0, "L": 192.0, "XL": 384.0}

LC_RES = 0.0003  # degrees, ~33 m: ESA WorldCover resampled 3x
POP_RES = 1.0 / 1200.0  # degrees, 3 arc-seconds: the WorldPop grid
_ALIGN = 0.0075  # degrees, smallest common multiple of both cell sizes
_LON_C, _LAT_C = 100.45, 14.80
_AREA_FACTOR = {"S": 1, "M": 4, "L": 16, "XL": 64}


@dataclass(frozen=True)
class Frame:
    """The region's extent and the local kilometre frame (x east, y north, origin at centre)."""

    size: str
    west: float
    south: float
    east: float
    north: float
    kx: float  # km per degree of longitude at the centre
    ky: float  # km per degree of latitude at the centre

    @property
    def lon0(self) -> float:
        return (self.west + self.east) / 2

    @property
    def lat0(self) -> float:
        return (self.south + self.north) / 2

    @property
    def hx(self) -> float:
        """Half width in km."""
        return (self.east - self.west) / 2 * self.kx

    @property
    def hy(self) -> float:
        """Half height in km."""
        return (self.north - self.south) / 2 * self.ky

    @property
    def factor(self) -> int:
        """Area relative to the S region (1, 4, 16 or 64)."""
        return _AREA_FACTOR[self.size]

    def shape(self, res: float) -> tuple[int, int]:
        """Rows and columns of the ``res``-degree grid."""
        return round((self.north - self.south) / res), round((self.east - self.west) / res)

    def transform(self, res: float) -> Affine:
        """Affine transform of the ``res``-degree grid in EPSG:4326."""
        return Affine(res, 0.0, self.west, 0.0, -res, self.north)

    def km_transform(self, res: float) -> Affine:
        """Affine transform of the ``res``-degree grid in the kilometre frame."""
        x0 = (self.west - self.lon0) * self.kx
        y0 = (self.north - self.lat0) * self.ky
        return Affine(res * self.kx, 0.0, x0, 0.0, -res * self.ky, y0)

    def axes(self, res: float) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre coordinates in km: ``xs`` along columns, ``ys`` along rows (north first)."""
        rows, cols = self.shape(res)
        xs = (self.west + (np.arange(cols) + 0.5) * res - self.lon0) * self.kx
        ys = (self.north - (np.arange(rows) + 0.5) * res - self.lat0) * self.ky
        return xs, ys

    def lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude of km-frame points."""
        return self.lon0 + np.asarray(x) / self.kx, self.lat0 + np.asarray(y) / self.ky

    def to_lonlat(self, geom: shapely.Geometry) -> shapely.Geometry:
        """A km-frame geometry in EPSG:4326 coordinates."""
        return shapely.transform(
            geom,
            lambda c: np.column_stack([self.lon0 + c[:, 0] / self.kx, self.lat0 + c[:, 1] / self.ky]),
        )

    def inside(self, x: np.ndarray, y: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """True for km points at least ``margin`` km inside the region."""
        return (np.abs(x) <= self.hx - margin) & (np.abs(y) <= self.hy - margin)


def region_frame(size: str) -> Frame:
    """The frame of a region of ``size`` ("S", "M", "L" or "XL"), aligned on both raster grids."""
    phi = math.radians(_LAT_C)
    kx = 111.41284 * math.cos(phi) - 0.0935 * math.cos(3 * phi)
    ky = 111.13292 - 0.55982 * math.cos(2 * phi) + 0.001175 * math.cos(4 * phi)
    side = SIZES[size]
    width = math.ceil(side / kx / _ALIGN) * _ALIGN
    height = math.ceil(side / ky / _ALIGN) * _ALIGN
    west = round(round((_LON_C - width / 2) / _ALIGN) * _ALIGN, 9)
    south = round(round((_LAT_C - height / 2) / _ALIGN) * _ALIGN, 9)
    return Frame(size, west, south, round(west + width, 9), round(south + height, 9), kx, ky)


class Noise:
    """A smooth Gaussian random field (mean 0, sd about 1) over the region.

    White noise on a lattice of spacing ``scale_km / 2.5``, smoothed, then interpolated by a
    bicubic spline, so thresholded contours are smooth (no blocky artefacts).
    """

    def __init__(self, rng: np.random.Generator, frame: Frame, scale_km: float) -> None:
        step = scale_km / 2.5
        pad = 4 * step
        nx = math.ceil((2 * frame.hx + 2 * pad) / step) + 1
        ny = math.ceil((2 * frame.hy + 2 * pad) / step) + 1
        field_ = ndimage.gaussian_filter(rng.standard_normal((ny, nx)), 1.0, mode="wrap")
        field_ /= field_.std()
        xs = -frame.hx - pad + step * np.arange(nx)
        ys = -frame.hy - pad + step * np.arange(ny)
        self._spline = RectBivariateSpline(ys, xs, field_, kx=3, ky=3)

    def at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Values at points (km)."""
        return self._spline.ev(np.asarray(y, float), np.asarray(x, float))

    def grid(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """float32 values on the grid of column coordinates ``xs`` and descending row ``ys``."""
        return self._spline(ys[::-1], xs)[::-1].astype(np.float32)
