"""Fixtures of the EUMETCast exchange tests: real FTP and ssh servers (as the integration
tests'), free ports, a stand-in xRITDecompress, and helpers to run server, client and mirror in
this process and to listen to what they publish."""

from __future__ import annotations

import getpass
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zmq
from servers import FTP_USER, PASSWORD, SSHD, FtpServer, SshServer, free_port

from sarra.eumetcast import messages
from sarra.eumetcast.messages import Message
from sarra.eumetcast.sockets import Publisher, context

HRIT = (
    "H-000-{series:_<6s}-{platform_name:_<5s}_______-{channel:_<9s}-{segment:_<9s}"
    "-{nominal_time:%Y%m%d%H%M}-{compressed:_<2s}"
)
TOPIC = "/1b/hrit-segment/0deg"

__all__ = ["FTP_USER", "PASSWORD", "free_port"]


def wait_for(condition: Callable[[], object], what: str, deadline: float = 15.0) -> None:
    """Wait (bounded) for a condition, polling."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def segment(number: int = 1, platform: str = "MSG4", compressed: str = "__") -> str:
    """A HRIT segment's name."""
    return (
        f"H-000-{platform:_<6s}-{platform:_<5s}_______-IR_108___-{number:06d}___"
        f"-202401011200-{compressed}"
    )


def write(path: Path, data: bytes) -> Path:
    """Write a file as a reception would: into a hidden name, then renamed into place."""
    hidden = path.with_name("." + path.name + ".part")
    hidden.write_bytes(data)
    hidden.rename(path)
    return path


def wait_subscribed(publisher: Publisher, topic: str, count: int = 1) -> None:
    """Wait until `count` subscribers listen to `topic` (no announcement lost to a slow join)."""
    wait_for(lambda: publisher.subscribers(topic) >= count, f"{count} subscribers to {topic}")


class Listener:
    """A SUB socket collecting the messages of a publisher, in a thread."""

    def __init__(self, port: int, topic: str = "") -> None:
        self.received: list[Message] = []
        self.topic = topic
        self._sock = context().socket(zmq.SUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.SUBSCRIBE, messages.prefix(topic) if topic else b"")
        self._sock.connect(f"tcp://127.0.0.1:{port}")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._sock.poll(50):
                self.received.append(messages.decode(self._sock.recv()))
        self._sock.close()

    def of_type(self, kind: str) -> list[Message]:
        return [m for m in self.received if m.type == kind]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


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
def ftp_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ftp_home").resolve()


@pytest.fixture(scope="session")
def ftp_server(ftp_home: Path) -> Iterator[FtpServer]:
    """pyftpdlib FTP on 127.0.0.1, FTP_USER / PASSWORD, home ftp_home."""
    server = FtpServer(ftp_home, FTP_USER, PASSWORD).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """OpenSSH's sshd on 127.0.0.1; `client_key` logs in as us."""
    if not SSHD.exists():
        pytest.skip(f"{SSHD} is absent (install openssh-server)")
    server = SshServer(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


@pytest.fixture
def ssh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sshd: SshServer) -> Path:
    """A fresh HOME whose known_hosts holds sshd's host key; no ssh agent."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "known_hosts").write_text(sshd.known_hosts_line + "\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


@pytest.fixture
def ssh_user() -> str:
    return getpass.getuser()


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sarra.eumetcast")
