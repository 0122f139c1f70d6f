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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio.features
import xarray as xr
from shapely.geometry import shape

from eicgeo import mcda, symbiosis
from eicgeo._errors import InputError
from eicgeo.grid import Grid
from eicgeo.legends import ROLE_CODE, Legend, get_legend
from eicgeo.roads import MAJOR_ROADS, CompiledNetwork, travel_time_surface
from eicgeo.settings import ROADS, SYMBIOSIS, Criterion, RoadSettings, SymbiosisSettings

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


def centres(smod: xr.DataArray | None, fringe: xr.DataArray) -> xr.DataArray | None:
    """Boolean layer of urban-centre cells (GHS-SMOD 30, else 23, else urban land cover), or None."""
    for mask in ([smod == 30, smod == 23] if smod is not None else []) + [fringe == 3]:
        if bool(mask.any()):
            return mask.rename("urban_centres")
    return None


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

    def need_network(self) -> CompiledNetwork:
        if self.network is None:
            raise Unavailable("no road network (inputs.roads)")
        return self.network

    def surface(self, key: str, make: Callable[[], xr.DataArray]) -> xr.DataArray:
        """The raw layer ``key``, made once."""
        if key not in self.raw:
            self.raw[key] = make()
        return self.raw[key]

    def materials(self, c: Criterion | None = None) -> list[str]:
        """The materials averaged by ``material_access`` that have a source in this run."""
        spec = c if c is not None else self.criteria.get("material_access")
        listed = list(spec.materials) if spec is not None and spec.materials else None
        have = set(self.sources["material"]) if self.sources is not None and len(self.sources) else set()
        wanted = listed or sorted(have)
        return [m for m in wanted if m in have]

    def material_minutes(self, material: str) -> xr.DataArray:
        network = self.need_network()
        return self.surface(
            f"material_access:{material}",
            lambda: material_access(network, self.grid, self.sources, material, offroad_kph=self.roads.offroad_kph),
        )

    def market_minutes(self) -> xr.DataArray:
        network = self.need_network()
        where = centres(self.smod, self.fringe)
        if where is None:
            raise Unavailable("no urban centre in the population grid or land cover")
        return self.surface(
            "market_access", lambda: market_access(network, self.grid, where, offroad_kph=self.roads.offroad_kph)
        )

    def mean_material_minutes(self) -> xr.DataArray | None:
        """Mean over the materials of the minutes to their nearest source (None without any)."""
        present = self.materials()
        if not present or self.network is None:
            return None
        layers = [self.material_minutes(m) for m in self.track(present, "material access", unit="material")]
        mean = xr.concat(layers, dim="material").mean("material").astype(np.float32)
        mean.attrs = {"units": "minutes", "materials": ", ".join(present)}
        return self.grid.georef(mean.rename("material_access"))


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


def _landcover(ctx: Context, name: str, c: Criterion) -> Layers:
    return [(name, ctx.roles)]


def _road_access(ctx: Context, name: str, c: Criterion) -> Layers:
    network = ctx.need_network()
    classes = list(ctx.roads.main_roads)
    layer = ctx.surface(
        "road_access",
        lambda: road_access(network, ctx.grid, classes=classes, offroad_kph=ctx.roads.offroad_kph),
    )
    return [(name, layer)]


def _market_access(ctx: Context, name: str, c: Criterion) -> Layers:
    return [(name, ctx.market_minutes())]


def _labour_access(ctx: Context, name: str, c: Criterion) -> Layers:
    network = ctx.need_network()
    where = settlements(ctx.smod, ctx.fringe)
    if where is None:
        raise Unavailable("no settlement in the population grid or land cover")
    layer = ctx.surface(
        "labour_access", lambda: labour_access(network, ctx.grid, where, offroad_kph=ctx.roads.offroad_kph)
    )
    return [(name, layer)]


def _material_access(ctx: Context, name: str, c: Criterion) -> Layers:
    ctx.need_network()
    _, _, one = name.partition(":")
    present = ctx.materials(Criterion(materials=(one,)) if one else c)
    if not present:
        raise Unavailable("no source of the material(s) in inputs.sources")
    return [(f"material_access:{m}", ctx.material_minutes(m)) for m in present]


def _equal_access(ctx: Context, name: str, c: Criterion) -> Layers:
    ctx.need_network()
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


def _decreasing(high: float) -> dict[str, Any]:
    return {"low": 0.0, "high": high, "increasing": False}


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
            "minutes to the nearest `roads.main_roads` road",
            ("roads",),
            _road_access,
            "linear",
            _decreasing(30.0),
        ),
        CriterionSpec(
            "market_access",
            "travel time (min) to the nearest urban centre",
            "minutes to the nearest urban centre",
            ("roads",),
            _market_access,
            "linear",
            _decreasing(60.0),
        ),
        CriterionSpec(
            "labour_access",
            "travel time (min) from the nearest village, town or city, where workers live",
            "minutes of the commute from the nearest village, town or city (GHS-SMOD 13, 22, 23, 30)",
            ("roads",),
            _labour_access,
            "linear",
            # A commute of 45 minutes each way is about the most factory workers accept.
            _decreasing(45.0),
        ),
        CriterionSpec(
            "material_access",
            "travel time (min) to the nearest source of each raw material, averaged",
            "minutes to the nearest source of each material, averaged",
            ("roads", "sources"),
            _material_access,
            "linear",
            _decreasing(60.0),
        ),
        CriterionSpec(
            "equal_access",
            "markets and raw materials both near and at similar times",
            "0..1: markets and materials both near and about equally near",
            ("roads", "sources"),
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
            how = f"`linear`, low {p['low']:g}, high {p['high']:g}, {'increasing' if p['increasing'] else 'decreasing'}"
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


def _standardise(name: str, layer: xr.DataArray, c: Criterion) -> xr.DataArray:
    fn, params = standardisation(name, c, layer)
    if fn is None:
        return layer.astype(np.float32)
    if name == "landcover":
        scores = params["scores"]
        out = mcda.standardize(layer, "categorical", scores={ROLE_CODE[r]: v for r, v in scores.items()})
        out.attrs["parameters"] = repr({"scores by land-cover role": scores})
        return out
    return mcda.standardize(layer, fn, **params)


@dataclass
class Built:
    """The criteria of a run: ``raw`` layers, ``standard`` (0..1) layers and their ``weights``
    (as given, not normalised), and ``skipped``: (criterion, why) for those not computed."""

    raw: dict[str, xr.DataArray]
    standard: dict[str, xr.DataArray]
    weights: dict[str, float]
    skipped: list[tuple[str, str]]


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
            if not (spec is not None and spec.standardised) and name != "landcover":
                ctx.raw[key] = layer
            standard[key] = _standardise(key, layer, c)
            used[key] = weight / len(layers)
    mean = ctx.mean_material_minutes()
    if mean is not None:
        ctx.raw["material_access"] = mean
    if not used:
        msg = "no criterion could be computed: " + "; ".join(f"{k}: {why}" for k, why in skipped)
        raise InputError(msg)
    return Built(ctx.raw, standard, used, skipped)
