"""The keep-alive GET connection of the http backend against a server scripted byte by byte:
the framings a real server may use, connections it drops, replies that are not HTTP, replies
that try to make it wait or hold too much, and redirects. (tests/integration/test_http_hostile.py
fuzzes the same with generated replies.)"""

from __future__ import annotations

import io
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from scripted_http import Endless, Part, Reply, ScriptedServer, Stall, Trickle, within

from sarra.config.credentials import Credentials
from sarra.transfer import PermanentError, TransientError, open_transfer
from sarra.transfer.http_wire import WireConnection, WireProtocolError, WireTimeout

TIMEOUT = 0.5
OK = b"HTTP/1.1 200 OK\r\n"
CHUNKED = b"Transfer-Encoding: chunked\r\n\r\n"


Script = Callable[[list[bytes | Reply | None]], ScriptedServer]


@pytest.fixture
def scripted() -> Iterator[Script]:
    made: list[ScriptedServer] = []

    def make(script: list[bytes | Reply | None]) -> ScriptedServer:
        server = ScriptedServer(script)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


def _body(connection: WireConnection, target: str = "/f", amount: int = 3) -> tuple[int, bytes]:
    response = connection.get(target, {"Accept-Encoding": "identity"})
    return response.status, b"".join(iter(lambda: response.read(amount), b""))


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
        (b"<html>an HTTP/0.9 reply: no head</html>", "not an HTTP reply"),
        (b"HTTP/1.1 \xb2\xb2\xb2 OK\r\nContent-Length: 0\r\n\r\n", "not an HTTP reply"),
        (b"HTTP/1.1 099 Early\r\nContent-Length: 4\r\n\r\nbody", "not an HTTP reply"),
        (b"HTTP/2 200 OK\r\nContent-Length: 4\r\n\r\nbody", "not an HTTP reply"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1_0\r\n\r\n0123456789", "bad Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: +4\r\n\r\nbody", "bad Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 4, 6\r\n\r\nbody", "bad Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length : 4\r\n\r\nbody", "bad header line"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello", "bad chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello", "bad chunk size"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloJUNK\r\n0\r\n\r\n",
            "not followed by CRLF",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\n\x1f\r\n0\r\n\r\n",
            "only chunked",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
            "only chunked",
        ),
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n\x00\x00", "no upgrade"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: trailer\r\n",
            "closed in the trailers",
        ),
    ],
)
def test_what_is_not_http_is_a_protocol_error(scripted: Script, reply: bytes, reason: str) -> None:
    server = scripted([reply, None])
    connection = WireConnection("127.0.0.1", server.port, timeout=5)
    with pytest.raises(WireProtocolError, match=reason):
        within(5, lambda: _body(connection))


@pytest.mark.parametrize(
    ("endless", "reason"),
    [
        ([Endless(b"HTTP/1.1 100 Continue\r\n\r\n")], "head is longer than 64 KiB"),
        ([OK + b"X-Long: ", Endless(b"a" * 65536)], "head is longer than 64 KiB"),  # a 1 GB line
        ([OK, Endless(b"X-Many: header\r\n")], "head is longer than 64 KiB"),  # 100,000 headers
        ([OK + b"X: y\r\n" * 101 + b"\r\n"], "more than 100 header lines"),
        ([OK + CHUNKED + b"0\r\n", Endless(b"X-Trailer: y\r\n")], "more than 100 trailer lines"),
        ([OK + CHUNKED + b"1;" + b"e" * 70000], "chunk size line is longer"),
    ],
)
def test_what_never_ends_is_refused_at_its_limit(
    scripted: Script, endless: list[Part], reason: str
) -> None:
    server = scripted([Reply(endless)])
    connection = WireConnection("127.0.0.1", server.port, timeout=5)
    started = time.monotonic()
    with pytest.raises(WireProtocolError, match=reason):
        within(5, lambda: _body(connection))
    assert time.monotonic() - started < 2  # at once, not at the timeout


@pytest.mark.parametrize(
    "reply",
    [
        [Trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody", 0.05)],
        [OK + b"Content-Length: 100000\r\n\r\n", Trickle(None, 0.05)],
        [OK + CHUNKED, Endless(b"1\r\nx\r\n"), Trickle(None, 0.05)],
        [OK + CHUNKED + b"1\r\nx\r\n", Trickle(b"1\r\nx\r\n" * 1000, 0.01)],
        [OK + b"Content-Length: 100\r\n\r\nhalf", Stall(30)],
    ],
    ids=["head", "body", "chunks", "chunks-slowly", "stalled"],
)
def test_a_server_that_trickles_fails_within_the_timeout(
    scripted: Script, reply: list[Part]
) -> None:
    server = scripted([Reply(reply)])
    connection = WireConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    started = time.monotonic()
    with pytest.raises(WireTimeout, match="timed out"):
        within(5, lambda: _body(connection, amount=1 << 20))
    assert TIMEOUT - 0.05 < time.monotonic() - started < TIMEOUT + 0.5


def test_bytes_after_a_body_are_never_taken_for_the_next_reply(scripted: Script) -> None:
    smuggled = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL"
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood"
    server = scripted([b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + smuggled, reply])
    connection = WireConnection("127.0.0.1", server.port, timeout=5)
    assert _body(connection) == (200, b"hello")
    assert _body(connection) == (200, b"good")
    assert connection.opened == 2


def test_a_body_left_unread_is_not_read_as_the_next_reply(scripted: Script) -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    server = scripted([reply + b"first", reply + b"again"])
    connection = WireConnection("127.0.0.1", server.port, timeout=5)
    unread = connection.get("/f", {})
    assert _body(connection) == (200, b"again")
    assert connection.opened == 2
    with pytest.raises(WireProtocolError, match="closed before the body was read"):
        unread.read(5)


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


# --- through the http backend


def _get(url: str, path: str = "/f", offset: int = 0, length: int | None = None) -> bytes:
    """The bytes the http backend gets of `path` (timeout TIMEOUT)."""
    with open_transfer(url, Credentials.parse(url, "c"), timeout=TIMEOUT) as remote:
        out = io.BytesIO()
        within(10, lambda: remote.get(path, out, offset, length))
    return out.getvalue()


def _partial(content_range: str, body: bytes) -> bytes:
    return (
        f"HTTP/1.1 206 Partial Content\r\nContent-Range: {content_range}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


@pytest.mark.parametrize(
    ("reply", "offset", "length", "reason"),
    [
        (_partial("bytes 0-3/100", b"abcd"), 0, None, "206 Partial Content, not the file"),
        (_partial("bytes 100-103/1000", b"abcd"), 100, None, "asked for bytes 100-, got"),
        (_partial("bytes 101-104/1000", b"abcd"), 100, 4, "asked for bytes 100-103, got"),
        (_partial("bytes 100-103/1000", b"ab"), 100, 4, "ended after 2 of 4 bytes"),
        (_partial("bytes 100-103/*", b"abcd"), 100, None, "asked for bytes 100-, got"),
        (_partial("bytes 100-1" + "0" * 30 + "/*", b"abcd"), 100, None, "asked for bytes 100-"),
        (b"HTTP/1.1 204 No Content\r\n\r\n", 0, None, "204 No Content, not the file"),
        (b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n", 0, None, "202 Accepted"),
    ],
)
def test_a_reply_without_the_bytes_asked_for_is_transient(
    scripted: Script, reply: bytes, offset: int, length: int | None, reason: str
) -> None:
    server = scripted([reply])
    with pytest.raises(TransientError, match=reason):
        _get(server.url(), offset=offset, length=length)


def test_an_error_page_cut_short_is_still_the_error(scripted: Script) -> None:
    server = scripted([b"HTTP/1.1 404 Not Found\r\nContent-Length: 100\r\n\r\nshort", None])
    with pytest.raises(PermanentError, match="404 Not Found"):
        _get(server.url())


def _moved(location: bytes) -> bytes:
    return b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\nContent-Length: 0\r\n\r\n"


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        (b"http://[::1/x", "redirected to a bad URL"),
        (b"http://127.0.0.1:99999/x", "redirected to a bad URL"),
        (b"ftp://127.0.0.1/x", "not an http URL"),
        (b"file:///etc/passwd", "not an http URL"),
        (b"http://exa mple.org/x", "bad host name"),
        (b"http://\xe9xample.org/x", "bad host name"),
    ],
)
def test_a_redirect_to_what_is_not_an_http_server_is_permanent(
    scripted: Script, location: bytes, reason: str
) -> None:
    server = scripted([_moved(location)])
    with pytest.raises(PermanentError, match=reason):
        _get(server.url())


def test_a_redirect_from_https_to_http_is_refused(
    tls_certificate: tuple[Path, Path], trust_test_certificate: Path
) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_certificate)
    with ScriptedServer(routes={"/data": Reply([OK + b"Content-Length: 4\r\n\r\nleak"])}) as plain:
        downgrade = _moved(plain.url("/data").encode())
        server = ScriptedServer([downgrade], tls=context)
        with server, pytest.raises(PermanentError, match="redirected from https to http://"):
            _get(server.url())
        assert plain.requests == []


def test_what_a_redirect_leaves_unencoded_is_encoded(scripted: Script) -> None:
    server = scripted([_moved(b"/a b\x01\xc3\xa9?q=1 2"), OK + b"Content-Length: 2\r\n\r\nok"])
    assert _get(server.url()) == b"ok"
    assert server.requests[1].startswith(b"GET /a%20b%01%C3%A9?q=1%202 HTTP/1.1\r\n")


def test_a_chain_of_redirects_is_done_within_one_timeout(scripted: Script) -> None:
    hops = {f"/r{n}": Reply([Stall(0.2), _moved(f"/r{n + 1}".encode())]) for n in range(5)}
    server = ScriptedServer(routes={**hops, "/r5": Reply([OK + b"Content-Length: 2\r\n\r\nok"])})
    with server:
        started = time.monotonic()
        with pytest.raises(TransientError, match=r"no complete reply within 0\.5 s"):
            _get(server.url(), "/r0")
    assert time.monotonic() - started < TIMEOUT + 0.3


def test_a_redirect_to_another_host_is_bounded_as_well(scripted: Script) -> None:
    trickle = Reply([OK + b"Content-Length: 1000\r\n\r\n", Trickle(None, 0.05)])
    with ScriptedServer(routes={"/trickle": trickle}) as other:
        server = scripted([_moved(other.url("/trickle", host="localhost").encode())])
        started = time.monotonic()
        with pytest.raises(TransientError, match="the body stalled"):
            _get(server.url())
    assert time.monotonic() - started < TIMEOUT + 0.5
    assert other.requests[0].startswith(b"GET /trickle HTTP/1.1\r\nHost: localhost:")


def test_an_endless_index_page_is_refused(scripted: Script) -> None:
    server = scripted([Reply([OK + b"Content-Type: text/html\r\n\r\n", Endless(b"<p>x" * 4096)])])
    with (
        open_transfer(server.url(), None, timeout=TIMEOUT) as remote,
        pytest.raises(TransientError, match="index page longer than 64 MiB"),
    ):
        within(20, lambda: remote.ls("/"))


def test_an_encoded_body_is_written_as_it_came_with_a_warning(
    scripted: Script, caplog: pytest.LogCaptureFixture
) -> None:
    reply = OK + b"Content-Encoding: gzip\r\nContent-Length: 4\r\n\r\n\x1f\x8b\x08\x00"
    server = scripted([reply, reply])
    with caplog.at_level(logging.WARNING, logger="sarra.transfer.http"):
        assert _get(server.url()) == b"\x1f\x8b\x08\x00"
        assert _get(server.url()) == b"\x1f\x8b\x08\x00"
    warned = [r.getMessage() for r in caplog.records if "Content-Encoding" in r.getMessage()]
    assert warned == [
        f"{server.url().rstrip('/')} sends Content-Encoding gzip though identity was asked for:"
        " bodies written as they come"
    ]
