"""Helpers of the MQTT tests: the machine's Mosquitto, sessions, publishing and draining."""

from __future__ import annotations

import socket
import time
import uuid

import pytest

from sarra.broker.connect import ConnectionSettings
from sarra.broker.interface import Delivery
from sarra.broker.mqtt_consumer import Consumer
from sarra.broker.mqtt_publisher import Publisher
from sarra.broker.mqtt_topology import SessionSpec
from sarra.broker.url import parse_broker_url
from sarra.config.credentials import Credentials

LOCAL = "mqtt://127.0.0.1:1883"
"""The machine's Mosquitto: never restarted by the tests (they start their own for that)."""


def local_mosquitto() -> str:
    """The machine's Mosquitto URL; the test is skipped when nothing listens there."""
    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=2).close()
    except OSError:
        pytest.skip("no Mosquitto on 127.0.0.1:1883 (apt-get install mosquitto)")
    return LOCAL


def settings(url: str, name: str = "test", tls_rigour: str = "normal") -> ConnectionSettings:
    """How to connect to `url` (its password in the URL), with a short keepalive."""
    return ConnectionSettings(
        parse_broker_url(url, Credentials()), name, heartbeat=5, tls_rigour=tls_rigour
    )


def new_exchange() -> str:
    """A first topic level of this test's own."""
    return f"xtest_{uuid.uuid4().hex[:10]}"


def session(
    exchange: str, instance: int = 1, *, shared: bool = False, expire: float = 60
) -> SessionSpec:
    """Instance `instance` of a group's session, subscribed to everything under `exchange`
    (a subscription shared among the group's instances, or plain)."""
    group = f"q_test.{exchange}"
    return SessionSpec(
        client_id=f"{group}_test_i{instance:02d}",
        group=group,
        filters=(f"{exchange}/#",),
        expire=expire,
        shared=shared,
    )


def consumer(url: str, spec: SessionSpec, *, protocol: str = "5", prefetch: int = 100) -> Consumer:
    """A started consumer of `spec`, once subscribed."""
    started = Consumer(settings(url, spec.client_id), spec, prefetch=prefetch, protocol=protocol)
    started.start()
    assert started.wait_ready(20), "the consumer did not connect"
    return started


def publish(
    url: str, exchange: str, count: int, *, protocol: str = "5", key: str = "v03.a"
) -> list[bytes]:
    """`count` numbered messages to `exchange`, all confirmed; their bodies."""
    bodies = [b'{"n": %d}' % n for n in range(count)]
    with Publisher(settings(url, "publisher"), protocol=protocol) as publisher:
        confirmations = [publisher.publish(exchange, key, body) for body in bodies]
        assert publisher.flush(20)
    assert all(c.error is None for c in confirmations)
    return bodies


def drain(
    source: Consumer, count: int, *, ack: bool = True, deadline: float = 20.0
) -> list[Delivery]:
    """`count` deliveries (bounded wait), acknowledged unless `ack` is False; then checks that
    no more come for a moment."""
    got: list[Delivery] = []
    end = time.monotonic() + deadline
    while len(got) < count and time.monotonic() < end:
        for delivery in source.get_batch(count - len(got), timeout=0.5):
            got.append(delivery)
            if ack:
                source.ack(delivery)
    assert len(got) == count, f"got {len(got)} of {count} messages"
    extra = source.get_batch(10, timeout=0.3)
    assert not extra, f"{len(extra)} more messages than the {count} expected"
    return got
