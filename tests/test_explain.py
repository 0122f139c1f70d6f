"""Result.explain (each criterion's part of a zone's suitability, beside the median allowed
cell, and each indicator's part of its score) and Result.summary (the zones as a planner reads
them), checked against values computed here from the layers themselves."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio.features

import eicgeo
from eicgeo import zones
from eicgeo._errors import InputError


def _cells(result, zone_id):
    geom = result.zones.set_index("zone_id").loc[zone_id, "geometry"]
    g = result.grid
    return rasterio.features.geometry_mask([geom], g.shape, g.transform, invert=True)


def test_explain_breaks_the_suitability_into_weight_times_value(sample_result):
    why = sample_result.explain(1)
    zone = sample_result.zones.set_index("zone_id").loc[1]
    table = why.suitability
    # the parts add up to the zone's mean suitability (a weighted sum of the criteria)
    assert table["part"].sum() == pytest.approx(zone["mean_suitability"], abs=1e-6)
    assert table["weight"].sum() == pytest.approx(1.0)
    # market access, computed here: the criterion's mean over the zone's cells x its weight (0.2)
    cells = _cells(sample_result, 1)
    market = np.asarray(sample_result.criteria["market_access"].values, dtype=float)
    row = table.loc["Market access"]
    assert row["weight"] == pytest.approx(0.2)
    assert row["zone value"] == pytest.approx(np.nanmean(market[cells]), abs=1e-6)
    assert row["part"] == pytest.approx(0.2 * np.nanmean(market[cells]), abs=1e-6)
    # and the region's median allowed fringe cell
    allowed = (sample_result.fringe.values == 2) & (sample_result.excluded.values == 0)
    assert row["median cell value"] == pytest.approx(np.nanmedian(market[allowed]), abs=1e-6)
    assert row["difference"] == pytest.approx(row["part"] - 0.2 * np.nanmedian(market[allowed]), abs=1e-9)


def test_explain_breaks_the_score_into_its_indicators(sample_result):
    why = sample_result.explain(2)
    z = sample_result.zones.set_index("zone_id")
    score = why.score
    assert score["part"].sum() == pytest.approx(z.loc[2, "score"], abs=1e-9)
    # suitability weighs 0.5 of the score: 0.5 x the zone's mean suitability / the largest among the zones
    expected = 0.5 * z.loc[2, "mean_suitability"] / z["mean_suitability"].max()
    assert score.loc["suitability", "weight"] == pytest.approx(0.5)
    assert score.loc["suitability", "part"] == pytest.approx(expected, abs=1e-9)
    # green space taken is "less is better": 1 - x / max
    expected = 0.1 * (1 - z.loc[2, "green_loss_ha"] / z["green_loss_ha"].max())
    assert score.loc["green_loss", "part"] == pytest.approx(expected, abs=1e-9)


def test_explain_draws_its_bars_and_shows_in_jupyter(sample_result):
    why = sample_result.explain(1)
    fig = why.chart()
    bars = [p for p in fig.axes[0].patches]
    assert len(bars) == 2 * len(why.suitability)
    html = why._repr_html_()
    assert "data:image/png;base64," in html and "Market access" in html


def test_explain_names_a_zone_that_is_not_there(sample_result):
    with pytest.raises(InputError, match=r"explain: zone 99 is not among this run's zone_id values"):
        sample_result.explain(99)


def test_summary_reads_as_a_planner_reads_it(sample_result):
    table = sample_result.summary()
    z = sample_result.zones.sort_values("rank")
    assert table.index.name == "rank" and list(table.index) == list(range(1, len(z) + 1))
    assert list(table.columns[:5]) == ["zone", "where", "kind", "area (ha)", "score (0–1)"]
    # counts and areas are whole numbers; scores are rounded to two decimals; p_top_k is a percentage
    for column in (
        "zone",
        "area (ha)",
        "rural people within 30 min",
        "firms within 2 km",
        "in the top 5 of trials (%)",
    ):
        assert str(table[column].dtype) == "Int64", column
    assert table["score (0–1)"].tolist() == z["score"].round(2).tolist()
    assert table["in the top 5 of trials (%)"].tolist() == (z["p_top_k"] * 100).round().astype(int).tolist()
    assert table.iloc[0]["where"] == z.iloc[0]["where"]
    assert not any("_" in c for c in table.columns), "no snake_case headers"
    full = sample_result.summary(all=True)
    assert set(table.columns) < set(full.columns)
    assert "part: market access (0–1)" in full and "to clay (min)" in full and "lat (°N)" in full
    assert full["lat (°N)"].tolist() == z["lat"].round(5).tolist()


def test_summary_leaves_out_what_no_zone_has():
    s = eicgeo.load_sample().replace(resolution=1000, without=["roads", "firms", "population"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", eicgeo.EicgeoWarning)
        result = eicgeo.run(s, progress=False)
    table = result.summary()
    assert "by-products exchanged (t/yr)" not in table and "rural people within 30 min" not in table
    assert "where" not in table, "no roads file, so no OSM places"
    assert zones.PART_PREFIX + "market_access" in result.zones
