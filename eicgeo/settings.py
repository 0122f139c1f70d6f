"""Every scenario setting, declared once: its type, default, bounds, unit and meaning.

Each stage has a frozen settings type (:class:`GridSettings`, :class:`RoadSettings`,
:class:`FringeSettings`, :class:`Criterion`, :class:`MCDASettings`,
:class:`ConstraintSettings`, :class:`SymbiosisSettings`, :class:`ClusteringSettings`,
:class:`ZoneSettings`, and :class:`ComputeSettings` for how the raster stages run); a
:class:`~eicgeo.Scenario` holds one of each, and the stages take them. The declarations are
pydantic models: pydantic checks types, unknown keys, choices and bounds, and lists every
problem with its location, which :mod:`eicgeo.scenario` turns into dotted key paths. Checks
against vocabularies and files (highway classes, land-cover roles, materials, CRS, AHP
consistency) are domain checks in :mod:`eicgeo.scenario`.

The default instances (:data:`GRID`, :data:`ROADS`, ...) are where the building blocks take
their defaults from, so a default is written here and nowhere else; ``docs/scenario.md``'s key
tables are generated from these declarations (:func:`markdown_table`).

Tables that override a built-in table key by key (``roads.speeds``, ``fringe.rules``,
``zones.score_weights``, ``symbiosis.co2_factors``, ``criteria.landcover.scores``) hold only
the keys given; the stage puts them over its own table.

Examples
--------
>>> ZONES.min_spacing_km
1.0
>>> ZoneSettings(n=5).n
5
>>> try:
...     ZoneSettings(n=0)
... except ValueError as err:
...     print(err.errors()[0]["type"])
greater_than_equal
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

__all__ = [
    "CLUSTERING",
    "COMBINE_METHODS",
    "COMPUTE",
    "CONSTRAINTS",
    "FRINGE",
    "GRID",
    "LOCAL_SCHEDULERS",
    "MCDA",
    "ROADS",
    "SCORE_WEIGHTS",
    "SECTIONS",
    "STANDARDIZER_NAMES",
    "SYMBIOSIS",
    "ZONES",
    "AHPSettings",
    "ClusteringSettings",
    "ComputeSettings",
    "ConstraintLayer",
    "ConstraintSettings",
    "Criterion",
    "FringeSettings",
    "GridSettings",
    "Header",
    "InputSettings",
    "MCDASettings",
    "RoadSettings",
    "Settings",
    "SymbiosisSettings",
    "ZoneSettings",
    "markdown_table",
    "percentile_of",
]

#: Combination methods of :func:`eicgeo.mcda.combine` (a test keeps mcda in step).
COMBINE_METHODS: tuple[str, ...] = ("wlc", "weighted_product", "owa", "fuzzy_and", "fuzzy_or", "fuzzy_gamma")
#: Standardisation functions of :func:`eicgeo.mcda.standardize` (a test keeps mcda in step).
STANDARDIZER_NAMES: tuple[str, ...] = (
    "linear",
    "logistic",
    "sigmoid",
    "gaussian",
    "jshaped",
    "symmetric_linear",
    "piecewise",
    "categorical",
)
#: The zone score's default weights (``zones.score_weights`` overrides them key by key).
SCORE_WEIGHTS: dict[str, float] = {"suitability": 0.5, "symbiosis": 0.2, "rural_pop": 0.2, "green_loss": 0.1}

Number = Annotated[float, Strict(), AllowInfNan(False)]
#: A threshold relative to the region: "p90" is the 90th percentile of a criterion's raw values
#: over the allowed fringe land (see :func:`percentile_of`).
Percentile = Annotated[StrictStr, StringConstraints(pattern=r"^p(100|[1-9]?[0-9])(\.[0-9]+)?$")]
Names = tuple[StrictStr, ...]


def _input_path(value: Any, info: ValidationInfo) -> Path:
    """A path as given, made absolute against the scenario's folder (``context['base_dir']``)."""
    if isinstance(value, Path):
        path = value
    elif isinstance(value, str) and value.strip():
        path = Path(value.strip())
    else:
        msg = f"expected the path of a file (a string), got {value!r}"
        raise ValueError(msg)
    try:
        path = path.expanduser()
    except RuntimeError as err:  # "~someone" with no such user or home folder
        msg = f"cannot expand {str(value)!r}: {err}"
        raise ValueError(msg) from err
    base = (info.context or {}).get("base_dir")
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return path


InputPath = Annotated[Path, BeforeValidator(_input_path)]


def percentile_of(value: Any) -> float | None:
    """The percentile a ``"pNN"`` threshold names (``"p90"`` → 90.0), or None for a number."""
    return float(value[1:]) if isinstance(value, str) and value.startswith("p") else None


def setting(
    default: Any = ...,
    *,
    doc: str,
    unit: str = "–",
    default_text: str | None = None,
    type_text: str | None = None,
    **bounds: Any,
) -> Any:
    """A field with its meaning and unit (and how the docs show its default, where a value is
    not the whole story, e.g. "the land cover's footprint", and its type, where it is a choice
    of kinds)."""
    extra = {"unit": unit}
    if default_text is not None:
        extra["default_text"] = default_text
    if type_text is not None:
        extra["type_text"] = type_text
    return Field(default, description=doc, json_schema_extra=extra, **bounds)


class Settings(BaseModel):
    """Base of every settings type: frozen, unknown keys refused, no coercion of types."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def changed(self, **changes: Any) -> Settings:
        """A validated copy with ``changes`` applied."""
        return type(self).model_validate({**self.model_dump(), **changes})


# --------------------------------------------------------------------------------------------
class Header(Settings):
    """The top of a scenario: its name, preset and description."""

    name: StrictStr = setting("scenario", doc="Name shown in the report, the map title and `manifest.json`.")
    preset: StrictStr = setting(
        "balanced",
        doc="Preset the file's keys override: `balanced`, `industrial`, `environmental` or `regional`.",
    )
    description: StrictStr = setting("", default_text="the preset's", doc="One line on what the scenario is for.")


class GridSettings(Settings):
    """``[grid]``: the analysis grid."""

    crs: StrictStr = setting(
        "auto",
        doc='Projected CRS in metres (`"EPSG:32647"`, WKT), or `"auto"` for the UTM zone of the study '
        "area's centre. A geographic CRS is an error.",
    )
    resolution: Number = setting(100.0, gt=0, unit="m", doc="Cell size.")
    bounds: tuple[Number, Number, Number, Number] | None = setting(
        None,
        unit="CRS units",
        default_text="the land cover's footprint",
        doc="`[xmin, ymin, xmax, ymax]` of the study area.",
    )
    bounds_crs: StrictStr | None = setting(
        None, default_text='`grid.crs` (lon/lat with `"auto"`)', doc="CRS the bounds are given in."
    )

    @field_validator("bounds")
    @classmethod
    def _ordered_bounds(cls, b: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if b is not None and not (b[0] < b[2] and b[1] < b[3]):
            msg = f"expected [xmin, ymin, xmax, ymax] with xmin < xmax and ymin < ymax, got {list(b)!r}"
            raise ValueError(msg)
        return b


class InputSettings(Settings):
    """``[inputs]``: the data. Paths are relative to the scenario file's folder."""

    landcover: InputPath = setting(
        doc="Categorical land-cover raster (class codes); it defines the study area.", default_text="required"
    )
    legend: StrictStr = setting(
        "esa_worldcover",
        doc="`esa_worldcover`, `corine` (CLC grid index 1..44), `nlcd`, `esa_cci_lc`, `modis_igbp`, or a CSV "
        "`code,name,role`.",
    )
    population: InputPath | None = setting(
        None,
        unit="people per cell",
        doc="Population raster (WorldPop, GHS-POP); gives the Degree-of-Urbanisation fringe and `rural_pop_30min`.",
    )
    roads: InputPath | None = setting(
        None,
        doc="OSM `.osm`, `.osm.bz2`, `.osm.pbf`, osmnx `.graphml`, or a line layer (`.gpkg`, `.geojson`, "
        "`.parquet`, `.shp`) with a `highway` column; gives every travel-time criterion.",
    )
    places: InputPath | None = setting(
        None,
        default_text="the place nodes of `inputs.roads` when it is OSM",
        doc='Named places for the zones\' `where` ("4 km north-east of ..."): OSM `.osm`, `.osm.bz2`, `.osm.pbf` '
        "(nodes and areas tagged `place` = city, town, village, suburb, hamlet or locality), or a point layer with "
        "`name` and optional `place`, `population` (see `docs/places.md`).",
    )
    sources: InputPath | None = setting(
        None,
        unit="tonnes per year",
        doc="Raw-material sources (points or polygons) with `material` and optional `tonnes_per_year`.",
    )
    firms: InputPath | None = setting(
        None,
        unit="tonnes per year",
        doc="Firm register (CSV with `lon`/`lat`, or a vector file): `firm_id`, `name`, `sector`, `inputs`, `outputs`.",
    )
    dem: InputPath | None = setting(None, unit="m", doc="Elevation raster; needed for `constraints.slope_max_deg`.")
    materials: InputPath | None = setting(
        None,
        doc="CSV adding materials to the run's vocabulary: `name,kind[,unit,ewc,description,used_by,co2_avoided,"
        "co2_source]` (see `eicgeo.materials.vocabulary`).",
    )
    synergies: InputPath | None = setting(
        None, doc="CSV adding known exchanges: `material,from_sector,to_sector,use,source`."
    )
    sectors: InputPath | None = setting(None, doc="CSV adding sectors: `sector,description`.")

    @model_validator(mode="before")
    @classmethod
    def _legend_path(cls, data: Any, info: ValidationInfo) -> Any:
        """A CSV legend is a path like the others."""
        legend = data.get("legend") if isinstance(data, dict) else None
        if isinstance(legend, str) and legend.lower().endswith(".csv"):
            data = {**data, "legend": str(_input_path(legend, info))}
        return data


class RoadSettings(Settings):
    """``[roads]``: the road network."""

    offroad_kph: Number = setting(
        10.0, gt=0, unit="km/h", doc="Speed from a cell's centre to the nearest road (a truck off the network)."
    )
    main_roads: Names = setting(
        ("motorway", "trunk", "primary"), doc="Highway classes `road_access` measures the time to."
    )
    speeds: dict[StrictStr, Annotated[Number, Field(gt=0)]] = setting(
        {},
        unit="km/h",
        default_text="`eicgeo.roads.DEFAULT_SPEEDS_KPH`",
        doc="Speed per highway class where OSM has no `maxspeed`, over the built-in table, e.g. "
        "`speeds = { primary = 60 }`.",
    )
    snap_m: Number = setting(
        1.0, ge=0, unit="m", doc="Line layers (`.gpkg`, `.shp`, ...) only: line ends closer than this are joined."
    )
    coverage: Literal["all", "main"] = setting(
        "all",
        doc="`all`: `inputs.roads` holds the local roads too, and a cell reaches the network at `offroad_kph`. "
        "`main`: it holds only the main roads, and the last mile to them is the straight line × `detour` at "
        "`fallback_kph`.",
    )
    # Without road data a trip is the straight line times a circuity factor at a nominal speed:
    # road distance runs about 1.2-1.4 times the straight line in most national networks
    # (Ballou et al. 2002), and 30 km/h is a truck's average on peri-urban district roads.
    fallback_kph: Number = setting(
        30.0,
        gt=0,
        unit="km/h",
        doc='Without `inputs.roads` (or for the last mile with `coverage = "main"`), travel times are the '
        "straight-line distance × `detour` at this speed.",
    )
    detour: Number = setting(
        1.3, ge=1, doc="Road distance per straight-line distance, for the travel times without road data."
    )

    def last_mile_kph(self) -> float:
        """The speed (km/h, over the straight line) from a cell to the road network."""
        return self.offroad_kph if self.coverage == "all" else self.fallback_kph / self.detour


class FringeSettings(Settings):
    """``[fringe]``: the urban–rural fringe."""

    method: Literal["auto", "degurba", "landcover"] = setting(
        "auto",
        doc="`degurba` (Degree of Urbanisation on the population grid), `landcover` (built-up share) or `auto` "
        "(degurba when population is given).",
    )
    band_km: Number = setting(
        5.0, ge=0, unit="km", doc="Rural cells within this distance of an urban centre are fringe too (degurba)."
    )
    band_minutes: Number | None = setting(
        None,
        ge=0,
        unit="minutes",
        doc="The band in travel minutes from the urban centres over the road network instead of `band_km` "
        "(falls back to `band_km` without roads).",
    )
    cell_m: Number = setting(
        1000.0, gt=0, unit="m", doc="Cell size the population is aggregated to for the Degree of Urbanisation."
    )
    rules: dict[StrictStr, Number] = setting(
        {},
        unit="persons, km², km",
        default_text="the official values",
        doc="Degree-of-Urbanisation thresholds by name (`eicgeo.fringe.DEGURBA_RULES`, see `docs/fringe.md`), "
        "e.g. `rules = { semi_dense_density = 900 }`.",
    )
    radius_m: Number | None = setting(
        None,
        gt=0,
        unit="m",
        default_text="1 km on maps of 33 m cells or finer, 1.5 km on coarser ones",
        doc="Radius of the built-up share window (landcover method; see `docs/fringe.md`).",
    )
    green_m: Number = setting(
        100.0,
        ge=0,
        unit="m",
        doc="Landcover method, maps of cells up to a third of this: grass, shrub and tree cells count as "
        "built up as much as the built-up share within this distance (urban green: gardens, parks); 0: off.",
    )
    min_core_km2: Number | None = setting(
        None,
        ge=0,
        unit="km²",
        default_text="one disc, π `radius_m`²",
        doc="Landcover method: urban cores smaller than this are fringe (a small town's dense core, as the "
        "Degree of Urbanisation's urban centre needs 50,000 people).",
    )
    urban_share: Number = setting(
        0.5, ge=0, le=1, unit="0..1", doc="Built-up share from which a cell is urban (landcover method)."
    )
    fringe_share: Number = setting(
        0.1, ge=0, le=1, unit="0..1", doc="Built-up share from which a cell is fringe (landcover method)."
    )
    breakpoint: StrictBool = setting(
        False,
        doc="Landcover method: the fringe reaches from each urban core's edge to the distance where its "
        "built-up share falls fastest, instead of `fringe_share`.",
    )
    green_distance_m: Number = setting(
        500.0,
        ge=0,
        unit="m",
        doc="Forest, grass/shrub and wetland within this distance of the urban and fringe built-up land is "
        "residual green space (`green_space.tif`, see `constraints.protect_green_space`).",
    )


class Criterion(Settings):
    """``[criteria.NAME]``: one criterion, its weight and how it is standardised to 0..1.

    The standardisation parameters (``low`` ... ``scores``) not given keep the criterion's
    default (``eicgeo.criteria.REGISTRY``) when ``fn`` is not given or is the default's;
    :meth:`params` lists those given.
    """

    weight: Number = setting(
        0.0, ge=0, default_text="the preset's (0 if new)", doc="Relative weight; normalised over the criteria used."
    )
    enabled: StrictBool = setting(True, doc="Switch a criterion off without losing its settings.")
    fn: Literal[STANDARDIZER_NAMES] | None = setting(  # type: ignore[valid-type]
        None,
        default_text="the criterion's default",
        doc="Standardisation to 0..1: " + ", ".join(f"`{n}`" for n in STANDARDIZER_NAMES) + " (see "
        "`eicgeo.mcda.standardize`).",
    )
    raster: InputPath | None = setting(
        None, unit="the raster's", doc="A user raster (slope, flood depth, land price) used as the raw values."
    )
    materials: Names | None = setting(
        None,
        default_text="all materials of `inputs.sources`",
        doc="`material_access` only: the materials averaged.",
    )
    low: Number | Percentile | None = setting(
        None,
        unit="raw units",
        doc='`linear`: value scored 0 (`increasing`) or 1; or `"pNN"`, the NNth percentile of the raw values '
        "over the allowed fringe land of this region.",
    )
    high: Number | Percentile | None = setting(
        None,
        unit="raw units",
        doc='`linear`: value scored 1 (`increasing`) or 0; or `"pNN"` as for `low`.',
    )
    increasing: StrictBool | None = setting(
        None, default_text="`true`", doc="`linear`, `logistic`, `sigmoid`: whether larger raw values are better."
    )
    midpoint: Number | None = setting(None, unit="raw units", doc="`logistic`, `sigmoid`: value scored 0.5.")
    spread: Number | None = setting(
        None, unit="raw units", doc="`logistic`, `sigmoid`, `gaussian`: width of the curve."
    )
    target: Number | None = setting(None, unit="raw units", doc="`gaussian`: value scored 1.")
    a: Number | None = setting(
        None, unit="raw units", doc="`sigmoid`, `jshaped`, `symmetric_linear`: first control point (IDRISI FUZZY)."
    )
    b: Number | None = setting(None, unit="raw units", doc="Fuzzy functions: start of the plateau scored 1.")
    c: Number | None = setting(None, unit="raw units", doc="Fuzzy functions: end of the plateau scored 1.")
    d: Number | None = setting(None, unit="raw units", doc="Fuzzy functions: last control point.")
    points: tuple[tuple[Number, Number], ...] | None = setting(
        None, unit="raw units, 0..1", doc="`piecewise`: control points `[x, y]`, linear in between."
    )
    scores: dict[StrictStr, Number] | None = setting(
        None,
        unit="0..1",
        default_text="see below",
        doc="`categorical` and `landcover`: score per class code, or per land-cover role for `landcover` "
        "(over the default scores).",
    )

    #: The standardisation parameters, in the order of the docs.
    PARAMS: typing.ClassVar[tuple[str, ...]] = (
        "low",
        "high",
        "increasing",
        "midpoint",
        "spread",
        "target",
        "a",
        "b",
        "c",
        "d",
        "points",
        "scores",
    )

    def params(self) -> dict[str, Any]:
        """The standardisation parameters given (points as lists, for the standardisers)."""
        out = {k: getattr(self, k) for k in self.PARAMS if getattr(self, k) is not None}
        if "points" in out:
            out["points"] = [list(p) for p in out["points"]]
        return out


class AHPSettings(Settings):
    """``[mcda.ahp]``: weights from a pairwise comparison matrix."""

    labels: Names = setting(doc="The criteria compared, in matrix order; criteria not listed are not used.")
    matrix: tuple[tuple[Number, ...], ...] = setting(
        unit="Saaty 1/9..9",
        doc="`matrix[i][j]`: how much more important `labels[i]` is than `labels[j]`; reciprocal.",
    )
    on_inconsistent: Literal["raise", "warn"] = setting(
        "raise",
        doc="A consistency ratio above 0.10 is a validation problem (`raise`) naming the judgement that "
        "contributes most, or a warning at run time (`warn`).",
    )


class MCDASettings(Settings):
    """``[mcda]``: combining the criteria."""

    method: Literal[COMBINE_METHODS] = setting(  # type: ignore[valid-type]
        "wlc",
        doc="`wlc` (weighted linear combination), `weighted_product`, `owa` (ordered weighted average), "
        "`fuzzy_and`, `fuzzy_or` or `fuzzy_gamma` (see `eicgeo.mcda.combine`).",
    )
    order_weights: tuple[Annotated[Number, Field(ge=0)], ...] | None = setting(
        None,
        default_text="equal (= WLC)",
        doc="`owa`: one order weight per weighted criterion, for the best value of a cell first; weight on the "
        "first positions is risk-taking (OR), on the last cautious (AND).",
    )
    alpha: Number | None = setting(
        None,
        gt=0,
        default_text="`1` (= WLC)",
        doc="`owa`: derive the order weights from Yager's quantifier `Q(r) = r**alpha`: below 1 towards OR "
        "(risk-taking), above 1 towards AND (cautious).",
    )
    gamma: Number = setting(
        0.9, ge=0, le=1, unit="0..1", doc="`fuzzy_gamma`: 0 is fuzzy product (AND-like), 1 fuzzy algebraic sum."
    )
    ahp: AHPSettings | None = setting(
        None, doc="Derive the weights from a pairwise comparison matrix instead of the criteria's `weight` keys."
    )
    monte_carlo: StrictInt = setting(
        0, ge=0, unit="runs", doc="Weight draws for the suitability uncertainty (`suitability_std`, `p_top`); 0: none."
    )
    monte_carlo_seed: StrictInt = setting(0, doc="Seed of those draws.")
    monte_carlo_spread: Number | None = setting(
        None,
        ge=0,
        lt=1,
        unit="0..1",
        doc="Multiply each weight by a uniform factor in `1 ± spread` and renormalise (instead of Dirichlet draws).",
    )
    monte_carlo_concentration: Number = setting(
        100.0, gt=0, doc="Dirichlet concentration of the draws around the weights: larger draws tighter."
    )

    def combine_args(self) -> dict[str, Any]:
        """The keyword arguments of :func:`eicgeo.mcda.combine` these settings choose."""
        order = list(self.order_weights) if self.order_weights is not None else None
        return {"method": self.method, "order_weights": order, "alpha": self.alpha, "gamma": self.gamma}


class ConstraintLayer(Settings):
    """One user exclusion layer of ``constraints.layers``."""

    path: InputPath = setting(doc="A raster (non-zero cells excluded) or a vector file.")
    reason: Annotated[StrictStr, Field(min_length=1, pattern=r"\S")] = setting(
        doc='The reason\'s name in `excluded.tif` and the report, e.g. `"flood zone"`.'
    )
    all_touched: StrictBool = setting(False, doc="Vector layers: exclude every cell a feature touches.")


class ConstraintSettings(Settings):
    """``[constraints]``: land that is never used."""

    exclude_roles: Names = setting(
        ("water", "wetland", "built_up"),
        doc="Land-cover roles excluded outright (reason codes 2..8 in `excluded.tif`).",
    )
    protect_green_space: StrictBool = setting(
        False, doc="Exclude residual green space (see `fringe.green_distance_m`; code 9)."
    )
    residential_buffer_m: Number = setting(
        0.0, ge=0, unit="m", doc="Exclude land within this distance of built-up land (code 10); 0: none."
    )
    slope_max_deg: Number | None = setting(
        None, gt=0, lt=90, unit="degrees", doc="Exclude slopes steeper than this (code 11); needs `inputs.dem`."
    )
    layers: tuple[ConstraintLayer, ...] = setting(
        (),
        doc='User exclusion layers, codes 20, 21, ... in order: `{ path = "...", reason = "...", '
        "all_touched = false }`; a vector excludes the cells whose centre it covers (every cell it touches "
        "with `all_touched = true`), a raster its non-zero cells.",
    )


class SymbiosisSettings(Settings):
    """``[symbiosis]``: by-product exchange between firms."""

    max_km: Number = setting(33.0, gt=0, unit="km", doc="Longest exchange (the median of the UK NISP programme).")
    detour: Number = setting(
        1.3, gt=0, doc="Road distance per straight-line distance, used where there is no road network."
    )
    kinds: Names = setting(
        ("byproduct", "energy", "emission"), doc="Material kinds exchanged (see `eicgeo.materials.KINDS`)."
    )
    # A laden heavy goods vehicle (40 t articulated, diesel) emits about 0.06-0.1 kg CO2 per
    # tonne-km in the GLEC Framework and the UK government (DESNZ/DEFRA) conversion factors;
    # 0.1 covers part loads and empty returns.
    transport_kg_per_tkm: Number = setting(
        0.1,
        ge=0,
        unit="kg CO2 per t·km",
        doc="Trucking emissions of an exchange (energy and water are piped: 0).",
    )
    co2_factors: dict[StrictStr, Annotated[Number, Field(ge=0)]] = setting(
        {},
        unit="t CO2 per t (or MWh)",
        default_text="the vocabulary's",
        doc="CO2 avoided per unit of a material, over the vocabulary's, e.g. `co2_factors = { fly_ash = 0.8 }`.",
    )


class ClusteringSettings(Settings):
    """``[clustering]``: clusters of existing firms."""

    method: Literal["hdbscan", "dbscan"] = setting("hdbscan", doc="`hdbscan` or `dbscan`.")
    min_cluster_size: StrictInt = setting(
        5, ge=2, unit="firms", doc="Smallest cluster (HDBSCAN); core-point neighbourhood (DBSCAN)."
    )
    eps_m: Number = setting(2000.0, gt=0, unit="m", doc="DBSCAN neighbourhood radius.")
    min_samples: StrictInt | None = setting(
        None, ge=1, unit="firms", default_text="`min_cluster_size`", doc="HDBSCAN `min_samples`."
    )
    hull_buffer_m: Number = setting(500.0, ge=0, unit="m", doc="Buffer around each cluster's convex hull.")
    link_scale_t: Number | None = setting(
        None,
        gt=0,
        unit="t/yr",
        doc="Pull firms that exchange by-products together: their distance is divided by `1 + t / link_scale_t`.",
    )


class ZoneSettings(Settings):
    """``[zones]``: candidate zones and their ranking."""

    n: StrictInt = setting(
        10, ge=1, unit="zones", doc="Greenfield zones at most (a cluster zone is added around every firm cluster)."
    )
    min_spacing_km: Number = setting(
        1.0,
        ge=0,
        unit="km",
        doc="Least distance between the edges of two zones (and from cluster zones); larger spreads zones out.",
    )
    compactness: Number = setting(
        0.1, ge=0, doc="How much a growing zone prefers round shapes over the best cells (0: suitability alone)."
    )
    quantile: Number = setting(
        0.85,
        ge=0,
        lt=1,
        unit="0..1",
        doc="Greenfield candidates are cells above this quantile of the allowed land's suitability.",
    )
    lowest_quantile: Number = setting(
        0.5,
        ge=0,
        lt=1,
        unit="0..1",
        doc="When fewer than `n` greenfield zones fit above `quantile`, the floor is lowered in steps of "
        "0.05 down to this quantile, keeping the zones already found (at or above `quantile`: never lowered).",
    )
    min_area_ha: Number = setting(50.0, gt=0, unit="ha", doc="Smallest zone.")
    max_area_ha: Number = setting(1000.0, gt=0, unit="ha", doc="Largest zone (a larger area keeps its best cells).")
    cluster_buffer_m: Number = setting(
        1000.0, ge=0, unit="m", doc="Allowed land within this distance of a cluster's firms makes its cluster zone."
    )
    score_weights: dict[StrictStr, Annotated[Number, Field(ge=0)]] = setting(
        {},
        default_text=", ".join(f"{k} {v:g}" for k, v in SCORE_WEIGHTS.items()),
        doc="Weights of the zone score's indicators, over the defaults key by key (0 drops one), each "
        "scaled by its maximum over the zones (`1 - x / max` where less is better): `suitability`, `symbiosis`, "
        "`symbiosis_reach`, `n_firms`, `market`, `materials`, `equal_access`, `rural_pop` (rural and fringe "
        "people within 30 minutes), `green_loss` (hectares of green space taken; less is better).",
    )
    top_k: StrictInt = setting(
        5, ge=1, unit="zones", doc="`p_top_k`: the share of weight draws in which a zone ranks in the top `top_k`."
    )
    stability_runs: StrictInt = setting(
        100, ge=0, unit="runs", doc="Weight draws for the rank stability; 0 turns the check off."
    )
    stability_concentration: Number = setting(
        100.0, gt=0, doc="Dirichlet concentration of those draws (larger draws tighter around the weights)."
    )
    stability_seed: StrictInt = setting(0, doc="Seed of those draws.")

    @field_validator("max_area_ha")
    @classmethod
    def _areas(cls, value: float, info: ValidationInfo) -> float:
        smallest = info.data.get("min_area_ha")
        if smallest is not None and value < smallest:
            msg = f"expected a number >= zones.min_area_ha ({smallest:g}), got {value:g}"
            raise ValueError(msg)
        return value

    def score_table(self) -> dict[str, float]:
        """The zone score's weights: :data:`SCORE_WEIGHTS` with this scenario's over them."""
        return {**SCORE_WEIGHTS, **self.score_weights}


#: The dask schedulers that run in this process (any other ``compute.scheduler`` is the address
#: of a ``dask.distributed`` scheduler).
LOCAL_SCHEDULERS: tuple[str, ...] = ("threads", "processes", "synchronous")
#: The protocols of a ``dask.distributed`` scheduler address.
_SCHEDULER_PROTOCOLS = ("tcp", "tls", "ws", "wss", "ucx", "inproc")
#: The smallest chunk (cells per side): smaller ones cost more in dask's bookkeeping than they save.
MIN_CHUNK = 16


class ComputeSettings(Settings):
    """``[compute]``: how the raster stages run, in memory or chunk by chunk with dask.

    They change how a run computes, never what: a chunked or distributed run writes the same
    rasters and zones as an in-memory one (see ``docs/compute.md``).
    """

    chunks: StrictInt | Literal["auto"] | None = setting(
        None,
        unit="cells per side",
        type_text='integer ≥ 16, or `"auto"`',
        default_text="none: every layer in memory",
        doc='Run the raster stages chunk by chunk with dask, in square chunks of this many cells (`"auto"`: '
        "2048, 16 MB per float32 chunk): reading and warping, criteria, MCDA, constraints, Monte Carlo, "
        "the per-cell travel times and the GeoTIFFs, written window by window.",
    )
    scheduler: StrictStr = setting(
        "threads",
        doc='Where the chunks run: `"threads"` (a thread pool in this process), `"processes"` (a process pool), '
        '`"synchronous"` (one at a time, for debugging), or the address of a `dask.distributed` scheduler, '
        '`"tcp://host:8786"`; a scheduler address without `chunks` runs with `chunks = "auto"`.',
    )
    connect_timeout_s: Number = setting(
        10.0, gt=0, unit="s", doc="How long to wait for the `dask.distributed` scheduler of `scheduler`."
    )
    spill: StrictBool = setting(
        True,
        doc="In a chunked run on this machine, hold the computed layers in a temporary folder (in `TMPDIR`, "
        "removed when the last layer reading it is gone) and read them back chunk by chunk, instead of "
        "holding them in memory: memory then follows the chunks, not the region. `false` holds them in "
        "memory (faster when they fit). On a `dask.distributed` cluster the workers hold them.",
    )

    @field_validator("chunks", mode="before")
    @classmethod
    def _chunk_size(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and value == "auto"):
            return value
        if isinstance(value, int) and not isinstance(value, bool) and value >= MIN_CHUNK:
            return value
        msg = (
            f'expected a whole number of cells per side >= {MIN_CHUNK} (2048 is a good start) or "auto", got {value!r}'
        )
        raise ValueError(msg)

    @field_validator("scheduler")
    @classmethod
    def _scheduler(cls, value: str) -> str:
        text = value.strip()
        if text in LOCAL_SCHEDULERS:
            return text
        protocol, sep, rest = text.partition("://")
        if sep and protocol in _SCHEDULER_PROTOCOLS and rest and not any(c.isspace() for c in rest):
            return text
        from eicgeo._validate import did_you_mean

        hint = did_you_mean(text, LOCAL_SCHEDULERS)
        if not sep and ":" in text and text.rsplit(":", 1)[1].isdigit():
            hint = f" (did you mean 'tcp://{text}'?)"
        msg = (
            f"expected {', '.join(repr(s) for s in LOCAL_SCHEDULERS)} or the address of a dask.distributed "
            f"scheduler such as 'tcp://host:8786', got {value!r}{hint}"
        )
        raise ValueError(msg)

    def chunk_size(self) -> int | None:
        """Cells per side of a chunk, or None for in memory (a scheduler address alone: ``"auto"``)."""
        chunks = self.chunks
        if chunks is None and self.scheduler not in LOCAL_SCHEDULERS:
            chunks = "auto"
        return AUTO_CHUNK if chunks == "auto" else chunks


#: The chunk of ``chunks = "auto"``: 2048 x 2048 cells, 16 MB as float32.
AUTO_CHUNK = 2048


#: The defaults, for the building blocks' keyword arguments.
GRID = GridSettings()
ROADS = RoadSettings()
FRINGE = FringeSettings()
MCDA = MCDASettings()
CONSTRAINTS = ConstraintSettings()
SYMBIOSIS = SymbiosisSettings()
CLUSTERING = ClusteringSettings()
ZONES = ZoneSettings()
COMPUTE = ComputeSettings()

#: The scenario sections (TOML tables) and their settings types, in the order of the docs.
SECTIONS: dict[str, type[Settings]] = {
    "grid": GridSettings,
    "inputs": InputSettings,
    "roads": RoadSettings,
    "fringe": FringeSettings,
    "criteria": Criterion,
    "mcda": MCDASettings,
    "constraints": ConstraintSettings,
    "symbiosis": SymbiosisSettings,
    "clustering": ClusteringSettings,
    "zones": ZoneSettings,
    "compute": ComputeSettings,
}


# --------------------------------------------------------------------------------------------
def _type_text(annotation: Any) -> str:
    """How the docs name a field's type."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)) and len(args) == 1:
        return _type_text(args[0])
    if origin is Annotated:
        return _type_text(args[0])
    if origin is Literal:
        return "string"
    if origin is tuple:
        if len(args) == 4 and all(_type_text(a) == "number" for a in args):
            return "list of 4 numbers"
        if args and args[-1] is Ellipsis:
            inner = _type_text(args[0])
            if inner == "list of 2 numbers":
                return "list of `[x, y]`"
            plural = {
                "string": "strings",
                "number": "numbers",
                "table": "tables",
                "list of numbers": "lists of numbers",
            }
            return f"list of {plural.get(inner, inner)}"
        if len(args) == 2:
            return "list of 2 numbers"
    if origin is dict:
        return "table"
    if annotation in (float, int) or annotation is StrictInt:
        return "integer" if annotation in (int, StrictInt) else "number"
    if isinstance(annotation, type):
        if issubclass(annotation, bool):
            return "true/false"
        if issubclass(annotation, int):
            return "integer"
        if issubclass(annotation, float):
            return "number"
        if issubclass(annotation, str):
            return "string"
        if issubclass(annotation, Path):
            return "path"
        if issubclass(annotation, Settings):
            return "table"
    return "value"


def _bounds_text(info: Any) -> str:
    parts = []
    for meta in info.metadata:
        for attr, symbol in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            value = getattr(meta, attr, None)
            if value is not None:
                parts.append(f"{symbol} {value:g}")
    return " " + ", ".join(parts) if parts else ""


def _default_text(info: Any) -> str:
    extra = info.json_schema_extra or {}
    if "default_text" in extra:
        return str(extra["default_text"])
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, tuple):
        return "`[" + ", ".join(f'"{v}"' if isinstance(v, str) else f"{v:g}" for v in value) + "]`"
    return f"`{value}`"


def markdown_table(section: str) -> str:
    """The key table of ``docs/scenario.md`` for one section (``"top"`` for the keys above the
    sections), from the declarations."""
    model = Header if section == "top" else SECTIONS[section]
    prefix = "criteria.NAME" if section == "criteria" else section
    rows = ["| key | type | unit | default | meaning |", "| --- | --- | --- | --- | --- |"]
    for name, info in model.model_fields.items():
        kind = (info.json_schema_extra or {}).get("type_text") or _type_text(info.annotation) + _bounds_text(info)
        unit = (info.json_schema_extra or {}).get("unit", "–")
        key = name if section == "top" else f"{prefix}.{name}"
        rows.append(f"| `{key}` | {kind} | {unit} | {_default_text(info)} | {info.description} |")
        if section == "mcda" and name == "ahp":
            for sub, sub_info in AHPSettings.model_fields.items():
                kind = _type_text(sub_info.annotation) + _bounds_text(sub_info)
                unit = (sub_info.json_schema_extra or {}).get("unit", "–")
                default = "–" if sub_info.is_required() else _default_text(sub_info)
                rows.append(f"| `mcda.ahp.{sub}` | {kind} | {unit} | {default} | {sub_info.description} |")
    return "\n".join(rows)
