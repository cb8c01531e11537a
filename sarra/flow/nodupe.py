"""Duplicate suppression: a notice whose key was seen within the TTL is a duplicate.

The key is the checksum with what the basis says makes two files the same: the path
(default), the file name, or the data alone; parts count separately. A WIS2 notification
message is claimed under two keys instead: its message id, then its data_id with its pubtime
(the same data under another id, from the other channel), and passes only when both pass.

A notice is first *claimed* (it passes: no other copy is known) and *settled* once its work is
done, just before it is acknowledged. Only settled keys are remembered for good: a component
killed between the two has its claimed notices redelivered, and a redelivered notice whose key
is claimed but not settled takes the claim over. So a crash neither loses a product (its copy
was claimed, never passed on) nor passes it twice (it was settled before the ack).

Two drivers: `disk` keeps the keys in memory and in an append-only file per instance
(`<key> <epoch> <quoted path>` a line) that survives a restart; `redis` keeps them in a Redis
server shared by every instance on every host, so copies arriving at different instances
are still one product.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import threading
import time
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, unquote

from sarra.broker.backoff import Backoff, Outage
from sarra.config.credentials import redact_url
from sarra.config.loader import Config
from sarra.flow import wis2
from sarra.message.notice import Notice

logger = logging.getLogger("sarra.flow")


def notice_keys(notice: Notice, basis: str) -> list[tuple[str, str]]:
    """The (key, path) pairs a notice is claimed under: a WIS2 notification message by its
    message id, then by its data_id and pubtime (sarra.flow.wis2); any other by notice_key."""
    if wis2.is_wis2(notice):
        return wis2.duplicate_keys(notice)
    return [notice_key(notice, basis)]


def notice_key(notice: Notice, basis: str) -> tuple[str, str]:
    """The (checksum key, path) pair of a notice under a basis: path, name or data."""
    if notice.identity is not None:
        key = f"{notice.identity.method},{notice.identity.value}"
    else:
        key = f"{notice.rel_path},{notice.mtime or notice.pubtime},{notice.size}"
    if notice.file_op:
        key += "," + ",".join(sorted(notice.file_op))
    if notice.blocks is not None:
        key += f",{notice.blocks.size},{notice.blocks.number}"
    if basis == "data":
        path = "data"
    elif basis == "name":
        path = posixpath.basename(notice.rel_path)
    else:
        path = notice.rel_path
    return key, path


class NoDupeUnavailable(Exception):
    """The shared cache cannot be reached and the component is stopping: leave the notice
    unacknowledged (the broker delivers it again)."""


class NoDupe(Protocol):
    """What the loop asks of a duplicate cache."""

    def claim(self, key: str, path: str, redelivered: bool = False) -> bool:
        """True when this copy passes; False when a duplicate within the TTL."""
        ...

    def settle(self, key: str, path: str) -> None:
        """The claimed notice is done: remember its key for the TTL (never raises)."""
        ...

    def compact(self) -> int:
        """Housekeeping: forget expired keys; returns the number kept (-1 when unknown)."""
        ...

    def close(self) -> None:
        """Release files and connections."""
        ...


class NoDupeCache:
    """Seen keys with their time, kept for `ttl` seconds; persisted when given a file."""

    def __init__(self, ttl: float, file: Path | None = None) -> None:
        self.ttl = ttl
        self.file = file
        self.entries: dict[tuple[str, str], float] = {}
        self.claimed: set[tuple[str, str]] = set()
        self._lock = threading.Lock()  # settle runs in the publisher's thread
        if file is not None:
            self._load(file)
            file.parent.mkdir(parents=True, exist_ok=True)
            self._append = open(file, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        else:
            self._append = None

    def _load(self, file: Path) -> None:
        horizon = time.time() - self.ttl
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        for line in lines:
            parts = line.split(" ")
            if len(parts) != 3:
                continue
            key, stamp, path = parts
            try:
                seen = float(stamp)
            except ValueError:
                continue
            if seen > horizon:
                self.entries[(unquote(key), unquote(path))] = seen

    def claim(
        self, key: str, path: str, redelivered: bool = False, now: float | None = None
    ) -> bool:
        """True when new (now claimed), or redelivered while claimed and not settled."""
        now = time.time() if now is None else now
        entry = (key, path)
        with self._lock:
            if entry in self.claimed:
                return redelivered
            seen = self.entries.get(entry)
            if seen is not None and now - seen <= self.ttl:
                self.entries[entry] = now  # a product still arriving stays known
                return False
            self.claimed.add(entry)
            return True

    def settle(self, key: str, path: str, now: float | None = None) -> None:
        """Remember the key as done (in the file before the notice is acknowledged)."""
        now = time.time() if now is None else now
        with self._lock:
            self.claimed.discard((key, path))
            self.entries[(key, path)] = now
            if self._append is not None:
                self._append.write(f"{quote(key, safe='')} {now:.3f} {quote(path, safe='')}\n")
                self._append.flush()

    def compact(self, now: float | None = None) -> int:
        """Drop expired entries and rewrite the file; returns the number kept."""
        now = time.time() if now is None else now
        with self._lock:
            self.entries = {k: t for k, t in self.entries.items() if now - t <= self.ttl}
            if self.file is not None and self._append is not None:
                fresh = self.file.with_name(self.file.name + ".new")
                with open(fresh, "w", encoding="utf-8") as out:
                    for (key, path), seen in self.entries.items():
                        out.write(f"{quote(key, safe='')} {seen:.3f} {quote(path, safe='')}\n")
                    out.flush()
                    os.fsync(out.fileno())
                self._append.close()
                os.replace(fresh, self.file)
                self._append = open(self.file, "a", encoding="utf-8")  # noqa: SIM115
            return len(self.entries)

    def close(self) -> None:
        """Close the append file."""
        with self._lock:
            if self._append is not None:
                self._append.close()
                self._append = None


CLAIMED = b"claimed"
SETTLED = b"settled"


class RedisNoDupe:
    """Keys in a Redis server shared by instances and hosts: `<keybase>:<digest of key, path>`
    holding `claimed` or `settled`, expiring after the TTL. Claims are atomic (SET NX), so of
    two copies arriving at two instances at once exactly one passes. While Redis is down the
    loop waits (notices stay unacknowledged), retrying with back-off (at most 4 s) until `stop`
    is set; the first failure is logged, then one line a minute, and the recovery."""

    def __init__(self, ttl: float, url: str, keybase: str, stop: threading.Event) -> None:
        self.ttl = max(1, round(ttl))
        self.url = url
        self.keybase = keybase
        self.stop = stop
        import redis  # 50 ms of imports: only for a config that names this driver

        self.client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self._failure: type[Exception] = redis.RedisError
        self._outage = Outage()  # of claims, in the loop's thread

    def _name(self, key: str, path: str) -> str:
        digest = hashlib.blake2b(f"{key}\n{path}".encode(), digest_size=16).hexdigest()
        return f"{self.keybase}:{digest}"

    def _call(self, what: str, *args: object) -> object:
        backoff = Backoff(first=0.5)
        while True:
            try:
                answer = self.client.execute_command(what, *args)
            except self._failure as err:
                if self.stop.is_set():
                    raise NoDupeUnavailable(str(err)) from err
                delay = backoff.next()
                if self._outage.failed(str(err)):
                    logger.error("duplicate cache %s unreachable (%s); trying again in %.1fs",
                                 redact_url(self.url), err, delay)  # fmt: skip
                self.stop.wait(delay)
                continue
            away = self._outage.recovered()
            if away is not None:
                logger.info("duplicate cache %s reachable again after %.1f s away",
                            redact_url(self.url), away)  # fmt: skip
            return answer

    def claim(self, key: str, path: str, redelivered: bool = False) -> bool:
        """True when this copy passes (claimed now, or taken over when redelivered)."""
        name = self._name(key, path)
        if self._call("SET", name, CLAIMED, "NX", "EX", self.ttl):
            return True
        return redelivered and self._call("GET", name) == CLAIMED

    def settle(self, key: str, path: str) -> None:
        """Mark the key settled for the TTL: one try, never waiting (it runs in the broker
        connection's thread). If Redis is away, the claim stays and still keeps other copies
        out for the TTL; only a redelivery of this very notice would pass it again."""
        try:
            self.client.execute_command("SET", self._name(key, path), SETTLED, "EX", self.ttl)
        except self._failure as err:
            logger.warning("duplicate cache %s: %s not settled (%s); its claim still holds",
                           redact_url(self.url), path, err)  # fmt: skip

    def compact(self) -> int:
        """Redis expires keys by itself."""
        return -1

    def close(self) -> None:
        """Close the connections."""
        self.client.close()


def open_nodupe(config: Config, cache_file: Path, stop: threading.Event) -> NoDupe | None:
    """The duplicate cache a config asks for, or None when suppress_duplicates is off."""
    if not config.suppress_duplicates:
        return None
    if config.nodupe_driver == "redis":
        keybase = config.nodupe_redis_keybase or f"sarra.nodupe.{config.component}.{config.name}"
        return RedisNoDupe(config.suppress_duplicates, config.nodupe_redis_serverurl, keybase, stop)
    if config.reset:
        cache_file.unlink(missing_ok=True)
    return NoDupeCache(config.suppress_duplicates, cache_file)
