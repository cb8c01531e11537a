"""Consuming throughput: sarra's Consumer against a bare pika consumer, draining the same
number of small notices published beforehand to the local RabbitMQ, in the same run.

The baseline is pika alone, in one thread: SelectConnection (its fastest adapter) with
basic_consume, prefetch 1000, acknowledging every 100th delivery with multiple=True in the message
callback. sarra's Consumer takes batches with get_batch in the calling thread and acknowledges
each delivery on its own, as a component does; its I/O thread turns those into multiple acks.
The third is the whole sr_subscribe loop with notify_only and its default settings (default
prefetch, decode, filter, acknowledge), as a thread of this process. They take turns over a few
rounds; the best rate of each is kept, and the least process CPU per notice (getrusage, every
thread, the setting up of each side included: see bench/common.py). Prints notices/s and CPU
per notice of each, and the ratios to the bare consumer (targets of the notify_only loop: 0.6 of
the rate, at most 1.5 times the CPU per notice).

    .venv/bin/python bench/consume.py [count] [broker URL] [prefetch of the loop]
"""

from __future__ import annotations

import sys
import threading
import time
import uuid

import pika
from common import Side, report, scratch, turns
from pika.channel import Channel
from pika.spec import Basic

from sarra.broker import plan
from sarra.broker.connect import ConnectionSettings
from sarra.broker.consumer import Consumer
from sarra.broker.publisher import Publisher
from sarra.broker.topology import QueueSpec
from sarra.broker.url import parse_broker_url
from sarra.config.credentials import Credentials
from sarra.config.loader import Config, load
from sarra.flow.loop import ConsumerLoop

PREFETCH = 1000
BODY = b"20240101120000.5 https://dd.weather.gc.ca /observations/swob-ml/20240101/x.xml"
HEADERS = {"sum": "d,25d231ec0ae3c569ba27ab7a74dd72ce", "parts": "1,5354,1,0,0", "source": "x"}


def fill(settings: ConnectionSettings, exchange: str, count: int) -> None:
    """Publish `count` notices with confirms (the queue is bound to the exchange)."""
    with Publisher(settings, [exchange]) as publisher:
        for i in range(count):
            publisher.publish(exchange, f"v02.post.bench.{i % 10}", BODY, HEADERS)
        if not publisher.flush(300):
            raise SystemExit("the broker did not confirm every notice")


def bare(settings: ConnectionSettings, queue: str, count: int) -> None:
    """Drain with pika alone: its select loop, acknowledging in the message callback."""
    received = 0

    def on_open(connection: pika.SelectConnection) -> None:
        connection.channel(on_open_callback=on_channel)

    def on_channel(channel: Channel) -> None:
        channel.basic_qos(
            prefetch_count=PREFETCH, callback=lambda _f: channel.basic_consume(queue, on_message)
        )

    def on_message(channel: Channel, method: Basic.Deliver, _p: object, _b: bytes) -> None:
        nonlocal received
        received += 1
        if received % 100 == 0 or received == count:
            channel.basic_ack(method.delivery_tag, multiple=True)
        if received == count:
            channel.connection.close()

    connection = pika.SelectConnection(
        settings.parameters(),
        on_open_callback=on_open,
        on_close_callback=lambda c, _e: c.ioloop.stop(),
    )
    connection.ioloop.start()


def layered(settings: ConnectionSettings, spec: QueueSpec, count: int) -> None:
    """Drain with sarra's Consumer."""
    with Consumer(settings, spec, prefetch=PREFETCH) as consumer:
        received = 0
        while received < count:
            batch = consumer.get_batch(PREFETCH, timeout=5)
            if not batch:
                raise SystemExit(f"stalled after {received} notices")
            for delivery in batch:
                consumer.ack(delivery)
            received += len(batch)


def notify_only(config: Config, count: int) -> None:
    """Drain with the sr_subscribe loop (notify_only, default settings) in a thread."""
    stop = threading.Event()
    loop = ConsumerLoop(config, 1, stop)
    thread = threading.Thread(target=loop.run)
    thread.start()
    try:
        while loop.counts["received"] < count:
            if not thread.is_alive():
                raise SystemExit("the loop stopped")
            time.sleep(0.005)
    finally:
        stop.set()
        thread.join()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    broker = sys.argv[2] if len(sys.argv) > 2 else "amqp://guest:guest@localhost/"
    url = parse_broker_url(broker, Credentials())
    settings = ConnectionSettings(url, "bench consume")
    exchange = f"xs_{url.user}_bench_{uuid.uuid4().hex[:8]}"
    with scratch() as home:  # the loop's state files
        (home / "notify.conf").write_text(
            f"broker {broker}\nexchange {exchange}\nexpire 10m\nnotify_only\naccept .*\n"
            "subtopic #\n" + (f"prefetch {sys.argv[3]}\n" if len(sys.argv) > 3 else "")
        )
        config = load("subscribe", home / "notify.conf")
        spec = plan.queue_spec(config, 1)  # the loop's queue, which all three drain
        assert spec is not None
        with Publisher(settings, [exchange]) as publisher:  # declare the exchange
            publisher.wait_ready(10)
        with Consumer(settings, spec) as consumer:  # declare and bind the queue
            consumer.wait_ready(10)

        def filled() -> None:
            fill(settings, exchange, count)

        try:
            best = turns({
                "bare": Side(lambda: bare(settings, spec.name, count), prepare=filled),
                "sarra": Side(lambda: layered(settings, spec, count), prepare=filled),
                "loop": Side(lambda: notify_only(config, count), prepare=filled),
            })  # fmt: skip
        finally:
            connection = pika.BlockingConnection(settings.parameters())
            channel = connection.channel()
            channel.queue_delete(spec.name)
            channel.exchange_delete(exchange)
            connection.close()
    report(f"sarra Consumer (prefetch {PREFETCH}) draining {count} notices", count, "notices/s",
           best["sarra"], best["bare"])  # fmt: skip
    report(f"notify_only loop (prefetch {config.prefetch})", count, "notices/s", best["loop"],
           best["bare"], 0.6, cpu_ratio=1.5)  # fmt: skip


if __name__ == "__main__":
    main()
