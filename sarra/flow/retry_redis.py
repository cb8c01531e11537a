"""The retry queue in Redis (retry_driver redis): one queue shared by every instance of a
config, on any host, so that a failed notice is retried by whichever instance is free.

Keys, under `<keybase>` (sarra.retry.<component>.<config>):

    <keybase>:entries   hash    id -> the entry as one JSON line (RetryEntry.to_line, no id)
    <keybase>:pending   zset    id scored by when it may be tried again
    <keybase>:taken     zset    id scored by when its lease runs out

An entry's id (RetryEntry.id) is its key in the three. `take` moves the entry due first from
pending to taken, with a lease, in one script; `put`, `done` and `release` end the lease, each
in one transaction: an entry is always in exactly one of pending and taken, and `len()` (one
transaction too) counts each once. An instance renews the leases of the entries it holds (a
thread, every third of the lease), so an entry held by an instance that died goes back to
pending once its lease has run out, and another instance takes it: none is lost. Entries older
than `ttl` are given up with a log line, as on disk.

While Redis is unreachable, `put` waits for it (the notice stays unacknowledged meanwhile;
attempts at most 4 s apart), then raises, leaving the queue as it was; `take` finds nothing;
`done` and `release` leave the entry to its lease. The first failure is logged, then a line a
minute while it lasts, and the recovery.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time

import redis

from sarra.broker.backoff import Backoff, Outage
from sarra.config.credentials import redact_url
from sarra.flow.retry import RetryEntry, retry_delay

logger = logging.getLogger(__name__)

LEASE = 60.0
"""Seconds a taken entry stays with its instance without a renewal."""

PUT_PATIENCE = 300.0
"""Seconds `put` waits for an unreachable Redis before it gives up (raises)."""

# Entries whose lease ran out (ARGV[2], the clock) go back to pending; then the entry due
# first by ARGV[1] is leased until ARGV[3].
_TAKE = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', 0, 100)
for _, id in ipairs(expired) do
    redis.call('ZREM', KEYS[2], id)
    redis.call('ZADD', KEYS[1], ARGV[2], id)
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
if #due == 0 then return false end
local id = due[1]
redis.call('ZREM', KEYS[1], id)
redis.call('ZADD', KEYS[2], ARGV[3], id)
return {id, redis.call('HGET', KEYS[3], id) or ''}
"""


class RedisRetryQueue:
    """Failed notices waiting for another try, kept in Redis and shared by instances."""

    def __init__(
        self, url: str, keybase: str, ttl: float, *, lease: float = LEASE, stop: threading.Event
    ) -> None:
        self.url = url
        self.keybase = keybase
        self.ttl = ttl
        self.lease = lease
        self.client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self._pending = f"{keybase}:pending"
        self._taken = f"{keybase}:taken"
        self._entries = f"{keybase}:entries"
        self._take = self.client.register_script(_TAKE)
        self._stop = stop
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._in_hand: dict[str, RetryEntry] = {}  # taken by this instance, by id
        self._takes = Outage()  # of take, in the loop's thread
        self._renewer = threading.Thread(
            target=self._renew_leases, name=f"retry leases {keybase}", daemon=True
        )
        self._renewer.start()

    def __len__(self) -> int:
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.zcard(self._pending)
            pipe.zcard(self._taken)
            return sum(int(count) for count in pipe.execute())
        except redis.RedisError:
            return 0

    def put(self, entry: RetryEntry) -> None:
        """Keep a failed notice (in Redis before returning; waits while Redis is down, up to
        PUT_PATIENCE, then raises: the queue is then as it was)."""
        next_try = time.time() + retry_delay(entry.attempts)
        backoff, outage = Backoff(first=0.5), Outage()
        give_up = time.monotonic() + PUT_PATIENCE
        line = dataclasses.replace(entry, next_try=next_try).to_line(with_id=False)
        while True:
            try:
                pipe = self.client.pipeline(transaction=True)
                pipe.hset(self._entries, entry.id, line)
                pipe.zadd(self._pending, {entry.id: next_try})
                pipe.zrem(self._taken, entry.id)
                pipe.execute()
                break
            except redis.RedisError as err:
                if self._stop.is_set() or time.monotonic() > give_up:
                    raise
                wait = backoff.next()
                if outage.failed(str(err)):
                    logger.error("retry queue %s unreachable (%s); trying again in %.1fs",
                                 redact_url(self.url), err, wait)  # fmt: skip
                self._stop.wait(wait)
        entry.next_try = next_try
        with self._lock:
            self._in_hand.pop(entry.id, None)

    def take(self, now: float | None = None) -> RetryEntry | None:
        """The entry due first (leased to this instance); expired entries are dropped."""
        now = time.time() if now is None else now
        while True:
            try:
                found = self._take(
                    keys=[self._pending, self._taken, self._entries],
                    args=[now, time.time(), time.time() + self.lease],
                )
            except redis.RedisError as err:
                if self._takes.failed(str(err)):
                    logger.warning("retry queue %s unreachable: %s", redact_url(self.url), err)
                return None
            away = self._takes.recovered()
            if away is not None:
                logger.info("retry queue %s reachable again after %.1f s away",
                            redact_url(self.url), away)  # fmt: skip
            if not found:
                return None
            key, line = found[0].decode(), found[1].decode()
            try:
                entry = RetryEntry.from_line(line)
                entry.id = key
            except (ValueError, TypeError, KeyError) as err:
                logger.warning("retry queue %s: unreadable entry %s dropped (%s)",
                               self.keybase, key, err)  # fmt: skip
                self._forget(key)
                continue
            if now - entry.first_failure > self.ttl:
                logger.error("retry_ttl of %gs reached: given up %s (last failure: %s)", self.ttl,
                             entry.routing_key, entry.reason)  # fmt: skip
                self._forget(key)
                continue
            with self._lock:
                self._in_hand[key] = entry
            return entry

    def done(self, entry: RetryEntry) -> None:
        """An entry taken was handled for good (delivered, or failed permanently)."""
        with self._lock:
            held = self._in_hand.pop(entry.id, None)
        if held is not None:
            self._forget(entry.id)

    def release(self, entry: RetryEntry) -> None:
        """An entry taken was not handled (its new failure could not be kept): it waits again,
        unchanged, for another try after its delay (or, Redis away, once its lease runs out)."""
        with self._lock:
            held = self._in_hand.pop(entry.id, None)
        if held is None:
            return
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.zadd(self._pending, {entry.id: time.time() + retry_delay(entry.attempts)})
            pipe.zrem(self._taken, entry.id)
            pipe.execute()
        except redis.RedisError as err:
            logger.warning("retry queue %s: entry %s left to its lease (%s)",
                           redact_url(self.url), entry.id, err)  # fmt: skip

    def compact(self) -> None:
        """Nothing to rewrite: Redis keeps the entries; leases are renewed by a thread."""

    def close(self) -> None:
        """Hand back the entries still held (due at once, for any instance), and disconnect."""
        self._closed.set()
        self._renewer.join(5)
        with self._lock:
            held, self._in_hand = list(self._in_hand), {}
        try:
            if held:
                pipe = self.client.pipeline(transaction=True)
                for key in held:
                    pipe.zrem(self._taken, key)
                    pipe.zadd(self._pending, {key: time.time()})
                pipe.execute()
        except redis.RedisError as err:
            logger.warning("retry queue %s: %d entries left to their lease (%s)",
                           redact_url(self.url), len(held), err)  # fmt: skip
        self.client.close()

    def _forget(self, key: str) -> None:
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.hdel(self._entries, key)
            pipe.zrem(self._taken, key)
            pipe.zrem(self._pending, key)
            pipe.execute()
        except redis.RedisError as err:
            logger.warning("retry queue %s: entry %s left to its lease (%s)",
                           redact_url(self.url), key, err)  # fmt: skip

    def _renew_leases(self) -> None:
        while not self._closed.wait(self.lease / 3):
            with self._lock:
                keys = list(self._in_hand)
            if not keys:
                continue
            try:
                until = time.time() + self.lease
                self.client.zadd(self._taken, dict.fromkeys(keys, until), xx=True)
            except redis.RedisError as err:
                logger.warning("retry queue %s: leases not renewed (%s)", redact_url(self.url), err)
