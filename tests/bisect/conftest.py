"""Fixtures for the bisect tests (helpers live in bisect_helpers.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from bisect_helpers import FIXTURES  # noqa: E402


@pytest.fixture(scope="session")
def expected() -> dict:
    return json.loads((FIXTURES / "expected.json").read_text())


@pytest.fixture(scope="session")
def fixture_feeds() -> dict[str, np.ndarray]:
    with np.load(FIXTURES / "inputs.npz") as data:
        return {k: data[k] for k in data.files}
