"""eicgeo: site Eco-Industrial Clusters on the urban-rural fringe.

Combine land cover, population, roads, raw-material sources and firms into suitability layers,
find the peri-urban fringe, cluster firms and link them by by-product exchange, and rank
candidate zones.

>>> import eicgeo
>>> result = eicgeo.run(eicgeo.load_sample(), progress=False)   # doctest: +SKIP
>>> result.summary()                                              # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

from eicgeo._errors import EicgeoError, EicgeoWarning, InputError, OutputFolderError, ScenarioError
from eicgeo.datasets import load_sample
from eicgeo.grid import Grid
from eicgeo.pipeline import Result, run
from eicgeo.scenario import Scenario, read_scenario
from eicgeo.tune import tune

__all__ = [
    "EicgeoError",
    "EicgeoWarning",
    "Grid",
    "InputError",
    "OutputFolderError",
    "Result",
    "Scenario",
    "ScenarioError",
    "__version__",
    "load_sample",
    "read_scenario",
    "run",
    "tune",
]
