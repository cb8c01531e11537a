"""The MQTT broker kind against real Mosquittos: the machine's (127.0.0.1:1883) and, for what
needs a broker stopped, restarted or configured otherwise, one of the test's own."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from mqttkit import consumer, drain, local_mosquitto, new_exchange, publish, session, settings
from pumpkit import wait_for
from servers import MOSQUITTO, MosquittoServer

from sarra.broker import mqtt_admin, mqtt_link
from sarra.broker.mqtt_consumer import Consumer
from sarra.broker.mqtt_publisher import Publisher

pytestmark = pytest.mark.mqtt

TESTS = Path(__file__).parent


@pytest.fixture
def local() -> str:
    return local_mosquitto()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[MosquittoServer]:
    """A Mosquitto of this test's own, persistence on, that the test may stop and restart."""
    if not MOSQUITTO.exists():
        pytest.skip(f"{MOSQUITTO} is absent (apt-get install mosquitto)")
    directory = tmp_path / "mosquitto"
    directory.mkdir()
    server = MosquittoServer(directory).start()
    yield server
    server.stop()


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_what_is_published_while_a_subscriber_is_down_arrives_when_it_returns(
    local: str, protocol: str
) -> None:
    exchange = new_exchange()
    spec = session(exchange)
    consumer(local, spec, protocol=protocol).close()  # the session exists, then its client goes
    bodies = publish(local, exchange, 20, protocol=protocol)
    back = consumer(local, spec, protocol=protocol)
    try:
        got = drain(back, 20)
    finally:
        back.close()
    assert sorted(d.body for d in got) == sorted(bodies)
    assert {(d.exchange, d.routing_key) for d in got} == {(exchange, "v03.a")}


def test_a_broker_restart_loses_nothing_that_was_queued(own_broker: MosquittoServer) -> None:
    exchange = new_exchange()
    spec = session(exchange)
    consumer(own_broker.url, spec).close()
    bodies = publish(own_broker.url, exchange, 10)
    own_broker.restart()
    back = consumer(own_broker.url, spec)
    try:
        got = drain(back, 10)
    finally:
        back.close()
    assert sorted(d.body for d in got) == sorted(bodies)


def test_both_reconnect_within_seconds_of_the_brokers_return_and_log_how_long_it_was_away(
    own_broker: MosquittoServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sarra.broker")
    exchange = new_exchange()
    spec = session(exchange)
    listening = consumer(own_broker.url, spec)
    publisher = Publisher(settings(own_broker.url, "publisher")).start()
    try:
        assert publisher.wait_ready(20)
        own_broker.stop()
        wait_for(lambda: not listening.wait_ready(0), "the consumer to notice")
        confirmation = publisher.publish(exchange, "v03.a", b"sent while the broker is down")
        attempts = "4 failed attempts)"  # after waits of about 1, 2 and 4 s: the next is capped
        wait_for(lambda: any(attempts in r.getMessage() for r in caplog.records), "attempts", 30)
        assert not confirmation.wait(0.5)  # nobody took it yet
        own_broker.start()
        back = time.monotonic()
        assert listening.wait_ready(20) and publisher.wait_ready(20)
        assert time.monotonic() - back < 5
        confirmation.result(20)
        got = drain(listening, 1)
    finally:
        publisher.close()
        listening.close()
    assert got[0].body == b"sent while the broker is down"
    recovered = [r.getMessage() for r in caplog.records if "reconnected after" in r.getMessage()]
    assert len(recovered) == 2 and all(" s away (" in line for line in recovered)
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.levelno > logging.INFO)
    assert len(failures) == 4, f"each client logs its loss and the refusals once: {failures}"


def test_instances_share_a_subscription_each_getting_some_none_twice(local: str) -> None:
    exchange = new_exchange()
    first = consumer(local, session(exchange, 1, shared=True))
    second = consumer(local, session(exchange, 2, shared=True))
    try:
        bodies = publish(local, exchange, 100)
        got: dict[int, list[bytes]] = {1: [], 2: []}
        end = time.monotonic() + 20
        while len(got[1]) + len(got[2]) < 100 and time.monotonic() < end:
            for number, member in ((1, first), (2, second)):
                for delivery in member.get_batch(100, timeout=0.1):
                    got[number].append(delivery.body)
                    member.ack(delivery)
    finally:
        first.close()
        second.close()
    assert got[1] and got[2]
    assert sorted(got[1] + got[2]) == sorted(bodies)


def test_an_instance_that_is_down_keeps_its_share_until_it_returns(local: str) -> None:
    exchange = new_exchange()
    consumer(local, session(exchange, 2, shared=True)).close()  # instance 2 has been, is down
    first = consumer(local, session(exchange, 1, shared=True))
    try:
        publish(local, exchange, 20)
        kept = 20 - len(drain_all(first))
    finally:
        first.close()
    second = consumer(local, session(exchange, 2, shared=True))
    try:
        assert kept > 0 and len(drain(second, kept)) == kept
    finally:
        second.close()


def test_a_session_that_changes_between_shared_and_plain_gets_each_message_once(
    local: str,
) -> None:
    exchange = new_exchange()
    for shared in (False, True, False):  # instances 1, then 2, then 1 again
        listening = consumer(local, session(exchange, shared=shared))
        try:
            publish(local, exchange, 1)
            assert len(drain(listening, 1)) == 1
        finally:
            listening.close()


def drain_all(source: Consumer) -> list[bytes]:
    bodies = []
    while batch := source.get_batch(100, timeout=0.5):
        for delivery in batch:
            bodies.append(delivery.body)
            source.ack(delivery)
    return bodies


CHILD = """
import sys
sys.path.insert(0, {tests!r})
from mqttkit import consumer, session
taker = consumer({url!r}, session({exchange!r}))
taken = 0
while taken < 5:
    taken += len(taker.get_batch(5 - taken, timeout=1))  # taken, never acknowledged
print("taken", flush=True)
sys.stdin.read()
"""


def test_what_a_killed_instance_had_not_acknowledged_comes_again(local: str) -> None:
    exchange = new_exchange()
    spec = session(exchange)
    consumer(local, spec).close()
    bodies = publish(local, exchange, 5)
    script = CHILD.format(tests=str(TESTS), url=local, exchange=exchange)
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "taken\n"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    back = consumer(local, spec)
    try:
        got = drain(back, 5)
    finally:
        back.close()
    assert sorted(d.body for d in got) == sorted(bodies)
    assert all(d.redelivered for d in got)


def test_an_acknowledgement_of_an_older_connection_is_not_sent_on_the_new_one(
    own_broker: MosquittoServer,
) -> None:
    exchange = new_exchange()
    spec = session(exchange)
    listening = consumer(own_broker.url, spec)
    try:
        publish(own_broker.url, exchange, 1)
        (old,) = drain(listening, 1, ack=False)
        own_broker.restart()
        assert listening.wait_ready(20)
        (again,) = drain(listening, 1, ack=False)
        listening.ack(old)  # its work is done, but on the first connection: dropped
    finally:
        listening.close()  # as if it died before the work on `again` was done
    assert again.redelivered and again.body == old.body
    last = consumer(own_broker.url, spec)
    try:
        (third,) = drain(last, 1)
    finally:
        last.close()
    assert third.body == old.body


def test_a_qos_0_message_is_delivered_and_needs_no_acknowledgement(local: str) -> None:
    exchange = new_exchange()
    listening = consumer(local, session(exchange))
    try:
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        client.connect("127.0.0.1", 1883)
        client.loop_start()
        client.publish(f"{exchange}/v03/a", b"{}", qos=0).wait_for_publish(10)
        client.disconnect()
        client.loop_stop()
        (delivery,) = drain(listening, 1)
    finally:
        listening.close()
    assert delivery.delivery_tag == 0


def test_headers_and_content_type_travel_as_mqtt_5_properties(local: str) -> None:
    exchange = new_exchange()
    listening = consumer(local, session(exchange))
    try:
        with Publisher(settings(local)) as publisher:
            publisher.publish(exchange, "v02.post.a+b.c", b"x", {"sum": "d,1"}, "text/plain")
            assert publisher.flush(20)
        (delivery,) = drain(listening, 1)
    finally:
        listening.close()
    assert delivery.headers == {"sum": "d,1"}
    assert delivery.content_type == "text/plain"
    assert delivery.routing_key == "v02.post.a%2Bb.c"  # `+` may not be in an MQTT topic


def test_mqtt_3_1_1_cannot_carry_headers_and_says_so(local: str) -> None:
    with Publisher(settings(local), protocol="3.1.1") as publisher:
        refused = publisher.publish(new_exchange(), "v02.post", b"x", {"sum": "d,1"})
        taken = publisher.publish(new_exchange(), "v03", b"{}")
        assert publisher.flush(20)
    assert refused.error is not None and "3.1.1 carries no headers" in str(refused.error)
    assert taken.error is None


def test_declare_keeps_messages_before_the_first_start_and_cleanup_removes_them(
    local: str,
) -> None:
    exchange = new_exchange()
    spec = session(exchange, shared=True)
    lines = mqtt_admin.declare_session(settings(local), spec, "5")
    assert lines[0].endswith(f"session {spec.client_id} created (expires after 60 s unused)")
    assert lines[1].endswith(f"subscribed to $share/{spec.group}/{exchange}/#")
    publish(local, exchange, 3)
    first = consumer(local, spec)
    try:
        assert len(drain(first, 3, ack=False)) == 3
    finally:
        first.close()
    assert mqtt_admin.remove_session(settings(local), spec.client_id, "5") == [
        f"mqtt://127.0.0.1:1883: session {spec.client_id} removed"
    ]
    publish(local, exchange, 2)  # to nobody: the session and its subscription are gone
    last = consumer(local, spec)
    try:
        assert not last.get_batch(10, timeout=0.5)
    finally:
        last.close()
        mqtt_admin.remove_session(settings(local), spec.client_id, "5")


def test_bad_credentials_are_logged_once_at_error_with_a_hint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not MOSQUITTO.exists():
        pytest.skip(f"{MOSQUITTO} is absent")
    monkeypatch.setattr(mqtt_link, "PERSON_DELAY", 0.2)  # not a minute between attempts
    server = MosquittoServer(tmp_path, users={"alice": "right"}).start()
    try:
        url = f"mqtt://alice:wrong@127.0.0.1:{server.port}"
        with caplog.at_level(logging.DEBUG, logger="sarra.broker"):
            taker = Consumer(settings(url), session(new_exchange())).start()
            try:
                retried = "3 failed attempts)"
                wait_for(lambda: any(retried in r.getMessage() for r in caplog.records), "retries")
            finally:
                taker.close()
        with pytest.raises(Exception, match=r"\(0x87\) Not authorized; wrong user or password"):
            mqtt_admin.declare_session(settings(url), session(new_exchange()), "5")
    finally:
        server.stop()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1 and "Not authorized; wrong user or password" in errors[0], errors
    assert ":wrong@" not in caplog.text  # the password is never shown


def test_mqtts_verifies_the_certificate_by_default_and_websockets_work(
    tmp_path: Path, tls_certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    if not MOSQUITTO.exists():
        pytest.skip(f"{MOSQUITTO} is absent")
    server = MosquittoServer(tmp_path, websockets=True, tls=tls_certificate).start()
    try:
        mqtts = f"mqtts://127.0.0.1:{server.tls_port}"
        with pytest.raises(Exception, match="certificate not trusted"):
            mqtt_admin.declare_session(settings(mqtts), session(new_exchange()), "5")
        lax = settings(mqtts, tls_rigour="lax")
        assert mqtt_admin.declare_session(lax, session(new_exchange()), "5")
        monkeypatch.setenv("SSL_CERT_FILE", str(tls_certificate[0]))
        for url in (mqtts, f"ws://127.0.0.1:{server.ws_port}/mqtt"):
            exchange = new_exchange()
            listening = consumer(url, session(exchange))
            try:
                publish(url, exchange, 3)
                assert len(drain(listening, 3)) == 3
            finally:
                listening.close()
    finally:
        server.stop()


def test_a_publish_the_broker_refuses_fails_with_its_reason(tmp_path: Path) -> None:
    if not MOSQUITTO.exists():
        pytest.skip(f"{MOSQUITTO} is absent")
    acl = "user alice\ntopic write allowed/#\n"
    server = MosquittoServer(tmp_path, users={"alice": "pw"}, acl=acl).start()
    url = f"mqtt://alice:pw@127.0.0.1:{server.port}"
    try:
        with Publisher(settings(url)) as publisher:
            taken = publisher.publish("allowed", "v03", b"{}")
            refused = publisher.publish("forbidden", "v03", b"{}")
            assert publisher.flush(20)
    finally:
        server.stop()
    assert taken.error is None
    assert str(refused.error) == (
        "topic forbidden/v03: (0x87) Not authorized; the broker user lacks this permission; "
        "ask the broker's administrator"
    )


def test_an_instance_running_twice_is_said_once_not_logged_every_second(
    local: str, caplog: pytest.LogCaptureFixture
) -> None:
    spec = session(new_exchange())
    caplog.set_level(logging.INFO, logger="sarra.broker")
    first = consumer(local, spec)
    second = Consumer(settings(local, "twin"), spec).start()  # the same client id
    try:
        said = "is this instance running twice"
        wait_for(lambda: said in caplog.text, "the diagnosis", deadline=30)
        settled = len(caplog.records)
        assert first.wait_ready(5) or second.wait_ready(5)  # one of them runs on
    finally:
        first.close()
        second.close()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and said in errors[0].getMessage()
    assert settled <= 12, "a few lines, then one a minute at most"


def test_a_delivery_given_back_comes_again(local: str) -> None:
    exchange = new_exchange()
    listening = consumer(local, session(exchange))
    try:
        publish(local, exchange, 1)
        (first,) = drain(listening, 1, ack=False)
        listening.reject(first, delay=0.1)
        (again,) = drain(listening, 1)
        assert listening.state.snapshot().state == "connected" and listening.depth is None
    finally:
        listening.close()
    assert again.body == first.body and again.redelivered and not first.redelivered
    last = consumer(local, session(exchange))
    try:
        assert not last.get_batch(10, timeout=0.5), "acknowledged once given back"
    finally:
        last.close()
