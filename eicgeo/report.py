"""The output folder: which file holds what, ``report.md`` and ``manifest.json``.

The output-folder contract is one concern, kept apart from composing the stages in
:mod:`eicgeo.pipeline` (see ``docs/architecture.md``).
"""

from __future__ import annotations

import datetime as dt
import json
import platform
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from eicgeo import __version__, brief, io, mcda, styles, symbiosis, zones
from eicgeo.constraints import EXCLUSION_REASONS
from eicgeo.fringe import FRINGE_CLASSES, SMOD_CLASSES
from eicgeo.legends import ROLE_CODE
from eicgeo.symbiosis import LINK_COLUMNS, UNMATCHED_COLUMNS
from eicgeo.zones import ZONE_COLUMNS

if TYPE_CHECKING:
    from eicgeo.pipeline import Result

__all__ = [
    "CLASS_NODATA",
    "LAYER_SCHEMAS",
    "OUTPUT_FILES",
    "VECTOR_LAYERS",
    "output_names",
    "report_markdown",
    "write_manifest",
    "write_outputs",
]

#: The output-folder contract.
OUTPUT_FILES: dict[str, str] = {
    "suitability.tif": "float32 0..1, NaN nodata (outside the land cover's data, and excluded), COG with overviews",
    "fringe.tif": "uint8: 1 rural, 2 peri-urban fringe, 3 urban, 0 nodata",
    "degurba.tif": "uint8 GHS-SMOD level-2 codes, 0 nodata (when population is given)",
    "green_space.tif": "uint8: 1 residual green space next to the built-up edge, 0 other, 255 nodata",
    "excluded.tif": "uint8 exclusion reason codes (0 = allowed), 255 nodata",
    "criteria/NAME.tif": "standardised criteria 0..1, NaN nodata (':' in a name becomes '-')",
    "zones.gpkg": "layers zones (with `where`, `lon`, `lat`) and places (the named places used for `where`)",
    "firms.gpkg": "layers firms, links, sources, clusters, unmatched (by-product outputs no firm takes)",
    "NAME.qml": "QGIS style beside each GeoTIFF and each GeoPackage layer (zones, firms, links, sources, ...)",
    "map.html": "interactive Folium map",
    "map.png": "static map for briefs (A4 landscape, 300 dpi)",
    "report.md": "ranked zones, method, weights, what was skipped and why",
    "report.html": "the brief to hand on: first page, map, one card per zone, method (self-contained)",
    "report.pdf": "the same brief as an A4 PDF",
    "manifest.json": "inputs with sha256, resolved scenario, package versions, stage seconds and peak memory, compute",
}


#: The layers of each GeoPackage; each has a style in the file's ``layer_styles`` and as
#: ``LAYER.qml`` beside it.
VECTOR_LAYERS: dict[str, str] = {
    "zones": "zones.gpkg",
    "firms": "firms.gpkg",
    "links": "firms.gpkg",
    "sources": "firms.gpkg",
    "clusters": "firms.gpkg",
    "unmatched": "firms.gpkg",
    "places": "zones.gpkg",
}

_TEXT, _REAL, _INT = "str", "float64", "int64"
_ZONE_TYPES = {"zone_id": _INT, "rank": _INT, "n_firms": _INT, "kind": _TEXT, "tied": "bool"}
#: The declared geometry type and column types of each GeoPackage layer, kept when it is empty.
LAYER_SCHEMAS: dict[str, tuple[str, dict[str, str]]] = {
    "zones": ("MultiPolygon", {c: _ZONE_TYPES.get(c, _REAL) for c in ZONE_COLUMNS}),
    "firms": (
        "Point",
        {c: _TEXT for c in ("firm_id", "name", "sector", "inputs", "outputs")} | {"cluster": _INT},
    ),
    "links": (
        "LineString",
        {
            c: _TEXT if c in ("from_firm", "to_firm", "material", "from_sector", "to_sector") else _REAL
            for c in LINK_COLUMNS[:-1]
        },
    ),
    "sources": ("Point", {"material": _TEXT, "tonnes_per_year": _REAL}),
    "places": ("Point", {"name": _TEXT, "place": _TEXT, "population": _REAL}),
    "clusters": (
        "Polygon",
        {"cluster": _INT, "n_firms": _INT, "sectors": _TEXT, "employees": _INT, "internal_tonnes": _REAL},
    ),
    "unmatched": (
        "Point",
        {c: _TEXT if c in ("firm_id", "sector", "material", "unit") else _REAL for c in UNMATCHED_COLUMNS[:-1]},
    ),
}

#: The nodata value of each class raster whose 0 is a class.
CLASS_NODATA: dict[str, int] = {"excluded": 255, "green_space": 255, "fringe": 0, "degurba": 0}


def output_names() -> list[str]:
    """The output folder's file names known before a run (``criteria/`` for that folder)."""
    fixed = [name for name in OUTPUT_FILES if "NAME" not in name]
    styles = [name.replace(".tif", ".qml") for name in fixed if name.endswith(".tif")]
    styles += [f"{layer}.qml" for layer in VECTOR_LAYERS]
    return [*fixed, *styles, "criteria/"]


_PACKAGES = [
    "numpy",
    "pandas",
    "xarray",
    "rioxarray",
    "rasterio",
    "geopandas",
    "shapely",
    "pyproj",
    "pyogrio",
    "osmnx",
    "networkx",
    "osmium",
    "scipy",
    "scikit-learn",
    "folium",
    "branca",
    "matplotlib",
    "dask",
    "distributed",
]


def write_outputs(result: Result, folder: Path, *, offline: bool = False) -> None:
    """Write every file of the contract but the manifest into ``folder``.

    The GeoTIFFs are written on a background thread while this one draws the maps and the brief:
    GDAL compresses them without Python's lock, so the two overlap. Each file is still written
    beside its name and renamed into place, and every one is written (or the first error raised)
    before this returns; if this thread fails, the GeoTIFFs not yet begun are not written.
    """
    from eicgeo import maps

    outside = no_data(result)
    classes = {"fringe": result.fringe, "excluded": result.excluded}
    if result.degurba is not None:
        classes["degurba"] = result.degurba
    if "green_space" in result.layers:
        classes["green_space"] = result.layers["green_space"]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="eicgeo-rasters") as pool:
        rasters = [
            pool.submit(io.write_raster, *args, **kwargs) for args, kwargs in _rasters(result, folder, classes, outside)
        ]
        try:
            _write_raster_styles(
                result, folder, {name: _written(layer, name, outside) for name, layer in classes.items()}
            )
            _write_vectors(result, folder)
            maps.explore(result, offline=offline).save(str(folder / "map.html"))
            maps.static(result, folder / "map.png")
            io.write_text(folder / "report.md", report_markdown(result))
            brief.write(result, folder, map_png=folder / "map.png")
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        for done in rasters:
            done.result()


def _rasters(
    result: Result, folder: Path, classes: dict[str, Any], outside: Any
) -> Iterator[tuple[tuple, dict[str, Any]]]:
    """The arguments of :func:`eicgeo.io.write_raster` for each GeoTIFF of the contract."""
    yield (
        (result.suitability, folder / "suitability.tif"),
        {
            "description": "EIC suitability",
            "units": "0..1",
            "tags": {"scenario": result.scenario.name, "method": result.suitability.attrs.get("method", "")},
            "outside": outside,
        },
    )
    reasons = result.excluded.attrs.get("reason_names") or EXCLUSION_REASONS
    areas = mcda.exclusion_areas(result.excluded, reasons, cell_area_m2=result.grid.cell_area_m2)
    about = {
        "fringe": ("urban-rural fringe", {"classes": _codes(FRINGE_CLASSES)}),
        "degurba": ("Degree of Urbanisation (GHS-SMOD L2)", {"classes": _codes({0: "nodata", **SMOD_CLASSES})}),
        "green_space": (
            "residual green space next to the built-up edge",
            {"classes": _codes({0: "other", 1: "residual green space", 255: "nodata"})},
        ),
        "excluded": (
            "exclusion reason",
            {
                "reasons": _codes({0: "allowed", **reasons, 255: "nodata (outside the land cover's data)"}),
                "area_ha": _codes({int(r.code): f"{r.area_ha:.2f}" for r in areas.itertuples()}),
            },
        ),
    }
    for name, layer in classes.items():
        description, tags = about[name]
        yield (
            (layer, folder / f"{name}.tif"),
            {
                "description": description,
                "units": "class code",
                "tags": tags,
                "nodata": CLASS_NODATA[name],
                "outside": outside,
            },
        )
    for name, layer in result.criteria.data_vars.items():
        yield (
            (layer, folder / "criteria" / f"{_file_name(name)}.tif"),
            {
                "description": f"criterion {name}",
                "units": "0..1",
                "tags": {
                    "standardisation": layer.attrs.get("standardisation", ""),
                    "parameters": layer.attrs.get("parameters", ""),
                },
                "outside": outside,
            },
        )


def _write_vectors(result: Result, folder: Path) -> None:
    """The GeoPackages, with a style per layer inside and as ``LAYER.qml`` beside them."""
    vectors = {
        "zones": result.zones,
        "firms": result.firms,
        "links": result.links,
        "sources": result.sources,
        "clusters": result.clusters,
        **({"unmatched": result.unmatched} if result.unmatched is not None else {}),
        **({"places": result.places} if result.places is not None else {}),
    }
    materials = styles.qualitative_colours(
        m
        for name in ("links", "sources", "unmatched")
        if "material" in vectors.get(name, ())
        for m in vectors[name]["material"].dropna()
    )
    vector_styles = {
        name: styles.vector_style(name, frame, colours=materials if "material" in frame else None)
        for name, frame in vectors.items()
    }
    for gpkg in dict.fromkeys(VECTOR_LAYERS.values()):
        layers = {name: frame for name, frame in vectors.items() if VECTOR_LAYERS[name] == gpkg}
        io.write_gpkg(
            folder / gpkg,
            layers,
            schemas={name: LAYER_SCHEMAS[name] for name in layers},
            styles={name: vector_styles[name] for name in layers},
        )
    for name, qml in vector_styles.items():
        io.write_text(folder / f"{name}.qml", qml)


def no_data(result: Result) -> Any:
    """Cells outside the land cover's data (its nodata roles): nodata in every output raster (a
    boolean array; a dask-backed DataArray in a chunked run, read window by window)."""
    roles = result.layers["landcover_role"]
    if hasattr(roles.data, "dask"):
        return roles == ROLE_CODE["nodata"]
    return np.asarray(roles.values) == ROLE_CODE["nodata"]


def _written(layer: Any, name: str, outside: Any) -> np.ndarray:
    """The codes a class layer holds as written (the nodata value outside the land cover's
    data), each once: a reduction chunk by chunk in a chunked run."""
    if hasattr(getattr(layer, "data", None), "dask"):
        import dask.array as da

        mask = outside.data if hasattr(outside, "data") else outside
        return np.asarray(da.unique(da.where(mask, CLASS_NODATA[name], layer.data)).compute())
    return np.unique(np.where(np.asarray(outside), CLASS_NODATA[name], np.asarray(layer.values)))


def _write_raster_styles(result: Result, folder: Path, classes: dict[str, np.ndarray]) -> None:
    """A QGIS style beside each raster (``NAME.qml`` for ``NAME.tif``), so layers open styled;
    a class raster's style lists the classes it holds."""
    io.write_text(folder / "suitability.qml", styles.qgis_style("suitability"))
    for name, codes in classes.items():
        present = codes[codes != CLASS_NODATA[name]].tolist()
        reasons = result.excluded.attrs.get("reason_names") if name == "excluded" else None
        io.write_text(folder / f"{name}.qml", styles.qgis_style(name, present=present, names=reasons))
    for name in result.criteria.data_vars:
        io.write_text(folder / "criteria" / f"{_file_name(name)}.qml", styles.qgis_style("criterion"))


def write_manifest(result: Result, folder: Path) -> None:
    """``manifest.json``: inputs with sha256, scenario, versions and timings (the outputs with
    their sha256 are added when the output folder is committed)."""
    s = result.scenario
    inputs = {}
    for key in ("landcover", "population", "roads", "sources", "firms", "dem", "materials", "synergies", "sectors"):
        path = getattr(s.inputs, key)
        if path is not None:
            inputs[key] = {"path": str(path), "bytes": Path(path).stat().st_size, "sha256": io.sha256(path)}
    for i, layer in enumerate(s.constraints.layers):
        inputs[f"constraints.layers[{i}]"] = {
            "path": str(layer.path),
            "bytes": layer.path.stat().st_size,
            "sha256": io.sha256(layer.path),
        }
    for name, c in s.criteria.items():
        if c.raster is not None:
            inputs[f"criteria.{name}.raster"] = {
                "path": str(c.raster),
                "bytes": c.raster.stat().st_size,
                "sha256": io.sha256(c.raster),
            }
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    import rasterio

    versions["GDAL"] = rasterio.__gdal_version__
    manifest = {
        "eicgeo": __version__,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "scenario": s.to_dict(nulls=True),
        "grid": {
            "crs": result.grid.crs.to_string(),
            "transform": list(result.grid.transform)[:6],
            "shape": list(result.grid.shape),
            "resolution_m": result.grid.resolution,
        },
        "inputs": inputs,
        "weights": result.weights,
        "skipped": [{"criterion": k, "reason": why} for k, why in result.skipped],
        "fallbacks": result.fallbacks,
        "notes": result.notes,
        "cautions": result.cautions,
        "criteria_over_allowed_land": result.criteria_diagnostics,
        "network": result.network,
        "stage_seconds": {k: round(v, 3) for k, v in result.timings.items()},
        "total_seconds": round(sum(result.timings.values()), 3),
        # per stage: this process's RSS at start and end and its peak (MB; see Result.memory)
        "stage_memory_mb": result.memory,
        "peak_memory_mb": max((m["peak_rss_mb"] for m in result.memory.values()), default=None),
        "compute": result.compute,
        "packages": versions,
        # "outputs" (every file with its sha256) is filled in by io.output_folder, which knows
        # its own folders by it.
    }
    io.write_text(folder / "manifest.json", json.dumps(manifest, indent=2, default=_json_default) + "\n")


def report_markdown(result: Result) -> str:
    """The human-readable report: ranked zones, method, weights, skipped criteria, exclusions."""
    s = result.scenario
    g = result.grid
    lines = [f"# eicgeo report: {s.name}", ""]
    if s.description:
        lines += [s.description, ""]
    lines += [
        f"Preset `{s.preset}`; grid {g.crs.to_string()}, {g.resolution:g} m cells, {g.width} x {g.height} "
        f"({g.width * g.height * g.cell_area_m2 / 1e6:,.0f} km²).",
        "",
    ]
    if result.cautions:
        lines += ["## Caution: a weak ranking", ""]
        lines += [f"- {c[0].upper()}{c[1:]}." for c in result.cautions]
        lines.append("")
    lines += ["## Ranked candidate zones", ""]
    if result.zones.empty:
        lines += ["No zone was found. " + " ".join(result.notes), ""]
    else:
        lines += _zones_section(result)
    lines += ["## Criteria and weights", "", "| criterion | weight | standardisation |", "| --- | ---: | --- |"]
    for name, w in sorted(result.weights.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {name} | {w:.3f} | {brief.scoring(result, name).replace('|', '/')} |")
    lines += ["", f"Combination: `{result.scenario.mcda.method}`.", ""]
    if result.skipped:
        lines += ["### Skipped criteria", ""]
        lines += [f"- `{k}`: {why}" for k, why in result.skipped]
        lines.append("")
    if result.fallbacks:
        lines += ["### Travel times in part straight-line estimates", ""]
        lines += [f"- `{k}`: {how}" for k, how in result.fallbacks.items()]
        lines.append("")
    lines += ["## Exclusions", "", "| code | reason | area (ha) |", "| ---: | --- | ---: |"]
    reasons = result.excluded.attrs.get("reason_names") or EXCLUSION_REASONS
    areas = mcda.exclusion_areas(result.excluded, reasons, cell_area_m2=g.cell_area_m2).set_index("code")
    for code in [*reasons, *(k for k in areas.index if k not in reasons)]:
        area = float(areas["area_ha"].get(code, 0.0))
        lines.append(f"| {code} | {reasons.get(code, f'code {code}')} | {area:,.0f} |")
    lines += ["", "A cell excluded for several reasons counts once, under the first in this table.", ""]
    cell_ha = g.cell_area_m2 / 1e4
    fringe = np.asarray(result.fringe.values)
    lines += ["## Fringe", "", "| class | area (ha) |", "| --- | ---: |"]
    for code, name in FRINGE_CLASSES.items():
        if code:
            lines.append(f"| {name} | {int((fringe == code).sum()) * cell_ha:,.0f} |")
    lines.append("")
    if result.symbiosis_metrics:
        lines += _symbiosis_section(result)
    if result.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in result.notes] + [""]
    lines += ["## Stage timings", "", _compute_line(result), ""]
    lines += ["| stage | seconds | peak memory (MB) |", "| --- | ---: | ---: |"]
    for k, v in result.timings.items():
        peak = result.memory.get(k, {}).get("peak_rss_mb")
        lines.append(f"| {k} | {v:.2f} | {'' if peak is None else f'{peak:,.0f}'} |")
    lines.append("")
    return "\n".join(lines)


def _compute_line(result: Result) -> str:
    """How the run computed, in words (``[compute]``)."""
    c = result.compute or {"mode": "in memory"}
    if c.get("mode") != "chunked":
        return "Computed in memory. Peak memory is this process's resident set during the stage."
    line = f"Computed chunk by chunk ({c['chunks']} x {c['chunks']} cells) on the `{c['scheduler']}` scheduler"
    workers = c.get("workers")
    if workers:
        line += f" ({workers['n_workers']} workers, {workers['threads']} threads)"
    if c.get("spill"):
        line += ", the computed layers held in a temporary folder on disk (`compute.spill`)"
    return line + ". Peak memory is this process's resident set during the stage (the workers' is in manifest.json)."


def _symbiosis_section(result: Result) -> list[str]:
    """Network metrics, anchor firms, clusters and the unmatched outputs (the opportunities)."""
    m = result.symbiosis_metrics
    lines = [
        "## Symbiosis network",
        "",
        f"{m['n_links']} link{'' if m['n_links'] == 1 else 's'} among {m['n_linked_firms']} of "
        f"{m['n_firms']} firm{'' if m['n_firms'] == 1 else 's'}; "
        f"{m['byproduct_tonnes_exchanged']:,.0f} t/yr of by-products exchanged: "
        f"{m['share_of_byproducts_used']:.0%} of the by-product output finds a user. "
        f"Density {m['density']:.3f}, degree centralisation {m['degree_centralization']:.2f} "
        "(1 = a star around one hub). "
        f"CO2 avoided {m['co2_avoided_t']:,.0f} t/yr, less {m['transport_co2_t']:,.0f} t/yr of trucking: "
        f"net {m['net_co2_t']:,.0f} t/yr (screening factors of `eicgeo.materials`).",
        "",
    ]
    if m["anchor_firms"]:
        lines += ["Anchor firms (largest exchanged tonnage): "]
        lines[-1] += ", ".join(f"{a['firm_id']} ({a['sector']}, {a['tonnes']:,.0f} t/yr)" for a in m["anchor_firms"])
        lines.append("")
    if m["tonnes_by_material"]:
        lines += ["| material | exchanged per year | unit |", "| --- | ---: | --- |"]
        lines += [
            f"| {k} | {v:,.0f} | {result.vocabulary.unit(k).removesuffix('/yr')} |"
            for k, v in sorted(m["tonnes_by_material"].items(), key=lambda kv: -kv[1])
        ]
        lines.append("")
    table = result.cluster_metrics
    if table is not None and len(table):
        lines += ["### Firm clusters", ""]
        cols = ["cluster", "n_firms", "n_links", "density", "degree_centralization", "anchor_firm", "internal_tonnes"]
        lines += [_md_table(table[cols].round({"density": 3, "degree_centralization": 2})), ""]
    left = None if result.unmatched is None else symbiosis.opportunities(result.unmatched, vocab=result.vocabulary)
    if left is not None and len(left):
        lines += [
            "### Unmatched outputs: opportunities for new firms",
            "",
            f"{len(left)} outputs other than emissions find no user within reach (every unmatched output, "
            "CO2 too, is in `firms.gpkg`, layer `unmatched`); the largest:",
            "",
        ]
        top = pd.DataFrame(left.drop(columns="geometry")).head(15)
        lines += [_md_table(top[["firm_id", "sector", "material", "unit", "offered", "unmatched"]]), ""]
    return lines


def _zones_section(result: Result) -> list[str]:
    """The ranked zones, the score formula, the rank stability and the minutes to each material."""
    settings = result.scenario.zones
    table = pd.DataFrame(result.zones.drop(columns="geometry")).sort_values("rank").reset_index(drop=True)
    first = ["rank", "kind", "score", "p_top_k"]
    cols = [*first, *(c for c in ZONE_COLUMNS if c not in (*first, "zone_id"))]
    lines = [_md_table(table[cols]), ""]
    lines += [
        f"`{zones.score_formula(settings.score_table(), table)}` (less is better for minutes and "
        "green loss; set in `[zones.score_weights]`, see `docs/zones.md`).",
        "",
    ]
    top_k = settings.top_k
    runs = settings.stability_runs
    if runs > 0 and table["p_top_k"].notna().any():
        lines += [
            "### Rank stability",
            "",
            f"`p_top_k`: the share of {runs} draws of the criterion weights (Dirichlet, concentration "
            f"{settings.stability_concentration:g}) in which the zone ranks in the top {top_k}.",
            "",
        ]
        tied = table["tied"] if "tied" in table else pd.Series(False, index=table.index)
        # A tie across the top-k boundary is no ranking at all: those ranks are unresolved.
        boundary = tied & table["score"].round(zones.SCORE_DECIMALS).isin(
            table.loc[tied & (table["rank"] <= top_k), "score"].round(zones.SCORE_DECIMALS)
        )
        across = boundary & (table["rank"] > top_k)
        unresolved = table[boundary] if across.any() else table.iloc[:0]
        unstable = table[(table["rank"] <= top_k) & (table["p_top_k"] < 0.5) & ~table.index.isin(unresolved.index)]
        rising = table[(table["rank"] > top_k) & (table["p_top_k"] >= 0.5) & ~table.index.isin(unresolved.index)]
        if not unresolved.empty:
            lines.append(
                f"- **Unresolved**: zones ranked {', '.join(map(str, unresolved['rank']))} tie at the precision shown, "
                f"across the top {top_k}: which of them belong in it is not decided by the evidence."
            )
        elif unstable.empty and rising.empty:
            lines.append(f"The top {top_k} are stable: each stays in the top {top_k} in at least half of the draws.")
        for row in unstable.itertuples():
            lines.append(
                f"- **Unstable**: zone {row.zone_id} (rank {row.rank}, {row.kind}) stays in the top {top_k} in only "
                f"{row.p_top_k:.0%} of the draws."
            )
        for row in rising.itertuples():
            lines.append(
                f"- **Unstable**: zone {row.zone_id} (rank {row.rank}, {row.kind}) is in the top {top_k} in "
                f"{row.p_top_k:.0%} of the draws."
            )
        lines.append("")
    materials = [c for c in table.columns if c.startswith("minutes_")]
    if materials:
        lines += ["### Minutes to each raw material (median over the zone)", ""]
        named = table[["rank", *materials]].rename(columns=lambda c: c.removeprefix("minutes_"))
        lines += [_md_table(named, {c: "{:.1f}" for c in named.columns if c != "rank"}), ""]
    return lines


#: How each zone column is printed: integers for areas, people and tonnes, minutes to 0.1.
_FORMATS = {"score": "{:.3f}", "mean_suitability": "{:.3f}", "market_minutes": "{:.1f}", "material_minutes": "{:.1f}"}
_FORMATS.update({"density": "{:.3f}", "degree_centralization": "{:.2f}"})  # symbiosis network tables
_FORMATS.update({"p_top_k": "{:.2f}", "equal_access": "{:.3f}"})  # zone stability and equal access


def _md_table(frame: pd.DataFrame, formats: dict[str, str] | None = None) -> str:
    """A Markdown table; ``formats`` overrides :data:`_FORMATS` for some columns."""
    formats = {**_FORMATS, **(formats or {})}

    def fmt(column: str, v: Any) -> str:
        if isinstance(v, float | np.floating):
            return "" if np.isnan(v) else formats.get(column, "{:,.0f}").format(v)
        return str(v)

    head = "| " + " | ".join(frame.columns) + " |"
    rule = "| " + " | ".join("---:" if pd.api.types.is_numeric_dtype(frame[c]) else "---" for c in frame.columns) + " |"
    body = [
        "| " + " | ".join(fmt(c, v) for c, v in zip(frame.columns, row, strict=True)) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([head, rule, *body])


def _codes(mapping: dict[int, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in mapping.items())


def _file_name(name: str) -> str:
    return name.replace(":", "-").replace("/", "-")


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.integer | np.floating):
        return value.item()
    if isinstance(value, tuple | set):
        return list(value)
    return str(value)
