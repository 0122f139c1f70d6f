"""The offline map.html in a real browser: headless Chromium with every host name unresolvable.

A probe script is put into a copy of the page: it records JavaScript errors and failed resource
loads from the first moment, and after the page has loaded writes what it sees (zone polygons,
firm markers, raster overlays, controls, every resource the page asked for) into the DOM, which
``chromium --dump-dom`` prints. A screenshot of the page is kept under ``out/test-artifacts/``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from eicgeo import maps

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "out" / "test-artifacts"
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium; .ci/run installs it)"
)

_BEFORE = """<script>
window.__eicgeo = {errors: [], failed: []};
window.addEventListener('error', function (e) {
  var t = e.target;
  if (t && t !== window && (t.src || t.href)) { window.__eicgeo.failed.push(t.src || t.href); }
  else { window.__eicgeo.errors.push(String(e.message) + ' (line ' + e.lineno + ')'); }
}, true);
window.addEventListener('unhandledrejection', function (e) { window.__eicgeo.errors.push('rejection: ' + e.reason); });
(function () {
  var original = console.error;
  console.error = function () {
    window.__eicgeo.errors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
    original.apply(console, arguments);
  };
})();
</script>"""

_AFTER = """<script>
window.addEventListener('load', function () {
  setTimeout(function () {
    function drawn(selector) {
      return Array.prototype.filter.call(document.querySelectorAll(selector), function (p) {
        var box = p.getBBox();
        return (p.getAttribute('d') || '').length > 3 && box.width > 0 && box.height > 0;
      }).length;
    }
    var images = document.querySelectorAll('img.leaflet-image-layer');
    var probe = document.createElement('pre');
    probe.id = 'eicgeo-probe';
    probe.textContent = JSON.stringify({
      errors: window.__eicgeo.errors,
      failed: window.__eicgeo.failed,
      resources: performance.getEntriesByType('resource').map(function (r) { return r.name; }),
      zones: drawn('path.eicgeo-zone'),
      firms: drawn('path.eicgeo-firm'),
      ranks: document.querySelectorAll('.eicgeo-rank').length,
      overlays_loaded: Array.prototype.filter.call(images, function (i) {
        return i.complete && i.naturalWidth > 0;
      }).length,
      tiles: document.querySelectorAll('img.leaflet-tile').length,
      layers: Array.prototype.map.call(
        document.querySelectorAll('.leaflet-control-layers-overlays label'),
        function (l) { return l.textContent.trim(); }),
      fullscreen: !!document.querySelector('.leaflet-control-zoom-fullscreen'),
      measure: !!document.querySelector('.leaflet-control-measure'),
      colorbar: !!document.querySelector('.legend svg, svg .legend, #legend'),
      title: (document.querySelector('.eicgeo-title') || {}).textContent || ''
    });
    document.body.appendChild(probe);
  }, 1000);
});
</script>"""


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # no host name resolves: the page must not need one
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
        "--virtual-time-budget=15000",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def page(sample_result, tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    path = folder / "map.html"
    maps.explore(sample_result, offline=True).save(str(path))
    return path


def test_offline_map_renders_without_network_or_errors(page, sample_result, tmp_path):
    html = page.read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(html.replace("<head>", "<head>" + _BEFORE, 1).replace("</html>", _AFTER + "</html>"))
    run = _chromium("--dump-dom", probed.as_uri(), profile=tmp_path / "profile")
    match = re.search(r'<pre id="eicgeo-probe">(.*?)</pre>', run.stdout, flags=re.S)
    assert match, f"the probe did not report (exit {run.returncode}): {run.stderr[-2000:]}"
    seen = json.loads(
        match.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    )
    assert seen["errors"] == [], "JavaScript errors"
    assert seen["failed"] == [], "resources that failed to load"
    outside = [r for r in seen["resources"] if not r.startswith(("data:", "file:", "blob:"))]
    assert outside == [], "the offline page asked the network for something"
    assert seen["zones"] == seen["ranks"] == len(sample_result.zones) >= 5
    assert seen["firms"] == len(sample_result.firms) == 238
    assert seen["overlays_loaded"] == 1, "the suitability overlay shows (excluded land is off at start)"
    assert seen["tiles"] == 0, "no base map offline"
    assert seen["layers"][:2] == ["Suitability (0–1)", "Fringe (urban / peri-urban)"] and len(seen["layers"]) == 9
    assert seen["fullscreen"] and seen["measure"] and seen["colorbar"]
    assert f"{len(sample_result.zones)} candidate Eco-Industrial Cluster zones" in seen["title"]


def test_screenshot_shows_the_data_layers(page, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "map-offline.png"
    shot.unlink(missing_ok=True)
    run = _chromium(f"--screenshot={shot}", page.as_uri(), profile=tmp_path / "profile")
    assert shot.is_file(), f"no screenshot (exit {run.returncode}): {run.stderr[-2000:]}"
    print(f"screenshot of the offline map: {shot}")
    rgb = (matplotlib.image.imread(shot)[..., :3] * 255).round().astype(int)
    assert rgb.shape[:2] == (1000, 1400)
    # Without tiles the background is Leaflet's grey (#ddd); the suitability overlay (viridis,
    # purple to yellow) and the zones (rank fills from red to yellow) must cover much of the view.
    background = np.all(rgb == 221, axis=-1).mean()
    assert background < 0.6
    coloured = (rgb.max(axis=-1) - rgb.min(axis=-1) > 30).mean()
    assert coloured > 0.2, "the suitability overlay is visible"
    red = ((rgb[..., 0] > 180) & (rgb[..., 1] < 90) & (rgb[..., 2] < 90)).mean()
    assert red > 0.001, "zone outlines and rank labels are visible"
