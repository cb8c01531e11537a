"""Fixtures of the EUMETCast exchange tests: real FTP and ssh servers (as the integration
tests'), free ports, a stand-in xRITDecompress, and helpers to run server, client and mirror in
this process and to listen to what they publish."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from moveit_kit import Listener, wait_subscribed

from sarra.eumetcast.sockets import Publisher


@pytest.fixture
def listen() -> Iterator[Callable[..., Listener]]:
    made: list[Listener] = []

    def make(publisher: Publisher, topic: str = "") -> Listener:
        listener = Listener(publisher.port, topic)
        made.append(listener)
        wait_subscribed(publisher, topic or "/")
        return listener

    yield make
    for listener in made:
        listener.close()


@pytest.fixture
def running() -> Iterator[Callable[[object], object]]:
    """Start a Server, Client or Mirror; stopped at the end of the test."""
    started: list[object] = []

    def start(thing: object) -> object:
        started.append(thing.start())  # type: ignore[attr-defined]
        return thing

    yield start
    for thing in reversed(started):
        thing.stop()  # type: ignore[attr-defined]


@pytest.fixture
def xrit_decompress(tmp_path: Path) -> Path:
    """A stand-in xRITDecompress: writes NAME-__ beside it (in its cwd), upper-cased."""
    script = tmp_path / "xRITDecompress"
    script.write_text(
        '#!/bin/sh\nname=$(basename "$1")\nout="${name%C_}__"\n'
        'tr a-z A-Z < "$1" > ".$out" && mv ".$out" "$out"\n'
    )
    script.chmod(0o755)
    return script


@pytest.fixture(scope="session")
def ftp_home(served_root: Path) -> Path:
    """The FTP server's home (the directory every test server serves)."""
    return served_root


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sarra.eumetcast")
