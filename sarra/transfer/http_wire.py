"""One keep-alive HTTP/1.1 connection for GETs sent straight to a server: the fast path of the
http(s) backend.

urllib3 spends about 0.3 ms of CPU on each request (its pool's bookkeeping, and the headers
parsed through the email package), as much as a small file costs to write. This connection does
only what a GET needs: it writes the request in one piece, reads the reply's head in one go, and
gives the body as it comes, framed by Content-Length, by chunks, or by the end of the connection.
Proxies stay with urllib3.

It reads replies from servers nobody here controls, so all it takes is bounded:

- time: the connection, the request and the reply's head (1xx replies included) must be done by
  a deadline, `timeout` after the request unless the caller gives one (the backend gives one
  deadline to a chain of redirects); each read of the body must get the bytes asked for (or the
  end of the body) within `timeout` of the call. A server that stalls or trickles fails as one
  that is silent, with WireTimeout.
- memory: a head is at most 64 KiB (_MAX_HEAD) and 100 header lines (_MAX_FIELDS), chunk-size
  lines and trailers as much; a read of the body holds what was asked for, no more.
- framing: a reply that is not HTTP/1.x, a Content-Length that is not one decimal number, a
  transfer coding other than chunked, a chunk not followed by its CRLF, a body cut short: each
  raises WireProtocolError.

A connection is kept for the next request only when the reply was read to its end and nothing
came after it; any failure closes it. A kept connection the server closed while idle is noticed
before it is used, and a request whose reply never started on a reused connection is sent once
more on a new one (a GET can be).
"""

from __future__ import annotations

import re
import select
import socket
import ssl
from time import monotonic

_MAX_HEAD = 64 * 1024  # bytes of a reply's head (1xx heads included), or of a line, or trailers
_MAX_FIELDS = 100  # header lines of a head, trailer lines of a chunked body
_MAX_DRAIN = 64 * 1024  # the most of a body read only to keep the connection
_RECV = 64 * 1024  # bytes asked of the socket at a time while reading a head
_RECV_BODY = 256 * 1024  # at most this at a time while reading a body (each recv allocates it)
_SLACK = 0.01  # seconds the socket's timeout may differ from the deadline (spares a syscall)
_NO_BODY = frozenset({204, 304})
_STATUS = re.compile(r"HTTP/1\.([0-9]) ([1-5][0-9][0-9])(?: (.*))?", re.ASCII)
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r?\n")
_LENGTH_DIGITS = 18  # an exabyte
_LENGTH = re.compile(rf"[0-9]{{1,{_LENGTH_DIGITS}}}", re.ASCII)


class WireProtocolError(Exception):
    """A reply that is not HTTP as it should be, or a body cut short; may go away."""


class WireTimeout(TimeoutError):
    """A server that did not send what was due within the timeout (silent, stalled, trickling)."""


class WireHeaders:
    """A reply's headers, looked up by name whatever its case; repeats are joined by ', '."""

    def __init__(self, pairs: dict[str, str]) -> None:
        self._by_name = pairs

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._by_name.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_name


class _Stream:
    """The bytes coming from one socket, each wait bounded by `deadline` (None: no bound);
    `pending` holds those received and not yet taken."""

    def __init__(self, sock: socket.socket, timeout: float | None) -> None:
        self.sock = sock
        self.timeout = timeout  # the connection's, for messages
        self.pending = bytearray()
        self.deadline: float | None = None
        self.asked = 0  # bytes of the body being read (0: the head), for messages
        self._socket_timeout = sock.gettimeout()

    def send(self, data: bytes) -> None:
        self._settle()
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise self._timed_out() from None

    def head(self, limit: int) -> str | None:
        """A reply's head (as Latin-1 text), through the blank line that ends it; None when
        the connection ends before its first byte. What does not start as HTTP/ is refused at
        once."""
        pending = self.pending
        if not pending and not self._fill():
            return None
        searched = 0
        while True:
            if not (pending.startswith(b"HTTP/") or b"HTTP/".startswith(pending)):
                raise WireProtocolError(f"not an HTTP reply: {_shown(pending)}")
            # The blank line: CRLF CRLF, or (from sloppy servers) LF LF or LF CRLF.
            end = pending.find(b"\n\r\n", searched, limit)
            bare = pending.find(b"\n\n", searched, end + 2 if end >= 0 else limit)
            size = bare + 2 if bare >= 0 else end + 3 if end >= 0 else 0
            if size:
                head = pending[:size].decode("latin-1")
                del pending[:size]
                return head
            if len(pending) >= limit:
                raise WireProtocolError(f"the reply's head is longer than {_MAX_HEAD >> 10} KiB")
            searched = max(0, len(pending) - 2)
            if not self._fill():
                raise WireProtocolError("the connection closed in the reply's head")

    def line(self, limit: int) -> bytes | None:
        """The next line with its LF: b'' at the end of the connection, None when no LF comes
        within `limit` bytes."""
        pending = self.pending
        searched = 0
        while True:
            end = pending.find(b"\n", searched)
            if 0 <= end < limit:
                line = bytes(pending[: end + 1])
                del pending[: end + 1]
                return line
            if end >= 0 or len(pending) >= limit:
                return None
            searched = len(pending)
            if not self._fill():
                return b""

    def read(self, size: int) -> bytes:
        """`size` bytes, fewer only when the connection ends first."""
        pending = self.pending
        have = len(pending)
        if have >= size:
            data = bytes(pending[:size]) if have > size else bytes(pending)
            del pending[:size]
            return data
        pieces = [bytes(pending)] if have else []
        pending.clear()
        got = have
        while got < size:
            data = self._recv(min(size - got, _RECV_BODY))
            if not data:
                break
            pieces.append(data)
            got += len(data)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def close(self) -> None:
        self.pending.clear()
        self.sock.close()

    def _fill(self) -> bool:
        """Receive what comes next into `pending`; False at the end of the connection."""
        data = self._recv(_RECV)
        self.pending += data
        return bool(data)

    def _recv(self, size: int) -> bytes:
        self._settle()
        try:
            return self.sock.recv(size)
        except TimeoutError:
            raise self._timed_out() from None

    def _settle(self) -> None:
        """Make the socket's timeout what is left before the deadline (give or take _SLACK)."""
        deadline = self.deadline
        if deadline is None:
            if self._socket_timeout is not None:
                self.sock.settimeout(None)
                self._socket_timeout = None
            return
        left = deadline - monotonic()
        if left <= 0:
            raise self._timed_out()
        current = self._socket_timeout
        if current is None or abs(current - left) > _SLACK:
            self.sock.settimeout(left)
            self._socket_timeout = left

    def _timed_out(self) -> WireTimeout:
        if self.asked:
            return _late(f"the body stalled ({self.asked} bytes not received", self.timeout, ")")
        return _late("no complete reply", self.timeout)


class WireResponse:
    """A reply whose body is read as it comes; the attributes HttpTransfer reads of urllib3's
    responses, so that both are handled alike."""

    def __init__(
        self,
        connection: WireConnection,
        stream: _Stream,
        status: int,
        reason: str,
        headers: WireHeaders,
        framing: tuple[int | None, bool, bool],
        deadline: float | None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.connection: WireConnection | None = connection
        self._stream = stream
        # Body bytes still to read (None: chunked or to the end), chunked, closed after it.
        self._left, self._chunked, self._will_close = framing
        self._chunk_left = 0
        self._deadline = deadline  # the head's: what is drained must come by then too
        if self._left == 0:
            self._body_done()

    @property
    def length_remaining(self) -> int | None:
        """Bytes of the body not yet read, or None when the reply does not say."""
        return self._left

    def read(self, amount: int, decode_content: bool = False) -> bytes:
        """`amount` bytes of the body, fewer only at its end; b'' once it is all read. They
        must come within the timeout. The body is given as it is on the wire, whatever
        decode_content."""
        timeout = self._stream.timeout
        return self._read(amount, None if timeout is None else monotonic() + timeout)

    def drain_conn(self) -> None:
        """Read the rest of a short body (an error page) by the head's deadline, to keep the
        connection; a longer body, or one that fails, closes it instead."""
        budget = _MAX_DRAIN
        try:
            while self.connection is not None and budget > 0:
                budget -= len(self._read(min(budget, _RECV), self._deadline))
        except (WireProtocolError, OSError):
            pass  # closed by _read
        self.close()

    def close(self) -> None:
        """Drop the connection: its body is left unread, so it cannot carry another request."""
        connection, self.connection = self.connection, None
        if connection is not None and connection.busy is self:
            connection.close()

    def release_conn(self) -> None:
        """Nothing to do: a connection whose body was read is ready for the next request."""

    def _read(self, amount: int, deadline: float | None) -> bytes:
        connection = self.connection
        if connection is None or amount <= 0:
            return b""
        if connection.busy is not self:  # closed under it, or used for another request
            self.connection = None
            raise WireProtocolError("the connection was closed before the body was read")
        stream = self._stream
        stream.deadline = deadline
        stream.asked = amount
        try:
            if self._chunked:
                data, done = self._read_chunks(stream, amount)
            elif self._left is None:  # to the end of the connection
                data = stream.read(amount)
                done = len(data) < amount
            else:
                wanted = min(amount, self._left)
                data = stream.read(wanted)
                self._left -= len(data)
                if len(data) < wanted:
                    reason = f"the connection closed with {self._left} bytes of the body unread"
                    raise WireProtocolError(reason)
                done = self._left == 0
        except BaseException:
            self.close()
            raise
        if done:
            self._body_done()
        return data

    def _read_chunks(self, stream: _Stream, amount: int) -> tuple[bytes, bool]:
        """Up to `amount` bytes of a chunked body, across chunks; whether the body ended."""
        pieces: list[bytes] = []
        got = 0
        while got < amount:
            if self._chunk_left == 0:
                size = _chunk_size(stream.line(_MAX_HEAD))
                if size == 0:
                    _skip_trailers(stream)
                    return b"".join(pieces), True
                self._chunk_left = size
            wanted = min(amount - got, self._chunk_left)
            data = stream.read(wanted)
            if len(data) < wanted:
                raise WireProtocolError("the connection closed in the middle of a chunk")
            self._chunk_left -= wanted
            if self._chunk_left == 0 and stream.line(2) not in (b"\r\n", b"\n"):
                raise WireProtocolError("a chunk is not followed by CRLF")
            pieces.append(data)
            got += wanted
        return (pieces[0] if len(pieces) == 1 else b"".join(pieces)), False

    def _body_done(self) -> None:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        connection.busy = None
        if self._will_close or self._stream.pending:  # bytes after the body: out of step
            connection.close()


class WireConnection:
    """A connection to one server (http, or https with `tls`), opened on the first request and
    kept for the next ones until the server or close() ends it."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float | None,
        tls: ssl.SSLContext | None = None,
        default_port: int = 80,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.tls = tls
        bracketed = f"[{host}]" if ":" in host else host
        self._host_header = bracketed if port == default_port else f"{bracketed}:{port}"
        self._stream: _Stream | None = None
        self.busy: WireResponse | None = None  # the reply whose body is still to read
        self.opened = 0  # connections made, for tests and logs

    def get(
        self, target: str, headers: dict[str, str], deadline: float | None = None
    ) -> WireResponse:
        """Send `GET target` with `headers` and read the reply's head, by `deadline` (a
        time.monotonic() value; by default `timeout` from now)."""
        lines = [f"GET {target} HTTP/1.1", f"Host: {self._host_header}"]
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if deadline is None and self.timeout is not None:
            deadline = monotonic() + self.timeout
        if self.busy is not None:  # the last reply's body was left unread
            self.close()
        while True:
            stream = self._stream
            reused = stream is not None and self._idle(stream)
            if stream is None or not reused:
                stream = self._open(deadline)
            stream.deadline = deadline
            stream.asked = 0
            try:
                stream.send(request)
                head = stream.head(_MAX_HEAD)
            except (ConnectionResetError, BrokenPipeError):
                self.close()
                if not reused:
                    raise
                continue  # a kept connection the server had dropped: once more on a new one
            except BaseException:
                self.close()
                raise
            if head is not None:
                break
            self.close()
            if not reused:
                raise WireProtocolError("the server closed the connection without a reply")
        try:
            response = self._response(stream, head, deadline)
        except BaseException:
            self.close()
            raise
        if response.connection is not None:
            self.busy = response
        return response

    def close(self) -> None:
        stream, self._stream = self._stream, None
        self.busy = None
        if stream is not None:
            stream.close()

    def _open(self, deadline: float | None) -> _Stream:
        self.close()
        left = None if deadline is None else deadline - monotonic()
        if left is not None and left <= 0:
            raise _late("no complete reply", self.timeout)
        try:
            sock = socket.create_connection((self.host, self.port), left)
        except TimeoutError:
            raise _late("no connection", self.timeout) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        except TimeoutError:
            sock.close()
            raise _late("no TLS handshake", self.timeout) from None
        except BaseException:
            sock.close()
            raise
        self._stream = _Stream(sock, self.timeout)
        self.opened += 1
        return self._stream

    @staticmethod
    def _idle(stream: _Stream) -> bool:
        """Whether a kept connection has nothing to read before a request: otherwise the
        server closed it (or sent what it should not have), and either way it is done."""
        sock = stream.sock
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return False
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return not poller.poll(0)

    def _response(self, stream: _Stream, head: str, deadline: float | None) -> WireResponse:
        """The reply that `head` starts (after any 1xx replies, read within the same limit)."""
        budget = _MAX_HEAD - len(head)
        while True:
            lines = head.split("\n")[:-2]  # without the blank line
            status, reason, minor = _status(lines[0])
            if status >= 200:
                break
            if status == 101:
                raise WireProtocolError("101 Switching Protocols, though no upgrade was asked for")
            following = stream.head(budget)
            if following is None:
                raise WireProtocolError("the connection closed after a 1xx reply")
            head = following
            budget -= len(head)
        fields = _fields(lines[1:])
        framing = _framing(status, minor, fields)
        return WireResponse(self, stream, status, reason, WireHeaders(fields), framing, deadline)


def _status(line: str) -> tuple[int, str, str]:
    """(status, reason, minor version) of a status line."""
    found = _STATUS.fullmatch(line.rstrip("\r"))
    if found is None:
        raise WireProtocolError(f"not an HTTP reply: {line[:60]!r}")
    return int(found[2]), (found[3] or "").strip(), found[1]


def _fields(lines: list[str]) -> dict[str, str]:
    """The header fields of a head's lines, by lower-case name; repeats joined by ', '."""
    if len(lines) > _MAX_FIELDS:
        raise WireProtocolError(f"more than {_MAX_FIELDS} header lines")
    fields: dict[str, str] = {}
    name = ""
    for line in lines:
        line = line.rstrip("\r")
        if line[:1] in (" ", "\t"):  # an obsolete folded line continues the one before
            if not name:
                raise WireProtocolError(f"bad header line {line[:40]!r}")
            fields[name] += " " + line.strip(" \t")
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name[-1] in " \t":
            raise WireProtocolError(f"bad header line {line[:40]!r}")
        name = name.lower()
        value = value.strip(" \t")
        fields[name] = f"{fields[name]}, {value}" if name in fields else value
    return fields


def _framing(status: int, minor: str, fields: dict[str, str]) -> tuple[int | None, bool, bool]:
    """(body length or None, chunked, connection closed after the body) of a reply."""
    connection = fields.get("connection")
    tokens = {t.strip().lower() for t in connection.split(",")} if connection else set()
    will_close = "close" in tokens or (minor == "0" and "keep-alive" not in tokens)
    if status in _NO_BODY:
        return 0, False, will_close
    coding = fields.get("transfer-encoding")
    if coding is not None:
        if [c.strip().lower() for c in coding.split(",") if c.strip()] != ["chunked"]:
            raise WireProtocolError(f"Transfer-Encoding {coding[:40]!r} (only chunked is taken)")
        # With a Content-Length as well, the reply is suspect: the connection ends with it.
        return None, True, will_close or "content-length" in fields
    declared = fields.get("content-length")
    if declared is None:
        return None, False, True  # the body ends with the connection
    return _content_length(declared), False, will_close


def _content_length(declared: str) -> int:
    """The length a Content-Length says: one decimal number (repeated alike, if repeated)."""
    if declared.isdigit() and declared.isascii() and len(declared) <= _LENGTH_DIGITS:
        return int(declared)
    values = {value.strip(" \t") for value in declared.split(",")}
    if len(values) == 1:
        value = values.pop()
        if _LENGTH.fullmatch(value):
            return int(value)
    raise WireProtocolError(f"bad Content-Length {declared[:40]!r}")


def _chunk_size(line: bytes | None) -> int:
    """The size a chunk size line gives (its extensions ignored)."""
    if line is None:
        raise WireProtocolError(f"a chunk size line is longer than {_MAX_HEAD} bytes")
    if not line:
        raise WireProtocolError("the connection closed before the end of the chunked body")
    found = _CHUNK_SIZE.fullmatch(line)
    if found is None:
        raise WireProtocolError(f"bad chunk size line {line[:40]!r}")
    return int(found[1], 16)


def _skip_trailers(stream: _Stream) -> None:
    """Read the trailer lines after the last chunk, through the blank line."""
    budget = _MAX_HEAD
    for _ in range(_MAX_FIELDS + 1):
        line = stream.line(budget)
        if line is None:
            raise WireProtocolError(f"the trailers are longer than {_MAX_HEAD} bytes")
        if not line:
            raise WireProtocolError("the connection closed in the trailers")
        if line in (b"\r\n", b"\n"):
            return
        budget -= len(line)
    raise WireProtocolError(f"more than {_MAX_FIELDS} trailer lines")


def _late(what: str, timeout: float | None, end: str = "") -> WireTimeout:
    """The timeout of a wait for `what`."""
    return WireTimeout(f"timed out: {what} within {timeout or 0:g} s{end}")


def _shown(data: bytearray) -> str:
    """The start of what came, for a message."""
    return repr(bytes(data[:40]))
