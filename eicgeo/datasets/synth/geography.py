"""Physical geography: the hills (an upland index) and the meandering river."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from shapely.geometry import LineString, Polygon

from eicgeo.datasets.synth.frame import SIZES, Frame, Noise
from eicgeo.datasets.synth.names import Namer
from eicgeo.datasets.synth.shapes import poisson_disc

__all__ = ["River", "Terrain", "make_river", "make_terrain"]


@dataclass
class Terrain:
    """An upland index: below 0 the alluvial plain, above 0 hills, above ~0.5 forested uplands.

    A tilted ramp towards one corner (the hill front, ``band`` km wide) plus three scales of noise
    and isolated limestone (karst) hills, like the Lop Buri and Saraburi hills of central Thailand.
    """

    ux: float
    uy: float
    p0: float
    band: float
    huge: Noise
    big: Noise
    small: Noise
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


def make_terrain(rng: np.random.Generator, frame: Frame, city: np.ndarray) -> Terrain:
    """The upland index of a region whose city centre is at ``city`` (km).

    The hill front faces the plain from the north-east (a heading of 32-52 degrees); karst hills
    (3 per S-sized area, at least 6 km apart) stand on its plain side, more than 13 km from the city.
    """
    theta = math.radians(rng.uniform(32, 52))
    ux, uy = math.cos(theta), math.sin(theta)
    side = SIZES[frame.size]
    p0 = 0.62 * (frame.hx * ux + frame.hy * uy)
    band = 0.085 * side
    terrain = Terrain(
        ux,
        uy,
        p0,
        band,
        Noise(rng, frame, 0.3 * side),
        Noise(rng, frame, 6.0),
        Noise(rng, frame, 1.5),
        np.empty((0, 4)),
    )
    # isolated karst hills on the hill side of the plain
    n = 3 * frame.factor
    pts = np.column_stack([rng.uniform(-frame.hx, frame.hx, 40 * n), rng.uniform(-frame.hy, frame.hy, 40 * n)])
    proj = pts @ np.array([ux, uy])
    ok = (proj > 0.25 * p0) & (proj < 0.95 * p0) & (np.hypot(*(pts - city).T) > 13)
    ok &= frame.inside(pts[:, 0], pts[:, 1], 2.0)
    chosen = poisson_disc(rng, pts[ok], n, 6.0)
    radii = rng.uniform(0.5, 1.3, len(chosen))
    base = terrain.at(chosen[:, 0], chosen[:, 1])
    heights = np.maximum(0.0, -base) + rng.uniform(0.8, 1.6, len(chosen))
    terrain.bumps = np.column_stack([chosen, radii, heights])
    return terrain


@dataclass
class River:
    """The river: its name, centreline and channel width."""

    name: str
    xy: np.ndarray  # centreline, north to south (km)
    width: float  # km

    @property
    def line(self) -> LineString:
        return LineString(self.xy)

    @property
    def polygon(self) -> Polygon:
        return self.line.buffer(self.width / 2, quad_segs=4)


def make_river(rng: np.random.Generator, frame: Frame, city: np.ndarray, namer: Namer) -> River:
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
    return River(f"Mae Nam {namer.word()}", np.column_stack([x, y]), 0.2)
