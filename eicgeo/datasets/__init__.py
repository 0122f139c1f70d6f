"""Sample data: the synthetic peri-urban demo region, and a few small real files.

:func:`load_sample` returns the scenario of a sample region. It looks in the source checkout's
``sample_data/`` folder, then in ``$EICGEO_DATA``, and otherwise regenerates the region (seeded,
so identical) into the user cache folder. :func:`example_path` gives the small crops of real
public data shipped in the package (their licences are in ``eicgeo/datasets/real/README.md``).
"""

from __future__ import annotations

import os
from pathlib import Path

from eicgeo._errors import InputError
from eicgeo.scenario import Scenario, read_scenario

__all__ = ["EXAMPLES", "SAMPLES", "example_path", "load_sample", "sample_path"]

#: Sample regions by name.
SAMPLES: dict[str, str] = {"peri_urban_demo": "S"}
#: Real example files shipped in ``eicgeo/datasets/real`` (CORINE around Lausanne, an OSM PBF of Kotka).
EXAMPLES: tuple[str, ...] = ("kotka-karhula.osm.pbf", "lausanne-boundary.gpkg", "lausanne-clc2006-100m.tif")


def sample_path(name: str = "peri_urban_demo") -> Path:
    """Folder of a sample region, generating it into the cache if no copy exists."""
    if name not in SAMPLES:
        msg = f"unknown sample {name!r}; expected one of {', '.join(SAMPLES)}"
        raise InputError(msg)
    candidates = [Path(__file__).resolve().parents[2] / "sample_data" / name]
    if os.environ.get("EICGEO_DATA"):
        candidates.insert(0, Path(os.environ["EICGEO_DATA"]) / name)
    for folder in candidates:
        if (folder / "scenario.toml").is_file():
            return folder
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "eicgeo" / name
    if not (cache / "scenario.toml").is_file():
        from eicgeo.datasets.synth import generate

        generate(cache, size=SAMPLES[name])
    return cache


def load_sample(name: str = "peri_urban_demo") -> Scenario:
    """The scenario of a sample region, ready for :func:`eicgeo.run`.

    Examples
    --------
    >>> scenario = load_sample()
    >>> scenario.inputs.legend
    'esa_worldcover'
    """
    return read_scenario(sample_path(name) / "scenario.toml")


def example_path(name: str | None = None) -> Path:
    """The folder of the real example files, or the path of one of them (a name in :data:`EXAMPLES`).

    Examples
    --------
    >>> example_path("lausanne-clc2006-100m.tif").is_file()
    True
    >>> (example_path() / "README.md").is_file()  # what each file is, and its licence
    True
    """
    folder = Path(__file__).resolve().parent / "real"
    if name is None:
        return folder
    if name not in EXAMPLES:
        msg = f"unknown example file {name!r}; expected one of {', '.join(EXAMPLES)}"
        raise InputError(msg)
    return folder / name
