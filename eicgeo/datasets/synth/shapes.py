"""Geometry helpers in the kilometre frame: polylines, generated roads and shapes, point picking."""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import Polygon

from eicgeo.datasets.synth.frame import Frame

__all__ = [
    "blob",
    "cumlen",
    "drifting_path",
    "left_normals",
    "linestrings",
    "point_at",
    "poisson_disc",
    "tangent",
    "wiggly",
]


def linestrings(polylines: list[np.ndarray]) -> np.ndarray:
    """An array of LineStrings from a list of (n, 2) polylines."""
    if not polylines:
        return np.empty(0, object)
    idx = np.repeat(np.arange(len(polylines)), [len(xy) for xy in polylines])
    return shapely.linestrings(np.vstack(polylines), indices=idx)


def cumlen(xy: np.ndarray) -> np.ndarray:
    """Cumulative length (km) along a polyline."""
    return np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])


def point_at(xy: np.ndarray, s: float | np.ndarray) -> np.ndarray:
    """Point(s) at arc length ``s`` (km) along a polyline."""
    cl = cumlen(xy)
    s = np.clip(s, 0, cl[-1])
    return np.column_stack([np.interp(s, cl, xy[:, 0]), np.interp(s, cl, xy[:, 1])]).squeeze()


def tangent(xy: np.ndarray, s: float) -> np.ndarray:
    """Unit tangent at arc length ``s``."""
    d = point_at(xy, s + 0.05) - point_at(xy, s - 0.05)
    return d / max(np.hypot(*d), 1e-9)


def left_normals(xy: np.ndarray) -> np.ndarray:
    """Unit left normals at the vertices of a polyline."""
    d = np.gradient(xy, axis=0)
    d /= np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-12)[:, None]
    return np.column_stack([-d[:, 1], d[:, 0]])


def wiggly(
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


def drifting_path(
    start: np.ndarray,
    heading: float,
    rng: np.random.Generator,
    frame: Frame,
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


def blob(centre: np.ndarray, radius: float, rng: np.random.Generator, *, rough: float = 0.25, n: int = 72) -> Polygon:
    """An irregular round polygon (lake, quarry, housing patch) of mean ``radius`` km."""
    phi = np.linspace(0, 2 * np.pi, n, endpoint=False)
    k = np.arange(2, 7)
    a = rng.normal(0, rough / k)
    ph = rng.uniform(0, 2 * np.pi, k.size)
    r = radius * (1 + (a[None, :] * np.sin(k[None, :] * phi[:, None] + ph[None, :])).sum(axis=1))
    r = np.maximum(r, 0.3 * radius)
    return Polygon(np.column_stack([centre[0] + r * np.cos(phi), centre[1] + r * np.sin(phi)]))


def poisson_disc(
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
