"""The posting benchmarks, each against a baseline or target measured in the same run:

1. posting rate: sr_post's code (post_once: walk, lstat, sha512 of each file, notice, v02
   encoding, one log line per file, publisher confirms) posting a tree of 1 KiB files, against
   a bare pika publisher sending the same number of bodies of the same size with the same
   headers, publisher confirms and a window of 1000 unconfirmed; best of 3 rounds each, in turns.
   For scale, a third figure: one notice published as many times through NoticePublisher (its
   encoding, confirms in the publisher's own thread) with no file work at all; and what each
   stage of sr_post costs per file when timed alone, in one thread;
2. sr_watch latency: files written 20 ms apart into a watched directory by this process, each
   timed from its close to the arrival of its notice at a consumer of the broker; sr_watch runs
   as its own process (sr_watch foreground), as in production. Median and 99th percentile.

    .venv/bin/python bench/post.py [--files N] [--latency N]   (0 skips a figure)

Needs the local RabbitMQ (tools/ensure-rabbitmq). Prints one line per figure with its ratio.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pika
from pika.channel import Channel
from pika.frame import Method

from sarra.broker import plan
from sarra.broker.consumer import Consumer
from sarra.broker.publisher import Publisher
from sarra.broker.topology import QueueSpec
from sarra.components.post import post_once
from sarra.config.credentials import Credentials
from sarra.config.loader import Config, load
from sarra.flow.announce import Announcer, walk
from sarra.flow.publish import NoticePublisher
from sarra.message import decode_any, v02

BROKER = "amqp://guest:guest@127.0.0.1/"
ROUNDS = 3
WINDOW = 1000


def report(what: str, ours: float, base: float, unit: str, target: float) -> None:
    verdict = "meets" if ours >= target * base else "BELOW"
    print(
        f"{what}: sarra {ours:,.1f} {unit}, baseline {base:,.1f} {unit}, ratio {ours / base:.2f}"
        f" ({verdict} the target of {target:.2f})",
        flush=True,
    )


def report_latency(what: str, seconds: float, target: float) -> None:
    verdict = "meets" if seconds < target else "ABOVE"
    print(
        f"{what}: {seconds * 1000:.2f} ms, target < {target * 1000:.0f} ms,"
        f" ratio {seconds / target:.2f} ({verdict} the target)",
        flush=True,
    )


def poster(work: Path, exchange: str) -> Config:
    path = work / "poster.conf"
    path.write_text(f"post_broker {BROKER}\npost_exchange {exchange}\nsum s\n")
    return load("post", path)


def declared_exchange(config: Config) -> str:
    exchange = f"xbench_{uuid.uuid4().hex[:8]}"
    settings = plan.connection_settings(config, BROKER, "bench")
    with Publisher(settings, [exchange]) as publisher:
        publisher.wait_ready(10)
    return exchange


def make_tree(root: Path, count: int, size: int) -> list[Path]:
    files = []
    for number in range(count):
        path = root / f"d{number % 10}" / f"f{number:05d}.dat"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
        files.append(path)
    return files


def bare(config: Config, exchange: str, key: str, body: bytes, headers: dict, count: int) -> None:
    """pika alone: its select loop, publisher confirms, at most WINDOW unconfirmed."""
    sent = confirmed = 0
    properties = pika.BasicProperties(content_type="text/plain", headers=headers, delivery_mode=2)

    def on_open(connection: pika.SelectConnection) -> None:
        connection.channel(on_open_callback=on_channel)

    def on_channel(channel: Channel) -> None:
        channel.confirm_delivery(lambda frame: on_confirm(channel, frame),
                                 callback=lambda _frame: send(channel))  # fmt: skip

    def send(channel: Channel) -> None:
        nonlocal sent
        while sent < count and sent - confirmed < WINDOW:
            channel.basic_publish(exchange, key, body, properties)
            sent += 1

    def on_confirm(channel: Channel, frame: Method) -> None:
        nonlocal confirmed
        tag = frame.method.delivery_tag
        confirmed = tag if frame.method.multiple else confirmed + 1
        if confirmed >= count:
            channel.connection.close()
        else:
            send(channel)

    settings = plan.connection_settings(config, BROKER, "bench bare")
    connection = pika.SelectConnection(
        settings.parameters(),
        on_open_callback=on_open,
        on_close_callback=lambda c, _e: c.ioloop.stop(),
    )
    connection.ioloop.start()


def bench_posting(work: Path, count: int) -> None:
    root = work / "tree"
    files = make_tree(root, count, 1024)
    config = poster(work, "x")
    exchange = declared_exchange(config)
    config = poster(work, exchange)
    sample = Announcer(config).notices(str(files[0]), os.lstat(files[0]))[0]
    key, text, headers = v02.encode(sample)
    credentials = Credentials()
    log = logging.FileHandler(work / "sr_post.log")
    logging.getLogger().addHandler(log)
    logging.getLogger().setLevel(logging.INFO)
    base_seconds = seconds = publisher_seconds = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        bare(config, exchange, key, text.encode(), headers, count)
        base_seconds = min(base_seconds, time.perf_counter() - started)
        started = time.perf_counter()
        if post_once(config, credentials, [str(root)]) != 0:
            raise SystemExit("sr_post failed: see " + str(work / "sr_post.log"))
        seconds = min(seconds, time.perf_counter() - started)
        started = time.perf_counter()
        publisher = NoticePublisher(config, credentials).start()
        for _ in range(count):
            publisher.publish(sample)
        publisher.close()
        publisher_seconds = min(publisher_seconds, time.perf_counter() - started)
    stages = breakdown(config, root, exchange)
    logging.getLogger().removeHandler(log)
    report(f"sr_post of {count} files of 1 KiB, sum s", count / seconds, count / base_seconds,
           "files/s", 0.6)  # fmt: skip
    print(f"  for scale: the same notice encoded and published {count} times through"
          f" NoticePublisher, no files: {count / publisher_seconds:,.0f} notices/s, ratio"
          f" {base_seconds / publisher_seconds:.2f}", flush=True)  # fmt: skip
    print("  per file, each stage alone in one thread: "
          + ", ".join(f"{name} {micros:.1f} µs" for name, micros in stages.items()))  # fmt: skip


def breakdown(config: Config, root: Path, exchange: str) -> dict[str, float]:
    """Microseconds per file of sr_post's stages, each timed alone over the tree (one pass)."""
    timings: dict[str, float] = {}

    def timed(name: str, stage: Callable[[], list]) -> list:
        started = time.perf_counter()
        result = stage()
        timings[name] = (time.perf_counter() - started) / len(result) * 1e6
        return result

    found = timed("walk + lstat", lambda: list(walk(str(root))))
    announcer = Announcer(config)  # a new one: its checksum cache is empty
    notices = timed("notice with sha512", lambda: [announcer.notices(p, st)[0] for p, st in found])
    timed("v02 encoding", lambda: [v02.encode(n) for n in notices])
    logger = logging.getLogger("sarra.post")
    timed("log line", lambda: [logger.info("posted %s to %s (1024 bytes)", n.url, exchange)
                               for n in notices])  # fmt: skip
    return timings


def bench_latency(work: Path, count: int) -> None:
    tree = work / "watched"
    tree.mkdir()
    config = poster(work, "x")
    exchange = declared_exchange(config)
    path = work / "latency.conf"
    path.write_text(
        f"post_broker {BROKER}\npost_exchange {exchange}\npath {tree}\nloglevel warning\n"
    )
    settings = plan.connection_settings(config, BROKER, "bench latency")
    spec = QueueSpec(f"q_guest.bench.{uuid.uuid4().hex[:8]}", durable=False, expire=60,
                     bindings=((exchange, "#"),))  # fmt: skip
    arrivals: dict[str, float] = {}
    with Consumer(settings, spec, prefetch=1000) as consumer:
        consumer.wait_ready(10)
        process = subprocess.Popen(
            [sys.executable, "-m", "sarra.cli.component", "watch", "foreground", str(path)],
            stderr=subprocess.PIPE,
            text=True,
        )
        done = threading.Event()

        def collect() -> None:
            while not done.is_set():
                for delivery in consumer.get_batch(100, timeout=0.1):
                    arrived = time.time()
                    notice = decode_any(delivery.routing_key, delivery.body, delivery.headers,
                                        delivery.content_type)  # fmt: skip
                    arrivals[notice.rel_path] = arrived
                    consumer.ack(delivery)

        collector = threading.Thread(target=collect)
        collector.start()
        try:
            probe = tree / "probe"
            while not arrivals:  # the watch is up once a probe file is announced
                probe.write_bytes(b"probe")
                time.sleep(0.2)
            closes: dict[str, float] = {}
            for number in range(count):
                name = str(tree / f"f{number:04d}.dat")
                with open(name, "wb") as out:
                    out.write(os.urandom(1024))
                closes[name] = time.time()
                time.sleep(0.02)
            deadline = time.monotonic() + 30
            while not all(n in arrivals for n in closes) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            done.set()
            collector.join()
            process.terminate()
            process.wait(30)
    missing = [n for n in closes if n not in arrivals]
    if missing:
        raise SystemExit(f"{len(missing)} files never announced, e.g. {missing[0]}")
    latencies = sorted(arrivals[n] - closes[n] for n in closes)
    median = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    report_latency(f"sr_watch, close to notice, median of {count}", median, 0.005)
    report_latency(f"sr_watch, close to notice, 99th percentile of {count}", p99, 0.020)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--latency", type=int, default=500, help="files written 20 ms apart")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        os.environ["XDG_CONFIG_HOME"] = str(work / "config")
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")
        if args.files:
            bench_posting(work, args.files)
        if args.latency:
            bench_latency(work, args.latency)


if __name__ == "__main__":
    main()
