"""Maps of a Result: an interactive Folium map, a static map for briefs and QGIS styles.

Maps draw finished layers; they compute nothing but display versions (rasters warped to Web
Mercator and downsampled, vectors simplified, colours). One palette serves the three outputs, so
a zone, a reason for exclusion or a fringe class has the same colour in ``map.html``, ``map.png``
and QGIS.
"""

from __future__ import annotations

import base64
import html
import io
import json
import mimetypes
import os
import re
import sys
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import branca
import branca.colormap
import contourpy
import folium
import folium.plugins
import geopandas as gpd
import jinja2
import matplotlib
import matplotlib.figure
import matplotlib.patheffects
import numpy as np
import pandas as pd
import rasterio.features
import shapely
import xarray as xr
from branca.element import CssLink, Element, JavascriptLink, MacroElement
from matplotlib import colormaps
from matplotlib.collections import LineCollection, PolyCollection
from PIL import Image, PngImagePlugin
from rasterio.enums import Resampling
from rasterio.warp import calculate_default_transform, reproject, transform_bounds
from shapely.geometry import shape

from eicgeo._errors import EicgeoError, InputError
from eicgeo._validate import check_positive
from eicgeo.fringe import FRINGE_CLASSES
from eicgeo.grid import Grid
from eicgeo.materials import Vocabulary, parse_flows
from eicgeo.places import PLACE_WEIGHTS
from eicgeo.styles import QGIS_STYLES, excluded_classes, qgis_style

if TYPE_CHECKING:
    from eicgeo.pipeline import Result

__all__ = ["A4_LANDSCAPE", "QGIS_STYLES", "excluded_classes", "explore", "offline", "qgis_style", "static"]

_SUITABILITY_CMAP = "viridis"
_SUITABILITY_CAPTION = "Suitability (0–1, dimensionless score; blank = excluded)"
_FRINGE_COLOURS = {1: "#e5f5e0", 2: "#f08a24", 3: "#7a0177"}
#: Colours of the land-cover exclusion reasons; codes added later get colours from a palette.
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
#: The GHSL colours of the GHS-SMOD level-2 classes.
_SMOD_COLOURS = {
    30: "#ff0000",
    23: "#733800",
    22: "#a87000",
    21: "#ffff00",
    13: "#4c7300",
    12: "#abcd66",
    11: "#cdf57a",
    10: "#7ab6f5",
}
_PALETTE = [matplotlib.colors.to_hex(c) for c in colormaps["tab20"].colors + colormaps["tab20b"].colors]
_ZONE_EDGE = "#b30000"
#: A region at least this many times wider than tall gets its legend and table below the map.
WIDE_ASPECT = 1.9


# --------------------------------------------------------------------------------------------
# interactive
# --------------------------------------------------------------------------------------------
def explore(
    result: Result,
    *,
    offline: bool | None = None,
    max_pixels: int = 1_000_000,
    tiles: str | None = "auto",
) -> folium.Map:
    """An interactive map of a result, with every layer switchable in a layer control.

    Layers: suitability (with a colour-bar legend), fringe classes, excluded land by reason,
    main roads, ranked zones (popup: where the zone is, its figures, a bar per criterion and
    its stability), firms by sector (popup: inputs and outputs), symbiosis links (width by
    tonnes, colour by material) and raw-material sources. Controls: a title, full screen, a
    measure tool (km, ha), a minimap and a legend.

    Parameters
    ----------
    result : Result
    offline : bool or None
        Write a self-contained page: Leaflet, the plugins and their CSS are inlined from the
        copies shipped in ``eicgeo/assets`` (with their licences), so nothing is fetched from the
        network. The base map is then left out (``tiles="auto"``), and so is the minimap, which
        needs one; every data layer still shows. None (the default) is True inside a Jupyter
        kernel, where a map must show without internet, and False elsewhere (a page for the web
        loads Leaflet from its CDN); ``Result.save`` and the CLI pass it explicitly.
    max_pixels : int
        Rasters are downsampled to at most this many pixels for display (1,000,000 keeps the
        sample region's page near 3 MB).
    tiles : str or None
        Base map: any Folium tile name, None for none, or ``"auto"``: OpenStreetMap online and
        none offline. A base map given explicitly with ``offline=True`` is fetched when the page
        opens online.

    Returns
    -------
    folium.Map
        Displays inline in Jupyter; ``.save("map.html")`` writes the page.
    """
    max_pixels = int(check_positive(max_pixels, "explore max_pixels"))
    offline = _in_kernel() if offline is None else offline
    if tiles == "auto":
        tiles = None if offline else "OpenStreetMap"
    west, south, east, north = result.grid.lonlat_bounds
    m = folium.Map(location=[(south + north) / 2, (west + east) / 2], tiles=tiles, control_scale=True, zoom_start=10)
    m.fit_bounds([[south, west], [north, east]])

    suitability_overlay, suitability_legend = _suitability_layer(result.suitability, max_pixels)
    suitability_overlay.add_to(m)
    suitability_legend.add_to(m)
    _fringe_layer(result.fringe, result.grid.resolution).add_to(m)
    excluded = excluded_classes(result.excluded)
    _image_layer(
        result.excluded,
        lambda a: _colorize_classes(a, {k: c for k, (_, c) in excluded.items()}),
        "Excluded land (by reason)",
        opacity=0.6,
        categorical=True,
        show=False,
        max_pixels=max_pixels,
    ).add_to(m)
    if result.main_roads is not None and len(result.main_roads):
        _roads_layer(result.main_roads, result.grid.resolution).add_to(m)
    places = _places_layer(result)
    if places is not None:
        places.add_to(m)
    _zones_layer(result).add_to(m)
    materials = _material_colours(result.links, result.sources)
    if len(result.links):
        _links_layer(result.links, materials, result.vocabulary).add_to(m)
    sectors = _sector_colours(result.firms)
    if len(result.firms):
        _firms_layer(result.firms, sectors, result.vocabulary).add_to(m)
    if len(result.sources):
        _sources_layer(result.sources, materials).add_to(m)

    folium.LayerControl(collapsed=False).add_to(m)
    folium.plugins.Fullscreen(position="topleft").add_to(m)
    folium.plugins.MeasureControl(
        position="topleft",
        primary_length_unit="kilometers",
        secondary_length_unit="meters",
        primary_area_unit="hectares",
        secondary_area_unit="sqmeters",
    ).add_to(m)
    if tiles is not None:
        folium.plugins.MiniMap(tile_layer=tiles, position="bottomleft", toggle_display=True).add_to(m)
    root = m.get_root()
    root.html.add_child(_Text(_title_html(result)))
    root.html.add_child(_Text(_legend_html(result, excluded, sectors, materials)))
    if offline:
        # A child of the page itself, rendered after the map and everything added to it.
        root.add_child(_InlineAssets(), name="eicgeo_inline_assets")
    return m


def offline(m: folium.Map | folium.plugins.DualMap) -> folium.Map | folium.plugins.DualMap:
    """Make any Folium map self-contained: its Leaflet, plugins and CSS come from ``eicgeo/assets``.

    Call it last, once every layer and control is on the map: the links are swapped when the page
    renders. Tile layers still load from their servers (leave them out for a page without internet).
    A link the package has no copy of raises :class:`~eicgeo.EicgeoError` when the page renders.

    Returns
    -------
    folium.Map
        ``m`` itself, so a notebook cell can end with ``maps.offline(m)``.

    Examples
    --------
    >>> import folium
    >>> page = offline(folium.Map(tiles=None)).get_root().render()
    >>> "<script src=" in page, "L.map(" in page
    (False, True)
    """
    root = (m.m1 if isinstance(m, folium.plugins.DualMap) else m).get_root()
    # The page's last child, so it renders after the map and everything added to it.
    root.add_child(_InlineAssets(), name="eicgeo_inline_assets")
    return m


def _in_kernel() -> bool:
    """True inside a Jupyter (IPython) kernel, where folium maps display inline."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and hasattr(shell, "kernel")


def _suitability_layer(
    suitability: xr.DataArray, max_pixels: int
) -> tuple[folium.raster_layers.ImageOverlay, branca.colormap.LinearColormap]:
    overlay = _image_layer(suitability, _colorize_continuous, "Suitability (0–1)", opacity=0.75, max_pixels=max_pixels)
    stops = [matplotlib.colors.to_hex(colormaps[_SUITABILITY_CMAP](x)) for x in np.linspace(0, 1, 11)]
    legend = branca.colormap.LinearColormap(stops, vmin=0.0, vmax=1.0, caption=_SUITABILITY_CAPTION)
    return overlay, legend


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


def _colorize_classes(values: np.ndarray, colours: Mapping[int, str | None]) -> np.ndarray:
    rgba = np.zeros((*values.shape, 4), dtype=np.uint8)
    for code, colour in colours.items():
        if colour is None:
            continue
        r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
        rgba[values == code] = (r, g, b, 255)
    return rgba


def _image_layer(
    layer: xr.DataArray,
    colorize: Callable[[np.ndarray], np.ndarray],
    name: str,
    *,
    opacity: float,
    max_pixels: int,
    categorical: bool = False,
    show: bool = True,
) -> folium.raster_layers.ImageOverlay:
    values, bounds = _display_array(layer, max_pixels, categorical)
    return folium.raster_layers.ImageOverlay(
        colorize(values), bounds=bounds, name=name, opacity=opacity, mercator_project=False, pixelated=True, show=show
    )


def _simplified(data: gpd.GeoDataFrame | gpd.GeoSeries, tolerance_m: float) -> gpd.GeoDataFrame | gpd.GeoSeries:
    """Simplify in the projected CRS (metres) for display only, then go to WGS 84 for Leaflet."""
    if isinstance(data, gpd.GeoDataFrame):
        data = data.set_geometry(data.geometry.simplify(tolerance_m))
    else:
        data = data.simplify(tolerance_m)
    return data.to_crs(4326)


def _fringe_layer(fringe: xr.DataArray, resolution_m: float) -> folium.FeatureGroup:
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
        outline = _simplified(gpd.GeoSeries(polygons, crs=grid.crs), resolution_m / 2)
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
                "className": "eicgeo-fringe",
            },
            tooltip=folium.GeoJsonTooltip(["class"]),
        ).add_to(group)
    return group


def _roads_layer(main_roads: gpd.GeoDataFrame, resolution_m: float) -> folium.GeoJson:
    return folium.GeoJson(
        _simplified(main_roads[["highway", "geometry"]], resolution_m / 4),
        name="Main roads",
        style_function=_road_style,
        tooltip=folium.GeoJsonTooltip(["highway"]),
    )


def _road_style(feature: dict) -> dict:
    major = feature["properties"]["highway"] in ("motorway", "trunk")
    return {"color": "#222222", "weight": 3 if major else 1.5, "opacity": 0.8, "className": "eicgeo-road"}


def _rank_colour(rank: int, n: int) -> str:
    return matplotlib.colors.to_hex(colormaps["autumn"](0.85 * (rank - 1) / max(n - 1, 1)))


def _zones_layer(result: Result) -> folium.FeatureGroup:
    """The ranked zones; each popup says where the zone is, its figures in words and units, what
    each criterion adds to its suitability (bars) and how stable its rank is."""
    from eicgeo import brief

    group = folium.FeatureGroup(name="Candidate EIC zones (by rank)")
    zones = result.zones
    if zones.empty:
        return group
    ordered = zones.sort_values("rank")
    shown = _simplified(ordered, result.grid.resolution / 4)
    n = len(shown)
    cards = brief.zone_cards(result, charts=False)
    centres = ordered.geometry.representative_point().to_crs(4326)
    for (_, row), centre, card in zip(shown.iterrows(), centres, cards, strict=True):
        colour = _rank_colour(card.rank, n)
        folium.GeoJson(
            row.geometry.__geo_interface__,
            style_function=lambda _f, c=colour: {
                "color": _ZONE_EDGE,
                "weight": 2,
                "fillColor": c,
                "fillOpacity": 0.55,
                "className": "eicgeo-zone",
            },
            tooltip=f"Rank {card.rank}: zone {card.zone_id}, {card.kind}, score {card.score:.2f}",
            popup=folium.Popup(_zone_popup(card, n), max_width=440),
        ).add_to(group)
        folium.Marker(
            [centre.y, centre.x],
            icon=folium.DivIcon(
                html=f'<div class="eicgeo-rank">{card.rank}</div>', icon_size=(24, 24), icon_anchor=(12, 12)
            ),
            tooltip=f"Zone {card.zone_id}",
        ).add_to(group)
    return group


def _places_layer(result: Result, most: int = 50) -> folium.FeatureGroup | None:
    """Named places as text labels (cities and towns larger), so a page opened offline, without a
    base map, still shows where things are."""
    places = getattr(result, "places", None)
    if places is None or not len(places):
        return None
    group = folium.FeatureGroup(name="Places (from OSM)")
    shown = _largest(places, most)
    points = shown.geometry.to_crs(4326)
    for row, point in zip(shown.itertuples(), points, strict=True):
        size = {"city": 15, "town": 12}.get(row.place, 10)
        weight = "bold" if row.place in ("city", "town") else "normal"
        label = (
            f"<div class='eicgeo-place' style='font:{weight} {size}px sans-serif;color:#111;white-space:nowrap;"
            f"text-shadow:0 0 3px #fff,0 0 3px #fff,0 0 3px #fff'>{html.escape(str(row.name))}</div>"
        )
        folium.Marker(
            [point.y, point.x],
            icon=folium.DivIcon(html=label, icon_size=(150, 18), icon_anchor=(-4, 9)),
            tooltip=f"{row.name} ({row.place})" if row.place else str(row.name),
        ).add_to(group)
        folium.CircleMarker(
            [point.y, point.x], radius=2, color="#111", weight=1, fill=True, fill_opacity=1, interactive=False
        ).add_to(group)
    return group


def _zone_popup(card: Any, n: int) -> str:
    """A zone card as popup HTML: the facts, a bar per criterion, the stability and green space."""
    e = html.escape
    facts = "".join(
        f"<tr><th style='text-align:left;padding-right:8px;vertical-align:top'>{e(k)}</th><td>{e(v)}</td></tr>"
        for k, v in card.facts
    )
    top = max([w for _, _, w in card.parts] + [1e-9])
    bars = "".join(
        "<tr><td style='padding-right:6px;white-space:nowrap'>"
        f"{e(name)}</td><td style='width:130px'><div style='background:#ddd;width:{100 * w / top:.0f}%;height:9px'>"
        f"<div style='background:#0072b2;width:{100 * (a / w if w and np.isfinite(a) else 0):.0f}%;height:9px'></div>"
        f"</div></td><td style='text-align:right'>{(a if np.isfinite(a) else 0):.2f}</td></tr>"
        for name, a, w in card.parts
    )
    return (
        f"<b>Rank {card.rank} of {n}: zone {card.zone_id}</b><br><span style='color:#555'>{e(card.where)}</span>"
        f"<table style='font-size:12px;margin-top:4px'>{facts}</table>"
        "<div style='font-size:12px;margin-top:6px'><b>What each criterion adds to its suitability</b>"
        f"<table style='font-size:11px'>{bars}</table>"
        "<span style='color:#555;font-size:10px'>blue: weight × the criterion's 0–1 score; grey: its weight</span>"
        f"</div><p style='font-size:12px;margin:6px 0 0'>{e(card.stability)} {e(card.green)}</p>"
    )


def _sector_colours(firms: gpd.GeoDataFrame) -> dict[str, str]:
    sectors = sorted(firms["sector"].astype(str).unique()) if len(firms) else []
    return {s: _PALETTE[i % len(_PALETTE)] for i, s in enumerate(sectors)}


def _material_colours(links: gpd.GeoDataFrame, sources: gpd.GeoDataFrame) -> dict[str, str]:
    """One colour per material, shared by links and sources."""
    names = set(links["material"].astype(str)) if len(links) else set()
    names |= set(sources["material"].astype(str)) if len(sources) else set()
    palette = [matplotlib.colors.to_hex(c) for c in colormaps["Dark2"].colors + colormaps["Set1"].colors]
    palette += _PALETTE
    return {m: palette[i % len(palette)] for i, m in enumerate(sorted(names))}


def _flows_table(text: object, vocab: Vocabulary) -> str:
    """``fly_ash:1200;steam:300`` as lines with units."""
    flows = parse_flows(text, vocab=vocab)
    if not flows:
        return "–"
    return "<br>".join(f"{html.escape(k)}: {v:,.0f} {html.escape(vocab.unit(k, ''))}" for k, v in flows.items())


class _Text(Element):
    """Text put into the page as it is.

    A branca ``Element(text)`` compiles its text as a Jinja template and renders it: on a script
    holding thousands of features (or an inlined Leaflet) that took longer than building them,
    and a ``{{`` in a name would have been read as Jinja."""

    def __init__(self, text: str):
        super().__init__()
        self._name = "Text"
        # the page as the template made it: Jinja drops one trailing newline
        self.text = text[:-1] if text.endswith("\n") else text

    def render(self, **kwargs: Any) -> str:
        return self.text


class _Features(MacroElement):
    """Many circle markers or polylines with tooltips and popups, drawn by one script loop.

    folium makes a Marker, a Tooltip and a Popup element per feature and compiles a template for
    each: on a register of 3,000 firms that took most of the map's time. Here the features are
    one JSON array (coordinates, colour, width, tooltip, popup HTML) inside the page, and a
    short script adds them to the layer group: the page size and time grow with the features,
    each at the cost of its text.
    """

    _template = jinja2.Template(
        """
{% macro script(this, kwargs) %}
(function () {
  var group = {{ this._parent.get_name() }};
  var features = {{ this.payload }};
  var options = {{ this.options_json }};
  features.forEach(function (f) {
    var o = Object.assign({}, options, {color: options.color || f[1], fillColor: f[1]});
    if (f[2] !== null) { o.weight = f[2]; }
    var item;
    if (options.kind === "line") { item = L.polyline(f[0], o); }
    else if (options.kind === "polygon") { item = L.polygon(f[0], o); }
    else if (options.kind === "square") {
      item = L.marker(f[0], {icon: L.divIcon({className: options.className, iconSize: [9, 9], iconAnchor: [5, 5],
        html: "<div style='width:9px;height:9px;background:" + f[1] + ";border:1px solid #222'></div>"})});
    }
    else { item = L.circleMarker(f[0], o); }
    item.bindTooltip(f[3]);
    item.bindPopup(f[4], {maxWidth: options.maxWidth});
    item.addTo(group);
  });
})();
{% endmacro %}
"""
    )

    def render(self, **kwargs: Any) -> None:
        """As ``MacroElement.render``, with the script (the payload) put in as it is (:class:`_Text`)."""
        script = self._template.module.__dict__["script"]
        self.get_root().script.add_child(_Text(script(self, kwargs)), name=self.get_name())

    def __init__(self, features: list[list[Any]], **options: Any):
        super().__init__()
        self._name = "EicgeoFeatures"
        # Inside a <script>, "</" would end it: JSON allows "<\/" for "</".
        self.payload = json.dumps(features, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
        self.options_json = json.dumps(options)
        self.count = len(features)


def _firms_layer(firms: gpd.GeoDataFrame, colours: Mapping[str, str], vocab: Vocabulary) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name="Firms (by sector)")
    shown = firms.to_crs(4326)
    points = shown.geometry.representative_point()
    has_cluster = "cluster" in shown.columns
    features = []
    for row, x, y in zip(shown.itertuples(index=False), points.x, points.y, strict=True):
        sector = str(row.sector)
        fields = {"firm": f"{row.firm_id} {row.name}", "sector": sector}
        if has_cluster:
            fields["cluster"] = "none" if row.cluster < 0 else int(row.cluster)
        raw = {"inputs": _flows_table(row.inputs, vocab), "outputs": _flows_table(row.outputs, vocab)}
        tooltip = f"{html.escape(str(row.name))} ({html.escape(sector)})"
        features.append(
            [[round(y, 6), round(x, 6)], colours[sector], None, tooltip, _popup_table(fields, raw_html=raw)]
        )
    _Features(
        features, kind="point", radius=5, color="#333333", weight=0.8, fill=True, fillOpacity=0.9,
        className="eicgeo-firm", maxWidth=420,
    ).add_to(group)  # fmt: skip
    return group


def _links_layer(links: gpd.GeoDataFrame, colours: Mapping[str, str], vocab: Vocabulary) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name="Symbiosis links (width = tonnes)", show=False)
    shown = links.to_crs(4326)
    top = np.log10(float(shown["tonnes"].max()) + 1)
    features = []
    for _, row in shown.iterrows():
        width = 1.0 + 5.0 * np.log10(row["tonnes"] + 1) / max(top, 1e-9)
        unit = vocab.unit(row["material"])
        fields = {
            "material": row["material"],
            "from": f"{row['from_firm']} ({row.get('from_sector', '')})",
            "to": f"{row['to_firm']} ({row.get('to_sector', '')})",
            f"amount ({unit})": f"{row['tonnes']:,.0f}",
            "distance (km)": f"{row['km']:.1f}",
        }
        line = [[round(y, 6), round(x, 6)] for x, y in row.geometry.coords]
        tooltip = html.escape(f"{row['material']}: {row['tonnes']:,.0f} {unit}")
        features.append([line, colours[str(row["material"])], round(float(width), 2), tooltip, _popup_table(fields)])
    _Features(features, kind="line", opacity=0.8, className="eicgeo-link", maxWidth=360).add_to(group)
    return group


def _sources_layer(sources: gpd.GeoDataFrame, colours: Mapping[str, str]) -> folium.FeatureGroup:
    """Each source as a square at its point (or its area's representative point), and areas as
    polygons too; both data-driven (:class:`_Features`)."""
    group = folium.FeatureGroup(name="Raw-material sources", show=False)
    shown = sources.to_crs(4326)
    areas, squares = [], []
    for _, row in shown.iterrows():
        geom = row.geometry
        point = geom if geom.geom_type == "Point" else geom.representative_point()
        colour = colours[str(row["material"])]
        tonnes = row.get("tonnes_per_year", np.nan)
        label = html.escape(f"{row['material']}" + (f": {tonnes:,.0f} t/yr" if tonnes == tonnes else ""))
        fields = {k: row[k] for k in ("source_id", "name", "material", "tonnes_per_year") if k in row.index}
        popup = _popup_table(fields)
        if geom.geom_type in ("Polygon", "MultiPolygon"):
            areas.append([_latlngs(geom), colour, None, label, popup])
        squares.append([[round(point.y, 6), round(point.x, 6)], colour, None, label, popup])
    if areas:
        _Features(
            areas, kind="polygon", weight=1, fillOpacity=0.3, className="eicgeo-source-area", maxWidth=320
        ).add_to(group)
    _Features(squares, kind="square", className="eicgeo-source", maxWidth=320).add_to(group)
    return group


def _latlngs(geom: Any) -> list:
    """A (multi)polygon's rings as Leaflet [lat, lon] lists (holes after their exterior)."""

    def rings(poly: Any) -> list:
        return [[[round(y, 6), round(x, 6)] for x, y in ring.coords] for ring in (poly.exterior, *poly.interiors)]

    return [rings(p) for p in geom.geoms] if geom.geom_type == "MultiPolygon" else rings(geom)


def _fmt(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, int | np.integer):
        return f"{int(v):,}"
    if isinstance(v, float | np.floating):
        if np.isnan(v):
            return "–"
        if float(v).is_integer() and abs(v) >= 1:
            return f"{v:,.0f}"
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3f}"
    return html.escape(str(v))


def _popup_table(fields: Mapping[str, Any], *, title: str = "", raw_html: Mapping[str, str] | None = None) -> str:
    """An HTML table of ``fields`` (escaped and formatted) and ``raw_html`` (already HTML)."""
    cells = [(html.escape(str(k)), _fmt(v)) for k, v in fields.items()]
    cells += [(html.escape(k), v) for k, v in (raw_html or {}).items()]
    rows = "".join(
        f"<tr><th style='text-align:left;padding-right:8px;vertical-align:top'>{k}</th><td>{v}</td></tr>"
        for k, v in cells
    )
    head = f"<b>{html.escape(title)}</b>" if title else ""
    return f"{head}<table style='font-size:12px'>{rows}</table>"


def _title_html(result: Result) -> str:
    n = len(result.zones)
    return (
        "<div class='eicgeo-title' style='position:fixed;top:10px;left:60px;max-width:45%;"
        "z-index:1000;background:rgba(255,255,255,0.9);padding:6px 14px;border-radius:4px;"
        "font:600 15px sans-serif;box-shadow:0 1px 4px rgba(0,0,0,0.3)'>"
        f"eicgeo — {html.escape(result.scenario.name)}: {n} candidate Eco-Industrial Cluster zones</div>"
        f"<style>.eicgeo-rank{{background:#fff;border:2px solid {_ZONE_EDGE};border-radius:12px;width:20px;"
        f"height:20px;font:bold 12px sans-serif;text-align:center;line-height:20px;color:{_ZONE_EDGE}}}"
        ".eicgeo-legend summary{cursor:pointer;font-weight:bold}"
        ".eicgeo-legend .sw{display:inline-block;width:12px;height:10px;margin-right:6px}</style>"
    )


def _swatch(colour: str, label: str, *, style: str = "") -> str:
    return f"<div><span class='sw' style='background:{colour};{style}'></span>{html.escape(label)}</div>"


def _legend_html(
    result: Result,
    excluded: Mapping[int, tuple[str, str]],
    sectors: Mapping[str, str],
    materials: Mapping[str, str],
) -> str:
    fringe = "".join(
        _swatch("transparent", FRINGE_CLASSES[k], style=f"border:2px {'dashed' if k == 2 else 'solid'} {c}")
        for k, c in _FRINGE_COLOURS.items()
        if k in (2, 3)
    )
    present = set(np.unique(np.asarray(result.excluded.values)).tolist())
    reasons = "".join(_swatch(c, f"{k} {label}") for k, (label, c) in excluded.items() if k in present)
    parts = [
        "<div class='eicgeo-legend' style='position:fixed;bottom:30px;right:10px;z-index:1000;max-height:60%;"
        "overflow-y:auto;background:rgba(255,255,255,0.92);padding:8px 10px;border-radius:4px;font:12px sans-serif;"
        "box-shadow:0 1px 4px rgba(0,0,0,0.3)'>",
        _swatch(
            _rank_colour(1, 2),
            "candidate zone (number = rank; fill from rank 1 to last)",
            style=f"border:2px solid {_ZONE_EDGE}",
        ),
        f"<details open><summary>Fringe</summary>{fringe}</details>",
    ]
    if reasons:
        parts.append(f"<details><summary>Excluded land (layer off at start)</summary>{reasons}</details>")
    if sectors:
        rows = "".join(_swatch(c, s, style="border-radius:6px") for s, c in sectors.items())
        parts.append(f"<details><summary>Firms by sector</summary>{rows}</details>")
    if materials:
        rows = "".join(_swatch(c, m) for m, c in materials.items())
        parts.append(
            "<details><summary>Materials (links, sources)</summary>"
            f"<div>link width grows with log tonnes per year</div>{rows}</details>"
        )
    parts.append("</div>")
    return "".join(parts)


# --------------------------------------------------------------------------------------------
# offline assets
# --------------------------------------------------------------------------------------------
#: The file each CDN link (matched by its file name) is replaced by in an offline page.
_VENDORED = {
    "leaflet.js": "leaflet.js",
    "leaflet.css": "leaflet.css",
    "jquery-3.7.1.min.js": "jquery.min.js",
    "Control.FullScreen.min.js": "Control.FullScreen.js",
    "Control.FullScreen.js": "Control.FullScreen.js",
    "Control.FullScreen.css": "Control.FullScreen.css",
    "Control.MiniMap.js": "Control.MiniMap.min.js",
    "Control.MiniMap.min.js": "Control.MiniMap.min.js",
    "Control.MiniMap.css": "Control.MiniMap.min.css",
    "Control.MiniMap.min.css": "Control.MiniMap.min.css",
    "leaflet-measure.min.js": "leaflet-measure.min.js",
    "leaflet-measure.js": "leaflet-measure.min.js",
    "leaflet-measure.min.css": "leaflet-measure.css",
    "leaflet-measure.css": "leaflet-measure.css",
    "d3.min.js": "d3.min.js",
    "L.Map.Sync.min.js": "L.Map.Sync.js",  # folium.plugins.DualMap (eicgeo.compare)
}
#: Links Folium adds for features these maps do not use (Bootstrap, awesome markers, glyph fonts).
_UNUSED = re.compile(r"bootstrap|awesome|glyphicons|fontawesome|font-awesome")


class _InlineAssets(MacroElement):
    """Swap the CDN links in the page header for the copies shipped in ``eicgeo/assets``.

    It renders after the map (it is the page's last child), when every element has put its
    links in the header.
    """

    def render(self, **kwargs: Any) -> None:
        super().render(**kwargs)
        header = self.get_root().header
        for name, child in list(header._children.items()):
            if not isinstance(child, JavascriptLink | CssLink) or not re.match(r"(https?:)?//", child.url):
                continue
            file = child.url.split("?")[0].rsplit("/", 1)[-1]
            if _UNUSED.search(child.url):
                del header._children[name]
                continue
            if file not in _VENDORED:
                msg = (
                    f"offline map: no copy of {child.url!r} in eicgeo/assets; expected one of "
                    f"{', '.join(sorted(_VENDORED))} (vendor it with its licence, or use offline=False)"
                )
                raise EicgeoError(msg)
            if isinstance(child, JavascriptLink):
                header._children[name] = _Text(f"<script>{_asset_js(_VENDORED[file])}</script>")
            else:
                header._children[name] = _Text(f"<style>{_asset_css(_VENDORED[file])}</style>")


def _asset_js(name: str) -> str:
    text = resources.files("eicgeo.assets").joinpath(name).read_text(encoding="utf-8")
    # A source-map comment would make browsers' developer tools ask the network for the map.
    return re.sub(r"//# sourceMappingURL=\S+", "", text).replace("</script", "<\\/script")


def _asset_css(name: str) -> str:
    """CSS with each ``url(...)`` image turned into a data URI of the shipped file."""
    assets = resources.files("eicgeo.assets")

    def data_uri(match: re.Match) -> str:
        file = match.group(2).split("?")[0].rsplit("/", 1)[-1]
        mime = mimetypes.guess_type(file)[0] or "application/octet-stream"
        data = base64.b64encode(assets.joinpath(file).read_bytes()).decode("ascii")
        return f"url(data:{mime};base64,{data})"

    css = assets.joinpath(name).read_text(encoding="utf-8")
    return re.sub(r"url\((['\"]?)(?!data:|#)([^'\")]+)\1\)", data_uri, css)


# --------------------------------------------------------------------------------------------
# static
# --------------------------------------------------------------------------------------------
#: A4 landscape, in inches.
A4_LANDSCAPE = (297 / 25.4, 210 / 25.4)
#: zlib level of the static map's PNG (matplotlib's is 6).
PNG_COMPRESS_LEVEL = 6


def static(result: Result, path: str | Path, *, dpi: int = 300) -> Path:
    """A static map (PNG) for an A4 brief.

    Suitability, excluded land, the urban and fringe outlines, main roads, firms, the zones
    labelled by rank, a colour bar, a scale bar and a north arrow, with the legend and the table of
    ranked zones beside the map, on an A4 landscape page (297 x 210 mm) whose smallest text is
    7 pt, so it stays readable printed at 300 dpi.

    Parameters
    ----------
    result : Result
    path : path
        The PNG to write (atomically).
    dpi : int
        Dots per inch: the image is 297/25.4 x 210/25.4 inches at this resolution (3508 x 2480
        pixels at 300 dpi).

    Returns
    -------
    Path
    """
    dpi = int(check_positive(dpi, "static dpi"))
    if not 50 <= dpi <= 1200:
        msg = f"static dpi must be between 50 and 1200 dots per inch, got {dpi}"
        raise InputError(msg)
    fig = static_figure(result, dpi=dpi)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    # The figure was laid out as it was built (static_figure): drawn once, not laid out again.
    fig.set_layout_engine("none")
    fig.canvas.draw()
    try:
        tmp.write_bytes(rgb_png(np.asarray(fig.canvas.buffer_rgba()), dpi=dpi))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path


def rgb_png(rgba: np.ndarray, *, dpi: float) -> bytes:
    """An opaque RGBA canvas (the static map, the brief's charts) as an RGB PNG, which the PDF
    brief embeds without an alpha mask; tagged with its dpi and, as matplotlib tags its own, the
    software."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", f"Matplotlib version{matplotlib.__version__}, https://matplotlib.org/")
    buf = io.BytesIO()
    Image.fromarray(rgba[..., :3]).save(
        buf, format="PNG", dpi=(dpi, dpi), pnginfo=info, compress_level=PNG_COMPRESS_LEVEL
    )
    return buf.getvalue()


def static_figure(result: Result, *, dpi: int = 300) -> matplotlib.figure.Figure:
    """The figure :func:`static` saves: the map axes, a side (or bottom) panel with the legend
    and the ranked zones, the colour bar and the footer caption (a matplotlib Figure, not
    attached to pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    grid = result.grid
    xmin, ymin, xmax, ymax = (v / 1000.0 for v in grid.bounds)
    fig = Figure(figsize=A4_LANDSCAPE, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)  # the layout is computed while the figure is built (see _map_layers)
    # The footer caption sits in a strip the layout keeps free, whatever the region's shape.
    fig.get_layout_engine().set(rect=(0.0, 0.03, 1.0, 0.97))
    aspect = (xmax - xmin) / (ymax - ymin)
    wide = aspect >= WIDE_ASPECT
    if wide:
        # A wide region fills the page's width: the legend, colour bar and ranked zones go below.
        ax, side = fig.subplots(2, 1, height_ratios=[2.4, 1.0])
    else:
        # A square or tall region: the map takes the width its shape needs (about 175 mm high,
        # plus its axis labels and colour bar) and the legend and ranked zones the rest.
        map_mm = min(297.0 - 80.0, aspect * 175.0 + 45.0)
        side, ax = fig.subplots(1, 2, width_ratios=[297.0 - map_mm, map_mm])
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal")
    # Zone labels, the scale bar and the place names may reach past the map's edge, so they are on
    # the axes before the layout is computed; the rasters and lines, clipped to the axes, after it.
    for row in result.zones.itertuples():
        p = row.geometry.representative_point()
        ax.annotate(
            str(row.rank),
            (p.x / 1000, p.y / 1000),
            ha="center",
            va="center",
            fontsize=8,
            weight="bold",
            color=_ZONE_EDGE,
            zorder=6,
            bbox={"boxstyle": "circle,pad=0.2", "fc": "white", "ec": _ZONE_EDGE, "lw": 1},
        )
    ax.tick_params(labelsize=8)
    ax.set_xlabel(f"easting (km, {grid.crs.to_string()})", fontsize=9)
    ax.set_ylabel("northing (km)", fontsize=9)
    fig.suptitle(f"Candidate Eco-Industrial Cluster zones — {result.scenario.name}", fontsize=14, weight="bold")
    _scale_bar(ax, xmin, xmax, ymin, ymax)
    ax.annotate(
        "N",
        xy=(0.95, 0.95),
        xytext=(0.95, 0.85),
        xycoords="axes fraction",
        ha="center",
        va="center",
        fontsize=12,
        weight="bold",
        arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.5},
        bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8},
    )
    _place_labels(ax, result, (xmin, xmax, ymin, ymax))
    scale = ScalarMappable(norm=matplotlib.colors.Normalize(0, 1), cmap=_SUITABILITY_CMAP)
    if wide:
        cbar = fig.colorbar(scale, cax=side.inset_axes((0.02, 0.08, 0.4, 0.07)), orientation="horizontal")
    else:
        cbar = fig.colorbar(scale, ax=ax, shrink=0.6, pad=0.02)
    cbar.set_label("suitability (0–1, dimensionless)", fontsize=9)
    cbar.ax.tick_params(labelsize=8)
    handles = [
        Patch(facecolor="none", edgecolor="#d7301f", lw=1.5, label="candidate zone (number = rank)"),
        Line2D([], [], color=_FRINGE_COLOURS[3], lw=1.2, label="urban edge"),
        Line2D([], [], color=_FRINGE_COLOURS[2], lw=1.0, label="peri-urban fringe edge"),
        Patch(facecolor="#d9d9d9", label="excluded land"),
    ]
    if result.main_roads is not None and len(result.main_roads):
        handles.append(Line2D([], [], color="#222222", lw=1.4, label="motorway / trunk / primary road"))
    if len(result.firms):
        handles.append(Line2D([], [], marker="o", color="none", markerfacecolor="black", markersize=4, label="firm"))
    places = _shown_places(result, (xmin, xmax, ymin, ymax))
    if len(places):
        handles.append(Line2D([], [], marker="s", color="none", markerfacecolor="#333333", markersize=3, label="town"))
    side.axis("off")
    # below a wide map: the legend in two columns on the left of the strip, the ranked zones on the right
    side.legend(
        handles=handles,
        loc="upper left",
        fontsize=8,
        title="Legend",
        title_fontsize=9,
        alignment="left",
        frameon=False,
        ncols=2 if wide else 1,
    )
    if wide:
        table_ax = side.inset_axes((0.5, 0.0, 0.5, 1.0))
        table_ax.axis("off")
        _zone_table(table_ax, result.zones, rows=10, height_per_row=0.075)
    else:
        _zone_table(side, result.zones)
    method = result.scenario.mcda.method.upper()
    fringe_method = "Degree of Urbanisation" if result.degurba is not None else "land-cover built-up gradient"
    fig.text(
        0.01,
        0.008,
        f"eicgeo · suitability by {method} of {_criteria_count(result.weights)} criteria; "
        f"fringe by the {fringe_method}",
        fontsize=7,
        color="#555555",
        va="bottom",
    )
    _map_layers(ax, result)
    return fig


def _map_layers(ax: matplotlib.axes.Axes, result: Result) -> None:
    """The map's rasters, outlines, roads, firms and zones, drawn at the page's resolution.

    The page is laid out first, so the map's size in pixels is known: the rasters are then
    aggregated to blocks of ``f`` x ``f`` cells, ``f`` the most cells a pixel holds (1 when a
    cell is a pixel or more), and coloured once, suitability and excluded land together, instead
    of matplotlib colouring every cell of the grid in float64 and resampling it at each draw. A
    block shows the mean suitability of its cells when at least half have one, and is excluded
    land when at least half of its cells are; the urban and fringe edges are the 0.5 contours of
    the block's share of each class. On a grid as fine as the page (or coarser) nothing is
    aggregated and the map shows each cell as before.
    """
    grid = result.grid
    fig = ax.get_figure()
    fig.get_layout_engine().execute(fig)
    ax.apply_aspect()  # the map's box on the page, shrunk to the region's shape as a draw does
    box = ax.get_window_extent()
    f = max(1, int(min(grid.width / max(box.width, 1.0), grid.height / max(box.height, 1.0))))
    rgba, urban, fringe = _map_rasters(result, f, background=ax.get_facecolor())
    xmin, ymin, xmax, ymax = (v / 1000.0 for v in grid.bounds)
    step = f * grid.resolution / 1000.0
    h, w = rgba.shape[:2]
    # In strips of rows: matplotlib resamples each image through float32 RGBA copies of it and of
    # its pixels on the page, so a strip at a time holds a strip's worth (the strips meet on
    # whole pixels: the same nearest cells as one image).
    for top in range(0, h, _STRIP_ROWS):
        bottom = min(h, top + _STRIP_ROWS)
        ax.imshow(
            rgba[top:bottom],
            extent=(xmin, xmin + w * step, ymax - bottom * step, ymax - top * step),
            interpolation="nearest",
        )
    # block centres (a last, partial block: the centre of its cells)
    xs = _block_centres(grid.xs / 1000.0, f)
    ys = _block_centres(grid.ys / 1000.0, f)
    _edge(ax, xs, ys, fringe, colour=_FRINGE_COLOURS[2], width=1.0)
    _edge(ax, xs, ys, urban, colour=_FRINGE_COLOURS[3], width=1.2)
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    if result.main_roads is not None and len(result.main_roads):
        # One collection per line width: a Line2D per road costs ~1 ms each on country maps.
        big = result.main_roads["highway"].isin(["motorway", "trunk"]).to_numpy()
        for major in (False, True):
            lines = shapely.get_parts(result.main_roads.geometry.to_numpy()[big == major])
            if len(lines):
                segments = [shapely.get_coordinates(line) / 1000.0 for line in lines]
                ax.add_collection(
                    LineCollection(segments, colors="#222222", linewidths=1.4 if major else 0.7, alpha=0.8)
                )
    if len(result.firms):
        points = result.firms.geometry.representative_point()
        ax.scatter(points.x / 1000, points.y / 1000, s=6, c="#000000", linewidths=0, zorder=4)
    # The zones' outlines in one collection (an Axes.fill per polygon cost ~10 ms each); each
    # polygon's exterior, as a patch draws it (mitred corners).
    rings = [
        shapely.get_coordinates(poly.exterior) / 1000.0
        for geom in result.zones.geometry
        for poly in getattr(geom, "geoms", [geom])
    ]
    if rings:
        ax.add_collection(
            PolyCollection(
                rings,
                closed=True,
                facecolors="none",
                edgecolors="#d7301f",
                linewidths=1.5,
                joinstyle="miter",
                capstyle="butt",
                zorder=5,
            ),
            autolim=False,
        )


#: Rows of each strip of the static map's raster image (see _map_layers).
_STRIP_ROWS = 256
#: The excluded land's grey and its opacity over the suitability (as Agg blends it, in bytes).
_EXCLUDED_GREY = (0xD9, 0xD9, 0xD9)
_EXCLUDED_ALPHA = int(0.9 * 255) / 255


def _map_rasters(result: Result, f: int, *, background: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The static map's rasters on blocks of ``f`` x ``f`` cells: the suitability coloured with
    the excluded land over it (RGBA bytes, opaque over ``background``), and the share of each
    block in the urban class and in the peri-urban fringe (float32, 0..1).

    The grid is read a strip of rows at a time, so the memory is that of the page's pixels and
    one strip, whatever the grid's size."""
    height, width = result.grid.shape
    h, w = -(-height // f), -(-width // f)
    rgba = np.empty((h, w, 4), dtype=np.uint8)
    urban = np.empty((h, w), dtype=np.float32)
    fringe = np.empty((h, w), dtype=np.float32)
    cmap = colormaps[_SUITABILITY_CMAP]
    bg = np.asarray(matplotlib.colors.to_rgba(background)[:3], dtype=np.float32) * 255
    grey = np.asarray(_EXCLUDED_GREY, dtype=np.float32)
    suitability = result.suitability
    excluded, classes = result.excluded, result.fringe
    cols = np.arange(0, width, f)
    col_cells = np.diff(np.append(cols, width)).astype(np.float32)
    rows_per_strip = f * max(1, (1 << 18) // (f * width))
    for top in range(0, height, rows_per_strip):
        cells = slice(top, min(height, top + rows_per_strip))
        suit = np.asarray(suitability[cells].values, dtype=np.float32)
        gone = np.asarray(excluded[cells].values) > 0
        codes = np.asarray(classes[cells].values)
        out = slice(top // f, -(-cells.stop // f))
        if f == 1:
            keep = ~np.isnan(suit)
            mean = suit
            grey_share = gone
            urban[out], fringe[out] = codes == 3, codes == 2
        else:
            rows = np.arange(0, suit.shape[0], f)
            n = np.outer(np.diff(np.append(rows, suit.shape[0])), col_cells)

            def block_sum(values: np.ndarray, rows: np.ndarray = rows) -> np.ndarray:
                summed = np.add.reduceat(values, rows, axis=0, dtype=np.float32)
                return np.add.reduceat(summed, cols, axis=1, dtype=np.float32)

            valid = ~np.isnan(suit)
            count = block_sum(valid)
            keep = 2 * count >= n
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = block_sum(np.where(valid, suit, np.float32(0))) / count
            grey_share = 2 * block_sum(gone) >= n
            urban[out], fringe[out] = block_sum(codes == 3) / n, block_sum(codes == 2) / n
        colour = cmap(np.clip(np.where(keep, mean, 0), 0, 1), bytes=True)[..., :3].astype(np.float32)
        colour = np.where(keep[..., None], colour, bg)
        colour = np.where(grey_share[..., None], _EXCLUDED_ALPHA * grey + (1 - _EXCLUDED_ALPHA) * colour, colour)
        rgba[out, :, :3] = np.round(colour)
        rgba[out, :, 3] = 255
    return rgba, urban, fringe


def _edge(ax: matplotlib.axes.Axes, xs: np.ndarray, ys: np.ndarray, share: np.ndarray, *, colour: str, width: float):
    """The 0.5 contour of ``share`` on cell centres ``xs``, ``ys`` as ``Axes.contour`` draws it.

    ``Axes.contour`` would spread ``xs`` and ``ys`` over the grid in float64 and keep them with
    the contour generator as long as the figure lives; the lines are traced on cell indices
    instead and placed at the centres."""
    from matplotlib.contour import ContourSet

    if share.shape[0] < 2 or share.shape[1] < 2:
        return
    generator = contourpy.contour_generator(
        z=share,
        name=matplotlib.rcParams["contour.algorithm"],
        corner_mask=matplotlib.rcParams["contour.corner_mask"],
        line_type=contourpy.LineType.SeparateCode,
    )
    lines, kinds = generator.lines(0.5)
    segments = [
        np.column_stack([np.interp(v[:, 0], np.arange(len(xs)), xs), np.interp(v[:, 1], np.arange(len(ys)), ys)])
        for v in lines
    ]
    ContourSet(ax, [0.5], [segments], [list(kinds)], colors=colour, linewidths=width)


def _block_centres(centres: np.ndarray, f: int) -> np.ndarray:
    """The centre of each run of ``f`` cells (the last run may be shorter)."""
    starts = np.arange(0, len(centres), f)
    return np.add.reduceat(centres, starts) / np.diff(np.append(starts, len(centres)))


def _criteria_count(weights: Mapping[str, float]) -> int:
    """The weighted criteria, the per-material access criteria counted once."""
    return len({name.split(":", 1)[0] for name, w in weights.items() if w > 0})


def _shown_places(result: Result, extent: tuple[float, float, float, float], most: int = 12) -> gpd.GeoDataFrame:
    """The largest named places inside the map (cities, then towns, then villages), at most
    ``most``, in the grid's CRS."""
    places = getattr(result, "places", None)
    if places is None or not len(places):
        return gpd.GeoDataFrame({"name": []}, geometry=[], crs=result.grid.crs)
    xmin, xmax, ymin, ymax = (v * 1000.0 for v in extent)
    return _largest(places.cx[xmin:xmax, ymin:ymax], most)


def _largest(places: gpd.GeoDataFrame, most: int) -> gpd.GeoDataFrame:
    """The ``most`` largest places: by place weight (cities first, :data:`PLACE_WEIGHTS`), then
    by population."""
    weight = places["place"].map(PLACE_WEIGHTS).fillna(0.0)
    population = places["population"].fillna(0) if "population" in places else pd.Series(0.0, index=places.index)
    return places.iloc[np.lexsort((-population.to_numpy(), -weight.to_numpy()))[:most]]


def _place_labels(ax: matplotlib.axes.Axes, result: Result, extent: tuple[float, float, float, float]) -> None:
    """Name the largest places on the static map, so a reader sees where the zones are."""
    for row in _shown_places(result, extent).itertuples():
        x, y = row.geometry.x / 1000.0, row.geometry.y / 1000.0
        big = row.place == "city"
        ax.plot(x, y, marker="s", ms=3.5 if big else 2.5, color="#333333", zorder=7)
        ax.annotate(
            str(row.name),
            (x, y),
            xytext=(4, 3),
            textcoords="offset points",
            fontsize=9 if big else 7.5,
            weight="bold" if big else "normal",
            color="#111111",
            zorder=7,
            path_effects=[matplotlib.patheffects.withStroke(linewidth=2.2, foreground="white")],
        )


def _zone_table(
    ax: matplotlib.axes.Axes, zones: gpd.GeoDataFrame, *, rows: int = 20, height_per_row: float = 0.026
) -> None:
    """The ranked zones (rank, kind, area, score) as a table in the lower part of ``ax``."""
    if zones.empty:
        ax.text(0.0, 0.5, "No candidate zone was found.", fontsize=9, transform=ax.transAxes)
        return
    top = zones.sort_values("rank").head(rows)
    cells = [
        [str(r.rank), str(r.kind), f"{r.area_ha:,.0f}", f"{r.score:.2f}", f"{r.mean_suitability:.2f}"]
        for r in top.itertuples()
    ]
    height = min(0.85, height_per_row * (len(cells) + 1))
    table = ax.table(
        cellText=cells,
        colLabels=["rank", "kind", "area (ha)", "score", "mean suit."],
        colWidths=[0.12, 0.27, 0.21, 0.17, 0.23],
        cellLoc="center",
        colLoc="center",
        bbox=[0.0, 0.02, 1.0, height],
    )
    table.auto_set_font_size(False)
    table.set_fontsize(7.5)
    for cell in table.get_celld().values():
        cell.set_linewidth(0.3)
    more = f" (top {rows} of {len(zones)}; all in report.pdf)" if len(zones) > rows else ""
    ax.text(0.0, 0.03 + height, f"Ranked candidate zones{more}", fontsize=9, weight="bold", transform=ax.transAxes)


def _scale_bar(ax, xmin: float, xmax: float, ymin: float, ymax: float) -> None:
    span = xmax - xmin
    length = next(v for v in (1, 2, 5, 10, 20, 50, 100, 200, 500) if v >= span / 8)
    x0, y0 = xmax - length - span * 0.04, ymin + (ymax - ymin) * 0.04
    ax.plot([x0, x0 + length], [y0, y0], color="black", lw=3, solid_capstyle="butt", zorder=7)
    ax.text(x0 + length / 2, y0 + (ymax - ymin) * 0.012, f"{length} km", ha="center", va="bottom", fontsize=8, zorder=7)
