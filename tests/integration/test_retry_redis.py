"""The retry queue in the real Redis (127.0.0.1:6379), shared by instances: entries move from
one instance to another, and one held by an instance that dies is not lost."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from queue_stress import Stress

from sarra.config.loader import load
from sarra.flow.retry import RetryEntry, RetryQueue, open_retry_queue
from sarra.flow.retry_redis import RedisRetryQueue

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def keybase() -> Iterator[str]:
    """A key prefix of this test alone, its keys removed afterwards."""
    base = f"sarra.test.retry.{uuid.uuid4().hex[:12]}"
    yield base
    client = redis.Redis.from_url(REDIS)
    for name in client.scan_iter(f"{base}:*"):
        client.delete(name)
    client.close()


@pytest.fixture
def stop() -> threading.Event:
    return threading.Event()


def entry(name: str, **kw: object) -> RetryEntry:
    return RetryEntry(f"v02.post.{name}", b"{}", {"sum": "d,1"}, None, "xpublic", **kw)  # type: ignore[arg-type]


def queue(keybase: str, stop: threading.Event, **kw: float) -> RedisRetryQueue:
    return RedisRetryQueue(REDIS, keybase, kw.pop("ttl", 3600), stop=stop, **kw)


def test_put_take_done_shared_by_two_instances(keybase: str, stop: threading.Event) -> None:
    a, b = queue(keybase, stop), queue(keybase, stop)
    try:
        a.put(entry("one", reason="timeout"))
        assert len(a) == len(b) == 1
        now = time.time()
        assert b.take(now) is None  # its delay is not over
        taken = b.take(now + 3)
        assert taken is not None
        assert (taken.routing_key, taken.body, taken.reason) == ("v02.post.one", b"{}", "timeout")
        assert a.take(now + 3) is None  # leased to b
        assert len(a) == 1
        b.done(taken)
        assert len(a) == 0
    finally:
        a.close()
        b.close()


def test_a_failed_retry_is_put_back_with_a_longer_delay(
    keybase: str, stop: threading.Event
) -> None:
    q = queue(keybase, stop)
    try:
        q.put(entry("two"))
        taken = q.take(time.time() + 3)
        assert taken is not None
        taken.attempts += 1
        q.put(taken)  # failed again: back in the queue, the same entry
        assert len(q) == 1
        assert q.take(time.time() + 3) is None  # 4 s now
        again = q.take(time.time() + 5)
        assert again is not None and again.attempts == 2
        q.done(again)
        assert len(q) == 0
    finally:
        q.close()


def test_expired_entries_are_given_up(
    keybase: str, stop: threading.Event, caplog: pytest.LogCaptureFixture
) -> None:
    q = queue(keybase, stop, ttl=60)
    try:
        q.put(entry("old", first_failure=time.time() - 120, reason="gone"))
        assert q.take(time.time() + 3) is None
        assert "retry_ttl of 60s reached: given up v02.post.old" in caplog.text
        assert len(q) == 0
    finally:
        q.close()


def test_leases_are_renewed_while_held_and_handed_back_at_close(
    keybase: str, stop: threading.Event
) -> None:
    a, b = queue(keybase, stop, lease=0.6), queue(keybase, stop, lease=0.6)
    try:
        a.put(entry("held"))
        held = a.take(time.time() + 3)
        assert held is not None
        time.sleep(1.5)  # well past the lease: only renewals keep it with a
        assert b.take(time.time() + 3) is None
        a.close()  # stops without done: handed back, due at once
        back = b.take()
        assert back is not None and back.routing_key == "v02.post.held"
        b.done(back)
    finally:
        b.close()


HOLDER = """
import sys, threading, time
from sarra.flow.retry_redis import RedisRetryQueue
q = RedisRetryQueue(sys.argv[1], sys.argv[2], 3600, lease=1.0, stop=threading.Event())
print(q.take(time.time() + 3).routing_key, flush=True)
time.sleep(60)
"""


def test_an_entry_held_by_an_instance_that_dies_comes_back(
    keybase: str, stop: threading.Event
) -> None:
    q = queue(keybase, stop)
    holder = None
    try:
        q.put(entry("orphan"))
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER, REDIS, keybase], stdout=subprocess.PIPE, text=True
        )
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "v02.post.orphan"
        assert q.take(time.time() + 3) is None  # held, with a lease
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        deadline = time.monotonic() + 5
        back = None
        while back is None and time.monotonic() < deadline:
            back = q.take(time.time() + 3)
            time.sleep(0.1)
        assert back is not None and back.routing_key == "v02.post.orphan"
        q.done(back)
        assert len(q) == 0
    finally:
        if holder is not None and holder.poll() is None:
            holder.kill()
            holder.wait(10)
        q.close()


def test_shared_by_workers_and_a_housekeeping(keybase: str, stop: threading.Event) -> None:
    """Workers put, take, put again and finish while housekeeping compacts and counts every
    2 ms: no exception, the count always right, every entry finished exactly once."""
    q = queue(keybase, stop, ttl=1e6)
    try:
        stress = Stress(q)
        stress.put_all()
        assert len(q) == stress.entries
        stress.churn(rounds=200)
        stress.drain()
        assert stress.problems == []
        assert stress.lost_and_twice() == ([], [])
        assert len(q) == 0
    finally:
        q.close()


class PrivateRedis:
    """A redis-server of the test's own (a free port, its data in `directory`, kept across a
    restart), so that it can be stopped without touching the shared one."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.directory), "--appendonly", "yes", "--save", ""],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # saves the append-only file first
            self.process.wait(10)
            self.process = None


def test_a_put_that_fails_leaves_the_queue_as_it_was(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis gone: put gives up (raises, here at once since the instance is stopping), the
    entry taken stays leased to this instance; released, it is due again after its delay.
    The outage is logged once, and the return."""
    caplog.set_level(logging.INFO, logger="sarra.flow.retry_redis")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(tmp_path)
    server.start()
    stop = threading.Event()
    q = RedisRetryQueue(server.url, "sarra.test.retry", 3600, stop=stop)
    try:
        q.put(entry("held"))
        taken = q.take(time.time() + 3)
        assert taken is not None
        server.stop()
        assert [q.take(), q.take(), q.take()] == [None, None, None]
        stop.set()
        with pytest.raises(redis.RedisError):
            q.put(taken)
        server.start()
        assert caplog.text.count("unreachable") == 1
        assert q.take(time.time() + 3) is None and len(q) == 1  # still taken, leased
        assert "reachable again after" in caplog.text
        q.release(taken)
        assert q.take(time.time() + 1) is None  # its delay again
        again = q.take(time.time() + 3)
        assert again is not None and again.id == taken.id and again.attempts == 1
        q.done(again)
        assert len(q) == 0
    finally:
        q.close()
        server.stop()


def test_unreachable_redis(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    stop = threading.Event()
    q = RedisRetryQueue("redis://127.0.0.1:1/0", "sarra.test.none", 60, stop=stop)
    assert q.take() is None
    assert "unreachable" in caplog.text
    stop.set()  # stopping: put gives up at once instead of waiting for Redis
    with pytest.raises(redis.RedisError):
        q.put(entry("lost"))
    q.close()


def test_the_config_chooses_the_driver(tmp_path: Path, keybase: str) -> None:
    path = tmp_path / "c.conf"
    path.write_text("broker amqp://u:p@h/\nretry_ttl 1h\n")
    stop = threading.Event()
    disk = open_retry_queue(load("subscribe", path), tmp_path / "retry", stop)
    assert isinstance(disk, RetryQueue) and disk.ttl == 3600
    disk.close()
    path.write_text(f"broker amqp://u:p@h/\nretry_driver redis\nredisqueue_serverurl {REDIS}\n")
    shared = open_retry_queue(load("subscribe", path), tmp_path / "retry", stop)
    assert isinstance(shared, RedisRetryQueue)
    assert shared.keybase == "sarra.retry.subscribe.c"
    shared.close()
