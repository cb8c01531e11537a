"""The subscriber's benchmarks, each against a baseline measured in the same run:

1. notices/s through sr_subscribe with notify_only and default settings, against a bare pika
   consumer (prefetch 1000, acks with multiple=True);
2. files/s for small files over HTTP, against a one-thread loop of requests GETs written to
   disk on one keep-alive session;
3. MB/s for large files over HTTP, against a raw streamed copy (requests, one session); for
   scale, the same copy also computing the md5 of what it writes, as the default verification
   does (md5 alone runs at about half a loopback copy's rate here).

    .venv/bin/python bench/run.py [--notices N] [--files N] [--large N] [--workdir DIR]
    (0 skips a figure)

Files are written below --workdir, by default /dev/shm where it exists: on a virtual machine's
disk the cost of creating a file varies twentyfold from one minute to the next (60 µs to 1.2 ms
seen here), which both sides pay, so a RAM file system keeps the figures about the pump.

Needs the local RabbitMQ (tools/ensure-rabbitmq). Prints one line per figure with its ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from consume import bare, fill  # noqa: E402

from sarra.broker import admin, plan  # noqa: E402
from sarra.broker.publisher import Publisher  # noqa: E402
from sarra.components.logs import setup_logging  # noqa: E402
from sarra.config.loader import Config, load  # noqa: E402
from sarra.flow.loop import ConsumerLoop  # noqa: E402
from sarra.integrity.checksum import checksum_bytes, sum_to_identity  # noqa: E402
from sarra.message import v02  # noqa: E402
from sarra.message.notice import Identity, Notice, epoch_to_time  # noqa: E402

BROKER = "amqp://guest:guest@127.0.0.1/"
ROUNDS = 3  # each figure: baseline and sarra in turns, the best of each


def report(what: str, ours: float, base: float, unit: str, target: float) -> None:
    verdict = "meets" if ours >= target * base else "BELOW"
    print(
        f"{what}: sarra {ours:,.1f} {unit}, baseline {base:,.1f} {unit}, ratio {ours / base:.2f}"
        f" ({verdict} the target of {target:.2f})",
        flush=True,
    )


def subscriber(work: Path, name: str, exchange: str, body: str) -> Config:
    path = work / f"{name}.conf"
    path.write_text(f"broker {BROKER}\nexchange {exchange}\nexpire 5m\n{body}")
    return load("subscribe", path)


def drain(config: Config, done: Callable[[ConsumerLoop], bool]) -> float:
    """Run a subscriber loop, logging to its file as a started instance does, until
    done(loop); the seconds it took from its start."""
    setup_logging(config, 1)
    stop = threading.Event()
    loop = ConsumerLoop(config, 1, stop)
    thread = threading.Thread(target=loop.run)
    started = time.perf_counter()
    thread.start()
    while not done(loop):
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    stop.set()
    thread.join()
    return elapsed


def declared_queue(config: Config) -> str:
    admin.setup(config)
    spec = plan.queue_spec(config)
    assert spec is not None
    return spec.name


def bench_notices(work: Path, count: int) -> None:
    exchange = f"xbench_{uuid.uuid4().hex[:8]}"
    settings = plan.connection_settings(load("subscribe", None, name="bench"), BROKER, "bench")
    with Publisher(settings, [exchange]) as publisher:
        publisher.wait_ready(10)
    config = subscriber(work, "notices", exchange, "notify_only\naccept .*\nsubtopic #\n")
    queue = declared_queue(config)
    base_seconds = seconds = float("inf")
    for _ in range(ROUNDS):  # in turns, the best of each: a 2-core machine is noisy
        fill(settings, exchange, count)
        started = time.perf_counter()
        bare(settings, queue, count)
        base_seconds = min(base_seconds, time.perf_counter() - started)
        fill(settings, exchange, count)
        seconds = min(seconds, drain(config, lambda loop: loop.counts["received"] >= count))
    report("notify_only notices/s", count / seconds, count / base_seconds, "notices/s", 0.45)
    admin.cleanup(config)


def announce(settings: object, exchange: str, notices: list[Notice]) -> None:
    with Publisher(settings, [exchange]) as publisher:  # type: ignore[arg-type]
        for notice in notices:
            key, body, headers = v02.encode(notice)
            publisher.publish(exchange, key, body.encode(), headers)
        publisher.flush(300)


SERVE = """
import sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from servers import HttpServer
server = HttpServer(Path({root!r})).start()
print(server.port, flush=True)
sys.stdin.read()
"""


class Server:
    """The tests' HTTP server (keep-alive, Range), in a process of its own as a real one is."""

    def __init__(self, root: Path) -> None:
        self.root = root
        code = SERVE.format(tests=str(HERE.parent / "tests"), root=str(root))
        self.process = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline())}"

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)


def plain_round(server: Server, folder: str, names: list[str], target: Path,
                md5: bool = False) -> float:  # fmt: skip
    """The baseline: one thread, one keep-alive requests session, GET and write each file
    (and, with md5, compute the md5 of each file as it is written)."""
    target.mkdir()
    started = time.perf_counter()
    with requests.Session() as session:
        for name in names:
            digest = hashlib.md5() if md5 else None
            with session.get(f"{server.url}/{folder}/{name}", stream=True) as response:
                response.raise_for_status()
                with open(target / name, "wb") as out:
                    for chunk in response.iter_content(1 << 20):
                        if digest is not None:
                            digest.update(chunk)
                        out.write(chunk)
    seconds = time.perf_counter() - started
    shutil.rmtree(target)
    return seconds


def sarra_round(work: Path, notices: list[Notice], round_number: int) -> float:
    """sr_subscribe with default settings downloading every notice's file."""
    exchange = f"xbench_{uuid.uuid4().hex[:8]}"
    settings = plan.connection_settings(load("subscribe", None, name="bench"), BROKER, "bench")
    with Publisher(settings, [exchange]) as publisher:
        publisher.wait_ready(10)
    destination = work / f"sarra{round_number}"
    config = subscriber(work, f"files{round_number}", exchange,
                        f"directory {destination}\naccept .*\n")  # fmt: skip
    declared_queue(config)
    announce(settings, exchange, notices)
    seconds = drain(config, lambda loop: loop.counts["downloaded"] >= len(notices))
    admin.cleanup(config)
    shutil.rmtree(destination)
    return seconds


def bench_files(work: Path, server: Server, count: int, size: int, what: str,
                target: float, verify: bool = True) -> None:  # fmt: skip
    """Download `count` files of `size` bytes both ways, in turns; report the best of each.
    Without `verify` the notices carry a checksum of the name (n), which cannot be checked
    on download: that measures the copy alone."""
    folder = f"bench_{uuid.uuid4().hex[:8]}"
    (server.root / folder).mkdir()
    names = [f"f{i:05d}" for i in range(count)]
    notices = []
    for name in names:
        data = os.urandom(size)
        (server.root / folder / name).write_bytes(data)
        kind = "d" if verify else "n"
        method, value = sum_to_identity(f"{kind}," + checksum_bytes(data, kind, name=name))
        notices.append(Notice(epoch_to_time(time.time()), server.url + "/", f"{folder}/{name}",
                              identity=Identity(method, value), size=size))  # fmt: skip
    base_seconds = seconds = hashed_seconds = float("inf")
    for round_number in range(ROUNDS):
        base_seconds = min(base_seconds, plain_round(server, folder, names, work / "plain"))
        seconds = min(seconds, sarra_round(work, notices, round_number))
        if what == "MB/s" and verify:
            plain = plain_round(server, folder, names, work / "plain", md5=True)
            hashed_seconds = min(hashed_seconds, plain)
    if what == "files/s":
        report("small files over HTTP", count / seconds, count / base_seconds, "files/s", target)
        return
    megabytes = count * size / 1e6
    label = "large files over HTTP" + (", md5 verified" if verify else ", sum n (no verifying)")
    report(label, megabytes / seconds, megabytes / base_seconds, "MB/s", target)
    if verify:
        print(f"  for scale: the raw copy also computing md5, {megabytes / hashed_seconds:,.1f}"
              f" MB/s; sarra's ratio to it {hashed_seconds / seconds:.2f}", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--large", type=int, default=10, help="number of 20 MiB files")
    ram = "/dev/shm" if os.path.isdir("/dev/shm") else None
    parser.add_argument("--workdir", default=ram, help="where files are written (default: RAM)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as scratch:
        work = Path(scratch)
        os.environ["XDG_CONFIG_HOME"] = str(work / "config")
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")
        if args.notices:
            bench_notices(work, args.notices)
        (work / "served").mkdir()
        server = Server(work / "served")
        try:
            if args.files:
                bench_files(work, server, args.files, 10 << 10, "files/s", 1.0)
            if args.large:
                bench_files(work, server, args.large, 20 << 20, "MB/s", 0.9)
                bench_files(work, server, args.large, 20 << 20, "MB/s", 0.9, verify=False)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
