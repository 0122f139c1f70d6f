"""``run(scenario) -> Result``: every stage of the data flow, in order, timed.

:func:`_run` reads as the list of stages: grid → land cover → population → roads → fringe →
sources and firms → symbiosis → criteria → suitability and constraints → zones. Each stage is
a short function that takes the inputs and the settings (:mod:`eicgeo.settings`) it needs and
returns what the next ones use. Symbiosis (links, unmatched outputs, firm clusters) runs before
the criteria, which may use its unmatched by-products (``symbiosis_potential``). Named places
(:mod:`eicgeo.places`) are read with the other inputs, and each ranked zone gets ``where`` ("4 km
north-east of <town>"), ``lon`` and ``lat``. Missing inputs skip the criteria that need them;
the result (and ``report.md``) says what was skipped and why.

A run computes as ``[compute]`` says (:mod:`eicgeo.compute`): in memory, or with ``chunks`` every
raster stage chunk by chunk with dask, on this machine or on a ``dask.distributed`` cluster,
with the same outputs. Each stage's seconds and peak memory are in ``Result.timings`` and
``Result.memory`` (and ``manifest.json``).

Examples
--------
The sample region on 2 km cells without its road network: the travel times are straight-line
estimates, and the result says so.

>>> import eicgeo
>>> scenario = eicgeo.load_sample().replace(resolution=2000, without=["roads"])
>>> result = eicgeo.run(scenario, progress=False)
>>> result.skipped, sorted(result.fallbacks)[:2]
([], ['market_access', 'material_access:bagasse'])
>>> result.grid.shape, len(result.weights)
((25, 26), 12)
>>> result.zones["kind"].value_counts().to_dict()
{'greenfield': 9, 'cluster': 8}
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import xarray as xr
from pyproj import CRS, Transformer

from eicgeo import compute, constraints, io, materials, mcda, places, roads, symbiosis, zones
from eicgeo import criteria as crit
from eicgeo import fringe as fr
from eicgeo._errors import (
    CoverageWarning,
    EicgeoError,
    EicgeoWarning,
    InputError,
    NetworkError,
    RankingWarning,
    ScenarioError,
)
from eicgeo.clustering import FirmClusterer
from eicgeo.grid import Grid
from eicgeo.legends import ROLE_CODE, Legend, get_legend
from eicgeo.scenario import Scenario, read_scenario

with warnings.catch_warnings():
    # In Jupyter without ipywidgets tqdm.auto falls back to text bars, which work; its warning
    # about that would greet every planner at `import eicgeo`.
    warnings.filterwarnings("ignore", message="IProgress not found")
    from tqdm.auto import tqdm

__all__ = ["STAGES", "Check", "Result", "check", "run"]

T = TypeVar("T")

STAGES = (
    "grid",
    "landcover",
    "population",
    "sources_firms",
    "places",
    "roads",
    "fringe",
    "symbiosis",
    "criteria",
    "suitability",
    "zones",
)


@dataclass
class Result:
    """Everything a run produced. Layers are DataArrays on ``grid``; vectors are in its CRS.

    Examples
    --------
    >>> import eicgeo
    >>> result = eicgeo.run(eicgeo.load_sample().replace(resolution=2000, without=["roads"]), progress=False)
    >>> result.suitability.dtype, result.fringe.dtype, float(result.suitability.max()) <= 1
    (dtype('float32'), dtype('uint8'), True)
    >>> result.summary().index.name, list(result.summary().columns[:3])
    ('rank', ['zone', 'kind', 'area (ha)'])
    """

    scenario: Scenario
    grid: Grid
    layers: xr.Dataset
    criteria: xr.Dataset
    suitability: xr.DataArray
    fringe: xr.DataArray
    excluded: xr.DataArray
    zones: gpd.GeoDataFrame
    firms: gpd.GeoDataFrame
    links: gpd.GeoDataFrame
    sources: gpd.GeoDataFrame
    clusters: gpd.GeoDataFrame
    degurba: xr.DataArray | None = None
    weights: dict[str, float] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    #: Each stage's memory (MB): this process's resident set at its start and end and its peak
    #: in between (sampled every 10 ms; with the ``processes`` scheduler its worker processes'
    #: too), and on a ``dask.distributed`` cluster the workers' total at its end.
    memory: dict[str, dict[str, float]] = field(default_factory=dict)
    #: How the run computed: ``mode`` (in memory or chunked), ``chunks``, ``scheduler``, and the
    #: cluster's ``workers`` on a ``dask.distributed`` scheduler.
    compute: dict[str, Any] = field(default_factory=dict)
    network: dict[str, Any] = field(default_factory=dict)
    symbiosis_metrics: dict[str, Any] = field(default_factory=dict)
    unmatched: gpd.GeoDataFrame | None = None
    cluster_metrics: pd.DataFrame | None = None
    main_roads: gpd.GeoDataFrame | None = None
    vocabulary: materials.Vocabulary = materials.BUILTIN
    fallbacks: dict[str, str] = field(default_factory=dict)
    criteria_diagnostics: dict[str, dict[str, float]] = field(default_factory=dict)
    cautions: list[str] = field(default_factory=list)
    #: Named places (``name``, ``place``, ``population``, points in the grid CRS) within 10 km of
    #: the study area, from ``inputs.places`` or the OSM ``inputs.roads``; empty without them.
    places: gpd.GeoDataFrame | None = None

    def summary(self, *, all: bool = False) -> pd.DataFrame:
        """The ranked zones for reading: rounded, units in the headers, counts as whole numbers
        (``all=True``: every column); see :func:`eicgeo.explain.summary`. ``zones`` keeps the raw
        values."""
        from eicgeo import explain

        return explain.summary(self, all=all)

    def explain(self, zone: int) -> Any:
        """Each criterion's part of a zone's suitability beside the region's median allowed cell,
        and each indicator's part of its score (see :func:`eicgeo.explain.explain`)."""
        from eicgeo import explain

        return explain.explain(self, zone)

    def explore(self, **kwargs: Any):
        """Interactive Folium map of the result (see :func:`eicgeo.maps.explore`)."""
        from eicgeo import maps

        return maps.explore(self, **kwargs)

    def tune(self, **kwargs: Any):
        """The live weight explorer of this run, as ipywidgets (see :func:`eicgeo.tune.tune`)."""
        from eicgeo.tune import tune

        return tune(self, **kwargs)

    def save(self, out: str | Path, *, offline: bool = False, overwrite: bool = False) -> Path:
        """Write the output folder atomically (see the README for its contents).

        ``out`` must be new, empty, or a folder eicgeo wrote before (which is replaced). A folder
        holding other files is refused unless ``overwrite``, which writes the outputs beside them;
        eicgeo never deletes or changes a file it did not write (see
        :func:`eicgeo.io.output_folder`).

        Raises
        ------
        OutputFolderError
            If ``out`` is a file, holds files eicgeo did not write (without ``overwrite``) or
            one with an output's name, or another run is writing it.
        """
        from eicgeo import report

        t0 = time.perf_counter()
        meter = compute.Meter()
        try:
            with io.output_folder(
                out, overwrite=overwrite, names=report.output_names(), protect=self.scenario.input_paths()
            ) as stage:
                with meter.stage(self.memory, "outputs"):
                    report.write_outputs(self, stage, offline=offline)
                self.timings["outputs"] = time.perf_counter() - t0
                report.write_manifest(self, stage)
        finally:
            meter.close()
        return Path(out)

    def _repr_html_(self) -> str:
        """Jupyter: the run at a glance, then the ranked zones (``.explore()`` draws the map)."""
        import html

        g = self.grid
        facts = {
            "scenario": self.scenario.name,
            "grid": f"{g.crs.to_string()}, {g.resolution:g} m cells, {g.width} x {g.height}",
            "candidate zones": f"{len(self.zones)}",
            "firms / symbiosis links": f"{len(self.firms)} / {len(self.links)}",
            "criteria (weight)": ", ".join(f"{k} ({w:.2f})" for k, w in self.weights.items()),
            "skipped criteria": ", ".join(k for k, _ in self.skipped) or "none",
            "run time": f"{sum(self.timings.values()):.1f} s",
        }
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>{html.escape(v)}</td>"
            "</tr>"
            for k, v in facts.items()
        )
        # the columns a planner reads first, so the table fits a notebook's width
        table = self.summary().iloc[:, :8]
        zones = table.to_html(na_rep="–") if len(self.zones) else "<p>No zone was found.</p>"
        return (
            f"<b>eicgeo result</b><table class='eicgeo-summary'>{rows}</table>"
            f"<b>Ranked candidate zones</b> (<code>.summary()</code> for every figure, <code>.explain(zone)</code> "
            f"for why, <code>.explore()</code> for the map){zones}"
        )


#: Stages after which the garbage collector runs (after every stage, the freed memory goes back
#: to the system, :func:`eicgeo.compute.release_memory`): xarray caches rioxarray's accessor on a layer
#: and the accessor refers back to it, so the layers these stages drop (raw surfaces before their
#: land mask, intermediate criteria) are reference cycles that would otherwise hold their values
#: until Python's oldest generation is next collected (0.13 s a collection on L; ~110 MB on L at
#: 100 m, ~450 MB at 50 m).
_COLLECT_AFTER = frozenset({"criteria", "zones"})


class _Clock:
    """Times the stages, measures their memory (:class:`eicgeo.compute.Meter`) and shows
    progress: a bar over the stages, and a nested bar for the long loops inside a stage
    (:meth:`track`). ``progress=False`` silences both."""

    def __init__(self, progress: bool, *, memory: bool = False):
        self.timings: dict[str, float] = {}
        self.memory: dict[str, dict[str, float]] = {}
        self.meter = compute.Meter() if memory else None
        self.progress = progress
        self.bar = tqdm(total=len(STAGES), desc="eicgeo", unit="stage", disable=not progress, leave=False)

    def track(self, items: Iterable[T], desc: str, *, total: int | None = None, unit: str = "it") -> Iterable[T]:
        """``items``, with a nested progress bar below the stage bar."""
        return tqdm(items, desc=f"  {desc}", total=total, unit=unit, disable=not self.progress, leave=False, position=1)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.bar.set_postfix_str(name)
        t0 = time.perf_counter()
        with self.meter.stage(self.memory, name) if self.meter is not None else contextlib.nullcontext():
            yield
            compute.release_memory(collect=name in _COLLECT_AFTER)
        self.timings[name] = time.perf_counter() - t0
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
        if self.meter is not None:
            self.meter.close()


def _untracked(items: Iterable[T], desc: str, **kwargs: Any) -> Iterable[T]:
    """:meth:`_Clock.track` without a clock: the items as they are."""
    return items


def run(
    scenario: Scenario | str | Path,
    out: str | Path | None = None,
    progress: bool = True,
    *,
    offline: bool = False,
    overwrite: bool = False,
) -> Result:
    """Run a scenario end to end.

    Parameters
    ----------
    scenario : Scenario or path to a TOML file
    out : path, optional
        Write the output folder here (atomically) when given. It is checked, and locked against
        other runs, before any stage starts (see :meth:`Result.save`).
    progress : bool
        Show a progress bar over the stages.
    offline : bool
        Make ``map.html`` self-contained (no CDN).
    overwrite : bool
        Write into a folder that holds files eicgeo did not write, beside them.

    Raises
    ------
    InputError
        Among the input errors: a ``compute.scheduler`` that cannot be reached within
        ``compute.connect_timeout_s``, before any stage runs.

    Examples
    --------
    >>> import tempfile, pathlib, eicgeo
    >>> scenario = eicgeo.load_sample().replace(resolution=2000, without=["roads"], zones={"n": 3})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     result = run(scenario, out=pathlib.Path(tmp) / "run", progress=False)
    ...     print((pathlib.Path(tmp) / "run" / "manifest.json").is_file())
    True
    >>> int((result.zones["kind"] == "greenfield").sum())
    3
    """
    from eicgeo import report

    if not isinstance(scenario, Scenario):
        scenario = read_scenario(scenario)
    with contextlib.ExitStack() as hold:
        if out is not None:
            # Refuse a folder that cannot be written now, not after the heavy stages.
            hold.enter_context(io.folder_lock(out))
            io.inspect_folder(out, overwrite=overwrite, names=report.output_names(), protect=scenario.input_paths())
        # In memory, chunked, or on a cluster ([compute]); an unreachable scheduler stops here.
        session = hold.enter_context(compute.session(scenario.compute))
        clock = _Clock(progress, memory=True)
        skipped: list[tuple[str, str]] = []
        notes: list[str] = []
        try:
            result = _run(scenario, clock, skipped, notes)
        finally:
            clock.close()
        result.memory = dict(clock.memory)
        result.compute = session.describe()
        if out is not None:
            result.save(out, offline=offline, overwrite=overwrite)
        if session.client is not None:
            _gather(result)  # the workers' chunks go with the client: the result keeps its layers here
    return result


def _gather(result: Result) -> None:
    """Every dask-backed layer of ``result`` computed into this process (from the cluster)."""
    result.layers = result.layers.load()
    result.criteria = result.criteria.load()
    for name in ("suitability", "fringe", "excluded", "degurba"):
        layer = getattr(result, name)
        if layer is not None:
            setattr(result, name, layer.load())


def _run(s: Scenario, clock: _Clock, skipped: list[tuple[str, str]], notes: list[str]) -> Result:
    """The stages, in order; each takes what it needs and returns what the next ones use."""
    prepared, problems = _prepare(s, clock, notes)
    _raise(problems, s)
    grid, land, population, found = prepared.grid, prepared.land, prepared.population, prepared.found
    with clock.stage("roads"):
        net = _roads(s, grid, notes)
    with clock.stage("fringe"):
        fr = _fringe(s, land, population, net, notes)
    with clock.stage("symbiosis"):
        sym = _symbiosis(s, found, net)
    with clock.stage("criteria"):
        made, masks = _constraint_layers(s, grid, land, notes)
        reference = _allowed_land(s, grid, land, fr, made, masks)
        built = _criteria(s, grid, land, fr, net, found, sym, reference, clock.track)
        diagnostics = _diagnose(built, reference, notes)
        skipped.extend(built.skipped)
    with clock.stage("suitability"):
        suit = _suitability(s, grid, land, fr, built, made, masks)
    with clock.stage("zones"):
        candidates = _candidates(s, grid, fr, sym, suit, notes)
        context = (grid, population, net, fr, found.vocab)
        ranked = _ranked(s, candidates, context, sym, built, suit, notes, clock.track)
        ranked = places.describe_zones(ranked, prepared.places)
        cautions = _cautions(s, ranked, suit, built, diagnostics, reference, notes)
    if net.network is not None:
        net.network.forget_lookups()  # 8 bytes per cell and road tier; the outputs do not need them
    layers = {**land.layers, **({"population": population} if population is not None else {})}
    layers["green_space"] = fr.green
    layers.update(built.raw)
    layers.update(suit.layers)
    # Every float layer shares the land cover's NaN mask (criteria are masked as they are built).
    on_land = land.roles != ROLE_CODE["nodata"]
    layers = {k: crit.on_land(v, on_land) for k, v in layers.items()}
    # Chunked, the layers are held in chunks (on the cluster's workers with a scheduler), each
    # computed once for every output that reads it.
    names, held = list(layers), compute.persist(*layers.values())
    layers = dict(zip(names, held, strict=True))
    return Result(
        scenario=s,
        grid=grid,
        layers=xr.Dataset(layers),
        criteria=xr.Dataset(built.standard),
        suitability=suit.suitability,
        fringe=fr.fringe,
        excluded=suit.excluded,
        zones=ranked,
        firms=sym.firms,
        links=sym.links,
        sources=found.sources,
        clusters=sym.clusters,
        degurba=fr.smod,
        weights=mcda.normalize_weights(built.weights),
        skipped=skipped,
        notes=notes,
        timings=dict(clock.timings),
        network=net.summary,
        symbiosis_metrics=sym.metrics,
        unmatched=sym.unmatched,
        cluster_metrics=sym.cluster_table,
        main_roads=net.main,
        vocabulary=found.vocab,
        fallbacks=built.fallbacks,
        criteria_diagnostics=diagnostics,
        cautions=cautions,
        places=prepared.places,
    )


# --------------------------------------------------------------------------------------------
# the stages
# --------------------------------------------------------------------------------------------
@dataclass
class _Prepared:
    grid: Grid | None = None
    land: _Land | None = None
    population: xr.DataArray | None = None
    found: _Found | None = None
    places: gpd.GeoDataFrame | None = None


Problems = list[tuple[str, EicgeoError]]


def _prepare(s: Scenario, clock: _Clock, notes: list[str]) -> tuple[_Prepared, Problems]:
    """The stages that check every input before the heavy ones: grid, land cover, population,
    the vocabulary, sources and firms, and the headers of the roads, elevation model and
    constraint layers. Every problem found, with its key; ``eicgeo validate`` reports them all
    and :func:`run` stops on them."""
    problems: Problems = []
    out = _Prepared()

    def attempt(key: str, step: Callable[[], T]) -> T | None:
        try:
            return step()
        except EicgeoError as err:
            problems.append((key, err))
            return None

    where = "grid.bounds" if s.grid.bounds is not None else "inputs.landcover"
    with clock.stage("grid"):
        out.grid = attempt(where, lambda: _grid(s))
    grid = out.grid
    if grid is not None:
        with clock.stage("landcover"):
            out.land = attempt("inputs.landcover", lambda: _landcover(s, grid))
        land = out.land
        if land is not None:
            with clock.stage("population"):
                out.population = attempt("inputs.population", lambda: _population(s, grid, land, notes))
    with clock.stage("sources_firms"):
        vocab = attempt("inputs.materials", lambda: _vocabulary(s))
        if vocab is not None and grid is not None:
            sources = attempt("inputs.sources", lambda: _sources(s, grid, vocab, notes))
            firms = attempt("inputs.firms", lambda: _firms(s, grid, vocab, notes))
            if sources is not None and firms is not None:
                out.found = _Found(vocab, sources, firms)
    n_problems = len(problems)
    if s.inputs.roads is not None:
        attempt("inputs.roads", lambda: roads.check_source(s.inputs.roads))
    with clock.stage("places"):
        if grid is not None and (s.inputs.places is not None or len(problems) == n_problems):
            key = "inputs.places" if s.inputs.places is not None else "inputs.roads"
            out.places = attempt(key, lambda: _places(s, grid))
    if grid is not None and s.constraints.slope_max_deg is not None and s.inputs.dem is not None:
        attempt("inputs.dem", lambda: io.check_raster(s.inputs.dem, grid, what="inputs.dem"))
    for i, layer in enumerate(s.constraints.layers):
        what = f"constraints.layers[{i}]"
        if grid is not None and layer.path.name.lower().endswith(io.RASTER_SUFFIXES):
            attempt(what, lambda layer=layer, what=what: io.check_raster(layer.path, grid, what=what))
        elif grid is not None:
            attempt(what, lambda layer=layer, what=what: io.read_vector(layer.path, what=what, crs=grid.crs))
    return out, problems


def _raise(problems: Problems, s: Scenario) -> None:
    """One problem raises its own error; several, one error listing them all."""
    if len(problems) == 1:
        raise problems[0][1]
    if problems:
        raise ScenarioError([(key, str(err)) for key, err in problems], str(s.source_file) if s.source_file else None)


@dataclass
class Check:
    """What ``eicgeo validate`` finds: every input problem (key, message), the criteria the run
    would skip (criterion, why), the notes of the checked stages (coverage, dropped firms), and
    the travel-time criteria that will be straight-line estimates, in whole or for the last mile
    (criterion, how)."""

    problems: list[tuple[str, str]]
    skipped: list[tuple[str, str]]
    notes: list[str]
    estimated: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check(scenario: Scenario | str | Path) -> Check:
    """Check a scenario's inputs as :func:`run` does before its heavy stages, reporting every
    problem at once instead of stopping at the first.

    Examples
    --------
    >>> import eicgeo
    >>> found = check(eicgeo.load_sample().replace(without=["sources"]))
    >>> found.ok, [name for name, _ in found.skipped]
    (True, ['material_access', 'equal_access'])
    """
    s = scenario if isinstance(scenario, Scenario) else read_scenario(scenario)
    notes: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EicgeoWarning)  # they are in the notes
        _, problems = _prepare(s, _Clock(progress=False), notes)
    skipped = _predicted_skips(s)
    return Check([(key, str(err)) for key, err in problems], skipped, notes, _predicted_estimates(s, skipped))


def _predicted_estimates(s: Scenario, skipped: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The weighted travel-time criteria that will be straight-line estimates, and how."""
    r = s.roads
    if s.inputs.roads is None:
        how = f"no road network (inputs.roads): straight-line distance x {r.detour:g} at {r.fallback_kph:g} km/h"
    elif r.coverage == "main":
        how = (
            f"main roads only (roads.coverage = main): the last mile is the straight line x {r.detour:g} "
            f"at {r.fallback_kph:g} km/h"
        )
    else:
        return []
    dropped = {name for name, _ in skipped}
    names = dict.fromkeys(name.split(":")[0] for name in s.weights() if name not in dropped)
    return [(name, how) for name in names if (spec := crit.REGISTRY.get(name)) is not None and spec.travel_time]


def _predicted_skips(s: Scenario) -> list[tuple[str, str]]:
    """The weighted criteria whose inputs the scenario does not give."""
    reasons = {
        "roads": "no road network (inputs.roads)",
        "sources": "no raw-material sources (inputs.sources)",
        "firms": "no firm register (inputs.firms)",
    }
    out = []
    for name in s.weights():
        spec = crit.REGISTRY.get(name.split(":")[0])
        missing = [need for need in (spec.needs if spec else ()) if getattr(s.inputs, need) is None]
        if missing:
            out.append((name, reasons[missing[0]]))
    return out


def _grid(s: Scenario) -> Grid:
    """The analysis grid: the scenario's bounds, else the land cover's footprint. It must be able
    to hold a zone: a grid smaller than ``zones.min_area_ha`` could only give an empty ranking."""
    g = s.grid
    if g.bounds is not None:
        grid = Grid.from_bounds(g.bounds, g.resolution, g.crs, bounds_crs=g.bounds_crs)
        where = "grid.bounds"
    else:
        bounds, src_crs = io.raster_footprint(s.inputs.landcover, "landcover")
        grid = Grid.from_bounds(bounds, g.resolution, g.crs, bounds_crs=src_crs)
        where = f"landcover {str(s.inputs.landcover)!r}"
    area_ha = grid.width * grid.height * grid.cell_area_m2 / 10_000
    if grid.width < 2 or grid.height < 2 or area_ha < s.zones.min_area_ha:
        msg = (
            f"the study area ({where}) is {grid.height} x {grid.width} cells of {grid.resolution:g} m "
            f"({area_ha:,.0f} ha); expected at least 2 x 2 cells and room for one zone of zones.min_area_ha "
            f"({s.zones.min_area_ha:g} ha): give a larger area or a finer grid.resolution"
        )
        raise InputError(msg)
    return grid


@dataclass
class _Land:
    legend: Legend
    classes: xr.DataArray
    roles: xr.DataArray

    @property
    def layers(self) -> dict[str, xr.DataArray]:
        return {"landcover_class": self.classes, "landcover_role": self.roles}


def _landcover(s: Scenario, grid: Grid) -> _Land:
    """Land-cover classes on the grid, every code in the legend, and their roles."""
    legend = get_legend(s.inputs.legend)
    path = s.inputs.landcover
    chunks = compute.current().chunks
    classes = io.read_raster(path, grid, kind="categorical", name="landcover_class", what="landcover", chunks=chunks)
    (classes,) = compute.persist(classes)  # read and warped chunk by chunk, once
    if not bool((classes > 0).any()):
        msg = (
            f"landcover {str(path)!r} has no data over the study area (every cell is nodata); "
            "expected class codes, with 0 or the raster's nodata value only outside the region"
        )
        raise InputError(msg)
    present = np.unique(classes.data).compute() if compute.is_lazy(classes) else np.asarray(classes.values)
    unknown = legend.unknown_codes(present)
    if unknown:
        msg = (
            f"landcover {str(path)!r} has class codes {unknown[:10]} that legend {legend.name!r} "
            f"does not list; expected codes {legend.codes[:12]}... (is inputs.legend right?)"
        )
        raise InputError(msg)
    if not compute.is_lazy(classes):
        return _Land(legend, classes, crit.landcover(classes, legend))
    # chunk by chunk: the role of each class code is a lookup cell by cell
    roles = classes.data.map_blocks(legend.role_codes, dtype=np.uint8)
    attrs = {"units": "land-cover role code", "legend": legend.name}
    (roles,) = compute.persist(grid.wrap(roles, "landcover", attrs=attrs))
    return _Land(legend, classes, roles)


def _population(s: Scenario, grid: Grid, land: _Land, notes: list[str]) -> xr.DataArray | None:
    if s.inputs.population is None:
        return None
    path = s.inputs.population
    chunks = compute.current().chunks
    population = io.read_raster(path, grid, kind="quantity", name="population", what="population", chunks=chunks)
    (population,) = compute.persist(population)
    _coverage(population, land, f"population {str(path)!r}", notes)
    return population


def _coverage(layer: xr.DataArray, land: _Land, label: str, notes: list[str]) -> None:
    """A layer must have data where the land cover has; one that covers part of it is a named
    warning (its cells outside are nodata, not zero), one that covers none an error."""
    # reductions, chunk by chunk when the layers are dask-backed
    has_land = land.classes > 0
    covered = layer.notnull() & has_land
    share = int(covered.sum()) / max(int(has_land.sum()), 1)
    if share == 0:
        msg = f"{label} has no data over the study area (it is nodata wherever the land cover has data)"
        raise InputError(msg)
    if share < 0.99:
        message = (
            f"{label} covers {share:.0%} of the land-cover area; the rest is nodata (not zero), and the "
            "criteria and zones there go without it"
        )
        warnings.warn(message, CoverageWarning, stacklevel=3)
        notes.append(message)


@dataclass
class _Roads:
    arrays: roads.RoadNetwork | None = None
    network: roads.CompiledNetwork | None = None
    main: gpd.GeoDataFrame | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def graph(self) -> Any:
        """The networkx graph of the roads, built on first use (None without roads)."""
        return None if self.arrays is None else self.arrays.to_graph()


def _roads(s: Scenario, grid: Grid, notes: list[str]) -> _Roads:
    """The road graph, compiled for travel times on the grid, and its main roads for the maps."""
    if s.inputs.roads is None:
        r = s.roads
        notes.append(
            f"no road network: travel times are straight-line distances x {r.detour:g} at {r.fallback_kph:g} km/h "
            "(roads.detour, roads.fallback_kph)"
        )
        return _Roads()
    net = _load_network(s.inputs.roads, crs=grid.crs, speeds=dict(s.roads.speeds) or None, snap_m=s.roads.snap_m)
    west, south, east, north = grid.bounds
    xs, ys = net.node_xy[:, 0], net.node_xy[:, 1]
    node_crs = CRS.from_user_input(net.crs)
    if node_crs != grid.crs:  # pragma: no cover - the loader projects to the grid's CRS
        xs, ys = Transformer.from_crs(node_crs, grid.crs, always_xy=True).transform(xs, ys)
    if not (min(xs) <= east and max(xs) >= west and min(ys) <= north and max(ys) >= south):
        msg = (
            f"roads {str(s.inputs.roads)!r} does not overlap the study area: its roads span "
            f"x {min(xs):,.0f}..{max(xs):,.0f}, y {min(ys):,.0f}..{max(ys):,.0f} and the study area "
            f"x {west:,.0f}..{east:,.0f}, y {south:,.0f}..{north:,.0f} ({grid.crs.to_string()}); expected "
            "an extract that covers the region"
        )
        raise NetworkError(msg)
    dropped = net.dropped
    summary = {
        "nodes": net.number_of_nodes(),
        "edges": net.number_of_edges(),
        "km": round(net.edge_km(), 1),
        "dropped_nodes": dropped.get("nodes", 0),
        "dropped_length_share": round(dropped.get("length_share", 0.0), 4),
    }
    network = net.compile(spacing_m=grid.resolution)
    return _Roads(net, network, net.main_roads(), summary)


@dataclass
class _Fringe:
    fringe: xr.DataArray
    green: xr.DataArray
    smod: xr.DataArray | None = None


def _fringe(s: Scenario, land: _Land, population: xr.DataArray | None, net: _Roads, notes: list[str]) -> _Fringe:
    """Urban, fringe and rural land: the Degree of Urbanisation when there is population, else
    the land-cover built-up gradient; and the residual green space next to the built-up edge."""
    f = s.fringe
    if f.method == "degurba" and population is None:
        msg = "fringe.method: 'degurba' needs inputs.population, a population raster (people per cell)"
        raise InputError(msg)
    smod = None
    if population is not None and f.method in ("auto", "degurba"):
        water = xr.where(land.roles == ROLE_CODE["water"], 1.0, 0.0)
        smod = fr.degurba(population, cell_m=f.cell_m, water_share=water, **f.rules)
        band_minutes = f.band_minutes
        if band_minutes is not None and net.network is None:
            notes.append("fringe.band_minutes needs a road network: the fringe band is fringe.band_km instead")
            band_minutes = None
        fringe = fr.classes(
            smod,
            band_km=f.band_km,
            band_minutes=band_minutes,
            network=net.network,
            offroad_kph=s.roads.last_mile_kph(),
        )
    else:
        if population is None:
            notes.append("no population grid: the fringe comes from the land-cover built-up gradient")
        fringe = fr.from_landcover(
            land.classes,
            land.legend,
            radius_m=f.radius_m,
            urban_share=f.urban_share,
            fringe_share=f.fringe_share,
            green_m=f.green_m,
            min_core_km2=f.min_core_km2,
            breakpoint=f.breakpoint,
        )
    fringe = fringe.where(land.classes > 0, 0).astype(np.uint8).rio.write_nodata(0, encoded=False)
    green = fr.green_space(land.classes, land.legend, fringe=fringe, distance_m=f.green_distance_m)
    return _Fringe(fringe, green, smod)


@dataclass
class _Found:
    vocab: materials.Vocabulary
    sources: gpd.GeoDataFrame
    firms: gpd.GeoDataFrame


def _vocabulary(s: Scenario) -> materials.Vocabulary:
    """The run's material vocabulary: the built-in one plus the scenario's own tables."""
    i = s.inputs
    if i.materials is None and i.synergies is None and i.sectors is None:
        return materials.BUILTIN
    return materials.vocabulary(materials=i.materials, synergies=i.synergies, sectors=i.sectors)


def _sources(s: Scenario, grid: Grid, vocab: materials.Vocabulary, notes: list[str]) -> gpd.GeoDataFrame:
    """Raw-material sources naming the vocabulary's materials; those outside are dropped."""
    if s.inputs.sources is None:
        return _empty_points(grid, ["material", "tonnes_per_year"])
    return _inside(io.read_sources(s.inputs.sources, crs=grid.crs, vocab=vocab), grid, "sources", notes)


def _firms(s: Scenario, grid: Grid, vocab: materials.Vocabulary, notes: list[str]) -> gpd.GeoDataFrame:
    """The firm register; firms outside the study area are dropped with a warning."""
    if s.inputs.firms is None:
        return _empty_points(grid, ["firm_id", "name", "sector", "inputs", "outputs"])
    return _inside(io.read_firms(s.inputs.firms, crs=grid.crs, vocab=vocab), grid, "firms", notes)


#: How far beyond the study area places are kept (m): a zone near the edge may be nearest to a
#: town outside it.
_PLACES_MARGIN_M = 10_000.0


def _places(s: Scenario, grid: Grid) -> gpd.GeoDataFrame:
    """Named places within the margin of the study area: ``inputs.places``, else the place nodes
    of an OSM ``inputs.roads``, else none."""
    path, what = s.inputs.places, "places"
    if path is None and s.inputs.roads is not None and s.inputs.roads.name.lower().endswith(places.OSM_SUFFIXES):
        path, what = s.inputs.roads, "roads"  # a broken roads file is the roads' error
    if path is None:
        return places.empty(grid.crs)
    found = places.read_places(path, crs=grid.crs, what=what)
    west, south, east, north = grid.bounds
    m = _PLACES_MARGIN_M
    return found.cx[west - m : east + m, south - m : north + m].reset_index(drop=True)


@dataclass
class _Symbiosis:
    firms: gpd.GeoDataFrame
    links: gpd.GeoDataFrame
    unmatched: gpd.GeoDataFrame
    clusters: gpd.GeoDataFrame
    metrics: dict[str, Any]
    cluster_table: pd.DataFrame | None


def _symbiosis(s: Scenario, found: _Found, net: _Roads) -> _Symbiosis:
    """By-product links (road distances when there is a network), what finds no user, and the
    clusters of firms."""
    sym, vocab, firms = s.symbiosis, found.vocab, found.firms
    links = symbiosis.match(
        firms,
        net.network,
        sym.max_km,
        detour=sym.detour,
        kinds=sym.kinds,
        co2_factors=dict(sym.co2_factors) or None,
        transport_kg_per_tkm=sym.transport_kg_per_tkm,
        vocab=vocab,
    )
    metrics = symbiosis.metrics(firms, links, vocab=vocab) if len(firms) else {}
    unmatched = symbiosis.unmatched(firms, links, kinds=sym.kinds, vocab=vocab)
    if not len(firms):
        clusters = gpd.GeoDataFrame({"cluster": [], "n_firms": []}, geometry=[], crs=firms.crs)
        return _Symbiosis(firms, links, unmatched, clusters, metrics, None)
    c = s.clustering
    clusterer = FirmClusterer(
        method=c.method,
        min_cluster_size=c.min_cluster_size,
        eps_m=c.eps_m,
        min_samples=c.min_samples,
        hull_buffer_m=c.hull_buffer_m,
        link_scale_t=c.link_scale_t,
    ).fit(firms, links=links, vocab=vocab)
    firms = firms.assign(cluster=clusterer.labels_)
    table = symbiosis.cluster_metrics(firms, links, vocab=vocab)
    return _Symbiosis(firms, links, unmatched, clusterer.clusters_, metrics, table)


def _criteria(
    s: Scenario,
    grid: Grid,
    land: _Land,
    fr_: _Fringe,
    net: _Roads,
    found: _Found,
    sym: _Symbiosis,
    reference: xr.DataArray,
    track: Callable[..., Iterable],
) -> crit.Built:
    """Every weighted criterion of the registry (:data:`eicgeo.criteria.REGISTRY`), and the user
    rasters, read here; percentile thresholds are taken over ``reference``, the allowed land."""
    weights = s.weights()
    chunks = compute.current().chunks
    rasters = {
        name: io.read_raster(
            c.raster, grid, kind="continuous", name=name, what=f"criteria.{name}.raster", chunks=chunks
        )
        for name, c in s.criteria.items()
        if c.raster is not None and c.enabled and weights.get(name, 0.0) > 0
    }
    context = crit.Context(
        grid=grid,
        roles=land.roles,
        fringe=fr_.fringe,
        smod=fr_.smod,
        network=net.network,
        sources=found.sources,
        unmatched=sym.unmatched,
        rasters=rasters,
        roads=s.roads,
        symbiosis=s.symbiosis,
        criteria=s.criteria,
        track=track,
        reference=reference,
    )
    built = crit.build(s.criteria, weights, context)
    if chunks is not None:
        # The criteria the MCDA combines, in the run's chunks and computed once: the combination,
        # the constraints and the Monte Carlo then run block by block.
        names = list(built.standard)
        held = compute.persist(*(compute.chunked(built.standard[k]) for k in names))
        built.standard.update(zip(names, held, strict=True))
    return built


def _allowed_land(
    s: Scenario, grid: Grid, land: _Land, fr_: _Fringe, made: dict[str, xr.DataArray], masks: list[xr.DataArray]
) -> xr.DataArray:
    """The fringe land no constraint excludes (all allowed land where the fringe has none): where
    zones are sought, so where percentile thresholds and the criteria's diagnostics are taken."""
    blank = grid.wrap(np.zeros(grid.shape, dtype=np.float32), "blank")
    excluded = constraints.exclusions(
        s.constraints, grid, land.roles, blank, green=fr_.green, slope=made.get("slope"), layers=masks
    )
    allowed = (excluded == 0) & (fr_.fringe == 2)
    return allowed if bool(allowed.any()) else excluded == 0


#: Share of the allowed land at exactly 0 or exactly 1 from which a criterion counts as saturated.
_SATURATED = 0.5


def _diagnose(built: crit.Built, reference: xr.DataArray, notes: list[str]) -> dict[str, dict[str, float]]:
    """Each standardised criterion over the allowed land: the shares at exactly 0 and 1 and its raw
    range. A criterion NaN or constant there cannot rank anything: it is dropped from the
    weighting with a warning. One at 0 or 1 over most of the land is a warning too."""
    where = np.asarray(reference.values, dtype=bool)
    table: dict[str, dict[str, float]] = {}
    for name in list(built.standard):
        # The allowed cells only, in the layers' own dtype (float32): no float64 copy of the grid.
        values = np.asarray(built.standard[name].values)[where]
        finite = values[np.isfinite(values)]
        raw = built.raw.get(name)
        raw_values = np.asarray(raw.values)[where] if raw is not None else finite
        raw_values = raw_values[np.isfinite(raw_values)]
        problem = None
        if finite.size == 0:
            problem = "has no value over the allowed land"
        elif float(finite.max() - finite.min()) < 1e-6:
            problem = f"is {finite[0]:.3g} everywhere on the allowed land"
        if problem is not None:
            message = (
                f"criterion {name} {problem}: it cannot rank one place above another and is left out of the weighting"
            )
            warnings.warn(message, RankingWarning, stacklevel=3)
            notes.append(message)
            built.skipped.append((name, problem))
            del built.standard[name], built.weights[name]
            continue
        row = {
            "share_0": float((finite == 0).mean()),
            "share_1": float((finite == 1).mean()),
            "raw_min": float(raw_values.min()) if raw_values.size else float("nan"),
            "raw_max": float(raw_values.max()) if raw_values.size else float("nan"),
        }
        table[name] = row
        thresholds = raw is not None and built.standard[name].attrs.get("standardisation") not in ("categorical", None)
        for value, share in ((0, row["share_0"]), (1, row["share_1"])) if thresholds else ():
            if share > _SATURATED:
                message = (
                    f"criterion {name} is {value} over {share:.0%} of the allowed land (raw values "
                    f"{row['raw_min']:.3g}..{row['raw_max']:.3g} there; standardised by "
                    f"{built.standard[name].attrs.get('parameters', '')}): it hardly tells places apart; thresholds "
                    'relative to the region (high = "p90") would'
                )
                warnings.warn(message, RankingWarning, stacklevel=3)
                notes.append(message)
    if not built.weights:
        msg = "no criterion can rank the allowed land: " + "; ".join(f"{k}: {why}" for k, why in built.skipped)
        raise InputError(msg)
    return table


@dataclass
class _Suitability:
    suitability: xr.DataArray
    excluded: xr.DataArray
    layers: dict[str, xr.DataArray]


def _suitability(
    s: Scenario,
    grid: Grid,
    land: _Land,
    fr_: _Fringe,
    built: crit.Built,
    made: dict[str, xr.DataArray],
    masks: list[xr.DataArray],
) -> _Suitability:
    """The criteria combined as ``[mcda]`` says, the constraints applied (excluded cells are NaN),
    and the Monte Carlo layers when asked."""
    combined = mcda.combine(built.standard, built.weights, **s.mcda.combine_args())
    made = dict(made)
    excluded = constraints.exclusions(
        s.constraints, grid, land.roles, combined, green=fr_.green, slope=made.get("slope"), layers=masks
    )
    suitability = combined.where(excluded == 0)
    if suitability.dtype != np.float32:
        suitability = suitability.astype(np.float32)
    suitability.name = "suitability"
    suitability.attrs = {**combined.attrs, "long_name": "EIC suitability (excluded cells are NaN)"}
    suitability = grid.georef(suitability)  # nodata NaN, in a shallow copy (rioxarray's write_nodata copies)
    suitability, excluded = compute.persist(suitability, excluded)
    m = s.mcda
    if m.monte_carlo > 0:
        mc = mcda.monte_carlo(
            built.standard,
            built.weights,
            n=m.monte_carlo,
            seed=m.monte_carlo_seed,
            spread=m.monte_carlo_spread,
            concentration=m.monte_carlo_concentration,
        )
        made["suitability_std"] = mc["std"]
        made["p_top"] = mc["p_top"]
    return _Suitability(suitability, excluded, made)


def _constraint_layers(
    s: Scenario, grid: Grid, land: _Land | None = None, notes: list[str] | None = None
) -> tuple[dict[str, xr.DataArray], list[xr.DataArray]]:
    """What the constraints read: the slope (degrees, from ``inputs.dem``) when a slope limit is
    set, and the mask of each user layer. With ``land``, a DEM or raster layer that covers part
    of the land cover is a named warning (in ``notes`` too)."""
    made = {}
    chunks = compute.current().chunks
    if s.constraints.slope_max_deg is not None:
        dem = io.read_raster(s.inputs.dem, grid, kind="continuous", name="dem", what="inputs.dem", chunks=chunks)
        if land is not None:
            _coverage(dem, land, f"inputs.dem {str(s.inputs.dem)!r}", notes if notes is not None else [])
        made["slope"] = mcda.slope_degrees(dem, cell_m=grid.resolution)
    masks = []
    for i, layer in enumerate(s.constraints.layers):
        what = f"constraints.layers[{i}]"
        if land is not None and layer.path.name.lower().endswith(io.RASTER_SUFFIXES):
            values = io.read_raster(layer.path, grid, kind="continuous", resampling="nearest", what=what, chunks=chunks)
            _coverage(values, land, f"{what} {str(layer.path)!r}", notes if notes is not None else [])
        masks.append(io.read_mask(layer.path, grid, all_touched=layer.all_touched, what=what, chunks=chunks))
    return made, masks


def _candidates(
    s: Scenario, grid: Grid, fr_: _Fringe, sym: _Symbiosis, suit: _Suitability, notes: list[str]
) -> gpd.GeoDataFrame:
    """Cluster zones around the firm clusters, then greenfield zones on the rest of the allowed
    fringe land, ``min_spacing_km`` from the cluster zones as from each other."""
    z, suitability = s.zones, suit.suitability
    allowed = (fr_.fringe == 2) & (suit.excluded == 0) & suitability.notnull()
    around = zones.cluster_zones(
        sym.clusters,
        allowed,
        firms=sym.firms,
        suitability=suitability,
        buffer_m=z.cluster_buffer_m,
        min_area_ha=z.min_area_ha,
        max_area_ha=z.max_area_ha,
    )
    free, taken = allowed, None
    if len(around):
        cells = rasterio.features.geometry_mask(list(around.geometry), grid.shape, grid.transform, invert=True)
        taken = xr.DataArray(cells, dims=allowed.dims, coords=allowed.coords)
        free = allowed & ~taken
    greenfield = zones.locate(
        suitability,
        free,
        n=z.n,
        quantile=z.quantile,
        min_area_ha=z.min_area_ha,
        max_area_ha=z.max_area_ha,
        min_spacing_km=z.min_spacing_km,
        compactness=z.compactness,
        avoid=taken,
        lowest_quantile=z.lowest_quantile,
    )
    if "note" in greenfield.attrs:
        notes.append(greenfield.attrs["note"])
    candidates = pd.concat([around, greenfield], ignore_index=True) if len(around) else greenfield
    return gpd.GeoDataFrame(candidates, geometry="geometry", crs=grid.crs)


def _ranked(
    s: Scenario,
    candidates: gpd.GeoDataFrame,
    context: tuple[Grid, xr.DataArray | None, _Roads, _Fringe, materials.Vocabulary],
    sym: _Symbiosis,
    built: crit.Built,
    suit: _Suitability,
    notes: list[str],
    track: Callable[..., Iterable],
) -> gpd.GeoDataFrame:
    """Every zone scored and ranked on the seed's criteria, then the stability of its rank and
    each criterion's part of its suitability (``part_<criterion>``)."""
    grid, population, net, fr_, vocab = context
    rural = _rural_population(candidates, net.network, grid, population, fr_.fringe, s, track=track)
    raw = built.raw
    per_material = {k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith("material_access:")}
    ranked = zones.score(
        candidates,
        suitability=suit.suitability,
        firms=sym.firms,
        links=sym.links,
        market_minutes=raw.get("market_access"),
        material_minutes=raw.get("material_access"),
        materials=per_material,
        equal_access=built.standard.get("equal_access"),
        rural_pop_30min=rural,
        green_space=fr_.green,
        reach_km=s.symbiosis.max_km / s.symbiosis.detour,
        weights=s.zones.score_table(),
        vocab=vocab,
    )
    if "score_note" in ranked.attrs:
        notes.append(ranked.attrs["score_note"])
    z = s.zones
    if z.stability_runs > 0:
        ranked = zones.stability(
            ranked,
            built.standard,
            built.weights,
            runs=z.stability_runs,
            top_k=z.top_k,
            concentration=z.stability_concentration,
            seed=z.stability_seed,
            mcda=s.mcda,
        )
    parts = zones.contributions(ranked, built.standard, built.weights)
    return ranked.join(parts.set_axis(ranked.index))


#: The 5th-95th percentile range of the suitability over the allowed fringe land below which the
#: ranking is called weak.
_MIN_SPREAD = 0.05


def _cautions(
    s: Scenario,
    ranked: gpd.GeoDataFrame,
    suit: _Suitability,
    built: crit.Built,
    diagnostics: dict[str, dict[str, float]],
    reference: xr.DataArray,
    notes: list[str],
) -> list[str]:
    """What makes the ranking weak, each as a warning: zones tied to the precision shown, and a
    suitability with almost no spread over the allowed fringe land, with why (missing inputs,
    straight-line travel times, constant or saturated criteria)."""
    why = []
    missing = [k for k in ("population", "roads", "sources", "firms") if getattr(s.inputs, k) is None]
    if missing:
        why.append("inputs not given: " + ", ".join(f"inputs.{k}" for k in missing))
    if built.fallbacks:
        why.append(f"{len(built.fallbacks)} travel-time criteria are in part straight-line estimates")
    saturated = [
        k
        for k, d in diagnostics.items()
        if max(d["share_0"], d["share_1"]) > _SATURATED
        and built.standard[k].attrs.get("standardisation") != "categorical"
    ]
    if saturated:
        why.append("saturated over most of the allowed land: " + ", ".join(saturated))
    dropped = [k for k, reason in built.skipped if "allowed land" in reason]
    if dropped:
        why.append("constant over the allowed land: " + ", ".join(dropped))
    because = f" ({'; '.join(why)})" if why else ""
    out = []
    tied = ranked[ranked["tied"]] if "tied" in ranked else ranked.iloc[:0]
    for score, group in tied.groupby(ranked["score"].round(zones.SCORE_DECIMALS), sort=False):
        ranks = group["rank"].tolist()
        out.append(
            f"zones ranked {', '.join(map(str, ranks))} tie at score {score:.{zones.SCORE_DECIMALS}f}: their order "
            f"follows the tie-breaks (mean suitability, area, nearness to the study area's centre), not the "
            f"evidence{because}"
        )
    values = np.asarray(suit.suitability.values)[np.asarray(reference.values, dtype=bool)]
    values = values[np.isfinite(values)]
    if values.size:
        low, high = np.percentile(values, [5, 95])
        if high - low < _MIN_SPREAD:
            out.append(
                f"the suitability over the allowed fringe land has almost no spread (5th-95th percentile "
                f"{low:.3f}-{high:.3f}): the criteria hardly tell places apart{because}"
            )
    for message in out:
        warnings.warn(message, RankingWarning, stacklevel=3)
        notes.append(message)
    return out


def _rural_population(
    candidates: gpd.GeoDataFrame,
    network: roads.CompiledNetwork | None,
    grid: Grid,
    population: xr.DataArray | None,
    fringe: xr.DataArray,
    s: Scenario,
    *,
    track: Callable[..., Iterable] = _untracked,
) -> np.ndarray | None:
    """People in rural and fringe cells within 30 minutes of each zone: over the road network,
    or without one within the straight-line reach of 30 minutes (× ``roads.detour`` at
    ``roads.fallback_kph``)."""
    if population is None or candidates.empty:
        return None
    # One copy of the grid in the population's dtype, NaN and urban cells 0; each zone's cells
    # are summed in float64.
    people = np.nan_to_num(np.asarray(population.values))
    people[~np.isin(np.asarray(fringe.values), (1, 2))] = 0
    if network is not None:
        zones = gpd.GeoSeries(candidates.geometry.to_numpy(), crs=grid.crs)
        return roads.reach_sums(network, zones, grid, people, max_minutes=30.0, offroad_kph=s.roads.last_mile_kph())
    out = []
    for geom in track(candidates.geometry, "rural population within 30 min", unit="zone"):
        zone = gpd.GeoSeries([geom], crs=grid.crs)
        minutes = roads.straight_line_minutes(zone, grid, kph=s.roads.fallback_kph, detour=s.roads.detour).values
        out.append(float(people[minutes <= 30.0].astype(np.float64).sum()))
    return np.array(out)


_NETWORKS: OrderedDict[tuple, Any] = OrderedDict()


def _load_network(path: Path, *, crs: Any, **options: Any) -> roads.RoadNetwork:
    """:func:`roads.load_roads`, remembered for the last two (file, CRS, options) of this process.

    Loading a big OSM extract is a slow step of a run, and a comparison or a notebook runs
    several scenarios over one road file. The key holds the file's size and modification time,
    so an edited file is read again; the network is only read downstream, never changed.
    """
    stat = Path(path).stat()
    key = (
        str(Path(path).resolve()),
        stat.st_size,
        stat.st_mtime_ns,
        CRS.from_user_input(crs).to_wkt(),
        repr(sorted(options.items())),
    )
    if key in _NETWORKS:
        _NETWORKS.move_to_end(key)
        return _NETWORKS[key]
    net = roads.load_roads(path, crs=crs, **options)
    _NETWORKS[key] = net
    while len(_NETWORKS) > 2:
        _NETWORKS.popitem(last=False)
    return net


def _inside(gdf: gpd.GeoDataFrame, grid: Grid, what: str, notes: list[str]) -> gpd.GeoDataFrame:
    centroids = gdf.geometry.representative_point()
    inside = grid.contains(centroids.x.to_numpy(), centroids.y.to_numpy())
    if not inside.all():
        n = int((~inside).sum())
        message = f"{n} of {len(gdf)} {what} lie outside the study area and were dropped"
        if "firm_id" in gdf:
            ids = gdf.loc[~inside, "firm_id"].astype(str).tolist()
            message += f" (firm_id {', '.join(ids[:10])}{', ...' if n > 10 else ''})"
        warnings.warn(message, EicgeoWarning, stacklevel=3)
        notes.append(message)
    return gdf[inside].reset_index(drop=True)


def _empty_points(grid: Grid, columns: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: pd.Series(dtype="object") for c in columns}, geometry=gpd.GeoSeries([], crs=grid.crs))
