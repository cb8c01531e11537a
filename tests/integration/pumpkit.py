"""Helpers of the end-to-end tests: configs, announcing notices, running a loop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sarra.broker import plan
from sarra.broker.publisher import Publisher
from sarra.config.loader import Config, load
from sarra.flow.loop import ConsumerLoop
from sarra.integrity.checksum import checksum_bytes, sum_to_identity
from sarra.message import v02
from sarra.message.notice import Identity, Notice, epoch_to_time

MTIME = 1_600_000_000.0


def wait_for(condition: Callable[[], bool], what: str, deadline: float = 20.0) -> None:
    """Wait (bounded) for a condition, polling."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def subscriber(tmp_path: Path, exchange: str, body: str) -> Config:
    path = tmp_path / "test.conf"
    path.write_text(
        f"broker amqp://guest@127.0.0.1/\nexchange {exchange}\nexpire 1m\nheartbeat 1\n" + body
    )
    return load("subscribe", path)


def announce(
    config: Config, notices: list[Notice], exchange: str, prefix: str = "v02.post"
) -> None:
    settings = plan.connection_settings(config, "amqp://guest:guest@127.0.0.1/", "publisher")
    with Publisher(settings, [exchange]) as publisher:
        for notice in notices:
            key, body, headers = v02.encode(notice, prefix)
            publisher.publish(exchange, key, body.encode(), headers)
        assert publisher.flush(20)


def raw_publish(config: Config, exchange: str, key: str, body: bytes) -> None:
    settings = plan.connection_settings(config, "amqp://guest:guest@127.0.0.1/", "publisher")
    with Publisher(settings, [exchange]) as publisher:
        publisher.publish(exchange, key, body, {})
        assert publisher.flush(20)


def file_notice(base_url: str, rel_path: str, data: bytes, mode: str = "640") -> Notice:
    method, value = sum_to_identity("d," + checksum_bytes(data, "d"))
    return Notice(
        epoch_to_time(time.time()),
        base_url,
        rel_path,
        identity=Identity(method, value),
        size=len(data),
        mtime=epoch_to_time(MTIME),
        mode=mode,
    )


@contextmanager
def running(config: Config) -> Iterator[ConsumerLoop]:
    stop = threading.Event()
    loop = ConsumerLoop(config, 1, stop)
    thread = threading.Thread(target=loop.run)
    thread.start()
    try:
        assert loop_ready(loop)
        yield loop
    finally:
        stop.set()
        thread.join(30)
        assert not thread.is_alive()


def loop_ready(loop: ConsumerLoop) -> bool:
    wait_for(lambda: loop.consumer is not None, "the consumer")
    assert loop.consumer is not None
    return loop.consumer.wait_ready(20)
