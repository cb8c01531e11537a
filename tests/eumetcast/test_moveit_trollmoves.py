"""Wire compatibility with pytroll's trollmoves itself, as processes: its move_it_server feeds
our client, and our move_it_server feeds its move_it_client. trollmoves runs from an environment
of its own (tests/peers.py), installed from the registry on first use."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from moveit_kit import (
    FILE_CLIENT_INI,
    PLAIN_SERVER_INI,
    TOPIC,
    free_port,
    ini,
    providers,
    segment,
    start_server,
    wait_for,
    write,
)
from peers import peer_env

from sarra.eumetcast.client import Client
from sarra.eumetcast.config import read_client

TROLLMOVES = ["trollmoves==0.19.0"]


@pytest.fixture(scope="module")
def theirs_bin() -> Path:
    """The directory of trollmoves' commands."""
    return peer_env("trollmoves", TROLLMOVES).bin


def spawn(*args: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(a) for a in args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)  # fmt: skip


def end(process: subprocess.Popen[bytes]) -> str:
    process.terminate()
    try:
        out, _ = process.communicate(timeout=3)  # its stop may hang (posttroll #86)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out.decode(errors="replace")


def announce_until_received(src: Path, arrived: Callable[[str], bool]) -> str:
    """Write segments until one arrives (the peer may join after the first announcements)."""
    for n in range(1, 40):
        name = segment(n)
        write(src / name, b"exchanged")
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            if arrived(name):
                return name
            time.sleep(0.02)
    raise AssertionError("nothing arrived")


def test_trollmoves_server_feeds_our_client(tmp_path, running, theirs_bin):
    src = tmp_path / "src"
    src.mkdir()
    port = free_port()
    path = ini(tmp_path, "s.ini", PLAIN_SERVER_INI, SRC=src, PORT=free_port(), STATION="theirs")
    theirs = spawn(theirs_bin / "move_it_server.py", "-p", port, "--disable-backlog", path)
    try:
        dst = tmp_path / "dst"
        client_ini = ini(tmp_path, "c.ini", FILE_CLIENT_INI, PROVIDERS=f"127.0.0.1:{port}",
                         DST=dst, TIMEOUT=5)  # fmt: skip
        client = running(Client(read_client(client_ini), tmp_path / "state"))
        memory = client.sections[0].memory
        name = announce_until_received(src, lambda name: name in memory)  # its reply came
        assert (dst / "MSG4" / name).read_bytes() == b"exchanged"
    finally:
        log = end(theirs)
    assert "Successfully copied" in log


def test_our_server_feeds_trollmoves_client(tmp_path, running, theirs_bin):
    server, src = start_server(tmp_path, running, PLAIN_SERVER_INI)
    dst = tmp_path / "dst"
    client_ini = tmp_path / "theirs.ini"
    client_ini.write_text(
        f"[theirs]\nproviders = {providers(server)}\ndestination = file://{dst}/\n"
        f"topic = {TOPIC}\npublish_port = {free_port()}\nnameservers = false\n"
    )
    theirs = spawn(theirs_bin / "move_it_client.py", client_ini)
    try:
        wait_for(lambda: server.publisher.subscribers(TOPIC) >= 1, "trollmoves' client joined")
        name = announce_until_received(src, lambda name: (dst / name).exists())
        assert (dst / name).read_bytes() == b"exchanged"
    finally:
        end(theirs)
