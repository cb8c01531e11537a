"""An HTTP server of the tests' own, on 127.0.0.1, that answers exactly as scripted: replies of
any bytes, sent at once or in pieces, after a stall, one byte at a time, or for ever. It is the
hostile server of the http client's tests.

A request is answered by the reply routed to its path (`routes`), else by the next reply of the
script. A reply is a list of parts: bytes, Stall (wait), Trickle (bytes one at a time, slowly)
and Endless (the same bytes again and again); a part waits and sends only while the client
stays, so that nothing is left running once the client gives up. `close` ends the connection
after the reply, as does the end of the script (when there are no routes). Each connection has
a thread of its own.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Stall:
    """Send nothing for `seconds` (or until the client closes)."""

    seconds: float


@dataclass(frozen=True)
class Trickle:
    """Send `data` one byte every `every` seconds (`data` None: b'x' for ever)."""

    data: bytes | None
    every: float


@dataclass(frozen=True)
class Endless:
    """Send `piece` again and again, as fast as the client reads, until it closes."""

    piece: bytes


Part = bytes | Stall | Trickle | Endless


@dataclass
class Reply:
    """What the server sends for one request, and whether it closes the connection after."""

    parts: list[Part]
    close: bool = False
    pause: float = 0.0  # seconds between parts (so that the client gets them apart)


NOT_FOUND = Reply([b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"])


class ScriptedServer:
    """Answers each request by its route or the next reply of `script` (bytes are a reply;
    None after a reply makes it close the connection). `tls` makes it speak https."""

    def __init__(
        self,
        script: list[bytes | Reply | None] | None = None,
        *,
        routes: dict[str, Reply] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.script: list[Reply] = []
        for item in script or []:
            if item is None:
                self.script[-1].close = True
            else:
                self.script.append(item if isinstance(item, Reply) else Reply([item]))
        self.routes = dict(routes or {})
        self.requests: list[bytes] = []
        self.connections = 0
        self._tls = tls
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def close(self) -> None:
        """Stop, and cut every connection still open."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() under way
        self._listener.close()
        with self._lock:
            live = list(self._open)
        for conn in live:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with self._lock:
            self._open.add(conn)
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
            for request in self._requests(conn):
                reply = self._reply_to(request)
                self._send(conn, reply)
                if reply.close or self._done():
                    break
        except OSError:
            pass  # the client went: what was left to send goes nowhere
        finally:
            with self._lock:
                self._open.discard(conn)
            conn.close()

    def _requests(self, conn: socket.socket) -> Iterator[bytes]:
        pending = b""
        while not self._stopping.is_set():
            while b"\r\n\r\n" not in pending:
                data = conn.recv(65536)
                if not data:
                    return
                pending += data
            request, _, pending = pending.partition(b"\r\n\r\n")
            self.requests.append(request)
            yield request

    def _reply_to(self, request: bytes) -> Reply:
        path = request.split(b" ", 2)[1].decode("latin-1") if b" " in request else ""
        with self._lock:
            if path in self.routes:
                return self.routes[path]
            return self.script.pop(0) if self.script else NOT_FOUND

    def _done(self) -> bool:
        """Whether nothing is left to answer with: no routes, and the script is over."""
        with self._lock:
            return not self.routes and not self.script

    def _send(self, conn: socket.socket, reply: Reply) -> None:
        for number, part in enumerate(reply.parts):
            if number and reply.pause and self._client_left(conn, reply.pause):
                return
            if isinstance(part, bytes):
                conn.sendall(part)
            elif isinstance(part, Stall):
                if self._client_left(conn, part.seconds):
                    return
            elif isinstance(part, Trickle):
                data = part.data
                at = 0
                while data is None or at < len(data):
                    conn.sendall(b"x" if data is None else data[at : at + 1])
                    at += 1
                    if self._client_left(conn, part.every):
                        return
            else:
                while not self._stopping.is_set():
                    conn.sendall(part.piece)

    def _client_left(self, conn: socket.socket, seconds: float) -> bool:
        """Wait `seconds`; True if the client closed (or spoke) meanwhile, or the server stops."""
        if isinstance(conn, ssl.SSLSocket) and conn.pending():
            return True
        poller = select.poll()
        poller.register(conn, select.POLLIN)
        return bool(poller.poll(seconds * 1000)) or self._stopping.is_set()


def within(seconds: float, call: Callable[[], T]) -> T:
    """What `call` returns (or raises), failing the test if it has not ended in `seconds`: a
    client that hangs fails instead of hanging the suite (its thread is left behind)."""
    outcome: list[tuple[bool, object]] = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # handed to the test's thread
            outcome.append((False, exc))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if not outcome:
        raise AssertionError(f"still running after {seconds} s")
    ok, value = outcome[0]
    if not ok:
        raise value  # type: ignore[misc]
    return value  # type: ignore[return-value]
