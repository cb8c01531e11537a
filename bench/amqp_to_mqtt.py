"""A shovel from RabbitMQ to MQTT: sr_shovel (default settings) against a bare pika consumer
publishing through paho, in the same run.

20,000 v03 notices are published to an exchange of the local RabbitMQ beforehand; each side
drains them from its own queue (prefetch 100, sr_shovel's default) and publishes each onward at
QoS 1 to a Mosquitto of the bench's own (Mosquitto's defaults: 20 messages in flight from a
client), acknowledging a delivery only once its PUBACK came. The baseline is pika and paho
alone: pika's SelectConnection consuming in this thread, each message published from its
on_message to paho (paho's thread, its own queue past 20 in flight), and the deliveries
acknowledged up to the last whose PUBACK came (multiple=True), by pika's thread. sr_shovel is
the real component loop in a thread of this process, logging to its file as a started
instance does. They take turns over three rounds; the best rate of each is kept, and the least
CPU per notice (this process's; the brokers are not counted).

    .venv/bin/python bench/amqp_to_mqtt.py [--notices N]
"""

from __future__ import annotations

import argparse
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as paho
import pika
from common import Side, drain, report, scratch, turns
from mqtt_notify import notices
from pika.channel import Channel
from pika.spec import Basic, BasicProperties
from servers import MosquittoServer

from sarra.broker import admin, plan
from sarra.broker.connect import ConnectionSettings
from sarra.broker.publisher import Publisher
from sarra.broker.url import parse_broker_url
from sarra.config.credentials import Credentials
from sarra.config.loader import Config, load
from sarra.message import v03

URL = "amqp://guest:guest@localhost/"
PREFETCH = 100


def fill(settings: ConnectionSettings, exchange: str, count: int) -> None:
    """Publish `count` v03 notices of files to `exchange`, every one confirmed."""
    with Publisher(settings, [exchange]) as publisher:
        for key, body in notices(count):
            publisher.publish(exchange, key, body, None, v03.CONTENT_TYPE)
        if not publisher.flush(300):
            raise SystemExit("the broker did not confirm every notice")


def bare(settings: ConnectionSettings, queue: str, mqtt_port: int, out: str, count: int) -> None:
    """Consume with pika, publish with paho at QoS 1, acknowledge once the PUBACK came."""
    client = paho.Client(
        paho.CallbackAPIVersion.VERSION2,
        client_id=f"bench_bare_{uuid.uuid4().hex[:8]}",
        protocol=paho.MQTTv5,
    )
    connected = threading.Event()
    client.on_connect = lambda *_: connected.set()
    client.connect("127.0.0.1", mqtt_port)
    client.loop_start()
    connected.wait(20)
    # one channel and one client, in order: the n-th PUBACK is that of delivery tag n
    lock = threading.Lock()
    confirmed = [0, False]  # PUBACKs so far; an acknowledgement scheduled
    channel_of: list[Channel] = []

    def on_open(connection: pika.SelectConnection) -> None:
        connection.channel(on_open_callback=on_channel)

    def on_channel(channel: Channel) -> None:
        channel_of.append(channel)
        channel.basic_qos(
            prefetch_count=PREFETCH, callback=lambda _f: channel.basic_consume(queue, on_message)
        )

    def on_message(
        _channel: Channel, method: Basic.Deliver, _properties: BasicProperties, body: bytes
    ) -> None:
        client.publish(f"{out}/{method.routing_key.replace('.', '/')}", body, qos=1)

    def on_publish(*_: object) -> None:
        with lock:
            confirmed[0] += 1
            if confirmed[1]:
                return
            confirmed[1] = True
        connection.ioloop.add_callback_threadsafe(ack)

    def ack() -> None:
        with lock:
            upto, confirmed[1] = confirmed[0], False
        channel_of[0].basic_ack(upto, multiple=True)
        if upto >= count:
            connection.close()

    client.on_publish = on_publish
    connection = pika.SelectConnection(
        settings.parameters(),
        on_open_callback=on_open,
        on_close_callback=lambda c, _e: c.ioloop.stop(),
    )
    connection.ioloop.start()
    client.disconnect()
    client.loop_stop()


def shovel_config(work: Path, exchange: str, mqtt_url: str, out: str) -> Config:
    path = work / f"bench_{exchange}.conf"
    path.write_text(
        f"broker {URL}\nexchange {exchange}\ntopic_prefix v03\nexpire 10m\n"
        f"post_broker {mqtt_url}\npost_exchange {out}\n"
    )
    return load("shovel", path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=20_000)
    count = parser.parse_args().notices
    settings = ConnectionSettings(parse_broker_url(URL, Credentials()), "bench amqp_to_mqtt")
    tag = uuid.uuid4().hex[:8]
    exchange, bare_exchange = f"xs_guest_shovel_{tag}", f"xs_guest_bare_{tag}"
    bare_queue = f"q_guest.bare.{tag}"
    with scratch() as work:
        (work / "mosquitto").mkdir()
        broker = MosquittoServer(work / "mosquitto").start()
        connection = pika.BlockingConnection(settings.parameters())
        channel = connection.channel()
        try:
            config = shovel_config(work, exchange, broker.url, f"xout_{tag}")
            with Publisher(settings, [exchange, bare_exchange]) as publisher:
                publisher.wait_ready(10)  # the exchanges declared
            channel.queue_declare(bare_queue, auto_delete=False)
            channel.queue_bind(bare_queue, bare_exchange, "#")
            admin.setup(config)  # the shovel's queue and its binding, before it is filled
            best = turns({
                "bare": Side(lambda: bare(settings, bare_queue, broker.port, f"xbare_{tag}",
                                          count),
                             prepare=lambda: fill(settings, bare_exchange, count)),
                "sarra": Side(lambda: drain(config, lambda lp: lp.counts["posted"] >= count),
                              prepare=lambda: fill(settings, exchange, count)),
            })  # fmt: skip
        finally:
            queue = plan.queue_spec(config, 1)
            for name in (bare_queue, queue.name if queue else None):
                if name:
                    channel.queue_delete(name)
            channel.exchange_delete(exchange)
            channel.exchange_delete(bare_exchange)
            connection.close()
            broker.stop()
    report("sr_shovel AMQP -> MQTT notices/s", count, "notices/s", best["sarra"], best["bare"],
           0.5)  # fmt: skip


if __name__ == "__main__":
    main()
