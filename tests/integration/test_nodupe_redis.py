"""The shared duplicate cache on the real Redis (127.0.0.1:6379), alone and under two winnows."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pumpkit import announce, declare, file_notice, running, take, wait_for, watch

from sarra.config.loader import load
from sarra.flow.nodupe import NoDupeUnavailable, RedisNoDupe

pytestmark = pytest.mark.broker

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def keybase() -> Iterator[str]:
    """A key prefix of this test alone, its keys removed afterwards."""
    base = f"sarra.test.{uuid.uuid4().hex[:12]}"
    yield base
    client = redis.Redis.from_url(REDIS)
    for name in client.scan_iter(f"{base}:*"):
        client.delete(name)
    client.close()


def test_one_claim_passes_across_instances(keybase: str) -> None:
    stop = threading.Event()
    a = RedisNoDupe(60, REDIS, keybase, stop)
    b = RedisNoDupe(60, REDIS, keybase, stop)
    assert a.claim("md5,abc", "obs/f.txt") is True
    assert b.claim("md5,abc", "obs/f.txt") is False  # another copy, elsewhere
    assert b.claim("md5,abc", "obs/f.txt", redelivered=True) is True  # a dies: taken over
    b.settle("md5,abc", "obs/f.txt")
    assert a.claim("md5,abc", "obs/f.txt", redelivered=True) is False  # settled: done
    assert a.claim("md5,abc", "obs/g.txt") is True
    a.close()
    b.close()


def test_keys_expire_after_the_ttl(keybase: str) -> None:
    stop = threading.Event()
    cache = RedisNoDupe(1, REDIS, keybase, stop)
    assert cache.claim("k", "p") is True
    cache.settle("k", "p")
    assert cache.claim("k", "p") is False
    wait_for(lambda: cache.claim("k", "p"), "the key to expire", deadline=5)
    cache.close()


def test_unreachable_redis_gives_up_only_when_stopping() -> None:
    stop = threading.Event()
    stop.set()
    cache = RedisNoDupe(60, "redis://127.0.0.1:1/0", "sarra.test.none", stop)
    with pytest.raises(NoDupeUnavailable):
        cache.claim("k", "p")


def test_two_winnows_on_a_shared_cache_pass_one_copy(
    tmp_path: Path, keybase: str, credentials: Path
) -> None:
    """Two feeds (as two brokers' shovels) reach two winnows: one copy of each product."""
    feeds = [f"xtest_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    out = f"xtest_{uuid.uuid4().hex[:10]}_out"
    configs = []
    for number, feed in enumerate(feeds):
        path = tmp_path / f"winnow{number}_{uuid.uuid4().hex[:8]}.conf"
        path.write_text(
            f"broker amqp://guest@127.0.0.1/\nexchange {feed}\nexpire 1m\npost_exchange {out}\n"
            f"nodupe_driver redis\nnodupe_redis_serverurl {REDIS}\n"
            f"nodupe_redis_keybase {keybase}\n"
        )
        configs.append(load("winnow", path))
    declare(configs[0], *feeds)
    consumer = watch(configs[0], out)
    products = [b"product %d" % n for n in range(200)]
    try:
        with running(configs[0]) as first, running(configs[1]) as second:
            for number, feed in enumerate(feeds):
                notices = [
                    file_notice(f"http://feed{number}.example/", f"obs/p{n}.txt", data)
                    for n, data in enumerate(products)
                ]
                announce(configs[number], notices, feed)
            wait_for(
                lambda: (
                    first.counts["posted"] + second.counts["posted"] == 200
                    and first.counts["duplicates"] + second.counts["duplicates"] == 200
                ),
                "200 passed and 200 dropped",
            )
            got = take(consumer, 200)
            assert consumer.get_batch(10, timeout=0.5) == []
    finally:
        consumer.close()
    assert sorted(n.rel_path for n in got) == sorted(f"obs/p{n}.txt" for n in range(200))
