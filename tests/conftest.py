"""Shared fixtures: paths to the small real files in tests/data and the committed sample."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
SAMPLE = ROOT / "sample_data" / "peri_urban_demo"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def sample_result(tmp_path_factory):
    """The sample region run once per test session.

    Under pytest-xdist the workers share one run through a pickle in the session's temporary
    folder (the run takes about half a minute).
    """
    import os
    import pickle

    import eicgeo

    if "PYTEST_XDIST_WORKER" not in os.environ:
        return eicgeo.run(eicgeo.load_sample(), progress=False)
    import fcntl

    shared = tmp_path_factory.getbasetemp().parent
    cache = shared / "sample_result.pkl"
    with open(shared / "sample_result.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if cache.exists():
            return pickle.loads(cache.read_bytes())
        result = eicgeo.run(eicgeo.load_sample(), progress=False)
        cache.write_bytes(pickle.dumps(result))
    return result
