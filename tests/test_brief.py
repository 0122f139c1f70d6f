"""The brief (report.html and report.pdf): a first page in plain language, the map, one card
per zone, the method; the PDF rendered page by page with poppler's pdftoppm and read back with
pdftotext."""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import eicgeo
from eicgeo import brief, maps

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) is installed by .ci/run"
)


@pytest.fixture(scope="module")
def written(sample_result, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("brief")
    maps.static(sample_result, folder / "map.png", dpi=120)
    brief.write(sample_result, folder)
    return folder


def test_the_first_page_says_what_where_and_how_sure(sample_result):
    b = brief.build(sample_result)
    assert b.title == "Candidate eco-industrial cluster zones: peri urban demo"
    # 2,367 km² is the sample grid's 244 x 243 cells of 1 ha... read from the grid itself
    g = sample_result.grid
    assert f"{g.width * g.height * g.cell_area_m2 / 1e6:,.0f} km²" in b.region
    # five weighted criteria: the eight material-access criteria count as one
    assert "ranked on 5 weighted criteria (balanced preset)" in b.question
    assert len(b.top) == 5
    first = sample_result.zones.sort_values("rank").iloc[0]
    assert b.top[0].startswith(f"Zone {first.zone_id} (rank 1), ")
    assert f"{first.area_ha:,.0f} ha, around a cluster of {first.n_firms} firms" in b.top[0]
    assert "Robust: it stays in the top 5 in 100% of 100 trials" in b.top[0]
    # the sample has every input: nothing to warn of but the fact
    assert b.caveats == ["Every input the preset asks for was given, and the ranking resolves its top zones."]


def test_one_card_per_zone_with_its_parts_partners_and_green_space(sample_result):
    cards = brief.zone_cards(sample_result, charts=False)
    ranked = sample_result.zones.sort_values("rank")
    assert [c.rank for c in cards] == list(range(1, len(ranked) + 1))
    card, row = cards[0], ranked.iloc[0]
    facts = dict(card.facts)
    assert facts["Area"] == f"{row.area_ha:,.0f} ha" and facts["Kind"] == "around an existing firm cluster"
    assert facts["To the nearest urban centre"] == f"{row.market_minutes:.1f} min"
    # 506,712 people round to 510,000: an estimate is not a head count
    assert facts["Rural people within 30 minutes"] == "510,000"
    # the parts add up to the zone's mean suitability (a weighted sum), and each is at most its weight
    assert sum(a for _, a, _ in card.parts) == pytest.approx(row.mean_suitability, abs=1e-6)
    assert all(0 <= a <= w + 1e-9 for _, a, w in card.parts)
    assert [name for name, _, _ in card.parts][:3] == ["Land cover", "Road access", "Market access"]
    # its largest exchange: slag from a steel works to a cement plant, 8 km apart
    assert card.partners[0] == "slag: 51,200 t/yr from Saeng Nakhon Steel Co., Ltd. to Sombat Sahakit Cement (8 km)"
    firms, links = sample_result.firms, sample_result.links
    link = links[(links["material"] == "slag") & (links["tonnes"] == 51200)].iloc[0]
    ends = firms.set_index("firm_id").loc[[link.from_firm, link.to_firm]]
    assert set(ends["name"]) == {"Saeng Nakhon Steel Co., Ltd.", "Sombat Sahakit Cement"}
    # one end lies within the 2 km a zone's firms are counted in
    assert ends.geometry.distance(row.geometry).min() <= 2000
    assert card.partners[-1] == "and 26 more exchanges"
    assert card.green == f"It would take {row.green_loss_ha:,.0f} ha of residual green space next to the " + (
        f"built-up edge ({row.green_loss_ha / row.area_ha:.0%} of its area)."
    )


def test_the_method_groups_the_materials_and_speaks_in_units(sample_result):
    b = brief.build(sample_result)
    rows = {r[0]: r for r in b.criteria}
    assert list(rows) == [
        "Land cover",
        "Road access",
        "Market access",
        "Raw-material access",
        "Equal access to markets and materials",
    ]
    assert {r[1] for r in b.criteria} == {"20%"}
    road_high = eval(sample_result.criteria["road_access"].attrs["parameters"].split(" (")[0])["high"]
    assert rows["Road access"][3] == (
        f"1 at 0 min or less, falling to 0 at {road_high:.1f} min or more (the region's 95th percentile)"
    )
    assert "8 materials: bagasse, clay" in rows["Raw-material access"][2]
    assert rows["Raw-material access"][3].startswith("1 at 0 min or less, falling to 0 at 19.3–66 min or more")
    assert rows["Land cover"][3].startswith("scores by land cover: cropland 1, grass shrub 0.9")
    assert "{" not in " ".join(" ".join(r) for r in b.criteria), "no Python dict in the method"
    m = sample_result.symbiosis_metrics
    assert b.symbiosis[0].startswith(f"{m['n_links']} exchange links join {m['n_linked_firms']} of the ")
    assert b.symbiosis[1].startswith("Screening estimate of CO2:")
    reasons = dict(b.constraints)
    assert set(reasons) >= {"water", "built-up land"}


def test_one_link_is_one_link():
    assert brief._plural(1, "exchange link") == "1 exchange link"
    assert brief._plural(2, "firm") == "2 firms"


def test_report_html_is_self_contained_with_a_card_per_zone(written, sample_result):
    text = (written / "report.html").read_text()
    assert not re.search(r"""(src|href)=['"]https?:""", text), "nothing is fetched"
    assert text.count("<section class='card'") == len(sample_result.zones)
    assert text.count("src='data:image/png;base64,") == len(sample_result.zones) + 1  # the cards' charts + the map
    assert "<h2>Method</h2>" in text and "<h2>Caveats</h2>" in text


@needs_poppler
def test_report_pdf_renders_page_by_page_with_the_first_page_cards_and_method(written, sample_result, tmp_path):
    pdf = written / "report.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == pages
    # first page, map page, at least ten pages of cards (two per page at most), method
    assert pages >= 2 + len(sample_result.zones) // 2 + 1
    for path in images:
        grey = np.asarray(Image.open(path).convert("L"), dtype=float)
        assert grey.std() > 5, f"{path.name} is blank"
    # the map page holds the picture: a fifth of it or more is ink, where text pages have a few percent
    inked = [float((np.asarray(Image.open(p).convert("L")) < 200).mean()) for p in images]
    assert inked[1] > 0.2 and inked[0] < 0.1, inked

    def text(first: int, last: int) -> str:
        args = ["pdftotext", "-f", str(first), "-l", str(last), "-layout", str(pdf), "-"]
        return subprocess.run(args, check=True, capture_output=True, text=True).stdout

    page1 = text(1, 1)
    assert "Candidate eco-industrial cluster zones: peri urban demo" in page1
    assert "The top zones" in page1 and "Caveats" in page1
    first = sample_result.zones.sort_values("rank").iloc[0]
    assert f"Zone {first.zone_id} (rank 1)" in page1
    every = re.sub(r"\s+", " ", text(1, pages))
    for row in sample_result.zones.itertuples():
        assert f"Rank {row.rank}: zone {row.zone_id}" in every
    last = re.sub(r"\s+", " ", text(pages - 1, pages))
    assert "Method" in last and "Screening estimate of CO2" in last and "Raw-material" in last
    assert "°" in every and "km²" in every, "the PDF's font prints degrees and squares"


@needs_poppler
def test_report_pdf_holds_the_pngs_streams_with_their_pixels(written, sample_result, tmp_path):
    """The map and the charts go into the PDF as their PNGs' own zlib streams (FlateDecode with
    the PNG predictor), not decoded and compressed again: the images poppler reads back are the
    PNGs' pixels."""
    pdf = (written / "report.pdf").read_bytes()
    n = len(sample_result.zones) + 1  # the map, a chart per zone
    assert pdf.count(b"/Subtype /Image") == n
    assert pdf.count(b"/Predictor 15") == n and b"/SMask" not in pdf
    subprocess.run(
        ["pdfimages", "-f", "1", "-l", "3", "-png", str(written / "report.pdf"), str(tmp_path / "i")], check=True
    )
    extracted = sorted(tmp_path.glob("i-*.png"))
    map_png = np.asarray(Image.open(written / "map.png").convert("RGB"))
    assert np.array_equal(np.asarray(Image.open(extracted[0])), map_png)
    chart = brief.build(sample_result).cards[0].chart
    assert np.array_equal(np.asarray(Image.open(extracted[1])), np.asarray(Image.open(__import__("io").BytesIO(chart))))


def test_a_png_a_pdf_cannot_hold_as_it_is_is_embedded_by_reportlab(sample_result, tmp_path):
    """An RGBA or palette map PNG (one a caller passes) is left to reportlab, which decodes it."""
    import io

    buf = io.BytesIO()
    Image.new("RGBA", (40, 30), (0, 114, 178, 128)).save(buf, format="PNG")
    assert brief._png_stream(buf.getvalue()) is None
    b = brief.build(sample_result, map_png=buf.getvalue())
    path = brief.to_pdf(b, tmp_path / "report.pdf")
    pdf = path.read_bytes()
    assert pdf.count(b"/Subtype /Image") == len(sample_result.zones) + 2  # the map with its alpha mask
    assert pdf.count(b"/Predictor 15") == len(sample_result.zones)


def test_a_region_without_roads_says_its_minutes_are_estimates(data_dir, tmp_path):
    s = eicgeo.Scenario.from_dict(
        {
            "name": "bariloche",
            "inputs": {"landcover": "bariloche-c3s-lc2022-300m.tif", "legend": "esa_cci_lc"},
            "grid": {"crs": "EPSG:32719"},
        },
        base_dir=data_dir,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", eicgeo.EicgeoWarning)
        result = eicgeo.run(s, progress=False)
    b = brief.build(result)
    assert (
        "Market access is in part an estimate (no road network: straight-line distance to the nearest urban centre "
        "× 1.3 at 30 km/h)." in b.caveats
    )
    assert "Raw-material access was left out: no source of the material(s) in inputs.sources." in b.caveats
    assert "Without a firm register (inputs.firms), by-product exchange between firms is not assessed." in b.caveats
    assert b.cards[0].no_partners == "No firm register was given, so its by-product partners are not known."
    assert b.cards[0].stability.startswith("Only 4 zones were found, so all are in the top 5")
    facts = dict(b.cards[0].facts)
    assert facts["To the nearest urban centre"].endswith("(estimate, straight line)")
    assert "Firms within 2 km" not in facts, "no firm register: no firm figures"
    assert b.symbiosis == ["No firm register was given, so by-product exchange is not assessed."]
    # Bariloche is at 41° S, 71° W
    assert " S" in b.region and " W" in b.region and "41." in b.region
    html_path, pdf_path = brief.write(result, tmp_path)
    assert pdf_path.stat().st_size > 10_000 and "its by-product partners are not known" in html_path.read_text()


def test_each_zone_chart_is_the_full_drawing_of_its_bars_as_an_rgb_png(sample_result):
    """The charts are drawn once and each zone's bars blitted over: every chart equals a full
    draw of the figure with that zone's bars, pixel for pixel; opaque, so an RGB PNG (the PDF
    embeds it without an alpha mask)."""
    import io

    cards = brief.zone_cards(sample_result)
    reference = brief._Charts()
    reference(cards[0].parts)
    for artist in (*reference.bars, *reference.over):
        artist.set_animated(False)
    for card in cards[:4]:
        achieved = [a if np.isfinite(a) else 0.0 for _, a, _ in card.parts][::-1]
        for bar, width in zip(reference.bars, achieved, strict=True):
            bar.set_width(width)
        buf = io.BytesIO()
        reference.fig.savefig(buf, format="png")
        with Image.open(buf) as full, Image.open(io.BytesIO(card.chart)) as chart:
            assert chart.mode == "RGB" and chart.size == full.size
            assert chart.info["dpi"] == pytest.approx((200, 200), abs=0.01)
            assert np.array_equal(np.asarray(chart), np.asarray(full.convert("RGB")))
    assert len({c.chart for c in cards}) == len(cards), "each zone its own bars"
