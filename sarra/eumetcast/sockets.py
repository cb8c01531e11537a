"""ZeroMQ plumbing: an announcing PUB socket with heartbeats, a REQ round trip, and a ROUTER
that answers each request in its own thread (as trollmoves' request port does)."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable

import zmq

from sarra.eumetcast import messages
from sarra.eumetcast.messages import BadMessage, Message

log = logging.getLogger(__name__)

POLL_MS = 100
"""How often (ms) a loop waiting on sockets checks whether it was told to stop."""

_replies = itertools.count()


def context() -> zmq.Context:
    return zmq.Context.instance()


def bind(socket: zmq.Socket, address: str, patience: float = 5.0) -> None:
    """Bind, waiting (at most `patience` s) for a port still held by a socket just closed:
    ZeroMQ releases a closed socket's port in its own thread, a moment later (a reload)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            socket.bind(address)
            return
        except zmq.ZMQError as err:
            if err.errno != zmq.EADDRINUSE or time.monotonic() > deadline:
                raise OSError(err.errno, f"{address}: {err.strerror}") from err
            time.sleep(0.05)


class Publisher:
    """A PUB socket bound on all interfaces; `port` 0 picks a free one. Thread-safe send; beats
    under `/heartbeat/<name>` every messages.BEAT_INTERVAL seconds once started.

    It is an XPUB, so it knows its subscriptions (`subscribers`): peers see a plain PUB."""

    def __init__(self, port: int, name: str, host: str = "*") -> None:
        self.name = name
        self.socket = context().socket(zmq.XPUB)
        self.socket.setsockopt(zmq.XPUB_VERBOSE, 1)
        self._subscriptions: dict[bytes, int] = {}
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.SNDHWM, 100_000)
        if port:
            bind(self.socket, f"tcp://{host}:{port}")
            self.port = port
        else:
            self.port = self.socket.bind_to_random_port(f"tcp://{host}")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beats = threading.Thread(target=self._beat, name=f"beat-{name}", daemon=True)

    def start(self) -> Publisher:
        if not self._beats.is_alive():
            self._beats.start()
        return self

    def send(self, message: Message) -> None:
        raw = messages.encode(message)
        with self._lock:
            self.socket.send(raw)
        log.debug("published %s", raw[:400])

    def subscribers(self, topic: str) -> int:
        """How many subscriptions made so far would receive a message of this topic."""
        wanted = messages.prefix(topic)
        with self._lock:
            while self.socket.poll(0):
                frame = self.socket.recv()
                change = 1 if frame[:1] == b"\x01" else -1
                count = self._subscriptions.get(frame[1:], 0) + change
                self._subscriptions[frame[1:]] = max(count, 0)
            return sum(n for p, n in self._subscriptions.items() if wanted.startswith(p))

    def _beat(self) -> None:
        while not self._stop.is_set():
            try:
                self.subscribers("")  # read the subscriptions that came meanwhile
                self.send(messages.beat(self.name))
            except zmq.ZMQError as err:
                log.warning("heartbeat of %s not sent: %s", self.name, err)
            self._stop.wait(messages.BEAT_INTERVAL)

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            self.socket.close()


def request(address: str, message: Message, timeout: float) -> Message | None:
    """Send one request to `tcp://<address>` on a fresh REQ socket and return the reply, or None
    when none came within `timeout` seconds (or it could not be read: logged)."""
    url = address if "://" in address else f"tcp://{address}"
    sock = context().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(url)
        sock.send(messages.encode(message))
        if not sock.poll(int(timeout * 1000)):
            return None
        raw = sock.recv()
    except zmq.ZMQError as err:  # a bad address: as good as no reply
        log.warning("cannot ask %s: %s", address, err)
        return None
    finally:
        sock.close()
    try:
        return messages.decode(raw)
    except BadMessage as err:
        log.warning("unreadable reply from %s: %s", address, err)
        return None


Handler = Callable[[Message], Message]


class RequestServer:
    """A ROUTER on `tcp://*:<port>` answering each request with `handler(message)`, each in its
    own thread; replies go back through an inproc PULL to the ROUTER's thread."""

    def __init__(self, port: int, handler: Handler, name: str) -> None:
        self.handler = handler
        self.name = name
        self.router = context().socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 0)
        bind(self.router, f"tcp://*:{port}")
        self.port = port
        inproc = f"inproc://replies-{name}-{next(_replies)}"
        self.pull = context().socket(zmq.PULL)
        self.pull.bind(inproc)
        self.push = context().socket(zmq.PUSH)
        self.push.setsockopt(zmq.LINGER, 0)
        self.push.connect(inproc)
        self._push_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"requests-{name}", daemon=True)

    def start(self) -> RequestServer:
        self._thread.start()
        return self

    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.pull, zmq.POLLIN)
        while not self._stop.is_set():
            ready = dict(poller.poll(POLL_MS))
            if self.pull in ready:
                while self.pull.poll(0):
                    self.router.send_multipart(self.pull.recv_multipart())
            if self.router in ready:
                while self.router.poll(0):
                    self._receive(self.router.recv_multipart())
        for sock in (self.router, self.pull, self.push):
            sock.close()

    def _receive(self, frames: list[bytes]) -> None:
        if len(frames) != 3:
            log.warning("[%s] malformed request (%d frames)", self.name, len(frames))
            reply = messages.make("error", "unknown")
            self.router.send_multipart([frames[0], b"", messages.encode(reply)])
            return
        identity, _, payload = frames
        try:
            message = messages.decode(payload)
        except BadMessage as err:
            log.warning("[%s] unreadable request: %s", self.name, err)
            reply = messages.make("error", "err", f"unreadable request: {err}")
            self.router.send_multipart([identity, b"", messages.encode(reply)])
            return
        log.debug("[%s] request %s", self.name, message)
        thread = threading.Thread(
            target=self._answer, args=(identity, message), name=f"request-{self.name}", daemon=True
        )
        thread.start()

    def _answer(self, identity: bytes, message: Message) -> None:
        started = time.monotonic()
        try:
            reply = self.handler(message)
        except Exception as err:  # a handler bug must not leave the requester waiting
            log.exception("[%s] %s request failed", self.name, message.type)
            reply = messages.make(message.subject, "err", f"{type(err).__name__}: {err}")
        log.debug(
            "[%s] %s answered %s in %.3f s",
            self.name,
            message.type,
            reply.type,
            time.monotonic() - started,
        )
        try:
            with self._push_lock:
                self.push.send_multipart([identity, b"", messages.encode(reply)])
        except zmq.ZMQError as err:  # closed while answering: the server is stopping
            log.debug("[%s] reply not sent: %s", self.name, err)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        else:
            for sock in (self.router, self.pull, self.push):
                sock.close()
