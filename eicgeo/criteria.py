"""The criteria: one registry entry each, and the functions that make their layers.

A criterion is described once, in :data:`REGISTRY`: its name, what its raw values are, the
inputs it needs, its default standardisation to 0..1, and the function that builds its raw
layer from the run's :class:`Context`. :func:`build` makes every weighted criterion of a
scenario: raw layers, standardised layers and the weights of those that could be computed, with
the reason for each that could not. Adding a criterion is one :class:`CriterionSpec` entry and
one function.

The layer functions (:func:`road_access`, :func:`market_access`, ...) work on their own too:
inputs on a Grid in, one named DataArray of raw values (minutes, role codes) out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dask.array as da
import geopandas as gpd
import numpy as np
import rasterio.features
import xarray as xr
from shapely.geometry import shape

from eicgeo import compute, mcda, symbiosis
from eicgeo._errors import InputError
from eicgeo.fringe import built_share
from eicgeo.grid import Grid
from eicgeo.legends import ROLE_CODE, Legend, get_legend
from eicgeo.roads import MAJOR_ROADS, CompiledNetwork, straight_line_minutes, travel_time_surface
from eicgeo.settings import ROADS, SYMBIOSIS, Criterion, RoadSettings, SymbiosisSettings, percentile_of

__all__ = [
    "REGISTRY",
    "SETTLEMENT_CODES",
    "Built",
    "Context",
    "CriterionSpec",
    "Unavailable",
    "build",
    "centres",
    "equal_access",
    "labour_access",
    "landcover",
    "market_access",
    "material_access",
    "on_land",
    "registry_table",
    "road_access",
    "settlements",
    "standardisation",
    "urban_centres",
]


def landcover(layer: xr.DataArray, legend: str | Legend) -> xr.DataArray:
    """Land-cover role codes (see :data:`eicgeo.legends.ROLES`), named ``landcover``.

    Standardised by ``categorical`` scores per role (scenario ``[criteria.landcover].scores``).
    """
    legend = get_legend(legend)
    grid = Grid.from_dataarray(layer)
    roles = legend.role_codes(np.asarray(layer.values))
    return grid.wrap(roles, "landcover", attrs={"units": "land-cover role code", "legend": legend.name})


def road_access(
    network: CompiledNetwork,
    grid: Grid,
    *,
    classes: Sequence[str] = MAJOR_ROADS,
    offroad_kph: float = ROADS.offroad_kph,
) -> xr.DataArray:
    """Minutes from each cell to the road network and along it to the nearest main road."""
    return travel_time_surface(network, list(classes), grid, offroad_kph=offroad_kph, name="road_access")


def market_access(
    network: CompiledNetwork,
    grid: Grid,
    centres: gpd.GeoDataFrame | xr.DataArray,
    *,
    offroad_kph: float = ROADS.offroad_kph,
) -> xr.DataArray:
    """Minutes from each cell to the nearest urban centre (0 inside one).

    ``centres`` are polygons or a boolean layer of urban-centre cells.
    """
    return travel_time_surface(network, centres, grid, offroad_kph=offroad_kph, name="market_access")


def labour_access(
    network: CompiledNetwork,
    grid: Grid,
    settlements: xr.DataArray | gpd.GeoDataFrame,
    *,
    offroad_kph: float = ROADS.offroad_kph,
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
    network: CompiledNetwork,
    grid: Grid,
    sources: gpd.GeoDataFrame,
    material: str,
    *,
    offroad_kph: float = ROADS.offroad_kph,
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
    values = mcda._map_cells(_equal_access_kernel, [market_minutes, material_minutes], horizon=float(horizon))
    out = market_minutes.copy(deep=False, data=values)
    out.encoding = {}
    out.name = "equal_access"
    out.attrs = {
        "units": "0..1",
        "horizon_minutes": horizon,
        "standardisation": "built in (0..1)",
        "parameters": f"(1 - max(tm, tr) / {horizon:g}) * (1 - |tm - tr| / (tm + tr + 1))",
    }
    return Grid.from_dataarray(market_minutes).georef(out)


def _equal_access_kernel(tm: np.ndarray, tr: np.ndarray, *, horizon: float) -> np.ndarray:
    """:func:`equal_access` in float32, in place tile by tile (NaN where either time is NaN)."""
    out = np.empty(np.shape(tm), dtype=np.float32)
    near = mcda._tile_buffer(out.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        for rows in mcda._tiles(out.shape):
            a, b = np.asarray(tm[rows], dtype=np.float32), np.asarray(tr[rows], dtype=np.float32)
            o, m = out[rows], near[: rows.stop - rows.start]
            np.maximum(a, b, out=m)  # near = clip(1 - max / horizon, 0, 1)
            np.divide(m, np.float32(horizon), out=m)
            np.subtract(np.float32(1), m, out=m)
            np.clip(m, 0, 1, out=m)
            np.add(a, b, out=o)  # similar = 1 - |tm - tr| / (tm + tr + 1)
            o += np.float32(1)
            np.divide(np.abs(a - b), o, out=o)
            np.subtract(np.float32(1), o, out=o)
            np.multiply(o, m, out=o)
    return out


def urban_centres(mask: xr.DataArray) -> gpd.GeoDataFrame:
    """Polygons of the connected True cells of ``mask`` (for example GHS-SMOD code 30)."""
    grid = Grid.from_dataarray(mask)
    values = np.asarray(mask.values).astype(np.uint8)
    shapes = [
        shape(geom) for geom, v in rasterio.features.shapes(values, mask=values > 0, transform=grid.transform) if v
    ]
    return gpd.GeoDataFrame({"centre": np.arange(1, len(shapes) + 1)}, geometry=shapes, crs=grid.crs)


def centres(smod: xr.DataArray | None, fringe: xr.DataArray) -> xr.DataArray | None:
    """Boolean layer of urban-centre cells (GHS-SMOD 30, else 23, else urban land cover), or None."""
    for mask in ([smod == 30, smod == 23] if smod is not None else []) + [fringe == 3]:
        if bool(mask.any()):
            return mask.rename("urban_centres")
    return None


#: Without an urban centre the market is the region's densest built-up land: the built-up
#: cells whose built-up share within the fringe's disc is in this top share of the built-up cells.
DENSEST_SHARE = 0.05

#: The disc of :func:`densest_built_up` when the fringe stage names none (the Degree of
#: Urbanisation's 1 km cell).
DENSEST_DISC_M = 1000.0


def densest_built_up(roles: xr.DataArray, fringe: xr.DataArray, grid: Grid) -> xr.DataArray | None:
    """Boolean layer of the densest built-up land (:data:`DENSEST_SHARE`), or None without any
    built-up land. The disc is the fringe stage's ``radius_m`` (the Degree of Urbanisation's
    1 km cell where the fringe came from population).

    Examples
    --------
    A town of 3 x 3 built-up cells and a hamlet of one, on 100 m cells and a 100 m disc: the
    densest built-up cell is the town's middle one.

    >>> import numpy as np
    >>> from affine import Affine
    >>> grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 700), (7, 7))
    >>> roles = np.full((7, 7), ROLE_CODE["cropland"])
    >>> roles[1:4, 1:4] = roles[6, 6] = ROLE_CODE["built_up"]
    >>> fringe = grid.wrap(np.ones((7, 7), dtype=np.uint8), "fringe", attrs={"radius_m": 100})
    >>> densest = densest_built_up(grid.wrap(roles, "roles"), fringe, grid)
    >>> np.argwhere(densest.values).tolist()
    [[2, 2]]
    """
    built = np.asarray(roles.values) == ROLE_CODE["built_up"]
    if not built.any():
        return None
    radius_m = float(fringe.attrs.get("radius_m", DENSEST_DISC_M))
    share = built_share(np.asarray(roles.values), grid, radius_m=radius_m)
    floor = np.quantile(share[built], 1 - DENSEST_SHARE)
    return grid.wrap(built & (share >= floor), "densest_built_up")


#: GHS-SMOD codes of the settlements labour commutes from: rural clusters (villages), semi-dense
#: and dense urban clusters (towns) and urban centres. Suburban cells (21) are left out: they are
#: the diffuse fringe itself, where zones are sought, not a labour pool of their own.
SETTLEMENT_CODES = (13, 22, 23, 30)


def settlements(smod: xr.DataArray | None, fringe: xr.DataArray) -> xr.DataArray | None:
    """Boolean layer of the cells labour lives in: settlements by GHS-SMOD, else urban land."""
    for mask in ([smod.isin(SETTLEMENT_CODES)] if smod is not None else []) + [fringe == 3]:
        if bool(mask.any()):
            return mask.rename("settlements")
    return None


# --------------------------------------------------------------------------------------------
# the registry
# --------------------------------------------------------------------------------------------
class Unavailable(Exception):
    """A criterion cannot be computed from this run's inputs; the message says why."""


@dataclass
class Context:
    """What the criteria are built from: the run's layers, inputs and settings.

    Travel-time surfaces are computed once however many criteria use them (``equal_access``
    reuses the market and material surfaces); :attr:`raw` keeps every raw layer made.
    """

    grid: Grid
    roles: xr.DataArray
    fringe: xr.DataArray
    smod: xr.DataArray | None = None
    network: CompiledNetwork | None = None
    sources: gpd.GeoDataFrame | None = None
    unmatched: gpd.GeoDataFrame | None = None
    rasters: Mapping[str, xr.DataArray] = field(default_factory=dict)
    roads: RoadSettings = ROADS
    symbiosis: SymbiosisSettings = SYMBIOSIS
    criteria: Mapping[str, Criterion] = field(default_factory=dict)
    track: Callable[..., Iterable] = lambda items, desc, **kwargs: items
    raw: dict[str, xr.DataArray] = field(default_factory=dict)

    fallbacks: dict[str, str] = field(default_factory=dict)
    reference: xr.DataArray | None = None  # the allowed fringe land: where percentile thresholds are taken

    def surface(self, key: str, make: Callable[[], xr.DataArray]) -> xr.DataArray:
        """The raw layer ``key``, made once. In a chunked run it is computed and held in chunks
        at once: a lazy surface would keep its cell lookups (8 bytes a cell and table) alive and
        be computed again by every reader (percentiles, zones, outputs)."""
        if key not in self.raw:
            (self.raw[key],) = compute.persist(make())
        return self.raw[key]

    def minutes(
        self,
        key: str,
        sources: Any,
        described: str,
        on_network: Callable[[CompiledNetwork, float], xr.DataArray],
    ) -> xr.DataArray:
        """Minutes to (or from) ``sources``: over the road network, or without one as the
        straight line × ``roads.detour`` at ``roads.fallback_kph`` (noted in :attr:`fallbacks`)."""
        r = self.roads
        if self.network is not None:
            network = self.network
            if r.coverage == "main":
                self.fallbacks[key] = (
                    f"main roads only (roads.coverage = main): the last mile to them is the straight line x "
                    f"{r.detour:g} at {r.fallback_kph:g} km/h"
                )
            return self.surface(key, lambda: on_network(network, r.last_mile_kph()))
        self.fallbacks[key] = (
            f"no road network: straight-line distance to {described} x {r.detour:g} at {r.fallback_kph:g} km/h"
        )
        return self.surface(
            key, lambda: straight_line_minutes(sources, self.grid, kph=r.fallback_kph, detour=r.detour, name=key)
        )

    def materials(self, c: Criterion | None = None) -> list[str]:
        """The materials averaged by ``material_access`` that have a source in this run."""
        spec = c if c is not None else self.criteria.get("material_access")
        listed = list(spec.materials) if spec is not None and spec.materials else None
        have = set(self.sources["material"]) if self.sources is not None and len(self.sources) else set()
        wanted = listed or sorted(have)
        return [m for m in wanted if m in have]

    def material_minutes(self, material: str) -> xr.DataArray:
        chosen = self.sources[self.sources["material"] == material]
        return self.minutes(
            f"material_access:{material}",
            chosen,
            f"the nearest source of {material}",
            lambda net, kph: material_access(net, self.grid, self.sources, material, offroad_kph=kph),
        )

    def material_surfaces(self, materials: Sequence[str]) -> list[xr.DataArray]:
        """:meth:`material_minutes` of each material; the surfaces not made yet are made side by
        side in the run's threads (:func:`eicgeo.compute.thread_map`)."""
        missing = [m for m in materials if f"material_access:{m}" not in self.raw]
        made = compute.thread_map(self.material_minutes, missing)
        for _ in self.track(made, "material access", total=len(missing), unit="material"):
            pass
        for m in missing:  # in the materials' order, whichever thread finished first
            key = f"material_access:{m}"
            self.raw[key] = self.raw.pop(key)
            if key in self.fallbacks:
                self.fallbacks[key] = self.fallbacks.pop(key)
        return [self.material_minutes(m) for m in materials]

    def market_minutes(self) -> xr.DataArray:
        where, described = centres(self.smod, self.fringe), "the nearest urban centre"
        if where is None:
            where, described = densest_built_up(self.roles, self.fringe, self.grid), "the densest built-up land"
            if where is None:
                raise Unavailable("no urban centre and no built-up land in the land cover")
        minutes = self.minutes(
            "market_access",
            where,
            described,
            lambda net, kph: market_access(net, self.grid, where, offroad_kph=kph),
        )
        if described != "the nearest urban centre":
            stand_in = (
                f"no urban centre in the study area: minutes to its densest built-up land (the top "
                f"{DENSEST_SHARE:.0%} of built-up cells by built-up share within "
                f"{float(self.fringe.attrs.get('radius_m', DENSEST_DISC_M)):g} m) stand in for the market"
            )
            self.fallbacks["market_access"] = "; ".join(filter(None, [stand_in, self.fallbacks.get("market_access")]))
        return minutes

    def mean_material_minutes(self) -> xr.DataArray | None:
        """Mean over the materials of the minutes to their nearest source (None without any)."""
        present = self.materials()
        if not present:
            return None
        layers = self.material_surfaces(present)
        lazy = [layer.data for layer in layers if isinstance(layer.data, da.Array)]
        if lazy:
            # The same running float32 sum, block by block: a chunked run gives the in-memory cells.
            chunks = lazy[0].chunks
            blocks = [
                d.rechunk(chunks) if isinstance(d, da.Array) else da.from_array(np.asarray(d), chunks=chunks)
                for d in (layer.data for layer in layers)
            ]
            data = da.map_blocks(_nanmean_blocks, *blocks, dtype=np.float32)
        else:
            data = _nanmean([np.asarray(layer.data) for layer in layers])
        mean = layers[0].copy(deep=False, data=data)
        mean.encoding = {}
        mean.attrs = {"units": "minutes", "materials": ", ".join(present)}
        return self.grid.georef(mean.rename("material_access"))


def _nanmean_blocks(*blocks: np.ndarray) -> np.ndarray:
    return _nanmean(blocks)


def _nanmean(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Float32 mean of the arrays, NaN left out (NaN where all are NaN), without stacking them:
    one running sum and count, tile by tile."""
    shape = arrays[0].shape
    total = np.zeros(shape, dtype=np.float32)
    count = np.zeros(shape, dtype=np.float32)
    for rows in mcda._tiles(shape):
        t, c = total[rows], count[rows]
        for a in arrays:
            v = np.asarray(a[rows], dtype=np.float32)
            ok = ~np.isnan(v)
            np.add(t, v, out=t, where=ok)
            c += ok
        with np.errstate(invalid="ignore"):
            np.divide(t, c, out=t)
    return total


Layers = list[tuple[str, xr.DataArray]]


@dataclass(frozen=True)
class CriterionSpec:
    """One built-in criterion.

    ``build(context, name, criterion)`` returns its raw layers as ``(name, layer)`` pairs (one,
    or one per material for ``material_access``, which share the weight) or raises
    :class:`Unavailable`. ``fn`` and ``params`` are the default standardisation; ``standardised``
    marks a criterion whose layer is already 0..1 unless the scenario gives ``fn``.
    """

    name: str
    description: str
    raw: str
    needs: tuple[str, ...]
    build: Callable[[Context, str, Criterion], Layers]
    fn: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    standardised: bool = False
    default_text: str = ""
    travel_time: bool = False  # minutes over the roads, or straight-line estimates without them


def _landcover(ctx: Context, name: str, c: Criterion) -> Layers:
    return [(name, ctx.roles)]


def _road_access(ctx: Context, name: str, c: Criterion) -> Layers:
    """Minutes to the nearest main road; without a road network, to the nearest built-up land
    (where a road certainly is), in a straight line."""
    classes = list(ctx.roads.main_roads)
    built = ctx.roles == ROLE_CODE["built_up"]
    if ctx.network is None and not bool(built.any()):
        raise Unavailable("no road network (inputs.roads) and no built-up land to stand in for it")
    layer = ctx.minutes(
        "road_access",
        built,
        "the nearest built-up land (no main roads known)",
        lambda net, kph: road_access(net, ctx.grid, classes=classes, offroad_kph=kph),
    )
    return [(name, layer)]


def _market_access(ctx: Context, name: str, c: Criterion) -> Layers:
    return [(name, ctx.market_minutes())]


def _labour_access(ctx: Context, name: str, c: Criterion) -> Layers:
    where = settlements(ctx.smod, ctx.fringe)
    if where is None:
        raise Unavailable("no settlement in the population grid or land cover")
    layer = ctx.minutes(
        "labour_access",
        where,
        "the nearest village, town or city",
        lambda net, kph: labour_access(net, ctx.grid, where, offroad_kph=kph),
    )
    return [(name, layer)]


def _material_access(ctx: Context, name: str, c: Criterion) -> Layers:
    _, _, one = name.partition(":")
    present = ctx.materials(Criterion(materials=(one,)) if one else c)
    if not present:
        raise Unavailable("no source of the material(s) in inputs.sources")
    return list(zip((f"material_access:{m}" for m in present), ctx.material_surfaces(present), strict=True))


def _equal_access(ctx: Context, name: str, c: Criterion) -> Layers:
    try:
        market = ctx.market_minutes()
    except Unavailable as why:
        raise Unavailable("no urban centre found") from why
    mean = ctx.mean_material_minutes()
    if mean is None:
        raise Unavailable("no raw-material sources (inputs.sources)")
    return [(name, equal_access(market, mean))]


def _symbiosis_potential(ctx: Context, name: str, c: Criterion) -> Layers:
    unmatched = ctx.unmatched if ctx.unmatched is not None else gpd.GeoDataFrame()
    layer = symbiosis.potential(unmatched, ctx.grid, max_km=ctx.symbiosis.max_km, detour=ctx.symbiosis.detour)
    if float(layer.max()) <= 0 and c.fn is None:
        raise Unavailable("no firm has unmatched by-product output (inputs.firms)")
    return [(name, layer)]


def _decreasing(high: float | str) -> dict[str, Any]:
    return {"low": 0.0, "high": high, "increasing": False}


#: The upper threshold of the travel-time criteria: the 95th percentile of their minutes over the
#: region's allowed fringe land. Fixed minutes do not travel between regions: 30 minutes to a main
#: road leaves every cell near 1 in a dense delta, and near 0 where only straight-line times are
#: known; relative to the region, the criterion always tells its places apart (docs/mcda.md).
TRAVEL_TIME_HIGH = "p95"


#: The built-in criteria, by name (``material_access:MATERIAL`` is ``material_access`` for one
#: material; any other name is a user raster with ``raster`` and ``fn``).
REGISTRY: dict[str, CriterionSpec] = {
    spec.name: spec
    for spec in (
        CriterionSpec(
            "landcover",
            "suitability of each land-cover role",
            "land-cover role",
            (),
            _landcover,
            "categorical",
            # Cropland and grass/shrub are developable; forest is poor; water, wetland and
            # built-up are not (and are excluded as constraints by default).
            {
                "scores": {
                    "cropland": 1.0,
                    "grass_shrub": 0.9,
                    "bare": 0.7,
                    "forest": 0.2,
                    "wetland": 0.0,
                    "water": 0.0,
                    "built_up": 0.0,
                }
            },
        ),
        CriterionSpec(
            "road_access",
            "travel time (min) to the nearest main road",
            "minutes to the nearest `roads.main_roads` road (without roads: to built-up land, straight line)",
            (),
            _road_access,
            "linear",
            _decreasing(TRAVEL_TIME_HIGH),
            travel_time=True,
        ),
        CriterionSpec(
            "market_access",
            "travel time (min) to the nearest urban centre",
            "minutes to the nearest urban centre (without one: to the region's densest built-up land)",
            (),
            _market_access,
            "linear",
            _decreasing(TRAVEL_TIME_HIGH),
            travel_time=True,
        ),
        CriterionSpec(
            "labour_access",
            "travel time (min) from the nearest village, town or city, where workers live",
            "minutes of the commute from the nearest village, town or city (GHS-SMOD 13, 22, 23, 30)",
            (),
            _labour_access,
            "linear",
            _decreasing(TRAVEL_TIME_HIGH),
            travel_time=True,
        ),
        CriterionSpec(
            "material_access",
            "travel time (min) to the nearest source of each raw material, averaged",
            "minutes to the nearest source of each material, averaged",
            ("sources",),
            _material_access,
            "linear",
            _decreasing(TRAVEL_TIME_HIGH),
            travel_time=True,
        ),
        CriterionSpec(
            "equal_access",
            "markets and raw materials both near and at similar times",
            "0..1: markets and materials both near and about equally near",
            ("sources",),
            _equal_access,
            standardised=True,
            default_text="built in: `(1 - max(tm, tr)/60) * (1 - abs(tm - tr)/(tm + tr + 1))`",
        ),
        CriterionSpec(
            "symbiosis_potential",
            "unmatched by-product tonnes (t/yr) of firms within the matching reach",
            "unmatched by-product t/yr of firms within `symbiosis.max_km` (× detour)",
            ("firms",),
            _symbiosis_potential,
            "linear",
            default_text="`linear` from 0 to the region's largest value",
        ),
    )
}


def registry_table() -> str:
    """The table of built-in criteria in ``docs/scenario.md``, from :data:`REGISTRY`."""
    rows = ["| criterion | raw values | needs | default standardisation |", "| --- | --- | --- | --- |"]
    for spec in REGISTRY.values():
        if spec.default_text:
            how = spec.default_text
        elif spec.fn == "linear":
            p = spec.params
            high = f"`{p['high']}`" if isinstance(p["high"], str) else f"{p['high']:g}"
            how = f"`linear`, low {p['low']:g}, high {high}, {'increasing' if p['increasing'] else 'decreasing'}"
        else:
            how = f"`{spec.fn}`, " + ", ".join(f"{k} {v:g}" for k, v in spec.params.get("scores", {}).items())
        needs = ", ".join(f"`inputs.{n}`" for n in spec.needs) or "land cover only"
        rows.append(f"| `criteria.{spec.name}` | {spec.raw} | {needs} | {how} |")
    return "\n".join(rows)


def standardisation(name: str, c: Criterion, layer: xr.DataArray | None = None) -> tuple[str | None, dict[str, Any]]:
    """The function and parameters that standardise criterion ``name`` as ``c`` says.

    Parameters the scenario gives go over the criterion's default ones when it names no ``fn``
    or the default's (``high = 20`` alone changes the upper bound of the default linear
    decrease); with another ``fn`` only its own parameters apply. ``landcover``'s ``scores``
    go over the default scores role by role. ``symbiosis_potential``'s default runs from 0 to the
    largest value of ``layer``. ``fn`` None means the layer is used as it is (0..1 already).

    Examples
    --------
    >>> standardisation("road_access", Criterion(high=20))
    ('linear', {'low': 0.0, 'high': 20.0, 'increasing': False})
    >>> standardisation("road_access", Criterion(fn="sigmoid", midpoint=15, spread=4))
    ('sigmoid', {'midpoint': 15.0, 'spread': 4.0})
    """
    spec = REGISTRY.get(name.split(":")[0])
    given = c.params()
    if spec is None or (c.fn is not None and c.fn != spec.fn):
        return c.fn, given
    params = dict(spec.params)
    if spec.name == "symbiosis_potential" and not params:
        top = float(layer.max()) if layer is not None else 1.0
        params = {"low": 0.0, "high": top, "increasing": True}
    if "scores" in given and "scores" in params:
        given = {**given, "scores": {**params["scores"], **given["scores"]}}
    return spec.fn if not (spec.standardised and c.fn is None) else None, {**params, **given}


def _standardise(name: str, layer: xr.DataArray, c: Criterion, reference: xr.DataArray | None) -> xr.DataArray:
    fn, params = standardisation(name, c, layer)
    if fn is None:
        return layer.astype(np.float32, copy=True)  # its own array: build masks it in place
    resolved, given = {}, dict(params)
    for key, value in given.items():
        pct = percentile_of(value)
        if pct is not None:
            params[key] = resolved[key] = _percentile(layer, reference, pct)
    if (
        resolved
        and params.get("low") is not None
        and params.get("high") is not None
        and not params["low"] < params["high"]
    ):
        msg = (
            f"{name}'s thresholds resolve to low {params['low']:g} and high {params['high']:g} over the allowed land "
            "(its raw values barely vary there)"
        )
        raise Unavailable(msg)
    if name == "landcover":
        scores = params["scores"]
        out = mcda.standardize(layer, "categorical", scores={ROLE_CODE[r]: v for r, v in scores.items()})
        out.attrs["parameters"] = repr({"scores by land-cover role": scores})
        return out
    out = mcda.standardize(layer, fn, **params)
    if resolved:
        text = ", ".join(f"{k} {given[k]} = {v:.4g}" for k, v in resolved.items())
        out.attrs["parameters"] = f"{out.attrs.get('parameters', '')} ({text} over the allowed land)"
    return out


def _percentile(layer: xr.DataArray, reference: xr.DataArray | None, pct: float) -> float:
    """The ``pct`` percentile of ``layer``'s finite values over ``reference`` (all cells without).

    As ``numpy.percentile`` (linear interpolation) of the values as float64, but found by a
    partial sort of the selected values in their own dtype: no float64 copy of the grid.

    A percentile is global, so it is taken over the reduced data it needs: the finite values
    over the allowed land only, gathered from their chunks in a chunked run (exact, as in
    memory: the standardised layer is then computed chunk by chunk).
    """
    values = np.asarray(layer.values)
    owned = False  # whether values is a copy this function may reorder
    if reference is not None and bool(reference.any()):
        values, owned = values[np.asarray(reference.values, dtype=bool)], True
    else:
        values = values.ravel()
    if np.issubdtype(values.dtype, np.floating):
        values, owned = values[np.isfinite(values)], True
    if values.size == 0:
        raise Unavailable("it has no value over the allowed land to take a percentile of")
    position = (values.size - 1) * (float(pct) / 100.0)
    below = min(values.size - 1, max(0, math.floor(position)))
    above = min(values.size - 1, below + 1)
    kth = [below, above] if above != below else [below]
    if owned:
        values.partition(kth)
        part = values
    else:
        part = np.partition(values, kth)
    a, b, t = float(part[below]), float(part[above]), position - below
    # numpy's linear interpolation: a + (b - a) t, from b's side when t >= 1/2
    return float(b - (b - a) * (1 - t)) if t >= 0.5 else float(a + (b - a) * t)


@dataclass
class Built:
    """The criteria of a run: ``raw`` layers, ``standard`` (0..1) layers and their ``weights``
    (as given, not normalised), and ``skipped``: (criterion, why) for those not computed."""

    raw: dict[str, xr.DataArray]
    standard: dict[str, xr.DataArray]
    weights: dict[str, float]
    skipped: list[tuple[str, str]]
    fallbacks: dict[str, str] = field(default_factory=dict)


def build(criteria: Mapping[str, Criterion], weights: Mapping[str, float], ctx: Context) -> Built:
    """Every weighted, enabled criterion, raw and standardised, from the run's ``ctx``.

    A criterion whose inputs are missing is skipped with its reason (``Built.skipped``); the
    mean minutes to the raw materials are always kept as ``raw["material_access"]`` when
    there are roads and sources (the zones' ``material_minutes``).

    Raises
    ------
    InputError
        If no criterion could be computed.
    """
    standard: dict[str, xr.DataArray] = {}
    used: dict[str, float] = {}
    skipped: list[tuple[str, str]] = []
    for name, c in criteria.items():
        weight = float(weights.get(name, 0.0))
        if not c.enabled or weight <= 0:
            continue
        spec = REGISTRY.get(name.split(":")[0])
        try:
            layers = spec.build(ctx, name, c) if spec is not None else [(name, ctx.rasters[name])]
        except Unavailable as why:
            skipped.append((name, str(why)))
            continue
        for key, layer in layers:
            if np.issubdtype(layer.dtype, np.floating) and layer.dtype != np.float32:
                layer = layer.astype(np.float32)  # float layers are float32 from here on
            if not (spec is not None and spec.standardised) and name != "landcover":
                ctx.raw[key] = layer
            try:
                standard[key] = _standardise(key, layer, c, ctx.reference)
            except Unavailable as why:
                skipped.append((key, str(why)))
                continue
            used[key] = weight / len(layers)
    mean = ctx.mean_material_minutes()
    if mean is not None:
        ctx.raw["material_access"] = mean
    if not used:
        msg = "no criterion could be computed: " + "; ".join(f"{k}: {why}" for k, why in skipped)
        raise InputError(msg)
    # Distances and kernels (symbiosis_potential, travel times) run over the whole grid; outside
    # the land cover's data they are not data, as the landcover criterion is not: one NaN mask.
    # One layer at a time, so that no second copy of every layer is alive at once; the
    # standardised layers are this function's own arrays and are masked in place.
    land = ctx.roles != ROLE_CODE["nodata"]
    for k in list(ctx.raw):
        ctx.raw[k] = on_land(ctx.raw[k], land)
    for k in list(standard):
        standard[k] = on_land(standard[k], land, in_place=True)
    return Built(ctx.raw, standard, used, skipped, dict(ctx.fallbacks))


def on_land(layer: xr.DataArray, land: xr.DataArray, *, in_place: bool = False) -> xr.DataArray:
    """``layer`` with NaN outside ``land`` (boolean, True where the land cover has data), for a
    float layer; any other layer as it is. Name, attributes and dtype are kept.

    A numpy-backed layer already NaN outside ``land`` is returned as it is, without a copy;
    with ``in_place``, a writeable numpy-backed layer is masked in its own array.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> layer = xr.DataArray(np.array([[0.5, 1.0]], "float32"), dims=("y", "x"), name="c")
    >>> on_land(layer, xr.DataArray(np.array([[True, False]]), dims=("y", "x"))).values.tolist()
    [[0.5, nan]]
    """
    if not np.issubdtype(layer.dtype, np.floating):
        return layer
    inside = np.asarray(land.values, dtype=bool)
    if not isinstance(layer.data, da.Array):
        values = layer.data
        if _nan_outside(values, inside):  # already masked: no copy
            return layer
        if in_place and isinstance(values, np.ndarray) and values.flags.writeable:
            for rows in mcda._tiles(values.shape):
                np.copyto(values[rows], np.nan, where=~inside[rows])
            return layer
    out = layer.where(inside).astype(layer.dtype)
    out.attrs = dict(layer.attrs)
    out.name = layer.name
    return out


def _nan_outside(values: np.ndarray, inside: np.ndarray) -> bool:
    """True when ``values`` is NaN wherever ``inside`` is False (read tile by tile)."""
    values = np.asarray(values)
    return all(np.isnan(values[rows][~inside[rows]]).all() for rows in mcda._tiles(values.shape))
