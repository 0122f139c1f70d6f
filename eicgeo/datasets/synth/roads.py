"""Roads: the OSM road hierarchy with shared junction nodes, dual carriageways, ramps and bridges.

:func:`road_network` draws every class of road as polylines (:class:`~.plan.Line`), nodes them
into a topological network and keeps its connected part; :func:`~.writing.write_osm` writes it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import Delaunay, cKDTree
from shapely.geometry import LineString, Point, Polygon

from eicgeo.datasets.synth.geography import River
from eicgeo.datasets.synth.land import Land
from eicgeo.datasets.synth.names import Namer
from eicgeo.datasets.synth.plan import Line, Plan, Settlement, gabriel
from eicgeo.datasets.synth.shapes import cumlen, left_normals, linestrings, point_at, tangent, wiggly

__all__ = ["road_network"]


@dataclass
class _Barriers:
    """What minor roads may not cross: water, and the motorway corridors."""

    hard: shapely.Geometry  # lakes, reservoirs, motorway corridors
    river: shapely.Geometry  # the river channel
    majors: shapely.Geometry  # at-grade major roads (streets must not run along them)

    @classmethod
    def of(cls, plan: Plan, motorway_lines: list[np.ndarray]) -> _Barriers:
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


def _carriageways(xy: np.ndarray, name: str, ref: str, *, closed: bool, speed: str) -> list[Line]:
    """Two one-way carriageways 24 m apart; traffic keeps left as in Thailand.

    A closed ring gives two closed loops; an open motorway tapers both carriageways onto its
    centreline at each end, so they share the end nodes (the at-grade junction inside the city
    and a turning point at the region edge).
    """
    if closed:
        ext = np.vstack([xy[-2:-1], xy, xy[1:2]])
        n = left_normals(ext)[1:-1]
    else:
        n = left_normals(xy)
    s = cumlen(xy)
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
    return [Line(fwd, dict(tags), level=1), Line(bwd, dict(tags), level=1)]


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
) -> list[Line]:
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
    lines: list[Line] = []
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
                    lines.append(Line(xy, tags))
                run = []
    return lines


def _settlement_streets(
    rng: np.random.Generator, plan: Plan, land: Land, barriers: _Barriers, namer: Namer
) -> list[Line]:
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

        def accept(x: np.ndarray, y: np.ndarray, t: Settlement = t) -> np.ndarray:
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

        def accept(x: np.ndarray, y: np.ndarray, v: Settlement = v) -> np.ndarray:
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


def _estate_roads(rng: np.random.Generator, plan: Plan, barriers: _Barriers) -> list[Line]:
    """An access road from the highway and a 350 m grid of estate roads in each estate."""
    lines: list[Line] = []
    for name, poly, road, k in plan.estates:
        xy = plan.majors[road].xy
        start, centre = xy[k], np.array(poly.centroid.coords[0])
        spine = np.linspace(start, centre, 5)
        lines.append(Line(spine, {"highway": "tertiary", "name": f"{name} Road"}))
        inner = poly.buffer(-0.04)
        shapely.prepare(inner)
        t = tangent(xy, cumlen(xy)[k])
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


def _housing_streets(rng: np.random.Generator, plan: Plan, roads: list[Line], barriers: _Barriers) -> list[Line]:
    """A dense 80 m grid of lanes in each housing estate and a road out to the nearest street."""
    ends = [(k, j) for k, ln in enumerate(roads) if ln.level == 0 for j in range(len(ln.xy))]
    tree = cKDTree(np.array([roads[k].xy[j] for k, j in ends]))
    lines: list[Line] = []
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
            access = wiggly(centre, roads[k].xy[j], rng, step=0.08, amp=0.02)
            if not barriers.blocked(np.stack([access[:-1], access[1:]], axis=1)).any():
                lines += [
                    *grid,
                    Line(access, {"highway": "residential", "name": f"{name} Road"}),
                ]
                break
    return lines


def _rural_roads(rng: np.random.Generator, plan: Plan, barriers: _Barriers, namer: Namer) -> list[Line]:
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
    for i, j in gabriel(xy):
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
    lines: list[Line] = []
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
        path = wiggly(xy[i], xy[j], rng, step=rng.uniform(0.08, 0.16), amp=0.03)
        lines.append(Line(path, tags, group=-2))
    return lines


def _tracks(rng: np.random.Generator, plan: Plan, rural: list[Line], barriers: _Barriers) -> list[Line]:
    """Farm tracks (0.3-1.3 km dead ends) branching off the village roads into the fields."""
    base = [ln for ln in rural if ln.tags["highway"] in ("unclassified", "tertiary") and len(ln.xy) > 8]
    lines: list[Line] = []
    if not base:
        return lines
    for _ in range(3 * len(plan.villages)):
        ln = base[int(rng.integers(len(base)))]
        j = int(rng.integers(3, len(ln.xy) - 3))
        p = ln.xy[j]
        t = tangent(ln.xy, cumlen(ln.xy)[j])
        h = math.atan2(t[0], -t[1]) + rng.choice([0.0, math.pi]) + rng.uniform(-0.5, 0.5)
        end = p + rng.uniform(0.3, 1.3) * np.array([math.cos(h), math.sin(h)])
        if not plan.frame.inside(end[0], end[1], 0.2):
            continue
        xy = wiggly(p, end, rng, step=0.1, amp=0.05)
        if barriers.blocked(np.stack([xy[:-1], xy[1:]], axis=1)).any():
            continue
        lines.append(Line(xy, {"highway": "track", "tracktype": f"grade{int(rng.integers(2, 5))}"}))
    return lines


def _sois(rng: np.random.Generator, plan: Plan, land: Land, roads: list[Line], barriers: _Barriers) -> list[Line]:
    """Dead-end lanes (sois, 80-350 m) off the highways where ribbon development lines them."""
    lines: list[Line] = []
    for ln in roads:
        if ln.tags["highway"] not in ("trunk", "primary", "secondary"):
            continue
        xy = ln.xy
        d = plan.urban_density(xy[:, 0], xy[:, 1])
        share = land.sample(land.built_share, xy[:, 0], xy[:, 1])
        normals = left_normals(xy)
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
            lines.append(Line(soi, tags))
    return lines


def _bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, p3: np.ndarray, n: int = 9) -> np.ndarray:
    t = np.linspace(0, 1, n)[:, None]
    xy = (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3
    xy[0], xy[-1] = p0, p3
    return xy


def _interchanges(
    lines: list[Line], motorways: list[tuple[np.ndarray, list[int], bool]], river: LineString
) -> tuple[list[Line], list[tuple[int, np.ndarray]]]:
    """Diamond interchanges where a motorway crosses a trunk, primary or secondary road.

    Interchanges are at least 2 km apart along the motorway (trunk roads first) and 0.8 km
    from the river. Each carriageway gets a one-way off-ramp 450 m before the crossing and an
    on-ramp 450 m after it, both joining the crossing road 300 m from the overpass.
    Returns the ramps and the points to insert as nodes into existing lines.
    """
    rank = {"trunk": 0, "primary": 1, "secondary": 2}
    cand = [i for i, ln in enumerate(lines) if ln.level == 0 and ln.tags["highway"] in rank]
    geoms = linestrings([lines[i].xy for i in cand])
    link = {"highway": "motorway_link", "oneway": "yes", "lanes": "1"}
    ramps: list[Line] = []
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
                not 0.4 < s_r < cumlen(road)[-1] - 0.4
                or not 0.8 < s_m < m.length - 0.8
                or river.distance(p) < 0.8
                or any(d < 2.0 for d in gap)
            ):
                continue
            done.append(s_m)
            t_r = tangent(road, s_r)
            for ci in carriageways:
                cw = lines[ci].xy
                s_c = LineString(cw).project(p)
                t_c = tangent(cw, s_c)
                n_c = np.array([-t_c[1], t_c[0]])
                j = point_at(road, s_r + (0.3 if t_r @ n_c > 0 else -0.3))
                a, d = point_at(cw, s_c - 0.45), point_at(cw, s_c + 0.45)
                ramps.append(Line(_bezier(a, a + 0.2 * t_c, j - 0.2 * t_c, j), dict(link), level=1, target=gi))
                ramps.append(Line(_bezier(j, j + 0.2 * t_c, d - 0.2 * t_c, d), dict(link), level=1, target=gi))
                inserts += [(ci, a), (ci, d), (gi, j)]
    return ramps, inserts


def _network(
    lines: list[Line], inserts: list[tuple[int, np.ndarray]], river: River
) -> tuple[np.ndarray, list[tuple[np.ndarray, dict[str, str]]]]:
    """Node the road lines into a topological network.

    At-grade roads get a shared node wherever they cross. Roads crossing the river, and
    at-grade roads crossing the motorway system, are split into ``bridge=yes`` ways. Returns
    node coordinates (km) and ways as (node index array, tags).
    """
    geoms = linestrings([ln.xy for ln in lines])
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
            t_road, t_riv = tangent(lines[li].xy, s), tangent(river.xy, rline.project(p))
            half = (river.width / 2 + 0.03) / max(abs(t_road[0] * t_riv[1] - t_road[1] * t_riv[0]), 0.3)
            spans[li].append((s - half, s + half))
    # vertices of every line, with split points and bridge ends inserted in order
    pts_all: list[np.ndarray] = []
    bridges_all: list[np.ndarray] = []
    for li, ln in enumerate(lines):
        s = cumlen(ln.xy)
        extra = [np.array(splits[li]).reshape(-1, 3)]
        for a, b in spans[li]:
            for v in (a, b):
                if 0 < v < s[-1]:
                    extra.append(np.concatenate([[v], point_at(ln.xy, v)])[None])
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


def road_network(
    rng: np.random.Generator, plan: Plan, land: Land, namer: Namer
) -> tuple[np.ndarray, list[tuple[np.ndarray, dict[str, str]]]]:
    """The whole road network: node coordinates (km) and OSM ways."""
    lines = [Line(ln.xy, dict(ln.tags), group=ln.group) for ln in plan.majors]
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
