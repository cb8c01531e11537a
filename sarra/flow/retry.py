"""The on-disk retry queue: notices whose transfer failed for a transient reason wait here,
so their broker message can be acknowledged without losing them.

Each entry is one JSON line (the raw message: routing key, body, headers, content type, and
when it first failed, with an id of its own), appended and synced before the broker message is
acknowledged. Entries are retried oldest first with a growing delay; an entry older than `ttl`
is given up with a log line. `compact()` rewrites the file with the entries still pending
(including those being retried right now), so a crash at any moment loses none; an entry put
again before a compaction has two lines, and the last one counts.

The queue is used at once by the worker threads (put, done, release) and by the loop's thread
(take, compact, len): one lock guards its memory and its file. A `put` that fails (the disk
full, unwritable) raises and leaves the queue as it was; the caller must then not acknowledge
the notice, and hands a taken entry back with `release`.

`open_retry_queue` gives the queue a config asks for: this one (retry_driver disk, one file per
instance) or the one in Redis shared by all instances of the config (retry_driver redis, see
retry_redis.py). Both have the same methods: put, take, done, release, compact, close and len().
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import os
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Protocol

from sarra.config.loader import Config

logger = logging.getLogger(__name__)

FIRST_DELAY = 2.0
MAX_DELAY = 300.0


def retry_delay(attempts: int) -> float:
    """Seconds before another try of an entry that failed `attempts` times."""
    return min(MAX_DELAY, FIRST_DELAY * 2 ** (attempts - 1))


@dataclass(eq=False)
class RetryEntry:
    """A failed notice, as received, with its retry bookkeeping (equal only to itself)."""

    routing_key: str
    body: bytes
    headers: dict[str, str]
    content_type: str | None
    exchange: str | None
    first_failure: float = field(default_factory=time.time)
    attempts: int = 1
    reason: str = ""
    next_try: float = 0.0
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_line(self, *, with_id: bool = True) -> str:
        """The entry as one JSON line (without its id where the id is kept apart, so that
        versions before ids read it too)."""
        record = asdict(self)
        if not with_id:
            del record["id"]
        record["body"] = base64.b64encode(self.body).decode("ascii")
        return json.dumps(record, sort_keys=True)

    @classmethod
    def from_line(cls, line: str) -> RetryEntry:
        record = json.loads(line)
        record["body"] = base64.b64decode(record["body"])
        return cls(**record)


def read_entries(file: Path) -> list[RetryEntry]:
    """The entries of a queue's file, in order of first appearance; of the lines of one entry,
    the last; unreadable lines skipped with a warning."""
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    entries: dict[str, RetryEntry] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = RetryEntry.from_line(line)
        except (ValueError, TypeError, KeyError) as err:
            logger.warning("retry queue %s:%d: unreadable entry skipped (%s)", file, number, err)
            continue
        entries[entry.id] = entry
    return list(entries.values())


class RetryQueue:
    """Failed notices waiting for another try, kept in a file; safe to share by threads."""

    def __init__(self, file: Path, ttl: float) -> None:
        self.file = file
        self.ttl = ttl
        self._lock = threading.Lock()
        self.pending: deque[RetryEntry] = deque(read_entries(file))
        self.in_hand: dict[str, RetryEntry] = {}  # taken, by id
        file.parent.mkdir(parents=True, exist_ok=True)
        self._append: IO[str] | None = None  # opened when first needed

    def __len__(self) -> int:
        with self._lock:
            return len(self.pending) + len(self.in_hand)

    def put(self, entry: RetryEntry) -> None:
        """Keep a failed notice (durably: written and synced before returning). Raises
        OSError when it cannot be written; the queue is then as it was."""
        next_try = time.time() + retry_delay(entry.attempts)
        line = dataclasses.replace(entry, next_try=next_try).to_line() + "\n"
        with self._lock:
            try:
                append = self._append or self._open_append()
                append.write(line)
                append.flush()
                os.fsync(append.fileno())
            except BaseException:
                self._close_append()  # the next put starts on a line of its own
                raise
            entry.next_try = next_try
            self.in_hand.pop(entry.id, None)
            self.pending.append(entry)

    def _open_append(self) -> IO[str]:
        """Open the file for appending, after a newline if it ends in a torn line (a crash or
        a failed write in the middle of one)."""
        try:
            with open(self.file, "rb") as existing:
                existing.seek(-1, os.SEEK_END)
                torn = existing.read(1) != b"\n"
        except OSError:  # absent or empty
            torn = False
        append = open(self.file, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        self._append = append
        if torn:
            append.write("\n")
        return append

    def take(self, now: float | None = None) -> RetryEntry | None:
        """The oldest entry whose delay is over; expired entries are dropped on the way."""
        now = time.time() if now is None else now
        with self._lock:
            while self.pending:
                entry = self.pending[0]
                if now - entry.first_failure > self.ttl:
                    self.pending.popleft()
                    logger.error("retry_ttl of %gs reached: given up %s (last failure: %s)",
                                 self.ttl, entry.routing_key, entry.reason)  # fmt: skip
                    continue
                if entry.next_try > now:
                    return None
                self.pending.popleft()
                self.in_hand[entry.id] = entry
                return entry
            return None

    def done(self, entry: RetryEntry) -> None:
        """An entry taken was handled for good (delivered, or failed permanently)."""
        with self._lock:
            self.in_hand.pop(entry.id, None)

    def release(self, entry: RetryEntry) -> None:
        """An entry taken was not handled (its new failure could not be kept): it waits again,
        unchanged on disk, for another try after its delay."""
        with self._lock:
            if self.in_hand.pop(entry.id, None) is not None:
                entry.next_try = time.time() + retry_delay(entry.attempts)
                self.pending.append(entry)

    def compact(self) -> None:
        """Rewrite the file with the entries not yet handled for good (if the disk refuses,
        the file stays as it is, longer, and this is logged)."""
        fresh = self.file.with_name(self.file.name + ".new")
        with self._lock:
            try:
                with open(fresh, "w", encoding="utf-8") as out:
                    for entry in [*self.in_hand.values(), *self.pending]:
                        out.write(entry.to_line() + "\n")
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(fresh, self.file)
            except OSError as err:
                logger.error("retry queue %s not compacted: %s", self.file, err)
                fresh.unlink(missing_ok=True)
                return
            self._close_append()

    def _close_append(self) -> None:
        """Close the append file (opened again, on the file then in place, by the next put)."""
        append, self._append = self._append, None
        if append is not None:
            try:
                append.close()
            except OSError as err:  # its last write is lost with it: logged
                logger.warning("retry queue %s: closing: %s", self.file, err)

    def close(self) -> None:
        """Compact and close."""
        self.compact()
        with self._lock:
            self._close_append()


class Retries(Protocol):
    """What the loop needs of a retry queue (RetryQueue, RedisRetryQueue)."""

    def __len__(self) -> int: ...
    def put(self, entry: RetryEntry) -> None: ...
    def take(self, now: float | None = None) -> RetryEntry | None: ...
    def done(self, entry: RetryEntry) -> None: ...
    def release(self, entry: RetryEntry) -> None: ...
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
