"""Candidate Eco-Industrial Cluster zones: locate them, score them, rank them.

:func:`locate` grows *greenfield* zones from seeds of high suitability on allowed land: each is
4-connected, within the area bounds, ``min_spacing_km`` from the others and compact as asked.
:func:`cluster_zones` adds *cluster* zones: the allowed land around existing firm clusters, since
the seed asks for infrastructure planned together with new industries. :func:`score` measures
every zone on the seed's criteria and ranks them; :func:`stability` says how often each stays in
the top k when the criterion weights are uncertain. ``docs/zones.md`` describes the algorithm
and the score formula.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import shapely
import xarray as xr
from affine import Affine
from scipy import ndimage
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.ops import unary_union

from eicgeo import criteria as crit
from eicgeo import mcda as mcda_
from eicgeo import symbiosis
from eicgeo._errors import InputError
from eicgeo._validate import did_you_mean
from eicgeo.grid import Grid
from eicgeo.materials import BUILTIN, Vocabulary
from eicgeo.settings import MCDA, SCORE_WEIGHTS, ZONES, MCDASettings

__all__ = [
    "SCORE_DECIMALS",
    "SCORE_INDICATORS",
    "SCORE_WEIGHTS",
    "ZONE_COLUMNS",
    "cluster_zones",
    "contributions",
    "locate",
    "members",
    "rerank",
    "score",
    "score_formula",
    "score_parts",
    "stability",
]

#: The indicators the zone score can weigh: the zone column each reads and whether more is
#: better (``+1``, scaled ``x / max``) or worse (``-1``, scaled ``1 - x / max``), the maximum
#: taken over the zones being ranked.
SCORE_INDICATORS: dict[str, tuple[str, int]] = {
    "suitability": ("mean_suitability", +1),
    "symbiosis": ("symbiosis_tonnes", +1),
    "symbiosis_reach": ("symbiosis_reach_tonnes", +1),
    "n_firms": ("n_firms", +1),
    "market": ("market_minutes", -1),
    "materials": ("material_minutes", -1),
    "equal_access": ("equal_access", +1),
    "rural_pop": ("rural_pop_30min", +1),
    "green_loss": ("green_loss_ha", -1),
}


#: Firms within this many metres of a zone's edge are the zone's firms.
FIRM_REACH_M = 2000.0

#: Columns of ``zones.gpkg`` (besides geometry), in order: the contract's columns, then the
#: evidence added since. ``minutes_<material>`` columns (one per raw material) follow them.
ZONE_COLUMNS = [
    "zone_id",
    "rank",
    "score",
    "area_ha",
    "mean_suitability",
    "n_firms",
    "symbiosis_tonnes",
    "market_minutes",
    "material_minutes",
    "rural_pop_30min",
    "kind",
    "p_top_k",
    "tied",
    "symbiosis_reach_tonnes",
    "equal_access",
    "green_loss_ha",
]
_ROOK = ndimage.generate_binary_structure(2, 1)

#: How far :func:`locate` lowers its suitability floor at a time, in quantiles, when fewer than
#: ``n`` zones fit above it.
FLOOR_STEP = 0.05


def locate(
    suitability: xr.DataArray,
    allowed: xr.DataArray,
    *,
    n: int = ZONES.n,
    quantile: float = ZONES.quantile,
    min_area_ha: float = ZONES.min_area_ha,
    max_area_ha: float | None = ZONES.max_area_ha,
    min_spacing_km: float = ZONES.min_spacing_km,
    compactness: float = ZONES.compactness,
    avoid: xr.DataArray | None = None,
    lowest_quantile: float | None = ZONES.lowest_quantile,
) -> gpd.GeoDataFrame:
    """Greenfield candidate zones grown from seeds of high suitability (see ``docs/zones.md``).

    1. Candidate land: allowed cells with finite suitability at or above the ``quantile`` of
       the allowed cells' suitability. Its 4-connected pieces smaller than ``min_area_ha`` can
       hold no zone and are dropped at once.
    2. Seeds are the candidate cells in descending suitability. From the best free seed a
       region grows one cell at a time, always adding the free candidate cell sharing an edge
       with it (4-connectivity) of highest priority
       ``suitability - compactness * d / r``, where ``d`` is the cell's distance from the seed
       and ``r`` the radius of a disc of ``max_area_ha``; it stops at ``max_area_ha`` or when
       no free neighbour is left.
    3. A region of at least ``min_area_ha`` becomes a zone: its cells, and every cell closer
       than ``min_spacing_km`` to it, are no longer free. A smaller region cannot grow from any
       of its cells later (land is only ever taken away), so its cells are dropped.
    4. Repeat from the next free seed until ``n`` zones are found or no seed is left.
    5. If fewer than ``n`` zones were found, lower the floor by :data:`FLOOR_STEP` (in
       quantiles, down to ``lowest_quantile``) and search again from step 1 on the land the
       zones found so far leave free (outside them and their spacing). The zones found at a
       higher floor are kept: a lower floor only adds zones, on poorer land.

    Parameters
    ----------
    suitability : DataArray
        0..1, NaN for nodata.
    allowed : DataArray
        Boolean: fringe land that no constraint excludes.
    n : int
        Most zones to return.
    quantile : float
        In [0, 1): cells below this quantile of the allowed cells' suitability are never taken.
    min_area_ha, max_area_ha : float
        Bounds of a zone's area, hectares; a region grows up to ``max_area_ha`` (``None``: the
        whole reachable candidate land).
    min_spacing_km : float
        Least distance between the edges of two zones, kilometres (0: zones may touch).
    compactness : float
        Preference for compact zones, in suitability units at the edge of the target disc:
        0 grows by suitability alone, larger values grow rounder zones.
    avoid : DataArray, optional
        Boolean: existing zones (e.g. cluster zones) that greenfield zones keep
        ``min_spacing_km`` away from.
    lowest_quantile : float or None
        In [0, 1): the lowest floor step 5 may reach (``None``, or a value at or above
        ``quantile``: the floor is never lowered).

    Notes
    -----
    Zone growing needs the whole allowed fringe land at once (regions grow across any chunk
    edge), so it runs on the reduced data it needs: the boolean mask of allowed cells and the
    suitability, one byte and one float32 per cell. In a chunked run (``[compute] chunks``) they
    are gathered from their chunks into one array each; the suitability itself is made chunk by
    chunk.

    Returns
    -------
    GeoDataFrame
        ``kind`` (``greenfield``), ``area_ha``, ``mean_suitability`` and one Polygon per zone,
        best mean suitability first. ``attrs["threshold"]`` is the lowest suitability floor
        used; ``attrs["note"]`` says when the floor was lowered, and why fewer than ``n`` zones
        were found.

    Examples
    --------
    A 10 x 10 grid of 1 ha cells with two hot spots of 9 ha in opposite corners, their edges
    566 m apart. With 9 ha zones above the 90 % quantile and 0.5 km spacing both are found:

    >>> import numpy as np
    >>> grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 1000), (10, 10))
    >>> s = np.full((10, 10), 0.2)
    >>> s[:3, :3], s[7:, 7:] = 0.9, 0.8
    >>> suitability = grid.wrap(s, "suitability")
    >>> allowed = grid.wrap(np.ones((10, 10), dtype=bool), "allowed")
    >>> kw = {"n": 2, "quantile": 0.9, "min_area_ha": 9, "max_area_ha": 9}
    >>> zones = locate(suitability, allowed, min_spacing_km=0.5, **kw)
    >>> zones[["kind", "area_ha", "mean_suitability"]].round(3).values.tolist()
    [['greenfield', 9.0, 0.9], ['greenfield', 9.0, 0.8]]
    >>> zones.geometry.bounds.values.tolist(), zones.attrs["threshold"]
    ([[0.0, 700.0, 300.0, 1000.0], [700.0, 0.0, 1000.0, 300.0]], 0.8)

    The default spacing (``ZONES.min_spacing_km``) leaves room for the better one only, and
    the note says why:

    >>> zones = locate(suitability, allowed, **kw)
    >>> len(zones), zones.attrs["note"].startswith("1 of 2 zones found")
    (1, True)
    """
    grid = Grid.from_dataarray(suitability)
    grid.check(allowed, "allowed mask")
    if avoid is not None:
        grid.check(avoid, "avoid mask")
    _check_locate(n, quantile, min_area_ha, max_area_ha, min_spacing_km, compactness)
    if lowest_quantile is not None and not 0 <= lowest_quantile < 1:
        raise InputError(f"lowest_quantile must be in [0, 1), got {lowest_quantile}")
    lowest = quantile if lowest_quantile is None else min(lowest_quantile, quantile)
    # The layer's own float32 cells, compared and averaged as float64 (no float64 copy of the grid).
    suit = np.asarray(suitability.values)
    ok = np.asarray(allowed.values, dtype=bool) & np.isfinite(suit)
    empty = gpd.GeoDataFrame({"kind": [], "area_ha": [], "mean_suitability": []}, geometry=[], crs=grid.crs)
    if not ok.any():
        empty.attrs["note"] = "no allowed cells: the fringe is empty or wholly excluded"
        return empty
    cell_ha = grid.cell_area_m2 / 1e4
    # A hair of tolerance so that 50 ha on 1 ha cells is exactly 50 cells.
    min_cells = max(1, math.ceil(min_area_ha / cell_ha - 1e-9))
    max_cells = math.floor(max_area_ha / cell_ha + 1e-9) if max_area_ha is not None else grid.height * grid.width
    if max_cells < min_cells:
        msg = (
            f"max_area_ha {max_area_ha:g} holds no whole number of {cell_ha:g} ha cells >= min_area_ha {min_area_ha:g}"
        )
        raise InputError(msg)
    spacing_m = min_spacing_km * 1000.0
    # Land still open to a zone: not in one, not within the spacing of one or of `avoid`.
    open_ = ok.copy()
    if avoid is not None and np.asarray(avoid.values, dtype=bool).any():
        open_ &= ~_near(np.asarray(avoid.values, dtype=bool), grid, spacing_m)
    # The radius of the target disc, in cells: distances are scaled by it.
    radius = math.sqrt((max_cells if max_area_ha is not None else min_cells) / math.pi)
    flat_suit = suit.ravel()
    found: list[np.ndarray] = []
    allowed_values = suit[ok].astype(np.float64)
    for floor in _floors(quantile, lowest):
        threshold = float(np.quantile(allowed_values, floor))
        n_big, spaced = _search(
            ok & (suit >= np.float64(threshold)), open_, flat_suit, grid, n - len(found), min_cells, max_cells,
            compactness / radius, spacing_m, found,
        )  # fmt: skip
        if len(found) == n:
            break
    del allowed_values
    means = np.array([flat_suit[c].astype(np.float64).mean() for c in found])
    order = np.argsort(-means, kind="stable")
    found = [found[i] for i in order]
    zones = gpd.GeoDataFrame(
        {
            "kind": "greenfield",
            "area_ha": [len(c) * cell_ha for c in found],
            "mean_suitability": means[order].tolist(),
        },
        geometry=[_polygon(c, grid) for c in found],
        crs=grid.crs,
    )
    zones.attrs["threshold"] = threshold
    lowered = floor < quantile - 1e-9
    if lowered:
        zones.attrs["note"] = (
            f"{len(zones)} of {n} zones found with the suitability floor lowered from the {quantile:.0%} "
            f"to the {floor:.0%} quantile of the allowed land ({threshold:.3f}; zones.lowest_quantile): too "
            f"few zones of >= {min_area_ha:g} ha fit {min_spacing_km:g} km apart above the {quantile:.0%} quantile"
        )
    if len(zones) < n:
        why = f"that land has only {n_big} contiguous area(s) of >= {min_area_ha:g} ha"
        if spaced:
            away = " and from the zones to avoid" if avoid is not None else ""
            why = (
                f"that land has {n_big} contiguous area(s) of >= {min_area_ha:g} ha, and keeping zones "
                f"{min_spacing_km:g} km apart{away} leaves no room for more"
            )
        zones.attrs["note"] = (
            f"{len(zones)} of {n} zones found: only {len(zones)} zone(s) of >= {min_area_ha:g} ha fit "
            f"{min_spacing_km:g} km apart on the allowed land of suitability >= {threshold:.3f} "
            f"(the {floor:.0%} quantile{', the lowest allowed' if lowest < quantile else ''}); "
            f"{why}"
        )
    return zones


def _floors(quantile: float, lowest: float) -> list[float]:
    """The quantile floors tried in turn: ``quantile``, then down by :data:`FLOOR_STEP` to ``lowest``."""
    steps = max(0, math.ceil((quantile - lowest) / FLOOR_STEP - 1e-9))
    return [max(quantile - i * FLOOR_STEP, lowest) for i in range(steps + 1)]


def _search(
    above: np.ndarray,
    open_: np.ndarray,
    flat_suit: np.ndarray,
    grid: Grid,
    n: int,
    min_cells: int,
    max_cells: int,
    penalty: float,
    spacing_m: float,
    found: list[np.ndarray],
) -> tuple[int, int]:
    """One pass of :func:`locate` at one floor: up to ``n`` zones grown over the open land
    ``above`` the floor (allowed cells at or above it), appended to ``found``; each takes its
    cells and its spacing out of ``open_`` (in place). Returns the count of candidate areas
    that reach ``min_cells`` and how many candidate cells the spacing took out."""
    candidate = open_ & above
    spaced = int((above & ~open_).sum()) - sum(len(c) for c in found)
    labels, _ = ndimage.label(candidate, structure=_ROOK)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    n_big = int((sizes >= min_cells).sum())
    free = (sizes >= min_cells)[labels]
    flat_free = free.ravel()
    seeds = np.flatnonzero(flat_free)
    seeds = seeds[np.argsort(-flat_suit[seeds], kind="stable")]
    added = 0
    for seed in seeds.tolist():
        if not flat_free[seed]:
            continue
        cells = _grow(seed, flat_free, flat_suit, grid.width, max_cells, penalty)
        flat_free[cells] = False
        if len(cells) < min_cells:
            continue
        found.append(cells)
        added += 1
        open_.ravel()[cells] = False
        if spacing_m > 0:
            spaced += _block(cells, free, grid, spacing_m)
            _block(cells, open_, grid, spacing_m)
        if added == n:
            break
    return n_big, spaced


def _check_locate(
    n: int, quantile: float, min_area_ha: float, max_area_ha: float | None, spacing: float, compactness: float
) -> None:
    problems = []
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        problems.append(f"n must be an integer >= 1, got {n!r}")
    if not 0 <= quantile < 1:
        problems.append(f"quantile must be in [0, 1), got {quantile}")
    if not min_area_ha > 0:
        problems.append(f"min_area_ha must be > 0 hectares, got {min_area_ha}")
    if max_area_ha is not None and not max_area_ha >= min_area_ha:
        problems.append(f"max_area_ha must be >= min_area_ha ({min_area_ha:g}), got {max_area_ha}")
    if not spacing >= 0:
        problems.append(f"min_spacing_km must be >= 0 km, got {spacing}")
    if not compactness >= 0:
        problems.append(f"compactness must be >= 0, got {compactness}")
    if problems:
        raise InputError(problems[0])


def _grow(seed: int, free: np.ndarray, suit: np.ndarray, width: int, max_cells: int, penalty: float) -> np.ndarray:
    """Flat indices of the region grown from ``seed`` over the ``free`` cells (see :func:`locate`).

    ``penalty`` is the compactness divided by the target radius in cells: the priority of a
    cell is its suitability less ``penalty`` times its distance from the seed in cells.
    """
    height = free.size // width
    sr, sc = divmod(seed, width)
    region = [seed]
    seen = {seed}
    heap: list[tuple[float, int]] = []

    def push(cell: int) -> None:
        r, c = divmod(cell, width)
        heapq.heappush(heap, (penalty * math.hypot(r - sr, c - sc) - float(suit[cell]), cell))

    def neighbours(cell: int) -> None:
        r, c = divmod(cell, width)
        for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if 0 <= nr < height and 0 <= nc < width:
                other = nr * width + nc
                if other not in seen and free[other]:
                    seen.add(other)
                    push(other)

    neighbours(seed)
    while heap and len(region) < max_cells:
        _, cell = heapq.heappop(heap)
        region.append(cell)
        neighbours(cell)
    return np.array(region, dtype=np.int64)


def _near(mask: np.ndarray, grid: Grid, spacing_m: float) -> np.ndarray:
    """Cells whose square lies closer than ``spacing_m`` to a square of ``mask`` (or in it).

    The gap between two cell squares is the distance between the nearer cell centre and the
    3 x 3 neighbourhood of the other, so a Euclidean distance transform from the 8-dilated
    mask measures it exactly.
    """
    if spacing_m <= 0:
        return mask.copy()
    sampling = (-grid.transform.e, grid.transform.a)
    # In strips of rows, each with the rows within ``spacing_m`` above and below it: a gap
    # shorter than ``spacing_m`` is measured to a mask cell inside them, so each strip is exact,
    # and the distance transform's temporaries (about 30 bytes a cell) are a strip's, not the grid's.
    halo = math.ceil(spacing_m / sampling[0]) + 2
    out = mask.copy()
    for r0 in range(0, mask.shape[0], _NEAR_ROWS):
        r1 = min(r0 + _NEAR_ROWS, mask.shape[0])
        h0, h1 = max(r0 - halo, 0), min(r1 + halo, mask.shape[0])
        part = mask[h0:h1]
        if not part.any():
            continue
        grown = ndimage.binary_dilation(part, structure=np.ones((3, 3), dtype=bool))
        gap = ndimage.distance_transform_edt(~grown, sampling=sampling)[r0 - h0 : r1 - h0]
        out[r0:r1] |= gap < spacing_m - 1e-6
    return out


#: Rows of a strip of :func:`_near`.
_NEAR_ROWS = 512


def _block(cells: np.ndarray, free: np.ndarray, grid: Grid, spacing_m: float) -> int:
    """Take every cell within ``spacing_m`` of the zone ``cells`` out of ``free`` (in place).

    Returns how many free cells this took out.
    """
    rows, cols = np.divmod(cells, grid.width)
    pad = math.ceil(spacing_m / min(grid.transform.a, -grid.transform.e)) + 2
    r0, r1 = max(rows.min() - pad, 0), min(rows.max() + pad + 1, grid.height)
    c0, c1 = max(cols.min() - pad, 0), min(cols.max() + pad + 1, grid.width)
    window = np.zeros((r1 - r0, c1 - c0), dtype=bool)
    window[rows - r0, cols - c0] = True
    near = _near(window, grid, spacing_m)
    taken = int((free[r0:r1, c0:c1] & near).sum())
    free[r0:r1, c0:c1] &= ~near
    return taken


def _polygon(cells: np.ndarray, grid: Grid) -> Polygon | MultiPolygon:
    """The outline of a set of cells (flat indices), traced in a window around them."""
    rows, cols = np.divmod(cells, grid.width)
    r0, c0 = rows.min(), cols.min()
    window = np.zeros((rows.max() - r0 + 1, cols.max() - c0 + 1), dtype=np.uint8)
    window[rows - r0, cols - c0] = 1
    transform = grid.transform * Affine.translation(c0, r0)
    parts = [
        shape(geom)
        for geom, _ in rasterio.features.shapes(window, mask=window > 0, transform=transform, connectivity=4)
    ]
    return unary_union(parts)


def _cap_area(labels: np.ndarray, count: int, suit: np.ndarray, max_cells: float) -> tuple[np.ndarray, int]:
    """Shrink every labelled area larger than ``max_cells`` to its ``max_cells`` best cells (equal
    suitability goes to the cells nearer the area's centre), then relabel."""
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    keep = labels > 0
    for label in np.flatnonzero(sizes[1:] > max_cells) + 1:
        rows, cols = np.nonzero(labels == label)
        near = np.hypot(rows - rows.mean(), cols - cols.mean())
        order = np.lexsort((near, -suit[rows, cols]))
        drop = order[int(max_cells) :]
        keep[rows[drop], cols[drop]] = False
    return ndimage.label(keep, structure=_ROOK)


def cluster_zones(
    clusters: gpd.GeoDataFrame,
    allowed: xr.DataArray,
    *,
    firms: gpd.GeoDataFrame | None = None,
    suitability: xr.DataArray | None = None,
    buffer_m: float = ZONES.cluster_buffer_m,
    min_area_ha: float = ZONES.min_area_ha,
    max_area_ha: float | None = None,
) -> gpd.GeoDataFrame:
    """Zones of kind ``cluster``: allowed land near each existing firm cluster.

    The zone is the allowed land within ``buffer_m`` of the cluster's firms (when ``firms`` with
    a ``cluster`` column is given) or of its hull. With ``suitability`` and ``max_area_ha``, a
    larger zone keeps only its best ``max_area_ha``.

    Examples
    --------
    A cluster at (500, 500) on 1 ha cells: the 16 cells whose centres lie within 250 m of it,
    less the 4 in the excluded western columns:

    >>> import geopandas as gpd, numpy as np
    >>> from shapely.geometry import Point
    >>> grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 1000), (10, 10))
    >>> ok = np.ones((10, 10), dtype=bool)
    >>> ok[:, :4] = False
    >>> clusters = gpd.GeoDataFrame({"cluster": [0]}, geometry=[Point(500, 500)], crs=grid.crs)
    >>> zones = cluster_zones(clusters, grid.wrap(ok, "allowed"), buffer_m=250, min_area_ha=1)
    >>> zones[["kind", "area_ha", "cluster"]].values.tolist(), zones.geometry.bounds.values.tolist()
    ([['cluster', 12.0, 0]], [[400.0, 300.0, 700.0, 700.0]])
    """
    grid = Grid.from_dataarray(allowed)
    ok = np.asarray(allowed.values, dtype=bool)
    suit = np.asarray(suitability.values) if suitability is not None else None  # widened window by window
    cell_ha = grid.cell_area_m2 / 1e4
    points = firms.to_crs(grid.crs) if firms is not None and "cluster" in firms else None
    rows, geoms = [], []
    for cluster in clusters.to_crs(grid.crs).itertuples():
        anchor = [cluster.geometry]
        if points is not None:
            members = points.geometry[points["cluster"].to_numpy() == cluster.cluster]
            if len(members):
                anchor = list(members.buffer(buffer_m))
        if anchor == [cluster.geometry]:
            anchor = [cluster.geometry.buffer(buffer_m)]
        # Every step works in the window of the anchor's bounds: the cost follows the cluster.
        window, sub = grid.window(shapely.total_bounds(anchor))
        if window is None:
            continue
        cells = rasterio.features.geometry_mask(anchor, sub.shape, sub.transform, invert=True) & ok[window]
        if suit is not None and max_area_ha is not None and cells.sum() * cell_ha > max_area_ha:
            local = np.where(cells, suit[window].astype(float), -np.inf)
            labels, _ = _cap_area(cells.astype(np.int32), 1, local, max_area_ha / cell_ha)
            cells = labels > 0
        area = cells.sum() * cell_ha
        if area < min_area_ha:
            continue
        geoms.append(unary_union(_polygons(cells.astype(np.int32), np.array([1]), sub)))
        rows.append({"kind": "cluster", "area_ha": float(area), "cluster": int(cluster.cluster)})
    return gpd.GeoDataFrame(rows, columns=["kind", "area_ha", "cluster"], geometry=geoms, crs=grid.crs)


def score(
    zones: gpd.GeoDataFrame,
    *,
    suitability: xr.DataArray,
    firms: gpd.GeoDataFrame | None = None,
    links: gpd.GeoDataFrame | None = None,
    market_minutes: xr.DataArray | None = None,
    material_minutes: xr.DataArray | None = None,
    materials: Mapping[str, xr.DataArray] | None = None,
    equal_access: xr.DataArray | None = None,
    rural_pop_30min: np.ndarray | None = None,
    green_space: xr.DataArray | None = None,
    firm_reach_m: float = FIRM_REACH_M,
    reach_km: float | None = None,
    weights: Mapping[str, float] | None = None,
    vocab: Vocabulary = BUILTIN,
) -> gpd.GeoDataFrame:
    """Score and rank zones; returns the zones with every column of :data:`ZONE_COLUMNS`.

    Parameters
    ----------
    zones : GeoDataFrame
        Zone polygons (any index) with a ``kind`` column.
    suitability : DataArray
        0..1; fixes the grid every other layer must be on.
    firms, links : GeoDataFrame, optional
        Firms (``firm_id``, ``outputs``) and their symbiosis links (``from_firm``, ``to_firm``,
        ``tonnes``).
    market_minutes, material_minutes : DataArray, optional
        Minutes to the nearest urban centre and (mean over the materials) to raw materials.
    materials : mapping of str to DataArray, optional
        Minutes to the nearest source of each raw material: one ``minutes_<material>`` column
        each.
    equal_access : DataArray, optional
        0..1 equal-access layer; computed from the two minute layers when not given.
    rural_pop_30min : array, optional
        People in rural and fringe cells within 30 minutes of each zone, in the zones' order
        (see :func:`eicgeo.pipeline.run`).
    green_space : DataArray, optional
        uint8, 1 = green space; ``green_loss_ha`` is NaN without it.
    firm_reach_m : float
        Firms within this many metres of a zone are the zone's firms.
    reach_km : float, optional
        Matching reach, straight-line km: by-product producers this near are counted in
        ``symbiosis_reach_tonnes``.
    weights : mapping, optional
        Weights of :data:`SCORE_INDICATORS`; default :data:`SCORE_WEIGHTS`.
    vocab : Vocabulary
        The run's materials (which outputs count as by-product tonnes).

    Returns
    -------
    GeoDataFrame
        Ranked zones (rank 1 first; ``zone_id`` follows the rank):

        * ``area_ha``; ``mean_suitability`` over the zone's cells;
        * ``n_firms``: firms within ``firm_reach_m``; ``symbiosis_tonnes``: tonnes per year of
          the symbiosis links with one end among them;
        * ``symbiosis_reach_tonnes``: by-product output (t/yr; by-products measured in m3 or
          MWh are left out) of the firms within ``reach_km``, the supply a newcomer in the zone
          could match;
        * ``market_minutes``, ``material_minutes`` and ``minutes_<material>``: medians over the
          zone's cells;
        * ``equal_access``: mean of the 0..1 equal-access layer over the zone;
        * ``rural_pop_30min``; ``green_loss_ha``: green-space hectares inside the zone;
        * ``score``: see :func:`score_formula`; ``p_top_k`` is NaN until :func:`stability`.

        ``attrs["score_note"]`` names weighted indicators left out because no zone has them.

    Examples
    --------
    Two 9 ha zones; the more suitable one would clear 9 ha of forest. Weighing suitability
    and green loss equally, the other ranks first: ``0.5 × 0.8 / 0.9 + 0.5 × 1 = 0.944``
    against ``0.5 × 1 + 0.5 × (1 - 9 / 9) = 0.5``:

    >>> import geopandas as gpd, numpy as np
    >>> from shapely.geometry import box
    >>> grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 1000), (10, 10))
    >>> s = np.full((10, 10), 0.2)
    >>> s[:3, :3], s[7:, 7:] = 0.9, 0.8
    >>> forest = np.zeros((10, 10), dtype=np.uint8)
    >>> forest[:3, :3] = 1
    >>> zones = gpd.GeoDataFrame({"kind": ["greenfield"] * 2}, crs=grid.crs,
    ...                          geometry=[box(0, 700, 300, 1000), box(700, 0, 1000, 300)])
    >>> ranked = score(zones, suitability=grid.wrap(s, "suitability"), green_space=grid.wrap(forest, "green"),
    ...                weights={"suitability": 0.5, "green_loss": 0.5})
    >>> print(ranked[["rank", "score", "mean_suitability", "green_loss_ha"]].round(3).to_string(index=False))
     rank  score  mean_suitability  green_loss_ha
        1  0.944               0.8            0.0
        2  0.500               0.9            9.0
    """
    grid = Grid.from_dataarray(suitability)
    w = _score_weights(weights)
    for name, layer in [
        ("market_minutes", market_minutes),
        ("material_minutes", material_minutes),
        ("equal_access", equal_access),
        ("green_space", green_space),
        *((f"materials[{k!r}]", v) for k, v in (materials or {}).items()),
    ]:
        if layer is not None:
            grid.check(layer, name)
    if reach_km is not None and not reach_km > 0:
        msg = f"reach_km must be > 0 km, got {reach_km}"
        raise InputError(msg)
    # Positions, not labels, tie zones to the firms joined below and to rural_pop_30min.
    out = zones.reset_index(drop=True)
    if rural_pop_30min is not None and len(rural_pop_30min) != len(out):
        msg = f"rural_pop_30min has {len(rural_pop_30min)} values, expected one per zone ({len(out)})"
        raise InputError(msg)
    material_columns = [f"minutes_{m}" for m in (materials or {})]
    if out.empty:
        for column in [*ZONE_COLUMNS, *material_columns]:
            if column not in out:
                out[column] = pd.Series(dtype="float64" if column != "kind" else "object")
        return gpd.GeoDataFrame(out[[*ZONE_COLUMNS, *material_columns, "geometry"]], geometry="geometry", crs=zones.crs)
    masks = _masks(out, grid)
    cell_ha = grid.cell_area_m2 / 1e4
    suit = _flat(suitability)
    out["mean_suitability"] = [float(np.nanmean(suit[m].astype(float))) if m.size else np.nan for m in masks]
    out["area_ha"] = [float(m.size * cell_ha) for m in masks]
    out["market_minutes"] = _medians(market_minutes, masks)
    out["material_minutes"] = _medians(material_minutes, masks)
    for material, layer in (materials or {}).items():
        out[f"minutes_{material}"] = _medians(layer, masks)
    if equal_access is None and market_minutes is not None and material_minutes is not None:
        equal_access = crit.equal_access(market_minutes, material_minutes)
    out["equal_access"] = _means(equal_access, masks)
    out["rural_pop_30min"] = rural_pop_30min if rural_pop_30min is not None else np.nan
    if green_space is None:
        out["green_loss_ha"] = np.nan
    else:
        green = np.asarray(green_space.values).ravel()
        out["green_loss_ha"] = [float((green[m] == 1).sum() * cell_ha) for m in masks]
    _firm_columns(out, grid, firms, links, firm_reach_m, reach_km, vocab)
    out["p_top_k"] = np.nan
    out, note = _rank(out, w, grid)
    extra = [c for c in out.columns if c not in (*ZONE_COLUMNS, *material_columns, "geometry")]
    ranked = gpd.GeoDataFrame(
        out[[*ZONE_COLUMNS, *material_columns, *extra, "geometry"]], geometry="geometry", crs=zones.crs
    )
    ranked.attrs["score_weights"] = w
    if note:
        ranked.attrs["score_note"] = note
    return ranked


#: Decimals of the zone score as shown (report, map, table): zones equal to these are tied.
SCORE_DECIMALS = 3


def rerank(
    zones: gpd.GeoDataFrame, suitability: xr.DataArray, *, weights: Mapping[str, float] | None = None
) -> gpd.GeoDataFrame:
    """Scored zones ranked again on another suitability layer (other criterion weights).

    ``mean_suitability`` is measured again over each zone's cells; ``score``, ``rank``,
    ``zone_id`` and ``tied`` follow as in :func:`score`. The other evidence (firms, minutes,
    rural population, green loss) does not depend on the suitability and is kept, so no travel
    time is computed again. ``p_top_k`` becomes NaN: its draws were around the old weights.

    Parameters
    ----------
    zones : GeoDataFrame
        Zones as :func:`score` returns them.
    suitability : DataArray
        0..1, NaN where excluded.
    weights : mapping, optional
        Weights of :data:`SCORE_INDICATORS`; default :data:`SCORE_WEIGHTS`.

    Examples
    --------
    Two zones ranked on suitability alone; swapping their suitability swaps their ranks:

    >>> import geopandas as gpd, numpy as np
    >>> from shapely.geometry import box
    >>> grid = Grid.from_bounds((0, 0, 400, 200), 100, "EPSG:32647")
    >>> zones = gpd.GeoDataFrame({"kind": ["greenfield"] * 2}, crs=grid.crs,
    ...                          geometry=[box(0, 0, 200, 200), box(200, 0, 400, 200)])
    >>> s = np.array([[0.9, 0.9, 0.3, 0.3]] * 2)
    >>> ranked = score(zones, suitability=grid.wrap(s, "suitability"), weights={"suitability": 1})
    >>> again = rerank(ranked, grid.wrap(s[:, ::-1], "suitability"), weights={"suitability": 1})
    >>> again[["rank", "mean_suitability", "score"]].round(3).values.tolist()
    [[1.0, 0.9, 1.0], [2.0, 0.3, 0.333]]
    >>> [g.bounds[0] for g in again.geometry]
    [200.0, 0.0]
    """
    grid = Grid.from_dataarray(suitability)
    w = _score_weights(weights)
    out = pd.DataFrame(zones).reset_index(drop=True)
    if out.empty:
        return zones.copy()
    out["mean_suitability"] = _means(suitability, _masks(zones, grid))
    out["p_top_k"] = np.nan
    out, _ = _rank(out, w, grid)
    return gpd.GeoDataFrame(out[list(zones.columns)], geometry=zones.geometry.name, crs=zones.crs)


def _rank(out: pd.DataFrame, w: Mapping[str, float], grid: Grid) -> tuple[pd.DataFrame, str]:
    """``out`` scored and ordered best first, with ``rank``, ``zone_id`` and ``tied``, and the
    score's note on left-out weights."""
    value, note = _score_values(out, w)
    out["score"] = value
    out = _ordered(out, grid)
    out["rank"] = np.arange(1, len(out) + 1)
    out["zone_id"] = out["rank"]
    shown = out["score"].round(SCORE_DECIMALS)
    out["tied"] = shown.duplicated(keep=False).to_numpy()
    return out, note


def _ordered(zones: pd.DataFrame, grid: Grid) -> pd.DataFrame:
    """Zones best first: by score, then mean suitability, then area (larger first), then nearness
    to the study area's centre. The later keys only order zones the earlier ones tie; none of
    them is the zones' raster order."""
    west, south, east, north = grid.bounds
    points = gpd.GeoSeries(zones["geometry"], crs=grid.crs).representative_point()
    centre = np.hypot(points.x.to_numpy() - (west + east) / 2, points.y.to_numpy() - (south + north) / 2)
    keys = zones.assign(_centre=centre)
    order = np.lexsort(
        (
            keys["_centre"].to_numpy(),
            -keys["area_ha"].to_numpy(dtype=float),
            -np.nan_to_num(keys["mean_suitability"].to_numpy(dtype=float), nan=-1.0),
            -keys["score"].to_numpy(dtype=float),
        )
    )
    return zones.iloc[order].reset_index(drop=True)


def _score_weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    w = dict(SCORE_WEIGHTS if weights is None else weights)
    unknown = sorted(set(w) - set(SCORE_INDICATORS))
    if unknown:
        msg = (
            f"zone score weights name unknown indicator(s) {unknown}; expected {sorted(SCORE_INDICATORS)}"
            f"{did_you_mean(unknown[0], SCORE_INDICATORS)}"
        )
        raise InputError(msg)
    bad = {k: v for k, v in w.items() if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0}
    if bad or not sum(w.values()) > 0:
        msg = f"zone score weights must be numbers >= 0 with a positive sum, got {w}"
        raise InputError(msg)
    return {k: float(v) for k, v in w.items()}


def score_parts(frame: pd.DataFrame, weights: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Each indicator's part of each zone's score: its weight (normalised over the indicators
    some zone has) x its scaled value; the parts of a row add up to its ``score``.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"mean_suitability": [0.8, 0.4], "market_minutes": [10.0, 20.0]})
    >>> score_parts(frame, {"suitability": 3, "market": 1})
       suitability  market
    0        0.750   0.125
    1        0.375   0.000
    """
    weights = _score_weights(weights)
    used = {k: v for k, v in weights.items() if v > 0 and frame[SCORE_INDICATORS[k][0]].notna().any()}
    total = sum(used.values())
    parts = {
        key: weight / total * _scaled(frame[SCORE_INDICATORS[key][0]].to_numpy(dtype=float), SCORE_INDICATORS[key][1])
        for key, weight in used.items()
    }
    return pd.DataFrame(parts, index=frame.index)


def _score_values(frame: pd.DataFrame, weights: Mapping[str, float]) -> tuple[np.ndarray, str]:
    """The score of each row of ``frame`` (see :func:`score_formula`) and a note on left-out weights."""
    parts = score_parts(frame, weights)
    left_out = sorted(k for k, v in weights.items() if v > 0 and k not in parts.columns)
    value = parts.sum(axis=1).to_numpy() if len(parts.columns) else np.zeros(len(frame))
    note = ""
    if left_out:
        columns = ", ".join(SCORE_INDICATORS[k][0] for k in left_out)
        note = (
            f"the zone score leaves out {', '.join(left_out)} (no zone has {columns}); the other weights are rescaled"
        )
    return value, note


def _scaled(x: np.ndarray, direction: int) -> np.ndarray:
    """``x / max`` (more is better) or ``1 - x / max`` (less is better) over finite values; NaN gives 0."""
    finite = np.isfinite(x)
    top = x[finite].max() if finite.any() else 0.0
    if top > 0:
        scaled = x / top if direction > 0 else 1.0 - x / top
    else:
        scaled = np.zeros_like(x) if direction > 0 else np.ones_like(x)
    return np.where(finite, scaled, 0.0)


def score_formula(weights: Mapping[str, float] | None = None, zones: pd.DataFrame | None = None) -> str:
    """The zone score in words, for ``report.md``; with ``zones``, as applied to them.

    Weights are normalised to sum to 1; with ``zones``, indicators that no zone has are left
    out first and the others rescaled.

    Examples
    --------
    >>> print(score_formula({"suitability": 3, "market": 1}))
    score = 0.75 × mean_suitability / max + 0.25 × (1 - market_minutes / max), each maximum taken over the zones ranked
    >>> import pandas as pd
    >>> zones = pd.DataFrame({"mean_suitability": [0.9, 0.8], "market_minutes": [float("nan")] * 2})
    >>> score_formula({"suitability": 3, "market": 1}, zones).split(",")[0]
    'score = 1 × mean_suitability / max'
    """
    w = _score_weights(weights)
    if zones is not None and len(zones):
        w = {k: v for k, v in w.items() if zones[SCORE_INDICATORS[k][0]].notna().any()}
    total = sum(v for v in w.values() if v > 0) or 1.0
    terms = []
    for key, weight in sorted(w.items(), key=lambda kv: -kv[1]):
        if weight > 0:
            column, direction = SCORE_INDICATORS[key]
            scaled = f"{column} / max" if direction > 0 else f"(1 - {column} / max)"
            terms.append(f"{weight / total:.3g} × {scaled}")
    return "score = " + " + ".join(terms) + ", each maximum taken over the zones ranked"


def stability(
    zones: gpd.GeoDataFrame,
    criteria: Mapping[str, xr.DataArray] | xr.Dataset,
    weights: Mapping[str, float],
    *,
    runs: int = ZONES.stability_runs,
    top_k: int = ZONES.top_k,
    concentration: float = ZONES.stability_concentration,
    seed: int | None = ZONES.stability_seed,
    mcda: MCDASettings = MCDA,
    score_weights: Mapping[str, float] | None = None,
) -> gpd.GeoDataFrame:
    """How stable each zone's rank is under uncertain criterion weights.

    ``runs`` weight vectors are drawn with :func:`eicgeo.mcda.sample_weights` (Dirichlet around
    ``weights``). For each, every zone's mean suitability is recomputed from the standardised
    ``criteria`` over the zone's cells by the combination of ``mcda`` (all its settings:
    method, order weights, alpha, gamma, so the draws measure the model the suitability
    came from), the zone score (:func:`score_formula`, other indicators unchanged) and the
    ranks follow. With WLC a zone's mean suitability is linear in the weights, so it is the
    weights times the zone means of the criteria; other methods recombine the zone cells per
    draw.

    Returns
    -------
    GeoDataFrame
        ``zones`` (as ranked by :func:`score`) with ``p_top_k``: the share of runs in which the
        zone ranks in the top ``top_k``. ``attrs`` keep ``top_k``, ``runs`` and ``concentration``.

    Examples
    --------
    Zone A is best on roads, zone B on land; with roads weighted 0.7 their WLC suitability is
    ``0.7 × 1 + 0.3 × 0.2 = 0.76`` and ``0.7 × 0.2 + 0.3 × 1 = 0.44``:

    >>> import geopandas as gpd, numpy as np
    >>> from shapely.geometry import box
    >>> from eicgeo.mcda import combine
    >>> grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 1000), (10, 10))
    >>> a, b = np.full((10, 10), 0.2), np.full((10, 10), 0.2)
    >>> a[:3, :3], b[7:, 7:] = 1.0, 1.0
    >>> criteria = {"roads": grid.wrap(a, "roads"), "land": grid.wrap(b, "land")}
    >>> weights = {"roads": 0.7, "land": 0.3}
    >>> zones = gpd.GeoDataFrame({"kind": ["greenfield"] * 2}, crs=grid.crs,
    ...                          geometry=[box(0, 700, 300, 1000), box(700, 0, 1000, 300)])
    >>> ranked = score(zones, suitability=combine(criteria, weights), weights={"suitability": 1})
    >>> ranked["mean_suitability"].round(3).tolist()
    [0.76, 0.44]

    Zone A wins whenever the roads weight stays above one half, as it does in every draw at
    the default concentration (``ZONES.stability_concentration``); very uncertain weights
    (``concentration=1``) let B win some runs:

    >>> stability(ranked, criteria, weights, top_k=1)["p_top_k"].tolist()
    [1.0, 0.0]
    >>> p = stability(ranked, criteria, weights, top_k=1, concentration=1)["p_top_k"]
    >>> bool(0 < p[1] < p[0] < 1), round(float(p.sum()), 6)
    (True, 1.0)
    """
    if isinstance(runs, bool) or not isinstance(runs, int | np.integer) or runs < 1:
        msg = f"stability runs must be an integer >= 1, got {runs!r}"
        raise InputError(msg)
    if isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or top_k < 1:
        msg = f"top_k must be an integer >= 1, got {top_k!r}"
        raise InputError(msg)
    if not concentration > 0:
        msg = f"concentration must be > 0, got {concentration}"
        raise InputError(msg)
    out = zones.copy()
    out.attrs = {**zones.attrs, "top_k": int(top_k), "runs": int(runs), "concentration": float(concentration)}
    if out.empty:
        return out
    layers = dict(criteria.data_vars) if isinstance(criteria, xr.Dataset) else dict(criteria)
    missing = [k for k in weights if weights[k] > 0 and k not in layers]
    if missing:
        msg = (
            f"weight given for criterion {missing[0]!r}, which is not among the criteria "
            f"{', '.join(layers)}{did_you_mean(missing[0], layers)}"
        )
        raise InputError(msg)
    draws = mcda_.sample_weights(weights, runs, concentration=concentration, seed=seed)
    names = list(draws.columns)
    grid = Grid.from_dataarray(layers[names[0]])
    masks = _masks(out, grid)
    if mcda.method == "wlc":
        # zones x criteria: the zone mean of each standardised criterion, one layer at a time
        # (each read once; in a chunked run each is gathered, so never all at once)
        means = np.empty((len(masks), len(names)))
        for j, k in enumerate(names):
            v = _flat(layers[k])
            means[:, j] = [float(np.nanmean(v[m])) if m.size else np.nan for m in masks]
            del v
        suit = draws.to_numpy() @ np.nan_to_num(means).T  # runs x zones
    else:
        where = np.concatenate(masks)
        owner = np.concatenate([np.full(m.size, i) for i, m in enumerate(masks)])
        cells = {k: xr.DataArray(np.asarray(layers[k].values).ravel()[where][None, :], dims=("y", "x")) for k in names}
        suit = np.empty((runs, len(out)))
        for r, draw in enumerate(draws.itertuples(index=False)):
            combined = mcda_.combine(cells, dict(zip(names, draw, strict=True)), **mcda.combine_args())
            values = np.asarray(combined.values, dtype=float)[0]
            total = np.bincount(owner, weights=np.nan_to_num(values), minlength=len(out))
            count = np.bincount(owner, weights=np.isfinite(values), minlength=len(out))
            suit[r] = total / np.maximum(count, 1)
    w = _score_weights(score_weights if score_weights is not None else zones.attrs.get("score_weights"))
    frame = pd.DataFrame(out.drop(columns="geometry"))
    in_top = np.zeros(len(out))
    for row in suit:
        frame["mean_suitability"] = row
        value, _ = _score_values(frame, w)
        in_top += _top_share(value, row, top_k)
    out["p_top_k"] = in_top / runs
    return out


def members(zones: gpd.GeoDataFrame, firms: gpd.GeoDataFrame, *, distance_m: float = FIRM_REACH_M) -> list[set]:
    """The ``firm_id`` of the firms within ``distance_m`` of each zone, in the zones' order.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> zones = gpd.GeoDataFrame(geometry=[box(0, 0, 1000, 1000)], crs="EPSG:32647")
    >>> firms = gpd.GeoDataFrame({"firm_id": ["A", "B"]}, geometry=[Point(500, 500), Point(4000, 500)], crs=zones.crs)
    >>> members(zones, firms)
    [{'A'}]
    """
    if firms is None or not len(firms) or not len(zones):
        return [set() for _ in range(len(zones))]
    return _within(firms.to_crs(zones.crs), zones.reset_index(drop=True), distance_m, zones.crs)


#: The prefix of the per-criterion contribution columns (``part_road_access``...).
PART_PREFIX = "part_"


def contributions(
    zones: gpd.GeoDataFrame, criteria: xr.Dataset | Mapping[str, xr.DataArray], weights: Mapping[str, float]
) -> pd.DataFrame:
    """Why each zone scores as it does: ``part_<criterion>`` = the criterion's normalised weight x
    its mean standardised value over the zone's cells, for every weighted criterion (user
    criteria too; ``material_access:clay`` gives ``part_material_access_clay``).

    Under the weighted linear combination the parts add up to the zone's mean suitability; under
    OWA or fuzzy overlays they are the weighted-sum reading of the same criteria.

    Examples
    --------
    >>> import geopandas as gpd, numpy as np, xarray as xr
    >>> from shapely.geometry import box
    >>> from eicgeo.grid import Grid
    >>> grid = Grid.from_bounds((0, 0, 400, 200), 100, "EPSG:32647")
    >>> road = grid.wrap(np.array([[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]]), "road_access")
    >>> market = grid.wrap(np.full((2, 4), 0.5), "market_access")
    >>> zones = gpd.GeoDataFrame(geometry=[box(0, 0, 200, 200), box(200, 0, 400, 200)], crs=grid.crs)
    >>> contributions(zones, {"road_access": road, "market_access": market}, {"road_access": 3, "market_access": 1})
       part_road_access  part_market_access
    0              0.75               0.125
    1              0.00               0.125
    """
    total = float(sum(w for w in weights.values() if w > 0))
    used = [name for name in criteria if weights.get(name, 0) > 0]
    if not used or total <= 0:
        return pd.DataFrame(index=range(len(zones)))
    grid = Grid.from_dataarray(criteria[used[0]])
    masks = _masks(zones, grid)
    parts = {
        f"{PART_PREFIX}{name.replace(':', '_')}": np.asarray(_means(criteria[name], masks)) * (weights[name] / total)
        for name in used
    }
    return pd.DataFrame(parts, index=range(len(zones)))


def _top_share(score: np.ndarray, suitability: np.ndarray, k: int, eps: float = 1e-9) -> np.ndarray:
    """Each zone's share of the top ``k`` places in one draw: 1 above the k-th zone (by score,
    then mean suitability), 0 below, and the places left shared equally among the zones tied
    with the k-th, so identical zones never look more stable than one another."""
    if len(score) <= k:
        return np.ones(len(score))
    order = np.lexsort((-suitability, -score))
    v, r = score[order[k - 1]], suitability[order[k - 1]]
    better = (score > v + eps) | ((np.abs(score - v) <= eps) & (suitability > r + eps))
    equal = (np.abs(score - v) <= eps) & (np.abs(suitability - r) <= eps)
    return better.astype(float) + equal * (k - better.sum()) / equal.sum()


def _masks(zones: gpd.GeoDataFrame, grid: Grid) -> list[np.ndarray]:
    """The cells (centre inside) of each zone, in order, as flat (row-major) cell indices.

    Each zone is rasterised in the window of its bounds only, so the cost follows the zones'
    area, not the grid times the zones.
    """
    geoms = zones.to_crs(grid.crs).geometry if zones.crs is not None else zones.geometry
    out = []
    for g in geoms:
        window, sub = (None, None) if g is None or g.is_empty else grid.window(g.bounds)
        if window is None:
            out.append(np.empty(0, dtype=np.int64))
            continue
        inside = rasterio.features.geometry_mask([g], sub.shape, sub.transform, invert=True)
        rows, cols = np.nonzero(inside)
        out.append((rows + window[0].start).astype(np.int64) * grid.width + (cols + window[1].start))
    return out


def _firm_columns(
    out: pd.DataFrame,
    grid: Grid,
    firms: gpd.GeoDataFrame | None,
    links: gpd.GeoDataFrame | None,
    firm_reach_m: float,
    reach_km: float | None,
    vocab: Vocabulary,
) -> None:
    """``n_firms``, ``symbiosis_tonnes`` and ``symbiosis_reach_tonnes`` of each zone (in place)."""
    out["n_firms"] = 0
    if firms is None or not len(firms):
        # Without a firm register the exchange is unknown, not zero: the score leaves it out.
        out["symbiosis_tonnes"] = np.nan
        out["symbiosis_reach_tonnes"] = np.nan
        return
    out["symbiosis_tonnes"] = 0.0
    out["symbiosis_reach_tonnes"] = np.nan if reach_km is None else 0.0
    points = firms.to_crs(grid.crs)
    members = _within(points, out, firm_reach_m, grid.crs)
    out["n_firms"] = [len(s) for s in members]
    if links is not None and len(links):
        # Each link once per zone, from an index of the links by firm: the cost follows the
        # zones' firms and their links, not the zones times all links.
        by_firm = symbiosis.links_by_firm(links)
        tonnes = links["tonnes"].to_numpy(dtype=float)
        out["symbiosis_tonnes"] = [
            float(tonnes[sorted({k for firm in s for k in by_firm.get(firm, [])})].sum()) for s in members
        ]
    if reach_km is not None and "outputs" in points:
        offered = pd.Series(symbiosis.byproduct_tonnes(points, vocab=vocab), index=points["firm_id"].to_numpy())
        offered = offered.groupby(level=0).sum()
        near = _within(points, out, reach_km * 1000.0, grid.crs)
        out["symbiosis_reach_tonnes"] = [float(offered.loc[sorted(s)].sum()) if s else 0.0 for s in near]


def _within(points: gpd.GeoDataFrame, zones: pd.DataFrame, distance_m: float, crs: Any) -> list[set]:
    """The ``firm_id`` of the points within ``distance_m`` of each zone, in the zones' order
    (an exact distance query on a tree of the points; no zone is buffered)."""
    geoms = gpd.GeoSeries(zones.geometry, crs=crs).to_numpy()
    tree = shapely.STRtree(points.geometry.to_numpy())
    zone, point = tree.query(geoms, predicate="dwithin", distance=distance_m)
    ids = points["firm_id"].to_numpy()
    out: list[set] = [set() for _ in range(len(zones))]
    for z, pt in zip(zone.tolist(), point.tolist(), strict=True):
        out[z].add(ids[pt])
    return out


def _flat(layer: xr.DataArray) -> np.ndarray:
    """The layer's cells in one flat array, in its own dtype (a view of a numpy-backed layer):
    a zone's cells are gathered from it and only they are widened to float64."""
    return np.asarray(layer.values).ravel()


def _means(layer: xr.DataArray | None, masks: list[np.ndarray]) -> list[float]:
    return _per_zone(np.nanmean, layer, masks)


def _medians(layer: xr.DataArray | None, masks: list[np.ndarray]) -> list[float]:
    return _per_zone(np.nanmedian, layer, masks)


def _per_zone(
    statistic: Callable[[np.ndarray], Any], layer: xr.DataArray | None, masks: list[np.ndarray]
) -> list[float]:
    """``statistic`` of each zone's finite cells in float64 (NaN for a zone without any)."""
    if layer is None:
        return [np.nan] * len(masks)
    flat = _flat(layer)
    out = []
    for m in masks:
        values = flat[m].astype(float)
        out.append(float(statistic(values)) if np.isfinite(values).any() else np.nan)
    return out


def _polygons(labels: np.ndarray, wanted: np.ndarray, grid: Grid) -> list:
    """One (multi)polygon per wanted label of an integer label array."""
    keep = np.isin(labels, wanted)
    parts: dict[int, list] = {int(v): [] for v in wanted}
    for geom, value in rasterio.features.shapes(
        labels.astype(np.int32), mask=keep, transform=grid.transform, connectivity=4
    ):
        parts[int(value)].append(shape(geom))
    return [unary_union(parts[int(v)]) for v in wanted]
