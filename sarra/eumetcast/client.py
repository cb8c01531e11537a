"""move_it_client: listen to providers, ask for the files needed, re-announce them.

Per section, one thread listens to every provider (a SUB socket each, on the provider's own
topic when it names one, else the section's). An announcement of a file not received yet starts
its transfer: a `push` request to the announcing server's request_address, which copies the file
into `destination`. The first announcement wins; providers announcing the same file meanwhile
are queued as fallbacks, and acknowledged (`ack`) once the file is in. A file remembered as
received (per section, for `memory_ttl` seconds, across restarts) is acknowledged, not fetched.
Received files are unpacked if asked, their metadata rewritten, and announced on publish_port.
Messages are untrusted: a uid that is not one plain file name, or fields that would take the
destination out of its fixed directory, refuse the message (sarra.eumetcast.destination).
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import zmq

from sarra.eumetcast import messages, unpack
from sarra.eumetcast.config import ClientChain, Provider, parse_rewrite
from sarra.eumetcast.destination import (
    Target,
    check_arrived,
    local_root_of,
    make_way,
    plain_name,
    resolve,
)
from sarra.eumetcast.memory import Memory
from sarra.eumetcast.messages import BadMessage, Message
from sarra.eumetcast.sockets import POLL_MS, Publisher, context, request
from sarra.eumetcast.transfers import clean_url
from sarra.transfer.confine import PathRefused
from sarra.transfer.safe_fs import Folder

log = logging.getLogger(__name__)

PUSH_TRIES = 3
"""Tries of a push request per source, each on a fresh socket (as trollmoves)."""
WORKERS = 8

Received = Callable[[ClientChain, Message], None]
"""Told of each file received: the section and the `file` message announcing it locally."""


def rewrite(data: dict[str, Any], rewrites: dict[str, str], section: str) -> dict[str, Any]:
    """Apply the config's `key = a:b|c:d` (or literal) rewrites to the message's same keys; an
    unmapped value is kept, and logged."""
    result = dict(data)
    for key, text in rewrites.items():
        if key not in result:
            continue
        rule = parse_rewrite(text)
        if isinstance(rule, str):
            result[key] = rule
        elif str(result[key]) in rule:
            result[key] = rule[str(result[key])]
        else:
            log.warning("[%s] %s = %s is not in the %s map: kept", section, key, result[key], key)
    return result


def source_of(announcement: Message) -> str:
    """The request address of the server that announced a file."""
    return str(announcement.data["request_address"])


class ClientSection:
    """One section of a client (or the client half of a mirror section)."""

    def __init__(
        self,
        chain: ClientChain,
        state_dir: Path | None,
        *,
        publisher: Publisher | None = None,
        received: list[Received] | None = None,
        announcement: Callable[[Message, Provider], None] | None = None,
    ) -> None:
        """Without `announcement`, each file announced is fetched (a client); with it, each one
        is handed to it instead (a mirror fetches on demand, with `fetch`)."""
        self.chain = chain
        self.name = chain.name
        memory_path = state_dir / f"{chain.name}.memory" if state_dir else None
        self.memory = Memory(memory_path, chain.memory_ttl)
        self.publisher = publisher
        self.received = received or []
        self.announcement = announcement
        self.local_destination = announcement is not None
        """Whether the destination is on this host (ftp_root + path) even with ftp_root /."""
        self._ongoing: dict[tuple[str, ...], deque[Message]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix=f"client-{chain.name}")
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._listen, name=f"listen-{chain.name}", daemon=True
        )

    def start(self) -> ClientSection:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.memory.close()

    # --- listening

    def _topics(self, provider: Provider) -> list[str]:
        topics = [t for t in (provider.topic or self.chain.topic,) if t]
        if self.chain.heartbeat:
            own = f"/heartbeat/move_it_{self.name}"
            topics += [messages.SERVER_BEAT, messages.MIRROR_BEAT, own]
        return topics

    def _subscribe(self, provider: Provider) -> zmq.Socket:
        sock = context().socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVHWM, 100_000)
        sock.setsockopt(zmq.TCP_KEEPALIVE, 1)
        for topic in self._topics(provider):
            sock.setsockopt(zmq.SUBSCRIBE, messages.prefix(topic))
        sock.connect(provider.address)
        log.info(
            "[%s] listening to %s %s",
            self.name,
            provider.address,
            provider.topic or self.chain.topic or "(heartbeats)",
        )
        return sock

    def _listen(self) -> None:
        sockets = {self._subscribe(p): p for p in self.chain.providers}
        last = dict.fromkeys(self.chain.providers, time.monotonic())
        interval = dict.fromkeys(self.chain.providers, messages.BEAT_INTERVAL)
        poller = zmq.Poller()
        for sock in sockets:
            poller.register(sock, zmq.POLLIN)
        while not self._stop.is_set():
            for sock, _ in poller.poll(POLL_MS):
                provider = sockets[sock]
                while sock.poll(0):
                    raw = sock.recv()
                    last[provider] = time.monotonic()
                    try:
                        message = messages.decode(raw)
                    except BadMessage as err:
                        log.warning(
                            "[%s] unreadable message from %s: %s", self.name, provider.address, err
                        )
                        continue
                    if message.type == "beat" and isinstance(message.data, dict):
                        interval[provider] = float(message.data.get("min_interval", 30))
                    try:
                        self.dispatch(message, provider)
                    except Exception:  # one bad message must not stop the section
                        log.exception("[%s] cannot handle %s", self.name, message.subject)
            if self.chain.heartbeat_alarm_scale:
                now = time.monotonic()
                for sock, provider in list(sockets.items()):
                    if now - last[provider] > self.chain.heartbeat_alarm_scale * interval[provider]:
                        log.warning(
                            "[%s] missing a heartbeat from %s, restarting the subscriber",
                            self.name,
                            provider.address,
                        )
                        poller.unregister(sock)
                        sock.close()
                        del sockets[sock]
                        fresh = self._subscribe(provider)
                        sockets[fresh] = provider
                        poller.register(fresh, zmq.POLLIN)
                        last[provider] = now
        for sock in sockets:
            sock.close()

    def dispatch(self, message: Message, provider: Provider) -> None:
        """Act on one message from a provider."""
        data = message.data if isinstance(message.data, dict) else {}
        uids = messages.uids(data)
        if message.type == "beat" or not uids:
            return
        try:
            for uid in uids:
                plain_name(uid)
        except PathRefused as err:
            self._refused(err, message, provider)
            return
        if message.type == "ack" or (message.type == "file" and "request_address" not in data):
            for uid in uids:  # done elsewhere (another client or a hot spare)
                self.memory.add(uid)
            return
        if message.type not in messages.REPLY_OK or "request_address" not in data:
            return
        if self.announcement is not None:
            self.announcement(message, provider)
            return
        try:
            self.target(data)
        except PathRefused as err:
            self._refused(err, message, provider)
            return
        except ValueError:
            pass  # a field missing: told when it is fetched
        key = tuple(sorted(uids))
        with self._lock:
            if all(uid in self.memory for uid in uids):
                ack = True
            elif key in self._ongoing:
                self._ongoing[key].append(message)
                log.debug("[%s] %s also from %s", self.name, key[0], data["request_address"])
                return
            else:
                ack = False
                self._ongoing[key] = deque([message])
        if ack:
            log.debug("[%s] %s already here: ack to %s", self.name, key[0], data["request_address"])
            self._pool.submit(self.send_ack, message)
        else:
            self._pool.submit(self._get, key)

    def _refused(self, err: PathRefused, message: Message, provider: Provider) -> None:
        log.warning("[%s] %s (a %s from %s)", self.name, err, message.type, provider.address)

    def target(self, data: dict[str, Any]) -> Target:
        """Where the files of an announcement go: ValueError for a field missing, PathRefused
        for a uid that is not one plain name or fields that take the destination out."""
        for item in messages.files(data):
            plain_name(str(item.get("uid", "")))
        return resolve(self.chain.destination, data, self.chain.login, self._ftp_root())

    @property
    def local_root(self) -> str | None:
        """The destination's fixed directory on this host (None: not on this host)."""
        return local_root_of(self.chain.destination, self._ftp_root())

    def _ftp_root(self) -> str | None:
        """Where ftp, scp and sftp destinations are on this host; None: not on this host."""
        return self.chain.ftp_root if self.chain.ftp_root != "/" or self.local_destination else None

    def local_copy(self, data: dict[str, Any], uid: str) -> str | None:
        """The path of a file of this announcement received here: a regular file at its place
        below the destination, or None."""
        try:
            name = plain_name(uid)
            target = self.target(data)
            if target.local_root is None:
                return None
            with target.open(create=False) as folder:
                st = folder.lstat(name)
                return str(folder.path_of(name)) if st and stat.S_ISREG(st.st_mode) else None
        except (ValueError, OSError):
            return None

    # --- fetching

    def _get(self, key: tuple[str, ...]) -> None:
        if self.chain.processing_delay:
            time.sleep(self.chain.processing_delay)
        while True:
            with self._lock:
                sources = self._ongoing[key]
                if all(uid in self.memory for uid in key):
                    del self._ongoing[key]
                    others = list(sources)
                    break
                if not sources:
                    del self._ongoing[key]
                    log.error("[%s] could not get a working source for %s", self.name, key[0])
                    return
                source = sources.popleft()
            try:
                fetched = self.fetch(source)
            except PathRefused as err:  # our destination refuses it, whoever sends it
                log.error("[%s] %s (%s from %s)", self.name, err, key[0], source_of(source))
                with self._lock:
                    self._ongoing.pop(key, None)
                return
            except Exception:  # a bug must not leave the file marked as under way for ever
                log.exception("[%s] fetching %s failed", self.name, key[0])
                fetched = None
            if fetched is not None:
                with self._lock:
                    for uid in key:
                        self.memory.add(uid)
                    others = list(self._ongoing.pop(key))
                break
        for other in others:
            self.send_ack(other)

    def fetch(self, announcement: Message) -> dict[str, Any] | None:
        """Have the announcing server push the file here; the local file message's data, or
        None (logged) if it failed. PathRefused (not logged) if the destination refuses it: a
        name or field that leads out, a symlink on the way that leads out, no regular file."""
        data = dict(announcement.data)
        server = source_of(announcement)
        uid = ",".join(messages.uids(data))
        try:
            target = self.target(data)
        except PathRefused:
            raise
        except ValueError as err:
            log.error("[%s] no destination for %s: %s", self.name, uid, err)
            return None
        names = [str(item["uid"]) for item in messages.files(data)]
        folder = self._prepare(target, names)
        try:
            if not self._push(announcement, target, server, uid):
                return None
            if folder is None and target.local_root is not None:
                try:
                    folder = target.open(create=False)
                except FileNotFoundError as err:
                    log.error("[%s] %s pushed %s, but %s", self.name, server, uid, err)
                    return None
            for name in names if folder is not None else []:
                check_arrived(folder, name)
            if self.publisher is not None:
                self.publisher.send(messages.make(announcement.subject, "ack", data))
            return self._received(announcement, target, folder)
        finally:
            if folder is not None:
                folder.close()

    def _prepare(self, target: Target, names: list[str]) -> Folder | None:
        """The destination directory on this host, opened (made, with create_target_directory)
        and the way made for the files' names; None if it is not on this host, or not there
        yet for the push to make. PathRefused if it leads out."""
        if target.local_root is None:
            return None
        try:
            folder = target.open(create=self.chain.create_target_directory)
        except FileNotFoundError:
            return None
        except PathRefused:
            raise
        except OSError as err:
            log.warning("[%s] cannot make %s: %s", self.name, target.local_dir, err.strerror)
            return None
        try:
            for name in names:
                make_way(folder, name)
        except BaseException:
            folder.close()
            raise
        return folder

    def _push(self, announcement: Message, target: Target, server: str, uid: str) -> bool:
        """Ask the server for the push (3 tries); whether it replied that it pushed."""
        data = dict(announcement.data)
        started = time.monotonic()
        request_data = dict(data, destination=target.url)
        if self.publisher is not None:
            public = dict(data, destination=clean_url(target.url))
            self.publisher.send(messages.make(announcement.subject, "push", public))
        reply = None
        for attempt in range(1, PUSH_TRIES + 1):
            push = messages.make(announcement.subject, "push", request_data)
            reply = request(server, push, self.chain.transfer_req_timeout)
            if reply is not None:
                break
            log.warning(
                "[%s] no reply from %s for %s (try %d of %d)",
                self.name,
                server,
                uid,
                attempt,
                PUSH_TRIES,
            )
        if reply is None or reply.type not in messages.REPLY_OK:
            why = reply.data if reply is not None else "no reply"
            log.error("[%s] %s did not push %s: %s", self.name, server, uid, why)
            return False
        log.info(
            "[%s] received %s from %s in %.3f s", self.name, uid, server, time.monotonic() - started
        )
        return True

    def _received(
        self, announcement: Message, target: Target, folder: Folder | None
    ) -> dict[str, Any]:
        data = dict(announcement.data)
        origin = data.pop("request_address")
        data.pop("destination", None)
        paths = []
        for item in messages.files(data):
            uid = str(item["uid"])
            if folder is None:
                paths.append(clean_url(target.url).rstrip("/") + "/" + uid)
                continue
            path = str(folder.path_of(uid))
            try:
                unpacked = unpack.unpack(
                    self.chain.compression,
                    path,
                    folder,
                    self.chain.xritdecompressor,
                    self.chain.block_size,
                )
                if unpacked != [path] and self.chain.delete:
                    folder.remove(uid)
            except (unpack.UnpackError, OSError) as err:
                log.error("[%s] cannot unpack %s: %s", self.name, path, err)
                unpacked = [path]
            paths.extend(unpacked)
        data = rewrite(data, self.chain.rewrites, self.name)
        data["origin"] = origin
        kind = "file"
        if len(paths) == 1:
            data.update(uri=paths[0], uid=os.path.basename(paths[0]))
        else:
            kind = "dataset"
            for key in ("uri", "uid", "collection"):
                data.pop(key, None)
            data["dataset"] = [{"uri": p, "uid": os.path.basename(p)} for p in paths]
        local = messages.make(announcement.subject, kind, data)
        if self.publisher is not None:
            self.publisher.send(local)
        for tell in self.received:
            try:
                tell(self.chain, local)
            except Exception:
                log.exception("[%s] telling of %s failed", self.name, paths)
        return data

    def send_ack(self, announcement: Message) -> None:
        """Tell a provider the file is in, so it may remove its copy."""
        server = source_of(announcement)
        ack = messages.make(announcement.subject, "ack", announcement.data)
        if request(server, ack, self.chain.req_timeout) is None:
            log.warning("[%s] no reply to ack from %s", self.name, server)


class Client:
    """Every section of a client config; each with its own publisher on publish_port."""

    def __init__(
        self,
        chains: list[ClientChain],
        state_dir: Path | None,
        received: list[Received] | None = None,
    ) -> None:
        self.sections: list[ClientSection] = []
        self.received = list(received or [])
        for chain in chains:
            publisher = Publisher(chain.publish_port, f"move_it_{chain.name}")
            tellers = list(received or [])
            self.sections.append(
                ClientSection(chain, state_dir, publisher=publisher, received=tellers)
            )

    def start(self) -> Client:
        for section in self.sections:
            if section.publisher is not None:
                section.publisher.start()
            section.start()
        return self

    def stop(self) -> None:
        for section in self.sections:
            section.stop()
            if section.publisher is not None:
                section.publisher.close()
        for tell in self.received:
            close = getattr(tell, "close", None)
            if close is not None:
                close()
