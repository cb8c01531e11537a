"""Winnow throughput: sr_winnow against a bare consume-and-publish loop, in the same run.

20,000 products, each announced twice (40,000 notices), are published to the input exchange
beforehand; each side drains them and posts onward. The baseline is pika alone in one thread:
SelectConnection, basic_consume with prefetch 1000, every notice published onward on the same
channel with publisher confirms (a window: no waiting per message), each delivery acknowledged
once the broker confirmed its onward copy (multiple=True). It suppresses nothing, so it posts
twice what the winnow posts. The winnow is the real component loop (decode, duplicate cache
on disk, re-encode, confirm, acknowledge) with its default settings, in a thread of this
process. Both take turns over a few rounds; the best rate of each is kept, and the least CPU
per notice (this process's: see bench/common.py).

    .venv/bin/python bench/winnow.py [products]
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from pathlib import Path

import pika
from common import Side, report, scratch, turns
from pika.channel import Channel
from pika.frame import Method
from pika.spec import Basic, BasicProperties

from sarra.broker import admin, plan
from sarra.broker.connect import ConnectionSettings
from sarra.broker.publisher import Publisher
from sarra.broker.url import parse_broker_url
from sarra.config.credentials import Credentials
from sarra.config.loader import Config, load
from sarra.flow.loop import ConsumerLoop

PREFETCH = 1000
URL = "amqp://guest:guest@localhost/"
HEADERS = {"parts": "1,5354,1,0,0", "source": "bench", "mtime": "20240101T120000.5"}


def fill(settings: ConnectionSettings, exchange: str, products: int) -> None:
    """Announce each product twice, from two feeds (same path and checksum)."""
    with Publisher(settings, [exchange]) as publisher:
        for feed in ("dd1", "dd2"):
            for i in range(products):
                body = f"20240101120000.5 https://{feed}.example /obs/{i % 100}/p{i}.xml"
                headers = {**HEADERS, "sum": f"d,{uuid.UUID(int=i).hex}"}
                publisher.publish(exchange, f"v02.post.obs.{i % 100}", body.encode(), headers)
        if not publisher.flush(300):
            raise SystemExit("the broker did not confirm every notice")


def bare(settings: ConnectionSettings, queue: str, out: str, count: int) -> None:
    """Consume, publish onward with confirms, acknowledge after the confirm: pika alone."""
    confirmed = 0

    def on_open(connection: pika.SelectConnection) -> None:
        connection.channel(on_open_callback=on_channel)

    def on_channel(channel: Channel) -> None:
        channel.confirm_delivery(lambda frame: on_confirm(channel, frame))
        channel.basic_qos(
            prefetch_count=PREFETCH, callback=lambda _f: channel.basic_consume(queue, on_message)
        )

    def on_message(
        channel: Channel, method: Basic.Deliver, properties: BasicProperties, body: bytes
    ) -> None:
        channel.basic_publish(out, method.routing_key, body, properties)

    def on_confirm(channel: Channel, frame: Method) -> None:
        # One channel, in order: the n-th publication is the copy of delivery tag n.
        nonlocal confirmed
        confirmed = max(confirmed, frame.method.delivery_tag)
        channel.basic_ack(confirmed, multiple=True)
        if confirmed >= count:
            channel.connection.close()

    connection = pika.SelectConnection(
        settings.parameters(),
        on_open_callback=on_open,
        on_close_callback=lambda c, _e: c.ioloop.stop(),
    )
    connection.ioloop.start()


def winnow_config(directory: Path, exchange: str, out: str) -> Config:
    path = directory / f"bench_{exchange}.conf"
    path.write_text(f"broker {URL}\nexchange {exchange}\npost_exchange {out}\nexpire 10m\n")
    return load("winnow", path)


def winnow(config: Config, products: int) -> None:
    """Run the winnow until it posted every product once and dropped every second copy."""
    stop = threading.Event()
    loop = ConsumerLoop(config, 1, stop)
    thread = threading.Thread(target=loop.run)
    thread.start()
    try:
        while loop.counts["posted"] + loop.counts["duplicates"] < 2 * products:
            if not thread.is_alive():
                raise SystemExit("the winnow stopped")
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join()
    if loop.counts["posted"] != products:
        raise SystemExit(f"the winnow posted {loop.counts['posted']} of {products}")


def main() -> None:
    products = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    notices = 2 * products
    url = parse_broker_url(URL, Credentials())
    settings = ConnectionSettings(url, "bench winnow")
    tag = uuid.uuid4().hex[:8]
    exchange, out = f"xs_guest_winnow_{tag}", f"xs_guest_winnowed_{tag}"
    with scratch(ram=False) as home:  # the winnow's state and cache files go here
        config = winnow_config(home, exchange, out)
        with Publisher(settings, [exchange, out]) as publisher:  # declare the exchanges
            publisher.wait_ready(10)
        admin.setup(config)  # the winnow's queue and its binding, before it is filled
        queue = plan.queue_spec(config, 1)
        assert queue is not None

        def fresh() -> None:
            fill(settings, exchange, products)
            for cache in home.rglob("recent_files_*"):  # every product passes once a round
                cache.unlink()

        try:
            best = turns({
                "bare": Side(lambda: bare(settings, queue.name, out, notices),
                             prepare=lambda: fill(settings, exchange, products)),
                "winnow": Side(lambda: winnow(config, products), prepare=fresh),
            })  # fmt: skip
        finally:
            connection = pika.BlockingConnection(settings.parameters())
            channel = connection.channel()
            channel.queue_delete(queue.name)
            channel.exchange_delete(exchange)
            channel.exchange_delete(out)
            connection.close()
    report(f"sr_winnow (defaults), {products} products announced twice", notices, "notices/s",
           best["winnow"], best["bare"], 0.7)  # fmt: skip


if __name__ == "__main__":
    main()
