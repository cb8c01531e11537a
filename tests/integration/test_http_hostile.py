"""The http backend fuzzed against a hostile server of the tests' own (scripted_http) answering
generated replies: broken framing, huge or endless heads, bodies shorter or longer than
announced, stalls and trickles, redirect loops and redirects elsewhere, bad status lines,
HTTP/0.9, 1xx replies, wrong Content-Ranges, bad Content-Lengths, encodings not asked for.

Each hostile reply must end in a TransientError or PermanentError (one line) within the
transfer timeout, and the next request (on a reused or a new connection) must work; valid
generated replies must give their body, byte for byte; memory stays bounded whatever comes;
and a download through the Downloader that fails mid-body leaves no file under its final name.

The examples are derived from a fixed seed (the suite is deterministic); more with
SARRA_FUZZ_EXAMPLES=<n>.
"""

from __future__ import annotations

import contextlib
import gc
import io
import itertools
import os
import random
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from scripted_http import Endless, Part, Reply, ScriptedServer, Stall, Trickle, within

from sarra.config.credentials import Credentials
from sarra.config.loader import load
from sarra.flow.download import Downloader
from sarra.flow.placement import Placement
from sarra.message.notice import Notice, epoch_to_time
from sarra.transfer import PermanentError, TransferError, TransientError, open_transfer

TIMEOUT = 0.3
SLACK = 0.5  # what a loaded 2-core machine may add to the timeout
MORE = int(os.environ.get("SARRA_FUZZ_EXAMPLES", "0"))
OK = b"HTTP/1.1 200 OK\r\n"
GOOD_BODY = b"the next request works"
GOOD = Reply([OK + b"Content-Length: %d\r\n\r\n" % len(GOOD_BODY) + GOOD_BODY])


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=MORE or examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def data(seed: int, size: int) -> bytes:
    """`size` pseudo-random bytes (quicker than drawing them)."""
    return random.Random(seed).randbytes(size)


# --- valid replies


@dataclass
class Valid:
    """A valid reply, the body it carries, whether it keeps the connection, and the range
    asked for (offset, length) when it answers one."""

    reply: Reply
    body: bytes
    keeps: bool
    offset: int = 0
    length: int | None = None


def cut(draw: st.DrawFn, whole: bytes) -> list[Part]:
    """`whole` in pieces, sent apart."""
    points = sorted(draw(st.sets(st.integers(1, max(1, len(whole) - 1)), max_size=4)))
    edges = [0, *points, len(whole)]
    return [whole[a:b] for a, b in itertools.pairwise(edges) if b > a]


def chunked(draw: st.DrawFn, body: bytes, eol: bytes) -> bytes:
    """`body` in chunks of random sizes, sizes in random case and padding, with extensions and
    trailers sometimes."""
    points = draw(st.sets(st.integers(1, max(1, len(body) - 1)), max_size=6))
    edges = [0, *sorted(p for p in points if p < len(body)), len(body)] if body else [0]
    out = []
    for a, b in itertools.pairwise(edges):
        size = f"{b - a:0{draw(st.integers(1, 6))}x}"
        size = size.upper() if draw(st.booleans()) else size
        ext = draw(st.sampled_from(["", ";a=b", ' ; name="q"', ";x"]))
        out.append(f"{size}{ext}".encode() + eol + body[a:b] + eol)
    trailers = draw(
        st.sampled_from([b"", b"Expires: never" + eol, b"X-A: 1" + eol + b"X-B: 2" + eol])
    )
    return b"".join(out) + b"0" + eol + trailers + eol


@st.composite
def valid_replies(draw: st.DrawFn) -> Valid:
    size = draw(st.one_of(st.integers(0, 300), st.integers(0, 300_000)))
    body = data(draw(st.integers(0, 1 << 30)), size)
    framing = draw(st.sampled_from(["length", "chunked", "close"]))
    version = draw(st.sampled_from([b"1.1", b"1.1", b"1.0"]))
    eol = draw(st.sampled_from([b"\r\n", b"\r\n", b"\n"]))
    close = framing == "close" or (draw(st.booleans()) and draw(st.booleans()))
    status = b"200 OK"
    offset, length = 0, None
    headers = [b"Content-Type: application/octet-stream", b"Date: Thu, 01 Jan 2026 00:00:00 GMT"]
    if body and draw(st.booleans()):  # a range, answered as it should be
        offset = draw(st.integers(0, len(body) - 1))
        length = draw(st.one_of(st.none(), st.integers(1, len(body) - offset)))
        if offset == 0 and length is None:  # a range still, or a 206 is not what is asked for
            length = len(body)
        end = len(body) if length is None else offset + length
        headers.append(b"Content-Range: bytes %d-%d/%d" % (offset, end - 1, len(body)))
        status = b"206 Partial Content"
        body = body[offset:end]
    if framing == "length":
        name = draw(st.sampled_from([b"Content-Length", b"content-length", b"CONTENT-LENGTH"]))
        headers.append(name + b": %d" % len(body))
    elif framing == "chunked":
        headers.append(b"Transfer-Encoding: chunked")
    if close:
        headers.append(b"Connection: close")
    elif version == b"1.0":
        headers.append(b"Connection: keep-alive")
    if draw(st.booleans()):
        headers.append(b"X-Folded: first" + eol + b"\tsecond")
    draw(st.randoms()).shuffle(headers)
    interim = draw(st.lists(st.sampled_from([b"100 Continue", b"103 Early Hints"]), max_size=2))
    head = b"".join(b"HTTP/1.1 " + i + eol + eol for i in interim)
    head += b"HTTP/" + version + b" " + status + eol + b"".join(h + eol for h in headers) + eol
    payload = chunked(draw, body, eol) if framing == "chunked" else body
    parts = cut(draw, head + payload)
    pause = draw(st.sampled_from([0.0, 0.0, 0.002]))
    reply = Reply(parts, close=close, pause=pause)
    return Valid(reply, body, keeps=not close, offset=offset, length=length)


@fuzz(60)
@given(
    replies=st.lists(valid_replies(), min_size=1, max_size=4),
    bufsize=st.sampled_from([100, 4096, 65536, 1 << 20]),
)
def test_valid_replies_give_their_body(replies: list[Valid], bufsize: int) -> None:
    routes = {f"/v{n}": valid.reply for n, valid in enumerate(replies)}
    with ScriptedServer(routes=routes) as server:
        url = server.url()
        with open_transfer(url, Credentials(), timeout=5, bufsize=bufsize) as remote:
            for n, valid in enumerate(replies):
                out = io.BytesIO()
                path, offset, length = f"/v{n}", valid.offset, valid.length
                got = within(10, lambda: remote.get(path, out, offset, length))  # noqa: B023
                assert (got, out.getvalue()) == (len(valid.body), valid.body)
        reopened = sum(not valid.keeps for valid in replies[:-1])
        assert server.connections == 1 + reopened


# --- hostile replies


@dataclass
class Hostile:
    """Replies by path (the request is for /h), and what must come of them: 'fail' (a
    TransferError, of `kind` if given), 'either' (an error or some bytes), or the bytes."""

    family: str
    routes: dict[str, Reply]
    expect: str | bytes = "fail"
    kind: type[TransferError] = TransferError
    offset: int = 0
    length: int | None = None
    slow: bool = False  # it fails by the timeout
    extra: dict[str, object] = field(default_factory=dict)


def head(*lines: bytes) -> bytes:
    return b"".join(line + b"\r\n" for line in lines) + b"\r\n"


def junk(draw: st.DrawFn, avoid: bytes = b"") -> bytes:
    """Some bytes holding at least one not in `avoid`, and no LF."""
    alphabet = st.integers(0, 255).filter(lambda b: b != 10)
    raw = bytes(draw(st.lists(alphabet, min_size=1, max_size=12)))
    if avoid and all(b in avoid for b in raw):
        raw += b"!"
    return raw


HEX = b"0123456789abcdefABCDEF"


@st.composite
def broken_chunks(draw: st.DrawFn) -> Hostile:
    good = b"".join(
        b"%x\r\n" % n + b"c" * n + b"\r\n" for n in draw(st.lists(st.integers(1, 40), max_size=2))
    )
    start = OK + b"Transfer-Encoding: chunked\r\n\r\n" + good
    case = draw(
        st.sampled_from(["size", "crlf", "short", "stall", "trickle", "trailers", "ext", "long"])
    )
    if case == "size":  # a bad one, or junk (which may happen to be good: '5;x')
        bad = draw(st.booleans())
        size = draw(st.sampled_from([b"-5", b"0x5", b"+5", b"1_0", b"", b" ", b"5 5", b" 5"]))
        size = size if bad else junk(draw, HEX)
        reply = Reply([start + size + b"\r\nhello\r\n0\r\n\r\n"], close=True)
        return Hostile(case, {"/h": reply}, expect="fail" if bad else "either")
    if case == "crlf":
        after = junk(draw, b"\r")
        return Hostile(
            case, {"/h": Reply([start + b"5\r\nhello" + after + b"\r\n0\r\n\r\n"], close=True)}
        )
    if case == "short":
        return Hostile(case, {"/h": Reply([start + b"ffffff\r\nonly this"], close=True)})
    if case == "stall":
        return Hostile(case, {"/h": Reply([start + b"ff\r\nsome", Stall(30)])}, slow=True)
    if case == "trickle":
        return Hostile(
            case, {"/h": Reply([start, Trickle(b"1\r\nx\r\n" * 10_000, 0.01)])}, slow=True
        )
    if case == "trailers":
        trailer = draw(st.sampled_from([b"X-T: y\r\n", b"no colon\r\n", b"\r"]))
        return Hostile(case, {"/h": Reply([start + b"0\r\n", Endless(trailer * 64)])})
    if case == "ext":
        return Hostile(case, {"/h": Reply([start + b"5;", Endless(b"e" * 65536)])})
    return Hostile(
        case, {"/h": Reply([start + b"f" * draw(st.integers(17, 40)) + b"\r\n"], close=True)}
    )


@st.composite
def huge_heads(draw: st.DrawFn) -> Hostile:
    case = draw(st.sampled_from(["line", "headers", "sized", "interim"]))
    if case == "line":  # a header line without end (1 GB, as far as the client is concerned)
        return Hostile(case, {"/h": Reply([OK + b"X-Long: ", Endless(b"a" * 65536)])})
    if case == "headers":  # 100,000 headers and more
        line = draw(st.sampled_from([b"X-Many: header\r\n", b"A:\r\n", b"X-Folded: a\r\n\tb\r\n"]))
        return Hostile(case, {"/h": Reply([OK, Endless(line * 256)])})
    if case == "sized":
        size = draw(st.integers(65_536, 1 << 20))
        reply = OK + b"X-Big: " + b"b" * size + b"\r\nContent-Length: 0\r\n\r\n"
        return Hostile(case, {"/h": Reply([reply], close=True)})
    return Hostile(case, {"/h": Reply([Endless(b"HTTP/1.1 100 Continue\r\n\r\n" * 64)])})


@st.composite
def slow_servers(draw: st.DrawFn) -> Hostile:
    every = draw(st.sampled_from([0.02, 0.05, 0.1]))
    case = draw(st.sampled_from(["head", "body", "silent", "mid-head", "mid-body"]))
    if case == "head":
        reply = [
            Trickle(head(b"HTTP/1.1 200 OK", b"X-Slow: " + b"s" * 40, b"Content-Length: 0"), every)
        ]
    elif case == "body":
        reply = [OK + b"Content-Length: 1000000\r\n\r\n", Trickle(None, every)]
    elif case == "silent":
        reply = [Stall(30)]
    elif case == "mid-head":
        reply = [b"HTTP/1.1 200 OK\r\nContent-Len", Stall(30)]
    else:
        sent = draw(st.integers(0, 5000))
        reply = [OK + b"Content-Length: 10000\r\n\r\n" + b"m" * sent, Stall(30)]
    return Hostile(case, {"/h": Reply(reply)}, slow=True)


@st.composite
def wrong_lengths(draw: st.DrawFn) -> Hostile:
    case = draw(st.sampled_from(["short", "longer", "smuggled", "declared", "huge", "short-kept"]))
    body = b"B" * draw(st.integers(1, 3000))
    if case == "short":
        cut_at = draw(st.integers(0, len(body) - 1))
        reply = Reply([OK + b"Content-Length: %d\r\n\r\n" % len(body) + body[:cut_at]], close=True)
        return Hostile(case, {"/h": reply})
    if case == "short-kept":  # cut short, the connection left open: a stall
        cut_at = draw(st.integers(0, len(body) - 1))
        reply = Reply([OK + b"Content-Length: %d\r\n\r\n" % len(body) + body[:cut_at], Stall(30)])
        return Hostile(case, {"/h": reply}, slow=True)
    if case in ("longer", "smuggled"):
        extra = junk(draw) if case == "longer" else OK + b"Content-Length: 4\r\n\r\nEVIL"
        reply = Reply([OK + b"Content-Length: %d\r\n\r\n" % len(body) + body + extra])
        return Hostile(case, {"/h": reply}, expect=body)
    if case == "declared":
        declared = draw(
            st.sampled_from([b"-1", b"-0", b"1e3", b"0x10", b"5, 6", b"5 5", b"+5", b"", b"\xb5"])
        )
        reply = Reply([OK + b"Content-Length: " + declared + b"\r\n\r\n" + body], close=True)
        return Hostile(case, {"/h": reply})
    digits = draw(st.integers(12, 40))
    reply = Reply([OK + b"Content-Length: " + b"9" * digits + b"\r\n\r\n" + body], close=True)
    return Hostile(case, {"/h": reply})


def moved(location: bytes, status: bytes = b"302 Found") -> Reply:
    return Reply([head(b"HTTP/1.1 " + status, b"Location: " + location, b"Content-Length: 0")])


@st.composite
def redirects(draw: st.DrawFn) -> Hostile:
    status = draw(
        st.sampled_from(
            [
                b"301 Moved Permanently",
                b"302 Found",
                b"303 See Other",
                b"307 Temporary Redirect",
                b"308 Permanent Redirect",
            ]
        )
    )
    case = draw(
        st.sampled_from(
            ["loop", "ping-pong", "scheme", "bad", "elsewhere", "elsewhere-good", "no-location"]
        )
    )
    if case == "loop":
        return Hostile(case, {"/h": moved(b"/h", status)}, kind=TransientError)
    if case == "ping-pong":
        return Hostile(
            case, {"/h": moved(b"/h2", status), "/h2": moved(b"/h", status)}, kind=TransientError
        )
    if case == "scheme":
        where = draw(
            st.sampled_from(
                [
                    b"ftp://127.0.0.1/h",
                    b"file:///etc/passwd",
                    b"gopher://x/",
                    b"data:,x",
                    b"javascript:alert(1)",
                    b"mailto:a@b",
                ]
            )
        )
        return Hostile(case, {"/h": moved(where, status)}, kind=PermanentError)
    if case == "bad":
        where = draw(
            st.sampled_from(
                [
                    b"http://[::1/",
                    b"http://127.0.0.1:99999/",
                    b"http://a b/",
                    b"http://\xe9t\xe9/",
                    b"http://:80/",
                    b"http://x\x00y/",
                ]
            )
        )
        return Hostile(case, {"/h": moved(where, status)}, kind=PermanentError)
    if case == "no-location":
        return Hostile(
            case,
            {"/h": Reply([head(b"HTTP/1.1 " + status, b"Content-Length: 0")])},
            kind=PermanentError,
        )
    # Another host name for the same server: the request goes on a connection of its own.
    there = draw(st.one_of(slow_servers(), broken_chunks(), huge_heads()))
    if case == "elsewhere-good":
        there = Hostile(case, {"/h": GOOD}, expect=GOOD_BODY)
    routes = {"/there": there.routes["/h"], "/h": moved(b"http://localhost:{port}/there", status)}
    return Hostile(case, routes, expect=there.expect, slow=there.slow, extra={"port": True})


@st.composite
def bad_status_lines(draw: st.DrawFn) -> Hostile:
    case = draw(st.sampled_from(["status", "0.9", "junk"]))
    if case == "0.9":
        return Hostile(case, {"/h": Reply([b"<html>" + junk(draw) + b"</html>"], close=True)})
    if case == "junk":
        line = junk(draw)
        if line.startswith(b"HTTP/1."):
            line = b"X" + line
        return Hostile(case, {"/h": Reply([line + b"\r\nContent-Length: 0\r\n\r\n"], close=True)})
    versions = [b"HTTP/1.1", b"HTTP/1.0"]
    bad_versions = [
        b"HTTP/2",
        b"HTTP/0.9",
        b"HTTPS/1.1",
        b"http/1.1",
        b"ICY",
        b"HTTP/1.1x",
        b"HTTP/11",
        b"",
    ]
    codes = [b"200", b"404"]
    bad_codes = [b"20", b"2000", b"2x0", b"099", b"600", b"\xb2\xb2\xb2", b"", b"-20", b" 200"]
    if draw(st.booleans()):
        version, code = (
            draw(st.sampled_from(bad_versions)),
            draw(st.sampled_from(codes + bad_codes)),
        )
    else:
        version, code = draw(st.sampled_from(versions)), draw(st.sampled_from(bad_codes))
    line = version + b" " + code + draw(st.sampled_from([b" OK", b"", b"\tOK"]))
    return Hostile(case, {"/h": Reply([line + b"\r\nContent-Length: 2\r\n\r\nok"], close=True)})


@st.composite
def interim_replies(draw: st.DrawFn) -> Hostile:
    case = draw(st.sampled_from(["then-ok", "switching", "then-close"]))
    interim = b"HTTP/1.1 100 Continue\r\n\r\n" * draw(st.integers(1, 5))
    if case == "then-ok":
        reply = Reply([interim + OK + b"Content-Length: 4\r\n\r\nfine"])
        return Hostile(case, {"/h": reply}, expect=b"fine")
    if case == "switching":
        reply = Reply(
            [head(b"HTTP/1.1 101 Switching Protocols", b"Upgrade: websocket") + b"\x81\x05hello"],
            close=True,
        )
        return Hostile(case, {"/h": reply})
    return Hostile(case, {"/h": Reply([interim], close=True)})


@st.composite
def wrong_ranges(draw: st.DrawFn) -> Hostile:
    size = 1000
    offset = draw(st.integers(1, 900))
    length = draw(st.one_of(st.none(), st.integers(1, 50)))
    last = size - 1 if length is None else offset + length - 1
    content_range = draw(
        st.sampled_from(
            [
                f"bytes {offset + 1}-{last}/{size}",
                f"bytes {offset - 1}-{last}/{size}",
                f"bytes {offset}-{last - 1}/{size + 10}",
                f"bytes {offset}-{last}/*"
                if length is None
                else f"bytes {offset}-{last + 5}/{last}",
                f"bytes={offset}-{last}/{size}",
                f"{offset}-{last}/{size}",
                f"bytes {last + 1}-{offset}/{size}",
                f"bytes {offset}-{last}/{size}, bytes 0-1/{size}",
                "",
            ]
        )
    ).encode()
    body = b"r" * (last - offset + 1)
    lines = [b"HTTP/1.1 206 Partial Content", b"Content-Length: %d" % len(body)]
    if content_range:
        lines.append(b"Content-Range: " + content_range)
    reply = Reply([head(*lines) + body])
    return Hostile("range", {"/h": reply}, kind=TransientError, offset=offset, length=length)


@st.composite
def encodings(draw: st.DrawFn) -> Hostile:
    body = b"\x1f\x8b\x08\x00encoded"
    coding = draw(
        st.sampled_from(
            [
                b"gzip",
                b"gzip, chunked",
                b"chunked, gzip",
                b"deflate",
                b"xchunked",
                b"chunked, chunked",
                b"identity",
            ]
        )
    )
    if draw(st.booleans()):  # a transfer coding: never asked for, never taken
        reply = Reply(
            [
                head(OK.strip(), b"Transfer-Encoding: " + coding)
                + b"b\r\n"
                + body
                + b"\r\n0\r\n\r\n"
            ],
            close=True,
        )
        return Hostile("transfer-coding", {"/h": reply})
    reply = Reply(
        [head(OK.strip(), b"Content-Encoding: " + coding, b"Content-Length: %d" % len(body)) + body]
    )
    return Hostile("content-coding", {"/h": reply}, expect=body)


@st.composite
def mutated(draw: st.DrawFn) -> Hostile:
    valid = draw(valid_replies())
    whole = bytearray(b"".join(p for p in valid.reply.parts if isinstance(p, bytes)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(0, len(whole) - 1)))
        how = draw(st.sampled_from(["flip", "insert", "delete"]))
        if how == "flip" and whole:
            whole[at] = draw(st.integers(0, 255))
        elif how == "insert":
            whole[at:at] = draw(
                st.sampled_from([b"\r\n", b"\n", b":", b" ", b"\x00", b"0", b"-", b"\r\n\r\n"])
            )
        elif whole:
            del whole[at : at + draw(st.integers(1, 8))]
    reply = Reply([bytes(whole)], close=True)
    return Hostile(
        "mutated", {"/h": reply}, expect="either", offset=valid.offset, length=valid.length
    )


HOSTILE = st.one_of(
    broken_chunks(),
    huge_heads(),
    slow_servers(),
    wrong_lengths(),
    redirects(),
    bad_status_lines(),
    interim_replies(),
    wrong_ranges(),
    encodings(),
    mutated(),
)


@fuzz(150)
@given(case=HOSTILE, reuse=st.booleans())
def test_hostile_replies_fail_within_the_timeout_and_the_next_request_works(
    case: Hostile, reuse: bool
) -> None:
    event(case.family)
    routes = {"/good": GOOD, **case.routes}
    with ScriptedServer(routes=routes) as server:
        if "port" in case.extra:
            moved_there = routes["/h"].parts[0]
            assert isinstance(moved_there, bytes)
            routes["/h"].parts[0] = moved_there.replace(b"{port}", str(server.port).encode())
        url = server.url()
        with open_transfer(url, Credentials(), timeout=TIMEOUT) as remote:
            if reuse:  # a connection kept from a request before
                within(5, lambda: remote.get("/good", io.BytesIO()))
            out = io.BytesIO()
            started = time.monotonic()
            try:
                within(TIMEOUT + SLACK + 5, lambda: remote.get("/h", out, case.offset, case.length))
                failure: TransferError | None = None
            except TransferError as exc:
                failure = exc
            took = time.monotonic() - started
            assert took < TIMEOUT + SLACK, f"{case.family} took {took:.2f} s"
            if failure is None:
                assert case.expect != "fail", (
                    f"{case.family}: no failure, got {out.getvalue()[:80]!r}"
                )
                if isinstance(case.expect, bytes):
                    assert out.getvalue() == case.expect
            else:
                assert isinstance(case.expect, str), f"{case.family}: {failure}"
                assert isinstance(failure, case.kind), f"{case.family}: {failure!r}"
                assert "\n" not in str(failure) and len(str(failure)) < 400
                if case.slow:
                    assert "timed out" in str(failure), str(failure)
            after = io.BytesIO()
            assert within(5, lambda: remote.get("/good", after)) == len(GOOD_BODY)
            assert after.getvalue() == GOOD_BODY


# --- memory


class Sink:
    """A file that keeps nothing."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)


def test_hostile_replies_hold_no_more_memory_than_a_few_buffers() -> None:
    """Whatever comes (endless heads, trailers, extensions, 1xx; 8 MiB bodies), a get holds
    at most three buffers: the chunk being written, the next one, and its pieces."""
    chunked = OK + b"Transfer-Encoding: chunked\r\n\r\n"
    big = bytes(8 << 20)
    chunks = b"".join(b"10000\r\n" + bytes(65536) + b"\r\n" for _ in range(64))
    heavy = {
        "/line": Reply([OK + b"X-Long: ", Endless(b"a" * 65536)]),
        "/headers": Reply([OK, Endless(b"X-Many: header\r\n" * 256)]),
        "/continue": Reply([Endless(b"HTTP/1.1 100 Continue\r\n\r\n" * 256)]),
        "/trailers": Reply([chunked + b"0\r\n", Endless(b"X-T: y\r\n" * 256)]),
        "/extension": Reply([chunked + b"1;", Endless(b"e" * 65536)]),
        "/length": Reply([OK + b"Content-Length: 999999999999\r\n\r\n", big], close=True),
        "/to-the-end": Reply([b"HTTP/1.0 200 OK\r\n\r\n", big], close=True),
        "/chunks": Reply([chunked, chunks], close=True),
    }
    bufsize = 1 << 20
    peaks: dict[str, int] = {}
    with ScriptedServer(routes=heavy) as server:
        url = server.url()

        def get_all() -> None:
            for path in heavy:
                with open_transfer(url, Credentials(), timeout=2, bufsize=bufsize) as remote:
                    gc.collect()  # what failed gets left in reference cycles is not counted
                    tracemalloc.reset_peak()
                    before = tracemalloc.get_traced_memory()[0]
                    with contextlib.suppress(TransferError):
                        within(10, lambda: remote.get(path, Sink()))  # noqa: B023
                    peak = tracemalloc.get_traced_memory()[1] - before
                    peaks[path] = max(peaks.get(path, 0), peak)

        get_all()  # what is made once (imports, caches) is not what is measured
        tracemalloc.start()
        try:
            peaks.clear()
            get_all()
            gc.collect()
            settled = tracemalloc.get_traced_memory()[0]
            for _ in range(5):
                get_all()
            gc.collect()
            left = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
    held = {path: peak >> 10 for path, peak in peaks.items()}
    assert max(held.values()) < (3 * bufsize + (512 << 10)) >> 10, f"KiB held: {held}"
    assert held["/line"] < 512 and held["/headers"] < 512, f"KiB held: {held}"
    assert left - settled < 256 << 10, f"{(left - settled) >> 10} KiB more after 5 rounds"


# --- through the Downloader


def test_a_download_that_fails_mid_body_leaves_nothing_under_its_final_name(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    trickle = Reply([OK + b"Content-Length: 100000\r\n\r\n" + b"x" * 50_000, Trickle(None, 0.05)])
    with ScriptedServer(routes={"/data/x.bin": trickle}) as server:
        config = load("subscribe", None, overrides=[("directory", str(out)), ("timeout", "0.5")])
        downloader = Downloader(config, Credentials())
        notice = Notice(epoch_to_time(time.time()), server.url("/"), "data/x.bin", size=100_000)
        started = time.monotonic()
        try:
            outcome = within(10, lambda: downloader.handle(notice, Placement(out, out / "x.bin")))
        finally:
            downloader.close()
    assert time.monotonic() - started < 0.5 + SLACK
    assert outcome.status == "transient"
    assert "the body stalled" in outcome.reason
    assert [p for p in out.rglob("*") if not p.is_dir()] == []


def test_a_body_longer_than_announced_is_cut_off_at_the_notices_size(tmp_path: Path) -> None:
    """A server that never stops sending (no length, chunked for ever) is cut off once the
    notice's size is passed, not written until the disk is full."""
    out = tmp_path / "out"
    chunk = b"4000\r\n" + b"x" * 0x4000 + b"\r\n"
    endless = Reply([OK + b"Transfer-Encoding: chunked\r\n\r\n", Endless(chunk)])
    with ScriptedServer(routes={"/data/x.bin": endless}) as server:
        config = load("subscribe", None, overrides=[("directory", str(out))])
        downloader = Downloader(config, Credentials())
        notice = Notice(epoch_to_time(time.time()), server.url("/"), "data/x.bin", size=100_000)
        try:
            outcome = within(10, lambda: downloader.handle(notice, Placement(out, out / "x.bin")))
        finally:
            downloader.close()
    assert outcome.status == "transient"
    assert "more bytes than the notice announced: cut off" in outcome.reason
    assert [p for p in out.rglob("*") if not p.is_dir()] == []


def test_request_targets_keep_what_a_path_allows_and_send_a_retrieve_path_as_written(
    tmp_path: Path,
) -> None:
    """The request line as a server reads it: a relPath is a file (`?` sent %3F, sub-delims,
    `:` and `@` as they are), a retrievePath goes as written (OData's `('id')/$value`, a query)."""
    out = tmp_path / "out"
    cases = {  # (relPath, retrievePath): the request target the server must see
        ("d/get.py?station=A", None): "/d/get.py%3Fstation=A",
        ("d/a(1);b+c@d:e,f$g.txt", None): "/d/a(1);b+c@d:e,f$g.txt",
        ("d/a b#c.txt", None): "/d/a%20b%23c.txt",
        ("d/S2A.zip", "odata/v1/Products('S2A_1')/$value"): "/odata/v1/Products('S2A_1')/$value",
        ("d/A.csv", "get.py?station=A&t=1/2;x=(y)"): "/get.py?station=A&t=1/2;x=(y)",
    }
    body = b"data"
    reply = Reply([OK + b"Content-Length: 4\r\n\r\n" + body])
    with ScriptedServer(routes=dict.fromkeys(cases.values(), reply)) as server:
        config = load("subscribe", None, overrides=[("directory", str(out))])
        downloader = Downloader(config, Credentials())
        try:
            for (rel_path, retrieve_path), target in cases.items():
                notice = Notice(
                    epoch_to_time(time.time()),
                    server.url("/"),
                    rel_path,
                    retrieve_path=retrieve_path,
                    size=len(body),
                )
                local = out / rel_path.rpartition("/")[2]
                outcome = within(10, lambda: downloader.handle(notice, Placement(out, local)))  # noqa: B023
                assert (outcome.status, local.read_bytes()) == ("done", body), target
        finally:
            downloader.close()
    assert [r.split(b" ")[1].decode() for r in server.requests] == list(cases.values())
