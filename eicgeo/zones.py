"""Candidate Eco-Industrial Cluster zones: locate them, score them, rank them.

:func:`locate` finds *greenfield* zones: contiguous (edge-connected) allowed cells whose
suitability is in the top ``1 - quantile`` of the allowed land, at least ``min_area_ha`` large,
best mean suitability first. :func:`cluster_zones` adds *cluster* zones: the allowed land around
existing firm clusters, since the seed asks for infrastructure planned together with new
industries. :func:`score` measures every zone on the seed's criteria and ranks them.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import xarray as xr
from scipy import ndimage
from shapely.geometry import shape
from shapely.ops import unary_union

from eicgeo._errors import InputError
from eicgeo.grid import Grid

__all__ = ["SCORE_WEIGHTS", "ZONE_COLUMNS", "cluster_zones", "locate", "score"]

#: Default weights of the zone score (each indicator is first scaled by its maximum over zones).
SCORE_WEIGHTS: dict[str, float] = {"suitability": 0.6, "symbiosis": 0.2, "rural_pop": 0.2}

#: Columns of ``zones.gpkg`` (besides geometry), in order.
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
]
_ROOK = ndimage.generate_binary_structure(2, 1)


def locate(
    suitability: xr.DataArray,
    allowed: xr.DataArray,
    *,
    n: int = 10,
    quantile: float = 0.85,
    min_area_ha: float = 50.0,
    max_area_ha: float | None = 1000.0,
) -> gpd.GeoDataFrame:
    """Greenfield candidate zones.

    Parameters
    ----------
    suitability : DataArray
        0..1, NaN for nodata.
    allowed : DataArray
        Boolean: fringe land that no constraint excludes.
    n : int
        Most zones to return.
    quantile : float
        Cells at or above this quantile of the allowed cells' suitability are candidates.
    min_area_ha : float
        Smallest zone, hectares.
    max_area_ha : float, optional
        Largest zone, hectares. A larger contiguous area keeps only its best cells: its own
        threshold is raised until they cover at most ``max_area_ha``, and the pieces of at least
        ``min_area_ha`` that remain are candidates.

    Returns
    -------
    GeoDataFrame
        ``kind``, ``area_ha``, ``mean_suitability`` and the zone polygons, best mean
        suitability first. ``attrs["note"]`` says why fewer than ``n`` zones were found.
    """
    grid = Grid.from_dataarray(suitability)
    grid.check(allowed, "allowed mask")
    if not 0 <= quantile < 1:
        msg = f"quantile must be in [0, 1), got {quantile}"
        raise InputError(msg)
    suit = np.asarray(suitability.values, dtype=np.float64)
    ok = np.asarray(allowed.values, dtype=bool) & np.isfinite(suit)
    empty = gpd.GeoDataFrame({"kind": [], "area_ha": [], "mean_suitability": []}, geometry=[], crs=grid.crs)
    if not ok.any():
        empty.attrs["note"] = "no allowed cells: the fringe is empty or wholly excluded"
        return empty
    threshold = float(np.quantile(suit[ok], quantile))
    labels, count = ndimage.label(ok & (suit >= threshold), structure=_ROOK)
    cell_ha = grid.cell_area_m2 / 1e4
    if max_area_ha is not None:
        labels, count = _cap_area(labels, count, suit, max_area_ha / cell_ha)
    index = np.arange(1, count + 1)
    area = ndimage.sum_labels(np.ones_like(suit), labels, index) * cell_ha
    mean = ndimage.mean(suit, labels, index)
    big = area >= min_area_ha
    order = index[big][np.argsort(-mean[big], kind="stable")][:n]
    polygons = _polygons(labels, order, grid)
    zones = gpd.GeoDataFrame(
        {"kind": "greenfield", "area_ha": area[order - 1], "mean_suitability": mean[order - 1]},
        geometry=polygons,
        crs=grid.crs,
    )
    zones.attrs["threshold"] = threshold
    if len(zones) < n:
        zones.attrs["note"] = (
            f"{len(zones)} of {n} zones found: only {int(big.sum())} contiguous areas of suitability >= "
            f"{threshold:.3f} (the {quantile:.0%} quantile of allowed land) reach {min_area_ha:g} ha"
        )
    return zones


def _cap_area(labels: np.ndarray, count: int, suit: np.ndarray, max_cells: float) -> tuple[np.ndarray, int]:
    """Shrink every labelled area larger than ``max_cells`` to its best cells, then relabel."""
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    keep = labels > 0
    for label in np.flatnonzero(sizes[1:] > max_cells) + 1:
        cells = labels == label
        values = np.sort(suit[cells])[::-1]
        cut = values[int(max_cells) - 1]
        keep[cells & (suit < cut)] = False
    return ndimage.label(keep, structure=_ROOK)


def cluster_zones(
    clusters: gpd.GeoDataFrame,
    allowed: xr.DataArray,
    *,
    firms: gpd.GeoDataFrame | None = None,
    suitability: xr.DataArray | None = None,
    buffer_m: float = 1000.0,
    min_area_ha: float = 50.0,
    max_area_ha: float | None = None,
) -> gpd.GeoDataFrame:
    """Zones of kind ``cluster``: allowed land near each existing firm cluster.

    The zone is the allowed land within ``buffer_m`` of the cluster's firms (when ``firms`` with
    a ``cluster`` column is given) or of its hull. With ``suitability`` and ``max_area_ha``, a
    larger zone keeps only its best ``max_area_ha``.
    """
    grid = Grid.from_dataarray(allowed)
    ok = np.asarray(allowed.values, dtype=bool)
    suit = np.asarray(suitability.values, dtype=float) if suitability is not None else None
    cell_ha = grid.cell_area_m2 / 1e4
    rows, geoms = [], []
    for cluster in clusters.to_crs(grid.crs).itertuples():
        anchor = [cluster.geometry]
        if firms is not None and "cluster" in firms:
            members = firms.to_crs(grid.crs).geometry[firms["cluster"].to_numpy() == cluster.cluster]
            if len(members):
                anchor = list(members.buffer(buffer_m))
        if anchor == [cluster.geometry]:
            anchor = [cluster.geometry.buffer(buffer_m)]
        cells = rasterio.features.geometry_mask(anchor, grid.shape, grid.transform, invert=True) & ok
        if suit is not None and max_area_ha is not None and cells.sum() * cell_ha > max_area_ha:
            labels, _ = _cap_area(cells.astype(np.int32), 1, np.where(cells, suit, -np.inf), max_area_ha / cell_ha)
            cells = labels > 0
        area = cells.sum() * cell_ha
        if area < min_area_ha:
            continue
        geoms.append(unary_union(_polygons(cells.astype(np.int32), np.array([1]), grid)))
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
    rural_pop_30min: np.ndarray | None = None,
    firm_reach_m: float = 2000.0,
    weights: Mapping[str, float] | None = None,
) -> gpd.GeoDataFrame:
    """Score and rank zones; returns the zones with every column of :data:`ZONE_COLUMNS`.

    * ``mean_suitability``: mean suitability of the zone's cells;
    * ``n_firms``: firms within ``firm_reach_m`` of the zone;
    * ``symbiosis_tonnes``: tonnes per year of the symbiosis links of those firms;
    * ``market_minutes`` / ``material_minutes``: medians over the zone's cells;
    * ``rural_pop_30min``: given by the caller (people in rural and fringe cells within
      30 minutes, see :func:`eicgeo.pipeline.run`).

    ``score = sum(w_k * x_k / max(x_k))`` over the indicators suitability, symbiosis and
    rural_pop with :data:`SCORE_WEIGHTS` (normalised); rank 1 is the best and ``zone_id``
    follows the rank.
    """
    grid = Grid.from_dataarray(suitability)
    # Positions, not labels, tie zones to the firms joined below and to rural_pop_30min.
    out = zones.reset_index(drop=True)
    if out.empty:
        for column in ZONE_COLUMNS:
            if column not in out:
                out[column] = pd.Series(dtype="float64" if column not in ("kind",) else "object")
        return gpd.GeoDataFrame(out[[*ZONE_COLUMNS, "geometry"]], geometry="geometry", crs=zones.crs)
    masks = [rasterio.features.geometry_mask([g], grid.shape, grid.transform, invert=True) for g in out.geometry]
    suit = np.asarray(suitability.values, dtype=float)
    out["mean_suitability"] = [float(np.nanmean(suit[m])) if m.any() else np.nan for m in masks]
    out["area_ha"] = [float(m.sum() * grid.cell_area_m2 / 1e4) for m in masks]
    out["market_minutes"] = _medians(market_minutes, masks)
    out["material_minutes"] = _medians(material_minutes, masks)
    out["rural_pop_30min"] = rural_pop_30min if rural_pop_30min is not None else np.nan
    if firms is not None and len(firms):
        near = gpd.sjoin(
            firms[["firm_id", "geometry"]].to_crs(grid.crs),
            gpd.GeoDataFrame(geometry=out.geometry.buffer(firm_reach_m), crs=grid.crs),
            predicate="within",
            how="inner",
        )
        members = near.groupby("index_right")["firm_id"].apply(set)
        out["n_firms"] = [len(members.get(i, set())) for i in range(len(out))]
        if links is not None and len(links):
            out["symbiosis_tonnes"] = [
                float(links.loc[links["from_firm"].isin(s) | links["to_firm"].isin(s), "tonnes"].sum())
                for s in (members.get(i, set()) for i in range(len(out)))
            ]
        else:
            out["symbiosis_tonnes"] = 0.0
    else:
        out["n_firms"] = 0
        out["symbiosis_tonnes"] = 0.0
    w = dict(SCORE_WEIGHTS if weights is None else weights)
    indicators = {"suitability": "mean_suitability", "symbiosis": "symbiosis_tonnes", "rural_pop": "rural_pop_30min"}
    unknown = set(w) - set(indicators)
    if unknown:
        msg = f"zone score weights name unknown indicator(s) {sorted(unknown)}; expected {sorted(indicators)}"
        raise InputError(msg)
    total = sum(w.values()) or 1.0
    value = np.zeros(len(out))
    for key, column in indicators.items():
        x = pd.to_numeric(out[column], errors="coerce").fillna(0.0).to_numpy(dtype=float)
        top = x.max()
        if top > 0:
            value += w.get(key, 0.0) / total * x / top
    out["score"] = value
    out = out.sort_values(["score", "mean_suitability"], ascending=False, kind="stable").reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    out["zone_id"] = out["rank"]
    extra = [c for c in out.columns if c not in (*ZONE_COLUMNS, "geometry")]
    return gpd.GeoDataFrame(out[[*ZONE_COLUMNS, *extra, "geometry"]], geometry="geometry", crs=zones.crs)


def _medians(layer: xr.DataArray | None, masks: list[np.ndarray]) -> list[float]:
    if layer is None:
        return [np.nan] * len(masks)
    values = np.asarray(layer.values, dtype=float)
    return [float(np.nanmedian(values[m])) if m.any() and np.isfinite(values[m]).any() else np.nan for m in masks]


def _polygons(labels: np.ndarray, wanted: np.ndarray, grid: Grid) -> list:
    """One (multi)polygon per wanted label of an integer label array."""
    keep = np.isin(labels, wanted)
    parts: dict[int, list] = {int(v): [] for v in wanted}
    for geom, value in rasterio.features.shapes(
        labels.astype(np.int32), mask=keep, transform=grid.transform, connectivity=4
    ):
        parts[int(value)].append(shape(geom))
    return [unary_union(parts[int(v)]) for v in wanted]
