"""The keep-alive GET connection of the http backend against a server scripted byte by byte:
the framings a real server may use, connections it drops, replies that are not HTTP,
and redirects."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from sarra.config.credentials import Credentials
from sarra.transfer import open_transfer
from sarra.transfer.http_wire import WireConnection, WireProtocolError


class Scripted:
    """A server on a spare port that answers the n-th request with replies[n] (raw bytes), then
    closes the connection when the reply is followed by None in the script."""

    def __init__(self, script: list[bytes | None]) -> None:
        self.script = list(script)
        self.requests: list[bytes] = []
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while self.script:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        pending = b""
        while self.script:
            while b"\r\n\r\n" not in pending:
                data = conn.recv(65536)
                if not data:
                    return
                pending += data
            request, _, pending = pending.partition(b"\r\n\r\n")
            self.requests.append(request)
            conn.sendall(self.script.pop(0) or b"")
            if self.script and self.script[0] is None:
                self.script.pop(0)
                return

    def close(self) -> None:
        self._listener.close()


Script = Callable[[list[bytes | None]], Scripted]


@pytest.fixture
def scripted() -> Iterator[Callable[[list[bytes | None]], Scripted]]:
    made: list[Scripted] = []

    def make(script: list[bytes | None]) -> Scripted:
        server = Scripted(script)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


def _body(connection: WireConnection, target: str = "/f") -> tuple[int, bytes]:
    response = connection.get(target, {"Accept-Encoding": "identity"})
    return response.status, b"".join(iter(lambda: response.read(3), b""))


def test_content_length_bodies_share_one_connection(scripted: Script) -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    server = scripted([reply, reply])
    connection = WireConnection("127.0.0.1", server.port, timeout=5)
    assert _body(connection) == (200, b"hello")
    assert _body(connection, "/g%20h") == (200, b"hello")
    assert server.connections == 1
    assert server.requests[1].startswith(b"GET /g%20h HTTP/1.1\r\nHost: 127.0.0.1:")
    connection.close()


def test_chunked_body_with_extensions_and_trailers(scripted: Script) -> None:
    reply = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4;ext=1\r\nwiki\r\n6\r\npedia \r\n0\r\nTrailer: x\r\n\r\n"
    )
    server = scripted([reply, b"HTTP/1.1 204 No Content\r\n\r\n"])
    connection = WireConnection("127.0.0.1", server.port, timeout=5)
    assert _body(connection) == (200, b"wikipedia ")
    assert _body(connection) == (204, b"")
    assert server.connections == 1


def test_body_to_the_end_of_the_connection(scripted: Script) -> None:
    server = scripted([b"HTTP/1.0 200 OK\r\n\r\nall of it", None, b"HTTP/1.0 200 OK\r\n\r\nagain"])
    connection = WireConnection("127.0.0.1", server.port, timeout=5)
    assert _body(connection) == (200, b"all of it")
    assert _body(connection) == (200, b"again")
    assert server.connections == 2


def test_a_kept_connection_the_server_dropped_is_replaced(scripted: Script) -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    server = scripted([reply, None, reply])
    connection = WireConnection("127.0.0.1", server.port, timeout=5)
    assert _body(connection) == (200, b"ok")
    assert _body(connection) == (200, b"ok")  # the first connection was closed by the server
    assert server.connections == 2


def test_connection_close_header_ends_the_connection(scripted: Script) -> None:
    reply = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"
    server = scripted([reply, None, reply])
    connection = WireConnection("127.0.0.1", server.port, timeout=5)
    assert _body(connection) == (200, b"x")
    assert _body(connection) == (200, b"x")
    assert connection.opened == 2


def test_headers_are_found_whatever_their_case_and_continue_is_skipped(
    scripted: Script,
) -> None:
    reply = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 301 Moved Permanently\r\nLOCATION: /there\r\nX-A: 1\r\nx-a: 2\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    server = scripted([reply])
    response = WireConnection("127.0.0.1", server.port, timeout=5).get("/here", {})
    assert (response.status, response.reason) == (301, "Moved Permanently")
    assert response.headers.get("Location") == "/there"
    assert response.headers.get("X-A") == "1, 2"
    assert response.headers.get("missing", "default") == "default"


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP reply"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", "bad Content-Length"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "bad header line"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "bytes of the body unread"),
        (b"", "closed the connection without a reply"),
    ],
)
def test_what_is_not_http_is_a_protocol_error(scripted: Script, reply: bytes, reason: str) -> None:
    server = scripted([reply, None])
    connection = WireConnection("127.0.0.1", server.port, timeout=5)
    with pytest.raises(WireProtocolError, match=reason):
        _body(connection)


def test_a_silent_server_times_out() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    with listener:
        connection = WireConnection("127.0.0.1", listener.getsockname()[1], timeout=0.3)
        with pytest.raises(TimeoutError):
            connection.get("/f", {})
        connection.close()


def test_redirects_keep_credentials_on_the_server_and_drop_them_elsewhere(
    scripted: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    elsewhere = scripted([b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndata"])
    moved = f"http://localhost:{elsewhere.port}/final".encode()
    server = scripted(
        [
            b"HTTP/1.1 302 Found\r\nLocation: /second\r\nContent-Length: 3\r\n\r\nbye",
            b"HTTP/1.1 301 Moved\r\nLocation: " + moved + b"\r\nContent-Length: 0\r\n\r\n",
        ]
    )
    url = f"http://someone:secret@127.0.0.1:{server.port}/"
    with open_transfer(url, Credentials.parse(url, "c")) as remote:
        out = io.BytesIO()
        assert remote.get("/first", out) == 4
    assert out.getvalue() == b"data"
    assert [r.split(b" ")[1] for r in server.requests] == [b"/first", b"/second"]
    assert all(b"Authorization: Basic " in r for r in server.requests)
    assert server.connections == 1  # the redirect's body was read: the connection was kept
    assert b"/final" in elsewhere.requests[0]
    assert b"Authorization" not in elsewhere.requests[0]
