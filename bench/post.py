"""The posting benchmarks, each against a baseline or target measured in the same run:

1. posting rate: sr_post's code (post_once: walk, lstat, sha512 of each file, notice, v02
   encoding, one log line per file to its log file as a started instance writes it, publisher
   confirms) posting a tree of 1 KiB files, against
   a bare pika publisher sending the same number of bodies of the same size with the same
   headers, publisher confirms and a window of 1000 unconfirmed; best of 3 rounds each, in turns.
   For scale, a third figure: one notice published as many times through NoticePublisher (its
   encoding, confirms in the publisher's own thread) with no file work at all; and what each
   stage of sr_post costs per file when timed alone, in one thread;
2. sr_watch latency: files written 20 ms apart into a watched directory by this process, each
   timed from its close to the arrival of its notice at a consumer of the broker; sr_watch runs
   as its own process (sr_watch foreground), as in production. Median and 99th percentile
   (targets 5 and 20 ms), against a bare watcher in a process of its own (a watchdog close
   event, the file read and its sha512, a pika publish waiting for its confirm).

Each prints the CPU per file of each side (see bench/common.py): for posting, this process
(sr_post's code runs in it); for sr_watch, the watcher's process while the files are written.

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
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pika
from common import BROKER, Side, print_cpu, process_cpu, report, scratch, turns, verdict
from pika.channel import Channel
from pika.frame import Method

from sarra.broker import plan
from sarra.broker.consumer import Consumer
from sarra.broker.publisher import Publisher
from sarra.broker.topology import QueueSpec
from sarra.components.logs import setup_logging
from sarra.components.post import post_once
from sarra.components.terminal import PER_FILE
from sarra.config import paths
from sarra.config.credentials import Credentials
from sarra.config.loader import Config, load
from sarra.flow.announce import Announcer, walk
from sarra.flow.publish import NoticePublisher
from sarra.message import decode_any, v02

WINDOW = 1000


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
    setup_logging(config, 1)  # to its log file, as a started instance does

    def ours() -> None:
        if post_once(config, credentials, [str(root)]) != 0:
            raise SystemExit(f"sr_post failed: see {paths.log_file('post', config.name, 1)}")

    def publisher_alone() -> None:
        publisher = NoticePublisher(config, credentials).start()
        for _ in range(count):
            publisher.publish(sample)
        publisher.close()

    best = turns({
        "bare": Side(lambda: bare(config, exchange, key, text.encode(), headers, count)),
        "sarra": Side(ours),
        "publisher": Side(publisher_alone),
    })  # fmt: skip
    stages = breakdown(config, root, exchange)
    report(f"sr_post of {count} files of 1 KiB, sum s", count, "files/s", best["sarra"],
           best["bare"], 0.6, per="file", cpu_target=100)  # fmt: skip
    alone, base = best["publisher"], best["bare"]
    print(f"  for scale: the same notice encoded and published {count} times through"
          f" NoticePublisher, no files: {count / alone.seconds:,.0f} notices/s, ratio"
          f" {base.seconds / alone.seconds:.2f}, CPU per notice {alone.cpu / count * 1e6:.0f} µs",
          flush=True)  # fmt: skip
    print("  CPU per file, each stage alone in one thread: "
          + ", ".join(f"{name} {micros:.1f} µs" for name, micros in stages.items()))  # fmt: skip


def breakdown(config: Config, root: Path, exchange: str) -> dict[str, float]:
    """Microseconds of CPU per file of sr_post's stages, each alone over the tree (one pass)."""
    timings: dict[str, float] = {}

    def timed(name: str, stage: Callable[[], list]) -> list:
        started = time.process_time()  # CPU: steadier than the wall clock on a busy machine
        result = stage()
        timings[name] = (time.process_time() - started) / len(result) * 1e6
        return result

    found = timed("walk + lstat", lambda: list(walk(str(root))))
    announcer = Announcer(config)  # a new one: its checksum cache is empty
    notices = timed("notice with sha512", lambda: [announcer.notices(p, st)[0] for p, st in found])
    timed("v02 encoding", lambda: [v02.encode(n) for n in notices])
    logger = logging.getLogger(PER_FILE)
    timed("log line", lambda: [logger.info("posted to %s (1024 bytes): %s", exchange, n.url)
                               for n in notices])  # fmt: skip
    return timings


BARE_WATCH = """
import hashlib, os, sys, time
import pika
from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer
url, exchange, tree = sys.argv[1:4]
channel = pika.BlockingConnection(pika.URLParameters(url)).channel()
channel.confirm_delivery()
class Announce(FileSystemEventHandler):
    def on_closed(self, event):
        path = str(event.src_path)
        with open(path, "rb") as file:
            data = file.read()
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime()) + ".000"
        headers = {"sum": "s," + hashlib.sha512(data).hexdigest(),
                   "parts": f"1,{len(data)},1,0,0"}
        channel.basic_publish(exchange, "v02.post" + path.replace("/", "."),
                              f"{stamp} file: {path}",
                              pika.BasicProperties(headers=headers, delivery_mode=2))
observer = Observer()
observer.schedule(Announce(), tree)
observer.start()
sys.stdin.read()
observer.stop()
"""


def watch_round(
    command: list[str], tree: Path, consumer: Consumer, count: int
) -> tuple[list[float], float]:
    """Start a watcher (`command`), write `count` files into `tree` 20 ms apart once it is up;
    each file's close-to-notice latency, and the watcher's CPU seconds from its first notice
    (its start-up not counted) to the last."""
    arrivals: dict[str, float] = {}
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
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
    closes: dict[str, float] = {}
    try:
        probe = tree / "probe"
        while not arrivals:  # the watch is up once a probe file is announced
            if process.poll() is not None:
                raise SystemExit(f"the watcher ended: {process.stderr.read()}")  # type: ignore[union-attr]
            probe.write_bytes(b"probe")
            time.sleep(0.2)
        time.sleep(0.3)  # the probe's last events
        started = process_cpu(process.pid)
        for number in range(count):
            name = str(tree / f"f{number:04d}.dat")
            with open(name, "wb") as out:
                out.write(os.urandom(1024))
            closes[name] = time.time()
            time.sleep(0.02)
        deadline = time.monotonic() + 30
        while not all(n in arrivals for n in closes) and time.monotonic() < deadline:
            time.sleep(0.05)
        used = process_cpu(process.pid) - started
    finally:
        done.set()
        collector.join()
        process.terminate()
        process.wait(30)
    missing = [n for n in closes if n not in arrivals]
    if missing:
        raise SystemExit(f"{len(missing)} files never announced, e.g. {missing[0]}")
    return sorted(arrivals[n] - closes[n] for n in closes), used


def bench_latency(work: Path, count: int) -> None:
    config = poster(work, "x")
    exchange = declared_exchange(config)
    settings = plan.connection_settings(config, BROKER, "bench latency")
    spec = QueueSpec(f"q_guest.bench.{uuid.uuid4().hex[:8]}", durable=False, expire=60,
                     bindings=((exchange, "#"),))  # fmt: skip
    figures: dict[str, tuple[list[float], float]] = {}
    with Consumer(settings, spec, prefetch=1000) as consumer:
        consumer.wait_ready(10)
        for side in ("bare", "sarra"):
            tree = work / f"watched_{side}"
            tree.mkdir()
            if side == "sarra":
                path = work / "latency.conf"
                path.write_text(f"post_broker {BROKER}\npost_exchange {exchange}\npath {tree}\n"
                                "loglevel warning\n")  # fmt: skip
                command = [sys.executable, "-m", "sarra.cli.component", "watch", "foreground",
                           str(path)]  # fmt: skip
            else:
                command = [sys.executable, "-c", BARE_WATCH, BROKER, exchange, str(tree)]
            figures[side] = watch_round(command, tree, consumer, count)
    (latencies, used), (bare_latencies, bare_used) = figures["sarra"], figures["bare"]
    for what, at, target in (("median", 0.5, 0.005), ("99th percentile", 0.99, 0.020)):
        ours, base = quantile(latencies, at), quantile(bare_latencies, at)
        print(f"sr_watch, close to notice, {what} of {count}: {ours * 1000:.2f} ms, target < "
              f"{target * 1000:.0f} ms ({verdict(ours < target)}); bare watchdog + pika "
              f"{base * 1000:.2f} ms, ratio {ours / base:.2f}", flush=True)  # fmt: skip
    print_cpu("file", used / count, bare_used / count)


def quantile(ordered: list[float], at: float) -> float:
    """The value at fraction `at` of sorted values (0.5: the median)."""
    if at == 0.5:
        return statistics.median(ordered)
    return ordered[min(len(ordered) - 1, int(len(ordered) * at))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--latency", type=int, default=500, help="files written 20 ms apart")
    args = parser.parse_args()
    with scratch(ram=False) as work:
        if args.files:
            bench_posting(work, args.files)
        if args.latency:
            bench_latency(work, args.latency)


if __name__ == "__main__":
    main()
