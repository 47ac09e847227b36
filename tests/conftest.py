"""Shared fixtures for the top-level tests."""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result


@pytest.fixture
def cli_run() -> "CliCall":
    return CliCall()


class CliCall:
    """Invoke the real `trtdiff` group (with its error boundary) in-process."""

    def __call__(self, *args: str) -> Result:
        from trtdiff.cli import cli

        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=True)
