"""One keep-alive HTTP/1.1 connection for GETs sent straight to a server: the fast path of the
http(s) backend.

urllib3 spends about 0.3 ms of CPU on each request (its pool's bookkeeping, and the headers
parsed through the email package), as much as a small file costs to write. This connection does
only what a GET needs: it writes the request in one piece, reads the status line and headers
with a buffered reader, and gives the body as it comes, framed by Content-Length, by chunks, or
by the end of the connection. Proxies and other hosts (redirects) stay with urllib3.

A connection the server closed while it was idle is noticed before it is used, and a request
whose reply never started on a reused connection is sent once more on a new one (a GET can be).
Every wait on the socket is bounded by the timeout.
"""

from __future__ import annotations

import select
import socket
import ssl
from typing import BinaryIO

_MAX_LINE = 65536
_MAX_HEADERS = 100
_NO_BODY = frozenset({204, 304})


class WireProtocolError(Exception):
    """A reply that is not HTTP as it should be, or a body cut short; may go away."""


class WireHeaders:
    """A reply's headers, looked up by name whatever its case; repeats are joined by ', '."""

    def __init__(self, pairs: dict[str, str]) -> None:
        self._by_name = pairs

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._by_name.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_name


class WireResponse:
    """A reply whose body is read as it comes; the attributes HttpTransfer reads of urllib3's
    responses, so that both are handled alike."""

    def __init__(
        self,
        connection: WireConnection,
        status: int,
        reason: str,
        headers: WireHeaders,
        length: int | None,
        chunked: bool,
        will_close: bool,
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.connection: WireConnection | None = connection
        self._left = length  # body bytes still to read (None: chunked or to the end)
        self._chunked = chunked
        self._chunk_left = 0
        self._will_close = will_close
        if length == 0:
            self._body_done()

    @property
    def length_remaining(self) -> int | None:
        """Bytes of the body not yet read, or None when the reply does not say."""
        return self._left

    def read(self, amount: int = -1, decode_content: bool = False) -> bytes:
        """Up to `amount` bytes of the body (fewer only at its end; all of it when -1); b''
        once it is all read. The body is given as it is on the wire, whatever decode_content."""
        if amount < 0:
            return b"".join(iter(lambda: self.read(1 << 20), b""))
        connection = self.connection
        if connection is None or amount == 0:
            return b""
        if self._chunked:
            return self._read_chunk(connection, amount)
        if self._left is None:  # to the end of the connection
            data = connection.reader.read(amount)
            if not data:
                self._body_done()
            return data
        wanted = min(amount, self._left)
        data = connection.reader.read(wanted)
        self._left -= len(data)
        if len(data) < wanted:
            self.close()
            raise WireProtocolError(f"connection closed with {self._left} bytes of the body unread")
        if self._left == 0:
            self._body_done()
        return data

    def _read_chunk(self, connection: WireConnection, amount: int) -> bytes:
        if self._chunk_left == 0:
            size_line = connection.readline()
            try:
                self._chunk_left = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.close()
                raise WireProtocolError(f"bad chunk size line {size_line[:40]!r}") from None
            if self._chunk_left == 0:
                while connection.readline() not in (b"\r\n", b"\n"):  # trailers
                    pass
                self._body_done()
                return b""
        data = connection.reader.read(min(amount, self._chunk_left))
        if not data:
            self.close()
            raise WireProtocolError("connection closed in the middle of a chunk")
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            connection.readline()  # the CRLF after the chunk
        return data

    def drain_conn(self) -> None:
        """Read what is left of the body (a short error page), keeping the connection."""
        while self.connection is not None and self.read(1 << 16):
            pass

    def close(self) -> None:
        """Drop the connection: its body is left unread, so it cannot carry another request."""
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()

    def release_conn(self) -> None:
        """Nothing to do: a connection whose body was read is ready for the next request."""

    def _body_done(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None and self._will_close:
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
        self._socket: socket.socket | None = None
        self.reader: BinaryIO | _Closed = _Closed()
        self.opened = 0  # connections made, for tests and logs

    def get(self, target: str, headers: dict[str, str]) -> WireResponse:
        """Send `GET target` with `headers` and read the reply's status line and headers."""
        lines = [f"GET {target} HTTP/1.1", f"Host: {self._host_header}"]
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        while True:
            reused = self._socket is not None and not self._dropped()
            if not reused:
                self._open()
            try:
                assert self._socket is not None
                self._socket.sendall(request)
                status_line = self.readline()
                if status_line:
                    break
                if not reused:
                    raise WireProtocolError("the server closed the connection without a reply")
            except (ConnectionResetError, BrokenPipeError):
                if not reused:
                    raise
            self.close()  # a kept connection the server had dropped: once more on a new one
        while True:
            status, reason, version = _status(status_line)
            pairs = self._headers()
            if not 100 <= status < 200:
                break
            status_line = self.readline()  # 100 Continue and the like: the reply follows
        return self._response(status, reason, version, pairs)

    def readline(self) -> bytes:
        """One line of the reply (at most _MAX_LINE bytes), b'' at the end of the connection."""
        line = self.reader.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            self.close()
            raise WireProtocolError("a line of the reply is longer than 64 KiB")
        return line

    def close(self) -> None:
        sock, self._socket = self._socket, None
        if sock is not None:
            self.reader.close()
            self.reader = _Closed()
            sock.close()

    def _open(self) -> None:
        self.close()
        sock = socket.create_connection((self.host, self.port), self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self._socket = sock
        self.reader = sock.makefile("rb", buffering=1 << 16)
        self.opened += 1

    def _dropped(self) -> bool:
        """Whether a kept connection has something to read before a request: the server closed
        it (or sent what it should not have); either way it cannot be used."""
        assert self._socket is not None
        if isinstance(self._socket, ssl.SSLSocket) and self._socket.pending():
            return True
        poller = select.poll()
        poller.register(self._socket, select.POLLIN)
        return bool(poller.poll(0))

    def _headers(self) -> dict[str, str]:
        pairs: dict[str, str] = {}
        last = ""
        for _ in range(_MAX_HEADERS):
            line = self.readline()
            if line in (b"\r\n", b"\n"):
                return pairs
            if not line:
                self.close()
                raise WireProtocolError("the connection closed in the reply's headers")
            text = line.decode("latin-1").rstrip("\r\n")
            if text[:1] in (" ", "\t") and last:  # an obsolete folded line
                pairs[last] += " " + text.strip()
                continue
            name, colon, value = text.partition(":")
            if not colon:
                self.close()
                raise WireProtocolError(f"bad header line {text[:40]!r}")
            last = name.strip().lower()
            value = value.strip()
            pairs[last] = f"{pairs[last]}, {value}" if last in pairs else value
        self.close()
        raise WireProtocolError(f"more than {_MAX_HEADERS} header lines")

    def _response(
        self, status: int, reason: str, version: str, pairs: dict[str, str]
    ) -> WireResponse:
        tokens = {t.strip().lower() for t in pairs.get("connection", "").split(",")}
        will_close = "close" in tokens or (version == "HTTP/1.0" and "keep-alive" not in tokens)
        chunked = "chunked" in pairs.get("transfer-encoding", "").lower()
        length: int | None = None
        if status in _NO_BODY:
            length = 0
        elif not chunked:
            declared = pairs.get("content-length")
            if declared is None:
                will_close = True  # the body ends with the connection
            else:
                try:
                    length = int(declared.split(",")[0])
                except ValueError:
                    self.close()
                    raise WireProtocolError(f"bad Content-Length {declared[:40]!r}") from None
                if length < 0:
                    self.close()
                    raise WireProtocolError(f"bad Content-Length {declared[:40]!r}")
        return WireResponse(self, status, reason, WireHeaders(pairs), length, chunked, will_close)


def _status(line: bytes) -> tuple[int, str, str]:
    """(status, reason, version) of a status line."""
    text = line.decode("latin-1").rstrip("\r\n")
    version, _, rest = text.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or len(code) != 3 or not code.isdigit():
        raise WireProtocolError(f"not an HTTP reply: {text[:60]!r}")
    return int(code), reason.strip(), version


class _Closed:
    """The reader of a connection not open: reads end at once."""

    def readline(self, _limit: int = -1) -> bytes:
        return b""

    def read(self, _amount: int = -1) -> bytes:
        return b""

    def close(self) -> None:
        """Nothing to close."""
