"""QGIS styles (``.qml``) of the output rasters and vector layers.

QGIS applies ``NAME.qml`` when it opens ``NAME.tif`` from the same folder, and a GeoPackage
layer's default style from the file's ``layer_styles`` table (:func:`eicgeo.io.write_gpkg`
writes it); ``LAYER.qml`` beside a GeoPackage is the same style, to load by hand or in another
program. Class rasters list the classes they hold, in colours of the colour-blind-safe palettes
of Okabe and Ito (2008) and Paul Tol (2021); vector layers are categorised on the values they
hold. Styles are text built from finished layers; nothing here computes or reads a file.

Examples
--------
>>> import xml.etree.ElementTree as ET
>>> root = ET.fromstring(qgis_style("excluded", present=[0, 2]).split("\\n", 1)[1])
>>> [(e.get("value"), e.get("label")) for e in root.iter("paletteEntry")]
[('0', 'allowed'), ('2', 'water')]
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import matplotlib.colors
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib import colormaps

from eicgeo._validate import check_in
from eicgeo.constraints import EXCLUSION_REASONS
from eicgeo.fringe import FRINGE_CLASSES, SMOD_CLASSES

__all__ = [
    "CLASS_COLOURS",
    "QGIS_STYLES",
    "QUALITATIVE",
    "VECTOR_STYLES",
    "excluded_classes",
    "qgis_style",
    "qualitative_colours",
    "vector_style",
]

#: The layers :func:`qgis_style` styles, and how.
QGIS_STYLES: dict[str, str] = {
    "suitability": "single-band pseudocolour 0..1 (viridis)",
    "criterion": "single-band pseudocolour 0..1 (viridis)",
    "fringe": "paletted: rural, peri-urban fringe, urban",
    "excluded": "paletted: allowed (transparent) and one class per exclusion reason",
    "degurba": "paletted: GHS-SMOD level-2 classes, light to dark by density, water blue",
    "green_space": "paletted: other (transparent), residual green space",
}

#: The layers :func:`vector_style` styles, and how.
VECTOR_STYLES: dict[str, str] = {
    "zones": "polygons categorised by rank (viridis, rank 1 brightest)",
    "firms": "points categorised by sector",
    "links": "lines categorised by material, width by tonnes per year",
    "sources": "points categorised by material",
    "clusters": "polygon outlines",
    "unmatched": "triangles categorised by material",
    "places": "points categorised by place (city, town, suburb, village...)",
}

#: Okabe & Ito's palette, then Paul Tol's muted and light palettes: qualitative colours that
#: stay apart under the common colour-vision deficiencies (within each palette).
QUALITATIVE: tuple[str, ...] = (
    "#e69f00",
    "#56b4e9",
    "#009e73",
    "#f0e442",
    "#0072b2",
    "#d55e00",
    "#cc79a7",
    "#000000",
    "#cc6677",
    "#332288",
    "#ddcc77",
    "#117733",
    "#88ccee",
    "#882255",
    "#44aa99",
    "#999933",
    "#aa4499",
    "#77aadd",
    "#ee8866",
    "#eedd88",
    "#ffaabb",
    "#99ddff",
    "#bbcc33",
    "#aaaa00",
)

#: Colour of each class code of the class rasters. Excluded land: Okabe-Ito for the land-cover
#: reasons (water blue, wetland sky blue), Tol's muted colours for the rest; residual green space
#: is vermillion, apart from water and forest. Degree of Urbanisation: Tol's YlOrBr ramp, light
#: (very-low-density rural) to dark (urban centre), and water blue.
CLASS_COLOURS: dict[str, dict[int, str]] = {
    "excluded": {
        0: "#ffffff",
        1: "#999999",
        2: "#0072b2",
        3: "#56b4e9",
        4: "#000000",
        5: "#009e73",
        6: "#e69f00",
        7: "#f0e442",
        8: "#cc79a7",
        9: "#d55e00",
        10: "#882255",
        11: "#ddcc77",
    },
    "fringe": {1: "#009e73", 2: "#e69f00", 3: "#cc79a7"},
    "degurba": {
        10: "#0072b2",
        11: "#fff7bc",
        12: "#fee391",
        13: "#fec44f",
        21: "#fb9a29",
        22: "#ec7014",
        23: "#cc4c02",
        30: "#662506",
    },
    "green_space": {0: "#ffffff", 1: "#009e73"},
}
#: Classes drawn transparent: the land that is neither excluded nor green space.
_TRANSPARENT = {"excluded": {0}, "green_space": {0}}
_CLASS_NAMES: dict[str, dict[int, str]] = {
    "fringe": {k: v for k, v in FRINGE_CLASSES.items() if k},
    "degurba": SMOD_CLASSES,
    "green_space": {0: "other", 1: "residual green space"},
}
_SUITABILITY_CMAP = "viridis"
_QGIS_VERSION = "3.28.0-Firenze"
_DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"


def qualitative_colours(values: Iterable[Any], *, avoid: Iterable[str] = ()) -> dict[Any, str]:
    """A distinct colour for each of ``values`` (sorted), from :data:`QUALITATIVE` then tab20,
    skipping the colours of ``avoid``."""
    avoid = {c.lower() for c in avoid}
    spare = [c for c in QUALITATIVE if c not in avoid]
    spare += [
        c
        for c in (matplotlib.colors.to_hex(x) for x in colormaps["tab20"].colors + colormaps["tab20b"].colors)
        if c not in avoid and c not in spare
    ]
    keys = sorted(dict.fromkeys(values), key=str)
    colours = {key: spare[i] for i, key in enumerate(keys[: len(spare)])}
    # Beyond 64 values the colours are only distinct, not chosen.
    for i, key in enumerate(keys[len(spare) :]):
        colours[key] = matplotlib.colors.to_hex(colormaps["hsv"]((i * 0.618) % 1.0))
    return colours


def excluded_classes(excluded: xr.DataArray | None = None) -> dict[int, tuple[str, str]]:
    """``{code: (reason, colour)}`` for every exclusion reason, in code order.

    Reasons come from :data:`eicgeo.constraints.EXCLUSION_REASONS`, then from
    ``excluded.attrs["reason_names"]`` (the run's own reasons, such as user constraints); a code
    found in ``excluded`` but named nowhere is labelled ``"reason N"``. Codes without a fixed
    colour (:data:`CLASS_COLOURS`) take the next colours of :data:`QUALITATIVE`.
    """
    labels = dict(EXCLUSION_REASONS)
    if excluded is not None:
        labels.update({int(k): str(v) for k, v in (excluded.attrs.get("reason_names") or {}).items()})
        for code in np.unique(np.asarray(excluded.values)).tolist():
            if code and code not in labels:
                labels[int(code)] = f"reason {code}"
    return _excluded(labels)


def _excluded(labels: Mapping[int, str]) -> dict[int, tuple[str, str]]:
    fixed = CLASS_COLOURS["excluded"]
    extra = qualitative_colours([k for k in labels if k not in fixed], avoid=fixed.values())
    return {code: (labels[code], fixed.get(code) or extra[code]) for code in sorted(labels)}


def qgis_style(
    kind: str,
    *,
    layer: xr.DataArray | None = None,
    present: Iterable[int] | None = None,
    names: Mapping[int, str] | None = None,
) -> str:
    """A QGIS layer style (``.qml``) for one of the output rasters.

    Parameters
    ----------
    kind : str
        One of :data:`QGIS_STYLES`: ``"suitability"`` and ``"criterion"`` (0..1 scores),
        ``"fringe"``, ``"excluded"``, ``"degurba"``, ``"green_space"``.
    layer : DataArray, optional
        For a class raster: the layer, whose codes (but 0 for fringe and degurba, where it is
        nodata) are its classes; for ``"excluded"`` its ``reason_names`` name its codes.
    present : iterable of int, optional
        The class codes the raster holds (its nodata left out); without ``present`` or
        ``layer``, every class of the kind.
    names : mapping, optional
        Names of class codes (for ``"excluded"``: the run's reasons).

    Returns
    -------
    str
        The QML document: one palette entry per class present, each with its own colour.
    """
    check_in(kind, QGIS_STYLES, "qgis_style kind")
    if kind in ("suitability", "criterion"):
        stops = [(float(x), matplotlib.colors.to_hex(colormaps[_SUITABILITY_CMAP](x))) for x in np.linspace(0, 1, 11)]
        return _qml_pseudocolor(stops)
    if layer is not None and present is None:
        present = [c for c in np.unique(np.asarray(layer.values)).tolist() if c or kind in ("excluded", "green_space")]
    if kind == "excluded":
        own = {**((layer.attrs.get("reason_names") or {}) if layer is not None else {}), **(names or {})}
        labels = {**EXCLUSION_REASONS, **{int(k): str(v) for k, v in own.items()}}
        if present is not None:
            labels = {int(c): labels.get(int(c), f"reason {c}") for c in present}
            labels |= {0: "allowed"} if 0 in labels else {}
        classes = _excluded(labels)
    else:
        table = {**_CLASS_NAMES[kind], **{int(k): str(v) for k, v in (names or {}).items()}}
        codes = sorted(table) if present is None else sorted(int(c) for c in present)
        colours = CLASS_COLOURS[kind]
        extra = qualitative_colours([c for c in codes if c not in colours], avoid=colours.values())
        classes = {c: (table.get(c, f"class {c}"), colours.get(c) or extra[c]) for c in codes}
    return _qml_paletted(classes, transparent=_TRANSPARENT.get(kind, set()))


# --------------------------------------------------------------------------------------------
# raster QML
# --------------------------------------------------------------------------------------------
def _qml_document(renderer: ET.Element) -> str:
    qgis = ET.Element(
        "qgis",
        version=_QGIS_VERSION,
        styleCategories="AllStyleCategories",
        hasScaleBasedVisibilityFlag="0",
        minScale="1e+08",
        maxScale="0",
    )
    pipe = ET.SubElement(qgis, "pipe")
    pipe.append(renderer)
    ET.SubElement(pipe, "brightnesscontrast", brightness="0", contrast="0", gamma="1")
    ET.SubElement(
        pipe,
        "huesaturation",
        saturation="0",
        grayscaleMode="0",
        invertColors="0",
        colorizeOn="0",
        colorizeRed="255",
        colorizeGreen="128",
        colorizeBlue="128",
        colorizeStrength="100",
    )
    ET.SubElement(pipe, "rasterresampler", maxOversampling="2")
    ET.SubElement(qgis, "blendMode").text = "0"
    return _serialise(qgis)


def _serialise(root: ET.Element) -> str:
    ET.indent(root)
    return _DOCTYPE + ET.tostring(root, encoding="unicode") + "\n"


def _min_max_origin(parent: ET.Element, limits: str) -> None:
    origin = ET.SubElement(parent, "minMaxOrigin")
    for tag, text in (
        ("limits", limits),
        ("extent", "WholeRaster"),
        ("statAccuracy", "Estimated"),
        ("cumulativeCutLower", "0.02"),
        ("cumulativeCutUpper", "0.98"),
        ("stdDevFactor", "2"),
    ):
        ET.SubElement(origin, tag).text = text


def _qml_pseudocolor(stops: list[tuple[float, str]]) -> str:
    """An interpolated colour ramp over fixed values (0..1 scores are comparable across runs)."""
    low, high = f"{stops[0][0]:g}", f"{stops[-1][0]:g}"
    renderer = ET.Element(
        "rasterrenderer",
        type="singlebandpseudocolor",
        band="1",
        opacity="1",
        alphaBand="-1",
        classificationMin=low,
        classificationMax=high,
        nodataColor="",
    )
    ET.SubElement(renderer, "rasterTransparency")
    _min_max_origin(renderer, "None")
    shader = ET.SubElement(ET.SubElement(renderer, "rastershader"), "colorrampshader")
    shader.attrib.update(
        colorRampType="INTERPOLATED",
        classificationMode="1",
        clip="0",
        minimumValue=low,
        maximumValue=high,
        labelPrecision="1",
    )
    for value, colour in stops:
        ET.SubElement(shader, "item", value=f"{value:g}", color=colour, alpha="255", label=f"{value:.1f}")
    return _qml_document(renderer)


def _qml_paletted(classes: Mapping[int, tuple[str, str]], *, transparent: Iterable[int] = ()) -> str:
    """One palette entry per class code; nodata (the raster's own) stays transparent, and so do
    the ``transparent`` classes, listed so that the legend and the identify tool name them."""
    transparent = set(transparent)
    renderer = ET.Element("rasterrenderer", type="paletted", band="1", opacity="1", alphaBand="-1", nodataColor="")
    ET.SubElement(renderer, "rasterTransparency")
    _min_max_origin(renderer, "None")
    palette = ET.SubElement(renderer, "colorPalette")
    for code, (label, colour) in classes.items():
        alpha = "0" if code in transparent else "255"
        ET.SubElement(palette, "paletteEntry", value=str(code), color=colour, alpha=alpha, label=label)
    return _qml_document(renderer)


# --------------------------------------------------------------------------------------------
# vector QML
# --------------------------------------------------------------------------------------------
#: QGIS's layerGeometryType: 0 point, 1 line, 2 polygon.
_GEOMETRY_CODE = {"marker": "0", "line": "1", "fill": "2"}
_SYMBOL_KIND = {"zones": "fill", "clusters": "fill", "links": "line"}
_ZONE_EDGE = "#b30000"
_RENDERER = {"symbollevels": "0", "enableorderby": "0", "forceraster": "0", "referencescale": "-1"}


def vector_style(name: str, frame: gpd.GeoDataFrame, *, colours: Mapping[str, str] | None = None) -> str:
    """A QGIS style (``.qml``) for one layer of ``zones.gpkg`` or ``firms.gpkg``.

    Zones are categorised on ``rank``, firms on ``sector``, links, sources and unmatched outputs
    on ``material`` (one category per value present, each its own colour; links drawn 0.3 to
    3 mm wide by the square root of their ``tonnes``). An empty layer gets one symbol.

    Parameters
    ----------
    name : str
        One of :data:`VECTOR_STYLES`.
    frame : GeoDataFrame
        The layer as written.
    colours : mapping, optional
        Colour of each sector or material (so that links, sources and unmatched outputs draw
        a material alike); values without one take :func:`qualitative_colours`.

    Returns
    -------
    str
        The QML document.
    """
    check_in(name, VECTOR_STYLES, "vector_style layer")
    kind = _SYMBOL_KIND.get(name, "marker")
    if name == "zones":
        ranks = sorted(int(r) for r in pd.unique(frame["rank"].dropna())) if len(frame) else []
        n = max(len(ranks) - 1, 1)
        colours = {r: matplotlib.colors.to_hex(colormaps["viridis"](1 - i / n)) for i, r in enumerate(ranks)}
        kinds = frame.set_index("rank")["kind"].to_dict() if "kind" in frame and len(frame) else {}
        categories = [(r, f"rank {r}" + (f" ({kinds[r]})" if r in kinds else ""), colours[r]) for r in ranks]
        renderer = _categorized("rank", categories, kind, number=True, options={"outline_color": _ZONE_EDGE})
    elif name == "clusters":
        renderer = _single(kind, "#000000", options={"style": "no", "outline_style": "dash", "outline_width": "0.6"})
    else:
        column = {"firms": "sector", "places": "place"}.get(name, "material")
        values = [str(v) for v in pd.unique(frame[column].dropna())] if column in frame and len(frame) else []
        colours = {**qualitative_colours(values), **(colours or {})}
        categories = [(v, v.replace("_", " "), colours[v]) for v in sorted(values)]
        width = None
        if name == "links":
            top = float(frame["tonnes"].max()) if len(frame) else 0.0
            width = f'0.3 + 2.7 * sqrt(coalesce("tonnes", 0) / {top:.6g})' if top > 0 else None
        marker = {"name": "triangle"} if name == "unmatched" else {}
        renderer = _categorized(column, categories, kind, options=marker, width=width)
    qgis = ET.Element("qgis", version=_QGIS_VERSION, styleCategories="Symbology")
    qgis.append(renderer)
    ET.SubElement(qgis, "blendMode").text = "0"
    ET.SubElement(qgis, "featureBlendMode").text = "0"
    ET.SubElement(qgis, "layerGeometryType").text = _GEOMETRY_CODE[kind]
    return _serialise(qgis)


def _categorized(
    column: str,
    categories: list[tuple[Any, str, str]],
    kind: str,
    *,
    number: bool = False,
    options: Mapping[str, str] | None = None,
    width: str | None = None,
) -> ET.Element:
    """A categorised renderer (one symbol per ``(value, label, colour)``), or a single symbol
    when there is no category."""
    if not categories:
        return _single(kind, "#999999", options=options, width=width)
    renderer = ET.Element("renderer-v2", type="categorizedSymbol", attr=column, **_RENDERER)
    elements = ET.SubElement(renderer, "categories")
    symbols = ET.SubElement(renderer, "symbols")
    for i, (value, label, colour) in enumerate(categories):
        ET.SubElement(
            elements,
            "category",
            value=str(value),
            symbol=str(i),
            label=label,
            render="true",
            type="double" if number else "string",
        )
        symbols.append(_symbol(str(i), kind, colour, options, width))
    source = ET.SubElement(renderer, "source-symbol")
    source.append(_symbol("0", kind, "#999999", options, width))
    return renderer


def _single(
    kind: str, colour: str, *, options: Mapping[str, str] | None = None, width: str | None = None
) -> ET.Element:
    renderer = ET.Element("renderer-v2", type="singleSymbol", **_RENDERER)
    symbols = ET.SubElement(renderer, "symbols")
    symbols.append(_symbol("0", kind, colour, options, width))
    return renderer


def _rgba(colour: str, alpha: int = 255) -> str:
    r, g, b = (round(v * 255) for v in matplotlib.colors.to_rgb(colour))
    return f"{r},{g},{b},{alpha}"


def _symbol(name: str, kind: str, colour: str, options: Mapping[str, str] | None, width: str | None) -> ET.Element:
    """A QGIS symbol of one simple layer: a circle marker, a solid line or a fill."""
    symbol = ET.Element("symbol", type=kind, name=name, alpha="1", clip_to_extent="1", force_rhr="0")
    if kind == "marker":
        layer_class = "SimpleMarker"
        values = {
            "name": "circle",
            "color": _rgba(colour),
            "outline_color": "35,35,35,255",
            "outline_width": "0.2",
            "size": "2.6",
            "size_unit": "MM",
        }
    elif kind == "line":
        layer_class = "SimpleLine"
        values = {
            "line_color": _rgba(colour, 220),
            "line_width": "0.6",
            "line_width_unit": "MM",
            "line_style": "solid",
            "capstyle": "round",
        }
    else:
        layer_class = "SimpleFill"
        values = {
            "color": _rgba(colour, 150),
            "style": "solid",
            "outline_color": _rgba(colour),
            "outline_style": "solid",
            "outline_width": "0.5",
            "outline_width_unit": "MM",
        }
    values.update(options or {})
    if kind == "fill" and "outline_color" in (options or {}):
        values["outline_color"] = _rgba(values["outline_color"])
    layer = ET.SubElement(symbol, "layer", {"class": layer_class, "enabled": "1", "locked": "0", "pass": "0"})
    option = ET.SubElement(layer, "Option", type="Map")
    for key, value in values.items():
        ET.SubElement(option, "Option", name=key, type="QString", value=value)
    if width is not None:
        _data_defined(layer, {"outlineWidth": width})
    return symbol


def _data_defined(layer: ET.Element, expressions: Mapping[str, str]) -> None:
    """QGIS data-defined properties of a symbol layer (``outlineWidth`` is a line's width)."""
    outer = ET.SubElement(ET.SubElement(layer, "data_defined_properties"), "Option", type="Map")
    ET.SubElement(outer, "Option", name="name", type="QString", value="")
    properties = ET.SubElement(outer, "Option", name="properties", type="Map")
    for key, expression in expressions.items():
        prop = ET.SubElement(properties, "Option", name=key, type="Map")
        ET.SubElement(prop, "Option", name="active", type="bool", value="true")
        ET.SubElement(prop, "Option", name="expression", type="QString", value=expression)
        ET.SubElement(prop, "Option", name="type", type="int", value="3")
    ET.SubElement(outer, "Option", name="type", type="QString", value="collection")
