"""Constraints with reasons and the MCDA settings of a scenario, on small rasters and vectors."""

from __future__ import annotations

import warnings

import pytest

from eicgeo._errors import EicgeoWarning, ScenarioError
from eicgeo.scenario import Scenario

BASE = {"inputs": {"landcover": "landcover.tif"}}


# --------------------------------------------------------------------------------------------
# [mcda] settings
# --------------------------------------------------------------------------------------------
def test_scenario_accepts_every_combination_method():
    s = Scenario.from_dict({**BASE, "mcda": {"method": "fuzzy_gamma", "gamma": 0.5}}, check_files=False)
    assert s.mcda == {"method": "fuzzy_gamma", "gamma": 0.5}
    s = Scenario.from_dict({**BASE, "mcda": {"method": "owa", "alpha": 0.5}}, check_files=False)
    assert s.mcda["alpha"] == 0.5


@pytest.mark.parametrize(
    ("mcda", "match"),
    [
        ({"method": "wcl"}, r"mcda.method: expected one of 'wlc', .*got 'wcl' \(did you mean 'wlc'\?\)"),
        ({"method": "owa", "alpha": 0}, r"mcda.alpha: must be > 0 .*got 0"),
        ({"gamma": 1.5}, r"mcda.gamma: expected a number in 0..1, got 1.5"),
        ({"monte_carlo_spread": 1.5}, r"mcda.monte_carlo_spread: expected a fraction in \[0, 1\), got 1.5"),
        ({"monte_carlo_concentration": 0}, r"mcda.monte_carlo_concentration: must be > 0, got 0"),
    ],
)
def test_scenario_mcda_errors(mcda, match):
    with pytest.raises(ScenarioError, match=match):
        Scenario.from_dict({**BASE, "mcda": mcda}, check_files=False)


def test_inconsistent_ahp_names_the_judgement_and_can_be_accepted_with_a_warning():
    ahp = {
        "labels": ["road_access", "landcover", "market_access"],
        "matrix": [[1, 9, 0.2], [1 / 9, 1, 9], [5, 1 / 9, 1]],
    }
    with pytest.raises(
        ScenarioError,
        match=r"mcda.ahp.matrix: consistency ratio 4.771 exceeds 0.10; the judgement that contributes most "
        r"\(33% of CI\) is \[road_access, landcover\] = 9",
    ):
        Scenario.from_dict({**BASE, "mcda": {"ahp": ahp}}, check_files=False)
    s = Scenario.from_dict({**BASE, "mcda": {"ahp": {**ahp, "on_inconsistent": "warn"}}}, check_files=False)
    with pytest.warns(EicgeoWarning, match=r"AHP consistency ratio 4.771 exceeds 0.10"):
        weights = s.weights()
    assert set(weights) == {"road_access", "landcover", "market_access"}
    with pytest.raises(ScenarioError, match=r"mcda.ahp.on_inconsistent: expected 'raise' or 'warn', got 'ignore'"):
        Scenario.from_dict({**BASE, "mcda": {"ahp": {**ahp, "on_inconsistent": "ignore"}}}, check_files=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        consistent = {"labels": ["road_access", "landcover"], "matrix": [[1, 3], [1 / 3, 1]]}
        assert Scenario.from_dict({**BASE, "mcda": {"ahp": consistent}}, check_files=False).weights() == pytest.approx(
            {"road_access": 0.75, "landcover": 0.25}
        )
