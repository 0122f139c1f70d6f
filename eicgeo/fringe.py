"""The urban–rural fringe: the Degree of Urbanisation on a population grid, or a built-up
gradient from land cover when no population grid exists.

:func:`degurba` applies the Degree of Urbanisation (stage I and the GHS-SMOD level-2 classes of
stage II) to people per cell summed to 1 km² cells. :func:`classes` turns the level-2 codes into
the fringe classes written to ``fringe.tif`` (3 urban, 2 peri-urban fringe, 1 rural, 0 nodata),
with a band beyond the urban-centre edge in km or in travel minutes. :func:`from_landcover` does
the same from a land-cover map alone; :func:`green_space` marks the residual green space next to
the built-up edge.

Sources: Eurostat et al., *Applying the Degree of Urbanisation — a methodological manual to
define cities, towns and rural areas for international comparisons*, 2021 edition; JRC, *GHSL
Data Package 2023* (GHS-SMOD). ``docs/fringe.md`` gives every rule, its source and each
simplification made here. Every official threshold is a keyword argument with the official value
as its default.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy import ndimage
from scipy.signal import fftconvolve

from eicgeo._errors import InputError
from eicgeo._validate import check_positive
from eicgeo.grid import Grid
from eicgeo.legends import ROLE_CODE, Legend, get_legend
from eicgeo.settings import FRINGE, ROADS

__all__ = [
    "DEGURBA_RULES",
    "FRINGE_CLASSES",
    "GREEN_ROLES",
    "SMOD_CLASSES",
    "URBAN_GREEN_ROLES",
    "built_estimate",
    "built_share",
    "classes",
    "degurba",
    "from_landcover",
    "green_space",
    "smod_codes",
]

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

#: Land-cover roles that count as residual green space next to the built-up edge.
GREEN_ROLES: tuple[str, ...] = ("forest", "grass_shrub", "wetland")

_ROOK = ndimage.generate_binary_structure(2, 1)
_QUEEN = ndimage.generate_binary_structure(2, 2)
_CONTIGUITY = {4: _ROOK, 8: _QUEEN}
# Rows of aggregation cells summed at a time: bounds the temporary memory of a 10^8-cell grid.
_STRIP_BLOCKS = 64


def degurba(
    population: xr.DataArray,
    *,
    cell_m: float = FRINGE.cell_m,
    water_share: xr.DataArray | None = None,
    built_share: xr.DataArray | None = None,
    **rules: Any,
) -> xr.DataArray:
    """GHS-SMOD level-2 codes of the Degree of Urbanisation, on the population's grid.

    Parameters
    ----------
    population : DataArray
        People per cell (NaN = nodata) on a projected grid.
    cell_m : float
        Size of the aggregation cells (metres); the official rules use 1 km. The population
        grid's cells are summed in blocks of ``round(cell_m / resolution)`` cells per side.
    water_share, built_share : DataArray, optional
        Share (0..1) of permanent water and of built-up land per cell, on the same grid. With a
        water share, densities are per km² of permanent land (as the manual asks) and the water
        class (10) is assigned; with a built-up share, cells at least ``built_threshold`` built
        up count as dense.
    **rules
        Any keyword of :func:`smod_codes` (``centre_density``, ``centre_population``,
        ``max_hole_km2``, ``majority_neighbours``, ...); the defaults are the official values.

    Returns
    -------
    DataArray
        uint8 codes of :data:`SMOD_CLASSES` (0 = nodata, a block without any population
        data), named ``degurba``; ``attrs["block_cells"]`` is the block size in cells.

    Notes
    -----
    The rules need the whole region at once (connected components of the aggregated cells), so
    the stage runs on the reduced data: the 1 km block sums (a hundredth of the cells of a
    100 m grid). In a chunked run (``[compute] chunks``) the population arrives dask-backed and
    is gathered for the block sums; the codes it returns are cut into the run's chunks again
    by the stages that read them.

    Examples
    --------
    A 3 km x 3 km area on a 100 m population grid, summed to the default aggregation cells
    (``FRINGE.cell_m``, 10 x 10 cells here). The middle block of 60,000 people is an urban
    centre (30); the blocks of 400 inh/km² touching it make an urban cluster with it, so they
    are suburban or peri-urban (21); 60 inh/km² is low-density rural (12) and 10 inh/km²
    very-low-density rural (11):

    >>> import numpy as np
    >>> from affine import Affine
    >>> grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 3000), (30, 30))
    >>> per_km2 = np.array([[400, 400, 60], [400, 60_000, 60], [10, 10, 10]])
    >>> population = grid.wrap(np.kron(per_km2, np.ones((10, 10))) / 100, "population")  # people per cell
    >>> smod = degurba(population)
    >>> smod.attrs["block_cells"], smod.values[::10, ::10].tolist()
    (10, [[21, 21, 12], [21, 30, 12], [11, 11, 11]])
    """
    grid = Grid.from_dataarray(population)
    cell_m = check_positive(cell_m, "cell_m")
    unknown = set(rules) - set(DEGURBA_RULES)
    if unknown:
        msg = f"degurba got unknown rule(s) {sorted(unknown)}; expected some of {sorted(DEGURBA_RULES)}"
        raise InputError(msg)
    factor = max(1, round(cell_m / grid.resolution))
    people, n_valid = _block_people(population.values, factor)
    valid = n_valid > 0
    # Blocks cut by the grid edge hold fewer cells; their density uses the area they cover.
    area_km2 = _block_count(grid.shape, factor) * grid.resolution**2 / 1e6
    water = _block_mean(water_share.values, factor) if water_share is not None else None
    built = _block_mean(built_share.values, factor) if built_share is not None else None

    codes = smod_codes(
        people / area_km2,
        area_km2=area_km2,
        cell_km=factor * grid.resolution / 1000.0,
        water_share=water,
        built_share=built,
        **rules,
    )
    codes[~valid] = 0
    fine = _expand(codes, factor, grid.shape)
    attrs = {
        "long_name": "Degree of Urbanisation (GHS-SMOD level 2)",
        "block_cells": factor,
        "cell_km": factor * grid.resolution / 1000.0,
        "classes": "; ".join(f"{k} {v}" for k, v in SMOD_CLASSES.items()),
        "rules": repr({**DEGURBA_RULES, **rules}),
    }
    return grid.wrap(fine, "degurba", attrs=attrs)


def smod_codes(
    density: np.ndarray,
    *,
    area_km2: float | np.ndarray,
    cell_km: float = 1.0,
    water_share: np.ndarray | None = None,
    built_share: np.ndarray | None = None,
    centre_density: float = 1500.0,
    centre_population: float = 50_000.0,
    max_hole_km2: float = 15.0,
    majority_neighbours: int = 5,
    built_threshold: float = 0.5,
    dense_cluster_population: float = 5_000.0,
    cluster_density: float = 300.0,
    cluster_population: float = 5_000.0,
    semi_dense_density: float = 300.0,
    semi_dense_population: float = 5_000.0,
    semi_dense_contiguity: int = 8,
    semi_dense_distance_km: float = 3.0,
    rural_cluster_population: float = 500.0,
    low_density: float = 50.0,
    water_threshold: float = 0.5,
    water_population: float = 0.0,
) -> np.ndarray:
    """GHS-SMOD level-2 codes from a density grid of aggregation cells.

    The core of :func:`degurba`, on plain arrays, for hand-checked tests.

    Parameters
    ----------
    density : ndarray
        People per km² of the whole cell (NaN counts as 0).
    area_km2 : float or ndarray
        Area of each aggregation cell (km²; an array where edge cells are smaller).
    cell_km : float
        Side of an aggregation cell (km), for the semi-dense distance and the hole size.
    water_share, built_share : ndarray, optional
        Share (0..1) of permanent water and of built-up land per cell.
    centre_density, centre_population : float
        Urban centre: 4-connected cells of at least ``centre_density`` inhabitants per km² of
        permanent land (or at least ``built_threshold`` built up) with together at least
        ``centre_population`` people (official: 1,500 and 50,000).
    max_hole_km2 : float
        Holes (background enclosed by a centre, 4-connected) smaller than this are filled
        (official: 15 km²).
    majority_neighbours : int
        Edge smoothing: a cell with at least this many of its 8 neighbours in a centre joins
        it, repeated until no cell changes (official: 5).
    built_threshold : float
        Built-up share that makes a cell dense (official: 0.5; used only with ``built_share``).
    dense_cluster_population : float
        Dense urban cluster: 4-connected dense cells outside centres with at least this many
        people (official: 5,000).
    cluster_density, cluster_population : float
        Urban cluster: 8-connected cells of at least ``cluster_density`` inh/km² with at least
        ``cluster_population`` people (official: 300 and 5,000).
    semi_dense_density, semi_dense_population, semi_dense_contiguity, semi_dense_distance_km
        Semi-dense urban cluster: clusters (``semi_dense_contiguity`` 4 or 8) of cells outside
        centres and dense clusters of at least ``semi_dense_density`` inh/km² with at least
        ``semi_dense_population`` people, at least ``semi_dense_distance_km`` from the edge of
        every centre and dense cluster (manual 2021: 300, 5,000, 8, 3 km; GHSL 2023 uses 900,
        2,500, 4, 2 km). The other urban-cluster cells are suburban or peri-urban (21).
    rural_cluster_population : float
        Rural cluster: 8-connected cells of at least ``cluster_density`` outside urban clusters
        with at least this many people (official: 500).
    low_density : float
        Low-density rural: at least this many inh/km² of permanent land (official: 50).
    water_threshold, water_population : float
        Water: very-low-density cells whose water share exceeds ``water_threshold`` (less than
        half permanent land) with at most ``water_population`` people and no built-up land
        (official: 0.5 and 0 people).

    Returns
    -------
    ndarray
        uint8 codes of :data:`SMOD_CLASSES`.

    Examples
    --------
    Nine 1 km² cells: a city core of 60,000 people, two suburban cells of 400 inh/km² beside
    it, a cell of open water and an isolated village of 700 people (a rural cluster, 13):

    >>> import numpy as np
    >>> density = np.array([[60_000, 400, 0], [400, 0, 0], [0, 0, 700]])
    >>> water = np.array([[0, 0, 1.0], [0, 0, 0], [0, 0, 0]])
    >>> smod_codes(density, area_km2=1.0, water_share=water).tolist()
    [[30, 21, 10], [21, 11, 11], [11, 11, 13]]

    Under a stricter rule the core is too small for an urban centre and becomes a dense urban
    cluster (23):

    >>> smod_codes(density, area_km2=1.0, centre_population=100_000)[0].tolist()
    [23, 21, 11]
    """
    for name, value in [
        ("centre_density", centre_density),
        ("cluster_density", cluster_density),
        ("semi_dense_density", semi_dense_density),
        ("cell_km", cell_km),
    ]:
        check_positive(value, name)
    if cluster_density > centre_density:
        msg = f"cluster_density {cluster_density} must not exceed centre_density {centre_density}"
        raise InputError(msg)
    if not 1 <= majority_neighbours <= 8:
        msg = f"majority_neighbours must be 1..8 (of the 8 neighbours), got {majority_neighbours}"
        raise InputError(msg)
    if semi_dense_contiguity not in _CONTIGUITY:
        msg = f"semi_dense_contiguity must be 4 or 8, got {semi_dense_contiguity}"
        raise InputError(msg)
    density = np.nan_to_num(np.asarray(density, dtype=float), nan=0.0)
    people = density * area_km2
    # Densities are per km² of permanent land; a cell with no land keeps its plain density.
    land = 1.0 - np.clip(np.nan_to_num(water_share), 0.0, 1.0) if water_share is not None else None
    per_land = np.where(land > 0, density / np.where(land > 0, land, 1.0), density) if land is not None else density
    built = np.nan_to_num(built_share) if built_share is not None else np.zeros(density.shape)
    water = (
        (1.0 - land > water_threshold) & (people <= water_population + 0.5) & (built <= 0)
        if land is not None
        else np.zeros(density.shape, dtype=bool)
    )

    # Stage I: urban centres, with gaps filled and edges smoothed.
    dense = (per_land >= centre_density) | (built >= built_threshold)
    centre = _keep_clusters(dense, people, centre_population, _ROOK)
    hole_cells = max_hole_km2 / (cell_km * cell_km)
    centre = _fill_holes(centre, hole_cells)
    centre = _majority_smooth(centre, needed=majority_neighbours, addable=~water)
    # Smoothing can close a bay into a hole; the manual fills gaps of the final shape.
    centre = _fill_holes(centre, hole_cells)

    # Stage II: dense and semi-dense urban clusters, suburbs, rural classes.
    dense_cluster = _keep_clusters(dense & ~centre, people, dense_cluster_population, _ROOK)
    core = centre | dense_cluster
    moderate = per_land >= cluster_density
    urban_cluster = _keep_clusters(moderate | core, people, cluster_population, _QUEEN)
    semi = _keep_clusters(
        (per_land >= semi_dense_density) & ~core,
        people,
        semi_dense_population,
        _CONTIGUITY[semi_dense_contiguity],
    )
    if semi.any() and core.any():
        # Edge-to-edge distance: centre-to-centre distance less one cell.
        gap_km = ndimage.distance_transform_edt(~core) * cell_km - cell_km
        labels, n = ndimage.label(semi, structure=_CONTIGUITY[semi_dense_contiguity])
        nearest = np.full(n + 1, np.inf)
        np.minimum.at(nearest, labels[semi], gap_km[semi])
        far = nearest >= semi_dense_distance_km - 1e-9
        far[0] = False
        semi = far[labels]
    suburban = urban_cluster & ~core & ~semi
    rural_cluster = _keep_clusters(moderate & ~urban_cluster & ~semi, people, rural_cluster_population, _QUEEN)

    codes = np.full(density.shape, 11, dtype=np.uint8)
    codes[per_land >= low_density] = 12
    codes[water & (codes == 11)] = 10
    codes[rural_cluster] = 13
    codes[suburban] = 21
    codes[semi] = 22
    codes[dense_cluster] = 23
    codes[centre] = 30
    return codes


#: The official values of every Degree of Urbanisation rule (keywords of :func:`smod_codes`).
DEGURBA_RULES: dict[str, Any] = {
    k: v for k, v in (smod_codes.__kwdefaults__ or {}).items() if k not in ("cell_km", "water_share", "built_share")
}


def classes(
    smod: xr.DataArray,
    *,
    band_km: float = FRINGE.band_km,
    band_minutes: float | None = FRINGE.band_minutes,
    network: Any = None,
    offroad_kph: float = ROADS.offroad_kph,
) -> xr.DataArray:
    """Fringe classes from GHS-SMOD codes: 3 urban, 2 peri-urban fringe, 1 rural, 0 nodata.

    Urban is the urban centres (30). The fringe is the suburban / peri-urban cells and the
    semi-dense and dense urban clusters (21-23), plus rural cells within a band beyond an
    urban centre's edge. Everything else with data is rural.

    Parameters
    ----------
    smod : DataArray
        GHS-SMOD level-2 codes (from :func:`degurba`).
    band_km : float
        Width of the band (km, straight line) when no travel-time band is asked for.
    band_minutes : float, optional
        Width of the band in travel minutes from the urban centres over ``network``; replaces
        ``band_km``.
    network : roads.CompiledNetwork or networkx.MultiDiGraph, optional
        The road network for ``band_minutes`` (in the grid's CRS).
    offroad_kph : float
        Speed off the network (km/h) for the travel-time band.

    Examples
    --------
    On 100 m cells with an urban centre in the corner and a 100 m band: the suburban cell (21)
    is fringe, so is the rural cell beside the centre; the diagonal cell, 141 m away, stays
    rural and the nodata cell stays 0:

    >>> import numpy as np
    >>> from affine import Affine
    >>> grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 300), (3, 3))
    >>> smod = grid.wrap(np.array([[30, 21, 11], [11, 12, 11], [13, 11, 0]], dtype=np.uint8), "degurba")
    >>> classes(smod, band_km=0.1).values.tolist()
    [[3, 2, 1], [2, 1, 1], [1, 1, 0]]
    """
    grid = Grid.from_dataarray(smod)
    codes = np.asarray(smod.values)
    out = np.where(codes > 0, 1, 0).astype(np.uint8)
    out[(codes >= 21) & (codes <= 23)] = 2
    centre = codes == 30
    attrs: dict[str, Any] = {
        "long_name": "urban-rural fringe",
        "classes": "; ".join(f"{k} {v}" for k, v in FRINGE_CLASSES.items()),
    }
    if band_minutes is not None:
        band_minutes = check_positive(band_minutes, "band_minutes")
        if network is None:
            msg = "band_minutes needs a road network (inputs.roads); give band_km without one"
            raise InputError(msg)
        attrs["band_minutes"] = band_minutes
        if centre.any():
            out[(out == 1) & _within_minutes(centre, grid, network, band_minutes, offroad_kph)] = 2
    else:
        band_km = check_positive(band_km, "band_km", allow_zero=True)
        attrs["band_km"] = band_km
        if centre.any() and band_km > 0:
            dist_km = ndimage.distance_transform_edt(~centre) * grid.resolution / 1000.0
            out[(out == 1) & (dist_km <= band_km)] = 2
    out[centre] = 3
    return grid.wrap(out, "fringe", attrs=attrs)


def _within_minutes(centre: np.ndarray, grid: Grid, network: Any, minutes: float, offroad_kph: float) -> np.ndarray:
    """Cells within ``minutes`` of an urban centre over the road network."""
    import geopandas as gpd
    import rasterio.features
    from shapely.geometry import shape

    from eicgeo.roads import travel_time_surface

    mask = centre.astype(np.uint8)
    polygons = [shape(g) for g, v in rasterio.features.shapes(mask, mask=centre, transform=grid.transform) if v]
    sources = gpd.GeoSeries(polygons, crs=grid.crs)
    surface = travel_time_surface(network, sources, grid, max_minutes=minutes, offroad_kph=offroad_kph)
    return np.isfinite(np.asarray(surface.values))


#: Roles that count as urban green (gardens, parks, street trees) next to built-up land.
URBAN_GREEN_ROLES: tuple[str, ...] = ("grass_shrub", "forest")


def from_landcover(
    landcover: xr.DataArray,
    legend: str | Legend,
    *,
    radius_m: float | None = FRINGE.radius_m,
    urban_share: float = FRINGE.urban_share,
    fringe_share: float = FRINGE.fringe_share,
    green_m: float = FRINGE.green_m,
    min_core_km2: float | None = FRINGE.min_core_km2,
    breakpoint: bool = FRINGE.breakpoint,
    source_resolution_m: float | None = None,
    ring_m: float = 250.0,
    max_band_m: float = 5000.0,
) -> xr.DataArray:
    """Fringe classes from the built-up share of land cover around each cell.

    Calibrated on real land cover of five products (ESA WorldCover 10 m, NLCD 30 m, CORINE
    100 m and 250 m, ESA CCI 300 m, MODIS 500 m; ``docs/fringe.md``):

    1. A built-up cell counts 1. On a map fine enough to resolve gardens and parks (cells of at
       most ``green_m / 3``), a grass, shrub or tree cell counts as much as the share of
       built-up cells within ``green_m`` of it, so a district with gardens and street trees
       stays urban; coarser maps already spread their built-up class over whole blocks.
    2. The share is the mean of that estimate over the cells with data within ``radius_m``:
       by default 1 km on fine maps, 1.5 km on coarser ones (where a village is one solid block
       of urban fabric and would otherwise reach the fringe share).
    3. Urban (3): a share of at least ``urban_share``, in 8-connected cores of at least
       ``min_core_km2`` (by default one disc, π r²); the cells of smaller cores are fringe.
    4. Fringe (2): a share of at least ``fringe_share``; rural (1): the rest with data; nodata
       (0) where the land cover has none.

    "Fine" is judged on the product's own cells (``source_resolution_m``, by default the
    layer's ``attrs["source_resolution_m"]`` that :func:`eicgeo.io.read_raster` records, else
    the grid's), since the analysis grid may be coarser than the map.

    With ``breakpoint=True`` the fringe is found from the urban–rural gradient instead of
    ``fringe_share``: around each urban core (8-connected urban cells) the built-up share of
    the cells is averaged in rings of ``ring_m`` beyond the core edge, up to ``max_band_m``;
    the breakpoint is the distance at which that share falls fastest (the largest drop from
    one ring to the next). The cells between a core's edge and its breakpoint are fringe.
    ``attrs["breakpoints_m"]`` lists the breakpoint of each core.

    Parameters
    ----------
    landcover : DataArray
        Land-cover class codes.
    legend : str or Legend
        ``"esa_worldcover"``, ``"corine"`` or a :class:`Legend`.
    radius_m : float, optional
        Radius of the moving disc (metres); None for the default by map resolution.
    urban_share, fringe_share : float
        Built-up shares (0..1) of urban and of fringe cells.
    green_m : float
        Urban green reach (metres); 0 counts built-up cells only.
    min_core_km2 : float, optional
        Smallest urban core; None for the disc's area, 0 for no minimum.
    breakpoint : bool
        Find the fringe's outer edge from the gradient around each urban core.
    source_resolution_m : float, optional
        Cell size of the land-cover product (metres).
    ring_m, max_band_m : float
        Ring width and farthest distance (metres) of the gradient.

    Examples
    --------
    ESA WorldCover on 100 m cells: a built-up block (50) in cropland (40), one nodata cell (0),
    a disc of 100 m (the cell and its four neighbours) and no minimum core. With the default
    shares (``FRINGE.urban_share`` and ``FRINGE.fringe_share``) the block is urban, the cells
    sharing an edge with it are fringe and the rest is rural:

    >>> import numpy as np
    >>> from affine import Affine
    >>> grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 500), (5, 5))
    >>> lc = np.full((5, 5), 40, dtype=np.uint8)
    >>> lc[:3, :3] = 50
    >>> lc[2, 2], lc[4, 4] = 40, 0
    >>> layer = grid.wrap(lc, "landcover")
    >>> from_landcover(layer, "esa_worldcover", radius_m=100, min_core_km2=0).values.tolist()
    [[3, 3, 3, 2, 1], [3, 3, 3, 2, 1], [3, 3, 2, 1, 1], [2, 2, 1, 1, 1], [1, 1, 1, 1, 0]]

    With the default minimum core (one disc, 0.03 km² here) the 0.08 km² block stays urban;
    asking for 0.1 km² makes it a small town's core, fringe:

    >>> from_landcover(layer, "esa_worldcover", radius_m=100, min_core_km2=0.1).values[0].tolist()
    [2, 2, 2, 2, 1]
    """
    legend = get_legend(legend)
    if not 0 < fringe_share < urban_share <= 1:
        msg = f"from_landcover needs 0 < fringe_share < urban_share <= 1, got {fringe_share}, {urban_share}"
        raise InputError(msg)
    grid = Grid.from_dataarray(landcover)
    roles = legend.role_codes(np.asarray(landcover.values))
    source_m = source_resolution_m or landcover.attrs.get("source_resolution_m") or grid.resolution
    fine = green_m > 0 and float(source_m) <= green_m / 3
    radius_m = check_positive(radius_m, "radius_m") if radius_m is not None else (1000.0 if fine else 1500.0)
    valid = roles != ROLE_CODE["nodata"]
    share = built_share(roles, grid, radius_m=radius_m, green_m=green_m if fine else 0.0)
    attrs: dict[str, Any] = {
        "long_name": "urban-rural fringe (land-cover gradient)",
        "radius_m": radius_m,
        "urban_green": f"within {green_m:g} m" if fine else "not counted (a map coarser than green_m / 3)",
        "classes": "; ".join(f"{k} {v}" for k, v in FRINGE_CLASSES.items()),
    }
    urban = (share >= urban_share) & valid
    core_km2 = np.pi * (radius_m / 1000.0) ** 2 if min_core_km2 is None else float(min_core_km2)
    if core_km2 > 0 and urban.any():
        cores, n = ndimage.label(urban, structure=_QUEEN)
        area_km2 = np.bincount(cores.ravel(), minlength=n + 1) * grid.cell_area_m2 / 1e6
        big = area_km2 >= core_km2
        big[0] = False
        urban = big[cores]
    attrs["min_core_km2"] = round(core_km2, 3)
    if breakpoint:
        ring_m = max(check_positive(ring_m, "ring_m"), grid.resolution)
        max_band_m = check_positive(max_band_m, "max_band_m")
        band, breakpoints = _gradient_band(roles == ROLE_CODE["built_up"], valid, urban, grid, ring_m, max_band_m)
        out = np.where(urban, 3, np.where(band, 2, 1)).astype(np.uint8)
        attrs.update(
            method="breakpoint of the built-up gradient",
            ring_m=ring_m,
            breakpoints_m=", ".join(f"{b:g}" for b in breakpoints),
        )
    else:
        out = np.where(urban, 3, np.where(share >= fringe_share, 2, 1)).astype(np.uint8)
        attrs.update(urban_share=urban_share, fringe_share=fringe_share)
    out[~valid] = 0
    return grid.wrap(out, "fringe", attrs=attrs)


def built_estimate(roles: np.ndarray, grid: Grid, *, green_m: float = FRINGE.green_m) -> np.ndarray:
    """Built-up land per cell (0..1): 1 for built-up cells, and with ``green_m`` > 0, for
    grass, shrub and tree cells (:data:`URBAN_GREEN_ROLES`) the share of built-up cells within
    ``green_m`` of them (gardens between houses count almost fully, a field outside town not
    at all).

    Examples
    --------
    A garden cell between built-up cells, on 10 m cells: its 10 m disc holds itself and four
    built-up neighbours.

    >>> import numpy as np
    >>> from affine import Affine
    >>> from eicgeo.legends import ROLE_CODE
    >>> grid = Grid("EPSG:32647", Affine(10, 0, 0, 0, -10, 30), (3, 3))
    >>> roles = np.full((3, 3), ROLE_CODE["built_up"])
    >>> roles[1, 1] = ROLE_CODE["grass_shrub"]
    >>> float(built_estimate(roles, grid, green_m=10)[1, 1])
    0.8
    """
    valid = roles != ROLE_CODE["nodata"]
    built = (roles == ROLE_CODE["built_up"]).astype(float)
    if green_m > 0:
        near = _disc_mean(built, valid, grid, green_m)
        green = np.isin(roles, [ROLE_CODE[r] for r in URBAN_GREEN_ROLES])
        built = np.where(green, near, built)
    return built


def _disc_mean(values: np.ndarray, valid: np.ndarray, grid: Grid, radius_m: float) -> np.ndarray:
    """Mean of ``values`` over the cells with data within ``radius_m`` (a disc), 0 where none."""
    r = max(1, round(radius_m / grid.resolution))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disc = ((xx**2 + yy**2) <= r * r).astype(float)
    num = fftconvolve(np.where(valid, values, 0.0), disc, mode="same")
    den = fftconvolve(valid.astype(float), disc, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(den > 0.5, num / np.maximum(den, 1e-9), 0.0)
    return np.clip(share, 0.0, 1.0)


def _gradient_band(
    built: np.ndarray, valid: np.ndarray, urban: np.ndarray, grid: Grid, ring_m: float, max_m: float
) -> tuple[np.ndarray, list[float]]:
    """Cells between each urban core's edge and its gradient breakpoint, and the breakpoints."""
    cores, n = ndimage.label(urban, structure=_QUEEN)
    if n == 0:
        return np.zeros(built.shape, dtype=bool), []
    dist, (ii, jj) = ndimage.distance_transform_edt(~urban, return_indices=True)
    dist_m = dist * grid.resolution
    nearest = cores[ii, jj]  # the core each cell is closest to
    n_rings = int(np.ceil(max_m / ring_m))
    ring = np.ceil(dist_m / ring_m).astype(np.int64) - 1  # ring 0 is (0, ring_m]
    use = valid & ~urban & (ring < n_rings)
    index = (nearest[use] - 1) * n_rings + ring[use]
    cells = np.bincount(index, minlength=n * n_rings).reshape(n, n_rings)
    built_cells = np.bincount(index, weights=built[use], minlength=n * n_rings).reshape(n, n_rings)
    with np.errstate(invalid="ignore", divide="ignore"):
        profile = built_cells / cells  # NaN for rings without cells
    drop = profile[:, :-1] - profile[:, 1:]
    drop = np.where(np.isfinite(drop), drop, -np.inf)
    steepest = np.argmax(drop, axis=1)
    # No fall at all (a flat or rising profile) leaves the core without a fringe.
    breakpoints = np.where(drop[np.arange(n), steepest] > 0, (steepest + 1) * ring_m, 0.0)
    reach = np.zeros(n + 1)
    reach[1:] = breakpoints
    band = ~urban & (dist_m <= reach[nearest])
    return band, [float(b) for b in breakpoints]


def green_space(
    landcover: xr.DataArray,
    legend: str | Legend,
    *,
    fringe: xr.DataArray | None = None,
    distance_m: float = FRINGE.green_distance_m,
) -> xr.DataArray:
    """Residual green space: forest, grass/shrub and wetland next to the built-up edge.

    A cell is residual green space (1) when its land-cover role is one of :data:`GREEN_ROLES`
    and it lies within ``distance_m`` (straight line, cell centre to cell centre) of built-up
    land. With ``fringe``, only the built-up land of urban and fringe cells (classes 3 and 2)
    counts, so a lone farmstead in rural land does not make its woods residual green space.
    Large forests count only along the strip facing the built-up edge: that strip is what
    urban growth would take first.

    Parameters
    ----------
    landcover : DataArray
        Land-cover class codes.
    legend : str or Legend
        The land-cover legend.
    fringe : DataArray, optional
        Fringe classes on the same grid (:func:`classes` or :func:`from_landcover`).
    distance_m : float
        How far from the built-up edge (metres) green land counts.

    Returns
    -------
    DataArray
        uint8, 1 residual green space, 0 otherwise; named ``green_space``.

    Examples
    --------
    A built-up cell (50) in the corner of woods (10) on 100 m cells: within 100 m only the
    forest cell beside it is residual green space (the diagonal one is 141 m away, the
    cropland cell (40) is not green space, nor is the water (80)):

    >>> import numpy as np
    >>> from affine import Affine
    >>> grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 300), (3, 3))
    >>> lc = grid.wrap(np.array([[50, 10, 10], [40, 10, 10], [10, 10, 80]], dtype=np.uint8), "landcover")
    >>> green_space(lc, "esa_worldcover", distance_m=100).values.tolist()
    [[0, 1, 0], [0, 0, 0], [0, 0, 0]]

    If that building is a lone farmstead in rural land, the woods are not residual green space:

    >>> rural = grid.wrap(np.ones((3, 3), dtype=np.uint8), "fringe")
    >>> int(green_space(lc, "esa_worldcover", fringe=rural, distance_m=100).sum())
    0
    """
    legend = get_legend(legend)
    distance_m = check_positive(distance_m, "distance_m", allow_zero=True)
    grid = Grid.from_dataarray(landcover)
    roles = legend.role_codes(np.asarray(landcover.values))
    built = roles == ROLE_CODE["built_up"]
    if fringe is not None:
        grid.check(fringe, "fringe")
        built &= np.isin(np.asarray(fringe.values), (2, 3))
    green = np.isin(roles, [ROLE_CODE[r] for r in GREEN_ROLES])
    if built.any():
        near = ndimage.distance_transform_edt(~built) * grid.resolution <= distance_m
    else:
        near = np.zeros(roles.shape, dtype=bool)
    out = (green & near).astype(np.uint8)
    attrs = {
        "long_name": "residual green space next to the built-up edge",
        "roles": ", ".join(GREEN_ROLES),
        "distance_m": distance_m,
        "classes": "0 other; 1 residual green space",
    }
    return grid.wrap(out, "green_space", attrs=attrs)


def built_share(roles: np.ndarray, grid: Grid, *, radius_m: float, green_m: float = 0.0) -> np.ndarray:
    """Share of built-up land among the cells with data within ``radius_m`` (a disc); with
    ``green_m`` > 0, urban green counts by :func:`built_estimate`.

    ``roles`` are the land-cover role codes (:data:`eicgeo.legends.ROLE_CODE`, e.g. from
    :meth:`Legend.role_codes`); cells of role ``nodata`` are left out of the share.

    Examples
    --------
    One built-up cell among cropland on 100 m cells; a 100 m disc is a cell and its four
    neighbours, of which the grid's edge cuts off some:

    >>> import numpy as np
    >>> from affine import Affine
    >>> from eicgeo.legends import ROLE_CODE
    >>> grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 300), (3, 3))
    >>> roles = np.full((3, 3), ROLE_CODE["cropland"])
    >>> roles[0, 0] = ROLE_CODE["built_up"]
    >>> built_share(roles, grid, radius_m=100).round(3).tolist()
    [[0.333, 0.25, 0.0], [0.25, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    radius_m = check_positive(radius_m, "radius_m")
    valid = roles != ROLE_CODE["nodata"]
    return _disc_mean(built_estimate(roles, grid, green_m=green_m), valid, grid, radius_m)


def _block_people(values: Any, f: int) -> tuple[np.ndarray, np.ndarray]:
    """People and cells with data in each ``f`` x ``f`` block (NaN = nodata), strip by strip.

    A plain reshape-sum of each strip of blocks is summed in float64 without copying the grid;
    only the few blocks that hold a NaN are summed again without it. Strips keep the
    temporaries small on a 10^8-cell grid.
    """
    a = np.asarray(values)
    h, w = a.shape
    bh, bw = -(-h // f), -(-w // f)
    people = np.empty((bh, bw))
    count = np.empty((bh, bw))
    step = _STRIP_BLOCKS * f
    for top in range(0, h, step):
        strip = a[top : top + step]
        rows = slice(top // f, top // f + -(-strip.shape[0] // f))
        total = _block_sum(strip, f)
        finite = np.isfinite(strip)
        count[rows] = _block_sum(finite, f)
        gaps = ~np.isfinite(total)
        if gaps.any():
            total[gaps] = _block_sum(np.where(finite, strip, 0.0), f)[gaps]
        people[rows] = total
    return people, count


def _block_count(shape: tuple[int, int], f: int) -> np.ndarray:
    """Cells of the grid in each block (fewer in blocks cut by the grid edge)."""
    h, w = shape
    rows = np.minimum(f, h - np.arange(0, h, f))
    cols = np.minimum(f, w - np.arange(0, w, f))
    return np.outer(rows, cols).astype(np.float64)


def _block_sum(a: np.ndarray, f: int) -> np.ndarray:
    if f == 1:
        return a.astype(np.float64)
    h, w = a.shape
    ph, pw = -h % f, -w % f
    padded = np.pad(a, ((0, ph), (0, pw))) if ph or pw else a
    return padded.reshape((h + ph) // f, f, (w + pw) // f, f).sum(axis=(1, 3), dtype=np.float64)


def _block_mean(values: Any, f: int) -> np.ndarray:
    total, count = _block_people(values, f)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _expand(codes: np.ndarray, f: int, shape: tuple[int, int]) -> np.ndarray:
    """Each block's code on every cell of the block."""
    if f == 1:
        return codes.astype(np.uint8)
    fine = np.repeat(np.repeat(codes.astype(np.uint8), f, axis=0), f, axis=1)
    return fine[: shape[0], : shape[1]]


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
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    small = sizes < max_cells - 1e-9
    small[0] = False
    return mask | small[labels]


def _majority_smooth(
    mask: np.ndarray, *, needed: int = 5, addable: np.ndarray | None = None, max_iter: int = 1000
) -> np.ndarray:
    """Add cells with at least ``needed`` of their 8 neighbours in ``mask``, until stable."""
    kernel = np.ones((3, 3), dtype=np.int16)
    kernel[1, 1] = 0
    for _ in range(max_iter):
        neighbours = ndimage.convolve(mask.astype(np.int16), kernel, mode="constant")
        grown = mask | (neighbours >= needed)
        if addable is not None:
            grown &= addable | mask
        if np.array_equal(grown, mask):
            break
        mask = grown
    return mask
