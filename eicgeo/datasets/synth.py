"""Seeded generator of a synthetic Southeast-Asian peri-urban sample region.

The region is fictional. It sits in the central Thai lowlands (about 100.45 E, 14.80 N, UTM 47N)
so that projections, cell sizes and the local UTM zone are realistic, but the geography matches no
basemap. It has a primary city (Clark's negative-exponential density), satellite towns on radial
highways, villages in rice land, a meandering river, a floodplain lake, limestone hills with forest
and quarries, industrial estates, raw-material sources and firms that exchange by-products.

Every modelling assumption (densities, tonnages, speeds, proportions) is documented in
``sample_data/README.md``. The layout is planned in kilometres on a local equirectangular frame
centred on the region; rasters and vectors are written in EPSG:4326 like the real products
(ESA WorldCover, WorldPop, OpenStreetMap).

Examples
--------
>>> from eicgeo.datasets.synth import generate
>>> path = generate("peri_urban_demo", size="S")  # doctest: +SKIP
"""

from __future__ import annotations

import bz2
import itertools
import json
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
import shapely
from rasterio.features import rasterize
from rasterio.transform import Affine
from rasterio.warp import Resampling, reproject
from scipy import ndimage, sparse
from scipy.interpolate import RectBivariateSpline
from scipy.sparse import csgraph
from scipy.spatial import Delaunay, cKDTree
from shapely.geometry import LineString, Point, Polygon

from eicgeo._errors import InputError

__all__ = ["DEFAULT_SEED", "SIZES", "generate"]

#: Region side length in kilometres for each size.
SIZES: dict[str, float] = {"S": 48.0, "M": 96.0, "L": 192.0}
#: The seed of the committed sample region.
DEFAULT_SEED = 20261129
#: The files of a generated region (and its ``manifest.json``).
FILES: tuple[str, ...] = (
    "landcover.tif",
    "population.tif",
    "roads.osm.bz2",
    "sources.gpkg",
    "firms.csv",
    "scenario.toml",
)

_LC_RES = 0.0003  # degrees, ~33 m: ESA WorldCover resampled 3x
_POP_RES = 1.0 / 1200.0  # degrees, 3 arc-seconds: the WorldPop grid
_ALIGN = 0.0075  # degrees, smallest common multiple of both cell sizes
_LON_C, _LAT_C = 100.45, 14.80
_AREA_FACTOR = {"S": 1, "M": 4, "L": 16}

# ESA WorldCover 2021 class codes.
TREE, SHRUB, GRASS, CROP, BUILT, BARE, WATER, WETLAND = 10, 20, 30, 40, 50, 60, 80, 90
_WORLDCOVER_COLORS = {
    10: (0, 100, 0),
    20: (255, 187, 34),
    30: (255, 255, 76),
    40: (240, 150, 255),
    50: (250, 0, 0),
    60: (180, 180, 180),
    70: (240, 240, 240),
    80: (0, 100, 200),
    90: (0, 150, 160),
    95: (0, 207, 117),
    100: (250, 230, 160),
}

_SCENARIO = """\
# eicgeo scenario for the synthetic peri-urban demo region (see sample_data/README.md)
name = "peri_urban_demo"
preset = "balanced"

[grid]
crs = "auto"        # local UTM zone
resolution = 100    # metres

[inputs]
landcover = "landcover.tif"
legend = "esa_worldcover"
population = "population.tif"
roads = "roads.osm.bz2"
sources = "sources.gpkg"
firms = "firms.csv"
"""


# --------------------------------------------------------------------------------------------
# Frame, noise and names
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Frame:
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
        """Area relative to the S region (1, 4 or 16)."""
        return _AREA_FACTOR[self.size]

    def shape(self, res: float) -> tuple[int, int]:
        return round((self.north - self.south) / res), round((self.east - self.west) / res)

    def transform(self, res: float) -> Affine:
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
        return self.lon0 + np.asarray(x) / self.kx, self.lat0 + np.asarray(y) / self.ky

    def to_lonlat(self, geom: shapely.Geometry) -> shapely.Geometry:
        """A km-frame geometry in EPSG:4326 coordinates."""
        return shapely.transform(
            geom,
            lambda c: np.column_stack([self.lon0 + c[:, 0] / self.kx, self.lat0 + c[:, 1] / self.ky]),
        )

    def inside(self, x: np.ndarray, y: np.ndarray, margin: float = 0.0) -> np.ndarray:
        return (np.abs(x) <= self.hx - margin) & (np.abs(y) <= self.hy - margin)


def _frame(size: str) -> _Frame:
    """The frame of a region of ``size`` ("S", "M" or "L"), aligned on both raster grids."""
    phi = math.radians(_LAT_C)
    kx = 111.41284 * math.cos(phi) - 0.0935 * math.cos(3 * phi)
    ky = 111.13292 - 0.55982 * math.cos(2 * phi) + 0.001175 * math.cos(4 * phi)
    side = SIZES[size]
    width = math.ceil(side / kx / _ALIGN) * _ALIGN
    height = math.ceil(side / ky / _ALIGN) * _ALIGN
    west = round(round((_LON_C - width / 2) / _ALIGN) * _ALIGN, 9)
    south = round(round((_LAT_C - height / 2) / _ALIGN) * _ALIGN, 9)
    return _Frame(size, west, south, round(west + width, 9), round(south + height, 9), kx, ky)


class _Noise:
    """A smooth Gaussian random field (mean 0, sd about 1) over the region.

    White noise on a lattice of spacing ``scale_km / 2.5``, smoothed, then interpolated by a
    bicubic spline, so thresholded contours are smooth (no blocky artefacts).
    """

    def __init__(self, rng: np.random.Generator, frame: _Frame, scale_km: float) -> None:
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


_SYLLABLES = (
    "Sai",
    "Mai",
    "Yai",
    "Noi",
    "Pho",
    "Bua",
    "Kham",
    "Ngam",
    "Sawang",
    "Thong",
    "Phai",
    "Makham",
    "Yang",
    "Krathum",
    "Takhian",
    "Samrong",
    "Kradan",
    "Chan",
    "Lamyai",
    "Muang",
    "Sadao",
    "Khae",
    "Rang",
    "Klang",
    "Tan",
    "Kung",
    "Chang",
    "Hin",
    "Sok",
    "Krabok",
    "Prong",
    "Pradu",
    "Kaeo",
    "Rin",
    "Mon",
    "Lom",
    "Fai",
    "Ta Phut",
    "Khanun",
    "Phrao",
    "Sanuan",
    "Phikun",
    "Chamuang",
)
_PREFIXES = ("Ban", "Ban", "Ban", "Nong", "Khlong", "Don", "Khok", "Tha", "Bang", "Wat", "Nong")
_SUFFIXES = ("Nuea", "Tai", "Tok", "Ok", "Klang", "Mai")
_WORDS = (
    "Charoen",
    "Pattana",
    "Rung Rueang",
    "Sombat",
    "Mongkhon",
    "Thawi",
    "Kasem",
    "Chok Chai",
    "Ruam Chai",
    "Sahakit",
    "Kit Charoen",
    "Phon",
    "Thong Di",
    "Sin Suk",
    "Wattana",
    "Prasert",
    "Somboon",
    "Udom",
    "Saeng",
    "Thanakit",
    "Boon",
    "Nakhon",
    "Kamol",
    "Rattana",
    "Sri",
    "Suwan",
)


class _Namer:
    """Fictional, unique place names built from common Thai place-name elements."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def _pick(self, items: tuple[str, ...]) -> str:
        return items[int(self.rng.integers(len(items)))]

    def place(self, prefixes: tuple[str, ...] = _PREFIXES) -> str:
        for _ in range(50):
            name = f"{self._pick(prefixes)} {self._pick(_SYLLABLES)}"
            if self.rng.random() < 0.35:
                name = f"{name} {self._pick(_SYLLABLES)}"
            if name in self.used:
                name = f"{name} {self._pick(_SUFFIXES)}"
            if name not in self.used:
                self.used.add(name)
                return name
        name = f"{self._pick(prefixes)} {self._pick(_SYLLABLES)} {len(self.used)}"
        self.used.add(name)
        return name

    def word(self) -> str:
        """A name without a place prefix, for streets and rivers."""
        return self.place(("",)).strip()

    def firm(self) -> str:
        return f"{self._pick(_WORDS)} {self._pick(_WORDS)}"


# --------------------------------------------------------------------------------------------
# Geometry helpers (km frame)
# --------------------------------------------------------------------------------------------


def _linestrings(polylines: list[np.ndarray]) -> np.ndarray:
    """An array of LineStrings from a list of (n, 2) polylines."""
    if not polylines:
        return np.empty(0, object)
    idx = np.repeat(np.arange(len(polylines)), [len(xy) for xy in polylines])
    return shapely.linestrings(np.vstack(polylines), indices=idx)


def _cumlen(xy: np.ndarray) -> np.ndarray:
    """Cumulative length (km) along a polyline."""
    return np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])


def _at(xy: np.ndarray, s: float | np.ndarray) -> np.ndarray:
    """Point(s) at arc length ``s`` (km) along a polyline."""
    cl = _cumlen(xy)
    s = np.clip(s, 0, cl[-1])
    return np.column_stack([np.interp(s, cl, xy[:, 0]), np.interp(s, cl, xy[:, 1])]).squeeze()


def _tangent(xy: np.ndarray, s: float) -> np.ndarray:
    """Unit tangent at arc length ``s``."""
    d = _at(xy, s + 0.05) - _at(xy, s - 0.05)
    return d / max(np.hypot(*d), 1e-9)


def _normals(xy: np.ndarray) -> np.ndarray:
    """Unit left normals at the vertices of a polyline."""
    d = np.gradient(xy, axis=0)
    d /= np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-12)[:, None]
    return np.column_stack([-d[:, 1], d[:, 0]])


def _wiggly(
    p0: np.ndarray,
    p1: np.ndarray,
    rng: np.random.Generator,
    *,
    step: float = 0.1,
    amp: float = 0.03,
) -> np.ndarray:
    """A gently curving road from ``p0`` to ``p1`` with shape nodes every ``step`` km.

    The lateral offset is a sum of three sine harmonics (zero at both ends) of random amplitude
    ``amp`` times the length, so the ends stay exactly at ``p0`` and ``p1``.
    """
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    length = float(np.hypot(*(p1 - p0)))
    n = max(1, math.ceil(length / step))
    t = np.linspace(0.0, 1.0, n + 1)
    k = np.arange(1, 4)
    a = rng.normal(0.0, amp * length / k)
    off = (a[None, :] * np.sin(np.pi * t[:, None] * k[None, :])).sum(axis=1)
    d = (p1 - p0) / max(length, 1e-12)
    xy = p0 + t[:, None] * (p1 - p0) + off[:, None] * np.array([-d[1], d[0]])
    xy[0], xy[-1] = p0, p1
    return xy


def _path(
    start: np.ndarray,
    heading: float,
    rng: np.random.Generator,
    frame: _Frame,
    *,
    step: float = 0.1,
    margin: float = 0.2,
    sway: float = 0.06,
) -> np.ndarray:
    """A long road leaving ``start`` at ``heading`` (radians) until the region edge.

    The heading drifts as a sum of sines of 6, 15 and 35 km wavelength (``sway`` radians each).
    """
    lam = np.array([6.0, 15.0, 35.0])
    amp = sway * rng.uniform(0.6, 1.2, 3)
    phase = rng.uniform(0, 2 * np.pi, 3)
    pts = [np.asarray(start, float)]
    s = 0.0
    limit = 3 * (frame.hx + frame.hy)
    while s < limit:
        h = heading + float((amp * np.sin(2 * np.pi * s / lam + phase) - amp * np.sin(phase)).sum())
        nxt = pts[-1] + step * np.array([math.cos(h), math.sin(h)])
        if not frame.inside(nxt[0], nxt[1], margin):
            break
        pts.append(nxt)
        s += step
    return np.array(pts)


def _blob(centre: np.ndarray, radius: float, rng: np.random.Generator, *, rough: float = 0.25, n: int = 72) -> Polygon:
    """An irregular round polygon (lake, quarry, housing patch) of mean ``radius`` km."""
    phi = np.linspace(0, 2 * np.pi, n, endpoint=False)
    k = np.arange(2, 7)
    a = rng.normal(0, rough / k)
    ph = rng.uniform(0, 2 * np.pi, k.size)
    r = radius * (1 + (a[None, :] * np.sin(k[None, :] * phi[:, None] + ph[None, :])).sum(axis=1))
    r = np.maximum(r, 0.3 * radius)
    return Polygon(np.column_stack([centre[0] + r * np.cos(phi), centre[1] + r * np.sin(phi)]))


def _poisson_disc(
    rng: np.random.Generator,
    candidates: np.ndarray,
    n: int,
    min_dist: float,
    taken: np.ndarray | None = None,
) -> np.ndarray:
    """Greedily pick up to ``n`` of ``candidates`` (k, 2) at least ``min_dist`` km apart."""
    cell = min_dist / math.sqrt(2)
    grid: dict[tuple[int, int], list[np.ndarray]] = {}

    def ok(p: np.ndarray) -> bool:
        i, j = int(p[0] // cell), int(p[1] // cell)
        for di in (-2, -1, 0, 1, 2):
            for dj in (-2, -1, 0, 1, 2):
                for q in grid.get((i + di, j + dj), ()):
                    if (p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 < min_dist**2:
                        return False
        return True

    def add(p: np.ndarray) -> None:
        grid.setdefault((int(p[0] // cell), int(p[1] // cell)), []).append(p)

    for p in [] if taken is None else taken:
        add(p)
    out: list[np.ndarray] = []
    for p in candidates[rng.permutation(len(candidates))]:
        if ok(p):
            add(p)
            out.append(p)
            if len(out) >= n:
                break
    return np.array(out).reshape(-1, 2)


# --------------------------------------------------------------------------------------------
# Physical geography: hills, river, lakes
# --------------------------------------------------------------------------------------------


@dataclass
class _Terrain:
    """An upland index: below 0 the alluvial plain, above 0 hills, above ~0.5 forested uplands.

    A tilted ramp towards one corner (the hill front, ``band`` km wide) plus three scales of noise
    and isolated limestone (karst) hills, like the Lop Buri and Saraburi hills of central Thailand.
    """

    ux: float
    uy: float
    p0: float
    band: float
    huge: _Noise
    big: _Noise
    small: _Noise
    bumps: np.ndarray  # (k, 4): x, y, radius (km), height

    def at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x, y = np.asarray(x, float), np.asarray(y, float)
        h = (x * self.ux + y * self.uy - self.p0) / self.band
        h = h + 0.5 * self.huge.at(x, y) + 0.8 * self.big.at(x, y) + 0.35 * self.small.at(x, y)
        for bx, by, r, hgt in self.bumps:
            h = h + hgt * np.exp(-((x - bx) ** 2 + (y - by) ** 2) / r**2)
        return h

    def grid(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        h = ((xs[None, :] * self.ux + ys[:, None] * self.uy - self.p0) / self.band).astype(np.float32)
        h += 0.5 * self.huge.grid(xs, ys)
        h += 0.8 * self.big.grid(xs, ys)
        h += 0.35 * self.small.grid(xs, ys)
        for bx, by, r, hgt in self.bumps:
            c0, c1 = np.searchsorted(xs, [bx - 3 * r, bx + 3 * r])
            r0, r1 = np.searchsorted(-ys, [-(by + 3 * r), -(by - 3 * r)])
            d2 = (xs[None, c0:c1] - bx) ** 2 + (ys[r0:r1, None] - by) ** 2
            h[r0:r1, c0:c1] += (hgt * np.exp(-d2 / r**2)).astype(np.float32)
        return h


def _terrain(rng: np.random.Generator, frame: _Frame, city: np.ndarray) -> _Terrain:
    theta = math.radians(rng.uniform(32, 52))
    ux, uy = math.cos(theta), math.sin(theta)
    side = SIZES[frame.size]
    p0 = 0.62 * (frame.hx * ux + frame.hy * uy)
    band = 0.085 * side
    terrain = _Terrain(
        ux,
        uy,
        p0,
        band,
        _Noise(rng, frame, 0.3 * side),
        _Noise(rng, frame, 6.0),
        _Noise(rng, frame, 1.5),
        np.empty((0, 4)),
    )
    # isolated karst hills on the hill side of the plain
    n = 3 * frame.factor
    pts = np.column_stack([rng.uniform(-frame.hx, frame.hx, 40 * n), rng.uniform(-frame.hy, frame.hy, 40 * n)])
    proj = pts @ np.array([ux, uy])
    ok = (proj > 0.25 * p0) & (proj < 0.95 * p0) & (np.hypot(*(pts - city).T) > 13)
    ok &= frame.inside(pts[:, 0], pts[:, 1], 2.0)
    chosen = _poisson_disc(rng, pts[ok], n, 6.0)
    radii = rng.uniform(0.5, 1.3, len(chosen))
    base = terrain.at(chosen[:, 0], chosen[:, 1])
    heights = np.maximum(0.0, -base) + rng.uniform(0.8, 1.6, len(chosen))
    terrain.bumps = np.column_stack([chosen, radii, heights])
    return terrain


@dataclass
class _River:
    name: str
    xy: np.ndarray  # centreline, north to south (km)
    width: float  # km

    @property
    def line(self) -> LineString:
        return LineString(self.xy)

    @property
    def polygon(self) -> Polygon:
        return self.line.buffer(self.width / 2, quad_segs=4)


def _river(rng: np.random.Generator, frame: _Frame, city: np.ndarray, namer: _Namer) -> _River:
    """A meandering lowland river from the north edge to the south edge, ~1.2 km west of the city.

    Meanders are a sum of sines of 2.5-23 km wavelength with amplitude ~9 % of the wavelength,
    plus a slow westward drift (away from the hills) north of the city.
    """
    y = np.arange(frame.hy + 1.0, -frame.hy - 1.0, -0.05)
    lam = np.array([2.5, 5.0, 11.0, 23.0])
    amp = 0.09 * lam * rng.uniform(0.6, 1.2, lam.size)
    phase = rng.uniform(0, 2 * np.pi, lam.size)

    def meander(v: np.ndarray) -> np.ndarray:
        return (amp[None, :] * np.sin(2 * np.pi * v[:, None] / lam[None, :] + phase[None, :])).sum(axis=1)

    drift = rng.uniform(-0.12, -0.03)
    x = city[0] - 1.2 + meander(y) - meander(np.array([city[1]]))[0] + drift * (y - city[1])
    return _River(f"Mae Nam {namer.word()}", np.column_stack([x, y]), 0.2)


# --------------------------------------------------------------------------------------------
# Settlements and the plan of the region
# --------------------------------------------------------------------------------------------


@dataclass
class _Settlement:
    """A city, town or village with Clark's negative-exponential density D(r) = d0 exp(-r / b)."""

    name: str
    kind: str  # "city" | "town" | "village"
    x: float
    y: float
    population: float  # people
    d0: float = 0.0  # people per km2 at the centre
    axis: float = 0.0  # radians, direction of elongation
    elong: float = 1.0  # anisotropy (area preserving)
    radius: float = 0.0  # km, built-up radius of a village

    @property
    def b(self) -> float:
        """Clark gradient length (km) such that 2 pi d0 b^2 equals the population."""
        return math.sqrt(self.population / (2 * math.pi * self.d0)) if self.d0 else 0.0

    @property
    def xy(self) -> np.ndarray:
        return np.array([self.x, self.y])

    def density(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Clark density (people per km2) at points or on broadcast grids (km)."""
        dx, dy = x - self.x, y - self.y
        c, s = math.cos(self.axis), math.sin(self.axis)
        along, across = dx * c + dy * s, -dx * s + dy * c
        d = np.hypot(along / self.elong, across * self.elong)
        return self.d0 * np.exp(-d / self.b)


@dataclass
class _Line:
    """A road polyline in km with its OSM tags."""

    xy: np.ndarray
    tags: dict[str, str]
    level: int = 0  # 0 = at-grade network, 1 = motorway carriageways and ramps
    group: int = -1  # the major road it belongs to
    target: int = -1  # ramps: index of the at-grade road they join


@dataclass
class _Plan:
    frame: _Frame
    terrain: _Terrain
    river: _River
    city: _Settlement
    ring: np.ndarray  # closed polyline (km) of the ring motorway
    towns: list[_Settlement]
    majors: list[_Line]  # at-grade trunk, primary and secondary roads
    motorways: list[tuple[np.ndarray, str, str]]  # centreline, name, ref
    lakes: list[tuple[str, Polygon]] = field(default_factory=list)
    reservoirs: list[tuple[str, Polygon]] = field(default_factory=list)
    estates: list[tuple[str, Polygon, int]] = field(default_factory=list)  # name, polygon, road
    quarries: list[tuple[str, str, Polygon]] = field(default_factory=list)  # name, material, polygon
    villages: list[_Settlement] = field(default_factory=list)
    housing: list[tuple[str, Polygon, float]] = field(default_factory=list)  # name, polygon, angle

    @property
    def settlements(self) -> list[_Settlement]:
        return [self.city, *self.towns]

    def urban_density(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Summed Clark density of the city and towns (people per km2)."""
        return sum(s.density(x, y) for s in self.settlements)

    @property
    def water(self) -> shapely.Geometry:
        return shapely.union_all([self.river.polygon] + [p for _, p in self.lakes + self.reservoirs])


def _ring(rng: np.random.Generator, centre: np.ndarray, radius: float) -> np.ndarray:
    """Closed, slightly irregular ring of mean ``radius`` km (first point repeated at the end)."""
    n = math.ceil(2 * math.pi * radius / 0.1)
    phi = np.linspace(0, 2 * np.pi, n, endpoint=False)
    a2, a3 = rng.uniform(0.03, 0.06), rng.uniform(0.01, 0.03)
    p2, p3 = rng.uniform(0, 2 * np.pi, 2)
    r = radius * (1 + a2 * np.sin(2 * phi + p2) + a3 * np.sin(3 * phi + p3))
    xy = centre + np.column_stack([r * np.cos(phi), r * np.sin(phi)])
    return np.vstack([xy, xy[:1]])


def _gabriel(pts: np.ndarray) -> np.ndarray:
    """Edges (k, 2) of the Gabriel graph of points (a planar subgraph of the Delaunay graph)."""
    if len(pts) < 2:
        return np.empty((0, 2), int)
    if len(pts) < 4:
        e = np.array([(i, j) for i in range(len(pts)) for j in range(i + 1, len(pts))])
    else:
        tri = Delaunay(pts).simplices
        e = np.vstack([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]])
        e = np.unique(np.sort(e, axis=1), axis=0)
    mid = (pts[e[:, 0]] + pts[e[:, 1]]) / 2
    rad = np.hypot(*(pts[e[:, 0]] - pts[e[:, 1]]).T) / 2
    d, idx = cKDTree(pts).query(mid, k=min(3, len(pts)))
    d, idx = d.reshape(len(e), -1), idx.reshape(len(e), -1)
    other = (idx != e[:, [0]]) & (idx != e[:, [1]])
    return e[~(other & (d < 0.999 * rad[:, None])).any(axis=1)]


def _plan(rng: np.random.Generator, frame: _Frame, namer: _Namer) -> _Plan:
    """Lay out the city, river, radial highways, ring road, towns and their links."""
    centre = rng.uniform(-1.5, 1.5, 2)
    terrain = _terrain(rng, frame, centre)
    river = _river(rng, frame, centre, namer)
    t = _tangent(river.xy, float(np.argmin(np.abs(river.xy[:, 1] - centre[1]))) * 0.05)
    city_name = "Nakhon Thong Rin"
    city = _Settlement(
        city_name,
        "city",
        *centre,
        rng.uniform(1.20e6, 1.26e6),
        d0=19000.0,
        axis=math.atan2(t[1], t[0]),
        elong=1.2,
    )
    ring = _ring(rng, centre, rng.uniform(8.5, 10.5))
    ring_poly = Polygon(ring)
    base = rng.uniform(-8, 8)
    headings = [math.radians(base + 60 * i + rng.uniform(-6, 6)) for i in range(6)]
    motorway_i = int(rng.choice([4, 5]))
    majors: list[_Line] = []
    motorways: list[tuple[np.ndarray, str, str]] = []
    towns: list[_Settlement] = []
    river_line = river.line
    for i, h in enumerate(headings):
        path = _path(centre, h, rng, frame, sway=0.05)
        outside = ~shapely.contains_xy(ring_poly, path[:, 0], path[:, 1])
        s_exit = _cumlen(path)[int(np.argmax(outside))]
        k = int(np.searchsorted(_cumlen(path), s_exit + (1.2 if i == motorway_i else 0.6)))
        ref = str(301 + 10 * i + int(rng.integers(0, 9)))
        if i == motorway_i:
            tags = {"highway": "primary", "name": f"Thanon {namer.word()}", "lanes": "6"}
            majors.append(_Line(path[: k + 1], tags, group=i))
            motorways.append((path[k:], f"{city_name} - Capital Motorway", "35"))
            continue
        # a satellite town 14-22 km out, on dry, flat land away from the river
        cl = _cumlen(path)
        cand = np.flatnonzero((cl >= 14) & (cl <= 22))
        town = None
        for j in rng.permutation(cand)[:40]:
            p = path[j]
            if (
                terrain.at(p[0], p[1]) < -0.8
                and river_line.distance(Point(p)) > 2.5
                and frame.inside(p[0], p[1], 4.0)
                and len(towns) < 5
            ):
                town = _Settlement(
                    namer.place(("Tha", "Bang", "Nong", "Don", "Khok", "Wang")),
                    "town",
                    *p,
                    rng.uniform(40e3, 85e3),
                    d0=rng.uniform(8000, 10000),
                    axis=h,
                )
                break
        dest = town.name if town else "Province Boundary"
        tags = {"highway": "primary", "name": f"Thanon {namer.word()}", "lanes": "4"}
        majors.append(_Line(path[: k + 1], tags, group=i))
        tags = {
            "highway": "trunk",
            "name": f"{city_name} - {dest} Highway",
            "ref": ref,
            "lanes": "4",
            "maxspeed": "80",
        }
        majors.append(_Line(path[k:], tags, group=i))
        if town:
            towns.append(town)
    total = sum(t.population for t in towns)
    for t in towns:  # the towns together hold at most 300,000 people
        t.population *= min(1.0, 300e3 / total)
    # outer towns (M and L only), then primary roads linking neighbouring towns
    if frame.factor > 1:
        n = {4: 6, 16: 28}[frame.factor]
        pts = np.column_stack([rng.uniform(-frame.hx, frame.hx, 400 * n), rng.uniform(-frame.hy, frame.hy, 400 * n)])
        ok = (np.hypot(*(pts - centre).T) > 28) & frame.inside(pts[:, 0], pts[:, 1], 4.0)
        ok[ok] &= terrain.at(pts[ok, 0], pts[ok, 1]) < -1.0
        ok[ok] &= shapely.distance(shapely.points(pts[ok]), river_line) > 2.5
        taken = np.array([t.xy for t in towns]).reshape(-1, 2)
        for p in _poisson_disc(rng, pts[ok], n, 16.0, taken=taken):
            pop = float(np.clip(rng.lognormal(math.log(35e3), 0.5), 15e3, 120e3))
            towns.append(
                _Settlement(
                    namer.place(("Tha", "Bang", "Nong", "Don", "Khok", "Wang")),
                    "town",
                    *p,
                    pop,
                    d0=rng.uniform(7000, 9500),
                )
            )
    tpts = np.array([t.xy for t in towns])
    for a, b in _gabriel(tpts):
        seg = LineString([tpts[a], tpts[b]])
        if seg.distance(Point(centre)) < 11 or seg.length > 45:
            continue
        tags = {
            "highway": "primary",
            "name": f"Thanon {towns[a].name} - {towns[b].name}",
            "lanes": "2",
        }
        if rng.random() < 0.5:
            tags["maxspeed"] = "60"
        majors.append(_Line(_wiggly(tpts[a], tpts[b], rng, step=0.1, amp=0.035), tags, group=100 + len(majors)))
    inner = _ring(rng, centre, rng.uniform(3.4, 4.2))
    majors.append(_Line(inner, {"highway": "secondary", "name": "Thanon Rop Mueang", "lanes": "4"}, group=99))
    motorways.insert(0, (ring, f"{city_name} Outer Ring Road", "9"))
    return _Plan(frame, terrain, river, city, ring, towns, majors, motorways)


class _SegmentIndex:
    """Nearest-distance queries (km) from points to a set of polylines."""

    def __init__(self, polylines: Iterable[np.ndarray]) -> None:
        segs = [np.stack([xy[:-1], xy[1:]], axis=1) for xy in polylines if len(xy) > 1]
        self.segments = shapely.linestrings(np.concatenate(segs)) if segs else np.empty(0, object)
        self.tree = shapely.STRtree(self.segments)

    def distance(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, float).reshape(-1, 2)
        if len(self.segments) == 0:
            return np.full(len(xy), np.inf)
        idx, dist = self.tree.query_nearest(shapely.points(xy), return_distance=True, all_matches=False)
        out = np.full(len(xy), np.inf)
        out[idx[0]] = dist
        return out


def _road_index(plan: _Plan) -> _SegmentIndex:
    return _SegmentIndex([ln.xy for ln in plan.majors] + [m[0] for m in plan.motorways])


def _place_water_bodies(rng: np.random.Generator, plan: _Plan, namer: _Namer) -> None:
    """A floodplain lake (bueng) per S-sized area and a reservoir in the hills."""
    frame, side = plan.frame, SIZES[plan.frame.size]
    roads = _road_index(plan)
    river = _SegmentIndex([plan.river.xy])
    n_lakes, n_res = {1: (1, 1), 4: (2, 2), 16: (5, 3)}[frame.factor]
    for kind, n in (("lake", n_lakes), ("reservoir", n_res)):
        pts = np.column_stack([rng.uniform(-frame.hx, frame.hx, 3000), rng.uniform(-frame.hy, frame.hy, 3000)])
        hill = plan.terrain.at(pts[:, 0], pts[:, 1])
        dcity = np.hypot(*(pts - plan.city.xy).T)
        droad, driver = roads.distance(pts), river.distance(pts)
        placed: list[Polygon] = []
        for j in range(len(pts)):
            if len(placed) >= n:
                break
            r = rng.uniform(1.3, 2.0) if kind == "lake" else rng.uniform(0.7, 1.1)
            p = pts[j]
            ok = frame.inside(p[0], p[1], r + 1.0) and droad[j] > r + 1.2
            if kind == "lake":
                ok = ok and hill[j] < -1.5 and driver[j] > r + 1.2 and 10 < dcity[j] < 0.42 * side
            else:
                ok = ok and 0.4 < hill[j] < 2.0 and driver[j] > r + 1.0
            if not ok or any(q.distance(Point(p)) < 2.5 * r for q in placed):
                continue
            poly = _blob(p, r, rng, rough=0.25 if kind == "lake" else 0.35)
            placed.append(poly)
            if kind == "lake":
                plan.lakes.append((f"Bueng {namer.word()}", poly))
            else:
                plan.reservoirs.append((f"Ang Kep Nam {namer.word()}", poly))


def _place_estates(rng: np.random.Generator, plan: _Plan, namer: _Namer) -> None:
    """Industrial estates: 1-4 km2 blocks beside the trunk roads, 6-20 km from the city centre."""
    frame = plan.frame
    n_core = int(rng.integers(5, 9))
    n = n_core * {1: 1, 4: 3, 16: 8}[frame.factor]
    roads = [i for i, ln in enumerate(plan.majors) if ln.tags["highway"] == "trunk"]
    if frame.factor > 1:
        roads += [i for i, ln in enumerate(plan.majors) if ln.group >= 100]
    others = shapely.union_all([LineString(ln.xy) for ln in plan.majors] + [LineString(m[0]) for m in plan.motorways])
    water = plan.water.buffer(0.3)
    ring = LineString(plan.ring)
    suffixes = ("Industrial Estate", "Industrial Park", "Industrial Zone", "Industrial City")
    for _ in range(400 * n):
        if len(plan.estates) >= n:
            break
        i = roads[int(rng.integers(len(roads)))]
        xy = plan.majors[i].xy
        cl = _cumlen(xy)
        k = int(rng.integers(5, len(xy) - 5))
        p, t = xy[k], _tangent(xy, cl[k])
        dcity = float(np.hypot(*(p - plan.city.xy)))
        if len(plan.estates) < n_core:
            if not 6 <= dcity <= 20:
                continue
        elif dcity < 6 or min(np.hypot(*(p - s.xy)) for s in plan.towns) > 12:
            continue
        nv = np.array([-t[1], t[0]]) * rng.choice([-1.0, 1.0])
        a = rng.uniform(1.2, 2.4)
        depth = float(np.clip(rng.uniform(1.0, 4.0) / a, 0.5, 1.8))
        corners = np.array(
            [
                p - t * a / 2 + nv * 0.08,
                p + t * a / 2 + nv * 0.08,
                p + t * a / 2 + nv * (0.08 + depth),
                p - t * a / 2 + nv * (0.08 + depth),
            ]
        )
        poly = Polygon(corners + rng.normal(0, 0.05, corners.shape))
        c = np.array(poly.centroid.coords[0])
        samples = np.vstack([corners, c])
        if (
            not poly.is_valid
            or not frame.inside(samples[:, 0], samples[:, 1], 1.0).all()
            or poly.intersects(water)
            or poly.intersects(others)
            or poly.distance(ring) < 0.6
            or (plan.terrain.at(samples[:, 0], samples[:, 1]) > -0.3).any()
            or plan.urban_density(c[0], c[1]) > 4000
            or min(np.hypot(*(c - s.xy)) for s in plan.towns) < 2.0
            or any(poly.distance(e[1]) < 0.8 for e in plan.estates)
        ):
            continue
        near = min(plan.settlements, key=lambda s: np.hypot(*(c - s.xy)))
        name = f"{near.name} {suffixes[sum(near.name in e[0] for e in plan.estates) % 4]}"
        plan.estates.append((name, poly, i, k))


def _place_quarries(rng: np.random.Generator, plan: _Plan, namer: _Namer) -> None:
    """Limestone and hard-rock quarries (0.3-0.9 km2 pits) on the hill front and karst hills."""
    frame = plan.frame
    n_lime, n_stone = 3 * frame.factor, 2 * frame.factor
    pts = np.column_stack([rng.uniform(-frame.hx, frame.hx, 4000), rng.uniform(-frame.hy, frame.hy, 4000)])
    hill = plan.terrain.at(pts[:, 0], pts[:, 1])
    ok = (hill > 0.0) & (hill < 0.9) & (np.hypot(*(pts - plan.city.xy).T) > 14)
    ok &= frame.inside(pts[:, 0], pts[:, 1], 1.5) & (_road_index(plan).distance(pts) > 0.6)
    water = plan.water
    chosen = [p for p in _poisson_disc(rng, pts[ok], 3 * (n_lime + n_stone), 2.5) if water.distance(Point(p)) > 1.0]
    for j, p in enumerate(chosen[: n_lime + n_stone]):
        material = "limestone" if j % 5 in (0, 2, 4) else "quarry_stone"
        name = f"Khao {namer.word()} {'Limestone' if material == 'limestone' else 'Rock'} Quarry"
        plan.quarries.append((name, material, _blob(p, rng.uniform(0.3, 0.55), rng, rough=0.3, n=40)))


def _place_villages(rng: np.random.Generator, plan: _Plan, namer: _Namer) -> None:
    """Villages of 400-3,000 people (log-normal, median 850) at least 1.7 km apart in the plain."""
    frame = plan.frame
    n = 115 * frame.factor
    pts = np.column_stack([rng.uniform(-frame.hx, frame.hx, 60 * n), rng.uniform(-frame.hy, frame.hy, 60 * n)])
    ok = frame.inside(pts[:, 0], pts[:, 1], 0.6)
    ok[ok] &= plan.terrain.at(pts[ok, 0], pts[ok, 1]) < -0.4
    ok[ok] &= plan.urban_density(pts[ok, 0], pts[ok, 1]) < 2000
    ok[ok] &= _road_index(plan).distance(pts[ok]) > 0.3
    avoid = (
        [plan.water.buffer(0.5)] + [e[1].buffer(0.7) for e in plan.estates] + [q[2].buffer(1.0) for q in plan.quarries]
    )
    ok[ok] &= ~shapely.contains_xy(shapely.union_all(avoid), pts[ok, 0], pts[ok, 1])
    taken = np.array([t.xy for t in plan.towns]).reshape(-1, 2)
    for p in _poisson_disc(rng, pts[ok], n, 1.7, taken=taken):
        pop = float(np.clip(rng.lognormal(math.log(850), 0.45), 400, 3000))
        radius = math.sqrt(pop / (math.pi * 3500.0))
        plan.villages.append(_Settlement(namer.place(), "village", *p, pop, radius=radius, axis=rng.uniform(0, np.pi)))


def _place_housing(rng: np.random.Generator, plan: _Plan, namer: _Namer) -> None:
    """Gated housing estates (moo baan, 7-40 ha) leapfrogging into the fringe near main roads."""
    frame = plan.frame
    n = 15 + 5 * len(plan.towns)
    pts = np.column_stack([rng.uniform(-frame.hx, frame.hx, 400 * n), rng.uniform(-frame.hy, frame.hy, 400 * n)])
    dens = plan.urban_density(pts[:, 0], pts[:, 1])
    ok = (dens > 250) & (dens < 2500) & frame.inside(pts[:, 0], pts[:, 1], 1.0)
    pts = pts[ok]
    droad = _road_index(plan).distance(pts)
    mways = _SegmentIndex([m[0] for m in plan.motorways]).distance(pts)
    ok = (droad > 0.2) & (droad < 1.5) & (mways > 0.4) & (plan.terrain.at(pts[:, 0], pts[:, 1]) < -0.5)
    avoid = [plan.water.buffer(0.3)] + [e[1].buffer(0.3) for e in plan.estates]
    avoid += [Point(v.xy).buffer(v.radius + 0.5) for v in plan.villages]
    ok &= ~shapely.contains_xy(shapely.union_all(avoid), pts[:, 0], pts[:, 1])
    for p in _poisson_disc(rng, pts[ok], n, 1.0):
        poly = _blob(p, rng.uniform(0.15, 0.35), rng, rough=0.15, n=24)
        plan.housing.append((f"Moo Baan {namer.word()}", poly, rng.uniform(0, np.pi)))


# --------------------------------------------------------------------------------------------
# Land cover (ESA WorldCover classes, 0.0003 degree cells)
# --------------------------------------------------------------------------------------------


@dataclass
class _Land:
    """The land-cover grid and the fields later stages reuse (all on the 0.0003 degree grid)."""

    frame: _Frame
    lc: np.ndarray  # uint8 WorldCover codes
    hill: np.ndarray  # float32 upland index
    river_km: np.ndarray  # float32 distance to river water (km)
    cane: np.ndarray  # bool, cropland under sugar cane and cassava (uplands away from the river)
    estate: np.ndarray  # uint8 estate number (1-based), 0 elsewhere
    built_share: np.ndarray  # float32 share of built-up cells in a 5 x 5 window
    xs: np.ndarray
    ys: np.ndarray

    def index(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of the cells holding km points (clipped to the grid)."""
        t = self.frame.km_transform(_LC_RES)
        col = (np.asarray(x, float) - t.c) / t.a
        row = (np.asarray(y, float) - t.f) / t.e
        rows = np.clip(np.floor(row).astype(int), 0, self.lc.shape[0] - 1)
        cols = np.clip(np.floor(col).astype(int), 0, self.lc.shape[1] - 1)
        return rows, cols

    def sample(self, arr: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return arr[self.index(x, y)]

    def cells(self, mask: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` random points (km) inside cells where ``mask`` (or flat cell indices) is true."""
        flat = np.flatnonzero(mask) if mask.dtype == bool else mask
        if flat.size == 0:
            return np.empty((0, 2))
        pick = flat[rng.integers(0, flat.size, n)]
        r, c = np.divmod(pick, self.lc.shape[1])
        dx, dy = _LC_RES * self.frame.kx, _LC_RES * self.frame.ky
        return np.column_stack(
            [
                self.xs[c] + rng.uniform(-0.4, 0.4, n) * dx,
                self.ys[r] + rng.uniform(-0.4, 0.4, n) * dy,
            ]
        )


def _window(xs: np.ndarray, ys: np.ndarray, x: float, y: float, r: float) -> tuple[slice, slice]:
    """Row and column slices of the cells within ``r`` km of (x, y) (``ys`` descending)."""
    c0, c1 = np.searchsorted(xs, [x - r, x + r])
    r0, r1 = np.searchsorted(-ys, [-(y + r), -(y - r)])
    return slice(int(r0), int(r1)), slice(int(c0), int(c1))


def _urban_grid(plan: _Plan, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Clark density of the city and the towns (people per km2) on a grid."""
    dens = plan.city.density(xs[None, :], ys[:, None]).astype(np.float32)
    for t in plan.towns:
        rs, cs = _window(xs, ys, t.x, t.y, 8 * t.b)
        dens[rs, cs] += t.density(xs[None, cs], ys[rs, None]).astype(np.float32)
    return dens


def _burn(geoms: list[shapely.Geometry], frame: _Frame, shape: tuple[int, int], res: float = _LC_RES) -> np.ndarray:
    """Rasterise km-frame geometries to a boolean mask (or 1-based labels if several)."""
    if not geoms:
        return np.zeros(shape, np.uint8)
    items = [(g, i + 1) for i, g in enumerate(geoms) if not g.is_empty]
    return rasterize(items, out_shape=shape, transform=frame.km_transform(res), fill=0, dtype="uint8")


def _landcover(rng: np.random.Generator, plan: _Plan) -> _Land:
    """Assemble the WorldCover classes: cropland everywhere, then uplands, settlements, water.

    Built-up land is where the Clark density (with 1.2 km and 0.35 km noise for ragged edges)
    exceeds 2,500 people per km2, plus leapfrog housing estates in the fringe, ribbons along the
    highways, village blobs, industrial estates and the highway pavement itself.
    """
    frame = plan.frame
    xs, ys = frame.axes(_LC_RES)
    shape = (ys.size, xs.size)
    cell = (_LC_RES * frame.ky, _LC_RES * frame.kx)

    def noise(scale: float) -> np.ndarray:
        return _Noise(rng, frame, scale).grid(xs, ys)

    hill = plan.terrain.grid(xs, ys)
    lc = np.full(shape, CROP, np.uint8)
    lc[(noise(2.0) > 1.85) & (hill < 0)] = GRASS  # fallow fields, pasture
    lc[(noise(0.5) > 2.3) & (hill < 0)] = TREE  # orchards and temple groves
    lc[(noise(0.12) > 2.6) & (hill < 0)] = TREE  # homestead gardens
    up = hill > 0
    lc[up] = SHRUB
    lc[up & (hill > 0.55 + 0.35 * noise(1.0))] = TREE
    lc[up & (noise(0.8) > 1.3) & (hill < 1.2)] = GRASS

    dens = _urban_grid(plan, xs, ys)
    built = np.log(np.maximum(dens, 1e-3)) + 0.45 * noise(1.2) + 0.25 * noise(0.35) > math.log(2500)
    built |= (dens > 150) & (dens < 2500) & (noise(0.5) > 1.9)  # scattered fringe development
    built |= (noise(0.1) > 2.9) & (hill < 0)  # farmsteads, temples and schools in the fields
    built |= _burn([h[1] for h in plan.housing], frame, shape) > 0  # moo baan housing estates
    roads = [ln.xy for ln in plan.majors] + [m[0] for m in plan.motorways]
    on_road = _burn([LineString(xy) for xy in roads], frame, shape) > 0
    road_km = ndimage.distance_transform_edt(~on_road, sampling=cell).astype(np.float32)
    built |= (road_km < 0.1 + 0.05 * noise(0.4)) & (dens > 120) & (noise(0.8) > -0.3)  # ribbons
    fuzz = noise(0.25)
    for v in plan.villages:
        rs, cs = _window(xs, ys, v.x, v.y, 2 * v.radius)
        d = np.hypot(xs[None, cs] - v.x, ys[rs, None] - v.y)
        built[rs, cs] |= d < v.radius * (1 + 0.3 * fuzz[rs, cs])
    estate = _burn([e[1] for e in plan.estates], frame, shape)
    built |= estate > 0
    built |= _burn([LineString(xy) for xy in roads[:-1] if len(xy) > 1], frame, shape) > 0
    lc[built & (hill < 0.3)] = BUILT
    lc[(_burn([q[2] for q in plan.quarries], frame, shape) > 0)] = BARE

    river = _burn([plan.river.polygon], frame, shape) > 0
    river_km = ndimage.distance_transform_edt(~river, sampling=cell).astype(np.float32)
    wet_noise = noise(0.6)
    soft = (lc == CROP) | (lc == GRASS)
    lc[soft & (wet_noise > 0.3) & (river_km < 0.15 + 0.5 * (wet_noise - 0.3))] = WETLAND
    lakes = _burn([p for _, p in plan.lakes], frame, shape) > 0
    if lakes.any():
        lake_km = ndimage.distance_transform_edt(~lakes, sampling=cell)
        lc[soft & (lake_km < 0.25 + 0.2 * (noise(0.4) + 1.5))] = WETLAND
    ponds = (noise(0.2) > 2.6) & (lc == CROP) & (dens < 1000)
    lc[ponds | river | lakes | (_burn([p for _, p in plan.reservoirs], frame, shape) > 0)] = WATER
    cane = (river_km > 6) & (hill > -2.6 + 0.7 * noise(5.0)) & (lc == CROP)
    built_share = ndimage.uniform_filter((lc == BUILT).astype(np.float32), 5)
    return _Land(frame, lc, hill, river_km, cane, estate, built_share, xs, ys)


# --------------------------------------------------------------------------------------------
# Population (people per 3 arc-second cell, like WorldPop)
# --------------------------------------------------------------------------------------------


def _population(rng: np.random.Generator, plan: _Plan, land: _Land) -> tuple[np.ndarray, dict[str, float]]:
    """People per cell and the planned totals of each component.

    Each settlement's planned population is spread by its density model (Clark for the city
    and towns, a Gaussian for villages), weighted towards residential built-up land, kept off
    water and industrial estates, and rescaled to the planned total. Dispersed farm households
    add 40 people per km2 of cropland (12 on grass, shrub and wetland, 4 under trees).
    """
    frame = plan.frame
    xs, ys = frame.axes(_POP_RES)
    shape = (ys.size, xs.size)

    def share(mask: np.ndarray) -> np.ndarray:
        out = np.zeros(shape, np.float32)
        reproject(
            mask.astype(np.float32),
            out,
            src_transform=frame.transform(_LC_RES),
            src_crs="EPSG:4326",
            dst_transform=frame.transform(_POP_RES),
            dst_crs="EPSG:4326",
            resampling=Resampling.average,
        )
        return np.clip(out, 0, 1)

    lc = land.lc
    water, estate = share(lc == WATER), share(land.estate > 0)
    built = np.clip(share(lc == BUILT) - estate, 0, 1)
    rows, cols = land.index(xs[None, :].repeat(ys.size, 0), ys[:, None].repeat(xs.size, 1))
    centre_water = lc[rows, cols] == WATER
    hab = np.where(centre_water | (water >= 0.5), 0.0, 1.0 - water) * (1.0 - estate)
    texture = np.exp(0.15 * _Noise(rng, frame, 0.5).grid(xs, ys))
    lat = frame.lat0 + ys / frame.ky
    area = (_POP_RES * frame.kx) * (_POP_RES * frame.ky) * np.cos(np.radians(lat)) / math.cos(math.radians(frame.lat0))
    area = np.broadcast_to(area[:, None], shape)

    pop = np.zeros(shape, np.float64)
    planned: dict[str, float] = {}

    def spread(weight: np.ndarray, rs: slice, cs: slice, people: float) -> float:
        total = float(weight.sum())
        if total <= 0:
            return 0.0
        pop[rs, cs] += weight * (people / total)
        return people

    everything = (slice(None), slice(None))
    city = plan.city
    w = city.density(xs[None, :], ys[:, None]) * (0.4 + 0.6 * built) * hab * texture * area
    planned["city"] = spread(w, *everything, city.population)
    planned["towns"] = 0.0
    for t in plan.towns:
        rs, cs = _window(xs, ys, t.x, t.y, 8 * t.b)
        w = (
            t.density(xs[None, cs], ys[rs, None])
            * (0.4 + 0.6 * built[rs, cs])
            * hab[rs, cs]
            * texture[rs, cs]
            * area[rs, cs]
        )
        planned["towns"] += spread(w, rs, cs, t.population)
    planned["villages"] = 0.0
    for v in plan.villages:
        rs, cs = _window(xs, ys, v.x, v.y, 3 * v.radius + 0.2)
        d2 = (xs[None, cs] - v.x) ** 2 + (ys[rs, None] - v.y) ** 2
        w = np.exp(-d2 / (0.8 * v.radius + 0.05) ** 2) * (0.3 + 0.7 * built[rs, cs]) * hab[rs, cs] * area[rs, cs]
        planned["villages"] += spread(w, rs, cs, v.population)
    rural = 40 * share(lc == CROP) + 12 * share(np.isin(lc, (GRASS, SHRUB, WETLAND))) + 4 * share(lc == TREE)
    rural = rural * hab * np.exp(0.4 * _Noise(rng, frame, 1.0).grid(xs, ys)) * area
    pop += rural
    planned["rural"] = float(rural.sum())
    planned["total"] = sum(planned.values())
    return pop.astype(np.float32), planned


# --------------------------------------------------------------------------------------------
# Roads: OSM road hierarchy with shared junction nodes, dual carriageways, ramps and bridges
# --------------------------------------------------------------------------------------------


@dataclass
class _Barriers:
    """What minor roads may not cross: water, and the motorway corridors."""

    hard: shapely.Geometry  # lakes, reservoirs, motorway corridors
    river: shapely.Geometry  # the river channel
    majors: shapely.Geometry  # at-grade major roads (streets must not run along them)

    @classmethod
    def of(cls, plan: _Plan, motorway_lines: list[np.ndarray]) -> _Barriers:
        hard = shapely.union_all(
            [p for _, p in plan.lakes + plan.reservoirs] + [LineString(xy).buffer(0.045) for xy in motorway_lines]
        )
        river = plan.river.polygon.buffer(0.03)
        majors = shapely.union_all([LineString(ln.xy) for ln in plan.majors])
        for g in (hard, river, majors):
            shapely.prepare(g)
        return cls(hard, river, majors)

    def blocked(self, segments: np.ndarray, *, bridge: np.ndarray | bool = False) -> np.ndarray:
        """True for (k, 2, 2) segments crossing water or motorways, or running along main roads."""
        geoms = shapely.linestrings(segments)
        out = shapely.intersects(geoms, self.hard)
        out |= shapely.intersects(geoms, self.river) & ~np.asarray(bridge, bool)
        out |= shapely.dwithin(geoms, self.majors, 0.03) & ~shapely.intersects(geoms, self.majors)
        return out


def _carriageways(xy: np.ndarray, name: str, ref: str, *, closed: bool, speed: str) -> list[_Line]:
    """Two one-way carriageways 24 m apart; traffic keeps left as in Thailand.

    A closed ring gives two closed loops; an open motorway tapers both carriageways onto its
    centreline at each end, so they share the end nodes (the at-grade junction inside the city
    and a turning point at the region edge).
    """
    if closed:
        ext = np.vstack([xy[-2:-1], xy, xy[1:2]])
        n = _normals(ext)[1:-1]
    else:
        n = _normals(xy)
    s = _cumlen(xy)
    w = np.ones(len(xy)) if closed else np.clip(np.minimum(s, s[-1] - s) / 0.3, 0, 1)
    off = 0.012 * w[:, None] * n
    fwd, bwd = xy + off, (xy - off)[::-1].copy()
    if closed:
        fwd[-1], bwd[-1] = fwd[0], bwd[0]
    tags = {
        "highway": "motorway",
        "name": name,
        "ref": ref,
        "oneway": "yes",
        "lanes": "3",
        "maxspeed": speed,
    }
    return [_Line(fwd, dict(tags), level=1), _Line(bwd, dict(tags), level=1)]


def _lattice(
    rng: np.random.Generator,
    barriers: _Barriers,
    *,
    origin: np.ndarray,
    angle: float,
    spacing: float,
    extent: float,
    accept: Callable[[np.ndarray, np.ndarray], np.ndarray],
    kind: Callable[[int, int], str],
    keep: float,
    name: Callable[[str, int, int], str | None],
    bridge: Callable[[str, int, int], bool] = lambda *_: False,
    oneway: Callable[[np.ndarray], bool] = lambda _: False,
    jitter: float = 0.15,
) -> list[_Line]:
    """A jittered street grid around ``origin`` (km), clipped to where ``accept`` is true.

    Grid lines are chained into ways; ``kind(axis, index)`` gives each line's highway class.
    Residential edges survive with probability ``keep`` (gaps give dead ends and superblocks);
    edges blocked by water or motorways are dropped unless ``bridge`` allows the river.
    """
    k = math.ceil(extent / spacing) + 1
    idx = np.arange(-k, k + 1)
    ii, jj = np.meshgrid(idx, idx, indexing="ij")  # (i along the first axis, j along the second)
    local = np.stack([ii * spacing, jj * spacing], axis=-1) + rng.normal(0, jitter * spacing, (*ii.shape, 2))
    local[k, k] = 0.0
    c, s = math.cos(angle), math.sin(angle)
    world = origin + local @ np.array([[c, s], [-s, c]])
    valid = accept(world[..., 0], world[..., 1])
    lines: list[_Line] = []
    for axis in (0, 1):
        pts = world if axis == 0 else world.transpose(1, 0, 2)  # pts[line, position]
        ok = valid if axis == 0 else valid.T
        # edge e of line L joins pts[e, L] and pts[e + 1, L]
        a, b = pts[:-1], pts[1:]
        both = ok[:-1] & ok[1:]
        kinds = np.array([kind(axis, int(v)) for v in idx])
        residential = np.broadcast_to(kinds[None, :] == "residential", both.shape)
        both &= ~residential | (rng.random(both.shape) < keep)
        cand = np.argwhere(both)
        if cand.size == 0:
            continue
        segs = np.stack([a[cand[:, 0], cand[:, 1]], b[cand[:, 0], cand[:, 1]]], axis=1)
        br = np.array([bridge(kinds[ln], axis, int(idx[ln])) for ln in cand[:, 1]])
        blocked = barriers.blocked(segs, bridge=br)
        both[cand[blocked, 0], cand[blocked, 1]] = False
        for ln in range(both.shape[1]):
            run: list[int] = []
            for e in [*range(both.shape[0]), -1]:
                if e >= 0 and both[e, ln]:
                    run.append(e)
                    continue
                if run:
                    xy = np.vstack([pts[run, ln], pts[run[-1] + 1, ln][None]])
                    hw = str(kinds[ln])
                    tags = {"highway": hw}
                    nm = name(hw, axis, int(idx[ln]))
                    if nm:
                        tags["name"] = nm
                    if hw == "residential" and oneway(xy):
                        tags["oneway"] = "yes"
                        if (idx[ln] + axis) % 2:
                            xy = xy[::-1].copy()
                    lines.append(_Line(xy, tags))
                run = []
    return lines


def _settlement_streets(
    rng: np.random.Generator, plan: _Plan, land: _Land, barriers: _Barriers, namer: _Namer
) -> list[_Line]:
    """Street grids of the city (200 m blocks), the towns (180 m) and the villages (~120 m)."""
    city, towns = plan.city, plan.towns
    inner = Polygon(plan.ring).buffer(-0.5)
    shapely.prepare(inner)
    names: dict[tuple[int, int, int], str] = {}
    counter = [0]

    def namer_for(key: int, soi_share: float) -> Callable[[str, int, int], str | None]:
        def name(hw: str, axis: int, i: int) -> str | None:
            word = names.setdefault((key, axis, i), namer.word())
            if hw != "residential":
                return f"Thanon {word}"
            counter[0] += 1
            return f"Soi {word} {counter[0] % 40 + 1}" if rng.random() < soi_share else None

        return name

    def town_max(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.max([t.density(x, y) for t in towns], axis=0) if towns else np.zeros_like(x)

    def city_accept(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        d = city.density(x, y)
        return (
            (land.sample(land.built_share, x, y) > 0.35)
            & (d > 900)
            & (d > town_max(x, y))
            & shapely.contains_xy(inner, x, y)
            & (land.sample(land.estate, x, y) == 0)
        )

    angle = city.axis + rng.uniform(-0.1, 0.1)
    lines = _lattice(
        rng,
        barriers,
        origin=city.xy + 0.1 * np.array([math.cos(angle) - math.sin(angle), math.sin(angle) + math.cos(angle)]),
        angle=angle,
        spacing=0.2,
        extent=12.0,
        accept=city_accept,
        keep=0.8,
        kind=lambda axis, i: "secondary" if i % 8 == 0 else "tertiary" if i % 8 == 4 else "residential",
        name=namer_for(0, 0.5),
        bridge=lambda hw, axis, i: hw == "secondary" and i % 16 == 0,
        oneway=lambda xy: bool(np.hypot(*(xy.mean(axis=0) - city.xy)) < 2.0),
    )
    for n, t in enumerate(towns, start=1):

        def accept(x: np.ndarray, y: np.ndarray, t: _Settlement = t) -> np.ndarray:
            d = t.density(x, y)
            return (
                (land.sample(land.built_share, x, y) > 0.35)
                & (d > 700)
                & (d >= town_max(x, y))
                & (d > city.density(x, y))
                & (land.sample(land.estate, x, y) == 0)
            )

        lines += _lattice(
            rng,
            barriers,
            origin=t.xy,
            angle=t.axis,
            spacing=0.18,
            extent=5 * t.b,
            accept=accept,
            keep=0.75,
            kind=lambda axis, i: "tertiary" if i % 6 == 0 else "residential",
            name=namer_for(n, 0.4),
        )
    for v in plan.villages:

        def accept(x: np.ndarray, y: np.ndarray, v: _Settlement = v) -> np.ndarray:
            return (np.hypot(x - v.x, y - v.y) < 1.4 * v.radius) & (land.sample(land.built_share, x, y) > 0.15)

        lines += _lattice(
            rng,
            barriers,
            origin=v.xy,
            angle=v.axis,
            spacing=rng.uniform(0.1, 0.14),
            extent=1.4 * v.radius,
            accept=accept,
            keep=0.65,
            jitter=0.2,
            kind=lambda axis, i: "unclassified" if i == 0 else "residential",
            name=lambda *_: None,
        )
    return lines


def _estate_roads(rng: np.random.Generator, plan: _Plan, barriers: _Barriers) -> list[_Line]:
    """An access road from the highway and a 350 m grid of estate roads in each estate."""
    lines: list[_Line] = []
    for name, poly, road, k in plan.estates:
        xy = plan.majors[road].xy
        start, centre = xy[k], np.array(poly.centroid.coords[0])
        spine = np.linspace(start, centre, 5)
        lines.append(_Line(spine, {"highway": "tertiary", "name": f"{name} Road"}))
        inner = poly.buffer(-0.04)
        shapely.prepare(inner)
        t = _tangent(xy, _cumlen(xy)[k])
        lines += _lattice(
            rng,
            barriers,
            origin=centre,
            angle=math.atan2(t[1], t[0]),
            spacing=0.35,
            extent=2.5,
            accept=lambda x, y, inner=inner: shapely.contains_xy(inner, x, y),
            keep=1.0,
            jitter=0.03,
            kind=lambda axis, i: "tertiary" if i == 0 else "unclassified",
            name=lambda hw, axis, i, name=name: f"{name} Soi {abs(i) + 1}" if hw == "unclassified" else None,
        )
    return lines


def _housing_streets(rng: np.random.Generator, plan: _Plan, roads: list[_Line], barriers: _Barriers) -> list[_Line]:
    """A dense 80 m grid of lanes in each housing estate and a road out to the nearest street."""
    ends = [(k, j) for k, ln in enumerate(roads) if ln.level == 0 for j in range(len(ln.xy))]
    tree = cKDTree(np.array([roads[k].xy[j] for k, j in ends]))
    lines: list[_Line] = []
    for name, poly, angle in plan.housing:
        inner = poly.buffer(-0.02)
        shapely.prepare(inner)
        centre = np.array(poly.centroid.coords[0])
        grid = _lattice(
            rng,
            barriers,
            origin=centre,
            angle=angle,
            spacing=rng.uniform(0.07, 0.09),
            extent=0.4,
            accept=lambda x, y, inner=inner: shapely.contains_xy(inner, x, y),
            keep=0.9,
            jitter=0.05,
            kind=lambda axis, i: "residential",
            name=lambda hw, axis, i, name=name: f"{name} Soi {abs(i) + 1}",
        )
        _, near = tree.query(centre, k=8)
        for q in near:
            k, j = ends[q]
            access = _wiggly(centre, roads[k].xy[j], rng, step=0.08, amp=0.02)
            if not barriers.blocked(np.stack([access[:-1], access[1:]], axis=1)).any():
                lines += [
                    *grid,
                    _Line(access, {"highway": "residential", "name": f"{name} Road"}),
                ]
                break
    return lines


def _rural_roads(rng: np.random.Generator, plan: _Plan, barriers: _Barriers, namer: _Namer) -> list[_Line]:
    """Secondary, tertiary and unclassified roads linking villages to each other and the highways.

    Nodes are villages, quarries, towns and anchor points every ~2.5 km on the highways. Edges
    are the Gabriel graph plus a minimum spanning tree (so every village is reached); river
    crossings are thinned to about one per 5 km. The class of an edge follows how many villages
    route through it to their nearest highway or town (>= 5 secondary, >= 2 tertiary).
    """
    frame, terrain = plan.frame, plan.terrain
    pts: list[np.ndarray] = [v.xy for v in plan.villages]
    kind = [0] * len(pts)
    group = [-1] * len(pts)
    for _, _, poly in plan.quarries:
        pts.append(np.array(poly.centroid.coords[0]))
        kind.append(2)
        group.append(-1)
    for t in plan.towns:
        pts.append(t.xy)
        kind.append(1)
        group.append(min(plan.majors, key=lambda ln, t=t: LineString(ln.xy).distance(Point(t.xy))).group)
    for ln in plan.majors:
        if ln.tags["highway"] not in ("trunk", "primary"):
            continue
        for j in range(12, len(ln.xy) - 12, 25):
            p = ln.xy[j]
            if (
                plan.urban_density(p[0], p[1]) > 3000
                or not frame.inside(p[0], p[1], 0.5)
                or terrain.at(p[0], p[1]) > 0.5
            ):
                continue
            pts.append(p)
            kind.append(3)
            group.append(ln.group)
    xy, kind_a, group_a = np.array(pts), np.array(kind), np.array(group)
    tri = Delaunay(xy).simplices
    e = np.unique(np.sort(np.vstack([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]]), axis=1), axis=0)
    a, b = e[:, 0], e[:, 1]
    length = np.hypot(*(xy[a] - xy[b]).T)
    mid = (xy[a] + xy[b]) / 2
    segs = shapely.linestrings(np.stack([xy[a], xy[b]], axis=1))
    lakes = shapely.union_all([p for _, p in plan.lakes + plan.reservoirs] or [Polygon()])
    wet = shapely.intersects(segs, lakes)
    crosses = shapely.intersects(segs, plan.river.line)
    hub = np.isin(kind_a, (1, 3))
    quarry = (kind_a[a] == 2) | (kind_a[b] == 2)
    bad = (hub[a] & hub[b]) | ((group_a[a] == group_a[b]) & (group_a[a] >= 0)) | (length > 7)
    bad |= plan.urban_density(mid[:, 0], mid[:, 1]) > 2500
    bad |= (terrain.at(mid[:, 0], mid[:, 1]) > 0.5) & ~quarry
    weight = length + 30 * crosses + 1000 * wet + 100 * bad
    n = len(xy)
    mst_m = csgraph.minimum_spanning_tree(sparse.coo_matrix((weight, (a, b)), shape=(n, n))).tocoo()
    in_mst = np.zeros(len(e), bool)
    pos = {(int(i), int(j)): k for k, (i, j) in enumerate(e)}
    for i, j in zip(mst_m.row, mst_m.col, strict=True):
        in_mst[pos[(min(i, j), max(i, j))]] = True
    gab = np.zeros(len(e), bool)
    for i, j in _gabriel(xy):
        gab[pos[(int(i), int(j))]] = True
    keep = ((gab & ~bad & ~quarry) | in_mst) & ~wet & ~(hub[a] & hub[b])
    # one river crossing every ~5 km besides those of the highways and the spanning tree
    river = plan.river.line
    taken = [
        float(p.y)
        for ln in plan.majors
        for p in shapely.get_parts(LineString(ln.xy).intersection(river))
        if isinstance(p, Point)
    ]
    for k in np.flatnonzero(keep & crosses & in_mst):
        taken += [float(p.y) for p in shapely.get_parts(segs[k].intersection(river))]
    for k in np.flatnonzero(keep & crosses & ~in_mst)[np.argsort(length[keep & crosses & ~in_mst])]:
        ys = [float(p.y) for p in shapely.get_parts(segs[k].intersection(river))]
        if all(abs(y - t) > 5.0 for y in ys for t in taken):
            taken += ys
        else:
            keep[k] = False
    # route every village to its nearest hub to rank the edges
    ke = e[keep]
    g = sparse.coo_matrix((length[keep], (ke[:, 0], ke[:, 1])), shape=(n, n)).tocsr()
    hubs = np.flatnonzero(hub)
    _, pred, _ = csgraph.dijkstra(g, directed=False, indices=hubs, min_only=True, return_predecessors=True)
    use: dict[tuple[int, int], int] = {}
    for v in np.flatnonzero(kind_a == 0):
        node = int(v)
        while pred[node] >= 0:
            p = int(pred[node])
            key = (min(p, node), max(p, node))
            use[key] = use.get(key, 0) + 1
            node = p
    lines: list[_Line] = []
    for i, j in ke:
        u = use.get((int(i), int(j)), 0)
        hw = "secondary" if u >= 5 else "tertiary" if u >= 2 else "unclassified"
        tags = {"highway": hw}
        if hw == "secondary":
            tags.update(name=f"Thanon {namer.word()}", ref=str(3000 + int(rng.integers(1, 999))), lanes="2")
        elif hw == "tertiary" and rng.random() < 0.6:
            tags["name"] = f"Thanon {namer.word()}"
        if kind_a[i] == 2 or kind_a[j] == 2:
            tags.update(highway="unclassified", surface="unpaved")
        path = _wiggly(xy[i], xy[j], rng, step=rng.uniform(0.08, 0.16), amp=0.03)
        lines.append(_Line(path, tags, group=-2))
    return lines


def _tracks(rng: np.random.Generator, plan: _Plan, rural: list[_Line], barriers: _Barriers) -> list[_Line]:
    """Farm tracks (0.3-1.3 km dead ends) branching off the village roads into the fields."""
    base = [ln for ln in rural if ln.tags["highway"] in ("unclassified", "tertiary") and len(ln.xy) > 8]
    lines: list[_Line] = []
    if not base:
        return lines
    for _ in range(3 * len(plan.villages)):
        ln = base[int(rng.integers(len(base)))]
        j = int(rng.integers(3, len(ln.xy) - 3))
        p = ln.xy[j]
        t = _tangent(ln.xy, _cumlen(ln.xy)[j])
        h = math.atan2(t[0], -t[1]) + rng.choice([0.0, math.pi]) + rng.uniform(-0.5, 0.5)
        end = p + rng.uniform(0.3, 1.3) * np.array([math.cos(h), math.sin(h)])
        if not plan.frame.inside(end[0], end[1], 0.2):
            continue
        xy = _wiggly(p, end, rng, step=0.1, amp=0.05)
        if barriers.blocked(np.stack([xy[:-1], xy[1:]], axis=1)).any():
            continue
        lines.append(_Line(xy, {"highway": "track", "tracktype": f"grade{int(rng.integers(2, 5))}"}))
    return lines


def _sois(rng: np.random.Generator, plan: _Plan, land: _Land, roads: list[_Line], barriers: _Barriers) -> list[_Line]:
    """Dead-end lanes (sois, 80-350 m) off the highways where ribbon development lines them."""
    lines: list[_Line] = []
    for ln in roads:
        if ln.tags["highway"] not in ("trunk", "primary", "secondary"):
            continue
        xy = ln.xy
        d = plan.urban_density(xy[:, 0], xy[:, 1])
        share = land.sample(land.built_share, xy[:, 0], xy[:, 1])
        normals = _normals(xy)
        cand = np.flatnonzero((d > 150) & (d < 3000) & (share > 0.12))
        cand = cand[(cand > 2) & (cand < len(xy) - 3)]
        cand = cand[rng.random(cand.size) < 0.4]
        for j in cand:
            side = rng.choice([-1.0, 1.0])
            length = rng.uniform(0.08, 0.35)
            n = normals[j] * side
            along = np.array([n[1], -n[0]])
            soi = np.array(
                [
                    xy[j],
                    xy[j] + n * length / 2 + along * rng.normal(0, 0.015),
                    xy[j] + n * length + along * rng.normal(0, 0.03),
                ]
            )
            if barriers.blocked(np.stack([soi[:-1], soi[1:]], axis=1)).any():
                continue
            tags = {"highway": "residential"}
            if rng.random() < 0.3 and "name" in ln.tags:
                tags["name"] = (
                    f"Soi {ln.tags['name'].split(' - ')[0].replace('Thanon ', '')} {int(rng.integers(1, 120))}"
                )
            lines.append(_Line(soi, tags))
    return lines


def _bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, p3: np.ndarray, n: int = 9) -> np.ndarray:
    t = np.linspace(0, 1, n)[:, None]
    xy = (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3
    xy[0], xy[-1] = p0, p3
    return xy


def _interchanges(
    lines: list[_Line], motorways: list[tuple[np.ndarray, list[int], bool]], river: LineString
) -> tuple[list[_Line], list[tuple[int, np.ndarray]]]:
    """Diamond interchanges where a motorway crosses a trunk, primary or secondary road.

    Interchanges are at least 2 km apart along the motorway (trunk roads first) and 0.8 km
    from the river. Each carriageway gets a one-way off-ramp 450 m before the crossing and an
    on-ramp 450 m after it, both joining the crossing road 300 m from the overpass.
    Returns the ramps and the points to insert as nodes into existing lines.
    """
    rank = {"trunk": 0, "primary": 1, "secondary": 2}
    cand = [i for i, ln in enumerate(lines) if ln.level == 0 and ln.tags["highway"] in rank]
    geoms = _linestrings([lines[i].xy for i in cand])
    link = {"highway": "motorway_link", "oneway": "yes", "lanes": "1"}
    ramps: list[_Line] = []
    inserts: list[tuple[int, np.ndarray]] = []
    for centre, carriageways, closed in motorways:
        m = LineString(centre)
        hits = []
        for gi, g in zip(cand, geoms, strict=True):
            for p in shapely.get_parts(m.intersection(g)):
                if isinstance(p, Point):
                    hits.append((rank[lines[gi].tags["highway"]], m.project(p), gi, g.project(p), p))
        hits.sort(key=lambda h: (h[0], h[1]))
        done: list[float] = []
        for _, s_m, gi, s_r, p in hits:
            road = lines[gi].xy
            gap = [abs(s_m - a) for a in done]
            if closed:
                gap = [min(d, m.length - d) for d in gap]
            if (
                not 0.4 < s_r < _cumlen(road)[-1] - 0.4
                or not 0.8 < s_m < m.length - 0.8
                or river.distance(p) < 0.8
                or any(d < 2.0 for d in gap)
            ):
                continue
            done.append(s_m)
            t_r = _tangent(road, s_r)
            for ci in carriageways:
                cw = lines[ci].xy
                s_c = LineString(cw).project(p)
                t_c = _tangent(cw, s_c)
                n_c = np.array([-t_c[1], t_c[0]])
                j = _at(road, s_r + (0.3 if t_r @ n_c > 0 else -0.3))
                a, d = _at(cw, s_c - 0.45), _at(cw, s_c + 0.45)
                ramps.append(_Line(_bezier(a, a + 0.2 * t_c, j - 0.2 * t_c, j), dict(link), level=1, target=gi))
                ramps.append(_Line(_bezier(j, j + 0.2 * t_c, d - 0.2 * t_c, d), dict(link), level=1, target=gi))
                inserts += [(ci, a), (ci, d), (gi, j)]
    return ramps, inserts


def _network(
    lines: list[_Line], inserts: list[tuple[int, np.ndarray]], river: _River
) -> tuple[np.ndarray, list[tuple[np.ndarray, dict[str, str]]]]:
    """Node the road lines into a topological network.

    At-grade roads get a shared node wherever they cross. Roads crossing the river, and
    at-grade roads crossing the motorway system, are split into ``bridge=yes`` ways. Returns
    node coordinates (km) and ways as (node index array, tags).
    """
    geoms = _linestrings([ln.xy for ln in lines])
    level = np.array([ln.level for ln in lines])
    splits: list[list[tuple[float, float, float]]] = [[] for _ in lines]
    spans: list[list[tuple[float, float]]] = [[] for _ in lines]
    ends = np.array([[ln.xy[0], ln.xy[-1]] for ln in lines])

    def locate(idx: np.ndarray, pts: np.ndarray) -> np.ndarray:
        return shapely.line_locate_point(geoms[idx], shapely.points(pts))

    def crossings(i_set: np.ndarray, j_set: np.ndarray, same: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tree = shapely.STRtree(geoms[j_set])
        qi, qj = tree.query(geoms[i_set], predicate="intersects")
        i, j = i_set[qi], j_set[qj]
        if same:
            i, j = i[i < j], j[i < j]
        coords, which = shapely.get_coordinates(shapely.intersection(geoms[i], geoms[j]), return_index=True)
        return i[which], j[which], coords

    g0, g1 = np.flatnonzero(level == 0), np.flatnonzero(level == 1)
    # at-grade junctions
    i, j, xy = crossings(g0, g0, same=True)
    for idx in (i, j):
        for li, s, p in zip(idx, locate(idx, xy), xy, strict=True):
            splits[li].append((s, p[0], p[1]))
    for li, p in inserts:
        splits[li].append((float(shapely.line_locate_point(geoms[li], Point(p))), p[0], p[1]))
    # overpasses: at-grade roads bridge the motorways (not where they meet them)
    if g1.size:
        i, j, xy = crossings(g0, g1, same=False)
        for li, lj, s, p in zip(i, j, locate(i, xy), xy, strict=True):
            at_end = np.hypot(*(ends[[li, lj]].reshape(-1, 2) - p).T).min() < 1e-5
            if not at_end and lines[lj].target != li:
                spans[li].append((s - 0.035, s + 0.035))
    # river bridges
    rline = river.line
    hit = np.flatnonzero(shapely.intersects(geoms, rline))
    for li in hit:
        for p in shapely.get_parts(geoms[li].intersection(rline)):
            if not isinstance(p, Point):
                continue
            s = geoms[li].project(p)
            t_road, t_riv = _tangent(lines[li].xy, s), _tangent(river.xy, rline.project(p))
            half = (river.width / 2 + 0.03) / max(abs(t_road[0] * t_riv[1] - t_road[1] * t_riv[0]), 0.3)
            spans[li].append((s - half, s + half))
    # vertices of every line, with split points and bridge ends inserted in order
    pts_all: list[np.ndarray] = []
    bridges_all: list[np.ndarray] = []
    for li, ln in enumerate(lines):
        s = _cumlen(ln.xy)
        extra = [np.array(splits[li]).reshape(-1, 3)]
        for a, b in spans[li]:
            for v in (a, b):
                if 0 < v < s[-1]:
                    extra.append(np.concatenate([[v], _at(ln.xy, v)])[None])
        ex = np.vstack(extra)
        ss = np.concatenate([s, ex[:, 0]])
        pp = np.vstack([ln.xy, ex[:, 1:]])
        order = np.argsort(ss, kind="stable")
        ss, pp = ss[order], pp[order]
        keep = np.concatenate([[True], np.hypot(*np.diff(pp, axis=0).T) > 1e-6])
        ss, pp = ss[keep], pp[keep]
        mid = (ss[:-1] + ss[1:]) / 2
        flag = np.zeros(mid.size, bool)
        for a, b in spans[li]:
            flag |= (mid > a) & (mid < b)
        pts_all.append(pp)
        bridges_all.append(flag)
    # merge coincident points (within 1 cm) into shared nodes
    stacked = np.vstack(pts_all)
    pairs = cKDTree(stacked).query_pairs(1e-5, output_type="ndarray")
    adj = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(stacked),) * 2)
    _, label = csgraph.connected_components(adj, directed=False)
    _, first = np.unique(label, return_index=True)
    rank = np.empty(first.size, int)
    rank[np.argsort(first)] = np.arange(first.size)
    node_of = rank[label]
    nodes = stacked[np.sort(first)]
    ways: list[tuple[np.ndarray, dict[str, str]]] = []
    start = 0
    for ln, pp, flag in zip(lines, pts_all, bridges_all, strict=True):
        ids = node_of[start : start + len(pp)]
        start += len(pp)
        keep = np.concatenate([[True], ids[1:] != ids[:-1]])
        seg_keep = keep[1:]
        ids, flag = ids[keep], flag[seg_keep]
        if len(ids) < 2:
            continue
        # runs of equal bridge flag become separate ways
        cuts = np.flatnonzero(np.diff(flag.astype(int))) + 1
        bounds = [0, *cuts.tolist(), len(flag)]
        for a, b in itertools.pairwise(bounds):
            tags = dict(ln.tags)
            if flag[a]:
                tags.update(bridge="yes", layer="1")
            for c in range(a, b, 500):
                ways.append((ids[c : min(b, c + 500) + 1], tags))
    return nodes, ways


def _connect(ways: list[tuple[np.ndarray, dict[str, str]]], n_nodes: int) -> list[tuple[np.ndarray, dict[str, str]]]:
    """Make the drivable network strongly connected enough and drop stray fragments.

    One-way streets whose nodes fall outside the largest strongly connected component become
    two-way; ways outside the largest weakly connected component are dropped.
    """

    def graph(directed: bool) -> sparse.csr_matrix:
        u, v = [], []
        for ids, tags in ways:
            if tags["highway"] == "track":
                continue
            u.append(ids[:-1])
            v.append(ids[1:])
            if tags.get("oneway") != "yes" or not directed:
                u.append(ids[1:])
                v.append(ids[:-1])
        u_a, v_a = np.concatenate(u), np.concatenate(v)
        return sparse.coo_matrix((np.ones(u_a.size), (u_a, v_a)), shape=(n_nodes, n_nodes)).tocsr()

    for _ in range(4):
        _, lab = csgraph.connected_components(graph(True), directed=True, connection="strong")
        big = np.bincount(lab).argmax()
        flip = [
            k
            for k, (ids, tags) in enumerate(ways)
            if tags.get("oneway") == "yes" and not tags["highway"].startswith("motorway") and (lab[ids] != big).any()
        ]
        if not flip:
            break
        for k in flip:
            ways[k][1].pop("oneway")
    _, lab = csgraph.connected_components(graph(False), directed=False)
    used = np.zeros(n_nodes, bool)
    for ids, tags in ways:
        if tags["highway"] != "track":
            used[ids] = True
    big = np.bincount(lab[used]).argmax()
    return [(ids, tags) for ids, tags in ways if lab[ids[0]] == big]


def _roads(
    rng: np.random.Generator, plan: _Plan, land: _Land, namer: _Namer
) -> tuple[np.ndarray, list[tuple[np.ndarray, dict[str, str]]]]:
    """The whole road network: node coordinates (km) and OSM ways."""
    lines = [_Line(ln.xy, dict(ln.tags), group=ln.group) for ln in plan.majors]
    motorways = []
    for xy, name, ref in plan.motorways:
        closed = bool(np.allclose(xy[0], xy[-1]))
        motorways.append((xy, [len(lines), len(lines) + 1], closed))
        lines += _carriageways(xy, name, ref, closed=closed, speed="90" if closed else "100")
    barriers = _Barriers.of(plan, [m[0] for m in plan.motorways])
    rural = _rural_roads(rng, plan, barriers, namer)
    lines += _settlement_streets(rng, plan, land, barriers, namer)
    lines += _estate_roads(rng, plan, barriers)
    lines += _housing_streets(rng, plan, [*lines, *rural], barriers)
    lines += rural
    lines += _tracks(rng, plan, rural, barriers)
    lines += _sois(rng, plan, land, [*plan.majors, *rural], barriers)
    ramps, inserts = _interchanges(lines, motorways, plan.river.line)
    lines += ramps
    nodes, ways = _network(lines, inserts, plan.river)
    ways = _connect(ways, len(nodes))
    used = np.zeros(len(nodes), bool)
    for ids, _ in ways:
        used[ids] = True
    renum = np.cumsum(used) - 1
    return nodes[used], [(renum[ids], tags) for ids, tags in ways]


def _write_osm(path: Path, frame: _Frame, nodes: np.ndarray, ways: list[tuple[np.ndarray, dict[str, str]]]) -> None:
    """Stream OSM XML 0.6 into a bz2 file (node ids from 1, version 1, no timestamps)."""
    lon, lat = frame.lonlat(nodes[:, 0], nodes[:, 1])
    with bz2.open(path, "wt", encoding="utf-8", compresslevel=9) as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="eicgeo synth">\n')
        f.write(
            f'  <bounds minlat="{frame.south:.7f}" minlon="{frame.west:.7f}" '
            f'maxlat="{frame.north:.7f}" maxlon="{frame.east:.7f}"/>\n'
        )
        for start in range(0, len(nodes), 5000):
            stop = min(start + 5000, len(nodes))
            f.write(
                "".join(
                    f'  <node id="{k + 1}" lat="{lat[k]:.7f}" lon="{lon[k]:.7f}" version="1"/>\n'
                    for k in range(start, stop)
                )
            )
        for w, (ids, tags) in enumerate(ways, start=1):
            body = "".join(f'    <nd ref="{k + 1}"/>\n' for k in ids)
            body += "".join(f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>\n" for k, v in sorted(tags.items()))
            f.write(f'  <way id="{w}" version="1">\n{body}  </way>\n')
        f.write("</osm>\n")


# --------------------------------------------------------------------------------------------
# Raw-material sources
# --------------------------------------------------------------------------------------------


def _sig(v: float, digits: int = 3) -> float:
    """``v`` rounded to ``digits`` significant figures."""
    return float(f"{v:.{digits}g}")


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _sources(rng: np.random.Generator, plan: _Plan, land: _Land, namer: _Namer) -> gpd.GeoDataFrame:
    """Raw-material sources in the km frame with tonnes per year (water in m3 = tonnes).

    Limestone quarries 0.8-3 Mt/yr, hard-rock quarries 0.2-0.8 Mt/yr, clay pits 20-120 kt/yr,
    river sand 50-300 kt/yr, plantation stands at 8 t/ha/yr, rice husk at 20 % of village paddy
    (0.6 ha of paddy per villager, two crops of 4.3 t/ha), bagasse at 28 % of cane from
    1,500-4,000 ha catchments at 70 t/ha, river intakes 5-60 Mm3/yr, reservoirs 20-100 Mm3/yr.
    """
    f = plan.frame.factor
    rows: list[tuple[str, str, float, shapely.Geometry]] = []
    for name, material, poly in plan.quarries:
        t = rng.uniform(0.8e6, 3.0e6) if material == "limestone" else rng.uniform(0.2e6, 0.8e6)
        rows.append((name, material, t, poly))
    dens = plan.urban_density
    clay_mask = (land.river_km > 0.4) & (land.river_km < 3.0) & (land.lc == CROP)
    clay = land.cells(clay_mask, 400 * f, rng)
    for p in _poisson_disc(rng, clay[dens(clay[:, 0], clay[:, 1]) < 500], 5 * f, 3.0):
        rows.append((f"{namer.place()} clay pit", "clay", rng.uniform(20e3, 120e3), Point(p)))
    bank = plan.river.xy[land.frame.inside(plan.river.xy[:, 0], plan.river.xy[:, 1], 0.5)]
    bank = bank[dens(bank[:, 0], bank[:, 1]) < 1500]
    for p in _poisson_disc(rng, bank, 4 * f, 4.0):
        rows.append((f"{plan.river.name} sand dredging site", "sand", rng.uniform(50e3, 300e3), Point(p)))
    forest = (land.lc == TREE) & (land.hill > 0.8)
    fr = plan.frame
    box = shapely.box(-fr.hx + 0.05, -fr.hy + 0.05, fr.hx - 0.05, fr.hy - 0.05)
    for p in _poisson_disc(rng, land.cells(forest, 400 * f, rng), 4 * f, 4.0):
        stand = _blob(p, rng.uniform(0.9, 1.6), rng, rough=0.25, n=36).intersection(box)
        rows.append((f"Pa {namer.word()} plantation stand", "timber", stand.area * 100 * 8.0, stand))
    cane_share = ndimage.uniform_filter(land.cane.astype(np.float32), 61)
    for v in plan.villages:
        rice = 1.0 - float(land.sample(cane_share, v.x, v.y))
        husk = 0.6 * v.population * rice * 2 * 4.3 * 0.2
        if husk >= 300:
            p = v.xy + rng.normal(0, 0.1, 2)
            rows.append((f"{v.name} husk collection point", "rice_husk", husk, Point(p)))
    for p in _poisson_disc(rng, land.cells(land.cane, 400 * f, rng), 5 * f, 5.0):
        cane = rng.uniform(1500, 4000) * 70.0
        rows.append((f"{namer.place()} cane loading yard", "bagasse", 0.28 * cane, Point(p)))
    town_side = plan.river.xy[(dens(plan.river.xy[:, 0], plan.river.xy[:, 1]) > 300)]
    for p in _poisson_disc(rng, town_side, 3 * f, 5.0):
        rows.append((f"{plan.river.name} raw water intake", "water", rng.uniform(5e6, 60e6), Point(p)))
    for name, poly in plan.reservoirs:
        outlet = shapely.get_coordinates(poly.exterior)
        p = outlet[np.argmin(plan.terrain.at(outlet[:, 0], outlet[:, 1]))]
        rows.append((f"{name} outlet", "water", rng.uniform(20e6, 100e6), Point(p)))
    return gpd.GeoDataFrame(
        {
            "source_id": [f"S{k:04d}" for k in range(1, len(rows) + 1)],
            "name": [r[0] for r in rows],
            "material": [r[1] for r in rows],
            "tonnes_per_year": [_sig(r[2]) for r in rows],
        },
        geometry=[r[3] for r in rows],
    )


# --------------------------------------------------------------------------------------------
# Firms and their by-product flows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sector:
    """A sector's typical firm: count in the S region, where it sits, size and material recipe.

    ``size`` is the capacity range (log-uniform) in the unit of the recipe's reference flow;
    ``inputs`` and ``outputs`` are tonnes (energy: MWh) per unit of capacity. Materials in
    ``optional`` are used by about half of the firms.
    """

    label: str
    count: int
    where: tuple[str, ...]
    size: tuple[float, float]
    employees: tuple[float, float]
    inputs: dict[str, float]
    outputs: dict[str, float]
    optional: tuple[str, ...] = ()


_SECTORS: dict[str, _Sector] = {
    "rice_mill": _Sector(
        "Rice Mill",
        38,
        ("village", "village", "village", "fringe"),
        (3e3, 60e3),
        (8, 90),
        {"paddy": 1.0, "electricity": 0.045},
        {"rice": 0.64, "rice_husk": 0.20, "rice_bran": 0.08},
    ),
    "sugar_mill": _Sector(
        "Sugar",
        3,
        ("cane",),
        (0.8e6, 2.5e6),
        (350, 900),
        {"sugar_cane": 1.0, "limestone": 0.002},
        {
            "sugar": 0.105,
            "bagasse": 0.07,
            "molasses": 0.045,
            "press_mud": 0.035,
            "electricity": 0.04,
        },
    ),
    "distillery": _Sector(
        "Distillery",
        2,
        ("sugar", "river"),
        (40e3, 150e3),
        (60, 180),
        {"molasses": 1.0, "water": 4.0, "steam": 0.6},
        {"ethanol": 0.2, "vinasse": 3.0, "co2": 0.19},
    ),
    "coal_power": _Sector(
        "Power",
        2,
        ("estate", "river"),
        (0.4e6, 2.0e6),
        (80, 300),
        {"coal": 0.42, "limestone": 0.012, "water": 2.0, "treated_wastewater": 0.3},
        {
            "electricity": 1.0,
            "steam": 0.15,
            "fly_ash": 0.034,
            "bottom_ash": 0.008,
            "fgd_gypsum": 0.02,
            "co2": 0.95,
        },
    ),
    "biomass_power": _Sector(
        "Biomass Power",
        5,
        ("village", "sugar", "fringe", "village", "estate"),
        (40e3, 160e3),
        (25, 60),
        {"rice_husk": 1.3},
        {"electricity": 1.0, "rice_husk_ash": 0.26},
    ),
    "cement": _Sector(
        "Cement",
        3,
        ("hills",),
        (0.8e6, 3.0e6),
        (300, 900),
        {
            "limestone": 1.25,
            "clay": 0.2,
            "fly_ash": 0.06,
            "fgd_gypsum": 0.04,
            "slag": 0.05,
            "coal": 0.09,
            "rice_husk": 0.02,
            "tyres": 0.004,
            "electricity": 0.1,
        },
        {"cement": 1.0, "cement_kiln_dust": 0.015, "waste_heat": 0.03, "co2": 0.78},
        optional=("tyres",),
    ),
    "brick_kiln": _Sector(
        "Brick Works",
        18,
        ("river",),
        (3e3, 25e3),
        (10, 60),
        {"clay": 1.3, "rice_husk": 0.12, "fly_ash": 0.1, "sawdust": 0.04},
        {"bricks": 1.0, "co2": 0.15},
        optional=("fly_ash", "sawdust"),
    ),
    "steel": _Sector(
        "Steel",
        4,
        ("estate",),
        (0.15e6, 0.8e6),
        (200, 800),
        {"scrap_metal": 1.12, "electricity": 0.5, "limestone": 0.05, "coal": 0.015},
        {"steel": 1.0, "slag": 0.13, "mill_scale": 0.02, "waste_heat": 0.1},
    ),
    "brewery": _Sector(
        "Brewery",
        2,
        ("estate",),
        (50e3, 400e3),
        (150, 700),
        {"malt": 0.17, "water": 4.5, "electricity": 0.1, "steam": 0.15},
        {
            "beer": 1.0,
            "spent_grain": 0.2,
            "brewer_yeast": 0.03,
            "co2": 0.03,
            "treated_wastewater": 3.0,
        },
    ),
    "feed_mill": _Sector(
        "Feedmill",
        9,
        ("estate", "fringe"),
        (40e3, 250e3),
        (50, 220),
        {
            "rice_bran": 0.2,
            "cassava_pulp": 0.08,
            "molasses": 0.04,
            "spent_grain": 0.03,
            "brewer_yeast": 0.005,
            "electricity": 0.03,
        },
        {"animal_feed": 1.0},
        optional=("brewer_yeast", "molasses"),
    ),
    "sawmill": _Sector(
        "Sawmill",
        9,
        ("forest", "forest", "fringe"),
        (3e3, 25e3),
        (15, 120),
        {"timber": 1.0, "electricity": 0.05},
        {"timber": 0.5, "sawdust": 0.12, "wood_chips": 0.3},
    ),
    "board_mill": _Sector(
        "Particleboard",
        3,
        ("forest", "estate"),
        (40e3, 200e3),
        (100, 400),
        {"wood_chips": 0.9, "sawdust": 0.35, "bagasse": 0.2, "steam": 0.5, "electricity": 0.15},
        {"particle_board": 1.0, "waste_heat": 0.1},
        optional=("bagasse",),
    ),
    "food_processing": _Sector(
        "Foods",
        45,
        ("estate", "urban", "fringe"),
        (5e3, 80e3),
        (40, 1200),
        {
            "water": 5.0,
            "electricity": 0.15,
            "steam": 0.3,
            "sugar": 0.05,
            "rice": 0.1,
            "starch": 0.03,
        },
        {"food_products": 1.0, "organic_waste": 0.2, "treated_wastewater": 4.0},
        optional=("sugar", "rice", "starch"),
    ),
    "tapioca_starch": _Sector(
        "Tapioca Starch",
        4,
        ("cane",),
        (80e3, 400e3),
        (60, 200),
        {"cassava": 1.0, "water": 4.0, "electricity": 0.03},
        {"starch": 0.24, "cassava_pulp": 0.35, "biogas": 0.15, "treated_wastewater": 3.5},
    ),
    "biogas_plant": _Sector(
        "Biogas",
        8,
        ("rural", "estate", "sugar", "rural"),
        (5e3, 60e3),
        (4, 20),
        {"animal_manure": 0.6, "organic_waste": 0.25, "vinasse": 0.1, "press_mud": 0.05},
        {"biogas": 0.0, "digestate": 0.9},
        optional=("vinasse", "press_mud"),
    ),
    "compost_plant": _Sector(
        "Organic Fertilizer",
        5,
        ("rural", "cane"),
        (2e3, 30e3),
        (5, 30),
        {"press_mud": 0.4, "animal_manure": 0.3, "organic_waste": 0.2, "rice_husk": 0.1},
        {"compost": 0.45},
        optional=("organic_waste", "rice_husk"),
    ),
    "paper_mill": _Sector(
        "Paper",
        3,
        ("river", "estate"),
        (30e3, 300e3),
        (100, 600),
        {"paper_waste": 1.15, "bagasse": 0.3, "water": 10.0, "steam": 2.0, "electricity": 0.5},
        {"paper": 1.0, "waste_plastic": 0.03, "treated_wastewater": 9.0, "waste_heat": 0.3},
        optional=("bagasse",),
    ),
    "plastics_recycling": _Sector(
        "Plastic Recycling",
        14,
        ("fringe", "urban"),
        (1e3, 20e3),
        (10, 80),
        {"waste_plastic": 1.25, "electricity": 0.6},
        {"plastic_pellets": 1.0},
    ),
    "glass": _Sector(
        "Glass",
        2,
        ("estate",),
        (50e3, 250e3),
        (200, 800),
        {"sand": 0.6, "limestone": 0.18, "cullet": 0.35, "electricity": 0.4},
        {"glass": 1.0, "co2": 0.2, "waste_heat": 0.3},
    ),
    "textile": _Sector(
        "Textile",
        18,
        ("estate", "urban", "estate"),
        (2e3, 30e3),
        (80, 1500),
        {"water": 120.0, "steam": 3.0, "electricity": 3.0},
        {"textiles": 1.0, "textile_waste": 0.12, "treated_wastewater": 110.0},
    ),
    "wastewater_treatment": _Sector(
        "Wastewater Treatment Plant",
        0,
        ("wwtp",),
        (5e6, 60e6),
        (15, 60),
        {"electricity": 0.00025},
        {"treated_wastewater": 0.98, "sewage_sludge": 0.001, "biogas": 0.00008},
    ),
    "livestock_farm": _Sector(
        "Farm",
        30,
        ("rural",),
        (1e3, 10e3),
        (5, 40),
        {"animal_feed": 0.9, "water": 5.0},
        {"animal_manure": 1.8},
    ),
    "quarry": _Sector("Quarry", 0, ("quarry",), (1.0, 1.0), (30, 150), {"electricity": 0.003}, {}),
}

# Biogas yield (MWh per tonne of feedstock) of the digester inputs.
_BIOGAS_YIELD = {
    "animal_manure": 0.15,
    "organic_waste": 0.6,
    "vinasse": 0.1,
    "press_mud": 0.35,
    "cassava_pulp": 0.5,
}

# By-product flows the sample must contain within 33 km (material, producer, users).
_FLOWS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("rice_husk", "rice_mill", ("biomass_power", "cement", "brick_kiln")),
    ("bagasse", "sugar_mill", ("biomass_power", "board_mill", "paper_mill")),
    ("molasses", "sugar_mill", ("distillery", "feed_mill")),
    ("press_mud", "sugar_mill", ("compost_plant", "biogas_plant")),
    ("fly_ash", "coal_power", ("cement", "brick_kiln")),
    ("fgd_gypsum", "coal_power", ("cement",)),
    ("slag", "steel", ("cement",)),
    ("spent_grain", "brewery", ("feed_mill",)),
    ("sawdust", "sawmill", ("board_mill",)),
    ("organic_waste", "food_processing", ("biogas_plant",)),
    ("cassava_pulp", "tapioca_starch", ("feed_mill",)),
    ("vinasse", "distillery", ("biogas_plant",)),
    ("animal_manure", "livestock_farm", ("biogas_plant",)),
)


@dataclass
class _Firm:
    sector: str
    xy: np.ndarray
    capacity: float
    variant: str = ""
    inputs: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, float] = field(default_factory=dict)


class _Sites:
    """Where firms of each kind can sit (candidate masks on the land-cover grid)."""

    def __init__(self, plan: _Plan, land: _Land) -> None:
        self.plan, self.land = plan, land
        xs, ys = land.xs, land.ys
        lc = land.lc
        dens = _urban_grid(plan, xs, ys)
        dry = (lc != WATER) & (lc != WETLAND)
        cell = (_LC_RES * plan.frame.ky, _LC_RES * plan.frame.kx)
        quarry = _burn([q[2] for q in plan.quarries if q[1] == "limestone"], plan.frame, lc.shape) > 0
        to_quarry = (
            ndimage.distance_transform_edt(~quarry, sampling=cell) if quarry.any() else np.full(lc.shape, np.inf)
        )
        forest = (lc == TREE) & (land.hill > 0)
        to_forest = (
            ndimage.distance_transform_edt(~forest, sampling=cell) if forest.any() else np.full(lc.shape, np.inf)
        )
        plain = land.hill < -0.2
        self.masks = {
            "estate": land.estate > 0,
            "urban": (lc == BUILT) & (dens > 1500) & (dens < 12000) & (land.estate == 0),
            "fringe": dry & plain & (dens > 200) & (dens < 2500) & (land.estate == 0) & (lc != TREE),
            "cane": land.cane,
            "hills": dry
            & (to_quarry > 0.8)
            & (to_quarry < 5.0)
            & (land.hill < 0.3)
            & np.isin(lc, (CROP, GRASS, SHRUB)),
            "river": dry & plain & (land.river_km > 0.3) & (land.river_km < 2.0) & (dens < 3000) & (lc != BUILT),
            "forest": dry & (to_forest > 0.3) & (to_forest < 4.0) & (land.hill < 0.2) & (lc != TREE) & (dens < 1500),
            "rural": (lc == CROP) & (dens < 300),
            "city_wwtp": dry
            & (land.river_km > 0.2)
            & (land.river_km < 1.0)
            & (plan.city.density(xs[None, :], ys[:, None]) > 800)
            & (plan.city.density(xs[None, :], ys[:, None]) < 5000)
            & (land.estate == 0),
        }
        self.dry = dry
        self.flat: dict[str, np.ndarray] = {}

    def points(self, rule: str, n: int, rng: np.random.Generator, firms: list[_Firm]) -> np.ndarray:
        """Up to ``n`` candidate points (km) for a placement ``rule``."""
        land = self.land
        if rule == "village":
            vs = self.plan.villages
            w = np.array([v.population for v in vs])
            pick = rng.choice(len(vs), n, p=w / w.sum())
            ang = rng.uniform(0, 2 * np.pi, n)
            dist = np.array([vs[k].radius for k in pick]) + rng.uniform(0.05, 0.4, n)
            pts = np.array([vs[k].xy for k in pick]) + dist[:, None] * np.column_stack([np.cos(ang), np.sin(ang)])
            return pts[land.sample(self.dry, pts[:, 0], pts[:, 1])]
        if rule == "sugar":
            mills = [f.xy for f in firms if f.sector == "sugar_mill"]
            if not mills:
                return self.points("cane", n, rng, firms)
            base = np.array(mills)[rng.integers(0, len(mills), n)]
            ang = rng.uniform(0, 2 * np.pi, n)
            pts = base + rng.uniform(0.5, 3.0, n)[:, None] * np.column_stack([np.cos(ang), np.sin(ang)])
            return pts[land.sample(self.dry, pts[:, 0], pts[:, 1]) & self.plan.frame.inside(pts[:, 0], pts[:, 1], 0.2)]
        if rule == "wwtp":
            return self.points("city_wwtp", n, rng, firms)
        if rule not in self.flat:
            flat = np.flatnonzero(self.masks[rule])
            self.flat[rule] = flat if flat.size else np.flatnonzero(self.masks["rural"])
        return land.cells(self.flat[rule], n, rng)


def _recipe(rng: np.random.Generator, firm: _Firm, spec: _Sector) -> None:
    """Fill a firm's inputs and outputs (tonnes or MWh per year) from its sector recipe."""
    inputs = {m: c for m, c in spec.inputs.items() if m not in spec.optional or rng.random() < 0.5}
    outputs = dict(spec.outputs)
    if firm.sector == "biomass_power" and firm.variant == "bagasse":
        inputs, outputs = {"bagasse": 1.8}, {"electricity": 1.0, "bottom_ash": 0.05}
    elif firm.sector == "biomass_power" and firm.variant == "mixed":
        inputs, outputs = (
            {"rice_husk": 0.8, "wood_chips": 0.5},
            {"electricity": 1.0, "rice_husk_ash": 0.16, "bottom_ash": 0.01},
        )
    elif firm.sector == "biogas_plant" and firm.variant == "industrial":
        inputs = {"organic_waste": 0.45, "vinasse": 0.35, "cassava_pulp": 0.1, "press_mud": 0.1}
    elif firm.sector == "livestock_farm" and firm.variant == "poultry":
        inputs, outputs = {"animal_feed": 0.045, "water": 0.1}, {"animal_manure": 0.02}
    elif firm.sector == "quarry":
        outputs = {firm.variant: 1.0}
    if firm.sector == "biogas_plant":
        outputs["biogas"] = sum(_BIOGAS_YIELD.get(m, 0.0) * c for m, c in inputs.items())
        outputs["digestate"] = 0.9 * sum(inputs.values())
    firm.inputs = {m: _sig(c * firm.capacity) for m, c in inputs.items()}
    firm.outputs = {m: _sig(c * firm.capacity) for m, c in outputs.items()}


def _employees(rng: np.random.Generator, spec: _Sector, capacity: float) -> int:
    """Employees growing with capacity (power law between the sector's small and large firm)."""
    lo, hi = spec.size
    (e0, e1) = spec.employees
    share = 0.5 if hi <= lo else (math.log(capacity) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return max(
        2,
        round(math.exp(math.log(e0) + share * (math.log(e1) - math.log(e0)) + rng.normal(0, 0.2))),
    )


def _firms(rng: np.random.Generator, plan: _Plan, land: _Land, sources: gpd.GeoDataFrame, namer: _Namer) -> list[_Firm]:
    """About 240 firms (S) in 23 sectors, placed where such firms really are."""
    sites = _Sites(plan, land)
    scale = {1: 1.0, 4: 3.5, 16: 12.0}[plan.frame.factor]
    firms: list[_Firm] = []
    for sector, spec in _SECTORS.items():
        if sector == "quarry":
            for _, src in sources[sources.material.isin(["limestone", "quarry_stone"])].iterrows():
                c = src.geometry.centroid
                firm = _Firm(sector, np.array([c.x, c.y]), src.tonnes_per_year, variant=src.material)
                firms.append(firm)
            continue
        n = 1 + len(plan.towns) if sector == "wastewater_treatment" else max(1, round(spec.count * scale))
        for k in range(n):
            rule = spec.where[k % len(spec.where)]
            if sector == "wastewater_treatment" and k > 0:
                t = plan.towns[k - 1]
                ang = rng.uniform(0, 2 * np.pi, 50)
                cand = t.xy + rng.uniform(1.2, 2.5, 50)[:, None] * np.column_stack([np.cos(ang), np.sin(ang)])
                cand = cand[
                    land.sample(sites.dry, cand[:, 0], cand[:, 1]) & plan.frame.inside(cand[:, 0], cand[:, 1], 0.2)
                ]
            else:
                cand = sites.points(rule, 20, rng, firms)
            if len(cand) == 0:
                cand = sites.points("rural", 20, rng, firms)
            cap = _loguniform(rng, *spec.size)
            variant = ""
            if sector == "biomass_power":
                variant = {"sugar": "bagasse", "estate": "mixed"}.get(rule, "husk")
            elif sector == "biogas_plant":
                variant = "industrial" if rule in ("estate", "sugar") else "farm"
            elif sector == "livestock_farm":
                variant = "poultry" if rng.random() < 0.4 else "pig"
                if variant == "poultry":
                    cap = _loguniform(rng, 30e3, 300e3)
            firms.append(_Firm(sector, cand[0], cap, variant))
    for firm in firms:
        _recipe(rng, firm, _SECTORS[firm.sector])
    _ensure_flows(rng, firms, sites)
    return firms


def _ensure_flows(rng: np.random.Generator, firms: list[_Firm], sites: _Sites, max_km: float = 28.0) -> None:
    """Make sure each listed by-product has a producer and a user within ``max_km``.

    When a flow is missing, a producer is moved (within its own placement rule) next to a user;
    failing that, a user is moved next to a producer.
    """
    for material, producer, users in _FLOWS:
        prod = [f for f in firms if f.sector == producer and material in f.outputs]
        use = [f for f in firms if f.sector in users and material in f.inputs]
        if not use:
            cand = [f for f in firms if f.sector in users]
            f = cand[int(rng.integers(len(cand)))]
            base = _SECTORS[f.sector].inputs.get(material, 0.05)
            f.inputs[material] = _sig(base * f.capacity)
            use = [f]
        if not prod:
            continue
        a, b = np.array([f.xy for f in prod]), np.array([f.xy for f in use])
        if (np.hypot(*(a[:, None] - b[None]).transpose(2, 0, 1)) <= max_km).any():
            continue
        for mover, anchors in ((prod, b), (use, a)):
            f = mover[int(rng.integers(len(mover)))]
            rules = dict.fromkeys(_SECTORS[f.sector].where)  # ordered: sets of str are not deterministic
            cand = np.vstack([sites.points(r, 400, rng, firms) for r in rules])
            near = cand[cKDTree(anchors).query(cand)[0] < max_km - 3]
            if len(near):
                f.xy = near[0]
                break


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _profile(frame: _Frame, res: float, dtype: str, nodata: float) -> dict[str, object]:
    rows, cols = frame.shape(res)
    return {
        "driver": "GTiff",
        "width": cols,
        "height": rows,
        "count": 1,
        "dtype": dtype,
        "nodata": nodata,
        "crs": "EPSG:4326",
        "transform": frame.transform(res),
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "zlevel": 9,
    }


def _write_landcover(path: Path, frame: _Frame, lc: np.ndarray, tags: dict[str, str]) -> None:
    with rasterio.open(path, "w", **_profile(frame, _LC_RES, "uint8", 0)) as dst:
        dst.write(lc, 1)
        dst.set_band_description(1, "ESA WorldCover class")
        dst.write_colormap(1, {k: (*v, 255) for k, v in _WORLDCOVER_COLORS.items()})
        dst.update_tags(**tags, legend="esa_worldcover")


def _write_population(
    path: Path, frame: _Frame, pop: np.ndarray, planned: dict[str, float], tags: dict[str, str]
) -> None:
    profile = _profile(frame, _POP_RES, "float32", -99999.0) | {"predictor": 3}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(pop, 1)
        dst.set_band_description(1, "people per cell")
        dst.update_tags(
            **tags,
            units="people per cell",
            **{f"planned_{k}": f"{v:.0f}" for k, v in planned.items()},
        )


def _write_sources(path: Path, frame: _Frame, sources: gpd.GeoDataFrame) -> None:
    """Write the GeoPackage with a fixed ``last_change`` date, so the file is byte-reproducible."""
    out = sources.set_geometry(frame.to_lonlat(sources.geometry.values), crs="EPSG:4326")
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2026-01-01T00:00:00.000Z"})
    try:
        out.to_file(path, layer="sources", driver="GPKG", engine="pyogrio")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})


def _firms_table(frame: _Frame, firms: list[_Firm], rng: np.random.Generator, namer: _Namer) -> pd.DataFrame:
    xy = np.array([f.xy for f in firms])
    lon, lat = frame.lonlat(xy[:, 0], xy[:, 1])

    def fmt(flows: dict[str, float]) -> str:
        return ";".join(f"{m}:{v:.0f}" if v >= 100 else f"{m}:{v:g}" for m, v in flows.items())

    names = []
    for f in firms:
        label = _SECTORS[f.sector].label
        if f.sector == "livestock_farm":
            label = "Poultry Farm" if f.variant == "poultry" else "Pig Farm"
        suffix = " Co., Ltd." if rng.random() < 0.4 else ""
        names.append(f"{namer.firm()} {label}{suffix}")
    return pd.DataFrame(
        {
            "firm_id": [f"F{k:04d}" for k in range(1, len(firms) + 1)],
            "name": names,
            "sector": [f.sector for f in firms],
            "lon": np.round(lon, 6),
            "lat": np.round(lat, 6),
            "employees": [_employees(rng, _SECTORS[f.sector], f.capacity) for f in firms],
            "inputs": [fmt(f.inputs) for f in firms],
            "outputs": [fmt(f.outputs) for f in firms],
        }
    )


def _build(folder: Path, size: str, seed: int) -> None:
    """Generate every layer of the region into ``folder``."""
    rng = np.random.default_rng(seed)
    frame = _frame(size)
    namer = _Namer(rng)
    plan = _plan(rng, frame, namer)
    _place_water_bodies(rng, plan, namer)
    _place_estates(rng, plan, namer)
    _place_quarries(rng, plan, namer)
    _place_villages(rng, plan, namer)
    _place_housing(rng, plan, namer)
    tags = {
        "generator": "eicgeo synth",
        "size": size,
        "seed": str(seed),
        "region": f"{plan.city.name} (fictional)",
    }
    land = _landcover(rng, plan)
    _write_landcover(folder / "landcover.tif", frame, land.lc, tags)
    pop, planned = _population(rng, plan, land)
    _write_population(folder / "population.tif", frame, pop, planned, tags)
    del pop
    nodes, ways = _roads(rng, plan, land, namer)
    _write_osm(folder / "roads.osm.bz2", frame, nodes, ways)
    del nodes, ways
    sources = _sources(rng, plan, land, namer)
    _write_sources(folder / "sources.gpkg", frame, sources)
    firms = _firms(rng, plan, land, sources, namer)
    _firms_table(frame, firms, rng, namer).to_csv(folder / "firms.csv", index=False, lineterminator="\n")
    region = (
        "\n# [region]  (information only)\n"
        f'# city = "{plan.city.name}"  (fictional, {plan.city.population / 1e6:.2f} M people)\n'
        f"# towns = {', '.join(t.name for t in plan.towns[:5])}\n"
        f'# generated by eicgeo.datasets.synth.generate(size="{size}", seed={seed})\n'
    )
    (folder / "scenario.toml").write_text(_SCENARIO + region, encoding="utf-8")


def generate(
    out: str | os.PathLike[str], *, size: str = "S", seed: int = DEFAULT_SEED, overwrite: bool = False
) -> Path:
    """Generate the synthetic peri-urban sample region into the folder ``out``.

    Parameters
    ----------
    out
        Folder to write: new, empty, or one this generator wrote before (known by its
        ``manifest.json``). It is built in a staging folder and swapped in whole at the end, so
        a failure never leaves a partial region (see :func:`eicgeo.io.output_folder`).
    size
        ``"S"`` (48 km x 48 km, the committed sample, < 8 MB), ``"M"`` (96 km) or ``"L"``
        (192 km, for benchmarks; > 200,000 OSM nodes).
    seed
        Seed of ``numpy.random.default_rng``; the same seed and size give identical files.
    overwrite
        Write into a folder that holds other files, beside them (never deleting them).

    Returns
    -------
    pathlib.Path
        The folder, holding ``landcover.tif``, ``population.tif``, ``roads.osm.bz2``,
        ``sources.gpkg``, ``firms.csv``, ``scenario.toml`` and ``manifest.json``.

    Raises
    ------
    InputError
        If ``size`` is not one of "S", "M", "L", or ``seed`` is not a non-negative integer.
    OutputFolderError
        If ``out`` is an existing file or holds files the generator did not write.
    """
    if size not in SIZES:
        msg = f"size must be one of {', '.join(repr(s) for s in SIZES)}; got {size!r}"
        raise InputError(msg)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        msg = f"seed must be a non-negative integer; got {seed!r}"
        raise InputError(msg)
    from eicgeo import __version__, io

    with io.output_folder(out, overwrite=overwrite, names=FILES) as stage:
        _build(stage, size, int(seed))
        # Deterministic (no time stamp), so the same seed gives the same folder.
        manifest = {"eicgeo": __version__, "generator": "eicgeo.datasets.synth", "size": size, "seed": int(seed)}
        (stage / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return Path(out)
