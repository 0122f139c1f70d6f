"""The live weight explorer: its widgets driven from code, in this process and in a real kernel.

Each change must give the suitability the weighted linear combination says (checked by hand on
cells), the zones ranked as the zone score says on it, and a TOML snippet that, run, gives the
same suitability again.
"""

from __future__ import annotations

import itertools
import json
import sys
import textwrap

import nbformat
import numpy as np
import pytest
import rasterio.features
from nbclient import NotebookClient

import eicgeo
from eicgeo import mcda, zones

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

pytest.importorskip("ipywidgets")

#: Zone score on mean suitability alone: the ranking is then the WLC's own.
SUITABILITY_ONLY = {"suitability": 1, "symbiosis": 0, "rural_pop": 0, "green_loss": 0}


@pytest.fixture(scope="module")
def tuner(sample_result):
    return eicgeo.tune(sample_result)


@pytest.fixture(scope="module")
def small_result():
    """The sample region on 1 km cells without roads: a run of a few seconds."""
    zones_ = {"score_weights": SUITABILITY_ONLY}
    scenario = eicgeo.load_sample().replace(resolution=1000, without=["roads"], zones=zones_)
    return eicgeo.run(scenario, progress=False)


def _allowed(result) -> np.ndarray:
    return np.asarray(result.excluded.values) == 0


def test_starts_as_the_run(sample_result, tuner):
    assert list(tuner.sliders) == ["landcover", "road_access", "market_access", "material_access", "equal_access"]
    assert tuner.sliders["material_access"].tooltip == "shared equally by 8 material criteria"
    np.testing.assert_array_equal(tuner.suitability.values, sample_result.suitability.values)
    assert tuner.zones["rank"].tolist() == tuner.zones["run_rank"].tolist()
    np.testing.assert_allclose(tuner.zones["score"], sample_result.zones["score"])
    assert tuner.criterion_weights() == pytest.approx(sample_result.weights)


def test_sliders_give_the_weighted_linear_combination(sample_result, tuner):
    chosen = {"landcover": 0.5, "road_access": 0.1, "market_access": 0.3, "material_access": 0.6, "equal_access": 0.0}
    for name, value in chosen.items():
        tuner.sliders[name].value = value
    assert tuner.weights() == chosen
    # material_access is one slider, its weight split equally over the 8 materials built.
    materials = [k for k in sample_result.criteria if k.startswith("material_access:")]
    assert len(materials) == 8
    by_hand = {"landcover": 0.5, "road_access": 0.1, "market_access": 0.3, **dict.fromkeys(materials, 0.6 / 8)}
    assert tuner.criterion_weights() == pytest.approx(mcda.normalize_weights(by_hand))
    expected = mcda.combine(sample_result.criteria, by_hand).where(sample_result.excluded == 0)
    np.testing.assert_array_equal(tuner.suitability.values, expected.values.astype(np.float32))
    # A few cells by hand: sum(w_i x_i) / sum(w_i), NaN where the run excluded the cell.
    allowed = _allowed(sample_result)
    rows, cols = np.nonzero(allowed)
    picks = np.random.default_rng(0).choice(rows.size, 5, replace=False)
    for r, c in zip(rows[picks], cols[picks], strict=True):
        x = {k: float(sample_result.criteria[k].values[r, c]) for k in by_hand}
        wlc = sum(by_hand[k] * x[k] for k in by_hand) / sum(by_hand.values())
        assert float(tuner.suitability.values[r, c]) == pytest.approx(wlc, abs=1e-6)
    assert np.isnan(tuner.suitability.values[~allowed]).all()
    # The zones' parts add up to their mean suitability under WLC.
    parts = tuner.zones.filter(like=zones.PART_PREFIX).sum(axis=1)
    np.testing.assert_allclose(parts, tuner.zones["mean_suitability"], atol=1e-6)


@pytest.mark.parametrize("name", ["market_access", "road_access", "material_access"])
def test_all_weight_on_one_criterion(sample_result, tuner, name):
    tuner.set({k: 1.0 if k == name else 0.0 for k in tuner.sliders})
    allowed = _allowed(sample_result)
    if name == "material_access":
        keys = [k for k in sample_result.criteria if k.startswith("material_access:")]
        alone = np.mean([sample_result.criteria[k].values for k in keys], axis=0)
    else:
        alone = sample_result.criteria[name].values
    np.testing.assert_allclose(tuner.suitability.values[allowed], alone[allowed], atol=1e-6)
    assert np.isnan(tuner.suitability.values[~allowed]).all()


def test_ranking_follows_market_access(sample_result, tuner):
    tuner.set({k: 1.0 if k == "market_access" else 0.0 for k in tuner.sliders}, method="wlc")
    run = sample_result.zones.set_index("rank")
    now = tuner.zones.set_index("run_rank").loc[run.index]
    # Each zone's mean suitability is now its mean market-access criterion, measured here by hand.
    grid = sample_result.grid
    market = sample_result.criteria["market_access"].values
    allowed = _allowed(sample_result)
    by_hand = [
        market[rasterio.features.geometry_mask([g], grid.shape, grid.transform, invert=True) & allowed].mean()
        for g in run.geometry
    ]
    np.testing.assert_allclose(now["mean_suitability"], by_hand, atol=1e-6)
    # Only the score's suitability term moves: weight x (mean / max over the zones).
    w = sample_result.scenario.zones.score_table()
    share = w["suitability"] / sum(w.values())
    term = lambda s: share * s / s.max()  # noqa: E731
    expected = run["score"] - term(run["mean_suitability"]) + term(now["mean_suitability"])
    np.testing.assert_allclose(now["score"], expected, atol=1e-9)
    order = expected.sort_values(ascending=False).index.tolist()
    assert tuner.zones["run_rank"].tolist() == order
    assert tuner.zones["rank"].tolist() == list(range(1, len(order) + 1))
    assert tuner.zones["run_rank"].tolist() != run.index.tolist(), "market access alone reorders the zones"
    assert tuner.zones["p_top_k"].isna().all()
    assert "▲" in tuner.table.value and "▼" in tuner.table.value


def test_owa_alpha_and_the_toml(sample_result, tuner):
    tuner.set({"landcover": 0.4, "road_access": 0.2, "market_access": 0.2, "material_access": 0.1, "equal_access": 0.1})
    tuner.method.value = "owa"
    assert tuner.alpha.layout.display is None
    tuner.alpha.value = 2.0
    expected = mcda.combine(sample_result.criteria, tuner.criterion_weights(), method="owa", alpha=2.0)
    np.testing.assert_array_equal(tuner.suitability.values, expected.where(sample_result.excluded == 0).values)
    assert tuner.suitability.attrs["alpha"] == 2.0
    tuner.button.click()
    assert tuner.snippet.value == tuner.toml()
    parsed = tomllib.loads(tuner.snippet.value)
    assert {k: v["weight"] for k, v in parsed["criteria"].items()} == tuner.weights()
    assert parsed["mcda"] == {"method": "owa", "alpha": 2}
    tuner.method.value = "wlc"
    assert tuner.alpha.layout.display == "none"
    assert tomllib.loads(tuner.toml())["mcda"] == {"method": "wlc"}


def test_every_weight_zero_keeps_the_last_state(tuner):
    tuner.set({k: 1.0 for k in tuner.sliders})
    before = tuner.suitability
    tuner.set({k: 0.0 for k in tuner.sliders})
    assert tuner.suitability is before
    assert "at least one must be above 0" in tuner.status.value


def test_set_names_the_bad_argument(tuner):
    with pytest.raises(eicgeo.InputError, match="no slider for criterion 'road'"):
        tuner.set({"road": 1})
    with pytest.raises(eicgeo.InputError, match="method 'fuzzy_and' is not one of"):
        tuner.set(method="fuzzy_and")


def test_the_snippet_reproduces_the_tuned_suitability(small_result):
    tuner = small_result.tune()
    tuner.set(
        {"landcover": 0.05, "road_access": 0.6, "market_access": 0.15, "material_access": 0.2, "equal_access": 0},
        method="owa",
        alpha=0.5,
    )
    rerun = eicgeo.run(small_result.scenario.replace(**tomllib.loads(tuner.toml())), progress=False)
    np.testing.assert_allclose(rerun.suitability.values, tuner.suitability.values, atol=1e-6, equal_nan=True)
    assert rerun.weights == pytest.approx(tuner.criterion_weights())
    # The ranking of the same zones agrees; the rerun may locate other greenfield zones.
    same = eicgeo.run(tuner.scenario(), progress=False)
    np.testing.assert_array_equal(same.suitability.values, rerun.suitability.values)


def test_in_a_jupyter_kernel(tmp_path):
    """The widgets driven from code in a real kernel: the displayed app, its widget state and
    the facts the cells print."""
    cells = [
        f"""
        import json, numpy as np, rasterio.features, eicgeo
        scenario = eicgeo.load_sample().replace(
            resolution=1000, without=["roads"], zones={{"score_weights": {SUITABILITY_ONLY!r}}})
        result = eicgeo.run(scenario, progress=False)
        tuner = result.tune()
        tuner
        """,
        """
        tuner.sliders["market_access"].value = 1.0
        for name in ["landcover", "road_access", "material_access", "equal_access"]:
            tuner.sliders[name].value = 0.0
        allowed = (result.excluded == 0).values
        market = result.criteria["market_access"].values
        g = result.grid
        cells = [rasterio.features.geometry_mask([z], g.shape, g.transform, invert=True) for z in result.zones.geometry]
        means = [market[m & allowed].mean() for m in cells]
        print(json.dumps({
            "equal": bool(np.allclose(tuner.suitability.values[allowed], market[allowed], atol=1e-6)),
            # the zones' mean market access by hand, in the tuner's order (run ranks are 1..n)
            "ranked_means": [float(means[r - 1]) for r in tuner.zones["run_rank"]],
            "run_order_kept": tuner.zones["run_rank"].tolist() == list(range(1, len(means) + 1)),
            "update_s": tuner.timings["total"],
        }))
        """,
        """
        tuner.button.click()
        print(tuner.snippet.value)
        """,
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(c)) for c in cells])
    NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for cell in nb.cells for o in cell.outputs if o.output_type == "error"]
    assert not errors, errors
    shown = [o for o in nb.cells[0].outputs if o.output_type == "execute_result"]
    assert shown and "application/vnd.jupyter.widget-view+json" in shown[0]["data"]
    facts = json.loads(nb.cells[1].outputs[0]["text"])
    assert facts["equal"]
    # Scored on mean suitability alone, the zone with the best mean market access ranks first,
    # and the others follow it in that order.
    ranked = facts["ranked_means"]
    assert ranked[0] == max(ranked)
    assert all(a >= b - 1e-6 for a, b in itertools.pairwise(ranked))
    assert not facts["run_order_kept"]
    assert facts["update_s"] < 2.0
    snippet = tomllib.loads(nb.cells[2].outputs[0]["text"])
    assert snippet["criteria"]["market_access"] == {"weight": 1}
    assert snippet["criteria"]["landcover"] == {"weight": 0}
    # The widget state the kernel kept: the table and the TOML text area hold what the cells set.
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    values = [m["state"].get("value") for m in state.values()]
    assert any(isinstance(v, str) and "eicgeo-tune" in v for v in values)
    assert any(isinstance(v, str) and v.startswith("# eicgeo tune") for v in values)
