"""Cluster options against the machine's broker: a URL listing several nodes (the first one
dead) and quorum queues (a single node runs them too)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
import uuid
from pathlib import Path

import pika
import pytest

from sarra.broker import admin, plan
from sarra.broker.backoff import Backoff
from sarra.broker.consumer import Consumer
from sarra.broker.errors import BrokerError
from sarra.broker.publisher import Publisher
from sarra.config.loader import Config, load

pytestmark = pytest.mark.broker

DEAD_THEN_LIVE = "amqp://guest:guest@127.0.0.1:1,127.0.0.1:5672/"


def config(tmp_path: Path, text: str, name: str = "nodes") -> Config:
    path = tmp_path / f"{name}.conf"
    path.write_text(text)
    return load("subscribe", path)


def queue_types() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    done = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "name", "type", "--formatter", "json"],
        capture_output=True, text=True, timeout=60, check=True, env=env,
    )  # fmt: skip
    return {q["name"]: q["type"] for q in json.loads(done.stdout or "[]")}


def test_a_dead_first_node_is_skipped_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sarra.broker")
    exchange = f"xtest_{uuid.uuid4().hex[:12]}"
    conf = config(tmp_path, f"broker {DEAD_THEN_LIVE}\nexchange {exchange}\nexpire 1m\n")
    spec = plan.queue_spec(conf)
    assert spec is not None
    settings = plan.connection_settings(conf, DEAD_THEN_LIVE, "consumer")
    slow = Backoff(first=30, cap=30)  # were the back-off used, the test would time out
    started = time.monotonic()
    with (
        Publisher(settings, [exchange], backoff=slow) as publisher,
        Consumer(settings, spec, backoff=Backoff(first=30, cap=30)) as consumer,
    ):
        assert publisher.wait_ready(5) and consumer.wait_ready(5)
        elapsed = time.monotonic() - started
        publisher.publish(exchange, "v02.post.x", b"through the second node").result(5)
        batch = consumer.get_batch(1, timeout=5)
        assert [d.body for d in batch] == [b"through the second node"]
        consumer.ack(batch[0])
    assert elapsed < 3
    assert "trying amqp://guest@127.0.0.1:5672/" in caplog.text
    admin.cleanup(conf)


def test_quorum_queue_declared_and_a_type_change_refused_with_advice(tmp_path: Path) -> None:
    name = f"q_guest.nodes.{uuid.uuid4().hex[:8]}"
    base = f"broker amqp://guest:guest@127.0.0.1/\nqueue {name}\nexchange amq.topic\n"
    quorum = config(tmp_path, base + "queue_type quorum\n", "quorum")
    classic = config(tmp_path, base, "classic")
    try:
        admin.setup(quorum)
        assert queue_types()[name] == "quorum"
        with pytest.raises(BrokerError) as refused:
            admin.setup(classic)
        assert "another queue_type" in str(refused.value) and "cleanup" in str(refused.value)
        assert "\n" not in str(refused.value)
    finally:
        admin.cleanup(quorum)
    assert name not in queue_types()


def test_a_nacked_notice_is_published_again_not_failed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A queue full with x-overflow reject-publish nacks, as a quorum queue does while it has
    no leader: the notice waits, unconfirmed, and goes through once there is room."""
    caplog.set_level(logging.WARNING, logger="sarra.broker")
    tag = uuid.uuid4().hex[:8]
    exchange, queue = f"xtest_{tag}", f"q_guest.nack.{tag}"
    url = "amqp://guest:guest@127.0.0.1/"
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.exchange_declare(exchange, "topic", durable=True)
        arguments = {"x-max-length": 1, "x-overflow": "reject-publish"}
        channel.queue_declare(queue, durable=True, arguments=arguments)
        channel.queue_bind(queue, exchange, "#")
        settings = plan.connection_settings(config(tmp_path, ""), url, "publisher")
        with Publisher(settings, [exchange]) as publisher:
            publisher.publish(exchange, "k", b"first").result(10)
            second = publisher.publish(exchange, "k", b"second")
            assert not second.wait(2)  # nacked, kept, not failed
            assert second.error is None
            assert "not taken by the broker for now (nack)" in caplog.text
            _method, _props, body = channel.basic_get(queue, auto_ack=True)
            assert body == b"first"
            second.result(15)  # published again once there is room
        _method, _props, body = channel.basic_get(queue, auto_ack=True)
        assert body == b"second"
    finally:
        channel = connection.channel()
        channel.queue_delete(queue)
        channel.exchange_delete(exchange)
        connection.close()
