"""move_it_server: watch directories, announce each new file, push it where clients ask.

Per section: a watcher on the directory of `origin` announces each matching file (unpacked
first with `compression`) under `topic` on the PUB socket, with the `info` items, the fields of
the file name, `uri`, `uid` and `request_address`; a ROUTER on `request_port` answers push, ack,
ping and info requests. A push copies the file into the client's destination. With `delete` or
`compression`, the served file is removed `remove_delay` seconds after its first push or ack.

Unlike trollmoves: a file we announced is always servable (bzip's unpacked name need not match
the origin glob); a push arriving while the same push is running (a client that timed out and
asked again) waits for it instead of copying the file a second time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import heapq
import logging
import os
import socket
import tempfile
import threading
import time
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from sarra.eumetcast import messages, unpack
from sarra.eumetcast.config import ServerChain
from sarra.eumetcast.messages import Message
from sarra.eumetcast.sockets import Publisher, RequestServer
from sarra.eumetcast.transfers import Pusher, clean_url
from sarra.transfer.confine import PathRefused
from sarra.transfer.safe_fs import open_folder

log = logging.getLogger(__name__)

SERVED_MAX = 61_000
"""Files remembered as announced, per section (for validating requests and for info)."""
INFO_MAX = 2256
BACKLOG_DELAY = 3.0
"""Seconds the server waits after start before announcing the backlog (clients connect)."""


class Deleter:
    """Removes files at their due time, from one thread; a missing file is not an error. A file
    is removed from its root (sarra.transfer.safe_fs): never through a symlink that leads out."""

    def __init__(self, name: str) -> None:
        self._due: list[tuple[float, str, str]] = []
        self._scheduled: set[str] = set()
        self._wake = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=f"deleter-{name}", daemon=True)
        self._thread.start()

    def schedule(self, path: str, delay: float, root: str | None = None) -> None:
        """Remove `path` (below `root`, by default its own directory) in `delay` seconds,
        unless already scheduled."""
        with self._wake:
            if path in self._scheduled:
                return
            self._scheduled.add(path)
            due = (time.monotonic() + delay, path, root or os.path.dirname(path))
            heapq.heappush(self._due, due)
            self._wake.notify()

    def _run(self) -> None:
        with self._wake:
            while not self._stop:
                now = time.monotonic()
                while self._due and self._due[0][0] <= now:
                    _, path, root = heapq.heappop(self._due)
                    self._scheduled.discard(path)
                    try:
                        directory, name = os.path.split(path)
                        below = os.path.relpath(directory, root)
                        with open_folder(root, below, create=False) as folder:
                            if folder.remove(name):
                                log.info("deleted %s", path)
                    except FileNotFoundError:
                        pass
                    except (OSError, PathRefused) as err:
                        log.warning(
                            "cannot delete %s: %s", path, getattr(err, "strerror", None) or err
                        )
                timeout = self._due[0][0] - now if self._due else None
                self._wake.wait(timeout)

    def close(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify()
        self._thread.join(timeout=5)


class _Flight:
    """One push under way, and its outcome, shared with the requests that wait for it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.where = ""
        self.error: Exception | None = None


class ServingChain:
    """Answers requests for the files of one section: push, ack, ping, info."""

    def __init__(self, chain: ServerChain, pusher: Pusher | None = None) -> None:
        self.chain = chain
        self.name = chain.name
        self.started = time.monotonic()
        self.pusher = pusher or Pusher(chain.connection_parameters)
        self.deleter = Deleter(chain.name)
        self.served: OrderedDict[str, str] = OrderedDict()  # path -> topic/uid
        self._served_lock = threading.Lock()
        self._running: dict[tuple[str, str], _Flight] = {}
        self._running_lock = threading.Lock()

    def remember(self, path: str, uid: str, topic: str) -> None:
        with self._served_lock:
            self.served[path] = f"{topic}/{uid}"
            self.served.move_to_end(path)
            while len(self.served) > SERVED_MAX:
                self.served.popitem(last=False)

    def reachable(self, path: str) -> bool:
        """Whether a request may have this file: one we announced, or one the origin names."""
        with self._served_lock:
            if path in self.served:
                return True
        directory = os.path.dirname(path)
        allowed = {self.chain.origin.directory, self.chain.working_directory or ""}
        return directory in allowed and self.chain.origin.name_matches(path)

    def handle(self, message: Message) -> Message:
        """The reply to a request."""
        if message.type == "push":
            return self.push(message)
        if message.type == "ack":
            return self.ack(message)
        if message.type == "ping":
            return messages.make(message.subject, "pong", {"station": self.chain.station})
        if message.type == "info":
            return self.info(message)
        return messages.make(message.subject, "unknown")

    def local_path(self, item: dict[str, Any], request: Message) -> str:
        """The file a request item names, ready to push; raises LookupError if not ours."""
        path = urlsplit(str(item["uri"])).path
        if not self.reachable(path):
            raise LookupError(f"{path} not reachable")
        return path

    def push(self, message: Message) -> Message:
        data = message.data if isinstance(message.data, dict) else {}
        destination = str(data.get("destination", ""))
        items = messages.files(data)
        if not destination or not items:
            return messages.make(message.subject, "err", "push without destination or uri")
        pushed = []
        for item in items:
            try:
                path = self.local_path(item, message)
                self._push_once(path, destination)
            except Exception as err:
                log.error(
                    "[%s] push of %s to %s failed: %s",
                    self.name,
                    item.get("uid"),
                    clean_url(destination),
                    err,
                )
                return messages.make(message.subject, "err", str(err) or type(err).__name__)
            pushed.append(path)
        for path in pushed:
            self.served_once(path)
        reply = dict(data)
        reply["destination"] = clean_url(destination)
        kind = "file" if "uri" in data else ("dataset" if "dataset" in data else "collection")
        return messages.make(message.subject, kind, reply)

    def _push_once(self, path: str, destination: str) -> None:
        """Push, or wait for the same push already running and share its outcome."""
        key = (path, destination)
        with self._running_lock:
            flight = self._running.get(key)
            leader = flight is None
            if flight is None:
                flight = self._running[key] = _Flight()
        if not leader:
            log.info("[%s] %s is already being pushed there: waiting for it", self.name, path)
            flight.done.wait()
        else:
            started = time.monotonic()
            try:
                flight.where = self.pusher.push(path, destination)
            except Exception as err:
                flight.error = err
            with self._running_lock:
                del self._running[key]
            flight.done.set()
            if flight.error is None:
                log.info(
                    "[%s] pushed %s to %s in %.3f s",
                    self.name,
                    os.path.basename(path),
                    flight.where,
                    time.monotonic() - started,
                )
        if flight.error is not None:
            raise flight.error

    def served_once(self, path: str) -> None:
        """A file was pushed or acknowledged: schedule its removal if the section says so."""
        if self.chain.delete or self.chain.compression:
            self.deleter.schedule(path, self.chain.remove_delay, self.removal_root(path))

    def removal_root(self, path: str) -> str:
        """The directory a served file is removed from (never through a symlink out of it)."""
        return os.path.dirname(path)

    def ack(self, message: Message) -> Message:
        for item in messages.files(message.data):
            path = urlsplit(str(item["uri"])).path
            log.info("[%s] ack for %s", self.name, item.get("uid"))
            if self.reachable(path):
                self.served_once(path)
        return messages.make(message.subject, "ack", message.data)

    def info(self, message: Message) -> Message:
        data = message.data if isinstance(message.data, dict) else {}
        try:
            wanted = min(int(data.get("max_count", INFO_MAX)), INFO_MAX)
        except (TypeError, ValueError):
            wanted = INFO_MAX
        with self._served_lock:
            names = [n for n in self.served.values() if n.startswith(message.subject)]
        uptime = str(dt.timedelta(seconds=time.monotonic() - self.started))
        reply = {"files": names[-wanted:] if wanted else [], "max_count": wanted, "uptime": uptime}
        return messages.make(message.subject, "info", reply)

    def close(self) -> None:
        self.deleter.close()
        self.pusher.close()


class WatchedChain(ServingChain):
    """A server section: watcher, announcer and request port."""

    def __init__(self, chain: ServerChain, publisher: Publisher) -> None:
        super().__init__(chain)
        self.publisher = publisher
        self.requests: RequestServer | None = None
        host = chain.request_address or socket.gethostname()
        self.request_address = f"{host}:{chain.request_port}" if chain.request_port else None
        self.output_dir = chain.working_directory or tempfile.gettempdir()
        self._produced: set[str] = set()  # unpacked files we wrote: not new arrivals
        self._lock = threading.Lock()

    def start(self) -> None:
        if self.chain.request_port is not None:
            self.requests = RequestServer(self.chain.request_port, self.handle, self.name).start()

    def arrived(self, path: str) -> None:
        """A file was written or moved into the watched directory."""
        if not self.chain.origin.matches(path):
            return
        with self._lock:
            if path in self._produced:
                self._produced.discard(path)
                return
        try:
            if os.path.getsize(path) == 0:
                return
        except OSError:
            return  # gone already
        try:
            self.announce(path)
        except Exception:
            log.exception("[%s] cannot announce %s", self.name, path)

    def announce(self, path: str) -> None:
        try:
            fields = self.chain.origin.parse(path)
        except ValueError as err:
            log.warning("[%s] %s", self.name, err)
            return
        served = path
        if self.chain.compression:
            if self.chain.compression == "bzip" or path.endswith("C_"):
                with self._lock:  # the unpacked file may land in the watched directory
                    self._produced.add(self._unpacked_name(path))
            try:
                with open_folder(self.output_dir, ".") as output:
                    served = unpack.unpack(self.chain.compression, path, output, self.chain.prog)[0]
                if served != path and self.chain.delete:
                    with contextlib.suppress(OSError):
                        os.unlink(path)
            except (unpack.UnpackError, OSError) as err:
                log.error("[%s] announcing %s packed: %s", self.name, path, err)
        data: dict[str, Any] = dict(self.chain.info)
        data.update(fields)
        uid = os.path.basename(served)
        if self.request_address:
            data.update(uri=served, uid=uid, request_address=self.request_address)
        else:
            host = socket.gethostname()
            data.update(uri=f"ssh://{host}{served}", uid=uid)
            data["filesystem"] = {
                "cls": "fsspec.implementations.sftp.SFTPFileSystem",
                "protocol": "ssh",
                "args": [],
                "host": host,
            }
        self.remember(served, uid, self.chain.topic)
        self.publisher.send(messages.make(self.chain.topic, "file", data))
        log.info("[%s] announced %s", self.name, uid)

    def _unpacked_name(self, path: str) -> str:
        name = os.path.basename(path)
        name = name[:-2] + "__" if self.chain.compression == "xrit" else name.removesuffix(".bz2")
        return os.path.join(self.output_dir, name)

    def backlog(self) -> None:
        """Announce every file that matches the origin now (files that came while we were down)."""
        found = sorted(p for p in glob.glob(self.chain.origin.glob) if os.path.isfile(p))
        log.info("[%s] backlog: %d files", self.name, len(found))
        for path in found:
            self.arrived(path)

    def close(self) -> None:
        if self.requests is not None:
            self.requests.close()
        super().close()


class _Events(FileSystemEventHandler):
    def __init__(self, chains: list[WatchedChain], polling: bool) -> None:
        self.chains = chains
        self.polling = polling

    def dispatch(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            return
        if event.event_type == "moved":
            path = str(event.dest_path)
        elif event.event_type == "closed" or (self.polling and event.event_type == "created"):
            path = str(event.src_path)
        else:
            return
        for chain in self.chains:
            chain.arrived(path)


class Server:
    """All sections of a server config, one PUB socket for their announcements."""

    def __init__(
        self,
        chains: list[ServerChain],
        port: int = 9010,
        *,
        backlog: bool = True,
        polling: bool = False,
        backlog_delay: float = BACKLOG_DELAY,
    ) -> None:
        self.publisher = Publisher(port, "move_it_server")
        self.chains = [WatchedChain(c, self.publisher) for c in chains]
        self.backlog = backlog
        self.backlog_delay = backlog_delay
        timeout = min((c.watchdog_timeout for c in chains), default=1.0)
        self.observer = PollingObserver(timeout=timeout) if polling else Observer(timeout=timeout)
        self.polling = polling
        self._stop = threading.Event()

    def start(self) -> Server:
        self.publisher.start()
        by_dir: dict[str, list[WatchedChain]] = {}
        for chain in self.chains:
            chain.start()
            by_dir.setdefault(chain.chain.origin.directory, []).append(chain)
        for directory, chains in by_dir.items():
            os.makedirs(directory, exist_ok=True)
            self.observer.schedule(_Events(chains, self.polling), directory, recursive=False)
        self.observer.start()
        if self.backlog:
            threading.Thread(target=self._backlog, name="backlog", daemon=True).start()
        log.info(
            "move_it_server publishing on port %d, %d sections",
            self.publisher.port,
            len(self.chains),
        )
        return self

    def _backlog(self) -> None:
        if self._stop.wait(self.backlog_delay):
            return
        for chain in self.chains:
            chain.backlog()

    def stop(self) -> None:
        self._stop.set()
        self.observer.stop()
        self.observer.join(timeout=5)
        for chain in self.chains:
            chain.close()
        self.publisher.close()
