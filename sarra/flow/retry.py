"""The on-disk retry queue: notices whose transfer failed for a transient reason wait here,
so their broker message can be acknowledged without losing them.

Each entry is one JSON line (the raw message: routing key, body, headers, content type, and
when it first failed), appended and synced before the broker message is acknowledged. Entries
are retried oldest first with a growing delay; an entry older than `ttl` is given up with a log
line. `compact()` rewrites the file with the entries still pending (including those being
retried right now), so a crash at any moment loses none.

`open_retry_queue` gives the queue a config asks for: this one (retry_driver disk, one file per
instance) or the one in Redis shared by all instances of the config (retry_driver redis, see
retry_redis.py). Both have the same methods: put, take, done, compact, close and len().
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from sarra.config.loader import Config

logger = logging.getLogger(__name__)

FIRST_DELAY = 2.0
MAX_DELAY = 300.0


@dataclass
class RetryEntry:
    """A failed notice, as received, with its retry bookkeeping."""

    routing_key: str
    body: bytes
    headers: dict[str, str]
    content_type: str | None
    exchange: str | None
    first_failure: float = field(default_factory=time.time)
    attempts: int = 1
    reason: str = ""
    next_try: float = 0.0

    def to_line(self) -> str:
        record = asdict(self)
        record["body"] = base64.b64encode(self.body).decode("ascii")
        return json.dumps(record, sort_keys=True)

    @classmethod
    def from_line(cls, line: str) -> RetryEntry:
        record = json.loads(line)
        record["body"] = base64.b64decode(record["body"])
        return cls(**record)


class RetryQueue:
    """Failed notices waiting for another try, kept in a file."""

    def __init__(self, file: Path, ttl: float) -> None:
        self.file = file
        self.ttl = ttl
        self.pending: deque[RetryEntry] = deque()
        self.in_hand: list[RetryEntry] = []
        self._load()
        file.parent.mkdir(parents=True, exist_ok=True)
        self._append = open(file, "a", encoding="utf-8")  # noqa: SIM115 - kept open

    def _load(self) -> None:
        try:
            lines = self.file.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        for number, line in enumerate(lines, start=1):
            try:
                self.pending.append(RetryEntry.from_line(line))
            except (ValueError, TypeError, KeyError) as err:
                logger.warning("retry queue %s:%d: unreadable entry skipped (%s)", self.file,
                               number, err)  # fmt: skip

    def __len__(self) -> int:
        return len(self.pending) + len(self.in_hand)

    def put(self, entry: RetryEntry) -> None:
        """Keep a failed notice (durably: written and synced before returning)."""
        delay = min(MAX_DELAY, FIRST_DELAY * 2 ** (entry.attempts - 1))
        entry.next_try = time.time() + delay
        self._append.write(entry.to_line() + "\n")
        self._append.flush()
        os.fsync(self._append.fileno())
        if entry in self.in_hand:
            self.in_hand.remove(entry)
        self.pending.append(entry)

    def take(self, now: float | None = None) -> RetryEntry | None:
        """The oldest entry whose delay is over; expired entries are dropped on the way."""
        now = time.time() if now is None else now
        while self.pending:
            entry = self.pending[0]
            if now - entry.first_failure > self.ttl:
                self.pending.popleft()
                logger.error("retry_ttl of %gs reached: given up %s (last failure: %s)", self.ttl,
                             entry.routing_key, entry.reason)  # fmt: skip
                continue
            if entry.next_try > now:
                return None
            self.pending.popleft()
            self.in_hand.append(entry)
            return entry
        return None

    def done(self, entry: RetryEntry) -> None:
        """An entry taken was handled for good (delivered, or failed permanently)."""
        if entry in self.in_hand:
            self.in_hand.remove(entry)

    def compact(self) -> None:
        """Rewrite the file with the entries not yet handled for good."""
        fresh = self.file.with_name(self.file.name + ".new")
        with open(fresh, "w", encoding="utf-8") as out:
            for entry in [*self.in_hand, *self.pending]:
                out.write(entry.to_line() + "\n")
            out.flush()
            os.fsync(out.fileno())
        self._append.close()
        os.replace(fresh, self.file)
        self._append = open(self.file, "a", encoding="utf-8")  # noqa: SIM115

    def close(self) -> None:
        """Compact and close."""
        self.compact()
        self._append.close()


class Retries(Protocol):
    """What the loop needs of a retry queue (RetryQueue, RedisRetryQueue)."""

    def __len__(self) -> int: ...
    def put(self, entry: RetryEntry) -> None: ...
    def take(self, now: float | None = None) -> RetryEntry | None: ...
    def done(self, entry: RetryEntry) -> None: ...
    def compact(self) -> None: ...
    def close(self) -> None: ...


def open_retry_queue(config: Config, file: Path, stop: threading.Event) -> Retries:
    """The retry queue of a config's instance: `file` (retry_driver disk), or the queue in
    Redis at redisqueue_serverurl shared by every instance of the config (retry_driver redis,
    keys sarra.retry.<component>.<config>:*). Entries expire after retry_ttl, else expire."""
    ttl = config.retry_ttl or config.expire
    if config.retry_driver == "redis":
        from sarra.flow.retry_redis import RedisRetryQueue  # it builds on this module

        keybase = f"sarra.retry.{config.component}.{config.name}"
        return RedisRetryQueue(config.redisqueue_serverurl, keybase, ttl, stop=stop)
    return RetryQueue(file, ttl)
