"""Helpers of the EUMETCast exchange tests: names, configs, waiting, listening."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import zmq
from servers import FTP_USER, PASSWORD, free_port

from sarra.eumetcast import messages
from sarra.eumetcast.client import Client
from sarra.eumetcast.config import read_client, read_server
from sarra.eumetcast.messages import Message
from sarra.eumetcast.server import Server
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


PLAIN_SERVER_INI = """\
[@STATION@]
origin = @SRC@/@HRIT@
request_port = @PORT@
request_address = 127.0.0.1
topic = /1b/hrit-segment/0deg
station = @STATION@
"""

FILE_CLIENT_INI = """\
[plain]
providers = @PROVIDERS@
destination = file://@DST@/{platform_name}/
topic = /1b/hrit-segment/0deg
transfer_req_timeout = @TIMEOUT@
platform_name = MSG1:Meteosat-8|MSG2:Meteosat-9
"""


def ini(tmp_path: Path, name: str, text: str, **values: object) -> Path:
    """Write a config with its @KEY@ placeholders filled."""
    for key, value in {"HRIT": HRIT, **values}.items():
        text = text.replace(f"@{key}@", str(value))
    path = tmp_path / name
    path.write_text(text)
    return path


def start_server(tmp_path: Path, running, text: str, name: str = "server.ini", **values: object):
    src = tmp_path / name.replace(".ini", "_src")
    src.mkdir()
    values = {"SRC": src, "PORT": free_port(), "STATION": name, "DELAY": 30, **values}
    server = running(Server(read_server(ini(tmp_path, name, text, **values)), 0, backlog=False))
    return server, src


def providers(*servers: Server) -> str:
    return " ".join(f"127.0.0.1:{s.publisher.port}" for s in servers)


def wait_subscribed_all(server: Server, topic: str, count: int) -> None:
    wait_for(lambda: server.publisher.subscribers(topic) >= count, f"{count} subscribers")


def file_client(
    tmp_path: Path, running, *servers: Server, timeout: float = 10, name="c.ini", joined=1
):
    dst = tmp_path / "dst"
    path = ini(tmp_path, name, FILE_CLIENT_INI, PROVIDERS=providers(*servers), DST=dst,
               TIMEOUT=timeout)  # fmt: skip
    client = running(Client(read_client(path), tmp_path / "state"))
    for server in servers:
        wait_subscribed_all(server, TOPIC, joined)
    return client, dst


def count(caplog, text: str) -> int:
    return sum(text in record.getMessage() for record in caplog.records)
