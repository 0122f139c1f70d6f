"""Maps of a Result: an interactive Folium map and a static map for briefs.

Maps draw finished layers; they compute nothing but display versions (rasters warped to Web
Mercator and downsampled, colours).
"""

from __future__ import annotations

import base64
import html
import os
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import branca
import folium
import geopandas as gpd
import matplotlib
import numpy as np
import rasterio.features
import xarray as xr
from matplotlib import colormaps
from rasterio.enums import Resampling
from rasterio.warp import calculate_default_transform, reproject, transform_bounds
from shapely.geometry import shape

from eicgeo.fringe import FRINGE_CLASSES
from eicgeo.grid import Grid

if TYPE_CHECKING:
    from eicgeo.pipeline import Result

__all__ = ["explore", "static"]

_SUITABILITY_CMAP = "viridis"
_FRINGE_COLOURS = {1: None, 2: "#f08a24", 3: "#7a0177"}
_EXCLUDED_COLOURS = {
    1: "#bdbdbd",
    2: "#2166ac",
    3: "#35978f",
    4: "#525252",
    5: "#1b7837",
    6: "#bf812d",
    7: "#a6d96a",
    8: "#fee08b",
}
_SECTOR_PALETTE = [matplotlib.colors.to_hex(c) for c in colormaps["tab20"].colors]
_MATERIAL_PALETTE = [matplotlib.colors.to_hex(c) for c in colormaps["Dark2"].colors + colormaps["Set1"].colors]


# --------------------------------------------------------------------------------------------
# interactive
# --------------------------------------------------------------------------------------------
def explore(
    result: Result, *, offline: bool = False, max_pixels: int = 1_000_000, tiles: str | None = "OpenStreetMap"
) -> folium.Map:
    """An interactive map of a result, with every layer switchable in a layer control.

    Parameters
    ----------
    result : Result
    offline : bool
        Inline Leaflet (shipped in ``eicgeo/assets``) so the saved HTML renders with no
        internet; base tiles are then simply absent when offline.
    max_pixels : int
        Rasters are downsampled to at most this many pixels for display.
    tiles : str or None
        Base map (any Folium tile name); None for none.
    """
    west, south, east, north = result.grid.lonlat_bounds
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        tiles=tiles,
        control_scale=True,
        zoom_start=10,
        prefer_canvas=True,
    )
    if offline:
        _inline_assets(m)
    m.fit_bounds([[south, west], [north, east]])

    _image_layer(result.suitability, _colorize_continuous, "Suitability (0–1)", opacity=0.75).add_to(m)
    _fringe_layer(result.fringe).add_to(m)
    _image_layer(
        result.excluded,
        lambda a: _colorize_classes(a, _EXCLUDED_COLOURS),
        "Excluded land (by reason)",
        opacity=0.6,
        categorical=True,
        show=False,
    ).add_to(m)
    if result.main_roads is not None and len(result.main_roads):
        roads = result.main_roads.to_crs(4326)
        roads = roads.assign(geometry=roads.geometry.simplify(0.0003))
        folium.GeoJson(
            roads[["highway", "geometry"]],
            name="Main roads",
            style_function=_road_style,
            tooltip=folium.GeoJsonTooltip(["highway"]),
        ).add_to(m)
    _zones_layer(result.zones).add_to(m)
    if len(result.links):
        _links_layer(result.links).add_to(m)
    if len(result.firms):
        _firms_layer(result.firms).add_to(m)
    if len(result.sources):
        _sources_layer(result.sources).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    m.get_root().html.add_child(branca.element.Element(_title_html(result)))
    m.get_root().html.add_child(branca.element.Element(_legend_html(result)))
    return m


def _inline_assets(m: folium.Map) -> None:
    """Replace Folium's CDN links by Leaflet and jQuery (which Folium's popups use) inlined
    from the package's assets."""
    assets = resources.files("eicgeo.assets")
    css = assets.joinpath("leaflet.css").read_text(encoding="utf-8")

    def data_uri(match: re.Match) -> str:
        png = assets.joinpath(Path(match.group(1)).name).read_bytes()
        return "url(data:image/png;base64," + base64.b64encode(png).decode("ascii") + ")"

    css = re.sub(r"url\(images/([\w.-]+\.png)\)", data_uri, css)
    m.default_js = []
    m.default_css = []
    header = m.get_root().header
    header.add_child(branca.element.Element(f"<style>{css}</style>"), name="leaflet_css_inline")
    for name in ("leaflet.js", "jquery.min.js"):
        js = assets.joinpath(name).read_text(encoding="utf-8")
        js = re.sub(r"//# sourceMappingURL=\S+", "", js)
        header.add_child(branca.element.Element(f"<script>{js}</script>"), name=f"{name}_inline")


def _display_array(layer: xr.DataArray, max_pixels: int, categorical: bool) -> tuple[np.ndarray, list[list[float]]]:
    """Warp a layer to Web Mercator at a resolution giving at most ``max_pixels`` pixels."""
    grid = Grid.from_dataarray(layer)
    dst_crs = "EPSG:3857"
    transform, width, height = calculate_default_transform(grid.crs, dst_crs, grid.width, grid.height, *grid.bounds)
    scale = max(1.0, np.sqrt(width * height / max_pixels))
    width, height = max(1, int(width / scale)), max(1, int(height / scale))
    transform, width, height = calculate_default_transform(
        grid.crs, dst_crs, grid.width, grid.height, *grid.bounds, dst_width=width, dst_height=height
    )
    src = np.asarray(layer.values)
    if categorical:
        out = np.zeros((height, width), dtype=src.dtype)
        nodata = 0
    else:
        src = src.astype(np.float32)
        out = np.full((height, width), np.nan, dtype=np.float32)
        nodata = np.nan
    reproject(
        src,
        out,
        src_transform=grid.transform,
        src_crs=grid.crs,
        src_nodata=nodata,
        dst_transform=transform,
        dst_crs=dst_crs,
        dst_nodata=nodata,
        resampling=Resampling.nearest if categorical else Resampling.average,
    )
    left, top = transform.c, transform.f
    right, bottom = left + transform.a * width, top + transform.e * height
    w, s, e, n = transform_bounds(dst_crs, "EPSG:4326", left, bottom, right, top)
    return out, [[s, w], [n, e]]


def _colorize_continuous(values: np.ndarray) -> np.ndarray:
    rgba = colormaps[_SUITABILITY_CMAP](np.clip(np.nan_to_num(values, nan=0.0), 0, 1), bytes=True)
    rgba[..., 3] = np.where(np.isnan(values), 0, 255)
    return rgba


def _colorize_classes(values: np.ndarray, colours: dict[int, str | None]) -> np.ndarray:
    rgba = np.zeros((*values.shape, 4), dtype=np.uint8)
    for code, colour in colours.items():
        if colour is None:
            continue
        r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
        rgba[values == code] = (r, g, b, 255)
    return rgba


def _image_layer(
    layer: xr.DataArray,
    colorize,
    name: str,
    *,
    opacity: float,
    categorical: bool = False,
    show: bool = True,
    max_pixels: int = 1_000_000,
) -> folium.raster_layers.ImageOverlay:
    values, bounds = _display_array(layer, max_pixels, categorical)
    return folium.raster_layers.ImageOverlay(
        colorize(values), bounds=bounds, name=name, opacity=opacity, mercator_project=False, pixelated=True, show=show
    )


def _fringe_layer(fringe: xr.DataArray) -> folium.FeatureGroup:
    """Urban and peri-urban areas as outlined polygons, so the suitability below stays legible."""
    group = folium.FeatureGroup(name="Fringe (urban / peri-urban)")
    grid = Grid.from_dataarray(fringe)
    codes = np.asarray(fringe.values).astype(np.uint8)
    for code in (2, 3):
        mask = codes == code
        if not mask.any():
            continue
        polygons = [
            shape(g) for g, _ in rasterio.features.shapes(mask.astype(np.uint8), mask=mask, transform=grid.transform)
        ]
        outline = gpd.GeoSeries(polygons, crs=grid.crs).to_crs(4326).simplify(0.0005)
        colour = _FRINGE_COLOURS[code]
        folium.GeoJson(
            gpd.GeoDataFrame({"class": FRINGE_CLASSES[code]}, index=range(len(outline)), geometry=outline),
            style_function=lambda _f, c=colour, dash=("6 4" if code == 2 else None): {
                "color": c,
                "weight": 2,
                "fill": True,
                "fillColor": c,
                "fillOpacity": 0.08,
                "dashArray": dash,
            },
            tooltip=folium.GeoJsonTooltip(["class"]),
        ).add_to(group)
    return group


def _road_style(feature: dict) -> dict:
    major = feature["properties"]["highway"] in ("motorway", "trunk")
    return {"color": "#222222", "weight": 3 if major else 1.5, "opacity": 0.8}


def _rank_colour(rank: int, n: int) -> str:
    return matplotlib.colors.to_hex(colormaps["autumn"](0.85 * (rank - 1) / max(n - 1, 1)))


def _zones_layer(zones: gpd.GeoDataFrame) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name="Candidate EIC zones (by rank)")
    if zones.empty:
        return group
    shown = zones.to_crs(4326)
    n = len(shown)
    for row in shown.itertuples():
        colour = _rank_colour(row.rank, n)
        table = _popup_table({c: getattr(row, c) for c in zones.columns if c != "geometry"})
        folium.GeoJson(
            row.geometry.simplify(0.0002).__geo_interface__,
            style_function=lambda _f, c=colour: {"color": "#b30000", "weight": 2, "fillColor": c, "fillOpacity": 0.55},
            tooltip=f"Zone {row.zone_id}: rank {row.rank}, {row.kind}, score {row.score:.3f}",
            popup=folium.Popup(table, max_width=420),
        ).add_to(group)
        point = row.geometry.representative_point()
        folium.Marker(
            [point.y, point.x],
            icon=folium.DivIcon(
                html=f'<div class="eicgeo-rank">{row.rank}</div>', icon_size=(24, 24), icon_anchor=(12, 12)
            ),
            tooltip=f"Zone {row.zone_id}",
        ).add_to(group)
    return group


def _firms_layer(firms: gpd.GeoDataFrame) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name="Firms (by sector)")
    shown = firms.to_crs(4326)
    sectors = sorted(shown["sector"].astype(str).unique())
    colours = {s: _SECTOR_PALETTE[i % len(_SECTOR_PALETTE)] for i, s in enumerate(sectors)}
    for row in shown.itertuples():
        fields = {
            "firm": f"{row.firm_id} {row.name}",
            "sector": row.sector,
            "inputs": str(row.inputs).replace(";", "; "),
            "outputs": str(row.outputs).replace(";", "; "),
        }
        folium.CircleMarker(
            [row.geometry.y, row.geometry.x],
            radius=4,
            color="#333333",
            weight=0.8,
            fill=True,
            fill_color=colours[str(row.sector)],
            fill_opacity=0.9,
            tooltip=f"{row.name} ({row.sector})",
            popup=folium.Popup(_popup_table(fields), max_width=420),
        ).add_to(group)
    return group


def _links_layer(links: gpd.GeoDataFrame) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name="Symbiosis links (width = tonnes)", show=False)
    shown = links.to_crs(4326)
    materials = sorted(shown["material"].unique())
    colours = {m: _MATERIAL_PALETTE[i % len(_MATERIAL_PALETTE)] for i, m in enumerate(materials)}
    top = np.log10(shown["tonnes"].max() + 1)
    for row in shown.itertuples():
        width = 1.0 + 5.0 * np.log10(row.tonnes + 1) / top
        coords = [(y, x) for x, y in row.geometry.coords]
        fields = {
            "material": row.material,
            "from": f"{row.from_firm} ({row.from_sector})",
            "to": f"{row.to_firm} ({row.to_sector})",
            "tonnes per year": f"{row.tonnes:,.0f}",
            "km": f"{row.km:.1f}",
        }
        folium.PolyLine(
            coords,
            color=colours[row.material],
            weight=width,
            opacity=0.8,
            tooltip=f"{row.material}: {row.tonnes:,.0f} t/yr",
            popup=folium.Popup(_popup_table(fields), max_width=360),
        ).add_to(group)
    return group


def _sources_layer(sources: gpd.GeoDataFrame) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name="Raw-material sources", show=False)
    shown = sources.to_crs(4326)
    materials = sorted(shown["material"].unique())
    colours = {m: _MATERIAL_PALETTE[i % len(_MATERIAL_PALETTE)] for i, m in enumerate(materials)}
    for row in shown.itertuples():
        point = row.geometry if row.geometry.geom_type == "Point" else row.geometry.representative_point()
        tonnes = getattr(row, "tonnes_per_year", np.nan)
        label = f"{row.material}" + (f": {tonnes:,.0f} t/yr" if tonnes == tonnes else "")
        if row.geometry.geom_type != "Point":
            folium.GeoJson(
                row.geometry.__geo_interface__,
                style_function=lambda _f, c=colours[row.material]: {"color": c, "weight": 1, "fillOpacity": 0.3},
                tooltip=label,
            ).add_to(group)
        square = f"<div style='width:9px;height:9px;background:{colours[row.material]};border:1px solid #222'></div>"
        folium.Marker(
            [point.y, point.x], icon=folium.DivIcon(html=square, icon_size=(9, 9), icon_anchor=(5, 5)), tooltip=label
        ).add_to(group)
    return group


def _popup_table(fields: dict[str, Any]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float | np.floating):
            return "–" if np.isnan(v) else (f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3f}")
        return html.escape(str(v))

    rows = "".join(
        f"<tr><th style='text-align:left;padding-right:8px'>{html.escape(str(k))}</th><td>{fmt(v)}</td></tr>"
        for k, v in fields.items()
    )
    return f"<table style='font-size:12px'>{rows}</table>"


def _title_html(result: Result) -> str:
    n = len(result.zones)
    return (
        "<div style='position:fixed;top:10px;left:50%;transform:translateX(-50%);z-index:1000;"
        "background:rgba(255,255,255,0.9);padding:6px 14px;border-radius:4px;font:600 15px sans-serif;"
        "box-shadow:0 1px 4px rgba(0,0,0,0.3)'>"
        f"eicgeo — {html.escape(result.scenario.name)}: {n} candidate Eco-Industrial Cluster zones</div>"
        "<style>.eicgeo-rank{background:#fff;border:2px solid #b30000;border-radius:12px;width:20px;height:20px;"
        "font:bold 12px sans-serif;text-align:center;line-height:20px;color:#b30000}</style>"
    )


def _legend_html(result: Result) -> str:
    stops = ", ".join(matplotlib.colors.to_hex(colormaps[_SUITABILITY_CMAP](x)) for x in np.linspace(0, 1, 6))
    fringe = "".join(
        f"<div><span style='display:inline-block;width:12px;height:10px;border:2px "
        f"{'dashed' if k == 2 else 'solid'} {c};margin-right:6px'></span>{FRINGE_CLASSES[k]}</div>"
        for k, c in _FRINGE_COLOURS.items()
        if c
    )
    from eicgeo.pipeline import EXCLUSION_REASONS

    present = set(np.unique(np.asarray(result.excluded.values)).tolist())
    excluded = "".join(
        f"<div><span style='display:inline-block;width:12px;height:12px;background:{c};opacity:0.7;"
        f"margin-right:6px'></span>{EXCLUSION_REASONS[k]}</div>"
        for k, c in _EXCLUDED_COLOURS.items()
        if k in present
    )
    return (
        "<div style='position:fixed;bottom:30px;right:10px;z-index:1000;background:rgba(255,255,255,0.92);"
        "padding:8px 10px;border-radius:4px;font:12px sans-serif;box-shadow:0 1px 4px rgba(0,0,0,0.3)'>"
        "<b>Suitability</b> (0–1)"
        f"<div style='width:160px;height:10px;background:linear-gradient(to right, {stops})'></div>"
        "<div style='display:flex;justify-content:space-between;width:160px'>"
        "<span>0</span><span>0.5</span><span>1</span></div>"
        f"<b>Fringe</b>{fringe}<b>Excluded</b> (layer off by default){excluded}"
        "<div><span style='display:inline-block;width:12px;height:12px;border:2px solid #b30000;background:#ffb000;"
        "margin-right:6px'></span>candidate zone (number = rank)</div></div>"
    )


# --------------------------------------------------------------------------------------------
# static
# --------------------------------------------------------------------------------------------
def static(result: Result, path: str | Path, *, dpi: int = 200) -> Path:
    """A static map (PNG) for an A4 brief: suitability, fringe outline, ranked zones, main roads,
    firms, a legend, a scale bar and a north arrow."""
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    grid = result.grid
    xmin, ymin, xmax, ymax = (v / 1000.0 for v in grid.bounds)
    fig, ax = plt.subplots(figsize=(11.0, 8.5), dpi=dpi)
    suit = np.asarray(result.suitability.values, dtype=float)
    image = ax.imshow(
        np.ma.masked_invalid(suit),
        cmap=_SUITABILITY_CMAP,
        vmin=0,
        vmax=1,
        extent=(xmin, xmax, ymin, ymax),
        interpolation="nearest",
    )
    excluded = np.asarray(result.excluded.values) > 0
    ax.imshow(
        np.ma.masked_where(~excluded, np.ones_like(suit)),
        cmap=matplotlib.colors.ListedColormap(["#d9d9d9"]),
        extent=(xmin, xmax, ymin, ymax),
        interpolation="nearest",
        alpha=0.9,
    )
    fringe = np.asarray(result.fringe.values)
    xs, ys = grid.xs / 1000.0, grid.ys / 1000.0
    ax.contour(xs, ys, (fringe == 2).astype(float), levels=[0.5], colors="#f08a24", linewidths=0.9)
    ax.contour(xs, ys, (fringe == 3).astype(float), levels=[0.5], colors="#7a0177", linewidths=1.1)
    if result.main_roads is not None and len(result.main_roads):
        for geom, hw in zip(result.main_roads.geometry, result.main_roads["highway"], strict=True):
            x, y = geom.xy
            ax.plot(
                np.asarray(x) / 1000,
                np.asarray(y) / 1000,
                color="#222222",
                lw=1.4 if hw in ("motorway", "trunk") else 0.7,
                alpha=0.8,
            )
    if len(result.firms):
        ax.scatter(result.firms.geometry.x / 1000, result.firms.geometry.y / 1000, s=5, c="#000000", zorder=4)
    for row in result.zones.itertuples():
        geoms = getattr(row.geometry, "geoms", [row.geometry])
        for poly in geoms:
            x, y = poly.exterior.xy
            ax.fill(np.asarray(x) / 1000, np.asarray(y) / 1000, facecolor="none", edgecolor="#d7301f", lw=1.5, zorder=5)
        p = row.geometry.representative_point()
        ax.annotate(
            str(row.rank),
            (p.x / 1000, p.y / 1000),
            ha="center",
            va="center",
            fontsize=8,
            weight="bold",
            color="#b30000",
            zorder=6,
            bbox={"boxstyle": "circle,pad=0.2", "fc": "white", "ec": "#b30000", "lw": 1},
        )
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal")
    ax.set_xlabel(f"easting (km, {grid.crs.to_string()})")
    ax.set_ylabel("northing (km)")
    ax.set_title(f"Candidate Eco-Industrial Cluster zones — {result.scenario.name}", fontsize=13, weight="bold")
    _scale_bar(ax, xmin, xmax, ymin, ymax)
    ax.annotate(
        "N",
        xy=(0.95, 0.93),
        xytext=(0.95, 0.83),
        xycoords="axes fraction",
        ha="center",
        va="center",
        fontsize=12,
        weight="bold",
        arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.5},
    )
    cbar = fig.colorbar(image, ax=ax, shrink=0.6, pad=0.02)
    cbar.set_label("suitability (0–1)")
    handles = [
        Patch(facecolor="none", edgecolor="#d7301f", lw=1.5, label="candidate zone (rank)"),
        Line2D([], [], color="#7a0177", lw=1.1, label="urban edge"),
        Line2D([], [], color="#f08a24", lw=0.9, label="peri-urban fringe edge"),
        Patch(facecolor="#d9d9d9", label="excluded land"),
    ]
    if result.main_roads is not None and len(result.main_roads):
        handles.append(Line2D([], [], color="#222222", lw=1.4, label="motorway / trunk / primary"))
    if len(result.firms):
        handles.append(Line2D([], [], marker="o", color="none", markerfacecolor="black", markersize=4, label="firm"))
    ax.legend(handles=handles, loc="lower left", fontsize=8, framealpha=0.9)
    method = result.suitability.attrs.get("method", "wlc").upper()
    fringe_method = "Degree of Urbanisation" if result.degurba is not None else "land-cover built-up gradient"
    ax.text(
        0.0,
        -0.09,
        f"eicgeo · suitability by {method} of {len(result.weights)} criteria; fringe by the {fringe_method}",
        transform=ax.transAxes,
        fontsize=7,
        color="#555555",
    )
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def _scale_bar(ax, xmin: float, xmax: float, ymin: float, ymax: float) -> None:
    span = xmax - xmin
    length = next(v for v in (1, 2, 5, 10, 20, 50, 100, 200, 500) if v >= span / 8)
    x0, y0 = xmax - length - span * 0.04, ymin + (ymax - ymin) * 0.04
    ax.plot([x0, x0 + length], [y0, y0], color="black", lw=3, solid_capstyle="butt", zorder=7)
    ax.text(x0 + length / 2, y0 + (ymax - ymin) * 0.012, f"{length} km", ha="center", va="bottom", fontsize=8, zorder=7)
