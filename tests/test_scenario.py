from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from eicgeo import Scenario, read_scenario
from eicgeo._errors import ScenarioError
from eicgeo.criteria import standardisation
from eicgeo.settings import SECTIONS


def write(tmp_path: Path, body: str, files=("lc.tif", "pop.tif", "roads.osm.bz2")) -> Path:
    for name in files:
        (tmp_path / name).write_bytes(b"")
    path = tmp_path / "s.toml"
    path.write_text(textwrap.dedent(body))
    return path


GOOD = """
name = "test"
[grid]
resolution = 250
[inputs]
landcover = "lc.tif"
population = "pop.tif"
roads = "roads.osm.bz2"
[criteria.road_access]
weight = 3
high = 20
"""


def test_good_scenario_over_the_balanced_preset(tmp_path):
    s = read_scenario(write(tmp_path, GOOD))
    assert s.preset == "balanced" and s.name == "test"
    assert s.grid.resolution == 250.0 and s.grid.crs == "auto"
    assert s.inputs.landcover == tmp_path / "lc.tif", "relative paths resolve against the scenario's folder"
    assert s.criteria["road_access"].weight == 3.0
    assert s.criteria["road_access"].params() == {"high": 20}, "a criterion holds what was given"
    assert standardisation("road_access", s.criteria["road_access"]) == (
        "linear",
        {"low": 0.0, "high": 20.0, "increasing": False},
    ), "given parameters go over the criterion's default standardisation"
    assert s.criteria["market_access"].weight == 0.2, "the preset's other criteria stay"
    assert standardisation("landcover", s.criteria["landcover"])[1]["scores"]["cropland"] == 1.0
    assert s.weights()["road_access"] == 3.0


def test_every_problem_is_reported_at_once(tmp_path):
    body = """
    nmae = "typo"
    [grid]
    crs = "EPSG:4326"
    resolution = "fine"
    [inputs]
    landcover = "lc.tif"
    firms = "missing.csv"
    [criteria.road_acess]
    weight = 1
    [criteria.market_access]
    weight = -1
    fn = "linaer"
    [criteria."material_access:flyash"]
    weight = 1
    [zones]
    quantile = 1.5
    """
    with pytest.raises(ScenarioError) as info:
        read_scenario(write(tmp_path, body))
    problems = dict(info.value.problems)
    assert "did you mean 'name'" in problems["nmae"]
    assert "geographic" in problems["grid.crs"]
    assert problems["grid.resolution"] == "expected a number, got 'fine'"
    assert "missing.csv' does not exist" in problems["inputs.firms"]
    assert "did you mean 'road_access'" in problems["criteria.road_acess"]
    assert problems["criteria.market_access.weight"] == "expected a number >= 0, got -1"
    assert "did you mean 'linear'" in problems["criteria.market_access.fn"]
    assert "unknown material 'flyash'" in problems["criteria.material_access:flyash"]
    assert "fly_ash" in problems["criteria.material_access:flyash"]
    assert problems["zones.quantile"] == "expected a number in [0, 1), got 1.5"
    assert len(info.value.problems) == 9
    assert str(info.value).startswith(f"{tmp_path / 's.toml'}: 9 problems: ")


def test_unparsable_crs_unknown_preset_and_bad_toml(tmp_path):
    with pytest.raises(ScenarioError, match="grid.crs: cannot parse CRS 'EPSG:123456789'"):
        read_scenario(write(tmp_path, GOOD.replace("resolution = 250", 'crs = "EPSG:123456789"')))
    with pytest.raises(ScenarioError, match="preset: unknown preset 'industrail'"):
        read_scenario(write(tmp_path, 'preset = "industrail"\n' + GOOD))
    with pytest.raises(ScenarioError, match="not valid TOML"):
        read_scenario(write(tmp_path, "name = \n"))
    with pytest.raises(ScenarioError, match="scenario: file '.*nothere.toml' does not exist"):
        read_scenario(tmp_path / "nothere.toml")


def test_missing_landcover_is_required(tmp_path):
    with pytest.raises(ScenarioError, match="inputs.landcover: missing"):
        read_scenario(write(tmp_path, "[grid]\nresolution = 100\n"))


def test_ahp_weights_resolve_and_inconsistency_is_an_error(tmp_path):
    ahp = (
        GOOD
        + """
    [mcda.ahp]
    labels = ["road_access", "landcover"]
    matrix = [[1, 3], [0.3333333333, 1]]
    """
    )
    s = read_scenario(write(tmp_path, textwrap.dedent(ahp)))
    assert s.weights() == pytest.approx({"road_access": 0.75, "landcover": 0.25})
    bad = (
        GOOD
        + """
    [mcda.ahp]
    labels = ["road_access", "landcover", "market_access"]
    matrix = [[1, 9, 0.2], [0.1111111111, 1, 9], [5, 0.1111111111, 1]]
    """
    )
    with pytest.raises(ScenarioError, match="mcda.ahp.matrix: consistency ratio .* exceeds 0.10"):
        read_scenario(write(tmp_path, textwrap.dedent(bad)))
    unknown = (
        GOOD
        + """
    [mcda.ahp]
    labels = ["road_access", "slope"]
    matrix = [[1, 3], [0.3333333333, 1]]
    """
    )
    with pytest.raises(ScenarioError, match="mcda.ahp.labels: criterion 'slope' is not defined"):
        read_scenario(write(tmp_path, textwrap.dedent(unknown)))


def test_user_raster_criterion(tmp_path):
    (tmp_path / "slope.tif").write_bytes(b"")
    body = (
        GOOD
        + '[criteria.slope]\nraster = "slope.tif"\nweight = 0.1\nfn = "linear"\n'
        + "low = 0\nhigh = 15\nincreasing = false\n"
    )
    s = read_scenario(write(tmp_path, body))
    assert s.criteria["slope"].raster == tmp_path / "slope.tif"
    with pytest.raises(ScenarioError, match="criteria.slope.fn: a user raster criterion needs fn"):
        read_scenario(write(tmp_path, GOOD + '[criteria.slope]\nraster = "slope.tif"\nweight = 0.1\n'))
    with pytest.raises(ScenarioError, match="criteria.road_access: linear parameters out of order: low=30"):
        read_scenario(write(tmp_path, GOOD.replace("high = 20", "high = 20\nlow = 30")))


def test_all_zero_weights(tmp_path):
    body = GOOD.replace("weight = 3", "weight = 0") + "".join(
        f"[criteria.{c}]\nweight = 0\n" for c in ("landcover", "market_access", "material_access", "equal_access")
    )
    with pytest.raises(ScenarioError, match="criteria: no criterion has a weight > 0"):
        read_scenario(write(tmp_path, body))


def test_replace_overrides_inputs_and_grid(tmp_path):
    s = read_scenario(write(tmp_path, GOOD))
    (tmp_path / "other.tif").write_bytes(b"")
    t = s.replace(landcover=tmp_path / "other.tif", resolution=50, zones={"n": 4})
    assert t.inputs.landcover == tmp_path / "other.tif" and t.grid.resolution == 50.0 and t.zones.n == 4
    assert s.grid.resolution == 250.0 and s.zones.n == 10


def test_from_dict_without_file_checks():
    s = Scenario.from_dict({"inputs": {"landcover": "x.tif"}}, check_files=False)
    assert s.inputs.landcover.name == "x.tif" and s.inputs.legend == "esa_worldcover"
    assert set(s.to_dict()) == {"name", "preset", "description", *SECTIONS}


def test_the_docs_key_tables_are_generated_from_the_declarations():
    """Each section's key table in docs/scenario.md is the one eicgeo.settings.markdown_table
    makes (`python docs/make_scenario_tables.py` rewrites them)."""
    from eicgeo import scenario
    from eicgeo.criteria import registry_table
    from eicgeo.settings import markdown_table

    doc = (Path(__file__).resolve().parents[1] / "docs" / "scenario.md").read_text(encoding="utf-8")
    sections = ["top", *SECTIONS]
    expected = {**{section: markdown_table(section) for section in sections}, "builtin-criteria": registry_table()}
    for name, want in expected.items():
        begin, end = f"<!-- keys:{name} -->\n", f"\n<!-- /keys:{name} -->"
        assert begin in doc and end in doc, f"docs/scenario.md has no generated table for {name}"
        table = doc.split(begin, 1)[1].split(end, 1)[0]
        assert table == want, f"docs/scenario.md's {name} table is out of date (python docs/make_scenario_tables.py)"
    assert "`criteria.NAME.high`" in doc and "`zones.min_spacing_km`" in doc
    for preset in scenario.PRESETS:
        assert f"* `{preset}`" in doc, f"preset {preset} is not described in docs/scenario.md"


def test_nested_tables_lists_and_weights_that_do_not_resolve(tmp_path):
    body = (
        GOOD.replace("resolution = 250", 'resolution = 250\nbounds = [0, 0, 10, 10]\nbounds_crs = "EPSG:999999"')
        + """
[roads]
main_roads = ["motorway", "trunc"]
speeds = { primary = 60, secondray = 40, tertiary = -5 }
[symbiosis]
kinds = ["byproduct", "energie"]
[clustering]
min_cluster_size = 1
[mcda]
method = "owa"
order_weights = [1.0]
[mcda.ahp]
labels = ["road_access", "road_access"]
matrix = [[1, 1], [1, 1]]
weights = [1, 2]
"""
    )
    with pytest.raises(ScenarioError) as info:
        read_scenario(write(tmp_path, body))
    problems = info.value.problems
    by_key = dict(problems)
    assert "cannot parse CRS 'EPSG:999999'" in by_key["grid.bounds_crs"]
    assert "unknown highway class 'trunc' (did you mean 'trunk'" in by_key["roads.main_roads"]
    assert "did you mean 'secondary'" in by_key["roads.speeds.secondray"]
    assert by_key["roads.speeds.tertiary"] == "expected a number > 0 (km/h), got -5"
    assert "unknown material kind 'energie'" in by_key["symbiosis.kinds"]
    assert by_key["clustering.min_cluster_size"] == "expected an integer >= 2 (firms), got 1"
    assert by_key["mcda.ahp.weights"] == "unknown key; expected one of labels, matrix, on_inconsistent"
    assert "named twice" in by_key["mcda.ahp.labels"]
    # AHP weighs the two labels, so the lone order weight does not resolve.
    assert "expected 2 numbers >= 0" in by_key["mcda.order_weights"]
    assert len(problems) == 9


def test_preset_argument_and_replace_swap_the_preset_under_the_overrides(tmp_path):
    path = write(tmp_path, 'preset = "balanced"\n' + GOOD)
    s = read_scenario(path)
    assert s.preset == "balanced"
    t = s.replace(preset="balanced", resolution=500)
    assert t.criteria["road_access"].weight == 3.0, "the file's own weight survives a replace"
    assert t.grid.resolution == 500.0
    with pytest.raises(ScenarioError, match="preset: unknown preset 'industrail'"):
        read_scenario(path, preset="industrail")


PRESET_DIR = Path(__file__).resolve().parents[1] / "eicgeo" / "presets"


def _top(weights: dict[str, float], k: int) -> set[str]:
    return set(sorted(weights, key=weights.get, reverse=True)[:k])


def test_the_four_presets_are_shipped_with_every_weight_justified():
    from eicgeo.scenario import PRESETS

    assert set(PRESETS) == {"balanced", "industrial", "environmental", "regional"}
    for name in PRESETS:
        lines = (PRESET_DIR / f"{name}.toml").read_text(encoding="utf-8").splitlines()
        assert lines[0].startswith("#"), f"{name}.toml starts with what the preset is for"
        for i, line in enumerate(lines):
            if line.startswith("weight ="):
                assert lines[i - 1].startswith("# "), f"{name}.toml line {i + 1}: a weight without its reason"
            if line == "[zones.score_weights]":
                assert lines[i + 1].startswith("# "), f"{name}.toml: zone score weights without their reason"


def test_each_preset_weighs_what_its_policy_stream_asks():
    def preset(name: str) -> Scenario:
        return Scenario.from_dict({"preset": name, "inputs": {"landcover": "lc.tif"}}, check_files=False)

    industrial = preset("industrial")
    assert _top(industrial.weights(), 3) == {"market_access", "road_access", "labour_access"}
    environmental = preset("environmental")
    assert _top(environmental.weights(), 3) == {"symbiosis_potential", "material_access", "landcover"}
    assert environmental.constraints.protect_green_space is True
    scores = standardisation("landcover", environmental.criteria["landcover"])[1]["scores"]
    assert scores["forest"] == 0.0 and scores["grass_shrub"] < scores["cropland"] < scores["bare"]
    regional = preset("regional")
    assert _top(regional.weights(), 1) == {"equal_access"}
    assert regional.zones.min_spacing_km == 3
    assert _top(regional.zones.score_table(), 2) == {"rural_pop", "suitability"}
    assert _top(environmental.zones.score_table(), 3) == {"suitability", "symbiosis", "green_loss"}
    assert industrial.zones.n == 10 and industrial.fringe.method == "auto", "written over balanced"
    balanced = preset("balanced")
    assert set(balanced.weights().values()) == {0.2}


def test_a_preset_goes_under_the_files_own_keys(tmp_path):
    path = write(tmp_path, 'preset = "industrial"\n' + GOOD)
    s = read_scenario(path)
    assert s.preset == "industrial"
    assert s.weights()["road_access"] == 3.0, "the file's weight overrides the preset's"
    assert s.weights()["labour_access"] == 0.2
    t = read_scenario(path, preset="environmental")
    assert t.preset == "environmental" and t.weights()["symbiosis_potential"] == 0.3
    assert t.weights()["road_access"] == 3.0
    u = s.replace(preset="regional")
    assert u.weights()["equal_access"] == 0.3 and u.weights()["road_access"] == 3.0
    assert "symbiosis_potential" not in u.weights(), "the industrial preset's keys do not linger"
