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

Needs the local RabbitMQ (tools/ensure-rabbitmq). Prints one line per figure with its ratio,
and under it the CPU per notice (or file) of each side: this process's, where both run (the
HTTP server's process is not counted; see bench/common.py).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests
from common import BROKER, HERE, Side, drain, report, scratch, turns
from consume import bare, fill

from sarra.broker import admin, plan
from sarra.broker.publisher import Publisher
from sarra.config.loader import Config, load
from sarra.integrity.checksum import checksum_bytes, sum_to_identity
from sarra.message import v02
from sarra.message.notice import Identity, Notice, epoch_to_time


def subscriber(work: Path, name: str, exchange: str, body: str) -> Config:
    path = work / f"{name}.conf"
    path.write_text(f"broker {BROKER}\nexchange {exchange}\nexpire 5m\n{body}")
    return load("subscribe", path)


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
    best = turns({
        "bare": Side(lambda: bare(settings, queue, count),
                     prepare=lambda: fill(settings, exchange, count)),
        "sarra": Side(lambda: drain(config, lambda loop: loop.counts["received"] >= count),
                      prepare=lambda: fill(settings, exchange, count)),
    })  # fmt: skip
    report("notify_only notices/s", count, "notices/s", best["sarra"], best["bare"], 0.45)
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


class SarraRounds:
    """sr_subscribe with default settings downloading every notice's file: `prepare` a round
    (an exchange, a queue, the notices announced: not timed), then `run` it."""

    def __init__(self, work: Path, notices: list[Notice]) -> None:
        self.work = work
        self.notices = notices
        self.number = 0
        self.config: Config | None = None

    def prepare(self) -> None:
        self.number += 1
        exchange = f"xbench_{uuid.uuid4().hex[:8]}"
        settings = plan.connection_settings(load("subscribe", None, name="bench"), BROKER, "bench")
        with Publisher(settings, [exchange]) as publisher:
            publisher.wait_ready(10)
        self.destination = self.work / f"sarra{self.number}"
        self.config = subscriber(self.work, f"files{self.number}", exchange,
                                 f"directory {self.destination}\naccept .*\n")  # fmt: skip
        declared_queue(self.config)
        announce(settings, exchange, self.notices)

    def run(self) -> float:
        assert self.config is not None
        count = len(self.notices)
        seconds = drain(self.config, lambda loop: loop.counts["downloaded"] >= count)
        admin.cleanup(self.config)
        shutil.rmtree(self.destination)
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
    ours = SarraRounds(work, notices)
    sides = {
        "bare": Side(lambda: plain_round(server, folder, names, work / "plain")),
        "sarra": Side(ours.run, prepare=ours.prepare),
    }
    if what == "MB/s" and verify:
        sides["md5"] = Side(lambda: plain_round(server, folder, names, work / "plain", md5=True))
    best = turns(sides)
    if what == "files/s":
        report("small files over HTTP", count, "files/s", best["sarra"], best["bare"], target,
               per="file")  # fmt: skip
        return
    label = "large files over HTTP" + (", md5 verified" if verify else ", sum n (no verifying)")
    report(label, count, "MB/s", best["sarra"], best["bare"], target, per="file",
           scale=size / 1e6)  # fmt: skip
    if verify:
        hashed = best["md5"]
        rate = count * size / 1e6 / hashed.seconds
        print(f"  for scale: the raw copy also computing md5, {rate:,.1f} MB/s, CPU per file"
              f" {hashed.cpu / count * 1e6:,.0f} µs; sarra's ratio to it"
              f" {hashed.seconds / best['sarra'].seconds:.2f}", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--large", type=int, default=10, help="number of 20 MiB files")
    ram = "/dev/shm" if os.path.isdir("/dev/shm") else None
    parser.add_argument("--workdir", default=ram, help="where files are written (default: RAM)")
    args = parser.parse_args()
    with scratch(where=args.workdir) as work:
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
