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
