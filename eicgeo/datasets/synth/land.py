"""Land cover and population on the region's raster grids.

:func:`landcover` assigns ESA WorldCover classes on 0.0003 degree cells; :func:`population` spreads
each settlement's people over 3 arc-second cells like WorldPop, weighted by that land cover.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from rasterio.features import rasterize
from rasterio.warp import Resampling, reproject
from scipy import ndimage
from shapely.geometry import LineString

from eicgeo.datasets.synth.frame import LC_RES, POP_RES, Frame, Noise
from eicgeo.datasets.synth.plan import Plan

__all__ = [
    "BARE",
    "BUILT",
    "CROP",
    "GRASS",
    "SHRUB",
    "TREE",
    "WATER",
    "WETLAND",
    "Land",
    "burn",
    "landcover",
    "population",
    "urban_grid",
]

# ESA WorldCover 2021 class codes.
TREE, SHRUB, GRASS, CROP, BUILT, BARE, WATER, WETLAND = 10, 20, 30, 40, 50, 60, 80, 90


# --------------------------------------------------------------------------------------------
# Land cover (ESA WorldCover classes, 0.0003 degree cells)
# --------------------------------------------------------------------------------------------


@dataclass
class Land:
    """The land-cover grid and the fields later stages reuse (all on the 0.0003 degree grid)."""

    frame: Frame
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
        t = self.frame.km_transform(LC_RES)
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
        dx, dy = LC_RES * self.frame.kx, LC_RES * self.frame.ky
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


def urban_grid(plan: Plan, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Clark density of the city and the towns (people per km2) on a grid."""
    dens = plan.city.density(xs[None, :], ys[:, None]).astype(np.float32)
    for t in plan.towns:
        rs, cs = _window(xs, ys, t.x, t.y, 8 * t.b)
        dens[rs, cs] += t.density(xs[None, cs], ys[rs, None]).astype(np.float32)
    return dens


def burn(geoms: list[shapely.Geometry], frame: Frame, shape: tuple[int, int], res: float = LC_RES) -> np.ndarray:
    """Rasterise km-frame geometries to a boolean mask (or 1-based labels if several)."""
    if not geoms:
        return np.zeros(shape, np.uint8)
    items = [(g, i + 1) for i, g in enumerate(geoms) if not g.is_empty]
    return rasterize(items, out_shape=shape, transform=frame.km_transform(res), fill=0, dtype="uint8")


def landcover(rng: np.random.Generator, plan: Plan) -> Land:
    """Assemble the WorldCover classes: cropland everywhere, then uplands, settlements, water.

    Built-up land is where the Clark density (with 1.2 km and 0.35 km noise for ragged edges)
    exceeds 2,500 people per km2, plus leapfrog housing estates in the fringe, ribbons along the
    highways, village blobs, industrial estates and the highway pavement itself.
    """
    frame = plan.frame
    xs, ys = frame.axes(LC_RES)
    shape = (ys.size, xs.size)
    cell = (LC_RES * frame.ky, LC_RES * frame.kx)

    def noise(scale: float) -> np.ndarray:
        return Noise(rng, frame, scale).grid(xs, ys)

    hill = plan.terrain.grid(xs, ys)
    lc = np.full(shape, CROP, np.uint8)
    lc[(noise(2.0) > 1.85) & (hill < 0)] = GRASS  # fallow fields, pasture
    lc[(noise(0.5) > 2.3) & (hill < 0)] = TREE  # orchards and temple groves
    lc[(noise(0.12) > 2.6) & (hill < 0)] = TREE  # homestead gardens
    up = hill > 0
    lc[up] = SHRUB
    lc[up & (hill > 0.55 + 0.35 * noise(1.0))] = TREE
    lc[up & (noise(0.8) > 1.3) & (hill < 1.2)] = GRASS

    dens = urban_grid(plan, xs, ys)
    built = np.log(np.maximum(dens, 1e-3)) + 0.45 * noise(1.2) + 0.25 * noise(0.35) > math.log(2500)
    built |= (dens > 150) & (dens < 2500) & (noise(0.5) > 1.9)  # scattered fringe development
    built |= (noise(0.1) > 2.9) & (hill < 0)  # farmsteads, temples and schools in the fields
    built |= burn([h[1] for h in plan.housing], frame, shape) > 0  # moo baan housing estates
    roads = [ln.xy for ln in plan.majors] + [m[0] for m in plan.motorways]
    on_road = burn([LineString(xy) for xy in roads], frame, shape) > 0
    road_km = ndimage.distance_transform_edt(~on_road, sampling=cell).astype(np.float32)
    built |= (road_km < 0.1 + 0.05 * noise(0.4)) & (dens > 120) & (noise(0.8) > -0.3)  # ribbons
    fuzz = noise(0.25)
    for v in plan.villages:
        rs, cs = _window(xs, ys, v.x, v.y, 2 * v.radius)
        d = np.hypot(xs[None, cs] - v.x, ys[rs, None] - v.y)
        built[rs, cs] |= d < v.radius * (1 + 0.3 * fuzz[rs, cs])
    estate = burn([e[1] for e in plan.estates], frame, shape)
    built |= estate > 0
    built |= burn([LineString(xy) for xy in roads[:-1] if len(xy) > 1], frame, shape) > 0
    lc[built & (hill < 0.3)] = BUILT
    lc[(burn([q[2] for q in plan.quarries], frame, shape) > 0)] = BARE

    river = burn([plan.river.polygon], frame, shape) > 0
    river_km = ndimage.distance_transform_edt(~river, sampling=cell).astype(np.float32)
    wet_noise = noise(0.6)
    soft = (lc == CROP) | (lc == GRASS)
    lc[soft & (wet_noise > 0.3) & (river_km < 0.15 + 0.5 * (wet_noise - 0.3))] = WETLAND
    lakes = burn([p for _, p in plan.lakes], frame, shape) > 0
    if lakes.any():
        lake_km = ndimage.distance_transform_edt(~lakes, sampling=cell)
        lc[soft & (lake_km < 0.25 + 0.2 * (noise(0.4) + 1.5))] = WETLAND
    ponds = (noise(0.2) > 2.6) & (lc == CROP) & (dens < 1000)
    lc[ponds | river | lakes | (burn([p for _, p in plan.reservoirs], frame, shape) > 0)] = WATER
    cane = (river_km > 6) & (hill > -2.6 + 0.7 * noise(5.0)) & (lc == CROP)
    built_share = ndimage.uniform_filter((lc == BUILT).astype(np.float32), 5)
    return Land(frame, lc, hill, river_km, cane, estate, built_share, xs, ys)


# --------------------------------------------------------------------------------------------
# Population (people per 3 arc-second cell, like WorldPop)
# --------------------------------------------------------------------------------------------


def population(rng: np.random.Generator, plan: Plan, land: Land) -> tuple[np.ndarray, dict[str, float]]:
    """People per cell and the planned totals of each component.

    Each settlement's planned population is spread by its density model (Clark for the city
    and towns, a Gaussian for villages), weighted towards residential built-up land, kept off
    water and industrial estates, and rescaled to the planned total. Dispersed farm households
    add 40 people per km2 of cropland (12 on grass, shrub and wetland, 4 under trees).
    """
    frame = plan.frame
    xs, ys = frame.axes(POP_RES)
    shape = (ys.size, xs.size)

    def share(mask: np.ndarray) -> np.ndarray:
        out = np.zeros(shape, np.float32)
        reproject(
            mask.astype(np.float32),
            out,
            src_transform=frame.transform(LC_RES),
            src_crs="EPSG:4326",
            dst_transform=frame.transform(POP_RES),
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
    texture = np.exp(0.15 * Noise(rng, frame, 0.5).grid(xs, ys))
    lat = frame.lat0 + ys / frame.ky
    area = (POP_RES * frame.kx) * (POP_RES * frame.ky) * np.cos(np.radians(lat)) / math.cos(math.radians(frame.lat0))
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
    rural = rural * hab * np.exp(0.4 * Noise(rng, frame, 1.0).grid(xs, ys)) * area
    pop += rural
    planned["rural"] = float(rural.sum())
    planned["total"] = sum(planned.values())
    return pop.astype(np.float32), planned
