"""The interactive map, the static map and the Jupyter view of a result, on the sample region."""

from __future__ import annotations

import json
import re
import warnings

import folium
import matplotlib.image
import numpy as np
import pytest
from branca.element import JavascriptLink
from PIL import Image

import eicgeo
from eicgeo import constraints, maps
from eicgeo._errors import EicgeoError, InputError

OVERLAYS = [
    "Suitability (0–1)",
    "Fringe (urban / peri-urban)",
    "Excluded land (by reason)",
    "Main roads",
    "Places (from OSM)",
    "Candidate EIC zones (by rank)",
    "Symbiosis links (width = tonnes)",
    "Firms (by sector)",
    "Raw-material sources",
]


@pytest.fixture(scope="module")
def offline_html(sample_result, tmp_path_factory):
    path = tmp_path_factory.mktemp("maps") / "map.html"
    maps.explore(sample_result, offline=True).save(str(path))
    return path.read_text(encoding="utf-8")


def _layers(m: folium.Map) -> list[folium.map.Layer]:
    return [c for c in m._children.values() if isinstance(c, folium.map.Layer) and c.control]


def test_explore_returns_a_map_with_every_layer_switchable(sample_result):
    m = sample_result.explore()
    assert isinstance(m, folium.Map)
    layers = _layers(m)
    assert [c.layer_name for c in layers if c.overlay] == OVERLAYS
    shown = {c.layer_name: c.show for c in layers if c.overlay}
    assert not shown["Excluded land (by reason)"] and not shown["Symbiosis links (width = tonnes)"]
    assert shown["Candidate EIC zones (by rank)"] and shown["Firms (by sector)"]
    assert [c.layer_name for c in layers if not c.overlay] == ["openstreetmap"]
    kinds = {type(c).__name__ for c in m._children.values()}
    assert {"LayerControl", "Fullscreen", "MeasureControl", "MiniMap", "LinearColormap"} <= kinds
    # One polygon and one rank label per zone; one marker per firm, link and source.
    groups = {c.layer_name: c for c in layers}
    zones = groups["Candidate EIC zones (by rank)"]._children.values()
    n_zones = len(sample_result.zones)
    assert n_zones >= 5
    assert sum(isinstance(c, folium.GeoJson) for c in zones) == n_zones
    assert sum(isinstance(c, folium.Marker) for c in zones) == n_zones
    (firms,) = groups["Firms (by sector)"]._children.values()  # one data-driven layer
    assert firms.count == len(sample_result.firms) == 238  # rows of firms.csv
    (links,) = groups["Symbiosis links (width = tonnes)"]._children.values()
    assert links.count == len(sample_result.links) > 100
    # The fit covers the grid: its corners in degrees are those of the UTM 47N bounds.
    bounds = m._children[next(k for k in m._children if k.startswith("fit_bounds"))].bounds
    west, south, east, north = sample_result.grid.lonlat_bounds
    assert bounds == [[south, west], [north, east]]
    assert 100.2 < west < east < 100.7 and 14.5 < south < north < 15.1


def test_suitability_legend_has_units_and_the_display_palette(sample_result):
    m = maps.explore(sample_result)
    legend = next(c for c in m._children.values() if type(c).__name__ == "LinearColormap")
    assert "0–1" in legend.caption and "dimensionless" in legend.caption
    assert (legend.vmin, legend.vmax) == (0.0, 1.0)
    assert legend.rgb_hex_str(0.0) == "#440154" and legend.rgb_hex_str(1.0) == "#fde725"  # viridis ends


def test_offline_page_is_self_contained_and_small(offline_html, sample_result):
    html = offline_html
    assert len(html.encode("utf-8")) < 15e6, "the sample region's map must stay under 15 MB"
    assert not re.findall(r"<script[^>]+src=", html), "every script is inline"
    assert not re.findall(r"<link[^>]+href=", html), "every style sheet is inline"
    # No request can go out: no tile template, no url() outside data URIs, no CDN host.
    assert "tile.openstreetmap" not in html and "{z}/{x}/{y}" not in html
    assert not re.findall(r"url\((?!data:|#)", html)
    for host in ("cdn.jsdelivr.net", "cdnjs.cloudflare.com", "code.jquery.com", "netdna.bootstrapcdn.com"):
        assert host not in html, host
    # Leaflet, jQuery, the three plugins and d3 (branca's legend) are inlined.
    for name in ("leaflet.js", "jquery.min.js", "Control.FullScreen.js", "leaflet-measure.min.js", "d3.min.js"):
        assert maps._asset_js(name) in html, name
    for name in ("leaflet.css", "Control.FullScreen.css", "leaflet-measure.css"):
        assert maps._asset_css(name) in html, name
    assert '.version="1.9.4"' in html and "jQuery v3.7.1" in html
    assert "leaflet-control-minimap" not in html, "no minimap without a base map"
    assert html.count('"eicgeo-zone"') == len(sample_result.zones)
    # Firms are one JSON array drawn by one loop (a folium Marker per firm compiled a template each).
    assert html.count('"eicgeo-firm"') == 1
    assert len(_features(html, "eicgeo-firm")) == 238
    # Every source is a square; quarries, plantations and the like are also drawn as their areas.
    sources = sample_result.sources
    areas = sources.geom_type.isin(["Polygon", "MultiPolygon"])
    assert len(_features(html, "eicgeo-source")) == len(sources)
    assert len(_features(html, "eicgeo-source-area")) == int(areas.sum()) > 0


def _features(html: str, class_name: str) -> list:
    """The feature array of the data-driven layer whose options name ``class_name``."""
    for match in re.finditer(r"var features = (\[.*?\]);\n  var options = (\{.*?\});", html, flags=re.S):
        if json.loads(match.group(2)).get("className") == class_name:
            return json.loads(match.group(1))
    raise AssertionError(f"no feature layer of class {class_name}")


def test_popups_table_the_zone_scores_and_the_firm_flows(offline_html, sample_result):
    html = offline_html
    first = sample_result.zones.sort_values("rank").iloc[0]
    start = html.index(f"<b>Rank 1 of {len(sample_result.zones)}: zone {first.zone_id}</b>")
    popup = html[start : html.index("</p>", start)]
    th = "<th style='text-align:left;padding-right:8px;vertical-align:top'>"
    # the figures in words, with units, rounded for reading
    assert f"{th}Area</th><td>{first.area_ha:,.0f} ha</td>" in popup
    assert f"{th}Score (0–1)</th><td>{first.score:.2f}</td>" in popup
    assert f"{th}To the nearest urban centre</th><td>{first.market_minutes:.1f} min</td>" in popup
    assert f"{th}Rural people within 30 minutes</th>" in popup and "snake" not in popup
    # a bar per criterion: land cover and road access carry their part of the suitability
    for label, column in (("Land cover", "part_landcover"), ("Road access", "part_road_access")):
        assert re.search(rf"{label}</td>.*?<td style='text-align:right'>{first[column]:.2f}</td>", popup), label
    materials = sum(first[c] for c in first.index if c.startswith("part_material_access_"))
    assert f"<td style='text-align:right'>{materials:.2f}</td>" in popup
    assert "Robust: it stays in the top 5" in popup
    # Firm F0001, a rice mill: inputs paddy:3310;electricity:149, outputs rice_husk:661 among others.
    # Popups of firms and links are JSON strings in the page, where "</" is written "<\\/".
    html = html.replace("<\\/", "</")
    assert "F0001 Ruam Chai Thanakit Rice Mill" in html
    assert "paddy: 3,310 t/yr" in html and "electricity: 149 MWh/yr" in html and "rice_husk: 661 t/yr" in html
    link = sample_result.links.iloc[0]
    assert f"{link.from_firm} ({link.from_sector})" in html and f"<td>{link.tonnes:,.0f}</td>" in html
    assert f"<td>{link.km:.1f}</td>" in html


def test_legend_lists_the_reasons_present_and_the_sectors(offline_html, sample_result):
    legend = offline_html[offline_html.index("eicgeo-legend' style") :]
    present = set(np.unique(sample_result.excluded.values).tolist()) - {0}
    assert {2, 4} <= present, "the sample has water and built-up land"
    for code, (label, _) in maps.excluded_classes(sample_result.excluded).items():
        assert (f"{code} {label}<" in legend) == (code in present), (code, label)
    for sector in sample_result.firms["sector"].unique():
        assert sector in legend


def test_excluded_classes_follow_the_reason_table_when_called(monkeypatch, sample_result):
    classes = maps.excluded_classes()
    assert list(classes) == sorted(constraints.EXCLUSION_REASONS)
    assert classes[2] == ("water", "#0072b2"), "Okabe-Ito blue"
    monkeypatch.setitem(constraints.EXCLUSION_REASONS, 9, "steep land")
    layer = sample_result.excluded.copy(data=np.where(sample_result.excluded.values == 4, 42, 0).astype("uint8"))
    layer.attrs["reason_names"] = {20: "user constraint: flood zone"}
    classes = maps.excluded_classes(layer)
    assert classes[9][0] == "steep land" and classes[20][0] == "user constraint: flood zone"
    assert classes[42][0] == "reason 42"
    colours = [c for _, c in classes.values()]
    assert len(set(colours)) == len(colours), "every reason has its own colour"


def test_an_unknown_cdn_link_is_an_error_offline(sample_result):
    m = maps.explore(sample_result, offline=True)
    m.get_root().header.add_child(JavascriptLink("https://example.org/lib/heatmap.js"), name="heatmap")
    with pytest.raises(EicgeoError, match=r"no copy of 'https://example.org/lib/heatmap.js' in eicgeo/assets"):
        m.get_root().render()


def test_online_page_links_the_cdn_and_shows_tiles_and_minimap(sample_result):
    html = maps.explore(sample_result).get_root().render()
    assert "https://cdn.jsdelivr.net/npm/leaflet@" in html and "tile.openstreetmap.org" in html
    assert "L.Control.MiniMap(" in html


def test_bad_options_are_clear_errors(sample_result, tmp_path):
    with pytest.raises(InputError, match="explore max_pixels must be > 0, got 0"):
        maps.explore(sample_result, max_pixels=0)
    with pytest.raises(InputError, match="static dpi must be between 50 and 1200 dots per inch, got 5000"):
        maps.static(sample_result, tmp_path / "m.png", dpi=5000)
    with pytest.raises(InputError, match="static dpi must be > 0, got -1"):
        maps.static(sample_result, tmp_path / "m.png", dpi=-1)


def test_static_map_is_an_a4_page_at_the_asked_dpi(sample_result, tmp_path):
    path = maps.static(sample_result, tmp_path / "map.png", dpi=300)
    with Image.open(path) as png:
        # 297 x 210 mm at 300 dpi = 3507.9 x 2480.3 pixels.
        assert abs(png.size[0] - 3508) <= 1 and abs(png.size[1] - 2480) <= 1
        assert png.info["dpi"] == pytest.approx((300, 300), abs=0.01)
        assert png.mode == "RGB", "an opaque page: no alpha channel for the PDF to mask"
    rgb = (matplotlib.image.imread(path)[..., :3] * 255).round().astype(int)
    colours = {tuple(c) for c in rgb.reshape(-1, 3)[::7]}
    assert (215, 48, 31) in colours, "zone outlines"
    assert (179, 0, 0) in colours, "rank labels"
    assert not list(tmp_path.glob(".*tmp*"))


def test_jupyter_shows_a_summary_table_and_the_map_inline(sample_result):
    page = sample_result._repr_html_()
    assert "<table class='eicgeo-summary'>" in page
    n = len(sample_result.zones)
    assert (
        "EPSG:32647, 100 m cells, 488 x 485" in page and f"candidate zones</th><td style='text-align:left'>{n}<" in page
    )
    assert page.count("<tr>") >= 7 + n, "the facts, then one row per ranked zone"
    assert "mean suitability (0–1)" in page and "mean_suitability" not in page, "the zones as a planner reads them"
    inline = sample_result.explore(offline=True)._repr_html_()
    assert inline.startswith("<div") and "<iframe" in inline and "L.map(" in inline.replace("&quot;", '"')


def test_offline_page_with_a_base_map_inlines_the_minimap(sample_result):
    html = maps.explore(sample_result, offline=True, tiles="OpenStreetMap").get_root().render()
    assert not re.findall(r"<script[^>]+src=|<link[^>]+href=", html)
    assert maps._asset_js("Control.MiniMap.min.js") in html and maps._asset_css("Control.MiniMap.min.css") in html
    assert "new L.Control.MiniMap(" in html and "tile.openstreetmap.org" in html


ASPECTS = {
    # lon/lat bounds cut from the sample region: about 3.1 : 1, 1 : 3.7 and its own square
    "wide": [100.22, 14.74, 100.676, 14.88],
    "tall": [100.38, 14.577, 100.50, 15.018],
    "square": None,
}


@pytest.mark.parametrize("shape", list(ASPECTS))
def test_the_static_map_lays_out_wide_tall_and_square_regions(shape):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    bounds = ASPECTS[shape]
    s = eicgeo.load_sample().replace(
        bounds=bounds,
        bounds_crs="EPSG:4326" if bounds else None,
        resolution=400,
        # The square one draws its main roads (a loop over road widths once hid the layout's choice).
        without=[] if shape == "square" else ["roads"],
        zones={"n": 4},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", eicgeo.EicgeoWarning)
        result = eicgeo.run(s, progress=False)
    fig = maps.static_figure(result, dpi=60)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    page = fig.bbox
    ax = next(a for a in fig.axes if a.get_xlabel().startswith("easting"))
    map_box = ax.get_tightbbox(renderer)
    caption = next(t for t in fig.texts if t.get_text().startswith("eicgeo · suitability by"))
    title = fig._suptitle
    legend = next(a.get_legend() for a in fig.axes if a.get_legend() is not None)
    boxes = {
        "caption": caption.get_window_extent(renderer),
        "title": title.get_window_extent(renderer),
        "legend": legend.get_window_extent(renderer),
    }
    for name, box in {**boxes, "map": map_box}.items():
        assert page.x0 - 1 <= box.x0 and box.x1 <= page.x1 + 1 and page.y0 - 1 <= box.y0 and box.y1 <= page.y1 + 1, (
            f"{name} leaves the page"
        )
    for name, box in boxes.items():
        assert not box.overlaps(map_box), f"{name} overlaps the map or its axis labels ({shape})"
    aspect = result.grid.width / result.grid.height
    if shape == "wide":
        assert aspect > maps.WIDE_ASPECT and boxes["legend"].y1 <= map_box.y0, "legend below a wide map"
    else:
        assert boxes["legend"].x1 <= map_box.x0, "legend beside a square or tall map"
    assert legend._ncols == (2 if shape == "wide" else 1)
    if shape == "square":
        assert result.main_roads is not None and len(result.main_roads) > 0
    # the map's cells are square on the page
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    box = ax.get_window_extent(renderer)
    assert (box.width / (x1 - x0)) == pytest.approx(box.height / (y1 - y0), rel=0.02)


def test_the_offline_map_and_the_static_map_name_the_places(offline_html, sample_result):
    places = sample_result.places
    # the sample's OSM holds 1 city, 5 towns and 115 villages; the map labels the 50 largest
    assert (places["place"] == "city").sum() == 1 and (places["place"] == "town").sum() == 5
    assert offline_html.count("eicgeo-place") == 50
    layer = maps._places_layer(sample_result)
    labels = [c for c in layer._children.values() if type(c) is folium.Marker]
    assert len(labels) == 50
    icon = next(c for c in labels[0]._children.values() if isinstance(c, folium.DivIcon))
    assert ">Nakhon Thong Rin</div>" in icon.options["html"] and "bold 15px" in icon.options["html"]
    towns = set(places.loc[places["place"] == "town", "name"])
    assert all(f"{name} (town)" in offline_html for name in towns), "each town is labelled, with a tooltip"
    xmin, ymin, xmax, ymax = (v / 1000 for v in sample_result.grid.bounds)
    shown = maps._shown_places(sample_result, (xmin, xmax, ymin, ymax))
    assert shown.iloc[0]["name"] == "Nakhon Thong Rin" and list(shown["place"][:6]) == ["city"] + ["town"] * 5


def test_the_static_map_colours_its_rasters_once_at_the_page_resolution(sample_result):
    """The map is drawn from one RGB image no larger than the page shows (at 25 dpi the map's
    box is less than half the sample's 488 x 485 cells wide: blocks of f x f cells, f >= 2), not
    from the whole grid coloured by matplotlib at each draw."""
    fig = maps.static_figure(sample_result, dpi=25)
    ax = next(a for a in fig.axes if a.get_xlabel().startswith("easting"))
    (image,) = ax.get_images()
    rgba = image.get_array()
    box = ax.get_window_extent()
    f = int(min(sample_result.grid.width / box.width, sample_result.grid.height / box.height))
    assert f >= 2
    assert rgba.dtype == np.uint8 and rgba.shape == (-(-485 // f), -(-488 // f), 4)
    assert (rgba[..., 3] == 255).all(), "opaque: excluded land and blanks are blended over the page"
    # the image's extent covers whole blocks; the axes still show the grid's bounds
    xmin, ymin, xmax, ymax = (v / 1000 for v in sample_result.grid.bounds)
    left, right, bottom, top = image.get_extent()
    assert (left, top) == pytest.approx((xmin, ymax)) and right >= xmax - 1e-9 and bottom <= ymin + 1e-9
    assert ax.get_xlim() == (xmin, xmax) and ax.get_ylim() == (ymin, ymax)
    # the urban and fringe edges, and the zones in one collection of outlines
    outlines = [c for c in ax.collections if c.get_zorder() == 5]
    assert len(outlines) == 1 and len(outlines[0].get_paths()) >= len(sample_result.zones)


def test_the_static_map_blocks_take_the_mean_suitability_and_the_majority_of_excluded_land(sample_result):
    from matplotlib import colormaps

    suit = np.asarray(sample_result.suitability.values, dtype=np.float64)
    gone = np.asarray(sample_result.excluded.values) > 0
    codes = np.asarray(sample_result.fringe.values)
    viridis = colormaps["viridis"]
    # one cell a pixel: each cell's own colour, excluded land 90 % grey over it (as Agg blends it)
    rgba, urban, fringe = maps._map_rasters(sample_result, 1, background="white")
    assert rgba.shape[:2] == suit.shape
    open_cell = np.argwhere(~np.isnan(suit) & ~gone)[0]
    assert tuple(rgba[tuple(open_cell)][:3]) == tuple(viridis(suit[tuple(open_cell)], bytes=True)[:3])
    blank = np.argwhere(np.isnan(suit) & gone)[0]
    assert tuple(rgba[tuple(blank)][:3]) == (221, 221, 221)  # 229/255 of #d9d9d9 over white
    assert (urban == (codes == 3)).all() and (fringe == (codes == 2)).all()
    # blocks of 2 x 2 cells (the last row of blocks is half: 485 rows)
    rgba, urban, fringe = maps._map_rasters(sample_result, 2, background="white")
    assert rgba.shape[:2] == (243, 244)
    pad = np.full((486, 488), np.nan)
    pad[:485] = suit
    blocks = pad.reshape(243, 2, 244, 2)
    valid = (~np.isnan(blocks)).sum(axis=(1, 3))
    cells = np.full((243, 244), 4)
    cells[-1] = 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # blocks without a value: NaN
        mean = np.nanmean(blocks, axis=(1, 3))
    grey = np.zeros((486, 488), bool)
    grey[:485] = gone
    grey = 2 * grey.reshape(243, 2, 244, 2).sum(axis=(1, 3)) >= cells
    shown = (2 * valid >= cells) & ~grey
    assert shown.sum() > 10_000 and grey.sum() > 1_000
    expected = viridis(np.clip(mean[shown], 0, 1), bytes=True)[:, :3].astype(int)
    assert np.abs(rgba[shown][:, :3].astype(int) - expected).max() <= 1
    assert (rgba[~shown & ~grey][:, :3] == 255).all(), "blocks mostly without a value are blank"
    share = np.zeros((486, 488))
    share[:485] = codes == 3
    assert np.allclose(urban, share.reshape(243, 2, 244, 2).sum(axis=(1, 3)) / cells)


def test_the_page_holds_names_as_they_are_not_as_jinja(sample_result):
    """The features' script and the legend go into the page as text: a firm or sector named with
    Jinja's braces shows as named (branca's Element renders its text as a template)."""
    import dataclasses

    firms = sample_result.firms.copy()
    firms.loc[firms.index[0], "name"] = "Mill {{ 6 * 7 }} {% raw %}"
    firms.loc[firms.index[1], "sector"] = "rice_{{ sector }}"
    page = maps.explore(dataclasses.replace(sample_result, firms=firms), offline=True).get_root().render()
    assert "Mill {{ 6 * 7 }} {% raw %}" in page and "Mill 42" not in page
    assert "rice_{{ sector }}" in page
