"""The shared duplicate cache on the real Redis (127.0.0.1:6379), alone and under two winnows."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pumpkit import announce, declare, file_notice, running, scratch_vhost, wait_for, watch

from sarra.broker.consumer import Consumer
from sarra.config.loader import Config, load
from sarra.flow.nodupe import NoDupeUnavailable, RedisNoDupe
from sarra.message import decode_any
from sarra.message.notice import Notice

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


def test_settle_never_waits_for_an_unreachable_redis() -> None:
    """It runs in the broker connection's thread: one try, logged, never raised."""
    cache = RedisNoDupe(60, "redis://127.0.0.1:1/0", "sarra.test.none", threading.Event())
    started = time.monotonic()
    cache.settle("k", "p")
    assert time.monotonic() - started < 5


def test_unreachable_redis_gives_up_only_when_stopping() -> None:
    stop = threading.Event()
    stop.set()
    cache = RedisNoDupe(60, "redis://127.0.0.1:1/0", "sarra.test.none", stop)
    with pytest.raises(NoDupeUnavailable):
        cache.claim("k", "p")


def test_two_hosts_winnows_on_a_shared_cache_pass_one_copy(
    tmp_path: Path, keybase: str, credentials: Path
) -> None:
    """Two hosts, each with its own broker (here a vhost each), a shovel bringing the products
    of an upstream pump to it, and a winnow; the winnows share their cache in Redis. Exactly
    one copy of each product comes out, on one host or the other."""
    tag = uuid.uuid4().hex[:8]
    upstream, feed, out = f"xtest_{tag}_public", f"xwinnow_{tag}", f"xtest_{tag}_out"
    products = [b"product %d" % n for n in range(300)]
    notices = [
        file_notice("http://pump.example/", f"obs/p{n}.txt", d) for n, d in enumerate(products)
    ]
    with scratch_vhost() as host_a, scratch_vhost() as host_b:
        brokers = [f"amqp://guest@127.0.0.1/{host}" for host in (host_a, host_b)]
        with credentials.open("a") as out_file:
            out_file.writelines(b.replace("guest@", "guest:guest@") + "\n" for b in brokers)
        configs = []
        for number, broker in enumerate(brokers):
            configs.append(relay(tmp_path, "shovel", f"shovel{number}",
                                 f"broker amqp://guest@127.0.0.1/\nexchange {upstream}\n"
                                 f"post_broker {broker}\npost_exchange {feed}\n"))  # fmt: skip
            configs.append(relay(tmp_path, "winnow", f"winnow{number}",
                                 f"broker {broker}\nexchange {feed}\npost_exchange {out}\n"
                                 f"nodupe_driver redis\nnodupe_redis_serverurl {REDIS}\n"
                                 f"nodupe_redis_keybase {keybase}\n"))  # fmt: skip
        declare(configs[0], upstream)
        watchers = []
        for broker in brokers:
            declare(configs[0], feed, broker=broker.replace("guest@", "guest:guest@"))
            watchers.append(watch(configs[0], out, broker=broker.replace("guest@", "guest:guest@")))
        try:
            with contextlib.ExitStack() as stack:
                loops = [stack.enter_context(running(config)) for config in configs]
                announce(configs[0], notices, upstream)
                winnows = loops[1::2]
                wait_for(
                    lambda: (
                        sum(w.counts["posted"] for w in winnows) == len(products)
                        and sum(w.counts["duplicates"] for w in winnows) == len(products)
                    ),
                    "one copy passed and one dropped of each product",
                )
                got = [n for watcher in watchers for n in drain(watcher)]
        finally:
            for watcher in watchers:
                watcher.close()
    assert sorted(n.rel_path for n in got) == sorted(n.rel_path for n in notices)


def relay(tmp_path: Path, component: str, name: str, body: str) -> Config:
    path = tmp_path / f"{name}_{uuid.uuid4().hex[:8]}.conf"
    path.write_text(f"expire 1m\n{body}")
    return load(component, path)


def drain(consumer: Consumer) -> list[Notice]:
    """What a watcher received, until a second passes without more."""
    found = []
    while batch := consumer.get_batch(1000, timeout=1.0):
        for delivery in batch:
            found.append(decode_any(delivery.routing_key, delivery.body, delivery.headers,
                                    delivery.content_type))  # fmt: skip
            consumer.ack(delivery)
    return found
