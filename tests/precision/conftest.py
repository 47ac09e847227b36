"""Fixtures for the precision tests (helpers live in precision_helpers.py)."""

from __future__ import annotations

import onnx
import pytest
from precision_helpers import FIXTURES


@pytest.fixture(params=sorted(FIXTURES))
def fixture_model(request: pytest.FixtureRequest) -> onnx.ModelProto:
    return FIXTURES[request.param]()
