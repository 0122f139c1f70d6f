"""The notebooks run top to bottom, offline, as a planner would run them, and show what they promise.

Each notebook has its own expectations: strings its outputs must contain (values, table columns,
error messages it demonstrates), the number of inline Leaflet maps and of matplotlib figures. Each
also asserts its own results in ``assert`` cells, so a wrong value fails the run. Every inline map
loads nothing from the network, and a notebook leaves nothing behind in the temporary folder.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: A script or stylesheet fetched from the network: a map needing it is blank offline.
EXTERNAL = re.compile(
    r"<script[^>]*\ssrc=[\"']?(?:https?:)?//[^\"'\s>]*"
    r"|<link[^>]*\shref=[\"']?(?:https?:)?//[^\"'\s>]*"
)


@dataclass(frozen=True)
class Expect:
    """What a notebook's executed outputs must show."""

    text: tuple[str, ...]  # each must appear in the printed, plain-text or HTML outputs
    maps: int = 0  # inline Leaflet maps, at least
    figures: int = 0  # matplotlib figures (PNG), at least


EXPECT: dict[str, Expect] = {
    "01_quickstart.ipynb": Expect(
        text=(
            "peri_urban_demo",
            "mean suitability (0–1)",
            "by-products exchanged (t/yr)",
            "best zone: cluster, 1,000 ha, 20 firms, score 0.825, 2.5 km north of Nong Mon",
            "suitability.tif",
            "zones.gpkg",
            "map.html",
        ),
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
            "unmatched CO2 (an emission, left out below): 5.5 Mt/yr",
            "firm outputs are not (fully) used",
            "clusters by internal exchange: 9 (78,806 t/yr)",
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
            "{'balanced': 20, 'environmental': 20, 'industrial': 20, 'regional': 18}",
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
            "11 zones: {'greenfield': 10, 'cluster': 1}",
            "cluster zone: rank 2, 94 ha, 14,300 t/yr exchanged",
            # roads from the PBF
            "RoadGraph with",  # eicgeo.roads.RoadGraph, a networkx MultiDiGraph
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


def _outputs_text(nb: nbformat.NotebookNode) -> tuple[str, int, int, list[str]]:
    texts, maps, figures, external = [], 0, 0, []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            page = data.get("text/html", "")
            texts += [out.get("text", ""), data.get("text/plain", ""), page]
            if "leaflet" in page.lower():
                maps += 1
                # folium puts the page in an iframe's srcdoc, HTML-escaped
                external += EXTERNAL.findall(html.unescape(page))
            figures += "image/png" in data
    return "\n".join(texts), maps, figures, external


def test_external_link_pattern():
    offline = "<script>L.map('m')</script><style>.leaflet{}</style><link rel='icon' href='data:,'>"
    online = '<script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"></script>'
    css = '<link rel="stylesheet" href="//cdn.example.org/leaflet.css"/>'
    assert EXTERNAL.findall(offline) == []
    assert EXTERNAL.findall(online + css) == [
        '<script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js',
        '<link rel="stylesheet" href="//cdn.example.org/leaflet.css',
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    assert path.name in EXPECT, f"{path.name} has no expectations in tests/test_notebooks.py"
    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(not cell.get("outputs") and cell.get("execution_count") is None for cell in code), (
        "outputs stripped in git (python notebooks/strip_outputs.py)"
    )
    assert any(re.search(r"^assert ", cell.source, re.MULTILINE) for cell in code), f"{path.name} asserts nothing"
    # The kernel imports this checkout's eicgeo, and has a temporary folder of its own to check.
    temp, cwd = tmp_path / "temp", tmp_path / "cwd"
    temp.mkdir()
    cwd.mkdir()
    pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": pythonpath, "TMPDIR": str(temp), "TEMP": str(temp), "TMP": str(temp)}
    nb.cells.insert(0, nbformat.v4.new_code_cell("import eicgeo\nprint('eicgeo from', eicgeo.__file__)"))
    NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute(env=env)
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert not errors
    assert nb.cells[0].outputs[0]["text"].strip() == f"eicgeo from {ROOT / 'eicgeo' / '__init__.py'}"
    text, maps, figures, external = _outputs_text(nb)
    assert "IProgress not found" not in text, "importing eicgeo in Jupyter without ipywidgets prints no tqdm warning"
    expect = EXPECT[path.name]
    missing = [s for s in expect.text if s not in text]
    assert not missing, f"{path.name} outputs lack {missing}"
    assert maps >= expect.maps, f"{path.name} shows {maps} inline map(s), expected {expect.maps}"
    assert not external, f"{path.name}: an inline map loads {external[0]!r} from the network"
    assert figures >= expect.figures, f"{path.name} shows {figures} figure(s), expected {expect.figures}"
    assert sorted(os.listdir(temp)) == [], f"{path.name} leaves files in the temporary folder"
    assert sorted(os.listdir(cwd)) == [], f"{path.name} leaves files in its working folder"
