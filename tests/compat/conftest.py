"""Fixtures of the compat tests: the real Sarracenia v2 and sr3 beside ours (see v2peer and
sr3peer), and an HTTP server for their flows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from integration.pumpkit import declare
from peers import PeerEnv, peer_env
from servers import HttpServer
from sr3peer import BROKER, SR3, SR3_SFTP
from v2peer import package_dir, v2_env

from sarra.config.loader import load


@pytest.fixture(scope="session")
def v2() -> PeerEnv:
    """The environment holding v2 2.24.8."""
    return v2_env()


@pytest.fixture(scope="session")
def v2_package(v2: PeerEnv) -> Path:
    """v2's package directory: its plugins/ and examples/."""
    return package_dir(v2)


@pytest.fixture(scope="session")
def sr3() -> PeerEnv:
    """The environment holding sr3 (metpx-sr3 3.3.1)."""
    return peer_env("sr3", SR3)


@pytest.fixture(scope="session")
def sr3_sftp() -> PeerEnv:
    """The environment holding sr3 and paramiko, for its SFTP transfers."""
    return peer_env("sr3", SR3_SFTP)


@pytest.fixture(scope="session")
def sr3_package(sr3: PeerEnv) -> Path:
    """sr3's package directory (sarracenia): its flowcb/ and examples/, read, never imported."""
    found = sorted(sr3.root.glob("lib/python*/site-packages/sarracenia"))
    assert found, f"no sarracenia package in {sr3.root}"
    return found[0]


@pytest.fixture(scope="module")
def http_server(served_root: Path) -> Iterator[HttpServer]:
    """An HTTP server (with Range) of the files below served_root."""
    server = HttpServer(served_root).start()
    yield server
    server.stop()


@pytest.fixture
def broker_credentials(sarra_home: Path) -> None:
    """Our credentials.conf, holding the local broker's guest password (the peers' own homes
    get theirs from Sr3Home / run_v2)."""
    path = sarra_home / "credentials.conf"
    path.write_text(f"{BROKER}\n")
    path.chmod(0o600)


@pytest.fixture
def exchange(request: pytest.FixtureRequest) -> str:
    """A new exchange on the local broker, named after the test module."""
    module = request.module.__name__.rpartition(".")[2].removeprefix("test_")
    name = f"x{module}_{uuid.uuid4().hex[:8]}"
    declare(load("subscribe", None, name="declarer"), name)
    return name
