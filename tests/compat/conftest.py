"""Fixtures of the compat tests: the real Sarracenia v2 beside ours (see v2peer)."""

from __future__ import annotations

from pathlib import Path

import pytest
from peers import PeerEnv
from v2peer import package_dir, v2_env


@pytest.fixture(scope="session")
def v2() -> PeerEnv:
    """The environment holding v2 2.24.8."""
    return v2_env()


@pytest.fixture(scope="session")
def v2_package(v2: PeerEnv) -> Path:
    """v2's package directory: its plugins/ and examples/."""
    return package_dir(v2)
