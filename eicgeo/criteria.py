"""Criterion layers. Each function takes inputs on a Grid and returns one named DataArray of
raw values (minutes, role codes); :data:`DEFAULTS` says how each is standardised to 0..1
unless the scenario says otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import rasterio.features
import xarray as xr
from shapely.geometry import shape

from eicgeo._errors import InputError
from eicgeo.grid import Grid
from eicgeo.legends import Legend, get_legend
from eicgeo.roads import MAJOR_ROADS, CompiledNetwork, travel_time_surface

__all__ = [
    "DEFAULTS",
    "equal_access",
    "labour_access",
    "landcover",
    "market_access",
    "material_access",
    "road_access",
    "urban_centres",
]

#: Default standardisation (function, parameters) of each criterion's raw values.
DEFAULTS: dict[str, tuple[str, dict]] = {
    "road_access": ("linear", {"low": 0, "high": 30, "increasing": False}),
    "market_access": ("linear", {"low": 0, "high": 60, "increasing": False}),
    "material_access": ("linear", {"low": 0, "high": 60, "increasing": False}),
    # A commute of 45 minutes each way is about the most factory workers accept.
    "labour_access": ("linear", {"low": 0, "high": 45, "increasing": False}),
}


def landcover(layer: xr.DataArray, legend: str | Legend) -> xr.DataArray:
    """Land-cover role codes (see :data:`eicgeo.legends.ROLES`), named ``landcover``.

    Standardised by ``categorical`` scores per role (scenario ``[criteria.landcover].scores``).
    """
    legend = get_legend(legend)
    grid = Grid.from_dataarray(layer)
    roles = legend.role_codes(np.asarray(layer.values))
    return grid.wrap(roles, "landcover", attrs={"units": "land-cover role code", "legend": legend.name})


def road_access(
    network: CompiledNetwork, grid: Grid, *, classes: Sequence[str] = MAJOR_ROADS, offroad_kph: float = 10.0
) -> xr.DataArray:
    """Minutes from each cell to the road network and along it to the nearest main road."""
    return travel_time_surface(network, list(classes), grid, offroad_kph=offroad_kph, name="road_access")


def market_access(
    network: CompiledNetwork, grid: Grid, centres: gpd.GeoDataFrame | xr.DataArray, *, offroad_kph: float = 10.0
) -> xr.DataArray:
    """Minutes from each cell to the nearest urban centre (0 inside one).

    ``centres`` are polygons or a boolean layer of urban-centre cells.
    """
    return travel_time_surface(network, centres, grid, offroad_kph=offroad_kph, name="market_access")


def labour_access(
    network: CompiledNetwork, grid: Grid, settlements: xr.DataArray | gpd.GeoDataFrame, *, offroad_kph: float = 10.0
) -> xr.DataArray:
    """Minutes of the commute from the nearest settlement, where labour lives, to each cell.

    ``settlements`` is a boolean layer of the cells people live in (the pipeline uses the
    Degree of Urbanisation's villages, towns and city: GHS-SMOD codes 13, 22, 23 and 30) or
    their polygons; 0 inside one. Travel is from the settlement to the cell, as workers go.
    """
    return travel_time_surface(
        network, settlements, grid, offroad_kph=offroad_kph, direction="from", name="labour_access"
    )


def material_access(
    network: CompiledNetwork, grid: Grid, sources: gpd.GeoDataFrame, material: str, *, offroad_kph: float = 10.0
) -> xr.DataArray:
    """Minutes for a delivery from the nearest source of ``material`` to each cell."""
    chosen = sources[sources["material"] == material]
    if chosen.empty:
        msg = f"sources have no feature of material {material!r}"
        raise InputError(msg)
    return travel_time_surface(
        network, chosen, grid, offroad_kph=offroad_kph, direction="from", name=f"material_access:{material}"
    )


def equal_access(
    market_minutes: xr.DataArray, material_minutes: xr.DataArray, *, horizon: float = 60.0
) -> xr.DataArray:
    """The seed's "equal access to raw materials as well as to urban markets", 0..1.

    ``(1 - max(tm, tr) / horizon) * (1 - |tm - tr| / (tm + tr + 1))``, clipped to 0..1: high
    where the market (``tm``) and the materials (``tr``, minutes) are both near and about
    equally near.
    """
    tm, tr = market_minutes.astype(np.float64), material_minutes.astype(np.float64)
    near = (1.0 - np.maximum(tm, tr) / horizon).clip(0.0, 1.0)
    similar = 1.0 - abs(tm - tr) / (tm + tr + 1.0)
    out = (near * similar).astype(np.float32)
    out.name = "equal_access"
    out.attrs = {
        "units": "0..1",
        "horizon_minutes": horizon,
        "standardisation": "built in (0..1)",
        "parameters": f"(1 - max(tm, tr) / {horizon:g}) * (1 - |tm - tr| / (tm + tr + 1))",
    }
    return Grid.from_dataarray(market_minutes).georef(out)


def urban_centres(mask: xr.DataArray) -> gpd.GeoDataFrame:
    """Polygons of the connected True cells of ``mask`` (for example GHS-SMOD code 30)."""
    grid = Grid.from_dataarray(mask)
    values = np.asarray(mask.values).astype(np.uint8)
    shapes = [
        shape(geom) for geom, v in rasterio.features.shapes(values, mask=values > 0, transform=grid.transform) if v
    ]
    return gpd.GeoDataFrame({"centre": np.arange(1, len(shapes) + 1)}, geometry=shapes, crs=grid.crs)
