"""OSM PBF and XML road ways straight into numpy arrays (pyosmium; no XML written, no networkx).

:func:`read_ways` streams a file once with :class:`osmium.FileProcessor`: node locations go
into libosmium's own location index (``flex_mem``: a sparse table for extracts, a dense one
when the ids are packed, as for a country), and only ways whose ``highway`` tag is one of the
wanted classes reach Python (a C++ :class:`osmium.filter.TagFilter`), where their node refs, the
fixed-point coordinates of those nodes and a few tags are appended to flat arrays.

:func:`split_ways` then cuts the ways into road segments in numpy: at nodes missing from the
file (clipped extracts), at nodes shared by two ways or used twice by one, and at way ends.
"""

from __future__ import annotations

import operator
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: The way tags kept for each road.
TAGS = ("highway", "oneway", "maxspeed", "access", "motor_vehicle", "motorcar", "area", "junction", "name")

_MISSING = 2147483647  # libosmium's undefined fixed-point coordinate
_EARTH_RADIUS_M = 6_371_009.0  # mean radius, as osmnx's great-circle lengths


@dataclass
class OsmWays:
    """Ways as flat arrays: way ``i`` uses ``refs[start[i]:start[i + 1]]``.

    ``lon``/``lat`` are degrees, NaN for nodes missing from the file; ``tags[key][i]`` is the
    way's value or None.
    """

    way_id: np.ndarray
    start: np.ndarray
    refs: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    tags: dict[str, np.ndarray]

    @property
    def n_ways(self) -> int:
        return len(self.way_id)


def read_ways(path: str | Path, highways: Iterable[str], *, node_index: str = "flex_mem") -> OsmWays:
    """The ways of ``path`` tagged ``highway=<one of highways>``, with their node locations.

    Raises RuntimeError (from libosmium) for a truncated or invalid file.
    """
    import osmium

    classes = sorted(set(highways))
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations(node_index)
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.TagFilter(*[("highway", c) for c in classes]))
    )
    ids, counts = array("q"), array("q")
    refs, xs, ys = array("q"), array("i"), array("i")
    values: dict[str, list] = {k: [] for k in TAGS}
    columns = [(k, values[k].append) for k in TAGS]
    ref_of, location_of = operator.attrgetter("ref"), operator.attrgetter("location")
    x_of, y_of = operator.attrgetter("x"), operator.attrgetter("y")
    for way in processor:
        node_refs = _node_refs(way.nodes)
        locations = list(map(location_of, node_refs))
        refs.extend(map(ref_of, node_refs))
        xs.extend(map(x_of, locations))
        ys.extend(map(y_of, locations))
        counts.append(len(node_refs))
        ids.append(way.id)
        tag = _tag_getter(way.tags)
        for key, append in columns:
            append(tag(key, None))
    x = np.frombuffer(xs, dtype=np.int32) if len(xs) else np.empty(0, np.int32)
    y = np.frombuffer(ys, dtype=np.int32) if len(ys) else np.empty(0, np.int32)
    missing = (x == _MISSING) | (y == _MISSING)
    lon = np.where(missing, np.nan, x / 1e7)
    lat = np.where(missing, np.nan, y / 1e7)
    count = np.frombuffer(counts, dtype=np.int64) if len(counts) else np.empty(0, np.int64)
    tag_arrays = {}
    for key, column in values.items():
        out = np.empty(len(column), dtype=object)
        out[:] = column
        tag_arrays[key] = out
    return OsmWays(
        way_id=np.frombuffer(ids, dtype=np.int64).copy() if len(ids) else np.empty(0, np.int64),
        start=np.concatenate([[0], np.cumsum(count)]).astype(np.int64),
        refs=np.frombuffer(refs, dtype=np.int64).copy() if len(refs) else np.empty(0, np.int64),
        lon=lon,
        lat=lat,
        tags=tag_arrays,
    )


def _node_refs(nodes: Any) -> list:
    """The NodeRefs of a way, read straight from pyosmium's list (its iterator adds a generator
    step per node, a third of the reading time)."""
    try:
        ref_list, parent = nodes._list, nodes._pyosmium_data
    except AttributeError:  # pragma: no cover - another pyosmium layout
        return list(nodes)
    get = ref_list.get
    return [get(parent, i) for i in range(ref_list.size(parent))]


def _tag_getter(tags: Any) -> Any:
    """``get(key, default)`` of a way's tags, the C++ lookup itself where pyosmium has it."""
    try:
        return tags._pyosmium_data.tags_get_value_by_key
    except AttributeError:  # pragma: no cover - another pyosmium layout
        return tags.get


@dataclass
class Segments:
    """Road segments between junctions: segment ``s`` runs from node ``u[s]`` to ``v[s]``
    through ``lonlat[offsets[s]:offsets[s + 1]]``; ``way[s]`` is the way (index) it is part of."""

    node_ids: np.ndarray
    node_lonlat: np.ndarray
    u: np.ndarray
    v: np.ndarray
    way: np.ndarray
    offsets: np.ndarray
    lonlat: np.ndarray
    length: np.ndarray


def split_ways(ways: OsmWays, keep: np.ndarray) -> Segments:
    """Cut the kept ways (boolean per way) into segments between junctions, in numpy.

    A way with nodes missing from the file is split at them into runs; runs of fewer than two
    nodes are dropped. Junctions are run ends and nodes used more than once among all runs (by
    two ways, or twice by one: a loop). Repeated consecutive nodes are dropped.
    """
    n_ways = ways.n_ways
    counts = np.diff(ways.start)
    way_of = np.repeat(np.arange(n_ways), counts)
    first = np.zeros(len(ways.refs), dtype=bool)
    first[ways.start[:-1][counts > 0]] = True
    present = ~np.isnan(ways.lon) & keep[way_of]
    # A new run starts at a way's first node and after every missing node.
    after_gap = np.r_[False, ~present[:-1]]
    new_run = first | after_gap
    run_of = np.cumsum(new_run) - 1
    pos = np.flatnonzero(present)
    refs, run, way = ways.refs[pos], run_of[pos], way_of[pos]
    lonlat = np.column_stack([ways.lon[pos], ways.lat[pos]])
    # Repeated consecutive nodes (same run) add nothing.
    repeat = np.r_[False, (refs[1:] == refs[:-1]) & (run[1:] == run[:-1])]
    if repeat.any():
        refs, run, way, lonlat = refs[~repeat], run[~repeat], way[~repeat], lonlat[~repeat]
    # Runs of fewer than two nodes cannot hold a segment.
    run_size = np.unique(run, return_counts=True)[1]
    long_run = np.repeat(run_size >= 2, run_size)
    refs, run, way, lonlat = refs[long_run], run[long_run], way[long_run], lonlat[long_run]
    n = len(refs)
    if n == 0:
        empty = np.empty(0, dtype=np.int64)
        return Segments(
            empty, np.empty((0, 2)), empty, empty, empty, np.zeros(1, np.int64), np.empty((0, 2)), np.empty(0)
        )
    run_first = np.r_[True, run[1:] != run[:-1]]
    run_last = np.r_[run[1:] != run[:-1], True]
    _, inverse, uses = np.unique(refs, return_inverse=True, return_counts=True)
    node = run_first | run_last | (uses[inverse] > 1)
    # Every node but a run's last starts a segment; a junction inside a run also ends the previous one.
    starts = node & ~run_last
    seg_of = np.cumsum(starts) - 1
    inner = np.flatnonzero(node & ~run_first & ~run_last)
    seg = np.concatenate([seg_of, seg_of[inner] - 1])
    at = np.concatenate([np.arange(n), inner])
    order = np.lexsort((at, seg))
    seg, at = seg[order], at[order]
    n_seg = int(starts.sum())
    offsets = np.zeros(n_seg + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(np.bincount(seg, minlength=n_seg))
    coords = lonlat[at]
    u_ref, v_ref = refs[at[offsets[:-1]]], refs[at[offsets[1:] - 1]]
    node_ids, node_at = np.unique(np.concatenate([u_ref, v_ref]), return_index=True)
    end_xy = np.vstack([coords[offsets[:-1]], coords[offsets[1:] - 1]])
    # Great-circle lengths between consecutive points of a segment, as osmnx measures them.
    step = _haversine(coords[:-1], coords[1:])
    step[offsets[1:-1] - 1] = 0.0  # the jump from one segment's end to the next one's start
    cum = np.r_[0.0, np.cumsum(step)]
    length = cum[offsets[1:] - 1] - cum[offsets[:-1]]
    return Segments(
        node_ids=node_ids,
        node_lonlat=end_xy[node_at],
        u=np.searchsorted(node_ids, u_ref),
        v=np.searchsorted(node_ids, v_ref),
        way=way[at[offsets[:-1]]],
        offsets=offsets,
        lonlat=coords,
        length=np.maximum(length, 0.0),
    )


def _haversine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lon1, lat1, lon2, lat2 = (np.radians(c) for c in (a[:, 0], a[:, 1], b[:, 0], b[:, 1]))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * _EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
