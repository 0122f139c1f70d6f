"""``run(scenario) -> Result``: every stage of the data flow, in order, timed.

Stages: grid → land cover → population → roads → fringe → sources and firms → criteria →
suitability and constraints → zones. The symbiosis stage (links, unmatched outputs, firm clusters)
runs before the criteria, which may use its unmatched by-products (``symbiosis_potential``). Missing inputs skip the
criteria that need them; the result (and ``report.md``) says what was skipped and why.
"""

from __future__ import annotations

import contextlib
import dataclasses
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
from pyproj import CRS

from eicgeo import criteria as crit
from eicgeo import fringe as fr
from eicgeo import io, materials, mcda, roads, symbiosis, zones
from eicgeo._errors import EicgeoWarning, InputError
from eicgeo.clustering import FirmClusterer
from eicgeo.grid import Grid
from eicgeo.legends import ROLE_CODE, get_legend
from eicgeo.scenario import Criterion, Scenario, read_scenario

with warnings.catch_warnings():
    # In Jupyter without ipywidgets tqdm.auto falls back to text bars, which work; its warning
    # about that would greet every planner at `import eicgeo`.
    warnings.filterwarnings("ignore", message="IProgress not found")
    from tqdm.auto import tqdm

__all__ = ["EXCLUSION_REASONS", "STAGES", "USER_REASON_CODE", "Result", "run"]

T = TypeVar("T")

STAGES = (
    "grid",
    "landcover",
    "population",
    "roads",
    "fringe",
    "sources_firms",
    "symbiosis",
    "criteria",
    "suitability",
    "zones",
)

#: Reason codes of ``excluded.tif``. Each user layer of ``[constraints] layers`` takes the next
#: code from :data:`USER_REASON_CODE` (20, 21, ...) with its own reason name.
EXCLUSION_REASONS: dict[int, str] = {
    1: "no data",
    2: "water",
    3: "wetland",
    4: "built-up land",
    5: "forest",
    6: "bare land",
    7: "grass and shrub",
    8: "cropland",
    9: "residual green space",
    10: "residential buffer",
    11: "slope",
}
#: The code of the first user constraint layer.
USER_REASON_CODE = 20
_ROLE_REASON = {"water": 2, "wetland": 3, "built_up": 4, "forest": 5, "bare": 6, "grass_shrub": 7, "cropland": 8}


@dataclass
class Result:
    """Everything a run produced. Layers are DataArrays on ``grid``; vectors are in its CRS."""

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
    network: dict[str, Any] = field(default_factory=dict)
    symbiosis_metrics: dict[str, Any] = field(default_factory=dict)
    unmatched: gpd.GeoDataFrame | None = None
    cluster_metrics: pd.DataFrame | None = None
    main_roads: gpd.GeoDataFrame | None = None

    def summary(self) -> pd.DataFrame:
        """The ranked zones as a table (no geometry)."""
        return pd.DataFrame(self.zones.drop(columns="geometry")).set_index("rank")

    def explore(self, **kwargs: Any):
        """Interactive Folium map of the result (see :func:`eicgeo.maps.explore`)."""
        from eicgeo import maps

        return maps.explore(self, **kwargs)

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
        with io.output_folder(
            out, overwrite=overwrite, names=report.output_names(), protect=self.scenario.input_paths()
        ) as stage:
            report.write_outputs(self, stage, offline=offline)
            self.timings["outputs"] = time.perf_counter() - t0
            report.write_manifest(self, stage)
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
        zones = self.summary().round(3).to_html() if len(self.zones) else "<p>No zone was found.</p>"
        return (
            f"<b>eicgeo result</b><table class='eicgeo-summary'>{rows}</table>"
            f"<b>Ranked candidate zones</b> (<code>.explore()</code> for the map){zones}"
        )


class _Clock:
    """Times the stages and shows progress: a bar over the stages, and a nested bar for the long
    loops inside a stage (:meth:`track`). ``progress=False`` silences both."""

    def __init__(self, progress: bool):
        self.timings: dict[str, float] = {}
        self.progress = progress
        self.bar = tqdm(total=len(STAGES), desc="eicgeo", unit="stage", disable=not progress, leave=False)

    def track(self, items: Iterable[T], desc: str, *, total: int | None = None, unit: str = "it") -> Iterable[T]:
        """``items``, with a nested progress bar below the stage bar."""
        return tqdm(items, desc=f"  {desc}", total=total, unit=unit, disable=not self.progress, leave=False, position=1)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.bar.set_postfix_str(name)
        t0 = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - t0
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


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
    """
    from eicgeo import report

    if not isinstance(scenario, Scenario):
        scenario = read_scenario(scenario)
    with contextlib.ExitStack() as hold:
        if out is not None:
            # Refuse a folder that cannot be written now, not after the heavy stages.
            hold.enter_context(io.folder_lock(out))
            io.inspect_folder(out, overwrite=overwrite, names=report.output_names(), protect=scenario.input_paths())
        clock = _Clock(progress)
        skipped: list[tuple[str, str]] = []
        notes: list[str] = []
        try:
            result = _run(scenario, clock, skipped, notes)
        finally:
            clock.close()
        if out is not None:
            result.save(out, offline=offline, overwrite=overwrite)
    return result


def _run(s: Scenario, clock: _Clock, skipped: list[tuple[str, str]], notes: list[str]) -> Result:
    legend = get_legend(s.legend)
    with clock.stage("grid"):
        if s.bounds is not None:
            grid = Grid.from_bounds(s.bounds, s.resolution, s.crs, bounds_crs=s.bounds_crs)
        else:
            bounds, src_crs = io.raster_footprint(s.landcover, "landcover")
            grid = Grid.from_bounds(bounds, s.resolution, s.crs, bounds_crs=src_crs)
    with clock.stage("landcover"):
        landcover = io.read_raster(s.landcover, grid, kind="categorical", name="landcover_class", what="landcover")
        unknown = legend.unknown_codes(np.asarray(landcover.values))
        if unknown:
            msg = (
                f"landcover {str(s.landcover)!r} has class codes {unknown[:10]} that legend {legend.name!r} "
                f"does not list; expected codes {legend.codes[:12]}... (is inputs.legend right?)"
            )
            raise InputError(msg)
        roles = crit.landcover(landcover, legend)
    layers = {"landcover_class": landcover, "landcover_role": roles}

    with clock.stage("population"):
        population = None
        if s.population is not None:
            population = io.read_raster(s.population, grid, kind="quantity", name="population", what="population")
            layers["population"] = population

    with clock.stage("roads"):
        network = None
        graph = None
        main = None
        summary: dict[str, Any] = {}
        if s.roads is not None:
            graph = _load_network(
                s.roads, crs=grid.crs, speeds=s.roads_settings.get("speeds"), snap_m=s.roads_settings.get("snap_m", 1.0)
            )
            network = roads.compile_network(graph, spacing_m=grid.resolution)
            main = roads.main_roads(graph)
            dropped = graph.graph.get("eicgeo_dropped", {})
            summary = {
                "nodes": graph.number_of_nodes(),
                "edges": graph.number_of_edges(),
                "km": round(sum(d["length"] for _, _, d in graph.edges(data=True)) / 1000.0, 1),
                "dropped_nodes": dropped.get("nodes", 0),
                "dropped_length_share": round(dropped.get("length_share", 0.0), 4),
            }
        else:
            notes.append("no road network: travel-time criteria are skipped")

    with clock.stage("fringe"):
        method = s.fringe.get("method", "auto")
        smod = None
        if method == "degurba" and population is None:
            msg = "fringe.method is 'degurba' but inputs.population is not given"
            raise InputError(msg)
        if population is not None and method in ("auto", "degurba"):
            water = xr.where(roles == ROLE_CODE["water"], 1.0, 0.0)
            smod = fr.degurba(
                population, cell_m=s.fringe.get("cell_m", 1000.0), water_share=water, **s.fringe.get("rules", {})
            )
            band_minutes = s.fringe.get("band_minutes")
            if band_minutes is not None and network is None:
                notes.append("fringe.band_minutes needs a road network: the fringe band is fringe.band_km instead")
                band_minutes = None
            fringe = fr.classes(
                smod,
                band_km=s.fringe.get("band_km", 5.0),
                band_minutes=band_minutes,
                network=network,
                offroad_kph=s.roads_settings.get("offroad_kph", 10.0),
            )
        else:
            if population is None:
                notes.append("no population grid: the fringe comes from the land-cover built-up gradient")
            fringe = fr.from_landcover(
                landcover,
                legend,
                radius_m=s.fringe.get("radius_m", 1000.0),
                urban_share=s.fringe.get("urban_share", 0.5),
                fringe_share=s.fringe.get("fringe_share", 0.1),
                breakpoint=s.fringe.get("breakpoint", False),
            )
        fringe = fringe.where(landcover > 0, 0).astype(np.uint8).rio.write_nodata(0, encoded=False)
        layers["green_space"] = fr.green_space(
            landcover, legend, fringe=fringe, distance_m=s.fringe.get("green_distance_m", 500.0)
        )

    with clock.stage("sources_firms"):
        if s.materials is not None or s.synergies is not None or s.sectors is not None:
            # The user's materials must be known before sources and firms name them; they stay
            # registered after the run (see eicgeo.materials.extend).
            materials.extend(materials=s.materials, synergies=s.synergies, sectors=s.sectors)
        sources = _empty_points(grid, ["material", "tonnes_per_year"])
        if s.sources is not None:
            sources = _inside(io.read_sources(s.sources, crs=grid.crs), grid, "sources", notes)
        firms = _empty_points(grid, ["firm_id", "name", "sector", "inputs", "outputs"])
        if s.firms is not None:
            firms = _inside(io.read_firms(s.firms, crs=grid.crs), grid, "firms", notes)

    with clock.stage("symbiosis"):
        settings = s.symbiosis
        kinds = settings.get("kinds", ("byproduct", "energy", "emission"))
        links = symbiosis.match(
            firms,
            graph,  # road distances when a network is given
            settings.get("max_km", 33.0),
            detour=settings.get("detour", 1.3),
            kinds=kinds,
            co2_factors=settings.get("co2_factors"),
            transport_kg_per_tkm=settings.get("transport_kg_per_tkm", materials.TRANSPORT_KG_PER_TKM),
        )
        metrics = symbiosis.metrics(firms, links) if len(firms) else {}
        unmatched = symbiosis.unmatched(firms, links, kinds=kinds)
        clusterer = FirmClusterer(
            method=s.clustering.get("method", "hdbscan"),
            min_cluster_size=s.clustering.get("min_cluster_size", 5),
            eps_m=s.clustering.get("eps_m", 2000.0),
            min_samples=s.clustering.get("min_samples"),
            hull_buffer_m=s.clustering.get("hull_buffer_m", 500.0),
            link_scale_t=s.clustering.get("link_scale_t"),
        )
        cluster_table = None
        if len(firms):
            clusterer.fit(firms, links=links)
            firms = firms.assign(cluster=clusterer.labels_)
            clusters = clusterer.clusters_
            cluster_table = symbiosis.cluster_metrics(firms, links)
        else:
            clusters = gpd.GeoDataFrame({"cluster": [], "n_firms": []}, geometry=[], crs=grid.crs)

    with clock.stage("criteria"):
        built = _Criteria(s, grid, roles, fringe, smod, network, sources, unmatched, track=clock.track).build()
        raw, standard, weights = built.raw, built.standard, built.weights
        skipped.extend(built.skipped)
        layers.update(raw)

    with clock.stage("suitability"):
        combined = mcda.combine(
            standard,
            weights,
            method=s.mcda.get("method", "wlc"),
            order_weights=s.mcda.get("order_weights"),
            alpha=s.mcda.get("alpha"),
            gamma=s.mcda.get("gamma", 0.9),
        )
        excluded, constraint_layers = _exclusions(s, grid, roles, combined, layers["green_space"])
        layers.update(constraint_layers)
        suitability = combined.where(excluded == 0).astype(np.float32)
        suitability.name = "suitability"
        suitability.attrs = {**combined.attrs, "long_name": "EIC suitability (excluded cells are NaN)"}
        suitability = suitability.rio.write_nodata(np.nan, encoded=False)
        n_mc = int(s.mcda.get("monte_carlo", 0))
        if n_mc > 0:
            mc = mcda.monte_carlo(
                standard,
                weights,
                n=n_mc,
                seed=s.mcda.get("monte_carlo_seed", 0),
                spread=s.mcda.get("monte_carlo_spread"),
                concentration=s.mcda.get("monte_carlo_concentration", 100.0),
            )
            layers["suitability_std"] = mc["std"]
            layers["p_top"] = mc["p_top"]

    with clock.stage("zones"):
        allowed = (fringe == 2) & (excluded == 0) & suitability.notnull()
        min_area = s.zones.get("min_area_ha", 50.0)
        around = zones.cluster_zones(
            clusters,
            allowed,
            firms=firms,
            suitability=suitability,
            buffer_m=s.zones.get("cluster_buffer_m", 1000.0),
            min_area_ha=min_area,
            max_area_ha=s.zones.get("max_area_ha", 1000.0),
        )
        # Greenfield zones are sought on the allowed land that no cluster zone already covers,
        # min_spacing_km away from the cluster zones as from each other.
        free = allowed
        taken = None
        if len(around):
            cells = rasterio.features.geometry_mask(list(around.geometry), grid.shape, grid.transform, invert=True)
            taken = xr.DataArray(cells, dims=allowed.dims, coords=allowed.coords)
            free = allowed & ~taken
        found = zones.locate(
            suitability,
            free,
            n=s.zones.get("n", 10),
            quantile=s.zones.get("quantile", 0.85),
            min_area_ha=min_area,
            max_area_ha=s.zones.get("max_area_ha", 1000.0),
            min_spacing_km=s.zones.get("min_spacing_km", 1.0),
            compactness=s.zones.get("compactness", 0.1),
            avoid=taken,
        )
        if "note" in found.attrs:
            notes.append(found.attrs["note"])
        candidates = pd.concat([around, found], ignore_index=True) if len(around) else found
        candidates = gpd.GeoDataFrame(candidates, geometry="geometry", crs=grid.crs)
        rural = _rural_population(candidates, network, grid, population, fringe, s, track=clock.track)
        per_material = {k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith("material_access:")}
        ranked = zones.score(
            candidates,
            suitability=suitability,
            firms=firms,
            links=links,
            market_minutes=raw.get("market_access"),
            material_minutes=raw.get("material_access"),
            materials=per_material,
            equal_access=standard.get("equal_access"),
            rural_pop_30min=rural,
            green_space=layers.get("green_space"),
            reach_km=s.symbiosis.get("max_km", 33.0) / s.symbiosis.get("detour", 1.3),
            weights=s.zones.get("score_weights"),
        )
        if "score_note" in ranked.attrs:
            notes.append(ranked.attrs["score_note"])
        runs = s.zones.get("stability_runs", 100)
        if runs > 0:
            ranked = zones.stability(
                ranked,
                standard,
                weights,
                runs=runs,
                top_k=s.zones.get("top_k", 5),
                concentration=s.zones.get("stability_concentration", 100.0),
                seed=s.zones.get("stability_seed", 0),
                method=s.mcda.get("method", "wlc"),
                order_weights=s.mcda.get("order_weights"),
            )

    return Result(
        scenario=s,
        grid=grid,
        layers=xr.Dataset(layers),
        criteria=xr.Dataset(standard),
        suitability=suitability,
        fringe=fringe,
        excluded=excluded,
        zones=ranked,
        firms=firms,
        links=links,
        sources=sources,
        clusters=clusters,
        degurba=smod,
        weights=mcda.normalize_weights(weights),
        skipped=skipped,
        notes=notes,
        timings=dict(clock.timings),
        network=summary,
        symbiosis_metrics=metrics,
        unmatched=unmatched,
        cluster_metrics=cluster_table,
        main_roads=main,
    )


# --------------------------------------------------------------------------------------------
class _Criteria:
    """The raw and standardised criterion layers of a scenario.

    Each travel-time surface is computed once, however many criteria use it (``equal_access``
    reuses the market and material surfaces, the zone scores reuse them all).
    """

    def __init__(
        self,
        s: Scenario,
        grid: Grid,
        roles: xr.DataArray,
        fringe: xr.DataArray,
        smod: xr.DataArray | None,
        network: roads.CompiledNetwork | None,
        sources: gpd.GeoDataFrame,
        unmatched: gpd.GeoDataFrame | None = None,
        *,
        track: Callable[..., Iterable] = _untracked,
    ):
        self.track = track
        self.s, self.grid, self.roles, self.fringe, self.smod = s, grid, roles, fringe, smod
        self.network, self.sources, self.unmatched = network, sources, unmatched
        self.offroad = s.roads_settings.get("offroad_kph", 10.0)
        self.raw: dict[str, xr.DataArray] = {}
        self.standard: dict[str, xr.DataArray] = {}
        self.weights: dict[str, float] = {}
        self.skipped: list[tuple[str, str]] = []

    def build(self) -> _Criteria:
        given = self.s.weights()
        for name, c in self.s.criteria.items():
            if c.enabled and given.get(name, 0.0) > 0:
                self._add(name, c, given[name])
        mean = self._mean_material_minutes() if self.network is not None and len(self.sources) else None
        if mean is not None:
            self.raw["material_access"] = mean
        if not self.weights:
            msg = "no criterion could be computed: " + "; ".join(f"{k}: {why}" for k, why in self.skipped)
            raise InputError(msg)
        return self

    def _add(self, name: str, c: Criterion, weight: float) -> None:
        kind = name.split(":")[0]
        if c.raster is not None:
            layer = io.read_raster(c.raster, self.grid, kind="continuous", name=name, what=f"criteria.{name}.raster")
            self._use(name, layer, weight, c)
        elif kind == "landcover":
            scores = {ROLE_CODE[r]: v for r, v in c.params["scores"].items()}
            layer = mcda.standardize(self.roles, "categorical", scores=scores)
            layer.attrs["parameters"] = repr({"scores by land-cover role": c.params["scores"]})
            self.standard[name] = layer
            self.weights[name] = weight
        elif kind == "symbiosis_potential":
            self._symbiosis_potential(name, c, weight)
        elif self.network is None:
            self.skipped.append((name, "no road network (inputs.roads)"))
        elif kind == "road_access":
            self._use(name, self._surface("road_access"), weight, c)
        elif kind == "market_access":
            market = self._surface("market_access")
            if market is None:
                self.skipped.append((name, "no urban centre in the population grid or land cover"))
            else:
                self._use(name, market, weight, c)
        elif kind == "labour_access":
            labour = self._surface("labour_access")
            if labour is None:
                self.skipped.append((name, "no settlement in the population grid or land cover"))
            else:
                self._use(name, labour, weight, c)
        elif kind == "material_access":
            wanted = [name.split(":")[1]] if ":" in name else self._materials(c)
            present = [m for m in wanted if (self.sources["material"] == m).any()] if len(self.sources) else []
            if not present:
                self.skipped.append((name, "no source of the material(s) in inputs.sources"))
            for m in present:
                self._use(f"material_access:{m}", self._surface(f"material_access:{m}"), weight / len(present), c)
        elif kind == "equal_access":
            market = self._surface("market_access")
            materials = self._mean_material_minutes() if len(self.sources) else None
            if market is None or materials is None:
                why = "no urban centre found" if market is None else "no raw-material sources (inputs.sources)"
                self.skipped.append((name, why))
            else:
                self.standard[name] = crit.equal_access(market, materials)
                self.weights[name] = weight

    def _symbiosis_potential(self, name: str, c: Criterion, weight: float) -> None:
        """Unmatched by-product tonnes within matching reach (straight line x detour, no roads
        needed); by default standardised linearly from 0 to the largest value in the region."""
        layer = symbiosis.potential(
            self.unmatched if self.unmatched is not None else gpd.GeoDataFrame(),
            self.grid,
            max_km=self.s.symbiosis.get("max_km", 33.0),
            detour=self.s.symbiosis.get("detour", 1.3),
        )
        top = float(layer.max())
        if top <= 0 and c.fn is None:
            self.skipped.append((name, "no firm has unmatched by-product output (inputs.firms)"))
            return
        if c.fn is None:
            c = dataclasses.replace(c, fn="linear", params={"low": 0.0, "high": top, "increasing": True})
        self._use(name, layer, weight, c)

    def _use(self, name: str, layer: xr.DataArray, weight: float, c: Criterion) -> None:
        """Standardise ``layer`` as the scenario says, or by the criterion's default."""
        fn, params = (c.fn, dict(c.params)) if c.fn else crit.DEFAULTS.get(name.split(":")[0], (None, {}))
        self.raw[name] = layer
        self.standard[name] = mcda.standardize(layer, fn, **params) if fn else layer.astype(np.float32)
        self.weights[name] = weight

    def _surface(self, name: str) -> xr.DataArray | None:
        if name not in self.raw:
            if name == "road_access":
                classes = self.s.roads_settings.get("main_roads", roads.MAJOR_ROADS)
                layer = crit.road_access(self.network, self.grid, classes=classes, offroad_kph=self.offroad)
            elif name == "market_access":
                centres = _centres(self.smod, self.fringe)
                if centres is None:
                    return None
                layer = crit.market_access(self.network, self.grid, centres, offroad_kph=self.offroad)
            elif name == "labour_access":
                places = _settlements(self.smod, self.fringe)
                if places is None:
                    return None
                layer = crit.labour_access(self.network, self.grid, places, offroad_kph=self.offroad)
            else:
                material = name.split(":")[1]
                layer = crit.material_access(self.network, self.grid, self.sources, material, offroad_kph=self.offroad)
            self.raw[name] = layer
        return self.raw[name]

    def _materials(self, c: Criterion | None = None) -> list[str]:
        spec = c or self.s.criteria.get("material_access")
        listed = spec.materials if spec is not None and spec.materials else None
        return listed or sorted(self.sources["material"].unique())

    def _mean_material_minutes(self) -> xr.DataArray | None:
        """Mean over the materials of the minutes to their nearest source (None without sources)."""
        present = [m for m in self._materials() if (self.sources["material"] == m).any()]
        if not present:
            return None
        layers = [
            self._surface(f"material_access:{m}") for m in self.track(present, "material access", unit="material")
        ]
        mean = xr.concat(layers, dim="material").mean("material").astype(np.float32)
        mean.attrs = {"units": "minutes", "materials": ", ".join(present)}
        return self.grid.georef(mean.rename("material_access"))


def _centres(smod: xr.DataArray | None, fringe: xr.DataArray) -> xr.DataArray | None:
    """Boolean layer of urban-centre cells (GHS-SMOD 30, else 23, else urban land cover)."""
    for mask in ([smod == 30, smod == 23] if smod is not None else []) + [fringe == 3]:
        if bool(mask.any()):
            return mask.rename("urban_centres")
    return None


#: GHS-SMOD codes of the settlements labour commutes from: rural clusters (villages), semi-dense
#: and dense urban clusters (towns) and urban centres. Suburban cells (21) are left out: they are
#: the diffuse fringe itself, where zones are sought, not a labour pool of their own.
_SETTLEMENT_CODES = (13, 22, 23, 30)


def _settlements(smod: xr.DataArray | None, fringe: xr.DataArray) -> xr.DataArray | None:
    """Boolean layer of the cells labour lives in: settlements by GHS-SMOD, else urban land."""
    for mask in ([smod.isin(_SETTLEMENT_CODES)] if smod is not None else []) + [fringe == 3]:
        if bool(mask.any()):
            return mask.rename("settlements")
    return None


def _exclusions(
    s: Scenario,
    grid: Grid,
    roles: xr.DataArray,
    suitability: xr.DataArray,
    green: xr.DataArray | None = None,
) -> tuple[xr.DataArray, dict[str, xr.DataArray]]:
    """The exclusion layer of ``[constraints]``: the first reason that applies in each cell.

    Reasons in priority order: no data; the land-cover roles of ``exclude_roles``; residual
    green space (``green``) with ``protect_green_space``; within ``residential_buffer_m`` of
    built-up land; slope above ``slope_max_deg`` (from
    ``inputs.dem``); then each user layer of ``layers`` (codes 20, 21, ...). Also returns the
    layers made on the way (``slope``) for ``Result.layers``.
    """
    c = s.constraints
    reasons = [(1, (roles == ROLE_CODE["nodata"]) | suitability.isnull())]
    names = {1: EXCLUSION_REASONS[1]}
    made: dict[str, xr.DataArray] = {}
    for role in c.get("exclude_roles", ["water", "wetland", "built_up"]):
        if role in _ROLE_REASON:  # "nodata" is always excluded, as reason 1
            reasons.append((_ROLE_REASON[role], roles == ROLE_CODE[role]))
            names[_ROLE_REASON[role]] = EXCLUSION_REASONS[_ROLE_REASON[role]]
    if c.get("protect_green_space", False) and green is not None:
        reasons.append((9, green == 1))
        names[9] = EXCLUSION_REASONS[9]
    buffer_m = c.get("residential_buffer_m", 0)
    if buffer_m > 0:
        built = roles == ROLE_CODE["built_up"]
        reasons.append((10, mcda.buffer_mask(built, buffer_m, cell_m=grid.resolution)))
        names[10] = f"{EXCLUSION_REASONS[10]} ({buffer_m:g} m)"
    if "slope_max_deg" in c:
        dem = io.read_raster(s.dem, grid, kind="continuous", name="dem", what="inputs.dem")
        made["slope"] = mcda.slope_degrees(dem, cell_m=grid.resolution)
        reasons.append((11, made["slope"] > c["slope_max_deg"]))
        names[11] = f"{EXCLUSION_REASONS[11]} > {c['slope_max_deg']:g}°"
    for i, spec in enumerate(c.get("layers", [])):
        code = USER_REASON_CODE + i
        reasons.append((code, _constraint_mask(spec, grid, f"constraints.layers[{i}]")))
        names[code] = spec["reason"]
    excluded = mcda.exclude(reasons, roles, names=names)
    excluded.attrs["reasons"] = "; ".join(f"{k}={v}" for k, v in names.items())
    return excluded, made


def _constraint_mask(spec: dict[str, Any], grid: Grid, what: str) -> xr.DataArray:
    """Cells a user constraint layer covers: non-zero raster cells, or cells whose centre a vector
    feature covers (every cell it touches with ``all_touched = true``)."""
    path = Path(spec["path"])
    if path.name.lower().endswith(io.RASTER_SUFFIXES):
        layer = io.read_raster(path, grid, kind="continuous", resampling="nearest", what=what)
        return layer.notnull() & (layer != 0)
    features = io.read_vector(path, what=what, crs=grid.crs)
    covered = rasterio.features.geometry_mask(
        list(features.geometry),
        out_shape=grid.shape,
        transform=grid.transform,
        invert=True,
        all_touched=bool(spec.get("all_touched", False)),
    )
    return grid.wrap(covered, spec["reason"])


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
    """People in rural and fringe cells within 30 minutes of each zone."""
    if network is None or population is None or candidates.empty:
        return None
    people = np.nan_to_num(np.asarray(population.values, dtype=float)) * np.isin(np.asarray(fringe.values), (1, 2))
    out = []
    for geom in track(candidates.geometry, "rural population within 30 min", unit="zone"):
        minutes = roads.travel_time_surface(
            network,
            gpd.GeoSeries([geom], crs=grid.crs),
            grid,
            max_minutes=30.0,
            offroad_kph=s.roads_settings.get("offroad_kph", 10.0),
        )
        out.append(float(people[np.isfinite(minutes.values)].sum()))
    return np.array(out)


_NETWORKS: OrderedDict[tuple, Any] = OrderedDict()


def _load_network(path: Path, *, crs: Any, **options: Any) -> Any:
    """:func:`roads.load_network`, remembered for the last two (file, CRS, options) of this process.

    Loading an OSM extract is the slowest step of a run, and a comparison or a notebook runs
    several scenarios over one road file. The key holds the file's size and modification time,
    so an edited file is read again; the graph is only read downstream, never changed.
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
    graph = roads.load_network(path, crs=crs, **options)
    _NETWORKS[key] = graph
    while len(_NETWORKS) > 2:
        _NETWORKS.popitem(last=False)
    return graph


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
