"""notify_only notices/s through sr_subscribe over MQTT, against a bare paho subscriber on the
same broker, with the CPU each spends per notice.

Both drain the same number of v03 notices published beforehand into a persistent session
subscribed beforehand, on a Mosquitto of the bench's own (max_queued_messages raised so that the
backlog is kept whole; its other settings are Mosquitto's defaults, among them 20 messages in
flight to a client). The baseline is paho alone: one MQTT 5 client in paho's thread
(loop_start), QoS 1, acknowledging each message as it arrives (paho's automatic ack), counting
in on_message. sarra's subscriber is its consumer loop (notify_only, default settings:
acknowledgements after the work, from the loop's thread), logging to its file as a started
instance does. They take turns over three rounds, the best of each kept, since a 2-core machine
is noisy. CPU per notice is the process's user + system time (getrusage) over the drain, divided
by the notices; the broker runs in a process of its own and is not counted.
bench/wis2_notify.py runs the same comparison on WIS2 notification messages (`compare`).

    .venv/bin/python bench/mqtt_notify.py [--notices N]
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as paho
from common import Side, drain, report, scratch, turns
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from servers import MosquittoServer

from sarra.broker import admin, plan
from sarra.broker.mqtt_publisher import Publisher
from sarra.config.loader import Config, load
from sarra.integrity.checksum import checksum_bytes, sum_to_identity
from sarra.message import v03
from sarra.message.notice import Identity, Notice, epoch_to_time


def notices(count: int) -> Iterator[tuple[str, bytes]]:
    """`count` v03 notices of distinct files: (routing key, body) of each."""
    method, value = sum_to_identity("s," + checksum_bytes(b"x" * 5354, "s"))
    for i in range(count):
        notice = Notice(
            epoch_to_time(time.time()),
            "https://dd.weather.gc.ca/",
            f"/observations/swob-ml/20240101/{i % 10}/f{i}.xml",
            identity=Identity(method, value),
            size=5354,
        )
        yield v03.encode(notice)


def fill(url: str, exchange: str, count: int) -> None:
    """Publish `count` v03 notices of files below `exchange`, every one acknowledged."""
    config = load("subscribe", None, name="bench")
    settings = plan.connection_settings(config, url, "bench")
    with Publisher(settings) as publisher:
        for key, body in notices(count):
            publisher.publish(exchange, key, body, None, v03.CONTENT_TYPE)
        if not publisher.flush(300):
            raise SystemExit("the broker did not acknowledge every notice")


class Bare:
    """The baseline: a paho client alone, its persistent session subscribed once."""

    def __init__(self, port: int, exchange: str) -> None:
        self.port = port
        self.exchange = exchange
        self.client_id = f"bench_bare_{uuid.uuid4().hex[:8]}"
        self.drain(0)  # the session and its subscription, before anything is published

    def drain(self, count: int) -> float:
        """Connect, take `count` messages; the seconds from the connection to the last."""
        received = 0
        done = threading.Event()
        subscribed = threading.Event()

        def on_connect(client: paho.Client, *_: object) -> None:
            client.subscribe(f"{self.exchange}/#", qos=1)

        def on_message(*_: object) -> None:
            nonlocal received
            received += 1
            if received >= count:
                done.set()

        client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=paho.MQTTv5
        )
        client.on_connect = on_connect
        client.on_message = on_message
        client.on_subscribe = lambda *_: subscribed.set()
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 600
        started = time.perf_counter()
        client.connect("127.0.0.1", self.port, clean_start=False, properties=properties)
        client.loop_start()
        subscribed.wait(20)
        if count:
            done.wait(600)
        seconds = time.perf_counter() - started
        client.disconnect()
        client.loop_stop()
        return seconds


def subscriber(work: Path, url: str) -> tuple[Config, str]:
    """sr_subscribe's config, notify_only, and the exchange it reads."""
    exchange = f"xsarra_{uuid.uuid4().hex[:8]}"
    path = work / "notices.conf"
    path.write_text(
        f"broker {url}\nexchange {exchange}\ntopic_prefix v03\nexpire 10m\n"
        "notify_only\naccept .*\nsubtopic #\n"
    )
    return load("subscribe", path), exchange


def compare(
    work: Path,
    count: int,
    what: str,
    fill: Callable[[str, str, int], None],
    bare_root: str,
    ours: Callable[[Path, str], tuple[Config, str]],
) -> None:
    """On a Mosquitto of its own: the bare paho subscriber draining `count` messages that
    fill(url, root, count) published below `bare_root`, against sr_subscribe (the config and
    root ours(work, url) gives) draining as many; both in turns, reported."""
    directory = work / "mosquitto"
    directory.mkdir()
    broker = MosquittoServer(directory, max_queued=count + 1000).start()
    try:
        url = broker.url
        bare = Bare(broker.port, bare_root)
        config, root = ours(work, url)
        admin.setup(config)  # its session, subscribed
        best = turns({
            "bare": Side(lambda: bare.drain(count), prepare=lambda: fill(url, bare_root, count)),
            "sarra": Side(lambda: drain(config, lambda lp: lp.counts["received"] >= count),
                          prepare=lambda: fill(url, root, count)),
        })  # fmt: skip
        admin.cleanup(config)
    finally:
        broker.stop()
    report(what, count, "notices/s", best["sarra"], best["bare"], 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=20_000)
    args = parser.parse_args()
    with scratch() as work:
        bare_root = f"xbare_{uuid.uuid4().hex[:8]}"
        compare(work, args.notices, "MQTT notify_only notices/s", fill, bare_root, subscriber)


if __name__ == "__main__":
    main()
