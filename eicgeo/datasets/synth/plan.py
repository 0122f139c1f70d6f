"""Settlements and the plan of the region.

:func:`lay_out` places the city, the radial highways, the ring roads and the towns; the
``place_*`` functions then add, in this order, water bodies, industrial estates, quarries,
villages and housing estates to the :class:`Plan`, each avoiding what is already there.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import shapely
from scipy.spatial import Delaunay, cKDTree
from shapely.geometry import LineString, Point, Polygon

from eicgeo.datasets.synth.frame import SIZES, Frame
from eicgeo.datasets.synth.geography import River, Terrain, make_river, make_terrain
from eicgeo.datasets.synth.names import CITY, ESTATE_SUFFIXES, TOWN_PREFIXES, Namer
from eicgeo.datasets.synth.shapes import blob, cumlen, drifting_path, poisson_disc, tangent, wiggly

__all__ = [
    "Line",
    "Plan",
    "Settlement",
    "gabriel",
    "lay_out",
    "place_estates",
    "place_housing",
    "place_quarries",
    "place_villages",
    "place_water_bodies",
]


@dataclass
class Settlement:
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
class Line:
    """A road polyline in km with its OSM tags."""

    xy: np.ndarray
    tags: dict[str, str]
    level: int = 0  # 0 = at-grade network, 1 = motorway carriageways and ramps
    group: int = -1  # the major road it belongs to
    target: int = -1  # ramps: index of the at-grade road they join


@dataclass
class Plan:
    """Everything laid out so far, in km; the ``place_*`` functions fill the lists after the first."""

    frame: Frame
    terrain: Terrain
    river: River
    city: Settlement
    ring: np.ndarray  # closed polyline (km) of the ring motorway
    towns: list[Settlement]
    majors: list[Line]  # at-grade trunk, primary and secondary roads
    motorways: list[tuple[np.ndarray, str, str]]  # centreline, name, ref
    lakes: list[tuple[str, Polygon]] = field(default_factory=list)
    reservoirs: list[tuple[str, Polygon]] = field(default_factory=list)
    estates: list[tuple[str, Polygon, int]] = field(default_factory=list)  # name, polygon, road
    quarries: list[tuple[str, str, Polygon]] = field(default_factory=list)  # name, material, polygon
    villages: list[Settlement] = field(default_factory=list)
    housing: list[tuple[str, Polygon, float]] = field(default_factory=list)  # name, polygon, angle

    @property
    def settlements(self) -> list[Settlement]:
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


def gabriel(pts: np.ndarray) -> np.ndarray:
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


def lay_out(rng: np.random.Generator, frame: Frame, namer: Namer) -> Plan:
    """Lay out the city, river, radial highways, ring road, towns and their links."""
    centre = rng.uniform(-1.5, 1.5, 2)
    terrain = make_terrain(rng, frame, centre)
    river = make_river(rng, frame, centre, namer)
    t = tangent(river.xy, float(np.argmin(np.abs(river.xy[:, 1] - centre[1]))) * 0.05)
    city_name = CITY
    city = Settlement(
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
    majors: list[Line] = []
    motorways: list[tuple[np.ndarray, str, str]] = []
    towns: list[Settlement] = []
    river_line = river.line
    for i, h in enumerate(headings):
        path = drifting_path(centre, h, rng, frame, sway=0.05)
        outside = ~shapely.contains_xy(ring_poly, path[:, 0], path[:, 1])
        s_exit = cumlen(path)[int(np.argmax(outside))]
        k = int(np.searchsorted(cumlen(path), s_exit + (1.2 if i == motorway_i else 0.6)))
        ref = str(301 + 10 * i + int(rng.integers(0, 9)))
        if i == motorway_i:
            tags = {"highway": "primary", "name": f"Thanon {namer.word()}", "lanes": "6"}
            majors.append(Line(path[: k + 1], tags, group=i))
            motorways.append((path[k:], f"{city_name} - Capital Motorway", "35"))
            continue
        # a satellite town 14-22 km out, on dry, flat land away from the river
        cl = cumlen(path)
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
                town = Settlement(
                    namer.place(TOWN_PREFIXES),
                    "town",
                    *p,
                    rng.uniform(40e3, 85e3),
                    d0=rng.uniform(8000, 10000),
                    axis=h,
                )
                break
        dest = town.name if town else "Province Boundary"
        tags = {"highway": "primary", "name": f"Thanon {namer.word()}", "lanes": "4"}
        majors.append(Line(path[: k + 1], tags, group=i))
        tags = {
            "highway": "trunk",
            "name": f"{city_name} - {dest} Highway",
            "ref": ref,
            "lanes": "4",
            "maxspeed": "80",
        }
        majors.append(Line(path[k:], tags, group=i))
        if town:
            towns.append(town)
    total = sum(t.population for t in towns)
    for t in towns:  # the towns together hold at most 300,000 people
        t.population *= min(1.0, 300e3 / total)
    # outer towns (M, L and XL only), then primary roads linking neighbouring towns
    if frame.factor > 1:
        n = {4: 6, 16: 28, 64: 110}[frame.factor]
        pts = np.column_stack([rng.uniform(-frame.hx, frame.hx, 400 * n), rng.uniform(-frame.hy, frame.hy, 400 * n)])
        ok = (np.hypot(*(pts - centre).T) > 28) & frame.inside(pts[:, 0], pts[:, 1], 4.0)
        ok[ok] &= terrain.at(pts[ok, 0], pts[ok, 1]) < -1.0
        ok[ok] &= shapely.distance(shapely.points(pts[ok]), river_line) > 2.5
        taken = np.array([t.xy for t in towns]).reshape(-1, 2)
        for p in poisson_disc(rng, pts[ok], n, 16.0, taken=taken):
            pop = float(np.clip(rng.lognormal(math.log(35e3), 0.5), 15e3, 120e3))
            towns.append(
                Settlement(
                    namer.place(TOWN_PREFIXES),
                    "town",
                    *p,
                    pop,
                    d0=rng.uniform(7000, 9500),
                )
            )
    tpts = np.array([t.xy for t in towns])
    for a, b in gabriel(tpts):
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
        majors.append(Line(wiggly(tpts[a], tpts[b], rng, step=0.1, amp=0.035), tags, group=100 + len(majors)))
    inner = _ring(rng, centre, rng.uniform(3.4, 4.2))
    majors.append(Line(inner, {"highway": "secondary", "name": "Thanon Rop Mueang", "lanes": "4"}, group=99))
    motorways.insert(0, (ring, f"{city_name} Outer Ring Road", "9"))
    return Plan(frame, terrain, river, city, ring, towns, majors, motorways)


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


def _road_index(plan: Plan) -> _SegmentIndex:
    return _SegmentIndex([ln.xy for ln in plan.majors] + [m[0] for m in plan.motorways])


def place_water_bodies(rng: np.random.Generator, plan: Plan, namer: Namer) -> None:
    """A floodplain lake (bueng) per S-sized area and a reservoir in the hills."""
    frame, side = plan.frame, SIZES[plan.frame.size]
    roads = _road_index(plan)
    river = _SegmentIndex([plan.river.xy])
    n_lakes, n_res = {1: (1, 1), 4: (2, 2), 16: (5, 3), 64: (18, 10)}[frame.factor]
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
            poly = blob(p, r, rng, rough=0.25 if kind == "lake" else 0.35)
            placed.append(poly)
            if kind == "lake":
                plan.lakes.append((f"Bueng {namer.word()}", poly))
            else:
                plan.reservoirs.append((f"Ang Kep Nam {namer.word()}", poly))


def place_estates(rng: np.random.Generator, plan: Plan, namer: Namer) -> None:
    """Industrial estates: 1-4 km2 blocks beside the trunk roads, 6-20 km from the city centre."""
    frame = plan.frame
    n_core = int(rng.integers(5, 9))
    n = n_core * {1: 1, 4: 3, 16: 8, 64: 30}[frame.factor]
    roads = [i for i, ln in enumerate(plan.majors) if ln.tags["highway"] == "trunk"]
    if frame.factor > 1:
        roads += [i for i, ln in enumerate(plan.majors) if ln.group >= 100]
    others = shapely.union_all([LineString(ln.xy) for ln in plan.majors] + [LineString(m[0]) for m in plan.motorways])
    water = plan.water.buffer(0.3)
    ring = LineString(plan.ring)
    for _ in range(400 * n):
        if len(plan.estates) >= n:
            break
        i = roads[int(rng.integers(len(roads)))]
        xy = plan.majors[i].xy
        cl = cumlen(xy)
        k = int(rng.integers(5, len(xy) - 5))
        p, t = xy[k], tangent(xy, cl[k])
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
        named = sum(near.name in e[0] for e in plan.estates)  # estates named after this settlement so far
        name = f"{near.name} {ESTATE_SUFFIXES[named % len(ESTATE_SUFFIXES)]}"
        plan.estates.append((name, poly, i, k))


def place_quarries(rng: np.random.Generator, plan: Plan, namer: Namer) -> None:
    """Limestone and hard-rock quarries (0.3-0.9 km2 pits) on the hill front and karst hills."""
    frame = plan.frame
    n_lime, n_stone = 3 * frame.factor, 2 * frame.factor
    pts = np.column_stack([rng.uniform(-frame.hx, frame.hx, 4000), rng.uniform(-frame.hy, frame.hy, 4000)])
    hill = plan.terrain.at(pts[:, 0], pts[:, 1])
    ok = (hill > 0.0) & (hill < 0.9) & (np.hypot(*(pts - plan.city.xy).T) > 14)
    ok &= frame.inside(pts[:, 0], pts[:, 1], 1.5) & (_road_index(plan).distance(pts) > 0.6)
    water = plan.water
    chosen = [p for p in poisson_disc(rng, pts[ok], 3 * (n_lime + n_stone), 2.5) if water.distance(Point(p)) > 1.0]
    for j, p in enumerate(chosen[: n_lime + n_stone]):
        material = "limestone" if j % 5 in (0, 2, 4) else "quarry_stone"
        name = f"Khao {namer.word()} {'Limestone' if material == 'limestone' else 'Rock'} Quarry"
        plan.quarries.append((name, material, blob(p, rng.uniform(0.3, 0.55), rng, rough=0.3, n=40)))


def place_villages(rng: np.random.Generator, plan: Plan, namer: Namer) -> None:
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
    for p in poisson_disc(rng, pts[ok], n, 1.7, taken=taken):
        pop = float(np.clip(rng.lognormal(math.log(850), 0.45), 400, 3000))
        radius = math.sqrt(pop / (math.pi * 3500.0))
        plan.villages.append(Settlement(namer.place(), "village", *p, pop, radius=radius, axis=rng.uniform(0, np.pi)))


def place_housing(rng: np.random.Generator, plan: Plan, namer: Namer) -> None:
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
    for p in poisson_disc(rng, pts[ok], n, 1.0):
        poly = blob(p, rng.uniform(0.15, 0.35), rng, rough=0.15, n=24)
        plan.housing.append((f"Moo Baan {namer.word()}", poly, rng.uniform(0, np.pi)))
