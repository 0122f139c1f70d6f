"""The material vocabulary, the synergy table and material:tonnes flow lists."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from eicgeo import materials
from eicgeo._errors import EicgeoError, MaterialError
from eicgeo.materials import (
    MATERIALS,
    SECTORS,
    SYNERGIES,
    check_material,
    check_sector,
    format_flows,
    parse_flows,
)
from eicgeo.settings import SYMBIOSIS


def test_vocabulary_is_large_and_well_formed():
    assert len(MATERIALS) >= 40
    for name, material in MATERIALS.items():
        assert material.name == name
        assert name == name.strip().lower() and " " not in name
        assert material.kind in {"raw", "byproduct", "product", "energy", "emission", "utility"}
        # energy carriers and electricity in MWh, water in m³, everything else in tonnes
        energy = material.kind == "energy" or name == "electricity"
        water = name in ("water", "treated_wastewater")
        assert material.unit == ("MWh/yr" if energy else "m3/yr" if water else "t/yr"), name
    assert MATERIALS["fly_ash"].kind == "byproduct"
    assert MATERIALS["fly_ash"].ewc == "10 01"
    assert MATERIALS["steam"].kind == "energy"
    assert MATERIALS["cement"].kind == "product"
    assert MATERIALS["paddy"].kind == "raw"
    assert MATERIALS["co2"].kind == "emission"
    assert MATERIALS["electricity"].kind == "utility" and MATERIALS["water"].kind == "utility"


def test_every_material_has_users_ewc_and_co2_factor():
    for name, material in MATERIALS.items():
        # only final products (bricks, beer...) may have no industrial user
        assert material.used_by or material.kind == "product", name
        assert all(s in SECTORS for s in material.used_by), name
        if material.kind == "byproduct":
            assert material.ewc, name  # every waste has its EWC chapter ("10 01": thermal processes)
            assert len(material.ewc) == 5 and material.ewc[2] == " ", name
        if material.kind in ("byproduct", "energy", "emission"):
            assert material.co2_source, name  # a factor (even 0 for CO2) always says where it comes from
        assert material.co2_avoided >= 0
    # users come from the synergy table and from ordinary trade
    assert MATERIALS["fly_ash"].used_by == ("cement", "brick_kiln")
    assert set(MATERIALS["rice_husk"].used_by) == {"biomass_power", "cement", "brick_kiln"}
    assert MATERIALS["paddy"].used_by == ("rice_mill",)
    # hand-checked factors: husk 13 GJ/t x 0.0946 t CO2/GJ = 1.23; gas heat 0.202 / 0.9 = 0.224
    assert MATERIALS["rice_husk"].co2_avoided == 1.2
    assert MATERIALS["steam"].co2_avoided == 0.22
    assert MATERIALS["co2"].co2_avoided == 0.0  # re-emitted: no credit
    assert SYMBIOSIS.transport_kg_per_tkm == 0.1


def test_synergy_table_rows_use_the_vocabulary():
    assert len(SYNERGIES) >= 30
    assert list(SYNERGIES.columns) == ["material", "from_sector", "to_sector", "use", "source"]
    unknown_materials = set(SYNERGIES["material"]) - set(MATERIALS)
    unknown_sectors = (set(SYNERGIES["from_sector"]) | set(SYNERGIES["to_sector"])) - set(SECTORS)
    assert unknown_materials == set()
    assert unknown_sectors == set()
    assert not SYNERGIES.duplicated(["material", "from_sector", "to_sector"]).any()
    assert (SYNERGIES["use"].str.len() > 0).all() and (SYNERGIES["source"].str.len() > 0).all()
    for known in ("Kalundborg", "Kitakyushu", "Ulsan", "Map Ta Phut", "UK NISP", "India", "Thailand"):
        assert SYNERGIES["source"].str.contains(known).any(), known
    assert SYNERGIES["source"].str.contains("rice-husk power in Thailand").any()
    # Kalundborg's classic exchange is in the table
    fly_ash = SYNERGIES[SYNERGIES["material"] == "fly_ash"]
    assert {"cement", "brick_kiln"} <= set(fly_ash["to_sector"])
    assert set(fly_ash["from_sector"]) == {"coal_power"}


def test_parse_flows():
    assert parse_flows("fly_ash:1200;steam:300") == {"fly_ash": 1200.0, "steam": 300.0}
    assert parse_flows(" fly_ash : 12 ; bagasse:0.5 ;") == {"fly_ash": 12.0, "bagasse": 0.5}
    assert parse_flows("fly_ash:1;fly_ash:2.5") == {"fly_ash": 3.5}  # repeats are summed
    assert parse_flows("fly_ash:0") == {"fly_ash": 0.0}
    assert parse_flows("") == {}
    assert parse_flows(None) == {}
    assert parse_flows(float("nan")) == {}


@pytest.mark.parametrize(
    "flows",
    [
        {"fly_ash": 1200.0, "steam": 300.5},
        {"rice_husk": 0.25},
        {"slag": 1_234_567.0, "bagasse": 987_654.321},
        {},
    ],
)
def test_parse_and_format_round_trip(flows):
    text = format_flows(flows)
    assert parse_flows(text) == flows
    assert format_flows(parse_flows(text)) == text


def test_format_flows_text():
    assert format_flows({"fly_ash": 1200.0, "steam": 300.5}) == "fly_ash:1200;steam:300.5"
    assert format_flows({"slag": 1_234_567.0}) == "slag:1234567"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("fly_ash=12", r"firm 'F1' outputs: item 'fly_ash=12' is not 'material:tonnes'"),
        ("steam:5;fly_ash 12", r"firm 'F1' outputs: item 'fly_ash 12' is not 'material:tonnes'"),
        ("fly_ash:abc", r"firm 'F1' outputs: amount 'abc' for 'fly_ash' is not a number"),
        ("fly_ash:", r"firm 'F1' outputs: amount '' for 'fly_ash' is not a number"),
        ("fly_ash:-3", r"firm 'F1' outputs: amount '-3' for 'fly_ash' must be a number >= 0"),
        ("fly_ash:inf", r"firm 'F1' outputs: amount 'inf' for 'fly_ash' must be a number >= 0"),
        ("flyash:12", r"firm 'F1' outputs: material 'flyash' is not a known material \(did you mean 'fly_ash'"),
        (
            "unobtainium:1",
            r"material 'unobtainium' is not a known material; the nearest known names are "
            r"'spent_grain', 'steam', 'animal_feed' "
            r"\(all 64 are in eicgeo.materials.MATERIALS and the scenario's inputs.materials\)",
        ),
    ],
)
def test_malformed_flow_items(text, match):
    with pytest.raises(MaterialError, match=match) as info:
        parse_flows(text, what="firm 'F1' outputs")
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, EicgeoError)


def test_check_material_and_sector():
    assert check_material(" fly_ash ") == "fly_ash"
    assert check_sector("rice_mill") == "rice_mill"
    with pytest.raises(
        MaterialError,
        match=r"source material 'rice husk' is not a known material "
        r"\(did you mean 'rice_husk'",
    ):
        check_material("rice husk", what="source material")
    with pytest.raises(MaterialError, match=r"sector 'rice mill' is not a known sector \(did you mean 'rice_mill'"):
        check_sector("rice mill")
    with pytest.raises(
        MaterialError, match=r"sector 'spaceport' is not a known sector; the nearest known sectors are '"
    ):
        check_sector("spaceport")


def test_amounts_are_floats():
    flows = parse_flows("fly_ash:1e3")
    assert flows == {"fly_ash": 1000.0}
    assert all(isinstance(v, float) and math.isfinite(v) for v in flows.values())


# --------------------------------------------------------------------------------------------
# extending the vocabulary from CSV
# --------------------------------------------------------------------------------------------
MATERIALS_CSV = """name,kind,unit,ewc,description,used_by,co2_avoided,co2_source
coffee_grounds,byproduct,t/yr,02 03,spent coffee,biogas_plant;mushroom_farm,0.4,landfill methane avoided
hot_water,energy,MWh/yr,,,aquaculture,,
"""
SECTORS_CSV = "sector,description\nmushroom_farm,oyster mushroom growing\n"
SYNERGIES_CSV = """material,from_sector,to_sector,use,source
coffee_grounds,food_processing,mushroom_farm,growing substrate,coffee-to-mushroom pilots
fly_ash,coal_power,quarry,mine backfill,UK NISP
"""


def test_vocabulary_from_csv(tmp_path):
    (tmp_path / "m.csv").write_text(MATERIALS_CSV)
    (tmp_path / "s.csv").write_text(SECTORS_CSV)
    (tmp_path / "y.csv").write_text(SYNERGIES_CSV)
    n_materials, n_rows = len(MATERIALS), len(materials.synergy_table())
    vocab = materials.vocabulary(materials=tmp_path / "m.csv", sectors=tmp_path / "s.csv", synergies=tmp_path / "y.csv")
    assert sorted(set(vocab.materials) - set(MATERIALS)) == ["coffee_grounds", "hot_water"]
    assert len(vocab.materials) == n_materials + 2 and len(MATERIALS) == n_materials, "nothing global changes"
    coffee = vocab.materials["coffee_grounds"]
    assert (coffee.kind, coffee.unit, coffee.ewc, coffee.used_by) == (
        "byproduct",
        "t/yr",
        "02 03",
        ("biogas_plant", "mushroom_farm"),
    )
    assert coffee.co2_avoided == 0.4
    assert vocab.materials["hot_water"].unit == "MWh/yr" and vocab.materials["hot_water"].co2_avoided == 0.0
    assert vocab.sectors["mushroom_farm"] == "oyster mushroom growing" and "mushroom_farm" not in SECTORS
    table = vocab.synergy_table()
    assert len(table) == n_rows + 2
    assert table.iloc[-2].tolist() == [
        "coffee_grounds",
        "food_processing",
        "mushroom_farm",
        "growing substrate",
        "coffee-to-mushroom pilots",
    ]
    assert len(SYNERGIES) == n_rows == len(materials.synergy_table())  # the built-in table is untouched
    # the new names work wherever this vocabulary is given, and nowhere else
    assert parse_flows("coffee_grounds:12;hot_water:3", vocab=vocab) == {"coffee_grounds": 12.0, "hot_water": 3.0}
    with pytest.raises(MaterialError, match="'coffee_grounds' is not a known material"):
        parse_flows("coffee_grounds:12")
    # the same files read twice give the same vocabulary
    again = materials.vocabulary(materials=tmp_path / "m.csv", sectors=tmp_path / "s.csv", synergies=tmp_path / "y.csv")
    assert again.materials == vocab.materials and again.synergy_rows == vocab.synergy_rows


def test_vocabulary_from_dataframes():
    frame = pd.DataFrame({"name": ["oyster_shells"], "kind": ["byproduct"], "used_by": ["cement"]})
    vocab = materials.vocabulary(materials=frame)
    assert vocab.materials["oyster_shells"].used_by == ("cement",)
    assert vocab.materials["oyster_shells"].unit == "t/yr"
    assert "oyster_shells" not in MATERIALS


def test_two_runs_in_one_process_each_see_their_own_materials(tmp_path, sample_dir):
    """Runs with different material tables, one after the other in one kernel, do not leak."""
    import eicgeo

    (tmp_path / "a.csv").write_text("name,kind,used_by\noyster_shells,byproduct,cement\n")
    (tmp_path / "b.csv").write_text("name,kind,used_by\ncoffee_grounds,byproduct,biogas_plant\n")
    (tmp_path / "lc.tif").write_bytes((sample_dir / "landcover.tif").read_bytes())
    runs = {}
    for name in ("a", "b"):
        s = eicgeo.Scenario.from_dict(
            {"inputs": {"landcover": "lc.tif", "materials": f"{name}.csv"}, "grid": {"resolution": 2000}},
            base_dir=tmp_path,
        )
        runs[name] = eicgeo.run(s, progress=False)
    assert "oyster_shells" in runs["a"].vocabulary.materials and "coffee_grounds" not in runs["a"].vocabulary.materials
    assert "coffee_grounds" in runs["b"].vocabulary.materials and "oyster_shells" not in runs["b"].vocabulary.materials
    assert "oyster_shells" not in MATERIALS and "coffee_grounds" not in MATERIALS


@pytest.mark.parametrize(
    ("table", "text", "match"),
    [
        ("materials", "name,unit\nx,t/yr\n", r"materials '.*m.csv' is missing column\(s\) kind; it has name, unit"),
        (
            "materials",
            "name,kind\ncoffee_grounds,byproduct\nfly_ash,byproduct\n",
            r"materials '.*m.csv' row 3: material 'fly_ash' is built in and cannot be redefined",
        ),
        (
            "materials",
            "name,kind\nCoffee Grounds,byproduct\n",
            r"row 2: material name 'Coffee Grounds' must be lower case letters, digits and '_'",
        ),
        (
            "materials",
            "name,kind\nx,bypoduct\n",
            r"row 2: kind 'bypoduct' is not one of raw, .*did you mean 'byproduct'",
        ),
        ("materials", "name,kind,unit\nx,raw,kg\n", r"row 2: unit 'kg' is not one of t/yr, MWh/yr, m3/yr"),
        ("materials", "name,kind\nx,raw\nx,raw\n", r"row 3: material 'x' is listed twice"),
        (
            "materials",
            "name,kind,co2_avoided\nx,raw,lots\n",
            r"row 2: co2_avoided 'lots' is not a number >= 0 \(t CO2 per t\)",
        ),
        ("materials", "name,kind,co2_avoided\nx,raw,-1\n", r"row 2: co2_avoided '-1' is not a number >= 0"),
        (
            "materials",
            "name,kind,used_by\nx,raw,cement;brick_kilns\n",
            r"row 2: used_by sector 'brick_kilns' is not a known sector \(did you mean 'brick_kiln'",
        ),
        (
            "synergies",
            "material,from_sector,to_sector,use,source\nflyash,coal_power,cement,a,b\n",
            r"synergies '.*y.csv' row 2: material 'flyash' is not a known material \(did you mean 'fly_ash'",
        ),
        (
            "synergies",
            "material,from_sector,to_sector,use,source\nfly_ash,coal_power,spaceport,a,b\n",
            r"row 2: to_sector 'spaceport' is not a known sector; the nearest known sectors are .* \(inputs.sectors\)",
        ),
        (
            "synergies",
            "material,from_sector,to_sector,use,source\nfly_ash,coal_power,quarry,,b\n",
            r"row 2: use is empty",
        ),
        (
            "synergies",
            "material,from_sector,to_sector,use,source\nfly_ash,coal_power,cement,a,b\n",
            r"row 2: the synergy fly_ash from coal_power to cement is already in the table",
        ),
        ("sectors", "sector,description\nsteel,x\n", r"sectors '.*s.csv' row 2: sector 'steel' is built in"),
        ("sectors", "sector\nnew_one\n", r"sectors '.*s.csv' is missing column\(s\) description"),
    ],
)
def test_bad_extension_rows_name_the_row(tmp_path, table, text, match):
    path = tmp_path / {"materials": "m.csv", "synergies": "y.csv", "sectors": "s.csv"}[table]
    path.write_text(text)
    with pytest.raises(MaterialError, match=match):
        materials.vocabulary(**{table: path})


def test_missing_extension_file(tmp_path):
    with pytest.raises(MaterialError, match=r"materials '.*nope.csv' does not exist; expected a CSV file"):
        materials.read_extension(materials=tmp_path / "nope.csv")


def test_scenario_validates_the_vocabulary_tables(tmp_path):
    from eicgeo._errors import ScenarioError
    from eicgeo.criteria import REGISTRY
    from eicgeo.scenario import Scenario

    assert "symbiosis_potential" in REGISTRY
    (tmp_path / "lc.tif").write_bytes(b"")  # only its existence is checked here
    (tmp_path / "m.csv").write_text(MATERIALS_CSV)
    (tmp_path / "s.csv").write_text(SECTORS_CSV)
    base = {"inputs": {"landcover": "lc.tif", "materials": "m.csv", "sectors": "s.csv"}}
    # the user's material may be named in criteria and CO2 factors; nothing is registered yet
    good = {
        **base,
        "criteria": {"material_access:coffee_grounds": {"weight": 1}},
        "symbiosis": {"co2_factors": {"coffee_grounds": 0.3}, "transport_kg_per_tkm": 0.08},
        "clustering": {"link_scale_t": 500, "hull_buffer_m": 250},
    }
    s = Scenario.from_dict(good, base_dir=tmp_path)
    assert s.inputs.materials == tmp_path / "m.csv" and s.inputs.sectors == tmp_path / "s.csv"
    assert s.clustering.link_scale_t == 500
    assert "coffee_grounds" not in MATERIALS
    # a bad row is a problem of inputs.materials; an unknown CO2 factor material is named
    (tmp_path / "bad.csv").write_text("name,kind\ncoffee_grounds,bypoduct\n")
    bad = {
        "inputs": {"landcover": "lc.tif", "materials": "bad.csv"},
        "symbiosis": {"co2_factors": {"flyash": 0.3, "slag": -1}},
    }
    with pytest.raises(ScenarioError) as info:
        Scenario.from_dict(bad, base_dir=tmp_path)
    problems = dict(info.value.problems)
    assert problems["inputs.materials"].endswith(
        "row 2: kind 'bypoduct' is not one of raw, byproduct, product, "
        "energy, emission, utility (did you mean 'byproduct', 'product'?)"
    )
    assert problems["symbiosis.co2_factors.flyash"] == "unknown material (did you mean 'fly_ash'?)"
    assert problems["symbiosis.co2_factors.slag"] == "expected a number >= 0 (t CO2 per t (or MWh)), got -1"
    with pytest.raises(ScenarioError, match=r"inputs.synergies: file '.*nope.csv' does not exist"):
        Scenario.from_dict({"inputs": {"landcover": "lc.tif", "synergies": "nope.csv"}}, base_dir=tmp_path)
