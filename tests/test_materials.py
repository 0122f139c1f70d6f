"""The material vocabulary, the synergy table and material:tonnes flow lists."""

from __future__ import annotations

import math

import pytest

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


def test_synergy_table_rows_use_the_vocabulary():
    assert len(SYNERGIES) >= 30
    assert list(SYNERGIES.columns) == ["material", "from_sector", "to_sector", "use", "source"]
    unknown_materials = set(SYNERGIES["material"]) - set(MATERIALS)
    unknown_sectors = (set(SYNERGIES["from_sector"]) | set(SYNERGIES["to_sector"])) - set(SECTORS)
    assert unknown_materials == set()
    assert unknown_sectors == set()
    assert not SYNERGIES.duplicated(["material", "from_sector", "to_sector"]).any()
    assert (SYNERGIES["use"].str.len() > 0).all() and (SYNERGIES["source"].str.len() > 0).all()
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
        ("unobtainium:1", r"material 'unobtainium' is not a known material; see eicgeo.materials.MATERIALS"),
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
    with pytest.raises(MaterialError, match=r"sector 'spaceport' is not a known sector; known sectors: rice_mill, "):
        check_sector("spaceport")


def test_amounts_are_floats():
    flows = parse_flows("fly_ash:1e3")
    assert flows == {"fly_ash": 1000.0}
    assert all(isinstance(v, float) and math.isfinite(v) for v in flows.values())
