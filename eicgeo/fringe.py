"""The urban–rural fringe: the Degree of Urbanisation on a population grid, or a built-up
gradient from land cover when no population grid exists.

:func:`degurba` applies the GHSL / Eurostat Degree of Urbanisation (stage I and the GHS-SMOD
level-2 classes of stage II) to people per cell aggregated to 1 km² cells. :func:`classes`
turns the level-2 codes into the fringe classes written to ``fringe.tif``:
3 urban, 2 peri-urban fringe, 1 rural, 0 nodata.

Rules (European Commission & GHSL, *Applying the Degree of Urbanisation*, 2021 edition; GHSL
Data Package 2023, GHS-SMOD):

* urban centre (30): 4-connected cells of >= 1,500 inh/km² with >= 50,000 people; holes under
  15 km² are filled; edges are smoothed by the majority rule (a cell with >= 5 of its 8
  neighbours in the centre joins it, repeated until stable);
* dense urban cluster (23): 4-connected cells of >= 1,500 inh/km² with >= 5,000 people, outside
  urban centres;
* semi-dense urban cluster (22) and suburban / peri-urban cells (21): the rest of the urban
  clusters (8-connected cells of >= 300 inh/km² with >= 5,000 people); a remaining cluster more
  than 3 km from any urban centre or dense urban cluster is semi-dense, otherwise suburban;
* rural cluster (13): 8-connected cells of >= 300 inh/km² with 500 to 4,999 people;
* low-density rural (12): >= 50 inh/km²; very-low-density rural (11): the rest;
* water (10): cells at least half water with fewer than 50 inh/km² (when a water share is given).

Simplifications: the 3 km test uses the distance between cluster cell centres; the optional
built-up criterion of urban centres (>= 50 % built-up) is applied when ``built_share`` is given.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import ndimage
from scipy.signal import fftconvolve

from eicgeo._errors import InputError
from eicgeo._validate import check_positive
from eicgeo.grid import Grid
from eicgeo.legends import ROLE_CODE, Legend, get_legend

__all__ = ["FRINGE_CLASSES", "SMOD_CLASSES", "classes", "degurba", "from_landcover"]

#: GHS-SMOD level-2 codes and names.
SMOD_CLASSES: dict[int, str] = {
    30: "urban centre",
    23: "dense urban cluster",
    22: "semi-dense urban cluster",
    21: "suburban or peri-urban",
    13: "rural cluster",
    12: "low-density rural",
    11: "very-low-density rural",
    10: "water",
}

#: Codes of ``fringe.tif``.
FRINGE_CLASSES: dict[int, str] = {0: "nodata", 1: "rural", 2: "peri-urban fringe", 3: "urban"}

_ROOK = ndimage.generate_binary_structure(2, 1)
_QUEEN = ndimage.generate_binary_structure(2, 2)


def degurba(
    population: xr.DataArray,
    *,
    cell_m: float = 1000.0,
    centre_density: float = 1500.0,
    centre_population: float = 50_000.0,
    cluster_density: float = 300.0,
    cluster_population: float = 5_000.0,
    rural_cluster_population: float = 500.0,
    low_density: float = 50.0,
    max_hole_km2: float = 15.0,
    semi_dense_distance_km: float = 3.0,
    water_share: xr.DataArray | None = None,
    built_share: xr.DataArray | None = None,
) -> xr.DataArray:
    """GHS-SMOD level-2 codes of the Degree of Urbanisation, on the population's grid.

    Parameters
    ----------
    population : DataArray
        People per cell (NaN = nodata) on a projected grid.
    cell_m : float
        Size of the aggregation cells (metres); the official rules use 1 km. The population
        grid's cells are summed in blocks of ``round(cell_m / resolution)``.
    water_share, built_share : DataArray, optional
        Share (0..1) of water and of built-up land per cell on the same grid.

    Returns
    -------
    DataArray
        uint8 codes of :data:`SMOD_CLASSES` (0 = nodata), named ``degurba``, with the 1 km
        density in ``attrs["block_cells"]`` cells per side.
    """
    grid = Grid.from_dataarray(population)
    cell_m = check_positive(cell_m, "cell_m")
    factor = max(1, round(cell_m / grid.resolution))
    values = np.asarray(population.values, dtype=np.float64)
    people = _block_sum(np.nan_to_num(values, nan=0.0), factor)
    valid = _block_sum(np.isfinite(values).astype(np.float64), factor) > 0
    # Blocks cut by the grid edge hold fewer cells; their density uses the area they cover.
    area_km2 = _block_sum(np.ones(values.shape), factor) * grid.resolution**2 / 1e6
    density = people / area_km2
    water = _block_mean(np.asarray(water_share.values, dtype=float), factor) if water_share is not None else None
    built = _block_mean(np.asarray(built_share.values, dtype=float), factor) if built_share is not None else None

    codes = smod_codes(
        density,
        area_km2=area_km2,
        centre_density=centre_density,
        centre_population=centre_population,
        cluster_density=cluster_density,
        cluster_population=cluster_population,
        rural_cluster_population=rural_cluster_population,
        low_density=low_density,
        max_hole_km2=max_hole_km2,
        semi_dense_distance_km=semi_dense_distance_km,
        cell_km=factor * grid.resolution / 1000.0,
        water_share=water,
        built_share=built,
    )
    codes[~valid] = 0
    fine = np.repeat(np.repeat(codes, factor, axis=0), factor, axis=1)[: grid.height, : grid.width]
    attrs = {
        "long_name": "Degree of Urbanisation (GHS-SMOD level 2)",
        "block_cells": factor,
        "cell_km": factor * grid.resolution / 1000.0,
        "classes": "; ".join(f"{k} {v}" for k, v in SMOD_CLASSES.items()),
    }
    return grid.wrap(fine.astype(np.uint8), "degurba", attrs=attrs)


def smod_codes(
    density: np.ndarray,
    *,
    area_km2: float | np.ndarray,
    centre_density: float = 1500.0,
    centre_population: float = 50_000.0,
    cluster_density: float = 300.0,
    cluster_population: float = 5_000.0,
    rural_cluster_population: float = 500.0,
    low_density: float = 50.0,
    max_hole_km2: float = 15.0,
    semi_dense_distance_km: float = 3.0,
    cell_km: float = 1.0,
    water_share: np.ndarray | None = None,
    built_share: np.ndarray | None = None,
) -> np.ndarray:
    """GHS-SMOD level-2 codes from a density grid (inh/km²) of aggregation cells.

    The core of :func:`degurba`, on plain arrays, for hand-checked tests. ``area_km2`` is the
    area of each aggregation cell (a scalar, or an array where edge cells are smaller).
    """
    for name, value in [("centre_density", centre_density), ("cluster_density", cluster_density)]:
        check_positive(value, name)
    if cluster_density > centre_density:
        msg = f"cluster_density {cluster_density} must not exceed centre_density {centre_density}"
        raise InputError(msg)
    density = np.nan_to_num(np.asarray(density, dtype=float), nan=0.0)
    people = density * area_km2

    dense = density >= centre_density
    if built_share is not None:
        dense |= np.nan_to_num(built_share) >= 0.5
    centre = _keep_clusters(dense, people, centre_population, _ROOK)
    centre = _fill_holes(centre, max_hole_km2 / float(np.max(area_km2)))
    centre = _majority_smooth(centre)

    dense_cluster = _keep_clusters(dense & ~centre, people, cluster_population, _ROOK)
    moderate = density >= cluster_density
    urban_cluster = _keep_clusters(moderate | centre | dense_cluster, people, cluster_population, _QUEEN)
    rest = urban_cluster & ~centre & ~dense_cluster
    codes = np.full(density.shape, 11, dtype=np.uint8)
    codes[density >= low_density] = 12
    rural_cluster = _keep_clusters(moderate & ~urban_cluster, people, rural_cluster_population, _QUEEN)
    codes[rural_cluster] = 13
    if rest.any():
        core = centre | dense_cluster
        near_km = ndimage.distance_transform_edt(~core) * cell_km if core.any() else np.full(density.shape, np.inf)
        labels, n = ndimage.label(rest, structure=_QUEEN)
        nearest = ndimage.minimum(near_km, labels, index=np.arange(1, n + 1))
        semi = np.zeros(n + 1, dtype=bool)
        semi[1:] = np.asarray(nearest) > semi_dense_distance_km
        codes[rest] = np.where(semi[labels[rest]], 22, 21)
    codes[dense_cluster] = 23
    codes[centre] = 30
    if water_share is not None:
        water = (np.nan_to_num(water_share) >= 0.5) & (density < low_density)
        codes[water & (codes <= 12)] = 10
    return codes


def classes(smod: xr.DataArray, *, band_km: float = 5.0) -> xr.DataArray:
    """Fringe classes from GHS-SMOD codes: 3 urban, 2 peri-urban fringe, 1 rural, 0 nodata.

    Urban is the urban centres (30). The fringe is the suburban / peri-urban cells and the
    semi-dense and dense urban clusters (21-23), plus rural cells within ``band_km`` of an
    urban centre's edge. Everything else with data is rural.
    """
    grid = Grid.from_dataarray(smod)
    codes = np.asarray(smod.values)
    out = np.where(codes > 0, 1, 0).astype(np.uint8)
    out[(codes >= 21) & (codes <= 23)] = 2
    centre = codes == 30
    if centre.any() and band_km > 0:
        dist_km = ndimage.distance_transform_edt(~centre) * grid.resolution / 1000.0
        out[(out == 1) & (dist_km <= band_km)] = 2
    out[centre] = 3
    attrs = {
        "long_name": "urban-rural fringe",
        "classes": "; ".join(f"{k} {v}" for k, v in FRINGE_CLASSES.items()),
        "band_km": band_km,
    }
    return grid.wrap(out, "fringe", attrs=attrs)


def from_landcover(
    landcover: xr.DataArray,
    legend: str | Legend,
    *,
    radius_m: float = 1000.0,
    urban_share: float = 0.5,
    fringe_share: float = 0.1,
) -> xr.DataArray:
    """Fringe classes from the built-up share of land cover within ``radius_m`` of each cell.

    A cell is urban (3) where at least ``urban_share`` of the land within the circle is built
    up, fringe (2) where at least ``fringe_share`` is, else rural (1); 0 where the land cover
    is nodata. The defaults follow the usual reading of built-up density gradients
    (above half built up is the continuous urban fabric; a tenth marks the start of
    peri-urbanisation).
    """
    legend = get_legend(legend)
    if not 0 < fringe_share < urban_share <= 1:
        msg = f"from_landcover needs 0 < fringe_share < urban_share <= 1, got {fringe_share}, {urban_share}"
        raise InputError(msg)
    grid = Grid.from_dataarray(landcover)
    roles = legend.role_codes(np.asarray(landcover.values))
    share = built_share(roles, grid, radius_m=radius_m)
    out = np.where(share >= urban_share, 3, np.where(share >= fringe_share, 2, 1)).astype(np.uint8)
    out[roles == ROLE_CODE["nodata"]] = 0
    attrs = {
        "long_name": "urban-rural fringe (land-cover gradient)",
        "radius_m": radius_m,
        "classes": "; ".join(f"{k} {v}" for k, v in FRINGE_CLASSES.items()),
    }
    return grid.wrap(out, "fringe", attrs=attrs)


def built_share(roles: np.ndarray, grid: Grid, *, radius_m: float = 1000.0) -> np.ndarray:
    """Share of built-up land among the cells with data within ``radius_m`` (a disc)."""
    radius_m = check_positive(radius_m, "radius_m")
    r = max(1, round(radius_m / grid.resolution))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disc = ((xx**2 + yy**2) <= r * r).astype(float)
    has_data = (roles != ROLE_CODE["nodata"]).astype(float)
    built = (roles == ROLE_CODE["built_up"]).astype(float)
    num = fftconvolve(built, disc, mode="same")
    den = fftconvolve(has_data, disc, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(den > 0.5, num / np.maximum(den, 1e-9), 0.0)
    return np.clip(share, 0.0, 1.0)


# --------------------------------------------------------------------------------------------
def _block_sum(a: np.ndarray, f: int) -> np.ndarray:
    if f == 1:
        return a.astype(np.float64)
    h, w = a.shape
    ph, pw = -h % f, -w % f
    padded = np.pad(a, ((0, ph), (0, pw)))
    return padded.reshape((h + ph) // f, f, (w + pw) // f, f).sum(axis=(1, 3))


def _block_mean(a: np.ndarray, f: int) -> np.ndarray:
    finite = np.isfinite(a)
    total = _block_sum(np.where(finite, a, 0.0), f)
    count = _block_sum(finite.astype(float), f)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _keep_clusters(mask: np.ndarray, people: np.ndarray, minimum: float, structure: np.ndarray) -> np.ndarray:
    labels, n = ndimage.label(mask, structure=structure)
    if n == 0:
        return np.zeros(mask.shape, dtype=bool)
    totals = ndimage.sum(people, labels, index=np.arange(1, n + 1))
    keep = np.zeros(n + 1, dtype=bool)
    # Half a person of slack absorbs float rounding in densities multiplied back by areas.
    keep[1:] = np.asarray(totals) >= minimum - 0.5
    return keep[labels]


def _fill_holes(mask: np.ndarray, max_cells: float) -> np.ndarray:
    """Fill background regions enclosed by ``mask`` that are smaller than ``max_cells``."""
    holes = ndimage.binary_fill_holes(mask, structure=_ROOK) & ~mask
    labels, n = ndimage.label(holes, structure=_ROOK)
    if n == 0:
        return mask
    sizes = ndimage.sum(np.ones(mask.shape), labels, index=np.arange(1, n + 1))
    small = np.zeros(n + 1, dtype=bool)
    small[1:] = np.asarray(sizes) < max_cells
    return mask | small[labels]


def _majority_smooth(mask: np.ndarray, *, needed: int = 5, max_iter: int = 100) -> np.ndarray:
    kernel = np.ones((3, 3), dtype=int)
    kernel[1, 1] = 0
    for _ in range(max_iter):
        neighbours = ndimage.convolve(mask.astype(int), kernel, mode="constant")
        grown = mask | (neighbours >= needed)
        if np.array_equal(grown, mask):
            break
        mask = grown
    return mask
