"""The notebooks run top to bottom, offline, as a planner would run them, and show what they promise.

Each notebook has its own expectations: strings its outputs must contain (values, table columns,
error messages it demonstrates), the number of inline Leaflet maps and of matplotlib figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@dataclass(frozen=True)
class Expect:
    """What a notebook's executed outputs must show."""

    text: tuple[str, ...]  # each must appear in the printed, plain-text or HTML outputs
    maps: int = 0  # inline Leaflet maps, at least
    figures: int = 0  # matplotlib figures (PNG), at least


EXPECT: dict[str, Expect] = {
    "01_quickstart.ipynb": Expect(
        text=("peri_urban_demo", "mean_suitability", "symbiosis_tonnes", "suitability.tif", "zones.gpkg", "map.html"),
        maps=1,
    ),
    "02_criteria_and_weights.ipynb": Expect(
        text=(
            # linear 0..30 min decreasing, by hand: 1 at 0, 0.5 at 15, 0 from 30
            "linear score at 0, 15, 30 and 45 minutes: [1.0, 0.5, 0.0, 0.0]",
            # a consistent 1:2:4 matrix, by hand: 4/7, 2/7, 1/7 and CR 0
            "{'road_access': 0.571, 'landcover': 0.286, 'material_access': 0.143} | consistency ratio: 0.0",
            "consistent: True",
            "consistent: False",
            "revise it first",
            "ci_share",
            "orness",
            "tradeoff",
            "overlap with the WLC top 10 %",
            "in at least 90 % of the draws",
            "mean p_top",
        ),
        figures=6,
    ),
    "03_symbiosis_network.ipynb": Expect(
        text=(
            "documented synergies",
            "Kalundborg Symbiosis",
            "238 firms in 23 sectors",
            "rice_husk",
            "of the exchanged tonnage travels 10 km or less",
            "share_of_byproducts_used",
            "degree_centralization",
            "net_co2_t",
            "partners",
            "internal_tonnes",
            "firm outputs are not (fully) used",
            "not in tonnes:",
            "unmatched",
            "max km",
            "symbiosis_tonnes",
        ),
        maps=1,
        figures=2,
    ),
    "04_policy_streams.ipynb": Expect(
        text=(
            "presets shipped: balanced, environmental, industrial, regional",
            "Industrial policy",
            "Environmental policy",
            "Regional development",
            "symbiosis_potential",
            "labour_access",
            "zones shared with balanced",
            "found by this stream only",
            "Pearson r with balanced",
            "industrial vs balanced: market",
            "balanced zones are found by all 4 streams",
            "rank in environmental",
        ),
        maps=1,
        figures=3,
    ),
    "05_your_own_region.ipynb": Expect(
        text=(
            # land cover and legends
            "EPSG:2056",
            "Non-irrigated arable land",
            "code 15 is now: forest",
            # the scenario validates, then runs without roads and says so
            "weighted criteria: landcover, road_access",
            "road_access: no road network: straight-line distance to the nearest built-up land",
            "the fringe comes from the land-cover built-up gradient",
            "peri-urban fringe",
            "mean_suitability",
            "organic_waste",
            # roads from the PBF
            "MultiDiGraph with",
            "minutes to the motorway",
            # the common errors, each with its message
            "grid.resolutoin: unknown key (did you mean 'resolution'?)",
            "'EPSG:4326' is geographic",
            "landcover.tiff' does not exist",
            "exit code: 1",
            "that legend 'esa_worldcover' does not list",
            "(did you mean 'fly_ash'?)",
            "7 of 7 firms lie outside the study area",
            "has no 'highway' column",
            "has an unsupported extension",
        ),
        maps=1,
        figures=2,
    ),
}


def _outputs_text(nb: nbformat.NotebookNode) -> tuple[str, int, int]:
    texts, maps, figures = [], 0, 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            html = data.get("text/html", "")
            texts += [out.get("text", ""), data.get("text/plain", ""), html]
            maps += "leaflet" in html.lower()
            figures += "image/png" in data
    return "\n".join(texts), maps, figures


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    assert path.name in EXPECT, f"{path.name} has no expectations in tests/test_notebooks.py"
    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(not cell.get("outputs") and cell.get("execution_count") is None for cell in code), (
        "outputs stripped in git (python notebooks/strip_outputs.py)"
    )
    NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert not errors
    text, maps, figures = _outputs_text(nb)
    assert "IProgress not found" not in text, "importing eicgeo in Jupyter without ipywidgets prints no tqdm warning"
    expect = EXPECT[path.name]
    missing = [s for s in expect.text if s not in text]
    assert not missing, f"{path.name} outputs lack {missing}"
    assert maps >= expect.maps, f"{path.name} shows {maps} inline map(s), expected {expect.maps}"
    assert figures >= expect.figures, f"{path.name} shows {figures} figure(s), expected {expect.figures}"
