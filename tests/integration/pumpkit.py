"""Helpers of the end-to-end tests: configs, announcing notices, running a loop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

from sarra.broker import plan
from sarra.broker.consumer import Consumer
from sarra.broker.publisher import Publisher
from sarra.broker.topology import QueueSpec
from sarra.compat.plugins import Plugins
from sarra.config.loader import Config, load
from sarra.flow.loop import ConsumerLoop
from sarra.integrity.checksum import checksum_bytes, sum_to_identity
from sarra.message import decode_any, v02
from sarra.message.notice import Identity, Notice, epoch_to_time

R = TypeVar("R", bound="Runnable")

MTIME = 1_600_000_000.0


BIN = Path(sys.executable).parent


def sr(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run one of sarra's commands (sr, sr_subscribe, ...) as an operator would."""
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=120, check=False
    )


LOADED = 60.0
"""Seconds to allow a wait that takes a second or so on a quiet machine, for a loaded 2-core
one (kill -9 and restart tests, which run daemons in their own processes): a wait returns as
soon as its condition holds, so the bound costs nothing when all goes well."""


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
    config: Config,
    notices: list[Notice],
    exchange: str,
    prefix: str = "v02.post",
    broker: str = "amqp://guest:guest@127.0.0.1/",
) -> None:
    settings = plan.connection_settings(config, broker, "publisher")
    with Publisher(settings, [exchange]) as publisher:
        for notice in notices:
            key, body, headers = v02.encode(notice, prefix)
            publisher.publish(exchange, key, body.encode(), headers)
        assert publisher.flush(20)


@contextmanager
def scratch_vhost() -> Iterator[str]:
    """A virtual host of its own on the local RabbitMQ (a broker of its own, in effect),
    open to guest, deleted afterwards."""
    name = f"sarra-test-{uuid.uuid4().hex[:8]}"
    ctl("add_vhost", name)
    try:
        ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield name
    finally:
        ctl("delete_vhost", name)


def ctl(*args: str) -> str:
    """rabbitmqctl's answer (quiet)."""
    # the tests point XDG_CONFIG_HOME at a scratch directory, which the Erlang VM complains of
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    done = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=True,
        env=env,
    )  # fmt: skip
    return done.stdout


def queue_state(config: Config) -> tuple[int, int]:
    """(ready, unacknowledged) of the config's queue, as the broker counts them."""
    spec = plan.queue_spec(config, 1)
    assert spec is not None
    out = ctl("list_queues", "name", "messages_ready", "messages_unacknowledged",
              "--formatter", "json")  # fmt: skip
    for info in json.loads(out or "[]"):
        if info["name"] == spec.name:
            return info["messages_ready"], info["messages_unacknowledged"]
    raise LookupError(spec.name)


def raw_publish(config: Config, exchange: str, key: str, body: bytes) -> None:
    settings = plan.connection_settings(config, "amqp://guest:guest@127.0.0.1/", "publisher")
    with Publisher(settings, [exchange]) as publisher:
        publisher.publish(exchange, key, body, {})
        assert publisher.flush(20)


def serve_files(served_root: Path, folder: str, names: list[str]) -> dict[str, bytes]:
    """Files of distinct random bytes in a new folder below the HTTP server's root, by name."""
    (served_root / folder).mkdir()
    files = {name: os.urandom(100 + i) for i, name in enumerate(names)}
    for name, data in files.items():
        (served_root / folder / name).write_bytes(data)
    return files


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


class Runnable(Protocol):
    """A component's loop object: run() returns once its stop event is set."""

    def run(self) -> None: ...


@contextmanager
def in_thread(make: Callable[[threading.Event], R]) -> Iterator[R]:
    """make(stop)'s run() in a thread, stopped (and checked to end) on the way out."""
    stop = threading.Event()
    runnable = make(stop)
    thread = threading.Thread(target=runnable.run)
    thread.start()
    try:
        yield runnable
    finally:
        stop.set()
        thread.join(30)
        assert not thread.is_alive()


@contextmanager
def running(config: Config) -> Iterator[ConsumerLoop]:
    """A subscriber loop in a thread, once it consumes."""
    with in_thread(lambda stop: ConsumerLoop(config, 1, stop, hooks(config, stop))) as loop:
        assert loop_ready(loop)
        yield loop


def hooks(config: Config, stop: threading.Event) -> Plugins | None:
    """The plugins of a config, loaded as the components layer loads them."""
    return Plugins.load(config, 1, stop) or None


def loop_ready(loop: ConsumerLoop) -> bool:
    wait_for(lambda: loop.consumer is not None, "the consumer")
    assert loop.consumer is not None
    return loop.consumer.wait_ready(20)


BROKER = "amqp://guest:guest@127.0.0.1/"


def declare(config: Config, *exchanges: str, broker: str = BROKER) -> None:
    """Declare exchanges, as the pump's feeder would have."""
    settings = plan.connection_settings(config, broker, "publisher")
    with Publisher(settings, list(exchanges)) as publisher:
        assert publisher.wait_ready(20)


def watch(config: Config, exchange: str, broker: str = BROKER) -> Consumer:
    """A consumer of everything posted to an exchange (declared here if need be)."""
    declare(config, exchange, broker=broker)
    settings = plan.connection_settings(config, broker, "watcher")
    spec = QueueSpec(
        name=f"q_guest.watch.{uuid.uuid4().hex[:8]}",
        durable=False,
        expire=60,
        message_ttl=0,
        bindings=((exchange, "#"),),
        declare=True,
        bind=True,
    )
    consumer = Consumer(settings, spec).start()
    assert consumer.wait_ready(20)
    return consumer


def take(consumer: Consumer, count: int) -> list[Notice]:
    """`count` notices from a watching consumer (bounded wait), decoded."""
    found: list[Notice] = []
    end = time.monotonic() + 20
    while len(found) < count and time.monotonic() < end:
        for delivery in consumer.get_batch(count - len(found), timeout=0.5):
            found.append(
                decode_any(
                    delivery.routing_key, delivery.body, delivery.headers, delivery.content_type
                )
            )
            consumer.ack(delivery)
    assert len(found) == count, f"got {len(found)} of {count} notices"
    return found


def complete_files(destination: Path, files: dict[str, bytes]) -> int:
    """How many of files are in place; fails if any file under a final name is not whole."""
    if not destination.is_dir():
        return 0
    present = 0
    for path in destination.iterdir():
        if path.name in files:
            assert path.read_bytes() == files[path.name], f"{path.name} is not complete"
            present += 1
    return present
