"""The broker layer against the local RabbitMQ: declarations, routing, confirms, consuming with
prefetch and batched acks, heartbeats while the caller sleeps, and recovery after the broker
closes every connection.

Everything happens in a virtual host made for this module (deleted at the end, with all it
holds), so that closing its connections disturbs nobody else.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pika
import pytest
from pumpkit import ctl, scratch_vhost

from sarra.broker import admin, plan
from sarra.broker.backoff import Backoff
from sarra.broker.connect import ConnectionSettings
from sarra.broker.consumer import Consumer, Delivery
from sarra.broker.errors import BrokerError, PublishError
from sarra.broker.link import LEND_STALE
from sarra.broker.publisher import Message, Publisher
from sarra.broker.topology import QueueSpec
from sarra.broker.url import parse_broker_url
from sarra.config.credentials import Credentials
from sarra.config.loader import Config, load


def fast() -> Backoff:
    """Quick retries (each link needs its own Backoff)."""
    return Backoff(first=0.3, cap=2.0)


def ctl_json(*args: str) -> list[dict]:
    return json.loads(ctl(*args, "--formatter", "json") or "[]")


def broker_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def vhost() -> Iterator[str]:
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not installed")
    if not broker_answers():
        pytest.skip("RabbitMQ does not answer on 127.0.0.1:5672 (run tools/ensure-rabbitmq)")
    with scratch_vhost() as name:
        yield name


@pytest.fixture
def url(vhost: str) -> str:
    return f"amqp://guest:guest@localhost/{quote(vhost, safe='')}"


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:8]


def settings(url: str, name: str, heartbeat: float = 60.0) -> ConnectionSettings:
    return ConnectionSettings(parse_broker_url(url, Credentials()), f"test {name}", heartbeat)


def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `check` until true, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.02)


def queue_info(vhost: str, name: str) -> dict | None:
    queues = ctl_json(
        "list_queues", "-p", vhost, "name", "messages_ready", "messages_unacknowledged",
        "arguments", "durable", "auto_delete", "exclusive",
    )  # fmt: skip
    return next((q for q in queues if q["name"] == name), None)


def drained(vhost: str, name: str) -> bool:
    info = queue_info(vhost, name)
    return info is not None and info["messages_ready"] == info["messages_unacknowledged"] == 0


def config(tmp_path: Path, component: str, name: str, text: str) -> Config:
    path = tmp_path / f"{name}.conf"
    path.write_text(text)
    return load(component, path)


def take(consumer: Consumer, count: int, timeout: float, ack: bool = True) -> list[Delivery]:
    """`count` deliveries (acknowledged), failing after `timeout` seconds."""
    got: list[Delivery] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        batch = consumer.get_batch(count - len(got), timeout=0.2)
        got += batch
        if ack:
            for delivery in batch:
                consumer.ack(delivery)
    assert len(got) == count, f"{len(got)} deliveries of {count} in {timeout} s"
    return got


# --- declarations


@pytest.mark.broker
def test_setup_declares_binds_routes_and_cleanup_deletes(
    vhost: str, url: str, tag: str, tmp_path: Path
) -> None:
    exchange = f"xs_guest_{tag}"
    poster = config(tmp_path, "post", "poster", f"post_broker {url}\npost_exchange {exchange}\n")
    assert admin.declare(poster) == [f"{parse_broker_url(url)}: declare exchange {exchange}"]
    subscriber = config(
        tmp_path,
        "subscribe",
        "sub",
        f"broker {url}\nexchange {exchange}\nexpire 10m\nmessage_ttl 1h\n"
        "subtopic observations.#\nsubtopic radar.*.ca\n",
    )
    lines = admin.setup(subscriber)
    spec = plan.queue_spec(subscriber, create=False)
    assert spec is not None and spec.name.startswith("q_guest.sr_subscribe.sub.")
    assert [line.split(": ", 1)[1] for line in lines] == [
        f"declare queue {spec.name}",
        f"bind queue {spec.name} to exchange {exchange} with key v02.post.observations.#",
        f"bind queue {spec.name} to exchange {exchange} with key v02.post.radar.*.ca",
    ]
    info = queue_info(vhost, spec.name)
    assert info is not None
    arguments = {name: value for name, _type, value in info["arguments"]}
    assert arguments == {"x-expires": 600_000, "x-message-ttl": 3_600_000}
    assert (info["durable"], info["auto_delete"], info["exclusive"]) == (True, False, False)

    keys = ["v02.post.observations.a.b", "v02.post.radar.x.ca", "v02.post.radar.x.y.ca", "v02.x"]
    with Publisher(settings(url, "route-pub"), declare_exchanges=False) as publisher:
        for key in keys:
            publisher.publish(exchange, key, key.encode())
        assert publisher.flush(10)
    assert queue_info(vhost, spec.name)["messages_ready"] == 2  # type: ignore[index]
    with Consumer(settings(url, "route-sub"), spec) as consumer:
        routed = {d.routing_key for d in take(consumer, 2, timeout=10)}
    assert routed == {"v02.post.observations.a.b", "v02.post.radar.x.ca"}

    assert admin.cleanup(subscriber)[-1].endswith(f"delete queue {spec.name}")
    assert queue_info(vhost, spec.name) is None
    assert admin.cleanup(poster)[-1].endswith(f"delete exchange {exchange} (if unused)")
    assert exchange not in {e["name"] for e in ctl_json("list_exchanges", "-p", vhost, "name")}


@pytest.mark.broker
def test_locked_down_options_and_shared_exchanges_are_left_alone(
    url: str, vhost: str, tmp_path: Path
) -> None:
    locked = config(
        tmp_path,
        "sarra",
        "locked",
        f"broker {url}\ndeclare_queue off\nbind_queue off\ndeclare_exchange off\n",
    )
    assert admin.setup(locked) == [
        "declare_queue is off: the queue is not declared",
        "bind_queue is off: the queue is not bound",
        "declare_exchange is off: the post exchanges are not declared",
    ]
    assert queue_info(vhost, "q_guest.sr_sarra.locked") is None
    shared = config(tmp_path, "post", "shared", f"post_broker {url}\npost_exchange xpublic\n")
    assert admin.cleanup(shared) == ["kept exchange xpublic: shared by all users"]


@pytest.mark.broker
def test_a_refused_queue_name_is_explained(vhost: str, tag: str, tmp_path: Path) -> None:
    user, password = f"sarra_test_{tag}", f"pw-{tag}"
    ctl("add_user", user, password)
    try:
        ctl("set_permissions", "-p", vhost, user, f"^q_{user}.*", f"^q_{user}.*", ".*")
        broker = f"amqp://{user}:{password}@localhost/{quote(vhost, safe='')}"
        mine = config(tmp_path, "subscribe", "mine", f"broker {broker}\nqueue mine.{tag}\n")
        with pytest.raises(BrokerError) as refused:
            admin.declare(mine)
        message = str(refused.value)
        assert f"cannot declare queue mine.{tag}" in message
        assert "ACCESS_REFUSED" in message
        assert f"queue names must start with q_{user}" in message
        assert password not in message
    finally:
        ctl("delete_user", user)


# --- publishing and consuming


@pytest.mark.broker
def test_10000_confirmed_then_drained_with_prefetch_and_batched_acks(
    vhost: str, url: str, tag: str
) -> None:
    exchange = f"xs_guest_{tag}"
    spec = QueueSpec(f"q_guest.bulk.{tag}", bindings=((exchange, "v02.post.#"),))
    prefetch = 250
    with Publisher(settings(url, "bulk-pub"), [exchange]) as publisher:
        assert publisher.wait_ready(10)
        with Consumer(settings(url, "bulk-sub"), spec) as consumer:
            assert consumer.wait_ready(10)  # the queue and its binding are declared
        confirmations = [
            publisher.publish(exchange, "v02.post.a", b"%d" % i, {"n": str(i)})
            for i in range(10_000)
        ]
        assert publisher.flush(20)
    assert all(c.done() and c.error is None for c in confirmations)
    assert queue_info(vhost, spec.name)["messages_ready"] == 10_000  # type: ignore[index]

    with Consumer(settings(url, "bulk-sub"), spec, prefetch=prefetch) as consumer:
        held = take(consumer, prefetch, timeout=10, ack=False)
        assert consumer.get_batch(10, timeout=0.3) == []  # no more than prefetch unacknowledged
        for delivery in held:
            consumer.ack(delivery)
        rest = take(consumer, 10_000 - prefetch, timeout=20)
        bodies = {d.body for d in held + rest}
        assert len(bodies) == 10_000
        assert held[0].headers == {"n": "0"} and held[0].content_type == "text/plain"
        until(lambda: drained(vhost, spec.name), 10, "queue empty, nothing unacknowledged")


@pytest.mark.broker
def test_a_handler_takes_deliveries_in_the_io_thread_and_leaves_some_to_get_batch(
    vhost: str, url: str, tag: str
) -> None:
    exchange = f"xs_guest_{tag}"
    spec = QueueSpec(f"q_guest.inline.{tag}", bindings=((exchange, "#"),))
    threads: set[int] = set()
    handled: list[bytes] = []

    def handler(batch: list[Delivery]) -> list[Delivery]:
        threads.add(threading.get_ident())
        left = [d for d in batch if d.body.endswith(b"7")]
        for delivery in batch:
            if delivery not in left:
                handled.append(delivery.body)
                consumer.ack(delivery)  # sent together once the handler returns
        return left

    with Publisher(settings(url, "inline-pub"), [exchange]) as publisher:
        consumer = Consumer(settings(url, "inline-sub"), spec, prefetch=50)
        assert consumer.deliver_to(handler)
        with consumer:
            assert consumer.wait_ready(10)
            for i in range(1000):
                publisher.publish(exchange, "v02.post.a", b"%d" % i)
            assert publisher.flush(20)
            left = take(consumer, 100, timeout=20)  # those ending in 7, acknowledged here
            until(lambda: len(handled) == 900, 20, "900 deliveries handled in the I/O thread")
            assert sorted(int(d.body) % 10 for d in left) == [7] * 100
            assert threads and threading.get_ident() not in threads
            until(lambda: drained(vhost, spec.name), 10, "every delivery acknowledged")


@pytest.mark.broker
def test_heartbeats_flow_while_the_caller_sleeps(vhost: str, url: str, tag: str) -> None:
    exchange = f"xs_guest_{tag}"
    spec = QueueSpec(f"q_guest.hb.{tag}", bindings=((exchange, "#"),))
    name = f"hb-{tag}"
    with Publisher(settings(url, f"{name}-pub"), [exchange]) as publisher:
        assert publisher.wait_ready(10)
        consumer = Consumer(settings(url, name, heartbeat=2), spec).start()
        assert consumer.wait_ready(10)
        [mine] = [
            c
            for c in ctl_json("list_connections", "-p", vhost, "timeout", "client_properties")
            if ["connection_name", "longstr", f"test {name}"] in c["client_properties"]
        ]
        assert mine["timeout"] == 2
        time.sleep(5)  # the caller busy for more than two heartbeat intervals
        publisher.publish(exchange, "after.sleep", b"x").result(10)
        [delivery] = take(consumer, 1, timeout=5)
        assert delivery.generation == 1  # same channel: the connection never dropped
        assert consumer.close()


@pytest.mark.broker
def test_recovers_after_the_broker_closes_every_connection(
    vhost: str, url: str, tag: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sarra.broker")
    exchange = f"xs_guest_{tag}"
    spec = QueueSpec(f"q_guest.rc.{tag}", bindings=((exchange, "v02.post.#"),))
    total = 3000
    with (
        Publisher(settings(url, "rc-pub"), [exchange], backoff=fast()) as publisher,
        Consumer(settings(url, "rc-sub"), spec, prefetch=100, backoff=fast()) as consumer,
    ):
        assert publisher.wait_ready(10) and consumer.wait_ready(10)

        def publish_all() -> None:
            for i in range(total):
                publisher.publish(exchange, "v02.post.rc", b"%d" % i)
                if i % 100 == 0:
                    time.sleep(0.02)  # a flow, not one burst

        flow = threading.Thread(target=publish_all)
        flow.start()
        seen = take(consumer, 500, timeout=10)
        held = take(consumer, 50, timeout=10, ack=False)  # in work when the connections drop
        ctl("close_all_connections", "-p", vhost, "sarra test: broker closes connections")
        for delivery in held:
            consumer.ack(delivery)  # of the old channel: dropped, the broker redelivers
        flow.join(30)
        assert publisher.flush(20), "every notice confirmed, some after publishing again"
        got = {int(d.body) for d in seen + held}
        deadline = time.monotonic() + 20
        redelivered = []
        while len(got) < total and time.monotonic() < deadline:
            for delivery in consumer.get_batch(500, timeout=0.2):
                got.add(int(delivery.body))
                if delivery.redelivered:
                    redelivered.append(delivery)
                consumer.ack(delivery)
        assert got == set(range(total)), f"{total - len(got)} notices never consumed"
        assert {int(d.body) for d in held} <= {int(d.body) for d in redelivered}
        assert all(d.generation > 1 for d in redelivered)

        def acked_and_drained() -> bool:
            # copies the publisher sent again after the drop (at least once) may come still
            for delivery in consumer.get_batch(500, timeout=0.1):
                assert int(delivery.body) in got
                consumer.ack(delivery)
            return drained(vhost, spec.name)

        until(acked_and_drained, 10, "queue empty, nothing unacknowledged")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("CONNECTION_FORCED" in w for w in warnings)
    assert not any("PRECONDITION_FAILED" in w for w in warnings)  # no ack on the wrong channel
    assert any("'test rc-sub' reconnected" in r.getMessage() for r in caplog.records)
    assert any("'test rc-pub' reconnected" in r.getMessage() for r in caplog.records)


@pytest.mark.broker
def test_publishing_to_a_missing_exchange_fails_only_those_notices(url: str, tag: str) -> None:
    good, missing = f"xs_guest_{tag}", f"xs_guest_missing_{tag}"
    with Publisher(settings(url, "missing-pub"), [good], backoff=fast()) as publisher:
        lost = publisher.publish(missing, "k", b"nowhere")
        kept = publisher.publish(good, "k", b"somewhere")
        assert not lost.wait(10)
        assert lost.error is not None and missing in str(lost.error)
        assert "NOT_FOUND" in str(lost.error)
        kept.result(10)
        publisher.publish(good, "k", b"after").result(10)


@pytest.mark.broker
def test_confirms_read_directly_settle_every_notice_and_a_nack_keeps_its_notice(
    url: str, tag: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The confirms are read by the connection itself (none through pika's frames), acks
    (many of them `multiple`) settle every notice, and a nack (a queue of length 0 that
    rejects what is published to it) keeps its notice unsettled, then failed at close."""
    exchange = f"xs_guest_{tag}"
    kept, full = f"q_guest.kept.{tag}", f"q_guest.full.{tag}"
    confirms: list[tuple[int, bool, bool]] = []
    by_pika: list[object] = []
    answered, on_confirm = Publisher._answered, Publisher._on_confirm

    def record(self: Publisher, tag: int, multiple: bool, nack: bool) -> None:
        confirms.append((tag, multiple, nack))
        answered(self, tag, multiple, nack)

    def through_pika(self: Publisher, frame: Any) -> None:
        by_pika.append(frame.method)
        on_confirm(self, frame)

    monkeypatch.setattr(Publisher, "_answered", record)
    monkeypatch.setattr(Publisher, "_on_confirm", through_pika)
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.exchange_declare(exchange, "topic", durable=True)
        channel.queue_declare(kept, durable=True)
        channel.queue_bind(kept, exchange, "v02.post.kept.#")
        reject = {"x-max-length": 0, "x-overflow": "reject-publish"}
        channel.queue_declare(full, durable=True, arguments=reject)
        channel.queue_bind(full, exchange, "v02.post.full.#")
        publisher = Publisher(settings(url, "confirms-pub"), [exchange], backoff=fast()).start()
        try:
            assert publisher.wait_ready(10)
            first = publisher.publish_many(
                [Message(exchange, "v02.post.kept.a", b"%d" % i) for i in range(5000)]
            )
            assert publisher.flush(20)
            assert all(c.done() and c.error is None for c in first)
            assert confirms and not any(nack for _, _, nack in confirms)
            assert any(multiple for _, multiple, _ in confirms)
            nacked = publisher.publish(exchange, "v02.post.full.a", b"nowhere")
            until(lambda: any(nack for _, _, nack in confirms), 10, "a nack")
            after = publisher.publish_many(
                [Message(exchange, "v02.post.kept.b", b"after %d" % i) for i in range(100)]
            )
            for confirmation in after:
                confirmation.result(10)
            assert not nacked.done()  # kept, published again after each nack
        finally:
            assert not publisher.close(1)
        assert isinstance(nacked.error, PublishError)
        assert "closed before the broker confirmed" in str(nacked.error)
        assert by_pika == []  # every confirm was read directly
        ready = channel.queue_declare(kept, passive=True).method.message_count
        assert ready >= 5100  # at least once: those unconfirmed when the nack came go again
    finally:
        channel = connection.channel()
        channel.queue_delete(kept)
        channel.queue_delete(full)
        channel.exchange_delete(exchange)
        connection.close()


@pytest.mark.broker
def test_an_unexpected_error_in_the_io_thread_reconnects(
    url: str, tag: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    exchange = f"xs_guest_{tag}"
    spec = QueueSpec(f"q_guest.oops.{tag}", bindings=((exchange, "#"),))
    hand_over = Consumer._hand_over
    failures = [RuntimeError("a bug")]

    def buggy(self: Consumer) -> None:
        if failures:
            raise failures.pop()
        hand_over(self)

    monkeypatch.setattr(Consumer, "_hand_over", buggy)
    with (
        Publisher(settings(url, "oops-pub"), [exchange]) as publisher,
        Consumer(settings(url, "oops-sub"), spec, backoff=fast()) as consumer,
    ):
        assert publisher.wait_ready(10) and consumer.wait_ready(10)
        publisher.publish(exchange, "k", b"survives").result(10)
        [delivery] = take(consumer, 1, timeout=10)
        assert (delivery.body, delivery.redelivered) == (b"survives", True)
        assert delivery.generation >= 2  # delivered again on a connection after the failed one
    assert "unexpected error in the thread of connection 'test oops-sub'" in caplog.text


def test_a_refused_connection_is_retried_without_showing_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="sarra.broker")
    broker = parse_broker_url("amqp://bob:s3cret@127.0.0.1:1/", Credentials())
    consumer = Consumer(ConnectionSettings(broker, "refused"), QueueSpec("q_bob.x"), backoff=fast())
    consumer.start()
    until(lambda: len(caplog.records) >= 3, 10, "three failed attempts")
    assert not consumer.wait_ready(0)
    started = time.monotonic()
    assert consumer.close(5)
    assert time.monotonic() - started < 2
    first, *others = caplog.records
    assert first.levelno == logging.WARNING and "Connection refused" in first.getMessage()
    assert "trying again" in first.getMessage()
    assert {r.levelno for r in others} == {logging.DEBUG}  # one warning an outage, a minute
    assert "3 failed attempts)" in caplog.text
    assert "s3cret" not in caplog.text


# --- a connection lent to the caller's thread


def settled_in(confirmations: list, threads: set[int]) -> None:
    """Note, in `threads`, the thread each confirmation settles in."""
    for confirmation in confirmations:
        confirmation.add_done_callback(lambda _c: threads.add(threading.get_ident()))


@pytest.mark.broker
def test_a_lent_connection_publishes_and_settles_in_the_borrowers_thread(
    vhost: str, url: str, tag: str
) -> None:
    exchange = f"xs_guest_{tag}"
    spec = QueueSpec(f"q_guest.lent.{tag}", bindings=((exchange, "#"),))
    with Publisher(settings(url, "lent-pub"), [exchange]) as publisher:
        assert publisher.wait_ready(10)
        with Consumer(settings(url, "lent-sub"), spec) as consumer:
            assert consumer.wait_ready(10)
        assert publisher.lend()
        threads: set[int] = set()
        messages = [Message(exchange, "v02.post.a", b"%d" % i) for i in range(500)]
        confirmations = publisher.publish_many(messages)
        settled_in(confirmations, threads)
        deadline = time.monotonic() + 20
        while not all(c.done() for c in confirmations) and time.monotonic() < deadline:
            assert publisher.turn(0.05)
        assert all(c.done() and c.error is None for c in confirmations)
        assert threads == {threading.get_ident()}  # nothing done by the connection's thread

        more = publisher.publish_many(messages[:100])
        assert publisher.flush(20)  # flushing turns the loop lent to the caller
        assert all(c.done() and c.error is None for c in more)
        publisher.give_back()
        for _ in range(30):  # lent again at once, each time, however soon after
            assert publisher.lend() and publisher.turn()
            [again] = publisher.publish_many(messages[:1])
            assert publisher.flush(10) and again.error is None
            publisher.give_back()
        assert not publisher.turn()
        threads.clear()
        after = publisher.publish_many(messages[:10])
        settled_in(after, threads)
        assert all(c.wait(10) for c in after)  # the connection's thread settles them again
        assert threading.get_ident() not in threads
    assert queue_info(vhost, spec.name)["messages_ready"] == 640  # type: ignore[index]


@pytest.mark.broker
def test_a_lent_connection_left_unturned_is_taken_back_and_keeps_its_heartbeats(
    vhost: str, url: str, tag: str
) -> None:
    exchange = f"xs_guest_{tag}"
    with Publisher(settings(url, f"idle-{tag}", heartbeat=1), [exchange]) as publisher:
        assert publisher.wait_ready(10)
        connected = publisher.state.snapshot()
        assert publisher.lend()
        [confirmation] = publisher.publish_many([Message(exchange, "v02.post.a", b"x")])
        threads: set[int] = set()
        settled_in([confirmation], threads)
        started = time.monotonic()
        time.sleep(3.5)  # the borrower busy elsewhere for more than two heartbeat intervals
        assert confirmation.wait(10) and confirmation.error is None
        assert time.monotonic() - started >= LEND_STALE
        assert threading.get_ident() not in threads  # the connection's thread took it back
        assert not publisher.turn()
        published = publisher.publish_many([Message(exchange, "v02.post.b", b"y")])
        assert published[0].wait(10)
        assert publisher.state.snapshot() == connected  # the connection never dropped
